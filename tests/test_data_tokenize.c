/* The data layer with real tokenizers (tests/data): the seed's example end
 * to end (from_json → tokenize → group_texts → train_test_split → collate),
 * the collator made from a tokenizer (pad, eos as pad, neither), ELI5 real
 * and dummy data, and the streaming tokenizer (mlm_dataset_tokenize_file)
 * against the in-memory path. */
#include "suites.h"
#include "testutil.h"

#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SEED_JSON[] =
    "{\"answers.text\": [[\"우리 은하와 가장 가까운 은하가 있다.\", \"그 은하 이름은 "
    "안드로메다 은하이다.\"], [\"어제 엄마한테 혼났다.\", \"다음에는 나쁜짓을 "
    "안해야겠다.\"]]}";
static const char *const SEED_JOINED[] = {
    "우리 은하와 가장 가까운 은하가 있다. 그 은하 이름은 안드로메다 은하이다.",
    "어제 엄마한테 혼났다. 다음에는 나쁜짓을 안해야겠다."};

/* The column's type, or -1 when absent. */
static int coltype(const mlm_dataset *ds, const char *name)
{
    mlm_column_type t;
    return mlm_dataset_column_type(ds, name, &t) == MLM_OK ? (int)t : -1;
}

static mlm_tokenizer *load_tok(const char *path)
{
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(path, &tok);
    ck_assert_msg(st == MLM_OK, "%s: %s", path, mlm_last_error());
    return tok;
}

static void check_seq(const mlm_dataset *ds, const char *col, size_t row, const int32_t *want,
                      size_t n)
{
    const int32_t *d;
    size_t len;
    ck_assert_msg(mlm_dataset_get_sequence(ds, col, row, &d, &len) == MLM_OK, "%s: %s", col,
                  mlm_last_error());
    ck_assert_msg(len == n, "%s row %zu: %zu values, want %zu", col, row, len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(d[i] == want[i], "%s row %zu [%zu]: %d, want %d", col, row, i, d[i],
                      want[i]);
}

/* Every SEQUENCE column of a and b holds the same values, row by row. */
static void check_same(const mlm_dataset *a, const mlm_dataset *b)
{
    ck_assert_uint_eq(mlm_dataset_num_rows(a), mlm_dataset_num_rows(b));
    ck_assert_uint_eq(mlm_dataset_num_columns(a), mlm_dataset_num_columns(b));
    for (size_t c = 0; c < mlm_dataset_num_columns(a); c++) {
        const char *name = mlm_dataset_column_name(a, c);
        ck_assert_int_eq(coltype(a, name), coltype(b, name));
        if (coltype(a, name) != MLM_COLUMN_SEQUENCE)
            continue;
        for (size_t r = 0; r < mlm_dataset_num_rows(a); r++) {
            const int32_t *d;
            size_t len;
            ck_assert_int_eq(mlm_dataset_get_sequence(a, name, r, &d, &len), MLM_OK);
            check_seq(b, name, r, d, len);
        }
    }
}

/* The seed's pipeline with one tokenizer; checks against encode(). */
static void seed_pipeline(const char *tok_path, int expect_type_ids)
{
    mlm_tokenizer *tok = load_tok(tok_path);
    mlm_dataset *ds = NULL, *t1 = NULL, *t2 = NULL;
    ck_assert_int_eq(mlm_dataset_from_json(SEED_JSON, strlen(SEED_JSON), &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    mlm_status st = mlm_dataset_tokenize(ds, tok, "answers.text",
                                         "{\"remove_columns\": [\"answers.text\"]}", &t1);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    ck_assert_uint_eq(mlm_dataset_num_rows(t1), 2);
    ck_assert_ptr_null(mlm_dataset_column_name(t1, expect_type_ids ? 5 : 4));
    ck_assert_int_eq(coltype(t1, "answers.text"), -1);
    ck_assert_int_eq(coltype(t1, "token_type_ids"),
                     expect_type_ids ? MLM_COLUMN_SEQUENCE : -1);
    size_t total = 0;
    for (size_t r = 0; r < 2; r++) {
        mlm_encoding *e = NULL;
        ck_assert_int_eq(mlm_tokenizer_encode(tok, SEED_JOINED[r], strlen(SEED_JOINED[r]),
                                              NULL, 0, 1, &e),
                         MLM_OK);
        size_t n = mlm_encoding_length(e);
        ck_assert_uint_gt(n, 5);
        total += n;
        check_seq(t1, "input_ids", r, mlm_encoding_ids(e), n);
        check_seq(t1, "attention_mask", r, mlm_encoding_attention_mask(e), n);
        check_seq(t1, "special_tokens_mask", r, mlm_encoding_special_tokens_mask(e), n);
        check_seq(t1, "word_ids", r, mlm_encoding_word_ids(e), n);
        if (expect_type_ids)
            check_seq(t1, "token_type_ids", r, mlm_encoding_type_ids(e), n);
        /* special tokens at both ends, attention all ones */
        const int32_t *sm = mlm_encoding_special_tokens_mask(e);
        ck_assert_int_eq(sm[0], 1);
        ck_assert_int_eq(sm[n - 1], 1);
        ck_assert_int_eq(mlm_encoding_word_ids(e)[0], -1);
        mlm_encoding_free(e);
    }
    /* num_proc 2 (batch_size 1: one row per thread) gives the same */
    st = mlm_dataset_tokenize(ds, tok, "answers.text",
                              "{\"num_proc\": 2, \"batch_size\": 1, \"remove_columns\": \"all\"}",
                              &t2);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    check_same(t1, t2);
    mlm_dataset_free(t2);
    /* without remove_columns the text column is kept in front */
    ck_assert_int_eq(mlm_dataset_tokenize(ds, tok, "answers.text", NULL, &t2), MLM_OK);
    ck_assert_str_eq(mlm_dataset_column_name(t2, 0), "answers.text");
    ck_assert_str_eq(mlm_dataset_column_name(t2, 1), "input_ids");
    mlm_dataset_free(t2);

    /* group_texts(block) over the result: total // block blocks of block */
    mlm_dataset *g = NULL;
    int64_t block = 8;
    ck_assert_int_eq(mlm_dataset_group_texts(t1, block, &g), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(g), total / (size_t)block);
    {
        /* block 1 is the concatenation of both rows' ids */
        const int32_t *a, *b, *blk;
        size_t la, lb, lk;
        mlm_dataset_get_sequence(t1, "input_ids", 0, &a, &la);
        mlm_dataset_get_sequence(t1, "input_ids", 1, &b, &lb);
        size_t k = la / (size_t)block; /* the block straddling both rows */
        ck_assert_int_eq(mlm_dataset_get_sequence(g, "input_ids", k, &blk, &lk), MLM_OK);
        ck_assert_uint_eq(lk, (size_t)block);
        for (size_t i = 0; i < lk; i++) {
            size_t pos = k * (size_t)block + i;
            ck_assert_int_eq(blk[i], pos < la ? a[pos] : b[pos - la]);
        }
    }
    /* train_test_split(0.2): ceil(0.2 n) test rows */
    mlm_dataset *tr = NULL, *te = NULL;
    size_t n = mlm_dataset_num_rows(g);
    ck_assert_int_eq(mlm_dataset_train_test_split(g, 0.2, 42, 1, &tr, &te), MLM_OK);
    size_t ntest = (size_t)((double)n * 0.2);
    if ((double)ntest < (double)n * 0.2)
        ntest++;
    ck_assert_uint_eq(mlm_dataset_num_rows(te), ntest);
    ck_assert_uint_eq(mlm_dataset_num_rows(tr), n - ntest);

    /* collate the train split with a collator made from the tokenizer */
    mlm_collator *c = NULL;
    st = mlm_collator_new(tok, "{\"seed\": 7}", &c);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    size_t rows[] = {0, 1};
    mlm_batch *bt = NULL;
    ck_assert_int_eq(mlm_collator_collate(c, tr, rows, 2, 0, &bt), MLM_OK);
    ck_assert_uint_eq(mlm_batch_rows(bt), 2);
    ck_assert_uint_eq(mlm_batch_seq_len(bt), (size_t)block);
    mlm_batch_free(bt);
    mlm_collator_free(c);

    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    mlm_dataset_free(g);
    mlm_dataset_free(t1);
    mlm_dataset_free(ds);
    mlm_tokenizer_free(tok);
}

START_TEST(seed_example_mbert)
{
    char buf[4096];
    REQUIRE_TEST_DATA(p, "tokenizers/bert-base-multilingual-cased", buf);
    seed_pipeline(p, 1);
}
END_TEST

START_TEST(seed_example_roberta)
{
    char buf[4096];
    REQUIRE_TEST_DATA(p, "tokenizers/roberta-base", buf);
    seed_pipeline(p, 0);
}
END_TEST

/* A directory holding roberta-base's tokenizer.json (linked) and a
 * tokenizer_config.json with the given text. */
static char *roberta_variant(const char *roberta_dir, const char *config)
{
    char *dir = test_tmpdir();
    ck_assert_ptr_nonnull(dir);
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/tokenizer.json", roberta_dir);
    snprintf(dst, sizeof dst, "%s/tokenizer.json", dir);
    ck_assert_int_eq(symlink(src, dst), 0);
    snprintf(dst, sizeof dst, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(dst, "w");
    ck_assert_ptr_nonnull(f);
    fputs(config, f);
    fclose(f);
    return dir;
}

/* Pad: roberta-base's own <pad>; eos when pad is unset; neither: an error. */
START_TEST(collator_pad_from_tokenizer)
{
    char buf[4096];
    REQUIRE_TEST_DATA(p, "tokenizers/roberta-base", buf);
    mlm_tokenizer *tok = load_tok(p);
    int32_t pad = mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD);
    int32_t eos = mlm_tokenizer_special_id(tok, MLM_TOKEN_EOS);
    ck_assert_int_eq(pad, 1);
    ck_assert_int_eq(eos, 2);
    mlm_collator *c = NULL;
    ck_assert_int_eq(mlm_collator_new(tok, NULL, &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_pad_token_id(c), pad);
    mlm_collator_free(c);
    /* the seed's tokenizer.pad_token = tokenizer.eos_token */
    ck_assert_int_eq(mlm_tokenizer_set_special(tok, MLM_TOKEN_PAD, "</s>"), MLM_OK);
    ck_assert_int_eq(mlm_collator_new(tok, NULL, &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_pad_token_id(c), eos);
    mlm_collator_free(c);
    mlm_tokenizer_free(tok);

    /* no pad token at all: eos pads */
    char *dir = roberta_variant(p, "{\"pad_token\": null}");
    tok = load_tok(dir);
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD), -1);
    ck_assert_int_eq(mlm_collator_new(tok, "{\"seed\": 3}", &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_pad_token_id(c), eos);
    /* a short row is padded with eos, attention 0, label -100 */
    mlm_dataset *ds = NULL, *t = NULL;
    const char *texts[] = {"짧은 문장.", "조금 더 긴 문장이다. A longer English sentence too."};
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_string_column(ds, "text", texts, 2), MLM_OK);
    ck_assert_int_eq(mlm_dataset_tokenize(ds, tok, "text", NULL, &t), MLM_OK);
    size_t rows[] = {0, 1};
    mlm_batch *b = NULL;
    ck_assert_int_eq(mlm_collator_collate(c, t, rows, 2, 0, &b), MLM_OK);
    const int32_t *d;
    size_t l0, l1;
    mlm_dataset_get_sequence(t, "input_ids", 0, &d, &l0);
    mlm_dataset_get_sequence(t, "input_ids", 1, &d, &l1);
    ck_assert_uint_lt(l0, l1);
    ck_assert_uint_eq(mlm_batch_seq_len(b), l1);
    for (size_t j = l0; j < l1; j++) {
        ck_assert_int_eq(mlm_batch_input_ids(b)[j], eos);
        ck_assert_int_eq(mlm_batch_attention_mask(b)[j], 0);
        ck_assert_int_eq(mlm_batch_labels(b)[j], -100);
        ck_assert_int_eq(mlm_batch_special_tokens_mask(b)[j], 1);
    }
    mlm_batch_free(b);
    mlm_collator_free(c);
    mlm_dataset_free(t);
    mlm_dataset_free(ds);
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);

    /* neither pad nor eos: a clear error; pad_token_id given: fine */
    dir = roberta_variant(p, "{\"pad_token\": null, \"eos_token\": null}");
    tok = load_tok(dir);
    ck_assert_int_eq(mlm_collator_new(tok, NULL, &c), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "neither a pad token nor an eos token"));
    /* a bad option is still reported as such */
    ck_assert_int_eq(mlm_collator_new(tok, "{\"no_such\": 1}", &c), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "no_such"));
    ck_assert_int_eq(mlm_collator_new(tok, "{\"pad_token_id\": 1}", &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_pad_token_id(c), 1);
    mlm_collator_free(c);
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Batch invariants: shapes, labels only where picked, the original id in
 * the label, padding never picked. */
static void check_batch(const mlm_batch *b, const mlm_dataset *ds, const size_t *rows,
                        size_t n, size_t seq_len, int32_t mask_id)
{
    ck_assert_uint_eq(mlm_batch_rows(b), n);
    ck_assert_uint_eq(mlm_batch_seq_len(b), seq_len);
    const int32_t *ids = mlm_batch_input_ids(b), *lab = mlm_batch_labels(b);
    const int32_t *att = mlm_batch_attention_mask(b), *stm = mlm_batch_special_tokens_mask(b);
    for (size_t i = 0; i < n; i++) {
        const int32_t *orig, *osm;
        size_t len, len2;
        ck_assert_int_eq(mlm_dataset_get_sequence(ds, "input_ids", rows[i], &orig, &len), MLM_OK);
        ck_assert_int_eq(
            mlm_dataset_get_sequence(ds, "special_tokens_mask", rows[i], &osm, &len2), MLM_OK);
        ck_assert_uint_eq(len, len2);
        for (size_t j = 0; j < seq_len; j++) {
            size_t k = i * seq_len + j;
            if (j >= len) {
                ck_assert_int_eq(att[k], 0);
                ck_assert_int_eq(lab[k], -100);
                continue;
            }
            ck_assert_int_eq(att[k], 1);
            if (osm[j]) {
                ck_assert_int_eq(stm[k], 1);
                ck_assert_int_eq(lab[k], -100);
                ck_assert_int_eq(ids[k], orig[j]);
            } else if (lab[k] == -100) {
                ck_assert_int_eq(ids[k], orig[j]);
            } else {
                ck_assert_int_eq(lab[k], orig[j]);
                (void)mask_id;
            }
        }
    }
}

/* load → (flattened) answers.text → tokenize → group_texts(128) → split →
 * collate; returns the number of blocks. */
static size_t eli5_pipeline(const char *path, mlm_tokenizer *tok, size_t want_rows)
{
    mlm_dataset *ds = NULL, *t = NULL, *g = NULL, *tr = NULL, *te = NULL;
    mlm_status st = mlm_dataset_load(path, NULL, &ds);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    if (want_rows)
        ck_assert_uint_eq(mlm_dataset_num_rows(ds), want_rows);
    mlm_column_type ty;
    ck_assert_int_eq(mlm_dataset_column_type(ds, "answers.text", &ty), MLM_OK);
    ck_assert_int_eq(ty, MLM_COLUMN_STRING_LIST);
    st = mlm_dataset_tokenize(ds, tok, "answers.text",
                              "{\"num_proc\": 2, \"batch_size\": 256, \"remove_columns\": \"all\"}",
                              &t);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    ck_assert_uint_eq(mlm_dataset_num_rows(t), mlm_dataset_num_rows(ds));
    size_t total = 0;
    for (size_t r = 0; r < mlm_dataset_num_rows(t); r++) {
        const int32_t *d;
        size_t len;
        ck_assert_int_eq(mlm_dataset_get_sequence(t, "input_ids", r, &d, &len), MLM_OK);
        total += len;
    }
    ck_assert_int_eq(mlm_dataset_group_texts(t, 128, &g), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(g), total / 128);
    size_t n = mlm_dataset_num_rows(g);
    ck_assert_uint_gt(n, 4);
    ck_assert_int_eq(mlm_dataset_train_test_split(g, 0.2, 42, 1, &tr, &te), MLM_OK);
    size_t ntest = (size_t)((double)n * 0.2);
    if ((double)ntest < (double)n * 0.2)
        ntest++;
    ck_assert_uint_eq(mlm_dataset_num_rows(te), ntest);
    ck_assert_uint_eq(mlm_dataset_num_rows(tr), n - ntest);
    mlm_collator *c = NULL;
    ck_assert_int_eq(mlm_collator_new(tok, "{\"seed\": 42}", &c), MLM_OK);
    size_t rows[8];
    size_t picked = 0, real = 0;
    for (size_t b0 = 0; b0 + 8 <= mlm_dataset_num_rows(tr) && b0 < 64; b0 += 8) {
        for (size_t i = 0; i < 8; i++)
            rows[i] = b0 + i;
        mlm_batch *b = NULL;
        ck_assert_int_eq(mlm_collator_collate(c, tr, rows, 8, b0 / 8, &b), MLM_OK);
        check_batch(b, tr, rows, 8, 128, mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK));
        for (size_t k = 0; k < 8 * 128; k++) {
            picked += mlm_batch_labels(b)[k] != -100;
            real += mlm_batch_special_tokens_mask(b)[k] == 0;
        }
        mlm_batch_free(b);
    }
    if (real > 2000) {
        double frac = (double)picked / (double)real;
        ck_assert_msg(frac > 0.10 && frac < 0.20, "picked %.3f", frac);
    }
    mlm_collator_free(c);
    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    mlm_dataset_free(g);
    mlm_dataset_free(t);
    mlm_dataset_free(ds);
    return n;
}

START_TEST(eli5_real_validation)
{
    char buf[4096], tb[4096];
    REQUIRE_TEST_DATA(p, "corpora/eli5-category/eli5-category-validation-2.json.gz", buf);
    REQUIRE_TEST_DATA(tp, "tokenizers/roberta-base", tb);
    mlm_tokenizer *tok = load_tok(tp);
    size_t n = eli5_pipeline(p, tok, 400); /* the excerpt's questions */
    fprintf(stderr, "eli5 validation-2 (roberta-base): %zu blocks of 128\n", n);
    mlm_tokenizer_free(tok);
}
END_TEST

START_TEST(eli5_dummy_files)
{
    static const char *const files[] = {"eli5-category-train.json", "eli5-category-test.json",
                                        "eli5-category-validation-1.json",
                                        "eli5-category-validation-2.json"};
    char tb[4096];
    REQUIRE_TEST_DATA(tp, "tokenizers/bert-base-multilingual-cased", tb);
    mlm_tokenizer *tok = load_tok(tp);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256], buf[4096];
        snprintf(rel, sizeof rel, "corpora/eli5-category/dummy/%s", files[i]);
        const char *p = test_data_path(rel, buf, sizeof buf);
        eli5_pipeline(p, tok, 0);
    }
    mlm_tokenizer_free(tok);
}
END_TEST

/* ------------------------------------------------------------ streaming */

/* The in-memory path: load → tokenize(column, remove all) → group. */
static mlm_dataset *in_memory(const mlm_tokenizer *tok, const char *path, const char *column,
                              int64_t block, size_t gbatch)
{
    mlm_dataset *ds = NULL, *t = NULL, *g = NULL;
    mlm_status st = mlm_dataset_load(path, NULL, &ds);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    st = mlm_dataset_tokenize(ds, tok, column, "{\"remove_columns\": \"all\"}", &t);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    mlm_dataset_free(ds);
    if (!block)
        return t;
    ck_assert_int_eq(mlm_dataset_group_texts_batched(t, block, gbatch, &g), MLM_OK);
    mlm_dataset_free(t);
    return g;
}

static mlm_dataset *streamed(const mlm_tokenizer *tok, const char *path, const char *opts,
                             const char *dir, mlm_tokenize_file_stats *stats)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/streamed.mlmds", dir);
    mlm_status st = mlm_dataset_tokenize_file(tok, path, opts, out, stats);
    ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
    mlm_dataset *ds = NULL;
    ck_assert_int_eq(mlm_dataset_open(out, &ds), MLM_OK);
    return ds;
}

START_TEST(stream_text_equals_in_memory)
{
    char buf[4096], tb[4096];
    REQUIRE_TEST_DATA(p, "corpora/wikitext-2-raw/wiki.valid.raw", buf);
    REQUIRE_TEST_DATA(tp, "tokenizers/roberta-base", tb);
    mlm_tokenizer *tok = load_tok(tp);
    char *dir = test_tmpdir();
    /* a slice of WikiText with Korean lines and CRLF, gzip'ed */
    size_t len;
    char *text = test_read_file(p, &len);
    ck_assert_ptr_nonnull(text);
    if (len > 300000)
        len = 300000;
    char src[4096];
    snprintf(src, sizeof src, "%s/corpus.txt", dir);
    FILE *f = fopen(src, "wb");
    fwrite(text, 1, len, f);
    fputs("\n우리 은하와 가장 가까운 은하가 있다.\r\n그 은하 이름은 안드로메다 은하이다.\r"
          "\r\n   \n어제 엄마한테 혼났다. 다음에는 나쁜짓을 안해야겠다.", f);
    fclose(f);
    free(text);

    mlm_dataset *mem = in_memory(tok, src, "text", 0, 0);
    mlm_tokenize_file_stats stats = {.sz = sizeof stats};
    mlm_dataset *s = streamed(tok, src, "{\"batch_size\": 97, \"num_proc\": 2}", dir, &stats);
    check_same(mem, s);
    ck_assert_uint_eq(stats.records, mlm_dataset_num_rows(mem));
    ck_assert_uint_eq(stats.rows, mlm_dataset_num_rows(mem));
    ck_assert_uint_eq(stats.tokens, stats.tokens_written);
    ck_assert_uint_eq(stats.skipped, 0);
    mlm_dataset_free(s);
    mlm_dataset_free(mem);

    /* grouped: the remainder carried across batches of 97 lines */
    mem = in_memory(tok, src, "text", 128, 0);
    s = streamed(tok, src, "{\"batch_size\": 97, \"block_size\": 128}", dir, &stats);
    check_same(mem, s);
    ck_assert_uint_eq(stats.rows, mlm_dataset_num_rows(mem));
    ck_assert_uint_eq(stats.tokens_written, 128 * stats.rows);
    ck_assert_uint_lt(stats.tokens - stats.tokens_written, 128);
    mlm_dataset_free(s);
    mlm_dataset_free(mem);

    /* run_mlm's batched group_texts: a remainder dropped every 1000 rows */
    mem = in_memory(tok, src, "text", 64, 1000);
    s = streamed(tok, src, "{\"block_size\": 64, \"group_batch_size\": 1000, \"num_proc\": 2}",
                 dir, &stats);
    check_same(mem, s);
    mlm_dataset_free(s);
    mlm_dataset_free(mem);

    /* line_by_line skips blank lines (the "   " one, WikiText's, and one of
     * U+3000 ideographic spaces, blank to Python's str.isspace() as well) */
    s = streamed(tok, src, "{\"line_by_line\": true}", dir, &stats);
    ck_assert_uint_gt(stats.skipped, 1);
    ck_assert_uint_eq(mlm_dataset_num_rows(s), stats.records);
    const int32_t *d;
    size_t n;
    for (size_t r = 0; r < mlm_dataset_num_rows(s); r++) {
        ck_assert_int_eq(mlm_dataset_get_sequence(s, "input_ids", r, &d, &n), MLM_OK);
        ck_assert_uint_gt(n, 2);
    }
    size_t rows = mlm_dataset_num_rows(s), skipped = stats.skipped;
    mlm_dataset_free(s);
    /* a line of U+3000 ideographic spaces (and one of U+00A0) is blank too:
     * one more skipped line each, no more rows */
    f = fopen(src, "ab");
    fputs("\n\xE3\x80\x80\xE3\x80\x80 \n\xC2\xA0", f);
    fclose(f);
    s = streamed(tok, src, "{\"line_by_line\": true}", dir, &stats);
    ck_assert_uint_eq(mlm_dataset_num_rows(s), rows);
    ck_assert_uint_eq(stats.skipped, skipped + 2);
    mlm_dataset_free(s);

    /* gzip'ed input reads the same */
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s.gz'", src, src);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.gz", src);
    mem = in_memory(tok, src, "text", 0, 0);
    s = streamed(tok, cmd, "{\"format\": \"text\"}", dir, NULL);
    check_same(mem, s);
    mlm_dataset_free(s);
    mlm_dataset_free(mem);

    /* errors: an unknown option, a missing file */
    char out[4096];
    snprintf(out, sizeof out, "%s/x.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_tokenize_file(tok, src, "{\"blocksize\": 1}", out, NULL),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "blocksize"));
    snprintf(cmd, sizeof cmd, "%s/absent.txt", dir);
    ck_assert_int_eq(mlm_dataset_tokenize_file(tok, cmd, NULL, out, NULL), MLM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "absent.txt"));
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(stream_jsonl_equals_in_memory)
{
    char buf[4096], tb[4096];
    REQUIRE_TEST_DATA(p, "corpora/eli5-category/dummy/eli5-category-validation-1.json",
                        buf);
    REQUIRE_TEST_DATA(tp, "tokenizers/bert-base-multilingual-cased", tb);
    mlm_tokenizer *tok = load_tok(tp);
    char *dir = test_tmpdir();
    /* the ELI5 records as JSON Lines with nested answers.text, plus the
     * seed's Korean records */
    size_t len;
    char *text = test_read_file(p, &len);
    ck_assert_ptr_nonnull(text);
    char src[4096];
    snprintf(src, sizeof src, "%s/eli5.jsonl", dir);
    FILE *f = fopen(src, "wb");
    /* split the top-level array on the "}, {\"q_id\"" boundaries */
    char *q = text + 1;
    text[len - 1] = '\0';
    for (;;) {
        char *next = strstr(q, "}, {\"q_id\"");
        if (next)
            next[1] = '\0';
        fprintf(f, "%s\n", q);
        if (!next)
            break;
        q = next + 3;
    }
    fputs("\n{\"answers\": {\"text\": [\"우리 은하와 가장 가까운 은하가 있다.\", \"그 은하 "
          "이름은 안드로메다 은하이다.\"]}}\n"
          "{\"answers\": {\"text\": [\"어제 엄마한테 혼났다.\", \"다음에는 나쁜짓을 "
          "안해야겠다.\"]}}\n",
          f);
    fclose(f);
    free(text);

    mlm_dataset *mem = in_memory(tok, src, "answers.text", 0, 0);
    ck_assert_uint_gt(mlm_dataset_num_rows(mem), 3);
    mlm_tokenize_file_stats stats = {.sz = sizeof stats};
    mlm_dataset *s = streamed(tok, src, "{\"column\": \"answers.text\", \"batch_size\": 2, "
                                        "\"num_proc\": 2}", dir, &stats);
    check_same(mem, s);
    ck_assert_uint_eq(stats.skipped, 1); /* the blank line */
    ck_assert_int_eq(coltype(s, "token_type_ids"), MLM_COLUMN_SEQUENCE);
    mlm_dataset_free(s);
    mlm_dataset_free(mem);

    mem = in_memory(tok, src, "answers.text", 128, 0);
    s = streamed(tok, src, "{\"column\": \"answers.text\", \"batch_size\": 3, "
                           "\"block_size\": 128}", dir, NULL);
    check_same(mem, s);
    mlm_dataset_free(s);

    /* the name's case does not matter to either path: "ELI5.JSONL" is JSON
     * Lines for mlm_dataset_load and for the stream alike */
    char upper[4096];
    snprintf(upper, sizeof upper, "%s/ELI5.JSONL", dir);
    ck_assert_int_eq(link(src, upper), 0);
    ck_assert_int_eq(mlm_dataset_format_of(upper), MLM_FORMAT_JSONL);
    s = streamed(tok, upper, "{\"column\": \"answers.text\", \"batch_size\": 3, "
                             "\"block_size\": 128}", dir, NULL);
    check_same(mem, s);
    mlm_dataset_free(s);
    mlm_dataset_free(mem);

    /* a record without the column: an error naming file and line; skip */
    f = fopen(src, "ab");
    fputs("{\"title\": \"질문\"}\n[1, 2]\n", f);
    fclose(f);
    char out[4096];
    snprintf(out, sizeof out, "%s/x.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_tokenize_file(tok, src, "{\"column\": \"answers.text\"}", out,
                                               NULL),
                     MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "eli5.jsonl:"));
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "no column 'answers.text'"));
    s = streamed(tok, src, "{\"column\": \"answers.text\", \"on_bad_rows\": \"skip\"}", dir,
                 &stats);
    ck_assert_uint_eq(stats.skipped, 3);
    mlm_dataset_free(s);
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *data_tokenize_suite(void)
{
    Suite *s = suite_create("data_tokenize");
    TCase *tc = tcase_create("data_tokenize");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, seed_example_mbert);
    tcase_add_test(tc, seed_example_roberta);
    tcase_add_test(tc, collator_pad_from_tokenizer);
    tcase_add_test(tc, eli5_real_validation);
    tcase_add_test(tc, eli5_dummy_files);
    tcase_add_test(tc, stream_text_equals_in_memory);
    tcase_add_test(tc, stream_jsonl_equals_in_memory);
    suite_add_tcase(s, tc);
    return s;
}
