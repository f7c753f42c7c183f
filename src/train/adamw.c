/* AdamW, clipping and the linear schedule (see adamw.h). */
#include "train/adamw.h"

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

mlm_status adamw_init(adamw *opt, const mlm_model *m, double beta1, double beta2, double eps,
                      double weight_decay, int nthreads)
{
    memset(opt, 0, sizeof *opt);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0) ||
        !(weight_decay >= 0))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "AdamW: betas (%g, %g) must be in [0, 1), eps %g and weight_decay %g >= 0",
                       beta1, beta2, eps, weight_decay);
    opt->n = model_numel(m);
    opt->n_params = m->n_params;
    opt->m = mem_calloc(2 * (opt->n ? opt->n : 1), sizeof *opt->m);
    opt->decay = mem_calloc(m->n_params ? m->n_params : 1, sizeof *opt->decay);
    opt->offset = mem_calloc(m->n_params + 1, sizeof *opt->offset);
    opt->chunk_first = mem_calloc(m->n_params + 1, sizeof *opt->chunk_first);
    if (!opt->m || !opt->decay || !opt->offset || !opt->chunk_first) {
        adamw_free(opt);
        return err_oom();
    }
    opt->v = opt->m + opt->n;
    for (size_t i = 0; i < m->n_params; i++) {
        opt->decay[i] = !m->params[i].no_decay;
        opt->offset[i + 1] = opt->offset[i] + m->params[i].numel;
        opt->chunk_first[i + 1] =
            opt->chunk_first[i] + (m->params[i].numel + NORM_CHUNK - 1) / NORM_CHUNK;
    }
    opt->chunk_sum = mem_calloc(opt->chunk_first[m->n_params] + 1, sizeof *opt->chunk_sum);
    if (!opt->chunk_sum) {
        adamw_free(opt);
        return err_oom();
    }
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    opt->weight_decay = weight_decay;
    opt->nthreads = nthreads < 1 ? 1 : nthreads;
    return MLM_OK;
}

void adamw_free(adamw *opt)
{
    if (!opt)
        return;
    mem_free(opt->m);
    mem_free(opt->decay);
    mem_free(opt->offset);
    mem_free(opt->chunk_first);
    mem_free(opt->chunk_sum);
    memset(opt, 0, sizeof *opt);
}

void adamw_state(adamw *opt, float **m, float **v, size_t *n, int64_t **step)
{
    if (m)
        *m = opt->m;
    if (v)
        *v = opt->v;
    if (n)
        *n = opt->n;
    if (step)
        *step = &opt->step;
}

/* The per-step scalars, as torch computes them (Python floats, then cast to
 * the tensor's float when applied). */
typedef struct adam_job {
    float *p, *m, *v;
    const float *g;
    float gscale;        /* clip coefficient (1: none) */
    float decay_mul;     /* 1 − lr·wd (decay group) */
    float b1, one_m_b1, b2, one_m_b2;
    float step_size;     /* lr / (1 − β1^t) */
    float bc2_sqrt;      /* √(1 − β2^t) */
    float eps;
    const adamw *opt;
} adam_job;

/* Elements [begin, end) of one parameter; decay is a constant after
 * inlining, so each loop is straight-line and vectorizes. */
static VEC_INLINE void adam_elems(const adam_job *restrict j, size_t begin, size_t end, int decay)
{
    float *restrict P = j->p, *restrict M = j->m, *restrict Vv = j->v;
    const float *restrict G = j->g;
    const float gs = j->gscale, dm = j->decay_mul, b1 = j->b1, c1 = j->one_m_b1, b2 = j->b2,
                c2 = j->one_m_b2, ss = j->step_size, bc2 = j->bc2_sqrt, eps = j->eps;
    for (size_t i = begin; i < end; i++) {
        float p = P[i], g = G[i] * gs;
        if (decay)
            p *= dm;
        float m = M[i] * b1 + c1 * g;
        float v = Vv[i] * b2 + c2 * (g * g);
        float denom = sqrtf(v) / bc2 + eps;
        p += -ss * (m / denom);
        M[i] = m;
        Vv[i] = v;
        P[i] = p;
    }
}

/* The parameter holding flat element i: binary search over offsets. */
static size_t param_of(const adamw *o, size_t i)
{
    size_t lo = 0, hi = o->n_params;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (o->offset[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Elements [begin, end) of the flat vector, crossing parameter boundaries. */
static VEC_INLINE void adam_range_body(void *arg, size_t begin, size_t end)
{
    const adam_job *j = arg;
    const adamw *o = j->opt;
    for (size_t k = param_of(o, begin); k < o->n_params && o->offset[k] < end; k++) {
        size_t a = o->offset[k] > begin ? o->offset[k] : begin;
        size_t b = o->offset[k + 1] < end ? o->offset[k + 1] : end;
        if (o->decay[k] && j->decay_mul != 1.0f)
            adam_elems(j, a, b, 1);
        else
            adam_elems(j, a, b, 0);
    }
}

VEC_DISPATCH(adam_range)

void adamw_step_scaled(adamw *opt, float *params, const float *grads, double lr, float gscale)
{
    opt->step++;
    double t = (double)opt->step;
    adam_job j = {
        .p = params, .m = opt->m, .v = opt->v, .g = grads, .gscale = gscale,
        .decay_mul = (float)(1.0 - lr * opt->weight_decay),
        .b1 = (float)opt->beta1, .one_m_b1 = (float)(1.0 - opt->beta1),
        .b2 = (float)opt->beta2, .one_m_b2 = (float)(1.0 - opt->beta2),
        .step_size = (float)(lr / (1.0 - pow(opt->beta1, t))),
        .bc2_sqrt = (float)sqrt(1.0 - pow(opt->beta2, t)),
        .eps = (float)opt->eps,
        .opt = opt,
    };
    par_for(opt->nthreads, opt->n, 1 << 16, adam_range, &j);
}

void adamw_step(adamw *opt, float *params, const float *grads, double lr)
{
    adamw_step_scaled(opt, params, grads, lr, 1.0f);
}

typedef struct norm_job {
    adamw *opt;
    const float *g;
} norm_job;

/* chunk_sum[c] = Σ g² over chunk c, in VLANES double partial sums. */
static VEC_INLINE void norm_range_body(void *arg, size_t begin, size_t end)
{
    const norm_job *j = arg;
    const adamw *o = j->opt;
    for (size_t c = begin; c < end; c++) {
        size_t k = 0, lo = 0, hi = o->n_params;
        while (hi - lo > 1) { /* the parameter whose chunks hold c */
            size_t mid = (lo + hi) / 2;
            if (o->chunk_first[mid] <= c)
                lo = mid;
            else
                hi = mid;
        }
        k = lo;
        size_t a = o->offset[k] + (c - o->chunk_first[k]) * NORM_CHUNK;
        size_t b = a + NORM_CHUNK < o->offset[k + 1] ? a + NORM_CHUNK : o->offset[k + 1];
        const float *x = j->g + a;
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
        j->opt->chunk_sum[c] = s;
    }
}

VEC_DISPATCH(norm_range)

double grad_global_norm(adamw *opt, const float *grads)
{
    norm_job j = {opt, grads};
    size_t chunks = opt->chunk_first[opt->n_params];
    par_for(opt->nthreads, chunks, 16, norm_range, &j);
    double total = 0;
    for (size_t k = 0; k < opt->n_params; k++) {
        double s = 0;
        for (size_t c = opt->chunk_first[k]; c < opt->chunk_first[k + 1]; c++)
            s += opt->chunk_sum[c];
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

double lr_linear_warmup(int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup)
        return (double)step / (double)(warmup > 1 ? warmup : 1);
    int64_t span = total - warmup > 1 ? total - warmup : 1;
    double r = (double)(total - step) / (double)span;
    return r > 0 ? r : 0.0;
}
