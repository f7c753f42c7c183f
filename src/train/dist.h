/* The processes a data-parallel run spans (docs/distributed.md): the one
 * file that calls MPI, as nn/ops is the one that calls BLIS. Built without
 * MPI (make MPI=0, or no libopenmpi-dev), it is the single process and
 * says so when asked for more.
 *
 * A NULL dist is the single process everywhere below: rank 0 of 1, and
 * every collective a copy. */
#ifndef MLM_TRAIN_DIST_H
#define MLM_TRAIN_DIST_H

#include <stddef.h>

#include "mlm/core.h"

typedef struct dist dist;

/* How the trainer finds its processes (trainer option ddp_backend). */
typedef enum dist_backend {
    DIST_AUTO = 0, /* null: MPI when an MPI launcher started this process with
                    * more than one process, else the single process */
    DIST_MPI = 1,  /* "mpi": MPI, even with one process */
    DIST_NONE = 2  /* "no": the single process, whatever launched it */
} dist_backend;

/* 1 when this libmlm was built with MPI. */
int dist_have_mpi(void);

/* The processes of this run. comm: NULL, or a pointer to the host's MPI_Comm
 * (duplicated: the host keeps its own; MPI must be initialised by the host).
 * Without comm, MPI_COMM_WORLD, initialising MPI first if nobody has (then
 * finalised at exit). *out is NULL for the single process. Errors: asked for
 * MPI in a build without it, or an mpirun launch of several processes in a
 * build without MPI (which would otherwise run N independent copies writing
 * to one folder). */
mlm_status dist_open(dist_backend backend, const void *comm, dist **out);
void dist_close(dist *d); /* accepts NULL */

int dist_rank(const dist *d);
int dist_size(const dist *d);

/* all[r·n + i] = rank r's mine[i], on every rank (exact copies: sums over
 * ranks done from this in rank order are the same bits everywhere). */
mlm_status dist_allgather_f64(dist *d, const double *mine, size_t n, double *all);

/* v[i] = Σ over ranks of v[i], in place, on every rank. For sums where every
 * element but one is zero (each rank fills its own slots) the result is
 * exact whatever MPI's order. */
mlm_status dist_allreduce_f64(dist *d, double *v, size_t n);

/* An in-place float sum over ranks, started now and finished by
 * dist_req_test / dist_req_wait: the bucket of a gradient. Every rank ends
 * with the same bits (MPI's allreduce algorithms for a commutative sum of
 * floats reduce each element once and share it, or pair a+b with b+a,
 * which IEEE addition makes equal; checkpoints check it, dist_check_same). */
typedef struct dist_req dist_req;
mlm_status dist_req_new(dist_req **out);
void dist_req_free(dist_req *r); /* accepts NULL; the request must be finished */
mlm_status dist_iallreduce_f32(dist *d, float *buf, size_t n, dist_req *r);
mlm_status dist_req_test(dist_req *r, int *done); /* progress; *done when finished */
mlm_status dist_req_wait(dist_req *r);

/* Whether the 64-bit value (a hash of the parameters, say) is the same on
 * every rank: MLM_ERR_STATE naming the first rank that differs, with what. */
mlm_status dist_check_same(dist *d, unsigned long long value, const char *what);

#endif
