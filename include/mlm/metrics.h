/*
 * mlm/metrics.h — evaluation metrics. ROUGE as the rouge_score package
 * computes it (google-research/rouge, which Hugging Face's
 * evaluate.load("rouge") wraps), with the same numbers:
 *
 *     mlm_rouge *r;
 *     mlm_rouge_result *res;
 *     mlm_rouge_new("{\"use_stemmer\": true}", &r);
 *     mlm_rouge_score_batch(r, predictions, NULL, references, NULL, n, &res);
 *     for (size_t t = 0; t < mlm_rouge_num_types(r); t++)
 *         printf("%s %.4f\n", mlm_rouge_type_name(r, t),
 *                mlm_rouge_result_mean(res, t, MLM_ROUGE_FMEASURE));
 *     mlm_rouge_result_free(res);
 *     mlm_rouge_free(r);
 *
 * What is computed, as rouge_score does:
 *   - tokens: the text lowercased (Python's str.lower(), so 'İ' gives "i"
 *     and the Kelvin sign 'K' gives "k"), every run of characters outside
 *     [a-z0-9] a separator (Hangul, accented letters and punctuation
 *     included: a Korean text has no tokens), and with "use_stemmer" each
 *     token longer than 3 characters replaced by its stem from NLTK 3.8's
 *     PorterStemmer() in its default mode (NLTK_EXTENSIONS; not Snowball's
 *     "porter", which is the original algorithm and stems some words
 *     differently);
 *   - "rougeN" (N = 1..9): the n-grams both texts share, counted with
 *     their multiplicity; precision over the prediction's n-grams, recall
 *     over the reference's (each count at least 1);
 *   - "rougeL": the longest common subsequence of the two token lists;
 *   - "rougeLsum": summary-level LCS with the texts' lines ("\n") as
 *     sentences: the union LCS of each reference line with all prediction
 *     lines, each token hit at most as often as it occurs in both texts
 *     (ROUGE-1.5.5's bookkeeping). Put a newline between sentences first:
 *     run_summarization.py does that with nltk.sent_tokenize;
 *   - F = 2PR / (P + R), 0 when P + R = 0; any score is 0 when a text has
 *     no tokens.
 * rouge_score's score(target, prediction) takes the reference first; the
 * functions here take the prediction first, as evaluate's compute(
 * predictions=..., references=...) does.
 *
 * The mean over pairs is the plain mean of each pair's score. evaluate's
 * default (use_aggregator=True) instead reports the "mid" of rouge_score's
 * BootstrapAggregator: the median of 1000 means of pairs resampled with
 * replacement (numpy's global RNG), which differs from the plain mean by a
 * random amount (1e-4 to 8e-4 on the 234 to 1747 pairs of the test corpora:
 * tests/reference/rouge_reference.py bootstrap) and changes from run to run
 * unless numpy is seeded. With
 * use_aggregator=False evaluate returns each pair's F-measure
 * (mlm_rouge_result_to_json with per_pair 1).
 *
 * Thread safety: a scorer may be used by any number of threads at once
 * once configured (mlm_rouge_set_threads must not run concurrently with
 * scoring); results are immutable.
 */
#ifndef MLM_METRICS_H
#define MLM_METRICS_H

#include "mlm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_rouge mlm_rouge;
typedef struct mlm_rouge_result mlm_rouge_result;

/* The three numbers of each ROUGE type (rouge_score's Score fields). The
 * values are part of the ABI. */
typedef enum mlm_rouge_measure {
    MLM_ROUGE_PRECISION = 0,
    MLM_ROUGE_RECALL = 1,
    MLM_ROUGE_FMEASURE = 2
} mlm_rouge_measure;

/* A scorer. options_json (NULL or "" for the defaults) is a JSON object:
 *   "rouge_types": a list of "rouge1".."rouge9", "rougeL", "rougeLsum"
 *                  (default: ["rouge1", "rouge2", "rougeL", "rougeLsum"],
 *                  evaluate's); results keep this order;
 *   "use_stemmer": bool (false);
 *   "split_summaries": false only: rouge_score's true splits sentences with
 *                  nltk.sent_tokenize (Punkt), which libmlm does not have
 *                  (MLM_ERR_UNSUPPORTED); put newlines between sentences.
 * An unknown key, an unknown or repeated type or an empty list is
 * MLM_ERR_INVALID_ARGUMENT naming it; malformed JSON MLM_ERR_FORMAT. */
MLM_API mlm_status mlm_rouge_new(const char *options_json, mlm_rouge **out);

/* Accepts NULL. */
MLM_API void mlm_rouge_free(mlm_rouge *r);

/* Threads mlm_rouge_score_batch uses (default 1; nthreads >= 1).
 * The results do not depend on it. */
MLM_API mlm_status mlm_rouge_set_threads(mlm_rouge *r, int nthreads);

/* The types, in the order of the options; 0 / NULL for a NULL scorer or an
 * index out of range. The name is owned by the scorer. */
MLM_API size_t mlm_rouge_num_types(const mlm_rouge *r);
MLM_API const char *mlm_rouge_type_name(const mlm_rouge *r, size_t type);

/* One pair: texts of the given byte lengths (UTF-8; they may hold U+0000).
 * scores[3 * t + m] receives type t's measure m (mlm_rouge_measure), so
 * n_scores must be at least 3 * mlm_rouge_num_types(r). Invalid UTF-8 is
 * MLM_ERR_FORMAT naming the text and byte. */
MLM_API mlm_status mlm_rouge_score(const mlm_rouge *r, const char *prediction,
                                   size_t prediction_len, const char *reference,
                                   size_t reference_len, double *scores, size_t n_scores);

/* n pairs (predictions[i], references[i]) scored on the scorer's threads.
 * The lengths may be NULL: the texts then end at their first NUL. n may
 * be 0 (the means are then 0). On failure no result is returned and the
 * message names the pair ("pair 3: prediction: invalid UTF-8 at byte 5",
 * counting from 0). */
MLM_API mlm_status mlm_rouge_score_batch(const mlm_rouge *r, const char *const *predictions,
                                         const size_t *prediction_lens,
                                         const char *const *references,
                                         const size_t *reference_lens, size_t n,
                                         mlm_rouge_result **out);

/* Accepts NULL. */
MLM_API void mlm_rouge_result_free(mlm_rouge_result *res);

/* The number of pairs, and the types (as the scorer had them). */
MLM_API size_t mlm_rouge_result_num_pairs(const mlm_rouge_result *res);
MLM_API size_t mlm_rouge_result_num_types(const mlm_rouge_result *res);
MLM_API const char *mlm_rouge_result_type_name(const mlm_rouge_result *res, size_t type);

/* Pair i's score; NaN for an index or measure out of range. */
MLM_API double mlm_rouge_result_score(const mlm_rouge_result *res, size_t pair, size_t type,
                                      mlm_rouge_measure measure);

/* The mean over the pairs (summed in pair order, then divided by their
 * number); NaN out of range. */
MLM_API double mlm_rouge_result_mean(const mlm_rouge_result *res, size_t type,
                                     mlm_rouge_measure measure);

/* JSON as evaluate's rouge returns it, numbers as Python's json.dumps
 * writes floats: per_pair 0 gives {"rouge1": mean F, ...} (the plain mean
 * where evaluate's default gives the bootstrap mid, see above); per_pair 1
 * gives {"rouge1": [F of pair 0, F of pair 1, ...], ...}, evaluate's
 * use_aggregator=False. Two-call sizing: writes at most cap bytes including
 * the NUL; *needed receives the full size + 1. */
MLM_API mlm_status mlm_rouge_result_to_json(const mlm_rouge_result *res, int per_pair,
                                            char *buf, size_t cap, size_t *needed);

/* Pair i as rouge_score's score() returns it, as JSON:
 * {"rouge1": {"precision": p, "recall": r, "fmeasure": f}, ...}. Two-call
 * sizing as above; an index out of range is MLM_ERR_RANGE. */
MLM_API mlm_status mlm_rouge_result_pair_to_json(const mlm_rouge_result *res, size_t pair,
                                                 char *buf, size_t cap, size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* MLM_METRICS_H */
