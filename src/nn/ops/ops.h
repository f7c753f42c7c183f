/* The ops layer: every numerical kernel the models need, and the only code
 * that calls BLIS. This header is the context they share; the kernels are in
 * nn/ops/gemm.h, nn/ops/kernels.h and nn/ops/loss.h (all included here).
 *
 * Conventions, for every kernel:
 * - Row-major, contiguous unless a leading dimension says otherwise. Shapes
 *   are given in the comment of each function, e.g. (N, C) is N rows of C.
 * - Backward functions ACCUMULATE into their gradient outputs (+=), as in
 *   llm.c, so that residual branches and shared weights need no extra adds;
 *   the caller zeroes gradients before a backward pass. The one exception is
 *   ops_cross_entropy_backward, which starts the chain and writes.
 * - Results do not depend on ctx->nthreads: elementwise kernels are bitwise
 *   identical for any thread count (work is split over independent items,
 *   reductions have a fixed order).
 * - Thread-safe: kernels share no mutable state, so several contexts (with
 *   different thread counts) can run kernels at the same time. */
#ifndef MLM_OPS_OPS_H
#define MLM_OPS_OPS_H

/* Per-handle execution settings. Plain data: model and trainer handles embed
 * one; it is read, never written, by the kernels. */
typedef struct ops_ctx {
    int nthreads;   /* threads per kernel call, >= 1 */
    /* Products take bf16-rounded inputs with fp32 accumulation, as
     * torch.autocast("cpu", torch.bfloat16) runs mm/bmm/linear; everything
     * else stays fp32. When set, ops_gemm and ops_gemm_batched (and so
     * ops_linear_forward/backward) run ops_gemm_bf16 (nn/ops/gemm_bf16.h).
     * Set by the Trainer for bf16 mixed-precision training only; inference
     * contexts never set it. */
    int autocast_bf16;
    /* Where ops_gemm_bf16 takes its working blocks (the rounded A and the
     * packed op(B), tens of MB for a head's gradient) and gives them back
     * for the next call (core/scratch.h), instead of fresh pages the kernel
     * zeroes on every call; NULL allocates per call. Set by the Trainer to
     * its model's cache. */
    struct scratch_cache *scratch;
} ops_ctx;

/* nthreads < 1 becomes 1; autocast_bf16 off; no scratch cache. The environment (OMP_NUM_THREADS,
 * BLIS_NUM_THREADS) is never read: the count is the caller's choice. */
void ops_ctx_init(ops_ctx *ctx, int nthreads);

/* Threads for a product of `macs` multiply-adds that reads `bytes` of
 * weights: nthreads from ~2^20 multiply-adds (a thread start, ~20-50 us,
 * pays for itself there); also from 128 KiB of weights when the calling
 * thread has entered a pool (core/threads.h: waking its workers costs a
 * few us, and one core alone reads memory at half the rate of two, so a
 * one-row product of a layer's weights gains); else 1. */
int ops_threads_for(int nthreads, double macs, double bytes);

#include "nn/ops/gemm.h"
#include "nn/ops/kernels.h"
#include "nn/ops/loss.h"

#endif
