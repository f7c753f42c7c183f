/* Per-thread error messages behind mlm_last_error(). */
#ifndef MLM_CORE_ERROR_H
#define MLM_CORE_ERROR_H

#include "mlm/core.h"

/* Record a message for the calling thread and return `status`, so that a
 * failing function can end with `return err_set(MLM_ERR_FORMAT, ...)`. */
mlm_status err_set(mlm_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Put context in front of the message already recorded ("model.safetensors: "
 * + "tensor 'x': ...") and return `status`. */
mlm_status err_prefix(mlm_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message for an out-of-memory failure; never allocates. */
mlm_status err_oom(void);

void err_clear(void);

#endif
