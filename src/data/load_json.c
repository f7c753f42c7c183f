/* JSON and JSON Lines → columns, with HF's flatten() of nested objects. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "data/load.h"

#define MAX_COLUMNS 100000

/* The columns being built from records. */
typedef struct jcols {
    inferbuild *cols;
    size_t n, cap;
    uint64_t row; /* the record being added */
    char path[1024];
} jcols;

static void jc_free(jcols *jc)
{
    for (size_t i = 0; i < jc->n; i++)
        ib_free(&jc->cols[i]);
    mem_free(jc->cols);
    memset(jc, 0, sizeof *jc);
}

static mlm_status jc_column(jcols *jc, const char *name, inferbuild **out)
{
    for (size_t i = jc->n; i-- > 0;)
        if (strcmp(jc->cols[i].name, name) == 0) {
            *out = &jc->cols[i];
            return MLM_OK;
        }
    if (jc->n >= MAX_COLUMNS)
        return err_set(MLM_ERR_UNSUPPORTED, "more than %d columns", MAX_COLUMNS);
    if (jc->n == jc->cap) {
        size_t cap = jc->cap ? jc->cap * 2 : 8;
        inferbuild *c = mem_realloc(jc->cols, cap * sizeof *c);
        if (!c)
            return err_oom();
        jc->cols = c;
        jc->cap = cap;
    }
    mlm_status st = ib_init(&jc->cols[jc->n], name);
    if (st)
        return st;
    *out = &jc->cols[jc->n++];
    return MLM_OK;
}

static int json_int(const cJSON *v, int64_t *iv)
{
    double d = v->valuedouble;
    if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return 0;
    *iv = (int64_t)d;
    return 1;
}

static mlm_status add_list_item(inferbuild *ib, const cJSON *it)
{
    char num[64];
    int64_t iv = 0;
    if (cJSON_IsString(it))
        return ib_list_item(ib, IV_STRING, it->valuestring, strlen(it->valuestring), 0);
    if (cJSON_IsNumber(it) && json_int(it, &iv)) {
        int n = snprintf(num, sizeof num, "%" PRId64, iv);
        return ib_list_item(ib, IV_INT, num, (size_t)n, iv);
    }
    if (cJSON_IsNumber(it)) {
        int n = snprintf(num, sizeof num, "%.17g", it->valuedouble);
        return ib_list_item(ib, IV_OTHER, num, (size_t)n, 0);
    }
    char *txt = cJSON_PrintUnformatted(it);
    if (!txt)
        return err_oom();
    mlm_status st = ib_list_item(ib, IV_OTHER, txt, strlen(txt), 0);
    cJSON_free(txt);
    return st;
}

/* Add `v` under the dotted name jc->path (objects recurse). */
static mlm_status jc_add_value(jcols *jc, const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        size_t base = strlen(jc->path);
        for (const cJSON *ch = v->child; ch; ch = ch->next) {
            const char *key = ch->string ? ch->string : "";
            size_t klen = strlen(key);
            if (base + 1 + klen >= sizeof jc->path)
                return err_set(MLM_ERR_UNSUPPORTED, "column name '%.40s...' too long", jc->path);
            if (base) {
                jc->path[base] = '.';
                memcpy(jc->path + base + 1, key, klen + 1);
            } else {
                memcpy(jc->path, key, klen + 1);
            }
            mlm_status st = jc_add_value(jc, ch);
            jc->path[base] = '\0';
            if (st)
                return st;
        }
        return MLM_OK;
    }
    inferbuild *ib = NULL;
    mlm_status st = jc_column(jc, jc->path, &ib);
    if (st)
        return st;
    if (ib->nrows > jc->row)
        return err_set(MLM_ERR_FORMAT, "duplicate key '%s'", jc->path);
    if ((st = ib_pad(ib, jc->row)))
        return st;
    char num[64];
    int64_t iv;
    switch (v->type & 0xFF) {
    case cJSON_NULL:
        return ib_add_null(ib);
    case cJSON_False:
        return ib_add_scalar(ib, IV_BOOL, "false", 5);
    case cJSON_True:
        return ib_add_scalar(ib, IV_BOOL, "true", 4);
    case cJSON_Number:
        if (json_int(v, &iv)) {
            int n = snprintf(num, sizeof num, "%" PRId64, iv);
            return ib_add_scalar(ib, IV_INT, num, (size_t)n);
        } else {
            int n = snprintf(num, sizeof num, "%.17g", v->valuedouble);
            return ib_add_scalar(ib, IV_FLOAT, num, (size_t)n);
        }
    case cJSON_String:
        return ib_add_scalar(ib, IV_STRING, v->valuestring, strlen(v->valuestring));
    case cJSON_Array:
        if ((st = ib_list_begin(ib)))
            return st;
        for (const cJSON *it = v->child; it; it = it->next)
            if ((st = add_list_item(ib, it)))
                return st;
        return ib_list_end(ib);
    default: {
        char *txt = cJSON_PrintUnformatted(v);
        if (!txt)
            return err_oom();
        st = ib_add_scalar(ib, IV_STRING, txt, strlen(txt));
        cJSON_free(txt);
        return st;
    }
    }
}

static mlm_status jc_add_record(jcols *jc, const cJSON *obj)
{
    jc->path[0] = '\0';
    mlm_status st = jc_add_value(jc, obj);
    jc->row++;
    return st;
}

/* Undo a partly added record (on_bad_rows: skip never gets here with a
 * parsed record; this keeps the columns aligned after an error anyway). */
static mlm_status jc_finish(jcols *jc, mlm_dataset **out)
{
    *out = NULL;
    mlm_dataset *ds = ds_alloc(jc->n ? jc->n : 1);
    if (!ds)
        return err_oom();
    ds->nrows = jc->row;
    for (size_t i = 0; i < jc->n; i++) {
        colstore *cs;
        mlm_column_type t;
        mlm_status st = ib_pad(&jc->cols[i], jc->row);
        if (!st)
            st = ib_finish(&jc->cols[i], &cs, &t);
        if (!st)
            st = ds_push_store(ds, jc->cols[i].name, cs);
        if (st) {
            mlm_dataset_free(ds);
            return st;
        }
    }
    if (jc->n == 0)
        ds->nrows = 0;
    *out = ds;
    return MLM_OK;
}

/* Records: an array of objects, or from_dict's object of equal-length lists. */
mlm_status json_records_to_dataset(const cJSON *root, const char *what, mlm_dataset **out)
{
    *out = NULL;
    jcols jc;
    memset(&jc, 0, sizeof jc);
    mlm_status st = MLM_OK;
    if (cJSON_IsArray(root)) {
        uint64_t i = 0;
        for (const cJSON *rec = root->child; rec && !st; rec = rec->next, i++) {
            if (!cJSON_IsObject(rec))
                st = err_set(MLM_ERR_FORMAT, "%s: record %" PRIu64 " is not an object", what, i);
            else if ((st = jc_add_record(&jc, rec)))
                err_prefix(st, "%s: record %" PRIu64 ": ", what, i);
        }
    } else if (cJSON_IsObject(root)) {
        int nrows = -1;
        for (const cJSON *col = root->child; col; col = col->next) {
            if (!cJSON_IsArray(col)) {
                return err_set(MLM_ERR_FORMAT,
                               "%s: column '%s' is not a list (from_dict's shape is "
                               "{\"column\": [values...]})",
                               what, col->string ? col->string : "");
            }
            int n = cJSON_GetArraySize(col);
            if (nrows >= 0 && n != nrows)
                return err_set(MLM_ERR_FORMAT, "%s: column '%s' has %d values, others have %d",
                               what, col->string ? col->string : "", n, nrows);
            nrows = n;
        }
        /* Walk the lists in step, one record at a time. */
        size_t ncols = (size_t)cJSON_GetArraySize(root);
        const cJSON **cur = mem_calloc(ncols ? ncols : 1, sizeof *cur);
        if (!cur)
            return err_oom();
        size_t k = 0;
        for (const cJSON *col = root->child; col; col = col->next)
            cur[k++] = col->child;
        for (int r = 0; r < nrows && !st; r++) {
            k = 0;
            for (const cJSON *col = root->child; col && !st; col = col->next, k++) {
                const char *key = col->string ? col->string : "";
                if (strlen(key) >= sizeof jc.path) {
                    st = err_set(MLM_ERR_UNSUPPORTED, "%s: column name too long", what);
                    break;
                }
                strcpy(jc.path, key);
                if ((st = jc_add_value(&jc, cur[k])))
                    err_prefix(st, "%s: row %d: ", what, r);
                cur[k] = cur[k]->next;
            }
            jc.row++;
        }
        mem_free(cur);
    } else {
        st = err_set(MLM_ERR_FORMAT, "%s: expected a JSON array of records or an object of "
                     "columns", what);
    }
    if (!st)
        st = jc_finish(&jc, out);
    jc_free(&jc);
    return st;
}

mlm_status mlm_dataset_from_json(const char *json, size_t len, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_from_json: out is NULL");
    *out = NULL;
    if (!json)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_from_json: json is NULL");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t line, col;
        size_t pos = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        text_position(json, pos, &line, &col);
        return err_set(MLM_ERR_FORMAT, "JSON: syntax error at line %zu, column %zu", line, col);
    }
    mlm_status st = json_records_to_dataset(root, "JSON", out);
    cJSON_Delete(root);
    return st;
}

/* --------------------------------------------------------------- loaders */

void text_position(const char *data, size_t pos, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (data[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

mlm_status load_jsonl_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                             mlm_dataset **out)
{
    *out = NULL;
    jcols jc;
    memset(&jc, 0, sizeof jc);
    mlm_status st = MLM_OK;
    uint64_t skipped = 0;
    size_t line = 0;
    for (size_t p = 0; p < len && !st;) {
        size_t e = p;
        while (e < len && data[e] != '\n')
            e++;
        line++;
        size_t ls = p, a = p, b = e;
        p = e + 1;
        while (a < b && is_space(data[a]))
            a++;
        while (b > a && is_space(data[b - 1]))
            b--;
        if (a == b)
            continue;
        const char *end = NULL;
        cJSON *rec = cJSON_ParseWithLengthOpts(data + a, b - a, &end, 0);
        const char *why = NULL;
        size_t col = 1;
        if (!rec) {
            why = "invalid JSON";
            if (end && end >= data + a && end <= data + b)
                col = (size_t)(end - (data + ls)) + 1;
        } else if (end && end != data + b) {
            why = "text after the JSON value";
        } else if (!cJSON_IsObject(rec)) {
            why = "not a JSON object";
        }
        if (why) {
            cJSON_Delete(rec);
            if (o->skip_bad) {
                skipped++;
                continue;
            }
            st = err_set(MLM_ERR_FORMAT, "%s: line %zu: %s (column %zu)", what, line, why, col);
            break;
        }
        if ((st = jc_add_record(&jc, rec)))
            err_prefix(st, "%s: line %zu: ", what, line);
        cJSON_Delete(rec);
    }
    if (!st)
        st = jc_finish(&jc, out);
    jc_free(&jc);
    if (!st)
        (*out)->skipped = skipped;
    return st;
}

mlm_status load_json_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                            mlm_dataset **out)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && is_space(data[i]))
        i++;
    if (i == len) {
        if (o->field[0])
            return err_set(MLM_ERR_NOT_FOUND, "%s: field '%s' not found (empty file)", what,
                           o->field);
        return load_jsonl_buffer(data, len, what, o, out);
    }
    const char *end = NULL;
    cJSON *root = NULL;
    if (data[i] == '[' || data[i] == '{' || o->field[0])
        root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (root && end) {
        size_t j = (size_t)(end - data);
        while (j < len && is_space(data[j]))
            j++;
        if (j < len) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    if (!root && (data[i] == '[' || o->field[0])) {
        size_t line, col;
        size_t pos = end && end >= data && end <= data + len ? (size_t)(end - data) : 0;
        text_position(data, pos, &line, &col);
        return err_set(MLM_ERR_FORMAT, "%s: line %zu, column %zu: invalid JSON", what, line,
                       col);
    }
    mlm_status st;
    if (root && o->field[0]) {
        const cJSON *f = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, o->field)
                                              : NULL;
        if (!f)
            st = err_set(MLM_ERR_NOT_FOUND, "%s: field '%s' not found", what, o->field);
        else
            st = json_records_to_dataset(f, what, out);
    } else if (root && cJSON_IsArray(root)) {
        st = json_records_to_dataset(root, what, out);
    } else if (root && cJSON_IsObject(root) && root->child && cJSON_IsArray(root->child)) {
        /* from_dict's shape; a lone record with a list first stays a record
         * only if some other value is not a list. */
        int all_lists = 1;
        for (const cJSON *c = root->child; c; c = c->next)
            all_lists &= cJSON_IsArray(c) ? 1 : 0;
        st = all_lists ? json_records_to_dataset(root, what, out)
                       : load_jsonl_buffer(data, len, what, o, out);
    } else {
        st = load_jsonl_buffer(data, len, what, o, out);
    }
    cJSON_Delete(root);
    return st;
}
