/* U+0000 through the mlm tool (suite cli_nul, issue #11): `mlm tokenize
 * --input-jsonl` reads "\u0000" in JSON strings (cJSON's strings end at the
 * NUL, so the tool decodes them with their length) and writes a token that
 * holds it as "\u0000"; `mlm detokenize --json` writes a decoded U+0000 the
 * same way. Expected encodings are HF's, from
 * tests/data/tokenizer_parity/goldens (texts with Korean among them). */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

/* Run `printf '%s' input | mlm args` (input free of single quotes). */
static char *mlm(const char *input, const char *args, int *status)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "printf '%%s' '%s' | '%s/%s' %s 2>&1", input, test_root(), MLM_BIN,
             args);
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Record i of a golden file, checking that its text is `text` (len bytes). */
static cJSON *golden(const char *name, int i, const char *text, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/tokenizer_parity/goldens/%s.jsonl", test_root(),
             name);
    size_t n;
    char *data = test_read_file(path, &n);
    ck_assert_ptr_nonnull(data);
    char *line = data;
    for (int k = 0; k <= i; k++) /* the header and i records */
        line = strchr(line, '\n') + 1;
    cJSON *rec = cJSON_ParseWithLength(line, (size_t)(strchr(line, '\n') - line));
    free(data);
    ck_assert_ptr_nonnull(rec);
    char *t;
    size_t tl;
    ck_assert(test_json_bytes(rec, "text", &t, &tl));
    ck_assert_msg(tl == len && !memcmp(t, text, len), "%s record %d is another text", name, i);
    free(t);
    return rec;
}

/* The tool's JSON line has the golden's ids and offsets. */
static void same_ids_offsets(const char *out, const cJSON *want)
{
    cJSON *o = cJSON_Parse(out);
    ck_assert_msg(o != NULL, "not JSON: %s", out);
    static const char *const fields[] = {"ids", "offsets"};
    for (int f = 0; f < 2; f++) {
        char *g = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, fields[f]));
        char *w = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(want, fields[f]));
        ck_assert_msg(g && w && !strcmp(g, w), "%s: %s, HF %s", fields[f], g, w);
        free(g);
        free(w);
    }
    cJSON_Delete(o);
}

START_TEST(tokenize_reads_and_writes_nul)
{
    char rbuf[4096], tbuf[4096], args[8192];
    const char *roberta = test_data_path("tokenizers/roberta-base/tokenizer.json", rbuf,
                                         sizeof rbuf);
    const char *t5 = test_data_path("tokenizers/t5-small/tokenizer.json", tbuf, sizeof tbuf);
    int status;
    /* "a\0b" (record 73): RoBERTa maps U+0000 to the byte character Ā */
    cJSON *rec = golden("roberta-base", 73, "a\0b", 3);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input-jsonl --json", roberta);
    char *out = mlm("\"a\\u0000b\"\n", args, &status);
    ck_assert_msg(status == 0, "%s", out);
    same_ids_offsets(out, cJSON_GetObjectItemCaseSensitive(rec, "with_special"));
    free(out);
    cJSON_Delete(rec);

    /* A Korean pair with U+0000, U+FFFF and U+10FFFF (record 292), the keys
     * after another member holding brackets and quotes */
    rec = golden("roberta-base", 292, "한국어\0", 10);
    out = mlm("{\"id\": [1, {\"x\": \"]}\\\"\"}], \"text\": \"한국어\\u0000\", "
              "\"text_pair\": \"\\uffff\\udbff\\udfff\"}\n",
              args, &status);
    ck_assert_msg(status == 0, "%s", out);
    same_ids_offsets(out, cJSON_GetObjectItemCaseSensitive(rec, "with_special"));
    free(out);
    cJSON_Delete(rec);

    /* T5 keeps U+0000 as a token: written "\u0000" */
    rec = golden("t5-small", 73, "a\0b", 3);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input-jsonl --json", t5);
    out = mlm("{\"text\": \"a\\u0000b\"}\n", args, &status);
    ck_assert_msg(status == 0, "%s", out);
    same_ids_offsets(out, cJSON_GetObjectItemCaseSensitive(rec, "with_special"));
    ck_assert_msg(strstr(out, "\"tokens\":[\"\xe2\x96\x81\",\"a\",\"\\u0000\",\"b\",\"</s>\"]"),
                  "%s", out);
    free(out);
    cJSON_Delete(rec);
}
END_TEST

START_TEST(detokenize_writes_nul)
{
    char rbuf[4096], args[8192];
    const char *roberta = test_data_path("tokenizers/roberta-base/tokenizer.json", rbuf,
                                         sizeof rbuf);
    int status;
    /* HF's decode of record 73's ids: "<s>a\0b</s>" */
    snprintf(args, sizeof args, "detokenize --tokenizer '%s' --json", roberta);
    char *out = mlm("0 102 50108 428 2\n", args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_str_eq(out, "\"<s>a\\u0000b</s>\"\n");
    free(out);
}
END_TEST

Suite *cli_nul_suite(void)
{
    Suite *s = suite_create("cli_nul");
    TCase *tc = tcase_create("nul");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tokenize_reads_and_writes_nul);
    tcase_add_test(tc, detokenize_writes_nul);
    suite_add_tcase(s, tc);
    return s;
}
