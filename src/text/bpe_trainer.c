/* BPE / WordPiece training: HF tokenizers' BpeTrainer, step by step.
 *
 * The reference is tokenizers/src/models/bpe/trainer.rs (do_train) and
 * models/bpe/word.rs (Word::merge). The pieces, in do_train's order:
 *   1. special tokens get the first ids;
 *   2. compute_alphabet: every character of every word with its total count,
 *      the initial alphabet forced in, the rarest dropped beyond
 *      limit_alphabet, the rest added sorted by code point;
 *   3. tokenize_words: each word becomes a list of symbol ids, one per kept
 *      character (with the prefix on non-first and the suffix on the last
 *      character, adding those strings to the vocabulary);
 *   4. count_pairs: pair -> count and pair -> set of words, pushed on a max
 *      heap ordered by (count, then the smaller pair);
 *   5. the merge loop: pop; a stale count is refreshed and pushed back;
 *      stop on vocab size, an empty queue, a count < 1 or < min_frequency;
 *      otherwise add the merged token, rewrite the entry's words, apply the
 *      count changes, and push one entry per pair that gained occurrences,
 *      carrying only the words where it gained them.
 * The heap mirrors Rust's BinaryHeap (sift_up / sift_down_to_bottom) so that
 * equal entries behave as they do there.
 */
#include "text/bpe_trainer.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"

/* ------------------------------------------------------------ UTF-8 */


/* ------------------------------------------------------------ string table */

/* Strings (with their lengths) in insertion order plus an open-addressing
 * index; the position of a string is its id. */
typedef struct strtab {
    char **s;
    size_t *len;
    size_t n, cap;
    uint32_t *slots; /* 0 empty, else index + 1 */
    size_t nslots;   /* power of two */
} strtab;

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static void strtab_free(strtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        mem_free(t->s[i]);
    mem_free(t->s);
    mem_free(t->len);
    mem_free(t->slots);
    memset(t, 0, sizeof *t);
}

static int64_t strtab_find(const strtab *t, const char *s, size_t len)
{
    if (!t->nslots)
        return -1;
    size_t mask = t->nslots - 1;
    for (size_t j = (size_t)hash_bytes(s, len) & mask;; j = (j + 1) & mask) {
        uint32_t v = t->slots[j];
        if (!v)
            return -1;
        size_t i = v - 1;
        if (t->len[i] == len && memcmp(t->s[i], s, len) == 0)
            return (int64_t)i;
    }
}

static mlm_status strtab_rehash(strtab *t, size_t nslots)
{
    uint32_t *slots = mem_calloc(nslots, sizeof *slots);
    if (!slots)
        return err_oom();
    size_t mask = nslots - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = (size_t)hash_bytes(t->s[i], t->len[i]) & mask;
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = (uint32_t)(i + 1);
    }
    mem_free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return MLM_OK;
}

/* Append a copy of s (which must not be present); *id receives its index. */
static mlm_status strtab_add(strtab *t, const char *s, size_t len, size_t *id)
{
    if (t->n >= UINT32_MAX - 1)
        return err_set(MLM_ERR_RANGE, "bpe trainer: more than 2^32 strings");
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **ns = mem_realloc(t->s, cap * sizeof *ns);
        if (!ns)
            return err_oom();
        t->s = ns;
        size_t *nl = mem_realloc(t->len, cap * sizeof *nl);
        if (!nl)
            return err_oom();
        t->len = nl;
        t->cap = cap;
    }
    if ((t->n + 1) * 2 > t->nslots) {
        mlm_status st = strtab_rehash(t, t->nslots ? t->nslots * 2 : 128);
        if (st != MLM_OK)
            return st;
    }
    char *copy = mem_strndup(s, len);
    if (!copy)
        return err_oom();
    size_t i = t->n++;
    t->s[i] = copy;
    t->len[i] = len;
    size_t mask = t->nslots - 1;
    size_t j = (size_t)hash_bytes(s, len) & mask;
    while (t->slots[j])
        j = (j + 1) & mask;
    t->slots[j] = (uint32_t)(i + 1);
    if (id)
        *id = i;
    return MLM_OK;
}

/* The id of s, adding it when absent. */
static mlm_status strtab_intern(strtab *t, const char *s, size_t len, size_t *id)
{
    int64_t f = strtab_find(t, s, len);
    if (f >= 0) {
        *id = (size_t)f;
        return MLM_OK;
    }
    return strtab_add(t, s, len, id);
}

/* ------------------------------------------------------------ word counts */

struct word_counts {
    strtab t;
    uint64_t *counts; /* parallel to t.s, capacity t.cap */
    size_t counts_cap;
};

mlm_status word_counts_new(word_counts **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "word_counts_new: out is NULL");
    *out = mem_calloc(1, sizeof **out);
    return *out ? MLM_OK : err_oom();
}

void word_counts_free(word_counts *wc)
{
    if (!wc)
        return;
    strtab_free(&wc->t);
    mem_free(wc->counts);
    mem_free(wc);
}

static mlm_status word_counts_add_valid(word_counts *wc, const char *word, size_t len,
                                        uint64_t count)
{
    int64_t f = strtab_find(&wc->t, word, len);
    if (f >= 0) {
        wc->counts[f] += count;
        return MLM_OK;
    }
    if (wc->counts_cap < wc->t.n + 1) {
        size_t cap = wc->counts_cap ? wc->counts_cap * 2 : 64;
        uint64_t *nc = mem_realloc(wc->counts, cap * sizeof *nc);
        if (!nc)
            return err_oom();
        wc->counts = nc;
        wc->counts_cap = cap;
    }
    size_t id;
    mlm_status st = strtab_add(&wc->t, word, len, &id);
    if (st != MLM_OK)
        return st;
    wc->counts[id] = count;
    return MLM_OK;
}

mlm_status word_counts_add(word_counts *wc, const char *word, size_t len, uint64_t count)
{
    if (!wc || (!word && len))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "word_counts_add: NULL argument");
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(word + i, len - i, &cp);
        if (!n)
            return err_set(MLM_ERR_FORMAT, "word_counts_add: invalid UTF-8 at byte %zu", i);
        i += n;
    }
    return word_counts_add_valid(wc, word ? word : "", len, count);
}

mlm_status word_counts_merge(word_counts *dst, const word_counts *src)
{
    if (!dst || !src)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "word_counts_merge: NULL argument");
    for (size_t i = 0; i < src->t.n; i++) {
        mlm_status st = word_counts_add_valid(dst, src->t.s[i], src->t.len[i], src->counts[i]);
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

size_t word_counts_size(const word_counts *wc) { return wc ? wc->t.n : 0; }

const char *word_counts_word(const word_counts *wc, size_t i, size_t *len, uint64_t *count)
{
    if (!wc || i >= wc->t.n)
        return NULL;
    if (len)
        *len = wc->t.len[i];
    if (count)
        *count = wc->counts[i];
    return wc->t.s[i];
}

uint64_t word_counts_get(const word_counts *wc, const char *word, size_t len)
{
    if (!wc || (!word && len))
        return 0;
    int64_t f = strtab_find(&wc->t, word ? word : "", len);
    return f >= 0 ? wc->counts[f] : 0;
}

/* ------------------------------------------------------------ u64 map */

/* uint64 key -> int64 value, open addressing; the key UINT64_MAX is the
 * empty marker (pairs of ids < 2^32 - 1 and code points never reach it). */
#define U64_EMPTY UINT64_MAX

typedef struct u64map {
    uint64_t *keys;
    int64_t *vals;
    size_t n, cap; /* cap: power of two */
} u64map;

static size_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static void u64map_free(u64map *m)
{
    mem_free(m->keys);
    mem_free(m->vals);
    memset(m, 0, sizeof *m);
}

static mlm_status u64map_grow(u64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = mem_alloc(cap * sizeof *keys);
    int64_t *vals = mem_alloc(cap * sizeof *vals);
    if (!keys || !vals) {
        mem_free(keys);
        mem_free(vals);
        return err_oom();
    }
    memset(keys, 0xFF, cap * sizeof *keys);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == U64_EMPTY)
            continue;
        size_t j = mix64(m->keys[i]) & (cap - 1);
        while (keys[j] != U64_EMPTY)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    mem_free(m->keys);
    mem_free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return MLM_OK;
}

/* The value slot of key, inserted as 0 when absent; NULL on OOM. */
static int64_t *u64map_slot(u64map *m, uint64_t key)
{
    if ((m->n + 1) * 2 > m->cap && u64map_grow(m) != MLM_OK)
        return NULL;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->keys[j] != U64_EMPTY) {
        if (m->keys[j] == key)
            return &m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = 0;
    m->n++;
    return &m->vals[j];
}

static int64_t u64map_get(const u64map *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->keys[j] != U64_EMPTY) {
        if (m->keys[j] == key)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

/* ------------------------------------------------------------ the queue */

#define PAIR(a, b) (((uint64_t)(a) << 32) | (uint64_t)(b))
#define PAIR_A(p) ((uint32_t)((p) >> 32))
#define PAIR_B(p) ((uint32_t)((p) & 0xFFFFFFFFu))

/* HF's Merge: a pair, the count it had when pushed, and the words to
 * rewrite when it is merged. */
typedef struct merge_entry {
    uint64_t count;
    uint64_t pair;
    uint32_t *pos;
    size_t npos;
} merge_entry;

/* Merge's Ord: count, then the smaller pair is the greater entry. */
static int entry_cmp(const merge_entry *x, const merge_entry *y)
{
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    if (x->pair != y->pair)
        return x->pair > y->pair ? -1 : 1;
    return 0;
}

typedef struct heap {
    merge_entry *d;
    size_t n, cap;
} heap;

static void heap_free(heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        mem_free(h->d[i].pos);
    mem_free(h->d);
    memset(h, 0, sizeof *h);
}

/* std BinaryHeap::sift_up */
static size_t heap_sift_up(heap *h, size_t start, size_t pos)
{
    merge_entry e = h->d[pos];
    while (pos > start) {
        size_t parent = (pos - 1) / 2;
        if (entry_cmp(&e, &h->d[parent]) <= 0)
            break;
        h->d[pos] = h->d[parent];
        pos = parent;
    }
    h->d[pos] = e;
    return pos;
}

/* std BinaryHeap::sift_down_to_bottom, then sift_up */
static void heap_sift_down_to_bottom(heap *h, size_t pos)
{
    size_t end = h->n, start = pos;
    merge_entry e = h->d[pos];
    size_t child = 2 * pos + 1;
    while (end >= 2 && child <= end - 2) {
        if (entry_cmp(&h->d[child], &h->d[child + 1]) <= 0)
            child++;
        h->d[pos] = h->d[child];
        pos = child;
        child = 2 * pos + 1;
    }
    if (child == end - 1) {
        h->d[pos] = h->d[child];
        pos = child;
    }
    h->d[pos] = e;
    heap_sift_up(h, start, pos);
}

/* Takes ownership of e.pos (freed here on failure). */
static mlm_status heap_push(heap *h, merge_entry e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        merge_entry *nd = mem_realloc(h->d, cap * sizeof *nd);
        if (!nd) {
            mem_free(e.pos);
            return err_oom();
        }
        h->d = nd;
        h->cap = cap;
    }
    h->d[h->n++] = e;
    heap_sift_up(h, 0, h->n - 1);
    return MLM_OK;
}

static merge_entry heap_pop(heap *h)
{
    merge_entry item = h->d[--h->n];
    if (h->n) {
        merge_entry top = h->d[0];
        h->d[0] = item;
        item = top;
        heap_sift_down_to_bottom(h, 0);
    }
    return item;
}

/* ------------------------------------------------------------ words */

/* All words' symbols in one array; word w lives at [start[w], start[w] +
 * len[w]) and shrinks in place as merges apply. sym_len counts characters,
 * as HF's tokenize_words does (`add(id, 1)`). */
typedef struct words {
    uint32_t *sym;
    uint32_t *sym_len;
    size_t *start;
    uint32_t *len;
    uint64_t *count;
    size_t n;
} words;

static void words_free(words *w)
{
    mem_free(w->sym);
    mem_free(w->sym_len);
    mem_free(w->start);
    mem_free(w->len);
    mem_free(w->count);
    memset(w, 0, sizeof *w);
}

/* A (pair, change, word) produced by Word::merge. */
typedef struct change {
    uint64_t pair;
    int32_t delta;
    uint32_t word;
} change;

typedef struct changes {
    change *d;
    size_t n, cap;
} changes;

static mlm_status changes_push(changes *c, uint64_t pair, int32_t delta, uint32_t word)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        change *nd = mem_realloc(c->d, cap * sizeof *nd);
        if (!nd)
            return err_oom();
        c->d = nd;
        c->cap = cap;
    }
    c->d[c->n++] = (change){pair, delta, word};
    return MLM_OK;
}

/* Word::merge: replace every (c1, c2), left to right, by repl, recording
 * the pair count changes (new pairs only while shorter than max_len). */
static mlm_status word_merge(words *w, uint32_t wi, uint32_t c1, uint32_t c2, uint32_t repl,
                             size_t max_len, changes *out)
{
    uint32_t *s = w->sym + w->start[wi];
    uint32_t *l = w->sym_len + w->start[wi];
    size_t n = w->len[wi];
    mlm_status st = MLM_OK;
    for (size_t i = 0; i < n; i++) {
        if (!(s[i] == c1 && i + 1 < n && s[i + 1] == c2))
            continue;
        uint32_t first = s[i], second = s[i + 1];
        size_t new_len = (size_t)l[i] + l[i + 1];
        if (i > 0) {
            if ((st = changes_push(out, PAIR(s[i - 1], first), -1, wi)) != MLM_OK)
                return st;
            if (l[i - 1] + new_len < max_len &&
                (st = changes_push(out, PAIR(s[i - 1], repl), 1, wi)) != MLM_OK)
                return st;
        }
        s[i] = repl;
        l[i] = (uint32_t)new_len;
        memmove(s + i + 1, s + i + 2, (n - i - 2) * sizeof *s);
        memmove(l + i + 1, l + i + 2, (n - i - 2) * sizeof *l);
        n--;
        if (i + 1 < n) {
            if ((st = changes_push(out, PAIR(second, s[i + 1]), -1, wi)) != MLM_OK)
                return st;
            if (l[i + 1] + new_len < max_len &&
                (st = changes_push(out, PAIR(repl, s[i + 1]), 1, wi)) != MLM_OK)
                return st;
        }
    }
    w->len[wi] = (uint32_t)n;
    return MLM_OK;
}

/* ------------------------------------------------------------ pushing */

static int change_cmp(const void *a, const void *b)
{
    const change *x = a, *y = b;
    if (x->pair != y->pair)
        return x->pair < y->pair ? -1 : 1;
    return x->word < y->word ? -1 : x->word > y->word;
}

/* Group (pair, word) occurrences, already filtered to positive changes, into
 * one queue entry per pair whose count is now positive (HF's
 * where_to_update.drain()). Sorts c in place. */
static mlm_status push_groups(heap *h, changes *c, const u64map *pair_counts)
{
    if (c->n > 1)
        qsort(c->d, c->n, sizeof *c->d, change_cmp);
    for (size_t i = 0; i < c->n;) {
        size_t j = i;
        while (j < c->n && c->d[j].pair == c->d[i].pair)
            j++;
        int64_t count = u64map_get(pair_counts, c->d[i].pair);
        if (count > 0) {
            merge_entry e = {(uint64_t)count, c->d[i].pair, NULL, 0};
            e.pos = mem_alloc((j - i) * sizeof *e.pos);
            if (!e.pos)
                return err_oom();
            for (size_t k = i; k < j; k++)
                if (k == i || c->d[k].word != c->d[k - 1].word)
                    e.pos[e.npos++] = c->d[k].word;
            mlm_status st = heap_push(h, e);
            if (st != MLM_OK)
                return st;
        }
        i = j;
    }
    return MLM_OK;
}

/* ------------------------------------------------------------ settings */

void bpe_trainer_settings_default(bpe_trainer_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->vocab_size = 30000;
    s->min_frequency = 0;
}

void bpe_trained_free(bpe_trained *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_tokens; i++)
        mem_free(m->tokens[i]);
    mem_free(m->tokens);
    mem_free(m->token_lens);
    mem_free(m->merges);
    memset(m, 0, sizeof *m);
}

int64_t bpe_trained_find(const bpe_trained *m, const char *token)
{
    if (!m || !token)
        return -1;
    size_t len = strlen(token);
    for (size_t i = 0; i < m->n_tokens; i++)
        if (m->token_lens[i] == len && memcmp(m->tokens[i], token, len) == 0)
            return (int64_t)i;
    return -1;
}

/* ------------------------------------------------------------ training */

typedef struct alpha {
    uint32_t cp;
    uint64_t count;
} alpha;

/* limit_alphabet removes the rarest first; among equal counts (HF: hash
 * order) the higher code point first. */
static int alpha_by_count(const void *a, const void *b)
{
    const alpha *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    return x->cp > y->cp ? -1 : x->cp < y->cp;
}

static int alpha_by_cp(const void *a, const void *b)
{
    const alpha *x = a, *y = b;
    return x->cp < y->cp ? -1 : x->cp > y->cp;
}

/* A word by its bytes, to sort words bytewise without global state. */
typedef struct word_ref {
    const char *s;
    size_t len;
    size_t idx;
} word_ref;

static int word_order(const void *a, const void *b)
{
    const word_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

typedef struct train_state {
    strtab vocab;
    u64map alphabet;
    alpha *kept;
    word_ref *order;
    words w;
    u64map pair_counts;
    heap queue;
    changes ch, pos_ch;
    uint64_t *merges;
    size_t n_merges, cap_merges;
    u64map last_rank;
    char *buf;
    size_t buf_cap;
} train_state;

static void state_free(train_state *t)
{
    strtab_free(&t->vocab);
    u64map_free(&t->alphabet);
    mem_free(t->kept);
    mem_free(t->order);
    words_free(&t->w);
    u64map_free(&t->pair_counts);
    heap_free(&t->queue);
    mem_free(t->ch.d);
    mem_free(t->pos_ch.d);
    mem_free(t->merges);
    u64map_free(&t->last_rank);
    mem_free(t->buf);
}

static mlm_status buf_reserve(train_state *t, size_t n)
{
    if (n <= t->buf_cap)
        return MLM_OK;
    size_t cap = t->buf_cap ? t->buf_cap : 256;
    while (cap < n)
        cap *= 2;
    char *nb = mem_realloc(t->buf, cap);
    if (!nb)
        return err_oom();
    t->buf = nb;
    t->buf_cap = cap;
    return MLM_OK;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((st = (expr)) != MLM_OK)                                                               \
            goto out;                                                                              \
    } while (0)

mlm_status bpe_train(const word_counts *wc, const bpe_trainer_settings *settings, bpe_trained *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!wc || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bpe_train: NULL argument");
    bpe_trainer_settings defaults;
    bpe_trainer_settings_default(&defaults);
    const bpe_trainer_settings *s = settings ? settings : &defaults;
    if (s->n_special_tokens && !s->special_tokens)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bpe_train: special_tokens is NULL");
    if (s->n_initial_alphabet && !s->initial_alphabet)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "bpe_train: initial_alphabet is NULL");
    const char *prefix = s->continuing_subword_prefix;
    const char *suffix = s->end_of_word_suffix;
    size_t prefix_len = prefix ? strlen(prefix) : 0, suffix_len = suffix ? strlen(suffix) : 0;
    size_t max_len = s->max_token_length ? s->max_token_length : SIZE_MAX;
    if (wc->t.n > UINT32_MAX - 1)
        return err_set(MLM_ERR_RANGE, "bpe_train: more than 2^32 distinct words");

    train_state t;
    memset(&t, 0, sizeof t);
    mlm_status st = MLM_OK;
    size_t id;
    char cbuf[4];

    /* 1. special tokens */
    for (size_t i = 0; i < s->n_special_tokens; i++) {
        const char *tok = s->special_tokens[i];
        if (!tok) {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "bpe_train: special token %zu is NULL", i);
            goto out;
        }
        TRY(strtab_intern(&t.vocab, tok, strlen(tok), &id));
    }

    /* 2. compute_alphabet */
    size_t total_syms = 0;
    for (size_t w = 0; w < wc->t.n; w++) {
        const unsigned char *p = (const unsigned char *)wc->t.s[w];
        size_t len = wc->t.len[w];
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t n = utf8_decode((const char *)p + i, len - i, &cp);
            if (!n) {
                st = err_set(MLM_ERR_FORMAT, "bpe_train: word %zu: invalid UTF-8 at byte %zu", w,
                             i);
                goto out;
            }
            int64_t *slot = u64map_slot(&t.alphabet, cp);
            if (!slot) {
                st = err_oom();
                goto out;
            }
            *slot = (int64_t)((uint64_t)*slot + wc->counts[w]);
            i += n;
            total_syms++;
        }
    }
    for (size_t i = 0; i < s->n_initial_alphabet; i++) {
        uint32_t cp = s->initial_alphabet[i];
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            st = err_set(MLM_ERR_INVALID_ARGUMENT,
                         "bpe_train: initial_alphabet[%zu] U+%04X is not a character", i, cp);
            goto out;
        }
        int64_t *slot = u64map_slot(&t.alphabet, cp);
        if (!slot) {
            st = err_oom();
            goto out;
        }
        *slot = -1; /* usize::MAX */
    }
    size_t n_alpha = 0;
    t.kept = mem_alloc((t.alphabet.n ? t.alphabet.n : 1) * sizeof *t.kept);
    if (!t.kept) {
        st = err_oom();
        goto out;
    }
    for (size_t i = 0; i < t.alphabet.cap; i++)
        if (t.alphabet.keys[i] != U64_EMPTY)
            t.kept[n_alpha++] = (alpha){(uint32_t)t.alphabet.keys[i], (uint64_t)t.alphabet.vals[i]};
    size_t first_kept = 0;
    if (s->has_limit_alphabet && n_alpha > s->limit_alphabet) {
        qsort(t.kept, n_alpha, sizeof *t.kept, alpha_by_count);
        first_kept = n_alpha - s->limit_alphabet;
    }
    qsort(t.kept + first_kept, n_alpha - first_kept, sizeof *t.kept, alpha_by_cp);
    for (size_t i = first_kept; i < n_alpha; i++)
        TRY(strtab_intern(&t.vocab, cbuf, utf8_put((int32_t)t.kept[i].cp, cbuf), &id));

    /* 3. tokenize_words, in bytewise word order (HF: hash order) */
    t.order = mem_alloc((wc->t.n ? wc->t.n : 1) * sizeof *t.order);
    t.w.sym = mem_alloc((total_syms ? total_syms : 1) * sizeof *t.w.sym);
    t.w.sym_len = mem_alloc((total_syms ? total_syms : 1) * sizeof *t.w.sym_len);
    t.w.start = mem_alloc((wc->t.n ? wc->t.n : 1) * sizeof *t.w.start);
    t.w.len = mem_alloc((wc->t.n ? wc->t.n : 1) * sizeof *t.w.len);
    t.w.count = mem_alloc((wc->t.n ? wc->t.n : 1) * sizeof *t.w.count);
    if (!t.order || !t.w.sym || !t.w.sym_len || !t.w.start || !t.w.len || !t.w.count) {
        st = err_oom();
        goto out;
    }
    for (size_t i = 0; i < wc->t.n; i++)
        t.order[i] = (word_ref){wc->t.s[i], wc->t.len[i], i};
    if (prefix || suffix) /* only then does the order change any id */
        qsort(t.order, wc->t.n, sizeof *t.order, word_order);
    TRY(buf_reserve(&t, prefix_len + 4 + suffix_len + 1));
    size_t at = 0;
    for (size_t k = 0; k < wc->t.n; k++) {
        size_t w = t.order[k].idx;
        const unsigned char *p = (const unsigned char *)wc->t.s[w];
        size_t len = wc->t.len[w];
        t.w.start[k] = at;
        t.w.count[k] = wc->counts[w];
        size_t nsym = 0;
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t n = utf8_decode((const char *)p + i, len - i, &cp);
            int is_first = i == 0, is_last = i + n == len;
            i += n;
            if (strtab_find(&t.vocab, (const char *)p + i - n, n) < 0)
                continue; /* dropped by limit_alphabet */
            size_t bl = 0;
            if (!is_first && prefix) {
                memcpy(t.buf, prefix, prefix_len);
                bl = prefix_len;
            }
            memcpy(t.buf + bl, p + i - n, n);
            bl += n;
            if (is_last && suffix) {
                memcpy(t.buf + bl, suffix, suffix_len);
                bl += suffix_len;
            }
            TRY(strtab_intern(&t.vocab, t.buf, bl, &id));
            t.w.sym[at + nsym] = (uint32_t)id;
            t.w.sym_len[at + nsym] = 1;
            nsym++;
        }
        t.w.len[k] = (uint32_t)nsym;
        at += nsym;
    }
    t.w.n = wc->t.n;

    /* 4. count_pairs */
    for (size_t k = 0; k < t.w.n; k++) {
        const uint32_t *sy = t.w.sym + t.w.start[k];
        for (size_t i = 0; i + 1 < t.w.len[k]; i++) {
            uint64_t pair = PAIR(sy[i], sy[i + 1]);
            int64_t *slot = u64map_slot(&t.pair_counts, pair);
            if (!slot) {
                st = err_oom();
                goto out;
            }
            *slot += (int64_t)t.w.count[k];
            TRY(changes_push(&t.pos_ch, pair, 1, (uint32_t)k));
        }
    }
    TRY(push_groups(&t.queue, &t.pos_ch, &t.pair_counts));

    /* 5. merges */
    for (;;) {
        if (t.vocab.n >= s->vocab_size || t.queue.n == 0)
            break;
        merge_entry top = heap_pop(&t.queue);
        uint64_t current = (uint64_t)u64map_get(&t.pair_counts, top.pair);
        if (top.count != current) {
            top.count = current;
            TRY(heap_push(&t.queue, top));
            continue;
        }
        if (top.count < 1 || s->min_frequency > top.count) {
            mem_free(top.pos);
            break;
        }
        uint32_t a = PAIR_A(top.pair), b = PAIR_B(top.pair);
        size_t la = t.vocab.len[a], lb = t.vocab.len[b];
        const char *pb = t.vocab.s[b];
        if (prefix && lb >= prefix_len && memcmp(pb, prefix, prefix_len) == 0) {
            pb += prefix_len;
            lb -= prefix_len;
        }
        if ((st = buf_reserve(&t, la + lb + 1)) != MLM_OK) {
            mem_free(top.pos);
            goto out;
        }
        memcpy(t.buf, t.vocab.s[a], la);
        memcpy(t.buf + la, pb, lb);
        if ((st = strtab_intern(&t.vocab, t.buf, la + lb, &id)) != MLM_OK) {
            mem_free(top.pos);
            goto out;
        }
        if (t.n_merges == t.cap_merges) {
            size_t cap = t.cap_merges ? t.cap_merges * 2 : 1024;
            uint64_t *nm = mem_realloc(t.merges, cap * sizeof *nm);
            if (!nm) {
                mem_free(top.pos);
                st = err_oom();
                goto out;
            }
            t.merges = nm;
            t.cap_merges = cap;
        }
        t.merges[t.n_merges++] = top.pair;

        t.ch.n = 0;
        for (size_t i = 0; i < top.npos && st == MLM_OK; i++)
            st = word_merge(&t.w, top.pos[i], a, b, (uint32_t)id, max_len, &t.ch);
        mem_free(top.pos);
        if (st != MLM_OK)
            goto out;
        t.pos_ch.n = 0;
        for (size_t i = 0; i < t.ch.n; i++) {
            const change *c = &t.ch.d[i];
            int64_t *slot = u64map_slot(&t.pair_counts, c->pair);
            if (!slot) {
                st = err_oom();
                goto out;
            }
            *slot += (int64_t)c->delta * (int64_t)t.w.count[c->word];
            if (c->delta > 0)
                TRY(changes_push(&t.pos_ch, c->pair, c->delta, c->word));
        }
        TRY(push_groups(&t.queue, &t.pos_ch, &t.pair_counts));
    }

    /* 6. the model: a pair merged twice keeps its last rank */
    for (size_t k = 0; k < t.n_merges; k++) {
        int64_t *slot = u64map_slot(&t.last_rank, t.merges[k]);
        if (!slot) {
            st = err_oom();
            goto out;
        }
        *slot = (int64_t)k;
    }
    out->merges = mem_alloc((t.last_rank.n ? t.last_rank.n : 1) * sizeof *out->merges);
    if (!out->merges) {
        st = err_oom();
        goto out;
    }
    for (size_t k = 0; k < t.n_merges; k++) {
        if (u64map_get(&t.last_rank, t.merges[k]) != (int64_t)k)
            continue;
        out->merges[out->n_merges][0] = PAIR_A(t.merges[k]);
        out->merges[out->n_merges][1] = PAIR_B(t.merges[k]);
        out->n_merges++;
    }
    out->n_merges_performed = t.n_merges;
    out->tokens = t.vocab.s;
    out->token_lens = t.vocab.len;
    out->n_tokens = t.vocab.n;
    t.vocab.s = NULL;
    t.vocab.len = NULL;
    t.vocab.n = 0;

out:
    state_free(&t);
    if (st != MLM_OK)
        bpe_trained_free(out);
    return st;
}

mlm_status wordpiece_train(const word_counts *wc, const bpe_trainer_settings *settings,
                           bpe_trained *out)
{
    bpe_trainer_settings s;
    if (settings)
        s = *settings;
    else
        bpe_trainer_settings_default(&s);
    if (!s.continuing_subword_prefix)
        s.continuing_subword_prefix = "##";
    mlm_status st = bpe_train(wc, &s, out);
    if (st != MLM_OK)
        return st;
    mem_free(out->merges);
    out->merges = NULL;
    out->n_merges = 0;
    return MLM_OK;
}
