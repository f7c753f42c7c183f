/* mlm_tokenizer_save_pretrained: the files transformers'
 * PreTrainedTokenizerFast.save_pretrained writes, so that
 * AutoTokenizer.from_pretrained(dir) loads what libmlm trained or holds:
 *   tokenizer.json           HF tokenizers' own file (mlm_tokenizer_save);
 *   tokenizer_config.json    the class that takes tokenizer.json as it is
 *                            (PreTrainedTokenizerFast: the BERT and RoBERTa
 *                            classes would rebuild the normalizer and
 *                            pre-tokenizer from their own defaults), the
 *                            special tokens by role,
 *                            clean_up_tokenization_spaces, and
 *                            model_max_length when it is set;
 *   special_tokens_map.json  the special tokens by role. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/file.h"
#include "text/tokenizer.h"

static cJSON *config_json(const mlm_tokenizer *tok, int with_class)
{
    static const char *const keys[7] = {"unk_token", "pad_token", "mask_token", "cls_token",
                                        "sep_token", "bos_token", "eos_token"};
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    if (ok && with_class)
        ok = cJSON_AddBoolToObject(o, "clean_up_tokenization_spaces", tok->cleanup_default) !=
             NULL;
    for (int r = 0; ok && r < 7; r++) {
        const char *s = mlm_tokenizer_special_token(tok, (mlm_special_token)r);
        if (s)
            ok = cJSON_AddStringToObject(o, keys[r], s) != NULL;
    }
    int64_t max = mlm_tokenizer_model_max_length(tok);
    if (ok && with_class && max != INT64_MAX) {
        char text[32]; /* an integer, whatever its size: cJSON's numbers are doubles */
        snprintf(text, sizeof text, "%lld", (long long)max);
        ok = cJSON_AddRawToObject(o, "model_max_length", text) != NULL;
    }
    if (ok && with_class)
        ok = cJSON_AddStringToObject(o, "tokenizer_class", "PreTrainedTokenizerFast") != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static mlm_status write_json(const char *dir, const char *name, cJSON *o)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, name);
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (st != MLM_OK)
        ; /* path too long */
    else if (!text)
        st = err_oom();
    else
        st = file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return st;
}

MLM_API mlm_status mlm_tokenizer_save_pretrained(const mlm_tokenizer *tok, const char *dir)
{
    if (!tok || !dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_tokenizer_save_pretrained: NULL argument");
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && !(errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)))
        return err_set(MLM_ERR_IO, "%s: cannot create folder: %s", dir,
                       errno == EEXIST ? "a file is in the way" : strerror(errno));
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, "tokenizer.json");
    if (st == MLM_OK)
        st = mlm_tokenizer_save(tok, path);
    if (st == MLM_OK)
        st = write_json(dir, "tokenizer_config.json", config_json(tok, 1));
    if (st == MLM_OK)
        st = write_json(dir, "special_tokens_map.json", config_json(tok, 0));
    return st;
}
