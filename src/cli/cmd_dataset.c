/* mlm dataset / mlm collate: run_mlm.py's data preparation from the command
 * line. `mlm dataset` tokenizes a training file (and a validation file),
 * groups the tokens into blocks (or keeps lines, truncated, with
 * --line-by-line), splits, and writes DIR/train and DIR/test (or
 * DIR/validation) in libmlm's dataset format, with DIR/dataset_info.json
 * recording how, the counts, and the special ids the collator needs.
 * With --summary-column it is the seed's (and run_summarization.py's)
 * seq2seq preprocessing instead: input_ids, attention_mask and labels,
 * split only when --test-size is given.
 * `mlm collate` prints the batches of such a split as JSON lines: masked
 * batches, or DataCollatorForSeq2Seq's for a split with labels. */
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
    /* seq2seq (summary != NULL) */
    const char *summary, *prefix;
    long max_source, max_target;
    int pad_to_max_length, skip_empty;
} prep;

/* The seq2seq form: the file loaded whole, then the tokenize map with
 * run_summarization.py's settings. The text column defaults, as there, to
 * the first column (here: the first that is not the summary). */
static mlm_status prepare_seq2seq(const prep *p, const char *path, mlm_dataset **out)
{
    mlm_dataset *ds = NULL;
    mlm_status st = mlm_dataset_load(path, NULL, &ds);
    if (st != MLM_OK)
        return st;
    const char *text = p->column;
    for (size_t i = 0; !text && i < mlm_dataset_num_columns(ds); i++)
        if (strcmp(mlm_dataset_column_name(ds, i), p->summary) != 0)
            text = mlm_dataset_column_name(ds, i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "target_column", p->summary);
    if (p->prefix)
        cJSON_AddStringToObject(o, "source_prefix", p->prefix);
    cJSON_AddNumberToObject(o, "max_length", (double)p->max_source);
    cJSON_AddNumberToObject(o, "max_target_length", (double)p->max_target);
    if (p->pad_to_max_length)
        cJSON_AddStringToObject(o, "padding", "max_length");
    cJSON_AddBoolToObject(o, "skip_empty", p->skip_empty);
    cJSON_AddStringToObject(o, "remove_columns", "all");
    cJSON_AddNumberToObject(o, "num_proc", (double)p->num_proc);
    cJSON_AddBoolToObject(o, "progress", p->progress);
    cJSON_AddStringToObject(o, "desc", "Running tokenizer on dataset");
    char *opts = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    st = opts ? mlm_dataset_tokenize(ds, p->tok, text ? text : "text", opts, out)
              : MLM_ERR_OUT_OF_MEMORY;
    cJSON_free(opts);
    mlm_dataset_free(ds);
    return st;
}

/* Tokenize (and group) one file into a dataset; tmp is where a streamed
 * file goes (removed by the caller). */
static mlm_status prepare_file(const prep *p, const char *path, const char *tmp,
                               mlm_dataset **out)
{
    *out = NULL;
    char opts[512];
    mlm_status st;
    if (p->summary)
        return prepare_seq2seq(p, path, out);
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
        size_t len; /* a length query: nothing widened or copied */
        if (mlm_dataset_copy_sequence(ds, "input_ids", r, NULL, 0, &len) == MLM_OK)
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
    int64_t mml = mlm_tokenizer_model_max_length(tok);
    if (mml > 0 && mml <= INT32_MAX) /* the seq2seq collator's padding "max_length" */
        cJSON_AddNumberToObject(o, "model_max_length", (double)mml);
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
           SUM, PREFIX, MSRC, MTGT, PADMAX, PADTOK, SKIP, NOPTS };
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
        [SUM] = {"summary-column", ARG_VALUE, NULL},
        [PREFIX] = {"source-prefix", ARG_VALUE, NULL},
        [MSRC] = {"max-source-length", ARG_VALUE, NULL},
        [MTGT] = {"max-target-length", ARG_VALUE, NULL},
        [PADMAX] = {"pad-to-max-length", ARG_FLAG, NULL},
        [PADTOK] = {"pad-token", ARG_VALUE, NULL},
        [SKIP] = {"skip-empty", ARG_FLAG, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    long block = 128, gbs = 1000, seed = 42, msrc = 128, mtgt = 32;
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
    /* the seq2seq form's options, and the grouping ones, each in its form only */
    int seq2seq = opts[SUM].value != NULL;
    if (seq2seq && (opts[LBL].value || bs || opts[GBS].value))
        bad = 1;
    if (!seq2seq && (opts[PREFIX].value || opts[MSRC].value || opts[MTGT].value ||
                     opts[PADMAX].value || opts[SKIP].value))
        bad = 1;
    if (!bad && opts[MSRC].value && cli_parse_long(opts[MSRC].value, 1, INT32_MAX, &msrc) != 0)
        bad = 1;
    if (!bad && opts[MTGT].value && cli_parse_long(opts[MTGT].value, 1, INT32_MAX, &mtgt) != 0)
        bad = 1;
    if (bad)
        return cli_usage_error("dataset");
    const char *dir = opts[OUT].value;
    int line_by_line = opts[LBL].value != NULL;
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(opts[TOK].value, &tok);
    if (st != MLM_OK)
        return cli_fail(opts[TOK].value, st);
    /* the seed's tokenizer.pad_token = tokenizer.eos_token, as --pad-token '</s>' */
    if (opts[PADTOK].value &&
        (st = mlm_tokenizer_set_special(tok, MLM_TOKEN_PAD, opts[PADTOK].value)) != MLM_OK) {
        mlm_tokenizer_free(tok);
        return cli_fail("--pad-token", st);
    }
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
    prep p = {tok, opts[COL].value ? opts[COL].value : seq2seq ? NULL : "text", line_by_line,
              block, gbs, nproc, isatty(STDERR_FILENO), opts[SUM].value, opts[PREFIX].value,
              msrc, mtgt, opts[PADMAX].value != NULL, opts[SKIP].value != NULL};
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
    if (seq2seq) {
        cJSON_AddStringToObject(info, "task", "seq2seq");
        if (p.column)
            cJSON_AddStringToObject(info, "text_column", p.column);
        cJSON_AddStringToObject(info, "summary_column", p.summary);
        if (p.prefix)
            cJSON_AddStringToObject(info, "source_prefix", p.prefix);
        cJSON_AddNumberToObject(info, "max_source_length", (double)msrc);
        cJSON_AddNumberToObject(info, "max_target_length", (double)mtgt);
        cJSON_AddBoolToObject(info, "pad_to_max_length", p.pad_to_max_length);
        cJSON_AddBoolToObject(info, "skip_empty", p.skip_empty);
    } else {
        cJSON_AddStringToObject(info, "text_column", p.column);
        cJSON_AddBoolToObject(info, "line_by_line", line_by_line);
        cJSON_AddNumberToObject(info, line_by_line ? "max_seq_length" : "block_size",
                                (double)block);
        if (!line_by_line)
            cJSON_AddNumberToObject(info, "group_batch_size", (double)gbs);
    }
    splits = cJSON_AddObjectToObject(info, "splits");
    if (valid) {
        if ((st = save_split(dir, "train", train, splits)) == MLM_OK)
            st = save_split(dir, "validation", valid, splits);
    } else if (seq2seq && !opts[TEST].value) { /* the seed trains on everything */
        st = save_split(dir, "train", train, splits);
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
    size_t r = mlm_batch_rows(b), n = mlm_batch_seq_len(b), t = mlm_batch_label_len(b);
    static const char *const names[] = {"input_ids", "attention_mask", "labels",
                                        "special_tokens_mask", "token_type_ids",
                                        "decoder_input_ids"};
    const int32_t *arr[] = {mlm_batch_input_ids(b), mlm_batch_attention_mask(b),
                            mlm_batch_labels(b), mlm_batch_special_tokens_mask(b),
                            mlm_batch_token_type_ids(b), mlm_batch_decoder_input_ids(b)};
    size_t cols[] = {n, n, t, n, n, t}; /* labels may be longer or shorter (seq2seq) */
    if (as_json) {
        cJSON *o = cJSON_CreateObject();
        for (size_t k = 0; o && k < 6; k++)
            if (arr[k])
                cJSON_AddItemToObject(o, names[k], matrix(arr[k], r, cols[k]));
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        if (s)
            printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o);
        return;
    }
    printf("batch %zu: %zu x %zu\n", index, r, n);
    for (size_t k = 0; k < 6; k++) {
        if (!arr[k] || k == 3 || k == 4)
            continue;
        printf("  %s:\n", names[k]);
        for (size_t i = 0; i < r; i++) {
            printf("    [");
            for (size_t j = 0; j < cols[k]; j++)
                printf("%s%d", j ? ", " : "", arr[k][i * cols[k] + j]);
            printf("]\n");
        }
    }
}

/* DIR/dataset_info.json's "collator" object, or NULL. */
static cJSON *info_collator(const char *dir)
{
    char *path = join_path(dir, "dataset_info.json");
    size_t len = 0;
    char *data = path ? cli_read_file(path, &len) : NULL;
    free(path);
    cJSON *doc = data ? cJSON_ParseWithLength(data, len) : NULL;
    free(data);
    cJSON *c = cJSON_DetachItemFromObjectCaseSensitive(doc, "collator");
    cJSON_Delete(doc);
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* The collate options: defaults, then what the command line sets. */
typedef struct collate_args {
    const char *tokenizer, *model, *padding, *side, *pad_token;
    long mult, seed, max_length, label_pad;
    double prob;
    int has_max_length, has_label_pad;
} collate_args;

/* The masking collator: --tokenizer's ids, or dataset_info.json's. 0, or
 * the exit status after saying why. */
static int masking_collator(const char *dir, const collate_args *a,
                                   const mlm_tokenizer *tok, mlm_collator **c)
{
    cJSON *o = tok ? cJSON_CreateObject() : info_collator(dir);
    if (!o) {
        fprintf(stderr, "mlm: %s/dataset_info.json has no collator ids (not made by mlm "
                        "dataset?): pass --tokenizer\n", dir);
        return EXIT_RUNTIME;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, "model_max_length"); /* seq2seq's */
    cJSON_AddNumberToObject(o, "mlm_probability", a->prob);
    cJSON_AddNumberToObject(o, "pad_to_multiple_of", (double)a->mult);
    cJSON_AddNumberToObject(o, "seed", (double)a->seed);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    mlm_status st = !text ? MLM_ERR_OUT_OF_MEMORY
                    : tok ? mlm_collator_new(tok, text, c)
                          : mlm_collator_new_ids(text, c);
    cJSON_free(text);
    return st == MLM_OK ? 0 : cli_fail("collator", st);
}

/* --model DIR: its config.json's decoder_start_token_id and pad_token_id,
 * which T5's shift_right uses (absent ones are left out: the library says
 * which it needs). */
static cJSON *model_ids(const char *dir)
{
    char *path = join_path(dir, "config.json");
    size_t len = 0;
    char *data = path ? cli_read_file(path, &len) : NULL;
    cJSON *doc = data ? cJSON_ParseWithLength(data, len) : NULL;
    free(data);
    if (!cJSON_IsObject(doc)) {
        fprintf(stderr, "mlm: %s: %s\n", path ? path : dir,
                data ? "not a JSON object" : "cannot read");
        free(path);
        cJSON_Delete(doc);
        return NULL;
    }
    free(path);
    cJSON *m = cJSON_CreateObject();
    static const char *const keys[] = {"decoder_start_token_id", "pad_token_id"};
    for (int k = 0; k < 2; k++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, keys[k]);
        if (cJSON_IsNumber(v))
            cJSON_AddNumberToObject(m, keys[k], v->valuedouble);
    }
    cJSON_Delete(doc);
    return m;
}

/* DataCollatorForSeq2Seq: the pad id (and the vocabulary's size, the
 * model_max_length) from --tokenizer or dataset_info.json. 0, or the exit
 * status after saying why. */
static int seq2seq_collator(const char *dir, const collate_args *a,
                                   const mlm_tokenizer *tok, mlm_collator **c)
{
    cJSON *o = cJSON_CreateObject();
    if (!tok) {
        cJSON *ids = info_collator(dir);
        static const char *const keep[] = {"pad_token_id", "vocab_size", "model_max_length"};
        for (int k = 0; ids && k < 3; k++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(ids, keep[k]);
            if (v)
                cJSON_AddItemToObject(o, keep[k], cJSON_Duplicate(v, 1));
        }
        cJSON_Delete(ids);
    }
    if (a->mult)
        cJSON_AddNumberToObject(o, "pad_to_multiple_of", (double)a->mult);
    if (a->padding) {
        if (strcmp(a->padding, "false") == 0)
            cJSON_AddFalseToObject(o, "padding");
        else
            cJSON_AddStringToObject(o, "padding", a->padding);
    }
    if (a->has_max_length)
        cJSON_AddNumberToObject(o, "max_length", (double)a->max_length);
    if (a->has_label_pad)
        cJSON_AddNumberToObject(o, "label_pad_token_id", (double)a->label_pad);
    if (a->side)
        cJSON_AddStringToObject(o, "padding_side", a->side);
    mlm_status st = MLM_OK;
    if (a->model) {
        cJSON *m = model_ids(a->model);
        if (!m)
            st = MLM_ERR_IO;
        else
            cJSON_AddItemToObject(o, "model", m);
    }
    char *text = st == MLM_OK ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (st != MLM_OK) /* model_ids said why */
        return EXIT_RUNTIME;
    st = text ? mlm_collator_new_seq2seq(tok, text, c) : MLM_ERR_OUT_OF_MEMORY;
    cJSON_free(text);
    return st == MLM_OK ? 0 : cli_fail("collator", st);
}

int cmd_collate(int argc, char **argv)
{
    enum { DS, SPLIT, BS, PROB, MULT, SEED, MAXB, TOK, JSON, MODEL, SHUF, PAD, MAXL, LPAD, SIDE,
           PADTOK, NOPTS };
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
        [MODEL] = {"model", ARG_VALUE, NULL},
        [SHUF] = {"shuffle", ARG_FLAG, NULL},
        [PAD] = {"padding", ARG_VALUE, NULL},
        [MAXL] = {"max-length", ARG_VALUE, NULL},
        [LPAD] = {"label-pad-token-id", ARG_VALUE, NULL},
        [SIDE] = {"padding-side", ARG_VALUE, NULL},
        [PADTOK] = {"pad-token", ARG_VALUE, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    long bs = 8, maxb = -1;
    collate_args a = {opts[TOK].value, NULL, NULL, NULL, NULL, 0, 0, 0, -100, 0.15, 0, 0};
    int bad = cli_parse(argc, argv, 2, opts, NOPTS, pos, &npos) != 0 || npos ||
              !opts[DS].value;
    if (!bad && opts[BS].value && cli_parse_long(opts[BS].value, 1, 1L << 24, &bs) != 0)
        bad = 1;
    if (!bad && opts[PROB].value && cli_parse_double(opts[PROB].value, 0, 1, &a.prob) != 0)
        bad = 1;
    if (!bad && opts[MULT].value && cli_parse_long(opts[MULT].value, 0, 1L << 20, &a.mult) != 0)
        bad = 1;
    if (!bad && opts[SEED].value && cli_parse_long(opts[SEED].value, 0, LONG_MAX, &a.seed) != 0)
        bad = 1;
    if (!bad && opts[MAXB].value && cli_parse_long(opts[MAXB].value, 0, LONG_MAX, &maxb) != 0)
        bad = 1;
    if (!bad && opts[MAXL].value &&
        cli_parse_long(opts[MAXL].value, 1, INT32_MAX, &a.max_length) != 0)
        bad = 1;
    if (!bad && opts[LPAD].value &&
        cli_parse_long(opts[LPAD].value, INT32_MIN, INT32_MAX, &a.label_pad) != 0)
        bad = 1;
    if (!bad && opts[SPLIT].value && (strchr(opts[SPLIT].value, '/') || !opts[SPLIT].value[0]))
        bad = 1;
    const char *pad = opts[PAD].value;
    if (pad && strcmp(pad, "longest") && strcmp(pad, "max_length") && strcmp(pad, "do_not_pad") &&
        strcmp(pad, "false"))
        bad = 1;
    const char *side = opts[SIDE].value;
    if (side && strcmp(side, "right") && strcmp(side, "left"))
        bad = 1;
    if (opts[PADTOK].value && !opts[TOK].value) /* a token string needs the tokenizer's ids */
        bad = 1;
    if (bad)
        return cli_usage_error("collate");
    a.model = opts[MODEL].value;
    a.padding = pad;
    a.side = side;
    a.has_max_length = opts[MAXL].value != NULL;
    a.has_label_pad = opts[LPAD].value != NULL;
    const char *dir = opts[DS].value, *split = opts[SPLIT].value ? opts[SPLIT].value : "train";
    char *path = join_path(dir, split);
    mlm_dataset *ds = NULL;
    mlm_status st = path ? mlm_dataset_open(path, &ds) : MLM_ERR_OUT_OF_MEMORY;
    free(path);
    if (st != MLM_OK)
        return cli_fail(split, st);
    /* a split with labels is a seq2seq dataset */
    mlm_column_type type;
    int seq2seq = mlm_dataset_column_type(ds, "labels", &type) == MLM_OK;
    if (seq2seq ? opts[PROB].value != NULL
                : (a.model || pad || side || opts[MAXL].value || opts[LPAD].value)) {
        fprintf(stderr, "mlm collate: %s only for %s datasets\n",
                seq2seq ? "--mlm-probability is" : "--model, --padding, --padding-side, "
                "--max-length and --label-pad-token-id are", seq2seq ? "masked-LM" : "seq2seq");
        mlm_dataset_free(ds);
        return EXIT_USAGE;
    }
    mlm_tokenizer *tok = NULL;
    if (opts[TOK].value && (st = mlm_tokenizer_load(opts[TOK].value, &tok)) != MLM_OK) {
        mlm_dataset_free(ds);
        return cli_fail(opts[TOK].value, st);
    }
    if (tok && opts[PADTOK].value &&
        (st = mlm_tokenizer_set_special(tok, MLM_TOKEN_PAD, opts[PADTOK].value)) != MLM_OK) {
        mlm_tokenizer_free(tok);
        mlm_dataset_free(ds);
        return cli_fail("--pad-token", st);
    }
    mlm_collator *c = NULL;
    int rc = seq2seq ? seq2seq_collator(dir, &a, tok, &c) : masking_collator(dir, &a, tok, &c);
    mlm_tokenizer_free(tok);
    if (rc != 0) {
        mlm_dataset_free(ds);
        return rc;
    }
    size_t nrows = mlm_dataset_num_rows(ds);
    size_t *order = malloc((nrows ? nrows : 1) * sizeof *order);
    if (!order)
        rc = cli_fail("mlm collate", MLM_ERR_OUT_OF_MEMORY);
    /* --shuffle: the Trainer's epoch-0 order for this seed (not torch's stream) */
    for (size_t i = 0; rc == 0 && i < nrows; i++)
        order[i] = i;
    if (rc == 0 && opts[SHUF].value &&
        (st = mlm_dataset_epoch_order(nrows, (uint64_t)a.seed, 0, order)) != MLM_OK)
        rc = cli_fail("--shuffle", st);
    size_t k = 0;
    for (size_t r0 = 0; rc == 0 && r0 < nrows && (maxb < 0 || (long)k < maxb);
         r0 += (size_t)bs, k++) {
        size_t n = nrows - r0 < (size_t)bs ? nrows - r0 : (size_t)bs;
        mlm_batch *b = NULL;
        if ((st = mlm_collator_collate(c, ds, order + r0, n, k, &b)) != MLM_OK) {
            rc = cli_fail("collate", st);
            break;
        }
        print_batch(b, k, opts[JSON].value != NULL);
        mlm_batch_free(b);
    }
    free(order);
    mlm_dataset_free(ds);
    mlm_collator_free(c);
    return rc;
}
