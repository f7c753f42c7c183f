/* Readers of the data layer's JSON options (tokenize, collators): one per
 * kind of value, so that every option of a kind is checked and reported the
 * same way. `who` starts the message ("collator options"). */
#ifndef MLM_DATA_OPTIONS_H
#define MLM_DATA_OPTIONS_H

#include <cjson/cJSON.h>

#include "mlm/core.h"

/* transformers' padding strategies. */
enum { DATA_PAD_NONE = 0, DATA_PAD_LONGEST = 1, DATA_PAD_MAX_LENGTH = 2 };

/* true / false into *v; anything else is MLM_ERR_INVALID_ARGUMENT naming k. */
mlm_status data_opt_bool(const cJSON *it, const char *who, const char *k, int *v);

/* "padding" as transformers takes it (PaddingStrategy or a bool): false or
 * "do_not_pad" -> DATA_PAD_NONE, true or "longest" -> DATA_PAD_LONGEST,
 * "max_length" -> DATA_PAD_MAX_LENGTH. */
mlm_status data_opt_padding(const cJSON *it, const char *who, int *pad);

#endif
