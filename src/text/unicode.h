/* UTF-8 and the Unicode character classes the tokenizers need (Rust's
 * definitions, as HF `tokenizers` uses them), on top of utf8proc. */
#ifndef MLM_TEXT_UNICODE_H
#define MLM_TEXT_UNICODE_H

#include <stddef.h>

#include "core/utf8.h"
#include <stdint.h>

/* Decode one code point from valid UTF-8 (validate first); returns its
 * byte length (1 for an invalid byte, with *cp = the byte). */
size_t utf8_next(const char *s, size_t len, int32_t *cp);

/* Byte length of the UTF-8 sequence starting with byte c (1 if invalid). */
size_t utf8_len_of(unsigned char c);

/* Encode cp into out (4 bytes room); returns the length. */
size_t utf8_put(int32_t cp, char *out);


/* Number of code points of valid UTF-8. */
size_t utf8_count(const char *s, size_t len);

/* Rust's char::is_whitespace (the White_Space property). */
int uc_is_whitespace(int32_t cp);
/* BERT's punctuation: ASCII punctuation or a P* category. */
int uc_is_bert_punct(int32_t cp);
/* Rust's char::is_alphanumeric (approximated by L* and N*). */
int uc_is_alnum(int32_t cp);
/* Rust's char::is_numeric: N* categories. */
int uc_is_numeric(int32_t cp);
/* The CJK ideograph blocks BERT pads with spaces. */
int uc_is_cjk(int32_t cp);
/* Cc, Cf, Cn, Co (unicode_categories' is_other), minus \t \n \r. */
int uc_is_bert_control(int32_t cp);
/* Category Mn. */
int uc_is_mn(int32_t cp);
/* Rust's char::to_lowercase: full mapping into out (3 room); returns count. */
int uc_lower(int32_t cp, int32_t *out);
/* Canonical (compat=0) or compatibility decomposition of one code point into
 * out (cap room); returns the count, or -1 when cap is too small. */
int uc_decompose(int32_t cp, int compat, int32_t *out, int cap);
/* Canonical combining class. */
int uc_ccc(int32_t cp);
/* The canonical composition of a + b, or -1. */
int32_t uc_compose(int32_t a, int32_t b);

/* Bytes to the 256 printable stand-ins of GPT-2's byte-level BPE, and back
 * (-1 for a code point that is not a stand-in). */
int32_t bytelevel_char(unsigned char b);
int bytelevel_byte(int32_t cp);

#endif
