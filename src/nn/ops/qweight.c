/* Reduced-precision weights: dispatch over the bf16 and int8 formats
 * (contract in nn/ops/qweight.h). */
#include "nn/ops/qweight.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/ops.h"

const char *ops_dtype_name(ops_dtype dt)
{
    switch (dt) {
    case OPS_F32: return "fp32";
    case OPS_BF16: return "bf16";
    case OPS_INT8: return "int8";
    }
    return "?";
}

/* Rows converted between two calls of the caller's release. */
#define CHUNK_ROWS 2048

mlm_status ops_qw_from_f32(ops_qw *w, ops_dtype dtype, const float *W, int N, int K,
                           void (*release)(const void *rows, size_t bytes))
{
    memset(w, 0, sizeof *w);
    mlm_status st;
    if (dtype == OPS_BF16)
        st = ops_bf16w_alloc(&w->bf16, N, K);
    else if (dtype == OPS_INT8)
        st = ops_i8w_alloc(&w->i8, N, K);
    else
        return err_set(MLM_ERR_INVALID_ARGUMENT, "reduced weight: dtype %s is not reduced",
                       ops_dtype_name(dtype));
    for (int r0 = 0; st == MLM_OK && r0 < N; r0 += CHUNK_ROWS) {
        int r1 = N - r0 < CHUNK_ROWS ? N : r0 + CHUNK_ROWS;
        st = dtype == OPS_BF16 ? ops_bf16w_set_rows(&w->bf16, W, K, r0, r1)
                               : ops_i8w_set_rows(&w->i8, W, K, r0, r1);
        if (st == MLM_OK && release)
            release(W + (size_t)r0 * (size_t)K, (size_t)(r1 - r0) * (size_t)K * sizeof *W);
    }
    if (st != MLM_OK) {
        ops_qw_free(w);
        return st;
    }
    w->dtype = dtype;
    w->N = N;
    w->K = K;
    return MLM_OK;
}

void ops_qw_free(ops_qw *w)
{
    if (!w)
        return;
    ops_bf16w_free(&w->bf16);
    ops_i8w_free(&w->i8);
    memset(w, 0, sizeof *w);
}

typedef struct embed_job {
    float *out;
    const int32_t *ids;
    const ops_qw *w;
    int accumulate;
} embed_job;

static void embed_rows(void *arg, size_t begin, size_t end);

size_t ops_qw_bytes(const ops_qw *w)
{
    if (w->dtype == OPS_BF16)
        return ops_bf16w_bytes(&w->bf16);
    if (w->dtype == OPS_INT8)
        return ops_i8w_bytes(&w->i8);
    return 0;
}

void ops_qw_row(const ops_qw *w, int n, float *out)
{
    int32_t id = n;
    embed_job j = {out, &id, w, 0};
    embed_rows(&j, 0, 1);
}

mlm_status ops_qw_gemm(const ops_ctx *ctx, int M, const float *A, int lda, const ops_qw *w,
                       float beta, float *C, int ldc)
{
    if (w->dtype == OPS_BF16)
        return ops_gemm_bf16w(ctx, M, A, lda, &w->bf16, beta, C, ldc);
    if (w->dtype == OPS_INT8)
        return ops_gemm_i8w(ctx, M, A, lda, &w->i8, beta, C, ldc);
    return err_set(MLM_ERR_INVALID_ARGUMENT, "reduced weight: not converted");
}

mlm_status ops_qw_gemm_multi(const ops_ctx *ctx, int M, const float *A, int lda, int n,
                             const ops_qw *const *w, float *const *C, const int *ldc)
{
    return ops_qw_gemm_epi(ctx, M, A, lda, n, w, 0.0f, NULL, 0, C, ldc);
}

mlm_status ops_qw_gemm_epi(const ops_ctx *ctx, int M, const float *A, int lda, int n,
                           const ops_qw *const *w, float beta, const float *const *bias, int gelu,
                           float *const *C, const int *ldc)
{
    if (n < 1 || !w || !C || !ldc)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "reduced weight: bad arguments (%d weights)", n);
    int bf16 = n <= PAR_JOBS_MAX, int8 = bf16;
    for (int i = 0; i < n; i++) {
        bf16 = bf16 && w[i] && w[i]->dtype == OPS_BF16;
        int8 = int8 && w[i] && w[i]->dtype == OPS_INT8;
    }
    if (bf16) {
        const ops_bf16w *b16[PAR_JOBS_MAX];
        for (int i = 0; i < n; i++)
            b16[i] = &w[i]->bf16;
        return ops_gemm_bf16w_epi(ctx, M, A, lda, n, b16, beta, bias, gelu, C, ldc);
    }
    if (int8) {
        const ops_i8w *i8[PAR_JOBS_MAX];
        for (int i = 0; i < n; i++)
            i8[i] = &w[i]->i8;
        return ops_gemm_i8w_epi(ctx, M, A, lda, n, i8, beta, bias, gelu, C, ldc);
    }
    if (n == 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "reduced weight: NULL or not converted");
    /* A mix of dtypes, or more weights than one parallel section takes:
     * each weight alone, with its own epilogue. */
    for (int i = 0; i < n; i++) {
        mlm_status st = ops_qw_gemm_epi(ctx, M, A, lda, 1, &w[i], beta, bias ? &bias[i] : NULL,
                                        gelu, &C[i], &ldc[i]);
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

/* Rows [begin, end) of out, each read out of the kernels' layout by the
 * kernel's own file (ops_bf16w_row, ops_i8w_row). */
static void embed_rows(void *arg, size_t begin, size_t end)
{
    const embed_job *j = arg;
    const ops_qw *w = j->w;
    for (size_t i = begin; i < end; i++) {
        float *o = j->out + i * (size_t)w->K;
        if (w->dtype == OPS_BF16)
            ops_bf16w_row(&w->bf16, j->ids[i], o, j->accumulate);
        else
            ops_i8w_row(&w->i8, j->ids[i], o, j->accumulate);
    }
}

mlm_status ops_qw_embedding_forward(const ops_ctx *ctx, float *out, const int32_t *ids,
                                    const ops_qw *w, int n, int accumulate)
{
    if (n < 0 || (n > 0 && (!out || !ids)))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "embedding: bad arguments");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= w->N)
            return err_set(MLM_ERR_RANGE, "embedding: id %ld at position %d outside [0, %d)",
                           (long)ids[i], i, w->N);
    embed_job j = {out, ids, w, accumulate};
    par_for(ctx->nthreads, (size_t)n, 16, embed_rows, &j);
    return MLM_OK;
}
