/* The arguments of `mlm train` / `mlm eval` (run_mlm.py's ModelArguments,
 * DataTrainingArguments and the TrainingArguments the Trainer supports) and
 * of `mlm train-summarization` (run_summarization.py's, with
 * Seq2SeqTrainingArguments), by their Hugging Face names: one table of
 * flags, each marked with the scripts that take it, as HfArgumentParser takes them: --name value,
 * --name=value, booleans bare (--do_train) or with a value (--do_train false),
 * dashes or underscores; or one JSON file (--config FILE, or a lone FILE.json
 * argument as `python run_mlm.py args.json`) whose keys are the same names.
 * The file is applied first; flags on the command line override it wherever
 * they stand (as HfArgumentParser's args files).
 *
 * Values are checked for their type when parsed; the Trainer's own ranges are
 * checked when they are handed to it (mlm_trainer_set), and the errors name
 * the flag. An unknown flag or key is an error. */
#ifndef MLM_CLI_TRAIN_ARGS_H
#define MLM_CLI_TRAIN_ARGS_H

#include <stdio.h>

enum train_flag {
    /* ModelArguments */
    F_MODEL_NAME_OR_PATH,
    F_CONFIG_NAME,
    F_TOKENIZER_NAME,
    F_MODEL_TYPE,
    F_CONFIG_OVERRIDES,
    F_CACHE_DIR,
    F_USE_FAST_TOKENIZER,
    F_MODEL_REVISION,
    F_TOKEN,
    F_USE_AUTH_TOKEN,
    F_TRUST_REMOTE_CODE,
    F_TORCH_DTYPE,
    F_LOW_CPU_MEM_USAGE,
    F_RESIZE_POSITION_EMBEDDINGS,
    /* DataTrainingArguments */
    F_LANG,
    F_DATASET_NAME,
    F_DATASET_CONFIG_NAME,
    F_TEXT_COLUMN,
    F_SUMMARY_COLUMN,
    F_TRAIN_FILE,
    F_VALIDATION_FILE,
    F_TRAIN_DATASET,
    F_VALIDATION_DATASET,
    F_TEST_FILE,
    F_OVERWRITE_CACHE,
    F_VALIDATION_SPLIT_PERCENTAGE,
    F_MAX_SEQ_LENGTH,
    F_PREPROCESSING_NUM_WORKERS,
    F_MLM_PROBABILITY,
    F_LINE_BY_LINE,
    F_PAD_TO_MAX_LENGTH,
    F_MAX_SOURCE_LENGTH,
    F_MAX_TARGET_LENGTH,
    F_VAL_MAX_TARGET_LENGTH,
    F_MAX_TRAIN_SAMPLES,
    F_MAX_EVAL_SAMPLES,
    F_MAX_PREDICT_SAMPLES,
    F_NUM_BEAMS,
    F_IGNORE_PAD_TOKEN_FOR_LOSS,
    F_SOURCE_PREFIX,
    F_FORCED_BOS_TOKEN,
    F_STREAMING,
    /* TrainingArguments */
    F_OUTPUT_DIR,
    F_OVERWRITE_OUTPUT_DIR,
    F_DO_TRAIN,
    F_DO_EVAL,
    F_DO_PREDICT,     /* run_summarization.py's */
    F_MLM_DO_PREDICT, /* run_mlm.py's: accepted and ignored */
    F_EVAL_STRATEGY,
    F_EVAL_STEPS,
    F_LEARNING_RATE,
    F_NUM_TRAIN_EPOCHS,
    F_MAX_STEPS,
    F_TRAIN_BATCH_SIZE,
    F_EVAL_BATCH_SIZE,
    F_GRADIENT_ACCUMULATION_STEPS,
    F_WEIGHT_DECAY,
    F_WARMUP_STEPS,
    F_WARMUP_RATIO,
    F_MAX_GRAD_NORM,
    F_ADAM_BETA1,
    F_ADAM_BETA2,
    F_ADAM_EPSILON,
    F_LR_SCHEDULER_TYPE,
    F_OPTIM,
    F_LOGGING_STRATEGY,
    F_LOGGING_STEPS,
    F_SAVE_STRATEGY,
    F_SAVE_STEPS,
    F_SAVE_TOTAL_LIMIT,
    F_SAVE_SAFETENSORS,
    F_SEED,
    F_DATA_SEED,
    F_NUM_THREADS,
    F_DTYPE,
    F_RESUME_FROM_CHECKPOINT,
    F_FP16,
    F_BF16,
    F_DDP_BACKEND,
    F_DDP_BUCKET_CAP_MB,
    F_PUSH_TO_HUB,
    F_LOAD_BEST_MODEL_AT_END,
    F_REPORT_TO,
    F_LOGGING_DIR,
    F_RUN_NAME,
    F_DISABLE_TQDM,
    F_LOG_LEVEL,
    F_USE_CPU,
    F_NO_CUDA,
    F_DATALOADER_NUM_WORKERS,
    /* Seq2SeqTrainingArguments */
    F_SORTISH_SAMPLE,
    F_PREDICT_WITH_GENERATE,
    F_GENERATION_MAX_LENGTH,
    F_GENERATION_NUM_BEAMS,
    F_GENERATION_CONFIG,
    F_COUNT
};

/* The scripts whose flags a command takes. */
enum train_script { SCRIPT_MLM = 1, SCRIPT_SUMMARIZATION = 2 };

typedef struct train_args {
    int script;                   /* SCRIPT_MLM or SCRIPT_SUMMARIZATION */
    const char *command;          /* "train": for "see mlm help train" */
    char *val[F_COUNT];           /* NULL: not given (or null in the JSON file) */
    unsigned char from_cli[F_COUNT];
    unsigned char is_null[F_COUNT]; /* null in the JSON file: Python's None */
    char *config_path;            /* the JSON file, or NULL */
} train_args;

/* Parse argv[first..argc) (and the JSON file it names) against the flags of
 * script, for `mlm <command>`. Returns 0, 1 when --help/-h was asked for
 * (nothing else is checked), or -1 after printing the error ("mlm:
 * --learning_rate: ...") to stderr; a flag of another script is an unknown
 * flag, as HfArgumentParser has it. Free with train_args_free whatever the
 * result. */
int train_args_parse(train_args *a, int argc, char **argv, int first, int script,
                     const char *command);
void train_args_free(train_args *a);

/* The value of a flag: NULL / the default when not given. The value was
 * checked for its type when parsed, so these cannot fail. */
const char *ta_str(const train_args *a, int f);
long long ta_int(const train_args *a, int f, long long dflt);
double ta_float(const train_args *a, int f, double dflt);
int ta_bool(const train_args *a, int f, int dflt);

/* "learning_rate" */
const char *ta_name(int f);

/* The mlm_trainer_set option a flag sets ("eval_strategy"), or NULL. */
const char *ta_trainer_option(int f);

/* One stderr note per flag given that libmlm accepts and ignores (and why). */
void train_args_notes(const train_args *a);

/* The flag was given as null in the JSON file (None, where the script
 * tells None from its default). */
int ta_is_null(const train_args *a, int f);

/* The flag list of `mlm help train` / `mlm train --help` (script's flags;
 * intro: what the arguments are, outputs: what the run leaves). */
void train_args_help(FILE *out, const char *command, int script, const char *intro,
                     const char *outputs);

#endif
