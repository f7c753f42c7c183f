/* Plain text → a "text" column, as HF's text loader: by line (universal
 * newlines, breaks removed, empty lines kept), paragraph or document. */
#include "core/error.h"
#include "data/load.h"

mlm_status load_text_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                            mlm_dataset **out)
{
    (void)what;
    *out = NULL;
    /* Universal newlines first: "\r\n" and "\r" become "\n". */
    strbuf t = {0};
    if (sb_reserve(&t, len + 1))
        return err_oom();
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\r') {
            c = '\n';
            if (i + 1 < len && data[i + 1] == '\n')
                i++;
        }
        t.data[t.len++] = c;
    }
    storebuild sb;
    store_init(&sb, MLM_COLUMN_STRING);
    mlm_status st = MLM_OK;
    const char *d = t.data;
    size_t n = t.len;
    if (o->sample_by == SAMPLE_DOCUMENT) {
        if (n)
            st = store_add_string(&sb, d, n);
    } else if (o->sample_by == SAMPLE_LINE) {
        for (size_t p = 0; p < n && !st;) {
            size_t e = p;
            while (e < n && d[e] != '\n')
                e++;
            size_t keep = (o->keep_linebreaks && e < n) ? 1 : 0;
            st = store_add_string(&sb, d + p, e - p + keep);
            p = e + 1;
        }
    } else { /* paragraphs: split at "\n\n", empty ones dropped */
        size_t p = 0;
        while (p <= n && !st) {
            size_t e = p;
            while (e + 1 < n && !(d[e] == '\n' && d[e + 1] == '\n'))
                e++;
            if (e + 1 >= n)
                e = n;
            if (e > p)
                st = store_add_string(&sb, d + p, e - p);
            p = e + 2;
        }
    }
    sb_free(&t);
    if (st) {
        store_free(&sb);
        return st;
    }
    uint64_t rows = sb.nrows;
    colstore *cs;
    if ((st = store_finish(&sb, &cs)))
        return st;
    mlm_dataset *ds = ds_alloc(1);
    if (!ds) {
        colstore_release(cs);
        return err_oom();
    }
    if ((st = ds_push_store(ds, "text", cs))) {
        mlm_dataset_free(ds);
        return st;
    }
    ds->nrows = rows;
    *out = ds;
    return MLM_OK;
}
