/* `mlm train-summarization` (run_summarization.py's command line) and
 * mlm_trainer_predict under it: a tiny random T5 with the real t5-small
 * tokenizer on JSON Lines of articles and summaries, English and Korean
 * (t5-small maps Hangul to <unk>; the rows still train and predict).
 *
 * What is checked against what: the output files and their keys against
 * run_summarization.py + Seq2SeqTrainer (train_samples, eval_samples,
 * predict_samples as ints; eval_*, predict_* metrics; no epoch in predict's);
 * generated_predictions.txt against an independent decoding of generate()
 * run here row by row on the model the command saved (the command predicts
 * in batches of one row, so the same floats: equality, not a tolerance);
 * predict_gen_len and predict_rouge* against those texts (compute_metrics:
 * count of non-pad ids, rouge_score with the stemmer, F x 100 rounded to 4
 * places); flag errors naming the flag. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* article, summary; the empty ones are dropped by preprocess_function */
static const char *const TRAIN[][2] = {
    {"The first human went into space on April 12, 1961.", "First human in space."},
    {"Apollo 11 was the first mission to land humans on the Moon.", "Apollo 11 on the Moon."},
    {"서울에서 열린 회의는 오늘 끝났다.", "회의 종료"},
    {"The cat sat on the mat and looked at the dog.", "Cat on mat."},
    {"A storm closed the schools of the northern province.", ""},
    {"Paris is the capital of France and Berlin of Germany.", "Two capitals."},
    {"부산은 대한민국의 항구 도시이다.", "부산 항구"},
    {"The library opens a new reading room on Monday.", "New reading room."},
    {"Prices of bread rose again in the capital this week.", "Bread prices rose."},
};
static const char *const TEST[][2] = {
    {"The museum shows old maps of the river.", "Old maps shown."},
    {"", "An empty article."},
    {"한국어 문장과 영어 문장이 섞여 있다.", "섞인 문장"},
    {"The train to the coast leaves at noon.", "Train at noon."},
};
#define N_TRAIN 9
#define N_TEST 4
#define PREFIX "summarize: "
#define MAX_SOURCE 24
#define VAL_MAX_TARGET 10

static const char TINY_T5[] =
    "{\"model_type\": \"t5\", \"vocab_size\": 32128, \"d_model\": 16, \"d_kv\": 4,"
    " \"num_heads\": 2, \"d_ff\": 32, \"num_layers\": 1, \"relative_attention_num_buckets\": 8,"
    " \"dropout_rate\": 0.1, \"pad_token_id\": 0, \"eos_token_id\": 1,"
    " \"decoder_start_token_id\": 0}";

static void write_jsonl(const char *dir, const char *name, const char *const (*rows)[2],
                        size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "article", rows[i][0]);
        cJSON_AddStringToObject(o, "summary", rows[i][1]);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o);
    }
    fclose(f);
}

/* dir/train.jsonl, dir/test.jsonl, dir/t5 (a random tiny T5, saved). */
static char *fixture(void)
{
    char *dir = test_tmpdir();
    ck_assert_ptr_nonnull(dir);
    write_jsonl(dir, "train.jsonl", TRAIN, N_TRAIN);
    write_jsonl(dir, "test.jsonl", TEST, N_TEST);
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(TINY_T5, strlen(TINY_T5), 5, &m), MLM_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/t5", dir);
    ck_assert_msg(mlm_model_save(m, path) == MLM_OK, "%s", mlm_last_error());
    mlm_model_free(m);
    return dir;
}

/* bin/mlm train-summarization in dir, the t5 model and t5-small tokenizer
 * given; stdout + stderr. */
static char *run_cmd(const char *dir, const char *args, int *status)
{
    char tok[1024], *cmd = malloc(16384);
    ck_assert_ptr_nonnull(cmd);
    test_data_path("tokenizers/t5-small", tok, sizeof tok);
    snprintf(cmd, 16384,
             "cd '%s' && '%s/%s' train-summarization --model_name_or_path t5 "
             "--tokenizer_name '%s' --num_threads 1 %s 2>&1",
             dir, test_root(), MLM_BIN, tok, args);
    char *out = test_run(cmd, status);
    free(cmd);
    ck_assert_ptr_nonnull(out);
    return out;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", key);
    return v->valuedouble;
}

/* The keys of run_summarization.py's metrics files: every one present, and
 * nothing else (the file holds exactly what the script saved). */
static void expect_keys(const cJSON *o, const char *const *keys, size_t n, const char *file)
{
    size_t have = 0;
    for (const cJSON *it = o->child; it; it = it->next)
        have++;
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(cJSON_GetObjectItemCaseSensitive(o, keys[i]) != NULL, "%s: no \"%s\"",
                      file, keys[i]);
    ck_assert_msg(have == n, "%s: %zu keys, expected %zu", file, have, n);
}

static const char *const TRAIN_KEYS[] = {"epoch",         "total_flos",
                                         "train_loss",    "train_runtime",
                                         "train_samples", "train_samples_per_second",
                                         "train_steps_per_second"};
static const char *const EVAL_KEYS[] = {
    "epoch",          "eval_loss",    "eval_rouge1",          "eval_rouge2",
    "eval_rougeL",    "eval_rougeLsum", "eval_gen_len",       "eval_runtime",
    "eval_samples",   "eval_samples_per_second", "eval_steps_per_second"};
static const char *const PREDICT_KEYS[] = {
    "predict_loss",    "predict_rouge1",  "predict_rouge2",
    "predict_rougeL",  "predict_rougeLsum", "predict_gen_len",
    "predict_runtime", "predict_samples", "predict_samples_per_second",
    "predict_steps_per_second"};
#define NKEYS(a) (sizeof a / sizeof a[0])

/* The expected generated_predictions.txt of the kept test rows, from
 * generate() on model_dir row by row (greedy or beam search with `beams`,
 * max_length VAL_MAX_TARGET), decoded with skip_special_tokens and
 * clean_up_tokenization_spaces and stripped (the texts here have no other
 * whitespace than ASCII spaces); also the gen_len and rouge1 of
 * compute_metrics against the decoded labels. */
typedef struct expected {
    char *lines[N_TEST], *refs[N_TEST];
    size_t n;
    double gen_len;
} expected;

static char *decode(const mlm_tokenizer *tok, const int32_t *ids, size_t n)
{
    size_t need = 0;
    ck_assert_int_eq(mlm_tokenizer_decode(tok, ids, n, 1, 1, NULL, 0, &need), MLM_OK);
    char *s = malloc(need);
    ck_assert_int_eq(mlm_tokenizer_decode(tok, ids, n, 1, 1, s, need, &need), MLM_OK);
    char *a = s, *z = s + strlen(s);
    while (*a == ' ')
        a++;
    while (z > a && z[-1] == ' ')
        z--;
    memmove(s, a, (size_t)(z - a));
    s[z - a] = '\0';
    return s;
}

static void expect_predictions(const char *model_dir, int beams, expected *x)
{
    char path[1024];
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(
        mlm_tokenizer_load(test_data_path("tokenizers/t5-small", path, sizeof path), &tok),
        MLM_OK);
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(model_dir, &m) == MLM_OK, "%s", mlm_last_error());
    mlm_generation_config *g = NULL;
    char nb[8];
    snprintf(nb, sizeof nb, "%d", beams);
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "max_length", "10"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_beams", nb), MLM_OK);
    x->n = 0;
    double tokens = 0;
    for (size_t i = 0; i < N_TEST; i++) {
        if (!*TEST[i][0] || !*TEST[i][1])
            continue;
        char text[512];
        snprintf(text, sizeof text, PREFIX "%s", TEST[i][0]);
        ck_assert_int_eq(mlm_tokenizer_set_truncation(tok, MAX_SOURCE, 0,
                                                      MLM_TRUNCATE_LONGEST_FIRST, MLM_SIDE_RIGHT),
                         MLM_OK);
        mlm_encoding *src = NULL, *lab = NULL;
        ck_assert_int_eq(mlm_tokenizer_encode(tok, text, strlen(text), NULL, 0, 1, &src), MLM_OK);
        ck_assert_int_eq(mlm_tokenizer_set_truncation(tok, VAL_MAX_TARGET, 0,
                                                      MLM_TRUNCATE_LONGEST_FIRST, MLM_SIDE_RIGHT),
                         MLM_OK);
        ck_assert_int_eq(mlm_tokenizer_encode(tok, TEST[i][1], strlen(TEST[i][1]), NULL, 0, 1,
                                              &lab),
                         MLM_OK);
        size_t len = mlm_encoding_length(src);
        mlm_generation *out = NULL;
        ck_assert_msg(mlm_generate(m, g, 1, mlm_encoding_ids(src), mlm_encoding_attention_mask(src),
                                   1, len, &out) == MLM_OK,
                      "%s", mlm_last_error());
        size_t L = mlm_generation_sequence_length(out);
        const int32_t *row = mlm_generation_sequences(out);
        for (size_t t = 0; t < L; t++)
            tokens += row[t] != 0; /* the pad id: the decoder start token too */
        x->lines[x->n] = decode(tok, row, L);
        x->refs[x->n++] = decode(tok, mlm_encoding_ids(lab), mlm_encoding_length(lab));
        mlm_generation_free(out);
        mlm_encoding_free(src);
        mlm_encoding_free(lab);
    }
    x->gen_len = tokens / (double)x->n;
    mlm_generation_config_free(g);
    mlm_model_free(m);
    mlm_tokenizer_free(tok);
}

static void expected_free(expected *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->lines[i]);
        free(x->refs[i]);
    }
}

/* generated_predictions.txt is the expected lines joined with "\n". */
static void check_predictions_file(const char *out_dir, const expected *x)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/generated_predictions.txt", out_dir);
    char *got = test_read_file(path, NULL);
    ck_assert_msg(got != NULL, "%s is missing", path);
    size_t cap = 16;
    for (size_t i = 0; i < x->n; i++)
        cap += strlen(x->lines[i]) + 1;
    char *want = calloc(1, cap);
    for (size_t i = 0; i < x->n; i++) {
        if (i)
            strcat(want, "\n");
        strcat(want, x->lines[i]);
    }
    ck_assert_str_eq(got, want);
    free(want);
    free(got);
}

/* predict_gen_len and predict_rouge1 as compute_metrics makes them. */
static void check_predict_metrics(const cJSON *pr, const expected *x)
{
    ck_assert_double_eq_tol(num(pr, "predict_gen_len"), x->gen_len, 1e-12);
    mlm_rouge *rg = NULL;
    mlm_rouge_result *res = NULL;
    ck_assert_int_eq(mlm_rouge_new("{\"use_stemmer\": true}", &rg), MLM_OK);
    ck_assert_int_eq(mlm_rouge_score_batch(rg, (const char *const *)x->lines, NULL,
                                           (const char *const *)x->refs, NULL, x->n, &res),
                     MLM_OK);
    double f = mlm_rouge_result_mean(res, 0, MLM_ROUGE_FMEASURE) * 100.0;
    ck_assert_double_eq_tol(num(pr, "predict_rouge1"), round(f * 1e4) / 1e4, 1e-9);
    mlm_rouge_result_free(res);
    mlm_rouge_free(rg);
}

/* do_train + do_eval + do_predict with predict_with_generate: every file
 * run_summarization.py leaves, with its keys. */
START_TEST(train_eval_predict)
{
    char *dir = fixture();
    int status;
    char path[8192];
    char *log = run_cmd(dir,
                        "--train_file train.jsonl --validation_file train.jsonl "
                        "--test_file test.jsonl --do_train --do_eval --do_predict "
                        "--predict_with_generate --source_prefix 'summarize: ' "
                        "--max_source_length 24 --max_target_length 8 "
                        "--val_max_target_length 10 --max_eval_samples 3 "
                        "--num_train_epochs 2 --per_device_train_batch_size 4 "
                        "--per_device_eval_batch_size 1 --learning_rate 1e-3 "
                        "--save_strategy no --output_dir out",
                        &status);
    ck_assert_msg(status == 0, "exit %d:\n%s", status, log);
    ck_assert_ptr_nonnull(strstr(log, "***** predict metrics *****"));
    char out[4096];
    snprintf(out, sizeof out, "%s/out", dir);

    cJSON *tr = test_read_json(out, "train_results.json");
    expect_keys(tr, TRAIN_KEYS, NKEYS(TRAIN_KEYS), "train_results.json");
    ck_assert_double_eq(num(tr, "train_samples"), N_TRAIN - 1); /* the empty summary */
    ck_assert_double_eq(num(tr, "epoch"), 2.0);
    cJSON *ev = test_read_json(out, "eval_results.json");
    expect_keys(ev, EVAL_KEYS, NKEYS(EVAL_KEYS), "eval_results.json");
    ck_assert_double_eq(num(ev, "eval_samples"), 3);
    cJSON *pr = test_read_json(out, "predict_results.json");
    expect_keys(pr, PREDICT_KEYS, NKEYS(PREDICT_KEYS), "predict_results.json");
    ck_assert_double_eq(num(pr, "predict_samples"), N_TEST - 1); /* the empty article */
    cJSON *all = test_read_json(out, "all_results.json");
    for (const cJSON *part[] = {tr, ev, pr}, **p = part; p < part + 3; p++)
        for (const cJSON *it = (*p)->child; it; it = it->next)
            ck_assert_msg(cJSON_GetObjectItemCaseSensitive(all, it->string) != NULL,
                          "all_results.json: no \"%s\"", it->string);
    /* save_metrics writes the *_samples as ints */
    snprintf(path, sizeof path, "%s/all_results.json", out);
    char *text = test_read_file(path, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"predict_samples\": 3,"));
    ck_assert_ptr_nonnull(strstr(text, "\"train_samples\": 8,"));
    free(text);
    cJSON *state = test_read_json(out, "trainer_state.json");
    ck_assert_double_eq(num(state, "global_step"), 4); /* 8 rows / 4 x 2 epochs */

    snprintf(path, sizeof path, "%s/out", dir);
    expected x;
    expect_predictions(path, 1, &x);
    ck_assert_uint_eq(x.n, N_TEST - 1);
    check_predictions_file(out, &x);
    check_predict_metrics(pr, &x);
    expected_free(&x);
    cJSON_Delete(state);
    cJSON_Delete(all);
    cJSON_Delete(pr);
    cJSON_Delete(ev);
    cJSON_Delete(tr);
    free(log);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The same names in a JSON file (`--config`), flags overriding it; num_beams
 * null hands generation_num_beams to generate (run_summarization.py's
 * `data_args.num_beams if data_args.num_beams is not None else
 * training_args.generation_num_beams`). Predict only: no training, so the
 * untrained model predicts and nothing but predict's files is written. */
START_TEST(config_file_predict_only)
{
    char *dir = fixture();
    char path[8192];
    snprintf(path, sizeof path, "%s/args.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"test_file\": \"test.jsonl\", \"do_predict\": true, \"predict_with_generate\": true,"
          " \"source_prefix\": \"summarize: \", \"max_source_length\": 24,"
          " \"val_max_target_length\": 10, \"num_beams\": null, \"generation_num_beams\": 2,"
          " \"per_device_eval_batch_size\": 1, \"output_dir\": \"ignored\","
          " \"report_to\": [\"none\"]}\n",
          f);
    fclose(f);
    int status;
    char *log = run_cmd(dir, "--config args.json --output_dir pred", &status);
    ck_assert_msg(status == 0, "exit %d:\n%s", status, log);
    char out[4096];
    snprintf(out, sizeof out, "%s/pred", dir);
    cJSON *pr = test_read_json(out, "predict_results.json");
    expect_keys(pr, PREDICT_KEYS, NKEYS(PREDICT_KEYS), "predict_results.json");
    snprintf(path, sizeof path, "%s/train_results.json", out);
    struct stat sb;
    ck_assert_int_ne(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/ignored", dir);
    ck_assert_int_ne(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/t5", dir);
    expected x;
    expect_predictions(path, 2, &x);
    check_predictions_file(out, &x);
    check_predict_metrics(pr, &x);
    expected_free(&x);
    cJSON_Delete(pr);
    free(log);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Usage errors exit 2 and name the flag (or the column, the file). */
START_TEST(flag_errors)
{
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"--do_train --train_file train.jsonl --line_by_line", "unknown flag '--line_by_line'"},
        {"--do_train --train_file train.jsonl --bogus 1", "unknown flag '--bogus'"},
        {"--do_train --train_file train.jsonl --max_source_length abc",
         "--max_source_length: invalid value 'abc'"},
        {"--do_train --train_file train.jsonl --max_target_length 0", "--max_target_length"},
        {"--do_train --train_file train.jsonl --text_column body",
         "--text_column' value 'body' needs to be one of: article, summary"},
        {"--do_train --train_file train.jsonl --summary_column 요약",
         "--summary_column' value '요약' needs to be one of: article, summary"},
        {"--do_eval --train_file train.jsonl", "--do_eval requires a validation dataset"},
        {"--do_train --train_file train.txt", "--train_file train.txt: should be a csv"},
        {"--do_predict", "Need either a dataset name or a training, validation, or test file"},
        {"--do_train --train_file train.jsonl --dataset_name xsum", "--dataset_name"},
        {"--do_train --train_file train.jsonl --fp16", "--fp16"},
        {"--do_train --train_file train.jsonl --sortish_sample", "--sortish_sample"},
        {"--do_train --train_file train.jsonl --eval_strategy sometimes", "--eval_strategy"},
        {"--do_train --train_file train.jsonl --generation_max_length 0",
         "--generation_max_length"},
    };
    char *dir = fixture();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status;
        char *log = run_cmd(dir, cases[i].args, &status);
        ck_assert_msg(status == 2, "%s: exit %d, expected 2:\n%s", cases[i].args, status, log);
        ck_assert_msg(strstr(log, cases[i].says) != NULL, "%s: no '%s' in:\n%s", cases[i].args,
                      cases[i].says, log);
        free(log);
    }
    /* run_mlm.py's command does not take the Seq2SeqTrainingArguments */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/%s' train --predict_with_generate 2>&1", test_root(), MLM_BIN);
    int status;
    char *log = test_run(cmd, &status);
    ck_assert_int_eq(status, 2);
    ck_assert_ptr_nonnull(strstr(log, "unknown flag '--predict_with_generate'"));
    free(log);
    /* --help lists the script's flags, not run_mlm.py's */
    snprintf(cmd, sizeof cmd, "'%s/%s' train-summarization --help", test_root(), MLM_BIN);
    log = test_run(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(log, "--summary_column"));
    ck_assert_ptr_nonnull(strstr(log, "--predict_with_generate"));
    ck_assert_ptr_null(strstr(log, "--line_by_line"));
    free(log);
    /* nothing to do is not an error, as the script's early return */
    log = run_cmd(dir, "--train_file train.jsonl", &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(log, "There is nothing to do"));
    free(log);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* mlm_trainer_predict: the evaluation loop over another dataset under
 * another prefix — the same loss as evaluate on the same rows (the same
 * batches in the same order, so equal), no epoch, the rows' generations;
 * bad arguments named. */
START_TEST(trainer_predict_api)
{
    char path[1024];
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(
        mlm_tokenizer_load(test_data_path("tokenizers/t5-small", path, sizeof path), &tok),
        MLM_OK);
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(TINY_T5, strlen(TINY_T5), 5, &m), MLM_OK);
    const char *rows = "[{\"a\": \"The museum shows old maps.\", \"s\": \"Old maps.\"},"
                       " {\"a\": \"서울에서 회의가 끝났다.\", \"s\": \"회의 종료\"},"
                       " {\"a\": \"The train leaves at noon.\", \"s\": \"Train at noon.\"}]";
    mlm_dataset *raw = NULL, *ds = NULL;
    ck_assert_int_eq(mlm_dataset_from_json(rows, strlen(rows), &raw), MLM_OK);
    ck_assert_int_eq(mlm_dataset_tokenize(raw, tok, "a",
                                          "{\"target_column\": \"s\", \"max_length\": 16,"
                                          " \"remove_columns\": \"all\"}",
                                          &ds),
                     MLM_OK);
    mlm_collator *col = NULL;
    ck_assert_int_eq(mlm_collator_new_seq2seq(tok, NULL, &col), MLM_OK);
    mlm_trainer *tr = NULL;
    ck_assert_int_eq(mlm_trainer_new(m, col, ds, ds, &tr), MLM_OK);
    ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, tok), MLM_OK);
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"predict_with_generate\": true,"
                                              " \"generation_max_length\": 5,"
                                              " \"per_device_eval_batch_size\": 2}"),
                     MLM_OK);
    double loss = NAN;
    ck_assert_msg(mlm_trainer_evaluate(tr, &loss, NULL) == MLM_OK, "%s", mlm_last_error());
    mlm_prediction *p = NULL;
    ck_assert_msg(mlm_trainer_predict(tr, ds, NULL, &p) == MLM_OK, "%s", mlm_last_error());
    size_t need = 0;
    ck_assert_int_eq(mlm_prediction_metrics_json(p, NULL, 0, &need), MLM_OK);
    char *json = malloc(need);
    ck_assert_int_eq(mlm_prediction_metrics_json(p, json, need, &need), MLM_OK);
    cJSON *o = cJSON_Parse(json);
    ck_assert_double_eq(num(o, "test_loss"), loss);
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(o, "test_rougeLsum"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(o, "test_steps_per_second"));
    ck_assert_double_eq(num(o, "test_steps_per_second") > 0, 1);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "epoch"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "eval_loss"));
    cJSON_Delete(o);
    free(json);
    ck_assert_uint_eq(mlm_prediction_num_rows(p), 3);
    for (size_t i = 0; i < 3; i++) {
        size_t len = 0;
        const int32_t *ids = mlm_prediction_ids(p, i, &len);
        ck_assert_ptr_nonnull(ids);
        ck_assert_uint_ge(len, 2);
        ck_assert_uint_le(len, 5);
        ck_assert_int_eq(ids[0], 0); /* the decoder start token */
    }
    size_t len = 7;
    ck_assert_ptr_null(mlm_prediction_ids(p, 3, &len));
    ck_assert_uint_eq(len, 0);
    mlm_prediction_free(p);
    /* the trainer's eval metrics are still evaluate's */
    ck_assert_int_eq(mlm_trainer_eval_metrics_json(tr, NULL, 0, &need), MLM_OK);

    p = (mlm_prediction *)1;
    ck_assert_int_eq(mlm_trainer_predict(tr, NULL, "predict", &p), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mlm_trainer_predict(tr, ds, "pre dict", &p), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "metric_key_prefix"));
    ck_assert_int_eq(mlm_trainer_predict(tr, ds, "", &p), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_predict(NULL, ds, "x", &p), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_predict(tr, ds, "x", NULL), MLM_ERR_INVALID_ARGUMENT);
    mlm_prediction_free(NULL);
    ck_assert_uint_eq(mlm_prediction_num_rows(NULL), 0);

    /* without predict_with_generate: the loss and speed only, no rows */
    ck_assert_int_eq(mlm_trainer_set(tr, "predict_with_generate", "false"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_predict(tr, ds, "predict", &p), MLM_OK);
    ck_assert_uint_eq(mlm_prediction_num_rows(p), 0);
    ck_assert_int_eq(mlm_prediction_metrics_json(p, NULL, 0, &need), MLM_OK);
    json = malloc(need);
    ck_assert_int_eq(mlm_prediction_metrics_json(p, json, need, &need), MLM_OK);
    o = cJSON_Parse(json);
    ck_assert_double_eq(num(o, "predict_loss"), loss);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(o, "predict_rouge1"));
    cJSON_Delete(o);
    free(json);
    mlm_prediction_free(p);

    mlm_trainer_free(tr);
    mlm_collator_free(col);
    mlm_dataset_free(ds);
    mlm_dataset_free(raw);
    mlm_model_free(m);
    mlm_tokenizer_free(tok);
}
END_TEST

Suite *cli_train_summarization_suite(void)
{
    Suite *s = suite_create("cli_train_summarization");
    TCase *tc = tcase_create("cli_train_summarization");
    tcase_add_test(tc, train_eval_predict);
    tcase_add_test(tc, config_file_predict_only);
    tcase_add_test(tc, flag_errors);
    tcase_add_test(tc, trainer_predict_api);
    suite_add_tcase(s, tc);
    return s;
}
