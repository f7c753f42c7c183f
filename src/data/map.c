/* mlm_dataset_map: batches on threads, results concatenated in order. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>

#include "core/error.h"
#include "data/dataset_impl.h"
#include "io/progress.h"

typedef struct mapopts {
    int batched;
    uint64_t batch_size; /* 0: whole dataset */
    int num_proc;
    int remove_all;
    char **remove; /* names */
    size_t nremove;
    int progress;  /* a tqdm bar of rows on stderr, as datasets' map shows */
    char *desc;    /* its desc ("Map") */
} mapopts;

static void mapopts_free(mapopts *o)
{
    for (size_t i = 0; i < o->nremove; i++)
        mem_free(o->remove[i]);
    mem_free(o->remove);
    mem_free(o->desc);
}

static mlm_status mapopts_parse(const char *json, const mlm_dataset *ds, mapopts *o)
{
    memset(o, 0, sizeof *o);
    o->batch_size = 1000;
    o->num_proc = 1;
    if (!json || !*json)
        goto resolve;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "map options: not a JSON object");
    }
    mlm_status st = MLM_OK;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        const char *k = it->string ? it->string : "";
        if (strcmp(k, "batched") == 0) {
            if (!cJSON_IsBool(it))
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "map options: \"batched\" must be a bool");
            o->batched = cJSON_IsTrue(it);
        } else if (strcmp(k, "batch_size") == 0) {
            if (cJSON_IsNull(it))
                o->batch_size = 0;
            else if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int64_t)it->valuedouble)
                st = err_set(MLM_ERR_INVALID_ARGUMENT,
                             "map options: \"batch_size\" must be an integer or null");
            else
                o->batch_size = it->valuedouble <= 0 ? 0 : (uint64_t)it->valuedouble;
        } else if (strcmp(k, "num_proc") == 0) {
            if (cJSON_IsNull(it))
                o->num_proc = 1;
            else if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1024 ||
                     it->valuedouble != (int)it->valuedouble)
                st = err_set(MLM_ERR_RANGE, "map options: \"num_proc\" must be in 1..1024");
            else
                o->num_proc = (int)it->valuedouble;
        } else if (strcmp(k, "progress") == 0) {
            if (!cJSON_IsBool(it))
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "map options: \"progress\" must be a bool");
            o->progress = cJSON_IsTrue(it);
        } else if (strcmp(k, "desc") == 0) {
            if (!cJSON_IsString(it))
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "map options: \"desc\" must be a string");
            else if (!(o->desc = mem_strdup(it->valuestring)))
                st = err_oom();
        } else if (strcmp(k, "remove_columns") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "all") == 0) {
                o->remove_all = 1;
            } else if (cJSON_IsString(it) || cJSON_IsArray(it)) {
                size_t n = cJSON_IsString(it) ? 1 : (size_t)cJSON_GetArraySize(it);
                o->remove = mem_calloc(n ? n : 1, sizeof *o->remove);
                if (!o->remove) {
                    st = err_oom();
                    break;
                }
                const cJSON *e = cJSON_IsString(it) ? it : it->child;
                for (; e && !st; e = cJSON_IsString(it) ? NULL : e->next) {
                    if (!cJSON_IsString(e)) {
                        st = err_set(MLM_ERR_INVALID_ARGUMENT,
                                     "map options: \"remove_columns\" holds a non-string");
                        break;
                    }
                    if (!ds_find(ds, e->valuestring)) {
                        st = err_set(MLM_ERR_NOT_FOUND,
                                     "map options: remove_columns: column '%s' not in the "
                                     "dataset", e->valuestring);
                        break;
                    }
                    if (!(o->remove[o->nremove] = mem_strdup(e->valuestring)))
                        st = err_oom();
                    else
                        o->nremove++;
                }
            } else if (!cJSON_IsNull(it)) {
                st = err_set(MLM_ERR_INVALID_ARGUMENT,
                             "map options: \"remove_columns\" is a list of names or \"all\"");
            }
        } else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "map options: unknown option \"%s\"", k);
        }
    }
    cJSON_Delete(root);
    if (st) {
        mapopts_free(o);
        return st;
    }
resolve:
    if (!o->batched)
        o->batch_size = 1;
    if (!o->remove_all && ds->ncols) {
        size_t removed = 0;
        for (size_t i = 0; i < ds->ncols; i++)
            for (size_t j = 0; j < o->nremove; j++)
                if (strcmp(ds->cols[i].name, o->remove[j]) == 0) {
                    removed++;
                    break;
                }
        o->remove_all = removed == ds->ncols;
    }
    return MLM_OK;
}

typedef struct mapjob {
    const mlm_dataset *ds;
    mlm_dataset_map_fn fn;
    void *user;
    uint64_t bs, nbatches;
    int remove_all;
    atomic_ullong next;
    atomic_ullong first_fail; /* lowest failed batch, or UINT64_MAX */
    mlm_dataset **results;
    mlm_status *status;
    char **msgs;
    atomic_ullong rows_done;
} mapjob;

static void fail(mapjob *j, uint64_t b, mlm_status st)
{
    j->status[b] = st;
    j->msgs[b] = mem_strdup(mlm_last_error());
    unsigned long long cur = atomic_load(&j->first_fail);
    while (b < cur && !atomic_compare_exchange_weak(&j->first_fail, &cur, b))
        ;
}

static void run_batch(mapjob *j, uint64_t b)
{
    uint64_t start = b * j->bs;
    uint64_t n = j->ds->nrows - start < j->bs ? j->ds->nrows - start : j->bs;
    mlm_dataset *view = NULL, *res = NULL;
    mlm_status st = ds_slice(j->ds, start, n, &view);
    if (st) {
        fail(j, b, st);
        return;
    }
    st = j->fn(view, j->user, &res);
    mlm_dataset_free(view);
    if (st) {
        mlm_dataset_free(res);
        fail(j, b, st);
        return;
    }
    if (!res) {
        fail(j, b, err_set(MLM_ERR_INVALID_ARGUMENT, "the map function returned no dataset"));
        return;
    }
    if (!j->remove_all && res->ncols && res->nrows != n) {
        fail(j, b, err_set(MLM_ERR_INVALID_ARGUMENT,
                           "the map function returned %" PRIu64 " rows for %" PRIu64
                           " (a different row count needs every input column removed)",
                           res->nrows, n));
        mlm_dataset_free(res);
        return;
    }
    j->results[b] = res;
}

/* Take batches until none is left. The calling thread passes the bar, if
 * any, and redraws it after each of its batches; the other threads only
 * count the rows done. */
static void run_batches(mapjob *j, progress_bar *bar)
{
    for (;;) {
        uint64_t b = atomic_fetch_add(&j->next, 1);
        if (b >= j->nbatches)
            break;
        if (b > atomic_load(&j->first_fail))
            continue; /* a lower batch failed already: its error wins */
        run_batch(j, b);
        uint64_t n = j->ds->nrows - b * j->bs < j->bs ? j->ds->nrows - b * j->bs : j->bs;
        uint64_t done = atomic_fetch_add(&j->rows_done, n) + n;
        if (bar)
            progress_advance(bar, (int64_t)done, progress_now());
    }
}

static void *worker(void *arg)
{
    run_batches(arg, NULL);
    return NULL;
}

/* Concatenate column `name` of every result. */
static mlm_status concat_column(mlm_dataset **results, uint64_t nb, const dcol *proto,
                                colstore **out)
{
    storebuild sb;
    store_init(&sb, proto->cs->type);
    for (uint64_t b = 0; b < nb; b++) {
        const mlm_dataset *r = results[b];
        if (!r->ncols)
            continue;
        const dcol *c = ds_find(r, proto->name);
        for (uint64_t i = 0; i < r->nrows; i++) {
            mlm_status st = store_add_from(&sb, c->cs, c->name, dcol_phys(c, i));
            if (st) {
                store_free(&sb);
                return st;
            }
        }
    }
    return store_finish(&sb, out);
}

mlm_status mlm_dataset_map(const mlm_dataset *ds, mlm_dataset_map_fn fn, void *user,
                           const char *options_json, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_map: out is NULL");
    *out = NULL;
    if (!ds || !fn)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_map: NULL argument");
    mapopts o;
    mlm_status st = mapopts_parse(options_json, ds, &o);
    if (st)
        return st;
    mapjob j;
    memset(&j, 0, sizeof j);
    j.ds = ds;
    j.fn = fn;
    j.user = user;
    j.bs = o.batch_size ? o.batch_size : (ds->nrows ? ds->nrows : 1);
    j.nbatches = (ds->nrows + j.bs - 1) / j.bs;
    j.remove_all = o.remove_all;
    atomic_init(&j.next, 0);
    atomic_init(&j.first_fail, UINT64_MAX);
    atomic_init(&j.rows_done, 0);
    size_t nb = (size_t)(j.nbatches ? j.nbatches : 1);
    j.results = mem_calloc(nb, sizeof *j.results);
    j.status = mem_calloc(nb, sizeof *j.status);
    j.msgs = mem_calloc(nb, sizeof *j.msgs);
    mlm_dataset *res = NULL;
    if (!j.results || !j.status || !j.msgs) {
        st = err_oom();
        goto done;
    }
    int nthreads = o.num_proc;
    if ((uint64_t)nthreads > j.nbatches)
        nthreads = j.nbatches ? (int)j.nbatches : 1;
    pthread_t tid[1024];
    int started = 0;
    for (int t = 1; t < nthreads; t++) {
        if (pthread_create(&tid[started], NULL, worker, &j) != 0)
            break; /* fewer threads: the work still gets done */
        started++;
    }
    progress_bar bar = {0};
    if (o.progress) {
        progress_open_units(&bar, stderr, PROGRESS_TERMINAL_WIDTH, progress_ascii_locale(),
                            o.desc ? o.desc : "Map", " examples", 0, (int64_t)ds->nrows,
                            progress_now());
    }
    run_batches(&j, o.progress ? &bar : NULL);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (o.progress) {
        progress_advance(&bar, (int64_t)atomic_load(&j.rows_done), progress_now());
        progress_close(&bar, progress_now());
    }
    uint64_t ff = atomic_load(&j.first_fail);
    if (ff != UINT64_MAX) {
        st = err_set(j.status[ff], "map: batch %" PRIu64 ": %s", ff,
                     j.msgs[ff] ? j.msgs[ff] : "failed");
        goto done;
    }
    /* All results must agree with the first on names and types. */
    const mlm_dataset *proto = NULL;
    uint64_t total = 0;
    for (uint64_t b = 0; b < j.nbatches; b++) {
        const mlm_dataset *r = j.results[b];
        total += r->ncols ? r->nrows : 0;
        if (!r->ncols)
            continue;
        if (!proto) {
            proto = r;
            continue;
        }
        int same = r->ncols == proto->ncols;
        for (size_t c = 0; same && c < r->ncols; c++) {
            const dcol *pc = ds_find(proto, r->cols[c].name);
            same = pc && pc->cs->type == r->cols[c].cs->type;
        }
        if (!same) {
            st = err_set(MLM_ERR_FORMAT, "map: batch %" PRIu64 " returned columns that differ "
                         "in name or type from batch 0's", b);
            goto done;
        }
    }
    res = ds_alloc(ds->ncols + (proto ? proto->ncols : 0) + 1);
    if (!res) {
        st = err_oom();
        goto done;
    }
    size_t kept = 0;
    if (!o.remove_all) {
        for (size_t i = 0; i < ds->ncols; i++) {
            const char *nm = ds->cols[i].name;
            int drop = proto && ds_find(proto, nm);
            for (size_t k = 0; k < o.nremove && !drop; k++)
                drop = strcmp(nm, o.remove[k]) == 0;
            if (drop)
                continue;
            if ((st = ds_push_shared(res, &ds->cols[i])))
                goto done;
            kept++;
        }
    }
    res->nrows = o.remove_all ? total : ds->nrows;
    for (size_t c = 0; proto && c < proto->ncols; c++) {
        if (j.nbatches == 1) {
            st = ds_push_shared(res, &proto->cols[c]);
        } else {
            colstore *cs;
            st = concat_column(j.results, j.nbatches, &proto->cols[c], &cs);
            if (!st)
                st = ds_push_store(res, proto->cols[c].name, cs);
        }
        if (st)
            goto done;
    }
    if (!kept && !proto)
        res->nrows = o.remove_all ? 0 : ds->nrows;
    *out = res;
    res = NULL;
done:
    mlm_dataset_free(res);
    for (uint64_t b = 0; j.results && b < j.nbatches; b++)
        mlm_dataset_free(j.results[b]);
    for (uint64_t b = 0; j.msgs && b < j.nbatches; b++)
        mem_free(j.msgs[b]);
    mem_free(j.results);
    mem_free(j.status);
    mem_free(j.msgs);
    mapopts_free(&o);
    return st;
}
