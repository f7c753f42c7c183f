/* Legacy vocabulary files converted as transformers' fast tokenizers do
 * (convert_slow_tokenizer.py): BERT's vocab.txt (BertConverter) and
 * RoBERTa's vocab.json + merges.txt (RobertaConverter). The result is a
 * tokenizer.json document, loaded like any other and saved as HF would. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "text/legacy.h"
#include "text/presets.h"
#include "text/strmap.h"

/* tokenizer_config.json, or an empty object. */
static cJSON *read_config(const char *dir)
{
    char *p = path_join_alloc(dir, "tokenizer_config.json");
    char *data = NULL;
    size_t len;
    cJSON *doc = NULL;
    if (p) {
        FILE *f = fopen(p, "rb");
        if (f) {
            fclose(f);
            if (file_read_all(p, TOKENIZER_FILE_MAX, &data, &len) == MLM_OK)
                doc = cJSON_ParseWithLength(data, len);
        }
    }
    mem_free(p);
    mem_free(data);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        doc = cJSON_CreateObject();
    }
    return doc;
}

static const char *cfg_token(const cJSON *cfg, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return def;
}

static int cfg_bool(const cJSON *cfg, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNull(v)) return -1;
    return def;
}

mlm_status legacy_bert_json(const char *dir, cJSON **out)
{
    *out = NULL;
    char *path = path_join_alloc(dir, "vocab.txt");
    if (!path) return err_oom();
    char *data;
    size_t len;
    mlm_status st = file_read_all(path, TOKENIZER_FILE_MAX, &data, &len);
    if (st) {
        mem_free(path);
        return st;
    }
    cJSON *cfg = read_config(dir);
    cJSON *doc = cJSON_CreateObject();
    cJSON *vmap = cJSON_CreateObject();
    if (!doc || !vmap || !cfg) goto oom;
    /* One token per line; the id is the line number; a repeated token
     * keeps its last line. */
    int id = 0;
    strmap seen = {0}; /* a repeat is rare: search the object only then */
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        if (j == len && i == len) break;
        data[j] = '\0';
        if (strmap_get(&seen, data + i, j - i) >= 0)
            cJSON_DeleteItemFromObjectCaseSensitive(vmap, data + i);
        if (strmap_put(&seen, data + i, j - i, id, NULL) ||
            !cJSON_AddNumberToObject(vmap, data + i, id)) {
            strmap_free(&seen);
            goto oom;
        }
        id++;
        i = j + 1;
    }
    strmap_free(&seen);
    const char *unk = cfg_token(cfg, "unk_token", "[UNK]");
    const char *cls = cfg_token(cfg, "cls_token", "[CLS]");
    const char *sep = cfg_token(cfg, "sep_token", "[SEP]");
    const char *pad = cfg_token(cfg, "pad_token", "[PAD]");
    const char *mask = cfg_token(cfg, "mask_token", "[MASK]");
    const cJSON *cls_id = cJSON_GetObjectItemCaseSensitive(vmap, cls);
    const cJSON *sep_id = cJSON_GetObjectItemCaseSensitive(vmap, sep);
    if (!cls_id || !sep_id) {
        st = err_set(MLM_ERR_FORMAT, "%s: '%s' or '%s' is not in the vocabulary", path, cls, sep);
        goto fail;
    }
    cJSON_AddStringToObject(doc, "version", "1.0");
    cJSON_AddNullToObject(doc, "truncation");
    cJSON_AddNullToObject(doc, "padding");
    cJSON *added = cJSON_AddArrayToObject(doc, "added_tokens");
    if (!added) goto oom;
    /* The special tokens, by id. */
    const char *specials[5] = {pad, unk, cls, sep, mask};
    int done[5] = {0};
    for (int round = 0; round < 5; round++) {
        int best = -1;
        for (int k = 0; k < 5; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(vmap, specials[k]);
            if (done[k] || !v) continue;
            if (best < 0 || v->valueint < cJSON_GetObjectItemCaseSensitive(vmap, specials[best])->valueint)
                best = k;
        }
        if (best < 0) break;
        done[best] = 1;
        for (int k = 0; k < 5; k++)
            if (!strcmp(specials[k], specials[best])) done[k] = 1;
        cJSON *t = preset_added_token(cJSON_GetObjectItemCaseSensitive(vmap, specials[best])->valueint,
                               specials[best], 0, 0);
        if (!t) goto oom;
        cJSON_AddItemToArray(added, t);
    }
    int lower = cfg_bool(cfg, "do_lower_case", 1);
    int chinese = cfg_bool(cfg, "tokenize_chinese_chars", 1);
    int strip = cfg_bool(cfg, "strip_accents", -1);
    cJSON *parts[5] = {preset_bert_normalizer(chinese != 0, strip, lower != 0),
                       preset_bert_pretokenizer(),
                       preset_bert_template(cls, cls_id->valueint, sep, sep_id->valueint),
                       preset_wordpiece_decoder("##"), preset_wordpiece_model(unk, "##", vmap)};
    vmap = NULL;
    static const char *const keys[5] = {"normalizer", "pre_tokenizer", "post_processor",
                                        "decoder", "model"};
    if (!preset_add_all(doc, keys, parts, 5)) goto oom;
    *out = doc;
    doc = NULL;
    st = MLM_OK;
    goto done;
oom:
    st = err_oom();
fail:
done:
    cJSON_Delete(doc);
    cJSON_Delete(vmap);
    cJSON_Delete(cfg);
    mem_free(data);
    mem_free(path);
    return st;
}

mlm_status legacy_roberta_json(const char *dir, cJSON **out)
{
    *out = NULL;
    char *vpath = path_join_alloc(dir, "vocab.json");
    char *mpath = path_join_alloc(dir, "merges.txt");
    char *vdata = NULL, *mdata = NULL;
    size_t vlen, mlen;
    cJSON *cfg = NULL, *doc = NULL, *vmap = NULL, *merges = NULL;
    mlm_status st;
    if (!vpath || !mpath) {
        st = err_oom();
        goto done;
    }
    if ((st = file_read_all(vpath, TOKENIZER_FILE_MAX, &vdata, &vlen)) ||
        (st = file_read_all(mpath, TOKENIZER_FILE_MAX, &mdata, &mlen)))
        goto done;
    vmap = cJSON_ParseWithLength(vdata, vlen);
    if (!cJSON_IsObject(vmap)) {
        st = err_set(MLM_ERR_FORMAT, "%s: expected a JSON object", vpath);
        goto done;
    }
    merges = cJSON_CreateArray();
    cfg = read_config(dir);
    doc = cJSON_CreateObject();
    if (!merges || !cfg || !doc) goto oom;
    /* merges.txt: a "#version" line, then "a b" per line. */
    int line = 0;
    for (size_t i = 0; i < mlen; line++) {
        size_t j = i;
        while (j < mlen && mdata[j] != '\n')
            j++;
        mdata[j] = '\0';
        if (!(line == 0 && !strncmp(mdata + i, "#version", 8)) && j > i) {
            if (!strchr(mdata + i, ' ')) {
                st = err_set(MLM_ERR_FORMAT, "%s: line %d: expected \"a b\"", mpath, line + 1);
                goto done;
            }
            cJSON *s = cJSON_CreateString(mdata + i);
            if (!s) goto oom;
            cJSON_AddItemToArray(merges, s);
        }
        i = j + 1;
    }
    const char *bos = cfg_token(cfg, "bos_token", "<s>");
    const char *eos = cfg_token(cfg, "eos_token", "</s>");
    const char *sep = cfg_token(cfg, "sep_token", "</s>");
    const char *cls = cfg_token(cfg, "cls_token", "<s>");
    const char *unk = cfg_token(cfg, "unk_token", "<unk>");
    const char *pad = cfg_token(cfg, "pad_token", "<pad>");
    const char *mask = cfg_token(cfg, "mask_token", "<mask>");
    int aps = cfg_bool(cfg, "add_prefix_space", 0) == 1;
    const cJSON *cls_id = cJSON_GetObjectItemCaseSensitive(vmap, cls);
    const cJSON *sep_id = cJSON_GetObjectItemCaseSensitive(vmap, sep);
    if (!cJSON_IsNumber(cls_id) || !cJSON_IsNumber(sep_id)) {
        st = err_set(MLM_ERR_FORMAT, "%s: '%s' or '%s' is not in the vocabulary", vpath, cls, sep);
        goto done;
    }
    cJSON_AddStringToObject(doc, "version", "1.0");
    cJSON_AddNullToObject(doc, "truncation");
    cJSON_AddNullToObject(doc, "padding");
    cJSON *added = cJSON_AddArrayToObject(doc, "added_tokens");
    if (!added) goto oom;
    const char *order[6] = {bos, pad, eos, unk, mask, NULL};
    (void)sep;
    for (int k = 0; order[k]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(vmap, order[k]);
        if (!cJSON_IsNumber(v)) continue;
        int dup = 0;
        for (int q = 0; q < k; q++)
            dup |= !strcmp(order[q], order[k]);
        if (dup) continue;
        cJSON *t = preset_added_token(v->valueint, order[k], order[k] == mask, 1);
        if (!t) goto oom;
        cJSON_AddItemToArray(added, t);
    }
    (void)eos;
    cJSON_AddNullToObject(doc, "normalizer");
    cJSON *parts[3] = {preset_bytelevel(aps),
                       preset_roberta_processing(cls, cls_id->valueint, sep, sep_id->valueint, aps),
                       preset_bytelevel(1)};
    static const char *const keys[3] = {"pre_tokenizer", "post_processor", "decoder"};
    if (!preset_add_all(doc, keys, parts, 3)) goto oom;
    cJSON *mdl = cJSON_AddObjectToObject(doc, "model");
    if (!mdl) goto oom;
    cJSON_AddStringToObject(mdl, "type", "BPE");
    cJSON_AddNullToObject(mdl, "dropout");
    cJSON_AddNullToObject(mdl, "unk_token");
    cJSON_AddStringToObject(mdl, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(mdl, "end_of_word_suffix", "");
    cJSON_AddBoolToObject(mdl, "fuse_unk", 0);
    cJSON_AddBoolToObject(mdl, "byte_fallback", 0);
    cJSON_AddItemToObject(mdl, "vocab", vmap);
    vmap = NULL;
    cJSON_AddItemToObject(mdl, "merges", merges);
    merges = NULL;
    (void)unk;
    (void)pad;
    *out = doc;
    doc = NULL;
    st = MLM_OK;
    goto done;
oom:
    st = err_oom();
done:
    cJSON_Delete(doc);
    cJSON_Delete(vmap);
    cJSON_Delete(merges);
    cJSON_Delete(cfg);
    mem_free(vdata);
    mem_free(mdata);
    mem_free(vpath);
    mem_free(mpath);
    return st;
}
