/* io/safetensors: byte-identical writing against fixtures from
 * gen_safetensors_fixtures.py, reading and conversions, one hand-made bad
 * file per validation rule, sharded checkpoints, allocation faults. */
#include "suites.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "io/safetensors.h"

/* ---------------------------------------------------------------- helpers */

static char *fixture_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/tests/data/safetensors/%s", test_root(), name);
    return buf;
}

static unsigned char *read_fixture(const char *name, size_t *len)
{
    char path[1024];
    unsigned char *b = (unsigned char *)test_read_file(fixture_path(name, path, sizeof path), len);
    ck_assert_msg(b != NULL, "missing fixture %s", path);
    return b;
}

/* A file whose header is `json` (padded with `pad` spaces) followed by
 * `ndata` bytes of data. */
static unsigned char *make_file(const char *json, size_t pad, size_t ndata, size_t *len)
{
    size_t n = strlen(json) + pad;
    *len = 8 + n + ndata;
    unsigned char *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, strlen(json));
    memset(b + 8 + strlen(json), ' ', pad);
    return b;
}

/* Opens a hand-made file, expects `status` and every `needles` in the message. */
static void expect_bad(const char *json, size_t ndata, mlm_status status, const char *const *needles)
{
    size_t len;
    unsigned char *b = make_file(json, 0, ndata, &len);
    st_file *f = (st_file *)(uintptr_t)1;
    mlm_status s = st_open_memory(b, len, "bad.safetensors", &f);
    ck_assert_msg(s == status, "%s: status %d (want %d): %s", json, s, status, mlm_last_error());
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "bad.safetensors"));
    for (; *needles; needles++)
        ck_assert_msg(strstr(mlm_last_error(), *needles), "'%s' not in: %s", *needles, mlm_last_error());
    free(b);
}

#define BAD(json, ndata, status, ...)                                                               \
    do {                                                                                            \
        const char *const needles_[] = {__VA_ARGS__, NULL};                                         \
        expect_bad(json, ndata, status, needles_);                                                  \
    } while (0)

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---------------------------------------------------------------- the mixed fixture */

static const uint16_t f16_bits[12] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00,
                                      0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e01, 0x3555};
static const uint16_t bf16_bits[8] = {0x0000, 0x3f80, 0xc040, 0x0001, 0x7f80, 0xff80, 0x7fc1, 0x3eaa};
static const float emb[6] = {0.5f, -1.25f, 3.0f, 0.0f, -0.0f, 1024.0f};
static const float ko[4] = {1, 2, 4, 8};
static const float seven = 7.0f, nine = 9.0f;
static const int64_t pos[5] = {0, 1, 2, -3, (int64_t)1 << 62};
static const int32_t tt[4] = {0, -1, 2147483647, -2147483647 - 1};
static const uint8_t mask[3] = {1, 0, 1}, bytes_[5] = {0, 1, 127, 128, 255};
static const double dbl[2] = {0.1, -2.5};
static const char weird[] = "weird \"name\"\\\n\t\x01\x7f";

static st_writer *mixed_writer(void)
{
    st_writer *w;
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    /* Added in an order unlike the file's, which the writer must sort. */
    ck_assert_int_eq(st_writer_add(w, "mask", ST_BOOL, 1, (uint64_t[]){3}, mask), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "bert.embeddings.word_embeddings.weight", ST_F32, 2,
                                   (uint64_t[]){2, 3}, emb), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "half", ST_F16, 1, (uint64_t[]){12}, f16_bits), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "임베딩.가중치", ST_F32, 1, (uint64_t[]){4}, ko), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "a", ST_F32, 0, NULL, &seven), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "B", ST_F32, 2, (uint64_t[]){0, 4}, NULL), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "brain", ST_BF16, 2, (uint64_t[]){2, 4}, bf16_bits), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "position_ids", ST_I64, 2, (uint64_t[]){1, 5}, pos), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "token_type", ST_I32, 2, (uint64_t[]){2, 2}, tt), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "bytes", ST_U8, 1, (uint64_t[]){5}, bytes_), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "double", ST_F64, 1, (uint64_t[]){2}, dbl), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, weird, ST_F32, 1, (uint64_t[]){1}, &nine), MLM_OK);
    ck_assert_int_eq(st_writer_add_metadata(w, "설명", "한국어 메타데이터"), MLM_OK);
    ck_assert_int_eq(st_writer_add_metadata(w, "format", "pt"), MLM_OK);
    ck_assert_int_eq(st_writer_add_metadata(
                         w, "escapes", "quote \" backslash \\ newline \n tab \t bell \x07 del \x7f"),
                     MLM_OK);
    return w;
}

static void assert_same_as_fixture(const st_writer *w, const char *fixture)
{
    size_t flen, len;
    unsigned char *want = read_fixture(fixture, &flen);
    uint8_t *got;
    ck_assert_int_eq(st_writer_to_memory(w, &got, &len), MLM_OK);
    ck_assert_uint_eq(len, flen);
    for (size_t i = 0; i < len; i++)
        ck_assert_msg(got[i] == want[i], "%s: byte %zu differs: %u vs %u", fixture, i, got[i], want[i]);
    mem_free(got);

    /* And through the atomic file path. */
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    ck_assert_int_eq(st_writer_save(w, path), MLM_OK);
    unsigned char *disk = (unsigned char *)test_read_file(path, &len);
    ck_assert_uint_eq(len, flen);
    ck_assert_int_eq(memcmp(disk, want, len), 0);
    free(disk);
    free(want);
    test_rmtree(dir);
    free(dir);
}

START_TEST(writer_matches_reference_bytes)
{
    /* tensor.rs test_serialization, test_empty. */
    static const float attn[6] = {0, 1, 2, 3, 4, 5};
    st_writer *w;
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "attn.0", ST_F32, 3, (uint64_t[]){1, 2, 3}, attn), MLM_OK);
    assert_same_as_fixture(w, "attn.safetensors");
    st_writer_free(w);

    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    assert_same_as_fixture(w, "empty.safetensors");
    ck_assert_int_eq(st_writer_add_metadata(w, "framework", "pt"), MLM_OK);
    assert_same_as_fixture(w, "metadata_only.safetensors");
    st_writer_free(w);

    w = mixed_writer();
    assert_same_as_fixture(w, "mixed.safetensors");
    st_writer_free(w);
}
END_TEST

START_TEST(read_mixed_fixture)
{
    char path[1024];
    st_file *f;
    ck_assert_int_eq(st_open(fixture_path("mixed.safetensors", path, sizeof path), &f), MLM_OK);
    ck_assert_uint_eq(st_count(f), 12);
    ck_assert_str_eq(st_metadata(f, "설명"), "한국어 메타데이터");
    ck_assert_str_eq(st_metadata(f, "format"), "pt");
    ck_assert_str_eq(st_metadata(f, "escapes"),
                     "quote \" backslash \\ newline \n tab \t bell \x07 del \x7f");
    ck_assert_ptr_null(st_metadata(f, "missing"));
    ck_assert_uint_eq(st_metadata_count(f), 3);
    const char *k, *v;
    st_metadata_at(f, 0, &k, &v);
    ck_assert_str_eq(k, "escapes");

    /* Listed by offset: widest dtype first, as written. */
    ck_assert_str_eq(st_at(f, 0)->name, "position_ids");
    ck_assert_ptr_null(st_at(f, 12));
    for (size_t i = 1; i < st_count(f); i++)
        ck_assert_uint_ge(st_at(f, i)->offset, st_at(f, i - 1)->offset + st_at(f, i - 1)->nbytes);

    const st_tensor *t = st_find(f, "임베딩.가중치");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, ST_F32);
    ck_assert_uint_eq(t->ndim, 1);
    ck_assert_uint_eq(t->shape[0], 4);
    const float *data;
    float *owned;
    ck_assert_int_eq(st_tensor_f32(t, &data, &owned), MLM_OK);
    ck_assert_ptr_null(owned); /* zero copy: the header pads data to 8 bytes */
    ck_assert(data == (const void *)t->data);
    ck_assert_int_eq(memcmp(data, ko, sizeof ko), 0);

    t = st_find(f, weird);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->numel, 1);

    t = st_find(f, "a");
    ck_assert_uint_eq(t->ndim, 0);
    ck_assert_uint_eq(t->numel, 1);
    t = st_find(f, "B");
    ck_assert_uint_eq(t->numel, 0);
    ck_assert_uint_eq(t->nbytes, 0);

    t = st_find(f, "position_ids");
    int64_t i64[5];
    ck_assert_int_eq(st_tensor_to_i64(t, i64, 5), MLM_OK);
    ck_assert_int_eq(memcmp(i64, pos, sizeof pos), 0);
    int32_t i32[5];
    ck_assert_int_eq(st_tensor_to_i32(t, i32, 5), MLM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "element 4"));
    ck_assert_int_eq(st_tensor_to_i64(t, i64, 4), MLM_ERR_INVALID_ARGUMENT);
    t = st_find(f, "token_type");
    ck_assert_int_eq(st_tensor_to_i32(t, i32, 4), MLM_OK);
    ck_assert_int_eq(memcmp(i32, tt, sizeof tt), 0);
    t = st_find(f, "bytes");
    ck_assert_int_eq(st_tensor_to_i64(t, i64, 5), MLM_OK);
    ck_assert_int_eq(i64[3], 128);
    ck_assert_int_eq(i64[4], 255);
    t = st_find(f, "mask");
    ck_assert_int_eq(st_tensor_to_i32(t, i32, 3), MLM_OK);
    ck_assert_int_eq(i32[0] + i32[1] + i32[2], 2);
    t = st_find(f, "double");
    ck_assert_int_eq(st_tensor_f32(t, &data, &owned), MLM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "F64"));
    ck_assert_int_eq(st_tensor_to_i64(t, i64, 2), MLM_ERR_UNSUPPORTED);

    const st_tensor *got;
    ck_assert_int_eq(st_get(f, "nope", &got), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "mixed.safetensors: no tensor named 'nope'"));
    st_close(f);
}
END_TEST

START_TEST(half_and_bfloat_convert_exactly)
{
    /* Every half value against an independent formula. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = st_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31, m = h & 1023;
        double want = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
        if (h & 0x8000)
            want = -want;
        if (e == 31 && m)
            ck_assert_msg(isnan(f) && (f32_bits(f) & 0x1FFF) == 0 &&
                              ((f32_bits(f) >> 13) & 1023) == (uint32_t)m,
                          "half 0x%04x", h);
        else
            ck_assert_msg(f == want && !signbit(f) == !signbit(want), "half 0x%04x: %g", h, (double)f);
    }
    ck_assert_uint_eq(f32_bits(st_bf16_to_f32(0x7fc1)), 0x7fc10000);
    ck_assert_uint_eq(f32_bits(st_bf16_to_f32(0x0001)), 0x00010000);

    char path[1024];
    st_file *f;
    ck_assert_int_eq(st_open(fixture_path("mixed.safetensors", path, sizeof path), &f), MLM_OK);
    const float *data;
    float *owned;
    const st_tensor *t = st_find(f, "half");
    ck_assert_int_eq(st_tensor_f32(t, &data, &owned), MLM_OK);
    ck_assert_ptr_nonnull(owned);
    ck_assert(data == owned);
    ck_assert_float_eq(data[2], 0x1p-24f);
    ck_assert_float_eq(data[3], 1023 * 0x1p-24f);
    ck_assert_float_eq(data[4], 0x1p-14f);
    ck_assert_float_eq(data[7], 65504.0f);
    ck_assert(isinf(data[8]) && data[8] > 0);
    ck_assert(isinf(data[9]) && data[9] < 0);
    ck_assert(isnan(data[10]));
    ck_assert(signbit(data[1]) && data[1] == 0);
    ck_assert_float_eq(data[11], 0.333251953125f);
    mem_free(owned);
    t = st_find(f, "brain");
    float buf[8];
    ck_assert_int_eq(st_tensor_to_f32(t, buf, 8), MLM_OK);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(f32_bits(buf[i]), (uint32_t)bf16_bits[i] << 16);
    ck_assert_int_eq(st_tensor_to_f32(t, buf, 7), MLM_ERR_INVALID_ARGUMENT);
    st_close(f);
}
END_TEST

START_TEST(unaligned_f32_is_copied)
{
    size_t len;
    unsigned char *file = read_fixture("mixed.safetensors", &len);
    unsigned char *shifted = malloc(len + 1);
    memcpy(shifted + 1, file, len);
    st_file *f;
    ck_assert_int_eq(st_open_memory(shifted + 1, len, "shifted", &f), MLM_OK);
    const st_tensor *t = st_find(f, "bert.embeddings.word_embeddings.weight");
    const float *data;
    float *owned;
    ck_assert_int_eq(st_tensor_f32(t, &data, &owned), MLM_OK);
    ck_assert_ptr_nonnull(owned);
    ck_assert_int_eq(memcmp(data, emb, sizeof emb), 0);
    mem_free(owned);
    st_close(f);
    free(shifted);
    free(file);
}
END_TEST

START_TEST(round_trip_random_tensors)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    enum { N = 20 };
    float *data[N];
    char names[N][32];
    uint64_t shapes[N][3];
    unsigned seed = 12345;
    st_writer *w;
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245 + 12345;
        shapes[i][0] = 1 + seed % 7;
        shapes[i][1] = 1 + (seed >> 8) % 5;
        shapes[i][2] = 1 + (seed >> 16) % 3;
        size_t n = shapes[i][0] * shapes[i][1] * shapes[i][2];
        data[i] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; j++)
            data[i][j] = (float)(i * 1000 + (int)j) / 7.0f;
        snprintf(names[i], sizeof names[i], "layer.%d.층", N - i);
        ck_assert_int_eq(st_writer_add(w, names[i], ST_F32, 3, shapes[i], data[i]), MLM_OK);
    }
    ck_assert_int_eq(st_writer_save(w, path), MLM_OK);
    st_writer_free(w);
    st_file *f;
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    ck_assert_uint_eq(st_count(f), N);
    for (int i = 0; i < N; i++) {
        const st_tensor *t = st_find(f, names[i]);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->ndim, 3);
        ck_assert_int_eq(memcmp(t->shape, shapes[i], sizeof shapes[i]), 0);
        ck_assert_int_eq(memcmp(t->data, data[i], t->nbytes), 0);
        free(data[i]);
    }
    st_close(f);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- validation */

static const char T24[] = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";

START_TEST(valid_hand_made_files)
{
    size_t len;
    st_file *f;
    /* Space padding, and any JSON whitespace after the object, as serde. */
    unsigned char *b = make_file(T24, 5, 24, &len);
    ck_assert_int_eq(st_open_memory(b, len, "ok", &f), MLM_OK);
    ck_assert_uint_eq(st_count(f), 1);
    st_close(f);
    free(b);
    b = make_file("{\"__metadata__\":null}\n\t\r", 0, 0, &len);
    ck_assert_int_eq(st_open_memory(b, len, "ok", &f), MLM_OK);
    ck_assert_uint_eq(st_metadata_count(f), 0);
    st_close(f);
    free(b);
    /* Entries in any order; zero-size tensors anywhere in the tiling. */
    b = make_file("{\"z\":{\"data_offsets\":[4,8],\"shape\":[1],\"dtype\":\"I32\"},"
                  "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
                  "\"y\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                  0, 8, &len);
    ck_assert_int_eq(st_open_memory(b, len, "ok", &f), MLM_OK);
    ck_assert_str_eq(st_at(f, 0)->name, "y");
    ck_assert_str_eq(st_at(f, 2)->name, "z");
    st_close(f);
    free(b);
    /* Leniency from cJSON, which keeps numbers as doubles: 1.0, 1e0 and -0
     * read as the integers 1 and 0 (serde_json refuses the first two). */
    b = make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0,1e0],\"data_offsets\":[-0,4]}}", 0, 4, &len);
    ck_assert_int_eq(st_open_memory(b, len, "ok", &f), MLM_OK);
    ck_assert_uint_eq(st_at(f, 0)->ndim, 2);
    ck_assert_uint_eq(st_at(f, 0)->shape[1], 1);
    st_close(f);
    free(b);
}
END_TEST

/* A header of millions of tiny values would cost cJSON ~80 bytes of heap
 * each: refused before parsing, past 2^22 values. */
START_TEST(rejects_huge_json)
{
    size_t n = ((size_t)1 << 22) + 1, len;
    char *json = malloc(2 * n + 16);
    strcpy(json, "{\"x\":[");
    size_t at = strlen(json);
    for (size_t i = 0; i < n; i++) {
        json[at++] = '0';
        json[at++] = ',';
    }
    strcpy(json + at - 1, "]}");
    unsigned char *b = make_file(json, 0, 0, &len);
    st_file *f;
    ck_assert_int_eq(st_open_memory(b, len, "huge.safetensors", &f), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "huge.safetensors: JSON holds more than 4194304 values"));
    free(b);
    free(json);
}
END_TEST

START_TEST(rejects_bad_sizes)
{
    st_file *f;
    ck_assert_int_eq(st_open_memory("1234567", 7, "bad.safetensors", &f), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "7 bytes is too short"));
    unsigned char b[16] = {0x01, 0xE1, 0xF5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100000001 */
    ck_assert_int_eq(st_open_memory(b, sizeof b, "bad.safetensors", &f), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "header size 100000001 exceeds the limit"));
    unsigned char c[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, '{', '}'};
    ck_assert_int_eq(st_open_memory(c, sizeof c, "bad.safetensors", &f), MLM_ERR_FORMAT);
    unsigned char d[16] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    ck_assert_int_eq(st_open_memory(d, sizeof d, "bad.safetensors", &f), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "header size 9 runs past the end of the file (16 bytes)"));
    unsigned char e[8] = {0};
    ck_assert_int_eq(st_open_memory(e, sizeof e, "bad.safetensors", &f), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "does not begin with '{'"));
}
END_TEST

START_TEST(rejects_bad_header_text)
{
    BAD(" {}", 0, MLM_ERR_FORMAT, "does not begin with '{'");
    BAD("{\"a\xff\":1}", 0, MLM_ERR_FORMAT, "not valid UTF-8 at byte 11");
    BAD("{\"\xed\xa0\x80\":1}", 0, MLM_ERR_FORMAT, "not valid UTF-8"); /* surrogate */
    BAD("{\"a\":{},}", 0, MLM_ERR_FORMAT, "invalid JSON at byte 16");
    BAD("{} x", 0, MLM_ERR_FORMAT, "expected the end of the text");
    /* cJSON rejects a lone surrogate itself, at the string, giving no reason. */
    BAD("{\"a\":\"\\ud800\"}", 0, MLM_ERR_FORMAT, "invalid JSON at byte 14");
    /* cJSON keeps no offsets: the message names the object instead of both places. */
    BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}",
        8, MLM_ERR_FORMAT, "duplicate key 'x' in the top-level object");
    BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"shape\":[],\"data_offsets\":[0,4]}}", 4,
        MLM_ERR_FORMAT, "duplicate key 'shape' in the object under 'x'");
    BAD("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}\x01", 4, MLM_ERR_FORMAT,
        "invalid JSON at byte 61: control character outside a string");
    BAD("{\"t\":[1]}", 0, MLM_ERR_FORMAT, "tensor 't'", "not an object");
    BAD("{\"a\\u0000b\":{}}", 0, MLM_ERR_UNSUPPORTED, "U+0000");
}
END_TEST

START_TEST(rejects_bad_tensor_entries)
{
    BAD("{\"w\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor 'w': unknown dtype 'F31'");
    BAD("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor 'w': unknown dtype number");
    BAD("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor 'w'", "has no 'shape'");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, MLM_ERR_FORMAT, "has no 'data_offsets'");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4,
        MLM_ERR_FORMAT, "tensor 'w': unknown field 'extra'");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor 'w': shape", "non-negative integers, found -1");
    /* cJSON keeps numbers as doubles, so [1.0] and [1e0] (which serde_json
     * refuses for a usize) read as [1]: see valid_hand_made_files. Fractions
     * are still refused. */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor 'w': shape must hold non-negative integers, found 1.5");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e-1],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "found 0.1");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "found string");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor 'w': shape is number, not an array");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, MLM_ERR_FORMAT,
        "data_offsets must be [begin, end], found an array of fewer than 2");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, MLM_ERR_FORMAT,
        "more than 2");
    /* Numbers are doubles: above 2^53 they may not be what the file says
     * (2^53 + 1 reads as 2^53), so they are refused; no real file has 8 PiB
     * of data. */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", 4,
        MLM_ERR_FORMAT, "tensor 'w': data_offsets value 1.8446744073709552e+19 is too large to represent exactly");
    BAD("{\"w\":{\"dtype\":\"U8\",\"shape\":[9007199254740993],\"data_offsets\":[0,4]}}", 4,
        MLM_ERR_FORMAT, "shape value 9007199254740992.0 is too large");
    BAD("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, MLM_ERR_FORMAT,
        "data_offsets [4, 0)", "end before they begin");
}
END_TEST

START_TEST(rejects_bad_sizes_and_tiling)
{
    BAD("{\"bert.embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[30522,768],"
        "\"data_offsets\":[0,100]}}",
        100, MLM_ERR_FORMAT,
        "bad.safetensors: tensor 'bert.embeddings.word_embeddings.weight': data_offsets [0, 100) do "
        "not match shape [30522, 768] x F32 (93763584 bytes)");
    BAD("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
        MLM_ERR_FORMAT, "shape [4294967296, 4294967296] overflows");
    /* numel 2^62 fits; x 8 bytes does not (dims stay below 2^53, see above). */
    BAD("{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,8]}}", 8,
        MLM_ERR_FORMAT, "shape [2147483648, 2147483648] x F64 overflows");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, MLM_ERR_FORMAT,
        "data bytes [0, 4) belong to no tensor", "'w' begins at 4");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
        12, MLM_ERR_FORMAT, "data bytes [4, 8) belong to no tensor", "'b'");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        8, MLM_ERR_FORMAT, "tensor 'b': data_offsets [4, 8) overlap tensor 'a' [0, 8)");
    BAD(T24, 23, MLM_ERR_FORMAT, "the tensors cover 24 data bytes, but the file has 23");
    BAD(T24, 25, MLM_ERR_FORMAT, "the tensors cover 24 data bytes, but the file has 25");
    BAD("{\"가중치\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, MLM_ERR_FORMAT,
        "tensor '가중치': data_offsets [0, 4) do not match shape [2] x F32 (8 bytes)");
}
END_TEST

START_TEST(rejects_bad_metadata)
{
    BAD("{\"__metadata__\":[]}", 0, MLM_ERR_FORMAT, "'__metadata__' is array");
    BAD("{\"__metadata__\":{\"epoch\":3}}", 0, MLM_ERR_FORMAT,
        "'__metadata__' key 'epoch'", "maps to number", "must be strings");
    BAD("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0, MLM_ERR_FORMAT, "duplicate key 'a'");
    BAD("{\"__metadata__\":{\"a\":\"x\\u0000y\"}}", 0, MLM_ERR_UNSUPPORTED, "U+0000");
}
END_TEST

START_TEST(open_missing_and_empty_files)
{
    st_file *f;
    ck_assert_int_eq(st_open("/nonexistent/model.safetensors", &f), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "/nonexistent/model.safetensors"));
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    FILE *fp = fopen(path, "wb");
    fclose(fp);
    ck_assert_int_eq(st_open(path, &f), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "0 bytes is too short"));
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(writer_rejects_bad_input)
{
    st_writer *w;
    float x = 1;
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "x", ST_F32, 0, NULL, &x), MLM_OK);
    ck_assert_int_eq(st_writer_add(w, "x", ST_F32, 0, NULL, &x), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "'x' added twice"));
    ck_assert_int_eq(st_writer_add(w, "__metadata__", ST_F32, 0, NULL, &x), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(st_writer_add(w, "bad\xff", ST_F32, 0, NULL, &x), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "not valid UTF-8 at byte 3"));
    ck_assert_int_eq(st_writer_add(w, "y", ST_DTYPE_COUNT, 0, NULL, &x), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(st_writer_add(w, "y", ST_F32, 2, (uint64_t[]){1ull << 62, 8}, &x), MLM_ERR_RANGE);
    ck_assert_int_eq(st_writer_add(w, "y", ST_F32, 1, (uint64_t[]){2}, NULL), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(st_writer_add_metadata(w, "k", "v"), MLM_OK);
    ck_assert_int_eq(st_writer_add_metadata(w, "k", "w"), MLM_ERR_INVALID_ARGUMENT);
    /* A failed save leaves no file and no temporary. */
    ck_assert_int_eq(st_writer_save(w, "/nonexistent-dir/m.safetensors"), MLM_ERR_IO);
    st_writer_free(w);
    st_writer_free(NULL);
}
END_TEST

START_TEST(save_failure_keeps_old_file)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_writer *w = mixed_writer();
    ck_assert_int_eq(st_writer_save(w, path), MLM_OK);
    size_t old_len;
    char *old = test_read_file(path, &old_len);
    static float big[100000];
    ck_assert_int_eq(st_writer_add(w, "big", ST_F32, 1, (uint64_t[]){100000}, big), MLM_OK);
    int done = 0;
    for (long n = 0; !done; n++) {
        file_fail_after(n);
        mlm_status s = st_writer_save(w, path);
        file_fail_after(-1);
        if (s == MLM_OK) {
            done = 1;
            break;
        }
        ck_assert_int_eq(s, MLM_ERR_IO);
        if (strstr(mlm_last_error(), "sync directory"))
            continue;
        size_t len;
        char *now = test_read_file(path, &len);
        ck_assert_uint_eq(len, old_len);
        ck_assert_int_eq(memcmp(now, old, len), 0);
        free(now);
    }
    st_file *f;
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    ck_assert_uint_eq(st_count(f), 13);
    st_close(f);
    free(old);
    st_writer_free(w);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- shards */

static void write_shard(const char *dir, const char *file, const char *const *names, size_t n)
{
    static const float vals[4] = {1, 2, 3, 4};
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    st_writer *w;
    ck_assert_int_eq(st_writer_new(&w), MLM_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(st_writer_add(w, names[i], ST_F32, 1, (uint64_t[]){4}, vals), MLM_OK);
    ck_assert_int_eq(st_writer_save(w, path), MLM_OK);
    st_writer_free(w);
}

static void write_text(const char *dir, const char *file, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ck_assert_int_eq(file_write_atomic(path, text, strlen(text)), MLM_OK);
}

static mlm_status open_index(const char *dir, st_index **ix)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    return st_index_open(path, ix);
}

static const char INDEX_OK[] =
    "{\"metadata\": {\"total_size\": 64},\n \"weight_map\": {\"a.weight\": "
    "\"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00001-of-00002.safetensors\",\n"
    "\"c.가중치\": \"model-00002-of-00002.safetensors\", \"d.weight\": "
    "\"model-00002-of-00002.safetensors\"}}";

static char *shard_dir(void)
{
    char *dir = test_tmpdir();
    write_shard(dir, "model-00001-of-00002.safetensors", (const char *[]){"a.weight", "b.weight"}, 2);
    write_shard(dir, "model-00002-of-00002.safetensors", (const char *[]){"c.가중치", "d.weight"}, 2);
    return dir;
}

START_TEST(sharded_checkpoint_lookup)
{
    char *dir = shard_dir();
    write_text(dir, "model.safetensors.index.json", INDEX_OK);
    st_index *ix;
    ck_assert_int_eq(open_index(dir, &ix), MLM_OK);
    ck_assert_uint_eq(st_index_shard_count(ix), 2);
    ck_assert_uint_eq(st_index_count(ix), 4);
    const st_tensor *t = st_index_find(ix, "c.가중치");
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(strstr(t->file, "model-00002-of-00002.safetensors"));
    ck_assert_ptr_nonnull(strstr(st_index_find(ix, "a.weight")->file, "model-00001"));
    ck_assert_ptr_null(st_index_find(ix, "e"));
    ck_assert_str_eq(st_index_at(ix, 0)->name, "a.weight");
    const cJSON *ts = st_index_metadata(ix, "total_size");
    int64_t total = 0;
    ck_assert_int_eq(json_int(ts, &total), 1);
    ck_assert_int_eq(total, 64);
    ck_assert_ptr_null(st_index_metadata(ix, "nope"));
    ck_assert_ptr_nonnull(st_index_shard(ix, 1));
    st_index_close(ix);
    st_index_close(NULL);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static void expect_index_error(const char *index, mlm_status want, const char *needle)
{
    char *dir = shard_dir();
    write_text(dir, "model.safetensors.index.json", index);
    st_index *ix = (st_index *)(uintptr_t)1;
    ck_assert_int_eq(open_index(dir, &ix), want);
    ck_assert_ptr_null(ix);
    ck_assert_msg(strstr(mlm_last_error(), needle), "'%s' not in: %s", needle, mlm_last_error());
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "model.safetensors.index.json"));
    test_rmtree(dir);
    free(dir);
}

START_TEST(sharded_checkpoint_errors)
{
    expect_index_error("{\"weight_map\": {\"a.weight\": \"model-00003-of-00002.safetensors\"}}",
                       MLM_ERR_NOT_FOUND, "shard 'model-00003-of-00002.safetensors'");
    expect_index_error("{\"weight_map\": {\"zzz\": \"model-00001-of-00002.safetensors\"}}",
                       MLM_ERR_NOT_FOUND, "tensor 'zzz' in 'model-00001-of-00002.safetensors', which has no such tensor");
    expect_index_error("{\"weight_map\": {\"c.가중치\": \"model-00001-of-00002.safetensors\", "
                       "\"d.weight\": \"model-00002-of-00002.safetensors\"}}",
                       MLM_ERR_FORMAT, "puts tensor 'c.가중치' in 'model-00001-of-00002.safetensors', but it is in 'model-00002-of-00002.safetensors'");
    expect_index_error("{\"weight_map\": {\"a.weight\": \"../model-00001-of-00002.safetensors\"}}",
                       MLM_ERR_FORMAT, "not a plain file name");
    expect_index_error("{\"weight_map\": {\"a.weight\": 3}}", MLM_ERR_FORMAT, "not a file name");
    expect_index_error("{\"metadata\": {}}", MLM_ERR_FORMAT, "'weight_map' is missing");
    expect_index_error("{\"weight_map\": {}, \"metadata\": 1}", MLM_ERR_FORMAT, "'metadata' is number");
    expect_index_error("[]", MLM_ERR_FORMAT, "expected a JSON object");

    /* The same tensor in two shards. */
    char *dir = shard_dir();
    write_shard(dir, "model-00002-of-00002.safetensors", (const char *[]){"a.weight", "d.weight"}, 2);
    write_text(dir, "model.safetensors.index.json",
               "{\"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\", "
               "\"d.weight\": \"model-00002-of-00002.safetensors\"}}");
    st_index *ix;
    ck_assert_int_eq(open_index(dir, &ix), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "tensor 'a.weight' is in two shards"));
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- allocation faults */

/* The JSON tree is cJSON's, allocated through malloc where mem_fail_after
 * does not reach; the faults land on what we allocate: names, metadata and
 * shapes copied out of the tree, the tensor tables, the duplicate-key check
 * of objects over 16 members, the index and its shards. */
START_TEST(out_of_memory_everywhere)
{
    size_t len;
    unsigned char *file = read_fixture("mixed.safetensors", &len);
    int done = 0;
    for (long n = 0; !done; n++) {
        st_file *f = NULL;
        mem_fail_after(n);
        mlm_status s = st_open_memory(file, len, "mixed", &f);
        const float *data = NULL;
        float *owned = NULL;
        if (s == MLM_OK)
            s = st_tensor_f32(st_find(f, "half"), &data, &owned);
        mem_fail_after(-1);
        mem_free(owned);
        st_close(f);
        if (s == MLM_OK)
            done = 1;
        else
            ck_assert_msg(s == MLM_ERR_OUT_OF_MEMORY, "n=%ld: %d %s", n, s, mlm_last_error());
    }
    free(file);

    for (long n = 0, ok = 0; !ok; n++) {
        st_writer *w = NULL;
        uint8_t *bytes = NULL;
        size_t blen;
        mem_fail_after(n);
        mlm_status s = st_writer_new(&w);
        float x = 1;
        if (s == MLM_OK)
            s = st_writer_add(w, "x", ST_F32, 1, (uint64_t[]){1}, &x);
        if (s == MLM_OK)
            s = st_writer_add(w, "y", ST_F32, 0, NULL, &x);
        if (s == MLM_OK)
            s = st_writer_add_metadata(w, "k", "v");
        if (s == MLM_OK)
            s = st_writer_to_memory(w, &bytes, &blen);
        mem_fail_after(-1);
        st_writer_free(w);
        mem_free(bytes);
        ok = s == MLM_OK;
        if (!ok)
            ck_assert_int_eq(s, MLM_ERR_OUT_OF_MEMORY);
    }

    char *dir = shard_dir();
    write_text(dir, "model.safetensors.index.json", INDEX_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/again.safetensors", dir);
    st_writer *w = mixed_writer();
    for (long n = 0, ok = 0; !ok; n++) {
        st_index *ix = NULL;
        mem_fail_after(n);
        mlm_status s = open_index(dir, &ix);
        if (s == MLM_OK)
            s = st_writer_save(w, path);
        mem_fail_after(-1);
        st_index_close(ix);
        ok = s == MLM_OK;
        if (!ok)
            ck_assert_msg(s == MLM_ERR_OUT_OF_MEMORY, "n=%ld: %s", n, mlm_last_error());
    }
    st_writer_free(w);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, writer_matches_reference_bytes);
    tcase_add_test(tc, read_mixed_fixture);
    tcase_add_test(tc, half_and_bfloat_convert_exactly);
    tcase_add_test(tc, unaligned_f32_is_copied);
    tcase_add_test(tc, round_trip_random_tensors);
    tcase_add_test(tc, valid_hand_made_files);
    tcase_add_test(tc, rejects_huge_json);
    tcase_add_test(tc, rejects_bad_sizes);
    tcase_add_test(tc, rejects_bad_header_text);
    tcase_add_test(tc, rejects_bad_tensor_entries);
    tcase_add_test(tc, rejects_bad_sizes_and_tiling);
    tcase_add_test(tc, rejects_bad_metadata);
    tcase_add_test(tc, open_missing_and_empty_files);
    tcase_add_test(tc, writer_rejects_bad_input);
    tcase_add_test(tc, save_failure_keeps_old_file);
    tcase_add_test(tc, sharded_checkpoint_lookup);
    tcase_add_test(tc, sharded_checkpoint_errors);
    tcase_add_test(tc, out_of_memory_everywhere);
    suite_add_tcase(s, tc);
    return s;
}
