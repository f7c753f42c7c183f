/* SentencePiece's precompiled charsmap (the Precompiled normalizer): a
 * Darts double-array trie over UTF-8 plus a blob of NUL-terminated
 * replacements, stored base64 in tokenizer.json. */
#ifndef MLM_TEXT_PRECOMPILED_H
#define MLM_TEXT_PRECOMPILED_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"
#include "text/normalized.h"

typedef struct precompiled precompiled;

/* Decode base64 and check the layout; errors name `path`. */
mlm_status precompiled_parse(const char *b64, const char *path, precompiled **out);
void precompiled_free(precompiled *p);

/* Apply to a piece, grapheme by grapheme as HF does. 0 or -1 (OOM). */
int precompiled_apply(const precompiled *p, ns_buf *b, ns_piece *pc);

/* Base64 (standard alphabet, '=' padding optional); -1 on a bad char.
 * out needs 3 * len / 4 + 3 bytes. */
long base64_decode(const char *in, size_t len, unsigned char *out);

#endif
