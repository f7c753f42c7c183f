#include "mlm/core.h"

const char *mlm_version(void) { return MLM_VERSION_STRING; }

int mlm_version_number(void) { return MLM_VERSION_NUMBER; }

const char *mlm_status_string(mlm_status status)
{
    switch (status) {
    case MLM_OK: return "ok";
    case MLM_ERR_INVALID_ARGUMENT: return "invalid argument";
    case MLM_ERR_OUT_OF_MEMORY: return "out of memory";
    case MLM_ERR_IO: return "input/output error";
    case MLM_ERR_FORMAT: return "malformed input";
    case MLM_ERR_UNSUPPORTED: return "unsupported";
    case MLM_ERR_NOT_FOUND: return "not found";
    case MLM_ERR_RANGE: return "value out of range";
    case MLM_ERR_STATE: return "invalid state";
    case MLM_ERR_NUMERIC: return "non-finite number";
    case MLM_ERR_CANCELLED: return "cancelled";
    case MLM_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
