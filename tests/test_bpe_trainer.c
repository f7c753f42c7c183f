/* BPE / WordPiece trainer cores (suite bpe_trainer): HF tokenizers parity.
 *
 * - HF's own unit examples of trainer.rs (ids and merges spelled out there);
 * - ByteLevel BPE on WikiText-2 valid (1.1 MB): the word counts HF's trainer
 *   saw and HF's resulting vocabulary and merges are fixtures under
 *   tests/data/bpe_trainer/ (tests/gen_bpe_trainer_goldens.js); ours must be
 *   identical, id for id and rank for rank;
 * - WordPiece on the same corpus: properties, and >= 98% of HF's vocabulary
 *   (HF's own WordPiece training differs run to run);
 * - settings (special tokens, alphabet limits, prefix/suffix, min_frequency),
 *   bad input, and allocation failure at every step.
 */
#include "suites.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"
#include "text/bpe_trainer.h"

/* ------------------------------------------------------------ helpers */

static word_counts *counts_of(const char *const *words, const uint64_t *counts, size_t n)
{
    word_counts *wc = NULL;
    ck_assert_int_eq(word_counts_new(&wc), MLM_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(word_counts_add(wc, words[i], strlen(words[i]), counts[i]), MLM_OK);
    return wc;
}

static const char *tok(const bpe_trained *m, size_t id)
{
    ck_assert_uint_lt(id, m->n_tokens);
    return m->tokens[id];
}

/* Lines of a gzip file (without their '\n'), malloc'ed, NULL when absent. */
static char **read_gz_lines(const char *rel, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/bpe_trainer/%s", test_root(), rel);
    gzFile f = gzopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1024, cnt = 0;
    char **lines = malloc(cap * sizeof *lines);
    static char buf[1 << 16];
    while (gzgets(f, buf, sizeof buf)) {
        size_t len = strlen(buf);
        ck_assert_msg(len > 0 && buf[len - 1] == '\n', "%s: line %zu too long", rel, cnt + 1);
        buf[len - 1] = '\0';
        if (cnt == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            ck_assert_ptr_nonnull(lines);
        }
        lines[cnt++] = strdup(buf);
    }
    gzclose(f);
    *n = cnt;
    return lines;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* "count\tword" lines into word counts. */
static word_counts *load_counts(const char *rel)
{
    size_t n;
    char **lines = read_gz_lines(rel, &n);
    word_counts *wc = NULL;
    ck_assert_int_eq(word_counts_new(&wc), MLM_OK);
    for (size_t i = 0; i < n; i++) {
        char *tab = strchr(lines[i], '\t');
        ck_assert_ptr_nonnull(tab);
        *tab = '\0';
        uint64_t c = strtoull(lines[i], NULL, 10);
        ck_assert_int_eq(word_counts_add(wc, tab + 1, strlen(tab + 1), c), MLM_OK);
    }
    ck_assert_uint_eq(word_counts_size(wc), n);
    free_lines(lines, n);
    return wc;
}

/* HF's WordPiece greedy longest-match-first; 1 if the word is covered. */
static int wordpiece_covers(const bpe_trained *m, const char *word, const char *prefix)
{
    size_t len = strlen(word), start = 0, plen = strlen(prefix);
    char *buf = malloc(len + plen + 1);
    int ok = 1;
    while (start < len && ok) {
        size_t end = len;
        int found = 0;
        while (end > start) {
            size_t bl = 0;
            if (start > 0) {
                memcpy(buf, prefix, plen);
                bl = plen;
            }
            memcpy(buf + bl, word + start, end - start);
            buf[bl + end - start] = '\0';
            if (bpe_trained_find(m, buf) >= 0) {
                found = 1;
                break;
            }
            do /* back up one UTF-8 character */
                end--;
            while (end > start && ((unsigned char)word[end] & 0xC0) == 0x80);
        }
        if (!found)
            ok = 0;
        start = end;
    }
    free(buf);
    return ok;
}

/* ------------------------------------------------------------ HF's examples */

/* trainer.rs test_train: min_frequency 2 gives the characters sorted by
 * code point and three merges. */
START_TEST(hf_test_train)
{
    static const char *const words[] = {"roses", "are", "red", "voilets", "blue", "BERT",
                                        "is",    "big", "and", "so",      "GPT-2"};
    static const uint64_t counts[] = {1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 1};
    word_counts *wc = counts_of(words, counts, 11);
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.min_frequency = 2;
    bpe_trained m;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_OK);
    static const char *const vocab[] = {"-", "2", "B", "E", "G", "P", "R", "T", "a",
                                        "b", "d", "e", "g", "i", "l", "n", "o", "r",
                                        "s", "t", "u", "v", "re", "are", "is"};
    ck_assert_uint_eq(m.n_tokens, 25);
    for (size_t i = 0; i < 25; i++)
        ck_assert_str_eq(tok(&m, i), vocab[i]);
    static const uint32_t merges[][2] = {{17, 11}, {8, 22}, {13, 18}};
    ck_assert_uint_eq(m.n_merges, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(m.merges[i][0], merges[i][0]);
        ck_assert_uint_eq(m.merges[i][1], merges[i][1]);
    }
    bpe_trained_free(&m);
    word_counts_free(wc);
}
END_TEST

/* trainer.rs bpe_test_max_token_length_direct_assert: ids spelled out. */
START_TEST(hf_max_token_length)
{
    static const char *const words[] = {"sin",    "Sin",    "Lon",    "Ano",    "짧은한", "긴한글",
                                        "短字符", "长字符", "短い文", "長い文", "so",     "GP"};
    static const uint64_t counts[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    word_counts *wc = counts_of(words, counts, 12);
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.max_token_length = 2;
    bpe_trained m;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_OK);
    static const struct {
        const char *t;
        size_t id;
    } want[] = {{"短", 12},  {"n", 6},  {"i", 5},   {"s", 8},     {"字符", 23}, {"長", 14},
                {"긴", 17},  {"い文", 22}, {"L", 2},  {"in", 21},   {"o", 7},     {"은한", 29},
                {"S", 4},    {"P", 3},  {"so", 27}, {"符", 13},   {"文", 11},   {"字", 10},
                {"짧", 19},  {"GP", 25}, {"글", 16}, {"G", 1},     {"An", 24},   {"长", 15},
                {"A", 0},    {"Lo", 26}, {"긴한", 28}, {"い", 9},   {"한", 20},   {"은", 18}};
    ck_assert_uint_eq(m.n_tokens, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_str_eq(tok(&m, want[i].id), want[i].t);
    bpe_trained_free(&m);
    word_counts_free(wc);
}
END_TEST

/* ------------------------------------------------------------ 1 MB parity */

START_TEST(bytelevel_bpe_matches_hf_on_wikitext2)
{
    word_counts *wc = load_counts("wikitext2-valid.bytelevel.counts.gz");
    size_t nv, nm;
    char **vocab = read_gz_lines("wikitext2-valid.bytelevel.vocab.gz", &nv);
    char **merges = read_gz_lines("wikitext2-valid.bytelevel.merges.gz", &nm);

    bpe_trained m;
    ck_assert_int_eq(bpe_train(wc, NULL, &m), MLM_OK); /* HF's defaults, as the binding trains */
    size_t bad = 0;
    for (size_t i = 0; i < nv && i < m.n_tokens; i++)
        if (strcmp(m.tokens[i], vocab[i]) != 0 && bad++ < 10)
            fprintf(stderr, "vocab id %zu: \"%s\", HF \"%s\"\n", i, m.tokens[i], vocab[i]);
    char buf[4096];
    for (size_t i = 0; i < nm && i < m.n_merges; i++) {
        snprintf(buf, sizeof buf, "%s %s", m.tokens[m.merges[i][0]], m.tokens[m.merges[i][1]]);
        if (strcmp(buf, merges[i]) != 0 && bad++ < 20)
            fprintf(stderr, "merge rank %zu: \"%s\", HF \"%s\"\n", i, buf, merges[i]);
    }
    ck_assert_uint_eq(m.n_tokens, nv);
    ck_assert_uint_eq(m.n_merges, nm);
    ck_assert_msg(bad == 0, "%zu differences from HF", bad);

    bpe_trained_free(&m);
    free_lines(vocab, nv);
    free_lines(merges, nm);
    word_counts_free(wc);
}
END_TEST

/* ------------------------------------------------------------ WordPiece */

START_TEST(wordpiece_properties_and_hf_overlap)
{
    word_counts *wc = load_counts("wikitext2-valid.bert.counts.gz");

    /* Properties, with BERT's special tokens and a smaller vocabulary. */
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.vocab_size = 8000;
    s.special_tokens = specials;
    s.n_special_tokens = 5;
    bpe_trained m;
    ck_assert_int_eq(wordpiece_train(wc, &s, &m), MLM_OK);
    ck_assert_uint_eq(m.n_tokens, 8000);
    ck_assert_uint_eq(m.n_merges, 0);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(m.tokens[i], specials[i]);
    for (size_t i = 0; i < word_counts_size(wc); i++) {
        const char *w = word_counts_word(wc, i, NULL, NULL);
        ck_assert_msg(wordpiece_covers(&m, w, "##"), "word \"%s\" needs [UNK]", w);
    }
    /* no duplicates */
    word_counts *seen = NULL;
    ck_assert_int_eq(word_counts_new(&seen), MLM_OK);
    for (size_t i = 0; i < m.n_tokens; i++) {
        ck_assert_uint_eq(word_counts_get(seen, m.tokens[i], m.token_lens[i]), 0);
        ck_assert_int_eq(word_counts_add(seen, m.tokens[i], m.token_lens[i], 1), MLM_OK);
    }
    word_counts_free(seen);
    bpe_trained_free(&m);

    /* Overlap with HF's WordPieceTrainer (the binding's defaults). */
    size_t nv;
    char **vocab = read_gz_lines("wikitext2-valid.bert.wordpiece.vocab.gz", &nv);
    ck_assert_int_eq(wordpiece_train(wc, NULL, &m), MLM_OK);
    word_counts *ours = NULL;
    ck_assert_int_eq(word_counts_new(&ours), MLM_OK);
    for (size_t i = 0; i < m.n_tokens; i++)
        ck_assert_int_eq(word_counts_add(ours, m.tokens[i], m.token_lens[i], 1), MLM_OK);
    size_t common = 0;
    for (size_t i = 0; i < nv; i++)
        common += word_counts_get(ours, vocab[i], strlen(vocab[i])) != 0;
    double overlap = (double)common / (double)nv;
    fprintf(stderr, "wordpiece: %zu tokens (HF %zu), %.2f%% of HF's vocabulary\n", m.n_tokens, nv,
            100.0 * overlap);
    /* HF's own runs end between 26211 and 26212 tokens here */
    ck_assert_uint_le(m.n_tokens > nv ? m.n_tokens - nv : nv - m.n_tokens, nv / 200);
    ck_assert_msg(overlap >= 0.98, "only %.2f%% of HF's vocabulary", 100.0 * overlap);
    word_counts_free(ours);
    free_lines(vocab, nv);
    bpe_trained_free(&m);
    word_counts_free(wc);
}
END_TEST

/* ------------------------------------------------------------ settings */

START_TEST(settings_specials_alphabet_prefix_suffix)
{
    static const char *const words[] = {"hello", "hell", "help", "a", "zz"};
    static const uint64_t counts[] = {5, 3, 2, 1, 1};
    word_counts *wc = counts_of(words, counts, 5);
    bpe_trained m;

    /* special tokens first, duplicates and a token equal to a character once */
    static const char *const specials[] = {"<s>", "e", "<s>", "</s>"};
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.special_tokens = specials;
    s.n_special_tokens = 4;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_OK);
    ck_assert_str_eq(tok(&m, 0), "<s>");
    ck_assert_str_eq(tok(&m, 1), "e");
    ck_assert_str_eq(tok(&m, 2), "</s>");
    ck_assert_str_eq(tok(&m, 3), "a"); /* then the alphabet by code point, "e" skipped */
    ck_assert_str_eq(tok(&m, 4), "h");
    ck_assert_str_eq(tok(&m, 5), "l");
    ck_assert_str_eq(tok(&m, 6), "o");
    ck_assert_str_eq(tok(&m, 7), "p");
    ck_assert_str_eq(tok(&m, 8), "z");
    /* (h,e) and (e,l) both occur 10 times: the smaller pair, (e=1,l=5), first */
    ck_assert_str_eq(tok(&m, 9), "el");
    bpe_trained_free(&m);

    /* limit_alphabet keeps the most frequent; initial_alphabet always */
    static const uint32_t initial[] = {'Q'};
    bpe_trainer_settings_default(&s);
    s.has_limit_alphabet = 1;
    s.limit_alphabet = 4;
    s.initial_alphabet = initial;
    s.n_initial_alphabet = 1;
    s.vocab_size = 4;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_OK);
    /* counts: l 21, e 10, h 10, o 5, p 2, z 2, a 1; Q max. Keep Q l + e h */
    ck_assert_uint_eq(m.n_tokens, 4);
    ck_assert_str_eq(tok(&m, 0), "Q");
    ck_assert_str_eq(tok(&m, 1), "e");
    ck_assert_str_eq(tok(&m, 2), "h");
    ck_assert_str_eq(tok(&m, 3), "l");
    bpe_trained_free(&m);

    /* prefix and suffix, min_frequency stop */
    bpe_trainer_settings_default(&s);
    s.continuing_subword_prefix = "##";
    s.end_of_word_suffix = "</w>";
    s.min_frequency = 10;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_OK);
    ck_assert_int_ge(bpe_trained_find(&m, "##l</w>"), 0);
    ck_assert_int_ge(bpe_trained_find(&m, "a</w>"), 0);
    ck_assert_int_ge(bpe_trained_find(&m, "he"), 0);   /* h + ##e -> "he" */
    ck_assert_int_lt(bpe_trained_find(&m, "help"), 0); /* count 2 < 10 */
    for (size_t i = 0; i < m.n_merges; i++)
        ck_assert_str_ne(tok(&m, m.merges[i][0]), "##p");
    bpe_trained_free(&m);

    /* vocab_size below the alphabet: no merge, whole alphabet kept */
    bpe_trainer_settings_default(&s);
    s.vocab_size = 1;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_OK);
    ck_assert_uint_eq(m.n_tokens, 7);
    ck_assert_uint_eq(m.n_merges, 0);
    bpe_trained_free(&m);
    word_counts_free(wc);
}
END_TEST

START_TEST(word_counts_and_bad_input)
{
    word_counts *wc = NULL;
    ck_assert_int_eq(word_counts_new(&wc), MLM_OK);
    ck_assert_int_eq(word_counts_add(wc, "ab", 2, 3), MLM_OK);
    ck_assert_int_eq(word_counts_add(wc, "ab", 2, 4), MLM_OK);
    ck_assert_int_eq(word_counts_add(wc, "a\0b", 3, 1), MLM_OK); /* NUL inside is a char */
    ck_assert_int_eq(word_counts_add(wc, "", 0, 2), MLM_OK);
    ck_assert_uint_eq(word_counts_size(wc), 3);
    ck_assert_uint_eq(word_counts_get(wc, "ab", 2), 7);
    ck_assert_uint_eq(word_counts_get(wc, "a\0b", 3), 1);
    ck_assert_uint_eq(word_counts_get(wc, "a", 1), 0);
    size_t len;
    uint64_t c;
    ck_assert_str_eq(word_counts_word(wc, 0, &len, &c), "ab");
    ck_assert_ptr_null(word_counts_word(wc, 3, &len, &c));
    /* invalid UTF-8: cut sequence, overlong, surrogate, beyond U+10FFFF */
    static const char *const bad[] = {"\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                      "a\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(word_counts_add(wc, bad[i], strlen(bad[i]), 1), MLM_ERR_FORMAT);
    ck_assert_uint_eq(word_counts_size(wc), 3);

    word_counts *other = NULL;
    ck_assert_int_eq(word_counts_new(&other), MLM_OK);
    ck_assert_int_eq(word_counts_add(other, "ab", 2, 1), MLM_OK);
    ck_assert_int_eq(word_counts_add(other, "zz", 2, 5), MLM_OK);
    ck_assert_int_eq(word_counts_merge(wc, other), MLM_OK);
    ck_assert_uint_eq(word_counts_get(wc, "ab", 2), 8);
    ck_assert_uint_eq(word_counts_get(wc, "zz", 2), 5);

    bpe_trained m;
    ck_assert_int_eq(bpe_train(wc, NULL, &m), MLM_OK);
    ck_assert_int_ge(bpe_trained_find(&m, "ab"), 0);
    bpe_trained_free(&m);
    bpe_trained_free(NULL);
    word_counts_free(NULL);

    ck_assert_int_eq(bpe_train(NULL, NULL, &m), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(m.n_tokens, 0);
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.n_special_tokens = 1; /* but no array */
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_ERR_INVALID_ARGUMENT);
    static const uint32_t surrogate[] = {0xD800};
    bpe_trainer_settings_default(&s);
    s.initial_alphabet = surrogate;
    s.n_initial_alphabet = 1;
    ck_assert_int_eq(bpe_train(wc, &s, &m), MLM_ERR_INVALID_ARGUMENT);

    /* empty input */
    word_counts *empty = NULL;
    ck_assert_int_eq(word_counts_new(&empty), MLM_OK);
    ck_assert_int_eq(bpe_train(empty, NULL, &m), MLM_OK);
    ck_assert_uint_eq(m.n_tokens, 0);
    bpe_trained_free(&m);
    word_counts_free(empty);
    word_counts_free(other);
    word_counts_free(wc);
}
END_TEST

/* Every allocation of a training run fails in turn: an error, never a crash
 * (leaks show under make check SANITIZE=1). */
START_TEST(allocation_failures)
{
    static const char *const words[] = {"hello", "hell", "help", "Ġthe", "aaaa", "한국어"};
    static const uint64_t counts[] = {5, 3, 2, 7, 4, 2};
    static const char *const specials[] = {"[PAD]", "[UNK]"};
    word_counts *wc = counts_of(words, counts, 6);
    bpe_trainer_settings s;
    bpe_trainer_settings_default(&s);
    s.special_tokens = specials;
    s.n_special_tokens = 2;
    bpe_trained ref;
    ck_assert_int_eq(wordpiece_train(wc, &s, &ref), MLM_OK);
    int succeeded = 0;
    for (long n = 0; n < 2000 && !succeeded; n++) {
        bpe_trained m;
        mem_fail_after(n);
        mlm_status st = wordpiece_train(wc, &s, &m);
        mem_fail_after(-1);
        if (st == MLM_OK) {
            ck_assert_uint_eq(m.n_tokens, ref.n_tokens);
            bpe_trained_free(&m);
            succeeded = 1;
        } else {
            ck_assert_int_eq(st, MLM_ERR_OUT_OF_MEMORY);
            ck_assert_uint_eq(m.n_tokens, 0);
        }
    }
    ck_assert(succeeded);
    for (long n = 0; n < 50; n++) {
        word_counts *w2 = NULL;
        mem_fail_after(n);
        mlm_status st = word_counts_new(&w2);
        for (int i = 0; st == MLM_OK && i < 200; i++) {
            char b[16];
            snprintf(b, sizeof b, "w%d", i);
            st = word_counts_add(w2, b, strlen(b), 1);
        }
        mem_fail_after(-1);
        ck_assert(st == MLM_OK || st == MLM_ERR_OUT_OF_MEMORY);
        word_counts_free(w2);
    }
    bpe_trained_free(&ref);
    word_counts_free(wc);
}
END_TEST

Suite *bpe_trainer_suite(void)
{
    Suite *s = suite_create("bpe_trainer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hf_test_train);
    tcase_add_test(tc, hf_max_token_length);
    tcase_add_test(tc, settings_specials_alphabet_prefix_suffix);
    tcase_add_test(tc, word_counts_and_bad_input);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, bytelevel_bpe_matches_hf_on_wikitext2);
    tcase_add_test(tc, wordpiece_properties_and_hf_overlap);
    suite_add_tcase(s, tc);
    return s;
}
