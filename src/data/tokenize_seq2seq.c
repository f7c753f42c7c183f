/* The seq2seq form of the tokenize map: a source text and a target text
 * per row become input_ids (+ attention_mask) and labels, as the seed's
 * preprocess_function and run_summarization.py's do it:
 *
 *     inputs = [prefix + doc for doc in examples[text_column]]
 *     model_inputs = tokenizer(inputs, max_length=max_source_length,
 *                              padding=padding, truncation=True)
 *     labels = tokenizer(text_target=examples[summary_column],
 *                        max_length=max_target_length, padding=padding,
 *                        truncation=True)
 *     if padding == "max_length" and ignore_pad_token_for_loss:
 *         labels = [[l if l != pad_token_id else -100 ...]]
 *     model_inputs["labels"] = labels["input_ids"]
 *
 * text_target switches the tokenizer to its target mode, which is the
 * same tokenizer for T5 (and every tokenizer libmlm loads). The -100 of
 * padded labels is decided from the attention mask, so that a real EOS is
 * kept where pad = eos (transformers#23530); hf_eos_compat replaces every
 * id equal to pad, as the line above does. */
#include <string.h>

#include "core/error.h"
#include "data/dataset_impl.h"
#include "data/tokenize.h"

/* Encode texts[0..n) with the job's call settings (or the tokenizer's). */
static mlm_status encode(const tokjob *job, int on, const encode_call *call,
                         const char *const *texts, size_t n, mlm_encoding **enc)
{
    if (!n)
        return MLM_OK;
    if (on)
        return tokenizer_encode_batch_call(job->tok, texts, NULL, n, job->add_special, call, 1,
                                           enc);
    return mlm_tokenizer_encode_batch(job->tok, texts, NULL, n, job->add_special, 1, enc);
}

/* The labels of one target encoding into sb: its ids, with -100 where
 * padding is ignored for the loss. */
static mlm_status add_labels(const tokjob *job, int32_t pad_id, const mlm_encoding *e,
                             storebuild *sb, int32_t *scratch)
{
    size_t len = mlm_encoding_length(e);
    const int32_t *ids = mlm_encoding_ids(e), *attn = mlm_encoding_attention_mask(e);
    if (!(job->pad_max_length && job->ignore_pad))
        return store_add_seq(sb, ids, len);
    for (size_t j = 0; j < len; j++) {
        int pad = job->hf_eos_compat ? ids[j] == pad_id : attn[j] == 0;
        scratch[j] = pad ? -100 : ids[j];
    }
    return store_add_seq(sb, scratch, len);
}

mlm_status tokenize_seq2seq_batch(const mlm_dataset *batch, void *user, mlm_dataset **result)
{
    const tokjob *job = user;
    size_t n = mlm_dataset_num_rows(batch), kept = 0, cap = n ? n : 1;
    const char **src = mem_calloc(cap, sizeof *src), **tgt = mem_calloc(cap, sizeof *tgt);
    char **owned = mem_calloc(2 * cap, sizeof *owned);
    mlm_encoding **es = mem_calloc(cap, sizeof *es), **et = mem_calloc(cap, sizeof *et);
    int32_t *scratch = NULL;
    static const char *const names[3] = {"input_ids", "attention_mask", "labels"};
    storebuild sb[3];
    for (int k = 0; k < 3; k++)
        store_init(&sb[k], MLM_COLUMN_SEQUENCE);
    mlm_dataset *res = NULL;
    mlm_status st = MLM_OK;
    if (!src || !tgt || !owned || !es || !et) {
        st = err_oom();
        goto done;
    }
    for (size_t r = 0; r < n && !st; r++) {
        int e1, e2;
        st = tokenize_row_text(batch, job->column, r, job->prefix, &src[kept], &owned[2 * kept],
                               &e1);
        if (!st)
            st = tokenize_row_text(batch, job->target, r, NULL, &tgt[kept],
                                   &owned[2 * kept + 1], &e2);
        if (st)
            break;
        if (job->skip_empty && (e1 || e2)) { /* run_summarization: `if text and summary` */
            mem_free(owned[2 * kept]);
            mem_free(owned[2 * kept + 1]);
            owned[2 * kept] = owned[2 * kept + 1] = NULL;
            continue;
        }
        kept++;
    }
    if (st)
        goto done;
    if ((st = encode(job, job->call_on, &job->call, src, kept, es))) {
        st = err_prefix(st, "column '%s': ", job->column);
        goto done;
    }
    if ((st = encode(job, job->target_call_on, &job->target_call, tgt, kept, et))) {
        st = err_prefix(st, "column '%s': ", job->target);
        goto done;
    }
    size_t longest = 1;
    for (size_t r = 0; r < kept; r++)
        if (mlm_encoding_length(et[r]) > longest)
            longest = mlm_encoding_length(et[r]);
    if (!(scratch = mem_alloc(longest * sizeof *scratch))) {
        st = err_oom();
        goto done;
    }
    int32_t pad_id = mlm_tokenizer_special_id(job->tok, MLM_TOKEN_PAD);
    for (size_t r = 0; r < kept && !st; r++) {
        size_t len = mlm_encoding_length(es[r]);
        st = store_add_seq(&sb[0], mlm_encoding_ids(es[r]), len);
        if (!st && job->attention_mask)
            st = store_add_seq(&sb[1], mlm_encoding_attention_mask(es[r]), len);
        if (!st)
            st = add_labels(job, pad_id, et[r], &sb[2], scratch);
    }
    if (st)
        goto done;
    if (!(res = ds_alloc(3))) {
        st = err_oom();
        goto done;
    }
    res->nrows = kept;
    for (int k = 0; k < 3 && !st; k++) {
        if (k == 1 && !job->attention_mask)
            continue;
        colstore *cs;
        if (!(st = store_finish(&sb[k], &cs)))
            st = ds_push_store(res, names[k], cs);
    }
done:
    for (int k = 0; k < 3; k++)
        store_free(&sb[k]);
    for (size_t r = 0; r < n && es && et; r++) {
        mlm_encoding_free(es[r]);
        mlm_encoding_free(et[r]);
    }
    for (size_t r = 0; owned && r < 2 * n; r++)
        mem_free(owned[r]);
    mem_free(scratch);
    mem_free(es);
    mem_free(et);
    mem_free(owned);
    mem_free(src);
    mem_free(tgt);
    if (st) {
        mlm_dataset_free(res);
        return st;
    }
    *result = res;
    return MLM_OK;
}
