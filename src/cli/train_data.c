#include "train_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/utf8.h"

/* datasets.Dataset.map's default batch_size: group_texts drops a remainder
 * per batch of this many rows. */
#define MAP_BATCH 1000

int data_check_extension(const char *flag, const char *path)
{
    /* run_mlm.py takes csv, json and txt (its json loader reads JSON Lines
     * too); the name decides as the data layer reads it */
    switch (mlm_dataset_format_of(path)) {
    case MLM_FORMAT_TEXT:
    case MLM_FORMAT_JSON:
    case MLM_FORMAT_JSONL:
    case MLM_FORMAT_CSV:
        return 0;
    case MLM_FORMAT_TSV:
    case MLM_FORMAT_UNKNOWN:
        break;
    }
    fprintf(stderr, "mlm: --%s %s: should be a csv, a json, a jsonl or a txt file\n", flag, path);
    return -1;
}

/* See train_data.h. */
mlm_status data_keep_line(const mlm_dataset *ds, size_t row, void *user, int *keep)
{
    const char *col = user, *s;
    size_t len;
    mlm_status st = mlm_dataset_get_string(ds, col, row, &s, &len);
    if (st != MLM_OK)
        return st;
    *keep = !utf8_is_blank(s, len);
    return MLM_OK;
}

static mlm_status select_range(const mlm_dataset *ds, size_t from, size_t to, mlm_dataset **out)
{
    size_t n = to - from;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return MLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++)
        idx[i] = from + i;
    mlm_status st = mlm_dataset_select(ds, idx, n, out);
    free(idx);
    return st;
}

/* Tokenize (and group) one split. name: the file, for messages. */
static int process(mlm_tokenizer *tok, const data_opts *o, const mlm_dataset *raw,
                   const char *column, const char *name, mlm_dataset **out)
{
    *out = NULL;
    mlm_dataset *kept = NULL, *toks = NULL;
    mlm_column_type type;
    mlm_status st = MLM_OK;
    if (o->line_by_line && mlm_dataset_column_type(raw, column, &type) == MLM_OK &&
        type == MLM_COLUMN_STRING) {
        st = mlm_dataset_filter(raw, data_keep_line, (void *)column, &kept);
        if (st != MLM_OK)
            return cli_fail(name, st);
        raw = kept;
    }
    char opts[128];
    snprintf(opts, sizeof opts, "{\"remove_columns\": \"all\", \"num_proc\": %d, "
                                "\"batch_size\": %d}", o->num_proc, MAP_BATCH);
    st = mlm_dataset_tokenize(raw, tok, column, opts, &toks);
    mlm_dataset_free(kept);
    if (st != MLM_OK)
        return cli_fail(name, st);
    if (o->line_by_line) {
        *out = toks;
        return 0;
    }
    st = mlm_dataset_group_texts_batched(toks, o->max_seq_length, MAP_BATCH, out);
    mlm_dataset_free(toks);
    return st == MLM_OK ? 0 : cli_fail(name, st);
}

/* The first max rows (HF's select(range(min(len, max)))). */
static int truncate_rows(mlm_dataset **ds, long long max)
{
    if (max < 0 || (size_t)max >= mlm_dataset_num_rows(*ds))
        return 0;
    mlm_dataset *head = NULL;
    mlm_status st = select_range(*ds, 0, (size_t)max, &head);
    if (st != MLM_OK)
        return cli_fail("max samples", st);
    mlm_dataset_free(*ds);
    *ds = head;
    return 0;
}

static int set_tokenizer(mlm_tokenizer *tok, const data_opts *o)
{
    mlm_status st;
    /* run_mlm: tokenizer(..., padding, truncation=True, max_length) line by
     * line; tokenizer(texts) (neither) before group_texts. */
    int32_t trunc = o->line_by_line ? (int32_t)o->max_seq_length : 0;
    st = mlm_tokenizer_set_truncation(tok, trunc, 0, MLM_TRUNCATE_LONGEST_FIRST, MLM_SIDE_RIGHT);
    if (st == MLM_OK)
        st = o->line_by_line && o->pad_to_max_length
                 ? mlm_tokenizer_set_padding(tok, (int32_t)o->max_seq_length, 0, MLM_SIDE_RIGHT)
                 : mlm_tokenizer_disable_padding(tok);
    return st == MLM_OK ? 0 : cli_fail("--max_seq_length", st);
}

static int load_raw(const char *flag, const char *path, mlm_dataset **out)
{
    mlm_status st = mlm_dataset_load(path, NULL, out);
    if (st != MLM_OK) {
        fprintf(stderr, "mlm: --%s: %s: %s\n", flag, mlm_status_string(st), mlm_last_error());
        return EXIT_RUNTIME;
    }
    return 0;
}

/* train[:pct%] and train[pct%:], as datasets' percent slices: the boundary
 * is round(pct * n / 100) with Python's round half to even. */
static int split_head(mlm_dataset *raw, long long pct, mlm_dataset **head, mlm_dataset **tail)
{
    size_t n = mlm_dataset_num_rows(raw);
    size_t k = (size_t)nearbyint((double)((unsigned long long)pct * n) / 100.0);
    mlm_status st = select_range(raw, 0, k, head);
    if (st == MLM_OK)
        st = select_range(raw, k, n, tail);
    return st == MLM_OK ? 0 : cli_fail("validation_split_percentage", st);
}

static const char *text_column(const mlm_dataset *ds)
{
    mlm_column_type type;
    if (mlm_dataset_column_type(ds, "text", &type) == MLM_OK)
        return "text";
    return mlm_dataset_column_name(ds, 0);
}

/* A file without a single record is a user's mistake to name at once: left
 * to run, it would only surface later as an empty split or batch. */
static int check_has_rows(const char *flag, const char *file, const mlm_dataset *raw)
{
    if (!raw || mlm_dataset_num_rows(raw) > 0)
        return 0;
    fprintf(stderr, "mlm: --%s %s: the file has no text (no line or record to %s on)\n", flag,
            file, strcmp(flag, "train_file") == 0 ? "train" : "evaluate");
    return EXIT_RUNTIME;
}

static int check_nonempty(const mlm_dataset *ds, const char *what, const char *file,
                          const data_opts *o)
{
    if (mlm_dataset_num_rows(ds) > 0)
        return 0;
    if (o->line_by_line)
        fprintf(stderr, "mlm: %s: no %s samples (no line with text)\n", file, what);
    else
        fprintf(stderr, "mlm: %s: no %s samples: fewer than max_seq_length (%lld) tokens to "
                        "group into a block\n", file, what, (long long)o->max_seq_length);
    return EXIT_RUNTIME;
}

/* A dataset file mlm dataset wrote, mapped: it must hold the input_ids a
 * masking collator needs, and rows (max samples applied). */
static int open_tokenized(const char *flag, const char *path, long long max, const char *what,
                          mlm_dataset **out)
{
    mlm_status st = mlm_dataset_open(path, out);
    if (st != MLM_OK) {
        fprintf(stderr, "mlm: --%s: %s: %s\n", flag, mlm_status_string(st), mlm_last_error());
        return EXIT_RUNTIME;
    }
    mlm_column_type type;
    if (mlm_dataset_column_type(*out, "input_ids", &type) != MLM_OK ||
        type != MLM_COLUMN_SEQUENCE) {
        fprintf(stderr, "mlm: --%s %s: no \"input_ids\" sequence column (a dataset "
                        "tokenized by mlm dataset is needed)\n", flag, path);
        return EXIT_RUNTIME;
    }
    int rc = truncate_rows(out, max);
    if (rc == 0 && mlm_dataset_num_rows(*out) == 0) {
        fprintf(stderr, "mlm: --%s %s: no %s samples\n", flag, path, what);
        rc = EXIT_RUNTIME;
    }
    return rc;
}

/* Both datasets from dataset files. */
static int prepare_tokenized(const data_opts *o, mlm_dataset **train, mlm_dataset **eval)
{
    int rc = 0;
    if (o->want_train)
        rc = open_tokenized("train_dataset", o->train_dataset, o->max_train_samples, "training",
                            train);
    if (rc == 0 && o->want_eval)
        rc = open_tokenized("validation_dataset", o->validation_dataset, o->max_eval_samples,
                            "evaluation", eval);
    if (rc != 0) {
        mlm_dataset_free(*train);
        mlm_dataset_free(*eval);
        *train = *eval = NULL;
    }
    return rc;
}

int data_prepare(mlm_tokenizer *tok, const data_opts *o, mlm_dataset **train,
                 mlm_dataset **eval)
{
    *train = *eval = NULL;
    if (o->train_dataset || o->validation_dataset)
        return prepare_tokenized(o, train, eval);
    mlm_dataset *raw_train = NULL, *raw_valid = NULL, *head = NULL, *tail = NULL;
    int rc = set_tokenizer(tok, o);
    if (rc == 0 && o->train_file)
        rc = load_raw("train_file", o->train_file, &raw_train);
    if (rc == 0 && o->validation_file)
        rc = load_raw("validation_file", o->validation_file, &raw_valid);
    if (rc == 0 && o->want_train)
        rc = check_has_rows("train_file", o->train_file, raw_train);
    if (rc == 0 && o->want_eval && o->validation_file)
        rc = check_has_rows("validation_file", o->validation_file, raw_valid);
    /* run_mlm: without a validation file, the head of train evaluates and
     * only the tail trains, whether or not there is an evaluation. */
    if (rc == 0 && !raw_valid && raw_train &&
        (rc = split_head(raw_train, o->split_pct, &head, &tail)) == 0) {
        mlm_dataset_free(raw_train);
        raw_train = tail;
        raw_valid = head;
    }
    const char *vname = o->validation_file ? o->validation_file : o->train_file;
    if (rc == 0 && o->want_eval && mlm_dataset_num_rows(raw_valid) == 0) {
        if (o->validation_file)
            fprintf(stderr, "mlm: --validation_file %s: no rows\n", vname);
        else
            fprintf(stderr, "mlm: --train_file %s: the validation split is empty (%lld%% of "
                            "%zu rows): pass --validation_file or raise "
                            "--validation_split_percentage\n",
                    vname, o->split_pct, mlm_dataset_num_rows(raw_train) +
                                             mlm_dataset_num_rows(raw_valid));
        rc = EXIT_RUNTIME;
    }
    /* the text column: "text" if there is one, else the first (of train's
     * columns when training, of validation's otherwise) */
    const char *column = NULL;
    if (rc == 0)
        column = text_column(o->want_train ? raw_train : raw_valid);
    if (rc == 0 && !column) {
        fprintf(stderr, "mlm: %s: no columns\n", o->want_train ? o->train_file : vname);
        rc = EXIT_RUNTIME;
    }
    if (rc == 0 && o->want_train && (rc = process(tok, o, raw_train, column, o->train_file,
                                                  train)) == 0)
        rc = truncate_rows(train, o->max_train_samples);
    if (rc == 0 && o->want_train)
        rc = check_nonempty(*train, "training", o->train_file, o);
    if (rc == 0 && o->want_eval && (rc = process(tok, o, raw_valid, column, vname, eval)) == 0)
        rc = truncate_rows(eval, o->max_eval_samples);
    if (rc == 0 && o->want_eval)
        rc = check_nonempty(*eval, "evaluation", vname, o);
    mlm_dataset_free(raw_train);
    mlm_dataset_free(raw_valid);
    if (rc != 0) {
        mlm_dataset_free(*train);
        mlm_dataset_free(*eval);
        *train = *eval = NULL;
    }
    return rc;
}
