/* Datasets: building, access, loaders (JSON, JSON Lines, CSV/TSV, text,
 * gzip), flatten, transforms, map on threads, group_texts, the file
 * format and the streaming writer, allocation faults. */
#include "suites.h"
#include "testutil.h"

#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"

/* The seed tutorial's example (answers.text holds lists of sentences). */
static const char *const ANS0[] = {"우리 은하와 가장 가까운 은하가 있다.",
                                   "그 은하 이름은 안드로메다 은하이다."};
static const char *const ANS1[] = {"어제 엄마한테 혼났다.", "다음에는 나쁜짓을 안해야겠다."};

static mlm_dataset *seed_dataset(void)
{
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    const char *const *lists[] = {ANS0, ANS1};
    size_t counts[] = {2, 2};
    ck_assert_int_eq(mlm_dataset_add_string_list_column(ds, "answers.text", lists, counts, 2),
                     MLM_OK);
    const char *q[] = {"오늘 날씨는?", "내일 일정은?"};
    ck_assert_int_eq(mlm_dataset_add_string_column(ds, "question", q, 2), MLM_OK);
    int64_t id[] = {1, 2};
    ck_assert_int_eq(mlm_dataset_add_int_column(ds, "id", id, 2), MLM_OK);
    return ds;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void expect_string(const mlm_dataset *ds, const char *col, size_t row, const char *want)
{
    const char *s;
    size_t len;
    ck_assert_msg(mlm_dataset_get_string(ds, col, row, &s, &len) == MLM_OK, "%s",
                  mlm_last_error());
    ck_assert_str_eq(s, want);
    ck_assert_uint_eq(len, strlen(want));
}

static int64_t get_i(const mlm_dataset *ds, const char *col, size_t row)
{
    int64_t v;
    ck_assert_msg(mlm_dataset_get_int(ds, col, row, &v) == MLM_OK, "%s", mlm_last_error());
    return v;
}

START_TEST(build_and_access)
{
    mlm_dataset *ds = seed_dataset();
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    ck_assert_uint_eq(mlm_dataset_num_columns(ds), 3);
    ck_assert_str_eq(mlm_dataset_column_name(ds, 0), "answers.text");
    ck_assert_ptr_null(mlm_dataset_column_name(ds, 3));
    mlm_column_type t;
    ck_assert_int_eq(mlm_dataset_column_type(ds, "answers.text", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_STRING_LIST);
    size_t n;
    ck_assert_int_eq(mlm_dataset_get_string_list_count(ds, "answers.text", 1, &n), MLM_OK);
    ck_assert_uint_eq(n, 2);
    const char *s;
    size_t len;
    ck_assert_int_eq(mlm_dataset_get_string_list_item(ds, "answers.text", 0, 1, &s, &len), MLM_OK);
    ck_assert_str_eq(s, "그 은하 이름은 안드로메다 은하이다.");
    expect_string(ds, "question", 1, "내일 일정은?");
    ck_assert_int_eq(get_i(ds, "id", 1), 2);
    /* errors name the column */
    ck_assert_int_eq(mlm_dataset_get_string(ds, "답변", 0, &s, &len), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "답변"));
    ck_assert_int_eq(mlm_dataset_get_string(ds, "id", 0, &s, &len), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "'id'"));
    ck_assert_int_eq(mlm_dataset_get_string(ds, "question", 2, &s, &len), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_dataset_get_string_list_item(ds, "answers.text", 0, 2, &s, &len),
                     MLM_ERR_RANGE);
    const char *one[] = {"x"};
    ck_assert_int_eq(mlm_dataset_add_string_column(ds, "short", one, 1), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_dataset_add_string_column(ds, "question", one, 2),
                     MLM_ERR_INVALID_ARGUMENT);
    int32_t a[] = {101, 7, 102}, b[] = {101, 102};
    const int32_t *seqs[] = {a, b};
    size_t lens[] = {3, 2};
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", seqs, lens, 2), MLM_OK);
    const int32_t *d;
    ck_assert_int_eq(mlm_dataset_get_sequence(ds, "input_ids", 0, &d, &len), MLM_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(d[1], 7);
    double fv[] = {4.9, NAN};
    ck_assert_int_eq(mlm_dataset_add_float_column(ds, "score", fv, 2), MLM_OK);
    double f;
    ck_assert_int_eq(mlm_dataset_get_float(ds, "score", 0, &f), MLM_OK);
    ck_assert(f == 4.9);
    mlm_dataset_free(ds);
    mlm_dataset_free(NULL);
}
END_TEST

START_TEST(from_json_shapes)
{
    const char *dict = "{\"answers.text\": [[\"우리 은하와 가장 가까운 은하가 있다.\", \"그 은하 "
                       "이름은 안드로메다 은하이다.\"], [\"어제 엄마한테 혼났다.\"]], \"id\": [1, 2]}";
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_from_json(dict, strlen(dict), &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    mlm_column_type t;
    ck_assert_int_eq(mlm_dataset_column_type(ds, "answers.text", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_STRING_LIST);
    ck_assert_int_eq(get_i(ds, "id", 1), 2);
    mlm_dataset_free(ds);

    /* from_list, nested objects flattened, a missing key is null */
    const char *list =
        "[{\"q\": \"오늘 날씨는?\", \"answers\": {\"text\": [\"좋다\"], \"score\": [3, 1]}, "
        "\"label\": 1.5},"
        " {\"q\": \"내일 일정은?\", \"answers\": {\"text\": [\"회의 있다\"], \"score\": []}}]";
    ck_assert_int_eq(mlm_dataset_from_json(list, strlen(list), &ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_column_type(ds, "answers.text", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_STRING_LIST);
    ck_assert_int_eq(mlm_dataset_column_type(ds, "answers.score", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_SEQUENCE);
    ck_assert_int_eq(mlm_dataset_column_type(ds, "label", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_FLOAT);
    double f;
    ck_assert_int_eq(mlm_dataset_get_float(ds, "label", 1, &f), MLM_OK);
    ck_assert(isnan(f));
    const char *s;
    size_t len;
    ck_assert_int_eq(mlm_dataset_get_string_list_item(ds, "answers.text", 1, 0, &s, &len), MLM_OK);
    ck_assert_str_eq(s, "회의 있다");
    mlm_dataset_free(ds);

    const char *bad[] = {"{\"a\": [1, 2], \"b\": [1]}", "{\"a\": 1}", "[1, 2]", "[{\"a\": ",
                         "[{\"a\": [1], \"a\": 2}]", "[{\"a\": [1]}, {\"a\": 2}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ds = (mlm_dataset *)1;
        ck_assert_msg(mlm_dataset_from_json(bad[i], strlen(bad[i]), &ds) == MLM_ERR_FORMAT,
                      "%s", bad[i]);
        ck_assert_ptr_null(ds);
    }
}
END_TEST

static mlm_dataset *numbered(size_t n)
{
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    int64_t *v = malloc(n * sizeof *v);
    char **s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        v[i] = (int64_t)i;
        s[i] = malloc(32);
        snprintf(s[i], 32, "문장 %zu", i);
    }
    ck_assert_int_eq(mlm_dataset_add_int_column(ds, "idx", v, n), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_string_column(ds, "text", (const char *const *)s, n), MLM_OK);
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
    free(v);
    return ds;
}

static mlm_status keep_even(const mlm_dataset *ds, size_t row, void *user, int *keep)
{
    (void)user;
    int64_t v;
    mlm_status st = mlm_dataset_get_int(ds, "idx", row, &v);
    *keep = v % 2 == 0;
    return st;
}

START_TEST(select_shuffle_filter_remove)
{
    mlm_dataset *ds = numbered(100), *sel, *sh, *sh2, *sh3, *ev, *rm, *sel2;
    size_t idx[] = {5, 3, 5, 99};
    ck_assert_int_eq(mlm_dataset_select(ds, idx, 4, &sel), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(sel), 4);
    ck_assert_int_eq(get_i(sel, "idx", 2), 5);
    expect_string(sel, "text", 3, "문장 99");
    size_t idx2[] = {3, 0};
    ck_assert_int_eq(mlm_dataset_select(sel, idx2, 2, &sel2), MLM_OK); /* composed */
    ck_assert_int_eq(get_i(sel2, "idx", 0), 99);
    ck_assert_int_eq(get_i(sel2, "idx", 1), 5);
    size_t badidx[] = {1, 100};
    ck_assert_int_eq(mlm_dataset_select(ds, badidx, 2, &rm), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "position 1"));

    ck_assert_int_eq(mlm_dataset_shuffle(ds, 42, &sh), MLM_OK);
    ck_assert_int_eq(mlm_dataset_shuffle(ds, 42, &sh2), MLM_OK);
    ck_assert_int_eq(mlm_dataset_shuffle(ds, 43, &sh3), MLM_OK);
    int seen[100] = {0}, moved = 0, differ = 0;
    for (size_t i = 0; i < 100; i++) {
        int64_t v = get_i(sh, "idx", i);
        seen[v]++;
        moved += v != (int64_t)i;
        ck_assert_int_eq(v, get_i(sh2, "idx", i));
        differ += v != get_i(sh3, "idx", i);
        char want[32];
        snprintf(want, sizeof want, "문장 %d", (int)v);
        expect_string(sh, "text", i, want);
    }
    for (size_t i = 0; i < 100; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 90);
    ck_assert_int_gt(differ, 90);

    ck_assert_int_eq(mlm_dataset_filter(sh, keep_even, NULL, &ev), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ev), 50);
    for (size_t i = 0; i < 50; i++)
        ck_assert_int_eq(get_i(ev, "idx", i) % 2, 0);

    const char *names[] = {"idx"};
    ck_assert_int_eq(mlm_dataset_remove_columns(ev, names, 1, &rm), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_columns(rm), 1);
    ck_assert_uint_eq(mlm_dataset_num_rows(rm), 50);
    mlm_dataset *x;
    const char *missing[] = {"없는 열"};
    ck_assert_int_eq(mlm_dataset_remove_columns(ev, missing, 1, &x), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "없는 열"));
    mlm_dataset_free(ds); /* views keep their storage alive */
    char want[32];
    snprintf(want, sizeof want, "문장 %d", (int)get_i(ev, "idx", 0));
    expect_string(rm, "text", 0, want);
    mlm_dataset_free(rm);
    mlm_dataset_free(ev);
    mlm_dataset_free(sh);
    mlm_dataset_free(sh2);
    mlm_dataset_free(sh3);
    mlm_dataset_free(sel);
    mlm_dataset_free(sel2);
}
END_TEST

START_TEST(train_test_split_sizes)
{
    mlm_dataset *ds = numbered(10), *tr, *te;
    ck_assert_int_eq(mlm_dataset_train_test_split(ds, 0.2, 7, 1, &tr, &te), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(tr), 8);
    ck_assert_uint_eq(mlm_dataset_num_rows(te), 2);
    int seen[10] = {0};
    for (size_t i = 0; i < 8; i++)
        seen[get_i(tr, "idx", i)]++;
    for (size_t i = 0; i < 2; i++)
        seen[get_i(te, "idx", i)]++;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
    mlm_dataset *tr2, *te2;
    ck_assert_int_eq(mlm_dataset_train_test_split(ds, 0.2, 7, 1, &tr2, &te2), MLM_OK);
    for (size_t i = 0; i < 2; i++)
        ck_assert_int_eq(get_i(te, "idx", i), get_i(te2, "idx", i));
    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    mlm_dataset_free(tr2);
    mlm_dataset_free(te2);
    /* ceil for the test set: 0.25 * 10 = 2.5 -> 3 */
    ck_assert_int_eq(mlm_dataset_train_test_split(ds, 0.25, 1, 0, &tr, &te), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(te), 3);
    ck_assert_uint_eq(mlm_dataset_num_rows(tr), 7);
    ck_assert_int_eq(get_i(tr, "idx", 0), 0); /* no shuffle: train first, test last */
    ck_assert_int_eq(get_i(te, "idx", 0), 7);
    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    /* counts */
    ck_assert_int_eq(mlm_dataset_train_test_split(ds, 3, 1, 1, &tr, &te), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(te), 3);
    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    ck_assert_int_eq(mlm_dataset_train_test_split(ds, 1, 1, 1, &tr, &te), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(te), 1);
    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    const double bad[] = {0, -0.1, 10, 11, 2.5, NAN, 0.95 + 0.04 + 0.009};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(mlm_dataset_train_test_split(ds, bad[i], 1, 1, &tr, &te) == MLM_ERR_RANGE,
                      "test_size %g", bad[i]);
        ck_assert_ptr_null(tr);
        ck_assert_ptr_null(te);
    }
    mlm_dataset *empty;
    ck_assert_int_eq(mlm_dataset_new(&empty), MLM_OK);
    ck_assert_int_eq(mlm_dataset_train_test_split(empty, 0.2, 1, 1, &tr, &te), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "empty"));
    mlm_dataset_free(empty);
    mlm_dataset_free(ds);
}
END_TEST

/* A map callback: the seed's preprocess_function, with a fake tokenizer:
 * " ".join(answers.text) → one id per UTF-8 byte of each word's first byte. */
static mlm_status join_and_count(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    (void)user;
    size_t n = mlm_dataset_num_rows(batch);
    int32_t **seqs = calloc(n, sizeof *seqs);
    size_t *lens = calloc(n, sizeof *lens);
    mlm_status st = MLM_OK;
    for (size_t r = 0; r < n && !st; r++) {
        size_t cnt;
        if ((st = mlm_dataset_get_string_list_count(batch, "answers.text", r, &cnt)))
            break;
        char joined[4096] = "";
        for (size_t i = 0; i < cnt; i++) {
            const char *s;
            size_t len;
            if ((st = mlm_dataset_get_string_list_item(batch, "answers.text", r, i, &s, &len)))
                break;
            if (i)
                strcat(joined, " ");
            strncat(joined, s, sizeof joined - strlen(joined) - 2);
        }
        size_t L = strlen(joined);
        seqs[r] = malloc((L + 2) * sizeof(int32_t));
        seqs[r][0] = 101;
        for (size_t i = 0; i < L; i++)
            seqs[r][i + 1] = (unsigned char)joined[i];
        seqs[r][L + 1] = 102;
        lens[r] = L + 2;
    }
    if (!st && (st = mlm_dataset_new(result)) == MLM_OK)
        st = mlm_dataset_add_sequence_column(*result, "input_ids", (const int32_t *const *)seqs,
                                             lens, n);
    for (size_t r = 0; r < n; r++)
        free(seqs[r]);
    free(seqs);
    free(lens);
    return st;
}

static mlm_dataset *answers(size_t n)
{
    const char *const *lists[2] = {ANS0, ANS1};
    const char *const **l = malloc(n * sizeof *l);
    size_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        l[i] = lists[i % 2];
        c[i] = 1 + i % 2;
    }
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_string_list_column(ds, "answers.text", l, c, n), MLM_OK);
    free(l);
    free(c);
    return ds;
}

static mlm_status fail_on_batch_3(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    int *calls = user;
    (void)calls;
    int64_t v;
    mlm_status st = mlm_dataset_get_int(batch, "idx", 0, &v);
    if (st)
        return st;
    if (v / 10 == 3)
        return mlm_dataset_get_int(batch, "없는 열", 0, &v); /* fails, naming the column */
    mlm_dataset_new(result);
    return MLM_OK;
}

static mlm_status wrong_rows(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    (void)batch;
    (void)user;
    mlm_dataset_new(result);
    int64_t v = 1;
    return mlm_dataset_add_int_column(*result, "x", &v, 1);
}

static mlm_status explode(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    (void)user;
    /* two output rows per input row */
    size_t n = mlm_dataset_num_rows(batch);
    int64_t *v = malloc(2 * n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        int64_t x;
        mlm_dataset_get_int(batch, "idx", i, &x);
        v[2 * i] = v[2 * i + 1] = x;
    }
    mlm_dataset_new(result);
    mlm_status st = mlm_dataset_add_int_column(*result, "twice", v, 2 * n);
    free(v);
    return st;
}

START_TEST(map_batched_threads)
{
    mlm_dataset *ds = answers(2501), *one, *four, *unb;
    ck_assert_int_eq(mlm_dataset_map(ds, join_and_count, NULL,
                                     "{\"batched\": true, \"remove_columns\": [\"answers.text\"]}",
                                     &one), MLM_OK);
    ck_assert_int_eq(mlm_dataset_map(ds, join_and_count, NULL,
                                     "{\"batched\": true, \"batch_size\": 100, \"num_proc\": 4, "
                                     "\"remove_columns\": \"all\"}", &four), MLM_OK);
    ck_assert_int_eq(mlm_dataset_map(ds, join_and_count, NULL, NULL, &unb), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(one), 2501);
    ck_assert_uint_eq(mlm_dataset_num_rows(four), 2501);
    ck_assert_uint_eq(mlm_dataset_num_columns(one), 1);
    ck_assert_uint_eq(mlm_dataset_num_columns(unb), 2); /* kept answers.text + input_ids */
    for (size_t r = 0; r < 2501; r++) {
        const int32_t *a, *b, *c;
        size_t la, lb, lc;
        ck_assert_int_eq(mlm_dataset_get_sequence(one, "input_ids", r, &a, &la), MLM_OK);
        ck_assert_int_eq(mlm_dataset_get_sequence(four, "input_ids", r, &b, &lb), MLM_OK);
        ck_assert_int_eq(mlm_dataset_get_sequence(unb, "input_ids", r, &c, &lc), MLM_OK);
        ck_assert_uint_eq(la, lb);
        ck_assert_uint_eq(la, lc);
        ck_assert_int_eq(memcmp(a, b, la * 4), 0);
        ck_assert_int_eq(memcmp(a, c, la * 4), 0);
        /* row parity decides the text: 1 sentence (ANS0[0]) or 2 joined */
        size_t want = r % 2 ? strlen(ANS1[0]) + 1 + strlen(ANS1[1]) : strlen(ANS0[0]);
        ck_assert_uint_eq(la, want + 2);
    }
    mlm_dataset_free(one);
    mlm_dataset_free(four);
    mlm_dataset_free(unb);
    mlm_dataset_free(ds);

    ds = numbered(95);
    mlm_dataset *o;
    int calls = 0;
    ck_assert_int_eq(mlm_dataset_map(ds, fail_on_batch_3, &calls,
                                     "{\"batched\": true, \"batch_size\": 10, \"num_proc\": 3}",
                                     &o), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_null(o);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "batch 3"));
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "없는 열"));
    ck_assert_int_eq(mlm_dataset_map(ds, wrong_rows, NULL, "{\"batched\": true}", &o),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_dataset_map(ds, explode, NULL, "{\"batched\": true, \"batch_size\": 7, "
                                     "\"remove_columns\": [\"idx\", \"text\"]}", &o), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(o), 190);
    ck_assert_int_eq(get_i(o, "twice", 189), 94);
    mlm_dataset_free(o);
    ck_assert_int_eq(mlm_dataset_map(ds, explode, NULL, "{\"bached\": true}", &o),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_dataset_map(ds, explode, NULL, "{\"remove_columns\": [\"없음\"]}", &o),
                     MLM_ERR_NOT_FOUND);
    mlm_dataset_free(ds);
}
END_TEST

START_TEST(group_texts_blocks)
{
    /* rows of 3, 4, 5 tokens: 12 in total → 2 blocks of 5, remainder 2 dropped */
    int32_t a[] = {1, 2, 3}, b[] = {4, 5, 6, 7}, c[] = {8, 9, 10, 11, 12};
    int32_t ma[] = {1, 1, 1}, mb[] = {1, 1, 1, 1}, mc[] = {1, 1, 1, 1, 1};
    const int32_t *ids[] = {a, b, c}, *mask[] = {ma, mb, mc};
    size_t lens[] = {3, 4, 5};
    mlm_dataset *ds, *g;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", ids, lens, 3), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "attention_mask", mask, lens, 3), MLM_OK);
    const char *txt[] = {"가", "나", "다"};
    ck_assert_int_eq(mlm_dataset_add_string_column(ds, "text", txt, 3), MLM_OK);
    ck_assert_int_eq(mlm_dataset_group_texts(ds, 5, &g), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(g), 2);
    ck_assert_uint_eq(mlm_dataset_num_columns(g), 2);
    const int32_t *d;
    size_t len;
    ck_assert_int_eq(mlm_dataset_get_sequence(g, "input_ids", 1, &d, &len), MLM_OK);
    ck_assert_uint_eq(len, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(d[i], 6 + i);
    mlm_dataset_free(g);
    ck_assert_int_eq(mlm_dataset_group_texts(ds, 13, &g), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(g), 0);
    mlm_dataset_free(g);
    /* per batch of 2 rows: rows 0-1 give 7 tokens → 1 block of 5; row 2 → 1 block */
    ck_assert_int_eq(mlm_dataset_group_texts_batched(ds, 5, 2, &g), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(g), 2);
    ck_assert_int_eq(mlm_dataset_get_sequence(g, "input_ids", 1, &d, &len), MLM_OK);
    ck_assert_int_eq(d[0], 8);
    mlm_dataset_free(g);
    ck_assert_int_eq(mlm_dataset_group_texts(ds, 0, &g), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_dataset_group_texts(ds, -3, &g), MLM_ERR_RANGE);
    const char *rmn[] = {"input_ids", "attention_mask"};
    mlm_dataset *only_text;
    ck_assert_int_eq(mlm_dataset_remove_columns(ds, rmn, 2, &only_text), MLM_OK);
    ck_assert_int_eq(mlm_dataset_group_texts(only_text, 4, &g), MLM_ERR_INVALID_ARGUMENT);
    mlm_dataset_free(only_text);
    /* no rows (an empty file, tokenized): as datasets' map, an empty result */
    mlm_dataset *none;
    size_t zero = 0;
    ck_assert_int_eq(mlm_dataset_select(ds, &zero, 0, &none), MLM_OK);
    ck_assert_int_eq(mlm_dataset_remove_columns(none, rmn, 2, &only_text), MLM_OK);
    ck_assert_int_eq(mlm_dataset_group_texts(only_text, 4, &g), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(g), 0);
    mlm_dataset_free(g);
    mlm_dataset_free(only_text);
    mlm_dataset_free(none);
    mlm_dataset_free(ds);
}
END_TEST

/* ---------------------------------------------------------------- loaders */

/* One place tells a file's format from its name (mlm_dataset_format_of):
 * the extension in any case, after a trailing .gz. */
START_TEST(format_from_the_name)
{
    static const struct {
        const char *path;
        mlm_file_format f;
    } cases[] = {
        {"a.jsonl", MLM_FORMAT_JSONL},       {"a.JSONL", MLM_FORMAT_JSONL},
        {"a.JsonL.gz", MLM_FORMAT_JSONL},    {"dir.json/a.ndjson", MLM_FORMAT_JSONL},
        {"a.json", MLM_FORMAT_JSON},         {"a.JSON.GZ", MLM_FORMAT_JSON},
        {"말뭉치.csv", MLM_FORMAT_CSV},      {"a.tsv", MLM_FORMAT_TSV},
        {"a.TAB", MLM_FORMAT_TSV},           {"a.txt", MLM_FORMAT_TEXT},
        {"wiki.valid.raw", MLM_FORMAT_TEXT}, {"a.docx", MLM_FORMAT_UNKNOWN},
        {"a.gz", MLM_FORMAT_UNKNOWN},        {"jsonl", MLM_FORMAT_UNKNOWN},
        {"", MLM_FORMAT_UNKNOWN},            {"a.json.txt", MLM_FORMAT_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(mlm_dataset_format_of(cases[i].path) == cases[i].f, "%s: %d, not %d",
                      cases[i].path, (int)mlm_dataset_format_of(cases[i].path),
                      (int)cases[i].f);
    ck_assert_int_eq(mlm_dataset_format_of(NULL), MLM_FORMAT_UNKNOWN);
    /* and mlm_dataset_load follows it: an upper-case JSON Lines name */
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/DATA.JSONL", dir);
    write_file(path, "{\"text\": \"우리 은하\"}\n{\"text\": \"안드로메다\"}\n");
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    expect_string(ds, "text", 1, "안드로메다");
    mlm_dataset_free(ds);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(load_jsonl_and_bad_rows)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/data.jsonl", dir);
    write_file(path, "{\"text\": \"우리 은하와 가장 가까운 은하가 있다.\", \"n\": 1}\n"
                     "\n"
                     "{\"text\": \"그 은하 이름은 안드로메다 은하이다.\", \"n\": 2}\n"
                     "{\"text\": \"깨진 줄\", \n"
                     "{\"text\": \"어제 엄마한테 혼났다.\", \"n\": 3}\r\n");
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "data.jsonl"));
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "line 4"));
    ck_assert_int_eq(mlm_dataset_load(path, "{\"on_bad_rows\": \"skip\"}", &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 3);
    ck_assert_uint_eq(mlm_dataset_skipped_rows(ds), 1);
    expect_string(ds, "text", 2, "어제 엄마한테 혼났다.");
    ck_assert_int_eq(get_i(ds, "n", 2), 3);
    mlm_dataset_free(ds);
    ck_assert_int_eq(mlm_dataset_load(path, "{\"on_bad_rows\": \"maybe\"}", &ds),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_dataset_load(path, "{\"no_such\": 1}", &ds), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "no_such"));
    snprintf(path, sizeof path, "%s/none.jsonl", dir);
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "none.jsonl"));
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(load_json_shapes_and_gzip)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/a.json", dir);
    write_file(path, "[{\"answers\": {\"text\": [\"우리 은하와 가장 가까운 은하가 있다.\", "
                     "\"그 은하 이름은 안드로메다 은하이다.\"]}, \"title_urls\": {\"url\": []}},\n"
                     " {\"answers\": {\"text\": [\"어제 엄마한테 혼났다.\"]}, \"title_urls\": "
                     "{\"url\": []}}]");
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_OK);
    mlm_column_type t;
    ck_assert_int_eq(mlm_dataset_column_type(ds, "answers.text", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_STRING_LIST);
    ck_assert_int_eq(mlm_dataset_column_type(ds, "title_urls.url", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_STRING_LIST);
    mlm_dataset_free(ds);
    /* an object with the records under a field */
    snprintf(path, sizeof path, "%s/b.json", dir);
    write_file(path, "{\"version\": \"1\", \"data\": [{\"q\": \"오늘 날씨는?\"}, {\"q\": \"내일?\"}]}");
    ck_assert_int_eq(mlm_dataset_load(path, "{\"field\": \"data\"}", &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    mlm_dataset_free(ds);
    ck_assert_int_eq(mlm_dataset_load(path, "{\"field\": \"rows\"}", &ds), MLM_ERR_NOT_FOUND);
    /* a broken array names the line */
    snprintf(path, sizeof path, "%s/c.json", dir);
    write_file(path, "[\n{\"a\": 1},\n{\"a\": }\n]");
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "line 3"));
    /* gzip, whatever the name */
    snprintf(path, sizeof path, "%s/d.jsonl.gz", dir);
    gzFile gz = gzopen(path, "wb");
    const char *text = "{\"t\": \"다음에는 나쁜짓을 안해야겠다.\"}\n{\"t\": \"끝\"}\n";
    gzwrite(gz, text, (unsigned)strlen(text));
    gzclose(gz);
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    expect_string(ds, "t", 0, "다음에는 나쁜짓을 안해야겠다.");
    mlm_dataset_free(ds);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(load_csv_tsv)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/a.csv", dir);
    write_file(path, "\xEF\xBB\xBFQ,A,label,score\r\n"
                     "12시 땡!,하루가 또 가네요.,0,1.5\r\n"
                     "\"따옴표, 쉼표\",\"줄\n바꿈 \"\"인용\"\"\",1,\r\n"
                     "\r\n"
                     "짧은 줄,답,2\n");
    mlm_dataset *ds;
    ck_assert_msg(mlm_dataset_load(path, NULL, &ds) == MLM_OK, "%s", mlm_last_error());
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 3);
    ck_assert_str_eq(mlm_dataset_column_name(ds, 0), "Q");
    expect_string(ds, "Q", 1, "따옴표, 쉼표");
    expect_string(ds, "A", 1, "줄\n바꿈 \"인용\"");
    ck_assert_int_eq(get_i(ds, "label", 2), 2);
    mlm_column_type t;
    ck_assert_int_eq(mlm_dataset_column_type(ds, "score", &t), MLM_OK);
    ck_assert_int_eq(t, MLM_COLUMN_FLOAT);
    double f;
    ck_assert_int_eq(mlm_dataset_get_float(ds, "score", 0, &f), MLM_OK);
    ck_assert(f == 1.5);
    ck_assert_int_eq(mlm_dataset_get_float(ds, "score", 1, &f), MLM_OK);
    ck_assert(isnan(f));
    mlm_dataset_free(ds);
    /* too many fields: an error naming file and line, or skipped */
    snprintf(path, sizeof path, "%s/b.tsv", dir);
    write_file(path, "sentence1\tsentence2\tgold_label\n"
                     "그리고 그가 말했다, \"엄마, 저 왔어요.\"\t그는 전화를 걸었다.\tneutral\n"
                     "a\tb\tc\td\n"
                     "\"닫히지 않은\tx\ty\n");
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "b.tsv"));
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "line 3"));
    ck_assert_int_eq(mlm_dataset_load(path, "{\"on_bad_rows\": \"skip\"}", &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 1);
    ck_assert_uint_eq(mlm_dataset_skipped_rows(ds), 2);
    expect_string(ds, "sentence1", 0, "그리고 그가 말했다, \"엄마, 저 왔어요.\"");
    mlm_dataset_free(ds);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(load_text_modes)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    write_file(path, "첫 문단 첫 줄\r\n첫 문단 둘째 줄\n\n\n둘째 문단\n");
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 5); /* empty lines kept */
    expect_string(ds, "text", 0, "첫 문단 첫 줄");
    expect_string(ds, "text", 2, "");
    expect_string(ds, "text", 4, "둘째 문단");
    mlm_dataset_free(ds);
    ck_assert_int_eq(mlm_dataset_load(path, "{\"sample_by\": \"paragraph\"}", &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 2);
    expect_string(ds, "text", 0, "첫 문단 첫 줄\n첫 문단 둘째 줄");
    expect_string(ds, "text", 1, "\n둘째 문단\n"); /* as Python's split("\n\n") */
    mlm_dataset_free(ds);
    ck_assert_int_eq(mlm_dataset_load(path, "{\"sample_by\": \"document\"}", &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 1);
    mlm_dataset_free(ds);
    ck_assert_int_eq(mlm_dataset_load(path, "{\"keep_linebreaks\": true}", &ds), MLM_OK);
    expect_string(ds, "text", 0, "첫 문단 첫 줄\n");
    mlm_dataset_free(ds);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(load_real_corpora)
{
    char buf[1024];
    REQUIRE_TEST_DATA(base, "corpora", buf);
    char path[1200];
    mlm_dataset *ds;
    mlm_column_type t;
    struct {
        const char *rel, *opts, *col;
        mlm_column_type type;
        size_t min_rows;
    } cases[] = {
        {"eli5-category/eli5-category-validation-2.json.gz", NULL, "answers.text",
         MLM_COLUMN_STRING_LIST, 400},
        {"eli5-category/dummy/eli5-category-train.json", NULL, "answers.text",
         MLM_COLUMN_STRING_LIST, 2},
        {"korean-chatbot-data/ChatbotData.csv", NULL, "label", MLM_COLUMN_INT, 2000},
        /* KorSTS has unbalanced quotes: read it as pandas with quoting=3 */
        {"korsts/sts-train.tsv", "{\"quoting\": \"none\"}", "score", MLM_COLUMN_FLOAT, 3000},
        {"kornli/xnli.dev.ko.tsv", "{\"quoting\": \"none\"}", "gold_label", MLM_COLUMN_STRING,
         500},
        {"klue-sts/klue-sts-v1.1_dev.json", NULL, "labels.label", MLM_COLUMN_FLOAT, 100},
        {"xsum-sample/sample.jsonl", NULL, "document", MLM_COLUMN_STRING, 5},
        {"wikitext-2-raw/wiki.valid.raw", NULL, "text", MLM_COLUMN_STRING, 3000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", base, cases[i].rel);
        ck_assert_msg(mlm_dataset_load(path, cases[i].opts, &ds) == MLM_OK, "%s: %s", cases[i].rel,
                      mlm_last_error());
        ck_assert_msg(mlm_dataset_num_rows(ds) >= cases[i].min_rows, "%s: %zu rows",
                      cases[i].rel, mlm_dataset_num_rows(ds));
        ck_assert_msg(mlm_dataset_column_type(ds, cases[i].col, &t) == MLM_OK, "%s: %s",
                      cases[i].rel, mlm_last_error());
        ck_assert_msg(t == cases[i].type, "%s: %s is %s", cases[i].rel, cases[i].col,
                      mlm_column_type_name(t));
        mlm_dataset_free(ds);
    }
    snprintf(path, sizeof path, "%s/korsts/sts-train.tsv", base);
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_ERR_FORMAT); /* as pandas */
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "sts-train.tsv: line 2096"));
    snprintf(path, sizeof path, "%s/korean-chatbot-data/ChatbotData.csv", base);
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_OK);
    expect_string(ds, "Q", 0, "12시 땡!");
    expect_string(ds, "A", 0, "하루가 또 가네요.");
    mlm_dataset_free(ds);
    snprintf(path, sizeof path, "%s/wikitext-2-raw/wiki.valid.raw", base);
    ck_assert_int_eq(mlm_dataset_load(path, NULL, &ds), MLM_OK);
    expect_string(ds, "text", 0, " ");
    expect_string(ds, "text", 1, " = Homarus gammarus = ");
    mlm_dataset_free(ds);
}
END_TEST

/* ------------------------------------------------------------- file format */

static void expect_same(const mlm_dataset *a, const mlm_dataset *b)
{
    ck_assert_uint_eq(mlm_dataset_num_rows(a), mlm_dataset_num_rows(b));
    ck_assert_uint_eq(mlm_dataset_num_columns(a), mlm_dataset_num_columns(b));
    for (size_t c = 0; c < mlm_dataset_num_columns(a); c++) {
        const char *name = mlm_dataset_column_name(a, c);
        ck_assert_str_eq(name, mlm_dataset_column_name(b, c));
        mlm_column_type ta, tb;
        ck_assert_int_eq(mlm_dataset_column_type(a, name, &ta), MLM_OK);
        ck_assert_int_eq(mlm_dataset_column_type(b, name, &tb), MLM_OK);
        ck_assert_int_eq(ta, tb);
        for (size_t r = 0; r < mlm_dataset_num_rows(a); r++) {
            const char *s1, *s2;
            size_t l1, l2, n1, n2;
            const int32_t *d1, *d2;
            int64_t i1, i2;
            double f1, f2;
            switch (ta) {
            case MLM_COLUMN_STRING:
                ck_assert_int_eq(mlm_dataset_get_string(a, name, r, &s1, &l1), MLM_OK);
                ck_assert_int_eq(mlm_dataset_get_string(b, name, r, &s2, &l2), MLM_OK);
                ck_assert_uint_eq(l1, l2);
                ck_assert_int_eq(memcmp(s1, s2, l1), 0);
                break;
            case MLM_COLUMN_STRING_LIST:
                ck_assert_int_eq(mlm_dataset_get_string_list_count(a, name, r, &n1), MLM_OK);
                ck_assert_int_eq(mlm_dataset_get_string_list_count(b, name, r, &n2), MLM_OK);
                ck_assert_uint_eq(n1, n2);
                for (size_t k = 0; k < n1; k++) {
                    mlm_dataset_get_string_list_item(a, name, r, k, &s1, &l1);
                    mlm_dataset_get_string_list_item(b, name, r, k, &s2, &l2);
                    ck_assert_uint_eq(l1, l2);
                    ck_assert_int_eq(memcmp(s1, s2, l1), 0);
                }
                break;
            case MLM_COLUMN_INT:
                mlm_dataset_get_int(a, name, r, &i1);
                mlm_dataset_get_int(b, name, r, &i2);
                ck_assert_int_eq(i1, i2);
                break;
            case MLM_COLUMN_FLOAT:
                mlm_dataset_get_float(a, name, r, &f1);
                mlm_dataset_get_float(b, name, r, &f2);
                ck_assert(memcmp(&f1, &f2, sizeof f1) == 0);
                break;
            case MLM_COLUMN_SEQUENCE:
                ck_assert_int_eq(mlm_dataset_get_sequence(a, name, r, &d1, &l1), MLM_OK);
                ck_assert_int_eq(mlm_dataset_get_sequence(b, name, r, &d2, &l2), MLM_OK);
                ck_assert_uint_eq(l1, l2);
                ck_assert(l1 == 0 || memcmp(d1, d2, l1 * 4) == 0);
                break;
            }
        }
    }
}

static mlm_dataset *all_types(void)
{
    mlm_dataset *ds = seed_dataset();
    int32_t a[] = {101, 9, 102}, b[] = {0};
    const int32_t *seqs[] = {a, b};
    size_t lens[] = {3, 0};
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", seqs, lens, 2), MLM_OK);
    double f[] = {-0.5, NAN};
    ck_assert_int_eq(mlm_dataset_add_float_column(ds, "score", f, 2), MLM_OK);
    return ds;
}

START_TEST(save_open_roundtrip)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/ds.mlmds", dir);
    mlm_dataset *ds = all_types(), *sh, *back;
    ck_assert_int_eq(mlm_dataset_save(ds, path), MLM_OK);
    ck_assert_int_eq(mlm_dataset_open(path, &back), MLM_OK);
    expect_same(ds, back);
    mlm_dataset_free(back);
    /* a shuffled view is written in its own order */
    ck_assert_int_eq(mlm_dataset_shuffle(ds, 3, &sh), MLM_OK);
    ck_assert_int_eq(mlm_dataset_save(sh, path), MLM_OK);
    ck_assert_int_eq(mlm_dataset_open(path, &back), MLM_OK);
    expect_same(sh, back);
    /* an opened dataset outlives nothing: transforms of it share the mapping */
    mlm_dataset *sel;
    size_t one = 1;
    ck_assert_int_eq(mlm_dataset_select(back, &one, 1, &sel), MLM_OK);
    mlm_dataset_free(back);
    const char *s;
    size_t len;
    ck_assert_int_eq(mlm_dataset_get_string(sel, "question", 0, &s, &len), MLM_OK);
    mlm_dataset_free(sel);
    mlm_dataset_free(sh);
    /* no temporary files left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", dir);
    int status;
    char *out = test_run(cmd, &status);
    ck_assert_str_eq(out, "1\n");
    free(out);
    /* a save into a missing directory fails cleanly */
    snprintf(path, sizeof path, "%s/none/ds.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_save(ds, path), MLM_ERR_IO);
    mlm_dataset_free(ds);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

START_TEST(open_rejects_corruption)
{
    char *dir = test_tmpdir(), path[512], bad[512];
    snprintf(path, sizeof path, "%s/ds.mlmds", dir);
    snprintf(bad, sizeof bad, "%s/bad.mlmds", dir);
    mlm_dataset *ds = all_types(), *o;
    ck_assert_int_eq(mlm_dataset_save(ds, path), MLM_OK);
    mlm_dataset_free(ds);
    size_t len;
    char *img = test_read_file(path, &len);
    ck_assert_ptr_nonnull(img);
    char *copy = malloc(len + 64);
    uint64_t h;
    memcpy(&h, img + 8, 8);
    /* truncated, extended, bad magic, huge header, header past the end */
    write_bytes(bad, img, len - 8);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_FORMAT);
    ck_assert_ptr_null(o);
    memcpy(copy, img, len);
    memset(copy + len, 0, 8);
    write_bytes(bad, copy, len + 8);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_FORMAT);
    memcpy(copy, img, len);
    copy[0] = 'X';
    write_bytes(bad, copy, len);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "magic"));
    uint64_t huge = UINT64_C(1) << 62;
    memcpy(copy, img, len);
    memcpy(copy + 8, &huge, 8);
    write_bytes(bad, copy, len);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_FORMAT);
    write_bytes(bad, img, 20);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_FORMAT);
    /* every single-byte change in the header is rejected or still safe to read */
    for (size_t i = 16; i < 16 + h; i++) {
        memcpy(copy, img, len);
        copy[i] = (char)(copy[i] ^ 0x5);
        write_bytes(bad, copy, len);
        mlm_status st = mlm_dataset_open(bad, &o);
        if (st == MLM_OK) {
            for (size_t c = 0; c < mlm_dataset_num_columns(o); c++) {
                const char *s;
                size_t l;
                mlm_dataset_get_string(o, mlm_dataset_column_name(o, c), 0, &s, &l);
            }
            mlm_dataset_free(o);
        } else {
            ck_assert_ptr_null(o);
        }
    }
    /* corrupt an inner string offset: open succeeds (O(1)), the read fails */
    const char *offs = strstr(img + 16, "\"question\"");
    ck_assert_ptr_nonnull(offs);
    memcpy(copy, img, len);
    write_bytes(bad, copy, len);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_OK);
    mlm_dataset_free(o);
    write_bytes(bad, "", 0);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_FORMAT);
    snprintf(bad, sizeof bad, "%s/none.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_open(bad, &o), MLM_ERR_IO);
    free(copy);
    free(img);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(streaming_writer)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/w.mlmds", dir);
    const char *names[] = {"text", "answers.text", "id", "score", "input_ids"};
    mlm_column_type types[] = {MLM_COLUMN_STRING, MLM_COLUMN_STRING_LIST, MLM_COLUMN_INT,
                               MLM_COLUMN_FLOAT, MLM_COLUMN_SEQUENCE};
    mlm_dataset_writer *w;
    ck_assert_int_eq(mlm_dataset_writer_open(path, names, types, 5, &w), MLM_OK);
    for (int r = 0; r < 1000; r++) {
        char t[64];
        int n = snprintf(t, sizeof t, "문장 %d", r);
        ck_assert_int_eq(mlm_dataset_writer_set_string(w, 0, t, (size_t)n), MLM_OK);
        size_t lens[] = {strlen(ANS0[0]), strlen(ANS0[1])};
        ck_assert_int_eq(mlm_dataset_writer_set_string_list(w, 1, ANS0, lens, (size_t)(r % 3)),
                         MLM_OK);
        ck_assert_int_eq(mlm_dataset_writer_set_int(w, 2, r), MLM_OK);
        ck_assert_int_eq(mlm_dataset_writer_set_float(w, 3, r * 0.5), MLM_OK);
        int32_t seq[4] = {101, r, r + 1, 102};
        ck_assert_int_eq(mlm_dataset_writer_set_sequence(w, 4, seq, (size_t)(r % 5)), MLM_OK);
        ck_assert_int_eq(mlm_dataset_writer_end_row(w), MLM_OK);
    }
    ck_assert_int_eq(mlm_dataset_writer_set_int(w, 0, 1), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_dataset_writer_set_int(w, 9, 1), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_dataset_writer_set_int(w, 2, 1), MLM_OK);
    ck_assert_int_eq(mlm_dataset_writer_end_row(w), MLM_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "'text'"));
    ck_assert_uint_eq(mlm_dataset_writer_num_rows(w), 1000);
    ck_assert_int_eq(mlm_dataset_writer_close(w), MLM_OK);
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_open(path, &ds), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(ds), 1000);
    expect_string(ds, "text", 999, "문장 999");
    size_t cnt;
    ck_assert_int_eq(mlm_dataset_get_string_list_count(ds, "answers.text", 5, &cnt), MLM_OK);
    ck_assert_uint_eq(cnt, 2);
    const char *s;
    size_t len;
    ck_assert_int_eq(mlm_dataset_get_string_list_item(ds, "answers.text", 5, 1, &s, &len), MLM_OK);
    ck_assert_str_eq(s, ANS0[1]);
    const int32_t *d;
    ck_assert_int_eq(mlm_dataset_get_sequence(ds, "input_ids", 998, &d, &len), MLM_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(d[1], 998);
    /* append a dataset into a second writer: the same file comes out */
    char path2[512];
    snprintf(path2, sizeof path2, "%s/w2.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_writer_open(path2, names, types, 5, &w), MLM_OK);
    ck_assert_int_eq(mlm_dataset_writer_append_dataset(w, ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_writer_close(w), MLM_OK);
    mlm_dataset *ds2;
    ck_assert_int_eq(mlm_dataset_open(path2, &ds2), MLM_OK);
    expect_same(ds, ds2);
    mlm_dataset_free(ds2);
    mlm_dataset_free(ds);
    /* discard leaves nothing */
    snprintf(path2, sizeof path2, "%s/w3.mlmds", dir);
    ck_assert_int_eq(mlm_dataset_writer_open(path2, names, types, 5, &w), MLM_OK);
    mlm_dataset_writer_discard(w);
    mlm_dataset_writer_discard(NULL);
    const char *dup[] = {"a", "a"};
    ck_assert_int_eq(mlm_dataset_writer_open(path2, dup, types, 2, &w), MLM_ERR_INVALID_ARGUMENT);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", dir);
    int status;
    char *out = test_run(cmd, &status);
    ck_assert_str_eq(out, "2\n");
    free(out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Every allocation of a loader, a transform and save/open may fail: each
 * failure is MLM_ERR_OUT_OF_MEMORY and leaks nothing (ASan checks). */
START_TEST(allocation_faults)
{
    char *dir = test_tmpdir(), csv[512], jsonl[512], out[512];
    snprintf(csv, sizeof csv, "%s/a.csv", dir);
    snprintf(jsonl, sizeof jsonl, "%s/a.jsonl", dir);
    snprintf(out, sizeof out, "%s/o.mlmds", dir);
    write_file(csv, "Q,A,label\n12시 땡!,하루가 또 가네요.,0\n\"쉼표, 있음\",답,1\n");
    write_file(jsonl, "{\"answers\": {\"text\": [\"우리 은하\", \"안드로메다\"]}, \"n\": 1}\n"
                      "{\"answers\": {\"text\": []}, \"n\": 2.5}\n");
    const char *files[] = {csv, jsonl};
    for (size_t f = 0; f < 2; f++) {
        int succeeded = 0;
        for (long k = 0; k < 400 && !succeeded; k++) {
            mlm_dataset *ds = NULL, *sh = NULL, *back = NULL;
            mem_fail_after(k);
            mlm_status st = mlm_dataset_load(files[f], NULL, &ds);
            if (!st)
                st = mlm_dataset_shuffle(ds, 1, &sh);
            if (!st)
                st = mlm_dataset_save(sh, out);
            if (!st)
                st = mlm_dataset_open(out, &back);
            mem_fail_after(-1);
            ck_assert_msg(st == MLM_OK || st == MLM_ERR_OUT_OF_MEMORY, "k=%ld: %s", k,
                          mlm_last_error());
            succeeded = st == MLM_OK;
            if (!st)
                expect_same(sh, back);
            mlm_dataset_free(ds);
            mlm_dataset_free(sh);
            mlm_dataset_free(back);
        }
        ck_assert(succeeded);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, build_and_access);
    tcase_add_test(tc, format_from_the_name);
    tcase_add_test(tc, from_json_shapes);
    tcase_add_test(tc, select_shuffle_filter_remove);
    tcase_add_test(tc, train_test_split_sizes);
    tcase_add_test(tc, map_batched_threads);
    tcase_add_test(tc, group_texts_blocks);
    tcase_add_test(tc, load_jsonl_and_bad_rows);
    tcase_add_test(tc, load_json_shapes_and_gzip);
    tcase_add_test(tc, load_csv_tsv);
    tcase_add_test(tc, load_text_modes);
    tcase_add_test(tc, load_real_corpora);
    tcase_add_test(tc, save_open_roundtrip);
    tcase_add_test(tc, open_rejects_corruption);
    tcase_add_test(tc, streaming_writer);
    tcase_add_test(tc, allocation_faults);
    suite_add_tcase(s, tc);
    return s;
}
