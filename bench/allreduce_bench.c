/* The gradient sum's own cost (docs/distributed.md): MPI_Allreduce of n
 * floats, in place, summed — what train/grad_sync.c asks of MPI per bucket
 * — timed on every rank of an mpirun job, for message sizes from a few
 * bytes (the latency) to a whole model's gradient. Part of make
 * bench-distributed; the one bench program that calls MPI itself.
 *
 *   mpirun -np N build/bench/allreduce_bench [--floats n1,n2,...] [--reps R]
 *
 * Per size: 2 untimed calls, then R timed ones, each after a barrier; a
 * call's time is the slowest rank's (MPI_MAX), the figure the median of
 * the R. Printed by rank 0 as JSON lines: bytes, median seconds, and the
 * bus bandwidth 2(N-1)/N x bytes / time (the bytes a ring allreduce moves
 * through each rank's link, so figures compare across N). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    long sizes[32] = {2, 256, 262144, 1048576, 6553600};
    int nsizes = 5, reps = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--floats") && i + 1 < argc) {
            nsizes = 0;
            for (char *t = strtok(argv[++i], ","); t && nsizes < 32; t = strtok(NULL, ","))
                sizes[nsizes++] = atol(t);
        } else {
            if (rank == 0)
                fprintf(stderr, "usage: allreduce_bench [--floats n1,n2,...] [--reps R]\n");
            MPI_Finalize();
            return 2;
        }
    }
    if (reps < 1 || reps > 1000)
        reps = 20;
    double *t = malloc((size_t)reps * sizeof *t);
    for (int k = 0; k < nsizes; k++) {
        size_t count = (size_t)sizes[k];
        float *buf = malloc(count * sizeof *buf);
        if (!buf || !t || count > 2147483647u) {
            fprintf(stderr, "allreduce_bench: %zu floats: cannot\n", count);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < count; i++)
            buf[i] = (float)((i * 7 + (size_t)rank) % 13) * 0.125f;
        for (int r = -2; r < reps; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double mine = MPI_Wtime() - t0, slowest = 0;
            MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (r >= 0)
                t[r] = slowest;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp);
        double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
        double bytes = (double)count * sizeof(float);
        if (rank == 0)
            printf("{\"ranks\":%d,\"floats\":%zu,\"bytes\":%.0f,\"median_s\":%.9f,\"min_s\":%.9f,"
                   "\"busbw_gbytes_per_s\":%.4f}\n",
                   n, count, bytes, med, t[0], n > 1 ? 2.0 * (n - 1) / n * bytes / med * 1e-9 : 0);
        free(buf);
    }
    free(t);
    MPI_Finalize();
    return 0;
}
