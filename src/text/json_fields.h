/* Reading tokenizer.json fields with errors that name the JSON path. */
#ifndef MLM_TEXT_JSON_FIELDS_H
#define MLM_TEXT_JSON_FIELDS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "mlm/core.h"

/* A missing key or JSON null gives def; another type is MLM_ERR_FORMAT
 * naming path.key. */
mlm_status jf_bool(const cJSON *o, const char *key, const char *path, int def, int *out);
mlm_status jf_str(const cJSON *o, const char *key, const char *path, const char *def,
                  const char **out);
mlm_status jf_int(const cJSON *o, const char *key, const char *path, int64_t def, int64_t lo,
                  int64_t hi, int64_t *out);
mlm_status jf_num(const cJSON *o, const char *key, const char *path, double def, double *out);
/* Parses one element of a Sequence into *slot (the element's place in the
 * array of children, as a void * to a pointer of the caller's type). */
typedef mlm_status (*jf_parse_fn)(const cJSON *item, const char *path, void *slot);

/* The children of a Sequence (normalizers, pre_tokenizers, processors,
 * decoders): o[key] must be an array (MLM_ERR_FORMAT naming path.key
 * otherwise); *array gets a mem_calloc'ed array of its length (slots of
 * elem_size bytes, at least one), each filled by parse with the path
 * "path.key[i]". *n counts the children parsed, also on failure, so that the
 * caller's free releases exactly those. */
mlm_status jf_sequence(const cJSON *o, const char *key, const char *path, size_t elem_size,
                       jf_parse_fn parse, void **array, size_t *n);

/* The object's "type" string, or NULL. */
const char *jf_type(const cJSON *o);
/* path + suffix into buf (truncated safely). */
const char *jf_path(char *buf, size_t cap, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
