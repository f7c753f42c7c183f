/* NLTK 3.8's PorterStemmer (nltk/stem/porter.py), mode NLTK_EXTENSIONS.
 * Each function below names the method of porter.py it follows; the steps
 * work in place on the word, which only ever gets shorter than the input
 * (see porter_stem). */
#include "metrics/porter.h"

#include <string.h>

/* A word being stemmed: w[0..n). */
typedef struct word {
    char *w;
    size_t n;
} word;

static int is_vowel_letter(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* _is_consonant: a letter other than a e i o u, and other than a y that
 * follows a consonant; a y at position 0 is a consonant. The recursion of
 * porter.py walks back over a run of y's, each flipping the answer. */
static int is_consonant(const char *w, size_t i)
{
    int flips = 0;
    while (w[i] == 'y' && i > 0) {
        flips ^= 1;
        i--;
    }
    int c = w[i] == 'y' ? 1 : !is_vowel_letter(w[i]);
    return flips ? !c : c;
}

/* _measure: the number of vowel→consonant transitions in w[0..n), i.e. m
 * in [C](VC){m}[V]. Consonant-ness is computed left to right (a y depends
 * only on the letter before it). */
static size_t measure(const char *w, size_t n)
{
    size_t m = 0;
    int prev = 1; /* treated as a consonant before the word: no transition */
    for (size_t i = 0; i < n; i++) {
        int c = w[i] == 'y' ? (i == 0 ? 1 : !prev) : !is_vowel_letter(w[i]);
        if (c && !prev)
            m++;
        prev = c;
    }
    return m;
}

/* _contains_vowel */
static int contains_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_consonant(w, i))
            return 1;
    return 0;
}

/* _ends_double_consonant (*d) */
static int ends_double_consonant(const char *w, size_t n)
{
    return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

/* _ends_cvc (*o), with NLTK's extension for two-letter stems ("vc"). */
static int ends_cvc(const char *w, size_t n)
{
    if (n >= 3)
        return is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) &&
               w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y';
    return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

static int ends_with(const word *x, const char *suffix, size_t slen)
{
    return x->n >= slen && memcmp(x->w + x->n - slen, suffix, slen) == 0;
}
#define ENDS(x, lit) ends_with((x), lit, sizeof lit - 1)

/* Replace the last `cut` bytes by rep (never longer than what the step
 * removed before: see porter_stem). */
static void replace_tail(word *x, size_t cut, const char *rep)
{
    size_t r = strlen(rep);
    memcpy(x->w + x->n - cut, rep, r);
    x->n = x->n - cut + r;
}

/* The conditions of the rule lists, on the stem (the word without the
 * suffix, stem_len bytes) or, for two of NLTK's rules, on the word. */
typedef enum cond {
    ALWAYS,
    M_GT0,      /* m(stem) > 0 */
    M_GT1,      /* m(stem) > 1 */
    M_GT1_ST,   /* m(stem) > 1 and the stem ends in s or t (step 4's -ion) */
    LOGI,       /* m(word[:-3]) > 0: the "l" of -logi stays in the stem */
    Y_AFTER_C   /* step 1c: len(stem) > 1 and the stem ends in a consonant */
} cond;

typedef struct rule {
    const char *suffix, *rep;
    cond when;
} rule;

static int holds(cond when, const word *x, size_t stem_len)
{
    switch (when) {
    case ALWAYS:
        return 1;
    case M_GT0:
        return measure(x->w, stem_len) > 0;
    case M_GT1:
        return measure(x->w, stem_len) > 1;
    case M_GT1_ST:
        return measure(x->w, stem_len) > 1 && stem_len > 0 &&
               (x->w[stem_len - 1] == 's' || x->w[stem_len - 1] == 't');
    case LOGI:
        return measure(x->w, x->n - 3) > 0;
    case Y_AFTER_C:
        return stem_len > 1 && is_consonant(x->w, stem_len - 1);
    }
    return 0;
}

/* _apply_rule_list: the first rule whose suffix ends the word decides; when
 * its condition fails the word stays as it is (later rules are not tried). */
static void apply_rules(word *x, const rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t slen = strlen(rules[i].suffix);
        if (!ends_with(x, rules[i].suffix, slen))
            continue;
        if (holds(rules[i].when, x, x->n - slen))
            replace_tail(x, slen, rules[i].rep);
        return;
    }
}
#define APPLY(x, rules) apply_rules((x), (rules), sizeof(rules) / sizeof((rules)[0]))

/* _step1a, with NLTK's four-letter "ies" → "ie" (dies → die, flies → fli). */
static void step1a(word *x)
{
    static const rule rules[] = {
        {"sses", "ss", ALWAYS}, {"ies", "i", ALWAYS}, {"ss", "ss", ALWAYS}, {"s", "", ALWAYS}};
    if (x->n == 4 && ENDS(x, "ies")) {
        x->n--;
        return;
    }
    APPLY(x, rules);
}

/* _step1b, with NLTK's "ied" (died → die, spied → spi). */
static void step1b(word *x)
{
    if (ENDS(x, "ied")) {
        replace_tail(x, 3, x->n == 4 ? "ie" : "i");
        return;
    }
    if (ENDS(x, "eed")) { /* (m>0) EED -> EE, else the word is kept */
        if (measure(x->w, x->n - 3) > 0)
            x->n--;
        return;
    }
    /* (*v*) ED -> , (*v*) ING -> ; then the tidying rules below */
    size_t cut = ENDS(x, "ed") ? 2 : ENDS(x, "ing") ? 3 : 0;
    if (!cut || !contains_vowel(x->w, x->n - cut))
        return;
    x->n -= cut;
    static const rule tidy[] = {{"at", "ate", ALWAYS}, {"bl", "ble", ALWAYS}, {"iz", "ize", ALWAYS}};
    for (size_t i = 0; i < 3; i++)
        if (ends_with(x, tidy[i].suffix, 2)) {
            replace_tail(x, 2, tidy[i].rep);
            return;
        }
    /* (*d and not (*L or *S or *Z)) -> single letter; a double l, s or z
     * ends the step with the word unchanged (the next rule is not tried) */
    if (ends_double_consonant(x->w, x->n)) {
        char last = x->w[x->n - 1];
        if (last != 'l' && last != 's' && last != 'z')
            x->n--;
        return;
    }
    /* (m=1 and *o) -> E */
    if (measure(x->w, x->n) == 1 && ends_cvc(x->w, x->n))
        replace_tail(x, 0, "e");
}

/* _step1c, NLTK's condition: y → i after a consonant that is not the
 * word's first letter (happy → happi, enjoy and sky unchanged). */
static void step1c(word *x)
{
    static const rule rules[] = {{"y", "i", Y_AFTER_C}};
    APPLY(x, rules);
}

/* _step2. NLTK tries "alli" → "al" first and, when it applies, runs the
 * step again on the result; "bli" → "ble" replaces the paper's "abli";
 * "fulli" and "logi" are NLTK's additions. */
static void step2(word *x)
{
    while (ENDS(x, "alli") && measure(x->w, x->n - 4) > 0)
        x->n -= 2; /* "alli" -> "al", then step 2 again */
    static const rule rules[] = {
        {"ational", "ate", M_GT0}, {"tional", "tion", M_GT0}, {"enci", "ence", M_GT0},
        {"anci", "ance", M_GT0},   {"izer", "ize", M_GT0},    {"bli", "ble", M_GT0},
        {"alli", "al", M_GT0},     {"entli", "ent", M_GT0},   {"eli", "e", M_GT0},
        {"ousli", "ous", M_GT0},   {"ization", "ize", M_GT0}, {"ation", "ate", M_GT0},
        {"ator", "ate", M_GT0},    {"alism", "al", M_GT0},    {"iveness", "ive", M_GT0},
        {"fulness", "ful", M_GT0}, {"ousness", "ous", M_GT0}, {"aliti", "al", M_GT0},
        {"iviti", "ive", M_GT0},   {"biliti", "ble", M_GT0},  {"fulli", "ful", M_GT0},
        {"logi", "log", LOGI}};
    APPLY(x, rules);
}

/* _step3 */
static void step3(word *x)
{
    static const rule rules[] = {{"icate", "ic", M_GT0}, {"ative", "", M_GT0},
                                 {"alize", "al", M_GT0}, {"iciti", "ic", M_GT0},
                                 {"ical", "ic", M_GT0},  {"ful", "", M_GT0},
                                 {"ness", "", M_GT0}};
    APPLY(x, rules);
}

/* _step4 */
static void step4(word *x)
{
    static const rule rules[] = {
        {"al", "", M_GT1},   {"ance", "", M_GT1}, {"ence", "", M_GT1},  {"er", "", M_GT1},
        {"ic", "", M_GT1},   {"able", "", M_GT1}, {"ible", "", M_GT1},  {"ant", "", M_GT1},
        {"ement", "", M_GT1}, {"ment", "", M_GT1}, {"ent", "", M_GT1},  {"ion", "", M_GT1_ST},
        {"ou", "", M_GT1},   {"ism", "", M_GT1},  {"ate", "", M_GT1},   {"iti", "", M_GT1},
        {"ous", "", M_GT1},  {"ive", "", M_GT1},  {"ize", "", M_GT1}};
    APPLY(x, rules);
}

/* _step5a: both of the paper's E rules are tried (m > 1, or m = 1 and not
 * *o), unlike a rule list. */
static void step5a(word *x)
{
    if (!ENDS(x, "e"))
        return;
    size_t m = measure(x->w, x->n - 1);
    if (m > 1 || (m == 1 && !ends_cvc(x->w, x->n - 1)))
        x->n--;
}

/* _step5b: (m > 1 and *d and *L) -> single letter, the measure taken on
 * the word without its last letter. */
static void step5b(word *x)
{
    if (ENDS(x, "ll") && measure(x->w, x->n - 1) > 1)
        x->n--;
}

/* NLTK_EXTENSIONS' pool of irregular forms: word → stem, returned as is. */
static const char *const IRREGULAR[][2] = {
    {"sky", "sky"},         {"skies", "sky"},      {"dying", "die"},      {"lying", "lie"},
    {"tying", "tie"},       {"news", "news"},      {"innings", "inning"}, {"inning", "inning"},
    {"outings", "outing"},  {"outing", "outing"},  {"cannings", "canning"},
    {"canning", "canning"}, {"howe", "howe"},      {"proceed", "proceed"},
    {"exceed", "exceed"},   {"succeed", "succeed"}};

/* PorterStemmer.stem. Lengths: step 1a and 1b only shorten the word except
 * where step 1b appends one letter ("at" -> "ate", "bl" -> "ble", "iz" ->
 * "ize", "" -> "e") after having removed "ed" or "ing"; steps 1c and 2
 * replace a suffix by one no longer ("bli" -> "ble", "y" -> "i"), the
 * later steps only cut. So the stem never outgrows the word, and out needs
 * len bytes. */
size_t porter_stem(const char *word_in, size_t len, char *out)
{
    for (size_t i = 0; i < sizeof IRREGULAR / sizeof IRREGULAR[0]; i++)
        if (strlen(IRREGULAR[i][0]) == len && memcmp(IRREGULAR[i][0], word_in, len) == 0) {
            size_t n = strlen(IRREGULAR[i][1]);
            memcpy(out, IRREGULAR[i][1], n);
            return n;
        }
    memcpy(out, word_in, len);
    if (len <= 2) /* NLTK leaves words of one or two letters alone */
        return len;
    word x = {out, len};
    step1a(&x);
    step1b(&x);
    step1c(&x);
    step2(&x);
    step3(&x);
    step4(&x);
    step5a(&x);
    step5b(&x);
    return x.n;
}
