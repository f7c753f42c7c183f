/* ROUGE as rouge_score computes it (google-research/rouge rouge_scorer.py and
 * scoring.py), and the public mlm_rouge_* API (include/mlm/metrics.h).
 *
 * The scores are ratios of integer counts, computed with the same double
 * operations as rouge_score (count / count, then 2 * p * r / (p + r)), so
 * they are the same doubles, not merely close. Each function names the
 * function of rouge_scorer.py it follows. rouge_score calls the reference
 * the "target" and takes it first; here the prediction comes first. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "io/json.h"
#include "io/strbuf.h"
#include "metrics/rouge_tokens.h"
#include "mlm/metrics.h"

#define MAX_TYPES 11   /* rouge1..rouge9, rougeL, rougeLsum, each at most once */
#define KIND_L 0       /* rougeL; 1..9 are rougeN */
#define KIND_LSUM (-1) /* rougeLsum */

struct mlm_rouge {
    size_t ntypes;
    int kind[MAX_TYPES];
    char name[MAX_TYPES][12];
    int use_stemmer;
    int nthreads;
};

struct mlm_rouge_result {
    size_t npairs, ntypes;
    char name[MAX_TYPES][12];
    double *scores; /* [pair][type][measure] */
    double mean[MAX_TYPES * 3];
};

/* ------------------------------------------------------------- scoring */

/* scoring.fmeasure */
static double fmeasure(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

static void put_score(double *out, double p, double r)
{
    out[MLM_ROUGE_PRECISION] = p;
    out[MLM_ROUGE_RECALL] = r;
    out[MLM_ROUGE_FMEASURE] = fmeasure(p, r);
}

/* The n ids at a against those at b, lexicographically. */
static int ngram_cmp(const uint32_t *ids, size_t a, size_t b, int n)
{
    for (int k = 0; k < n; k++)
        if (ids[a + k] != ids[b + k])
            return ids[a + k] < ids[b + k] ? -1 : 1;
    return 0;
}

/* Sort the n-gram start positions pos[0..count) by their n-grams (a
 * bottom-up merge sort through tmp: qsort has no context argument). */
static void ngram_sort(size_t *pos, size_t *tmp, size_t count, const uint32_t *ids, int n)
{
    size_t *src = pos, *dst = tmp;
    for (size_t width = 1; width < count; width *= 2) {
        for (size_t lo = 0; lo < count; lo += 2 * width) {
            size_t mid = lo + width < count ? lo + width : count;
            size_t hi = lo + 2 * width < count ? lo + 2 * width : count;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = ngram_cmp(ids, src[j], src[i], n) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        size_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != pos)
        memcpy(pos, src, count * sizeof *pos);
}

/* _create_ngrams + _score_ngrams: the overlap is the sum over the
 * reference's n-grams of min(count in reference, count in prediction);
 * precision divides by the prediction's n-grams, recall by the
 * reference's, each at least 1. ids holds the reference's m tokens, then
 * the prediction's p; scratch has room for 2 (m + p) positions. */
static void score_ngrams(const uint32_t *ids, size_t m, size_t p, int n, size_t *scratch,
                         double *out)
{
    size_t cr = m >= (size_t)n ? m - (size_t)n + 1 : 0;
    size_t cp = p >= (size_t)n ? p - (size_t)n + 1 : 0;
    size_t *r = scratch, *c = scratch + cr, *tmp = scratch + cr + cp;
    for (size_t i = 0; i < cr; i++)
        r[i] = i;
    for (size_t i = 0; i < cp; i++)
        c[i] = m + i;
    ngram_sort(r, tmp, cr, ids, n);
    ngram_sort(c, tmp, cp, ids, n);
    size_t overlap = 0, i = 0, j = 0;
    while (i < cr && j < cp) {
        int d = ngram_cmp(ids, r[i], c[j], n);
        if (d < 0) {
            i++;
        } else if (d > 0) {
            j++;
        } else { /* runs of the same n-gram on both sides */
            size_t i0 = i++, j0 = j++;
            while (i < cr && ngram_cmp(ids, r[i], r[i0], n) == 0)
                i++;
            while (j < cp && ngram_cmp(ids, c[j], c[j0], n) == 0)
                j++;
            overlap += i - i0 < j - j0 ? i - i0 : j - j0;
        }
    }
    put_score(out, (double)overlap / (double)(cp > 1 ? cp : 1),
              (double)overlap / (double)(cr > 1 ? cr : 1));
}

/* _lcs_table's last cell: the LCS length of a[0..m) and b[0..p), two rows
 * at a time (row has room for 2 (p + 1)). */
static size_t lcs_length(const uint32_t *a, size_t m, const uint32_t *b, size_t p, size_t *row)
{
    size_t *prev = row, *cur = row + p + 1;
    memset(prev, 0, (p + 1) * sizeof *prev);
    cur[0] = 0;
    for (size_t i = 1; i <= m; i++) {
        for (size_t j = 1; j <= p; j++)
            cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1
                                          : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    return prev[p];
}

/* _score_lcs */
static void score_lcs(const uint32_t *ref, size_t m, const uint32_t *pred, size_t p, size_t *row,
                      double *out)
{
    if (!m || !p) {
        put_score(out, 0, 0);
        return;
    }
    size_t l = lcs_length(ref, m, pred, p, row);
    put_score(out, (double)l / (double)p, (double)l / (double)m);
}

/* lcs_ind (_lcs_table + _backtrack_norec): set mark[i] for the indices i of
 * ref in the LCS the backtrack reads from the bottom-right corner: a match
 * goes diagonally, otherwise left when t[i][j-1] > t[i-1][j], else up. The
 * table is kept as that one comparison per cell (bits, row-major), since
 * a match is seen again from the tokens; row has room for 2 (b + 1). */
static void lcs_mark(const uint32_t *ref, size_t a, const uint32_t *can, size_t b, size_t *row,
                     uint64_t *left, unsigned char *mark)
{
    size_t *prev = row, *cur = row + b + 1;
    memset(prev, 0, (b + 1) * sizeof *prev);
    memset(left, 0, ((a * b + 63) / 64) * sizeof *left);
    cur[0] = 0;
    for (size_t i = 1; i <= a; i++) {
        for (size_t j = 1; j <= b; j++) {
            if (ref[i - 1] == can[j - 1]) {
                cur[j] = prev[j - 1] + 1;
            } else if (cur[j - 1] > prev[j]) {
                cur[j] = cur[j - 1];
                size_t bit = (i - 1) * b + (j - 1);
                left[bit / 64] |= (uint64_t)1 << (bit % 64);
            } else {
                cur[j] = prev[j];
            }
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t i = a, j = b;
    while (i > 0 && j > 0) {
        size_t bit = (i - 1) * b + (j - 1);
        if (ref[i - 1] == can[j - 1]) {
            mark[--i] = 1;
            j--;
        } else if (left[bit / 64] >> (bit % 64) & 1) {
            j--;
        } else {
            i--;
        }
    }
}

/* Everything one pair needs besides its tokens. */
typedef struct pair_scratch {
    size_t *pos;          /* n-gram positions, LCS rows */
    size_t pos_cap;
    uint64_t *left;       /* lcs_mark's table */
    size_t left_cap;
    uint32_t *count;      /* per token id: left in the reference, then the prediction */
    unsigned char *mark;  /* the union LCS of one reference line */
} pair_scratch;

/* _summary_level_lcs: for each reference line, the union (sorted set) of
 * its LCS indices with every prediction line; each token of it is a hit
 * while it is still unused in both texts (per-token counters, so a token
 * is not counted more often than it occurs: ROUGE-1.5.5's bookkeeping).
 * Precision is hits over the prediction's tokens, recall over the
 * reference's; 0 when either has none. */
static mlm_status score_lsum(const rouge_text *ref, const rouge_text *pred, size_t vocab,
                             pair_scratch *s, double *out)
{
    size_t m = ref->n, p = pred->n;
    if (!m || !p) {
        put_score(out, 0, 0);
        return MLM_OK;
    }
    uint32_t *left_r = s->count, *left_c = s->count + vocab;
    memset(s->count, 0, 2 * vocab * sizeof *s->count);
    for (size_t i = 0; i < m; i++)
        left_r[ref->ids[i]]++;
    for (size_t i = 0; i < p; i++)
        left_c[pred->ids[i]]++;
    size_t hits = 0;
    for (size_t r = 0, rs = 0; r < ref->nlines; rs = ref->line_end[r++]) {
        size_t a = ref->line_end[r] - rs;
        if (!a)
            continue;
        memset(s->mark, 0, a);
        for (size_t c = 0, cs = 0; c < pred->nlines; cs = pred->line_end[c++]) {
            size_t b = pred->line_end[c] - cs;
            if (!b)
                continue;
            if (a > SIZE_MAX / b - 63)
                return err_oom();
            size_t words = (a * b + 63) / 64;
            if (words > s->left_cap) {
                uint64_t *q = mem_realloc(s->left, words * sizeof *q);
                if (!q)
                    return err_oom();
                s->left = q;
                s->left_cap = words;
            }
            lcs_mark(ref->ids + rs, a, pred->ids + cs, b, s->pos, s->left, s->mark);
        }
        for (size_t i = 0; i < a; i++) {
            uint32_t t = ref->ids[rs + i];
            if (s->mark[i] && left_c[t] > 0 && left_r[t] > 0) {
                hits++;
                left_c[t]--;
                left_r[t]--;
            }
        }
    }
    put_score(out, (double)hits / (double)p, (double)hits / (double)m);
    return MLM_OK;
}

/* RougeScorer.score for one pair into out[3 * ntypes]. The message of a
 * failure names the text at fault. */
static mlm_status score_pair(const mlm_rouge *r, const char *pred, size_t pred_len,
                             const char *ref, size_t ref_len, double *out)
{
    rouge_vocab v;
    rouge_text tr = {0}, tp = {0};
    pair_scratch s = {0};
    rouge_vocab_init(&v, r->use_stemmer);
    mlm_status st = rouge_tokenize(&v, ref, ref_len, &tr);
    if (st != MLM_OK) {
        err_prefix(st, "reference: ");
        goto done;
    }
    st = rouge_tokenize(&v, pred, pred_len, &tp);
    if (st != MLM_OK) {
        err_prefix(st, "prediction: ");
        goto done;
    }
    size_t m = tr.n, p = tp.n, vocab = rouge_vocab_size(&v);
    size_t longest_line = 0;
    for (size_t i = 0, start = 0; i < tr.nlines; start = tr.line_end[i++])
        if (tr.line_end[i] - start > longest_line)
            longest_line = tr.line_end[i] - start;
    /* positions: 2 (m + p) for n-grams; LCS rows: 2 (p + 1) */
    s.pos_cap = 2 * (m + p) + 2;
    uint32_t *ids = mem_alloc((m + p + 1) * sizeof *ids);
    s.pos = mem_alloc(s.pos_cap * sizeof *s.pos);
    s.count = mem_alloc((2 * vocab + 1) * sizeof *s.count);
    s.mark = mem_alloc(longest_line + 1);
    if (!ids || !s.pos || !s.count || !s.mark) {
        mem_free(ids);
        st = err_oom();
        goto done;
    }
    if (m) /* a text without tokens has no array */
        memcpy(ids, tr.ids, m * sizeof *ids);
    if (p)
        memcpy(ids + m, tp.ids, p * sizeof *ids);
    for (size_t t = 0; t < r->ntypes && st == MLM_OK; t++) {
        double *o = out + 3 * t;
        if (r->kind[t] == KIND_L)
            score_lcs(tr.ids, m, tp.ids, p, s.pos, o);
        else if (r->kind[t] == KIND_LSUM)
            st = score_lsum(&tr, &tp, vocab, &s, o);
        else
            score_ngrams(ids, m, p, r->kind[t], s.pos, o);
    }
    mem_free(ids);
done:
    mem_free(s.pos);
    mem_free(s.left);
    mem_free(s.count);
    mem_free(s.mark);
    rouge_text_free(&tr);
    rouge_text_free(&tp);
    rouge_vocab_free(&v);
    return st;
}

/* ------------------------------------------------------------- options */

/* "rouge1".."rouge9" -> 1..9, "rougeL" -> KIND_L, "rougeLsum" -> KIND_LSUM
 * (rouge_scorer's re.match(r"rouge[0-9]$") with n > 0); 1 when valid. */
static int parse_type(const char *s, int *kind)
{
    if (strcmp(s, "rougeL") == 0)
        *kind = KIND_L;
    else if (strcmp(s, "rougeLsum") == 0)
        *kind = KIND_LSUM;
    else if (strncmp(s, "rouge", 5) == 0 && s[5] >= '1' && s[5] <= '9' && !s[6])
        *kind = s[5] - '0';
    else
        return 0;
    return 1;
}

static mlm_status add_type(mlm_rouge *r, const char *s)
{
    int kind;
    if (!parse_type(s, &kind))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "rouge options: invalid rouge type \"%.40s\" "
                       "(rouge1 .. rouge9, rougeL, rougeLsum)", s);
    for (size_t i = 0; i < r->ntypes; i++)
        if (r->kind[i] == kind)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "rouge options: \"%s\" given twice", s);
    r->kind[r->ntypes] = kind;
    snprintf(r->name[r->ntypes], sizeof r->name[0], "%s", s);
    r->ntypes++;
    return MLM_OK;
}

static mlm_status parse_options(mlm_rouge *r, const char *json)
{
    static const char *const defaults[] = {"rouge1", "rouge2", "rougeL", "rougeLsum"};
    cJSON *root = NULL;
    const cJSON *types = NULL;
    mlm_status st = MLM_OK;
    if (json && *json) {
        st = json_parse(json, strlen(json), 0, "rouge options", 1000, &root);
        if (st != MLM_OK)
            return st;
        if (!cJSON_IsObject(root))
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "rouge options: not a JSON object");
        for (const cJSON *it = root->child; it && st == MLM_OK; it = it->next) {
            const char *k = it->string;
            if (strcmp(k, "rouge_types") == 0) {
                if (!cJSON_IsArray(it))
                    st = err_set(MLM_ERR_INVALID_ARGUMENT,
                                 "rouge options: \"rouge_types\" must be a list of strings");
                types = it;
            } else if (strcmp(k, "use_stemmer") == 0) {
                if (!cJSON_IsBool(it))
                    st = err_set(MLM_ERR_INVALID_ARGUMENT,
                                 "rouge options: \"use_stemmer\" must be true or false");
                r->use_stemmer = cJSON_IsTrue(it);
            } else if (strcmp(k, "split_summaries") == 0) {
                if (!cJSON_IsBool(it))
                    st = err_set(MLM_ERR_INVALID_ARGUMENT,
                                 "rouge options: \"split_summaries\" must be true or false");
                else if (cJSON_IsTrue(it))
                    st = err_set(MLM_ERR_UNSUPPORTED,
                                 "rouge options: \"split_summaries\": true needs "
                                 "nltk.sent_tokenize (Punkt), which libmlm does not have; put "
                                 "a newline between the sentences of each text instead");
            } else {
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "rouge options: unknown option \"%s\"",
                             k);
            }
        }
    }
    if (st == MLM_OK && types) {
        for (const cJSON *it = types->child; it && st == MLM_OK; it = it->next)
            st = cJSON_IsString(it) ? add_type(r, it->valuestring)
                                    : err_set(MLM_ERR_INVALID_ARGUMENT,
                                              "rouge options: \"rouge_types\" must be a list "
                                              "of strings");
        if (st == MLM_OK && !r->ntypes)
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "rouge options: \"rouge_types\" is empty");
    } else if (st == MLM_OK) {
        for (size_t i = 0; i < 4; i++)
            add_type(r, defaults[i]);
    }
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------ public API */

mlm_status mlm_rouge_new(const char *options_json, mlm_rouge **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_new: NULL out");
    *out = NULL;
    mlm_rouge *r = mem_calloc(1, sizeof *r);
    if (!r)
        return err_oom();
    r->nthreads = 1;
    mlm_status st = parse_options(r, options_json);
    if (st != MLM_OK) {
        mem_free(r);
        return st;
    }
    *out = r;
    return MLM_OK;
}

void mlm_rouge_free(mlm_rouge *r) { mem_free(r); }

mlm_status mlm_rouge_set_threads(mlm_rouge *r, int nthreads)
{
    if (!r || nthreads < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_set_threads: need a scorer and "
                       "nthreads >= 1 (got %d)", nthreads);
    r->nthreads = nthreads;
    return MLM_OK;
}

size_t mlm_rouge_num_types(const mlm_rouge *r) { return r ? r->ntypes : 0; }

const char *mlm_rouge_type_name(const mlm_rouge *r, size_t type)
{
    return r && type < r->ntypes ? r->name[type] : NULL;
}

mlm_status mlm_rouge_score(const mlm_rouge *r, const char *prediction, size_t prediction_len,
                           const char *reference, size_t reference_len, double *scores,
                           size_t n_scores)
{
    if (!r || !scores || (!prediction && prediction_len) || (!reference && reference_len))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_score: NULL argument");
    if (n_scores < 3 * r->ntypes)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_score: room for %zu scores, "
                       "%zu needed (3 per type)", n_scores, 3 * r->ntypes);
    return score_pair(r, prediction ? prediction : "", prediction_len,
                      reference ? reference : "", reference_len, scores);
}

typedef struct batch {
    const mlm_rouge *r;
    const char *const *pred, *const *ref;
    const size_t *pred_len, *ref_len;
    mlm_rouge_result *res;
    mlm_status *status; /* per pair */
} batch;

static mlm_status batch_one(const batch *b, size_t i)
{
    const char *p = b->pred[i], *q = b->ref[i];
    return score_pair(b->r, p, b->pred_len ? b->pred_len[i] : strlen(p), q,
                      b->ref_len ? b->ref_len[i] : strlen(q),
                      b->res->scores + i * 3 * b->r->ntypes);
}

static void batch_chunk(void *arg, size_t begin, size_t end)
{
    const batch *b = arg;
    for (size_t i = begin; i < end; i++)
        b->status[i] = batch_one(b, i);
}

mlm_status mlm_rouge_score_batch(const mlm_rouge *r, const char *const *predictions,
                                 const size_t *prediction_lens, const char *const *references,
                                 const size_t *reference_lens, size_t n, mlm_rouge_result **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_score_batch: NULL out");
    *out = NULL;
    if (!r || (n && (!predictions || !references)))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_score_batch: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!predictions[i] || !references[i])
            return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_score_batch: pair %zu: NULL "
                           "text", i);
    mlm_rouge_result *res = mem_calloc(1, sizeof *res);
    size_t per = 3 * r->ntypes;
    if (res && n > SIZE_MAX / sizeof(double) / per) {
        mem_free(res);
        return err_oom();
    }
    mlm_status *status = res ? mem_calloc(n ? n : 1, sizeof *status) : NULL;
    if (res)
        res->scores = mem_calloc(n ? n * per : 1, sizeof *res->scores);
    if (!res || !status || !res->scores) {
        mem_free(status);
        mlm_rouge_result_free(res);
        return err_oom();
    }
    res->npairs = n;
    res->ntypes = r->ntypes;
    memcpy(res->name, r->name, sizeof res->name);
    batch b = {r, predictions, references, prediction_lens, reference_lens, res, status};
    par_for(r->nthreads, n, 1, batch_chunk, &b);
    mlm_status st = MLM_OK;
    for (size_t i = 0; i < n && st == MLM_OK; i++)
        if (status[i] != MLM_OK) {
            /* the message was recorded on the thread that scored the pair:
             * score it again here to have it on this one */
            st = batch_one(&b, i);
            if (st == MLM_OK)
                st = status[i] == MLM_ERR_OUT_OF_MEMORY ? err_oom()
                                                        : err_set(status[i], "failed");
            err_prefix(st, "pair %zu: ", i);
        }
    mem_free(status);
    if (st != MLM_OK) {
        mlm_rouge_result_free(res);
        return st;
    }
    /* the plain mean, summed in pair order */
    for (size_t k = 0; k < per; k++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += res->scores[i * per + k];
        res->mean[k] = n ? sum / (double)n : 0.0;
    }
    *out = res;
    return MLM_OK;
}

void mlm_rouge_result_free(mlm_rouge_result *res)
{
    if (!res)
        return;
    mem_free(res->scores);
    mem_free(res);
}

size_t mlm_rouge_result_num_pairs(const mlm_rouge_result *res) { return res ? res->npairs : 0; }

size_t mlm_rouge_result_num_types(const mlm_rouge_result *res) { return res ? res->ntypes : 0; }

const char *mlm_rouge_result_type_name(const mlm_rouge_result *res, size_t type)
{
    return res && type < res->ntypes ? res->name[type] : NULL;
}

double mlm_rouge_result_score(const mlm_rouge_result *res, size_t pair, size_t type,
                              mlm_rouge_measure measure)
{
    if (!res || pair >= res->npairs || type >= res->ntypes || (unsigned)measure > 2)
        return NAN;
    return res->scores[(pair * res->ntypes + type) * 3 + (size_t)measure];
}

double mlm_rouge_result_mean(const mlm_rouge_result *res, size_t type, mlm_rouge_measure measure)
{
    if (!res || type >= res->ntypes || (unsigned)measure > 2)
        return NAN;
    return res->mean[type * 3 + (size_t)measure];
}

static void put_number(strbuf *sb, double x)
{
    char num[32];
    json_format_py_float(x, num);
    sb_puts(sb, num);
}

mlm_status mlm_rouge_result_to_json(const mlm_rouge_result *res, int per_pair, char *buf,
                                    size_t cap, size_t *needed)
{
    if (!res || !needed || (!buf && cap))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_rouge_result_to_json: NULL argument");
    strbuf sb = {0};
    sb_putc(&sb, '{');
    for (size_t t = 0; t < res->ntypes; t++) {
        sb_printf(&sb, "%s\"%s\": ", t ? ", " : "", res->name[t]);
        if (!per_pair) {
            put_number(&sb, res->mean[t * 3 + MLM_ROUGE_FMEASURE]);
            continue;
        }
        sb_putc(&sb, '[');
        for (size_t i = 0; i < res->npairs; i++) {
            if (i)
                sb_puts(&sb, ", ");
            put_number(&sb, res->scores[(i * res->ntypes + t) * 3 + MLM_ROUGE_FMEASURE]);
        }
        sb_putc(&sb, ']');
    }
    sb_putc(&sb, '}');
    return sb_copy_out(&sb, buf, cap, needed);
}

mlm_status mlm_rouge_result_pair_to_json(const mlm_rouge_result *res, size_t pair, char *buf,
                                         size_t cap, size_t *needed)
{
    if (!res || !needed || (!buf && cap))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "mlm_rouge_result_pair_to_json: NULL argument");
    if (pair >= res->npairs)
        return err_set(MLM_ERR_RANGE, "mlm_rouge_result_pair_to_json: pair %zu of %zu", pair,
                       res->npairs);
    static const char *const measure[] = {"precision", "recall", "fmeasure"};
    strbuf sb = {0};
    sb_putc(&sb, '{');
    for (size_t t = 0; t < res->ntypes; t++) {
        sb_printf(&sb, "%s\"%s\": {", t ? ", " : "", res->name[t]);
        for (size_t k = 0; k < 3; k++) {
            sb_printf(&sb, "%s\"%s\": ", k ? ", " : "", measure[k]);
            put_number(&sb, res->scores[(pair * res->ntypes + t) * 3 + k]);
        }
        sb_putc(&sb, '}');
    }
    sb_putc(&sb, '}');
    return sb_copy_out(&sb, buf, cap, needed);
}
