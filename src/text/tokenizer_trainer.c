/* Training a tokenizer from text (mlm_tokenizer_trainer_*, mlm/tokenizer.h).
 *
 * What HF's Python `BertWordPieceTokenizer().train(files)` and
 * `ByteLevelBPETokenizer().train(files)` do, with RoBERTa's conventions for
 * the byte-level kind:
 *
 *   1. every fed sequence (a file line with its '\n', as HF's
 *      Tokenizer::train reads files, or one string given to feed) goes
 *      through the kind's normalizer and pre-tokenizer — the tokenizer
 *      runtime's own code, parsed from the same JSON the result will hold —
 *      and each resulting word is counted (no added-token extraction, as in
 *      HF's training path);
 *   2. finish trains bpe_train()/wordpiece_train() (text/bpe_trainer.h) on
 *      the counts;
 *   3. the result is written as a tokenizer.json document in HF's schema
 *      (special tokens as added tokens with special: true, the kind's
 *      post-processor and decoder) and loaded through tokenizer_from_json,
 *      so that mlm_tokenizer_save writes what HF loads.
 *
 * Counting runs on `threads` threads per fed block of lines: each thread
 * counts its lines into its own word_counts, merged afterwards. The trained
 * result does not depend on the order words were counted in (bpe_trainer.h),
 * so it is the same for any thread count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "core/utf8.h"
#include "text/bpe_trainer.h"
#include "text/normalized.h"
#include "text/normalizer.h"
#include "text/presets.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

/* ns_buf offsets are 32-bit; as mlm_tokenizer_encode, leave room for the
 * normalizer growing the text. */
#define MAX_SEQUENCE_BYTES ((size_t)UINT32_MAX / 8)
/* Bytes of whole lines counted per parallel round of feed_file. */
#define FEED_BLOCK ((size_t)4 << 20)
#define MAX_THREADS 256

/* One counting thread's state. */
typedef struct counter {
    ns_buf b;
    word_counts *wc;
    int failed; /* 1 when counting ran out of memory */
} counter;

struct mlm_tokenizer_trainer {
    mlm_tokenizer_model_kind kind;
    /* settings */
    size_t vocab_size;
    uint64_t min_frequency;
    int has_limit_alphabet;
    size_t limit_alphabet;
    int show_progress;
    char *prefix; /* continuing_subword_prefix; NULL: none */
    int lowercase;        /* WordPiece */
    int add_prefix_space; /* byte-level BPE */
    char **specials;
    size_t n_specials;
    uint32_t *alphabet;
    size_t n_alphabet;
    /* TemplateProcessing's single and pair, parsed (NULL: unset); either
     * set replaces the kind's post-processor */
    cJSON *template_single, *template_pair;
    int threads;
    /* counting, built on the first feed */
    normalizer *norm;
    pretokenizer *pre;
    counter *counters; /* [threads]; counters[0] holds the totals between feeds */
    int n_counters;
    int fed;
};

/* ------------------------------------------------------------ pipeline JSON */

static cJSON *normalizer_json(const mlm_tokenizer_trainer *tr)
{
    if (tr->kind != MLM_TOKENIZER_WORDPIECE) return cJSON_CreateNull();
    return preset_bert_normalizer(1, -1, tr->lowercase);
}

static cJSON *pretokenizer_json(const mlm_tokenizer_trainer *tr)
{
    if (tr->kind == MLM_TOKENIZER_BYTE_BPE) return preset_bytelevel(tr->add_prefix_space);
    return preset_bert_pretokenizer();
}

/* ------------------------------------------------------------ lifecycle */

static void counters_free(mlm_tokenizer_trainer *tr)
{
    for (int i = 0; i < tr->n_counters; i++) {
        ns_free(&tr->counters[i].b);
        word_counts_free(tr->counters[i].wc);
    }
    mem_free(tr->counters);
    tr->counters = NULL;
    tr->n_counters = 0;
}

static void specials_free(mlm_tokenizer_trainer *tr)
{
    for (size_t i = 0; i < tr->n_specials; i++)
        mem_free(tr->specials[i]);
    mem_free(tr->specials);
    tr->specials = NULL;
    tr->n_specials = 0;
}

MLM_API void mlm_tokenizer_trainer_free(mlm_tokenizer_trainer *tr)
{
    if (!tr) return;
    counters_free(tr);
    normalizer_free(tr->norm);
    pretokenizer_free(tr->pre);
    specials_free(tr);
    cJSON_Delete(tr->template_single);
    cJSON_Delete(tr->template_pair);
    mem_free(tr->alphabet);
    mem_free(tr->prefix);
    mem_free(tr);
}

static mlm_status set_specials(mlm_tokenizer_trainer *tr, const char *const *list, size_t n)
{
    char **s = n ? mem_calloc(n, sizeof *s) : NULL;
    if (n && !s) return err_oom();
    for (size_t i = 0; i < n; i++) {
        if (!(s[i] = mem_strdup(list[i]))) {
            for (size_t k = 0; k < i; k++)
                mem_free(s[k]);
            mem_free(s);
            return err_oom();
        }
    }
    specials_free(tr);
    tr->specials = s;
    tr->n_specials = n;
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_trainer_new(mlm_tokenizer_model_kind kind,
                                             mlm_tokenizer_trainer **out)
{
    if (!out) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_new: out is NULL");
    *out = NULL;
    if (kind != MLM_TOKENIZER_WORDPIECE && kind != MLM_TOKENIZER_BYTE_BPE)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_new: unknown kind %d",
                       (int)kind);
    mlm_tokenizer_trainer *tr = mem_calloc(1, sizeof *tr);
    if (!tr) return err_oom();
    tr->kind = kind;
    tr->vocab_size = 30000;
    tr->min_frequency = 2;
    tr->show_progress = 1;
    tr->threads = 1;
    mlm_status st;
    if (kind == MLM_TOKENIZER_WORDPIECE) {
        static const char *const bert[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        tr->has_limit_alphabet = 1;
        tr->limit_alphabet = 1000;
        tr->lowercase = 1;
        if (!(tr->prefix = mem_strdup("##"))) {
            st = err_oom();
            goto fail;
        }
        if ((st = set_specials(tr, bert, 5))) goto fail;
    } else {
        static const char *const roberta[] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
        if ((st = set_specials(tr, roberta, 5))) goto fail;
        if (!(tr->alphabet = mem_alloc(256 * sizeof *tr->alphabet))) {
            st = err_oom();
            goto fail;
        }
        for (int b = 0; b < 256; b++)
            tr->alphabet[b] = (uint32_t)bytelevel_char((unsigned char)b);
        tr->n_alphabet = 256;
    }
    *out = tr;
    return MLM_OK;
fail:
    mlm_tokenizer_trainer_free(tr);
    return st;
}

/* ------------------------------------------------------------ settings */

static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
    if (!v || !*v || *v == '-' || *v == '+') return 0;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x > max) return 0;
    *out = x;
    return 1;
}

static int parse_bool(const char *v, int *out)
{
    if (!v) return 0;
    if (!strcmp(v, "true") || !strcmp(v, "1")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0")) *out = 0;
    else return 0;
    return 1;
}

/* A JSON array of strings (or of {"content": s} objects, as HF's
 * AddedToken serializes), NUL-free. */
static mlm_status parse_string_array(const char *name, const char *value, cJSON **out,
                                     size_t *n)
{
    *out = NULL;
    cJSON *a = cJSON_Parse(value);
    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "trainer setting \"%s\": expected a JSON array of strings, got '%s'", name,
                       value);
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        const cJSON *s = it;
        if (cJSON_IsObject(it)) s = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(s) || !utf8_valid(s->valuestring, strlen(s->valuestring), NULL)) {
            cJSON_Delete(a);
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "trainer setting \"%s\": item %zu is not a UTF-8 string", name, i);
        }
        i++;
    }
    *out = a;
    *n = i;
    return MLM_OK;
}

static const char *item_string(const cJSON *it)
{
    if (cJSON_IsObject(it)) it = cJSON_GetObjectItemCaseSensitive(it, "content");
    return it->valuestring;
}

static mlm_status bad_value(const char *name, const char *value, const char *expected)
{
    return err_set(MLM_ERR_INVALID_ARGUMENT, "trainer setting \"%s\": expected %s, got '%s'", name,
                   expected, value ? value : "(null)");
}

MLM_API mlm_status mlm_tokenizer_trainer_set(mlm_tokenizer_trainer *tr, const char *name,
                                             const char *value)
{
    if (!tr || !name || !value)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_set: NULL argument");
    int wp = tr->kind == MLM_TOKENIZER_WORDPIECE;
    uint64_t u;
    int b;
    if (!strcmp(name, "vocab_size")) {
        if (!parse_uint(value, SIZE_MAX / 4, &u)) return bad_value(name, value, "an integer >= 0");
        tr->vocab_size = (size_t)u;
    } else if (!strcmp(name, "min_frequency")) {
        if (!parse_uint(value, UINT64_MAX, &u)) return bad_value(name, value, "an integer >= 0");
        tr->min_frequency = u;
    } else if (!strcmp(name, "limit_alphabet")) {
        if (!strcmp(value, "null") || !strcmp(value, "none")) {
            tr->has_limit_alphabet = 0;
            return MLM_OK;
        }
        if (!parse_uint(value, SIZE_MAX / 4, &u))
            return bad_value(name, value, "an integer >= 0 or null");
        tr->has_limit_alphabet = 1;
        tr->limit_alphabet = (size_t)u;
    } else if (!strcmp(name, "show_progress")) {
        if (!parse_bool(value, &b)) return bad_value(name, value, "true/false or 1/0");
        tr->show_progress = b;
    } else if (!strcmp(name, "threads")) {
        if (!parse_uint(value, MAX_THREADS, &u) || u == 0)
            return bad_value(name, value, "an integer from 1 to 256");
        if (tr->fed && (int)u != tr->threads)
            return err_set(MLM_ERR_STATE, "trainer setting \"threads\": set it before feeding");
        tr->threads = (int)u;
    } else if (!strcmp(name, "continuing_subword_prefix")) {
        if (!utf8_valid(value, strlen(value), NULL)) return bad_value(name, value, "UTF-8 text");
        char *p = NULL;
        if (*value && !(p = mem_strdup(value))) return err_oom();
        if (wp && !p) return bad_value(name, value, "a non-empty prefix for WordPiece");
        mem_free(tr->prefix);
        tr->prefix = p;
    } else if (!strcmp(name, "lowercase") || !strcmp(name, "add_prefix_space")) {
        int want_wp = !strcmp(name, "lowercase");
        if (want_wp != wp)
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "trainer setting \"%s\": only for the %s kind", name,
                           want_wp ? "WordPiece" : "byte-level BPE");
        if (!parse_bool(value, &b)) return bad_value(name, value, "true or false");
        if (tr->fed)
            return err_set(MLM_ERR_STATE,
                           "trainer setting \"%s\": it changes how text is split; set it before "
                           "feeding",
                           name);
        if (want_wp) tr->lowercase = b;
        else tr->add_prefix_space = b;
    } else if (!strcmp(name, "special_tokens")) {
        cJSON *a;
        size_t n;
        mlm_status st = parse_string_array(name, value, &a, &n);
        if (st) return st;
        const char **list = n ? mem_alloc(n * sizeof *list) : NULL;
        if (n && !list) {
            cJSON_Delete(a);
            return err_oom();
        }
        size_t i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, a)
        {
            list[i] = item_string(it);
            if (!*list[i]) {
                mem_free(list);
                cJSON_Delete(a);
                return err_set(MLM_ERR_INVALID_ARGUMENT,
                               "trainer setting \"special_tokens\": item %zu is empty", i);
            }
            i++;
        }
        st = set_specials(tr, list, n);
        mem_free(list);
        cJSON_Delete(a);
        return st;
    } else if (!strcmp(name, "template_single") || !strcmp(name, "template_pair")) {
        int single = !strcmp(name, "template_single");
        cJSON **slot = single ? &tr->template_single : &tr->template_pair, *t = NULL;
        if (!utf8_valid(value, strlen(value), NULL)) return bad_value(name, value, "UTF-8 text");
        char what[64];
        snprintf(what, sizeof what, "trainer setting \"%s\"", name);
        mlm_status st = *value ? preset_template_parse(value, what, &t) : MLM_OK;
        if (st) return st;
        if (t && !single && !preset_template_has_b(t)) { /* HF's builder validation */
            cJSON_Delete(t);
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "trainer setting \"template_pair\": the template \"%s\" must use both "
                           "sequences ($A and $B)",
                           value);
        }
        cJSON_Delete(*slot);
        *slot = t;
    } else if (!strcmp(name, "initial_alphabet")) {
        cJSON *a;
        size_t n;
        mlm_status st = parse_string_array(name, value, &a, &n);
        if (st) return st;
        uint32_t *al = n ? mem_alloc(n * sizeof *al) : NULL;
        if (n && !al) {
            cJSON_Delete(a);
            return err_oom();
        }
        /* HF keeps the first character of each string, skipping empty ones. */
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, a)
        {
            const char *s = item_string(it);
            int32_t cp;
            if (*s && utf8_next(s, strlen(s), &cp)) al[k++] = (uint32_t)cp;
        }
        cJSON_Delete(a);
        mem_free(tr->alphabet);
        tr->alphabet = al;
        tr->n_alphabet = k;
    } else {
        return err_set(MLM_ERR_INVALID_ARGUMENT, "unknown trainer setting \"%s\"", name);
    }
    return MLM_OK;
}

/* ------------------------------------------------------------ counting */

static mlm_status ensure_pipeline(mlm_tokenizer_trainer *tr)
{
    if (tr->fed) return MLM_OK;
    cJSON *nj = normalizer_json(tr), *pj = pretokenizer_json(tr);
    mlm_status st = MLM_OK;
    if (!nj || !pj) {
        st = err_oom();
        goto done;
    }
    if (!cJSON_IsNull(nj) && (st = normalizer_parse(nj, "normalizer", &tr->norm))) goto done;
    if ((st = pretokenizer_parse(pj, "pre_tokenizer", &tr->pre))) goto done;
    tr->counters = mem_calloc((size_t)tr->threads, sizeof *tr->counters);
    if (!tr->counters) {
        st = err_oom();
        goto done;
    }
    tr->n_counters = tr->threads;
    for (int i = 0; i < tr->n_counters; i++)
        if ((st = word_counts_new(&tr->counters[i].wc))) goto done;
    tr->fed = 1;
done:
    if (st) {
        counters_free(tr);
        normalizer_free(tr->norm);
        pretokenizer_free(tr->pre);
        tr->norm = NULL;
        tr->pre = NULL;
    }
    cJSON_Delete(nj);
    cJSON_Delete(pj);
    return st;
}

/* Normalize and pre-tokenize one sequence (valid UTF-8) and count its words,
 * as HF's Tokenizer::train does per sequence. 0, or -1 when out of memory. */
static int count_sequence(const mlm_tokenizer_trainer *tr, counter *c, const char *s, size_t len)
{
    ns_buf *b = &c->b;
    if (ns_start(b, s, len)) return -1;
    if (tr->norm) {
        ns_split_begin(b);
        for (size_t i = 0; i < b->n; i++) {
            ns_piece *pc = &b->p[i];
            if (normalizer_apply(tr->norm, b, pc)) return -1;
            if (pc->len && ns_keep(b, pc)) return -1;
        }
        ns_split_end(b);
    }
    if (tr->pre && pretokenizer_apply(tr->pre, b)) return -1;
    for (size_t i = 0; i < b->n; i++)
        if (word_counts_add(c->wc, ns_text(b, &b->p[i]), b->p[i].len, 1)) return -1;
    return 0;
}

/* A block of whole lines split among the counters. */
typedef struct block_job {
    const mlm_tokenizer_trainer *tr;
    const char *data;
    const size_t *starts; /* line i is [starts[i], starts[i + 1]) */
    size_t n_lines;
    int n_parts;
} block_job;

static void count_part(void *arg, size_t begin, size_t end)
{
    block_job *job = arg;
    for (size_t part = begin; part < end; part++) {
        counter *c = &job->tr->counters[part];
        size_t lo = job->n_lines * part / (size_t)job->n_parts;
        size_t hi = job->n_lines * (part + 1) / (size_t)job->n_parts;
        for (size_t i = lo; i < hi && !c->failed; i++)
            if (count_sequence(job->tr, c, job->data + job->starts[i],
                               job->starts[i + 1] - job->starts[i]))
                c->failed = 1;
    }
}

/* Count the complete lines of data[0, len) (each ending with '\n', the last
 * possibly not) on the trainer's threads. */
static mlm_status count_lines(mlm_tokenizer_trainer *tr, const char *data, size_t len,
                              size_t **starts, size_t *starts_cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - data) + 1 : len;
        if (n + 2 > *starts_cap) {
            size_t cap = *starts_cap ? *starts_cap * 2 : 1024;
            size_t *s = mem_realloc(*starts, cap * sizeof *s);
            if (!s) return err_oom();
            *starts = s;
            *starts_cap = cap;
        }
        (*starts)[n++] = i;
        i = e;
    }
    if (!n) return MLM_OK;
    (*starts)[n] = len;
    int parts = tr->n_counters;
    if ((size_t)parts > n) parts = (int)n;
    block_job job = {tr, data, *starts, n, parts};
    par_for(parts, (size_t)parts, 1, count_part, &job);
    for (int i = 0; i < tr->n_counters; i++) {
        if (tr->counters[i].failed) {
            tr->counters[i].failed = 0;
            return err_oom();
        }
    }
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_trainer_feed(mlm_tokenizer_trainer *tr, const char *text,
                                              size_t len)
{
    if (!tr || (!text && len))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_feed: NULL argument");
    size_t bad;
    if (!utf8_valid(text, len, &bad))
        return err_set(MLM_ERR_FORMAT, "mlm_tokenizer_trainer_feed: invalid UTF-8 at byte %zu",
                       bad);
    if (len > MAX_SEQUENCE_BYTES)
        return err_set(MLM_ERR_RANGE, "mlm_tokenizer_trainer_feed: text of %zu bytes is too long",
                       len);
    mlm_status st = ensure_pipeline(tr);
    if (st) return st;
    return count_sequence(tr, &tr->counters[0], text ? text : "", len) ? err_oom() : MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_trainer_feed_file(mlm_tokenizer_trainer *tr, const char *path)
{
    if (!tr || !path)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_feed_file: NULL argument");
    mlm_status st = ensure_pipeline(tr);
    if (st) return st;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(MLM_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = FEED_BLOCK + 1, len = 0, starts_cap = 0, line = 1;
    uint64_t offset = 0; /* of buf[0] in the file */
    size_t *starts = NULL;
    char *buf = mem_alloc(cap);
    if (!buf) {
        fclose(f);
        return err_oom();
    }
    for (int eof = 0; !eof;) {
        if (len == cap) { /* a line longer than the buffer */
            if (cap > MAX_SEQUENCE_BYTES) {
                st = err_set(MLM_ERR_RANGE, "%s: line %zu is longer than %zu bytes", path, line,
                             MAX_SEQUENCE_BYTES);
                break;
            }
            char *nb = mem_realloc(buf, cap * 2);
            if (!nb) {
                st = err_oom();
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got < cap - len) {
            if (ferror(f)) {
                st = err_set(MLM_ERR_IO, "%s: read error", path);
                break;
            }
            eof = 1;
        }
        len += got;
        /* whole lines only, unless at the end of the file */
        size_t end = len;
        if (!eof) {
            while (end > 0 && buf[end - 1] != '\n')
                end--;
            if (end == 0) continue;
        }
        size_t bad;
        if (!utf8_valid(buf, end, &bad)) {
            for (size_t i = 0; i < bad; i++)
                line += buf[i] == '\n';
            st = err_set(MLM_ERR_FORMAT, "%s: line %zu: invalid UTF-8 at byte offset %llu", path,
                         line, (unsigned long long)(offset + bad));
            break;
        }
        if ((st = count_lines(tr, buf, end, &starts, &starts_cap))) {
            err_prefix(st, "%s: ", path);
            break;
        }
        for (size_t i = 0; i < end; i++)
            line += buf[i] == '\n';
        memmove(buf, buf + end, len - end);
        len -= end;
        offset += end;
    }
    fclose(f);
    mem_free(buf);
    mem_free(starts);
    return st;
}

/* ------------------------------------------------------------ the result */

/* The id of a special token in the result: special tokens come first. */
static int32_t special_id(const bpe_trained *m, size_t n_specials, const char *s)
{
    for (size_t i = 0; i < m->n_tokens && i < n_specials; i++)
        if (!strcmp(m->tokens[i], s)) return (int32_t)i;
    return -1;
}

/* The id of any token of the result, or -1 (tokenizer.token_to_id). */
static int32_t token_id(const bpe_trained *m, const char *s)
{
    for (size_t i = 0; i < m->n_tokens; i++)
        if (!strcmp(m->tokens[i], s)) return (int32_t)i;
    return -1;
}

/* The special tokens a template names, with their ids in the result, into
 * tp's special_tokens (TemplateProcessing(special_tokens=[(t,
 * tokenizer.token_to_id(t)), ...]) as HF's users write it). */
static mlm_status template_specials(cJSON *tp, const cJSON *pieces, const char *setting,
                                    const bpe_trained *m)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, pieces)
    {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        if (!sp) continue;
        const char *s = cJSON_GetObjectItemCaseSensitive(sp, "id")->valuestring;
        int32_t id = token_id(m, s);
        if (id < 0)
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "trainer setting \"%s\": \"%s\" is not a token of the trained "
                           "vocabulary (list it in special_tokens)",
                           setting, s);
        if (!preset_template_add_special(tp, s, id)) return err_oom();
    }
    return MLM_OK;
}

/* TemplateProcessing from the settings; an unset template is the builder's
 * default ("$0" single, "$A:0 $B:1" pair). */
static mlm_status template_json(const mlm_tokenizer_trainer *tr, const bpe_trained *m, cJSON **out)
{
    cJSON *single = tr->template_single ? cJSON_Duplicate(tr->template_single, 1) : NULL;
    cJSON *pair = tr->template_pair ? cJSON_Duplicate(tr->template_pair, 1) : NULL;
    mlm_status st = MLM_OK;
    if (!single && !tr->template_single) st = preset_template_parse("$0", "single", &single);
    if (!st && !pair && !tr->template_pair) st = preset_template_parse("$A:0 $B:1", "pair", &pair);
    cJSON *tp = preset_template(single, pair); /* takes both */
    if (!st && !tp) st = err_oom();
    if (!st) st = template_specials(tp, cJSON_GetObjectItemCaseSensitive(tp, "single"),
                                    "template_single", m);
    if (!st) st = template_specials(tp, cJSON_GetObjectItemCaseSensitive(tp, "pair"),
                                    "template_pair", m);
    if (st) {
        cJSON_Delete(tp);
        return st;
    }
    *out = tp;
    return MLM_OK;
}

static cJSON *post_processor_json(const mlm_tokenizer_trainer *tr, const bpe_trained *m)
{
    int wp = tr->kind == MLM_TOKENIZER_WORDPIECE;
    const char *cls = wp ? "[CLS]" : "<s>", *sep = wp ? "[SEP]" : "</s>";
    int32_t cls_id = special_id(m, tr->n_specials, cls), sep_id = special_id(m, tr->n_specials, sep);
    if (cls_id < 0 || sep_id < 0) /* as BertWordPieceTokenizer / ByteLevelBPETokenizer do */
        return wp ? cJSON_CreateNull() : preset_bytelevel(tr->add_prefix_space);
    return wp ? preset_bert_processing(cls, cls_id, sep, sep_id)
              : preset_roberta_processing(cls, cls_id, sep, sep_id, tr->add_prefix_space);
}

static cJSON *decoder_json(const mlm_tokenizer_trainer *tr)
{
    if (tr->kind == MLM_TOKENIZER_BYTE_BPE) return preset_bytelevel(1);
    return preset_wordpiece_decoder(tr->prefix ? tr->prefix : "##");
}

static int add_or_null(cJSON *obj, const char *key, const char *s)
{
    return s ? cJSON_AddStringToObject(obj, key, s) != NULL : cJSON_AddNullToObject(obj, key) != NULL;
}

static cJSON *model_json(const mlm_tokenizer_trainer *tr, const bpe_trained *m)
{
    cJSON *mj = cJSON_CreateObject(), *vmap = cJSON_CreateObject();
    if (!mj || !vmap) goto oom;
    for (size_t i = 0; i < m->n_tokens; i++)
        if (!cJSON_AddNumberToObject(vmap, m->tokens[i], (double)i)) goto oom;
    int ok = 1;
    if (tr->kind == MLM_TOKENIZER_WORDPIECE) {
        cJSON_Delete(mj);
        mj = preset_wordpiece_model("[UNK]", tr->prefix, vmap);
        vmap = NULL;
        ok = mj != NULL;
    } else {
        cJSON *merges = cJSON_CreateArray();
        if (!merges) goto oom;
        ok &= cJSON_AddStringToObject(mj, "type", "BPE") != NULL;
        ok &= cJSON_AddNullToObject(mj, "dropout") != NULL;
        ok &= cJSON_AddNullToObject(mj, "unk_token") != NULL;
        ok &= add_or_null(mj, "continuing_subword_prefix", tr->prefix);
        ok &= cJSON_AddNullToObject(mj, "end_of_word_suffix") != NULL;
        ok &= cJSON_AddBoolToObject(mj, "fuse_unk", 0) != NULL;
        ok &= cJSON_AddBoolToObject(mj, "byte_fallback", 0) != NULL;
        ok &= cJSON_AddBoolToObject(mj, "ignore_merges", 0) != NULL;
        cJSON_AddItemToObject(mj, "vocab", vmap);
        vmap = NULL;
        cJSON_AddItemToObject(mj, "merges", merges);
        for (size_t r = 0; r < m->n_merges && ok; r++) {
            cJSON *pair = cJSON_CreateArray();
            if (!pair) goto oom;
            cJSON_AddItemToArray(merges, pair);
            cJSON_AddItemToArray(pair, cJSON_CreateString(m->tokens[m->merges[r][0]]));
            cJSON_AddItemToArray(pair, cJSON_CreateString(m->tokens[m->merges[r][1]]));
            ok &= cJSON_GetArraySize(pair) == 2;
        }
    }
    if (!ok) goto oom;
    return mj;
oom:
    cJSON_Delete(mj);
    cJSON_Delete(vmap);
    return NULL;
}

static mlm_status build_json(const mlm_tokenizer_trainer *tr, const bpe_trained *m, cJSON **out)
{
    *out = NULL;
    for (size_t i = 0; i < m->n_tokens; i++)
        if (strlen(m->tokens[i]) != m->token_lens[i])
            return err_set(MLM_ERR_UNSUPPORTED,
                           "trained token %zu holds U+0000, which tokenizer.json cannot store", i);
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return err_oom();
    int ok = cJSON_AddStringToObject(doc, "version", "1.0") != NULL;
    ok &= cJSON_AddNullToObject(doc, "truncation") != NULL;
    ok &= cJSON_AddNullToObject(doc, "padding") != NULL;
    cJSON *added = cJSON_AddArrayToObject(doc, "added_tokens");
    ok &= added != NULL;
    for (size_t i = 0; ok && i < m->n_tokens && i < tr->n_specials; i++) {
        /* special tokens have ids 0.. in order, duplicates dropped */
        int lstrip = tr->kind == MLM_TOKENIZER_BYTE_BPE && !strcmp(m->tokens[i], "<mask>");
        if (special_id(m, tr->n_specials, m->tokens[i]) != (int32_t)i) break;
        int is_special = 0;
        for (size_t k = 0; k < tr->n_specials && !is_special; k++)
            is_special = !strcmp(tr->specials[k], m->tokens[i]);
        if (!is_special) break;
        cJSON *t = preset_added_token((int32_t)i, m->tokens[i], lstrip, 0);
        ok &= t != NULL;
        if (t) cJSON_AddItemToArray(added, t);
    }
    cJSON *post = NULL;
    if (tr->template_single || tr->template_pair) {
        mlm_status st = template_json(tr, m, &post);
        if (st) {
            cJSON_Delete(doc);
            return st;
        }
    } else {
        post = post_processor_json(tr, m);
    }
    cJSON *parts[4] = {normalizer_json(tr), pretokenizer_json(tr), post, decoder_json(tr)};
    static const char *const keys[4] = {"normalizer", "pre_tokenizer", "post_processor",
                                        "decoder"};
    ok = preset_add_all(doc, keys, parts, 4) && ok;
    cJSON *mj = ok ? model_json(tr, m) : NULL;
    if (!mj) {
        cJSON_Delete(doc);
        return err_oom();
    }
    cJSON_AddItemToObject(doc, "model", mj);
    *out = doc;
    return MLM_OK;
}

MLM_API mlm_status mlm_tokenizer_trainer_finish(mlm_tokenizer_trainer *tr, mlm_tokenizer **out)
{
    if (!out) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_finish: out is NULL");
    *out = NULL;
    if (!tr) return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_trainer_finish: NULL trainer");
    mlm_status st = ensure_pipeline(tr); /* nothing fed: an empty count */
    if (st) return st;
    /* The counts of all threads, into counters[0]. */
    for (int i = 1; i < tr->n_counters; i++) {
        if ((st = word_counts_merge(tr->counters[0].wc, tr->counters[i].wc))) return st;
        word_counts *fresh;
        if ((st = word_counts_new(&fresh))) return st;
        word_counts_free(tr->counters[i].wc);
        tr->counters[i].wc = fresh;
    }
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.vocab_size = tr->vocab_size;
    s.min_frequency = tr->min_frequency;
    s.special_tokens = (const char *const *)tr->specials;
    s.n_special_tokens = tr->n_specials;
    s.has_limit_alphabet = tr->has_limit_alphabet;
    s.limit_alphabet = tr->limit_alphabet;
    s.initial_alphabet = tr->alphabet;
    s.n_initial_alphabet = tr->n_alphabet;
    s.continuing_subword_prefix = tr->prefix;
    bpe_trained m;
    st = tr->kind == MLM_TOKENIZER_WORDPIECE ? wordpiece_train(tr->counters[0].wc, &s, &m)
                                             : bpe_train(tr->counters[0].wc, &s, &m);
    if (st) return err_prefix(st, "training: ");
    cJSON *doc;
    st = build_json(tr, &m, &doc);
    bpe_trained_free(&m);
    if (st) return st;
    return tokenizer_from_json(doc, "trained tokenizer", out);
}
