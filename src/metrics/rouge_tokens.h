/* rouge_score's tokenizer (tokenize.py, through tokenizers.DefaultTokenizer):
 * texts to lists of token ids, with the line ends rougeLsum splits on.
 *
 * tokenize(text, stemmer) lowercases with str.lower(), replaces every run
 * of characters outside [a-z0-9] by a space, splits on whitespace, stems
 * the tokens longer than 3 characters when it has a stemmer (NLTK's
 * PorterStemmer()), and drops the tokens that do not match ^[a-z0-9]+$
 * (only the empty ones can remain by then). Of Unicode's lowercase
 * mappings only two reach [a-z0-9]: U+0130 'İ' → "i" + U+0307, and U+212A
 * KELVIN SIGN → "k"; every other character outside ASCII separates tokens.
 *
 * rougeLsum tokenizes each "\n"-separated line on its own. Lines never
 * share a token ("\n" separates), so the whole text is tokenized once and
 * the line ends recorded: line i is ids[line_end[i-1] .. line_end[i]). The
 * lines rouge_score drops (empty ones) have no tokens, and a line without
 * tokens changes no score, so none is left out here. */
#ifndef MLM_METRICS_ROUGE_TOKENS_H
#define MLM_METRICS_ROUGE_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"
#include "text/strmap.h"

/* Token strings to dense ids 0, 1, ...: one per pair of texts scored, so
 * that equal tokens of the two texts get equal ids. With the stemmer the
 * ids are those of the stems, and each distinct token is stemmed once. */
typedef struct rouge_vocab {
    int stem;
    strmap ids;  /* token (stem) -> id */
    strmap raw;  /* with the stemmer: token as written -> id of its stem */
    char *buf;   /* the token being read, then its stem */
    size_t cap;
} rouge_vocab;

typedef struct rouge_text {
    uint32_t *ids;
    size_t n, cap;
    size_t *line_end; /* token index where each line ends; the last is n */
    size_t nlines, lines_cap;
} rouge_text;

void rouge_vocab_init(rouge_vocab *v, int stem);
void rouge_vocab_free(rouge_vocab *v);
/* The number of distinct ids handed out. */
size_t rouge_vocab_size(const rouge_vocab *v);

/* Tokenize text[0..len) (UTF-8) into *out (emptied first). Invalid UTF-8
 * is MLM_ERR_FORMAT ("invalid UTF-8 at byte N"); more than 2^32 - 1 tokens
 * in a pair MLM_ERR_RANGE. */
mlm_status rouge_tokenize(rouge_vocab *v, const char *text, size_t len, rouge_text *out);

void rouge_text_free(rouge_text *t);

#endif
