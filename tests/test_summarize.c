/* The summarization pipeline, `mlm summarize`, and one model serving many
 * threads (run it under SANITIZE=thread: the TSan test of the shared
 * model). The models are tiny random T5s made here, with the tokenizers of
 * tests/data: the caikit tiny T5's (1302 ids) and t5-small's (32100 ids,
 * whose vocabulary maps Hangul to <unk>). */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

#define TASK                                                                                     \
    "\"task_specific_params\": {\"summarization\": {\"early_stopping\": true, "                  \
    "\"length_penalty\": 2.0, \"max_length\": 14, \"min_length\": 4, "                           \
    "\"no_repeat_ngram_size\": 3, \"num_beams\": 3, \"prefix\": \"summarize: \"}}"

/* A tiny random T5 saved in a new directory with the tokenizer files of
 * tests/data/<tok_dir>; vocab_size V. The caller removes the directory. */
static char *make_model(const char *tok_dir, int V)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\":\"t5\",\"vocab_size\":%d,\"d_model\":16,\"d_kv\":6,"
             "\"num_heads\":3,\"d_ff\":20,\"num_layers\":2,\"num_decoder_layers\":2,"
             "\"relative_attention_num_buckets\":8,\"relative_attention_max_distance\":12,"
             "\"feed_forward_proj\":\"gated-gelu\",\"tie_word_embeddings\":false,"
             "\"decoder_start_token_id\":0,\"initializer_factor\":0.5, " TASK "}",
             V);
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), 99, &m) == MLM_OK, "%s", mlm_last_error());
    char *dir = test_tmpdir();
    ck_assert_int_eq(mlm_model_save(m, dir), MLM_OK);
    mlm_model_free(m);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s/tests/data/%s'/tokenizer*.json '%s/' 2>&1", test_root(),
             tok_dir, dir);
    int status = 0;
    free(test_run(cmd, &status));
    ck_assert_int_eq(status, 0);
    return dir;
}

static mlm_summarizer *load(const char *dir)
{
    mlm_summarizer *s = NULL;
    ck_assert_msg(mlm_summarizer_load(dir, &s) == MLM_OK, "%s", mlm_last_error());
    return s;
}

/* The pipeline = tokenize(prefix + text) + generate() with the task's
 * options + decode(skip_special_tokens). */
START_TEST(pipeline_is_generate_with_the_task_options)
{
    char *dir = make_model("models/tiny-random-t5-caikit", 1302);
    mlm_summarizer *s = load(dir);
    const char *text = "Hi.";
    mlm_summary *r = NULL;
    ck_assert_msg(mlm_summarize(s, text, &r) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq((int)mlm_summary_n(r), 1);

    /* by hand: the same ids through the public API */
    mlm_model *m = NULL;
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_load(dir, &tok), MLM_OK);
    char joined[256];
    snprintf(joined, sizeof joined, "summarize: %s", text);
    mlm_encoding *enc = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(tok, joined, strlen(joined), NULL, 0, 1, &enc), MLM_OK);
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    const char *task = "{\"early_stopping\": true, \"length_penalty\": 2.0, \"max_length\": 14, "
                       "\"min_length\": 4, \"no_repeat_ngram_size\": 3, \"num_beams\": 3}";
    ck_assert_int_eq(mlm_generation_config_set_json(g, task, strlen(task)), MLM_OK);
    mlm_generation *gen = NULL;
    ck_assert_int_eq(mlm_generate(m, g, 1, mlm_encoding_ids(enc), NULL, 1,
                                  mlm_encoding_length(enc), &gen),
                     MLM_OK);
    size_t len = 0;
    const int32_t *ids = mlm_summary_token_ids(r, 0, &len);
    ck_assert_int_eq((int)len, (int)mlm_generation_sequence_length(gen));
    ck_assert_int_eq(memcmp(ids, mlm_generation_sequences(gen), len * sizeof *ids), 0);
    char want[1024];
    size_t need = 0;
    ck_assert_int_eq(mlm_tokenizer_decode(tok, ids, len, 1, -1, want, sizeof want, &need), MLM_OK);
    ck_assert_str_eq(mlm_summary_text(r, 0), want);
    /* HF's warning: max_length 14 above the input's length */
    char w[512];
    snprintf(w, sizeof w, "Your max_length is set to 14, but your input_length is only %zu.",
             mlm_encoding_length(enc));
    ck_assert_int_lt((int)mlm_encoding_length(enc), 14);
    ck_assert_int_eq((int)mlm_summary_n_warnings(r), 1);
    ck_assert_msg(strstr(mlm_summary_warning(r, 0), w), "%s", mlm_summary_warning(r, 0));
    /* JSON shaped like the pipeline's output */
    ck_assert_int_eq(mlm_summary_to_json(r, NULL, 0, &need), MLM_OK);
    char *json = malloc(need);
    ck_assert_int_eq(mlm_summary_to_json(r, json, need, &need), MLM_OK);
    cJSON *doc = cJSON_Parse(json);
    ck_assert(cJSON_IsArray(doc) && cJSON_GetArraySize(doc) == 1);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "summary_text")->valuestring,
                     want);
    cJSON_Delete(doc);
    free(json);
    mlm_summary_free(r);

    /* the caller's options win over the task's; return_tensors gives ids */
    ck_assert_int_eq(mlm_summarizer_set(s, "num_beams", "1"), MLM_OK);
    ck_assert_int_eq(mlm_summarizer_set(s, "max_new_tokens", "6"), MLM_OK);
    ck_assert_int_eq(mlm_summarizer_set(s, "return_tensors", "true"), MLM_OK);
    ck_assert_int_eq(mlm_summarize(s, text, &r), MLM_OK);
    ck_assert_ptr_null(mlm_summary_text(r, 0));
    ids = mlm_summary_token_ids(r, 0, &len);
    ck_assert_int_le((int)len, 7);
    ck_assert_int_eq(mlm_summary_to_json(r, w, sizeof w, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(w, "[{\"summary_token_ids\": [0, "));
    mlm_summary_free(r);
    /* errors of the options */
    ck_assert_int_eq(mlm_summarizer_set(s, "num_return_sequences", "2"), MLM_OK);
    ck_assert_int_eq(mlm_summarize(s, text, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "Greedy methods"));
    ck_assert_int_eq(mlm_summarizer_set(s, "num_beams", "1"), MLM_OK);
    ck_assert_int_eq(mlm_summarizer_set(s, "early_stopping", "sometimes"),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_summarizer_set(s, "max_length", "0"), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_summarizer_set(s, "min_new_tokens", "-2"), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_summarizer_set(s, "truncation", "3"), MLM_ERR_INVALID_ARGUMENT);
    mlm_generation_free(gen);
    mlm_generation_config_free(g);
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    mlm_model_free(m);
    mlm_summarizer_free(s);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A batch gives each text what it gives alone (ids cut to that text's own
 * length), beams and several returned sequences included. */
START_TEST(batch_equals_one_at_a_time)
{
    char *dir = make_model("models/tiny-random-t5-caikit", 1302);
    mlm_summarizer *s = load(dir);
    ck_assert_int_eq(mlm_summarizer_set(s, "num_return_sequences", "2"), MLM_OK);
    ck_assert_int_eq(mlm_summarizer_set(s, "early_stopping", "false"), MLM_OK);
    const char *texts[] = {"A short one.",
                           "The storm closed two airports and cancelled hundreds of flights.",
                           "Volunteers planted trees along the river to reduce flooding in "
                           "the spring, and the town paid for the seedlings."};
    mlm_summary *batch[3] = {0};
    ck_assert_int_eq(mlm_summarize_batch(s, texts, 3, batch), MLM_OK);
    for (int i = 0; i < 3; i++) {
        mlm_summary *one = NULL;
        ck_assert_int_eq(mlm_summarize(s, texts[i], &one), MLM_OK);
        ck_assert_int_eq((int)mlm_summary_n(one), 2);
        for (size_t k = 0; k < 2; k++) {
            size_t la = 0, lb = 0;
            const int32_t *a = mlm_summary_token_ids(one, k, &la);
            const int32_t *b = mlm_summary_token_ids(batch[i], k, &lb);
            ck_assert_int_eq((int)la, (int)lb);
            ck_assert_int_eq(memcmp(a, b, la * sizeof *a), 0);
            ck_assert_str_eq(mlm_summary_text(one, k), mlm_summary_text(batch[i], k));
        }
        mlm_summary_free(one);
        mlm_summary_free(batch[i]);
    }
    mlm_summarizer_free(s);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* An input above the tokenizer's model_max_length (512) is an error unless
 * truncation is on; then the first 511 tokens and </s> are summarized. */
START_TEST(truncation_only_when_asked)
{
    char *dir = make_model("models/tiny-random-t5-caikit", 1302);
    mlm_summarizer *s = load(dir);
    ck_assert_int_eq(mlm_summarizer_set(s, "max_new_tokens", "3"), MLM_OK);
    size_t n = 0;
    char *text = malloc(20000);
    for (int i = 0; i < 700; i++)
        n += (size_t)sprintf(text + n, "word%d ", i % 50);
    mlm_summary *r = NULL;
    ck_assert_int_eq(mlm_summarize(s, text, &r), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "model_max_length is 512"));
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "truncation"));
    ck_assert_ptr_null(r);
    const char *texts[2] = {"fine", text};
    mlm_summary *rs[2];
    ck_assert_int_eq(mlm_summarize_batch(s, texts, 2, rs), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "text 1: "));
    ck_assert_int_eq(mlm_summarizer_set(s, "truncation", "true"), MLM_OK);
    ck_assert_msg(mlm_summarize(s, text, &r) == MLM_OK, "%s", mlm_last_error());
    mlm_summary_free(r);
    free(text);
    mlm_summarizer_free(s);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Korean through t5-small's vocabulary (Hangul is <unk>): no error, and the
 * decode (skip_special_tokens) leaves no "<unk>" in the summary. */
START_TEST(korean_goes_through_cleanly)
{
    char *dir = make_model("tokenizers/t5-small", 32128);
    mlm_summarizer *s = load(dir);
    ck_assert_int_eq(mlm_summarizer_set(s, "max_new_tokens", "8"), MLM_OK);
    const char *texts[] = {"서울 시의회는 월요일에 새 예산안을 승인했다.",
                           "비가 많이 와서 경기가 취소되었다. The match will be played next week.",
                           "오늘은 날씨가 맑고 따뜻합니다."};
    mlm_summary *rs[3];
    ck_assert_msg(mlm_summarize_batch(s, texts, 3, rs) == MLM_OK, "%s", mlm_last_error());
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(mlm_summary_text(rs[i], 0));
        ck_assert_ptr_null(strstr(mlm_summary_text(rs[i], 0), "<unk>"));
        mlm_summary_free(rs[i]);
    }
    mlm_summarizer_free(s);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- CLI */

static char *mlm(const char *input, const char *args, int *status)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "printf '%%s' '%s' | '%s/%s' summarize %s 2>&1", input ? input : "",
             test_root(), MLM_BIN, args);
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Lines of ids ("0 ..."), the warnings on stderr left out. */
static int count_output_lines(const char *out)
{
    int n = 0;
    for (const char *line = out; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "")
        n += strncmp(line, "0 ", 2) == 0;
    return n;
}

START_TEST(cli_summarize)
{
    char *dir = make_model("models/tiny-random-t5-caikit", 1302);
    char args[4096];
    int status = 0;
    /* one text: the pipeline's text; --json: its JSON */
    mlm_summarizer *s = load(dir);
    ck_assert_int_eq(mlm_summarizer_set(s, "max_new_tokens", "5"), MLM_OK);
    mlm_summary *r = NULL;
    ck_assert_int_eq(mlm_summarize(s, "hello world", &r), MLM_OK);
    snprintf(args, sizeof args, "--model '%s' --max-new-tokens 5 --threads 1 'hello world'", dir);
    char *out = mlm(NULL, args, &status);
    ck_assert_int_eq(status, 0);
    char want[1024];
    snprintf(want, sizeof want, "%s\n", mlm_summary_text(r, 0));
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);
    mlm_summary_free(r);
    mlm_summarizer_free(s);
    snprintf(args, sizeof args, "--model '%s' --max-new-tokens 4 --json --num-beams 2 "
                                "--num-return-sequences 2 --early-stopping never 'hello'", dir);
    out = mlm(NULL, args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_msg(strstr(out, "[{\"summary_text\": ") && strstr(out, "}, {\"summary_text\": "),
                  "%s", out);
    free(out);
    /* stdin: one line out per line in, in order; --input-jsonl; --return-tensors */
    snprintf(args, sizeof args, "--model '%s' --max-new-tokens 3 --return-tensors --batch-size 2",
             dir);
    out = mlm("one\ntwo\nthree\n", args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(count_output_lines(out), 3);
    free(out);
    snprintf(args, sizeof args, "--model '%s' --max-new-tokens 3 --return-tensors --input-jsonl",
             dir);
    out = mlm("\"one\"\n{\"text\": \"two\"}\n", args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(count_output_lines(out), 2);
    free(out);
    out = mlm("[1]\n", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "stdin line 1: expected a JSON string"), "%s", out);
    free(out);
    /* errors: a clear message and the exit status of each kind */
    snprintf(args, sizeof args, "--model '%s' --early-stopping sometimes x", dir);
    out = mlm(NULL, args, &status);
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(out, "`early_stopping` must be a boolean or 'never'"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "--model '%s' --max-new-tokens 0 x", dir);
    out = mlm(NULL, args, &status);
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(out, "'max_new_tokens' is 0"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "--model '%s' --num-beams 2 --num-return-sequences 3 x", dir);
    out = mlm(NULL, args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "`num_return_sequences` (3) has to be smaller or equal"), "%s",
                  out);
    free(out);
    snprintf(args, sizeof args, "--model '%s/tests/data/models/tiny-bert' x", test_root());
    out = mlm(NULL, args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "summarization needs an encoder-decoder model"), "%s", out);
    free(out);
    out = mlm(NULL, "--max-new-tokens 3 x", &status); /* no --model */
    ck_assert_int_eq(status, 2);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- threads */

typedef struct worker {
    const mlm_summarizer *s;
    const mlm_model *m;
    const char *text;
    int32_t ids[16];
    size_t n;
    int ok;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    mlm_summary *r = NULL;
    w->ok = 1;
    for (int rep = 0; rep < 3 && w->ok; rep++) {
        if (mlm_summarize(w->s, w->text, &r) != MLM_OK) {
            w->ok = 0;
            break;
        }
        size_t len = 0;
        const int32_t *ids = mlm_summary_token_ids(r, 0, &len);
        if (rep == 0) {
            w->n = len < 16 ? len : 16;
            memcpy(w->ids, ids, w->n * sizeof *ids);
        } else {
            w->ok = len >= w->n && memcmp(ids, w->ids, w->n * sizeof *ids) == 0;
        }
        mlm_summary_free(r);
    }
    return NULL;
}

/* One model and one summarizer serve several threads at once (each call
 * with 1 or 2 kernel threads), every result as computed alone. Under
 * SANITIZE=thread this is the race check of the shared model. */
START_TEST(one_model_serves_many_threads)
{
    char *dir = make_model("models/tiny-random-t5-caikit", 1302);
    mlm_summarizer *s1 = load(dir), *s2 = load(dir);
    ck_assert_int_eq(mlm_summarizer_set_threads(s2, 2), MLM_OK);
    ck_assert_int_eq(mlm_summarizer_set(s1, "max_new_tokens", "6"), MLM_OK);
    ck_assert_int_eq(mlm_summarizer_set(s2, "max_new_tokens", "6"), MLM_OK);
    const char *texts[] = {"first text", "a second, longer text about the weather",
                           "third", "the fourth text of this test"};
    enum { N = 4 };
    worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.s = i % 2 ? s2 : s1, .text = texts[i]};
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(w[i].ok, "thread %d", i);
        mlm_summary *r = NULL;
        ck_assert_int_eq(mlm_summarize(s1, texts[i], &r), MLM_OK);
        size_t len = 0;
        const int32_t *ids = mlm_summary_token_ids(r, 0, &len);
        ck_assert_int_eq(memcmp(ids, w[i].ids, w[i].n * sizeof *ids), 0);
        mlm_summary_free(r);
    }
    mlm_summarizer_free(s1);
    mlm_summarizer_free(s2);
    test_rmtree(dir);
    free(dir);
}
END_TEST

typedef struct gen_worker {
    const mlm_model *m;
    const mlm_generation_config *g;
    int nthreads;
    mlm_generation *r;
    mlm_status st;
} gen_worker;

static void *run_generate(void *arg)
{
    gen_worker *w = arg;
    static const int32_t ids[2 * 6] = {5, 9, 13, 22, 7, 1, 17, 3, 3, 45, 1, 0};
    static const int32_t mask[2 * 6] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    w->st = mlm_generate(w->m, w->g, w->nthreads, ids, mask, 2, 6, &w->r);
    return NULL;
}

/* mlm_generate on one model and one configuration from several threads at
 * once, each call with its own workers (nthreads 2) or none: every result as
 * computed alone. */
START_TEST(generate_shares_model_and_config)
{
    char *dir = make_model("models/tiny-random-t5-caikit", 1302);
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_OK);
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    const char *opts = "{\"num_beams\": 3, \"max_new_tokens\": 6, \"num_return_sequences\": 2}";
    ck_assert_int_eq(mlm_generation_config_set_json(g, opts, strlen(opts)), MLM_OK);
    enum { N = 4 };
    gen_worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (gen_worker){.m = m, .g = g, .nthreads = 1 + i % 2};
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_generate, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    gen_worker alone = {.m = m, .g = g, .nthreads = 1};
    run_generate(&alone);
    ck_assert_int_eq(alone.st, MLM_OK);
    size_t n = mlm_generation_num_sequences(alone.r) * mlm_generation_sequence_length(alone.r);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(w[i].st, MLM_OK);
        ck_assert_int_eq(mlm_generation_sequence_length(w[i].r),
                         mlm_generation_sequence_length(alone.r));
        ck_assert_int_eq(memcmp(mlm_generation_sequences(w[i].r), mlm_generation_sequences(alone.r),
                                n * sizeof(int32_t)),
                         0);
        mlm_generation_free(w[i].r);
    }
    mlm_generation_free(alone.r);
    mlm_generation_config_free(g);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *summarize_suite(void)
{
    Suite *s = suite_create("summarize");
    TCase *tc = tcase_create("summarize");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pipeline_is_generate_with_the_task_options);
    tcase_add_test(tc, batch_equals_one_at_a_time);
    tcase_add_test(tc, truncation_only_when_asked);
    tcase_add_test(tc, korean_goes_through_cleanly);
    tcase_add_test(tc, cli_summarize);
    tcase_add_test(tc, one_model_serves_many_threads);
    tcase_add_test(tc, generate_shares_model_and_config);
    suite_add_tcase(s, tc);
    return s;
}
