/* What transformers and datasets show on a terminal: tqdm's progress bar
 * (the Trainer's ProgressCallback: tqdm(total=max_steps, dynamic_ncols=True);
 * datasets' map and the dataset streaming: a desc, a unit, unit_scale) with
 * the Trainer's log records written above it as Python dict lines
 * (str(logs)). In io/ because the data layer draws bars too.
 *
 * The formatting is pure (state in, text out) so that it can be tested
 * without a terminal; progress_bar does the drawing on a stdio stream. The
 * bar uses carriage returns and spaces only, never escape sequences. */
#ifndef MLM_IO_PROGRESS_H
#define MLM_IO_PROGRESS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "io/strbuf.h"

/* Python's repr() of a float: the shortest digits that read back as x;
 * positional between 1e-4 and 1e16 ("0.0001", "2.0", "4.5"), otherwise
 * scientific with a signed exponent of at least two digits ("4.5e-05",
 * "1e+16"); "nan", "inf", "-inf". */
void py_float_repr(strbuf *sb, double x);

/* Python's round(x, 2) (correctly rounded, ties to even on the exact
 * binary value). */
double py_round2(double x);

/* A log record as ProgressCallback prints it: str() of the dict transformers
 * passes to on_log, i.e. the record without "step" (added to log_history
 * only) and "total_flos", "epoch" rounded to 2 decimals, numbers as Python
 * floats, strings in Python's quotes. {'loss': 2.3456, 'epoch': 0.5}. */
void py_log_line(strbuf *sb, const cJSON *rec);

/* tqdm.format_interval: whole seconds as "MM:SS", or "H:MM:SS" from an
 * hour on. */
void tqdm_interval(strbuf *sb, double seconds);

/* tqdm.format_num: "%.3g" with the exponent's leading zero dropped, unless
 * Python's repr is no longer. */
void tqdm_num(strbuf *sb, double x);

/* tqdm.format_sizeof: three significant digits and an SI prefix (divisor
 * 1000): "3.00", "99.9", "999", "1.00k", "22.9M". */
void tqdm_sizeof(strbuf *sb, double x);

/* Everything one bar line shows. */
typedef struct progress_view {
    int64_t n, total;   /* steps done, steps in the run */
    int64_t initial;    /* steps done before this bar started (a resume) */
    double elapsed;     /* seconds since the bar started */
    double rate;        /* steps/s (tqdm's smoothed rate); NaN: none yet, so
                         * (n - initial) / elapsed as tqdm does */
    int has_loss;       /* show ", loss=<tqdm_num(loss)>" as set_postfix */
    double loss;
    int ncols;          /* terminal width; -1 unknown (a 10-cell bar, no
                         * trimming); 0: no bar, as tqdm */
    int ascii;          /* " 123456789#" instead of the Unicode eighths */
    const char *desc;   /* tqdm's desc, shown as "desc: " first; NULL: none */
    const char *unit;   /* tqdm's unit; NULL: "it" */
    int unit_scale;     /* tqdm's unit_scale=True: counts and rates through
                         * tqdm_sizeof ("10.3M/22.9M", "9.41MB/s") */
} progress_view;

/* tqdm.format_meter(n, total, elapsed, ncols, prefix=desc, unit=...,
 * unit_scale=..., rate=..., postfix=...):
 * " 37%|███▋      | 150/400 [00:12<00:20, 12.30it/s, loss=2.35]", or with
 * a desc and bytes "big.txt:  45%|████  | 10.3M/22.9M [00:01<00:01, 9.41MB/s]".
 * The bar takes what the terminal leaves of ncols (at least one cell); a
 * line still wider than ncols is cut to ncols characters. */
void progress_render(strbuf *sb, const progress_view *v);

/* Display columns of UTF-8 text as tqdm's disp_len counts them (East Asian
 * wide and fullwidth characters take two). */
size_t progress_text_width(const char *s);

/* The live bar on a stream. */
#define PROGRESS_TERMINAL_WIDTH (-2) /* ask the terminal at every draw */

typedef struct progress_bar {
    FILE *fp;
    int cols;           /* PROGRESS_TERMINAL_WIDTH, or a fixed progress_view ncols */
    int ascii;
    int64_t n, total, initial;
    int64_t last_print_n;
    double start_t, last_print_t;
    double ema_dn, ema_dt; /* tqdm's EMA (smoothing 0.3) of steps and time */
    int ema_calls;
    int has_loss;
    double loss;
    size_t last_len;    /* columns drawn last, blanked by the next draw */
    int open;
    const char *desc, *unit; /* as in progress_view; must outlive the bar */
    int unit_scale;
} progress_bar;

/* Start a bar at step n0 of total at time now (seconds, any monotonic
 * origin) and draw it, as tqdm's constructor does. */
void progress_open(progress_bar *b, FILE *fp, int cols, int ascii, int64_t n0, int64_t total,
                   double now);

/* progress_open with tqdm's desc, unit and unit_scale (progress_view),
 * from 0. */
void progress_open_units(progress_bar *b, FILE *fp, int cols, int ascii, const char *desc,
                         const char *unit, int unit_scale, int64_t total, double now);

/* Whether bars should use tqdm's ASCII cells: tqdm draws Unicode eighths
 * when the stream's encoding is UTF-8, which Python takes from LC_ALL /
 * LC_CTYPE / LANG (and makes the C locale UTF-8 too). */
int progress_ascii_locale(void);

/* Seconds on a monotonic clock, for the `now` arguments. */
double progress_now(void);

/* Step n is done (loss: its loss, shown after the bar). Redrawn when at
 * least 0.1 s passed since the last draw (tqdm's mininterval), with the
 * rate smoothed over draws (tqdm's smoothing 0.3). */
void progress_update(progress_bar *b, int64_t n, double loss, double now);

/* progress_update without a loss: the postfix stays as it was (none on a
 * bar that never had one, as the evaluation bar). */
void progress_advance(progress_bar *b, int64_t n, double now);

/* A line above the bar (tqdm.write): the bar is blanked, the line written
 * with a newline, the bar drawn again. */
void progress_write(progress_bar *b, const char *line, double now);

/* Blank the bar's line and go back to its start (tqdm's clear()), so that
 * another bar can take the line for a while; the bar stays open and
 * progress_refresh draws it again. */
void progress_clear(progress_bar *b);

/* Draw the bar now (tqdm's refresh()). */
void progress_refresh(progress_bar *b, double now);

/* The last draw, with the average rate over the whole bar, and a newline
 * (tqdm.close with leave=True). Does nothing on a bar not open. */
void progress_close(progress_bar *b, double now);

/* Close a transient bar: its line is blanked and the cursor left at its
 * start, with no last draw (tqdm.close with leave=False). Does nothing on a
 * bar not open. */
void progress_discard(progress_bar *b);

#endif
