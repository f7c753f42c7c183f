/* Generation-based evaluation of encoder-decoder models (the trainer's
 * predict_with_generate): generate on each eval batch, decode, and
 * run_summarization.py's ROUGE and gen_len at the end; and what
 * mlm_trainer_predict returns (mlm_prediction: the metrics and, with
 * generation, the generated rows) (train/predict.c). */
#ifndef MLM_TRAIN_PREDICT_H
#define MLM_TRAIN_PREDICT_H

#include <cjson/cJSON.h>

#include "mlm/generation.h"
#include "train/trainer_impl.h"

typedef struct predict_state {
    mlm_generation_config *gen; /* the evaluation's generation options */
    int32_t pad_id;             /* the tokenizer's pad (else eos): -100 and gen_len */
    char **preds, **refs;       /* decoded and stripped, one per eval row */
    int keep_ids;               /* keep the generated rows too (mlm_trainer_predict) */
    int32_t **ids;              /* with keep_ids: each row as generate returned it */
    size_t *ids_len;
    size_t n, cap;
    double gen_tokens;          /* Σ over predictions of tokens != pad_id */
} predict_state;

/* MLM_ERR_STATE without a tokenizer; errors of the generation options name
 * the trainer option at fault. */
mlm_status predict_begin(const mlm_trainer *tr, predict_state *ps);
/* Generate for one eval batch and keep its decoded predictions and labels. */
mlm_status predict_batch(const mlm_trainer *tr, predict_state *ps, const mlm_batch *b);
/* {prefix}_rouge1, _rouge2, _rougeL, _rougeLsum, _gen_len added to
 * metrics, in that order (prefix "eval": evaluate's keys). */
mlm_status predict_metrics(const mlm_trainer *tr, predict_state *ps, const char *prefix,
                           cJSON *metrics);
void predict_end(predict_state *ps);

/* The result of mlm_trainer_predict: metrics (taken) and, when ps kept
 * them, the generated rows (taken from ps, which predict_end then frees
 * without them). NULL when out of memory (metrics freed). */
mlm_prediction *prediction_new(predict_state *ps, cJSON *metrics);

#endif
