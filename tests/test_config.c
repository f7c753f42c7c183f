/* io/config: HF defaults, the five model types, real hub files (byte-exact
 * round trip), every error, allocation faults. */
#include "suites.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/config.h"

static void parse_ok(const char *json, model_config *c)
{
    mlm_status s = config_parse(json, strlen(json), "config.json", c);
    ck_assert_msg(s == MLM_OK, "%s: %s", json, mlm_last_error());
}

static void parse_bad(const char *json, mlm_status want, const char *needle)
{
    model_config c;
    mlm_status s = config_parse(json, strlen(json), "config.json", &c);
    ck_assert_msg(s == want, "%s: status %d, want %d (%s)", json, s, want, mlm_last_error());
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "config.json"));
    ck_assert_msg(strstr(mlm_last_error(), needle), "'%s' not in: %s", needle, mlm_last_error());
    ck_assert_ptr_null(c.architectures);
    ck_assert_ptr_null(c.extra_keys);
}

START_TEST(defaults_follow_hf)
{
    model_config c;
    config_init(&c, MODEL_BERT);
    ck_assert_int_eq(c.vocab_size, 30522);
    ck_assert_int_eq(c.hidden_size, 768);
    ck_assert_int_eq(c.num_hidden_layers, 12);
    ck_assert_int_eq(c.num_attention_heads, 12);
    ck_assert_int_eq(c.intermediate_size, 3072);
    ck_assert_int_eq(c.max_position_embeddings, 512);
    ck_assert_int_eq(c.type_vocab_size, 2);
    ck_assert_double_eq(c.layer_norm_eps, 1e-12);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert_int_eq(c.bos_token_id, -1);
    ck_assert_int_eq(c.eos_token_id, -1);
    ck_assert_int_eq(c.hidden_act, ACT_GELU);
    ck_assert_double_eq(c.hidden_dropout_prob, 0.1);
    ck_assert_double_eq(c.attention_probs_dropout_prob, 0.1);
    ck_assert_double_eq(c.initializer_range, 0.02);
    ck_assert(c.tie_word_embeddings);
    config_init(&c, MODEL_ROBERTA);
    ck_assert_int_eq(c.vocab_size, 50265);
    ck_assert_int_eq(c.pad_token_id, 1);
    ck_assert_int_eq(c.bos_token_id, 0);
    ck_assert_int_eq(c.eos_token_id, 2);
    config_init(&c, MODEL_XLM_ROBERTA);
    ck_assert_int_eq(c.vocab_size, 30522);
    ck_assert_int_eq(c.pad_token_id, 1);
    config_init(&c, MODEL_DISTILBERT);
    ck_assert_int_eq(c.num_hidden_layers, 6);
    ck_assert_int_eq(c.type_vocab_size, 0);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert_int_eq(config_validate(&c, "x"), MLM_OK);
    config_free(&c);
}
END_TEST

START_TEST(each_model_type)
{
    static const char *const types[] = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert"};
    for (size_t i = 0; i < 5; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"model_type\": \"%s\"}", types[i]);
        model_config c;
        parse_ok(json, &c);
        ck_assert_int_eq(c.type, (model_type)i);
        ck_assert_str_eq(model_type_name(c.type), types[i]);
        config_free(&c);
    }
    model_config c;
    parse_ok("{\"model_type\": \"distilbert\", \"dim\": 64, \"n_layers\": 3, \"n_heads\": 4, "
             "\"hidden_dim\": 37, \"activation\": \"gelu_new\", \"dropout\": 0.25, "
             "\"attention_dropout\": 0, \"vocab_size\": 99, \"sinusoidal_pos_embds\": false, "
             "\"qa_dropout\": 0.1, \"layer_norm_eps\": 0.5}",
             &c);
    ck_assert_int_eq(c.hidden_size, 64);
    ck_assert_int_eq(c.num_hidden_layers, 3);
    ck_assert_int_eq(c.num_attention_heads, 4);
    ck_assert_int_eq(c.intermediate_size, 37);
    ck_assert_int_eq(c.hidden_act, ACT_GELU_NEW);
    ck_assert_double_eq(c.hidden_dropout_prob, 0.25);
    ck_assert_double_eq(c.attention_probs_dropout_prob, 0.0);
    ck_assert_double_eq(c.layer_norm_eps, 1e-12); /* DistilBERT ignores it */
    ck_assert_int_eq(c.type_vocab_size, 0);
    config_free(&c);
    /* cJSON keeps numbers as doubles: 64.0 reads as the integer 64 (Python
     * would hold a float there); 64.5 is refused (errors_name_the_key). */
    parse_ok("{\"model_type\": \"bert\", \"hidden_size\": 64.0, \"num_attention_heads\": 4}", &c);
    ck_assert_int_eq(c.hidden_size, 64);
    config_free(&c);
    /* attribute_map aliases win over DistilBERT's own names, as in HF. */
    parse_ok("{\"model_type\": \"distilbert\", \"dim\": 64, \"hidden_size\": 128, \"n_heads\": 4}", &c);
    ck_assert_int_eq(c.hidden_size, 128);
    config_free(&c);
    parse_ok("{\"model_type\": \"roberta\", \"pad_token_id\": null, \"tie_word_embeddings\": false, "
             "\"hidden_act\": \"relu\", \"architectures\": [\"RobertaForMaskedLM\", \"로버타\"]}",
             &c);
    ck_assert_int_eq(c.pad_token_id, -1);
    ck_assert(!c.tie_word_embeddings);
    ck_assert_int_eq(c.hidden_act, ACT_RELU);
    ck_assert_uint_eq(c.n_architectures, 2);
    ck_assert_str_eq(c.architectures[1], "로버타");
    config_free(&c);
}
END_TEST

static void real_file_round_trip(const char *path)
{
    model_config c;
    ck_assert_msg(config_load(path, &c) == MLM_OK, "%s", mlm_last_error());
    size_t flen, len;
    char *file = test_read_file(path, &flen);
    char *text;
    ck_assert_int_eq(config_to_json(&c, &text, &len), MLM_OK);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_str_eq(text, file);
    mem_free(text);
    free(file);
    config_free(&c);
}

START_TEST(real_bert_base_uncased)
{
    char buf[1024];
    REQUIRE_TEST_DATA(path, "tokenizers/bert-base-uncased/config.json", buf);
    model_config c;
    ck_assert_int_eq(config_load(path, &c), MLM_OK);
    ck_assert_int_eq(c.type, MODEL_BERT);
    ck_assert_int_eq(c.vocab_size, 30522);
    ck_assert_int_eq(c.hidden_size, 768);
    ck_assert_uint_eq(c.n_architectures, 1);
    ck_assert_str_eq(c.architectures[0], "BertForMaskedLM");
    ck_assert_uint_eq(c.n_extra, 3); /* gradient_checkpointing, transformers_version, use_cache */
    config_free(&c);
    real_file_round_trip(path);
}
END_TEST

START_TEST(real_tiny_random_bert)
{
    char buf[1024];
    REQUIRE_TEST_DATA(path, "models/tiny-random-bert-caikit/config.json", buf);
    model_config c;
    ck_assert_int_eq(config_load(path, &c), MLM_OK);
    ck_assert_int_eq(c.hidden_size, 32);
    ck_assert_int_eq(c.num_hidden_layers, 5);
    ck_assert_int_eq(c.num_attention_heads, 4);
    ck_assert_int_eq(c.intermediate_size, 37);
    ck_assert_int_eq(c.type_vocab_size, 16);
    ck_assert_int_eq(c.vocab_size, 1124);
    config_free(&c);
    real_file_round_trip(path);
}
END_TEST

START_TEST(write_matches_hf_layout)
{
    model_config c;
    config_init(&c, MODEL_ROBERTA);
    const char *arch[] = {"RobertaForMaskedLM"};
    ck_assert_int_eq(config_set_architectures(&c, arch, 1), MLM_OK);
    c.max_position_embeddings = 514;
    c.layer_norm_eps = 1e-05;
    char *text;
    size_t len;
    ck_assert_int_eq(config_to_json(&c, &text, &len), MLM_OK);
    ck_assert_str_eq(text, "{\n"
                           "  \"architectures\": [\n"
                           "    \"RobertaForMaskedLM\"\n"
                           "  ],\n"
                           "  \"attention_probs_dropout_prob\": 0.1,\n"
                           "  \"bos_token_id\": 0,\n"
                           "  \"eos_token_id\": 2,\n"
                           "  \"hidden_act\": \"gelu\",\n"
                           "  \"hidden_dropout_prob\": 0.1,\n"
                           "  \"hidden_size\": 768,\n"
                           "  \"initializer_range\": 0.02,\n"
                           "  \"intermediate_size\": 3072,\n"
                           "  \"layer_norm_eps\": 1e-05,\n"
                           "  \"max_position_embeddings\": 514,\n"
                           "  \"model_type\": \"roberta\",\n"
                           "  \"num_attention_heads\": 12,\n"
                           "  \"num_hidden_layers\": 12,\n"
                           "  \"pad_token_id\": 1,\n"
                           "  \"position_embedding_type\": \"absolute\",\n"
                           "  \"type_vocab_size\": 2,\n"
                           "  \"vocab_size\": 50265\n"
                           "}\n");
    mem_free(text);
    config_free(&c);

    config_init(&c, MODEL_DISTILBERT);
    c.tie_word_embeddings = false;
    ck_assert_int_eq(config_to_json(&c, &text, &len), MLM_OK);
    ck_assert_str_eq(text, "{\n"
                           "  \"activation\": \"gelu\",\n"
                           "  \"attention_dropout\": 0.1,\n"
                           "  \"dim\": 768,\n"
                           "  \"dropout\": 0.1,\n"
                           "  \"hidden_dim\": 3072,\n"
                           "  \"initializer_range\": 0.02,\n"
                           "  \"max_position_embeddings\": 512,\n"
                           "  \"model_type\": \"distilbert\",\n"
                           "  \"n_heads\": 12,\n"
                           "  \"n_layers\": 6,\n"
                           "  \"pad_token_id\": 0,\n"
                           "  \"sinusoidal_pos_embds\": false,\n"
                           "  \"tie_word_embeddings\": false,\n"
                           "  \"vocab_size\": 30522\n"
                           "}\n");
    mem_free(text);
    config_free(&c);
}
END_TEST

START_TEST(save_and_load_round_trip)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    model_config c, d;
    parse_ok("{\"model_type\": \"xlm-roberta\", \"vocab_size\": 250002, \"hidden_size\": 48, "
             "\"num_attention_heads\": 6, \"layer_norm_eps\": 1e-5, \"hidden_dropout_prob\": 0.0, "
             "\"설명\": \"한국어 설명\", \"task_specific_params\": {\"fill-mask\": {\"top_k\": 5, "
             "\"scale\": 1.0E2}}, \"id2label\": {\"0\": \"LABEL_0\"}}",
             &c);
    ck_assert_int_eq(config_save(&c, path), MLM_OK);
    ck_assert_int_eq(config_load(path, &d), MLM_OK);
    ck_assert_int_eq(d.type, MODEL_XLM_ROBERTA);
    ck_assert_int_eq(d.vocab_size, 250002);
    ck_assert_int_eq(d.hidden_size, 48);
    ck_assert_double_eq(d.layer_norm_eps, 1e-5);
    ck_assert_double_eq(d.hidden_dropout_prob, 0.0);
    ck_assert_int_eq(d.pad_token_id, 1);
    ck_assert_uint_eq(d.n_extra, 3);
    char *text = test_read_file(path, NULL);
    /* Non-ASCII as \u escapes, as json.dumps writes them. 1.0E2 comes back
     * as 100, where Python would write 100.0: cJSON keeps numbers as doubles
     * and no text, so an integral value is written as an integer (json.h). */
    ck_assert_ptr_nonnull(strstr(text, "\"\\uc124\\uba85\": \"\\ud55c\\uad6d\\uc5b4 \\uc124\\uba85\""));
    ck_assert_ptr_nonnull(strstr(text, "    \"fill-mask\": {\n      \"scale\": 100,\n      \"top_k\": 5\n    }"));
    char *again;
    size_t len;
    ck_assert_int_eq(config_to_json(&d, &again, &len), MLM_OK);
    ck_assert_str_eq(again, text);
    mem_free(again);
    free(text);
    config_free(&c);
    config_free(&d);
    ck_assert_int_eq(config_load("/nonexistent/config.json", &c), MLM_ERR_NOT_FOUND);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Messages name the key; cJSON keeps no byte offsets for values, so only
 * JSON syntax errors give one. */
START_TEST(errors_name_the_key)
{
    parse_bad("{\"hidden_size\": 768}", MLM_ERR_FORMAT, "no 'model_type'");
    parse_bad("{\"model_type\": \"gpt2\"}", MLM_ERR_UNSUPPORTED, "'model_type' is 'gpt2'");
    parse_bad("{\"model_type\": 3}", MLM_ERR_FORMAT, "'model_type' must be a string");
    parse_bad("[]", MLM_ERR_FORMAT, "expected a JSON object");
    parse_bad("{\"model_type\": \"bert\",}", MLM_ERR_FORMAT, "invalid JSON at byte 22");
    parse_bad("{\"model_type\": \"bert\", \"hidden_size\": \"768\"}", MLM_ERR_FORMAT,
              "'hidden_size' must be an integer, found string");
    parse_bad("{\"model_type\": \"bert\", \"hidden_size\": 768.5}", MLM_ERR_FORMAT,
              "'hidden_size' must be an integer, found 768.5");
    parse_bad("{\"model_type\": \"bert\", \"vocab_size\": 99999999999}", MLM_ERR_RANGE,
              "'vocab_size' is 99999999999, outside the int range");
    parse_bad("{\"model_type\": \"bert\", \"hidden_size\": -768}", MLM_ERR_RANGE,
              "'hidden_size' is -768; it must be at least 1");
    parse_bad("{\"model_type\": \"distilbert\", \"dim\": 100}", MLM_ERR_RANGE,
              "'dim' (100) is not a multiple of 'n_heads' (12)");
    parse_bad("{\"model_type\": \"bert\", \"hidden_size\": 100}", MLM_ERR_RANGE,
              "'hidden_size' (100) is not a multiple of 'num_attention_heads' (12)");
    parse_bad("{\"model_type\": \"bert\", \"layer_norm_eps\": 0}", MLM_ERR_RANGE,
              "'layer_norm_eps' is 0; it must be positive");
    parse_bad("{\"model_type\": \"bert\", \"layer_norm_eps\": 1e999}", MLM_ERR_RANGE,
              "'layer_norm_eps' is not finite");
    parse_bad("{\"model_type\": \"bert\", \"hidden_dropout_prob\": 1}", MLM_ERR_RANGE,
              "'hidden_dropout_prob' is 1; a dropout probability must be in [0, 1)");
    parse_bad("{\"model_type\": \"distilbert\", \"attention_dropout\": -0.1}", MLM_ERR_RANGE,
              "'attention_dropout' is -0.1");
    parse_bad("{\"model_type\": \"bert\", \"attention_probs_dropout_prob\": \"0.1\"}", MLM_ERR_FORMAT,
              "'attention_probs_dropout_prob' must be a number, found string");
    parse_bad("{\"model_type\": \"bert\", \"hidden_act\": \"gelu_magic\"}", MLM_ERR_UNSUPPORTED,
              "'hidden_act': unknown activation 'gelu_magic'");
    parse_bad("{\"model_type\": \"distilbert\", \"activation\": 1}", MLM_ERR_FORMAT,
              "'activation' must be an activation name");
    parse_bad("{\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\"}",
              MLM_ERR_UNSUPPORTED, "'position_embedding_type' is 'relative_key'");
    parse_bad("{\"model_type\": \"distilbert\", \"sinusoidal_pos_embds\": true}", MLM_ERR_UNSUPPORTED,
              "'sinusoidal_pos_embds' is true");
    parse_bad("{\"model_type\": \"bert\", \"is_decoder\": true}", MLM_ERR_UNSUPPORTED,
              "'is_decoder' is true");
    parse_bad("{\"model_type\": \"bert\", \"pad_token_id\": 30522}", MLM_ERR_RANGE,
              "'pad_token_id' is 30522, outside the vocabulary [0, 30522)");
    parse_bad("{\"model_type\": \"bert\", \"eos_token_id\": -2}", MLM_ERR_RANGE, "'eos_token_id' is -2");
    parse_bad("{\"model_type\": \"bert\", \"bos_token_id\": \"x\"}", MLM_ERR_FORMAT,
              "'bos_token_id' must be an integer or null");
    parse_bad("{\"model_type\": \"bert\", \"tie_word_embeddings\": 1}", MLM_ERR_FORMAT,
              "'tie_word_embeddings' must be true or false");
    parse_bad("{\"model_type\": \"bert\", \"type_vocab_size\": 0}", MLM_ERR_RANGE,
              "'type_vocab_size' is 0");
    parse_bad("{\"model_type\": \"bert\", \"architectures\": \"Bert\"}", MLM_ERR_FORMAT,
              "'architectures' must be an array of strings");
    parse_bad("{\"model_type\": \"bert\", \"architectures\": [\"A\", 3], \"use_cache\": true}",
              MLM_ERR_FORMAT, "'architectures' must be an array of strings, found number");
    parse_bad("{\"model_type\": \"bert\", \"a\": 1, \"a\": 2}", MLM_ERR_FORMAT,
              "duplicate key 'a' in the top-level object");
    parse_bad("{\"model_type\": \"bert\", \"vocab_size\": 9007199254740993}", MLM_ERR_RANGE,
              "'vocab_size' is 9007199254740992.0, outside the int range");
    parse_bad("{\"model_type\": \"bert\", \"x\": \"a\\u0000\"}", MLM_ERR_UNSUPPORTED, "holds U+0000");
    model_config c;
    config_init(&c, MODEL_BERT);
    c.num_attention_heads = 0;
    char *text;
    size_t len;
    ck_assert_int_eq(config_to_json(&c, &text, &len), MLM_ERR_RANGE);
    ck_assert_int_eq(config_save(&c, "/tmp/never-written.json"), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "/tmp/never-written.json"));
}
END_TEST

/* cJSON's own allocations (malloc) are out of mem_fail_after's reach; the
 * faults land on ours: the kept keys and values, architectures, output. */
START_TEST(config_out_of_memory)
{
    const char *json = "{\"model_type\": \"bert\", \"architectures\": [\"BertForMaskedLM\", \"X\"], "
                       "\"use_cache\": true, \"id2label\": {\"0\": \"a\", \"1\": \"b\"}, "
                       "\"hidden_size\": 64, \"num_attention_heads\": 2}";
    for (long n = 0, ok = 0; !ok; n++) {
        model_config c;
        char *text = NULL;
        size_t len;
        mem_fail_after(n);
        mlm_status s = config_parse(json, strlen(json), "config.json", &c);
        if (s == MLM_OK) {
            s = config_to_json(&c, &text, &len);
            config_free(&c);
        }
        mem_fail_after(-1);
        mem_free(text);
        ok = s == MLM_OK;
        if (!ok)
            ck_assert_msg(s == MLM_ERR_OUT_OF_MEMORY, "n=%ld: %s", n, mlm_last_error());
    }
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults_follow_hf);
    tcase_add_test(tc, each_model_type);
    tcase_add_test(tc, real_bert_base_uncased);
    tcase_add_test(tc, real_tiny_random_bert);
    tcase_add_test(tc, write_matches_hf_layout);
    tcase_add_test(tc, save_and_load_round_trip);
    tcase_add_test(tc, errors_name_the_key);
    tcase_add_test(tc, config_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
