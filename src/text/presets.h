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
