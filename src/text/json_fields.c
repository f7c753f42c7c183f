/* tokenizer.json field readers; see json_fields.h. */
#include "text/json_fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/error.h"

mlm_status jf_bool(const cJSON *o, const char *key, const char *path, int def, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return MLM_OK;
    }
    if (!cJSON_IsBool(v)) return err_set(MLM_ERR_FORMAT, "%s.%s: expected a boolean", path, key);
    *out = cJSON_IsTrue(v);
    return MLM_OK;
}

mlm_status jf_str(const cJSON *o, const char *key, const char *path, const char *def,
                  const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return MLM_OK;
    }
    if (!cJSON_IsString(v)) return err_set(MLM_ERR_FORMAT, "%s.%s: expected a string", path, key);
    *out = v->valuestring;
    return MLM_OK;
}

mlm_status jf_num(const cJSON *o, const char *key, const char *path, double def, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return MLM_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return err_set(MLM_ERR_FORMAT, "%s.%s: expected a number", path, key);
    *out = v->valuedouble;
    return MLM_OK;
}

mlm_status jf_int(const cJSON *o, const char *key, const char *path, int64_t def, int64_t lo,
                  int64_t hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return MLM_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return err_set(MLM_ERR_FORMAT, "%s.%s: expected an integer in [%lld, %lld]", path, key,
                       (long long)lo, (long long)hi);
    *out = (int64_t)v->valuedouble;
    return MLM_OK;
}

const char *jf_type(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

const char *jf_path(char *buf, size_t cap, const char *path, const char *fmt, ...)
{
    int n = snprintf(buf, cap, "%s", path);
    if (n < 0 || (size_t)n >= cap) return buf;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return buf;
}

mlm_status jf_sequence(const cJSON *o, const char *key, const char *path, size_t elem_size,
                       jf_parse_fn parse, void **array, size_t *n)
{
    *array = NULL;
    *n = 0;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(arr)) return err_set(MLM_ERR_FORMAT, "%s.%s: expected an array", path, key);
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    char *slots = mem_calloc(cnt ? cnt : 1, elem_size);
    if (!slots) return err_oom();
    *array = slots;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        char sub[512];
        jf_path(sub, sizeof sub, path, ".%s[%zu]", key, *n);
        mlm_status st = parse(it, sub, slots + *n * elem_size);
        if (st) return st;
        (*n)++;
    }
    return MLM_OK;
}
