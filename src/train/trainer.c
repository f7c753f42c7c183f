/* The Trainer (mlm/trainer.h): transformers' Trainer.train / evaluate /
 * _save_checkpoint for masked-LM, single process, on nn/encoder_train.h's forward
 * and backward and train/optimizer.h's optimizers.
 *
 * Determinism: everything random is a pure function of the seed and a
 * position in the run — the epoch's permutation of (seed, epoch), the
 * collator's masks of the micro-batch index, dropout of (seed, micro-batch
 * index) — so a run resumed at a step boundary from the parameters, the
 * optimizer's m, v and step and the global step repeats the uninterrupted
 * run bit for bit. */
#include "mlm/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/json.h"
#include "train/checkpoint.h"
#include "io/progress.h"
#include "train/predict.h"
#include "train/trainer_impl.h"

/* ---------------------------------------------------------------- options */

static const char *const strategy_names[] = {"no", "steps", "epoch"};

typedef enum opt_kind {
    OPT_INT, OPT_FLOAT, OPT_STR, OPT_STRATEGY, OPT_BOOL, OPT_OPTIM, OPT_BACKEND
} opt_kind;

/* ddp_backend's values, by dist_backend: null, "mpi", "none". */
static const char *const backend_names[] = {NULL, "mpi", "none"};

typedef struct opt_def {
    const char *name;
    opt_kind kind;
    size_t off;
    double lo, hi;      /* inclusive bounds (OPT_INT, OPT_FLOAT) */
    int nullable;       /* "null" allowed: stored as 0 / NULL */
    int hi_open;        /* hi excluded */
    int seq2seq;        /* Seq2SeqTrainingArguments' only: encoder-decoder models */
} opt_def;

#define OFF(f) offsetof(targs, f)
static const opt_def opt_defs[] = {
    {"output_dir", OPT_STR, OFF(output_dir), 0, 0, 0, 0, 0},
    {"eval_strategy", OPT_STRATEGY, OFF(eval_strategy), 0, 0, 0, 0, 0},
    {"eval_steps", OPT_INT, OFF(eval_steps), 1, 1e15, 1, 0, 0},
    {"learning_rate", OPT_FLOAT, OFF(learning_rate), 0, HUGE_VAL, 0, 0, 0},
    {"num_train_epochs", OPT_FLOAT, OFF(num_train_epochs), 1e-300, 1e9, 0, 0, 0},
    {"max_steps", OPT_INT, OFF(max_steps), -1, 1e15, 0, 0, 0},
    {"per_device_train_batch_size", OPT_INT, OFF(train_batch_size), 1, 1 << 20, 0, 0, 0},
    {"per_device_eval_batch_size", OPT_INT, OFF(eval_batch_size), 1, 1 << 20, 0, 0, 0},
    {"gradient_accumulation_steps", OPT_INT, OFF(accum), 1, 1 << 20, 0, 0, 0},
    {"weight_decay", OPT_FLOAT, OFF(weight_decay), 0, HUGE_VAL, 0, 0, 0},
    {"warmup_steps", OPT_INT, OFF(warmup_steps), 0, 1e15, 0, 0, 0},
    {"warmup_ratio", OPT_FLOAT, OFF(warmup_ratio), 0, 1, 0, 0, 0},
    {"max_grad_norm", OPT_FLOAT, OFF(max_grad_norm), 0, HUGE_VAL, 0, 0, 0},
    {"adam_beta1", OPT_FLOAT, OFF(adam_beta1), 0, 1, 0, 1, 0},
    {"adam_beta2", OPT_FLOAT, OFF(adam_beta2), 0, 1, 0, 1, 0},
    {"adam_epsilon", OPT_FLOAT, OFF(adam_epsilon), 0, HUGE_VAL, 0, 0, 0},
    {"optim", OPT_OPTIM, OFF(optim), 0, 0, 0, 0, 0},
    {"logging_steps", OPT_INT, OFF(logging_steps), 1, 1e15, 0, 0, 0},
    {"save_strategy", OPT_STRATEGY, OFF(save_strategy), 0, 0, 0, 0, 0},
    {"save_steps", OPT_INT, OFF(save_steps), 1, 1e15, 0, 0, 0},
    {"save_total_limit", OPT_INT, OFF(save_total_limit), 1, 1e9, 1, 0, 0},
    {"seed", OPT_INT, OFF(seed), 0, 9007199254740992.0, 0, 0, 0},
    {"bf16", OPT_BOOL, OFF(bf16), 0, 0, 0, 0, 0},
    {"resume_from_checkpoint", OPT_STR, OFF(resume_from_checkpoint), 0, 0, 1, 0, 0},
    {"disable_tqdm", OPT_BOOL, OFF(disable_tqdm), 0, 0, 1, 0, 0},
    {"num_threads", OPT_INT, OFF(num_threads), 1, 1024, 0, 0, 0},
    {"compute_accuracy", OPT_BOOL, OFF(compute_accuracy), 0, 0, 0, 0, 0},
    {"predict_with_generate", OPT_BOOL, OFF(predict_with_generate), 0, 0, 0, 0, 1},
    {"generation_max_length", OPT_INT, OFF(generation_max_length), 1, 1 << 20, 1, 0, 1},
    {"generation_num_beams", OPT_INT, OFF(generation_num_beams), 1, 1 << 10, 1, 0, 1},
    {"generation_config", OPT_STR, OFF(generation_config), 0, 0, 1, 0, 1},
    {"ddp_backend", OPT_BACKEND, OFF(ddp_backend), 0, 0, 1, 0, 0},
    {"ddp_bucket_cap_mb", OPT_INT, OFF(ddp_bucket_cap_mb), 1, 1 << 20, 1, 0, 0},
};
#undef OFF
#define N_OPTS (sizeof opt_defs / sizeof opt_defs[0])

static void args_defaults(targs *a)
{
    memset(a, 0, sizeof *a);
    a->eval_strategy = STRAT_NO;
    a->learning_rate = 5e-5;
    a->num_train_epochs = 3.0;
    a->max_steps = -1;
    a->train_batch_size = 8;
    a->eval_batch_size = 8;
    a->accum = 1;
    a->max_grad_norm = 1.0;
    a->adam_beta1 = 0.9;
    a->adam_beta2 = 0.999;
    a->adam_epsilon = 1e-8;
    a->optim = OPTIM_ADAMW_TORCH;
    a->logging_steps = 500;
    a->save_strategy = STRAT_STEPS;
    a->save_steps = 500;
    a->seed = 42;
    a->disable_tqdm = -1;
    a->num_threads = 1;
}

/* ---------------------------------------------------------------- the trainer */

mlm_status mlm_trainer_new(mlm_model *model, const mlm_collator *collator,
                           const mlm_dataset *train, const mlm_dataset *eval,
                           mlm_trainer **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_new: out is NULL");
    *out = NULL;
    if (!model || !collator || !train)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "mlm_trainer_new: model, collator and train dataset are required");
    mlm_status st = MLM_OK;
    if (mlm_dataset_num_rows(train) == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_new: the train dataset is empty");
    /* A reduced model (mlm_model_set_dtype) is evaluated as it is: only
     * training needs owned fp32 parameters (mlm_trainer_train says so). */
    if (mlm_model_dtype(model) == MLM_DTYPE_F32 && (st = model_own_params(model)) != MLM_OK)
        return st;
    mlm_trainer *tr = mem_calloc(1, sizeof *tr);
    if (!tr)
        return err_oom();
    args_defaults(&tr->a);
    tr->a.output_dir = mem_strdup("trainer_output");
    tr->log_history = cJSON_CreateArray();
    if (!tr->a.output_dir || !tr->log_history) {
        mlm_trainer_free(tr);
        return err_oom();
    }
    tr->eval_accuracy = NAN;
    tr->world = 1;
    tr->m = model;
    tr->col = collator;
    tr->train = train;
    tr->eval = eval;
    *out = tr;
    return MLM_OK;
}

void mlm_trainer_free(mlm_trainer *tr)
{
    if (!tr)
        return;
    mem_free(tr->a.output_dir);
    mem_free(tr->a.resume_from_checkpoint);
    mem_free(tr->a.generation_config);
    train_model_free(tr->tm);
    par_pool_free(tr->pool);
    grad_sync_free(tr->gsync);
    dist_close(tr->dist);
    if (tr->opt_ready)
        optimizer_free(&tr->opt);
    cJSON_Delete(tr->log_history);
    cJSON_Delete(tr->train_metrics);
    cJSON_Delete(tr->eval_metrics);
    cJSON_Delete(tr->gen_metrics);
    mem_free(tr);
}

int64_t mlm_trainer_global_step(const mlm_trainer *tr) { return tr ? tr->global_step : 0; }

double mlm_trainer_last_eval_accuracy(const mlm_trainer *tr)
{
    return tr ? tr->eval_accuracy : NAN;
}

void mlm_trainer_set_callback(mlm_trainer *tr, mlm_trainer_log_fn fn, void *user)
{
    if (!tr)
        return;
    tr->fn = fn;
    tr->user = user;
}

mlm_status mlm_trainer_set_tokenizer(mlm_trainer *tr, const mlm_tokenizer *tok)
{
    if (!tr)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_set_tokenizer: trainer is NULL");
    if (tr->started)
        return err_set(MLM_ERR_STATE, "mlm_trainer_set_tokenizer: the trainer has started");
    tr->tok = tok;
    return MLM_OK;
}

static mlm_status bad_value(const char *name, const char *value, const char *why)
{
    return err_set(MLM_ERR_INVALID_ARGUMENT, "trainer option %s: invalid value '%s' (%s)", name,
                   value, why);
}

/* transformers' string_to_bool spellings, any case; "null" is -1 (the
 * caller has rejected it where the option may not be null). */
static mlm_status set_bool(int *slot, const char *name, const char *value, int nullable)
{
    static const char *const yes[] = {"true", "yes", "t", "y", "1"};
    static const char *const no[] = {"false", "no", "f", "n", "0"};
    if (strcmp(value, "null") == 0) {
        *slot = -1;
        return MLM_OK;
    }
    for (size_t i = 0; i < 5; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *slot = 1;
            return MLM_OK;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *slot = 0;
            return MLM_OK;
        }
    }
    return bad_value(name, value,
                     nullable ? "expected true, false or null" : "expected true or false");
}

mlm_status mlm_trainer_set(mlm_trainer *tr, const char *name, const char *value)
{
    if (!tr || !name || !value)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_set: NULL argument");
    if (tr->started)
        return err_set(MLM_ERR_STATE, "trainer option %s: cannot change options after train",
                       name);
    const opt_def *d = NULL;
    for (size_t i = 0; i < N_OPTS; i++)
        if (strcmp(opt_defs[i].name, name) == 0)
            d = &opt_defs[i];
    if (!d)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "unknown trainer option '%s'", name);
    if (d->seq2seq && tr->m->family->id != MLM_FAMILY_ENCODER_DECODER)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "trainer option %s: a Seq2SeqTrainingArguments option, for "
                       "encoder-decoder models; '%s' is %s",
                       name, tr->m->family->type(tr->m), tr->m->family->what);
    char *field = (char *)&tr->a + d->off;
    int is_null = strcmp(value, "null") == 0;
    if (is_null && !d->nullable)
        return bad_value(name, value, "may not be null");
    switch (d->kind) {
    case OPT_STR: {
        char *s = NULL;
        if (!is_null) {
            if (!*value)
                return bad_value(name, value, "empty");
            s = mem_strdup(value);
            if (!s)
                return err_oom();
        }
        char **slot = (char **)(void *)field;
        mem_free(*slot);
        *slot = s;
        return MLM_OK;
    }
    case OPT_BOOL:
        return set_bool((int *)(void *)field, name, value, d->nullable);
    case OPT_STRATEGY:
        for (int k = 0; k < 3; k++)
            if (strcmp(value, strategy_names[k]) == 0) {
                *(int *)(void *)field = k;
                return MLM_OK;
            }
        return bad_value(name, value, "expected \"no\", \"steps\" or \"epoch\"");
    case OPT_BACKEND:
        for (int k = 0; k < 3; k++)
            if (is_null ? k == DIST_AUTO
                        : (backend_names[k] && strcmp(value, backend_names[k]) == 0)) {
                /* once the processes are set up, only their own value again */
                if (tr->dist_ready && k != *(int *)(void *)field)
                    return err_set(MLM_ERR_STATE, "trainer option %s: the trainer's processes "
                                                  "are already set up", name);
                *(int *)(void *)field = k;
                return MLM_OK;
            }
        return bad_value(name, value, "expected null, \"mpi\" or \"none\"");
    case OPT_OPTIM: {
        optim_kind k;
        if (optim_kind_of(value, &k) != 0)
            return bad_value(name, value, "expected " OPTIM_NAMES);
        *(int *)(void *)field = (int)k;
        return MLM_OK;
    }
    case OPT_INT: {
        int64_t v = 0;
        if (!is_null) {
            char *end;
            errno = 0;
            double x = strtod(value, &end);
            if (end == value || *end || errno || !isfinite(x) || x != floor(x))
                return bad_value(name, value, "expected an integer");
            if (x < d->lo || x > d->hi)
                return bad_value(name, value, "out of range");
            v = (int64_t)x;
        }
        *(int64_t *)(void *)field = v;
        return MLM_OK;
    }
    case OPT_FLOAT: {
        char *end;
        errno = 0;
        double x = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(x))
            return bad_value(name, value, "expected a finite number");
        if (x < d->lo || x > d->hi || (d->hi_open && x >= d->hi))
            return bad_value(name, value, "out of range");
        *(double *)(void *)field = x;
        return MLM_OK;
    }
    }
    return err_set(MLM_ERR_INTERNAL, "trainer option %s: bad kind", name);
}

mlm_status mlm_trainer_set_json(mlm_trainer *tr, const char *json)
{
    if (!tr || !json)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_set_json: NULL argument");
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "trainer options: not a JSON object");
    }
    mlm_status st = MLM_OK;
    for (const cJSON *it = o->child; it && st == MLM_OK; it = it->next) {
        char num[64];
        const char *v;
        if (cJSON_IsString(it))
            v = it->valuestring;
        else if (cJSON_IsNumber(it)) {
            snprintf(num, sizeof num, "%.17g", it->valuedouble);
            v = num;
        } else if (cJSON_IsNull(it))
            v = "null";
        else if (cJSON_IsBool(it))
            v = cJSON_IsTrue(it) ? "true" : "false";
        else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT,
                         "trainer option %s: expected a string, a number, a boolean or null", it->string);
            break;
        }
        st = mlm_trainer_set(tr, it->string, v);
    }
    cJSON_Delete(o);
    return st;
}

cJSON *trainer_args_json(const targs *a, int seq2seq)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *d = &opt_defs[i];
        if (d->seq2seq && !seq2seq)
            continue;
        const char *field = (const char *)a + d->off;
        cJSON *v = NULL;
        switch (d->kind) {
        case OPT_STR: {
            const char *s = *(char *const *)(const void *)field;
            v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
            break;
        }
        case OPT_STRATEGY:
            v = cJSON_CreateString(strategy_names[*(const int *)(const void *)field]);
            break;
        case OPT_OPTIM:
            v = cJSON_CreateString(optim_kind_name((optim_kind) * (const int *)(const void *)field));
            break;
        case OPT_BACKEND: {
            const char *b = backend_names[*(const int *)(const void *)field];
            v = b ? cJSON_CreateString(b) : cJSON_CreateNull();
            break;
        }
        case OPT_BOOL: {
            int b = *(const int *)(const void *)field;
            v = b < 0 ? cJSON_CreateNull() : cJSON_CreateBool(b);
            break;
        }
        case OPT_INT: {
            int64_t x = *(const int64_t *)(const void *)field;
            v = (d->nullable && x == 0) ? cJSON_CreateNull() : cJSON_CreateNumber((double)x);
            break;
        }
        case OPT_FLOAT:
            v = cJSON_CreateNumber(*(const double *)(const void *)field);
            break;
        }
        if (!v || !cJSON_AddItemToObject(o, d->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* o (taken) as one line of JSON into buf, with two-call sizing: at most cap
 * bytes including the NUL, *needed the full length + 1. */
static mlm_status json_out(cJSON *o, char *buf, size_t cap, size_t *needed)
{
    char *s = o ? json_print_exact(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return err_oom();
    out_copy(s, strlen(s), buf, cap, needed);
    cJSON_free(s);
    return MLM_OK;
}

mlm_status mlm_trainer_args_json(const mlm_trainer *tr, char *buf, size_t cap, size_t *needed)
{
    if (!tr || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_args_json: bad arguments");
    return json_out(trainer_args_json(&tr->a, trainer_is_seq2seq(tr)), buf, cap, needed);
}

mlm_status mlm_trainer_state_json(const mlm_trainer *tr, char *buf, size_t cap, size_t *needed)
{
    if (!tr || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_state_json: bad arguments");
    trainer_plan p = trainer_plan_of(tr);
    return json_out(trainer_state_json(tr, &p), buf, cap, needed);
}

mlm_status mlm_trainer_train_metrics_json(const mlm_trainer *tr, char *buf, size_t cap,
                                          size_t *needed)
{
    if (!tr || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_train_metrics_json: bad arguments");
    if (!tr->train_metrics)
        return err_set(MLM_ERR_STATE, "mlm_trainer_train_metrics_json: no training has finished "
                                      "on this trainer");
    return json_out(cJSON_Duplicate(tr->train_metrics, 1), buf, cap, needed);
}

/* ---------------------------------------------------------------- logging */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Whether progress bars are shown, as transformers adds its
 * ProgressCallback whatever other callbacks there are: unless disable_tqdm
 * (null: when stderr is a terminal). */
static int bar_wanted(const mlm_trainer *tr)
{
    return tr->a.disable_tqdm < 0 ? isatty(STDERR_FILENO) : !tr->a.disable_tqdm;
}

static void output_begin(mlm_trainer *tr)
{
    tr->show_bar = tr->rank == 0 && bar_wanted(tr); /* is_world_process_zero */
    if (tr->show_bar)
        progress_open(&tr->bar, stderr, PROGRESS_TERMINAL_WIDTH, progress_ascii_locale(),
                      tr->global_step, tr->total_steps, now_seconds());
}

static void output_end(mlm_trainer *tr) { progress_close(&tr->bar, now_seconds()); }

/* Append rec to log_history and hand it on: to the callback, above the
 * bar (after the callback, as transformers calls the ProgressCallback
 * after the user's), or as a JSON line on stderr when neither. Every rank
 * keeps the same history and calls its callback (HF calls on_log on every
 * process); only rank 0 prints. Takes rec. */
static mlm_status emit(mlm_trainer *tr, cJSON *rec)
{
    if (!rec)
        return err_oom();
    const int want_json = tr->fn || !tr->show_bar;
    char *json = want_json ? json_print_exact(rec) : NULL;
    strbuf line = {0};
    if (tr->show_bar)
        py_log_line(&line, rec);
    if ((want_json && !json) || (tr->show_bar && (line.failed || !line.data)) ||
        !cJSON_AddItemToArray(tr->log_history, rec)) {
        cJSON_free(json);
        sb_free(&line);
        cJSON_Delete(rec);
        return err_oom();
    }
    if (tr->fn && tr->show_bar)
        progress_clear(&tr->bar); /* what the callback prints starts a clean line */
    if (tr->fn && tr->fn(json, tr->user) != 0)
        tr->stop = 1;
    if (tr->show_bar)
        progress_write(&tr->bar, line.data, now_seconds());
    else if (!tr->fn && tr->rank == 0)
        fprintf(stderr, "%s\n", json);
    cJSON_free(json);
    sb_free(&line);
    return MLM_OK;
}

/* ---------------------------------------------------------------- processes */

/* Open the processes of backend (over the host's comm when not NULL): the
 * trainer's rank and world from then on. */
static mlm_status open_dist(mlm_trainer *tr, dist_backend backend, const void *comm)
{
    mlm_status st = dist_open(backend, comm, &tr->dist);
    if (st != MLM_OK)
        return st;
    tr->a.ddp_backend = backend;
    tr->dist_ready = 1;
    tr->rank = dist_rank(tr->dist);
    tr->world = dist_size(tr->dist);
    return MLM_OK;
}

mlm_status trainer_dist(mlm_trainer *tr)
{
    if (tr->dist_ready)
        return MLM_OK;
    mlm_status st = open_dist(tr, (dist_backend)tr->a.ddp_backend, NULL);
    return st == MLM_OK ? MLM_OK : err_prefix(st, "trainer option ddp_backend: ");
}

mlm_status mlm_trainer_set_mpi_comm(mlm_trainer *tr, const void *comm)
{
    if (!tr || !comm)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_set_mpi_comm: NULL argument");
    if (tr->started || tr->dist_ready)
        return err_set(MLM_ERR_STATE, "mlm_trainer_set_mpi_comm: the trainer's processes are "
                                      "already set up");
    mlm_status st = open_dist(tr, DIST_MPI, comm);
    return st == MLM_OK ? MLM_OK : err_prefix(st, "mlm_trainer_set_mpi_comm: ");
}

mlm_status mlm_trainer_world(mlm_trainer *tr, int *process_index, int *world_size)
{
    if (!tr)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_world: trainer is NULL");
    mlm_status st = trainer_dist(tr);
    if (st != MLM_OK)
        return st;
    if (process_index)
        *process_index = tr->rank;
    if (world_size)
        *world_size = tr->world;
    return MLM_OK;
}

/* A point every rank reaches: each says whether it failed and whether its
 * callback asked to stop, and adds *sum (NULL: nothing) to the others', in
 * rank order (the same bits on every rank). st when this rank failed; an
 * error naming the first rank that did when another one did, so that every
 * rank leaves the run at the same point. The single process: st. */
static mlm_status agree(mlm_trainer *tr, mlm_status st, double *sum)
{
    if (tr->world == 1)
        return st;
    double mine[3] = {sum ? *sum : 0.0, st != MLM_OK, tr->stop};
    double *all = mem_alloc((size_t)tr->world * 3 * sizeof *all);
    if (!all)
        return st != MLM_OK ? st : err_oom();
    mlm_status cs = dist_allgather_f64(tr->dist, mine, 3, all);
    double total = 0.0;
    int bad = -1;
    for (int r = 0; cs == MLM_OK && r < tr->world; r++) {
        total += all[3 * r];
        if (all[3 * r + 1] != 0 && bad < 0)
            bad = r;
        if (all[3 * r + 2] != 0)
            tr->stop = 1;
    }
    mem_free(all);
    if (st != MLM_OK)
        return st;
    if (cs != MLM_OK)
        return cs;
    if (sum)
        *sum = total;
    if (bad >= 0)
        return err_set(MLM_ERR_CANCELLED, "stopped on rank %d of %d: rank %d failed (its error "
                                          "is in its own output)",
                       tr->rank, tr->world, bad);
    return MLM_OK;
}

mlm_status trainer_store_flos(mlm_trainer *tr)
{
    double f = tr->current_flos;
    mlm_status st = agree(tr, MLM_OK, &f);
    if (st != MLM_OK)
        return st;
    tr->total_flos += f;
    tr->current_flos = 0.0;
    return MLM_OK;
}

/* ---------------------------------------------------------------- batches */

/* This thread's parallel calls go to the trainer's workers until
 * par_pool_leave (made on first use; without it they start threads). */
static par_pool *enter_pool(mlm_trainer *tr)
{
    if (!tr->pool && tr->a.num_threads > 1)
        tr->pool = par_pool_new((int)tr->a.num_threads - 1);
    return par_pool_enter(tr->pool);
}

/* Collate rows[0..n) of ds and run the forward (train_mode as given).
 * *n_rows: labelled positions. The batch must stay alive until the backward
 * (the context borrows its arrays): the caller frees *bout. */
static mlm_status forward_rows(mlm_trainer *tr, const mlm_dataset *ds, const size_t *rows,
                               size_t n, uint64_t batch_index, int train_mode, uint64_t step,
                               mlm_batch **bout, float *loss, size_t *n_rows)
{
    mlm_batch *b = NULL;
    mlm_status st = mlm_collator_collate(tr->col, ds, rows, n, batch_index, &b);
    if (st != MLM_OK)
        return st;
    if (!tr->tm)
        st = train_model_new(tr->m, (int)tr->a.num_threads, &tr->tm);
    /* HF's Trainer runs compute_loss under autocast in training_step and
     * prediction_step alike when bf16 is on: this forward and its backward */
    if (st == MLM_OK)
        train_model_set_autocast_bf16(tr->tm, tr->a.bf16 == 1);
    if (st == MLM_OK)
        st = train_model_forward(tr->tm, b, train_mode, (uint64_t)tr->a.seed, step, loss, n_rows);
    if (st != MLM_OK) {
        mlm_batch_free(b);
        return st;
    }
    *bout = b;
    return MLM_OK;
}

/* The evaluation's bar (ProgressCallback's prediction_bar): made after the
 * first batch, as transformers makes it in on_prediction_step. During a
 * run it takes the training bar's line for a while, since the bars move
 * the cursor with carriage returns only (tqdm draws it on the line below). */
static void eval_bar_step(mlm_trainer *tr, progress_bar *eb, int64_t done, int64_t total)
{
    double t = now_seconds();
    if (!eb->open) {
        progress_clear(&tr->bar);
        progress_open(eb, stderr, PROGRESS_TERMINAL_WIDTH, progress_ascii_locale(), 0, total, t);
    }
    progress_advance(eb, done, t);
}

/* transformers' leave=self.training_bar is None: cleared during a run, left
 * on the screen after a standalone evaluation. */
static void eval_bar_end(mlm_trainer *tr, progress_bar *eb)
{
    if (!eb->open)
        return;
    if (!tr->bar.open) {
        progress_close(eb, now_seconds());
        return;
    }
    progress_discard(eb);
    progress_refresh(&tr->bar, now_seconds());
}

/* HF's speed_metrics: the runtime rounded to 4 decimals and the rates to 3
 * (none when the runtime is 0). */
static int add_speed(cJSON *m, const char *split, double runtime, double samples, double steps)
{
    char k[64];
    snprintf(k, sizeof k, "%s_runtime", split);
    if (!add_num(m, k, json_py_round(runtime, 4)))
        return 0;
    if (runtime == 0)
        return 1;
    snprintf(k, sizeof k, "%s_samples_per_second", split);
    int ok = add_num(m, k, json_py_round(samples / runtime, 3));
    snprintf(k, sizeof k, "%s_steps_per_second", split);
    return ok && add_num(m, k, json_py_round(steps / runtime, 3));
}

/* A copy of every member of gen (NULL: none) added to m. */
static int add_gen_metrics(cJSON *m, const cJSON *gen)
{
    for (const cJSON *it = gen ? gen->child : NULL; it; it = it->next)
        if (!add_num(m, it->string, it->valuedouble))
            return 0;
    return 1;
}

/* What one pass of the evaluation loop measured. */
typedef struct loop_result {
    double loss;     /* mean over rows of their batch's mean loss; NaN: no labelled batch */
    double accuracy; /* correct / labelled (compute_accuracy); NaN when not computed */
    cJSON *gen;      /* {prefix}_rouge*, {prefix}_gen_len (predict_with_generate), or NULL */
    double runtime, samples, steps;
} loop_result;

/* A batch's part in the evaluation's totals: its mean loss once per row
 * (HF: loss.repeat(batch_size)), and its labelled and correct tokens. */
static void eval_add(float loss, size_t n, size_t labelled, size_t right, double *sum,
                     size_t *count, size_t *labelled_total, size_t *correct)
{
    *sum += (double)loss * (double)n;
    *count += n;
    *correct += right;
    *labelled_total += labelled;
}

/* Per batch in a shared evaluation: loss, rows, labelled, correct. */
#define EVAL_SLOTS 4

/* transformers' evaluation_loop, shared by evaluate and predict: the rows
 * of ds in order, in batches of per_device_eval_batch_size, eval mode;
 * with ps (begun by the caller) each batch is also generated on and
 * decoded, and ROUGE and gen_len computed at the end. Masks come from
 * batch indices apart from training's (EVAL_BATCH_BASE), so the result is
 * deterministic. On a terminal a bar counts the batches. res->gen is the
 * caller's to free. */
static mlm_status eval_loop(mlm_trainer *tr, const mlm_dataset *ds, const char *prefix,
                            predict_state *ps, loop_result *res)
{
    memset(res, 0, sizeof *res);
    res->loss = res->accuracy = NAN;
    const double t0 = now_seconds();
    size_t N = mlm_dataset_num_rows(ds);
    size_t bs = (size_t)tr->a.eval_batch_size;
    size_t *rows = mem_alloc(bs * sizeof *rows);
    if (!rows)
        return err_oom();
    /* the bar redraws in place: on a terminal only, never into a log file */
    const int show_bar = tr->rank == 0 && isatty(STDERR_FILENO) && bar_wanted(tr);
    const int64_t n_batches = (int64_t)((N + bs - 1) / bs);
    progress_bar eb = {0};
    double sum = 0.0;
    size_t count = 0, labelled_total = 0, correct = 0;
    /* Several ranks share the batches as accelerate shards an evaluation
     * (batch k on rank k mod world); each fills its batches' slots of
     * `part`, the sum over the ranks fills them all (one rank each: exact),
     * and the totals are then summed in batch order as one process sums
     * them, to the same bits. Generation is not shared: every rank
     * generates on every batch. */
    const int shard = tr->world > 1 && !ps;
    double *part = NULL;
    if (shard && !(part = mem_calloc((size_t)n_batches * EVAL_SLOTS + 1, sizeof *part))) {
        mem_free(rows);
        return agree(tr, err_oom(), NULL);
    }
    mlm_status st = MLM_OK;
    par_pool *before = enter_pool(tr);
    for (size_t i = 0, k = 0; i < N && st == MLM_OK; i += bs, k++) {
        if (shard && (int)(k % (size_t)tr->world) != tr->rank)
            continue;
        size_t n = N - i < bs ? N - i : bs;
        for (size_t j = 0; j < n; j++)
            rows[j] = i + j;
        mlm_batch *b = NULL;
        float loss;
        size_t labelled;
        st = forward_rows(tr, ds, rows, n, EVAL_BATCH_BASE + k, 0, 0, &b, &loss, &labelled);
        if (st == MLM_OK && ps)
            st = predict_batch(tr, ps, b);
        mlm_batch_free(b);
        if (st == MLM_OK && labelled > 0) {
            /* before the next forward overwrites the head's logits */
            size_t right = 0;
            if (tr->a.compute_accuracy)
                st = train_model_correct(tr->tm, &right);
            if (shard) {
                double *slot = part + k * EVAL_SLOTS;
                slot[0] = loss;
                slot[1] = (double)n;
                slot[2] = (double)labelled;
                slot[3] = (double)right;
            } else
                eval_add(loss, n, labelled, right, &sum, &count, &labelled_total, &correct);
        }
        if (st == MLM_OK && show_bar)
            eval_bar_step(tr, &eb, (int64_t)k + 1, n_batches);
    }
    eval_bar_end(tr, &eb);
    par_pool_leave(before);
    mem_free(rows);
    if (shard) {
        part[(size_t)n_batches * EVAL_SLOTS] = st != MLM_OK; /* failures */
        mlm_status rs = dist_allreduce_f64(tr->dist, part, (size_t)n_batches * EVAL_SLOTS + 1);
        if (st == MLM_OK)
            st = rs;
        if (st == MLM_OK && part[(size_t)n_batches * EVAL_SLOTS] != 0)
            st = err_set(MLM_ERR_CANCELLED, "evaluation stopped on rank %d of %d: another rank "
                                            "failed (its error is in its own output)",
                         tr->rank, tr->world);
        for (int64_t k = 0; st == MLM_OK && k < n_batches; k++) {
            const double *slot = part + (size_t)k * EVAL_SLOTS;
            if (slot[2] > 0)
                eval_add((float)slot[0], (size_t)slot[1], (size_t)slot[2], (size_t)slot[3], &sum,
                         &count, &labelled_total, &correct);
        }
        mem_free(part);
    }
    if (st == MLM_OK && ps) {
        res->gen = cJSON_CreateObject();
        st = res->gen ? predict_metrics(tr, ps, prefix, res->gen) : err_oom();
    }
    if (st != MLM_OK) {
        cJSON_Delete(res->gen);
        res->gen = NULL;
        return st;
    }
    res->loss = count ? sum / (double)count : NAN;
    /* pooled over the whole set (a micro average), as compute_metrics sees
     * every batch's predictions at once */
    if (tr->a.compute_accuracy && labelled_total)
        res->accuracy = (double)correct / (double)labelled_total;
    res->runtime = now_seconds() - t0;
    res->samples = (double)N;
    res->steps = (double)n_batches;
    return MLM_OK;
}

/* The loop's metrics as evaluation_loop + evaluate/predict name them:
 * {prefix}_loss, {prefix}_accuracy (with compute_accuracy), the
 * generation's, speed_metrics over the set (steps: its batches), and, for
 * evaluate, the epoch once training has run (Trainer.log adds state.epoch
 * to the same dict when there is one; predict does not log). */
static cJSON *loop_metrics_json(const mlm_trainer *tr, const char *prefix, const loop_result *r,
                                int with_epoch)
{
    char key[256];
    cJSON *m = cJSON_CreateObject();
    snprintf(key, sizeof key, "%s_loss", prefix);
    int ok = m && add_num(m, key, r->loss);
    snprintf(key, sizeof key, "%s_accuracy", prefix);
    if (ok && tr->a.compute_accuracy)
        ok = add_num(m, key, r->accuracy);
    if (ok && add_gen_metrics(m, r->gen) &&
        add_speed(m, prefix, r->runtime, r->samples, r->steps) &&
        (!with_epoch || !tr->started || add_num(m, "epoch", tr->epoch)))
        return m;
    cJSON_Delete(m);
    return NULL;
}

/* The generation of an evaluation or prediction: predict_with_generate on
 * an encoder-decoder (*on set), begun into ps. */
static mlm_status generation_begin(const mlm_trainer *tr, predict_state *ps, int keep_ids,
                                   int *on)
{
    memset(ps, 0, sizeof *ps);
    *on = trainer_is_seq2seq(tr) && tr->a.predict_with_generate;
    mlm_status st = *on ? predict_begin(tr, ps) : MLM_OK;
    ps->keep_ids = keep_ids;
    return st;
}

mlm_status mlm_trainer_evaluate(mlm_trainer *tr, double *eval_loss, double *perplexity)
{
    if (!tr)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_evaluate: trainer is NULL");
    if (!tr->eval)
        return err_set(MLM_ERR_STATE, "mlm_trainer_evaluate: the trainer has no eval dataset");
    tr->eval_accuracy = NAN;
    cJSON_Delete(tr->eval_metrics);
    tr->eval_metrics = NULL;
    cJSON_Delete(tr->gen_metrics);
    tr->gen_metrics = NULL;
    predict_state ps = {0};
    int generate;
    loop_result r;
    mlm_status st = trainer_dist(tr);
    if (st == MLM_OK)
        st = generation_begin(tr, &ps, 0, &generate);
    if (st == MLM_OK)
        st = eval_loop(tr, tr->eval, "eval", generate ? &ps : NULL, &r);
    predict_end(&ps);
    if (st != MLM_OK)
        return err_prefix(st, "evaluate: ");
    tr->gen_metrics = r.gen;
    if (eval_loss)
        *eval_loss = r.loss;
    if (perplexity)
        *perplexity = exp(r.loss); /* +inf on overflow, as HF's except OverflowError */
    tr->eval_accuracy = r.accuracy;
    tr->eval_metrics = loop_metrics_json(tr, "eval", &r, 1);
    return tr->eval_metrics ? MLM_OK : err_oom();
}

/* A metric_key_prefix that makes keys as HF's: a word, short enough for
 * the key buffers. */
static int prefix_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

mlm_status mlm_trainer_predict(mlm_trainer *tr, const mlm_dataset *test,
                               const char *metric_key_prefix, mlm_prediction **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_predict: out is NULL");
    *out = NULL;
    if (!tr || !test)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "mlm_trainer_predict: the trainer and the test dataset are required");
    const char *prefix = metric_key_prefix ? metric_key_prefix : "test";
    if (!prefix_ok(prefix))
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "mlm_trainer_predict: metric_key_prefix '%s' is not a word of 1 to 200 "
                       "letters, digits or '_'", prefix);
    if (mlm_dataset_num_rows(test) == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_predict: the test dataset is empty");
    predict_state ps = {0};
    int generate;
    loop_result r;
    mlm_status st = trainer_dist(tr);
    if (st == MLM_OK)
        st = generation_begin(tr, &ps, 1, &generate);
    if (st == MLM_OK)
        st = eval_loop(tr, test, prefix, generate ? &ps : NULL, &r);
    cJSON *metrics = st == MLM_OK ? loop_metrics_json(tr, prefix, &r, 0) : NULL;
    if (st == MLM_OK) {
        cJSON_Delete(r.gen);
        if (!metrics || !(*out = prediction_new(generate ? &ps : NULL, metrics)))
            st = err_oom();
    }
    predict_end(&ps);
    return st == MLM_OK ? MLM_OK : err_prefix(st, "predict: ");
}

mlm_status mlm_trainer_eval_metrics_json(const mlm_trainer *tr, char *buf, size_t cap,
                                         size_t *needed)
{
    if (!tr || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_eval_metrics_json: bad arguments");
    if (!tr->eval_metrics)
        return err_set(MLM_ERR_STATE, "mlm_trainer_eval_metrics_json: no evaluation has "
                                      "finished on this trainer");
    return json_out(cJSON_Duplicate(tr->eval_metrics, 1), buf, cap, needed);
}

/* ---------------------------------------------------------------- train */

/* The evaluation's record. eval_accuracy follows eval_loss as in
 * transformers' evaluation_loop: compute_metrics' {"accuracy"}, then
 * eval_loss added, then "accuracy" popped and put back as "eval_accuracy"
 * (at the end); HF's eval_runtime and rates, which libmlm does not log,
 * would come next. */
static mlm_status log_eval(mlm_trainer *tr)
{
    double loss, ppl;
    mlm_status st = mlm_trainer_evaluate(tr, &loss, &ppl);
    if (st != MLM_OK)
        return st;
    cJSON *rec = cJSON_CreateObject();
    /* run_mlm.py's records carry its perplexity; Seq2SeqTrainer logs the
     * evaluation's metrics (loss, ROUGE, gen_len) */
    if (rec && !(add_num(rec, "eval_loss", loss) &&
                 (!tr->a.compute_accuracy || add_num(rec, "eval_accuracy", tr->eval_accuracy)) &&
                 add_gen_metrics(rec, tr->gen_metrics) &&
                 (trainer_is_seq2seq(tr) || add_num(rec, "perplexity", ppl)) &&
                 add_num(rec, "epoch", tr->epoch) &&
                 add_num(rec, "step", (double)tr->global_step))) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    return emit(tr, rec);
}

static mlm_status sync_ready(void *user, size_t from) { return grad_sync_ready(user, from); }

/* Forward and backward of this rank's micro-batches [mb0, mb1) of epoch e,
 * rows[0..N) being its share of the epoch. Each loss counts 1/(group ·
 * world) in the gradient (HF divides by the accumulation, DDP averages over
 * the ranks); the last backward hands its layers' gradients to the sums
 * over the ranks as it finishes them, as DDP's hooks do (the earlier ones
 * only accumulate: no_sync). *sl: Σ loss / group, this rank's step loss. */
static mlm_status micro_batches(mlm_trainer *tr, const size_t *rows, size_t N, int64_t e,
                                int64_t mb0, int64_t mb1, double *sl)
{
    const size_t bs = (size_t)tr->a.train_batch_size;
    const int64_t group = mb1 - mb0;
    const float dloss = 1.0f / (float)(group * tr->world);
    for (int64_t mb = mb0; mb < mb1; mb++) {
        size_t first = (size_t)mb * bs;
        size_t n = N - first < bs ? N - first : bs;
        uint64_t index = trainer_batch_index(tr, e * tr->len_dl + mb, tr->rank);
        mlm_batch *b = NULL;
        float loss;
        size_t labelled;
        mlm_status st = forward_rows(tr, tr->train, rows + first, n, index, 1, index, &b, &loss,
                                     &labelled);
        if (st == MLM_OK && tr->gsync) {
            const int last = mb == mb1 - 1;
            if (last)
                grad_sync_begin(tr->gsync, train_model_grad(tr->tm));
            train_model_set_grad_hook(tr->tm, last ? (grad_hook){sync_ready, tr->gsync}
                                                   : (grad_hook){NULL, NULL});
        }
        if (st == MLM_OK) /* HF's floating_point_ops: every input id, padding too */
            tr->current_flos +=
                tr->flos_per_token * (double)(mlm_batch_rows(b) * mlm_batch_seq_len(b));
        if (st == MLM_OK && labelled > 0) {
            if (!isfinite(loss))
                st = err_set(MLM_ERR_NUMERIC,
                             "training stopped at step %lld (epoch %lld, micro-batch %lld): the "
                             "loss is %g; lower learning_rate (%g) or check the data",
                             (long long)tr->global_step + 1, (long long)e, (long long)mb,
                             (double)loss, tr->a.learning_rate);
            else
                st = train_model_backward(tr->tm, dloss);
            *sl += (double)loss / (double)group;
        }
        mlm_batch_free(b);
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

/* One optimizer step: this rank's micro-batches [mb0, mb1) of epoch e, the
 * gradients summed over the ranks, *step_loss the ranks' mean. */
static mlm_status train_step(mlm_trainer *tr, const size_t *rows, size_t N, int64_t e,
                             int64_t mb0, int64_t mb1, double *step_loss, double *gnorm)
{
    if (tr->tm)
        train_model_zero_grad(tr->tm);
    double sl = 0.0;
    mlm_status st = micro_batches(tr, rows, N, e, mb0, mb1, &sl);
    if (tr->gsync) {
        mlm_status gs = st == MLM_OK ? grad_sync_finish(tr->gsync) : grad_sync_abandon(tr->gsync);
        if (st == MLM_OK)
            st = gs;
    }
    /* HF logs the ranks' mean loss (_nested_gather(tr_loss).mean()) */
    st = agree(tr, st, &sl);
    if (st != MLM_OK)
        return st;
    sl /= (double)tr->world;
    double norm = grad_global_norm(optimizer_groups(&tr->opt), train_model_grad(tr->tm));
    if (!isfinite(norm))
        return err_set(MLM_ERR_NUMERIC,
                       "training stopped at step %lld: the gradient norm is %g; lower "
                       "learning_rate (%g) or check the data",
                       (long long)tr->global_step + 1, norm, tr->a.learning_rate);
    /* clip_grad_norm_'s scaling happens inside the update's pass. */
    double coef = tr->a.max_grad_norm > 0 ? grad_clip_coef(norm, tr->a.max_grad_norm) : 1.0;
    optimizer_step(&tr->opt, model_owned(tr->m), train_model_grad(tr->tm),
                   trainer_lr(tr, tr->global_step), (float)coef);
    *step_loss = sl;
    *gnorm = norm;
    return MLM_OK;
}

/* The record of every logging_steps steps. */
static mlm_status log_loss(mlm_trainer *tr, double norm)
{
    /* _maybe_log_save_evaluate stores them before the log */
    mlm_status st = trainer_store_flos(tr);
    if (st != MLM_OK)
        return st;
    cJSON *rec = cJSON_CreateObject();
    double loss = tr->loss_since_log / (double)tr->steps_since_log;
    if (rec && !(add_num(rec, "loss", json_py_round(loss, 4)) &&
                 add_num(rec, "grad_norm", norm) &&
                 add_num(rec, "learning_rate", trainer_lr(tr, tr->global_step)) &&
                 add_num(rec, "epoch", tr->epoch) &&
                 add_num(rec, "step", (double)tr->global_step))) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    tr->loss_since_log = 0.0;
    tr->steps_since_log = 0;
    return emit(tr, rec);
}

/* What follows a step: logging, evaluation and saving as HF's
 * DefaultFlowCallback decides them (a checkpoint at the last step too, when
 * saving is on), then the callback's stop. */
static mlm_status after_step(mlm_trainer *tr, int epoch_end, double norm)
{
    const targs *a = &tr->a;
    const int64_t gs = tr->global_step;
    const int64_t eval_every = a->eval_steps ? a->eval_steps : a->logging_steps;
    const int log = gs % a->logging_steps == 0;
    const int eval = (a->eval_strategy == STRAT_STEPS && gs % eval_every == 0) ||
                     (a->eval_strategy == STRAT_EPOCH && epoch_end);
    const int save = (a->save_strategy == STRAT_STEPS && gs % a->save_steps == 0) ||
                     (a->save_strategy == STRAT_EPOCH && epoch_end) ||
                     (a->save_strategy != STRAT_NO && gs == tr->total_steps);
    mlm_status st = MLM_OK;
    if (log)
        st = log_loss(tr, norm);
    /* the evaluation is collective: every rank runs it, whatever its log did */
    if (eval) {
        mlm_status es = log_eval(tr);
        if (st == MLM_OK)
            st = es;
    }
    /* the ranks leave together, and save only when all are well */
    if (log || eval || save)
        st = agree(tr, st, NULL);
    if (st == MLM_OK && save)
        st = agree(tr, checkpoint_save(tr), NULL);
    if (st == MLM_OK && tr->stop)
        st = err_set(MLM_ERR_CANCELLED, "training cancelled by the log callback at step %lld",
                     (long long)gs);
    return st;
}

/* train_result.metrics as _inner_training_loop makes them at the end (the
 * flos stored first), epoch included as Trainer.log adds it to the same
 * dict. */
static cJSON *train_metrics_json(mlm_trainer *tr, double runtime)
{
    const targs *a = &tr->a;
    /* total_train_batch_size: per device x accumulation x world */
    double samples = a->max_steps > 0 ? (double)a->max_steps * (double)a->train_batch_size *
                                            (double)a->accum * (double)tr->world
                                      : (double)mlm_dataset_num_rows(tr->train) * a->num_train_epochs;
    if (trainer_store_flos(tr) != MLM_OK)
        return NULL;
    cJSON *m = cJSON_CreateObject();
    if (m && add_speed(m, "train", runtime, samples, (double)tr->total_steps) &&
        add_num(m, "total_flos", tr->total_flos) &&
        add_num(m, "train_loss", tr->global_step ? tr->total_loss / (double)tr->global_step : 0.0) &&
        add_num(m, "epoch", tr->epoch))
        return m;
    cJSON_Delete(m);
    return NULL;
}

/* This rank's rows of an epoch's order, as torch's DistributedSampler
 * splits it: the order padded to a multiple of the world by repeating it
 * from its start, and rank r taking every world-th entry from r. */
static size_t rank_rows(const mlm_trainer *tr, const size_t *perm, size_t N, size_t *mine)
{
    size_t n = (N + (size_t)tr->world - 1) / (size_t)tr->world;
    for (size_t i = 0; i < n; i++)
        mine[i] = perm[((size_t)tr->rank + i * (size_t)tr->world) % N];
    return n;
}

static mlm_status run(mlm_trainer *tr, size_t *perm, size_t *mine)
{
    const targs *a = &tr->a;
    const double t0 = now_seconds();
    const size_t N = mlm_dataset_num_rows(tr->train);
    const int64_t epochs = (tr->total_steps + tr->per_epoch - 1) / tr->per_epoch;
    mlm_status st = MLM_OK;
    for (int64_t e = tr->global_step / tr->per_epoch;
         e < epochs && tr->global_step < tr->total_steps; e++) {
        /* epoch e's order: Fisher-Yates over Philox draws of (seed,
         * SHUFFLE_STREAM + e), which mlm_dataset_epoch_order owns */
        st = mlm_dataset_epoch_order(N, (uint64_t)a->seed, (uint64_t)e, perm);
        if (st != MLM_OK)
            return st;
        const size_t *rows = perm;
        size_t n_rows = N;
        if (tr->world > 1) {
            n_rows = rank_rows(tr, perm, N, mine);
            rows = mine;
        }
        for (int64_t s = tr->global_step - e * tr->per_epoch;
             s < tr->per_epoch && tr->global_step < tr->total_steps; s++) {
            int64_t mb0 = s * a->accum;
            int64_t mb1 = mb0 + a->accum < tr->len_dl ? mb0 + a->accum : tr->len_dl;
            double step_loss = 0.0, norm = 0.0;
            st = train_step(tr, rows, n_rows, e, mb0, mb1, &step_loss, &norm);
            if (st != MLM_OK)
                return st;
            tr->global_step++;
            tr->epoch = (double)e + (double)mb1 / (double)tr->len_dl;
            tr->total_loss += step_loss;
            tr->loss_since_log += step_loss;
            tr->steps_since_log++;
            if (tr->show_bar)
                progress_update(&tr->bar, tr->global_step, step_loss, now_seconds());
            st = after_step(tr, s + 1 == tr->per_epoch || tr->global_step == tr->total_steps,
                            norm);
            if (st != MLM_OK)
                return st;
        }
    }
    /* the last record is the run's metrics (Trainer.log(metrics)) */
    cJSON_Delete(tr->train_metrics);
    tr->train_metrics = train_metrics_json(tr, now_seconds() - t0);
    cJSON *rec = tr->train_metrics ? cJSON_Duplicate(tr->train_metrics, 1) : NULL;
    if (rec && !add_num(rec, "step", (double)tr->global_step)) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    st = emit(tr, rec);
    output_end(tr);
    if (st == MLM_OK && tr->rank == 0)
        st = checkpoint_save_final(tr);
    st = agree(tr, st, NULL);
    if (st == MLM_OK && tr->stop)
        st = err_set(MLM_ERR_CANCELLED, "training cancelled by the log callback at the end");
    return st;
}

/* HF's num_parameters(exclude_embeddings=True): every parameter but the
 * nn.Embedding tables (tied weights are in the table once). T5's are
 * `shared` (which embed_tokens and a tied lm_head share) and each stack's
 * relative_attention_bias. */
static double non_embedding_params(const mlm_model *m)
{
    static const char *const emb[] = {"word_embeddings.weight", "position_embeddings.weight",
                                      "token_type_embeddings.weight", "shared.weight",
                                      "relative_attention_bias.weight"};
    size_t np;
    const param_desc *params = model_param_table(m, &np);
    double n = 0;
    for (size_t i = 0; i < np; i++) {
        const char *name = params[i].name;
        size_t len = strlen(name);
        int is_emb = 0;
        for (size_t k = 0; k < sizeof emb / sizeof emb[0]; k++) {
            size_t el = strlen(emb[k]);
            is_emb |= len >= el && strcmp(name + len - el, emb[k]) == 0;
        }
        if (!is_emb)
            n += (double)params[i].numel;
    }
    return n;
}

trainer_plan trainer_plan_of(const mlm_trainer *tr)
{
    const targs *a = &tr->a;
    /* each rank's share of the rows (DistributedSampler's num_samples) */
    const size_t N = (mlm_dataset_num_rows(tr->train) + (size_t)tr->world - 1) / (size_t)tr->world;
    trainer_plan p;
    p.len_dl = (int64_t)((N + (size_t)a->train_batch_size - 1) / (size_t)a->train_batch_size);
    p.per_epoch = (p.len_dl + a->accum - 1) / a->accum;
    if (a->max_steps > 0)
        p.total_steps = a->max_steps;
    else
        p.total_steps = (int64_t)ceil(a->num_train_epochs * (double)p.per_epoch);
    if (p.total_steps < 1)
        p.total_steps = 1;
    p.warmup = a->warmup_steps > 0 ? a->warmup_steps
                                   : (int64_t)ceil(a->warmup_ratio * (double)p.total_steps);
    return p;
}

static void plan(mlm_trainer *tr)
{
    trainer_plan p = trainer_plan_of(tr);
    tr->len_dl = p.len_dl;
    tr->per_epoch = p.per_epoch;
    tr->total_steps = p.total_steps;
    tr->warmup = p.warmup;
    tr->flos_per_token = 6.0 * non_embedding_params(tr->m);
}

static mlm_status resume_from(mlm_trainer *tr, const char *dir)
{
    mlm_status st = checkpoint_load(tr, dir);
    if (st != MLM_OK)
        return err_prefix(st, "resume_from_checkpoint %s: ", dir);
    if (tr->global_step > tr->total_steps)
        return err_set(MLM_ERR_STATE,
                       "resume_from_checkpoint %s: step %lld is past the run's %lld steps", dir,
                       (long long)tr->global_step, (long long)tr->total_steps);
    return MLM_OK;
}

mlm_status mlm_trainer_train(mlm_trainer *tr)
{
    if (!tr)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_train: trainer is NULL");
    if (tr->started)
        return err_set(MLM_ERR_STATE, "mlm_trainer_train: this trainer has already trained; "
                                      "make a new one (and resume from a checkpoint)");
    tr->started = 1;
    const targs *a = &tr->a;
    mlm_status fp32 = model_require_fp32(tr->m, "mlm_trainer_train");
    if (fp32 != MLM_OK)
        return fp32;
    mlm_status ds = trainer_dist(tr);
    if (ds != MLM_OK)
        return ds;
    if (a->eval_strategy != STRAT_NO && !tr->eval)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "trainer option eval_strategy: \"%s\" needs an eval dataset",
                       strategy_names[a->eval_strategy]);
    plan(tr);
    /* rank 0 owns the output folder; the others wait for its word */
    mlm_status st = tr->rank == 0 ? checkpoint_prepare_output_dir(a->output_dir) : MLM_OK;
    if (st != MLM_OK)
        st = err_prefix(st, "trainer option output_dir: ");
    if ((st = agree(tr, st, NULL)) != MLM_OK)
        return st;
    optim_hparams h = {a->adam_beta1, a->adam_beta2, a->adam_epsilon, a->weight_decay, 0};
    size_t np;
    const param_desc *params = model_param_table(tr->m, &np);
    st = optimizer_init(&tr->opt, (optim_kind)a->optim, params, np, &h, (int)a->num_threads);
    if (st != MLM_OK)
        return st;
    tr->opt_ready = 1;
    if (tr->world > 1) {
        int64_t mb = a->ddp_bucket_cap_mb ? a->ddp_bucket_cap_mb : 25; /* DDP's bucket_cap_mb */
        st = grad_sync_new(tr->dist, model_numel(tr->m), (size_t)mb << 20, &tr->gsync);
    }
    /* every rank reads the checkpoint (a folder all of them see) */
    if (st == MLM_OK && a->resume_from_checkpoint)
        st = resume_from(tr, a->resume_from_checkpoint);
    if ((st = agree(tr, st, NULL)) != MLM_OK)
        return st;
    const size_t N = mlm_dataset_num_rows(tr->train);
    size_t *perm = mem_alloc(N * sizeof *perm);
    /* this rank's share: DistributedSampler's num_samples */
    size_t *mine = tr->world > 1 ? mem_alloc((N + (size_t)tr->world - 1) / (size_t)tr->world *
                                             sizeof *mine)
                                 : NULL;
    if (!perm || (tr->world > 1 && !mine)) {
        mem_free(perm);
        mem_free(mine);
        return agree(tr, err_oom(), NULL);
    }
    output_begin(tr);
    par_pool *before = enter_pool(tr);
    st = run(tr, perm, mine);
    par_pool_leave(before);
    output_end(tr);
    mem_free(perm);
    mem_free(mine);
    return st;
}

mlm_status mlm_trainer_resume(mlm_trainer *tr, const char *checkpoint_dir)
{
    if (!tr || !checkpoint_dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_resume: NULL argument");
    mlm_status st = mlm_trainer_set(tr, "resume_from_checkpoint", checkpoint_dir);
    return st != MLM_OK ? st : mlm_trainer_train(tr);
}
