/* Regular expressions through Oniguruma, with the match semantics of HF's
 * SysRegex (the onig crate's find_iter). */
#ifndef MLM_TEXT_REGEX_H
#define MLM_TEXT_REGEX_H

#include "mlm/core.h"
#include "text/normalized.h"

typedef struct regex regex;

/* Compile a pattern (UTF-8, len bytes); on failure the message says why. */
mlm_status regex_compile(const char *pattern, size_t len, regex **out);
void regex_free(regex *re);

/* HF's Pattern::find_matches for a regex: b->sp gets the alternating
 * non-match / match spans covering s[0, len). 0, or -1 (OOM/search error). */
int regex_find_matches(const regex *re, ns_buf *b, const char *s, uint32_t len);

#endif
