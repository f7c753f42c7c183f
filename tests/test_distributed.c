/* Data-parallel training over OpenMPI (docs/distributed.md): `mpirun -np 2
 * mlm train` against one process with gradient accumulation 2, over shared
 * memory (the vader BTL) and over TCP on the loopback (--mca btl tcp,self),
 * 1 thread per rank on this 2-core machine (--oversubscribe where a machine
 * has fewer cores).
 *
 * Why the two runs are comparable, step by step: with one row per device,
 * rank r's k-th micro-batch is row perm[2k + r] of the epoch's order
 * (DistributedSampler's split), and its masks and dropout are drawn from
 * batch index 2k + r (trainer_batch_index); one process with accumulation
 * 2 takes rows perm[2k], perm[2k + 1] as its micro-batches 2k and 2k + 1.
 * Both count each micro-batch's mean loss 1/2 in the gradient. So the same
 * micro-batches, the same forward from the same parameters: the step's
 * first loss is the same bits.
 *
 * Error model of what differs: only how the two micro-batches' gradients
 * are added. One process adds the second into the first inside every
 * kernel's sums (ops_linear_backward's dW += ..., the embedding's
 * scatter-add); DDP adds two separately summed gradients. A gradient
 * element is a sum of n terms (n <= the tokens of both micro-batches, 2 x
 * 32 here), and reassociating it moves it by at most (n - 1) u sum|t|
 * (u = 2^-24). With sum|t| / |sum t| <= KAPPA = 16 assumed for the elements
 * that carry the norm, one step's gradients differ by rho <= 63 u KAPPA =
 * 6.0e-5 relative. Later steps start from parameters that moved apart
 * through AdamW, whose update m/(sqrt(v) + eps) moves by at most twice the
 * relative change of its gradients: after s steps the gradient norms
 * differ by at most 2 s rho, and the parameters' change from their start
 * by 2 S rho over S steps. A wrong split, mask, mean or schedule moves
 * these by O(1) (a sum instead of a mean doubles the norm): four orders of
 * magnitude above. Evaluation sums each batch's loss in batch order on
 * every rank, so eval_loss is the single process's to the bit; a resumed
 * run repeats the uninterrupted one to the bit (the sums over 2 ranks, a +
 * b, are the same bits either way round, whatever the transport). */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/wait.h>

#include "nn/model_impl.h"
#include "suites.h"
#include "testutil.h"
#include "train/dist.h"

#define KAPPA 16.0
#define TERMS 64.0 /* 2 micro-batches of one 32-token row */
#define STEPS 6
#define LR 1e-3

static const char *const TRANSPORT[] = {"vader,self", "tcp,self"};

/* mpirun is there and libmlm was built with MPI; else the test says why
 * and passes (make MPI=0 builds: the single process only). */
static int mpi_ready(void)
{
    if (!dist_have_mpi()) {
        fprintf(stderr, "distributed: libmlm built without MPI: skipped\n");
        return 0;
    }
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        fprintf(stderr, "distributed: no mpirun (openmpi-bin): skipped\n");
        return 0;
    }
    return 1;
}

/* corpus.txt (English and Korean lines), tok/ (a WordPiece tokenizer
 * trained on it, model_max_length 32), cfg.json (a 2-layer BERT, dropout
 * on: its streams are part of what must match). */
static char *fixture(void)
{
    char *dir = test_tmpdir();
    ck_assert_ptr_nonnull(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    static const char *const city[] = {"Seoul", "Busan", "Paris", "Lima", "Oslo", "Cairo"};
    static const char *const ko[] = {"서울", "부산", "파리", "리마", "오슬로", "카이로"};
    for (int i = 0; i < 240; i++) {
        int c = i % 6;
        fprintf(f, "The museum of %s opened room %d of its %s wing in the year %d.\n", city[c],
                i, i % 2 ? "north" : "south", 1900 + i);
        fprintf(f, "%s의 박물관은 %d번째 전시실을 열었다. 방문객은 %d명이었다.\n", ko[c], i,
                100 + 7 * i);
    }
    fclose(f);
    mlm_tokenizer_trainer *tt = NULL;
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tt), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "vocab_size", "400"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tt, path), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tt, &tok), MLM_OK);
    mlm_tokenizer_trainer_free(tt);
    snprintf(path, sizeof path, "%s/tok", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/tok/tokenizer_config.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"model_max_length\": 32}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/tok/tokenizer.json", dir);
    ck_assert_msg(mlm_tokenizer_save(tok, path) == MLM_OK, "%s", mlm_last_error());
    int vocab = mlm_tokenizer_vocab_size(tok);
    mlm_tokenizer_free(tok);
    snprintf(path, sizeof path, "%s/cfg.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"model_type\": \"bert\", \"vocab_size\": %d, \"hidden_size\": 32, "
               "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"intermediate_size\": 64, "
               "\"max_position_embeddings\": 64, \"type_vocab_size\": 2, \"hidden_act\": "
               "\"gelu\", \"hidden_dropout_prob\": 0.1, \"attention_probs_dropout_prob\": 0.1, "
               "\"initializer_range\": 0.02, \"layer_norm_eps\": 1e-12, \"pad_token_id\": 0}\n",
            vocab);
    fclose(f);
    return dir;
}

/* Under the sanitizer build (make check SANITIZE=1), OpenMPI's allocations
 * that it keeps to the end of the process are not libmlm's leaks: its
 * components stay loaded (no dlclose) and malloc stacks are unwound in
 * full through its frame-pointer-less code, so tests/lsan-mpi.supp can
 * name its libraries. The variables mean nothing to other builds.
 *
 * use_tls=0: a module OpenMPI loads has a small dynamic TLS block, which
 * glibc takes from malloc. When that block lands 16 bytes past a page,
 * GCC 12's libsanitizer takes it for glibc 2.19's layout, reads a "header"
 * from the 16 bytes before it, and records a range from 0x3be6 of 16 GiB;
 * LeakSanitizer's scan of thread-local roots then faults (Tracer caught
 * signal 11) and the rank exits 1. Where the block lands depends on every
 * earlier allocation (paths, environment), so it came and went between
 * clones. Without TLS roots LeakSanitizer can only report more, never
 * less: libmlm keeps no heap pointer only in a thread-local. */
#define MPI_LSAN_OPTIONS "suppressions=%s/tests/lsan-mpi.supp:print_suppressions=0:use_tls=0"
#define MPI_SAN_FLAGS                                                                           \
    "--mca mca_base_component_disable_dlclose 1 -x ASAN_OPTIONS=fast_unwind_on_malloc=0 "     \
    "-x LSAN_OPTIONS=" MPI_LSAN_OPTIONS " "

/* `mlm args` in dir: alone (transport < 0) or as 2 mpirun ranks over the
 * transport; stdout + stderr. */
static char *run(const char *dir, int transport, const char *args, int *status)
{
    char launch[1024] = "";
    if (transport >= 0)
        snprintf(launch, sizeof launch,
                 "mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 --mca btl %s "
                 MPI_SAN_FLAGS, TRANSPORT[transport], test_root());
    size_t n = strlen(dir) + strlen(launch) + strlen(test_root()) + strlen(args) + 256;
    char *cmd = malloc(n);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, n, "cd '%s' && %s'%s/%s' %s 2>&1", dir, launch, test_root(), MLM_BIN, args);
    char *out = test_run(cmd, status);
    free(cmd);
    ck_assert_ptr_nonnull(out);
    return out;
}

#define TRAIN_ARGS                                                                              \
    "train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt --do_train "     \
    "--max_steps 6 --logging_steps 1 --save_steps 3 --learning_rate 1e-3 --seed 7 "           \
    "--num_threads 1 --per_device_train_batch_size 1 "

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
    return v->valuedouble;
}

static int exists(const char *dir, const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    ck_assert_msg(x && y, "%s or %s is missing", a, b);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* The parameters of a saved model, as floats (caller frees). */
static float *params_of(const char *dir, size_t *n)
{
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(dir, &m) == MLM_OK, "%s: %s", dir, mlm_last_error());
    ck_assert_int_eq(model_own_params(m), MLM_OK);
    *n = model_numel(m);
    float *p = malloc(*n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    memcpy(p, model_owned(m), *n * sizeof *p);
    mlm_model_free(m);
    return p;
}

/* How many lines of out hold the record of step 1 (rank 0 alone prints). */
static int count(const char *out, const char *needle)
{
    int k = 0;
    for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        k++;
    return k;
}

/* The log records of a run's trainer_state.json against another's: step 1's
 * loss the same, every gradient norm within 2 s rho (the error model
 * above). */
static void same_curve(const char *dir_a, const char *dir_b, int steps)
{
    cJSON *sa = test_read_json(dir_a, "trainer_state.json"), *sb = test_read_json(dir_b, "trainer_state.json");
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(sa, "log_history");
    const cJSON *hb = cJSON_GetObjectItemCaseSensitive(sb, "log_history");
    const double rho = (TERMS - 1) * ldexp(1.0, -24) * KAPPA;
    for (int s = 1; s <= steps; s++) {
        const cJSON *a = cJSON_GetArrayItem(ha, s - 1), *b = cJSON_GetArrayItem(hb, s - 1);
        ck_assert_int_eq((int)num(a, "step"), s);
        ck_assert_int_eq((int)num(b, "step"), s);
        double ga = num(a, "grad_norm"), gb = num(b, "grad_norm");
        ck_assert_msg(fabs(ga - gb) <= 2.0 * s * rho * ga, "step %d: grad_norm %.17g vs %.17g",
                      s, gb, ga);
        if (s == 1) /* the same micro-batches from the same parameters */
            ck_assert_msg(num(a, "loss") == num(b, "loss"), "step 1 loss %g vs %g",
                          num(b, "loss"), num(a, "loss"));
        else /* logged to 4 decimals; the losses move by ~rho */
            ck_assert_msg(fabs(num(a, "loss") - num(b, "loss")) <= 1e-4 + 2.0 * s * rho * 10,
                          "step %d: loss %g vs %g", s, num(b, "loss"), num(a, "loss"));
        ck_assert_double_eq(num(a, "learning_rate"), num(b, "learning_rate"));
    }
    ck_assert_double_eq(num(sa, "global_step"), num(sb, "global_step"));
    cJSON_Delete(sa);
    cJSON_Delete(sb);
}

/* 2 ranks x 1 row = 1 process x 2 micro-batches of 1 row: the log's loss
 * and gradient norm at every step, the parameters at the end, the files
 * rank 0 alone writes. */
START_TEST(ddp_equals_accumulation)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    int status;
    char *out = run(dir, -1, TRAIN_ARGS "--gradient_accumulation_steps 2 --output_dir S", &status);
    ck_assert_msg(status == 0, "single process:\n%.3000s", out);
    free(out);
    /* the starting point: a run that does not move (lr 0) */
    out = run(dir, -1, TRAIN_ARGS "--learning_rate 0 --max_steps 1 --output_dir Z", &status);
    ck_assert_msg(status == 0, "lr 0:\n%.3000s", out);
    free(out);
    out = run(dir, _i, TRAIN_ARGS "--output_dir D", &status);
    ck_assert_msg(status == 0, "mpirun over %s:\n%.3000s", TRANSPORT[_i], out);
    ck_assert_int_eq(count(out, "\"step\":1}"), 1);
    ck_assert_int_eq(count(out, "***** train metrics *****"), 1);
    ck_assert_ptr_nonnull(strstr(out, "Total train batch size (w. parallel, distributed & "
                                      "accumulation) = 2"));
    free(out);

    char sd[4096], dd[4096];
    snprintf(sd, sizeof sd, "%s/S", dir);
    snprintf(dd, sizeof dd, "%s/D", dir);
    same_curve(sd, dd, STEPS);
    const double rho = (TERMS - 1) * ldexp(1.0, -24) * KAPPA;

    char z[4096];
    snprintf(z, sizeof z, "%s/Z", dir);
    size_t n, n2, n0;
    float *ps = params_of(sd, &n), *pd = params_of(dd, &n2), *p0 = params_of(z, &n0);
    ck_assert(n == n2 && n == n0);
    double diff = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)pd[i] - ps[i]) * ((double)pd[i] - ps[i]);
        moved += ((double)ps[i] - p0[i]) * ((double)ps[i] - p0[i]);
    }
    ck_assert(moved > 0);
    ck_assert_msg(sqrt(diff / moved) <= 2.0 * STEPS * rho,
                  "parameters: |D - S| / |S - start| = %g > %g", sqrt(diff / moved),
                  2.0 * STEPS * rho);
    free(ps);
    free(pd);
    free(p0);

    /* rank 0 wrote, with every rank's RNG state */
    char ck[4200];
    snprintf(ck, sizeof ck, "%s/checkpoint-6", dd);
    ck_assert(exists(ck, "rng_state_0.json") && exists(ck, "rng_state_1.json"));
    ck_assert(!exists(ck, "rng_state.json"));
    cJSON *r1 = test_read_json(ck, "rng_state_1.json");
    ck_assert_int_eq((int)num(r1, "process_index"), 1);
    ck_assert_int_eq((int)num(r1, "world_size"), 2);
    ck_assert_int_eq((int)num(r1, "micro_batch"), 2 * 6 + 1);
    cJSON_Delete(r1);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The same for T5 (mpirun -np 2 mlm train-summarization, dropout on): 2
 * ranks x 1 article against 1 process x 2 micro-batches; Korean articles
 * among them. */
START_TEST(ddp_seq2seq_equals_accumulation)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    char path[8192];
    snprintf(path, sizeof path, "%s/train.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    static const char *const rows[][2] = {
        {"The first human went into space on April 12, 1961.", "First human in space."},
        {"서울에서 열린 회의는 오늘 끝났다.", "회의 종료"},
        {"Paris is the capital of France and Berlin of Germany.", "Two capitals."},
        {"부산은 대한민국의 항구 도시이다.", "부산 항구"},
        {"The library opens a new reading room on Monday.", "New reading room."},
    };
    for (int i = 0; i < 20; i++)
        fprintf(f, "{\"article\": \"%s (%d)\", \"summary\": \"%s\"}\n", rows[i % 5][0], i,
                rows[i % 5][1]);
    fclose(f);
    snprintf(path, sizeof path, "%s/t5.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"model_type\": \"t5\", \"vocab_size\": 32128, \"d_model\": 16, \"d_kv\": 4, "
          "\"num_heads\": 2, \"d_ff\": 32, \"num_layers\": 2, "
          "\"relative_attention_num_buckets\": 8, \"dropout_rate\": 0.1, \"pad_token_id\": 0, "
          "\"eos_token_id\": 1, \"decoder_start_token_id\": 0}", f);
    fclose(f);
    char tok[1024], args[4096];
    test_data_path("tokenizers/t5-small", tok, sizeof tok);
    const char *fmt = "train-summarization --config_name t5.json --tokenizer_name '%s' "
                      "--train_file train.jsonl --do_train --source_prefix 'summarize: ' "
                      "--max_source_length 24 --max_target_length 8 --max_steps 4 "
                      "--logging_steps 1 --save_strategy no --learning_rate 1e-3 --seed 3 "
                      "--num_threads 1 --per_device_train_batch_size 1 %s";
    int status;
    snprintf(args, sizeof args, fmt, tok, "--gradient_accumulation_steps 2 --output_dir S");
    char *out = run(dir, -1, args, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    snprintf(args, sizeof args, fmt, tok, "--output_dir D");
    out = run(dir, 0, args, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    char a[8192], b[8192];
    snprintf(a, sizeof a, "%s/S", dir);
    snprintf(b, sizeof b, "%s/D", dir);
    same_curve(a, b, 4);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A corpus tokenized once by `mlm dataset` and mapped by every rank
 * (--train_dataset, --validation_dataset): the same curve as one process,
 * and the same eval_loss; mixing text files and dataset files is refused. */
START_TEST(ddp_tokenized_dataset)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    int status;
    char *out = run(dir, -1, "dataset --tokenizer tok --train-file corpus.txt --block-size 32 "
                             "--out DS", &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    const char *base = "train --config_name cfg.json --tokenizer_name tok --train_dataset DS/train "
                       "--validation_dataset DS/test --do_train --do_eval --max_steps 4 "
                       "--logging_steps 1 --learning_rate 1e-3 --seed 7 --num_threads 1 "
                       "--per_device_train_batch_size 1 --save_strategy no ";
    char args[2048];
    snprintf(args, sizeof args, "%s--gradient_accumulation_steps 2 --output_dir S", base);
    out = run(dir, -1, args, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    snprintf(args, sizeof args, "%s--output_dir D", base);
    out = run(dir, 0, args, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    char a[8192], b[8192];
    snprintf(a, sizeof a, "%s/S", dir);
    snprintf(b, sizeof b, "%s/D", dir);
    same_curve(a, b, 4);
    out = run(dir, -1, "train --config_name cfg.json --tokenizer_name tok --train_dataset "
                       "DS/train --validation_file corpus.txt --do_train --output_dir X", &status);
    ck_assert_int_ne(status, 0);
    ck_assert_msg(strstr(out, "replace --train_file / --validation_file: pass one kind"), "%.3000s",
                  out);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Checkpoint at step 3 over one transport, resumed over the other: the
 * same files at step 6 as the run that never stopped, to the bit; a resume
 * with another number of processes is refused, naming why. */
START_TEST(ddp_resume_bit_identical)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    int status;
    char *out = run(dir, _i, TRAIN_ARGS "--output_dir D", &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    out = run(dir, 1 - _i, TRAIN_ARGS "--output_dir R --resume_from_checkpoint D/checkpoint-3",
              &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    static const char *const files[] = {"model.safetensors", "optimizer.safetensors",
                                        "rng_state_0.json", "rng_state_1.json",
                                        "scheduler.json"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s/D/checkpoint-6/%s", dir, files[k]);
        snprintf(b, sizeof b, "%s/R/checkpoint-6/%s", dir, files[k]);
        ck_assert_msg(same_file(a, b), "%s differs after the resume", files[k]);
    }
    out = run(dir, -1, TRAIN_ARGS "--output_dir R1 --resume_from_checkpoint D/checkpoint-3",
              &status);
    ck_assert_int_ne(status, 0);
    ck_assert_msg(strstr(out, "rng_state.json: not there (a checkpoint of a run of another "
                              "number of processes"), "%.3000s", out);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* mlm eval of one model: the shared evaluation's eval_loss and perplexity
 * are the single process's, to the bit (several batches per rank, the
 * last one short). */
START_TEST(ddp_eval_equals_single)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    int status;
    char *out = run(dir, -1, TRAIN_ARGS "--output_dir M", &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    const char *eval = "eval --model_name_or_path M --train_file corpus.txt --seed 7 "
                       "--num_threads 1 --per_device_eval_batch_size 3 "
                       "--validation_split_percentage 10 --output_dir ";
    char args[1024];
    snprintf(args, sizeof args, "%sE1", eval);
    out = run(dir, -1, args, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    snprintf(args, sizeof args, "%sE2", eval);
    out = run(dir, _i, args, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    ck_assert_int_eq(count(out, "***** eval metrics *****"), 1);
    free(out);
    char e1[4200], e2[4200];
    snprintf(e1, sizeof e1, "%s/E1", dir);
    snprintf(e2, sizeof e2, "%s/E2", dir);
    cJSON *a = test_read_json(e1, "eval_results.json"), *b = test_read_json(e2, "eval_results.json");
    ck_assert_msg(num(a, "eval_loss") == num(b, "eval_loss"), "eval_loss %.17g vs %.17g",
                  num(b, "eval_loss"), num(a, "eval_loss"));
    ck_assert(num(a, "perplexity") == num(b, "perplexity"));
    ck_assert(num(a, "eval_samples") == num(b, "eval_samples"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The pid of the mlm process that is rank `rank` under dir's run (its
 * environment names the rank, its working folder is dir), or 0. */
static pid_t rank_pid(const char *dir, int rank)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    struct dirent *e;
    pid_t found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[128], cwd[4096];
        snprintf(path, sizeof path, "/proc/%ld/cwd", pid);
        ssize_t len = readlink(path, cwd, sizeof cwd - 1);
        if (len < 0)
            continue;
        cwd[len] = 0;
        if (strcmp(cwd, dir) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        size_t n;
        char *env = test_read_file(path, &n);
        for (size_t i = 0; env && i < n; i += strlen(env + i) + 1)
            if (strcmp(env + i, want) == 0)
                found = (pid_t)pid;
        free(env);
    }
    closedir(d);
    return found;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Rank 1 killed mid-run: mpirun ends the job within seconds, non-zero;
 * the last checkpoint is whole and resumes. */
START_TEST(ddp_rank_killed)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && exec mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "
             "--mca btl %s " MPI_SAN_FLAGS "'%s/%s' train --config_name cfg.json --tokenizer_name tok --train_file corpus.txt "
             "--do_train --max_steps 1000000 --logging_steps 100 --save_steps 20 "
             "--learning_rate 1e-3 --seed 7 --num_threads 1 --per_device_train_batch_size 1 "
             "--output_dir K >K.log 2>&1",
             dir, TRANSPORT[_i], test_root(), test_root(), MLM_BIN);
    pid_t job = fork();
    ck_assert_int_ge(job, 0);
    if (job == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* wait for two checkpoints, then kill rank 1 */
    char k[4200], ck[4300];
    snprintf(k, sizeof k, "%s/K", dir);
    snprintf(ck, sizeof ck, "%s/checkpoint-40", k);
    double t0 = now();
    while (access(ck, F_OK) != 0 && now() - t0 < 120)
        usleep(20000);
    ck_assert_msg(access(ck, F_OK) == 0, "no checkpoint-40 after 120 s");
    pid_t victim = rank_pid(dir, 1);
    ck_assert_msg(victim > 0, "rank 1 not found");
    ck_assert_int_eq(kill(victim, SIGKILL), 0);
    double killed = now();
    int wstatus = 0;
    pid_t w;
    while ((w = waitpid(job, &wstatus, WNOHANG)) == 0 && now() - killed < 30)
        usleep(20000);
    if (w == 0) {
        kill(job, SIGKILL);
        waitpid(job, &wstatus, 0);
    }
    double took = now() - killed;
    ck_assert_msg(w == job, "the job still ran 30 s after rank 1 died");
    ck_assert_msg(!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0), "the job exited 0");
    ck_assert_msg(took < 10, "the job took %.1f s to end", took);
    /* no partial checkpoint; the last one resumes */
    DIR *d = opendir(k);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    long last = 0;
    while ((e = readdir(d)) != NULL) {
        ck_assert_msg(strncmp(e->d_name, "tmp-", 4) != 0 && strncmp(e->d_name, "old-", 4) != 0,
                      "%s left behind", e->d_name);
        if (strncmp(e->d_name, "checkpoint-", 11) == 0 && atol(e->d_name + 11) > last)
            last = atol(e->d_name + 11);
    }
    closedir(d);
    ck_assert_int_ge(last, 40);
    char args[1024];
    snprintf(args, sizeof args,
             TRAIN_ARGS "--max_steps %ld --output_dir K --resume_from_checkpoint "
                        "K/checkpoint-%ld",
             last + 2, last);
    int status;
    char *out = run(dir, _i, args, &status);
    ck_assert_msg(status == 0, "resume from checkpoint-%ld:\n%.3000s", last, out);
    char step[64];
    snprintf(step, sizeof step, "\"step\":%ld}", last + 2);
    ck_assert_msg(strstr(out, step), "%.3000s", out);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A failure on rank 0 alone after training (its train_results.json cannot
 * be written; the other rank goes on to the shared evaluation, where it
 * waits for rank 0): rank 0 leaves without MPI_Finalize and mpirun ends the
 * job, non-zero and at once, with rank 0's message; never a hang. */
START_TEST(ddp_rank0_failure_ends_job)
{
    if (!mpi_ready())
        return;
    char *dir = fixture();
    char path[8192];
    snprintf(path, sizeof path, "%s/F/train_results.json/x", dir);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
    int status;
    double t0 = now();
    char *out = run(dir, 0, "train --config_name cfg.json --tokenizer_name tok --train_file "
                            "corpus.txt --do_train --do_eval --max_steps 2 --num_threads 1 "
                            "--per_device_train_batch_size 1 --output_dir F "
                            "--overwrite_output_dir",
                    &status);
    double took = now() - t0;
    ck_assert_msg(status != 0, "%.3000s", out);
    ck_assert_msg(strstr(out, "train_results.json: cannot rename"), "%.3000s", out);
    ck_assert_msg(took < 60, "the job took %.0f s", took);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A host application that runs MPI itself (tests/mpi/host.c) hands the
 * trainer a communicator split from its WORLD: mlm_trainer_world says 0 and
 * 1 of 2, the curve is the one process's with accumulation 2 (MPI_COMM_SELF
 * handed in), and the host's MPI still works afterwards (the program checks
 * that libmlm finalised nothing). */
START_TEST(ddp_host_communicator)
{
    if (!mpi_ready())
        return;
    if (!MLM_MPI_HOST[0]) {
        fprintf(stderr, "distributed: no mpi_host built: skipped\n");
        return;
    }
    char *dir = test_tmpdir();
    ck_assert_ptr_nonnull(dir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/A' '%s/B'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    int status;
    /* MPI_Init without mpirun (a singleton), with MPI_SAN_FLAGS' settings */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && OMPI_MCA_mca_base_component_disable_dlclose=1 "
             "ASAN_OPTIONS=fast_unwind_on_malloc=0 "
             "LSAN_OPTIONS=" MPI_LSAN_OPTIONS " "
             "'%s/%s' A --alone 2>&1",
             dir, test_root(), test_root(), MLM_MPI_HOST);
    char *out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "
             "--mca btl vader,self " MPI_SAN_FLAGS "'%s/%s' B 2>&1",
             dir, test_root(), test_root(), MLM_MPI_HOST);
    out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "%.3000s", out);
    free(out);
    char a[8192], b[8192];
    snprintf(a, sizeof a, "%s/A/world.txt", dir);
    snprintf(b, sizeof b, "%s/B/world.txt", dir);
    char *wa = test_read_file(a, NULL), *wb = test_read_file(b, NULL);
    ck_assert_ptr_nonnull(wa);
    ck_assert_ptr_nonnull(wb);
    ck_assert_str_eq(wa, "0 1\n");
    ck_assert_str_eq(wb, "0 2\n1 2\n");
    free(wa);
    free(wb);
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    same_curve(a, b, 4);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The trainer's options for processes, through the API, in this (not
 * launched) process. */
START_TEST(ddp_options)
{
    static const char CFG[] =
        "{\"model_type\": \"bert\", \"vocab_size\": 40, \"hidden_size\": 8, "
        "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 16, "
        "\"max_position_embeddings\": 16, \"type_vocab_size\": 2, \"pad_token_id\": 0}";
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(CFG, strlen(CFG), 1, &m), MLM_OK);
    mlm_dataset *ds = NULL;
    const int32_t row[] = {2, 5, 7, 3}, *rows[1] = {row};
    size_t len = 4;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", rows, &len, 1), MLM_OK);
    mlm_tokenizer *tok = NULL;
    char tp[1024];
    ck_assert_int_eq(mlm_tokenizer_load(test_data_path("tokenizers/bert-base-uncased", tp,
                                                       sizeof tp), &tok), MLM_OK);
    mlm_collator *col = NULL;
    ck_assert_int_eq(mlm_collator_new(tok, NULL, &col), MLM_OK);
    mlm_trainer *tr = NULL;
    ck_assert_int_eq(mlm_trainer_new(m, col, ds, NULL, &tr), MLM_OK);

    ck_assert_int_eq(mlm_trainer_set(tr, "ddp_backend", "gloo"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "expected null, \"mpi\" or \"none\""));
    ck_assert_int_eq(mlm_trainer_set(tr, "ddp_bucket_cap_mb", "0"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_set(tr, "ddp_bucket_cap_mb", "4"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_set(tr, "ddp_backend", "none"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_set_mpi_comm(tr, NULL), MLM_ERR_INVALID_ARGUMENT);
    int rank = -1, world = -1;
    ck_assert_int_eq(mlm_trainer_world(tr, &rank, &world), MLM_OK);
    ck_assert_int_eq(rank, 0);
    ck_assert_int_eq(world, 1);
    /* set up: its own value again is fine, another is not */
    ck_assert_int_eq(mlm_trainer_set(tr, "ddp_backend", "none"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_set(tr, "ddp_backend", "mpi"), MLM_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "already set up"));
    size_t need = 0;
    ck_assert_int_eq(mlm_trainer_args_json(tr, NULL, 0, &need), MLM_OK);
    char *args = malloc(need);
    ck_assert_int_eq(mlm_trainer_args_json(tr, args, need, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(args, "\"ddp_backend\":\"none\""));
    ck_assert_ptr_nonnull(strstr(args, "\"ddp_bucket_cap_mb\":4"));
    free(args);
    mlm_trainer_free(tr);
    mlm_collator_free(col);
    mlm_tokenizer_free(tok);
    mlm_dataset_free(ds);
    mlm_model_free(m);
}
END_TEST

Suite *distributed_suite(void)
{
    Suite *s = suite_create("distributed");
    TCase *tc = tcase_create("mpi");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, ddp_equals_accumulation, 0, 2);
    tcase_add_loop_test(tc, ddp_resume_bit_identical, 0, 2);
    tcase_add_loop_test(tc, ddp_eval_equals_single, 0, 2);
    tcase_add_loop_test(tc, ddp_rank_killed, 0, 2);
    tcase_add_test(tc, ddp_seq2seq_equals_accumulation);
    tcase_add_test(tc, ddp_tokenized_dataset);
    tcase_add_test(tc, ddp_rank0_failure_ends_job);
    tcase_add_test(tc, ddp_host_communicator);
    tcase_add_test(tc, ddp_options);
    suite_add_tcase(s, tc);
    return s;
}
