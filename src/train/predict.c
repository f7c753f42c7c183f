/* Seq2SeqTrainer's evaluation with predict_with_generate, and
 * run_summarization.py's compute_metrics on its predictions
 * (transformers 4.56: trainer_seq2seq.py, examples/pytorch/summarization):
 *
 *   gen_kwargs: generation_max_length → max_length, generation_num_beams →
 *               num_beams, over the model's generation config (or the one
 *               generation_config names);
 *   each eval batch: generated = model.generate(input_ids, attention_mask)
 *   compute_metrics:
 *     preds, labels with -100 → tokenizer.pad_token_id
 *     decoded = batch_decode(skip_special_tokens=True), then .strip()
 *     rouge (use_stemmer=True): round(F · 100, 4) for rouge1, rouge2,
 *                               rougeL, rougeLsum
 *     gen_len = mean over predictions of count_nonzero(pred != pad_id)
 *
 * Two documented differences. postprocess_text puts a newline between the
 * sentences nltk.sent_tokenize finds (Punkt, whose model is not in Debian):
 * libmlm splits nothing, so rougeLsum scores each text as one sentence.
 * evaluate's rouge reports BootstrapAggregator's resampled mid; libmlm the
 * plain mean over the pairs (mlm/metrics.h).
 *
 * gen_len counts what HF counts: the rows as generate returns them, padded
 * to the batch's longest with pad_token_id (greedy) or `pad or eos` (beam
 * search: T5's eos, which counts), the decoder start token included unless
 * it is the tokenizer's pad. Padding to max_length and across batches uses
 * the pad id (or -100 turned into it) and never counts. */
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "io/file.h"
#include "io/json.h"
#include "io/strbuf.h"
#include "mlm/generation.h"
#include "mlm/metrics.h"
#include "text/decoder.h"
#include "train/predict.h"

/* The generation options of an evaluation: the model's defaults, the
 * generation_config file's members, then generation_max_length and
 * generation_num_beams as Seq2SeqTrainer.evaluate puts them into gen_kwargs. */
static mlm_status gen_config_of(const mlm_trainer *tr, mlm_generation_config **out)
{
    const targs *a = &tr->a;
    mlm_generation_config *g = NULL;
    mlm_status st = mlm_generation_config_new(tr->m, &g);
    if (st == MLM_OK && a->generation_config) {
        char *text = NULL, path[4096];
        size_t len = 0;
        struct stat sb;
        /* a directory holds generation_config.json (GenerationConfig.from_pretrained) */
        if (stat(a->generation_config, &sb) == 0 && S_ISDIR(sb.st_mode))
            st = path_join(path, sizeof path, a->generation_config, "generation_config.json");
        else if (snprintf(path, sizeof path, "%s", a->generation_config) >= (int)sizeof path)
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "path too long");
        if (st == MLM_OK)
            st = file_read_all(path, (size_t)1 << 24, &text, &len);
        if (st == MLM_OK)
            st = mlm_generation_config_set_json(g, text, len);
        mem_free(text);
        if (st != MLM_OK)
            st = err_prefix(st, "trainer option generation_config: ");
    }
    char num[32];
    if (st == MLM_OK && a->generation_max_length > 0) {
        snprintf(num, sizeof num, "%lld", (long long)a->generation_max_length);
        st = mlm_generation_config_set(g, "max_length", num);
    }
    if (st == MLM_OK && a->generation_num_beams > 0) {
        snprintf(num, sizeof num, "%lld", (long long)a->generation_num_beams);
        st = mlm_generation_config_set(g, "num_beams", num);
    }
    if (st != MLM_OK) {
        mlm_generation_config_free(g);
        return st;
    }
    *out = g;
    return MLM_OK;
}

mlm_status predict_begin(const mlm_trainer *tr, predict_state *ps)
{
    memset(ps, 0, sizeof *ps);
    if (!tr->tok)
        return err_set(MLM_ERR_STATE, "trainer option predict_with_generate: decoding the "
                                      "predictions needs the tokenizer "
                                      "(mlm_trainer_set_tokenizer)");
    ps->pad_id = mlm_tokenizer_special_id(tr->tok, MLM_TOKEN_PAD);
    if (ps->pad_id < 0)
        ps->pad_id = mlm_tokenizer_special_id(tr->tok, MLM_TOKEN_EOS);
    return gen_config_of(tr, &ps->gen);
}

/* Room for one more prediction and reference (and generated row). */
static mlm_status reserve(predict_state *ps)
{
    if (ps->n < ps->cap)
        return MLM_OK;
    size_t nc = ps->cap ? 2 * ps->cap : 64;
    char **p = mem_realloc(ps->preds, nc * sizeof *p);
    if (p)
        ps->preds = p;
    char **r = p ? mem_realloc(ps->refs, nc * sizeof *r) : NULL;
    if (r)
        ps->refs = r;
    if (!p || !r)
        return err_oom();
    if (ps->keep_ids) {
        int32_t **ids = mem_realloc(ps->ids, nc * sizeof *ids);
        if (ids)
            ps->ids = ids;
        size_t *lens = ids ? mem_realloc(ps->ids_len, nc * sizeof *lens) : NULL;
        if (lens)
            ps->ids_len = lens;
        if (!ids || !lens)
            return err_oom();
    }
    ps->cap = nc;
    return MLM_OK;
}

/* Decode one row (with -100 read as the pad id), skip_special_tokens. */
static mlm_status decode_row(const mlm_trainer *tr, const predict_state *ps, const int32_t *row,
                             size_t n, int32_t *scratch, char **out)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = row[i] == -100 ? ps->pad_id : row[i];
    size_t len = 0, a, e;
    mlm_status st = tokenizer_decode_alloc(tr->tok, scratch, n, 1, -1, out, &len);
    if (st != MLM_OK)
        return st;
    utf8_py_strip(*out, len, &a, &e); /* postprocess_text's .strip() */
    memmove(*out, *out + a, e - a);
    (*out)[e - a] = '\0';
    return MLM_OK;
}

mlm_status predict_batch(const mlm_trainer *tr, predict_state *ps, const mlm_batch *b)
{
    const size_t B = mlm_batch_rows(b), S = mlm_batch_seq_len(b), T = mlm_batch_label_len(b);
    mlm_generation *g = NULL;
    mlm_status st = mlm_generate(tr->m, ps->gen, (int)tr->a.num_threads, mlm_batch_input_ids(b),
                                 mlm_batch_attention_mask(b), B, S, &g);
    if (st != MLM_OK)
        return err_prefix(st, "predict_with_generate: ");
    const size_t L = mlm_generation_sequence_length(g);
    const int32_t *seq = mlm_generation_sequences(g);
    const int32_t *labels = mlm_batch_labels(b);
    int32_t *scratch = mem_alloc(((L > T ? L : T) + 1) * sizeof *scratch);
    if (!scratch)
        st = err_oom();
    /* num_return_sequences > 1 would give HF's compute_metrics more
     * predictions than labels; the first of each input is scored. */
    const size_t per = mlm_generation_num_sequences(g) / B;
    for (size_t i = 0; i < B && st == MLM_OK; i++) {
        const int32_t *row = seq + i * per * L;
        for (size_t t = 0; t < L; t++)
            ps->gen_tokens += row[t] != ps->pad_id;
        char *pred = NULL, *ref = NULL;
        int32_t *kept = NULL;
        st = reserve(ps);
        if (st == MLM_OK)
            st = decode_row(tr, ps, row, L, scratch, &pred);
        if (st == MLM_OK)
            st = decode_row(tr, ps, labels + i * T, T, scratch, &ref);
        if (st == MLM_OK && ps->keep_ids) {
            kept = mem_alloc((L ? L : 1) * sizeof *kept);
            if (kept)
                memcpy(kept, row, L * sizeof *kept);
            else
                st = err_oom();
        }
        if (st != MLM_OK) {
            mem_free(pred);
            mem_free(ref);
            break;
        }
        if (ps->keep_ids) {
            ps->ids[ps->n] = kept;
            ps->ids_len[ps->n] = L;
        }
        ps->preds[ps->n] = pred;
        ps->refs[ps->n++] = ref;
    }
    mem_free(scratch);
    mlm_generation_free(g);
    return st;
}

mlm_status predict_metrics(const mlm_trainer *tr, predict_state *ps, const char *prefix,
                           cJSON *metrics)
{
    mlm_rouge *r = NULL;
    mlm_rouge_result *res = NULL;
    mlm_status st = mlm_rouge_new("{\"use_stemmer\": true}", &r);
    if (st == MLM_OK)
        st = mlm_rouge_set_threads(r, (int)tr->a.num_threads);
    if (st == MLM_OK)
        st = mlm_rouge_score_batch(r, (const char *const *)ps->preds, NULL,
                                   (const char *const *)ps->refs, NULL, ps->n, &res);
    for (size_t t = 0; st == MLM_OK && t < mlm_rouge_result_num_types(res); t++) {
        char key[256];
        snprintf(key, sizeof key, "%s_%s", prefix, mlm_rouge_result_type_name(res, t));
        double f = mlm_rouge_result_mean(res, t, MLM_ROUGE_FMEASURE);
        if (!add_num(metrics, key, json_py_round(f * 100.0, 4)))
            st = err_oom();
    }
    double gen_len = ps->n ? (double)ps->gen_tokens / (double)ps->n : NAN;
    char key[256];
    snprintf(key, sizeof key, "%s_gen_len", prefix);
    if (st == MLM_OK && !add_num(metrics, key, gen_len))
        st = err_oom();
    mlm_rouge_result_free(res);
    mlm_rouge_free(r);
    return st;
}

void predict_end(predict_state *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        mem_free(ps->preds[i]);
        mem_free(ps->refs[i]);
        if (ps->ids)
            mem_free(ps->ids[i]);
    }
    mem_free(ps->preds);
    mem_free(ps->refs);
    mem_free(ps->ids);
    mem_free(ps->ids_len);
    mlm_generation_config_free(ps->gen);
    memset(ps, 0, sizeof *ps);
}

/* ---------------------------------------------------------------- mlm_prediction */

struct mlm_prediction {
    cJSON *metrics;
    int32_t **ids; /* n rows, or NULL without generation */
    size_t *ids_len;
    size_t n;
};

mlm_prediction *prediction_new(predict_state *ps, cJSON *metrics)
{
    mlm_prediction *p = mem_calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(metrics);
        return NULL;
    }
    p->metrics = metrics;
    if (ps && ps->keep_ids && ps->ids) {
        p->ids = ps->ids;
        p->ids_len = ps->ids_len;
        p->n = ps->n;
        ps->ids = NULL;
        ps->ids_len = NULL;
    }
    return p;
}

void mlm_prediction_free(mlm_prediction *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        mem_free(p->ids[i]);
    mem_free(p->ids);
    mem_free(p->ids_len);
    cJSON_Delete(p->metrics);
    mem_free(p);
}

mlm_status mlm_prediction_metrics_json(const mlm_prediction *p, char *buf, size_t cap,
                                       size_t *needed)
{
    if (!p || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_prediction_metrics_json: bad arguments");
    char *s = json_print_exact(p->metrics);
    if (!s)
        return err_oom();
    out_copy(s, strlen(s), buf, cap, needed);
    cJSON_free(s);
    return MLM_OK;
}

size_t mlm_prediction_num_rows(const mlm_prediction *p) { return p ? p->n : 0; }

const int32_t *mlm_prediction_ids(const mlm_prediction *p, size_t i, size_t *len)
{
    if (len)
        *len = 0;
    if (!p || i >= p->n)
        return NULL;
    if (len)
        *len = p->ids_len[i];
    return p->ids[i];
}
