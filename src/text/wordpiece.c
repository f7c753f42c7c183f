/* WordPiece (BERT): greedy longest-match-first with a "##" continuation
 * prefix; a word with an unmatchable part becomes the unknown token. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/json_fields.h"
#include "text/tokenizer_model.h"
#include "text/unicode.h"

mlm_status wordpiece_parse(model *m, const cJSON *j, const char *path)
{
    const char *unk, *prefix;
    mlm_status st;
    if ((st = jf_str(j, "unk_token", path, "[UNK]", &unk)) ||
        (st = jf_str(j, "continuing_subword_prefix", path, "##", &prefix)) ||
        (st = jf_int(j, "max_input_chars_per_word", path, 100, 0, INT64_MAX / 2, &m->max_chars)))
        return st;
    if (!(m->unk_token = mem_strdup(unk)) || !(m->prefix = mem_strdup(prefix))) return err_oom();
    return vocab_from_object(&m->v, cJSON_GetObjectItemCaseSensitive(j, "vocab"), path);
}

static int push_unk(const model *m, uint32_t len, tokvec *out)
{
    int32_t id = strmap_get(&m->v.map, m->unk_token, strlen(m->unk_token));
    if (id < 0) {
        err_set(MLM_ERR_FORMAT, "WordPiece: the unknown token '%s' is not in the vocabulary",
                m->unk_token);
        return -2;
    }
    return tokvec_push(out, id, 0, len, 0);
}

int wordpiece_tokenize(const model *m, const char *s, uint32_t len, tokvec *out)
{
    if ((int64_t)utf8_count(s, len) > m->max_chars) return push_unk(m, len, out);
    size_t plen = strlen(m->prefix);
    char stackbuf[256];
    char *buf = stackbuf;
    size_t need = plen + m->max_token_len + 1;
    if (need > sizeof stackbuf && !(buf = mem_alloc(need))) return -1;
    memcpy(buf, m->prefix, plen);
    size_t mark = out->n;
    uint32_t start = 0;
    int rc = 0;
    while (start < len) {
        size_t room = m->max_token_len > (start ? plen : 0) ? m->max_token_len - (start ? plen : 0)
                                                            : 0;
        uint32_t end = len - start > room ? start + (uint32_t)room : len;
        while (end > start && end < len && ((unsigned char)s[end] & 0xC0) == 0x80)
            end--;
        int32_t id = -1;
        while (end > start) {
            if (start) {
                memcpy(buf + plen, s + start, end - start);
                id = strmap_get(&m->v.map, buf, plen + end - start);
            } else {
                id = strmap_get(&m->v.map, s, end);
            }
            if (id >= 0) break;
            do
                end--;
            while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            out->n = mark;
            rc = push_unk(m, len, out);
            goto done;
        }
        if (tokvec_push(out, id, start, end, 0)) {
            rc = -1;
            goto done;
        }
        start = end;
    }
done:
    if (buf != stackbuf) mem_free(buf);
    return rc;
}

mlm_status wordlevel_parse(model *m, const cJSON *j, const char *path)
{
    const char *unk;
    mlm_status st = jf_str(j, "unk_token", path, "<unk>", &unk);
    if (st) return st;
    if (!(m->unk_token = mem_strdup(unk))) return err_oom();
    return vocab_from_object(&m->v, cJSON_GetObjectItemCaseSensitive(j, "vocab"), path);
}

int wordlevel_tokenize(const model *m, const char *s, uint32_t len, tokvec *out)
{
    int32_t id = strmap_get(&m->v.map, s, len);
    if (id < 0) id = strmap_get(&m->v.map, m->unk_token, strlen(m->unk_token));
    if (id < 0) {
        err_set(MLM_ERR_FORMAT, "WordLevel: the unknown token '%s' is not in the vocabulary",
                m->unk_token);
        return -2;
    }
    return tokvec_push(out, id, 0, len, 0);
}
