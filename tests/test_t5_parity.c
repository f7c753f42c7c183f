/* T5 and generate() against the PyTorch reference (tests/reference/
 * make_t5.py, t5_models.py, t5_generate.py: transformers 4.56's
 * semantics). The tiny goldens are committed (tests/data/goldens/t5-tiny-
 * v1.0, t5-tiny-v1.1, t5-caikit); their checkpoints, and the t5-small-shaped
 * ones with their goldens, are made by the reference at test time, so these
 * tests need /usr/bin/python3 with torch and skip without it.
 *
 * Error model (u = 2^-24, λ = 8 as in test_model.c: a K-term float32 sum
 * rounds within λ·√K·u·Σ|terms| of the exact one, in any order, except with
 * probability < 2·exp(−λ²/2)).
 * - Logits: the head's own product (K = d_model) rounds within
 *   λ·√d·u·S_i in each implementation, S_i = Σ_k |h_k|·|W_ik| (h the
 *   decoder's output as the head sees it, from the golden); what reaches h
 *   from the blocks below is of the same order after the final RMS norm
 *   (each block's products are bounded the same way and the norm rescales
 *   the stream), so logit i may differ by 2·4·λ·√d·u·S_i, plus 1e-4 for the
 *   tiny values where S_i is small. On the tiny models this is ~1e-4
 *   (d_model 40: 8·8·6.3·6e-8·S_i with S_i ≲ 20); at the t5-small shape,
 *   whose untied head has N(0, 1) weights and logits up to ~100 (torch's own
 *   float32 run is 5.7e-5 off its float64 run there), it is ~1e-3. A wrong
 *   formula is off by O(0.1..10).
 * - Encoder states: outputs of an RMS norm (|x| ≲ 4) after products of
 *   K ≤ d_ff terms: 4·λ·√K·u·max|x| per block and the norm's own rounding;
 *   1e-4 for the tiny shape, 4·λ·√2048·u·4 ≈ 4e-4 at t5-small.
 * - Generated ids: identical. The reference keeps only cases whose every
 *   decision (greedy top-1 vs top-2, each beam comparison) has a relative
 *   margin ≥ 1e-5 (generate.json's margin_rule, smallest_kept_margin),
 *   and whose ids its float64 run reproduces; our scores differ from its by
 *   about the logits' tolerance over max|logit| ≲ 1e-5 relative, below the
 *   margins.
 * - sequences_scores: a sum of n log-probabilities, each within 2·δ of the
 *   reference's (log_softmax moves by the logit's error and the largest
 *   one's), δ the logits' tolerance: 2·n·δ / len^lp ≤ 2·n·δ for lp ≥ 0;
 *   2·n·δ·n for the negative penalties (len ≤ n).
 * - Sampling's first-step distribution (top-k/top-p, temperature): the kept
 *   ids equal, probabilities within 2·δ·p relative (softmax moves by the
 *   differences of the logits), where the reference's random draws cannot
 *   be compared (its generator is torch's). */
#include "suites.h"
#include "testutil.h"
#include "golden.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generation/generation_impl.h"
#include "io/safetensors.h"
#include "nn/t5.h"

#define LAMBDA 8.0
#define U 0x1p-24

typedef struct parity {
    double max_logit_diff, logit_tol_used;
    double max_enc_diff;
    int cases, identical;
    double max_score_diff;
} parity;

static char *reference(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 tests/reference/make_t5.py %s 2>&1",
             test_root(), args);
    int status = 0;
    char *out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "reference failed (%s): %s", args, out ? out : "");
    return out;
}

static cJSON *read_json(const char *path)
{
    size_t len = 0;
    char *text = test_read_file(path, &len);
    ck_assert_msg(text, "%s", path);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    ck_assert_msg(doc, "%s: not JSON", path);
    free(text);
    return doc;
}

/* The checkpoint is the one the goldens were made from. */
static void check_sha(const char *model_dir, const cJSON *fwd)
{
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(fwd, "checkpoint_sha256");
    if (!cJSON_IsString(want))
        return;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sha256sum '%s/model.safetensors'", model_dir);
    char *out = test_run(cmd, NULL);
    ck_assert_msg(out && !strncmp(out, want->valuestring, 64),
                  "the reference made another checkpoint than its goldens' (%s)", model_dir);
    free(out);
}

/* ---------------------------------------------------------------- forward */

static void check_forward(const mlm_model *m, const char *golden_dir, parity *pr)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/forward.safetensors", golden_dir);
    st_file *f = NULL;
    ck_assert_msg(st_open(path, &f) == MLM_OK, "%s", mlm_last_error());
    const st_tensor *lt = st_find(f, "logits");
    int B = (int)lt->shape[0], T = (int)lt->shape[1], V = (int)lt->shape[2];
    int S = (int)st_find(f, "input_ids")->shape[1], C = mlm_model_hidden_size(m);
    int32_t *ids = golden_i32(f, "input_ids", NULL), *mask = golden_i32(f, "attention_mask", NULL);
    int32_t *dids = golden_i32(f, "decoder_input_ids", NULL);
    int32_t *dmask = golden_i32(f, "decoder_attention_mask", NULL);
    const float *ref = golden_f32(f, "logits", (size_t)B * T * V, NULL);
    const float *eref = golden_f32(f, "encoder_last_hidden_state", (size_t)B * S * C, NULL);
    const float *href = golden_f32(f, "decoder_last_hidden_state", (size_t)B * T * C, NULL);
    float *logits = malloc((size_t)B * T * V * sizeof *logits);
    float *enc = malloc((size_t)B * S * C * sizeof *enc);
    const t5_model *tm = t5_of(m);
    /* the head sees h·d^-0.5 when tied */
    double hscale = tm->d.tied ? 1.0 / sqrt((double)C) : 1.0;
    int big = C > 100;
    double enc_tol = big ? 4 * LAMBDA * sqrt((double)tm->d.F) * U * 4 : 1e-4;
    for (int nthreads = 1; nthreads <= 2; nthreads++) {
        ck_assert_int_eq(mlm_model_seq2seq_forward(m, nthreads, ids, mask, B, S, dids, dmask, T,
                                                   enc, logits),
                         MLM_OK);
        double de = 0, dl = 0, worst_ratio = 0;
        for (size_t i = 0; i < (size_t)B * S * C; i++)
            de = fmax(de, fabs((double)enc[i] - eref[i]));
        for (int r = 0; r < B * T; r++) {
            const float *h = href + (size_t)r * C;
            for (int v = 0; v < V; v++) {
                const float *w = tm->w.lm_head + (size_t)v * C;
                double s = 0;
                for (int k = 0; k < C; k++)
                    s += fabs(h[k] * hscale) * fabs(w[k]);
                double tol = 1e-4 + 2 * 4 * LAMBDA * sqrt((double)C) * U * s;
                double d = fabs((double)logits[(size_t)r * V + v] - ref[(size_t)r * V + v]);
                ck_assert_msg(d <= tol, "logit (%d, %d): %.9g vs %.9g, |Δ| %g > %g", r, v,
                              logits[(size_t)r * V + v], ref[(size_t)r * V + v], d, tol);
                dl = fmax(dl, d);
                worst_ratio = fmax(worst_ratio, d / tol);
                pr->logit_tol_used = fmax(pr->logit_tol_used, tol);
            }
        }
        ck_assert_msg(de <= enc_tol, "encoder states differ by %g > %g", de, enc_tol);
        pr->max_logit_diff = fmax(pr->max_logit_diff, dl);
        pr->max_enc_diff = fmax(pr->max_enc_diff, de);
        fprintf(stderr, "  forward (%d threads): max |Δ| encoder %.2e, logits %.2e (%.0f%% of "
                        "the bound at worst)\n",
                nthreads, de, dl, 100 * worst_ratio);
    }
    /* relative position buckets and the position bias of each stack */
    size_t n = 0;
    int32_t *bb = golden_i32(f, "relative_buckets.bidirectional", &n);
    int32_t *bc = golden_i32(f, "relative_buckets.causal", NULL);
    int R = (int)n / 2;
    for (int r = -R; r <= R; r++) {
        ck_assert_int_eq(t5_bucket(r, 1, tm->d.NB, tm->d.max_dist), bb[r + R]);
        ck_assert_int_eq(t5_bucket(r, 0, tm->d.NB, tm->d.max_dist), bc[r + R]);
    }
    const float *pb = golden_f32(f, "encoder_position_bias", (size_t)tm->d.H * S * S, NULL);
    for (int h = 0; h < tm->d.H; h++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                int b = t5_bucket(j - i, 1, tm->d.NB, tm->d.max_dist);
                ck_assert(pb[((size_t)h * S + i) * S + j] == tm->w.enc_rel[(size_t)b * tm->d.H + h]);
            }
    free(bb);
    free(bc);
    free(ids);
    free(mask);
    free(dids);
    free(dmask);
    free(logits);
    free(enc);
    st_close(f);
}

/* ---------------------------------------------------------------- generate */

static int32_t *json_ids(const cJSON *rows, size_t *nrows, size_t *ncols)
{
    *nrows = (size_t)cJSON_GetArraySize(rows);
    *ncols = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(rows, 0));
    int32_t *out = malloc(*nrows * *ncols * sizeof *out);
    size_t k = 0;
    const cJSON *row, *x;
    cJSON_ArrayForEach(row, rows)
    {
        ck_assert_int_eq(cJSON_GetArraySize(row), (int)*ncols);
        cJSON_ArrayForEach(x, row) out[k++] = (int32_t)x->valuedouble;
    }
    return out;
}

/* One case of generate.json: its options over the model's defaults, on its
 * batch; ids identical, scores within 2·n·δ (n generated tokens). */
static void check_case(const mlm_model *m, const cJSON *doc, const cJSON *c, double delta,
                       int nthreads, parity *pr)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *batch = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "batches"),
                                            cJSON_GetObjectItem(c, "batch")->valueint);
    size_t B, S, mb, ms;
    int32_t *ids = json_ids(cJSON_GetObjectItem(batch, "input_ids"), &B, &S);
    int32_t *mask = json_ids(cJSON_GetObjectItem(batch, "attention_mask"), &mb, &ms);
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    const cJSON *opt;
    cJSON_ArrayForEach(opt, cJSON_GetObjectItem(c, "options"))
    {
        char *v = cJSON_PrintUnformatted(opt);
        ck_assert_msg(mlm_generation_config_set(g, opt->string, v) == MLM_OK, "%s: %s=%s: %s",
                      name, opt->string, v, mlm_last_error());
        free(v);
    }
    mlm_generation *r = NULL;
    ck_assert_msg(mlm_generate(m, g, nthreads, ids, mask, B, S, &r) == MLM_OK, "%s: %s", name,
                  mlm_last_error());
    size_t n, L;
    int32_t *want = json_ids(cJSON_GetObjectItem(c, "sequences"), &n, &L);
    size_t gotn = mlm_generation_num_sequences(r), gotL = mlm_generation_sequence_length(r);
    int same = gotn == n && gotL == L &&
               !memcmp(mlm_generation_sequences(r), want, n * L * sizeof *want);
    if (!same) {
        const int32_t *s = mlm_generation_sequences(r);
        for (size_t i = 0; i < gotn && i < n; i++) {
            fprintf(stderr, "  %s row %zu\n    ours:", name, i);
            for (size_t j = 0; j < gotL; j++)
                fprintf(stderr, " %d", (int)s[i * gotL + j]);
            fprintf(stderr, "\n    ref: ");
            for (size_t j = 0; j < L; j++)
                fprintf(stderr, " %d", (int)want[i * L + j]);
            fprintf(stderr, "\n");
        }
    }
    ck_assert_msg(same, "%s: sequences differ (%zu x %zu vs %zu x %zu)", name, gotn, gotL, n, L);
    const cJSON *sc = cJSON_GetObjectItem(c, "sequences_scores");
    if (cJSON_IsArray(sc)) {
        const float *got = mlm_generation_sequences_scores(r);
        ck_assert_msg(got, "%s: no sequences_scores", name);
        const cJSON *lp = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "resolved"),
                                              "length_penalty");
        double steps = (double)L - 1, tol = 2 * steps * delta;
        if (cJSON_IsNumber(lp) && lp->valuedouble < 0)
            tol *= steps;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - cJSON_GetArrayItem(sc, (int)i)->valuedouble);
            ck_assert_msg(d <= tol, "%s: score %zu differs by %g > %g", name, i, d, tol);
            pr->max_score_diff = fmax(pr->max_score_diff, d);
        }
    }
    pr->cases++;
    pr->identical += same;
    free(want);
    free(ids);
    free(mask);
    mlm_generation_free(r);
    mlm_generation_config_free(g);
}

/* The first step's processed distribution of a sampling case. */
static void check_sampling_step1(const mlm_model *m, const cJSON *doc, const cJSON *c,
                                 double delta)
{
    const cJSON *batch = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "batches"),
                                            cJSON_GetObjectItem(c, "batch")->valueint);
    size_t B, S, mb, ms;
    int32_t *ids = json_ids(cJSON_GetObjectItem(batch, "input_ids"), &B, &S);
    int32_t *mask = json_ids(cJSON_GetObjectItem(batch, "attention_mask"), &mb, &ms);
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    const cJSON *opt;
    cJSON_ArrayForEach(opt, cJSON_GetObjectItem(c, "options"))
    {
        char *v = cJSON_PrintUnformatted(opt);
        ck_assert_int_eq(mlm_generation_config_set(g, opt->string, v), MLM_OK);
        free(v);
    }
    int V = mlm_model_vocab_size(m), C = mlm_model_hidden_size(m);
    gen_plan p;
    gen_warnings w = {0};
    ck_assert_int_eq(gen_plan_make(g, V, &p, &w), MLM_OK);
    gen_warnings_free(&w);
    const s2s_ops *s2s = m->family->s2s;
    ops_ctx ctx;
    ops_ctx_init(&ctx, 1);
    float *enc = malloc(B * S * (size_t)C * sizeof *enc);
    float *logits = malloc(B * (size_t)V * sizeof *logits), *scratch = malloc(2 * (size_t)V * 4);
    ck_assert_int_eq(s2s->encode(m, &ctx, ids, mask, (int)B, (int)S, enc), MLM_OK);
    s2s_state *st = NULL;
    ck_assert_int_eq(s2s->state_new(m, &ctx, enc, mask, (int)B, (int)S, 1, 1, &st), MLM_OK);
    int32_t *tok = malloc(B * sizeof *tok);
    for (size_t b = 0; b < B; b++)
        tok[b] = p.start;
    ck_assert_int_eq(s2s->step(st, &ctx, tok, logits), MLM_OK);
    const cJSON *rows = cJSON_GetObjectItem(c, "step1");
    for (size_t b = 0; b < B; b++) {
        float *s = logits + b * V;
        gen_process_row(&p, &p.start, 1, s, V, scratch);
        double mx = -INFINITY, sum = 0;
        int kept = 0;
        for (int v = 0; v < V; v++)
            if (!isinf(s[v])) {
                kept++;
                mx = fmax(mx, s[v]);
            }
        for (int v = 0; v < V; v++)
            sum += isinf(s[v]) ? 0 : exp(s[v] - mx);
        const cJSON *row = cJSON_GetArrayItem(rows, (int)b);
        ck_assert_int_eq(kept, cJSON_GetObjectItem(row, "n_kept")->valueint);
        const cJSON *tid = cJSON_GetObjectItem(row, "top_ids");
        const cJSON *tpr = cJSON_GetObjectItem(row, "top_probs");
        for (int k = 0; k < cJSON_GetArraySize(tid); k++) {
            int v = cJSON_GetArrayItem(tid, k)->valueint;
            double want = cJSON_GetArrayItem(tpr, k)->valuedouble;
            ck_assert_msg(!isinf(s[v]), "token %d was kept by the reference", v);
            double got = exp(s[v] - mx) / sum;
            ck_assert_msg(fabs(got - want) <= 2 * delta * want + 1e-7, "p(%d) %g vs %g", v, got,
                          want);
        }
    }
    s2s->state_free(st);
    free(tok);
    free(enc);
    free(logits);
    free(scratch);
    free(ids);
    free(mask);
    mlm_generation_config_free(g);
}

/* Every case of a generate.json (or the named ones), and its sampling cases. */
static void check_generate(const mlm_model *m, const char *golden_dir, double delta,
                           const char *const *only, parity *pr)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/generate.json", golden_dir);
    cJSON *doc = read_json(path);
    const cJSON *c;
    int k = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases"))
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        int want = !only;
        for (size_t i = 0; only && only[i]; i++)
            want |= !strcmp(only[i], name);
        if (want)
            check_case(m, doc, c, delta, 1 + (k++ % 2), pr);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "sampling")) check_sampling_step1(m, doc, c, delta);
    cJSON_Delete(doc);
}

/* ---------------------------------------------------------------- tests */

static const char *const tiny_goldens[] = {"t5-tiny-v1.0", "t5-tiny-v1.1", "t5-caikit"};
static const char *const tiny_make[] = {"checkpoint v1.0 tiny", "checkpoint v1.1 tiny", "caikit"};

/* The tiny checkpoints (both styles, and the real caikit tiny T5): logits
 * and encoder states on a padded batch, buckets and position bias, and the
 * whole generation grid (greedy, beam 2/4 x length_penalty 0.6/1/2 x
 * early_stopping true/false/never x no_repeat_ngram_size 0/3, min_new_tokens,
 * num_return_sequences 1/2, processors, sampling's distribution). */
START_TEST(tiny_t5_matches_reference)
{
    if (!have_torch()) {
        fprintf(stderr, "skip %s: python3-torch is not installed (/usr/bin/python3 cannot "
                        "import torch; make deps-golden installs it)\n", __func__);
        return;
    }
    char *dir = test_tmpdir(), args[4096], golden[2048];
    snprintf(args, sizeof args, "%s '%s/model'", tiny_make[_i], dir);
    free(reference(args));
    snprintf(golden, sizeof golden, "%s/tests/data/goldens/%s", test_root(), tiny_goldens[_i]);
    snprintf(args, sizeof args, "%s/forward.json", golden);
    cJSON *fwd = read_json(args);
    snprintf(args, sizeof args, "%s/model", dir);
    check_sha(args, fwd);
    cJSON_Delete(fwd);
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(args, &m) == MLM_OK, "%s", mlm_last_error());
    parity pr = {0};
    fprintf(stderr, "%s:\n", tiny_goldens[_i]);
    check_forward(m, golden, &pr);
    check_generate(m, golden, pr.logit_tol_used, NULL, &pr);
    fprintf(stderr, "  generate: %d/%d cases identical ids, max |Δ sequences_scores| %.2e\n",
            pr.identical, pr.cases, pr.max_score_diff);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* t5-small-shaped checkpoints of both styles with the real t5-small
 * tokenizer, made with their goldens by the reference at test time (~45 s
 * each, the two run at once): logits, and a few points of the grid. */
START_TEST(t5_small_shape_matches_reference)
{
    static const char *const points[] = {
        "greedy-defaults", "greedy-no_repeat_ngram_3", "greedy-min_new_tokens",
        "beam2-lp0.6-estrue-nr0", "beam4-lp1.0-esfalse-nr3", "beam4-lp2.0-esnever-nr0",
        "beam4-summarization-like", "beam3-eos_list", NULL};
    if (!have_torch()) {
        fprintf(stderr, "skip %s: python3-torch is not installed (/usr/bin/python3 cannot "
                        "import torch; make deps-golden installs it)\n", __func__);
        return;
    }
    char *dir = test_tmpdir(), cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for s in v1.0 v1.1; do (/usr/bin/python3 tests/reference/make_t5.py "
             "checkpoint $s t5-small \"%s/m$s\" && /usr/bin/python3 tests/reference/make_t5.py "
             "goldens \"%s/m$s\" \"%s/g$s\" --quick) > \"%s/log$s\" 2>&1 & done; wait; "
             "cat '%s/logv1.0' '%s/logv1.1'",
             test_root(), dir, dir, dir, dir, dir, dir);
    char *out = test_run(cmd, NULL);
    for (int i = 0; i < 2; i++) {
        const char *style = i ? "v1.1" : "v1.0";
        char mdir[2048], gdir[2048];
        snprintf(mdir, sizeof mdir, "%s/m%s", dir, style);
        snprintf(gdir, sizeof gdir, "%s/g%s", dir, style);
        snprintf(cmd, sizeof cmd, "%s/generate.json", gdir);
        FILE *probe = fopen(cmd, "r");
        ck_assert_msg(probe, "reference failed: %s", out ? out : "");
        fclose(probe);
        mlm_model *m = NULL;
        ck_assert_msg(mlm_model_load(mdir, &m) == MLM_OK, "%s", mlm_last_error());
        parity pr = {0};
        fprintf(stderr, "t5-small shape %s:\n", style);
        check_forward(m, gdir, &pr);
        check_generate(m, gdir, pr.logit_tol_used, points, &pr);
        ck_assert_int_ge(pr.cases, 6);
        fprintf(stderr, "  generate: %d/%d cases identical ids, max |Δ sequences_scores| %.2e\n",
                pr.identical, pr.cases, pr.max_score_diff);
        mlm_model_free(m);
    }
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *t5_parity_suite(void)
{
    Suite *s = suite_create("t5_parity");
    TCase *tc = tcase_create("t5_parity");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, tiny_t5_matches_reference, 0, 3);
    suite_add_tcase(s, tc);
    /* Not per forced CPU path (no "numerics" tag): the reference's two
     * t5-small-shaped runs take ~45 s; the tiny models cover the paths. */
    TCase *big = tcase_create("t5_parity_small_shape");
    tcase_set_timeout(big, 300);
    tcase_add_test(big, t5_small_shape_matches_reference);
    suite_add_tcase(s, big);
    return s;
}
