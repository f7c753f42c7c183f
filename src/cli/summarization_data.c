#include "summarization_data.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

/* datasets.Dataset.map's default batch_size (run_summarization.py's
 * batched map). */
#define MAP_BATCH 1000

static const char *const split_names[N_SPLITS] = {"train", "validation", "prediction"};

const char *s2s_split_flag(int k)
{
    static const char *const flags[N_SPLITS] = {"train_file", "validation_file", "test_file"};
    return flags[k];
}

static int load_raw(int k, const char *path, mlm_dataset **out)
{
    mlm_status st = mlm_dataset_load(path, NULL, out);
    if (st != MLM_OK) {
        fprintf(stderr, "mlm: --%s: %s: %s\n", s2s_split_flag(k), mlm_status_string(st),
                mlm_last_error());
        return EXIT_RUNTIME;
    }
    return 0;
}

/* "a, b, c": the columns as the script lists them in its errors. */
static void print_columns(const mlm_dataset *ds)
{
    for (size_t i = 0; i < mlm_dataset_num_columns(ds); i++)
        fprintf(stderr, "%s%s", i ? ", " : "", mlm_dataset_column_name(ds, i));
}

static int has_column(const mlm_dataset *ds, const char *name)
{
    mlm_column_type type;
    return mlm_dataset_column_type(ds, name, &type) == MLM_OK;
}

/* The script's column choice: the flag's value, which must be one of the
 * columns, or the column at position `index` of the first wanted split
 * (its column_names). */
static int pick_column(const mlm_dataset *names, const char *flag, const char *given,
                       size_t index, const char **out)
{
    if (given) {
        if (has_column(names, given)) {
            *out = given;
            return 0;
        }
        fprintf(stderr, "mlm: --%s' value '%s' needs to be one of: ", flag, given);
        print_columns(names);
        fprintf(stderr, "\n");
        return EXIT_USAGE;
    }
    if (index < mlm_dataset_num_columns(names)) {
        *out = mlm_dataset_column_name(names, index);
        return 0;
    }
    fprintf(stderr, "mlm: --%s: the data has %zu column%s (", flag,
            mlm_dataset_num_columns(names), mlm_dataset_num_columns(names) == 1 ? "" : "s");
    print_columns(names);
    fprintf(stderr, "), so there is no %s column to default to: pass --%s\n",
            index ? "second" : "first", flag);
    return EXIT_USAGE;
}

/* select(range(min(len, max))), as the script does before the map. */
static int head(mlm_dataset **ds, long long max)
{
    if (max < 0 || (size_t)max >= mlm_dataset_num_rows(*ds))
        return 0;
    size_t n = (size_t)max;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return cli_fail("max samples", MLM_ERR_OUT_OF_MEMORY);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    mlm_dataset *sel = NULL;
    mlm_status st = mlm_dataset_select(*ds, idx, n, &sel);
    free(idx);
    if (st != MLM_OK)
        return cli_fail("max samples", st);
    mlm_dataset_free(*ds);
    *ds = sel;
    return 0;
}

/* A length option: the number, or null for the script's None. */
static void add_length(cJSON *o, const char *key, int64_t v)
{
    if (v > 0)
        cJSON_AddNumberToObject(o, key, (double)v);
    else
        cJSON_AddNullToObject(o, key);
}

/* preprocess_function mapped over split k (batched, remove_columns every
 * input column). */
static int preprocess(const mlm_tokenizer *tok, const s2s_data_opts *o, int k,
                      const mlm_dataset *raw, const char *text, const char *summary,
                      mlm_dataset **out)
{
    cJSON *opts = cJSON_CreateObject();
    char desc[64];
    snprintf(desc, sizeof desc, "Running tokenizer on %s dataset", split_names[k]);
    cJSON_AddStringToObject(opts, "target_column", summary);
    if (o->prefix && *o->prefix)
        cJSON_AddStringToObject(opts, "source_prefix", o->prefix);
    add_length(opts, "max_length", o->max_source_length);
    add_length(opts, "max_target_length", o->max_target_length[k]);
    if (o->pad_to_max_length)
        cJSON_AddStringToObject(opts, "padding", "max_length");
    else
        cJSON_AddFalseToObject(opts, "padding");
    cJSON_AddBoolToObject(opts, "ignore_pad_token_for_loss", o->ignore_pad_token_for_loss);
    /* `l if l != tokenizer.pad_token_id else -100`: by the id, as the script */
    cJSON_AddTrueToObject(opts, "hf_eos_compat");
    cJSON_AddTrueToObject(opts, "skip_empty");
    cJSON_AddStringToObject(opts, "remove_columns", "all");
    cJSON_AddNumberToObject(opts, "num_proc", o->num_proc);
    cJSON_AddNumberToObject(opts, "batch_size", MAP_BATCH);
    cJSON_AddBoolToObject(opts, "progress", isatty(STDERR_FILENO));
    cJSON_AddStringToObject(opts, "desc", desc);
    char *json = cJSON_PrintUnformatted(opts);
    cJSON_Delete(opts);
    if (!json)
        return cli_fail("mlm", MLM_ERR_OUT_OF_MEMORY);
    mlm_status st = mlm_dataset_tokenize(raw, tok, text, json, out);
    cJSON_free(json);
    if (st != MLM_OK) {
        fprintf(stderr, "mlm: --%s %s: %s: %s\n", s2s_split_flag(k), o->file[k],
                mlm_status_string(st), mlm_last_error());
        return EXIT_RUNTIME;
    }
    if (mlm_dataset_num_rows(*out) > 0)
        return 0;
    fprintf(stderr, "mlm: --%s %s: no %s samples (no row with both a '%s' and a '%s')\n",
            s2s_split_flag(k), o->file[k], split_names[k], text, summary);
    return EXIT_RUNTIME;
}

int s2s_data_prepare(const mlm_tokenizer *tok, const s2s_data_opts *o,
                     mlm_dataset *out[N_SPLITS])
{
    mlm_dataset *raw[N_SPLITS] = {NULL, NULL, NULL};
    int rc = 0;
    for (int k = 0; k < N_SPLITS; k++)
        out[k] = NULL;
    /* load_dataset(extension, data_files=...) reads every file given */
    for (int k = 0; k < N_SPLITS && rc == 0; k++)
        if (o->file[k])
            rc = load_raw(k, o->file[k], &raw[k]);
    /* column_names: those of train when training, else validation's, else
     * test's */
    const mlm_dataset *names = NULL;
    for (int k = 0; k < N_SPLITS && !names; k++)
        if (o->want[k])
            names = raw[k];
    const char *text = NULL, *summary = NULL;
    if (rc == 0 && names)
        rc = pick_column(names, "text_column", o->text_column, 0, &text);
    if (rc == 0 && names)
        rc = pick_column(names, "summary_column", o->summary_column, 1, &summary);
    for (int k = 0; k < N_SPLITS && rc == 0; k++) {
        if (!o->want[k])
            continue;
        rc = head(&raw[k], o->max_samples[k]);
        if (rc == 0)
            rc = preprocess(tok, o, k, raw[k], text, summary, &out[k]);
    }
    for (int k = 0; k < N_SPLITS; k++) {
        mlm_dataset_free(raw[k]);
        if (rc != 0) {
            mlm_dataset_free(out[k]);
            out[k] = NULL;
        }
    }
    return rc;
}
