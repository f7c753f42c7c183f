/* Lines of an input stream processed in batches on threads, the output
 * written in input order: what `mlm tokenize` needs to use every CPU on a
 * large file and still answer each line at once when typed at a terminal.
 *
 * The calling thread reads and writes; nthreads workers run the batch
 * function (with nthreads 1 it runs on the calling thread). A batch is
 * about batch_bytes of complete lines; when no more input is waiting
 * (poll), the lines already read form a batch, and the batches in flight
 * are finished and written before the reader blocks, so interactive use
 * sees each line's output before typing the next. Memory stays at about
 * 2 * nthreads batches (input and output) whatever the input's size. */
#ifndef MLM_CLI_LINEBATCH_H
#define MLM_CLI_LINEBATCH_H

#include <stddef.h>

#include "outbuf.h"

/* Lines [0, n) of a batch, numbered from first_line (the input's first line
 * is 1). line[i] is NUL-terminated after len[i] bytes (the line may hold NUL
 * bytes itself), without its '\n' and one '\r' before it. */
typedef struct line_batch {
    char **line;
    const size_t *len;
    size_t n;
    long first_line;
} line_batch;

/* Process a batch into out. Returns 0, or -1 with the output of the lines
 * before the failing one in out and a message ("stdin line 3: ...",
 * without "mlm: ") in err. Runs on several threads at once, on different
 * batches. */
typedef int (*line_batch_fn)(void *ctx, const line_batch *b, outbuf *out, char *err,
                             size_t errcap);

/* Run fn over the lines of fd (split at '\n'; a last line without one
 * counts) and write the outputs to out_fd in input order. Returns 0, or 1
 * after writing the output that precedes the first failure and printing
 * "mlm: <err>" to stderr (nothing after it is written). A read or write
 * error is reported the same way. */
int line_batches_run(int fd, int out_fd, int nthreads, size_t batch_bytes, line_batch_fn fn,
                     void *ctx);

#endif
