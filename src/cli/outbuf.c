#include "outbuf.h"

#include <stdlib.h>
#include <string.h>

int ob_reserve(outbuf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void ob_put(outbuf *b, const char *s, size_t n)
{
    if (n && ob_reserve(b, n) == 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

void ob_puts(outbuf *b, const char *s) { ob_put(b, s, strlen(s)); }

/* "00" "01" ... "99": two digits per division. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

char *ob_at_uint(char *o, uint64_t v)
{
    if (v < 10) { /* masks and type ids: nearly every value */
        *o = (char)('0' + v);
        return o + 1;
    }
    char tmp[OB_INT_MAX];
    int n = OB_INT_MAX;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--n] = digit_pairs[d + 1];
        tmp[--n] = digit_pairs[d];
    }
    if (v >= 10) {
        tmp[--n] = digit_pairs[v * 2 + 1];
        tmp[--n] = digit_pairs[v * 2];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(o, tmp + n, (size_t)(OB_INT_MAX - n));
    return o + (OB_INT_MAX - n);
}

char *ob_at_int(char *o, int64_t v)
{
    if (v >= 0)
        return ob_at_uint(o, (uint64_t)v);
    *o++ = '-';
    return ob_at_uint(o, (uint64_t)0 - (uint64_t)v);
}

void ob_uint(outbuf *b, uint64_t v)
{
    if (ob_reserve(b, OB_INT_MAX) == 0)
        ob_set_end(b, ob_at_uint(ob_cursor(b), v));
}

void ob_int(outbuf *b, int64_t v)
{
    if (ob_reserve(b, OB_INT_MAX + 1) == 0)
        ob_set_end(b, ob_at_int(ob_cursor(b), v));
}

/* The escape for a byte cJSON escapes, or 0 for one it copies. 'u' means
 * \u00xx. */
static const char escape_of[256] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    [0] = 'u',    [1] = 'u',    [2] = 'u',    [3] = 'u',    [4] = 'u',    [5] = 'u',
    [6] = 'u',    [7] = 'u',    [11] = 'u',   [14] = 'u',   [15] = 'u',   [16] = 'u',
    [17] = 'u',   [18] = 'u',   [19] = 'u',   [20] = 'u',   [21] = 'u',   [22] = 'u',
    [23] = 'u',   [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',   [28] = 'u',
    [29] = 'u',   [30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\',
};

void ob_json_string(outbuf *b, const char *s, size_t n)
{
    /* At most 6 bytes out per byte in, and the quotes: one reservation. */
    if (n > (SIZE_MAX - 2) / 6 || ob_reserve(b, 6 * n + 2) != 0) {
        b->failed = 1;
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char *o = b->p + b->len;
    *o++ = '"';
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = escape_of[c];
        if (!e) {
            run++;
            continue;
        }
        memcpy(o, s + i - run, run);
        o += run;
        run = 0;
        *o++ = '\\';
        if (e == 'u') {
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        } else {
            *o++ = e;
        }
    }
    memcpy(o, s + n - run, run);
    o += run;
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

void ob_clear(outbuf *b)
{
    b->len = 0;
    b->failed = 0;
}

void ob_free(outbuf *b)
{
    free(b->p);
    *b = (outbuf){0};
}
