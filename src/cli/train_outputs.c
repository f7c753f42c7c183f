#include "train_outputs.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"

/* ---------------------------------------------------------------- metrics */

/* Trainer's metrics are floats but for the sample counts run_mlm adds. */
static int metrics_int_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= 8 && strcmp(key + n - 8, "_samples") == 0;
}

static int state_int_key(const char *key)
{
    static const char *const ints[] = {"best_global_step", "eval_steps", "global_step",
                                       "logging_steps", "max_steps", "num_input_tokens_seen",
                                       "num_train_epochs", "save_steps", "step",
                                       "steps_since_log",
                                       "train_batch_size"};
    for (size_t i = 0; key && i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i]) == 0)
            return 1;
    return metrics_int_key(key);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    else
        fprintf(stderr, "mlm: out of memory\n");
    return p;
}

/* json.dump(obj, f, indent, sort_keys=True) (+ a newline when asked). */
static int dump_to(const char *path, const cJSON *obj, int indent, py_int_key_fn is_int,
                   int newline)
{
    char *text = py_json_dumps(obj, indent, is_int);
    if (!text) {
        fprintf(stderr, "mlm: %s: out of memory\n", path);
        return -1;
    }
    size_t n = strlen(text);
    if (newline) {
        char *t = realloc(text, n + 2);
        if (!t) {
            free(text);
            fprintf(stderr, "mlm: %s: out of memory\n", path);
            return -1;
        }
        text = t;
        text[n++] = '\n';
        text[n] = '\0';
    }
    int rc = cli_write_atomic(path, text, n);
    free(text);
    return rc;
}

/* all_results.json as it is (an empty object when absent). */
static cJSON *read_all_results(const char *path)
{
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) {
        if (errno == ENOENT)
            return cJSON_CreateObject();
        fprintf(stderr, "mlm: %s: cannot read: %s\n", path, strerror(errno));
        return NULL;
    }
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(o)) {
        /* Trainer's json.load raises here too */
        fprintf(stderr, "mlm: %s: not a JSON object; move it away to write the results\n",
                path);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int out_save_metrics(const char *dir, const char *split, const cJSON *metrics)
{
    char name[64];
    snprintf(name, sizeof name, "%s_results.json", split);
    char *path = path_in(dir, name), *all_path = path_in(dir, "all_results.json");
    cJSON *all = path && all_path ? read_all_results(all_path) : NULL;
    int rc = all ? 0 : -1;
    for (const cJSON *m = metrics->child; rc == 0 && m; m = m->next) {
        cJSON *copy = cJSON_Duplicate(m, 1);
        if (!copy || !(cJSON_GetObjectItemCaseSensitive(all, m->string)
                           ? cJSON_ReplaceItemInObjectCaseSensitive(all, m->string, copy)
                           : cJSON_AddItemToObject(all, m->string, copy))) {
            cJSON_Delete(copy);
            fprintf(stderr, "mlm: out of memory\n");
            rc = -1;
        }
    }
    if (rc == 0)
        rc = dump_to(path, metrics, 4, metrics_int_key, 0);
    if (rc == 0)
        rc = dump_to(all_path, all, 4, metrics_int_key, 0);
    cJSON_Delete(all);
    free(path);
    free(all_path);
    return rc;
}

int out_save_state(const char *dir, const cJSON *state)
{
    char *path = path_in(dir, "trainer_state.json");
    int rc = path ? dump_to(path, state, 2, state_int_key, 1) : -1;
    free(path);
    return rc;
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

static int cmp_names(const void *x, const void *y)
{
    return strcmp((*(const cJSON *const *)x)->string, (*(const cJSON *const *)y)->string);
}

void out_log_metrics(const char *split, const cJSON *metrics)
{
    enum { MAXM = 32 };
    const cJSON *items[MAXM];
    char vals[MAXM][64];
    size_t n = 0, kw = 0, vw = 0;
    for (const cJSON *m = metrics->child; m && n < MAXM; m = m->next)
        items[n++] = m;
    qsort(items, n, sizeof *items, cmp_names);
    for (size_t i = 0; i < n; i++) {
        const cJSON *m = items[i];
        double v = m->valuedouble;
        if (!cJSON_IsNumber(m))
            snprintf(vals[i], sizeof vals[i], "%s", cJSON_IsString(m) ? m->valuestring : "");
        else if (strstr(m->string, "_runtime"))
            secs_text(v, vals[i], sizeof vals[i]);
        else if (strcmp(m->string, "total_flos") == 0)
            snprintf(vals[i], sizeof vals[i], "%lldGF", (long long)v >> 30);
        else if (metrics_int_key(m->string))
            snprintf(vals[i], sizeof vals[i], "%lld", (long long)v);
        else
            py_float_repr(py_round(v, 4), vals[i]);
        if (strlen(m->string) > kw)
            kw = strlen(m->string);
        if (strlen(vals[i]) > vw)
            vw = strlen(vals[i]);
    }
    printf("***** %s metrics *****\n", split);
    for (size_t i = 0; i < n; i++)
        printf("  %-*s = %*s\n", (int)kw, items[i]->string, (int)vw, vals[i]);
    fflush(stdout);
}
