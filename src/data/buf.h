/* A growable byte buffer for the data layer (allocation through mem_*). */
#ifndef MLM_DATA_BUF_H
#define MLM_DATA_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

typedef struct dbuf {
    char *p;
    size_t len, cap;
} dbuf;

/* Make room for `extra` more bytes; 0 on success, -1 when out of memory. */
static inline int dbuf_reserve(dbuf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = mem_realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int dbuf_put(dbuf *b, const void *data, size_t n)
{
    if (dbuf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static inline int dbuf_put_u64(dbuf *b, uint64_t v) { return dbuf_put(b, &v, sizeof v); }
static inline int dbuf_put_i32(dbuf *b, int32_t v) { return dbuf_put(b, &v, sizeof v); }

/* Hand the bytes over (the buffer becomes empty); never NULL unless OOM. */
static inline void *dbuf_take(dbuf *b)
{
    void *p = b->p;
    if (!p)
        p = mem_alloc(1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static inline void dbuf_free(dbuf *b)
{
    mem_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif
