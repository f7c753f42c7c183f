/* The processes of a data-parallel run (train/dist.h), over MPI when built
 * with it (MLM_HAVE_MPI, set by the Makefile for this file alone). */
#include "train/dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* The number of processes an MPI launcher says it started (OpenMPI's
 * mpirun, and the PMI of MPICH's hydra), or 0 when none did. */
static long launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strtol(v, NULL, 10);
    }
    return 0;
}

#ifdef MLM_HAVE_MPI
#include <mpi.h>

struct dist {
    MPI_Comm comm; /* our own duplicate: no message of ours meets the host's */
    int rank, size;
};

struct dist_req {
    MPI_Request r;
    int active;
};

int dist_have_mpi(void) { return 1; }

static mlm_status mpi_fail(const dist *d, int rc, const char *op)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", rc);
    if (d)
        return err_set(MLM_ERR_IO, "MPI %s failed on rank %d of %d: %s", op, d->rank, d->size,
                       msg);
    return err_set(MLM_ERR_IO, "MPI %s failed: %s", op, msg);
}

/* MPI_Finalize at exit when libmlm initialised MPI (the host finalises what
 * it initialised). */
static void finalize_at_exit(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
}

static mlm_status mpi_init_once(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (fin)
        return err_set(MLM_ERR_STATE, "MPI has been finalised in this process");
    if (init)
        return MLM_OK;
    /* SERIALIZED: the trainer's calls come from whichever thread trains,
     * one at a time; its worker threads never call MPI */
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS)
        return mpi_fail(NULL, rc, "MPI_Init_thread");
    atexit(finalize_at_exit);
    return MLM_OK;
}

mlm_status dist_open(dist_backend backend, const void *comm, dist **out)
{
    *out = NULL;
    if (backend == DIST_NONE)
        return MLM_OK;
    if (backend == DIST_AUTO && !comm && launched_size() <= 1)
        return MLM_OK;
    mlm_status st = comm ? MLM_OK : mpi_init_once();
    if (st != MLM_OK)
        return st;
    dist *d = mem_calloc(1, sizeof *d);
    if (!d)
        return err_oom();
    int rc = MPI_Comm_dup(comm ? *(const MPI_Comm *)comm : MPI_COMM_WORLD, &d->comm);
    if (rc != MPI_SUCCESS) {
        mem_free(d);
        return mpi_fail(NULL, rc, "MPI_Comm_dup");
    }
    /* errors come back as statuses (a message, not an abort) */
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    *out = d;
    return MLM_OK;
}

void dist_close(dist *d)
{
    if (!d)
        return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Comm_free(&d->comm);
    mem_free(d);
}

int dist_rank(const dist *d) { return d ? d->rank : 0; }
int dist_size(const dist *d) { return d ? d->size : 1; }

mlm_status dist_allgather_f64(dist *d, const double *mine, size_t n, double *all)
{
    if (!d) {
        memmove(all, mine, n * sizeof *all);
        return MLM_OK;
    }
    if (n > INT32_MAX)
        return err_set(MLM_ERR_RANGE, "MPI_Allgather: %zu values", n);
    int rc = MPI_Allgather(mine, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, d->comm);
    return rc == MPI_SUCCESS ? MLM_OK : mpi_fail(d, rc, "MPI_Allgather");
}

mlm_status dist_allreduce_f64(dist *d, double *v, size_t n)
{
    if (!d)
        return MLM_OK;
    if (n > INT32_MAX)
        return err_set(MLM_ERR_RANGE, "MPI_Allreduce: %zu values", n);
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, d->comm);
    return rc == MPI_SUCCESS ? MLM_OK : mpi_fail(d, rc, "MPI_Allreduce");
}

mlm_status dist_req_new(dist_req **out)
{
    *out = mem_calloc(1, sizeof **out);
    return *out ? MLM_OK : err_oom();
}

void dist_req_free(dist_req *r) { mem_free(r); }

mlm_status dist_iallreduce_f32(dist *d, float *buf, size_t n, dist_req *r)
{
    if (!d)
        return MLM_OK;
    if (n > INT32_MAX)
        return err_set(MLM_ERR_RANGE, "MPI_Iallreduce: a bucket of %zu floats", n);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, d->comm, &r->r);
    if (rc != MPI_SUCCESS)
        return mpi_fail(d, rc, "MPI_Iallreduce");
    r->active = 1;
    return MLM_OK;
}

mlm_status dist_req_test(dist_req *r, int *done)
{
    *done = 1;
    if (!r->active)
        return MLM_OK;
    int flag = 0;
    int rc = MPI_Test(&r->r, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        r->active = 0;
        return mpi_fail(NULL, rc, "MPI_Test (a gradient bucket)");
    }
    r->active = !flag;
    *done = flag;
    return MLM_OK;
}

mlm_status dist_req_wait(dist_req *r)
{
    if (!r->active)
        return MLM_OK;
    r->active = 0;
    int rc = MPI_Wait(&r->r, MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? MLM_OK : mpi_fail(NULL, rc, "MPI_Wait (a gradient bucket)");
}

#else /* built without MPI: the single process */

struct dist {
    int unused;
};
struct dist_req {
    int unused;
};

int dist_have_mpi(void) { return 0; }

mlm_status dist_open(dist_backend backend, const void *comm, dist **out)
{
    *out = NULL;
    if (backend == DIST_NONE)
        return MLM_OK;
    if (backend == DIST_MPI || comm)
        return err_set(MLM_ERR_UNSUPPORTED, "\"mpi\" asked for, but this libmlm was built "
                                            "without MPI (rebuild with libopenmpi-dev installed)");
    long n = launched_size();
    if (n > 1)
        return err_set(MLM_ERR_UNSUPPORTED,
                       "started by an MPI launcher as one of %ld processes, but this libmlm was "
                       "built without MPI: each would train alone into the same folder (rebuild "
                       "with libopenmpi-dev installed, or set ddp_backend \"none\")", n);
    return MLM_OK;
}

void dist_close(dist *d) { (void)d; }
int dist_rank(const dist *d) { return (void)d, 0; }
int dist_size(const dist *d) { return (void)d, 1; }

mlm_status dist_allgather_f64(dist *d, const double *mine, size_t n, double *all)
{
    (void)d;
    memmove(all, mine, n * sizeof *all);
    return MLM_OK;
}

mlm_status dist_allreduce_f64(dist *d, double *v, size_t n)
{
    (void)d, (void)v, (void)n;
    return MLM_OK;
}

mlm_status dist_req_new(dist_req **out)
{
    *out = mem_calloc(1, sizeof **out);
    return *out ? MLM_OK : err_oom();
}

void dist_req_free(dist_req *r) { mem_free(r); }

mlm_status dist_iallreduce_f32(dist *d, float *buf, size_t n, dist_req *r)
{
    (void)d, (void)buf, (void)n, (void)r;
    return MLM_OK;
}

mlm_status dist_req_test(dist_req *r, int *done)
{
    (void)r;
    *done = 1;
    return MLM_OK;
}

mlm_status dist_req_wait(dist_req *r)
{
    (void)r;
    return MLM_OK;
}

#endif

mlm_status dist_check_same(dist *d, unsigned long long value, const char *what)
{
    int n = dist_size(d);
    if (n == 1)
        return MLM_OK;
    /* two doubles carry the 64 bits exactly (32 each) */
    double mine[2] = {(double)(value >> 32), (double)(value & 0xffffffffu)};
    double *all = mem_alloc((size_t)n * 2 * sizeof *all);
    if (!all)
        return err_oom();
    mlm_status st = dist_allgather_f64(d, mine, 2, all);
    for (int r = 1; st == MLM_OK && r < n; r++)
        if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
            st = err_set(MLM_ERR_STATE, "%s differs between rank 0 and rank %d", what, r);
    mem_free(all);
    return st;
}
