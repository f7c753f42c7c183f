/* The growable byte buffer: JSON text and headers, and the data layer's
 * binary columns (offsets, values), all through mem_* allocation. */
#ifndef MLM_IO_STRBUF_H
#define MLM_IO_STRBUF_H

#include <stddef.h>
#include <stdint.h>

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

/* Appends return 0, or -1 when this or an earlier append failed (so a
 * caller may check each call, or only sb_status at the end). */
int sb_append(strbuf *sb, const void *bytes, size_t n);

/* Room for `extra` more bytes (and the NUL), for a caller that writes into
 * data + len itself and then adds to len (binary users; the NUL is then
 * theirs to keep or not). 0, or -1 as an append. */
int sb_reserve(strbuf *sb, size_t extra);

static inline int sb_put_u64(strbuf *sb, uint64_t v) { return sb_append(sb, &v, sizeof v); }
static inline int sb_put_i32(strbuf *sb, int32_t v) { return sb_append(sb, &v, sizeof v); }
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* MLM_OK, or MLM_ERR_OUT_OF_MEMORY (message recorded) when an append failed. */
mlm_status sb_status(const strbuf *sb);

/* Hands the buffer over (caller mem_free()s it) and resets `sb`. Never NULL
 * on success: an empty buffer gives "". */
mlm_status sb_take(strbuf *sb, char **out, size_t *len);

/* sb_take's buffer alone: NULL (and `sb` freed) when an append failed. */
void *sb_detach(strbuf *sb);

void sb_free(strbuf *sb);

/* The public API's two-call sizing: *needed = len + 1, and at most cap
 * bytes of s including a NUL copied into buf (nothing when cap is 0). */
void out_copy(const char *s, size_t len, char *buf, size_t cap, size_t *needed);

/* sb through out_copy, then freed: MLM_OK, or MLM_ERR_OUT_OF_MEMORY (and
 * nothing copied) when an append failed. */
mlm_status sb_copy_out(strbuf *sb, char *buf, size_t cap, size_t *needed);

#endif
