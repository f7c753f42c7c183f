/*
 * mlm/pipeline.h — the fill-mask pipeline: transformers'
 * `pipeline("fill-mask")`, with the same results.
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
#include "mlm/model.h"
#include "mlm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_pipeline mlm_pipeline;
typedef struct mlm_fill_result mlm_fill_result;

/* Model and tokenizer from one Hugging Face model directory. */
MLM_API mlm_status mlm_pipeline_load(const char *dir, mlm_pipeline **out);

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

#ifdef __cplusplus
}
#endif

#endif /* MLM_PIPELINE_H */
