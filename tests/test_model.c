/* Models against the PyTorch reference (tests/reference/): the goldens under
 * tests/data/goldens/ were produced by make_goldens.py from the checkpoints
 * under tests/data/models/.
 *
 * Error model. Ours (on any CPU path: vector level, BLIS kernel set) and
 * torch's are two float32 evaluations of the same sums in other orders. A
 * sum of K products rounds to within λ·√K·u·Σ|terms| of the exact one (u =
 * 2^-24), whatever the order, except with probability < 2·exp(−λ²/2) per
 * element (Higham & Mary 2019's probabilistic bound; the worst case K·u is
 * not attained by rounding that does not conspire); λ = 8.
 * - Hidden states and logits: 1e-4 absolute. The tiny models' products have
 *   K ≤ 37 (hidden 32, FFN 37): 8·√37·u = 2.9e-6 of Σ|a||b| each, for
 *   either implementation. Their inputs are LayerNorm outputs (RMS ~1) or
 *   of that size, and weights of std ≤ 0.2, so Σ|a||b| ≲ 37·0.8·0.16 ≈ 5
 *   and each product rounds by ≲ 1.5e-5; ~8 products per layer feed a
 *   LayerNorm that renormalises rather than amplifies, and the difference
 *   of two such evaluations over 2-3 layers and the head stays below 1e-4.
 *   (torch's own float32 and float64 runs differ by ≤ 2.4e-6: forward.json.)
 *   A wrong formula is O(1e-2..1) off.
 * - Top-5 ids: exact, which needs the reference's ranked logits to be more
 *   than 2·1e-4 apart (min_logit_gap_among_top6 in forward.json: ≥ 9.8e-4).
 * - Scores p = softmax(logits): |Δp| ≤ p·2·max|Δlogit| ≤ 2e-4·p from the
 *   logits' tolerance, plus torch's float32 softmax, whose sum over V terms
 *   rounds by ≤ 8·√V·u relative: tolerance p·(2e-4 + 8·√V·u). */
#include "suites.h"
#include "testutil.h"
#include "golden.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

/* Hidden states and logits, absolute (see the top). */
#define LOGIT_TOL 1e-4

typedef struct golden {
    st_file *f;
    int B, T, V, C;
    int32_t *ids, *mask, *types, *fm_pos, *fm_ids;
    float *fm_scores;
    int n_masks;
} golden;



static void golden_open(golden *g, const char *model)
{
    char path[1024];
    memset(g, 0, sizeof *g);
    snprintf(path, sizeof path, "%s/tests/data/goldens/%s/forward.safetensors", test_root(), model);
    ck_assert_msg(st_open(path, &g->f) == MLM_OK, "%s: %s", path, mlm_last_error());
    const st_tensor *logits = st_find(g->f, "logits");
    ck_assert_ptr_nonnull(logits);
    g->B = (int)logits->shape[0];
    g->T = (int)logits->shape[1];
    g->V = (int)logits->shape[2];
    g->C = (int)st_find(g->f, "last_hidden_state")->shape[2];
    g->ids = golden_i32(g->f, "input_ids", NULL);
    g->mask = golden_i32(g->f, "attention_mask", NULL);
    g->types = golden_i32(g->f, "token_type_ids", NULL);
    size_t n = 0;
    int32_t *pos2 = golden_i32(g->f, "fill_mask.positions", &n);
    g->n_masks = (int)(n / 2);
    g->fm_pos = malloc((size_t)g->n_masks * sizeof *g->fm_pos);
    for (int i = 0; i < g->n_masks; i++)
        g->fm_pos[i] = pos2[2 * i] * g->T + pos2[2 * i + 1];
    free(pos2);
    g->fm_ids = golden_i32(g->f, "fill_mask.top5_ids", NULL);
    g->fm_scores = (float *)golden_f32(g->f, "fill_mask.top5_scores", 0, NULL);
}

static void golden_close(golden *g)
{
    free(g->ids);
    free(g->mask);
    free(g->types);
    free(g->fm_pos);
    free(g->fm_ids);
    st_close(g->f);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) /* NaN counts as the largest difference */
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static mlm_model *load_model(const char *name)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/models/%s", test_root(), name);
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(dir, &m) == MLM_OK, "%s: %s", dir, mlm_last_error());
    return m;
}

/* Hidden states, all logits, and logits at the mask positions only, with 1
 * and 2 threads, against the reference. */
static void check_forward(const mlm_model *m, const golden *g, int nthreads)
{
    size_t N = (size_t)g->B * g->T;
    float *hidden = malloc(N * g->C * sizeof *hidden);
    float *logits = malloc(N * g->V * sizeof *logits);
    ck_assert_int_eq(mlm_model_hidden_states(m, nthreads, g->ids, g->mask, g->types, g->B, g->T,
                                             hidden),
                     MLM_OK);
    double d = max_abs_diff(hidden, golden_f32(g->f, "last_hidden_state", 0, NULL), N * g->C);
    ck_assert_msg(d <= LOGIT_TOL, "last_hidden_state differs by %g", d);
    ck_assert_int_eq(mlm_model_forward(m, nthreads, g->ids, g->mask, g->types, g->B, g->T, NULL,
                                       0, logits),
                     MLM_OK);
    const float *ref = golden_f32(g->f, "logits", 0, NULL);
    double dh = d;
    d = max_abs_diff(logits, ref, N * g->V);
    ck_assert_msg(d <= LOGIT_TOL, "logits differ by %g", d);
    fprintf(stderr, "forward (%d threads): max |Δ| hidden %.2e, logits %.2e\n", nthreads, dh, d);

    /* The head only at the masks: the same rows, and the reference's top 5. */
    float *at = malloc((size_t)g->n_masks * g->V * sizeof *at);
    ck_assert_int_eq(mlm_model_forward(m, nthreads, g->ids, g->mask, g->types, g->B, g->T,
                                       g->fm_pos, (size_t)g->n_masks, at),
                     MLM_OK);
    for (int i = 0; i < g->n_masks; i++) {
        const float *row = at + (size_t)i * g->V;
        double score_rtol = 2 * LOGIT_TOL + 8 * sqrt((double)g->V) / 16777216.0;
        d = max_abs_diff(row, ref + (size_t)g->fm_pos[i] * g->V, (size_t)g->V);
        ck_assert_msg(d <= LOGIT_TOL, "mask %d: logits differ by %g", i, d);
        int32_t idx[5];
        ck_assert_int_eq(mlm_topk(row, (size_t)g->V, 5, idx, NULL), MLM_OK);
        double mx = row[idx[0]], sum = 0;
        for (int v = 0; v < g->V; v++)
            sum += exp((double)row[v] - mx);
        for (int k = 0; k < 5; k++) {
            ck_assert_int_eq(idx[k], g->fm_ids[i * 5 + k]);
            double score = exp((double)row[idx[k]] - mx) / sum;
            double want = g->fm_scores[i * 5 + k];
            ck_assert_msg(fabs(score - want) <= score_rtol * want, "score %.9g vs %.9g", score,
                          want);
        }
    }
    free(at);
    free(hidden);
    free(logits);
}

static const char *const parity_models[] = {"tiny-bert", "tiny-roberta", "tiny-distilbert"};

/* The top-5 ids are compared exactly: the reference's ranked logits must be
 * further apart than two implementations may differ. */
static void assert_ranking_well_posed(const char *model)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/tests/data/goldens/%s/forward.json", test_root(), model);
    char *text = test_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *gap = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "fill_mask"), "min_logit_gap_among_top6");
    ck_assert_msg(cJSON_IsNumber(gap) && gap->valuedouble > 2 * LOGIT_TOL,
                  "%s: ranked logits closer than 2·%g", model, LOGIT_TOL);
    cJSON_Delete(root);
    free(text);
}

START_TEST(forward_matches_reference)
{
    const char *name = parity_models[_i];
    golden g;
    golden_open(&g, name);
    mlm_model *m = load_model(name);
    assert_ranking_well_posed(name);
    check_forward(m, &g, 1);
    check_forward(m, &g, 2);
    mlm_model_free(m);
    golden_close(&g);
}
END_TEST

/* gamma/beta names, position_ids buffer, pooler, NSP head and a stored copy
 * of the tied decoder: the same model as tiny-bert. */
START_TEST(legacy_checkpoint_loads_as_tiny_bert)
{
    golden g;
    golden_open(&g, "tiny-bert");
    mlm_model *m = load_model("tiny-bert-legacy");
    ck_assert_int_eq((int)mlm_model_n_warnings(m), 0);
    check_forward(m, &g, 1);
    mlm_model_free(m);
    golden_close(&g);
}
END_TEST

/* Save, reload: bit-identical outputs, one copy of the tied weights, HF's
 * names. */
START_TEST(save_load_round_trip)
{
    const char *name = parity_models[_i];
    golden g;
    golden_open(&g, name);
    mlm_model *m = load_model(name);
    char *dir = test_tmpdir();
    ck_assert_int_eq(mlm_model_save(m, dir), MLM_OK);
    mlm_model *m2 = NULL;
    ck_assert_msg(mlm_model_load(dir, &m2) == MLM_OK, "%s", mlm_last_error());
    size_t n = (size_t)g.B * g.T * g.V;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    ck_assert_int_eq(mlm_model_forward(m, 1, g.ids, g.mask, g.types, g.B, g.T, NULL, 0, a), MLM_OK);
    ck_assert_int_eq(mlm_model_forward(m2, 1, g.ids, g.mask, g.types, g.B, g.T, NULL, 0, b), MLM_OK);
    ck_assert_int_eq(memcmp(a, b, n * sizeof *a), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    ck_assert_ptr_null(st_find(f, "cls.predictions.decoder.weight"));
    ck_assert_ptr_null(st_find(f, "lm_head.decoder.weight"));
    ck_assert_ptr_null(st_find(f, "vocab_projector.weight"));
    ck_assert_str_eq(st_metadata(f, "format"), "pt");
    ck_assert_int_eq((int64_t)0, mlm_model_num_parameters(m) - mlm_model_num_parameters(m2));
    st_close(f);
    free(a);
    free(b);
    mlm_model_free(m2);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
    golden_close(&g);
}
END_TEST

/* A checkpoint saved by libmlm loads in the reference with the same outputs:
 * needs /usr/bin/python3 with torch (make deps-golden); skipped otherwise. */
START_TEST(reference_loads_our_checkpoint)
{
    int status = 0;
    if (!have_torch()) {
        fprintf(stderr, "skip %s: python3-torch is not installed (/usr/bin/python3 cannot import torch; make deps-golden installs it)\n",
                __func__);
        return;
    }
    /* The reference's batch for a BERT directory uses tiny-bert's special
     * ids (pad 0 ... mask 4) and a pair with token types. */
    const char *cfg = "{\"model_type\": \"bert\", \"vocab_size\": 211, \"hidden_size\": 24, "
                      "\"num_hidden_layers\": 2, \"num_attention_heads\": 3, "
                      "\"intermediate_size\": 29, \"max_position_embeddings\": 40, "
                      "\"hidden_act\": \"gelu_new\", \"initializer_range\": 0.3}";
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 7, &m), MLM_OK);
    char *dir = test_tmpdir();
    char model_dir[1024], out_dir[1024], cmd[4096];
    snprintf(model_dir, sizeof model_dir, "%s/model", dir);
    snprintf(out_dir, sizeof out_dir, "%s/golden", dir);
    ck_assert_int_eq(mlm_model_save(m, model_dir), MLM_OK);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && /usr/bin/python3 tests/reference/make_goldens.py forward '%s' '%s' 2>&1",
             test_root(), model_dir, out_dir);
    char *out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "reference failed: %s", out ? out : "");
    free(out);
    char path[1200];
    snprintf(path, sizeof path, "%s/forward.safetensors", out_dir);
    golden g;
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(st_open(path, &g.f), MLM_OK);
    const st_tensor *lt = st_find(g.f, "logits");
    g.B = (int)lt->shape[0];
    g.T = (int)lt->shape[1];
    g.V = (int)lt->shape[2];
    g.ids = golden_i32(g.f, "input_ids", NULL);
    g.mask = golden_i32(g.f, "attention_mask", NULL);
    g.types = golden_i32(g.f, "token_type_ids", NULL);
    size_t n = (size_t)g.B * g.T * g.V;
    float *logits = malloc(n * sizeof *logits);
    ck_assert_int_eq(mlm_model_forward(m, 1, g.ids, g.mask, g.types, g.B, g.T, NULL, 0, logits),
                     MLM_OK);
    double d = max_abs_diff(logits, golden_f32(g.f, "logits", 0, NULL), n);
    ck_assert_msg(d <= LOGIT_TOL, "logits differ by %g", d);
    free(logits);
    free(g.ids);
    free(g.mask);
    free(g.types);
    st_close(g.f);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
END_TEST


/* The tiny real checkpoint in tests/data/models (a BertForSequenceClassification,
 * pickled): converted to safetensors by the reference (torch), then its
 * encoder's last hidden states against the committed golden. */
START_TEST(real_caikit_checkpoint_encoder)
{
    char buf[1024];
    REQUIRE_TEST_DATA(src, "models/tiny-random-bert-caikit/pytorch_model.bin", buf);
    (void)src;
    if (!have_torch()) {
        fprintf(stderr, "skip %s: python3-torch is not installed (/usr/bin/python3 cannot import torch; make deps-golden installs it)\n",
                __func__);
        return;
    }
    char *dir = test_tmpdir();
    char cmd[4096];
    int status = 0;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && /usr/bin/python3 tests/reference/make_checkpoints.py caikit '%s/m' 2>&1",
             test_root(), dir);
    char *out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "conversion failed: %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s/m", dir);
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(cmd, &m) == MLM_OK, "%s", mlm_last_error());
    /* No MLM head in a sequence classifier: initialised, and said so. */
    ck_assert_int_eq((int)mlm_model_n_warnings(m), 1);
    golden g;
    memset(&g, 0, sizeof g);
    snprintf(cmd, sizeof cmd, "%s/tests/data/goldens/caikit-bert/forward.safetensors", test_root());
    ck_assert_int_eq(st_open(cmd, &g.f), MLM_OK);
    const st_tensor *h = st_find(g.f, "last_hidden_state");
    g.B = (int)h->shape[0];
    g.T = (int)h->shape[1];
    g.C = (int)h->shape[2];
    g.ids = golden_i32(g.f, "input_ids", NULL);
    g.mask = golden_i32(g.f, "attention_mask", NULL);
    g.types = golden_i32(g.f, "token_type_ids", NULL);
    size_t n = (size_t)g.B * g.T * g.C;
    float *hidden = malloc(n * sizeof *hidden);
    ck_assert_int_eq(mlm_model_hidden_states(m, 2, g.ids, g.mask, g.types, g.B, g.T, hidden),
                     MLM_OK);
    double d = max_abs_diff(hidden, golden_f32(g.f, "last_hidden_state", 0, NULL), n);
    ck_assert_msg(d <= LOGIT_TOL, "last_hidden_state differs by %g", d);
    free(hidden);
    golden_close(&g);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* HF's initialisation: normal(0, range) weights, zero padding row, zero
 * biases, LayerNorm ones; deterministic in the seed. */
START_TEST(random_init_as_hf)
{
    const char *cfg = "{\"model_type\": \"bert\", \"vocab_size\": 3000, \"hidden_size\": 64, "
                      "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
                      "\"intermediate_size\": 128, \"initializer_range\": 0.02}";
    mlm_model *a = NULL, *b = NULL, *c = NULL;
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 1, &a), MLM_OK);
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 1, &b), MLM_OK);
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 2, &c), MLM_OK);
    ck_assert_str_eq(mlm_model_type(a), "bert");
    ck_assert_int_eq(mlm_model_max_length(a), 512);
    char *dir = test_tmpdir();
    char path[1024];
    ck_assert_int_eq(mlm_model_save(a, dir), MLM_OK);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    size_t n;
    const float *emb = golden_f32(f, "bert.embeddings.word_embeddings.weight", 0, &n);
    ck_assert_int_eq((int)n, 3000 * 64);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += emb[i];
        s2 += (double)emb[i] * emb[i];
    }
    for (int j = 0; j < 64; j++) /* pad_token_id 0: the padding row is zero */
        ck_assert_float_eq(emb[j], 0.0f);
    double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
    ck_assert_msg(fabs(mean) < 1e-3 && fabs(sd - 0.02) < 0.02 * 0.02, "mean %g sd %g", mean, sd);
    const float *ln = golden_f32(f, "bert.encoder.layer.0.output.LayerNorm.weight", 0, &n);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(ln[i], 1.0f);
    const float *bias = golden_f32(f, "cls.predictions.bias", 0, &n);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(bias[i], 0.0f);
    st_close(f);
    /* Same seed, same model; another seed, another. */
    int32_t ids[4] = {2, 10, 20, 3};
    float la[3000], lb[3000], lc[3000];
    int32_t pos = 1;
    ck_assert_int_eq(mlm_model_forward(a, 1, ids, NULL, NULL, 1, 4, &pos, 1, la), MLM_OK);
    ck_assert_int_eq(mlm_model_forward(b, 1, ids, NULL, NULL, 1, 4, &pos, 1, lb), MLM_OK);
    ck_assert_int_eq(mlm_model_forward(c, 1, ids, NULL, NULL, 1, 4, &pos, 1, lc), MLM_OK);
    ck_assert_int_eq(memcmp(la, lb, sizeof la), 0);
    ck_assert_int_ne(memcmp(la, lc, sizeof la), 0);
    mlm_model_free(a);
    mlm_model_free(b);
    mlm_model_free(c);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(load_errors_are_clear)
{
    char *dir = test_tmpdir();
    char path[1024];
    mlm_model *m = (mlm_model *)1;
    /* No config.json. */
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "config.json"));
    /* A pickle only: refused, with the way out. */
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{\"model_type\": \"bert\", \"vocab_size\": 50, \"hidden_size\": 8, "
                     "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                     "\"intermediate_size\": 16}");
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    write_text(path, "PK");
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "safetensors"));
    /* A checkpoint whose shapes disagree with the config. */
    char src[1024], cmd[4096];
    snprintf(src, sizeof src, "%s/tests/data/models/tiny-bert/model.safetensors", test_root());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/model.safetensors'", src, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "bert.embeddings.word_embeddings.weight"));
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "[1013, 32]"));
    ck_assert_ptr_null(m);
    /* An unsupported activation names the key. */
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{\"model_type\": \"bert\", \"hidden_act\": \"mish\"}");
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "hidden_act"));
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(forward_rejects_bad_input)
{
    mlm_model *m = load_model("tiny-roberta");
    int32_t ids[3] = {0, 5000, 2};
    float logits[1031 * 3];
    ck_assert_int_eq(mlm_model_forward(m, 1, ids, NULL, NULL, 1, 3, NULL, 0, logits), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "input_ids[1] = 5000"));
    ids[1] = 7;
    ck_assert_int_eq(mlm_model_forward(m, 0, ids, NULL, NULL, 1, 3, NULL, 0, logits),
                     MLM_ERR_INVALID_ARGUMENT);
    int32_t pos = 3;
    ck_assert_int_eq(mlm_model_forward(m, 1, ids, NULL, NULL, 1, 3, &pos, 1, logits), MLM_ERR_RANGE);
    /* 66 positions, pad 1: 64 tokens at most. */
    ck_assert_int_eq(mlm_model_max_length(m), 64);
    int32_t *longer = calloc(65, sizeof *longer);
    ck_assert_int_eq(mlm_model_forward(m, 1, longer, NULL, NULL, 1, 65, &pos, 1, logits),
                     MLM_ERR_RANGE);
    free(longer);
    mlm_model_free(m);
}
END_TEST

/* A batch of more rows than the head takes at once (1024): every row's
 * logits as when its sequence runs alone (one chunk), through both the
 * all-rows path and the positions path (gathered rows, in another order). */
START_TEST(forward_head_in_chunks)
{
    const char *cfg =
        "{\"model_type\":\"bert\",\"vocab_size\":37,\"hidden_size\":16,\"num_hidden_layers\":1,"
        "\"num_attention_heads\":2,\"intermediate_size\":32,\"max_position_embeddings\":400,"
        "\"type_vocab_size\":2,\"pad_token_id\":0}";
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 3, &m), MLM_OK);
    enum { B = 4, T = 300, V = 37, N = B * T };
    int32_t *ids = malloc(N * sizeof *ids), *pos = malloc(N * sizeof *pos);
    for (int i = 0; i < N; i++) {
        ids[i] = 1 + (i * 7 + i / 13) % (V - 1);
        pos[i] = N - 1 - i;
    }
    float *all = malloc((size_t)N * V * sizeof *all), *rev = malloc((size_t)N * V * sizeof *rev);
    float *one = malloc((size_t)T * V * sizeof *one);
    ck_assert_int_eq(mlm_model_forward(m, 1, ids, NULL, NULL, B, T, NULL, 0, all), MLM_OK);
    ck_assert_int_eq(mlm_model_forward(m, 1, ids, NULL, NULL, B, T, pos, N, rev), MLM_OK);
    for (int b = 0; b < B; b++) {
        ck_assert_int_eq(mlm_model_forward(m, 1, ids + b * T, NULL, NULL, 1, T, NULL, 0, one),
                         MLM_OK);
        for (int t = 0; t < T; t++)
            for (int v = 0; v < V; v++) {
                size_t row = (size_t)b * T + t;
                float want = one[(size_t)t * V + v];
                /* Other row counts may block the products differently
                 * (BLIS; our AVX-512 kernels' rows do not depend on M):
                 * each of the ~8 products (K ≤ 32) may round by 2·8·√K·u
                 * = 5.4e-6 of its Σ|a||b|, which with weights of std 0.02
                 * and LayerNorm outputs of RMS 1 is ≲ 32·0.8·0.016 = 0.4:
                 * ≲ 2e-6 a product, ≤ 1e-5 over the chain. */
                float tol = 1e-5f * (1.0f + fabsf(want));
                ck_assert_msg(fabsf(all[row * V + v] - want) <= tol, "row %zu vocab %d", row, v);
                ck_assert_msg(fabsf(rev[(N - 1 - row) * V + v] - want) <= tol,
                              "position %zu vocab %d", N - 1 - row, v);
            }
    }
    free(ids);
    free(pos);
    free(all);
    free(rev);
    free(one);
    mlm_model_free(m);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, forward_matches_reference, 0, 3);
    tcase_add_test(tc, legacy_checkpoint_loads_as_tiny_bert);
    tcase_add_loop_test(tc, save_load_round_trip, 0, 3);
    tcase_add_test(tc, reference_loads_our_checkpoint);
    tcase_add_test(tc, real_caikit_checkpoint_encoder);
    tcase_add_test(tc, random_init_as_hf);
    tcase_add_test(tc, load_errors_are_clear);
    tcase_add_test(tc, forward_rejects_bad_input);
    tcase_add_test(tc, forward_head_in_chunks);
    suite_add_tcase(s, tc);
    return s;
}
