/* libmlm's side of bench/run_train_bench.sh (make bench-train): masked-LM
 * training throughput through the public API — mlm_model_new from a config,
 * a dataset of 128-token rows, the masking collator and mlm_trainer_train —
 * at one model shape and one thread count per process (so that peak RSS is
 * that configuration's):
 *
 *   small          RoBERTa, 4 layers, hidden 256, 4 heads, FFN 1024, vocab
 *                  8192; batch 16 x 128
 *   distilroberta  distilroberta-base's shape: 6 layers, hidden 768, 12
 *                  heads, FFN 3072, vocab 50265; batch 8 x 128
 *
 * A step is what the Trainer does per optimizer step: collate (15% of the
 * non-special tokens masked, HF's 80/10/10), forward in train mode (dropout
 * 0.1 as configured), backward, clip_grad_norm_(1.0), AdamW (lr 5e-5,
 * weight decay 0.01 outside biases and LayerNorm weights) on the linear
 * schedule. Steps are timed between the trainer's per-step log records
 * (logging_steps 1); the first `warmup` steps are left out and the median of
 * the others is the step time; tokens/s = batch x seq / step time.
 *
 * Also measured in this process: the fp32 FMA peak of this many threads
 * (bench/fma_peak.h, as bench_gemm), peak RSS (getrusage), and the RSS
 * before the model exists (the runtime alone).
 *
 * Model FLOPs per step (the standard count, PaLM appendix B / Megatron):
 *   tokens · (6·N + 12·L·C·T)
 * N = the parameters that multiply activations in a matmul, as HF's model
 * runs them: per layer 4C² (q, k, v, output) + 2·C·I (FFN), plus the head's
 * dense C² and the decoder V·C, which HF applies at every position (tied to
 * the word embeddings: counted once, as a matmul). 12·L·C·T is attention's
 * q·kᵀ and p·v (2·2·T·C per token per layer forward, ×3 with the backward).
 * Embedding lookups, biases, LayerNorm, softmax and the optimizer are not
 * counted (as is standard).
 * "Useful" FLOPs: what libmlm computes — the head and the decoder only at the
 * labelled positions, and the last layer too when they are at most half the
 * tokens (keys and values at every token, the rest at the labelled rows):
 * tokens·(6·N_enc + 12·L·C·T) + labelled·6·(C² + V·C), less the last
 * layer's queries, output, FFN and attention at the unlabelled tokens,
 * (tokens − labelled)·(6·(2C² + 2·C·I) + 12·C·T).
 *
 *   train_bench --shape small|distilroberta [--threads N] [--steps S]
 *               [--warmup W] [--bf16] [--json]
 * --bf16: the trainer's "bf16" option (autocast's bf16 products, fp32
 * everything else); the FLOP counts and the fp32 peak are unchanged, so MFU
 * is then against the fp32 peak.
 *   train_bench --config small|distilroberta   # the config JSON, for the peer
 */
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "fma_peak.h"

typedef struct shape {
    const char *name;
    int V, C, L, H, I, B, T;
    int warmup, steps; /* defaults */
} shape;

static const shape shapes[] = {
    {"small", 8192, 256, 4, 4, 1024, 16, 128, 2, 8},
    {"distilroberta", 50265, 768, 6, 12, 3072, 8, 128, 1, 4},
};

/* RoBERTa's special ids: <s> 0, <pad> 1, </s> 2, <unk> 3, <mask> the last. */
enum { BOS = 0, PAD = 1, EOS = 2, UNK = 3 };

static void config_json(const shape *s, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{\"model_type\":\"roberta\",\"vocab_size\":%d,\"hidden_size\":%d,"
             "\"num_hidden_layers\":%d,\"num_attention_heads\":%d,\"intermediate_size\":%d,"
             "\"hidden_act\":\"gelu\",\"hidden_dropout_prob\":0.1,"
             "\"attention_probs_dropout_prob\":0.1,\"max_position_embeddings\":514,"
             "\"type_vocab_size\":1,\"initializer_range\":0.02,\"layer_norm_eps\":1e-05,"
             "\"pad_token_id\":%d,\"bos_token_id\":%d,\"eos_token_id\":%d}",
             s->V, s->C, s->L, s->H, s->I, PAD, BOS, EOS);
}

static int fail(const char *what)
{
    fprintf(stderr, "train_bench: %s: %s\n", what, mlm_last_error());
    return 1;
}

/* ---------------------------------------------------------------- FLOPs */

typedef struct flops {
    double model, useful; /* per step */
} flops;

static flops step_flops(const shape *s, double labelled)
{
    double C = s->C, V = s->V, L = s->L, I = s->I, T = s->T;
    double tokens = (double)s->B * s->T;
    double n_enc = L * (4 * C * C + 2 * C * I), n_head = C * C + V * C;
    double attn = 12 * L * C * T; /* per token */
    flops f = {tokens * (6 * (n_enc + n_head) + attn),
               tokens * (6 * n_enc + attn) + labelled * 6 * n_head};
    if (L > 0 && labelled * 2 <= tokens) /* the last layer at the labelled rows */
        f.useful -= (tokens - labelled) * (6 * (2 * C * C + 2 * C * I) + 12 * C * T);
    return f;
}

/* ---------------------------------------------------------------- data */

/* rows x T ids as group_texts leaves them: <s> ordinary ids </s>, no
 * padding. A fixed LCG: the ids do not change the work. */
static mlm_dataset *make_dataset(const shape *s, size_t rows)
{
    int32_t *ids = malloc(rows * (size_t)s->T * sizeof *ids);
    const int32_t **seqs = malloc(rows * sizeof *seqs);
    size_t *lens = malloc(rows * sizeof *lens);
    mlm_dataset *ds = NULL;
    if (!ids || !seqs || !lens)
        goto out;
    uint32_t x = 12345;
    for (size_t r = 0; r < rows; r++) {
        int32_t *row = ids + r * (size_t)s->T;
        for (int t = 0; t < s->T; t++) {
            x = x * 1664525u + 1013904223u;
            row[t] = 4 + (int32_t)((x >> 8) % (uint32_t)(s->V - 5)); /* [4, V-1) */
        }
        row[0] = BOS;
        row[s->T - 1] = EOS;
        seqs[r] = row;
        lens[r] = (size_t)s->T;
    }
    if (mlm_dataset_new(&ds) == MLM_OK &&
        mlm_dataset_add_sequence_column(ds, "input_ids", seqs, lens, rows) != MLM_OK) {
        mlm_dataset_free(ds);
        ds = NULL;
    }
out:
    free(ids);
    free(seqs);
    free(lens);
    return ds;
}

/* The mean number of labelled positions in the first n batches the trainer
 * would see (same collator, same batch indices; rows in order rather than
 * the epoch's permutation, which changes nothing in expectation). */
static double mean_labelled(const mlm_collator *col, const mlm_dataset *ds, const shape *s, int n)
{
    size_t *rows = malloc((size_t)s->B * sizeof *rows);
    double total = 0;
    int done = 0;
    for (int i = 0; rows && i < (int)s->B; i++)
        rows[i] = (size_t)i;
    for (int k = 0; rows && k < n; k++) {
        mlm_batch *b = NULL;
        if (mlm_collator_collate(col, ds, rows, (size_t)s->B, (uint64_t)k, &b) != MLM_OK)
            break;
        const int32_t *lab = mlm_batch_labels(b);
        for (size_t i = 0; i < (size_t)s->B * s->T; i++)
            total += lab[i] != -100;
        mlm_batch_free(b);
        done++;
    }
    free(rows);
    return done ? total / done : 0.15 * s->B * (s->T - 2);
}

/* ---------------------------------------------------------------- timing */

static const shape *shape_named(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, name))
            return &shapes[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const shape *s = &shapes[0];
    int threads = 1, steps = -1, warmup = -1, json = 0, bf16 = 0, bucket_mb = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--bf16"))
            bf16 = 1;
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            char cfg[1024];
            if (!(s = shape_named(argv[++i])))
                return fprintf(stderr, "train_bench: unknown shape %s\n", argv[i]), 2;
            config_json(s, cfg, sizeof cfg);
            printf("%s\n", cfg);
            return 0;
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            if (!(s = shape_named(argv[++i])))
                return fprintf(stderr, "train_bench: unknown shape %s\n", argv[i]), 2;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bucket-mb") && i + 1 < argc)
            bucket_mb = atoi(argv[++i]);
        else
            return fprintf(stderr, "usage: train_bench --shape small|distilroberta "
                                   "[--threads N] [--steps S] [--warmup W] [--bf16] [--bucket-mb M] [--json]\n"), 2;
    }
    if (steps < 1)
        steps = s->steps;
    if (warmup < 0)
        warmup = s->warmup;
    if (threads < 1 || threads > 8)
        threads = 1;
    double runtime_rss = bench_peak_rss_mb();

    double p512, p256;
    double peak = fma_peak_gflops(threads, &p512, &p256);

    char cfg[1024];
    config_json(s, cfg, sizeof cfg);
    mlm_model *model = NULL;
    if (mlm_model_new(cfg, strlen(cfg), 42, &model) != MLM_OK)
        return fail("mlm_model_new");
    size_t rows = (size_t)s->B * 4;
    mlm_dataset *ds = make_dataset(s, rows);
    if (!ds)
        return fail("dataset");
    char copts[256];
    snprintf(copts, sizeof copts,
             "{\"mask_token_id\":%d,\"vocab_size\":%d,\"pad_token_id\":%d,\"bos_token_id\":%d,"
             "\"eos_token_id\":%d,\"unk_token_id\":%d,\"mlm_probability\":0.15,\"seed\":42}",
             s->V - 1, s->V, PAD, BOS, EOS, UNK);
    mlm_collator *col = NULL;
    if (mlm_collator_new_ids(copts, &col) != MLM_OK)
        return fail("mlm_collator_new_ids");
    double labelled = mean_labelled(col, ds, s, warmup + steps);
    double model_rss = bench_peak_rss_mb();

    mlm_trainer *tr = NULL;
    if (mlm_trainer_new(model, col, ds, NULL, &tr) != MLM_OK)
        return fail("mlm_trainer_new");
    char topts[512];
    snprintf(topts, sizeof topts,
             "{\"output_dir\":\"/tmp/mlm-train-bench-unused\",\"learning_rate\":5e-5,"
             "\"weight_decay\":0.01,\"max_grad_norm\":1.0,\"warmup_steps\":0,"
             "\"per_device_train_batch_size\":%d,\"max_steps\":%d,\"logging_steps\":1,"
             "\"save_strategy\":\"no\",\"seed\":42,\"num_threads\":%d,\"bf16\":%s}",
             s->B, warmup + steps, threads, bf16 ? "true" : "false");
    if (mlm_trainer_set_json(tr, topts) != MLM_OK)
        return fail("mlm_trainer_set_json");
    int rank = 0, world = 1;
    if (bench_trainer_world(tr, bucket_mb, &rank, &world) != 0)
        return 1;
    double t_end[64 + 1], cpu_end[64 + 1];
    bench_clock log = {t_end + 1, cpu_end + 1, 0, warmup + steps, 0};
    if (log.cap > 64)
        return fprintf(stderr, "train_bench: at most 64 steps\n"), 2;
    mlm_trainer_set_callback(tr, bench_clock_on_log, &log);
    cpu_end[0] = bench_cpu_now();
    t_end[0] = bench_now();
    mlm_status st = mlm_trainer_train(tr);
    if (st != MLM_ERR_CANCELLED && st != MLM_OK)
        return fail("mlm_trainer_train");
    if (log.n != warmup + steps)
        return fprintf(stderr, "train_bench: %d steps logged, expected %d\n", log.n,
                       warmup + steps), 1;
    double dt[64], dcpu[64];
    for (int k = 0; k < log.n; k++) {
        dt[k] = t_end[k + 1] - t_end[k];
        dcpu[k] = cpu_end[k + 1] - cpu_end[k];
    }
    double step_s = bench_median(dt + warmup, steps), cpu_s = bench_median(dcpu + warmup, steps);
    double tps = (double)world * s->B * s->T / step_s;
    flops f = step_flops(s, labelled);
    double mfu = f.model / step_s * 1e-9 / peak, ufu = f.useful / step_s * 1e-9 / peak;
    double rss = bench_peak_rss_mb();
    long long params = (long long)mlm_model_num_parameters(model);
    char cpu[256];
    bench_cpu_model(cpu, sizeof cpu);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;

    if (rank != 0) { /* rank 0 speaks for the run */
        mlm_trainer_free(tr);
        mlm_collator_free(col);
        mlm_dataset_free(ds);
        mlm_model_free(model);
        return 0;
    }
    if (json) {
        printf("{\"impl\":\"libmlm\",\"shape\":\"%s\",\"model_config\":%s,\"batch\":%d,\"seq\":%d,"
               "\"config\":{\"threads\":%d,\"bf16\":%s,\"world\":%d,\"bucket_mb\":%d,\"system\":\"%s\"},\"steps\":%d,\"warmup\":%d,"
               "\"step_s\":%.6f,\"step_s_all\":[",
               s->name, cfg, s->B, s->T, threads, bf16 ? "true" : "false", world, bucket_mb, mlm_system_info(),
               steps, warmup, step_s);
        for (int k = 0; k < log.n; k++)
            printf("%s%.6f", k ? "," : "", dt[k]);
        printf("],\"cpu_s\":%.6f,\"tokens_per_s\":%.3f,\"labelled_mean\":%.2f,\"params\":%lld,"
               "\"model_flops_per_step\":%.6e,\"useful_flops_per_step\":%.6e,"
               "\"peak_gflops\":%.2f,\"peak_avx512_gflops\":%.2f,\"peak_avx2_gflops\":%.2f,"
               "\"mfu\":%.4f,\"useful_fu\":%.4f,\"peak_rss_mb\":%.1f,\"runtime_rss_mb\":%.1f,"
               "\"model_rss_mb\":%.1f,\"last_loss\":%.4f,\"cpu\":\"%s\",\"cores\":%ld,"
               "\"loadavg\":[%.2f,%.2f,%.2f]}\n",
               cpu_s, tps, labelled, params, f.model, f.useful, peak, p512, p256, mfu, ufu, rss,
               runtime_rss, model_rss, log.loss_last, cpu, sysconf(_SC_NPROCESSORS_ONLN),
               load[0], load[1], load[2]);
    } else {
        printf("%s (%lld parameters), batch %d x %d, %d thread%s, %s, %s\n", s->name, params,
               s->B, s->T, threads, threads > 1 ? "s" : "", bf16 ? "bf16 autocast" : "fp32",
               mlm_system_info());
        printf("  step %.3f s (median of %d after %d warm-up; all:", step_s, steps, warmup);
        for (int k = 0; k < log.n; k++)
            printf(" %.3f", dt[k]);
        printf("; CPU time %.3f s a step)\n  %.1f tokens/s; MFU %.1f%% (model FLOPs %.1f GFLOP/step, full-vocab "
               "decoder at every token), useful %.1f%% (%.1f GFLOP/step, %.0f labelled); "
               "peak %.1f GFLOP/s\n",
               cpu_s, tps, 100 * mfu, f.model * 1e-9, 100 * ufu, f.useful * 1e-9, labelled, peak);
        printf("  peak RSS %.1f MB (runtime alone %.1f, after model + data %.1f); %s, load %.2f\n",
               rss, runtime_rss, model_rss, cpu, load[0]);
    }
    mlm_trainer_free(tr);
    mlm_collator_free(col);
    mlm_dataset_free(ds);
    mlm_model_free(model);
    return 0;
}
