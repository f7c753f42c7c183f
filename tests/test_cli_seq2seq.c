/* `mlm dataset --summary-column` and `mlm collate` on its splits: the seed's
 * records (English and Korean, tests/data/goldens/seq2seq/tokenized.json)
 * through the command line give the Python reference's batches
 * (batches.json, case seed_pad_eos); --model, --shuffle, --padding-side and
 * --pad-to-multiple-of give what the library's collator gives for the same
 * rows in mlm_dataset_epoch_order's order; usage and runtime errors. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static cJSON *load_golden(const char *name)
{
    char buf[4096], rel[256];
    snprintf(rel, sizeof rel, "goldens/seq2seq/%s", name);
    REQUIRE_TEST_DATA(path, rel, buf);
    size_t len;
    char *text = test_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

/* dir/train.json: the golden's records as a JSON array (Dataset.from_list). */
static void write_records(const char *dir)
{
    cJSON *doc = load_golden("tokenized.json");
    char path[4096];
    snprintf(path, sizeof path, "%s/train.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(doc, "records"));
    fputs(text, f);
    fclose(f);
    cJSON_free(text);
    cJSON_Delete(doc);
}

/* mlm dataset, seed settings; returns the dataset directory (malloc'ed). */
static char *make_dataset(const char *dir)
{
    char tok[4096], args[16384];
    REQUIRE_TEST_DATA(tpath, "tokenizers/t5-small", tok);
    write_records(dir);
    snprintf(args, sizeof args,
             "dataset --tokenizer '%s' --train-file '%s/train.json' --text-column article "
             "--summary-column summary --pad-token '</s>' --max-source-length 128 "
             "--max-target-length 32 --out '%s/ds'", tpath, dir, dir);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_msg(strstr(out, "train: 10 rows") != NULL, "%s", out);
    free(out);
    char *ds = malloc(strlen(dir) + 8);
    sprintf(ds, "%s/ds", dir);
    return ds;
}

/* Each line of out is the JSON of the next batch of want (a list). */
static void check_lines(const char *out, const cJSON *want, const char *what)
{
    const char *line = out;
    int i = 0;
    for (const cJSON *b = want->child; b; b = b->next, i++) {
        ck_assert_msg(line && *line, "%s: %d batches, want more", what, i);
        const char *nl = strchr(line, '\n');
        cJSON *got = cJSON_ParseWithLength(line, nl ? (size_t)(nl - line) : strlen(line));
        ck_assert_msg(cJSON_Compare(got, b, 1), "%s: batch %d differs: %.300s", what, i, line);
        cJSON_Delete(got);
        line = nl ? nl + 1 : NULL;
    }
    ck_assert_msg(!line || !*line, "%s: more batches than wanted: %.100s", what, line);
}

START_TEST(cli_seq2seq_seed_batches)
{
    char *dir = test_tmpdir(), *ds = make_dataset(dir), args[8192];
    /* the seed: pad = eos, model=None, batches of 2 in order, against Python */
    cJSON *doc = load_golden("batches.json");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "cases"), "seed_pad_eos");
    cJSON *want = cJSON_CreateArray();
    for (const cJSON *b = cJSON_GetObjectItemCaseSensitive(c, "batches")->child; b; b = b->next)
        cJSON_AddItemToArray(want, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "batch"),
                                                   1));
    snprintf(args, sizeof args, "collate --dataset '%s' --batch-size 2 --json", ds);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    check_lines(out, want, "seed_pad_eos");
    free(out);
    cJSON_Delete(want);
    cJSON_Delete(doc);
    test_rmtree(dir);
    free(dir);
    free(ds);
}
END_TEST

START_TEST(cli_seq2seq_model_shuffle)
{
    char *dir = test_tmpdir(), *ds = make_dataset(dir), args[8192], path[4096];
    /* a model folder: only config.json's ids are read */
    snprintf(path, sizeof path, "%s/model", dir);
    snprintf(args, sizeof args, "mkdir '%s'", path);
    ck_assert_int_eq(system(args), 0);
    snprintf(path, sizeof path, "%s/model/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"model_type\": \"t5\", \"decoder_start_token_id\": 0, \"pad_token_id\": 0}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "collate --dataset '%s' --batch-size 3 --shuffle --seed 42 "
             "--model '%s/model' --padding-side left --pad-to-multiple-of 8 --json", ds, dir);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    /* the library's collator over the Trainer's epoch-0 order */
    char split[4096];
    snprintf(split, sizeof split, "%s/train", ds);
    mlm_dataset *d = NULL;
    ck_assert_int_eq(mlm_dataset_open(split, &d), MLM_OK);
    size_t order[10];
    ck_assert_int_eq(mlm_dataset_epoch_order(10, 42, 0, order), MLM_OK);
    mlm_collator *c = NULL;
    ck_assert_int_eq(mlm_collator_new_seq2seq(NULL, "{\"pad_token_id\": 1, \"padding_side\": "
                                              "\"left\", \"pad_to_multiple_of\": 8, \"model\": "
                                              "{\"decoder_start_token_id\": 0, "
                                              "\"pad_token_id\": 0}}", &c), MLM_OK);
    cJSON *want = cJSON_CreateArray();
    for (size_t r0 = 0; r0 < 10; r0 += 3) {
        mlm_batch *b = NULL;
        ck_assert_int_eq(mlm_collator_collate(c, d, order + r0, r0 + 3 <= 10 ? 3 : 1, 0, &b),
                         MLM_OK);
        size_t need;
        mlm_batch_to_json(b, NULL, 0, &need);
        char *json = malloc(need);
        mlm_batch_to_json(b, json, need, &need);
        cJSON_AddItemToArray(want, cJSON_Parse(json));
        ck_assert_ptr_nonnull(mlm_batch_decoder_input_ids(b));
        free(json);
        mlm_batch_free(b);
    }
    check_lines(out, want, "--shuffle --model --padding-side left");
    cJSON_Delete(want);
    mlm_collator_free(c);
    mlm_dataset_free(d);
    free(out);
    test_rmtree(dir);
    free(dir);
    free(ds);
}
END_TEST

START_TEST(cli_seq2seq_errors)
{
    char *dir = test_tmpdir(), tok[4096], args[16384];
    REQUIRE_TEST_DATA(tpath, "tokenizers/t5-small", tok);
    write_records(dir);
    static const struct {
        const char *args;
        int exit;
        const char *needle;
    } cases[] = {
        /* the grouping options are not the seq2seq form's, and the reverse */
        {"dataset --tokenizer '%1$s' --train-file '%2$s/train.json' --summary-column summary "
         "--block-size 64 --out '%2$s/x'", 2, "usage"},
        {"dataset --tokenizer '%1$s' --train-file '%2$s/train.json' --source-prefix p "
         "--out '%2$s/x'", 2, "usage"},
        {"dataset --tokenizer '%1$s' --train-file '%2$s/train.json' --summary-column nope "
         "--out '%2$s/x'", 1, "nope"},
        {"dataset --tokenizer '%1$s' --train-file '%2$s/train.json' --summary-column summary "
         "--pad-token '<nope>' --out '%2$s/x'", 1, "<nope>"},
        {"dataset --tokenizer '%1$s' --train-file '%2$s/train.json' --summary-column summary "
         "--max-target-length 0 --out '%2$s/x'", 2, "usage"},
        {"collate --dataset '%2$s/ds' --pad-token '</s>'", 2, "usage"},
        {"collate --dataset '%2$s/ds' --padding most", 2, "usage"},
        {"collate --dataset '%2$s/ds' --mlm-probability 0.2", 2, "only for masked-LM"},
        {"collate --dataset '%2$s/ds' --model '%2$s/none'", 1, "config.json"},
        {"collate --dataset '%2$s/ds' --padding max_length --max-length 8", 1, "row "},
        {"collate --dataset '%2$s/ds' --padding do_not_pad", 1, "one length"},
    };
    snprintf(args, sizeof args,
             "dataset --tokenizer '%s' --train-file '%s/train.json' --summary-column summary "
             "--out '%s/ds'", tpath, dir, dir);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, cases[i].args, tpath, dir);
        out = run_mlm(args, &status);
        ck_assert_msg(status == cases[i].exit, "%s: exit %d, want %d: %s", args, status,
                      cases[i].exit, out);
        ck_assert_msg(strcasestr(out, cases[i].needle) != NULL, "%s: no '%s' in %s", args,
                      cases[i].needle, out);
        free(out);
    }
    /* the help names the new options */
    out = run_mlm("help dataset", &status);
    ck_assert_msg(strstr(out, "--summary-column") != NULL, "%s", out);
    free(out);
    out = run_mlm("help collate", &status);
    ck_assert_msg(strstr(out, "--model DIR") != NULL && strstr(out, "--shuffle"), "%s", out);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *cli_seq2seq_suite(void)
{
    Suite *s = suite_create("cli_seq2seq");
    TCase *tc = tcase_create("cli_seq2seq");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cli_seq2seq_seed_batches);
    tcase_add_test(tc, cli_seq2seq_model_shuffle);
    tcase_add_test(tc, cli_seq2seq_errors);
    suite_add_tcase(s, tc);
    return s;
}
