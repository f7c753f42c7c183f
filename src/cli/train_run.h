/* What `mlm train` / `mlm eval` (run_mlm.py) and `mlm train-summarization`
 * (run_summarization.py) share: the parts of an HF example script's main()
 * that are the same in both — the output_dir check and the checkpoint to
 * resume from, the model and tokenizer, the Trainer with the
 * TrainingArguments given, trainer.train() and what follows it
 * (save_model's tokenizer files, train_samples, log_metrics, save_metrics,
 * save_state) — on the public API. Each command keeps what its script does
 * on its own: the data, the collator, evaluation and prediction.
 *
 * The functions that return an int return 0, or the exit status after
 * printing why (commands.h's EXIT_RUNTIME / EXIT_USAGE). */
#ifndef MLM_CLI_TRAIN_RUN_H
#define MLM_CLI_TRAIN_RUN_H

#include <cjson/cJSON.h>
#include <mlm.h>

#include "commands.h"
#include "train_args.h"

/* An option a command computes and hands to the trainer (not a flag's own
 * value), e.g. run_summarization.py's generation_max_length; errors name
 * the flag it comes from. */
typedef struct run_option {
    const char *name; /* mlm_trainer_set's */
    const char *flag; /* for messages */
    char value[32];
} run_option;

typedef struct train_run {
    train_args a;
    int do_train, do_eval, do_predict;
    const char *out_dir, *model_dir, *config_path, *tok_path;
    char *resume;            /* the checkpoint to resume from, or NULL */
    int detected;            /* resume is the last checkpoint of output_dir */
    long long seed;
    mlm_tokenizer *tok;      /* set up for the data preparation */
    mlm_tokenizer *save_tok; /* as loaded, without the data's truncation: for checkpoints */
    mlm_model *model;
    mlm_collator *col;
    mlm_dataset *train, *eval, *test;
    mlm_trainer *tr;
    int print_records;       /* log records as JSON lines on stdout */
    int rank, world;         /* the trainer's processes (mpirun -np world); rank 0 prints
                              * and writes, as HF's is_world_process_zero() */
    run_option extra[4];     /* computed trainer options, set after the flags' */
    int n_extra;
} train_run;

/* "mlm: msg" on stderr; EXIT_USAGE. */
int run_usage_fail(const char *msg);

int run_is_dir(const char *path);

/* mkdir -p, naming --output_dir on failure (-1). */
int run_make_dirs(const char *path);

/* The flags both scripts read the same way: output_dir, model_name_or_path,
 * config_name, tokenizer_name and seed, and the model's source (one of
 * model_name_or_path and config_name). */
int run_resolve_model(train_run *r);

/* The scripts' "Detecting last checkpoint": a non-empty output_dir is
 * refused unless it holds a checkpoint (then training resumes from the
 * last one) or --overwrite_output_dir is given; --resume_from_checkpoint
 * wins. */
int run_check_output_dir(train_run *r);

/* AutoConfig.from_pretrained(path): a folder's config.json or a file,
 * malloc'ed; NULL after naming --flag. */
char *run_read_config(const char *path, const char *flag, size_t *len);

/* The model's config.json (model_name_or_path's, or config_name), parsed:
 * what the script reads off model.config. NULL after saying why. */
cJSON *run_model_config(const train_run *r);

/* The tokenizer, and the model: loaded from model_dir or made from
 * config_path with random weights (seeded by --seed). A tokenizer larger
 * than the model's vocabulary is refused (no resize_token_embeddings). */
int run_load_model(train_run *r);

/* Every trainer option (the flags' and r->extra) checked before the data is
 * prepared (which may take long), on a trainer over a stand-in dataset. */
int run_check_options(const train_run *r);

/* The trainer over train (the set it trains on, or any non-empty one when
 * it does not train) and eval (NULL: none), with the options, the log
 * callback and the tokenizer its checkpoints save. */
int run_make_trainer(train_run *r, const mlm_dataset *train, const mlm_dataset *eval);

/* One of the trainer's JSON documents (two-call sizing) as text, malloc'ed;
 * NULL after printing why. */
typedef mlm_status (*trainer_json_fn)(const mlm_trainer *, char *, size_t, size_t *);
char *run_trainer_text(const mlm_trainer *tr, trainer_json_fn fn);

/* json (a JSON object, malloc'ed; taken) with "key": v added, as the
 * scripts add to the trainer's metrics; NULL when out of memory. */
char *run_with_number(char *json, const char *key, double v);

/* The scripts' trainer.log_metrics(split, json) on stdout and
 * save_metrics(split, json) (and save_state after "train"). */
int run_report(const train_run *r, const char *split, const char *json);

/* trainer.train() and what the scripts do after it: save_model (the
 * trainer saved the model; the tokenizer files here), train_samples added
 * (the rows trained on: min(max_train_samples, len(train_dataset)) is
 * that), log_metrics, save_metrics, save_state. */
int run_do_train(train_run *r);

/* train_run_free, then the command's exit status. A failed rank of a
 * data-parallel run leaves at once, without MPI_Finalize: finalising waits
 * for the other ranks, who may be waiting in a collective for this one (an
 * output file only rank 0 writes, say), so mpirun ends the job instead. */
int train_run_end(train_run *r, int rc);
void train_run_free(train_run *r);

#endif
