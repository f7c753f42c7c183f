/* Row transforms that share storage: select, shuffle, filter,
 * remove_columns, train_test_split. */
#include <inttypes.h>
#include <math.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset_impl.h"

/* Streams of the Philox generator used by the data layer, so that shuffle
 * and split draws never coincide with the collator's (which uses the batch
 * index as its stream). */
#define STREAM_SHUFFLE 0x5348554646000000ull /* "SHUFF" */
#define STREAM_SPLIT 0x53504c4954000000ull   /* "SPLIT" */
/* Epoch e's order is stream STREAM_EPOCH + e: the trainer's SHUFFLE_STREAM
 * (src/train/trainer_impl.h), whose epoch_permutation draws the same
 * Fisher-Yates (the data layer sits below train, so the value is repeated
 * here and a test pins the two together). */
#define STREAM_EPOCH (UINT64_C(0x53485546) << 32)

mlm_status ds_permutation(uint64_t n, uint64_t seed, uint64_t stream, uint64_t **out)
{
    *out = NULL;
    if (n > SIZE_MAX / sizeof(uint64_t))
        return err_oom();
    uint64_t *p = mem_alloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p)
        return err_oom();
    for (uint64_t i = 0; i < n; i++)
        p[i] = i;
    rng r;
    rng_init(&r, seed, stream);
    for (uint64_t i = n; i > 1; i--) {
        uint64_t hi = rng_u32(&r), lo = rng_u32(&r);
        uint64_t j = ((hi << 32) | lo) % i;
        uint64_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    *out = p;
    return MLM_OK;
}

mlm_status mlm_dataset_select(const mlm_dataset *ds, const size_t *indices, size_t n,
                              mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_select: out is NULL");
    *out = NULL;
    if (!ds || (n && !indices))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_select: NULL argument");
    uint64_t *ix = mem_alloc((n ? n : 1) * sizeof *ix);
    if (!ix)
        return err_oom();
    for (size_t i = 0; i < n; i++)
        ix[i] = indices[i];
    mlm_status st = ds_take(ds, ix, n, out);
    mem_free(ix);
    return st;
}

mlm_status mlm_dataset_shuffle(const mlm_dataset *ds, uint64_t seed, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_shuffle: out is NULL");
    *out = NULL;
    if (!ds)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_shuffle: dataset is NULL");
    uint64_t *p;
    mlm_status st = ds_permutation(ds->nrows, seed, STREAM_SHUFFLE, &p);
    if (st)
        return st;
    st = ds_take(ds, p, ds->nrows, out);
    mem_free(p);
    return st;
}

mlm_status mlm_dataset_epoch_order(size_t n, uint64_t seed, uint64_t epoch, size_t *order)
{
    if (!order && n)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_epoch_order: order is NULL");
    uint64_t *p;
    mlm_status st = ds_permutation(n, seed, STREAM_EPOCH + epoch, &p);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++)
        order[i] = (size_t)p[i];
    mem_free(p);
    return MLM_OK;
}

mlm_status mlm_dataset_filter(const mlm_dataset *ds, mlm_dataset_filter_fn fn, void *user,
                              mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_filter: out is NULL");
    *out = NULL;
    if (!ds || !fn)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_filter: NULL argument");
    uint64_t *ix = mem_alloc((size_t)(ds->nrows ? ds->nrows : 1) * sizeof *ix);
    if (!ix)
        return err_oom();
    uint64_t n = 0;
    for (uint64_t r = 0; r < ds->nrows; r++) {
        int keep = 0;
        mlm_status st = fn(ds, (size_t)r, user, &keep);
        if (st) {
            mem_free(ix);
            return err_prefix(st, "filter: row %" PRIu64 ": ", r);
        }
        if (keep)
            ix[n++] = r;
    }
    mlm_status st = ds_take(ds, ix, n, out);
    mem_free(ix);
    return st;
}

mlm_status mlm_dataset_remove_columns(const mlm_dataset *ds, const char *const *names, size_t n,
                                      mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_remove_columns: out is NULL");
    *out = NULL;
    if (!ds || (n && !names))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_remove_columns: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            return err_set(MLM_ERR_INVALID_ARGUMENT, "remove_columns: name %zu is NULL", i);
        if (!ds_find(ds, names[i]))
            return err_set(MLM_ERR_NOT_FOUND, "remove_columns: column '%s' not in the dataset",
                           names[i]);
    }
    mlm_dataset *o = ds_alloc(ds->ncols ? ds->ncols : 1);
    if (!o)
        return err_oom();
    o->nrows = ds->nrows;
    for (size_t i = 0; i < ds->ncols; i++) {
        int drop = 0;
        for (size_t j = 0; j < n; j++)
            drop |= strcmp(ds->cols[i].name, names[j]) == 0;
        if (!drop && ds_push_shared(o, &ds->cols[i])) {
            mlm_dataset_free(o);
            return MLM_ERR_OUT_OF_MEMORY;
        }
    }
    *out = o;
    return MLM_OK;
}

mlm_status mlm_dataset_train_test_split(const mlm_dataset *ds, double test_size, uint64_t seed,
                                        int shuffle, mlm_dataset **train, mlm_dataset **test)
{
    if (!train || !test)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "train_test_split: train or test is NULL");
    *train = *test = NULL;
    if (!ds)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "train_test_split: dataset is NULL");
    uint64_t n = ds->nrows;
    if (n == 0)
        return err_set(MLM_ERR_RANGE, "train_test_split: the dataset is empty");
    if (!(test_size > 0) || isinf(test_size))
        return err_set(MLM_ERR_RANGE, "train_test_split: test_size=%g should be a float in "
                       "(0, 1) or a positive count", test_size);
    uint64_t n_test;
    if (test_size < 1) {
        n_test = (uint64_t)ceil(test_size * (double)n);
    } else {
        if (test_size != floor(test_size) || test_size >= (double)n)
            return err_set(MLM_ERR_RANGE, "train_test_split: test_size=%g should be smaller "
                           "than the number of samples %" PRIu64 " (and an integer)",
                           test_size, n);
        n_test = (uint64_t)test_size;
    }
    if (n_test >= n)
        return err_set(MLM_ERR_RANGE, "train_test_split: with n_samples=%" PRIu64
                       ", test_size=%g the resulting train set will be empty", n, test_size);
    uint64_t n_train = n - n_test;
    uint64_t *p;
    mlm_status st;
    if (shuffle) {
        st = ds_permutation(n, seed, STREAM_SPLIT, &p);
        if (st)
            return st;
        /* HF: test = permutation[:n_test], train = permutation[n_test:] */
        if (!(st = ds_take(ds, p, n_test, test)))
            st = ds_take(ds, p + n_test, n_train, train);
        mem_free(p);
    } else {
        if (!(st = ds_slice(ds, 0, n_train, train)))
            st = ds_slice(ds, n_train, n_test, test);
    }
    if (st) {
        mlm_dataset_free(*train);
        mlm_dataset_free(*test);
        *train = *test = NULL;
    }
    return st;
}
