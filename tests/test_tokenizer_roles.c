/* Special-token roles as transformers assigns them (suite tokenizer_roles):
 * each tokenizer class's defaults, explicit keys of tokenizer_config.json
 * and special_tokens_map.json winning (null meaning none), config.json's
 * model_type, the guess for a bare tokenizer.json, and the case of issue
 * #11: a GPT-2-style tokenizer.json whose only added token is
 * <|endoftext|> has no pad and no mask token even though "<pad>" and
 * "<mask>" are ordinary entries of its vocabulary, so the collator refuses
 * to mask (as DataCollatorForLanguageModeling raises "This tokenizer does
 * not have a mask token which is necessary for masked language modeling")
 * and `mlm dataset` records no pad or mask id. The real tokenizers of
 * tests/data keep the roles transformers gives them.
 *
 * The expected roles are transformers' rules (PreTrainedTokenizerBase.
 * from_pretrained, each class's __init__ defaults), written out here. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

static const char *const ROLE_NAMES[7] = {"unk", "pad", "mask", "cls", "sep", "bos", "eos"};

/* A byte-level BPE tokenizer.json: ids 0.. are `first` (in order), then
 * the 256 byte characters; the tokens of `added` (a subset of first) are
 * special added tokens. */
static char *bpe_json(const char *const *first, size_t nfirst, const char *const *added,
                      size_t nadded)
{
    cJSON *doc = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(doc, "model");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddArrayToObject(model, "merges");
    for (size_t i = 0; i < nfirst; i++)
        cJSON_AddNumberToObject(vocab, first[i], (double)i);
    for (int b = 0; b < 256; b++) {
        char s[8] = {0};
        utf8_put(bytelevel_char((unsigned char)b), s);
        if (!cJSON_GetObjectItemCaseSensitive(vocab, s))
            cJSON_AddNumberToObject(vocab, s, (double)(nfirst + (size_t)b));
    }
    cJSON *arr = cJSON_AddArrayToObject(doc, "added_tokens");
    for (size_t i = 0; i < nadded; i++) {
        cJSON *t = cJSON_CreateObject();
        size_t id = 0;
        while (strcmp(first[id], added[i]))
            id++;
        cJSON_AddNumberToObject(t, "id", (double)id);
        cJSON_AddStringToObject(t, "content", added[i]);
        cJSON_AddBoolToObject(t, "special", 1);
        cJSON_AddItemToArray(arr, t);
    }
    cJSON *pre = cJSON_AddObjectToObject(doc, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON *dec = cJSON_AddObjectToObject(doc, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

/* A fresh directory with tokenizer.json and, when not NULL, the side files. */
static char *tok_dir(const char *tokenizer_json, const char *config, const char *map,
                     const char *model_config)
{
    char *dir = test_tmpdir();
    ck_assert_ptr_nonnull(dir);
    write_file(dir, "tokenizer.json", tokenizer_json);
    if (config)
        write_file(dir, "tokenizer_config.json", config);
    if (map)
        write_file(dir, "special_tokens_map.json", map);
    if (model_config)
        write_file(dir, "config.json", model_config);
    return dir;
}

static mlm_tokenizer *load(const char *dir)
{
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(dir, &tok);
    ck_assert_msg(st == MLM_OK, "%s: %s", dir, mlm_last_error());
    return tok;
}

/* Every role's string is the expected one (NULL: none). */
static void expect_roles(const mlm_tokenizer *tok, const char *const want[7], const char *what)
{
    for (int r = 0; r < 7; r++) {
        const char *got = mlm_tokenizer_special_token(tok, (mlm_special_token)r);
        ck_assert_msg((!got && !want[r]) || (got && want[r] && !strcmp(got, want[r])),
                      "%s: %s_token is '%s', transformers '%s'", what, ROLE_NAMES[r],
                      got ? got : "(none)", want[r] ? want[r] : "(none)");
        if (want[r])
            ck_assert_int_eq(mlm_tokenizer_special_id(tok, (mlm_special_token)r),
                             mlm_tokenizer_token_to_id(tok, want[r]));
        else
            ck_assert_int_eq(mlm_tokenizer_special_id(tok, (mlm_special_token)r), -1);
    }
}

/* Every name a class default uses, all special added tokens. */
static const char *const ALL[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>",
                                  "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>"};
#define N_ALL (sizeof ALL / sizeof ALL[0])

static const struct {
    const char *cls;
    const char *roles[7];
} CLASS_DEFAULTS[] = {
    {"BertTokenizer", {"[UNK]", "[PAD]", "[MASK]", "[CLS]", "[SEP]", NULL, NULL}},
    {"BertTokenizerFast", {"[UNK]", "[PAD]", "[MASK]", "[CLS]", "[SEP]", NULL, NULL}},
    {"DistilBertTokenizer", {"[UNK]", "[PAD]", "[MASK]", "[CLS]", "[SEP]", NULL, NULL}},
    {"RobertaTokenizer", {"<unk>", "<pad>", "<mask>", "<s>", "</s>", "<s>", "</s>"}},
    {"RobertaTokenizerFast", {"<unk>", "<pad>", "<mask>", "<s>", "</s>", "<s>", "</s>"}},
    {"XLMRobertaTokenizer", {"<unk>", "<pad>", "<mask>", "<s>", "</s>", "<s>", "</s>"}},
    {"GPT2Tokenizer", {"<|endoftext|>", NULL, NULL, NULL, NULL, "<|endoftext|>", "<|endoftext|>"}},
    {"GPT2TokenizerFast",
     {"<|endoftext|>", NULL, NULL, NULL, NULL, "<|endoftext|>", "<|endoftext|>"}},
    {"T5Tokenizer", {"<unk>", "<pad>", NULL, NULL, NULL, NULL, "</s>"}},
    {"T5TokenizerFast", {"<unk>", "<pad>", NULL, NULL, NULL, NULL, "</s>"}},
    {"PreTrainedTokenizerFast", {NULL, NULL, NULL, NULL, NULL, NULL, NULL}},
};

/* tokenizer_class picks the defaults, whatever the vocabulary holds. */
START_TEST(class_defaults)
{
    char *json = bpe_json(ALL, N_ALL, ALL, N_ALL);
    for (size_t i = 0; i < sizeof CLASS_DEFAULTS / sizeof CLASS_DEFAULTS[0]; i++) {
        char config[256];
        snprintf(config, sizeof config, "{\"tokenizer_class\": \"%s\"}", CLASS_DEFAULTS[i].cls);
        char *dir = tok_dir(json, config, NULL, NULL);
        mlm_tokenizer *tok = load(dir);
        expect_roles(tok, CLASS_DEFAULTS[i].roles, CLASS_DEFAULTS[i].cls);
        mlm_tokenizer_free(tok);
        test_rmtree(dir);
        free(dir);
    }
    /* No tokenizer_class: config.json's model_type picks the class. */
    char *dir = tok_dir(json, "{\"model_max_length\": 1024}", NULL, "{\"model_type\": \"gpt2\"}");
    mlm_tokenizer *tok = load(dir);
    expect_roles(tok, CLASS_DEFAULTS[6].roles, "model_type gpt2");
    ck_assert_int_eq(mlm_tokenizer_model_max_length(tok), 1024);
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
    dir = tok_dir(json, NULL, NULL, "{\"model_type\": \"t5\"}");
    tok = load(dir);
    expect_roles(tok, CLASS_DEFAULTS[8].roles, "model_type t5");
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
    free(json);
}
END_TEST

/* Explicit keys win over the defaults: a string, an AddedToken object, null
 * for none; special_tokens_map.json over tokenizer_config.json, unless the
 * latter has added_tokens_decoder (transformers >= 4.34 then reads only it). */
START_TEST(explicit_keys_win)
{
    char *json = bpe_json(ALL, N_ALL, ALL, N_ALL);
    const char *config = "{\"tokenizer_class\": \"BertTokenizer\", \"pad_token\": null, "
                         "\"mask_token\": {\"content\": \"<mask>\", \"lstrip\": true}, "
                         "\"bos_token\": \"<s>\"}";
    char *dir = tok_dir(json, config, NULL, NULL);
    mlm_tokenizer *tok = load(dir);
    static const char *const want1[7] = {"[UNK]", NULL, "<mask>", "[CLS]", "[SEP]", "<s>", NULL};
    expect_roles(tok, want1, "Bert with keys");
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);

    const char *map = "{\"eos_token\": \"</s>\", \"mask_token\": null, \"unk_token\": "
                      "{\"content\": \"<unk>\", \"special\": true}}";
    dir = tok_dir(json, config, map, NULL);
    tok = load(dir);
    static const char *const want2[7] = {"<unk>", NULL, NULL, "[CLS]", "[SEP]", "<s>", "</s>"};
    expect_roles(tok, want2, "special_tokens_map.json over tokenizer_config.json");
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);

    const char *modern = "{\"tokenizer_class\": \"BertTokenizerFast\", \"pad_token\": null, "
                         "\"added_tokens_decoder\": {}}";
    dir = tok_dir(json, modern, map, NULL);
    tok = load(dir);
    static const char *const want3[7] = {"[UNK]", NULL, "[MASK]", "[CLS]", "[SEP]", NULL, NULL};
    expect_roles(tok, want3, "added_tokens_decoder: special_tokens_map.json unread");
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);

    /* A role value of another type is an error naming the file and key. */
    dir = tok_dir(json, "{\"tokenizer_class\": \"BertTokenizer\", \"sep_token\": 102}", NULL,
                  NULL);
    tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_load(dir, &tok), MLM_ERR_FORMAT);
    ck_assert_ptr_null(tok);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "tokenizer_config.json: sep_token"));
    test_rmtree(dir);
    free(dir);
    free(json);
}
END_TEST

/* A bare tokenizer.json (no side files, or a class libmlm does not list):
 * roles guessed from the special added tokens' names only. */
START_TEST(bare_tokenizer_guess)
{
    static const char *const bert_like[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<pad>"};
    char *json = bpe_json(bert_like, 6, bert_like, 5); /* "<pad>" ordinary */
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_load_json(json, strlen(json), &tok), MLM_OK);
    static const char *const want1[7] = {"[UNK]", "[PAD]", "[MASK]", "[CLS]", "[SEP]", NULL, NULL};
    expect_roles(tok, want1, "bare BERT names");
    mlm_tokenizer_free(tok);
    free(json);

    static const char *const t5_like[] = {"<pad>", "</s>", "<unk>"};
    json = bpe_json(t5_like, 3, t5_like, 3);
    ck_assert_int_eq(mlm_tokenizer_load_json(json, strlen(json), &tok), MLM_OK);
    static const char *const want2[7] = {"<unk>", "<pad>", NULL, NULL, NULL, NULL, "</s>"};
    expect_roles(tok, want2, "bare T5 names");
    mlm_tokenizer_free(tok);
    free(json);

    static const char *const gpt2[] = {"<|endoftext|>"};
    json = bpe_json(gpt2, 1, gpt2, 1);
    ck_assert_int_eq(mlm_tokenizer_load_json(json, strlen(json), &tok), MLM_OK);
    expect_roles(tok, CLASS_DEFAULTS[6].roles, "bare GPT-2");
    mlm_tokenizer_free(tok);
    /* An unlisted class keeps the guess; its explicit keys still apply. */
    char *dir = tok_dir(json, "{\"tokenizer_class\": \"SomeOtherTokenizer\", \"pad_token\": "
                              "\"<|endoftext|>\"}", NULL, NULL);
    tok = load(dir);
    static const char *const want3[7] = {"<|endoftext|>", "<|endoftext|>", NULL, NULL, NULL,
                                         "<|endoftext|>", "<|endoftext|>"};
    expect_roles(tok, want3, "unlisted class");
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
    free(json);
}
END_TEST

/* Issue #11: a GPT-2-style tokenizer whose vocabulary holds "<pad>" (1) and
 * "<mask>" (4) as ordinary entries, with a config naming <|endoftext|>
 * eos/bos/unk. transformers: no pad, no mask; the collator refuses MLM. */
static const char *const GPT2_FIRST[] = {"<|endoftext|>", "<pad>", "<s>", "</s>", "<mask>"};
static const char *const GPT2_ADDED[] = {"<|endoftext|>"};

START_TEST(gpt2_style_has_no_pad_or_mask)
{
    static const char *const configs[] = {
        "{\"tokenizer_class\": \"GPT2Tokenizer\", \"bos_token\": \"<|endoftext|>\", "
        "\"eos_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\"}",
        /* the same without a class (PreTrainedTokenizerFast would give none, the
         * guess gives GPT-2's): still no pad and no mask */
        "{\"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|endoftext|>\", "
        "\"unk_token\": \"<|endoftext|>\"}",
        "{\"tokenizer_class\": \"PreTrainedTokenizerFast\", \"bos_token\": \"<|endoftext|>\", "
        "\"eos_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\"}",
    };
    char *json = bpe_json(GPT2_FIRST, 5, GPT2_ADDED, 1);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        char *dir = tok_dir(json, configs[i], NULL, NULL);
        mlm_tokenizer *tok = load(dir);
        expect_roles(tok, CLASS_DEFAULTS[6].roles, configs[i]);
        ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_EOS), 0);
        ck_assert_int_eq(mlm_tokenizer_token_to_id(tok, "<pad>"), 1);
        ck_assert_int_eq(mlm_tokenizer_token_to_id(tok, "<mask>"), 4);
        mlm_collator *c = NULL;
        ck_assert_int_eq(mlm_collator_new(tok, NULL, &c), MLM_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(mlm_last_error(), "no mask token") != NULL, "%s", mlm_last_error());
        /* causal LM needs no mask: eos pads */
        ck_assert_int_eq(mlm_collator_new(tok, "{\"mlm\": false}", &c), MLM_OK);
        ck_assert_int_eq(mlm_collator_pad_token_id(c), 0);
        mlm_collator_free(c);
        mlm_tokenizer_free(tok);
        test_rmtree(dir);
        free(dir);
    }
    free(json);
}
END_TEST

/* The same through `mlm dataset`: its collator ids have no pad_token_id and
 * no mask_token_id (they were 1 and 4), and `mlm collate` refuses to mask. */
START_TEST(cli_dataset_records_no_pad_or_mask)
{
    char *json = bpe_json(GPT2_FIRST, 5, GPT2_ADDED, 1);
    char *dir = tok_dir(json, "{\"tokenizer_class\": \"GPT2Tokenizer\"}", NULL, NULL);
    free(json);
    write_file(dir, "train.txt", "우리 은하와 가장 가까운 은하는 안드로메다 은하이다.\n"
                                 "The quick brown fox jumps over the lazy dog.\n"
                                 "한국어 문장과 English sentence.\n");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s/%s' dataset --tokenizer '%s' --train-file '%s/train.txt' --block-size 8 "
             "--test-size 0.25 --out '%s/out' 2>&1",
             test_root(), MLM_BIN, dir, dir, dir);
    int status;
    char *out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "mlm dataset: %s", out);
    free(out);
    char path[4096];
    snprintf(path, sizeof path, "%s/out/dataset_info.json", dir);
    size_t len;
    char *text = test_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    cJSON *info = cJSON_Parse(text);
    free(text);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(info, "collator");
    ck_assert_ptr_nonnull(ids);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(ids, "pad_token_id"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(ids, "mask_token_id"));
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(ids, "eos_token_id")->valuedouble, 0);
    cJSON_Delete(info);
    snprintf(cmd, sizeof cmd, "'%s/%s' collate --dataset '%s/out' 2>&1", test_root(), MLM_BIN,
             dir);
    out = test_run(cmd, &status);
    ck_assert_msg(status == 1 && strstr(out, "mask"), "mlm collate exited %d: %s", status, out);
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The real tokenizers keep the roles transformers gives them. */
START_TEST(real_tokenizers_unchanged)
{
    static const struct {
        const char *path;
        int32_t ids[7]; /* unk pad mask cls sep bos eos */
    } cases[] = {
        {"tokenizers/bert-base-uncased", {100, 0, 103, 101, 102, -1, -1}},
        {"tokenizers/bert-base-multilingual-cased", {100, 0, 103, 101, 102, -1, -1}},
        {"tokenizers/roberta-base", {3, 1, 50264, 0, 2, 0, 2}},
        {"tokenizers/t5-small", {2, 0, -1, -1, -1, -1, 1}},
        {"models/tiny-random-bert-caikit", {1, 0, 4, 2, 3, -1, -1}},
        {"models/tiny-random-t5-caikit", {2, 0, -1, -1, -1, -1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[4096];
        mlm_tokenizer *tok = load(test_data_path(cases[i].path, buf, sizeof buf));
        for (int r = 0; r < 7; r++)
            ck_assert_msg(mlm_tokenizer_special_id(tok, (mlm_special_token)r) == cases[i].ids[r],
                          "%s: %s_token_id %d, transformers %d", cases[i].path, ROLE_NAMES[r],
                          mlm_tokenizer_special_id(tok, (mlm_special_token)r), cases[i].ids[r]);
        mlm_tokenizer_free(tok);
    }
}
END_TEST

Suite *tokenizer_roles_suite(void)
{
    Suite *s = suite_create("tokenizer_roles");
    TCase *tc = tcase_create("roles");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, class_defaults);
    tcase_add_test(tc, explicit_keys_win);
    tcase_add_test(tc, bare_tokenizer_guess);
    tcase_add_test(tc, gpt2_style_has_no_pad_or_mask);
    tcase_add_test(tc, cli_dataset_records_no_pad_or_mask);
    tcase_add_test(tc, real_tokenizers_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
