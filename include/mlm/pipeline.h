/*
 * mlm/pipeline.h — transformers' pipelines: `pipeline("fill-mask")` for
 * encoder masked-LMs and `pipeline("summarization")` for encoder-decoders,
 * with the same results.
 *
 *     mlm_pipeline *p;
 *     mlm_fill_result *r;
 *     mlm_pipeline_load("distilroberta-base", &p);
 *     mlm_fill_mask(p, "The Milky Way is a <mask> galaxy.", 3, &r);
 *     for (size_t k = 0; k < mlm_fill_result_n_predictions(r, 0); k++)
 *         printf("%.4f %s\n", mlm_fill_result_score(r, 0, k),
 *                mlm_fill_result_token_str(r, 0, k));
 *     mlm_fill_result_free(r);
 *     mlm_pipeline_free(p);
 *
 * Thread safety: once configured, a pipeline may be used by any number of
 * threads at once (each call has its own scratch memory); the setters must
 * not run concurrently with calls.
 */
#ifndef MLM_PIPELINE_H
#define MLM_PIPELINE_H

#include "mlm/core.h"
#include "mlm/generation.h"
#include "mlm/model.h"
#include "mlm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_pipeline mlm_pipeline;
typedef struct mlm_fill_result mlm_fill_result;

/* Model and tokenizer from one Hugging Face model directory. */
MLM_API mlm_status mlm_pipeline_load(const char *dir, mlm_pipeline **out);

/* The same with the model's matrices in dtype (mlm_model_set_dtype):
 * MLM_DTYPE_BF16 halves the memory and, on CPUs with AVX512-BF16 or AMX,
 * the time; MLM_DTYPE_INT8 quarters the memory. Predictions may differ
 * from float32's where two scores are close (docs/reduced-precision.md). */
MLM_API mlm_status mlm_pipeline_load_dtype(const char *dir, mlm_dtype dtype, mlm_pipeline **out);

/* A pipeline over a model and tokenizer the caller keeps alive (borrowed,
 * not freed by mlm_pipeline_free). Fails when the tokenizer has ids the
 * model's vocabulary cannot score, or no mask token. */
MLM_API mlm_status mlm_pipeline_new(const mlm_model *model, const mlm_tokenizer *tok,
                                    mlm_pipeline **out);

/* Accepts NULL. */
MLM_API void mlm_pipeline_free(mlm_pipeline *p);

/* Threads per call (default 1). The pipeline keeps nthreads - 1 worker
 * threads for its calls (they spin briefly after each call, then sleep);
 * a call made while another one is using them starts its own threads. */
MLM_API mlm_status mlm_pipeline_set_threads(mlm_pipeline *p, int nthreads);

/* Off (the default, as in HF): an input longer than the model's maximum is
 * an error. On: it is truncated to the maximum (masks cut off are lost). */
MLM_API mlm_status mlm_pipeline_set_truncation(mlm_pipeline *p, int on);

/* The top_k predictions (top_k >= 1) for every mask token in text (UTF-8,
 * NUL-terminated). Errors: no mask token (the message names the one
 * expected), empty text, invalid UTF-8, an input too long, top_k <= 0. */
MLM_API mlm_status mlm_fill_mask(const mlm_pipeline *p, const char *text, int top_k,
                                 mlm_fill_result **out);

/* As mlm_fill_mask, restricted to the given target words with HF's rules:
 * duplicates removed, top_k capped at their number, a target not in the
 * vocabulary tokenized and its first piece used (with a warning, see
 * mlm_fill_result_warning). */
MLM_API mlm_status mlm_fill_mask_targets(const mlm_pipeline *p, const char *text,
                                         const char *const *targets, size_t n_targets,
                                         int top_k, mlm_fill_result **out);

/* n texts in one padded forward pass; out[] receives n results. On failure
 * no result is returned and the message names the text at fault. */
MLM_API mlm_status mlm_fill_mask_batch(const mlm_pipeline *p, const char *const *texts,
                                       size_t n, int top_k, mlm_fill_result **out);

/* Accepts NULL. */
MLM_API void mlm_fill_result_free(mlm_fill_result *r);

/* One list of predictions per mask token, in order of the masks. */
MLM_API size_t mlm_fill_result_n_masks(const mlm_fill_result *r);
MLM_API size_t mlm_fill_result_n_predictions(const mlm_fill_result *r, size_t mask);

/* Prediction k (0 = best) for mask `mask`: softmax probability, token id,
 * decode of that one id, and the input with the mask replaced, decoded as
 * HF's pipeline does (special tokens skipped only when there is one mask).
 * Out-of-range indices give 0, -1 or NULL. Strings are owned by r. */
MLM_API float mlm_fill_result_score(const mlm_fill_result *r, size_t mask, size_t k);
MLM_API int32_t mlm_fill_result_token(const mlm_fill_result *r, size_t mask, size_t k);
MLM_API const char *mlm_fill_result_token_str(const mlm_fill_result *r, size_t mask, size_t k);
MLM_API const char *mlm_fill_result_sequence(const mlm_fill_result *r, size_t mask, size_t k);

/* Warnings raised by the call (e.g. a target replaced by its first piece). */
MLM_API size_t mlm_fill_result_n_warnings(const mlm_fill_result *r);
MLM_API const char *mlm_fill_result_warning(const mlm_fill_result *r, size_t i);

/* The result as JSON shaped exactly like HF's pipeline output: a list of
 * {"score", "token", "token_str", "sequence"} objects for one mask, a list
 * of such lists for several. Two-call sizing: writes at most cap bytes
 * including the NUL; *needed receives the full size + 1. */
MLM_API mlm_status mlm_fill_result_to_json(const mlm_fill_result *r, char *buf, size_t cap,
                                           size_t *needed);

/* ------------------------------------------------------------ summarization */

/* transformers' SummarizationPipeline (pipelines/text2text_generation.py):
 *
 *     mlm_summarizer *s;
 *     mlm_summary *r;
 *     mlm_summarizer_load("t5-small", &s);
 *     mlm_summarize(s, "The tower is 324 metres tall, ...", &r);
 *     puts(mlm_summary_text(r, 0));
 *     mlm_summary_free(r);
 *     mlm_summarizer_free(s);
 *
 * - generation options: the model's defaults (mlm/generation.h), under
 *   config.json's task_specific_params["summarization"] (t5-small: num_beams
 *   4, length_penalty 2.0, no_repeat_ngram_size 3, min_length 30,
 *   max_length 200, early_stopping true), under the caller's options;
 * - the task's "prefix" ("summarize: ") is put before each text, which is
 *   tokenized with its special tokens (T5: a final </s>);
 * - an input longer than the tokenizer's model_max_length is an error unless
 *   truncation is on (then it is cut to that length, the final special token
 *   kept, as the tokenizer's truncation does);
 * - summary_text is the decode of each returned sequence with
 *   skip_special_tokens and the tokenizer's clean_up_tokenization_spaces
 *   (unless set); with return_tensors, summary_token_ids instead: the
 *   generated row as HF returns it (start token, then the tokens, padded);
 * - HF's warnings: max_length above the input's length ("Your max_length is
 *   set to 200, but your input_length is only 25..."), min_length above
 *   max_length.
 * Texts of a batch run as one padded generate() call; each result is what
 * the pipeline gives for that text alone.
 *
 * Thread safety: once configured, a summarizer may be used by any number of
 * threads at once; the setters must not run concurrently with calls. */
typedef struct mlm_summarizer mlm_summarizer;
typedef struct mlm_summary mlm_summary;

/* Model (an encoder-decoder) and tokenizer from one model directory. */
MLM_API mlm_status mlm_summarizer_load(const char *dir, mlm_summarizer **out);

/* The same with the model's matrices in dtype (mlm_model_set_dtype). */
MLM_API mlm_status mlm_summarizer_load_dtype(const char *dir, mlm_dtype dtype,
                                             mlm_summarizer **out);

/* A summarizer over a model and tokenizer the caller keeps alive (borrowed).
 * Fails with MLM_ERR_UNSUPPORTED for a model that is not an encoder-decoder,
 * MLM_ERR_INVALID_ARGUMENT when the tokenizer has ids the model cannot
 * score. */
MLM_API mlm_status mlm_summarizer_new(const mlm_model *model, const mlm_tokenizer *tok,
                                      mlm_summarizer **out);

/* Accepts NULL. */
MLM_API void mlm_summarizer_free(mlm_summarizer *s);

/* Threads per call (default 1), as mlm_pipeline_set_threads. */
MLM_API mlm_status mlm_summarizer_set_threads(mlm_summarizer *s, int nthreads);

/* One option: a generation option (mlm_generation_config_set's names and
 * values) or one of the pipeline's:
 *   truncation                     true/false (false)
 *   return_tensors                 true: summary_token_ids instead of text
 *   return_text                    accepted (HF ignores it too)
 *   clean_up_tokenization_spaces   true/false, or null for the tokenizer's
 *   prefix                         a JSON string put before every text
 *                                  (default: the task's "prefix")
 * Errors as mlm_generation_config_set. */
MLM_API mlm_status mlm_summarizer_set(mlm_summarizer *s, const char *name, const char *value);

/* Every member of a JSON object, as mlm_summarizer_set. */
MLM_API mlm_status mlm_summarizer_set_json(mlm_summarizer *s, const char *json, size_t len);

/* Summarize one text (UTF-8, NUL-terminated). Errors: an input too long
 * without truncation (MLM_ERR_RANGE, naming both lengths), invalid UTF-8,
 * and generate()'s (num_return_sequences > num_beams, ...). */
MLM_API mlm_status mlm_summarize(const mlm_summarizer *s, const char *text, mlm_summary **out);

/* n texts in one padded generate() call; out[] receives n results. On
 * failure none is returned and the message names the text at fault. */
MLM_API mlm_status mlm_summarize_batch(const mlm_summarizer *s, const char *const *texts,
                                       size_t n, mlm_summary **out);

/* Accepts NULL. */
MLM_API void mlm_summary_free(mlm_summary *r);

/* num_return_sequences summaries, best first. */
MLM_API size_t mlm_summary_n(const mlm_summary *r);

/* summary_text of summary i, or NULL (return_tensors, or i out of range).
 * Owned by r. */
MLM_API const char *mlm_summary_text(const mlm_summary *r, size_t i);

/* summary_token_ids of summary i (*len ids, owned by r), or NULL. Always
 * available, whatever return_tensors says. */
MLM_API const int32_t *mlm_summary_token_ids(const mlm_summary *r, size_t i, size_t *len);

/* Warnings HF would log for this text. */
MLM_API size_t mlm_summary_n_warnings(const mlm_summary *r);
MLM_API const char *mlm_summary_warning(const mlm_summary *r, size_t i);

/* The result as JSON shaped like the pipeline's output for one text: a list
 * of {"summary_text": s} (or {"summary_token_ids": [...]} with
 * return_tensors), one per returned sequence. Two-call sizing as
 * mlm_fill_result_to_json. */
MLM_API mlm_status mlm_summary_to_json(const mlm_summary *r, char *buf, size_t cap,
                                       size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* MLM_PIPELINE_H */
