#include "linebatch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64u << 10)

typedef struct slot {
    char *in; /* the batch's bytes, lines NUL-terminated in place */
    size_t in_len, in_cap;
    char **line;
    size_t *len;
    size_t n, line_cap;
    long first_line;
    outbuf out;
    int rc;
    char err[1024];
    int done; /* under the lock: out and rc are final */
} slot;

/* Batches are numbered in input order: [written, dispatched) are in flight,
 * [taken, dispatched) wait for a worker; batch k lives in slots[k % nslots]. */
typedef struct runner {
    int fd, out_fd;
    size_t batch_bytes;
    line_batch_fn fn;
    void *ctx;
    slot *slots;
    size_t nslots;
    uint64_t dispatched, taken, written;
    int stop;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    pthread_t *tid;
    int nworkers;
    char *carry; /* a line begun in the last read, for the next batch */
    size_t carry_len, carry_cap;
    int eof;
    long next_line;
} runner;

static int grow(char **p, size_t *cap, size_t need)
{
    if (*cap >= need)
        return 0;
    size_t c = *cap ? *cap : READ_CHUNK;
    while (c < need)
        c *= 2;
    char *q = realloc(*p, c);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static void process(runner *r, slot *s)
{
    ob_clear(&s->out);
    line_batch b = {s->line, s->len, s->n, s->first_line};
    s->err[0] = '\0';
    s->rc = r->fn(r->ctx, &b, &s->out, s->err, sizeof s->err);
    if (s->rc == 0 && s->out.failed) {
        s->rc = -1;
        snprintf(s->err, sizeof s->err, "out of memory");
    }
}

static void *worker(void *arg)
{
    runner *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stop && r->taken == r->dispatched)
            pthread_cond_wait(&r->work, &r->lock);
        if (r->stop)
            break;
        slot *s = &r->slots[r->taken++ % r->nslots];
        pthread_mutex_unlock(&r->lock);
        process(r, s);
        pthread_mutex_lock(&r->lock);
        s->done = 1;
        pthread_cond_broadcast(&r->done);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Wait for the oldest batch in flight and write it: 0, or 1 (reported)
 * when it failed or could not be written. */
static int write_next(runner *r)
{
    slot *s = &r->slots[r->written % r->nslots];
    if (r->nworkers) {
        pthread_mutex_lock(&r->lock);
        while (!s->done)
            pthread_cond_wait(&r->done, &r->lock);
        pthread_mutex_unlock(&r->lock);
    }
    r->written++;
    if (write_all(r->out_fd, s->out.p, s->out.len) != 0) {
        fprintf(stderr, "mlm: write: %s\n", strerror(errno));
        return 1;
    }
    if (s->rc != 0) {
        fprintf(stderr, "mlm: %s\n", s->err);
        return 1;
    }
    return 0;
}

static int drain(runner *r)
{
    while (r->written < r->dispatched)
        if (write_next(r) != 0)
            return 1;
    return 0;
}

static int input_waiting(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    return n != 0; /* an error: let read() tell */
}

/* Split s->in[0, end) into lines; a part after the last '\n' is a line
 * too (the input's last, without a newline). */
static int split_lines(slot *s, size_t end)
{
    s->n = 0;
    for (size_t pos = 0; pos < end;) {
        char *start = s->in + pos;
        char *nl = memchr(start, '\n', end - pos);
        size_t len = nl ? (size_t)(nl - start) : end - pos;
        pos += len + (nl != NULL);
        if (s->n == s->line_cap) {
            size_t cap = s->line_cap ? 2 * s->line_cap : 256;
            char **l = realloc(s->line, cap * sizeof *l);
            if (l)
                s->line = l;
            size_t *ln = l ? realloc(s->len, cap * sizeof *ln) : NULL;
            if (!ln)
                return -1;
            s->len = ln;
            s->line_cap = cap;
        }
        if (len && start[len - 1] == '\r')
            len--;
        start[len] = '\0'; /* over the '\r' or '\n', or the byte reserved past the end */
        s->line[s->n] = start;
        s->len[s->n++] = len;
    }
    return 0;
}

/* Read the next batch into s: complete lines up to about batch_bytes, or
 * fewer when no more input is waiting (after the batches in flight are
 * written), or the rest of the input. 0, or 1 (reported). */
static int fill(runner *r, slot *s)
{
    if (grow(&s->in, &s->in_cap, r->carry_len + READ_CHUNK + 1) != 0) {
        fprintf(stderr, "mlm: out of memory\n");
        return 1;
    }
    if (r->carry_len)
        memcpy(s->in, r->carry, r->carry_len);
    s->in_len = r->carry_len;
    r->carry_len = 0;
    size_t complete = 0, scanned = 0;
    for (;;) {
        char *nl = memrchr(s->in + scanned, '\n', s->in_len - scanned);
        if (nl)
            complete = (size_t)(nl - s->in) + 1;
        scanned = s->in_len;
        if (r->eof || complete >= r->batch_bytes)
            break;
        if (!input_waiting(r->fd)) {
            if (complete)
                break;
            if (drain(r) != 0)
                return 1;
        }
        if (grow(&s->in, &s->in_cap, s->in_len + READ_CHUNK + 1) != 0) {
            fprintf(stderr, "mlm: out of memory\n");
            return 1;
        }
        ssize_t got = read(r->fd, s->in + s->in_len, READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "mlm: stdin: %s\n", strerror(errno));
            return 1;
        }
        if (got == 0)
            r->eof = 1;
        s->in_len += (size_t)got;
    }
    if (r->eof) {
        complete = s->in_len;
    } else {
        size_t rest = s->in_len - complete;
        if (grow(&r->carry, &r->carry_cap, rest) != 0) {
            fprintf(stderr, "mlm: out of memory\n");
            return 1;
        }
        memcpy(r->carry, s->in + complete, rest);
        r->carry_len = rest;
    }
    if (split_lines(s, complete) != 0) {
        fprintf(stderr, "mlm: out of memory\n");
        return 1;
    }
    s->first_line = r->next_line;
    r->next_line += (long)s->n;
    return 0;
}

static void dispatch(runner *r, slot *s)
{
    if (!r->nworkers) {
        process(r, s);
        r->dispatched++;
        return;
    }
    pthread_mutex_lock(&r->lock);
    s->done = 0;
    r->dispatched++;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->lock);
}

static void runner_free(runner *r)
{
    if (r->nworkers) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_broadcast(&r->work);
        pthread_mutex_unlock(&r->lock);
        for (int i = 0; i < r->nworkers; i++)
            pthread_join(r->tid[i], NULL);
    }
    for (size_t i = 0; r->slots && i < r->nslots; i++) {
        free(r->slots[i].in);
        free(r->slots[i].line);
        free(r->slots[i].len);
        ob_free(&r->slots[i].out);
    }
    free(r->slots);
    free(r->tid);
    free(r->carry);
    pthread_cond_destroy(&r->done);
    pthread_cond_destroy(&r->work);
    pthread_mutex_destroy(&r->lock);
}

int line_batches_run(int fd, int out_fd, int nthreads, size_t batch_bytes, line_batch_fn fn,
                     void *ctx)
{
    runner r = {.fd = fd, .out_fd = out_fd, .batch_bytes = batch_bytes ? batch_bytes : 1,
                .fn = fn, .ctx = ctx, .next_line = 1};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.work, NULL);
    pthread_cond_init(&r.done, NULL);
    /* Two batches per worker keep each busy while the oldest is written. */
    int workers = nthreads > 1 ? nthreads : 0;
    r.nslots = 2 * (size_t)(workers ? workers : 1);
    r.slots = calloc(r.nslots, sizeof *r.slots);
    r.tid = workers ? calloc((size_t)workers, sizeof *r.tid) : NULL;
    int rc = 0;
    if (!r.slots || (workers && !r.tid)) {
        fprintf(stderr, "mlm: out of memory\n");
        rc = 1;
    }
    for (; rc == 0 && r.nworkers < workers; r.nworkers++)
        if (pthread_create(&r.tid[r.nworkers], NULL, worker, &r) != 0)
            break; /* fewer workers (none: the batches run here) */
    while (rc == 0) {
        if (r.dispatched - r.written == r.nslots || (r.eof && r.written < r.dispatched)) {
            rc = write_next(&r);
            continue;
        }
        if (r.eof)
            break;
        slot *s = &r.slots[r.dispatched % r.nslots];
        rc = fill(&r, s);
        if (rc == 0 && s->n)
            dispatch(&r, s);
    }
    runner_free(&r);
    return rc;
}
