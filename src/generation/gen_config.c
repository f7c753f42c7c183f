/* The generation configuration: transformers' GenerationConfig names,
 * defaults and checks (generation/configuration_utils.py), the layering of
 * generate() (the model's generation_config.json or config.json under the
 * caller's options: _prepare_generation_config), and the values one call
 * runs with (_prepare_special_tokens, _prepare_generated_length). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "generation/generation_impl.h"
#include "io/json.h"
#include "io/strbuf.h"
#include "nn/model_impl.h"

/* ---------------------------------------------------------------- lists */

static void ids_free(gen_ids *l)
{
    mem_free(l->ids);
    mem_free(l->start);
    l->ids = l->start = NULL;
    l->n = -1;
}

static mlm_status ids_copy(gen_ids *dst, const gen_ids *src)
{
    dst->ids = dst->start = NULL;
    dst->n = src->n;
    if (src->n < 0)
        return MLM_OK;
    size_t total = src->start ? (size_t)src->start[src->n] : (size_t)src->n;
    dst->ids = mem_alloc((total ? total : 1) * sizeof *dst->ids);
    if (src->start)
        dst->start = mem_alloc(((size_t)src->n + 1) * sizeof *dst->start);
    if (!dst->ids || (src->start && !dst->start)) {
        ids_free(dst);
        return err_oom();
    }
    memcpy(dst->ids, src->ids, total * sizeof *dst->ids);
    if (src->start)
        memcpy(dst->start, src->start, ((size_t)src->n + 1) * sizeof *dst->start);
    return MLM_OK;
}

void gen_config_reset(mlm_generation_config *g)
{
    memset(g, 0, sizeof *g);
    g->max_length = 20;
    g->max_new_tokens = -1;
    g->min_length = 0;
    g->min_new_tokens = -1;
    g->num_beams = 1;
    g->num_return_sequences = 1;
    g->temperature = 1.0;
    g->top_k = 50;
    g->top_p = 1.0;
    g->repetition_penalty = 1.0;
    g->length_penalty = 1.0;
    g->bad_words.n = g->forced_eos.n = g->eos.n = -1;
    g->forced_bos = g->decoder_start = g->bos = g->pad = -1;
}

void gen_config_clear(mlm_generation_config *g)
{
    ids_free(&g->bad_words);
    ids_free(&g->forced_eos);
    ids_free(&g->eos);
}

mlm_status gen_config_copy_into(mlm_generation_config *dst, const mlm_generation_config *src)
{
    *dst = *src;
    dst->bad_words.n = dst->forced_eos.n = dst->eos.n = -1;
    dst->bad_words.ids = dst->forced_eos.ids = dst->eos.ids = NULL;
    dst->bad_words.start = dst->forced_eos.start = dst->eos.start = NULL;
    mlm_status st = ids_copy(&dst->bad_words, &src->bad_words);
    if (st == MLM_OK)
        st = ids_copy(&dst->forced_eos, &src->forced_eos);
    if (st == MLM_OK)
        st = ids_copy(&dst->eos, &src->eos);
    if (st != MLM_OK)
        gen_config_clear(dst);
    return st;
}

/* ---------------------------------------------------------------- options */

typedef enum opt_kind {
    K_INT,       /* an integer >= min */
    K_INT_NULL,  /* an integer >= min, or null (-1) */
    K_NUMBER,    /* a finite number, checked by range */
    K_BOOL,
    K_EARLY,     /* true, false or "never" */
    K_ID,        /* a token id >= 0, or null (-1) */
    K_ID_LIST,   /* an id, a list of ids, or null */
    K_ID_LISTS,  /* a list of lists of ids, or null */
    K_SEED       /* an integer >= 0 */
} opt_kind;

typedef struct opt_spec {
    const char *name;
    gen_opt id;
    opt_kind kind;
    double min, max; /* K_INT*, K_NUMBER; K_NUMBER: (min, max] when min_open */
    int min_open;
    size_t off;
} opt_spec;

#define O(name, id, kind, min, max, open, member)                                                \
    {name, id, kind, min, max, open, offsetof(mlm_generation_config, member)}

static const opt_spec options[] = {
    O("max_length", GO_MAX_LENGTH, K_INT, 1, 1 << 30, 0, max_length),
    O("max_new_tokens", GO_MAX_NEW_TOKENS, K_INT_NULL, 1, 1 << 30, 0, max_new_tokens),
    O("min_length", GO_MIN_LENGTH, K_INT, 0, 1 << 30, 0, min_length),
    O("min_new_tokens", GO_MIN_NEW_TOKENS, K_INT_NULL, 0, 1 << 30, 0, min_new_tokens),
    O("early_stopping", GO_EARLY_STOPPING, K_EARLY, 0, 0, 0, early_stopping),
    O("do_sample", GO_DO_SAMPLE, K_BOOL, 0, 0, 0, do_sample),
    O("num_beams", GO_NUM_BEAMS, K_INT, 1, 1 << 16, 0, num_beams),
    O("num_return_sequences", GO_NUM_RETURN_SEQUENCES, K_INT, 1, 1 << 16, 0,
      num_return_sequences),
    O("temperature", GO_TEMPERATURE, K_NUMBER, 0, 1e30, 0, temperature),
    O("top_k", GO_TOP_K, K_INT, 0, 1 << 30, 0, top_k),
    O("top_p", GO_TOP_P, K_NUMBER, 0, 1, 0, top_p),
    O("repetition_penalty", GO_REPETITION_PENALTY, K_NUMBER, 0, 1e30, 1, repetition_penalty),
    O("length_penalty", GO_LENGTH_PENALTY, K_NUMBER, -1e30, 1e30, 0, length_penalty),
    O("no_repeat_ngram_size", GO_NO_REPEAT_NGRAM_SIZE, K_INT, 0, 1 << 30, 0,
      no_repeat_ngram_size),
    O("bad_words_ids", GO_BAD_WORDS_IDS, K_ID_LISTS, 0, 0, 0, bad_words),
    O("renormalize_logits", GO_RENORMALIZE_LOGITS, K_BOOL, 0, 0, 0, renormalize_logits),
    O("forced_bos_token_id", GO_FORCED_BOS_TOKEN_ID, K_ID, 0, 0, 0, forced_bos),
    O("forced_eos_token_id", GO_FORCED_EOS_TOKEN_ID, K_ID_LIST, 0, 0, 0, forced_eos),
    O("decoder_start_token_id", GO_DECODER_START_TOKEN_ID, K_ID, 0, 0, 0, decoder_start),
    O("bos_token_id", GO_BOS_TOKEN_ID, K_ID, 0, 0, 0, bos),
    O("pad_token_id", GO_PAD_TOKEN_ID, K_ID, 0, 0, 0, pad),
    O("eos_token_id", GO_EOS_TOKEN_ID, K_ID_LIST, 0, 0, 0, eos),
    O("output_scores", GO_OUTPUT_SCORES, K_BOOL, 0, 0, 0, output_scores),
    O("seed", GO_SEED, K_SEED, 0, 0, 0, seed),
};
#undef O

/* GenerationConfig attributes that change nothing we compute. */
static const char *const ignored[] = {
    "use_cache", "output_attentions", "output_hidden_states", "output_logits",
    "return_dict_in_generate", "transformers_version", "_from_model_config",
    "_commit_hash", "_original_object_hash", "cache_implementation", "cache_config",
    "return_legacy_cache", "prefill_chunk_size", "compile_config", "disable_compile",
    "generation_kwargs", "is_assistant", "num_assistant_tokens", "num_assistant_tokens_schedule",
    "assistant_confidence_threshold", "prompt_lookup_num_tokens", "max_matching_ngram_size",
    "assistant_early_exit", "assistant_lookbehind", "target_lookbehind",
};

/* GenerationConfig attributes we do not implement, with the value that
 * turns each off (null always does). */
static const struct {
    const char *name, *off;
} unsupported[] = {
    {"max_time", "null"}, {"stop_strings", "null"}, {"num_beam_groups", "1"},
    {"penalty_alpha", "null"}, {"dola_layers", "null"}, {"min_p", "null"},
    {"typical_p", "1"}, {"epsilon_cutoff", "0"}, {"eta_cutoff", "0"},
    {"diversity_penalty", "0"}, {"encoder_repetition_penalty", "1"},
    {"encoder_no_repeat_ngram_size", "0"}, {"force_words_ids", "null"},
    {"constraints", "null"}, {"remove_invalid_values", "false"},
    {"exponential_decay_length_penalty", "null"}, {"suppress_tokens", "null"},
    {"begin_suppress_tokens", "null"}, {"sequence_bias", "null"}, {"token_healing", "false"},
    {"guidance_scale", "null"}, {"watermarking_config", "null"}, {"low_memory", "null"},
    {"forced_decoder_ids", "null"},
};

static const opt_spec *find_option(const char *name)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

/* Whether v turns an unsupported option off: null, its off value, or 1.0
 * for guidance_scale (HF: `is not None and != 1`). */
static int is_off(const char *off, const char *name, const cJSON *v)
{
    if (cJSON_IsNull(v))
        return 1;
    if (strcmp(name, "guidance_scale") == 0 && cJSON_IsNumber(v) && v->valuedouble == 1.0)
        return 1;
    if (strcmp(off, "null") == 0)
        return 0;
    if (strcmp(off, "false") == 0)
        return cJSON_IsFalse(v);
    return cJSON_IsNumber(v) && v->valuedouble == strtod(off, NULL);
}

static mlm_status bad_value(const char *where, const opt_spec *o, const cJSON *v,
                            const char *want)
{
    char num[32];
    return err_set(MLM_ERR_INVALID_ARGUMENT, "%sgeneration option '%s' must be %s, found %s",
                   where, o->name, want, json_describe(v, num));
}

static mlm_status read_id(const char *where, const opt_spec *o, const cJSON *v, int32_t *out)
{
    int64_t i = 0;
    if (json_int(v, &i) != 1 || i < 0 || i > INT32_MAX)
        return bad_value(where, o, v, "a token id (an integer >= 0)");
    *out = (int32_t)i;
    return MLM_OK;
}

/* An id or a list of ids into l (an id is a list of one). */
static mlm_status read_id_list(const char *where, const opt_spec *o, const cJSON *v, gen_ids *l)
{
    gen_ids n = {NULL, NULL, -1};
    if (cJSON_IsNull(v)) {
        ids_free(l);
        *l = n;
        return MLM_OK;
    }
    size_t count = cJSON_IsArray(v) ? json_len(v) : 1;
    if (cJSON_IsArray(v) && count == 0)
        return bad_value(where, o, v, "a token id or a non-empty list of ids");
    n.ids = mem_alloc(count * sizeof *n.ids);
    if (!n.ids)
        return err_oom();
    n.n = (int)count;
    const cJSON *e = cJSON_IsArray(v) ? v->child : v;
    for (size_t i = 0; i < count; i++, e = e->next) {
        mlm_status st = read_id(where, o, e, &n.ids[i]);
        if (st != MLM_OK) {
            ids_free(&n);
            return st;
        }
    }
    ids_free(l);
    *l = n;
    return MLM_OK;
}

/* A list of non-empty lists of ids (bad_words_ids) into l. */
static mlm_status read_id_lists(const char *where, const opt_spec *o, const cJSON *v, gen_ids *l)
{
    gen_ids n = {NULL, NULL, -1};
    if (cJSON_IsNull(v)) {
        ids_free(l);
        *l = n;
        return MLM_OK;
    }
    const char *want = "a non-empty list of non-empty lists of token ids";
    if (!cJSON_IsArray(v) || json_len(v) == 0)
        return bad_value(where, o, v, want);
    size_t total = 0, count = json_len(v);
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsArray(e) || json_len(e) == 0)
            return bad_value(where, o, e, want);
        total += json_len(e);
    }
    n.ids = mem_alloc(total * sizeof *n.ids);
    n.start = mem_alloc((count + 1) * sizeof *n.start);
    if (!n.ids || !n.start) {
        ids_free(&n);
        return err_oom();
    }
    n.n = (int)count;
    size_t k = 0, i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        n.start[i] = (int32_t)k;
        for (const cJSON *t = e->child; t; t = t->next) {
            mlm_status st = read_id(where, o, t, &n.ids[k++]);
            if (st != MLM_OK) {
                ids_free(&n);
                return st;
            }
        }
    }
    n.start[count] = (int32_t)k;
    ids_free(l);
    *l = n;
    return MLM_OK;
}

static mlm_status set_option(mlm_generation_config *g, const opt_spec *o, const cJSON *v,
                             const char *where)
{
    char *base = (char *)g;
    void *field = base + o->off;
    char want[96];
    switch (o->kind) {
    case K_INT:
    case K_INT_NULL: {
        if (o->kind == K_INT_NULL && cJSON_IsNull(v)) {
            *(int *)field = -1;
            return MLM_OK;
        }
        int64_t i = 0;
        snprintf(want, sizeof want, "an integer >= %.0f%s", o->min,
                 o->kind == K_INT_NULL ? " or null" : "");
        if (json_int(v, &i) != 1)
            return bad_value(where, o, v, want);
        if (i < (int64_t)o->min || i > (int64_t)o->max)
            return err_set(MLM_ERR_RANGE, "%sgeneration option '%s' is %lld; it must be %s",
                           where, o->name, (long long)i, want);
        *(int *)field = (int)i;
        return MLM_OK;
    }
    case K_NUMBER: {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return bad_value(where, o, v, "a number");
        double x = v->valuedouble;
        if (x > o->max || x < o->min || (o->min_open && x == o->min)) {
            if (o->max >= 1e30)
                snprintf(want, sizeof want, "%s %g", o->min_open ? ">" : ">=", o->min);
            else
                snprintf(want, sizeof want, "in [%g, %g]", o->min, o->max);
            return err_set(MLM_ERR_RANGE, "%sgeneration option '%s' is %g; it must be %s", where,
                           o->name, x, want);
        }
        *(double *)field = x;
        return MLM_OK;
    }
    case K_BOOL:
        if (!cJSON_IsBool(v))
            return bad_value(where, o, v, "true or false");
        *(int *)field = cJSON_IsTrue(v);
        return MLM_OK;
    case K_EARLY:
        if (cJSON_IsBool(v))
            *(int *)field = cJSON_IsTrue(v);
        else if (cJSON_IsString(v) && strcmp(v->valuestring, "never") == 0)
            *(int *)field = 2;
        else if (cJSON_IsString(v))
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "%s`early_stopping` must be a boolean or 'never', but is '%s'", where,
                           v->valuestring);
        else
            return bad_value(where, o, v, "a boolean or 'never'");
        return MLM_OK;
    case K_ID:
        if (cJSON_IsNull(v)) {
            *(int *)field = -1;
            return MLM_OK;
        }
        return read_id(where, o, v, (int32_t *)field);
    case K_ID_LIST:
        return read_id_list(where, o, v, (gen_ids *)field);
    case K_ID_LISTS:
        return read_id_lists(where, o, v, (gen_ids *)field);
    case K_SEED: {
        int64_t i = 0;
        if (json_int(v, &i) != 1 || i < 0)
            return bad_value(where, o, v, "an integer >= 0");
        *(uint64_t *)field = (uint64_t)i;
        return MLM_OK;
    }
    }
    return err_set(MLM_ERR_INTERNAL, "generation option kind %d", (int)o->kind);
}

mlm_status gen_config_apply(mlm_generation_config *g, const char *name, const cJSON *v, int user,
                            const char *where)
{
    const opt_spec *o = find_option(name);
    if (o) {
        mlm_status st = set_option(g, o, v, where);
        if (st == MLM_OK && user)
            g->user[o->id] = 1;
        return st;
    }
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (strcmp(ignored[i], name) == 0)
            return MLM_OK;
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        if (strcmp(unsupported[i].name, name) != 0)
            continue;
        if (is_off(unsupported[i].off, name, v))
            return MLM_OK;
        if (user)
            return err_set(MLM_ERR_UNSUPPORTED,
                           "%sgeneration option '%s' is not supported (only its default %s is)",
                           where, name, unsupported[i].off);
        if (!g->unsupported[0])
            snprintf(g->unsupported, sizeof g->unsupported,
                     "%sgeneration option '%s' is not supported (only its default %s is)", where,
                     name, unsupported[i].off);
        return MLM_OK;
    }
    if (!user)
        return MLM_OK; /* GenerationConfig.update ignores names it does not have */
    return err_set(MLM_ERR_INVALID_ARGUMENT,
                   "%sunknown generation option '%s' (transformers: \"The following "
                   "`model_kwargs` are not used by the model: ['%s']\")",
                   where, name, name);
}

mlm_status gen_config_apply_object(mlm_generation_config *g, const cJSON *obj, int user,
                                   const char *where)
{
    if (!cJSON_IsObject(obj))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%sgeneration options must be a JSON object, "
                                                 "found %s", where, json_type_name(obj));
    for (const cJSON *m = obj->child; m; m = m->next) {
        mlm_status st = gen_config_apply(g, m->string, m, user, where);
        if (st != MLM_OK)
            return st;
    }
    return MLM_OK;
}

/* ---------------------------------------------------------------- public */

mlm_status mlm_generation_config_new(const mlm_model *model, mlm_generation_config **out)
{
    if (!out || !model)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generation_config_new: NULL argument");
    *out = NULL;
    mlm_status st = model_require_family(model, MLM_FAMILY_ENCODER_DECODER,
                                         "mlm_generation_config_new");
    if (st != MLM_OK)
        return st;
    mlm_generation_config *g = mem_alloc(sizeof *g);
    if (!g)
        return err_oom();
    gen_config_reset(g);
    const s2s_ops *s2s = model->family->s2s;
    const cJSON *gen = s2s->generation_doc(model);
    if (gen) {
        st = gen_config_apply_object(g, gen, 0, "generation_config.json: ");
    } else {
        /* GenerationConfig.from_model_config: config.json's generation keys
         * whose value is not None. */
        const cJSON *cfg = s2s->config_doc(model);
        for (const cJSON *m = cfg ? cfg->child : NULL; st == MLM_OK && m; m = m->next)
            if (!cJSON_IsNull(m))
                st = gen_config_apply(g, m->string, m, 0, "config.json: ");
    }
    if (st != MLM_OK) {
        mlm_generation_config_free(g);
        return st;
    }
    *out = g;
    return MLM_OK;
}

mlm_status mlm_generation_config_copy(const mlm_generation_config *src,
                                      mlm_generation_config **out)
{
    if (!out || !src)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generation_config_copy: NULL argument");
    *out = NULL;
    mlm_generation_config *g = mem_alloc(sizeof *g);
    if (!g)
        return err_oom();
    mlm_status st = gen_config_copy_into(g, src);
    if (st != MLM_OK) {
        mem_free(g);
        return st;
    }
    *out = g;
    return MLM_OK;
}

void mlm_generation_config_free(mlm_generation_config *g)
{
    if (!g)
        return;
    gen_config_clear(g);
    mem_free(g);
}

/* value as JSON; a bare word that is not JSON is a string ("never"). */
static mlm_status parse_value(const char *name, const char *value, cJSON **out)
{
    size_t len = strlen(value);
    if (json_parse(value, len, 0, name, 4096, out) == MLM_OK)
        return MLM_OK;
    err_clear();
    for (const char *c = value; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' || *c == '-'))
            return err_set(MLM_ERR_INVALID_ARGUMENT,
                           "generation option '%s': '%s' is not a JSON value", name, value);
    *out = cJSON_CreateString(value);
    return *out ? MLM_OK : err_oom();
}

mlm_status mlm_generation_config_set(mlm_generation_config *g, const char *name,
                                     const char *value)
{
    if (!g || !name || !value)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generation_config_set: NULL argument");
    cJSON *v = NULL;
    mlm_status st = parse_value(name, value, &v);
    if (st != MLM_OK)
        return st;
    st = gen_config_apply(g, name, v, 1, "");
    cJSON_Delete(v);
    return st;
}

mlm_status mlm_generation_config_set_json(mlm_generation_config *g, const char *json, size_t len)
{
    if (!g || !json)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generation_config_set_json: NULL argument");
    cJSON *doc = NULL;
    mlm_status st = json_parse(json, len, 0, "generation options", (size_t)1 << 20, &doc);
    if (st != MLM_OK)
        return st;
    st = gen_config_apply_object(g, doc, 1, "");
    cJSON_Delete(doc);
    return st;
}

static void put_ids(strbuf *sb, const gen_ids *l, int lists)
{
    if (l->n < 0) {
        sb_puts(sb, "null");
        return;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < l->n; i++) {
        if (i)
            sb_puts(sb, ", ");
        if (!lists) {
            sb_printf(sb, "%d", (int)l->ids[i]);
            continue;
        }
        sb_putc(sb, '[');
        for (int k = l->start[i]; k < l->start[i + 1]; k++)
            sb_printf(sb, "%s%d", k > l->start[i] ? ", " : "", (int)l->ids[k]);
        sb_putc(sb, ']');
    }
    sb_putc(sb, ']');
}

mlm_status mlm_generation_config_to_json(const mlm_generation_config *g, char *buf, size_t cap,
                                         size_t *needed)
{
    if (!g || !needed || (!buf && cap))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_generation_config_to_json: NULL argument");
    /* options[] is not sorted; write in the order of a sorted name list. */
    const opt_spec *sorted[sizeof options / sizeof options[0]];
    size_t n = sizeof options / sizeof options[0];
    for (size_t i = 0; i < n; i++)
        sorted[i] = &options[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(sorted[j - 1]->name, sorted[j]->name) > 0; j--) {
            const opt_spec *t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    strbuf sb = {0};
    sb_putc(&sb, '{');
    for (size_t i = 0; i < n; i++) {
        const opt_spec *o = sorted[i];
        const void *field = (const char *)g + o->off;
        char num[32];
        sb_printf(&sb, "%s\"%s\": ", i ? ", " : "", o->name);
        switch (o->kind) {
        case K_INT:
            sb_printf(&sb, "%d", *(const int *)field);
            break;
        case K_INT_NULL:
        case K_ID:
            if (*(const int *)field < 0)
                sb_puts(&sb, "null");
            else
                sb_printf(&sb, "%d", *(const int *)field);
            break;
        case K_NUMBER:
            json_format_py_float(*(const double *)field, num);
            sb_puts(&sb, num);
            break;
        case K_BOOL:
            sb_puts(&sb, *(const int *)field ? "true" : "false");
            break;
        case K_EARLY: {
            int e = *(const int *)field;
            sb_puts(&sb, e == 2 ? "\"never\"" : e ? "true" : "false");
            break;
        }
        case K_ID_LIST:
            put_ids(&sb, (const gen_ids *)field, 0);
            break;
        case K_ID_LISTS:
            put_ids(&sb, (const gen_ids *)field, 1);
            break;
        case K_SEED:
            sb_printf(&sb, "%llu", (unsigned long long)*(const uint64_t *)field);
            break;
        }
    }
    sb_putc(&sb, '}');
    return sb_copy_out(&sb, buf, cap, needed);
}

/* ---------------------------------------------------------------- warnings */

mlm_status gen_warn(gen_warnings *ws, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nw = mem_realloc(ws->w, (ws->n + 1) * sizeof *nw);
    if (!nw)
        return err_oom();
    ws->w = nw;
    if (!(nw[ws->n] = mem_strdup(buf)))
        return err_oom();
    ws->n++;
    return MLM_OK;
}

void gen_warnings_free(gen_warnings *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        mem_free(ws->w[i]);
    mem_free(ws->w);
    ws->w = NULL;
    ws->n = 0;
}

/* ---------------------------------------------------------------- one call */

static mlm_status check_ids_in(const gen_ids *l, int V, const char *name)
{
    size_t total = l->n < 0 ? 0 : l->start ? (size_t)l->start[l->n] : (size_t)l->n;
    for (size_t i = 0; i < total; i++)
        if (l->ids[i] >= V)
            return err_set(MLM_ERR_RANGE,
                           "generation option '%s': token id %d is outside the vocabulary [0, %d)",
                           name, (int)l->ids[i], V);
    return MLM_OK;
}

static mlm_status check_id_in(int id, int V, const char *name)
{
    if (id >= V)
        return err_set(MLM_ERR_RANGE,
                       "generation option '%s': token id %d is outside the vocabulary [0, %d)",
                       name, id, V);
    return MLM_OK;
}

mlm_status gen_plan_make(const mlm_generation_config *g, int V, gen_plan *p, gen_warnings *ws)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    if (g->unsupported[0])
        return err_set(MLM_ERR_UNSUPPORTED, "%s", g->unsupported);
    /* _prepare_special_tokens */
    p->eos = g->eos.n > 0 ? g->eos.ids : NULL;
    p->n_eos = g->eos.n > 0 ? g->eos.n : 0;
    p->pad = g->pad >= 0 ? g->pad : p->n_eos ? p->eos[0] : -1;
    if (g->pad < 0 && p->n_eos) {
        mlm_status st = gen_warn(ws, "Setting `pad_token_id` to `eos_token_id`:%d for open-end "
                                     "generation.", (int)p->eos[0]);
        if (st != MLM_OK)
            return st;
    }
    p->start = g->decoder_start >= 0 ? g->decoder_start : g->bos;
    if (p->start < 0)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "`decoder_start_token_id` or `bos_token_id` has "
                                                 "to be defined for encoder-decoder generation.");
    /* _prepare_generated_length; the decoder prompt is the start token. */
    p->max_length = g->max_length;
    if (g->max_new_tokens >= 0)
        p->max_length = g->max_new_tokens + 1;
    else if (!g->user[GO_MAX_LENGTH] && g->max_length == 20)
        p->max_length = 20 + 1; /* "by default let's always generate 20 new tokens" */
    p->min_length = g->min_new_tokens >= 0 ? g->min_new_tokens + 1 : g->min_length;
    p->min_new_tokens = g->min_new_tokens;
    if (p->max_length <= 1)
        return err_set(MLM_ERR_RANGE, "Input length of decoder_input_ids is 1, but `max_length` "
                                      "is set to %d. This can lead to unexpected behavior. You "
                                      "should consider increasing `max_length` or, better yet, "
                                      "setting `max_new_tokens`.", p->max_length);
    if (p->min_length > p->max_length) {
        mlm_status st = gen_warn(ws, "Unfeasible length constraints: `min_length` (%d) is larger "
                                     "than the maximum possible length (%d). Generation will stop "
                                     "at the defined maximum length. You should decrease the "
                                     "minimum length and/or increase the maximum length.",
                                 p->min_length, p->max_length);
        if (st != MLM_OK)
            return st;
    }
    p->num_beams = g->num_beams;
    p->nrs = g->num_return_sequences;
    p->do_sample = g->do_sample;
    if (p->num_beams == 1 && !p->do_sample && p->nrs != 1)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "Greedy methods without beam search do not "
                                                 "support `num_return_sequences` different than "
                                                 "1 (got %d).", p->nrs);
    if (p->num_beams > 1 && p->nrs > p->num_beams)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "`num_return_sequences` (%d) has to be smaller "
                                                 "or equal to `num_beams` (%d).",
                       p->nrs, p->num_beams);
    if (p->do_sample && !(g->temperature > 0))
        return err_set(MLM_ERR_RANGE, "`temperature` (=%g) has to be a strictly positive float, "
                                      "otherwise your next token scores will be invalid.",
                       g->temperature);
    if (p->num_beams > 1)
        p->min_keep = p->n_eos ? p->n_eos + 1 : 2;
    else
        p->min_keep = 1;
    /* Ids the processors would index with. */
    mlm_status st = check_ids_in(&g->bad_words, V, "bad_words_ids");
    if (st == MLM_OK)
        st = check_ids_in(&g->forced_eos, V, "forced_eos_token_id");
    if (st == MLM_OK)
        st = check_ids_in(&g->eos, V, "eos_token_id");
    if (st == MLM_OK)
        st = check_id_in(g->forced_bos, V, "forced_bos_token_id");
    if (st == MLM_OK)
        st = check_id_in(p->start, V, g->decoder_start >= 0 ? "decoder_start_token_id"
                                                            : "bos_token_id");
    if (st == MLM_OK)
        st = check_id_in(p->pad, V, "pad_token_id");
    return st;
}
