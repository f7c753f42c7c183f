/* Cross-entropy, log-softmax and top-k (see loss.h). */
#include "nn/ops/loss.h"

#include <math.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/ops.h"
#include "nn/ops/vec.h"
#include "nn/ops/vmath.h"

typedef struct loss_job {
    float *out;
    const float *logits, *lse, *shift;
    const int32_t *labels;
    int V;
    float scale;
} loss_job;

static size_t rows_grain(int V) { return V > 0 ? 32768 / (size_t)V + 1 : 32768; }

/* log Σ_j e^(x_j) = max + log Σ_j e^(x_j − max): no overflow. */
VM_INLINE float row_lse(const float *x, int V)
{
    float mx = v_max(x, V);
    if (mx == -INFINITY || mx == INFINITY)
        return mx;
    float acc[VLANES] = {0}, t[VM_BLOCK];
    int i = 0;
    for (; i + VM_BLOCK <= V; i += VM_BLOCK) {   /* the same sums in the same order */
        v_expf_minus_block(t, x + i, mx);
        for (int k = 0; k < VM_BLOCK; k += VLANES)
            for (int l = 0; l < VLANES; l++)
                acc[l] += t[k + l];
    }
    for (; i + VLANES <= V; i += VLANES)
        for (int l = 0; l < VLANES; l++)
            acc[l] += v_expf(x[i + l] - mx);
    for (int l = 0; i < V; i++, l++)
        acc[l] += v_expf(x[i] - mx);
    return mx + logf(v_sum(acc, VLANES));
}

static VEC_INLINE void lse_range_body(void *arg, size_t begin, size_t end)
{
    const loss_job *j = arg;
    for (size_t n = begin; n < end; n++)
        if (!j->labels || j->labels[n] != OPS_IGNORE_INDEX)
            j->out[n] = row_lse(j->logits + n * (size_t)j->V, j->V);
}

VEC_DISPATCH(lse_range)

static mlm_status check_labels(const int32_t *labels, int N, int V)
{
    if (N < 0 || V < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "cross_entropy: bad size N %d V %d", N, V);
    for (int n = 0; n < N; n++)
        if (labels[n] != OPS_IGNORE_INDEX && (labels[n] < 0 || labels[n] >= V))
            return err_set(MLM_ERR_RANGE, "cross_entropy: label %ld at row %d outside [0, %d)",
                           (long)labels[n], n, V);
    return MLM_OK;
}

mlm_status ops_cross_entropy_forward(const ops_ctx *ctx, float *loss, int *count, float *lse,
                                     const float *logits, const int32_t *labels, int N, int V)
{
    mlm_status st = check_labels(labels, N, V);
    if (st != MLM_OK)
        return st;
    float *buf = lse;
    if (!buf && N > 0) {
        buf = mem_alloc((size_t)N * sizeof *buf);
        if (!buf)
            return err_oom();
    }
    loss_job j = {.out = buf, .logits = logits, .labels = labels, .V = V};
    par_for(ctx->nthreads, (size_t)N, rows_grain(V), lse_range, &j);
    /* The mean, in double and row order: independent of the split. */
    double sum = 0.0;
    int cnt = 0;
    for (int n = 0; n < N; n++) {
        if (labels[n] == OPS_IGNORE_INDEX)
            continue;
        sum += (double)buf[n] - (double)logits[(size_t)n * V + labels[n]];
        cnt++;
    }
    if (buf != lse)
        mem_free(buf);
    *loss = cnt > 0 ? (float)(sum / cnt) : NAN;
    if (count)
        *count = cnt;
    return MLM_OK;
}

/* dlogits[n] = scale·(e^(x − lse) − onehot), scale = dloss/count. Each x is
 * read before its slot is written, so dlogits may alias logits. */
static VEC_INLINE void ce_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const loss_job *j = arg;
    size_t V = (size_t)j->V;
    for (size_t n = begin; n < end; n++) {
        const float *x = j->logits + n * V;
        float *d = j->out + n * V;
        int32_t label = j->labels[n];
        if (label == OPS_IGNORE_INDEX) {
            for (size_t v = 0; v < V; v++)
                d[v] = 0.0f;
            continue;
        }
        float l = j->lse ? j->lse[n] : row_lse(x, j->V);
        size_t v = 0;
        for (; v + VM_BLOCK <= V; v += VM_BLOCK) {
            v_expf_minus_block(d + v, x + v, l);
            for (size_t k = v; k < v + VM_BLOCK; k++)
                d[k] = j->scale * d[k];
        }
        for (; v < V; v++)
            d[v] = j->scale * v_expf(x[v] - l);
        d[label] -= j->scale;
    }
}

VEC_DISPATCH(ce_bwd_range)

mlm_status ops_cross_entropy_backward(const ops_ctx *ctx, float *dlogits, const float *logits,
                                      const float *lse, const int32_t *labels, int count,
                                      float dloss, int N, int V)
{
    mlm_status st = check_labels(labels, N, V);
    if (st != MLM_OK)
        return st;
    loss_job j = {.out = dlogits, .logits = logits, .lse = lse, .labels = labels, .V = V,
                  .scale = count > 0 ? dloss / (float)count : 0.0f};
    par_for(ctx->nthreads, (size_t)N, rows_grain(V), ce_bwd_range, &j);
    return MLM_OK;
}

/* out = x − lse, per row, then + shift[n] when there is a shift (a
 * separate loop: adding a zero would turn nothing into −0 here, as x − lse
 * is never −0, but costs a pass) */
static VEC_INLINE void log_softmax_range_body(void *arg, size_t begin, size_t end)
{
    const loss_job *j = arg;
    size_t V = (size_t)j->V;
    for (size_t n = begin; n < end; n++) {
        const float *x = j->logits + n * V;
        float *o = j->out + n * V;
        float l = row_lse(x, j->V);
        if (j->shift) {
            float a = j->shift[n];
            for (size_t v = 0; v < V; v++)
                o[v] = (x[v] - l) + a;
        } else {
            for (size_t v = 0; v < V; v++)
                o[v] = x[v] - l;
        }
    }
}

VEC_DISPATCH(log_softmax_range)

void ops_log_softmax_shift_forward(const ops_ctx *ctx, float *out, const float *logits,
                                   const float *shift, int N, int V)
{
    if (N <= 0 || V <= 0)
        return;
    loss_job j = {.out = out, .logits = logits, .shift = shift, .V = V};
    par_for(ctx->nthreads, (size_t)N, rows_grain(V), log_softmax_range, &j);
}

void ops_log_softmax_forward(const ops_ctx *ctx, float *out, const float *logits, int N, int V)
{
    ops_log_softmax_shift_forward(ctx, out, logits, NULL, N, V);
}

/* ---------------------------------------------------------------- argmax */

typedef struct argmax_job {
    const float *x;
    int n;
    int32_t idx;
} argmax_job;

/* The largest number and whether there is a NaN, in VLANES lanes (one
 * running maximum is a chain of dependent compares: greedy search takes one
 * over the vocabulary per row and step); then the first position holding
 * the answer, a block of VLANES at a time. */
static VEC_INLINE void argmax_range_body(void *arg, size_t begin, size_t end)
{
    (void)begin;
    (void)end;
    argmax_job *j = arg;
    const float *x = j->x;
    int n = j->n, i = 0;
    float acc[VLANES];
    int32_t nan[VLANES] = {0};
    for (int l = 0; l < VLANES; l++)
        acc[l] = -INFINITY;
    for (; i + VLANES <= n; i += VLANES)
        for (int l = 0; l < VLANES; l++) {
            acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
            nan[l] |= x[i + l] != x[i + l];
        }
    for (int l = 0; i < n; i++, l++) {
        acc[l] = x[i] > acc[l] ? x[i] : acc[l];
        nan[l] |= x[i] != x[i];
    }
    float m = -INFINITY;
    int any_nan = 0;
    for (int l = 0; l < VLANES; l++) {
        m = acc[l] > m ? acc[l] : m;
        any_nan |= nan[l];
    }
    for (i = 0; i + VLANES <= n; i += VLANES) {
        int hit = 0;
        if (any_nan)
            for (int l = 0; l < VLANES; l++)
                hit |= x[i + l] != x[i + l];
        else
            for (int l = 0; l < VLANES; l++)
                hit |= x[i + l] == m;
        if (hit)
            break;
    }
    for (; i < n; i++)
        if (any_nan ? x[i] != x[i] : x[i] == m)
            break;
    j->idx = i < n ? i : 0;
}

VEC_DISPATCH(argmax_range)

int32_t ops_argmax(const float *x, int n)
{
    argmax_job j = {.x = x, .n = n, .idx = 0};
    if (n > 0)
        argmax_range(&j, 0, 1);
    return j.idx;
}

/* ---------------------------------------------------------------- top-k */

/* a ranks above b: larger value, then lower index; NaN ranks below all. */
static int ranks_above(float va, int32_t ia, float vb, int32_t ib)
{
    if (isnan(va) || isnan(vb))
        return isnan(vb) && (!isnan(va) || ia < ib);
    return va > vb || (va == vb && ia < ib);
}

/* A heap of the k best so far with the worst at the root (index 0). */
static void sift_down(float *v, int32_t *ix, int size, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < size && ranks_above(v[w], ix[w], v[l], ix[l]))
            w = l;
        if (r < size && ranks_above(v[w], ix[w], v[r], ix[r]))
            w = r;
        if (w == i)
            return;
        float tv = v[i];
        int32_t ti = ix[i];
        v[i] = v[w];
        ix[i] = ix[w];
        v[w] = tv;
        ix[w] = ti;
        i = w;
    }
}

/* The scan of ops_topk: from i, the first block of 16 holding a value above
 * thr (a number), or where fewer than 16 are left; 64 compared at a time
 * between branches. Late in a scan nearly every block is skipped. */
typedef struct scan_job {
    const float *x;
    int i, n;
    float thr;
} scan_job;

static VEC_INLINE void scan_above_range_body(void *arg, size_t begin, size_t end)
{
    (void)begin;
    (void)end;
    scan_job *j = arg;
    const float *x = j->x;
    int i = j->i, n = j->n;
    float thr = j->thr;
    for (; i + 64 <= n; i += 64) {
        int above = 0;
        for (int l = 0; l < 64; l++)
            above |= x[i + l] > thr;
        if (above)
            break;
    }
    for (; i + 16 <= n; i += 16) {
        int above = 0;
        for (int l = 0; l < 16; l++)
            above |= x[i + l] > thr;
        if (above)
            break;
    }
    j->i = i;
}

VEC_DISPATCH(scan_above_range)

mlm_status ops_topk(const float *x, int n, int k, int32_t *idx, float *val)
{
    if (k < 1 || k > n)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "topk: k = %d outside [1, %d]", k, n);
    float *v = val ? val : mem_alloc((size_t)k * sizeof *v);
    if (!v)
        return err_oom();
    /* O(n log k): the first k build the heap, each later one that ranks
     * above the root replaces it. */
    for (int i = 0; i < k; i++) {
        v[i] = x[i];
        idx[i] = i;
    }
    for (int i = k / 2 - 1; i >= 0; i--)
        sift_down(v, idx, k, i);
    for (int i = k; i < n;) {
        /* Blocks of 16 with nothing above a root that is a number are
         * skipped whole: a later equal value never ranks above (its index
         * is higher), nor does NaN. The compares vectorize; the beams of a
         * summary scan ~10^6 scores a step. */
        if (!isnan(v[0]) && i + 16 <= n) {
            scan_job sj = {.x = x, .i = i, .n = n, .thr = v[0]};
            scan_above_range(&sj, 0, 1);
            i = sj.i;
            if (i >= n)
                break;
        }
        int end = i + 16 < n ? i + 16 : n;
        for (; i < end; i++)
            if (ranks_above(x[i], i, v[0], idx[0])) {
                v[0] = x[i];
                idx[0] = i;
                sift_down(v, idx, k, 0);
            }
    }
    /* Heap sort: moving the root (worst) to the end leaves best-first. */
    for (int size = k - 1; size > 0; size--) {
        float tv = v[0];
        int32_t ti = idx[0];
        v[0] = v[size];
        idx[0] = idx[size];
        v[size] = tv;
        idx[size] = ti;
        sift_down(v, idx, size, 0);
    }
    if (v != val)
        mem_free(v);
    return MLM_OK;
}
