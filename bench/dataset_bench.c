/* Dataset preparation throughput and memory: tokenize + group_texts(128) a
 * generated >= 100 MB corpus (WikiText-2 raw and the Korean corpora of
 * ../shared, repeated; written under /tmp, never committed) with
 * mlm_dataset_tokenize_file (streaming) on 1 and 2 threads, with
 * roberta-base. Each run is a child process, so its peak RSS (wait4) is its
 * own: the streaming runs on a 25 MB and a 100 MB corpus show that memory
 * does not grow with the corpus, and the in-memory path (load → tokenize →
 * group_texts) on 25 MB shows what it would cost otherwise. Then the same
 * pipeline through HF tokenizers' Node binding (bench/dataset_hf.js:
 * encodeBatch of 1000 lines + grouping in JS), one run, and the ratio.
 *
 *   make bench-dataset          (BENCH_MB=100 by default)
 *   build/bench/dataset_bench [MB]
 *
 * Measured (2 vCPU shared with other jobs, so compare CPU seconds):
 *   streaming  25 MB 2 thr  15.3 s  cpu  5.2 s  peak RSS  34 MB
 *   in-memory  25 MB 2 thr  15.8 s  cpu  5.5 s  peak RSS 735 MB
 *   streaming 100 MB 1 thr  57.5 s  cpu 21.3 s  peak RSS  33 MB
 *   streaming 100 MB 2 thr  53.2 s  cpu 20.9 s  peak RSS  40 MB
 *   hf-node   100 MB 2 thr 173.9 s  cpu 79.2 s  peak RSS 243 MB
 *   libmlm / HF: 3.27x wall, 3.79x cpu, same token and block counts
 * (the table with details is in docs/data-pipeline.md). */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 128

static const char *const sources[] = {
    "../shared/data/corpora/wikitext-2-raw/wiki.valid.raw",
    "../shared/data/corpora/korean-chatbot-data/ChatbotData.csv",
    "../shared/data/corpora/kornli/xnli.dev.ko.tsv",
};
static const char tokenizer_path[] = "../shared/data/tokenizers/roberta-base";
static const char tmpdir[] = "/tmp/mlm-dataset-bench";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)n + 1);
    if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    if (d)
        d[n] = '\0';
    *len = (size_t)n;
    return d;
}

/* The corpus of at least mb MB: the sources in turn until it is big
 * enough. Reused when already there. */
static int make_corpus(const char *path, size_t mb)
{
    struct stat st;
    size_t want = mb << 20;
    if (stat(path, &st) == 0 && (size_t)st.st_size >= want && (size_t)st.st_size < want + (4u << 20))
        return 0;
    size_t ns = sizeof sources / sizeof sources[0], lens[8];
    char *data[8];
    for (size_t i = 0; i < ns; i++) {
        if (!(data[i] = slurp(sources[i], &lens[i]))) {
            printf("skip: %s is absent\n", sources[i]);
            return -1;
        }
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t written = 0;
    for (size_t k = 0; written < want; k++) {
        size_t i = k % ns;
        fwrite(data[i], 1, lens[i], f);
        if (lens[i] && data[i][lens[i] - 1] != '\n')
            fputc('\n', f), written++;
        written += lens[i];
    }
    fclose(f);
    for (size_t i = 0; i < ns; i++)
        free(data[i]);
    return 0;
}

typedef struct result {
    double seconds;
    unsigned long long bytes, tokens, rows;
    long maxrss_kb;
    int ok;
    double cpu; /* user + system seconds of the child */
} result;

/* Run one pipeline in a child; its stats come back through a pipe. */
static result run_child(const char *corpus, int threads, int streaming)
{
    result r = {0};
    int fds[2];
    if (pipe(fds) != 0)
        return r;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        mlm_tokenizer *tok = NULL;
        result c = {0};
        if (mlm_tokenizer_load(tokenizer_path, &tok) == MLM_OK) {
            char out[512], opts[256];
            snprintf(out, sizeof out, "%s/out.mlmds", tmpdir);
            double t0 = now();
            if (streaming) {
                snprintf(opts, sizeof opts, "{\"block_size\": %d, \"num_proc\": %d}", BLOCK,
                         threads);
                mlm_tokenize_file_stats s = {.sz = sizeof s};
                if (mlm_dataset_tokenize_file(tok, corpus, opts, out, &s) == MLM_OK) {
                    c = (result){now() - t0, s.bytes_in, s.tokens, s.rows, 0, 1, 0};
                } else {
                    fprintf(stderr, "error: %s\n", mlm_last_error());
                }
                unlink(out);
            } else {
                mlm_dataset *ds = NULL, *t = NULL, *g = NULL;
                snprintf(opts, sizeof opts, "{\"num_proc\": %d, \"remove_columns\": \"all\"}",
                         threads);
                struct stat st;
                if (mlm_dataset_load(corpus, NULL, &ds) == MLM_OK &&
                    mlm_dataset_tokenize(ds, tok, "text", opts, &t) == MLM_OK &&
                    mlm_dataset_group_texts(t, BLOCK, &g) == MLM_OK && stat(corpus, &st) == 0) {
                    unsigned long long tokens = 0;
                    for (size_t i = 0; i < mlm_dataset_num_rows(t); i++) {
                        size_t len; /* a length query: no column widened */
                        mlm_dataset_copy_sequence(t, "input_ids", i, NULL, 0, &len);
                        tokens += len;
                    }
                    c = (result){now() - t0, (unsigned long long)st.st_size, tokens,
                                 mlm_dataset_num_rows(g), 0, 1, 0};
                } else {
                    fprintf(stderr, "error: %s\n", mlm_last_error());
                }
                mlm_dataset_free(g);
                mlm_dataset_free(t);
                mlm_dataset_free(ds);
            }
        }
        mlm_tokenizer_free(tok);
        if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (pid < 0 || read(fds[0], &r, sizeof r) != (ssize_t)sizeof r)
        r.ok = 0;
    close(fds[0]);
    int status;
    struct rusage ru;
    if (pid > 0 && wait4(pid, &status, 0, &ru) == pid) {
        r.maxrss_kb = ru.ru_maxrss;
        r.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    }
    return r;
}

static void print_row(const char *mode, size_t mb, int threads, const result *r)
{
    if (!r->ok) {
        printf("%-10s %5zu MB  %d thr  failed\n", mode, mb, threads);
        return;
    }
    double mbs = (double)r->bytes / 1048576.0 / r->seconds;
    printf("%-10s %5zu MB  %d thr  %7.2f s  %6.2f MB/s  %6.3f Mtok/s  cpu %7.2f s  %11llu "
           "tokens  %9llu blocks  peak RSS %6.1f MB\n",
           mode, mb, threads, r->seconds, mbs, (double)r->tokens / 1e6 / r->seconds, r->cpu,
           r->tokens, r->rows, (double)r->maxrss_kb / 1024.0);
}

int main(int argc, char **argv)
{
    size_t big = argc > 1 ? (size_t)atoi(argv[1]) : 100, small = big / 4 ? big / 4 : 1;
    struct stat st;
    if (stat(tokenizer_path, &st) != 0) {
        printf("skip: %s is absent\n", tokenizer_path);
        return 0;
    }
    mkdir(tmpdir, 0777);
    char cbig[256], csmall[256];
    snprintf(cbig, sizeof cbig, "%s/corpus-%zumb.txt", tmpdir, big);
    snprintf(csmall, sizeof csmall, "%s/corpus-%zumb.txt", tmpdir, small);
    if (make_corpus(cbig, big) != 0 || make_corpus(csmall, small) != 0)
        return 0;
    printf("tokenize + group_texts(%d), roberta-base; corpus = WikiText-2 raw + ChatbotData "
           "+ KorNLI, repeated\n", BLOCK);
    result r2big = {0};
    struct { const char *corpus; size_t mb; int threads, streaming; } runs[] = {
        {csmall, small, 2, 1}, {csmall, small, 2, 0}, {cbig, big, 1, 1}, {cbig, big, 2, 1},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        result r = run_child(runs[i].corpus, runs[i].threads, runs[i].streaming);
        print_row(runs[i].streaming ? "streaming" : "in-memory", runs[i].mb, runs[i].threads,
                  &r);
        if (runs[i].streaming && runs[i].threads == 2 && runs[i].corpus == cbig)
            r2big = r;
    }
    /* the HF peer: one run on 2 rayon threads */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd tests 2>/dev/null && { [ -d node_modules/tokenizers ] || npm install --silent "
             ">/dev/null 2>&1; }; cd .. ; RAYON_NUM_THREADS=2 node bench/dataset_hf.js '%s' "
             "'%s/tokenizer.json' %d",
             cbig, tokenizer_path, BLOCK);
    FILE *p = popen(cmd, "r");
    char line[1024] = "";
    double hf_s = 0, hf_rss = 0, hf_cpu = 0;
    unsigned long long hf_bytes = 0, hf_tokens = 0, hf_blocks = 0;
    int got = 0;
    while (p && fgets(line, sizeof line, p)) {
        if (sscanf(line, "hf %lf %llu %llu %llu %lf %lf", &hf_s, &hf_bytes, &hf_tokens,
                   &hf_blocks, &hf_rss, &hf_cpu) == 6)
            got = 1;
        else
            fputs(line, stdout);
    }
    if (p)
        pclose(p);
    if (!got) {
        printf("HF peer skipped (node or the tokenizers package is not available)\n");
        return 0;
    }
    double hf_mbs = (double)hf_bytes / 1048576.0 / hf_s;
    printf("%-10s %5zu MB  2 thr  %7.2f s  %6.2f MB/s  %6.3f Mtok/s  cpu %7.2f s  %11llu "
           "tokens  %9llu blocks  peak RSS %6.1f MB\n",
           "hf-node", big, hf_s, hf_mbs, (double)hf_tokens / 1e6 / hf_s, hf_cpu, hf_tokens,
           hf_blocks, hf_rss);
    if (r2big.ok) {
        double ours = (double)r2big.bytes / 1048576.0 / r2big.seconds;
        printf("libmlm / HF (2 threads, %zu MB): %.2fx wall, %.2fx cpu%s\n", big, ours / hf_mbs,
               hf_cpu / r2big.cpu,
               r2big.tokens == hf_tokens && r2big.rows == hf_blocks
                   ? "  (same token and block counts)"
                   : "  (token or block counts differ!)");
    }
    return 0;
}
