/* T5Config and MT5Config (transformers configuration_t5.py,
 * configuration_mt5.py) from config.json, and the parameter table of
 * T5ForConditionalGeneration in state_dict order with HF's names and
 * T5PreTrainedModel._init_weights' initialisation. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/json.h"
#include "nn/t5.h"

/* A config.json is a few kilobytes; this bounds what a hostile one costs. */
#define T5_CONFIG_MAX_VALUES ((size_t)1 << 20)

/* ---------------------------------------------------------------- fields */

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* An integer member >= min, or `def` when absent (or null, when null_ok). */
static mlm_status get_int(const cJSON *o, const char *name, const char *key, int def, int min,
                          int null_ok, int *out)
{
    const cJSON *v = member(o, key);
    *out = def;
    if (!v || (null_ok && cJSON_IsNull(v)))
        return MLM_OK;
    int64_t i = 0;
    char num[32];
    if (json_int(v, &i) != 1)
        return err_set(MLM_ERR_FORMAT, "%s: '%s' must be an integer%s, found %s", name, key,
                       null_ok ? " or null" : "", json_describe(v, num));
    if (i < min || i > (1 << 30))
        return err_set(MLM_ERR_RANGE, "%s: '%s' is %lld; it must be in [%d, %d]", name, key,
                       (long long)i, min, 1 << 30);
    *out = (int)i;
    return MLM_OK;
}

static mlm_status get_float(const cJSON *o, const char *name, const char *key, double def,
                            double *out)
{
    const cJSON *v = member(o, key);
    *out = def;
    if (!v)
        return MLM_OK;
    if (!cJSON_IsNumber(v))
        return err_set(MLM_ERR_FORMAT, "%s: '%s' must be a number, found %s", name, key,
                       json_type_name(v));
    if (!isfinite(v->valuedouble))
        return err_set(MLM_ERR_RANGE, "%s: '%s' is not finite", name, key);
    *out = v->valuedouble;
    return MLM_OK;
}

static mlm_status get_bool(const cJSON *o, const char *name, const char *key, int def, int *out)
{
    const cJSON *v = member(o, key);
    *out = def;
    if (!v)
        return MLM_OK;
    if (!cJSON_IsBool(v))
        return err_set(MLM_ERR_FORMAT, "%s: '%s' must be true or false, found %s", name, key,
                       json_type_name(v));
    *out = cJSON_IsTrue(v);
    return MLM_OK;
}

static mlm_status get_string(const cJSON *o, const char *name, const char *key, const char *def,
                             const char **out)
{
    const cJSON *v = member(o, key);
    *out = def;
    if (!v)
        return MLM_OK;
    if (!cJSON_IsString(v))
        return err_set(MLM_ERR_FORMAT, "%s: '%s' must be a string, found %s", name, key,
                       json_type_name(v));
    *out = v->valuestring;
    return MLM_OK;
}

/* ACT2FN names the FFN may use; the gelu variants are one of two formulas. */
static int t5_act(const char *name, act_fn *out)
{
    static const struct {
        const char *name;
        act_fn act;
    } acts[] = {{"relu", ACT_RELU},          {"gelu", ACT_GELU},
                {"gelu_python", ACT_GELU},   {"gelu_new", ACT_GELU_NEW},
                {"gelu_pytorch_tanh", ACT_GELU_NEW}, {"gelu_fast", ACT_GELU_NEW}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(name, acts[i].name) == 0) {
            *out = acts[i].act;
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- effective document */

/* doc[key] = n (taken), replacing a member of that name. */
static mlm_status set_member(cJSON *doc, const char *key, cJSON *n)
{
    if (!n)
        return err_oom();
    if (member(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, n);
    else
        cJSON_AddItemToObject(doc, key, n);
    return MLM_OK;
}

static mlm_status set_number(cJSON *doc, const char *key, double v)
{
    return set_member(doc, key, cJSON_CreateNumber(v));
}

static mlm_status set_string(cJSON *doc, const char *key, const char *v)
{
    return set_member(doc, key, cJSON_CreateString(v));
}

static mlm_status set_bool(cJSON *doc, const char *key, int v)
{
    return set_member(doc, key, cJSON_CreateBool(v));
}

/* A token id member: kept as it is (an int, a list or null), else the
 * class default (def < 0: none). */
static mlm_status default_token(cJSON *doc, const char *key, int def)
{
    if (member(doc, key) || def < 0)
        return MLM_OK;
    return set_number(doc, key, def);
}

mlm_status t5_config_parse(const char *json, size_t len, const char *name, t5_model *tm)
{
    cJSON *doc = NULL;
    mlm_status st = json_parse(json, len, 0, name, T5_CONFIG_MAX_VALUES, &doc);
    if (st != MLM_OK)
        return st;
    if (!cJSON_IsObject(doc)) {
        st = err_set(MLM_ERR_FORMAT, "%s: expected a JSON object, found %s", name,
                     json_type_name(doc));
        cJSON_Delete(doc);
        return st;
    }
    const char *type = NULL, *ffp = NULL, *act_name = NULL;
    st = get_string(doc, name, "model_type", NULL, &type);
    if (st == MLM_OK && (!type || (strcmp(type, "t5") != 0 && strcmp(type, "mt5") != 0)))
        st = err_set(MLM_ERR_UNSUPPORTED, "%s: 'model_type' is %s%s%s; t5 or mt5 expected", name,
                     type ? "'" : "", type ? type : "missing", type ? "'" : "");
    if (st != MLM_OK) {
        cJSON_Delete(doc);
        return st;
    }
    int mt5 = strcmp(type, "mt5") == 0;
    snprintf(tm->type, sizeof tm->type, "%s", type);
    t5_dims *d = &tm->d;
    double eps = 0, factor = 0, dropout = 0, cls_dropout = 0;
    int gated = 0, tied = 0, dec_layers = -1, use_cache = 1;
    /* T5Config() / MT5Config() defaults. */
#define TRY(x)                                                                                    \
    if (st == MLM_OK)                                                                             \
    st = (x)
    TRY(get_int(doc, name, "vocab_size", mt5 ? 250112 : 32128, 1, 0, &d->V));
    TRY(get_int(doc, name, "d_model", 512, 1, 0, &d->C));
    TRY(get_int(doc, name, "d_kv", 64, 1, 0, &d->D));
    TRY(get_int(doc, name, "d_ff", mt5 ? 1024 : 2048, 1, 0, &d->F));
    TRY(get_int(doc, name, "num_layers", mt5 ? 8 : 6, 1, 0, &d->Le));
    TRY(get_int(doc, name, "num_decoder_layers", -1, 1, 1, &dec_layers));
    TRY(get_int(doc, name, "num_heads", mt5 ? 6 : 8, 1, 0, &d->H));
    TRY(get_int(doc, name, "relative_attention_num_buckets", 32, 2, 0, &d->NB));
    TRY(get_int(doc, name, "relative_attention_max_distance", 128, 1, 0, &d->max_dist));
    TRY(get_float(doc, name, "dropout_rate", 0.1, &dropout));
    TRY(get_float(doc, name, "classifier_dropout", 0.0, &cls_dropout));
    TRY(get_float(doc, name, "layer_norm_epsilon", 1e-6, &eps));
    TRY(get_float(doc, name, "initializer_factor", 1.0, &factor));
    TRY(get_string(doc, name, "feed_forward_proj", mt5 ? "gated-gelu" : "relu", &ffp));
    TRY(get_bool(doc, name, "tie_word_embeddings", !mt5, &tied));
    TRY(get_bool(doc, name, "use_cache", 1, &use_cache));
    if (st == MLM_OK && !(eps > 0))
        st = err_set(MLM_ERR_RANGE, "%s: 'layer_norm_epsilon' is %g; it must be positive", name,
                     eps);
    if (st == MLM_OK && !(factor >= 0))
        st = err_set(MLM_ERR_RANGE, "%s: 'initializer_factor' is %g; it must be >= 0", name,
                     factor);
    if (st == MLM_OK && (size_t)d->H * (size_t)d->D > (1u << 20))
        st = err_set(MLM_ERR_RANGE, "%s: num_heads x d_kv = %d x %d is too large", name, d->H,
                     d->D);
    /* T5Config.__init__: "gated-ACT" or "ACT"; "gated-gelu" means gelu_new. */
    char act_buf[64] = "";
    if (st == MLM_OK) {
        const char *dash = strchr(ffp, '-');
        int ok = strlen(ffp) < sizeof act_buf;
        if (ok && dash) {
            ok = (size_t)(dash - ffp) == 5 && strncmp(ffp, "gated", 5) == 0 &&
                 !strchr(dash + 1, '-');
            gated = 1;
        }
        if (!ok)
            st = err_set(MLM_ERR_RANGE,
                         "%s: 'feed_forward_proj': %s is not a valid activation function of the "
                         "dense layer. Please make sure `feed_forward_proj` is of the format "
                         "`gated-{ACT_FN}` or `{ACT_FN}`, e.g. 'gated-gelu' or 'relu'",
                         name, ffp);
        else
            snprintf(act_buf, sizeof act_buf, "%s",
                     strcmp(ffp, "gated-gelu") == 0 ? "gelu_new" : dash ? dash + 1 : ffp);
    }
    /* Saved configs also carry dense_act_fn and is_gated_act, which
     * PretrainedConfig sets after T5Config.__init__ derived them: they win. */
    TRY(get_string(doc, name, "dense_act_fn", act_buf, &act_name));
    TRY(get_bool(doc, name, "is_gated_act", gated, &gated));
    if (st == MLM_OK && !t5_act(act_name, &d->act))
        st = err_set(MLM_ERR_UNSUPPORTED,
                     "%s: the FFN's activation '%s' is not supported (relu, gelu, gelu_new, "
                     "gelu_pytorch_tanh, gelu_fast are)",
                     name, act_name);
    if (st == MLM_OK && (dropout < 0 || dropout >= 1))
        st = err_set(MLM_ERR_RANGE, "%s: 'dropout_rate' is %g; it must be in [0, 1)", name,
                     dropout);
    /* The effective values, as save_pretrained writes every T5Config attribute. */
    char act_copy[64];
    if (st == MLM_OK)
        snprintf(act_copy, sizeof act_copy, "%s", act_name);
    d->Ld = dec_layers < 0 ? d->Le : dec_layers;
    d->HD = d->H * d->D;
    d->eps = (float)eps;
    d->gated = gated;
    d->tied = tied;
    d->init_factor = (float)factor;
    TRY(set_number(doc, "vocab_size", d->V));
    TRY(set_number(doc, "d_model", d->C));
    TRY(set_number(doc, "d_kv", d->D));
    TRY(set_number(doc, "d_ff", d->F));
    TRY(set_number(doc, "num_layers", d->Le));
    TRY(set_number(doc, "num_decoder_layers", d->Ld));
    TRY(set_number(doc, "num_heads", d->H));
    TRY(set_number(doc, "relative_attention_num_buckets", d->NB));
    TRY(set_number(doc, "relative_attention_max_distance", d->max_dist));
    TRY(set_number(doc, "dropout_rate", dropout));
    TRY(set_number(doc, "classifier_dropout", cls_dropout));
    TRY(set_number(doc, "layer_norm_epsilon", eps));
    TRY(set_number(doc, "initializer_factor", factor));
    if (st == MLM_OK && !member(doc, "feed_forward_proj"))
        st = set_string(doc, "feed_forward_proj", ffp);
    TRY(set_string(doc, "dense_act_fn", act_copy));
    TRY(set_bool(doc, "is_gated_act", gated));
    TRY(set_bool(doc, "use_cache", use_cache));
    TRY(set_bool(doc, "is_encoder_decoder", 1));
    TRY(default_token(doc, "pad_token_id", 0));
    TRY(default_token(doc, "eos_token_id", 1));
    TRY(default_token(doc, "decoder_start_token_id", mt5 ? 0 : -1));
    if (st == MLM_OK && !tied && !member(doc, "tie_word_embeddings"))
        st = set_bool(doc, "tie_word_embeddings", 0);
#undef TRY
    if (st != MLM_OK) {
        cJSON_Delete(doc);
        return st;
    }
    tm->config = doc;
    return MLM_OK;
}

/* ---------------------------------------------------------------- buckets */

int t5_bucket(int rel, int bidirectional, int num_buckets, int max_distance)
{
    int ret = 0;
    if (bidirectional) {
        num_buckets /= 2;
        if (rel > 0)
            ret += num_buckets;
        rel = rel < 0 ? -rel : rel;
    } else {
        rel = rel < 0 ? -rel : 0;
    }
    int max_exact = num_buckets / 2;
    if (rel < max_exact)
        return ret + rel;
    /* torch: log(rel.float() / max_exact) / math.log(max_distance / max_exact)
     * * (num_buckets - max_exact), each operation in float32 (the Python
     * scalars rounded to float), then .to(long) truncates. log is rounded
     * once from double, as torch's log rounds for the values that decide a
     * bucket (exact powers of two at the log-spaced edges). */
    float x = (float)rel / (float)max_exact;
    float lg = (float)log((double)x);
    float den = (float)log((double)max_distance / (double)max_exact);
    float v = lg / den * (float)(num_buckets - max_exact);
    long large = (long)v;
    large += max_exact;
    if (large > num_buckets - 1)
        large = num_buckets - 1;
    return ret + (int)large;
}

/* ---------------------------------------------------------------- parameters */

typedef struct table {
    param_desc *p;
    size_t n;
} table;

static void add(table *t, const float **slot, param_init init, float std, int64_t rows,
                int64_t cols, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void add(table *t, const float **slot, param_init init, float std, int64_t rows,
                int64_t cols, const char *fmt, ...)
{
    param_desc *p = &t->p[t->n++];
    va_list ap;
    va_start(ap, fmt);
    param_set(p, slot, init, std, rows, cols, fmt, ap);
    va_end(ap);
    /* T5LayerNorm is not an nn.LayerNorm, but Trainer.get_decay_parameter_names
     * (transformers 4.56 trainer.py) also drops the names matching
     * r"_norm(?:$|\.)" — "layer_norm.weight", "final_layer_norm.weight" — so
     * the RMS norms' weights (the INIT_CONST ones) are no-decay, as
     * param_set already marks them. */
    p->is_layernorm = init == INIT_CONST;
}

static void attention(table *t, t5_attn_w *a, const t5_dims *d, const char *pre)
{
    float f = d->init_factor;
    add(t, &a->q, INIT_NORMAL, f / sqrtf((float)d->C * (float)d->D), d->HD, d->C, "%s.q.weight",
        pre);
    t->p[t->n - 1].qslot = &a->qw_q;
    add(t, &a->k, INIT_NORMAL, f / sqrtf((float)d->C), d->HD, d->C, "%s.k.weight", pre);
    t->p[t->n - 1].qslot = &a->qw_k;
    add(t, &a->v, INIT_NORMAL, f / sqrtf((float)d->C), d->HD, d->C, "%s.v.weight", pre);
    t->p[t->n - 1].qslot = &a->qw_v;
    add(t, &a->o, INIT_NORMAL, f / sqrtf((float)d->HD), d->C, d->HD, "%s.o.weight", pre);
    t->p[t->n - 1].qslot = &a->qw_o;
}

static void ffn(table *t, t5_block_w *b, const t5_dims *d, const char *pre)
{
    float f = d->init_factor;
    if (d->gated) {
        add(t, &b->wi, INIT_NORMAL, f / sqrtf((float)d->C), d->F, d->C,
            "%s.DenseReluDense.wi_0.weight", pre);
        t->p[t->n - 1].qslot = &b->qw_wi;
        add(t, &b->wi1, INIT_NORMAL, f / sqrtf((float)d->C), d->F, d->C,
            "%s.DenseReluDense.wi_1.weight", pre);
        t->p[t->n - 1].qslot = &b->qw_wi1;
    } else {
        add(t, &b->wi, INIT_NORMAL, f / sqrtf((float)d->C), d->F, d->C,
            "%s.DenseReluDense.wi.weight", pre);
        t->p[t->n - 1].qslot = &b->qw_wi;
    }
    add(t, &b->wo, INIT_NORMAL, f / sqrtf((float)d->F), d->C, d->F, "%s.DenseReluDense.wo.weight",
        pre);
    t->p[t->n - 1].qslot = &b->qw_wo;
}

static void stack(table *t, t5_weights *w, const t5_dims *d, int decoder)
{
    const char *s = decoder ? "decoder" : "encoder";
    int L = decoder ? d->Ld : d->Le;
    float f = d->init_factor;
    char pre[96];
    for (int l = 0; l < L; l++) {
        t5_block_w *b = decoder ? &w->dec[l] : &w->enc[l];
        snprintf(pre, sizeof pre, "%s.block.%d.layer.0.SelfAttention", s, l);
        attention(t, &b->sa, d, pre);
        if (l == 0) {
            add(t, decoder ? &w->dec_rel : &w->enc_rel, INIT_NORMAL, f / sqrtf((float)d->C), d->NB,
                d->H, "%s.relative_attention_bias.weight", pre);
            /* No weight decay, though a normal init: Trainer.get_decay_parameter_names
             * (transformers 4.56 trainer.py) drops every name that matches
             * r"bias" (lowercased), and "relative_attention_bias" does. */
            t->p[t->n - 1].no_decay = 1;
        }
        add(t, &b->ln_sa, INIT_CONST, f, d->C, 0, "%s.block.%d.layer.0.layer_norm.weight", s, l);
        int ff = 1;
        if (decoder) {
            snprintf(pre, sizeof pre, "%s.block.%d.layer.1.EncDecAttention", s, l);
            attention(t, &b->ca, d, pre);
            add(t, &b->ln_ca, INIT_CONST, f, d->C, 0, "%s.block.%d.layer.1.layer_norm.weight", s,
                l);
            ff = 2;
        }
        snprintf(pre, sizeof pre, "%s.block.%d.layer.%d", s, l, ff);
        ffn(t, b, d, pre);
        add(t, &b->ln_ff, INIT_CONST, f, d->C, 0, "%s.block.%d.layer.%d.layer_norm.weight", s, l,
            ff);
    }
    add(t, decoder ? &w->dec_ln : &w->enc_ln, INIT_CONST, f, d->C, 0,
        "%s.final_layer_norm.weight", s);
}

mlm_status t5_build_params(t5_model *tm)
{
    const t5_dims *d = &tm->d;
    /* shared, lm_head, 2 biases, 2 final norms; encoder blocks 4 + 3 + 2, decoder 8 + 3 + 3 */
    size_t cap = 6 + 9 * (size_t)d->Le + 14 * (size_t)d->Ld;
    table t = {mem_calloc(cap, sizeof(param_desc)), 0};
    tm->w.enc = mem_calloc((size_t)d->Le, sizeof *tm->w.enc);
    tm->w.dec = mem_calloc((size_t)d->Ld, sizeof *tm->w.dec);
    if (!t.p || !tm->w.enc || !tm->w.dec) {
        mem_free(t.p);
        return err_oom();
    }
    float f = d->init_factor;
    add(&t, &tm->w.shared, INIT_NORMAL, f, d->V, d->C, "shared.weight");
    t.p[t.n - 1].qslot = &tm->w.qw_shared;
    stack(&t, &tm->w, d, 0);
    stack(&t, &tm->w, d, 1);
    if (!d->tied)
        add(&t, &tm->w.lm_head, INIT_NORMAL, f, d->V, d->C, "lm_head.weight");
    if (!d->tied)
        t.p[t.n - 1].qslot = &tm->w.qw_lm_head;
    tm->params = t.p;
    tm->n_params = t.n;
    return MLM_OK;
}
