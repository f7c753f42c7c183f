/* The mlm tool's data commands: `mlm dataset` (tokenize, group or
 * line-by-line, split, save) and `mlm collate` (masked batches as JSON), on
 * small Korean + English files made in a temporary directory; and the
 * examples that run the seed's chain (prepare_eli5, train_mlm). */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *run_mlm(const char *args, int *status)
{
    size_t n = strlen(test_root()) + strlen(MLM_BIN) + strlen(args) + 16;
    char *cmd = malloc(n);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, n, "'%s/%s' %s 2>&1", test_root(), MLM_BIN, args);
    char *out = test_run(cmd, status);
    free(cmd);
    return out;
}

static const char *const LINES[] = {
    "우리 은하와 가장 가까운 은하가 있다.", "그 은하 이름은 안드로메다 은하이다.",
    "어제 엄마한테 혼났다.", "다음에는 나쁜짓을 안해야겠다.",
    "The quick brown fox jumps over the lazy dog.", "Masked language modeling needs no labels."};

/* dir/name: n JSON Lines records {"id": i, "answers": {"text": [a, b]}}. */
static void write_jsonl(const char *dir, const char *name, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"id\": %d, \"answers\": {\"text\": [\"%s\", \"%s\"]}}\n", i, LINES[i % 6],
                LINES[(i + 1) % 6]);
    fclose(f);
}

static int file_exists(const char *dir, const char *name)
{
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* Check `mlm collate --json` output: n_batches lines, each a batch of at
 * most `rows` rows of seq_len, labels -100 or the id the input had. */
static void check_collate_json(const char *out, int n_batches, int rows, int seq_len)
{
    int seen = 0;
    for (const char *line = out; line && *line; seen++) {
        const char *nl = strchr(line, '\n');
        cJSON *o = cJSON_ParseWithLength(line, nl ? (size_t)(nl - line) : strlen(line));
        ck_assert_msg(o != NULL, "not JSON: %.80s", line);
        const char *keys[] = {"input_ids", "attention_mask", "labels", "special_tokens_mask"};
        int r = -1;
        for (int k = 0; k < 4; k++) {
            cJSON *m = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
            ck_assert_msg(cJSON_IsArray(m), "no %s", keys[k]);
            if (r < 0)
                r = cJSON_GetArraySize(m);
            ck_assert_int_eq(cJSON_GetArraySize(m), r);
            for (cJSON *row = m->child; row; row = row->next)
                ck_assert_int_eq(cJSON_GetArraySize(row), seq_len);
        }
        ck_assert_int_le(r, rows);
        cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
        cJSON *stm = cJSON_GetObjectItemCaseSensitive(o, "special_tokens_mask");
        for (cJSON *lr = labels->child, *sr = stm->child; lr; lr = lr->next, sr = sr->next)
            for (cJSON *l = lr->child, *s = sr->child; l; l = l->next, s = s->next)
                if (s->valueint)
                    ck_assert_int_eq(l->valueint, -100);
        cJSON_Delete(o);
        line = nl ? nl + 1 : NULL;
    }
    ck_assert_int_eq(seen, n_batches);
}

START_TEST(cli_dataset_group_split_collate)
{
    char tb[4096];
    REQUIRE_TEST_DATA(tp, "tokenizers/roberta-base", tb);
    char *dir = test_tmpdir();
    write_jsonl(dir, "d.jsonl", 40);
    char args[8192];
    int status;
    snprintf(args, sizeof args,
             "dataset --tokenizer '%s' --train_file '%s/d.jsonl' --text-column answers.text "
             "--block-size 16 --test-size 0.2 --seed 7 --num-proc 2 --out '%s/out'",
             tp, dir, dir);
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    unsigned ntrain = 0, ntest = 0;
    unsigned long long ttrain = 0, ttest = 0;
    const char *t = strstr(out, "train: "), *e = strstr(out, "test: ");
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(sscanf(t, "train: %u rows, %llu tokens", &ntrain, &ttrain), 2);
    ck_assert_int_eq(sscanf(e, "test: %u rows, %llu tokens", &ntest, &ttest), 2);
    ck_assert_uint_eq(ttrain, 16ull * ntrain);
    ck_assert_uint_eq(ttest, 16ull * ntest);
    /* test = ceil(0.2 n) */
    unsigned n = ntrain + ntest;
    ck_assert_uint_eq(ntest, (n + 4) / 5);
    free(out);
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/out", dir);
    ck_assert(file_exists(sub, "train"));
    ck_assert(file_exists(sub, "test"));
    ck_assert(file_exists(sub, "dataset_info.json"));
    ck_assert(!file_exists(sub, ".train.tmp"));
    /* the split is a dataset file with the tokenized columns */
    char path[8192];
    snprintf(path, sizeof path, "%s/train", sub);
    mlm_dataset *ds = NULL;
    ck_assert_int_eq(mlm_dataset_open(path, &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), ntrain);
    mlm_column_type ty;
    ck_assert_int_eq(mlm_dataset_column_type(ds, "special_tokens_mask", &ty), MLM_OK);
    mlm_dataset_free(ds);

    /* collate with the ids recorded in dataset_info.json */
    snprintf(args, sizeof args,
             "collate --dataset '%s' --batch-size 4 --max-batches 3 --seed 5 --json", sub);
    char *a = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", a);
    check_collate_json(a, 3, 4, 16);
    /* the same with --tokenizer: the same batches */
    snprintf(args, sizeof args,
             "collate --dataset '%s' --batch-size 4 --max-batches 3 --seed 5 --json "
             "--tokenizer '%s'", sub, tp);
    char *b = run_mlm(args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* the test split, padded to a multiple of 24, everything */
    snprintf(args, sizeof args,
             "collate --dataset '%s' --split test --batch-size 100 --pad-to-multiple-of 24 "
             "--mlm-probability 0.5 --json", sub);
    a = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", a);
    check_collate_json(a, 1, (int)ntest, 24);
    free(a);
    /* an unknown split is a runtime error */
    snprintf(args, sizeof args, "collate --dataset '%s' --split nope --json", sub);
    a = run_mlm(args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_ptr_nonnull(strstr(a, "nope"));
    free(a);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(cli_dataset_line_by_line_validation)
{
    char tb[4096];
    REQUIRE_TEST_DATA(tp, "tokenizers/bert-base-multilingual-cased", tb);
    char *dir = test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/train.txt", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 30; i++)
        fprintf(f, "%s %s\n%s", LINES[i % 6], LINES[(i + 3) % 6], i % 5 == 0 ? "\n   \n" : "");
    fclose(f);
    /* a JSON array (loaded whole) as the validation file */
    snprintf(path, sizeof path, "%s/valid.json", dir);
    f = fopen(path, "w");
    fprintf(f, "[{\"text\": \"%s\"}, {\"text\": \"\"}, {\"text\": \"%s %s %s\"}]\n", LINES[0],
            LINES[1], LINES[4], LINES[5]);
    fclose(f);
    char args[8192];
    int status;
    snprintf(args, sizeof args,
             "dataset --tokenizer '%s' --train-file '%s/train.txt' --validation_file "
             "'%s/valid.json' --line-by-line --max-seq-length 12 --out '%s/out'",
             tp, dir, dir, dir);
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    /* blank lines are dropped: 30 rows and 2 */
    ck_assert_ptr_nonnull(strstr(out, "train: 30 rows"));
    ck_assert_ptr_nonnull(strstr(out, "validation: 2 rows"));
    free(out);
    snprintf(path, sizeof path, "%s/out/train", dir);
    mlm_dataset *ds = NULL;
    ck_assert_int_eq(mlm_dataset_open(path, &ds), MLM_OK);
    for (size_t r = 0; r < mlm_dataset_num_rows(ds); r++) {
        const int32_t *d;
        size_t len;
        ck_assert_int_eq(mlm_dataset_get_sequence(ds, "input_ids", r, &d, &len), MLM_OK);
        ck_assert_uint_eq(len, 12); /* every line is longer: truncated */
        ck_assert_int_eq(d[0], 101);
        ck_assert_int_eq(d[11], 102);
    }
    mlm_dataset_free(ds);
    snprintf(args, sizeof args, "collate --dataset '%s/out' --split validation --json", dir);
    out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    check_collate_json(out, 1, 2, 12);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static char *file_bytes(const char *dir, const char *rel, size_t *len);

/* The file's format comes from the data layer's one rule
 * (mlm_dataset_format_of): "D.JSONL" is JSON Lines for `mlm dataset` as for
 * mlm_dataset_load, so it gives the same dataset as "d.jsonl"; ".tsv" and
 * ".JSON" files are loaded whole, not streamed as lines of text. */
START_TEST(cli_dataset_format_from_the_name)
{
    char tb[4096];
    REQUIRE_TEST_DATA(tp, "tokenizers/roberta-base", tb);
    char *dir = test_tmpdir();
    write_jsonl(dir, "d.jsonl", 40);
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/d.jsonl", dir);
    snprintf(b, sizeof b, "%s/D.JSONL", dir);
    ck_assert_int_eq(link(a, b), 0);
    static const char *const names[] = {"d.jsonl", "D.JSONL"};
    char *bytes[2];
    size_t lens[2];
    for (int i = 0; i < 2; i++) {
        char args[8192];
        int status;
        snprintf(args, sizeof args,
                 "dataset --tokenizer '%s' --train-file '%s/%s' --text-column answers.text "
                 "--block-size 16 --out '%s/o%d'",
                 tp, dir, names[i], dir, i);
        char *out = run_mlm(args, &status);
        ck_assert_msg(status == 0, "%s: %s", names[i], out);
        free(out);
        char rel[64];
        snprintf(rel, sizeof rel, "o%d/train", i);
        bytes[i] = file_bytes(dir, rel, &lens[i]);
    }
    ck_assert_uint_eq(lens[0], lens[1]);
    ck_assert(memcmp(bytes[0], bytes[1], lens[0]) == 0);
    free(bytes[0]);
    free(bytes[1]);
    /* a TSV with a text column: loaded whole, its column found */
    FILE *f;
    snprintf(a, sizeof a, "%s/t.TSV", dir);
    f = fopen(a, "w");
    fputs("id\ttext\n1\t우리 은하와 가장 가까운 은하\n2\tThe quick brown fox\n", f);
    fclose(f);
    char args[8192];
    int status;
    snprintf(args, sizeof args,
             "dataset --tokenizer '%s' --train-file '%s' --line-by-line --max-seq-length 16 "
             "--test-size 1 --out '%s/t'", tp, a, dir);
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "train: 1 rows"));
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static char *file_bytes(const char *dir, const char *rel, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *data = test_read_file(path, len);
    ck_assert_msg(data != NULL, "%s is missing", path);
    return data;
}

/* On a terminal `mlm dataset` shows datasets' bars on stderr: the bytes of
 * a streamed text file ("Tokenizing corpus.txt: 100%|...| 23.1k/23.1k
 * [00:00<00:00, 1.23MB/s]") and the rows of a CSV loaded whole ("Running
 * tokenizer on every text in dataset: 100%|...| examples/s]"), each ended
 * with a newline; through a pipe nothing but the summary lines, as before.
 * The datasets written are the same either way. */
START_TEST(cli_dataset_progress_on_a_terminal_only)
{
    char tb[4096];
    REQUIRE_TEST_DATA(tp, "tokenizers/bert-base-uncased", tb);
    char *dir = test_tmpdir();
    char path[4096], args[8192];
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 600; i++)
        fprintf(f, "%s\n", LINES[i % 6]);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(path, sizeof path, "%s/corpus.csv", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "id,text\n");
    for (int i = 0; i < 300; i++)
        fprintf(f, "%d,\"%s\"\n", i, LINES[i % 6]);
    ck_assert_int_eq(fclose(f), 0);

    static const char *const inputs[] = {"corpus.txt", "corpus.csv"};
    static const char *const bars[] = {"\rTokenizing corpus.txt: 100%|",
                                       "\rRunning tokenizer on every text in dataset: 100%|"};
    static const char *const rates[] = {"B/s]\n", " examples/s]\n"};
    for (int k = 0; k < 2; k++) {
        int status;
        snprintf(args, sizeof args,
                 "dataset --tokenizer '%s' --train-file '%s/%s' --block-size 16 --out '%s/pipe%d'",
                 tp, dir, inputs[k], dir, k);
        char *piped = run_mlm(args, &status);
        ck_assert_msg(status == 0, "%s", piped);
        ck_assert_msg(strncmp(piped, "train: ", 7) == 0 && !strchr(piped, '\r') &&
                          strstr(piped, "\ntest: ") && !strstr(piped, "%|"),
                      "piped output: %s", piped);
        char cmd[16384];
        snprintf(cmd, sizeof cmd,
                 "exec '%s/%s' dataset --tokenizer '%s' --train-file '%s/%s' --block-size 16 "
                 "--out '%s/tty%d'",
                 test_root(), MLM_BIN, tp, dir, inputs[k], dir, k);
        char *tty = test_run_on_terminal(cmd, 120, &status);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", tty);
        const char *bar = strstr(tty, bars[k]);
        ck_assert_msg(bar != NULL, "no finished bar '%s' in: %s", bars[k] + 1, tty);
        ck_assert_msg(strstr(bar, rates[k]) != NULL, "no rate and newline after: %s", bar);
        ck_assert_msg(strstr(tty, "\033") == NULL, "escape sequences in: %s", tty);
        /* the summary follows the bar, as it reads through the pipe */
        ck_assert_msg(strstr(tty, piped) != NULL, "%s\n---\n%s", tty, piped);
        /* what was written does not depend on the bar */
        char a[64], b[64];
        snprintf(a, sizeof a, "pipe%d/train", k);
        snprintf(b, sizeof b, "tty%d/train", k);
        size_t la, lb;
        char *da = file_bytes(dir, a, &la), *db = file_bytes(dir, b, &lb);
        ck_assert(la == lb && memcmp(da, db, la) == 0);
        free(da);
        free(db);
        free(tty);
        free(piped);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(cli_data_usage_and_runtime_errors)
{
    static const char *const usage[] = {
        "dataset",
        "dataset --tokenizer t --train-file f",
        "dataset --tokenizer t --train-file f --out o --block-size 0",
        "dataset --tokenizer t --train-file f --out o --block-size 8 --max-seq-length 8",
        "dataset --tokenizer t --train-file f --out o --test-size -1",
        "dataset --tokenizer t --train-file f --out o --num-proc x",
        "dataset --tokenizer t --train-file f --out o --no-such-option",
        "collate",
        "collate --dataset d --mlm-probability 1.5",
        "collate --dataset d --batch-size 0",
        "collate --dataset d extra",
    };
    int status;
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char *out = run_mlm(usage[i], &status);
        ck_assert_msg(status == 2, "'%s' exited %d: %s", usage[i], status, out);
        ck_assert_ptr_nonnull(strstr(out, "usage:"));
        free(out);
    }
    char *dir = test_tmpdir();
    char args[8192];
    /* runtime: a missing tokenizer, a missing dataset */
    snprintf(args, sizeof args,
             "dataset --tokenizer '%s/없는-토크나이저' --train-file x --out '%s/o'", dir, dir);
    char *out = run_mlm(args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_ptr_nonnull(strstr(out, "없는-토크나이저"));
    free(out);
    snprintf(args, sizeof args, "collate --dataset '%s/nothing'", dir);
    out = run_mlm(args, &status);
    ck_assert_int_eq(status, 1);
    free(out);
    char tb[4096];
    const char *tp = test_data_path("tokenizers/roberta-base", tb, sizeof tb);
    {
        /* a train file that is not there; a column that is not there */
        snprintf(args, sizeof args,
                 "dataset --tokenizer '%s' --train-file '%s/absent.txt' --out '%s/o'", tp, dir,
                 dir);
        out = run_mlm(args, &status);
        ck_assert_int_eq(status, 1);
        ck_assert_ptr_nonnull(strstr(out, "absent.txt"));
        free(out);
        write_jsonl(dir, "d.jsonl", 3);
        snprintf(args, sizeof args,
                 "dataset --tokenizer '%s' --train-file '%s/d.jsonl' --text-column 본문 "
                 "--out '%s/o'", tp, dir, dir);
        out = run_mlm(args, &status);
        ck_assert_int_eq(status, 1);
        ck_assert_ptr_nonnull(strstr(out, "d.jsonl:1"));
        ck_assert_ptr_nonnull(strstr(out, "본문"));
        free(out);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* An example program (OUTBIN/examples/name, beside the mlm binary) with
 * args, stderr joined to stdout. */
static char *run_example(const char *name, const char *args, int *status)
{
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", MLM_BIN);
    char *slash = strrchr(bin, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    size_t n = strlen(test_root()) + strlen(bin) + strlen(name) + strlen(args) + 64;
    char *cmd = malloc(n);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, n, "'%s/%s/examples/%s' %s 2>&1", test_root(), bin, name, args);
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    free(cmd);
    return out;
}

/* examples/prepare_eli5 runs the seed's chain. */
START_TEST(example_prepare_eli5_runs)
{
    char tb[4096], db[4096], args[8400];
    REQUIRE_TEST_DATA(tp, "tokenizers/roberta-base", tb);
    REQUIRE_TEST_DATA(dp, "corpora/eli5-category/dummy/eli5-category-validation-1.json",
                        db);
    snprintf(args, sizeof args, "'%s' '%s'", tp, dp);
    int status;
    char *out = run_example("prepare_eli5", args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "'answers.text'"));
    ck_assert_ptr_nonnull(strstr(out, "'input_ids': tensor([["));
    ck_assert_ptr_nonnull(strstr(out, "'attention_mask': tensor([["));
    ck_assert_ptr_nonnull(strstr(out, "'labels': tensor([["));
    ck_assert_ptr_nonnull(strstr(out, "test: Dataset({ num_rows: "));
    free(out);
}
END_TEST

/* examples/train_mlm runs the seed's whole flow (load, tokenizer training,
 * tokenize, group_texts, split, collator, Trainer, perplexity, save,
 * fill-mask) on an ELI5 file of the user's, Korean answers included; the
 * saved folder loads and fills masks. (`make demo` runs it on the corpus it
 * generates and checks the answers learnt; that takes a minute, too long
 * for make check.) */
START_TEST(example_train_mlm_runs)
{
    char *dir = test_tmpdir();
    write_jsonl(dir, "eli5.jsonl", 40);
    char args[8192], path[4200];
    snprintf(args, sizeof args,
             "--eli5 '%s/eli5.jsonl' --epochs 2 --threads 1 --block-size 16 '%s/out'", dir, dir);
    int status;
    char *out = run_example("train_mlm", args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "'answers.text'"));
    ck_assert_ptr_nonnull(strstr(out, "group_texts: "));
    /* one table row per epoch, then the seed's line */
    ck_assert_msg(strstr(out, "Epoch  Training Loss  Validation Loss  Perplexity\n         1  ") &&
                      strstr(out, "\n         2  ") && !strstr(out, "\n         3  "),
                  "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\nPerplexity: "));
    ck_assert_ptr_nonnull(strstr(out, "[{'score': "));
    ck_assert_ptr_nonnull(strstr(out, "'sequence': 'the milky way is a "));
    free(out);

    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json"};
    struct stat sb;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/out/my_awesome_eli5_mlm_model/%s", dir, files[i]);
        ck_assert_msg(stat(path, &sb) == 0, "%s missing", path);
    }
    snprintf(path, sizeof path, "%s/out/my_awesome_eli5_mlm_model", dir);
    mlm_pipeline *p = NULL;
    mlm_fill_result *r = NULL;
    ck_assert_msg(mlm_pipeline_load(path, &p) == MLM_OK, "%s", mlm_last_error());
    ck_assert_msg(mlm_fill_mask(p, "그 은하 이름은 [MASK] 은하이다.", 3, &r) == MLM_OK, "%s",
                  mlm_last_error());
    ck_assert_uint_eq(mlm_fill_result_n_masks(r), 1);
    ck_assert_uint_eq(mlm_fill_result_n_predictions(r, 0), 3);
    mlm_fill_result_free(r);
    mlm_pipeline_free(p);

    /* usage, a missing file, a file that is not ELI5's shape */
    out = run_example("train_mlm", "--epochs", &status);
    ck_assert_int_eq(status, 2);
    ck_assert_ptr_nonnull(strstr(out, "usage: train_mlm"));
    free(out);
    snprintf(args, sizeof args, "--eli5 '%s/no_such.jsonl' '%s/out2'", dir, dir);
    out = run_example("train_mlm", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "no_such.jsonl") != NULL, "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/plain.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"text\": \"%s\"}\n{\"text\": \"%s\"}\n", LINES[0], LINES[4]);
    fclose(f);
    snprintf(args, sizeof args, "--eli5 '%s' '%s/out3'", path, dir);
    out = run_example("train_mlm", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "answers.text") != NULL, "%s", out);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *cli_data_suite(void)
{
    Suite *s = suite_create("cli_data");
    TCase *tc = tcase_create("cli_data");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cli_dataset_group_split_collate);
    tcase_add_test(tc, cli_dataset_format_from_the_name);
    tcase_add_test(tc, cli_dataset_line_by_line_validation);
    tcase_add_test(tc, cli_data_usage_and_runtime_errors);
    tcase_add_test(tc, cli_dataset_progress_on_a_terminal_only);
    tcase_add_test(tc, example_prepare_eli5_runs);
    tcase_add_test(tc, example_train_mlm_runs);
    suite_add_tcase(s, tc);
    return s;
}
