/* The dataset handle: named columns over shared storage, each with an
 * optional row-index mapping (as HF's indices mapping) and a start row. */
#ifndef MLM_DATA_DATASET_IMPL_H
#define MLM_DATA_DATASET_IMPL_H

#include "data/column.h"

/* A shared index array: logical row → physical row of a colstore. */
typedef struct idxbuf {
    atomic_long refs;
    uint64_t n;
    uint64_t v[];
} idxbuf;

idxbuf *idxbuf_new(uint64_t n);
void idxbuf_release(idxbuf *ix);

typedef struct dcol {
    char *name;
    colstore *cs;
    idxbuf *idx;   /* NULL: identity */
    uint64_t start; /* logical row r is (idx ? idx->v[start + r] : start + r) */
} dcol;

struct mlm_dataset {
    uint64_t nrows;
    size_t ncols, cap;
    dcol *cols;
    uint64_t skipped;
};

static inline uint64_t dcol_phys(const dcol *c, uint64_t r)
{
    return c->idx ? c->idx->v[c->start + r] : c->start + r;
}

/* An empty dataset with room for `cap` columns. */
mlm_dataset *ds_alloc(size_t cap);
/* The column named `name`, or NULL (no error set). */
const dcol *ds_find(const mlm_dataset *ds, const char *name);
/* The column, or MLM_ERR_NOT_FOUND / MLM_ERR_INVALID_ARGUMENT (type
 * mismatch; want < 0 accepts any type) naming it. */
mlm_status ds_column(const mlm_dataset *ds, const char *name, int want, const dcol **out);
/* Append a column sharing storage (takes new references). */
mlm_status ds_push_shared(mlm_dataset *ds, const dcol *c);
/* Append a column that takes over the reference `cs` (released on error). */
mlm_status ds_push_store(mlm_dataset *ds, const char *name, colstore *cs);
/* Rows [start, start + n) as a view sharing storage. */
mlm_status ds_slice(const mlm_dataset *ds, uint64_t start, uint64_t n, mlm_dataset **out);
/* Rows picked by idx (64-bit indices, checked), sharing storage. */
mlm_status ds_take(const mlm_dataset *ds, const uint64_t *idx, uint64_t n, mlm_dataset **out);
/* A Fisher-Yates permutation of 0..n-1 from Philox (seed, stream). */
mlm_status ds_permutation(uint64_t n, uint64_t seed, uint64_t stream, uint64_t **out);

/* JSON → dataset (load_json.c). `what` names the source in messages. */
struct cJSON;
mlm_status json_records_to_dataset(const struct cJSON *root, const char *what,
                                   mlm_dataset **out);

#endif
