/* libmlm's side of bench/run_t5_train_bench.sh (make bench-t5-train):
 * seq2seq training throughput through the public API — mlm_model_new from
 * a t5-small-shaped config, a dataset of (source, target) rows, the
 * seq2seq collator (DataCollatorForSeq2Seq, model=None: the model shifts
 * the labels) and mlm_trainer_train — at one thread count per process (so
 * that peak RSS is that configuration's):
 *
 *   t5-small  T5 v1.0 (relu FFN, lm_head tied to the shared embedding with
 *             the d_model^-0.5 rescale): vocab 32128, d_model 512, 8 heads
 *             of 64, d_ff 2048, 6 + 6 layers, 32 buckets up to distance 128,
 *             dropout 0.1; batch 8 x (128 source, 32 target) tokens
 *
 * A step is what the Trainer does per optimizer step: collate, forward in
 * train mode (dropout 0.1 as configured), backward, clip_grad_norm_(1.0),
 * AdamW (adamw_torch: lr 5e-5, weight decay 0.01 outside the RMS-norm
 * weights and the relative attention bias) on the linear schedule. Steps
 * are timed between the trainer's per-step log records (logging_steps 1);
 * the first `warmup` are left out and the median of the others is the step
 * time. tokens/s = batch x (source + target) / step time: every row is
 * full (no padding), every target token labelled.
 *
 * Also measured in this process: the fp32 FMA peak of this many threads
 * (bench/fma_peak.h), peak RSS, and the RSS before the model exists.
 *
 * Model FLOPs per step (the standard count, PaLM appendix B, applied to an
 * encoder-decoder): 6 x (weights each token multiplies) per token, plus
 * attention's q·kᵀ and p·v (2·2·keys·HD a query, x3 with the backward):
 *   source token: Le·(4·C·HD + 2·C·F)  + Ld·2·C·HD (cross-attention's k, v)
 *                 + 12·Le·S·HD
 *   target token: Ld·(4·C·HD + 2·C·HD + 2·C·F) + V·C (the head at every
 *                 target position, as HF runs it) + 12·Ld·(T + S)·HD
 * (causal attention's masked half counted, as is standard). Embedding
 * lookups, norms, softmax and the optimizer are not counted. Every target
 * token has a label here, so libmlm's head (labelled rows only) does this
 * work too: no separate "useful" count.
 *
 *   t5_train_bench [--threads N] [--steps S] [--warmup W] [--bf16] [--json]
 * --bf16: the trainer's "bf16" option (autocast's bf16 products).
 *   t5_train_bench --config       # the config JSON, for the PyTorch peer
 */
#include <mlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "fma_peak.h"

enum {
    V = 32128, C = 512, HD = 512, F = 2048, LE = 6, LD = 6, NH = 8,
    BATCH = 8, SRC = 128, TGT = 32,
    PAD = 0, EOS = 1, MAX_STEPS = 64
};

static const char config[] =
    "{\"model_type\":\"t5\",\"architectures\":[\"T5ForConditionalGeneration\"],"
    "\"vocab_size\":32128,\"d_model\":512,\"d_kv\":64,\"d_ff\":2048,\"num_layers\":6,"
    "\"num_decoder_layers\":6,\"num_heads\":8,\"relative_attention_num_buckets\":32,"
    "\"relative_attention_max_distance\":128,\"dropout_rate\":0.1,\"layer_norm_epsilon\":1e-06,"
    "\"initializer_factor\":1.0,\"feed_forward_proj\":\"relu\",\"tie_word_embeddings\":true,"
    "\"is_encoder_decoder\":true,\"pad_token_id\":0,\"eos_token_id\":1,"
    "\"decoder_start_token_id\":0}";

static int fail(const char *what)
{
    fprintf(stderr, "t5_train_bench: %s: %s\n", what, mlm_last_error());
    return 1;
}

/* The standard model FLOPs of one step (see the header). */
static double step_flops(void)
{
    double per_src = LE * (4.0 * C * HD + 2.0 * C * F) + LD * 2.0 * C * HD;
    double per_tgt = LD * (6.0 * C * HD + 2.0 * C * F) + (double)V * C;
    double attn_src = 12.0 * LE * SRC * HD, attn_tgt = 12.0 * LD * (TGT + SRC) * HD;
    return BATCH * (SRC * (6 * per_src + attn_src) + TGT * (6 * per_tgt + attn_tgt));
}

/* rows (source, target) pairs as the seq2seq preprocessing leaves them:
 * SRC source ids and TGT target ids, each ending with </s>, no padding
 * (the ids themselves do not change the work). A fixed LCG. */
static mlm_dataset *make_dataset(size_t rows)
{
    int32_t *src = malloc(rows * SRC * sizeof *src), *tgt = malloc(rows * TGT * sizeof *tgt);
    const int32_t **sp = malloc(rows * sizeof *sp), **tp = malloc(rows * sizeof *tp);
    size_t *sl = malloc(rows * sizeof *sl), *tl = malloc(rows * sizeof *tl);
    mlm_dataset *ds = NULL;
    if (!src || !tgt || !sp || !tp || !sl || !tl)
        goto out;
    uint32_t x = 12345;
    for (size_t r = 0; r < rows; r++) {
        int32_t *s = src + r * SRC, *t = tgt + r * TGT;
        for (int i = 0; i < SRC + TGT; i++) {
            x = x * 1664525u + 1013904223u;
            int32_t id = 2 + (int32_t)((x >> 8) % (uint32_t)(V - 2)); /* [2, V) */
            if (i < SRC)
                s[i] = id;
            else
                t[i - SRC] = id;
        }
        s[SRC - 1] = EOS;
        t[TGT - 1] = EOS;
        sp[r] = s;
        tp[r] = t;
        sl[r] = SRC;
        tl[r] = TGT;
    }
    if (mlm_dataset_new(&ds) == MLM_OK &&
        (mlm_dataset_add_sequence_column(ds, "input_ids", sp, sl, rows) != MLM_OK ||
         mlm_dataset_add_sequence_column(ds, "labels", tp, tl, rows) != MLM_OK)) {
        mlm_dataset_free(ds);
        ds = NULL;
    }
out:
    free(src);
    free(tgt);
    free(sp);
    free(tp);
    free(sl);
    free(tl);
    return ds;
}

int main(int argc, char **argv)
{
    int threads = 1, steps = 4, warmup = 1, json = 0, bf16 = 0, bucket_mb = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--bf16"))
            bf16 = 1;
        else if (!strcmp(argv[i], "--config"))
            return printf("%s\n", config), 0;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bucket-mb") && i + 1 < argc)
            bucket_mb = atoi(argv[++i]);
        else
            return fprintf(stderr, "usage: t5_train_bench [--threads N] [--steps S] "
                                   "[--warmup W] [--bf16] [--bucket-mb M] [--json] | --config\n"), 2;
    }
    if (steps < 1 || warmup < 0 || warmup + steps > MAX_STEPS)
        return fprintf(stderr, "t5_train_bench: 1 to %d steps in all\n", MAX_STEPS), 2;
    if (threads < 1 || threads > 8)
        threads = 1;
    double runtime_rss = bench_peak_rss_mb();
    double p512, p256;
    double peak = fma_peak_gflops(threads, &p512, &p256);

    mlm_model *model = NULL;
    if (mlm_model_new(config, strlen(config), 42, &model) != MLM_OK)
        return fail("mlm_model_new");
    mlm_dataset *ds = make_dataset((size_t)BATCH * 4);
    if (!ds)
        return fail("dataset");
    char copts[128];
    snprintf(copts, sizeof copts, "{\"pad_token_id\":%d,\"vocab_size\":%d}", PAD, V);
    mlm_collator *col = NULL;
    if (mlm_collator_new_seq2seq(NULL, copts, &col) != MLM_OK)
        return fail("mlm_collator_new_seq2seq");
    double model_rss = bench_peak_rss_mb();

    mlm_trainer *tr = NULL;
    if (mlm_trainer_new(model, col, ds, NULL, &tr) != MLM_OK)
        return fail("mlm_trainer_new");
    char topts[512];
    snprintf(topts, sizeof topts,
             "{\"output_dir\":\"/tmp/mlm-t5-train-bench-unused\",\"optim\":\"adamw_torch\","
             "\"learning_rate\":5e-5,\"weight_decay\":0.01,\"max_grad_norm\":1.0,"
             "\"warmup_steps\":0,\"per_device_train_batch_size\":%d,\"max_steps\":%d,"
             "\"logging_steps\":1,\"save_strategy\":\"no\",\"seed\":42,\"num_threads\":%d,"
             "\"disable_tqdm\":true,\"bf16\":%s}",
             BATCH, warmup + steps, threads, bf16 ? "true" : "false");
    if (mlm_trainer_set_json(tr, topts) != MLM_OK)
        return fail("mlm_trainer_set_json");
    int rank = 0, world = 1;
    if (bench_trainer_world(tr, bucket_mb, &rank, &world) != 0)
        return 1;
    double t_end[MAX_STEPS + 1], cpu_end[MAX_STEPS + 1];
    bench_clock log = {t_end + 1, cpu_end + 1, 0, warmup + steps, 0};
    mlm_trainer_set_callback(tr, bench_clock_on_log, &log);
    cpu_end[0] = bench_cpu_now();
    t_end[0] = bench_now();
    mlm_status st = mlm_trainer_train(tr);
    if (st != MLM_ERR_CANCELLED && st != MLM_OK)
        return fail("mlm_trainer_train");
    if (log.n != warmup + steps)
        return fprintf(stderr, "t5_train_bench: %d steps logged, expected %d\n", log.n,
                       warmup + steps), 1;
    double dt[MAX_STEPS], dcpu[MAX_STEPS];
    for (int k = 0; k < log.n; k++) {
        dt[k] = t_end[k + 1] - t_end[k];
        dcpu[k] = cpu_end[k + 1] - cpu_end[k];
    }
    double step_s = bench_median(dt + warmup, steps), cpu_s = bench_median(dcpu + warmup, steps);
    double tokens = (double)world * BATCH * (SRC + TGT), tps = tokens / step_s;
    double flops = step_flops(), mfu = flops / step_s * 1e-9 / peak;
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
        printf("{\"impl\":\"libmlm\",\"shape\":\"t5-small\",\"model_config\":%s,\"batch\":%d,"
               "\"source\":%d,\"target\":%d,\"config\":{\"threads\":%d,\"bf16\":%s,\"world\":%d,\"bucket_mb\":%d,\"system\":\"%s\"},"
               "\"steps\":%d,\"warmup\":%d,\"step_s\":%.6f,\"step_s_all\":[",
               config, BATCH, SRC, TGT, threads, bf16 ? "true" : "false", world, bucket_mb, mlm_system_info(),
               steps, warmup, step_s);
        for (int k = 0; k < log.n; k++)
            printf("%s%.6f", k ? "," : "", dt[k]);
        printf("],\"cpu_s\":%.6f,\"tokens_per_s\":%.3f,\"params\":%lld,"
               "\"model_flops_per_step\":%.6e,\"peak_gflops\":%.2f,\"peak_avx512_gflops\":%.2f,"
               "\"peak_avx2_gflops\":%.2f,\"mfu\":%.4f,\"peak_rss_mb\":%.1f,"
               "\"runtime_rss_mb\":%.1f,\"model_rss_mb\":%.1f,\"last_loss\":%.4f,\"cpu\":\"%s\","
               "\"cores\":%ld,\"loadavg\":[%.2f,%.2f,%.2f]}\n",
               cpu_s, tps, params, flops, peak, p512, p256, mfu, rss, runtime_rss, model_rss,
               log.loss_last, cpu, sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
    } else {
        printf("t5-small v1.0 (%lld parameters), batch %d x (%d + %d), %d thread%s, %s, %s\n",
               params, BATCH, SRC, TGT, threads, threads > 1 ? "s" : "",
               bf16 ? "bf16 autocast" : "fp32", mlm_system_info());
        printf("  step %.3f s (median of %d after %d warm-up; all:", step_s, steps, warmup);
        for (int k = 0; k < log.n; k++)
            printf(" %.3f", dt[k]);
        printf("; CPU time %.3f s a step)\n  %.1f tokens/s; MFU %.1f%% (%.1f GFLOP/step, peak "
               "%.1f GFLOP/s); last loss %.4f\n",
               cpu_s, tps, 100 * mfu, flops * 1e-9, peak, log.loss_last);
        printf("  peak RSS %.1f MB (runtime alone %.1f, after model + data %.1f); %s, load %.2f\n",
               rss, runtime_rss, model_rss, cpu, load[0]);
    }
    mlm_trainer_free(tr);
    mlm_collator_free(col);
    mlm_dataset_free(ds);
    mlm_model_free(model);
    return 0;
}
