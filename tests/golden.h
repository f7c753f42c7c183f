/* Reading the PyTorch reference's goldens (safetensors under
 * tests/data/goldens/), shared by the model and training suites. */
#ifndef MLM_TESTS_GOLDEN_H
#define MLM_TESTS_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"

/* The integer tensor `name` as a malloc'ed int32 array (*n its count, may be
 * NULL), or NULL when the golden has no such tensor. */
int32_t *golden_i32(const st_file *f, const char *name, size_t *n);

/* The F32 tensor `name`, in place in the mapped file; fails the test when it
 * is absent, not F32, or has a count other than `numel` (0: any; *n, when
 * given, receives the count). */
const float *golden_f32(const st_file *f, const char *name, size_t numel, size_t *n);

#endif
