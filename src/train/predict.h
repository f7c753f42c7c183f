/* Generation-based evaluation of encoder-decoder models (the trainer's
 * predict_with_generate): generate on each eval batch, decode, and
 * run_summarization.py's ROUGE and gen_len at the end (train/predict.c). */
#ifndef MLM_TRAIN_PREDICT_H
#define MLM_TRAIN_PREDICT_H

#include <cjson/cJSON.h>

#include "mlm/generation.h"
#include "train/trainer_impl.h"

typedef struct predict_state {
    mlm_generation_config *gen; /* the evaluation's generation options */
    int32_t pad_id;             /* the tokenizer's pad (else eos): -100 and gen_len */
    char **preds, **refs;       /* decoded and stripped, one per eval row */
    size_t n, cap;
    double gen_tokens;          /* Σ over predictions of tokens != pad_id */
} predict_state;

/* MLM_ERR_STATE without a tokenizer; errors of the generation options name
 * the trainer option at fault. */
mlm_status predict_begin(const mlm_trainer *tr, predict_state *ps);
/* Generate for one eval batch and keep its decoded predictions and labels. */
mlm_status predict_batch(const mlm_trainer *tr, predict_state *ps, const mlm_batch *b);
/* eval_rouge1, eval_rouge2, eval_rougeL, eval_rougeLsum, eval_gen_len
 * added to metrics, in that order. */
mlm_status predict_metrics(const mlm_trainer *tr, predict_state *ps, cJSON *metrics);
void predict_end(predict_state *ps);

#endif
