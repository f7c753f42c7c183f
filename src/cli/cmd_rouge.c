/* mlm rouge: ROUGE of predictions against references, as evaluate's rouge
 * (rouge_score) computes it, through mlm_rouge_* (mlm/metrics.h).
 *
 * Input: --predictions F --references F, one text per line (line i of one
 * against line i of the other; an empty line is an empty text), or
 * --input-jsonl F with {"prediction": s, "reference": s} per line, so that
 * texts can hold the newlines rougeLsum splits sentences on (blank lines
 * are skipped). "-" reads stdin. Every text is checked as UTF-8 here, so
 * that an error names the file and line. */
#include <mlm.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli_file.h"
#include "commands.h"
#include "core/utf8.h"
#include "jsonstr.h"

/* The texts of one side (or both, with --input-jsonl), with the line each
 * came from. */
typedef struct texts {
    char **text;
    size_t *len;
    long *line;
    size_t n, cap;
} texts;

static int texts_add(texts *t, char *s, size_t len, long line)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        char **a = realloc(t->text, cap * sizeof *a);
        if (a)
            t->text = a;
        size_t *b = realloc(t->len, cap * sizeof *b);
        if (b)
            t->len = b;
        long *c = realloc(t->line, cap * sizeof *c);
        if (c)
            t->line = c;
        if (!a || !b || !c)
            return -1;
        t->cap = cap;
    }
    t->text[t->n] = s;
    t->len[t->n] = len;
    t->line[t->n++] = line;
    return 0;
}

static void texts_free(texts *t, int owned)
{
    for (size_t i = 0; owned && i < t->n; i++)
        free(t->text[i]);
    free(t->text);
    free(t->len);
    free(t->line);
}

static const char *display(const char *path) { return strcmp(path, "-") == 0 ? "stdin" : path; }

/* The whole file ("-": stdin); NULL after a message. */
static char *slurp(const char *path, size_t *len)
{
    char *data = cli_read_file(strcmp(path, "-") == 0 ? "/dev/stdin" : path, len);
    if (!data)
        fprintf(stderr, "mlm: %s: cannot read: %s\n", display(path), strerror(errno));
    return data;
}

static int check_utf8(const char *path, long line, const char *what, const char *s, size_t n)
{
    size_t bad;
    if (utf8_valid(s, n, &bad))
        return 0;
    fprintf(stderr, "mlm: %s:%ld: %sinvalid UTF-8 at byte %zu\n", display(path), line, what,
            bad);
    return -1;
}

/* One text per line of data (split at '\n', one '\r' before it dropped; a
 * last line without '\n' counts). The texts point into data. */
static int split_lines(const char *path, char *data, size_t len, texts *t)
{
    long line = 1;
    for (size_t start = 0; start < len; line++) {
        char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - start;
        if (n && data[start + n - 1] == '\r')
            n--;
        data[start + n] = '\0';
        if (check_utf8(path, line, "", data + start, n))
            return -1;
        if (texts_add(t, data + start, n, line)) {
            fprintf(stderr, "mlm: %s: out of memory\n", display(path));
            return -1;
        }
        start = end + 1;
    }
    return 0;
}

/* {"prediction": s, "reference": s} per line into pred and ref (copies). */
static int read_jsonl(const char *path, char *data, size_t len, texts *pred, texts *ref)
{
    long line = 1;
    for (size_t start = 0; start < len; line++) {
        char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;
        char *s = data + start;
        data[end] = '\0';
        start = end + 1;
        if (utf8_is_blank(s, strlen(s)))
            continue;
        cJSON *doc = cJSON_ParseWithLength(s, strlen(s));
        int ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "prediction")) &&
                 cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "reference"));
        cJSON_Delete(doc);
        char *p = NULL, *r = NULL;
        size_t pl = 0, rl = 0;
        if (!ok || jsonstr_member(s, "prediction", &p, &pl) != 1 ||
            jsonstr_member(s, "reference", &r, &rl) != 1) {
            free(p);
            fprintf(stderr, "mlm: %s:%ld: expected a JSON object {\"prediction\": string, "
                            "\"reference\": string}\n", display(path), line);
            return -1;
        }
        if (check_utf8(path, line, "prediction: ", p, pl) ||
            check_utf8(path, line, "reference: ", r, rl) || texts_add(pred, p, pl, line) ||
            texts_add(ref, r, rl, line)) {
            if (pred->n && pred->text[pred->n - 1] == p)
                pred->n--; /* freed below, once */
            free(p);
            free(r);
            return -1;
        }
    }
    return 0;
}

/* The scorer's options from the flags: {"rouge_types": [...], "use_stemmer": b}. */
static char *options_json(const char *types, int stem)
{
    cJSON *o = cJSON_CreateObject();
    if (types) {
        cJSON *list = cJSON_AddArrayToObject(o, "rouge_types");
        char *copy = strdup(types), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(list, cJSON_CreateString(t));
        free(copy);
    }
    cJSON_AddBoolToObject(o, "use_stemmer", stem);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* The shortest decimal that reads back as x (Python's repr digits). */
static void put_num(double x)
{
    char buf[32];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    fputs(buf, stdout);
}

static int print_json(const mlm_rouge_result *res, long pair)
{
    size_t needed = 0;
    mlm_status st = pair < 0 ? mlm_rouge_result_to_json(res, 0, NULL, 0, &needed)
                             : mlm_rouge_result_pair_to_json(res, (size_t)pair, NULL, 0, &needed);
    char *buf = st == MLM_OK ? malloc(needed) : NULL;
    if (!buf)
        return cli_fail("json", st == MLM_OK ? MLM_ERR_OUT_OF_MEMORY : st);
    if (pair < 0)
        mlm_rouge_result_to_json(res, 0, buf, needed, &needed);
    else
        mlm_rouge_result_pair_to_json(res, (size_t)pair, buf, needed, &needed);
    puts(buf);
    free(buf);
    return 0;
}

static int print_result(const mlm_rouge_result *res, const long *lines, int per_pair,
                        int as_json)
{
    size_t n = mlm_rouge_result_num_pairs(res), nt = mlm_rouge_result_num_types(res);
    if (as_json) {
        for (size_t i = 0; per_pair && i < n; i++)
            if (print_json(res, (long)i))
                return EXIT_RUNTIME;
        return per_pair ? 0 : print_json(res, -1);
    }
    if (per_pair) { /* TSV: a row per pair and type, then the means */
        printf("line\ttype\tprecision\trecall\tfmeasure\n");
        for (size_t i = 0; i <= n; i++)
            for (size_t t = 0; t < nt; t++) {
                if (i < n)
                    printf("%ld\t", lines[i]);
                else
                    printf("mean\t");
                printf("%s", mlm_rouge_result_type_name(res, t));
                for (int m = 0; m < 3; m++) {
                    putchar('\t');
                    put_num(i < n ? mlm_rouge_result_score(res, i, t, (mlm_rouge_measure)m)
                                  : mlm_rouge_result_mean(res, t, (mlm_rouge_measure)m));
                }
                putchar('\n');
            }
        return 0;
    }
    printf("%-10s %10s %10s %10s\n", "type", "precision", "recall", "fmeasure");
    for (size_t t = 0; t < nt; t++)
        printf("%-10s %10.6f %10.6f %10.6f\n", mlm_rouge_result_type_name(res, t),
               mlm_rouge_result_mean(res, t, MLM_ROUGE_PRECISION),
               mlm_rouge_result_mean(res, t, MLM_ROUGE_RECALL),
               mlm_rouge_result_mean(res, t, MLM_ROUGE_FMEASURE));
    printf("(mean over %zu pair%s)\n", n, n == 1 ? "" : "s");
    return 0;
}

int cmd_rouge(int argc, char **argv)
{
    enum { PRED, REF, JSONL, STEM, TYPES, PER_PAIR, JSON, THREADS, NOPTS };
    cli_option opts[NOPTS] = {
        [PRED] = {"predictions", ARG_VALUE, NULL}, [REF] = {"references", ARG_VALUE, NULL},
        [JSONL] = {"input-jsonl", ARG_VALUE, NULL}, [STEM] = {"use-stemmer", ARG_FLAG, NULL},
        [TYPES] = {"rouge-types", ARG_VALUE, NULL}, [PER_PAIR] = {"per-pair", ARG_FLAG, NULL},
        [JSON] = {"json", ARG_FLAG, NULL},          [THREADS] = {"threads", ARG_VALUE, NULL}};
    const char *pos[1];
    size_t npos = 0;
    int threads;
    if (cli_parse(argc, argv, 2, opts, NOPTS, pos, &npos) != 0 ||
        cli_parse_threads(opts[THREADS].value, &threads) != 0)
        return cli_usage_error("rouge");
    const char *pp = opts[PRED].value, *rp = opts[REF].value, *jp = opts[JSONL].value;
    if (jp ? (pp || rp) : (!pp || !rp)) {
        fprintf(stderr, "mlm rouge: give --predictions and --references, or --input-jsonl\n");
        return cli_usage_error("rouge");
    }
    if (pp && rp && strcmp(pp, "-") == 0 && strcmp(rp, "-") == 0) {
        fprintf(stderr, "mlm rouge: only one of the files can be stdin\n");
        return cli_usage_error("rouge");
    }
    char *oj = options_json(opts[TYPES].value, opts[STEM].value != NULL);
    mlm_rouge *sc = NULL;
    mlm_status st = oj ? mlm_rouge_new(oj, &sc) : MLM_ERR_OUT_OF_MEMORY;
    free(oj);
    if (st == MLM_ERR_INVALID_ARGUMENT) { /* a bad --rouge-types */
        fprintf(stderr, "mlm rouge: --rouge-types: %s\n", mlm_last_error());
        return cli_usage_error("rouge");
    }
    if (st != MLM_OK)
        return cli_fail("rouge", st);
    mlm_rouge_set_threads(sc, threads);

    texts pred = {0}, ref = {0};
    char *pdata = NULL, *rdata = NULL;
    size_t plen, rlen;
    int rc = 0;
    if (jp) {
        pdata = slurp(jp, &plen);
        rc = !pdata || read_jsonl(jp, pdata, plen, &pred, &ref) ? EXIT_RUNTIME : 0;
    } else {
        pdata = slurp(pp, &plen);
        rdata = pdata ? slurp(rp, &rlen) : NULL;
        rc = !rdata || split_lines(pp, pdata, plen, &pred) || split_lines(rp, rdata, rlen, &ref)
                 ? EXIT_RUNTIME
                 : 0;
        if (!rc && pred.n != ref.n) {
            fprintf(stderr, "mlm: %s has %zu line%s and %s %zu: one text per line in each\n",
                    display(pp), pred.n, pred.n == 1 ? "" : "s", display(rp), ref.n);
            rc = EXIT_RUNTIME;
        }
    }
    mlm_rouge_result *res = NULL;
    if (!rc) {
        st = mlm_rouge_score_batch(sc, (const char *const *)pred.text, pred.len,
                                   (const char *const *)ref.text, ref.len, pred.n, &res);
        rc = st != MLM_OK ? cli_fail("rouge", st)
                          : print_result(res, pred.line, opts[PER_PAIR].value != NULL,
                                         opts[JSON].value != NULL);
    }
    mlm_rouge_result_free(res);
    texts_free(&pred, jp != NULL);
    texts_free(&ref, jp != NULL);
    free(pdata);
    free(rdata);
    mlm_rouge_free(sc);
    return rc;
}
