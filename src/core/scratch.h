/* Large working blocks kept between calls for reuse.
 *
 * A summarization call at t5-small's shape and batch 8 works in ~55 MB
 * (encoder workspace, the decoder's caches, the logits). glibc hands blocks
 * that large back to the system when they are freed, so that every call
 * faults all their pages in again and the kernel zeroes each one: 4-5% of
 * the call's time (docs/reduced-precision.md). A model keeps the blocks its
 * calls give back, at most SCRATCH_KEEP of them and a byte cap, and hands
 * them to the next call; they are freed with the model. The price is that
 * the process keeps the largest recent working set mapped between calls.
 *
 * Every block from scratch_get goes back through scratch_put (never
 * mem_free: a block carries a header). Thread-safe: threads sharing a model
 * take and return blocks concurrently. */
#ifndef MLM_CORE_SCRATCH_H
#define MLM_CORE_SCRATCH_H

#include <stddef.h>

#define SCRATCH_KEEP 16
/* Blocks under this are allocated and freed plainly: glibc keeps blocks
 * that small in its heap between calls anyway (its threshold for giving
 * memory back adapts up to 32 MB), and kept idle they would add to the
 * peak of a call of another shape. */
#define SCRATCH_MIN ((size_t)4 << 20)

typedef struct scratch_cache scratch_cache;

/* A cache keeping at most cap bytes of blocks; NULL when out of memory
 * (scratch_get and scratch_put then allocate and free plainly). */
scratch_cache *scratch_new(size_t cap);
/* Frees the kept blocks and c; c may be NULL. No block may be out. */
void scratch_free(scratch_cache *c);
/* A block of at least bytes (16-byte aligned, contents undefined): under
 * SCRATCH_MIN a new one; else the smallest kept one large enough, else the largest kept one grown to bytes
 * (realloc: its pages stay, so that blocks given back and asked for again
 * in another size do not add up), else a new one. NULL when out of memory
 * (a kept block then stays kept). c may be NULL. */
void *scratch_get(scratch_cache *c, size_t bytes);
/* Returns p (from scratch_get on the same c) to the cache, or frees it
 * when the cache is full; p may be NULL. */
void scratch_put(scratch_cache *c, void *p);

#endif
