/* What every pipeline's *_load does first, as transformers' pipeline(task,
 * model=dir) does: the model of a Hugging Face folder, checked to be of the
 * family the task needs, then its tokenizer. */
#ifndef MLM_PIPELINE_LOAD_H
#define MLM_PIPELINE_LOAD_H

#include "mlm/model.h"
#include "mlm/tokenizer.h"
#include "nn/family.h"

/* The model of dir (its family checked first, so that a folder of the wrong
 * kind fails as such, naming task; then converted to dtype) and its
 * tokenizer. On failure neither is returned. */
mlm_status pipeline_load_parts(const char *dir, mlm_family family, mlm_dtype dtype,
                               const char *task, mlm_model **model, mlm_tokenizer **tok);

#endif
