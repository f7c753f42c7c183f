/* generate() internals: the configuration (gen_config.c), the logits
 * processors (logits_process.c) and the search loops (generate.c). */
#ifndef MLM_GENERATION_IMPL_H
#define MLM_GENERATION_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mlm/generation.h"

/* The options of mlm_generation_config that steer the computation. */
typedef enum gen_opt {
    GO_MAX_LENGTH,
    GO_MAX_NEW_TOKENS,
    GO_MIN_LENGTH,
    GO_MIN_NEW_TOKENS,
    GO_EARLY_STOPPING,
    GO_DO_SAMPLE,
    GO_NUM_BEAMS,
    GO_NUM_RETURN_SEQUENCES,
    GO_TEMPERATURE,
    GO_TOP_K,
    GO_TOP_P,
    GO_REPETITION_PENALTY,
    GO_LENGTH_PENALTY,
    GO_NO_REPEAT_NGRAM_SIZE,
    GO_BAD_WORDS_IDS,
    GO_RENORMALIZE_LOGITS,
    GO_FORCED_BOS_TOKEN_ID,
    GO_FORCED_EOS_TOKEN_ID,
    GO_DECODER_START_TOKEN_ID,
    GO_BOS_TOKEN_ID,
    GO_PAD_TOKEN_ID,
    GO_EOS_TOKEN_ID,
    GO_OUTPUT_SCORES,
    GO_SEED,
    GO_COUNT
} gen_opt;

/* A list of token ids (eos_token_id, forced_eos_token_id) or of id
 * sequences (bad_words_ids, flattened: sequence i is ids[start[i] ..
 * start[i + 1])). n < 0: null (None). */
typedef struct gen_ids {
    int32_t *ids;
    int32_t *start; /* n + 1 entries for a list of lists, else NULL */
    int n;
} gen_ids;

struct mlm_generation_config {
    int max_length;
    int max_new_tokens;   /* -1: None */
    int min_length;
    int min_new_tokens;   /* -1: None */
    int early_stopping;   /* 0 False, 1 True, 2 "never" */
    int do_sample;
    int num_beams;
    int num_return_sequences;
    double temperature;
    int top_k;
    double top_p;
    double repetition_penalty;
    double length_penalty;
    int no_repeat_ngram_size;
    gen_ids bad_words;    /* list of lists */
    int renormalize_logits;
    int forced_bos;       /* -1: None */
    gen_ids forced_eos;   /* list (an int is a list of one) */
    int decoder_start;    /* -1: None */
    int bos;              /* -1: None */
    int pad;              /* -1: None */
    gen_ids eos;          /* list (an int is a list of one) */
    int output_scores;
    uint64_t seed;
    unsigned char user[GO_COUNT]; /* set by the caller (generate()'s kwargs) */
    char unsupported[160]; /* the model's defaults hold an option we do not implement */
};

/* GenerationConfig()'s defaults. */
void gen_config_reset(mlm_generation_config *g);
void gen_config_clear(mlm_generation_config *g); /* frees the lists */
mlm_status gen_config_copy_into(mlm_generation_config *dst, const mlm_generation_config *src);

/* Apply one option (a JSON value). user: the caller's (unknown names are
 * errors) or a default layer (the model's files, a pipeline's task
 * parameters: unknown names are ignored, unsupported options at a
 * non-default value are remembered and fail at generate time). `where`
 * begins messages ("generation_config.json: ", "" for the caller). */
mlm_status gen_config_apply(mlm_generation_config *g, const char *name, const cJSON *v, int user,
                            const char *where);
/* Every member of an object, as gen_config_apply. */
mlm_status gen_config_apply_object(mlm_generation_config *g, const cJSON *obj, int user,
                                   const char *where);

/* The values one generate() call runs with: _prepare_special_tokens
 * (eos as a list, pad <- eos[0] when unset, decoder start <- bos) and
 * _prepare_generated_length (max_new_tokens wins; an untouched max_length of
 * 20 becomes 20 + 1; min_new_tokens sets min_length), validated. */
typedef struct gen_plan {
    const mlm_generation_config *g;
    int max_length, min_length, min_new_tokens;
    int start, pad; /* pad -1: none */
    const int32_t *eos;
    int n_eos;      /* 0: no eos (None) */
    int num_beams, nrs, do_sample;
    int min_keep;   /* sampling warpers' min_tokens_to_keep */
} gen_plan;

/* Warnings collected for a result. */
typedef struct gen_warnings {
    char **w;
    size_t n;
} gen_warnings;
mlm_status gen_warn(gen_warnings *ws, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gen_warnings_free(gen_warnings *ws);

mlm_status gen_plan_make(const mlm_generation_config *g, int V, gen_plan *p, gen_warnings *ws);

/* Every processor of _get_logits_processor (in its order; the warpers when
 * sampling) on one row: scores (V) of a row whose decoder sequence is
 * seq[0..len). scratch holds 2·V floats. In place. */
void gen_process_row(const gen_plan *p, const int32_t *seq, int len, float *scores, int V,
                     float *scratch);
/* Whether gen_process_row at this len only bans tokens (sets scores to
 * −inf): it then gives the same floats before or after a finite number is
 * added to the row (−inf + a = −inf), which lets beam search add the beam
 * scores in the log-softmax's own pass. */
int gen_process_bans_only(const gen_plan *p, int len);

#endif
