#include "io/json.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"

#define EXACT_LIMIT 9007199254740992.0 /* 2^53 */

/* ---------------------------------------------------------------- UTF-8 */



/* ---------------------------------------------------------------- reading */

static mlm_status bad_at(const char *name, const char *s, size_t n, size_t at, size_t base,
                         const char *what)
{
    unsigned char c = at < n ? (unsigned char)s[at] : 0;
    char found[24] = "end of text";
    if (at < n)
        snprintf(found, sizeof found, c >= 0x20 && c < 0x7F ? "'%c'" : "byte 0x%02x", c);
    return err_set(MLM_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s, found %s", name, base + at, what,
                   found);
}

/* The 4 hex digits at s as a UTF-16 code unit, or 0x10000 when they are not hex. */
static unsigned hex4(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        int c = i < n ? (unsigned char)s[i] : 0, l = c | 0x20;
        int d = c >= '0' && c <= '9' ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
        if (d < 0)
            return 0x10000;
        v = v << 4 | (unsigned)d;
    }
    return v;
}

/* One pass over the text for what cJSON would let through (see json.h;
 * cJSON itself rejects lone surrogates and bad structure), and a count of
 * values (1 + commas + brackets, an upper bound) and of nesting, before
 * cJSON allocates anything. */
static mlm_status lex_check(const char *s, size_t n, size_t base, const char *name, size_t max_values)
{
    size_t depth = 0, values = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if ((unsigned char)s[i] < 0x20)
                    return bad_at(name, s, n, i, base, "control character in a string");
                if (s[i] != '\\' || ++i >= n || s[i] != 'u')
                    continue;
                /* cJSON reads "\uZZZZ" as U+0000, and U+0000 ends its strings. */
                unsigned u = hex4(s + i + 1, n - i - 1);
                if (u > 0xFFFF)
                    return bad_at(name, s, n, i - 1, base, "expected 4 hex digits after '\\u'");
                if (u == 0)
                    return err_set(MLM_ERR_UNSUPPORTED,
                                   "%s: string holds U+0000 ('\\u0000' at byte %zu), which is not supported",
                                   name, base + i - 1);
                i += 4;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_DEPTH)
                return err_set(MLM_ERR_FORMAT, "%s: JSON nested deeper than %d levels at byte %zu", name,
                               JSON_MAX_DEPTH, base + i);
            values++;
        } else if (c == ']' || c == '}') {
            depth -= depth > 0;
        } else if (c == ',') {
            values++;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            /* cJSON skips every byte up to 0x20 as whitespace. */
            return bad_at(name, s, n, i, base, "control character outside a string");
        }
    }
    if (values > max_values)
        return err_set(MLM_ERR_FORMAT, "%s: JSON holds more than %zu values, the limit for this file",
                       name, max_values);
    return MLM_OK;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The n members of object `v` sorted by key (byte order, which is code point
 * order, as Python's sort_keys), in `small` (16) when they fit; NULL when out of
 * memory. Keys hold no NUL (lex_check). */
static const cJSON **sorted_members(const cJSON *v, size_t n, const cJSON **small)
{
    const cJSON **m = n <= 16 ? small : mem_alloc(n * sizeof *m);
    if (!m)
        return NULL;
    n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        m[n++] = c;
    qsort(m, n, sizeof *m, key_cmp);
    return m;
}

/* Duplicate keys anywhere under `v`, the value of key `where` (NULL at the
 * top). Recursion is bounded by JSON_MAX_DEPTH. */
static mlm_status check_keys(const cJSON *v, const char *name, const char *where)
{
    size_t n = 0;
    mlm_status s = MLM_OK;
    for (const cJSON *c = v->child; c && s == MLM_OK; c = c->next, n++)
        s = check_keys(c, name, cJSON_IsObject(v) ? c->string : where);
    if (s != MLM_OK || !cJSON_IsObject(v) || n < 2)
        return s;
    const cJSON *small[16], **m = sorted_members(v, n, small);
    if (!m)
        return err_oom();
    for (size_t i = 1; i < n && s == MLM_OK; i++)
        if (strcmp(m[i - 1]->string, m[i]->string) == 0)
            s = err_set(MLM_ERR_FORMAT, "%s: duplicate key '%s' in %s%s%s", name, m[i]->string,
                        where ? "the object under '" : "the top-level object", where ? where : "",
                        where ? "'" : "");
    if (m != small)
        mem_free(m);
    return s;
}

mlm_status json_parse(const char *text, size_t len, size_t base, const char *name, size_t max_values,
                      cJSON **out)
{
    *out = NULL;
    size_t bad;
    if (!utf8_valid(text, len, &bad))
        return err_set(MLM_ERR_FORMAT, "%s: not valid UTF-8 at byte %zu", name, base + bad);
    /* cJSON skips a byte order mark; JSON (serde_json, Python) allows none. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        return bad_at(name, text, len, 0, base, "byte order mark before the value");
    mlm_status s = lex_check(text, len, base, name, max_values);
    if (s != MLM_OK)
        return s;
    /* The end pointer is this call's; cJSON_GetErrorPtr is a process global. */
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    if (!root)
        return bad_at(name, text, len, at, base, "syntax error");
    while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
        at++;
    s = at < len ? bad_at(name, text, len, at, base, "expected the end of the text after the value")
                 : check_keys(root, name, NULL);
    if (s != MLM_OK)
        cJSON_Delete(root);
    else
        *out = root;
    return s;
}

const char *json_type_name(const cJSON *v)
{
    /* cJSON's types are bits: False, True, NULL, Number, String, Array, Object, Raw. */
    static const char *const names[] = {"boolean", "boolean", "null",   "number",
                                        "string",  "array",   "object", "raw"};
    int t = v ? v->type & 0xFF : 0;
    return !v ? "missing" : t ? names[__builtin_ctz((unsigned)t)] : "invalid";
}

const char *json_describe(const cJSON *v, char *buf)
{
    if (!cJSON_IsNumber(v))
        return json_type_name(v);
    json_format_py_number(v->valuedouble, buf);
    return buf;
}

size_t json_len(const cJSON *v)
{
    size_t n = 0;
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next)
        n++;
    return n;
}

int json_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return 0;
    if (!(fabs(v->valuedouble) < EXACT_LIMIT))
        return -1; /* infinities (from 1e999) too */
    *out = (int64_t)v->valuedouble;
    return 1;
}

/* ---------------------------------------------------------------- writing */

/* printf and strtod follow LC_NUMERIC, which an application may have set to
 * a locale with a decimal comma; JSON always uses '.'. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* Python's float repr: the shortest digits that read back to the same double
 * (found as the fewest %e digits that do), in fixed notation when the
 * decimal exponent is in [-4, 16) and in exponent notation otherwise, with at
 * least 2 exponent digits (CPython's format_float_short, 'r' mode). */
void json_format_py_repr(double x, char *buf)
{
    if (!isfinite(x))
        strcpy(buf, isnan(x) ? "nan" : x < 0 ? "-inf" : "inf");
    else
        json_format_py_float(x, buf);
}

void json_format_py_float(double x, char *buf)
{
    if (!isfinite(x)) {
        strcpy(buf, isnan(x) ? "NaN" : x < 0 ? "-Infinity" : "Infinity");
        return;
    }
    pthread_once(&c_locale_once, make_c_locale);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    char e[40];
    int prec = 0;
    while (snprintf(e, sizeof e, "%.*e", prec, x), prec < 17 && strtod(e, NULL) != x)
        prec++;
    char *mark = strchr(e, 'e');
    int exp10 = atoi(mark + 1);
    if (exp10 < -4 || exp10 >= 16) {
        snprintf(mark, (size_t)(e + sizeof e - mark), "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        strcpy(buf, e);
    } else /* as many decimals as the digits reach; an integral value gets ".0" */
        snprintf(buf, 32, prec > exp10 ? "%.*f" : "%.*f.0", prec > exp10 ? prec - exp10 : 0, x);
    if (c_locale)
        uselocale(old);
}

/* Every number below v (a copy) turned into its exact text. */
static int exact_numbers(cJSON *v)
{
    for (cJSON *c = v->child, *next; c; c = next) {
        next = c->next;
        if (cJSON_IsNumber(c)) {
            char text[32];
            if (isnan(c->valuedouble))
                strcpy(text, "null");
            else
                json_format_py_number(c->valuedouble, text);
            cJSON *raw = cJSON_CreateRaw(text);
            if (!raw)
                return 0;
            /* the member's name moves over (the copy owns it) */
            raw->string = c->string;
            c->string = NULL;
            cJSON_ReplaceItemViaPointer(v, c, raw);
        } else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !exact_numbers(c)) {
            return 0;
        }
    }
    return 1;
}

char *json_print_exact(const cJSON *v)
{
    cJSON *copy = cJSON_Duplicate(v, 1);
    char *s = copy && exact_numbers(copy) ? cJSON_PrintUnformatted(copy) : NULL;
    cJSON_Delete(copy);
    return s;
}

double json_py_round(double x, int ndigits)
{
    /* printf rounds the exact binary value half to even, as CPython's
     * round() does through its own dtoa. */
    if (!isfinite(x) || fabs(x) >= 1e300)
        return x;
    pthread_once(&c_locale_once, make_c_locale);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    char s[400];
    snprintf(s, sizeof s, "%.*f", ndigits, x);
    double r = strtod(s, NULL);
    if (c_locale)
        uselocale(old);
    return r;
}

void json_format_py_number(double x, char *buf)
{
    if (isinf(x))
        strcpy(buf, x < 0 ? "-1e999" : "1e999");
    else if (x == floor(x) && fabs(x) < EXACT_LIMIT)
        snprintf(buf, 32, "%" PRId64, (int64_t)x); /* -0.0 gives "0", as Python's int("-0") */
    else
        json_format_py_float(x, buf);
}

/* serde_json escapes exactly what cJSON's printer does: '"', '\\', and bytes
 * below 0x20 (\b \f \n \r \t by name, the rest as \u00xx); 0x7F and all of
 * UTF-8 stay raw. cJSON's malloc failing marks `sb` failed. */
void json_put_rust_string(strbuf *sb, const char *s)
{
    cJSON *item = cJSON_CreateStringReference(s);
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    if (text)
        sb_puts(sb, text);
    else
        sb->failed = 1;
    cJSON_free(text);
    cJSON_Delete(item);
}

/* Python's ensure_ascii: printable ASCII but '"' and '\\' as is, the short
 * escapes by name, every other code point as \uxxxx (UTF-16 above U+FFFF). */
void json_put_py_string(strbuf *sb, const char *str, size_t n)
{
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    sb_putc(sb, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)str[i];
        int32_t cp;
        const char *hit = c ? strchr(from, (int)c) : NULL;
        i += utf8_next(str + i, n - i, &cp);
        if (hit)
            sb_printf(sb, "\\%c", to[hit - from]);
        else if (c >= 0x20 && c < 0x7F)
            sb_putc(sb, (char)c);
        else if (cp >= 0x10000)
            sb_printf(sb, "\\u%04x\\u%04x", (unsigned)(0xD800 + ((cp - 0x10000) >> 10)),
                      (unsigned)(0xDC00 + (cp & 0x3FF)));
        else
            sb_printf(sb, "\\u%04x", (unsigned)cp);
    }
    sb_putc(sb, '"');
}

static void put_indent(strbuf *sb, int indent, int depth)
{
    sb_putc(sb, '\n');
    for (int i = 0; i < depth * indent; i++)
        sb_putc(sb, ' ');
}

/* A number of member `key` (NULL in an array): an int when is_int says so
 * and the value is integral, else a Python float; without is_int, as
 * json_format_py_number guesses. */
static void put_py_number(strbuf *sb, double x, const char *key, json_int_key_fn is_int)
{
    char num[32];
    if (!is_int)
        json_format_py_number(x, num);
    else if (is_int(key) && x == floor(x) && fabs(x) < EXACT_LIMIT)
        snprintf(num, sizeof num, "%" PRId64, (int64_t)x);
    else
        json_format_py_float(x, num);
    sb_puts(sb, num);
}

static void put_py(strbuf *sb, const cJSON *v, const char *key, int indent, int depth,
                   json_int_key_fn is_int)
{
    if (cJSON_IsNumber(v)) {
        put_py_number(sb, v->valuedouble, key, is_int);
    } else if (cJSON_IsRaw(v)) { /* a number kept exact as its text (%.17g, "null") */
        char *end = NULL;
        pthread_once(&c_locale_once, make_c_locale);
        locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
        double x = v->valuestring ? strtod(v->valuestring, &end) : 0.0;
        if (c_locale)
            uselocale(old);
        if (end && end != v->valuestring && !*end)
            put_py_number(sb, x, key, is_int);
        else
            sb_puts(sb, v->valuestring ? v->valuestring : "null");
    } else if (cJSON_IsString(v)) {
        json_put_py_string(sb, v->valuestring, strlen(v->valuestring));
    } else if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
        sb_puts(sb, cJSON_IsNull(v) ? "null" : cJSON_IsTrue(v) ? "true" : "false");
    } else if (!v->child) {
        sb_puts(sb, cJSON_IsArray(v) ? "[]" : "{}");
    } else {
        /* An array's elements in order, an object's members by key. */
        size_t n = json_len(v);
        const cJSON *small[16], **m = cJSON_IsObject(v) ? sorted_members(v, n, small) : NULL;
        if (cJSON_IsObject(v) && !m) {
            sb->failed = 1;
            return;
        }
        sb_putc(sb, cJSON_IsArray(v) ? '[' : '{');
        const cJSON *e = v->child;
        for (size_t i = 0; i < n; i++, e = e->next) {
            sb_puts(sb, i ? "," : "");
            put_indent(sb, indent, depth + 1);
            if (m) {
                json_put_py_string(sb, m[i]->string, strlen(m[i]->string));
                sb_puts(sb, ": ");
            }
            put_py(sb, m ? m[i] : e, m ? m[i]->string : NULL, indent, depth + 1, is_int);
        }
        put_indent(sb, indent, depth);
        sb_putc(sb, cJSON_IsArray(v) ? ']' : '}');
        if (m != small)
            mem_free(m);
    }
}

void json_put_py(strbuf *sb, const cJSON *v, int indent, json_int_key_fn is_int)
{
    put_py(sb, v, NULL, indent, 0, is_int);
}

void json_put_py_value(strbuf *sb, const cJSON *v, int depth)
{
    put_py(sb, v, NULL, 2, depth, NULL);
}
