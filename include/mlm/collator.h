/*
 * mlm/collator.h — batches for masked (or causal) language modeling, as
 * transformers' DataCollatorForLanguageModeling and
 * DataCollatorForWholeWordMask make them.
 *
 * A collator takes rows of a tokenized dataset (a SEQUENCE column
 * "input_ids", and optionally "attention_mask", "special_tokens_mask",
 * "token_type_ids", "word_ids"), pads them on the right to the longest row
 * (rounded up to pad_to_multiple_of), and in MLM mode picks tokens to
 * predict: each non-special, non-padding token with probability
 * mlm_probability; of those, 80% become the mask token, half of the rest a
 * uniformly random id in [0, vocab_size), the others stay (HF's Bernoulli
 * chain). labels hold the original id where a token was picked and -100
 * everywhere else. In causal mode (mlm false) labels are the input ids with
 * padding set to -100.
 *
 * Randomness is a pure function of (seed, batch_index, row within the
 * batch, position): Philox4x32-10 with the batch index as its stream. The
 * same batch index gives the same batch on any thread, with any number of
 * workers and after a resume; HF draws from torch's global generator, so
 * parity with HF is statistical, not bit-exact.
 *
 * Padding and the eos-as-pad trap (transformers#23530): with pad = eos,
 * HF treats every EOS as padding, so in causal mode no EOS is ever a label.
 * By default libmlm knows padding from the attention mask (positions it
 * added, and attention_mask 0 in the rows), so real EOS tokens keep their
 * labels; "hf_eos_compat": true reproduces HF exactly (every id equal to
 * pad is padding). In MLM mode, special tokens (EOS included, when it is in
 * the special set or marked by special_tokens_mask) are never picked, as in
 * HF.
 *
 * The seq2seq collator (mlm_collator_new_seq2seq) is transformers'
 * DataCollatorForSeq2Seq instead: no masking, no randomness; inputs padded
 * as tokenizer.pad does, labels padded with label_pad_token_id (-100), and
 * with a model decoder_input_ids, labels shifted right.
 *
 * Thread safety: a collator is immutable once made; collate may run on many
 * threads at once. A batch belongs to the caller.
 */
#ifndef MLM_COLLATOR_H
#define MLM_COLLATOR_H

#include "mlm/core.h"
#include "mlm/dataset.h"
#include "mlm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_collator mlm_collator;
typedef struct mlm_batch mlm_batch;

/* A collator from explicit ids. options_json is a JSON object:
 *   "mask_token_id" (required when mlm), "vocab_size" (required when mlm:
 *       random replacements are drawn from [0, vocab_size), HF's
 *       len(tokenizer)),
 *   "pad_token_id" (else "eos_token_id" is used as pad; neither is an error),
 *   "eos_token_id", "cls_token_id", "sep_token_id", "bos_token_id",
 *   "unk_token_id" (each optional; with pad and mask they form the special
 *       set used when a row has no special_tokens_mask, as HF's
 *       all_special_ids), or "special_token_ids": [ids] to give the set
 *       outright,
 *   "mlm" (true), "mlm_probability" (0.15, in [0, 1]),
 *   "mask_replace_prob" (0.8), "random_replace_prob" (0.1): newer
 *       transformers' split of the picked tokens (the sum must be <= 1),
 *   "pad_to_multiple_of" (0 = off), "padding_side" ("right" | "left"),
 *   "seed" (0), "whole_word_mask" (false; needs a "word_ids" column),
 *   "hf_eos_compat" (false).
 * An unknown key or a value out of range is an error naming it. */
MLM_API mlm_status mlm_collator_new_ids(const char *options_json, mlm_collator **out);

/* A collator for a tokenizer: mask, pad (else eos), the special ids and
 * vocab_size (len(tokenizer)) come from it; options_json as above may set
 * the rest (and override the ids). The tokenizer is not kept. In MLM mode a
 * tokenizer without a mask token is an error, as in HF. */
MLM_API mlm_status mlm_collator_new(const mlm_tokenizer *tok, const char *options_json,
                                    mlm_collator **out);

/* transformers' DataCollatorForSeq2Seq(tokenizer, model, padding, max_length,
 * pad_to_multiple_of, label_pad_token_id), as transformers 4.56 has it.
 * Rows are those of a seq2seq dataset (mlm_dataset_tokenize with
 * "target_column"): SEQUENCE columns "input_ids", optionally
 * "attention_mask" and "token_type_ids", and "labels". Other columns are
 * ignored.
 *
 * Inputs are padded as tokenizer.pad pads them: input_ids with the pad id
 * (the tokenizer's pad token: with the seed's `tokenizer.pad_token =
 * tokenizer.eos_token`, i.e. mlm_tokenizer_set_special(tok, MLM_TOKEN_PAD,
 * "</s>"), that is </s>, id 1 for T5), attention_mask with 0 (a row without
 * one gets ones over its tokens), token_type_ids with 0. Labels are padded
 * with label_pad_token_id, to the longest label of the batch (or to
 * max_length with padding "max_length"), rounded up to pad_to_multiple_of,
 * so mlm_batch_label_len may differ from mlm_batch_seq_len. Both are padded
 * on padding_side. With a model, decoder_input_ids = labels shifted right
 * (T5's _shift_right: decoder_start_token_id first, labels[:-1] after,
 * -100 replaced by the model config's pad_token_id, which is T5's 0 even
 * when the tokenizer pads with eos); without one (the seed's model=None)
 * the batch has none and the model shifts the labels itself.
 *
 * tok may be NULL when the options give "pad_token_id" (or padding is
 * off); it is not kept. options_json (NULL or "" for the defaults), a
 * JSON object:
 *   "padding": true or "longest" (default): to the longest row of the
 *       batch; "max_length": to "max_length" (inputs without it: the
 *       tokenizer's model_max_length, or no padding when it has none, as
 *       HF; labels without it: the longest); false or "do_not_pad": none
 *       (every row must then have one length, as torch.tensor needs);
 *   "max_length" (null), "pad_to_multiple_of" (null or 0: off),
 *   "label_pad_token_id" (-100), "padding_side" ("right" | "left": the
 *       tokenizer's padding_side, applied to inputs and labels alike),
 *   "pad_token_id": overrides the tokenizer's pad (HF's
 *       tokenizer.pad_token = ...),
 *   "vocab_size": the ids' range checked in every row (default
 *       len(tokenizer); 0 with no tokenizer: not checked),
 *   "model_max_length": the tokenizer's, for "max_length" padding,
 *   "model": null (default: model=None) or {"decoder_start_token_id": id,
 *       "pad_token_id": id}, the model config's (config.json's names).
 * Errors: an unknown option or a value out of range, naming it; no pad id
 * with padding on; a model without either id (T5's _shift_right raises).
 * mlm_collator_collate's errors name the row and column: a row with no
 * labels (an empty "labels": a missing value in a loaded file), an id
 * outside [0, vocab_size) (labels: or -100 / the label pad id), a row
 * longer than its padded length (tokenizer.pad does not truncate; HF's
 * tensor conversion fails), rows of different lengths without padding,
 * an attention_mask whose length is not input_ids'. Without a "labels"
 * column the batch has none (mlm_batch_labels NULL), as HF. batch_index
 * is unused (no randomness). */
MLM_API mlm_status mlm_collator_new_seq2seq(const mlm_tokenizer *tok, const char *options_json,
                                            mlm_collator **out);

/* Accepts NULL. */
MLM_API void mlm_collator_free(mlm_collator *c);

/* The pad id the collator uses (the eos id when there was no pad id). */
MLM_API int32_t mlm_collator_pad_token_id(const mlm_collator *c);

/* Collate rows[0..n) of ds into a batch. batch_index selects the random
 * stream. Errors name the column and row at fault: a missing "input_ids",
 * rows whose columns disagree in length, "word_ids" missing with
 * whole_word_mask, n == 0. */
MLM_API mlm_status mlm_collator_collate(const mlm_collator *c, const mlm_dataset *ds,
                                        const size_t *rows, size_t n, uint64_t batch_index,
                                        mlm_batch **out);

/* Accepts NULL. */
MLM_API void mlm_batch_free(mlm_batch *b);

/* Shape and row-major [rows × seq_len] arrays, owned by the batch.
 * special_tokens_mask is 1 at special tokens and padding (NULL in a seq2seq
 * batch). token_type_ids is NULL when the rows had none. Labels are
 * [rows × mlm_batch_label_len]. */
MLM_API size_t mlm_batch_rows(const mlm_batch *b);
MLM_API size_t mlm_batch_seq_len(const mlm_batch *b);
MLM_API const int32_t *mlm_batch_input_ids(const mlm_batch *b);
MLM_API const int32_t *mlm_batch_attention_mask(const mlm_batch *b);
MLM_API const int32_t *mlm_batch_labels(const mlm_batch *b);
MLM_API const int32_t *mlm_batch_special_tokens_mask(const mlm_batch *b);
MLM_API const int32_t *mlm_batch_token_type_ids(const mlm_batch *b);

/* The labels' row length: seq_len for the masking collator; for the seq2seq
 * collator the padded length of the labels, which may be longer or shorter
 * than the inputs' (0 when the batch has no labels). */
MLM_API size_t mlm_batch_label_len(const mlm_batch *b);

/* [rows × label_len] decoder_input_ids of a seq2seq batch made with a
 * model, NULL otherwise. */
MLM_API const int32_t *mlm_batch_decoder_input_ids(const mlm_batch *b);

/* The batch as JSON: {"input_ids": [[...], ...], "attention_mask": ...,
 * "labels": ... (when present), "token_type_ids": ... (when present),
 * "decoder_input_ids": ... (when present)}. Two-call sizing:
 * writes at most cap bytes including the NUL into buf (NULL when cap is 0)
 * and sets *needed to the full length + 1; a short buffer is not an error. */
MLM_API mlm_status mlm_batch_to_json(const mlm_batch *b, char *buf, size_t cap,
                                     size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* MLM_COLLATOR_H */
