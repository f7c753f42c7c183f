/* Bucketed, overlapped gradient sums over the ranks (train/grad_sync.h). */
#include "train/grad_sync.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* DDP's first bucket (torch.distributed's _DEFAULT_FIRST_BUCKET_BYTES): small,
 * so the first sum starts after the top layer rather than a quarter of the
 * way down. */
#define FIRST_BUCKET_BYTES ((size_t)1 << 20)

typedef struct bucket {
    size_t lo, hi; /* floats [lo, hi) of the gradient */
    dist_req *req;
} bucket;

struct grad_sync {
    dist *d;
    float *grad;
    bucket *b;         /* b[0] ends at n; b[k+1] ends where b[k] begins */
    size_t nb;
    size_t started;    /* b[0..started) are in flight or done: the same order on every rank */
    int begun;         /* a step's sums are under way */
};

mlm_status grad_sync_new(dist *d, size_t n, size_t bucket_bytes, grad_sync **out)
{
    *out = NULL;
    size_t cap = bucket_bytes / sizeof(float), first = FIRST_BUCKET_BYTES / sizeof(float);
    if (cap == 0)
        cap = 1;
    if (first > cap)
        first = cap;
    size_t nb = 0;
    for (size_t hi = n, k = 0; hi > 0; k++) {
        size_t w = k == 0 ? first : cap;
        hi = hi > w ? hi - w : 0;
        nb++;
    }
    grad_sync *g = mem_calloc(1, sizeof *g);
    if (!g || !(g->b = mem_calloc(nb ? nb : 1, sizeof *g->b))) {
        mem_free(g);
        return err_oom();
    }
    g->d = d;
    g->nb = nb;
    mlm_status st = MLM_OK;
    size_t hi = n;
    for (size_t k = 0; k < nb && st == MLM_OK; k++) {
        size_t w = k == 0 ? first : cap;
        g->b[k].hi = hi;
        g->b[k].lo = hi > w ? hi - w : 0;
        hi = g->b[k].lo;
        st = dist_req_new(&g->b[k].req);
    }
    if (st != MLM_OK) {
        grad_sync_free(g);
        return st;
    }
    g->started = nb; /* nothing to wait for before the first begin */
    *out = g;
    return MLM_OK;
}

void grad_sync_free(grad_sync *g)
{
    if (!g)
        return;
    for (size_t k = 0; k < g->nb; k++) {
        if (g->b[k].req)
            (void)dist_req_wait(g->b[k].req);
        dist_req_free(g->b[k].req);
    }
    mem_free(g->b);
    mem_free(g);
}

void grad_sync_begin(grad_sync *g, float *grad)
{
    g->grad = grad;
    g->started = 0;
    g->begun = 1;
}

static mlm_status start(grad_sync *g, size_t k)
{
    bucket *b = &g->b[k];
    return dist_iallreduce_f32(g->d, g->grad + b->lo, b->hi - b->lo, b->req);
}

mlm_status grad_sync_ready(grad_sync *g, size_t from)
{
    mlm_status st = MLM_OK;
    while (st == MLM_OK && g->started < g->nb && g->b[g->started].lo >= from)
        st = start(g, g->started++);
    for (size_t k = 0; st == MLM_OK && k < g->started; k++) {
        int done;
        st = dist_req_test(g->b[k].req, &done);
    }
    return st;
}

mlm_status grad_sync_finish(grad_sync *g)
{
    mlm_status st = MLM_OK;
    while (st == MLM_OK && g->started < g->nb)
        st = start(g, g->started++);
    /* every started request is waited for, even after a failure */
    for (size_t k = 0; k < g->started; k++) {
        mlm_status w = dist_req_wait(g->b[k].req);
        if (st == MLM_OK)
            st = w;
    }
    g->begun = 0;
    return st;
}

mlm_status grad_sync_abandon(grad_sync *g)
{
    mlm_status st = MLM_OK;
    if (g->begun) /* the backward failed part-way: its buffer is still there */
        return grad_sync_finish(g);
    size_t widest = 0;
    for (size_t k = 0; k < g->nb; k++)
        if (g->b[k].hi - g->b[k].lo > widest)
            widest = g->b[k].hi - g->b[k].lo;
    float *zeros = mem_alloc(widest * sizeof *zeros);
    if (!zeros)
        return err_oom();
    for (size_t k = 0; k < g->nb; k++) {
        memset(zeros, 0, widest * sizeof *zeros);
        mlm_status s = dist_iallreduce_f32(g->d, zeros, g->b[k].hi - g->b[k].lo, g->b[k].req);
        if (s == MLM_OK)
            s = dist_req_wait(g->b[k].req);
        if (st == MLM_OK)
            st = s;
    }
    mem_free(zeros);
    return st;
}

