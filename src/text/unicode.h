/* The Unicode character classes the tokenizers need (the definitions HF
 * `tokenizers` uses), from tables read off the reference and utf8proc
 * (mappings, with the exceptions unicode.c lists). UTF-8 itself is
 * core/utf8.h's, included here for the many files that need both. */
#ifndef MLM_TEXT_UNICODE_H
#define MLM_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h"

/* The character classes below are HF's, each from the crate HF takes it
 * from and at that crate's Unicode version (unicode_tables.c, generated from
 * the reference; tests/test_unicode_sweep.c checks every code point). */

/* Rust's char::is_whitespace (White_Space; also the regex crate's and
 * Oniguruma's \s). */
int uc_is_whitespace(int32_t cp);
/* BERT's punctuation: ASCII punctuation or unicode_categories'
 * is_punctuation (Unicode 8.0). BertPreTokenizer and Punctuation. */
int uc_is_bert_punct(int32_t cp);
/* Rust's char::is_numeric (Digits). */
int uc_is_numeric(int32_t cp);
/* The regex crate's \w (Whitespace pre-tokenizer, single_word). */
int uc_is_word(int32_t cp);
/* \p{L} and \p{N} of the Oniguruma HF runs GPT-2's pattern with. */
int uc_is_gpt2_letter(int32_t cp);
int uc_is_gpt2_number(int32_t cp);
/* The CJK ideograph ranges BERT pads with spaces (tokenizers'
 * is_chinese_char, as written there). */
int uc_is_cjk(int32_t cp);
/* BertNormalizer's is_control: unicode_categories' is_other (Cc, Cf, Co of
 * Unicode 8.0) minus \t \n \r. Unassigned code points and noncharacters
 * are not controls. */
int uc_is_bert_control(int32_t cp);
/* unicode_categories' is_mark_nonspacing (Mn of Unicode 8.0): what
 * BertNormalizer's strip_accents removes after NFD. */
int uc_is_mark_nonspacing(int32_t cp);
/* unicode-normalization-alignments' is_combining_mark (M of Unicode 9.0):
 * what the StripAccents normalizer removes. */
int uc_is_combining_mark(int32_t cp);
/* Rust's char::to_lowercase: full mapping into out (3 room); returns count. */
int uc_lower(int32_t cp, int32_t *out);
/* Canonical (compat=0) or compatibility decomposition of one code point into
 * out (cap room); returns the count, or -1 when cap is too small. This and
 * the two below follow HF's normalization data (Unicode 9.0). */
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
