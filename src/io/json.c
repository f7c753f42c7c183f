#include "io/json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

#define JSON_MAX_DEPTH 64

/* ---------------------------------------------------------------- C locale */

/* strtod and printf follow LC_NUMERIC, which an application may have set to
 * a locale with a decimal comma; JSON always uses '.'. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static locale_t numeric_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale;
}

static double strtod_c(const char *s)
{
    locale_t loc = numeric_c_locale();
    return loc ? strtod_l(s, NULL, loc) : strtod(s, NULL);
}

/* ---------------------------------------------------------------- UTF-8 */


/* ---------------------------------------------------------------- parser */

typedef struct parser {
    const char *s;
    size_t n;
    size_t pos;
    size_t base;
    const char *name;
} parser;

static mlm_status syntax(parser *p, const char *what)
{
    if (p->pos >= p->n)
        return err_set(MLM_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s, found end of text", p->name,
                       p->base + p->pos, what);
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c >= 0x20 && c < 0x7F)
        return err_set(MLM_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s, found '%c'", p->name,
                       p->base + p->pos, what, c);
    return err_set(MLM_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s, found byte 0x%02x", p->name,
                   p->base + p->pos, what, c);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static int peek(const parser *p) { return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1; }

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape at p->pos (just after the backslash) into d. */
static mlm_status parse_escape(parser *p, char *d, size_t *dlen)
{
    char c = p->s[p->pos];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        d[0] = to[hit - from];
        *dlen = 1;
        p->pos++;
        return MLM_OK;
    }
    if (c != 'u')
        return syntax(p, "expected an escape character after '\\'");
    unsigned cp, lo;
    if (p->n - p->pos < 5 || !hex4(p->s + p->pos + 1, &cp)) {
        p->pos++;
        return syntax(p, "expected 4 hex digits after '\\u'");
    }
    size_t at = p->pos - 1;
    p->pos += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        p->pos = at;
        return syntax(p, "lone low surrogate in '\\u' escape");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            !hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
            p->pos = at;
            return syntax(p, "high surrogate in '\\u' escape not followed by a low one");
        }
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *dlen = put_utf8(d, cp);
    return MLM_OK;
}

/* At an opening quote; decoded text never grows, so the output is sized by
 * the span up to the closing quote. */
static mlm_status parse_string(parser *p, char **out, size_t *out_len)
{
    p->pos++;
    size_t end = p->pos;
    while (end < p->n && p->s[end] != '"') {
        if (p->s[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->n) {
        p->pos = p->n;
        return syntax(p, "unterminated string");
    }
    char *d = mem_alloc(end - p->pos + 1);
    if (!d)
        return err_oom();
    size_t dl = 0;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            mem_free(d);
            return syntax(p, "control character in string");
        }
        if (c != '\\') {
            d[dl++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        size_t k = 0;
        mlm_status s = parse_escape(p, d + dl, &k);
        if (s != MLM_OK) {
            mem_free(d);
            return s;
        }
        dl += k;
    }
    p->pos++; /* closing quote */
    d[dl] = '\0';
    *out = d;
    *out_len = dl;
    return MLM_OK;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static mlm_status parse_number(parser *p, json_value *v)
{
    size_t start = p->pos;
    v->type = JSON_NUMBER;
    v->is_integer = 1;
    if (peek(p) == '-') {
        v->negative = 1;
        p->pos++;
    }
    if (!is_digit(peek(p)))
        return syntax(p, "expected a digit");
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p)))
            return syntax(p, "leading zero in number");
    }
    while (is_digit(peek(p))) {
        unsigned d = (unsigned)(p->s[p->pos] - '0');
        if (v->magnitude > (UINT64_MAX - d) / 10)
            v->overflow = 1;
        else
            v->magnitude = v->magnitude * 10 + d;
        p->pos++;
    }
    if (peek(p) == '.') {
        v->is_integer = 0;
        p->pos++;
        if (!is_digit(peek(p)))
            return syntax(p, "expected a digit after '.'");
        while (is_digit(peek(p)))
            p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        v->is_integer = 0;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!is_digit(peek(p)))
            return syntax(p, "expected a digit in the exponent");
        while (is_digit(peek(p)))
            p->pos++;
    }
    v->raw = p->s + start;
    v->raw_len = p->pos - start;
    if (v->is_integer && !v->overflow) {
        v->number = (double)v->magnitude;
        if (v->negative)
            v->number = -v->number;
        return MLM_OK;
    }
    char small[64];
    char *text = v->raw_len < sizeof small ? small : mem_alloc(v->raw_len + 1);
    if (!text)
        return err_oom();
    memcpy(text, v->raw, v->raw_len);
    text[v->raw_len] = '\0';
    v->number = strtod_c(text);
    if (text != small)
        mem_free(text);
    return MLM_OK;
}

static mlm_status parse_value(parser *p, json_value *v, int depth);

static mlm_status parse_literal(parser *p, json_value *v, const char *word, json_type t, int b)
{
    size_t n = strlen(word);
    if (p->n - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return syntax(p, "expected a value");
    p->pos += n;
    v->type = t;
    v->boolean = b;
    return MLM_OK;
}

/* Grows a vector of `size`-byte elements to hold at least `need`. */
static int grow(void **vec, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 4;
    if (c > ((size_t)-1) / size)
        return 0;
    void *n = mem_realloc(*vec, c * size);
    if (!n)
        return 0;
    *vec = n;
    *cap = c;
    return 1;
}

static mlm_status parse_array(parser *p, json_value *v, int depth)
{
    v->type = JSON_ARRAY;
    size_t cap = 0;
    p->pos++;
    skip_ws(p);
    if (peek(p) == ']') {
        p->pos++;
        return MLM_OK;
    }
    for (;;) {
        if (!grow((void **)&v->items, &cap, v->len + 1, sizeof *v->items))
            return err_oom();
        json_value *item = &v->items[v->len];
        memset(item, 0, sizeof *item);
        v->len++;
        mlm_status s = parse_value(p, item, depth + 1);
        if (s != MLM_OK)
            return s;
        skip_ws(p);
        if (peek(p) == ']') {
            p->pos++;
            return MLM_OK;
        }
        if (peek(p) != ',')
            return syntax(p, "expected ',' or ']'");
        p->pos++;
    }
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Sorting member indices with a thread-local base pointer: qsort has no
 * context argument in C11. */
static _Thread_local const json_member *tl_members;

static int index_cmp(const void *a, const void *b)
{
    const json_member *x = &tl_members[*(const size_t *)a], *y = &tl_members[*(const size_t *)b];
    int c = key_cmp(x->key, x->key_len, y->key, y->key_len);
    if (c)
        return c;
    return x->offset < y->offset ? -1 : 1;
}

/* Sorts the key index and rejects duplicates, naming the key and both
 * places. */
static mlm_status index_members(parser *p, json_value *v)
{
    if (v->len == 0)
        return MLM_OK;
    v->sorted = mem_alloc(v->len * sizeof *v->sorted);
    if (!v->sorted)
        return err_oom();
    for (size_t i = 0; i < v->len; i++)
        v->sorted[i] = i;
    tl_members = v->members;
    qsort(v->sorted, v->len, sizeof *v->sorted, index_cmp);
    tl_members = NULL;
    for (size_t i = 1; i < v->len; i++) {
        const json_member *a = &v->members[v->sorted[i - 1]], *b = &v->members[v->sorted[i]];
        if (key_cmp(a->key, a->key_len, b->key, b->key_len) == 0)
            return err_set(MLM_ERR_FORMAT, "%s: duplicate key '%s' at byte %zu (first at byte %zu)",
                           p->name, b->key, b->offset, a->offset);
    }
    return MLM_OK;
}

static mlm_status parse_object(parser *p, json_value *v, int depth)
{
    v->type = JSON_OBJECT;
    size_t cap = 0;
    p->pos++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return MLM_OK;
    }
    for (;;) {
        skip_ws(p);
        if (peek(p) != '"')
            return syntax(p, "expected a string key");
        if (!grow((void **)&v->members, &cap, v->len + 1, sizeof *v->members))
            return err_oom();
        json_member *m = &v->members[v->len];
        memset(m, 0, sizeof *m);
        m->offset = p->base + p->pos;
        mlm_status s = parse_string(p, &m->key, &m->key_len);
        if (s != MLM_OK)
            return s;
        v->len++;
        skip_ws(p);
        if (peek(p) != ':')
            return syntax(p, "expected ':'");
        p->pos++;
        s = parse_value(p, &m->value, depth + 1);
        if (s != MLM_OK)
            return s;
        skip_ws(p);
        if (peek(p) == '}') {
            p->pos++;
            return index_members(p, v);
        }
        if (peek(p) != ',')
            return syntax(p, "expected ',' or '}'");
        p->pos++;
    }
}

static mlm_status parse_value(parser *p, json_value *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return err_set(MLM_ERR_FORMAT, "%s: JSON nested deeper than %d levels at byte %zu", p->name,
                       JSON_MAX_DEPTH, p->base + p->pos);
    skip_ws(p);
    v->offset = p->base + p->pos;
    switch (peek(p)) {
    case '{':
        return parse_object(p, v, depth);
    case '[':
        return parse_array(p, v, depth);
    case '"':
        v->type = JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        return parse_literal(p, v, "true", JSON_BOOL, 1);
    case 'f':
        return parse_literal(p, v, "false", JSON_BOOL, 0);
    case 'n':
        return parse_literal(p, v, "null", JSON_NULL, 0);
    default:
        if (peek(p) == '-' || is_digit(peek(p)))
            return parse_number(p, v);
        return syntax(p, "expected a value");
    }
}

mlm_status json_parse(const char *text, size_t len, size_t base, const char *name,
                      json_value **out)
{
    *out = NULL;
    size_t bad;
    if (!utf8_valid(text, len, &bad))
        return err_set(MLM_ERR_FORMAT, "%s: not valid UTF-8 at byte %zu", name, base + bad);
    json_value *v = mem_calloc(1, sizeof *v);
    if (!v)
        return err_oom();
    parser p = {text, len, 0, base, name};
    mlm_status s = parse_value(&p, v, 0);
    if (s == MLM_OK) {
        skip_ws(&p);
        if (p.pos != p.n)
            s = syntax(&p, "expected the end of the text after the value");
    }
    if (s != MLM_OK) {
        json_free(v);
        return s;
    }
    *out = v;
    return MLM_OK;
}

static void free_contents(json_value *v)
{
    switch (v->type) {
    case JSON_STRING:
        mem_free(v->str);
        return;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->len; i++)
            free_contents(&v->items[i]);
        mem_free(v->items);
        return;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->len; i++) {
            mem_free(v->members[i].key);
            free_contents(&v->members[i].value);
        }
        mem_free(v->members);
        mem_free(v->sorted);
        return;
    default:
        return;
    }
}

void json_free(json_value *v)
{
    if (!v)
        return;
    free_contents(v);
    mem_free(v);
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT || !obj->sorted)
        return NULL;
    size_t kn = strlen(key), lo = 0, hi = obj->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const json_member *m = &obj->members[obj->sorted[mid]];
        int c = key_cmp(m->key, m->key_len, key, kn);
        if (c == 0)
            return &m->value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *json_type_name(json_type t)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---------------------------------------------------------------- output */

/* Python's float repr: the shortest digits that read back to the same double
 * (David Gay's mode 0), in fixed notation when -4 < decpt <= 16 and in
 * exponent notation otherwise (CPython's format_float_short, 'r' mode). */
void json_format_py_float(double x, char *buf)
{
    if (isnan(x)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(x)) {
        strcpy(buf, x < 0 ? "-Infinity" : "Infinity");
        return;
    }
    char e[40];
    locale_t loc = numeric_c_locale(), old = loc ? uselocale(loc) : (locale_t)0;
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, x);
        if (strtod(e, NULL) == x)
            break;
    }
    if (loc)
        uselocale(old);
    /* e is "[-]d[.ddd]e[+-]xx": gather the digits and the exponent. */
    const char *q = e;
    int neg = *q == '-';
    q += neg;
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int decpt = exp10 + 1;
    if (x == 0)
        decpt = 1;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -decpt; i++)
                *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else if (decpt >= nd) {
            memcpy(o, digits, (size_t)nd);
            o += nd;
            for (int i = nd; i < decpt; i++)
                *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        } else {
            memcpy(o, digits, (size_t)decpt);
            o += decpt;
            *o++ = '.';
            memcpy(o, digits + decpt, (size_t)(nd - decpt));
            o += nd - decpt;
        }
        *o = '\0';
        return;
    }
    *o++ = digits[0];
    if (nd > 1) {
        *o++ = '.';
        memcpy(o, digits + 1, (size_t)(nd - 1));
        o += nd - 1;
    }
    sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
}

static void put_short_escape(strbuf *sb, unsigned char c)
{
    switch (c) {
    case '"': sb_puts(sb, "\\\""); return;
    case '\\': sb_puts(sb, "\\\\"); return;
    case '\b': sb_puts(sb, "\\b"); return;
    case '\f': sb_puts(sb, "\\f"); return;
    case '\n': sb_puts(sb, "\\n"); return;
    case '\r': sb_puts(sb, "\\r"); return;
    case '\t': sb_puts(sb, "\\t"); return;
    default: sb_printf(sb, "\\u%04x", c); return;
    }
}

void json_put_rust_string(strbuf *sb, const char *s, size_t n)
{
    sb_putc(sb, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_append(sb, s + run, i - run);
        put_short_escape(sb, c);
        run = i + 1;
    }
    sb_append(sb, s + run, n - run);
    sb_putc(sb, '"');
}

void json_put_py_string(strbuf *sb, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    sb_putc(sb, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            sb_putc(sb, (char)c);
            i++;
            continue;
        }
        if (c < 0x80) {
            put_short_escape(sb, (unsigned char)c);
            i++;
            continue;
        }
        size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        unsigned cp = c & (k == 4 ? 0x07 : k == 3 ? 0x0F : 0x1F);
        for (size_t j = 1; j < k && i + j < n; j++)
            cp = (cp << 6) | (s[i + j] & 0x3F);
        i += k;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            sb_printf(sb, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
            sb_printf(sb, "\\u%04x", cp);
        }
    }
    sb_putc(sb, '"');
}

static void put_indent(strbuf *sb, int depth)
{
    sb_putc(sb, '\n');
    for (int i = 0; i < depth; i++)
        sb_puts(sb, "  ");
}

static void put_py_number(strbuf *sb, const json_value *v)
{
    /* Python reads an integer into an int of any size and writes it back
     * digit for digit; anything with '.' or 'e' becomes a float. */
    if (v->is_integer && v->negative && v->magnitude == 0 && !v->overflow) {
        sb_putc(sb, '0');
        return;
    }
    /* A float too large for a double (1e999) would become Python's
     * "Infinity", which is not JSON: keep the text as written instead. */
    if (v->is_integer || !isfinite(v->number)) {
        sb_append(sb, v->raw, v->raw_len);
        return;
    }
    char buf[32];
    json_format_py_float(v->number, buf);
    sb_puts(sb, buf);
}

void json_put_py_value(strbuf *sb, const json_value *v, int depth)
{
    switch (v->type) {
    case JSON_NULL:
        sb_puts(sb, "null");
        return;
    case JSON_BOOL:
        sb_puts(sb, v->boolean ? "true" : "false");
        return;
    case JSON_NUMBER:
        put_py_number(sb, v);
        return;
    case JSON_STRING:
        json_put_py_string(sb, v->str, v->len);
        return;
    case JSON_ARRAY:
        if (v->len == 0) {
            sb_puts(sb, "[]");
            return;
        }
        sb_putc(sb, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                sb_putc(sb, ',');
            put_indent(sb, depth + 1);
            json_put_py_value(sb, &v->items[i], depth + 1);
        }
        put_indent(sb, depth);
        sb_putc(sb, ']');
        return;
    case JSON_OBJECT:
        if (v->len == 0) {
            sb_puts(sb, "{}");
            return;
        }
        sb_putc(sb, '{');
        for (size_t i = 0; i < v->len; i++) {
            const json_member *m = &v->members[v->sorted[i]];
            if (i)
                sb_putc(sb, ',');
            put_indent(sb, depth + 1);
            json_put_py_string(sb, m->key, m->key_len);
            sb_puts(sb, ": ");
            json_put_py_value(sb, &m->value, depth + 1);
        }
        put_indent(sb, depth);
        sb_putc(sb, '}');
        return;
    }
}
