/* AdamW, torch's and transformers' (see adamw.h). */
#include "train/adamw.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/vec.h"

mlm_status adamw_init_grouped(adamw *opt, const param_desc *params, size_t n_params,
                              double beta1, double beta2, double eps, double weight_decay,
                              int one_group, int nthreads)
{
    memset(opt, 0, sizeof *opt);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0) ||
        !(weight_decay >= 0))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "AdamW: betas (%g, %g) must be in [0, 1), eps %g and weight_decay %g >= 0",
                       beta1, beta2, eps, weight_decay);
    mlm_status st = param_groups_init(&opt->g, params, n_params, one_group, nthreads);
    if (st != MLM_OK)
        return st;
    opt->n = opt->g.n;
    opt->m = mem_calloc(2 * (opt->n ? opt->n : 1), sizeof *opt->m);
    if (!opt->m) {
        adamw_free(opt);
        return err_oom();
    }
    opt->v = opt->m + opt->n;
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    opt->weight_decay = weight_decay;
    opt->correct_bias = 1;
    return MLM_OK;
}

mlm_status adamw_init(adamw *opt, const param_desc *params, size_t n_params, double beta1,
                      double beta2, double eps, double weight_decay, int nthreads)
{
    return adamw_init_grouped(opt, params, n_params, beta1, beta2, eps, weight_decay, 0,
                              nthreads);
}

mlm_status adamw_hf_init(adamw *opt, const param_desc *params, size_t n_params, double beta1,
                         double beta2, double eps, double weight_decay, int correct_bias,
                         int one_group, int nthreads)
{
    mlm_status st =
        adamw_init_grouped(opt, params, n_params, beta1, beta2, eps, weight_decay, one_group,
                           nthreads);
    if (st != MLM_OK)
        return st;
    opt->hf = 1;
    opt->correct_bias = correct_bias != 0;
    return MLM_OK;
}

void adamw_free(adamw *opt)
{
    if (!opt)
        return;
    param_groups_free(&opt->g);
    mem_free(opt->m);
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
    float decay_mul;     /* torch: 1 − lr·wd (decay group) */
    float decay_add;     /* transformers: −lr·wd (decay group) */
    float b1, one_m_b1, b2, one_m_b2;
    float step_size;     /* torch: lr/(1 − β1^t); transformers: s, negated */
    float bc2_sqrt;      /* torch: √(1 − β2^t) */
    float eps;
    const adamw *opt;
} adam_job;

/* torch's update of elements [begin, end) of one parameter; decay is a
 * constant after inlining, so each loop is straight-line and vectorizes. */
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

/* transformers.AdamW's update, in its operations' order: addcmul_ is
 * v + (c2·g)·g, addcdiv_ p + (−s·m)/denom, the decay p + (−lr·wd)·p. */
static VEC_INLINE void adam_hf_elems(const adam_job *restrict j, size_t begin, size_t end,
                                     int decay)
{
    float *restrict P = j->p, *restrict M = j->m, *restrict Vv = j->v;
    const float *restrict G = j->g;
    const float gs = j->gscale, da = j->decay_add, b1 = j->b1, c1 = j->one_m_b1, b2 = j->b2,
                c2 = j->one_m_b2, nss = j->step_size, eps = j->eps;
    for (size_t i = begin; i < end; i++) {
        float g = G[i] * gs;
        float m = M[i] * b1 + c1 * g;
        float v = Vv[i] * b2 + (c2 * g) * g;
        float denom = sqrtf(v) + eps;
        float p = P[i] + (nss * m) / denom;
        if (decay)
            p = p + da * p;
        M[i] = m;
        Vv[i] = v;
        P[i] = p;
    }
}

/* The parameter holding flat element i: binary search over offsets. */
static size_t param_of(const param_groups *g, size_t i)
{
    size_t lo = 0, hi = g->n_params;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (g->offset[mid] <= i)
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
    const param_groups *g = &j->opt->g;
    int hf = j->opt->hf;
    for (size_t k = param_of(g, begin); k < g->n_params && g->offset[k] < end; k++) {
        size_t a = g->offset[k] > begin ? g->offset[k] : begin;
        size_t b = g->offset[k + 1] < end ? g->offset[k + 1] : end;
        int decay = g->decay[k] && (hf ? j->decay_add != 0.0f : j->decay_mul != 1.0f);
        if (hf && decay)
            adam_hf_elems(j, a, b, 1);
        else if (hf)
            adam_hf_elems(j, a, b, 0);
        else if (decay)
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
    double bc1 = 1.0 - pow(opt->beta1, t), bc2 = 1.0 - pow(opt->beta2, t);
    adam_job j = {
        .p = params, .m = opt->m, .v = opt->v, .g = grads, .gscale = gscale,
        .b1 = (float)opt->beta1, .one_m_b1 = (float)(1.0 - opt->beta1),
        .b2 = (float)opt->beta2, .one_m_b2 = (float)(1.0 - opt->beta2),
        .eps = (float)opt->eps,
        .opt = opt,
    };
    if (opt->hf) {
        /* Python: step_size = lr * math.sqrt(bc2) / bc1, left to right; the
         * decay runs only when weight_decay > 0.0 */
        double s = opt->correct_bias ? lr * sqrt(bc2) / bc1 : lr;
        j.step_size = (float)-s;
        j.decay_add = opt->weight_decay > 0.0 ? (float)(-lr * opt->weight_decay) : 0.0f;
    } else {
        j.decay_mul = (float)(1.0 - lr * opt->weight_decay);
        j.step_size = (float)(lr / bc1);
        j.bc2_sqrt = (float)sqrt(bc2);
    }
    par_for(opt->g.nthreads, opt->n, 1 << 16, adam_range, &j);
}

void adamw_step(adamw *opt, float *params, const float *grads, double lr)
{
    adamw_step_scaled(opt, params, grads, lr, 1.0f);
}
