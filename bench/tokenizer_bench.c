/* Tokenizer throughput: encode_batch over WikiText-2 (valid) lines on 1 and
 * 2 threads, for the tokenizers in ../shared. MB/s of input text. */
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *corpus = argc > 1 ? argv[1] : "../shared/data/corpora/wikitext-2-raw/wiki.valid.raw";
    const char *toks[] = {"../shared/data/tokenizers/bert-base-uncased/tokenizer.json",
                          "../shared/data/tokenizers/roberta-base/tokenizer.json",
                          "../shared/data/tokenizers/t5-small/tokenizer.json"};
    FILE *f = fopen(corpus, "rb");
    if (!f) {
        printf("skip: %s is absent\n", corpus);
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    data[size] = '\0';
    size_t n = 0, cap = 1024, bytes = 0;
    const char **lines = malloc(cap * sizeof *lines);
    for (char *p = strtok(data, "\n"); p; p = strtok(NULL, "\n")) {
        if (n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = p;
        bytes += strlen(p);
    }
    mlm_encoding **out = malloc(n * sizeof *out);
    for (size_t t = 0; t < sizeof toks / sizeof *toks; t++) {
        mlm_tokenizer *tok;
        if (mlm_tokenizer_load(toks[t], &tok)) {
            printf("skip %s: %s\n", toks[t], mlm_last_error());
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            double best = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = now();
                if (mlm_tokenizer_encode_batch(tok, lines, NULL, n, 1, threads, out)) {
                    printf("error: %s\n", mlm_last_error());
                    return 1;
                }
                double dt = now() - t0;
                if (dt < best) best = dt;
                for (size_t i = 0; i < n; i++)
                    mlm_encoding_free(out[i]);
            }
            printf("%-60s %d thread(s): %7.2f MB/s (%zu lines, %.1f MB)\n", toks[t], threads,
                   bytes / best / 1e6, n, bytes / 1e6);
        }
        mlm_tokenizer_free(tok);
    }
    free(out);
    free(lines);
    free(data);
    return 0;
}
