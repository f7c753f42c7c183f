/* The AMX tile unit (Sapphire Rapids and later) as the reduced-precision
 * products use it: up to 32 rows of A against one 64-column panel of a
 * weight, in the panel layouts of gemm_bf16.c and gemm_i8.c, which are
 * already the tile unit's "VNNI" operand layout (for each k group, the 16
 * columns of a tile side by side, 64 bytes a row).
 *
 * The same code runs on the hardware or on a software model of the tile
 * instructions written from the Intel SDM's pseudocode (TILELOADD,
 * TILESTORED, TILEZERO, TDPBF16PS, TDPBUSD). The model is how a CPU without
 * AMX exercises this path: the tiling, the operand addresses, the padding
 * and the epilogues are the same code either way; only the six tile
 * instructions differ. It is selected by the tests (cpu_amx_force), never
 * by the library on its own. */
#ifndef MLM_OPS_AMX_H
#define MLM_OPS_AMX_H

#include <stddef.h>
#include <stdint.h>

/* Rows of A per tile, and the most a call takes (two tiles of A). */
#define AMX_ROWS 16
#define AMX_MAX_ROWS 32

/* The fewest rows of A for which the products take the tiles (fewer rows
 * are padded to a tile with zeros). A tile product reads the weight's panel
 * at the same rate whatever the rows, so from a few rows, where the vector
 * kernels' compute starts to show, the tiles win; at one row the vector
 * kernels stream the weight faster. Measured on a Xeon with AMX, 1 thread,
 * a 3072×768 weight, µs per product for rows 1 / 2 / 4 / 8 / 12:
 * bf16 vdpbf16ps 168 / 205 / 244 / 437 / 582, tiles 180 / 182 / 183 / 187 /
 * 185; int8 vpdpbusd 57 / 72 / 78 / 135 / 150, tiles 91 / 94 / 95 / 108 /
 * 106; the fill-mask pipeline (12 rows, 2 threads) agrees: int8 2.7 ms from
 * 4 rows, 2.9 from 8, 3.6-4.0 from 16. */
#define AMX_BF16_MIN_ROWS 2
#define AMX_INT8_MIN_ROWS 4

/* Bytes of one k block: a tile row of A (32 bf16 = 16 pairs, or 64 int8 =
 * 16 groups of 4), and the same 16 pairs or groups of a panel's 64 columns. */
#define AMX_BLOCK 64

/* What the tile unit multiplies. */
typedef enum amx_kind {
    AMX_BF16,   /* TDPBF16PS: bf16 pairs, fp32 accumulators */
    AMX_INT8    /* TDPBUSD: unsigned bytes of A × signed bytes of W, int32 */
} amx_kind;

/* The tile configuration of a thread: amx_begin before the first
 * amx_panel on a thread, amx_end after its last (the hardware releases the
 * tile state; the model forgets it). model: 1 runs the software model. */
void amx_begin(int model);
void amx_end(int model);

/* acc[r][c], r < rows, c < 64 (32-bit elements: float for AMX_BF16,
 * int32_t for AMX_INT8; row r at byte r·ldacc) = the dot products of A's
 * rows [0, rows) with the panel's 64 columns over `blocks` k blocks, added
 * to acc's own values when load is 1 (a call that goes on with the next k
 * blocks of an earlier one: the sums leave the tiles and come back as
 * they were, so a product split over k has the bits of one call), from
 * zero when it is 0:
 * - a: A's row 0, rows lda bytes apart, each holding blocks·64 bytes of
 *   operands (zeros past K); rows up to the next multiple of 16 must be
 *   readable;
 * - acc: written for the rows up to the next multiple of 16 (the pad rows'
 *   results are the pad's): with rows 16 or 32 it may be C itself (ldacc
 *   ≥ 256), which spares the copy of the sums into C;
 * - w: the panel, k group g (a bf16 pair or 4 int8) of column c at byte
 *   g·256 + c·4, blocks·16 groups;
 * - rows in [1, 32];
 * - w_once: 1 when the caller reads each k block of this panel only once
 *   (and A's rows again): the panel's tiles are then loaded with
 *   TILELOADDT1, the hint that they need not stay near, so that they pass
 *   L1 by and A's rows and the sums stay there. Measured on a Xeon with
 *   AMX: with the operands streaming from L2 through L1, the 4 KB of sums
 *   stored after each 32 × 32 block had their lines evicted, and the four
 *   TILESTORED took ~750 cycles instead of ~50 (the block's 96 products
 *   ~1,900); with the panel hinted, ~140. The bits are the same either
 *   way, and the software model ignores it. Where the callers set it, and
 *   what it gained: docs/architecture.md.
 * bf16: each element is a sum over its k pairs in order, per pair the even
 * product then the odd one, as TDPBF16PS's pseudocode (the hardware may
 * round differently within a block: the tests bound the error rather than
 * fix the bits). int8: exact int32 sums (wrapping, as the instruction). */
void amx_panel(amx_kind kind, int model, const uint8_t *a, size_t lda, const uint8_t *w,
               int blocks, int rows, void *acc, size_t ldacc, int load, int w_once);

#endif
