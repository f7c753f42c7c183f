/* `mlm rouge` (suite cli_rouge): its inputs (two files of lines, JSON Lines,
 * stdin), its outputs (the table, --json in evaluate's shape, --per-pair as
 * TSV and as JSON lines), its errors (usage: exit 2; a bad file: exit 1
 * naming the file and line), and that it prints what the library computes
 * (the library's parity with rouge_score is suite rouge's). */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlm.h"
#include "suites.h"
#include "testutil.h"

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

typedef struct run_out {
    char *out, *err;
    int status;
} run_out;

/* `mlm rouge ARGS` in dir, stdin from `in` (NULL: /dev/null). */
static run_out rouge(const char *dir, const char *args, const char *in)
{
    char cmd[8192], errpath[4096];
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/%s' rouge %s <%s 2>'%s'", dir, test_root(), MLM_BIN,
             args, in ? in : "/dev/null", errpath);
    run_out r;
    r.out = test_run(cmd, &r.status);
    ck_assert_ptr_nonnull(r.out);
    r.err = test_read_file(errpath, NULL);
    ck_assert_ptr_nonnull(r.err);
    return r;
}

static void run_free(run_out *r)
{
    free(r->out);
    free(r->err);
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}
#define WRITE(dir, name, lit) write_file((dir), (name), (lit), sizeof(lit) - 1)

/* rouge_score's testRouge1/2/L figures, two pairs: the means are
 * rouge1 (0.5 + 0.8) / 2, rouge2 (0 + 2/3) / 2, rougeL and rougeLsum as
 * rouge1; in the order evaluate returns them. */
START_TEST(test_lines_json)
{
    char *dir = test_tmpdir();
    WRITE(dir, "p.txt", "testing\ntesting one\n");
    WRITE(dir, "r.txt", "testing one two\r\ntesting one two"); /* CRLF, no last newline */
    run_out r = rouge(dir, "--predictions p.txt --references r.txt --json", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_str_eq(r.out, "{\"rouge1\": 0.65, \"rouge2\": 0.3333333333333333, \"rougeL\": "
                            "0.65, \"rougeLsum\": 0.65}\n");
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    /* the table */
    r = rouge(dir, "--predictions p.txt --references r.txt --threads 2", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "type        precision     recall   fmeasure\n"
                            "rouge1       1.000000   0.500000   0.650000\n"
                            "rouge2       0.500000   0.250000   0.333333\n"
                            "rougeL       1.000000   0.500000   0.650000\n"
                            "rougeLsum    1.000000   0.500000   0.650000\n"
                            "(mean over 2 pairs)\n");
    run_free(&r);
    /* stdin for one side, a choice of types */
    char in[4096];
    snprintf(in, sizeof in, "'%s/p.txt'", dir);
    r = rouge(dir, "--predictions - --references r.txt --rouge-types rouge2,rouge1 --json", in);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "{\"rouge2\": 0.3333333333333333, \"rouge1\": 0.65}\n");
    run_free(&r);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* --input-jsonl: newlines inside texts (rougeLsum's sentences: the union
 * LCS example of rouge_score's testRougeLsum), U+0000, blank lines skipped;
 * --per-pair as JSON lines and as TSV numbered by input line. The numbers
 * are tests/reference/rouge_reference.py's score() of the same pairs (the
 * LCS of the whole texts is w1 w2 w3 w5, so rougeL equals rougeLsum). */
START_TEST(test_jsonl_per_pair)
{
    char *dir = test_tmpdir();
    WRITE(dir, "in.jsonl",
          "{\"prediction\": \"w1 w2 w6 w7 w8\\nw1 w3 w8 w9 w5\", \"reference\": \"w1 w2 w3 w4 w5\"}\n"
          "\n"
          "{\"reference\": \"a\\u0000b\", \"prediction\": \"a b\"}\n");
    run_out r = rouge(dir, "--input-jsonl in.jsonl --rouge-types rougeLsum,rougeL --per-pair "
                           "--json", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_str_eq(r.out,
                     "{\"rougeLsum\": {\"precision\": 0.4, \"recall\": 0.8, \"fmeasure\": "
                     "0.5333333333333333}, \"rougeL\": {\"precision\": 0.4, \"recall\": 0.8, "
                     "\"fmeasure\": 0.5333333333333333}}\n"
                     "{\"rougeLsum\": {\"precision\": 1.0, \"recall\": 1.0, \"fmeasure\": 1.0}, "
                     "\"rougeL\": {\"precision\": 1.0, \"recall\": 1.0, \"fmeasure\": 1.0}}\n");
    run_free(&r);
    r = rouge(dir, "--input-jsonl in.jsonl --rouge-types rougeLsum --per-pair", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "line\ttype\tprecision\trecall\tfmeasure\n"
                            "1\trougeLsum\t0.4\t0.8\t0.5333333333333333\n"
                            "3\trougeLsum\t1\t1\t1\n"
                            "mean\trougeLsum\t0.7\t0.9\t0.7666666666666666\n");
    run_free(&r);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The tool prints the library's numbers: XSum's summaries against their
 * documents (multi-line), as JSON Lines, with the stemmer. */
START_TEST(test_matches_library)
{
    char buf[4096];
    REQUIRE_TEST_DATA(xsum, "corpora/xsum-sample/sample.jsonl", buf);
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_load(xsum, NULL, &ds), MLM_OK);
    size_t n = mlm_dataset_num_rows(ds);
    const char **pred = calloc(n, sizeof *pred), **ref = calloc(n, sizeof *ref);
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/pairs.jsonl", dir);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < n; i++) {
        size_t len;
        ck_assert_int_eq(mlm_dataset_get_string(ds, "summary", i, &pred[i], &len), MLM_OK);
        ck_assert_int_eq(mlm_dataset_get_string(ds, "document", i, &ref[i], &len), MLM_OK);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "prediction", pred[i]);
        cJSON_AddStringToObject(o, "reference", ref[i]);
        char *line = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", line);
        cJSON_free(line);
        cJSON_Delete(o);
    }
    fclose(f);
    mlm_rouge *sc;
    mlm_rouge_result *res;
    ck_assert_int_eq(mlm_rouge_new("{\"use_stemmer\": true}", &sc), MLM_OK);
    ck_assert_int_eq(mlm_rouge_score_batch(sc, pred, NULL, ref, NULL, n, &res), MLM_OK);
    run_out r = rouge(dir, "--input-jsonl pairs.jsonl --use-stemmer --json", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    cJSON *got = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(cJSON_GetArraySize(got), 4);
    for (size_t t = 0; t < 4; t++) {
        const cJSON *v = cJSON_GetObjectItem(got, mlm_rouge_type_name(sc, t));
        ck_assert_ptr_nonnull(v);
        ck_assert(v->valuedouble == mlm_rouge_result_mean(res, t, MLM_ROUGE_FMEASURE));
    }
    /* rougeLsum sees the documents' lines: it differs from rougeL here */
    ck_assert(mlm_rouge_result_mean(res, 2, MLM_ROUGE_FMEASURE) !=
              mlm_rouge_result_mean(res, 3, MLM_ROUGE_FMEASURE));
    cJSON_Delete(got);
    run_free(&r);
    mlm_rouge_result_free(res);
    mlm_rouge_free(sc);
    mlm_dataset_free(ds);
    free(pred);
    free(ref);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_errors)
{
    char *dir = test_tmpdir();
    WRITE(dir, "p.txt", "a\nb\n");
    WRITE(dir, "r.txt", "a\n");
    WRITE(dir, "bad.txt", "ok\nnot \xff utf-8\n");
    WRITE(dir, "bad.jsonl", "{\"prediction\": \"a\", \"reference\": \"b\"}\n[1, 2]\n");
    WRITE(dir, "half.jsonl", "{\"prediction\": \"a\"}\n");
    WRITE(dir, "badutf.jsonl", "\n{\"prediction\": \"a\", \"reference\": \"\xc3\"}\n");
    static const char *const usage[] = {
        "",
        "--predictions p.txt",
        "--input-jsonl x --references r.txt",
        "--predictions - --references -",
        "--predictions p.txt --references p.txt --rouge-types rouge0",
        "--predictions p.txt --references p.txt --threads 0",
        "--predictions p.txt --references p.txt extra",
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        run_out r = rouge(dir, usage[i], NULL);
        ck_assert_msg(r.status == 2, "'%s' exited %d", usage[i], r.status);
        ck_assert_msg(strstr(r.err, "usage: mlm rouge"), "'%s': %s", usage[i], r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
    static const struct {
        const char *args, *says;
    } runtime[] = {
        {"--predictions p.txt --references r.txt", "p.txt has 2 lines and r.txt 1"},
        {"--predictions bad.txt --references p.txt", "bad.txt:2: invalid UTF-8 at byte 4"},
        {"--input-jsonl bad.jsonl", "bad.jsonl:2: expected a JSON object"},
        {"--input-jsonl half.jsonl", "half.jsonl:1: expected a JSON object"},
        {"--input-jsonl badutf.jsonl", "badutf.jsonl:2: reference: invalid UTF-8 at byte 0"},
        {"--input-jsonl missing.jsonl", "missing.jsonl: cannot read"},
    };
    for (size_t i = 0; i < sizeof runtime / sizeof runtime[0]; i++) {
        run_out r = rouge(dir, runtime[i].args, NULL);
        ck_assert_msg(r.status == 1, "'%s' exited %d", runtime[i].args, r.status);
        ck_assert_msg(strstr(r.err, runtime[i].says), "'%s': %s", runtime[i].args, r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
    /* no pairs at all is not an error: means of nothing are 0 */
    WRITE(dir, "empty.txt", "");
    run_out r = rouge(dir, "--predictions empty.txt --references empty.txt --json", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "{\"rouge1\": 0.0, \"rouge2\": 0.0, \"rougeL\": 0.0, "
                            "\"rougeLsum\": 0.0}\n");
    run_free(&r);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *cli_rouge_suite(void)
{
    Suite *s = suite_create("cli_rouge");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lines_json);
    tcase_add_test(tc, test_jsonl_per_pair);
    tcase_add_test(tc, test_matches_library);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}
