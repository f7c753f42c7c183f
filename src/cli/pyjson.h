/* JSON files written byte for byte as Python's json module writes them, for
 * the files transformers' Trainer leaves in output_dir (all_results.json,
 * trainer_state.json...). The library has the same helpers internally, but
 * the mlm tool sees only the public API, so it carries its own small copy. */
#ifndef MLM_CLI_PYJSON_H
#define MLM_CLI_PYJSON_H

#include <cJSON.h>
#include <stddef.h>

/* Python's repr() of a float ("0.1", "3.0", "1e-05", "1e+16", "Infinity",
 * "NaN"), which json.dumps uses. buf must hold 32 bytes. */
void py_float_repr(double x, char *buf);

/* Python's round(x, ndigits): correctly rounded to ndigits decimals. */
double py_round(double x, int ndigits);

/* Which numbers are Python ints: called with the key of the member holding
 * the number (NULL inside an array of numbers); nonzero means int. cJSON keeps
 * no number text, so the writer is told which keys hold ints. */
typedef int (*py_int_key_fn)(const char *key);

/* v as json.dumps(v, indent=indent, sort_keys=True) (ensure_ascii, as Python's
 * default), malloc'ed; NULL when out of memory. */
char *py_json_dumps(const cJSON *v, int indent, py_int_key_fn is_int);

/* Write len bytes to path atomically: a temporary file beside it, fsync,
 * rename. Returns 0, or -1 with a message on stderr naming the path. */
int cli_write_atomic(const char *path, const char *data, size_t len);

/* A whole file, NUL-terminated, malloc'ed; NULL (errno set) on failure. */
char *cli_read_file(const char *path, size_t *len);

#endif
