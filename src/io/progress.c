/* tqdm's bar and Python's dict lines (io/progress.h).
 * The formats follow tqdm 4's format_meter / format_interval / format_num /
 * Bar and CPython's float repr, so a libmlm run on a terminal reads like a
 * transformers run. */
#include "io/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "io/json.h"

/* ---------------------------------------------------------------- Python */

void py_float_repr(strbuf *sb, double x)
{
    char buf[32];
    json_format_py_repr(x, buf);
    sb_puts(sb, buf);
}

double py_round2(double x) { return json_py_round(x, 2); }

/* repr() of a str: single quotes unless the text holds one and no double
 * quote; backslash escapes for the quote, backslash and control bytes;
 * other characters as they are (printable, as far as a log goes). */
static void py_str_repr(strbuf *sb, const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    sb_putc(sb, q);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == q || *p == '\\') {
            sb_putc(sb, '\\');
            sb_putc(sb, (char)*p);
        } else if (*p == '\n') {
            sb_puts(sb, "\\n");
        } else if (*p == '\r') {
            sb_puts(sb, "\\r");
        } else if (*p == '\t') {
            sb_puts(sb, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            sb_printf(sb, "\\x%02x", *p);
        } else {
            sb_putc(sb, (char)*p);
        }
    }
    sb_putc(sb, q);
}

void py_log_line(strbuf *sb, const cJSON *rec)
{
    sb_putc(sb, '{');
    int first = 1;
    for (const cJSON *it = rec ? rec->child : NULL; it; it = it->next) {
        if (!it->string || strcmp(it->string, "step") == 0 ||
            strcmp(it->string, "total_flos") == 0)
            continue;
        if (!first)
            sb_puts(sb, ", ");
        first = 0;
        py_str_repr(sb, it->string);
        sb_puts(sb, ": ");
        if (cJSON_IsNumber(it)) {
            double v = it->valuedouble;
            py_float_repr(sb, strcmp(it->string, "epoch") == 0 ? py_round2(v) : v);
        } else if (cJSON_IsString(it)) {
            py_str_repr(sb, it->valuestring);
        } else if (cJSON_IsBool(it)) {
            sb_puts(sb, cJSON_IsTrue(it) ? "True" : "False");
        } else {
            sb_puts(sb, "None");
        }
    }
    sb_putc(sb, '}');
}

/* ---------------------------------------------------------------- tqdm */

void tqdm_interval(strbuf *sb, double seconds)
{
    /* int(t) in Python; a bound keeps the conversion defined. */
    long long t = seconds > 0 ? (seconds < 1e15 ? (long long)seconds : (long long)1e15) : 0;
    long long h = t / 3600, m = t / 60 % 60, s = t % 60;
    if (h)
        sb_printf(sb, "%lld:%02lld:%02lld", h, m, s);
    else
        sb_printf(sb, "%02lld:%02lld", m, s);
}

/* Python's s.replace(sign + "0", sign), in place. */
static void drop_zero_after(char *s, char sign)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        *w++ = *r;
        if (*r == sign && r[1] == '0')
            r++;
    }
    *w = '\0';
}

void tqdm_num(strbuf *sb, double x)
{
    char g[40];
    snprintf(g, sizeof g, "%.3g", x);
    drop_zero_after(g, '+');
    drop_zero_after(g, '-');
    strbuf r = {0};
    py_float_repr(&r, x);
    if (r.data && strlen(g) >= r.len)
        sb_append(sb, r.data, r.len);
    else
        sb_puts(sb, g);
    sb_free(&r);
}

void tqdm_sizeof(strbuf *sb, double x)
{
    static const char *const prefixes[] = {"", "k", "M", "G", "T", "P", "E", "Z"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (fabs(x) < 999.5) {
            if (fabs(x) < 99.95) {
                if (fabs(x) < 9.995)
                    sb_printf(sb, "%1.2f%s", x, prefixes[i]);
                else
                    sb_printf(sb, "%2.1f%s", x, prefixes[i]);
            } else {
                sb_printf(sb, "%3.0f%s", x, prefixes[i]);
            }
            return;
        }
        x /= 1000;
    }
    sb_printf(sb, "%3.1fY", x);
}

size_t progress_text_width(const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    size_t w = 0;
    while (left > 0) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
        if (n <= 0) { /* a stray byte: one column, as a replacement char */
            n = 1;
            c = 0xFFFD;
        }
        w += utf8proc_charwidth(c) == 2 ? 2 : 1;
        p += n;
        left -= n;
    }
    return w;
}

/* s cut to at most cols columns (tqdm's disp_trim), in place. */
static void trim_to_width(strbuf *sb, size_t start, size_t cols)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)sb->data + start;
    utf8proc_ssize_t left = (utf8proc_ssize_t)(sb->len - start);
    size_t w = 0, off = 0;
    while (left > 0) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(p + off, left, &c);
        if (n <= 0) {
            n = 1;
            c = 0xFFFD;
        }
        size_t cw = utf8proc_charwidth(c) == 2 ? 2 : 1;
        if (w + cw > cols)
            break;
        w += cw;
        off += (size_t)n;
        left -= n;
    }
    sb->len = start + off;
    sb->data[sb->len] = '\0';
}

/* tqdm's Bar: " " then U+258F down to U+2588 (one to eight eighths). */
static const char *const utf_cells[9] = {" ",     "\u258F", "\u258E", "\u258D", "\u258C",
                                         "\u258B", "\u258A", "\u2589", "\u2588"};
static const char ascii_cells[] = " 123456789#";

static void bar_cells(strbuf *sb, double frac, int width, int ascii)
{
    int nsyms = ascii ? 10 : 8;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    long long units = (long long)(frac * (double)width * (double)nsyms);
    long long full = units / nsyms, part = units % nsyms;
    for (long long i = 0; i < full; i++)
        ascii ? sb_putc(sb, ascii_cells[nsyms]) : sb_puts(sb, utf_cells[nsyms]);
    if (full < width) {
        ascii ? sb_putc(sb, ascii_cells[part]) : sb_puts(sb, utf_cells[part]);
        for (long long i = full + 1; i < width; i++)
            sb_putc(sb, ' ');
    }
}

/* A count as tqdm shows it: str(n), or format_sizeof with unit_scale. */
static void count_fmt(strbuf *sb, int64_t n, int unit_scale)
{
    if (unit_scale)
        tqdm_sizeof(sb, (double)n);
    else
        sb_printf(sb, "%lld", (long long)n);
}

/* tqdm's rate_fmt: "12.30it/s", or "2.00s/it" below one per second;
 * through format_sizeof with unit_scale ("9.41MB/s"); "?it/s" without a
 * rate. */
static void rate_fmt(strbuf *sb, double rate, int have_rate, const char *unit, int unit_scale)
{
    if (!have_rate) {
        sb_printf(sb, "?%s/s", unit);
        return;
    }
    int inverse = 1 / rate > 1;
    double x = inverse ? 1 / rate : rate;
    if (unit_scale)
        tqdm_sizeof(sb, x);
    else
        sb_printf(sb, "%5.2f", x);
    sb_printf(sb, inverse ? "s/%s" : "%s/s", unit);
}

void progress_render(strbuf *sb, const progress_view *v)
{
    size_t start = sb->len;
    const char *unit = v->unit ? v->unit : "it";
    int64_t total = v->total;
    if (total > 0 && (double)v->n >= (double)total + 0.5)
        total = 0; /* tqdm: past the total, show no total */
    double rate = v->rate;
    if (isnan(rate) && v->elapsed > 0)
        rate = (double)(v->n - v->initial) / v->elapsed;
    int have_rate = !isnan(rate) && rate != 0;

    strbuf r = {0}; /* r_bar: "| n/total [elapsed<remaining, rate, postfix]" */
    if (total > 0) {
        sb_puts(&r, "| ");
        count_fmt(&r, v->n, v->unit_scale);
        sb_putc(&r, '/');
        count_fmt(&r, total, v->unit_scale);
        sb_puts(&r, " [");
    } else {
        count_fmt(&r, v->n, v->unit_scale);
        sb_printf(&r, "%s [", unit);
    }
    tqdm_interval(&r, v->elapsed);
    if (total > 0) {
        sb_putc(&r, '<');
        if (have_rate)
            tqdm_interval(&r, (double)(total - v->n) / rate);
        else
            sb_putc(&r, '?');
    }
    sb_puts(&r, ", ");
    rate_fmt(&r, rate, have_rate, unit, v->unit_scale);
    if (v->has_loss) {
        sb_puts(&r, ", loss=");
        tqdm_num(&r, v->loss);
    }
    sb_putc(&r, ']');
    /* l_bar: "desc: " (tqdm adds ": " unless desc ends with it) and the
     * percentage */
    strbuf l = {0};
    sb_append(&l, "", 0); /* l.data set, even when nothing more goes in */
    if (v->desc && v->desc[0]) {
        size_t dl = strlen(v->desc);
        sb_puts(&l, v->desc);
        if (!(dl >= 2 && strcmp(v->desc + dl - 2, ": ") == 0))
            sb_puts(&l, ": ");
    }
    double frac = total > 0 ? (double)v->n / (double)total : 0;
    if (total > 0)
        sb_printf(&l, "%3.0f%%|", frac * 100);
    if (r.failed || !r.data || l.failed || !l.data) {
        sb->failed = 1;
    } else if (total <= 0) {
        sb_puts(sb, l.data);
        sb_puts(sb, r.data);
    } else if (v->ncols == 0) { /* l_bar[:-1] + r_bar[1:] */
        sb_append(sb, l.data, l.len - 1);
        sb_puts(sb, r.data + 1);
    } else {
        int width = 10;
        if (v->ncols > 0) {
            long long left = (long long)v->ncols - (long long)progress_text_width(l.data) -
                             (long long)progress_text_width(r.data);
            width = left > 1 ? (int)left : 1;
        }
        sb_puts(sb, l.data);
        bar_cells(sb, frac, width, v->ascii);
        sb_puts(sb, r.data);
        if (v->ncols > 0 && !sb->failed)
            trim_to_width(sb, start, (size_t)v->ncols);
    }
    sb_free(&l);
    sb_free(&r);
}

/* ---------------------------------------------------------------- the live bar */

#define MININTERVAL 0.1
#define SMOOTHING 0.3

/* tqdm's _screen_shape_linux: the terminal's columns, else $COLUMNS - 1,
 * else unknown. */
static int terminal_cols(FILE *fp)
{
    struct winsize ws;
    int fd = fileno(fp);
    if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    char *end;
    long n = c ? strtol(c, &end, 10) : 0;
    if (c && *c && !*end && n >= 1 && n < 100000)
        return (int)n - 1;
    return -1;
}

/* tqdm's status printer: "\r" + line, blanking what is left of the last. */
static void status_print(progress_bar *b, const char *line)
{
    size_t w = progress_text_width(line);
    fputc('\r', b->fp);
    fputs(line, b->fp);
    for (size_t i = w; i < b->last_len; i++)
        fputc(' ', b->fp);
    fflush(b->fp);
    b->last_len = w;
}

static void display(progress_bar *b, double now, int average)
{
    progress_view v = {
        .n = b->n,
        .total = b->total,
        .initial = b->initial,
        .elapsed = now - b->start_t,
        .rate = (!average && b->ema_calls && b->ema_dt > 0) ? b->ema_dn / b->ema_dt : NAN,
        .has_loss = b->has_loss,
        .loss = b->loss,
        .ncols = b->cols == PROGRESS_TERMINAL_WIDTH ? terminal_cols(b->fp) : b->cols,
        .ascii = b->ascii,
        .desc = b->desc,
        .unit = b->unit,
        .unit_scale = b->unit_scale,
    };
    strbuf sb = {0};
    progress_render(&sb, &v);
    if (!sb.failed && sb.data)
        status_print(b, sb.data);
    sb_free(&sb);
}

static void bar_init(progress_bar *b, FILE *fp, int cols, int ascii, int64_t n0,
                     int64_t total, double now)
{
    memset(b, 0, sizeof *b);
    b->fp = fp;
    b->cols = cols;
    b->ascii = ascii;
    b->n = b->initial = b->last_print_n = n0;
    b->total = total;
    b->start_t = b->last_print_t = now;
    b->open = 1;
}

void progress_open(progress_bar *b, FILE *fp, int cols, int ascii, int64_t n0, int64_t total,
                   double now)
{
    bar_init(b, fp, cols, ascii, n0, total, now);
    display(b, now, 0);
}

void progress_open_units(progress_bar *b, FILE *fp, int cols, int ascii, const char *desc,
                         const char *unit, int unit_scale, int64_t total, double now)
{
    bar_init(b, fp, cols, ascii, 0, total, now);
    b->desc = desc;
    b->unit = unit;
    b->unit_scale = unit_scale;
    display(b, now, 0);
}

int progress_ascii_locale(void)
{
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (!v || !*v)
            continue;
        if (strcmp(v, "C") == 0 || strcmp(v, "POSIX") == 0)
            return 0;
        return !(strcasestr(v, "utf-8") || strcasestr(v, "utf8"));
    }
    return 0;
}

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_update(progress_bar *b, int64_t n, double loss, double now)
{
    if (!b->open)
        return;
    b->has_loss = 1;
    b->loss = loss;
    progress_advance(b, n, now);
}

void progress_advance(progress_bar *b, int64_t n, double now)
{
    if (!b->open)
        return;
    b->n = n;
    double dt = now - b->last_print_t;
    if (n - b->last_print_n < 1 || dt < MININTERVAL)
        return;
    double dn = (double)(n - b->last_print_n);
    if (dt > 0) { /* tqdm's EMA; its bias correction cancels in dn/dt */
        b->ema_dn = SMOOTHING * dn + (1 - SMOOTHING) * b->ema_dn;
        b->ema_dt = SMOOTHING * dt + (1 - SMOOTHING) * b->ema_dt;
        b->ema_calls++;
    }
    display(b, now, 0);
    b->last_print_n = n;
    b->last_print_t = now;
}

void progress_write(progress_bar *b, const char *line, double now)
{
    if (!b->open) {
        fprintf(b->fp, "%s\n", line);
        return;
    }
    progress_clear(b);
    fprintf(b->fp, "%s\n", line);
    display(b, now, 0);
}

void progress_clear(progress_bar *b)
{
    if (!b->open)
        return;
    status_print(b, "");
    fputc('\r', b->fp);
    fflush(b->fp);
}

void progress_refresh(progress_bar *b, double now)
{
    if (b->open)
        display(b, now, 0);
}

void progress_close(progress_bar *b, double now)
{
    if (!b->open)
        return;
    display(b, now, 1);
    fputc('\n', b->fp);
    fflush(b->fp);
    b->open = 0;
}

void progress_discard(progress_bar *b)
{
    progress_clear(b);
    b->open = 0;
}
