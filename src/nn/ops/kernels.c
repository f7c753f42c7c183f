/* Elementwise and row-wise kernels (see kernels.h). Each public function
 * splits independent items (elements, rows or columns) over the context's
 * threads with par_for; the *_range functions hold the math. */
#include "nn/ops/kernels.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "nn/ops/ops.h"
#include "nn/ops/transpose.h"
#include "nn/ops/vec.h"
#include "nn/ops/vmath.h"

/* The row and element loops below are plain C that the compiler vectorizes
 * (this file is built with -O3 -fno-trapping-math, which lets it turn the
 * selects into blends; no value changes). */

/* Below this many elements per chunk a thread start (~20 us) costs more
 * than it saves. */
#define PAR_GRAIN 32768

static size_t rows_grain(int cols) { return cols > 0 ? (PAR_GRAIN + (size_t)cols - 1) / (size_t)cols : PAR_GRAIN; }

/* Shared by the kernels: the pointers and sizes each range function needs. */
typedef struct job {
    float *out, *out2, *out3;
    const float *a, *b, *c, *d, *e;
    const int32_t *ids;
    const uint8_t *mask_in;
    uint8_t *mask_out;
    int N, C, V, k;
    float f, g;
    uint64_t seed, stream;
} job;

/* ---------------------------------------------------------------- bias */

/* out (N, C) += bias (C). */
static VEC_INLINE void bias_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t n = begin; n < end; n++) {
        float *o = j->out + n * (size_t)j->C;
        for (int c = 0; c < j->C; c++)
            o[c] += j->a[c];
    }
}

VEC_DISPATCH(bias_fwd_range)

void ops_bias_forward(const ops_ctx *ctx, float *out, const float *bias, int N, int C)
{
    job j = {.out = out, .a = bias, .N = N, .C = C};
    par_for(ctx->nthreads, (size_t)(N > 0 ? N : 0), rows_grain(C), bias_fwd_range, &j);
}

/* Column sums over blocks of columns [begin, end): each column's sum has
 * one owner, so no thread count changes it. */
#define COL_BLOCK 256

static VEC_INLINE void bias_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t c0 = begin; c0 < end; c0 += COL_BLOCK) {
        size_t w = end - c0 < COL_BLOCK ? end - c0 : COL_BLOCK;
        double acc[COL_BLOCK] = {0};
        for (int n = 0; n < j->N; n++) {
            const float *d = j->a + (size_t)n * j->C + c0;
            for (size_t c = 0; c < w; c++)
                acc[c] += d[c];
        }
        for (size_t c = 0; c < w; c++)
            j->out[c0 + c] += (float)acc[c];
    }
}

VEC_DISPATCH(bias_bwd_range)

void ops_bias_backward(const ops_ctx *ctx, float *dbias, const float *dout, int N, int C)
{
    if (N <= 0 || C <= 0)
        return;
    job j = {.out = dbias, .a = dout, .N = N, .C = C};
    size_t grain = PAR_GRAIN / (size_t)N;
    par_for(ctx->nthreads, (size_t)C, grain < 16 ? 16 : grain, bias_bwd_range, &j);
}

/* ---------------------------------------------------------------- GELU (erf) */

#define INV_SQRT_2PI 0.39894228040143268f

/* Elementwise activations run in place (out == inp): the compiler's
 * run-time overlap check would then fall back to scalar code, so each block
 * is computed into a local buffer and copied out. */
#define ACT_BLOCK 256

/* out (n) = x·Φ(x) */
static VEC_INLINE void gelu_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    float tmp[ACT_BLOCK];
    for (size_t i0 = begin; i0 < end; i0 += ACT_BLOCK) {
        size_t n = end - i0 < ACT_BLOCK ? end - i0 : ACT_BLOCK;
        const float *in = j->a + i0;
        size_t i = 0;
        for (; i + VM_BLOCK <= n; i += VM_BLOCK) {
            v_normal_cdf_block(tmp + i, in + i);
            for (size_t k = i; k < i + VM_BLOCK; k++)
                tmp[k] = in[k] * tmp[k];
        }
        for (; i < n; i++)
            tmp[i] = in[i] * v_normal_cdf(in[i]);
        memcpy(j->out + i0, tmp, n * sizeof *tmp);
    }
}

VEC_DISPATCH(gelu_fwd_range)

/* dinp += dout·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π) */
static VEC_INLINE void gelu_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t i = begin; i < end; i++) {
        float x = j->b[i];
        float pdf = INV_SQRT_2PI * v_expf(-0.5f * x * x);
        j->out[i] += j->a[i] * (v_normal_cdf(x) + x * pdf);
    }
}

VEC_DISPATCH(gelu_bwd_range)

/* out = x·Φ(x) and cdf = Φ(x): the floats of gelu_fwd_range, Φ kept */
static VEC_INLINE void gelu_cdf_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    const float *restrict in = j->a;
    float *restrict out = j->out, *restrict cdf = j->out2;
    size_t i = begin;
    for (; i + VM_BLOCK <= end; i += VM_BLOCK) {
        v_normal_cdf_block(cdf + i, in + i);
        for (size_t k = i; k < i + VM_BLOCK; k++)
            out[k] = in[k] * cdf[k];
    }
    for (; i < end; i++) {
        float c = v_normal_cdf(in[i]);
        cdf[i] = c;
        out[i] = in[i] * c;
    }
}

VEC_DISPATCH(gelu_cdf_fwd_range)

/* dinp += dout·(Φ(x) + x·φ(x)) with Φ(x) read back: the floats of
 * gelu_bwd_range without its erfc */
static VEC_INLINE void gelu_cdf_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    const float *restrict dout = j->a, *restrict inp = j->b, *restrict cdf = j->c;
    float *restrict dinp = j->out;
    for (size_t i = begin; i < end; i++) {
        float x = inp[i];
        float pdf = INV_SQRT_2PI * v_expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf[i] + x * pdf);
    }
}

VEC_DISPATCH(gelu_cdf_bwd_range)

void ops_gelu_forward_cdf(const ops_ctx *ctx, float *out, float *cdf, const float *inp, size_t n)
{
    job j = {.out = out, .out2 = cdf, .a = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, gelu_cdf_fwd_range, &j);
}

void ops_gelu_backward_cdf(const ops_ctx *ctx, float *dinp, const float *dout, const float *inp,
                           const float *cdf, size_t n)
{
    job j = {.out = dinp, .a = dout, .b = inp, .c = cdf};
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, gelu_cdf_bwd_range, &j);
}

void ops_gelu_forward(const ops_ctx *ctx, float *out, const float *inp, size_t n)
{
    job j = {.out = out, .a = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, gelu_fwd_range, &j);
}

void ops_gelu_backward(const ops_ctx *ctx, float *dinp, const float *dout, const float *inp,
                       size_t n)
{
    job j = {.out = dinp, .a = dout, .b = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, gelu_bwd_range, &j);
}

/* ---------------------------------------------------------------- GELU (tanh) */

#define SQRT_2_OVER_PI 0.79788456080286536f
#define GELU_C 0.044715f

/* 0.5·x·(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + 0.044715x³): the sigmoid
 * form needs one exp and stays accurate where 1 + tanh(u) cancels. */
static VEC_INLINE void gelu_tanh_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    float tmp[ACT_BLOCK];
    for (size_t i0 = begin; i0 < end; i0 += ACT_BLOCK) {
        size_t n = end - i0 < ACT_BLOCK ? end - i0 : ACT_BLOCK;
        const float *in = j->a + i0;
        for (size_t i = 0; i < n; i++) {
            float x = in[i];
            float u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            tmp[i] = x / (1.0f + v_expf(-2.0f * u));
        }
        memcpy(j->out + i0, tmp, n * sizeof *tmp);
    }
}

VEC_DISPATCH(gelu_tanh_fwd_range)

/* d/dx x·s = s + x·2s(1−s)·u', s = σ(2u), u' = √(2/π)(1 + 3·0.044715x²) */
static VEC_INLINE void gelu_tanh_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t i = begin; i < end; i++) {
        float x = j->b[i];
        float u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_C * x * x);
        float s = 1.0f / (1.0f + v_expf(-2.0f * u));
        j->out[i] += j->a[i] * (s + x * 2.0f * s * (1.0f - s) * du);
    }
}

VEC_DISPATCH(gelu_tanh_bwd_range)

void ops_gelu_tanh_forward(const ops_ctx *ctx, float *out, const float *inp, size_t n)
{
    job j = {.out = out, .a = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, gelu_tanh_fwd_range, &j);
}

void ops_gelu_tanh_backward(const ops_ctx *ctx, float *dinp, const float *dout, const float *inp,
                            size_t n)
{
    job j = {.out = dinp, .a = dout, .b = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, gelu_tanh_bwd_range, &j);
}

/* ---------------------------------------------------------------- ReLU */

static VEC_INLINE void relu_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t i = begin; i < end; i++)
        j->out[i] = j->a[i] > 0.0f ? j->a[i] : 0.0f;
}

VEC_DISPATCH(relu_fwd_range)

static VEC_INLINE void relu_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t i = begin; i < end; i++) {
        float d = j->a[i]; /* loaded either way, so the select vectorizes */
        j->out[i] += j->b[i] > 0.0f ? d : 0.0f;
    }
}

VEC_DISPATCH(relu_bwd_range)

void ops_relu_forward(const ops_ctx *ctx, float *out, const float *inp, size_t n)
{
    job j = {.out = out, .a = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN, relu_fwd_range, &j);
}

void ops_relu_backward(const ops_ctx *ctx, float *dinp, const float *dout, const float *inp,
                       size_t n)
{
    job j = {.out = dinp, .a = dout, .b = inp};
    par_for(ctx->nthreads, n, PAR_GRAIN, relu_bwd_range, &j);
}

/* ---------------------------------------------------------------- softmax */

/* Softmax of a row of n scores in place (every softmax here computes it
 * this way): a row of all -inf attends uniformly, as torch's softmax of
 * equal values does. */
static VEC_INLINE void softmax_row(float *o, int n)
{
    float mx = v_max(o, n);
    if (mx == -INFINITY) {
        for (int c = 0; c < n; c++)
            o[c] = 1.0f / (float)n;
        return;
    }
    int c = 0;
    for (; c + VM_BLOCK <= n; c += VM_BLOCK)
        v_expf_minus_block(o + c, o + c, mx);
    for (; c < n; c++)
        o[c] = v_expf(o[c] - mx);
    float inv = 1.0f / v_sum(o, n);
    for (c = 0; c < n; c++)
        o[c] *= inv;
}

/* Row r: v = scale·x + mask[r / rows_per_mask]; out = e^(v − max v)/Σ. When
 * every entry is masked with finfo.min, v is the same for all (the scores are
 * absorbed), so the row comes out uniform as in torch; a row of −inf is made
 * uniform too rather than NaN. */
static VEC_INLINE void softmax_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int C = j->C, per = j->k;
    for (size_t r = begin; r < end; r++) {
        const float *x = j->a + r * (size_t)C;
        const float *m = j->b ? j->b + (r / (size_t)per) * (size_t)C : NULL;
        float *o = j->out + r * (size_t)C;
        for (int c = 0; c < C; c++)
            o[c] = j->f * x[c] + (m ? m[c] : 0.0f);
        softmax_row(o, C);
    }
}

VEC_DISPATCH(softmax_fwd_range)

/* dinp += scale·p·(dout − <p, dout>) */
static VEC_INLINE void softmax_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int C = j->C;
    for (size_t r = begin; r < end; r++) {
        const float *dy = j->a + r * (size_t)C, *p = j->b + r * (size_t)C;
        float *dx = j->out + r * (size_t)C;
        float dot = v_dot(p, dy, C);
        for (int c = 0; c < C; c++)
            dx[c] += j->f * p[c] * (dy[c] - dot);
    }
}

VEC_DISPATCH(softmax_bwd_range)

void ops_softmax_forward(const ops_ctx *ctx, float *out, const float *inp, float scale,
                         const float *mask, int rows_per_mask, int rows, int cols)
{
    if (rows <= 0 || cols <= 0)
        return;
    job j = {.out = out, .a = inp, .b = mask, .f = scale, .C = cols,
             .k = rows_per_mask > 0 ? rows_per_mask : 1};
    par_for(ctx->nthreads, (size_t)rows, rows_grain(cols) / 4 + 1, softmax_fwd_range, &j);
}

void ops_softmax_backward(const ops_ctx *ctx, float *dinp, const float *dout, const float *out,
                          float scale, int rows, int cols)
{
    if (rows <= 0 || cols <= 0)
        return;
    job j = {.out = dinp, .a = dout, .b = out, .f = scale, .C = cols};
    par_for(ctx->nthreads, (size_t)rows, rows_grain(cols), softmax_bwd_range, &j);
}

/* ---------------------------------------------------------------- layer norm */

/* Per row: mean, biased variance (two passes: no cancellation), then
 * out = (x − mean)·rstd·w + b. */
static VEC_INLINE void layernorm_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int C = j->C;
    for (size_t n = begin; n < end; n++) {
        const float *x = j->a + n * (size_t)C;
        float *o = j->out + n * (size_t)C;
        float m = v_sum(x, C) / (float)C;
        float acc[VLANES] = {0};
        int c = 0;
        for (; c + VLANES <= C; c += VLANES)
            for (int l = 0; l < VLANES; l++)
                acc[l] += (x[c + l] - m) * (x[c + l] - m);
        for (int l = 0; c < C; c++, l++)
            acc[l] += (x[c] - m) * (x[c] - m);
        float var = v_sum(acc, VLANES) / (float)C;
        float s = 1.0f / sqrtf(var + j->f);
        for (c = 0; c < C; c++)
            o[c] = (x[c] - m) * s * j->b[c] + j->c[c];
        j->out2[n] = m;
        j->out3[n] = s;
    }
}

VEC_DISPATCH(layernorm_fwd_range)

/* dinp: with x̂ = (x − mean)·rstd and g = dout·w,
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)). Rows are independent. */
static VEC_INLINE void layernorm_bwd_dx_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int C = j->C;
    const float *w = j->c, *mean = j->d, *rstd = j->e;
    for (size_t n = begin; n < end; n++) {
        const float *dy = j->a + n * (size_t)C, *x = j->b + n * (size_t)C;
        float *dx = j->out + n * (size_t)C;
        float m = mean[n], s = rstd[n];
        float g_acc[VLANES] = {0}, gx_acc[VLANES] = {0};
        int c = 0;
        for (; c + VLANES <= C; c += VLANES)
            for (int l = 0; l < VLANES; l++) {
                float g = dy[c + l] * w[c + l];
                g_acc[l] += g;
                gx_acc[l] += g * ((x[c + l] - m) * s);
            }
        for (int l = 0; c < C; c++, l++) {
            float g = dy[c] * w[c];
            g_acc[l] += g;
            gx_acc[l] += g * ((x[c] - m) * s);
        }
        float g_mean = v_sum(g_acc, VLANES) / (float)C;
        float gx_mean = v_sum(gx_acc, VLANES) / (float)C;
        for (c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s;
            dx[c] += s * (dy[c] * w[c] - g_mean - xhat * gx_mean);
        }
    }
}

VEC_DISPATCH(layernorm_bwd_dx_range)

/* dweight[c] += Σ_n dout·x̂, dbias[c] += Σ_n dout, columns [begin, end)
 * owned by one thread, summed in double. */
static VEC_INLINE void layernorm_bwd_dw_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    size_t C = (size_t)j->C;
    const float *mean = j->d, *rstd = j->e;
    for (size_t c0 = begin; c0 < end; c0 += COL_BLOCK) {
        size_t w = end - c0 < COL_BLOCK ? end - c0 : COL_BLOCK;
        double dw[COL_BLOCK] = {0}, db[COL_BLOCK] = {0};
        for (int n = 0; n < j->N; n++) {
            const float *dy = j->a + n * C + c0, *x = j->b + n * C + c0;
            float m = mean[n], s = rstd[n];
            for (size_t c = 0; c < w; c++) {
                dw[c] += dy[c] * ((x[c] - m) * s);
                db[c] += dy[c];
            }
        }
        for (size_t c = 0; c < w; c++) {
            if (j->out2)
                j->out2[c0 + c] += (float)dw[c];
            if (j->out3)
                j->out3[c0 + c] += (float)db[c];
        }
    }
}

VEC_DISPATCH(layernorm_bwd_dw_range)

void ops_layernorm_forward(const ops_ctx *ctx, float *out, float *mean, float *rstd,
                           const float *inp, const float *weight, const float *bias, int N,
                           int C, float eps)
{
    if (N <= 0 || C <= 0)
        return;
    job j = {.out = out, .out2 = mean, .out3 = rstd, .a = inp, .b = weight, .c = bias,
             .C = C, .f = eps};
    par_for(ctx->nthreads, (size_t)N, rows_grain(C), layernorm_fwd_range, &j);
}

/* ---------------------------------------------------------------- RMS norm */

/* out = w ⊙ (x · 1/√(mean(x²) + eps)) per row; the sum of squares in
 * VLANES partial sums (vmath.h), so every vector level adds in one order. */
static VEC_INLINE void rmsnorm_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int C = j->C;
    for (size_t n = begin; n < end; n++) {
        const float *x = j->a + n * (size_t)C;
        float *o = j->out + n * (size_t)C;
        float var = v_dot(x, x, C) / (float)C;
        float r = 1.0f / sqrtf(var + j->f);
        for (int c = 0; c < C; c++)
            o[c] = j->b[c] * (x[c] * r);
        if (j->out2)
            j->out2[n] = r;
    }
}

VEC_DISPATCH(rmsnorm_fwd_range)

void ops_rmsnorm_forward(const ops_ctx *ctx, float *out, const float *inp, const float *weight,
                         int N, int C, float eps)
{
    ops_rmsnorm_forward_rstd(ctx, out, NULL, inp, weight, N, C, eps);
}

void ops_rmsnorm_forward_rstd(const ops_ctx *ctx, float *out, float *rstd, const float *inp,
                              const float *weight, int N, int C, float eps)
{
    if (N <= 0 || C <= 0)
        return;
    job j = {.out = out, .out2 = rstd, .a = inp, .b = weight, .C = C, .f = eps};
    par_for(ctx->nthreads, (size_t)N, rows_grain(C), rmsnorm_fwd_range, &j);
}

/* dinp: with x̂ = x·r (the forward's product) and g = dout ⊙ w,
 *   y_c = w_c·x_c·r,  ∂r/∂x_k = −r³·x_k/C
 *   dx_c = r·g_c − x_c·r³·Σ_k g_k·x_k / C = r·(g_c − x̂_c·mean(g·x̂)).
 * Rows are independent. */
static VEC_INLINE void rmsnorm_bwd_dx_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    int C = j->C;
    const float *w = j->c, *rstd = j->e;
    for (size_t n = begin; n < end; n++) {
        const float *dy = j->a + n * (size_t)C, *x = j->b + n * (size_t)C;
        float *dx = j->out + n * (size_t)C;
        float r = rstd[n];
        float gx_acc[VLANES] = {0};
        int c = 0;
        for (; c + VLANES <= C; c += VLANES)
            for (int l = 0; l < VLANES; l++)
                gx_acc[l] += (dy[c + l] * w[c + l]) * (x[c + l] * r);
        for (int l = 0; c < C; c++, l++)
            gx_acc[l] += (dy[c] * w[c]) * (x[c] * r);
        float gx_mean = v_sum(gx_acc, VLANES) / (float)C;
        for (c = 0; c < C; c++)
            dx[c] += r * (dy[c] * w[c] - (x[c] * r) * gx_mean);
    }
}

VEC_DISPATCH(rmsnorm_bwd_dx_range)

/* dweight[c] += Σ_n dout·x̂, columns [begin, end) owned by one thread,
 * summed in double. */
static VEC_INLINE void rmsnorm_bwd_dw_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    size_t C = (size_t)j->C;
    const float *rstd = j->e;
    for (size_t c0 = begin; c0 < end; c0 += COL_BLOCK) {
        size_t w = end - c0 < COL_BLOCK ? end - c0 : COL_BLOCK;
        double dw[COL_BLOCK] = {0};
        for (int n = 0; n < j->N; n++) {
            const float *dy = j->a + n * C + c0, *x = j->b + n * C + c0;
            float r = rstd[n];
            for (size_t c = 0; c < w; c++)
                dw[c] += dy[c] * (x[c] * r);
        }
        for (size_t c = 0; c < w; c++)
            j->out2[c0 + c] += (float)dw[c];
    }
}

VEC_DISPATCH(rmsnorm_bwd_dw_range)

void ops_rmsnorm_backward(const ops_ctx *ctx, float *dinp, float *dweight, const float *dout,
                          const float *inp, const float *weight, const float *rstd, int N, int C)
{
    if (N <= 0 || C <= 0)
        return;
    job j = {.out = dinp, .out2 = dweight, .a = dout, .b = inp, .c = weight, .e = rstd, .N = N,
             .C = C};
    if (dinp)
        par_for(ctx->nthreads, (size_t)N, rows_grain(C), rmsnorm_bwd_dx_range, &j);
    if (dweight) {
        size_t grain = PAR_GRAIN / (size_t)N;
        par_for(ctx->nthreads, (size_t)C, grain < 16 ? 16 : grain, rmsnorm_bwd_dw_range, &j);
    }
}

/* ---------------------------------------------------------------- products */

static VEC_INLINE void mul_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    float tmp[ACT_BLOCK];
    for (size_t i0 = begin; i0 < end; i0 += ACT_BLOCK) {
        size_t n = end - i0 < ACT_BLOCK ? end - i0 : ACT_BLOCK;
        for (size_t i = 0; i < n; i++)
            tmp[i] = j->a[i0 + i] * j->b[i0 + i];
        memcpy(j->out + i0, tmp, n * sizeof *tmp);
    }
}

VEC_DISPATCH(mul_fwd_range)

void ops_mul_forward(const ops_ctx *ctx, float *out, const float *a, const float *b, size_t n)
{
    job j = {.out = out, .a = a, .b = b};
    par_for(ctx->nthreads, n, PAR_GRAIN, mul_fwd_range, &j);
}

/* da += dout·b, db += dout·a (the product rule; either output may be NULL). */
static VEC_INLINE void mul_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    if (j->out)
        for (size_t i = begin; i < end; i++)
            j->out[i] += j->c[i] * j->b[i];
    if (j->out2)
        for (size_t i = begin; i < end; i++)
            j->out2[i] += j->c[i] * j->a[i];
}

VEC_DISPATCH(mul_bwd_range)

void ops_mul_backward(const ops_ctx *ctx, float *da, float *db, const float *dout, const float *a,
                      const float *b, size_t n)
{
    job j = {.out = da, .out2 = db, .a = a, .b = b, .c = dout};
    par_for(ctx->nthreads, n, PAR_GRAIN, mul_bwd_range, &j);
}

static VEC_INLINE void scale_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    float tmp[ACT_BLOCK];
    for (size_t i0 = begin; i0 < end; i0 += ACT_BLOCK) {
        size_t n = end - i0 < ACT_BLOCK ? end - i0 : ACT_BLOCK;
        for (size_t i = 0; i < n; i++)
            tmp[i] = j->a[i0 + i] * j->f;
        memcpy(j->out + i0, tmp, n * sizeof *tmp);
    }
}

VEC_DISPATCH(scale_fwd_range)

void ops_scale_forward(const ops_ctx *ctx, float *out, const float *x, float s, size_t n)
{
    job j = {.out = out, .a = x, .f = s};
    par_for(ctx->nthreads, n, PAR_GRAIN, scale_fwd_range, &j);
}

/* ---------------------------------------------------------------- row attention */

/* Keys ahead that the score and value loops ask the memory for: a row's
 * keys are a head's D floats every kv_ld (2 KB apart in t5-small's cache),
 * a stride the hardware prefetchers follow too late, and the cross-attention
 * cache of a batch (25 MB in t5-small at batch 8) is read from memory at
 * every step: without the hint the loads stall the loop. */
#define ATT_AHEAD 16

/* The D floats at p into the cache, a line (16 floats) at a time. */
static VEC_INLINE void prefetch_row(const float *p, int D)
{
    for (int d = 0; d < D; d += 16)
        __builtin_prefetch(p + d);
}

/* One block's keys and values as the loops read them, a stream of rows:
 * head 0's nk keys, its nk values, head 1's keys, ... (key j of head h at
 * kb + h·kvh + j·ld, value j at vb + ...; D floats each). */
typedef struct att_stream {
    const float *kb, *vb;
    long kvh, ld;
    int nk, H, D;
} att_stream;

static VEC_INLINE att_stream att_stream_of(const ops_attention *t, long b)
{
    return (att_stream){.kb = t->k + b * t->kv_stride, .vb = t->v + b * t->kv_stride,
                        .kvh = t->kv_head ? t->kv_head : t->D, .ld = t->kv_ld, .nk = t->nk,
                        .H = t->H, .D = t->D};
}

/* Row r of the stream from head h's key 0 asked for ahead of use, by both
 * paths' loops: the next head's rows are asked for while this one is
 * summed, which matters for a decoder's own few keys (nk of 1 to 32: a
 * head's rows alone are read before a prefetch 16 rows ahead of them could
 * arrive). */
static VEC_INLINE void prefetch_stream(const att_stream *st, int h, long r)
{
    for (; r >= 2L * st->nk; r -= 2L * st->nk) /* no division: this runs for every key */
        h++;
    if (h >= st->H)
        return;
    if (r < st->nk)
        prefetch_row(st->kb + h * st->kvh + r * st->ld, st->D);
    else
        prefetch_row(st->vb + h * st->kvh + (r - st->nk) * st->ld, st->D);
}

/* Rows that share one block of keys and values (the beams of an input in
 * cross-attention) are computed together, so that each key and value is
 * read from memory once for all of them; each row's arithmetic, and so its
 * result, is the same as alone. At most ATT_GROUP rows at a time: the
 * value sums of 4 rows × 64 floats fill 16 vector registers. */
#define ATT_GROUP 4

/* o_i (D floats, o + i·o_ld) = Σ_j s_i[j]·v_j over nk keys for the nr
 * rows i (s_i = s + i·s_ld), v_j at v + j·ld (head h of stream st, asked
 * for ahead): each element summed in key order from 0, as a loop adding
 * into o would. */
static VEC_INLINE void attention_values(float *o, long o_ld, const float *s, long s_ld,
                                        const float *v, long ld, int nk, int D, int nr,
                                        const att_stream *st, int h)
{
    for (int i = 0; i < nr; i++)
        for (int d = 0; d < D; d++)
            o[i * o_ld + d] = 0.0f;
    for (int jk = 0; jk < nk; jk++) {
        const float *vj = v + (long)jk * ld;
        prefetch_stream(st, h, ATT_AHEAD + nk + jk);
        for (int i = 0; i < nr; i++) {
            float p = s[i * s_ld + jk], *oi = o + i * o_ld;
            for (int d = 0; d < D; d++)
                oi[d] += p * vj[d];
        }
    }
}

/* The same for D = 64 (every T5 and BERT size), the sums in blocks of 16
 * held in vector variables (GCC's vector extension: a zmm each with
 * AVX-512, two ymm with AVX2), which stay in registers; summed in o, each
 * addition would wait for the previous key's store. The same additions in
 * the same order. nr <= ATT_GROUP. */
typedef float att_v16 __attribute__((vector_size(64)));

static VEC_INLINE void attention_values64(float *o, long o_ld, const float *s, long s_ld,
                                          const float *v, long ld, int nk, int nr,
                                          const att_stream *st, int h)
{
    att_v16 acc[ATT_GROUP][4] = {{{0}}};
    for (int jk = 0; jk < nk; jk++) {
        const float *vj = v + (long)jk * ld;
        prefetch_stream(st, h, ATT_AHEAD + nk + jk);
        att_v16 x[4];
        memcpy(x, vj, sizeof x);
        for (int i = 0; i < nr; i++) {
            float p = s[i * s_ld + jk];
            for (int c = 0; c < 4; c++)
                acc[i][c] += p * x[c];
        }
    }
    for (int i = 0; i < nr; i++)
        memcpy(o + i * o_ld, acc[i], sizeof acc[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define ATT512 __attribute__((target("avx512f")))

/* attention_group for D = 64 with AVX-512, the same floats: v_dot's 16
 * lane sums for 16 keys at a time, transposed so that one vector add per
 * lane does each key's serial sum over the lanes (v_dot adds them one by
 * one into a scalar: 16 dependent adds a key); the value sums in 16
 * registers, as attention_values64. The softmax and the tails are the
 * plain code. */
static ATT512 inline __attribute__((always_inline)) void
attention_group64_avx512_body(const ops_attention *t, long r0, const int nr, long b)
{
    const int H = t->H, nk = t->nk, D = 64;
    att_stream st = att_stream_of(t, b);
    st.D = D;   /* a constant here: the prefetch loops unroll */
    const long kvh = st.kvh;
    const float *kb = st.kb, *vb = st.vb;
    const float *mb = t->mask ? t->mask + b * t->mask_ld : NULL;
    float *s0 = t->scratch + (size_t)r0 * (size_t)nk;
    for (long pos = 0; pos < ATT_AHEAD; pos++)
        prefetch_stream(&st, 0, pos);
    for (int h = 0; h < H; h++) {
        const float *ad = t->add ? t->add + (long)h * t->add_ld : NULL;
        const float *kh = kb + h * kvh, *q0 = t->q + r0 * t->q_ld + (long)h * D;
        const long ahead = ATT_AHEAD;   /* the lead, in rows of the stream from this head's key 0 */
        /* 16 keys at a time; the last block masked (a decoder's own keys
         * are fewer than 16 for its first steps): a key's floats do not
         * depend on the block around it. */
        for (int jk = 0; jk < nk; jk += 16) {
            int cnt = nk - jk < 16 ? nk - jk : 16;
            __mmask16 live = (__mmask16)((1u << cnt) - 1u);
            for (int j = 0; j < cnt; j++)
                prefetch_stream(&st, h, ahead + jk + j);
            __m512 extra = _mm512_add_ps(ad ? _mm512_maskz_loadu_ps(live, ad + jk) : _mm512_setzero_ps(),
                                         mb ? _mm512_maskz_loadu_ps(live, mb + jk) : _mm512_setzero_ps());
            for (int i = 0; i < nr; i++) {
                const float *q = q0 + i * t->q_ld;
                __m512 qc[4], p[16];
                for (int c = 0; c < 4; c++)
                    qc[c] = _mm512_loadu_ps(q + 16 * c);
                /* v_dot's lanes, ((0 + x0y0) + x1y1) + ..., less the first
                 * addition: 0 + x differs from x only for x = −0, and the
                 * sum over the lanes below starts at +0, which a lane's −0
                 * or +0 leaves +0 alike; every other bit is the same. */
                for (int j = 0; j < 16; j++) {
                    __m512 acc = _mm512_setzero_ps();
                    if (j < cnt) {
                        const float *kj = kh + (long)(jk + j) * t->kv_ld;
                        acc = _mm512_mul_ps(qc[0], _mm512_loadu_ps(kj));
                        for (int c = 1; c < 4; c++)
                            acc = _mm512_add_ps(acc, _mm512_mul_ps(qc[c], _mm512_loadu_ps(kj + 16 * c)));
                    }
                    p[j] = acc;
                }
                ops_transpose16(p);
                __m512 sum = _mm512_setzero_ps();
                for (int l = 0; l < 16; l++)   /* v_dot's 0 + acc[0] + ... + acc[15], in order */
                    sum = _mm512_add_ps(sum, p[l]);
                _mm512_mask_storeu_ps(s0 + (size_t)i * nk + jk, live, _mm512_add_ps(sum, extra));
            }
        }
        for (int i = 0; i < nr; i++)
            softmax_row(s0 + (size_t)i * nk, nk);
        const float *vh = vb + h * kvh;
        __m512 acc[ATT_GROUP][4];
        for (int i = 0; i < nr; i++)
            for (int c = 0; c < 4; c++)
                acc[i][c] = _mm512_setzero_ps();
        for (int j = 0; j < nk; j++) {
            const float *vj = vh + (long)j * t->kv_ld;
            prefetch_stream(&st, h, ahead + nk + j);
            __m512 x[4];
            for (int c = 0; c < 4; c++)
                x[c] = _mm512_loadu_ps(vj + 16 * c);
            for (int i = 0; i < nr; i++) {
                __m512 pi = _mm512_set1_ps(s0[(size_t)i * nk + j]);
                for (int c = 0; c < 4; c++)
                    acc[i][c] = _mm512_add_ps(acc[i][c], _mm512_mul_ps(pi, x[c]));
            }
        }
        float *o = t->out + r0 * t->out_ld + (long)h * D;
        for (int i = 0; i < nr; i++)
            for (int c = 0; c < 4; c++)
                _mm512_storeu_ps(o + i * t->out_ld + 16 * c, acc[i][c]);
    }
}

/* The body with nr a constant (1 to ATT_GROUP), so that its loops over the
 * rows unroll and the value sums stay in registers: with nr a variable,
 * GCC keeps acc[i][c] on the stack, and each addition waits on a store. */
static ATT512 void attention_group64_avx512(const ops_attention *t, long r0, int nr, long b)
{
    switch (nr) {
    case 1: attention_group64_avx512_body(t, r0, 1, b); break;
    case 2: attention_group64_avx512_body(t, r0, 2, b); break;
    case 3: attention_group64_avx512_body(t, r0, 3, b); break;
    default: attention_group64_avx512_body(t, r0, 4, b); break;
    }
}
#endif

/* Rows [r0, r0 + nr) of t, which attend to the same block b. */
static VEC_INLINE void attention_group(const ops_attention *t, long r0, int nr, long b)
{
    int H = t->H, D = t->D, nk = t->nk;
#if defined(__x86_64__) && defined(__GNUC__)
    if (D == 64 && cpu_vec_level() >= CPU_VEC_AVX512) {
        attention_group64_avx512(t, r0, nr, b);
        return;
    }
#endif
    const att_stream st = att_stream_of(t, b);
    const float *mb = t->mask ? t->mask + b * t->mask_ld : NULL;
    float *s0 = t->scratch + (size_t)r0 * (size_t)nk;
    for (long pos = 0; pos < ATT_AHEAD; pos++)
        prefetch_stream(&st, 0, pos);
    for (int h = 0; h < H; h++) {
        const float *ad = t->add ? t->add + (long)h * t->add_ld : NULL;
        const float *kh = st.kb + h * st.kvh, *q0 = t->q + r0 * t->q_ld + (long)h * D;
        for (int jk = 0; jk < nk; jk++) {
            const float *kj = kh + (long)jk * t->kv_ld;
            prefetch_stream(&st, h, ATT_AHEAD + jk);
            float extra = (ad ? ad[jk] : 0.0f) + (mb ? mb[jk] : 0.0f);
            for (int i = 0; i < nr; i++)
                s0[(size_t)i * nk + jk] = v_dot(q0 + i * t->q_ld, kj, D) + extra;
        }
        for (int i = 0; i < nr; i++)
            softmax_row(s0 + (size_t)i * nk, nk);
        const float *vh = st.vb + h * st.kvh;
        float *o = t->out + r0 * t->out_ld + (long)h * D;
        if (D == 64)
            attention_values64(o, t->out_ld, s0, nk, vh, t->kv_ld, nk, nr, &st, h);
        else
            attention_values(o, t->out_ld, s0, nk, vh, t->kv_ld, nk, D, nr, &st, h);
    }
}

/* Items [begin, end) of an ops_attention (see kernels.h): with a block
 * table, a row each; else a group of up to ATT_GROUP rows of one block
 * (item i: rows_per_kv rows per block, in groups). Each row's scores live
 * in its own nk floats of the scratch. */
static VEC_INLINE void attention_rows_range_body(void *arg, size_t begin, size_t end)
{
    const ops_attention *t = arg;
    long per = t->block ? 1 : t->rows_per_kv, groups = (per + ATT_GROUP - 1) / ATT_GROUP;
    for (size_t it = begin; it < end; it++) {
        if (t->block) {
            attention_group(t, (long)it, 1, (long)t->block[it]);
            continue;
        }
        long b = (long)it / groups, r0 = b * per + ((long)it % groups) * ATT_GROUP;
        long r1 = r0 + ATT_GROUP < (b + 1) * per ? r0 + ATT_GROUP : (b + 1) * per;
        if (r1 > t->rows)
            r1 = t->rows;
        if (r1 > r0)
            attention_group(t, r0, (int)(r1 - r0), b);
    }
}

VEC_DISPATCH(attention_rows_range)

void ops_attention_rows(const ops_ctx *ctx, const ops_attention *a)
{
    if (a->rows <= 0 || a->nk <= 0 || a->H <= 0 || a->D <= 0)
        return;
    /* items: rows, or groups of rows sharing a block (attention_rows_range_body) */
    size_t items = (size_t)a->rows, per = a->block ? 1 : (size_t)a->rows_per_kv, rows_per_item = 1;
    if (per > 1) {
        size_t groups = (per + ATT_GROUP - 1) / ATT_GROUP;
        items = ((size_t)a->rows + per - 1) / per * groups;
        rows_per_item = (per + groups - 1) / groups;
    }
    size_t work = (size_t)a->H * (size_t)a->D * (size_t)a->nk * 2 * rows_per_item;
    size_t grain = work >= PAR_GRAIN ? 1 : PAR_GRAIN / work;
    par_for(ctx->nthreads, items, grain, attention_rows_range, (void *)a);
}

void ops_layernorm_backward(const ops_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, int N, int C)
{
    if (N <= 0 || C <= 0)
        return;
    job j = {.out = dinp, .out2 = dweight, .out3 = dbias, .a = dout, .b = inp, .c = weight,
             .d = mean, .e = rstd, .N = N, .C = C};
    if (dinp)
        par_for(ctx->nthreads, (size_t)N, rows_grain(C), layernorm_bwd_dx_range, &j);
    if (dweight || dbias) {
        size_t grain = PAR_GRAIN / (size_t)N;
        par_for(ctx->nthreads, (size_t)C, grain < 16 ? 16 : grain, layernorm_bwd_dw_range, &j);
    }
}

/* ---------------------------------------------------------------- dropout */

/* Element i is kept when word i of the stream, as a uniform in [0, 1), is
 * >= p: a pure function of (seed, stream, i), whatever the split. The words
 * come RNG_LANES Philox blocks (DROP_GROUP elements) at a time from
 * rng_block_lanes, which vectorizes; a range that starts or ends inside a
 * group generates the whole group and uses its part. */
#define DROP_GROUP (4 * RNG_LANES)

#if defined(__x86_64__) && defined(__GNUC__)
/* rng_block_lanes with AVX-512 intrinsics, the same words: GCC vectorizes
 * the portable lanes' 64-bit products as vpmullq (three uops on Intel)
 * where vpmuludq, which multiplies the low halves, gives the same 64 bits
 * in one; the counters and the output interleave are shuffles here, not
 * lane-by-lane inserts. 16 blocks as two vectors of 8 lanes. */
static __attribute__((target("avx512f"))) void philox_lanes_avx512(uint64_t seed,
                                                                  uint64_t stream,
                                                                  uint64_t counter,
                                                                  uint32_t out[DROP_GROUP])
{
    const __m512i lo = _mm512_set1_epi64(0xffffffff);
    const __m512i m0 = _mm512_set1_epi64(RNG_PHILOX_M0), m1 = _mm512_set1_epi64(RNG_PHILOX_M1);
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    __m512i c0[2], c1[2], c2[2], c3[2];
    for (int h = 0; h < 2; h++) {
        __m512i c = _mm512_add_epi64(_mm512_set1_epi64((long long)(counter + 8u * (unsigned)h)),
                                     lane);
        c0[h] = _mm512_and_si512(c, lo);
        c1[h] = _mm512_srli_epi64(c, 32);
        c2[h] = _mm512_set1_epi64((long long)(stream & 0xffffffffu));
        c3[h] = _mm512_set1_epi64((long long)(stream >> 32));
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        const __m512i K0 = _mm512_set1_epi64(k0), K1 = _mm512_set1_epi64(k1);
        for (int h = 0; h < 2; h++) {
            __m512i p0 = _mm512_mul_epu32(c0[h], m0), p1 = _mm512_mul_epu32(c2[h], m1);
            /* 0x96: a ^ b ^ c */
            c0[h] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), c1[h], K0, 0x96);
            c1[h] = _mm512_and_si512(p1, lo);
            c2[h] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), c3[h], K1, 0x96);
            c3[h] = _mm512_and_si512(p0, lo);
        }
        k0 += RNG_PHILOX_W0;
        k1 += RNG_PHILOX_W1;
    }
    /* lane l's words w0..w3 to out[4l..4l+3]: (w0 | w1 << 32) and
     * (w2 | w3 << 32) per lane, interleaved by 64-bit halves, then the
     * 128-bit pieces put in lane order */
    const __m512i even = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i odd = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    for (int h = 0; h < 2; h++) {
        __m512i a = _mm512_or_si512(c0[h], _mm512_slli_epi64(c1[h], 32));
        __m512i b = _mm512_or_si512(c2[h], _mm512_slli_epi64(c3[h], 32));
        __m512i x = _mm512_unpacklo_epi64(a, b), y = _mm512_unpackhi_epi64(a, b);
        _mm512_storeu_si512(out + 32 * h, _mm512_permutex2var_epi64(x, even, y));
        _mm512_storeu_si512(out + 32 * h + 16, _mm512_permutex2var_epi64(x, odd, y));
    }
}
#endif

/* The words of blocks [counter, counter + RNG_LANES): the intrinsics where
 * the CPU has AVX-512 (hw, a constant of the caller), else the portable
 * lanes, which the compiler vectorizes for the kernel's target. */
static VEC_INLINE void drop_words(int hw, uint64_t seed, uint64_t stream, uint64_t counter,
                                  uint32_t w[DROP_GROUP])
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (hw) {
        philox_lanes_avx512(seed, stream, counter, w);
        return;
    }
#endif
    (void)hw;
    rng_block_lanes(seed, stream, counter, w);
}

/* The flags are constants after inlining: each use gets its own
 * straight-line loop.
 *   backward   out += keep·a·scale          (else out = keep·a·scale)
 *   mask_in    keep from j->mask_in         (else from the stream)
 *   mask_out   record keep in j->mask_out
 *   residual   out = j->b + keep·a·scale    (forward only)
 *   relu       keep only where a > 0 too: ReLU's forward and the dropout
 *              after it in one pass, the mask recording both (forward) */
static VEC_INLINE void dropout_range(const job *j, size_t begin, size_t end, int backward,
                                     int mask_in, int mask_out, int residual, int relu)
{
    const float p = j->f, scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    /* rng_to_uniform(w) >= p, in integers: (w >> 8)·2^-24 and p·2^24 are
     * exact, so the test is (w >> 8) >= ceil(p·2^24), the same decisions
     * without a conversion per element (p = 1: 2^24, never kept). */
    const uint32_t keep_from = (uint32_t)ceilf(p * 0x1p24f);
    const float *a = j->a, *res = j->b; /* either may be out itself */
    float *out = j->out;
    /* The masks are bytes, which may alias anything: restrict says they do
     * not, or every store would reload the job and the loop stay scalar. */
    const uint8_t *restrict min = j->mask_in;
    uint8_t *restrict mout = j->mask_out;
    const uint64_t seed = j->seed, stream = j->stream;
    const int hw = !mask_in && cpu_vec_level() >= CPU_VEC_AVX512;
    uint32_t w[DROP_GROUP];
    for (size_t g = begin / DROP_GROUP * DROP_GROUP; g < end; g += DROP_GROUP) {
        size_t lo = g > begin ? g : begin, hi = g + DROP_GROUP < end ? g + DROP_GROUP : end;
        if (!mask_in)
            drop_words(hw, seed, stream, g / 4, w);
        for (size_t i = lo; i < hi; i++) {
            float x = a[i];
            int keep = mask_in ? min[i] != 0 : w[i - g] >> 8 >= keep_from;
            if (relu)
                keep &= x > 0.0f;
            float y = keep ? x * scale : 0.0f;
            if (backward)
                out[i] += y;
            else
                out[i] = residual ? res[i] + y : y;
            if (mask_out)
                mout[i] = (uint8_t)keep;
        }
    }
}

static VEC_INLINE void dropout_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    if (j->mask_in)
        dropout_range(j, begin, end, 0, 1, 0, 0, 0);
    else if (j->mask_out && j->b)
        dropout_range(j, begin, end, 0, 0, 1, 1, 0);
    else if (j->mask_out)
        dropout_range(j, begin, end, 0, 0, 1, 0, 0);
    else if (j->b)
        dropout_range(j, begin, end, 0, 0, 0, 1, 0);
    else
        dropout_range(j, begin, end, 0, 0, 0, 0, 0);
}

VEC_DISPATCH(dropout_fwd_range)

static VEC_INLINE void relu_dropout_fwd_range_body(void *arg, size_t begin, size_t end)
{
    dropout_range(arg, begin, end, 0, 0, 1, 0, 1);
}

VEC_DISPATCH(relu_dropout_fwd_range)

static VEC_INLINE void dropout_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    if (j->mask_in)
        dropout_range(j, begin, end, 1, 1, 0, 0, 0);
    else
        dropout_range(j, begin, end, 1, 0, 0, 0, 0);
}

VEC_DISPATCH(dropout_bwd_range)

static mlm_status check_p(float p)
{
    if (!(p >= 0.0f && p <= 1.0f))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "dropout: probability %g outside [0, 1]",
                       (double)p);
    return MLM_OK;
}

/* Checks p, then runs fn over j's n elements. */
static mlm_status dropout_run(const ops_ctx *ctx, par_fn fn, job j, size_t n)
{
    mlm_status st = check_p(j.f);
    if (st != MLM_OK)
        return st;
    par_for(ctx->nthreads, n, PAR_GRAIN / 4, fn, &j);
    return MLM_OK;
}

mlm_status ops_dropout_forward(const ops_ctx *ctx, float *out, uint8_t *mask, const float *inp,
                               size_t n, float p, uint64_t seed, uint64_t stream)
{
    job j = {.out = out, .a = inp, .mask_out = mask, .f = p, .seed = seed, .stream = stream};
    return dropout_run(ctx, dropout_fwd_range, j, n);
}

mlm_status ops_dropout_residual_forward(const ops_ctx *ctx, float *out, uint8_t *mask,
                                        const float *residual, const float *inp, size_t n,
                                        float p, uint64_t seed, uint64_t stream)
{
    job j = {.out = out, .a = inp, .b = residual, .mask_out = mask, .f = p, .seed = seed,
             .stream = stream};
    return dropout_run(ctx, dropout_fwd_range, j, n);
}

mlm_status ops_relu_dropout_forward(const ops_ctx *ctx, float *out, uint8_t *mask,
                                    const float *inp, size_t n, float p, uint64_t seed,
                                    uint64_t stream)
{
    if (!mask && n > 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "relu_dropout: NULL mask");
    job j = {.out = out, .a = inp, .mask_out = mask, .f = p, .seed = seed, .stream = stream};
    return dropout_run(ctx, relu_dropout_fwd_range, j, n);
}

mlm_status ops_dropout_apply(const ops_ctx *ctx, float *out, const uint8_t *mask,
                             const float *inp, size_t n, float p)
{
    job j = {.out = out, .a = inp, .mask_in = mask, .f = p};
    return dropout_run(ctx, dropout_fwd_range, j, n);
}

mlm_status ops_dropout_backward(const ops_ctx *ctx, float *dinp, const float *dout,
                                const uint8_t *mask, size_t n, float p, uint64_t seed,
                                uint64_t stream)
{
    job j = {.out = dinp, .a = dout, .mask_in = mask, .f = p, .seed = seed, .stream = stream};
    return dropout_run(ctx, dropout_bwd_range, j, n);
}

/* The forward's kernel: with the mask it is ops_dropout_apply, without it
 * the forward's own stream regenerates the same keeps. */
mlm_status ops_dropout_backward_first(const ops_ctx *ctx, float *dinp, const float *dout,
                                      const uint8_t *mask, size_t n, float p, uint64_t seed,
                                      uint64_t stream)
{
    job j = {.out = dinp, .a = dout, .mask_in = mask, .f = p, .seed = seed, .stream = stream};
    return dropout_run(ctx, dropout_fwd_range, j, n);
}

/* ---------------------------------------------------------------- embedding */

static mlm_status check_ids(const char *what, const int32_t *ids, int N, int V, int C)
{
    if (N < 0 || V < 0 || C < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: negative size", what);
    for (int n = 0; n < N; n++)
        if (ids[n] < 0 || ids[n] >= V)
            return err_set(MLM_ERR_RANGE, "%s: id %ld at position %d outside [0, %d)", what,
                           (long)ids[n], n, V);
    return MLM_OK;
}

/* out[n] (=|+=) table[ids[n]], rows [begin, end) */
static VEC_INLINE void embedding_fwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    size_t C = (size_t)j->C;
    for (size_t n = begin; n < end; n++) {
        const float *t = j->a + (size_t)j->ids[n] * C;
        float *o = j->out + n * C;
        if (j->k)
            for (size_t c = 0; c < C; c++)
                o[c] += t[c];
        else
            for (size_t c = 0; c < C; c++)
                o[c] = t[c];
    }
}

VEC_DISPATCH(embedding_fwd_range)

/* dtable[ids[n], c] += dout[n, c] for columns [begin, end): a thread owns its
 * columns, so repeated ids neither race nor depend on the split. */
static VEC_INLINE void embedding_bwd_range_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    size_t C = (size_t)j->C;
    for (int n = 0; n < j->N; n++) {
        if (j->ids[n] == j->k)
            continue;
        float *t = j->out + (size_t)j->ids[n] * C;
        const float *d = j->a + (size_t)n * C;
        for (size_t c = begin; c < end; c++)
            t[c] += d[c];
    }
}

VEC_DISPATCH(embedding_bwd_range)

mlm_status ops_embedding_forward(const ops_ctx *ctx, float *out, const int32_t *ids,
                                 const float *table, int N, int V, int C, int accumulate)
{
    mlm_status st = check_ids("embedding", ids, N, V, C);
    if (st != MLM_OK)
        return st;
    job j = {.out = out, .a = table, .ids = ids, .C = C, .k = accumulate};
    par_for(ctx->nthreads, (size_t)N, rows_grain(C), embedding_fwd_range, &j);
    return MLM_OK;
}

mlm_status ops_embedding_backward(const ops_ctx *ctx, float *dtable, const float *dout,
                                  const int32_t *ids, int N, int V, int C, int padding_idx)
{
    mlm_status st = check_ids("embedding backward", ids, N, V, C);
    if (st != MLM_OK || N == 0 || C == 0)
        return st;
    job j = {.out = dtable, .a = dout, .ids = ids, .N = N, .C = C,
             .k = padding_idx < 0 ? -1 : padding_idx};
    size_t grain = PAR_GRAIN / (size_t)N;
    par_for(ctx->nthreads, (size_t)C, grain < 16 ? 16 : grain, embedding_bwd_range, &j);
    return MLM_OK;
}
