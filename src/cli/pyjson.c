#include "pyjson.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void py_float_repr(double x, char *buf)
{
    if (!isfinite(x)) {
        strcpy(buf, isnan(x) ? "NaN" : x < 0 ? "-Infinity" : "Infinity");
        return;
    }
    /* the shortest digits that read back as x */
    char e[40];
    int prec = 0;
    while (snprintf(e, sizeof e, "%.*e", prec, x), prec < 17 && strtod(e, NULL) != x)
        prec++;
    char *mark = strchr(e, 'e');
    int exp10 = atoi(mark + 1);
    if (exp10 < -4 || exp10 >= 16) {
        snprintf(mark, (size_t)(e + sizeof e - mark), "e%c%02d", exp10 < 0 ? '-' : '+',
                 abs(exp10));
        strcpy(buf, e);
    } else if (prec > exp10) {
        snprintf(buf, 32, "%.*f", prec - exp10, x);
    } else { /* an integral value keeps ".0" */
        snprintf(buf, 32, "%.0f.0", x);
    }
}

double py_round(double x, int ndigits)
{
    /* glibc's printf rounds the exact binary value half to even, as
     * Python's round() does through its own dtoa. */
    if (!isfinite(x) || fabs(x) >= 1e300)
        return x;
    char s[400];
    snprintf(s, sizeof s, "%.*f", ndigits, x);
    return strtod(s, NULL);
}

/* ---------------------------------------------------------------- dumps */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static void newline(sbuf *b, int indent, int depth)
{
    puts_(b, "\n");
    for (int i = 0; i < indent * depth; i++)
        puts_(b, " ");
}

/* ensure_ascii: printable ASCII as is, the short escapes by name, every other
 * code point as \uXXXX (a surrogate pair above U+FFFF). */
static void put_string(sbuf *b, const char *str)
{
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    char tmp[16];
    puts_(b, "\"");
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp = c;
        const char *hit = c ? strchr(from, (int)c) : NULL;
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (k > 1)
            cp = c & (k == 4 ? 0x07 : k == 3 ? 0x0F : 0x1F);
        for (size_t j = 1; j < k && i + j < n; j++)
            cp = (cp << 6) | (s[i + j] & 0x3F);
        i += k;
        if (hit)
            snprintf(tmp, sizeof tmp, "\\%c", to[hit - from]);
        else if (c >= 0x20 && c < 0x7F)
            snprintf(tmp, sizeof tmp, "%c", (char)c);
        else if (cp >= 0x10000)
            snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                     0xDC00 + (cp & 0x3FF));
        else
            snprintf(tmp, sizeof tmp, "\\u%04x", cp);
        puts_(b, tmp);
    }
    puts_(b, "\"");
}

static int cmp_keys(const void *x, const void *y)
{
    const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
    return strcmp(a->string, b->string);
}

static void put_value(sbuf *b, const cJSON *v, const char *key, int indent, int depth,
                      py_int_key_fn is_int);

static void put_number(sbuf *b, double x, const char *key, py_int_key_fn is_int)
{
    char num[40];
    if (is_int && is_int(key) && x == floor(x) && fabs(x) < 9007199254740992.0)
        snprintf(num, sizeof num, "%lld", (long long)x);
    else
        py_float_repr(x, num);
    puts_(b, num);
}

static void put_object(sbuf *b, const cJSON *v, int indent, int depth, py_int_key_fn is_int)
{
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        n++;
    if (n == 0) {
        puts_(b, "{}");
        return;
    }
    const cJSON **items = malloc(n * sizeof *items);
    if (!items) {
        b->failed = 1;
        return;
    }
    n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        items[n++] = c;
    qsort(items, n, sizeof *items, cmp_keys);
    puts_(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            puts_(b, ",");
        newline(b, indent, depth + 1);
        put_string(b, items[i]->string);
        puts_(b, ": ");
        put_value(b, items[i], items[i]->string, indent, depth + 1, is_int);
    }
    newline(b, indent, depth);
    puts_(b, "}");
    free(items);
}

static void put_value(sbuf *b, const cJSON *v, const char *key, int indent, int depth,
                      py_int_key_fn is_int)
{
    if (cJSON_IsNull(v))
        puts_(b, "null");
    else if (cJSON_IsTrue(v))
        puts_(b, "true");
    else if (cJSON_IsFalse(v))
        puts_(b, "false");
    else if (cJSON_IsNumber(v))
        put_number(b, v->valuedouble, key, is_int);
    else if (cJSON_IsString(v))
        put_string(b, v->valuestring);
    else if (cJSON_IsObject(v))
        put_object(b, v, indent, depth, is_int);
    else if (cJSON_IsArray(v)) {
        if (!v->child) {
            puts_(b, "[]");
            return;
        }
        puts_(b, "[");
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                puts_(b, ",");
            newline(b, indent, depth + 1);
            put_value(b, c, NULL, indent, depth + 1, is_int);
        }
        newline(b, indent, depth);
        puts_(b, "]");
    } else {
        puts_(b, "null");
    }
}

char *py_json_dumps(const cJSON *v, int indent, py_int_key_fn is_int)
{
    sbuf b = {0};
    put_value(&b, v, NULL, indent, 0, is_int);
    if (b.failed || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---------------------------------------------------------------- files */

int cli_write_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        fprintf(stderr, "mlm: %s: out of memory\n", path);
        return -1;
    }
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "mlm: %s: cannot create: %s\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno != EINTR)
            err = errno;
        else if (w > 0)
            done += (size_t)w;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    /* mkstemp makes the file 0600; results are ordinary files */
    if (!err && chmod(tmp, 0644) != 0)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        fprintf(stderr, "mlm: %s: cannot write: %s\n", path, strerror(err));
        unlink(tmp);
    }
    free(tmp);
    return err ? -1 : 0;
}

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            size_t nc = cap ? 2 * cap : 8192;
            char *nd = realloc(data, nc);
            if (!nd) {
                free(data);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            data = nd;
            cap = nc;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        if (!got)
            break;
        n += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        errno = EIO;
        return NULL;
    }
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}
