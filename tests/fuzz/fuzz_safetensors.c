/* libFuzzer: st_open_memory over arbitrary bytes, then every accessor and
 * conversion on what it accepts, and the writer on what it read (whose
 * output must open again). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const st_file *f)
{
    for (size_t i = 0; i < st_metadata_count(f); i++) {
        const char *k, *v;
        st_metadata_at(f, i, &k, &v);
        if (st_metadata(f, k) != v)
            abort();
    }
    st_writer *w;
    if (st_writer_new(&w) != MLM_OK)
        return;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (st_find(f, t->name) != t)
            abort();
        const float *fv;
        float *owned;
        if (st_tensor_f32(t, &fv, &owned) == MLM_OK && t->numel)
            (void)*(volatile const float *)&fv[t->numel - 1];
        mem_free(owned);
        if (t->numel <= 4096) {
            int64_t i64[4096];
            int32_t i32[4096];
            st_tensor_to_i64(t, i64, (size_t)t->numel);
            st_tensor_to_i32(t, i32, (size_t)t->numel);
        }
        st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    for (size_t i = 0; i < st_metadata_count(f); i++) {
        const char *k, *v;
        st_metadata_at(f, i, &k, &v);
        st_writer_add_metadata(w, k, v);
    }
    uint8_t *out;
    size_t len;
    if (st_writer_to_memory(w, &out, &len) == MLM_OK) {
        st_file *g;
        if (st_open_memory(out, len, "rewritten", &g) != MLM_OK || st_count(g) != st_count(f))
            abort();
        st_close(g);
        mem_free(out);
    }
    st_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *f;
    if (st_open_memory(data, size, "fuzz.safetensors", &f) == MLM_OK) {
        exercise(f);
        st_close(f);
    }
    return 0;
}
