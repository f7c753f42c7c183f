/* The masking collator: padding, MLM selection (HF's Bernoulli chain),
 * whole-word masking, causal labels. */
#include "data/collator_impl.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset_impl.h"
#include "data/options.h"

void collopts_defaults(collopts *o)
{
    memset(o, 0, sizeof *o);
    o->mask_id = o->pad_id = o->eos_id = o->cls_id = o->sep_id = o->bos_id = o->unk_id = -1;
    o->vocab_size = -1;
    o->mlm = 1;
    o->p = 0.15;
    o->p_mask = 0.8;
    o->p_random = 0.1;
}

mlm_status coll_get_int(const struct cJSON *it, const char *k, int64_t lo, int64_t hi, int64_t *v)
{
    if (cJSON_IsNull(it)) {
        *v = -1;
        return MLM_OK;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < (double)lo || it->valuedouble > (double)hi)
        return err_set(MLM_ERR_RANGE, "collator options: \"%s\" must be an integer in [%" PRId64
                       ", %" PRId64 "]", k, lo, hi);
    *v = (int64_t)it->valuedouble;
    return MLM_OK;
}

static mlm_status get_prob(const cJSON *it, const char *k, double *v)
{
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= 1))
        return err_set(MLM_ERR_RANGE, "collator options: \"%s\" must be a number in [0, 1]", k);
    *v = it->valuedouble;
    return MLM_OK;
}

static mlm_status apply_options(collopts *o, const char *json)
{
    if (!json || !*json)
        return MLM_OK;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: not a JSON object");
    }
    static const struct { const char *k; size_t off; } ids[] = {
        {"mask_token_id", offsetof(collopts, mask_id)}, {"pad_token_id", offsetof(collopts, pad_id)},
        {"eos_token_id", offsetof(collopts, eos_id)},   {"cls_token_id", offsetof(collopts, cls_id)},
        {"sep_token_id", offsetof(collopts, sep_id)},   {"bos_token_id", offsetof(collopts, bos_id)},
        {"unk_token_id", offsetof(collopts, unk_id)},   {"vocab_size", offsetof(collopts, vocab_size)},
    };
    mlm_status st = MLM_OK;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        const char *k = it->string ? it->string : "";
        int done = 0;
        for (size_t i = 0; i < sizeof ids / sizeof ids[0] && !done; i++)
            if (strcmp(k, ids[i].k) == 0) {
                st = coll_get_int(it, k, 0, INT32_MAX, (int64_t *)((char *)o + ids[i].off));
                done = 1;
            }
        if (done)
            continue;
        if (strcmp(k, "mlm") == 0)
            st = data_opt_bool(it, "collator options", k, &o->mlm);
        else if (strcmp(k, "whole_word_mask") == 0)
            st = data_opt_bool(it, "collator options", k, &o->whole_word_mask);
        else if (strcmp(k, "hf_eos_compat") == 0)
            st = data_opt_bool(it, "collator options", k, &o->hf_eos_compat);
        else if (strcmp(k, "mlm_probability") == 0)
            st = get_prob(it, k, &o->p);
        else if (strcmp(k, "mask_replace_prob") == 0)
            st = get_prob(it, k, &o->p_mask);
        else if (strcmp(k, "random_replace_prob") == 0)
            st = get_prob(it, k, &o->p_random);
        else if (strcmp(k, "pad_to_multiple_of") == 0) {
            st = coll_get_int(it, k, 0, 1 << 20, &o->multiple);
            if (o->multiple < 0)
                o->multiple = 0;
        } else if (strcmp(k, "seed") == 0) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 9007199254740992.0 ||
                it->valuedouble != floor(it->valuedouble))
                st = err_set(MLM_ERR_RANGE, "collator options: \"seed\" must be an integer in "
                             "[0, 2^53]");
            else
                o->seed = (uint64_t)it->valuedouble;
        } else if (strcmp(k, "padding_side") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "left") == 0)
                o->left = 1;
            else if (cJSON_IsString(it) && strcmp(it->valuestring, "right") == 0)
                o->left = 0;
            else
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: \"padding_side\" is "
                             "\"right\" or \"left\"");
        } else if (strcmp(k, "special_token_ids") == 0) {
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > COLL_MAX_SPECIAL) {
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: \"special_token_ids\" "
                             "must be a list of at most %d ids", COLL_MAX_SPECIAL);
                break;
            }
            o->nspecial = 0;
            for (const cJSON *e = it->child; e && !st; e = e->next)
                st = coll_get_int(e, k, 0, INT32_MAX, &o->special[o->nspecial++]);
        } else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: unknown option \"%s\"", k);
        }
    }
    cJSON_Delete(root);
    return st;
}

static uint64_t threshold(double p)
{
    double t = p * 4294967296.0;
    return t >= 4294967296.0 ? UINT64_C(4294967296) : (uint64_t)ceil(t);
}

mlm_status collator_build(collopts *o, const char *options_json, mlm_collator **out)
{
    *out = NULL;
    mlm_status st = apply_options(o, options_json);
    if (st)
        return st;
    int64_t pad = o->pad_id >= 0 ? o->pad_id : o->eos_id;
    if (pad < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator: no \"pad_token_id\" and no "
                       "\"eos_token_id\" to pad with");
    if (o->mlm && o->mask_id < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator: masked language modeling needs "
                       "\"mask_token_id\" (or \"mlm\": false for causal LM)");
    if (o->mlm && o->vocab_size <= 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator: masked language modeling needs "
                       "\"vocab_size\" > 0");
    if (o->p_mask + o->p_random > 1 + 1e-12)
        return err_set(MLM_ERR_RANGE, "collator: mask_replace_prob + random_replace_prob = %g "
                       "must be at most 1", o->p_mask + o->p_random);
    if (o->whole_word_mask && !o->mlm)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator: whole_word_mask needs mlm");
    mlm_collator *c = mem_calloc(1, sizeof *c);
    if (!c)
        return err_oom();
    int64_t given[] = {o->mask_id, o->pad_id, o->eos_id, o->cls_id, o->sep_id, o->bos_id,
                       o->unk_id};
    size_t cap = o->nspecial ? o->nspecial : sizeof given / sizeof given[0];
    c->special = mem_alloc(cap * sizeof *c->special);
    if (!c->special) {
        mem_free(c);
        return err_oom();
    }
    if (o->nspecial) {
        for (size_t i = 0; i < o->nspecial; i++)
            c->special[c->nspecial++] = (int32_t)o->special[i];
    } else {
        for (size_t i = 0; i < cap; i++)
            if (given[i] >= 0)
                c->special[c->nspecial++] = (int32_t)given[i];
    }
    c->mask_id = (int32_t)o->mask_id;
    c->pad_id = (int32_t)pad;
    c->vocab_size = (int32_t)(o->vocab_size > 0 ? o->vocab_size : 0);
    c->mlm = o->mlm;
    c->wwm = o->whole_word_mask;
    c->compat = o->hf_eos_compat;
    c->left = o->left;
    c->p = o->p;
    c->t_select = threshold(o->p);
    c->t_mask = threshold(o->p_mask);
    /* HF: of what is left after the mask draw, random with p_random / (1 - p_mask) */
    double rest = 1 - o->p_mask;
    c->t_random = rest > 0 ? threshold(fmin(1.0, o->p_random / rest)) : 0;
    c->multiple = (int32_t)o->multiple;
    c->seed = o->seed;
    *out = c;
    return MLM_OK;
}

/* DataCollatorForLanguageModeling(tokenizer): the ids the collator needs
 * come from the tokenizer's special-token roles and its length. */
mlm_status mlm_collator_new(const mlm_tokenizer *tok, const char *options_json,
                            mlm_collator **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_collator_new: out is NULL");
    *out = NULL;
    if (!tok)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_collator_new: tokenizer is NULL");
    collopts o;
    collopts_defaults(&o);
    o.mask_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK);
    o.pad_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD);
    o.eos_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_EOS);
    o.cls_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_CLS);
    o.sep_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_SEP);
    o.bos_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_BOS);
    o.unk_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_UNK);
    o.vocab_size = mlm_tokenizer_vocab_size(tok); /* len(tokenizer) */
    mlm_status st = collator_build(&o, options_json, out);
    /* o now holds the options too: say what the tokenizer lacks (only when
     * that is what collator_build refused, not a bad option) */
    const char *why = mlm_last_error();
    if (st == MLM_ERR_INVALID_ARGUMENT && o.mlm && o.mask_id < 0 &&
        strstr(why, "\"mask_token_id\""))
        return err_set(st, "collator: this tokenizer has no mask token, which masked language "
                       "modeling needs (pass \"mlm\": false for causal LM)");
    if (st == MLM_ERR_INVALID_ARGUMENT && o.pad_id < 0 && o.eos_id < 0 &&
        strstr(why, "to pad with"))
        return err_set(st, "collator: this tokenizer has neither a pad token nor an eos token "
                       "to pad with (give it one with mlm_tokenizer_set_special, as HF's "
                       "tokenizer.pad_token = ..., or pass \"pad_token_id\")");
    return st;
}

mlm_status mlm_collator_new_ids(const char *options_json, mlm_collator **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_collator_new_ids: out is NULL");
    *out = NULL;
    collopts o;
    collopts_defaults(&o);
    return collator_build(&o, options_json, out);
}

void mlm_collator_free(mlm_collator *c)
{
    if (!c)
        return;
    mem_free(c->special);
    mem_free(c);
}

int32_t mlm_collator_pad_token_id(const mlm_collator *c) { return c ? c->pad_id : -1; }

static int is_special_id(const mlm_collator *c, int32_t id)
{
    for (size_t i = 0; i < c->nspecial; i++)
        if (c->special[i] == id)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ collate */

typedef struct rowcols {
    const dcol *ids, *attn, *stm, *tti, *wid;
} rowcols;

static mlm_status opt_col(const mlm_dataset *ds, const char *name, const dcol **out)
{
    *out = ds_find(ds, name);
    if (*out && (*out)->cs->type != MLM_COLUMN_SEQUENCE)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: column '%s' is %s, not sequence",
                       name, mlm_column_type_name((*out)->cs->type));
    return MLM_OK;
}

/* A row of `want` values as int32: a narrow column's widened into scratch. */
static mlm_status row_seq(const dcol *c, uint64_t row, size_t want, strbuf *scratch,
                          const int32_t **d)
{
    size_t len;
    mlm_status st = store_seq_row(c->cs, c->name, dcol_phys(c, row), scratch, d, &len);
    if (st)
        return st;
    if (len != want)
        return err_set(MLM_ERR_FORMAT, "collate: row %" PRIu64 ": column '%s' has %zu values, "
                       "input_ids has %zu", row, c->name, len, want);
    return MLM_OK;
}

void mlm_batch_free(mlm_batch *b)
{
    if (!b)
        return;
    mem_free(b->ids);
    mem_free(b);
}

/* Whole-word candidates of one row: HF's _whole_word_mask with word ids in
 * place of "##" pieces. Marks chosen positions in sel[0..len). */
static mlm_status wwm_row(const mlm_collator *c, uint64_t batch_index, size_t r,
                          const int32_t *wid, const uint8_t *excluded, size_t len, uint8_t *sel,
                          size_t *starts, size_t *order)
{
    /* candidates: runs of equal word id >= 0; other tokens alone; specials skipped */
    size_t ncand = 0;
    for (size_t j = 0; j < len; j++) {
        if (excluded[j])
            continue;
        if (ncand && wid[j] >= 0 && j > 0 && !excluded[j - 1] && wid[j - 1] == wid[j])
            continue; /* continues the previous word */
        starts[ncand++] = j;
    }
    for (size_t k = 0; k < ncand; k++)
        order[k] = k;
    for (size_t k = ncand; k > 1; k--) { /* Fisher-Yates on a separate counter range */
        uint32_t w = rng_word(c->seed, batch_index,
                              ((uint64_t)r << 32 | UINT64_C(0x80000000)) * 4 + (k - 1));
        size_t j = (size_t)(((uint64_t)w * k) >> 32);
        size_t t = order[k - 1];
        order[k - 1] = order[j];
        order[j] = t;
    }
    double want = nearbyint((double)len * c->p); /* Python's round: half to even */
    size_t num = want < 1 ? 1 : (size_t)want;
    if (num > 512)
        num = 512;
    size_t chosen = 0;
    for (size_t k = 0; k < ncand && chosen < num; k++) {
        size_t a = starts[order[k]], b = a + 1;
        while (b < len && !excluded[b] && wid[a] >= 0 && wid[b] == wid[a])
            b++;
        if (chosen + (b - a) > num)
            continue;
        for (size_t j = a; j < b; j++)
            sel[j] = 1;
        chosen += b - a;
    }
    return MLM_OK;
}

mlm_status mlm_collator_collate(const mlm_collator *c, const mlm_dataset *ds,
                                const size_t *rows, size_t n, uint64_t batch_index,
                                mlm_batch **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: out is NULL");
    *out = NULL;
    if (!c || !ds || !rows)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: NULL argument");
    if (n == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: no rows");
    if (c->seq2seq)
        return collate_seq2seq(c, ds, rows, n, out);
    rowcols rc;
    mlm_status st = ds_column(ds, "input_ids", MLM_COLUMN_SEQUENCE, &rc.ids);
    if (st)
        return err_prefix(st, "collate: ");
    if ((st = opt_col(ds, "attention_mask", &rc.attn)) ||
        (st = opt_col(ds, "special_tokens_mask", &rc.stm)) ||
        (st = opt_col(ds, "token_type_ids", &rc.tti)) || (st = opt_col(ds, "word_ids", &rc.wid)))
        return st;
    if (c->wwm && !rc.wid)
        return err_set(MLM_ERR_NOT_FOUND, "collate: whole_word_mask needs a 'word_ids' column");
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i] >= ds->nrows)
            return err_set(MLM_ERR_RANGE, "collate: row %zu out of range (%" PRIu64 " rows)",
                           rows[i], ds->nrows);
        uint64_t first;
        size_t len;
        if ((st = store_seq(rc.ids->cs, rc.ids->name, dcol_phys(rc.ids, rows[i]), &first, &len)))
            return st;
        if (len > maxlen)
            maxlen = len;
    }
    size_t L = maxlen;
    if (c->multiple > 0 && L % (size_t)c->multiple)
        L += (size_t)c->multiple - L % (size_t)c->multiple;
    if (L && n > SIZE_MAX / L / sizeof(int32_t) / 5)
        return err_oom();
    size_t cells = n * L;
    mlm_batch *b = mem_calloc(1, sizeof *b);
    int32_t *mem = mem_alloc((cells ? cells : 1) * 5 * sizeof(int32_t));
    size_t scratch = (maxlen ? maxlen : 1);
    uint8_t *flags = mem_alloc(scratch * 3);
    size_t *starts = c->wwm ? mem_alloc(scratch * 2 * sizeof *starts) : NULL;
    if (!b || !mem || !flags || (c->wwm && !starts)) {
        mem_free(b);
        mem_free(mem);
        mem_free(flags);
        mem_free(starts);
        return err_oom();
    }
    b->rows = n;
    b->len = b->label_len = L;
    b->ids = mem;
    b->attn = mem + cells;
    b->labels = mem + 2 * cells;
    b->stm = mem + 3 * cells;
    b->tti = rc.tti ? mem + 4 * cells : NULL;
    for (size_t k = 0; k < cells; k++) {
        b->ids[k] = c->pad_id;
        b->attn[k] = 0;
        b->labels[k] = -100;
        b->stm[k] = 1;
        if (b->tti)
            b->tti[k] = 0;
    }
    uint8_t *pad = flags, *special = flags + scratch, *sel = flags + 2 * scratch;
    strbuf wide[5] = {{0}}; /* rows of narrow columns, widened: ids, attn, stm, tti, wid */
    for (size_t i = 0; i < n && !st; i++) {
        uint64_t row = rows[i];
        const int32_t *ids, *attn = NULL, *stm = NULL, *tti = NULL, *wid = NULL;
        size_t len;
        if ((st = store_seq_row(rc.ids->cs, rc.ids->name, dcol_phys(rc.ids, row), &wide[0], &ids,
                                &len)))
            break;
        if ((rc.attn && (st = row_seq(rc.attn, row, len, &wide[1], &attn))) ||
            (rc.stm && (st = row_seq(rc.stm, row, len, &wide[2], &stm))) ||
            (rc.tti && (st = row_seq(rc.tti, row, len, &wide[3], &tti))) ||
            (rc.wid && (st = row_seq(rc.wid, row, len, &wide[4], &wid))))
            break;
        size_t off = c->left ? L - len : 0;
        int32_t *oid = b->ids + i * L + off, *oat = b->attn + i * L + off;
        int32_t *olab = b->labels + i * L + off, *ostm = b->stm + i * L + off;
        for (size_t j = 0; j < len; j++) {
            int32_t id = ids[j];
            oid[j] = id;
            oat[j] = attn ? attn[j] : 1;
            pad[j] = c->compat ? id == c->pad_id : oat[j] == 0;
            special[j] = stm ? stm[j] != 0 : is_special_id(c, id);
            ostm[j] = special[j] || pad[j];
            if (tti)
                b->tti[i * L + off + j] = tti[j];
        }
        if (!c->mlm) {
            for (size_t j = 0; j < len; j++)
                olab[j] = pad[j] ? -100 : ids[j];
            continue;
        }
        memset(sel, 0, len);
        if (c->wwm) {
            for (size_t j = 0; j < len; j++)
                special[j] = special[j] || pad[j];
            wwm_row(c, batch_index, i, wid, special, len, sel, starts, starts + scratch);
        }
        for (size_t j = 0; j < len; j++) {
            uint32_t w[4];
            if (special[j] || pad[j] || (c->wwm && !sel[j]))
                continue;
            rng_block(c->seed, batch_index, (uint64_t)i << 32 | j, w);
            if (!c->wwm && w[0] >= c->t_select)
                continue;
            olab[j] = ids[j];
            if (w[1] < c->t_mask)
                oid[j] = c->mask_id;
            else if (w[2] < c->t_random)
                oid[j] = (int32_t)(((uint64_t)w[3] * (uint32_t)c->vocab_size) >> 32);
        }
    }
    mem_free(flags);
    mem_free(starts);
    for (int k = 0; k < 5; k++)
        sb_free(&wide[k]);
    if (st) {
        mlm_batch_free(b);
        return st;
    }
    *out = b;
    return MLM_OK;
}

size_t mlm_batch_rows(const mlm_batch *b) { return b ? b->rows : 0; }
size_t mlm_batch_seq_len(const mlm_batch *b) { return b ? b->len : 0; }
const int32_t *mlm_batch_input_ids(const mlm_batch *b) { return b ? b->ids : NULL; }
const int32_t *mlm_batch_attention_mask(const mlm_batch *b) { return b ? b->attn : NULL; }
const int32_t *mlm_batch_labels(const mlm_batch *b) { return b ? b->labels : NULL; }
const int32_t *mlm_batch_special_tokens_mask(const mlm_batch *b) { return b ? b->stm : NULL; }
const int32_t *mlm_batch_token_type_ids(const mlm_batch *b) { return b ? b->tti : NULL; }
size_t mlm_batch_label_len(const mlm_batch *b) { return b ? b->label_len : 0; }
const int32_t *mlm_batch_decoder_input_ids(const mlm_batch *b) { return b ? b->dec : NULL; }

static int put_matrix(strbuf *o, const char *name, const int32_t *m, size_t rows, size_t len,
                      int first)
{
    char num[16];
    if (sb_append(o, first ? "\"" : ",\"", first ? 1 : 2) || sb_append(o, name, strlen(name)) ||
        sb_append(o, "\":[", 3))
        return -1;
    for (size_t i = 0; i < rows; i++) {
        if (sb_append(o, i ? ",[" : "[", i ? 2 : 1))
            return -1;
        for (size_t j = 0; j < len; j++) {
            int k = snprintf(num, sizeof num, j ? ",%d" : "%d", (int)m[i * len + j]);
            if (sb_append(o, num, (size_t)k))
                return -1;
        }
        if (sb_append(o, "]", 1))
            return -1;
    }
    return sb_append(o, "]", 1);
}

mlm_status mlm_batch_to_json(const mlm_batch *b, char *buf, size_t cap, size_t *needed)
{
    if (!b || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_batch_to_json: NULL argument");
    strbuf o = {0};
    int bad = sb_append(&o, "{", 1) || put_matrix(&o, "input_ids", b->ids, b->rows, b->len, 1) ||
              put_matrix(&o, "attention_mask", b->attn, b->rows, b->len, 0) ||
              (b->labels && put_matrix(&o, "labels", b->labels, b->rows, b->label_len, 0)) ||
              (b->tti && put_matrix(&o, "token_type_ids", b->tti, b->rows, b->len, 0)) ||
              (b->dec &&
               put_matrix(&o, "decoder_input_ids", b->dec, b->rows, b->label_len, 0)) ||
              sb_append(&o, "}", 1);
    if (bad) {
        sb_free(&o);
        return err_oom();
    }
    return sb_copy_out(&o, buf, cap, needed);
}
