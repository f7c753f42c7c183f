#include "io/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

int sb_reserve(strbuf *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (extra >= ((size_t)-1) / 2 - sb->len) {
        sb->failed = 1;
        return -1;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = mem_realloc(sb->data, cap);
    if (!p) {
        sb->failed = 1;
        return -1;
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

int sb_append(strbuf *sb, const void *bytes, size_t n)
{
    if (sb_reserve(sb, n))
        return -1;
    if (n)
        memcpy(sb->data + sb->len, bytes, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return 0;
}

void sb_puts(strbuf *sb, const char *s) { sb_append(sb, s, strlen(s)); }

void sb_putc(strbuf *sb, char c) { sb_append(sb, &c, 1); }

void sb_printf(strbuf *sb, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        sb_append(sb, small, (size_t)n);
        return;
    }
    if (sb_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

mlm_status sb_status(const strbuf *sb) { return sb->failed ? err_oom() : MLM_OK; }

mlm_status sb_take(strbuf *sb, char **out, size_t *len)
{
    if (!sb->failed && !sb->data)
        (void)sb_reserve(sb, 0);
    if (sb->failed) {
        sb_free(sb);
        return err_oom();
    }
    sb->data[sb->len] = '\0';
    *out = sb->data;
    if (len)
        *len = sb->len;
    memset(sb, 0, sizeof *sb);
    return MLM_OK;
}

void *sb_detach(strbuf *sb)
{
    char *p = NULL;
    return sb_take(sb, &p, NULL) == MLM_OK ? p : NULL;
}

void sb_free(strbuf *sb)
{
    mem_free(sb->data);
    memset(sb, 0, sizeof *sb);
}

void out_copy(const char *s, size_t len, char *buf, size_t cap, size_t *needed)
{
    *needed = len + 1;
    if (!cap)
        return;
    size_t k = len < cap - 1 ? len : cap - 1;
    memcpy(buf, s, k);
    buf[k] = '\0';
}

mlm_status sb_copy_out(strbuf *sb, char *buf, size_t cap, size_t *needed)
{
    mlm_status st = sb_status(sb);
    if (st == MLM_OK)
        out_copy(sb->data ? sb->data : "", sb->len, buf, cap, needed);
    sb_free(sb);
    return st;
}
