#include "core/threads.h"

#include <pthread.h>

/* More threads than this per call is never useful for our kernels and keeps
 * the bookkeeping on the stack. */
#define PAR_MAX_THREADS 64

typedef struct par_job {
    par_fn fn;
    void *arg;
    size_t begin, end;
} par_job;

static void *par_run(void *p)
{
    par_job *job = p;
    job->fn(job->arg, job->begin, job->end);
    return NULL;
}

int par_chunks(int nthreads, size_t n, size_t min_chunk)
{
    if (min_chunk == 0)
        min_chunk = 1;
    size_t most = n / min_chunk;
    size_t t = nthreads < 1 ? 1 : (size_t)nthreads;
    if (t > PAR_MAX_THREADS)
        t = PAR_MAX_THREADS;
    if (t > most)
        t = most;
    return t < 1 ? 1 : (int)t;
}

void par_for(int nthreads, size_t n, size_t min_chunk, par_fn fn, void *arg)
{
    if (n == 0)
        return;
    int t = par_chunks(nthreads, n, min_chunk);
    if (t == 1) {
        fn(arg, 0, n);
        return;
    }
    par_job jobs[PAR_MAX_THREADS];
    pthread_t tid[PAR_MAX_THREADS];
    int started[PAR_MAX_THREADS];
    /* Chunk i is [n*i/t, n*(i+1)/t): sizes differ by at most one. */
    for (int i = 0; i < t; i++) {
        jobs[i] = (par_job){fn, arg, n * (size_t)i / (size_t)t, n * (size_t)(i + 1) / (size_t)t};
        started[i] = 0;
    }
    for (int i = 1; i < t; i++)
        started[i] = pthread_create(&tid[i], NULL, par_run, &jobs[i]) == 0;
    par_run(&jobs[0]);
    for (int i = 1; i < t; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            par_run(&jobs[i]);
    }
}
