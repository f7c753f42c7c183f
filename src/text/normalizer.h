/* Normalizers (tokenizer.json "normalizer"): BertNormalizer, NFC/NFD/
 * NFKC/NFKD, Lowercase, StripAccents, Strip, Replace, Prepend, Precompiled,
 * ByteLevel, Sequence. */
#ifndef MLM_TEXT_NORMALIZER_H
#define MLM_TEXT_NORMALIZER_H

#include <cjson/cJSON.h>

#include "mlm/core.h"
#include "text/normalized.h"

typedef struct normalizer normalizer;

/* Build from JSON (path names it in errors, e.g. "normalizer"). */
mlm_status normalizer_parse(const cJSON *j, const char *path, normalizer **out);
void normalizer_free(normalizer *n);

/* Normalize one piece in place. 0 or -1 (OOM). */
int normalizer_apply(const normalizer *n, ns_buf *b, ns_piece *pc);

/* Shared by the Metaspace pre-tokenizer and the Replace normalizer: replace
 * every match in b->sp (flag set) of piece pc by content, aligning the new
 * chars with the last char each match replaced (HF's replace()). */
int ns_replace_matches(ns_buf *b, ns_piece *pc, const char *content, size_t clen);
/* HF's NormalizedString::prepend. */
int ns_prepend(ns_buf *b, ns_piece *pc, const char *s, size_t len);
/* Map every byte to its byte-level stand-in (ByteLevel). */
int ns_bytelevel(ns_buf *b, ns_piece *pc);
/* A Split/Replace "pattern": {"String": s} gives a literal, {"Regex": r} a
 * compiled regex. */
struct regex;
mlm_status parse_pattern(const cJSON *pat, const char *path, char **literal, size_t *llen,
                         struct regex **re);
/* HF's lowercase(). */
int ns_lowercase(ns_buf *b, ns_piece *pc);

#endif
