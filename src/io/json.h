/* JSON for files we do not trust (safetensors headers, shard index files,
 * config.json), read with cJSON (the project's JSON library), and JSON text
 * written byte for byte as Python's json.dumps and Rust's serde_json do.
 *
 * json_parse adds what cJSON leaves out: it rejects invalid UTF-8, duplicate
 * keys (cJSON keeps both), nesting deeper than 64, raw control characters,
 * malformed numbers ("01", "1.", "-.5", which cJSON reads through strtod),
 * malformed \u escapes and lone surrogates, and U+0000 in strings (cJSON's
 * strings end at the first NUL, so "a\u0000b" would silently become "a").
 *
 * What cJSON cannot give back: byte offsets of values (messages name the key
 * instead), and the text of numbers: every number is a double, so 1 and 1.0
 * read the same, and integers are exact only below 2^53 (json_int). cJSON
 * allocates through malloc, not mem_alloc: allocation faults reach only the
 * bookkeeping here, and an allocation failure inside cJSON reads as invalid
 * JSON (cJSON does not tell them apart). */
#ifndef MLM_IO_JSON_H
#define MLM_IO_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h"
#include "io/strbuf.h"
#include "mlm/core.h"

#define JSON_MAX_DEPTH 64

/* Parses one JSON value followed only by whitespace into *out (free it with
 * cJSON_Delete). `base` is added to every byte offset (a safetensors header
 * starts at byte 8) and `name` begins every message: "config.json: invalid
 * JSON at byte 17, found '}'". Text holding more than `max_values` JSON
 * values is refused before cJSON builds anything (a cJSON node costs ~80
 * bytes of heap, and "[0,0,0,..." makes one per two bytes). `text` need not
 * end in NUL. */
mlm_status json_parse(const char *text, size_t len, size_t base, const char *name, size_t max_values,
                      cJSON **out);

/* "null", "boolean", "number", "string", "array", "object"; "missing" for NULL. */
const char *json_type_name(const cJSON *v);

/* For messages: a number as json_format_py_number writes it, otherwise the
 * type name. `buf` must hold 32 bytes. */
const char *json_describe(const cJSON *v, char *buf);

/* Number of elements of an array or members of an object (size_t, unlike
 * cJSON_GetArraySize). */
size_t json_len(const cJSON *v);

/* An exact integer: 1 and *out set when `v` is an integral number of
 * magnitude below 2^53 (so the text it came from was that integer); 0 when
 * it is not an integral number; -1 when it is integral but too large for a
 * double to represent it exactly (2^53 + 1 reads as 2^53). */
int json_int(const cJSON *v, int64_t *out);


/* A double as json.dumps writes it: Python's repr() ("0.1", "1e-12",
 * "1e+16", "3.0"), with "NaN", "Infinity", "-Infinity". `buf` must hold 32
 * bytes. */
void json_format_py_float(double x, char *buf);

/* Python's repr() itself, as print() and str(dict) show a float: the same
 * digits, with "nan", "inf", "-inf". `buf` must hold 32 bytes. */
void json_format_py_repr(double x, char *buf);

/* v (an object or array) as one line of JSON whose numbers read back exactly
 * (cJSON_Print's round-trip check allows an epsilon, so it may drop the last
 * bit): as json_format_py_number writes them, NaN as null. Free with
 * cJSON_free; NULL when out of memory. */
char *json_print_exact(const cJSON *v);

/* Python's round(x, ndigits): x correctly rounded to ndigits decimals (the
 * exact binary value, halves to even). */
double json_py_round(double x, int ndigits);

/* A number read from JSON as json.dumps would write the value Python read:
 * integral values below 2^53 as integers ("5", "100" for 1.0E2, since cJSON
 * keeps no text to tell 1 from 1.0), others as Python floats, and infinities
 * (from 1e999) as "1e999"/"-1e999", which read back the same (Python's
 * "Infinity" is not JSON). `buf` must hold 32 bytes. */
void json_format_py_number(double x, char *buf);

/* A JSON string as Python's json.dumps writes it by default (ensure_ascii:
 * everything outside printable ASCII as \uXXXX, surrogate pairs above
 * U+FFFF). `s` must be valid UTF-8. */
void json_put_py_string(strbuf *sb, const char *s, size_t n);

/* A JSON string as serde_json (Rust) writes it: only '"', '\\' and control
 * characters escaped, everything else as raw UTF-8. */
void json_put_rust_string(strbuf *sb, const char *s);

/* `v` as json.dumps(v, indent=2, sort_keys=True) writes it, with nested lines
 * indented by `depth` levels more. Integral numbers below 2^53 are written
 * as ints (cJSON keeps no text to tell 1 from 1.0). */
void json_put_py_value(strbuf *sb, const cJSON *v, int depth);

/* Which numbers are Python ints, by the key of the member that holds them
 * (NULL inside an array): nonzero for an int. */
typedef int (*json_int_key_fn)(const char *key);

/* `v` as json.dumps(v, indent=indent, sort_keys=True) writes it, numbers as
 * ints where is_int says so (and the value is integral), else as Python
 * floats ("3.0"); is_int NULL: as json_put_py_value. */
void json_put_py(strbuf *sb, const cJSON *v, int indent, json_int_key_fn is_int);

#endif
