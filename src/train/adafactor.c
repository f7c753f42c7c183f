/* Adafactor (see adafactor.h), parameter by parameter in three passes:
 * the means and sums of squares, the clipping RMS of the update, the update.
 *
 * A parameter is cut into blocks of rows (factored) or of elements (1-D)
 * whose boundaries depend on its shape only; each block's sums are
 * accumulated in double, in VLANES partial sums along a row, and the blocks'
 * sums are added in block order on the calling thread. Threads take whole
 * blocks, so no sum depends on the thread count or the vector level. */
#include "train/adafactor.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/vec.h"
#include "nn/ops/vmath.h"

/* Rows per block of a factored parameter, elements per block of a vector. */
#define BLOCK_ROWS 32
#define BLOCK_ELEMS 8192
/* Elements a thread should have at least, to pay for its start. */
#define MIN_THREAD_ELEMS ((size_t)1 << 15)

int adafactor_factored(const adafactor *opt, size_t i) { return opt->g.params[i].ndim >= 2; }

/* Rows and columns of a factored parameter (a vector: its length, 1). */
static void dims_of(const param_desc *p, size_t *R, size_t *C)
{
    *R = (size_t)p->shape[0];
    *C = p->ndim >= 2 ? (size_t)p->shape[1] : 1;
}

static size_t blocks_of(const param_desc *p)
{
    size_t R, C;
    dims_of(p, &R, &C);
    if (p->ndim >= 2)
        return (R + BLOCK_ROWS - 1) / BLOCK_ROWS;
    return (p->numel + BLOCK_ELEMS - 1) / BLOCK_ELEMS;
}

mlm_status adafactor_init(adafactor *opt, const param_desc *params, size_t n_params,
                          double weight_decay, int one_group, int nthreads)
{
    memset(opt, 0, sizeof *opt);
    if (!(weight_decay >= 0))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "Adafactor: weight_decay %g must be >= 0",
                       weight_decay);
    mlm_status st = param_groups_init(&opt->g, params, n_params, one_group, nthreads);
    if (st != MLM_OK)
        return st;
    opt->eps1 = 1e-30;
    opt->eps2 = 1e-3;
    opt->clip_threshold = 1.0;
    opt->decay_rate = -0.8;
    opt->weight_decay = weight_decay;
    size_t max_r = 1, max_c = 1, max_cs = 1, max_b = 1;
    opt->soff = mem_calloc(n_params + 1, sizeof *opt->soff);
    opt->rms = mem_calloc(n_params ? n_params : 1, sizeof *opt->rms);
    if (!opt->soff || !opt->rms) {
        adafactor_free(opt);
        return err_oom();
    }
    for (size_t i = 0; i < n_params; i++) {
        size_t R, C, nb = blocks_of(&params[i]);
        dims_of(&params[i], &R, &C);
        int f = params[i].ndim >= 2;
        opt->soff[i + 1] = opt->soff[i] + (f ? R + C : params[i].numel);
        if (f) {
            max_r = R > max_r ? R : max_r;
            max_c = C > max_c ? C : max_c;
            max_cs = nb * C > max_cs ? nb * C : max_cs;
        }
        max_b = nb > max_b ? nb : max_b;
    }
    opt->max_blocks = max_b;
    opt->state = mem_calloc(opt->soff[n_params] ? opt->soff[n_params] : 1, sizeof *opt->state);
    opt->rbuf = mem_alloc(max_r * sizeof *opt->rbuf);
    opt->cbuf = mem_alloc(max_c * sizeof *opt->cbuf);
    opt->csum = mem_alloc(max_cs * sizeof *opt->csum);
    opt->bsum = mem_alloc(max_b * sizeof *opt->bsum);
    opt->psum = mem_alloc(max_b * sizeof *opt->psum);
    if (!opt->state || !opt->rbuf || !opt->cbuf || !opt->csum || !opt->bsum || !opt->psum) {
        adafactor_free(opt);
        return err_oom();
    }
    return MLM_OK;
}

void adafactor_free(adafactor *opt)
{
    if (!opt)
        return;
    param_groups_free(&opt->g);
    mem_free(opt->state);
    mem_free(opt->soff);
    mem_free(opt->rms);
    mem_free(opt->rbuf);
    mem_free(opt->cbuf);
    mem_free(opt->csum);
    mem_free(opt->bsum);
    mem_free(opt->psum);
    memset(opt, 0, sizeof *opt);
}

/* One parameter's step: its data, the step's scalars (the float casts of
 * Python's doubles, as torch applies them) and the scratch. */
typedef struct af_job {
    float *p, *st;             /* parameter; its state (row, col) or (v) */
    const float *g;
    size_t R, C, n;            /* rows, columns (factored); elements */
    float gs, eps1, b2, a2;    /* clip coefficient; eps₁; β̂, 1 − β̂ */
    float d, lr, wd;           /* clipping divisor; lr; −wd·lr (0: no decay) */
    float *rbuf, *cbuf;        /* row means then row factors; column factors */
    double *csum, *bsum, *psum;
} af_job;

/* Σ over x[0..n) of a term, in VLANES double partial sums combined in order. */
#define LANE_SUM(out, n, term)                                                           \
    do {                                                                                 \
        double acc_[VLANES] = {0};                                                       \
        size_t i_ = 0;                                                                   \
        for (; i_ + VLANES <= (n); i_ += VLANES)                                         \
            for (int l_ = 0; l_ < VLANES; l_++) {                                        \
                size_t i = i_ + (size_t)l_;                                              \
                acc_[l_] += (double)(term);                                              \
            }                                                                            \
        for (int l_ = 0; i_ < (n); i_++, l_++) {                                         \
            size_t i = i_;                                                               \
            acc_[l_] += (double)(term);                                                  \
        }                                                                                \
        double s_ = 0;                                                                   \
        for (int l_ = 0; l_ < VLANES; l_++)                                              \
            s_ += acc_[l_];                                                              \
        (out) = s_;                                                                      \
    } while (0)

/* Factored pass 1, blocks [b0, b1): rbuf[r] = mean_c (g² + eps₁) (before
 * the state), csum[b][c] = Σ_{r in b} (g² + eps₁), psum[b] = Σ p². */
static VEC_INLINE void af_means_body(void *arg, size_t b0, size_t b1)
{
    const af_job *j = arg;
    const size_t C = j->C;
    for (size_t b = b0; b < b1; b++) {
        size_t r0 = b * BLOCK_ROWS, r1 = r0 + BLOCK_ROWS < j->R ? r0 + BLOCK_ROWS : j->R;
        double *restrict cs = j->csum + b * C;
        double ps = 0;
        for (size_t c = 0; c < C; c++)
            cs[c] = 0;
        for (size_t r = r0; r < r1; r++) {
            const float *restrict G = j->g + r * C;
            const float *restrict P = j->p + r * C;
            const float gs = j->gs, e1 = j->eps1;
            double s, pp;
            LANE_SUM(s, C, (G[i] * gs) * (G[i] * gs) + e1);
            LANE_SUM(pp, C, (double)P[i] * (double)P[i]);
            for (size_t c = 0; c < C; c++) {
                float g = G[c] * gs;
                cs[c] += (double)(g * g + e1);
            }
            j->rbuf[r] = (float)(s / (double)C);
            ps += pp;
        }
        j->psum[b] = ps;
    }
}
VEC_DISPATCH(af_means)

/* Factored pass 2: bsum[b] = Σ u² over block b, u = (rf·cf)·g. */
static VEC_INLINE void af_norm_body(void *arg, size_t b0, size_t b1)
{
    const af_job *j = arg;
    const size_t C = j->C;
    for (size_t b = b0; b < b1; b++) {
        size_t r0 = b * BLOCK_ROWS, r1 = r0 + BLOCK_ROWS < j->R ? r0 + BLOCK_ROWS : j->R;
        double s = 0;
        for (size_t r = r0; r < r1; r++) {
            const float *restrict G = j->g + r * C;
            const float *restrict CF = j->cbuf;
            const float rf = j->rbuf[r], gs = j->gs;
            double t;
            LANE_SUM(t, C, ((rf * CF[i]) * (G[i] * gs)) * ((rf * CF[i]) * (G[i] * gs)));
            s += t;
        }
        j->bsum[b] = s;
    }
}
VEC_DISPATCH(af_norm)

/* Factored pass 3: p += (−wd·lr)·p; p −= ((rf·cf)·g)/d·lr. decay is a
 * constant after inlining. */
static VEC_INLINE void af_apply_rows(const af_job *j, size_t r0, size_t r1, int decay)
{
    const size_t C = j->C;
    const float gs = j->gs, d = j->d, lr = j->lr, wd = j->wd;
    for (size_t r = r0; r < r1; r++) {
        float *restrict P = j->p + r * C;
        const float *restrict G = j->g + r * C;
        const float *restrict CF = j->cbuf;
        const float rf = j->rbuf[r];
        for (size_t c = 0; c < C; c++) {
            float u = ((rf * CF[c]) * (G[c] * gs)) / d * lr;
            float p = P[c];
            if (decay)
                p = p + wd * p;
            P[c] = p - u;
        }
    }
}

static VEC_INLINE void af_apply_body(void *arg, size_t b0, size_t b1)
{
    const af_job *j = arg;
    size_t r0 = b0 * BLOCK_ROWS, r1 = b1 * BLOCK_ROWS < j->R ? b1 * BLOCK_ROWS : j->R;
    if (j->wd != 0.0f)
        af_apply_rows(j, r0, r1, 1);
    else
        af_apply_rows(j, r0, r1, 0);
}
VEC_DISPATCH(af_apply)

/* Vector pass 1, blocks of elements: v = β̂·v + (1 − β̂)·(g² + eps₁);
 * bsum[b] = Σ (rsqrt(v)·g)², psum[b] = Σ p². */
static VEC_INLINE void af_vec_body(void *arg, size_t b0, size_t b1)
{
    const af_job *j = arg;
    for (size_t b = b0; b < b1; b++) {
        size_t a = b * BLOCK_ELEMS, e = a + BLOCK_ELEMS < j->n ? a + BLOCK_ELEMS : j->n;
        float *restrict V = j->st + a;
        const float *restrict G = j->g + a;
        const float *restrict P = j->p + a;
        const float gs = j->gs, e1 = j->eps1, b2 = j->b2, a2 = j->a2;
        size_t n = e - a;
        for (size_t i = 0; i < n; i++) {
            float g = G[i] * gs;
            V[i] = V[i] * b2 + a2 * (g * g + e1);
        }
        double s, pp;
        LANE_SUM(s, n, ((1.0f / sqrtf(V[i])) * (G[i] * gs)) * ((1.0f / sqrtf(V[i])) * (G[i] * gs)));
        LANE_SUM(pp, n, (double)P[i] * (double)P[i]);
        j->bsum[b] = s;
        j->psum[b] = pp;
    }
}
VEC_DISPATCH(af_vec)

static VEC_INLINE void af_vec_apply_elems(const af_job *j, size_t a, size_t e, int decay)
{
    float *restrict P = j->p;
    const float *restrict V = j->st, *restrict G = j->g;
    const float gs = j->gs, d = j->d, lr = j->lr, wd = j->wd;
    for (size_t i = a; i < e; i++) {
        float u = ((1.0f / sqrtf(V[i])) * (G[i] * gs)) / d * lr;
        float p = P[i];
        if (decay)
            p = p + wd * p;
        P[i] = p - u;
    }
}

static VEC_INLINE void af_vec_apply_body(void *arg, size_t b0, size_t b1)
{
    const af_job *j = arg;
    size_t a = b0 * BLOCK_ELEMS, e = b1 * BLOCK_ELEMS < j->n ? b1 * BLOCK_ELEMS : j->n;
    if (j->wd != 0.0f)
        af_vec_apply_elems(j, a, e, 1);
    else
        af_vec_apply_elems(j, a, e, 0);
}
VEC_DISPATCH(af_vec_apply)

/* Σ of n doubles in order. */
static double sum_in_order(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* _rms as torch computes it: norm(2) rounded to float, / (float)√numel. */
static float rms_of(double sumsq, size_t numel)
{
    return (float)sqrt(sumsq) / (float)sqrt((double)numel);
}

/* update.div_((_rms(update) / clip_threshold).clamp_(min=1.0)) */
static float clip_divisor(const adafactor *opt, double sumsq, size_t numel)
{
    float d = rms_of(sumsq, numel) / (float)opt->clip_threshold;
    return d < 1.0f ? 1.0f : d;
}

static void step_factored(adafactor *opt, af_job *j, size_t k, size_t nb, size_t min_blocks)
{
    const int nt = opt->g.nthreads;
    const size_t R = j->R, C = j->C;
    float *row = j->st, *col = j->st + R;
    par_for(nt, nb, min_blocks, af_means, j);
    /* the running averages, then the factors (few values: one thread) */
    for (size_t r = 0; r < R; r++)
        row[r] = row[r] * j->b2 + j->a2 * j->rbuf[r];
    for (size_t c = 0; c < C; c++) {
        double s = 0;
        for (size_t b = 0; b < nb; b++)
            s += j->csum[b * C + c];
        col[c] = col[c] * j->b2 + j->a2 * (float)(s / (double)R);
    }
    double rs = 0;
    for (size_t r = 0; r < R; r++)
        rs += row[r];
    float rmean = (float)(rs / (double)R);
    for (size_t r = 0; r < R; r++)
        j->rbuf[r] = 1.0f / sqrtf(row[r] / rmean);
    for (size_t c = 0; c < C; c++)
        j->cbuf[c] = 1.0f / sqrtf(col[c]);
    opt->rms[k] = rms_of(sum_in_order(j->psum, nb), j->n);
    par_for(nt, nb, min_blocks, af_norm, j);
    j->d = clip_divisor(opt, sum_in_order(j->bsum, nb), j->n);
    par_for(nt, nb, min_blocks, af_apply, j);
}

static void step_vector(adafactor *opt, af_job *j, size_t k, size_t nb, size_t min_blocks)
{
    const int nt = opt->g.nthreads;
    par_for(nt, nb, min_blocks, af_vec, j);
    opt->rms[k] = rms_of(sum_in_order(j->psum, nb), j->n);
    j->d = clip_divisor(opt, sum_in_order(j->bsum, nb), j->n);
    par_for(nt, nb, min_blocks, af_vec_apply, j);
}

void adafactor_step(adafactor *opt, float *params, const float *grads, double lr, float gscale)
{
    opt->step++;
    /* beta2t = 1.0 - math.pow(state["step"], group["decay_rate"]) */
    double beta2t = 1.0 - pow((double)opt->step, opt->decay_rate);
    const param_groups *g = &opt->g;
    for (size_t k = 0; k < g->n_params; k++) {
        const param_desc *pd = &g->params[k];
        size_t R, C;
        dims_of(pd, &R, &C);
        double wd = g->decay[k] ? opt->weight_decay : 0.0;
        af_job j = {
            .p = params + g->offset[k], .st = opt->state + opt->soff[k],
            .g = grads + g->offset[k], .R = R, .C = C, .n = pd->numel,
            .gs = gscale, .eps1 = (float)opt->eps1,
            .b2 = (float)beta2t, .a2 = (float)(1.0 - beta2t),
            .lr = (float)lr, .wd = wd != 0.0 ? (float)(-wd * lr) : 0.0f,
            .rbuf = opt->rbuf, .cbuf = opt->cbuf,
            .csum = opt->csum, .bsum = opt->bsum, .psum = opt->psum,
        };
        if (pd->numel == 0)
            continue;
        size_t nb = blocks_of(pd);
        size_t per_block = pd->ndim >= 2 ? (size_t)BLOCK_ROWS * C : BLOCK_ELEMS;
        size_t min_blocks = (MIN_THREAD_ELEMS + per_block - 1) / per_block;
        if (pd->ndim >= 2)
            step_factored(opt, &j, k, nb, min_blocks);
        else
            step_vector(opt, &j, k, nb, min_blocks);
    }
}
