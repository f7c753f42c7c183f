/* BPE and WordPiece training with Hugging Face `tokenizers` parity.
 *
 * Internal API behind mlm_tokenizer_trainer_*. The caller normalizes and
 * pre-tokenizes the training text and counts the resulting words
 * (word_counts); bpe_train() then reproduces HF's BpeTrainer::do_train
 * (tokenizers/src/models/bpe/trainer.rs) and wordpiece_train() its
 * WordPieceTrainer (a BpeTrainer with continuing_subword_prefix "##" whose
 * vocabulary becomes the WordPiece vocabulary).
 *
 * What "parity" means here:
 *   - ids: special tokens first (in the order given, duplicates skipped), then
 *     the alphabet sorted by code point, then (with a prefix or suffix) the
 *     prefixed/suffixed characters, then one id per new merged token;
 *   - merges: performed in HF's order, a pair chosen by (count, then the
 *     smaller (left id, right id)), with HF's lazy count updates, its
 *     per-queue-entry word sets and its max_token_length rule. A pair merged
 *     twice keeps its last rank, as HF's merge map does; bpe_trained.merges
 *     lists the pairs in rank order as tokenizer.json does.
 *   - Where HF depends on HashMap iteration order we are deterministic
 *     instead: the prefixed characters (WordPiece) get ids in the order of
 *     the words sorted bytewise, and limit_alphabet drops, among characters
 *     of equal count, the higher code points first. So ByteLevel BPE (no
 *     prefix, no limit ties) matches HF exactly; WordPiece matches up to the
 *     ids of "##x" tokens and the merges their id order breaks ties on.
 *
 * Counts are 64-bit here where HF uses i32 pair counts: results differ only
 * beyond 2^31 occurrences of one pair.
 *
 * Thread safety: no shared state; distinct objects may be used on distinct
 * threads. All functions report failures through err_set().
 */
#ifndef MLM_TEXT_BPE_TRAINER_H
#define MLM_TEXT_BPE_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"

/* ------------------------------------------------------------ word counts */

/* A hash map from a word (UTF-8 bytes, NUL allowed inside) to a count,
 * remembering insertion order. */
typedef struct word_counts word_counts;

mlm_status word_counts_new(word_counts **out);
void word_counts_free(word_counts *wc); /* accepts NULL */

/* Add `count` to the word's count (inserting it at 0 first). The word must be
 * valid UTF-8 (MLM_ERR_FORMAT otherwise, naming the byte offset). */
mlm_status word_counts_add(word_counts *wc, const char *word, size_t len, uint64_t count);

/* Add every word of src to dst (what HF's parallel feed does per chunk). */
mlm_status word_counts_merge(word_counts *dst, const word_counts *src);

/* Number of distinct words. */
size_t word_counts_size(const word_counts *wc);

/* The i-th distinct word in insertion order (i < word_counts_size()). The
 * word is owned by wc and NUL-terminated; *len excludes the NUL. */
const char *word_counts_word(const word_counts *wc, size_t i, size_t *len, uint64_t *count);

/* The count of a word, 0 when absent. */
uint64_t word_counts_get(const word_counts *wc, const char *word, size_t len);

/* ------------------------------------------------------------ settings */

typedef struct bpe_trainer_settings {
    size_t vocab_size;      /* target size, special tokens included (HF 30000) */
    uint64_t min_frequency; /* stop when the best pair is rarer (HF 0) */
    const char *const *special_tokens; /* UTF-8, NUL-terminated; may be NULL */
    size_t n_special_tokens;
    size_t limit_alphabet;  /* keep at most this many characters; */
    int has_limit_alphabet; /* only when this is nonzero (HF None) */
    const uint32_t *initial_alphabet; /* code points always kept; may be NULL */
    size_t n_initial_alphabet;
    const char *continuing_subword_prefix; /* NULL: none ("##" for WordPiece) */
    const char *end_of_word_suffix;        /* NULL: none */
    size_t max_token_length;               /* 0: unlimited (HF None) */
} bpe_trainer_settings;

/* HF's BpeTrainer defaults: vocab 30000, min_frequency 0, nothing else. */
void bpe_trainer_settings_default(bpe_trainer_settings *s);

/* ------------------------------------------------------------ results */

typedef struct bpe_trained {
    char **tokens;      /* tokens[id], NUL-terminated, for id < n_tokens */
    size_t *token_lens; /* byte length of each (a token may hold U+0000) */
    size_t n_tokens;
    uint32_t (*merges)[2]; /* merges[rank] = {left id, right id}, rank order */
    size_t n_merges;
    size_t n_merges_performed; /* including repeats of a pair (HF keeps the last) */
} bpe_trained;

/* Frees what a bpe_trained holds and zeroes it; accepts NULL. */
void bpe_trained_free(bpe_trained *m);

/* The id of a token string in a result, or -1. Linear; for tests. */
int64_t bpe_trained_find(const bpe_trained *m, const char *token);

/* ------------------------------------------------------------ training */

/* Train a BPE model from word counts with the given settings (NULL: the
 * defaults). On success *out holds the vocabulary and merges (the caller
 * frees them with bpe_trained_free); on failure *out is zeroed. */
mlm_status bpe_train(const word_counts *wc, const bpe_trainer_settings *s, bpe_trained *out);

/* HF's WordPieceTrainer: bpe_train() with continuing_subword_prefix "##"
 * unless s sets another; the WordPiece vocabulary is out->tokens (merges
 * are left empty). */
mlm_status wordpiece_train(const word_counts *wc, const bpe_trainer_settings *s,
                           bpe_trained *out);

#endif
