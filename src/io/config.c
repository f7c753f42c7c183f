#include "io/config.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "io/strbuf.h"

/* A config.json is a few kilobytes; these bound what a hostile one costs
 * (a cJSON node is ~80 bytes of heap; id2label of 100,000 labels fits). */
#define CONFIG_MAX_BYTES (16u << 20)
#define CONFIG_MAX_VALUES ((size_t)1 << 20)

static const char *const type_names[] = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert"};

static const char *const act_names[ACT_COUNT] = {
    "gelu",       "gelu_new",   "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate",
    "gelu_python", "gelu_10",   "quick_gelu",        "relu",      "relu2",
    "relu6",      "leaky_relu", "silu",              "swish",     "mish",
    "tanh",       "sigmoid",    "linear",            "laplace",
};

const char *model_type_name(model_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?";
}

int model_type_from_name(const char *name, model_type *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (model_type)i;
            return 1;
        }
    return 0;
}

const char *act_name(act_fn a) { return (unsigned)a < ACT_COUNT ? act_names[a] : "?"; }

int act_from_name(const char *name, act_fn *out)
{
    for (int i = 0; i < ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) {
            *out = (act_fn)i;
            return 1;
        }
    return 0;
}

static int is_distil(const model_config *c) { return c->type == MODEL_DISTILBERT; }

/* RobertaConfig, XLMRobertaConfig and CamembertConfig pass pad 1, bos 0,
 * eos 2 to PretrainedConfig; BertConfig only pad 0. */
static int is_roberta_family(model_type t)
{
    return t == MODEL_ROBERTA || t == MODEL_XLM_ROBERTA || t == MODEL_CAMEMBERT;
}

void config_init(model_config *cfg, model_type type)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->type = type;
    cfg->vocab_size = type == MODEL_ROBERTA ? 50265 : 30522;
    cfg->hidden_size = 768;
    cfg->num_hidden_layers = type == MODEL_DISTILBERT ? 6 : 12;
    cfg->num_attention_heads = 12;
    cfg->intermediate_size = 3072;
    cfg->max_position_embeddings = 512;
    cfg->type_vocab_size = type == MODEL_DISTILBERT ? 0 : 2;
    cfg->layer_norm_eps = 1e-12;
    cfg->pad_token_id = is_roberta_family(type) ? 1 : 0;
    cfg->bos_token_id = is_roberta_family(type) ? 0 : -1;
    cfg->eos_token_id = is_roberta_family(type) ? 2 : -1;
    cfg->hidden_act = ACT_GELU;
    cfg->hidden_dropout_prob = 0.1;
    cfg->attention_probs_dropout_prob = 0.1;
    cfg->initializer_range = 0.02;
    cfg->tie_word_embeddings = true;
}

void config_free(model_config *cfg)
{
    for (size_t i = 0; i < cfg->n_architectures; i++)
        mem_free(cfg->architectures[i]);
    for (size_t i = 0; i < cfg->n_extra; i++) {
        mem_free(cfg->extra_keys[i]);
        mem_free(cfg->extra_values[i]);
    }
    mem_free(cfg->architectures);
    mem_free(cfg->extra_keys);
    mem_free(cfg->extra_values);
    cfg->architectures = cfg->extra_keys = cfg->extra_values = NULL;
    cfg->n_architectures = cfg->n_extra = 0;
}

mlm_status config_set_architectures(model_config *cfg, const char *const *names, size_t n)
{
    char **a = mem_calloc(n ? n : 1, sizeof *a);
    if (!a)
        return err_oom();
    for (size_t i = 0; i < n; i++)
        if (!(a[i] = mem_strdup(names[i]))) {
            for (size_t j = 0; j < i; j++)
                mem_free(a[j]);
            mem_free(a);
            return err_oom();
        }
    for (size_t i = 0; i < cfg->n_architectures; i++)
        mem_free(cfg->architectures[i]);
    mem_free(cfg->architectures);
    cfg->architectures = a;
    cfg->n_architectures = n;
    return MLM_OK;
}

/* ---------------------------------------------------------------- fields */

typedef enum field_kind { K_INT, K_FLOAT, K_TOKEN, K_BOOL, K_ACT, K_POSITION, K_SINUSOIDAL } field_kind;

typedef struct field_spec {
    const char *key;
    field_kind kind;
    size_t off;
} field_spec;

#define F(key, kind, member) {key, kind, offsetof(model_config, member)}

static const field_spec bert_fields[] = {
    F("vocab_size", K_INT, vocab_size),
    F("hidden_size", K_INT, hidden_size),
    F("num_hidden_layers", K_INT, num_hidden_layers),
    F("num_attention_heads", K_INT, num_attention_heads),
    F("intermediate_size", K_INT, intermediate_size),
    F("max_position_embeddings", K_INT, max_position_embeddings),
    F("type_vocab_size", K_INT, type_vocab_size),
    F("layer_norm_eps", K_FLOAT, layer_norm_eps),
    F("hidden_act", K_ACT, hidden_act),
    F("hidden_dropout_prob", K_FLOAT, hidden_dropout_prob),
    F("attention_probs_dropout_prob", K_FLOAT, attention_probs_dropout_prob),
    F("initializer_range", K_FLOAT, initializer_range),
    F("position_embedding_type", K_POSITION, type),
    F("pad_token_id", K_TOKEN, pad_token_id),
    F("bos_token_id", K_TOKEN, bos_token_id),
    F("eos_token_id", K_TOKEN, eos_token_id),
    F("tie_word_embeddings", K_BOOL, tie_word_embeddings),
};

/* DistilBertConfig's own names, then its attribute_map aliases
 * (hidden_size -> dim, ...), which HF's __setattr__ applies after the
 * constructor's arguments, so an alias wins over the own name. */
static const field_spec distil_fields[] = {
    F("vocab_size", K_INT, vocab_size),
    F("dim", K_INT, hidden_size),
    F("n_layers", K_INT, num_hidden_layers),
    F("n_heads", K_INT, num_attention_heads),
    F("hidden_dim", K_INT, intermediate_size),
    F("max_position_embeddings", K_INT, max_position_embeddings),
    F("activation", K_ACT, hidden_act),
    F("dropout", K_FLOAT, hidden_dropout_prob),
    F("attention_dropout", K_FLOAT, attention_probs_dropout_prob),
    F("initializer_range", K_FLOAT, initializer_range),
    F("sinusoidal_pos_embds", K_SINUSOIDAL, type),
    F("pad_token_id", K_TOKEN, pad_token_id),
    F("bos_token_id", K_TOKEN, bos_token_id),
    F("eos_token_id", K_TOKEN, eos_token_id),
    F("tie_word_embeddings", K_BOOL, tie_word_embeddings),
};

static const field_spec distil_aliases[] = {
    F("hidden_size", K_INT, hidden_size),
    F("num_hidden_layers", K_INT, num_hidden_layers),
    F("num_attention_heads", K_INT, num_attention_heads),
};

#undef F

static const field_spec *fields_of(const model_config *c, size_t *n)
{
    if (is_distil(c)) {
        *n = sizeof distil_fields / sizeof distil_fields[0];
        return distil_fields;
    }
    *n = sizeof bert_fields / sizeof bert_fields[0];
    return bert_fields;
}

/* The field `key` sets, if any; *alias tells a DistilBERT alias. */
static const field_spec *find_field(const model_config *c, const char *key, int *alias)
{
    size_t n;
    const field_spec *f = fields_of(c, &n);
    *alias = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].key, key) == 0)
            return &f[i];
    for (size_t i = 0; is_distil(c) && i < sizeof distil_aliases / sizeof distil_aliases[0]; i++)
        if (strcmp(distil_aliases[i].key, key) == 0) {
            *alias = 1;
            return &distil_aliases[i];
        }
    return NULL;
}

static mlm_status wrong_type(const char *name, const char *key, const cJSON *v, const char *want)
{
    return err_set(MLM_ERR_FORMAT, "%s: '%s' must be %s, found %s", name, key, want, json_type_name(v));
}

/* cJSON keeps numbers as doubles, so 768.0 reads as 768 here (Python would
 * have a float), and anything from 2^53 up is out of range anyway. */
static mlm_status read_int(const char *name, const char *key, const cJSON *v, int *out)
{
    int64_t i = 0;
    int r = json_int(v, &i);
    char num[32];
    if (r == 0)
        return cJSON_IsNumber(v) ? err_set(MLM_ERR_FORMAT, "%s: '%s' must be an integer, found %s", name,
                                           key, json_describe(v, num))
                                 : wrong_type(name, key, v, "an integer");
    if (r < 0 || i > INT_MAX || i < INT_MIN)
        return err_set(MLM_ERR_RANGE, "%s: '%s' is %s, outside the int range", name, key,
                       json_describe(v, num));
    *out = (int)i;
    return MLM_OK;
}

static mlm_status read_field(model_config *c, const char *name, const field_spec *f, const cJSON *v)
{
    char *base = (char *)c;
    switch (f->kind) {
    case K_INT:
        return read_int(name, f->key, v, (int *)(void *)(base + f->off));
    case K_TOKEN:
        if (cJSON_IsNull(v)) {
            *(int *)(void *)(base + f->off) = -1;
            return MLM_OK;
        }
        return cJSON_IsNumber(v) ? read_int(name, f->key, v, (int *)(void *)(base + f->off))
                                 : wrong_type(name, f->key, v, "an integer or null");
    case K_FLOAT:
        if (!cJSON_IsNumber(v))
            return wrong_type(name, f->key, v, "a number");
        if (!isfinite(v->valuedouble))
            return err_set(MLM_ERR_RANGE, "%s: '%s' is not finite", name, f->key);
        *(double *)(void *)(base + f->off) = v->valuedouble;
        return MLM_OK;
    case K_BOOL:
        if (!cJSON_IsBool(v))
            return wrong_type(name, f->key, v, "true or false");
        *(bool *)(void *)(base + f->off) = cJSON_IsTrue(v);
        return MLM_OK;
    case K_ACT:
        if (!cJSON_IsString(v))
            return wrong_type(name, f->key, v, "an activation name");
        if (!act_from_name(v->valuestring, &c->hidden_act))
            return err_set(MLM_ERR_UNSUPPORTED, "%s: '%s': unknown activation '%s'", name, f->key,
                           v->valuestring);
        return MLM_OK;
    case K_POSITION:
        if (!cJSON_IsString(v))
            return wrong_type(name, f->key, v, "a string");
        if (strcmp(v->valuestring, "absolute") != 0)
            return err_set(MLM_ERR_UNSUPPORTED, "%s: '%s' is '%s'; only \"absolute\" is supported", name,
                           f->key, v->valuestring);
        return MLM_OK;
    case K_SINUSOIDAL:
        if (!cJSON_IsBool(v))
            return wrong_type(name, f->key, v, "true or false");
        if (cJSON_IsTrue(v))
            return err_set(MLM_ERR_UNSUPPORTED,
                           "%s: '%s' is true; sinusoidal position embeddings are not supported", name,
                           f->key);
        return MLM_OK;
    }
    return err_set(MLM_ERR_INTERNAL, "%s: field kind %d", name, (int)f->kind);
}

static mlm_status read_architectures(model_config *c, const char *name, const cJSON *v)
{
    if (cJSON_IsNull(v))
        return MLM_OK;
    if (!cJSON_IsArray(v))
        return wrong_type(name, "architectures", v, "an array of strings");
    size_t n = json_len(v), i = 0;
    const char **names = mem_alloc((n ? n : 1) * sizeof *names);
    if (!names)
        return err_oom();
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            mem_free(names);
            return wrong_type(name, "architectures", e, "an array of strings");
        }
        names[i++] = e->valuestring;
    }
    mlm_status s = config_set_architectures(c, names, n);
    mem_free(names);
    return s;
}

/* Keys that change what the model computes and that we do not implement. */
static mlm_status reject_unsupported(const char *name, const char *key, const cJSON *v)
{
    if ((strcmp(key, "is_decoder") == 0 || strcmp(key, "add_cross_attention") == 0) && cJSON_IsTrue(v))
        return err_set(MLM_ERR_UNSUPPORTED, "%s: '%s' is true; only encoders are supported", name, key);
    return MLM_OK;
}

/* Kept as json.dumps would write it back; numbers as json_format_py_number
 * says (1.0 comes back as 1: cJSON keeps no number text). */
static mlm_status keep_extra(model_config *c, const cJSON *m)
{
    strbuf sb = {0};
    json_put_py_value(&sb, m, 1);
    char *value, *key = mem_strdup(m->string);
    mlm_status s = sb_take(&sb, &value, NULL);
    if (s != MLM_OK || !key) {
        mem_free(key);
        if (s == MLM_OK)
            mem_free(value);
        return err_oom();
    }
    c->extra_keys[c->n_extra] = key;
    c->extra_values[c->n_extra] = value;
    c->n_extra++;
    return MLM_OK;
}

static mlm_status read_model_type(const cJSON *root, const char *name, model_type *t)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!v)
        return err_set(MLM_ERR_FORMAT, "%s: no 'model_type'", name);
    if (!cJSON_IsString(v))
        return wrong_type(name, "model_type", v, "a string");
    if (!model_type_from_name(v->valuestring, t))
        return err_set(MLM_ERR_UNSUPPORTED,
                       "%s: 'model_type' is '%s'; supported: bert, roberta, xlm-roberta, camembert, "
                       "distilbert",
                       name, v->valuestring);
    return MLM_OK;
}

static mlm_status read_members(model_config *c, const char *name, const cJSON *root)
{
    size_t n = json_len(root);
    c->extra_keys = mem_calloc(n ? n : 1, sizeof *c->extra_keys);
    c->extra_values = mem_calloc(n ? n : 1, sizeof *c->extra_values);
    if (!c->extra_keys || !c->extra_values)
        return err_oom();
    /* Own names first, aliases after, as HF applies them. */
    for (int pass = 0; pass < 2; pass++)
        for (const cJSON *m = root->child; m; m = m->next) {
            int alias;
            const field_spec *f = find_field(c, m->string, &alias);
            mlm_status s = MLM_OK;
            if (f && alias == pass)
                s = read_field(c, name, f, m);
            else if (pass == 1 || f)
                continue;
            else if (strcmp(m->string, "architectures") == 0)
                s = read_architectures(c, name, m);
            else if (strcmp(m->string, "model_type") != 0 &&
                     (s = reject_unsupported(name, m->string, m)) == MLM_OK)
                s = keep_extra(c, m);
            if (s != MLM_OK)
                return s;
        }
    return MLM_OK;
}

mlm_status config_parse(const char *json, size_t len, const char *name, model_config *cfg)
{
    config_init(cfg, MODEL_BERT);
    cJSON *root;
    mlm_status s = json_parse(json, len, 0, name, CONFIG_MAX_VALUES, &root);
    if (s != MLM_OK)
        return s;
    model_type t = MODEL_BERT;
    if (!cJSON_IsObject(root))
        s = err_set(MLM_ERR_FORMAT, "%s: expected a JSON object, found %s", name, json_type_name(root));
    if (s == MLM_OK)
        s = read_model_type(root, name, &t);
    if (s == MLM_OK) {
        config_init(cfg, t);
        s = read_members(cfg, name, root);
    }
    if (s == MLM_OK)
        s = config_validate(cfg, name);
    cJSON_Delete(root);
    if (s != MLM_OK)
        config_free(cfg);
    return s;
}

mlm_status config_load(const char *path, model_config *cfg)
{
    config_init(cfg, MODEL_BERT);
    char *text;
    size_t len;
    mlm_status s = file_read_all(path, CONFIG_MAX_BYTES, &text, &len);
    if (s != MLM_OK)
        return s;
    s = config_parse(text, len, path, cfg);
    mem_free(text);
    return s;
}

/* ---------------------------------------------------------------- checks */

static const char *key_of(const model_config *c, size_t off)
{
    size_t n;
    const field_spec *f = fields_of(c, &n);
    for (size_t i = 0; i < n; i++)
        if (f[i].off == off)
            return f[i].key;
    return "?";
}

#define KEY(member) key_of(c, offsetof(model_config, member))

static mlm_status check_min(const model_config *c, const char *name, size_t off, int v, int min)
{
    if (v < min)
        return err_set(MLM_ERR_RANGE, "%s: '%s' is %d; it must be at least %d", name, key_of(c, off), v,
                       min);
    return MLM_OK;
}

static mlm_status check_prob(const model_config *c, const char *name, size_t off, double p)
{
    if (!(p >= 0 && p < 1))
        return err_set(MLM_ERR_RANGE, "%s: '%s' is %g; a dropout probability must be in [0, 1)", name,
                       key_of(c, off), p);
    return MLM_OK;
}

static mlm_status check_token(const model_config *c, const char *name, size_t off, int id)
{
    if (id < -1 || id >= c->vocab_size)
        return err_set(MLM_ERR_RANGE, "%s: '%s' is %d, outside the vocabulary [0, %d)", name,
                       key_of(c, off), id, c->vocab_size);
    return MLM_OK;
}

mlm_status config_validate(const model_config *c, const char *name)
{
    mlm_status s;
#define TRY(x)                                                                                       \
    if ((s = (x)) != MLM_OK)                                                                         \
    return s
    TRY(check_min(c, name, offsetof(model_config, vocab_size), c->vocab_size, 1));
    TRY(check_min(c, name, offsetof(model_config, hidden_size), c->hidden_size, 1));
    TRY(check_min(c, name, offsetof(model_config, num_hidden_layers), c->num_hidden_layers, 0));
    TRY(check_min(c, name, offsetof(model_config, num_attention_heads), c->num_attention_heads, 1));
    TRY(check_min(c, name, offsetof(model_config, intermediate_size), c->intermediate_size, 1));
    TRY(check_min(c, name, offsetof(model_config, max_position_embeddings), c->max_position_embeddings, 1));
    if (!is_distil(c))
        TRY(check_min(c, name, offsetof(model_config, type_vocab_size), c->type_vocab_size, 1));
    if (c->hidden_size % c->num_attention_heads != 0)
        return err_set(MLM_ERR_RANGE, "%s: '%s' (%d) is not a multiple of '%s' (%d)", name,
                       KEY(hidden_size), c->hidden_size, KEY(num_attention_heads), c->num_attention_heads);
    if (!(c->layer_norm_eps > 0) || !isfinite(c->layer_norm_eps))
        return err_set(MLM_ERR_RANGE, "%s: 'layer_norm_eps' is %g; it must be positive", name,
                       c->layer_norm_eps);
    TRY(check_prob(c, name, offsetof(model_config, hidden_dropout_prob), c->hidden_dropout_prob));
    TRY(check_prob(c, name, offsetof(model_config, attention_probs_dropout_prob),
                   c->attention_probs_dropout_prob));
    if (!(c->initializer_range >= 0) || !isfinite(c->initializer_range))
        return err_set(MLM_ERR_RANGE, "%s: 'initializer_range' is %g; it must be >= 0", name,
                       c->initializer_range);
    TRY(check_token(c, name, offsetof(model_config, pad_token_id), c->pad_token_id));
    TRY(check_token(c, name, offsetof(model_config, bos_token_id), c->bos_token_id));
    TRY(check_token(c, name, offsetof(model_config, eos_token_id), c->eos_token_id));
    if ((unsigned)c->hidden_act >= ACT_COUNT || (unsigned)c->type > MODEL_DISTILBERT)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: invalid activation or model type", name);
#undef TRY
    return MLM_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct kv {
    const char *key;
    char *value;
} kv;

typedef struct kv_list {
    kv *items;
    size_t n;
    int failed;
} kv_list;

static void add_kv(kv_list *l, const char *key, strbuf *sb)
{
    char *v = NULL;
    if (sb_take(sb, &v, NULL) != MLM_OK || l->failed) {
        mem_free(v);
        l->failed = 1;
        return;
    }
    l->items[l->n].key = key;
    l->items[l->n].value = v;
    l->n++;
}

static void add_int(kv_list *l, const char *key, int v)
{
    strbuf sb = {0};
    sb_printf(&sb, "%d", v);
    add_kv(l, key, &sb);
}

static void add_token(kv_list *l, const char *key, int v)
{
    strbuf sb = {0};
    if (v < 0)
        sb_puts(&sb, "null");
    else
        sb_printf(&sb, "%d", v);
    add_kv(l, key, &sb);
}

static void add_float(kv_list *l, const char *key, double v)
{
    char buf[32];
    json_format_py_float(v, buf);
    strbuf sb = {0};
    sb_puts(&sb, buf);
    add_kv(l, key, &sb);
}

static void add_string(kv_list *l, const char *key, const char *v)
{
    strbuf sb = {0};
    json_put_py_string(&sb, v, strlen(v));
    add_kv(l, key, &sb);
}

static void add_raw(kv_list *l, const char *key, const char *v)
{
    strbuf sb = {0};
    sb_puts(&sb, v);
    add_kv(l, key, &sb);
}

static void add_architectures(kv_list *l, const model_config *c)
{
    strbuf sb = {0};
    sb_putc(&sb, '[');
    for (size_t i = 0; i < c->n_architectures; i++) {
        sb_puts(&sb, i ? ",\n    " : "\n    ");
        json_put_py_string(&sb, c->architectures[i], strlen(c->architectures[i]));
    }
    sb_puts(&sb, "\n  ]");
    add_kv(l, "architectures", &sb);
}

/* What PretrainedConfig.to_diff_dict keeps: every key of the model's own
 * constructor; of PretrainedConfig's (bos/eos/tie_word_embeddings), only
 * values that differ from both PretrainedConfig's and the class's default. */
static void add_known(kv_list *l, const model_config *c)
{
    int d = is_distil(c);
    if (c->n_architectures)
        add_architectures(l, c);
    add_string(l, "model_type", model_type_name(c->type));
    add_int(l, "vocab_size", c->vocab_size);
    add_int(l, d ? "dim" : "hidden_size", c->hidden_size);
    add_int(l, d ? "n_layers" : "num_hidden_layers", c->num_hidden_layers);
    add_int(l, d ? "n_heads" : "num_attention_heads", c->num_attention_heads);
    add_int(l, d ? "hidden_dim" : "intermediate_size", c->intermediate_size);
    add_int(l, "max_position_embeddings", c->max_position_embeddings);
    add_string(l, d ? "activation" : "hidden_act", act_name(c->hidden_act));
    add_float(l, d ? "dropout" : "hidden_dropout_prob", c->hidden_dropout_prob);
    add_float(l, d ? "attention_dropout" : "attention_probs_dropout_prob",
              c->attention_probs_dropout_prob);
    add_float(l, "initializer_range", c->initializer_range);
    add_token(l, "pad_token_id", c->pad_token_id);
    if (d) {
        add_raw(l, "sinusoidal_pos_embds", "false");
    } else {
        add_int(l, "type_vocab_size", c->type_vocab_size);
        add_float(l, "layer_norm_eps", c->layer_norm_eps);
        add_string(l, "position_embedding_type", "absolute");
    }
    if (is_roberta_family(c->type) || c->bos_token_id >= 0)
        add_token(l, "bos_token_id", c->bos_token_id);
    if (is_roberta_family(c->type) || c->eos_token_id >= 0)
        add_token(l, "eos_token_id", c->eos_token_id);
    if (!c->tie_word_embeddings)
        add_raw(l, "tie_word_embeddings", "false");
}

static int kv_cmp(const void *a, const void *b) { return strcmp(((const kv *)a)->key, ((const kv *)b)->key); }

static mlm_status render(const model_config *c, const kv_list *l, char **out, size_t *len)
{
    strbuf sb = {0};
    sb_putc(&sb, '{');
    for (size_t i = 0; i < l->n; i++) {
        sb_puts(&sb, i ? ",\n  " : "\n  ");
        json_put_py_string(&sb, l->items[i].key, strlen(l->items[i].key));
        sb_puts(&sb, ": ");
        sb_puts(&sb, l->items[i].value);
    }
    sb_puts(&sb, "\n}\n");
    (void)c;
    return sb_take(&sb, out, len);
}

mlm_status config_to_json(const model_config *c, char **out, size_t *len)
{
    *out = NULL;
    mlm_status s = config_validate(c, "config");
    if (s != MLM_OK)
        return s;
    kv_list l = {mem_calloc(32 + c->n_extra, sizeof(kv)), 0, 0};
    if (!l.items)
        return err_oom();
    add_known(&l, c);
    /* A kept key that we also write (say "dim" in a BERT file) would appear
     * twice; ours wins. */
    for (size_t i = 0; i < c->n_extra && !l.failed; i++) {
        int dup = 0;
        for (size_t j = 0; j < l.n && !dup; j++)
            dup = strcmp(l.items[j].key, c->extra_keys[i]) == 0;
        if (!dup)
            add_raw(&l, c->extra_keys[i], c->extra_values[i]);
    }
    s = l.failed ? err_oom() : MLM_OK;
    if (s == MLM_OK) {
        qsort(l.items, l.n, sizeof *l.items, kv_cmp);
        s = render(c, &l, out, len);
    }
    for (size_t i = 0; i < l.n; i++)
        mem_free(l.items[i].value);
    mem_free(l.items);
    return s;
}

mlm_status config_save(const model_config *cfg, const char *path)
{
    char *text;
    size_t len;
    mlm_status s = config_to_json(cfg, &text, &len);
    if (s != MLM_OK)
        return err_prefix(s, "%s: ", path);
    s = file_write_atomic(path, text, len);
    mem_free(text);
    return s;
}
