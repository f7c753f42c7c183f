/* Column storage: reference counting, checked cell reads, builders. */
#include "data/column.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/error.h"

void dmap_release(dmap *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->mapped)
        munmap(m->addr, m->len);
    else
        mem_free(m->addr);
    mem_free(m);
}

colstore *colstore_ref(colstore *cs)
{
    atomic_fetch_add(&cs->refs, 1);
    return cs;
}

void colstore_release(colstore *cs)
{
    if (!cs || atomic_fetch_sub(&cs->refs, 1) != 1)
        return;
    for (int i = 0; i < 3; i++)
        mem_free(cs->own[i]);
    mem_free(atomic_load(&cs->wide));
    dmap_release(cs->map);
    mem_free(cs);
}

/* ------------------------------------------------------------ cell reads */

static mlm_status text_at(const uint64_t *off, uint64_t n, const char *bytes, uint64_t nbytes,
                          const char *name, uint64_t i, const char **s, size_t *len)
{
    if (i >= n)
        return err_set(MLM_ERR_RANGE, "column '%s': index %" PRIu64 " out of range", name, i);
    uint64_t a = off[i], b = off[i + 1];
    if (a >= b || b > nbytes || bytes[b - 1] != '\0')
        return err_set(MLM_ERR_FORMAT, "column '%s': bad string offsets at %" PRIu64, name, i);
    *s = bytes + a;
    *len = (size_t)(b - a - 1);
    return MLM_OK;
}

mlm_status store_string(const colstore *cs, const char *name, uint64_t row, const char **s,
                        size_t *len)
{
    return text_at(cs->off, cs->nrows, cs->bytes, cs->nbytes, name, row, s, len);
}

mlm_status store_item(const colstore *cs, const char *name, uint64_t item, const char **s,
                      size_t *len)
{
    return text_at(cs->ioff, cs->nitems, cs->bytes, cs->nbytes, name, item, s, len);
}

mlm_status store_list(const colstore *cs, const char *name, uint64_t row, uint64_t *first,
                      size_t *count)
{
    if (row >= cs->nrows)
        return err_set(MLM_ERR_RANGE, "column '%s': row %" PRIu64 " out of range", name, row);
    uint64_t a = cs->off[row], b = cs->off[row + 1];
    if (a > b || b > cs->nitems)
        return err_set(MLM_ERR_FORMAT, "column '%s': bad list offsets at row %" PRIu64, name,
                       row);
    *first = a;
    *count = (size_t)(b - a);
    return MLM_OK;
}

mlm_status store_seq(const colstore *cs, const char *name, uint64_t row, uint64_t *first,
                     size_t *len)
{
    if (row >= cs->nrows)
        return err_set(MLM_ERR_RANGE, "column '%s': row %" PRIu64 " out of range", name, row);
    uint64_t a = cs->off[row], b = cs->off[row + 1];
    if (a > b || b > cs->nvals)
        return err_set(MLM_ERR_FORMAT, "column '%s': bad sequence offsets at row %" PRIu64,
                       name, row);
    *first = a;
    *len = (size_t)(b - a);
    return MLM_OK;
}

/* dst[i] = vals[first + i], zero-extended from uint8 / uint16 (the widths
 * below 4 are unsigned: the writer gives a column with a negative value
 * width 4). */
void store_seq_read(const colstore *cs, uint64_t first, size_t n, int32_t *dst)
{
    if (n == 0)
        return; /* dst may be NULL (a length query) */
    switch (cs->width) {
    case 1: {
        const uint8_t *v = (const uint8_t *)cs->vals + first;
        for (size_t i = 0; i < n; i++)
            dst[i] = v[i];
        return;
    }
    case 2: {
        const uint16_t *v = (const uint16_t *)cs->vals + first;
        for (size_t i = 0; i < n; i++)
            dst[i] = v[i];
        return;
    }
    default:
        memcpy(dst, (const int32_t *)cs->vals + first, n * sizeof *dst);
    }
}

mlm_status store_seq_row(const colstore *cs, const char *name, uint64_t row, strbuf *scratch,
                         const int32_t **data, size_t *len)
{
    uint64_t first = 0;
    mlm_status st = store_seq(cs, name, row, &first, len);
    if (st)
        return st;
    if (cs->width == 4) {
        *data = (const int32_t *)cs->vals + first;
        return MLM_OK;
    }
    scratch->len = 0;
    if (sb_reserve(scratch, *len * sizeof(int32_t)))
        return err_oom();
    store_seq_read(cs, first, *len, (int32_t *)scratch->data);
    *data = (const int32_t *)scratch->data;
    return MLM_OK;
}

const int32_t *store_seq_wide(colstore *cs)
{
    if (cs->width == 4)
        return cs->vals;
    int32_t *w = atomic_load(&cs->wide);
    if (w)
        return w;
    w = mem_alloc(cs->nvals ? (size_t)cs->nvals * sizeof *w : sizeof *w);
    if (!w) {
        err_oom();
        return NULL;
    }
    store_seq_read(cs, 0, (size_t)cs->nvals, w);
    /* Two threads may both widen; the first to publish wins. */
    int32_t *expect = NULL;
    if (!atomic_compare_exchange_strong(&cs->wide, &expect, w)) {
        mem_free(w);
        return expect;
    }
    return w;
}

/* ------------------------------------------------------------ typed builder */

void store_init(storebuild *sb, mlm_column_type type)
{
    memset(sb, 0, sizeof *sb);
    sb->type = type;
}

void store_free(storebuild *sb)
{
    sb_free(&sb->off);
    sb_free(&sb->ioff);
    sb_free(&sb->bytes);
    sb_free(&sb->vals);
    sb->nrows = sb->nitems = 0;
}

#define SB_TRY(x)                 \
    do {                          \
        if (x)                    \
            return err_oom();     \
    } while (0)

static mlm_status store_first_offset(storebuild *sb)
{
    if (sb->off.len == 0)
        SB_TRY(sb_put_u64(&sb->off, 0));
    if ((sb->type == MLM_COLUMN_STRING_LIST) && sb->ioff.len == 0)
        SB_TRY(sb_put_u64(&sb->ioff, 0));
    return MLM_OK;
}

mlm_status store_add_string(storebuild *sb, const char *s, size_t len)
{
    mlm_status st = store_first_offset(sb);
    if (st)
        return st;
    SB_TRY(sb_reserve(&sb->bytes, len + 1) || sb_reserve(&sb->off, 8));
    sb_append(&sb->bytes, s, len);
    sb_append(&sb->bytes, "", 1);
    sb_put_u64(&sb->off, sb->bytes.len);
    sb->nrows++;
    return MLM_OK;
}

mlm_status store_list_begin(storebuild *sb)
{
    sb->list_open = 1;
    return store_first_offset(sb);
}

mlm_status store_list_item(storebuild *sb, const char *s, size_t len)
{
    SB_TRY(sb_reserve(&sb->bytes, len + 1) || sb_reserve(&sb->ioff, 8));
    sb_append(&sb->bytes, s, len);
    sb_append(&sb->bytes, "", 1);
    sb_put_u64(&sb->ioff, sb->bytes.len);
    sb->nitems++;
    return MLM_OK;
}

mlm_status store_list_end(storebuild *sb)
{
    SB_TRY(sb_put_u64(&sb->off, sb->nitems));
    sb->list_open = 0;
    sb->nrows++;
    return MLM_OK;
}

mlm_status store_add_int(storebuild *sb, int64_t v)
{
    SB_TRY(sb_append(&sb->vals, &v, sizeof v));
    sb->nrows++;
    return MLM_OK;
}

mlm_status store_add_float(storebuild *sb, double v)
{
    SB_TRY(sb_append(&sb->vals, &v, sizeof v));
    sb->nrows++;
    return MLM_OK;
}

mlm_status store_add_seq(storebuild *sb, const int32_t *data, size_t len)
{
    mlm_status st = store_first_offset(sb);
    if (st)
        return st;
    if (len > SIZE_MAX / 4)
        return err_oom();
    SB_TRY(sb_reserve(&sb->vals, len * 4) || sb_reserve(&sb->off, 8));
    sb_append(&sb->vals, data, len * 4);
    sb_put_u64(&sb->off, sb->vals.len / 4);
    sb->nrows++;
    return MLM_OK;
}

mlm_status store_add_from(storebuild *sb, const colstore *cs, const char *name, uint64_t row)
{
    mlm_status st;
    const char *s;
    size_t len;
    switch (cs->type) {
    case MLM_COLUMN_STRING:
        if ((st = store_string(cs, name, row, &s, &len)))
            return st;
        return store_add_string(sb, s, len);
    case MLM_COLUMN_STRING_LIST: {
        uint64_t first;
        size_t n;
        if ((st = store_list(cs, name, row, &first, &n)) || (st = store_list_begin(sb)))
            return st;
        for (size_t i = 0; i < n; i++)
            if ((st = store_item(cs, name, first + i, &s, &len)) ||
                (st = store_list_item(sb, s, len)))
                return st;
        return store_list_end(sb);
    }
    case MLM_COLUMN_INT:
        if (row >= cs->nrows)
            return err_set(MLM_ERR_RANGE, "column '%s': row out of range", name);
        return store_add_int(sb, cs->i64[row]);
    case MLM_COLUMN_FLOAT:
        if (row >= cs->nrows)
            return err_set(MLM_ERR_RANGE, "column '%s': row out of range", name);
        return store_add_float(sb, cs->f64[row]);
    case MLM_COLUMN_SEQUENCE: {
        /* widened straight into the builder's int32 values */
        uint64_t at;
        if ((st = store_seq(cs, name, row, &at, &len)) || (st = store_first_offset(sb)))
            return st;
        SB_TRY(sb_reserve(&sb->vals, len * 4) || sb_reserve(&sb->off, 8));
        store_seq_read(cs, at, len, (int32_t *)(sb->vals.data + sb->vals.len));
        sb->vals.len += len * 4;
        sb_put_u64(&sb->off, sb->vals.len / 4);
        sb->nrows++;
        return MLM_OK;
    }
    }
    return err_set(MLM_ERR_INTERNAL, "column '%s': unknown type", name);
}

mlm_status store_finish(storebuild *sb, colstore **out)
{
    *out = NULL;
    mlm_status st = MLM_OK;
    if (sb->type != MLM_COLUMN_INT && sb->type != MLM_COLUMN_FLOAT)
        st = store_first_offset(sb);
    colstore *cs = st ? NULL : mem_calloc(1, sizeof *cs);
    if (!cs) {
        store_free(sb);
        return st ? st : err_oom();
    }
    atomic_init(&cs->refs, 1);
    cs->type = sb->type;
    cs->nrows = sb->nrows;
    cs->nitems = sb->nitems;
    cs->nbytes = sb->bytes.len;
    cs->nvals = sb->vals.len / 4;
    void *a = NULL, *b = NULL, *c = NULL;
    switch (sb->type) {
    case MLM_COLUMN_STRING:
        a = sb_detach(&sb->off);
        b = sb_detach(&sb->bytes);
        cs->off = a;
        cs->bytes = b;
        break;
    case MLM_COLUMN_STRING_LIST:
        a = sb_detach(&sb->off);
        b = sb_detach(&sb->ioff);
        c = sb_detach(&sb->bytes);
        cs->off = a;
        cs->ioff = b;
        cs->bytes = c;
        break;
    case MLM_COLUMN_SEQUENCE:
        a = sb_detach(&sb->off);
        b = sb_detach(&sb->vals);
        cs->off = a;
        cs->vals = b;
        cs->width = 4;
        break;
    case MLM_COLUMN_INT:
        a = sb_detach(&sb->vals);
        cs->i64 = a;
        cs->nvals = 0;
        break;
    case MLM_COLUMN_FLOAT:
        a = sb_detach(&sb->vals);
        cs->f64 = a;
        cs->nvals = 0;
        break;
    }
    cs->own[0] = a;
    cs->own[1] = b;
    cs->own[2] = c;
    store_free(sb);
    int need_c = cs->type == MLM_COLUMN_STRING_LIST;
    int need_b = cs->type != MLM_COLUMN_INT && cs->type != MLM_COLUMN_FLOAT;
    if (!a || (need_b && !b) || (need_c && !c)) {
        colstore_release(cs);
        return err_oom();
    }
    *out = cs;
    return MLM_OK;
}

/* ------------------------------------------------------------ inferring builder */

mlm_status ib_init(inferbuild *ib, const char *name)
{
    memset(ib, 0, sizeof *ib);
    ib->name = mem_strdup(name);
    if (!ib->name || sb_put_u64(&ib->soff, 0) || sb_put_u64(&ib->loff, 0) ||
        sb_put_u64(&ib->lioff, 0)) {
        ib_free(ib);
        return err_oom();
    }
    return MLM_OK;
}

void ib_free(inferbuild *ib)
{
    mem_free(ib->name);
    sb_free(&ib->soff);
    sb_free(&ib->sbytes);
    sb_free(&ib->loff);
    sb_free(&ib->lioff);
    sb_free(&ib->lbytes);
    memset(ib, 0, sizeof *ib);
}

/* One row: a scalar text and an (empty or filled) list, kept aligned. */
static mlm_status ib_put_scalar(inferbuild *ib, const char *text, size_t len)
{
    if (sb_reserve(&ib->sbytes, len + 1) || sb_reserve(&ib->soff, 8))
        return err_oom();
    sb_append(&ib->sbytes, text, len);
    sb_append(&ib->sbytes, "", 1);
    sb_put_u64(&ib->soff, ib->sbytes.len);
    return MLM_OK;
}

mlm_status ib_add_null(inferbuild *ib)
{
    mlm_status st = ib_put_scalar(ib, "", 0);
    if (st)
        return st;
    if (sb_put_u64(&ib->loff, ib->nitems))
        return err_oom();
    ib->n_null++;
    ib->nrows++;
    return MLM_OK;
}

mlm_status ib_pad(inferbuild *ib, uint64_t rows)
{
    while (ib->nrows < rows) {
        mlm_status st = ib_add_null(ib);
        if (st)
            return st;
    }
    return MLM_OK;
}

/* Numbers as pandas reads them: spaces around are allowed. */
static void trim_spaces(const char **s, size_t *len)
{
    while (*len && (**s == ' '))
        (*s)++, (*len)--;
    while (*len && (*s)[*len - 1] == ' ')
        (*len)--;
}

static int parse_i64(const char *s, size_t len, int64_t *v)
{
    trim_spaces(&s, &len);
    if (len == 0 || len > 32)
        return 0;
    char tmp[33];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (!(tmp[0] == '-' || tmp[0] == '+' || (tmp[0] >= '0' && tmp[0] <= '9')))
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || *end || end == tmp)
        return 0;
    *v = x;
    return 1;
}

static int parse_f64(const char *s, size_t len, double *v)
{
    trim_spaces(&s, &len);
    if (len == 0 || len > 64)
        return 0;
    char tmp[65];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (tmp[i] == 'x' || tmp[i] == 'X' || tmp[i] == ' ' || tmp[i] == '\t' ||
            tmp[i] == '\n' || tmp[i] == '\r' || tmp[i] == '\f' || tmp[i] == '\v')
            return 0;
    char *end;
    double x = strtod(tmp, &end);
    if (*end || end == tmp)
        return 0;
    *v = x;
    return 1;
}

mlm_status ib_add_scalar(inferbuild *ib, int kind, const char *text, size_t len)
{
    if (kind == IV_TEXT) {
        int64_t iv;
        double dv;
        if (len == 0)
            return ib_add_null(ib);
        kind = parse_i64(text, len, &iv) ? IV_INT : parse_f64(text, len, &dv) ? IV_FLOAT
                                                                              : IV_STRING;
    }
    if (kind == IV_NULL)
        return ib_add_null(ib);
    mlm_status st = ib_put_scalar(ib, text, len);
    if (st)
        return st;
    if (sb_put_u64(&ib->loff, ib->nitems))
        return err_oom();
    switch (kind) {
    case IV_INT:
    case IV_BOOL:
        ib->n_int++;
        break;
    case IV_FLOAT:
        ib->n_float++;
        break;
    default:
        ib->n_str++;
        break;
    }
    ib->n_scalar++;
    ib->nrows++;
    return MLM_OK;
}

mlm_status ib_list_begin(inferbuild *ib)
{
    (void)ib;
    return MLM_OK;
}

mlm_status ib_list_item(inferbuild *ib, int kind, const char *text, size_t len, int64_t ival)
{
    if (sb_reserve(&ib->lbytes, len + 1) || sb_reserve(&ib->lioff, 8))
        return err_oom();
    sb_append(&ib->lbytes, text, len);
    sb_append(&ib->lbytes, "", 1);
    sb_put_u64(&ib->lioff, ib->lbytes.len);
    ib->nitems++;
    if (kind == IV_STRING)
        ib->li_str++;
    else if (kind == IV_INT && ival >= INT32_MIN && ival <= INT32_MAX)
        ib->li_int32++;
    else
        ib->li_other++;
    return MLM_OK;
}

mlm_status ib_list_end(inferbuild *ib)
{
    mlm_status st = ib_put_scalar(ib, "", 0);
    if (st)
        return st;
    if (sb_put_u64(&ib->loff, ib->nitems))
        return err_oom();
    ib->n_list++;
    ib->nrows++;
    return MLM_OK;
}

mlm_status ib_finish(inferbuild *ib, colstore **out, mlm_column_type *type)
{
    *out = NULL;
    if (ib->n_list && ib->n_scalar)
        return err_set(MLM_ERR_FORMAT, "column '%s': holds both lists and scalar values",
                       ib->name);
    const uint64_t *soff = (const uint64_t *)ib->soff.data;
    const uint64_t *loff = (const uint64_t *)ib->loff.data;
    const uint64_t *lioff = (const uint64_t *)ib->lioff.data;
    storebuild sb;
    mlm_status st = MLM_OK;
    if (ib->n_list) {
        int seq = ib->li_str == 0 && ib->li_other == 0 && ib->li_int32 > 0;
        store_init(&sb, seq ? MLM_COLUMN_SEQUENCE : MLM_COLUMN_STRING_LIST);
        int32_t *tmp = NULL;
        size_t tcap = 0;
        for (uint64_t r = 0; r < ib->nrows && !st; r++) {
            uint64_t a = loff[r], b = loff[r + 1];
            if (seq) {
                if (b - a > tcap) {
                    size_t nc = (size_t)(b - a) * 2;
                    int32_t *t = mem_realloc(tmp, nc * sizeof *t);
                    if (!t) {
                        st = err_oom();
                        break;
                    }
                    tmp = t;
                    tcap = nc;
                }
                for (uint64_t i = a; i < b; i++) {
                    int64_t v = 0;
                    const char *s = ib->lbytes.data + lioff[i];
                    parse_i64(s, lioff[i + 1] - lioff[i] - 1, &v);
                    tmp[i - a] = (int32_t)v;
                }
                st = store_add_seq(&sb, tmp, (size_t)(b - a));
            } else {
                st = store_list_begin(&sb);
                for (uint64_t i = a; i < b && !st; i++)
                    st = store_list_item(&sb, ib->lbytes.data + lioff[i], lioff[i + 1] - lioff[i] - 1);
                if (!st)
                    st = store_list_end(&sb);
            }
        }
        mem_free(tmp);
    } else {
        mlm_column_type t = MLM_COLUMN_STRING;
        if (ib->n_str == 0 && ib->n_scalar > 0)
            t = (ib->n_float == 0 && ib->n_null == 0) ? MLM_COLUMN_INT : MLM_COLUMN_FLOAT;
        store_init(&sb, t);
        for (uint64_t r = 0; r < ib->nrows && !st; r++) {
            const char *s = ib->sbytes.data + soff[r];
            size_t len = (size_t)(soff[r + 1] - soff[r] - 1);
            if (t == MLM_COLUMN_STRING) {
                st = store_add_string(&sb, s, len);
            } else if (t == MLM_COLUMN_INT) {
                int64_t v = 0;
                if (!parse_i64(s, len, &v))
                    v = (len == 4 && memcmp(s, "true", 4) == 0) ? 1 : 0;
                st = store_add_int(&sb, v);
            } else {
                double v = NAN;
                int64_t iv;
                if (len == 4 && memcmp(s, "true", 4) == 0)
                    v = 1;
                else if (len == 5 && memcmp(s, "false", 5) == 0)
                    v = 0;
                else if (parse_i64(s, len, &iv))
                    v = (double)iv;
                else if (len)
                    parse_f64(s, len, &v);
                st = store_add_float(&sb, v);
            }
        }
    }
    if (st) {
        store_free(&sb);
        return st;
    }
    *type = sb.type;
    return store_finish(&sb, out);
}
