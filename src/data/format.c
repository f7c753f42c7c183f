/* The dataset file: save (streamed, atomic), open (mmap, validated). */
#include "data/format.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

int dsfile_nbuffers(mlm_column_type t)
{
    switch (t) {
    case MLM_COLUMN_STRING: return 2;
    case MLM_COLUMN_STRING_LIST: return 3;
    case MLM_COLUMN_INT:
    case MLM_COLUMN_FLOAT: return 1;
    case MLM_COLUMN_SEQUENCE: return 2;
    }
    return 0;
}

static uint64_t mul_ok(uint64_t a, uint64_t b, int *ok)
{
    if (b && a > UINT64_MAX / b) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

static uint64_t plus1(uint64_t a, int *ok)
{
    if (a == UINT64_MAX) {
        *ok = 0;
        return 0;
    }
    return a + 1;
}

uint64_t dsfile_buffer_len(const colshape *c, uint64_t nrows, int k, int *ok)
{
    switch (c->type) {
    case MLM_COLUMN_STRING:
        return k == 0 ? mul_ok(plus1(nrows, ok), 8, ok) : c->nbytes;
    case MLM_COLUMN_STRING_LIST:
        return k == 0 ? mul_ok(plus1(nrows, ok), 8, ok)
               : k == 1 ? mul_ok(plus1(c->nitems, ok), 8, ok)
                        : c->nbytes;
    case MLM_COLUMN_INT:
    case MLM_COLUMN_FLOAT:
        return mul_ok(nrows, 8, ok);
    case MLM_COLUMN_SEQUENCE:
        return k == 0 ? mul_ok(plus1(nrows, ok), 8, ok) : mul_ok(c->nvals, (uint64_t)c->width, ok);
    }
    *ok = 0;
    return 0;
}

static uint64_t align8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

int dsfile_width(int32_t lo, int32_t hi)
{
    if (lo < 0)
        return 4;
    return hi <= UINT8_MAX ? 1 : hi <= UINT16_MAX ? 2 : 4;
}

mlm_status dsfile_write_values(atomic_writer *w, const int32_t *v, size_t n, int width)
{
    if (width == 4)
        return atomic_writer_write(w, v, n * sizeof *v);
    /* out[i] = (uint8_t or uint16_t)v[i], through a chunk on the stack */
    union {
        uint8_t u8[4096];
        uint16_t u16[2048];
    } chunk;
    size_t per = sizeof chunk / (size_t)width;
    for (size_t i = 0; i < n; i += per) {
        size_t m = n - i < per ? n - i : per;
        for (size_t j = 0; j < m; j++) {
            if (width == 1)
                chunk.u8[j] = (uint8_t)v[i + j];
            else
                chunk.u16[j] = (uint16_t)v[i + j];
        }
        mlm_status st = atomic_writer_write(w, chunk.u8, m * (size_t)width);
        if (st)
            return st;
    }
    return MLM_OK;
}

mlm_status dsfile_header(const colshape *cols, size_t ncols, uint64_t nrows, char **hdr,
                         size_t *len)
{
    *hdr = NULL;
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    if (!root)
        return err_oom();
    int ok = cJSON_AddStringToObject(root, "format", "mlm-dataset") &&
             cJSON_AddNumberToObject(root, "version", DSFILE_VERSION) &&
             cJSON_AddNumberToObject(root, "num_rows", (double)nrows) &&
             (arr = cJSON_AddArrayToObject(root, "columns"));
    uint64_t pos = 0;
    for (size_t i = 0; ok && i < ncols; i++) {
        cJSON *c = cJSON_CreateObject(), *bufs = NULL;
        ok = c && cJSON_AddItemToArray(arr, c);
        if (!ok) {
            cJSON_Delete(c);
            break;
        }
        ok = cJSON_AddStringToObject(c, "name", cols[i].name) &&
             cJSON_AddStringToObject(c, "type", mlm_column_type_name(cols[i].type)) &&
             cJSON_AddNumberToObject(c, "num_items", (double)cols[i].nitems) &&
             cJSON_AddNumberToObject(c, "num_bytes", (double)cols[i].nbytes) &&
             cJSON_AddNumberToObject(c, "num_values", (double)cols[i].nvals) &&
             (cols[i].type != MLM_COLUMN_SEQUENCE ||
              cJSON_AddNumberToObject(c, "width", cols[i].width)) &&
             (bufs = cJSON_AddArrayToObject(c, "buffers"));
        for (int k = 0; ok && k < dsfile_nbuffers(cols[i].type); k++) {
            int lok = 1;
            uint64_t blen = dsfile_buffer_len(&cols[i], nrows, k, &lok);
            double pair[2] = {(double)pos, (double)blen};
            cJSON *p = cJSON_CreateDoubleArray(pair, 2);
            ok = lok && p && cJSON_AddItemToArray(bufs, p);
            if (!ok)
                cJSON_Delete(p);
            pos = align8(pos + blen);
        }
    }
    char *txt = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!txt)
        return err_oom();
    size_t n = strlen(txt);
    size_t padded = (size_t)align8(16 + n) - 16;
    char *h = mem_alloc(padded ? padded : 1);
    if (!h) {
        cJSON_free(txt);
        return err_oom();
    }
    memcpy(h, txt, n);
    memset(h + n, ' ', padded - n);
    cJSON_free(txt);
    *hdr = h;
    *len = padded;
    return MLM_OK;
}

/* --------------------------------------------------------- writing */

mlm_status ds_pad8(atomic_writer *w, uint64_t written)
{
    static const char zeros[8] = {0};
    return atomic_writer_write(w, zeros, (size_t)(align8(written) - written));
}

/* ------------------------------------------------------------------ save */

/* The header's view of a column: its counts, and for a sequence column the
 * narrowest width of its values (the first pass reads every value). */
static mlm_status column_shape(const dcol *c, uint64_t nrows, strbuf *scratch, colshape *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->name = c->name;
    sh->type = c->cs->type;
    int32_t lo = 0, hi = 0;
    for (uint64_t r = 0; r < nrows; r++) {
        uint64_t p = dcol_phys(c, r), first;
        const char *s;
        size_t len, n;
        const int32_t *d;
        mlm_status st = MLM_OK;
        switch (c->cs->type) {
        case MLM_COLUMN_STRING:
            if (!(st = store_string(c->cs, c->name, p, &s, &len)))
                sh->nbytes += len + 1;
            break;
        case MLM_COLUMN_STRING_LIST:
            if ((st = store_list(c->cs, c->name, p, &first, &n)))
                break;
            sh->nitems += n;
            for (size_t i = 0; i < n && !st; i++)
                if (!(st = store_item(c->cs, c->name, first + i, &s, &len)))
                    sh->nbytes += len + 1;
            break;
        case MLM_COLUMN_SEQUENCE:
            if ((st = store_seq_row(c->cs, c->name, p, scratch, &d, &len)))
                break;
            sh->nvals += len;
            for (size_t i = 0; i < len; i++) {
                lo = d[i] < lo ? d[i] : lo;
                hi = d[i] > hi ? d[i] : hi;
            }
            break;
        default:
            break;
        }
        if (st)
            return st;
    }
    sh->width = dsfile_width(lo, hi);
    return MLM_OK;
}

static mlm_status write_column(atomic_writer *af, const dcol *c, const colshape *sh,
                               uint64_t nrows, strbuf *scratch)
{
    mlm_status st = MLM_OK;
    const char *s;
    size_t len, n;
    uint64_t first, acc = 0, written = 0;
    switch (c->cs->type) {
    case MLM_COLUMN_INT:
    case MLM_COLUMN_FLOAT:
        for (uint64_t r = 0; r < nrows && !st; r++) {
            uint64_t p = dcol_phys(c, r);
            st = atomic_writer_write(af, c->cs->type == MLM_COLUMN_INT ? (const void *)&c->cs->i64[p]
                                                                : (const void *)&c->cs->f64[p],
                              8);
        }
        return st;
    case MLM_COLUMN_STRING:
        st = atomic_writer_write(af, &acc, 8);
        for (uint64_t r = 0; r < nrows && !st; r++)
            if (!(st = store_string(c->cs, c->name, dcol_phys(c, r), &s, &len))) {
                acc += len + 1;
                st = atomic_writer_write(af, &acc, 8);
            }
        for (uint64_t r = 0; r < nrows && !st; r++)
            if (!(st = store_string(c->cs, c->name, dcol_phys(c, r), &s, &len))) {
                st = atomic_writer_write(af, s, len + 1);
                written += len + 1;
            }
        return st ? st : ds_pad8(af, written);
    case MLM_COLUMN_STRING_LIST:
        st = atomic_writer_write(af, &acc, 8);
        for (uint64_t r = 0; r < nrows && !st; r++)
            if (!(st = store_list(c->cs, c->name, dcol_phys(c, r), &first, &n))) {
                acc += n;
                st = atomic_writer_write(af, &acc, 8);
            }
        acc = 0;
        if (!st)
            st = atomic_writer_write(af, &acc, 8);
        for (uint64_t r = 0; r < nrows && !st; r++) {
            if ((st = store_list(c->cs, c->name, dcol_phys(c, r), &first, &n)))
                break;
            for (size_t i = 0; i < n && !st; i++)
                if (!(st = store_item(c->cs, c->name, first + i, &s, &len))) {
                    acc += len + 1;
                    st = atomic_writer_write(af, &acc, 8);
                }
        }
        for (uint64_t r = 0; r < nrows && !st; r++) {
            if ((st = store_list(c->cs, c->name, dcol_phys(c, r), &first, &n)))
                break;
            for (size_t i = 0; i < n && !st; i++)
                if (!(st = store_item(c->cs, c->name, first + i, &s, &len))) {
                    st = atomic_writer_write(af, s, len + 1);
                    written += len + 1;
                }
        }
        return st ? st : ds_pad8(af, written);
    case MLM_COLUMN_SEQUENCE: {
        const int32_t *d;
        st = atomic_writer_write(af, &acc, 8);
        for (uint64_t r = 0; r < nrows && !st; r++)
            if (!(st = store_seq(c->cs, c->name, dcol_phys(c, r), &first, &len))) {
                acc += len;
                st = atomic_writer_write(af, &acc, 8);
            }
        for (uint64_t r = 0; r < nrows && !st; r++)
            if (!(st = store_seq_row(c->cs, c->name, dcol_phys(c, r), scratch, &d, &len))) {
                st = dsfile_write_values(af, d, len, sh->width);
                written += (uint64_t)len * (uint64_t)sh->width;
            }
        return st ? st : ds_pad8(af, written);
    }
    }
    return err_set(MLM_ERR_INTERNAL, "column '%s': unknown type", c->name);
}

static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

mlm_status mlm_dataset_save(const mlm_dataset *ds, const char *path)
{
    if (!ds || !path)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_save: NULL argument");
    if (!little_endian())
        return err_set(MLM_ERR_UNSUPPORTED, "dataset files are little-endian only");
    colshape *sh = mem_calloc(ds->ncols ? ds->ncols : 1, sizeof *sh);
    if (!sh)
        return err_oom();
    mlm_status st = MLM_OK;
    strbuf scratch = {0}; /* one row of a narrow column, widened */
    for (size_t i = 0; i < ds->ncols && !st; i++)
        st = column_shape(&ds->cols[i], ds->nrows, &scratch, &sh[i]);
    char *hdr = NULL;
    size_t hlen = 0;
    if (!st)
        st = dsfile_header(sh, ds->ncols, ds->nrows, &hdr, &hlen);
    if (st)
        st = err_prefix(st, "%s: ", path);
    atomic_writer *af = NULL;
    if (st || (st = atomic_writer_open(path, &af))) {
        mem_free(hdr);
        mem_free(sh);
        sb_free(&scratch);
        return st;
    }
    uint64_t h64 = hlen;
    st = atomic_writer_write(af, DSFILE_MAGIC, 8);
    if (!st)
        st = atomic_writer_write(af, &h64, 8);
    if (!st)
        st = atomic_writer_write(af, hdr, hlen);
    mem_free(hdr);
    for (size_t i = 0; i < ds->ncols && !st; i++)
        st = write_column(af, &ds->cols[i], &sh[i], ds->nrows, &scratch);
    mem_free(sh);
    sb_free(&scratch);
    if (st) {
        atomic_writer_abort(af);
        return st;
    }
    return atomic_writer_commit(af);
}

/* ------------------------------------------------------------------ open */

static int get_count(const cJSON *obj, const char *key, uint64_t *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(it))
        return 0;
    double d = it->valuedouble;
    if (!(d >= 0 && d <= MAX_SAFE_INT) || d != (double)(uint64_t)d)
        return 0;
    *v = (uint64_t)d;
    return 1;
}

static int has_duplicate_keys(const cJSON *obj)
{
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && strcmp(a->string, b->string) == 0)
                return 1;
    return 0;
}

static mlm_status parse_type(const char *s, mlm_column_type *t)
{
    for (int i = 0; i <= (int)MLM_COLUMN_FLOAT; i++)
        if (strcmp(s, mlm_column_type_name((mlm_column_type)i)) == 0) {
            *t = (mlm_column_type)i;
            return MLM_OK;
        }
    return MLM_ERR_UNSUPPORTED;
}

/* A sequence column's value width: 4 in version 1 (int32 only); version 2
 * requires "width" on sequence columns, 1, 2 or 4. A width that is an
 * integer but not one of those is MLM_ERR_UNSUPPORTED, as an unknown type
 * is: a later version may add it (say 8), and this reader cannot read it;
 * a missing or non-integer width is a broken file, MLM_ERR_FORMAT. */
static mlm_status seq_width(const cJSON *c, uint64_t version, const char *what, colshape *sh)
{
    if (sh->type != MLM_COLUMN_SEQUENCE)
        return MLM_OK;
    sh->width = 4;
    if (version == 1)
        return MLM_OK;
    uint64_t w;
    if (!get_count(c, "width", &w))
        return err_set(MLM_ERR_FORMAT, "%s: column '%s': \"width\" is missing or not an "
                       "integer", what, sh->name);
    if (w != 1 && w != 2 && w != 4)
        return err_set(MLM_ERR_UNSUPPORTED, "%s: column '%s': value width %" PRIu64
                       " (this libmlm reads 1, 2 and 4)", what, sh->name, w);
    sh->width = (int)w;
    return MLM_OK;
}

mlm_status dsfile_open_mem(const void *p, size_t len, dmap *map, const char *what,
                           mlm_dataset **out)
{
    *out = NULL;
    const unsigned char *b = p;
    if (!little_endian())
        return err_set(MLM_ERR_UNSUPPORTED, "%s: dataset files are little-endian only", what);
    if (len < 16 || memcmp(b, DSFILE_MAGIC, 8) != 0)
        return err_set(MLM_ERR_FORMAT, "%s: not a libmlm dataset file (bad magic)", what);
    uint64_t hlen;
    memcpy(&hlen, b + 8, 8);
    if (hlen < 2 || hlen > DSFILE_MAX_HEADER || hlen > len - 16 || (16 + hlen) % 8 != 0)
        return err_set(MLM_ERR_FORMAT, "%s: header size %" PRIu64 " is out of bounds", what,
                       hlen);
    if (b[16] != '{')
        return err_set(MLM_ERR_FORMAT, "%s: header is not a JSON object", what);
    cJSON *root = cJSON_ParseWithLength((const char *)b + 16, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(MLM_ERR_FORMAT, "%s: header is not valid JSON", what);
    }
    mlm_status st = MLM_OK;
    mlm_dataset *ds = NULL;
    const uint64_t data0 = 16 + hlen, dlen = len - data0;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(root, "columns");
    uint64_t version, nrows;
    if (has_duplicate_keys(root)) {
        st = err_set(MLM_ERR_FORMAT, "%s: header has duplicate keys", what);
        goto done;
    }
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "mlm-dataset") != 0) {
        st = err_set(MLM_ERR_FORMAT, "%s: header \"format\" is not \"mlm-dataset\"", what);
        goto done;
    }
    if (!get_count(root, "version", &version)) {
        st = err_set(MLM_ERR_FORMAT, "%s: header has no valid \"version\"", what);
        goto done;
    }
    if (version != 1 && version != DSFILE_VERSION) {
        st = err_set(MLM_ERR_UNSUPPORTED, "%s: format version %" PRIu64 " (this libmlm reads "
                     "1 to %d)", what, version, DSFILE_VERSION);
        goto done;
    }
    if (!get_count(root, "num_rows", &nrows)) {
        st = err_set(MLM_ERR_FORMAT, "%s: header has no valid \"num_rows\"", what);
        goto done;
    }
    if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) > DSFILE_MAX_COLUMNS) {
        st = err_set(MLM_ERR_FORMAT, "%s: header \"columns\" is not a list (of at most %d)",
                     what, DSFILE_MAX_COLUMNS);
        goto done;
    }
    ds = ds_alloc((size_t)cJSON_GetArraySize(cols) + 1);
    if (!ds) {
        st = err_oom();
        goto done;
    }
    ds->nrows = nrows;
    uint64_t expect = 0; /* where the next buffer must begin */
    size_t ci = 0;
    for (const cJSON *c = cols->child; c; c = c->next, ci++) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(c, "type");
        const cJSON *bufs = cJSON_GetObjectItemCaseSensitive(c, "buffers");
        colshape sh;
        memset(&sh, 0, sizeof sh);
        if (!cJSON_IsObject(c) || has_duplicate_keys(c) || !cJSON_IsString(nm) ||
            !nm->valuestring[0] || !cJSON_IsString(ty) || !cJSON_IsArray(bufs) ||
            !get_count(c, "num_items", &sh.nitems) || !get_count(c, "num_bytes", &sh.nbytes) ||
            !get_count(c, "num_values", &sh.nvals)) {
            st = err_set(MLM_ERR_FORMAT, "%s: column %zu: malformed description", what, ci);
            goto done;
        }
        sh.name = nm->valuestring;
        if (ds_find(ds, sh.name)) {
            st = err_set(MLM_ERR_FORMAT, "%s: column '%s' appears twice", what, sh.name);
            goto done;
        }
        if (parse_type(ty->valuestring, &sh.type)) {
            st = err_set(MLM_ERR_UNSUPPORTED, "%s: column '%s': unknown type '%s'", what,
                         sh.name, ty->valuestring);
            goto done;
        }
        if ((st = seq_width(c, version, what, &sh)))
            goto done;
        int nb = dsfile_nbuffers(sh.type);
        if (cJSON_GetArraySize(bufs) != nb) {
            st = err_set(MLM_ERR_FORMAT, "%s: column '%s': %d buffers expected", what, sh.name,
                         nb);
            goto done;
        }
        const void *ptr[3] = {NULL, NULL, NULL};
        int k = 0;
        for (const cJSON *bu = bufs->child; bu; bu = bu->next, k++) {
            int ok = 1;
            uint64_t want = dsfile_buffer_len(&sh, nrows, k, &ok);
            const cJSON *x0 = cJSON_GetArrayItem(bu, 0), *x1 = cJSON_GetArrayItem(bu, 1);
            double d0 = cJSON_IsNumber(x0) ? x0->valuedouble : -1;
            double d1 = cJSON_IsNumber(x1) ? x1->valuedouble : -1;
            if (!ok || !cJSON_IsArray(bu) || cJSON_GetArraySize(bu) != 2 || !(d0 >= 0) ||
                !(d1 >= 0) || d0 > MAX_SAFE_INT || d1 > MAX_SAFE_INT ||
                d0 != (double)(uint64_t)d0 || d1 != (double)(uint64_t)d1) {
                st = err_set(MLM_ERR_FORMAT, "%s: column '%s': buffer %d is malformed", what,
                             sh.name, k);
                goto done;
            }
            uint64_t begin = (uint64_t)d0, blen = (uint64_t)d1;
            if (begin != expect || blen != want) {
                st = err_set(MLM_ERR_FORMAT,
                             "%s: column '%s': buffer %d at [%" PRIu64 ", +%" PRIu64
                             ") should be at [%" PRIu64 ", +%" PRIu64 ")",
                             what, sh.name, k, begin, blen, expect, want);
                goto done;
            }
            if (blen > dlen || begin > dlen - blen) {
                st = err_set(MLM_ERR_FORMAT, "%s: column '%s': buffer %d runs past the end of "
                             "the file", what, sh.name, k);
                goto done;
            }
            ptr[k] = b + data0 + begin;
            expect = align8(begin + blen);
        }
        /* O(1) consistency of the offsets' ends; inner offsets are checked
         * on each read. */
        const uint64_t *o0 = ptr[0];
        int bad = 0;
        if (sh.type == MLM_COLUMN_STRING)
            bad = o0[0] != 0 || o0[nrows] != sh.nbytes || sh.nitems || sh.nvals;
        else if (sh.type == MLM_COLUMN_STRING_LIST)
            bad = o0[0] != 0 || o0[nrows] != sh.nitems || ((const uint64_t *)ptr[1])[0] != 0 ||
                  ((const uint64_t *)ptr[1])[sh.nitems] != sh.nbytes || sh.nvals;
        else if (sh.type == MLM_COLUMN_SEQUENCE)
            bad = o0[0] != 0 || o0[nrows] != sh.nvals || sh.nitems || sh.nbytes;
        else
            bad = sh.nitems || sh.nbytes || sh.nvals;
        if (bad) {
            st = err_set(MLM_ERR_FORMAT, "%s: column '%s': offsets disagree with the header",
                         what, sh.name);
            goto done;
        }
        colstore *cs = mem_calloc(1, sizeof *cs);
        if (!cs) {
            st = err_oom();
            goto done;
        }
        atomic_init(&cs->refs, 1);
        cs->type = sh.type;
        cs->nrows = nrows;
        cs->nitems = sh.nitems;
        cs->nbytes = sh.nbytes;
        cs->nvals = sh.nvals;
        switch (sh.type) {
        case MLM_COLUMN_STRING:
            cs->off = ptr[0];
            cs->bytes = ptr[1];
            break;
        case MLM_COLUMN_STRING_LIST:
            cs->off = ptr[0];
            cs->ioff = ptr[1];
            cs->bytes = ptr[2];
            break;
        case MLM_COLUMN_SEQUENCE:
            cs->off = ptr[0];
            cs->vals = ptr[1];
            cs->width = sh.width;
            break;
        case MLM_COLUMN_INT:
            cs->i64 = ptr[0];
            break;
        case MLM_COLUMN_FLOAT:
            cs->f64 = ptr[0];
            break;
        }
        if (map) {
            atomic_fetch_add(&map->refs, 1);
            cs->map = map;
        }
        if ((st = ds_push_store(ds, sh.name, cs)))
            goto done;
    }
    if (expect != dlen) {
        st = err_set(MLM_ERR_FORMAT, "%s: the buffers end at %" PRIu64 " but the data section "
                     "has %" PRIu64 " bytes", what, expect, dlen);
        goto done;
    }
    if (ds->ncols == 0 && nrows != 0) {
        st = err_set(MLM_ERR_FORMAT, "%s: %" PRIu64 " rows but no columns", what, nrows);
        goto done;
    }
    *out = ds;
    ds = NULL;
done:
    mlm_dataset_free(ds);
    cJSON_Delete(root);
    return st;
}

mlm_status mlm_dataset_open(const char *path, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_open: out is NULL");
    *out = NULL;
    if (!path)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(MLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        mlm_status st = err_set(MLM_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size < 16) {
        close(fd);
        return err_set(MLM_ERR_FORMAT, "%s: not a libmlm dataset file (too short)", path);
    }
    size_t len = (size_t)sb.st_size;
    void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (addr == MAP_FAILED)
        return err_set(MLM_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    dmap *m = mem_alloc(sizeof *m);
    if (!m) {
        munmap(addr, len);
        return err_oom();
    }
    atomic_init(&m->refs, 1);
    m->addr = addr;
    m->len = len;
    m->mapped = 1;
    mlm_status st = dsfile_open_mem(addr, len, m, path, out);
    dmap_release(m); /* the columns hold their own references */
    return st;
}
