/* UTF-8, the one module for it: validation, decoding (strict for bytes not
 * yet validated, lenient for text already validated), encoding, counting.
 * Every layer that reads or writes text goes through these. */
#ifndef MLM_CORE_UTF8_H
#define MLM_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Nonzero when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF); otherwise 0 with *bad the offset of the first
 * byte of the first ill-formed sequence (bad may be NULL). */
int utf8_valid(const char *s, size_t len, size_t *bad);

/* Strict: one code point of s[0..len) into *cp; its byte length, or 0 when
 * the bytes there are not well-formed UTF-8 (overlong, surrogate, above
 * U+10FFFF, cut short) or len is 0. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Lenient, for text already validated: one code point into *cp and its byte
 * length; an invalid or cut byte gives 1 with *cp = the byte. */
size_t utf8_next(const char *s, size_t len, int32_t *cp);

/* Byte length of the sequence that starts with byte c (1 if c cannot start
 * one). */
size_t utf8_len_of(unsigned char c);

/* Encode cp (at most U+10FFFF) into out (room for 4 bytes); its length. */
size_t utf8_put(int32_t cp, char *out);

/* The number of code points of valid UTF-8. */
size_t utf8_count(const char *s, size_t len);

/* Whether s[0..len) is empty or only whitespace as Python's str.isspace()
 * sees it (Unicode White_Space and the separators U+001C..U+001F: U+3000,
 * CJK text's ideographic space, is whitespace): run_mlm.py's line filter
 * `len(line) > 0 and not line.isspace()` keeps what this says no to. Bytes
 * that are not UTF-8 are not whitespace. */
int utf8_is_blank(const char *s, size_t len);

/* Python's str.strip() on s[0..len): [*start, *end) is what remains after
 * leading and trailing whitespace (as utf8_is_blank sees it). */
void utf8_py_strip(const char *s, size_t len, size_t *start, size_t *end);

#endif
