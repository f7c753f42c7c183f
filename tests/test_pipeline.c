/* The fill-mask pipeline against transformers' FillMaskPipeline.
 *
 * Goldens: tests/data/goldens/fill_mask/<model>.json, written by
 * tests/gen_fill_mask_goldens.js (HF's tokenizer through its Node binding +
 * the PyTorch reference + transformers' post-processing) for the committed
 * random checkpoints tests/data/models/tiny-roberta-50k and tiny-bert-30k.
 * Their tokenizers are the real roberta-base and bert-base-uncased ones in
 * tests/data/tokenizers: each test assembles a model directory under /tmp
 * with symlinks. */
#include <cjson/cJSON.h>
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlm.h"
#include "suites.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;     /* assembled model directory (tmp) */
    cJSON *golden; /* the golden document */
    const char *mask;
} fixture;

static const struct {
    const char *model, *tokenizer, *mask;
} MODELS[2] = {
    {"tiny-roberta-50k", "tokenizers/roberta-base/tokenizer.json", "<mask>"},
    {"tiny-bert-30k", "tokenizers/bert-base-uncased/tokenizer.json", "[MASK]"},
};

/* Assembles the model directory of MODELS[which] and reads its golden. */
static void fixture_open(int which, fixture *fx)
{
    char buf[4096], src[4096], dst[4096];
    memset(fx, 0, sizeof *fx);
    const char *tok = test_data_path(MODELS[which].tokenizer, buf, sizeof buf);
    fx->dir = test_tmpdir();
    ck_assert_ptr_nonnull(fx->dir);
    static const char *const files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/tests/data/models/%s/%s", test_root(), MODELS[which].model,
                 files[i]);
        snprintf(dst, sizeof dst, "%s/%s", fx->dir, files[i]);
        ck_assert_int_eq(symlink(src, dst), 0);
    }
    snprintf(dst, sizeof dst, "%s/tokenizer.json", fx->dir);
    ck_assert_int_eq(symlink(tok, dst), 0);
    snprintf(src, sizeof src, "%s/tests/data/goldens/fill_mask/%s.json", test_root(),
             MODELS[which].model);
    char *text = test_read_file(src, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", src);
    fx->golden = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(fx->golden);
    fx->mask = MODELS[which].mask;
}

static void fixture_close(fixture *fx)
{
    cJSON_Delete(fx->golden);
    if (fx->dir) {
        test_rmtree(fx->dir);
        free(fx->dir);
    }
}

static mlm_pipeline *load_pipeline(const fixture *fx)
{
    mlm_pipeline *p = NULL;
    mlm_status st = mlm_pipeline_load(fx->dir, &p);
    ck_assert_msg(st == MLM_OK, "mlm_pipeline_load: %s", mlm_last_error());
    return p;
}

static const cJSON *cases(const fixture *fx)
{
    return cJSON_GetObjectItemCaseSensitive(fx->golden, "cases");
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsString(v), "golden field %s", key);
    return v->valuestring;
}

static int jint(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "golden field %s", key);
    return v->valueint;
}

/* The golden's predictions of mask m (its output is a flat list for one
 * mask, a list of lists for several). */
static const cJSON *golden_row(const cJSON *c, size_t m)
{
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(c, "output");
    const cJSON *first = cJSON_GetArrayItem(out, 0);
    if (cJSON_IsObject(first))
        return m == 0 ? out : NULL;
    return cJSON_GetArrayItem(out, (int)m);
}

static size_t golden_n_masks(const cJSON *c)
{
    return (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "mask_positions"));
}

/* Scores: float32 softmax of logits that agree with PyTorch to ~1e-5; far
 * down the tail (targets) a probability's relative error is the logit's
 * absolute error, hence the relative bound too. */
static void check_score(double got, double want, const char *what)
{
    ck_assert_msg(fabs(got - want) <= 1e-5 && fabs(got - want) <= 1e-6 + 1e-3 * fabs(want),
                  "%s: score %.9g, want %.9g", what, got, want);
}

/* r against the golden case c, the first `limit` predictions of each mask
 * (all of the golden's when limit is 0). */
static void check_result(const mlm_fill_result *r, const cJSON *c, size_t limit)
{
    const char *name = jstr(c, "name");
    size_t masks = golden_n_masks(c);
    ck_assert_msg(mlm_fill_result_n_masks(r) == masks, "%s: %zu masks, want %zu", name,
                  mlm_fill_result_n_masks(r), masks);
    for (size_t m = 0; m < masks; m++) {
        const cJSON *row = golden_row(c, m);
        size_t n = (size_t)cJSON_GetArraySize(row);
        if (limit && n > limit)
            n = limit;
        if (!limit)
            ck_assert_msg(mlm_fill_result_n_predictions(r, m) == n, "%s: mask %zu: %zu, want %zu",
                          name, m, mlm_fill_result_n_predictions(r, m), n);
        for (size_t k = 0; k < n; k++) {
            const cJSON *want = cJSON_GetArrayItem(row, (int)k);
            char what[160];
            snprintf(what, sizeof what, "%s mask %zu k %zu", name, m, k);
            ck_assert_msg(mlm_fill_result_token(r, m, k) == jint(want, "token"),
                          "%s: token %d, want %d", what, (int)mlm_fill_result_token(r, m, k),
                          jint(want, "token"));
            check_score(mlm_fill_result_score(r, m, k),
                        cJSON_GetObjectItemCaseSensitive(want, "score")->valuedouble, what);
            ck_assert_msg(!strcmp(mlm_fill_result_token_str(r, m, k), jstr(want, "token_str")),
                          "%s: token_str '%s', want '%s'", what, mlm_fill_result_token_str(r, m, k),
                          jstr(want, "token_str"));
            ck_assert_msg(!strcmp(mlm_fill_result_sequence(r, m, k), jstr(want, "sequence")),
                          "%s: sequence '%s', want '%s'", what, mlm_fill_result_sequence(r, m, k),
                          jstr(want, "sequence"));
        }
    }
}

/* The golden's targets as a C array (pointers into the document). */
static size_t golden_targets(const cJSON *c, const char **out, size_t cap)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "targets");
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, t)
    {
        ck_assert(n < cap);
        out[n++] = e->valuestring;
    }
    return n;
}

static mlm_fill_result *run_case(const mlm_pipeline *p, const cJSON *c)
{
    const char *targets[16];
    size_t nt = golden_targets(c, targets, 16);
    mlm_fill_result *r = NULL;
    mlm_status st = nt ? mlm_fill_mask_targets(p, jstr(c, "text"), targets, nt, jint(c, "top_k"), &r)
                       : mlm_fill_mask(p, jstr(c, "text"), jint(c, "top_k"), &r);
    ck_assert_msg(st == MLM_OK, "%s: %s", jstr(c, "name"), mlm_last_error());
    return r;
}

/* ------------------------------------------------------------ goldens */

START_TEST(test_goldens)
{
    fixture fx;
    fixture_open(_i, &fx);
    mlm_pipeline *p = load_pipeline(&fx);
    const cJSON *c;
    int n = 0, with_targets = 0, multi = 0;
    cJSON_ArrayForEach(c, cases(&fx))
    {
        mlm_fill_result *r = run_case(p, c);
        check_result(r, c, 0);
        /* Warnings: exactly HF's logger.warning lines, in order. */
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "warnings");
        size_t nw = (size_t)cJSON_GetArraySize(w);
        ck_assert_msg(mlm_fill_result_n_warnings(r) == nw, "%s: %zu warnings, want %zu",
                      jstr(c, "name"), mlm_fill_result_n_warnings(r), nw);
        for (size_t i = 0; i < nw; i++)
            ck_assert_str_eq(mlm_fill_result_warning(r, i),
                             cJSON_GetArrayItem(w, (int)i)->valuestring);
        ck_assert_ptr_null(mlm_fill_result_warning(r, nw));
        with_targets += cJSON_GetObjectItemCaseSensitive(c, "targets") != NULL;
        multi += golden_n_masks(c) > 1;
        mlm_fill_result_free(r);
        n++;
    }
    ck_assert_int_ge(n, 12);
    ck_assert_int_ge(with_targets, 2);
    ck_assert_int_ge(multi, 3);
    mlm_pipeline_free(p);
    fixture_close(&fx);
}
END_TEST

/* Every text without targets in one padded batch: equal to one by one (ids,
 * strings exact; scores to float noise) and to the goldens. */
START_TEST(test_goldens_batch)
{
    fixture fx;
    fixture_open(_i, &fx);
    mlm_pipeline *p = load_pipeline(&fx);
    const char *texts[64];
    const cJSON *which[64];
    size_t n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases(&fx))
    {
        if (cJSON_GetObjectItemCaseSensitive(c, "targets"))
            continue;
        which[n] = c;
        texts[n++] = jstr(c, "text");
    }
    enum { K = 5 };
    mlm_fill_result *batch[64];
    ck_assert_msg(mlm_fill_mask_batch(p, texts, n, K, batch) == MLM_OK, "%s", mlm_last_error());
    for (size_t i = 0; i < n; i++) {
        mlm_fill_result *one = NULL;
        ck_assert_int_eq(mlm_fill_mask(p, texts[i], K, &one), MLM_OK);
        ck_assert_uint_eq(mlm_fill_result_n_masks(batch[i]), mlm_fill_result_n_masks(one));
        for (size_t m = 0; m < mlm_fill_result_n_masks(one); m++) {
            ck_assert_uint_eq(mlm_fill_result_n_predictions(batch[i], m), K);
            for (size_t k = 0; k < K; k++) {
                ck_assert_int_eq(mlm_fill_result_token(batch[i], m, k),
                                 mlm_fill_result_token(one, m, k));
                ck_assert_float_eq_tol(mlm_fill_result_score(batch[i], m, k),
                                       mlm_fill_result_score(one, m, k), 1e-6);
                ck_assert_str_eq(mlm_fill_result_token_str(batch[i], m, k),
                                 mlm_fill_result_token_str(one, m, k));
                ck_assert_str_eq(mlm_fill_result_sequence(batch[i], m, k),
                                 mlm_fill_result_sequence(one, m, k));
            }
        }
        check_result(batch[i], which[i], K);
        mlm_fill_result_free(one);
        mlm_fill_result_free(batch[i]);
    }
    /* n = 0 is a no-op; a bad text names its index and returns nothing. */
    ck_assert_int_eq(mlm_fill_mask_batch(p, texts, 0, K, batch), MLM_OK);
    const char *bad[3] = {texts[0], "no mask here", texts[1]};
    batch[0] = batch[1] = batch[2] = (mlm_fill_result *)1;
    ck_assert_int_eq(mlm_fill_mask_batch(p, bad, 3, K, batch), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(mlm_last_error(), "text 1") != NULL, "%s", mlm_last_error());
    ck_assert_ptr_null(batch[0]);
    ck_assert_ptr_null(batch[2]);
    mlm_pipeline_free(p);
    fixture_close(&fx);
}
END_TEST

/* cJSON value equal to the golden (scores with tolerance). */
static void check_json_value(const cJSON *got, const cJSON *want, const char *path)
{
    ck_assert_msg(got != NULL, "%s: missing", path);
    if (cJSON_IsArray(want)) {
        ck_assert_msg(cJSON_IsArray(got), "%s: not a list", path);
        ck_assert_int_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want));
        for (int i = 0; i < cJSON_GetArraySize(want); i++)
            check_json_value(cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i), path);
    } else if (cJSON_IsObject(want)) {
        ck_assert_msg(cJSON_IsObject(got), "%s: not a dict", path);
        ck_assert_int_eq(cJSON_GetArraySize(got), 4);
        static const char *const keys[4] = {"score", "token", "token_str", "sequence"};
        for (int i = 0; i < 4; i++) {
            /* HF's order of keys, too. */
            ck_assert_str_eq(cJSON_GetArrayItem(got, i)->string, keys[i]);
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, keys[i]);
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, keys[i]);
            if (i == 0)
                check_score(g->valuedouble, w->valuedouble, path);
            else
                check_json_value(g, w, path);
        }
    } else if (cJSON_IsString(want)) {
        ck_assert_msg(cJSON_IsString(got) && !strcmp(got->valuestring, want->valuestring),
                      "%s: '%s', want '%s'", path, cJSON_IsString(got) ? got->valuestring : "?",
                      want->valuestring);
    } else {
        ck_assert_msg(cJSON_IsNumber(got) && got->valuedouble == want->valuedouble, "%s", path);
    }
}

START_TEST(test_json)
{
    fixture fx;
    fixture_open(_i, &fx);
    mlm_pipeline *p = load_pipeline(&fx);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases(&fx))
    {
        mlm_fill_result *r = run_case(p, c);
        size_t needed = 0;
        ck_assert_int_eq(mlm_fill_result_to_json(r, NULL, 0, &needed), MLM_OK);
        ck_assert_uint_gt(needed, 2);
        char *buf = malloc(needed);
        size_t again = 0;
        ck_assert_int_eq(mlm_fill_result_to_json(r, buf, needed, &again), MLM_OK);
        ck_assert_uint_eq(again, needed);
        ck_assert_uint_eq(strlen(buf) + 1, needed);
        cJSON *doc = cJSON_Parse(buf);
        ck_assert_msg(doc != NULL, "%s: unparsable JSON %s", jstr(c, "name"), buf);
        check_json_value(doc, cJSON_GetObjectItemCaseSensitive(c, "output"), jstr(c, "name"));
        cJSON_Delete(doc);
        /* Too small a buffer: truncated, NUL-terminated, same size needed. */
        char small[8];
        ck_assert_int_eq(mlm_fill_result_to_json(r, small, sizeof small, &again), MLM_OK);
        ck_assert_uint_eq(again, needed);
        ck_assert_uint_eq(strlen(small), sizeof small - 1);
        ck_assert(!memcmp(small, buf, sizeof small - 1));
        free(buf);
        mlm_fill_result_free(r);
    }
    ck_assert_int_eq(mlm_fill_result_to_json(NULL, NULL, 0, &(size_t){0}), MLM_ERR_INVALID_ARGUMENT);
    mlm_pipeline_free(p);
    fixture_close(&fx);
}
END_TEST

/* encode -> mlm_model_forward at the mask positions -> mlm_topk gives the
 * pipeline's ids, and the goldens' input ids. */
START_TEST(test_lower_level)
{
    fixture fx;
    fixture_open(_i, &fx);
    mlm_model *model = NULL;
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_model_load(fx.dir, &model), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_load(fx.dir, &tok), MLM_OK);
    mlm_pipeline *p = NULL;
    ck_assert_int_eq(mlm_pipeline_new(model, tok, &p), MLM_OK);
    int32_t mask_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK);
    ck_assert_int_eq(mask_id, jint(fx.golden, "mask_id"));
    size_t V = (size_t)mlm_model_vocab_size(model);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases(&fx))
    {
        if (cJSON_GetObjectItemCaseSensitive(c, "targets"))
            continue;
        const char *text = jstr(c, "text");
        mlm_encoding *enc = NULL;
        ck_assert_int_eq(mlm_tokenizer_encode(tok, text, strlen(text), NULL, 0, 1, &enc), MLM_OK);
        size_t T = mlm_encoding_length(enc);
        const int32_t *ids = mlm_encoding_ids(enc);
        const cJSON *want_ids = cJSON_GetObjectItemCaseSensitive(c, "input_ids");
        ck_assert_int_eq((int)T, cJSON_GetArraySize(want_ids));
        int32_t mask[256], pos[16];
        size_t npos = 0;
        for (size_t t = 0; t < T; t++) {
            ck_assert_int_eq(ids[t], cJSON_GetArrayItem(want_ids, (int)t)->valueint);
            mask[t] = 1;
            if (ids[t] == mask_id)
                pos[npos++] = (int32_t)t;
        }
        ck_assert_uint_eq(npos, golden_n_masks(c));
        float *logits = malloc(npos * V * sizeof *logits);
        ck_assert_int_eq(mlm_model_forward(model, 1, ids, mask, NULL, 1, T, pos, npos, logits),
                         MLM_OK);
        mlm_fill_result *r = NULL;
        int k = jint(c, "top_k");
        ck_assert_int_eq(mlm_fill_mask(p, text, k, &r), MLM_OK);
        for (size_t m = 0; m < npos; m++) {
            int32_t idx[8];
            float val[8];
            ck_assert_int_eq(mlm_topk(logits + m * V, V, k, idx, val), MLM_OK);
            for (int j = 0; j < k; j++)
                ck_assert_int_eq(idx[j], mlm_fill_result_token(r, m, (size_t)j));
        }
        mlm_fill_result_free(r);
        free(logits);
        mlm_encoding_free(enc);
    }
    mlm_pipeline_free(p);
    mlm_tokenizer_free(tok);
    mlm_model_free(model);
    fixture_close(&fx);
}
END_TEST

/* ------------------------------------------------------------ errors */

static void expect_error(const mlm_pipeline *p, const char *text, int top_k, mlm_status want,
                         const char *needle)
{
    mlm_fill_result *r = (mlm_fill_result *)1;
    mlm_status st = mlm_fill_mask(p, text, top_k, &r);
    ck_assert_msg(st == want, "'%s': status %d, want %d (%s)", text, st, want, mlm_last_error());
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(mlm_last_error(), needle) != NULL, "'%s': message '%s' lacks '%s'", text,
                  mlm_last_error(), needle);
}

START_TEST(test_errors)
{
    fixture fx;
    fixture_open(_i, &fx);
    mlm_pipeline *p = load_pipeline(&fx);
    char needle[64];
    snprintf(needle, sizeof needle, "No mask_token (%s) found on the input", fx.mask);
    expect_error(p, "There is no mask here.", 5, MLM_ERR_INVALID_ARGUMENT, needle);
    /* The other family's mask is plain text here. */
    expect_error(p, fx.mask[0] == '<' ? "A [MASK] b" : "A <mask> b", 5, MLM_ERR_INVALID_ARGUMENT,
                 needle);
    expect_error(p, "", 5, MLM_ERR_INVALID_ARGUMENT, "empty");
    char bad[64];
    snprintf(bad, sizeof bad, "abc \xff %s", fx.mask);
    expect_error(p, bad, 5, MLM_ERR_FORMAT, "byte offset 4");
    snprintf(bad, sizeof bad, "%s caf\xc3", fx.mask);
    expect_error(p, bad, 5, MLM_ERR_FORMAT, "invalid UTF-8");
    char text[64];
    snprintf(text, sizeof text, "a %s b", fx.mask);
    expect_error(p, text, 0, MLM_ERR_INVALID_ARGUMENT, "top_k");
    expect_error(p, text, -3, MLM_ERR_INVALID_ARGUMENT, "top_k");
    expect_error(p, text, 1 << 20, MLM_ERR_RANGE, "top_k");

    /* Too long: 200 words after the mask. Error by default (as HF, whose
     * model would fail), truncated when asked; a mask cut off is lost. */
    char *lng = malloc(4096), *late = malloc(4096);
    size_t n = (size_t)sprintf(lng, "%s", fx.mask), m = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(lng + n, " word");
    for (int i = 0; i < 200; i++)
        m += (size_t)sprintf(late + m, "word ");
    sprintf(late + m, "%s", fx.mask);
    expect_error(p, lng, 3, MLM_ERR_RANGE, "tokens long");
    mlm_pipeline *pt = load_pipeline(&fx);
    ck_assert_int_eq(mlm_pipeline_set_truncation(pt, 1), MLM_OK);
    mlm_fill_result *r = NULL;
    ck_assert_msg(mlm_fill_mask(pt, lng, 3, &r) == MLM_OK, "%s", mlm_last_error());
    ck_assert_uint_eq(mlm_fill_result_n_masks(r), 1);
    ck_assert_uint_eq(mlm_fill_result_n_predictions(r, 0), 3);
    mlm_fill_result_free(r);
    expect_error(pt, late, 3, MLM_ERR_INVALID_ARGUMENT, needle);
    ck_assert_int_eq(mlm_pipeline_set_truncation(pt, 0), MLM_OK);
    expect_error(pt, lng, 3, MLM_ERR_RANGE, "tokens long");
    mlm_pipeline_free(pt);
    free(lng);
    free(late);

    /* Targets: none, or none that survive. */
    const char *empty[1] = {""};
    r = (mlm_fill_result *)1;
    ck_assert_int_eq(mlm_fill_mask_targets(p, text, empty, 0, 3, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mlm_fill_mask_targets(p, text, empty, 1, 3, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(mlm_last_error(), "At least one target") != NULL, "%s", mlm_last_error());
    const char *null_target[2] = {"a", NULL};
    ck_assert_int_eq(mlm_fill_mask_targets(p, text, null_target, 2, 3, &r),
                     MLM_ERR_INVALID_ARGUMENT);

    /* NULL arguments. */
    ck_assert_int_eq(mlm_fill_mask(NULL, text, 3, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_fill_mask(p, NULL, 3, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_fill_mask(p, text, 3, NULL), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_pipeline_set_threads(p, 0), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_pipeline_set_threads(p, 2), MLM_OK);
    mlm_fill_result_free(NULL);
    mlm_pipeline_free(NULL);
    ck_assert_uint_eq(mlm_fill_result_n_masks(NULL), 0);
    ck_assert_ptr_null(mlm_fill_result_sequence(NULL, 0, 0));
    ck_assert_int_eq(mlm_fill_result_token(NULL, 0, 0), -1);
    mlm_pipeline_free(p);
    fixture_close(&fx);
}
END_TEST

/* tiny-roberta (vocab 1031) cannot score roberta-base's 50265 ids. */
START_TEST(test_vocab_mismatch)
{
    char tokbuf[4096], buf[4096], path[4096];
    REQUIRE_TEST_DATA(tokpath, MODELS[0].tokenizer, tokbuf);
    mlm_model *model = NULL;
    mlm_tokenizer *tok = NULL;
    snprintf(path, sizeof path, "%s/tests/data/models/tiny-roberta", test_root());
    ck_assert_int_eq(mlm_model_load(path, &model), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_load(tokpath, &tok), MLM_OK);
    mlm_pipeline *p = (mlm_pipeline *)1;
    ck_assert_int_eq(mlm_pipeline_new(model, tok, &p), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(mlm_last_error(), "50265") && strstr(mlm_last_error(), "1031"), "%s",
                  mlm_last_error());
    ck_assert_int_eq(mlm_pipeline_new(NULL, tok, &p), MLM_ERR_INVALID_ARGUMENT);
    mlm_tokenizer_free(tok);
    mlm_model_free(model);

    /* The same through mlm_pipeline_load on an assembled directory. */
    char *dir = test_tmpdir();
    snprintf(buf, sizeof buf, "%s/config.json", dir);
    snprintf(path, sizeof path, "%s/tests/data/models/tiny-roberta/config.json", test_root());
    ck_assert_int_eq(symlink(path, buf), 0);
    snprintf(buf, sizeof buf, "%s/model.safetensors", dir);
    snprintf(path, sizeof path, "%s/tests/data/models/tiny-roberta/model.safetensors", test_root());
    ck_assert_int_eq(symlink(path, buf), 0);
    snprintf(buf, sizeof buf, "%s/tokenizer.json", dir);
    ck_assert_int_eq(symlink(tokpath, buf), 0);
    ck_assert_int_eq(mlm_pipeline_load(dir, &p), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(mlm_last_error(), "do not match"), "%s", mlm_last_error());
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ threads */

enum { N_THREADS = 8 };

typedef struct worker {
    const mlm_pipeline *p;
    const char *const *texts;
    size_t n;
    int shift;             /* where this thread starts in texts */
    mlm_fill_result **out; /* n results */
    int ok;
} worker;

static void *work_shifted(void *arg)
{
    worker *w = arg;
    w->ok = 1;
    /* Each thread starts at a different text, so that calls overlap in
     * different phases. */
    for (size_t j = 0; j < w->n; j++) {
        size_t i = (j + (size_t)w->shift) % w->n;
        if (mlm_fill_mask(w->p, w->texts[i], 3, &w->out[i]) != MLM_OK)
            w->ok = 0;
    }
    return NULL;
}

static void same_result(const mlm_fill_result *a, const mlm_fill_result *b)
{
    ck_assert_uint_eq(mlm_fill_result_n_masks(a), mlm_fill_result_n_masks(b));
    for (size_t m = 0; m < mlm_fill_result_n_masks(a); m++) {
        ck_assert_uint_eq(mlm_fill_result_n_predictions(a, m), mlm_fill_result_n_predictions(b, m));
        for (size_t k = 0; k < mlm_fill_result_n_predictions(a, m); k++) {
            ck_assert_int_eq(mlm_fill_result_token(a, m, k), mlm_fill_result_token(b, m, k));
            /* Same code, same inputs, same threads per call: bit-identical. */
            ck_assert(mlm_fill_result_score(a, m, k) == mlm_fill_result_score(b, m, k));
            ck_assert_str_eq(mlm_fill_result_token_str(a, m, k), mlm_fill_result_token_str(b, m, k));
            ck_assert_str_eq(mlm_fill_result_sequence(a, m, k), mlm_fill_result_sequence(b, m, k));
        }
    }
}

/* 8 threads on one pipeline (one model, one tokenizer) at once; each result
 * equals the single-threaded one. Loop 0/1: the two models, one thread per
 * call; 2/3: the same with 2 BLIS threads per call (16 threads in all).
 * Run under ThreadSanitizer by `make check SANITIZE=thread`. */
START_TEST(test_threads)
{
    fixture fx;
    fixture_open(_i % 2, &fx);
    mlm_pipeline *p = load_pipeline(&fx);
    ck_assert_int_eq(mlm_pipeline_set_threads(p, 1 + _i / 2), MLM_OK);
    const char *texts[64];
    size_t n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases(&fx))
    {
        if (!cJSON_GetObjectItemCaseSensitive(c, "targets"))
            texts[n++] = jstr(c, "text");
    }
    mlm_fill_result *ref[64];
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(mlm_fill_mask(p, texts[i], 3, &ref[i]), MLM_OK);
    worker w[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (worker){.p = p, .texts = texts, .n = n, .shift = t,
                        .out = calloc(n, sizeof(mlm_fill_result *))};
        ck_assert_int_eq(pthread_create(&th[t], NULL, work_shifted, &w[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < N_THREADS; t++) {
        ck_assert_msg(w[t].ok, "thread %d failed", t);
        for (size_t i = 0; i < n; i++) {
            same_result(w[t].out[i], ref[i]);
            mlm_fill_result_free(w[t].out[i]);
        }
        free(w[t].out);
    }
    for (size_t i = 0; i < n; i++)
        mlm_fill_result_free(ref[i]);
    mlm_pipeline_free(p);
    fixture_close(&fx);
}
END_TEST

/* ------------------------------------------------------------ CLI, example */

static char *run(const char *cmd, int *status)
{
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(test_cli)
{
    fixture fx;
    fixture_open(0, &fx);
    const cJSON *milky = NULL, *c;
    cJSON_ArrayForEach(c, cases(&fx))
    {
        if (!strcmp(jstr(c, "name"), "milky_way"))
            milky = c;
    }
    ck_assert_ptr_nonnull(milky);
    char cmd[8192];
    int status = -1;
    const char *bin = MLM_BIN;
    /* --top-k 3 --json TEXT: HF's output, first three. */
    snprintf(cmd, sizeof cmd, "'%s/%s' fill-mask --model '%s' --top-k 3 --json '%s'", test_root(),
             bin, fx.dir, jstr(milky, "text"));
    char *out = run(cmd, &status);
    ck_assert_int_eq(status, 0);
    cJSON *doc = cJSON_Parse(out);
    ck_assert_msg(cJSON_IsArray(doc) && cJSON_GetArraySize(doc) == 3, "%s", out);
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(milky, "output");
    for (int k = 0; k < 3; k++) {
        const cJSON *g = cJSON_GetArrayItem(doc, k), *w = cJSON_GetArrayItem(want, k);
        ck_assert_int_eq(jint(g, "token"), jint(w, "token"));
        ck_assert_str_eq(jstr(g, "sequence"), jstr(w, "sequence"));
        check_score(cJSON_GetObjectItemCaseSensitive(g, "score")->valuedouble,
                    cJSON_GetObjectItemCaseSensitive(w, "score")->valuedouble, "cli");
    }
    cJSON_Delete(doc);
    free(out);

    /* --top_k (underscore) is the same option; the plain output has 2 lines. */
    snprintf(cmd, sizeof cmd, "'%s/%s' fill-mask --model '%s' --top_k 2 '%s'", test_root(), bin,
             fx.dir, jstr(milky, "text"));
    out = run(cmd, &status);
    ck_assert_int_eq(status, 0);
    int lines = 0;
    for (const char *s = out; *s; s++)
        lines += *s == '\n';
    ck_assert_int_eq(lines, 2);
    ck_assert_msg(strstr(out, "The Milky Way is a") != NULL, "%s", out);
    free(out);

    /* --targets, with an out-of-vocabulary one: warning on stderr. */
    snprintf(cmd, sizeof cmd,
             "'%s/%s' fill-mask --model '%s' --json --targets 'Ġsmall,Ġbig,zzyzxq' '%s' 2>&1",
             test_root(), bin, fx.dir, jstr(milky, "text"));
    out = run(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_msg(strstr(out, "Replacing with `zzy`") != NULL, "%s", out);
    char *json = strchr(out, '[');
    ck_assert_ptr_nonnull(json);
    doc = cJSON_Parse(json);
    ck_assert_msg(cJSON_GetArraySize(doc) == 3, "%s", out);
    cJSON_Delete(doc);
    free(out);

    /* Batch mode: one text per line on stdin, one JSON line each. */
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n%%s\\n' '%s' '<mask> is the capital of France.' | "
             "'%s/%s' fill-mask --model '%s' --top-k 1 --json",
             jstr(milky, "text"), test_root(), bin, fx.dir);
    out = run(cmd, &status);
    ck_assert_int_eq(status, 0);
    char *nl = strchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    doc = cJSON_Parse(out);
    ck_assert_int_eq(jint(cJSON_GetArrayItem(doc, 0), "token"),
                     jint(cJSON_GetArrayItem(want, 0), "token"));
    cJSON_Delete(doc);
    doc = cJSON_Parse(nl + 1);
    ck_assert_msg(cJSON_GetArraySize(doc) == 1, "%s", nl + 1);
    cJSON_Delete(doc);
    free(out);

    /* Exit codes: usage 2, runtime 1. */
    static const struct {
        const char *args;
        int status;
    } codes[] = {
        {"fill-mask 'a <mask>'", 2},                          /* no --model */
        {"fill-mask --model DIR --top-k 0 'a <mask>'", 2},    /* bad top-k */
        {"fill-mask --model DIR --top-k x 'a <mask>'", 2},
        {"fill-mask --model DIR --bogus 'a <mask>'", 2},
        {"fill-mask --model DIR 'a <mask>' extra", 2},
        {"fill-mask --model DIR 'no mask'", 1},
        {"fill-mask --model DIR ''", 1},
        {"fill-mask --model /nonexistent/dir 'a <mask>'", 1},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char args[1024];
        const char *d = strstr(codes[i].args, "DIR");
        if (d)
            snprintf(args, sizeof args, "%.*s'%s'%s", (int)(d - codes[i].args), codes[i].args,
                     fx.dir, d + 3);
        else
            snprintf(args, sizeof args, "%s", codes[i].args);
        snprintf(cmd, sizeof cmd, "'%s/%s' %s 2>&1", test_root(), bin, args);
        out = run(cmd, &status);
        ck_assert_msg(status == codes[i].status, "%s: exit %d, want %d: %s", args, status,
                      codes[i].status, out);
        if (strstr(args, "no mask"))
            ck_assert_msg(strstr(out, "No mask_token (<mask>)") != NULL, "%s", out);
        free(out);
    }
    fixture_close(&fx);
}
END_TEST

START_TEST(test_example)
{
    fixture fx;
    fixture_open(0, &fx);
    char path[4096], cmd[8192];
    snprintf(path, sizeof path, "%s/examples/fill_mask.c", test_root());
    char *src = test_read_file(path, NULL);
    ck_assert_ptr_nonnull(src);
    int lines = 0;
    for (const char *s = src; *s; s++)
        lines += *s == '\n';
    ck_assert_int_le(lines, 60);
    free(src);
    /* The example binary sits in OUTBIN/examples, beside OUTBIN/mlm. */
    const char *bin = MLM_BIN;
    const char *slash = strrchr(bin, '/');
    snprintf(cmd, sizeof cmd, "'%s/%.*s/examples/fill_mask' '%s'", test_root(),
             (int)(slash - bin), bin, fx.dir);
    int status = -1;
    char *out = run(cmd, &status);
    ck_assert_int_eq(status, 0);
    lines = 0;
    for (const char *s = out; *s; s++)
        lines += *s == '\n';
    ck_assert_int_eq(lines, 3);
    ck_assert_msg(strstr(out, "The Milky Way is a") != NULL, "%s", out);
    free(out);
    fixture_close(&fx);
}
END_TEST

Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("goldens");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_goldens, 0, 2);
    tcase_add_loop_test(tc, test_goldens_batch, 0, 2);
    tcase_add_loop_test(tc, test_json, 0, 2);
    tcase_add_loop_test(tc, test_lower_level, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_errors, 0, 2);
    tcase_add_test(tc, test_vocab_mismatch);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_threads, 0, 4);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_example);
    suite_add_tcase(s, tc);
    return s;
}
