/* run_mlm.py's group_texts: concatenate SEQUENCE columns and cut blocks. */
#include <inttypes.h>

#include "core/error.h"
#include "data/dataset_impl.h"

/* Group rows [r0, r1) of the sequence columns into blocks appended to sb[]. */
static mlm_status group_range(const mlm_dataset *ds, const size_t *seqcols, size_t nseq,
                              uint64_t r0, uint64_t r1, uint64_t block, storebuild *sb,
                              strbuf *tmp)
{
    uint64_t total0 = 0;
    for (size_t k = 0; k < nseq; k++) {
        const dcol *c = &ds->cols[seqcols[k]];
        tmp->len = 0;
        for (uint64_t r = r0; r < r1; r++) {
            uint64_t first;
            size_t len;
            mlm_status st = store_seq(c->cs, c->name, dcol_phys(c, r), &first, &len);
            if (st)
                return st;
            if (sb_reserve(tmp, len * sizeof(int32_t)))
                return err_oom();
            /* widened straight onto the concatenation */
            store_seq_read(c->cs, first, len, (int32_t *)(tmp->data + tmp->len));
            tmp->len += len * sizeof(int32_t);
        }
        uint64_t total = tmp->len / sizeof(int32_t);
        if (k == 0)
            total0 = total;
        else if (total != total0)
            return err_set(MLM_ERR_FORMAT, "group_texts: column '%s' has %" PRIu64
                           " values in rows [%" PRIu64 ", %" PRIu64 "), column '%s' has %" PRIu64,
                           c->name, total, r0, r1, ds->cols[seqcols[0]].name, total0);
        uint64_t used = total / block * block;
        const int32_t *v = (const int32_t *)tmp->data;
        for (uint64_t i = 0; i < used; i += block) {
            mlm_status st = store_add_seq(&sb[k], v + i, (size_t)block);
            if (st)
                return st;
        }
    }
    return MLM_OK;
}

mlm_status mlm_dataset_group_texts_batched(const mlm_dataset *ds, int64_t block_size,
                                           size_t batch_size, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "group_texts: out is NULL");
    *out = NULL;
    if (!ds)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "group_texts: dataset is NULL");
    if (block_size <= 0)
        return err_set(MLM_ERR_RANGE, "group_texts: block_size %" PRId64 " must be positive",
                       block_size);
    size_t *seqcols = mem_alloc((ds->ncols ? ds->ncols : 1) * sizeof *seqcols);
    if (!seqcols)
        return err_oom();
    size_t nseq = 0;
    for (size_t i = 0; i < ds->ncols; i++)
        if (ds->cols[i].cs->type == MLM_COLUMN_SEQUENCE)
            seqcols[nseq++] = i;
    if (!nseq && ds->nrows == 0) {
        /* datasets' map returns an empty dataset as it is, without calling
         * the function: nothing to group, and no error. */
        mem_free(seqcols);
        if (!(*out = ds_alloc(0)))
            return err_oom();
        return MLM_OK;
    }
    if (!nseq) {
        mem_free(seqcols);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "group_texts: the dataset has no sequence "
                       "column");
    }
    storebuild *sb = mem_calloc(nseq, sizeof *sb);
    if (!sb) {
        mem_free(seqcols);
        return err_oom();
    }
    for (size_t k = 0; k < nseq; k++)
        store_init(&sb[k], MLM_COLUMN_SEQUENCE);
    strbuf tmp = {0};
    mlm_status st = MLM_OK;
    uint64_t bs = batch_size ? batch_size : (ds->nrows ? ds->nrows : 1);
    for (uint64_t r0 = 0; r0 < ds->nrows && !st; r0 += bs) {
        uint64_t r1 = ds->nrows - r0 < bs ? ds->nrows : r0 + bs;
        st = group_range(ds, seqcols, nseq, r0, r1, (uint64_t)block_size, sb, &tmp);
    }
    sb_free(&tmp);
    mlm_dataset *o = NULL;
    if (!st && !(o = ds_alloc(nseq)))
        st = err_oom();
    if (!st)
        o->nrows = sb[0].nrows;
    for (size_t k = 0; k < nseq; k++) {
        colstore *cs;
        if (!st && !(st = store_finish(&sb[k], &cs)))
            st = ds_push_store(o, ds->cols[seqcols[k]].name, cs);
        store_free(&sb[k]);
    }
    mem_free(sb);
    mem_free(seqcols);
    if (st) {
        mlm_dataset_free(o);
        return st;
    }
    *out = o;
    return MLM_OK;
}

mlm_status mlm_dataset_group_texts(const mlm_dataset *ds, int64_t block_size, mlm_dataset **out)
{
    return mlm_dataset_group_texts_batched(ds, block_size, 0, out);
}
