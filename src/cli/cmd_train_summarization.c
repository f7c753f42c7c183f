/* mlm train-summarization: transformers 4.56's examples/pytorch/
 * summarization/run_summarization.py on the public API, main() step for
 * step, so that its command lines translate word for word:
 *
 *   python run_summarization.py --model_name_or_path M --train_file t.json ...
 *   mlm train-summarization     --model_name_or_path M --train_file t.json ...
 *
 *   - the arguments: ModelArguments, DataTrainingArguments and
 *     Seq2SeqTrainingArguments (train_args.h), their defaults: do_train,
 *     do_eval and do_predict false, max_source_length 1024,
 *     max_target_length 128, val_max_target_length = max_target_length,
 *     num_beams 1, ignore_pad_token_for_loss true, pad_to_max_length false,
 *     source_prefix none (the t5 warning when it is missing);
 *   - "Detecting last checkpoint" and the model and tokenizer (train_run.h);
 *     the text and summary columns: the flags, else the first two columns
 *     of the first split the run uses (summarization_name_mapping is for Hub
 *     datasets, which libmlm does not download);
 *   - max_*_samples rows selected, then preprocess_function
 *     (summarization_data.h);
 *   - DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100
 *     or the pad id, pad_to_multiple_of=None: fp16 is refused);
 *   - generation_max_length = itself or val_max_target_length,
 *     generation_num_beams = num_beams unless that is None;
 *   - Seq2SeqTrainer: train (train_results.json, trainer_state.json),
 *     evaluate (eval_results.json with eval_samples), predict
 *     (predict_results.json with predict_samples, and with
 *     predict_with_generate generated_predictions.txt: each prediction
 *     decoded with skip_special_tokens and clean_up_tokenization_spaces,
 *     stripped, joined with "\n"); all_results.json merges them.
 * Left out: the model card (README.md) and the Hub. */
#include <mlm.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_file.h"
#include "commands.h"
#include "core/utf8.h"
#include "summarization_data.h"
#include "train_args.h"
#include "train_run.h"

static const char INTRO[] = "run_summarization.py's arguments";
static const char OUTPUTS[] =
    "Outputs in output_dir, as run_summarization.py + Seq2SeqTrainer: the model\n"
    "(config.json, model.safetensors) and tokenizer files, checkpoint-N/,\n"
    "train_results.json, eval_results.json, predict_results.json, all_results.json,\n"
    "trainer_state.json and, with predict_with_generate, generated_predictions.txt.\n";

/* The names run_summarization.py warns about when no source_prefix is given. */
static int is_t5_checkpoint(const char *name)
{
    static const char *const t5[] = {"google-t5/t5-small", "google-t5/t5-base",
                                     "google-t5/t5-large", "google-t5/t5-3b",
                                     "google-t5/t5-11b"};
    for (size_t i = 0; name && i < sizeof t5 / sizeof t5[0]; i++)
        if (strcmp(name, t5[i]) == 0)
            return 1;
    return 0;
}

/* DataTrainingArguments.__post_init__'s file check: csv or json (and
 * libmlm's jsonl: datasets' json loader reads JSON Lines from a .json). */
static int check_file(const char *flag, const char *path)
{
    switch (mlm_dataset_format_of(path)) {
    case MLM_FORMAT_JSON:
    case MLM_FORMAT_JSONL:
    case MLM_FORMAT_CSV:
        return 0;
    default:
        break;
    }
    fprintf(stderr, "mlm: --%s %s: should be a csv, a json or a jsonl file\n", flag, path);
    return EXIT_USAGE;
}

/* An integer flag that must be at least lo when given. */
static int check_min(const train_args *a, int f, long long lo)
{
    if (!ta_str(a, f) || ta_int(a, f, lo) >= lo)
        return 0;
    fprintf(stderr, "mlm: --%s: expected at least %lld, got %s\n", ta_name(f), lo, ta_str(a, f));
    return EXIT_USAGE;
}

/* do_train / do_eval / do_predict, the model, the files, the numbers. */
static int resolve(train_run *r)
{
    const train_args *a = &r->a;
    r->do_train = ta_bool(a, F_DO_TRAIN, 0);
    r->do_eval = ta_bool(a, F_DO_EVAL, 0);
    r->do_predict = ta_bool(a, F_DO_PREDICT, 0);
    /* TrainingArguments: an eval_strategy other than "no" turns do_eval on */
    const char *es = ta_str(a, F_EVAL_STRATEGY);
    if (es && strcmp(es, "no") != 0)
        r->do_eval = 1;
    int rc = run_resolve_model(r);
    if (rc != 0)
        return rc;
    const int files[N_SPLITS] = {F_TRAIN_FILE, F_VALIDATION_FILE, F_TEST_FILE};
    if (!ta_str(a, F_TRAIN_FILE) && !ta_str(a, F_VALIDATION_FILE) && !ta_str(a, F_TEST_FILE))
        return run_usage_fail("Need either a dataset name or a training, validation, or test "
                              "file (--train_file, --validation_file, --test_file; "
                              "--dataset_name is not supported)");
    for (int k = 0; k < N_SPLITS; k++)
        if (ta_str(a, files[k]) && (rc = check_file(ta_name(files[k]), ta_str(a, files[k]))) != 0)
            return rc;
    static const int at_least_1[] = {F_MAX_SOURCE_LENGTH, F_MAX_TARGET_LENGTH,
                                     F_VAL_MAX_TARGET_LENGTH, F_NUM_BEAMS,
                                     F_GENERATION_MAX_LENGTH, F_GENERATION_NUM_BEAMS};
    static const int at_least_0[] = {F_MAX_TRAIN_SAMPLES, F_MAX_EVAL_SAMPLES,
                                     F_MAX_PREDICT_SAMPLES};
    for (size_t i = 0; rc == 0 && i < sizeof at_least_1 / sizeof *at_least_1; i++)
        rc = check_min(a, at_least_1[i], 1);
    for (size_t i = 0; rc == 0 && i < sizeof at_least_0 / sizeof *at_least_0; i++)
        rc = check_min(a, at_least_0[i], 0);
    long long workers = ta_int(a, F_PREPROCESSING_NUM_WORKERS, 1);
    if (rc == 0 && (workers < 1 || workers > 256))
        rc = run_usage_fail("--preprocessing_num_workers: expected 1 to 256");
    if (rc != 0)
        return rc;
    static const char *const need[N_SPLITS] = {"--do_train requires a train dataset",
                                               "--do_eval requires a validation dataset",
                                               "--do_predict requires a test dataset"};
    const int wanted[N_SPLITS] = {r->do_train, r->do_eval, r->do_predict};
    for (int k = 0; k < N_SPLITS; k++)
        if (wanted[k] && !ta_str(a, files[k])) {
            fprintf(stderr, "mlm: %s: pass --%s\n", need[k], ta_name(files[k]));
            return EXIT_USAGE;
        }
    if (!ta_str(a, F_SOURCE_PREFIX) && is_t5_checkpoint(r->model_dir))
        fprintf(stderr, "mlm: warning: You're running a t5 model but didn't provide a source "
                        "prefix, which is the expected, e.g. with `--source_prefix 'summarize: "
                        "' `\n");
    return 0;
}

/* A length of DataTrainingArguments: the value, its default, or 0 for None
 * (null in the JSON file). */
static int64_t length_arg(const train_args *a, int f, int64_t dflt)
{
    return ta_is_null(a, f) ? 0 : (int64_t)ta_int(a, f, dflt);
}

/* tokenizer(..., max_length=None, truncation=True) truncates to the
 * tokenizer's model_max_length; a length of None becomes that (0: none). */
static int64_t or_model_max(int64_t v, const mlm_tokenizer *tok)
{
    int64_t mml = mlm_tokenizer_model_max_length(tok);
    return v > 0 ? v : mml > 0 && mml < ((int64_t)1 << 31) ? mml : 0;
}

/* The model must be an encoder-decoder with a decoder_start_token_id; the
 * collator gets it and the pad id (model=model: decoder_input_ids from the
 * labels), and label_pad_token_id. */
static int make_collator(train_run *r)
{
    if (mlm_model_family(r->model) != MLM_FAMILY_ENCODER_DECODER) {
        fprintf(stderr, "mlm: --%s: a %s model; run_summarization.py needs an encoder-decoder "
                        "(AutoModelForSeq2SeqLM: T5)\n",
                r->model_dir ? "model_name_or_path" : "config_name", mlm_model_type(r->model));
        return EXIT_RUNTIME;
    }
    cJSON *cfg = run_model_config(r);
    if (!cfg)
        return EXIT_RUNTIME;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(cfg, "decoder_start_token_id");
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(cfg, "pad_token_id");
    if (!cJSON_IsNumber(start)) {
        cJSON_Delete(cfg);
        fprintf(stderr, "mlm: Make sure that `config.decoder_start_token_id` is correctly "
                        "defined (the model's config.json)\n");
        return EXIT_RUNTIME;
    }
    cJSON *o = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(o, "model");
    cJSON_AddNumberToObject(m, "decoder_start_token_id", start->valuedouble);
    if (cJSON_IsNumber(pad))
        cJSON_AddNumberToObject(m, "pad_token_id", pad->valuedouble);
    cJSON_Delete(cfg);
    int ignore = ta_bool(&r->a, F_IGNORE_PAD_TOKEN_FOR_LOSS, 1);
    cJSON_AddNumberToObject(o, "label_pad_token_id",
                            ignore ? -100 : mlm_tokenizer_special_id(r->tok, MLM_TOKEN_PAD));
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    mlm_status st = json ? mlm_collator_new_seq2seq(r->tok, json, &r->col) : MLM_ERR_OUT_OF_MEMORY;
    cJSON_free(json);
    return st == MLM_OK ? 0 : cli_fail("DataCollatorForSeq2Seq", st);
}

/* "Override the decoding parameters of Seq2SeqTrainer": generation_max_length
 * falls back to val_max_target_length, and num_beams (1 unless null) wins
 * over generation_num_beams. */
static void generation_options(train_run *r, int64_t val_max_target)
{
    const train_args *a = &r->a;
    run_option *o = &r->extra[r->n_extra];
    if (ta_str(a, F_GENERATION_MAX_LENGTH) || val_max_target > 0) {
        o->name = "generation_max_length";
        o->flag = ta_str(a, F_GENERATION_MAX_LENGTH) ? "generation_max_length"
                                                      : "val_max_target_length";
        snprintf(o->value, sizeof o->value, "%lld",
                 ta_int(a, F_GENERATION_MAX_LENGTH, (long long)val_max_target));
        o = &r->extra[++r->n_extra];
    }
    const int beams = ta_is_null(a, F_NUM_BEAMS) ? F_GENERATION_NUM_BEAMS : F_NUM_BEAMS;
    if (beams == F_NUM_BEAMS || ta_str(a, F_GENERATION_NUM_BEAMS)) {
        o->name = "generation_num_beams";
        o->flag = ta_name(beams);
        snprintf(o->value, sizeof o->value, "%lld", ta_int(a, beams, 1));
        r->n_extra++;
    }
}

/* trainer.evaluate(metric_key_prefix="eval"), eval_samples added,
 * log_metrics and save_metrics. */
static int do_eval(train_run *r)
{
    if (r->rank == 0) {
        printf("*** Evaluate ***\n");
        fflush(stdout);
    }
    mlm_status st = mlm_trainer_evaluate(r->tr, NULL, NULL);
    if (st != MLM_OK)
        return cli_fail("evaluation", st);
    char *m = run_trainer_text(r->tr, mlm_trainer_eval_metrics_json);
    if (m && !(m = run_with_number(m, "eval_samples", (double)mlm_dataset_num_rows(r->eval))))
        cli_fail("mlm", MLM_ERR_OUT_OF_MEMORY);
    int rc = m ? 0 : EXIT_RUNTIME;
    if (rc == 0 && run_make_dirs(r->out_dir) != 0)
        rc = EXIT_RUNTIME;
    if (rc == 0)
        rc = run_report(r, "eval", m);
    free(m);
    return rc;
}

/* generated_predictions.txt: tokenizer.batch_decode(predictions,
 * skip_special_tokens=True, clean_up_tokenization_spaces=True), each
 * .strip()'ed, joined with "\n" (no newline at the end). */
static int write_predictions(const train_run *r, const mlm_prediction *p)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/generated_predictions.txt", r->out_dir);
    char *out = NULL, *text = NULL;
    size_t len = 0, cap = 0, tcap = 0;
    mlm_status st = MLM_OK;
    for (size_t i = 0; st == MLM_OK && i < mlm_prediction_num_rows(p); i++) {
        size_t n, need = 0, a, e;
        const int32_t *ids = mlm_prediction_ids(p, i, &n);
        st = mlm_tokenizer_decode(r->save_tok, ids, n, 1, 1, NULL, 0, &need);
        if (st == MLM_OK && need > tcap) {
            char *t = realloc(text, need);
            st = t ? MLM_OK : MLM_ERR_OUT_OF_MEMORY;
            text = t ? t : text;
            tcap = t ? need : tcap;
        }
        if (st == MLM_OK)
            st = mlm_tokenizer_decode(r->save_tok, ids, n, 1, 1, text, tcap, &need);
        if (st != MLM_OK)
            break;
        utf8_py_strip(text, need - 1, &a, &e);
        if (len + (e - a) + 2 > cap) {
            size_t nc = 2 * (len + (e - a) + 2);
            char *o = realloc(out, nc);
            if (!o) {
                st = MLM_ERR_OUT_OF_MEMORY;
                break;
            }
            out = o;
            cap = nc;
        }
        if (i)
            out[len++] = '\n';
        memcpy(out + len, text + a, e - a);
        len += e - a;
    }
    free(text);
    int rc = st == MLM_OK ? 0 : cli_fail("generated_predictions.txt", st);
    if (rc == 0 && cli_write_atomic(path, out ? out : "", len) != 0)
        rc = EXIT_RUNTIME;
    free(out);
    return rc;
}

/* trainer.predict(predict_dataset, metric_key_prefix="predict"),
 * predict_samples added, log_metrics, save_metrics, and the predictions. */
static int do_predict(train_run *r)
{
    if (r->rank == 0) {
        printf("*** Predict ***\n");
        fflush(stdout);
    }
    mlm_prediction *p = NULL;
    mlm_status st = mlm_trainer_predict(r->tr, r->test, "predict", &p);
    if (st != MLM_OK)
        return cli_fail("prediction", st);
    size_t need = 0;
    char *m = NULL;
    if ((st = mlm_prediction_metrics_json(p, NULL, 0, &need)) == MLM_OK &&
        (m = malloc(need)) != NULL)
        st = mlm_prediction_metrics_json(p, m, need, &need);
    if (st == MLM_OK && m)
        m = run_with_number(m, "predict_samples", (double)mlm_dataset_num_rows(r->test));
    int rc = st != MLM_OK ? cli_fail("prediction", st)
             : !m         ? cli_fail("mlm", MLM_ERR_OUT_OF_MEMORY)
                          : 0;
    if (rc == 0 && run_make_dirs(r->out_dir) != 0)
        rc = EXIT_RUNTIME;
    if (rc == 0)
        rc = run_report(r, "predict", m);
    if (rc == 0 && r->rank == 0 && ta_bool(&r->a, F_PREDICT_WITH_GENERATE, 0))
        rc = write_predictions(r, p);
    free(m);
    mlm_prediction_free(p);
    return rc;
}

/* The data, from the flags. */
static int prepare_data(train_run *r, int64_t val_max_target)
{
    const train_args *a = &r->a;
    int threads = (int)ta_int(a, F_NUM_THREADS, mlm_default_threads());
    int64_t max_target = or_model_max(length_arg(a, F_MAX_TARGET_LENGTH, 128), r->tok);
    s2s_data_opts o = {
        .file = {ta_str(a, F_TRAIN_FILE), ta_str(a, F_VALIDATION_FILE), ta_str(a, F_TEST_FILE)},
        .want = {r->do_train, r->do_eval, r->do_predict},
        .text_column = ta_str(a, F_TEXT_COLUMN),
        .summary_column = ta_str(a, F_SUMMARY_COLUMN),
        .prefix = ta_str(a, F_SOURCE_PREFIX),
        .max_source_length = or_model_max(length_arg(a, F_MAX_SOURCE_LENGTH, 1024), r->tok),
        .max_target_length = {max_target, or_model_max(val_max_target, r->tok),
                              or_model_max(val_max_target, r->tok)},
        .pad_to_max_length = ta_bool(a, F_PAD_TO_MAX_LENGTH, 0),
        .ignore_pad_token_for_loss = ta_bool(a, F_IGNORE_PAD_TOKEN_FOR_LOSS, 1),
        .num_proc = (int)ta_int(a, F_PREPROCESSING_NUM_WORKERS, threads),
        .max_samples = {ta_int(a, F_MAX_TRAIN_SAMPLES, -1), ta_int(a, F_MAX_EVAL_SAMPLES, -1),
                        ta_int(a, F_MAX_PREDICT_SAMPLES, -1)},
    };
    mlm_dataset *ds[N_SPLITS];
    int rc = s2s_data_prepare(r->tok, &o, ds);
    r->train = ds[SPLIT_TRAIN];
    r->eval = ds[SPLIT_VALIDATION];
    r->test = ds[SPLIT_TEST];
    return rc;
}

static int run_command(train_run *r)
{
    int rc = resolve(r);
    if (rc != 0)
        return rc;
    if (!r->do_train && !r->do_eval && !r->do_predict) {
        printf("There is nothing to do. Please pass `do_train`, `do_eval` and/or "
               "`do_predict`.\n");
        return 0;
    }
    /* val_max_target_length: max_target_length when None */
    int64_t max_target = length_arg(&r->a, F_MAX_TARGET_LENGTH, 128);
    int64_t val_max_target = ta_str(&r->a, F_VAL_MAX_TARGET_LENGTH)
                                 ? length_arg(&r->a, F_VAL_MAX_TARGET_LENGTH, max_target)
                                 : max_target;
    if ((rc = run_check_output_dir(r)) != 0 || (rc = run_load_model(r)) != 0 ||
        (rc = make_collator(r)) != 0)
        return rc;
    generation_options(r, val_max_target);
    if ((rc = run_check_options(r)) != 0 || (rc = prepare_data(r, val_max_target)) != 0)
        return rc;
    const mlm_dataset *first = r->do_train ? r->train : r->do_eval ? r->eval : r->test;
    if ((rc = run_make_trainer(r, first, r->do_eval ? r->eval : NULL)) != 0)
        return rc;
    if (r->do_train && (rc = run_do_train(r)) != 0)
        return rc;
    if (r->do_eval && (rc = do_eval(r)) != 0)
        return rc;
    if (r->do_predict)
        rc = do_predict(r);
    return rc;
}

int cmd_train_summarization(int argc, char **argv)
{
    train_run r;
    memset(&r, 0, sizeof r);
    int p = train_args_parse(&r.a, argc, argv, 2, SCRIPT_SUMMARIZATION, "train-summarization");
    if (p != 0) {
        if (p > 0)
            cmd_train_summarization_help(stdout);
        else
            fprintf(stderr, "usage: mlm train-summarization [--config FILE.json] [--FLAG VALUE "
                            "...] (mlm help train-summarization lists the flags)\n");
        train_args_free(&r.a);
        return p > 0 ? 0 : EXIT_USAGE;
    }
    train_args_notes(&r.a);
    return train_run_end(&r, run_command(&r));
}

void cmd_train_summarization_help(FILE *out)
{
    train_args_help(out, "train-summarization", SCRIPT_SUMMARIZATION, INTRO, OUTPUTS);
}
