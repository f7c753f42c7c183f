/* A growable byte string for building headers and JSON text. */
#ifndef MLM_IO_STRBUF_H
#define MLM_IO_STRBUF_H

#include <stddef.h>

#include "mlm/core.h"

/* Always NUL-terminated once anything was appended; `data` is NULL before.
 * A failed append leaves `failed` set and every later append a no-op, so a
 * builder can append freely and check once (as zstd's ZSTD_isError is not). */
typedef struct strbuf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} strbuf;

void sb_append(strbuf *sb, const void *bytes, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* MLM_OK, or MLM_ERR_OUT_OF_MEMORY (message recorded) when an append failed. */
mlm_status sb_status(const strbuf *sb);

/* Hands the buffer over (caller mem_free()s it) and resets `sb`. Never NULL
 * on success: an empty buffer gives "". */
mlm_status sb_take(strbuf *sb, char **out, size_t *len);

void sb_free(strbuf *sb);

#endif
