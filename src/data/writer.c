/* mlm_dataset_writer: rows appended with constant memory. Each buffer of
 * each column is spilled to its own unlinked temporary file beside the
 * target; close() writes the header and copies the spills into place. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "data/format.h"

typedef struct wcol {
    char *name;
    mlm_column_type type;
    FILE *spill[3];
    uint64_t nitems, nbytes, nvals;
    int32_t lo, hi;    /* the range of a sequence column's values (from 0) */
    strbuf cell;       /* the current row's cell, serialized */
    uint64_t cell_n; /* items (list) in the cell */
    int set;
} wcol;

struct mlm_dataset_writer {
    char *path;
    size_t ncols;
    wcol *cols;
    uint64_t nrows;
    int broken; /* a spill write failed: close() reports it */
};

static void writer_free(mlm_dataset_writer *w)
{
    for (size_t i = 0; i < w->ncols; i++) {
        for (int k = 0; k < 3; k++)
            if (w->cols[i].spill[k])
                fclose(w->cols[i].spill[k]);
        mem_free(w->cols[i].name);
        sb_free(&w->cols[i].cell);
    }
    mem_free(w->cols);
    mem_free(w->path);
    mem_free(w);
}

void mlm_dataset_writer_discard(mlm_dataset_writer *w)
{
    if (w)
        writer_free(w);
}

static FILE *spill_file(const char *path)
{
    size_t n = strlen(path);
    char *t = mem_alloc(n + 20);
    if (!t)
        return NULL;
    memcpy(t, path, n);
    memcpy(t + n, ".spill.XXXXXX", 14);
    int fd = mkstemp(t);
    FILE *f = NULL;
    if (fd >= 0) {
        unlink(t);
        f = fdopen(fd, "w+b");
        if (!f)
            close(fd);
    }
    mem_free(t);
    return f;
}

static mlm_status spill_put(mlm_dataset_writer *w, FILE *f, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n) {
        w->broken = 1;
        return err_set(MLM_ERR_IO, "%s: writing a temporary file failed: %s", w->path,
                       strerror(errno));
    }
    return MLM_OK;
}

mlm_status mlm_dataset_writer_open(const char *path, const char *const *names,
                                   const mlm_column_type *types, size_t n,
                                   mlm_dataset_writer **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_writer_open: out is NULL");
    *out = NULL;
    if (!path || (n && (!names || !types)))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_writer_open: NULL argument");
    if (n > DSFILE_MAX_COLUMNS)
        return err_set(MLM_ERR_RANGE, "mlm_dataset_writer_open: too many columns");
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column %zu has no name", i);
        if (dsfile_nbuffers(types[i]) == 0)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s': unknown type",
                           names[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s' appears twice",
                               names[i]);
    }
    mlm_dataset_writer *w = mem_calloc(1, sizeof *w);
    if (!w)
        return err_oom();
    w->path = mem_strdup(path);
    w->cols = mem_calloc(n ? n : 1, sizeof *w->cols);
    if (!w->path || !w->cols) {
        writer_free(w);
        return err_oom();
    }
    for (size_t i = 0; i < n; i++, w->ncols++) {
        wcol *c = &w->cols[i];
        c->type = types[i];
        if (!(c->name = mem_strdup(names[i]))) {
            writer_free(w);
            return err_oom();
        }
        int nb = dsfile_nbuffers(types[i]);
        for (int k = 0; k < nb; k++) {
            if (!(c->spill[k] = spill_file(path))) {
                w->ncols++;
                mlm_status st = err_set(MLM_ERR_IO, "%s: cannot create a temporary file: %s",
                                        path, strerror(errno));
                writer_free(w);
                return st;
            }
        }
        /* leading zero offsets */
        uint64_t zero = 0;
        mlm_status st = MLM_OK;
        if (types[i] != MLM_COLUMN_INT && types[i] != MLM_COLUMN_FLOAT)
            st = spill_put(w, c->spill[0], &zero, 8);
        if (!st && types[i] == MLM_COLUMN_STRING_LIST)
            st = spill_put(w, c->spill[1], &zero, 8);
        if (st) {
            w->ncols++;
            writer_free(w);
            return st;
        }
    }
    *out = w;
    return MLM_OK;
}

static mlm_status cell_for(mlm_dataset_writer *w, size_t column, mlm_column_type t, wcol **out)
{
    if (!w)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer is NULL");
    if (column >= w->ncols)
        return err_set(MLM_ERR_RANGE, "writer: column %zu out of range (%zu columns)", column,
                       w->ncols);
    wcol *c = &w->cols[column];
    if (c->type != t)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s' is %s, not %s", c->name,
                       mlm_column_type_name(c->type), mlm_column_type_name(t));
    c->cell.len = 0;
    c->cell_n = 0;
    c->set = 0;
    *out = c;
    return MLM_OK;
}

mlm_status mlm_dataset_writer_set_string(mlm_dataset_writer *w, size_t column, const char *s,
                                         size_t len)
{
    wcol *c;
    mlm_status st = cell_for(w, column, MLM_COLUMN_STRING, &c);
    if (st)
        return st;
    if (len && !s)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s': NULL string", c->name);
    if (sb_append(&c->cell, s, len) || sb_append(&c->cell, "", 1))
        return err_oom();
    c->set = 1;
    return MLM_OK;
}

mlm_status mlm_dataset_writer_set_string_list(mlm_dataset_writer *w, size_t column,
                                              const char *const *items, const size_t *lengths,
                                              size_t n)
{
    wcol *c;
    mlm_status st = cell_for(w, column, MLM_COLUMN_STRING_LIST, &c);
    if (st)
        return st;
    if (n && (!items || !lengths))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s': NULL list", c->name);
    for (size_t i = 0; i < n; i++) {
        if (lengths[i] && !items[i])
            return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s': item %zu is NULL",
                           c->name, i);
        uint64_t l = lengths[i];
        if (sb_append(&c->cell, &l, 8) || sb_append(&c->cell, items[i], lengths[i]) ||
            sb_append(&c->cell, "", 1)) {
            c->cell.len = 0;
            return err_oom();
        }
    }
    c->cell_n = n;
    c->set = 1;
    return MLM_OK;
}

mlm_status mlm_dataset_writer_set_int(mlm_dataset_writer *w, size_t column, int64_t value)
{
    wcol *c;
    mlm_status st = cell_for(w, column, MLM_COLUMN_INT, &c);
    if (st)
        return st;
    if (sb_append(&c->cell, &value, 8))
        return err_oom();
    c->set = 1;
    return MLM_OK;
}

mlm_status mlm_dataset_writer_set_float(mlm_dataset_writer *w, size_t column, double value)
{
    wcol *c;
    mlm_status st = cell_for(w, column, MLM_COLUMN_FLOAT, &c);
    if (st)
        return st;
    if (sb_append(&c->cell, &value, 8))
        return err_oom();
    c->set = 1;
    return MLM_OK;
}

mlm_status mlm_dataset_writer_set_sequence(mlm_dataset_writer *w, size_t column,
                                           const int32_t *data, size_t len)
{
    wcol *c;
    mlm_status st = cell_for(w, column, MLM_COLUMN_SEQUENCE, &c);
    if (st)
        return st;
    if (len && !data)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer: column '%s': NULL data", c->name);
    if (len > SIZE_MAX / 4 || sb_append(&c->cell, data, len * 4))
        return err_oom();
    c->set = 1;
    return MLM_OK;
}

/* Widen the column's value range by the row in its cell: close() writes
 * the values at the narrowest width that holds them. */
static void seq_range(wcol *c)
{
    const int32_t *v = (const int32_t *)c->cell.data;
    size_t n = c->cell.len / sizeof *v;
    for (size_t i = 0; i < n; i++) {
        c->lo = v[i] < c->lo ? v[i] : c->lo;
        c->hi = v[i] > c->hi ? v[i] : c->hi;
    }
}

mlm_status mlm_dataset_writer_end_row(mlm_dataset_writer *w)
{
    if (!w)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer is NULL");
    if (w->broken)
        return err_set(MLM_ERR_IO, "%s: an earlier write failed", w->path);
    for (size_t i = 0; i < w->ncols; i++)
        if (!w->cols[i].set)
            return err_set(MLM_ERR_STATE, "writer: row %" PRIu64 ": column '%s' is not set",
                           w->nrows, w->cols[i].name);
    mlm_status st = MLM_OK;
    for (size_t i = 0; i < w->ncols && !st; i++) {
        wcol *c = &w->cols[i];
        uint64_t o;
        switch (c->type) {
        case MLM_COLUMN_INT:
        case MLM_COLUMN_FLOAT:
            st = spill_put(w, c->spill[0], c->cell.data, 8);
            break;
        case MLM_COLUMN_STRING:
            c->nbytes += c->cell.len;
            o = c->nbytes;
            if (!(st = spill_put(w, c->spill[1], c->cell.data, c->cell.len)))
                st = spill_put(w, c->spill[0], &o, 8);
            break;
        case MLM_COLUMN_SEQUENCE:
            seq_range(c);
            c->nvals += c->cell.len / 4;
            o = c->nvals;
            if (!(st = spill_put(w, c->spill[1], c->cell.data, c->cell.len)))
                st = spill_put(w, c->spill[0], &o, 8);
            break;
        case MLM_COLUMN_STRING_LIST: {
            const char *p = c->cell.data;
            for (uint64_t k = 0; k < c->cell_n && !st; k++) {
                uint64_t l;
                memcpy(&l, p, 8);
                if (!(st = spill_put(w, c->spill[2], p + 8, (size_t)l + 1))) {
                    c->nbytes += l + 1;
                    o = c->nbytes;
                    st = spill_put(w, c->spill[1], &o, 8);
                }
                p += 8 + l + 1;
            }
            c->nitems += c->cell_n;
            o = c->nitems;
            if (!st)
                st = spill_put(w, c->spill[0], &o, 8);
            break;
        }
        }
    }
    if (st)
        return st;
    for (size_t i = 0; i < w->ncols; i++)
        w->cols[i].set = 0;
    w->nrows++;
    return MLM_OK;
}

size_t mlm_dataset_writer_num_rows(const mlm_dataset_writer *w)
{
    return w ? (size_t)w->nrows : 0;
}

mlm_status mlm_dataset_writer_append_dataset(mlm_dataset_writer *w, const mlm_dataset *ds)
{
    if (!w || !ds)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer_append_dataset: NULL argument");
    const dcol **src = mem_calloc(w->ncols ? w->ncols : 1, sizeof *src);
    if (!src)
        return err_oom();
    mlm_status st = MLM_OK;
    for (size_t i = 0; i < w->ncols && !st; i++)
        st = ds_column(ds, w->cols[i].name, (int)w->cols[i].type, &src[i]);
    const char **items = NULL;
    size_t *lens = NULL, cap = 0;
    strbuf scratch = {0}; /* a row of a narrow sequence column, widened */
    for (uint64_t r = 0; r < ds->nrows && !st; r++) {
        for (size_t i = 0; i < w->ncols && !st; i++) {
            const dcol *c = src[i];
            uint64_t p = dcol_phys(c, r), first;
            const char *s;
            size_t len, n;
            const int32_t *d;
            switch (c->cs->type) {
            case MLM_COLUMN_STRING:
                if (!(st = store_string(c->cs, c->name, p, &s, &len)))
                    st = mlm_dataset_writer_set_string(w, i, s, len);
                break;
            case MLM_COLUMN_INT:
                st = mlm_dataset_writer_set_int(w, i, c->cs->i64[p]);
                break;
            case MLM_COLUMN_FLOAT:
                st = mlm_dataset_writer_set_float(w, i, c->cs->f64[p]);
                break;
            case MLM_COLUMN_SEQUENCE:
                if (!(st = store_seq_row(c->cs, c->name, p, &scratch, &d, &len)))
                    st = mlm_dataset_writer_set_sequence(w, i, d, len);
                break;
            case MLM_COLUMN_STRING_LIST:
                if ((st = store_list(c->cs, c->name, p, &first, &n)))
                    break;
                if (n > cap) {
                    const char **ni = mem_realloc(items, n * sizeof *ni);
                    if (ni)
                        items = ni;
                    size_t *nl = ni ? mem_realloc(lens, n * sizeof *nl) : NULL;
                    if (!ni || !nl) {
                        st = err_oom();
                        break;
                    }
                    lens = nl;
                    cap = n;
                }
                for (size_t k = 0; k < n && !st; k++)
                    st = store_item(c->cs, c->name, first + k, &items[k], &lens[k]);
                if (!st)
                    st = mlm_dataset_writer_set_string_list(w, i, items, lens, n);
                break;
            }
        }
        if (!st)
            st = mlm_dataset_writer_end_row(w);
    }
    mem_free(items);
    mem_free(lens);
    mem_free(src);
    sb_free(&scratch);
    return st;
}

/* A spill into the file: bytes as they are (width 0), or int32 values
 * (a sequence column's) narrowed to `width` bytes each. `expect` is the
 * spill's length. */
static mlm_status copy_spill(mlm_dataset_writer *w, FILE *f, atomic_writer *af, uint64_t expect,
                             int width)
{
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        return err_set(MLM_ERR_IO, "%s: reading a temporary file failed: %s", w->path,
                       strerror(errno));
    int32_t buf[1 << 14];
    uint64_t total = 0, written = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        /* a regular file reads whole chunks but the last, and a values
         * spill holds whole int32s: a torn one is a short file */
        if (width && n % sizeof *buf)
            return err_set(MLM_ERR_IO, "%s: a temporary file is short", w->path);
        mlm_status st = width ? dsfile_write_values(af, buf, n / sizeof *buf, width)
                              : atomic_writer_write(af, buf, n);
        if (st)
            return st;
        total += n;
        written += width ? n / sizeof *buf * (uint64_t)width : n;
    }
    if (ferror(f) || total != expect)
        return err_set(MLM_ERR_IO, "%s: a temporary file is short", w->path);
    return ds_pad8(af, written);
}

mlm_status mlm_dataset_writer_close(mlm_dataset_writer *w)
{
    if (!w)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "writer is NULL");
    mlm_status st = MLM_OK;
    if (w->broken)
        st = err_set(MLM_ERR_IO, "%s: an earlier write failed", w->path);
    colshape *sh = st ? NULL : mem_calloc(w->ncols ? w->ncols : 1, sizeof *sh);
    if (!st && !sh)
        st = err_oom();
    for (size_t i = 0; !st && i < w->ncols; i++) {
        sh[i].name = w->cols[i].name;
        sh[i].type = w->cols[i].type;
        sh[i].nitems = w->cols[i].nitems;
        sh[i].nbytes = w->cols[i].nbytes;
        sh[i].nvals = w->cols[i].nvals;
        sh[i].width = dsfile_width(w->cols[i].lo, w->cols[i].hi);
    }
    char *hdr = NULL;
    size_t hlen = 0;
    if (!st)
        st = dsfile_header(sh, w->ncols, w->nrows, &hdr, &hlen);
    atomic_writer *af = NULL;
    if (!st)
        st = atomic_writer_open(w->path, &af);
    if (!st) {
        uint64_t h64 = hlen;
        st = atomic_writer_write(af, DSFILE_MAGIC, 8);
        if (!st)
            st = atomic_writer_write(af, &h64, 8);
        if (!st)
            st = atomic_writer_write(af, hdr, hlen);
        for (size_t i = 0; i < w->ncols && !st; i++)
            for (int k = 0; k < dsfile_nbuffers(sh[i].type) && !st; k++) {
                int ok = 1, values = sh[i].type == MLM_COLUMN_SEQUENCE && k == 1;
                uint64_t len = values ? sh[i].nvals * 4
                                      : dsfile_buffer_len(&sh[i], w->nrows, k, &ok);
                st = copy_spill(w, w->cols[i].spill[k], af, len, values ? sh[i].width : 0);
            }
        if (st)
            atomic_writer_abort(af);
        else
            st = atomic_writer_commit(af);
    }
    mem_free(hdr);
    mem_free(sh);
    writer_free(w);
    return st;
}
