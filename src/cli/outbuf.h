/* A growable output buffer for the mlm tool's bulk output (mlm tokenize
 * writes tens of MB of JSON): text is appended in place, numbers and JSON
 * strings without printf or an object tree. An allocation failure sets
 * `failed` and later appends do nothing, so a caller checks once at the
 * end. */
#ifndef MLM_CLI_OUTBUF_H
#define MLM_CLI_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct outbuf {
    char *p;
    size_t len, cap;
    int failed;
} outbuf;

/* Room for n more bytes; 0, or -1 (failed set). */
int ob_reserve(outbuf *b, size_t n);
void ob_put(outbuf *b, const char *s, size_t n);
void ob_puts(outbuf *b, const char *s);

static inline void ob_putc(outbuf *b, char c)
{
    if (b->len < b->cap || ob_reserve(b, 1) == 0)
        b->p[b->len++] = c;
}

/* Decimal, as printf's %lld / %llu. */
void ob_int(outbuf *b, int64_t v);
void ob_uint(outbuf *b, uint64_t v);

/* s[0..n) as a JSON string, quotes included, escaped exactly as cJSON's
 * printer does (so output is byte-identical to cJSON_PrintUnformatted):
 * \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00xx with lowercase hex
 * (U+0000 too: s may hold NUL bytes), everything else, UTF-8 included, as
 * it is. */
void ob_json_string(outbuf *b, const char *s, size_t n);

/* Writing at a cursor, for loops that reserve once for their worst case
 * (the checks per byte cost as much as the formatting): `o` points into
 * reserved memory, each call returns the new end, and ob_set_end records
 * it. */
#define OB_INT_MAX 20 /* the most bytes ob_at_int / ob_at_uint write */
char *ob_at_uint(char *o, uint64_t v);
char *ob_at_int(char *o, int64_t v);
static inline char *ob_cursor(outbuf *b) { return b->p + b->len; }
static inline void ob_set_end(outbuf *b, char *o) { b->len = (size_t)(o - b->p); }

/* Empty the buffer, keeping its memory. */
void ob_clear(outbuf *b);
void ob_free(outbuf *b);

#endif
