#include "train_args.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "cli_file.h"

enum kind { K_STR, K_INT, K_FLOAT, K_BOOL };
enum route {
    R_USE,     /* the command reads it */
    R_TRAINER, /* handed to mlm_trainer_set under its name */
    R_IGNORE,  /* accepted, noted on stderr, no effect (help says why) */
    R_REJECT   /* a run_mlm.py flag libmlm cannot honour (help says why) */
};

typedef struct flag_def {
    const char *name;
    unsigned char kind, route;
    const char *only; /* "a|b": the values libmlm supports; NULL: any */
    const char *help;
    unsigned char scripts; /* SCRIPT_* bits of the scripts that take it; 0: every one */
} flag_def;

/* The scripts of a flag in the table. */
#define ALL_SCRIPTS 0
#define MLM_ONLY SCRIPT_MLM
#define S2S_ONLY SCRIPT_SUMMARIZATION

static const flag_def defs[F_COUNT] = {
    [F_MODEL_NAME_OR_PATH] = {"model_name_or_path", K_STR, R_USE, NULL,
                              "model folder (config.json + model.safetensors) to start from",
                              ALL_SCRIPTS},
    [F_CONFIG_NAME] = {"config_name", K_STR, R_USE, NULL,
                       "config.json (or its folder) of a model trained from scratch (without "
                       "model_name_or_path)", ALL_SCRIPTS},
    [F_TOKENIZER_NAME] = {"tokenizer_name", K_STR, R_USE, NULL,
                          "tokenizer folder or tokenizer.json (default: model_name_or_path)",
                          ALL_SCRIPTS},
    [F_MODEL_TYPE] = {"model_type", K_STR, R_USE, NULL,
                      "ignored beside a model or config; alone it is not supported "
                      "(no built-in default configs): pass --config_name", MLM_ONLY},
    [F_CONFIG_OVERRIDES] = {"config_overrides", K_STR, R_REJECT, NULL,
                            "not supported: edit the config.json given to --config_name",
                            MLM_ONLY},
    [F_CACHE_DIR] = {"cache_dir", K_STR, R_IGNORE, NULL,
                     "ignored: libmlm reads local folders, nothing is downloaded", ALL_SCRIPTS},
    [F_USE_FAST_TOKENIZER] = {"use_fast_tokenizer", K_BOOL, R_USE, "true",
                              "libmlm's tokenizers are the fast (HF tokenizers) ones: true only",
                              ALL_SCRIPTS},
    [F_MODEL_REVISION] = {"model_revision", K_STR, R_IGNORE, NULL,
                          "ignored: a Hub option; local folders have one revision", ALL_SCRIPTS},
    [F_TOKEN] = {"token", K_STR, R_IGNORE, NULL, "ignored: a Hub option", ALL_SCRIPTS},
    [F_USE_AUTH_TOKEN] = {"use_auth_token", K_BOOL, R_IGNORE, NULL, "ignored: a Hub option",
                          MLM_ONLY},
    [F_TRUST_REMOTE_CODE] = {"trust_remote_code", K_BOOL, R_IGNORE, NULL,
                             "ignored: no Python code is ever run", ALL_SCRIPTS},
    [F_TORCH_DTYPE] = {"torch_dtype", K_STR, R_USE, "auto|float32",
                       "libmlm trains in float32: auto or float32 only", MLM_ONLY},
    [F_LOW_CPU_MEM_USAGE] = {"low_cpu_mem_usage", K_BOOL, R_IGNORE, NULL,
                             "ignored: checkpoints are memory-mapped anyway", MLM_ONLY},
    [F_RESIZE_POSITION_EMBEDDINGS] = {"resize_position_embeddings", K_BOOL, R_IGNORE, NULL,
                                      "ignored: T5 has relative positions, no position "
                                      "embeddings to resize", S2S_ONLY},

    [F_LANG] = {"lang", K_STR, R_IGNORE, NULL,
                "ignored: only multilingual (mBART) tokenizers use it", S2S_ONLY},

    [F_DATASET_NAME] = {"dataset_name", K_STR, R_REJECT, NULL,
                        "not supported (no Hub download): pass --train_file", ALL_SCRIPTS},
    [F_DATASET_CONFIG_NAME] = {"dataset_config_name", K_STR, R_REJECT, NULL,
                               "not supported (no Hub download)", ALL_SCRIPTS},
    [F_TEXT_COLUMN] = {"text_column", K_STR, R_USE, NULL,
                       "the column of the full texts (the file's first column)", S2S_ONLY},
    [F_SUMMARY_COLUMN] = {"summary_column", K_STR, R_USE, NULL,
                          "the column of the summaries (the file's second column)", S2S_ONLY},
    [F_TRAIN_FILE] = {"train_file", K_STR, R_USE, NULL,
                      "training data: .csv, .json or .jsonl (JSON Lines); mlm train: .txt too "
                      "(a row per line)", ALL_SCRIPTS},
    [F_VALIDATION_FILE] = {"validation_file", K_STR, R_USE, NULL,
                           "evaluation data (mlm train's default: the head of train_file)",
                           ALL_SCRIPTS},
    [F_TRAIN_DATASET] = {"train_dataset", K_STR, R_USE, NULL,
                         "instead of train_file: a dataset file mlm dataset wrote (DIR/train), "
                         "tokenized and grouped already; mapped, not copied (under mpirun each "
                         "rank reads only its rows); HF has no such flag", MLM_ONLY},
    [F_VALIDATION_DATASET] = {"validation_dataset", K_STR, R_USE, NULL,
                              "instead of validation_file: such a file (DIR/test or "
                              "DIR/validation)", MLM_ONLY},
    [F_TEST_FILE] = {"test_file", K_STR, R_USE, NULL,
                     "prediction data (do_predict): .csv, .json or .jsonl", S2S_ONLY},
    [F_OVERWRITE_CACHE] = {"overwrite_cache", K_BOOL, R_IGNORE, NULL,
                           "ignored: libmlm keeps no dataset cache", ALL_SCRIPTS},
    [F_VALIDATION_SPLIT_PERCENTAGE] = {"validation_split_percentage", K_INT, R_USE, NULL,
                                       "without validation_file: train[:N%] evaluates, "
                                       "train[N%:] trains (5)", MLM_ONLY},
    [F_MAX_SEQ_LENGTH] = {"max_seq_length", K_INT, R_USE, NULL,
                          "block / truncation length (tokenizer's model_max_length, at most "
                          "1024)", MLM_ONLY},
    [F_PREPROCESSING_NUM_WORKERS] = {"preprocessing_num_workers", K_INT, R_USE, NULL,
                                     "tokenizer threads (default: num_threads); the result "
                                     "does not depend on it", ALL_SCRIPTS},
    [F_MLM_PROBABILITY] = {"mlm_probability", K_FLOAT, R_USE, NULL,
                           "share of tokens masked (0.15)", MLM_ONLY},
    [F_LINE_BY_LINE] = {"line_by_line", K_BOOL, R_USE, NULL,
                        "one sample per non-blank line instead of grouped blocks (false)",
                        MLM_ONLY},
    [F_PAD_TO_MAX_LENGTH] = {"pad_to_max_length", K_BOOL, R_USE, NULL,
                             "pad every sample to the maximum length instead of each batch's "
                             "longest (false): mlm train with line_by_line, max_seq_length; "
                             "train-summarization, max_source_length and the target's",
                             ALL_SCRIPTS},
    [F_MAX_SOURCE_LENGTH] = {"max_source_length", K_INT, R_USE, NULL,
                             "truncate the texts (prefix included) to N tokens (1024)",
                             S2S_ONLY},
    [F_MAX_TARGET_LENGTH] = {"max_target_length", K_INT, R_USE, NULL,
                             "truncate the training summaries to N tokens (128)", S2S_ONLY},
    [F_VAL_MAX_TARGET_LENGTH] = {"val_max_target_length", K_INT, R_USE, NULL,
                                 "the same for validation and test summaries, and generate()'s "
                                 "max_length (max_target_length)", S2S_ONLY},
    [F_MAX_TRAIN_SAMPLES] = {"max_train_samples", K_INT, R_USE, NULL,
                             "keep the first N training samples", ALL_SCRIPTS},
    [F_MAX_EVAL_SAMPLES] = {"max_eval_samples", K_INT, R_USE, NULL,
                            "keep the first N evaluation samples", ALL_SCRIPTS},
    [F_MAX_PREDICT_SAMPLES] = {"max_predict_samples", K_INT, R_USE, NULL,
                               "keep the first N test samples", S2S_ONLY},
    [F_NUM_BEAMS] = {"num_beams", K_INT, R_USE, NULL,
                     "beams of generate() in evaluate and predict (1); null in a JSON file: "
                     "generation_num_beams", S2S_ONLY},
    [F_IGNORE_PAD_TOKEN_FOR_LOSS] = {"ignore_pad_token_for_loss", K_BOOL, R_USE, NULL,
                                     "padded label positions are -100, out of the loss (true)",
                                     S2S_ONLY},
    [F_SOURCE_PREFIX] = {"source_prefix", K_STR, R_USE, NULL,
                         "put in front of every text (\"summarize: \" for T5) (none)",
                         S2S_ONLY},
    [F_FORCED_BOS_TOKEN] = {"forced_bos_token", K_STR, R_IGNORE, NULL,
                            "ignored: only multilingual (mBART) tokenizers use it", S2S_ONLY},
    [F_STREAMING] = {"streaming", K_BOOL, R_USE, "false", "streaming datasets: false only",
                     MLM_ONLY},

    [F_OUTPUT_DIR] = {"output_dir", K_STR, R_TRAINER, NULL,
                      "where the model, checkpoints and results go (trainer_output)", ALL_SCRIPTS},
    [F_OVERWRITE_OUTPUT_DIR] = {"overwrite_output_dir", K_BOOL, R_USE, NULL,
                                "train into a non-empty output_dir without resuming (false)",
                                ALL_SCRIPTS},
    [F_DO_TRAIN] = {"do_train", K_BOOL, R_USE, NULL, "train (false; mlm train: true)", ALL_SCRIPTS},
    [F_DO_EVAL] = {"do_eval", K_BOOL, R_USE, NULL,
                   "evaluate at the end (false; mlm eval: true)", ALL_SCRIPTS},
    [F_DO_PREDICT] = {"do_predict", K_BOOL, R_USE, NULL,
                      "predict on test_file: predict_results.json, generated_predictions.txt "
                      "(false)", S2S_ONLY},
    [F_MLM_DO_PREDICT] = {"do_predict", K_BOOL, R_IGNORE, NULL, "ignored, as run_mlm.py does",
                          MLM_ONLY},
    [F_EVAL_STRATEGY] = {"eval_strategy", K_STR, R_TRAINER, "no|steps|epoch",
                         "no | steps | epoch (no); alias evaluation_strategy", ALL_SCRIPTS},
    [F_EVAL_STEPS] = {"eval_steps", K_FLOAT, R_TRAINER, NULL,
                      "steps between evaluations, or a ratio of the total (logging_steps)",
                      ALL_SCRIPTS},
    [F_LEARNING_RATE] = {"learning_rate", K_FLOAT, R_TRAINER, NULL, "the optimizer's rate (5e-05)",
                         ALL_SCRIPTS},
    [F_NUM_TRAIN_EPOCHS] = {"num_train_epochs", K_FLOAT, R_TRAINER, NULL, "epochs (3.0)",
                            ALL_SCRIPTS},
    [F_MAX_STEPS] = {"max_steps", K_INT, R_TRAINER, NULL,
                     "optimizer steps; overrides num_train_epochs (-1)", ALL_SCRIPTS},
    [F_TRAIN_BATCH_SIZE] = {"per_device_train_batch_size", K_INT, R_TRAINER, NULL, "(8)",
                            ALL_SCRIPTS},
    [F_EVAL_BATCH_SIZE] = {"per_device_eval_batch_size", K_INT, R_TRAINER, NULL, "(8)",
                           ALL_SCRIPTS},
    [F_GRADIENT_ACCUMULATION_STEPS] = {"gradient_accumulation_steps", K_INT, R_TRAINER, NULL,
                                       "(1)", ALL_SCRIPTS},
    [F_WEIGHT_DECAY] = {"weight_decay", K_FLOAT, R_TRAINER, NULL, "(0.0)", ALL_SCRIPTS},
    [F_WARMUP_STEPS] = {"warmup_steps", K_INT, R_TRAINER, NULL, "(0)", ALL_SCRIPTS},
    [F_WARMUP_RATIO] = {"warmup_ratio", K_FLOAT, R_TRAINER, NULL, "(0.0)", ALL_SCRIPTS},
    [F_MAX_GRAD_NORM] = {"max_grad_norm", K_FLOAT, R_TRAINER, NULL, "(1.0)", ALL_SCRIPTS},
    [F_ADAM_BETA1] = {"adam_beta1", K_FLOAT, R_TRAINER, NULL, "(0.9)", ALL_SCRIPTS},
    [F_ADAM_BETA2] = {"adam_beta2", K_FLOAT, R_TRAINER, NULL, "(0.999)", ALL_SCRIPTS},
    [F_ADAM_EPSILON] = {"adam_epsilon", K_FLOAT, R_TRAINER, NULL, "(1e-08)", ALL_SCRIPTS},
    [F_LR_SCHEDULER_TYPE] = {"lr_scheduler_type", K_STR, R_USE, "linear", "linear only",
                             ALL_SCRIPTS},
    [F_OPTIM] = {"optim", K_STR, R_TRAINER, NULL,
                 "adamw_torch | adamw_hf (the seed's transformers.AdamW) | adafactor "
                 "(adamw_torch)", ALL_SCRIPTS},
    [F_LOGGING_STRATEGY] = {"logging_strategy", K_STR, R_USE, "steps", "steps only", ALL_SCRIPTS},
    [F_LOGGING_STEPS] = {"logging_steps", K_FLOAT, R_TRAINER, NULL,
                         "steps between log records, or a ratio of the total (500)", ALL_SCRIPTS},
    [F_SAVE_STRATEGY] = {"save_strategy", K_STR, R_TRAINER, "no|steps|epoch",
                         "no | steps | epoch (steps)", ALL_SCRIPTS},
    [F_SAVE_STEPS] = {"save_steps", K_FLOAT, R_TRAINER, NULL,
                      "steps between checkpoints, or a ratio of the total (500)", ALL_SCRIPTS},
    [F_SAVE_TOTAL_LIMIT] = {"save_total_limit", K_INT, R_TRAINER, NULL,
                            "checkpoints kept (all)", ALL_SCRIPTS},
    [F_SAVE_SAFETENSORS] = {"save_safetensors", K_BOOL, R_USE, "true",
                            "checkpoints are safetensors: true only", ALL_SCRIPTS},
    [F_SEED] = {"seed", K_INT, R_TRAINER, NULL,
                "model initialisation, shuffling, masks and dropout (42)", ALL_SCRIPTS},
    [F_DATA_SEED] = {"data_seed", K_INT, R_REJECT, NULL,
                     "not supported: the sampler follows seed", ALL_SCRIPTS},
    [F_NUM_THREADS] = {"num_threads", K_INT, R_TRAINER, NULL,
                       "libmlm's compute threads (the CPUs this process may use); alias "
                       "threads; HF has no such flag", ALL_SCRIPTS},
    [F_DTYPE] = {"dtype", K_STR, R_USE, "fp32|bf16|int8",
                 "mlm eval: the model's matrices in fp32, bf16 or int8 (mlm_model_set_dtype; "
                 "training needs fp32); HF has no such flag", MLM_ONLY},
    [F_RESUME_FROM_CHECKPOINT] = {"resume_from_checkpoint", K_STR, R_TRAINER, NULL,
                                  "a checkpoint folder of an earlier libmlm run", ALL_SCRIPTS},
    [F_FP16] = {"fp16", K_BOOL, R_USE, "false", "false only (float32 training)", ALL_SCRIPTS},
    [F_BF16] = {"bf16", K_BOOL, R_TRAINER, NULL,
                "bf16 mixed precision as torch.autocast on a CPU: products take bf16 "
                "operands with fp32 sums, parameters, gradients, optimizer and loss stay "
                "fp32; training and evaluation (false)", ALL_SCRIPTS},
    [F_DDP_BACKEND] = {"ddp_backend", K_STR, R_TRAINER, NULL,
                       "mpi | none: data-parallel training over the processes of mpirun -np N "
                       "(found from mpirun's environment when not given; docs/distributed.md)",
                       ALL_SCRIPTS},
    [F_DDP_BUCKET_CAP_MB] = {"ddp_bucket_cap_mb", K_INT, R_TRAINER, NULL,
                             "megabytes of gradients per allreduce bucket (25)", ALL_SCRIPTS},
    [F_PUSH_TO_HUB] = {"push_to_hub", K_BOOL, R_USE, "false", "false only (no network)",
                       ALL_SCRIPTS},
    [F_LOAD_BEST_MODEL_AT_END] = {"load_best_model_at_end", K_BOOL, R_USE, "false",
                                  "false only", ALL_SCRIPTS},
    [F_REPORT_TO] = {"report_to", K_STR, R_IGNORE, NULL,
                     "ignored: no tracker integrations; logs go to stdout and "
                     "trainer_state.json", ALL_SCRIPTS},
    [F_LOGGING_DIR] = {"logging_dir", K_STR, R_IGNORE, NULL,
                       "ignored: no TensorBoard files are written", ALL_SCRIPTS},
    [F_RUN_NAME] = {"run_name", K_STR, R_IGNORE, NULL, "ignored: a tracker option", ALL_SCRIPTS},
    [F_DISABLE_TQDM] = {"disable_tqdm", K_BOOL, R_TRAINER, NULL,
                        "progress bars on stderr: true never, false always (unset: when "
                        "stderr is a terminal)", ALL_SCRIPTS},
    [F_LOG_LEVEL] = {"log_level", K_STR, R_IGNORE, NULL, "ignored", ALL_SCRIPTS},
    [F_USE_CPU] = {"use_cpu", K_BOOL, R_IGNORE, NULL, "ignored: libmlm runs on the CPU",
                   ALL_SCRIPTS},
    [F_NO_CUDA] = {"no_cuda", K_BOOL, R_IGNORE, NULL, "ignored: libmlm runs on the CPU",
                   ALL_SCRIPTS},
    [F_DATALOADER_NUM_WORKERS] = {"dataloader_num_workers", K_INT, R_IGNORE, NULL,
                                  "ignored: batches are made on the training thread", ALL_SCRIPTS},

    [F_SORTISH_SAMPLE] = {"sortish_sample", K_BOOL, R_USE, "false",
                          "false only (the sampler is the Trainer's random one)", S2S_ONLY},
    [F_PREDICT_WITH_GENERATE] = {"predict_with_generate", K_BOOL, R_TRAINER, NULL,
                                 "evaluate and predict with generate(): ROUGE, gen_len and "
                                 "generated_predictions.txt (false)", S2S_ONLY},
    [F_GENERATION_MAX_LENGTH] = {"generation_max_length", K_INT, R_USE, NULL,
                                 "generate()'s max_length (val_max_target_length)", S2S_ONLY},
    [F_GENERATION_NUM_BEAMS] = {"generation_num_beams", K_INT, R_USE, NULL,
                                "generate()'s num_beams when num_beams is null (the model's)",
                                S2S_ONLY},
    [F_GENERATION_CONFIG] = {"generation_config", K_STR, R_TRAINER, NULL,
                             "a generation_config.json (or its folder) under the options above",
                             S2S_ONLY},
};

/* Older TrainingArguments spellings, still in many command lines. */
static const struct {
    const char *name;
    int flag;
} aliases[] = {{"evaluation_strategy", F_EVAL_STRATEGY}, {"threads", F_NUM_THREADS}};

const char *ta_name(int f) { return defs[f].name; }

const char *ta_trainer_option(int f)
{
    return defs[f].route == R_TRAINER ? defs[f].name : NULL;
}

/* A name as typed (len bytes) against a canonical one, '-' and '_' alike. */
static int name_is(const char *typed, size_t len, const char *canon)
{
    size_t i = 0;
    for (; i < len && canon[i]; i++) {
        char c = typed[i] == '-' ? '_' : typed[i];
        if (c != canon[i])
            return 0;
    }
    return i == len && canon[i] == '\0';
}

/* Whether script takes flag f. */
static int takes(int script, int f) { return !defs[f].scripts || (defs[f].scripts & script); }

/* The flag of script spelled typed (len bytes), or -1. */
static int find_flag(const char *typed, size_t len, int script)
{
    for (int f = 0; f < F_COUNT; f++)
        if (takes(script, f) && name_is(typed, len, defs[f].name))
            return f;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (name_is(typed, len, aliases[i].name))
            return aliases[i].flag;
    return -1;
}

/* HfArgumentParser's string_to_bool. -1: not a boolean. */
static int parse_bool(const char *v)
{
    static const char *const yes[] = {"yes", "true", "t", "y", "1"};
    static const char *const no[] = {"no", "false", "f", "n", "0"};
    for (size_t i = 0; i < 5; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static int in_list(const char *v, const char *list)
{
    size_t n = strlen(v);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t k = bar ? (size_t)(bar - p) : strlen(p);
        if (k == n && strncmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Check a value for flag f and store a copy. where: "" for the command
 * line, "FILE: " for the config file. */
static int set_value(train_args *a, int f, const char *v, const char *where, int from_cli)
{
    const flag_def *d = &defs[f];
    const char *why = NULL;
    long i;
    double x;
    switch (d->kind) {
    case K_INT:
        if (cli_parse_long(v, LONG_MIN, LONG_MAX, &i) != 0)
            why = "expected an integer";
        break;
    case K_FLOAT:
        if (cli_parse_double(v, -DBL_MAX, DBL_MAX, &x) != 0)
            why = "expected a number";
        break;
    case K_BOOL:
        if (parse_bool(v) < 0)
            why = "expected true or false";
        break;
    default:
        break;
    }
    if (d->route == R_REJECT) {
        fprintf(stderr, "mlm: %s--%s: %s\n", where, d->name, d->help);
        return -1;
    }
    if (!why && d->only) {
        int ok = d->kind == K_BOOL ? parse_bool(v) == parse_bool(d->only) : in_list(v, d->only);
        if (!ok) {
            fprintf(stderr, "mlm: %s--%s: '%s' is not supported (%s)\n", where, d->name, v,
                    d->help);
            return -1;
        }
    }
    if (why) {
        fprintf(stderr, "mlm: %s--%s: invalid value '%s' (%s)\n", where, d->name, v, why);
        return -1;
    }
    char *copy = strdup(v);
    if (!copy) {
        fprintf(stderr, "mlm: out of memory\n");
        return -1;
    }
    free(a->val[f]);
    a->val[f] = copy;
    a->from_cli[f] = (unsigned char)from_cli;
    a->is_null[f] = 0;
    return 0;
}

/* A JSON value as the text a flag would carry; NULL for null (not given).
 * *bad set when the value has no text form (an object, a list...). */
static const char *json_text(const cJSON *v, int f, char *num, size_t cap, char **owned,
                             int *bad)
{
    *bad = 0;
    *owned = NULL;
    if (cJSON_IsNull(v))
        return NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x == floor(x) && fabs(x) < 9007199254740992.0)
            snprintf(num, cap, "%.0f", x);
        else
            snprintf(num, cap, "%.17g", x);
        return num;
    }
    /* report_to is a list in HF's JSON files: ["none"], ["wandb", "tensorboard"] */
    if (cJSON_IsArray(v) && f == F_REPORT_TO) {
        *owned = cJSON_PrintUnformatted(v);
        return *owned ? *owned : "[]";
    }
    *bad = 1;
    return NULL;
}

static int apply_config(train_args *a, const char *path)
{
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "mlm: --config %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(doc)) {
        fprintf(stderr, "mlm: --config %s: not a JSON object of arguments\n", path);
        cJSON_Delete(doc);
        return -1;
    }
    size_t wn = strlen(path) + 3;
    char *where = malloc(wn);
    int rc = where ? 0 : -1;
    if (where)
        snprintf(where, wn, "%s: ", path);
    for (const cJSON *it = doc->child; rc == 0 && it; it = it->next) {
        int f = find_flag(it->string, strlen(it->string), a->script);
        if (f < 0) {
            /* HfArgumentParser.parse_json_file refuses unused keys too */
            fprintf(stderr, "mlm: %s: unknown argument \"%s\" (see mlm help %s)\n", path,
                    it->string, a->command);
            rc = -1;
            break;
        }
        if (a->from_cli[f])
            continue;
        char num[64], *owned;
        int bad;
        const char *v = json_text(it, f, num, sizeof num, &owned, &bad);
        if (bad) {
            fprintf(stderr, "mlm: %s--%s: expected a string, a number, a boolean or null\n",
                    where, defs[f].name);
            rc = -1;
        } else if (v) {
            rc = set_value(a, f, v, where, 0);
        } else {
            free(a->val[f]);
            a->val[f] = NULL;
            a->is_null[f] = 1;
        }
        cJSON_free(owned);
    }
    free(where);
    cJSON_Delete(doc);
    return rc;
}

static int has_json_suffix(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && strcmp(s + n - 5, ".json") == 0;
}

static int set_config_path(train_args *a, const char *path)
{
    if (a->config_path) {
        fprintf(stderr, "mlm: --config: given twice ('%s' and '%s')\n", a->config_path, path);
        return -1;
    }
    a->config_path = strdup(path);
    if (!a->config_path) {
        fprintf(stderr, "mlm: out of memory\n");
        return -1;
    }
    return 0;
}

int train_args_parse(train_args *a, int argc, char **argv, int first, int script,
                     const char *command)
{
    memset(a, 0, sizeof *a);
    a->script = script;
    a->command = command;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return 1;
        if (strncmp(arg, "--", 2) != 0) {
            if (has_json_suffix(arg)) {
                if (set_config_path(a, arg) != 0)
                    return -1;
                continue;
            }
            fprintf(stderr, "mlm: unexpected argument '%s' (flags are --name value)\n", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (name_is(name, len, "config")) {
            const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !*v) {
                fprintf(stderr, "mlm: --config: needs a value (a JSON file)\n");
                return -1;
            }
            if (set_config_path(a, v) != 0)
                return -1;
            continue;
        }
        int f = find_flag(name, len, script);
        if (f < 0) {
            fprintf(stderr, "mlm: unknown flag '--%.*s' (see mlm help %s)\n", (int)len, name,
                    command);
            return -1;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (defs[f].kind == K_BOOL)
            /* argparse's nargs="?": a following word that is not a flag is the value */
            v = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "true";
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            v = argv[++i]; /* "-1" is a value, "--x" the next flag (as argparse) */
        else {
            fprintf(stderr, "mlm: --%s: needs a value\n", defs[f].name);
            return -1;
        }
        if (set_value(a, f, v, "", 1) != 0)
            return -1;
    }
    return a->config_path ? apply_config(a, a->config_path) : 0;
}

void train_args_free(train_args *a)
{
    for (int f = 0; f < F_COUNT; f++)
        free(a->val[f]);
    free(a->config_path);
    memset(a, 0, sizeof *a);
}

const char *ta_str(const train_args *a, int f) { return a->val[f]; }

int ta_is_null(const train_args *a, int f) { return a->is_null[f]; }

long long ta_int(const train_args *a, int f, long long dflt)
{
    long v;
    return a->val[f] && cli_parse_long(a->val[f], LONG_MIN, LONG_MAX, &v) == 0 ? v : dflt;
}

double ta_float(const train_args *a, int f, double dflt)
{
    double v;
    return a->val[f] && cli_parse_double(a->val[f], -DBL_MAX, DBL_MAX, &v) == 0 ? v : dflt;
}

int ta_bool(const train_args *a, int f, int dflt)
{
    int v = a->val[f] ? parse_bool(a->val[f]) : -1;
    return v < 0 ? dflt : v;
}

/* A value that asks for nothing ("none", false): no note needed. */
static int asks_nothing(const flag_def *d, const char *v)
{
    if (d->kind == K_BOOL)
        return parse_bool(v) == 0;
    return !*v || strcmp(v, "none") == 0 || strcmp(v, "[\"none\"]") == 0 ||
           strcmp(v, "[]") == 0;
}

void train_args_notes(const train_args *a)
{
    for (int f = 0; f < F_COUNT; f++)
        if (a->val[f] && takes(a->script, f) && defs[f].route == R_IGNORE &&
            !asks_nothing(&defs[f], a->val[f]))
            fprintf(stderr, "mlm: note: --%s %s: %s\n", defs[f].name, a->val[f], defs[f].help);
}

void train_args_help(FILE *out, const char *command, int script, const char *intro,
                     const char *outputs)
{
    static const char *const kinds[] = {"STR", "INT", "NUM", "[BOOL]"};
    fprintf(out,
            "usage: mlm %s [--config FILE.json | FILE.json] [--FLAG VALUE ...]\n\n"
            "%s, by their Hugging Face names (--name value, --name=value;\n"
            "booleans bare or with true/false; dashes or underscores). A JSON file of the same\n"
            "names is applied first; flags on the command line override it.\n",
            command, intro);
    /* the dataclasses, in the enum's order */
    static const struct {
        int first;
        const char *title;
    } sections[] = {{F_MODEL_NAME_OR_PATH, "model"},
                    {F_LANG, "data"},
                    {F_OUTPUT_DIR, "training (TrainingArguments)"},
                    {F_SORTISH_SAMPLE, "Seq2SeqTrainingArguments"}};
    int shown = -1;
    for (int f = 0; f < F_COUNT; f++) {
        if (!takes(script, f))
            continue;
        int sec = 0;
        while (sec + 1 < 4 && f >= sections[sec + 1].first)
            sec++;
        if (sec != shown)
            fprintf(out, "\n%s:\n", sections[sec].title);
        shown = sec;
        const flag_def *d = &defs[f];
        char left[64];
        snprintf(left, sizeof left, "--%s %s", d->name, kinds[d->kind]);
        fprintf(out, "  %-38s %s%s\n", left,
                d->route == R_REJECT ? "rejected: " : "", d->help);
    }
    fprintf(out, "\n%sExit status: 0 done, 1 runtime error, 2 bad arguments.\n", outputs);
}
