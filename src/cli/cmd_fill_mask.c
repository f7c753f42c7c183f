/* mlm fill-mask: transformers' fill-mask pipeline from the command line.
 * One text as an argument, or (with none) one text per line from stdin. */
#include <mlm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

/* "a,b,c" → an array of pointers into *storage, a copy of the list. */
static char **split_targets(const char *list, size_t *n, char **storage)
{
    size_t count = 1;
    for (const char *c = list; *c; c++)
        count += *c == ',';
    char **v = calloc(count + 1, sizeof *v);
    char *copy = strdup(list);
    if (!v || !copy) {
        free(v);
        free(copy);
        return NULL;
    }
    size_t i = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        v[i++] = t;
    *storage = copy;
    *n = i;
    return v;
}

static int print_result(const mlm_fill_result *r, int as_json)
{
    /* HF logs its warnings (targets replaced or ignored) to stderr. */
    for (size_t i = 0; i < mlm_fill_result_n_warnings(r); i++)
        fprintf(stderr, "mlm: warning: %s\n", mlm_fill_result_warning(r, i));
    if (as_json) {
        size_t needed = 0;
        mlm_status st = mlm_fill_result_to_json(r, NULL, 0, &needed);
        char *buf = st == MLM_OK ? malloc(needed) : NULL;
        if (!buf)
            return cli_fail("json", st == MLM_OK ? MLM_ERR_OUT_OF_MEMORY : st);
        mlm_fill_result_to_json(r, buf, needed, &needed);
        printf("%s\n", buf);
        free(buf);
        return 0;
    }
    size_t masks = mlm_fill_result_n_masks(r);
    for (size_t m = 0; m < masks; m++) {
        if (masks > 1)
            printf("mask %zu:\n", m + 1);
        for (size_t k = 0; k < mlm_fill_result_n_predictions(r, m); k++)
            printf("%8.4f  %6d  %-16s %s\n", mlm_fill_result_score(r, m, k),
                   (int)mlm_fill_result_token(r, m, k), mlm_fill_result_token_str(r, m, k),
                   mlm_fill_result_sequence(r, m, k));
    }
    return 0;
}

static int fill_one(const mlm_pipeline *p, const char *text, int top_k, char **targets,
                    size_t n_targets, int as_json)
{
    mlm_fill_result *r = NULL;
    mlm_status st = targets
                        ? mlm_fill_mask_targets(p, text, (const char *const *)targets, n_targets,
                                                top_k, &r)
                        : mlm_fill_mask(p, text, top_k, &r);
    if (st != MLM_OK)
        return cli_fail("fill-mask", st);
    int rc = print_result(r, as_json);
    mlm_fill_result_free(r);
    return rc;
}

int cmd_fill_mask(int argc, char **argv)
{
    cli_option opts[] = {{"model", ARG_VALUE, NULL},   {"top-k", ARG_VALUE, NULL},
                         {"targets", ARG_VALUE, NULL}, {"json", ARG_FLAG, NULL},
                         {"threads", ARG_VALUE, NULL}, {"truncation", ARG_FLAG, NULL},
                         {"dtype", ARG_VALUE, NULL}};
    const char *pos[1];
    size_t npos = 1;
    long top_k = 5;
    int threads;
    if (cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0], pos, &npos) != 0 ||
        !opts[0].value || (opts[1].value && cli_parse_long(opts[1].value, 1, 1 << 20, &top_k)) ||
        cli_parse_threads(opts[4].value, &threads) != 0)
        return cli_usage_error("fill-mask");
    mlm_dtype dtype = MLM_DTYPE_F32;
    if (opts[6].value && mlm_dtype_from_name(opts[6].value, &dtype) != MLM_OK)
        return cli_fail("--dtype", MLM_ERR_INVALID_ARGUMENT);
    mlm_pipeline *p = NULL;
    mlm_status st = mlm_pipeline_load_dtype(opts[0].value, dtype, &p);
    if (st != MLM_OK)
        return cli_fail(opts[0].value, st);
    mlm_pipeline_set_threads(p, threads);
    mlm_pipeline_set_truncation(p, opts[5].value != NULL);
    size_t n_targets = 0;
    char *storage = NULL;
    char **targets = opts[2].value ? split_targets(opts[2].value, &n_targets, &storage) : NULL;
    int rc = 0;
    if (opts[2].value && !targets) {
        rc = cli_fail("--targets", MLM_ERR_OUT_OF_MEMORY);
    } else if (npos == 1) {
        rc = fill_one(p, pos[0], (int)top_k, targets, n_targets, opts[3].value != NULL);
    } else {
        char *line = NULL;
        size_t cap = 0;
        while (rc == 0 && cli_read_line(stdin, &line, &cap) >= 0)
            rc = fill_one(p, line, (int)top_k, targets, n_targets, opts[3].value != NULL);
        free(line);
    }
    free(storage);
    free(targets);
    mlm_pipeline_free(p);
    return rc;
}
