/* Special-token roles (unk, pad, mask, cls, sep, bos, eos) as transformers
 * assigns them when it loads a tokenizer (PreTrainedTokenizerBase's
 * from_pretrained and the classes' __init__ defaults):
 *
 * 1. The class: tokenizer_config.json's "tokenizer_class" (a "...Fast" name
 *    is its slow class: their defaults agree), else the class AutoTokenizer
 *    takes for config.json's "model_type" beside it, else the class the
 *    legacy files imply (vocab.txt: BertTokenizer; vocab.json + merges.txt:
 *    RobertaTokenizer).
 * 2. That class's defaults (CLASSES below); PreTrainedTokenizerFast has
 *    none, so a tokenizer saved with it has only the roles its files name.
 * 3. The keys of tokenizer_config.json ("unk_token", ...), then those of
 *    special_tokens_map.json, which transformers reads only when
 *    tokenizer_config.json has no "added_tokens_decoder" (files saved by
 *    transformers 4.34 and later have it, and both files agree there). A key
 *    holds a string, an AddedToken object {"content": ...}, or null: no
 *    token for that role.
 *
 * When no class can be found (a bare tokenizer.json, or a
 * tokenizer_config.json that names none and no config.json) or the class
 * is one this file does not know, the roles are guessed at load time from
 * the tokenizer's special added tokens, by name only (guess_roles), and
 * step 3 still applies. Ordinary vocabulary entries are never guessed: a
 * GPT-2 vocabulary holding "<pad>" or "<mask>" as plain tokens has no pad
 * or mask token, as in transformers.
 *
 * transformers adds a role's token to the vocabulary when it is missing;
 * libmlm does not, so such a role has the string but id -1. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "text/tokenizer.h"

enum { UNK, PAD, MASK, CLS, SEP, BOS, EOS, NROLES };

static const char *const ROLE_KEYS[NROLES] = {"unk_token", "pad_token", "mask_token", "cls_token",
                                              "sep_token", "bos_token", "eos_token"};

#define BERT_ROLES {"[UNK]", "[PAD]", "[MASK]", "[CLS]", "[SEP]", NULL, NULL}
#define ROBERTA_ROLES {"<unk>", "<pad>", "<mask>", "<s>", "</s>", "<s>", "</s>"}

/* Each class's __init__ defaults, and the model types AutoTokenizer maps to
 * it (TOKENIZER_MAPPING_NAMES). */
static const struct {
    const char *name, *model_types[3];
    const char *roles[NROLES];
} CLASSES[] = {
    {"BertTokenizer", {"bert"}, BERT_ROLES},
    {"DistilBertTokenizer", {"distilbert"}, BERT_ROLES},
    {"ElectraTokenizer", {"electra"}, BERT_ROLES},
    {"RobertaTokenizer", {"roberta"}, ROBERTA_ROLES},
    {"XLMRobertaTokenizer", {"xlm-roberta"}, ROBERTA_ROLES},
    {"CamembertTokenizer", {"camembert"}, ROBERTA_ROLES},
    {"BartTokenizer", {"bart"}, ROBERTA_ROLES},
    {"LongformerTokenizer", {"longformer"}, ROBERTA_ROLES},
    {"GPT2Tokenizer",
     {"gpt2"},
     {"<|endoftext|>", NULL, NULL, NULL, NULL, "<|endoftext|>", "<|endoftext|>"}},
    {"T5Tokenizer", {"t5", "mt5"}, {"<unk>", "<pad>", NULL, NULL, NULL, NULL, "</s>"}},
    {"PreTrainedTokenizerFast", {NULL}, {NULL, NULL, NULL, NULL, NULL, NULL, NULL}},
};
#define NCLASSES (sizeof CLASSES / sizeof CLASSES[0])

static int set_role(mlm_tokenizer *tok, int r, const char *s)
{
    char *c = NULL;
    if (s && !(c = mem_strdup(s))) return -1;
    mem_free(tok->special[r]);
    tok->special[r] = c;
    return 0;
}

/* Whether s is one of the tokenizer's special added tokens. */
static int special_added(const mlm_tokenizer *tok, const char *s)
{
    const added_token *a = added_vocab_find(&tok->added, s, strlen(s));
    return a && a->special;
}

/* The guess for a tokenizer with no known class: the roles the BERT,
 * RoBERTa/T5 and GPT-2 classes give, for the names among its special added
 * tokens. [UNK]-style names first; <s> and </s> are cls/sep/bos only when
 * both are there (T5 has </s> alone: eos); <|endoftext|> is unk, bos and eos
 * when nothing else is. */
mlm_status guess_roles(mlm_tokenizer *tok)
{
    static const char *const bert[NROLES] = BERT_ROLES;
    static const char *const spm[NROLES] = ROBERTA_ROLES;
    static const int gpt2[NROLES] = {1, 0, 0, 0, 0, 1, 1};
    int pair = special_added(tok, "<s>") && special_added(tok, "</s>");
    for (int r = 0; r < NROLES; r++) {
        const char *c = NULL;
        if (bert[r] && special_added(tok, bert[r])) c = bert[r];
        else if (spm[r] && special_added(tok, spm[r]) && (pair || r == UNK || r == PAD ||
                                                          r == MASK || r == EOS))
            c = spm[r];
        else if (gpt2[r] && special_added(tok, "<|endoftext|>")) c = "<|endoftext|>";
        if (set_role(tok, r, c)) return err_oom();
    }
    return MLM_OK;
}

static int class_index(const char *name, const char *model_type)
{
    for (size_t i = 0; name && i < NCLASSES; i++) {
        size_t n = strlen(CLASSES[i].name);
        if (!strncmp(name, CLASSES[i].name, n) && (!name[n] || !strcmp(name + n, "Fast")))
            return (int)i;
    }
    for (size_t i = 0; !name && model_type && i < NCLASSES; i++)
        for (int k = 0; k < 3 && CLASSES[i].model_types[k]; k++)
            if (!strcmp(model_type, CLASSES[i].model_types[k])) return (int)i;
    return -1;
}

/* The role keys of one file: a string, {"content": string} or null. */
static mlm_status apply_keys(mlm_tokenizer *tok, const cJSON *doc, const char *file)
{
    for (int r = 0; doc && r < NROLES; r++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, ROLE_KEYS[r]);
        if (!v) continue;
        const cJSON *c = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "content") : v;
        if (!cJSON_IsNull(v) && !cJSON_IsString(c))
            return err_set(MLM_ERR_FORMAT,
                           "%s: %s: expected a string, {\"content\": string} or null", file,
                           ROLE_KEYS[r]);
        if (set_role(tok, r, cJSON_IsNull(v) ? NULL : c->valuestring)) return err_oom();
    }
    return MLM_OK;
}

mlm_status configure_roles(mlm_tokenizer *tok, const cJSON *tokenizer_config,
                           const cJSON *special_tokens_map, const char *model_type,
                           const char *implied_class)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(tokenizer_config, "tokenizer_class");
    const char *name = cJSON_IsString(cls) ? cls->valuestring : NULL;
    int k = class_index(name, name ? NULL : model_type);
    if (k < 0 && !name && !model_type) k = class_index(implied_class, NULL);
    for (int r = 0; k >= 0 && r < NROLES; r++)
        if (set_role(tok, r, CLASSES[k].roles[r])) return err_oom();
    mlm_status st = apply_keys(tok, tokenizer_config, "tokenizer_config.json");
    if (!st && !cJSON_GetObjectItemCaseSensitive(tokenizer_config, "added_tokens_decoder"))
        st = apply_keys(tok, special_tokens_map, "special_tokens_map.json");
    return st;
}
