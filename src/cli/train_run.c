/* What `mlm train`, `mlm eval` and `mlm train-summarization` share: one HF
 * example script's run on the Trainer (train_run.h). */
#include "train_run.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_file.h"

int run_usage_fail(const char *msg)
{
    fprintf(stderr, "mlm: %s\n", msg);
    return EXIT_USAGE;
}

int run_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int run_make_dirs(const char *path)
{
    char *p = strdup(path);
    int rc = p ? 0 : -1;
    for (char *s = p ? p + 1 : NULL; rc == 0 && s && *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(path, 0777) != 0 && errno != EEXIST)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "mlm: --output_dir %s: cannot create: %s\n", path, strerror(errno));
    free(p);
    return rc;
}

/* ---------------------------------------------------------------- arguments */

int run_resolve_model(train_run *r)
{
    const train_args *a = &r->a;
    r->out_dir = ta_str(a, F_OUTPUT_DIR) ? ta_str(a, F_OUTPUT_DIR) : "trainer_output";
    r->model_dir = ta_str(a, F_MODEL_NAME_OR_PATH);
    r->config_path = ta_str(a, F_CONFIG_NAME);
    r->tok_path = ta_str(a, F_TOKENIZER_NAME) ? ta_str(a, F_TOKENIZER_NAME) : r->model_dir;
    r->seed = ta_int(a, F_SEED, 42);
    if (r->model_dir && r->config_path)
        return run_usage_fail("--config_name with --model_name_or_path: libmlm loads the model "
                              "folder's own config.json; give one of them");
    if (!r->model_dir && !r->config_path)
        return run_usage_fail(ta_str(a, F_MODEL_TYPE)
                                  ? "--model_type alone: libmlm has no built-in default configs; "
                                    "pass --config_name CONFIG.json (training from scratch)"
                                  : "need --model_name_or_path (a model folder) or --config_name "
                                    "(a config.json, to train from scratch)");
    if (!r->tok_path)
        return run_usage_fail("--tokenizer_name: training a new tokenizer is not part of this "
                              "command; pass a tokenizer folder or tokenizer.json");
    return 0;
}

/* transformers' get_last_checkpoint (the library's: it never picks a
 * temporary folder of an interrupted checkpoint), or NULL. */
static char *last_checkpoint(const char *dir)
{
    size_t need = 0;
    if (mlm_trainer_last_checkpoint(dir, NULL, 0, &need) != MLM_OK)
        return NULL;
    char *path = malloc(need);
    if (path && mlm_trainer_last_checkpoint(dir, path, need, &need) != MLM_OK) {
        free(path);
        path = NULL;
    }
    return path;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* run_mlm.py's "Detecting last checkpoint": a non-empty output_dir is refused
 * unless it holds a checkpoint (then training resumes from the last one) or
 * --overwrite_output_dir is given. */
int run_check_output_dir(train_run *r)
{
    struct stat sb;
    if (stat(r->out_dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "mlm: --output_dir %s: exists and is not a folder\n", r->out_dir);
        return EXIT_RUNTIME;
    }
    const char *resume = ta_str(&r->a, F_RESUME_FROM_CHECKPOINT);
    if (resume && !(r->resume = strdup(resume)))
        return cli_fail("mlm", MLM_ERR_OUT_OF_MEMORY);
    if (!r->do_train || !run_is_dir(r->out_dir) || ta_bool(&r->a, F_OVERWRITE_OUTPUT_DIR, 0))
        return 0;
    char *last = last_checkpoint(r->out_dir);
    if (!last && !dir_is_empty(r->out_dir)) {
        fprintf(stderr, "mlm: Output directory (%s) already exists and is not empty. Use "
                        "--overwrite_output_dir to overcome.\n", r->out_dir);
        return EXIT_RUNTIME;
    }
    if (last && !r->resume) {
        r->resume = last; /* said by run_make_trainer, on rank 0 alone */
        r->detected = 1;
        last = NULL;
    }
    free(last);
    return 0;
}

/* ---------------------------------------------------------------- model */

char *run_read_config(const char *path, const char *flag, size_t *len)
{
    char buf[4096];
    if (run_is_dir(path)) {
        snprintf(buf, sizeof buf, "%s/config.json", path);
        path = buf;
    }
    char *text = cli_read_file(path, len);
    if (!text)
        fprintf(stderr, "mlm: --%s %s: cannot read: %s\n", flag, path, strerror(errno));
    return text;
}

cJSON *run_model_config(const train_run *r)
{
    const char *src = r->model_dir ? r->model_dir : r->config_path;
    const char *flag = r->model_dir ? "model_name_or_path" : "config_name";
    size_t len = 0;
    char *text = run_read_config(src, flag, &len);
    cJSON *doc = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (text && !cJSON_IsObject(doc))
        fprintf(stderr, "mlm: --%s %s: config.json is not a JSON object\n", flag, src);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

int run_load_model(train_run *r)
{
    mlm_status st = mlm_tokenizer_load(r->tok_path, &r->tok);
    if (st != MLM_OK)
        return cli_fail(r->tok_path, st);
    if (r->model_dir) {
        st = mlm_model_load(r->model_dir, &r->model);
        if (st != MLM_OK)
            return cli_fail(r->model_dir, st);
    } else {
        size_t len;
        char *cfg = run_read_config(r->config_path, "config_name", &len);
        if (!cfg)
            return EXIT_RUNTIME;
        /* set_seed(seed) comes before the model's random initialisation */
        st = mlm_model_new(cfg, len, (uint64_t)r->seed, &r->model);
        free(cfg);
        if (st != MLM_OK)
            return cli_fail(r->config_path, st);
    }
    for (size_t i = 0; i < mlm_model_n_warnings(r->model); i++)
        fprintf(stderr, "mlm: warning: %s\n", mlm_model_warning(r->model, i));
    const char *dt = ta_str(&r->a, F_DTYPE);
    mlm_dtype dtype = MLM_DTYPE_F32;
    if (dt && mlm_dtype_from_name(dt, &dtype) != MLM_OK)
        return cli_fail("--dtype", MLM_ERR_INVALID_ARGUMENT);
    if (dtype != MLM_DTYPE_F32 && r->do_train)
        return run_usage_fail("--dtype: training needs fp32 weights (mlm train --bf16 trains with "
                              "bf16 products); --dtype is for mlm eval");
    if (dtype != MLM_DTYPE_F32 && (st = mlm_model_set_dtype(r->model, dtype)) != MLM_OK)
        return cli_fail("--dtype", st);
    int32_t nt = mlm_tokenizer_vocab_size(r->tok), nm = mlm_model_vocab_size(r->model);
    if (nt > nm) {
        fprintf(stderr, "mlm: %s: the tokenizer has %d tokens but the model's embeddings only "
                        "%d rows; libmlm does not resize_token_embeddings: use a model (or "
                        "config vocab_size) of at least %d\n", r->tok_path, (int)nt, (int)nm,
                (int)nt);
        return EXIT_RUNTIME;
    }
    return 0;
}

/* ---------------------------------------------------------------- trainer */

char *run_trainer_text(const mlm_trainer *tr, trainer_json_fn fn)
{
    size_t need = 0;
    mlm_status st = fn(tr, NULL, 0, &need);
    char *buf = st == MLM_OK ? malloc(need) : NULL;
    if (st == MLM_OK && !buf)
        st = MLM_ERR_OUT_OF_MEMORY;
    if (st == MLM_OK)
        st = fn(tr, buf, need, &need);
    if (st != MLM_OK) {
        free(buf);
        cli_fail("trainer", st);
        return NULL;
    }
    return buf;
}

/* The same, parsed (for the few integers the tool reads from it). */
static cJSON *trainer_json(const mlm_trainer *tr, trainer_json_fn fn)
{
    char *text = run_trainer_text(tr, fn);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    return o;
}

/* json (a JSON object, malloc'ed; taken) with "key": v added, as the
 * scripts add to the trainer's metrics. The number is written so that it
 * reads back exactly (17 digits; 1e999 for an infinity, which Python's
 * json writes as Infinity and reads back the same). NULL when out of
 * memory. */
char *run_with_number(char *json, const char *key, double v)
{
    char num[40];
    if (isinf(v))
        snprintf(num, sizeof num, "%s", v < 0 ? "-1e999" : "1e999");
    else if (isnan(v))
        snprintf(num, sizeof num, "null");
    else
        snprintf(num, sizeof num, "%.17g", v);
    char *end = json ? strrchr(json, '}') : NULL;
    if (!end) {
        free(json);
        return NULL;
    }
    int empty = end[-1] == '{';
    size_t at = (size_t)(end - json), n = at + strlen(key) + strlen(num) + 8;
    char *out = realloc(json, n);
    if (!out) {
        free(json);
        return NULL;
    }
    snprintf(out + at, n - at, "%s\"%s\":%s}", empty ? "" : ",", key, num);
    return out;
}

/* run_mlm.py's trainer.log_metrics, save_metrics (and, after training,
 * save_state) of the metrics in json. */
int run_report(const train_run *r, const char *split, const char *json)
{
    if (r->rank != 0) /* log_metrics, save_metrics, save_state: world process zero */
        return 0;
    size_t need = 0;
    mlm_status st = mlm_trainer_format_metrics(split, json, NULL, 0, &need);
    char *text = st == MLM_OK ? malloc(need) : NULL;
    if (st == MLM_OK && !text)
        st = MLM_ERR_OUT_OF_MEMORY;
    if (st == MLM_OK && (st = mlm_trainer_format_metrics(split, json, text, need, &need)) == MLM_OK) {
        fputs(text, stdout);
        fflush(stdout);
    }
    free(text);
    if (st == MLM_OK)
        st = mlm_trainer_save_metrics(r->tr, split, json);
    if (st == MLM_OK && strcmp(split, "train") == 0)
        st = mlm_trainer_save_state(r->tr);
    return st == MLM_OK ? 0 : cli_fail(r->out_dir, st);
}

/* An integer field of the trainer's state (mlm_trainer_state_json): the
 * run's plan before it trains (max_steps, num_train_epochs...). 0 when it
 * cannot be read. */
static long long trainer_state_int(const mlm_trainer *tr, const char *key)
{
    cJSON *state = trainer_json(tr, mlm_trainer_state_json);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(state, key);
    long long n = cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
    cJSON_Delete(state);
    return n;
}

/* Hand the TrainingArguments to the trainer. logging/eval/save_steps below 1
 * are ratios of the total steps (HF: math.ceil(max_steps * ratio)); steps is
 * 0 when the total is not known yet (they are set to 1 then). Returns 0 or
 * EXIT_USAGE after naming the flag. */
static int set_options(const train_run *r, mlm_trainer *tr, long long steps)
{
    for (int f = 0; f < F_COUNT; f++) {
        const char *opt = ta_trainer_option(f), *v = ta_str(&r->a, f);
        if (!opt || !v)
            continue;
        char buf[32];
        double x = ta_float(&r->a, f, 0);
        if ((f == F_LOGGING_STEPS || f == F_EVAL_STEPS || f == F_SAVE_STEPS) && x > 0 && x < 1) {
            long long k = steps ? (long long)ceil((double)steps * x) : 1;
            snprintf(buf, sizeof buf, "%lld", k);
            v = buf;
        }
        mlm_status st = mlm_trainer_set(tr, opt, v);
        if (st != MLM_OK) {
            fprintf(stderr, "mlm: --%s: %s\n", ta_name(f), mlm_last_error());
            return EXIT_USAGE;
        }
    }
    for (int i = 0; i < r->n_extra; i++)
        if (mlm_trainer_set(tr, r->extra[i].name, r->extra[i].value) != MLM_OK) {
            fprintf(stderr, "mlm: --%s: %s\n", r->extra[i].flag, mlm_last_error());
            return EXIT_USAGE;
        }
    /* The tool's default, not the library's (1): every mlm command computes
     * on the CPUs this process may use unless told otherwise. */
    if (!ta_str(&r->a, F_NUM_THREADS)) {
        char n[16];
        int t = mlm_default_threads();
        snprintf(n, sizeof n, "%d", t < 1024 ? t : 1024); /* the trainer's most */
        mlm_status st = mlm_trainer_set(tr, "num_threads", n);
        if (st != MLM_OK)
            return cli_fail("num_threads", st);
    }
    if (r->resume && mlm_trainer_set(tr, "resume_from_checkpoint", r->resume) != MLM_OK) {
        fprintf(stderr, "mlm: --resume_from_checkpoint: %s\n", mlm_last_error());
        return EXIT_USAGE;
    }
    mlm_status st = mlm_trainer_set(tr, "output_dir", r->out_dir);
    return st == MLM_OK ? 0 : cli_fail("trainer", st);
}

/* Check every trainer option before the data is prepared (which may take
 * long), on a trainer over a one-row stand-in dataset. */
int run_check_options(const train_run *r)
{
    mlm_dataset *ds = NULL;
    mlm_trainer *tr = NULL;
    const int32_t one = 0, *rows[1] = {&one};
    size_t len = 1;
    mlm_status st = mlm_dataset_new(&ds);
    if (st == MLM_OK)
        st = mlm_dataset_add_sequence_column(ds, "input_ids", rows, &len, 1);
    if (st == MLM_OK)
        st = mlm_trainer_new(r->model, r->col, ds, NULL, &tr);
    int rc = st == MLM_OK ? set_options(r, tr, 0) : cli_fail("trainer", st);
    mlm_trainer_free(tr);
    mlm_dataset_free(ds);
    return rc;
}

/* Whether the records go to stdout as JSON lines: unless the trainer's bar
 * shows them on the terminal stdout is on (HF prints each record once), so
 * that a pipe or a file always gets them. */
static int records_on_stdout(const train_run *r)
{
    int disable = ta_bool(&r->a, F_DISABLE_TQDM, -1);
    int bar = disable < 0 ? isatty(STDERR_FILENO) : !disable;
    return !bar || !isatty(STDOUT_FILENO);
}

/* Log records: printed as JSON lines (see records_on_stdout). */
static int on_log(const char *record, void *user)
{
    train_run *r = user;
    if (r->print_records) {
        printf("%s\n", record);
        fflush(stdout);
    }
    return 0;
}

int run_make_trainer(train_run *r, const mlm_dataset *train, const mlm_dataset *eval)
{
    mlm_status st = mlm_trainer_new(r->model, r->col, train, eval, &r->tr);
    if (st != MLM_OK)
        return cli_fail("trainer", st);
    /* the options once to learn the run's total steps (which the processes
     * divide), then again with the ratios resolved against it */
    int rc = set_options(r, r->tr, 0);
    if (rc == 0 && (st = mlm_trainer_world(r->tr, &r->rank, &r->world)) != MLM_OK)
        rc = cli_fail("trainer", st);
    if (rc == 0)
        rc = set_options(r, r->tr, trainer_state_int(r->tr, "max_steps"));
    if (rc != 0)
        return rc;
    r->print_records = r->rank == 0 && records_on_stdout(r);
    if (r->detected && r->rank == 0)
        printf("Checkpoint detected, resuming training at %s. To avoid this behavior, change "
               "the `--output_dir` or add `--overwrite_output_dir` to train from scratch.\n",
               r->resume);
    mlm_trainer_set_callback(r->tr, on_log, r);
    /* Checkpoints get the tokenizer files, as HF's Trainer given the
     * tokenizer writes them; loaded afresh, without the truncation and
     * padding set for the data. */
    if ((st = mlm_tokenizer_load(r->tok_path, &r->save_tok)) != MLM_OK ||
        (st = mlm_trainer_set_tokenizer(r->tr, r->save_tok)) != MLM_OK)
        return cli_fail(r->tok_path, st);
    return 0;
}

/* ---------------------------------------------------------------- outputs */

/* Copy a tokenizer side file (tokenizer_config.json: model_max_length and
 * the special tokens) into output_dir when the source has one. */
static int copy_side_file(const char *src_dir, const char *out_dir, const char *name)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", src_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", out_dir, name);
    size_t len;
    char *data = cli_read_file(src, &len);
    if (!data)
        return errno == ENOENT ? 0 : -1;
    int rc = cli_write_atomic(dst, data, len);
    free(data);
    return rc;
}

/* trainer.save_model() saves the tokenizer too. It is loaded afresh so the
 * file holds the tokenizer's own settings, not the truncation and padding
 * set for the data preparation. */
static int save_tokenizer(const train_run *r)
{
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(r->tok_path, &tok);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", r->out_dir);
    if (st == MLM_OK)
        st = mlm_tokenizer_save(tok, path);
    mlm_tokenizer_free(tok);
    if (st != MLM_OK)
        return cli_fail(path, st);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", r->tok_path);
    if (!run_is_dir(dir)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(dir, ".");
    }
    if (copy_side_file(dir, r->out_dir, "tokenizer_config.json") != 0 ||
        copy_side_file(dir, r->out_dir, "special_tokens_map.json") != 0)
        return EXIT_RUNTIME;
    return 0;
}

/* ---------------------------------------------------------------- train, eval */

static void print_train_header(const train_run *r)
{
    if (r->rank != 0)
        return;
    cJSON *state = trainer_json(r->tr, mlm_trainer_state_json);
    cJSON *args = trainer_json(r->tr, mlm_trainer_args_json);
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(state, "train_batch_size");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(args, "gradient_accumulation_steps");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(state, "num_train_epochs");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(state, "max_steps");
    long long b = cJSON_IsNumber(bs) ? (long long)bs->valuedouble : 0;
    long long k = cJSON_IsNumber(acc) ? (long long)acc->valuedouble : 0;
    printf("***** Running training *****\n"
           "  Num examples = %lld\n"
           "  Num Epochs = %lld\n"
           "  Instantaneous batch size per device = %lld\n"
           "  Total train batch size (w. parallel, distributed & accumulation) = %lld\n"
           "  Gradient Accumulation steps = %lld\n"
           "  Total optimization steps = %lld\n"
           "  Number of trainable parameters = %lld\n",
           (long long)mlm_dataset_num_rows(r->train),
           cJSON_IsNumber(ep) ? (long long)ep->valuedouble : 0, b, b * k * r->world, k,
           cJSON_IsNumber(steps) ? (long long)steps->valuedouble : 0,
           (long long)mlm_model_num_parameters(r->model));
    fflush(stdout);
    cJSON_Delete(args);
    cJSON_Delete(state);
}

/* run_mlm.py after trainer.train(): the model and tokenizer saved (the
 * trainer did), train_samples added to the metrics, then log_metrics,
 * save_metrics and save_state. */
int run_do_train(train_run *r)
{
    print_train_header(r);
    int rc = run_make_dirs(r->out_dir) == 0 ? 0 : EXIT_RUNTIME;
    mlm_status st = rc == 0 ? mlm_trainer_train(r->tr) : MLM_OK;
    if (rc == 0 && st != MLM_OK)
        rc = cli_fail("training", st);
    if (rc == 0 && r->rank == 0) /* save_model: should_save */
        rc = save_tokenizer(r);
    char *m = rc == 0 ? run_trainer_text(r->tr, mlm_trainer_train_metrics_json) : NULL;
    if (m && !(m = run_with_number(m, "train_samples", (double)mlm_dataset_num_rows(r->train))))
        cli_fail("mlm", MLM_ERR_OUT_OF_MEMORY);
    if (rc == 0)
        rc = m ? run_report(r, "train", m) : EXIT_RUNTIME;
    free(m);
    return rc;
}

int train_run_end(train_run *r, int rc)
{
    int world = r->world;
    train_run_free(r);
    if (rc != 0 && world > 1) {
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return rc;
}

void train_run_free(train_run *r)
{
    mlm_trainer_free(r->tr);
    mlm_dataset_free(r->train);
    mlm_dataset_free(r->eval);
    mlm_dataset_free(r->test);
    mlm_collator_free(r->col);
    mlm_model_free(r->model);
    mlm_tokenizer_free(r->tok);
    mlm_tokenizer_free(r->save_tok);
    free(r->resume);
    train_args_free(&r->a);
}
