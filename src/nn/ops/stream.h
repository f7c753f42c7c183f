/* Storing a product's tiles into a large C past the cache: the tile paths
 * of the bf16 and int8 products (nn/ops/gemm_bf16.c, nn/ops/gemm_i8.c)
 * finish a tile of rows × 64 floats in a buffer in L1 and write it to C
 * with non-temporal stores, which write whole cache lines without first
 * reading them. Internal to the ops layer. */
#ifndef MLM_OPS_STREAM_H
#define MLM_OPS_STREAM_H

#include <stddef.h>

/* The columns of a tile's row: a panel of the bf16 and int8 products. */
#define OPS_STREAM_COLS 64

/* Whether a product's M × N floats of C are stored past the cache: from
 * `from` bytes, the caller's threshold (OPS_STREAM_FROM unless its file
 * measured another), or the tests' (ops_stream_from). */
int ops_stream_worth(int M, int N, size_t from);

/* From 1 MB (stream.c says why). */
#define OPS_STREAM_FROM ((size_t)1 << 20)

/* For tests: outputs from bytes on are streamed, whatever the callers'
 * thresholds (0: theirs again). Not thread-safe; set it before the
 * products that should see it. */
void ops_stream_from(size_t bytes);

/* Whether rows of C (ldc floats apart, from C) start off cache lines, so
 * that the segments of two consecutive panels in a row share a line. */
int ops_stream_rows_share_lines(const float *C, int ldc);

/* How many consecutive panels of panel_bytes each a tile path may run
 * together down the rows so that ops_stream_rows joins their tiles'
 * partial lines: at most 4 and 512 KB of them, which then stay in L2 while
 * each 32 rows of A serve the run's panels in turn; at least 1. */
size_t ops_stream_run_panels(size_t panel_bytes);

#if defined(__x86_64__) && defined(__GNUC__)
/* rows × OPS_STREAM_COLS floats from src (rows contiguous) into c (rows ldc
 * floats apart): each row's whole cache lines with non-temporal stores,
 * the partial lines at its ends with plain ones; an end with nothing to
 * store is skipped. For tiles of consecutive panels on the same rows, keep
 * puts each row's tail (its partial last line) in carry (16 floats a row)
 * instead, and join completes that line with the next tile's head and
 * streams it whole. AVX-512F: only on CPUs that have it. */
void ops_stream_rows(float *c, size_t ldc, const float *src, int rows, float *carry, int join,
                     int keep);
#endif

#endif
