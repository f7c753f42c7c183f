/* Tokenization models (tokenizer.json "model"): WordPiece, BPE, Unigram,
 * WordLevel. A model turns one pre-tokenized piece into tokens. */
#ifndef MLM_TEXT_TOKENIZER_MODEL_H
#define MLM_TEXT_TOKENIZER_MODEL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "mlm/core.h"
#include "text/strmap.h"

typedef enum model_kind { MODEL_WORDPIECE, MODEL_BPE, MODEL_UNIGRAM, MODEL_WORDLEVEL } model_kind;

/* A token of a piece: id and byte span [s, e) in the piece's text. raw: its
 * string is that span of text (Unigram's unknown pieces), not the vocab's. */
typedef struct model_tok {
    int32_t id;
    uint32_t s, e;
    uint8_t raw;
} model_tok;

typedef struct tokvec {
    model_tok *t;
    size_t n, cap;
} tokvec;

int tokvec_push(tokvec *v, int32_t id, uint32_t s, uint32_t e, int raw);

/* Per-thread work memory of the models; zero-initialise, free with
 * model_scratch_free. */
typedef struct model_scratch {
    void *a, *b, *c;
    size_t acap, bcap, ccap;
    void *cache; /* BPE: per-thread word cache (HF keeps one per model) */
} model_scratch;
void model_scratch_free(model_scratch *s);

/* One of the scratch buffers (*p, *cap elements of elem bytes) grown to
 * hold need elements, doubling; 0, or -1 when out of memory (*p intact). */
int scratch_grow(void **p, size_t *cap, size_t need, size_t elem);

/* The vocabulary all models share: token -> id and id -> token. */
typedef struct vocab {
    strmap map;
    const char **id2tok; /* NULL for ids with no token */
    uint32_t *id2len;    /* their lengths (encoding copies every token it emits) */
    size_t nids;         /* max id + 1 */
    size_t cap_ids;
} vocab;

typedef struct model {
    model_kind kind;
    vocab v;
    /* WordPiece */
    char *unk_token;
    char *prefix; /* continuing_subword_prefix (WordPiece, BPE; NULL if none) */
    int64_t max_chars;
    size_t max_token_len; /* longest vocab entry, bytes */
    /* BPE */
    char *suffix; /* end_of_word_suffix, NULL if none */
    int fuse_unk, byte_fallback, ignore_merges;
    u64map merges; /* (a << 32 | b) -> (rank, new id) */
    int32_t byte_ids[256]; /* <0xXX> ids for byte_fallback, -1 if absent */
    /* Unigram */
    double *scores;
    int32_t unk_id;
    double min_score;
    u64map trie; /* (node << 8 | byte) -> (child node, token id or -1) */
} model;

/* Parse a "model" object. bert-base-uncased's omits "type": it is
 * inferred from the fields, as HF does. */
mlm_status model_parse(const cJSON *j, const char *path, model **out);
void model_free(model *m);

/* Tokenize a piece (valid UTF-8). 0; -1 out of memory; -2 an error already
 * recorded with err_set (e.g. the unknown token is not in the vocab). */
int model_tokenize(const model *m, const char *s, uint32_t len, tokvec *out,
                   model_scratch *scratch);

int32_t model_token_to_id(const model *m, const char *tok, size_t len);
const char *model_id_to_token(const model *m, int32_t id);
/* The same with its length in bytes (0 and NULL for an id with no token). */
const char *model_id_to_token_len(const model *m, int32_t id, size_t *len);
size_t model_vocab_size(const model *m);

/* Internal to the model files. */
mlm_status vocab_from_object(vocab *v, const cJSON *obj, const char *path);
mlm_status vocab_add(vocab *v, const char *tok, size_t len, int32_t id);
void vocab_free(vocab *v);
mlm_status wordpiece_parse(model *m, const cJSON *j, const char *path);
int wordpiece_tokenize(const model *m, const char *s, uint32_t len, tokvec *out);
mlm_status bpe_parse(model *m, const cJSON *j, const char *path);
int bpe_tokenize(const model *m, const char *s, uint32_t len, tokvec *out, model_scratch *sc);
mlm_status unigram_parse(model *m, const cJSON *j, const char *path);
int unigram_tokenize(const model *m, const char *s, uint32_t len, tokvec *out,
                     model_scratch *sc);
mlm_status wordlevel_parse(model *m, const cJSON *j, const char *path);
int wordlevel_tokenize(const model *m, const char *s, uint32_t len, tokvec *out);

#endif
