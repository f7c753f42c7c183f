/* Pre-tokenizers (tokenizer.json "pre_tokenizer"): BertPreTokenizer,
 * ByteLevel, Whitespace, WhitespaceSplit, Punctuation, Digits, Metaspace,
 * Split, CharDelimiterSplit, Sequence. */
#ifndef MLM_TEXT_PRETOKENIZER_H
#define MLM_TEXT_PRETOKENIZER_H

#include <cjson/cJSON.h>

#include "mlm/core.h"
#include "text/normalized.h"

typedef struct pretokenizer pretokenizer;

mlm_status pretokenizer_parse(const cJSON *j, const char *path, pretokenizer **out);
void pretokenizer_free(pretokenizer *p);

/* Split (and transform) every piece of b that is not an added token.
 * 0 or -1 (OOM or a regex failure). */
int pretokenizer_apply(const pretokenizer *p, ns_buf *b);


#endif
