/* Data-parallel gradient averaging as torch's DistributedDataParallel does
 * it: the flat gradient cut into buckets from its end (the first 1 MB, the
 * rest bucket_cap bytes each: DDP's first-bucket and bucket_cap_mb sizes),
 * each bucket's sum over the ranks started as soon as backward has finished
 * every gradient in it, while backward goes on through the layers below.
 *
 * Backward walks the layers from the top of the parameter table's order to
 * its bottom (the word embeddings, first in the table, last), so "every
 * gradient from offset k on is final" is what a layer reports when it is
 * done (grad_sync_ready), and a bucket [lo, hi) can start when k <= lo.
 *
 * The average: the trainer scales each rank's loss by 1/world (dloss) and
 * the buckets sum, as DDP divides before its allreduce. */
#ifndef MLM_TRAIN_GRAD_SYNC_H
#define MLM_TRAIN_GRAD_SYNC_H

#include <stddef.h>

#include "train/dist.h"

typedef struct grad_sync grad_sync;

/* Buckets over a gradient of n floats. bucket_bytes: the cap of every
 * bucket but the first. */
mlm_status grad_sync_new(dist *d, size_t n, size_t bucket_bytes, grad_sync **out);
void grad_sync_free(grad_sync *g); /* accepts NULL; waits for what is in flight */

/* Before the backward whose gradients are the step's last, on the buffer
 * that backward adds to (it stays put until grad_sync_finish): no bucket is
 * started yet. */
void grad_sync_begin(grad_sync *g, float *grad);

/* Every gradient at offset >= from is final: start the buckets that lie in
 * it, and drive those in flight (MPI moves non-blocking collectives only
 * inside its calls). */
mlm_status grad_sync_ready(grad_sync *g, size_t from);

/* Start what has not started, wait for everything: the gradients are the
 * sums over the ranks, the same bits on every rank. */
mlm_status grad_sync_finish(grad_sync *g);

/* This rank's step failed before or during its backward: take part in
 * every bucket's sum all the same (with zeros, one bucket at a time), since
 * the other ranks' collectives wait for this rank's; the step is then
 * abandoned everywhere (the trainer's status exchange). */
mlm_status grad_sync_abandon(grad_sync *g);

#endif
