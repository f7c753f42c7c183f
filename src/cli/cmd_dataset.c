/* mlm dataset / mlm collate: run_mlm.py's data preparation from the command
 * line. `mlm dataset` tokenizes a training file (and a validation file),
 * groups the tokens into blocks (or keeps lines, truncated, with
 * --line-by-line), splits, and writes DIR/train and DIR/test (or
 * DIR/validation) in libmlm's dataset format, with DIR/dataset_info.json
 * recording how, the counts, and the special ids the collator needs.
 * `mlm collate` prints masked batches of such a split as JSON lines. */
#include <mlm.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli_file.h"
#include "commands.h"
#include "train_data.h"

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Text and JSON Lines stream through mlm_dataset_tokenize_file; JSON
 * arrays, CSV and TSV are loaded whole. The name decides, as the data layer
 * reads it. */
static int streamable(const char *path)
{
    mlm_file_format f = mlm_dataset_format_of(path);
    return f == MLM_FORMAT_TEXT || f == MLM_FORMAT_UNKNOWN || f == MLM_FORMAT_JSONL;
}

typedef struct prep {
    const mlm_tokenizer *tok;
    const char *column;
    int line_by_line;
    long block, group_batch, num_proc;
    int progress; /* stderr is a terminal: the library draws datasets' bars there */
} prep;

/* Tokenize (and group) one file into a dataset; tmp is where a streamed
 * file goes (removed by the caller). */
static mlm_status prepare_file(const prep *p, const char *path, const char *tmp,
                               mlm_dataset **out)
{
    *out = NULL;
    char opts[512];
    mlm_status st;
    if (streamable(path)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "column", p->column);
        cJSON_AddNumberToObject(o, "block_size", p->line_by_line ? 0 : (double)p->block);
        cJSON_AddNumberToObject(o, "group_batch_size", (double)p->group_batch);
        cJSON_AddBoolToObject(o, "line_by_line", p->line_by_line);
        cJSON_AddNumberToObject(o, "num_proc", (double)p->num_proc);
        cJSON_AddBoolToObject(o, "progress", p->progress);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
            return MLM_ERR_OUT_OF_MEMORY;
        st = mlm_dataset_tokenize_file(p->tok, path, text, tmp, NULL);
        cJSON_free(text);
        if (st == MLM_OK)
            st = mlm_dataset_open(tmp, out);
        return st;
    }
    mlm_dataset *ds = NULL, *kept = NULL, *t = NULL;
    if ((st = mlm_dataset_load(path, NULL, &ds)) != MLM_OK)
        return st;
    mlm_column_type type;
    if (p->line_by_line && mlm_dataset_column_type(ds, p->column, &type) == MLM_OK &&
        type == MLM_COLUMN_STRING) {
        st = mlm_dataset_filter(ds, data_keep_line, (void *)p->column, &kept);
        mlm_dataset_free(ds);
        if (st != MLM_OK)
            return st;
        ds = kept;
    }
    snprintf(opts, sizeof opts,
             "{\"remove_columns\": \"all\", \"num_proc\": %ld, \"progress\": %s, "
             "\"desc\": \"Running tokenizer on every text in dataset\"}",
             p->num_proc, p->progress ? "true" : "false");
    st = mlm_dataset_tokenize(ds, p->tok, p->column, opts, &t);
    mlm_dataset_free(ds);
    if (st != MLM_OK || p->line_by_line) {
        *out = t;
        return st;
    }
    st = mlm_dataset_group_texts_batched(t, p->block, (size_t)p->group_batch, out);
    mlm_dataset_free(t);
    return st;
}

static unsigned long long count_tokens(const mlm_dataset *ds)
{
    unsigned long long n = 0;
    for (size_t r = 0; r < mlm_dataset_num_rows(ds); r++) {
        const int32_t *d;
        size_t len;
        if (mlm_dataset_get_sequence(ds, "input_ids", r, &d, &len) == MLM_OK)
            n += len;
    }
    return n;
}

static mlm_status save_split(const char *dir, const char *name, const mlm_dataset *ds,
                             cJSON *splits)
{
    char *path = join_path(dir, name);
    if (!path)
        return MLM_ERR_OUT_OF_MEMORY;
    mlm_status st = mlm_dataset_save(ds, path);
    free(path);
    if (st != MLM_OK)
        return st;
    unsigned long long tokens = count_tokens(ds);
    printf("%s: %zu rows, %llu tokens\n", name, mlm_dataset_num_rows(ds), tokens);
    cJSON *o = cJSON_AddObjectToObject(splits, name);
    cJSON_AddNumberToObject(o, "num_rows", (double)mlm_dataset_num_rows(ds));
    cJSON_AddNumberToObject(o, "num_tokens", (double)tokens);
    return MLM_OK;
}

/* The collator's id options for this tokenizer (mlm_collator_new_ids). */
static cJSON *collator_ids(const mlm_tokenizer *tok)
{
    static const struct {
        mlm_special_token role;
        const char *key;
    } ids[] = {{MLM_TOKEN_MASK, "mask_token_id"}, {MLM_TOKEN_PAD, "pad_token_id"},
               {MLM_TOKEN_EOS, "eos_token_id"},   {MLM_TOKEN_CLS, "cls_token_id"},
               {MLM_TOKEN_SEP, "sep_token_id"},   {MLM_TOKEN_BOS, "bos_token_id"},
               {MLM_TOKEN_UNK, "unk_token_id"}};
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < sizeof ids / sizeof ids[0]; i++) {
        int32_t id = mlm_tokenizer_special_id(tok, ids[i].role);
        if (id >= 0)
            cJSON_AddNumberToObject(o, ids[i].key, id);
    }
    cJSON_AddNumberToObject(o, "vocab_size", mlm_tokenizer_vocab_size(tok));
    return o;
}

static int write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0 || fputc('\n', f) < 0;
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

int cmd_dataset(int argc, char **argv)
{
    enum { TOK, TRAIN, VALID, COL, LBL, BLOCK, MSL, GBS, TEST, SEED, THREADS, NPROC, NWORK, OUT,
           NOPTS };
    cli_option opts[NOPTS] = {
        [TOK] = {"tokenizer", ARG_VALUE, NULL},
        [TRAIN] = {"train-file", ARG_VALUE, NULL},
        [VALID] = {"validation-file", ARG_VALUE, NULL},
        [COL] = {"text-column", ARG_VALUE, NULL},
        [LBL] = {"line-by-line", ARG_FLAG, NULL},
        [BLOCK] = {"block-size", ARG_VALUE, NULL},
        [MSL] = {"max-seq-length", ARG_VALUE, NULL},
        [GBS] = {"group-batch-size", ARG_VALUE, NULL},
        [TEST] = {"test-size", ARG_VALUE, NULL},
        [SEED] = {"seed", ARG_VALUE, NULL},
        [THREADS] = {"threads", ARG_VALUE, NULL},
        [NPROC] = {"num-proc", ARG_VALUE, NULL},
        [NWORK] = {"preprocessing-num-workers", ARG_VALUE, NULL},
        [OUT] = {"out", ARG_VALUE, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    long block = 128, gbs = 1000, seed = 42;
    int nproc = 1;
    double test_size = 0.2;
    int bad = cli_parse(argc, argv, 2, opts, NOPTS, pos, &npos) != 0 || npos ||
              !opts[TOK].value || !opts[TRAIN].value || !opts[OUT].value ||
              (opts[BLOCK].value && opts[MSL].value);
    const char *bs = opts[BLOCK].value ? opts[BLOCK].value : opts[MSL].value;
    /* --threads, or run_mlm.py's names for it */
    const char *np = opts[THREADS].value  ? opts[THREADS].value
                     : opts[NPROC].value ? opts[NPROC].value
                                         : opts[NWORK].value;
    if (!bad && bs && cli_parse_long(bs, 1, 1L << 30, &block) != 0)
        bad = 1;
    if (!bad && opts[GBS].value && cli_parse_long(opts[GBS].value, 0, 1L << 40, &gbs) != 0)
        bad = 1;
    if (!bad && opts[SEED].value && cli_parse_long(opts[SEED].value, 0, LONG_MAX, &seed) != 0)
        bad = 1;
    if (!bad && cli_parse_threads(np, &nproc) != 0)
        bad = 1;
    if (nproc > 256) /* the most the library's num_proc takes */
        nproc = 256;
    if (!bad && opts[TEST].value &&
        (cli_parse_double(opts[TEST].value, 0, 1e15, &test_size) != 0 || test_size <= 0))
        bad = 1;
    if (bad)
        return cli_usage_error("dataset");
    const char *dir = opts[OUT].value;
    int line_by_line = opts[LBL].value != NULL;
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(opts[TOK].value, &tok);
    if (st != MLM_OK)
        return cli_fail(opts[TOK].value, st);
    /* run_mlm's line_by_line: truncation=True, max_length=max_seq_length */
    if (line_by_line &&
        (st = mlm_tokenizer_set_truncation(tok, (int32_t)block, 0, MLM_TRUNCATE_LONGEST_FIRST,
                                           MLM_SIDE_RIGHT)) != MLM_OK) {
        mlm_tokenizer_free(tok);
        return cli_fail("--max-seq-length", st);
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mlm: %s: %s\n", dir, strerror(errno));
        mlm_tokenizer_free(tok);
        return EXIT_RUNTIME;
    }
    prep p = {tok, opts[COL].value ? opts[COL].value : "text", line_by_line, block, gbs, nproc,
              isatty(STDERR_FILENO)};
    char *tmp_train = join_path(dir, ".train.tmp"), *tmp_valid = join_path(dir, ".valid.tmp");
    mlm_dataset *train = NULL, *valid = NULL, *tr = NULL, *te = NULL;
    cJSON *info = cJSON_CreateObject(), *splits = NULL;
    int rc = 0;
    if (!tmp_train || !tmp_valid || !info) {
        rc = cli_fail("mlm dataset", MLM_ERR_OUT_OF_MEMORY);
        goto done;
    }
    if ((st = prepare_file(&p, opts[TRAIN].value, tmp_train, &train)) != MLM_OK) {
        rc = cli_fail(opts[TRAIN].value, st);
        goto done;
    }
    if (opts[VALID].value &&
        (st = prepare_file(&p, opts[VALID].value, tmp_valid, &valid)) != MLM_OK) {
        rc = cli_fail(opts[VALID].value, st);
        goto done;
    }
    cJSON_AddStringToObject(info, "tokenizer", opts[TOK].value);
    cJSON_AddStringToObject(info, "train_file", opts[TRAIN].value);
    if (opts[VALID].value)
        cJSON_AddStringToObject(info, "validation_file", opts[VALID].value);
    cJSON_AddStringToObject(info, "text_column", p.column);
    cJSON_AddBoolToObject(info, "line_by_line", line_by_line);
    cJSON_AddNumberToObject(info, line_by_line ? "max_seq_length" : "block_size", (double)block);
    if (!line_by_line)
        cJSON_AddNumberToObject(info, "group_batch_size", (double)gbs);
    splits = cJSON_AddObjectToObject(info, "splits");
    if (valid) {
        if ((st = save_split(dir, "train", train, splits)) == MLM_OK)
            st = save_split(dir, "validation", valid, splits);
    } else {
        st = mlm_dataset_train_test_split(train, test_size, (uint64_t)seed, 1, &tr, &te);
        if (st == MLM_OK && (st = save_split(dir, "train", tr, splits)) == MLM_OK)
            st = save_split(dir, "test", te, splits);
        cJSON_AddNumberToObject(info, "test_size", test_size);
        cJSON_AddNumberToObject(info, "seed", (double)seed);
    }
    if (st != MLM_OK) {
        rc = cli_fail("mlm dataset", st);
        goto done;
    }
    cJSON_AddItemToObject(info, "collator", collator_ids(tok));
    char *text = cJSON_Print(info);
    char *info_path = join_path(dir, "dataset_info.json");
    if (!text || !info_path || write_text_file(info_path, text) != 0) {
        fprintf(stderr, "mlm: %s/dataset_info.json: cannot write\n", dir);
        rc = EXIT_RUNTIME;
    }
    free(info_path);
    cJSON_free(text);
done:
    mlm_dataset_free(tr);
    mlm_dataset_free(te);
    mlm_dataset_free(train);
    mlm_dataset_free(valid);
    if (tmp_train)
        unlink(tmp_train);
    if (tmp_valid)
        unlink(tmp_valid);
    free(tmp_train);
    free(tmp_valid);
    cJSON_Delete(info);
    mlm_tokenizer_free(tok);
    return rc;
}

/* ------------------------------------------------------------- collate */

static cJSON *matrix(const int32_t *v, size_t rows, size_t cols)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < rows; i++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t j = 0; row && j < cols; j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(v[i * cols + j]));
        cJSON_AddItemToArray(a, row);
    }
    return a;
}

static void print_batch(const mlm_batch *b, size_t index, int as_json)
{
    size_t r = mlm_batch_rows(b), n = mlm_batch_seq_len(b);
    static const char *const names[] = {"input_ids", "attention_mask", "labels",
                                        "special_tokens_mask", "token_type_ids"};
    const int32_t *arr[] = {mlm_batch_input_ids(b), mlm_batch_attention_mask(b),
                            mlm_batch_labels(b), mlm_batch_special_tokens_mask(b),
                            mlm_batch_token_type_ids(b)};
    if (as_json) {
        cJSON *o = cJSON_CreateObject();
        for (size_t k = 0; o && k < 5; k++)
            if (arr[k])
                cJSON_AddItemToObject(o, names[k], matrix(arr[k], r, n));
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        if (s)
            printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o);
        return;
    }
    printf("batch %zu: %zu x %zu\n", index, r, n);
    for (size_t k = 0; k < 3; k++) {
        printf("  %s:\n", names[k]);
        for (size_t i = 0; i < r; i++) {
            printf("    [");
            for (size_t j = 0; j < n; j++)
                printf("%s%d", j ? ", " : "", arr[k][i * n + j]);
            printf("]\n");
        }
    }
}

/* DIR/dataset_info.json's "collator" object as text, or NULL. */
static char *info_collator(const char *dir)
{
    char *path = join_path(dir, "dataset_info.json");
    size_t len = 0;
    char *data = path ? cli_read_file(path, &len) : NULL;
    free(path);
    cJSON *doc = data ? cJSON_ParseWithLength(data, len) : NULL;
    free(data);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "collator");
    char *out = cJSON_IsObject(c) ? cJSON_PrintUnformatted(c) : NULL;
    cJSON_Delete(doc);
    return out;
}

int cmd_collate(int argc, char **argv)
{
    enum { DS, SPLIT, BS, PROB, MULT, SEED, MAXB, TOK, JSON, NOPTS };
    cli_option opts[NOPTS] = {
        [DS] = {"dataset", ARG_VALUE, NULL},
        [SPLIT] = {"split", ARG_VALUE, NULL},
        [BS] = {"batch-size", ARG_VALUE, NULL},
        [PROB] = {"mlm-probability", ARG_VALUE, NULL},
        [MULT] = {"pad-to-multiple-of", ARG_VALUE, NULL},
        [SEED] = {"seed", ARG_VALUE, NULL},
        [MAXB] = {"max-batches", ARG_VALUE, NULL},
        [TOK] = {"tokenizer", ARG_VALUE, NULL},
        [JSON] = {"json", ARG_FLAG, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    long bs = 8, mult = 0, seed = 0, maxb = -1;
    double prob = 0.15;
    int bad = cli_parse(argc, argv, 2, opts, NOPTS, pos, &npos) != 0 || npos ||
              !opts[DS].value;
    if (!bad && opts[BS].value && cli_parse_long(opts[BS].value, 1, 1L << 24, &bs) != 0)
        bad = 1;
    if (!bad && opts[PROB].value && cli_parse_double(opts[PROB].value, 0, 1, &prob) != 0)
        bad = 1;
    if (!bad && opts[MULT].value && cli_parse_long(opts[MULT].value, 0, 1L << 24, &mult) != 0)
        bad = 1;
    if (!bad && opts[SEED].value && cli_parse_long(opts[SEED].value, 0, LONG_MAX, &seed) != 0)
        bad = 1;
    if (!bad && opts[MAXB].value && cli_parse_long(opts[MAXB].value, 0, LONG_MAX, &maxb) != 0)
        bad = 1;
    if (!bad && opts[SPLIT].value && (strchr(opts[SPLIT].value, '/') || !opts[SPLIT].value[0]))
        bad = 1;
    if (bad)
        return cli_usage_error("collate");
    const char *dir = opts[DS].value, *split = opts[SPLIT].value ? opts[SPLIT].value : "train";
    char settings[256];
    snprintf(settings, sizeof settings,
             "\"mlm_probability\": %.17g, \"pad_to_multiple_of\": %ld, \"seed\": %ld", prob, mult,
             seed);
    mlm_collator *c = NULL;
    mlm_status st;
    if (opts[TOK].value) {
        mlm_tokenizer *tok = NULL;
        if ((st = mlm_tokenizer_load(opts[TOK].value, &tok)) != MLM_OK)
            return cli_fail(opts[TOK].value, st);
        char o[300];
        snprintf(o, sizeof o, "{%s}", settings);
        st = mlm_collator_new(tok, o, &c);
        mlm_tokenizer_free(tok);
    } else {
        char *ids = info_collator(dir);
        if (!ids) {
            fprintf(stderr, "mlm: %s/dataset_info.json has no collator ids (not made by mlm "
                            "dataset?): pass --tokenizer\n", dir);
            return EXIT_RUNTIME;
        }
        size_t n = strlen(ids) + strlen(settings) + 8;
        char *o = malloc(n);
        if (!o) {
            cJSON_free(ids);
            return cli_fail("mlm collate", MLM_ERR_OUT_OF_MEMORY);
        }
        /* {"mask_token_id": ...} + settings */
        ids[strlen(ids) - 1] = '\0';
        snprintf(o, n, "%s, %s}", ids, settings);
        cJSON_free(ids);
        st = mlm_collator_new_ids(o, &c);
        free(o);
    }
    if (st != MLM_OK)
        return cli_fail("collator", st);
    char *path = join_path(dir, split);
    mlm_dataset *ds = NULL;
    st = path ? mlm_dataset_open(path, &ds) : MLM_ERR_OUT_OF_MEMORY;
    free(path);
    if (st != MLM_OK) {
        mlm_collator_free(c);
        return cli_fail(split, st);
    }
    size_t nrows = mlm_dataset_num_rows(ds), *rows = malloc((size_t)bs * sizeof *rows);
    int rc = rows ? 0 : cli_fail("mlm collate", MLM_ERR_OUT_OF_MEMORY);
    size_t k = 0;
    for (size_t r0 = 0; rc == 0 && r0 < nrows && (maxb < 0 || (long)k < maxb);
         r0 += (size_t)bs, k++) {
        size_t n = nrows - r0 < (size_t)bs ? nrows - r0 : (size_t)bs;
        for (size_t i = 0; i < n; i++)
            rows[i] = r0 + i;
        mlm_batch *b = NULL;
        if ((st = mlm_collator_collate(c, ds, rows, n, k, &b)) != MLM_OK) {
            rc = cli_fail("collate", st);
            break;
        }
        print_batch(b, k, opts[JSON].value != NULL);
        mlm_batch_free(b);
    }
    free(rows);
    mlm_dataset_free(ds);
    mlm_collator_free(c);
    return rc;
}
