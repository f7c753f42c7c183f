/* UTF-8 validation shared by every layer that reads untrusted text. */
#ifndef MLM_CORE_UTF8_H
#define MLM_CORE_UTF8_H

#include <stddef.h>

/* Nonzero when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF); otherwise 0 with *bad the offset of the first
 * byte of the first ill-formed sequence. */
int utf8_valid(const char *s, size_t len, size_t *bad);

#endif
