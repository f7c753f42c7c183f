/* A pipeline's model and tokenizer from a folder; see load.h. */
#include "pipeline/load.h"

mlm_status pipeline_load_parts(const char *dir, mlm_family family, mlm_dtype dtype,
                               const char *task, mlm_model **model, mlm_tokenizer **tok)
{
    *model = NULL;
    *tok = NULL;
    mlm_status st = mlm_model_load(dir, model);
    if (st == MLM_OK)
        st = model_require_family(*model, family, task);
    if (st == MLM_OK)
        st = mlm_model_set_dtype(*model, dtype);
    if (st == MLM_OK)
        st = mlm_tokenizer_load(dir, tok);
    if (st != MLM_OK) {
        mlm_model_free(*model);
        *model = NULL;
    }
    return st;
}
