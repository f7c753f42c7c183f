/* The optimizers TrainingArguments.optim names (suite optim): adamw_torch,
 * adamw_hf (the seed's transformers.AdamW) and adafactor against the
 * PyTorch reference (tests/reference/optim_reference.py: goldens in
 * tests/data/goldens/optim/), their state in torch's state_dict layout,
 * checkpoints that resume bit for bit, and the trainer option.
 *
 * Each golden case runs 5 steps of one optimizer on a table of mixed shapes
 * (an embedding-shaped 96×24 matrix with a zero padding row, non-square and
 * square matrices, a one-column matrix, vectors of 20 to 8200 elements)
 * with the reference's gradients, clip_grad_norm_ and linear schedule. Our
 * clip coefficient is checked against the reference's (below), and then the
 * reference's float32 coefficient scales the gradients of both, so both
 * updates start from the same floats: what differs is only each
 * implementation's rounding (operation order, torch's fused multiply-adds
 * in add_(alpha=), its float sums against our double ones).
 *
 * Error model (u = 2^-24, float32's unit roundoff; every bound is for the
 * two implementations together, hence the factors 2).
 * - Gradient norm: torch rounds each tensor's norm to float, then the norm
 *   of ≤ 9 norms in float (≤ 9u) and the result (u): ≤ 12u ≈ 7e-7 of the
 *   norm against our double sum; held to 1e-6 relative, and the clip
 *   coefficient, max_norm/(norm + 1e-6) rounded to float, likewise.
 * - AdamW, both kinds. With the bias corrections folded into weights,
 *   m̂ = Σ_k a_k·g_k and v̂ = Σ_k b_k·g_k² (a_k = (1−β1)β1^(t−k)/(1−β1^t),
 *   b_k likewise with β2), the update is lr·r, r = m̂/(√v̂ + ε') (ε' = ε
 *   for torch, ε/√(1−β2^t) for transformers), and |r| < R = √(Σ_k a_k²/b_k)
 *   (Cauchy–Schwarz). m is rounded twice per step, each time by u of the
 *   terms' magnitudes Σ_k a_k|g_k| ≤ R·√v̂; v (positive terms) three times,
 *   relatively; √, the two divisions, ε's addition and the step size's cast
 *   add a few u of |r|. So one implementation's r is within (4t + 10)·u·R
 *   of the exact one at step t, and an element's tolerance grows per step by
 *   2·lr_t·(4t + 10)·u·R_t, plus 6u·|p| for the roundings of p itself (the
 *   decay and the addition, either order). Weight decay multiplies earlier
 *   differences by 1 − lr·wd ≤ 1. At these steps that is ~3e-6 of lr: a bug
 *   moves elements by O(lr) (ε inside the square root, or added before the
 *   bias correction: ~lr wherever |g| ≲ √ε, here the 1e-9 gradients; a bias
 *   correction off by a step: 30% of lr; transformers' decay before the
 *   update instead of after: lr·wd·|update| ≈ 1e-8 against tolerances of
 *   ~4e-9 at lr 1e-3, wd 0.01 — caught on the elements with the largest
 *   updates, with a margin of a few only).
 * - Adafactor. Its update u = rsqrt(row/mean(row))·rsqrt(col)·g (or
 *   rsqrt(v)·g), divided by max(1, RMS(u)), has no cancellation: every
 *   sum is of positive terms. A float sum (torch's) or a double one rounded
 *   once (ours) of n positive terms is within (⌈log2 n⌉ + 1)·u relative, so
 *   a running average is within (L + 4)·u relative per step (L = ⌈log2⌉ of
 *   the largest count summed, 14 here: 8200 elements), t·(L + 4)·u after t
 *   steps (a convex combination keeps the worst relative error); the row
 *   mean, the two rsqrt, the products, RMS(u) and the division add
 *   (2L + 20)·u at most with the factors' errors counted twice (rsqrt
 *   halves them, u·rf·cf doubles them back). So |ΔU| ≤ 2·(2t(L+4) + 2L +
 *   20)·u·|U| per step, ≈ 2.7e-5·|U| at t = 5, plus 6u·|p|; |U| is
 *   measured as |p_before − p_after| + wd·lr·|p_before| of our own run. A
 *   wrong decay_rate exponent moves β̂ and every update by percents; eps₁
 *   misplaced (outside the mean) is below float resolution, but a missing
 *   update clipping or a transposed factor moves U by O(1).
 * - States after the last step: AdamW's m within 2·(2t + 2)·u·Σ_k
 *   (1−β1)β1^(t−k)|g_k|, v within 2·(3t + 2)·u relative; Adafactor's
 *   row/col/exp_avg_sq within 2·t·(L + 4)·u relative, RMS (of the
 *   parameters before the last step) within ‖tolerance of p‖₂/√n + 2(L +
 *   3)·u relative; the step exact. */
#include "suites.h"
#include "testutil.h"
#include "golden.h"
#include "trainer_world.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "train/optimizer.h"

#define U_ROUND (1.0 / 16777216.0)
#define L_LOG 14 /* ⌈log2⌉ of the largest count summed (8200) */

static const char *const cases[] = {"adamw_torch", "adamw_torch_nowd", "adamw_hf",
                                    "adamw_hf_seed", "adafactor", "adafactor_nowd"};
#define N_CASES (sizeof cases / sizeof cases[0])

/* ---------------------------------------------------------------- the inputs */

typedef struct inputs {
    st_file *f;
    param_desc *params;
    size_t n_params, n, steps;
    float *p0;      /* initial parameters, flat in table order */
    float **g;      /* g[s] for s = 1..steps */
} inputs;

static st_file *open_golden(const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/data/goldens/optim/%s", test_root(), file);
    st_file *f = NULL;
    ck_assert_msg(st_open(path, &f) == MLM_OK, "%s: %s", path, mlm_last_error());
    return f;
}

static cJSON *meta_json(const st_file *f, const char *key)
{
    const char *s = st_metadata(f, key);
    ck_assert_msg(s != NULL, "golden metadata has no %s", key);
    cJSON *o = cJSON_Parse(s);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* A flat copy of the tensors "<prefix><name>" of every parameter. */
static float *flat(const st_file *f, const inputs *in, const char *prefix)
{
    float *x = malloc(in->n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    size_t off = 0;
    for (size_t i = 0; i < in->n_params; i++) {
        char name[200];
        snprintf(name, sizeof name, "%s%s", prefix, in->params[i].name);
        memcpy(x + off, golden_f32(f, name, in->params[i].numel, NULL),
               in->params[i].numel * sizeof *x);
        off += in->params[i].numel;
    }
    return x;
}

static void inputs_load(inputs *in)
{
    memset(in, 0, sizeof *in);
    in->f = open_golden("grads.safetensors");
    cJSON *table = meta_json(in->f, "params");
    in->n_params = (size_t)cJSON_GetArraySize(table);
    in->params = calloc(in->n_params, sizeof *in->params);
    ck_assert_ptr_nonnull(in->params);
    for (size_t i = 0; i < in->n_params; i++) {
        const cJSON *e = cJSON_GetArrayItem(table, (int)i);
        const cJSON *shape = cJSON_GetArrayItem(e, 1);
        param_desc *p = &in->params[i];
        snprintf(p->name, sizeof p->name, "%s", cJSON_GetArrayItem(e, 0)->valuestring);
        p->ndim = cJSON_GetArraySize(shape);
        p->shape[0] = (int64_t)cJSON_GetArrayItem(shape, 0)->valuedouble;
        p->shape[1] = p->ndim > 1 ? (int64_t)cJSON_GetArrayItem(shape, 1)->valuedouble : 0;
        p->numel = (size_t)p->shape[0] * (size_t)(p->ndim > 1 ? p->shape[1] : 1);
        p->no_decay = cJSON_IsTrue(cJSON_GetArrayItem(e, 2));
        p->padding_row = -1;
        in->n += p->numel;
    }
    cJSON_Delete(table);
    in->steps = (size_t)atoi(st_metadata(in->f, "steps"));
    in->p0 = flat(in->f, in, "param.");
    in->g = calloc(in->steps + 1, sizeof *in->g);
    for (size_t s = 1; s <= in->steps; s++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "grad.%zu.", s);
        in->g[s] = flat(in->f, in, prefix);
    }
}

static void inputs_free(inputs *in)
{
    for (size_t s = 1; s <= in->steps; s++)
        free(in->g[s]);
    free(in->g);
    free(in->p0);
    free(in->params);
    st_close(in->f);
}

/* ---------------------------------------------------------------- one case */

typedef struct gcase {
    st_file *f;
    optim_kind kind;
    optim_hparams h;
    double lr, max_norm;
    double *lrs, *coefs, *norms; /* [steps] */
} gcase;

static double *num_list(const st_file *f, const char *key, size_t n)
{
    cJSON *a = meta_json(f, key);
    ck_assert_int_eq(cJSON_GetArraySize(a), (int)n);
    double *x = calloc(n, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, (int)i);
        x[i] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    }
    cJSON_Delete(a);
    return x;
}

static void case_load(gcase *c, const char *name, size_t steps)
{
    char file[128];
    snprintf(file, sizeof file, "%s.safetensors", name);
    c->f = open_golden(file);
    cJSON *o = meta_json(c->f, "case");
    const char *kind = cJSON_GetObjectItem(o, "optim")->valuestring;
    ck_assert_int_eq(optim_kind_of(kind, &c->kind), 0);
    const cJSON *eps = cJSON_GetObjectItem(o, "eps");
    c->h = (optim_hparams){0.9, 0.999, eps ? eps->valuedouble : 1e-8,
                           cJSON_GetObjectItem(o, "weight_decay")->valuedouble,
                           strcmp(cJSON_GetObjectItem(o, "groups")->valuestring, "one") == 0};
    c->lr = cJSON_GetObjectItem(o, "lr")->valuedouble;
    c->max_norm = cJSON_GetObjectItem(o, "max_norm")->valuedouble;
    cJSON_Delete(o);
    c->lrs = num_list(c->f, "lrs", steps);
    c->coefs = num_list(c->f, "coefs", steps);
    c->norms = num_list(c->f, "norms", steps);
}

static void case_free(gcase *c)
{
    free(c->lrs);
    free(c->coefs);
    free(c->norms);
    st_close(c->f);
}

/* R_t = √(Σ_k a_k²/b_k) of the header, for β (0.9, 0.999). */
static double adam_R(int t)
{
    double s = 0, bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.999, t);
    for (int k = 1; k <= t; k++) {
        double a = 0.1 * pow(0.9, t - k) / bc1, b = 0.001 * pow(0.999, t - k) / bc2;
        s += a * a / b;
    }
    return sqrt(s);
}

/* Elements of x against the golden `prefix`<name> tensors within tol[i];
 * prints the worst. */
static void compare(const char *what, const inputs *in, const st_file *f, const char *prefix,
                    const float *x, const double *tol)
{
    const float *want = NULL;
    float *w = flat(f, in, prefix);
    want = w;
    double worst = 0, max_abs = 0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < in->n; i++) {
        double d = fabs((double)x[i] - (double)want[i]);
        if (d > max_abs)
            max_abs = d;
        double r = tol[i] > 0 ? d / tol[i] : (d > 0 ? INFINITY : 0);
        if (r > worst)
            worst = r;
        if (d > tol[i] && bad++ == 0)
            first = i;
    }
    fprintf(stderr, "optim %s: max |diff| %.3g, worst diff/tolerance %.3g\n", what, max_abs,
            worst);
    ck_assert_msg(bad == 0, "%s: %zu elements beyond tolerance; first %zu: %.9g vs %.9g (tol %.3g)",
                  what, bad, first, (double)x[first], (double)want[first], tol[first]);
    free(w);
}

/* The state after the last step against the golden's state_dict. */
static void compare_state(const char *name, const inputs *in, gcase *c, optimizer *o,
                          const float *const *gs, const double *tol4)
{
    const int t = (int)in->steps;
    for (size_t i = 0; i < in->n_params; i++) {
        const param_desc *p = &in->params[i];
        optim_state_tensor st[3];
        size_t nt = optimizer_state_tensors(o, i, st);
        /* every tensor of the golden's state is ours or the step */
        char prefix[200];
        size_t plen = (size_t)snprintf(prefix, sizeof prefix, "state.%s.", p->name);
        for (size_t k = 0; k < st_count(c->f); k++) {
            const char *tn = st_at(c->f, k)->name;
            if (strncmp(tn, prefix, plen) != 0)
                continue;
            int known = strcmp(tn + plen, "step") == 0;
            for (size_t j = 0; j < nt; j++)
                known |= strcmp(tn + plen, st[j].key) == 0;
            ck_assert_msg(known, "%s: the reference's state has %s, ours not", name, tn);
        }
        char key[240];
        snprintf(key, sizeof key, "state.%s.step", p->name);
        const st_tensor *stp = st_find(c->f, key);
        ck_assert_msg(stp != NULL, "%s: no %s", name, key);
        ck_assert_int_eq(stp->dtype, optimizer_step_is_float(o) ? ST_F32 : ST_I64);
        int64_t sv = 0;
        float sf = 0;
        if (stp->dtype == ST_F32) {
            ck_assert_int_eq(st_tensor_to_f32(stp, &sf, 1), MLM_OK);
            sv = (int64_t)sf;
        } else {
            ck_assert_int_eq(st_tensor_to_i64(stp, &sv, 1), MLM_OK);
        }
        ck_assert_int_eq(sv, optimizer_step_count(o));
        size_t off = 0;
        for (size_t q = 0; q < i; q++)
            off += in->params[q].numel;
        for (size_t j = 0; j < nt; j++) {
            snprintf(key, sizeof key, "state.%s.%s", p->name, st[j].key);
            const st_tensor *gt = st_find(c->f, key);
            ck_assert_msg(gt != NULL, "%s: the reference has no %s", name, key);
            ck_assert_uint_eq(gt->ndim, st[j].ndim);
            for (size_t d = 0; d < gt->ndim; d++)
                ck_assert_uint_eq(gt->shape[d], st[j].shape[d]);
            const float *want = golden_f32(c->f, key, st[j].numel, NULL);
            for (size_t e = 0; e < st[j].numel; e++) {
                double got = st[j].data[e], w = want[e], tol;
                if (c->kind != OPTIM_ADAFACTOR && j == 0) { /* exp_avg */
                    double sm = 0;
                    for (int k = 1; k <= t; k++)
                        sm += 0.1 * pow(0.9, t - k) * fabs((double)gs[k][off + e]);
                    tol = 2 * (2 * t + 2) * U_ROUND * sm;
                } else if (c->kind != OPTIM_ADAFACTOR) { /* exp_avg_sq */
                    tol = 2 * (3 * t + 2) * U_ROUND * fabs(w);
                } else if (strcmp(st[j].key, "RMS") == 0) {
                    double ss = 0;
                    for (size_t q = 0; q < p->numel; q++)
                        ss += tol4[off + q] * tol4[off + q];
                    tol = sqrt(ss / (double)p->numel) + 2 * (L_LOG + 3) * U_ROUND * fabs(w);
                } else {
                    tol = 2 * t * (L_LOG + 4) * U_ROUND * fabs(w);
                }
                ck_assert_msg(fabs(got - w) <= tol, "%s: %s[%zu] %.9g vs %.9g (tol %.3g)", name,
                              key, e, got, w, tol);
            }
        }
    }
}

/* Our param_groups against the reference's state_dict()["param_groups"]:
 * every key it has, with its value; no other key but param_names and torch
 * 2.x's two AdamW keys that torch 1.13 lacks. */
static void compare_groups(const char *name, gcase *c, optimizer *o)
{
    cJSON *want = meta_json(c->f, "param_groups");
    /* "lr" is the scheduler's after the last step */
    double lr_next = cJSON_GetObjectItem(cJSON_GetArrayItem(want, 0), "lr")->valuedouble;
    cJSON *got = optimizer_param_groups(o, lr_next, c->lr);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want));
    for (int g = 0; g < cJSON_GetArraySize(want); g++) {
        const cJSON *wg = cJSON_GetArrayItem(want, g), *og = cJSON_GetArrayItem(got, g);
        int nw = 0, no = cJSON_GetArraySize(og);
        for (const cJSON *k = wg->child; k; k = k->next, nw++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(og, k->string);
            ck_assert_msg(v != NULL, "%s: param_groups[%d] lacks \"%s\"", name, g, k->string);
            ck_assert_msg(cJSON_Compare(k, v, 1), "%s: param_groups[%d].%s differs", name, g,
                          k->string);
        }
        /* param_names (torch >= 2.6), and torch 2.x's differentiable, fused */
        int extra = c->kind == OPTIM_ADAMW_TORCH ? 3 : 1;
        ck_assert_ptr_nonnull(cJSON_GetObjectItem(og, "param_names"));
        ck_assert_msg(no == nw + extra, "%s: param_groups[%d] has %d keys, the reference %d",
                      name, g, no, nw);
    }
    ck_assert_int_eq(optimizer_check_param_groups(o, want), MLM_OK);
    cJSON_Delete(got);
    cJSON_Delete(want);
}

/* Runs case `name` on nthreads threads; params (n floats) receive the
 * result. Checks everything along the way when check is set. */
static void run_case(const char *name, const inputs *in, int nthreads, int check, float *p)
{
    gcase c;
    case_load(&c, name, in->steps);
    optimizer o;
    ck_assert_msg(optimizer_init(&o, c.kind, in->params, in->n_params, &c.h, nthreads) == MLM_OK,
                  "%s", mlm_last_error());
    memcpy(p, in->p0, in->n * sizeof *p);
    double *tol = calloc(in->n, sizeof *tol), *tol4 = calloc(in->n, sizeof *tol4);
    float *before = malloc(in->n * sizeof *before);
    float **gs = calloc(in->steps + 1, sizeof *gs); /* the clipped gradients */
    ck_assert(tol && tol4 && before && gs);
    for (size_t s = 1; s <= in->steps; s++) {
        const float *g = in->g[s];
        float gscale = 1.0f;
        if (c.max_norm > 0) {
            double norm = grad_global_norm(optimizer_groups(&o), g);
            double coef = grad_clip_coef(norm, c.max_norm), want = c.coefs[s - 1];
            ck_assert_msg(fabs(norm - c.norms[s - 1]) <= 1e-6 * c.norms[s - 1],
                          "%s step %zu: norm %.9g, the reference's %.9g", name, s, norm,
                          c.norms[s - 1]);
            ck_assert_msg(fabs((double)(float)coef - want) <= 1e-6 * want,
                          "%s step %zu: clip coefficient %.9g, the reference's %.9g", name, s,
                          coef, want);
            gscale = (float)want;
        }
        gs[s] = malloc(in->n * sizeof **gs);
        for (size_t i = 0; i < in->n; i++)
            gs[s][i] = g[i] * gscale;
        memcpy(before, p, in->n * sizeof *p);
        double lr = c.lrs[s - 1];
        optimizer_step(&o, p, g, lr, gscale);
        if (!check)
            continue;
        const param_groups *pg = optimizer_groups(&o);
        int t = (int)s;
        double adam = 2 * lr * (4 * t + 10) * U_ROUND * adam_R(t);
        double af = 2 * (2 * t * (L_LOG + 4) + 2 * L_LOG + 20) * U_ROUND;
        for (size_t k = 0; k < in->n_params; k++) {
            double wd = pg->decay[k] ? c.h.weight_decay : 0.0;
            for (size_t i = pg->offset[k]; i < pg->offset[k + 1]; i++) {
                double upd = c.kind == OPTIM_ADAFACTOR
                                 ? af * (fabs((double)before[i] - p[i]) +
                                         wd * lr * fabs((double)before[i]))
                                 : adam;
                tol[i] += upd + 6 * U_ROUND * fabs((double)p[i]);
            }
        }
        if (s == in->steps - 1)
            memcpy(tol4, tol, in->n * sizeof *tol);
        if (s == 1 || s == in->steps) {
            char what[96], prefix[32];
            snprintf(what, sizeof what, "%s step %zu", name, s);
            snprintf(prefix, sizeof prefix, "after.%zu.", s);
            compare(what, in, c.f, prefix, p, tol);
        }
    }
    if (check) {
        compare_state(name, in, &c, &o, (const float *const *)gs, tol4);
        compare_groups(name, &c, &o);
    }
    for (size_t s = 1; s <= in->steps; s++)
        free(gs[s]);
    free(gs);
    free(before);
    free(tol);
    free(tol4);
    optimizer_free(&o);
    case_free(&c);
}

START_TEST(optimizers_match_reference)
{
    inputs in;
    inputs_load(&in);
    const char *name = cases[_i];
    float *p1 = malloc(in.n * sizeof *p1), *p3 = malloc(in.n * sizeof *p3);
    run_case(name, &in, 1, 1, p1);
    /* the thread count changes nothing */
    run_case(name, &in, 3, 0, p3);
    ck_assert_msg(memcmp(p1, p3, in.n * sizeof *p1) == 0, "%s: 1 and 3 threads differ", name);
    free(p1);
    free(p3);
    inputs_free(&in);
}
END_TEST

/* The kinds' names and errors; Adafactor's exact arithmetic on one case
 * small enough to do by hand. */
START_TEST(kinds_and_edges)
{
    optim_kind k;
    ck_assert_int_eq(optim_kind_of("adamw_torch", &k), 0);
    ck_assert_int_eq(k, OPTIM_ADAMW_TORCH);
    ck_assert_int_eq(optim_kind_of("adafactor", &k), 0);
    ck_assert_int_eq(k, OPTIM_ADAFACTOR);
    ck_assert_int_eq(optim_kind_of("adamw_hf", &k), 0);
    ck_assert_int_eq(k, OPTIM_ADAMW_HF);
    ck_assert_int_eq(optim_kind_of("sgd", &k), -1);
    ck_assert_int_eq(optim_kind_of("Adafactor", &k), -1);
    ck_assert_str_eq(optim_kind_name(OPTIM_ADAMW_HF), "adamw_hf");

    /* one 2×2 matrix, g = [[1, 0], [0, 2]], lr 0.5, step 1 (β̂ = 0):
     * row = [0.5, 2], col = [0.5, 2] (+ eps₁), mean(row) = 1.25,
     * rf = rsqrt(row/1.25), cf = rsqrt(col), u = rf·cf·g:
     * u00 = √2.5·√2·1 = √5, u11 = √(1.25/2)·√(1/2)·2 = √1.25; RMS(u) =
     * √((5 + 1.25)/4) = 1.25 > 1, so U = u/1.25·0.5 */
    param_desc pd[1];
    memset(pd, 0, sizeof pd);
    snprintf(pd[0].name, sizeof pd[0].name, "w");
    pd[0].ndim = 2;
    pd[0].shape[0] = pd[0].shape[1] = 2;
    pd[0].numel = 4;
    optimizer o;
    optim_hparams h = {0.9, 0.999, 1e-8, 0.0, 0};
    ck_assert_int_eq(optimizer_init(&o, OPTIM_ADAFACTOR, pd, 1, &h, 1), MLM_OK);
    float p[4] = {0, 0, 0, 0}, g[4] = {1, 0, 0, 2};
    optimizer_step(&o, p, g, 0.5, 1.0f);
    ck_assert(fabs(p[0] + sqrt(5.0) / 1.25 * 0.5) < 1e-6);
    ck_assert(p[1] == 0 && p[2] == 0);
    ck_assert(fabs(p[3] + sqrt(1.25) / 1.25 * 0.5) < 1e-6);
    optim_state_tensor st[3];
    ck_assert_uint_eq(optimizer_state_tensors(&o, 0, st), 3);
    ck_assert_str_eq(st[0].key, "exp_avg_sq_row");
    ck_assert_str_eq(st[1].key, "exp_avg_sq_col");
    ck_assert_str_eq(st[2].key, "RMS");
    ck_assert(st[0].data[0] == 0.5f && st[0].data[1] == 2.0f);
    ck_assert(st[1].data[0] == 0.5f && st[1].data[1] == 2.0f);
    ck_assert(st[2].ndim == 0 && st[2].data[0] == 0.0f); /* RMS of p before the step */
    optimizer_free(&o);

    ck_assert_int_eq(optimizer_init(&o, OPTIM_ADAFACTOR, pd, 1,
                                    &(optim_hparams){0.9, 0.999, 1e-8, -1.0, 0}, 1),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(optimizer_init(&o, OPTIM_ADAMW_HF, pd, 1,
                                    &(optim_hparams){1.0, 0.999, 1e-8, 0.0, 0}, 1),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(optimizer_init(&o, (optim_kind)7, pd, 1, &h, 1), MLM_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---------------------------------------------------------------- the trainer */

static const char *const kinds[] = {"adamw_torch", "adamw_hf", "adafactor"};

static mlm_trainer *kind_trainer(const world *w, mlm_model *m, const char *dir,
                                 const char *optim)
{
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 6, \"save_steps\": 3, "
             "\"logging_steps\": 1, \"per_device_train_batch_size\": 4, "
             "\"learning_rate\": 1e-3, \"weight_decay\": 0.01, \"warmup_steps\": 1, "
             "\"optim\": \"%s\"}",
             dir, optim);
    mlm_trainer *tr = new_trainer(w, m, opts);
    ck_assert_int_eq(mlm_trainer_set_tokenizer(tr, w->tok), MLM_OK);
    return tr;
}

static int same_file(const char *da, const char *db, const char *name)
{
    size_t la, lb;
    char *a = read_all(da, name, &la), *b = read_all(db, name, &lb);
    int same = la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    return same;
}

/* Each kind's checkpoint holds its state_dict layout and resumes bit for
 * bit: a run resumed from checkpoint-3 into a fresh trainer (and a fresh
 * optimizer) ends as the uninterrupted one. The world's texts are English
 * and Korean. */
START_TEST(checkpoint_resumes_each_kind)
{
    const char *optim = kinds[_i];
    world w;
    world_make(&w, 16, 1, 0.0);
    char *da = test_tmpdir(), *db = test_tmpdir();
    mlm_model *ma = new_model(&w);
    mlm_trainer *ta = kind_trainer(&w, ma, da, optim);
    ck_assert_msg(mlm_trainer_train(ta) == MLM_OK, "%s", mlm_last_error());

    /* the layout: optim, step and param_groups in the metadata, the kind's
     * state keys per parameter */
    char path[4200];
    snprintf(path, sizeof path, "%s/checkpoint-3/optimizer.safetensors", da);
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path, &f), MLM_OK);
    ck_assert_str_eq(st_metadata(f, "optim"), optim);
    ck_assert_str_eq(st_metadata(f, "step"), "3");
    cJSON *groups = cJSON_Parse(st_metadata(f, "param_groups"));
    ck_assert_int_eq(cJSON_GetArraySize(groups), 2);
    const cJSON *g0 = cJSON_GetArrayItem(groups, 0), *g1 = cJSON_GetArrayItem(groups, 1);
    ck_assert(cJSON_GetObjectItem(g0, "weight_decay")->valuedouble == 0.01);
    ck_assert(cJSON_GetObjectItem(g1, "weight_decay")->valuedouble == 0.0);
    ck_assert(cJSON_GetObjectItem(g0, "initial_lr")->valuedouble == 1e-3);
    const char *want_key = strcmp(optim, "adafactor") == 0 ? "clip_threshold"
                           : strcmp(optim, "adamw_hf") == 0 ? "correct_bias"
                                                            : "amsgrad";
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(g0, want_key));
    cJSON_Delete(groups);
    const char *emb = "bert.embeddings.word_embeddings.weight";
    const char *bias = "bert.embeddings.LayerNorm.bias";
    char name[200];
    const char *const adam_keys[] = {"step", "exp_avg", "exp_avg_sq"};
    const char *const af_mat[] = {"step", "exp_avg_sq_row", "exp_avg_sq_col", "RMS"};
    const char *const af_vec[] = {"step", "exp_avg_sq", "RMS"};
    int af = strcmp(optim, "adafactor") == 0;
    for (size_t k = 0; k < (af ? 4u : 3u); k++) {
        snprintf(name, sizeof name, "%s.%s", emb, af ? af_mat[k] : adam_keys[k]);
        ck_assert_msg(st_find(f, name) != NULL, "%s: no %s", path, name);
    }
    for (size_t k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "%s.%s", bias, af ? af_vec[k] : adam_keys[k]);
        ck_assert_msg(st_find(f, name) != NULL, "%s: no %s", path, name);
    }
    snprintf(name, sizeof name, "%s.step", emb);
    ck_assert_int_eq(st_find(f, name)->dtype, strcmp(optim, "adamw_torch") == 0 ? ST_F32 : ST_I64);
    st_close(f);

    /* training_args.json records the option */
    size_t len;
    char *args = read_all(da, "checkpoint-3/training_args.json", &len);
    cJSON *ao = cJSON_Parse(args);
    ck_assert_str_eq(cJSON_GetObjectItem(ao, "optim")->valuestring, optim);
    cJSON_Delete(ao);
    free(args);

    /* a fresh trainer resumes from checkpoint-3 and ends as A did */
    char ck[2100];
    snprintf(ck, sizeof ck, "%s/checkpoint-3", da);
    mlm_model *mb = new_model(&w);
    mlm_trainer *tb = kind_trainer(&w, mb, db, optim);
    ck_assert_msg(mlm_trainer_resume(tb, ck) == MLM_OK, "%s", mlm_last_error());
    const char *files[] = {"model.safetensors", "checkpoint-6/model.safetensors",
                           "checkpoint-6/optimizer.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        ck_assert_msg(same_file(da, db, files[i]), "%s: %s differs after resuming", optim,
                      files[i]);

    /* another kind than the checkpoint's: a clear error naming both */
    const char *other = kinds[(_i + 1) % 3];
    char *dc = test_tmpdir();
    mlm_model *mc = new_model(&w);
    mlm_trainer *tc = kind_trainer(&w, mc, dc, other);
    ck_assert_int_eq(mlm_trainer_resume(tc, ck), MLM_ERR_INVALID_ARGUMENT);
    const char *msg = mlm_last_error();
    char s1[64], s2[64];
    snprintf(s1, sizeof s1, "\"%s\"", optim);
    snprintf(s2, sizeof s2, "\"%s\"", other);
    ck_assert_msg(strstr(msg, s1) && strstr(msg, s2) && strstr(msg, "optimizer.safetensors"),
                  "%s", msg);

    end_run(ta, ma, da);
    end_run(tb, mb, db);
    end_run(tc, mc, dc);
    world_free(&w);
}
END_TEST

START_TEST(trainer_option)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = NULL;
    ck_assert_int_eq(mlm_trainer_new(m, w.col, w.train, w.eval, &tr), MLM_OK);
    size_t need;
    char buf[4096];
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"optim\":\"adamw_torch\""));
    ck_assert_int_eq(mlm_trainer_set(tr, "optim", "sgd"), MLM_ERR_INVALID_ARGUMENT);
    const char *msg = mlm_last_error();
    ck_assert_msg(strstr(msg, "optim") && strstr(msg, "sgd") && strstr(msg, "adamw_torch") &&
                      strstr(msg, "adamw_hf") && strstr(msg, "adafactor"),
                  "%s", msg);
    ck_assert_int_eq(mlm_trainer_set(tr, "optim", "null"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"optim\": \"adafactor\"}"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"optim\":\"adafactor\""));
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"optim\": 3}"), MLM_ERR_INVALID_ARGUMENT);
    mlm_trainer_free(tr);
    mlm_model_free(m);
    world_free(&w);
}
END_TEST

Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, optimizers_match_reference, 0, (int)N_CASES);
    tcase_add_test(tc, kinds_and_edges);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("optim_checkpoint");
    tcase_set_timeout(tk, 120);
    tcase_add_loop_test(tk, checkpoint_resumes_each_kind, 0, 3);
    tcase_add_test(tk, trainer_option);
    suite_add_tcase(s, tk);
    return s;
}
