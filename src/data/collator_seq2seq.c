/* transformers' DataCollatorForSeq2Seq (data/data_collator.py, 4.56):
 *
 *   batch = tokenizer.pad(features without labels, padding, max_length,
 *                         pad_to_multiple_of)
 *   labels: unpadded when padding is False; else padded with
 *       label_pad_token_id to max_length (padding "max_length" with a
 *       max_length) or to the longest label of the batch, rounded up to
 *       pad_to_multiple_of, on the tokenizer's padding_side;
 *   with a model: decoder_input_ids = model.prepare_decoder_input_ids_
 *       from_labels(labels), T5's _shift_right: [decoder_start] +
 *       labels[:-1], -100 replaced by the config's pad_token_id.
 *
 * tokenizer.pad pads input_ids with the tokenizer's pad id (pad = eos in
 * the seed: </s>), attention_mask with 0 (made of ones when the rows have
 * none), token_type_ids with 0; "longest" pads to the longest row,
 * "max_length" to max_length (or the tokenizer's model_max_length), both
 * rounded up to pad_to_multiple_of; False pads nothing. tokenizer.pad
 * never truncates, so a row longer than the padded length, or rows of
 * different lengths without padding, leave HF with lists that torch.tensor
 * refuses: errors here, naming the row. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <string.h>

#include "core/error.h"
#include "data/collator_impl.h"
#include "data/dataset_impl.h"
#include "data/options.h"

/* ----------------------------------------------------------- options */

/* "model": {"decoder_start_token_id": id, "pad_token_id": id} (config.json's
 * names), or null for model=None. */
static mlm_status get_model(const cJSON *it, mlm_collator *c)
{
    c->model = 0;
    if (cJSON_IsNull(it))
        return MLM_OK;
    if (!cJSON_IsObject(it))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: \"model\" must be an "
                       "object {\"decoder_start_token_id\", \"pad_token_id\"} or null");
    int64_t start = -1, pad = -1;
    mlm_status st = MLM_OK;
    for (const cJSON *m = it->child; m && !st; m = m->next) {
        const char *k = m->string ? m->string : "";
        if (strcmp(k, "decoder_start_token_id") == 0)
            st = coll_get_int(m, "model.decoder_start_token_id", 0, INT32_MAX, &start);
        else if (strcmp(k, "pad_token_id") == 0)
            st = coll_get_int(m, "model.pad_token_id", 0, INT32_MAX, &pad);
        else
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: unknown option "
                         "\"model.%s\"", k);
    }
    if (st)
        return st;
    /* T5's _shift_right raises on either being None */
    if (start < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: \"model\" needs "
                       "\"decoder_start_token_id\" (self.model.config.decoder_start_token_id "
                       "has to be defined)");
    if (pad < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: \"model\" needs "
                       "\"pad_token_id\" (self.model.config.pad_token_id has to be defined)");
    c->model = 1;
    c->decoder_start = (int32_t)start;
    c->model_pad = (int32_t)pad;
    return MLM_OK;
}

static mlm_status apply_s2s_options(mlm_collator *c, const char *json)
{
    if (!json || !*json)
        return MLM_OK;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: not a JSON object");
    }
    mlm_status st = MLM_OK;
    int64_t v;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        const char *k = it->string ? it->string : "";
        if (strcmp(k, "padding") == 0) {
            st = data_opt_padding(it, "collator options", &c->padding);
        } else if (strcmp(k, "max_length") == 0) {
            st = coll_get_int(it, k, 1, INT32_MAX, &c->max_length);
        } else if (strcmp(k, "model_max_length") == 0) {
            st = coll_get_int(it, k, 1, INT64_MAX / 2, &c->model_max_length);
        } else if (strcmp(k, "pad_to_multiple_of") == 0) {
            if (!(st = coll_get_int(it, k, 0, 1 << 20, &v)))
                c->multiple = v < 0 ? 0 : (int32_t)v;
        } else if (strcmp(k, "label_pad_token_id") == 0) {
            if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int32_t)it->valuedouble)
                st = err_set(MLM_ERR_RANGE, "collator options: \"label_pad_token_id\" must be "
                             "a 32-bit integer");
            else
                c->label_pad = (int32_t)it->valuedouble;
        } else if (strcmp(k, "pad_token_id") == 0 || strcmp(k, "vocab_size") == 0) {
            if (!(st = coll_get_int(it, k, 0, INT32_MAX, &v)))
                *(k[0] == 'p' ? &c->pad_id : &c->vocab_size) = (int32_t)v;
        } else if (strcmp(k, "padding_side") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "left") == 0)
                c->left = 1;
            else if (cJSON_IsString(it) && strcmp(it->valuestring, "right") == 0)
                c->left = 0;
            else
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: \"padding_side\" is "
                             "\"right\" or \"left\"");
        } else if (strcmp(k, "model") == 0) {
            st = get_model(it, c);
        } else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator options: unknown option \"%s\"", k);
        }
    }
    cJSON_Delete(root);
    return st;
}

/* DataCollatorForSeq2Seq(tokenizer, model, padding, max_length,
 * pad_to_multiple_of, label_pad_token_id). */
mlm_status mlm_collator_new_seq2seq(const mlm_tokenizer *tok, const char *options_json,
                                    mlm_collator **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_collator_new_seq2seq: out is NULL");
    *out = NULL;
    mlm_collator *c = mem_calloc(1, sizeof *c);
    if (!c)
        return err_oom();
    c->seq2seq = 1;
    c->padding = DATA_PAD_LONGEST;
    c->max_length = -1;
    c->label_pad = -100;
    c->pad_id = tok ? mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD) : -1;
    c->vocab_size = tok ? mlm_tokenizer_vocab_size(tok) : 0;
    c->model_max_length = tok ? mlm_tokenizer_model_max_length(tok) : -1;
    mlm_status st = apply_s2s_options(c, options_json);
    if (!st && c->padding != DATA_PAD_NONE && c->pad_id < 0)
        st = err_set(MLM_ERR_INVALID_ARGUMENT, "collator: %s has no pad token to pad the inputs "
                     "with (the seed sets pad = eos: mlm_tokenizer_set_special, as "
                     "tokenizer.pad_token = tokenizer.eos_token; or pass \"pad_token_id\")",
                     tok ? "this tokenizer" : "no tokenizer given and the options have no "
                     "\"pad_token_id\":");
    if (!st && c->vocab_size > 0 && c->pad_id >= c->vocab_size)
        st = err_set(MLM_ERR_RANGE, "collator: pad_token_id %d is outside the vocabulary (%d "
                     "ids)", (int)c->pad_id, (int)c->vocab_size);
    if (st) {
        mem_free(c);
        return st;
    }
    *out = c;
    return MLM_OK;
}

/* ----------------------------------------------------------- collate */

typedef struct s2scols {
    const dcol *ids, *attn, *tti, *labels;
} s2scols;

static mlm_status seq_col(const mlm_dataset *ds, const char *name, const dcol **out)
{
    *out = ds_find(ds, name);
    if (*out && (*out)->cs->type != MLM_COLUMN_SEQUENCE)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: column '%s' is %s, not sequence",
                       name, mlm_column_type_name((*out)->cs->type));
    return MLM_OK;
}

/* A row as int32 values; a narrow column's is widened into `scratch`, so
 * *d is good until the next call (the callers use each row before the
 * next). */
static mlm_status cell(const dcol *c, uint64_t row, strbuf *scratch, const int32_t **d,
                       size_t *len)
{
    return store_seq_row(c->cs, c->name, dcol_phys(c, row), scratch, d, len);
}

/* HF's padded length: `target` rounded up to a multiple. */
static size_t round_up(size_t target, int32_t multiple)
{
    if (multiple > 0 && target % (size_t)multiple)
        target += (size_t)multiple - target % (size_t)multiple;
    return target;
}

/* The padded length of one kind of sequence (input_ids or labels) from
 * the lengths of its rows: longest or fixed, then the multiple; unpadded,
 * every row must have the same length. A row longer than the result is
 * refused (HF's torch.tensor would be). */
static mlm_status padded_len(const mlm_collator *c, const char *what, const size_t *lens,
                             const size_t *rows, size_t n, int64_t fixed, size_t *out)
{
    size_t longest = 0;
    for (size_t i = 0; i < n; i++)
        longest = lens[i] > longest ? lens[i] : longest;
    size_t L = longest;
    if (c->padding == DATA_PAD_NONE) {
        for (size_t i = 0; i < n; i++)
            if (lens[i] != lens[0])
                return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: row %zu: '%s' has %zu values "
                               "and row %zu has %zu: without padding the rows must have one "
                               "length", rows[i], what, lens[i], rows[0], lens[0]);
        *out = L;
        return MLM_OK;
    }
    if (fixed > 0)
        L = (size_t)fixed;
    L = round_up(L, c->multiple);
    for (size_t i = 0; i < n; i++)
        if (lens[i] > L)
            return err_set(MLM_ERR_RANGE, "collate: row %zu: '%s' has %zu values, more than the "
                           "padded length %zu (padding does not truncate: truncate when "
                           "tokenizing)", rows[i], what, lens[i], L);
    *out = L;
    return MLM_OK;
}

/* Check ids against the vocabulary [0, vocab) (vocab 0: only that they are
 * >= 0); labels may also be -100 and the label pad id. */
static mlm_status check_ids(const mlm_collator *c, const int32_t *d, size_t len, int labels,
                            uint64_t row)
{
    int32_t vocab = c->vocab_size;
    for (size_t j = 0; j < len; j++) {
        if (labels && (d[j] == -100 || d[j] == c->label_pad))
            continue;
        if (d[j] < 0 || (vocab > 0 && d[j] >= vocab))
            return err_set(MLM_ERR_RANGE, "collate: row %" PRIu64 ": column '%s' position %zu: "
                           "id %d is outside the vocabulary [0, %d)%s", row,
                           labels ? "labels" : "input_ids", j, (int)d[j], (int)vocab,
                           labels ? " (labels may also be -100)" : "");
    }
    return MLM_OK;
}

/* Copy d[0..len) into the padded row out[0..L): right or left. */
static void put_row(int32_t *out, size_t L, const int32_t *d, size_t len, int left)
{
    memcpy(out + (left ? L - len : 0), d, len * sizeof *d);
}

/* T5's _shift_right: out[0] = start, out[j] = labels[j - 1], -100 -> pad. */
static void shift_right(int32_t *out, const int32_t *labels, size_t T, int32_t start,
                        int32_t pad)
{
    if (!T)
        return;
    out[0] = start;
    for (size_t j = 1; j < T; j++)
        out[j] = labels[j - 1] == -100 ? pad : labels[j - 1];
}

static mlm_status lengths(const mlm_collator *c, const s2scols *k, const size_t *rows, size_t n,
                          strbuf *scratch, size_t *ilen, size_t *llen)
{
    mlm_status st;
    for (size_t i = 0; i < n; i++) {
        const int32_t *d;
        size_t len;
        if ((st = cell(k->ids, rows[i], scratch, &d, &len)) ||
            (st = check_ids(c, d, len, 0, rows[i])))
            return st;
        ilen[i] = len;
        if (k->attn || k->tti) {
            const dcol *o[2] = {k->attn, k->tti};
            for (int m = 0; m < 2; m++) {
                size_t l2;
                if (o[m] && (st = cell(o[m], rows[i], scratch, &d, &l2)))
                    return st;
                if (o[m] && l2 != len)
                    return err_set(MLM_ERR_FORMAT, "collate: row %zu: column '%s' has %zu "
                                   "values, input_ids has %zu", rows[i], o[m]->name, l2, len);
            }
        }
        if (!k->labels)
            continue;
        if ((st = cell(k->labels, rows[i], scratch, &d, &len)))
            return st;
        /* a missing value is stored as an empty list: HF's feature["labels"]
         * would be None, which it cannot pad */
        if (len == 0)
            return err_set(MLM_ERR_INVALID_ARGUMENT, "collate: row %zu has no labels (column "
                           "'labels' is empty there)", rows[i]);
        if ((st = check_ids(c, d, len, 1, rows[i])))
            return st;
        llen[i] = len;
    }
    return MLM_OK;
}

mlm_status collate_seq2seq(const mlm_collator *c, const mlm_dataset *ds, const size_t *rows,
                           size_t n, mlm_batch **out)
{
    s2scols k;
    mlm_status st = ds_column(ds, "input_ids", MLM_COLUMN_SEQUENCE, &k.ids);
    if (st)
        return err_prefix(st, "collate: ");
    if ((st = seq_col(ds, "attention_mask", &k.attn)) ||
        (st = seq_col(ds, "token_type_ids", &k.tti)) || (st = seq_col(ds, "labels", &k.labels)))
        return st;
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= ds->nrows)
            return err_set(MLM_ERR_RANGE, "collate: row %zu out of range (%" PRIu64 " rows)",
                           rows[i], ds->nrows);
    size_t *ilen = mem_alloc(2 * n * sizeof *ilen), *llen = ilen + n;
    if (!ilen)
        return err_oom();
    memset(llen, 0, n * sizeof *llen);
    /* inputs: "max_length" without max_length is the tokenizer's
     * model_max_length, unless it has none (HF: no padding then) */
    int64_t fixed = c->max_length;
    mlm_collator tmp = *c;
    if (c->padding == DATA_PAD_MAX_LENGTH && fixed < 0) {
        if (c->model_max_length > 0 && c->model_max_length <= INT32_MAX)
            fixed = c->model_max_length;
        else
            tmp.padding = DATA_PAD_NONE;
    }
    size_t L = 0, T = 0;
    strbuf sc = {0}, *scratch = &sc; /* a narrow column's row, widened */
    if (!(st = lengths(c, &k, rows, n, scratch, ilen, llen)) &&
        !(st = padded_len(&tmp, "input_ids", ilen, rows, n,
                          c->padding == DATA_PAD_MAX_LENGTH ? fixed : -1, &L)) &&
        k.labels)
        /* labels: the collator's own max_length only */
        st = padded_len(c, "labels", llen, rows, n,
                        c->padding == DATA_PAD_MAX_LENGTH ? c->max_length : -1, &T);
    if (st) {
        mem_free(ilen);
        sb_free(scratch);
        return st;
    }
    size_t in_arrays = k.tti ? 3 : 2, lab_arrays = !k.labels ? 0 : c->model ? 2 : 1;
    if ((L && n > SIZE_MAX / L / 8) || (T && n > SIZE_MAX / T / 8)) {
        mem_free(ilen);
        sb_free(scratch);
        return err_oom();
    }
    size_t cells = n * L, lcells = n * T, total = in_arrays * cells + lab_arrays * lcells;
    mlm_batch *b = mem_calloc(1, sizeof *b);
    int32_t *mem = mem_alloc((total ? total : 1) * sizeof *mem);
    if (!b || !mem) {
        mem_free(b);
        mem_free(mem);
        mem_free(ilen);
        sb_free(scratch);
        return err_oom();
    }
    b->rows = n;
    b->len = L;
    b->label_len = T;
    b->ids = mem;
    b->attn = mem + cells;
    b->tti = k.tti ? mem + 2 * cells : NULL;
    b->labels = k.labels ? mem + in_arrays * cells : NULL;
    b->dec = c->model && k.labels ? b->labels + lcells : NULL;
    for (size_t j = 0; j < cells; j++) {
        b->ids[j] = c->pad_id;
        b->attn[j] = 0;
        if (b->tti)
            b->tti[j] = 0;
    }
    for (size_t j = 0; b->labels && j < lcells; j++)
        b->labels[j] = c->label_pad;
    for (size_t i = 0; i < n && !st; i++) {
        const int32_t *d;
        size_t len;
        uint64_t row = rows[i];
        if ((st = cell(k.ids, row, scratch, &d, &len)))
            break;
        put_row(b->ids + i * L, L, d, len, c->left);
        if (k.attn && (st = cell(k.attn, row, scratch, &d, &len)))
            break;
        if (k.attn)
            put_row(b->attn + i * L, L, d, len, c->left);
        else /* tokenizer.pad's return_attention_mask: ones over the row */
            for (size_t j = 0; j < len; j++)
                b->attn[i * L + (c->left ? L - len : 0) + j] = 1;
        if (k.tti && !(st = cell(k.tti, row, scratch, &d, &len)))
            put_row(b->tti + i * L, L, d, len, c->left);
        if (st || !k.labels)
            continue;
        if ((st = cell(k.labels, row, scratch, &d, &len)))
            break;
        put_row(b->labels + i * T, T, d, len, c->left);
        if (b->dec)
            shift_right(b->dec + i * T, b->labels + i * T, T, c->decoder_start, c->model_pad);
    }
    mem_free(ilen);
    sb_free(scratch);
    if (st) {
        mlm_batch_free(b);
        return st;
    }
    *out = b;
    return MLM_OK;
}
