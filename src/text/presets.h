/* The pieces of a tokenizer.json that libmlm writes itself, as the HF
 * tokenizers library serializes them: for the converters of legacy files
 * (legacy.c: BertConverter, RobertaConverter) and for the trainers' results
 * (tokenizer_trainer.c: BertWordPieceTokenizer, ByteLevelBPETokenizer). Each returns a
 * new cJSON object, or NULL when out of memory; the caller picks which
 * post-processor its tokenizer gets. */
#ifndef MLM_TEXT_PRESETS_H
#define MLM_TEXT_PRESETS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "mlm/core.h"

/* An "added_tokens" entry of a special token (single_word, rstrip false). */
cJSON *preset_added_token(int32_t id, const char *content, int lstrip, int normalized);

/* BertNormalizer; strip_accents -1 writes null (follow lowercase). */
cJSON *preset_bert_normalizer(int handle_chinese_chars, int strip_accents, int lowercase);

/* {"type": "BertPreTokenizer"}. */
cJSON *preset_bert_pretokenizer(void);

/* ByteLevel with trim_offsets and use_regex on: as pre-tokenizer, decoder
 * and post-processor alike. */
cJSON *preset_bytelevel(int add_prefix_space);

/* The WordPiece decoder (cleanup on). */
cJSON *preset_wordpiece_decoder(const char *prefix);

/* Post-processors. TemplateProcessing of BERT ("[CLS] $A [SEP]", pair
 * "[CLS] $A [SEP] $B:1 [SEP]:1"), as BertConverter writes it. */
cJSON *preset_bert_template(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id);

/* HF's Template::try_from(&str), the string form of TemplateProcessing's
 * single and pair ("$A </s>", "[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1"): pieces
 * split at each ' '; "$", "$A"/"$a", "$B"/"$b" or "$<type_id>" (sequence A)
 * a sequence, anything else a special token, each optionally followed by
 * ":<type_id>". *pieces receives the serialized list ({"Sequence": {"id",
 * "type_id"}} / {"SpecialToken": {...}}); a piece HF cannot build ("Cannot
 * build Piece from string") is MLM_ERR_INVALID_ARGUMENT naming `what`. */
mlm_status preset_template_parse(const char *text, const char *what, cJSON **pieces);

/* Whether a parsed template has a piece of sequence B (0 or 1). */
int preset_template_has_b(const cJSON *pieces);

/* TemplateProcessing over parsed single and pair templates (both taken,
 * also on failure), with special_tokens {} to fill with
 * preset_template_add_special. */
cJSON *preset_template(cJSON *single, cJSON *pair);

/* special_tokens' entry {"id": s, "ids": [id], "tokens": [s]} of a
 * TemplateProcessing (nothing when s is there already). 1, or 0 when out of
 * memory. */
int preset_template_add_special(cJSON *template_processing, const char *s, int32_t id);

/* BertProcessing, or RobertaProcessing (with trim_offsets on). */
cJSON *preset_bert_processing(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id);
cJSON *preset_roberta_processing(const char *cls, int32_t cls_id, const char *sep, int32_t sep_id,
                                 int add_prefix_space);

/* parts[i] added to doc under keys[i], in order; every part is taken (also
 * on failure). 1, or 0 when a part is NULL (out of memory) or cannot be
 * added. */
int preset_add_all(cJSON *doc, const char *const *keys, cJSON **parts, int n);

/* The WordPiece model over vocab (taken, also on failure). */
cJSON *preset_wordpiece_model(const char *unk, const char *prefix, cJSON *vocab);

#endif
