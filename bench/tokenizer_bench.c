/* Tokenizer throughput: mlm_tokenizer_encode_batch over the lines of a
 * corpus (WikiText-2 valid by default), one text per line, exactly as the HF
 * peer bench/tokenize_hf.js splits them (on '\n', empty lines kept, no
 * special tokens added). Reports MB/s of UTF-8 input and tokens/s, the
 * median of RUNS timed runs after one warm-up.
 *
 *   tokenizer_bench                         the table for the tokenizers in
 *                                           ../shared, 1 and 2 threads
 *   tokenizer_bench --json TOKENIZER THREADS [CORPUS]
 *                                           one JSON line (used by
 *                                           bench/tokenize.sh, which runs
 *                                           HF beside it and prints ratios)
 */
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5
#define DEFAULT_CORPUS "../shared/data/corpora/wikitext-2-raw/wiki.valid.raw"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct corpus {
    char *data;
    const char **lines;
    size_t n, bytes;
} corpus;

/* Lines split on '\n' (JavaScript's split('\n')): n = newlines + 1. */
static int corpus_read(const char *path, corpus *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->data = malloc((size_t)size + 1);
    if (!c->data || fread(c->data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return -1;
    }
    fclose(f);
    c->data[size] = '\0';
    size_t n = 1;
    for (long i = 0; i < size; i++)
        n += c->data[i] == '\n';
    c->lines = malloc(n * sizeof *c->lines);
    if (!c->lines) return -1;
    c->n = 0;
    c->bytes = 0;
    char *p = c->data;
    for (;;) {
        char *nl = strchr(p, '\n');
        c->lines[c->n++] = p;
        if (!nl) break;
        *nl = '\0';
        c->bytes += (size_t)(nl - p);
        p = nl + 1;
    }
    c->bytes += strlen(p);
    return 0;
}

typedef struct result {
    double median, min, max;
    size_t tokens;
} result;

static int run(const mlm_tokenizer *tok, const corpus *c, int threads, result *r)
{
    mlm_encoding **out = malloc(c->n * sizeof *out);
    double times[RUNS];
    if (!out) return -1;
    for (int rep = -1; rep < RUNS; rep++) {
        double t0 = now();
        if (mlm_tokenizer_encode_batch(tok, c->lines, NULL, c->n, 0, threads, out)) {
            fprintf(stderr, "error: %s\n", mlm_last_error());
            free(out);
            return -1;
        }
        double dt = now() - t0;
        if (rep >= 0) times[rep] = dt;
        r->tokens = 0;
        for (size_t i = 0; i < c->n; i++) {
            r->tokens += mlm_encoding_length(out[i]);
            mlm_encoding_free(out[i]);
        }
    }
    free(out);
    qsort(times, RUNS, sizeof times[0], cmp_double);
    r->median = times[RUNS / 2];
    r->min = times[0];
    r->max = times[RUNS - 1];
    return 0;
}

static int json_mode(const char *tok_path, int threads, const char *corpus_path)
{
    corpus c;
    if (corpus_read(corpus_path, &c)) {
        fprintf(stderr, "cannot read %s\n", corpus_path);
        return 1;
    }
    mlm_tokenizer *tok;
    if (mlm_tokenizer_load(tok_path, &tok)) {
        fprintf(stderr, "%s\n", mlm_last_error());
        return 1;
    }
    result r;
    if (run(tok, &c, threads, &r)) return 1;
    printf("{\"lines\":%zu,\"bytes\":%zu,\"tokens\":%zu,\"median_s\":%.6f,\"min_s\":%.6f,"
           "\"max_s\":%.6f}\n",
           c.n, c.bytes, r.tokens, r.median, r.min, r.max);
    mlm_tokenizer_free(tok);
    free(c.lines);
    free(c.data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--json"))
        return json_mode(argv[2], atoi(argv[3]), argc > 4 ? argv[4] : DEFAULT_CORPUS);
    const char *path = argc > 1 ? argv[1] : DEFAULT_CORPUS;
    static const char *const toks[] = {"../shared/data/tokenizers/bert-base-uncased/tokenizer.json",
                                       "../shared/data/tokenizers/roberta-base/tokenizer.json",
                                       "../shared/data/tokenizers/t5-small/tokenizer.json"};
    corpus c;
    if (corpus_read(path, &c)) {
        printf("skip: %s is absent\n", path);
        return 0;
    }
    printf("corpus %s: %zu lines, %.2f MB; median of %d runs, no special tokens\n", path, c.n,
           (double)c.bytes / 1e6, RUNS);
    for (size_t t = 0; t < sizeof toks / sizeof *toks; t++) {
        mlm_tokenizer *tok;
        if (mlm_tokenizer_load(toks[t], &tok)) {
            printf("skip %s: %s\n", toks[t], mlm_last_error());
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            result r;
            if (run(tok, &c, threads, &r)) return 1;
            printf("%-60s %d thread(s): %7.2f MB/s %6.3f Mtok/s\n", toks[t], threads,
                   (double)c.bytes / r.median / 1e6, (double)r.tokens / r.median / 1e6);
        }
        mlm_tokenizer_free(tok);
    }
    free(c.lines);
    free(c.data);
    return 0;
}
