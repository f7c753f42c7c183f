/* Unicode classes; see unicode.h. */
#include "text/unicode.h"

#include <string.h>
#include <utf8proc.h>

#include "text/unicode_tables.h"

int uc_is_whitespace(int32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Whether c lies in one of the n sorted ranges r. */
static int in_ranges(const uc_range *r, size_t n, int32_t c)
{
    size_t lo = 0, hi = n;
    uint32_t u = (uint32_t)c;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u < r[mid].lo) hi = mid;
        else if (u > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int uc_is_bert_punct(int32_t c)
{
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return in_ranges(HF_PUNCTUATION, HF_PUNCTUATION_N, c);
}

int uc_is_numeric(int32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    return in_ranges(RUST_NUMERIC, RUST_NUMERIC_N, c);
}

int uc_is_word(int32_t c)
{
    if (c < 0x80) return c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    return in_ranges(RUST_REGEX_WORD, RUST_REGEX_WORD_N, c);
}

int uc_is_gpt2_letter(int32_t c)
{
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    return in_ranges(ONIG_LETTER, ONIG_LETTER_N, c);
}

int uc_is_gpt2_number(int32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    return in_ranges(ONIG_NUMBER, ONIG_NUMBER_N, c);
}

/* tokenizers' is_chinese_char, ranges as written there: 0x2B920 (not the
 * block's 0x2B820) starts its sixth range, so U+2B820..U+2B91F are not
 * padded. */
int uc_is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int uc_is_bert_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    if (c < 0x80) return c < 0x20 || c == 0x7F;
    return in_ranges(HF_BERT_CONTROL, HF_BERT_CONTROL_N, c);
}

int uc_is_mark_nonspacing(int32_t c)
{
    return c >= 0x300 && in_ranges(HF_MARK_NONSPACING, HF_MARK_NONSPACING_N, c);
}

int uc_is_combining_mark(int32_t c)
{
    return c >= 0x300 && in_ranges(HF_COMBINING_MARK, HF_COMBINING_MARK_N, c);
}

/* Lowercase mappings Rust's std has (Unicode 17.0 in the reference's build)
 * and utf8proc 2.8.0 (Unicode 15.0) lacks: the uppercase letters added in
 * Unicode 16.0 and 17.0, as (first, last, delta) runs. Found by the sweep
 * (tests/test_unicode_sweep.c, component "lowercase"). A newer utf8proc
 * maps them the same way, so the table stays right. */
static const struct {
    int32_t lo, hi, delta;
} LOWER_ADDED[] = {
    {0x1C89, 0x1C89, 1},         {0xA7CB, 0xA7CB, 0x0264 - 0xA7CB},
    {0xA7CC, 0xA7CC, 1},         {0xA7CE, 0xA7CE, 1},
    {0xA7D2, 0xA7D2, 1},         {0xA7D4, 0xA7D4, 1},
    {0xA7DA, 0xA7DA, 1},         {0xA7DC, 0xA7DC, 0x019B - 0xA7DC},
    {0x10D50, 0x10D65, 0x20},    {0x16EA0, 0x16EB8, 0x1B},
};

int uc_lower(int32_t c, int32_t *out)
{
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    if (c == 0x130) { /* the only unconditional multi-character lowercase */
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    for (size_t i = 0; i < sizeof LOWER_ADDED / sizeof LOWER_ADDED[0]; i++)
        if (c >= LOWER_ADDED[i].lo && c <= LOWER_ADDED[i].hi) {
            out[0] = c + LOWER_ADDED[i].delta;
            return 1;
        }
    out[0] = utf8proc_tolower(c);
    return 1;
}

/* HF normalizes with unicode-normalization-alignments, whose data is Unicode
 * 9.0: code points assigned later have no decomposition, compose with
 * nothing and have combining class 0 there. utf8proc 2.8.0 has Unicode 15.0;
 * these are the later code points it decomposes (NORM_LATER_DECOMPOSED) or
 * gives a nonzero combining class (NORM_LATER_MARKS), found by the sweep
 * (components nfd, nfkd, nfkc and the "after" ones). A utf8proc with newer
 * data decomposes or marks more later code points: the sweep then names
 * them, to be added here. */
static const uc_range NORM_LATER_DECOMPOSED[] = {
    {0x32FF, 0x32FF},   {0xA7F2, 0xA7F4},   {0xAB69, 0xAB69},   {0x10781, 0x10785},
    {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x11938, 0x11938}, {0x1E030, 0x1E06D},
    {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
};
static const uc_range NORM_LATER_MARKS[] = {
    {0x07FD, 0x07FD},   {0x0898, 0x089F},   {0x08CA, 0x08D3},   {0x09FE, 0x09FE},
    {0x0C3C, 0x0C3C},   {0x0D3B, 0x0D3C},   {0x0EBA, 0x0EBA},   {0x1715, 0x1715},
    {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},   {0xA82C, 0xA82C},   {0x10D24, 0x10D27},
    {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34},
    {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45},
    {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

int uc_decompose(int32_t c, int compat, int32_t *out, int cap)
{
    if (in_ranges(NORM_LATER_DECOMPOSED, N_OF(NORM_LATER_DECOMPOSED), c)) {
        out[0] = c;
        return 1;
    }
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(
        c, out, cap, (utf8proc_option_t)(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0)),
        &last);
    if (n < 0) {
        out[0] = c;
        return 1;
    }
    if (n > cap) return -1;
    return (int)n;
}

int uc_ccc(int32_t c)
{
    if (c < 0x300 || in_ranges(NORM_LATER_MARKS, N_OF(NORM_LATER_MARKS), c)) return 0;
    return utf8proc_get_property(c)->combining_class;
}

int32_t uc_compose(int32_t a, int32_t b)
{
    /* Hangul LV and LVT, algorithmically. */
    if (a >= 0x1100 && a < 0x1113 && b >= 0x1161 && b < 0x1176)
        return 0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28;
    if (a >= 0xAC00 && a < 0xD7A4 && (a - 0xAC00) % 28 == 0 && b > 0x11A7 && b < 0x11C3)
        return a + (b - 0x11A7);
    if (a < 0x3C || b < 0x300) {
        /* Only a few ASCII-range pairs compose (e.g. < + U+0338). */
        if (b < 0x300) return -1;
    }
    utf8proc_int32_t buf[2] = {a, b};
    utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, (utf8proc_option_t)(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
    /* A composite HF cannot decompose is one it cannot compose either. */
    if (n == 1 && !in_ranges(NORM_LATER_DECOMPOSED, N_OF(NORM_LATER_DECOMPOSED), buf[0]))
        return buf[0];
    return -1;
}

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the others
 * to 256 + their rank among the non-printable ones. */
static int printable(int b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

int32_t bytelevel_char(unsigned char b)
{
    if (printable(b)) return b;
    if (b <= 32) return 256 + b;
    if (b >= 127 && b <= 160) return 256 + 33 + (b - 127);
    return 256 + 33 + 34; /* 0xAD */
}

int bytelevel_byte(int32_t cp)
{
    if (cp >= 0 && cp < 256) return printable(cp) ? cp : -1;
    if (cp >= 256 && cp <= 288) return cp - 256;
    if (cp >= 289 && cp <= 322) return cp - 289 + 127;
    if (cp == 323) return 0xAD;
    return -1;
}
