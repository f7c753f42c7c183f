/* Products against int8 weights (contract in nn/ops/gemm_i8.h), ONNX
 * Runtime's dynamic quantization of a MatMul with per-row scales:
 *
 *   C[m][n] = sa[m]·sw[n]·(Σ_k u[m][k]·q[n][k] − z[m]·Σ_k q[n][k])  (+ beta·C)
 *
 * The rules, in fp32 with every division a true division (never a multiply
 * by a reciprocal) and every rounding to nearest, ties to even (nearbyintf
 * under the default rounding mode, which vrndscaleps and vcvtps2dq match):
 *
 * - weights, once, per output row n (ORT's symmetric per-channel rule):
 *   sw = max_k |W[n][k]| / 127, or 1 when that is below FLT_MIN (a zero or
 *   denormal-only row, whose q are then all 0; ORT's quantization tools
 *   give 1 for a zero range, per their test of compute_scale_zp(0, 0,
 *   -127, 127, symmetric), and we extend that to scales that would be
 *   denormal); q = clamp(round(W / sw), -127, 127). A non-finite element
 *   is rejected.
 * - activations, per call, per row m (ORT's DynamicQuantizeLinear, per row
 *   instead of per tensor): lo = min(0, min_k A), hi = max(0, max_k A);
 *   sa = (hi − lo) / 255, or 1 when that is below FLT_MIN (an all-zero row,
 *   or one whose range is too small to resolve: it quantizes to zeros; ORT
 *   takes 1 only when hi = lo, and would divide by a zero sa when the
 *   division underflows);
 *   z = round(clamp(0 − lo / sa, 0, 255)); u = clamp(round(A / sa) + z, 0,
 *   255) (the round, then the add of (float)z, then the clamp, in fp32). A
 *   row holding inf or NaN, or whose range hi − lo overflows, has sa = NaN:
 *   its outputs are NaN.
 * - epilogue, per element: d = isum − z·rowsum (int32, exact), then
 *   c = (sa·sw)·(float)d, two fp32 multiplies in that order, then, when
 *   beta ≠ 0, c + beta·C (multiply, then add; not fused).
 *
 * The integer sums are exact (255·127·K < 2^31 for K ≤ OPS_I8_K_MAX), the
 * float steps the same operations in the same order in every path, so
 * every CPU computes the same floats, whatever M, the other rows or the
 * thread count (threads split W's panels).
 *
 * The kernel (AVX512-VNNI: Zen 4/5, Cascade Lake, Ice Lake, Sapphire
 * Rapids): vpdpbusd multiplies 4 unsigned bytes of A by 4 signed bytes of
 * W per int32 lane and adds the four products to the lane, without
 * saturation (vpdpbusds would saturate, vpmaddubsw saturates at int16: no
 * exact sums). A tile of 6 rows of A × 64 rows of W lives in 24 zmm
 * accumulators; per group of 4 k it loads the panel's 4 vectors and
 * broadcasts each A row's 4 bytes. K is padded to a multiple of 4 with
 * zero weights, so the activations' pad (zero) adds nothing and the
 * rowsum, taken over the real K, needs no correction. The portable path is
 * the same sum in plain int32 loops.
 *
 * On a CPU with AMX-INT8, products of AMX_INT8_MIN_ROWS (4) rows or more
 * take the tile path (nn/ops/amx.h): TDPBUSD makes the same exact int32
 * sums, so its floats are the other paths' bit for bit. K is then padded to whole tile blocks
 * (64) in the panels and in the quantized rows, zeros on both sides. An
 * AVX-VNNI (ymm, Alder Lake) path is not written: no CPU here has it. */
#include "nn/ops/gemm_i8.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "nn/ops/amx.h"
#include "nn/ops/cpu.h"
#include "nn/ops/ops.h"
#include "nn/ops/stream.h"
#include "nn/ops/vec.h"
#include "nn/ops/vmath.h"

#define NP 64   /* rows of W per panel */
#define MR 6    /* rows of A per tile */
#define QK 4    /* k per int32 lane (vpdpbusd's group) */
#define GB (AMX_BLOCK / QK)   /* groups per tile block */

/* Groups stored per row of a panel and of the quantized A: K's groups,
 * padded with zeros to whole tile blocks. */
static int groups_stored(int K)
{
    return ((K + QK - 1) / QK + GB - 1) / GB * GB;
}

/* Where group g (k = 4g .. 4g+3) of row j of panel p starts; KS groups are
 * stored per panel row. */
static size_t panel_at(int KS, int p, int g, int j)
{
    return (((size_t)p * (size_t)KS + (size_t)g) * NP + (size_t)j) * QK;
}

/* ---------------------------------------------------------------- weights */

/* sw for a row of K finite floats: max |w| / 127, or 1 below FLT_MIN.
 * The maximum over the bits of |w| as integers, which order finite floats
 * of one sign as their values do: a loop that vectorizes (a running
 * float max stayed scalar, ~4 cycles a weight). */
static VEC_INLINE float weight_scale(const float *w, int K)
{
    uint32_t top = 0;
    for (int k = 0; k < K; k++) {
        uint32_t b;
        memcpy(&b, w + k, sizeof b);
        b &= 0x7fffffffu;
        top = b > top ? b : top;
    }
    float amax;
    memcpy(&amax, &top, sizeof amax);
    float s = amax / 127.0f;
    return s < FLT_MIN ? 1.0f : s;
}

/* x rounded to an integer, to nearest even, as nearbyintf in the default
 * mode, for |x| < 2^22 (both quantizations' values are within 256): adding
 * and taking away 1.5·2^23 puts the sum in [2^23, 2^24), where floats are
 * the integers. Unlike a call to nearbyintf (SSE2 has no rounding
 * instruction) it vectorizes at every level. The sign of a zero may differ,
 * which the conversions to integers after it cannot see. */
static inline float round_even(float x)
{
    const float magic = 0x1.8p23f;
    return (x + magic) - magic;
}

/* q[k] = clamp(round(w[k] / sw), -127, 127) for a row of K finite floats
 * (|w[k] / sw| <= 127 (1 + 2^-23) here); returns Σ q. In vector lanes: the
 * quantization of a t5-small or distilroberta checkpoint at load was ~12
 * cycles a weight with a call to nearbyintf each. */
static VEC_INLINE int32_t weight_quantize_row(const float *w, int K, float sw, int8_t *q)
{
    int32_t sum = 0;
    for (int k = 0; k < K; k++) {
        float r = round_even(w[k] / sw);
        r = r < -127.0f ? -127.0f : r > 127.0f ? 127.0f : r;
        q[k] = (int8_t)(int32_t)r;
        sum += (int32_t)r;
    }
    return sum;
}

/* Rows [begin, end) of a weight from W's (see ops_i8w_set_rows), a row at
 * a time through the job's buffer of K int8. */
typedef struct i8w_job {
    ops_i8w *w;
    const float *W;
    int ldw;
    int8_t *q;
} i8w_job;

static VEC_INLINE void i8w_rows_body(void *arg, size_t begin, size_t end)
{
    const i8w_job *j = arg;
    ops_i8w *w = j->w;
    int K = w->K, KS = groups_stored(K);
    for (int n = (int)begin; n < (int)end; n++) {
        const float *row = j->W + (size_t)n * (size_t)j->ldw;
        float sw = weight_scale(row, K);
        w->rowsum[n] = weight_quantize_row(row, K, sw, j->q);
        w->scale[n] = sw;
        int k = 0;   /* group k / QK of the panel's row n % NP */
        for (; k + QK <= K; k += QK)
            memcpy(w->panels + panel_at(KS, n / NP, k / QK, n % NP), j->q + k, QK);
        if (k < K)
            memcpy(w->panels + panel_at(KS, n / NP, k / QK, n % NP), j->q + k, (size_t)(K - k));
    }
}

VEC_DISPATCH(i8w_rows)

/* Rows [r0, r1) of w from W's, already checked. */
static mlm_status i8w_quantize(ops_i8w *w, const float *W, int ldw, int r0, int r1)
{
    i8w_job j = {w, W, ldw, mem_alloc((size_t)w->K)};
    if (!j.q)
        return err_oom();
    i8w_rows(&j, (size_t)r0, (size_t)r1);
    mem_free(j.q);
    return MLM_OK;
}

/* Checks the shape arguments. */
static mlm_status i8w_check_shape(int N, int K, int ldw)
{
    if (N < 0 || K < 0 || ldw < K)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "i8 weight: bad shape (%d, %d), ldw %d", N, K,
                       ldw);
    if (K > OPS_I8_K_MAX)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "i8 weight: K %d above %d (the int32 sums could overflow)", K, OPS_I8_K_MAX);
    return MLM_OK;
}

/* That rows [r0, r1) of W are there and finite, before any is used. */
static mlm_status i8w_check_rows(const float *W, int r0, int r1, int K, int ldw)
{
    if (!W && (size_t)(r1 - r0) * (size_t)K > 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "i8 weight: NULL matrix");
    for (int n = r0; n < r1; n++) {
        const float *row = W + (size_t)n * (size_t)ldw;
        int finite = 1;   /* a whole row's test on the bits first: a loop that vectorizes */
        for (int k = 0; k < K; k++) {
            uint32_t b;
            memcpy(&b, row + k, sizeof b);
            finite &= (b & 0x7fffffffu) < 0x7f800000u;
        }
        for (int k = 0; !finite && k < K; k++)
            if (!isfinite(row[k]))
                return err_set(MLM_ERR_INVALID_ARGUMENT,
                               "i8 weight: element (%d, %d) is not finite (%g)", n, k,
                               (double)row[k]);
    }
    return MLM_OK;
}

mlm_status ops_i8w_alloc(ops_i8w *w, int N, int K)
{
    memset(w, 0, sizeof *w);
    mlm_status st = i8w_check_shape(N, K, K);
    if (st != MLM_OK)
        return st;
    int KS = groups_stored(K);
    size_t panels = ((size_t)N + NP - 1) / NP;
    /* scale and rowsum padded to whole panels (zeros), so that the kernel
     * loads them 16 at a time */
    if (panels > 0) {
        w->scale = mem_calloc(panels * NP, sizeof *w->scale);
        w->rowsum = mem_calloc(panels * NP, sizeof *w->rowsum);
        if (K > 0)
            w->panels = mem_calloc_lines(panels * (size_t)KS * NP * QK, sizeof *w->panels);
        if (!w->scale || !w->rowsum || (K > 0 && !w->panels)) {
            ops_i8w_free(w);
            return err_oom();
        }
    }
    w->N = N;
    w->K = K;
    return MLM_OK;
}

mlm_status ops_i8w_set_rows(ops_i8w *w, const float *W, int ldw, int r0, int r1)
{
    int K = w->K;
    if (r0 < 0 || r1 > w->N || r0 > r1 || ldw < K)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "i8 weight: rows [%d, %d) of %d, ldw %d", r0,
                       r1, w->N, ldw);
    mlm_status st = i8w_check_rows(W, r0, r1, K, ldw);
    if (st != MLM_OK || r0 == r1)
        return st;
    return i8w_quantize(w, W, ldw, r0, r1);
}

mlm_status ops_i8w_from_f32(ops_i8w *w, const float *W, int N, int K, int ldw)
{
    memset(w, 0, sizeof *w);
    /* every check before anything is allocated */
    mlm_status st = i8w_check_shape(N, K, ldw);
    if (st == MLM_OK)
        st = i8w_check_rows(W, 0, N, K, ldw);
    if (st == MLM_OK)
        st = ops_i8w_alloc(w, N, K);
    if (st == MLM_OK && N > 0)
        st = i8w_quantize(w, W, ldw, 0, N);
    if (st != MLM_OK)
        ops_i8w_free(w);
    return st;
}

float ops_i8w_at(const ops_i8w *w, int n, int k)
{
    int KS = groups_stored(w->K);
    return w->scale[n] * (float)w->panels[panel_at(KS, n / NP, k / QK, n % NP) + (size_t)(k % QK)];
}

void ops_i8w_row(const ops_i8w *w, int n, float *out, int accumulate)
{
    const int8_t *p = w->panels + panel_at(groups_stored(w->K), n / NP, 0, n % NP);
    float s = w->scale[n];
    for (int k = 0; k < w->K; k++) {   /* group k/4 of the row: 64 rows × 4 further on */
        float v = s * (float)p[(size_t)(k / QK) * NP * QK + (size_t)(k % QK)];
        out[k] = accumulate ? out[k] + v : v;
    }
}

size_t ops_i8w_bytes(const ops_i8w *w)
{
    size_t panels = ((size_t)w->N + NP - 1) / NP;
    size_t q = w->K > 0 ? panels * (size_t)groups_stored(w->K) * NP * QK : 0;
    return q + panels * NP * (sizeof *w->scale + sizeof *w->rowsum);
}

void ops_i8w_free(ops_i8w *w)
{
    if (!w)
        return;
    mem_free(w->panels);
    mem_free(w->scale);
    mem_free(w->rowsum);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------- activations */

/* sa and z of a row from its range, as the file's opening comment says;
 * returns 0 for a row whose outputs are NaN (sa = NaN, z = 0). The same
 * scalar code serves every path. */
static int act_params(float lo, float hi, int finite, float *sa, int32_t *z)
{
    float range = hi - lo;
    if (!finite || !(range <= FLT_MAX)) {
        *sa = NAN;
        *z = 0;
        return 0;
    }
    float s = range / 255.0f;
    if (s < FLT_MIN)
        s = 1.0f;
    float z0 = 0.0f - lo / s;
    z0 = z0 < 0.0f ? 0.0f : z0 > 255.0f ? 255.0f : z0;
    *sa = s;
    *z = (int32_t)nearbyintf(z0);
    return 1;
}

#define RL 16   /* lanes of the range loop */

/* The range of row x (K floats) with 0: *lo = min(0, min x), *hi =
 * max(0, max x); returns whether every element is finite. In RL
 * independent lanes, then across them, so that the vectorizer makes it
 * compares and blends (a plain running min is a serial chain, ~3 cycles an
 * element, a quarter of the time of a 1024×768×768 product). The order
 * cannot change the result: min and max are exact, a NaN makes the row's
 * outputs NaN whatever lo and hi are, and a zero's sign changes neither
 * hi − lo nor 0 − lo / s. */
static inline int row_range(const float *x, int K, float *lo, float *hi)
{
    float l[RL] = {0}, h[RL] = {0};
    int fin[RL];
    for (int r = 0; r < RL; r++)
        fin[r] = 1;
    int k = 0;
    for (; k + RL <= K; k += RL)
        for (int r = 0; r < RL; r++) {
            float v = x[k + r];
            fin[r] &= fabsf(v) <= FLT_MAX;
            l[r] = v < l[r] ? v : l[r];
            h[r] = v > h[r] ? v : h[r];
        }
    for (int r = 0; k < K; k++, r++) {
        float v = x[k];
        fin[r] &= fabsf(v) <= FLT_MAX;
        l[r] = v < l[r] ? v : l[r];
        h[r] = v > h[r] ? v : h[r];
    }
    int finite = 1;
    *lo = *hi = 0.0f;
    for (int r = 0; r < RL; r++) {
        finite &= fin[r];
        *lo = l[r] < *lo ? l[r] : *lo;
        *hi = h[r] > *hi ? h[r] : *hi;
    }
    return finite;
}

/* Rows of A quantized into a (rows of 4·KS bytes, the pad zero), sa and z.
 * Plain loops, compiled once per instruction set below: every element is
 * the same IEEE operations (a division, round_even, an add, two compares),
 * so every compilation gives the same bytes. */
static inline void quantize_rows_body(int M, int K, const float *A, int lda, uint8_t *a,
                                      int KS, float *sa, int32_t *z)
{
    for (int m = 0; m < M; m++) {
        const float *x = A + (size_t)m * (size_t)lda;
        uint8_t *u = a + (size_t)m * QK * (size_t)KS;
        float lo, hi;
        int finite = row_range(x, K, &lo, &hi);
        memset(u + K, 0, (size_t)(QK * KS - K));
        if (!act_params(lo, hi, finite, &sa[m], &z[m])) {
            memset(u, 0, (size_t)K);
            continue;
        }
        float s = sa[m], zf = (float)z[m];
        for (int k = 0; k < K; k++) {
            float f = round_even(x[k] / s) + zf;
            f = f < 0.0f ? 0.0f : f;
            f = f > 255.0f ? 255.0f : f;
            u[k] = (uint8_t)(int32_t)f;
        }
    }
}

/* ---------------------------------------------------------------- the job */

typedef struct job {
    int M, N, KQ, KS, ldc;  /* KQ groups summed, KS stored (groups_stored) */
    float beta;
    const uint8_t *a;       /* M rows of 4·KS bytes, then zero rows to a multiple of 16 */
    const float *sa;        /* M */
    const int32_t *z;       /* M */
    const int8_t *panels;
    const float *sw;        /* N padded to panels */
    const int32_t *rowsum;  /* N padded to panels */
    float *C;
    const float *bias;      /* NULL, or added to each row of C after beta·C (N) */
    int gelu;               /* then x·Φ(x) of each element (exact GELU) */
    int stream;             /* the tile path streams C past the cache (nn/ops/stream.h) */
} job;

/* ---------------------------------------------------------------- portable path */

/* Row m of C against panel p from the exact integer sums acc. */
static inline void row_epilogue(const job *j, int m, int p, const int32_t *acc)
{
    int n0 = p * NP, cols = j->N - n0 < NP ? j->N - n0 : NP;
    float sa = j->sa[m];
    int32_t z = j->z[m];
    float *c = j->C + (size_t)m * (size_t)j->ldc + (size_t)n0;
    for (int r = 0; r < cols; r++) {
        int32_t d = acc[r] - z * j->rowsum[n0 + r];
        float v = (sa * j->sw[n0 + r]) * (float)d;
        c[r] = j->beta == 0.0f ? v : v + j->beta * c[r];
    }
    v_bias_gelu(c, j->bias ? j->bias + n0 : NULL, j->gelu, cols);
}

/* acc[r] = Σ_k u[k]·q[r][k] over panel p: int32, exact. */
static inline void row_panel(const job *j, int m, int p)
{
    const uint8_t *a = j->a + (size_t)m * QK * (size_t)j->KS;
    const int8_t *w = j->panels + panel_at(j->KS, p, 0, 0);
    int32_t acc[NP] = {0};
    for (int g = 0; g < j->KQ; g++, w += QK * NP) {
        int32_t a0 = a[QK * g], a1 = a[QK * g + 1], a2 = a[QK * g + 2], a3 = a[QK * g + 3];
        for (int r = 0; r < NP; r++)
            acc[r] += a0 * w[QK * r] + a1 * w[QK * r + 1] + a2 * w[QK * r + 2] +
                      a3 * w[QK * r + 3];
    }
    row_epilogue(j, m, p, acc);
}

static inline void panels_portable_body(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t p = begin; p < end; p++)
        for (int m = 0; m < j->M; m++)
            row_panel(j, m, (int)p);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same loops for AVX2 (vpmaddwd and friends, exact on int32 lanes, and
 * the quantization in 8 lanes). */
#define AVX2 __attribute__((target("avx2,fma")))

static AVX2 void panels_portable_avx2(void *arg, size_t begin, size_t end)
{
    panels_portable_body(arg, begin, end);
}

static AVX2 void quantize_rows_avx2(int M, int K, const float *A, int lda, uint8_t *a, int KS,
                                    float *sa, int32_t *z)
{
    quantize_rows_body(M, K, A, lda, a, KS, sa, z);
}
#endif

static void panels_portable(void *arg, size_t begin, size_t end)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_vec_level() >= CPU_VEC_AVX2) {
        panels_portable_avx2(arg, begin, end);
        return;
    }
#endif
    panels_portable_body(arg, begin, end);
}

/* ---------------------------------------------------------------- AVX512-VNNI */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define INLINE __attribute__((always_inline)) inline

/* Rows [m, m + mr) of C against panel p from their exact sums acc, as
 * row_epilogue computes them, into out's rows (ld floats apart): C's own
 * place, or a tile's buffer that is then streamed (beta 0). */
static VNNI INLINE void tile_store_at(const job *j, int mr, int m, int p, __m512i acc[][4],
                                      float *out, size_t ld)
{
    int n0 = p * NP, cols = j->N - n0 < NP ? j->N - n0 : NP;
    __m512 beta = _mm512_set1_ps(j->beta);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *c = out + (size_t)i * ld;
        __m512 sa = _mm512_set1_ps(j->sa[m + i]);
        __m512i z = _mm512_set1_epi32(j->z[m + i]);
        for (int v = 0; v < 4; v++) {
            int left = cols - 16 * v;
            if (left <= 0)
                break;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512i rs = _mm512_loadu_si512(j->rowsum + n0 + 16 * v);
            __m512i d = _mm512_sub_epi32(acc[i][v], _mm512_mullo_epi32(z, rs));
            __m512 s = _mm512_mul_ps(sa, _mm512_loadu_ps(j->sw + n0 + 16 * v));
            __m512 r = _mm512_mul_ps(s, _mm512_cvtepi32_ps(d));
            if (j->beta != 0.0f)   /* r + beta·C, not fused: as the portable path */
                r = _mm512_add_ps(r, _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(mask, c + 16 * v)));
            _mm512_mask_storeu_ps(c + 16 * v, mask, r);
        }
        v_bias_gelu(c, j->bias ? j->bias + n0 : NULL, j->gelu, cols);   /* in L1, in zmm */
    }
}

static VNNI INLINE void tile_store(const job *j, int mr, int m, int p, __m512i acc[][4])
{
    tile_store_at(j, mr, m, p, acc, j->C + (size_t)m * (size_t)j->ldc + (size_t)p * NP,
                  (size_t)j->ldc);
}

/* The tile path's rows [m, m + rows) of C against panel p from their sums
 * in acc (rows of NP) into out's rows (ld floats apart): tile_store_at a
 * row at a time. */
static VNNI void amx_store_avx512(const job *j, int rows, int m, int p, const int32_t *acc,
                                  float *out, size_t ld)
{
    for (int r = 0; r < rows; r++) {
        __m512i v[1][4];
        for (int i = 0; i < 4; i++)
            v[0][i] = _mm512_loadu_si512(acc + (size_t)r * NP + 16 * (size_t)i);
        tile_store_at(j, 1, m + r, p, v, out + (size_t)r * ld, ld);
    }
}

/* Rows [m, m + mr) of C against panel p; mr is a constant after inlining,
 * so the 4·mr accumulators live in registers. */
static VNNI INLINE void tile(const job *j, int mr, int m, int p)
{
    __m512i acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = _mm512_setzero_si512();
    const int8_t *w = j->panels + panel_at(j->KS, p, 0, 0);
    size_t lda = QK * (size_t)j->KS;
    const uint8_t *a = j->a + (size_t)m * lda;
    for (int g = 0; g < j->KQ; g++, w += QK * NP) {
        __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
        __m512i w2 = _mm512_loadu_si512(w + 128), w3 = _mm512_loadu_si512(w + 192);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            int32_t quad;
            memcpy(&quad, a + (size_t)i * lda + QK * (size_t)g, sizeof quad);
            __m512i ai = _mm512_set1_epi32(quad);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], ai, w0);
            acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], ai, w1);
            acc[i][2] = _mm512_dpbusd_epi32(acc[i][2], ai, w2);
            acc[i][3] = _mm512_dpbusd_epi32(acc[i][3], ai, w3);
        }
    }
    tile_store(j, mr, m, p, acc);
}

static VNNI void panels_vnni(void *arg, size_t begin, size_t end)
{
    const job *j = arg;
    for (size_t p = begin; p < end; p++) {
        int m = 0;
        for (; m + MR <= j->M; m += MR)
            tile(j, MR, m, (int)p);
        switch (j->M - m) {
        case 5: tile(j, 5, m, (int)p); break;
        case 4: tile(j, 4, m, (int)p); break;
        case 3: tile(j, 3, m, (int)p); break;
        case 2: tile(j, 2, m, (int)p); break;
        case 1: tile(j, 1, m, (int)p); break;
        default: break;
        }
    }
}

/* row_range with 16 lanes in zmm: vminps(v, l) is exactly v < l ? v : l
 * and vmaxps(v, h) v > h ? v : h (NaN included), the finiteness test an
 * ordered compare; the tail's masked-off lanes read 0, which changes
 * neither min(0, ·) nor max(0, ·). (The compiler leaves the plain loop
 * scalar: ~12 cycles an element, a tenth of a t5-small encoder's time.) */
static VNNI INLINE int row_range_avx512(const float *x, int K, float *lo, float *hi)
{
    __m512 l = _mm512_setzero_ps(), h = _mm512_setzero_ps();
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    __mmask16 fin = 0xffff;
    for (int k = 0; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + k);
        fin &= _mm512_cmp_ps_mask(_mm512_abs_ps(v), big, _CMP_LE_OQ);
        l = _mm512_min_ps(v, l);
        h = _mm512_max_ps(v, h);
    }
    *lo = _mm512_reduce_min_ps(l);   /* no lane is NaN: v < l is false for a NaN v */
    *hi = _mm512_reduce_max_ps(h);
    return fin == 0xffff;
}

/* quantize_rows_body with the loops above in zmm: the same division
 * (vdivps), rounding to nearest even (vrndscaleps, as nearbyintf), add of
 * z, clamp and conversion, so the same bytes. */
static VNNI void quantize_rows_avx512(int M, int K, const float *A, int lda, uint8_t *a, int KS,
                                      float *sa, int32_t *z)
{
    for (int m = 0; m < M; m++) {
        const float *x = A + (size_t)m * (size_t)lda;
        uint8_t *u = a + (size_t)m * QK * (size_t)KS;
        float lo, hi;
        int finite = row_range_avx512(x, K, &lo, &hi);
        memset(u + K, 0, (size_t)(QK * KS - K));
        if (!act_params(lo, hi, finite, &sa[m], &z[m])) {
            memset(u, 0, (size_t)K);
            continue;
        }
        const __m512 s = _mm512_set1_ps(sa[m]), zf = _mm512_set1_ps((float)z[m]);
        const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
        for (int k = 0; k < K; k += 16) {
            __mmask16 mk = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
            __m512 f = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(mk, x + k), s),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            f = _mm512_add_ps(f, zf);
            f = _mm512_min_ps(_mm512_max_ps(f, zero), top);
            _mm_mask_storeu_epi8(u + k, mk, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(f)));
        }
    }
}
#endif

/* Quantizes A with the widest loop this CPU runs (the same bytes at every
 * level). */
static void quantize_rows(int fast, int M, int K, const float *A, int lda, uint8_t *a, int KS,
                          float *sa, int32_t *z)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast) {
        quantize_rows_avx512(M, K, A, lda, a, KS, sa, z);
        return;
    }
    if (cpu_vec_level() >= CPU_VEC_AVX2) {
        quantize_rows_avx2(M, K, A, lda, a, KS, sa, z);
        return;
    }
#endif
    (void)fast;
    quantize_rows_body(M, K, A, lda, a, KS, sa, z);
}

/* ---------------------------------------------------------------- AMX-INT8 */

/* Rows [m, m + rows) of C against panel p from the tile path's sums (rows
 * of NP): in zmm on the hardware (which implies AVX-512), row_epilogue's
 * loop on the model; the same floats either way. */
static void amx_store(const job *j, int model, int rows, int m, int p, const int32_t *acc)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!model) {
        amx_store_avx512(j, rows, m, p, acc, j->C + (size_t)m * (size_t)j->ldc + (size_t)p * NP,
                         (size_t)j->ldc);
        return;
    }
#endif
    (void)model;
    for (int r = 0; r < rows; r++)
        row_epilogue(j, m + r, p, acc + (size_t)r * NP);
}

/* int8 products are the inference forward's, whose outputs the next
 * kernel reads at once: streamed, an output that would have stayed in the
 * cache is read back from memory. From 1 MB (the bf16 products' threshold)
 * a t5-small greedy decode of 8 × 128 tokens ran 12% slower than without
 * streaming (1 thread, Xeon with AMX: its encoder's outputs are 2-8 MB);
 * from 16 MB it was level with it, and the 8×128 forward at the
 * distilroberta shape, whose 206 MB of logits are streamed, 5-10% faster
 * than without. */
#define I8_STREAM_FROM ((size_t)16 << 20)

/* Whether the tile path streams panel p's tiles (nn/ops/stream.h): a large
 * C, on the hardware (which implies AVX-512), the panel's NP columns, and
 * beta 0 (C is not read). */
static int amx_streams(const job *j, int model, size_t p)
{
    return j->stream && !model && j->beta == 0.0f && (size_t)j->N - p * NP >= NP;
}

/* How many panels from p on (before end) run together: consecutive
 * streamed panels, when C's rows start off cache lines and so share a line
 * between panels (ops_stream_rows joins it); 1 otherwise. */
static size_t stream_run(const job *j, int model, size_t p, size_t end)
{
    size_t n = 1, cap = ops_stream_run_panels((size_t)j->KS * QK * NP);
    if (!amx_streams(j, model, p) || !ops_stream_rows_share_lines(j->C, j->ldc))
        return 1;
    while (n < cap && p + n < end && amx_streams(j, model, p + n))
        n++;
    return n;
}

/* Rows [m, m + rows) of C against panel p from the sums in acc: dequantized
 * into out (rows of NP) and streamed into C (join and keep as
 * ops_stream_rows's, with carry). */
static void amx_stream(const job *j, int rows, int m, size_t p, const int32_t *acc, float *out,
                       float *carry, int join, int keep)
{
#if defined(__x86_64__) && defined(__GNUC__)
    amx_store_avx512(j, rows, m, (int)p, acc, out, NP);
    ops_stream_rows(j->C + (size_t)m * (size_t)j->ldc + p * NP, (size_t)j->ldc, out, rows, carry,
                    join, keep);
#else
    (void)j, (void)rows, (void)m, (void)p, (void)acc, (void)out, (void)carry, (void)join,
        (void)keep;
#endif
}

/* Panels [begin, end) on the tile path (nn/ops/amx.h): up to 32 rows at a
 * time, then the portable path's epilogue on the exact sums. */
static void panels_amx(const job *j, int model, size_t begin, size_t end)
{
    int32_t acc[AMX_MAX_ROWS * NP];
    _Alignas(64) float out[AMX_MAX_ROWS * NP], carry[AMX_MAX_ROWS * 16];
    const size_t lda = QK * (size_t)j->KS;
    amx_begin(model);
    for (size_t p0 = begin, run; p0 < end; p0 += run) {
        run = stream_run(j, model, p0, end);
        for (int m = 0; m < j->M; m += AMX_MAX_ROWS) {
            int rows = j->M - m < AMX_MAX_ROWS ? j->M - m : AMX_MAX_ROWS;
            for (size_t q = 0; q < run; q++) {
                size_t p = p0 + q;
                amx_panel(AMX_INT8, model, j->a + (size_t)m * lda, lda,
                          (const uint8_t *)(j->panels + panel_at(j->KS, (int)p, 0, 0)),
                          j->KS / GB, rows, acc, NP * sizeof *acc, 0,
                          rows > AMX_ROWS);   /* w_once as gemm_bf16.c's */
                if (amx_streams(j, model, p))
                    amx_stream(j, rows, m, p, acc, out, carry, q > 0, q + 1 < run);
                else
                    amx_store(j, model, rows, m, (int)p, acc);
            }
        }
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (j->stream && !model)
        _mm_sfence();   /* the streamed stores before the join */
#endif
    amx_end(model);
}

static void panels_amx_hw(void *arg, size_t begin, size_t end)
{
    panels_amx(arg, 0, begin, end);
}

static void panels_amx_model(void *arg, size_t begin, size_t end)
{
    panels_amx(arg, 1, begin, end);
}

/* The path every job of this call takes: tile from AMX_INT8_MIN_ROWS
 * (nn/ops/amx.h says why), else VNNI, else the portable loops. */
static par_fn panels_path(int M, int fast)
{
    cpu_amx amx = M >= AMX_INT8_MIN_ROWS ? cpu_amx_int8_level() : CPU_AMX_NONE;
    if (amx != CPU_AMX_NONE)
        return amx == CPU_AMX_HW ? panels_amx_hw : panels_amx_model;
#if defined(__x86_64__) && defined(__GNUC__)
    if (fast)
        return panels_vnni;
#endif
    (void)fast;
    return panels_portable;
}

/* C (M, N) = beta·C with K = 0: an empty sum. */
static void empty_sum(int M, int N, float beta, float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float *c = C + (size_t)m * (size_t)ldc + (size_t)n;
            *c = beta == 0.0f ? 0.0f : 0.0f + beta * *c;
        }
}

mlm_status ops_gemm_i8w_multi(const ops_ctx *ctx, int M, const float *A, int lda, int n,
                              const ops_i8w *const *w, float beta, float *const *C,
                              const int *ldc)
{
    return ops_gemm_i8w_epi(ctx, M, A, lda, n, w, beta, NULL, 0, C, ldc);
}

mlm_status ops_gemm_i8w_epi(const ops_ctx *ctx, int M, const float *A, int lda, int n,
                            const ops_i8w *const *w, float beta, const float *const *bias,
                            int gelu, float *const *C, const int *ldc)
{
    if (n < 1 || n > PAR_JOBS_MAX || !w || !C || !ldc || M < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_i8w: bad arguments (%d weights, M %d)",
                       n, M);
    for (int i = 0; i < n; i++)
        if (!w[i] || lda < w[i]->K || ldc[i] < w[i]->N || w[i]->K != w[0]->K)
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "gemm_i8w: bad arguments (weight %d: M %d, lda %d, ldc %d)", i, M,
                           lda, ldc[i]);
    int K = w[0]->K, KQ = (K + QK - 1) / QK, KS = groups_stored(K), N = 0;
    for (int i = 0; i < n; i++)
        N += w[i]->N;
    if (M == 0 || N == 0)
        return MLM_OK;
    for (int i = 0; i < n; i++)
        if (w[i]->N > 0 && (!C[i] || (K > 0 && (!A || !w[i]->panels))))
            return err_set(MLM_ERR_INVALID_ARGUMENT, "gemm_i8w: NULL matrix (weight %d)", i);
    if (K == 0) {   /* an empty sum: C = 0 + beta·C, then the epilogue */
        for (int i = 0; i < n; i++) {
            empty_sum(M, w[i]->N, beta, C[i], ldc[i]);
            for (int m = 0; m < M; m++)
                v_bias_gelu(C[i] + (size_t)m * (size_t)ldc[i], bias ? bias[i] : NULL, gelu,
                            w[i]->N);
        }
        return MLM_OK;
    }
    /* One block: sa and z (M each), then the quantized rows and the zero
     * rows the tile path reads after them (to a multiple of 16). */
    size_t head = (size_t)M * (sizeof(float) + sizeof(int32_t)), arow = QK * (size_t)KS;
    size_t rows = ((size_t)M + AMX_ROWS - 1) / AMX_ROWS * AMX_ROWS;
    head = (head + 63) / 64 * 64;   /* the rows on cache lines (mem_alloc_lines) */
    char *buf = mem_alloc_lines(head + rows * arow);
    if (!buf)
        return err_oom();
    float *sa = (float *)buf;
    int32_t *z = (int32_t *)(buf + (size_t)M * sizeof(float));
    uint8_t *a = (uint8_t *)(buf + head);
    int fast = cpu_vnni_level();
    quantize_rows(fast, M, K, A, lda, a, KS, sa, z);
    memset(a + (size_t)M * arow, 0, (rows - (size_t)M) * arow);
    job jobs[PAR_JOBS_MAX];
    void *args[PAR_JOBS_MAX];
    size_t panels[PAR_JOBS_MAX];
    double work = 0.0, bytes = 0.0;
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){M, w[i]->N, KQ, KS, ldc[i], beta, a, sa, z, w[i]->panels, w[i]->scale,
                        w[i]->rowsum, C[i], bias ? bias[i] : NULL, gelu,
                        ops_stream_worth(M, w[i]->N, I8_STREAM_FROM)};
        args[i] = &jobs[i];
        panels[i] = ((size_t)w[i]->N + NP - 1) / NP;
        work += (double)M * w[i]->N * K;
        bytes += (double)w[i]->N * K;
    }
    int t = ops_threads_for(ctx->nthreads, work, bytes);
    par_for_jobs(t, n, panels, 1, panels_path(M, fast), args);
    mem_free(buf);
    return MLM_OK;
}

mlm_status ops_gemm_i8w(const ops_ctx *ctx, int M, const float *A, int lda, const ops_i8w *w,
                        float beta, float *C, int ldc)
{
    return ops_gemm_i8w_multi(ctx, M, A, lda, 1, &w, beta, &C, &ldc);
}
