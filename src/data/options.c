/* Readers of the data layer's JSON options (see options.h). */
#include "data/options.h"

#include <string.h>

#include "core/error.h"

mlm_status data_opt_bool(const cJSON *it, const char *who, const char *k, int *v)
{
    if (!cJSON_IsBool(it))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: \"%s\" must be true or false", who, k);
    *v = cJSON_IsTrue(it);
    return MLM_OK;
}

mlm_status data_opt_padding(const cJSON *it, const char *who, int *pad)
{
    const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
    if (cJSON_IsFalse(it) || (v && strcmp(v, "do_not_pad") == 0))
        *pad = DATA_PAD_NONE;
    else if (cJSON_IsTrue(it) || (v && strcmp(v, "longest") == 0))
        *pad = DATA_PAD_LONGEST;
    else if (v && strcmp(v, "max_length") == 0)
        *pad = DATA_PAD_MAX_LENGTH;
    else
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: \"padding\" must be true, false, "
                       "\"longest\", \"max_length\" or \"do_not_pad\"", who);
    return MLM_OK;
}
