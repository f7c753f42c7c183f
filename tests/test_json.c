/* io/json: the strict reader and Python-compatible output. */
#include "suites.h"
#include "testutil.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/json.h"

static json_value *parse_ok(const char *text)
{
    json_value *v;
    mlm_status s = json_parse(text, strlen(text), 0, "t.json", &v);
    ck_assert_msg(s == MLM_OK, "%s: %s", text, mlm_last_error());
    return v;
}

static void parse_bad(const char *text, const char *needle)
{
    json_value *v = (json_value *)(uintptr_t)1;
    ck_assert_int_eq(json_parse(text, strlen(text), 0, "t.json", &v), MLM_ERR_FORMAT);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(mlm_last_error(), needle), "'%s' not in: %s", needle, mlm_last_error());
}

START_TEST(parses_exact_integers_and_strings)
{
    json_value *v = parse_ok(" {\"n\": 18446744073709551615, \"m\": 9007199254740993, \"big\": "
                             "18446744073709551616, \"neg\": -5, \"f\": 1.5e-3, \"s\": \"\\u00e9\\ud55c"
                             "\\ud83d\\ude00\\n\", \"a\": [true, false, null, []], \"o\": {}} ");
    ck_assert_int_eq(v->type, JSON_OBJECT);
    ck_assert_uint_eq(json_get(v, "n")->magnitude, UINT64_MAX);
    ck_assert_uint_eq(json_get(v, "m")->magnitude, 9007199254740993ull);
    ck_assert(json_get(v, "big")->overflow);
    ck_assert(json_get(v, "neg")->negative);
    ck_assert(!json_get(v, "f")->is_integer);
    ck_assert(fabs(json_get(v, "f")->number - 0.0015) < 1e-18);
    ck_assert_str_eq(json_get(v, "s")->str, "é한😀\n");
    ck_assert_uint_eq(json_get(v, "a")->len, 4);
    ck_assert_int_eq(json_get(v, "a")->items[2].type, JSON_NULL);
    ck_assert_ptr_null(json_get(v, "zz"));
    ck_assert_ptr_null(json_get(json_get(v, "o"), "x"));
    json_free(v);
}
END_TEST

START_TEST(rejects_malformed_json)
{
    parse_bad("{\"a\":1,\"a\":2}", "duplicate key 'a' at byte 7 (first at byte 1)");
    parse_bad("[01]", "leading zero");
    parse_bad("[1.]", "expected a digit after '.'");
    parse_bad("[\"a\tb\"]", "control character");
    parse_bad("[\"\\x\"]", "escape");
    parse_bad("[\"\\udc00\"]", "lone low surrogate");
    parse_bad("\"abc", "unterminated string");
    parse_bad("[1] [2]", "expected the end");
    parse_bad("[tru]", "expected a value");
    parse_bad("\xc0\x80", "not valid UTF-8 at byte 0");
    parse_bad("", "found end of text");
    char deep[200];
    memset(deep, '[', sizeof deep);
    json_value *v;
    ck_assert_int_eq(json_parse(deep, sizeof deep, 0, "deep", &v), MLM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "nested deeper than 64"));
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
        {INFINITY, "Infinity"},
    };
    /* A decimal-comma locale must not leak into JSON. */
    setlocale(LC_NUMERIC, "de_DE.UTF-8");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        json_format_py_float(cases[i].x, buf);
        ck_assert_str_eq(buf, cases[i].repr);
    }
    json_value *v = parse_ok("[0.5]");
    ck_assert(v->items[0].number == 0.5);
    json_free(v);
    setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(python_and_rust_string_escapes)
{
    const char s[] = "a\"\\\n\x01\x7f한😀";
    strbuf sb = {0};
    json_put_py_string(&sb, s, strlen(s));
    ck_assert_str_eq(sb.data, "\"a\\\"\\\\\\n\\u0001\\u007f\\ud55c\\ud83d\\ude00\"");
    sb_free(&sb);
    json_put_rust_string(&sb, s, strlen(s));
    ck_assert_str_eq(sb.data, "\"a\\\"\\\\\\n\\u0001\x7f한😀\"");
    sb_free(&sb);
    json_value *v = parse_ok("{\"b\": [1, 2.50, {\"y\": null, \"x\": []}], \"a\": {}}");
    json_put_py_value(&sb, v, 0);
    ck_assert_str_eq(sb.data, "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    {\n      \"x\": [],\n"
                              "      \"y\": null\n    }\n  ]\n}");
    sb_free(&sb);
    json_free(v);
}
END_TEST

START_TEST(json_out_of_memory)
{
    const char *text = "{\"k\": [1, \"two\", {\"x\": 3.5, \"y\": [true]}], \"z\": \"w\"}";
    for (long n = 0, ok = 0; !ok; n++) {
        json_value *v = NULL;
        mem_fail_after(n);
        mlm_status s = json_parse(text, strlen(text), 0, "t", &v);
        strbuf sb = {0};
        if (s == MLM_OK) {
            json_put_py_value(&sb, v, 0);
            s = sb_status(&sb);
        }
        mem_fail_after(-1);
        sb_free(&sb);
        json_free(v);
        ok = s == MLM_OK;
        if (!ok)
            ck_assert_int_eq(s, MLM_ERR_OUT_OF_MEMORY);
    }
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
