/* mlm train / mlm eval: transformers' examples/pytorch/language-modeling/
 * run_mlm.py on the public API. The same arguments (train_args.h), the same
 * data preparation (train_data.h), the same Trainer run (train_run.h), and
 * the same files in output_dir (the trainer's save_metrics and save_state),
 * so that an HF user's command line translates word for word:
 *
 *   python run_mlm.py --model_name_or_path M --train_file t.txt --do_train ...
 *   mlm train         --model_name_or_path M --train_file t.txt --do_train ...
 *
 * `mlm train` trains (do_train defaults to true) and evaluates with
 * --do_eval; `mlm eval` only evaluates. */
#include <mlm.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "train_args.h"
#include "train_data.h"
#include "train_run.h"

/* run_mlm.py: max_seq_length defaults to the tokenizer's model_max_length,
 * capped at 1024. */
#define DEFAULT_MAX_SEQ 1024

/* do_train / do_eval, the model, config and tokenizer sources, the files. */
static int resolve(train_run *r, int eval_only)
{
    const train_args *a = &r->a;
    if (eval_only) {
        if (ta_bool(a, F_DO_TRAIN, 0))
            return run_usage_fail("--do_train: mlm eval does not train (use mlm train --do_eval)");
        r->do_train = 0;
        r->do_eval = 1;
    } else {
        r->do_train = ta_bool(a, F_DO_TRAIN, 1);
        r->do_eval = ta_bool(a, F_DO_EVAL, 0);
    }
    /* TrainingArguments: an eval_strategy other than "no" turns do_eval on */
    const char *es = ta_str(a, F_EVAL_STRATEGY);
    if (es && strcmp(es, "no") != 0)
        r->do_eval = 1;
    int rc = run_resolve_model(r);
    if (rc != 0)
        return rc;
    const char *tf = ta_str(a, F_TRAIN_FILE), *vf = ta_str(a, F_VALIDATION_FILE);
    const char *td = ta_str(a, F_TRAIN_DATASET), *vd = ta_str(a, F_VALIDATION_DATASET);
    /* text files, or dataset files tokenized already: not a mix (the text
     * would be tokenized with settings the files may not share) */
    if ((td || vd) && (tf || vf))
        return run_usage_fail("--train_dataset / --validation_dataset replace --train_file / "
                              "--validation_file: pass one kind");
    if (r->do_train && !tf && !td)
        return run_usage_fail("--do_train requires a train dataset: pass --train_file (or "
                              "--train_dataset)");
    if (r->do_eval && !tf && !vf && !vd)
        return run_usage_fail(td ? "--do_eval with --train_dataset requires --validation_dataset"
                                 : "--do_eval requires a validation dataset: pass "
                                   "--validation_file (or --train_file to split)");
    if ((tf && data_check_extension("train_file", tf) != 0) ||
        (vf && data_check_extension("validation_file", vf) != 0))
        return EXIT_USAGE;
    long long pct = ta_int(a, F_VALIDATION_SPLIT_PERCENTAGE, 5);
    if (pct < 0 || pct > 100)
        return run_usage_fail("--validation_split_percentage: expected 0 to 100");
    if (ta_int(a, F_MAX_SEQ_LENGTH, 1) < 1)
        return run_usage_fail("--max_seq_length: expected at least 1");
    long long workers = ta_int(a, F_PREPROCESSING_NUM_WORKERS, 1);
    if (workers < 1 || workers > 256)
        return run_usage_fail("--preprocessing_num_workers: expected 1 to 256");
    return 0;
}

/* run_mlm.py's max_seq_length, and a check HF leaves to an index error:
 * the model must have that many positions. */
static int resolve_max_seq(const train_run *r, int64_t *max_seq)
{
    int64_t mml = mlm_tokenizer_model_max_length(r->tok);
    const char *given = ta_str(&r->a, F_MAX_SEQ_LENGTH);
    if (!given) {
        *max_seq = mml;
        if (mml > DEFAULT_MAX_SEQ) {
            fprintf(stderr, "mlm: warning: the tokenizer's model_max_length is very large (%lld): "
                            "picking %d. Change it with --max_seq_length.\n",
                    (long long)mml, DEFAULT_MAX_SEQ);
            *max_seq = DEFAULT_MAX_SEQ;
        }
    } else {
        long long v = ta_int(&r->a, F_MAX_SEQ_LENGTH, DEFAULT_MAX_SEQ);
        if (v > mml)
            fprintf(stderr, "mlm: warning: --max_seq_length %lld is longer than the tokenizer's "
                            "model_max_length (%lld): using %lld\n", v, (long long)mml,
                    (long long)mml);
        *max_seq = v < mml ? v : mml;
    }
    int32_t positions = mlm_model_max_length(r->model);
    if (*max_seq < 1) {
        fprintf(stderr, "mlm: %s: model_max_length is %lld: pass --max_seq_length\n", r->tok_path,
                (long long)*max_seq);
        return EXIT_RUNTIME;
    }
    if (*max_seq > positions) {
        fprintf(stderr, "mlm: --max_seq_length: %lld tokens do not fit the model's %d positions; "
                        "pass --max_seq_length %d or less\n", (long long)*max_seq, (int)positions,
                (int)positions);
        return EXIT_RUNTIME;
    }
    return 0;
}

static int make_collator(train_run *r)
{
    char opts[128];
    snprintf(opts, sizeof opts, "{\"mlm_probability\": %.17g, \"seed\": %lld}",
             ta_float(&r->a, F_MLM_PROBABILITY, 0.15), r->seed);
    mlm_status st = mlm_collator_new(r->tok, opts, &r->col);
    return st == MLM_OK ? 0 : cli_fail("--mlm_probability", st);
}

/* The trainer over the train set (the eval set when only evaluating). */
static int make_trainer(train_run *r)
{
    int rc = run_make_trainer(r, r->do_train ? r->train : r->eval, r->do_eval ? r->eval : NULL);
    /* run_mlm.py hands Trainer its compute_metrics (accuracy) whenever
     * do_eval */
    if (rc != 0 || !r->do_eval)
        return rc;
    mlm_status st = mlm_trainer_set(r->tr, "compute_accuracy", "true");
    return st == MLM_OK ? 0 : cli_fail("trainer", st);
}

/* run_mlm.py's evaluation: trainer.evaluate(), eval_samples and perplexity
 * added (math.exp(eval_loss), inf on OverflowError), log_metrics and
 * save_metrics. */
static int do_eval(train_run *r)
{
    if (r->rank == 0) {
        printf("*** Evaluate ***\n");
        fflush(stdout);
    }
    double loss = NAN;
    mlm_status st = mlm_trainer_evaluate(r->tr, &loss, NULL);
    if (st != MLM_OK)
        return cli_fail("evaluation", st);
    char *m = run_trainer_text(r->tr, mlm_trainer_eval_metrics_json);
    if (m && (!(m = run_with_number(m, "eval_samples", (double)mlm_dataset_num_rows(r->eval))) ||
              !(m = run_with_number(m, "perplexity", exp(loss)))))
        cli_fail("mlm", MLM_ERR_OUT_OF_MEMORY);
    int rc = m ? 0 : EXIT_RUNTIME;
    if (rc == 0 && run_make_dirs(r->out_dir) != 0)
        rc = EXIT_RUNTIME;
    if (rc == 0)
        rc = run_report(r, "eval", m);
    free(m);
    return rc;
}

static const char INTRO[] = "run_mlm.py's arguments";
static const char OUTPUTS[] =
    "Outputs in output_dir, as run_mlm.py + Trainer: the model (config.json,\n"
    "model.safetensors) and tokenizer files, checkpoint-N/, train_results.json,\n"
    "eval_results.json (with perplexity), all_results.json, trainer_state.json.\n";

static int run_command(int argc, char **argv, int eval_only)
{
    const char *name = eval_only ? "eval" : "train";
    train_run r;
    memset(&r, 0, sizeof r);
    int p = train_args_parse(&r.a, argc, argv, 2, SCRIPT_MLM, name);
    if (p != 0) {
        if (p > 0)
            train_args_help(stdout, name, SCRIPT_MLM, INTRO, OUTPUTS);
        else
            fprintf(stderr, "usage: mlm %s [--config FILE.json] [--FLAG VALUE ...] "
                            "(mlm help %s lists the flags)\n", name, name);
        train_args_free(&r.a);
        return p > 0 ? 0 : EXIT_USAGE;
    }
    train_args_notes(&r.a);
    int rc = resolve(&r, eval_only);
    int64_t max_seq = 0;
    if (rc == 0 && !r.do_train && !r.do_eval)
        printf("mlm: nothing to do: --do_train false and no --do_eval\n");
    else {
        if (rc == 0)
            rc = run_check_output_dir(&r);
        if (rc == 0)
            rc = run_load_model(&r);
        if (rc == 0)
            rc = resolve_max_seq(&r, &max_seq);
        if (rc == 0)
            rc = make_collator(&r);
        if (rc == 0)
            rc = run_check_options(&r);
        if (rc == 0) {
            int threads = (int)ta_int(&r.a, F_NUM_THREADS, mlm_default_threads());
            data_opts o = {
                .train_file = ta_str(&r.a, F_TRAIN_FILE),
                .validation_file = ta_str(&r.a, F_VALIDATION_FILE),
                .train_dataset = ta_str(&r.a, F_TRAIN_DATASET),
                .validation_dataset = ta_str(&r.a, F_VALIDATION_DATASET),
                .want_train = r.do_train,
                .want_eval = r.do_eval,
                .split_pct = ta_int(&r.a, F_VALIDATION_SPLIT_PERCENTAGE, 5),
                .max_seq_length = max_seq,
                .line_by_line = ta_bool(&r.a, F_LINE_BY_LINE, 0),
                .pad_to_max_length = ta_bool(&r.a, F_PAD_TO_MAX_LENGTH, 0),
                .num_proc = (int)ta_int(&r.a, F_PREPROCESSING_NUM_WORKERS, threads),
                .max_train_samples = ta_int(&r.a, F_MAX_TRAIN_SAMPLES, -1),
                .max_eval_samples = ta_int(&r.a, F_MAX_EVAL_SAMPLES, -1),
            };
            rc = data_prepare(r.tok, &o, &r.train, &r.eval);
        }
        if (rc == 0)
            rc = make_trainer(&r);
        if (rc == 0 && r.do_train)
            rc = run_do_train(&r);
        if (rc == 0 && r.do_eval)
            rc = do_eval(&r);
    }
    return train_run_end(&r, rc);
}

int cmd_train(int argc, char **argv) { return run_command(argc, argv, 0); }

int cmd_eval(int argc, char **argv) { return run_command(argc, argv, 1); }

void cmd_train_help(FILE *out) { train_args_help(out, "train", SCRIPT_MLM, INTRO, OUTPUTS); }

void cmd_eval_help(FILE *out) { train_args_help(out, "eval", SCRIPT_MLM, INTRO, OUTPUTS); }
