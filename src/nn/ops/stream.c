/* Tiles into a large C past the cache (contract in nn/ops/stream.h). */
#include "nn/ops/stream.h"

#include <stdint.h>

/* A tile's 16 rows are 16 cache lines apart, and an output of megabytes is
 * not in the cache when the product writes it: each TILESTORED (or masked
 * store of a row) then waited for its lines to be read from memory only to
 * be overwritten. Streamed from a buffer in L1 instead, whole lines go to
 * memory with MOVNTPS, with no read. In measurements on a Xeon with AMX
 * (KVM guest, 1 thread): a weight gradient of k = 256 (the decoder's 256
 * tokens) at 360-440 GFLOP/s stored directly and 1000 streamed, k = 512 at
 * 650-800 and 950-1000, with its output cold; a t5-small bf16 training
 * step 10-12% faster, a bf16 8×128 forward 3-9% (1 MB measured against
 * 0.25-64 MB: within the noise of each other). Below the threshold the
 * output may stay in L2 (2 MB on the CPUs with AMX) for its reader, and
 * streaming would evict it (OPS_STREAM_FROM). */
static size_t forced_from;   /* the tests' threshold, 0 when none */

void ops_stream_from(size_t bytes)
{
    forced_from = bytes;
}

int ops_stream_worth(int M, int N, size_t from)
{
    return (size_t)M * (size_t)N * sizeof(float) >= (forced_from ? forced_from : from);
}

int ops_stream_rows_share_lines(const float *C, int ldc)
{
    return (size_t)ldc % 16 != 0 || (uintptr_t)C % 64 != 0;
}

#define RUN_PANELS 4
#define RUN_BYTES ((size_t)512 * 1024)

size_t ops_stream_run_panels(size_t panel_bytes)
{
    size_t n = panel_bytes ? RUN_BYTES / panel_bytes : RUN_PANELS;
    return n < 1 ? 1 : n > RUN_PANELS ? RUN_PANELS : n;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The partial lines: a row's segment of panel p ends in the line where
 * panel p + 1's begins (64 columns are 4 whole lines, so every panel's
 * segment of a row starts at the same offset in a line). Stored plainly,
 * each half first reads its line from memory. At the 50265 columns of
 * RoBERTa's logits (rows 36 bytes off a line, then 72, …) that read was a
 * fifth of the head's bf16 product (1 thread: 103 → 87 ms in a kernel
 * model, 107 → 89 ms in the library). The empty masked stores that the
 * first version made at the ends of aligned rows cost a t5-small training
 * step 7%, hence the skips. */
__attribute__((target("avx512f"))) void ops_stream_rows(float *c, size_t ldc, const float *src,
                                                        int rows, float *carry, int join, int keep)
{
    const int n = OPS_STREAM_COLS;
    for (int r = 0; r < rows; r++) {
        float *row = c + (size_t)r * ldc, *tail = carry + 16 * (size_t)r;
        const float *s = src + (size_t)r * n;
        int i = (int)((64 - (uintptr_t)row % 64) % 64 / sizeof *row);   /* before a line */
        if (i) {
            __mmask16 head = (__mmask16)((1u << i) - 1);
            if (join) {   /* the carried 16 - i floats, then these i */
                __mmask16 lo = (__mmask16)((1u << (16 - i)) - 1);
                __m512 line = _mm512_mask_expandloadu_ps(_mm512_maskz_loadu_ps(lo, tail),
                                                         (__mmask16)~lo, s);
                _mm512_stream_ps(row - (16 - i), line);
            } else {
                _mm512_mask_storeu_ps(row, head, _mm512_maskz_loadu_ps(head, s));
            }
        }
        for (; i + 16 <= n; i += 16)
            _mm512_stream_ps(row + i, _mm512_loadu_ps(s + i));
        if (i < n) {
            __mmask16 mask = (__mmask16)((1u << (n - i)) - 1);
            if (keep)
                _mm512_storeu_ps(tail, _mm512_maskz_loadu_ps(mask, s + i));
            else
                _mm512_mask_storeu_ps(row + i, mask, _mm512_maskz_loadu_ps(mask, s + i));
        }
    }
}
#endif
