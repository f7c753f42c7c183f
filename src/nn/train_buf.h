/* Carving a training context's one allocation into its tensors (llm.c's
 * malloc_and_point_activations): a cursor that hands out consecutive
 * pieces, floats or bytes, and the zeroing the backward passes start from.
 * Shared by the encoder's and T5's training (nn/encoder_train.c,
 * nn/t5_train.c). */
#ifndef MLM_NN_TRAIN_BUF_H
#define MLM_NN_TRAIN_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Floats that hold n bytes (dropout masks live among the floats). */
static inline size_t buf_byte_floats(size_t n) { return (n + sizeof(float) - 1) / sizeof(float); }

/* A cursor over one allocation. With base NULL it only counts: a layout
 * function run once that way gives the size to allocate, then again on the
 * allocation to point every tensor (one description of the layout). */
typedef struct buf_cursor {
    float *base;
    size_t used;       /* floats handed out so far */
} buf_cursor;

/* The next n floats (NULL when counting); the cursor moves past them. */
static inline float *buf_take(buf_cursor *c, size_t n)
{
    float *r = c->base ? c->base + c->used : NULL;
    c->used += n;
    return r;
}

/* The next n bytes, in whole floats. */
static inline uint8_t *buf_take_bytes(buf_cursor *c, size_t n)
{
    return (uint8_t *)(void *)buf_take(c, buf_byte_floats(n));
}

/* x (n) = 0, returned: the kernels' backward accumulate (+=). */
static inline float *buf_zeroed(float *x, size_t n)
{
    memset(x, 0, n * sizeof *x);
    return x;
}

#endif
