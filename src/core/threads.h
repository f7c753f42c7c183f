/* A small parallel-for over pthreads, for the elementwise kernels.
 *
 * The thread count is always the caller's (a per-handle setting, see
 * nn/ops/ops.h); nothing here reads the environment. Threads are started
 * per call and joined before returning, so there is no global pool, no
 * shared state between calls, and two callers with different thread counts
 * can run at the same time. Work too small to pay for a thread start runs
 * inline on the calling thread. */
#ifndef MLM_CORE_THREADS_H
#define MLM_CORE_THREADS_H

#include <stddef.h>

/* Called with a half-open range [begin, end) of [0, n). */
typedef void (*par_fn)(void *arg, size_t begin, size_t end);

/* Split [0, n) into at most `nthreads` contiguous chunks of at least
 * `min_chunk` items each and run fn on every chunk, the first on the calling
 * thread; returns when all are done. When a thread cannot be started its
 * chunk runs on the calling thread, so this cannot fail. The split depends on
 * nthreads: fn must give the same result for any split (each item written by
 * exactly one chunk, no reduction across items) for results to be identical
 * across thread counts. */
void par_for(int nthreads, size_t n, size_t min_chunk, par_fn fn, void *arg);

/* How many chunks par_for would use: 1 means it runs inline. */
int par_chunks(int nthreads, size_t n, size_t min_chunk);

#endif
