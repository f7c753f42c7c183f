/*
 * mlm/generation.h — generate() for encoder-decoder models (T5), with
 * transformers' GenerationConfig names and semantics (generation/utils.py,
 * logits_process.py, configuration_utils.py as of transformers 4.56):
 * greedy search, sampling, beam search and beam sampling, over a padded
 * batch of inputs.
 *
 *     mlm_generation_config *g;
 *     mlm_generation *r;
 *     mlm_generation_config_new(model, &g);         // the model's defaults
 *     mlm_generation_config_set(g, "num_beams", "4");
 *     mlm_generation_config_set(g, "max_new_tokens", "32");
 *     mlm_generate(model, g, 1, ids, NULL, 1, n_ids, &r);
 *     const int32_t *seq = mlm_generation_sequences(r);  // HF's `sequences`
 *     mlm_generation_free(r);
 *     mlm_generation_config_free(g);
 *
 * Defaults come from the model's generation_config.json, else from the
 * generation keys of its config.json (GenerationConfig.from_model_config),
 * else transformers' GenerationConfig() defaults (max_length 20, top_k 50,
 * ...). Options set through mlm_generation_config_set(_json) are the
 * caller's, as generate()'s keyword arguments are: in particular a
 * max_length the caller did not set and that equals 20 means 20 new tokens
 * (transformers adds the decoder start token to it), and max_new_tokens /
 * min_new_tokens win over max_length / min_length.
 *
 * Sampling (do_sample) is deterministic for a seed (the "seed" option, ours:
 * GenerationConfig has none) and follows HF's distributions (temperature,
 * top_k, top_p, then softmax), but draws from libmlm's counter-based
 * generator (Philox4x32-10), not torch's random stream: the same seed does
 * not give torch's samples.
 *
 * Thread safety: a model may serve any number of mlm_generate calls at once
 * (each call has its own decoding state); a configuration may be shared by
 * concurrent calls once no thread changes it.
 */
#ifndef MLM_GENERATION_H
#define MLM_GENERATION_H

#include "mlm/core.h"
#include "mlm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_generation_config mlm_generation_config;
typedef struct mlm_generation mlm_generation;

/* The model's generation defaults (see above). An encoder-decoder model is
 * required (MLM_ERR_UNSUPPORTED otherwise). The configuration keeps no
 * reference to the model. */
MLM_API mlm_status mlm_generation_config_new(const mlm_model *model,
                                             mlm_generation_config **out);

/* A copy, including which options the caller set. */
MLM_API mlm_status mlm_generation_config_copy(const mlm_generation_config *config,
                                              mlm_generation_config **out);

/* Accepts NULL. */
MLM_API void mlm_generation_config_free(mlm_generation_config *config);

/* Set one option by its GenerationConfig name; value is JSON text ("4",
 * "0.6", "true", "\"never\"", "[1, 2]", "[[5], [6, 7]]", "null"), and a
 * bare word is read as a string (never). Supported:
 *   max_length, max_new_tokens, min_length, min_new_tokens   integers (or
 *       null for max_new_tokens / min_new_tokens); lengths must be >= 1
 *       (max_new_tokens) or >= 0 (the minimums)
 *   num_beams (>= 1), num_return_sequences (>= 1), early_stopping
 *       (true, false or "never"), length_penalty (a number)
 *   do_sample, temperature (> 0), top_k (>= 0; 0 off), top_p (in [0, 1])
 *   repetition_penalty (> 0), no_repeat_ngram_size (>= 0), bad_words_ids
 *       (a list of lists of token ids, or null), renormalize_logits
 *   forced_bos_token_id, forced_eos_token_id, decoder_start_token_id,
 *   bos_token_id, pad_token_id (ids or null), eos_token_id (an id, a list
 *       of ids, or null)
 *   output_scores (true: mlm_generation_sequences_scores for beam search)
 *   seed (ours: the sampling stream, an integer >= 0)
 * Accepted and without effect: use_cache, output_attentions,
 * output_hidden_states, output_logits, return_dict_in_generate,
 * transformers_version, _from_model_config. Other GenerationConfig options
 * (num_beam_groups, diversity_penalty, typical_p, ...) are accepted at
 * their default value only (MLM_ERR_UNSUPPORTED otherwise). An unknown name
 * is MLM_ERR_INVALID_ARGUMENT; a bad value MLM_ERR_INVALID_ARGUMENT or
 * MLM_ERR_RANGE naming the option. Cross-option checks (num_return_sequences
 * <= num_beams, ...) happen in mlm_generate, where all values are known. */
MLM_API mlm_status mlm_generation_config_set(mlm_generation_config *config, const char *name,
                                             const char *value);

/* Every member of a JSON object shaped like generation_config.json (len
 * bytes), as mlm_generation_config_set. On failure the configuration may
 * hold the members before the one named in the message. */
MLM_API mlm_status mlm_generation_config_set_json(mlm_generation_config *config,
                                                  const char *json, size_t len);

/* The options as a JSON object (sorted keys; the supported options and
 * their current values, null for unset ones). Two-call sizing: writes at
 * most cap bytes including the NUL; *needed receives the full size + 1. */
MLM_API mlm_status mlm_generation_config_to_json(const mlm_generation_config *config,
                                                 char *buf, size_t cap, size_t *needed);

/* generate() on a padded batch: input_ids batch x seq_len, attention_mask
 * batch x seq_len of 0/1 or NULL (then, as transformers does, positions
 * holding the pad id are masked when the pad id occurs in the inputs and is
 * not an eos id). config NULL means the model's defaults. nthreads >= 1.
 * Errors: a model that is not an encoder-decoder (MLM_ERR_UNSUPPORTED),
 * num_return_sequences > num_beams, num_return_sequences > 1 with greedy
 * search, max_length <= 1 (no room after the decoder start token), no
 * decoder_start_token_id or bos_token_id, ids outside the vocabulary
 * (MLM_ERR_INVALID_ARGUMENT or MLM_ERR_RANGE, each naming the option). */
MLM_API mlm_status mlm_generate(const mlm_model *model, const mlm_generation_config *config,
                                int nthreads, const int32_t *input_ids,
                                const int32_t *attention_mask, size_t batch, size_t seq_len,
                                mlm_generation **out);

/* Accepts NULL. */
MLM_API void mlm_generation_free(mlm_generation *result);

/* batch x num_return_sequences: the rows of `sequences`, the results of
 * input i at rows i·num_return_sequences + k (best first for beam search). */
MLM_API size_t mlm_generation_num_sequences(const mlm_generation *result);

/* HF's sequences.shape[1]: the decoder start token, the generated tokens,
 * padding to the longest row (greedy and sampling pad finished rows with
 * pad_token_id; beam search fills with `pad_token_id or eos_token_id[0]`,
 * i.e. the eos id for T5, whose pad id 0 is falsy in Python). */
MLM_API size_t mlm_generation_sequence_length(const mlm_generation *result);

/* num_sequences x sequence_length ids, row-major, as HF returns them.
 * Owned by the result. */
MLM_API const int32_t *mlm_generation_sequences(const mlm_generation *result);

/* The tokens of row i up to and including its first eos (the decoder start
 * token counted), or sequence_length when it has none; 0 when i is out of
 * range. */
MLM_API size_t mlm_generation_length(const mlm_generation *result, size_t i);

/* Beam search with output_scores: HF's sequences_scores, one per row (the
 * sum of the log-probabilities divided by generated_length **
 * length_penalty). NULL for greedy search, sampling, or without
 * output_scores. */
MLM_API const float *mlm_generation_sequences_scores(const mlm_generation *result);

/* Warnings transformers would log for this call (e.g. min_length larger
 * than max_length). Owned by the result. */
MLM_API size_t mlm_generation_n_warnings(const mlm_generation *result);
MLM_API const char *mlm_generation_warning(const mlm_generation *result, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* MLM_GENERATION_H */
