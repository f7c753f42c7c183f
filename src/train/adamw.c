/* AdamW, clipping and the linear schedule (see adamw.h). */
#include "train/adamw.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"

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
    if (!opt->m || !opt->decay || !opt->offset) {
        adamw_free(opt);
        return err_oom();
    }
    opt->v = opt->m + opt->n;
    for (size_t i = 0; i < m->n_params; i++) {
        opt->decay[i] = !m->params[i].no_decay;
        opt->offset[i + 1] = opt->offset[i] + m->params[i].numel;
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
    float decay_mul;     /* 1 − lr·wd (decay group) */
    float b1, one_m_b1, b2, one_m_b2;
    float step_size;     /* lr / (1 − β1^t) */
    float bc2_sqrt;      /* √(1 − β2^t) */
    float eps;
    const adamw *opt;
} adam_job;

static void adam_elems(const adam_job *j, size_t begin, size_t end, int decay)
{
    for (size_t i = begin; i < end; i++) {
        float p = j->p[i], g = j->g[i];
        if (decay)
            p *= j->decay_mul;
        float m = j->m[i] * j->b1 + j->one_m_b1 * g;
        float v = j->v[i] * j->b2 + j->one_m_b2 * (g * g);
        float denom = sqrtf(v) / j->bc2_sqrt + j->eps;
        p += -j->step_size * (m / denom);
        j->m[i] = m;
        j->v[i] = v;
        j->p[i] = p;
    }
}

/* Elements [begin, end) of the flat vector, crossing parameter boundaries. */
static void adam_range(void *arg, size_t begin, size_t end)
{
    const adam_job *j = arg;
    const adamw *o = j->opt;
    /* the parameter holding `begin`: binary search over offsets */
    size_t lo = 0, hi = o->n_params;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (o->offset[mid] <= begin)
            lo = mid;
        else
            hi = mid;
    }
    for (size_t k = lo; k < o->n_params && o->offset[k] < end; k++) {
        size_t a = o->offset[k] > begin ? o->offset[k] : begin;
        size_t b = o->offset[k + 1] < end ? o->offset[k + 1] : end;
        adam_elems(j, a, b, o->decay[k] && j->decay_mul != 1.0f);
    }
}

void adamw_step(adamw *opt, float *params, const float *grads, double lr)
{
    opt->step++;
    double t = (double)opt->step;
    adam_job j = {
        .p = params, .m = opt->m, .v = opt->v, .g = grads,
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

double grad_global_norm(const adamw *opt, const float *grads)
{
    double total = 0;
    for (size_t k = 0; k < opt->n_params; k++) {
        double s = 0;
        for (size_t i = opt->offset[k]; i < opt->offset[k + 1]; i++)
            s += (double)grads[i] * grads[i];
        total += s;
    }
    return sqrt(total);
}

double grad_clip(float *grads, size_t n, double norm, double max_norm)
{
    double coef = max_norm / (norm + 1e-6);
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
