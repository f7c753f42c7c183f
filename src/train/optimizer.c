/* The optimizer interface (see optimizer.h): dispatch by kind, and the
 * state_dict layout of each kind for checkpoints. */
#include "train/optimizer.h"

#include <string.h>

#include "core/error.h"

static const char *const kind_names[] = {"adamw_torch", "adamw_hf", "adafactor"};

const char *optim_kind_name(optim_kind k)
{
    return (unsigned)k < 3 ? kind_names[k] : "?";
}

int optim_kind_of(const char *name, optim_kind *out)
{
    for (int k = 0; k < 3; k++)
        if (name && strcmp(name, kind_names[k]) == 0) {
            *out = (optim_kind)k;
            return 0;
        }
    return -1;
}

mlm_status optimizer_init(optimizer *o, optim_kind k, const param_desc *params, size_t n_params,
                          const optim_hparams *h, int nthreads)
{
    memset(o, 0, sizeof *o);
    o->kind = k;
    switch (k) {
    case OPTIM_ADAMW_TORCH:
        return adamw_init_grouped(&o->u.adam, params, n_params, h->beta1, h->beta2, h->eps,
                                  h->weight_decay, h->one_group, nthreads);
    case OPTIM_ADAMW_HF:
        return adamw_hf_init(&o->u.adam, params, n_params, h->beta1, h->beta2, h->eps,
                             h->weight_decay, 1, h->one_group, nthreads);
    case OPTIM_ADAFACTOR:
        return adafactor_init(&o->u.af, params, n_params, h->weight_decay, h->one_group,
                              nthreads);
    }
    return err_set(MLM_ERR_INVALID_ARGUMENT, "optim: unknown kind %d (valid: " OPTIM_NAMES ")",
                   (int)k);
}

void optimizer_free(optimizer *o)
{
    if (!o)
        return;
    if (o->kind == OPTIM_ADAFACTOR)
        adafactor_free(&o->u.af);
    else
        adamw_free(&o->u.adam);
}

void optimizer_step(optimizer *o, float *params, const float *grads, double lr, float gscale)
{
    if (o->kind == OPTIM_ADAFACTOR)
        adafactor_step(&o->u.af, params, grads, lr, gscale);
    else
        adamw_step_scaled(&o->u.adam, params, grads, lr, gscale);
}

param_groups *optimizer_groups(optimizer *o)
{
    return o->kind == OPTIM_ADAFACTOR ? &o->u.af.g : &o->u.adam.g;
}

static const param_groups *groups_of(const optimizer *o)
{
    return o->kind == OPTIM_ADAFACTOR ? &o->u.af.g : &o->u.adam.g;
}

int64_t optimizer_step_count(const optimizer *o)
{
    return o->kind == OPTIM_ADAFACTOR ? o->u.af.step : o->u.adam.step;
}

void optimizer_set_step_count(optimizer *o, int64_t step)
{
    if (o->kind == OPTIM_ADAFACTOR)
        o->u.af.step = step;
    else
        o->u.adam.step = step;
}

int optimizer_step_is_float(const optimizer *o) { return o->kind == OPTIM_ADAMW_TORCH; }

/* A tensor of the parameter's own shape. */
static optim_state_tensor like_param(const char *key, float *data, const param_desc *p)
{
    optim_state_tensor t = {key, data, (size_t)p->ndim, {0, 0}, p->numel};
    t.shape[0] = (uint64_t)p->shape[0];
    t.shape[1] = (uint64_t)p->shape[1];
    return t;
}

static optim_state_tensor vector_of(const char *key, float *data, size_t n)
{
    optim_state_tensor t = {key, data, 1, {n, 0}, n};
    return t;
}

size_t optimizer_state_tensors(optimizer *o, size_t i, optim_state_tensor out[3])
{
    const param_groups *g = groups_of(o);
    const param_desc *p = &g->params[i];
    if (o->kind != OPTIM_ADAFACTOR) {
        out[0] = like_param("exp_avg", o->u.adam.m + g->offset[i], p);
        out[1] = like_param("exp_avg_sq", o->u.adam.v + g->offset[i], p);
        return 2;
    }
    adafactor *af = &o->u.af;
    float *st = af->state + af->soff[i];
    optim_state_tensor rms = {"RMS", &af->rms[i], 0, {0, 0}, 1};
    if (!adafactor_factored(af, i)) {
        out[0] = like_param("exp_avg_sq", st, p);
        out[1] = rms;
        return 2;
    }
    size_t R = (size_t)p->shape[0], C = (size_t)p->shape[1];
    out[0] = vector_of("exp_avg_sq_row", st, R);
    out[1] = vector_of("exp_avg_sq_col", st + R, C);
    out[2] = rms;
    return 3;
}

/* The group g (0: decay, 1: no decay) of parameter i. */
static int group_of(const param_groups *g, size_t i) { return g->decay[i] ? 0 : 1; }

/* The keys of one group: every one the kind's constructor sets, in its
 * order (torch keeps the defaults dict's order), values from o. */
static int add_group_keys(cJSON *grp, const optimizer *o, double lr, double wd)
{
    int ok = cJSON_AddNumberToObject(grp, "lr", lr) != NULL;
    if (o->kind == OPTIM_ADAFACTOR) {
        const adafactor *af = &o->u.af;
        const double eps[2] = {af->eps1, af->eps2};
        cJSON *e = cJSON_CreateDoubleArray(eps, 2);
        ok = ok && e && cJSON_AddItemToObject(grp, "eps", e);
        if (!ok)
            return 0;
        return cJSON_AddNumberToObject(grp, "clip_threshold", af->clip_threshold) &&
               cJSON_AddNumberToObject(grp, "decay_rate", af->decay_rate) &&
               cJSON_AddNullToObject(grp, "beta1") &&
               cJSON_AddNumberToObject(grp, "weight_decay", wd) &&
               cJSON_AddFalseToObject(grp, "scale_parameter") &&
               cJSON_AddFalseToObject(grp, "relative_step") &&
               cJSON_AddFalseToObject(grp, "warmup_init");
    }
    const adamw *a = &o->u.adam;
    const double betas[2] = {a->beta1, a->beta2};
    cJSON *b = cJSON_CreateDoubleArray(betas, 2);
    ok = ok && b && cJSON_AddItemToObject(grp, "betas", b);
    ok = ok && cJSON_AddNumberToObject(grp, "eps", a->eps) &&
         cJSON_AddNumberToObject(grp, "weight_decay", wd);
    if (!ok)
        return 0;
    if (o->kind == OPTIM_ADAMW_HF)
        return cJSON_AddBoolToObject(grp, "correct_bias", a->correct_bias) != NULL;
    /* torch.optim.AdamW's defaults (torch 2.x; 1.13 has all but fused) */
    return cJSON_AddFalseToObject(grp, "amsgrad") && cJSON_AddNullToObject(grp, "foreach") &&
           cJSON_AddFalseToObject(grp, "maximize") &&
           cJSON_AddFalseToObject(grp, "capturable") &&
           cJSON_AddFalseToObject(grp, "differentiable") && cJSON_AddNullToObject(grp, "fused");
}

static double kind_weight_decay(const optimizer *o)
{
    return o->kind == OPTIM_ADAFACTOR ? o->u.af.weight_decay : o->u.adam.weight_decay;
}

cJSON *optimizer_param_groups(const optimizer *o, double lr, double initial_lr)
{
    const param_groups *g = groups_of(o);
    int ngroups = g->one_group ? 1 : 2;
    cJSON *arr = cJSON_CreateArray();
    int ok = arr != NULL;
    int64_t next = 0;
    for (int k = 0; ok && k < ngroups; k++) {
        cJSON *grp = cJSON_CreateObject(), *ids = cJSON_CreateArray();
        ok = grp && ids && cJSON_AddItemToArray(arr, grp);
        if (!ok) {
            cJSON_Delete(grp);
            cJSON_Delete(ids);
            break;
        }
        ok = add_group_keys(grp, o, lr, k == 0 ? kind_weight_decay(o) : 0.0) &&
             (initial_lr < 0 || cJSON_AddNumberToObject(grp, "initial_lr", initial_lr));
        if (!ok || !cJSON_AddItemToObject(grp, "params", ids)) {
            cJSON_Delete(ids);
            ok = 0;
        }
        cJSON *names = ok ? cJSON_AddArrayToObject(grp, "param_names") : NULL;
        ok = ok && names;
        for (size_t i = 0; ok && i < g->n_params; i++) {
            if (group_of(g, i) != k)
                continue;
            cJSON *n = cJSON_CreateNumber((double)next++);
            ok = n && cJSON_AddItemToArray(ids, n);
            if (!ok) {
                cJSON_Delete(n);
                break;
            }
            cJSON *s = cJSON_CreateString(g->params[i].name);
            ok = s && cJSON_AddItemToArray(names, s);
            if (!ok)
                cJSON_Delete(s);
        }
    }
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

mlm_status optimizer_check_param_groups(const optimizer *o, const cJSON *groups)
{
    const param_groups *g = groups_of(o);
    int ngroups = g->one_group ? 1 : 2;
    if (!cJSON_IsArray(groups))
        return err_set(MLM_ERR_FORMAT, "\"param_groups\" is not a list");
    if (cJSON_GetArraySize(groups) != ngroups)
        return err_set(MLM_ERR_FORMAT,
                       "\"param_groups\" has %d groups, this run's %s optimizer has %d",
                       cJSON_GetArraySize(groups), optim_kind_name(o->kind), ngroups);
    int64_t next = 0;
    for (int k = 0; k < ngroups; k++) {
        const cJSON *ids =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(groups, k), "params");
        size_t want = 0;
        for (size_t i = 0; i < g->n_params; i++)
            want += group_of(g, i) == k;
        if (!cJSON_IsArray(ids) || (size_t)cJSON_GetArraySize(ids) != want)
            return err_set(MLM_ERR_FORMAT,
                           "param_groups[%d] does not hold this model's %zu parameters of "
                           "that group", k, want);
        for (const cJSON *id = ids->child; id; id = id->next, next++)
            if (!cJSON_IsNumber(id) || id->valuedouble != (double)next)
                return err_set(MLM_ERR_FORMAT, "param_groups[%d]: state index %lld expected",
                               k, (long long)next);
    }
    return MLM_OK;
}
