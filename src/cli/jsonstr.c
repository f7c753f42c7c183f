/* JSON strings with their length; see jsonstr.h. */
#include "jsonstr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

/* The \uXXXX escape at p (after the backslash and 'u'), a surrogate pair
 * taken whole, into o; *used gets the input bytes consumed. */
static int unicode_escape(const char *p, char *o, size_t *olen, size_t *used)
{
    uint32_t hi, lo;
    if (hex4(p, &hi))
        return -1;
    *used = 4;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return -1;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (p[4] != '\\' || p[5] != 'u' || hex4(p + 6, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        *used = 10;
    }
    *olen = utf8_put((int32_t)hi, o);
    return 0;
}

/* Decode the string literal at p (its opening quote); *end gets the byte
 * after the closing quote. Output is never longer than the literal. */
static int decode_at(const char *p, const char **end, char **out, size_t *len)
{
    const char *q = p + 1;
    while (*q && *q != '"')
        q += *q == '\\' && q[1] ? 2 : 1;
    char *o = malloc((size_t)(q - p) + 1);
    if (!o)
        return -1;
    size_t w = 0;
    for (const char *s = p + 1; s < q;) {
        if (*s != '\\') {
            o[w++] = *s++;
            continue;
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = s[1] ? strchr(from, s[1]) : NULL;
        if (k) {
            o[w++] = to[k - from];
            s += 2;
            continue;
        }
        size_t olen, used;
        if (s[1] != 'u' || unicode_escape(s + 2, o + w, &olen, &used)) {
            free(o);
            return -1;
        }
        w += olen;
        s += 2 + used;
    }
    o[w] = '\0';
    *out = o;
    *len = w;
    *end = *q ? q + 1 : q;
    return 0;
}

/* The end of the JSON value at p (valid JSON: strings skipped whole, so
 * brackets inside them do not count). */
static const char *skip_value(const char *p)
{
    int depth = 0;
    do {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p += *p == '\\' && p[1] ? 2 : 1)
                ;
            if (*p)
                p++;
        } else if (*p == '{' || *p == '[') {
            depth++;
            p++;
        } else if (*p == '}' || *p == ']') {
            depth--;
            p++;
        } else {
            while (*p && !strchr(",}] \t\r\n", *p))
                p++;
        }
        p = skip_ws(p);
        if (depth > 0 && *p == ',')
            p = skip_ws(p + 1);
        else if (depth > 0 && *p == ':')
            p = skip_ws(p + 1);
    } while (depth > 0 && *p);
    return p;
}

int jsonstr_value(const char *json, char **out, size_t *len)
{
    const char *end, *p = skip_ws(json);
    if (*p != '"')
        return -1;
    return decode_at(p, &end, out, len);
}

int jsonstr_member(const char *json, const char *key, char **out, size_t *len)
{
    const char *p = skip_ws(json);
    if (*p != '{')
        return 0;
    p = skip_ws(p + 1);
    while (*p == '"') {
        char *name;
        size_t nlen;
        if (decode_at(p, &p, &name, &nlen))
            return -1;
        int match = nlen == strlen(key) && !memcmp(name, key, nlen);
        free(name);
        p = skip_ws(p);
        if (*p != ':')
            return 0;
        p = skip_ws(p + 1);
        if (match) {
            if (*p != '"')
                return 0;
            const char *end;
            return decode_at(p, &end, out, len) ? -1 : 1;
        }
        p = skip_value(p);
        if (*p != ',')
            return 0;
        p = skip_ws(p + 1);
    }
    return 0;
}

