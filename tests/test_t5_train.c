/* T5 training (nn/t5_train.h): the train-mode forward, the loss and the
 * backward of every layer against the PyTorch reference
 * (tests/reference/make_t5_train.py: tests/data/goldens/t5-train-v1.0,
 * t5-train-v1.1), three AdamW steps, finite differences per layer kind,
 * dropout, and the eval forward of the inference path.
 *
 * Error model (u = 2^-24, λ = 8, as tests/test_train.c: a K-term float32
 * sum rounds within λ·√K·u·Σ|terms| of the exact one in any order, except
 * with probability < 2·exp(−λ²/2)).
 * - Loss: 1e-5 relative. The mean cross-entropy moves by at most
 *   2·max|Δlogit|; a logit is a sum over d_model = 16 products
 *   (8·√16·u·Σ|z·w| ≈ 2e-6·Σ|z·w|, Σ|z·w| ≲ 10 at these models' logits),
 *   and what reaches it from the blocks is renormalised by each RMS norm.
 *   torch's own float32 and float64 losses differ by ~1e-7 relative
 *   (train.json). A wrong mask, shift or label is O(1e-2..1) off.
 * - Gradients at step 1: relative L2 per tensor ≤ τ_g = 1e-4. The longest
 *   sums of the backward are the head's (K = vocabulary, 83) and the weight
 *   gradients over the batch's rows (K ≤ 36); softmax's and the RMS
 *   norms' backward cancel a factor of a few; 8·√83·u ≈ 4e-6 of Σ|terms|.
 *   torch's float32 gradients are ≤ 1.1e-6 from its float64 ones here. At
 *   steps 2 and 3 the gradients are taken at parameters that differ where
 *   the previous updates were ill-conditioned (Adam's m/√v of a gradient
 *   near its rounding error): τ_g plus three times what that does to
 *   torch's own float32 run against its float64 one, per tensor
 *   (train.json: grads_float32_vs_float64_rel_l2).
 * - Parameters after each AdamW step: element by element, by what the
 *   gradients that made the steps allow (tests/adam_bound.h; the model is
 *   written at the top of tests/test_train.c).
 * - Finite differences: see fd_check.
 * - Eval-mode logits against the inference path (mlm_model_seq2seq_forward):
 *   the decoder's attention is the same function summed in another order
 *   (ops_attention_rows there, batched products here), as in
 *   test_t5_parity.c's logits model: |Δ| ≤ 1e-4 + 2·4·λ·√d·u·S_i with
 *   S_i = Σ_k |z_k|·|W_ik| (z the head's input). The encoder makes the
 *   inference encoder's calls in its order: the same floats. */
#include "suites.h"
#include "testutil.h"
#include "golden.h"
#include "adam_bound.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/t5_train.h"
#include "train/adamw.h"

#define LAMBDA 8.0
#define U 0x1p-24
#define GRAD_TOL 1e-4

/* ---------------------------------------------------------------- helpers */

static mlm_model *load_at(const char *dir)
{
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_load(dir, &m) == MLM_OK, "%s: %s", dir, mlm_last_error());
    return m;
}

static cJSON *read_json(const char *path)
{
    size_t len = 0;
    char *text = test_read_file(path, &len);
    ck_assert_msg(text, "%s", path);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    ck_assert_msg(doc, "%s: not JSON", path);
    free(text);
    return doc;
}

static st_file *open_golden(const char *dir, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    st_file *f = NULL;
    ck_assert_msg(st_open(path, &f) == MLM_OK, "%s: %s", path, mlm_last_error());
    return f;
}

static double num_at(const cJSON *arr, int i)
{
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    ck_assert_msg(cJSON_IsNumber(v), "train.json: no number at [%d]", i);
    return v->valuedouble;
}

static int has_string(const cJSON *arr, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
            return 1;
    }
    return 0;
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

static size_t numel_of(const t5_model *tm) { return params_numel(tm->params, tm->n_params); }

/* ---------------------------------------------------------------- parity */

typedef struct golden_batch {
    st_file *f;
    int32_t *ids, *mask, *labels, *dec;
    t5_train_batch b;
} golden_batch;

static void batch_open(golden_batch *g, const char *dir)
{
    memset(g, 0, sizeof *g);
    g->f = open_golden(dir, "batch.safetensors");
    const st_tensor *ti = st_find(g->f, "input_ids"), *tl = st_find(g->f, "labels");
    ck_assert(ti && tl);
    g->ids = golden_i32(g->f, "input_ids", NULL);
    g->mask = golden_i32(g->f, "attention_mask", NULL);
    g->labels = golden_i32(g->f, "labels", NULL);
    g->dec = golden_i32(g->f, "decoder_input_ids", NULL);
    ck_assert(g->ids && g->mask && g->labels && g->dec);
    g->b = (t5_train_batch){.ids = g->ids, .mask = g->mask, .labels = g->labels,
                            .B = (int)ti->shape[0], .S = (int)ti->shape[1],
                            .T = (int)tl->shape[1]};
}

static void batch_close(golden_batch *g)
{
    free(g->ids);
    free(g->mask);
    free(g->labels);
    free(g->dec);
    st_close(g->f);
}

static const char *const styles[] = {"t5-train-v1.0", "t5-train-v1.1"};

/* Loss, every gradient and the parameters after each of three AdamW steps
 * against the reference (make_t5_train.py), dropout off. */
START_TEST(gradients_and_adamw_match_reference)
{
    const char *name = styles[_i];
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/tests/data/goldens/%s", test_root(), name);
    snprintf(path, sizeof path, "%s/train.json", dir);
    cJSON *gj = read_json(path);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(gj, "settings");
    const cJSON *losses = cJSON_GetObjectItemCaseSensitive(gj, "losses");
    const cJSON *g64 = cJSON_GetObjectItemCaseSensitive(gj, "grads_float32_vs_float64_rel_l2");
    const cJSON *no_decay = cJSON_GetObjectItemCaseSensitive(gj, "no_decay_parameters");
    ck_assert(settings && losses && g64 && no_decay);
    golden_batch gb;
    batch_open(&gb, dir);

    mlm_model *m = load_at(dir);
    t5_train *tc = NULL;
    ck_assert_msg(t5_train_new(m, gb.b.B, gb.b.S, gb.b.T, 1, &tc) == MLM_OK, "%s",
                  mlm_last_error());
    const t5_model *tm = tc->tm;
    ck_assert_ptr_nonnull(tm->owned); /* materialised from the zero-copy mapping */
    t5_train_set_mode(tc, 0);         /* the golden's dropout is off */

    /* HF Trainer's groups: the RMS norms' weights and the relative
     * attention biases are the no-decay group */
    for (size_t i = 0; i < tm->n_params; i++)
        ck_assert_msg(tm->params[i].no_decay == has_string(no_decay, tm->params[i].name),
                      "%s: no_decay %d, HF's grouping says %d", tm->params[i].name,
                      tm->params[i].no_decay, has_string(no_decay, tm->params[i].name));

    double lr = cJSON_GetObjectItemCaseSensitive(settings, "learning_rate")->valuedouble;
    double b1 = cJSON_GetObjectItemCaseSensitive(settings, "adam_beta1")->valuedouble;
    double b2 = cJSON_GetObjectItemCaseSensitive(settings, "adam_beta2")->valuedouble;
    double eps = cJSON_GetObjectItemCaseSensitive(settings, "adam_epsilon")->valuedouble;
    double wd = cJSON_GetObjectItemCaseSensitive(settings, "weight_decay")->valuedouble;
    adamw opt;
    ck_assert_int_eq(adamw_init(&opt, tm->params, tm->n_params, b1, b2, eps, wd, 1), MLM_OK);
    adam_bound ab;
    adam_bound_init(&ab, opt.n, b1, b2, eps);
    for (int s = 1; s <= 3; s++) {
        float loss;
        t5_train_zero_grad(tc);
        ck_assert_int_eq(t5_train_forward(tc, &gb.b, 1, (uint64_t)s, &loss), MLM_OK);
        double want = num_at(losses, s - 1);
        ck_assert_msg(rel(loss, want) <= 1e-5, "%s step %d: loss %.9g vs %.9g", name, s,
                      (double)loss, want);
        ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
        char file[64];
        snprintf(file, sizeof file, "grads_step%d.safetensors", s);
        st_file *gf = open_golden(dir, file);
        snprintf(file, sizeof file, "params_step%d.safetensors", s);
        st_file *pf = open_golden(dir, file);
        const cJSON *d64 = cJSON_GetArrayItem(g64, s - 1);
        double worst = 0;
        const char *worst_name = "";
        for (size_t i = 0; i < tm->n_params; i++) {
            const param_desc *p = &tm->params[i];
            const float *g = tc->grad + (*p->slot - tm->owned);
            const float *ref = golden_f32(gf, p->name, p->numel, NULL);
            const cJSON *noise = cJSON_GetObjectItemCaseSensitive(d64, p->name);
            ck_assert_msg(cJSON_IsNumber(noise), "train.json: no float64 distance for %s",
                          p->name);
            double tol = s == 1 ? GRAD_TOL : GRAD_TOL + 3 * noise->valuedouble;
            double mx, e = test_rel_l2(g, ref, p->numel, &mx);
            ck_assert_msg(e <= tol, "%s step %d: gradient of %s: relative L2 error %g > %g "
                                    "(max abs %g)", name, s, p->name, e, tol, mx);
            if (e > worst) {
                worst = e;
                worst_name = p->name;
            }
        }
        adamw_step(&opt, tc->tm->owned, tc->grad, lr);
        adam_report rep = {0};
        for (size_t i = 0; i < tm->n_params; i++) {
            const param_desc *p = &tm->params[i];
            size_t off = (size_t)(*p->slot - tm->owned);
            adam_bound_step(&ab, name, s, lr, lr, p, off, tc->grad,
                            golden_f32(gf, p->name, p->numel, NULL), 1.0, tm->owned,
                            golden_f32(pf, p->name, p->numel, NULL), &rep);
        }
        fprintf(stderr, "t5 train parity %s step %d: loss rel err %.2e, worst gradient rel L2 "
                        "%.2e (%s); parameters at %.2f of their tolerance, %.2e lr apart where "
                        "it is < 1%% lr, %zu elements beyond (%zu noise-level)\n",
                name, s, rel(loss, want), worst, worst_name, rep.worst, rep.well_abs / lr,
                rep.loose, rep.noise);
        st_close(gf);
        st_close(pf);
    }
    adam_bound_free(&ab);
    adamw_free(&opt);
    t5_train_free(tc);
    mlm_model_free(m);
    batch_close(&gb);
    cJSON_Delete(gj);
}
END_TEST

/* bf16 mixed precision (ops_ctx.autocast_bf16) against torch.autocast on
 * the same checkpoint, batch and three constant-lr AdamW steps
 * (tests/reference/make_bf16_train_goldens.py: train_bf16.json). Both round
 * the same operands of the same products to bf16; autocast also rounds
 * every product's output and what then runs on it in bf16 (the FFN's
 * activation and, gated, its product). Error model (loose, first order, as
 * tests/test_train.c's bf16_steps_match_autocast): along the deepest chain
 * per encoder layer at most 8 such roundings (q/k/v, scores, context, o,
 * wi_0/wi_1, activation, product, wo), per decoder layer 12 (self and cross
 * attention's 4 each, the FFN's 4), the head and the loss 2:
 * D = 8·Le + 12·Ld + 2, each relative 2^-9, so on the same parameters the
 * loss moves by at most D·2^-9 of itself; each update before step s was
 * made from gradients that differ by as much and adds at most another
 * D·2^-9·|L| (lr constant):  |L_s - L_ref,s| <= s·D·2^-9·|L_ref,s|. */
START_TEST(bf16_steps_match_autocast)
{
    const char *name = styles[_i];
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/tests/data/goldens/%s", test_root(), name);
    snprintf(path, sizeof path, "%s/train_bf16.json", dir);
    cJSON *gj = read_json(path);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(gj, "settings");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(gj, "losses_autocast_bf16");
    const cJSON *ref32 = cJSON_GetObjectItemCaseSensitive(gj, "losses_float32");
    ck_assert(settings && ref && ref32);
    golden_batch gb;
    batch_open(&gb, dir);
    mlm_model *m = load_at(dir);
    t5_train *tc = NULL;
    ck_assert_msg(t5_train_new(m, gb.b.B, gb.b.S, gb.b.T, 1, &tc) == MLM_OK, "%s",
                  mlm_last_error());
    t5_train_set_mode(tc, 0);
    tc->ops.autocast_bf16 = 1;
    const t5_model *tm = tc->tm;
    double lr = cJSON_GetObjectItemCaseSensitive(settings, "learning_rate")->valuedouble;
    adamw opt;
    ck_assert_int_eq(
        adamw_init(&opt, tm->params, tm->n_params,
                   cJSON_GetObjectItemCaseSensitive(settings, "adam_beta1")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(settings, "adam_beta2")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(settings, "adam_epsilon")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(settings, "weight_decay")->valuedouble, 1),
        MLM_OK);
    const double D = 8.0 * tm->d.Le + 12.0 * tm->d.Ld + 2.0;
    for (int s = 1; s <= 3; s++) {
        float loss;
        t5_train_zero_grad(tc);
        ck_assert_int_eq(t5_train_forward(tc, &gb.b, 1, (uint64_t)s, &loss), MLM_OK);
        double want = num_at(ref, s - 1), want32 = num_at(ref32, s - 1);
        double bound = s * D * 0x1p-9 * fabs(want);
        fprintf(stderr, "t5 bf16 vs autocast %s step %d: loss %.7f, autocast %.7f (rel %.2e, "
                        "bound %.2e), fp32 %.7f\n",
                name, s, (double)loss, want, rel(loss, want), bound / fabs(want), want32);
        ck_assert_msg(fabs(loss - want) <= bound, "%s step %d: loss %.9g vs autocast %.9g", name,
                      s, (double)loss, want);
        ck_assert_msg((double)loss != want32, "%s step %d: bf16 loss equals fp32's", name, s);
        ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
        adamw_step(&opt, tc->tm->owned, tc->grad, lr);
    }
    adamw_free(&opt);
    t5_train_free(tc);
    mlm_model_free(m);
    batch_close(&gb);
    cJSON_Delete(gj);
}
END_TEST

/* decoder_input_ids given (the golden's, made by the reference's
 * _shift_right) compute what the labels shifted by the model compute, bit
 * for bit; with dropout on too (the masks depend on (seed, step) only). */
START_TEST(explicit_decoder_ids_equal_shifted_labels)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/goldens/%s", test_root(), styles[_i]);
    golden_batch gb;
    batch_open(&gb, dir);
    mlm_model *m = load_at(dir);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, gb.b.B, gb.b.S, gb.b.T, 1, &tc), MLM_OK);
    size_t n = numel_of(tc->tm);
    float *g = malloc(n * sizeof *g);
    float l1, l2;
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &gb.b, 3, 4, &l1), MLM_OK);
    ck_assert_int_eq(memcmp(tc->dec_ids, gb.dec, (size_t)gb.b.B * gb.b.T * sizeof *gb.dec), 0);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    memcpy(g, tc->grad, n * sizeof *g);
    t5_train_batch b = gb.b;
    b.dec_ids = gb.dec;
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &b, 3, 4, &l2), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    ck_assert(l1 == l2);
    ck_assert_int_eq(memcmp(g, tc->grad, n * sizeof *g), 0);
    free(g);
    t5_train_free(tc);
    mlm_model_free(m);
    batch_close(&gb);
}
END_TEST

/* ---------------------------------------------------------------- tiny models */

/* v1.0 (relu, tied head with the rescale) and v1.1 (gated gelu_new,
 * untied); n_heads·d_kv != d_model, 3 decoder layers against 2, buckets
 * small enough for the log-spaced ones to show. */
static const char *const tiny_configs[] = {
    "{\"model_type\":\"t5\",\"vocab_size\":29,\"d_model\":8,\"d_kv\":4,\"num_heads\":3,"
    "\"d_ff\":10,\"num_layers\":2,\"num_decoder_layers\":3,"
    "\"relative_attention_num_buckets\":6,\"relative_attention_max_distance\":6,"
    "\"feed_forward_proj\":\"relu\",\"tie_word_embeddings\":true,\"dropout_rate\":0.1,"
    "\"decoder_start_token_id\":0,\"pad_token_id\":0,\"eos_token_id\":1}",
    "{\"model_type\":\"t5\",\"vocab_size\":29,\"d_model\":8,\"d_kv\":4,\"num_heads\":3,"
    "\"d_ff\":10,\"num_layers\":2,\"num_decoder_layers\":3,"
    "\"relative_attention_num_buckets\":6,\"relative_attention_max_distance\":6,"
    "\"feed_forward_proj\":\"gated-gelu\",\"tie_word_embeddings\":false,\"dropout_rate\":0.1,"
    "\"decoder_start_token_id\":0,\"pad_token_id\":0,\"eos_token_id\":1}",
};

/* HF's init, then the RMS norms' weights 1 + N(0, 0.1) (else exactly 1)
 * and the shared embedding scaled to std 0.5 (the tied head's logits stay
 * O(1), so the loss is not saturated). */
static mlm_model *tiny_model(int which, uint64_t seed)
{
    mlm_model *m = NULL;
    const char *cfg = tiny_configs[which];
    ck_assert_msg(mlm_model_new(cfg, strlen(cfg), seed, &m) == MLM_OK, "%s", mlm_last_error());
    t5_model *tm = m->impl;
    ck_assert_ptr_nonnull(tm->owned);
    float noise[64];
    for (size_t i = 0; i < tm->n_params; i++) {
        param_desc *p = &tm->params[i];
        float *x = (float *)*p->slot;
        int is_norm = p->init == INIT_CONST, is_shared = x == tm->w.shared;
        for (size_t k = 0; is_norm && k < p->numel; k += 64) {
            size_t n = p->numel - k < 64 ? p->numel - k : 64;
            rng_fill_normal(seed + 7, 1000 + i, k, noise, n, 0.0f, 0.1f);
            for (size_t e = 0; e < n; e++)
                x[k + e] += noise[e];
        }
        for (size_t k = 0; is_shared && k < p->numel; k++)
            x[k] *= 0.5f;
    }
    return m;
}

/* Two inputs of 6 source tokens, the second padded (with </s>, id 1)
 * after 4; 5 target positions, the second's last two ignored. */
static const int32_t tiny_ids[12] = {5, 9, 13, 22, 7, 1, 4, 28, 11, 1, 1, 1};
static const int32_t tiny_mask[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
static const int32_t tiny_labels[10] = {17, 3, 25, 8, 1, 6, 19, 1, -100, -100};

static t5_train_batch tiny_batch(void)
{
    return (t5_train_batch){.ids = tiny_ids, .mask = tiny_mask, .labels = tiny_labels, .B = 2,
                            .S = 6, .T = 5};
}

/* The kind of layer a parameter belongs to, for the report. */
static const char *kind_of(const char *name)
{
    if (strstr(name, "relative_attention_bias"))
        return "relative bias";
    if (strstr(name, "layer_norm"))
        return "RMS norm";
    if (strstr(name, "EncDecAttention"))
        return "cross-attention";
    if (strstr(name, "SelfAttention"))
        return "self-attention";
    if (strstr(name, "wi_"))
        return "gated FFN";
    if (strstr(name, "DenseReluDense"))
        return "FFN";
    if (strstr(name, "lm_head"))
        return "head";
    return "shared embedding / tied head";
}

static double fd_loss(t5_train *tc, const t5_train_batch *b)
{
    float loss;
    ck_assert_int_eq(t5_train_forward(tc, b, 5, 3, &loss), MLM_OK);
    return loss;
}

/* A hash of which FFN inputs of the last forward are positive: ReLU's
 * pieces. Two forwards on the same piece of every ReLU hash alike. */
static uint64_t relu_pieces(const t5_train *tc, int B, int S, int T)
{
    const t5_dims *d = &tc->tm->d;
    uint64_t hsh = 1469598103934665603u;
    for (int s = 0; s < 2; s++) {
        int L = s ? d->Ld : d->Le;
        size_t n = (size_t)B * (s ? T : S) * d->F;
        for (int l = 0; l < L; l++) {
            const float *h = (s ? tc->dec.blk : tc->enc.blk)[l].ff.h;
            for (size_t i = 0; i < n; i++)
                hsh = (hsh ^ (uint64_t)(h[i] > 0.0f)) * 1099511628211u;
        }
    }
    return hsh;
}

/* Central differences of the float32 loss against the backward, for the
 * element of largest gradient and two at random in every tensor (every
 * layer kind: RMS norms, self-attention with the relative bias,
 * cross-attention, relu and gated FFN, tied and untied head).
 *
 * Tolerance. The float32 loss L (~3 here) is computed through a few
 * hundred rounded operations, each contributing ≤ u·|its value|; after the
 * log-sum-exp and the mean its error is δ ≲ 4·u·|L|·√300 ≈ 1.4e-5 at worst
 * (≲ 1e-6 typically). With step h the quotient (L+ − L−)/2h carries
 * ≤ δ/h, ~1e-6/h typically; the truncation h²·|L'''|/6 is ~1e-5·|L'''|
 * at h = 3e-3 for parameters of size ~0.3-1. The bound is that typical
 * rounding, 1e-6/h, plus 2% of |g| for the truncation and the
 * cancellation in small differences. ReLU's kink is the one non-smooth
 * point: when an FFN input changes sign between the two evaluations
 * (relu_pieces), the quotient spans the kink and is O(|g|) off whatever
 * the backward; the check then retries with h/10 (and skips the element
 * in the rare case that still crosses). A wrong formula or a missing term
 * is O(|g|) off. */
static void fd_check(int which, float dropout)
{
    mlm_model *m = tiny_model(which, 40 + (uint64_t)which);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    tc->dropout = dropout;
    const t5_model *tm = tc->tm;
    t5_train_batch b = tiny_batch();
    t5_train_zero_grad(tc);
    fd_loss(tc, &b);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    size_t n = numel_of(tm);
    float *grad = malloc(n * sizeof *grad);
    memcpy(grad, tc->grad, n * sizeof *grad);
    double worst = 0;
    const char *worst_kind = "";
    int checked = 0, kinks = 0;
    rng r;
    rng_init(&r, 99, (uint64_t)which);
    for (size_t i = 0; i < tm->n_params; i++) {
        const param_desc *p = &tm->params[i];
        float *x = (float *)*p->slot;
        size_t off = (size_t)(x - tm->owned), big = 0;
        for (size_t e = 1; e < p->numel; e++)
            if (fabsf(grad[off + e]) > fabsf(grad[off + big]))
                big = e;
        for (int k = 0; k < 3; k++) {
            size_t e = k == 0 ? big : rng_u32(&r) % p->numel;
            float keep = x[e], h = 3e-3f, used = 0;
            double fd = NAN, g = grad[off + e];
            for (int tries = 0; tries < 2 && isnan(fd); tries++, h /= 10) {
                x[e] = keep + h;
                double lp = fd_loss(tc, &b);
                uint64_t piece = relu_pieces(tc, b.B, b.S, b.T);
                x[e] = keep - h;
                double lm = fd_loss(tc, &b);
                x[e] = keep;
                if (tm->d.act == ACT_RELU && piece != relu_pieces(tc, b.B, b.S, b.T)) {
                    kinks++;
                    continue;
                }
                fd = (lp - lm) / (2.0 * (double)h);
                used = h;
            }
            if (isnan(fd))
                continue;
            double tol = 1e-6 / used + 2e-2 * fabs(g);
            ck_assert_msg(fabs(fd - g) <= tol,
                          "%s (%s, dropout %g): d loss / d %s[%zu]: backward %.6g, finite "
                          "difference %.6g", styles[which], kind_of(p->name), (double)dropout,
                          p->name, e, g, fd);
            if (fabs(fd - g) / tol > worst) {
                worst = fabs(fd - g) / tol;
                worst_kind = kind_of(p->name);
            }
            checked++;
        }
    }
    fprintf(stderr, "t5 finite differences %s (dropout %g): %d elements of %zu tensors, worst "
                    "error %.2f of the tolerance (%s); %d differences spanned a ReLU kink\n",
            which ? "v1.1" : "v1.0", (double)dropout, checked, tm->n_params, worst, worst_kind,
            kinks);
    free(grad);
    t5_train_free(tc);
    mlm_model_free(m);
}

START_TEST(backward_matches_finite_differences)
{
    fd_check(_i, 0.0f);
}
END_TEST

/* The backward reuses the forward's recorded dropout masks: with (seed,
 * step) fixed the loss is a smooth function of the parameters again. */
START_TEST(backward_with_dropout_matches_finite_differences)
{
    fd_check(_i, 0.2f);
}
END_TEST

/* ---------------------------------------------------------------- dropout */

START_TEST(dropout_is_deterministic_and_seeded)
{
    mlm_model *m = tiny_model(_i, 3);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    tc->dropout = 0.3f;
    t5_train_batch b = tiny_batch();
    size_t n = numel_of(tc->tm);
    float l1, l2, l3, l4, l0;
    float *g1 = malloc(n * sizeof *g1);
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &l1), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    memcpy(g1, tc->grad, n * sizeof *g1);
    /* same (seed, step), two threads: the same loss and gradients, bit for bit */
    tc->ops.nthreads = 2;
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &l2), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    ck_assert(l1 == l2);
    ck_assert_int_eq(memcmp(g1, tc->grad, n * sizeof *g1), 0);
    tc->ops.nthreads = 1;
    ck_assert_int_eq(t5_train_forward(tc, &b, 12, 0, &l3), MLM_OK); /* other seed */
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 1, &l4), MLM_OK); /* other step */
    ck_assert(l3 != l1 && l4 != l1 && l3 != l4);
    t5_train_set_mode(tc, 0); /* model.eval(): no dropout */
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &l0), MLM_OK);
    ck_assert(l0 != l1);
    /* ... and dropout 0 in train mode is the same computation */
    t5_train_set_mode(tc, 1);
    tc->dropout = 0.0f;
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &l2), MLM_OK);
    ck_assert(l0 == l2);
    fprintf(stderr, "t5 dropout %s: loss %.6f (seed 11 step 0), %.6f (seed 12), %.6f (step 1), "
                    "%.6f without dropout\n", _i ? "v1.1" : "v1.0", (double)l1, (double)l3,
            (double)l4, (double)l0);
    free(g1);
    t5_train_free(tc);
    mlm_model_free(m);
}
END_TEST

/* Each site's mask keeps 1 − p of its elements (within 5σ over the
 * decoder's 3 blocks' probabilities, cross-attention included), and the
 * masks of different sites and steps differ. */
START_TEST(dropout_masks_keep_their_share)
{
    mlm_model *m = tiny_model(1, 6);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    const float p = 0.25f;
    tc->dropout = p;
    t5_train_batch b = tiny_batch();
    const t5_dims *d = &tc->tm->d;
    size_t P = (size_t)2 * d->H * 5 * 6, kept = 0, total = 0;
    float loss;
    uint8_t *first = malloc(P);
    for (int s = 0; s < 40; s++) {
        ck_assert_int_eq(t5_train_forward(tc, &b, 9, (uint64_t)s, &loss), MLM_OK);
        for (int l = 0; l < d->Ld; l++)
            for (size_t i = 0; i < P; i++) {
                kept += tc->dec.blk[l].ca.mask_p[i];
                total++;
            }
        if (s == 0)
            memcpy(first, tc->dec.blk[0].ca.mask_p, P);
        else if (s == 1)
            ck_assert(memcmp(first, tc->dec.blk[0].ca.mask_p, P) != 0);
    }
    ck_assert(memcmp(first, tc->dec.blk[1].ca.mask_p, P) != 0);
    double frac = (double)kept / (double)total, sigma = sqrt(p * (1 - p) / (double)total);
    ck_assert_msg(fabs(frac - (1 - p)) <= 5 * sigma, "kept %.4f, expected %.4f", frac, 1 - p);
    free(first);
    t5_train_free(tc);
    mlm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- eval forward */

/* model.eval(): the encoder's output is the inference encoder's, bit for
 * bit, and the logits at the labelled rows are the inference decoder's
 * within the error model at the top. */
START_TEST(eval_forward_matches_inference)
{
    mlm_model *m = tiny_model(_i, 4);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    t5_train_set_mode(tc, 0);
    t5_train_batch b = tiny_batch();
    const t5_model *tm = tc->tm;
    const t5_dims *d = &tm->d;
    int V = d->V, C = d->C;
    float loss;
    ck_assert_int_eq(t5_train_forward(tc, &b, 1, 0, &loss), MLM_OK);
    ck_assert_uint_eq(t5_train_labelled(tc), 8);
    float *enc = malloc((size_t)b.B * b.S * C * sizeof *enc);
    float *logits = malloc((size_t)b.B * b.T * V * sizeof *logits);
    ck_assert_int_eq(mlm_model_seq2seq_forward(m, 1, b.ids, b.mask, (size_t)b.B, (size_t)b.S,
                                               tc->dec_ids, NULL, (size_t)b.T, enc, logits),
                     MLM_OK);
    ck_assert_int_eq(memcmp(enc, tc->enc.out, (size_t)b.B * b.S * C * sizeof *enc), 0);
    double worst = 0, sum = 0;
    for (int r = 0; r < tc->n_rows; r++) {
        const float *ref = logits + (size_t)tc->rows[r] * V, *got = tc->logits + (size_t)r * V;
        const float *z = tc->z + (size_t)r * C;
        double mx = ref[0], e = 0;
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int k = 0; k < C; k++)
                s += fabs(z[k]) * fabs(tm->w.lm_head[(size_t)v * C + k]);
            double tol = 1e-4 + 2 * 4 * LAMBDA * sqrt((double)C) * U * s;
            double dv = fabs((double)got[v] - ref[v]);
            ck_assert_msg(dv <= tol, "row %d logit %d: %.9g vs inference %.9g", tc->rows[r], v,
                          (double)got[v], (double)ref[v]);
            worst = fmax(worst, dv / tol);
            mx = fmax(mx, ref[v]);
        }
        for (int v = 0; v < V; v++)
            e += exp(ref[v] - mx);
        sum += mx + log(e) - ref[tc->labels[r]];
    }
    /* the loss is the mean cross-entropy of the inference logits */
    ck_assert_msg(rel(loss, sum / tc->n_rows) <= 1e-5, "loss %.9g vs %.9g", (double)loss,
                  sum / tc->n_rows);
    fprintf(stderr, "t5 eval forward %s: encoder output identical, logits at %.2f of their "
                    "tolerance\n", _i ? "v1.1" : "v1.0", worst);
    free(enc);
    free(logits);
    t5_train_free(tc);
    mlm_model_free(m);
}
END_TEST

/* Forward, backward and AdamW together learn one batch: the loss falls to
 * ~0 and the inference path then predicts every label, teacher-forced. */
START_TEST(overfits_one_batch)
{
    mlm_model *m = tiny_model(_i, 8);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    adamw opt;
    ck_assert_int_eq(adamw_init(&opt, tc->tm->params, tc->tm->n_params, 0.9, 0.999, 1e-8, 0.0, 1),
                     MLM_OK);
    t5_train_batch b = tiny_batch();
    float first = 0, loss = 0;
    for (int step = 0; step < 150; step++) {
        t5_train_zero_grad(tc);
        ck_assert_int_eq(t5_train_forward(tc, &b, 1, (uint64_t)step, &loss), MLM_OK);
        if (step == 0)
            first = loss;
        ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
        adamw_step(&opt, tc->tm->owned, tc->grad, 2e-2);
    }
    t5_train_set_mode(tc, 0);
    ck_assert_int_eq(t5_train_forward(tc, &b, 1, 0, &loss), MLM_OK);
    fprintf(stderr, "t5 overfit one batch %s: loss %.4f -> %.5f\n", _i ? "v1.1" : "v1.0",
            (double)first, (double)loss);
    ck_assert_msg(loss < 0.05f, "loss %.5f after 150 steps on one batch (from %.4f)",
                  (double)loss, (double)first);
    int V = tc->tm->d.V;
    float *logits = malloc((size_t)b.B * b.T * V * sizeof *logits);
    ck_assert_int_eq(mlm_model_seq2seq_forward(m, 1, b.ids, b.mask, 2, 6, tc->dec_ids, NULL, 5,
                                               NULL, logits),
                     MLM_OK);
    for (int i = 0; i < b.B * b.T; i++) {
        if (tiny_labels[i] == -100)
            continue;
        int32_t best;
        ck_assert_int_eq(mlm_topk(logits + (size_t)i * V, (size_t)V, 1, &best, NULL), MLM_OK);
        ck_assert_int_eq(best, tiny_labels[i]);
    }
    free(logits);
    adamw_free(&opt);
    t5_train_free(tc);
    mlm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- edges */

/* Labels all ignored: NaN loss (as torch's mean over nothing) and nothing
 * added by the backward; token-weighted accumulation of two micro-batches
 * gives the whole batch's gradients; bad input is refused, naming it. */
/* zero_grad leaves the linears' gradients for the next backward to
 * overwrite (their products write them whole): after another batch's
 * gradients, the same batch gives the same gradients again (== lets a
 * zero's sign differ), as from zeroed memory; gradients asked for with no
 * backward since zero_grad are zeros; and a backward of nothing leaves
 * zeros too. */
START_TEST(zero_grad_then_overwrite)
{
    mlm_model *m = tiny_model(_i, 5);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    ck_assert_int_eq(tc->lazy, 1);   /* every parameter is a linear's or in tc->rest */
    size_t n = numel_of(tc->tm);
    t5_train_batch b = tiny_batch(), part = b;
    part.B = 1;
    float loss, *g1 = malloc(n * sizeof *g1);
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &loss), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    memcpy(g1, t5_train_grad(tc), n * sizeof *g1);
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &part, 12, 0, &loss), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 3.0f), MLM_OK);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += t5_train_grad(tc)[i] != g1[i];
    ck_assert_uint_gt(differ, n / 2);
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &loss), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    const float *g = t5_train_grad(tc);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(g[i] == g1[i], "gradient %zu: %g after another batch, %g from zeros", i,
                      (double)g[i], (double)g1[i]);
    t5_train_zero_grad(tc);   /* no backward follows */
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &loss), MLM_OK);
    g = t5_train_grad(tc);
    for (size_t i = 0; i < n; i++)
        ck_assert(g[i] == 0.0f);
    const int32_t none[10] = {-100, -100, -100, -100, -100, -100, -100, -100, -100, -100};
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    t5_train_zero_grad(tc);   /* a backward with no labelled token */
    b.labels = none;
    ck_assert_int_eq(t5_train_forward(tc, &b, 11, 0, &loss), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(tc->grad[i] == 0.0f);
    free(g1);
    t5_train_free(tc);
    mlm_model_free(m);
}
END_TEST

START_TEST(edge_cases)
{
    mlm_model *m = tiny_model(0, 12);
    t5_train *tc = NULL;
    ck_assert_int_eq(t5_train_new(m, 2, 6, 5, 1, &tc), MLM_OK);
    t5_train_set_mode(tc, 0);
    size_t n = numel_of(tc->tm);
    const int32_t none[10] = {-100, -100, -100, -100, -100, -100, -100, -100, -100, -100};
    t5_train_batch b = tiny_batch();
    b.labels = none;
    float loss;
    ck_assert_int_eq(t5_train_forward(tc, &b, 0, 0, &loss), MLM_OK);
    ck_assert(isnan(loss));
    ck_assert_uint_eq(t5_train_labelled(tc), 0);
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(tc->grad[i] == 0.0f);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_ERR_INVALID_ARGUMENT); /* spent */

    /* accumulation: rows 0 and 1 as two micro-batches, weighted by their
     * labelled tokens, against the whole batch */
    b = tiny_batch();
    float *full = malloc(n * sizeof *full);
    t5_train_zero_grad(tc);
    ck_assert_int_eq(t5_train_forward(tc, &b, 0, 0, &loss), MLM_OK);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_OK);
    memcpy(full, tc->grad, n * sizeof *full);
    t5_train_zero_grad(tc);
    for (int r = 0; r < 2; r++) {
        t5_train_batch part = {.ids = b.ids + r * 6, .mask = b.mask + r * 6,
                               .labels = b.labels + r * 5, .B = 1, .S = 6, .T = 5};
        ck_assert_int_eq(t5_train_forward(tc, &part, 0, 0, &loss), MLM_OK);
        ck_assert_int_eq(t5_train_backward(tc, (float)t5_train_labelled(tc) / 8.0f), MLM_OK);
    }
    double mx, e = test_rel_l2(tc->grad, full, n, &mx);
    ck_assert_msg(e <= 1e-5, "accumulated gradients differ from the batch's by %g", e);
    free(full);

    /* refused: a label or id outside the vocabulary, a batch over capacity */
    int32_t bad[10];
    memcpy(bad, tiny_labels, sizeof bad);
    bad[3] = 29;
    b.labels = bad;
    ck_assert_int_eq(t5_train_forward(tc, &b, 0, 0, &loss), MLM_ERR_RANGE);
    ck_assert(strstr(mlm_last_error(), "labels[3]") != NULL);
    b = tiny_batch();
    int32_t ids[12];
    memcpy(ids, tiny_ids, sizeof ids);
    ids[7] = -1;
    b.ids = ids;
    ck_assert_int_eq(t5_train_forward(tc, &b, 0, 0, &loss), MLM_ERR_RANGE);
    ck_assert(strstr(mlm_last_error(), "input_ids[7]") != NULL);
    b = tiny_batch();
    b.T = 6;
    ck_assert_int_eq(t5_train_forward(tc, &b, 0, 0, &loss), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(t5_train_backward(tc, 1.0f), MLM_ERR_INVALID_ARGUMENT);
    t5_train_free(tc);
    t5_train_free(NULL);
    mlm_model_free(m);

    /* an encoder model is not T5 */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/models/tiny-bert", test_root());
    mlm_model *bert = load_at(dir);
    ck_assert_int_eq(t5_train_new(bert, 1, 4, 4, 1, &tc), MLM_ERR_UNSUPPORTED);
    mlm_model_free(bert);
}
END_TEST

/* A checkpoint loaded zero-copy is made to own its parameters (the
 * mapping is read-only), with the same values, the tied head following. */
START_TEST(zero_copy_checkpoint_is_materialised)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/goldens/%s", test_root(), styles[0]);
    mlm_model *m = load_at(dir);
    t5_model *tm = m->impl;
    ck_assert_ptr_null(tm->owned);
    ck_assert_ptr_nonnull(tm->source);
    float first = tm->w.shared[5];
    ck_assert_int_eq(t5_own_params(m), MLM_OK);
    ck_assert_ptr_nonnull(tm->owned);
    ck_assert_ptr_null(tm->source);
    ck_assert(tm->w.shared == tm->owned && tm->w.shared[5] == first);
    ck_assert(tm->w.lm_head == tm->w.shared); /* tied */
    ck_assert_int_eq(t5_own_params(m), MLM_OK); /* nothing to do */
    mlm_model_free(m);
}
END_TEST

Suite *t5_train_suite(void)
{
    Suite *s = suite_create("t5_train");
    TCase *tc = tcase_create("t5_train");
    tcase_set_tags(tc, "numerics"); /* .ci/run: once per forced CPU path */
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, gradients_and_adamw_match_reference, 0, 2);
    tcase_add_loop_test(tc, bf16_steps_match_autocast, 0, 2);
    tcase_add_loop_test(tc, explicit_decoder_ids_equal_shifted_labels, 0, 2);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, 2);
    tcase_add_loop_test(tc, backward_with_dropout_matches_finite_differences, 0, 2);
    tcase_add_loop_test(tc, dropout_is_deterministic_and_seeded, 0, 2);
    tcase_add_test(tc, dropout_masks_keep_their_share);
    tcase_add_loop_test(tc, eval_forward_matches_inference, 0, 2);
    tcase_add_loop_test(tc, overfits_one_batch, 0, 2);
    tcase_add_loop_test(tc, zero_grad_then_overwrite, 0, 2);
    tcase_add_test(tc, edge_cases);
    tcase_add_test(tc, zero_copy_checkpoint_is_materialised);
    suite_add_tcase(s, tc);
    return s;
}
