/* Summarization throughput of libmlm's generate() on a T5 model (make
 * bench-t5; bench/run_t5_bench.sh runs it beside the PyTorch reference):
 * a 128-token input (tests/reference/t5_inputs.json's bench_128 for
 * t5-small's tokenizer) into exactly 32 new tokens (min_new_tokens =
 * max_new_tokens = 32: every implementation does the same work), greedy or
 * beam search, a batch of 1 or 8, one configuration per process (peak RSS
 * is the process's). Prints one JSON line:
 *   seconds (median of --reps after a warm-up), tokens_per_s (batch x 32 /
 *   seconds), ms_per_token (seconds / 32, a step of the whole batch),
 *   decode_ms_per_token (the 32 steps alone: the run minus a 1-token run),
 *   floor_ms_per_token (the bytes a step must read, every decoder weight and
 *   the head once, over this machine's single-stream read bandwidth, which
 *   is measured here), weights_mb, cache_mb (the decoder's self- and
 *   cross-attention keys and values at the end of the run), peak_rss_mb.
 *
 *   t5_bench [MODEL_DIR] --mode greedy|beam4 --batch N --threads N [--reps R]
 *            [--dtype fp32|bf16|int8]
 * (--dtype: the model's matrices converted at load, mlm_model_load_dtype;
 * the floor then counts them at the dtype's width.)
 * (MODEL_DIR defaults to /tmp/mlm-bench-t5-small; absent, the run is
 * skipped with a message.)
 */
#include <mlm.h>

#include <cjson/cJSON.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nn/t5.h"

#define NEW_TOKENS 32

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The 128 ids of tests/reference/t5_inputs.json (t5-small's bench_128). */
static int32_t *bench_ids(const char *root, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/reference/t5_inputs.json", root);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *text = malloc((size_t)len + 1);
    if (fread(text, 1, (size_t)len, f) != (size_t)len)
        len = 0;
    fclose(f);
    text[len] = '\0';
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *ids = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "tokenizers"), "t5-small"), "bench_128");
    int32_t *out = NULL;
    *n = (size_t)cJSON_GetArraySize(ids);
    if (*n) {
        out = malloc(*n * sizeof *out);
        size_t i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, ids) out[i++] = (int32_t)x->valuedouble;
    }
    cJSON_Delete(doc);
    return out;
}

/* Single-stream read bandwidth (bytes/s) over a buffer far above the
 * caches, best of 5, the way a decode step streams its weights. */
__attribute__((target("avx512f"))) static float sum512(const float *x, size_t n)
{
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    for (size_t i = 0; i + 64 <= n; i += 64) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(x + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(x + i + 32));
        d = _mm512_add_ps(d, _mm512_loadu_ps(x + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
}

static double read_bandwidth(void)
{
    size_t n = (size_t)64 << 20; /* 256 MB */
    float *x = malloc(n * sizeof *x);
    if (!x || !__builtin_cpu_supports("avx512f")) {
        free(x);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f;
    double best = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t = now();
        sink += sum512(x, n);
        t = now() - t;
        best = t < best ? t : best;
    }
    (void)sink;
    free(x);
    return (double)n * sizeof(float) / best;
}

static double run(const mlm_model *m, mlm_generation_config *g, int threads, const int32_t *ids,
                  size_t B, size_t S)
{
    mlm_generation *r = NULL;
    double t = now();
    mlm_status st = mlm_generate(m, g, threads, ids, NULL, B, S, &r);
    t = now() - t;
    if (st != MLM_OK) {
        fprintf(stderr, "generate: %s\n", mlm_last_error());
        exit(1);
    }
    mlm_generation_free(r);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/mlm-bench-t5-small", *mode = "greedy", *root = getenv("MLM_ROOT");
    int batch = 1, threads = 1, reps = 3;
    mlm_dtype dtype = MLM_DTYPE_F32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            if (mlm_dtype_from_name(argv[++i], &dtype) != MLM_OK) {
                fprintf(stderr, "t5_bench: %s\n", mlm_last_error());
                return 2;
            }
        } else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else
            dir = argv[i];
    }
    if (batch < 1 || threads < 1 || reps < 1 || reps > 99) {
        fprintf(stderr, "usage: t5_bench MODEL_DIR --mode greedy|beam4 --batch N --threads N "
                        "[--reps R]\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        printf("skip: no model at %s (bench/run_t5_bench.sh makes one)\n", dir);
        return 0;
    }
    fclose(probe);
    size_t S = 0;
    int32_t *one = bench_ids(root ? root : ".", &S);
    if (!one) {
        fprintf(stderr, "t5_bench: no bench_128 ids in tests/reference/t5_inputs.json (set "
                        "MLM_ROOT to the repository)\n");
        return 1;
    }
    int32_t *ids = malloc((size_t)batch * S * sizeof *ids);
    for (int b = 0; b < batch; b++)
        memcpy(ids + (size_t)b * S, one, S * sizeof *ids);
    mlm_model *m = NULL;
    if (mlm_model_load_dtype(dir, dtype, &m) != MLM_OK) {
        fprintf(stderr, "%s: %s\n", dir, mlm_last_error());
        return 1;
    }
    int beams = !strcmp(mode, "beam4") ? 4 : 1;
    mlm_generation_config *g = NULL;
    mlm_generation_config_new(m, &g);
    char v[16];
    snprintf(v, sizeof v, "%d", beams);
    mlm_generation_config_set(g, "num_beams", v);
    mlm_generation_config_set(g, "max_new_tokens", "1");
    mlm_generation_config_set(g, "min_new_tokens", "1");
    run(m, g, threads, ids, (size_t)batch, S); /* warm-up */
    double first = run(m, g, threads, ids, (size_t)batch, S);
    snprintf(v, sizeof v, "%d", NEW_TOKENS);
    mlm_generation_config_set(g, "max_new_tokens", v);
    mlm_generation_config_set(g, "min_new_tokens", v);
    double times[99];
    run(m, g, threads, ids, (size_t)batch, S);
    for (int r = 0; r < reps; r++)
        times[r] = run(m, g, threads, ids, (size_t)batch, S);
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    double t = times[reps / 2];
    /* what a decode step reads: every decoder weight and the head */
    const t5_model *tm = t5_of(m);
    const t5_dims *d = &tm->d;
    double dec = 0;
    for (size_t i = 0; i < tm->n_params; i++)
        if (!strncmp(tm->params[i].name, "decoder.", 8) || !strcmp(tm->params[i].name, "lm_head.weight"))
            dec += (double)tm->params[i].numel;
    if (d->tied)
        dec += (double)d->V * d->C; /* shared.weight, the head */
    /* peak RSS of the runs, before the bandwidth probe's buffer */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double bw = read_bandwidth();
    double rows = (double)batch * beams, steps = NEW_TOKENS;
    /* bytes per decoder weight: the matrices at the dtype's width (their
     * scales and the fp32 norms are a rounding error at this size) */
    double width = dtype == MLM_DTYPE_BF16 ? 2.0 : dtype == MLM_DTYPE_INT8 ? 1.0 : 4.0;
    double cache = (double)d->Ld * d->HD * 4.0 * 2 * (rows * steps + (double)batch * S);
    printf("{\"impl\": \"libmlm\", \"dtype\": \"%s\", \"mode\": \"%s\", \"batch\": %d, \"threads\": %d, "
           "\"input_tokens\": %zu, \"new_tokens\": %d, \"seconds\": %.4f, "
           "\"tokens_per_s\": %.2f, \"ms_per_token\": %.3f, \"decode_ms_per_token\": %.3f, "
           "\"floor_ms_per_token\": %.3f, \"read_gb_per_s\": %.1f, \"weights_mb\": %.1f, "
           "\"cache_mb\": %.1f, \"peak_rss_mb\": %.1f}\n",
           mlm_dtype_name(dtype), mode, batch, threads, S, NEW_TOKENS, t, batch * NEW_TOKENS / t,
           t / steps * 1e3, (t - first) / (steps - 1) * 1e3, bw > 0 ? dec * width / bw * 1e3 : 0,
           bw / 1e9, (double)mlm_model_weight_bytes(m) / 1048576.0, cache / 1048576.0,
           ru.ru_maxrss / 1024.0);
    mlm_generation_config_free(g);
    mlm_model_free(m);
    free(ids);
    free(one);
    return 0;
}
