/* The tile unit's panel product (contract in nn/ops/amx.h), on the hardware
 * or on a software model of its instructions.
 *
 * Tiles: tmm0-3 accumulate a 32×32 block of C (two rows of tiles × two
 * columns of 16), tmm4-5 hold the 16-row halves of A's k block, tmm6-7 the
 * two 16-column tiles of the panel's k block. Each k block is 4 loads and 4
 * products of 16×16×(16 pairs or 16 groups); a panel of 64 columns is two
 * passes over k, so A's rows are read twice and the panel once per 32 rows.
 * Every tile is configured 16 rows × 64 bytes, the largest the palette
 * allows: the callers pad A and the panels to whole blocks with zeros, so no
 * tile ever needs another shape (a second configuration would clear the
 * accumulators). With 16 rows or fewer the panel goes in one pass instead
 * (FULL_BODY below).
 *
 * The model follows the SDM's pseudocode: TILELOADD / TILESTORED move
 * 16 rows of 64 bytes, TILEZERO clears, TDPBF16PS adds, per element of C
 * and per k pair in order, the even product then the odd one (bf16 inputs
 * with a zero exponent read as zero, denormal sums flushed, nearest-even
 * rounding), TDPBUSD adds the four byte products of each group to an int32
 * lane, wrapping. Products of two bf16 are exact in fp32, so the model's
 * only roundings are those adds. */
#include "nn/ops/amx.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- the model */

#define TILES 8
#define TROWS 16
#define TBYTES 64

static _Thread_local uint8_t model_tiles[TILES][TROWS][TBYTES];

static void model_zero(int t) { memset(model_tiles[t], 0, sizeof model_tiles[t]); }

static void model_load(int t, const uint8_t *p, size_t stride)
{
    for (int r = 0; r < TROWS; r++)
        memcpy(model_tiles[t][r], p + (size_t)r * stride, TBYTES);
}

static void model_store(int t, uint8_t *p, size_t stride)
{
    for (int r = 0; r < TROWS; r++)
        memcpy(p + (size_t)r * stride, model_tiles[t][r], TBYTES);
}

/* Element i of a tile row as bf16, widened; a zero exponent reads as a
 * signed zero (denormals are zero). */
static float model_bf16(const uint8_t *row, int i)
{
    uint16_t h;
    memcpy(&h, row + 2 * i, sizeof h);
    if ((h & 0x7f80u) == 0)
        h &= 0x8000u;
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float model_flush(float x) { return fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x; }

static void model_dpbf16ps(int c, int a, int b)
{
    float bw[16][32];   /* the B tile widened once */
    for (int k = 0; k < 16; k++)
        for (int i = 0; i < 32; i++)
            bw[k][i] = model_bf16(model_tiles[b][k], i);
    for (int m = 0; m < TROWS; m++) {
        float acc[16];
        memcpy(acc, model_tiles[c][m], sizeof acc);
        for (int k = 0; k < 16; k++) {
            float a0 = model_bf16(model_tiles[a][m], 2 * k);
            float a1 = model_bf16(model_tiles[a][m], 2 * k + 1);
            for (int n = 0; n < 16; n++) {
                acc[n] = model_flush(acc[n] + a0 * bw[k][2 * n]);
                acc[n] = model_flush(acc[n] + a1 * bw[k][2 * n + 1]);
            }
        }
        memcpy(model_tiles[c][m], acc, sizeof acc);
    }
}

static void model_dpbusd(int c, int a, int b)
{
    for (int m = 0; m < TROWS; m++) {
        uint32_t acc[16];   /* unsigned: the instruction's wrap, without C's overflow */
        memcpy(acc, model_tiles[c][m], sizeof acc);
        for (int g = 0; g < 16; g++)
            for (int n = 0; n < 16; n++)
                for (int i = 0; i < 4; i++) {
                    int32_t u = model_tiles[a][m][4 * g + i];
                    int32_t s = (int8_t)model_tiles[b][g][4 * n + i];
                    acc[n] += (uint32_t)(u * s);
                }
        memcpy(model_tiles[c][m], acc, sizeof acc);
    }
}

/* ---------------------------------------------------------------- the hardware */

#if defined(__x86_64__) && defined(__GNUC__)
#define AMX_HW 1
#include <immintrin.h>
#define AMXT __attribute__((target("amx-tile,amx-bf16,amx-int8")))

/* ldtilecfg's 64-byte operand, palette 1. */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Every tile 16 rows of 64 bytes (the file's comment says why). A static
 * object, not a local filled before the load: GCC 12's _tile_loadconfig is
 * an asm whose memory input is the first 8 bytes of the configuration only,
 * so the compiler deleted the stores that filled the rest of a local, and
 * LDTILECFG read a half-written configuration and faulted (#GP) on the
 * first AMX machine these tests ran on. */
static const tile_config amx_config __attribute__((aligned(64))) = {
    .palette = 1,
    .colsb = {TBYTES, TBYTES, TBYTES, TBYTES, TBYTES, TBYTES, TBYTES, TBYTES},
    .rows = {TROWS, TROWS, TROWS, TROWS, TROWS, TROWS, TROWS, TROWS},
};

static AMXT void hw_begin(void) { _tile_loadconfig(&amx_config); }

static AMXT void hw_end(void) { _tile_release(); }
#else
#define AMX_HW 0
#define AMXT
#endif

void amx_begin(int model)
{
#if AMX_HW
    if (!model)
        hw_begin();
#endif
    (void)model;
}

void amx_end(int model)
{
#if AMX_HW
    if (!model)
        hw_end();
#endif
    (void)model;
}

/* The instructions with literal tile numbers (the hardware encodes them in
 * the instruction); MODEL and IS_BF16 are constants in each instance below. */
#if AMX_HW
#define TZERO(t) do { if (MODEL) model_zero(t); else _tile_zero(t); } while (0)
#define TLOAD(t, p, s) do { if (MODEL) model_load(t, p, s); else _tile_loadd(t, p, (long)(s)); } while (0)
#define TSTORE(t, p, s) do { if (MODEL) model_store(t, p, s); else _tile_stored(t, p, (long)(s)); } while (0)
/* TILELOADD, or TILELOADDT1 when hint is set: the same bytes either way. */
#define TLOAD_HINT(t, p, s, hint)                                                               \
    do {                                                                                        \
        if (MODEL)                                                                              \
            model_load(t, p, s);                                                                \
        else if (hint)                                                                          \
            _tile_stream_loadd(t, p, (long)(s));                                                \
        else                                                                                    \
            _tile_loadd(t, p, (long)(s));                                                       \
    } while (0)
#define TDP(c, a, b)                                                                            \
    do {                                                                                        \
        if (MODEL && IS_BF16)                                                          \
            model_dpbf16ps(c, a, b);                                                            \
        else if (MODEL)                                                                         \
            model_dpbusd(c, a, b);                                                              \
        else if (IS_BF16)                                                              \
            _tile_dpbf16ps(c, a, b);                                                            \
        else                                                                                    \
            _tile_dpbusd(c, a, b);                                                              \
    } while (0)
#else
#define TZERO(t) model_zero(t)
#define TLOAD(t, p, s) model_load(t, p, s)
#define TSTORE(t, p, s) model_store(t, p, s)
#define TLOAD_HINT(t, p, s, hint) model_load(t, p, s)
#define TDP(c, a, b) do { if (IS_BF16) model_dpbf16ps(c, a, b); else model_dpbusd(c, a, b); } while (0)
#endif

/* The accumulators tmm0-3 from the four tiles of out at p0-p3 (rows ldo
 * bytes apart) when load is set, else from zero; and back into them. */
#define ACC_START(p0, p1, p2, p3)                                                               \
    do {                                                                                        \
        if (load) {                                                                             \
            TLOAD(0, p0, ldo);                                                                  \
            TLOAD(1, p1, ldo);                                                                  \
            TLOAD(2, p2, ldo);                                                                  \
            TLOAD(3, p3, ldo);                                                                  \
        } else {                                                                                \
            TZERO(0);                                                                           \
            TZERO(1);                                                                           \
            TZERO(2);                                                                           \
            TZERO(3);                                                                           \
        }                                                                                       \
    } while (0)
#define ACC_STORE(p0, p1, p2, p3)                                                               \
    do {                                                                                        \
        TSTORE(0, p0, ldo);                                                                     \
        TSTORE(1, p1, ldo);                                                                     \
        TSTORE(2, p2, ldo);                                                                     \
        TSTORE(3, p3, ldo);                                                                     \
    } while (0)

/* One half of the panel (32 columns from byte offset 128·h of each k group
 * row), 32 rows of A (two tiles; the second may be partly pad rows) into
 * out's rows, ldo bytes apart. */
#define HALF_BODY()                                                                             \
    do {                                                                                        \
        ACC_START(out + 128 * (size_t)h, out + 128 * (size_t)h + 64,                            \
                  out + AMX_ROWS * ldo + 128 * (size_t)h,                                       \
                  out + AMX_ROWS * ldo + 128 * (size_t)h + 64);                                 \
        for (int b = 0; b < blocks; b++) {                                                      \
            const uint8_t *ab = a + (size_t)b * AMX_BLOCK;                                      \
            const uint8_t *wb = w + (size_t)b * 16 * 256 + 128 * (size_t)h;                     \
            TLOAD(4, ab, lda);                                                                  \
            TLOAD_HINT(6, wb, 256, w_once);                                                     \
            TLOAD_HINT(7, wb + 64, 256, w_once);                                                \
            TDP(0, 4, 6);                                                                       \
            TDP(1, 4, 7);                                                                       \
            TLOAD(5, ab + AMX_ROWS * lda, lda);                                                 \
            TDP(2, 5, 6);                                                                       \
            TDP(3, 5, 7);                                                                       \
        }                                                                                       \
        ACC_STORE(out + 128 * (size_t)h, out + 128 * (size_t)h + 64,                            \
                  out + AMX_ROWS * ldo + 128 * (size_t)h,                                       \
                  out + AMX_ROWS * ldo + 128 * (size_t)h + 64);                                 \
    } while (0)

/* 16 rows of A or fewer against the whole panel in one pass over k: tmm0-3
 * accumulate the panel's four 16-column tiles, tmm4 holds A's k block and
 * tmm5-7 take turns with the panel's tiles. Each k block of the panel is
 * one contiguous 4 KB read and A's block is loaded once (a half-panel pass
 * reads every other 128 bytes and A twice: at the few rows of a fill-mask
 * or a decoding step, the panel's bytes are the whole cost). Each element's
 * sum runs over the same k blocks in the same order as HALF_BODY's. */
#define FULL_BODY()                                                                             \
    do {                                                                                        \
        ACC_START(out, out + 64, out + 128, out + 192);                                         \
        for (int b = 0; b < blocks; b++) {                                                      \
            const uint8_t *wb = w + (size_t)b * 16 * 256;                                       \
            TLOAD(4, a + (size_t)b * AMX_BLOCK, lda);                                           \
            TLOAD_HINT(5, wb, 256, w_once);                                                     \
            TDP(0, 4, 5);                                                                       \
            TLOAD_HINT(6, wb + 64, 256, w_once);                                                \
            TDP(1, 4, 6);                                                                       \
            TLOAD_HINT(7, wb + 128, 256, w_once);                                               \
            TDP(2, 4, 7);                                                                       \
            TLOAD_HINT(5, wb + 192, 256, w_once);                                               \
            TDP(3, 4, 5);                                                                       \
        }                                                                                       \
        ACC_STORE(out, out + 64, out + 128, out + 192);                                         \
    } while (0)

#define PANEL_FN(name, MODEL_, KIND_)                                                           \
    static AMXT void name(const uint8_t *a, size_t lda, const uint8_t *w, int blocks, int rows, \
                          uint8_t *out, size_t ldo, int load, int w_once)                       \
    {                                                                                           \
        enum { MODEL = MODEL_, IS_BF16 = KIND_ == AMX_BF16 };                                   \
        (void)w_once;                                                                           \
        if (rows <= AMX_ROWS) {                                                                 \
            FULL_BODY();                                                                        \
            return;                                                                             \
        }                                                                                       \
        for (int h = 0; h < 2; h++)                                                             \
            HALF_BODY();                                                                       \
    }

PANEL_FN(panel_model_bf16, 1, AMX_BF16)
PANEL_FN(panel_model_int8, 1, AMX_INT8)
#if AMX_HW
PANEL_FN(panel_hw_bf16, 0, AMX_BF16)
PANEL_FN(panel_hw_int8, 0, AMX_INT8)
#endif

void amx_panel(amx_kind kind, int model, const uint8_t *a, size_t lda, const uint8_t *w,
               int blocks, int rows, void *acc, size_t ldacc, int load, int w_once)
{
#if AMX_HW
    if (!model) {
        if (kind == AMX_BF16)
            panel_hw_bf16(a, lda, w, blocks, rows, acc, ldacc, load, w_once);
        else
            panel_hw_int8(a, lda, w, blocks, rows, acc, ldacc, load, w_once);
        return;
    }
#endif
    if (kind == AMX_BF16)
        panel_model_bf16(a, lda, w, blocks, rows, acc, ldacc, load, w_once);
    else
        panel_model_int8(a, lda, w, blocks, rows, acc, ldacc, load, w_once);
}
