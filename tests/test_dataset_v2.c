/* The dataset file, version 2 (docs/dataset-format.md): sequence columns at
 * 1, 2 or 4 bytes a value, picked by the writers; version 1 files still
 * read as written; readers (cells, copy-out, group_texts, the collator)
 * see the same int32 values whatever the width; bytes per token. */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file's header, parsed (the caller cJSON_Delete()s it). */
static cJSON *file_header(const char *path)
{
    size_t len;
    char *img = test_read_file(path, &len);
    ck_assert_ptr_nonnull(img);
    ck_assert_uint_ge(len, 16);
    uint64_t h;
    memcpy(&h, img + 8, 8);
    cJSON *root = cJSON_ParseWithLength(img + 16, (size_t)h);
    free(img);
    ck_assert_ptr_nonnull(root);
    return root;
}

static const cJSON *header_column(const cJSON *root, const char *name)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "columns"))
    {
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0)
            return c;
    }
    ck_abort_msg("column '%s' is not in the header", name);
    return NULL;
}

/* The value width the file gives a column (0: none given). */
static int file_width(const char *path, const char *name)
{
    cJSON *root = file_header(path);
    const cJSON *w = cJSON_GetObjectItem(header_column(root, name), "width");
    int v = cJSON_IsNumber(w) ? w->valueint : 0;
    cJSON_Delete(root);
    return v;
}

/* Bytes the file spends on a column: its buffers with their padding to 8. */
static uint64_t column_bytes(const cJSON *root, const char *name)
{
    uint64_t total = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(header_column(root, name), "buffers"))
    {
        uint64_t len = (uint64_t)cJSON_GetArrayItem(b, 1)->valuedouble;
        total += (len + 7) / 8 * 8;
    }
    return total;
}

/* Row r of a sequence column through both readers, checked equal. The
 * caller frees the copy. */
static int32_t *read_seq(const mlm_dataset *ds, const char *col, size_t r, size_t *len)
{
    const int32_t *d;
    ck_assert_msg(mlm_dataset_get_sequence(ds, col, r, &d, len) == MLM_OK, "%s: %s", col,
                  mlm_last_error());
    size_t n = 0;
    ck_assert_int_eq(mlm_dataset_copy_sequence(ds, col, r, NULL, 0, &n), MLM_OK);
    ck_assert_uint_eq(n, *len);
    int32_t *copy = malloc((n + 1) * sizeof *copy);
    ck_assert_int_eq(mlm_dataset_copy_sequence(ds, col, r, copy, n + 1, &n), MLM_OK);
    ck_assert_uint_eq(n, *len);
    ck_assert_int_eq(memcmp(copy, d, n * sizeof *d), 0);
    return copy;
}

static void expect_seq(const mlm_dataset *ds, const char *col, size_t r, const int32_t *want,
                       size_t n)
{
    size_t len;
    int32_t *got = read_seq(ds, col, r, &len);
    ck_assert_msg(len == n, "%s row %zu: %zu values, want %zu", col, r, len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "%s row %zu [%zu]: %d, want %d", col, r, i, got[i],
                      want[i]);
    free(got);
}

/* Every sequence column of a equals b's, row by row. */
static void expect_same_sequences(const mlm_dataset *a, const mlm_dataset *b)
{
    ck_assert_uint_eq(mlm_dataset_num_rows(a), mlm_dataset_num_rows(b));
    ck_assert_uint_eq(mlm_dataset_num_columns(a), mlm_dataset_num_columns(b));
    for (size_t c = 0; c < mlm_dataset_num_columns(a); c++) {
        const char *name = mlm_dataset_column_name(a, c);
        mlm_column_type t;
        ck_assert_int_eq(mlm_dataset_column_type(b, name, &t), MLM_OK);
        if (t != MLM_COLUMN_SEQUENCE)
            continue;
        for (size_t r = 0; r < mlm_dataset_num_rows(a); r++) {
            size_t n;
            int32_t *want = read_seq(a, name, r, &n);
            expect_seq(b, name, r, want, n);
            free(want);
        }
    }
}

/* tests/data/dataset-v1/v1.mlmds: the values make_v1.c wrote. */
static const int32_t V1_IDS[] = {101, 255, 256, 65535, 65536, 2147483647, 102};
static const int32_t V1_AM[] = {1, 1, 1, 1, 1, 1, 0};
static const int32_t V1_LAB[] = {-100, 0, -2147483647 - 1, 7, -100, 65536, -100};

static void expect_v1_cells(const mlm_dataset *ds)
{
    static const char *const texts[] = {"hello world", "안녕하세요 세계", ""};
    static const char *const items[] = {"a", "비", "c"};
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 3);
    for (size_t r = 0; r < 3; r++) {
        const char *s;
        size_t len, n;
        ck_assert_int_eq(mlm_dataset_get_string(ds, "text", r, &s, &len), MLM_OK);
        ck_assert_str_eq(s, texts[r]);
        ck_assert_int_eq(mlm_dataset_get_string_list_count(ds, "tags", r, &n), MLM_OK);
        ck_assert_uint_eq(n, r);
        for (size_t k = 0; k < n; k++) {
            ck_assert_int_eq(mlm_dataset_get_string_list_item(ds, "tags", r, k, &s, &len),
                             MLM_OK);
            ck_assert_str_eq(s, items[k]);
        }
        int64_t iv;
        double fv;
        ck_assert_int_eq(mlm_dataset_get_int(ds, "n", r, &iv), MLM_OK);
        ck_assert_int_eq(iv, -5 + (int64_t)r);
        ck_assert_int_eq(mlm_dataset_get_float(ds, "x", r, &fv), MLM_OK);
        ck_assert(fv == 0.25 * (double)r);
        size_t cnt = 7 - 2 * r;
        expect_seq(ds, "input_ids", r, V1_IDS + r, cnt);
        expect_seq(ds, "attention_mask", r, V1_AM + r, cnt);
        expect_seq(ds, "labels", r, V1_LAB + r, cnt);
    }
}

START_TEST(v1_file_reads)
{
    char buf[4096], path[512];
    REQUIRE_TEST_DATA(p, "dataset-v1/v1.mlmds", buf);
    cJSON *root = file_header(p);
    ck_assert_int_eq(cJSON_GetObjectItem(root, "version")->valueint, 1);
    cJSON_Delete(root);
    mlm_dataset *ds, *back;
    ck_assert_msg(mlm_dataset_open(p, &ds) == MLM_OK, "%s", mlm_last_error());
    expect_v1_cells(ds);
    /* saved again it is version 2, each sequence column at its width */
    char *dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/v2.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_save(ds, path), MLM_OK);
    root = file_header(path);
    ck_assert_int_eq(cJSON_GetObjectItem(root, "version")->valueint, 2);
    cJSON_Delete(root);
    ck_assert_int_eq(file_width(path, "input_ids"), 4);      /* INT32_MAX */
    ck_assert_int_eq(file_width(path, "attention_mask"), 1); /* 0 and 1 */
    ck_assert_int_eq(file_width(path, "labels"), 4);         /* -100 */
    ck_assert_int_eq(file_width(path, "text"), 0);
    ck_assert_int_eq(mlm_dataset_open(path, &back), MLM_OK);
    expect_v1_cells(back);
    mlm_dataset_free(back);
    mlm_dataset_free(ds);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* map's function: the batch itself (a view of the mapped file's rows). */
static mlm_status same_batch(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    (void)user;
    size_t n = mlm_dataset_num_rows(batch);
    size_t *all = malloc((n ? n : 1) * sizeof *all);
    for (size_t i = 0; i < n; i++)
        all[i] = i;
    mlm_status st = mlm_dataset_select(batch, all, n, result);
    free(all);
    return st;
}

/* A column whose values span [lo, hi] gets the narrowest width holding
 * them, through save and through the streaming writer, and reads back. */
START_TEST(widths_and_boundaries)
{
    static const struct {
        int32_t lo, hi;
        int width;
    } cases[] = {
        {0, 0, 1},          {0, 255, 1},        {0, 256, 2},
        {1, 65535, 2},      {0, 65536, 4},      {-1, 5, 4},
        {-100, 30521, 4},   {0, 2147483647, 4}, {-2147483647 - 1, 0, 4},
    };
    char *dir = test_tmpdir(), path[512], path2[512];
    snprintf(path, sizeof path, "%s/w.mlmds", dir);
    snprintf(path2, sizeof path2, "%s/w2.mlmds", dir);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        /* rows: [lo, hi, 1] (3 values), [] and [hi, lo, 0, 0, hi] (5) */
        int32_t r0[] = {cases[k].lo, cases[k].hi, 1 <= cases[k].hi ? 1 : 0};
        int32_t r2[] = {cases[k].hi, cases[k].lo, 0, 0, cases[k].hi};
        const int32_t *seqs[] = {r0, NULL, r2};
        size_t lens[] = {3, 0, 5};
        mlm_dataset *ds, *back, *sh;
        ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
        ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "ids", seqs, lens, 3), MLM_OK);
        ck_assert_int_eq(mlm_dataset_save(ds, path), MLM_OK);
        ck_assert_msg(file_width(path, "ids") == cases[k].width, "[%d, %d]: width %d, want %d",
                      cases[k].lo, cases[k].hi, file_width(path, "ids"), cases[k].width);
        /* the values buffer holds 8 values at that width */
        cJSON *root = file_header(path);
        const cJSON *bufs = cJSON_GetObjectItem(header_column(root, "ids"), "buffers");
        ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetArrayItem(bufs, 1), 1)->valueint,
                         8 * cases[k].width);
        cJSON_Delete(root);
        ck_assert_msg(mlm_dataset_open(path, &back) == MLM_OK, "%s", mlm_last_error());
        expect_seq(back, "ids", 0, r0, 3);
        expect_seq(back, "ids", 1, NULL, 0);
        expect_seq(back, "ids", 2, r2, 5);
        /* copy-out: a short buffer gets the first values and the length */
        int32_t two[2] = {7, 7};
        size_t n;
        ck_assert_int_eq(mlm_dataset_copy_sequence(back, "ids", 2, two, 2, &n), MLM_OK);
        ck_assert_uint_eq(n, 5);
        ck_assert_int_eq(two[0], r2[0]);
        ck_assert_int_eq(two[1], r2[1]);
        ck_assert_int_eq(mlm_dataset_copy_sequence(back, "ids", 2, NULL, 2, &n),
                         MLM_ERR_INVALID_ARGUMENT);
        ck_assert_int_eq(mlm_dataset_copy_sequence(back, "ids", 3, two, 2, &n), MLM_ERR_RANGE);
        ck_assert_int_eq(mlm_dataset_copy_sequence(back, "idz", 0, two, 2, &n),
                         MLM_ERR_NOT_FOUND);
        /* the streaming writer, fed from the narrow file, picks the same */
        const char *names[] = {"ids"};
        mlm_column_type types[] = {MLM_COLUMN_SEQUENCE};
        mlm_dataset_writer *w;
        ck_assert_int_eq(mlm_dataset_writer_open(path2, names, types, 1, &w), MLM_OK);
        ck_assert_int_eq(mlm_dataset_writer_append_dataset(w, back), MLM_OK);
        ck_assert_int_eq(mlm_dataset_writer_close(w), MLM_OK);
        ck_assert_int_eq(file_width(path2, "ids"), cases[k].width);
        mlm_dataset *streamed;
        ck_assert_int_eq(mlm_dataset_open(path2, &streamed), MLM_OK);
        expect_same_sequences(ds, streamed);
        mlm_dataset_free(streamed);
        /* map concatenates its batches' cells: widened into int32 storage */
        mlm_dataset *mapped;
        ck_assert_int_eq(mlm_dataset_map(back, same_batch, NULL,
                                         "{\"batched\": true, \"batch_size\": 2}", &mapped),
                         MLM_OK);
        expect_same_sequences(ds, mapped);
        mlm_dataset_free(mapped);
        /* a shuffled view of the narrow file, saved and read back */
        ck_assert_int_eq(mlm_dataset_shuffle(back, 5, &sh), MLM_OK);
        ck_assert_int_eq(mlm_dataset_save(sh, path2), MLM_OK);
        ck_assert_int_eq(mlm_dataset_open(path2, &streamed), MLM_OK);
        expect_same_sequences(sh, streamed);
        mlm_dataset_free(streamed);
        mlm_dataset_free(sh);
        mlm_dataset_free(back);
        mlm_dataset_free(ds);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

static mlm_tokenizer *load_tok(const char *rel)
{
    char buf[4096];
    REQUIRE_TEST_DATA(p, rel, buf);
    mlm_tokenizer *tok = NULL;
    ck_assert_msg(mlm_tokenizer_load(p, &tok) == MLM_OK, "%s: %s", p, mlm_last_error());
    return tok;
}

/* Korean rows tokenized (ids fit 2 bytes with bert-base-uncased, need 4
 * with the multilingual vocabulary of 119,547), saved, opened: every cell,
 * group_texts and the collator's batches equal the in-memory dataset's. */
START_TEST(tokenized_korean_rows)
{
    static const char *const tokenizers[] = {"tokenizers/bert-base-uncased",
                                             "tokenizers/bert-base-multilingual-cased"};
    static const int ids_width[] = {2, 4};
    static const char *const text[] = {
        "우리 은하와 가장 가까운 은하가 있다. 그 은하 이름은 안드로메다 은하이다.",
        "어제 엄마한테 혼났다. 다음에는 나쁜짓을 안해야겠다.", "오늘 날씨는?", "내일 일정은?",
        "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey "
        "building."};
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/k.mlmds", dir);
    for (size_t t = 0; t < 2; t++) {
        mlm_tokenizer *tok = load_tok(tokenizers[t]);
        mlm_dataset *ds, *mem, *file, *g1, *g2;
        ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
        ck_assert_int_eq(mlm_dataset_add_string_column(ds, "text", text, 5), MLM_OK);
        ck_assert_int_eq(mlm_dataset_tokenize(ds, tok, "text", "{\"remove_columns\": \"all\"}",
                                              &mem),
                         MLM_OK);
        ck_assert_int_eq(mlm_dataset_save(mem, path), MLM_OK);
        ck_assert_int_eq(file_width(path, "input_ids"), ids_width[t]);
        ck_assert_int_eq(file_width(path, "attention_mask"), 1);
        ck_assert_int_eq(file_width(path, "special_tokens_mask"), 1);
        ck_assert_int_eq(file_width(path, "word_ids"), 4); /* -1 for specials */
        ck_assert_int_eq(mlm_dataset_open(path, &file), MLM_OK);
        expect_same_sequences(mem, file);
        /* group_texts reads the narrow columns */
        ck_assert_int_eq(mlm_dataset_group_texts(mem, 8, &g1), MLM_OK);
        ck_assert_int_eq(mlm_dataset_group_texts(file, 8, &g2), MLM_OK);
        ck_assert_uint_gt(mlm_dataset_num_rows(g1), 2);
        expect_same_sequences(g1, g2);
        /* the collator too: the same batch, to the byte */
        mlm_collator *c;
        ck_assert_int_eq(mlm_collator_new(tok, "{\"seed\": 7}", &c), MLM_OK);
        size_t rows[] = {2, 0, 1};
        mlm_batch *b1, *b2;
        ck_assert_int_eq(mlm_collator_collate(c, g1, rows, 3, 11, &b1), MLM_OK);
        ck_assert_int_eq(mlm_collator_collate(c, g2, rows, 3, 11, &b2), MLM_OK);
        char j1[8192], j2[8192];
        size_t n1, n2;
        ck_assert_int_eq(mlm_batch_to_json(b1, j1, sizeof j1, &n1), MLM_OK);
        ck_assert_int_eq(mlm_batch_to_json(b2, j2, sizeof j2, &n2), MLM_OK);
        ck_assert_uint_le(n1, sizeof j1);
        ck_assert_str_eq(j1, j2);
        mlm_batch_free(b1);
        mlm_batch_free(b2);
        /* and on the ungrouped rows, of unequal lengths (padding) */
        ck_assert_int_eq(mlm_collator_collate(c, mem, rows, 3, 12, &b1), MLM_OK);
        ck_assert_int_eq(mlm_collator_collate(c, file, rows, 3, 12, &b2), MLM_OK);
        ck_assert_int_eq(mlm_batch_to_json(b1, j1, sizeof j1, &n1), MLM_OK);
        ck_assert_int_eq(mlm_batch_to_json(b2, j2, sizeof j2, &n2), MLM_OK);
        ck_assert_str_eq(j1, j2);
        mlm_batch_free(b1);
        mlm_batch_free(b2);
        mlm_collator_free(c);
        mlm_dataset_free(g1);
        mlm_dataset_free(g2);
        mlm_dataset_free(file);
        mlm_dataset_free(mem);
        mlm_dataset_free(ds);
        mlm_tokenizer_free(tok);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Bytes per token of run_mlm.py's columns after group_texts(128), on the
 * first 300 kB of the committed WikiText-2 validation file, streamed
 * (mlm_dataset_tokenize_file: the streaming writer). Each column costs its
 * width per token plus 8 bytes of row offset per 128-token block: BERT
 * input_ids 2 (vocabulary 30,522 < 65,536), token_type_ids,
 * attention_mask and special_tokens_mask 1 each: 5 + 4·8/128 = 5.25, and
 * at most 4·(8 + 7) bytes of first offsets and padding over the whole
 * file; RoBERTa (vocabulary 50,265, no token_type_ids) 4 + 3·8/128 = 4.19.
 * The target is 6. */
START_TEST(bytes_per_token)
{
    static const struct {
        const char *tok;
        int type_ids;
        double want;
    } cases[] = {{"tokenizers/bert-base-uncased", 1, 5.25},
                 {"tokenizers/roberta-base", 0, 4.0 + 3.0 * 8 / 128}};
    char buf[4096];
    REQUIRE_TEST_DATA(p, "corpora/wikitext-2-raw/wiki.valid.raw", buf);
    size_t len;
    char *text = test_read_file(p, &len);
    ck_assert_ptr_nonnull(text);
    char *dir = test_tmpdir(), src[512], out[512];
    snprintf(src, sizeof src, "%s/corpus.txt", dir);
    snprintf(out, sizeof out, "%s/grouped.mlmds", dir);
    FILE *f = fopen(src, "wb");
    fwrite(text, 1, len < 300000 ? len : 300000, f);
    fclose(f);
    free(text);
    static const char *const cols[] = {"input_ids", "attention_mask", "special_tokens_mask",
                                       "token_type_ids"};
    for (size_t k = 0; k < 2; k++) {
        mlm_tokenizer *tok = load_tok(cases[k].tok);
        mlm_tokenize_file_stats stats = {.sz = sizeof stats};
        ck_assert_msg(mlm_dataset_tokenize_file(tok, src, "{\"block_size\": 128}", out,
                                                &stats) == MLM_OK,
                      "%s", mlm_last_error());
        ck_assert_uint_gt(stats.tokens_written, 50000);
        cJSON *root = file_header(out);
        uint64_t bytes = 0;
        for (int c = 0; c < 3 + cases[k].type_ids; c++)
            bytes += column_bytes(root, cols[c]);
        cJSON_Delete(root);
        double bpt = (double)bytes / (double)stats.tokens_written;
        double slack = 4.0 * 15 / (double)stats.tokens_written;
        fprintf(stderr, "%s: %.4f bytes per token over run_mlm's columns (%" PRIu64
                " tokens in %" PRIu64 " blocks)\n",
                cases[k].tok, bpt, stats.tokens_written, stats.rows);
        ck_assert_msg(bpt <= cases[k].want + slack && bpt >= cases[k].want, "%s: %.4f",
                      cases[k].tok, bpt);
        ck_assert(bpt <= 6.0);
        mlm_tokenizer_free(tok);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(p, 1, n, f);
    fclose(f);
}

/* The header's `from` (first occurrence) replaced by `to`, of the same
 * length, written to `bad`; then opened: the status, the message naming. */
static void expect_patched(const char *img, size_t len, const char *bad, const char *from,
                           const char *to, mlm_status want, const char *names)
{
    char *copy = malloc(len);
    memcpy(copy, img, len);
    char *at = memmem(copy, len, from, strlen(from));
    ck_assert_ptr_nonnull(at);
    ck_assert_uint_eq(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
    write_bytes(bad, copy, len);
    free(copy);
    mlm_dataset *o = (mlm_dataset *)1;
    ck_assert_int_eq(mlm_dataset_open(bad, &o), want);
    ck_assert_ptr_null(o);
    ck_assert_msg(strstr(mlm_last_error(), names), "'%s' not in: %s", names, mlm_last_error());
}

START_TEST(v2_validation)
{
    char *dir = test_tmpdir(), path[512], bad[512];
    snprintf(path, sizeof path, "%s/ok.mlmds", dir);
    snprintf(bad, sizeof bad, "%s/bad.mlmds", dir);
    int32_t a[] = {1, 0, 1}, b[] = {300, 2};
    const int32_t *s1[] = {a}, *s2[] = {b};
    size_t l1[] = {3}, l2[] = {2};
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "mask", s1, l1, 1), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "ids", s2, l2, 1), MLM_OK);
    ck_assert_int_eq(mlm_dataset_save(ds, path), MLM_OK);
    mlm_dataset_free(ds);
    size_t len;
    char *img = test_read_file(path, &len);
    ck_assert_ptr_nonnull(img);
    /* an unknown width: a later version's, MLM_ERR_UNSUPPORTED */
    expect_patched(img, len, bad, "\"width\":1", "\"width\":8", MLM_ERR_UNSUPPORTED, "'mask'");
    expect_patched(img, len, bad, "\"width\":2", "\"width\":3", MLM_ERR_UNSUPPORTED, "'ids'");
    /* no width, or not an integer: a broken file */
    expect_patched(img, len, bad, "\"width\":1", "\"widtH\":1", MLM_ERR_FORMAT, "'mask'");
    expect_patched(img, len, bad, "\"width\":1", "\"width\":0", MLM_ERR_UNSUPPORTED, "'mask'");
    /* a width that disagrees with the buffer's length */
    expect_patched(img, len, bad, "\"width\":2", "\"width\":4", MLM_ERR_FORMAT, "'ids'");
    /* a version 1 header over version 2 buffers: int32 values expected */
    expect_patched(img, len, bad, "\"version\":2", "\"version\":1", MLM_ERR_FORMAT, "'mask'");
    expect_patched(img, len, bad, "\"version\":2", "\"version\":3", MLM_ERR_UNSUPPORTED,
                   "version 3");
    free(img);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *dataset_v2_suite(void)
{
    Suite *s = suite_create("dataset_v2");
    TCase *tc = tcase_create("dataset_v2");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, v1_file_reads);
    tcase_add_test(tc, widths_and_boundaries);
    tcase_add_test(tc, tokenized_korean_rows);
    tcase_add_test(tc, bytes_per_token);
    tcase_add_test(tc, v2_validation);
    suite_add_tcase(s, tc);
    return s;
}
