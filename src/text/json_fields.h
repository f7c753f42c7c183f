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
/* The object's "type" string, or NULL. */
const char *jf_type(const cJSON *o);
/* path + suffix into buf (truncated safely). */
const char *jf_path(char *buf, size_t cap, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
