/* mlm summarize: transformers' summarization pipeline from the command
 * line. One TEXT as an argument, or (with none) one text per line of stdin
 * (--input-jsonl: a JSON string or {"text": s} per line); one output line
 * per text, in order. Every option is the pipeline's (mlm_summarizer_set):
 * the tool only maps flags to names. */
#include <mlm.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

/* Flags that are generation or pipeline options, by their HF names. */
static const struct {
    const char *flag, *name;
    int kind; /* ARG_FLAG: sets "true" */
} mapped[] = {
    {"num-beams", "num_beams", ARG_VALUE},
    {"max-new-tokens", "max_new_tokens", ARG_VALUE},
    {"min-new-tokens", "min_new_tokens", ARG_VALUE},
    {"max-length", "max_length", ARG_VALUE},
    {"min-length", "min_length", ARG_VALUE},
    {"length-penalty", "length_penalty", ARG_VALUE},
    {"early-stopping", "early_stopping", ARG_VALUE},
    {"no-repeat-ngram-size", "no_repeat_ngram_size", ARG_VALUE},
    {"repetition-penalty", "repetition_penalty", ARG_VALUE},
    {"num-return-sequences", "num_return_sequences", ARG_VALUE},
    {"do-sample", "do_sample", ARG_FLAG},
    {"seed", "seed", ARG_VALUE},
    {"temperature", "temperature", ARG_VALUE},
    {"top-k", "top_k", ARG_VALUE},
    {"top-p", "top_p", ARG_VALUE},
    {"truncation", "truncation", ARG_FLAG},
    {"return-tensors", "return_tensors", ARG_FLAG},
};
#define NMAPPED (sizeof mapped / sizeof mapped[0])

enum { MODEL = NMAPPED, JSON, JSONL, THREADS, BATCH, DTYPE, NOPTS };

static int print_summary(const mlm_summary *r, int as_json)
{
    for (size_t i = 0; i < mlm_summary_n_warnings(r); i++)
        fprintf(stderr, "mlm: warning: %s\n", mlm_summary_warning(r, i));
    if (as_json) {
        size_t needed = 0;
        mlm_status st = mlm_summary_to_json(r, NULL, 0, &needed);
        char *buf = st == MLM_OK ? malloc(needed) : NULL;
        if (!buf)
            return cli_fail("json", st == MLM_OK ? MLM_ERR_OUT_OF_MEMORY : st);
        mlm_summary_to_json(r, buf, needed, &needed);
        printf("%s\n", buf);
        free(buf);
        return 0;
    }
    /* One line per text; several returned sequences are tab-separated. */
    for (size_t k = 0; k < mlm_summary_n(r); k++) {
        if (k)
            putchar('\t');
        const char *text = mlm_summary_text(r, k);
        if (text) {
            fputs(text, stdout);
            continue;
        }
        size_t len = 0;
        const int32_t *ids = mlm_summary_token_ids(r, k, &len);
        for (size_t i = 0; i < len; i++)
            printf("%s%d", i ? " " : "", (int)ids[i]);
    }
    putchar('\n');
    return 0;
}

/* The text of an --input-jsonl line (malloc'ed), or NULL after a message. */
static char *jsonl_text(const char *line, long lineno)
{
    cJSON *v = cJSON_Parse(line);
    const cJSON *t = cJSON_IsString(v) ? v : cJSON_GetObjectItemCaseSensitive(v, "text");
    char *text = cJSON_IsString(t) ? strdup(t->valuestring) : NULL;
    if (!text)
        fprintf(stderr, "mlm: stdin line %ld: expected a JSON string or an object with a "
                        "\"text\" string\n", lineno);
    cJSON_Delete(v);
    return text;
}

static int summarize_lines(const mlm_summarizer *s, char **texts, size_t n, int as_json)
{
    mlm_summary **res = calloc(n, sizeof *res);
    if (!res)
        return cli_fail("summarize", MLM_ERR_OUT_OF_MEMORY);
    mlm_status st = mlm_summarize_batch(s, (const char *const *)texts, n, res);
    int rc = st == MLM_OK ? 0 : cli_fail("summarize", st);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = print_summary(res[i], as_json);
        mlm_summary_free(res[i]);
    }
    fflush(stdout);
    free(res);
    return rc;
}

static int from_stdin(const mlm_summarizer *s, int jsonl, int as_json, long batch)
{
    char *line = NULL, **texts = calloc((size_t)batch, sizeof *texts);
    size_t cap = 0, n = 0;
    long lineno = 0;
    int rc = texts ? 0 : cli_fail("summarize", MLM_ERR_OUT_OF_MEMORY);
    while (rc == 0 && cli_read_line(stdin, &line, &cap) >= 0) {
        lineno++;
        texts[n] = jsonl ? jsonl_text(line, lineno) : strdup(line);
        if (!texts[n]) {
            rc = jsonl ? EXIT_RUNTIME : cli_fail("summarize", MLM_ERR_OUT_OF_MEMORY);
            break;
        }
        if (++n == (size_t)batch) {
            rc = summarize_lines(s, texts, n, as_json);
            for (size_t i = 0; i < n; i++)
                free(texts[i]);
            n = 0;
        }
    }
    if (rc == 0 && n)
        rc = summarize_lines(s, texts, n, as_json);
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(line);
    return rc;
}

int cmd_summarize(int argc, char **argv)
{
    cli_option opts[NOPTS];
    for (size_t i = 0; i < NMAPPED; i++)
        opts[i] = (cli_option){mapped[i].flag, mapped[i].kind, NULL};
    opts[MODEL] = (cli_option){"model", ARG_VALUE, NULL};
    opts[JSON] = (cli_option){"json", ARG_FLAG, NULL};
    opts[JSONL] = (cli_option){"input-jsonl", ARG_FLAG, NULL};
    opts[THREADS] = (cli_option){"threads", ARG_VALUE, NULL};
    opts[BATCH] = (cli_option){"batch-size", ARG_VALUE, NULL};
    opts[DTYPE] = (cli_option){"dtype", ARG_VALUE, NULL};
    const char *pos[1];
    size_t npos = 1;
    int threads;
    long batch = 1;
    if (cli_parse(argc, argv, 2, opts, NOPTS, pos, &npos) != 0 || !opts[MODEL].value ||
        cli_parse_threads(opts[THREADS].value, &threads) != 0 ||
        (opts[BATCH].value && cli_parse_long(opts[BATCH].value, 1, 4096, &batch) != 0) ||
        (npos == 1 && opts[JSONL].value))
        return cli_usage_error("summarize");
    mlm_dtype dtype = MLM_DTYPE_F32;
    if (opts[DTYPE].value && mlm_dtype_from_name(opts[DTYPE].value, &dtype) != MLM_OK)
        return cli_fail("--dtype", MLM_ERR_INVALID_ARGUMENT);
    mlm_summarizer *s = NULL;
    mlm_status st = mlm_summarizer_load_dtype(opts[MODEL].value, dtype, &s);
    if (st != MLM_OK)
        return cli_fail(opts[MODEL].value, st);
    mlm_summarizer_set_threads(s, threads);
    for (size_t i = 0; i < NMAPPED; i++) {
        if (!opts[i].value)
            continue;
        const char *value = mapped[i].kind == ARG_FLAG ? "true" : opts[i].value;
        if ((st = mlm_summarizer_set(s, mapped[i].name, value)) != MLM_OK) {
            fprintf(stderr, "mlm: --%s %s: %s: %s\n", mapped[i].flag,
                    mapped[i].kind == ARG_FLAG ? "" : opts[i].value, mlm_status_string(st),
                    mlm_last_error());
            mlm_summarizer_free(s);
            return EXIT_USAGE;
        }
    }
    int rc;
    if (npos == 1) {
        char *text = (char *)pos[0];
        rc = summarize_lines(s, &text, 1, opts[JSON].value != NULL);
    } else {
        rc = from_stdin(s, opts[JSONL].value != NULL, opts[JSON].value != NULL, batch);
    }
    mlm_summarizer_free(s);
    return rc;
}
