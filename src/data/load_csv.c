/* CSV / TSV (RFC 4180) → columns, typed as pandas would (integers → INT,
 * numbers → FLOAT, anything else STRING). */
#include <stdio.h>

#include "core/error.h"
#include "data/load.h"

typedef struct csvrd {
    const char *d;
    size_t len, pos, line;
    char delim;
    int quoting;
    strbuf field;               /* the field being read */
    strbuf fields;              /* NUL-separated fields of the record */
    strbuf starts;              /* size_t offsets into fields */
    size_t nfields;
} csvrd;

/* Read one record; 1 when a record was read, 0 at the end, -1 on error
 * (message set), -2 out of memory. Blank lines are skipped. */
static int read_record(csvrd *r, size_t *rec_line)
{
    r->fields.len = 0;
    r->starts.len = 0;
    r->nfields = 0;
    /* skip blank lines */
    for (;;) {
        if (r->pos >= r->len)
            return 0;
        char c = r->d[r->pos];
        if (c == '\n') {
            r->pos++;
            r->line++;
        } else if (c == '\r') {
            r->pos++;
            if (r->pos < r->len && r->d[r->pos] == '\n')
                r->pos++;
            r->line++;
        } else {
            break;
        }
    }
    *rec_line = r->line;
    for (;;) {
        r->field.len = 0;
        int at_end = 0;
        if (r->quoting && r->pos < r->len && r->d[r->pos] == '"') {
            size_t qline = r->line;
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) {
                    err_set(MLM_ERR_FORMAT, "line %zu: quoted field not closed before the end",
                            qline);
                    return -1;
                }
                char c = r->d[r->pos++];
                if (c == '"') {
                    if (r->pos < r->len && r->d[r->pos] == '"') {
                        r->pos++;
                        if (sb_append(&r->field, "\"", 1))
                            return -2;
                        continue;
                    }
                    break;
                }
                if (c == '\n')
                    r->line++;
                if (sb_append(&r->field, &c, 1))
                    return -2;
            }
        }
        /* unquoted text (or text after a closing quote, kept as pandas does) */
        size_t a = r->pos;
        while (r->pos < r->len && r->d[r->pos] != r->delim && r->d[r->pos] != '\n' &&
               r->d[r->pos] != '\r')
            r->pos++;
        if (sb_append(&r->field, r->d + a, r->pos - a))
            return -2;
        if (r->pos >= r->len) {
            at_end = 1;
        } else if (r->d[r->pos] == r->delim) {
            r->pos++;
        } else {
            if (r->d[r->pos] == '\r')
                r->pos++;
            if (r->pos < r->len && r->d[r->pos] == '\n')
                r->pos++;
            r->line++;
            at_end = 1;
        }
        size_t start = r->fields.len;
        if (sb_append(&r->starts, &start, sizeof start) ||
            sb_append(&r->fields, r->field.data ? r->field.data : "", r->field.len) ||
            sb_append(&r->fields, "", 1))
            return -2;
        r->nfields++;
        if (at_end)
            return 1;
    }
}

static const char *rec_field(const csvrd *r, size_t i, size_t *len)
{
    size_t a = ((const size_t *)r->starts.data)[i];
    size_t b = i + 1 < r->nfields ? ((const size_t *)r->starts.data)[i + 1] : r->fields.len;
    *len = b - a - 1;
    return r->fields.data + a;
}

mlm_status load_csv_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                           mlm_dataset **out)
{
    *out = NULL;
    csvrd r;
    memset(&r, 0, sizeof r);
    r.d = data;
    r.len = len;
    r.line = 1;
    r.delim = o->delimiter ? o->delimiter : (o->format == FMT_TSV ? '\t' : ',');
    r.quoting = !o->quoting_none;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3;
    inferbuild *cols = NULL;
    size_t ncols = 0;
    uint64_t nrows = 0, skipped = 0;
    mlm_status st = MLM_OK;
    size_t line;
    int rc = read_record(&r, &line);
    if (rc < 0) {
        st = rc == -2 ? err_oom() : err_prefix(MLM_ERR_FORMAT, "%s: ", what);
        goto done;
    }
    if (rc == 0) { /* an empty file: no columns, no rows */
        *out = ds_alloc(1);
        st = *out ? MLM_OK : err_oom();
        goto done;
    }
    ncols = r.nfields;
    cols = mem_calloc(ncols, sizeof *cols);
    if (!cols) {
        st = err_oom();
        ncols = 0;
        goto done;
    }
    for (size_t i = 0; i < ncols && !st; i++) {
        size_t flen;
        const char *f = rec_field(&r, i, &flen);
        char name[300];
        if (flen == 0)
            snprintf(name, sizeof name, "Unnamed: %zu", i);
        else
            snprintf(name, sizeof name, "%.*s", (int)(flen < 256 ? flen : 256), f);
        /* pandas mangles duplicates: x, x.1, x.2 ... */
        char uniq[320];
        snprintf(uniq, sizeof uniq, "%s", name);
        for (int k = 1;; k++) {
            int dup = 0;
            for (size_t j = 0; j < i; j++)
                dup |= strcmp(cols[j].name, uniq) == 0;
            if (!dup)
                break;
            snprintf(uniq, sizeof uniq, "%s.%d", name, k);
        }
        st = ib_init(&cols[i], uniq);
        if (st) {
            ncols = i;
        }
    }
    while (!st) {
        rc = read_record(&r, &line);
        if (rc == 0)
            break;
        if (rc == -2) {
            st = err_oom();
            break;
        }
        if (rc == -1) {
            if (o->skip_bad) { /* an unclosed quote runs to the end: nothing follows */
                skipped++;
                break;
            }
            st = err_prefix(MLM_ERR_FORMAT, "%s: ", what);
            break;
        }
        if (r.nfields > ncols) {
            if (o->skip_bad) {
                skipped++;
                continue;
            }
            st = err_set(MLM_ERR_FORMAT, "%s: line %zu: expected %zu fields, saw %zu", what,
                         line, ncols, r.nfields);
            break;
        }
        for (size_t i = 0; i < ncols && !st; i++) {
            if (i < r.nfields) {
                size_t flen;
                const char *f = rec_field(&r, i, &flen);
                st = ib_add_scalar(&cols[i], IV_TEXT, f, flen);
            } else {
                st = ib_add_null(&cols[i]); /* short records are padded, as pandas does */
            }
        }
        nrows++;
    }
    if (!st) {
        mlm_dataset *ds = ds_alloc(ncols ? ncols : 1);
        if (!ds) {
            st = err_oom();
            goto done;
        }
        ds->nrows = nrows;
        ds->skipped = skipped;
        for (size_t i = 0; i < ncols && !st; i++) {
            colstore *cs;
            mlm_column_type t;
            st = ib_finish(&cols[i], &cs, &t);
            if (!st)
                st = ds_push_store(ds, cols[i].name, cs);
        }
        if (st)
            mlm_dataset_free(ds);
        else
            *out = ds;
    }
done:
    for (size_t i = 0; i < ncols; i++)
        ib_free(&cols[i]);
    mem_free(cols);
    sb_free(&r.field);
    sb_free(&r.fields);
    sb_free(&r.starts);
    return st;
}
