/* The dataset handle: building, access, lifetime. */
#include "data/dataset_impl.h"

#include <inttypes.h>
#include <stdlib.h>

#include "core/error.h"

idxbuf *idxbuf_new(uint64_t n)
{
    if (n > (SIZE_MAX - sizeof(idxbuf)) / sizeof(uint64_t))
        return NULL;
    idxbuf *ix = mem_alloc(sizeof *ix + (size_t)n * sizeof(uint64_t));
    if (!ix)
        return NULL;
    atomic_init(&ix->refs, 1);
    ix->n = n;
    return ix;
}

void idxbuf_release(idxbuf *ix)
{
    if (ix && atomic_fetch_sub(&ix->refs, 1) == 1)
        mem_free(ix);
}

const char *mlm_column_type_name(mlm_column_type type)
{
    switch (type) {
    case MLM_COLUMN_STRING: return "string";
    case MLM_COLUMN_STRING_LIST: return "string_list";
    case MLM_COLUMN_INT: return "int";
    case MLM_COLUMN_SEQUENCE: return "sequence";
    case MLM_COLUMN_FLOAT: return "float";
    }
    return "unknown";
}

mlm_dataset *ds_alloc(size_t cap)
{
    mlm_dataset *ds = mem_calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    if (cap) {
        ds->cols = mem_calloc(cap, sizeof *ds->cols);
        if (!ds->cols) {
            mem_free(ds);
            return NULL;
        }
        ds->cap = cap;
    }
    return ds;
}

void mlm_dataset_free(mlm_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->ncols; i++) {
        mem_free(ds->cols[i].name);
        colstore_release(ds->cols[i].cs);
        idxbuf_release(ds->cols[i].idx);
    }
    mem_free(ds->cols);
    mem_free(ds);
}

mlm_status mlm_dataset_new(mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_new: out is NULL");
    *out = ds_alloc(4);
    return *out ? MLM_OK : err_oom();
}

const dcol *ds_find(const mlm_dataset *ds, const char *name)
{
    for (size_t i = 0; i < ds->ncols; i++)
        if (strcmp(ds->cols[i].name, name) == 0)
            return &ds->cols[i];
    return NULL;
}

mlm_status ds_column(const mlm_dataset *ds, const char *name, int want, const dcol **out)
{
    if (!ds || !name)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "dataset or column name is NULL");
    const dcol *c = ds_find(ds, name);
    if (!c)
        return err_set(MLM_ERR_NOT_FOUND, "column '%s' not found", name);
    if (want >= 0 && c->cs->type != (mlm_column_type)want)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s' is %s, not %s", name,
                       mlm_column_type_name(c->cs->type),
                       mlm_column_type_name((mlm_column_type)want));
    *out = c;
    return MLM_OK;
}

static mlm_status ds_grow(mlm_dataset *ds)
{
    if (ds->ncols < ds->cap)
        return MLM_OK;
    size_t cap = ds->cap ? ds->cap * 2 : 4;
    dcol *c = mem_realloc(ds->cols, cap * sizeof *c);
    if (!c)
        return err_oom();
    ds->cols = c;
    ds->cap = cap;
    return MLM_OK;
}

mlm_status ds_push_shared(mlm_dataset *ds, const dcol *c)
{
    if (ds_grow(ds))
        return MLM_ERR_OUT_OF_MEMORY;
    char *name = mem_strdup(c->name);
    if (!name)
        return err_oom();
    dcol *d = &ds->cols[ds->ncols++];
    d->name = name;
    d->cs = colstore_ref(c->cs);
    d->idx = c->idx;
    if (d->idx)
        atomic_fetch_add(&d->idx->refs, 1);
    d->start = c->start;
    return MLM_OK;
}

mlm_status ds_push_store(mlm_dataset *ds, const char *name, colstore *cs)
{
    char *nm = NULL;
    if (ds_grow(ds) || !(nm = mem_strdup(name))) {
        colstore_release(cs);
        return err_oom();
    }
    dcol *d = &ds->cols[ds->ncols++];
    d->name = nm;
    d->cs = cs;
    d->idx = NULL;
    d->start = 0;
    return MLM_OK;
}

mlm_status ds_slice(const mlm_dataset *ds, uint64_t start, uint64_t n, mlm_dataset **out)
{
    *out = NULL;
    if (start > ds->nrows || n > ds->nrows - start)
        return err_set(MLM_ERR_RANGE, "rows [%" PRIu64 ", %" PRIu64 ") out of range (%" PRIu64
                       " rows)", start, start + n, ds->nrows);
    mlm_dataset *o = ds_alloc(ds->ncols ? ds->ncols : 1);
    if (!o)
        return err_oom();
    o->nrows = n;
    for (size_t i = 0; i < ds->ncols; i++) {
        dcol c = ds->cols[i];
        c.start += start;
        if (ds_push_shared(o, &c)) {
            mlm_dataset_free(o);
            return MLM_ERR_OUT_OF_MEMORY;
        }
    }
    *out = o;
    return MLM_OK;
}

mlm_status ds_take(const mlm_dataset *ds, const uint64_t *idx, uint64_t n, mlm_dataset **out)
{
    *out = NULL;
    for (uint64_t i = 0; i < n; i++)
        if (idx[i] >= ds->nrows)
            return err_set(MLM_ERR_RANGE, "index %" PRIu64 " (position %" PRIu64
                           ") out of range: the dataset has %" PRIu64 " rows",
                           idx[i], i, ds->nrows);
    mlm_dataset *o = ds_alloc(ds->ncols ? ds->ncols : 1);
    if (!o)
        return err_oom();
    o->nrows = n;
    /* Columns that share (idx, start) share the composed index too. */
    for (size_t i = 0; i < ds->ncols; i++) {
        const dcol *c = &ds->cols[i];
        idxbuf *nx = NULL;
        for (size_t j = 0; j < i; j++)
            if (ds->cols[j].idx == c->idx && ds->cols[j].start == c->start) {
                nx = o->cols[j].idx;
                atomic_fetch_add(&nx->refs, 1);
                break;
            }
        if (!nx) {
            nx = idxbuf_new(n);
            if (!nx) {
                mlm_dataset_free(o);
                return err_oom();
            }
            for (uint64_t r = 0; r < n; r++)
                nx->v[r] = dcol_phys(c, idx[r]);
        }
        char *nm = mem_strdup(c->name);
        if (!nm) {
            idxbuf_release(nx);
            mlm_dataset_free(o);
            return err_oom();
        }
        dcol *d = &o->cols[o->ncols++];
        d->name = nm;
        d->cs = colstore_ref(c->cs);
        d->idx = nx;
        d->start = 0;
    }
    *out = o;
    return MLM_OK;
}

/* ------------------------------------------------------------- builders */

static mlm_status check_add(mlm_dataset *ds, const char *name, size_t n, const void *values)
{
    if (!ds || !name)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "dataset or column name is NULL");
    if (n && !values)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': values are NULL", name);
    if (ds_find(ds, name))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s' already exists", name);
    if (ds->ncols && n != ds->nrows)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "column '%s' has %zu rows, the dataset has %" PRIu64, name, n,
                       ds->nrows);
    return MLM_OK;
}

static mlm_status add_built(mlm_dataset *ds, const char *name, storebuild *sb, size_t n)
{
    colstore *cs;
    mlm_status st = store_finish(sb, &cs);
    if (st)
        return st;
    if ((st = ds_push_store(ds, name, cs)))
        return st;
    ds->nrows = n;
    return MLM_OK;
}

mlm_status mlm_dataset_add_string_column(mlm_dataset *ds, const char *name,
                                         const char *const *values, size_t n)
{
    mlm_status st = check_add(ds, name, n, values);
    if (st)
        return st;
    storebuild sb;
    store_init(&sb, MLM_COLUMN_STRING);
    for (size_t i = 0; i < n; i++) {
        if (!values[i]) {
            store_free(&sb);
            return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': value %zu is NULL", name, i);
        }
        if ((st = store_add_string(&sb, values[i], strlen(values[i])))) {
            store_free(&sb);
            return st;
        }
    }
    return add_built(ds, name, &sb, n);
}

mlm_status mlm_dataset_add_string_list_column(mlm_dataset *ds, const char *name,
                                              const char *const *const *lists,
                                              const size_t *counts, size_t n)
{
    mlm_status st = check_add(ds, name, n, lists);
    if (st)
        return st;
    if (n && !counts)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': counts are NULL", name);
    storebuild sb;
    store_init(&sb, MLM_COLUMN_STRING_LIST);
    for (size_t i = 0; i < n && !st; i++) {
        if (counts[i] && !lists[i]) {
            store_free(&sb);
            return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': list %zu is NULL", name, i);
        }
        st = store_list_begin(&sb);
        for (size_t j = 0; j < counts[i] && !st; j++) {
            if (!lists[i][j]) {
                store_free(&sb);
                return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': row %zu item %zu is NULL",
                               name, i, j);
            }
            st = store_list_item(&sb, lists[i][j], strlen(lists[i][j]));
        }
        if (!st)
            st = store_list_end(&sb);
    }
    if (st) {
        store_free(&sb);
        return st;
    }
    return add_built(ds, name, &sb, n);
}

mlm_status mlm_dataset_add_int_column(mlm_dataset *ds, const char *name, const int64_t *values,
                                      size_t n)
{
    mlm_status st = check_add(ds, name, n, values);
    if (st)
        return st;
    storebuild sb;
    store_init(&sb, MLM_COLUMN_INT);
    if (n && sb_append(&sb.vals, values, n * sizeof *values))
        return err_oom();
    sb.nrows = n;
    return add_built(ds, name, &sb, n);
}

mlm_status mlm_dataset_add_float_column(mlm_dataset *ds, const char *name, const double *values,
                                        size_t n)
{
    mlm_status st = check_add(ds, name, n, values);
    if (st)
        return st;
    storebuild sb;
    store_init(&sb, MLM_COLUMN_FLOAT);
    if (n && sb_append(&sb.vals, values, n * sizeof *values))
        return err_oom();
    sb.nrows = n;
    return add_built(ds, name, &sb, n);
}

mlm_status mlm_dataset_add_sequence_column(mlm_dataset *ds, const char *name,
                                           const int32_t *const *seqs, const size_t *lengths,
                                           size_t n)
{
    mlm_status st = check_add(ds, name, n, seqs);
    if (st)
        return st;
    if (n && !lengths)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': lengths are NULL", name);
    storebuild sb;
    store_init(&sb, MLM_COLUMN_SEQUENCE);
    for (size_t i = 0; i < n; i++) {
        if (lengths[i] && !seqs[i]) {
            store_free(&sb);
            return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': sequence %zu is NULL", name,
                           i);
        }
        if ((st = store_add_seq(&sb, seqs[i], lengths[i]))) {
            store_free(&sb);
            return st;
        }
    }
    return add_built(ds, name, &sb, n);
}

/* --------------------------------------------------------------- access */

size_t mlm_dataset_num_rows(const mlm_dataset *ds) { return ds ? (size_t)ds->nrows : 0; }
size_t mlm_dataset_num_columns(const mlm_dataset *ds) { return ds ? ds->ncols : 0; }
size_t mlm_dataset_skipped_rows(const mlm_dataset *ds) { return ds ? (size_t)ds->skipped : 0; }

const char *mlm_dataset_column_name(const mlm_dataset *ds, size_t i)
{
    return ds && i < ds->ncols ? ds->cols[i].name : NULL;
}

mlm_status mlm_dataset_column_type(const mlm_dataset *ds, const char *name,
                                   mlm_column_type *type)
{
    const dcol *c = NULL;
    mlm_status st = ds_column(ds, name, -1, &c);
    if (st)
        return st;
    if (!type)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "type is NULL");
    *type = c->cs->type;
    return MLM_OK;
}

static mlm_status cell(const mlm_dataset *ds, const char *column, size_t row, int want,
                       const void *p1, const void *p2, const dcol **c, uint64_t *phys)
{
    mlm_status st = ds_column(ds, column, want, c);
    if (st)
        return st;
    if (!p1 || !p2)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': output pointer is NULL", column);
    if (row >= ds->nrows)
        return err_set(MLM_ERR_RANGE, "column '%s': row %zu out of range (%" PRIu64 " rows)",
                       column, row, ds->nrows);
    *phys = dcol_phys(*c, row);
    return MLM_OK;
}

mlm_status mlm_dataset_get_string(const mlm_dataset *ds, const char *column, size_t row,
                                  const char **s, size_t *len)
{
    const dcol *c = NULL;
    uint64_t p = 0;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_STRING, s, len, &c, &p);
    return st ? st : store_string(c->cs, c->name, p, s, len);
}

mlm_status mlm_dataset_get_string_list_count(const mlm_dataset *ds, const char *column,
                                             size_t row, size_t *count)
{
    const dcol *c = NULL;
    uint64_t p = 0, first = 0;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_STRING_LIST, count, count, &c, &p);
    return st ? st : store_list(c->cs, c->name, p, &first, count);
}

mlm_status mlm_dataset_get_string_list_item(const mlm_dataset *ds, const char *column,
                                            size_t row, size_t item, const char **s,
                                            size_t *len)
{
    const dcol *c = NULL;
    uint64_t p = 0, first = 0;
    size_t n;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_STRING_LIST, s, len, &c, &p);
    if (st || (st = store_list(c->cs, c->name, p, &first, &n)))
        return st;
    if (item >= n)
        return err_set(MLM_ERR_RANGE, "column '%s': row %zu has %zu items, not %zu", column,
                       row, n, item + 1);
    return store_item(c->cs, c->name, first + item, s, len);
}

mlm_status mlm_dataset_get_int(const mlm_dataset *ds, const char *column, size_t row,
                               int64_t *value)
{
    const dcol *c = NULL;
    uint64_t p = 0;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_INT, value, value, &c, &p);
    if (st)
        return st;
    if (p >= c->cs->nrows)
        return err_set(MLM_ERR_FORMAT, "column '%s': row %zu out of storage", column, row);
    *value = c->cs->i64[p];
    return MLM_OK;
}

mlm_status mlm_dataset_get_float(const mlm_dataset *ds, const char *column, size_t row,
                                 double *value)
{
    const dcol *c = NULL;
    uint64_t p = 0;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_FLOAT, value, value, &c, &p);
    if (st)
        return st;
    if (p >= c->cs->nrows)
        return err_set(MLM_ERR_FORMAT, "column '%s': row %zu out of storage", column, row);
    *value = c->cs->f64[p];
    return MLM_OK;
}

mlm_status mlm_dataset_get_sequence(const mlm_dataset *ds, const char *column, size_t row,
                                    const int32_t **data, size_t *len)
{
    const dcol *c = NULL;
    uint64_t p = 0;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_SEQUENCE, data, len, &c, &p);
    uint64_t first;
    if (st || (st = store_seq(c->cs, c->name, p, &first, len)))
        return st;
    /* A narrow column (a file's uint8 / uint16 values) is widened whole,
     * once, so the pointer lives as long as the storage (the documented
     * lifetime); mlm_dataset_copy_sequence avoids that copy. */
    const int32_t *all = store_seq_wide(c->cs);
    if (!all)
        return err_prefix(MLM_ERR_OUT_OF_MEMORY, "column '%s': widening its values: ", c->name);
    *data = all + first;
    return MLM_OK;
}

mlm_status mlm_dataset_copy_sequence(const mlm_dataset *ds, const char *column, size_t row,
                                     int32_t *buf, size_t cap, size_t *len)
{
    const dcol *c = NULL;
    uint64_t p = 0, first;
    mlm_status st = cell(ds, column, row, MLM_COLUMN_SEQUENCE, len, len, &c, &p);
    if (st || (st = store_seq(c->cs, c->name, p, &first, len)))
        return st;
    if (cap && !buf)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "column '%s': buf is NULL with cap %zu",
                       column, cap);
    store_seq_read(c->cs, first, *len < cap ? *len : cap, buf);
    return MLM_OK;
}
