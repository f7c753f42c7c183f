/* Parameter groups, the gradient norm and clipping (see param_groups.h). */
#include "train/param_groups.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/vec.h"
#include "nn/ops/vmath.h"

/* Elements per chunk of the gradient norm: a chunk is one thread's unit and
 * one partial sum, so the sum's order is fixed by this constant alone. */
#define NORM_CHUNK ((size_t)1 << 16)

mlm_status param_groups_init(param_groups *g, const param_desc *params, size_t n_params,
                             int one_group, int nthreads)
{
    memset(g, 0, sizeof *g);
    g->params = params;
    g->n_params = n_params;
    g->one_group = one_group;
    g->nthreads = nthreads < 1 ? 1 : nthreads;
    g->decay = mem_calloc(n_params ? n_params : 1, sizeof *g->decay);
    g->offset = mem_calloc(n_params + 1, sizeof *g->offset);
    g->chunk_first = mem_calloc(n_params + 1, sizeof *g->chunk_first);
    if (!g->decay || !g->offset || !g->chunk_first) {
        param_groups_free(g);
        return err_oom();
    }
    for (size_t i = 0; i < n_params; i++) {
        g->decay[i] = one_group || !params[i].no_decay;
        g->offset[i + 1] = g->offset[i] + params[i].numel;
        g->chunk_first[i + 1] =
            g->chunk_first[i] + (params[i].numel + NORM_CHUNK - 1) / NORM_CHUNK;
    }
    g->n = g->offset[n_params];
    g->chunk_sum = mem_calloc(g->chunk_first[n_params] + 1, sizeof *g->chunk_sum);
    if (!g->chunk_sum) {
        param_groups_free(g);
        return err_oom();
    }
    return MLM_OK;
}

void param_groups_free(param_groups *g)
{
    if (!g)
        return;
    mem_free(g->decay);
    mem_free(g->offset);
    mem_free(g->chunk_first);
    mem_free(g->chunk_sum);
    memset(g, 0, sizeof *g);
}

typedef struct norm_job {
    param_groups *g;
    const float *x;
} norm_job;

/* chunk_sum[c] = Σ x² over chunk c, in VLANES double partial sums. */
static VEC_INLINE void norm_range_body(void *arg, size_t begin, size_t end)
{
    const norm_job *j = arg;
    const param_groups *o = j->g;
    for (size_t c = begin; c < end; c++) {
        size_t lo = 0, hi = o->n_params;
        while (hi - lo > 1) { /* the parameter whose chunks hold c */
            size_t mid = (lo + hi) / 2;
            if (o->chunk_first[mid] <= c)
                lo = mid;
            else
                hi = mid;
        }
        size_t k = lo;
        size_t a = o->offset[k] + (c - o->chunk_first[k]) * NORM_CHUNK;
        size_t b = a + NORM_CHUNK < o->offset[k + 1] ? a + NORM_CHUNK : o->offset[k + 1];
        const float *x = j->x + a;
        size_t n = b - a, i = 0;
        double acc[VLANES] = {0};
        for (; i + VLANES <= n; i += VLANES)
            for (int l = 0; l < VLANES; l++)
                acc[l] += (double)x[i + l] * (double)x[i + l];
        for (int l = 0; i < n; i++, l++)
            acc[l] += (double)x[i] * (double)x[i];
        double s = 0;
        for (int l = 0; l < VLANES; l++)
            s += acc[l];
        j->g->chunk_sum[c] = s;
    }
}

VEC_DISPATCH(norm_range)

double grad_global_norm(param_groups *g, const float *grads)
{
    norm_job j = {g, grads};
    size_t chunks = g->chunk_first[g->n_params];
    par_for(g->nthreads, chunks, 16, norm_range, &j);
    double total = 0;
    for (size_t k = 0; k < g->n_params; k++) {
        double s = 0;
        for (size_t c = g->chunk_first[k]; c < g->chunk_first[k + 1]; c++)
            s += g->chunk_sum[c];
        total += s;
    }
    return sqrt(total);
}

double grad_clip_coef(double norm, double max_norm)
{
    double coef = max_norm / (norm + 1e-6);
    return coef < 1.0 ? coef : 1.0;
}

double grad_clip(float *grads, size_t n, double norm, double max_norm)
{
    double coef = grad_clip_coef(norm, max_norm);
    if (!(coef < 1.0))
        return 1.0;
    float c = (float)coef;
    for (size_t i = 0; i < n; i++)
        grads[i] *= c;
    return coef;
}
