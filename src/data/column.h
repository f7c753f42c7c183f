/* Column storage shared between dataset handles, and builders for it.
 *
 * A colstore is immutable and reference-counted. Its buffers are either
 * malloc'ed (own[]) or point into an mmap'ed dataset file (map). The layout
 * is the file format's (docs/dataset-format.md):
 *   STRING       off[nrows+1] into bytes; each string NUL-terminated
 *   STRING_LIST  off[nrows+1] into items; ioff[nitems+1] into bytes
 *   SEQUENCE     off[nrows+1] into vals[nvals], each value `width` bytes:
 *                uint8 (1), uint16 (2) or int32 (4); builders make int32,
 *                files (version 2) the narrowest width that holds the column
 *   INT          i64[nrows];  FLOAT  f64[nrows]
 * Offsets from a file are only trusted after the per-cell checks below. */
#ifndef MLM_DATA_COLUMN_H
#define MLM_DATA_COLUMN_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "io/strbuf.h"
#include "mlm/dataset.h"

/* A shared region (an mmap'ed file). */
typedef struct dmap {
    atomic_long refs;
    void *addr;
    size_t len;
    int mapped; /* 1: munmap; 0: mem_free */
} dmap;

void dmap_release(dmap *m);

typedef struct colstore {
    atomic_long refs;
    mlm_column_type type;
    uint64_t nrows, nitems, nbytes, nvals;
    const uint64_t *off, *ioff;
    const char *bytes;
    const void *vals;    /* SEQUENCE values, `width` bytes each */
    int width;           /* 1, 2 or 4 */
    _Atomic(int32_t *) wide; /* vals widened once, for mlm_dataset_get_sequence */
    const int64_t *i64;
    const double *f64;
    void *own[3];
    dmap *map;
} colstore;

colstore *colstore_ref(colstore *cs);
void colstore_release(colstore *cs);

/* Checked cell reads by physical row. A failure sets the error (naming
 * `name`) and returns MLM_ERR_FORMAT or MLM_ERR_RANGE. */
mlm_status store_string(const colstore *cs, const char *name, uint64_t row, const char **s,
                        size_t *len);
mlm_status store_list(const colstore *cs, const char *name, uint64_t row, uint64_t *first,
                      size_t *count);
mlm_status store_item(const colstore *cs, const char *name, uint64_t item, const char **s,
                      size_t *len);
/* Row `row` of a sequence column: values [*first, *first + *len) of it. */
mlm_status store_seq(const colstore *cs, const char *name, uint64_t row, uint64_t *first,
                     size_t *len);
/* Values [first, first + n) (in range: from store_seq) widened into dst. */
void store_seq_read(const colstore *cs, uint64_t first, size_t n, int32_t *dst);
/* Row `row` as int32 values: *data points into the storage when it is int32,
 * else into `scratch` (grown as needed; the caller sb_free()s it), where the
 * row is widened: a copy of one row, never of the column. Valid until the
 * next call with the same scratch. */
mlm_status store_seq_row(const colstore *cs, const char *name, uint64_t row, strbuf *scratch,
                         const int32_t **data, size_t *len);
/* All values as int32: the storage itself when it is int32, else a copy
 * made on the first call and kept (4 bytes a value) until the storage is
 * released; NULL when that allocation fails (error set). Thread-safe. */
const int32_t *store_seq_wide(colstore *cs);

/* A builder of one column of a known type, row by row. */
typedef struct storebuild {
    mlm_column_type type;
    uint64_t nrows, nitems;
    strbuf off, ioff, bytes, vals;
    int list_open;
} storebuild;

void store_init(storebuild *sb, mlm_column_type type);
void store_free(storebuild *sb);
/* These return MLM_OK or MLM_ERR_OUT_OF_MEMORY (with err_oom()). */
mlm_status store_add_string(storebuild *sb, const char *s, size_t len);
mlm_status store_list_begin(storebuild *sb);
mlm_status store_list_item(storebuild *sb, const char *s, size_t len);
mlm_status store_list_end(storebuild *sb);
mlm_status store_add_int(storebuild *sb, int64_t v);
mlm_status store_add_float(storebuild *sb, double v);
mlm_status store_add_seq(storebuild *sb, const int32_t *data, size_t len);
/* Append the cell at physical row `row` of cs (of the builder's type). */
mlm_status store_add_from(storebuild *sb, const colstore *cs, const char *name, uint64_t row);
/* A colstore with refs 1; the builder is emptied either way. */
mlm_status store_finish(storebuild *sb, colstore **out);

/* A builder whose type is inferred from the values, for the loaders:
 * values arrive typed (JSON) or as text to classify (CSV). */
enum { IV_NULL, IV_STRING, IV_INT, IV_FLOAT, IV_BOOL, IV_TEXT, IV_OTHER };

typedef struct inferbuild {
    char *name;
    uint64_t nrows;
    /* scalar view: one NUL-terminated text per row; list view: items */
    strbuf soff, sbytes;       /* scalar texts */
    strbuf loff, lioff, lbytes; /* lists: row offsets into items, item offsets */
    uint64_t nitems;
    uint64_t n_scalar, n_list; /* rows that held a non-null scalar / a list */
    uint64_t n_str, n_int, n_float, n_null; /* scalar kinds seen */
    uint64_t li_str, li_int32, li_other;    /* list item kinds seen */
} inferbuild;

mlm_status ib_init(inferbuild *ib, const char *name);
void ib_free(inferbuild *ib);
/* Pad with nulls up to `row` rows. */
mlm_status ib_pad(inferbuild *ib, uint64_t rows);
/* A scalar: kind IV_* with its text (IV_TEXT: a CSV field, classified). */
mlm_status ib_add_scalar(inferbuild *ib, int kind, const char *text, size_t len);
mlm_status ib_add_null(inferbuild *ib);
mlm_status ib_list_begin(inferbuild *ib);
/* An item of the open list: kind IV_STRING, IV_INT (text is the decimal
 * value) or IV_OTHER (JSON text). */
mlm_status ib_list_item(inferbuild *ib, int kind, const char *text, size_t len, int64_t ival);
mlm_status ib_list_end(inferbuild *ib);
/* The column, typed; an error names the column (mixed lists and scalars). */
mlm_status ib_finish(inferbuild *ib, colstore **out, mlm_column_type *type);

#endif
