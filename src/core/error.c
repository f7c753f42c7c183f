#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One buffer per thread: messages never cross threads, and recording one
 * cannot fail (SQLite's sqlite3_errmsg works the same way per connection). */
#define ERR_CAP 1024
static _Thread_local char err_msg[ERR_CAP];

mlm_status err_set(mlm_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return status;
}

mlm_status err_prefix(mlm_status status, const char *fmt, ...)
{
    char head[ERR_CAP], old[ERR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err_msg, sizeof old);
    /* Context first; the old message is cut short if the two do not fit. */
    size_t h = strlen(head), o = strlen(old);
    if (h > ERR_CAP - 1)
        h = ERR_CAP - 1;
    if (o > ERR_CAP - 1 - h)
        o = ERR_CAP - 1 - h;
    memcpy(err_msg, head, h);
    memcpy(err_msg + h, old, o);
    err_msg[h + o] = '\0';
    return status;
}

mlm_status err_oom(void)
{
    memcpy(err_msg, "out of memory", sizeof "out of memory");
    return MLM_ERR_OUT_OF_MEMORY;
}

void err_clear(void) { err_msg[0] = '\0'; }

const char *mlm_last_error(void) { return err_msg; }

void mlm_clear_error(void) { err_clear(); }
