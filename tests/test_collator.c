/* The masking collator: padding, HF's 80/10/10 chain measured over a
 * million tokens, special and pad tokens never picked, eos-as-pad,
 * determinism per (seed, batch_index), whole-word masking. */
#include "suites.h"
#include "testutil.h"

#include <mlm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A BERT-like id layout: [PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 [MASK]=103. */
#define PAD 0
#define CLS 101
#define SEP 102
#define MASK 103
#define VOCAB 32000
static const char *BERT_OPTS = "{\"mask_token_id\": 103, \"pad_token_id\": 0, "
                               "\"cls_token_id\": 101, \"sep_token_id\": 102, "
                               "\"unk_token_id\": 100, \"vocab_size\": 32000, \"seed\": 7}";

/* rows of [CLS] w... [SEP] with lengths 2 + (i * 37) % max_words */
static mlm_dataset *token_rows(size_t n, size_t max_words, int with_stm, int with_tti)
{
    int32_t **ids = malloc(n * sizeof *ids), **stm = malloc(n * sizeof *stm);
    int32_t **tti = malloc(n * sizeof *tti);
    size_t *lens = malloc(n * sizeof *lens);
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        size_t w = 1 + (i * 37) % max_words, L = w + 2;
        ids[i] = malloc(L * sizeof(int32_t));
        stm[i] = calloc(L, sizeof(int32_t));
        tti[i] = calloc(L, sizeof(int32_t));
        ids[i][0] = CLS;
        ids[i][L - 1] = SEP;
        stm[i][0] = stm[i][L - 1] = 1;
        for (size_t j = 1; j + 1 < L; j++) {
            x = x * 1103515245u + 12345u;
            ids[i][j] = 1000 + (int32_t)((x >> 8) % 20000); /* never special */
            tti[i][j] = j > L / 2;
        }
        lens[i] = L;
    }
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", (const int32_t *const *)ids,
                                                     lens, n), MLM_OK);
    if (with_stm)
        ck_assert_int_eq(mlm_dataset_add_sequence_column(
                             ds, "special_tokens_mask", (const int32_t *const *)stm, lens, n),
                         MLM_OK);
    if (with_tti)
        ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "token_type_ids",
                                                         (const int32_t *const *)tti, lens, n),
                         MLM_OK);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(stm[i]);
        free(tti[i]);
    }
    free(ids);
    free(stm);
    free(tti);
    free(lens);
    return ds;
}

START_TEST(pads_dynamically)
{
    mlm_dataset *ds = token_rows(10, 20, 0, 1);
    mlm_collator *c;
    ck_assert_int_eq(mlm_collator_new_ids("{\"mask_token_id\": 103, \"pad_token_id\": 0, "
                                          "\"vocab_size\": 32000, \"pad_to_multiple_of\": 8}", &c),
                     MLM_OK);
    size_t rows[] = {0, 1, 2}; /* 3, 40 % 20 + 3 = 3... lengths 3, 20, 17 */
    mlm_batch *b;
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 3, 0, &b), MLM_OK);
    ck_assert_uint_eq(mlm_batch_rows(b), 3);
    size_t L = mlm_batch_seq_len(b);
    ck_assert_uint_eq(L % 8, 0);
    const int32_t *len_src;
    size_t l0;
    ck_assert_int_eq(mlm_dataset_get_sequence(ds, "input_ids", 0, &len_src, &l0), MLM_OK);
    const int32_t *ids = mlm_batch_input_ids(b), *am = mlm_batch_attention_mask(b);
    const int32_t *lab = mlm_batch_labels(b), *stm = mlm_batch_special_tokens_mask(b);
    ck_assert_ptr_nonnull(mlm_batch_token_type_ids(b));
    for (size_t j = 0; j < L; j++) {
        if (j < l0) {
            ck_assert_int_eq(am[j], 1);
        } else {
            ck_assert_int_eq(ids[j], PAD);
            ck_assert_int_eq(am[j], 0);
            ck_assert_int_eq(lab[j], -100);
            ck_assert_int_eq(stm[j], 1);
        }
    }
    /* JSON, two-call sizing */
    size_t need;
    ck_assert_int_eq(mlm_batch_to_json(b, NULL, 0, &need), MLM_OK);
    char *js = malloc(need);
    ck_assert_int_eq(mlm_batch_to_json(b, js, need, &need), MLM_OK);
    ck_assert_uint_eq(strlen(js) + 1, need);
    ck_assert(strncmp(js, "{\"input_ids\":[[101,", 19) == 0);
    ck_assert_ptr_nonnull(strstr(js, "\"token_type_ids\":"));
    mlm_dataset *back;
    ck_assert_int_eq(mlm_dataset_from_json(js, strlen(js), &back), MLM_OK);
    ck_assert_uint_eq(mlm_dataset_num_rows(back), 3);
    mlm_dataset_free(back);
    free(js);
    mlm_batch_free(b);
    mlm_collator_free(c);
    /* left padding */
    ck_assert_int_eq(mlm_collator_new_ids("{\"mask_token_id\": 103, \"pad_token_id\": 0, "
                                          "\"cls_token_id\": 101, \"sep_token_id\": 102, "
                                          "\"vocab_size\": 32000, \"padding_side\": \"left\"}", &c),
                     MLM_OK);
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 3, 0, &b), MLM_OK);
    L = mlm_batch_seq_len(b);
    ck_assert_int_eq(mlm_batch_input_ids(b)[L - 1], SEP);
    ck_assert_int_eq(mlm_batch_input_ids(b)[0], PAD);
    ck_assert_int_eq(mlm_batch_attention_mask(b)[L - l0], 1);
    ck_assert_int_eq(mlm_batch_attention_mask(b)[L - l0 - 1], 0);
    mlm_batch_free(b);
    mlm_collator_free(c);
    mlm_dataset_free(ds);
}
END_TEST

/* Over >= 1M tokens: 15% picked, of those 80% [MASK], 10% random, 10% kept. */
static void measure(int with_stm)
{
    mlm_dataset *ds = token_rows(4000, 500, with_stm, 0);
    mlm_collator *c;
    ck_assert_int_eq(mlm_collator_new_ids(BERT_OPTS, &c), MLM_OK);
    size_t eligible = 0, picked = 0, masked = 0, random_ = 0, kept = 0, bad = 0;
    size_t rows[64];
    for (size_t b0 = 0; b0 < 4000; b0 += 64) {
        size_t n = 4000 - b0 < 64 ? 4000 - b0 : 64;
        for (size_t i = 0; i < n; i++)
            rows[i] = b0 + i;
        mlm_batch *b;
        ck_assert_int_eq(mlm_collator_collate(c, ds, rows, n, b0 / 64, &b), MLM_OK);
        size_t L = mlm_batch_seq_len(b);
        const int32_t *ids = mlm_batch_input_ids(b), *lab = mlm_batch_labels(b);
        const int32_t *am = mlm_batch_attention_mask(b);
        for (size_t i = 0; i < n; i++) {
            const int32_t *orig;
            size_t len;
            mlm_dataset_get_sequence(ds, "input_ids", rows[i], &orig, &len);
            for (size_t j = 0; j < L; j++) {
                size_t k = i * L + j;
                int special = j >= len || orig[j] == CLS || orig[j] == SEP;
                if (special) {
                    /* never picked: label -100, input unchanged (or pad) */
                    bad += lab[k] != -100 || ids[k] != (j >= len ? PAD : orig[j]) ||
                           am[k] != (j < len);
                    continue;
                }
                eligible++;
                if (lab[k] == -100) {
                    bad += ids[k] != orig[j]; /* unselected: unchanged */
                    continue;
                }
                bad += lab[k] != orig[j] || ids[k] < 0 || ids[k] >= VOCAB;
                picked++;
                if (ids[k] == MASK)
                    masked++;
                else if (ids[k] == orig[j])
                    kept++; /* (a random draw equal to the original counts here: p = 1/32000) */
                else
                    random_++;
            }
        }
        mlm_batch_free(b);
    }
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_ge(eligible, 1000000);
    double fp = (double)picked / (double)eligible;
    double fm = (double)masked / (double)picked, fr = (double)random_ / (double)picked,
           fk = (double)kept / (double)picked;
    fprintf(stderr, "collator (special_tokens_mask %s): %zu tokens, picked %.5f, mask %.4f, "
                    "random %.4f, kept %.4f\n", with_stm ? "column" : "ids", eligible, fp, fm, fr,
            fk);
    ck_assert_msg(fp > 0.148 && fp < 0.152, "picked %f", fp);
    ck_assert_msg(fm > 0.79 && fm < 0.81, "mask %f", fm);
    ck_assert_msg(fr > 0.09 && fr < 0.11, "random %f", fr);
    ck_assert_msg(fk > 0.09 && fk < 0.11, "kept %f", fk);
    mlm_collator_free(c);
    mlm_dataset_free(ds);
}

START_TEST(mlm_statistics_special_ids) { measure(0); }
END_TEST

START_TEST(mlm_statistics_special_mask) { measure(1); }
END_TEST

/* GPT-2-like: no pad token, eos 50256 used as pad; rows end with a real EOS. */
START_TEST(eos_as_pad)
{
    int32_t a[] = {10, 11, 50256}, bb[] = {12, 50256};
    const int32_t *seqs[] = {a, bb};
    size_t lens[] = {3, 2};
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", seqs, lens, 2), MLM_OK);
    mlm_collator *c;
    ck_assert_int_eq(mlm_collator_new_ids("{\"eos_token_id\": 50256, \"mlm\": false}", &c),
                     MLM_OK);
    ck_assert_int_eq(mlm_collator_pad_token_id(c), 50256);
    size_t rows[] = {0, 1};
    mlm_batch *b;
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 2, 0, &b), MLM_OK);
    const int32_t *lab = mlm_batch_labels(b), *ids = mlm_batch_input_ids(b);
    /* row 1 = [12, eos, pad=eos]: the real EOS keeps its label, the pad does not */
    ck_assert_int_eq(ids[5], 50256);
    ck_assert_int_eq(lab[2], 50256);
    ck_assert_int_eq(lab[4], 50256);
    ck_assert_int_eq(lab[5], -100);
    mlm_batch_free(b);
    mlm_collator_free(c);
    /* HF's behaviour (transformers#23530): every EOS is padding */
    ck_assert_int_eq(mlm_collator_new_ids("{\"eos_token_id\": 50256, \"mlm\": false, "
                                          "\"hf_eos_compat\": true}", &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 2, 0, &b), MLM_OK);
    lab = mlm_batch_labels(b);
    ck_assert_int_eq(lab[0], 10);
    ck_assert_int_eq(lab[2], -100);
    ck_assert_int_eq(lab[4], -100);
    mlm_batch_free(b);
    mlm_collator_free(c);
    /* neither pad nor eos: an error */
    ck_assert_int_eq(mlm_collator_new_ids("{\"mlm\": false}", &c), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "pad_token_id"));
    ck_assert_int_eq(mlm_collator_new_ids("{\"pad_token_id\": 0, \"vocab_size\": 9}", &c),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "mask_token_id"));
    ck_assert_int_eq(mlm_collator_new_ids("{\"pad_token_id\": 0, \"mask_token_id\": 1}", &c),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_collator_new_ids("{\"pad_token_id\": 0, \"mlm_probability\": 1.5}", &c),
                     MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_collator_new_ids("{\"pad_token_id\": 0, \"mlm\": false, \"x\": 1}", &c),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "\"x\""));
    mlm_dataset_free(ds);
}
END_TEST

typedef struct job {
    const mlm_collator *c;
    const mlm_dataset *ds;
    uint64_t batch;
    mlm_batch *out;
} job;

static void *collate_thread(void *arg)
{
    job *j = arg;
    size_t rows[] = {3, 1, 4, 1, 5, 9, 2, 6};
    mlm_collator_collate(j->c, j->ds, rows, 8, j->batch, &j->out);
    return NULL;
}

static int same_batch(const mlm_batch *a, const mlm_batch *b)
{
    size_t n = mlm_batch_rows(a) * mlm_batch_seq_len(a);
    return mlm_batch_seq_len(a) == mlm_batch_seq_len(b) &&
           memcmp(mlm_batch_input_ids(a), mlm_batch_input_ids(b), n * 4) == 0 &&
           memcmp(mlm_batch_labels(a), mlm_batch_labels(b), n * 4) == 0;
}

START_TEST(deterministic_per_batch_index)
{
    mlm_dataset *ds = token_rows(16, 300, 1, 0);
    mlm_collator *c, *c2;
    ck_assert_int_eq(mlm_collator_new_ids(BERT_OPTS, &c), MLM_OK);
    ck_assert_int_eq(mlm_collator_new_ids("{\"mask_token_id\": 103, \"pad_token_id\": 0, "
                                          "\"vocab_size\": 32000, \"seed\": 8}", &c2), MLM_OK);
    job jobs[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){c, ds, (uint64_t)(i % 2), NULL};
        pthread_create(&t[i], NULL, collate_thread, &jobs[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 2; i < 8; i++)
        ck_assert(same_batch(jobs[i].out, jobs[i % 2].out));
    ck_assert(!same_batch(jobs[0].out, jobs[1].out)); /* another batch index */
    job other = {c2, ds, 0, NULL};
    collate_thread(&other);
    ck_assert(!same_batch(jobs[0].out, other.out)); /* another seed */
    mlm_batch_free(other.out);
    for (int i = 0; i < 8; i++)
        mlm_batch_free(jobs[i].out);
    mlm_collator_free(c);
    mlm_collator_free(c2);
    mlm_dataset_free(ds);
}
END_TEST

START_TEST(whole_word_masking)
{
    /* [CLS] 우리 ##은하 ##와 가장 가까운 ... [SEP]: word ids group pieces */
    enum { N = 400, W = 40 };
    int32_t *ids[N], *wid[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        size_t L = 2 + 3 * W;
        ids[i] = malloc(L * 4);
        wid[i] = malloc(L * 4);
        ids[i][0] = CLS;
        wid[i][0] = -1;
        for (int w = 0; w < W; w++)
            for (int p = 0; p < 3; p++) {
                ids[i][1 + 3 * w + p] = 2000 + w * 3 + p;
                wid[i][1 + 3 * w + p] = w;
            }
        ids[i][L - 1] = SEP;
        wid[i][L - 1] = -1;
        lens[i] = L;
    }
    mlm_dataset *ds;
    ck_assert_int_eq(mlm_dataset_new(&ds), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "input_ids", (const int32_t *const *)ids,
                                                     lens, N), MLM_OK);
    mlm_collator *c;
    ck_assert_int_eq(mlm_collator_new_ids("{\"mask_token_id\": 103, \"pad_token_id\": 0, "
                                          "\"cls_token_id\": 101, \"sep_token_id\": 102, "
                                          "\"vocab_size\": 32000, \"whole_word_mask\": true}", &c),
                     MLM_OK);
    size_t rows[N];
    for (int i = 0; i < N; i++)
        rows[i] = (size_t)i;
    mlm_batch *b;
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, N, 0, &b), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "word_ids"));
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "word_ids", (const int32_t *const *)wid,
                                                     lens, N), MLM_OK);
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, N, 0, &b), MLM_OK);
    size_t L = mlm_batch_seq_len(b);
    const int32_t *lab = mlm_batch_labels(b);
    size_t picked = 0;
    for (int i = 0; i < N; i++) {
        size_t row_picked = 0;
        ck_assert_int_eq(lab[i * L], -100);
        ck_assert_int_eq(lab[i * L + L - 1], -100);
        for (int w = 0; w < W; w++) {
            int n = 0;
            for (int p = 0; p < 3; p++)
                n += lab[i * L + 1 + 3 * w + p] != -100;
            ck_assert_msg(n == 0 || n == 3, "a word was split: %d of 3 pieces", n);
            row_picked += (size_t)n;
        }
        /* num_to_predict = round(122 * 0.15) = 18: whole words of 3 → 18 */
        ck_assert_uint_eq(row_picked, 18);
        picked += row_picked;
    }
    ck_assert_uint_eq(picked, 18 * N);
    mlm_batch_free(b);
    mlm_collator_free(c);
    mlm_dataset_free(ds);
    for (int i = 0; i < N; i++) {
        free(ids[i]);
        free(wid[i]);
    }
}
END_TEST

START_TEST(collate_errors)
{
    mlm_dataset *ds = token_rows(4, 10, 0, 0), *txt;
    mlm_collator *c;
    ck_assert_int_eq(mlm_collator_new_ids(BERT_OPTS, &c), MLM_OK);
    size_t rows[] = {0, 9};
    mlm_batch *b;
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 0, 0, &b), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 2, 0, &b), MLM_ERR_RANGE);
    ck_assert_int_eq(mlm_dataset_new(&txt), MLM_OK);
    const char *t[] = {"우리 은하와 가장 가까운 은하가 있다."};
    ck_assert_int_eq(mlm_dataset_add_string_column(txt, "text", t, 1), MLM_OK);
    ck_assert_int_eq(mlm_collator_collate(c, txt, rows, 1, 0, &b), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "input_ids"));
    /* an attention_mask of the wrong length names the column and row */
    int32_t m[] = {1};
    const int32_t *ms[] = {m, m, m, m};
    size_t ml[] = {1, 1, 1, 1};
    ck_assert_int_eq(mlm_dataset_add_sequence_column(ds, "attention_mask", ms, ml, 4), MLM_OK);
    ck_assert_int_eq(mlm_collator_collate(c, ds, rows, 1, 0, &b), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "attention_mask"));
    mlm_collator_free(c);
    mlm_collator_free(NULL);
    mlm_batch_free(NULL);
    mlm_dataset_free(txt);
    mlm_dataset_free(ds);
}
END_TEST

Suite *collator_suite(void)
{
    Suite *s = suite_create("collator");
    TCase *tc = tcase_create("collator");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pads_dynamically);
    tcase_add_test(tc, mlm_statistics_special_ids);
    tcase_add_test(tc, mlm_statistics_special_mask);
    tcase_add_test(tc, eos_as_pad);
    tcase_add_test(tc, deterministic_per_batch_index);
    tcase_add_test(tc, whole_word_masking);
    tcase_add_test(tc, collate_errors);
    suite_add_tcase(s, tc);
    return s;
}
