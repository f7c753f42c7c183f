/* The trainer's state, shared by trainer.c (options, the loop, logging) and
 * checkpoint.c (what a checkpoint holds, saving and resuming). */
#ifndef MLM_TRAIN_TRAINER_IMPL_H
#define MLM_TRAIN_TRAINER_IMPL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "mlm/tokenizer.h"
#include "mlm/trainer.h"
#include "core/threads.h"
#include "nn/model_impl.h"
#include "train/dist.h"
#include "train/grad_sync.h"
#include "train/train_model.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "io/progress.h"

enum { STRAT_NO, STRAT_STEPS, STRAT_EPOCH };

typedef struct targs {
    char *output_dir;
    int eval_strategy;
    int64_t eval_steps;           /* 0: null (logging_steps) */
    double learning_rate;
    double num_train_epochs;
    int64_t max_steps;            /* <= 0: from the epochs */
    int64_t train_batch_size;
    int64_t eval_batch_size;
    int64_t accum;
    double weight_decay;
    int64_t warmup_steps;
    double warmup_ratio;
    double max_grad_norm;
    double adam_beta1, adam_beta2, adam_epsilon;
    int optim;                    /* optim_kind */
    int64_t logging_steps;
    int save_strategy;
    int64_t save_steps;
    int64_t save_total_limit;     /* 0: null (keep all) */
    int64_t seed;
    char *resume_from_checkpoint; /* NULL: null */
    int disable_tqdm;             /* -1: null (a bar when stderr is a terminal) */
    int64_t num_threads;
    int compute_accuracy;         /* run_mlm.py's compute_metrics: eval_accuracy */
    int bf16;                     /* autocast's bf16 products in training and evaluation */
    /* Seq2SeqTrainingArguments (encoder-decoder models only) */
    int predict_with_generate;
    int64_t generation_max_length; /* 0: null */
    int64_t generation_num_beams;  /* 0: null */
    char *generation_config;       /* a generation_config.json or its folder; NULL: null */
    /* data parallelism (docs/distributed.md) */
    int ddp_backend;               /* dist_backend: null (auto), "mpi", "none" */
    int64_t ddp_bucket_cap_mb;     /* 0: null (DDP's 25) */
} targs;

/* Eval batches draw their masks from collator streams far from any training
 * micro-batch index, so evaluation is the same whenever it runs. */
#define EVAL_BATCH_BASE (UINT64_C(1) << 62)
/* The Philox stream of epoch e's permutation is SHUFFLE_STREAM + e. */
#define SHUFFLE_STREAM (UINT64_C(0x53485546) << 32)

struct mlm_trainer {
    mlm_model *m;
    const mlm_collator *col;
    const mlm_dataset *train, *eval;
    const mlm_tokenizer *tok; /* NULL: checkpoints hold no tokenizer files */
    targs a;
    mlm_trainer_log_fn fn;
    void *user;
    int stop;                /* the callback asked to stop */
    int started;             /* train has been called */

    train_model *tm;         /* made by the first forward */
    optimizer opt;
    int opt_ready;
    /* num_threads - 1 workers for train and evaluate: a small model's step
     * makes ~250 parallel calls, each of which would otherwise start and
     * join a thread (~40 us). */
    par_pool *pool;

    /* The processes of the run: rank `rank` of `world` (0 of 1 alone).
     * Every rank holds the same parameters, optimizer state, counters and
     * log history; rank 0 alone prints and writes. */
    dist *dist;
    int dist_ready;          /* dist opened (or found to be the single process) */
    int rank, world;
    grad_sync *gsync;        /* the gradients' sums over the ranks (world > 1) */

    /* progress */
    int64_t global_step;
    double epoch;
    double total_loss;       /* Σ step losses (train_loss at the end) */
    double loss_since_log;   /* Σ step losses since the last loss record */
    int64_t steps_since_log;
    double eval_accuracy;    /* of the last evaluation; NaN when not computed */
    double total_flos;       /* HF's estimate: 6 · input tokens · non-embedding parameters,
                              * as TrainerState holds it (folded in by store_flos) */
    double current_flos;     /* Trainer.current_flos: counted since the last fold */
    int64_t saved_step;      /* global_step of the last checkpoint written or resumed; 0: none */
    cJSON *train_metrics;    /* train_result.metrics of the finished run, or NULL */
    cJSON *eval_metrics;     /* trainer.evaluate()'s metrics of the last evaluation, or NULL */
    cJSON *gen_metrics;      /* its ROUGE and gen_len (predict_with_generate), or NULL */
    cJSON *log_history;

    /* the schedule of the current run */
    int64_t len_dl, per_epoch, total_steps, warmup;
    double flos_per_token;   /* 6 · non-embedding parameters */

    /* Records go to the callback when there is one and, apart from that,
     * above the progress bar when the run shows one (chosen when it
     * starts, from disable_tqdm); JSON lines on stderr when neither. */
    int show_bar;
    progress_bar bar;        /* open while a run shows it */
};

/* Every option and its value (training_args.json): with seq2seq,
 * Seq2SeqTrainingArguments' too. NULL when out of memory. */
cJSON *trainer_args_json(const targs *a, int seq2seq);

/* The trainer trains an encoder-decoder (Seq2SeqTrainer's arguments and
 * evaluation apply). */
static inline int trainer_is_seq2seq(const mlm_trainer *tr)
{
    return tr->m->family->id == MLM_FAMILY_ENCODER_DECODER;
}

/* The run's schedule for the trainer's options and train set, as HF's
 * _inner_training_loop sizes it. */
typedef struct trainer_plan {
    int64_t len_dl;       /* micro-batches per epoch (each rank's) */
    int64_t per_epoch;    /* optimizer steps per epoch */
    int64_t total_steps;  /* TrainerState.max_steps */
    int64_t warmup;       /* warmup steps */
} trainer_plan;
trainer_plan trainer_plan_of(const mlm_trainer *tr);

/* TrainerState as it stands (trainer_state.json), for the given plan. NULL
 * when out of memory. */
cJSON *trainer_state_json(const mlm_trainer *tr, const trainer_plan *p);

/* cJSON_AddNumberToObject that says whether it worked. */
static inline int add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* Trainer.store_flos: the flos counted since the last fold, summed over the
 * ranks (distributed_concat(...).sum()), go into the state's total (at each
 * log record, checkpoint and the end of a run, in that order of addition,
 * so total_flos is HF's to the last bit). Collective: every rank calls it. */
mlm_status trainer_store_flos(mlm_trainer *tr);

/* The processes of the run, opened on first use from ddp_backend (or the
 * communicator mlm_trainer_set_mpi_comm gave). */
mlm_status trainer_dist(mlm_trainer *tr);

/* The learning rate of the update after `step` updates. */
static inline double trainer_lr(const mlm_trainer *tr, int64_t step)
{
    return tr->a.learning_rate * lr_linear_warmup(step, tr->warmup, tr->total_steps);
}

/* The batch index (collator masks, dropout) of rank's k-th micro-batch of
 * the run: micro-batches are numbered across the run, each epoch taking
 * len_dl of them on every rank, and the ranks' k-th ones side by side (one
 * process with world x the accumulation numbers the same micro-batches
 * alike when per-device batches are one row). */
static inline uint64_t trainer_batch_index(const mlm_trainer *tr, int64_t k, int rank)
{
    return (uint64_t)k * (uint64_t)tr->world + (uint64_t)rank;
}

/* rank's first micro-batch of the update after `step` updates. */
static inline uint64_t trainer_micro_batch(const mlm_trainer *tr, int64_t step, int rank)
{
    int64_t e = step / tr->per_epoch;
    return trainer_batch_index(tr, e * tr->len_dl + (step - e * tr->per_epoch) * tr->a.accum,
                               rank);
}

#endif
