/* What the trainer leaves in output_dir and prints besides checkpoints
 * (suite trainer_outputs): transformers' Trainer.save_state, save_metrics
 * and log_metrics, and the state, train and eval metrics documents they
 * start from. The expected texts follow Python: json.dump(indent, sort_keys)
 * and Trainer.metrics_format (timedelta, GF, round(v, 4)). A tiny BERT on
 * the tiny caikit tokenizer, a few Korean and English lines. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const LINES[] = {
    "우리 은하와 가장 가까운 은하는 안드로메다 은하이다.",
    "The quick brown fox jumps over the lazy dog.",
    "서울은 대한민국의 수도이다.",
    "Masked language modeling needs no labels.",
    "밤하늘에 별이 많이 보인다.",
    "Every token has an id and every id has a vector.",
};
#define NLINES (sizeof LINES / sizeof LINES[0])

typedef struct rig {
    mlm_tokenizer *tok;
    mlm_dataset *ds;
    mlm_collator *col;
    mlm_model *model;
    mlm_trainer *tr;
    char *dir;
} rig;

static void rig_make(rig *r, const char *options)
{
    char buf[4096];
    memset(r, 0, sizeof *r);
    REQUIRE_TEST_DATA(tp, "models/tiny-random-bert-caikit", buf);
    ck_assert_int_eq(mlm_tokenizer_load(tp, &r->tok), MLM_OK);
    const int32_t *rows[NLINES];
    size_t lens[NLINES];
    mlm_encoding *enc[NLINES];
    for (size_t i = 0; i < NLINES; i++) {
        ck_assert_int_eq(mlm_tokenizer_encode(r->tok, LINES[i], strlen(LINES[i]), NULL, 0, 1,
                                              &enc[i]),
                         MLM_OK);
        rows[i] = mlm_encoding_ids(enc[i]);
        lens[i] = mlm_encoding_length(enc[i]);
    }
    ck_assert_int_eq(mlm_dataset_new(&r->ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(r->ds, "input_ids", rows, lens, NLINES),
                     MLM_OK);
    for (size_t i = 0; i < NLINES; i++)
        mlm_encoding_free(enc[i]);
    ck_assert_int_eq(mlm_collator_new(r->tok, "{\"seed\": 5}", &r->col), MLM_OK);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\":\"bert\",\"vocab_size\":%d,\"hidden_size\":8,"
             "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":16,"
             "\"max_position_embeddings\":64,\"type_vocab_size\":2,\"pad_token_id\":0}",
             mlm_tokenizer_vocab_size(r->tok));
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), 3, &r->model) == MLM_OK, "%s",
                  mlm_last_error());
    ck_assert_int_eq(mlm_trainer_new(r->model, r->col, r->ds, r->ds, &r->tr), MLM_OK);
    r->dir = test_tmpdir();
    char opts[2048];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"disable_tqdm\": true, \"save_strategy\": \"no\", "
             "\"per_device_train_batch_size\": 2, \"per_device_eval_batch_size\": 4%s%s}",
             r->dir, options ? ", " : "", options ? options : "");
    ck_assert_msg(mlm_trainer_set_json(r->tr, opts) == MLM_OK, "%s", mlm_last_error());
}

static void rig_free(rig *r)
{
    mlm_trainer_free(r->tr);
    mlm_model_free(r->model);
    mlm_collator_free(r->col);
    mlm_dataset_free(r->ds);
    mlm_tokenizer_free(r->tok);
    test_rmtree(r->dir);
    free(r->dir);
}

static int quiet(const char *rec, void *user)
{
    (void)rec;
    (void)user;
    return 0;
}

typedef mlm_status (*doc_fn)(const mlm_trainer *, char *, size_t, size_t *);

/* A document through two-call sizing, checking the sizing itself. */
static char *doc(const mlm_trainer *tr, doc_fn fn)
{
    size_t need = 0, again = 0;
    ck_assert_int_eq(fn(tr, NULL, 0, &need), MLM_OK);
    char *buf = malloc(need), small[4];
    ck_assert_int_eq(fn(tr, small, sizeof small, &again), MLM_OK); /* truncated, sized */
    ck_assert_uint_eq(again, need);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_int_eq(fn(tr, buf, need, &need), MLM_OK);
    ck_assert_uint_eq(strlen(buf) + 1, need);
    return buf;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
    return v->valuedouble;
}

static char *read_out(const rig *r, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    char *text = test_read_file(path, NULL);
    ck_assert_msg(text != NULL, "%s was not written", path);
    return text;
}

/* The plan before training; the metrics and the state after it. */
START_TEST(state_and_metrics_documents)
{
    rig r;
    rig_make(&r, "\"num_train_epochs\": 2, \"logging_steps\": 2");
    char *s = doc(r.tr, mlm_trainer_state_json);
    cJSON *state = cJSON_Parse(s);
    /* 6 rows in batches of 2: 3 steps an epoch, 2 epochs */
    ck_assert_double_eq(num(state, "max_steps"), 6);
    ck_assert_double_eq(num(state, "num_train_epochs"), 2);
    ck_assert_double_eq(num(state, "train_batch_size"), 2);
    ck_assert_double_eq(num(state, "global_step"), 0);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(state, "log_history")), 0);
    cJSON_Delete(state);
    free(s);
    size_t need;
    ck_assert_int_eq(mlm_trainer_train_metrics_json(r.tr, NULL, 0, &need), MLM_ERR_STATE);
    ck_assert_int_eq(mlm_trainer_eval_metrics_json(r.tr, NULL, 0, &need), MLM_ERR_STATE);

    mlm_trainer_set_callback(r.tr, quiet, NULL);
    ck_assert_msg(mlm_trainer_train(r.tr) == MLM_OK, "%s", mlm_last_error());
    s = doc(r.tr, mlm_trainer_train_metrics_json);
    cJSON *m = cJSON_Parse(s);
    /* HF's keys, in the order _inner_training_loop makes them */
    static const char *const keys[] = {"train_runtime", "train_samples_per_second",
                                       "train_steps_per_second", "total_flos", "train_loss",
                                       "epoch"};
    const cJSON *it = m->child;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++, it = it->next)
        ck_assert_str_eq(it->string, keys[i]);
    ck_assert_ptr_null(it);
    ck_assert_double_eq(num(m, "epoch"), 2);
    /* samples = rows · epochs, steps = max_steps, over the same runtime */
    double rt = num(m, "train_runtime");
    if (rt > 0.01)
        ck_assert_double_eq_tol(num(m, "train_samples_per_second") / num(m, "train_steps_per_second"),
                                12.0 / 6.0, 0.05);
    char *st_text = doc(r.tr, mlm_trainer_state_json);
    state = cJSON_Parse(st_text);
    free(st_text);
    ck_assert_double_eq(num(state, "total_flos"), num(m, "total_flos"));
    ck_assert_double_eq(num(state, "global_step"), 6);
    /* the last record is the metrics and the step, exactly */
    const cJSON *hist = cJSON_GetObjectItem(state, "log_history");
    const cJSON *last = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
    for (const cJSON *k = m->child; k; k = k->next)
        ck_assert_double_eq(num(last, k->string), k->valuedouble);
    ck_assert_double_eq(num(last, "step"), 6);
    /* flos: 6 · non-embedding parameters · every input id of every batch */
    cJSON_Delete(m);
    free(s);

    double loss;
    ck_assert_int_eq(mlm_trainer_evaluate(r.tr, &loss, NULL), MLM_OK);
    s = doc(r.tr, mlm_trainer_eval_metrics_json);
    m = cJSON_Parse(s);
    ck_assert_double_eq(num(m, "eval_loss"), loss); /* exact through the text */
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(m, "eval_runtime"));
    ck_assert_double_eq(num(m, "epoch"), 2); /* Trainer.log adds it after training */
    ck_assert_ptr_null(cJSON_GetObjectItem(m, "eval_accuracy")); /* compute_accuracy off */
    cJSON_Delete(m);
    free(s);
    cJSON_Delete(state);
    rig_free(&r);
}
END_TEST

/* save_state and save_metrics: Python's json.dump, all_results merged. */
START_TEST(save_state_and_metrics)
{
    rig r;
    rig_make(&r, "\"max_steps\": 2, \"logging_steps\": 1");
    mlm_trainer_set_callback(r.tr, quiet, NULL);
    ck_assert_msg(mlm_trainer_train(r.tr) == MLM_OK, "%s", mlm_last_error());
    ck_assert_msg(mlm_trainer_save_state(r.tr) == MLM_OK, "%s", mlm_last_error());
    char *text = read_out(&r, "trainer_state.json");
    /* indent 2, sorted keys, ints as ints, floats as floats, a final newline */
    ck_assert_ptr_nonnull(strstr(text, "{\n  \"best_global_step\": null,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"global_step\": 2,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"max_steps\": 2,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n      \"step\": 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"num_input_tokens_seen\": 0,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"stateful_callbacks\": {\n"));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    ck_assert_int_eq(text[strlen(text) - 2], '}');
    free(text);

    ck_assert_int_eq(mlm_trainer_save_metrics(r.tr, "train", "{\"train_loss\": 2.5, "
                                                             "\"epoch\": 1, \"train_samples\": "
                                                             "6, \"말\": \"값\"}"),
                     MLM_OK);
    text = read_out(&r, "train_results.json");
    ck_assert_str_eq(text, "{\n    \"epoch\": 1.0,\n    \"train_loss\": 2.5,\n"
                           "    \"train_samples\": 6,\n    \"\\ub9d0\": \"\\uac12\"\n}");
    free(text);
    ck_assert_int_eq(mlm_trainer_save_metrics(r.tr, "eval", "{\"eval_loss\": 1e-05, "
                                                            "\"perplexity\": 1e999, "
                                                            "\"epoch\": 2.0}"),
                     MLM_OK);
    text = read_out(&r, "all_results.json");
    ck_assert_str_eq(text, "{\n    \"epoch\": 2.0,\n    \"eval_loss\": 1e-05,\n"
                           "    \"perplexity\": Infinity,\n    \"train_loss\": 2.5,\n"
                           "    \"train_samples\": 6,\n    \"\\ub9d0\": \"\\uac12\"\n}");
    free(text);

    /* bad input: a named error, nothing written */
    ck_assert_int_eq(mlm_trainer_save_metrics(r.tr, "eval", "[1, 2]"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_save_metrics(r.tr, "eval", "{\"a\": "), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "metrics: invalid JSON at byte"));
    ck_assert_int_eq(mlm_trainer_save_metrics(r.tr, "../up", "{}"), MLM_ERR_INVALID_ARGUMENT);
    char path[4096];
    snprintf(path, sizeof path, "%s/all_results.json", r.dir);
    FILE *f = fopen(path, "w");
    fputs("[\"not an object\"]", f);
    fclose(f);
    ck_assert_int_eq(mlm_trainer_save_metrics(r.tr, "test", "{\"test_loss\": 1.5}"),
                     MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "all_results.json"));
    struct stat sb;
    snprintf(path, sizeof path, "%s/test_results.json", r.dir);
    ck_assert(stat(path, &sb) != 0);
    rig_free(&r);
}
END_TEST

/* log_metrics' text: sorted, aligned, metrics_format's values. */
START_TEST(format_metrics_text)
{
    char buf[1024];
    size_t need = 0;
    const char *m = "{\"train_runtime\": 3725.5, \"total_flos\": 6442450944, "
                    "\"train_samples\": 10, \"train_loss\": 2.345678, \"epoch\": 3.0, "
                    "\"train_samples_per_second\": 12.3456789}";
    ck_assert_int_eq(mlm_trainer_format_metrics("train", m, buf, sizeof buf, &need), MLM_OK);
    ck_assert_str_eq(buf, "***** train metrics *****\n"
                          "  epoch                    =        3.0\n"
                          "  total_flos               =        6GF\n"
                          "  train_loss               =     2.3457\n"
                          "  train_runtime            = 1:02:05.50\n"
                          "  train_samples            =         10\n"
                          "  train_samples_per_second =    12.3457\n");
    ck_assert_uint_eq(need, strlen(buf) + 1);
    /* over a day, as timedelta prints it */
    ck_assert_int_eq(mlm_trainer_format_metrics("eval", "{\"eval_runtime\": 90061.25}", buf,
                                                sizeof buf, &need),
                     MLM_OK);
    ck_assert_str_eq(buf, "***** eval metrics *****\n  eval_runtime = 1 day, 1:01:01.25\n");
    ck_assert_int_eq(mlm_trainer_format_metrics("eval", "[]", buf, sizeof buf, &need),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_format_metrics(NULL, "{}", buf, sizeof buf, &need),
                     MLM_ERR_INVALID_ARGUMENT);
}
END_TEST

Suite *trainer_outputs_suite(void)
{
    Suite *s = suite_create("trainer_outputs");
    TCase *tc = tcase_create("trainer_outputs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, state_and_metrics_documents);
    tcase_add_test(tc, save_state_and_metrics);
    tcase_add_test(tc, format_metrics_text);
    suite_add_tcase(s, tc);
    return s;
}
