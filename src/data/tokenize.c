/* The part of the data layer that runs the tokenizer: the tokenize map
 * (datasets' map of tokenizer(examples[column])). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset_impl.h"
#include "data/options.h"
#include "data/tokenize.h"

#define WHO "tokenize options"

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

mlm_status tokenize_row_text(const mlm_dataset *b, const char *col, size_t r,
                             const char *prefix, const char **text, char **owned, int *empty)
{
    *owned = NULL;
    const dcol *c = ds_find(b, col);
    size_t plen = prefix ? strlen(prefix) : 0;
    mlm_status st;
    if (c->cs->type == MLM_COLUMN_STRING) {
        size_t len;
        if ((st = mlm_dataset_get_string(b, col, r, text, &len)))
            return st;
        *empty = len == 0;
        if (!plen)
            return MLM_OK;
    }
    strbuf j = {0};
    if (plen && sb_append(&j, prefix, plen))
        return err_oom();
    if (c->cs->type == MLM_COLUMN_STRING) {
        if (sb_append(&j, *text, strlen(*text))) {
            sb_free(&j);
            return err_oom();
        }
    } else {
        size_t n;
        if ((st = mlm_dataset_get_string_list_count(b, col, r, &n))) {
            sb_free(&j);
            return st;
        }
        *empty = n == 0;
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
        int empty;
        st = tokenize_row_text(batch, job->column, r, job->prefix, &texts[r], &owned[2 * r],
                               &empty);
        if (!st && job->pair)
            st = tokenize_row_text(batch, job->pair, r, NULL, &pairs[r], &owned[2 * r + 1],
                                   &empty);
    }
    if (st)
        goto done;
    if (n && job->call_on)
        st = tokenizer_encode_batch_call(job->tok, texts, pairs, n, job->add_special, &job->call,
                                         1, enc);
    else if (n)
        st = mlm_tokenizer_encode_batch(job->tok, texts, pairs, n, job->add_special, 1, enc);
    if (st)
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

/* A length option (an integer >= 1, or null for none: 0) into *v. */
static mlm_status opt_length(const cJSON *it, const char *k, size_t *v)
{
    if (cJSON_IsNull(it)) {
        *v = 0;
        return MLM_OK;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > INT32_MAX ||
        it->valuedouble != (double)(int64_t)it->valuedouble)
        return err_set(MLM_ERR_RANGE, "tokenize options: \"%s\" must be an integer in [1, %d] "
                       "or null", k, INT32_MAX);
    *v = (size_t)it->valuedouble;
    return MLM_OK;
}

/* The call settings of transformers' tokenizer(texts, truncation=True,
 * max_length=max, padding=pad) (max 0: truncation=False): longest_first
 * with no stride, on the right as the default truncation_side and
 * padding_side say. */
static void call_settings(encode_call *c, size_t max, int pad)
{
    memset(c, 0, sizeof *c);
    c->trunc_on = max > 0;
    c->trunc_max = max;
    c->trunc_strategy = MLM_TRUNCATE_LONGEST_FIRST;
    c->pad_on = pad != DATA_PAD_NONE;
    c->pad_len = pad == DATA_PAD_MAX_LENGTH ? max : 0;
}

/* Our own options (the rest go to map, in mapo). */
static mlm_status parse_options(const mlm_dataset *ds, const cJSON *root, tokjob *job,
                                cJSON *mapo)
{
    size_t max = 0, tmax = 0;
    int pad = DATA_PAD_NONE, has_max = 0, has_pad = 0, has_tmax = 0;
    mlm_status st = MLM_OK;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        const char *k = it->string ? it->string : "";
        if (strcmp(k, "add_special_tokens") == 0)
            st = data_opt_bool(it, WHO, k, &job->add_special);
        else if (strcmp(k, "return_token_type_ids") == 0)
            st = data_opt_bool(it, WHO, k, &job->type_ids);
        else if (strcmp(k, "return_attention_mask") == 0)
            st = data_opt_bool(it, WHO, k, &job->attention_mask);
        else if (strcmp(k, "ignore_pad_token_for_loss") == 0)
            st = data_opt_bool(it, WHO, k, &job->ignore_pad);
        else if (strcmp(k, "hf_eos_compat") == 0)
            st = data_opt_bool(it, WHO, k, &job->hf_eos_compat);
        else if (strcmp(k, "skip_empty") == 0)
            st = data_opt_bool(it, WHO, k, &job->skip_empty);
        else if (strcmp(k, "max_length") == 0) {
            st = opt_length(it, k, &max);
            has_max = 1;
        } else if (strcmp(k, "max_target_length") == 0) {
            st = opt_length(it, k, &tmax);
            has_tmax = 1;
        } else if (strcmp(k, "padding") == 0) {
            st = data_opt_padding(it, WHO, &pad);
            has_pad = 1;
        } else if (strcmp(k, "pair_column") == 0 || strcmp(k, "target_column") == 0) {
            if (!cJSON_IsString(it))
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"%s\" must be a "
                             "column name", k);
            else if (!(st = text_column(ds, it->valuestring)))
                *(k[0] == 'p' ? &job->pair : &job->target) = it->valuestring;
        } else if (strcmp(k, "source_prefix") == 0) {
            if (!cJSON_IsString(it) && !cJSON_IsNull(it))
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"source_prefix\" "
                             "must be a string");
            job->prefix = cJSON_IsString(it) ? it->valuestring : NULL;
        } else if (strcmp(k, "batch_size") == 0 || strcmp(k, "num_proc") == 0 ||
                   strcmp(k, "remove_columns") == 0 || strcmp(k, "progress") == 0 ||
                   strcmp(k, "desc") == 0) {
            cJSON *dup = cJSON_Duplicate(it, 1);
            if (!dup || !cJSON_AddItemToObject(mapo, k, dup)) {
                cJSON_Delete(dup);
                st = err_oom();
            }
        } else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: unknown option \"%s\"", k);
        }
    }
    if (st)
        return st;
    if (job->target && job->pair)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"target_column\" and "
                       "\"pair_column\" cannot be used together");
    if (!job->target && (has_tmax || job->skip_empty))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"%s\" needs "
                       "\"target_column\"", has_tmax ? "max_target_length" : "skip_empty");
    if (pad == DATA_PAD_MAX_LENGTH && (!max || (job->target && !tmax)))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: \"padding\": \"max_length\" "
                       "needs \"max_length\"%s", job->target ? " and \"max_target_length\"" : "");
    job->call_on = has_max || has_pad;
    job->target_call_on = job->call_on || has_tmax;
    call_settings(&job->call, max, pad);
    call_settings(&job->target_call, tmax, pad);
    job->pad_max_length = pad == DATA_PAD_MAX_LENGTH;
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
    tokjob job = {.tok = tok, .column = column, .add_special = 1, .type_ids = -1,
                  .attention_mask = 1, .ignore_pad = 1};
    cJSON *root = NULL, *mapo = cJSON_CreateObject();
    if (!mapo || !cJSON_AddTrueToObject(mapo, "batched")) {
        cJSON_Delete(mapo);
        return err_oom();
    }
    if (options_json && *options_json) {
        root = cJSON_Parse(options_json);
        if (!root || !cJSON_IsObject(root))
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize options: not a JSON object");
        else
            st = parse_options(ds, root, &job, mapo);
    }
    char *mjson = !st ? cJSON_PrintUnformatted(mapo) : NULL;
    if (!st && !mjson)
        st = err_oom();
    if (!st && job.type_ids < 0)
        job.type_ids = tokenize_pair_type_ids(tok);
    if (!st)
        st = mlm_dataset_map(ds, job.target ? tokenize_seq2seq_batch : tokenize_batch, &job,
                             mjson, out);
    cJSON_free(mjson);
    cJSON_Delete(mapo);
    cJSON_Delete(root); /* the job's names point into root: freed only after the map */
    return st;
}
