/* A strict JSON reader for files we do not trust (safetensors headers,
 * config.json, index files), and Python-compatible JSON text output.
 *
 * Why not cJSON alone: a safetensors header needs exact 64-bit integers
 * (cJSON keeps doubles, so 2^53 + 1 silently becomes 2^53), must reject
 * duplicate keys (cJSON keeps both), and every allocation must go through
 * mem_alloc so that fault-injection tests reach it; cJSON's allocator hook is
 * process-wide and would steer an application's own cJSON too. */
#ifndef MLM_IO_JSON_H
#define MLM_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h"
#include "io/strbuf.h"
#include "mlm/core.h"

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;
typedef struct json_member json_member;

/* Kept small (56 bytes on LP64): a hostile 100 MB header of "[0,0,0,..."
 * makes one value per two bytes of input. */
struct json_value {
    json_type type;
    unsigned char boolean;    /* JSON_BOOL */
    unsigned char is_integer; /* JSON_NUMBER written without fraction or exponent */
    unsigned char negative;   /* JSON_NUMBER written with a leading '-' */
    unsigned char overflow;   /* an integer whose magnitude exceeds UINT64_MAX */
    size_t offset;            /* where the value starts, in bytes from the file start */
    size_t len;               /* JSON_STRING: bytes; arrays and objects: element count */
    union {
        struct {                  /* JSON_NUMBER */
            double number;        /* the value (C-locale strtod) */
            uint64_t magnitude;   /* |value| exactly, when is_integer && !overflow */
            const char *raw;      /* the number's text in the source (not NUL-terminated) */
            size_t raw_len;
        };
        char *str;                /* JSON_STRING: decoded UTF-8, NUL-terminated; may hold NULs */
        json_value *items;        /* JSON_ARRAY */
        struct {                  /* JSON_OBJECT */
            json_member *members; /* in document order */
            size_t *sorted;       /* member indices ordered by key bytes */
        };
    };
};

struct json_member {
    char *key; /* decoded, NUL-terminated; may hold NULs */
    size_t key_len;
    size_t offset; /* of the key, in bytes from the file start */
    json_value value;
};

/* Parses one JSON value followed only by whitespace. `base` is added to every
 * byte offset (a safetensors header starts at byte 8) and `name` begins
 * every message: "config.json: invalid JSON at byte 17: expected ':'".
 * Rejects invalid UTF-8, duplicate keys, nesting deeper than 64, raw control
 * characters and lone surrogates in strings. `text` need not end in NUL and
 * must outlive *out (numbers point into it). */
mlm_status json_parse(const char *text, size_t len, size_t base, const char *name,
                      json_value **out);
/* Accepts NULL. */
void json_free(json_value *v);

/* The member named `key` (exact bytes, no NULs), or NULL. O(log n). */
const json_value *json_get(const json_value *obj, const char *key);

/* "null", "boolean", "number", "string", "array", "object". */
const char *json_type_name(json_type t);


/* Python's repr() of a double ("0.1", "1e-12", "1e+16", "3.0", "Infinity"),
 * which json.dumps uses. `buf` must hold 32 bytes. */
void json_format_py_float(double x, char *buf);

/* A JSON string as Python's json.dumps writes it by default (ensure_ascii:
 * everything outside printable ASCII as \uXXXX, surrogate pairs above
 * U+FFFF). `s` must be valid UTF-8. */
void json_put_py_string(strbuf *sb, const char *s, size_t n);

/* A JSON string as serde_json (Rust) writes it: only '"', '\\' and control
 * characters escaped, everything else as raw UTF-8. */
void json_put_rust_string(strbuf *sb, const char *s, size_t n);

/* `v` as json.dumps(v, indent=2, sort_keys=True) writes it, with nested lines
 * indented by `depth` levels more. */
void json_put_py_value(strbuf *sb, const json_value *v, int depth);

#endif
