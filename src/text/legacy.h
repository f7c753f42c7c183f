/* The tokenizer.json documents transformers' converters
 * (convert_slow_tokenizer.py) build from the "slow" files: BERT's vocab.txt,
 * RoBERTa's vocab.json + merges.txt, with tokenizer_config.json's options. */
#ifndef MLM_TEXT_LEGACY_H
#define MLM_TEXT_LEGACY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "mlm/core.h"

/* The largest tokenizer file read whole (tokenizer.json, vocabularies,
 * configs): real ones are tens of MB. */
#define TOKENIZER_FILE_MAX ((size_t)1 << 30)

/* BertConverter's document from dir/vocab.txt. */
mlm_status legacy_bert_json(const char *dir, cJSON **out);

/* RobertaConverter's document from dir/vocab.json and dir/merges.txt. */
mlm_status legacy_roberta_json(const char *dir, cJSON **out);

#endif
