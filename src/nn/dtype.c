/* A model's dtype: converting its matrices to bf16 or int8 for inference
 * (issue #15). Any family: the parameter table marks the matrices a
 * reduced dtype converts (param_desc.qslot — every Linear's weight and the
 * word embeddings), the family compacts what stays fp32 into one
 * allocation, and its forward passes use the ops_qw wherever the qslot is
 * set. The fp32 copy of a converted matrix is released (mapped pages
 * unmapped, owned ones freed), which is what halves the memory. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "nn/family.h"
#include "nn/model_impl.h"

/* The public enum and the ops layer's have the same values (one name each,
 * in nn/ops/qweight.c). */
const char *mlm_dtype_name(mlm_dtype dtype)
{
    if (dtype != MLM_DTYPE_F32 && dtype != MLM_DTYPE_BF16 && dtype != MLM_DTYPE_INT8)
        return "?";
    return ops_dtype_name((ops_dtype)dtype);
}

mlm_status mlm_dtype_from_name(const char *name, mlm_dtype *out)
{
    static const struct {
        const char *name;
        mlm_dtype dtype;
    } names[] = {{"fp32", MLM_DTYPE_F32},   {"float32", MLM_DTYPE_F32},
                 {"bf16", MLM_DTYPE_BF16},  {"bfloat16", MLM_DTYPE_BF16},
                 {"int8", MLM_DTYPE_INT8}};
    if (!name || !out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dtype_from_name: NULL argument");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].dtype;
            return MLM_OK;
        }
    return err_set(MLM_ERR_INVALID_ARGUMENT,
                   "dtype '%s' unknown: fp32 (float32), bf16 (bfloat16) or int8", name);
}

mlm_dtype mlm_model_dtype(const mlm_model *m) { return m ? m->dtype : MLM_DTYPE_F32; }

int64_t mlm_model_weight_bytes(const mlm_model *m)
{
    if (!m)
        return 0;
    size_t n, bytes = 0;
    const param_desc *p = model_param_table(m, &n);
    for (size_t i = 0; i < n; i++)
        bytes += m->qw && p[i].qslot ? ops_qw_bytes(&m->qw[i]) : p[i].numel * sizeof(float);
    return (int64_t)bytes;
}

static ops_dtype ops_dtype_of(mlm_dtype dt)
{
    _Static_assert((int)MLM_DTYPE_F32 == (int)OPS_F32 && (int)MLM_DTYPE_BF16 == (int)OPS_BF16 &&
                       (int)MLM_DTYPE_INT8 == (int)OPS_INT8,
                   "mlm_dtype and ops_dtype share their values");
    return (ops_dtype)dt;
}

static void free_qw(ops_qw *qw, size_t n)
{
    for (size_t i = 0; qw && i < n; i++)
        ops_qw_free(&qw[i]);
    mem_free(qw);
}

void model_free_reduced(mlm_model *m)
{
    if (!m->qw)
        return;
    size_t n;
    model_param_table(m, &n);
    free_qw(m->qw, n);
    m->qw = NULL;
}

mlm_status model_require_fp32(const mlm_model *m, const char *fn)
{
    if (m->dtype == MLM_DTYPE_F32)
        return MLM_OK;
    return err_set(MLM_ERR_UNSUPPORTED,
                   "%s: the model's weights are %s; training needs fp32 weights (load the "
                   "checkpoint without a dtype)",
                   fn, mlm_dtype_name(m->dtype));
}

mlm_status model_set_dtype(mlm_model *m, mlm_dtype dtype)
{
    if (dtype == m->dtype)
        return MLM_OK;
    if (dtype != MLM_DTYPE_BF16 && dtype != MLM_DTYPE_INT8 && dtype != MLM_DTYPE_F32)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_set_dtype: unknown dtype %d",
                       (int)dtype);
    if (m->dtype != MLM_DTYPE_F32)
        return err_set(MLM_ERR_UNSUPPORTED,
                       "mlm_model_set_dtype: the model is already %s; reload it to convert to %s",
                       mlm_dtype_name(m->dtype), mlm_dtype_name(dtype));
    size_t n;
    const param_desc *p = model_param_table(m, &n);
    ops_qw *qw = mem_calloc(n ? n : 1, sizeof *qw);
    if (!qw)
        return err_oom();
    /* A model loaded zero-copy owns nothing: its parameters are the mapped
     * checkpoint's pages (model_impl.h). */
    int mapped = model_owned(m) == NULL;
    /* Small pages for the mapping while it is read here: the fp32 tensors
     * that stay (layer norms, position biases: a few KB each, scattered
     * through the file) are copied out at the end, and on a kernel that
     * maps the page cache's large folios whole, each copy mapped 2 MB: a
     * t5-small load peaked at 124 MB for 63 MB of int8 weights. */
    for (size_t i = 0; mapped && i < n; i++)
        file_map_small_pages(*p[i].slot, p[i].numel * sizeof(float));
    mlm_status st = MLM_OK;
    for (size_t i = 0; st == MLM_OK && i < n; i++) {
        if (!p[i].qslot)
            continue;
        /* a mapped checkpoint's pages go as their rows are converted: the
         * peak is the converted model plus a few rows, not both forms */
        st = ops_qw_from_f32(&qw[i], ops_dtype_of(dtype), *p[i].slot, (int)p[i].shape[0],
                             (int)p[i].shape[1], mapped ? file_map_release : NULL);
        if (st != MLM_OK)
            st = err_prefix(st, "%s: ", p[i].name);
    }
    if (st == MLM_OK)
        st = m->family->compact(m); /* the fp32 copies go; nothing changes on failure */
    if (st != MLM_OK) {
        free_qw(qw, n);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        if (p[i].qslot)
            *p[i].qslot = &qw[i];
    m->qw = qw;
    m->dtype = dtype;
    return MLM_OK;
}

mlm_status mlm_model_set_dtype(mlm_model *m, mlm_dtype dtype)
{
    if (!m)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_set_dtype: NULL model");
    return model_set_dtype(m, dtype);
}

mlm_status mlm_model_load_dtype(const char *dir, mlm_dtype dtype, mlm_model **out)
{
    if (!out || !dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_model_load_dtype: NULL argument");
    *out = NULL;
    mlm_model *m = NULL;
    mlm_status st = mlm_model_load(dir, &m);
    if (st == MLM_OK)
        st = model_set_dtype(m, dtype);
    if (st != MLM_OK) {
        mlm_model_free(m);
        return st;
    }
    *out = m;
    return MLM_OK;
}
