/* Seq2seq data: the seed's (and run_summarization.py's) preprocessing and
 * DataCollatorForSeq2Seq, against two references:
 *   tests/data/goldens/seq2seq/tokenized.json: token ids from HF tokenizers
 *     (the Node binding, tests/reference/seq2seq_tokenize.js) with
 *     t5-small's tokenizer.json, for English, Korean (mostly <unk> in T5's
 *     vocabulary), mixed, long (truncated) and empty texts;
 *   tests/data/goldens/seq2seq/batches.json: DataCollatorForSeq2Seq (and
 *     tokenizer.pad, T5's _shift_right) in Python/torch
 *     (tests/reference/seq2seq_collator.py) over those ids: pad = eos (the
 *     seed), model given or not, pad_to_multiple_of 8, padding max_length,
 *     left padding, no padding, label_pad_token_id 0, and the batches HF
 *     cannot make.
 * Everything is integers: equality, no tolerance. The C side tokenizes the
 * records itself and collates its own dataset, so each case checks the
 * whole chain. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "data/dataset_impl.h"
#include "train/trainer_impl.h"

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
    ck_assert_msg(doc != NULL, "%s: not JSON", name);
    return doc;
}

static mlm_tokenizer *t5_tokenizer(void)
{
    char buf[4096];
    REQUIRE_TEST_DATA(path, "tokenizers/t5-small", buf);
    mlm_tokenizer *tok = NULL;
    ck_assert_msg(mlm_tokenizer_load(path, &tok) == MLM_OK, "%s", mlm_last_error());
    return tok;
}

/* Dataset.from_list(records) */
static mlm_dataset *records_dataset(const cJSON *records)
{
    char *json = cJSON_PrintUnformatted(records);
    mlm_dataset *ds = NULL;
    ck_assert_msg(mlm_dataset_from_json(json, strlen(json), &ds) == MLM_OK, "%s",
                  mlm_last_error());
    cJSON_free(json);
    return ds;
}

/* The tokenize options of one case of tokenized.json. */
static char *tokenize_options(const cJSON *c, int attention_mask, int hf_eos_compat)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "target_column", "summary");
    cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "source_prefix");
    if (cJSON_IsString(p))
        cJSON_AddStringToObject(o, "source_prefix", p->valuestring);
    cJSON_AddNumberToObject(o, "max_length",
                            cJSON_GetObjectItemCaseSensitive(c, "max_source_length")->valuedouble);
    cJSON_AddNumberToObject(o, "max_target_length",
                            cJSON_GetObjectItemCaseSensitive(c, "max_target_length")->valuedouble);
    cJSON_AddItemToObject(o, "padding",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "padding"), 1));
    cJSON_AddBoolToObject(o, "skip_empty",
                          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "skip_empty")));
    cJSON_AddBoolToObject(o, "return_attention_mask", attention_mask);
    cJSON_AddBoolToObject(o, "hf_eos_compat", hf_eos_compat);
    cJSON_AddStringToObject(o, "remove_columns", "all");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Tokenize ds as case `c` of tokenized.json (pad = the case's pad token). */
static mlm_dataset *tokenize_case(const mlm_dataset *ds, const cJSON *c, int attention_mask,
                                  int hf_eos_compat, mlm_tokenizer *tok)
{
    cJSON *pad = cJSON_GetObjectItemCaseSensitive(c, "pad_token");
    if (cJSON_IsString(pad))
        ck_assert_int_eq(mlm_tokenizer_set_special(tok, MLM_TOKEN_PAD, pad->valuestring),
                         MLM_OK);
    char *opts = tokenize_options(c, attention_mask, hf_eos_compat);
    mlm_dataset *out = NULL;
    mlm_status st = mlm_dataset_tokenize(ds, tok, "article", opts, &out);
    ck_assert_msg(st == MLM_OK, "%s: %s", opts, mlm_last_error());
    free(opts);
    return out;
}

/* Column `col` of ds equals the golden's list of rows. */
static void check_column(const mlm_dataset *ds, const char *col, const cJSON *want,
                         const char *what)
{
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), (size_t)cJSON_GetArraySize(want));
    size_t r = 0;
    for (const cJSON *row = want->child; row; row = row->next, r++) {
        const int32_t *d;
        size_t len;
        ck_assert_msg(mlm_dataset_get_sequence(ds, col, r, &d, &len) == MLM_OK, "%s: %s", what,
                      mlm_last_error());
        ck_assert_msg(len == (size_t)cJSON_GetArraySize(row), "%s: row %zu: %s has %zu ids, "
                      "HF %d", what, r, col, len, cJSON_GetArraySize(row));
        size_t j = 0;
        for (const cJSON *v = row->child; v; v = v->next, j++)
            ck_assert_msg(d[j] == v->valueint, "%s: row %zu: %s[%zu] = %d, HF %d", what, r, col,
                          j, (int)d[j], v->valueint);
    }
}

START_TEST(tokenize_matches_hf)
{
    cJSON *doc = load_golden("tokenized.json");
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(doc, "records");
    mlm_dataset *ds = records_dataset(records);
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cases")->child; c; c = c->next) {
        for (int compat = 0; compat < 2; compat++) {
            const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
                c, compat ? "labels_hf_eos_compat" : "labels");
            if (!labels)
                continue;
            mlm_tokenizer *tok = t5_tokenizer();
            mlm_dataset *t = tokenize_case(ds, c, 1, compat, tok);
            ck_assert_uint_eq(mlm_dataset_num_columns(t), 3);
            check_column(t, "input_ids", cJSON_GetObjectItemCaseSensitive(c, "input_ids"),
                         c->string);
            check_column(t, "attention_mask",
                         cJSON_GetObjectItemCaseSensitive(c, "attention_mask"), c->string);
            check_column(t, "labels", labels, c->string);
            mlm_dataset_free(t);
            /* the seed's preprocess_function returns no attention_mask */
            t = tokenize_case(ds, c, 0, compat, tok);
            ck_assert_uint_eq(mlm_dataset_num_columns(t), 2);
            mlm_column_type type;
            ck_assert_int_eq(mlm_dataset_column_type(t, "attention_mask", &type),
                             MLM_ERR_NOT_FOUND);
            check_column(t, "labels", labels, c->string);
            mlm_dataset_free(t);
            mlm_tokenizer_free(tok);
        }
    }
    mlm_dataset_free(ds);
    cJSON_Delete(doc);
}
END_TEST

/* The same records from JSON Lines and CSV files give the same ids. */
START_TEST(tokenize_from_files)
{
    cJSON *doc = load_golden("tokenized.json");
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(doc, "records");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "cases"), "seed");
    char *dir = test_tmpdir(), jl[4096], csv[4096];
    snprintf(jl, sizeof jl, "%s/train.jsonl", dir);
    snprintf(csv, sizeof csv, "%s/train.csv", dir);
    FILE *fj = fopen(jl, "w"), *fc = fopen(csv, "w");
    ck_assert(fj && fc);
    fputs("article,summary\n", fc);
    for (const cJSON *r = records->child; r; r = r->next) {
        char *line = cJSON_PrintUnformatted(r);
        fprintf(fj, "%s\n", line);
        cJSON_free(line);
        const char *f[2] = {cJSON_GetObjectItemCaseSensitive(r, "article")->valuestring,
                            cJSON_GetObjectItemCaseSensitive(r, "summary")->valuestring};
        for (int k = 0; k < 2; k++) { /* RFC 4180: quoted, "" for " */
            fputc('"', fc);
            for (const char *p = f[k]; *p; p++)
                fputs(*p == '"' ? "\"\"" : (char[]){*p, 0}, fc);
            fputs(k ? "\"\n" : "\",", fc);
        }
    }
    fclose(fj);
    fclose(fc);
    const char *paths[2] = {jl, csv};
    for (int k = 0; k < 2; k++) {
        mlm_dataset *ds = NULL;
        ck_assert_msg(mlm_dataset_load(paths[k], NULL, &ds) == MLM_OK, "%s", mlm_last_error());
        mlm_tokenizer *tok = t5_tokenizer();
        mlm_dataset *t = tokenize_case(ds, seed, 1, 0, tok);
        check_column(t, "input_ids", cJSON_GetObjectItemCaseSensitive(seed, "input_ids"),
                     paths[k]);
        check_column(t, "labels", cJSON_GetObjectItemCaseSensitive(seed, "labels"), paths[k]);
        mlm_dataset_free(t);
        mlm_dataset_free(ds);
        mlm_tokenizer_free(tok);
    }
    test_rmtree(dir);
    free(dir);
    cJSON_Delete(doc);
}
END_TEST

/* One [rows × cols] array of a batch against the golden's lists. */
static void check_matrix(const int32_t *m, size_t rows, size_t cols, const cJSON *want,
                         const char *what, const char *key)
{
    ck_assert_msg(m != NULL, "%s: no %s", what, key);
    ck_assert_uint_eq(rows, (size_t)cJSON_GetArraySize(want));
    size_t i = 0;
    for (const cJSON *row = want->child; row; row = row->next, i++) {
        ck_assert_msg(cols == (size_t)cJSON_GetArraySize(row), "%s: %s has %zu columns, HF %d",
                      what, key, cols, cJSON_GetArraySize(row));
        size_t j = 0;
        for (const cJSON *v = row->child; v; v = v->next, j++)
            ck_assert_msg(m[i * cols + j] == v->valueint, "%s: %s[%zu][%zu] = %d, HF %d", what,
                          key, i, j, (int)m[i * cols + j], v->valueint);
    }
}

static void check_batch(const mlm_batch *b, const cJSON *want, const char *what)
{
    size_t rows = mlm_batch_rows(b), L = mlm_batch_seq_len(b), T = mlm_batch_label_len(b);
    check_matrix(mlm_batch_input_ids(b), rows, L,
                 cJSON_GetObjectItemCaseSensitive(want, "input_ids"), what, "input_ids");
    check_matrix(mlm_batch_attention_mask(b), rows, L,
                 cJSON_GetObjectItemCaseSensitive(want, "attention_mask"), what,
                 "attention_mask");
    check_matrix(mlm_batch_labels(b), rows, T, cJSON_GetObjectItemCaseSensitive(want, "labels"),
                 what, "labels");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(want, "decoder_input_ids");
    if (dec)
        check_matrix(mlm_batch_decoder_input_ids(b), rows, T, dec, what, "decoder_input_ids");
    else
        ck_assert_msg(mlm_batch_decoder_input_ids(b) == NULL, "%s: decoder_input_ids without a "
                      "model", what);
    ck_assert_ptr_null(mlm_batch_special_tokens_mask(b));
    /* the JSON form holds the same keys and values */
    size_t need = 0;
    ck_assert_int_eq(mlm_batch_to_json(b, NULL, 0, &need), MLM_OK);
    char *json = malloc(need);
    ck_assert_int_eq(mlm_batch_to_json(b, json, need, &need), MLM_OK);
    cJSON *got = cJSON_Parse(json);
    ck_assert_msg(cJSON_Compare(got, want, 1), "%s: mlm_batch_to_json differs: %.200s", what,
                  json);
    cJSON_Delete(got);
    free(json);
}

START_TEST(collator_matches_hf)
{
    cJSON *tokd = load_golden("tokenized.json"), *doc = load_golden("batches.json");
    mlm_dataset *ds = records_dataset(cJSON_GetObjectItemCaseSensitive(tokd, "records"));
    const cJSON *tcases = cJSON_GetObjectItemCaseSensitive(tokd, "cases");
    int batches = 0, errors = 0;
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cases")->child; c; c = c->next) {
        const char *data = cJSON_GetObjectItemCaseSensitive(c, "data")->valuestring;
        int mask = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "attention_mask"));
        mlm_tokenizer *tok = t5_tokenizer();
        mlm_dataset *t =
            tokenize_case(ds, cJSON_GetObjectItemCaseSensitive(tcases, data), mask, 0, tok);
        /* the reference's argument names are the options' */
        char *opts = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "collator"));
        mlm_collator *col = NULL;
        ck_assert_msg(mlm_collator_new_seq2seq(tok, opts, &col) == MLM_OK, "%s: %s: %s",
                      c->string, opts, mlm_last_error());
        for (const cJSON *b = cJSON_GetObjectItemCaseSensitive(c, "batches")->child; b;
             b = b->next) {
            const cJSON *rj = cJSON_GetObjectItemCaseSensitive(b, "rows");
            size_t rows[64], n = 0;
            for (const cJSON *r = rj->child; r; r = r->next)
                rows[n++] = (size_t)r->valueint;
            mlm_batch *out = NULL;
            mlm_status st = mlm_collator_collate(col, t, rows, n, 0, &out);
            char what[128];
            snprintf(what, sizeof what, "%s batch %d", c->string, batches);
            if (cJSON_GetObjectItemCaseSensitive(b, "error")) {
                ck_assert_msg(st != MLM_OK, "%s: HF fails, libmlm collated", what);
                ck_assert_msg(strstr(mlm_last_error(), "row ") != NULL, "%s: %s", what,
                              mlm_last_error());
                errors++;
                continue;
            }
            ck_assert_msg(st == MLM_OK, "%s: %s", what, mlm_last_error());
            check_batch(out, cJSON_GetObjectItemCaseSensitive(b, "batch"), what);
            mlm_batch_free(out);
            batches++;
        }
        mlm_collator_free(col);
        cJSON_free(opts);
        mlm_dataset_free(t);
        mlm_tokenizer_free(tok);
    }
    ck_assert_int_ge(batches, 30);
    ck_assert_int_eq(errors, 2);
    mlm_dataset_free(ds);
    cJSON_Delete(tokd);
    cJSON_Delete(doc);
}
END_TEST

/* rows of (input_ids, labels) given as JSON */
static mlm_dataset *json_rows(const char *json)
{
    mlm_dataset *ds = NULL;
    ck_assert_msg(mlm_dataset_from_json(json, strlen(json), &ds) == MLM_OK, "%s",
                  mlm_last_error());
    return ds;
}

static void expect_collate_error(const mlm_collator *c, const mlm_dataset *ds, size_t n,
                                 mlm_status want, const char *needle)
{
    size_t rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    mlm_batch *b = NULL;
    mlm_status st = mlm_collator_collate(c, ds, rows, n, 0, &b);
    ck_assert_msg(st == want, "status %d, want %d (%s)", st, want, mlm_last_error());
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(mlm_last_error(), needle) != NULL, "'%s' lacks '%s'", mlm_last_error(),
                  needle);
}

START_TEST(collator_errors)
{
    mlm_tokenizer *tok = t5_tokenizer();
    mlm_collator *c = NULL;
    ck_assert_int_eq(mlm_collator_new_seq2seq(tok, "{\"model\": {\"decoder_start_token_id\": "
                                                   "0, \"pad_token_id\": 0}}", &c), MLM_OK);
    /* a row without labels: a missing key in from_list is an empty list */
    mlm_dataset *ds = json_rows("[{\"input_ids\": [5, 1], \"labels\": [7, 1]},"
                                " {\"input_ids\": [6, 1]}]");
    expect_collate_error(c, ds, 2, MLM_ERR_INVALID_ARGUMENT, "row 1 has no labels");
    mlm_dataset_free(ds);
    /* ids outside the vocabulary (32100) */
    ds = json_rows("[{\"input_ids\": [5, 1], \"labels\": [7, 32100, 1]}]");
    expect_collate_error(c, ds, 1, MLM_ERR_RANGE, "row 0: column 'labels' position 1");
    mlm_dataset_free(ds);
    ds = json_rows("[{\"input_ids\": [5, -3, 1], \"labels\": [-100, 1]}]");
    expect_collate_error(c, ds, 1, MLM_ERR_RANGE, "column 'input_ids' position 1");
    mlm_dataset_free(ds);
    /* attention_mask of another length */
    ds = json_rows("[{\"input_ids\": [5, 1], \"attention_mask\": [1], \"labels\": [1]}]");
    expect_collate_error(c, ds, 1, MLM_ERR_FORMAT, "column 'attention_mask' has 1 values");
    mlm_dataset_free(ds);
    /* labels of another type; no input_ids */
    ds = json_rows("[{\"input_ids\": [5, 1], \"labels\": \"text\"}]");
    expect_collate_error(c, ds, 1, MLM_ERR_INVALID_ARGUMENT, "column 'labels' is string");
    mlm_dataset_free(ds);
    ds = json_rows("[{\"labels\": [5, 1]}]");
    expect_collate_error(c, ds, 1, MLM_ERR_NOT_FOUND, "input_ids");
    mlm_dataset_free(ds);
    /* no labels column at all: a batch without labels, as HF (labels None) */
    ds = json_rows("[{\"input_ids\": [5, 1]}, {\"input_ids\": [4, 6, 1]}]");
    size_t rows[2] = {0, 1};
    mlm_batch *b = NULL;
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 2, 0, &b), MLM_OK);
    ck_assert_ptr_null(mlm_batch_labels(b));
    ck_assert_ptr_null(mlm_batch_decoder_input_ids(b));
    ck_assert_uint_eq(mlm_batch_label_len(b), 0);
    ck_assert_uint_eq(mlm_batch_seq_len(b), 3);
    mlm_batch_free(b);
    mlm_dataset_free(ds);
    mlm_collator_free(c);

    /* options */
    static const struct {
        const char *opts, *needle;
    } bad[] = {
        {"{\"padding\": \"most\"}", "\"padding\""},
        {"{\"pad_to_multiple_of\": -2}", "pad_to_multiple_of"},
        {"{\"model\": {\"pad_token_id\": 0}}", "decoder_start_token_id"},
        {"{\"model\": {\"decoder_start_token_id\": 0}}", "pad_token_id"},
        {"{\"model\": {\"decoder_start_token_id\": 0, \"pad_token_id\": 0, \"x\": 1}}",
         "model.x"},
        {"{\"mlm_probability\": 0.15}", "unknown option \"mlm_probability\""},
        {"{\"pad_token_id\": 40000}", "outside the vocabulary"},
        {"[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = (mlm_collator *)1;
        ck_assert_int_ne(mlm_collator_new_seq2seq(tok, bad[i].opts, &c), MLM_OK);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(mlm_last_error(), bad[i].needle) != NULL, "%s: '%s'", bad[i].opts,
                      mlm_last_error());
    }
    /* no tokenizer: the pad id must be given (unless nothing is padded) */
    ck_assert_int_eq(mlm_collator_new_seq2seq(NULL, NULL, &c), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "pad_token_id"));
    ck_assert_int_eq(mlm_collator_new_seq2seq(NULL, "{\"padding\": false}", &c), MLM_OK);
    mlm_collator_free(c);
    ck_assert_int_eq(mlm_collator_new_seq2seq(NULL, "{\"pad_token_id\": 1}", &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_pad_token_id(c), 1);
    mlm_collator_free(c);
    mlm_tokenizer_free(tok);
}
END_TEST

START_TEST(tokenize_option_errors)
{
    mlm_tokenizer *tok = t5_tokenizer();
    mlm_dataset *ds = json_rows("[{\"article\": \"서울 시의회\", \"summary\": \"예산\", "
                                "\"n\": 3}]"), *out = NULL;
    static const struct {
        const char *opts, *needle;
    } bad[] = {
        {"{\"target_column\": \"nope\"}", "nope"},
        {"{\"target_column\": \"n\"}", "column 'n' is int, not text"},
        {"{\"max_target_length\": 8}", "needs \"target_column\""},
        {"{\"target_column\": \"summary\", \"padding\": \"max_length\", \"max_length\": 8}",
         "max_target_length"},
        {"{\"max_length\": 0}", "\"max_length\""},
        {"{\"target_column\": \"summary\", \"max_target_length\": 1}", "no room"},
        {"{\"target_column\": \"summary\", \"pair_column\": \"summary\"}", "together"},
        {"{\"padding\": \"most\"}", "\"padding\""},
        {"{\"source_prefix\": 3}", "source_prefix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_ne(mlm_dataset_tokenize(ds, tok, "article", bad[i].opts, &out), MLM_OK);
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(mlm_last_error(), bad[i].needle) != NULL, "%s: '%s'", bad[i].opts,
                      mlm_last_error());
    }
    /* skip_empty drops rows, which needs every input column removed */
    mlm_dataset_free(ds);
    ds = json_rows("[{\"article\": \"a\", \"summary\": \"\"}, {\"article\": \"b c\", "
                   "\"summary\": \"c\"}]");
    ck_assert_int_ne(mlm_dataset_tokenize(ds, tok, "article", "{\"target_column\": \"summary\", "
                                          "\"skip_empty\": true}", &out), MLM_OK);
    ck_assert_int_eq(mlm_dataset_tokenize(ds, tok, "article", "{\"target_column\": \"summary\", "
                                          "\"skip_empty\": true, \"remove_columns\": \"all\"}",
                                          &out), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(out), 1);
    mlm_dataset_free(out);
    /* max_length alone truncates the plain form too, whatever the tokenizer holds */
    ck_assert_int_eq(mlm_tokenizer_set_truncation(tok, 100, 0, MLM_TRUNCATE_LONGEST_FIRST,
                                                  MLM_SIDE_RIGHT), MLM_OK);
    ck_assert_int_eq(mlm_dataset_tokenize(ds, tok, "article", "{\"max_length\": 2, "
                                          "\"source_prefix\": \"summarize: \"}", &out), MLM_OK);
    const int32_t *d;
    size_t len;
    ck_assert_int_eq(mlm_dataset_get_sequence(out, "input_ids", 1, &d, &len), MLM_OK);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(d[0], 21603); /* "▁summarize" */
    ck_assert_int_eq(d[1], 1);
    mlm_dataset_free(out);
    mlm_dataset_free(ds);
    mlm_tokenizer_free(tok);
}
END_TEST

/* mlm_dataset_epoch_order is the Trainer's epoch permutation: the same
 * Fisher-Yates as ds_permutation on the trainer's stream SHUFFLE_STREAM + e
 * (src/train keeps its own copy, epoch_permutation, which draws the same
 * words in the same order). */
START_TEST(epoch_order_is_the_trainers)
{
    size_t order[97], again[97];
    for (uint64_t seed = 0; seed < 20; seed++)
        for (uint64_t e = 0; e < 3; e++) {
            ck_assert_int_eq(mlm_dataset_epoch_order(97, seed, e, order), MLM_OK);
            uint64_t *p = NULL;
            ck_assert_int_eq(ds_permutation(97, seed, SHUFFLE_STREAM + e, &p), MLM_OK);
            int seen[97] = {0};
            for (size_t i = 0; i < 97; i++) {
                ck_assert_uint_eq(order[i], p[i]);
                ck_assert_uint_lt(order[i], 97);
                ck_assert_int_eq(seen[order[i]]++, 0);
            }
            mem_free(p);
            ck_assert_int_eq(mlm_dataset_epoch_order(97, seed, e, again), MLM_OK);
            ck_assert_mem_eq(order, again, sizeof order);
        }
    ck_assert_int_eq(mlm_dataset_epoch_order(97, 42, 1, again), MLM_OK);
    ck_assert_int_eq(mlm_dataset_epoch_order(97, 42, 0, order), MLM_OK);
    ck_assert(memcmp(order, again, sizeof order) != 0);
    ck_assert_int_eq(mlm_dataset_epoch_order(0, 42, 0, NULL), MLM_OK);
    ck_assert_int_eq(mlm_dataset_epoch_order(3, 42, 0, NULL), MLM_ERR_INVALID_ARGUMENT);
}
END_TEST

Suite *seq2seq_data_suite(void)
{
    Suite *s = suite_create("seq2seq_data");
    TCase *tc = tcase_create("seq2seq_data");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tokenize_matches_hf);
    tcase_add_test(tc, tokenize_from_files);
    tcase_add_test(tc, collator_matches_hf);
    tcase_add_test(tc, collator_errors);
    tcase_add_test(tc, tokenize_option_errors);
    tcase_add_test(tc, epoch_order_is_the_trainers);
    suite_add_tcase(s, tc);
    return s;
}
