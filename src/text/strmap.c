/* Open-addressing string map; see strmap.h. */
#include "text/strmap.h"

#include <string.h>

#include "core/alloc.h"

uint64_t hash_bytes(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (len * 0xFF51AFD7ED558CCDull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001B3ull;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    h *= 0x165667B19E3779F9ull;
    h ^= h >> 29;
    return h;
}

static size_t find_slot(const strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    for (;;) {
        uint32_t e = m->slots[i];
        if (e == 0) return i;
        e--;
        if (m->hashes[e] == h && m->lens[e] == len && memcmp(m->keys[e], key, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

int32_t strmap_get(const strmap *m, const char *key, size_t len)
{
    if (!m->nslots) return -1;
    size_t i = find_slot(m, key, len, hash_bytes(key, len));
    uint32_t e = m->slots[i];
    return e ? m->vals[e - 1] : -1;
}

static int grow_slots(strmap *m)
{
    size_t ns = m->nslots ? m->nslots * 2 : 64;
    uint32_t *slots = mem_calloc(ns, sizeof *slots);
    if (!slots) return -1;
    mem_free(m->slots);
    m->slots = slots;
    m->nslots = ns;
    /* the keys are distinct: each takes the first empty slot of its probe */
    size_t mask = ns - 1;
    for (size_t e = 0; e < m->n; e++) {
        size_t i = (size_t)m->hashes[e] & mask;
        while (m->slots[i])
            i = (i + 1) & mask;
        m->slots[i] = (uint32_t)e + 1;
    }
    return 0;
}

/* Room for n bytes of key in the current block, or a new one. */
static char *key_copy(strmap *m, size_t n)
{
    enum { BLOCK = 64 << 10 };
    if (m->nblocks && m->block_cap - m->block_used >= n) {
        char *p = m->blocks[m->nblocks - 1] + m->block_used;
        m->block_used += n;
        return p;
    }
    size_t size = n > BLOCK ? n : BLOCK;
    char **bl = mem_realloc(m->blocks, (m->nblocks + 1) * sizeof *bl);
    if (!bl) return NULL;
    m->blocks = bl;
    char *b = mem_alloc(size);
    if (!b) return NULL;
    m->blocks[m->nblocks++] = b;
    m->block_used = n;
    m->block_cap = size;
    return b;
}

int strmap_put(strmap *m, const char *key, size_t len, int32_t val, const char **stored)
{
    if (len > UINT32_MAX || m->n >= UINT32_MAX - 1) return -1;
    if ((m->n + 1) * 2 > m->nslots && grow_slots(m)) return -1;
    uint64_t h = hash_bytes(key, len);
    size_t i = find_slot(m, key, len, h);
    if (m->slots[i]) {
        m->vals[m->slots[i] - 1] = val;
        if (stored) *stored = m->keys[m->slots[i] - 1];
        return 0;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        char **k = mem_realloc(m->keys, nc * sizeof *k);
        if (!k) return -1;
        m->keys = k;
        uint32_t *l = mem_realloc(m->lens, nc * sizeof *l);
        if (!l) return -1;
        m->lens = l;
        int32_t *v = mem_realloc(m->vals, nc * sizeof *v);
        if (!v) return -1;
        m->vals = v;
        uint64_t *hs = mem_realloc(m->hashes, nc * sizeof *hs);
        if (!hs) return -1;
        m->hashes = hs;
        m->cap = nc;
    }
    char *copy = key_copy(m, len + 1);
    if (!copy) return -1;
    memcpy(copy, key, len);
    copy[len] = '\0';
    m->keys[m->n] = copy;
    m->lens[m->n] = (uint32_t)len;
    m->hashes[m->n] = h;
    m->vals[m->n] = val;
    m->n++;
    m->slots[i] = (uint32_t)m->n;
    if (stored) *stored = copy;
    return 0;
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->nblocks; i++)
        mem_free(m->blocks[i]);
    mem_free(m->blocks);
    mem_free(m->keys);
    mem_free(m->lens);
    mem_free(m->hashes);
    mem_free(m->vals);
    mem_free(m->slots);
    memset(m, 0, sizeof *m);
}

static inline size_t u64slot(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return (size_t)k & mask;
}

int u64map_get(const u64map *m, uint64_t key, int32_t *a, int32_t *b)
{
    if (!m->nslots) return 0;
    size_t mask = m->nslots - 1, i = u64slot(key, mask);
    for (;;) {
        uint64_t k = m->keys[i];
        if (k == 0) return 0;
        if (k == key + 1) {
            *a = m->a[i];
            if (b) *b = m->b[i];
            return 1;
        }
        i = (i + 1) & mask;
    }
}

static int u64insert(uint64_t *keys, int32_t *va, int32_t *vb, size_t mask, uint64_t key1,
                     int32_t a, int32_t b)
{
    size_t i = u64slot(key1 - 1, mask);
    for (;;) {
        if (keys[i] == 0 || keys[i] == key1) {
            int fresh = keys[i] == 0;
            keys[i] = key1;
            va[i] = a;
            vb[i] = b;
            return fresh;
        }
        i = (i + 1) & mask;
    }
}

int u64map_put(u64map *m, uint64_t key, int32_t a, int32_t b)
{
    if ((m->n + 1) * 2 > m->nslots) {
        size_t ns = m->nslots ? m->nslots * 2 : 64;
        uint64_t *k = mem_calloc(ns, sizeof *k);
        int32_t *va = mem_alloc(ns * sizeof *va), *vb = mem_alloc(ns * sizeof *vb);
        if (!k || !va || !vb) {
            mem_free(k);
            mem_free(va);
            mem_free(vb);
            return -1;
        }
        for (size_t i = 0; i < m->nslots; i++)
            if (m->keys[i]) u64insert(k, va, vb, ns - 1, m->keys[i], m->a[i], m->b[i]);
        mem_free(m->keys);
        mem_free(m->a);
        mem_free(m->b);
        m->keys = k;
        m->a = va;
        m->b = vb;
        m->nslots = ns;
    }
    m->n += (size_t)u64insert(m->keys, m->a, m->b, m->nslots - 1, key + 1, a, b);
    return 0;
}

void u64map_free(u64map *m)
{
    mem_free(m->keys);
    mem_free(m->a);
    mem_free(m->b);
    memset(m, 0, sizeof *m);
}
