/* tokenizer.json pieces, each as the HF tokenizers library serializes it
 * (the member order is the Rust structs'); see presets.h. */
#include "text/presets.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static cJSON *typed(const char *type)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "type", type)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* o, or NULL (o deleted) when an earlier addition failed. */
static cJSON *checked(cJSON *o, int ok)
{
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

cJSON *preset_added_token(int32_t id, const char *content, int lstrip, int normalized)
{
    cJSON *t = cJSON_CreateObject();
    int ok = t && cJSON_AddNumberToObject(t, "id", id) &&
             cJSON_AddStringToObject(t, "content", content) &&
             cJSON_AddBoolToObject(t, "single_word", 0) &&
             cJSON_AddBoolToObject(t, "lstrip", lstrip) && cJSON_AddBoolToObject(t, "rstrip", 0) &&
             cJSON_AddBoolToObject(t, "normalized", normalized) &&
             cJSON_AddBoolToObject(t, "special", 1);
    return checked(t, ok);
}

cJSON *preset_bert_normalizer(int handle_chinese_chars, int strip_accents, int lowercase)
{
    cJSON *n = typed("BertNormalizer");
    int ok = n && cJSON_AddBoolToObject(n, "clean_text", 1) &&
             cJSON_AddBoolToObject(n, "handle_chinese_chars", handle_chinese_chars != 0) &&
             (strip_accents < 0 ? cJSON_AddNullToObject(n, "strip_accents") != NULL
                                : cJSON_AddBoolToObject(n, "strip_accents", strip_accents) != NULL) &&
             cJSON_AddBoolToObject(n, "lowercase", lowercase != 0);
    return checked(n, ok);
}

cJSON *preset_bert_pretokenizer(void) { return typed("BertPreTokenizer"); }

cJSON *preset_bytelevel(int add_prefix_space)
{
    cJSON *p = typed("ByteLevel");
    int ok = p && cJSON_AddBoolToObject(p, "add_prefix_space", add_prefix_space) &&
             cJSON_AddBoolToObject(p, "trim_offsets", 1) &&
             cJSON_AddBoolToObject(p, "use_regex", 1);
    return checked(p, ok);
}

cJSON *preset_wordpiece_decoder(const char *prefix)
{
    cJSON *d = typed("WordPiece");
    int ok = d && cJSON_AddStringToObject(d, "prefix", prefix) &&
             cJSON_AddBoolToObject(d, "cleanup", 1);
    return checked(d, ok);
}

/* {"SpecialToken": {"id": id, "type_id": t}} or {"Sequence": ...}. */
static int add_piece(cJSON *arr, int special, const char *id, int type_id)
{
    cJSON *o = cJSON_CreateObject(), *b = cJSON_CreateObject();
    int ok = o && b && cJSON_AddStringToObject(b, "id", id) &&
             cJSON_AddNumberToObject(b, "type_id", type_id);
    if (ok && cJSON_AddItemToObject(o, special ? "SpecialToken" : "Sequence", b)) {
        b = NULL;
        if (cJSON_AddItemToArray(arr, o))
            return 1;
    }
    cJSON_Delete(b);
    cJSON_Delete(o);
    return 0;
}

/* special_tokens' entry {"id": s, "ids": [id], "tokens": [s]}. */
static int add_special(cJSON *sp, const char *s, int32_t id)
{
    if (cJSON_GetObjectItemCaseSensitive(sp, s))
        return 1; /* cls and sep the same token */
    cJSON *e = cJSON_AddObjectToObject(sp, s);
    if (!e || !cJSON_AddStringToObject(e, "id", s))
        return 0;
    cJSON *a = cJSON_AddArrayToObject(e, "ids"), *t = cJSON_AddArrayToObject(e, "tokens");
    return a && t && cJSON_AddItemToArray(a, cJSON_CreateNumber(id)) &&
           cJSON_AddItemToArray(t, cJSON_CreateString(s));
}

cJSON *preset_bert_template(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id)
{
    cJSON *p = typed("TemplateProcessing");
    cJSON *single = p ? cJSON_AddArrayToObject(p, "single") : NULL;
    cJSON *pair = p ? cJSON_AddArrayToObject(p, "pair") : NULL;
    cJSON *sp = p ? cJSON_AddObjectToObject(p, "special_tokens") : NULL;
    int ok = single && pair && sp && add_piece(single, 1, cls, 0) && add_piece(single, 0, "A", 0) &&
             add_piece(single, 1, sep, 0) && add_piece(pair, 1, cls, 0) &&
             add_piece(pair, 0, "A", 0) && add_piece(pair, 1, sep, 0) &&
             add_piece(pair, 0, "B", 1) && add_piece(pair, 1, sep, 1) &&
             add_special(sp, cls, cls_id) && add_special(sp, sep, sep_id);
    return checked(p, ok);
}

/* A u32 as Rust's str::parse::<u32>() reads it: ASCII digits with an
 * optional '+', at most 4294967295. */
static int parse_u32(const char *s, size_t len, uint32_t *out)
{
    size_t i = len && s[0] == '+';
    if (i == len) return 0;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX) return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

/* Piece::extract_id and with_type_id: s[0, len) without its ":type_id". */
static int template_piece(cJSON *arr, const char *s, size_t len, int has_type, uint32_t type_id)
{
    char id[2] = "A";
    uint32_t t = 0;
    if (len && s[0] == '$') {
        const char *r = s + 1;
        size_t rl = len - 1;
        if (rl == 1 && (*r == 'B' || *r == 'b'))
            id[0] = 'B';
        else if (rl == 1 && (*r == 'A' || *r == 'a'))
            ;
        else if (rl && !parse_u32(r, rl, &t))
            return -1;
        if (has_type) t = type_id;
        return add_piece(arr, 0, id, (int)t) ? 0 : -2;
    }
    char *name = mem_alloc(len + 1);
    if (!name) return -2;
    memcpy(name, s, len);
    name[len] = '\0';
    int ok = add_piece(arr, 1, name, has_type ? (int)type_id : 0);
    mem_free(name);
    return ok ? 0 : -2;
}

mlm_status preset_template_parse(const char *text, const char *what, cJSON **pieces)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return err_oom();
    for (const char *p = text;; p++) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* "id" or "id:type_id"; a second ':' is an error, as in HF */
        const char *colon = memchr(p, ':', len);
        uint32_t type_id = 0;
        int rc = -1;
        if (!colon)
            rc = template_piece(arr, p, len, 0, 0);
        else if (!memchr(colon + 1, ':', len - (size_t)(colon + 1 - p)) &&
                 parse_u32(colon + 1, len - (size_t)(colon + 1 - p), &type_id))
            rc = template_piece(arr, p, (size_t)(colon - p), 1, type_id);
        if (rc == -2) {
            cJSON_Delete(arr);
            return err_oom();
        }
        if (rc < 0) {
            cJSON_Delete(arr);
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "%s: cannot build a piece from \"%.*s\" in \"%s\" (pieces are $A, $B, "
                           "$<type_id> or a special token, each with an optional :<type_id>)",
                           what, (int)len, p, text);
        }
        if (!end) break;
        p = end;
    }
    *pieces = arr;
    return MLM_OK;
}

int preset_template_has_b(const cJSON *pieces)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, pieces)
    {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        const cJSON *id = seq ? cJSON_GetObjectItemCaseSensitive(seq, "id") : NULL;
        if (cJSON_IsString(id) && !strcmp(id->valuestring, "B")) return 1;
    }
    return 0;
}

cJSON *preset_template(cJSON *single, cJSON *pair)
{
    cJSON *p = typed("TemplateProcessing");
    int ok = p && single && pair;
    if (ok && cJSON_AddItemToObject(p, "single", single))
        single = NULL;
    else
        ok = 0;
    if (ok && cJSON_AddItemToObject(p, "pair", pair))
        pair = NULL;
    else
        ok = 0;
    ok = ok && cJSON_AddObjectToObject(p, "special_tokens");
    cJSON_Delete(single);
    cJSON_Delete(pair);
    return checked(p, ok);
}

int preset_template_add_special(cJSON *template_processing, const char *s, int32_t id)
{
    cJSON *sp = cJSON_GetObjectItemCaseSensitive(template_processing, "special_tokens");
    if (!sp || cJSON_GetObjectItemCaseSensitive(sp, s)) return sp != NULL;
    /* HF writes the map sorted by key (utils::ordered_map): byte order */
    int at = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, sp)
    {
        if (strcmp(it->string, s) > 0) break;
        at++;
    }
    int after = cJSON_GetArraySize(sp) - at;
    if (!add_special(sp, s, id)) return 0;
    /* the entries after it go behind it (cJSON 1.7.15's InsertItemInArray
     * refuses some positions of an object) */
    for (int k = 0; k < after; k++)
        if (!cJSON_AddItemToArray(sp, cJSON_DetachItemFromArray(sp, at))) return 0;
    return 1;
}

/* [token, id]. */
static int add_token_pair(cJSON *o, const char *key, const char *s, int32_t id)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    return a && cJSON_AddItemToArray(a, cJSON_CreateString(s)) &&
           cJSON_AddItemToArray(a, cJSON_CreateNumber(id)) && cJSON_GetArraySize(a) == 2;
}

cJSON *preset_bert_processing(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id)
{
    cJSON *p = typed("BertProcessing");
    int ok = p && add_token_pair(p, "sep", sep, sep_id) && add_token_pair(p, "cls", cls, cls_id);
    return checked(p, ok);
}

cJSON *preset_roberta_processing(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id,
                                 int add_prefix_space)
{
    cJSON *p = typed("RobertaProcessing");
    int ok = p && add_token_pair(p, "sep", sep, sep_id) && add_token_pair(p, "cls", cls, cls_id) &&
             cJSON_AddBoolToObject(p, "trim_offsets", 1) &&
             cJSON_AddBoolToObject(p, "add_prefix_space", add_prefix_space);
    return checked(p, ok);
}

cJSON *preset_wordpiece_model(const char *unk, const char *prefix, cJSON *vocab)
{
    cJSON *m = typed("WordPiece");
    int ok = m && cJSON_AddStringToObject(m, "unk_token", unk) &&
             cJSON_AddStringToObject(m, "continuing_subword_prefix", prefix) &&
             cJSON_AddNumberToObject(m, "max_input_chars_per_word", 100);
    if (ok && cJSON_AddItemToObject(m, "vocab", vocab))
        return m;
    cJSON_Delete(vocab);
    cJSON_Delete(m);
    return NULL;
}

int preset_add_all(cJSON *doc, const char *const *keys, cJSON **parts, int n)
{
    int ok = 1;
    for (int k = 0; k < n; k++) {
        if (parts[k] && ok && cJSON_AddItemToObject(doc, keys[k], parts[k]))
            continue;
        cJSON_Delete(parts[k]);
        ok = 0;
    }
    return ok;
}
