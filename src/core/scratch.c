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

void *scratch_get(scratch_cache *c, size_t bytes)
{
    block_head *h = NULL;
    if (c) {
        pthread_mutex_lock(&c->lock);
        int best = -1;
        for (int i = 0; i < c->n; i++)
            if (c->kept[i]->size >= bytes && (best < 0 || c->kept[i]->size < c->kept[best]->size))
                best = i;
        if (best >= 0) {
            h = c->kept[best];
            c->kept[best] = c->kept[--c->n];
            c->held -= h->size;
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (!h) {
        if (bytes > SIZE_MAX - sizeof *h)
            return NULL;
        h = mem_alloc(sizeof *h + bytes);
        if (!h)
            return NULL;
        h->size = bytes;
    }
    return h + 1;
}

void scratch_put(scratch_cache *c, void *p)
{
    if (!p)
        return;
    block_head *h = (block_head *)p - 1;
    if (c) {
        pthread_mutex_lock(&c->lock);
        int keep = c->n < SCRATCH_KEEP && h->size <= c->cap - c->held;
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
