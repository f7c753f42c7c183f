/* A hash map from byte strings to int32 values (vocabularies, merges by
 * name). Keys are copied into the map. Lookups are thread-safe once built. */
#ifndef MLM_TEXT_STRMAP_H
#define MLM_TEXT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap {
    uint32_t *slots;   /* entry index + 1, 0 = empty */
    size_t nslots;     /* a power of two */
    char **keys;       /* NUL-terminated copies */
    uint32_t *lens;
    uint64_t *hashes;  /* each key's hash: growing never rehashes the keys, and a
                        * probe compares bytes only when the hashes agree */
    int32_t *vals;
    size_t n, cap;
    /* The key copies live in blocks that never move (callers keep pointers
     * to them): one allocation per block, not per key, since a vocabulary
     * has 10^4..10^5 keys to load. */
    char **blocks;
    size_t nblocks, block_used, block_cap;
} strmap;

/* Returns the value of key, or -1. */
int32_t strmap_get(const strmap *m, const char *key, size_t len);
/* Insert or overwrite; returns 0, or -1 on out of memory. *stored (when
 * not NULL) receives the map's copy of the key, valid until strmap_free. */
int strmap_put(strmap *m, const char *key, size_t len, int32_t val, const char **stored);
void strmap_free(strmap *m);

uint64_t hash_bytes(const void *p, size_t len);


/* A hash map from uint64 keys to two int32 values (BPE merges, trie edges). */
typedef struct u64map {
    uint64_t *keys; /* key + 1; 0 = empty */
    int32_t *a, *b;
    size_t nslots, n;
} u64map;

/* 1 and the values when present, else 0. */
int u64map_get(const u64map *m, uint64_t key, int32_t *a, int32_t *b);
/* Insert or overwrite; 0 or -1 (OOM). Keys must be < UINT64_MAX. */
int u64map_put(u64map *m, uint64_t key, int32_t a, int32_t b);
void u64map_free(u64map *m);

#endif
