/* io/json: cJSON plus the checks it lacks, and Python/Rust-compatible output. */
#include "suites.h"
#include "testutil.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/json.h"

static cJSON *parse_ok(const char *text)
{
    cJSON *v;
    mlm_status s = json_parse(text, strlen(text), 0, "t.json", 1000, &v);
    ck_assert_msg(s == MLM_OK, "%s: %s", text, mlm_last_error());
    return v;
}

static void parse_bad_as(const char *text, size_t len, mlm_status want, const char *needle)
{
    cJSON *v = (cJSON *)(uintptr_t)1;
    mlm_status s = json_parse(text, len, 0, "t.json", 1000, &v);
    ck_assert_msg(s == want, "%s: status %d (want %d): %s", text, s, want, mlm_last_error());
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(mlm_last_error(), needle), "'%s' not in: %s", needle, mlm_last_error());
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "t.json: "));
}

static void parse_bad(const char *text, const char *needle)
{
    parse_bad_as(text, strlen(text), MLM_ERR_FORMAT, needle);
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

START_TEST(parses_exact_integers_and_strings)
{
    cJSON *v = parse_ok(" {\"n\": 9007199254740991, \"m\": 9007199254740993, \"big\": "
                        "18446744073709551616, \"neg\": -5, \"f\": 1.5e-3, \"one\": 1.0, \"inf\": 1e999, "
                        "\"s\": \"\\u00e9\\ud55c\\ud83d\\ude00\\n\", \"a\": [true, false, null, []], "
                        "\"o\": {}} ");
    ck_assert(cJSON_IsObject(v));
    int64_t i = 0;
    ck_assert_int_eq(json_int(get(v, "n"), &i), 1);
    ck_assert_int_eq(i, 9007199254740991); /* 2^53 - 1, the largest we read exactly */
    /* A double holds 2^53 + 1 as 2^53: refused, never read as the wrong number. */
    ck_assert_int_eq(json_int(get(v, "m"), &i), -1);
    ck_assert_int_eq(json_int(get(v, "big"), &i), -1);
    ck_assert_int_eq(json_int(get(v, "inf"), &i), -1);
    ck_assert_int_eq(json_int(get(v, "neg"), &i), 1);
    ck_assert_int_eq(i, -5);
    ck_assert_int_eq(json_int(get(v, "f"), &i), 0);
    ck_assert_int_eq(json_int(get(v, "s"), &i), 0);
    ck_assert_int_eq(json_int(NULL, &i), 0);
    /* cJSON keeps no number text: 1.0 is the integer 1 (Python would have a float). */
    ck_assert_int_eq(json_int(get(v, "one"), &i), 1);
    ck_assert_int_eq(i, 1);
    ck_assert(fabs(get(v, "f")->valuedouble - 0.0015) < 1e-18);
    ck_assert_str_eq(get(v, "s")->valuestring, "é한😀\n");
    ck_assert_uint_eq(json_len(get(v, "a")), 4);
    ck_assert_uint_eq(json_len(v), 10);
    ck_assert_uint_eq(json_len(NULL), 0);
    ck_assert_str_eq(json_type_name(cJSON_GetArrayItem(get(v, "a"), 2)), "null");
    ck_assert_str_eq(json_type_name(cJSON_GetArrayItem(get(v, "a"), 1)), "boolean");
    ck_assert_str_eq(json_type_name(get(v, "a")), "array");
    ck_assert_str_eq(json_type_name(get(v, "o")), "object");
    ck_assert_str_eq(json_type_name(get(v, "s")), "string");
    ck_assert_str_eq(json_type_name(get(v, "zz")), "missing");
    char buf[32];
    ck_assert_str_eq(json_describe(get(v, "f"), buf), "0.0015");
    ck_assert_str_eq(json_describe(get(v, "inf"), buf), "1e999");
    ck_assert_str_eq(json_describe(get(v, "o"), buf), "object");
    ck_assert_ptr_null(get(v, "zz"));
    ck_assert_ptr_null(get(get(v, "o"), "x"));
    cJSON_Delete(v);
}
END_TEST

START_TEST(rejects_malformed_json)
{
    /* cJSON keeps both members of a duplicate; we name the key and its object. */
    parse_bad("{\"a\":1,\"a\":2}", "duplicate key 'a' in the top-level object");
    parse_bad("{\"o\":{\"b\":1,\"c\":2,\"b\":3}}", "duplicate key 'b' in the object under 'o'");
    parse_bad("{\"k\":[1,{\"x\":1,\"x\":1}]}", "duplicate key 'x' in the object under 'k'");
    /* cJSON takes raw control bytes in strings, and any byte up to 0x20 as whitespace. */
    parse_bad("[\"a\tb\"]", "invalid JSON at byte 3: control character in a string");
    parse_bad_as("[1,\0 2]", 6, MLM_ERR_FORMAT, "invalid JSON at byte 3: control character outside");
    parse_bad("{\x01}", "byte 0x01");
    /* cJSON reads "\uZZZZ" as U+0000, and U+0000 would end its string. */
    parse_bad("[\"\\uZZZZ\"]", "invalid JSON at byte 2: expected 4 hex digits after '\\u'");
    parse_bad("[\"\\u12\"]", "expected 4 hex digits");
    parse_bad("[\"\\u\x11\x10\x10\x10\"]", "expected 4 hex digits"); /* 0x11 | 0x20 is '1' */
    parse_bad("[\"\\uD800\\u\"]", "invalid JSON at byte 8: expected 4 hex digits");
    parse_bad_as("{\"a\\u0000b\":1}", 14, MLM_ERR_UNSUPPORTED, "string holds U+0000 ('\\u0000' at byte 3)");
    /* "\\u0000" is a backslash and text, not an escape. */
    cJSON *v = parse_ok("[\"\\\\u0000\"]");
    ck_assert_str_eq(v->child->valuestring, "\\u0000");
    cJSON_Delete(v);
    /* What cJSON rejects itself, at the byte it stopped on. */
    parse_bad("[\"\\x\"]", "invalid JSON at byte 2: syntax error, found '\\'");
    parse_bad("[\"\\udc00\"]", "invalid JSON at byte 2");      /* lone low surrogate */
    parse_bad("[\"\\ud800 \"]", "invalid JSON at byte 2");     /* lone high surrogate */
    parse_bad("{\"a\":{},}", "invalid JSON at byte 8: syntax error, found '}'");
    parse_bad("\"abc", "invalid JSON at byte 1");
    parse_bad("[tru]", "invalid JSON at byte 1");
    parse_bad("", "invalid JSON at byte 0: syntax error, found end of text");
    parse_bad("[1] [2]", "invalid JSON at byte 4: expected the end of the text after the value, found '['");
    parse_bad("\xc0\x80", "not valid UTF-8 at byte 0");
    parse_bad("[\"\xed\xa0\x80\"]", "not valid UTF-8 at byte 2"); /* an encoded surrogate */
    parse_bad("\xEF\xBB\xBF{}", "byte order mark");
    char deep[200];
    memset(deep, '[', sizeof deep);
    parse_bad_as(deep, sizeof deep, MLM_ERR_FORMAT, "nested deeper than 64 levels at byte 64");
    /* The value bound (the array counts) applies before cJSON builds anything. */
    ck_assert_int_eq(json_parse("[0,0,0]", 7, 0, "t.json", 4, &v), MLM_OK);
    cJSON_Delete(v);
    ck_assert_int_eq(json_parse("[0,0,0,0]", 9, 0, "t.json", 4, &v), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "t.json: JSON holds more than 4 values"));
    /* Offsets count from `base` (a safetensors header starts at byte 8). */
    ck_assert_int_eq(json_parse("[1,]", 4, 8, "m.safetensors", 10, &v), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "m.safetensors: invalid JSON at byte 11"));
    /* Known leniency we keep: cJSON's numbers go through strtod, so "01",
     * "1." and "-.5" (which serde_json and Python refuse) read as 1, 1, -0.5. */
    v = parse_ok("[01, 1., -.5]");
    ck_assert(v->child->valuedouble == 1 && v->child->next->valuedouble == 1);
    cJSON_Delete(v);
}
END_TEST

START_TEST(python_float_repr)
{
    static const struct {
        double x;
        const char *repr;
    } cases[] = {
        {0.1, "0.1"},       {1e-12, "1e-12"},   {1e-05, "1e-05"},        {0.0001, "0.0001"},
        {0.02, "0.02"},     {1.0, "1.0"},       {100.0, "100.0"},        {-0.0, "-0.0"},
        {0.0, "0.0"},       {1e16, "1e+16"},    {1e15, "1000000000000000.0"},
        {123456789.125, "123456789.125"},      {1.5e-300, "1.5e-300"},  {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "5e-324"}, {0.3, "0.3"},       {2.0 / 3.0, "0.6666666666666666"}, {-2.5, "-2.5"},
        {INFINITY, "Infinity"}, {-INFINITY, "-Infinity"}, {9.999999999999999e22, "1e+23"},
        {1.2345678901234567e15, "1234567890123456.8"}, {0.00012345, "0.00012345"},
        {1.2345e-5, "1.2345e-05"}, {-1e100, "-1e+100"}, {12345678901234567e0, "1.2345678901234568e+16"},
    };
    /* A decimal-comma locale must not leak into JSON, either way. */
    setlocale(LC_NUMERIC, "de_DE.UTF-8");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        json_format_py_float(cases[i].x, buf);
        ck_assert_str_eq(buf, cases[i].repr);
    }
    /* Numbers read from JSON: integral values below 2^53 as Python ints (cJSON
     * cannot tell 1.0 from 1), infinities as text that reads back the same. */
    static const struct {
        double x;
        const char *text;
    } nums[] = {
        {1.0, "1"},     {100.0, "100"}, {-0.0, "0"},       {-7, "-7"},     {0.5, "0.5"},
        {1e20, "1e+20"}, {9007199254740991.0, "9007199254740991"}, {9007199254740992.0, "9007199254740992.0"},
        {INFINITY, "1e999"}, {-INFINITY, "-1e999"},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char buf[32];
        json_format_py_number(nums[i].x, buf);
        ck_assert_str_eq(buf, nums[i].text);
    }
    cJSON *v = parse_ok("[0.5]");
    ck_assert(v->child->valuedouble == 0.5);
    cJSON_Delete(v);
    setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(python_and_rust_string_escapes)
{
    const char s[] = "a\"\\\n\x01\x7f\b\f\r\t/한😀";
    strbuf sb = {0};
    json_put_py_string(&sb, s, strlen(s));
    ck_assert_str_eq(sb.data, "\"a\\\"\\\\\\n\\u0001\\u007f\\b\\f\\r\\t/\\ud55c\\ud83d\\ude00\"");
    sb_free(&sb);
    json_put_py_string(&sb, "a\0b", 3);
    ck_assert_str_eq(sb.data, "\"a\\u0000b\"");
    sb_free(&sb);
    json_put_rust_string(&sb, s);
    ck_assert_str_eq(sb.data, "\"a\\\"\\\\\\n\\u0001\x7f\\b\\f\\r\\t/한😀\"");
    sb_free(&sb);
    cJSON *v = parse_ok("{\"b\": [1, 2.50, {\"y\": null, \"x\": []}], \"a\": {}, \"c\": [1.0, 1E2, 1e999, "
                        "true, false, \"\\u00e9\"]}");
    json_put_py_value(&sb, v, 0);
    /* json.dumps(indent=2, sort_keys=True), but 1.0 and 1E2 as 1 and 100
     * (cJSON keeps no number text) and 1e999 as itself (Python: Infinity). */
    ck_assert_str_eq(sb.data, "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    {\n      \"x\": [],\n"
                              "      \"y\": null\n    }\n  ],\n  \"c\": [\n    1,\n    100,\n    1e999,\n"
                              "    true,\n    false,\n    \"\\u00e9\"\n  ]\n}");
    sb_free(&sb);
    cJSON_Delete(v);
}
END_TEST

/* cJSON allocates through malloc, out of mem_fail_after's reach; what is
 * left to fail is ours: the key arrays for sorting objects of more than 16
 * members (duplicate check, sort_keys output) and the output buffer. */
START_TEST(json_out_of_memory)
{
    strbuf text = {0};
    sb_puts(&text, "{\"k\": [1, \"two\", {\"x\": 3.5, \"y\": [true]}], \"z\": {");
    for (int i = 0; i < 20; i++)
        sb_printf(&text, "%s\"m%02d\": %d", i ? ", " : "", 19 - i, i);
    sb_puts(&text, "}}");
    ck_assert_int_eq(sb_status(&text), MLM_OK);
    long failures = 0;
    for (long n = 0, ok = 0; !ok; n++) {
        cJSON *v = NULL;
        mem_fail_after(n);
        mlm_status s = json_parse(text.data, text.len, 0, "t", 1000, &v);
        strbuf sb = {0};
        if (s == MLM_OK) {
            json_put_py_value(&sb, v, 0);
            s = sb_status(&sb);
        }
        mem_fail_after(-1);
        if (s == MLM_OK)
            ck_assert_ptr_nonnull(strstr(sb.data, "\"m00\": 19,\n    \"m01\": 18"));
        sb_free(&sb);
        cJSON_Delete(v);
        ok = s == MLM_OK;
        if (!ok) {
            ck_assert_int_eq(s, MLM_ERR_OUT_OF_MEMORY);
            failures++;
        }
    }
    /* The duplicate check's array, the output's array, at least one growth. */
    ck_assert_int_ge(failures, 3);
    sb_free(&text);
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, parses_exact_integers_and_strings);
    tcase_add_test(tc, rejects_malformed_json);
    tcase_add_test(tc, python_float_repr);
    tcase_add_test(tc, python_and_rust_string_escapes);
    tcase_add_test(tc, json_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
