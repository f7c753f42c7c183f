/* `mlm tokenize` / `mlm detokenize` (suite cli_tokenize): the JSON output's
 * fields against HF's goldens (tests/data/tokenizer_parity/goldens/), JSONL input
 * with newlines and pairs, --no-special, --max-length (and --max_length),
 * Korean, usage errors (exit 2), runtime errors (exit 1 with a message),
 * and a decode round trip; the output byte for byte the same on 1 and 3
 * threads over WikiText-2 + KorSTS, each JSON line as cJSON prints it, and
 * JSON escapes of control characters, quotes and backslashes as cJSON
 * writes them. Reads the tokenizers in tests/data. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

#define BERT "tokenizers/bert-base-uncased/tokenizer.json"
#define ROBERTA "tokenizers/roberta-base/tokenizer.json"

/* Run `printf '%s' input | mlm args` (input single-quote-free), stderr
 * joined to stdout. */
static char *mlm(const char *input, const char *args, int *status)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "printf '%%s' '%s' | '%s/%s' %s 2>&1", input ? input : "",
             test_root(), MLM_BIN, args);
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Record i of a golden file. */
static cJSON *golden(const char *name, int i)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/tokenizer_parity/goldens/%s.jsonl", test_root(), name);
    size_t len;
    char *data = test_read_file(path, &len);
    ck_assert_ptr_nonnull(data);
    char *line = data;
    for (int k = 0; k <= i; k++) /* skip the header and i records */
        line = strchr(line, '\n') + 1;
    char *nl = strchr(line, '\n');
    cJSON *rec = cJSON_ParseWithLength(line, (size_t)(nl - line));
    free(data);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq((int)cJSON_GetObjectItemCaseSensitive(rec, "i")->valuedouble, i);
    return rec;
}

/* An output array equals the golden one; word_ids' null is the golden -1. */
static void same_ints(const cJSON *got, const cJSON *want, const char *field)
{
    ck_assert_msg(cJSON_IsArray(got), "%s missing", field);
    ck_assert_int_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want));
    for (int k = 0; k < cJSON_GetArraySize(want); k++) {
        const cJSON *g = cJSON_GetArrayItem(got, k), *w = cJSON_GetArrayItem(want, k);
        int gv = cJSON_IsNull(g) ? -1 : (int)g->valuedouble;
        ck_assert_msg(gv == (int)w->valuedouble, "%s[%d]: %d, HF %d", field, k, gv,
                      (int)w->valuedouble);
        if (!strcmp(field, "word_ids") && w->valuedouble < 0)
            ck_assert_msg(cJSON_IsNull(g), "word_ids[%d] should be null", k);
    }
}

static void same_encoding(const char *out, const cJSON *want)
{
    cJSON *o = cJSON_Parse(out);
    ck_assert_msg(o != NULL, "not JSON: %s", out);
    static const char *const fields[] = {"ids", "attention_mask", "special_tokens_mask",
                                         "type_ids", "word_ids"};
    for (size_t f = 0; f < 5; f++)
        same_ints(cJSON_GetObjectItemCaseSensitive(o, fields[f]),
                  cJSON_GetObjectItemCaseSensitive(want, fields[f]), fields[f]);
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(o, "tokens");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(o, "offsets");
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(want, "tokens");
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(want, "offsets");
    ck_assert_int_eq(cJSON_GetArraySize(tokens), cJSON_GetArraySize(wt));
    for (int k = 0; k < cJSON_GetArraySize(wt); k++) {
        ck_assert_str_eq(cJSON_GetArrayItem(tokens, k)->valuestring,
                         cJSON_GetArrayItem(wt, k)->valuestring);
        same_ints(cJSON_GetArrayItem(offsets, k), cJSON_GetArrayItem(wo, k), "offsets");
    }
    cJSON_Delete(o);
}

START_TEST(tokenize_json_matches_goldens)
{
    char sbuf[4096], rbuf[4096], args[8192];
    REQUIRE_TEST_DATA(bert, BERT, sbuf);
    const char *roberta = test_data_path(ROBERTA, rbuf, sizeof rbuf);
    int status;
    /* "Hello, world!": every field, with and without special tokens */
    cJSON *rec = golden("bert-base-uncased", 0);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(rec, "text")->valuestring, "Hello, world!");
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --json", bert);
    char *out = mlm("Hello, world!\n", args, &status);
    ck_assert_int_eq(status, 0);
    same_encoding(out, cJSON_GetObjectItemCaseSensitive(rec, "with_special"));
    free(out);
    snprintf(args, sizeof args, "tokenize --tokenizer='%s' --json --no-special", bert);
    out = mlm("Hello, world!", args, &status); /* no final newline */
    ck_assert_int_eq(status, 0);
    same_encoding(out, cJSON_GetObjectItemCaseSensitive(rec, "without_special"));
    free(out);
    cJSON_Delete(rec);

    /* Korean (record 25): BERT decomposes syllables; RoBERTa's byte pieces */
    rec = golden("bert-base-uncased", 25);
    const char *korean = cJSON_GetObjectItemCaseSensitive(rec, "text")->valuestring;
    ck_assert_ptr_null(strchr(korean, '\''));
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --json", bert);
    out = mlm(korean, args, &status);
    ck_assert_int_eq(status, 0);
    same_encoding(out, cJSON_GetObjectItemCaseSensitive(rec, "with_special"));
    free(out);
    if (roberta) {
        cJSON *rrec = golden("roberta-base", 25);
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' --json --no-special", roberta);
        out = mlm(korean, args, &status);
        ck_assert_int_eq(status, 0);
        same_encoding(out, cJSON_GetObjectItemCaseSensitive(rrec, "without_special"));
        free(out);
        /* plain output: ids line then tokens line */
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' --no-special", roberta);
        out = mlm("Hello world", args, &status);
        ck_assert_int_eq(status, 0);
        ck_assert_str_eq(out, "31414 232\nHello \xc4\xa0world\n");
        free(out);
        cJSON_Delete(rrec);
    }
    cJSON_Delete(rec);
}
END_TEST

START_TEST(tokenize_jsonl_pairs_and_truncation)
{
    char sbuf[4096], args[8192];
    REQUIRE_TEST_DATA(bert, BERT, sbuf);
    int status;
    /* a text holding a newline with a pair, then a bare JSON string */
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --json --input-jsonl", bert);
    char *out = mlm("{\"text\": \"a\\nb\", \"text_pair\": \"c d\"}\n\"x\\ny\"\n", args, &status);
    ck_assert_int_eq(status, 0);
    char *second = strchr(out, '\n');
    ck_assert_ptr_nonnull(second);
    *second++ = '\0';
    cJSON *o = cJSON_Parse(out);
    ck_assert_ptr_nonnull(o);
    static const int ids[] = {101, 1037, 1038, 102, 1039, 1040, 102};
    static const int types[] = {0, 0, 0, 0, 1, 1, 1};
    static const int offs[][2] = {{0, 0}, {0, 1}, {2, 3}, {0, 0}, {0, 1}, {2, 3}, {0, 0}};
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(o, "ids");
    ck_assert_int_eq(cJSON_GetArraySize(jid), 7);
    for (int k = 0; k < 7; k++) {
        ck_assert_int_eq(cJSON_GetArrayItem(jid, k)->valueint, ids[k]);
        ck_assert_int_eq(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "type_ids"), k)->valueint,
            types[k]);
        const cJSON *of = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "offsets"), k);
        ck_assert_int_eq(cJSON_GetArrayItem(of, 0)->valueint, offs[k][0]);
        ck_assert_int_eq(cJSON_GetArrayItem(of, 1)->valueint, offs[k][1]);
    }
    const cJSON *words = cJSON_GetObjectItemCaseSensitive(o, "word_ids");
    ck_assert(cJSON_IsNull(cJSON_GetArrayItem(words, 0)));
    ck_assert_int_eq(cJSON_GetArrayItem(words, 5)->valueint, 1); /* "d": word 1 of the pair */
    cJSON_Delete(o);
    o = cJSON_Parse(second);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "ids")), 4);
    cJSON_Delete(o);
    free(out);

    /* --max-length, spelled with a dash or an underscore */
    for (int spelling = 0; spelling < 2; spelling++) {
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' %s", bert,
                 spelling ? "--max_length=4" : "--max-length 4");
        out = mlm("The quick brown fox jumps\n", args, &status);
        ck_assert_int_eq(status, 0);
        ck_assert_str_eq(out, "101 1996 4248 102\n[CLS] the quick [SEP]\n");
        free(out);
    }
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --no_special", bert);
    out = mlm("Hello", args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(out, "7592\nhello\n");
    free(out);
}
END_TEST

START_TEST(errors_and_exit_codes)
{
    char sbuf[4096], args[8192];
    REQUIRE_TEST_DATA(bert, BERT, sbuf);
    int status;
    static const char *const usage[] = {
        "tokenize",                                      /* no --tokenizer */
        "tokenize --tokenizer",                          /* no value */
        "tokenize --tokenizer x --max-length 0",         /* not positive */
        "tokenize --tokenizer x --max-length ten",
        "tokenize --tokenizer x --bogus",
        "tokenize --tokenizer x --json=1",               /* a flag with a value */
        "tokenize --tokenizer x extra",                  /* a positional */
        "detokenize",
        "detokenize --tokenizer x --max-length 3",
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char *out = mlm("", usage[i], &status);
        ck_assert_msg(status == 2, "'%s' exited %d: %s", usage[i], status, out);
        ck_assert_msg(strstr(out, "usage: mlm") != NULL, "'%s': %s", usage[i], out);
        free(out);
    }
    /* a bad tokenizer path: exit 1, the path named */
    char *out = mlm("hi\n", "tokenize --tokenizer /nonexistent/tok.json", &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "/nonexistent/tok.json") != NULL, "%s", out);
    free(out);
    out = mlm("1 2\n", "detokenize --tokenizer /nonexistent/tok.json", &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "/nonexistent/tok.json") != NULL, "%s", out);
    free(out);
    /* bad input lines */
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input-jsonl", bert);
    out = mlm("\"ok\"\n{not json\n", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "line 2") != NULL, "%s", out);
    free(out);
    out = mlm("{\"text\": 3}\n", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "line 1") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args, "detokenize --tokenizer '%s'", bert);
    out = mlm("101 x 102\n", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "expected token ids") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args, "tokenize --tokenizer '%s'", bert);
    out = mlm("bad \xff byte\n", args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "UTF-8") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(detokenize_round_trip)
{
    char sbuf[4096], rbuf[4096], args[8192];
    REQUIRE_TEST_DATA(bert, BERT, sbuf);
    int status;
    snprintf(args, sizeof args, "detokenize --tokenizer '%s'", bert);
    char *out = mlm("101 7592 1010 2088 999 102\n", args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(out, "[CLS] hello, world! [SEP]\n");
    free(out);
    snprintf(args, sizeof args, "detokenize --tokenizer '%s' --skip-special --json", bert);
    out = mlm("[101, 7592, 1010, 2088, 999, 102]\n101,7592,102\n", args, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(out, "\"hello, world!\"\n\"hello\"\n");
    free(out);
    /* RoBERTa: tokenize then detokenize gives the Korean text back */
    const char *roberta = test_data_path(ROBERTA, rbuf, sizeof rbuf);
    cJSON *rec = golden("roberta-base", 25);
    const char *korean = cJSON_GetObjectItemCaseSensitive(rec, "text")->valuestring;
    snprintf(args, sizeof args, "tokenize --tokenizer '%s' --json", roberta);
    out = mlm(korean, args, &status);
    ck_assert_int_eq(status, 0);
    cJSON *o = cJSON_Parse(out);
    free(out);
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "ids"));
    snprintf(args, sizeof args, "detokenize --tokenizer '%s' --skip-special", roberta);
    out = mlm(ids, args, &status);
    ck_assert_int_eq(status, 0);
    size_t n = strlen(out);
    ck_assert(n > 0 && out[n - 1] == '\n');
    out[n - 1] = '\0';
    ck_assert_str_eq(out, korean);
    free(out);
    free(ids);
    cJSON_Delete(o);
    cJSON_Delete(rec);
}
END_TEST

/* `mlm tokenize args < in > out` in dir; returns out's text. */
static char *tokenize_file(const char *dir, const char *args, const char *in, const char *out,
                           size_t *len)
{
    char cmd[16384], path[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/%s' tokenize %s < '%s' > '%s'", dir, test_root(),
             MLM_BIN, args, in, out);
    int status;
    char *msg = test_run(cmd, &status);
    ck_assert_msg(status == 0, "%s: exit %d: %s", cmd, status, msg ? msg : "");
    free(msg);
    snprintf(path, sizeof path, "%s/%s", dir, out);
    char *text = test_read_file(path, len);
    ck_assert_ptr_nonnull(text);
    return text;
}

/* Batches run on threads and are written in input order: the output does
 * not depend on the thread count (BERT with special tokens as JSON, RoBERTa
 * without them in plain text); each JSON line is what cJSON prints for its
 * own parse (the escapes and numbers of the object tree the tool used to
 * build). The input is WikiText-2 valid (3,760 lines, 1.2 MB: ~20 batches)
 * with KorSTS's 3,000 Korean sentences between its halves, a line of
 * control characters, quotes and a backslash, and a last line with "\r"
 * and no newline. */
START_TEST(tokenize_same_output_on_any_thread_count)
{
    char sbuf[4096], rbuf[4096], wbuf[4096], kbuf[4096], cmd[16384];
    REQUIRE_TEST_DATA(bert, BERT, sbuf);
    REQUIRE_TEST_DATA(roberta, ROBERTA, rbuf);
    REQUIRE_TEST_DATA(wiki, "corpora/wikitext-2-raw/wiki.valid.raw", wbuf);
    REQUIRE_TEST_DATA(korsts, "corpora/korsts/sts-train.tsv", kbuf);
    char *dir = test_tmpdir();
    snprintf(cmd, sizeof cmd,
             "cd '%s' && { head -n 2000 '%s'; cut -f 6 '%s'; tail -n +2001 '%s'; "
             "printf 'tab\\there \\001\\037 \"q\" back\\\\slash\\n'; printf 'last\\r'; } > in.txt",
             dir, wiki, korsts, wiki);
    int status;
    free(test_run(cmd, &status));
    ck_assert_int_eq(status, 0);
    size_t in_len;
    char path[4096];
    snprintf(path, sizeof path, "%s/in.txt", dir);
    char *in = test_read_file(path, &in_len);
    ck_assert_ptr_nonnull(in);
    size_t in_lines = 1; /* the last has no newline */
    for (size_t i = 0; i < in_len; i++)
        in_lines += in[i] == '\n';
    ck_assert_uint_gt(in_lines, 6000);
    ck_assert_ptr_nonnull(strstr(in, "이")); /* Korean is in */
    free(in);

    static const struct {
        int roberta;
        const char *flags;
        int json;
    } runs[] = {{0, "--json", 1}, {1, "--no-special", 0}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        const char *tok = runs[r].roberta ? roberta : bert;
        char args[8192];
        size_t len1, len;
        snprintf(args, sizeof args, "--tokenizer '%s' %s --threads 1", tok, runs[r].flags);
        char *one = tokenize_file(dir, args, "in.txt", "out1", &len1);
        /* 3 threads: ~20 batches in uneven shares, written in order */
        snprintf(args, sizeof args, "--tokenizer '%s' %s --threads 3", tok, runs[r].flags);
        char *many = tokenize_file(dir, args, "in.txt", "outN", &len);
        ck_assert_msg(len == len1 && memcmp(one, many, len) == 0,
                      "%s %s: 3 threads differ from 1", tok, runs[r].flags);
        free(many);
        /* one line of output per line of input (two in plain output) */
        size_t lines = 0;
        for (size_t i = 0; i < len1; i++)
            lines += one[i] == '\n';
        ck_assert_uint_eq(lines, runs[r].json ? in_lines : 2 * in_lines);
        for (char *line = one; runs[r].json && *line;) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            cJSON *o = cJSON_Parse(line);
            ck_assert_msg(o != NULL, "not JSON: %.200s", line);
            char *again = cJSON_PrintUnformatted(o);
            ck_assert_msg(strcmp(again, line) == 0, "not as cJSON prints it:\n%s\n%s", line,
                          again);
            cJSON_free(again);
            cJSON_Delete(o);
            line = nl + 1;
        }
        free(one);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Tokens holding control characters, quotes, backslashes, DEL and Korean
 * (a WordLevel vocabulary, split on whitespace, which these are not), as
 * cJSON escapes them: \u00xx in lowercase hex, \b, \", \\, DEL and
 * UTF-8 as they are. */
START_TEST(tokenize_json_escapes)
{
    char *dir = test_tmpdir();
    char path[4096], cmd[16384];
    snprintf(path, sizeof path, "%s/wordlevel.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, "
          "\"added_tokens\": [], \"normalizer\": null, "
          "\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"post_processor\": null, "
          "\"decoder\": null, \"model\": {\"type\": \"WordLevel\", \"unk_token\": \"[UNK]\", "
          "\"vocab\": {\"[UNK]\": 0, \"a\\u0001b\": 1, \"q\\\"uote\": 2, "
          "\"back\\\\slash\": 3, \"del\\u007f\": 4, \"bs\\b\": 5, "
          "\"한국어\": 6, \"x\\u001fy\": 7}}}",
          f);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "printf 'a\\001b q\"uote back\\\\slash del\\177 bs\\010 "
             "한국어 x\\037y zzz\\n' | "
             "'%s/%s' tokenize --tokenizer '%s' --json 2>&1",
             test_root(), MLM_BIN, path);
    int status;
    char *out = test_run(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(out,
                     "{\"ids\":[1,2,3,4,5,6,7,0],"
                     "\"tokens\":[\"a\\u0001b\",\"q\\\"uote\",\"back\\\\slash\",\"del\x7f\","
                     "\"bs\\b\",\"한국어\",\"x\\u001fy\",\"[UNK]\"],"
                     "\"offsets\":[[0,3],[4,10],[11,21],[22,26],[27,30],[31,34],[35,38],[39,42]],"
                     "\"attention_mask\":[1,1,1,1,1,1,1,1],"
                     "\"special_tokens_mask\":[0,0,0,0,0,0,0,0],"
                     "\"type_ids\":[0,0,0,0,0,0,0,0],\"word_ids\":[0,1,2,3,4,5,6,7]}\n");
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *cli_tokenize_suite(void)
{
    Suite *s = suite_create("cli_tokenize");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tokenize_json_matches_goldens);
    tcase_add_test(tc, tokenize_jsonl_pairs_and_truncation);
    tcase_add_test(tc, errors_and_exit_codes);
    tcase_add_test(tc, detokenize_round_trip);
    tcase_add_test(tc, tokenize_same_output_on_any_thread_count);
    tcase_add_test(tc, tokenize_json_escapes);
    suite_add_tcase(s, tc);
    return s;
}
