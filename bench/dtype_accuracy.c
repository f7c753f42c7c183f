/* What bf16 and int8 weights cost in accuracy (issue #15): a masked-LM's
 * predictions at held-out mask positions, fp32 against bf16 and int8
 * (mlm_model_load_dtype), on the same inputs.
 *
 *   build/bench/dtype_accuracy MODEL_DIR HELDOUT.txt [--positions N] [--threads N]
 *                              [--seq T] [--seed S]
 *
 * MODEL_DIR holds config.json, model.safetensors and the tokenizer (a model
 * trained with `mlm train`: bench/run_dtype_accuracy.sh makes one). Each
 * non-blank line of HELDOUT.txt (WikiText headings " = ... = " skipped) is
 * one input, truncated to T tokens; 15% of each input's non-special tokens
 * are replaced by the mask token (a fixed generator, seed S), until N
 * positions (1500) are collected. Printed per dtype: top-1 agreement with
 * fp32, the mean overlap of the top-5 sets, the largest difference of a
 * softmax score (the pipeline's score) over the top 5 of fp32, the largest
 * difference of a logit, and each dtype's top-1 accuracy against the
 * original token. Never part of make check. */
#include <math.h>
#include <mlm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXLINE (1 << 20)

typedef struct inputs {
    int B, T;              /* rows, padded length */
    int32_t *ids, *mask;   /* (B, T) */
    int32_t *pos;          /* n flat positions */
    int32_t *label;        /* n original tokens */
    int n;
} inputs;

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int heading(const char *s)
{
    while (*s == ' ')
        s++;
    return *s == '=' || *s == '\0' || *s == '\n';
}

static int build_inputs(const mlm_tokenizer *tok, const char *path, int want, int T, uint64_t seed,
                        inputs *in)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    int32_t mask_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK);
    int32_t pad_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD);
    char *line = malloc(MAXLINE);
    int cap = 64;
    memset(in, 0, sizeof *in);
    in->T = T;
    in->ids = malloc((size_t)cap * T * sizeof(int32_t));
    in->mask = malloc((size_t)cap * T * sizeof(int32_t));
    in->pos = malloc((size_t)want * sizeof(int32_t));
    in->label = malloc((size_t)want * sizeof(int32_t));
    while (in->n < want && fgets(line, MAXLINE, f)) {
        if (heading(line))
            continue;
        line[strcspn(line, "\n")] = 0;
        mlm_encoding *e = NULL;
        if (mlm_tokenizer_encode(tok, line, strlen(line), NULL, 0, 1, &e) != MLM_OK) {
            fprintf(stderr, "%s\n", mlm_last_error());
            return -1;
        }
        size_t len = mlm_encoding_length(e);
        if (len > (size_t)T)
            len = (size_t)T;
        if (len < 8) {
            mlm_encoding_free(e);
            continue;
        }
        if (in->B == cap) {
            cap *= 2;
            in->ids = realloc(in->ids, (size_t)cap * T * sizeof(int32_t));
            in->mask = realloc(in->mask, (size_t)cap * T * sizeof(int32_t));
        }
        int32_t *row = in->ids + (size_t)in->B * T, *m = in->mask + (size_t)in->B * T;
        const int32_t *ids = mlm_encoding_ids(e), *special = mlm_encoding_special_tokens_mask(e);
        for (int t = 0; t < T; t++) {
            row[t] = (size_t)t < len ? ids[t] : pad_id;
            m[t] = (size_t)t < len;
        }
        for (size_t t = 0; t < len && in->n < want; t++) {
            if (special[t] || rng_next(&seed) % 100 >= 15)
                continue;
            in->label[in->n] = row[t];
            in->pos[in->n++] = in->B * T + (int32_t)t;
            row[t] = mask_id;
        }
        in->B++;
        mlm_encoding_free(e);
    }
    free(line);
    fclose(f);
    return in->n == want ? 0 : (fprintf(stderr, "%s: only %d positions\n", path, in->n), -1);
}

/* logits (n, V) at every position of in, 8 rows per forward. */
static int run(const mlm_model *m, const inputs *in, int threads, int V, float *logits)
{
    int done = 0;
    for (int b0 = 0; b0 < in->B; b0 += 8) {
        int nb = in->B - b0 < 8 ? in->B - b0 : 8, k = 0;
        int32_t *pos = malloc((size_t)in->n * sizeof *pos);
        while (done + k < in->n && in->pos[done + k] < (b0 + nb) * in->T) {
            pos[k] = in->pos[done + k] - b0 * in->T;
            k++;
        }
        mlm_status st = mlm_model_forward(m, threads, in->ids + (size_t)b0 * in->T,
                                          in->mask + (size_t)b0 * in->T, NULL, (size_t)nb,
                                          (size_t)in->T, pos, (size_t)k,
                                          logits + (size_t)done * V);
        free(pos);
        if (st != MLM_OK) {
            fprintf(stderr, "forward: %s\n", mlm_last_error());
            return -1;
        }
        done += k;
    }
    return 0;
}

static void softmax(const float *x, int V, double *p)
{
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++)
        mx = fmax(mx, x[v]);
    for (int v = 0; v < V; v++)
        s += p[v] = exp((double)x[v] - mx);
    for (int v = 0; v < V; v++)
        p[v] /= s;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR HELDOUT.txt [--positions N] [--threads N] "
                        "[--seq T] [--seed S]\n", argv[0]);
        return 2;
    }
    int want = 1500, threads = 1, T = 128;
    uint64_t seed = 1234;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--positions"))
            want = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq"))
            T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
    }
    mlm_tokenizer *tok = NULL;
    if (mlm_tokenizer_load(argv[1], &tok) != MLM_OK) {
        fprintf(stderr, "%s\n", mlm_last_error());
        return 1;
    }
    inputs in;
    if (build_inputs(tok, argv[2], want, T, seed, &in) != 0)
        return 1;
    const mlm_dtype dts[3] = {MLM_DTYPE_F32, MLM_DTYPE_BF16, MLM_DTYPE_INT8};
    float *logits[3];
    int V = 0;
    for (int d = 0; d < 3; d++) {
        mlm_model *m = NULL;
        if (mlm_model_load_dtype(argv[1], dts[d], &m) != MLM_OK) {
            fprintf(stderr, "%s\n", mlm_last_error());
            return 1;
        }
        V = mlm_model_vocab_size(m);
        logits[d] = malloc((size_t)in.n * V * sizeof(float));
        if (run(m, &in, threads, V, logits[d]) != 0)
            return 1;
        mlm_model_free(m);
    }
    double *p0 = malloc((size_t)V * sizeof *p0), *p1 = malloc((size_t)V * sizeof *p1);
    printf("model %s, %d held-out mask positions in %d inputs of <= %d tokens (%s)\n", argv[1],
           in.n, in.B, T, argv[2]);
    printf("%-5s %10s %12s %16s %14s %10s\n", "dtype", "top1-agree", "top5-overlap",
           "max|dscore|top5", "max|dlogit|", "top1-acc");
    for (int d = 0; d < 3; d++) {
        int agree = 0, correct = 0;
        double overlap = 0, dscore = 0, dlogit = 0;
        for (int i = 0; i < in.n; i++) {
            const float *a = logits[0] + (size_t)i * V, *b = logits[d] + (size_t)i * V;
            int32_t ia[5], ib[5];
            float va[5], vb[5];
            mlm_topk(a, (size_t)V, 5, ia, va);
            mlm_topk(b, (size_t)V, 5, ib, vb);
            agree += ia[0] == ib[0];
            correct += ib[0] == in.label[i];
            int common = 0;
            for (int x = 0; x < 5; x++)
                for (int y = 0; y < 5; y++)
                    common += ia[x] == ib[y];
            overlap += common / 5.0;
            softmax(a, V, p0);
            softmax(b, V, p1);
            for (int x = 0; x < 5; x++)
                dscore = fmax(dscore, fabs(p0[ia[x]] - p1[ia[x]]));
            for (int v = 0; v < V; v++)
                dlogit = fmax(dlogit, fabs((double)a[v] - (double)b[v]));
        }
        printf("%-5s %9.2f%% %12.4f %16.4g %14.4g %9.2f%%\n", mlm_dtype_name(dts[d]),
               100.0 * agree / in.n, overlap / in.n, dscore, dlogit, 100.0 * correct / in.n);
    }
    return 0;
}
