/* What a training backward tells its caller as it goes down the layers:
 * every gradient from a float offset on (into the model's gradient buffer,
 * the parameter table's order) is final for this backward. The trainer's
 * data-parallel sums start on those buckets while the layers below are
 * still being computed (train/grad_sync.h). Backward walks the table from
 * its end to its start (the word embeddings, first, are finished last), so
 * a suffix is what each finished layer leaves behind. */
#ifndef MLM_NN_GRAD_HOOK_H
#define MLM_NN_GRAD_HOOK_H

#include <stddef.h>

#include "mlm/core.h"

typedef struct grad_hook {
    mlm_status (*ready)(void *user, size_t from); /* NULL: nobody listens */
    void *user;
} grad_hook;

/* Tell h that grad[first - grad ..) is final. */
static inline mlm_status grad_hook_tell(const grad_hook *h, const float *grad, const float *first)
{
    return h->ready ? h->ready(h->user, (size_t)(first - grad)) : MLM_OK;
}

#endif
