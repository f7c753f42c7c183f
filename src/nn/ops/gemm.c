/* The only file that includes blis.h. */
#include "nn/ops/gemm.h"

/* blis.h is not a system header here (-I, not -isystem): silence what it
 * trips in our warning set, for this include only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <blis.h>
#pragma GCC diagnostic pop
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/cpu.h"
#include "nn/ops/gemm_bf16.h"
#include "nn/ops/gemm_small.h"
#include "nn/ops/gemm_tile.h"
#include "nn/ops/kernels.h"
#include "nn/ops/ops.h"

void ops_ctx_init(ops_ctx *ctx, int nthreads)
{
    ctx->nthreads = nthreads < 1 ? 1 : nthreads;
    ctx->autocast_bf16 = 0;
    ctx->scratch = NULL;
}

int ops_threads_for(int nthreads, double macs, double bytes)
{
    if (macs >= (double)(1 << 20) || (bytes >= (double)(1 << 17) && par_pool_entered()))
        return nthreads;
    return 1;
}

/* ---------------------------------------------------------------- kernel choice */

/* Every kernel set's context and name, looked up once; which one a product
 * gets is decided per call (cpu_gemm_choice: the plan, or what a test
 * forced). */
static struct {
    cntx_t *cntx[CPU_GEMM_KERNELS];
    const char *name[CPU_GEMM_KERNELS];
} sets;
static pthread_once_t sets_once = PTHREAD_ONCE_INIT;

static arch_t to_arch(cpu_gemm_kernel k)
{
    switch (k) {
    case CPU_GEMM_HASWELL: return BLIS_ARCH_HASWELL;
    case CPU_GEMM_ZEN3: return BLIS_ARCH_ZEN3;
    case CPU_GEMM_SKX: return BLIS_ARCH_SKX;
    case CPU_GEMM_ZEN: return BLIS_ARCH_ZEN;
    case CPU_GEMM_ZEN2: return BLIS_ARCH_ZEN2;
    case CPU_GEMM_GENERIC: return BLIS_ARCH_GENERIC;
    case CPU_GEMM_BLIS_DEFAULT:
    case CPU_GEMM_KERNELS: break;
    }
    return bli_arch_query_id();
}

/* The native context of a sub-configuration, or BLIS's own when this BLIS
 * was built without it (a lookup of an unregistered arch gives NULL). */
static cntx_t *context_for(cpu_gemm_kernel k, const char **name)
{
    arch_t id = to_arch(k);
    cntx_t **c = bli_gks_lookup_id(id);
    if (!c || !c[BLIS_NAT]) {
        id = bli_arch_query_id();
        c = bli_gks_lookup_id(id);
    }
    *name = bli_arch_string(id);
    return c[BLIS_NAT];
}

static void sets_init(void)
{
    /* BLIS must be initialised before any query (0.9.0 aborts otherwise).
     * Looking a context up runs none of its code, so the sets this CPU
     * cannot execute are looked up too (cpu_gemm_choice never picks them). */
    bli_init();
    for (int k = 0; k < CPU_GEMM_KERNELS; k++)
        sets.cntx[k] = context_for((cpu_gemm_kernel)k, &sets.name[k]);
}

/* The kernel set for a product with M rows. */
static cpu_gemm_kernel kernel_for_m(int M)
{
    pthread_once(&sets_once, sets_init);
    cpu_gemm_kernel small_m, large_m;
    cpu_gemm_choice(&small_m, &large_m);
    return M < CPU_GEMM_SMALL_M ? small_m : large_m;
}

static cntx_t *context_for_m(int M) { return sets.cntx[kernel_for_m(M)]; }

const char *gemm_kernel_name(int M) { return sets.name[kernel_for_m(M)]; }

const char *gemm_describe(void)
{
    /* Per thread: the choice can change (a test forcing a path). */
    static _Thread_local char line[160];
    pthread_once(&sets_once, sets_init);
    snprintf(line, sizeof line, "BLIS %s, %s for M<%d, %s for M>=%d (BLIS's own pick: %s)",
             bli_info_get_version_str(), gemm_kernel_name(1), CPU_GEMM_SMALL_M,
             gemm_kernel_name(CPU_GEMM_SMALL_M), CPU_GEMM_SMALL_M,
             bli_arch_string(bli_arch_query_id()));
    return line;
}

/* ---------------------------------------------------------------- GEMM */

static mlm_status check_gemm(int transa, int transb, int M, int N, int K, const float *A, int lda,
                             const float *B, int ldb, const float *C, int ldc)
{
    if (M < 0 || N < 0 || K < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm: negative size %dx%dx%d", M, N, K);
    int acols = transa ? M : K, bcols = transb ? K : N;
    if (lda < 1 || lda < acols || ldb < 1 || ldb < bcols || ldc < 1 || ldc < N)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "gemm: leading dimension too small (lda %d < %d, ldb %d < %d or ldc %d < %d)",
                       lda, acols, ldb, bcols, ldc, N);
    if ((M > 0 && N > 0 && !C) || (M > 0 && K > 0 && !A) || (N > 0 && K > 0 && !B))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm: NULL matrix");
    return MLM_OK;
}

/* C = beta·C, for the products with nothing to add (K = 0 or alpha = 0);
 * beta = 0 overwrites, as BLAS does. */
static void scale_c(int M, int N, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++)
            c[j] = beta == 0.0f ? 0.0f : beta * c[j];
    }
}

/* The sup kernels' column block (6x16), and the padded copy for the edge. */
#define SUP_NR 16
#define SUP_LD 20
#define SUP_ROWS 64

/* BLIS's small-matrix path (sup: no packing) pays for thin products (M < 64:
 * inference). At training's sizes packing wins: with a transposed operand
 * sup runs its dot-product ("rd") kernels, and over many columns or a long K
 * the packing is paid back many times. Zen 4, zen3 kernels, 1 thread,
 * GFLOP/s sup -> packed: the MLM head's 154x50265x768 against the tied
 * embeddings 74 -> 90, its weight gradient (transposed A) 77 -> 100;
 * attention's q·kᵀ 128x128x64 59 -> 81; a 256x1024x2048 weight gradient
 * 47 -> 97; p·v 128x64x128 over a batch of 96 heads 48-60 -> 58-60. M alone
 * decides, and gemm_threads' row blocks keep M >= 64, so splitting a product
 * over threads never changes its kernels. */
static int sup_pays(int M) { return M < CPU_GEMM_SMALL_M; }

static void gemm_blis(int nthreads, int transa, int transb, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta, float *C,
                      int ldc);

/* BLIS 0.9.0's sup dot-product kernels (x·Wᵀ: A by rows, B by columns)
 * read a whole row past A's last one when K % 8 != 0 (seen at M % 3 == 1
 * from 4 to 22 rows, N >= 16: a 1-row edge kernel loads the next row in its
 * k tail; the values do not reach C). At the end of a mapping that faults:
 * those products run on a copy of A with one more row. The hidden sizes of
 * real models are multiples of 8, so this copy is rare. */
static int sup_overreads_a(int transa, int transb, int M, int N, int K)
{
    return sup_pays(M) && !transa && transb && M > 1 && N > 1 && K % 8 != 0;
}

/* One product with validated arguments, `nthreads` BLIS threads. */
static void gemm_one(int nthreads, int transa, int transb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (!sup_overreads_a(transa, transb, M, N, K)) {
        gemm_blis(nthreads, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    float *copy = calloc(((size_t)M + 1) * K, sizeof *copy);
    if (!copy) { /* a row at a time: M = 1 runs BLIS's GEMV, which reads only its row */
        for (int i = 0; i < M; i++)
            gemm_blis(nthreads, 0, 1, 1, N, K, alpha, A + (size_t)i * lda, lda, B, ldb, beta,
                      C + (size_t)i * ldc, ldc);
        return;
    }
    for (int i = 0; i < M; i++)
        memcpy(copy + (size_t)i * K, A + (size_t)i * lda, (size_t)K * sizeof *copy);
    gemm_blis(nthreads, 0, 1, M, N, K, alpha, copy, K, B, ldb, beta, C, ldc);
    free(copy);
}

/* The BLIS call of gemm_one. */
static void gemm_blis(int nthreads, int transa, int transb, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta, float *C,
                      int ldc)
{
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(nthreads, &rntm);
    if (!sup_pays(M))
        bli_rntm_disable_l3_sup(&rntm);
    cntx_t *cntx = context_for_m(M);
    /* Strides of op(A) (M×K) and op(B) (K×N) as BLIS general strides. */
    inc_t rsa = transa ? 1 : lda, csa = transa ? lda : 1;
    inc_t rsb = transb ? 1 : ldb, csb = transb ? ldb : 1;
    float *a = (float *)A, *b = (float *)B; /* BLIS does not write them */
    if (M == 1) {
        /* A row vector times op(B): y (N) = op(B)^T (N×K) · x (K); GEMV runs
         * about twice as fast as GEMM at M = 1 (38 vs 21 GFLOP/s, K=N=768). */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, N, K, &alpha, b, csb, rsb, a, csa,
                     &beta, C, 1, cntx, &rntm);
        return;
    }
    if (N == 1) {
        /* y (M, stride ldc) = op(A) (M×K) · x (K). */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, M, K, &alpha, a, rsa, csa, b, rsb,
                     &beta, C, ldc, cntx, &rntm);
        return;
    }
    /* Under valgrind the small-matrix kernels take that path with beta = 0
     * too (seen at 6x130x64, by rows and with A transposed); natively a
     * guard page after C never faulted there, but the copy is cheap. */
    int n_main = N;
    if ((beta != 0.0f || sup_pays(M)) && (N % SUP_NR) & 2)
        n_main = N - N % SUP_NR;
    if (n_main > 0)
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, n_main, K, &alpha, a, rsa, csa, b,
                     rsb, csb, &beta, C, ldc, 1, cntx, &rntm);
    if (n_main == N)
        return;
    /* The last N % 16 columns through a padded copy, SUP_ROWS rows at a time:
     * BLIS 0.9.0's sup kernels for a 2-column edge read C with 4-wide loads
     * when beta != 0 (flame/blis#635, fixed after 0.9.0), 4 or 8 bytes past
     * the last row, which can fault at the end of a page. In the copy the
     * extra columns exist. */
    float tmp[SUP_ROWS * SUP_LD];
    int r = N - n_main;
    float *bcols = transb ? b + (size_t)n_main * ldb : b + n_main;
    for (int i0 = 0; i0 < M; i0 += SUP_ROWS) {
        int rows = M - i0 < SUP_ROWS ? M - i0 : SUP_ROWS;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < SUP_LD; j++)
                tmp[i * SUP_LD + j] = j < r ? C[(size_t)(i0 + i) * ldc + n_main + j] : 0.0f;
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, rows, r, K, &alpha,
                     a + (size_t)i0 * rsa, rsa, csa, bcols, rsb, csb, &beta, tmp, SUP_LD, 1,
                     cntx, &rntm);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < r; j++)
                C[(size_t)(i0 + i) * ldc + n_main + j] = tmp[i * SUP_LD + j];
    }
}

/* ---------------------------------------------------------------- threads */

/* With several threads, a product is split by columns of C (of op(B): the
 * weight's rows, for a linear layer) into one contiguous block per thread,
 * each a single-threaded BLIS call. Each thread then streams its own part of
 * B, which at small M (batch-1 inference) is what the time goes to, and
 * BLIS's GEMV (M = 1), single-threaded in 0.9.0, gets all the threads; and no
 * BLIS barrier spins while a thread of ours is descheduled on a busy
 * machine. A (the activations) is read by every thread. Below SPLIT_FLOPS
 * multiply-adds a thread start (~20-50 us) costs more than it saves. */
#define SPLIT_FLOPS (1 << 21)
#define SPLIT_MIN_COLS 256

typedef struct split_job {
    int transa, transb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} split_job;

/* Too few columns but many rows (training: 2048 tokens against a 256-wide
 * weight) split by rows of C instead, blocks of SPLIT_MR rows (the zen3 and
 * haswell micro-kernels' 6), at least SPLIT_MIN_ROWS per thread so that
 * each block stays a large-M product. Each thread packs all of op(B) then;
 * BLIS's own threads would share it but spin at barriers: on a 2-core
 * machine with other load they took a quarter of a small model's step. */
#define SPLIT_MR 6
#define SPLIT_MIN_ROWS 96

/* Row blocks [begin, end) of SPLIT_MR rows each. */
static void split_rows(void *arg, size_t begin, size_t end)
{
    const split_job *j = arg;
    int m0 = (int)begin * SPLIT_MR, m1 = (int)end * SPLIT_MR < j->M ? (int)end * SPLIT_MR : j->M;
    /* Row m of op(A) starts at A + m·lda, or A + m when A is stored K×M. */
    const float *a = j->transa ? j->A + m0 : j->A + (size_t)m0 * j->lda;
    gemm_one(1, j->transa, j->transb, m1 - m0, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb,
             j->beta, j->C + (size_t)m0 * j->ldc, j->ldc);
}

/* Column blocks [begin, end) of SUP_NR columns each. */
static void split_range(void *arg, size_t begin, size_t end)
{
    const split_job *j = arg;
    int n0 = (int)begin * SUP_NR, n1 = (int)end * SUP_NR < j->N ? (int)end * SUP_NR : j->N;
    /* Column n of op(B) starts at B + n·ldb (transb) or B + n. */
    const float *b = j->transb ? j->B + (size_t)n0 * j->ldb : j->B + n0;
    gemm_one(1, j->transa, j->transb, j->M, n1 - n0, j->K, j->alpha, j->A, j->lda, b, j->ldb,
             j->beta, j->C + n0, j->ldc);
}

static void gemm_threads(int nthreads, int transa, int transb, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C,
                         int ldc)
{
    if (!transa && transb && alpha == 1.0f && gemm_small_applies(M, N, K)) {
        gemm_small_nt(nthreads, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Small enough for one thread (a batch of them gets a thread each);
     * BLIS below when gemm_tile cannot get its buffer. */
    if ((nthreads == 1 || (double)M * N * K < SPLIT_FLOPS) &&
        gemm_tile_applies(transa, transb, M, N, K, alpha, beta) &&
        gemm_tile(transa, transb, M, N, K, A, lda, B, ldb, beta, C, ldc) == 0)
        return;
    size_t blocks = ((size_t)N + SUP_NR - 1) / SUP_NR;
    if (nthreads > 1 && (double)M * N * K >= SPLIT_FLOPS &&
        par_chunks(nthreads, blocks, SPLIT_MIN_COLS / SUP_NR) > 1) {
        split_job j = {transa, transb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
        par_for(nthreads, blocks, SPLIT_MIN_COLS / SUP_NR, split_range, &j);
        return;
    }
    size_t row_blocks = ((size_t)M + SPLIT_MR - 1) / SPLIT_MR;
    if (nthreads > 1 && (double)M * N * K >= SPLIT_FLOPS &&
        par_chunks(nthreads, row_blocks, SPLIT_MIN_ROWS / SPLIT_MR) > 1) {
        split_job j = {transa, transb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
        par_for(nthreads, row_blocks, SPLIT_MIN_ROWS / SPLIT_MR, split_rows, &j);
        return;
    }
    /* Too few columns and rows to split: BLIS's own threads, when it is
     * worth it. */
    int t = (double)M * N * K >= SPLIT_FLOPS ? nthreads : 1;
    gemm_one(t, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

mlm_status ops_gemm(const ops_ctx *ctx, int transa, int transb, int M, int N, int K, float alpha,
                    const float *A, int lda, const float *B, int ldb, float beta, float *C,
                    int ldc)
{
    if (ctx->autocast_bf16)
        return ops_gemm_bf16(ctx, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    mlm_status st = check_gemm(transa, transb, M, N, K, A, lda, B, ldb, C, ldc);
    if (st != MLM_OK)
        return st;
    gemm_threads(ctx->nthreads, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return MLM_OK;
}

/* ---------------------------------------------------------------- batched */

typedef struct batch_job {
    int nthreads, transa, transb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    const ops_batch *batch;
} batch_job;

static void batch_range(void *arg, size_t begin, size_t end)
{
    const batch_job *j = arg;
    const ops_batch *b = j->batch;
    for (size_t i = begin; i < end; i++) {
        long o = (long)i / b->inner, h = (long)i % b->inner;
        gemm_threads(j->nthreads, j->transa, j->transb, j->M, j->N, j->K, j->alpha,
                     j->A + o * b->a_outer + h * b->a_inner, j->lda,
                     j->B + o * b->b_outer + h * b->b_inner, j->ldb, j->beta,
                     j->C + o * b->c_outer + h * b->c_inner, j->ldc);
    }
}

mlm_status ops_gemm_batched(const ops_ctx *ctx, int transa, int transb, int M, int N, int K,
                            float alpha, const float *A, int lda, const float *B, int ldb,
                            float beta, float *C, int ldc, const ops_batch *batch)
{
    if (ctx->autocast_bf16)
        return ops_gemm_bf16_batched(ctx, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta,
                                     C, ldc, batch);
    if (!batch || batch->outer < 0 || batch->inner < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_batched: bad batch layout");
    mlm_status st = check_gemm(transa, transb, M, N, K, A, lda, B, ldb, C, ldc);
    if (st != MLM_OK)
        return st;
    size_t count = (size_t)batch->outer * (size_t)batch->inner;
    if (count == 0)
        return MLM_OK;
    batch_job job = {ctx->nthreads, transa, transb, M, N, K, lda, ldb, ldc, alpha, beta,
                     A, B, C, batch};
    double flops = (double)M * N * K;
    /* Small products: a thread each, BLIS single-threaded inside, when the
     * whole batch is worth a thread start (not attention over a dozen
     * tokens). */
    if (ctx->nthreads > 1 && flops < (double)SPLIT_FLOPS && count >= (size_t)ctx->nthreads &&
        flops * (double)count >= (double)SPLIT_FLOPS) {
        job.nthreads = 1;
        par_for(ctx->nthreads, count, 1, batch_range, &job);
    } else {
        batch_range(&job, 0, count);
    }
    return MLM_OK;
}

/* ---------------------------------------------------------------- linear */

mlm_status ops_linear_forward(const ops_ctx *ctx, float *out, const float *inp,
                              const float *weight, const float *bias, int N, int C, int OC)
{
    if (N < 0 || C < 0 || OC < 0 || (N > 0 && OC > 0 && !out))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "linear: bad arguments (N %d, C %d, OC %d)", N,
                       C, OC);
    /* The bias goes in first and the product adds to it (beta = 1): one pass
     * over out instead of two. */
    if (bias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
                out[(size_t)n * OC + o] = bias[o];
    return ops_gemm(ctx, 0, 1, N, OC, C, 1.0f, inp, C > 0 ? C : 1, weight, C > 0 ? C : 1,
                    bias ? 1.0f : 0.0f, out, OC > 0 ? OC : 1);
}

mlm_status ops_linear_backward_to(const ops_ctx *ctx, int set, float *dinp, float *dweight,
                                  float *dbias, const float *dout, const float *inp,
                                  const float *weight, int N, int C, int OC)
{
    if (N < 0 || C < 0 || OC < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "linear backward: negative size");
    int ldc = C > 0 ? C : 1, ldo = OC > 0 ? OC : 1;
    float beta_in = set & OPS_SET_DINP ? 0.0f : 1.0f, beta_w = set & OPS_SET_DWEIGHT ? 0.0f : 1.0f;
    mlm_status st = MLM_OK;
    if (dinp)   /* (N, C) (+)= (N, OC) · (OC, C) */
        st = ops_gemm(ctx, 0, 0, N, C, OC, 1.0f, dout, ldo, weight, ldc, beta_in, dinp, ldc);
    if (st == MLM_OK && dweight)    /* (OC, C) (+)= (N, OC)^T · (N, C) */
        st = ops_gemm(ctx, 1, 0, OC, C, N, 1.0f, dout, ldo, inp, ldc, beta_w, dweight, ldc);
    if (st == MLM_OK && dbias) {
        if (set & OPS_SET_DWEIGHT)
            memset(dbias, 0, (size_t)OC * sizeof *dbias);
        ops_bias_backward(ctx, dbias, dout, N, OC);
    }
    return st;
}

mlm_status ops_linear_backward(const ops_ctx *ctx, float *dinp, float *dweight, float *dbias,
                               const float *dout, const float *inp, const float *weight, int N,
                               int C, int OC)
{
    return ops_linear_backward_to(ctx, 0, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}
