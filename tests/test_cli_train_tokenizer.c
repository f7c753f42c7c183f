/* `mlm train-tokenizer` (suite cli_train_tokenizer): WordPiece on KorSTS's
 * Korean sentences (a TSV column) and byte-level BPE on WikiText-2 + KorSTS
 * lines. Each result is (a) what the library's trainer gives for the same
 * settings through the API, byte for byte (the command adds nothing of its
 * own), (b) a save_pretrained folder (tokenizer_config.json with the class
 * and the special tokens) that mlm_tokenizer_load reads, and (c) loaded by
 * HF tokenizers, which encodes tests/data/tokenizer_parity's texts (Korean
 * among them) exactly as libmlm does. T5's conventions (--special-tokens
 * '<pad>,</s>,<unk>' --template-single '$A </s>') likewise. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

#define WIKI "corpora/wikitext-2-raw/wiki.valid.raw"
#define KORSTS "corpora/korsts/sts-train.tsv"

static char *run_mlm(const char *args, int *status)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s/%s' %s 2>&1", test_root(), MLM_BIN, args);
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    return out;
}

static char *read_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *data = test_read_file(path, &len);
    ck_assert_msg(data != NULL, "%s is missing", path);
    return data;
}

/* dir/tokenizer_config.json and special_tokens_map.json name these tokens
 * by role. */
static void check_config(const char *dir, const char *mask, const char *cls, const char *pad)
{
    char *text = read_in(dir, "tokenizer_config.json");
    cJSON *c = cJSON_Parse(text);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(cJSON_GetObjectItem(c, "tokenizer_class")->valuestring,
                     "PreTrainedTokenizerFast");
    ck_assert_str_eq(cJSON_GetObjectItem(c, "mask_token")->valuestring, mask);
    ck_assert_str_eq(cJSON_GetObjectItem(c, "pad_token")->valuestring, pad);
    cJSON_Delete(c);
    free(text);
    text = read_in(dir, "special_tokens_map.json");
    c = cJSON_Parse(text);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(cJSON_GetObjectItem(c, "cls_token")->valuestring, cls);
    cJSON_Delete(c);
    free(text);
}

/* The folder loads in libmlm with `vocab` ids, and HF encodes as libmlm. */
static mlm_tokenizer *check_loads(const char *dir, int32_t vocab, const char *name)
{
    mlm_tokenizer *tok = NULL;
    ck_assert_msg(mlm_tokenizer_load(dir, &tok) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), vocab);
    char json[4096], out[4096];
    snprintf(json, sizeof json, "%s/tokenizer.json", dir);
    snprintf(out, sizeof out, "%s/hf.jsonl", dir);
    if (test_hf_encode(json, out))
        ck_assert_int_eq(tokenizer_golden_check(tok, out, name), 0);
    return tok;
}

/* The same training through the API, saved beside: its tokenizer.json
 * must equal the command's. */
static void check_same_as_api(const char *dir, mlm_tokenizer_trainer *tr)
{
    mlm_tokenizer *tok = NULL;
    ck_assert_msg(mlm_tokenizer_trainer_finish(tr, &tok) == MLM_OK, "%s", mlm_last_error());
    char path[4096];
    snprintf(path, sizeof path, "%s/api.json", dir);
    ck_assert_int_eq(mlm_tokenizer_save(tok, path), MLM_OK);
    char *ours = read_in(dir, "tokenizer.json"), *api = read_in(dir, "api.json");
    ck_assert_msg(strcmp(ours, api) == 0, "mlm train-tokenizer and the API trained differently");
    free(ours);
    free(api);
    mlm_tokenizer_free(tok);
    mlm_tokenizer_trainer_free(tr);
}

START_TEST(wordpiece_on_a_korean_column)
{
    char kbuf[4096], args[16384];
    REQUIRE_TEST_DATA(korsts, KORSTS, kbuf);
    char *tmp = test_tmpdir(), dir[4096];
    snprintf(dir, sizeof dir, "%s/wp", tmp);
    snprintf(args, sizeof args,
             "train-tokenizer --model wordpiece --vocab_size 3000 --text-column sentence1 "
             "--quoting none --threads 2 '%s' --out '%s'",
             korsts, dir);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_msg(strstr(out, "3000 tokens (WordPiece)") != NULL, "%s", out);
    free(out);
    check_config(dir, "[MASK]", "[CLS]", "[PAD]");

    /* the API over the same rows */
    mlm_tokenizer_trainer *tr = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tr), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "vocab_size", "3000"), MLM_OK);
    mlm_dataset *ds = NULL;
    ck_assert_int_eq(mlm_dataset_load(korsts, "{\"quoting\": \"none\"}", &ds), MLM_OK);
    ck_assert_uint_ge(mlm_dataset_num_rows(ds), 3000);
    for (size_t r = 0; r < mlm_dataset_num_rows(ds); r++) {
        const char *s;
        size_t len;
        ck_assert_int_eq(mlm_dataset_get_string(ds, "sentence1", r, &s, &len), MLM_OK);
        ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, s, len), MLM_OK);
    }
    mlm_dataset_free(ds);
    check_same_as_api(dir, tr);

    mlm_tokenizer *tok = check_loads(dir, 3000, "mlm train-tokenizer wordpiece (in HF)");
    /* BERT's pipeline: [CLS] ... [SEP], Korean in jamo pieces, nothing unknown */
    const char *text = "비행기가 이륙하고 있다.";
    mlm_encoding *enc = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(tok, text, strlen(text), NULL, 0, 1, &enc), MLM_OK);
    size_t n = mlm_encoding_length(enc);
    const int32_t *ids = mlm_encoding_ids(enc);
    ck_assert_int_eq(ids[0], mlm_tokenizer_special_id(tok, MLM_TOKEN_CLS));
    ck_assert_int_eq(ids[n - 1], mlm_tokenizer_special_id(tok, MLM_TOKEN_SEP));
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], mlm_tokenizer_special_id(tok, MLM_TOKEN_UNK));
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

START_TEST(bpe_on_text_files)
{
    char wbuf[4096], kbuf[4096], args[16384];
    REQUIRE_TEST_DATA(wiki, WIKI, wbuf);
    REQUIRE_TEST_DATA(korsts, KORSTS, kbuf);
    char *tmp = test_tmpdir(), dir[4096];
    snprintf(dir, sizeof dir, "%s/bpe", tmp);
    snprintf(args, sizeof args,
             "train-tokenizer --model bpe --vocab-size 2500 --min-frequency 3 "
             "--special-tokens '<s>,<pad>,</s>,<unk>,<mask>,<extra>' '%s' '%s' --out '%s'",
             wiki, korsts, dir);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    ck_assert_msg(strstr(out, "2500 tokens (byte-level BPE) from 2 files") != NULL, "%s", out);
    free(out);
    check_config(dir, "<mask>", "<s>", "<pad>");

    mlm_tokenizer_trainer *tr = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_BYTE_BPE, &tr), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "vocab_size", "2500"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "min_frequency", "3"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "special_tokens",
                                               "[\"<s>\", \"<pad>\", \"</s>\", \"<unk>\", "
                                               "\"<mask>\", \"<extra>\"]"),
                     MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tr, wiki), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tr, korsts), MLM_OK);
    check_same_as_api(dir, tr);

    mlm_tokenizer *tok = check_loads(dir, 2500, "mlm train-tokenizer bpe (in HF)");
    ck_assert_int_eq(mlm_tokenizer_token_to_id(tok, "<extra>"), 5);
    /* byte-level: Korean comes back whole */
    const char *text = "한국어 문장을 토큰으로 나눈다.";
    mlm_encoding *enc = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(tok, text, strlen(text), NULL, 0, 0, &enc), MLM_OK);
    char back[256];
    size_t need;
    ck_assert_int_eq(mlm_tokenizer_decode(tok, mlm_encoding_ids(enc), mlm_encoding_length(enc), 1,
                                          0, back, sizeof back, &need),
                     MLM_OK);
    ck_assert_str_eq(back, text);
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* T5's conventions from the command line: <pad> 0, </s> 1, <unk> 2 and a
 * final </s> on every sequence, as the API trains it. */
START_TEST(bpe_with_t5_conventions)
{
    char kbuf[4096], args[16384];
    REQUIRE_TEST_DATA(korsts, KORSTS, kbuf);
    char *tmp = test_tmpdir(), dir[4096];
    snprintf(dir, sizeof dir, "%s/t5", tmp);
    snprintf(args, sizeof args,
             "train-tokenizer --model bpe --vocab-size 1200 --special-tokens '<pad>,</s>,<unk>' "
             "--template-single '$A </s>' --template-pair '$A </s> $B </s>' '%s' --out '%s'",
             korsts, dir);
    int status;
    char *out = run_mlm(args, &status);
    ck_assert_msg(status == 0, "%s", out);
    free(out);
    mlm_tokenizer_trainer *tr = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_BYTE_BPE, &tr), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "vocab_size", "1200"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "special_tokens",
                                               "[\"<pad>\", \"</s>\", \"<unk>\"]"),
                     MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_single", "$A </s>"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_pair", "$A </s> $B </s>"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tr, korsts), MLM_OK);
    check_same_as_api(dir, tr);
    mlm_tokenizer *tok = check_loads(dir, 1200, "mlm train-tokenizer t5 conventions (in HF)");
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD), 0);
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_EOS), 1);
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_UNK), 2);
    const char *text = "한 남자가 피자에 치즈를 뿌려놓고 있다.";
    mlm_encoding *enc = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(tok, text, strlen(text), NULL, 0, 1, &enc), MLM_OK);
    ck_assert_int_eq(mlm_encoding_ids(enc)[mlm_encoding_length(enc) - 1], 1);
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    /* a template HF cannot build is a usage error naming the flag; a
     * special token missing from the vocabulary a runtime error naming it */
    snprintf(args, sizeof args,
             "train-tokenizer --model bpe --vocab-size 300 --template-pair '$A </s>' '%s' "
             "--out '%s/bad'",
             korsts, tmp);
    out = run_mlm(args, &status);
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(out, "--template-pair") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args,
             "train-tokenizer --model bpe --vocab-size 300 --template-single '$A <eos>' '%s' "
             "--out '%s/bad'",
             korsts, tmp);
    out = run_mlm(args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "<eos>") != NULL, "%s", out);
    free(out);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

START_TEST(train_tokenizer_errors)
{
    char wbuf[4096], args[16384];
    REQUIRE_TEST_DATA(wiki, WIKI, wbuf);
    static const char *const usage[] = {
        "--vocab-size 100 '%s' --out /tmp/x",                          /* no --model */
        "--model unigram --vocab-size 100 '%s' --out /tmp/x",
        "--model bpe '%s' --out /tmp/x",                               /* no --vocab-size */
        "--model bpe --vocab-size 100 --out /tmp/x",                   /* no file */
        "--model bpe --vocab-size lots '%s' --out /tmp/x",
        "--model bpe --vocab-size 100 --lowercase true '%s' --out /tmp/x", /* WordPiece's */
        "--model bpe --vocab-size 100 --quoting none '%s' --out /tmp/x", /* needs a column */
    };
    int status;
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char rest[8192];
        snprintf(rest, sizeof rest, usage[i], wiki);
        snprintf(args, sizeof args, "train-tokenizer %s", rest);
        char *out = run_mlm(args, &status);
        ck_assert_msg(status == 2, "'%s' exited %d: %s", args, status, out);
        free(out);
    }
    /* runtime errors name what failed */
    char *out = run_mlm("train-tokenizer --model bpe --vocab-size 300 /nonexistent/a.txt "
                        "--out /tmp/x", &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "/nonexistent/a.txt") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args,
             "train-tokenizer --model bpe --vocab-size 300 --text-column nope '%s' --out /tmp/x",
             wiki);
    out = run_mlm(args, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(out, "nope") != NULL, "%s", out);
    free(out);
}
END_TEST

Suite *cli_train_tokenizer_suite(void)
{
    Suite *s = suite_create("cli_train_tokenizer");
    TCase *tc = tcase_create("train-tokenizer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wordpiece_on_a_korean_column);
    tcase_add_test(tc, bpe_on_text_files);
    tcase_add_test(tc, bpe_with_t5_conventions);
    tcase_add_test(tc, train_tokenizer_errors);
    suite_add_tcase(s, tc);
    return s;
}
