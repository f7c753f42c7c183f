/* The Trainer: options (names, HF defaults, errors), bit-identical resume
 * from a checkpoint, save_total_limit, the stop on a non-finite loss, the
 * callback's stop, and a learning test: a tiny BERT trained from scratch on
 * a generated corpus of facts ("the capital of X is Y", Korean variants)
 * must fill in held-out sentences. Case "accuracy": eval_accuracy against
 * the inference forward's argmax; case "progress": the progress bars and
 * log lines against tqdm and CPython, with a callback and on a terminal;
 * case "checkpoint": what a checkpoint holds, a process killed while
 * writing one, a failed final save. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <errno.h>
#include <math.h>
#include <mlm.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "io/file.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "io/progress.h"
#include "train/trainer_impl.h" /* EVAL_BATCH_BASE: the eval batches' mask streams */

/* ---------------------------------------------------------------- corpus */

#define N_FACTS 40
#define N_TEMPLATES 8 /* 0..5 English, 6..7 Korean */
#define N_PREFIXES 4

static const char *const cons[] = {"b", "d", "f", "g", "k", "l", "m",
                                   "n", "p", "r", "s", "t", "v", "z"};
static const char *const vows[] = {"a", "e", "i", "o", "u"};
static const char *const prefixes[N_PREFIXES] = {"", "everyone knows that ", "it is true that ",
                                                 "we learned that "};

/* Distinct for i < 70: (i mod 14, i mod 5) determines i mod 70. */
static void country(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sr%sia", cons[i % 14], vows[i % 5], vows[(i + 2) % 5]);
}

static void city(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sox", vows[i % 5], cons[i % 14]);
}

static void sentence(int fact, int tmpl, int prefix, const char *city_text, char *out,
                     size_t cap)
{
    char x[32], y[32];
    country(fact, x, sizeof x);
    if (city_text)
        snprintf(y, sizeof y, "%s", city_text);
    else
        city(fact, y, sizeof y);
    const char *p = prefixes[prefix];
    switch (tmpl) {
    case 0: snprintf(out, cap, "%sthe capital of %s is %s .", p, x, y); break;
    case 1: snprintf(out, cap, "%s%s is the capital of %s .", p, y, x); break;
    case 2: snprintf(out, cap, "%s%s has its capital at %s .", p, x, y); break;
    case 3: snprintf(out, cap, "%sthe capital city of %s is called %s .", p, x, y); break;
    case 4: snprintf(out, cap, "%sin %s , the seat of government is %s .", p, x, y); break;
    case 5: snprintf(out, cap, "%stravelers to %s arrive first in %s .", p, x, y); break;
    case 6: snprintf(out, cap, "%s%s의 수도는 %s 이다 .", p, x, y); break;
    default: snprintf(out, cap, "%s%s 는 %s의 수도이다 .", p, y, x); break;
    }
}

/* The held-out template of a fact: one English template per fact. */
static int held_out(int fact) { return fact % 6; }

typedef struct world {
    mlm_tokenizer *tok;
    mlm_dataset *train, *eval;
    mlm_collator *col;
    char cfg[1024];
} world;

static mlm_dataset *tokenized(const mlm_tokenizer *tok, char **texts, size_t n)
{
    mlm_dataset *raw = NULL, *out = NULL;
    ck_assert_int_eq(mlm_dataset_new(&raw), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_string_column(raw, "text", (const char *const *)texts, n),
                     MLM_OK);
    ck_assert_msg(mlm_dataset_tokenize(raw, tok, "text", "{\"remove_columns\": \"all\"}", &out) ==
                      MLM_OK,
                  "%s", mlm_last_error());
    mlm_dataset_free(raw);
    return out;
}

/* hidden/layers/dropout: the model of the world's config. */
static void world_make(world *w, int hidden, int layers, double dropout)
{
    size_t cap = N_FACTS * N_TEMPLATES * N_PREFIXES;
    char **tr = malloc(cap * sizeof *tr), **ev = malloc(cap * sizeof *ev);
    size_t ntr = 0, nev = 0;
    for (int f = 0; f < N_FACTS; f++)
        for (int t = 0; t < N_TEMPLATES; t++)
            for (int p = 0; p < N_PREFIXES; p++) {
                char s[256];
                sentence(f, t, p, NULL, s, sizeof s);
                if (t == held_out(f))
                    ev[nev++] = strdup(s);
                else
                    tr[ntr++] = strdup(s);
            }
    mlm_tokenizer_trainer *tt = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tt), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "vocab_size", "400"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "min_frequency", "1"), MLM_OK);
    for (size_t i = 0; i < ntr; i++)
        ck_assert_int_eq(mlm_tokenizer_trainer_feed(tt, tr[i], strlen(tr[i])), MLM_OK);
    ck_assert_msg(mlm_tokenizer_trainer_finish(tt, &w->tok) == MLM_OK, "%s", mlm_last_error());
    mlm_tokenizer_trainer_free(tt);
    w->train = tokenized(w->tok, tr, ntr);
    w->eval = tokenized(w->tok, ev, nev);
    for (size_t i = 0; i < ntr; i++)
        free(tr[i]);
    for (size_t i = 0; i < nev; i++)
        free(ev[i]);
    free(tr);
    free(ev);
    ck_assert_msg(mlm_collator_new(w->tok, "{\"seed\": 3}", &w->col) == MLM_OK, "%s",
                  mlm_last_error());
    snprintf(w->cfg, sizeof w->cfg,
             "{\"model_type\":\"bert\",\"vocab_size\":%d,\"hidden_size\":%d,"
             "\"num_hidden_layers\":%d,\"num_attention_heads\":4,\"intermediate_size\":%d,"
             "\"max_position_embeddings\":64,\"type_vocab_size\":2,\"hidden_act\":\"gelu\","
             "\"hidden_dropout_prob\":%g,\"attention_probs_dropout_prob\":%g,"
             "\"initializer_range\":0.02,\"layer_norm_eps\":1e-12,\"pad_token_id\":0}",
             mlm_tokenizer_vocab_size(w->tok), hidden, layers, 2 * hidden, dropout, dropout);
}

static void world_free(world *w)
{
    mlm_collator_free(w->col);
    mlm_dataset_free(w->train);
    mlm_dataset_free(w->eval);
    mlm_tokenizer_free(w->tok);
}

static mlm_model *new_model(const world *w)
{
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_new(w->cfg, strlen(w->cfg), 11, &m) == MLM_OK, "%s",
                  mlm_last_error());
    return m;
}

static int quiet(const char *rec, void *user)
{
    (void)rec;
    (void)user;
    return 0;
}

static mlm_trainer *new_trainer(const world *w, mlm_model *m, const char *opts)
{
    mlm_trainer *tr = NULL;
    ck_assert_msg(mlm_trainer_new(m, w->col, w->train, w->eval, &tr) == MLM_OK, "%s",
                  mlm_last_error());
    ck_assert_msg(mlm_trainer_set_json(tr, opts) == MLM_OK, "%s", mlm_last_error());
    mlm_trainer_set_callback(tr, quiet, NULL);
    return tr;
}

static int exists(const char *dir, const char *name)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

/* ---------------------------------------------------------------- options */

START_TEST(options_defaults_and_errors)
{
    world w;
    world_make(&w, 16, 1, 0.1);
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = NULL;
    ck_assert_int_eq(mlm_trainer_new(m, w.col, w.train, NULL, &tr), MLM_OK);
    char buf[4096];
    size_t need;
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_uint_le(need, sizeof buf);
    const char *expect[] = {"\"learning_rate\":5e-05",
                            "\"num_train_epochs\":3",
                            "\"per_device_train_batch_size\":8",
                            "\"per_device_eval_batch_size\":8",
                            "\"max_grad_norm\":1",
                            "\"seed\":42",
                            "\"logging_steps\":500",
                            "\"save_strategy\":\"steps\"",
                            "\"save_steps\":500",
                            "\"eval_strategy\":\"no\"",
                            "\"eval_steps\":null",
                            "\"save_total_limit\":null",
                            "\"max_steps\":-1",
                            "\"weight_decay\":0",
                            "\"output_dir\":\"trainer_output\""};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        ck_assert_msg(strstr(buf, expect[i]) != NULL, "%s not in %s", expect[i], buf);

    /* the seed tutorial's arguments */
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"output_dir\": \"out\", \"eval_strategy\": "
                                              "\"epoch\", \"learning_rate\": 2e-5, "
                                              "\"num_train_epochs\": 3, \"weight_decay\": 0.01}"),
                     MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"learning_rate\":2e-05"));
    ck_assert_ptr_nonnull(strstr(buf, "\"eval_strategy\":\"epoch\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"weight_decay\":0.01"));

    /* errors name the option and leave it unchanged */
    struct {
        const char *name, *value;
    } bad[] = {{"no_such_option", "1"},        {"learning_rate", "fast"},
               {"learning_rate", "nan"},       {"learning_rate", "-1"},
               {"eval_strategy", "best"},      {"per_device_train_batch_size", "0"},
               {"per_device_train_batch_size", "2.5"}, {"gradient_accumulation_steps", "0"},
               {"warmup_ratio", "1.5"},        {"adam_beta1", "1"},
               {"save_total_limit", "0"},      {"logging_steps", "null"},
               {"output_dir", ""},             {"num_train_epochs", "0"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(mlm_trainer_set(tr, bad[i].name, bad[i].value),
                         MLM_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(mlm_last_error(), bad[i].name) != NULL, "%s",
                      mlm_last_error());
    }
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"seed\": true}"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "seed"));
    ck_assert_int_eq(mlm_trainer_set_json(tr, "[1]"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_set(tr, "save_total_limit", "2"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_set(tr, "save_total_limit", "null"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"learning_rate\":2e-05"));
    /* two-call sizing */
    char small[8];
    size_t need2;
    ck_assert_int_eq(mlm_trainer_args_json(tr, small, sizeof small, &need2), MLM_OK);
    ck_assert_uint_eq(need2, need);
    ck_assert_uint_eq(strlen(small), 7);
    /* evaluate needs an eval set; eval_strategy needs one too */
    ck_assert_int_eq(mlm_trainer_evaluate(tr, NULL, NULL), MLM_ERR_STATE);
    mlm_trainer_free(tr);
    mlm_trainer_free(NULL);
    ck_assert_int_eq(mlm_trainer_new(m, NULL, w.train, NULL, &tr), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(tr);
    mlm_model_free(m);
    world_free(&w);
}
END_TEST

/* ---------------------------------------------------------------- resume */

static int stop_at_3(const char *rec, void *user)
{
    (void)user;
    return strstr(rec, "\"step\":3") != NULL && strstr(rec, "\"loss\"") != NULL;
}

static char *read_all(const char *dir, const char *name, size_t *len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *s = test_read_file(p, len);
    ck_assert_msg(s != NULL, "cannot read %s", p);
    return s;
}

START_TEST(resume_is_bit_identical)
{
    world w;
    world_make(&w, 16, 2, 0.1); /* dropout on: its masks must follow the step too */
    char *da = test_tmpdir(), *db = test_tmpdir(), opts[1024];
    const char *common = "\"max_steps\": 6, \"per_device_train_batch_size\": 4, "
                         "\"gradient_accumulation_steps\": 2, \"learning_rate\": 1e-3, "
                         "\"warmup_steps\": 2, \"weight_decay\": 0.01, \"logging_steps\": 1, "
                         "\"save_steps\": 3, \"eval_strategy\": \"steps\", \"eval_steps\": 2";

    /* A: six steps uninterrupted */
    snprintf(opts, sizeof opts, "{\"output_dir\": \"%s\", %s}", da, common);
    mlm_model *ma = new_model(&w);
    mlm_trainer *ta = new_trainer(&w, ma, opts);
    ck_assert_msg(mlm_trainer_train(ta) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(mlm_trainer_global_step(ta), 6);
    ck_assert(exists(da, "checkpoint-3/model.safetensors"));
    ck_assert(exists(da, "checkpoint-6/optimizer.safetensors"));
    ck_assert(exists(da, "checkpoint-6/trainer_state.json"));
    ck_assert(exists(da, "checkpoint-6/training_args.json"));
    ck_assert(exists(da, "checkpoint-6/scheduler.json"));
    ck_assert(exists(da, "model.safetensors"));
    ck_assert(exists(da, "config.json"));

    /* B: stopped by the callback at step 3 (after checkpoint-3) ... */
    snprintf(opts, sizeof opts, "{\"output_dir\": \"%s\", %s}", db, common);
    mlm_model *mb = new_model(&w);
    mlm_trainer *tb = new_trainer(&w, mb, opts);
    mlm_trainer_set_callback(tb, stop_at_3, NULL);
    ck_assert_int_eq(mlm_trainer_train(tb), MLM_ERR_CANCELLED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "cancel"));
    ck_assert_int_eq(mlm_trainer_global_step(tb), 3);
    ck_assert(exists(db, "checkpoint-3/model.safetensors"));
    ck_assert(!exists(db, "checkpoint-6"));
    ck_assert_int_eq(mlm_trainer_train(tb), MLM_ERR_STATE);
    mlm_trainer_free(tb);
    mlm_model_free(mb);

    /* ... then a new trainer on a fresh model resumes from it */
    char ck[2048];
    snprintf(ck, sizeof ck, "%s/checkpoint-3", db);
    mb = new_model(&w);
    tb = new_trainer(&w, mb, opts);
    ck_assert_msg(mlm_trainer_resume(tb, ck) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(mlm_trainer_global_step(tb), 6);

    const char *files[] = {"model.safetensors", "checkpoint-6/model.safetensors",
                           "checkpoint-6/optimizer.safetensors",
                           "checkpoint-6/trainer_state.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t la, lb;
        char *a = read_all(da, files[i], &la), *b = read_all(db, files[i], &lb);
        ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs after resume", files[i]);
        free(a);
        free(b);
    }
    /* the log history was carried over and goes on */
    size_t len;
    char *state = read_all(db, "checkpoint-6/trainer_state.json", &len);
    ck_assert_ptr_nonnull(strstr(state, "\"global_step\":\t6"));
    ck_assert_ptr_nonnull(strstr(state, "\"eval_loss\""));
    free(state);

    /* evaluation is deterministic */
    double l1, l2, p1;
    ck_assert_int_eq(mlm_trainer_evaluate(tb, &l1, &p1), MLM_OK);
    ck_assert_int_eq(mlm_trainer_evaluate(ta, &l2, NULL), MLM_OK);
    ck_assert(l1 == l2);
    ck_assert(fabs(p1 - exp(l1)) <= 1e-12 * p1);

    /* a missing checkpoint is an error naming it */
    mlm_model *mc = new_model(&w);
    mlm_trainer *tc = new_trainer(&w, mc, opts);
    ck_assert_int_ne(mlm_trainer_resume(tc, "/nonexistent/checkpoint-3"), MLM_OK);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "/nonexistent/checkpoint-3"));
    mlm_trainer_free(tc);
    mlm_model_free(mc);

    mlm_trainer_free(ta);
    mlm_trainer_free(tb);
    mlm_model_free(ma);
    mlm_model_free(mb);
    test_rmtree(da);
    test_rmtree(db);
    free(da);
    free(db);
    world_free(&w);
}
END_TEST

START_TEST(save_total_limit_keeps_newest)
{
    world w;
    world_make(&w, 16, 1, 0.1);
    char *d = test_tmpdir(), opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 5, \"save_steps\": 1, "
             "\"save_total_limit\": 2, \"per_device_train_batch_size\": 4}",
             d);
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, opts);
    ck_assert_msg(mlm_trainer_train(tr) == MLM_OK, "%s", mlm_last_error());
    ck_assert(!exists(d, "checkpoint-1"));
    ck_assert(!exists(d, "checkpoint-2"));
    ck_assert(!exists(d, "checkpoint-3"));
    ck_assert(exists(d, "checkpoint-4/model.safetensors"));
    ck_assert(exists(d, "checkpoint-5/model.safetensors"));
    ck_assert(!exists(d, "tmp-checkpoint-5"));
    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

START_TEST(non_finite_loss_stops)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    char *d = test_tmpdir(), opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 20, \"save_steps\": 1, "
             "\"learning_rate\": 1e30, \"max_grad_norm\": 0, "
             "\"per_device_train_batch_size\": 4}",
             d);
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, opts);
    ck_assert_int_eq(mlm_trainer_train(tr), MLM_ERR_NUMERIC);
    ck_assert_msg(strstr(mlm_last_error(), "learning_rate") != NULL, "%s", mlm_last_error());
    int64_t done = mlm_trainer_global_step(tr);
    ck_assert_int_lt(done, 20);
    /* the checkpoints before the failure are whole, none after it, no
     * leftover temporary folder, no final model */
    for (int64_t k = 1; k <= done; k++) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint-%lld/trainer_state.json", (long long)k);
        ck_assert_msg(exists(d, name), "%s", name);
    }
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%lld", (long long)done + 1);
    ck_assert(!exists(d, name));
    snprintf(name, sizeof name, "tmp-checkpoint-%lld", (long long)done + 1);
    ck_assert(!exists(d, name));
    ck_assert(!exists(d, "model.safetensors"));
    if (done > 0) {
        char ck[2048];
        snprintf(ck, sizeof ck, "%s/checkpoint-%lld", d, (long long)done);
        mlm_model *back = NULL;
        ck_assert_msg(mlm_model_load(ck, &back) == MLM_OK, "%s", mlm_last_error());
        mlm_model_free(back);
    }
    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

/* ---------------------------------------------------------------- learning */

typedef struct eval_log {
    double last_eval_loss, last_ppl;
    int n_eval, n_loss;
} eval_log;

static int record_eval(const char *rec, void *user)
{
    eval_log *e = user;
    const char *p = strstr(rec, "\"eval_loss\":");
    if (p) {
        e->last_eval_loss = strtod(p + 12, NULL);
        const char *q = strstr(rec, "\"perplexity\":");
        ck_assert_ptr_nonnull(q);
        e->last_ppl = strtod(q + 13, NULL);
        e->n_eval++;
    }
    if (strstr(rec, "\"loss\":"))
        e->n_loss++;
    return 0;
}

/* The root cause of the earlier failure was not a bug: every link was
 * checked (test_train: overfits_one_batch, context_capacity_is_invisible,
 * finite differences at this shape with padding and ids > 255; padded and
 * unpadded forwards agree; collated labels and masks are right; fact words
 * are single tokens). It is a plateau of the optimisation: the model first
 * learns the templates and predicts the city seen most with the template
 * (held-out accuracy 0/160: the held-out city never appeared with that
 * template), and only later learns content-based attention from [MASK] to
 * the country. With one template and no prefixes (fixed positions) 400
 * full-batch steps suffice; the 4 prefixes shift positions and need ~4x
 * more. Measured on this corpus (2 x 64, batch 32, lr 3e-3, 1 thread):
 *   mlm 0.15, 30 epochs: acc 0.006, ppl 2.34   (the old opt-in setting)
 *   mlm 0.15, 100 epochs: acc 0.869, ppl 1.44
 *   mlm 0.15, 140 epochs: acc 0.963, ppl 1.27  (~40 s)
 *   mlm 0.25, 100 epochs: acc 1.000, ppl 1.23  (~28 s; eval masks 25% too,
 *                                              stricter than 15%)
 * so the test trains with mlm_probability 0.25 (more labelled positions per
 * step) and keeps the bar: >= 95% held-out accuracy, eval perplexity < 1.5. */
START_TEST(learns_facts)
{
    world w;
    world_make(&w, 64, 2, 0.0);
    char *d = test_tmpdir(), opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"num_train_epochs\": 100, \"learning_rate\": 3e-3, "
             "\"warmup_ratio\": 0.05, \"weight_decay\": 0.01, "
             "\"per_device_train_batch_size\": 32, \"per_device_eval_batch_size\": 64, "
             "\"eval_strategy\": \"epoch\", \"save_strategy\": \"no\", \"logging_steps\": 50, "
             "\"num_threads\": 1}",
             d);
    /* train and evaluate with 25% of the tokens masked */
    mlm_collator_free(w.col);
    w.col = NULL;
    ck_assert_msg(mlm_collator_new(w.tok, "{\"seed\": 3, \"mlm_probability\": 0.25}", &w.col) ==
                      MLM_OK,
                  "%s", mlm_last_error());
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, opts);
    eval_log log = {0};
    mlm_trainer_set_callback(tr, record_eval, &log);
    ck_assert_msg(mlm_trainer_train(tr) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(log.n_eval, 100);
    ck_assert_int_gt(log.n_loss, 0);

    /* masked-token accuracy on the held-out sentences, the city masked */
    int32_t mask = mlm_tokenizer_token_to_id(w.tok, "[MASK]");
    int V = mlm_model_vocab_size(m);
    float *logits = malloc((size_t)V * sizeof *logits);
    int right = 0, total = 0;
    for (int f = 0; f < N_FACTS; f++)
        for (int p = 0; p < N_PREFIXES; p++) {
            char y[32], s[256];
            city(f, y, sizeof y);
            int32_t want = mlm_tokenizer_token_to_id(w.tok, y);
            ck_assert_msg(want >= 0, "city %s is not one token", y);
            sentence(f, held_out(f), p, "[MASK]", s, sizeof s);
            mlm_encoding *e = NULL;
            ck_assert_int_eq(mlm_tokenizer_encode(w.tok, s, strlen(s), NULL, 0, 1, &e), MLM_OK);
            size_t n = mlm_encoding_length(e);
            const int32_t *ids = mlm_encoding_ids(e);
            int32_t pos = -1;
            for (size_t i = 0; i < n; i++)
                if (ids[i] == mask)
                    pos = (int32_t)i;
            ck_assert_int_ge(pos, 0);
            ck_assert_int_eq(mlm_model_forward(m, 2, ids, NULL, NULL, 1, n, &pos, 1, logits),
                             MLM_OK);
            int best = 0;
            for (int v = 1; v < V; v++)
                if (logits[v] > logits[best])
                    best = v;
            right += best == want;
            total++;
            mlm_encoding_free(e);
        }
    free(logits);
    double acc = (double)right / total;
    fprintf(stderr, "trainer learning test: held-out accuracy %.3f (%d/%d), eval_loss %.4f, "
                    "perplexity %.4f\n",
            acc, right, total, log.last_eval_loss, log.last_ppl);
    ck_assert_msg(acc >= 0.95, "held-out accuracy %.3f < 0.95", acc);
    ck_assert_msg(log.last_ppl < 1.5, "eval perplexity %.4f >= 1.5", log.last_ppl);
    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

/* ---------------------------------------------------------------- accuracy */

/* run_mlm.py's eval_accuracy computed here from the public API alone: the
 * eval batches as mlm_trainer_evaluate makes them (rows in order, bs a
 * batch, batch k masked with batch index EVAL_BATCH_BASE + k), the
 * inference forward at the labelled positions, torch.argmax's first maximum
 * (strict >), correct and labelled counted over the whole set. */
static void reference_accuracy(const world *w, const mlm_model *m, size_t bs, size_t *correct,
                               size_t *labelled)
{
    size_t N = mlm_dataset_num_rows(w->eval);
    int V = mlm_model_vocab_size(m);
    size_t *rows = malloc(bs * sizeof *rows);
    *correct = *labelled = 0;
    for (size_t i = 0, k = 0; i < N; i += bs, k++) {
        size_t n = N - i < bs ? N - i : bs;
        for (size_t j = 0; j < n; j++)
            rows[j] = i + j;
        mlm_batch *b = NULL;
        ck_assert_int_eq(mlm_collator_collate(w->col, w->eval, rows, n, EVAL_BATCH_BASE + k, &b),
                         MLM_OK);
        size_t B = mlm_batch_rows(b), T = mlm_batch_seq_len(b);
        const int32_t *labels = mlm_batch_labels(b);
        int32_t *pos = malloc(B * T * sizeof *pos);
        size_t np = 0;
        for (size_t p = 0; p < B * T; p++)
            if (labels[p] != -100)
                pos[np++] = (int32_t)p;
        float *logits = malloc((np ? np : 1) * (size_t)V * sizeof *logits);
        if (np)
            ck_assert_int_eq(mlm_model_forward(m, 1, mlm_batch_input_ids(b),
                                               mlm_batch_attention_mask(b),
                                               mlm_batch_token_type_ids(b), B, T, pos, np, logits),
                             MLM_OK);
        for (size_t r = 0; r < np; r++) {
            const float *row = logits + r * (size_t)V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (row[v] > row[best])
                    best = v;
            *correct += best == labels[pos[r]];
        }
        *labelled += np;
        free(logits);
        free(pos);
        mlm_batch_free(b);
    }
    free(rows);
}

typedef struct accuracy_log {
    int n_eval, n_with;
    double last_accuracy;
    char *last_eval; /* the last eval record */
} accuracy_log;

static int record_accuracy(const char *rec, void *user)
{
    accuracy_log *a = user;
    if (!strstr(rec, "\"eval_loss\":"))
        return 0;
    a->n_eval++;
    free(a->last_eval);
    a->last_eval = strdup(rec);
    const char *p = strstr(rec, "\"eval_accuracy\":");
    if (p) {
        a->n_with++;
        a->last_accuracy = strtod(p + 16, NULL);
    }
    return 0;
}

/* The keys of a record, in order, as one comma-separated string. */
static void record_keys(const char *rec, char *out, size_t cap)
{
    cJSON *o = cJSON_Parse(rec);
    ck_assert_ptr_nonnull(o);
    out[0] = '\0';
    for (const cJSON *it = o->child; it; it = it->next)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", it == o->child ? "" : ",",
                 it->string);
    cJSON_Delete(o);
}

/* A model trained a little (it predicts the frequent words, not yet the
 * cities: an accuracy strictly between 0 and 1), evaluated in batches of 48
 * rows (the last one shorter): the trainer's eval_accuracy is the
 * reference's correct / labelled exactly, in the eval records (after
 * eval_loss, as transformers' evaluation_loop orders them) and from
 * mlm_trainer_last_eval_accuracy; without compute_accuracy there is none. */
START_TEST(eval_accuracy_matches_argmax)
{
    world w;
    world_make(&w, 32, 1, 0.1);
    ck_assert_uint_gt(mlm_dataset_num_rows(w.eval) % 48, 0);
    mlm_model *m = new_model(&w);
    char *d = test_tmpdir(), opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 40, \"learning_rate\": 3e-3, "
             "\"per_device_train_batch_size\": 16, \"per_device_eval_batch_size\": 48, "
             "\"eval_strategy\": \"steps\", \"eval_steps\": 20, \"logging_steps\": 20, "
             "\"save_strategy\": \"no\", \"compute_accuracy\": true, \"num_threads\": 1}",
             d);
    mlm_trainer *tr = new_trainer(&w, m, opts);
    accuracy_log log = {0};
    mlm_trainer_set_callback(tr, record_accuracy, &log);
    ck_assert(isnan(mlm_trainer_last_eval_accuracy(tr)));
    ck_assert_msg(mlm_trainer_train(tr) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(log.n_eval, 2);
    ck_assert_int_eq(log.n_with, 2);
    char keys[256];
    record_keys(log.last_eval, keys, sizeof keys);
    ck_assert_str_eq(keys, "eval_loss,eval_accuracy,perplexity,epoch,step");

    size_t correct, labelled;
    reference_accuracy(&w, m, 48, &correct, &labelled);
    ck_assert_uint_gt(correct, 0);
    ck_assert_uint_lt(correct, labelled);
    const double want = (double)correct / (double)labelled;
    /* the evaluation at step 40 saw the final model */
    ck_assert_double_eq(log.last_accuracy, want);
    ck_assert_double_eq(mlm_trainer_last_eval_accuracy(tr), want);
    double loss = 0;
    ck_assert_int_eq(mlm_trainer_evaluate(tr, &loss, NULL), MLM_OK);
    ck_assert_double_eq(mlm_trainer_last_eval_accuracy(tr), want);
    fprintf(stderr, "eval_accuracy %zu/%zu = %.4f, eval_loss %.4f\n", correct, labelled, want,
            loss);

    /* other batches, the same pooled count */
    mlm_trainer *other = new_trainer(&w, m, "{\"per_device_eval_batch_size\": 7, "
                                            "\"compute_accuracy\": \"yes\"}");
    ck_assert_int_eq(mlm_trainer_evaluate(other, NULL, NULL), MLM_OK);
    reference_accuracy(&w, m, 7, &correct, &labelled);
    ck_assert_double_eq(mlm_trainer_last_eval_accuracy(other), (double)correct / labelled);
    mlm_trainer_free(other);

    /* off (the default): no eval_accuracy anywhere */
    mlm_trainer *off = new_trainer(&w, m, "{\"max_steps\": 1, \"eval_strategy\": \"steps\", "
                                          "\"eval_steps\": 1, \"save_strategy\": \"no\"}");
    char buf[4096];
    size_t need;
    ck_assert_int_eq(mlm_trainer_args_json(off, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"compute_accuracy\":false"));
    ck_assert_int_eq(mlm_trainer_evaluate(off, NULL, NULL), MLM_OK);
    ck_assert(isnan(mlm_trainer_last_eval_accuracy(off)));
    ck_assert_int_eq(mlm_trainer_set(off, "output_dir", d), MLM_OK);
    accuracy_log none = {0};
    mlm_trainer_set_callback(off, record_accuracy, &none);
    ck_assert_msg(mlm_trainer_train(off) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(none.n_eval, 1);
    ck_assert_int_eq(none.n_with, 0);
    record_keys(none.last_eval, keys, sizeof keys);
    ck_assert_str_eq(keys, "eval_loss,perplexity,epoch,step");
    ck_assert(isnan(mlm_trainer_last_eval_accuracy(NULL)));

    /* the option: HF's boolean spellings; null, other values and unknown
     * names are errors naming the option, the setting unchanged */
    mlm_trainer *opt = new_trainer(&w, m, "{\"compute_accuracy\": true}");
    ck_assert_int_eq(mlm_trainer_args_json(opt, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"compute_accuracy\":true"));
    static const char *const bad[] = {"null", "sometimes", "정확도", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(mlm_trainer_set(opt, "compute_accuracy", bad[i]),
                         MLM_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(mlm_last_error(), "compute_accuracy"));
    }
    ck_assert_int_eq(mlm_trainer_set_json(opt, "{\"compute_accuracy\": 1.5}"),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_set(opt, "compute_metrics", "true"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "compute_metrics"));
    ck_assert_int_eq(mlm_trainer_args_json(opt, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"compute_accuracy\":true"));
    ck_assert_int_eq(mlm_trainer_set(opt, "compute_accuracy", "F"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(opt, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"compute_accuracy\":false"));
    mlm_trainer_free(opt);

    free(log.last_eval);
    free(none.last_eval);
    mlm_trainer_free(off);
    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

/* ---------------------------------------------------------------- progress */

/* Every expected text below was printed by tests/reference/progress_reference.py
 * from tqdm 4.64.1 (Debian python3-tqdm) and CPython. */

static char *sb_text(strbuf *sb)
{
    ck_assert(!sb->failed);
    ck_assert_ptr_nonnull(sb->data);
    return sb->data;
}

START_TEST(progress_formats_like_tqdm)
{
    static const struct {
        int64_t n, total;
        double elapsed;
        int ncols;
        double rate;
        int64_t initial;
        int has_loss;
        double loss;
        int ascii;
        const char *want;
    } m[] = {
        {150, 400, 12.2, -1, 12.3, 0, 1, 2.3456789, 0,
         " 38%|███▊      | 150/400 [00:12<00:20, 12.30it/s, loss=2.35]"},
        {150, 400, 12.2, 80, 12.3, 0, 1, 2.3456789, 0,
         " 38%|███████████▎                  | 150/400 [00:12<00:20, 12.30it/s, loss=2.35]"},
        /* a terminal narrower than the bar: one cell, then cut */
        {150, 400, 12.2, 30, 12.3, 0, 1, 2.3456789, 0, " 38%|▍| 150/400 [00:12<00:20, "},
        {150, 400, 12.2, 0, 12.3, 0, 1, 2.3456789, 0,
         " 38% 150/400 [00:12<00:20, 12.30it/s, loss=2.35]"},
        {0, 400, 0.0, 80, NAN, 0, 0, 0.0, 0,
         "  0%|                                                   | 0/400 [00:00<?, ?it/s]"},
        /* slower than a step a second; hours */
        {3, 5000, 3725.0, 100, 0.4, 0, 1, 0.000123456, 0,
         "  0%|                                           | 3/5000 [1:02:05<3:28:12,  "
         "2.50s/it, loss=0.000123]"},
        /* resumed at 100: the rate counts from there */
        {150, 400, 10.0, 60, NAN, 100, 1, 7.0, 0,
         " 38%|████▉        | 150/400 [00:10<00:50,  5.00it/s, loss=7]"},
        {400, 400, 31.0, 70, NAN, 0, 1, 1.5, 0,
         "100%|█████████████████████| 400/400 [00:31<00:00, 12.90it/s, loss=1.5]"},
        {37, 100, 4.0, 60, 9.25, 0, 1, 2.0, 1,
         " 37%|#####1        | 37/100 [00:04<00:06,  9.25it/s, loss=2]"},
        {1, 7, 0.5, 46, 2.0, 0, 0, 0.0, 0, " 14%|█▌         | 1/7 [00:00<00:03,  2.00it/s]"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        progress_view v = {.n = m[i].n,
                           .total = m[i].total,
                           .initial = m[i].initial,
                           .elapsed = m[i].elapsed,
                           .rate = m[i].rate,
                           .has_loss = m[i].has_loss,
                           .loss = m[i].loss,
                           .ncols = m[i].ncols,
                           .ascii = m[i].ascii};
        strbuf sb = {0};
        progress_render(&sb, &v);
        ck_assert_msg(strcmp(sb_text(&sb), m[i].want) == 0, "case %zu:\n got '%s'\nwant '%s'", i,
                      sb.data, m[i].want);
        ck_assert(strchr(sb.data, '\033') == NULL);
        if (m[i].ncols > 0)
            ck_assert_uint_le(progress_text_width(sb.data), (size_t)m[i].ncols);
        sb_free(&sb);
    }

    static const struct {
        double t;
        const char *want;
    } iv[] = {{0, "00:00"},       {59.9, "00:59"},     {60, "01:00"},
              {3599.99, "59:59"}, {3600, "1:00:00"},   {86399, "23:59:59"},
              {360000.5, "100:00:00"}};
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
        strbuf sb = {0};
        tqdm_interval(&sb, iv[i].t);
        ck_assert_str_eq(sb_text(&sb), iv[i].want);
        sb_free(&sb);
    }
    static const struct {
        double x;
        const char *want;
    } num[] = {{2.3456789, "2.35"}, {0.000123456, "0.000123"}, {1e-05, "1e-5"},
               {123456.0, "1.23e+5"}, {2.0, "2"},            {1234.5, "1234.5"},
               {0.05, "0.05"},        {12.5, "12.5"}};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        strbuf sb = {0};
        tqdm_num(&sb, num[i].x);
        ck_assert_str_eq(sb_text(&sb), num[i].want);
        sb_free(&sb);
    }
    /* widths as tqdm's disp_len: Korean syllables take two columns */
    ck_assert_uint_eq(progress_text_width("한국어 loss"), 11);
    ck_assert_uint_eq(progress_text_width("abc"), 3);
    ck_assert_uint_eq(progress_text_width(" 37%|███▋      |"), 16);
}
END_TEST

/* The bars of the data layer: tqdm's desc, unit and unit_scale. */
START_TEST(progress_units_like_tqdm)
{
    static const struct {
        int64_t n, total;
        double elapsed;
        int ncols;
        double rate;
        const char *desc, *unit;
        int unit_scale;
        const char *want;
    } m[] = {
        {10300000, 22936920, 1.1, 80, 9410000.0, "Tokenizing big.txt", "B", 1,
         "Tokenizing big.txt:  45%|████████          | 10.3M/22.9M [00:01<00:01, 9.41MB/s]"},
        {10300000, 22936920, 1.1, 0, 0.5, "Tokenizing big.txt", "B", 1,
         "Tokenizing big.txt:  45% 10.3M/22.9M [00:01<7020:30:40, 2.00s/B]"},
        {0, 22936920, 0.0, 60, NAN, "한국어.txt", "B", 1,
         "한국어.txt:   0%|               | 0.00/22.9M [00:00<?, ?B/s]"},
        {22936920, 22936920, 2.5, 70, NAN, "big.txt: ", "B", 1,
         "big.txt: 100%|███████████████████| 22.9M/22.9M [00:02<00:00, 9.17MB/s]"},
        {3, 22936920, 1.1, -1, NAN, NULL, "B", 1,
         "  0%|          | 3.00/22.9M [00:01<2336:10:02, 2.73B/s]"},
        {10300000, 0, 1.1, -1, NAN, "x", "B", 1, "x: 10.3MB [00:01, 9.36MB/s]"},
        {450, 1000, 1.5, 70, 300.0, "Map", " examples", 0,
         "Map:  45%|███████▋         | 450/1000 [00:01<00:01, 300.00 examples/s]"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        progress_view v = {.n = m[i].n, .total = m[i].total, .elapsed = m[i].elapsed,
                           .rate = m[i].rate, .ncols = m[i].ncols, .desc = m[i].desc,
                           .unit = m[i].unit, .unit_scale = m[i].unit_scale};
        strbuf sb = {0};
        progress_render(&sb, &v);
        ck_assert_msg(strcmp(sb_text(&sb), m[i].want) == 0, "case %zu:\n got '%s'\nwant '%s'", i,
                      sb.data, m[i].want);
        sb_free(&sb);
    }
    static const struct {
        double x;
        const char *want;
    } sz[] = {{0, "0.00"},        {3, "3.00"},          {9.994, "9.99"},     {9.995, "10.0"},
              {99.94, "99.9"},    {99.95, "100"},       {999.4, "999"},      {999.5, "1.00k"},
              {1234, "1.23k"},    {22936920, "22.9M"},  {9410000.0, "9.41M"}, {5e+26, "500.0Y"},
              {2e+30, "2000000.0Y"}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        strbuf sb = {0};
        tqdm_sizeof(&sb, sz[i].x);
        ck_assert_str_eq(sb_text(&sb), sz[i].want);
        sb_free(&sb);
    }
}
END_TEST

START_TEST(python_reprs)
{
    static const struct {
        double x;
        const char *want;
    } r[] = {{2.3456, "2.3456"},
             {4.5e-05, "4.5e-05"},
             {0.0001, "0.0001"},
             {1e-05, "1e-05"},
             {1e+16, "1e+16"},
             {1000000000000000.0, "1000000000000000.0"},
             {123456789.123, "123456789.123"},
             {0.30000000000000004, "0.30000000000000004"},
             {-0.0, "-0.0"},
             {2.0, "2.0"},
             {5e-324, "5e-324"},
             {1.7976931348623157e+308, "1.7976931348623157e+308"},
             {0.3333333333333333, "0.3333333333333333"},
             {100.0, "100.0"},
             {1234567890123456.8, "1234567890123456.8"},
             {0.00012, "0.00012"}};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        strbuf sb = {0};
        py_float_repr(&sb, r[i].x);
        ck_assert_str_eq(sb_text(&sb), r[i].want);
        sb_free(&sb);
    }
    static const double round2[][2] = {{0.125, 0.12}, {0.375, 0.38}, {2.675, 2.67},
                                       {1.005, 1.0},  {0.5, 0.5},    {0.3333333333333333, 0.33},
                                       {2.999, 3.0},  {0.015, 0.01}};
    for (size_t i = 0; i < sizeof round2 / sizeof round2[0]; i++)
        ck_assert_msg(py_round2(round2[i][0]) == round2[i][1], "round(%.17g, 2)", round2[i][0]);

    static const struct {
        const char *rec, *want;
    } lines[] = {
        {"{\"loss\": 2.3456, \"grad_norm\": 1.2345678806304932, \"learning_rate\": 4.5e-05, "
         "\"epoch\": 0.123456, \"step\": 150}",
         "{'loss': 2.3456, 'grad_norm': 1.2345678806304932, 'learning_rate': 4.5e-05, "
         "'epoch': 0.12}"},
        {"{\"eval_loss\": 1.75, \"perplexity\": 5.754602676005731, \"epoch\": 2.0, \"step\": 300}",
         "{'eval_loss': 1.75, 'perplexity': 5.754602676005731, 'epoch': 2.0}"},
        {"{\"train_loss\": 2.0, \"epoch\": 3.0, \"step\": 400, \"total_flos\": 123456.0}",
         "{'train_loss': 2.0, 'epoch': 3.0}"},
        {"{\"note\": \"한국어 \\\"따옴표\\\"\", \"epoch\": 1.005, \"flag\": true, \"none\": null}",
         "{'note': '한국어 \"따옴표\"', 'epoch': 1.0, 'flag': True, 'none': None}"},
        {"{\"note\": \"it's\", \"tab\": \"a\\tb\"}", "{'note': \"it's\", 'tab': 'a\\tb'}"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        cJSON *o = cJSON_Parse(lines[i].rec);
        ck_assert_ptr_nonnull(o);
        strbuf sb = {0};
        py_log_line(&sb, o);
        ck_assert_str_eq(sb_text(&sb), lines[i].want);
        sb_free(&sb);
        cJSON_Delete(o);
    }
}
END_TEST

/* The live bar on a stream: carriage returns and spaces only, redraws at
 * most every 0.1 s, a log line above it, a newline at the end. The lines
 * are tqdm.format_meter's for the same n, elapsed, rate and width. */
START_TEST(progress_bar_draws_in_place)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    ck_assert_ptr_nonnull(fp);
    progress_bar b;
    progress_open(&b, fp, 60, 0, 0, 4, 100.0);
    progress_update(&b, 1, 2.5, 100.05); /* too soon: no redraw */
    fflush(fp);
    size_t after_first = len;
    progress_update(&b, 2, 2.25, 100.5);
    fflush(fp);
    ck_assert_uint_gt(len, after_first);
    progress_write(&b, "{'loss': 2.375, 'epoch': 0.5}", 100.6);
    progress_update(&b, 3, 2.0, 100.7);
    progress_update(&b, 4, 1.75, 101.0);
    progress_close(&b, 102.0);
    progress_close(&b, 102.0); /* a second close does nothing */
    fclose(fp);
    ck_assert(memchr(out, '\033', len) == NULL);
    ck_assert_int_eq(out[0], '\r');
    ck_assert_int_eq(out[len - 1], '\n');
    ck_assert_ptr_nonnull(strstr(out, "\r{'loss': 2.375, 'epoch': 0.5}\n\r"));
    ck_assert_ptr_null(strstr(out, "1/4")); /* the draw at step 1 was skipped */
    ck_assert_ptr_nonnull(strstr(out, "\r  0%|                                 | 0/4 [00:00<?, ?it/s]"));
    ck_assert_ptr_nonnull(
        strstr(out, "\r 50%|███████       | 2/4 [00:00<00:00,  4.00it/s, loss=2.25]"));
    /* the end: the whole run's average rate, 4 steps in 2 s */
    const char *last = strrchr(out, '\r');
    ck_assert_str_eq(last, "\r100%|██████████████| 4/4 [00:02<00:00,  2.00it/s, loss=1.75]\n");
    free(out);
}
END_TEST

/* progress_render of a bar's state at 60 columns: the formatter checked
 * against tqdm above, so the live bars below are checked against it. */
static void render_at_60(strbuf *sb, int64_t n, int64_t total, double elapsed, double rate,
                         int has_loss, double loss)
{
    progress_view v = {.n = n, .total = total, .elapsed = elapsed, .rate = rate,
                       .has_loss = has_loss, .loss = loss, .ncols = 60};
    progress_render(sb, &v);
    ck_assert(!sb->failed);
}

static void spaces(strbuf *sb, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(sb, ' ');
}

/* The evaluation's bar during a run, byte for byte: the training bar's
 * line is blanked (tqdm's clear), the eval bar drawn there without a
 * postfix, redrawn at most every 0.1 s, blanked when discarded (tqdm's
 * close with leave=False: no last draw of 3/3), and the training bar drawn
 * again with its rate and loss. */
START_TEST(eval_bar_takes_the_line)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    ck_assert_ptr_nonnull(fp);
    progress_bar train, ev;
    progress_open(&train, fp, 60, 0, 0, 4, 100.0);
    progress_update(&train, 1, 2.5, 100.5);
    fflush(fp);
    size_t mark = len;
    progress_clear(&train);
    progress_open(&ev, fp, 60, 0, 0, 3, 100.625);
    progress_advance(&ev, 1, 100.6875); /* too soon */
    progress_advance(&ev, 2, 100.875);
    progress_advance(&ev, 3, 100.9);    /* too soon */
    progress_discard(&ev);
    progress_discard(&ev); /* closed: nothing */
    progress_refresh(&train, 101.0);
    fflush(fp);
    size_t end = len;
    progress_close(&train, 102.0);
    fclose(fp);

    strbuf t1 = {0}, e0 = {0}, e2 = {0}, t1b = {0}, want = {0};
    render_at_60(&t1, 1, 4, 0.5, 2.0, 1, 2.5);
    render_at_60(&e0, 0, 3, 0.0, NAN, 0, 0);
    render_at_60(&e2, 2, 3, 0.25, 8.0, 0, 0); /* 2 steps in 0.25 s */
    render_at_60(&t1b, 1, 4, 1.0, 2.0, 1, 2.5);
    size_t w_t1 = progress_text_width(t1.data), w_e0 = progress_text_width(e0.data),
           w_e2 = progress_text_width(e2.data);
    sb_putc(&want, '\r'); /* the training bar blanked */
    spaces(&want, w_t1);
    sb_puts(&want, "\r\r");
    sb_puts(&want, e0.data);
    sb_putc(&want, '\r');
    sb_puts(&want, e2.data);
    spaces(&want, w_e0 > w_e2 ? w_e0 - w_e2 : 0);
    sb_putc(&want, '\r'); /* the eval bar blanked */
    spaces(&want, w_e2);
    sb_puts(&want, "\r\r");
    sb_puts(&want, t1b.data);
    ck_assert_uint_eq(end - mark, want.len);
    ck_assert_msg(memcmp(out + mark, want.data, want.len) == 0, "got '%.*s'\nwant '%s'",
                  (int)(end - mark), out + mark, want.data);
    ck_assert_ptr_nonnull(strstr(t1.data, "loss=2.5"));
    ck_assert_ptr_null(strstr(e2.data, "loss"));
    ck_assert_ptr_nonnull(strstr(e2.data, "| 2/3 ["));
    ck_assert_int_eq(out[len - 1], '\n');
    sb_free(&t1);
    sb_free(&e0);
    sb_free(&e2);
    sb_free(&t1b);
    sb_free(&want);
    free(out);
}
END_TEST

/* Redirect stderr to a file while running the trainer. */
static char *train_capturing_stderr(mlm_trainer *tr, mlm_status *st)
{
    char path[] = "/tmp/mlm_trainer_stderr_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    *st = mlm_trainer_train(tr);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    size_t len;
    char *text = test_read_file(path, &len);
    unlink(path);
    ck_assert_ptr_nonnull(text);
    return text;
}

START_TEST(output_follows_disable_tqdm)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    char *d = test_tmpdir(), opts[1024];
    const char *modes[] = {"false", "true", "null"};
    for (int k = 0; k < 3; k++) {
        snprintf(opts, sizeof opts,
                 "{\"output_dir\": \"%s\", \"max_steps\": 3, \"logging_steps\": 1, "
                 "\"save_strategy\": \"no\", \"per_device_train_batch_size\": 4, "
                 "\"disable_tqdm\": %s}",
                 d, modes[k]);
        mlm_model *m = new_model(&w);
        mlm_trainer *tr = new_trainer(&w, m, opts);
        mlm_trainer_set_callback(tr, NULL, NULL);
        mlm_status st;
        char *text = train_capturing_stderr(tr, &st);
        ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
        ck_assert(strchr(text, '\033') == NULL);
        if (k == 0) { /* forced bar, even on a file */
            ck_assert_ptr_nonnull(strstr(text, "\r{'loss': "));
            /* the run's metrics, as Trainer logs them (total_flos not shown) */
            ck_assert_ptr_nonnull(strstr(text, "{'train_runtime': "));
            ck_assert_ptr_nonnull(strstr(text, ", 'train_steps_per_second': "));
            ck_assert_ptr_nonnull(strstr(text, ", 'train_loss': "));
            ck_assert_ptr_null(strstr(text, "'total_flos'"));
            ck_assert_ptr_nonnull(strstr(text, "| 3/3 ["));
            ck_assert_ptr_null(strstr(text, "\"loss\""));
            ck_assert_int_eq(text[strlen(text) - 1], '\n');
        } else { /* JSON lines: disabled, or null with stderr not a terminal */
            ck_assert_ptr_null(strchr(text, '\r'));
            ck_assert_msg(strncmp(text, "{\"loss\":", 8) == 0, "%s", text);
            ck_assert_ptr_nonnull(strstr(text, "\n{\"train_runtime\":"));
        }
        free(text);
        mlm_trainer_free(tr);
        mlm_model_free(m);
    }
    /* the option: HF's spellings, null, and errors naming it */
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, "{}");
    char buf[4096];
    size_t need;
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":null"));
    ck_assert_int_eq(mlm_trainer_set(tr, "disable_tqdm", "True"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":true"));
    ck_assert_int_eq(mlm_trainer_set(tr, "disable_tqdm", "no"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":false"));
    ck_assert_int_eq(mlm_trainer_set(tr, "disable_tqdm", "sometimes"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "disable_tqdm"));
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"disable_tqdm\": 2}"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "disable_tqdm"));
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":false"));
    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

/* Every record the callback received, by kind. */
typedef struct record_count {
    int all, loss, eval, eval_acc, train_loss;
} record_count;

static int count_records(const char *rec, void *user)
{
    record_count *c = user;
    c->all++;
    c->loss += strncmp(rec, "{\"loss\":", 8) == 0;
    c->eval += strncmp(rec, "{\"eval_loss\":", 13) == 0;
    c->eval_acc += strstr(rec, "\"eval_accuracy\":") != NULL;
    c->train_loss += strncmp(rec, "{\"train_runtime\":", 17) == 0 &&
                     strstr(rec, "\"total_flos\":") && strstr(rec, "\"train_loss\":");
    return 0;
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* 3 steps of 4 rows, a record every step, an evaluation at step 3 in 5
 * batches of 32 rows (the eval set's 160), with accuracy. */
static void tty_opts(char *opts, size_t cap, const char *dir, const char *disable_tqdm)
{
    snprintf(opts, cap,
             "{\"output_dir\": \"%s\", \"max_steps\": 3, \"logging_steps\": 1, "
             "\"save_strategy\": \"no\", \"per_device_train_batch_size\": 4, "
             "\"eval_strategy\": \"steps\", \"eval_steps\": 3, "
             "\"per_device_eval_batch_size\": 32, \"compute_accuracy\": true, "
             "\"disable_tqdm\": %s}",
             dir, disable_tqdm);
}

/* As transformers shows its ProgressCallback beside the user's callbacks:
 * with a callback, the bar (forced onto a file by disable_tqdm false) still
 * shows every record above it while the callback receives them all as
 * JSON; not on a terminal, no evaluation bar. With disable_tqdm null and
 * stderr a file, the callback alone: the library prints nothing. */
START_TEST(callback_and_bar_together)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    ck_assert_uint_eq(mlm_dataset_num_rows(w.eval), 160);
    char *d = test_tmpdir(), opts[1024];
    const char *modes[] = {"false", "null"};
    for (int k = 0; k < 2; k++) {
        tty_opts(opts, sizeof opts, d, modes[k]);
        mlm_model *m = new_model(&w);
        mlm_trainer *tr = new_trainer(&w, m, opts);
        record_count c = {0};
        mlm_trainer_set_callback(tr, count_records, &c);
        mlm_status st;
        char *text = train_capturing_stderr(tr, &st);
        ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
        ck_assert_int_eq(c.all, 5);
        ck_assert_int_eq(c.loss, 3);
        ck_assert_int_eq(c.eval, 1);
        ck_assert_int_eq(c.eval_acc, 1);
        ck_assert_int_eq(c.train_loss, 1);
        if (k == 0) {
            ck_assert_ptr_nonnull(strstr(text, "| 3/3 ["));
            ck_assert_uint_eq(occurrences(text, "\r{'loss': "), 3);
            ck_assert_uint_eq(occurrences(text, "\r{'eval_loss': "), 1);
            ck_assert_ptr_nonnull(strstr(text, ", 'eval_accuracy': "));
            ck_assert_uint_eq(occurrences(text, "\r{'train_runtime': "), 1);
            ck_assert_ptr_null(strstr(text, "{\""));
            ck_assert_ptr_null(strstr(text, "/5 ["));
            ck_assert_int_eq(text[strlen(text) - 1], '\n');
        } else {
            ck_assert_msg(text[0] == '\0', "printed: %s", text);
        }
        free(text);
        mlm_trainer_free(tr);
        mlm_model_free(m);
    }
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

typedef struct tty_job {
    const world *w;
    const char *opts;
} tty_job;

/* The child's side of run_on_terminal: train (callback set, disable_tqdm
 * null), then evaluate on its own. Its exit status says what failed (no
 * Check assertions across the fork). */
static int train_on_terminal(const tty_job *j)
{
    mlm_model *m = NULL;
    mlm_trainer *tr = NULL;
    record_count c = {0};
    if (mlm_model_new(j->w->cfg, strlen(j->w->cfg), 11, &m) != MLM_OK ||
        mlm_trainer_new(m, j->w->col, j->w->train, j->w->eval, &tr) != MLM_OK ||
        mlm_trainer_set_json(tr, j->opts) != MLM_OK)
        return 2;
    mlm_trainer_set_callback(tr, count_records, &c);
    if (mlm_trainer_train(tr) != MLM_OK)
        return 3;
    if (c.all != 5 || c.eval_acc != 1)
        return 4;
    if (mlm_trainer_evaluate(tr, NULL, NULL) != MLM_OK)
        return 5;
    mlm_trainer_free(tr);
    mlm_model_free(m);
    return 0;
}

/* What the job writes to stderr when stderr is a terminal: a pty of 120
 * columns in raw mode (no newline translation), read until the child has
 * exited. */
static char *run_on_terminal(const tty_job *j, int *status)
{
    int master, slave;
    struct winsize ws = {.ws_row = 24, .ws_col = 120};
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, &ws), 0);
    struct termios tio;
    ck_assert_int_eq(tcgetattr(slave, &tio), 0);
    cfmakeraw(&tio);
    ck_assert_int_eq(tcsetattr(slave, TCSANOW, &tio), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(master);
        dup2(slave, STDERR_FILENO);
        close(slave);
        _exit(train_on_terminal(j));
    }
    close(slave);
    strbuf sb = {0};
    char buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* EIO once the child's side is closed */
            break;
        sb_append(&sb, buf, (size_t)n);
    }
    close(master);
    ck_assert_int_eq(waitpid(pid, status, 0), pid);
    ck_assert(!sb.failed && sb.data);
    char *text = strdup(sb.data);
    sb_free(&sb);
    return text;
}

/* On a terminal (disable_tqdm null) with a callback: the training bar, the
 * records above it, and an evaluation bar of the 5 eval batches with no
 * postfix, which gives the line back to the training bar before the eval
 * record is printed; the standalone evaluation afterwards leaves its bar,
 * complete, on its own line. */
START_TEST(eval_bar_on_a_terminal)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    char *d = test_tmpdir(), opts[1024];
    tty_opts(opts, sizeof opts, d, "null");
    tty_job j = {&w, opts};
    int status;
    char *text = run_on_terminal(&j, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, text);
    ck_assert(strchr(text, '\033') == NULL);
    ck_assert_ptr_nonnull(strstr(text, "| 3/3 ["));
    ck_assert_uint_eq(occurrences(text, "\r{'loss': "), 3);
    ck_assert_uint_eq(occurrences(text, "\r{'train_runtime': "), 1);
    ck_assert_ptr_null(strstr(text, "{\""));
    /* every eval bar line: no postfix */
    size_t bars = 0;
    for (const char *p = strstr(text, "/5 ["); p; p = strstr(p + 1, "/5 [")) {
        const char *close = strchr(p, ']');
        ck_assert_ptr_nonnull(close);
        ck_assert_msg(memmem(p, (size_t)(close - p), "loss", 4) == NULL, "%.*s",
                      (int)(close - p), p);
        bars++;
    }
    ck_assert_uint_ge(bars, 2); /* one at least per evaluation */
    /* during the run: the eval bar, blanked, the training bar again, then
     * the record */
    const char *rec = strstr(text, "\r{'eval_loss': ");
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_nonnull(strstr(rec, ", 'eval_accuracy': "));
    const char *first_eval = strstr(text, "| 0/5 [");
    ck_assert(first_eval && first_eval < rec);
    const char *last_eval = first_eval;
    for (const char *p = first_eval; p && p < rec; p = strstr(p + 1, "/5 ["))
        last_eval = p;
    const char *start = last_eval, *eol = strchr(last_eval, '\r'), *stop = eol;
    ck_assert(eol && eol < rec);
    while (start > text && start[-1] != '\r')
        start--;
    while (stop > start && stop[-1] == ' ') /* padding over a longer draw */
        stop--;
    char *drawn = strndup(start, (size_t)(stop - start));
    size_t blank = strspn(eol + 1, " ");
    ck_assert_uint_eq(blank, progress_text_width(drawn));
    ck_assert_int_eq(eol[1 + blank], '\r');
    free(drawn);
    const char *train_again = strstr(eol, "/3 [");
    ck_assert(train_again && train_again < rec);
    /* after the run: the standalone evaluation's bar stays, at 5/5 */
    const char *last = strrchr(text, '\r');
    ck_assert_ptr_nonnull(strstr(last, "| 5/5 ["));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(text);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

/* ---------------------------------------------------------------- checkpoints */

static const char *const checkpoint_files[] = {
    "config.json",          "model.safetensors",     "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "optimizer.safetensors",
    "scheduler.json",       "rng_state.json",        "trainer_state.json",
    "training_args.json"};
#define N_CHECKPOINT_FILES (sizeof checkpoint_files / sizeof checkpoint_files[0])

static cJSON *read_json_file(const char *dir, const char *name)
{
    size_t len;
    char *text = read_all(dir, name, &len);
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    ck_assert_msg(o != NULL, "%s/%s is not JSON", dir, name);
    return o;
}

static int same_bytes(const char *da, const char *db, const char *name)
{
    size_t la, lb;
    char *a = read_all(da, name, &la), *b = read_all(db, name, &lb);
    int same = la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    return same;
}

static void touch(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
}

static void make_subdir(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(mkdir(p, 0777), 0);
}

/* The parameters HF's num_parameters(exclude_embeddings=True) counts, from
 * the saved tensors. */
static double non_embedding_numel(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    st_file *f = NULL;
    ck_assert_int_eq(st_open(p, &f), MLM_OK);
    double n = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (!strstr(t->name, "_embeddings.weight"))
            n += (double)t->numel;
    }
    st_close(f);
    return n;
}

START_TEST(checkpoint_holds_hf_layout)
{
    world w;
    world_make(&w, 16, 1, 0.1);
    char *d = test_tmpdir(), opts[1024];
    /* what a killed run leaves: cleared (or restored) when the next starts */
    make_subdir(d, "tmp-checkpoint-99");
    touch(d, "tmp-checkpoint-99/model.safetensors");
    make_subdir(d, "tmp-save");
    make_subdir(d, "old-checkpoint-1");
    touch(d, "old-checkpoint-1/config.json");
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 2, \"save_steps\": 1, "
             "\"logging_steps\": 1, \"per_device_train_batch_size\": 4}",
             d);
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, opts);
    ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, w.tok), MLM_OK);
    ck_assert_msg(mlm_trainer_train(tr) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, NULL), MLM_ERR_STATE);
    ck_assert(!exists(d, "tmp-checkpoint-99"));
    ck_assert(!exists(d, "tmp-save"));
    ck_assert(!exists(d, "old-checkpoint-1"));
    char ck[2048];
    for (int k = 1; k <= 2; k++) {
        snprintf(ck, sizeof ck, "%s/checkpoint-%d", d, k);
        for (size_t i = 0; i < N_CHECKPOINT_FILES; i++)
            ck_assert_msg(exists(ck, checkpoint_files[i]), "%s/%s", ck, checkpoint_files[i]);
    }
    const char *final_files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                 "tokenizer_config.json", "special_tokens_map.json",
                                 "training_args.json"};
    for (size_t i = 0; i < sizeof final_files / sizeof final_files[0]; i++)
        ck_assert_msg(exists(d, final_files[i]), "%s", final_files[i]);

    /* the tokenizer loads back from the checkpoint and encodes alike */
    mlm_tokenizer *back = NULL;
    ck_assert_msg(mlm_tokenizer_load(ck, &back) == MLM_OK, "%s", mlm_last_error());
    const char *text = "the capital of 한국 is 서울 . 대한민국의 수도는 서울 이다 .";
    mlm_encoding *e1 = NULL, *e2 = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(w.tok, text, strlen(text), NULL, 0, 1, &e1), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_encode(back, text, strlen(text), NULL, 0, 1, &e2), MLM_OK);
    ck_assert_uint_eq(mlm_encoding_length(e1), mlm_encoding_length(e2));
    ck_assert(memcmp(mlm_encoding_ids(e1), mlm_encoding_ids(e2),
                     mlm_encoding_length(e1) * sizeof(int32_t)) == 0);
    ck_assert_int_eq(mlm_tokenizer_special_id(back, MLM_TOKEN_MASK),
                     mlm_tokenizer_special_id(w.tok, MLM_TOKEN_MASK));
    mlm_encoding_free(e1);
    mlm_encoding_free(e2);
    mlm_tokenizer_free(back);
    cJSON *tc = read_json_file(ck, "tokenizer_config.json");
    ck_assert_str_eq(cJSON_GetObjectItem(tc, "mask_token")->valuestring, "[MASK]");
    ck_assert_str_eq(cJSON_GetObjectItem(tc, "tokenizer_class")->valuestring,
                     "PreTrainedTokenizerFast");
    cJSON_Delete(tc);

    /* trainer_state.json: every TrainerState field */
    cJSON *s = read_json_file(ck, "trainer_state.json");
    const char *fields[] = {"best_metric", "best_model_checkpoint", "epoch", "eval_steps",
                            "global_step", "is_hyper_param_search", "is_local_process_zero",
                            "is_world_process_zero", "log_history", "logging_steps",
                            "max_steps", "num_input_tokens_seen", "num_train_epochs",
                            "save_steps", "stateful_callbacks", "total_flos",
                            "train_batch_size", "trial_name", "trial_params"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ck_assert_msg(cJSON_GetObjectItem(s, fields[i]) != NULL, "no %s", fields[i]);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(s, "log_history")), 2);
    const cJSON *ctl = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(s, "stateful_callbacks"), "TrainerControl"),
        "args");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ctl, "should_save")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ctl, "should_training_stop")));
    /* total_flos = 6 · non-embedding parameters · input ids (padding too):
     * a whole number of tokens, between 2 steps of 4 rows of 3 tokens and
     * of 64 (the longest a row here can be) */
    double flos = cJSON_GetObjectItem(s, "total_flos")->valuedouble;
    double tokens = flos / (6 * non_embedding_numel(ck));
    ck_assert_msg(tokens == floor(tokens) && tokens >= 2 * 4 * 3 && tokens <= 2 * 4 * 64,
                  "total_flos %.17g is %.17g tokens", flos, tokens);
    cJSON_Delete(s);

    /* rng_state.json: what resuming needs */
    cJSON *r = read_json_file(ck, "rng_state.json");
    ck_assert_str_eq(cJSON_GetObjectItem(r, "generator")->valuestring, "philox4x32-10");
    ck_assert(cJSON_GetObjectItem(r, "seed")->valuedouble == 42);
    ck_assert(cJSON_GetObjectItem(r, "global_step")->valuedouble == 2);
    ck_assert(cJSON_GetObjectItem(r, "micro_batch")->valuedouble == 2);
    cJSON_Delete(r);

    /* the last checkpoint, as get_last_checkpoint finds it */
    char last[2048];
    size_t need;
    make_subdir(d, "tmp-checkpoint-7");
    ck_assert_int_eq(mlm_trainer_last_checkpoint(d, last, sizeof last, &need), MLM_OK);
    ck_assert_str_eq(last, ck);
    ck_assert_uint_eq(need, strlen(ck) + 1);
    char small[4];
    ck_assert_int_eq(mlm_trainer_last_checkpoint(d, small, sizeof small, &need), MLM_OK);
    ck_assert_uint_eq(strlen(small), 3);
    ck_assert_int_eq(mlm_trainer_last_checkpoint("/nonexistent/out", last, sizeof last, &need),
                     MLM_ERR_NOT_FOUND);
    ck_assert_int_eq(mlm_trainer_last_checkpoint(ck, last, sizeof last, &need), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), ck));

    /* resuming checks rng_state.json: another seed, another batch size */
    struct {
        const char *opt, *field;
    } bad[] = {{"\"seed\": 7", "\"seed\""},
               {"\"per_device_train_batch_size\": 8", "\"micro_batches_per_epoch\""}};
    for (size_t i = 0; i < 2; i++) {
        char o2[1200];
        snprintf(o2, sizeof o2, "{\"output_dir\": \"%s\", \"max_steps\": 4, %s}", d, bad[i].opt);
        mlm_model *m2 = new_model(&w);
        mlm_trainer *t2 = new_trainer(&w, m2, o2);
        ck_assert_int_eq(mlm_trainer_resume(t2, ck), MLM_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(mlm_last_error(), "rng_state.json") &&
                          strstr(mlm_last_error(), bad[i].field),
                      "%s", mlm_last_error());
        /* the model is left as it was */
        char *s1 = test_tmpdir(), *s2 = test_tmpdir();
        mlm_model *fresh = new_model(&w);
        ck_assert_int_eq(mlm_model_save(m2, s1), MLM_OK);
        ck_assert_int_eq(mlm_model_save(fresh, s2), MLM_OK);
        ck_assert(same_bytes(s1, s2, "model.safetensors"));
        mlm_model_free(fresh);
        test_rmtree(s1);
        test_rmtree(s2);
        free(s1);
        free(s2);
        mlm_trainer_free(t2);
        mlm_model_free(m2);
    }
    char p[2200];
    snprintf(p, sizeof p, "%s/rng_state.json", ck);
    ck_assert_int_eq(unlink(p), 0);
    mlm_model *m3 = new_model(&w);
    mlm_trainer *t3 = new_trainer(&w, m3, opts);
    ck_assert_int_eq(mlm_trainer_resume(t3, ck), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "rng_state.json"));
    mlm_trainer_free(t3);
    mlm_model_free(m3);

    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

/* The crash test's child dies here: after the third file written into the
 * temporary folder of checkpoint-4 (model, tokenizer.json,
 * tokenizer_config.json; the optimizer and the states not yet). */
static int crash_files_written;

static void die_in_checkpoint_4(const char *dir, const char *file)
{
    (void)file;
    size_t n = strlen(dir), k = strlen("/tmp-checkpoint-4");
    if (n >= k && strcmp(dir + n - k, "/tmp-checkpoint-4") == 0 && ++crash_files_written == 3)
        kill(getpid(), SIGKILL);
}

static mlm_trainer *crash_trainer(const world *w, mlm_model *m, const char *dir)
{
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 6, \"save_steps\": 2, "
             "\"logging_steps\": 1, \"per_device_train_batch_size\": 4, "
             "\"learning_rate\": 1e-3, \"weight_decay\": 0.01, \"warmup_steps\": 1}",
             dir);
    mlm_trainer *tr = new_trainer(w, m, opts);
    ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, w->tok), MLM_OK);
    return tr;
}

START_TEST(killed_while_checkpointing)
{
    world w;
    world_make(&w, 16, 1, 0.1); /* dropout on: its masks must resume too */
    char *da = test_tmpdir(), *db = test_tmpdir();

    /* A: never interrupted */
    mlm_model *ma = new_model(&w);
    mlm_trainer *ta = crash_trainer(&w, ma, da);
    ck_assert_msg(mlm_trainer_train(ta) == MLM_OK, "%s", mlm_last_error());

    /* B: a child killed part-way through writing checkpoint-4 */
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        mlm_model *mb = NULL;
        mlm_trainer *tb = NULL;
        if (mlm_model_new(w.cfg, strlen(w.cfg), 11, &mb) != MLM_OK ||
            mlm_trainer_new(mb, w.col, w.train, w.eval, &tb) != MLM_OK)
            _exit(2);
        char opts[1024];
        snprintf(opts, sizeof opts,
                 "{\"output_dir\": \"%s\", \"max_steps\": 6, \"save_steps\": 2, "
                 "\"logging_steps\": 1, \"per_device_train_batch_size\": 4, "
                 "\"learning_rate\": 1e-3, \"weight_decay\": 0.01, \"warmup_steps\": 1}",
                 db);
        if (mlm_trainer_set_json(tb, opts) != MLM_OK ||
            mlm_trainer_set_tokenizer(tb, w.tok) != MLM_OK)
            _exit(3);
        mlm_trainer_set_callback(tb, quiet, NULL);
        checkpoint_set_file_hook(die_in_checkpoint_4);
        mlm_trainer_train(tb);
        _exit(4); /* the hook never fired */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the child was not killed in checkpoint-4 (status %d)", status);

    /* checkpoint-2 is whole and loads; checkpoint-4 does not exist; its
     * temporary folder is there, part-written, and is not the last checkpoint */
    char ck2[2048], last[2048];
    snprintf(ck2, sizeof ck2, "%s/checkpoint-2", db);
    for (size_t i = 0; i < N_CHECKPOINT_FILES; i++)
        ck_assert_msg(exists(ck2, checkpoint_files[i]), "%s", checkpoint_files[i]);
    ck_assert(!exists(db, "checkpoint-4"));
    ck_assert(exists(db, "tmp-checkpoint-4/model.safetensors"));
    ck_assert(!exists(db, "tmp-checkpoint-4/optimizer.safetensors"));
    size_t need;
    ck_assert_int_eq(mlm_trainer_last_checkpoint(db, last, sizeof last, &need), MLM_OK);
    ck_assert_str_eq(last, ck2);
    mlm_model *loaded = NULL;
    ck_assert_msg(mlm_model_load(last, &loaded) == MLM_OK, "%s", mlm_last_error());
    mlm_model_free(loaded);
    for (size_t i = 0; i < N_CHECKPOINT_FILES; i++) {
        char name[128];
        snprintf(name, sizeof name, "checkpoint-2/%s", checkpoint_files[i]);
        if (strcmp(checkpoint_files[i], "training_args.json") != 0) /* output_dir differs */
            ck_assert_msg(same_bytes(da, db, name), "%s", name);
    }

    /* resuming from it clears the leftover and ends bit for bit as A */
    mlm_model *mb = new_model(&w);
    mlm_trainer *tb = crash_trainer(&w, mb, db);
    ck_assert_msg(mlm_trainer_resume(tb, last) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(mlm_trainer_global_step(tb), 6);
    const char *files[] = {"model.safetensors", "checkpoint-4/model.safetensors",
                           "checkpoint-6/model.safetensors", "checkpoint-6/optimizer.safetensors",
                           "checkpoint-6/trainer_state.json", "checkpoint-6/rng_state.json",
                           "checkpoint-6/tokenizer.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        ck_assert_msg(same_bytes(da, db, files[i]), "%s differs after the crash and resume",
                      files[i]);
    ck_assert(!exists(db, "tmp-checkpoint-4"));

    mlm_trainer_free(ta);
    mlm_trainer_free(tb);
    mlm_model_free(ma);
    mlm_model_free(mb);
    test_rmtree(da);
    test_rmtree(db);
    free(da);
    free(db);
    world_free(&w);
}
END_TEST

/* Make the final save's file writes fail from the nth on (the callback sees
 * train_loss just before that save). */
static long final_save_fail_at;

static int fail_final_save(const char *rec, void *user)
{
    (void)user;
    if (strstr(rec, "\"train_loss\""))
        file_fail_after(final_save_fail_at);
    return 0;
}

static int leftover_temp_files(const char *dir)
{
    char cmd[2100];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c tmp", dir);
    int status;
    char *out = test_run(cmd, &status);
    int n = out ? atoi(out) : -1;
    free(out);
    return n;
}

START_TEST(failed_final_save_keeps_old_files)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    char *d = test_tmpdir(), *snap = test_tmpdir(), opts[1024];
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json",
                           "training_args.json"};
    /* an earlier run's files, and a copy of them */
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 1, \"save_strategy\": \"no\", "
             "\"per_device_train_batch_size\": 4, \"seed\": 1}",
             d);
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, opts);
    ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, w.tok), MLM_OK);
    ck_assert_msg(mlm_trainer_train(tr) == MLM_OK, "%s", mlm_last_error());
    mlm_trainer_free(tr);
    mlm_model_free(m);
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        char *bytes = read_all(d, files[i], &len);
        char p[2100];
        snprintf(p, sizeof p, "%s/%s", snap, files[i]);
        FILE *f = fopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
        fclose(f);
        free(bytes);
    }

    /* the same output_dir, another seed: every write failing from the
     * nth on, until n is past them all */
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 1, \"save_strategy\": \"no\", "
             "\"per_device_train_batch_size\": 4, \"seed\": 2}",
             d);
    long n = 0;
    for (;; n++) {
        ck_assert_int_lt(n, 100);
        m = new_model(&w);
        tr = new_trainer(&w, m, opts);
        ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, w.tok), MLM_OK);
        final_save_fail_at = n;
        mlm_trainer_set_callback(tr, fail_final_save, NULL);
        mlm_status st = mlm_trainer_train(tr);
        file_fail_after(-1);
        mlm_trainer_free(tr);
        mlm_model_free(m);
        if (st == MLM_OK)
            break;
        ck_assert_int_eq(st, MLM_ERR_IO);
        ck_assert_msg(strstr(mlm_last_error(), d) != NULL, "%s", mlm_last_error());
        for (size_t i = 0; i < 4; i++)
            ck_assert_msg(same_bytes(d, snap, files[i]), "n=%ld: %s changed", n, files[i]);
        ck_assert_int_eq(leftover_temp_files(d), 0);
    }
    ck_assert_int_gt(n, 3); /* the failures reached past the first files */
    ck_assert(!same_bytes(d, snap, "model.safetensors"));
    ck_assert_int_eq(leftover_temp_files(d), 0);

    /* an output_dir that cannot be made fails before any training */
    char bad[512];
    snprintf(bad, sizeof bad, "%.400s/config.json/out", d);
    snprintf(opts, sizeof opts, "{\"output_dir\": \"%s\", \"max_steps\": 1}", bad);
    m = new_model(&w);
    tr = new_trainer(&w, m, opts);
    ck_assert_int_eq(mlm_trainer_train(tr), MLM_ERR_IO);
    ck_assert_msg(strstr(mlm_last_error(), "output_dir") && strstr(mlm_last_error(), bad),
                  "%s", mlm_last_error());
    ck_assert_int_eq(mlm_trainer_global_step(tr), 0);
    mlm_trainer_free(tr);
    mlm_model_free(m);

    test_rmtree(d);
    test_rmtree(snap);
    free(d);
    free(snap);
    world_free(&w);
}
END_TEST

Suite *trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, options_defaults_and_errors);
    tcase_add_test(tc, resume_is_bit_identical);
    tcase_add_test(tc, save_total_limit_keeps_newest);
    tcase_add_test(tc, non_finite_loss_stops);
    suite_add_tcase(s, tc);
    /* tagged: .ci/run runs it once per forced CPU path */
    TCase *tl = tcase_create("learning");
    tcase_set_timeout(tl, 120);
    tcase_set_tags(tl, "numerics");
    tcase_add_test(tl, learns_facts);
    suite_add_tcase(s, tl);
    TCase *ta = tcase_create("accuracy");
    tcase_add_test(ta, eval_accuracy_matches_argmax);
    suite_add_tcase(s, ta);
    TCase *tp = tcase_create("progress");
    tcase_add_test(tp, progress_formats_like_tqdm);
    tcase_add_test(tp, progress_units_like_tqdm);
    tcase_add_test(tp, python_reprs);
    tcase_add_test(tp, progress_bar_draws_in_place);
    tcase_add_test(tp, output_follows_disable_tqdm);
    tcase_add_test(tp, eval_bar_takes_the_line);
    tcase_add_test(tp, callback_and_bar_together);
    tcase_add_test(tp, eval_bar_on_a_terminal);
    suite_add_tcase(s, tp);
    TCase *tk = tcase_create("checkpoint");
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, checkpoint_holds_hf_layout);
    tcase_add_test(tk, killed_while_checkpointing);
    tcase_add_test(tk, failed_final_save_keeps_old_files);
    suite_add_tcase(s, tk);
    return s;
}
