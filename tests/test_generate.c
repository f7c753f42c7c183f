/* generate(): the configuration (names, checks, layering of defaults), the
 * logits processors one by one, sampling's determinism, and the errors.
 * Parity of ids and scores with the PyTorch reference is in
 * test_generate_parity.c. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generation/generation_impl.h"

static const char *const tiny_config =
    "{\"model_type\":\"t5\",\"vocab_size\":97,\"d_model\":16,\"d_kv\":6,\"num_heads\":3,"
    "\"d_ff\":20,\"num_layers\":2,\"num_decoder_layers\":3,"
    "\"relative_attention_num_buckets\":8,\"relative_attention_max_distance\":12,"
    "\"feed_forward_proj\":\"relu\",\"decoder_start_token_id\":0,\"initializer_factor\":0.3}";

static mlm_model *tiny(void)
{
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_new(tiny_config, strlen(tiny_config), 5, &m) == MLM_OK, "%s",
                  mlm_last_error());
    return m;
}

static const int32_t in_ids[2 * 7] = {5, 9, 13, 22, 7, 1, 0, 17, 3, 3, 45, 60, 71, 1};
static const int32_t in_mask[2 * 7] = {1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1};

/* ---------------------------------------------------------------- options */

START_TEST(options_are_checked_by_name)
{
    mlm_model *m = tiny();
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    static const struct {
        const char *name, *value;
        mlm_status st;
        const char *needle;
    } cases[] = {
        {"num_beams", "4", MLM_OK, NULL},
        {"early_stopping", "never", MLM_OK, NULL},
        {"early_stopping", "\"never\"", MLM_OK, NULL},
        {"early_stopping", "true", MLM_OK, NULL},
        {"early_stopping", "maybe", MLM_ERR_INVALID_ARGUMENT,
         "`early_stopping` must be a boolean or 'never', but is 'maybe'"},
        {"early_stopping", "2", MLM_ERR_INVALID_ARGUMENT, "early_stopping"},
        {"num_beams", "0", MLM_ERR_RANGE, "'num_beams' is 0"},
        {"max_new_tokens", "0", MLM_ERR_RANGE, "'max_new_tokens' is 0"},
        {"max_new_tokens", "-3", MLM_ERR_RANGE, "max_new_tokens"},
        {"max_length", "0", MLM_ERR_RANGE, "'max_length' is 0"},
        {"min_length", "-1", MLM_ERR_RANGE, "min_length"},
        {"min_new_tokens", "-1", MLM_ERR_RANGE, "min_new_tokens"},
        {"num_return_sequences", "0", MLM_ERR_RANGE, "num_return_sequences"},
        {"temperature", "-1", MLM_ERR_RANGE, "temperature"},
        {"top_p", "1.5", MLM_ERR_RANGE, "top_p"},
        {"repetition_penalty", "0", MLM_ERR_RANGE, "repetition_penalty"},
        {"length_penalty", "-0.5", MLM_OK, NULL},
        {"num_beams", "2.5", MLM_ERR_INVALID_ARGUMENT, "an integer"},
        {"bad_words_ids", "[[5], [7, 8]]", MLM_OK, NULL},
        {"bad_words_ids", "[[5], []]", MLM_ERR_INVALID_ARGUMENT, "bad_words_ids"},
        {"bad_words_ids", "[5]", MLM_ERR_INVALID_ARGUMENT, "bad_words_ids"},
        {"bad_words_ids", "[[-1]]", MLM_ERR_INVALID_ARGUMENT, "bad_words_ids"},
        {"eos_token_id", "[1, 2]", MLM_OK, NULL},
        {"eos_token_id", "1", MLM_OK, NULL},
        {"forced_eos_token_id", "[1]", MLM_OK, NULL},
        {"seed", "123", MLM_OK, NULL},
        {"use_cache", "false", MLM_OK, NULL},
        {"return_dict_in_generate", "true", MLM_OK, NULL},
        {"num_beam_groups", "1", MLM_OK, NULL},
        {"num_beam_groups", "2", MLM_ERR_UNSUPPORTED, "num_beam_groups"},
        {"typical_p", "0.5", MLM_ERR_UNSUPPORTED, "typical_p"},
        {"diversity_penalty", "0.0", MLM_OK, NULL},
        {"frobnicate", "1", MLM_ERR_INVALID_ARGUMENT, "unknown generation option 'frobnicate'"},
        {"max_length", "{", MLM_ERR_INVALID_ARGUMENT, "not a JSON value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mlm_status st = mlm_generation_config_set(g, cases[i].name, cases[i].value);
        ck_assert_msg(st == cases[i].st, "%s=%s: %d (%s)", cases[i].name, cases[i].value, st,
                      mlm_last_error());
        if (cases[i].needle)
            ck_assert_msg(strstr(mlm_last_error(), cases[i].needle), "%s=%s: %s", cases[i].name,
                          cases[i].value, mlm_last_error());
    }
    const char *json = "{\"num_beams\": 3, \"length_penalty\": 0.6, \"early_stopping\": "
                       "\"never\", \"transformers_version\": \"4.56.0\"}";
    ck_assert_int_eq(mlm_generation_config_set_json(g, json, strlen(json)), MLM_OK);
    size_t need = 0;
    ck_assert_int_eq(mlm_generation_config_to_json(g, NULL, 0, &need), MLM_OK);
    char *buf = malloc(need);
    ck_assert_int_eq(mlm_generation_config_to_json(g, buf, need, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"num_beams\": 3"));
    ck_assert_ptr_nonnull(strstr(buf, "\"early_stopping\": \"never\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"length_penalty\": 0.6"));
    ck_assert_ptr_nonnull(strstr(buf, "\"bad_words_ids\": [[5], [7, 8]]"));
    ck_assert_ptr_nonnull(strstr(buf, "\"eos_token_id\": [1]"));
    free(buf);
    json = "[1, 2]";
    ck_assert_int_eq(mlm_generation_config_set_json(g, json, strlen(json)),
                     MLM_ERR_INVALID_ARGUMENT);
    mlm_generation_config *c = NULL;
    ck_assert_int_eq(mlm_generation_config_copy(g, &c), MLM_OK);
    mlm_generation_config_free(g);
    mlm_generation_config_free(c);
    mlm_model_free(m);
}
END_TEST

/* Defaults: generation_config.json over GenerationConfig(); without it,
 * config.json's generation keys. An untouched max_length of 20 means 20 new
 * tokens; set by the caller, 20 tokens with the start token. */
START_TEST(defaults_and_lengths_as_transformers)
{
    mlm_model *m = tiny();
    char *dir = test_tmpdir();
    ck_assert_int_eq(mlm_model_save(m, dir), MLM_OK);
    mlm_model_free(m);
    char path[1024];
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    const char *gen = "{\"decoder_start_token_id\": 0, \"eos_token_id\": null, "
                      "\"pad_token_id\": 0, \"num_beams\": 2, \"_from_model_config\": true, "
                      "\"some_future_option\": 3}";
    FILE *f = fopen(path, "w");
    fputs(gen, f);
    fclose(f);
    ck_assert_int_eq(mlm_model_load(dir, &m), MLM_OK);
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    ck_assert_int_eq(g->num_beams, 2);
    ck_assert_int_eq(g->eos.n, -1);
    mlm_generation *r = NULL;
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_OK);
    ck_assert_int_eq((int)mlm_generation_sequence_length(r), 21); /* 20 new tokens */
    ck_assert_ptr_null(mlm_generation_sequences_scores(r));      /* not asked */
    mlm_generation_free(r);
    ck_assert_int_eq(mlm_generation_config_set(g, "max_length", "20"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_OK);
    ck_assert_int_eq((int)mlm_generation_sequence_length(r), 20);
    mlm_generation_free(r);
    ck_assert_int_eq(mlm_generation_config_set(g, "max_new_tokens", "5"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "output_scores", "true"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_OK);
    ck_assert_int_eq((int)mlm_generation_sequence_length(r), 6); /* max_new_tokens wins */
    ck_assert_ptr_nonnull(mlm_generation_sequences_scores(r));
    mlm_generation_free(r);
    mlm_generation_config_free(g);
    mlm_model_free(m);
    /* no generation_config.json: config.json's keys (from_model_config) */
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = test_read_file(path, NULL);
    cJSON *doc = cJSON_Parse(text);
    cJSON_ReplaceItemInObject(doc, "pad_token_id", cJSON_CreateNull());
    cJSON_AddNumberToObject(doc, "num_beams", 3);
    cJSON_AddNumberToObject(doc, "max_length", 9);
    char *out = cJSON_Print(doc);
    f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    free(out);
    cJSON_Delete(doc);
    free(text);
    ck_assert_msg(mlm_model_load(dir, &m) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    ck_assert_int_eq(g->num_beams, 3);
    ck_assert_int_eq(g->max_length, 9);
    ck_assert_int_eq(g->pad, -1); /* None: generate() will use eos[0] */
    ck_assert_int_eq(mlm_generate(m, NULL, 1, in_ids, in_mask, 2, 7, &r), MLM_OK);
    ck_assert_int_le((int)mlm_generation_sequence_length(r), 9);
    ck_assert_int_eq((int)mlm_generation_n_warnings(r), 1); /* pad <- eos */
    ck_assert_ptr_nonnull(strstr(mlm_generation_warning(r, 0), "Setting `pad_token_id`"));
    mlm_generation_free(r);
    mlm_generation_config_free(g);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(generate_errors_are_clear)
{
    mlm_model *m = tiny();
    mlm_generation_config *g = NULL;
    mlm_generation *r = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_beams", "2"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_return_sequences", "3"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "`num_return_sequences` (3) has to be "
                                                   "smaller or equal to `num_beams` (2)"));
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_beams", "1"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "Greedy methods without beam search"));
    ck_assert_int_eq(mlm_generation_config_set(g, "num_return_sequences", "1"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "max_length", "1"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "`max_length` is set to 1"));
    ck_assert_int_eq(mlm_generation_config_set(g, "max_length", "5"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "decoder_start_token_id", "null"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "`decoder_start_token_id` or `bos_token_id`"));
    ck_assert_int_eq(mlm_generation_config_set(g, "bos_token_id", "3"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_OK); /* bos starts */
    ck_assert_int_eq(mlm_generation_sequences(r)[0], 3);
    mlm_generation_free(r);
    ck_assert_int_eq(mlm_generation_config_set(g, "bad_words_ids", "[[97]]"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "bad_words_ids"));
    ck_assert_int_eq(mlm_generation_config_set(g, "bad_words_ids", "null"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "do_sample", "true"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "temperature", "0"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &r), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "`temperature`"));
    int32_t bad[2] = {5, 200};
    ck_assert_int_eq(mlm_generate(m, NULL, 1, bad, NULL, 1, 2, &r), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_generate(m, NULL, 0, in_ids, NULL, 1, 2, &r), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_generate(m, NULL, 1, in_ids, NULL, 0, 2, &r), MLM_ERR_INVALID_ARGUMENT);
    mlm_generation_config_free(g);
    mlm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- processors */

/* A plan over a configuration set from JSON, for V = 10. */
static void plan_for(const char *json, mlm_generation_config *g, gen_plan *p)
{
    gen_config_reset(g);
    cJSON *doc = cJSON_Parse(json);
    ck_assert_ptr_nonnull(doc);
    ck_assert_msg(gen_config_apply_object(g, doc, 1, "") == MLM_OK, "%s", mlm_last_error());
    cJSON_Delete(doc);
    gen_warnings w = {0};
    ck_assert_msg(gen_plan_make(g, 10, p, &w) == MLM_OK, "%s", mlm_last_error());
    gen_warnings_free(&w);
}

static void expect_row(const float *got, const float *want, int V, const char *what)
{
    for (int i = 0; i < V; i++)
        ck_assert_msg(got[i] == want[i] || (isinf(got[i]) && isinf(want[i]) && got[i] == want[i]),
                      "%s: [%d] = %g, want %g", what, i, got[i], want[i]);
}

START_TEST(processors_as_transformers)
{
    mlm_generation_config g;
    gen_plan p;
    float s[10], scratch[20];
    const float base[10] = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f, 2.0f, 0.0f, -3.0f, 1.5f, -0.5f};
    const float NI = -INFINITY;

    /* repetition_penalty: tokens of the sequence once each, s < 0 ? s·p : s/p */
    plan_for("{\"repetition_penalty\": 2.0, \"decoder_start_token_id\": 0}", &g, &p);
    int32_t seq1[5] = {0, 3, 1, 3, 9};
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq1, 5, s, 10, scratch);
    const float w1[10] = {0.5f, -4.0f, 0.5f, 1.5f, -1.0f, 2.0f, 0.0f, -3.0f, 1.5f, -1.0f};
    expect_row(s, w1, 10, "repetition_penalty");
    gen_config_clear(&g);

    /* no_repeat_ngram_size 2: after "... 4 7 ... 4", 7 is banned */
    plan_for("{\"no_repeat_ngram_size\": 2, \"decoder_start_token_id\": 0}", &g, &p);
    int32_t seq2[6] = {0, 4, 7, 4, 8, 4};
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq2, 6, s, 10, scratch);
    float w2[10];
    memcpy(w2, base, sizeof w2);
    w2[7] = w2[8] = NI;
    expect_row(s, w2, 10, "no_repeat_ngram_size");
    memcpy(s, base, sizeof s); /* too short for a 3-gram: nothing */
    gen_config_clear(&g);
    plan_for("{\"no_repeat_ngram_size\": 3, \"decoder_start_token_id\": 0}", &g, &p);
    gen_process_row(&p, seq2, 1, s, 10, scratch);
    expect_row(s, base, 10, "no_repeat_ngram_size short");
    gen_config_clear(&g);

    /* bad_words_ids: [2] always, [5, 6] after 5, [1] dropped (eos) */
    plan_for("{\"bad_words_ids\": [[2], [5, 6], [1]], \"eos_token_id\": 1, "
             "\"decoder_start_token_id\": 0}", &g, &p);
    int32_t seq3[3] = {0, 4, 5};
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq3, 3, s, 10, scratch);
    float w3[10];
    memcpy(w3, base, sizeof w3);
    w3[2] = w3[6] = NI;
    expect_row(s, w3, 10, "bad_words_ids");
    gen_config_clear(&g);

    /* min_length 4: eos −inf while the sequence has < 4 tokens (start included) */
    plan_for("{\"min_length\": 4, \"eos_token_id\": [1, 9], \"decoder_start_token_id\": 0}", &g,
             &p);
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq3, 3, s, 10, scratch);
    float w4[10];
    memcpy(w4, base, sizeof w4);
    w4[1] = w4[9] = NI;
    expect_row(s, w4, 10, "min_length");
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq1, 4, s, 10, scratch);
    expect_row(s, base, 10, "min_length reached");
    gen_config_clear(&g);

    /* min_new_tokens 2: at length 2 (one generated) eos is −inf */
    plan_for("{\"min_new_tokens\": 2, \"eos_token_id\": 1, \"decoder_start_token_id\": 0}", &g,
             &p);
    ck_assert_int_eq(p.min_length, 3);
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq1, 2, s, 10, scratch);
    float w5[10];
    memcpy(w5, base, sizeof w5);
    w5[1] = NI;
    expect_row(s, w5, 10, "min_new_tokens");
    gen_config_clear(&g);

    /* forced_eos_token_id at max_length − 1; forced_bos at length 1 */
    plan_for("{\"forced_eos_token_id\": 1, \"forced_bos_token_id\": 4, \"max_length\": 5, "
             "\"decoder_start_token_id\": 0}", &g, &p);
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq1, 4, s, 10, scratch);
    const float w6[10] = {NI, 0.0f, NI, NI, NI, NI, NI, NI, NI, NI};
    expect_row(s, w6, 10, "forced_eos_token_id");
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq1, 1, s, 10, scratch);
    const float w7[10] = {NI, NI, NI, NI, 0.0f, NI, NI, NI, NI, NI};
    expect_row(s, w7, 10, "forced_bos_token_id");
    gen_config_clear(&g);

    /* sampling warpers: temperature 2, top_k 3 (ties at the 3rd kept), then top_p */
    plan_for("{\"do_sample\": true, \"temperature\": 2.0, \"top_k\": 3, "
             "\"decoder_start_token_id\": 0}", &g, &p);
    const float tied[10] = {1.0f, 3.0f, 2.0f, 2.0f, 0.0f, -1.0f, 2.0f, 0.5f, 0.0f, 0.0f};
    memcpy(s, tied, sizeof s);
    gen_process_row(&p, seq1, 1, s, 10, scratch);
    const float w8[10] = {NI, 1.5f, 1.0f, 1.0f, NI, NI, 1.0f, NI, NI, NI};
    expect_row(s, w8, 10, "temperature + top_k");
    gen_config_clear(&g);
    /* top_p 0.5 over softmax(base): 3.0 (p ≈ 0.49) and 2.0 (p ≈ 0.18) survive:
     * the ascending cumulative sum of the others stays <= 0.5 */
    plan_for("{\"do_sample\": true, \"top_k\": 0, \"top_p\": 0.5, "
             "\"decoder_start_token_id\": 0}", &g, &p);
    memcpy(s, base, sizeof s);
    gen_process_row(&p, seq1, 1, s, 10, scratch);
    double e[10], tot = 0;
    for (int i = 0; i < 10; i++)
        tot += e[i] = exp(base[i]);
    for (int i = 0; i < 10; i++) {
        double above = 0; /* probability of the scores not above base[i] */
        for (int k = 0; k < 10; k++)
            above += base[k] <= base[i] ? e[k] / tot : 0;
        int removed = above <= 0.5;
        ck_assert_msg(removed ? isinf(s[i]) : s[i] == base[i], "top_p [%d]", i);
    }
    gen_config_clear(&g);
}
END_TEST

/* ---------------------------------------------------------------- sampling */

START_TEST(sampling_is_deterministic_for_a_seed)
{
    mlm_model *m = tiny();
    mlm_generation_config *g = NULL;
    ck_assert_int_eq(mlm_generation_config_new(m, &g), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "do_sample", "true"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "max_new_tokens", "10"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_return_sequences", "3"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "eos_token_id", "null"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "top_k", "0"), MLM_OK);
    mlm_generation *a = NULL, *b = NULL, *c = NULL;
    ck_assert_int_eq(mlm_generation_config_set(g, "seed", "7"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &a), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 2, in_ids, in_mask, 2, 7, &b), MLM_OK);
    ck_assert_int_eq((int)mlm_generation_num_sequences(a), 6);
    size_t n = mlm_generation_num_sequences(a) * mlm_generation_sequence_length(a);
    ck_assert_int_eq(memcmp(mlm_generation_sequences(a), mlm_generation_sequences(b),
                            n * sizeof(int32_t)),
                     0);
    ck_assert_int_eq(mlm_generation_config_set(g, "seed", "8"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &c), MLM_OK);
    ck_assert_int_ne(memcmp(mlm_generation_sequences(a), mlm_generation_sequences(c),
                            n * sizeof(int32_t)),
                     0);
    /* the 3 samples of an input differ from each other (random model, 97 ids) */
    const int32_t *s = mlm_generation_sequences(a);
    size_t L = mlm_generation_sequence_length(a);
    ck_assert_int_ne(memcmp(s, s + L, L * sizeof *s), 0);
    mlm_generation_free(a);
    mlm_generation_free(b);
    mlm_generation_free(c);
    /* top_k 1 leaves one token: sampling is greedy search */
    ck_assert_int_eq(mlm_generation_config_set(g, "top_k", "1"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_return_sequences", "1"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &a), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "do_sample", "false"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &b), MLM_OK);
    n = mlm_generation_num_sequences(a) * mlm_generation_sequence_length(a);
    ck_assert_int_eq(memcmp(mlm_generation_sequences(a), mlm_generation_sequences(b),
                            n * sizeof(int32_t)),
                     0);
    mlm_generation_free(a);
    mlm_generation_free(b);
    /* beam sampling runs and returns num_return_sequences per input, in score order */
    ck_assert_int_eq(mlm_generation_config_set(g, "do_sample", "true"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "top_k", "50"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_beams", "3"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "num_return_sequences", "2"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "output_scores", "true"), MLM_OK);
    ck_assert_int_eq(mlm_generation_config_set(g, "eos_token_id", "1"), MLM_OK);
    ck_assert_int_eq(mlm_generate(m, g, 1, in_ids, in_mask, 2, 7, &a), MLM_OK);
    ck_assert_int_eq((int)mlm_generation_num_sequences(a), 4);
    const float *sc = mlm_generation_sequences_scores(a);
    ck_assert(sc[0] >= sc[1] && sc[2] >= sc[3]);
    mlm_generation_free(a);
    mlm_generation_config_free(g);
    mlm_model_free(m);
}
END_TEST

Suite *generate_suite(void)
{
    Suite *s = suite_create("generate");
    TCase *tc = tcase_create("generate");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, options_are_checked_by_name);
    tcase_add_test(tc, defaults_and_lengths_as_transformers);
    tcase_add_test(tc, generate_errors_are_clear);
    tcase_add_test(tc, processors_as_transformers);
    tcase_add_test(tc, sampling_is_deterministic_for_a_seed);
    suite_add_tcase(s, tc);
    return s;
}
