/* The Trainer (mlm/trainer.h): transformers' Trainer.train / evaluate /
 * _save_checkpoint for masked-LM, single process, on nn/train.h's forward
 * and backward and train/adamw.h's optimizer.
 *
 * Determinism: everything random is a pure function of the seed and a
 * position in the run — the epoch's permutation of (seed, epoch), the
 * collator's masks of the micro-batch index, dropout of (seed, micro-batch
 * index) — so a run resumed at a step boundary from the parameters, the
 * optimizer's m, v and step and the global step repeats the uninterrupted
 * run bit for bit. */
#include "mlm/trainer.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "nn/train.h"
#include "train/adamw.h"

/* ---------------------------------------------------------------- options */

enum { STRAT_NO, STRAT_STEPS, STRAT_EPOCH };
static const char *const strategy_names[] = {"no", "steps", "epoch"};

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
    int64_t logging_steps;
    int save_strategy;
    int64_t save_steps;
    int64_t save_total_limit;     /* 0: null (keep all) */
    int64_t seed;
    char *resume_from_checkpoint; /* NULL: null */
    int64_t num_threads;
} targs;

typedef enum opt_kind { OPT_INT, OPT_FLOAT, OPT_STR, OPT_STRATEGY } opt_kind;

typedef struct opt_def {
    const char *name;
    opt_kind kind;
    size_t off;
    double lo, hi;      /* inclusive bounds (OPT_INT, OPT_FLOAT) */
    int nullable;       /* "null" allowed: stored as 0 / NULL */
    int hi_open;        /* hi excluded */
} opt_def;

#define OFF(f) offsetof(targs, f)
static const opt_def opt_defs[] = {
    {"output_dir", OPT_STR, OFF(output_dir), 0, 0, 0, 0},
    {"eval_strategy", OPT_STRATEGY, OFF(eval_strategy), 0, 0, 0, 0},
    {"eval_steps", OPT_INT, OFF(eval_steps), 1, 1e15, 1, 0},
    {"learning_rate", OPT_FLOAT, OFF(learning_rate), 0, HUGE_VAL, 0, 0},
    {"num_train_epochs", OPT_FLOAT, OFF(num_train_epochs), 1e-300, 1e9, 0, 0},
    {"max_steps", OPT_INT, OFF(max_steps), -1, 1e15, 0, 0},
    {"per_device_train_batch_size", OPT_INT, OFF(train_batch_size), 1, 1 << 20, 0, 0},
    {"per_device_eval_batch_size", OPT_INT, OFF(eval_batch_size), 1, 1 << 20, 0, 0},
    {"gradient_accumulation_steps", OPT_INT, OFF(accum), 1, 1 << 20, 0, 0},
    {"weight_decay", OPT_FLOAT, OFF(weight_decay), 0, HUGE_VAL, 0, 0},
    {"warmup_steps", OPT_INT, OFF(warmup_steps), 0, 1e15, 0, 0},
    {"warmup_ratio", OPT_FLOAT, OFF(warmup_ratio), 0, 1, 0, 0},
    {"max_grad_norm", OPT_FLOAT, OFF(max_grad_norm), 0, HUGE_VAL, 0, 0},
    {"adam_beta1", OPT_FLOAT, OFF(adam_beta1), 0, 1, 0, 1},
    {"adam_beta2", OPT_FLOAT, OFF(adam_beta2), 0, 1, 0, 1},
    {"adam_epsilon", OPT_FLOAT, OFF(adam_epsilon), 0, HUGE_VAL, 0, 0},
    {"logging_steps", OPT_INT, OFF(logging_steps), 1, 1e15, 0, 0},
    {"save_strategy", OPT_STRATEGY, OFF(save_strategy), 0, 0, 0, 0},
    {"save_steps", OPT_INT, OFF(save_steps), 1, 1e15, 0, 0},
    {"save_total_limit", OPT_INT, OFF(save_total_limit), 1, 1e9, 1, 0},
    {"seed", OPT_INT, OFF(seed), 0, 9007199254740992.0, 0, 0},
    {"resume_from_checkpoint", OPT_STR, OFF(resume_from_checkpoint), 0, 0, 1, 0},
    {"num_threads", OPT_INT, OFF(num_threads), 1, 1024, 0, 0},
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
    a->logging_steps = 500;
    a->save_strategy = STRAT_STEPS;
    a->save_steps = 500;
    a->seed = 42;
    a->num_threads = 1;
}

/* ---------------------------------------------------------------- the trainer */

/* Eval batches draw their masks from collator streams far from any training
 * micro-batch index, so evaluation is the same whenever it runs. */
#define EVAL_BATCH_BASE (UINT64_C(1) << 62)
/* The Philox stream of epoch e's permutation is SHUFFLE_STREAM + e. */
#define SHUFFLE_STREAM (UINT64_C(0x53485546) << 32)

struct mlm_trainer {
    mlm_model *m;
    const mlm_collator *col;
    const mlm_dataset *train, *eval;
    targs a;
    mlm_trainer_log_fn fn;
    void *user;
    int stop;                /* the callback asked to stop */
    int started;             /* train has been called */

    train_ctx *tc;
    adamw opt;
    int opt_ready;

    /* progress */
    int64_t global_step;
    double epoch;
    double total_loss;       /* Σ step losses (train_loss at the end) */
    double loss_since_log;   /* Σ step losses since the last loss record */
    int64_t steps_since_log;
    cJSON *log_history;

    /* the schedule of the current run */
    int64_t len_dl, per_epoch, total_steps, warmup;
};

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
    if (mlm_dataset_num_rows(train) == 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_new: the train dataset is empty");
    mlm_status st = model_own_params(model);
    if (st != MLM_OK)
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
    train_ctx_free(tr->tc);
    if (tr->opt_ready)
        adamw_free(&tr->opt);
    cJSON_Delete(tr->log_history);
    mem_free(tr);
}

int64_t mlm_trainer_global_step(const mlm_trainer *tr) { return tr ? tr->global_step : 0; }

void mlm_trainer_set_callback(mlm_trainer *tr, mlm_trainer_log_fn fn, void *user)
{
    if (!tr)
        return;
    tr->fn = fn;
    tr->user = user;
}

static mlm_status bad_value(const char *name, const char *value, const char *why)
{
    return err_set(MLM_ERR_INVALID_ARGUMENT, "trainer option %s: invalid value '%s' (%s)", name,
                   value, why);
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
    case OPT_STRATEGY:
        for (int k = 0; k < 3; k++)
            if (strcmp(value, strategy_names[k]) == 0) {
                *(int *)(void *)field = k;
                return MLM_OK;
            }
        return bad_value(name, value, "expected \"no\", \"steps\" or \"epoch\"");
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
        else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT,
                         "trainer option %s: expected a string, a number or null", it->string);
            break;
        }
        st = mlm_trainer_set(tr, it->string, v);
    }
    cJSON_Delete(o);
    return st;
}

static cJSON *args_to_json(const targs *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *d = &opt_defs[i];
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

mlm_status mlm_trainer_args_json(const mlm_trainer *tr, char *buf, size_t cap, size_t *needed)
{
    if (!tr || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_args_json: bad arguments");
    cJSON *o = args_to_json(&tr->a);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return err_oom();
    size_t n = strlen(s) + 1;
    *needed = n;
    if (cap) {
        size_t k = n <= cap ? n : cap;
        memcpy(buf, s, k - 1);
        buf[k - 1] = '\0';
    }
    cJSON_free(s);
    return MLM_OK;
}

/* ---------------------------------------------------------------- logging */

/* Append rec to log_history, hand it to the callback (or stderr). Takes rec. */
static mlm_status emit(mlm_trainer *tr, cJSON *rec)
{
    if (!rec)
        return err_oom();
    char *s = cJSON_PrintUnformatted(rec);
    if (!s || !cJSON_AddItemToArray(tr->log_history, rec)) {
        cJSON_free(s);
        cJSON_Delete(rec);
        return err_oom();
    }
    if (tr->fn) {
        if (tr->fn(s, tr->user) != 0)
            tr->stop = 1;
    } else {
        fprintf(stderr, "%s\n", s);
    }
    cJSON_free(s);
    return MLM_OK;
}

static int add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* ---------------------------------------------------------------- batches */

/* Make sure the context holds a (B, T) batch; a bigger one is made and the
 * gradients carried over (only between a backward and the next forward). */
static mlm_status ensure_ctx(mlm_trainer *tr, int B, int T)
{
    train_ctx *old = tr->tc;
    if (old && B <= old->maxB && T <= old->maxT)
        return MLM_OK;
    int nb = old && old->maxB > B ? old->maxB : B;
    int nt = old && old->maxT > T ? old->maxT : T;
    train_ctx *tc = NULL;
    mlm_status st = train_ctx_new(tr->m, nb, nt, (int)tr->a.num_threads, &tc);
    if (st != MLM_OK)
        return st;
    if (old) {
        memcpy(tc->grad, old->grad, model_numel(tr->m) * sizeof(float));
        tc->hidden_dropout = old->hidden_dropout;
        tc->attn_dropout = old->attn_dropout;
        train_ctx_free(old);
    }
    tr->tc = tc;
    return MLM_OK;
}

/* Collate rows[0..n) of ds and run the forward (train_mode as given).
 * *n_rows: labelled positions. The batch must stay alive until the backward
 * (the context borrows its arrays): the caller frees *bout. */
static mlm_status forward_rows(mlm_trainer *tr, const mlm_dataset *ds, const size_t *rows,
                               size_t n, uint64_t batch_index, int train_mode, uint64_t step,
                               mlm_batch **bout, float *loss, int *n_rows)
{
    mlm_batch *b = NULL;
    mlm_status st = mlm_collator_collate(tr->col, ds, rows, n, batch_index, &b);
    if (st != MLM_OK)
        return st;
    size_t B = mlm_batch_rows(b), T = mlm_batch_seq_len(b);
    if (B > INT32_MAX || T > INT32_MAX) {
        mlm_batch_free(b);
        return err_set(MLM_ERR_RANGE, "trainer: batch of %zu x %zu tokens is too large", B, T);
    }
    st = ensure_ctx(tr, (int)B, (int)T);
    if (st != MLM_OK) {
        mlm_batch_free(b);
        return st;
    }
    train_batch tb = {
        .ids = mlm_batch_input_ids(b),
        .attn_mask = mlm_batch_attention_mask(b),
        .type_ids = mlm_batch_token_type_ids(b),
        .labels = mlm_batch_labels(b),
        .B = (int)B,
        .T = (int)T,
    };
    tr->tc->train_mode = train_mode;
    st = train_forward(tr->tc, &tb, (uint64_t)tr->a.seed, step, loss);
    if (st != MLM_OK) {
        mlm_batch_free(b);
        return st;
    }
    *n_rows = tr->tc->n_rows;
    *bout = b;
    return MLM_OK;
}

mlm_status mlm_trainer_evaluate(mlm_trainer *tr, double *eval_loss, double *perplexity)
{
    if (!tr)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_evaluate: trainer is NULL");
    if (!tr->eval)
        return err_set(MLM_ERR_STATE, "mlm_trainer_evaluate: the trainer has no eval dataset");
    size_t N = mlm_dataset_num_rows(tr->eval);
    size_t bs = (size_t)tr->a.eval_batch_size;
    size_t *rows = mem_alloc(bs * sizeof *rows);
    if (!rows)
        return err_oom();
    double sum = 0.0;
    size_t count = 0;
    mlm_status st = MLM_OK;
    for (size_t i = 0, k = 0; i < N && st == MLM_OK; i += bs, k++) {
        size_t n = N - i < bs ? N - i : bs;
        for (size_t j = 0; j < n; j++)
            rows[j] = i + j;
        mlm_batch *b = NULL;
        float loss;
        int labelled;
        st = forward_rows(tr, tr->eval, rows, n, EVAL_BATCH_BASE + k, 0, 0, &b, &loss,
                          &labelled);
        mlm_batch_free(b);
        if (st == MLM_OK && labelled > 0) {
            sum += (double)loss * (double)n; /* HF: loss.repeat(batch_size) */
            count += n;
        }
    }
    mem_free(rows);
    if (st != MLM_OK)
        return err_prefix(st, "evaluate");
    double l = count ? sum / (double)count : NAN;
    if (eval_loss)
        *eval_loss = l;
    if (perplexity)
        *perplexity = exp(l); /* +inf on overflow, as HF's except OverflowError */
    return MLM_OK;
}

/* ---------------------------------------------------------------- files */

static mlm_status path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "path too long: %s/%s", a, b);
    return MLM_OK;
}

static mlm_status make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return MLM_OK;
    return err_set(MLM_ERR_IO, "%s: cannot create folder: %s", path, strerror(errno));
}

/* Remove a folder of plain files (a checkpoint; nothing nested). */
static mlm_status remove_flat_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return MLM_OK;
        return err_set(MLM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    mlm_status st = MLM_OK;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (path_join(p, sizeof p, path, e->d_name) != MLM_OK || unlink(p) != 0) {
            st = err_set(MLM_ERR_IO, "%s/%s: cannot remove: %s", path, e->d_name,
                         strerror(errno));
            break;
        }
    }
    closedir(d);
    if (st == MLM_OK && rmdir(path) != 0)
        st = err_set(MLM_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return st;
}

static void sync_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        fsync(dirfd(d));
        closedir(d);
    }
}

static mlm_status write_json_file(const char *dir, const char *name, const cJSON *o)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, name);
    if (st != MLM_OK)
        return st;
    char *s = cJSON_Print(o);
    if (!s)
        return err_oom();
    st = file_write_atomic(path, s, strlen(s));
    cJSON_free(s);
    return st;
}

static mlm_status save_optimizer(const mlm_trainer *tr, const char *dir)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, "optimizer.safetensors");
    if (st != MLM_OK)
        return st;
    st_writer *w = NULL;
    st = st_writer_new(&w);
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)tr->opt.step);
    if (st == MLM_OK)
        st = st_writer_add_metadata(w, "step", step);
    const mlm_model *m = tr->m;
    for (size_t i = 0; i < m->n_params && st == MLM_OK; i++) {
        const param_desc *p = &m->params[i];
        uint64_t shape[2] = {(uint64_t)p->shape[0], (uint64_t)p->shape[1]};
        char name[160];
        snprintf(name, sizeof name, "%s.exp_avg", p->name);
        st = st_writer_add(w, name, ST_F32, (size_t)p->ndim, shape,
                           tr->opt.m + tr->opt.offset[i]);
        if (st != MLM_OK)
            break;
        snprintf(name, sizeof name, "%s.exp_avg_sq", p->name);
        st = st_writer_add(w, name, ST_F32, (size_t)p->ndim, shape,
                           tr->opt.v + tr->opt.offset[i]);
    }
    if (st == MLM_OK)
        st = st_writer_save(w, path);
    st_writer_free(w);
    return st;
}

static cJSON *trainer_state_json(const mlm_trainer *tr)
{
    const targs *a = &tr->a;
    cJSON *o = cJSON_CreateObject();
    cJSON *hist = cJSON_Duplicate(tr->log_history, 1);
    cJSON *mlm = cJSON_CreateObject();
    int ok = o && hist && mlm;
    ok = ok && cJSON_AddNullToObject(o, "best_global_step") &&
         cJSON_AddNullToObject(o, "best_metric") &&
         cJSON_AddNullToObject(o, "best_model_checkpoint") && add_num(o, "epoch", tr->epoch) &&
         add_num(o, "eval_steps",
                 (double)(a->eval_steps ? a->eval_steps : a->logging_steps)) &&
         add_num(o, "global_step", (double)tr->global_step) &&
         cJSON_AddFalseToObject(o, "is_hyper_param_search") &&
         cJSON_AddTrueToObject(o, "is_local_process_zero") &&
         cJSON_AddTrueToObject(o, "is_world_process_zero");
    if (ok) {
        ok = cJSON_AddItemToObject(o, "log_history", hist);
        hist = NULL;
    }
    ok = ok && add_num(o, "logging_steps", (double)a->logging_steps) &&
         add_num(o, "max_steps", (double)tr->total_steps) &&
         add_num(o, "num_input_tokens_seen", 0) &&
         add_num(o, "num_train_epochs",
                 (double)((tr->total_steps + tr->per_epoch - 1) / tr->per_epoch)) &&
         add_num(o, "save_steps", (double)a->save_steps) && add_num(o, "total_flos", 0) &&
         add_num(o, "train_batch_size", (double)a->train_batch_size) &&
         cJSON_AddNullToObject(o, "trial_name") && cJSON_AddNullToObject(o, "trial_params");
    /* What libmlm needs beyond HF's fields to continue the logs exactly. */
    ok = ok && add_num(mlm, "total_loss", tr->total_loss) &&
         add_num(mlm, "loss_since_log", tr->loss_since_log) &&
         add_num(mlm, "steps_since_log", (double)tr->steps_since_log) &&
         add_num(mlm, "seed", (double)a->seed);
    if (ok) {
        ok = cJSON_AddItemToObject(o, "mlm_state", mlm);
        mlm = NULL;
    }
    cJSON_Delete(hist);
    cJSON_Delete(mlm);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int checkpoint_number(const char *name, long long *n)
{
    if (strncmp(name, "checkpoint-", 11) != 0)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(name + 11, &end, 10);
    if (end == name + 11 || *end || errno || v < 0)
        return 0;
    *n = v;
    return 1;
}

static int cmp_ll(const void *x, const void *y)
{
    long long a = *(const long long *)x, b = *(const long long *)y;
    return (a > b) - (a < b);
}

/* save_total_limit: remove the oldest checkpoint-N folders. */
static mlm_status rotate_checkpoints(const mlm_trainer *tr)
{
    if (tr->a.save_total_limit <= 0)
        return MLM_OK;
    DIR *d = opendir(tr->a.output_dir);
    if (!d)
        return err_set(MLM_ERR_IO, "%s: %s", tr->a.output_dir, strerror(errno));
    long long *nums = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    mlm_status st = MLM_OK;
    while ((e = readdir(d)) != NULL) {
        long long k;
        if (!checkpoint_number(e->d_name, &k))
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            long long *nn = mem_realloc(nums, nc * sizeof *nn);
            if (!nn) {
                st = err_oom();
                break;
            }
            nums = nn;
            cap = nc;
        }
        nums[n++] = k;
    }
    closedir(d);
    if (st == MLM_OK && n > 0)
        qsort(nums, n, sizeof *nums, cmp_ll);
    for (size_t i = 0; st == MLM_OK && n - i > (size_t)tr->a.save_total_limit; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/checkpoint-%lld", tr->a.output_dir, nums[i]);
        st = remove_flat_dir(path);
    }
    mem_free(nums);
    return st;
}

/* output_dir/checkpoint-N, written whole into tmp-checkpoint-N and renamed. */
static mlm_status save_checkpoint(mlm_trainer *tr)
{
    const char *out = tr->a.output_dir;
    char tmp[4096], dir[4096], old[4096];
    mlm_status st = make_dir(out);
    if (st != MLM_OK)
        return st;
    snprintf(tmp, sizeof tmp, "%s/tmp-checkpoint-%lld", out, (long long)tr->global_step);
    snprintf(dir, sizeof dir, "%s/checkpoint-%lld", out, (long long)tr->global_step);
    snprintf(old, sizeof old, "%s/old-checkpoint-%lld", out, (long long)tr->global_step);
    if (strlen(old) >= sizeof old - 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: output_dir path too long", out);
    st = remove_flat_dir(tmp);
    if (st == MLM_OK)
        st = mlm_model_save(tr->m, tmp);
    if (st == MLM_OK)
        st = save_optimizer(tr, tmp);
    cJSON *sched = cJSON_CreateObject();
    if (st == MLM_OK) {
        int ok = sched && add_num(sched, "last_epoch", (double)tr->global_step) &&
                 add_num(sched, "base_lr", tr->a.learning_rate) &&
                 add_num(sched, "num_warmup_steps", (double)tr->warmup) &&
                 add_num(sched, "num_training_steps", (double)tr->total_steps) &&
                 add_num(sched, "last_lr",
                         tr->a.learning_rate *
                             lr_linear_warmup(tr->global_step, tr->warmup, tr->total_steps));
        st = ok ? write_json_file(tmp, "scheduler.json", sched) : err_oom();
    }
    cJSON_Delete(sched);
    if (st == MLM_OK) {
        cJSON *state = trainer_state_json(tr);
        st = state ? write_json_file(tmp, "trainer_state.json", state) : err_oom();
        cJSON_Delete(state);
    }
    if (st == MLM_OK) {
        cJSON *args = args_to_json(&tr->a);
        st = args ? write_json_file(tmp, "training_args.json", args) : err_oom();
        cJSON_Delete(args);
    }
    if (st == MLM_OK) {
        sync_dir(tmp);
        /* An earlier checkpoint of the same step (a run repeated into the
         * same folder) is moved aside first: rename() will not replace a
         * non-empty folder. */
        struct stat sb;
        int had = stat(dir, &sb) == 0;
        if (had && (remove_flat_dir(old) != MLM_OK || rename(dir, old) != 0))
            st = err_set(MLM_ERR_IO, "%s: cannot move the old checkpoint aside", dir);
        else if (rename(tmp, dir) != 0)
            st = err_set(MLM_ERR_IO, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
        else if (had)
            st = remove_flat_dir(old);
        sync_dir(out);
    }
    if (st != MLM_OK) {
        mlm_status keep = st;
        (void)remove_flat_dir(tmp);
        return err_prefix(keep, "checkpoint %lld", (long long)tr->global_step);
    }
    return rotate_checkpoints(tr);
}

/* ---------------------------------------------------------------- resume */

static mlm_status load_checkpoint(mlm_trainer *tr, const char *cdir)
{
    char path[4096];
    mlm_status st;
    /* the parameters: a model loaded from the checkpoint, copied over ours */
    mlm_model *src = NULL;
    st = mlm_model_load(cdir, &src);
    if (st == MLM_OK)
        st = model_own_params(src);
    if (st == MLM_OK) {
        int same = src->n_params == tr->m->n_params && model_numel(src) == model_numel(tr->m);
        for (size_t i = 0; same && i < src->n_params; i++)
            same = strcmp(src->params[i].name, tr->m->params[i].name) == 0 &&
                   src->params[i].numel == tr->m->params[i].numel;
        if (!same)
            st = err_set(MLM_ERR_FORMAT, "%s: the checkpoint's model has another shape", cdir);
        else
            memcpy(tr->m->owned, src->owned, model_numel(src) * sizeof(float));
    }
    mlm_model_free(src);
    if (st != MLM_OK)
        return st;

    /* the optimizer */
    st = path_join(path, sizeof path, cdir, "optimizer.safetensors");
    st_file *f = NULL;
    if (st == MLM_OK)
        st = st_open(path, &f);
    if (st != MLM_OK)
        return st;
    const char *step = st_metadata(f, "step");
    char *end = NULL;
    long long sv = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || sv < 0)
        st = err_set(MLM_ERR_FORMAT, "%s: no valid \"step\" in the metadata", path);
    for (size_t i = 0; st == MLM_OK && i < tr->m->n_params; i++) {
        const param_desc *p = &tr->m->params[i];
        for (int which = 0; which < 2 && st == MLM_OK; which++) {
            char name[160];
            snprintf(name, sizeof name, "%s.%s", p->name, which ? "exp_avg_sq" : "exp_avg");
            const st_tensor *t = NULL;
            st = st_get(f, name, &t);
            if (st == MLM_OK && t->numel != p->numel)
                st = err_set(MLM_ERR_FORMAT, "%s: %s has %zu values, expected %zu", path, name,
                             t->numel, p->numel);
            if (st == MLM_OK)
                st = st_tensor_to_f32(t, (which ? tr->opt.v : tr->opt.m) + tr->opt.offset[i],
                                      p->numel);
        }
    }
    st_close(f);
    if (st != MLM_OK)
        return err_prefix(st, "%s", path);
    tr->opt.step = sv;

    /* the trainer state */
    st = path_join(path, sizeof path, cdir, "trainer_state.json");
    char *text = NULL;
    size_t len;
    if (st == MLM_OK)
        st = file_read_all(path, (size_t)1 << 30, &text, &len);
    if (st != MLM_OK)
        return st;
    cJSON *o = cJSON_ParseWithLength(text, len);
    mem_free(text);
    const cJSON *gs = cJSON_GetObjectItemCaseSensitive(o, "global_step");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(o, "log_history");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "mlm_state");
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(ms, "total_loss");
    const cJSON *ll = cJSON_GetObjectItemCaseSensitive(ms, "loss_since_log");
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(ms, "steps_since_log");
    if (!cJSON_IsNumber(gs) || gs->valuedouble < 0 || !cJSON_IsNumber(ep) ||
        !cJSON_IsArray(hist) || !cJSON_IsNumber(tl) || !cJSON_IsNumber(ll) ||
        !cJSON_IsNumber(sl)) {
        cJSON_Delete(o);
        return err_set(MLM_ERR_FORMAT,
                       "%s: expected global_step, epoch, log_history and mlm_state", path);
    }
    if ((long long)gs->valuedouble != sv) {
        cJSON_Delete(o);
        return err_set(MLM_ERR_FORMAT, "%s: global_step %.0f disagrees with the optimizer's %lld",
                       path, gs->valuedouble, sv);
    }
    tr->global_step = (int64_t)gs->valuedouble;
    tr->epoch = ep->valuedouble;
    tr->total_loss = tl->valuedouble;
    tr->loss_since_log = ll->valuedouble;
    tr->steps_since_log = (int64_t)sl->valuedouble;
    cJSON *h = cJSON_DetachItemFromObjectCaseSensitive(o, "log_history");
    cJSON_Delete(tr->log_history);
    tr->log_history = h;
    cJSON_Delete(o);
    return MLM_OK;
}

/* ---------------------------------------------------------------- train */

/* Epoch e's order of the train rows: Fisher-Yates over Philox draws of
 * (seed, SHUFFLE_STREAM + e). */
static void epoch_permutation(size_t *perm, size_t n, uint64_t seed, uint64_t e)
{
    rng r;
    rng_init(&r, seed, SHUFFLE_STREAM + e);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        uint64_t x = ((uint64_t)rng_u32(&r) << 32) | rng_u32(&r);
        size_t j = (size_t)(x % i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

static double round4(double x) { return round(x * 1e4) / 1e4; }

static mlm_status log_eval(mlm_trainer *tr)
{
    double loss, ppl;
    mlm_status st = mlm_trainer_evaluate(tr, &loss, &ppl);
    if (st != MLM_OK)
        return st;
    cJSON *rec = cJSON_CreateObject();
    if (rec && !(add_num(rec, "eval_loss", loss) && add_num(rec, "perplexity", ppl) &&
                 add_num(rec, "epoch", tr->epoch) && add_num(rec, "step", (double)tr->global_step))) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    return emit(tr, rec);
}

/* One optimizer step: micro-batches [mb0, mb1) of epoch e. */
static mlm_status train_step(mlm_trainer *tr, const size_t *perm, size_t N, int64_t e,
                             int64_t mb0, int64_t mb1, double *step_loss, double *gnorm)
{
    const size_t bs = (size_t)tr->a.train_batch_size;
    const int64_t group = mb1 - mb0;
    if (tr->tc)
        train_zero_grad(tr->tc);
    double sl = 0.0;
    for (int64_t mb = mb0; mb < mb1; mb++) {
        size_t first = (size_t)mb * bs;
        size_t n = N - first < bs ? N - first : bs;
        uint64_t index = (uint64_t)(e * tr->len_dl + mb);
        int fresh = tr->tc == NULL;
        mlm_batch *b = NULL;
        float loss;
        int labelled;
        mlm_status st = forward_rows(tr, tr->train, perm + first, n, index, 1, index, &b, &loss,
                                     &labelled);
        if (st == MLM_OK && fresh)
            train_zero_grad(tr->tc);
        if (st == MLM_OK && labelled > 0) {
            if (!isfinite(loss))
                st = err_set(MLM_ERR_NUMERIC,
                             "training stopped at step %lld (epoch %lld, micro-batch %lld): the "
                             "loss is %g; lower learning_rate (%g) or check the data",
                             (long long)tr->global_step + 1, (long long)e, (long long)mb,
                             (double)loss, tr->a.learning_rate);
            else
                st = train_backward(tr->tc, 1.0f / (float)group);
            sl += (double)loss / (double)group;
        }
        mlm_batch_free(b);
        if (st != MLM_OK)
            return st;
    }
    double norm = grad_global_norm(&tr->opt, tr->tc->grad);
    if (!isfinite(norm))
        return err_set(MLM_ERR_NUMERIC,
                       "training stopped at step %lld: the gradient norm is %g; lower "
                       "learning_rate (%g) or check the data",
                       (long long)tr->global_step + 1, norm, tr->a.learning_rate);
    /* clip_grad_norm_'s scaling happens inside the update's pass. */
    double coef = tr->a.max_grad_norm > 0 ? grad_clip_coef(norm, tr->a.max_grad_norm) : 1.0;
    double lr = tr->a.learning_rate * lr_linear_warmup(tr->global_step, tr->warmup,
                                                       tr->total_steps);
    adamw_step_scaled(&tr->opt, tr->m->owned, tr->tc->grad, lr, (float)coef);
    *step_loss = sl;
    *gnorm = norm;
    return MLM_OK;
}

static mlm_status run(mlm_trainer *tr, size_t *perm)
{
    const targs *a = &tr->a;
    const size_t N = mlm_dataset_num_rows(tr->train);
    const int64_t epochs = (tr->total_steps + tr->per_epoch - 1) / tr->per_epoch;
    const int64_t eval_every = a->eval_steps ? a->eval_steps : a->logging_steps;
    if (a->eval_strategy != STRAT_NO && !tr->eval)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "trainer option eval_strategy: \"%s\" needs an eval dataset",
                       strategy_names[a->eval_strategy]);
    mlm_status st = MLM_OK;
    for (int64_t e = tr->global_step / tr->per_epoch;
         e < epochs && tr->global_step < tr->total_steps; e++) {
        epoch_permutation(perm, N, (uint64_t)a->seed, (uint64_t)e);
        for (int64_t s = tr->global_step - e * tr->per_epoch;
             s < tr->per_epoch && tr->global_step < tr->total_steps; s++) {
            int64_t mb0 = s * a->accum;
            int64_t mb1 = mb0 + a->accum < tr->len_dl ? mb0 + a->accum : tr->len_dl;
            double step_loss = 0.0, norm = 0.0;
            st = train_step(tr, perm, N, e, mb0, mb1, &step_loss, &norm);
            if (st != MLM_OK)
                return st;
            tr->global_step++;
            tr->epoch = (double)e + (double)mb1 / (double)tr->len_dl;
            tr->total_loss += step_loss;
            tr->loss_since_log += step_loss;
            tr->steps_since_log++;
            int epoch_end = s + 1 == tr->per_epoch || tr->global_step == tr->total_steps;
            if (tr->global_step % a->logging_steps == 0) {
                cJSON *rec = cJSON_CreateObject();
                double lr = a->learning_rate *
                            lr_linear_warmup(tr->global_step, tr->warmup, tr->total_steps);
                if (rec &&
                    !(add_num(rec, "loss", round4(tr->loss_since_log /
                                                  (double)tr->steps_since_log)) &&
                      add_num(rec, "grad_norm", norm) && add_num(rec, "learning_rate", lr) &&
                      add_num(rec, "epoch", tr->epoch) &&
                      add_num(rec, "step", (double)tr->global_step))) {
                    cJSON_Delete(rec);
                    rec = NULL;
                }
                tr->loss_since_log = 0.0;
                tr->steps_since_log = 0;
                st = emit(tr, rec);
                if (st != MLM_OK)
                    return st;
            }
            if ((a->eval_strategy == STRAT_STEPS && tr->global_step % eval_every == 0) ||
                (a->eval_strategy == STRAT_EPOCH && epoch_end)) {
                st = log_eval(tr);
                if (st != MLM_OK)
                    return st;
            }
            if ((a->save_strategy == STRAT_STEPS && tr->global_step % a->save_steps == 0) ||
                (a->save_strategy == STRAT_EPOCH && epoch_end)) {
                st = save_checkpoint(tr);
                if (st != MLM_OK)
                    return st;
            }
            if (tr->stop)
                return err_set(MLM_ERR_CANCELLED, "training cancelled by the log callback at "
                                                  "step %lld",
                               (long long)tr->global_step);
        }
    }
    cJSON *rec = cJSON_CreateObject();
    if (rec && !(add_num(rec, "train_loss",
                         tr->global_step ? tr->total_loss / (double)tr->global_step : 0.0) &&
                 add_num(rec, "epoch", tr->epoch) &&
                 add_num(rec, "step", (double)tr->global_step))) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    st = emit(tr, rec);
    if (st == MLM_OK)
        st = make_dir(a->output_dir);
    if (st == MLM_OK)
        st = mlm_model_save(tr->m, a->output_dir);
    if (st == MLM_OK && tr->stop)
        st = err_set(MLM_ERR_CANCELLED, "training cancelled by the log callback at the end");
    return st;
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
    const size_t N = mlm_dataset_num_rows(tr->train);
    tr->len_dl = (int64_t)((N + (size_t)a->train_batch_size - 1) / (size_t)a->train_batch_size);
    tr->per_epoch = (tr->len_dl + a->accum - 1) / a->accum;
    if (a->max_steps > 0)
        tr->total_steps = a->max_steps;
    else
        tr->total_steps = (int64_t)ceil(a->num_train_epochs * (double)tr->per_epoch);
    if (tr->total_steps < 1)
        tr->total_steps = 1;
    tr->warmup = a->warmup_steps > 0 ? a->warmup_steps
                                     : (int64_t)ceil(a->warmup_ratio * (double)tr->total_steps);
    mlm_status st = adamw_init(&tr->opt, tr->m, a->adam_beta1, a->adam_beta2, a->adam_epsilon,
                               a->weight_decay, (int)a->num_threads);
    if (st != MLM_OK)
        return st;
    tr->opt_ready = 1;
    if (a->resume_from_checkpoint) {
        st = load_checkpoint(tr, a->resume_from_checkpoint);
        if (st != MLM_OK)
            return err_prefix(st, "resume_from_checkpoint %s", a->resume_from_checkpoint);
        if (tr->global_step > tr->total_steps)
            return err_set(MLM_ERR_STATE,
                           "resume_from_checkpoint %s: step %lld is past the run's %lld steps",
                           a->resume_from_checkpoint, (long long)tr->global_step,
                           (long long)tr->total_steps);
    }
    size_t *perm = mem_alloc(N * sizeof *perm);
    if (!perm)
        return err_oom();
    st = run(tr, perm);
    mem_free(perm);
    return st;
}

mlm_status mlm_trainer_resume(mlm_trainer *tr, const char *checkpoint_dir)
{
    if (!tr || !checkpoint_dir)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_resume: NULL argument");
    mlm_status st = mlm_trainer_set(tr, "resume_from_checkpoint", checkpoint_dir);
    return st != MLM_OK ? st : mlm_trainer_train(tr);
}
