/* Training: the train-mode forward, the backward of every layer, AdamW with
 * HF Trainer's groups, clipping and schedule, against the PyTorch reference
 * (tests/reference/make_goldens.py: train_*.safetensors, train.json), plus
 * finite differences of the whole model and dropout checks.
 *
 * Error model (u = 2^-24, float32's unit roundoff). Two float32
 * implementations of the same sums (ours on any CPU path, torch's) differ
 * by the rounding of each: a sum of K products rounds to within
 * λ·√K·u·Σ|terms| of the exact one, for any order of summation, except with
 * probability < 2·exp(−λ²/2) per element (Higham & Mary, "A new approach
 * to probabilistic rounding error analysis", 2019; the worst case K·u is
 * not attained by rounding that does not conspire). λ = 8 throughout.
 *
 * - Loss: 1e-5 relative (8e-5 at these losses of ~7). The mean
 *   cross-entropy moves by at most 2·max|Δlogit| (its gradient in the
 *   logits has L1 norm ≤ 2). A logit's rounding is dominated by the head's
 *   sum over the hidden size (K ≤ 256: 8·√256·u·Σ|h·w| ≈ 2.5e-5 with
 *   LayerNorm outputs of RMS 1 and weights of std 0.02); the layers before
 *   it are renormalised by their LayerNorms, and the mean over the labelled
 *   rows averages the rest. A wrong label, mask or row is O(1e-2..1) off.
 * - Gradients: relative L2 per tensor ≤ τ_g = 1e-4. The largest sums of
 *   the backward are the head's input gradient (K = V, 8003 at the small
 *   models: 8·√8003·u = 4.3e-5 of Σ|terms|) and the weight gradients over
 *   the batch's rows (K ≤ 132); cancellation in the LayerNorm and softmax
 *   backwards costs a factor of a few on top, within τ_g. A wrong formula is
 *   O(1) off. Step 3's gradients are taken at parameters that already
 *   differ where step 2's update was ill-conditioned (below); how much that
 *   moves them the reference measures between its own float32 and float64
 *   runs (train.json: grads_step3_float32_vs_float64_rel_l2, ~6e-6), and
 *   step 3 allows τ_g plus three times that. The attention key biases,
 *   whose exact gradient is 0 (softmax is shift-invariant per query), are
 *   held absolutely, |g| ≤ 1e-6: sums over the batch's rows that cancel
 *   exactly round by ≤ 8·√132·u·Σ|terms| = 5.5e-6·Σ|terms|, Σ|terms| ≲ 0.1.
 * - Gradient norm and clip coefficient: |‖g‖ − ‖g*‖| ≤ ‖g − g*‖ ≤ τ_g·‖g*‖
 *   when every tensor is within τ_g; and torch's float32 norm, what we
 *   compare with, is itself |‖g*‖₃₂ − ‖g*‖₆₄| off the exact norm of its
 *   gradients: at 5.4 M parameters 3.6e-5 relative (train.json has both).
 *   Tolerance τ_g·‖g*‖ + that difference. The coefficient min(1, 1/(‖g‖ +
 *   1e-6)) has the norm's relative error.
 * - Parameters after each AdamW step, element by element, from the
 *   gradients that made the step. With ĝ_k = c_k·g_k the clipped gradient
 *   of step k and the bias corrections folded into weights,
 *   m̂ = Σ_k a_k·ĝ_k, v̂ = Σ_k b_k·ĝ_k² (a_k = (1−β1)β1^(t−k)/(1−β1^t),
 *   b_k likewise with β2; both sum to 1), the update is lr·r with
 *   r = m̂/(√v̂ + ε). Two facts bound how r can differ between
 *   implementations whose gradients differ by e_k = |ĝ_k − ĝ*_k| ≤ E:
 *     1. |r| < R = √(Σ_k a_k²/b_k) (Cauchy–Schwarz), so |r − r*| < 2R
 *        whatever the gradients: an element whose gradient is rounding
 *        noise (|ĝ| ~ E, or ≲ ε) may move anywhere in ±lr·R, in torch's
 *        own float32 run too (its float64 run strays 9% of lr from it at
 *        the small models, train.json: params_float32_vs_float64_max_abs);
 *     2. |∂r/∂ĝ_k| ≤ (a_k + R·√b_k)/(√v̂ + ε), and along the segment
 *        between the two gradient histories √v̂ ≥ √v̂* − E (the triangle
 *        inequality in the b-weighted norm), so
 *        |r − r*| ≤ Σ_k (a_k + R·√b_k)·E / (max(0, √v̂* − E) + ε):
 *        where the gradient is well above its error, r agrees to ~E/|ĝ|.
 *   Each element's tolerance after step t is the sum over the steps so far
 *   of lr_t·min(2R, bound 2), with E the largest e_k of that element so
 *   far (measured: what our gradients did, each tensor held to τ_g above),
 *   plus the float32 rounding of both updates, 2·(3u·|p| + 8u·lr_t·R).
 *   Weight decay multiplies an earlier difference by 1 − lr·wd ≤ 1. An
 *   element whose gradient is known to 1e-5 relative is held to ~3e-5 of
 *   lr, where an AdamW bug moves every element by O(lr) (a bias correction
 *   off by one step: 34% of lr at step 2; ε inside the square root: ~lr
 *   wherever |ĝ| ≲ √ε); the key biases and other noise-level gradients are
 *   held to what the arithmetic allows.
 *
 * Checkpoints: the committed tiny ones, and small ones (4 layers, hidden
 * 256) with their goldens made by the reference at test time. */
#include "suites.h"
#include "testutil.h"
#include "golden.h"
#include "adam_bound.h"

#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include <cjson/cJSON.h>
#include "io/safetensors.h"
#include "nn/model_impl.h"
#include "nn/ops/cpu.h"
#include "nn/encoder_train.h"
#include "train/adamw.h"
#include "train/schedule.h"

/* ---------------------------------------------------------------- helpers */



/* A file of the goldens in directory gdir. */
static st_file *open_golden(const char *gdir, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", gdir, file);
    st_file *f = NULL;
    ck_assert_msg(st_open(path, &f) == MLM_OK, "%s: %s", path, mlm_last_error());
    return f;
}

static mlm_model *load_model_at(const char *dir)
{
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(dir, &m) == MLM_OK, "%s: %s", dir, mlm_last_error());
    return m;
}

static mlm_model *load_model(const char *name)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/models/%s", test_root(), name);
    return load_model_at(dir);
}

typedef struct golden_batch {
    st_file *f;
    int32_t *ids, *mask, *types, *labels;
    train_batch b;
} golden_batch;

static void batch_open(golden_batch *g, const char *gdir)
{
    memset(g, 0, sizeof *g);
    g->f = open_golden(gdir, "train_batch.safetensors");
    const st_tensor *t = st_find(g->f, "input_ids");
    ck_assert_ptr_nonnull(t);
    g->ids = golden_i32(g->f, "input_ids", NULL);
    g->mask = golden_i32(g->f, "attention_mask", NULL);
    g->types = golden_i32(g->f, "token_type_ids", NULL);
    g->labels = golden_i32(g->f, "labels", NULL);
    ck_assert_ptr_nonnull(g->labels);
    g->b = (train_batch){g->ids, g->mask, g->types, g->labels, (int)t->shape[0],
                         (int)t->shape[1]};
}

static void batch_close(golden_batch *g)
{
    free(g->ids);
    free(g->mask);
    free(g->types);
    free(g->labels);
    st_close(g->f);
}

/* train.json */
typedef struct golden_json {
    char *text;
    cJSON *root;
} golden_json;

static void json_open(golden_json *j, const char *gdir)
{
    char path[1200];
    size_t len;
    snprintf(path, sizeof path, "%s/train.json", gdir);
    j->text = test_read_file(path, &len);
    ck_assert_ptr_nonnull(j->text);
    j->root = cJSON_ParseWithLength(j->text, len);
    ck_assert_msg(j->root != NULL, "%s: not JSON", path);
}

static double json_num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(cJSON_IsNumber(v), "train.json: no number %s", key);
    return v->valuedouble;
}

static int json_has_string(const cJSON *arr, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
            return 1;
    }
    return 0;
}

static void json_close(golden_json *j)
{
    cJSON_Delete(j->root);
    free(j->text);
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

/* The gradient tolerance (see the top). */
#define GRAD_TOL 1e-4

static const char *const parity_models[] = {"tiny-bert", "tiny-roberta", "tiny-distilbert"};

/* ---------------------------------------------------------------- parity */

/* The tolerance of a gradient tensor at step s (see the top): GRAD_TOL,
 * and at step 3 three times what the parameters' differences after step 2
 * move it by in torch's own float32 run against its float64 one. */
static double gradient_tolerance(const cJSON *root, int s, const char *tensor)
{
    if (s < 3)
        return GRAD_TOL;
    const cJSON *d3 = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "grads_step3_float32_vs_float64_rel_l2"), tensor);
    ck_assert_msg(cJSON_IsNumber(d3), "train.json: no grads_step3_float32_vs_float64_rel_l2 of %s",
                  tensor);
    return GRAD_TOL + 3 * d3->valuedouble;
}

/* Every gradient of step s against the reference's (gf): relative L2 per
 * tensor within gradient_tolerance, the near-zero ones absolutely. Returns
 * the worst relative error and its tensor. */
static double check_gradients(const char *name, int s, const mlm_model *m, const float *grad,
                              const st_file *gf, const cJSON *root, const char **worst_name)
{
    const cJSON *near_zero = cJSON_GetObjectItemCaseSensitive(root, "near_zero_gradients");
    double worst = 0;
    *worst_name = "";
    for (size_t i = 0; i < m->n_params; i++) {
        const param_desc *p = &m->params[i];
        const float *g = grad + (*p->slot - m->owned);
        const float *ref = golden_f32(gf, p->name, p->numel, NULL);
        double mx, e = test_rel_l2(g, ref, p->numel, &mx);
        if (json_has_string(near_zero, p->name)) {
            double gmax = 0;
            for (size_t k = 0; k < p->numel; k++)
                gmax = fmax(gmax, fabs(g[k]));
            ck_assert_msg(gmax <= 1e-6, "%s step %d: %s: |g| %g, should be ~0", name, s,
                          p->name, gmax);
            continue;
        }
        double tol = gradient_tolerance(root, s, p->name);
        ck_assert_msg(e <= tol, "%s step %d: gradient of %s: relative L2 error %g > %g (max abs %g)",
                      name, s, p->name, e, tol, mx);
        if (e > worst) {
            worst = e;
            *worst_name = p->name;
        }
    }
    return worst;
}

/* x within τ_g·ref32 + |ref32 − ref64| of the reference's float32 value:
 * a norm (or what has a norm's relative error) of gradients each within
 * τ_g, against torch's float32 norm, which is itself off the exact one. */
static int near_reference(double x, double ref32, double ref64)
{
    return fabs(x - ref32) <= GRAD_TOL * fabs(ref32) + fabs(ref32 - ref64);
}

/* The reference's gradients of step s: the first backward's, which step 2
 * repeats (lr 0 at step 1 leaves the parameters as they were), or step 3's. */
static st_file *open_step_grads(const char *gdir, const cJSON *root, int s)
{
    if (s < 3) {
        const cJSON *same = cJSON_GetObjectItemCaseSensitive(root, "grads_step2_equal_step1");
        ck_assert_msg(s == 1 || cJSON_IsTrue(same), "train.json: step 2's gradients not step 1's");
        return open_golden(gdir, "train_grads.safetensors");
    }
    return open_golden(gdir, "train_grads_step3.safetensors");
}

/* The loss, every gradient at every step, the clipped norm and three AdamW
 * steps of the model in mdir against the goldens in gdir (make_goldens.py's
 * train*); select: the last layer at the labelled rows only (the default,
 * which the golden batches' ~20% of labels selects), or every layer at
 * every row. */
static void train_parity(const char *name, const char *mdir, const char *gdir, int select)
{
    golden_batch gb;
    batch_open(&gb, gdir);
    golden_json gj;
    json_open(&gj, gdir);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(gj.root, "settings");
    ck_assert_ptr_nonnull(settings);

    mlm_model *m = load_model_at(mdir);
    train_ctx *tc = NULL;
    ck_assert_msg(train_ctx_new(m, gb.b.B, gb.b.T, 1, &tc) == MLM_OK, "%s", mlm_last_error());
    ck_assert_ptr_nonnull(m->owned); /* materialised from the mapping */
    tc->hidden_dropout = tc->attn_dropout = 0.0f; /* the golden's overrides */
    tc->select_rows = select;

    double b1 = json_num(settings, "adam_beta1"), b2 = json_num(settings, "adam_beta2");
    double eps = json_num(settings, "adam_epsilon");
    adamw opt;
    ck_assert_int_eq(adamw_init(&opt, m->params, m->n_params, b1, b2, eps, json_num(settings, "weight_decay"), 1),
                     MLM_OK);
    adam_bound ab;
    adam_bound_init(&ab, opt.n, b1, b2, eps);

    /* Three Trainer steps on the same batch. */
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(gj.root, "steps");
    const cJSON *steps64 = cJSON_GetObjectItemCaseSensitive(gj.root, "steps_float64");
    double lr0 = json_num(settings, "learning_rate"), max_norm = json_num(settings, "max_grad_norm");
    int warmup = (int)json_num(settings, "warmup_steps");
    int total = (int)json_num(settings, "num_training_steps");
    for (int s = 1; s <= 3; s++) {
        const cJSON *js = cJSON_GetArrayItem(steps, s - 1);
        const cJSON *js64 = cJSON_GetArrayItem(steps64, s - 1);
        ck_assert_ptr_nonnull(js);
        ck_assert_ptr_nonnull(js64);
        float loss;
        train_zero_grad(tc);
        ck_assert_int_eq(train_forward(tc, &gb.b, 1, (uint64_t)s, &loss), MLM_OK);
        ck_assert_int_eq(tc->selected, select);
        ck_assert_msg(rel(loss, json_num(js, "loss")) <= 1e-5, "%s step %d: loss %.9g vs %.9g",
                      name, s, (double)loss, json_num(js, "loss"));
        ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
        st_file *gf = open_step_grads(gdir, gj.root, s);
        const char *worst_name;
        double worst = check_gradients(name, s, m, tc->grad, gf, gj.root, &worst_name);
        double norm = grad_global_norm(&opt.g, tc->grad);
        ck_assert_msg(near_reference(norm, json_num(js, "grad_norm"), json_num(js64, "grad_norm")),
                      "%s step %d: grad norm %.9g vs %.9g (float64 %.9g)", name, s, norm,
                      json_num(js, "grad_norm"), json_num(js64, "grad_norm"));
        double coef = grad_clip(tc->grad, opt.n, norm, max_norm);
        double coef_ref = json_num(js, "clip_coef");
        ck_assert_msg(near_reference(coef, coef_ref, json_num(js64, "clip_coef")),
                      "%s step %d: clip coef %.9g vs %.9g", name, s, coef, coef_ref);
        double lr = lr0 * lr_linear_warmup(s - 1, warmup, total);
        ck_assert_msg(fabs(lr - json_num(js, "lr")) <= 1e-12, "%s step %d: lr %g vs %g", name, s,
                      lr, json_num(js, "lr"));
        adamw_step(&opt, m->owned, tc->grad, lr);

        char file[64];
        snprintf(file, sizeof file, "train_step%d.safetensors", s);
        st_file *pf = open_golden(gdir, file);
        adam_report rep = {0};
        for (size_t i = 0; i < m->n_params; i++) {
            const param_desc *p = &m->params[i];
            size_t off = (size_t)(*p->slot - m->owned);
            adam_bound_step(&ab, name, s, lr, lr0, p, off, tc->grad,
                            golden_f32(gf, p->name, p->numel, NULL), coef_ref, m->owned,
                            golden_f32(pf, p->name, p->numel, NULL), &rep);
        }
        fprintf(stderr, "train parity %s (%s) step %d: loss rel err %.2e, grad norm rel err "
                        "%.2e, worst gradient rel L2 %.2e (%s); parameters at %.2f of their "
                        "tolerance; %.2e lr apart where it is < 1%% lr, %zu elements beyond "
                        "(%zu noise-level)\n",
                name, select ? "last layer at the labelled rows" : "all rows", s,
                rel(loss, json_num(js, "loss")), rel(norm, json_num(js, "grad_norm")), worst,
                worst_name, rep.worst, rep.well_abs / lr0, rep.loose, rep.noise);
        st_close(pf);
        st_close(gf);
    }
    adam_bound_free(&ab);
    adamw_free(&opt);
    train_ctx_free(tc);
    mlm_model_free(m);
    json_close(&gj);
    batch_close(&gb);
}

/* The committed tiny checkpoints; _i 0-2 the last layer at the labelled
 * rows, 3-5 at every row. */
START_TEST(gradients_and_adamw_match_reference)
{
    const char *name = parity_models[_i % 3];
    char mdir[1024], gdir[1024];
    snprintf(mdir, sizeof mdir, "%s/tests/data/models/%s", test_root(), name);
    snprintf(gdir, sizeof gdir, "%s/tests/data/goldens/%s", test_root(), name);
    train_parity(name, mdir, gdir, _i < 3);
}
END_TEST

/* bf16 mixed precision (ops_ctx.autocast_bf16) against PyTorch's
 * torch.autocast("cpu", bfloat16) on the same checkpoint, batch and three
 * AdamW steps (tests/reference/make_bf16_train_goldens.py:
 * train_bf16.json). Both round the same operands of the same products to
 * bf16; what differs is what autocast rounds besides: the output of every
 * product, and of every op that then runs on a bf16 input (GELU). Error
 * model (loose, first order): along the deepest chain per layer 7 such
 * roundings (q/k/v, scores, context, attention output, FFN in, GELU, FFN
 * out), in the head 3 (dense, GELU, decoder): D = 7·L + 3, each relative
 * 2^-9 and carried to the logits' scale by the LayerNorms, so the loss
 * moves by at most D·2^-9 of itself on the same parameters (steps 1 and 2:
 * lr 0 at step 1); at step 3 the parameters differ by an update made from
 * gradients that differ by as much, which moves the loss by at most that
 * fraction of the step's own change (< the loss): a second D·2^-9·|L|.
 *   steps 1, 2: |L - L_ref| <= D·2^-9·|L_ref|;  step 3: 2·D·2^-9·|L_ref|.
 * The run must also differ from the fp32 one (the flag took effect). */
START_TEST(bf16_steps_match_autocast)
{
    const char *name = parity_models[_i];
    char mdir[1024], gdir[1024];
    snprintf(mdir, sizeof mdir, "%s/tests/data/models/%s", test_root(), name);
    snprintf(gdir, sizeof gdir, "%s/tests/data/goldens/%s", test_root(), name);
    golden_batch gb;
    batch_open(&gb, gdir);
    char path[1200];
    snprintf(path, sizeof path, "%s/train_bf16.json", gdir);
    size_t len;
    char *text = test_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(root);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(root, "settings");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(root, "steps_autocast_bf16");
    const cJSON *ref32 = cJSON_GetObjectItemCaseSensitive(root, "steps_float32");
    ck_assert(settings && ref && ref32);

    mlm_model *m = load_model_at(mdir);
    train_ctx *tc = NULL;
    ck_assert_msg(train_ctx_new(m, gb.b.B, gb.b.T, 1, &tc) == MLM_OK, "%s", mlm_last_error());
    tc->hidden_dropout = tc->attn_dropout = 0.0f;
    tc->ops.autocast_bf16 = 1;
    adamw opt;
    ck_assert_int_eq(adamw_init(&opt, m->params, m->n_params, json_num(settings, "adam_beta1"),
                                json_num(settings, "adam_beta2"),
                                json_num(settings, "adam_epsilon"),
                                json_num(settings, "weight_decay"), 1),
                     MLM_OK);
    double lr0 = json_num(settings, "learning_rate"), max_norm = json_num(settings, "max_grad_norm");
    int warmup = (int)json_num(settings, "warmup_steps");
    int total = (int)json_num(settings, "num_training_steps");
    const double D = 7.0 * m->d.L + 3.0;
    for (int s = 1; s <= 3; s++) {
        double want = json_num(cJSON_GetArrayItem(ref, s - 1), "loss");
        double want32 = json_num(cJSON_GetArrayItem(ref32, s - 1), "loss");
        float loss;
        train_zero_grad(tc);
        ck_assert_int_eq(train_forward(tc, &gb.b, 1, (uint64_t)s, &loss), MLM_OK);
        double bound = (s < 3 ? 1 : 2) * D * 0x1p-9 * fabs(want);
        fprintf(stderr, "bf16 vs autocast %s step %d: loss %.7f, autocast %.7f (rel %.2e, "
                        "bound %.2e), fp32 %.7f\n",
                name, s, (double)loss, want, rel(loss, want), bound / fabs(want), want32);
        ck_assert_msg(fabs(loss - want) <= bound, "%s step %d: loss %.9g vs autocast %.9g", name,
                      s, (double)loss, want);
        ck_assert_msg((double)loss != want32, "%s step %d: bf16 loss equals fp32's", name, s);
        ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
        double norm = grad_global_norm(&opt.g, tc->grad);
        grad_clip(tc->grad, opt.n, norm, max_norm);
        adamw_step(&opt, m->owned, tc->grad, lr0 * lr_linear_warmup(s - 1, warmup, total));
    }
    adamw_free(&opt);
    train_ctx_free(tc);
    mlm_model_free(m);
    cJSON_Delete(root);
    batch_close(&gb);
}
END_TEST

/* Small checkpoints (4 layers, hidden 256, FFN 1024, vocabulary 8003, a
 * batch of 64 + 47 + 21 tokens): made at test time with their goldens by the
 * reference (~3 s each; too large to commit), so this needs /usr/bin/python3
 * with torch and skips without it. */
START_TEST(small_models_match_reference)
{
    static const char *const names[] = {"small-bert", "small-roberta", "small-distilbert"};
    if (!have_torch()) {
        fprintf(stderr, "skip %s: python3-torch is not installed (/usr/bin/python3 cannot import torch; make deps-golden installs it)\n",
                __func__);
        return;
    }
    char *dir = test_tmpdir();
    char cmd[4096], mdir[1200], gdir[1200];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && /usr/bin/python3 tests/reference/make_goldens.py train-small %s '%s' 2>&1",
             test_root(), names[_i], dir);
    int status = 0;
    char *out = test_run(cmd, &status);
    ck_assert_msg(status == 0, "reference failed: %s", out ? out : "");
    free(out);
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    snprintf(gdir, sizeof gdir, "%s/golden", dir);
    train_parity(names[_i], mdir, gdir, 1);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- finite differences */

/* Tiny models of each architecture, small enough that a forward costs
 * microseconds. */
static const char *const tiny_configs[] = {
    "{\"model_type\":\"bert\",\"vocab_size\":23,\"hidden_size\":8,\"num_hidden_layers\":2,"
    "\"num_attention_heads\":2,\"intermediate_size\":12,\"max_position_embeddings\":16,"
    "\"type_vocab_size\":2,\"hidden_act\":\"gelu\",\"initializer_range\":0.3,"
    "\"layer_norm_eps\":1e-12,\"pad_token_id\":0}",
    "{\"model_type\":\"roberta\",\"vocab_size\":23,\"hidden_size\":8,\"num_hidden_layers\":2,"
    "\"num_attention_heads\":2,\"intermediate_size\":12,\"max_position_embeddings\":18,"
    "\"type_vocab_size\":1,\"hidden_act\":\"gelu_new\",\"initializer_range\":0.3,"
    "\"layer_norm_eps\":1e-5,\"pad_token_id\":1,\"bos_token_id\":0,\"eos_token_id\":2}",
    "{\"model_type\":\"distilbert\",\"vocab_size\":23,\"dim\":8,\"n_layers\":2,\"n_heads\":2,"
    "\"hidden_dim\":12,\"max_position_embeddings\":16,\"activation\":\"relu\","
    "\"initializer_range\":0.3,\"pad_token_id\":0}",
};

/* A model from config, with HF init then every parameter perturbed (biases
 * and LayerNorm parameters would otherwise be 0 and 1 exactly). */
static mlm_model *tiny_model(int which, uint64_t seed)
{
    mlm_model *m = NULL;
    const char *cfg = tiny_configs[which];
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), seed, &m) == MLM_OK, "%s", mlm_last_error());
    ck_assert_ptr_nonnull(m->owned);
    float noise[64];
    for (size_t i = 0; i < m->n_params; i++) {
        param_desc *p = &m->params[i];
        float *x = (float *)*p->slot;
        for (size_t k = 0; k < p->numel; k += 64) {
            size_t n = p->numel - k < 64 ? p->numel - k : 64;
            rng_fill_normal(seed + 7, 1000 + i, k, noise, n, 0.0f, 0.1f);
            for (size_t e = 0; e < n; e++)
                x[k + e] += noise[e];
        }
    }
    return m;
}

/* Two rows of 6 tokens, the second padded after 4; labels at 4 positions. */
static const int32_t fd_tokens[3][12] = {
    {2, 7, 9, 4, 11, 3, 2, 5, 4, 3, 0, 0},
    {0, 7, 9, 22, 11, 2, 0, 5, 22, 2, 1, 1},
    {2, 7, 9, 4, 11, 3, 2, 5, 4, 3, 0, 0},
};
static const int32_t fd_attn[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
static const int32_t fd_ttypes[12] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0};
static const int32_t fd_targets[12] = {-100, 8, -100, 13, -100, -100, -100, 6, 17, -100, -100, -100};

static double fd_loss(train_ctx *tc, const train_batch *b)
{
    float loss;
    ck_assert_int_eq(train_forward(tc, b, 5, 3, &loss), MLM_OK);
    return loss;
}

/* Central differences of the float loss, h = 3e-3 on parameters of size
 * ~0.3 (LayerNorm weights ~1). The loss (~3) is a float computed through a
 * few hundred rounded operations: its rounding error is ~1e-6 at worst, so
 * the quotient (l+ − l−)/2h carries ~1e-6/6e-3 ≈ 2e-4 of rounding error; the
 * truncation error h²·f'''/6 is ~1e-6 for these smooth functions. ReLU's
 * kink is the one non-smooth point: with h = 1e-2 one of DistilBERT's FFN
 * inputs crossed 0 inside ±h (a 10% error there); with h = 3e-3 none does
 * for these seeds. Tolerance: 3e-4 + 2e-2·|g| (observed: at most ~0.25 of
 * it). */
static void fd_check(int which, float dropout, int select)
{
    mlm_model *m = tiny_model(which, 40 + (uint64_t)which);
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, 2, 6, 1, &tc), MLM_OK);
    tc->hidden_dropout = tc->attn_dropout = dropout;
    tc->select_rows = select; /* 4 labels of 12 tokens: selected when on */
    train_batch b = {fd_tokens[which], fd_attn, which == 0 ? fd_ttypes : NULL, fd_targets, 2, 6};
    train_zero_grad(tc);
    fd_loss(tc, &b);
    ck_assert_int_eq(tc->selected, select);
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
    float *grad = malloc(model_numel(m) * sizeof *grad);
    memcpy(grad, tc->grad, model_numel(m) * sizeof *grad);
    double worst = 0;
    int checked = 0;
    rng r;
    rng_init(&r, 99, (uint64_t)which);
    for (size_t i = 0; i < m->n_params; i++) {
        const param_desc *p = &m->params[i];
        float *x = (float *)*p->slot;
        for (int k = 0; k < 3; k++) {
            size_t e = rng_u32(&r) % p->numel;
            if (k == 2 && p->padding_row >= 0) /* the padding row: decoder only */
                e = (size_t)p->padding_row * (size_t)p->shape[1] + e % (size_t)p->shape[1];
            float keep = x[e];
            const float h = 3e-3f;
            x[e] = keep + h;
            double lp = fd_loss(tc, &b);
            x[e] = keep - h;
            double lm = fd_loss(tc, &b);
            x[e] = keep;
            double fd = (lp - lm) / (2.0 * (double)h);
            double g = grad[(size_t)(x - m->owned) + e];
            double err = fabs(fd - g);
            ck_assert_msg(err <= 3e-4 + 2e-2 * fabs(g),
                          "%s (dropout %g): d loss / d %s[%zu]: backward %.6g, finite "
                          "difference %.6g",
                          mlm_model_type(m), (double)dropout, p->name, e, g, fd);
            worst = fmax(worst, err / (3e-4 + 2e-2 * fabs(g)));
            checked++;
        }
    }
    fprintf(stderr, "finite differences %s (dropout %g, %s): %d elements, worst error %.2f of "
                    "the tolerance\n",
            mlm_model_type(m), (double)dropout, select ? "last layer at the labels" : "all rows",
            checked, worst);
    free(grad);
    train_ctx_free(tc);
    mlm_model_free(m);
}

START_TEST(backward_matches_finite_differences)
{
    fd_check(_i % 3, 0.0f, _i < 3);
}
END_TEST

/* The backward regenerates the dropout masks from (seed, step): a fixed
 * (seed, step) makes the loss a smooth function of the parameters again. */
START_TEST(backward_with_dropout_matches_finite_differences)
{
    fd_check(_i % 3, 0.2f, _i < 3);
}
END_TEST

/* ---------------------------------------------------------------- dropout */

/* Overfitting one fixed batch: forward, backward and AdamW together drive the
 * loss to ~0, and the inference forward (mlm_model_forward) then predicts
 * every label. A broken link anywhere in the chain stalls this. */
START_TEST(overfits_one_batch)
{
    mlm_model *m = tiny_model(_i, 8);
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, 2, 6, 1, &tc), MLM_OK);
    adamw opt;
    ck_assert_int_eq(adamw_init(&opt, m->params, m->n_params, 0.9, 0.999, 1e-8, 0.0, 1), MLM_OK);
    train_batch b = {fd_tokens[_i], fd_attn, _i == 0 ? fd_ttypes : NULL, fd_targets, 2, 6};
    float first = 0, loss = 0;
    for (int step = 0; step < 200; step++) {
        train_zero_grad(tc);
        ck_assert_int_eq(train_forward(tc, &b, 1, (uint64_t)step, &loss), MLM_OK);
        if (step == 0)
            first = loss;
        ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
        adamw_step(&opt, m->owned, tc->grad, 1e-2);
    }
    ck_assert_int_eq(train_forward(tc, &b, 1, 0, &loss), MLM_OK);
    fprintf(stderr, "overfit one batch %s: loss %.4f -> %.5f\n", mlm_model_type(m),
            (double)first, (double)loss);
    ck_assert_msg(loss < 0.05f, "loss %.5f after 200 steps on one batch (from %.4f)",
                  (double)loss, (double)first);
    int32_t pos[12];
    size_t np = 0;
    for (int32_t i = 0; i < 12; i++)
        if (fd_targets[i] != -100)
            pos[np++] = i;
    int V = mlm_model_vocab_size(m);
    float *logits = malloc(np * (size_t)V * sizeof *logits);
    ck_assert_int_eq(mlm_model_forward(m, 1, b.ids, b.attn_mask, b.type_ids, 2, 6, pos, np,
                                       logits),
                     MLM_OK);
    for (size_t k = 0; k < np; k++) {
        int32_t best;
        ck_assert_int_eq(mlm_topk(logits + k * (size_t)V, (size_t)V, 1, &best, NULL), MLM_OK);
        ck_assert_int_eq(best, fd_targets[pos[k]]);
    }
    free(logits);
    adamw_free(&opt);
    train_ctx_free(tc);
    mlm_model_free(m);
}
END_TEST

/* A context bigger than the batch (the Trainer grows one context to the
 * largest batch seen and reuses it for shorter ones) gives the loss and
 * gradients of a context of exactly the batch's size. */
START_TEST(context_capacity_is_invisible)
{
    mlm_model *m = tiny_model(_i, 21);
    train_batch b = {fd_tokens[_i], fd_attn, _i == 0 ? fd_ttypes : NULL, fd_targets, 2, 6};
    size_t n = model_numel(m);
    float *g[2];
    float loss[2];
    const int caps[2][2] = {{2, 6}, {5, 17}};
    for (int k = 0; k < 2; k++) {
        train_ctx *tc = NULL;
        ck_assert_int_eq(train_ctx_new(m, caps[k][0], caps[k][1], 1, &tc), MLM_OK);
        train_zero_grad(tc);
        ck_assert_int_eq(train_forward(tc, &b, 5, 3, &loss[k]), MLM_OK);
        ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
        g[k] = malloc(n * sizeof *g[k]);
        memcpy(g[k], tc->grad, n * sizeof *g[k]);
        train_ctx_free(tc);
    }
    ck_assert_msg(fabsf(loss[0] - loss[1]) <= 1e-6f * fabsf(loss[0]), "loss %.8g vs %.8g",
                  (double)loss[0], (double)loss[1]);
    for (size_t i = 0; i < m->n_params; i++) {
        const param_desc *p = &m->params[i];
        size_t off = (size_t)((const float *)*p->slot - m->owned);
        double d2 = 0, n2 = 0;
        for (size_t e = 0; e < p->numel; e++) {
            double d = (double)g[0][off + e] - g[1][off + e];
            d2 += d * d;
            n2 += (double)g[0][off + e] * g[0][off + e];
        }
        ck_assert_msg(sqrt(d2) <= 1e-5 * sqrt(n2) + 1e-7, "%s: gradient differs with a larger "
                      "context (|diff| %g, |g| %g)", p->name, sqrt(d2), sqrt(n2));
    }
    free(g[0]);
    free(g[1]);
    mlm_model_free(m);
}
END_TEST

/* Finite differences at the learning test's shape (hidden 64, 4 heads of
 * 16, 2 layers, 4 rows of 17 tokens with padding), where the kernels take
 * their blocked/BLAS paths rather than the tiny ones above. */
START_TEST(backward_matches_finite_differences_mid_size)
{
    const char *cfg =
        "{\"model_type\":\"bert\",\"vocab_size\":400,\"hidden_size\":64,\"num_hidden_layers\":2,"
        "\"num_attention_heads\":4,\"intermediate_size\":128,\"max_position_embeddings\":64,"
        "\"type_vocab_size\":2,\"hidden_act\":\"gelu\",\"initializer_range\":0.2,"
        "\"layer_norm_eps\":1e-12,\"pad_token_id\":0}";
    mlm_model *m = NULL;
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 5, &m), MLM_OK);
    enum { B = 4, T = 17 };
    int32_t ids[B * T], am[B * T], lab[B * T];
    rng r;
    rng_init(&r, 17, 0);
    for (int i = 0; i < B * T; i++) {
        int len = T - 3 * (i / T);
        am[i] = i % T < len;
        ids[i] = am[i] ? 1 + (int32_t)(rng_u32(&r) % 399) : 0;
        lab[i] = am[i] && rng_u32(&r) % 4 == 0 ? 1 + (int32_t)(rng_u32(&r) % 399) : -100;
    }
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, B, T, 1, &tc), MLM_OK);
    int select = _i == 0; /* the last layer at the labelled rows, or every row */
    tc->select_rows = select;
    train_batch b = {ids, am, NULL, lab, B, T};
    train_zero_grad(tc);
    fd_loss(tc, &b);
    ck_assert_int_eq(tc->selected, select);
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
    float *grad = malloc(model_numel(m) * sizeof *grad);
    memcpy(grad, tc->grad, model_numel(m) * sizeof *grad);
    double worst = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        const param_desc *p = &m->params[i];
        float *x = (float *)*p->slot;
        /* the element with the largest gradient, and two at random */
        size_t big = 0;
        size_t off = (size_t)(x - m->owned);
        for (size_t e = 1; e < p->numel; e++)
            if (fabsf(grad[off + e]) > fabsf(grad[off + big]))
                big = e;
        for (int k = 0; k < 3; k++) {
            size_t e = k == 0 ? big : rng_u32(&r) % p->numel;
            float keep = x[e];
            const float h = 1e-2f;
            x[e] = keep + h;
            double lp = fd_loss(tc, &b);
            x[e] = keep - h;
            double lm = fd_loss(tc, &b);
            x[e] = keep;
            double fd = (lp - lm) / (2.0 * (double)h);
            double g = grad[off + e];
            double tol = 1e-3 + 5e-2 * fabs(g);
            ck_assert_msg(fabs(fd - g) <= tol, "d loss / d %s[%zu]: backward %.6g, finite "
                          "difference %.6g", p->name, e, g, fd);
            worst = fmax(worst, fabs(fd - g) / tol);
        }
    }
    fprintf(stderr, "finite differences mid-size bert: worst error %.2f of the tolerance\n",
            worst);
    free(grad);
    train_ctx_free(tc);
    mlm_model_free(m);
}
END_TEST

START_TEST(dropout_is_deterministic_and_seeded)
{
    mlm_model *m = tiny_model(_i, 3);
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, 2, 6, 1, &tc), MLM_OK);
    tc->hidden_dropout = tc->attn_dropout = 0.3f;
    train_batch b = {fd_tokens[_i], fd_attn, _i == 0 ? fd_ttypes : NULL, fd_targets, 2, 6};
    size_t n = model_numel(m);
    float l1, l2, l3, l4, l0;
    float *g1 = malloc(n * sizeof *g1);
    train_zero_grad(tc);
    ck_assert_int_eq(train_forward(tc, &b, 11, 0, &l1), MLM_OK);
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
    memcpy(g1, tc->grad, n * sizeof *g1);
    /* same (seed, step), other thread count: bit-identical loss and gradients */
    tc->ops.nthreads = 3;
    train_zero_grad(tc);
    ck_assert_int_eq(train_forward(tc, &b, 11, 0, &l2), MLM_OK);
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
    ck_assert(l1 == l2);
    ck_assert_int_eq(memcmp(g1, tc->grad, n * sizeof *g1), 0);
    tc->ops.nthreads = 1;
    ck_assert_int_eq(train_forward(tc, &b, 12, 0, &l3), MLM_OK); /* other seed */
    ck_assert_int_eq(train_forward(tc, &b, 11, 1, &l4), MLM_OK); /* other step */
    ck_assert(l3 != l1 && l4 != l1 && l3 != l4);
    tc->train_mode = 0;
    ck_assert_int_eq(train_forward(tc, &b, 11, 0, &l0), MLM_OK);
    ck_assert(l0 != l1);
    free(g1);
    train_ctx_free(tc);
    mlm_model_free(m);
}
END_TEST

/* With dropout off the train forward is the eval forward over every row,
 * and running train mode leaves the eval forward alone. The train forward
 * runs its last layer and the head at the labelled rows only: products of
 * fewer rows than the eval forward's. Where our AVX-512 kernels take them
 * (gemm_small.c, gemm_tile.c), a row's sums do not depend on the row count,
 * so the logits are the same bits. BLIS's kernels (any CPU without
 * AVX-512, or a forced path) block other row counts differently: there the
 * last layer's and the head's 8 products (K ≤ 12) may each round
 * differently, by ≤ 2·8·√K·u = 3.3e-6 of their Σ|a||b| (see the top).
 * With LayerNorm outputs of RMS 1 and weights of std 0.32 (tiny_model),
 * Σ|a||b| ≈ K·E|a|·E|b| ≈ 12·0.8·0.25 = 2.4: ~8e-6 a product, ≤ 1e-4 over
 * the chain, and relatively so for larger logits. A wrong row is O(1) off. */
static void assert_same_logits(const float *got, const float *want, size_t n)
{
    if (cpu_vec_level() >= CPU_VEC_AVX512) {
        ck_assert_int_eq(memcmp(got, want, n * sizeof *got), 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])),
                      "logit %zu: %.9g vs %.9g", i, (double)got[i], (double)want[i]);
}
static void eval_rows(const mlm_model *m, const train_batch *b, const int32_t *pos, size_t np,
                      float *out)
{
    int V = m->d.V;
    float *all = malloc((size_t)b->B * b->T * V * sizeof *all);
    ck_assert_int_eq(mlm_model_forward(m, 1, b->ids, b->attn_mask, b->type_ids, (size_t)b->B,
                                       (size_t)b->T, NULL, 0, all),
                     MLM_OK);
    for (size_t r = 0; r < np; r++)
        memcpy(out + r * V, all + (size_t)pos[r] * V, V * sizeof *out);
    free(all);
}

START_TEST(eval_forward_unaffected)
{
    mlm_model *m = tiny_model(_i, 4);
    const model_dims *d = &m->d;
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, 2, 6, 1, &tc), MLM_OK);
    train_batch b = {fd_tokens[_i], fd_attn, _i == 0 ? fd_ttypes : NULL, fd_targets, 2, 6};
    int32_t pos[12];
    size_t np = 0;
    for (int i = 0; i < 12; i++)
        if (fd_targets[i] != -100)
            pos[np++] = i;
    float *before = malloc(np * d->V * sizeof *before), *after = malloc(np * d->V * sizeof *after);
    eval_rows(m, &b, pos, np, before);
    tc->hidden_dropout = tc->attn_dropout = 0.5f;
    float loss;
    ck_assert_int_eq(train_forward(tc, &b, 1, 0, &loss), MLM_OK);
    eval_rows(m, &b, pos, np, after);
    ck_assert_int_eq(memcmp(before, after, np * d->V * sizeof *before), 0);
    tc->train_mode = 0;
    ck_assert_int_eq(train_forward(tc, &b, 1, 0, &loss), MLM_OK);
    ck_assert_int_eq(tc->n_rows, (int)np);
    assert_same_logits(tc->h.logits, before, np * d->V);
    /* and the loss is the mean cross-entropy of those logits */
    double sum = 0;
    for (size_t r = 0; r < np; r++) {
        const float *row = before + r * d->V;
        double mx = row[0], z = 0;
        for (int v = 1; v < d->V; v++)
            mx = fmax(mx, row[v]);
        for (int v = 0; v < d->V; v++)
            z += exp(row[v] - mx);
        sum += mx + log(z) - row[fd_targets[pos[r]]];
    }
    ck_assert_msg(rel(loss, sum / np) <= 1e-6, "loss %g vs %g", (double)loss, sum / np);
    free(before);
    free(after);
    train_ctx_free(tc);
    mlm_model_free(m);
}
END_TEST

/* Inverted dropout on the embeddings' output, over 400 steps: each element is
 * either 0 or the LayerNorm output / (1 − p), it is kept with probability
 * 1 − p (within 5σ), and E|drop(x)| = |x| (within 2%; the sampling error is
 * ~0.3%). */
START_TEST(dropout_expected_value)
{
    mlm_model *m = tiny_model(0, 5);
    const model_dims *d = &m->d;
    train_ctx *tc = NULL;
    int B = 2, T = 6, N = B * T, C = d->C;
    ck_assert_int_eq(train_ctx_new(m, B, T, 1, &tc), MLM_OK);
    const float p = 0.25f;
    tc->hidden_dropout = p;
    tc->attn_dropout = 0.0f;
    train_batch b = {fd_tokens[0], fd_attn, fd_ttypes, fd_targets, B, T};
    float *ln = malloc((size_t)N * C * sizeof *ln), *mean = malloc(N * sizeof *mean),
          *rstd = malloc(N * sizeof *rstd);
    double sum_x0 = 0, sum_ln = 0;
    long kept = 0, total = 0;
    const int trials = 400;
    for (int s = 0; s < trials; s++) {
        float loss;
        ck_assert_int_eq(train_forward(tc, &b, 77, (uint64_t)s, &loss), MLM_OK);
        ops_layernorm_forward(&tc->ops, ln, mean, rstd, tc->a.emb_sum, m->w.emb_ln_w,
                              m->w.emb_ln_b, N, C, d->ln_eps);
        for (int i = 0; i < N * C; i++) {
            float x = tc->a.x0[i];
            if (x != 0.0f) {
                ck_assert_msg(fabsf(x - ln[i] / (1.0f - p)) <= 1e-6f * fabsf(x) + 1e-7f,
                              "kept element %g, expected %g", (double)x,
                              (double)(ln[i] / (1.0f - p)));
                kept++;
            }
            total++;
            sum_x0 += fabs(x);
            sum_ln += fabs(ln[i]);
        }
    }
    double frac = (double)kept / (double)total;
    double sigma = sqrt(p * (1 - p) / (double)total);
    ck_assert_msg(fabs(frac - (1 - p)) <= 5 * sigma, "kept %.4f, expected %.4f", frac, 1 - p);
    ck_assert_msg(rel(sum_x0, sum_ln) <= 0.02, "E|drop(x)| %g vs |x| %g", sum_x0, sum_ln);
    free(ln);
    free(mean);
    free(rstd);
    train_ctx_free(tc);
    mlm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- accumulation */

/* The golden batch split into two micro-batches (rows 0-1, row 2) with
 * token-weighted dloss gives the whole batch's gradients; dloss = 1/2 each
 * gives HF's classic accumulation: the mean of the two micro-batch means. */
START_TEST(gradient_accumulation)
{
    const char *name = parity_models[_i];
    char gdir[1024];
    snprintf(gdir, sizeof gdir, "%s/tests/data/goldens/%s", test_root(), name);
    golden_batch gb;
    batch_open(&gb, gdir);
    mlm_model *m = load_model(name);
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, gb.b.B, gb.b.T, 1, &tc), MLM_OK);
    tc->hidden_dropout = tc->attn_dropout = 0.0f;
    size_t n = model_numel(m);
    float *full = malloc(n * sizeof *full);
    float loss;
    train_zero_grad(tc);
    ck_assert_int_eq(train_forward(tc, &gb.b, 1, 0, &loss), MLM_OK);
    int total_rows = tc->n_rows;
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
    memcpy(full, tc->grad, n * sizeof *full);

    int T = gb.b.T;
    train_batch part[2] = {gb.b, gb.b};
    part[0].B = 2;
    part[1].B = gb.b.B - 2;
    part[1].ids += 2 * T;
    part[1].attn_mask += 2 * T;
    if (part[1].type_ids)
        part[1].type_ids += 2 * T;
    part[1].labels += 2 * T;
    train_zero_grad(tc);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(train_forward(tc, &part[k], 1, (uint64_t)k, &loss), MLM_OK);
        ck_assert_int_eq(train_backward(tc, (float)tc->n_rows / (float)total_rows), MLM_OK);
    }
    double mx;
    double e = test_rel_l2(tc->grad, full, n, &mx);
    ck_assert_msg(e <= 1e-5, "%s: accumulated gradients differ from the full batch's by %g", name,
                  e);
    free(full);
    train_ctx_free(tc);
    mlm_model_free(m);
    batch_close(&gb);
}
END_TEST

START_TEST(schedule_and_clip)
{
    /* get_linear_schedule_with_warmup(warmup 2, total 10) */
    const double want[] = {0.0, 0.5, 1.0, 7.0 / 8, 6.0 / 8, 5.0 / 8};
    for (int s = 0; s < 6; s++)
        ck_assert(fabs(lr_linear_warmup(s, 2, 10) - want[s]) <= 1e-15);
    ck_assert(lr_linear_warmup(10, 2, 10) == 0.0 && lr_linear_warmup(12, 2, 10) == 0.0);
    ck_assert(lr_linear_warmup(0, 0, 4) == 1.0 && lr_linear_warmup(3, 0, 4) == 0.25);
    float g[4] = {3, 4, 0, 0};
    ck_assert(grad_clip(g, 4, 5.0, 10.0) == 1.0 && g[0] == 3.0f);
    double c = grad_clip(g, 4, 5.0, 1.0);
    ck_assert(fabs(c - 1.0 / (5.0 + 1e-6)) <= 1e-15);
    ck_assert(fabsf(g[1] - 4.0f * (float)c) <= 0.0f);
}
END_TEST

/* The optimizer state saved after one step and restored into a fresh
 * optimizer gives the same next step, bit for bit (what a checkpoint needs). */
START_TEST(adamw_state_round_trip)
{
    mlm_model *a = tiny_model(0, 8), *b = tiny_model(0, 8);
    size_t n = model_numel(a);
    float *g = malloc(n * sizeof *g);
    rng_fill_normal(1, 2, 0, g, n, 0.0f, 0.1f);
    adamw oa, ob;
    ck_assert_int_eq(adamw_init(&oa, a->params, a->n_params, 0.9, 0.999, 1e-8, 0.01, 1), MLM_OK);
    ck_assert_int_eq(adamw_init(&ob, b->params, b->n_params, 0.9, 0.999, 1e-8, 0.01, 2), MLM_OK);
    adamw_step(&oa, a->owned, g, 1e-3);
    float *m, *v;
    size_t len;
    int64_t *step;
    adamw_state(&ob, &m, &v, &len, &step);
    ck_assert_uint_eq(len, n);
    memcpy(m, oa.m, n * sizeof *m);
    memcpy(v, oa.v, n * sizeof *v);
    *step = oa.step;
    memcpy(b->owned, a->owned, n * sizeof *g);
    rng_fill_normal(1, 3, 0, g, n, 0.0f, 0.1f);
    adamw_step(&oa, a->owned, g, 5e-4);
    adamw_step(&ob, b->owned, g, 5e-4);
    ck_assert_int_eq(memcmp(a->owned, b->owned, n * sizeof *g), 0);
    ck_assert_int_eq(memcmp(oa.m, ob.m, 2 * n * sizeof *g), 0);
    /* no decay for biases and LayerNorm weights: with g = 0 and fresh state
     * only the decay group moves, by exactly p·(1 − lr·wd) */
    adamw oc;
    ck_assert_int_eq(adamw_init(&oc, a->params, a->n_params, 0.9, 0.999, 1e-8, 0.1, 1), MLM_OK);
    memset(g, 0, n * sizeof *g);
    memcpy(b->owned, a->owned, n * sizeof *g);
    adamw_step(&oc, a->owned, g, 0.5);
    for (size_t i = 0; i < a->n_params; i++) {
        const param_desc *p = &a->params[i];
        size_t off = (size_t)(*p->slot - a->owned);
        for (size_t k = 0; k < p->numel; k++) {
            float want = p->no_decay ? b->owned[off + k] : b->owned[off + k] * (1.0f - 0.05f);
            ck_assert_msg(a->owned[off + k] == want, "%s", p->name);
        }
    }
    adamw_free(&oa);
    adamw_free(&ob);
    adamw_free(&oc);
    adamw_free(NULL);
    free(g);
    mlm_model_free(a);
    mlm_model_free(b);
}
END_TEST

/* The Trainer's step folds clipping into the update: adamw_step_scaled with
 * clip_grad_norm_'s coefficient gives, bit for bit, grad_clip then
 * adamw_step; the norm and the update do not depend on the thread count;
 * and every vector instruction set computes the same floats. */
START_TEST(fused_clip_matches_separate)
{
    /* ~0.4 M parameters: several norm chunks and update ranges per thread */
    const char *cfg =
        "{\"model_type\":\"roberta\",\"vocab_size\":5003,\"hidden_size\":64,"
        "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"intermediate_size\":96,"
        "\"max_position_embeddings\":40,\"type_vocab_size\":1,\"pad_token_id\":1}";
    mlm_model *a = NULL, *b = NULL;
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 9, &a), MLM_OK);
    ck_assert_int_eq(mlm_model_new(cfg, strlen(cfg), 9, &b), MLM_OK);
    size_t n = model_numel(a);
    float *g = malloc(n * sizeof *g), *gc = malloc(n * sizeof *gc);
    adamw oa, ob;
    ck_assert_int_eq(adamw_init(&oa, a->params, a->n_params, 0.9, 0.999, 1e-8, 0.01, 1), MLM_OK);
    ck_assert_int_eq(adamw_init(&ob, b->params, b->n_params, 0.9, 0.999, 1e-8, 0.01, 3), MLM_OK);
    for (int step = 0; step < 3; step++) {
        rng_fill_normal(4, (uint64_t)step, 0, g, n, 0.0f, 0.5f);
        memcpy(gc, g, n * sizeof *g);
        double na = grad_global_norm(&oa.g, g), nb = grad_global_norm(&ob.g, g);
        ck_assert(na == nb);
        double max_norm = step == 2 ? 1e9 : 1.0; /* the last step does not clip */
        double coef = grad_clip(gc, n, na, max_norm);
        ck_assert(step == 2 ? coef == 1.0 : coef < 1.0);
        ck_assert(grad_clip_coef(nb, max_norm) == coef);
        adamw_step(&oa, a->owned, gc, 1e-3);
        if (step == 1)
            cpu_vec_limit(CPU_VEC_BASE);
        adamw_step_scaled(&ob, b->owned, g, 1e-3, (float)coef);
        cpu_vec_limit(CPU_VEC_AVX512);
        ck_assert_int_eq(memcmp(a->owned, b->owned, n * sizeof *g), 0);
        ck_assert_int_eq(memcmp(oa.m, ob.m, 2 * n * sizeof *g), 0);
    }
    adamw_free(&oa);
    adamw_free(&ob);
    free(g);
    free(gc);
    mlm_model_free(a);
    mlm_model_free(b);
}
END_TEST

/* A zero-copy model is materialised; a batch with no labels gives NaN and
 * no gradient; bad input is refused. */
START_TEST(edge_cases)
{
    mlm_model *m = load_model("tiny-bert");
    ck_assert_ptr_null(m->owned); /* mapped zero-copy */
    const float *mapped = m->w.word_emb;
    float first = mapped[5];
    ck_assert_int_eq(model_own_params(m), MLM_OK);
    ck_assert_ptr_nonnull(m->owned);
    ck_assert_ptr_null(m->source);
    ck_assert(m->w.word_emb == m->owned && m->w.word_emb[5] == first);
    train_ctx *tc = NULL;
    ck_assert_int_eq(train_ctx_new(m, 1, 4, 1, &tc), MLM_OK);
    int32_t ids[4] = {2, 5, 6, 3}, none[4] = {-100, -100, -100, -100};
    train_batch b = {ids, NULL, NULL, none, 1, 4};
    float loss;
    ck_assert_int_eq(train_forward(tc, &b, 0, 0, &loss), MLM_OK);
    ck_assert(isnan(loss));
    train_zero_grad(tc);
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_OK);
    for (size_t i = 0; i < model_numel(m); i++)
        ck_assert(tc->grad[i] == 0.0f);
    ck_assert_int_eq(train_backward(tc, 1.0f), MLM_ERR_INVALID_ARGUMENT); /* spent */
    int32_t bad[4] = {-100, 5000, -100, -100};
    b.labels = bad;
    ck_assert_int_eq(train_forward(tc, &b, 0, 0, &loss), MLM_ERR_RANGE);
    b.labels = none;
    b.T = 5;
    ck_assert_int_eq(train_forward(tc, &b, 0, 0, &loss), MLM_ERR_INVALID_ARGUMENT);
    train_ctx_free(tc);
    train_ctx_free(NULL);
    mlm_model_free(m);
}
END_TEST

Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, gradients_and_adamw_match_reference, 0, 6);
    tcase_add_loop_test(tc, small_models_match_reference, 0, 3);
    tcase_add_loop_test(tc, bf16_steps_match_autocast, 0, 3);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, 6);
    tcase_add_loop_test(tc, backward_with_dropout_matches_finite_differences, 0, 6);
    tcase_add_loop_test(tc, dropout_is_deterministic_and_seeded, 0, 3);
    tcase_add_loop_test(tc, eval_forward_unaffected, 0, 3);
    tcase_add_test(tc, dropout_expected_value);
    tcase_add_loop_test(tc, gradient_accumulation, 0, 3);
    tcase_add_test(tc, schedule_and_clip);
    tcase_add_test(tc, adamw_state_round_trip);
    tcase_add_test(tc, fused_clip_matches_separate);
    tcase_add_test(tc, edge_cases);
    tcase_add_loop_test(tc, context_capacity_is_invisible, 0, 3);
    tcase_add_loop_test(tc, overfits_one_batch, 0, 3);
    tcase_add_loop_test(tc, backward_matches_finite_differences_mid_size, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
