/* T5 (the encoder-decoder family): configuration, parameter names, HF's
 * initialisation, save/load, the family errors, relative position buckets,
 * and cached decoding against the teacher-forced forward. The parity with
 * the PyTorch reference is in test_generate.c.
 *
 * Error model for cached vs teacher-forced logits. Both run the same
 * embedding, RMS norms, attention kernel (ops_attention_rows: each query row
 * in a fixed order, on the same keys and values) and head; they differ only
 * in the row count of the projections (the step's rows vs all B·T rows).
 * Where a row of a product is computed the same way whatever the row count
 * (gemm_small.c, AVX-512, up to 48 rows) the two are bit-identical; on the
 * BLIS paths each product of K terms may round differently, by ≤ λ·√K·u of
 * Σ|a||b| (u = 2^-24, λ = 8, as in test_model.c). The tiny models here have
 * K ≤ 24, inputs of RMS ~1 (the norms) and weights of std ≤ 0.3, so a
 * product's Σ|a||b| ≲ 24·0.8·0.3 ≈ 6 and its rounding ≲ 8·5·6e-8·6 = 1.4e-5;
 * a few such differences per layer through 3 layers and the head (whose
 * 16-term product sees them amplified by |w| ≲ 1) stay below 1e-4, while a
 * wrong cache (a stale or misplaced key) moves logits by O(0.1). Greedy ids
 * must be identical: the test's inputs have top-2 logit gaps far above 1e-4
 * (checked). */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "nn/t5.h"

#define CACHE_TOL 1e-4

/* Odd sizes: H·d_kv = 18 != d_model = 16, d_ff 20, decoder deeper than the
 * encoder, 8 buckets up to distance 12 (the log-spaced buckets and their
 * clipping show up within 20 tokens). */
static const char *const tiny_configs[] = {
    "{\"model_type\":\"t5\",\"vocab_size\":97,\"d_model\":16,\"d_kv\":6,\"num_heads\":3,"
    "\"d_ff\":20,\"num_layers\":2,\"num_decoder_layers\":3,"
    "\"relative_attention_num_buckets\":8,\"relative_attention_max_distance\":12,"
    "\"feed_forward_proj\":\"relu\",\"decoder_start_token_id\":0,\"initializer_factor\":0.3}",
    "{\"model_type\":\"t5\",\"vocab_size\":97,\"d_model\":16,\"d_kv\":6,\"num_heads\":3,"
    "\"d_ff\":20,\"num_layers\":2,\"num_decoder_layers\":3,"
    "\"relative_attention_num_buckets\":8,\"relative_attention_max_distance\":12,"
    "\"feed_forward_proj\":\"gated-gelu\",\"tie_word_embeddings\":false,"
    "\"decoder_start_token_id\":0,\"initializer_factor\":0.3}",
};

static mlm_model *tiny_t5(int which, uint64_t seed)
{
    mlm_model *m = NULL;
    const char *cfg = tiny_configs[which];
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), seed, &m) == MLM_OK, "%s", mlm_last_error());
    return m;
}

/* ---------------------------------------------------------------- config */

START_TEST(config_defaults_and_effective_values)
{
    mlm_model *m = NULL;
    const char *cfg = "{\"model_type\":\"t5\",\"vocab_size\":50,\"d_model\":8,\"d_ff\":12,"
                      "\"num_heads\":2,\"d_kv\":4,\"num_layers\":1}";
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), 1, &m) == MLM_OK, "%s", mlm_last_error());
    ck_assert_str_eq(mlm_model_type(m), "t5");
    ck_assert_int_eq(mlm_model_family(m), MLM_FAMILY_ENCODER_DECODER);
    const t5_model *tm = t5_of(m);
    ck_assert_int_eq(tm->d.Ld, 1); /* num_decoder_layers defaults to num_layers */
    ck_assert_int_eq(tm->d.NB, 32);
    ck_assert_int_eq(tm->d.max_dist, 128);
    ck_assert(tm->d.tied);
    ck_assert_int_eq(tm->d.act, ACT_RELU);
    ck_assert(!tm->d.gated);
    ck_assert_int_eq(mlm_model_max_length(m), INT32_MAX);
    /* tie: shared, 1 layer: (4 + bias) + 2 + 1 norms... counted from the table */
    int64_t C = 8, V = 50, F = 12, HD = 8, NB = 32, H = 2;
    int64_t enc = 4 * HD * C + 2 * C * F + 2 * C, dec = 8 * HD * C + 2 * C * F + 3 * C;
    ck_assert_int_eq(mlm_model_num_parameters(m), V * C + enc + dec + 2 * NB * H + 2 * C);
    mlm_model_free(m);

    /* gated-gelu means gelu_new, two input projections; mt5's defaults */
    cfg = "{\"model_type\":\"mt5\",\"vocab_size\":50,\"d_model\":8,\"d_ff\":12,\"num_heads\":2,"
          "\"d_kv\":4,\"num_layers\":1}";
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), 1, &m) == MLM_OK, "%s", mlm_last_error());
    tm = t5_of(m);
    ck_assert(tm->d.gated);
    ck_assert_int_eq(tm->d.act, ACT_GELU_NEW);
    ck_assert(!tm->d.tied);
    ck_assert_str_eq(mlm_model_type(m), "mt5");
    mlm_model_free(m);

    /* bad values name the key */
    static const struct {
        const char *json, *needle;
        mlm_status st;
    } bad[] = {
        {"{\"model_type\":\"t5\",\"feed_forward_proj\":\"gated-gelu-x\"}", "feed_forward_proj",
         MLM_ERR_RANGE},
        {"{\"model_type\":\"t5\",\"feed_forward_proj\":\"swish\"}", "swish", MLM_ERR_UNSUPPORTED},
        {"{\"model_type\":\"t5\",\"d_model\":0}", "d_model", MLM_ERR_RANGE},
        {"{\"model_type\":\"t5\",\"num_heads\":\"8\"}", "num_heads", MLM_ERR_FORMAT},
        {"{\"model_type\":\"t5\",\"layer_norm_epsilon\":0}", "layer_norm_epsilon", MLM_ERR_RANGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mlm_status st = mlm_model_new(bad[i].json, strlen(bad[i].json), 1, &m);
        ck_assert_msg(st == bad[i].st, "%s: %s", bad[i].json, mlm_last_error());
        ck_assert_msg(strstr(mlm_last_error(), bad[i].needle), "%s", mlm_last_error());
        ck_assert_ptr_null(m);
    }
}
END_TEST

/* HF's _relative_position_bucket, values printed by torch for t5-small's
 * 32 buckets up to 128 (the boundaries where float32 rounding decides). */
START_TEST(relative_position_buckets)
{
    static const struct {
        int rel, bidir, want;
    } cases[] = {
        {16, 1, 26}, {32, 1, 28}, {64, 1, 30}, {-16, 1, 10}, {-32, 1, 12}, {-64, 1, 14},
        {0, 1, 0},   {1, 1, 17},  {-1, 1, 1},  {7, 1, 23},   {8, 1, 24},   {200, 1, 31},
        {-200, 1, 15}, {0, 0, 0}, {5, 0, 0},   {-5, 0, 5},   {-15, 0, 15}, {-16, 0, 16},
        {-300, 0, 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(t5_bucket(cases[i].rel, cases[i].bidir, 32, 128) == cases[i].want,
                      "bucket(%d, %d) = %d, want %d", cases[i].rel, cases[i].bidir,
                      t5_bucket(cases[i].rel, cases[i].bidir, 32, 128), cases[i].want);
    /* monotone in distance, within range */
    for (int rel = -400; rel <= 400; rel++) {
        int b = t5_bucket(rel, 1, 32, 128);
        ck_assert(b >= 0 && b < 32);
        if (rel > 0)
            ck_assert(b >= t5_bucket(rel - 1, 1, 32, 128) || rel == 1);
    }
}
END_TEST

/* ---------------------------------------------------------------- params, init */

static int has_tensor(const st_file *f, const char *name) { return st_find(f, name) != NULL; }

START_TEST(save_load_round_trip_names)
{
    for (int which = 0; which < 2; which++) {
        mlm_model *m = tiny_t5(which, 7);
        char *dir = test_tmpdir();
        ck_assert_msg(mlm_model_save(m, dir) == MLM_OK, "%s", mlm_last_error());
        char path[1024];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        st_file *f = NULL;
        ck_assert_int_eq(st_open(path, &f), MLM_OK);
        ck_assert_str_eq(st_metadata(f, "format"), "pt");
        /* save_pretrained's names: shared once, never a stack's embed_tokens */
        ck_assert(has_tensor(f, "shared.weight"));
        ck_assert(!has_tensor(f, "encoder.embed_tokens.weight"));
        ck_assert(!has_tensor(f, "decoder.embed_tokens.weight"));
        ck_assert_int_eq(has_tensor(f, "lm_head.weight"), which == 1);
        ck_assert(has_tensor(f, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"));
        ck_assert(!has_tensor(f, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"));
        ck_assert(has_tensor(f, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"));
        ck_assert(!has_tensor(f, "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"));
        ck_assert(has_tensor(f, "decoder.block.2.layer.1.EncDecAttention.o.weight"));
        ck_assert(has_tensor(f, "decoder.block.2.layer.2.layer_norm.weight"));
        ck_assert(has_tensor(f, "decoder.final_layer_norm.weight"));
        ck_assert(has_tensor(f, which ? "encoder.block.1.layer.1.DenseReluDense.wi_1.weight"
                                      : "encoder.block.1.layer.1.DenseReluDense.wi.weight"));
        const st_tensor *q = st_find(f, "encoder.block.0.layer.0.SelfAttention.q.weight");
        ck_assert(q->shape[0] == 18 && q->shape[1] == 16); /* (H·d_kv, d_model) */
        const st_tensor *o = st_find(f, "decoder.block.0.layer.1.EncDecAttention.o.weight");
        ck_assert(o->shape[0] == 16 && o->shape[1] == 18);
        ck_assert_int_eq((int)st_count(f), (int)t5_of(m)->n_params);
        st_close(f);
        /* config.json and generation_config.json as save_pretrained writes them */
        snprintf(path, sizeof path, "%s/config.json", dir);
        char *text = test_read_file(path, NULL);
        ck_assert_ptr_nonnull(strstr(text, "\"architectures\": [\n    \"T5ForConditionalGeneration\"\n  ]"));
        ck_assert_ptr_nonnull(strstr(text, "\"initializer_factor\": 0.3,"));
        ck_assert_ptr_nonnull(strstr(text, "\"num_decoder_layers\": 3,"));
        ck_assert_ptr_nonnull(strstr(text, which ? "\"dense_act_fn\": \"gelu_new\""
                                                 : "\"dense_act_fn\": \"relu\""));
        ck_assert_ptr_nonnull(strstr(text, "\"layer_norm_epsilon\": 1e-06,"));
        free(text);
        snprintf(path, sizeof path, "%s/generation_config.json", dir);
        text = test_read_file(path, NULL);
        ck_assert_ptr_nonnull(text);
        ck_assert_ptr_nonnull(strstr(text, "\"decoder_start_token_id\": 0"));
        ck_assert_ptr_nonnull(strstr(text, "\"_from_model_config\": true"));
        free(text);
        /* reload: the same logits, bit for bit */
        mlm_model *m2 = NULL;
        ck_assert_msg(mlm_model_load(dir, &m2) == MLM_OK, "%s", mlm_last_error());
        int32_t ids[6] = {5, 9, 3, 1, 40, 1}, dids[4] = {0, 7, 8, 2};
        float a[4 * 97], b[4 * 97];
        ck_assert_int_eq(mlm_model_seq2seq_forward(m, 1, ids, NULL, 1, 6, dids, NULL, 4, NULL, a),
                         MLM_OK);
        ck_assert_int_eq(mlm_model_seq2seq_forward(m2, 1, ids, NULL, 1, 6, dids, NULL, 4, NULL, b),
                         MLM_OK);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        ck_assert_int_eq(mlm_model_num_parameters(m), mlm_model_num_parameters(m2));
        mlm_model_free(m2);
        mlm_model_free(m);
        test_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* T5PreTrainedModel._init_weights: each kind's std (factor 1), within the
 * sampling error of its count (4 standard errors of a std estimate,
 * 4·std/√(2n)); layer norms exactly the factor. */
START_TEST(random_init_as_hf)
{
    const char *cfg = "{\"model_type\":\"t5\",\"vocab_size\":300,\"d_model\":64,\"d_kv\":16,"
                      "\"num_heads\":2,\"d_ff\":96,\"num_layers\":1,\"num_decoder_layers\":1,"
                      "\"tie_word_embeddings\":false,\"feed_forward_proj\":\"gated-gelu\","
                      "\"initializer_factor\":1.0}";
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 42, &m), MLM_OK);
    const t5_model *tm = t5_of(m);
    double C = 64, D = 16, H = 2, F = 96;
    for (size_t i = 0; i < tm->n_params; i++) {
        const param_desc *p = &tm->params[i];
        const float *x = *p->slot;
        double want;
        const char *n = p->name;
        if (strstr(n, "layer_norm")) {
            for (size_t k = 0; k < p->numel; k++)
                ck_assert_msg(x[k] == 1.0f, "%s", n);
            continue;
        }
        if (!strcmp(n, "shared.weight") || !strcmp(n, "lm_head.weight"))
            want = 1.0;
        else if (strstr(n, ".q.weight"))
            want = 1 / sqrt(C * D);
        else if (strstr(n, ".k.weight") || strstr(n, ".v.weight") || strstr(n, "wi_0") ||
                 strstr(n, "wi_1") || strstr(n, "relative_attention_bias"))
            want = 1 / sqrt(C);
        else if (strstr(n, ".o.weight"))
            want = 1 / sqrt(H * D);
        else if (strstr(n, ".wo.weight"))
            want = 1 / sqrt(F);
        else
            ck_abort_msg("unexpected parameter %s", n);
        double s = 0, s2 = 0;
        for (size_t k = 0; k < p->numel; k++) {
            s += x[k];
            s2 += (double)x[k] * x[k];
        }
        double mean = s / p->numel, sd = sqrt(s2 / p->numel - mean * mean);
        double tol = 4 * want / sqrt(2.0 * p->numel);
        ck_assert_msg(fabs(sd - want) <= tol, "%s: std %g, want %g ± %g", n, sd, want, tol);
    }
    /* the same seed gives the same model; the head is distinct from shared */
    ck_assert_ptr_ne(tm->w.lm_head, tm->w.shared);
    mlm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- families */

START_TEST(functions_of_the_other_family_fail_clearly)
{
    mlm_model *t5 = tiny_t5(0, 1);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/models/tiny-bert", test_root());
    mlm_model *bert = NULL;
    ck_assert_int_eq(mlm_model_load(dir, &bert), MLM_OK);
    ck_assert_int_eq(mlm_model_family(bert), MLM_FAMILY_ENCODER_MLM);
    int32_t ids[3] = {1, 2, 3};
    float out[3 * 1000];
    ck_assert_int_eq(mlm_model_forward(t5, 1, ids, NULL, NULL, 1, 3, NULL, 0, out),
                     MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "mlm_model_forward: 't5' is an encoder-decoder"));
    ck_assert_int_eq(mlm_model_hidden_states(t5, 1, ids, NULL, NULL, 1, 3, out),
                     MLM_ERR_UNSUPPORTED);
    ck_assert_int_eq(mlm_model_encode(bert, 1, ids, NULL, 1, 3, out), MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "'bert' is an encoder masked-LM"));
    ck_assert_int_eq(mlm_model_seq2seq_forward(bert, 1, ids, NULL, 1, 3, ids, NULL, 3, NULL, out),
                     MLM_ERR_UNSUPPORTED);
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(bert, &g), MLM_ERR_UNSUPPORTED);
    mlm_generation *r = NULL;
    ck_assert_int_eq(mlm_generate(bert, NULL, 1, ids, NULL, 1, 3, &r), MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_null(r);
    /* the fill-mask pipeline and the trainer need an encoder masked-LM */
    mlm_tokenizer *tok = NULL;
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/tests/data/tokenizers/bert-base-uncased", test_root());
    ck_assert_int_eq(mlm_tokenizer_load(tdir, &tok), MLM_OK);
    mlm_pipeline *p = NULL;
    ck_assert_int_eq(mlm_pipeline_new(t5, tok, &p), MLM_ERR_UNSUPPORTED);
    mlm_summarizer *s = NULL;
    ck_assert_int_eq(mlm_summarizer_new(bert, tok, &s), MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "summarization needs an encoder-decoder"));
    ck_assert_int_eq(mlm_summarizer_load(dir, &s), MLM_ERR_UNSUPPORTED);
    /* ids outside the vocabulary */
    int32_t big[3] = {1, 97, 3};
    ck_assert_int_eq(mlm_model_encode(t5, 1, big, NULL, 1, 3, out), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "input_ids[1] = 97"));
    mlm_tokenizer_free(tok);
    mlm_model_free(bert);
    mlm_model_free(t5);
}
END_TEST

/* A checkpoint without lm_head.weight for an untied config: initialised with a
 * warning, as HF does; another missing tensor: an error naming it. A tied
 * checkpoint may hold the embedding under a stack's embed_tokens name. */
START_TEST(load_missing_and_aliased_tensors)
{
    mlm_model *m = tiny_t5(1, 3);
    char *dir = test_tmpdir();
    ck_assert_int_eq(mlm_model_save(m, dir), MLM_OK);
    char path[1024], out[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    /* rewrite without lm_head.weight, shared.weight renamed */
    st_writer *w = NULL;
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (!strcmp(t->name, "lm_head.weight"))
            continue;
        const char *name = strcmp(t->name, "shared.weight") ? t->name
                                                             : "encoder.embed_tokens.weight";
        ck_assert_int_eq(st_writer_add(w, name, t->dtype, t->ndim, t->shape, t->data), MLM_OK);
    }
    snprintf(out, sizeof out, "%s/model.safetensors.new", dir);
    ck_assert_int_eq(st_writer_save(w, out), MLM_OK);
    st_writer_free(w);
    st_close(f);
    ck_assert_int_eq(rename(out, path), 0);
    mlm_model *m2 = NULL;
    ck_assert_msg(mlm_model_load(dir, &m2) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq((int)mlm_model_n_warnings(m2), 1);
    ck_assert_ptr_nonnull(strstr(mlm_model_warning(m2, 0), "lm_head.weight"));
    ck_assert_int_eq(memcmp(t5_of(m2)->w.shared, t5_of(m)->w.shared, 97 * 16 * sizeof(float)), 0);
    mlm_model_free(m2);
    /* a missing block tensor is an error naming it */
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (strcmp(t->name, "decoder.block.1.layer.1.EncDecAttention.k.weight") != 0)
            ck_assert_int_eq(st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data),
                             MLM_OK);
    }
    ck_assert_int_eq(st_writer_save(w, out), MLM_OK);
    st_writer_free(w);
    st_close(f);
    ck_assert_int_eq(rename(out, path), 0);
    ck_assert_int_eq(mlm_model_load(dir, &m2), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "decoder.block.1.layer.1.EncDecAttention.k.weight"));
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- cached decoding */

static double max_abs(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        m = d > m || isnan(d) ? (isnan(d) ? INFINITY : d) : m;
    }
    return m;
}

/* The cached steps, fed the teacher-forced tokens, give the teacher-forced
 * logits (see the error model at the top), with padded inputs, 1 and 2
 * threads, and after a beam-style reorder (rows swapped and forked). */
START_TEST(cached_steps_match_teacher_forced)
{
    enum { B = 2, S = 9, T = 14, V = 97 };
    mlm_model *m = tiny_t5(_i, 11 + (uint64_t)_i);
    const s2s_ops *s2s = m->family->s2s;
    int32_t ids[B * S], mask[B * S], dids[B * T];
    for (int i = 0; i < B * S; i++) {
        ids[i] = 2 + (i * 37) % 95;
        mask[i] = !(i / S == 1 && i % S >= 6);
    }
    for (int i = 0; i < B * T; i++)
        dids[i] = i % T == 0 ? 0 : 2 + (i * 53) % 95;
    float *full = malloc((size_t)B * T * V * sizeof *full);
    float *enc = malloc((size_t)B * S * 16 * sizeof *enc);
    float step[B * V];
    for (int nthreads = 1; nthreads <= 2; nthreads++) {
        ck_assert_int_eq(mlm_model_seq2seq_forward(m, nthreads, ids, mask, B, S, dids, NULL, T,
                                                   enc, full),
                         MLM_OK);
        ops_ctx ctx;
        ops_ctx_init(&ctx, nthreads);
        s2s_state *st = NULL;
        ck_assert_int_eq(s2s->state_new(m, &ctx, enc, mask, B, S, 1, T, &st), MLM_OK);
        double worst = 0;
        for (int t = 0; t < T; t++) {
            int32_t tok[B] = {dids[t], dids[T + t]};
            ck_assert_int_eq(s2s->step(st, &ctx, tok, step), MLM_OK);
            for (int b = 0; b < B; b++) {
                double d = max_abs(step + b * V, full + ((size_t)b * T + t) * V, V);
                worst = d > worst ? d : worst;
            }
        }
        ck_assert_msg(worst <= CACHE_TOL, "cached vs teacher-forced: %g", worst);
        fprintf(stderr, "t5 %s, %d threads: cached vs teacher-forced max |Δ| %.2e\n",
                _i ? "v1.1" : "v1.0", nthreads, worst);
        ck_assert_int_eq(s2s->step(st, &ctx, dids, step), MLM_ERR_STATE); /* all steps used */
        s2s->state_free(st);
    }
    /* Reorder: 2 rows per input; after 5 steps row 1 of each input continues
     * row 0 (a fork) and input 1's rows swap first. Row r then sees the
     * history of its source: compare with a fresh state fed those tokens. */
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    s2s_state *st = NULL, *ref = NULL;
    ck_assert_int_eq(s2s->state_new(m, &ctx, enc, mask, B, S, 2, T, &st), MLM_OK);
    ck_assert_int_eq(s2s->state_new(m, &ctx, enc, mask, B, S, 2, T, &ref), MLM_OK);
    int32_t hist[4][T];
    float a[4 * V], r4[4 * V];
    for (int t = 0; t < 8; t++) {
        int32_t tok[4];
        for (int r = 0; r < 4; r++)
            tok[r] = t == 0 ? 0 : 2 + (r * 13 + t * 7) % 95;
        if (t == 5) {
            int32_t src[4] = {0, 0, 3, 2};
            ck_assert_int_eq(s2s->reorder(st, src), MLM_OK);
            int32_t copy[4][T];
            memcpy(copy, hist, sizeof copy);
            for (int r = 0; r < 4; r++)
                memcpy(hist[r], copy[src[r]], sizeof hist[r]);
        }
        for (int r = 0; r < 4; r++)
            hist[r][t] = tok[r];
        ck_assert_int_eq(s2s->step(st, &ctx, tok, a), MLM_OK);
    }
    for (int t = 0; t < 8; t++) {
        int32_t tok[4] = {hist[0][t], hist[1][t], hist[2][t], hist[3][t]};
        ck_assert_int_eq(s2s->step(ref, &ctx, tok, r4), MLM_OK);
    }
    ck_assert_msg(max_abs(a, r4, 4 * V) == 0, "reordered cache differs by %g", max_abs(a, r4, 4 * V));
    int32_t cross[4] = {2, 0, 1, 3};
    ck_assert_int_eq(s2s->reorder(st, cross), MLM_ERR_INVALID_ARGUMENT); /* across inputs */
    s2s->state_free(st);
    s2s->state_free(ref);
    free(full);
    free(enc);
    mlm_model_free(m);
}
END_TEST

/* The first step of rows alike within each input (beam search's start:
 * every row from the decoder start token) runs once per input and copies
 * the result: each row's logits then equal those of a state with one row
 * per input, and the next step, with a different token in every row,
 * finds each row's cache as its own. Reduced weights bit for bit (their
 * products do not depend on the row count); fp32 within the cache bound
 * (its products' rounding may depend on the row count). */
START_TEST(alike_first_step_matches_rows_alone)
{
    enum { B = 2, S = 7, P = 3, V = 97 };
    static const mlm_dtype dts[] = {MLM_DTYPE_F32, MLM_DTYPE_INT8, MLM_DTYPE_BF16};
    for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++) {
        mlm_model *m = tiny_t5(_i, 31 + (uint64_t)_i);
        ck_assert_int_eq(mlm_model_set_dtype(m, dts[di]), MLM_OK);
        const s2s_ops *s2s = m->family->s2s;
        int32_t ids[B * S], mask[B * S];
        for (int i = 0; i < B * S; i++) {
            ids[i] = 2 + (i * 41) % 95;
            mask[i] = !(i / S == 1 && i % S >= 5);
        }
        float *enc = malloc((size_t)B * S * 16 * sizeof *enc);
        ck_assert_int_eq(mlm_model_encode(m, 2, ids, mask, B, S, enc), MLM_OK);
        ops_ctx ctx;
        ops_ctx_init(&ctx, 2);
        s2s_state *many = NULL, *one[P] = {NULL};
        ck_assert_int_eq(s2s->state_new(m, &ctx, enc, mask, B, S, P, 2, &many), MLM_OK);
        for (int j = 0; j < P; j++)
            ck_assert_int_eq(s2s->state_new(m, &ctx, enc, mask, B, S, 1, 2, &one[j]), MLM_OK);
        float lm[B * P * V], l1[B * V];
        double tol = dts[di] == MLM_DTYPE_F32 ? CACHE_TOL : 0.0;
        for (int t = 0; t < 2; t++) {
            int32_t tm[B * P], t1[B];
            for (int r = 0; r < B * P; r++)   /* step 1: a different token per row */
                tm[r] = t == 0 ? 0 : 3 + r * 7;
            ck_assert_int_eq(s2s->step(many, &ctx, tm, lm), MLM_OK);
            for (int j = 0; j < P; j++) {
                for (int b = 0; b < B; b++)
                    t1[b] = tm[b * P + j];
                ck_assert_int_eq(s2s->step(one[j], &ctx, t1, l1), MLM_OK);
                for (int b = 0; b < B; b++) {
                    double d = max_abs(lm + ((size_t)b * P + j) * V, l1 + (size_t)b * V, V);
                    ck_assert_msg(d <= tol, "%s step %d input %d row %d: |Δ| %g",
                                  mlm_dtype_name(dts[di]), t, b, j, d);
                }
            }
        }
        s2s->state_free(many);
        for (int j = 0; j < P; j++)
            s2s->state_free(one[j]);
        free(enc);
        mlm_model_free(m);
    }
}
END_TEST

/* Greedy generate() (cached) picks, at every step, the argmax of the
 * teacher-forced forward over the prefix it generated: recomputing the whole
 * prefix gives the same ids. */
START_TEST(greedy_matches_full_recomputation)
{
    enum { B = 2, S = 9, V = 97 };
    mlm_model *m = tiny_t5(_i, 21 + (uint64_t)_i);
    int32_t ids[B * S], mask[B * S];
    for (int i = 0; i < B * S; i++) {
        ids[i] = 2 + (i * 29) % 95;
        mask[i] = !(i / S == 0 && i % S >= 7);
    }
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "max_new_tokens", "12"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "eos_token_id", "null"), MLM_OK);
    mlm_generation *r = NULL;
    ck_assert_msg(mlm_generate(m, g, 1, ids, mask, B, S, &r) == MLM_OK, "%s", mlm_last_error());
    size_t L = mlm_generation_sequence_length(r);
    ck_assert_int_eq((int)L, 13);
    const int32_t *seq = mlm_generation_sequences(r);
    float *logits = malloc((size_t)B * L * V * sizeof *logits);
    for (size_t t = 1; t < L; t++) {
        int32_t dids[B * 13];
        for (int b = 0; b < B; b++)
            memcpy(dids + b * t, seq + b * L, t * sizeof *dids);
        ck_assert_int_eq(mlm_model_seq2seq_forward(m, 1, ids, mask, B, S, dids, NULL, t, NULL,
                                                   logits),
                         MLM_OK);
        for (int b = 0; b < B; b++) {
            const float *row = logits + ((size_t)b * t + t - 1) * V;
            int32_t idx[2];
            float val[2];
            ck_assert_int_eq(mlm_topk(row, V, 2, idx, val), MLM_OK);
            ck_assert_msg(val[0] - val[1] > 2 * CACHE_TOL, "ill-posed step (gap %g)",
                          val[0] - val[1]);
            ck_assert_int_eq(idx[0], seq[b * L + t]);
        }
    }
    free(logits);
    mlm_generation_free(r);
    mlm_generation_config_free(g);
    mlm_model_free(m);
}
END_TEST

Suite *t5_suite(void)
{
    Suite *s = suite_create("t5");
    TCase *tc = tcase_create("t5");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_defaults_and_effective_values);
    tcase_add_test(tc, relative_position_buckets);
    tcase_add_test(tc, save_load_round_trip_names);
    tcase_add_test(tc, random_init_as_hf);
    tcase_add_test(tc, functions_of_the_other_family_fail_clearly);
    tcase_add_test(tc, load_missing_and_aliased_tensors);
    tcase_add_loop_test(tc, cached_steps_match_teacher_forced, 0, 2);
    tcase_add_loop_test(tc, alike_first_step_matches_rows_alone, 0, 2);
    tcase_add_loop_test(tc, greedy_matches_full_recomputation, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
