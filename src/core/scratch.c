/* The scratch cache (see scratch.h): a short list under a mutex. */
#include "core/scratch.h"

#include <pthread.h>
#include <stdint.h>

#include "core/alloc.h"

/* Before each block: its usable size, padded so that the block keeps
 * malloc's 16-byte alignment. */
typedef struct block_head {
    size_t size;
    size_t pad;
} block_head;

struct scratch_cache {
    pthread_mutex_t lock;
    size_t cap, held;
    int n;
    block_head *kept[SCRATCH_KEEP];
};

scratch_cache *scratch_new(size_t cap)
{
    scratch_cache *c = mem_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        mem_free(c);
        return NULL;
    }
    c->cap = cap;
    return c;
}

void scratch_free(scratch_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        mem_free(c->kept[i]);
    pthread_mutex_destroy(&c->lock);
    mem_free(c);
}

/* The kept block for a request of bytes: the smallest that fits, else the
 * largest (to be grown), else none; taken out of the list. */
static block_head *take(scratch_cache *c, size_t bytes)
{
    int fit = -1, largest = -1;
    for (int i = 0; i < c->n; i++) {
        size_t size = c->kept[i]->size;
        if (size >= bytes && (fit < 0 || size < c->kept[fit]->size))
            fit = i;
        if (largest < 0 || size > c->kept[largest]->size)
            largest = i;
    }
    int i = fit >= 0 ? fit : largest;
    if (i < 0)
        return NULL;
    block_head *h = c->kept[i];
    c->kept[i] = c->kept[--c->n];
    c->held -= h->size;
    return h;
}

void *scratch_get(scratch_cache *c, size_t bytes)
{
    if (bytes > SIZE_MAX - sizeof(block_head))
        return NULL;
    block_head *h = NULL;
    if (c && bytes >= SCRATCH_MIN) {
        pthread_mutex_lock(&c->lock);
        h = take(c, bytes);
        pthread_mutex_unlock(&c->lock);
    }
    if (h && h->size >= bytes)
        return h + 1;
    /* Nothing kept fits: the largest kept block grows (realloc keeps its
     * pages, where a new block beside it would hold both: a call's
     * encoder workspace becomes its decoder cache, as glibc would reuse
     * the memory without the cache, and the peak stays what it was). */
    block_head *grown = mem_realloc(h, sizeof *h + bytes);
    if (!grown) {
        scratch_put(c, h ? h + 1 : NULL);
        return NULL;
    }
    grown->size = bytes;
    return grown + 1;
}

void scratch_put(scratch_cache *c, void *p)
{
    if (!p)
        return;
    block_head *h = (block_head *)p - 1;
    if (c) {
        pthread_mutex_lock(&c->lock);
        int keep = h->size >= SCRATCH_MIN && c->n < SCRATCH_KEEP &&
                   h->size <= c->cap - c->held;
        if (keep) {
            c->kept[c->n++] = h;
            c->held += h->size;
        }
        pthread_mutex_unlock(&c->lock);
        if (keep)
            return;
    }
    mem_free(h);
}
