/* What the training benchmarks (train_bench.c, t5_train_bench.c) share:
 * clocks, the median, peak RSS, the CPU's name, and the trainer callback
 * that timestamps each optimizer step. Header-only, static functions, as
 * fma_peak.h. */
#ifndef MLM_BENCH_UTIL_H
#define MLM_BENCH_UTIL_H

#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Wall time (monotonic), in seconds. */
static double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU time of the whole process (every thread): at 1 thread it is the wall
 * time a quiet machine would show, whatever else runs beside us. */
static double bench_cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (v is not changed; 0 when n < 1). */
static double bench_median(const double *v, int n)
{
    if (n < 1)
        return 0;
    double *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return 0;
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, bench_cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/* The process's peak resident set so far, in MB. */
static double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

/* /proc/cpuinfo's first "model name", or "unknown". */
static void bench_cpu_model(char *out, size_t cap)
{
    char line[256];
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            snprintf(out, cap, "%s", c ? c + 2 : line);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
}

/* Step timestamps from the trainer's log callback (logging_steps 1): wall
 * and CPU time at the end of each optimizer step, t[-1] / cpu[-1] being
 * the start (set by the caller before mlm_trainer_train). */
typedef struct bench_clock {
    double *t, *cpu;
    int n, cap;
    double loss_last;
} bench_clock;

/* An mlm_trainer_log_fn: records the end of each step (the records that
 * carry a grad_norm) and stops the run after the last one, before the
 * trainer would save the model. */
static int bench_clock_on_log(const char *rec, void *user)
{
    bench_clock *c = user;
    if (!strstr(rec, "\"grad_norm\""))
        return 0;
    const char *l = strstr(rec, "\"loss\":");
    if (l)
        c->loss_last = atof(l + 7);
    if (c->n < c->cap) {
        c->cpu[c->n] = bench_cpu_now();
        c->t[c->n++] = bench_now();
    }
    return c->n >= c->cap;
}

/* Under mpirun the trainer is one rank of a data-parallel run (its
 * ddp_backend, null, finds the processes): bucket_mb > 0 sets
 * ddp_bucket_cap_mb; *rank and *world say which one this is (rank 0
 * speaks for the run; tokens/s counts every rank's batch). 0, or -1 after
 * naming what failed. */
static int bench_trainer_world(mlm_trainer *tr, int bucket_mb, int *rank, int *world)
{
    char bucket[32];
    snprintf(bucket, sizeof bucket, "%d", bucket_mb);
    if (bucket_mb > 0 && mlm_trainer_set(tr, "ddp_bucket_cap_mb", bucket) != MLM_OK) {
        fprintf(stderr, "bench: ddp_bucket_cap_mb: %s\n", mlm_last_error());
        return -1;
    }
    if (mlm_trainer_world(tr, rank, world) != MLM_OK) {
        fprintf(stderr, "bench: mlm_trainer_world: %s\n", mlm_last_error());
        return -1;
    }
    return 0;
}

#endif
