/* The data layer with real tokenizers (../shared): the seed's example end
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
    SKIP_WITHOUT_SHARED(p, "data/tokenizers/bert-base-multilingual-cased", buf);
    seed_pipeline(p, 1);
}
END_TEST

START_TEST(seed_example_roberta)
{
    char buf[4096];
    SKIP_WITHOUT_SHARED(p, "data/tokenizers/roberta-base", buf);
    seed_pipeline(p, 0);
}
END_TEST

Suite *data_tokenize_suite(void)
{
    Suite *s = suite_create("data_tokenize");
    TCase *tc = tcase_create("data_tokenize");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, seed_example_mbert);
    tcase_add_test(tc, seed_example_roberta);
    suite_add_tcase(s, tc);
    return s;
}
