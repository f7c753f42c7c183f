/* The ops layer: every kernel against a naive double-precision reference on
 * odd shapes, every backward against finite differences of that reference,
 * thread-count independence, concurrent contexts, the RNG's known answers
 * and the BLIS kernel-choice rule.
 *
 * Tolerances. Forward kernels are compared per element as
 * |got − ref| <= rtol·(|ref| + scale), with `scale` the largest |ref| of the
 * output (so entries that cancel to ~0 are judged against the output's
 * magnitude, as float arithmetic allows). rtol follows from float32
 * rounding: u = 6e-8 per operation; a kernel doing ~k dependent operations
 * per output is allowed ~8·k·u, e.g. 2e-6 for exp/erf based activations and
 * softmax rows of ≤ 100 entries. GEMM uses the classical bound
 * |error| <= γ_K Σ|a||b| with γ_K = K·u (+2 for alpha/beta).
 * Backward kernels (float) are compared with central differences of the
 * double reference forward (h = 1e-5: truncation ~1e-10, rounding ~1e-11
 * relative), at rtol 1e-4 of the gradient's scale: a float32 backward over
 * sums of ≤ ~100 terms is off by ≲ 100·u = 6e-6, a wrong formula by O(1). */
#include "suites.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mlm.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/threads.h"
#include "nn/ops/bf16.h"
#include "nn/ops/cpu.h"
#include "nn/ops/gemm_bf16.h"
#include "nn/ops/gemm_i8.h"
#include "nn/ops/kernels.h"
#include "nn/ops/qweight.h"
#include "nn/ops/ops.h"
#include "nn/ops/stream.h"
#include "nn/ops/vmath.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t test_seed = 12345;

static float frand(float lo, float hi)
{
    static rng r;
    static int init;
    if (!init) {
        rng_init(&r, test_seed, 999);
        init = 1;
    }
    return lo + (hi - lo) * rng_uniform(&r);
}

static float *frandv(size_t n, float lo, float hi)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand(lo, hi);
    return v;
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* Element-wise closeness as described at the top; returns the worst ratio
 * |got − ref| / (rtol·(|ref| + scale)) so failures print how far off. */
static void assert_close(const char *what, const float *got, const double *ref, size_t n,
                         double rtol)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    if (scale == 0.0)
        scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        ck_assert_msg(err <= rtol * (fabs(ref[i]) + scale),
                      "%s[%zu]: got %.9g want %.9g (err %.3g, scale %.3g)", what, i,
                      (double)got[i], ref[i], err, scale);
    }
}

static ops_ctx ctx_n(int n)
{
    ops_ctx c;
    ops_ctx_init(&c, n);
    return c;
}

/* Central differences of L(x) = Σ g·f(x), f a double reference forward over
 * one packed input vector (nin) to one output vector (nout). */
typedef void (*ref_fn)(double *out, const double *in, const void *param);

static void fd_grad(ref_fn f, const void *param, const double *x, size_t nin, const double *g,
                    size_t nout, double *grad)
{
    const double h = 1e-5;
    double *xx = malloc(nin * sizeof *xx), *out = malloc(nout * sizeof *out);
    memcpy(xx, x, nin * sizeof *xx);
    for (size_t k = 0; k < nin; k++) {
        double lp = 0.0, lm = 0.0;
        xx[k] = x[k] + h;
        f(out, xx, param);
        for (size_t i = 0; i < nout; i++)
            lp += g[i] * out[i];
        xx[k] = x[k] - h;
        f(out, xx, param);
        for (size_t i = 0; i < nout; i++)
            lm += g[i] * out[i];
        xx[k] = x[k];
        grad[k] = (lp - lm) / (2 * h);
    }
    free(xx);
    free(out);
}

/* A backward accumulates: start it from `base` and check got − base. */
static void assert_grad(const char *what, const float *got, const float *base, const double *fd,
                        size_t n)
{
    float *delta = malloc(n * sizeof *delta);
    for (size_t i = 0; i < n; i++)
        delta[i] = got[i] - (base ? base[i] : 0.0f);
    assert_close(what, delta, fd, n, 1e-4);
    free(delta);
}

/* The classical bound on a float32 product's rounding (see the top): an
 * entry summing K products whose magnitudes add up to abs_sum (alpha and
 * beta·C included) is within (K + 3)·u·abs_sum of the exact one, for any
 * order of summation: every CPU path (our kernels, each BLIS kernel set)
 * must meet it. */
static double gemm_bound(int K, double abs_sum) { return (K + 3) * 6e-8 * abs_sum + 1e-30; }

/* got against ref element by element within gemm_bound(K, abs[i]). */
static void assert_gemm_close(const char *what, const float *got, const double *ref,
                              const double *abs, size_t n, int K)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - ref[i]) <= gemm_bound(K, abs[i]),
                      "%s[%zu]: got %.9g want %.9g (bound %.3g)", what, i, (double)got[i], ref[i],
                      gemm_bound(K, abs[i]));
}

/* ---------------------------------------------------------------- RNG */

START_TEST(rng_philox_known_answers)
{
    /* Random123's kat_vectors for philox4x32_10. The counter words are
     * (counter lo, counter hi, stream lo, stream hi), the key the seed. */
    uint32_t out[4];
    rng_block(0, 0, 0, out);
    ck_assert_uint_eq(out[0], 0x6627e8d5u);
    ck_assert_uint_eq(out[1], 0xe169c58du);
    ck_assert_uint_eq(out[2], 0xbc57ac4cu);
    ck_assert_uint_eq(out[3], 0x9b00dbd8u);
    rng_block(UINT64_MAX, UINT64_MAX, UINT64_MAX, out);
    ck_assert_uint_eq(out[0], 0x408f276du);
    ck_assert_uint_eq(out[1], 0x41c83b0eu);
    ck_assert_uint_eq(out[2], 0xa20bc7c6u);
    ck_assert_uint_eq(out[3], 0x6d5451fdu);
    rng_block(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, out);
    ck_assert_uint_eq(out[0], 0xd16cfe09u);
    ck_assert_uint_eq(out[1], 0x94fdccebu);
    ck_assert_uint_eq(out[2], 0x5001e420u);
    ck_assert_uint_eq(out[3], 0x24126ea1u);
    /* The lane-parallel form gives rng_block's words, across the 2^32 carry
     * of the counter and at the known-answer keys. */
    static const uint64_t starts[][3] = {
        {0, 0, 0}, {UINT64_MAX, UINT64_MAX, UINT64_MAX - RNG_LANES},
        {0x299f31d0a4093822ull, 0x0370734413198a2eull, 0xfffffff8ull}};
    for (int k = 0; k < 3; k++) {
        uint32_t lanes[4 * RNG_LANES];
        rng_block_lanes(starts[k][0], starts[k][1], starts[k][2], lanes);
        for (int l = 0; l < RNG_LANES; l++) {
            rng_block(starts[k][0], starts[k][1], starts[k][2] + (uint64_t)l, out);
            ck_assert(memcmp(out, lanes + 4 * l, sizeof out) == 0);
        }
    }
}
END_TEST

START_TEST(rng_streams_and_distributions)
{
    rng a, b, c;
    rng_init(&a, 7, 0);
    rng_init(&b, 7, 0);
    rng_init(&c, 7, 1);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 64; i++) {
        uint32_t x = rng_u32(&a), y = rng_u32(&b), z = rng_u32(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    ck_assert(same_ab);
    ck_assert(!same_ac);

    /* Bulk fills equal the sequential readers. */
    enum { N = 20000 };
    float *u = malloc(N * sizeof *u), *g = malloc(N * sizeof *g);
    rng_fill_uniform(3, 5, 0, u, N, 0.0f, 1.0f);
    rng_fill_normal(3, 6, 0, g, N, 0.0f, 1.0f);
    rng ru, rn;
    rng_init(&ru, 3, 5);
    rng_init(&rn, 3, 6);
    double su = 0, sg = 0, sg2 = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(u[i] == rng_uniform(&ru));
        ck_assert(g[i] == rng_normal(&rn));
        ck_assert(u[i] >= 0.0f && u[i] < 1.0f);
        ck_assert(isfinite(g[i]));
        su += u[i];
        sg += g[i];
        sg2 += (double)g[i] * g[i];
    }
    /* Means within 5 standard errors: 1/sqrt(12 N) and 1/sqrt(N). */
    ck_assert_double_lt(fabs(su / N - 0.5), 5 / sqrt(12.0 * N));
    ck_assert_double_lt(fabs(sg / N), 5 / sqrt((double)N));
    ck_assert_double_lt(fabs(sg2 / N - 1.0), 5 * sqrt(2.0 / N));
    /* An offset fill continues the stream. */
    float tail[4];
    rng_fill_uniform(3, 5, N - 4, tail, 4, 0.0f, 1.0f);
    ck_assert(memcmp(tail, u + N - 4, sizeof tail) == 0);
    free(u);
    free(g);
}
END_TEST

/* ---------------------------------------------------------------- threads */

static void par_mark(void *arg, size_t begin, size_t end)
{
    int *hits = arg;
    for (size_t i = begin; i < end; i++)
        hits[i]++;
}

START_TEST(par_for_covers_once)
{
    int hits[1000];
    for (int t = 1; t <= 5; t++) {
        memset(hits, 0, sizeof hits);
        par_for(t, 1000, 7, par_mark, hits);
        for (int i = 0; i < 1000; i++)
            ck_assert_int_eq(hits[i], 1);
    }
    ck_assert_int_eq(par_chunks(4, 100, 64), 1); /* small work runs inline */
    ck_assert_int_eq(par_chunks(4, 1000, 100), 4);
    ck_assert_int_eq(par_chunks(0, 1000, 1), 1);
}
END_TEST

/* A pool's par_for visits every item once, nested calls (which cannot use
 * the busy pool) included, and two threads sharing one pool (one uses the
 * workers, the other starts threads) both finish with the right counts. */
typedef struct pool_case {
    par_pool *pool;
    int hits[3000];
} pool_case;

static void pool_inner(void *arg, size_t begin, size_t end)
{
    int *hits = arg;
    for (size_t i = begin; i < end; i++)
        __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

static void pool_outer(void *arg, size_t begin, size_t end)
{
    int *hits = arg;
    for (size_t i = begin; i < end; i++)
        par_for(2, 3, 1, pool_inner, hits + 1000 + 3 * i);
}

static void *pool_user(void *arg)
{
    pool_case *c = arg;
    par_pool *before = par_pool_enter(c->pool);
    for (int rep = 0; rep < 50; rep++) {
        par_for(3, 1000, 7, pool_inner, c->hits);
        par_for(3, 600, 1, pool_outer, c->hits);
    }
    par_pool_leave(before);
    return NULL;
}

START_TEST(par_pool_covers_once)
{
    par_pool *pool = par_pool_new(2);
    ck_assert_ptr_nonnull(pool);
    ck_assert_ptr_null(par_pool_new(0));
    pool_case a = {pool, {0}}, b = {pool, {0}};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, pool_user, &b), 0);
    pool_user(&a);
    pthread_join(t, NULL);
    for (int i = 0; i < 2800; i++) {
        ck_assert_int_eq(a.hits[i], 50);
        ck_assert_int_eq(b.hits[i], 50);
    }
    par_pool_free(pool);
    par_pool_free(NULL);
}
END_TEST

/* ---------------------------------------------------------------- GEMM */

/* op(X)[i][k] of a row-major stored matrix. */
static double opel(const float *X, int ld, int trans, int i, int k)
{
    return trans ? X[(size_t)k * ld + i] : X[(size_t)i * ld + k];
}

static void check_gemm_case(const ops_ctx *ctx, int ta, int tb, int M, int N, int K, int pad,
                            float alpha, float beta)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    if (lda < 1)
        lda = 1;
    if (ldb < 1)
        ldb = 1;
    if (ldc < 1)
        ldc = 1;
    size_t na = (size_t)lda * (ta ? K : M), nb = (size_t)ldb * (tb ? N : K), nc = (size_t)ldc * M;
    float *A = frandv(na, -1, 1), *B = frandv(nb, -1, 1), *C = frandv(nc, -1, 1);
    float *C0 = malloc((nc ? nc : 1) * sizeof *C0);
    if (beta == 0.0f) /* beta = 0 must ignore whatever C held */
        for (size_t i = 0; i < nc; i++)
            C[i] = NAN;
    memcpy(C0, C, nc * sizeof *C);
    ck_assert_int_eq(ops_gemm(ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), MLM_OK);
    const double u = 6e-8;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0, abs_s = 0;
            for (int k = 0; k < K; k++) {
                double p = opel(A, lda, ta, i, k) * opel(B, ldb, tb, k, j);
                s += p;
                abs_s += fabs(p);
            }
            double c0 = beta == 0.0f ? 0.0 : C0[(size_t)i * ldc + j];
            double ref = alpha * s + beta * c0;
            double bound = (K + 3) * u * (fabs(alpha) * abs_s + fabs(beta * c0)) + 1e-30;
            double got = C[(size_t)i * ldc + j];
            ck_assert_msg(fabs(got - ref) <= bound,
                          "gemm ta=%d tb=%d %dx%dx%d pad %d: C[%d,%d] = %.9g, want %.9g", ta, tb,
                          M, N, K, pad, i, j, got, ref);
        }
        /* The padding between rows is never touched. */
        for (int j = N; j < ldc; j++)
            ck_assert(memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof(float)) == 0);
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

START_TEST(gemm_matches_reference)
{
    static const int sizes[] = {1, 3, 17, 33, 65};
    ops_ctx ctx = ctx_n(_i + 1);
    int n = 0;
    for (int mi = 0; mi < 5; mi++)
        for (int ni = 0; ni < 5; ni++)
            for (int ki = 0; ki < 5; ki++) {
                /* All transposes on a third of the shapes, one on the rest. */
                n++;
                for (int t = 0; t < 4; t++) {
                    if (n % 3 != 0 && t != n % 4)
                        continue;
                    float beta = (t & 1) ? 0.0f : 0.5f;
                    check_gemm_case(&ctx, t & 1, t >> 1, sizes[mi], sizes[ni], sizes[ki],
                                    (n % 2) * 3, 1.5f, beta);
                }
            }
    /* GEMV paths, K = 0, alpha = 0, the large-M kernel. */
    for (int t = 0; t < 4; t++) {
        check_gemm_case(&ctx, t & 1, t >> 1, 1, 130, 77, 2, 1.0f, 0.0f);
        check_gemm_case(&ctx, t & 1, t >> 1, 130, 1, 77, 2, -1.0f, 1.0f);
        check_gemm_case(&ctx, t & 1, t >> 1, 1, 1, 77, 0, 1.0f, 0.25f);
        check_gemm_case(&ctx, t & 1, t >> 1, 5, 6, 0, 1, 1.0f, 0.5f);
        check_gemm_case(&ctx, t & 1, t >> 1, 5, 6, 7, 1, 0.0f, 0.0f);
        check_gemm_case(&ctx, t & 1, t >> 1, 200, 96, 150, 5, 1.0f, 1.0f);
    }
    check_gemm_case(&ctx, 0, 0, 0, 5, 5, 0, 1.0f, 0.0f);
    check_gemm_case(&ctx, 0, 0, 5, 0, 5, 0, 1.0f, 0.0f);
}
END_TEST

/* The thin products of batch-1 inference (x·Wᵀ, alpha = 1, a few rows:
 * nn/ops/gemm_small.c where the CPU has AVX-512, BLIS elsewhere): every
 * row-count tail of the 6-row tiles, the 4-row blocks of W and their
 * 1-row tail, k tails below 16, k chunks (256), rows 4 KB apart (the
 * padded copy of A), strided matrices, beta 0 over NaN and beta 1; and the
 * same bits for 1, 2 and 3 threads. */
START_TEST(gemm_small_m_matches_reference)
{
    static const int shapes[][3] = {
        {2, 5, 16},    {5, 3, 17},    {6, 4, 31},    {7, 9, 48},   {12, 67, 768},
        {13, 130, 257}, {47, 21, 520}, {48, 8, 1024}, {12, 300, 100}, {3, 1, 16},
    };
    for (int s = 0; s < 10; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int t = 1; t <= 2; t++) {
            ops_ctx ctx = ctx_n(t);
            check_gemm_case(&ctx, 0, 1, M, N, K, s % 3 == 0 ? 0 : 2 * s, 1.0f, 0.0f);
            check_gemm_case(&ctx, 0, 1, M, N, K, s % 2 ? 0 : 4, 1.0f, 1.0f);
        }
    }
    /* Bitwise identical across thread counts on a product big enough to
     * split (M·N·K >= 2^20 multiply-adds). */
    int M = 12, N = 1000, K = 768;
    float *A = frandv((size_t)M * K, -1, 1), *W = frandv((size_t)N * K, -1, 1);
    float *C1 = malloc((size_t)M * N * sizeof *C1), *Ct = malloc((size_t)M * N * sizeof *Ct);
    ops_ctx one = ctx_n(1);
    ck_assert_int_eq(ops_gemm(&one, 0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, C1, N), MLM_OK);
    for (int t = 2; t <= 3; t++) {
        ops_ctx ctx = ctx_n(t);
        ck_assert_int_eq(ops_gemm(&ctx, 0, 1, M, N, K, 1.0f, A, K, W, K, 0.0f, Ct, N), MLM_OK);
        ck_assert(memcmp(C1, Ct, (size_t)M * N * sizeof *C1) == 0);
    }
    free(A);
    free(W);
    free(C1);
    free(Ct);
}
END_TEST

/* Small products in cache (nn/ops/gemm_tile.c where the CPU has AVX-512,
 * BLIS elsewhere): every row tail of the 6-row tiles, column tails of the
 * 16-wide vectors and 64-column blocks, the 16×16 transposes of op(B) = Bᵀ
 * and their edges, each transpose, beta 0 over NaN and beta 1, padded
 * leading dimensions; at attention's shapes too. Then what the kernel
 * promises: a row of C is the same bits whatever M, and a zero tail of k
 * changes nothing. */
START_TEST(gemm_tile_matches_reference)
{
    /* 55 > GEMM_SMALL_MAX_M: op(B) = Bᵀ with fewer rows goes to gemm_small */
    static const int ms[] = {1, 5, 6, 7, 13, 55};
    static const int ns[] = {1, 15, 16, 17, 64, 65, 130};
    static const int ks[] = {1, 7, 16, 33, 64};
    ops_ctx ctx = ctx_n(1);
    for (int t = 0; t < 3; t++) /* NN, NT, TN */
        for (int mi = 0; mi < 6; mi++)
            for (int ni = 0; ni < 7; ni++)
                for (int ki = 0; ki < 5; ki++) {
                    int ta = t == 2, tb = t == 1, pad = (mi + ni + ki) % 3;
                    check_gemm_case(&ctx, ta, tb, ms[mi], ns[ni], ks[ki], pad, 1.0f,
                                    (mi + ki) % 2 ? 1.0f : 0.0f);
                }
    for (int t = 0; t < 3; t++) {
        check_gemm_case(&ctx, t == 2, t == 1, 128, 128, 64, 3, 1.0f, 0.0f);
        check_gemm_case(&ctx, t == 2, t == 1, 128, 64, 128, 0, 1.0f, 1.0f);
    }
    /* Row 4 of a 13-row product against the same row alone, and with 9
     * more k of zeros in A (p·v with padded keys). */
    enum { M = 13, N = 70, K = 40, KZ = K + 9 };
    for (int t = 0; t < 3; t++) {
        int ta = t == 2, tb = t == 1;
        float *A = frandv((size_t)M * KZ, -1, 1), *B = frandv((size_t)KZ * N, -1, 1);
        for (int i = 0; i < M; i++)
            for (int k = K; k < KZ; k++) {
                if (ta)
                    A[(size_t)k * M + i] = 0.0f;
                else
                    A[(size_t)i * KZ + k] = 0.0f;
            }
        float *C = malloc((size_t)M * N * sizeof *C), *R = malloc((size_t)N * sizeof *R);
        float *Z = malloc((size_t)N * sizeof *Z);
        int lda = ta ? M : KZ, ldb = tb ? KZ : N;
        ck_assert_int_eq(ops_gemm(&ctx, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N),
                         MLM_OK);
        const float *a4 = ta ? A + 4 : A + (size_t)4 * KZ;
        ck_assert_int_eq(ops_gemm(&ctx, ta, tb, 1, N, K, 1.0f, a4, lda, B, ldb, 0.0f, R, N),
                         MLM_OK);
        ck_assert_int_eq(ops_gemm(&ctx, ta, tb, 1, N, KZ, 1.0f, a4, lda, B, ldb, 0.0f, Z, N),
                         MLM_OK);
        /* (A row alone of op(B) = Bᵀ goes to gemm_small.c, whose rows are
         * independent of M too but whose sums are split by k mod 16.) */
        if (cpu_vec_level() >= CPU_VEC_AVX512) {
            ck_assert(memcmp(C + (size_t)4 * N, R, (size_t)N * sizeof *R) == 0);
            if (!tb)
                ck_assert(memcmp(R, Z, (size_t)N * sizeof *R) == 0);
        }
        free(A);
        free(B);
        free(C);
        free(R);
        free(Z);
    }
}
END_TEST

START_TEST(gemm_rejects_bad_arguments)
{
    ops_ctx ctx = ctx_n(1);
    float a[16] = {0}, b[16] = {0}, c[16] = {0};
    ck_assert_int_eq(ops_gemm(&ctx, 0, 0, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm(&ctx, 1, 0, 3, 2, 2, 1, a, 2, b, 2, 0, c, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm(&ctx, 0, 1, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm(&ctx, 0, 0, 2, 3, 2, 1, a, 2, b, 3, 0, c, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm(&ctx, 0, 0, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm(&ctx, 0, 0, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "gemm"));
    ck_assert_int_eq(ops_gemm(&ctx, 0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2), MLM_OK);
}
END_TEST

/* BLIS 0.9.0's sup kernels read 4-8 bytes past C's last row for a 2-column
 * edge with beta != 0 (flame/blis#635), and under valgrind with beta = 0
 * too: with C ending at a guard page that would fault; ops_gemm must not
 * read there. */
START_TEST(gemm_never_reads_past_c)
{
    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(mem != MAP_FAILED);
    ck_assert_int_eq(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
    ops_ctx ctx = ctx_n(1);
    static const int ns[] = {2, 3, 18, 19, 22, 30, 31, 50, 130};
    for (int i = 0; i < 36; i++) {
        /* BLIS as on a CPU without AVX-512, then as here */
        cpu_vec_limit(i < 18 ? CPU_VEC_AVX2 : CPU_VEC_AVX512);
        int M = 5, N = ns[i % 18 / 2], K = 7;
        float beta = (float)(i % 2);
        float *C = (float *)(mem + page) - (size_t)M * N;
        float *A = frandv((size_t)M * K, -1, 1), *B = frandv((size_t)K * N, -1, 1);
        for (int j = 0; j < M * N; j++)
            C[j] = 1.0f;
        ck_assert_int_eq(ops_gemm(&ctx, 0, 0, M, N, K, 1.0f, A, K, B, N, beta, C, N), MLM_OK);
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) {
                double ref = beta, abs_sum = beta;
                for (int k = 0; k < K; k++) {
                    ref += (double)A[r * K + k] * B[k * N + c];
                    abs_sum += fabs((double)A[r * K + k] * B[k * N + c]);
                }
                ck_assert_double_le(fabs(C[r * N + c] - ref), gemm_bound(K, abs_sum));
            }
        free(A);
        free(B);
    }
    munmap(mem, 2 * (size_t)page);
}
END_TEST

/* n floats that end where a PROT_NONE page begins. */
static float *against_guard(char *mem, long page, size_t n)
{
    return (float *)(void *)(mem + 4 * page) - n;
}

/* BLIS 0.9.0's sup dot-product kernels (A by rows, B by columns: x·Wᵀ)
 * read a whole row past A's last one for some M at K % 8 != 0 (found with
 * this test: M % 3 == 1 from 4 to 22, N >= 16). Each operand in turn ends
 * at a guard page, for every transpose, with the thin products on BLIS
 * (vector level AVX2: what a CPU without AVX-512 runs) and on
 * gemm_small.c; the results are checked too. */
START_TEST(gemm_never_reads_past_operands)
{
    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 5 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    ck_assert(mem != MAP_FAILED);
    ck_assert_int_eq(mprotect(mem + 4 * page, (size_t)page, PROT_NONE), 0);
    static const int ms[] = {2, 4, 7, 10, 13, 22, 64};
    static const int ns[] = {1, 2, 16, 17, 33};
    static const int ks[] = {3, 8, 9, 19, 33};
    ops_ctx ctx = ctx_n(1);
    for (int vec = 0; vec < 2; vec++) {
        cpu_vec_limit(vec ? CPU_VEC_AVX512 : CPU_VEC_AVX2);
        for (int t = 0; t < 4; t++)
            for (int im = 0; im < 7; im++)
                for (int in = 0; in < 5; in++)
                    for (int ik = 0; ik < 5; ik++) {
                        int ta = t >> 1, tb = t & 1, M = ms[im], N = ns[in], K = ks[ik];
                        for (int guarded = 0; guarded < 3; guarded++) {
                            size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
                            float *A = frandv(na, -1, 1), *B = frandv(nb, -1, 1);
                            float *C = malloc(nc * sizeof *C);
                            float *g = guarded == 0 ? A : guarded == 1 ? B : C;
                            size_t ng = guarded == 0 ? na : guarded == 1 ? nb : nc;
                            float *at = against_guard(mem, page, ng);
                            memcpy(at, g, ng * sizeof *at);
                            float *a = guarded == 0 ? at : A, *b = guarded == 1 ? at : B;
                            float *c = guarded == 2 ? at : C;
                            for (size_t i = 0; i < nc; i++)
                                c[i] = 0.5f;
                            ck_assert_int_eq(ops_gemm(&ctx, ta, tb, M, N, K, 1.0f, a, ta ? M : K,
                                                      b, tb ? K : N, 1.0f, c, N),
                                             MLM_OK);
                            for (int i = 0; i < M; i++)
                                for (int j = 0; j < N; j++) {
                                    double ref = 0.5, abs_sum = 0.5;
                                    for (int k = 0; k < K; k++) {
                                        double term = opel(a, ta ? M : K, ta, i, k) *
                                                      opel(b, tb ? K : N, tb, k, j);
                                        ref += term;
                                        abs_sum += fabs(term);
                                    }
                                    ck_assert_msg(fabs(c[(size_t)i * N + j] - ref) <=
                                                      gemm_bound(K, abs_sum),
                                                  "ta %d tb %d %dx%dx%d", ta, tb, M, N, K);
                                }
                            free(A);
                            free(B);
                            free(C);
                        }
                    }
    }
    cpu_vec_limit(CPU_VEC_AVX512);
    munmap(mem, 5 * (size_t)page);
}
END_TEST

/* Attention's two products on a (B, T, H·D) layout, without a permute:
 * scores[b,h] = Q[b,:,h] · K[b,:,h]^T, then ctx[b,:,h] = P[b,h] · V[b,:,h]. */
START_TEST(gemm_batched_attention_layout)
{
    enum { Bn = 3, T = 17, H = 4, D = 8 };
    size_t nq = (size_t)Bn * T * H * D, ns = (size_t)Bn * H * T * T;
    float *Q = frandv(nq, -1, 1), *Kt = frandv(nq, -1, 1), *V = frandv(nq, -1, 1);
    float *S1 = calloc(ns, sizeof *S1), *S2 = calloc(ns, sizeof *S2);
    float *O1 = calloc(nq, sizeof *O1), *O2 = calloc(nq, sizeof *O2);
    ops_batch sb = {Bn, H, (long)T * H * D, D, (long)T * H * D, D, (long)H * T * T, (long)T * T};
    ops_batch ob = {Bn, H, (long)H * T * T, (long)T * T, (long)T * H * D, D, (long)T * H * D, D};
    for (int t = 1; t <= 2; t++) {
        ops_ctx ctx = ctx_n(t);
        float *S = t == 1 ? S1 : S2, *O = t == 1 ? O1 : O2;
        ck_assert_int_eq(ops_gemm_batched(&ctx, 0, 1, T, T, D, 0.5f, Q, H * D, Kt, H * D, 0.0f,
                                          S, T, &sb), MLM_OK);
        ck_assert_int_eq(ops_gemm_batched(&ctx, 0, 0, T, D, T, 1.0f, S, T, V, H * D, 0.0f, O,
                                          H * D, &ob), MLM_OK);
    }
    /* Splitting the batch over threads leaves each product as it was. */
    ck_assert(memcmp(S1, S2, ns * sizeof *S1) == 0);
    ck_assert(memcmp(O1, O2, nq * sizeof *O1) == 0);
    double *ref = malloc(ns * sizeof *ref), *abs_s = malloc(ns * sizeof *abs_s);
    for (int b = 0; b < Bn; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) {
                    double s = 0, a = 0;
                    for (int d = 0; d < D; d++) {
                        double t = (double)Q[((size_t)b * T + i) * H * D + h * D + d] *
                                   Kt[((size_t)b * T + j) * H * D + h * D + d];
                        s += t;
                        a += fabs(t);
                    }
                    ref[(((size_t)b * H + h) * T + i) * T + j] = 0.5 * s;
                    abs_s[(((size_t)b * H + h) * T + i) * T + j] = 0.5 * a;
                }
    assert_gemm_close("scores", S1, ref, abs_s, ns, D);
    double *oref = malloc(nq * sizeof *oref), *oabs = malloc(nq * sizeof *oabs);
    for (int b = 0; b < Bn; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
                for (int d = 0; d < D; d++) {
                    double s = 0, a = 0;
                    for (int j = 0; j < T; j++) {
                        double t = (double)S1[(((size_t)b * H + h) * T + i) * T + j] *
                                   V[((size_t)b * T + j) * H * D + h * D + d];
                        s += t;
                        a += fabs(t);
                    }
                    oref[((size_t)b * T + i) * H * D + h * D + d] = s;
                    oabs[((size_t)b * T + i) * H * D + h * D + d] = a;
                }
    assert_gemm_close("context", O1, oref, oabs, nq, T);
    ops_ctx one = ctx_n(1);
    ck_assert_int_eq(ops_gemm_batched(&one, 0, 0, 2, 2, 2, 1, Q, 2, Kt, 2, 0, S1, 2, NULL),
                     MLM_ERR_INVALID_ARGUMENT);
    free(Q); free(Kt); free(V); free(S1); free(S2); free(O1); free(O2); free(ref); free(oref);
    free(abs_s); free(oabs);
}
END_TEST

/* ---------------------------------------------------------------- linear */

typedef struct lin_param { int N, C, OC; } lin_param;

/* in = [inp (N, C), weight (OC, C), bias (OC)] -> out (N, OC) */
static void ref_linear(double *out, const double *in, const void *param)
{
    const lin_param *p = param;
    const double *x = in, *w = in + p->N * p->C, *b = w + p->OC * p->C;
    for (int n = 0; n < p->N; n++)
        for (int o = 0; o < p->OC; o++) {
            double s = b[o];
            for (int c = 0; c < p->C; c++)
                s += x[n * p->C + c] * w[o * p->C + c];
            out[n * p->OC + o] = s;
        }
}

START_TEST(linear_forward_backward)
{
    static const int shapes[][3] = {{1, 3, 5}, {3, 17, 1}, {17, 33, 9}, {65, 7, 3}};
    ops_ctx ctx = ctx_n(2);
    for (int s = 0; s < 4; s++) {
        lin_param p = {shapes[s][0], shapes[s][1], shapes[s][2]};
        size_t nx = (size_t)p.N * p.C, nw = (size_t)p.OC * p.C, no = (size_t)p.N * p.OC;
        size_t nin = nx + nw + p.OC;
        float *in = frandv(nin, -1, 1), *out = frandv(no, -1, 1), *g = frandv(no, -1, 1);
        double *din = to_double(in, nin), *ref = malloc(no * sizeof *ref);
        ref_linear(ref, din, &p);
        ck_assert_int_eq(ops_linear_forward(&ctx, out, in, in + nx, in + nx + nw, p.N, p.C, p.OC), MLM_OK);
        double *abs_s = malloc(no * sizeof *abs_s);
        for (int n = 0; n < p.N; n++)
            for (int o = 0; o < p.OC; o++) {
                double a = fabs(din[nx + nw + o]);
                for (int c = 0; c < p.C; c++)
                    a += fabs(din[n * p.C + c] * din[nx + o * p.C + c]);
                abs_s[n * p.OC + o] = a;
            }
        assert_gemm_close("linear", out, ref, abs_s, no, p.C);
        free(abs_s);
        float *grad = frandv(nin, -1, 1), *base = malloc(nin * sizeof *base);
        memcpy(base, grad, nin * sizeof *base);
        ck_assert_int_eq(ops_linear_backward(&ctx, grad, grad + nx, grad + nx + nw, g, in, in + nx,
                                             p.N, p.C, p.OC), MLM_OK);
        double *dg = to_double(g, no), *fd = malloc(nin * sizeof *fd);
        fd_grad(ref_linear, &p, din, nin, dg, no, fd);
        assert_grad("linear grad", grad, base, fd, nin);
        /* the first contribution overwrites dinp (NaN there is not read)
         * and still adds to dweight and dbias: the values of zeroing dinp
         * and accumulating */
        float *first = malloc(nin * sizeof *first), *zeroed = malloc(nin * sizeof *zeroed);
        memcpy(first, base, nin * sizeof *first);
        memcpy(zeroed, base, nin * sizeof *zeroed);
        for (size_t i = 0; i < nx; i++) {
            first[i] = NAN;
            zeroed[i] = 0.0f;
        }
        ck_assert_int_eq(ops_linear_backward_to(&ctx, OPS_SET_DINP, first, first + nx, first + nx + nw, g, in,
                                                   in + nx, p.N, p.C, p.OC), MLM_OK);
        ck_assert_int_eq(ops_linear_backward(&ctx, zeroed, zeroed + nx, zeroed + nx + nw, g, in,
                                             in + nx, p.N, p.C, p.OC), MLM_OK);
        for (size_t i = 0; i < nin; i++)
            ck_assert(first[i] == zeroed[i]);
        free(first);
        free(zeroed);
        free(in); free(out); free(g); free(din); free(ref); free(grad); free(base); free(dg); free(fd);
    }
}
END_TEST

/* ---------------------------------------------------------------- activations */

typedef struct act_case {
    const char *name;
    void (*fwd)(const ops_ctx *, float *, const float *, size_t);
    void (*bwd)(const ops_ctx *, float *, const float *, const float *, size_t);
    double (*ref)(double);
    double rtol;
} act_case;

/* 0.5·x·(1 + erf(x/√2)) written with erfc, and 0.5·(1 + tanh u) as the
 * identical σ(2u): in double, 1 + erf and 1 + tanh round to 0 for x < −8,
 * and the reference must keep the tail that the kernels do. */
static double gelu_ref(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_tanh_ref(double x)
{
    return x / (1 + exp(-2 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double relu_ref(double x) { return x > 0 ? x : 0; }

static const act_case acts[] = {
    {"gelu", ops_gelu_forward, ops_gelu_backward, gelu_ref, 2e-6},
    {"gelu_tanh", ops_gelu_tanh_forward, ops_gelu_tanh_backward, gelu_tanh_ref, 2e-6},
    {"relu", ops_relu_forward, ops_relu_backward, relu_ref, 0},
};

static void ref_act(double *out, const double *in, const void *param)
{
    const act_case *a = *(const act_case *const *)param;
    out[0] = a->ref(in[0]);
}

START_TEST(activations_forward_backward)
{
    const act_case *a = &acts[_i];
    ops_ctx ctx = ctx_n(1);
    /* Both tails of erf/tanh, the region around 0, odd length. */
    enum { N = 1001 };
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) {
        x[i] = -12.0f + 24.0f * (float)i / (N - 1);
        if (fabsf(x[i]) < 1e-3f)
            x[i] = 0.01f; /* keep ReLU's kink out of the difference quotient */
    }
    float *y = malloc(N * sizeof *y);
    double *ref = malloc(N * sizeof *ref);
    a->fwd(&ctx, y, x, N);
    for (int i = 0; i < N; i++)
        ref[i] = a->ref(x[i]);
    /* Relative tolerance, so GELU's negative tail (x·Φ(x) ~ 1e-32 near
     * x = −12) must keep its relative precision, scaled by the condition
     * number κ = |x·f'(x)/f(x)|: a float algorithm that is backward stable
     * returns f(x(1 + δ)), |δ| a few ulps, so its relative error is ~κ·δ
     * (κ ≈ x² in the tail: e^(−x²/2) of an argument rounded to float). */
    for (int i = 0; i < N; i++) {
        double xi = x[i], one = 1.0, d;
        fd_grad(ref_act, &a, &xi, 1, &one, 1, &d);
        double kappa = ref[i] != 0 ? fabs(xi * d / ref[i]) : 0;
        /* + 1e-37: values within a few FLT_MIN of 0 may flush to 0 (the exp
         * of their intermediate over- or underflows). */
        ck_assert_msg(fabs(y[i] - ref[i]) <= a->rtol * (1 + kappa) * fabs(ref[i]) + 1e-37,
                      "%s(%.9g) = %.9g, want %.9g (kappa %.3g)", a->name, (double)x[i],
                      (double)y[i], ref[i], kappa);
    }
    /* In place. */
    float *z = malloc(N * sizeof *z);
    memcpy(z, x, N * sizeof *z);
    a->fwd(&ctx, z, z, N);
    ck_assert(memcmp(z, y, N * sizeof *z) == 0);
    /* Backward against the derivative of the double reference. */
    float *g = frandv(N, -1, 1), *dx = frandv(N, -1, 1), *base = malloc(N * sizeof *base);
    memcpy(base, dx, N * sizeof *base);
    a->bwd(&ctx, dx, g, x, N);
    double *fd = malloc(N * sizeof *fd);
    for (int i = 0; i < N; i++) {
        double xi = x[i], gi = g[i], d;
        fd_grad(ref_act, &a, &xi, 1, &gi, 1, &d);
        fd[i] = d;
    }
    assert_grad(a->name, dx, base, fd, N);
    free(x); free(y); free(ref); free(z); free(g); free(dx); free(base); free(fd);
}
END_TEST

START_TEST(bias_forward_backward)
{
    ops_ctx ctx = ctx_n(2);
    static const int shapes[][2] = {{1, 1}, {3, 17}, {65, 33}, {300, 257}};
    for (int s = 0; s < 4; s++) {
        int N = shapes[s][0], C = shapes[s][1];
        size_t n = (size_t)N * C;
        float *x = frandv(n, -1, 1), *b = frandv(C, -1, 1), *out = malloc(n * sizeof *out);
        memcpy(out, x, n * sizeof *out);
        ops_bias_forward(&ctx, out, b, N, C);
        for (size_t i = 0; i < n; i++)
            ck_assert(out[i] == x[i] + b[i % C]);
        float *db = frandv(C, -1, 1), *base = malloc(C * sizeof *base);
        memcpy(base, db, C * sizeof *base);
        ops_bias_backward(&ctx, db, x, N, C);
        double *ref = calloc(C, sizeof *ref); /* d/db Σ g·(x + b) = Σ_n g */
        for (size_t i = 0; i < n; i++)
            ref[i % C] += x[i];
        assert_grad("dbias", db, base, ref, C);
        free(x); free(b); free(out); free(db); free(base); free(ref);
    }
}
END_TEST

/* ---------------------------------------------------------------- softmax */

typedef struct sm_param {
    int rows, cols, per;
    float scale;
    const float *mask;
} sm_param;

static void ref_softmax(double *out, const double *in, const void *param)
{
    const sm_param *p = param;
    for (int r = 0; r < p->rows; r++) {
        const double *x = in + (size_t)r * p->cols;
        double *o = out + (size_t)r * p->cols, mx = -INFINITY, s = 0;
        for (int c = 0; c < p->cols; c++) {
            o[c] = p->scale * x[c] + (p->mask ? p->mask[(r / p->per) * p->cols + c] : 0.0);
            mx = fmax(mx, o[c]);
        }
        for (int c = 0; c < p->cols; c++)
            s += (o[c] = exp(o[c] - mx));
        for (int c = 0; c < p->cols; c++)
            o[c] /= s;
    }
}

START_TEST(softmax_masked_forward_backward)
{
    /* Attention shape B=2, H=3, T=17: mask (B, T) with padding at the end
     * of batch 1, as HF builds it: (1 − m)·finfo(float32).min. */
    enum { Bn = 2, H = 3, T = 17 };
    const float fmin = -3.4028234663852886e38f;
    float mask[Bn * T];
    for (int j = 0; j < T; j++) {
        mask[j] = 0.0f;
        mask[T + j] = j < 11 ? 0.0f : fmin;
    }
    sm_param p = {Bn * H * T, T, H * T, 0.125f, mask};
    size_t n = (size_t)p.rows * p.cols;
    float *x = frandv(n, -8, 8), *y = malloc(n * sizeof *y);
    ops_ctx ctx = ctx_n(1);
    ops_softmax_forward(&ctx, y, x, p.scale, mask, p.per, p.rows, p.cols);
    double *dx = to_double(x, n), *ref = malloc(n * sizeof *ref);
    ref_softmax(ref, dx, &p);
    assert_close("softmax", y, ref, n, 2e-6);
    for (int r = Bn * H * T / 2; r < p.rows; r++)
        for (int j = 11; j < T; j++)
            ck_assert(y[(size_t)r * T + j] == 0.0f);
    float *g = frandv(n, -1, 1), *d = frandv(n, -1, 1), *base = malloc(n * sizeof *base);
    memcpy(base, d, n * sizeof *base);
    ops_softmax_backward(&ctx, d, g, y, p.scale, p.rows, p.cols);
    double *dg = to_double(g, n), *fd = malloc(n * sizeof *fd);
    fd_grad(ref_softmax, &p, dx, n, dg, n, fd);
    assert_grad("softmax grad", d, base, fd, n);
    /* In place, and without a mask (1 row per mask row is irrelevant). */
    ops_softmax_forward(&ctx, x, x, p.scale, mask, p.per, p.rows, p.cols);
    ck_assert(memcmp(x, y, n * sizeof *x) == 0);
    free(x); free(y); free(dx); free(ref); free(g); free(d); free(base); free(dg); free(fd);
}
END_TEST

START_TEST(softmax_fully_masked_row_is_uniform)
{
    const float fmin = -3.4028234663852886e38f;
    float mask[5] = {fmin, fmin, fmin, fmin, fmin}, x[10], y[10];
    for (int i = 0; i < 10; i++)
        x[i] = (float)i - 3.0f;
    ops_ctx ctx = ctx_n(1);
    ops_softmax_forward(&ctx, y, x, 1.0f, mask, 2, 2, 5);
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(y[i], 0.2f);
    float minf[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    ops_softmax_forward(&ctx, y, x, 1.0f, minf, 2, 2, 5);
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(y[i], 0.2f);
}
END_TEST

/* ---------------------------------------------------------------- layer norm */

typedef struct ln_param { int N, C; double eps; } ln_param;

/* in = [x (N, C), w (C), b (C)] -> out (N, C) */
static void ref_layernorm(double *out, const double *in, const void *param)
{
    const ln_param *p = param;
    const double *w = in + p->N * p->C, *b = w + p->C;
    for (int n = 0; n < p->N; n++) {
        const double *x = in + n * p->C;
        double m = 0, v = 0;
        for (int c = 0; c < p->C; c++)
            m += x[c];
        m /= p->C;
        for (int c = 0; c < p->C; c++)
            v += (x[c] - m) * (x[c] - m);
        double s = 1 / sqrt(v / p->C + p->eps);
        for (int c = 0; c < p->C; c++)
            out[n * p->C + c] = (x[c] - m) * s * w[c] + b[c];
    }
}

START_TEST(layernorm_forward_backward)
{
    static const int shapes[][2] = {{1, 1}, {3, 17}, {5, 33}, {2, 65}};
    ops_ctx ctx = ctx_n(2);
    for (int s = 0; s < 4; s++) {
        ln_param p = {shapes[s][0], shapes[s][1], 1e-5};
        size_t n = (size_t)p.N * p.C, nin = n + 2 * (size_t)p.C;
        float *in = frandv(nin, -2, 2), *out = malloc(n * sizeof *out);
        for (size_t i = 0; i < n; i++)
            in[i] += 3.0f; /* an offset mean, which a one-pass variance would lose */
        float *mean = malloc(p.N * sizeof *mean), *rstd = malloc(p.N * sizeof *rstd);
        ops_layernorm_forward(&ctx, out, mean, rstd, in, in + n, in + n + p.C, p.N, p.C, 1e-5f);
        double *din = to_double(in, nin), *ref = malloc(n * sizeof *ref);
        ref_layernorm(ref, din, &p);
        assert_close("layernorm", out, ref, n, 4e-6);
        for (int r = 0; r < p.N; r++) {
            double m = 0, v = 0;
            for (int c = 0; c < p.C; c++)
                m += din[r * p.C + c];
            m /= p.C;
            for (int c = 0; c < p.C; c++)
                v += (din[r * p.C + c] - m) * (din[r * p.C + c] - m);
            ck_assert_double_le(fabs(mean[r] - m), 1e-6 * (fabs(m) + 1));
            ck_assert_double_le(fabs(rstd[r] - 1 / sqrt(v / p.C + 1e-5)), 1e-5 / sqrt(v / p.C + 1e-5));
        }
        float *g = frandv(n, -1, 1), *grad = frandv(nin, -1, 1), *base = malloc(nin * sizeof *base);
        memcpy(base, grad, nin * sizeof *base);
        ops_layernorm_backward(&ctx, grad, grad + n, grad + n + p.C, g, in, in + n, mean, rstd, p.N, p.C);
        double *dg = to_double(g, n), *fd = malloc(nin * sizeof *fd);
        fd_grad(ref_layernorm, &p, din, nin, dg, n, fd);
        assert_grad("layernorm grad", grad, base, fd, nin);
        free(in); free(out); free(mean); free(rstd); free(din); free(ref);
        free(g); free(grad); free(base); free(dg); free(fd);
    }
}
END_TEST

/* ---------------------------------------------------------------- RMS norm, product */

/* in = [x (N, C), w (C)] -> out (N, C) = w ⊙ x/√(mean(x²) + eps) */
static void ref_rmsnorm(double *out, const double *in, const void *param)
{
    const ln_param *p = param;
    const double *w = in + p->N * p->C;
    for (int n = 0; n < p->N; n++) {
        const double *x = in + n * p->C;
        double v = 0;
        for (int c = 0; c < p->C; c++)
            v += x[c] * x[c];
        double r = 1 / sqrt(v / p->C + p->eps);
        for (int c = 0; c < p->C; c++)
            out[n * p->C + c] = w[c] * x[c] * r;
    }
}

/* in = [a (n), b (n)] -> out (n) = a ⊙ b */
static void ref_mul(double *out, const double *in, const void *param)
{
    size_t n = *(const size_t *)param;
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] * in[n + i];
}

/* T5's RMS norm and the gated FFN's product: forward against double,
 * backward against central differences of the double forward; the
 * forward that keeps rstd computes the plain forward's floats; every
 * vector level and thread count the same bits. */
START_TEST(rmsnorm_and_product_forward_backward)
{
    static const int shapes[][2] = {{1, 1}, {3, 17}, {5, 33}, {2, 65}};
    ops_ctx ctx = ctx_n(2);
    for (int s = 0; s < 4; s++) {
        ln_param p = {shapes[s][0], shapes[s][1], 1e-6};
        size_t n = (size_t)p.N * p.C, nin = n + (size_t)p.C;
        float *in = frandv(nin, -2, 2), *out = malloc(n * sizeof *out), *out2 = malloc(n * sizeof *out2);
        float *rstd = malloc(p.N * sizeof *rstd);
        ops_rmsnorm_forward_rstd(&ctx, out, rstd, in, in + n, p.N, p.C, 1e-6f);
        ops_rmsnorm_forward(&ctx, out2, in, in + n, p.N, p.C, 1e-6f);
        ck_assert_int_eq(memcmp(out, out2, n * sizeof *out), 0);
        double *din = to_double(in, nin), *ref = malloc(n * sizeof *ref);
        ref_rmsnorm(ref, din, &p);
        assert_close("rmsnorm", out, ref, n, 4e-6);
        float *g = frandv(n, -1, 1), *grad = frandv(nin, -1, 1), *base = malloc(nin * sizeof *base);
        memcpy(base, grad, nin * sizeof *base);
        ops_rmsnorm_backward(&ctx, grad, grad + n, g, in, in + n, rstd, p.N, p.C);
        double *dg = to_double(g, n), *fd = malloc(nin * sizeof *fd);
        fd_grad(ref_rmsnorm, &p, din, nin, dg, n, fd);
        assert_grad("rmsnorm grad", grad, base, fd, nin);
        /* the product */
        size_t m = n;
        float *ab = frandv(2 * m, -2, 2), *prod = malloc(m * sizeof *prod);
        ops_mul_forward(&ctx, prod, ab, ab + m, m);
        double *dab = to_double(ab, 2 * m), *pref = malloc(m * sizeof *pref);
        ref_mul(pref, dab, &m);
        assert_close("mul", prod, pref, m, 1e-7);
        float *dprod = frandv(2 * m, -1, 1), *pbase = malloc(2 * m * sizeof *pbase);
        memcpy(pbase, dprod, 2 * m * sizeof *pbase);
        ops_mul_backward(&ctx, dprod, dprod + m, g, ab, ab + m, m);
        double *pfd = malloc(2 * m * sizeof *pfd);
        fd_grad(ref_mul, &m, dab, 2 * m, dg, m, pfd);
        assert_grad("mul grad", dprod, pbase, pfd, 2 * m);
        free(in); free(out); free(out2); free(rstd); free(din); free(ref);
        free(g); free(grad); free(base); free(dg); free(fd);
        free(ab); free(prod); free(dab); free(pref); free(dprod); free(pbase); free(pfd);
    }
    /* bit for bit across vector levels and thread counts */
    enum { R = 300, C = 129, NE = R * C };
    float *x = frandv(NE, -3, 3), *w = frandv(C, 0.5f, 1.5f), *g = frandv(NE, -1, 1);
    float *res[3];
    static const cpu_vec levels[3] = {CPU_VEC_AVX512, CPU_VEC_AVX2, CPU_VEC_BASE};
    for (int k = 0; k < 3; k++) {
        ops_ctx c = ctx_n(k + 1);
        cpu_vec_limit(levels[k]);
        float *o = res[k] = calloc(4 * (size_t)NE + R + C, sizeof(float));
        float *rstd = o + 4 * (size_t)NE, *dw = rstd + R;
        ops_rmsnorm_forward_rstd(&c, o, rstd, x, w, R, C, 1e-6f);
        ops_rmsnorm_backward(&c, o + NE, dw, g, x, w, rstd, R, C);
        ops_mul_forward(&c, o + 2 * (size_t)NE, x, g, NE);
        ops_mul_backward(&c, o + 3 * (size_t)NE, o + NE, g, x, o, NE);
    }
    cpu_vec_limit(CPU_VEC_AVX512);
    for (int k = 1; k < 3; k++)
        ck_assert_msg(memcmp(res[0], res[k], (4 * (size_t)NE + R + C) * sizeof(float)) == 0,
                      "vector level %d, %d threads differ", (int)levels[k], k + 1);
    for (int k = 0; k < 3; k++)
        free(res[k]);
    free(x); free(w); free(g);
}
END_TEST

/* ---------------------------------------------------------------- dropout */

typedef struct do_param { const uint8_t *mask; double scale; size_t n; } do_param;

static void ref_dropout(double *out, const double *in, const void *param)
{
    const do_param *p = param;
    for (size_t i = 0; i < p->n; i++)
        out[i] = p->mask[i] ? in[i] * p->scale : 0.0;
}

START_TEST(dropout_forward_backward)
{
    enum { N = 100003 };
    ops_ctx c1 = ctx_n(1), c2 = ctx_n(2);
    float *x = frandv(N, -1, 1), *y1 = malloc(N * sizeof *y1), *y2 = malloc(N * sizeof *y2);
    uint8_t *m1 = malloc(N), *m2 = malloc(N);
    const float p = 0.1f;
    ck_assert_int_eq(ops_dropout_forward(&c1, y1, m1, x, N, p, 42, 7), MLM_OK);
    ck_assert_int_eq(ops_dropout_forward(&c2, y2, m2, x, N, p, 42, 7), MLM_OK);
    ck_assert(memcmp(y1, y2, N * sizeof *y1) == 0);
    ck_assert(memcmp(m1, m2, N) == 0);
    size_t kept = 0;
    for (size_t i = 0; i < N; i++) {
        kept += m1[i];
        ck_assert(y1[i] == (m1[i] ? x[i] * (1.0f / (1.0f - p)) : 0.0f));
        /* the mask is word i of Philox stream (42, 7), as core/rng.h defines it */
        ck_assert_int_eq(m1[i], rng_to_uniform(rng_word(42, 7, i)) >= p);
    }
    /* Binomial(N, 0.9): within 5 standard deviations. */
    double sd = sqrt(N * 0.9 * 0.1);
    ck_assert_double_lt(fabs((double)kept - 0.9 * N), 5 * sd);
    /* The mask gives the output again; with a residual the output is
     * residual + output, the same floats as the two steps. */
    ck_assert_int_eq(ops_dropout_apply(&c2, y2, m1, x, N, p), MLM_OK);
    ck_assert(memcmp(y1, y2, N * sizeof *y1) == 0);
    float *r = frandv(N, -1, 1), *s1 = malloc(N * sizeof *s1);
    ck_assert_int_eq(ops_dropout_residual_forward(&c2, s1, m2, r, x, N, p, 42, 7), MLM_OK);
    ck_assert(memcmp(m1, m2, N) == 0);
    for (size_t i = 0; i < N; i++)
        ck_assert(s1[i] == r[i] + y1[i]);
    ck_assert_int_eq(ops_dropout_residual_forward(&c1, r, NULL, r, x, N, p, 42, 7), MLM_OK);
    ck_assert(memcmp(r, s1, N * sizeof *r) == 0); /* in place on the residual */
    free(r);
    free(s1);
    /* Another stream gives another mask. */
    ops_dropout_forward(&c1, y2, m2, x, N, p, 42, 8);
    ck_assert(memcmp(m1, m2, N) != 0);
    /* Seeds and streams with both 32-bit halves set: the vector Philox
     * (AVX-512 intrinsics or the portable lanes) keys and counts as
     * rng_word does. */
    const uint64_t big_seed = 0x0123456789abcdefu, big_stream = 0xfedcba9876543210u;
    ops_dropout_forward(&c1, y2, m2, x, 4099, 0.5f, big_seed, big_stream);
    for (size_t i = 0; i < 4099; i++)
        ck_assert_int_eq(m2[i], rng_to_uniform(rng_word(big_seed, big_stream, i)) >= 0.5f);
    /* Backward: from the saved mask or regenerated, against the reference. */
    float *g = frandv(N, -1, 1), *d1 = frandv(N, -1, 1), *d2 = malloc(N * sizeof *d2);
    float *base = malloc(N * sizeof *base);
    memcpy(base, d1, N * sizeof *base);
    memcpy(d2, d1, N * sizeof *d2);
    ck_assert_int_eq(ops_dropout_backward(&c2, d1, g, m1, N, p, 42, 7), MLM_OK);
    ck_assert_int_eq(ops_dropout_backward(&c1, d2, g, NULL, N, p, 42, 7), MLM_OK);
    ck_assert(memcmp(d1, d2, N * sizeof *d1) == 0);
    /* The first contribution overwrites: from the mask or the stream, the
     * values of zeroing and adding (== lets a zero's sign differ). */
    float *z = calloc(N, sizeof *z), *f1 = frandv(N, -1, 1), *f2 = frandv(N, -1, 1);
    f1[0] = NAN; /* never read */
    ck_assert_int_eq(ops_dropout_backward(&c2, z, g, m1, N, p, 42, 7), MLM_OK);
    ck_assert_int_eq(ops_dropout_backward_first(&c2, f1, g, m1, N, p, 42, 7), MLM_OK);
    ck_assert_int_eq(ops_dropout_backward_first(&c1, f2, g, NULL, N, p, 42, 7), MLM_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert(f1[i] == z[i] && f2[i] == z[i]);
    free(z);
    free(f1);
    free(f2);
    /* ReLU and dropout in one pass: the floats of the two in turn, the mask
     * keep·[x > 0], which the first backward turns into both backwards. */
    float *h = frandv(N, -1, 1), *rd = malloc(N * sizeof *rd), *act = malloc(N * sizeof *act);
    float *dh1 = malloc(N * sizeof *dh1), *dh2 = calloc(N, sizeof *dh2);
    uint8_t *mr = malloc(N);
    h[1] = 0.0f;
    h[2] = -0.0f;
    ops_relu_forward(&c1, act, h, N);
    ck_assert_int_eq(ops_dropout_forward(&c1, y2, NULL, act, N, p, 42, 7), MLM_OK);
    ck_assert_int_eq(ops_relu_dropout_forward(&c2, rd, mr, h, N, p, 42, 7), MLM_OK);
    ck_assert(memcmp(rd, y2, N * sizeof *rd) == 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(mr[i], m1[i] && h[i] > 0.0f);
    ck_assert_int_eq(ops_dropout_backward_first(&c1, dh1, g, mr, N, p, 0, 0), MLM_OK);
    ck_assert_int_eq(ops_dropout_backward_first(&c1, d2, g, m1, N, p, 42, 7), MLM_OK);
    ops_relu_backward(&c1, dh2, d2, h, N);
    for (size_t i = 0; i < N; i++)
        ck_assert(dh1[i] == dh2[i]);
    ck_assert_int_eq(ops_relu_dropout_forward(&c1, h, mr, h, N, p, 42, 7), MLM_OK);
    ck_assert(memcmp(h, y2, N * sizeof *h) == 0); /* in place */
    ck_assert_int_eq(ops_relu_dropout_forward(&c1, rd, NULL, h, N, p, 42, 7),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_relu_dropout_forward(&c1, rd, mr, h, N, -0.5f, 42, 7),
                     MLM_ERR_INVALID_ARGUMENT);
    free(h); free(rd); free(act); free(dh1); free(dh2); free(mr);
    enum { NF = 257 }; /* finite differences on a prefix */
    do_param dp = {m1, 1.0 / (1.0 - p), NF};
    double *dx = to_double(x, NF), *dg = to_double(g, NF), *fd = malloc(NF * sizeof *fd);
    fd_grad(ref_dropout, &dp, dx, NF, dg, NF, fd);
    assert_grad("dropout grad", d1, base, fd, NF);
    /* p = 0 copies, p = 1 zeroes, others are refused. */
    ops_dropout_forward(&c1, y2, NULL, x, N, 0.0f, 1, 1);
    ck_assert(memcmp(y2, x, N * sizeof *x) == 0);
    ops_dropout_forward(&c1, y2, NULL, x, N, 1.0f, 1, 1);
    for (size_t i = 0; i < N; i++)
        ck_assert(y2[i] == 0.0f);
    ck_assert_int_eq(ops_dropout_forward(&c1, y2, NULL, x, N, 1.5f, 1, 1), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_dropout_backward(&c1, y2, x, NULL, N, NAN, 1, 1), MLM_ERR_INVALID_ARGUMENT);
    free(x); free(y1); free(y2); free(m1); free(m2); free(g); free(d1); free(d2); free(base);
    free(dx); free(dg); free(fd);
}
END_TEST

/* ---------------------------------------------------------------- embedding */

typedef struct emb_param { const int32_t *ids; int N, C; } emb_param;

static void ref_embedding(double *out, const double *table, const void *param)
{
    const emb_param *p = param;
    for (int n = 0; n < p->N; n++)
        for (int c = 0; c < p->C; c++)
            out[n * p->C + c] = table[p->ids[n] * p->C + c];
}

START_TEST(embedding_forward_backward)
{
    enum { V = 7, C = 33, N = 17, PAD = 1 };
    int32_t ids[N];
    for (int n = 0; n < N; n++)
        ids[n] = (n * 5) % V; /* every id, several repeated, PAD included */
    ops_ctx ctx = ctx_n(2);
    float *table = frandv((size_t)V * C, -1, 1), *out = frandv((size_t)N * C, -1, 1);
    float *acc = malloc((size_t)N * C * sizeof *acc);
    memcpy(acc, out, (size_t)N * C * sizeof *acc);
    ck_assert_int_eq(ops_embedding_forward(&ctx, out, ids, table, N, V, C, 0), MLM_OK);
    for (int n = 0; n < N; n++)
        ck_assert(memcmp(out + n * C, table + ids[n] * C, C * sizeof *out) == 0);
    float *acc0 = malloc((size_t)N * C * sizeof *acc0);
    memcpy(acc0, acc, (size_t)N * C * sizeof *acc0);
    ck_assert_int_eq(ops_embedding_forward(&ctx, acc, ids, table, N, V, C, 1), MLM_OK);
    for (int i = 0; i < N * C; i++)
        ck_assert(acc[i] == acc0[i] + table[ids[i / C] * C + i % C]);
    /* Backward, with and without padding_idx, against finite differences. */
    emb_param p = {ids, N, C};
    float *g = frandv((size_t)N * C, -1, 1);
    double *dt = to_double(table, (size_t)V * C), *dg = to_double(g, (size_t)N * C);
    double *fd = malloc((size_t)V * C * sizeof *fd);
    fd_grad(ref_embedding, &p, dt, (size_t)V * C, dg, (size_t)N * C, fd);
    for (int pad = -1; pad <= PAD; pad += 2) {
        float *d = frandv((size_t)V * C, -1, 1), *base = malloc((size_t)V * C * sizeof *base);
        memcpy(base, d, (size_t)V * C * sizeof *base);
        ck_assert_int_eq(ops_embedding_backward(&ctx, d, g, ids, N, V, C, pad), MLM_OK);
        if (pad >= 0) {
            ck_assert(memcmp(d + pad * C, base + pad * C, C * sizeof *d) == 0);
            for (int c = 0; c < C; c++)
                fd[pad * C + c] = 0;
        }
        assert_grad("embedding grad", d, base, fd, (size_t)V * C);
        free(d);
        free(base);
    }
    /* Out-of-range ids: an error naming the position, nothing written. */
    ids[5] = V;
    memcpy(acc0, out, (size_t)N * C * sizeof *acc0);
    ck_assert_int_eq(ops_embedding_forward(&ctx, out, ids, table, N, V, C, 0), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "position 5"));
    ck_assert(memcmp(acc0, out, (size_t)N * C * sizeof *acc0) == 0);
    ids[5] = -1;
    ck_assert_int_eq(ops_embedding_backward(&ctx, table, g, ids, N, V, C, -1), MLM_ERR_RANGE);
    free(table); free(out); free(acc); free(acc0); free(g); free(dt); free(dg); free(fd);
}
END_TEST

/* ---------------------------------------------------------------- loss */

typedef struct ce_param { const int32_t *labels; int N, V; } ce_param;

static void ref_ce(double *out, const double *x, const void *param)
{
    const ce_param *p = param;
    double sum = 0;
    int cnt = 0;
    for (int n = 0; n < p->N; n++) {
        if (p->labels[n] == OPS_IGNORE_INDEX)
            continue;
        const double *r = x + n * p->V;
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < p->V; v++)
            mx = fmax(mx, r[v]);
        for (int v = 0; v < p->V; v++)
            s += exp(r[v] - mx);
        sum += mx + log(s) - r[p->labels[n]];
        cnt++;
    }
    out[0] = cnt ? sum / cnt : NAN;
}

START_TEST(cross_entropy_forward_backward)
{
    enum { N = 9, V = 65 };
    int32_t labels[N] = {3, OPS_IGNORE_INDEX, 0, 64, OPS_IGNORE_INDEX, 17, 17, 1, 33};
    ce_param p = {labels, N, V};
    float *x = frandv((size_t)N * V, -10, 10), lse[N], loss;
    int count;
    ops_ctx ctx = ctx_n(2);
    ck_assert_int_eq(ops_cross_entropy_forward(&ctx, &loss, &count, lse, x, labels, N, V), MLM_OK);
    double *dx = to_double(x, (size_t)N * V), ref;
    ref_ce(&ref, dx, &p);
    ck_assert_int_eq(count, 7);
    ck_assert_double_le(fabs(loss - ref), 2e-6 * fabs(ref));
    /* Without an lse buffer (allocated inside), and its failure path. */
    float loss2;
    ck_assert_int_eq(ops_cross_entropy_forward(&ctx, &loss2, NULL, NULL, x, labels, N, V), MLM_OK);
    ck_assert(loss2 == loss);
    mem_fail_after(0);
    mlm_status st = ops_cross_entropy_forward(&ctx, &loss2, NULL, NULL, x, labels, N, V);
    mem_fail_after(-1);
    ck_assert_int_eq(st, MLM_ERR_OUT_OF_MEMORY);
    /* Backward (dloss = 0.7) against finite differences, then in place. */
    float *d = malloc((size_t)N * V * sizeof *d);
    ck_assert_int_eq(ops_cross_entropy_backward(&ctx, d, x, lse, labels, count, 0.7f, N, V), MLM_OK);
    double g = 0.7, *fd = malloc((size_t)N * V * sizeof *fd);
    fd_grad(ref_ce, &p, dx, (size_t)N * V, &g, 1, fd);
    assert_grad("cross-entropy grad", d, NULL, fd, (size_t)N * V);
    float *inplace = malloc((size_t)N * V * sizeof *inplace);
    memcpy(inplace, x, (size_t)N * V * sizeof *x);
    ops_cross_entropy_backward(&ctx, inplace, inplace, NULL, labels, count, 0.7f, N, V);
    assert_grad("cross-entropy grad in place", inplace, NULL, fd, (size_t)N * V);
    /* All ignored: NaN as torch; bad label: error. */
    int32_t none[2] = {OPS_IGNORE_INDEX, OPS_IGNORE_INDEX};
    ops_cross_entropy_forward(&ctx, &loss2, &count, NULL, x, none, 2, V);
    ck_assert(isnan(loss2));
    ck_assert_int_eq(count, 0);
    labels[2] = V;
    ck_assert_int_eq(ops_cross_entropy_forward(&ctx, &loss2, NULL, NULL, x, labels, N, V), MLM_ERR_RANGE);
    ck_assert_int_eq(ops_cross_entropy_backward(&ctx, d, x, NULL, labels, 1, 1, N, V), MLM_ERR_RANGE);
    /* log-softmax against the reference. */
    float *ls = malloc((size_t)N * V * sizeof *ls);
    double *lref = malloc((size_t)N * V * sizeof *lref);
    ops_log_softmax_forward(&ctx, ls, x, N, V);
    for (int n = 0; n < N; n++) {
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++)
            mx = fmax(mx, dx[n * V + v]);
        for (int v = 0; v < V; v++)
            s += exp(dx[n * V + v] - mx);
        for (int v = 0; v < V; v++)
            lref[n * V + v] = dx[n * V + v] - mx - log(s);
    }
    assert_close("log_softmax", ls, lref, (size_t)N * V, 1e-6);
    /* With a shift per row (beam scores): the bits of log-softmax, then the
     * addition, at every vector level, in place or not. */
    float shift[N], *sh = malloc((size_t)N * V * sizeof *sh);
    for (int n = 0; n < N; n++)
        shift[n] = n % 3 == 0 ? -1.0e9f : -0.37f * (float)n;
    static const cpu_vec levels[] = {CPU_VEC_AVX512, CPU_VEC_AVX2, CPU_VEC_BASE};
    for (int lv = 0; lv < 3; lv++) {
        cpu_vec_limit(levels[lv]);
        ops_log_softmax_shift_forward(&ctx, sh, x, shift, N, V);
        for (int n = 0; n < N; n++)
            for (int v = 0; v < V; v++) {
                float want = ls[n * V + v] + shift[n];
                ck_assert_msg(memcmp(&sh[n * V + v], &want, sizeof want) == 0,
                              "shifted log_softmax (%d, %d) level %d: %a, want %a", n, v, lv,
                              sh[n * V + v], want);
            }
        memcpy(sh, x, (size_t)N * V * sizeof *sh);
        ops_log_softmax_shift_forward(&ctx, sh, sh, shift, N, V);
        for (int n = 0; n < N; n++)
            ck_assert(sh[n * V + 1] == ls[n * V + 1] + shift[n]);
    }
    cpu_vec_limit(CPU_VEC_AVX512);
    free(sh);
    free(x); free(dx); free(d); free(fd); free(inplace); free(ls); free(lref);
}
END_TEST

START_TEST(topk_selects_in_order)
{
    float x[17] = {0.5f, 3, -1, 3, NAN, 7, 0.5f, 2, 2, 9, -INFINITY, 3, 1, 0, 8, 6, 3};
    int32_t idx[17];
    float val[17];
    ck_assert_int_eq(ops_topk(x, 17, 6, idx, val), MLM_OK);
    static const int32_t want[6] = {9, 14, 5, 15, 1, 3};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(idx[i], want[i]);
        ck_assert(val[i] == x[want[i]]);
    }
    /* k = n: everything, NaN last; val may be NULL. */
    ck_assert_int_eq(ops_topk(x, 17, 17, idx, NULL), MLM_OK);
    ck_assert_int_eq(idx[15], 10);
    ck_assert_int_eq(idx[16], 4);
    for (int i = 0; i + 1 < 16; i++)
        ck_assert(x[idx[i]] > x[idx[i + 1]] || (x[idx[i]] == x[idx[i + 1]] && idx[i] < idx[i + 1]));
    ck_assert_int_eq(ops_topk(x, 17, 0, idx, val), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_topk(x, 17, 18, idx, val), MLM_ERR_INVALID_ARGUMENT);
    /* Long inputs (the blocks of 16 it skips whole), few distinct values
     * (ties inside and across blocks), NaNs first or scattered, -inf: the
     * k best by the rank rule, against a full insertion order; the scan
     * at every vector level. */
    static const cpu_vec levels[] = {CPU_VEC_AVX512, CPU_VEC_AVX2, CPU_VEC_BASE};
    for (int trial = 0; trial < 60; trial++) {
        int n = 16 + trial * 37, k = 1 + trial % 9;
        cpu_vec_limit(levels[trial % 3]);
        float *y = frandv((size_t)n, -4.0f, 4.0f);
        for (int i = 0; i < n; i++) {
            y[i] = (float)(int)y[i];   /* 9 distinct values */
            if (trial % 3 == 0 && i % 29 == 0)
                y[i] = NAN;
            if (trial % 5 == 1 && i < 12)
                y[i] = NAN;
            if (i % 31 == 7)
                y[i] = -INFINITY;
        }
        int32_t *got = malloc((size_t)k * sizeof *got), *order = malloc((size_t)n * sizeof *order);
        ck_assert_int_eq(ops_topk(y, n, k, got, NULL), MLM_OK);
        for (int i = 0; i < n; i++) {   /* insertion sort by the rule: larger, then lower index, NaN last */
            int j = i;
            while (j > 0) {
                float a = y[i], b = y[order[j - 1]];
                int above = isnan(a) ? 0 : isnan(b) ? 1 : a > b;
                if (!above)
                    break;
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
        for (int i = 0; i < k; i++)
            ck_assert_msg(got[i] == order[i], "n %d k %d rank %d: %d, want %d (%s)", n, k, i,
                          got[i], order[i], cpu_vec_name(levels[trial % 3]));
        free(y);
        free(got);
        free(order);
    }
    cpu_vec_limit(CPU_VEC_AVX512);
}
END_TEST

/* ops_argmax is torch.argmax: the first index of the largest value, the
 * first NaN when there is one; against a one-at-a-time loop with that rule
 * over lengths with vector tails, many ties, -inf, NaN in a block or a
 * tail, at every vector level. */
START_TEST(argmax_is_torch_argmax)
{
    static const float small[] = {-INFINITY, -INFINITY, -INFINITY};
    ck_assert_int_eq(ops_argmax(small, 3), 0);
    ck_assert_int_eq(ops_argmax(small, 0), 0);
    static const cpu_vec levels[] = {CPU_VEC_AVX512, CPU_VEC_AVX2, CPU_VEC_BASE};
    for (int lv = 0; lv < 3; lv++) {
        cpu_vec_limit(levels[lv]);
        for (int trial = 0; trial < 60; trial++) {
            int n = 1 + trial * 23;
            float *y = frandv((size_t)n, -4.0f, 4.0f);
            for (int i = 0; i < n; i++) {
                y[i] = (float)(int)y[i];   /* 9 distinct values: ties everywhere */
                if (i % 13 == 5)
                    y[i] = -INFINITY;
            }
            if (trial % 4 == 1)
                y[(trial * 7) % n] = NAN;
            if (trial % 4 == 2)
                y[n - 1] = NAN;
            if (trial % 6 == 3)
                y[n / 2] = 1e30f;
            int32_t want = 0;
            for (int i = 0; i < n; i++) {
                if (isnan(y[i])) {
                    want = i;
                    break;
                }
                if (y[i] > y[want])
                    want = i;
            }
            ck_assert_msg(ops_argmax(y, n) == want, "level %d n %d: %d, want %d", lv, n,
                          ops_argmax(y, n), want);
            free(y);
        }
    }
    cpu_vec_limit(CPU_VEC_AVX512);
}
END_TEST

/* GELU keeping Φ for its backward computes the floats of the plain pair,
 * on 1 and 2 threads, at every vector level. */
START_TEST(gelu_cdf_matches_gelu)
{
    enum { N = 70001 };
    float *x = frandv(N, -9, 9), *g = frandv(N, -1, 1), *d0 = frandv(N, -1, 1);
    float *y0 = malloc(N * sizeof *y0), *y1 = malloc(N * sizeof *y1), *cdf = malloc(N * sizeof *cdf);
    float *d1 = malloc(N * sizeof *d1), *init = malloc(N * sizeof *init);
    memcpy(init, d0, N * sizeof *d0);
    ops_ctx c1 = ctx_n(1);
    ops_gelu_forward(&c1, y0, x, N);
    ops_gelu_backward(&c1, d0, g, x, N);
    for (int k = 0; k < 4; k++) {
        ops_ctx ck = ctx_n(1 + k % 2);
        cpu_vec_limit(k < 2 ? CPU_VEC_AVX512 : k == 2 ? CPU_VEC_AVX2 : CPU_VEC_BASE);
        memcpy(d1, init, N * sizeof *d1);
        ops_gelu_forward_cdf(&ck, y1, cdf, x, N);
        ops_gelu_backward_cdf(&ck, d1, g, x, cdf, N);
        cpu_vec_limit(CPU_VEC_AVX512);
        ck_assert(memcmp(y0, y1, N * sizeof *y0) == 0);
        ck_assert(memcmp(d0, d1, N * sizeof *d0) == 0);
    }
    free(x); free(g); free(d0); free(y0); free(y1); free(cdf); free(d1); free(init);
}
END_TEST

/* A float's bits, to compare floats exactly (NaNs, signed zeros). */
static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Φ computed 64 floats at a time, four vectors in lock step
 * (v_normal_cdf_block, which the GELU kernels and the products' epilogues
 * use), gives v_normal_cdf's floats, at every vector level: over a
 * million float bit patterns spread over the whole range (stride 4099,
 * both signs, denormals, the exponent's clamps) and the special values. A
 * NaN gives a NaN (its sign is the compiler's, as before). And
 * v_expf_block gives v_expf's on the same floats. */
START_TEST(gelu_cdf_block_is_the_scalar)
{
    static const float special[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-149f, FLT_MIN, -FLT_MIN,
                                    FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN, -NAN,
                                    13.2f, -13.2f, 13.3f, -13.3f, 1e-30f, -1e-30f};
    const size_t ns = sizeof special / sizeof special[0];
    const size_t n = ns + ((size_t)1 << 32) / 4099 + 1;
    float *x = malloc(n * sizeof *x), *out = malloc(n * sizeof *out);
    float *cdf = malloc(n * sizeof *cdf);
    memcpy(x, special, sizeof special);
    for (size_t i = ns; i < n; i++) {
        uint32_t u = (uint32_t)((i - ns) * 4099u);
        memcpy(&x[i], &u, sizeof u);
    }
    ops_ctx c1 = ctx_n(1);
    for (int k = 0; k < 3; k++) {
        cpu_vec_limit(k == 0 ? CPU_VEC_AVX512 : k == 1 ? CPU_VEC_AVX2 : CPU_VEC_BASE);
        memset(cdf, 0, n * sizeof *cdf);
        ops_gelu_forward_cdf(&c1, out, cdf, x, n);
        cpu_vec_limit(CPU_VEC_AVX512);
        for (size_t i = 0; i < n; i++) {
            float want = v_normal_cdf(x[i]);
            if (isnan(x[i])) {
                ck_assert_msg(isnan(cdf[i]) && isnan(out[i]), "level %d: Φ(%a) = %a", k, x[i],
                              cdf[i]);
                continue;
            }
            ck_assert_msg(f32_bits(cdf[i]) == f32_bits(want),
                          "level %d: Φ(%a) = %a, the scalar's %a", k, x[i], cdf[i], want);
            ck_assert_msg(f32_bits(out[i]) == f32_bits(x[i] * want), "level %d: GELU(%a) = %a",
                          k, x[i], out[i]);
        }
    }
    /* e^x the same way (softmax, the losses): v_expf_block against v_expf */
    for (size_t i = 0; i + VM_BLOCK <= n; i += VM_BLOCK) {
        float e[VM_BLOCK];
        v_expf_block(e, x + i);
        for (int k = 0; k < VM_BLOCK; k++) {
            float want = v_expf(x[i + k]);
            ck_assert_msg(isnan(x[i + k]) ? isnan(e[k]) : f32_bits(e[k]) == f32_bits(want),
                          "e^%a = %a, the scalar's %a", x[i + k], e[k], want);
        }
    }
    free(x); free(out); free(cdf);
}
END_TEST

/* ---------------------------------------------------------------- threads */

/* Every elementwise kernel on sizes that really split over 2 threads gives
 * the same bits as on 1, and each vector instruction set the CPU has
 * (nn/ops/vec.h) gives the same bits as the others. */
START_TEST(kernels_bitwise_across_thread_counts)
{
    enum { RUNS = 4 };
    static const struct { int threads; cpu_vec vec; } run[RUNS] = {
        {1, CPU_VEC_AVX512}, {2, CPU_VEC_AVX512}, {1, CPU_VEC_AVX2}, {2, CPU_VEC_BASE}};
    enum { R = 512, C = 129, NE = R * C, V = 1000, NR = 64 };
    float *out[RUNS], *x = frandv(NE, -4, 4), *g = frandv(NE, -1, 1), *w = frandv(C, 0.5f, 1.5f);
    float *b = frandv(C, -1, 1), *mask = frandv((size_t)(R / 8) * C, -1, 0), *logits = frandv((size_t)NR * V, -5, 5);
    int32_t ids[R], labels[NR];
    for (int i = 0; i < R; i++)
        ids[i] = (i * 7) % 40;
    for (int i = 0; i < NR; i++)
        labels[i] = i % 5 == 0 ? OPS_IGNORE_INDEX : (i * 31) % V;
    size_t stride = (size_t)NE * 10 + (size_t)NR * V + 64;
    float loss[RUNS];
    for (int k = 0; k < RUNS; k++) {
        int t = run[k].threads;
        ops_ctx ctx = ctx_n(t);
        cpu_vec_limit(run[k].vec);
        float *o = out[k] = calloc(stride, sizeof(float));
        float *mean = o + 5 * NE, *rstd = mean + R;
        ck_assert_int_eq(par_chunks(t, NE, 8192), t);
        ops_gelu_forward(&ctx, o, x, NE);
        ops_gelu_backward(&ctx, o + NE, g, x, NE);
        ops_gelu_tanh_forward(&ctx, o + 2 * (size_t)NE, x, NE);
        ops_gelu_tanh_backward(&ctx, o + NE, g, x, NE);
        ops_relu_backward(&ctx, o + NE, g, x, NE);
        ops_softmax_forward(&ctx, o + 3 * (size_t)NE, x, 0.3f, mask, 8, R, C);
        ops_softmax_backward(&ctx, o + 4 * (size_t)NE, g, o + 3 * (size_t)NE, 0.3f, R, C);
        ops_layernorm_forward(&ctx, o + 6 * (size_t)NE, mean, rstd, x, w, b, R, C, 1e-12f);
        float *dw = rstd + R, *db = dw + C;
        ops_layernorm_backward(&ctx, o + 4 * (size_t)NE, dw, db, g, x, w, mean, rstd, R, C);
        ops_bias_backward(&ctx, db, g, R, C);
        /* after the log-softmax's NR·V: a dropout mask (NE bytes), then NE */
        uint8_t *dm = (uint8_t *)(void *)(o + 8 * (size_t)NE + (size_t)NR * V);
        float *dd = o + 9 * (size_t)NE + (size_t)NR * V;
        ops_dropout_forward(&ctx, o + 7 * (size_t)NE, dm, x, NE, 0.25f, 9, 1);
        ops_dropout_residual_forward(&ctx, o + 6 * (size_t)NE, NULL, o + 6 * (size_t)NE, g, NE,
                                     0.25f, 9, 2);
        ops_dropout_backward(&ctx, dd, g, dm, NE, 0.25f, 9, 1);
        ops_dropout_backward(&ctx, dd, x, NULL, NE, 0.25f, 9, 3);
        ops_relu_dropout_forward(&ctx, o + 7 * (size_t)NE, dm, o + 7 * (size_t)NE, NE, 0.25f, 9,
                                 4);
        ops_embedding_backward(&ctx, o + 2 * (size_t)NE, g, ids, R, 40, C, 3);
        float *lg = o + 8 * (size_t)NE;
        ops_log_softmax_forward(&ctx, lg, logits, NR, V);
        ops_cross_entropy_forward(&ctx, &loss[k], NULL, NULL, logits, labels, NR, V);
        ops_cross_entropy_backward(&ctx, lg, logits, NULL, labels, 51, 1.0f, NR, V);
    }
    cpu_vec_limit(CPU_VEC_AVX512);
    for (int k = 1; k < RUNS; k++) {
        ck_assert_msg(memcmp(out[0], out[k], stride * sizeof(float)) == 0,
                      "%d threads, vector level %d differ from 1 thread, the widest level",
                      run[k].threads, (int)run[k].vec);
        ck_assert(memcmp(&loss[0], &loss[k], sizeof(float)) == 0);
    }
    for (int k = 0; k < RUNS; k++)
        free(out[k]);
    free(x); free(g); free(w); free(b); free(mask); free(logits);
}
END_TEST

/* Two contexts with 1 and 2 threads running GEMM + GELU + layer norm at the
 * same time, each checked against the results computed alone, bit for bit:
 * the product (CM·CN·CK < SPLIT_FLOPS in gemm.c) takes the one-thread path
 * on either context and the elementwise kernels give the same bits on any
 * thread count (kernels_bitwise_across_thread_counts), so a difference can
 * only be a race. */
typedef struct conc_arg {
    int nthreads, iters, ok;
    const float *a, *b, *w, *bias;
    const float *want_c, *want_ln;
    float *c, *ln, *mean, *rstd;
} conc_arg;

enum { CM = 160, CN = 128, CK = 96 };

static void conc_step(const ops_ctx *ctx, const conc_arg *p)
{
    ops_gemm(ctx, 0, 1, CM, CN, CK, 1.0f, p->a, CK, p->b, CK, 0.0f, p->c, CN);
    ops_gelu_forward(ctx, p->c, p->c, (size_t)CM * CN);
    ops_layernorm_forward(ctx, p->ln, p->mean, p->rstd, p->c, p->w, p->bias, CM, CN, 1e-5f);
}

static void *conc_thread(void *v)
{
    conc_arg *p = v;
    ops_ctx ctx = ctx_n(p->nthreads);
    p->ok = 1;
    for (int i = 0; i < p->iters; i++) {
        conc_step(&ctx, p);
        if (memcmp(p->c, p->want_c, (size_t)CM * CN * sizeof *p->c) != 0 ||
            memcmp(p->ln, p->want_ln, (size_t)CM * CN * sizeof *p->ln) != 0)
            p->ok = 0;
    }
    return NULL;
}

START_TEST(concurrent_contexts)
{
    conc_arg args[2];
    pthread_t tid[2];
    for (int t = 0; t < 2; t++) {
        conc_arg *p = &args[t];
        p->nthreads = t + 1;
        p->iters = 20;
        p->a = frandv((size_t)CM * CK, -1, 1);
        p->b = frandv((size_t)CN * CK, -1, 1);
        p->w = frandv(CN, -1, 1);
        p->bias = frandv(CN, -1, 1);
        p->c = malloc((size_t)CM * CN * sizeof(float));
        p->ln = malloc((size_t)CM * CN * sizeof(float));
        p->mean = malloc(CM * sizeof(float));
        p->rstd = malloc(CM * sizeof(float));
        ops_ctx one = ctx_n(1);
        conc_step(&one, p);
        float *wc = malloc((size_t)CM * CN * sizeof(float)), *wl = malloc((size_t)CM * CN * sizeof(float));
        memcpy(wc, p->c, (size_t)CM * CN * sizeof(float));
        memcpy(wl, p->ln, (size_t)CM * CN * sizeof(float));
        p->want_c = wc;
        p->want_ln = wl;
    }
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(pthread_create(&tid[t], NULL, conc_thread, &args[t]), 0);
    for (int t = 0; t < 2; t++)
        pthread_join(tid[t], NULL);
    for (int t = 0; t < 2; t++) {
        conc_arg *p = &args[t];
        ck_assert_msg(p->ok, "context with %d threads gave other results", p->nthreads);
        free((void *)p->a); free((void *)p->b); free((void *)p->w); free((void *)p->bias);
        free((void *)p->want_c); free((void *)p->want_ln);
        free(p->c); free(p->ln); free(p->mean); free(p->rstd);
    }
}
END_TEST

/* ---------------------------------------------------------------- kernel choice */

/* cpuid signatures of the generations the rule table names (family,
 * model as Linux prints them), with what each must get. */
enum { SIG_SSE2, SIG_AVX, SIG_AVX2, SIG_AVX512, SIG_AMX };
typedef struct cpu_signature {
    const char *what;
    int amd, family, model, isa;
    cpu_gemm_kernel small_m, large_m;
} cpu_signature;

static const cpu_signature signatures[] = {
    {"Skylake-SP", 0, 0x06, 0x55, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Ice Lake-SP", 0, 0x06, 0x6a, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Ice Lake-D", 0, 0x06, 0x6c, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Sapphire Rapids", 0, 0x06, 0x8f, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Emerald Rapids", 0, 0x06, 0xcf, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Granite Rapids-X", 0, 0x06, 0xad, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Granite Rapids-D", 0, 0x06, 0xae, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Sapphire Rapids, AVX-512 hidden", 0, 0x06, 0x8f, SIG_AVX2, CPU_GEMM_HASWELL,
     CPU_GEMM_HASWELL},
    {"an Intel part not in the table", 0, 0x13, 0x01, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_SKX},
    {"Rocket Lake (Xeon E-2300)", 0, 0x06, 0xa7, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {"a Xeon with AMX shown as Rocket Lake", 0, 0x06, 0xa7, SIG_AMX, CPU_GEMM_HASWELL,
     CPU_GEMM_SKX},
    {"Ice Lake client", 0, 0x06, 0x7e, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {"Tiger Lake", 0, 0x06, 0x8c, SIG_AVX512, CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {"Haswell-EP", 0, 0x06, 0x3f, SIG_AVX2, CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {"Alder Lake", 0, 0x06, 0x97, SIG_AVX2, CPU_GEMM_HASWELL, CPU_GEMM_HASWELL},
    {"Sandy Bridge", 0, 0x06, 0x2a, SIG_AVX, CPU_GEMM_BLIS_DEFAULT, CPU_GEMM_BLIS_DEFAULT},
    {"x86-64 baseline (qemu64)", 0, 0x06, 0x06, SIG_SSE2, CPU_GEMM_GENERIC, CPU_GEMM_GENERIC},
    {"Zen (Naples)", 1, 0x17, 0x01, SIG_AVX2, CPU_GEMM_ZEN, CPU_GEMM_ZEN},
    {"Zen+ (Pinnacle Ridge)", 1, 0x17, 0x08, SIG_AVX2, CPU_GEMM_ZEN, CPU_GEMM_ZEN},
    {"Zen 2 (Rome)", 1, 0x17, 0x31, SIG_AVX2, CPU_GEMM_ZEN2, CPU_GEMM_ZEN2},
    {"Zen 2 (Matisse)", 1, 0x17, 0x71, SIG_AVX2, CPU_GEMM_ZEN2, CPU_GEMM_ZEN2},
    {"Zen 3 (Milan)", 1, 0x19, 0x01, SIG_AVX2, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 3 (Vermeer)", 1, 0x19, 0x21, SIG_AVX2, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 3 (Cezanne)", 1, 0x19, 0x50, SIG_AVX2, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 4 (Genoa)", 1, 0x19, 0x11, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 4 (Raphael)", 1, 0x19, 0x61, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 4 (Phoenix)", 1, 0x19, 0x74, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 4c (Bergamo)", 1, 0x19, 0xa0, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_ZEN3},
    {"Zen 5 (Turin)", 1, 0x1a, 0x02, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_SKX},
    {"Zen 5 (Strix Point)", 1, 0x1a, 0x24, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_SKX},
    {"Zen 5 (Granite Ridge)", 1, 0x1a, 0x44, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_SKX},
    {"AMD after Zen 5", 1, 0x1a, 0x50, SIG_AVX512, CPU_GEMM_ZEN3, CPU_GEMM_SKX},
    {"Excavator", 1, 0x15, 0x65, SIG_AVX2, CPU_GEMM_BLIS_DEFAULT, CPU_GEMM_BLIS_DEFAULT},
};

static cpu_features features_of(const cpu_signature *sig)
{
    cpu_features f = {.amd = sig->amd, .intel = !sig->amd, .family = sig->family,
                      .model = sig->model};
    f.ssse3 = sig->isa >= SIG_AVX || sig->amd; /* every AMD part here has SSSE3 */
    f.avx = sig->isa >= SIG_AVX;
    f.avx2 = f.fma = f.bmi2 = sig->isa >= SIG_AVX2;
    f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = f.avx512cd = sig->isa >= SIG_AVX512;
    f.amx_tile = f.amx_bf16 = f.amx_int8 = sig->isa >= SIG_AMX;
    return f;
}

static cpu_features features_named(const char *what)
{
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++)
        if (strcmp(signatures[i].what, what) == 0)
            return features_of(&signatures[i]);
    ck_abort_msg("no signature %s", what);
    return (cpu_features){0};
}

START_TEST(gemm_kernel_rule)
{
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++) {
        const cpu_signature *sig = &signatures[i];
        cpu_features f = features_of(sig);
        cpu_gemm_kernel s, l;
        cpu_gemm_plan(&f, &s, &l);
        ck_assert_msg(s == sig->small_m && l == sig->large_m,
                      "%s (family 0x%x model 0x%x): %s/%s, want %s/%s", sig->what, sig->family,
                      sig->model, cpu_gemm_kernel_name(s), cpu_gemm_kernel_name(l),
                      cpu_gemm_kernel_name(sig->small_m), cpu_gemm_kernel_name(sig->large_m));
        /* never a kernel set the CPU cannot execute */
        ck_assert(cpu_gemm_runs(&f, s) && cpu_gemm_runs(&f, l));
    }
    /* Another vendor (Hygon's Zen, a hypervisor's) goes by its features. */
    cpu_features other = {.ssse3 = 1, .avx = 1, .avx2 = 1, .fma = 1, .bmi2 = 1, .family = 0x18};
    cpu_gemm_kernel s, l;
    cpu_gemm_plan(&other, &s, &l);
    ck_assert(s == CPU_GEMM_HASWELL && l == CPU_GEMM_HASWELL);
    ck_assert_ptr_null(cpu_part_name(&other));
    cpu_features genoa = features_named("Zen 4 (Genoa)");
    ck_assert_str_eq(cpu_part_name(&genoa), "Zen 4");
    cpu_features spr = features_named("Sapphire Rapids");
    spr.amx_tile = 1;
    ck_assert_str_eq(cpu_part_name(&spr), "Sapphire Rapids");
    /* What each kernel set and vector level needs. */
    cpu_features avx2 = features_named("Haswell-EP");
    cpu_features base = features_named("x86-64 baseline (qemu64)");
    ck_assert(!cpu_gemm_runs(&avx2, CPU_GEMM_SKX) && cpu_gemm_runs(&avx2, CPU_GEMM_ZEN));
    ck_assert(!cpu_gemm_runs(&base, CPU_GEMM_HASWELL) && cpu_gemm_runs(&base, CPU_GEMM_GENERIC));
    avx2.bmi2 = 0; /* BLIS's AVX2 sets are compiled with BMI2 */
    ck_assert(!cpu_gemm_runs(&avx2, CPU_GEMM_ZEN3));
    ck_assert(!cpu_vec_runs(&avx2, CPU_VEC_AVX512) && cpu_vec_runs(&avx2, CPU_VEC_AVX2));
    ck_assert(!cpu_vec_runs(&base, CPU_VEC_AVX2) && cpu_vec_runs(&base, CPU_VEC_BASE));
    /* What this machine chose is what mlm_system_info reports. */
    const char *info = mlm_system_info();
    ck_assert_ptr_nonnull(strstr(info, "gemm: BLIS"));
    ck_assert_ptr_nonnull(strstr(info, gemm_kernel_name(1)));
    ck_assert_ptr_nonnull(strstr(info, gemm_kernel_name(1000)));
}
END_TEST

/* A forced kernel set is what ops_gemm then uses (and says); one the CPU
 * cannot execute is refused and changes nothing; results stay within the
 * GEMM bound on every set the CPU can run. */
START_TEST(gemm_forced_kernel_sets)
{
    cpu_gemm_kernel s0, l0;
    cpu_gemm_choice(&s0, &l0);
    ck_assert_int_eq(cpu_gemm_force(CPU_GEMM_KERNELS, CPU_GEMM_GENERIC), -1);
    const cpu_features *f = cpu_get();
    ops_ctx ctx = ctx_n(1);
    for (int k = 0; k < CPU_GEMM_KERNELS; k++) {
        cpu_gemm_kernel kk = (cpu_gemm_kernel)k;
        if (!cpu_gemm_runs(f, kk)) {
            ck_assert_int_eq(cpu_gemm_force(kk, kk), -1);
            cpu_gemm_kernel s, l;
            cpu_gemm_choice(&s, &l);
            ck_assert(s == s0 && l == l0);
            continue;
        }
        ck_assert_int_eq(cpu_gemm_force(kk, CPU_GEMM_GENERIC), 0);
        if (kk != CPU_GEMM_BLIS_DEFAULT)
            ck_assert_str_eq(gemm_kernel_name(1), cpu_gemm_kernel_name(kk));
        ck_assert_str_eq(gemm_kernel_name(CPU_GEMM_SMALL_M), "generic");
        ck_assert_ptr_nonnull(strstr(gemm_describe(), "generic for M>=64"));
        for (int t = 0; t < 4; t++) {
            check_gemm_case(&ctx, t & 1, t >> 1, 13, 70, 37, 1, 1.0f, 0.5f);
            check_gemm_case(&ctx, t & 1, t >> 1, 70, 33, 129, 0, 1.0f, 0.0f);
        }
    }
    ck_assert_int_eq(cpu_gemm_force(s0, l0), 0);
}
END_TEST


/* ---------------------------------------------------------------- bf16 */

/* bf16 tests. The conversion is exact bit arithmetic: compared bit for bit
 * with an independent reference (the two bf16 neighbours of x, the nearer
 * by a double subtraction, ties to the even mantissa) and, where the CPU
 * has it, with vcvtneps2bf16 itself. The product sums exact products of
 * bf16 numbers (8-bit significands: 16 bits, exact in fp32 away from
 * under/overflow) in fp32, one rounding per fused step: for K terms the
 * classical recursive-summation bound |C - Σ| <= γ_K Σ|a_k w_k|, γ_K =
 * K·u/(1 - K·u), u = 2^-24, plus 2u(|Σ| + |beta·c|) for the beta step,
 * against a double reference on the same bf16-rounded operands (its own
 * error, K·2^-53, is negligible). The AVX512-BF16 kernel and the portable
 * path (every vector level) must agree bit for bit, at 1 and 2 threads. */

static float f32_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The reference rounding, written differently from bf16_from_f32. */
static uint16_t bf16_reference(float x)
{
    uint32_t u = f32_bits(x);
    if (isnan(x))
        return (uint16_t)((u >> 16) | 0x40);
    if (fpclassify(x) == FP_SUBNORMAL || x == 0.0f)
        return (uint16_t)((u >> 16) & 0x8000);
    if (isinf(x))
        return (uint16_t)(u >> 16);
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1); /* |hi| > |lo| */
    double dlo = fabs((double)x - (double)f32_of((uint32_t)lo << 16));
    double dhi = fabs((double)f32_of((uint32_t)hi << 16) - (double)x);
    if ((hi & 0x7fff) == 0x7f80)   /* rounding up reaches inf: 2^128 */
        dhi = fabs(ldexp(1.0, 128) - fabs((double)x));
    if (dlo < dhi)
        return lo;
    if (dhi < dlo)
        return hi;
    return (lo & 1) ? hi : lo;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void
hw_bf16(const float *x, uint16_t *out)
{
    _mm256_storeu_si256((__m256i *)out, (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x)));
}
#endif

START_TEST(bf16_conversion_matches_reference)
{
    static const uint32_t special[] = {
        0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000,
        0x00800000, 0x80800000, 0x00807fff, 0x00808000, 0x00818000, 0x3f800000, 0x3f808000,
        0x3f818000, 0x3f807fff, 0x3f808001, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff,
        0x7f800000, 0xff800000, 0x7f800001, 0xff800001, 0x7fc00000, 0xffc00000, 0x7fbfffff,
        0x7f812345, 0x7fffffff};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        float x = f32_of(special[i]);
        ck_assert_msg(bf16_from_f32(x) == bf16_reference(x), "%08x: %04x, reference %04x",
                      special[i], bf16_from_f32(x), bf16_reference(x));
    }
    /* NaN stays NaN (quiet), inf stays inf, the largest floats round to inf. */
    ck_assert(isnan(bf16_to_f32(bf16_from_f32(f32_of(0x7f800001)))));
    ck_assert_int_eq(bf16_from_f32(f32_of(0x7f800001)) & 0x40, 0x40);
    ck_assert(isinf(bf16_to_f32(bf16_from_f32(FLT_MAX))));
    /* Every tie (low half 0x8000) and its neighbours, over every high half,
     * then a stride over all bit patterns. */
    size_t n = 0, cap = 4 * 65536 + (1ull << 32) / 65521 + 16;
    float *xs = malloc(cap * sizeof *xs);
    uint16_t *got = malloc(cap * sizeof *got);
    for (uint32_t hi = 0; hi < 65536; hi++)
        for (uint32_t lo = 0x7fff; lo <= 0x8001; lo++)
            xs[n++] = f32_of(hi << 16 | lo);
    for (uint64_t u = 0; u < (1ull << 32); u += 65521)
        xs[n++] = f32_of((uint32_t)u);
    while (n % 16)
        xs[n++] = 0.0f;
    bf16_from_f32_n(got, xs, n);
    for (size_t i = 0; i < n; i++)
        if (got[i] != bf16_reference(xs[i]))
            ck_abort_msg("%08x: %04x, reference %04x", f32_bits(xs[i]), got[i],
                         bf16_reference(xs[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert(f32_bits(bf16_to_f32(got[i])) == (uint32_t)got[i] << 16);
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_bf16_runs(cpu_get())) {
        uint16_t hw[16];
        for (size_t i = 0; i < n; i += 16) {
            hw_bf16(xs + i, hw);
            for (int k = 0; k < 16; k++)
                if (hw[k] != got[i + (size_t)k])
                    ck_abort_msg("%08x: vcvtneps2bf16 %04x, bf16_from_f32 %04x",
                                 f32_bits(xs[i + (size_t)k]), hw[k], got[i + (size_t)k]);
        }
    } else {
        printf("ops: no AVX512-BF16 on this CPU (%s): vcvtneps2bf16 comparison skipped\n",
               cpu_describe());
    }
#endif
    free(xs);
    free(got);
}
END_TEST

/* Loop tests over the AMX tile path: _i = 0 runs as this CPU runs (the
 * tiles where it has them, for products of a few rows or more), _i = 1 on the
 * tile path's software model (nn/ops/amx.h), so that every CPU checks the
 * tiling. Returns the setting to restore. */
static cpu_amx amx_mode_begin(int i, const char *what)
{
    if (i == 0 && cpu_amx_bf16_level() != CPU_AMX_HW && cpu_amx_int8_level() != CPU_AMX_HW)
        printf("ops: %s: no AMX on this CPU (%s): the tile path runs on its software model "
               "only\n", what, cpu_describe());
    return i == 1 ? cpu_amx_force(CPU_AMX_MODEL) : cpu_amx_force(CPU_AMX_HW);
}

/* C (M×N, ldc) from the kernel under the current path settings. */
static void bf16w_run(int nthreads, int M, const float *A, int lda, const ops_bf16w *w,
                      float beta, float *C, int ldc)
{
    ops_ctx ctx;
    ops_ctx_init(&ctx, nthreads);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, M, A, lda, w, beta, C, ldc), MLM_OK);
}

START_TEST(gemm_bf16w_matches_reference)
{
    static const int shapes[][3] = {
        {1, 1, 1},   {1, 17, 3},   {5, 63, 33},  {6, 64, 64},   {7, 65, 31},
        {13, 130, 257}, {1, 768, 768}, {12, 100, 768}, {64, 96, 512}, {3, 2, 2049},
        {16, 64, 32}, {17, 65, 33}, {40, 100, 768}, {33, 1, 1}, {70, 130, 99},
    };
    const float sentinel = -777.0f;
    cpu_amx amx_prev = amx_mode_begin(_i, "gemm_bf16w");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int b = 0; b < 2; b++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            int lda = K + 3, ldc = N + 2;
            float beta = b ? 0.5f : 0.0f;
            float *A = frandv((size_t)M * lda, -2.0f, 2.0f), *W = frandv((size_t)N * K, -1.0f, 1.0f);
            float *C0 = frandv((size_t)M * ldc, -1.0f, 1.0f);
            for (int m = 0; m < M; m++)
                for (int n = N; n < ldc; n++)
                    C0[(size_t)m * ldc + n] = sentinel;
            ops_bf16w w;
            ck_assert_int_eq(ops_bf16w_from_f32(&w, W, N, K, K), MLM_OK);
            float *row = malloc((size_t)K * sizeof *row);   /* the lookup: every element */
            for (int n = 0; n < N; n++) {
                ops_bf16w_row(&w, n, row, 0);
                for (int k = 0; k < K; k++)
                    ck_assert(row[k] == ops_bf16w_at(&w, n, k));
                ops_bf16w_row(&w, n, row, 1);
                for (int k = 0; k < K; k++)
                    ck_assert(row[k] == 2 * ops_bf16w_at(&w, n, k));
            }
            free(row);
            float *C = malloc((size_t)M * ldc * sizeof *C);
            memcpy(C, C0, (size_t)M * ldc * sizeof *C);
            bf16w_run(2, M, A, lda, &w, beta, C, ldc);
            double gamma = K * 0x1p-24 / (1.0 - K * 0x1p-24);
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < N; n++) {
                    double sum = 0, abs_sum = 0;
                    for (int k = 0; k < K; k++) {
                        double p = (double)bf16_to_f32(bf16_from_f32(A[(size_t)m * lda + k])) *
                                   ops_bf16w_at(&w, n, k);
                        ck_assert(ops_bf16w_at(&w, n, k) ==
                                  bf16_to_f32(bf16_from_f32(W[(size_t)n * K + k])));
                        sum += p;
                        abs_sum += fabs(p);
                    }
                    double c0 = C0[(size_t)m * ldc + n], ref = sum + beta * c0;
                    double bound = gamma * abs_sum + 2 * 0x1p-24 * (fabs(sum) + fabs(beta * c0));
                    double got = C[(size_t)m * ldc + n];
                    ck_assert_msg(fabs(got - ref) <= bound,
                                  "%dx%dx%d beta %g (%d,%d): %.9g vs %.9g, bound %.3g", M, N, K,
                                  beta, m, n, got, ref, bound);
                }
                for (int n = N; n < ldc; n++)
                    ck_assert(C[(size_t)m * ldc + n] == sentinel);
            }
            ops_bf16w_free(&w);
            free(A);
            free(W);
            free(C0);
            free(C);
        }
    cpu_amx_force(amx_prev);
}
END_TEST

/* Every path but the AMX tiles (AVX512-BF16 where present, the portable one
 * at each vector level) and 1 or 2 threads give the same bits, on ordinary
 * operands and on operands whose products and sums reach the denormal
 * range (where the flush and the fused rounding matter). The tiles round
 * as TDPBF16PS does: gemm_amx_bf16_order checks them. */
START_TEST(gemm_bf16w_paths_bitwise_identical)
{
    int amx_prev = cpu_amx_limit(0);
    static const int shapes[][3] = {{1, 33, 7}, {7, 130, 65}, {13, 64, 300}, {70, 200, 96}};
    static const struct { int threads, bf16; cpu_vec vec; } run[] = {
        {1, 1, CPU_VEC_AVX512}, {2, 1, CPU_VEC_AVX512}, {1, 0, CPU_VEC_AVX512},
        {2, 0, CPU_VEC_AVX2},   {1, 0, CPU_VEC_BASE},
    };
    int nrun = (int)(sizeof run / sizeof run[0]);
    if (!cpu_bf16_level())
        printf("ops: AVX512-BF16 kernel not available here (%s): only the portable path's "
               "vector levels and thread counts are compared\n", cpu_describe());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tiny = 0; tiny < 2; tiny++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = frandv((size_t)M * K, -1.0f, 1.0f), *W = frandv((size_t)N * K, -1.0f, 1.0f);
            if (tiny) /* products near 2^-126 ± a few octaves, sums that cancel */
                for (size_t i = 0; i < (size_t)M * K; i++)
                    A[i] = ldexpf(A[i], -60 - (int)(i % 9)), W[(i * 7) % ((size_t)N * K)] =
                        ldexpf(W[(i * 7) % ((size_t)N * K)], -60);
            ops_bf16w w;
            ck_assert_int_eq(ops_bf16w_from_f32(&w, W, N, K, K), MLM_OK);
            float *first = NULL;
            for (int r = 0; r < nrun; r++) {
                cpu_vec_limit(run[r].vec);
                cpu_bf16_limit(run[r].bf16);
                float *C = calloc((size_t)M * N, sizeof *C);
                bf16w_run(run[r].threads, M, A, K, &w, 0.0f, C, N);
                if (!first) {
                    first = C;
                    continue;
                }
                for (size_t i = 0; i < (size_t)M * N; i++)
                    ck_assert_msg(f32_bits(C[i]) == f32_bits(first[i]),
                                  "%dx%dx%d tiny %d run %d (threads %d, bf16 %d, %s) [%zu]: %a vs %a",
                                  M, N, K, tiny, r, run[r].threads, run[r].bf16,
                                  cpu_vec_name(cpu_vec_level()), i, C[i], first[i]);
                free(C);
            }
            cpu_vec_limit(CPU_VEC_AVX512);
            cpu_bf16_limit(1);
            free(first);
            ops_bf16w_free(&w);
            free(A);
            free(W);
        }
    cpu_amx_limit(amx_prev);
}
END_TEST

/* The bf16 paths the multi-weight products are checked on: the
 * AVX512-BF16 kernel, the portable loops (AVX2 and base), the tiles on
 * their model and on the hardware (this CPU's own path where it has no
 * AMX), and the hardware with every whole tile streamed past the cache. */
static const struct bf16_path {
    int threads, bf16, stream;
    cpu_vec vec;
    cpu_amx amx;
} bf16_paths[] = {
    {1, 1, 0, CPU_VEC_AVX512, CPU_AMX_NONE},  {2, 1, 0, CPU_VEC_AVX512, CPU_AMX_NONE},
    {2, 0, 0, CPU_VEC_AVX2, CPU_AMX_NONE},    {1, 0, 0, CPU_VEC_BASE, CPU_AMX_NONE},
    {2, 1, 0, CPU_VEC_AVX512, CPU_AMX_MODEL}, {2, 1, 0, CPU_VEC_AVX512, CPU_AMX_HW},
    {2, 1, 1, CPU_VEC_AVX512, CPU_AMX_HW},
};
#define N_BF16_PATHS (sizeof bf16_paths / sizeof bf16_paths[0])

/* Selects path r (NULL: back to the defaults) and returns a context for it. */
static ops_ctx bf16_path_set(const struct bf16_path *r)
{
    static const struct bf16_path defaults = {1, 1, 0, CPU_VEC_AVX512, CPU_AMX_NONE};
    if (!r)
        r = &defaults;
    cpu_vec_limit(r->vec);
    cpu_bf16_limit(r->bf16);
    cpu_amx_force(r->amx);
    ops_stream_from(r->stream);
    return ctx_n(r->threads);
}

/* Three weights of K columns and Ns[i] rows: all bf16 (mix 0), an int8
 * one between two bf16 (mix 1), all int8 (mix 2); W[i] their fp32 values. */
static void qw_mix_make(int mix, const int *Ns, int K, ops_qw *w, const ops_qw **wp, float **W)
{
    static const ops_dtype mixes[3][3] = {{OPS_BF16, OPS_BF16, OPS_BF16},
                                          {OPS_BF16, OPS_INT8, OPS_BF16},
                                          {OPS_INT8, OPS_INT8, OPS_INT8}};
    for (int i = 0; i < 3; i++) {
        W[i] = frandv((size_t)Ns[i] * K, -1.0f, 1.0f);
        ck_assert_int_eq(ops_qw_from_f32(&w[i], mixes[mix][i], W[i], Ns[i], K, NULL), MLM_OK);
        wp[i] = &w[i];
    }
}

static void qw_mix_free(ops_qw *w, float **W)
{
    for (int i = 0; i < 3; i++) {
        ops_qw_free(&w[i]);
        free(W[i]);
    }
}

/* ops_qw_gemm_multi with bf16 weights (ops_gemm_bf16w_multi) and with a
 * mix of dtypes: each output bit for bit what ops_qw_gemm gives alone, on
 * every bf16 path and thread count; panels of different weights share a
 * thread's range. */
START_TEST(qw_gemm_multi_matches_single)
{
    static const int Ms[] = {1, 12, 40}, Ns[3] = {100, 64, 200};
    const int K = 130;
    cpu_amx amx_prev = cpu_amx_force(CPU_AMX_NONE);
    for (int mix = 0; mix < 3; mix++) {
        ops_qw w[3];
        const ops_qw *wp[3];
        float *W[3];
        qw_mix_make(mix, Ns, K, w, wp, W);
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
            int M = Ms[mi];
            float *A = frandv((size_t)M * (K + 3), -2.0f, 2.0f);
            for (size_t r = 0; r < N_BF16_PATHS; r++) {
                ops_ctx ctx = bf16_path_set(&bf16_paths[r]);
                float *one[3], *many[3];
                int ldc[3];
                for (int i = 0; i < 3; i++) {
                    ldc[i] = Ns[i] + i;
                    one[i] = calloc((size_t)M * ldc[i], sizeof *one[i]);
                    many[i] = calloc((size_t)M * ldc[i], sizeof *many[i]);
                    ck_assert_int_eq(ops_qw_gemm(&ctx, M, A, K + 3, &w[i], 0.0f, one[i], ldc[i]),
                                     MLM_OK);
                }
                ck_assert_int_eq(ops_qw_gemm_multi(&ctx, M, A, K + 3, 3, wp, many, ldc), MLM_OK);
                for (int i = 0; i < 3; i++) {
                    for (size_t e = 0; e < (size_t)M * ldc[i]; e++)
                        ck_assert_msg(f32_bits(one[i][e]) == f32_bits(many[i][e]),
                                      "mix %d M %d run %zu weight %d [%zu]: %a vs %a", mix, M, r,
                                      i, e, many[i][e], one[i][e]);
                    free(one[i]);
                    free(many[i]);
                }
            }
            free(A);
        }
        bf16_path_set(NULL);
        qw_mix_free(w, W);
    }
    cpu_amx_force(amx_prev);
    /* Weights of different K: an error, C untouched. */
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    ops_bf16w a, b;
    float *Wa = frandv(4 * (size_t)K, -1.0f, 1.0f), *A = frandv(2 * (size_t)K, -1.0f, 1.0f);
    float C0[8] = {0};
    ck_assert_int_eq(ops_bf16w_from_f32(&a, Wa, 4, K, K), MLM_OK);
    ck_assert_int_eq(ops_bf16w_from_f32(&b, Wa, 4, K - 1, K), MLM_OK);
    const ops_bf16w *ab[2] = {&a, &b};
    float *C[2] = {C0, C0 + 4};
    int ldc[2] = {4, 4};
    ck_assert_int_eq(ops_gemm_bf16w_multi(&ctx, 2, A, K, 2, ab, 0.0f, C, ldc),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16w_multi(&ctx, 2, A, K, 9, ab, 0.0f, C, ldc),
                     MLM_ERR_INVALID_ARGUMENT);
    for (int e = 0; e < 8; e++)
        ck_assert(C0[e] == 0.0f);
    ops_bf16w_free(&a);
    ops_bf16w_free(&b);
    free(Wa);
    free(A);
}
END_TEST

/* Threads for a product: from 2^20 multiply-adds always; from 128 KiB of
 * weights only inside a pool (waking its workers is cheap, starting
 * threads is not). */
START_TEST(threads_for_products)
{
    ck_assert_int_eq(ops_threads_for(4, (double)(1 << 20), 0.0), 4);
    ck_assert_int_eq(ops_threads_for(4, (double)(1 << 20) - 1, 0.0), 1);
    ck_assert_int_eq(ops_threads_for(4, 1000.0, (double)(1 << 17)), 1);   /* no pool */
    par_pool *pool = par_pool_new(1);
    par_pool *before = par_pool_enter(pool);
    ck_assert_int_eq(ops_threads_for(4, 1000.0, (double)(1 << 17)), 4);
    ck_assert_int_eq(ops_threads_for(4, 1000.0, (double)(1 << 17) - 1), 1);
    par_pool_leave(before);
    par_pool_free(pool);
    ck_assert_int_eq(ops_threads_for(4, 1000.0, (double)(1 << 17)), 1);
}
END_TEST

/* A weight set in pieces of rows that start anywhere in a panel (as a
 * checkpoint is converted a chunk at a time), with a leading dimension
 * past K, packs to the same bits as the whole matrix at once, with the
 * vector packing (16 rows by 16 pairs in registers) and without it; every
 * element reads back as its rounding. */
START_TEST(bf16w_set_rows_pieces)
{
    static const int Ks[] = {3, 64, 97, 160};
    const int N = 70, cuts[] = {0, 5, 37, 53, 70};
    int prev = cpu_bf16_limit(1);
    for (size_t s = 0; s < sizeof Ks / sizeof Ks[0]; s++) {
        int K = Ks[s], ldw = K + 5;
        float *W = frandv((size_t)N * ldw, -3.0f, 3.0f);
        ops_bf16w whole[2], pieces;
        for (int fast = 0; fast < 2; fast++) {
            cpu_bf16_limit(fast);
            ck_assert_int_eq(ops_bf16w_from_f32(&whole[fast], W, N, K, ldw), MLM_OK);
        }
        cpu_bf16_limit(1);
        ck_assert_int_eq(ops_bf16w_alloc(&pieces, N, K), MLM_OK);
        for (int c = 0; c + 1 < 5; c++)
            ck_assert_int_eq(ops_bf16w_set_rows(&pieces, W, ldw, cuts[c], cuts[c + 1]), MLM_OK);
        size_t bytes = ops_bf16w_bytes(&pieces);
        ck_assert_uint_eq(bytes, ops_bf16w_bytes(&whole[0]));
        ck_assert(memcmp(pieces.panels, whole[0].panels, bytes) == 0);
        ck_assert(memcmp(pieces.panels, whole[1].panels, bytes) == 0);
        float *row = malloc((size_t)K * sizeof *row);
        for (int n = 0; n < N; n++) {
            ops_bf16w_row(&pieces, n, row, 0);
            for (int k = 0; k < K; k++)
                ck_assert(row[k] == bf16_to_f32(bf16_from_f32(W[(size_t)n * ldw + k])));
        }
        free(row);
        ops_bf16w_free(&pieces);
        ops_bf16w_free(&whole[0]);
        ops_bf16w_free(&whole[1]);
        free(W);
    }
    cpu_bf16_limit(prev);
}
END_TEST

/* ops_qw_gemm_epi: the product with its bias and exact GELU in the
 * epilogue, bit for bit the product (ops_qw_gemm) then ops_bias_forward
 * then ops_gelu_forward, on every path: bf16 weights on the AVX512-BF16
 * kernel, the portable loops (AVX2 and base), the tiles on their model and
 * on the hardware, with whole tiles stored straight into C (32 rows, 128
 * columns) and streamed past the cache; int8 weights on the same settings
 * (VNNI, portable, tiles); beta 0 and 1; a weight without a bias; an int8
 * weight among bf16 ones (one weight at a time); ldc = N and ldc > N;
 * K = 0 for both kernels. */
START_TEST(qw_gemm_epilogue_matches_passes)
{
    static const int Ms[] = {1, 12, 32, 40}, Ns[3] = {128, 70, 200};
    const int K = 130;
    if (cpu_amx_bf16_level() != CPU_AMX_HW)
        printf("ops: qw_gemm_epilogue_matches_passes: no AMX-BF16 on this CPU (%s): hardware "
               "tiles and their streamed stores skipped\n", cpu_describe());
    cpu_amx amx_prev = cpu_amx_force(CPU_AMX_NONE);
    for (int mix = 0; mix < 3; mix++) {
        ops_qw w[3];
        const ops_qw *wp[3];
        float *W[3], *bias[3];
        qw_mix_make(mix, Ns, K, w, wp, W);
        for (int i = 0; i < 3; i++)
            bias[i] = i == 1 ? NULL : frandv((size_t)Ns[i], -2.0f, 2.0f);
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (int bg = 0; bg < 4; bg++) {
                int M = Ms[mi], gelu = bg & 1;
                float beta = (float)(bg >> 1);
                float *A = frandv((size_t)M * (K + 3), -2.0f, 2.0f);
                for (size_t r = 0; r < N_BF16_PATHS; r++) {
                    ops_ctx ctx = bf16_path_set(&bf16_paths[r]);
                    float *ref[3], *got[3];
                    int ldc[3];
                    for (int i = 0; i < 3; i++) {
                        ldc[i] = Ns[i] + i;
                        size_t n = (size_t)M * (size_t)ldc[i];
                        ref[i] = frandv(n, -1.0f, 1.0f);
                        got[i] = malloc(n * sizeof *got[i]);
                        memcpy(got[i], ref[i], n * sizeof *got[i]);
                        ck_assert_int_eq(
                            ops_qw_gemm(&ctx, M, A, K + 3, &w[i], beta, ref[i], ldc[i]), MLM_OK);
                        for (int m = 0; m < M; m++) {
                            float *row = ref[i] + (size_t)m * (size_t)ldc[i];
                            if (bias[i])
                                ops_bias_forward(&ctx, row, bias[i], 1, Ns[i]);
                            if (gelu)
                                ops_gelu_forward(&ctx, row, row, (size_t)Ns[i]);
                        }
                    }
                    ck_assert_int_eq(ops_qw_gemm_epi(&ctx, M, A, K + 3, 3, wp, beta,
                                                     (const float *const *)bias, gelu, got, ldc),
                                     MLM_OK);
                    for (int i = 0; i < 3; i++) {
                        for (size_t e = 0; e < (size_t)M * ldc[i]; e++)
                            ck_assert_msg(f32_bits(ref[i][e]) == f32_bits(got[i][e]),
                                          "mix %d M %d beta %g gelu %d run %zu weight %d [%zu]: "
                                          "%a, passes %a", mix, M, (double)beta, gelu, r, i, e,
                                          got[i][e], ref[i][e]);
                        free(ref[i]);
                        free(got[i]);
                    }
                }
                free(A);
            }
        bf16_path_set(NULL);
        qw_mix_free(w, W);
        for (int i = 0; i < 3; i++)
            free(bias[i]);
    }
    cpu_amx_force(amx_prev);
    /* K = 0: beta·C, then the bias, then GELU. */
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    ops_bf16w empty;
    const ops_bf16w *ep = &empty;
    ck_assert_int_eq(ops_bf16w_from_f32(&empty, NULL, 3, 0, 0), MLM_OK);
    float b3[3] = {-1.5f, 0.0f, 2.0f}, C[6] = {1, 2, 3, 4, 5, 6}, want[6];
    for (int e = 0; e < 6; e++)
        want[e] = 0.5f * C[e] + b3[e % 3];
    ops_gelu_forward(&ctx, want, want, 6);
    const float *bp = b3;
    float *Cp = C;
    int ld = 3;
    ck_assert_int_eq(ops_gemm_bf16w_epi(&ctx, 2, NULL, 0, 1, &ep, 0.5f, &bp, 1, &Cp, &ld), MLM_OK);
    for (int e = 0; e < 6; e++)
        ck_assert_msg(f32_bits(C[e]) == f32_bits(want[e]), "K = 0 [%d]: %a, want %a", e, C[e],
                      want[e]);
    ops_bf16w_free(&empty);
    ops_i8w empty8;
    const ops_i8w *ep8 = &empty8;
    ck_assert_int_eq(ops_i8w_from_f32(&empty8, NULL, 3, 0, 0), MLM_OK);
    for (int e = 0; e < 6; e++)
        C[e] = (float)(e + 1);
    ck_assert_int_eq(ops_gemm_i8w_epi(&ctx, 2, NULL, 0, 1, &ep8, 0.5f, &bp, 1, &Cp, &ld), MLM_OK);
    for (int e = 0; e < 6; e++)
        ck_assert_msg(f32_bits(C[e]) == f32_bits(want[e]), "int8 K = 0 [%d]: %a, want %a", e,
                      C[e], want[e]);
    ops_i8w_free(&empty8);
    /* Bad arguments: an error naming them. */
    ck_assert_int_eq(ops_qw_gemm_epi(&ctx, 2, NULL, 0, 0, NULL, 0.0f, NULL, 0, NULL, NULL),
                     MLM_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(gemm_bf16w_edges)
{
    ops_ctx ctx;
    ops_ctx_init(&ctx, 2);
    float W[6] = {1, 2, 3, 4, 5, 6}, A[6] = {1, 1, 1, 1, 1, 1}, C[4] = {9, 9, 9, 9};
    ops_bf16w w, empty;
    /* K = 0: C = beta·C (0 for beta = 0, even over NaN). */
    ck_assert_int_eq(ops_bf16w_from_f32(&empty, NULL, 2, 0, 0), MLM_OK);
    C[1] = NAN;
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 2, A, 0, &empty, 0.0f, C, 2), MLM_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(C[i] == 0.0f);
    C[0] = 4.0f;
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, A, 0, &empty, 0.5f, C, 2), MLM_OK);
    ck_assert(C[0] == 2.0f);
    ops_bf16w_free(&empty);
    /* M = 0 and N = 0 touch nothing. */
    ck_assert_int_eq(ops_bf16w_from_f32(&w, W, 2, 3, 3), MLM_OK);
    C[0] = 9.0f;
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 0, NULL, 3, &w, 0.0f, C, 2), MLM_OK);
    ck_assert(C[0] == 9.0f);
    ck_assert_int_eq(ops_bf16w_from_f32(&empty, NULL, 0, 3, 3), MLM_OK);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 2, A, 3, &empty, 0.0f, C, 0), MLM_OK);
    ck_assert(C[0] == 9.0f);
    ops_bf16w_free(&empty);
    /* Small integers are exact: [1 1 1]·Wᵀ = 6, 15; beta = 0 overwrites NaN. */
    C[0] = C[1] = NAN;
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, A, 3, &w, 0.0f, C, 2), MLM_OK);
    ck_assert(C[0] == 6.0f && C[1] == 15.0f);
    /* Bad arguments, by name. */
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, A, 2, &w, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, A, 3, &w, 0.0f, C, 1), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, -1, A, 3, &w, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, NULL, 3, &w, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, A, 3, NULL, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "gemm_bf16w"));
    ck_assert_int_eq(ops_bf16w_from_f32(&empty, W, 2, 3, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_bf16w_from_f32(&empty, NULL, 2, 3, 3), MLM_ERR_INVALID_ARGUMENT);
    ops_bf16w_free(&w);
    ops_bf16w_free(NULL);
    /* From bf16 bits: kept, denormals read as signed zero. */
    uint16_t raw[4] = {0x3f80, 0x8001, 0x0040, 0xc000};
    ck_assert_int_eq(ops_bf16w_from_bf16(&w, raw, 2, 2, 2), MLM_OK);
    ck_assert(ops_bf16w_at(&w, 0, 0) == 1.0f && ops_bf16w_at(&w, 1, 1) == -2.0f);
    ck_assert(ops_bf16w_at(&w, 0, 1) == 0.0f && signbit(ops_bf16w_at(&w, 0, 1)));
    ck_assert(ops_bf16w_at(&w, 1, 0) == 0.0f && !signbit(ops_bf16w_at(&w, 1, 0)));
    ops_bf16w_free(&w);
    /* Out of memory: an error, nothing leaked. */
    mem_fail_after(0);
    ck_assert_int_eq(ops_bf16w_from_f32(&w, W, 2, 3, 3), MLM_ERR_OUT_OF_MEMORY);
    mem_fail_after(-1);
    ck_assert_int_eq(ops_bf16w_from_f32(&w, W, 2, 3, 3), MLM_OK);
    mem_fail_after(0);
    ck_assert_int_eq(ops_gemm_bf16w(&ctx, 1, A, 3, &w, 0.0f, C, 2), MLM_ERR_OUT_OF_MEMORY);
    mem_fail_after(-1);
    ops_bf16w_free(&w);
}
END_TEST

/* ops_gemm_bf16 (autocast's products): op(A) and op(B) each rounded to
 * bf16, the exact products summed in fp32 as ops_gemm_bf16w sums them.
 * Against a double reference on the same rounded operands, the error
 * model of the bf16w test above, with alpha's multiply (one more rounding,
 * u·|alpha·Σ|, which also scales the sum's own error by 1 + u):
 *   |C - ref| <= |alpha|·γ_K·Σ|a_k b_k|·(1 + 2u) + 3u·(|alpha·Σ| + |beta·c|).
 * Every transpose combination, odd shapes, padded leading dimensions,
 * alpha and beta; the padding columns of C untouched. */
static float bf16r(float x) { return bf16_to_f32(bf16_from_f32(x)); }

/* Element (r, c) of op(X) for X stored with rows ld floats apart. */
static float op_at(const float *X, int ld, int trans, int r, int c)
{
    return trans ? X[(size_t)c * (size_t)ld + (size_t)r] : X[(size_t)r * (size_t)ld + (size_t)c];
}

START_TEST(gemm_bf16_matches_reference)
{
    static const int shapes[][3] = {
        {1, 1, 1}, {1, 17, 3}, {5, 63, 33}, {7, 65, 31}, {13, 130, 257}, {64, 96, 512},
        {300, 100, 64}, {3, 2, 2049}, {128, 128, 64}, {17, 65, 33}, {48, 70, 1},
        {20, 40, 4100},   /* a long k: on the tile path by chunks (129 blocks) */
    };
    static const float alphas[] = {1.0f, -0.375f}, betas[] = {0.0f, 0.5f};
    const float sentinel = -777.0f;
    cpu_amx amx_prev = amx_mode_begin(_i, "gemm_bf16");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tr = 0; tr < 4; tr++)
            for (int ab = 0; ab < 4; ab++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                int ta = tr & 1, tb = tr >> 1;
                float alpha = alphas[ab & 1], beta = betas[ab >> 1];
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                float *A = frandv((size_t)(ta ? K : M) * lda, -2.0f, 2.0f);
                float *B = frandv((size_t)(tb ? N : K) * ldb, -1.0f, 1.0f);
                float *C0 = frandv((size_t)M * ldc, -1.0f, 1.0f);
                for (int m = 0; m < M; m++)
                    for (int n = N; n < ldc; n++)
                        C0[(size_t)m * ldc + n] = sentinel;
                float *C = malloc((size_t)M * ldc * sizeof *C);
                memcpy(C, C0, (size_t)M * ldc * sizeof *C);
                ops_ctx ctx = ctx_n(2);
                ck_assert_int_eq(ops_gemm_bf16(&ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta,
                                               C, ldc),
                                 MLM_OK);
                double u = 0x1p-24, gamma = K * u / (1.0 - K * u);
                for (int m = 0; m < M; m++) {
                    for (int n = 0; n < N; n++) {
                        double sum = 0, abs_sum = 0;
                        for (int k = 0; k < K; k++) {
                            double p = (double)bf16r(op_at(A, lda, ta, m, k)) *
                                       bf16r(op_at(B, ldb, tb, k, n));
                            sum += p;
                            abs_sum += fabs(p);
                        }
                        double c0 = C0[(size_t)m * ldc + n], ref = alpha * sum + beta * c0;
                        double bound = fabs(alpha) * gamma * abs_sum * (1 + 2 * u) +
                                       3 * u * (fabs(alpha * sum) + fabs(beta * c0));
                        double got = C[(size_t)m * ldc + n];
                        ck_assert_msg(fabs(got - ref) <= bound,
                                      "%dx%dx%d trans %d%d alpha %g beta %g (%d,%d): %.9g vs "
                                      "%.9g, bound %.3g",
                                      M, N, K, ta, tb, alpha, beta, m, n, got, ref, bound);
                    }
                    for (int n = N; n < ldc; n++)
                        ck_assert(C[(size_t)m * ldc + n] == sentinel);
                }
                free(A);
                free(B);
                free(C0);
                free(C);
            }
    cpu_amx_force(amx_prev);
}
END_TEST

/* The same bits from every path but the AMX tiles (AVX512-BF16 where
 * present, the portable one at each vector level), 1 or 2 threads, ops_gemm and ops_gemm_batched
 * under the context's autocast flag, and a batch against its products one
 * by one; with the flag off, ops_gemm is the fp32 product it always was
 * (its own tests above run with the flag off). */
START_TEST(gemm_bf16_paths_bitwise_identical)
{
    int amx_prev = cpu_amx_limit(0);
    static const int shapes[][3] = {{1, 33, 7}, {7, 130, 65}, {70, 200, 96}, {300, 100, 64}};
    static const struct { int threads, bf16; cpu_vec vec; } run[] = {
        {1, 1, CPU_VEC_AVX512}, {2, 1, CPU_VEC_AVX512}, {1, 0, CPU_VEC_AVX512},
        {2, 0, CPU_VEC_AVX2},   {1, 0, CPU_VEC_BASE},
    };
    int nrun = (int)(sizeof run / sizeof run[0]);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tr = 0; tr < 4; tr++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = tr & 1, tb = tr >> 1;
            int lda = ta ? M : K, ldb = tb ? K : N;
            float *A = frandv((size_t)M * K, -1.0f, 1.0f), *B = frandv((size_t)N * K, -1.0f, 1.0f);
            float *C0 = frandv((size_t)M * N, -1.0f, 1.0f);
            float *first = NULL;
            for (int r = 0; r < nrun; r++)
                for (int via = 0; via < 2; via++) {   /* ops_gemm_bf16, ops_gemm + flag */
                    cpu_vec_limit(run[r].vec);
                    cpu_bf16_limit(run[r].bf16);
                    float *C = malloc((size_t)M * N * sizeof *C);
                    memcpy(C, C0, (size_t)M * N * sizeof *C);
                    ops_ctx ctx = ctx_n(run[r].threads);
                    ctx.autocast_bf16 = via;
                    mlm_status st =
                        via ? ops_gemm(&ctx, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C, N)
                            : ops_gemm_bf16(&ctx, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f,
                                            C, N);
                    ck_assert_int_eq(st, MLM_OK);
                    if (!first) {
                        first = C;
                        continue;
                    }
                    for (size_t i = 0; i < (size_t)M * N; i++)
                        ck_assert_msg(f32_bits(C[i]) == f32_bits(first[i]),
                                      "%dx%dx%d trans %d%d run %d via %d [%zu]: %a vs %a", M, N,
                                      K, ta, tb, r, via, i, C[i], first[i]);
                    free(C);
                }
            cpu_vec_limit(CPU_VEC_AVX512);
            cpu_bf16_limit(1);
            /* With the flag off the product is fp32 again, not the bf16 one
             * (operands of full fp32 precision: they differ somewhere). */
            float *C = malloc((size_t)M * N * sizeof *C);
            memcpy(C, C0, (size_t)M * N * sizeof *C);
            ops_ctx off = ctx_n(2);
            ck_assert_int_eq(
                ops_gemm(&off, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C, N), MLM_OK);
            int differ = 0;
            for (size_t i = 0; i < (size_t)M * N; i++)
                differ |= f32_bits(C[i]) != f32_bits(first[i]);
            ck_assert(differ || M * N * K < 64);
            free(C);
            free(first);
            free(A);
            free(B);
            free(C0);
        }
    /* A batch of attention products (B = 2, H = 4 heads of D = 32 over T =
     * 64 tokens, Q/K/V as (B, T, H·D)): S = Q·Kᵀ and O = S·V, batched at 1
     * and 2 threads (2^20 multiply-adds: split by products) against one
     * ops_gemm_bf16 per head. */
    int Bn = 2, T = 64, H = 4, D = 32, HD = H * D;
    float *Q = frandv((size_t)Bn * T * HD, -1, 1), *Kx = frandv((size_t)Bn * T * HD, -1, 1);
    size_t ns = (size_t)Bn * H * T * T;
    float *S1 = malloc(ns * sizeof *S1), *S2 = malloc(ns * sizeof *S2);
    float *O1 = calloc((size_t)Bn * T * HD, sizeof *O1), *O2 = calloc((size_t)Bn * T * HD, sizeof *O2);
    ops_batch qk = {Bn, H, (long)T * HD, D, (long)T * HD, D, (long)H * T * T, (long)T * T};
    ops_batch sv = {Bn, H, (long)H * T * T, (long)T * T, (long)T * HD, D, (long)T * HD, D};
    for (int threads = 1; threads <= 2; threads++) {
        ops_ctx ctx = ctx_n(threads);
        ctx.autocast_bf16 = 1;
        ck_assert_int_eq(ops_gemm_batched(&ctx, 0, 1, T, T, D, 0.25f, Q, HD, Kx, HD, 0.0f, S1, T,
                                          &qk),
                         MLM_OK);
        ck_assert_int_eq(ops_gemm_batched(&ctx, 0, 0, T, D, T, 1.0f, S1, T, Kx, HD, 0.0f, O1, HD,
                                          &sv),
                         MLM_OK);
        ops_ctx one = ctx_n(1);
        for (int b = 0; b < Bn; b++)
            for (int h = 0; h < H; h++) {
                size_t qo = (size_t)b * T * HD + (size_t)h * D, so = ((size_t)b * H + h) * T * T;
                ck_assert_int_eq(ops_gemm_bf16(&one, 0, 1, T, T, D, 0.25f, Q + qo, HD, Kx + qo,
                                               HD, 0.0f, S2 + so, T),
                                 MLM_OK);
                ck_assert_int_eq(ops_gemm_bf16(&one, 0, 0, T, D, T, 1.0f, S2 + so, T, Kx + qo,
                                               HD, 0.0f, O2 + qo, HD),
                                 MLM_OK);
            }
        ck_assert_mem_eq(S1, S2, ns * sizeof *S1);
        ck_assert_mem_eq(O1, O2, (size_t)Bn * T * HD * sizeof *O1);
    }
    free(Q);
    free(Kx);
    free(S1);
    free(S2);
    free(O1);
    free(O2);
    cpu_amx_limit(amx_prev);
}
END_TEST

/* The AMX tile path, on its software model, sums in TDPBF16PS's order:
 * per element of C and per k pair in order, the even product then the odd
 * one, each add rounded. A serial loop in that order gives the same bits
 * for every shape, so any slip in the tiling (the blocks of 16 pairs, the
 * two halves of a panel, the 16- and 32-row tiles, the padding of K, M and
 * N) shows. Operands in the normal range, where the products are exact. On
 * a CPU with AMX the hardware gets the error bound (the _matches_reference
 * tests), and here the same bits for 1 and 2 threads and for a row whatever
 * its neighbours. On both, a product summed a chunk of k at a time (the
 * path of a long k, the tied head's input gradient) has the bits of one
 * summed in one go: the sums leave the tiles and come back exactly. */
static float amx_order_ref(const float *A, int lda, int ta, const float *B, int ldb, int tb,
                           int m, int n, int K)
{
    float acc = 0.0f;
    for (int k = 0; k < K; k += 2) {
        float p0 = bf16r(op_at(A, lda, ta, m, k)) * bf16r(op_at(B, ldb, tb, k, n));
        acc = acc + p0;
        if (k + 1 < K) {
            float p1 = bf16r(op_at(A, lda, ta, m, k + 1)) * bf16r(op_at(B, ldb, tb, k + 1, n));
            acc = acc + p1;
        }
    }
    return acc;
}

START_TEST(gemm_amx_bf16_order)
{
    static const int shapes[][3] = {{16, 64, 32}, {17, 65, 33}, {40, 130, 100}, {33, 1, 1},
                                    {64, 96, 512}, {31, 200, 64}, {100, 70, 200},
                                    {64, 520, 96}, {160, 200, 320}};
    for (int hw = 0; hw < 2; hw++) {
        if (hw && cpu_amx_bf16_level() != CPU_AMX_HW) {
            printf("ops: gemm_amx_bf16_order: no AMX-BF16 on this CPU (%s): hardware tiles "
                   "skipped, the software model checked\n", cpu_describe());
            continue;
        }
        cpu_amx prev = cpu_amx_force(hw ? CPU_AMX_HW : CPU_AMX_MODEL);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int tr = 0; tr < 5; tr++) {   /* tr 4: ops_gemm_bf16w */
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                int ta = tr < 4 && (tr & 1), tb = tr < 4 ? tr >> 1 : 1;
                int lda = ta ? M : K, ldb = tb ? K : N;
                float *A = frandv((size_t)M * K, -2.0f, 2.0f), *B = frandv((size_t)N * K, -1.0f, 1.0f);
                float *C[6];
                ops_bf16w w;
                if (tr == 4)
                    ck_assert_int_eq(ops_bf16w_from_f32(&w, B, N, K, K), MLM_OK);
                /* 2 threads, 1 thread, the first 17 rows; then 2 threads
                 * with k in chunks of 2 blocks, sums kept for 3 tiles (the
                 * long-k order, here from one block on); then 2 threads
                 * with every whole tile streamed past the cache (on the
                 * hardware; N of 70, 130, 200 and 520: rows off the lines,
                 * the partial lines of consecutive panels joined); then
                 * both */
                for (int r = 0; r < 6; r++) {
                    size_t bytes = ((size_t)M * N * sizeof(float) + 63) / 64 * 64;
                    C[r] = aligned_alloc(64, bytes);
                    memset(C[r], 0, bytes);
                    int rows = r == 2 ? (M < 17 ? M : 17) : M;
                    ops_ctx ctx = ctx_n(r == 1 ? 1 : 2);
                    if (r == 3 || r == 5)
                        ops_gemm_bf16_chunking(1, 2, 3);
                    if (r >= 4)
                        ops_stream_from(1);
                    mlm_status st =
                        tr == 4 ? ops_gemm_bf16w(&ctx, rows, A, K, &w, 0.0f, C[r], N)
                                : ops_gemm_bf16(&ctx, ta, tb, rows, N, K, 1.0f, A, lda, B, ldb,
                                                0.0f, C[r], N);
                    ops_gemm_bf16_chunking(0, 0, 0);
                    ops_stream_from(0);
                    ck_assert_int_eq(st, MLM_OK);
                }
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        size_t i = (size_t)m * N + n;
                        if (!hw) {
                            float ref = amx_order_ref(A, lda, ta, B, ldb, tb, m, n, K);
                            ck_assert_msg(f32_bits(C[0][i]) == f32_bits(ref),
                                          "model %dx%dx%d tr %d (%d,%d): %a, TDPBF16PS order %a",
                                          M, N, K, tr, m, n, C[0][i], ref);
                        }
                        ck_assert(f32_bits(C[1][i]) == f32_bits(C[0][i]));
                        ck_assert_msg(f32_bits(C[3][i]) == f32_bits(C[0][i]),
                                      "%s %dx%dx%d tr %d (%d,%d): by chunks %a, in one go %a",
                                      hw ? "tiles" : "model", M, N, K, tr, m, n, C[3][i],
                                      C[0][i]);
                        if (m < 17 && M >= 16)   /* 17 rows: still the tiles */
                            ck_assert(f32_bits(C[2][i]) == f32_bits(C[0][i]));
                        ck_assert_msg(f32_bits(C[4][i]) == f32_bits(C[0][i]),
                                      "%s %dx%dx%d tr %d (%d,%d): streamed %a, stored %a",
                                      hw ? "tiles" : "model", M, N, K, tr, m, n, C[4][i],
                                      C[0][i]);
                        ck_assert(f32_bits(C[5][i]) == f32_bits(C[0][i]));
                    }
                if (tr == 4)
                    ops_bf16w_free(&w);
                for (int r = 0; r < 6; r++)
                    free(C[r]);
                free(A);
                free(B);
            }
        cpu_amx_force(prev);
    }
}
END_TEST

/* ops_attention_rows (decoding's attention): each row against a double
 * reference of softmax(q·k + bias + mask)·v within a bound from its sums;
 * each row's bits the same alone as among rows sharing its block (the
 * beams of cross-attention are computed together), with a block table, on
 * 1 or 2 threads and at every vector level; D = 64 (the register path) and
 * D = 24; a row whose scores are all -inf attends uniformly. */
static void att_case(int rows, int per, int use_table, int H, int D, int nk, int threads,
                     const float *q, const float *k, const float *v, const float *add,
                     const float *mask, const int32_t *table, float *out)
{
    float *scratch = malloc((size_t)rows * nk * sizeof *scratch);
    /* use_table 2: k and v head by head (kv_head), as the decoder's cross cache */
    ops_attention a = {.rows = rows, .H = H, .D = D, .nk = nk, .rows_per_kv = per,
                       .block = use_table == 1 ? table : NULL, .q = q, .q_ld = (long)H * D,
                       .k = k, .v = v, .kv_stride = (long)nk * H * D,
                       .kv_ld = use_table == 2 ? D : (long)H * D,
                       .kv_head = use_table == 2 ? (long)nk * D : 0, .add = add, .add_ld = nk,
                       .mask = mask, .mask_ld = nk, .out = out, .out_ld = (long)H * D,
                       .scratch = scratch};
    ops_ctx ctx = ctx_n(threads);
    ops_attention_rows(&ctx, &a);
    free(scratch);
}

START_TEST(attention_rows_matches_reference)
{
    /* rows, heads, D, keys, rows per block: groups of 4 and 1 (5 per block),
     * 4 and 3 (7), 4 and 2 (6) */
    static const int dims[][5] = {{9, 2, 64, 37, 5}, {6, 3, 24, 5, 5}, {13, 1, 64, 130, 5},
                                  {7, 2, 64, 9, 5},  {14, 2, 64, 21, 7}, {12, 1, 64, 16, 6}};
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        int rows = dims[c][0], H = dims[c][1], D = dims[c][2], nk = dims[c][3], per = dims[c][4];
        int blocks = (rows + per - 1) / per, HD = H * D;
        float *q = frandv((size_t)rows * HD, -1.0f, 1.0f);
        float *k = frandv((size_t)blocks * nk * HD, -1.0f, 1.0f);
        float *v = frandv((size_t)blocks * nk * HD, -1.0f, 1.0f);
        float *add = frandv((size_t)H * nk, -2.0f, 2.0f), *mask = calloc((size_t)blocks * nk, 4);
        mask[1] = -FLT_MAX;
        for (int j = 0; j < nk; j++)   /* block 1: every key masked (uniform) */
            mask[(size_t)1 * nk + j] = -INFINITY;
        int32_t *table = malloc((size_t)rows * sizeof *table);
        for (int r = 0; r < rows; r++)
            table[r] = r / per;
        float *base = malloc((size_t)rows * HD * sizeof *base), *o = malloc((size_t)rows * HD * 4);
        att_case(rows, per, 0, H, D, nk, 1, q, k, v, add, mask, table, base);
        for (int r = 0; r < rows; r++) {
            int b = r / per;
            for (int h = 0; h < H; h++) {
                double sc[200], mx = -INFINITY, sum = 0, ds = 0, u = 0x1p-24;
                for (int j = 0; j < nk; j++) {
                    double d = 0, dabs = 0;
                    for (int e = 0; e < D; e++) {
                        double t = (double)q[(size_t)r * HD + h * D + e] *
                                   k[((size_t)b * nk + j) * HD + h * D + e];
                        d += t;
                        dabs += fabs(t);
                    }
                    sc[j] = d + add[h * nk + j] + mask[(size_t)b * nk + j];
                    mx = sc[j] > mx ? sc[j] : mx;
                    /* the float score's error: the dot's γ_D, then two adds */
                    double e = (D + 2) * u * (dabs + fabs(add[h * nk + j]));
                    ds = e > ds ? e : ds;
                }
                for (int j = 0; j < nk; j++) {
                    sc[j] = mx == -INFINITY ? 1.0 : exp(sc[j] - mx);
                    sum += sc[j];
                }
                for (int e = 0; e < D; e++) {
                    double ref = 0, mag = 0;
                    for (int j = 0; j < nk; j++) {
                        double p = sc[j] / sum, vv = v[((size_t)b * nk + j) * HD + h * D + e];
                        ref += p * vv;
                        mag += p * fabs(vv);
                    }
                    /* each weight p_j is off relatively by at most twice the
                     * worst score error (its own and the max's), plus expf's
                     * ~1 ulp and the normalising sum's nk ulps; the weighted
                     * sum of values adds nk ulps of Σ p|v| */
                    double bound = (2 * ds + (3.0 * nk + 8) * u) * mag * 1.01 + 1e-30;
                    double got = base[(size_t)r * HD + h * D + e];
                    ck_assert_msg(fabs(got - ref) <= bound, "D %d nk %d row %d head %d [%d]: %.9g vs %.9g",
                                  D, nk, r, h, e, got, ref);
                }
            }
        }
        /* the same bits: a block table, 2 threads, head by head, each row
         * alone, every level */
        att_case(rows, per, 1, H, D, nk, 2, q, k, v, add, mask, table, o);
        ck_assert_mem_eq(o, base, (size_t)rows * HD * sizeof *o);
        float *kh = malloc((size_t)blocks * nk * HD * sizeof *kh);
        float *vh = malloc((size_t)blocks * nk * HD * sizeof *vh);
        for (int b = 0; b < blocks; b++)
            for (int h = 0; h < H; h++)
                for (int j = 0; j < nk; j++) {
                    size_t to = (((size_t)b * H + h) * nk + j) * D, from = ((size_t)b * nk + j) * HD + (size_t)h * D;
                    memcpy(kh + to, k + from, (size_t)D * sizeof *kh);
                    memcpy(vh + to, v + from, (size_t)D * sizeof *vh);
                }
        att_case(rows, per, 2, H, D, nk, 2, q, kh, vh, add, mask, table, o);
        ck_assert_mem_eq(o, base, (size_t)rows * HD * sizeof *o);
        free(kh);
        free(vh);
        for (int r = 0; r < rows; r++) {
            int b = r / per;
            att_case(1, 1, 0, H, D, nk, 1, q + (size_t)r * HD, k + (size_t)b * nk * HD,
                     v + (size_t)b * nk * HD, add, mask + (size_t)b * nk, table, o);
            ck_assert_mem_eq(o, base + (size_t)r * HD, (size_t)HD * sizeof *o);
        }
        for (cpu_vec lv = CPU_VEC_BASE; lv <= CPU_VEC_AVX2; lv++) {
            cpu_vec_limit(lv);
            att_case(rows, per, 0, H, D, nk, 2, q, k, v, add, mask, table, o);
            cpu_vec_limit(CPU_VEC_AVX512);
            ck_assert_msg(memcmp(o, base, (size_t)rows * HD * sizeof *o) == 0, "level %s differs",
                          cpu_vec_name(lv));
        }
        free(q);
        free(k);
        free(v);
        free(add);
        free(mask);
        free(table);
        free(base);
        free(o);
    }
}
END_TEST

/* Edges: empty sizes, K = 0 and alpha = 0 give beta·C, bad arguments are
 * named, out of memory is an error. */
START_TEST(gemm_bf16_edges)
{
    ops_ctx ctx = ctx_n(2);
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 1, 1, 1, 1, 1}, C[4] = {NAN, 8, 9, 9};
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, C, 2), MLM_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(C[i] == 0.0f);
    C[0] = 4.0f;
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 1, 2, 3, 0.0f, A, 3, B, 2, 0.5f, C, 2), MLM_OK);
    ck_assert(C[0] == 2.0f);
    C[0] = 9.0f;
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 0, 2, 3, 1.0f, NULL, 3, B, 2, 0.0f, C, 2), MLM_OK);
    ck_assert(C[0] == 9.0f);
    /* Small integers are exact: (2×3)·(3×2) of ones = row sums. */
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2), MLM_OK);
    ck_assert(C[0] == 6.0f && C[1] == 6.0f && C[2] == 15.0f && C[3] == 15.0f);
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 1, 0, 2, 2, 3, 1.0f, A, 2, B, 2, 0.0f, C, 2), MLM_OK);
    ck_assert(C[0] == 9.0f && C[2] == 12.0f);   /* Aᵀ (2×3) of A stored 3×2 */
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 2, 2, 3, 1.0f, A, 2, B, 2, 0.0f, C, 2),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "gemm_bf16"));
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, -1, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 2, 2, 3, 1.0f, A, 3, NULL, 2, 0.0f, C, 2),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_bf16_batched(&ctx, 0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2,
                                           NULL),
                     MLM_ERR_INVALID_ARGUMENT);
    mem_fail_after(0);
    ck_assert_int_eq(ops_gemm_bf16(&ctx, 0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2),
                     MLM_ERR_OUT_OF_MEMORY);
    ops_batch one = {1, 1, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(ops_gemm_bf16_batched(&ctx, 0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2,
                                           &one),
                     MLM_ERR_OUT_OF_MEMORY);
    mem_fail_after(-1);
}
END_TEST


/* ---------------------------------------------------------------- int8 */

/* int8 tests (nn/ops/gemm_i8.c). The integer sums are exact, so the kernel
 * is compared bit for bit with a scalar reference written here: it
 * recomputes sw, q, sa, z and u from the rules (fminf/fmaxf and rintf where
 * the library uses compares and nearbyintf: the same values under the
 * default rounding mode), sums u·q in int64, and applies the epilogue in
 * the stated order, (sa·sw)·(float)d, then + beta·C.
 *
 * Accuracy against the fp32 product (double reference, error 2^-53
 * relative, negligible): with a = sa·(u − z) + ea and w = sw·q + ew,
 * a·w − (sa(u−z))·(sw·q) = ea·w + a·ew − ea·ew, so per element
 *   |C − Σ a·w| ≤ Σ_k (|w|·sa·h + |a|·sw·h + sa·sw·h²) + 8u·(|Ĉ| + |beta·c|)
 * where h bounds |x/scale − integer| and Ĉ is the exactly quantized
 * product. h = 1/2 + 2^-10: round to nearest gives 1/2, the division
 * fl(x/s) adds ≤ 256·2^-24, and the clamps at 0, 255 and ±127 add at most
 * the rounding of the scales (hi − lo)/255 and max|w|/127 (≤ 2·2^-24
 * relative, so x/s overshoots 255 or 127 by ≤ 2^-15) and of the zero point
 * (≤ 256·2^-24): all below 2^-10. The epilogue's float steps (s = sa·sw,
 * (float)d, s·d, beta·c, the add) cost ≤ 5 roundings: 8u with u = 2^-24. */

static float i8_ref_weight_scale(const float *w, int K)
{
    float amax = 0.0f;
    for (int k = 0; k < K; k++)
        amax = fmaxf(amax, fabsf(w[k]));
    float s = amax / 127.0f;
    return s < FLT_MIN ? 1.0f : s;
}

static int32_t i8_ref_weight_q(float x, float sw)
{
    return (int32_t)fmaxf(-127.0f, fminf(127.0f, rintf(x / sw)));
}

/* sa, z and u of a row of K; 0 (sa NaN) for a row whose outputs are NaN. */
static int i8_ref_act(const float *x, int K, float *sa, int32_t *z, int32_t *u)
{
    float lo = 0.0f, hi = 0.0f;
    int finite = 1;
    for (int k = 0; k < K; k++) {
        finite = finite && isfinite(x[k]);
        lo = fminf(lo, x[k]);
        hi = fmaxf(hi, x[k]);
    }
    float range = hi - lo;
    *sa = NAN;
    *z = 0;
    memset(u, 0, (size_t)K * sizeof *u);
    if (!finite || isinf(range))
        return 0;
    float s = range / 255.0f;
    if (s < FLT_MIN)
        s = 1.0f;
    *z = (int32_t)rintf(fminf(255.0f, fmaxf(0.0f, 0.0f - lo / s)));
    for (int k = 0; k < K; k++)
        u[k] = (int32_t)fminf(255.0f, fmaxf(0.0f, rintf(x[k] / s) + (float)*z));
    *sa = s;
    return 1;
}

/* C (M×N, ldc) from the int8 kernel under the current path settings. */
static void i8w_run(int nthreads, int M, const float *A, int lda, const ops_i8w *w, float beta,
                    float *C, int ldc)
{
    ops_ctx ctx;
    ops_ctx_init(&ctx, nthreads);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, M, A, lda, w, beta, C, ldc), MLM_OK);
}

/* Checks C against the scalar reference (bit for bit) and the fp32
 * product (the bound above); C0 is C before the call. */
static void i8_check(int M, int N, int K, const float *A, int lda, const float *W,
                     const ops_i8w *w, float beta, const float *C0, const float *C, int ldc)
{
    float *sw = malloc((size_t)N * sizeof *sw);
    int32_t *q = malloc(((size_t)N * K + 1) * sizeof *q), *u = malloc(((size_t)K + 1) * sizeof *u);
    const double h = 0.5 + 0x1p-10, ulp = 0x1p-24;
    for (int n = 0; n < N; n++) {
        sw[n] = i8_ref_weight_scale(W + (size_t)n * K, K);
        int64_t rowsum = 0;
        for (int k = 0; k < K; k++) {
            int32_t qk = i8_ref_weight_q(W[(size_t)n * K + k], sw[n]);
            ck_assert(qk >= -127 && qk <= 127);
            q[(size_t)n * K + k] = qk;
            rowsum += qk;
            ck_assert(ops_i8w_at(w, n, k) == sw[n] * (float)qk);
        }
        ck_assert(w->scale[n] == sw[n]);
        ck_assert(w->rowsum[n] == rowsum);
    }
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * lda;
        float sa;
        int32_t z;
        int ok = i8_ref_act(a, K, &sa, &z, u);
        for (int n = 0; n < N; n++) {
            int64_t d = 0;
            double err = 0, exact = 0;
            for (int k = 0; k < K; k++) {
                int32_t qk = q[(size_t)n * K + k];
                d += (int64_t)u[k] * qk - (int64_t)z * qk;
                double wk = W[(size_t)n * K + k];
                exact += (double)a[k] * wk;
                err += fabs(wk) * sa * h + fabs((double)a[k]) * sw[n] * h + (double)sa * sw[n] * h * h;
            }
            ck_assert(d >= INT32_MIN && d <= INT32_MAX);
            float s = sa * sw[n], c0 = C0[(size_t)m * ldc + n];
            float ref = s * (float)d;
            if (beta != 0.0f)
                ref = ref + beta * c0;
            float got = C[(size_t)m * ldc + n];
            if (!ok) {
                ck_assert_msg(isnan(got), "%dx%dx%d (%d,%d): %g, expected NaN", M, N, K, m, n,
                              (double)got);
                continue;
            }
            ck_assert_msg(f32_bits(got) == f32_bits(ref),
                          "%dx%dx%d beta %g (%d,%d): %a, reference %a (d %lld)", M, N, K,
                          (double)beta, m, n, got, ref, (long long)d);
            double quant = (double)sa * sw[n] * (double)d;
            double bound = err + 8 * ulp * (fabs(quant) + fabs((double)beta * c0));
            double want = exact + (double)beta * c0;
            ck_assert_msg(fabs(got - want) <= bound,
                          "%dx%dx%d beta %g (%d,%d): %.9g vs fp32 %.9g, bound %.3g", M, N, K,
                          (double)beta, m, n, (double)got, want, bound);
        }
    }
    free(sw);
    free(q);
    free(u);
}

/* Rows of A of several kinds (m % 6): random, negative only, one value,
 * all zero, positive with an outlier, extremes only (u ∈ {0, 255}). */
static float *i8_activations(int M, int K, int lda)
{
    float *A = frandv((size_t)M * lda, -2.0f, 2.0f);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            float *x = A + (size_t)m * lda + k;
            switch (m % 6) {
            case 1: *x = -0.1f - 3.0f * fabsf(*x); break;
            case 2: *x = 1.7f; break;
            case 3: *x = 0.0f; break;
            case 4: *x = k == K / 2 ? 50.0f : fabsf(*x); break;
            case 5: *x = k % 2 ? -1.5f : 2.5f; break;
            default: break;
            }
        }
    return A;
}

/* Rows of W: random, with row 1 zero, row 2 at ±max only (q = ±127), row 3
 * spanning 2^-20 to 1. */
static float *i8_weights(int N, int K)
{
    float *W = frandv((size_t)N * K, -1.0f, 1.0f);
    for (int n = 1; n < N && n < 4; n++)
        for (int k = 0; k < K; k++) {
            float *x = W + (size_t)n * K + k;
            *x = n == 1 ? 0.0f : n == 2 ? (k % 3 ? 0.75f : -0.75f) : ldexpf(*x, -(k % 21));
        }
    return W;
}

/* The weights' quantization at load (a loop compiled per vector level):
 * scale, row sum and every element as the scalar reference's, at each
 * level, over lengths around the 16-lane blocks and with exact ties
 * (amax 127: sw 1, and x.5 rounds to even, -0.5 to 0). */
START_TEST(i8_weight_quantization_every_level)
{
    static const int Ks[] = {1, 3, 4, 15, 16, 17, 33, 770};
    static const cpu_vec levels[] = {CPU_VEC_AVX512, CPU_VEC_AVX2, CPU_VEC_BASE};
    for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++) {
        int N = 70, K = Ks[c];
        float *W = i8_weights(N, K);
        for (int k = 0; k < K; k++)   /* row 4: ties */
            W[(size_t)4 * K + k] = k == 0 ? -127.0f : (float)(k % 9) - 4.5f;
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            cpu_vec_limit(levels[l]);
            ops_i8w w;
            mlm_status st = ops_i8w_from_f32(&w, W, N, K, K);
            cpu_vec_limit(CPU_VEC_AVX512);
            ck_assert_int_eq(st, MLM_OK);
            for (int n = 0; n < N; n++) {
                float sw = i8_ref_weight_scale(W + (size_t)n * K, K);
                int64_t sum = 0;
                for (int k = 0; k < K; k++) {
                    int32_t q = i8_ref_weight_q(W[(size_t)n * K + k], sw);
                    sum += q;
                    ck_assert_msg(ops_i8w_at(&w, n, k) == sw * (float)q, "K %d level %s (%d, %d)",
                                  K, cpu_vec_name(levels[l]), n, k);
                }
                ck_assert(w.scale[n] == sw && w.rowsum[n] == sum);
            }
            ops_i8w_free(&w);
        }
        free(W);
    }
}
END_TEST

START_TEST(i8_quantization_special_cases)
{
    ops_i8w w;
    /* Exact cases: amax 127 gives sw 1, ties round to even. */
    float W[] = {127, -127, 63.5f, 0.5f, -1.5f, 2.5f,   /* row 0 */
                 0, 0, 0, 0, 0, 0,                      /* row 1: zero */
                 1e-45f, 0, 0, 0, 0, -1e-45f,           /* row 2: denormal only */
                 -3, 1, 0, 0, 0, 0};                    /* row 3: -3 -> -127 */
    ck_assert_int_eq(ops_i8w_from_f32(&w, W, 4, 6, 6), MLM_OK);
    static const int q0[] = {127, -127, 64, 0, -2, 2};
    for (int k = 0; k < 6; k++)
        ck_assert(ops_i8w_at(&w, 0, k) == (float)q0[k]);
    ck_assert(w.scale[0] == 1.0f && w.rowsum[0] == 64);
    ck_assert(w.scale[1] == 1.0f && w.rowsum[1] == 0 && w.scale[2] == 1.0f && w.rowsum[2] == 0);
    ck_assert(w.scale[3] == 3.0f / 127.0f && w.rowsum[3] == -127 + 42);
    ck_assert(ops_i8w_at(&w, 3, 0) == -127.0f * (3.0f / 127.0f));
    /* Activations: a zero row gives exact zeros; one value, negative only,
     * a row holding inf or NaN (NaN outputs, its neighbours untouched). */
    float A[5][6] = {{0, 0, 0, 0, 0, 0},
                     {2, 2, 2, 2, 2, 2},
                     {-3, -1, -2, -0.5f, -3, -1},
                     {1, INFINITY, 0, 0, 0, 0},
                     {1, 0, NAN, 0, 0, 0}};
    float C[5][4], C0[5][4] = {{0}};
    i8w_run(1, 5, &A[0][0], 6, &w, 0.0f, &C[0][0], 4);
    for (int n = 0; n < 4; n++)
        ck_assert(C[0][n] == 0.0f && isnan(C[3][n]) && isnan(C[4][n]));
    i8_check(5, 4, 6, &A[0][0], 6, W, &w, 0.0f, &C0[0][0], &C[0][0], 4);
    /* One value: lo 0, hi 2, u = 255; negative only: z = 255. */
    float sa;
    int32_t z, u[6];
    ck_assert(i8_ref_act(A[1], 6, &sa, &z, u) && z == 0 && u[0] == 255);
    ck_assert(i8_ref_act(A[2], 6, &sa, &z, u) && z == 255 && u[0] == 0);
    ops_i8w_free(&w);
    /* A non-finite weight is refused, by position. */
    W[8] = NAN;
    ck_assert_int_eq(ops_i8w_from_f32(&w, W, 4, 6, 6), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "element (1, 2) is not finite"));
    ck_assert_ptr_null(w.panels);
    W[8] = -INFINITY;
    ck_assert_int_eq(ops_i8w_from_f32(&w, W, 4, 6, 6), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "i8 weight"));
}
END_TEST

START_TEST(gemm_i8w_matches_reference)
{
    static const int Ms[] = {1, 7}, Ns[] = {1, 65, 100}, Ks[] = {1, 3, 5, 770};
    static const int more[][3] = {{13, 130, 257}, {12, 768, 768}, {64, 96, 512}};
    const float sentinel = -777.0f;
    int nshape = 2 * 3 * 4 + 3;
    for (int s = 0; s < nshape; s++)
        for (int b = 0; b < 2; b++) {
            int M, N, K;
            if (s < 24) {
                M = Ms[s / 12], N = Ns[(s / 4) % 3], K = Ks[s % 4];
            } else {
                M = more[s - 24][0], N = more[s - 24][1], K = more[s - 24][2];
            }
            int lda = K + 3, ldc = N + 2;
            float beta = b ? 0.5f : 0.0f;
            float *A = i8_activations(M, K, lda), *W = i8_weights(N, K);
            float *C0 = frandv((size_t)M * ldc, -1.0f, 1.0f);
            for (int m = 0; m < M; m++)
                for (int n = N; n < ldc; n++)
                    C0[(size_t)m * ldc + n] = sentinel;
            ops_i8w w;
            ck_assert_int_eq(ops_i8w_from_f32(&w, W, N, K, K), MLM_OK);
            float *row = malloc((size_t)K * sizeof *row);   /* the lookup: every element */
            for (int n = 0; n < N; n++) {
                ops_i8w_row(&w, n, row, 0);
                for (int k = 0; k < K; k++)
                    ck_assert(row[k] == ops_i8w_at(&w, n, k));
                ops_i8w_row(&w, n, row, 1);
                for (int k = 0; k < K; k++)
                    ck_assert(row[k] == 2 * ops_i8w_at(&w, n, k));
            }
            free(row);
            float *C = malloc((size_t)M * ldc * sizeof *C);
            memcpy(C, C0, (size_t)M * ldc * sizeof *C);
            i8w_run(2, M, A, lda, &w, beta, C, ldc);
            i8_check(M, N, K, A, lda, W, &w, beta, C0, C, ldc);
            for (int m = 0; m < M; m++)
                for (int n = N; n < ldc; n++)
                    ck_assert(C[(size_t)m * ldc + n] == sentinel);
            ops_i8w_free(&w);
            free(A);
            free(W);
            free(C0);
            free(C);
        }
}
END_TEST

/* Every path (AMX-INT8 tiles and AVX512-VNNI where present, the tiles'
 * software model, the portable one at each vector level) and 1 or 2
 * threads give the same bits: the integer sums are exact on every path. */
START_TEST(gemm_i8w_paths_bitwise_identical)
{
    static const int shapes[][3] = {{1, 33, 7}, {7, 130, 65}, {13, 64, 300}, {70, 200, 96},
                                    {3, 100, 770}, {17, 130, 65}, {40, 100, 770}, {16, 1, 1},
                                    {64, 520, 96}};
    /* The last run streams every output past the cache (on the hardware
     * tiles; N of 130, 200 and 520: rows off the lines, the partial lines
     * of consecutive panels joined). */
    static const struct { int threads, vnni; cpu_vec vec; cpu_amx amx; int stream; } run[] = {
        {1, 1, CPU_VEC_AVX512, CPU_AMX_NONE, 0}, {2, 1, CPU_VEC_AVX512, CPU_AMX_NONE, 0},
        {1, 0, CPU_VEC_AVX512, CPU_AMX_NONE, 0}, {2, 0, CPU_VEC_AVX2, CPU_AMX_NONE, 0},
        {1, 0, CPU_VEC_BASE, CPU_AMX_NONE, 0},   {2, 1, CPU_VEC_AVX512, CPU_AMX_MODEL, 0},
        {1, 0, CPU_VEC_AVX2, CPU_AMX_MODEL, 0},  {2, 1, CPU_VEC_AVX512, CPU_AMX_HW, 0},
        {2, 1, CPU_VEC_AVX512, CPU_AMX_HW, 1},
    };
    cpu_amx amx_prev = cpu_amx_force(CPU_AMX_HW);
    if (cpu_amx_int8_level() != CPU_AMX_HW)
        printf("ops: no AMX-INT8 on this CPU (%s): the tile path is compared on its software "
               "model only\n", cpu_describe());
    int nrun = (int)(sizeof run / sizeof run[0]);
    if (!cpu_vnni_level())
        printf("ops: AVX512-VNNI kernel not available here (%s): only the portable path's "
               "vector levels and thread counts are compared\n", cpu_describe());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = i8_activations(M, K, K), *W = i8_weights(N, K);
        ops_i8w w;
        ck_assert_int_eq(ops_i8w_from_f32(&w, W, N, K, K), MLM_OK);
        float *first = NULL;
        for (int r = 0; r < nrun; r++) {
            cpu_vec_limit(run[r].vec);
            cpu_vnni_limit(run[r].vnni);
            cpu_amx_force(run[r].amx);
            ops_stream_from(run[r].stream);
            float *C = calloc((size_t)M * N, sizeof *C);
            i8w_run(run[r].threads, M, A, K, &w, 0.0f, C, N);
            ops_stream_from(0);
            if (!first) {
                first = C;
                continue;
            }
            for (size_t i = 0; i < (size_t)M * N; i++)
                ck_assert_msg(f32_bits(C[i]) == f32_bits(first[i]),
                              "%dx%dx%d run %d (threads %d, vnni %d, %s) [%zu]: %a vs %a", M, N,
                              K, r, run[r].threads, run[r].vnni, cpu_vec_name(cpu_vec_level()), i,
                              C[i], first[i]);
            free(C);
        }
        cpu_vec_limit(CPU_VEC_AVX512);
        cpu_vnni_limit(1);
        cpu_amx_force(amx_prev);
        free(first);
        ops_i8w_free(&w);
        free(A);
        free(W);
    }
}
END_TEST

/* Several weights with one input in one call (a layer's q, k, v): each
 * output bit for bit what ops_gemm_i8w gives alone, on every path and
 * thread count, beta included; the panels of different weights share a
 * thread's range (N not a multiple of the 64-column panel). */
START_TEST(gemm_i8w_multi_matches_single)
{
    static const struct { int threads, vnni; cpu_vec vec; cpu_amx amx; } run[] = {
        {1, 1, CPU_VEC_AVX512, CPU_AMX_NONE}, {2, 1, CPU_VEC_AVX512, CPU_AMX_NONE},
        {2, 0, CPU_VEC_AVX2, CPU_AMX_NONE},   {1, 0, CPU_VEC_BASE, CPU_AMX_NONE},
        {2, 1, CPU_VEC_AVX512, CPU_AMX_MODEL},
    };
    static const int Ms[] = {1, 12, 33}, Ns[3] = {100, 64, 200};
    const int K = 130;
    cpu_amx amx_prev = cpu_amx_force(CPU_AMX_NONE);
    ops_i8w w[3];
    float *W[3];
    for (int i = 0; i < 3; i++) {
        W[i] = i8_weights(Ns[i], K);
        for (size_t e = 0; e < (size_t)Ns[i] * K; e++)   /* three different weights */
            W[i][e] *= 1.0f + 0.25f * (float)i;
        ck_assert_int_eq(ops_i8w_from_f32(&w[i], W[i], Ns[i], K, K), MLM_OK);
    }
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
        int M = Ms[mi];
        float *A = i8_activations(M, K, K + 3);
        for (size_t r = 0; r < sizeof run / sizeof run[0]; r++) {
            cpu_vec_limit(run[r].vec);
            cpu_vnni_limit(run[r].vnni);
            cpu_amx_force(run[r].amx);
            for (int b = 0; b < 2; b++) {
                float beta = b ? 0.5f : 0.0f, *one[3], *many[3];
                int ldc[3];
                const ops_i8w *wp[3];
                for (int i = 0; i < 3; i++) {
                    ldc[i] = Ns[i] + i;   /* ldc > N for two of them */
                    one[i] = malloc((size_t)M * ldc[i] * sizeof *one[i]);
                    many[i] = malloc((size_t)M * ldc[i] * sizeof *many[i]);
                    for (size_t e = 0; e < (size_t)M * ldc[i]; e++)
                        one[i][e] = many[i][e] = (float)(e % 7) - 3.0f;
                    wp[i] = &w[i];
                    i8w_run(run[r].threads, M, A, K + 3, &w[i], beta, one[i], ldc[i]);
                }
                ops_ctx ctx;
                ops_ctx_init(&ctx, run[r].threads);
                ck_assert_int_eq(ops_gemm_i8w_multi(&ctx, M, A, K + 3, 3, wp, beta, many, ldc),
                                 MLM_OK);
                for (int i = 0; i < 3; i++) {
                    for (size_t e = 0; e < (size_t)M * ldc[i]; e++)
                        ck_assert_msg(f32_bits(one[i][e]) == f32_bits(many[i][e]),
                                      "M %d run %zu beta %g weight %d [%zu]: %a vs %a", M, r,
                                      (double)beta, i, e, many[i][e], one[i][e]);
                    free(one[i]);
                    free(many[i]);
                }
            }
        }
        free(A);
    }
    cpu_vec_limit(CPU_VEC_AVX512);
    cpu_vnni_limit(1);
    cpu_amx_force(amx_prev);
    /* Weights of different K, none, more than 8: errors, C untouched. */
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    ops_i8w other;
    float *Wo = i8_weights(4, K - 1), *A = i8_activations(2, K, K), C0[4 * 100] = {0};
    ck_assert_int_eq(ops_i8w_from_f32(&other, Wo, 4, K - 1, K - 1), MLM_OK);
    const ops_i8w *mixed[2] = {&w[0], &other};
    float *C[2] = {C0, C0};
    int ldc[2] = {100, 100};
    ck_assert_int_eq(ops_gemm_i8w_multi(&ctx, 2, A, K, 2, mixed, 0.0f, C, ldc),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w_multi(&ctx, 2, A, K, 0, mixed, 0.0f, C, ldc),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w_multi(&ctx, 2, A, K, 9, mixed, 0.0f, C, ldc),
                     MLM_ERR_INVALID_ARGUMENT);
    for (int e = 0; e < 4 * 100; e++)
        ck_assert(C0[e] == 0.0f);
    ops_i8w_free(&other);
    free(Wo);
    free(A);
    for (int i = 0; i < 3; i++) {
        ops_i8w_free(&w[i]);
        free(W[i]);
    }
}
END_TEST

START_TEST(gemm_i8w_edges)
{
    ops_ctx ctx;
    ops_ctx_init(&ctx, 2);
    float W[6] = {1, 2, 3, 4, 5, 6}, A[6] = {1, 1, 1, 1, 1, 1}, C[4] = {9, 9, 9, 9};
    ops_i8w w, empty;
    /* K = 0: C = beta·C (0 for beta = 0, even over NaN). */
    ck_assert_int_eq(ops_i8w_from_f32(&empty, NULL, 2, 0, 0), MLM_OK);
    C[1] = NAN;
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 2, A, 0, &empty, 0.0f, C, 2), MLM_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(C[i] == 0.0f);
    C[0] = 4.0f;
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 0, &empty, 0.5f, C, 2), MLM_OK);
    ck_assert(C[0] == 2.0f);
    ops_i8w_free(&empty);
    /* M = 0 and N = 0 touch nothing. */
    ck_assert_int_eq(ops_i8w_from_f32(&w, W, 2, 3, 3), MLM_OK);
    C[0] = 9.0f;
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 0, NULL, 3, &w, 0.0f, C, 2), MLM_OK);
    ck_assert(C[0] == 9.0f);
    ck_assert_int_eq(ops_i8w_from_f32(&empty, NULL, 0, 3, 3), MLM_OK);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 2, A, 3, &empty, 0.0f, C, 0), MLM_OK);
    ck_assert(C[0] == 9.0f);
    ops_i8w_free(&empty);
    /* beta = 0 overwrites NaN. */
    C[0] = C[1] = NAN;
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 3, &w, 0.0f, C, 2), MLM_OK);
    ck_assert(isfinite(C[0]) && isfinite(C[1]));
    /* Bad arguments, by name. */
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 2, &w, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 3, &w, 0.0f, C, 1), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, -1, A, 3, &w, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, NULL, 3, &w, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 3, &w, 0.0f, NULL, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 3, NULL, 0.0f, C, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "gemm_i8w"));
    ck_assert_int_eq(ops_i8w_from_f32(&empty, W, 2, 3, 2), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_i8w_from_f32(&empty, NULL, 2, 3, 3), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_i8w_from_f32(&empty, W, -1, 3, 3), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops_i8w_from_f32(&empty, NULL, 1, OPS_I8_K_MAX + 1, OPS_I8_K_MAX + 1),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "K 66312"));
    ops_i8w_free(&w);
    ops_i8w_free(NULL);
    /* Out of memory: an error, nothing leaked, the weight left empty. */
    for (int fail = 0; fail < 3; fail++) {
        mem_fail_after(fail);
        ck_assert_int_eq(ops_i8w_from_f32(&w, W, 2, 3, 3), MLM_ERR_OUT_OF_MEMORY);
        mem_fail_after(-1);
        ck_assert_ptr_null(w.panels);
        ck_assert_ptr_null(w.scale);
    }
    ck_assert_int_eq(ops_i8w_from_f32(&w, W, 2, 3, 3), MLM_OK);
    mem_fail_after(0);
    ck_assert_int_eq(ops_gemm_i8w(&ctx, 1, A, 3, &w, 0.0f, C, 2), MLM_ERR_OUT_OF_MEMORY);
    mem_fail_after(-1);
    ops_i8w_free(&w);
}
END_TEST

/* The reduced-precision features from cpuid registers: this Zen 4's own
 * (leaf 7.0 ecx 0x405fc6 edx 0x10, leaf 7.1 eax 0x20, XCR0 0xe7), a
 * Sapphire Rapids (AMX and AVX-VNNI bits), and the same parts with the OS
 * (or a hypervisor) not saving the zmm or tile state. */
START_TEST(cpu_reduced_precision_features)
{
    cpu_features f = {0};
    cpu_decode_reduced(&f, 0xe7, 0x405fc6, 0x10, 0x20);
    ck_assert(f.avx512_bf16 && f.avx512_vnni && !f.avx_vnni);
    ck_assert(!f.amx_tile && !f.amx_bf16 && !f.amx_int8);
    char buf[160];
    ck_assert_str_eq(cpu_reduced_describe(&f, buf, sizeof buf),
                     "avx512_bf16 yes, avx512_vnni yes, avx_vnni no, amx_bf16 no, amx_int8 no");
    unsigned spr_ecx = 1u << 11, spr_edx = (1u << 22) | (1u << 24) | (1u << 25);
    unsigned spr_eax1 = (1u << 4) | (1u << 5);
    cpu_decode_reduced(&f, 0x600e7, spr_ecx, spr_edx, spr_eax1);
    ck_assert(f.avx512_bf16 && f.avx512_vnni && f.avx_vnni);
    ck_assert(f.amx_tile && f.amx_bf16 && f.amx_int8);
    cpu_decode_reduced(&f, 0xe7, spr_ecx, spr_edx, spr_eax1);   /* no tile state */
    ck_assert(!f.amx_tile && !f.amx_bf16 && !f.amx_int8 && f.avx512_bf16);
    cpu_decode_reduced(&f, 0x7, spr_ecx, spr_edx, spr_eax1);    /* no zmm state */
    ck_assert(!f.avx512_bf16 && !f.avx512_vnni && f.avx_vnni);
    cpu_decode_reduced(&f, 0x600e7, spr_ecx, 1u << 22, spr_eax1); /* amx_bf16 without tiles */
    ck_assert(!f.amx_bf16 && !f.amx_tile);
    /* The kernel needs the AVX-512 level too. */
    cpu_features g = {.avx512f = 1, .avx512bw = 1, .avx512dq = 1, .avx512vl = 1};
    cpu_decode_reduced(&g, 0xe7, 0, 0, 0x20);
    ck_assert(cpu_bf16_runs(&g));
    ck_assert(!cpu_vnni_runs(&g));
    cpu_decode_reduced(&g, 0xe7, 1u << 11, 0, 0x20);
    ck_assert(cpu_vnni_runs(&g));
    g.avx512vl = 0;
    ck_assert(!cpu_bf16_runs(&g) && !cpu_vnni_runs(&g));
    /* This machine: the system info names the paths; AMX is requested only
     * where it exists. */
    ck_assert_ptr_nonnull(strstr(mlm_system_info(), "reduced-precision paths: avx512_bf16 "));
    if (!cpu_get()->amx_tile)
        ck_assert_int_eq(cpu_amx_request(), -1);
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rng_philox_known_answers);
    tcase_add_test(tc, rng_streams_and_distributions);
    tcase_add_test(tc, par_for_covers_once);
    tcase_add_test(tc, par_pool_covers_once);
    tcase_add_loop_test(tc, gemm_matches_reference, 0, 2);
    tcase_add_test(tc, gemm_small_m_matches_reference);
    tcase_add_test(tc, gemm_tile_matches_reference);
    tcase_add_test(tc, gemm_rejects_bad_arguments);
    tcase_add_test(tc, gemm_never_reads_past_c);
    tcase_add_test(tc, gemm_never_reads_past_operands);
    tcase_add_test(tc, gemm_batched_attention_layout);
    tcase_add_test(tc, linear_forward_backward);
    tcase_add_loop_test(tc, activations_forward_backward, 0, 3);
    tcase_add_test(tc, bias_forward_backward);
    tcase_add_test(tc, softmax_masked_forward_backward);
    tcase_add_test(tc, softmax_fully_masked_row_is_uniform);
    tcase_add_test(tc, layernorm_forward_backward);
    tcase_add_test(tc, rmsnorm_and_product_forward_backward);
    tcase_add_test(tc, dropout_forward_backward);
    tcase_add_test(tc, embedding_forward_backward);
    tcase_add_test(tc, cross_entropy_forward_backward);
    tcase_add_test(tc, topk_selects_in_order);
    tcase_add_test(tc, argmax_is_torch_argmax);
    tcase_add_test(tc, gelu_cdf_matches_gelu);
    tcase_add_test(tc, gelu_cdf_block_is_the_scalar);
    tcase_add_test(tc, kernels_bitwise_across_thread_counts);
    tcase_add_test(tc, concurrent_contexts);
    tcase_add_test(tc, gemm_kernel_rule);
    tcase_add_test(tc, gemm_forced_kernel_sets);
    tcase_add_test(tc, bf16_conversion_matches_reference);
    tcase_add_loop_test(tc, gemm_bf16w_matches_reference, 0, 2);
    tcase_add_test(tc, gemm_bf16w_paths_bitwise_identical);
    tcase_add_test(tc, qw_gemm_multi_matches_single);
    tcase_add_test(tc, qw_gemm_epilogue_matches_passes);
    tcase_add_test(tc, threads_for_products);
    tcase_add_test(tc, bf16w_set_rows_pieces);
    tcase_add_test(tc, gemm_bf16w_edges);
    tcase_add_loop_test(tc, gemm_bf16_matches_reference, 0, 2);
    tcase_add_test(tc, gemm_amx_bf16_order);
    tcase_add_test(tc, attention_rows_matches_reference);
    tcase_add_test(tc, gemm_bf16_paths_bitwise_identical);
    tcase_add_test(tc, gemm_bf16_edges);
    tcase_add_test(tc, i8_quantization_special_cases);
    tcase_add_test(tc, i8_weight_quantization_every_level);
    tcase_add_test(tc, gemm_i8w_matches_reference);
    tcase_add_test(tc, gemm_i8w_paths_bitwise_identical);
    tcase_add_test(tc, gemm_i8w_multi_matches_single);
    tcase_add_test(tc, gemm_i8w_edges);
    tcase_add_test(tc, cpu_reduced_precision_features);
    suite_add_tcase(s, tc);
    return s;
}
