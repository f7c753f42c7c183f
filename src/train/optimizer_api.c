/* mlm_optimizer (mlm/optimizer.h): a hand-written loop's optimizer, the
 * Trainer's pieces without the Trainer: train/train_model.h for the
 * forward and backward of any family, train/optimizer.h for the update. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/json.h"
#include "mlm/optimizer.h"
#include "train/optimizer.h"
#include "train/train_model.h"

struct mlm_optimizer {
    mlm_model *m;
    train_model *tm;
    optimizer opt;
    double lr;
    uint64_t seed;
    uint64_t calls;  /* backward calls: each its own dropout masks */
    int nthreads;
};

/* The constructor's keyword arguments of one kind, with their defaults. */
typedef struct optim_args {
    double lr, beta1, beta2, eps, weight_decay;
    int correct_bias;
    int64_t seed, nthreads;
} optim_args;

static mlm_status bad(const char *kind, const char *key, const char *why)
{
    return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_optimizer_new: %s option \"%s\": %s", kind,
                   key, why);
}

/* A number member within [lo, hi] (hi_open: below hi). */
static mlm_status num(const char *kind, const cJSON *it, double lo, double hi, int hi_open,
                      double *out)
{
    if (!cJSON_IsNumber(it))
        return bad(kind, it->string, "expected a number");
    double x = it->valuedouble;
    if (!(x >= lo && (hi_open ? x < hi : x <= hi)))
        return bad(kind, it->string, "out of range");
    *out = x;
    return MLM_OK;
}

static mlm_status integer(const char *kind, const cJSON *it, double lo, double hi, int64_t *out)
{
    double x = 0;
    mlm_status st = num(kind, it, lo, hi, 0, &x);
    if (st == MLM_OK && x != floor(x))
        st = bad(kind, it->string, "expected an integer");
    *out = (int64_t)x;
    return st;
}

/* One member of the options; adam: the kind has betas, eps, correct_bias
 * (hf: the last only for transformers.AdamW). */
static mlm_status parse_member(const char *kind, int adam, int hf, const cJSON *it,
                               optim_args *a, int *have_lr)
{
    const char *k = it->string;
    if (strcmp(k, "lr") == 0) {
        *have_lr = 1;
        return num(kind, it, 0, HUGE_VAL, 1, &a->lr);
    }
    if (strcmp(k, "weight_decay") == 0)
        return num(kind, it, 0, HUGE_VAL, 1, &a->weight_decay);
    if (strcmp(k, "seed") == 0)
        return integer(kind, it, 0, 9007199254740992.0, &a->seed);
    if (strcmp(k, "num_threads") == 0)
        return integer(kind, it, 1, 1024, &a->nthreads);
    if (adam && strcmp(k, "eps") == 0)
        return num(kind, it, 0, HUGE_VAL, 1, &a->eps);
    if (adam && strcmp(k, "betas") == 0) {
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2)
            return bad(kind, k, "expected [beta1, beta2]");
        mlm_status st = num(kind, it->child, 0, 1, 1, &a->beta1);
        return st == MLM_OK ? num(kind, it->child->next, 0, 1, 1, &a->beta2) : st;
    }
    if (hf && strcmp(k, "correct_bias") == 0) {
        if (!cJSON_IsBool(it))
            return bad(kind, k, "expected true or false");
        a->correct_bias = cJSON_IsTrue(it);
        return MLM_OK;
    }
    return bad(kind, k, "unknown for this optimizer");
}

static mlm_status parse_args(const char *kind, optim_kind k, const char *json, optim_args *a)
{
    *a = (optim_args){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                      .weight_decay = 0.01, .correct_bias = 1, .seed = 42, .nthreads = 1};
    if (k == OPTIM_ADAMW_HF) {
        a->eps = 1e-6;
        a->weight_decay = 0.0;
    } else if (k == OPTIM_ADAFACTOR) {
        a->weight_decay = 0.0;
    }
    int have_lr = 0;
    cJSON *o = NULL;
    mlm_status st = MLM_OK;
    if (json && *json) {
        st = json_parse(json, strlen(json), 0, "mlm_optimizer_new: options", (size_t)1 << 20, &o);
        if (st == MLM_OK && !cJSON_IsObject(o))
            st = err_set(MLM_ERR_INVALID_ARGUMENT,
                         "mlm_optimizer_new: options: expected a JSON object");
    }
    const int adam = k != OPTIM_ADAFACTOR, hf = k == OPTIM_ADAMW_HF;
    for (const cJSON *it = o ? o->child : NULL; it && st == MLM_OK; it = it->next)
        st = parse_member(kind, adam, hf, it, a, &have_lr);
    cJSON_Delete(o);
    /* Adafactor(relative_step=False) raises without an lr */
    if (st == MLM_OK && k == OPTIM_ADAFACTOR && !have_lr)
        st = bad(kind, "lr", "required (libmlm's Adafactor is relative_step=False)");
    return st;
}

mlm_status mlm_optimizer_new(mlm_model *model, const char *kind, const char *options_json,
                             mlm_optimizer **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_optimizer_new: out is NULL");
    *out = NULL;
    if (!model || !kind)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_optimizer_new: model and kind are required");
    optim_kind k;
    if (optim_kind_of(kind, &k) != 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "mlm_optimizer_new: unknown optimizer \"%s\" (valid: " OPTIM_NAMES ")",
                       kind);
    optim_args a;
    mlm_status st = parse_args(kind, k, options_json, &a);
    if (st == MLM_OK)
        st = model_own_params(model);
    if (st != MLM_OK)
        return st;
    mlm_optimizer *o = mem_calloc(1, sizeof *o);
    if (!o)
        return err_oom();
    o->m = model;
    o->lr = a.lr;
    o->seed = (uint64_t)a.seed;
    o->nthreads = (int)a.nthreads;
    size_t np;
    const param_desc *params = model_param_table(model, &np);
    optim_hparams h = {a.beta1, a.beta2, a.eps, a.weight_decay, 1};
    st = train_model_new(model, o->nthreads, &o->tm);
    if (st == MLM_OK)
        st = optimizer_init(&o->opt, k, params, np, &h, o->nthreads);
    if (st == MLM_OK && k == OPTIM_ADAMW_HF)
        o->opt.u.adam.correct_bias = a.correct_bias;
    if (st != MLM_OK) {
        train_model_free(o->tm);
        mem_free(o);
        return st;
    }
    *out = o;
    return MLM_OK;
}

void mlm_optimizer_free(mlm_optimizer *opt)
{
    if (!opt)
        return;
    train_model_free(opt->tm);
    optimizer_free(&opt->opt);
    mem_free(opt);
}

mlm_status mlm_optimizer_zero_grad(mlm_optimizer *opt)
{
    if (!opt)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_optimizer_zero_grad: NULL optimizer");
    train_model_zero_grad(opt->tm);
    return MLM_OK;
}

mlm_status mlm_optimizer_backward(mlm_optimizer *opt, const mlm_batch *batch, float *loss)
{
    if (!opt || !batch || !loss)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_optimizer_backward: NULL argument");
    size_t labelled = 0;
    /* the first forward makes the gradients, zeroed */
    mlm_status st = train_model_forward(opt->tm, batch, 1, opt->seed, opt->calls++, loss,
                                        &labelled);
    if (st == MLM_OK && labelled > 0)
        st = train_model_backward(opt->tm, 1.0f);
    return st == MLM_OK ? MLM_OK : err_prefix(st, "mlm_optimizer_backward: ");
}

mlm_status mlm_optimizer_step(mlm_optimizer *opt)
{
    if (!opt)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_optimizer_step: NULL optimizer");
    const float *g = train_model_grad(opt->tm);
    if (!g)
        return err_set(MLM_ERR_STATE, "mlm_optimizer_step: no gradients yet (call "
                                      "mlm_optimizer_backward first)");
    double norm = grad_global_norm(optimizer_groups(&opt->opt), g);
    if (!isfinite(norm))
        return err_set(MLM_ERR_NUMERIC,
                       "mlm_optimizer_step: the gradient norm is %g; nothing was updated", norm);
    optimizer_step(&opt->opt, model_owned(opt->m), g, opt->lr, 1.0f);
    return MLM_OK;
}

int64_t mlm_optimizer_step_count(const mlm_optimizer *opt)
{
    return opt ? optimizer_step_count(&opt->opt) : 0;
}
