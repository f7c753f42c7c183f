/* A small parallel-for over pthreads, for the elementwise kernels.
 *
 * The thread count is always the caller's (a per-handle setting, see
 * nn/ops/ops.h); nothing here reads the environment. Threads are started
 * per call and joined before returning, unless the calling thread has
 * entered a par_pool (a handle's own workers, below); there is no global
 * pool, and two callers with different thread counts can run at the same
 * time. Work too small to pay for a thread start runs inline on the calling
 * thread. */
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

/* One par_for over the items of n jobs: job i has counts[i] items and runs
 * as fn(args[i], begin, end) on ranges of its own items; all the items are
 * split among the threads together (several small products: one parallel
 * section and one wait, not n). Up to PAR_JOBS_MAX jobs; more run one
 * par_for each. */
#define PAR_JOBS_MAX 8
void par_for_jobs(int nthreads, int n, const size_t *counts, size_t min_chunk, par_fn fn,
                  void *const *args);

/* How many chunks par_for would use: 1 means it runs inline. */
int par_chunks(int nthreads, size_t n, size_t min_chunk);

/* Workers kept for a handle whose calls are too short to pay for thread
 * starts (fill-mask on one sentence makes ~40 parallel calls of ~100 us; a
 * start and join cost ~40 us). Between calls a worker spins briefly, then
 * sleeps. A pool runs one par_for at a time: a second caller meanwhile, or
 * a par_for nested in one, starts threads as above. Results are the same
 * either way (the chunks are the same). */
typedef struct par_pool par_pool;

/* A pool of nworkers threads; NULL when nworkers < 1 or on failure (then
 * par_for starts threads, as without a pool). */
par_pool *par_pool_new(int nworkers);

/* Stops and joins the workers. Accepts NULL. Not while a par_for uses it. */
void par_pool_free(par_pool *pool);

/* A handle's thread count set to nthreads: its pool (*pool, nthreads - 1
 * workers; NULL when none could start, and calls start threads instead)
 * made anew only when the count changes. */
void par_pool_resize(par_pool **pool, int *cur, int nthreads);

/* Until par_pool_leave on the same thread, this thread's par_for calls use
 * pool (may be NULL: none). Returns the pool that was entered before, for
 * par_pool_leave to restore. */
par_pool *par_pool_enter(par_pool *pool);
void par_pool_leave(par_pool *previous);
/* Whether this thread has entered a pool: its par_for calls then cost a
 * wake-up of waiting workers (a few us), not thread starts. */
int par_pool_entered(void);

#endif
