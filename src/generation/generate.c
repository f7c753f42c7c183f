/* generate() for encoder-decoders, as transformers 4.56's
 * GenerationMixin computes it (generation/utils.py):
 *
 * - the encoder runs once per input; the decoder state (nn/family.h) keeps
 *   the cross-attention keys and values of each input and the self-attention
 *   cache of each row; every step runs all rows (beams, samples) of all
 *   inputs as one batch, so each weight is read once per step;
 * - _sample (greedy and sampling): processors on the step's logits, argmax
 *   (the first index on ties) or a draw from softmax; finished rows get
 *   pad_token_id; the loop ends when every row emitted an eos id or reached
 *   max_length;
 * - _beam_search (the vectorized search of 4.50+, with the per-input
 *   early-stopping heuristic of PR #38778), step for step:
 *     a. log_softmax of the logits, the processors on it, plus the beam's
 *        running score;
 *     b. the top K = max(2, 1 + n_eos)·num_beams continuations over
 *        num_beams·vocab (ties to the lower flat index), or K draws without
 *        replacement from their softmax when sampling;
 *     c. a continuation that ends in an eos id or reaches max_length "hits"
 *        a stopping criterion; the running beams of the next step are the
 *        best num_beams of the K with −1e9 added to the hits;
 *     d. the hits among the first num_beams of the K are scored
 *        sum_logprobs / generated_length ** length_penalty (the length
 *        counting the eos, not the start token; float32 division by the
 *        power rounded to float) and merged with the kept hypotheses (the
 *        best num_beams stay). −1e9 is added to every candidate that may not
 *        enter: not just finished, its input full with early_stopping=True,
 *        or its input's heuristic satisfied;
 *     e. the heuristic, sticky per input: it can still improve while its
 *        best running score / L ** length_penalty beats the worst kept
 *        hypothesis (−1e9 while a slot is empty), L the current generated
 *        length, or max_length − 1 with early_stopping="never" and
 *        length_penalty > 0;
 *     f. the loop ends when no input can improve, or all hypotheses are
 *        finished with early_stopping=True, or every continuation hit a
 *        stopping criterion;
 *   the first num_return_sequences hypotheses of each input are returned,
 *   cut to 1 + the longest returned generated length, the rest filled with
 *   `pad_token_id or eos_token_id[0]`.
 * Scores are float32 throughout, as HF's are. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "generation/generation_impl.h"
#include "nn/model_impl.h"

struct mlm_generation {
    size_t n, L;
    int32_t *seq;     /* n x L */
    size_t *len;      /* n */
    float *scores;    /* n, or NULL */
    gen_warnings warn;
};

/* What one call works with. */
typedef struct gen_run {
    const mlm_model *m;
    const s2s_ops *s2s;
    ops_ctx ctx;
    const gen_plan *p;
    int B, V;
    s2s_state *state;
    float *logits;  /* rows x V */
    float *scratch; /* 2·V */
} gen_run;

static int is_eos(const gen_plan *p, int32_t t)
{
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos[i] == t)
            return 1;
    return 0;
}

/* A uniform double in [0, 1) from word `i` (and i + 1) of a stream. */
static double uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
    uint64_t hi = rng_word(seed, stream, 2 * i), lo = rng_word(seed, stream, 2 * i + 1);
    return (double)(((hi << 32) | lo) >> 11) * 0x1p-53;
}

/* A draw from the distribution w (n non-negative weights summing to sum):
 * the first index whose cumulative weight exceeds u·sum; -1 when all are 0. */
static int32_t draw(const float *w, int n, double sum, double u)
{
    double target = u * sum, cum = 0.0;
    int32_t last = -1;
    for (int i = 0; i < n; i++) {
        if (!(w[i] > 0))
            continue;
        cum += (double)w[i];
        last = i;
        if (cum > target)
            return i;
    }
    return last;
}

/* softmax weights of s (n) into w; returns their sum (double). */
static double softmax_weights(const float *s, int n, float *w)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = s[i] > mx ? s[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        w[i] = mx == -INFINITY ? 0.0f : expf(s[i] - mx);
        sum += (double)w[i];
    }
    return sum;
}

/* ---------------------------------------------------------------- greedy, sampling */

static mlm_status run_sample(gen_run *r, mlm_generation *out)
{
    const gen_plan *p = r->p;
    int per = p->do_sample ? p->nrs : 1, rows = r->B * per, L = p->max_length, V = r->V;
    int32_t *seq = mem_alloc((size_t)rows * L * sizeof *seq);
    int32_t *tokens = mem_alloc((size_t)rows * sizeof *tokens);
    uint8_t *unfinished = mem_alloc((size_t)rows);
    if (!seq || !tokens || !unfinished) {
        mem_free(seq);
        mem_free(tokens);
        mem_free(unfinished);
        return err_oom();
    }
    for (int i = 0; i < rows; i++) {
        seq[(size_t)i * L] = p->start;
        unfinished[i] = 1;
    }
    mlm_status st = MLM_OK;
    int cur = 1;
    for (;;) {
        for (int i = 0; i < rows; i++)
            tokens[i] = seq[(size_t)i * L + cur - 1];
        st = r->s2s->step(r->state, &r->ctx, tokens, r->logits);
        if (st != MLM_OK)
            break;
        int any = 0;
        for (int i = 0; i < rows; i++) {
            float *s = r->logits + (size_t)i * V;
            gen_process_row(p, seq + (size_t)i * L, cur, s, V, r->scratch);
            int32_t next;
            if (p->do_sample) {
                double sum = softmax_weights(s, V, r->scratch);
                next = draw(r->scratch, V, sum, uniform(p->g->seed, (uint64_t)i, (uint64_t)cur));
                if (next < 0)
                    next = 0;
            } else {
                next = ops_argmax(s, V);
            }
            if (p->n_eos && !unfinished[i])
                next = p->pad;
            seq[(size_t)i * L + cur] = next;
            if (cur + 1 >= L || (p->n_eos && is_eos(p, next)))
                unfinished[i] = 0;
            any |= unfinished[i];
        }
        cur++;
        if (!any)
            break;
    }
    if (st == MLM_OK) {
        out->n = (size_t)rows;
        out->L = (size_t)cur;
        out->seq = mem_alloc((size_t)rows * cur * sizeof *out->seq);
        if (!out->seq)
            st = err_oom();
        for (int i = 0; st == MLM_OK && i < rows; i++)
            memcpy(out->seq + (size_t)i * cur, seq + (size_t)i * L, (size_t)cur * sizeof *seq);
    }
    mem_free(seq);
    mem_free(tokens);
    mem_free(unfinished);
    return st;
}

/* ---------------------------------------------------------------- beam search */

typedef struct beam_bufs {
    int32_t *run_seq, *run_seq2;   /* (B·nb, L) running sequences, and the next step's */
    float *run_score, *run_score2; /* (B·nb) */
    int32_t *hyp_seq, *hyp_seq2;   /* (B·nb, L) kept hypotheses */
    float *hyp_score, *hyp_score2;
    uint8_t *hyp_fin, *hyp_fin2;
    int32_t *hyp_len, *hyp_len2;   /* generated tokens, eos included; 0: empty */
    uint8_t *unsat;                /* (B) */
    int32_t *tokens, *src;         /* (B·nb) */
    int32_t *c_idx, *c_beam, *c_tok; /* (K) candidates of one input */
    float *c_lp, *c_fin, *c_run;
    uint8_t *c_hit;
    int32_t *sel;                  /* (nb) */
    float *merged;                 /* (nb + K) */
    int32_t *msel;                 /* (nb) */
    float *weights;                /* (nb·V) beam sampling */
} beam_bufs;

static void beam_free(beam_bufs *b)
{
    void *all[] = {b->run_seq, b->run_seq2, b->run_score, b->run_score2, b->hyp_seq, b->hyp_seq2,
                   b->hyp_score, b->hyp_score2, b->hyp_fin, b->hyp_fin2, b->hyp_len, b->hyp_len2,
                   b->unsat, b->tokens, b->src, b->c_idx, b->c_beam, b->c_tok, b->c_lp, b->c_fin,
                   b->c_run, b->c_hit, b->sel, b->merged, b->msel, b->weights};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mem_free(all[i]);
}

static mlm_status beam_alloc(beam_bufs *b, int B, int nb, int K, int L, int V, int sample)
{
    memset(b, 0, sizeof *b);
    size_t R = (size_t)B * nb, RL = R * (size_t)L;
    b->run_seq = mem_alloc(RL * sizeof(int32_t));
    b->run_seq2 = mem_alloc(RL * sizeof(int32_t));
    b->hyp_seq = mem_alloc(RL * sizeof(int32_t));
    b->hyp_seq2 = mem_alloc(RL * sizeof(int32_t));
    b->run_score = mem_alloc(R * sizeof(float));
    b->run_score2 = mem_alloc(R * sizeof(float));
    b->hyp_score = mem_alloc(R * sizeof(float));
    b->hyp_score2 = mem_alloc(R * sizeof(float));
    b->hyp_fin = mem_calloc(R, 1);
    b->hyp_fin2 = mem_calloc(R, 1);
    b->hyp_len = mem_calloc(R, sizeof(int32_t));
    b->hyp_len2 = mem_calloc(R, sizeof(int32_t));
    b->unsat = mem_alloc((size_t)B);
    b->tokens = mem_alloc(R * sizeof(int32_t));
    b->src = mem_alloc(R * sizeof(int32_t));
    b->c_idx = mem_alloc((size_t)K * sizeof(int32_t));
    b->c_beam = mem_alloc((size_t)K * sizeof(int32_t));
    b->c_tok = mem_alloc((size_t)K * sizeof(int32_t));
    b->c_lp = mem_alloc((size_t)K * sizeof(float));
    b->c_fin = mem_alloc((size_t)K * sizeof(float));
    b->c_run = mem_alloc((size_t)K * sizeof(float));
    b->c_hit = mem_alloc((size_t)K);
    b->sel = mem_alloc((size_t)nb * sizeof(int32_t));
    b->merged = mem_alloc(((size_t)nb + K) * sizeof(float));
    b->msel = mem_alloc((size_t)nb * sizeof(int32_t));
    if (sample)
        b->weights = mem_alloc((size_t)nb * V * sizeof(float));
    if (!b->run_seq || !b->run_seq2 || !b->hyp_seq || !b->hyp_seq2 || !b->run_score ||
        !b->run_score2 || !b->hyp_score || !b->hyp_score2 || !b->hyp_fin || !b->hyp_fin2 ||
        !b->hyp_len || !b->hyp_len2 || !b->unsat || !b->tokens || !b->src || !b->c_idx ||
        !b->c_beam || !b->c_tok || !b->c_lp || !b->c_fin || !b->c_run || !b->c_hit || !b->sel ||
        !b->merged || !b->msel || (sample && !b->weights)) {
        beam_free(b);
        return err_oom();
    }
    return MLM_OK;
}

#define SWAP(T, a, b)                                                                             \
    do {                                                                                          \
        T tmp_ = (a);                                                                             \
        (a) = (b);                                                                                \
        (b) = tmp_;                                                                               \
    } while (0)

/* K candidates drawn without replacement from softmax(acc) (nb·V), in draw
 * order (torch.multinomial(..., num_samples=K)). */
static void sample_candidates(const float *acc, int n, int K, float *w, uint64_t seed,
                              uint64_t stream, uint64_t step, int32_t *idx)
{
    double sum = softmax_weights(acc, n, w);
    for (int k = 0; k < K; k++) {
        int32_t i = draw(w, n, sum, uniform(seed, stream, step * 65536u + (uint64_t)k));
        if (i < 0) { /* fewer than K positive weights: the first unused index */
            for (i = 0; i < n && w[i] < 0; i++)
                ;
        }
        idx[k] = i;
        if (i >= 0 && i < n) {
            sum -= (double)w[i];
            w[i] = -1.0f; /* used */
        }
    }
}

static mlm_status run_beam(gen_run *r, mlm_generation *out)
{
    const gen_plan *p = r->p;
    const mlm_generation_config *g = p->g;
    int B = r->B, nb = p->num_beams, L = p->max_length, V = r->V, R = B * nb;
    int K = (p->n_eos + 1 > 2 ? p->n_eos + 1 : 2) * nb;
    double lpd = g->length_penalty;
    int early = g->early_stopping;
    /* output_fill_value = pad_token_id or eos_token_id[0] if eos else -1 */
    int32_t fill = p->n_eos ? (p->pad > 0 ? p->pad : p->eos[0]) : -1;
    beam_bufs b;
    mlm_status st = beam_alloc(&b, B, nb, K, L, V, p->do_sample);
    if (st != MLM_OK)
        return st;
    for (int i = 0; i < R; i++) {
        int32_t *s = b.run_seq + (size_t)i * L;
        s[0] = p->start;
        for (int t = 1; t < L; t++)
            s[t] = fill;
        b.run_score[i] = i % nb == 0 ? 0.0f : -1.0e9f;
        b.hyp_score[i] = -1.0e9f;
    }
    memcpy(b.hyp_seq, b.run_seq, (size_t)R * L * sizeof *b.hyp_seq);
    memset(b.unsat, 1, (size_t)B);
    int cur = 1;
    for (;;) {
        /* a. logits of every running beam, log_softmax, processors */
        for (int i = 0; i < R; i++)
            b.tokens[i] = b.run_seq[(size_t)i * L + cur - 1];
        st = r->s2s->step(r->state, &r->ctx, b.tokens, r->logits);
        if (st != MLM_OK)
            break;
        int all_hit = 1, bans_only = gen_process_bans_only(p, cur);
        float denom = (float)pow((double)cur, lpd); /* cur + 1 − decoder_prompt_len */
        for (int bi = 0; bi < B; bi++) {
            /* an input's nb rows (2 MB in t5-small at 4 beams) stay in the
             * cache from the log-softmax to the top-k */
            float *acc = r->logits + (size_t)bi * nb * V;
            const float *shift = b.run_score + (size_t)bi * nb;
            ops_log_softmax_shift_forward(&r->ctx, acc, acc, bans_only ? shift : NULL, nb, V);
            for (int j = 0; j < nb; j++) {
                float *s = acc + (size_t)j * V;
                gen_process_row(p, b.run_seq + ((size_t)bi * nb + j) * L, cur, s, V, r->scratch);
                if (!bans_only)
                    for (int v = 0; v < V; v++)
                        s[v] = s[v] + shift[j];
            }
            /* b. top K continuations */
            if (p->do_sample) {
                sample_candidates(acc, nb * V, K, b.weights, g->seed, (uint64_t)bi,
                                  (uint64_t)cur, b.c_idx);
                for (int k = 0; k < K; k++)
                    b.c_lp[k] = acc[b.c_idx[k]];
            } else if ((st = ops_topk(acc, nb * V, K, b.c_idx, b.c_lp)) != MLM_OK) {
                break;
            }
            /* c. stopping criteria; the next running beams */
            for (int k = 0; k < K; k++) {
                b.c_beam[k] = b.c_idx[k] / V;
                b.c_tok[k] = b.c_idx[k] % V;
                b.c_hit[k] = cur + 1 >= L || (p->n_eos && is_eos(p, b.c_tok[k]));
                all_hit &= b.c_hit[k];
                b.c_run[k] = b.c_lp[k] + (b.c_hit[k] ? -1.0e9f : 0.0f);
            }
            if ((st = ops_topk(b.c_run, K, nb, b.sel, NULL)) != MLM_OK)
                break;
            for (int j = 0; j < nb; j++) {
                int k = b.sel[j], row = bi * nb + j, from = bi * nb + b.c_beam[k];
                int32_t *dst = b.run_seq2 + (size_t)row * L;
                memcpy(dst, b.run_seq + (size_t)from * L, (size_t)L * sizeof *dst);
                dst[cur] = b.c_tok[k];
                b.run_score2[row] = b.c_run[k];
                b.src[row] = from;
            }
            /* d. finished hypotheses, merged with the kept ones */
            int full = early == 1;
            for (int j = 0; j < nb && full; j++)
                full = b.hyp_fin[bi * nb + j];
            for (int k = 0; k < K; k++) {
                float f = b.c_lp[k] / denom;
                if (full)
                    f += -1.0e9f;
                if (!b.unsat[bi])
                    f += -1.0e9f;
                if (!(b.c_hit[k] && k < nb))
                    f += -1.0e9f;
                b.c_fin[k] = f;
            }
            memcpy(b.merged, b.hyp_score + (size_t)bi * nb, (size_t)nb * sizeof *b.merged);
            memcpy(b.merged + nb, b.c_fin, (size_t)K * sizeof *b.merged);
            if ((st = ops_topk(b.merged, nb + K, nb, b.msel, NULL)) != MLM_OK)
                break;
            for (int j = 0; j < nb; j++) {
                int m = b.msel[j], row = bi * nb + j;
                int32_t *dst = b.hyp_seq2 + (size_t)row * L;
                if (m < nb) {
                    int old = bi * nb + m;
                    memcpy(dst, b.hyp_seq + (size_t)old * L, (size_t)L * sizeof *dst);
                    b.hyp_score2[row] = b.hyp_score[old];
                    b.hyp_fin2[row] = b.hyp_fin[old];
                    b.hyp_len2[row] = b.hyp_len[old];
                } else {
                    int k = m - nb, from = bi * nb + b.c_beam[k];
                    memcpy(dst, b.run_seq + (size_t)from * L, (size_t)L * sizeof *dst);
                    dst[cur] = b.c_tok[k];
                    b.hyp_score2[row] = b.c_fin[k];
                    b.hyp_fin2[row] = b.c_hit[k] && k < nb;
                    b.hyp_len2[row] = cur;
                }
            }
        }
        if (st != MLM_OK)
            break;
        SWAP(int32_t *, b.run_seq, b.run_seq2);
        SWAP(float *, b.run_score, b.run_score2);
        SWAP(int32_t *, b.hyp_seq, b.hyp_seq2);
        SWAP(float *, b.hyp_score, b.hyp_score2);
        SWAP(uint8_t *, b.hyp_fin, b.hyp_fin2);
        SWAP(int32_t *, b.hyp_len, b.hyp_len2);
        /* the cache follows the running beams */
        if ((st = r->s2s->reorder(r->state, b.src)) != MLM_OK)
            break;
        cur++;
        /* e. the early-stopping heuristic, per input */
        int best_len = early == 2 && lpd > 0.0 ? L - 1 : cur - 1;
        float best_denom = (float)pow((double)best_len, lpd);
        int improvement = 0, all_fin = 1;
        for (int bi = 0; bi < B; bi++) {
            const float *hs = b.hyp_score + (size_t)bi * nb;
            const uint8_t *hf = b.hyp_fin + (size_t)bi * nb;
            float best = b.run_score[bi * nb] / best_denom, worst = hs[0];
            for (int j = 1; j < nb; j++)
                worst = hs[j] < worst ? hs[j] : worst;
            int any = 0;
            for (int j = 0; j < nb; j++) {
                any |= best > (hf[j] ? worst : -1.0e9f);
                all_fin &= hf[j];
            }
            b.unsat[bi] &= (uint8_t)any;
            improvement |= b.unsat[bi];
        }
        /* f. stop */
        int exists_open = !(all_fin && early == 1);
        if (!(improvement && exists_open && !all_hit))
            break;
    }
    if (st == MLM_OK) {
        int nrs = p->nrs;
        int maxgen = 0;
        for (int bi = 0; bi < B; bi++)
            for (int j = 0; j < nrs; j++)
                maxgen = b.hyp_len[bi * nb + j] > maxgen ? b.hyp_len[bi * nb + j] : maxgen;
        size_t n = (size_t)B * nrs, len = 1 + (size_t)maxgen;
        out->n = n;
        out->L = len;
        out->seq = mem_alloc(n * len * sizeof *out->seq);
        out->scores = g->output_scores ? mem_alloc(n * sizeof *out->scores) : NULL;
        if (!out->seq || (g->output_scores && !out->scores))
            st = err_oom();
        for (int bi = 0; st == MLM_OK && bi < B; bi++)
            for (int j = 0; j < nrs; j++) {
                size_t row = (size_t)bi * nrs + j;
                memcpy(out->seq + row * len, b.hyp_seq + (size_t)(bi * nb + j) * L,
                       len * sizeof *out->seq);
                if (out->scores)
                    out->scores[row] = b.hyp_score[bi * nb + j];
            }
    }
    beam_free(&b);
    return st;
}

/* ---------------------------------------------------------------- entry point */

static mlm_status check_inputs(const mlm_model *m, int nthreads, const int32_t *ids,
                               const int32_t *mask, size_t B, size_t S, mlm_generation **out)
{
    if (!m || !ids || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generate: NULL argument");
    mlm_status st = model_require_family(m, MLM_FAMILY_ENCODER_DECODER, "mlm_generate");
    if (st != MLM_OK)
        return st;
    if (nthreads < 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generate: nthreads must be >= 1 (got %d)",
                       nthreads);
    if (B == 0 || S == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generate: empty batch (%zu x %zu)", B, S);
    if (B > (size_t)(1 << 20) / S)
        return err_set(MLM_ERR_RANGE, "mlm_generate: a batch of %zu x %zu tokens is too large",
                       B, S);
    int32_t V = mlm_model_vocab_size(m);
    for (size_t i = 0; i < B * S; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return err_set(MLM_ERR_RANGE,
                           "mlm_generate: input_ids[%zu] = %d outside the vocabulary [0, %d)", i,
                           (int)ids[i], (int)V);
        if (mask && mask[i] != 0 && mask[i] != 1)
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "mlm_generate: attention_mask[%zu] = %d; 0 or 1 expected", i,
                           (int)mask[i]);
    }
    return MLM_OK;
}

/* _prepare_attention_mask_for_generation: mask the pad positions when the
 * pad id occurs in the inputs and is not an eos id; else all ones (NULL). */
static int32_t *infer_mask(const gen_plan *p, const int32_t *ids, size_t n)
{
    if (p->pad < 0 || is_eos(p, p->pad))
        return NULL;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = ids[i] == p->pad;
    if (!found)
        return NULL;
    int32_t *mask = mem_alloc(n * sizeof *mask);
    if (mask)
        for (size_t i = 0; i < n; i++)
            mask[i] = ids[i] != p->pad;
    return mask;
}

void mlm_generation_free(mlm_generation *r)
{
    if (!r)
        return;
    mem_free(r->seq);
    mem_free(r->len);
    mem_free(r->scores);
    gen_warnings_free(&r->warn);
    mem_free(r);
}

mlm_status mlm_generate(const mlm_model *m, const mlm_generation_config *config, int nthreads,
                        const int32_t *ids, const int32_t *mask, size_t B, size_t S,
                        mlm_generation **out)
{
    if (out)
        *out = NULL;
    mlm_status st = check_inputs(m, nthreads, ids, mask, B, S, out);
    if (st != MLM_OK)
        return st;
    mlm_generation_config *own = NULL;
    if (!config) {
        if ((st = mlm_generation_config_new(m, &own)) != MLM_OK)
            return st;
        config = own;
    }
    mlm_generation *res = mem_calloc(1, sizeof *res);
    gen_plan plan;
    gen_run run = {.m = m, .s2s = m->family->s2s, .p = &plan, .B = (int)B,
                   .V = mlm_model_vocab_size(m)};
    ops_ctx_init(&run.ctx, nthreads);
    /* A decode step makes ~10 parallel calls per layer, each too short to
     * pay for starting threads: the call keeps nthreads - 1 workers (or
     * uses the pool its caller entered, a pipeline's). */
    par_pool *caller = par_pool_enter(NULL), *pool = NULL;
    par_pool_leave(caller);
    if (!caller && nthreads > 1)
        pool = par_pool_new(nthreads - 1);
    par_pool *before = pool ? par_pool_enter(pool) : NULL;
    int32_t *own_mask = NULL;
    float *enc = NULL;
    scratch_cache *sc = model_scratch_cache(m);   /* enc and the logits come from it */
    if (!res) {
        st = err_oom();
        goto done;
    }
    if ((st = gen_plan_make(config, run.V, &plan, &res->warn)) != MLM_OK)
        goto done;
    if (!mask)
        mask = own_mask = infer_mask(&plan, ids, B * S);
    int per = plan.num_beams > 1 ? plan.num_beams : plan.do_sample ? plan.nrs : 1;
    size_t rows = B * (size_t)per, C = (size_t)mlm_model_hidden_size(m);
    enc = scratch_get(sc, B * S * C * sizeof *enc);
    run.logits = scratch_get(sc, rows * (size_t)run.V * sizeof *run.logits);
    run.scratch = mem_alloc(2 * (size_t)run.V * sizeof *run.scratch);
    if (!enc || !run.logits || !run.scratch) {
        st = err_oom();
        goto done;
    }
    st = run.s2s->encode(m, &run.ctx, ids, mask, (int)B, (int)S, enc);
    if (st == MLM_OK)
        st = run.s2s->state_new(m, &run.ctx, enc, mask, (int)B, (int)S, per,
                                plan.max_length - 1, &run.state);
    scratch_put(sc, enc);
    enc = NULL;
    if (st == MLM_OK)
        st = plan.num_beams > 1 ? run_beam(&run, res) : run_sample(&run, res);
    if (st == MLM_OK) {
        res->len = mem_alloc((res->n ? res->n : 1) * sizeof *res->len);
        if (!res->len)
            st = err_oom();
        for (size_t i = 0; st == MLM_OK && i < res->n; i++) {
            size_t k = 1;
            while (k < res->L && !is_eos(&plan, res->seq[i * res->L + k]))
                k++;
            res->len[i] = k < res->L ? k + 1 : res->L;
        }
    }
done:
    if (pool) {
        par_pool_leave(before);
        par_pool_free(pool);
    }
    if (run.state)
        run.s2s->state_free(run.state);
    scratch_put(sc, enc);
    scratch_put(sc, run.logits);
    mem_free(run.scratch);
    mem_free(own_mask);
    mlm_generation_config_free(own);
    if (st != MLM_OK) {
        mlm_generation_free(res);
        return st;
    }
    *out = res;
    return MLM_OK;
}

size_t mlm_generation_num_sequences(const mlm_generation *r) { return r ? r->n : 0; }
size_t mlm_generation_sequence_length(const mlm_generation *r) { return r ? r->L : 0; }
const int32_t *mlm_generation_sequences(const mlm_generation *r) { return r ? r->seq : NULL; }

size_t mlm_generation_length(const mlm_generation *r, size_t i)
{
    return r && i < r->n ? r->len[i] : 0;
}

const float *mlm_generation_sequences_scores(const mlm_generation *r)
{
    return r ? r->scores : NULL;
}

size_t mlm_generation_n_warnings(const mlm_generation *r) { return r ? r->warn.n : 0; }

const char *mlm_generation_warning(const mlm_generation *r, size_t i)
{
    return r && i < r->warn.n ? r->warn.w[i] : NULL;
}
