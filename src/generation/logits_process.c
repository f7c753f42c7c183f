/* The logits processors of transformers' generation/logits_process.py, in
 * the order _get_logits_processor builds them, on one row of scores:
 *
 *   repetition_penalty    RepetitionPenaltyLogitsProcessor: each token of
 *                         the decoder sequence (start token included) has its
 *                         score s replaced by s·p when s < 0, else s/p (once,
 *                         whatever its count: gather then scatter)
 *   no_repeat_ngram_size  NoRepeatNGramLogitsProcessor: −inf for a token
 *                         that would repeat an n-gram of the sequence
 *   bad_words_ids         NoBadWordsLogitsProcessor: −inf for a one-token bad
 *                         word, and for the last token of a longer one whose
 *                         prefix ends the sequence; a bad word [eos] is dropped
 *   min_length            MinLengthLogitsProcessor: −inf for the eos ids while
 *                         the sequence is shorter than min_length
 *   min_new_tokens        MinNewTokensLengthLogitsProcessor: the same while
 *                         fewer than min_new_tokens were generated
 *   forced_bos_token_id   ForcedBOSTokenLogitsProcessor: at length 1, −inf but
 *                         that token (0)
 *   forced_eos_token_id   ForcedEOSTokenLogitsProcessor: at length
 *                         max_length − 1, −inf but the eos ids (0)
 * and when sampling (the former warpers), with min_tokens_to_keep 1 (n_eos +
 * 1 in beam sampling):
 *   temperature           TemperatureLogitsWarper: s / t
 *   top_k                 TopKLogitsWarper: −inf below the k-th largest score
 *                         (ties at it kept)
 *   top_p                 TopPLogitsWarper: −inf for the lowest scores whose
 *                         probabilities sum to at most 1 − top_p
 * and last renormalize_logits (LogitNormalization: log_softmax).
 * Greedy search and sampling apply them to the logits, beam search to the
 * log-probabilities. All arithmetic is float32, as in torch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generation/generation_impl.h"
#include "nn/ops/ops.h"

static int is_eos(const gen_plan *p, int32_t t)
{
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos[i] == t)
            return 1;
    return 0;
}

static void repetition_penalty(const int32_t *seq, int len, float *s, float penalty)
{
    for (int i = 0; i < len; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = seq[j] == seq[i];
        if (seen)
            continue;
        float x = s[seq[i]];
        s[seq[i]] = x < 0 ? x * penalty : x / penalty;
    }
}

/* _get_ngrams + _get_generated_ngrams: every n-gram of seq whose first n − 1
 * tokens are the sequence's last n − 1 bans its last token. */
static void no_repeat_ngram(const int32_t *seq, int len, float *s, int n)
{
    if (len + 1 < n)
        return;
    const int32_t *tail = seq + len - (n - 1);
    for (int i = 0; i + n <= len; i++) {
        if (memcmp(seq + i, tail, (size_t)(n - 1) * sizeof *seq) == 0)
            s[seq[i + n - 1]] = -INFINITY;
    }
}

static void bad_words(const gen_plan *p, const int32_t *seq, int len, float *s)
{
    const gen_ids *b = &p->g->bad_words;
    for (int w = 0; w < b->n; w++) {
        const int32_t *ids = b->ids + b->start[w];
        int n = b->start[w + 1] - b->start[w];
        if (n == 1 && is_eos(p, ids[0]) && p->n_eos)
            continue; /* [eos] is dropped from the bad words */
        if (n == 1) {
            s[ids[0]] = -INFINITY;
            continue;
        }
        if (n - 1 > len)
            continue;
        if (memcmp(seq + len - (n - 1), ids, (size_t)(n - 1) * sizeof *ids) == 0)
            s[ids[n - 1]] = -INFINITY;
    }
}

static void eos_minus_inf(const gen_plan *p, float *s)
{
    for (int i = 0; i < p->n_eos; i++)
        s[p->eos[i]] = -INFINITY;
}

static void force(float *s, int V, const int32_t *ids, int n)
{
    for (int i = 0; i < V; i++)
        s[i] = -INFINITY;
    for (int i = 0; i < n; i++)
        s[ids[i]] = 0.0f;
}

static int cmp_float_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The k-th largest value (k >= 1). */
static float kth_largest(const float *s, int V, int k, float *tmp)
{
    memcpy(tmp, s, (size_t)V * sizeof *tmp);
    qsort(tmp, (size_t)V, sizeof *tmp, cmp_float_desc);
    return tmp[k - 1];
}

typedef struct scored {
    float v;
    int32_t i;
} scored;

static int cmp_scored_asc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* TopPLogitsWarper: sort ascending, cumulative softmax, remove while it is
 * <= 1 − top_p, keeping the last min_keep. */
static void top_p(float *s, int V, double top, int min_keep, float *scratch)
{
    scored *a = (scored *)(void *)scratch; /* 2·V floats hold V pairs */
    for (int i = 0; i < V; i++)
        a[i] = (scored){s[i], i};
    qsort(a, (size_t)V, sizeof *a, cmp_scored_asc);
    float mx = a[V - 1].v;
    float sum = 0.0f;
    for (int i = 0; i < V; i++)
        sum += expf(a[i].v - mx);
    float limit = (float)(1.0 - top), cum = 0.0f;
    for (int i = 0; i < V - min_keep; i++) {
        cum += expf(a[i].v - mx) / sum;
        if (cum <= limit)
            s[a[i].i] = -INFINITY;
    }
}

/* Keep in step with gen_process_row below: a processor added there that
 * sets a score to anything but −inf must be named here. */
int gen_process_bans_only(const gen_plan *p, int len)
{
    const mlm_generation_config *g = p->g;
    if (g->repetition_penalty != 1.0 || p->do_sample || g->renormalize_logits)
        return 0;
    if (g->forced_bos >= 0 && len == 1)
        return 0;
    return !(g->forced_eos.n > 0 && len == p->max_length - 1);
}

void gen_process_row(const gen_plan *p, const int32_t *seq, int len, float *s, int V,
                     float *scratch)
{
    const mlm_generation_config *g = p->g;
    if (g->repetition_penalty != 1.0)
        repetition_penalty(seq, len, s, (float)g->repetition_penalty);
    if (g->no_repeat_ngram_size > 0)
        no_repeat_ngram(seq, len, s, g->no_repeat_ngram_size);
    if (g->bad_words.n > 0)
        bad_words(p, seq, len, s);
    if (p->min_length > 0 && p->n_eos && len < p->min_length)
        eos_minus_inf(p, s);
    if (p->min_new_tokens > 0 && p->n_eos && len - 1 < p->min_new_tokens)
        eos_minus_inf(p, s);
    if (g->forced_bos >= 0 && len == 1) {
        int32_t t = g->forced_bos;
        force(s, V, &t, 1);
    }
    if (g->forced_eos.n > 0 && len == p->max_length - 1)
        force(s, V, g->forced_eos.ids, g->forced_eos.n);
    if (p->do_sample) {
        if (g->temperature != 1.0) {
            float t = (float)g->temperature;
            for (int i = 0; i < V; i++)
                s[i] = s[i] / t;
        }
        if (g->top_k != 0) {
            int k = g->top_k > p->min_keep ? g->top_k : p->min_keep;
            k = k < V ? k : V;
            float th = kth_largest(s, V, k, scratch);
            for (int i = 0; i < V; i++)
                if (s[i] < th)
                    s[i] = -INFINITY;
        }
        if (g->top_p < 1.0)
            top_p(s, V, g->top_p, p->min_keep, scratch);
    }
    if (g->renormalize_logits) {
        ops_ctx one;
        ops_ctx_init(&one, 1);
        ops_log_softmax_forward(&one, s, s, 1, V);
    }
}
