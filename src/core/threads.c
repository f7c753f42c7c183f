#include "core/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "mlm/core.h"

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

MLM_API int mlm_default_threads(void)
{
    /* The affinity mask, not the machine: under taskset, cgroups' cpusets
     * or a batch scheduler's pinning, more threads than allowed CPUs only
     * take turns. A fixed-size set covers 1024 CPUs; a larger machine's
     * sched_getaffinity fails with EINVAL and we fall back to the count
     * online. */
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n < 4096 ? (int)n : 4096) : 1;
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

/* ---------------------------------------------------------------- pool */

/* Polls of a new job before a worker sleeps: ~50-100 us, longer than the
 * gaps between a forward pass's parallel calls, far shorter than a pause
 * between two requests. */
#define SPIN_POLLS 20000

/* One job at a time. The submitter writes the job, then publishes it by
 * bumping gen (release); a worker that sees the new gen (acquire) takes
 * chunks until none is left and acknowledges. The submitter returns only
 * when every worker has acknowledged, so no worker can still be reading a
 * job when the next one is written. */
struct par_pool {
    int nworkers;
    pthread_t *tid;
    pthread_mutex_t submit; /* held by the par_for using the workers */
    pthread_mutex_t lock;   /* with wake: sleeping workers */
    pthread_cond_t wake;
    atomic_uint gen;
    atomic_int stop;
    atomic_int next;        /* the next chunk to take */
    atomic_int acks;        /* workers done with the current job */
    par_fn fn;
    void *arg;
    size_t n;
    int t;
};

static _Thread_local par_pool *entered;

static void take_chunks(par_pool *p)
{
    int i;
    while ((i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < p->t)
        p->fn(p->arg, p->n * (size_t)i / (size_t)p->t, p->n * (size_t)(i + 1) / (size_t)p->t);
}

static void cpu_relax(int polls)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    /* On a machine with more threads than cores, give the core away now
     * and then. */
    if (polls % 64 == 63)
        sched_yield();
}

static void *worker(void *arg)
{
    par_pool *p = arg;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int polls = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (++polls < SPIN_POLLS) {
                cpu_relax(polls);
                continue;
            }
            pthread_mutex_lock(&p->lock);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        take_chunks(p);
        atomic_fetch_add_explicit(&p->acks, 1, memory_order_release);
    }
}

par_pool *par_pool_new(int nworkers)
{
    if (nworkers < 1)
        return NULL;
    if (nworkers > PAR_MAX_THREADS - 1)
        nworkers = PAR_MAX_THREADS - 1;
    par_pool *p = calloc(1, sizeof *p);
    pthread_t *tid = calloc((size_t)nworkers, sizeof *tid);
    if (!p || !tid) {
        free(p);
        free(tid);
        return NULL;
    }
    p->tid = tid;
    pthread_mutex_init(&p->submit, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->acks, 0);
    for (; p->nworkers < nworkers; p->nworkers++)
        if (pthread_create(&p->tid[p->nworkers], NULL, worker, p) != 0)
            break;
    if (p->nworkers == 0) {
        par_pool_free(p);
        return NULL;
    }
    return p;
}

void par_pool_free(par_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->submit);
    free(p->tid);
    free(p);
}

par_pool *par_pool_enter(par_pool *pool)
{
    par_pool *before = entered;
    entered = pool;
    return before;
}

void par_pool_leave(par_pool *previous) { entered = previous; }

int par_pool_entered(void) { return entered != NULL; }

static void pool_run(par_pool *p, int t, size_t n, par_fn fn, void *arg)
{
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->t = t;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->acks, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    take_chunks(p);
    int polls = 0;
    while (atomic_load_explicit(&p->acks, memory_order_acquire) < p->nworkers)
        cpu_relax(++polls);
}

/* ---------------------------------------------------------------- par_for */

void par_for(int nthreads, size_t n, size_t min_chunk, par_fn fn, void *arg)
{
    if (n == 0)
        return;
    int t = par_chunks(nthreads, n, min_chunk);
    if (t == 1) {
        fn(arg, 0, n);
        return;
    }
    par_pool *p = entered;
    if (p && pthread_mutex_trylock(&p->submit) == 0) {
        pool_run(p, t, n, fn, arg);
        pthread_mutex_unlock(&p->submit);
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

/* The items of several jobs as one range: job i's are [first[i],
 * first[i + 1]), each sub-range handed to fn shifted to the job's own. */
typedef struct jobs_range {
    int n;
    const size_t *first;
    par_fn fn;
    void *const *args;
} jobs_range;

static void jobs_run(void *arg, size_t begin, size_t end)
{
    const jobs_range *jr = arg;
    for (int i = 0; i < jr->n; i++) {
        size_t lo = jr->first[i], hi = jr->first[i + 1];
        size_t b = begin > lo ? begin : lo, e = end < hi ? end : hi;
        if (b < e)
            jr->fn(jr->args[i], b - lo, e - lo);
    }
}

void par_for_jobs(int nthreads, int n, const size_t *counts, size_t min_chunk, par_fn fn,
                  void *const *args)
{
    if (n > PAR_JOBS_MAX) {
        for (int i = 0; i < n; i++)
            par_for(nthreads, counts[i], min_chunk, fn, args[i]);
        return;
    }
    size_t first[PAR_JOBS_MAX + 1] = {0};
    for (int i = 0; i < n; i++)
        first[i + 1] = first[i] + counts[i];
    jobs_range jr = {n, first, fn, args};
    par_for(nthreads, first[n > 0 ? n : 0], min_chunk, jobs_run, &jr);
}

void par_pool_resize(par_pool **pool, int *cur, int nthreads)
{
    if (nthreads == *cur)
        return;
    par_pool_free(*pool);
    *pool = par_pool_new(nthreads - 1);
    *cur = nthreads;
}
