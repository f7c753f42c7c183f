/* The part of the data layer that runs the tokenizer: the tokenize map
 * (datasets' map of tokenizer(examples[column])). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset_impl.h"
#include "data/tokenize.h"

/* ------------------------------------------------------------ tokenize */

int tokenize_pair_type_ids(const mlm_tokenizer *tok)
{
    /* as the tokenizer does for a pair: BERT gives the pair type id 1 */
    mlm_encoding *e = NULL;
    int any = 0;
    if (mlm_tokenizer_encode(tok, "a", 1, "b", 1, 1, &e) == MLM_OK) {
        const int32_t *t = mlm_encoding_type_ids(e);
        for (size_t i = 0; i < mlm_encoding_length(e); i++)
            any |= t[i] != 0;
    }
    mlm_encoding_free(e);
    mlm_clear_error();
    return any;
}

typedef struct tokjob {
    const mlm_tokenizer *tok;
    const char *column, *pair;
    int add_special;
    int type_ids; /* produce token_type_ids */
} tokjob;

/* The text of a row: a STRING as stored (NUL-terminated), a STRING_LIST
 * joined with " " into *owned. */
static mlm_status row_text(const mlm_dataset *b, const char *col, size_t r, const char **text,
                           char **owned)
{
    *owned = NULL;
    const dcol *c = ds_find(b, col);
    if (c->cs->type == MLM_COLUMN_STRING) {
        size_t len;
        return mlm_dataset_get_string(b, col, r, text, &len);
    }
    size_t n;
    mlm_status st = mlm_dataset_get_string_list_count(b, col, r, &n);
    if (st)
        return st;
    strbuf j = {0};
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if ((st = mlm_dataset_get_string_list_item(b, col, r, i, &s, &len))) {
            sb_free(&j);
            return st;
        }
        if ((i && sb_append(&j, " ", 1)) || sb_append(&j, s, len)) {
            sb_free(&j);
            return err_oom();
        }
    }
    if (sb_append(&j, "", 1)) {
        sb_free(&j);
        return err_oom();
    }
    *owned = sb_detach(&j);
    *text = *owned;
    return MLM_OK;
}

static mlm_status tokenize_batch(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    const tokjob *job = user;
    size_t n = mlm_dataset_num_rows(batch);
    const char **texts = mem_calloc(n ? n : 1, sizeof *texts);
    const char **pairs = job->pair ? mem_calloc(n ? n : 1, sizeof *pairs) : NULL;
    char **owned = mem_calloc(n ? 2 * n : 1, sizeof *owned);
    mlm_encoding **enc = mem_calloc(n ? n : 1, sizeof *enc);
    storebuild sb[5];
    static const char *const names[5] = {"input_ids", "attention_mask", "special_tokens_mask",
                                         "word_ids", "token_type_ids"};
    int ncols = job->type_ids ? 5 : 4;
    for (int k = 0; k < 5; k++)
        store_init(&sb[k], MLM_COLUMN_SEQUENCE);
    mlm_status st = MLM_OK;
    mlm_dataset *res = NULL;
    if (!texts || !owned || !enc || (job->pair && !pairs)) {
        st = err_oom();
        goto done;
    }
    for (size_t r = 0; r < n && !st; r++) {
        st = row_text(batch, job->column, r, &texts[r], &owned[2 * r]);
        if (!st && job->pair)
            st = row_text(batch, job->pair, r, &pairs[r], &owned[2 * r + 1]);
    }
    if (st)
        goto done;
    if (n && (st = mlm_tokenizer_encode_batch(job->tok, texts, pairs, n, job->add_special, 1,
                                              enc)))
        goto done;
    for (size_t r = 0; r < n && !st; r++) {
        size_t len = mlm_encoding_length(enc[r]);
        const int32_t *arr[5] = {mlm_encoding_ids(enc[r]), mlm_encoding_attention_mask(enc[r]),
                                 mlm_encoding_special_tokens_mask(enc[r]),
                                 mlm_encoding_word_ids(enc[r]), mlm_encoding_type_ids(enc[r])};
        for (int k = 0; k < ncols && !st; k++)
            st = store_add_seq(&sb[k], arr[k], len);
    }
    if (st)
        goto done;
    res = ds_alloc(5);
    if (!res) {
        st = err_oom();
        goto done;
    }
    res->nrows = n;
    for (int k = 0; k < ncols && !st; k++) {
        colstore *cs;
        if (!(st = store_finish(&sb[k], &cs)))
            st = ds_push_store(res, names[k], cs);
    }
done:
    for (int k = 0; k < 5; k++)
        store_free(&sb[k]);
    for (size_t r = 0; enc && r < n; r++)
        mlm_encoding_free(enc[r]);
    for (size_t r = 0; owned && r < 2 * n; r++)
        mem_free(owned[r]);
    mem_free(enc);
    mem_free(owned);
    mem_free(texts);
    mem_free(pairs);
    if (st) {
        mlm_dataset_free(res);
        return st;
    }
    *result = res;
    return MLM_OK;
}

static mlm_status text_column(const mlm_dataset *ds, const char *name)
{
    const dcol *c;
    mlm_status st = ds_column(ds, name, -1, &c);
    if (st)
        return err_prefix(st, "tokenize: ");
    if (c->cs->type != MLM_COLUMN_STRING && c->cs->type != MLM_COLUMN_STRING_LIST)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize: column '%s' is %s, not text", name,
                       mlm_column_type_name(c->cs->type));
    return MLM_OK;
}

mlm_status mlm_dataset_tokenize(const mlm_dataset *ds, const mlm_tokenizer *tok,
                                const char *column, const char *options_json, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_tokenize: out is NULL");
    *out = NULL;
    if (!ds || !tok || !column)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_tokenize: NULL argument");
    mlm_status st = text_column(ds, column);
    if (st)
        return st;
    tokjob job = {tok, column, NULL, 1, -1};
    /* Our own options; the rest go to map. */
    cJSON *root = NULL, *mapo = cJSON_CreateObject();
    if (!mapo)
        return err_oom();
    int ok = cJSON_AddTrueToObject(mapo, "batched") != NULL;
    if (options_json && *options_json) {
        root = cJSON_Parse(options_json);
        if (!root || !cJSON_IsObject(root)) {
            cJSON_Delete(root);
            cJSON_Delete(mapo);
            return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: not a JSON object");
        }
        for (cJSON *it = root->child; it && !st; it = it->next) {
            const char *k = it->string ? it->string : "";
            if (strcmp(k, "add_special_tokens") == 0 || strcmp(k, "return_token_type_ids") == 0) {
                if (!cJSON_IsBool(it))
                    st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"%s\" must be "
                                 "true or false", k);
                else if (k[0] == 'a')
                    job.add_special = cJSON_IsTrue(it);
                else
                    job.type_ids = cJSON_IsTrue(it);
            } else if (strcmp(k, "pair_column") == 0) {
                if (!cJSON_IsString(it))
                    st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"pair_column\" "
                                 "must be a column name");
                else if (!(st = text_column(ds, it->valuestring)))
                    job.pair = it->valuestring;
            } else if (strcmp(k, "batch_size") == 0 || strcmp(k, "num_proc") == 0 ||
                       strcmp(k, "remove_columns") == 0 || strcmp(k, "progress") == 0 ||
                       strcmp(k, "desc") == 0) {
                cJSON *dup = cJSON_Duplicate(it, 1);
                ok = ok && dup && cJSON_AddItemToObject(mapo, k, dup);
            } else {
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: unknown option \"%s\"",
                             k);
            }
        }
    }
    char *mjson = (!st && ok) ? cJSON_PrintUnformatted(mapo) : NULL;
    if (!st && !mjson)
        st = err_oom();
    if (!st && job.type_ids < 0)
        job.type_ids = tokenize_pair_type_ids(tok);
    if (!st)
        st = mlm_dataset_map(ds, tokenize_batch, &job, mjson, out);
    cJSON_free(mjson);
    cJSON_Delete(mapo);
    cJSON_Delete(root); /* job.pair points into root: freed only after the map */
    return st;
}
