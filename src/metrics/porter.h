/* The Porter stemmer as NLTK 3.8's PorterStemmer() runs it: mode
 * NLTK_EXTENSIONS, its default and what rouge_score uses. That mode is
 * Porter's 1980 algorithm with Martin Porter's later changes and NLTK's
 * own: a table of irregular forms (dying → die, skies → sky, news, ...),
 * words of one or two letters left alone, "ies"/"ied" on four-letter words
 * kept as "ie" (dies → die), y → i only after a consonant that is not the
 * first letter, "alli" → "al" tried first in step 2 (and step 2 run again),
 * "bli" → "ble" instead of "abli" → "able", "fulli" → "ful", "logi" →
 * "log" with the measure taken with the "l", and *o true for a two-letter
 * vowel-consonant stem. Snowball's "porter" (libstemmer) is the original
 * algorithm without these and differs on about 2% of WikiText-2's words
 * (tests/tools/porter_vs_libstemmer.py counts them).
 *
 * Words are bytes, as rouge_score's tokens are ([a-z0-9]+): lowercase
 * ASCII is expected (NLTK lowercases first; this does not), and every byte
 * other than a, e, i, o, u and y is a consonant, digits included, as in
 * NLTK. */
#ifndef MLM_METRICS_PORTER_H
#define MLM_METRICS_PORTER_H

#include <stddef.h>

/* The stem of word[0..len) into out, which must hold len bytes (a stem is
 * never longer than its word; no NUL is written); returns its length.
 * Pure and thread-safe. */
size_t porter_stem(const char *word, size_t len, char *out);

#endif
