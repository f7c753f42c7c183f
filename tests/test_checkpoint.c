/* Checkpoints (suite checkpoint): what one holds (HF's layout), a process
 * killed while writing one, a failed final save. */
#include "suites.h"
#include "testutil.h"
#include "trainer_world.h"

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

    end_run(tr, m, d);
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

    end_run(ta, ma, da);
    end_run(tb, mb, db);
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

Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tk = tcase_create("checkpoint");
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, checkpoint_holds_hf_layout);
    tcase_add_test(tk, killed_while_checkpointing);
    tcase_add_test(tk, failed_final_save_keeps_old_files);
    suite_add_tcase(s, tk);
    return s;
}
