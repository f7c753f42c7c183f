/* The collator's settings; shared by the id and tokenizer constructors. */
#ifndef MLM_DATA_COLLATOR_IMPL_H
#define MLM_DATA_COLLATOR_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/collator.h"

#define COLL_MAX_SPECIAL 4096

/* Ids are -1 when absent. */
typedef struct collopts {
    int64_t mask_id, pad_id, eos_id, cls_id, sep_id, bos_id, unk_id;
    int64_t vocab_size;
    int64_t special[COLL_MAX_SPECIAL];
    size_t nspecial; /* > 0: the special set given outright */
    int mlm, whole_word_mask, hf_eos_compat, left;
    double p, p_mask, p_random;
    int64_t multiple;
    uint64_t seed;
} collopts;

void collopts_defaults(collopts *o);

/* Apply options_json over o, validate, and make the collator. */
mlm_status collator_build(collopts *o, const char *options_json, mlm_collator **out);

#endif
