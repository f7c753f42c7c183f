/* `mlm train` / `mlm eval` (run_mlm.py's command line): a tiny BERT trained
 * from scratch for a few steps on a Korean + English text file, with a
 * WordPiece tokenizer trained here. The expected sample counts and total_flos
 * are computed independently, from the tokenizer API and the model's shape.
 * What the tool prints, through a pipe and on a terminal (a pty). */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* 20 lines; 2, 5, 8 and 11 are blank to Python's str.isspace (U+3000 too). */
static const char *const CORPUS[] = {
    "우리 은하와 가장 가까운 은하는 안드로메다 은하이다.",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "어제 엄마한테 혼났다. 다음에는 나쁜짓을 안해야겠다.",
    "Masked language modeling needs no labels.",
    "   ",
    "서울은 대한민국의 수도이고 부산은 항구 도시이다.",
    "Paris is the capital of France and Berlin of Germany.",
    "\xe3\x80\x80",
    "한국어 문장과 영어 문장이 섞여 있다.",
    "The cat sat on the mat and looked at the dog.",
    "\t",
    "밤하늘에 별이 많이 보인다. 내일은 비가 온다.",
    "A small model learns the words of a small corpus.",
    "도서관에서 책을 빌려 읽었다.",
    "Every token has an id and every id has a vector.",
    "우리는 함께 저녁을 먹었다.",
    "Training needs data, a model and some patience.",
    "바다가 보이는 집에서 살고 싶다.",
    "The last line of the little corpus.",
};
#define NLINES (sizeof CORPUS / sizeof CORPUS[0])
#define HIDDEN 16
#define POSITIONS 32

static int blank(size_t i) { return i == 2 || i == 5 || i == 8 || i == 11; }

typedef struct fixture {
    char *dir;
    int vocab;
} fixture;

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* corpus.txt, tok/ (tokenizer.json + tokenizer_config.json with
 * model_max_length 16) and cfg.json (a 1-layer BERT of the tokenizer's
 * vocabulary). */
static void fixture_make(fixture *fx)
{
    fx->dir = test_tmpdir();
    ck_assert_ptr_nonnull(fx->dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/corpus.txt", fx->dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < NLINES; i++)
        fprintf(f, "%s\n", CORPUS[i]);
    fclose(f);
    mlm_tokenizer_trainer *tt = NULL;
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tt), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "vocab_size", "300"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "min_frequency", "1"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tt, path), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tt, &tok), MLM_OK);
    mlm_tokenizer_trainer_free(tt);
    snprintf(path, sizeof path, "%s/tok", fx->dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    write_text(path, "tokenizer_config.json", "{\"model_max_length\": 16}\n");
    snprintf(path, sizeof path, "%s/tok/tokenizer.json", fx->dir);
    ck_assert_msg(mlm_tokenizer_save(tok, path) == MLM_OK, "%s", mlm_last_error());
    fx->vocab = mlm_tokenizer_vocab_size(tok);
    mlm_tokenizer_free(tok);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"bert\", \"vocab_size\": %d, \"hidden_size\": %d, "
             "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 32, "
             "\"max_position_embeddings\": %d, \"type_vocab_size\": 2, \"hidden_act\": "
             "\"gelu\", \"hidden_dropout_prob\": 0.1, \"attention_probs_dropout_prob\": 0.1, "
             "\"initializer_range\": 0.02, \"layer_norm_eps\": 1e-12, \"pad_token_id\": 0}\n",
             fx->vocab, HIDDEN, POSITIONS);
    write_text(fx->dir, "cfg.json", cfg);
}

static void fixture_free(fixture *fx)
{
    test_rmtree(fx->dir);
    free(fx->dir);
}

/* Run bin/mlm in dir with args; stdout + stderr. */
static char *run_mlm(const char *dir, const char *args, int *status)
{
    size_t n = strlen(dir) + strlen(test_root()) + strlen(MLM_BIN) + strlen(args) + 32;
    char *cmd = malloc(n);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, n, "cd '%s' && '%s/%s' %s 2>&1", dir, test_root(), MLM_BIN, args);
    char *out = test_run(cmd, status);
    free(cmd);
    ck_assert_ptr_nonnull(out);
    return out;
}

static cJSON *read_json(const char *dir, const char *name, char **text_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = test_read_file(path, NULL);
    ck_assert_msg(text != NULL, "%s is missing", path);
    cJSON *o = cJSON_Parse(text);
    ck_assert_msg(cJSON_IsObject(o), "%s: not a JSON object", path);
    if (text_out)
        *text_out = text;
    else
        free(text);
    return o;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", key);
    return v->valuedouble;
}

/* o's keys are exactly keys[0..n), in sorted order (sort_keys=True). */
static void check_keys(const cJSON *o, const char *const *keys, size_t n)
{
    size_t i = 0;
    for (const cJSON *c = o->child; c; c = c->next, i++) {
        ck_assert_msg(i < n, "extra key \"%s\"", c->string);
        ck_assert_str_eq(c->string, keys[i]);
    }
    ck_assert_uint_eq(i, n);
}

/* json.dump(indent=4): "{\n    \"key\": value,\n ... \n}", no newline at the
 * end; the sample counts are ints and every other metric a Python float. */
static void check_py_format(const char *text)
{
    ck_assert(strncmp(text, "{\n    \"", 7) == 0);
    size_t n = strlen(text);
    ck_assert(n >= 2 && strcmp(text + n - 2, "\n}") == 0);
    for (const char *line = strchr(text, '\n') + 1; *line != '}'; line = strchr(line, '\n') + 1) {
        ck_assert(strncmp(line, "    \"", 5) == 0);
        const char *colon = strstr(line, "\": ");
        ck_assert_ptr_nonnull(colon);
        const char *end = strchr(line, '\n');
        int is_int = colon - line >= 13 && strncmp(colon - 8, "_samples", 8) == 0;
        int has_point = memchr(colon, '.', (size_t)(end - colon)) ||
                        memchr(colon, 'e', (size_t)(end - colon));
        ck_assert_msg(is_int != has_point, "%.*s", (int)(end - line), line);
    }
}

/* Tokens of each line, as run_mlm's tokenizer(texts) gives them. */
static void line_lengths(const fixture *fx, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tok", fx->dir);
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_load(path, &tok), MLM_OK);
    for (size_t i = 0; i < NLINES; i++) {
        mlm_encoding *e = NULL;
        ck_assert_int_eq(mlm_tokenizer_encode(tok, CORPUS[i], strlen(CORPUS[i]), NULL, 0, 1, &e),
                         MLM_OK);
        len[i] = mlm_encoding_length(e);
        mlm_encoding_free(e);
    }
    mlm_tokenizer_free(tok);
}

/* Grouped samples of lines [from, to): Σ tokens // block. */
static size_t grouped(const size_t *len, size_t from, size_t to, size_t block)
{
    size_t total = 0;
    for (size_t i = from; i < to; i++)
        total += len[i];
    return total / block;
}

/* HF's total_flos: 6 · Σ padded batch tokens · non-embedding parameters,
 * for `steps` steps of batches of bs over `rows` rows of seq tokens. */
static double expected_flos(const char *model_dir, size_t rows, size_t bs, int steps, size_t seq,
                            int vocab)
{
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_load(model_dir, &m), MLM_OK);
    long long params = mlm_model_num_parameters(m);
    mlm_model_free(m);
    /* word, position and token type embeddings; the tied decoder is counted once */
    params -= (long long)HIDDEN * (vocab + POSITIONS + 2);
    size_t per_epoch = (rows + bs - 1) / bs, tokens = 0;
    for (int g = 0; g < steps; g++) {
        size_t first = (size_t)g % per_epoch * bs;
        tokens += (rows - first < bs ? rows - first : bs) * seq;
    }
    return 6.0 * (double)tokens * (double)params;
}

START_TEST(train_writes_run_mlm_outputs)
{
    fixture fx;
    fixture_make(&fx);
    int status;
    /* max_seq_length: the tokenizer's model_max_length (16) */
    char *out = run_mlm(fx.dir,
                        "train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt "
                        "--do_train --do_eval --output_dir A --per_device_train_batch_size 4 "
                        "--max_steps 3 --logging_steps 1 --learning_rate 1e-3 --seed 7",
                        &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "***** train metrics *****"));
    ck_assert_ptr_nonnull(strstr(out, "***** eval metrics *****"));
    /* not a terminal: the records as JSON lines, no progress bar */
    ck_assert_ptr_nonnull(strstr(out, "\n{\"loss\":"));
    ck_assert_ptr_null(strchr(out, '\r'));
    free(out);
    char a[4096];
    snprintf(a, sizeof a, "%s/A", fx.dir);
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                        "tokenizer_config.json"};
    for (size_t i = 0; i < 4; i++) {
        char p[8192];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", a, files[i]);
        ck_assert_msg(stat(p, &sb) == 0, "%s is missing", p);
    }
    /* the sample counts: validation = the first round(20 · 5%) = 1 line */
    size_t len[NLINES];
    line_lengths(&fx, len);
    size_t ntrain = grouped(len, 1, NLINES, 16), neval = grouped(len, 0, 1, 16);
    ck_assert_uint_gt(ntrain, 4);
    ck_assert_uint_ge(neval, 1);

    char *text;
    cJSON *tr = read_json(a, "train_results.json", &text);
    static const char *const train_keys[] = {"epoch",        "total_flos",
                                             "train_loss",   "train_runtime",
                                             "train_samples", "train_samples_per_second",
                                             "train_steps_per_second"};
    check_keys(tr, train_keys, 7);
    check_py_format(text);
    free(text);
    ck_assert_uint_eq((size_t)num(tr, "train_samples"), ntrain);
    ck_assert(num(tr, "train_loss") > 0 && isfinite(num(tr, "train_loss")));
    ck_assert_double_eq(num(tr, "total_flos"), expected_flos(a, ntrain, 4, 3, 16, fx.vocab));

    cJSON *ev = read_json(a, "eval_results.json", &text);
    static const char *const eval_keys[] = {"epoch",        "eval_accuracy",
                                            "eval_loss",    "eval_runtime",
                                            "eval_samples", "eval_samples_per_second",
                                            "eval_steps_per_second", "perplexity"};
    check_keys(ev, eval_keys, 8);
    check_py_format(text);
    free(text);
    ck_assert_uint_eq((size_t)num(ev, "eval_samples"), neval);
    double loss = num(ev, "eval_loss"), ppl = num(ev, "perplexity");
    ck_assert(loss > 0 && isfinite(loss));
    /* written with repr(): exact doubles, so exp() agrees to the last bit */
    ck_assert_double_eq(ppl, exp(loss));
    ck_assert_double_eq(num(ev, "epoch"), num(tr, "epoch"));
    /* run_mlm.py's compute_metrics: the share of masked tokens predicted */
    double acc = num(ev, "eval_accuracy");
    ck_assert(acc >= 0 && acc <= 1);

    /* all_results.json: the union of both */
    cJSON *all = read_json(a, "all_results.json", &text);
    check_py_format(text);
    free(text);
    ck_assert_int_eq(cJSON_GetArraySize(all), 14);
    for (const cJSON *src[] = {tr, ev}, **s = src; s < src + 2; s++)
        for (const cJSON *c = (*s)->child; c; c = c->next)
            ck_assert_double_eq(num(all, c->string), c->valuedouble);

    /* trainer_state.json: the log records and HF's final one */
    cJSON *st = read_json(a, "trainer_state.json", &text);
    ck_assert(strncmp(text, "{\n  \"best_global_step\": null,\n", 30) == 0);
    ck_assert(text[strlen(text) - 1] == '\n');
    free(text);
    ck_assert_int_eq((int)num(st, "global_step"), 3);
    ck_assert_int_eq((int)num(st, "max_steps"), 3);
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(st, "log_history");
    ck_assert_int_eq(cJSON_GetArraySize(hist), 4);
    for (int i = 0; i < 3; i++) {
        const cJSON *rec = cJSON_GetArrayItem(hist, i);
        ck_assert_int_eq((int)num(rec, "step"), i + 1);
        ck_assert(num(rec, "loss") > 0);
    }
    const cJSON *last = cJSON_GetArrayItem(hist, 3);
    ck_assert_double_eq(num(last, "train_loss"), num(tr, "train_loss"));
    ck_assert_double_eq(num(last, "total_flos"), num(tr, "total_flos"));
    ck_assert_double_eq(num(last, "train_runtime"), num(tr, "train_runtime"));
    cJSON_Delete(st);
    cJSON_Delete(all);
    cJSON_Delete(ev);
    cJSON_Delete(tr);

    /* the same run from a JSON file (flags override it: output_dir) gives the
     * same model, byte for byte */
    char p1[8192], p2[8192];
    write_text(fx.dir, "train.json",
               "{\"config_name\": \"cfg.json\", \"tokenizer_name\": \"tok\", \"train_file\": "
               "\"corpus.txt\", \"do_train\": true, \"do_eval\": true, \"output_dir\": \"NOT\", "
               "\"per_device_train_batch_size\": 4, \"max_steps\": 3, \"logging_steps\": 1, "
               "\"learning_rate\": 0.001, \"seed\": 7, \"report_to\": [\"none\"], "
               "\"save_total_limit\": null}");
    out = run_mlm(fx.dir, "train --output-dir=B --config train.json", &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    /* C evaluates during training too: the same model, and eval records
     * with eval_accuracy in its trainer_state.json */
    out = run_mlm(fx.dir, "train train.json --output_dir C --eval_strategy steps --eval_steps 2",
                  &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    snprintf(p1, sizeof p1, "%s/C", fx.dir);
    st = read_json(p1, "trainer_state.json", NULL);
    hist = cJSON_GetObjectItemCaseSensitive(st, "log_history");
    int evals = 0;
    for (const cJSON *rec = hist ? hist->child : NULL; rec; rec = rec->next) {
        if (!cJSON_GetObjectItemCaseSensitive(rec, "eval_loss"))
            continue;
        evals++;
        ck_assert_int_eq((int)num(rec, "step"), 2);
        ck_assert(num(rec, "eval_accuracy") >= 0 && num(rec, "eval_accuracy") <= 1);
    }
    ck_assert_int_eq(evals, 1);
    cJSON_Delete(st);
    all = read_json(p1, "all_results.json", NULL);
    ck_assert(num(all, "eval_accuracy") >= 0 && num(all, "eval_accuracy") <= 1);
    cJSON_Delete(all);
    snprintf(p1, sizeof p1, "%s/model.safetensors", a);
    size_t n1, n2;
    char *m1 = test_read_file(p1, &n1);
    for (const char *const *d = (const char *const[]){"B", "C", NULL}; *d; d++) {
        snprintf(p2, sizeof p2, "%s/%s/model.safetensors", fx.dir, *d);
        char *m2 = test_read_file(p2, &n2);
        ck_assert_msg(m1 && m2 && n1 == n2 && memcmp(m1, m2, n1) == 0,
                      "%s differs from the flags' model", p2);
        free(m2);
    }
    free(m1);
    snprintf(p2, sizeof p2, "%s/NOT", fx.dir);
    struct stat sb;
    ck_assert(stat(p2, &sb) != 0);

    /* the saved folder (model, tokenizer, model_max_length) evaluates as the
     * run did: the same split, masks (seed) and loss */
    ev = read_json(a, "eval_results.json", NULL);
    double trained_loss = num(ev, "eval_loss"), trained_acc = num(ev, "eval_accuracy");
    cJSON_Delete(ev);
    out = run_mlm(fx.dir, "eval --model_name_or_path A --train_file corpus.txt --seed 7 "
                          "--output_dir A2",
                  &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    snprintf(p2, sizeof p2, "%s/A2", fx.dir);
    ev = read_json(p2, "eval_results.json", NULL);
    ck_assert_double_eq(num(ev, "eval_loss"), trained_loss);
    ck_assert_double_eq(num(ev, "eval_accuracy"), trained_acc);
    ck_assert_uint_eq((size_t)num(ev, "eval_samples"), neval);
    cJSON_Delete(ev);

    /* mlm eval with a CSV whose first column is the text: no epoch, merged
     * results */
    write_text(fx.dir, "valid.csv",
               "문장,번호\n\"서울은 대한민국의 수도이다.\",1\n\"The quick brown fox.\",2\n"
               "\"바다가 보이는 집에서 살고 싶다. A small model learns.\",3\n");
    out = run_mlm(fx.dir, "eval --model_name_or_path A --validation_file valid.csv "
                          "--output_dir A --max_eval_samples 1",
                  &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    ev = read_json(a, "eval_results.json", NULL);
    static const char *const eval_only_keys[] = {"eval_accuracy", "eval_loss", "eval_runtime",
                                                 "eval_samples", "eval_samples_per_second",
                                                 "eval_steps_per_second", "perplexity"};
    check_keys(ev, eval_only_keys, 7);
    ck_assert_int_eq((int)num(ev, "eval_samples"), 1);
    ck_assert_double_eq(num(ev, "perplexity"), exp(num(ev, "eval_loss")));
    all = read_json(a, "all_results.json", NULL);
    ck_assert_int_eq(cJSON_GetArraySize(all), 14);
    ck_assert_double_eq(num(all, "eval_loss"), num(ev, "eval_loss"));
    ck_assert_double_eq(num(all, "eval_accuracy"), num(ev, "eval_accuracy"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(all, "train_loss"));
    cJSON_Delete(all);
    double fp32_loss = num(ev, "eval_loss");
    cJSON_Delete(ev);

    /* mlm eval --dtype: the same evaluation on the model's int8 and bf16
     * forms (the Trainer's inference-forward path; its exact loss is
     * checked in the dtype suite): results written, a loss of the same
     * model's order; training refuses it */
    static const char *const dtypes[] = {"int8", "bf16"};
    for (int d = 0; d < 2; d++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "eval --model_name_or_path A --validation_file valid.csv --output_dir Q%d "
                 "--max_eval_samples 1 --dtype %s",
                 d, dtypes[d]);
        out = run_mlm(fx.dir, cmd, &status);
        ck_assert_msg(status == 0, "%s", out);
        free(out);
        char q[4200];
        snprintf(q, sizeof q, "%s/Q%d", fx.dir, d);
        ev = read_json(q, "eval_results.json", NULL);
        ck_assert(isfinite(num(ev, "eval_loss")) && num(ev, "eval_loss") > 0);
        ck_assert_double_eq(num(ev, "perplexity"), exp(num(ev, "eval_loss")));
        ck_assert_double_ne(num(ev, "eval_loss"), fp32_loss); /* another model's arithmetic */
        cJSON_Delete(ev);
    }
    fixture_free(&fx);
}
END_TEST

/* Samples of a run: train_samples and eval_samples of dir's all_results. */
static void samples(const char *dir, size_t *train, size_t *eval, cJSON **results)
{
    cJSON *all = read_json(dir, "all_results.json", NULL);
    *train = (size_t)num(all, "train_samples");
    *eval = (size_t)num(all, "eval_samples");
    *results = all;
}

START_TEST(line_by_line_and_grouped_samples)
{
    fixture fx;
    fixture_make(&fx);
    size_t len[NLINES];
    line_lengths(&fx, len);
    /* validation_split_percentage 20: the first round(20 · 0.2) = 4 lines */
    size_t head = 4, ltrain = 0, leval = 0;
    for (size_t i = 0; i < NLINES; i++)
        if (!blank(i))
            *(i < head ? &leval : &ltrain) += 1;
    int status;
    char *out = run_mlm(fx.dir,
                        "train --config_name cfg.json --tokenizer_name tok --train_file "
                        "corpus.txt --line-by-line --do_eval true --validation_split_percentage 20 "
                        "--max_seq_length 8 --max_steps 1 --output_dir L",
                        &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    char d[4096];
    size_t tr, ev;
    cJSON *all;
    snprintf(d, sizeof d, "%s/L", fx.dir);
    samples(d, &tr, &ev, &all);
    ck_assert_uint_eq(tr, ltrain);
    ck_assert_uint_eq(ev, leval);
    /* dynamic padding: one step of 8 rows, all as wide as the widest the
     * shuffle put in the batch, so total_flos is 6 · params · 8 · L for L
     * the (truncated) length of one of the training lines */
    double unit = expected_flos(d, ltrain, 8, 1, 1, fx.vocab);
    double width = num(all, "total_flos") / unit;
    int found = 0;
    for (size_t i = head; i < NLINES; i++)
        found |= !blank(i) && width == (double)(len[i] < 8 ? len[i] : 8);
    ck_assert_msg(found, "total_flos %g is %g rows of 8 wide batches", num(all, "total_flos"),
                  width);
    cJSON_Delete(all);

    /* padded to max_seq_length: every row is 8 tokens, total_flos exact */
    out = run_mlm(fx.dir,
                  "train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt "
                  "--line_by_line --pad_to_max_length=true --do_eval "
                  "--validation_split_percentage 20 --max_seq_length 8 --max_steps 2 "
                  "--per_device_train_batch_size 5 --output_dir P",
                  &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    snprintf(d, sizeof d, "%s/P", fx.dir);
    samples(d, &tr, &ev, &all);
    ck_assert_uint_eq(tr, ltrain);
    ck_assert_uint_eq(ev, leval);
    ck_assert_double_eq(num(all, "total_flos"), expected_flos(d, ltrain, 5, 2, 8, fx.vocab));
    cJSON_Delete(all);

    /* --bf16 (bare: true) trains with autocast's bf16 products, and the
     * checkpoint's training_args.json says so, as HF's does */
    out = run_mlm(fx.dir,
                  "train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt "
                  "--line_by_line --max_seq_length 8 --max_steps 2 --save_steps 2 --bf16 "
                  "--output_dir B",
                  &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    snprintf(d, sizeof d, "%s/B/checkpoint-2/training_args.json", fx.dir);
    char *targs = test_read_file(d, NULL);
    ck_assert_ptr_nonnull(targs);
    ck_assert_msg(strstr(targs, "\"bf16\":\ttrue"), "%s", targs);
    free(targs);

    /* grouped: every line (blank ones give [CLS] [SEP]) in blocks of 8 */
    out = run_mlm(fx.dir,
                  "train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt "
                  "--do_eval --validation_split_percentage 20 --max_seq_length 8 --max_steps 1 "
                  "--output_dir G",
                  &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    snprintf(d, sizeof d, "%s/G", fx.dir);
    samples(d, &tr, &ev, &all);
    ck_assert_uint_eq(tr, grouped(len, head, NLINES, 8));
    ck_assert_uint_eq(ev, grouped(len, 0, head, 8));
    ck_assert_uint_ne(tr, ltrain);
    cJSON_Delete(all);
    fixture_free(&fx);
}
END_TEST

/* bin/mlm run in dir with stdin, stdout and stderr on a terminal (a pty of
 * 120 columns, raw: no newline translation): what it printed there, read
 * until it exited, and its wait status. */
static char *run_mlm_on_terminal(const char *dir, const char *args, int *status)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s/%s' %s", dir, test_root(), MLM_BIN, args);
    return test_run_on_terminal(cmd, 120, status);
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* As `python run_mlm.py` on a terminal: tqdm's bar on stderr with each
 * record above it as a dict, printed once (the tool's JSON lines only go
 * to a pipe or a file); the final evaluation leaves its own bar, one step
 * per eval batch. --disable_tqdm true: no bar, the JSON lines again. */
START_TEST(terminal_shows_the_bar)
{
    fixture fx;
    fixture_make(&fx);
    size_t len[NLINES];
    line_lengths(&fx, len);
    size_t neval = grouped(len, 0, 1, 16), batches = (neval + 7) / 8;
    const char *base = "train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt "
                       "--do_eval --eval_strategy steps --eval_steps 3 --max_steps 3 "
                       "--logging_steps 1 --per_device_train_batch_size 4 --seed 7";
    char args[4096], bar[64];
    snprintf(args, sizeof args, "%s --output_dir T", base);
    int status;
    char *out = run_mlm_on_terminal(fx.dir, args, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "***** Running training *****"));
    ck_assert_ptr_nonnull(strstr(out, "| 3/3 ["));
    ck_assert_uint_eq(occurrences(out, "\r{'loss': "), 3);
    ck_assert_uint_eq(occurrences(out, "\r{'eval_loss': "), 1);
    ck_assert_ptr_nonnull(strstr(out, ", 'eval_accuracy': "));
    ck_assert_uint_eq(occurrences(out, "\r{'train_runtime': "), 1);
    ck_assert_ptr_null(strstr(out, "{\"loss\""));
    ck_assert_ptr_null(strstr(out, "{\"eval_loss\""));
    snprintf(bar, sizeof bar, "| %zu/%zu [", batches, batches);
    const char *left = strstr(out, bar), *metrics = strstr(out, "***** eval metrics *****");
    ck_assert_msg(left && metrics && left < metrics, "no %s before the eval metrics: %s", bar,
                  out);
    ck_assert_ptr_null(strchr(out, '\033'));
    free(out);

    snprintf(args, sizeof args, "%s --output_dir U --disable_tqdm true", base);
    out = run_mlm_on_terminal(fx.dir, args, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_uint_eq(occurrences(out, "\n{\"loss\":"), 3);
    ck_assert_uint_eq(occurrences(out, "\n{\"eval_loss\":"), 1);
    ck_assert_ptr_nonnull(strstr(out, "\"eval_accuracy\":"));
    free(out);
    fixture_free(&fx);
}
END_TEST

static void expect_error(const fixture *fx, const char *args, int want_status, const char *want)
{
    int status;
    char *out = run_mlm(fx->dir, args, &status);
    ck_assert_msg(status == want_status, "'%s' exited %d: %s", args, status, out);
    ck_assert_msg(strstr(out, want) != NULL, "'%s': no '%s' in: %s", args, want, out);
    free(out);
}

START_TEST(errors_name_the_flag)
{
    fixture fx;
    fixture_make(&fx);
    const char *base = "train --config_name cfg.json --tokenizer_name tok --output_dir E "
                       "--train_file corpus.txt";
    char args[4096];
    expect_error(&fx, "train --learning_rat 1e-4", 2, "'--learning_rat'");
    expect_error(&fx, "train --learning_rate", 2, "--learning_rate: needs a value");
    expect_error(&fx, "train --max_steps 2.5", 2, "--max_steps: invalid value '2.5'");
    expect_error(&fx, "train --do_train peut-être", 2, "--do_train: invalid value");
    expect_error(&fx, "train --fp16", 2, "--fp16");
    expect_error(&fx, "train --bf16 bfloat16", 2, "--bf16: invalid value");
    expect_error(&fx, "eval --dtype fp16", 2, "--dtype: 'fp16' is not supported");
    expect_error(&fx, "train --dataset_name wikitext", 2, "--dataset_name");
    expect_error(&fx, "train 남는-인자", 2, "남는-인자");
    snprintf(args, sizeof args, "%s --learning_rate -1", base);
    expect_error(&fx, args, 2, "--learning_rate: trainer option learning_rate");
    snprintf(args, sizeof args, "%s --dtype int8", base);
    expect_error(&fx, args, 2, "--dtype: training needs fp32 weights");
    snprintf(args, sizeof args, "%s --eval_strategy 가끔", base);
    expect_error(&fx, args, 2, "--eval_strategy: '가끔'");
    /* without tokenizer_config.json: 1024 (run_mlm's cap) > the model's 32 positions */
    char p[4096];
    snprintf(p, sizeof p, "%s/tok2", fx.dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/tok/tokenizer.json", fx.dir);
    char *tj = test_read_file(p, NULL);
    ck_assert_ptr_nonnull(tj);
    snprintf(p, sizeof p, "%s/tok2", fx.dir);
    write_text(p, "tokenizer.json", tj);
    free(tj);
    expect_error(&fx, "train --config_name cfg.json --tokenizer_name tok2 --output_dir E "
                      "--train_file corpus.txt", 1, "--max_seq_length: 1024 tokens");
    /* an empty training file: said so, naming the file, with or without
     * line_by_line and whether or not there is an evaluation */
    write_text(fx.dir, "빈.txt", "");
    expect_error(&fx, "train --config_name cfg.json --tokenizer_name tok --output_dir E "
                      "--train_file 빈.txt --do_train --max_seq_length 16", 1,
                 "--train_file 빈.txt: the file has no text");
    expect_error(&fx, "train --config_name cfg.json --tokenizer_name tok --output_dir E "
                      "--train_file 빈.txt --do_train --do_eval --line_by_line "
                      "--max_seq_length 16", 1, "--train_file 빈.txt: the file has no text");
    expect_error(&fx, "train --config_name cfg.json --tokenizer_name tok --output_dir E "
                      "--train_file corpus.txt --validation_file 빈.txt --do_train --do_eval "
                      "--max_seq_length 16", 1, "--validation_file 빈.txt: the file has no text");
    write_text(fx.dir, "bad.json", "{\"learning_rate\": 1e-4, \"학습률\": 1}");
    expect_error(&fx, "train bad.json", 2, "bad.json: unknown argument \"학습률\"");
    expect_error(&fx, "train --config 없는.json", 2, "없는.json");
    expect_error(&fx, "train --config_name cfg.json --tokenizer_name tok --train_file "
                      "없는.txt --output_dir E", 1, "없는.txt");
    expect_error(&fx, "train --config_name cfg.json --tokenizer_name tok --train_file "
                      "corpus.docx", 2, "--train_file corpus.docx");
    expect_error(&fx, "train --tokenizer_name tok --train_file corpus.txt", 2,
                 "--model_name_or_path");
    expect_error(&fx, "eval --do_train --config_name cfg.json", 2, "--do_train");
    /* nothing was written by any of them */
    char e[4096];
    struct stat sb;
    snprintf(e, sizeof e, "%s/E", fx.dir);
    ck_assert(stat(e, &sb) != 0);
    /* a non-empty output_dir without a checkpoint is refused, untouched */
    ck_assert_int_eq(mkdir(e, 0777), 0);
    write_text(e, "메모.txt", "keep me");
    snprintf(args, sizeof args, "%s --max_seq_length 16", base);
    expect_error(&fx, args, 1, "--overwrite_output_dir");
    snprintf(e, sizeof e, "%s/E/train_results.json", fx.dir);
    ck_assert(stat(e, &sb) != 0);
    /* the flag list */
    int status;
    char *out = run_mlm(fx.dir, "help train", &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(out, "--per_device_train_batch_size"));
    ck_assert_ptr_nonnull(strstr(out, "--validation_split_percentage"));
    free(out);
    out = run_mlm(fx.dir, "train --help", &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(out, "--line_by_line"));
    free(out);
    fixture_free(&fx);
}
END_TEST

Suite *cli_train_suite(void)
{
    Suite *s = suite_create("cli_train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, train_writes_run_mlm_outputs);
    tcase_add_test(tc, line_by_line_and_grouped_samples);
    tcase_add_test(tc, errors_name_the_flag);
    tcase_add_test(tc, terminal_shows_the_bar);
    suite_add_tcase(s, tc);
    return s;
}
