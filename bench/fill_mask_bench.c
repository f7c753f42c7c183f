/* libmlm's side of bench/run_model_bench.sh, on a distilroberta-shaped
 * pipeline directory (config.json, model.safetensors, tokenizer.json):
 *   load       mlm_model_load and mlm_pipeline_load from the page cache
 *   fill       mlm_fill_mask (top 5) on one 12-token sentence, end to end
 *   forward    mlm_model_forward on its ids, logits at the mask only
 *   batch      mlm_model_forward on 8x128 tokens, every position's logits
 *   rss        peak RSS after load + fill (before the batch's buffers)
 * for each thread count given. Medians of REPS repetitions after warm-up.
 * Prints a readable summary, or one JSON line per thread count with --json
 * (the first line gives the sentence's ids for the peers).
 *
 *   fill_mask_bench [DIR] [--json] [--threads 1,2] [--reps 9] [--no-batch]
 *                   [--dtype fp32|bf16|int8]
 *
 * --dtype loads the model with mlm_model_load_dtype / mlm_pipeline_load_dtype
 * (issue #15); the JSON lines then carry "dtype" and the bytes of weights
 * one forward reads ("weight_bytes", the matrices at the dtype's width plus
 * the fp32 rest), and, with --bandwidth, a read-bandwidth probe's GB/s per
 * thread count, so the report can print each dtype's memory floor.
 *
 * Without a model directory (default /tmp/mlm-bench-droberta) it says so and
 * exits 0, so that `make bench` runs without the checkpoint. */
#include <mlm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define BATCH 8
#define SEQ 128
#define TOPK 5

static const char *SENTENCE = "The Milky Way is a <mask> galaxy in space.";

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

/* Read bandwidth with n threads: each sums its slice of a 512 MiB buffer;
 * the median of 5 passes, GB/s. What a batch-1 forward that reads every
 * weight once cannot beat: its memory floor is weight bytes / this. */
typedef struct bw_job {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bw_job;

static void *bw_read(void *arg)
{
    bw_job *j = arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) {
        s0 += j->p[i];
        s1 += j->p[i + 1];
        s2 += j->p[i + 2];
        s3 += j->p[i + 3];
    }
    j->sum = s0 + s1 + s2 + s3;
    return NULL;
}

static double bandwidth_gbs(int threads)
{
    size_t words = (512u << 20) / sizeof(uint64_t);
    uint64_t *buf = malloc(words * sizeof *buf);
    if (!buf || threads < 1 || threads > 64)
        return 0;
    for (size_t i = 0; i < words; i++)
        buf[i] = i;
    double t[5];
    uint64_t sink = 0;
    for (int r = 0; r < 5; r++) {
        pthread_t th[64];
        bw_job jobs[64];
        size_t per = words / (size_t)threads;
        double t0 = now_ms();
        for (int k = 0; k < threads; k++) {
            jobs[k] = (bw_job){buf + (size_t)k * per, per, 0};
            pthread_create(&th[k], NULL, bw_read, &jobs[k]);
        }
        for (int k = 0; k < threads; k++) {
            pthread_join(th[k], NULL);
            sink += jobs[k].sum;
        }
        t[r] = now_ms() - t0;
    }
    free(buf);
    if (sink == 42) /* keeps the sums alive */
        printf(" ");
    return (double)(words * sizeof *buf) / (median(t, 5) * 1e-3) / 1e9;
}

static int fail(const char *what)
{
    fprintf(stderr, "fill_mask_bench: %s: %s\n", what, mlm_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/mlm-bench-droberta";
    const char *threads_arg = "1,2";
    int json = 0, reps = 9, no_batch = 0, bandwidth = 0;
    mlm_dtype dtype = MLM_DTYPE_F32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--bandwidth"))
            bandwidth = 1;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            if (mlm_dtype_from_name(argv[++i], &dtype) != MLM_OK)
                return fail("--dtype");
        }
        else if (!strcmp(argv[i], "--no-batch"))
            no_batch = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads_arg = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else
            dir = argv[i];
    }
    if (reps < 1 || reps > 99)
        reps = 9;
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (stat(path, &sb) != 0) {
        printf("skip: no model at %s (bench/run_model_bench.sh makes one)\n", dir);
        return 0;
    }
    double weights_mb = (double)sb.st_size / (1024.0 * 1024.0);

    /* Load times, warm page cache (the first load reads the file once).
     * Weights are mapped, not read: their pages come in on first use, so the
     * first fill-mask after a load is timed too. */
    double t_model[99], t_pipe[99], t_first[99];
    mlm_model *model = NULL;
    mlm_pipeline *pipe = NULL;
    mlm_fill_result *res;
    for (int r = -1; r < reps; r++) {
        double t0 = now_ms();
        if (mlm_model_load_dtype(dir, dtype, &model))
            return fail("mlm_model_load_dtype");
        double t1 = now_ms();
        mlm_model_free(model);
        double t2 = now_ms();
        if (mlm_pipeline_load_dtype(dir, dtype, &pipe))
            return fail("mlm_pipeline_load_dtype");
        double t3 = now_ms();
        if (mlm_fill_mask(pipe, SENTENCE, TOPK, &res))
            return fail("mlm_fill_mask");
        double t4 = now_ms();
        mlm_fill_result_free(res);
        mlm_pipeline_free(pipe);
        if (r >= 0) {
            t_model[r] = t1 - t0;
            t_pipe[r] = t3 - t2;
            t_first[r] = t4 - t3;
        }
    }
    double load_model = median(t_model, reps), load_pipe = median(t_pipe, reps);
    double first_fill = median(t_first, reps);

    /* One model shared by the pipeline and the forward-only runs: a second
     * mapping of the file would count its pages in RSS twice. */
    char path2[4096];
    snprintf(path2, sizeof path2, "%s/tokenizer.json", dir);
    mlm_tokenizer *tok;
    if (mlm_model_load_dtype(dir, dtype, &model))
        return fail("mlm_model_load_dtype");
    if (mlm_tokenizer_load(path2, &tok))
        return fail("mlm_tokenizer_load");
    if (mlm_pipeline_new(model, tok, &pipe))
        return fail("mlm_pipeline_new");
    mlm_encoding *enc;
    if (mlm_tokenizer_encode(tok, SENTENCE, strlen(SENTENCE), NULL, 0, 1, &enc))
        return fail("encode");
    size_t T = mlm_encoding_length(enc);
    const int32_t *ids = mlm_encoding_ids(enc);
    int32_t mask_id = mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK);
    int32_t mask_pos = -1;
    for (size_t t = 0; t < T; t++)
        if (ids[t] == mask_id)
            mask_pos = (int32_t)t;
    if (mask_pos < 0) {
        fprintf(stderr, "fill_mask_bench: no mask in the sentence\n");
        return 1;
    }
    int32_t V = mlm_model_vocab_size(model);

    if (json) {
        printf("{\"sentence\": \"%s\", \"mask_pos\": %d, \"weights_mb\": %.1f, \"system\": \"%s\", "
               "\"dtype\": \"%s\", \"weight_bytes\": %.0f, \"ids\": [",
               SENTENCE, (int)mask_pos, weights_mb, mlm_system_info(), mlm_dtype_name(dtype),
               (double)mlm_model_weight_bytes(model));
        for (size_t t = 0; t < T; t++)
            printf("%s%d", t ? "," : "", (int)ids[t]);
        printf("]}\n");
    } else {
        printf("model %s (%.1f MB of weights), sentence \"%s\": %zu tokens, mask at %d\n", dir,
               weights_mb, SENTENCE, T, (int)mask_pos);
        printf("load (page cache): model %.1f ms, pipeline %.1f ms, then first fill-mask %.1f "
               "ms\n", load_model, load_pipe, first_fill);
    }

    /* The batch: <s> x... </s> per row, the formula of the peers. */
    int32_t *big = malloc(sizeof *big * BATCH * SEQ);
    float *logits = malloc(sizeof *logits * (size_t)BATCH * SEQ * (size_t)V);
    float one[1 << 16];
    if (!big || !logits || V > (1 << 16))
        return 1;
    for (int i = 0; i < BATCH * SEQ; i++)
        big[i] = i % SEQ == 0 ? 0 : i % SEQ == SEQ - 1 ? 2 : 4 + (i * 7919 + 13) % (V - 10);

    double rss_after_fill = 0;
    for (const char *p = threads_arg; *p;) {
        int n = atoi(p);
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
        if (n < 1)
            continue;
        mlm_pipeline_set_threads(pipe, n);
        double t_fill[99], t_fwd[99], t_batch[99];
        for (int r = -3; r < reps; r++) {
            double t0 = now_ms();
            if (mlm_fill_mask(pipe, SENTENCE, TOPK, &res))
                return fail("mlm_fill_mask");
            double t1 = now_ms();
            if (r >= 0)
                t_fill[r] = t1 - t0;
            if (r == reps - 1 && !json)
                printf("threads %d: top %s (%.4f)\n", n, mlm_fill_result_token_str(res, 0, 0),
                       (double)mlm_fill_result_score(res, 0, 0));
            mlm_fill_result_free(res);
        }
        for (int r = -3; r < reps; r++) {
            double t0 = now_ms();
            if (mlm_model_forward(model, n, ids, NULL, NULL, 1, T, &mask_pos, 1, one))
                return fail("mlm_model_forward");
            double t1 = now_ms();
            if (r >= 0)
                t_fwd[r] = t1 - t0;
        }
        double rss = peak_rss_mb();
        if (rss_after_fill == 0)
            rss_after_fill = rss;
        int breps = no_batch ? 0 : reps < 5 ? reps : 5;
        for (int r = -1; r < breps; r++) {
            double t0 = now_ms();
            if (mlm_model_forward(model, n, big, NULL, NULL, BATCH, SEQ, NULL, 0, logits))
                return fail("mlm_model_forward (batch)");
            double t1 = now_ms();
            if (r >= 0)
                t_batch[r] = t1 - t0;
        }
        double fill = median(t_fill, reps), fwd = median(t_fwd, reps);
        double batch = breps ? median(t_batch, breps) : 0.0;
        if (json)
            printf("{\"impl\": \"libmlm\", \"config\": {\"threads\": %d, \"gemm\": \"%s\"}, "
                   "\"load_ms\": %.3f, \"load_pipeline_ms\": %.3f, \"first_fill_ms\": %.3f, "
                   "\"fill_ms_e2e\": %.3f, "
                   "\"fill_ms_masked_head\": %.3f, \"batch_ms\": %.3f, \"peak_rss_mb\": %.1f, "
                   "\"runtime_rss_mb\": 0, \"dtype\": \"%s\", \"bandwidth_gbs\": %.2f}\n",
                   n, mlm_system_info(), load_model, load_pipe, first_fill, fill, fwd, batch,
                   rss_after_fill, mlm_dtype_name(dtype), bandwidth ? bandwidth_gbs(n) : 0.0);
        else
            printf("threads %d, %s: fill-mask %.2f ms, forward at the mask %.2f ms, 8x128 batch "
                   "%.1f ms (%.0f tokens/s); peak RSS after load + fill %.1f MB (%.2fx weights)\n",
                   n, mlm_dtype_name(dtype), fill, fwd, batch, BATCH * SEQ / batch * 1e3,
                   rss_after_fill, rss_after_fill / weights_mb);
        fflush(stdout);
    }
    free(big);
    free(logits);
    mlm_encoding_free(enc);
    mlm_pipeline_free(pipe);
    mlm_tokenizer_free(tok);
    mlm_model_free(model);
    return 0;
}
