/* What transformers' Trainer leaves in output_dir besides the model and the
 * checkpoints, and how it prints its metrics: save_state, save_metrics and
 * log_metrics (trainer_pt_utils.py), written as Python's json module writes
 * them so that the files are transformers' byte for byte. */
#include "mlm/trainer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "io/strbuf.h"
#include "train/trainer_impl.h"

/* Files of metrics are small; a larger all_results.json is not ours. */
#define RESULTS_MAX_BYTES (1u << 24)
#define RESULTS_MAX_VALUES 100000

/* The metrics' ints: run_mlm.py's sample counts (train_samples,
 * eval_samples); every other metric is a float. */
static int metrics_int_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= 8 && strcmp(key + n - 8, "_samples") == 0;
}

/* TrainerState's int fields (and a log record's "step"); the rest of the
 * numbers are floats. */
static int state_int_key(const char *key)
{
    static const char *const ints[] = {"best_global_step", "eval_steps",      "global_step",
                                       "logging_steps",    "max_steps",       "num_input_tokens_seen",
                                       "num_train_epochs", "save_steps",      "step",
                                       "steps_since_log",  "train_batch_size"};
    for (size_t i = 0; key && i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i]) == 0)
            return 1;
    return metrics_int_key(key);
}

/* json.dump(obj, f, indent=indent, sort_keys=True) (+ "\n" when asked) into
 * output_dir/name, written whole or not at all. */
static mlm_status write_py_json(const mlm_trainer *tr, const char *name, const cJSON *obj,
                                int indent, json_int_key_fn is_int, int newline)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, tr->a.output_dir, name);
    if (st != MLM_OK)
        return err_prefix(st, "trainer option output_dir: ");
    strbuf sb = {0};
    json_put_py(&sb, obj, indent, is_int);
    if (newline)
        sb_putc(&sb, '\n');
    if ((st = sb_status(&sb)) == MLM_OK)
        st = file_write_atomic(path, sb.data, sb.len);
    sb_free(&sb);
    return st;
}

/* A JSON object given by the caller, or MLM_ERR_INVALID_ARGUMENT naming
 * what. */
static mlm_status parse_object(const char *json, const char *what, cJSON **out)
{
    *out = NULL;
    if (!json)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: NULL", what);
    mlm_status st = json_parse(json, strlen(json), 0, what, RESULTS_MAX_VALUES, out);
    if (st == MLM_OK && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        st = err_set(MLM_ERR_INVALID_ARGUMENT, "%s: not a JSON object", what);
    }
    return st;
}

mlm_status mlm_trainer_save_state(const mlm_trainer *tr)
{
    if (!tr)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_save_state: trainer is NULL");
    if (tr->rank != 0) /* HF: if not self.is_world_process_zero(): return */
        return MLM_OK;
    trainer_plan p = trainer_plan_of(tr);
    cJSON *state = trainer_state_json(tr, &p);
    if (!state)
        return err_oom();
    mlm_status st = write_py_json(tr, "trainer_state.json", state, 2, state_int_key, 1);
    cJSON_Delete(state);
    return st;
}

/* output_dir/all_results.json as it is; an empty object when there is none. */
static mlm_status read_all_results(const mlm_trainer *tr, cJSON **out)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    mlm_status st = path_join(path, sizeof path, tr->a.output_dir, "all_results.json");
    if (st == MLM_OK)
        st = file_read_all(path, RESULTS_MAX_BYTES, &text, &len);
    if (st == MLM_ERR_NOT_FOUND) {
        err_clear();
        *out = cJSON_CreateObject();
        return *out ? MLM_OK : err_oom();
    }
    if (st == MLM_OK)
        st = json_parse(text, len, 0, path, RESULTS_MAX_VALUES, out);
    mem_free(text);
    if (st == MLM_OK && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        /* transformers' json.load + update raise here too */
        st = err_set(MLM_ERR_FORMAT, "%s: not a JSON object; move it away to write the results",
                     path);
    }
    return st;
}

mlm_status mlm_trainer_save_metrics(const mlm_trainer *tr, const char *split,
                                    const char *metrics_json)
{
    if (!tr || !split || !*split || strchr(split, '/'))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_save_metrics: bad trainer or "
                                                 "split");
    if (tr->rank != 0) /* the world process zero alone writes, as HF's */
        return MLM_OK;
    cJSON *m = NULL, *all = NULL;
    mlm_status st = parse_object(metrics_json, "mlm_trainer_save_metrics: metrics", &m);
    if (st == MLM_OK)
        st = read_all_results(tr, &all);
    for (const cJSON *it = m ? m->child : NULL; st == MLM_OK && it; it = it->next) {
        cJSON *copy = cJSON_Duplicate(it, 1);
        int ok = copy && (cJSON_GetObjectItemCaseSensitive(all, it->string)
                              ? cJSON_ReplaceItemInObjectCaseSensitive(all, it->string, copy)
                              : cJSON_AddItemToObject(all, it->string, copy));
        if (!ok) {
            cJSON_Delete(copy);
            st = err_oom();
        }
    }
    char name[256];
    if (st == MLM_OK && (size_t)snprintf(name, sizeof name, "%s_results.json", split) >= sizeof name)
        st = err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_save_metrics: split too long");
    if (st == MLM_OK)
        st = write_py_json(tr, name, m, 4, metrics_int_key, 0);
    if (st == MLM_OK)
        st = write_py_json(tr, "all_results.json", all, 4, metrics_int_key, 0);
    cJSON_Delete(all);
    cJSON_Delete(m);
    return st;
}

/* str(datetime.timedelta(seconds=int(s))) + ".%02d" of the hundredths, as
 * Trainer's _secs2timedelta. */
static void secs_text(double secs, char *buf, size_t cap)
{
    long long s = (long long)secs;
    int cs = (int)(fabs(secs - (double)s) * 100);
    long long days = s / 86400, rest = s % 86400;
    char d[48] = "";
    if (days)
        snprintf(d, sizeof d, "%lld day%s, ", days, days == 1 ? "" : "s");
    snprintf(buf, cap, "%s%lld:%02lld:%02lld.%02d", d, rest / 3600, rest / 60 % 60, rest % 60,
             cs);
}

/* Trainer.metrics_format of one value. */
static void metric_text(const cJSON *m, char *buf, size_t cap)
{
    double v = m->valuedouble;
    if (!cJSON_IsNumber(m))
        snprintf(buf, cap, "%s", cJSON_IsString(m) ? m->valuestring : "");
    else if (strstr(m->string, "_runtime"))
        secs_text(v, buf, cap);
    else if (strcmp(m->string, "total_flos") == 0)
        snprintf(buf, cap, "%" PRId64 "GF", (int64_t)v >> 30);
    else if (metrics_int_key(m->string))
        snprintf(buf, cap, "%" PRId64, (int64_t)v);
    else
        json_format_py_float(json_py_round(v, 4), buf);
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp((*(const cJSON *const *)x)->string, (*(const cJSON *const *)y)->string);
}

mlm_status mlm_trainer_format_metrics(const char *split, const char *metrics_json, char *buf,
                                      size_t cap, size_t *needed)
{
    if (!split || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_format_metrics: bad arguments");
    cJSON *m = NULL;
    mlm_status st = parse_object(metrics_json, "mlm_trainer_format_metrics: metrics", &m);
    size_t n = json_len(m);
    const cJSON **items = st == MLM_OK ? mem_alloc((n ? n : 1) * sizeof *items) : NULL;
    char(*vals)[64] = items ? mem_alloc((n ? n : 1) * sizeof *vals) : NULL;
    if (st == MLM_OK && !vals)
        st = err_oom();
    strbuf sb = {0};
    if (st == MLM_OK) {
        size_t i = 0, kw = 0, vw = 0;
        for (const cJSON *it = m->child; it; it = it->next)
            items[i++] = it;
        qsort(items, n, sizeof *items, cmp_names);
        for (i = 0; i < n; i++) {
            metric_text(items[i], vals[i], sizeof vals[i]);
            kw = strlen(items[i]->string) > kw ? strlen(items[i]->string) : kw;
            vw = strlen(vals[i]) > vw ? strlen(vals[i]) : vw;
        }
        sb_printf(&sb, "***** %s metrics *****\n", split);
        for (i = 0; i < n; i++)
            sb_printf(&sb, "  %-*s = %*s\n", (int)kw, items[i]->string, (int)vw, vals[i]);
        st = sb_status(&sb);
    }
    if (st == MLM_OK)
        st = sb_copy_out(&sb, buf, cap, needed);
    sb_free(&sb);
    mem_free(vals);
    mem_free(items);
    cJSON_Delete(m);
    return st;
}
