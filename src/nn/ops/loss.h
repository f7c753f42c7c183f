/* Cross-entropy, log-softmax and top-k over rows of logits. */
#ifndef MLM_OPS_LOSS_H
#define MLM_OPS_LOSS_H

#include <stdint.h>

#include "mlm/core.h"

struct ops_ctx;

/* Rows with this label are ignored (torch's ignore_index default). */
#define OPS_IGNORE_INDEX (-100)

/* Mean cross-entropy of logits (N, V) against labels (N), over the rows whose
 * label is not OPS_IGNORE_INDEX (torch.nn.functional.cross_entropy, reduction
 * "mean"): loss_n = logsumexp(logits[n]) − logits[n, labels[n]].
 * *loss receives the mean (NaN when every row is ignored, as torch),
 * *count the number of rows counted (may be NULL); lse (N, may be NULL)
 * receives each row's logsumexp for the backward. The sum runs in double in
 * row order. Errors: MLM_ERR_RANGE for a label outside [0, V) that is not
 * the ignore index. */
mlm_status ops_cross_entropy_forward(const struct ops_ctx *ctx, float *loss, int *count,
                                     float *lse, const float *logits, const int32_t *labels,
                                     int N, int V);
/* dlogits (N, V) = dloss·(softmax(logits) − onehot(label))/count, 0 on
 * ignored rows. WRITES (it starts the backward chain), and dlogits may alias
 * logits, which saves an N×V buffer. lse from the forward (or NULL: then
 * recomputed); count from the forward. */
mlm_status ops_cross_entropy_backward(const struct ops_ctx *ctx, float *dlogits,
                                      const float *logits, const float *lse,
                                      const int32_t *labels, int count, float dloss, int N,
                                      int V);

/* out (N, V) = logits − logsumexp(logits) per row; out may alias logits. */
void ops_log_softmax_forward(const struct ops_ctx *ctx, float *out, const float *logits, int N,
                             int V);
/* out (N, V) = (logits − logsumexp(logits)) + shift[n] per row n, rounded
 * after each operation as the two steps apart would be (beam search adds
 * each beam's score to its log-probabilities); out may alias logits. */
void ops_log_softmax_shift_forward(const struct ops_ctx *ctx, float *out, const float *logits,
                                   const float *shift, int N, int V);

/* torch.argmax over x (n >= 1): the first index of the largest value, a
 * NaN counting as larger than every number (torch's max propagates it), so
 * the first NaN when there is one. 0 when n < 1. */
int32_t ops_argmax(const float *x, int n);

/* The k largest of x (n) in descending order, ties to the lower index:
 * idx (k) and val (k, may be NULL). NaN never ranks. Errors:
 * MLM_ERR_INVALID_ARGUMENT unless 1 <= k <= n. */
mlm_status ops_topk(const float *x, int n, int k, int32_t *idx, float *val);

#endif
