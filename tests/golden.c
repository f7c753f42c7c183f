#include "golden.h"

#include <check.h>
#include <stdlib.h>

int32_t *golden_i32(const st_file *f, const char *name, size_t *n)
{
    const st_tensor *t = st_find(f, name);
    if (!t)
        return NULL;
    int32_t *v = malloc(t->numel * sizeof *v);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(st_tensor_to_i32(t, v, t->numel), MLM_OK);
    if (n)
        *n = t->numel;
    return v;
}

const float *golden_f32(const st_file *f, const char *name, size_t numel, size_t *n)
{
    const st_tensor *t = st_find(f, name);
    ck_assert_msg(t != NULL, "golden has no %s", name);
    ck_assert_int_eq(t->dtype, ST_F32);
    if (numel)
        ck_assert_uint_eq(t->numel, numel);
    const float *data;
    float *owned;
    ck_assert_int_eq(st_tensor_f32(t, &data, &owned), MLM_OK);
    ck_assert_ptr_null(owned); /* goldens are aligned F32: used in place */
    if (n)
        *n = t->numel;
    return data;
}
