/* Checkpoints (train/checkpoint.h): what transformers' Trainer._save_checkpoint
 * writes, in its names, and what _load_from_checkpoint /
 * _load_optimizer_and_scheduler / _load_rng_state read back.
 *
 * Crash safety rests on one rule: a folder is given a name transformers
 * recognises (checkpoint-N, or the final files in output_dir) only once
 * every byte under it is written and synced. */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "text/tokenizer.h"

/* What rng_state.json names the generator. */
#define GENERATOR "philox4x32-10"
/* The stateful_callbacks entry holding libmlm's loss sums. */
#define STATE_ENTRY "LibmlmTrainer"

static checkpoint_file_hook file_hook;

void checkpoint_set_file_hook(checkpoint_file_hook hook) { file_hook = hook; }

static void written(const char *dir, const char *file)
{
    if (file_hook)
        file_hook(dir, file);
}

/* ---------------------------------------------------------------- folders */

static mlm_status make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0)
        return MLM_OK;
    int e = errno;
    struct stat sb;
    if (e == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return MLM_OK;
    if (e == EEXIST)
        return err_set(MLM_ERR_IO, "%s: exists and is not a folder", path);
    return err_set(MLM_ERR_IO, "%s: cannot create folder: %s", path, strerror(e));
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Remove a folder of plain files (a checkpoint; nothing nested). */
static mlm_status remove_flat_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return MLM_OK;
        return err_set(MLM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    mlm_status st = MLM_OK;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (path_join(p, sizeof p, path, e->d_name) != MLM_OK || unlink(p) != 0) {
            st = err_set(MLM_ERR_IO, "%s/%s: cannot remove: %s", path, e->d_name,
                         strerror(errno));
            break;
        }
    }
    closedir(d);
    if (st == MLM_OK && rmdir(path) != 0)
        st = err_set(MLM_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return st;
}

static mlm_status sync_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return err_set(MLM_ERR_IO, "%s: %s", path, strerror(errno));
    int bad = fsync(dirfd(d)) != 0;
    int e = errno;
    closedir(d);
    if (bad)
        return err_set(MLM_ERR_IO, "%s: cannot sync: %s", path, strerror(e));
    return MLM_OK;
}

/* "<prefix><digits>" (as transformers' ^checkpoint\-(\d+)$ for the
 * "checkpoint-" prefix): 1 and the number, or 0. */
static int numbered(const char *name, const char *prefix, long long *n)
{
    size_t k = strlen(prefix);
    if (strncmp(name, prefix, k) != 0 || !name[k] || strlen(name + k) > 18)
        return 0;
    for (const char *p = name + k; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    *n = strtoll(name + k, NULL, 10);
    return 1;
}

mlm_status checkpoint_prepare_output_dir(const char *out)
{
    mlm_status st = make_dir(out);
    if (st != MLM_OK)
        return st;
    DIR *d = opendir(out);
    if (!d)
        return err_set(MLM_ERR_IO, "%s: %s", out, strerror(errno));
    struct dirent *e;
    char p[4096], q[4096];
    while (st == MLM_OK && (e = readdir(d)) != NULL) {
        long long n;
        if (path_join(p, sizeof p, out, e->d_name) != MLM_OK || !is_dir(p))
            continue;
        if (numbered(e->d_name, "tmp-checkpoint-", &n) || strcmp(e->d_name, "tmp-save") == 0) {
            st = remove_flat_dir(p);
        } else if (numbered(e->d_name, "old-checkpoint-", &n)) {
            snprintf(q, sizeof q, "%s/checkpoint-%lld", out, n);
            if (is_dir(q))
                st = remove_flat_dir(p);
            else if (rename(p, q) != 0)
                st = err_set(MLM_ERR_IO, "%s: cannot restore to %s: %s", p, q, strerror(errno));
        }
    }
    closedir(d);
    if (st != MLM_OK)
        return err_prefix(st, "clearing what an interrupted run left in %s: ", out);
    return MLM_OK;
}

/* ---------------------------------------------------------------- files */

/* A number written with all 17 digits: cJSON prints 15 when they come
 * within an epsilon, which would make a resumed run's sums drift. */
static int add_exact(cJSON *o, const char *k, double v)
{
    char text[40];
    if (!isfinite(v))
        return cJSON_AddNullToObject(o, k) != NULL;
    snprintf(text, sizeof text, "%.17g", v);
    return cJSON_AddRawToObject(o, k, text) != NULL;
}

static mlm_status write_json_file(const char *dir, const char *name, cJSON *o)
{
    if (!o)
        return err_oom();
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, name);
    char *s = st == MLM_OK ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (st != MLM_OK)
        return st;
    if (!s)
        return err_oom();
    st = file_write_atomic(path, s, strlen(s));
    cJSON_free(s);
    if (st == MLM_OK)
        written(dir, name);
    return st;
}

static mlm_status save_model(const mlm_trainer *tr, const char *dir)
{
    mlm_status st = mlm_model_save(tr->m, dir);
    if (st == MLM_OK)
        written(dir, "model.safetensors");
    return st;
}

/* What tokenizer.save_pretrained writes for a fast tokenizer: tokenizer.json,
 * tokenizer_config.json and special_tokens_map.json. */
static mlm_status save_tokenizer(const mlm_trainer *tr, const char *dir)
{
    if (!tr->tok)
        return MLM_OK;
    mlm_status st = mlm_tokenizer_save_pretrained(tr->tok, dir);
    if (st != MLM_OK)
        return st;
    written(dir, "tokenizer.json");
    written(dir, "tokenizer_config.json");
    written(dir, "special_tokens_map.json");
    return MLM_OK;
}

/* optimizer.safetensors: torch's optimizer.state_dict() for the run's kind
 * (HF writes it as optimizer.pt): each parameter's state tensors under
 * "<parameter>.<state key>" (step, exp_avg, exp_avg_sq for both AdamWs;
 * step, exp_avg_sq_row and exp_avg_sq_col or exp_avg_sq, RMS for
 * Adafactor), step as torch keeps it (a float32 scalar for torch's AdamW,
 * an int for the others); in the metadata "optim" (the kind), "step" and
 * "param_groups" (JSON: the groups with every key, as
 * optimizer_param_groups gives them). */
static mlm_status save_optimizer(mlm_trainer *tr, const char *dir)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, "optimizer.safetensors");
    if (st != MLM_OK)
        return st;
    optimizer *o = &tr->opt;
    int64_t steps = optimizer_step_count(o);
    float step_f = (float)steps;
    st_writer *w = NULL;
    st = st_writer_new(&w);
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)steps);
    cJSON *groups = optimizer_param_groups(o, trainer_lr(tr, tr->global_step),
                                           tr->a.learning_rate);
    char *gtext = groups ? cJSON_PrintUnformatted(groups) : NULL;
    cJSON_Delete(groups);
    if (st == MLM_OK && !gtext)
        st = err_oom();
    if (st == MLM_OK)
        st = st_writer_add_metadata(w, "optim", optim_kind_name(o->kind));
    if (st == MLM_OK)
        st = st_writer_add_metadata(w, "step", step);
    if (st == MLM_OK)
        st = st_writer_add_metadata(w, "param_groups", gtext);
    size_t np;
    const param_desc *params = model_param_table(tr->m, &np);
    for (size_t i = 0; i < np && st == MLM_OK; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s.step", params[i].name);
        st = optimizer_step_is_float(o) ? st_writer_add(w, name, ST_F32, 0, NULL, &step_f)
                                        : st_writer_add(w, name, ST_I64, 0, NULL, &steps);
        optim_state_tensor t[3];
        size_t nt = optimizer_state_tensors(o, i, t);
        for (size_t k = 0; k < nt && st == MLM_OK; k++) {
            snprintf(name, sizeof name, "%s.%s", params[i].name, t[k].key);
            st = st_writer_add(w, name, ST_F32, t[k].ndim, t[k].shape, t[k].data);
        }
    }
    if (st == MLM_OK)
        st = st_writer_save(w, path);
    st_writer_free(w);
    cJSON_free(gtext);
    if (st == MLM_OK)
        written(dir, "optimizer.safetensors");
    return st;
}

static cJSON *scheduler_json(const mlm_trainer *tr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && add_num(o, "last_epoch", (double)tr->global_step) &&
        add_num(o, "base_lr", tr->a.learning_rate) &&
        add_num(o, "num_warmup_steps", (double)tr->warmup) &&
        add_num(o, "num_training_steps", (double)tr->total_steps) &&
        add_num(o, "last_lr", trainer_lr(tr, tr->global_step)))
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* rng_state.json: transformers keeps the generators' states (rng_state.pth;
 * rng_state_{rank}.pth for each rank of a distributed run); libmlm's
 * randomness is a pure function of the seed and a position in the run, so
 * the state is the seed and the position, with the layout of the streams
 * for a reader. Rank 0 can thus write every rank's. */
static cJSON *rng_state_json(const mlm_trainer *tr, int rank)
{
    char shuffle[160];
    snprintf(shuffle, sizeof shuffle,
             "epoch e's order of the train rows: stream 0x%016llx + e of seed, words from 0",
             (unsigned long long)SHUFFLE_STREAM);
    cJSON *o = cJSON_CreateObject();
    cJSON *streams = NULL;
    if (o && cJSON_AddStringToObject(o, "generator", GENERATOR) &&
        add_exact(o, "seed", (double)tr->a.seed) &&
        add_exact(o, "global_step", (double)tr->global_step) &&
        add_exact(o, "micro_batch", (double)trainer_micro_batch(tr, tr->global_step, rank)) &&
        add_exact(o, "micro_batches_per_epoch", (double)tr->len_dl) &&
        (tr->world == 1 || (add_exact(o, "process_index", rank) &&
                            add_exact(o, "world_size", tr->world))) &&
        (streams = cJSON_AddObjectToObject(o, "streams")) != NULL &&
        cJSON_AddStringToObject(streams, "shuffle", shuffle) &&
        cJSON_AddStringToObject(streams, "dropout", "stream (micro_batch << 32) + site of seed") &&
        cJSON_AddStringToObject(streams, "masks", "the collator's own seed, stream micro_batch"))
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* TrainerControl.state() as _save_checkpoint records it: saving, and the
 * run's end at its last step. */
/* TrainerControl's state as transformers records it in the state: at the
 * last checkpoint save (should_save set, should_training_stop at the last
 * step), or as TrainerControl() starts when nothing was saved yet. */
static cJSON *control_state(const mlm_trainer *tr, const trainer_plan *p)
{
    cJSON *c = cJSON_CreateObject(), *args = cJSON_CreateObject();
    int saved = tr->saved_step > 0;
    int ok = c && args && cJSON_AddFalseToObject(args, "should_epoch_stop") &&
             cJSON_AddFalseToObject(args, "should_evaluate") &&
             cJSON_AddFalseToObject(args, "should_log") &&
             cJSON_AddBoolToObject(args, "should_save", saved) &&
             cJSON_AddBoolToObject(args, "should_training_stop",
                                   saved && tr->saved_step >= p->total_steps);
    if (ok && cJSON_AddItemToObject(c, "args", args)) {
        if (cJSON_AddObjectToObject(c, "attributes"))
            return c;
        cJSON_Delete(c);
        return NULL;
    }
    cJSON_Delete(args);
    cJSON_Delete(c);
    return NULL;
}

/* What libmlm needs beyond HF's fields to continue the logs exactly, as a
 * stateful callback entry (transformers keeps unknown entries and ignores
 * them, so the file still loads as a TrainerState). */
static cJSON *libmlm_state(const mlm_trainer *tr)
{
    cJSON *c = cJSON_CreateObject();
    cJSON *attr = c && cJSON_AddObjectToObject(c, "args") ? cJSON_AddObjectToObject(c, "attributes")
                                                          : NULL;
    if (attr &&
        add_exact(attr, "total_loss", tr->total_loss) &&
        add_exact(attr, "loss_since_log", tr->loss_since_log) &&
        add_num(attr, "steps_since_log", (double)tr->steps_since_log))
        return c;
    cJSON_Delete(c);
    return NULL;
}

/* trainer_state.json: every field of transformers' TrainerState. */
cJSON *trainer_state_json(const mlm_trainer *tr, const trainer_plan *p)
{
    const targs *a = &tr->a;
    cJSON *o = cJSON_CreateObject();
    cJSON *hist = cJSON_Duplicate(tr->log_history, 1);
    cJSON *cbs = cJSON_CreateObject();
    cJSON *ctl = control_state(tr, p), *mine = libmlm_state(tr);
    int ok = o && hist && cbs && ctl && mine;
    if (ok) {
        ok = cJSON_AddItemToObject(cbs, "TrainerControl", ctl);
        ctl = NULL;
    }
    if (ok) {
        ok = cJSON_AddItemToObject(cbs, STATE_ENTRY, mine);
        mine = NULL;
    }
    ok = ok && cJSON_AddNullToObject(o, "best_global_step") &&
         cJSON_AddNullToObject(o, "best_metric") &&
         cJSON_AddNullToObject(o, "best_model_checkpoint") && add_exact(o, "epoch", tr->epoch) &&
         add_num(o, "eval_steps", (double)(a->eval_steps ? a->eval_steps : a->logging_steps)) &&
         add_num(o, "global_step", (double)tr->global_step) &&
         cJSON_AddFalseToObject(o, "is_hyper_param_search") &&
         cJSON_AddTrueToObject(o, "is_local_process_zero") &&
         cJSON_AddTrueToObject(o, "is_world_process_zero");
    if (ok) {
        ok = cJSON_AddItemToObject(o, "log_history", hist);
        hist = NULL;
    }
    ok = ok && add_num(o, "logging_steps", (double)a->logging_steps) &&
         add_num(o, "max_steps", (double)p->total_steps) &&
         add_num(o, "num_input_tokens_seen", 0) &&
         add_num(o, "num_train_epochs",
                 (double)((p->total_steps + p->per_epoch - 1) / p->per_epoch)) &&
         add_num(o, "save_steps", (double)a->save_steps);
    if (ok) {
        ok = cJSON_AddItemToObject(o, "stateful_callbacks", cbs);
        cbs = NULL;
    }
    ok = ok && add_exact(o, "total_flos", tr->total_flos) &&
         add_num(o, "train_batch_size", (double)a->train_batch_size) &&
         cJSON_AddNullToObject(o, "trial_name") && cJSON_AddNullToObject(o, "trial_params");
    cJSON_Delete(hist);
    cJSON_Delete(cbs);
    cJSON_Delete(ctl);
    cJSON_Delete(mine);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------- saving */

static int cmp_ll(const void *x, const void *y)
{
    long long a = *(const long long *)x, b = *(const long long *)y;
    return (a > b) - (a < b);
}

/* The numbers of the checkpoint-N folders in dir, sorted. */
static mlm_status list_checkpoints(const char *dir, long long **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return err_set(errno == ENOENT ? MLM_ERR_NOT_FOUND : MLM_ERR_IO, "%s: %s", dir,
                       strerror(errno));
    long long *nums = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    char p[4096];
    mlm_status st = MLM_OK;
    while ((e = readdir(d)) != NULL) {
        long long k;
        if (!numbered(e->d_name, "checkpoint-", &k) ||
            path_join(p, sizeof p, dir, e->d_name) != MLM_OK || !is_dir(p))
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            long long *nn = mem_realloc(nums, nc * sizeof *nn);
            if (!nn) {
                st = err_oom();
                break;
            }
            nums = nn;
            cap = nc;
        }
        nums[n++] = k;
    }
    closedir(d);
    if (st != MLM_OK) {
        mem_free(nums);
        return st;
    }
    if (n > 0)
        qsort(nums, n, sizeof *nums, cmp_ll);
    *out = nums;
    *count = n;
    return MLM_OK;
}

/* save_total_limit: remove the oldest checkpoint-N folders, each renamed to
 * tmp-checkpoint-N first so that a crash mid-removal leaves no partial
 * folder under a checkpoint's name. */
/* What rank's RNG state is called: HF's names with .json. */
static void rng_state_name(const mlm_trainer *tr, int rank, char *buf, size_t cap)
{
    if (tr->world == 1)
        snprintf(buf, cap, "rng_state.json");
    else
        snprintf(buf, cap, "rng_state_%d.json", rank);
}

/* A hash of the parameters' bits (64-bit words, FNV-1a's multiplier over
 * xor): the ranks compare theirs before a save. */
static unsigned long long params_hash(const mlm_trainer *tr)
{
    const float *p = model_owned(tr->m);
    size_t n = model_numel(tr->m);
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        uint32_t w;
        memcpy(&w, p + i, sizeof w);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    return (unsigned long long)h;
}

static mlm_status rotate_checkpoints(const mlm_trainer *tr)
{
    if (tr->a.save_total_limit <= 0)
        return MLM_OK;
    const char *out = tr->a.output_dir;
    long long *nums;
    size_t n;
    mlm_status st = list_checkpoints(out, &nums, &n);
    for (size_t i = 0; st == MLM_OK && n - i > (size_t)tr->a.save_total_limit; i++) {
        char path[4096], gone[4096];
        snprintf(path, sizeof path, "%s/checkpoint-%lld", out, nums[i]);
        snprintf(gone, sizeof gone, "%s/tmp-checkpoint-%lld", out, nums[i]);
        st = remove_flat_dir(gone);
        if (st == MLM_OK && rename(path, gone) != 0)
            st = err_set(MLM_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
        if (st == MLM_OK)
            st = remove_flat_dir(gone);
    }
    mem_free(nums);
    return st;
}

/* Everything of a checkpoint, into the folder tmp. */
static mlm_status write_checkpoint_files(mlm_trainer *tr, const char *tmp)
{
    mlm_status st = make_dir(tmp);
    if (st == MLM_OK)
        st = save_model(tr, tmp);
    if (st == MLM_OK)
        st = save_tokenizer(tr, tmp);
    if (st == MLM_OK)
        st = save_optimizer(tr, tmp);
    if (st == MLM_OK)
        st = write_json_file(tmp, "scheduler.json", scheduler_json(tr));
    for (int r = 0; st == MLM_OK && r < tr->world; r++) {
        char name[64];
        rng_state_name(tr, r, name, sizeof name);
        st = write_json_file(tmp, name, rng_state_json(tr, r));
    }
    if (st == MLM_OK)
    {
        trainer_plan p = trainer_plan_of(tr);
        st = write_json_file(tmp, "trainer_state.json", trainer_state_json(tr, &p));
    }
    if (st == MLM_OK)
        st = write_json_file(tmp, "training_args.json", trainer_args_json(&tr->a, trainer_is_seq2seq(tr)));
    if (st == MLM_OK)
        st = sync_dir(tmp);
    return st;
}

/* tmp becomes dir. An existing dir (a run repeated into the same folder) is
 * moved aside first, since rename() will not replace a non-empty folder;
 * checkpoint_prepare_output_dir puts it back if a crash comes between. */
static mlm_status put_in_place(const char *out, const char *tmp, const char *dir,
                               const char *old)
{
    int had = is_dir(dir);
    mlm_status st = MLM_OK;
    if (had && (remove_flat_dir(old) != MLM_OK || rename(dir, old) != 0))
        return err_set(MLM_ERR_IO, "%s: cannot move the old checkpoint aside", dir);
    if (rename(tmp, dir) != 0)
        st = err_set(MLM_ERR_IO, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
    if (st != MLM_OK && had)
        (void)rename(old, dir);
    if (st == MLM_OK && had)
        st = remove_flat_dir(old);
    if (st == MLM_OK)
        st = sync_dir(out);
    return st;
}

mlm_status checkpoint_save(mlm_trainer *tr)
{
    const char *out = tr->a.output_dir;
    long long step = (long long)tr->global_step;
    char tmp[4096], dir[4096], old[4096];
    int a = snprintf(tmp, sizeof tmp, "%s/tmp-checkpoint-%lld", out, step);
    snprintf(dir, sizeof dir, "%s/checkpoint-%lld", out, step);
    snprintf(old, sizeof old, "%s/old-checkpoint-%lld", out, step);
    if (a < 0 || (size_t)a >= sizeof tmp - 4)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "trainer option output_dir: path too long");
    /* as Trainer._save_checkpoint: the flos counted so far go into the
     * state, which then records this save (every rank: collective) */
    mlm_status st = trainer_store_flos(tr);
    /* the ranks must hold the same parameters, whatever MPI's sums did (a
     * pass over every parameter: only when there are ranks to compare) */
    if (st == MLM_OK && tr->world > 1)
        st = dist_check_same(tr->dist, params_hash(tr), "the parameters' hash");
    if (st != MLM_OK)
        return err_prefix(st, "checkpoint %lld: ", step);
    int64_t saved_before = tr->saved_step;
    tr->saved_step = tr->global_step;
    if (tr->rank != 0) /* should_save: the world process zero alone writes */
        return MLM_OK;
    st = make_dir(out);
    if (st == MLM_OK)
        st = remove_flat_dir(tmp);
    if (st == MLM_OK)
        st = write_checkpoint_files(tr, tmp);
    if (st == MLM_OK)
        st = put_in_place(out, tmp, dir, old);
    if (st != MLM_OK) {
        mlm_status keep = st;
        tr->saved_step = saved_before;
        (void)remove_flat_dir(tmp);
        return err_prefix(keep, "checkpoint %lld: ", step);
    }
    return rotate_checkpoints(tr);
}

/* The files of the final save, in the order they replace the old ones. */
static const char *const final_files[] = {"config.json",           "model.safetensors",
                                          "tokenizer.json",        "tokenizer_config.json",
                                          "special_tokens_map.json", "training_args.json"};

/* Every file of stage over its namesake in out. */
static mlm_status move_files_over(const char *stage, const char *out)
{
    char from[4096], to[4096];
    mlm_status st = MLM_OK;
    for (size_t i = 0; st == MLM_OK && i < sizeof final_files / sizeof final_files[0]; i++) {
        st = path_join(from, sizeof from, stage, final_files[i]);
        if (st == MLM_OK)
            st = path_join(to, sizeof to, out, final_files[i]);
        if (st == MLM_OK && access(from, F_OK) == 0 && rename(from, to) != 0)
            st = err_set(MLM_ERR_IO, "%s: cannot rename to %s: %s", from, to, strerror(errno));
    }
    return st;
}

mlm_status checkpoint_save_final(mlm_trainer *tr)
{
    const char *out = tr->a.output_dir;
    char stage[4096];
    mlm_status st = make_dir(out);
    if (st == MLM_OK)
        st = path_join(stage, sizeof stage, out, "tmp-save");
    if (st == MLM_OK)
        st = remove_flat_dir(stage);
    if (st == MLM_OK)
        st = make_dir(stage);
    if (st == MLM_OK)
        st = save_model(tr, stage);
    if (st == MLM_OK)
        st = save_tokenizer(tr, stage);
    if (st == MLM_OK)
        st = write_json_file(stage, "training_args.json", trainer_args_json(&tr->a, trainer_is_seq2seq(tr)));
    if (st == MLM_OK)
        st = sync_dir(stage);
    /* Every file is whole: only now do they replace the old ones. */
    if (st == MLM_OK)
        st = move_files_over(stage, out);
    if (st == MLM_OK)
        st = remove_flat_dir(stage);
    if (st == MLM_OK)
        st = sync_dir(out);
    if (st != MLM_OK) {
        mlm_status keep = st;
        (void)remove_flat_dir(stage);
        return err_prefix(keep, "saving the trained model in %s: ", out);
    }
    return MLM_OK;
}

/* ---------------------------------------------------------------- resuming */

static mlm_status read_json(const char *dir, const char *name, cJSON **out)
{
    char path[4096];
    char *text = NULL;
    size_t len;
    *out = NULL;
    mlm_status st = path_join(path, sizeof path, dir, name);
    if (st == MLM_OK)
        st = file_read_all(path, (size_t)1 << 30, &text, &len);
    if (st != MLM_OK)
        return st;
    cJSON *o = cJSON_ParseWithLength(text, len);
    mem_free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return err_set(MLM_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *out = o;
    return MLM_OK;
}

static const cJSON *field(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The parameters: a model loaded from the checkpoint, copied over ours. */
static mlm_status load_params(mlm_trainer *tr, const char *dir)
{
    mlm_model *src = NULL;
    mlm_status st = mlm_model_load(dir, &src);
    if (st == MLM_OK)
        st = model_own_params(src);
    if (st == MLM_OK) {
        size_t ns, nd;
        const param_desc *ps = model_param_table(src, &ns), *pd = model_param_table(tr->m, &nd);
        int same = src->family == tr->m->family && ns == nd;
        for (size_t i = 0; same && i < ns; i++)
            same = strcmp(ps[i].name, pd[i].name) == 0 && ps[i].numel == pd[i].numel;
        if (!same)
            st = err_set(MLM_ERR_FORMAT, "%s: the checkpoint's model has another shape", dir);
        else
            memcpy(model_owned(tr->m), model_owned(src), model_numel(src) * sizeof(float));
    }
    mlm_model_free(src);
    return st;
}

/* A parameter's saved step, when the file has one (files written before
 * the per-parameter steps have only the metadata's): it must be the same. */
static mlm_status check_param_step(const st_file *f, const char *param, long long want)
{
    char name[160];
    snprintf(name, sizeof name, "%s.step", param);
    const st_tensor *t = st_find(f, name);
    if (!t)
        return MLM_OK;
    int64_t v = -1;
    float x = -1;
    mlm_status st = t->dtype == ST_F32 ? st_tensor_to_f32(t, &x, 1) : st_tensor_to_i64(t, &v, 1);
    if (st == MLM_OK && t->dtype == ST_F32)
        v = (int64_t)x;
    if (st == MLM_OK && (t->numel != 1 || v != want))
        st = err_set(MLM_ERR_FORMAT, "%s is not the step %lld of the metadata", name, want);
    return st;
}

/* The saved kind ("optim"; a file without it is adamw_torch's, the only
 * kind before) against the run's. */
static mlm_status check_optim_kind(const st_file *f, const optimizer *o)
{
    const char *saved = st_metadata(f, "optim");
    optim_kind k = OPTIM_ADAMW_TORCH;
    if (saved && optim_kind_of(saved, &k) != 0)
        return err_set(MLM_ERR_FORMAT, "unknown \"optim\" '%s' in the metadata (valid: "
                                       OPTIM_NAMES ")", saved);
    if (k != o->kind)
        return err_set(MLM_ERR_INVALID_ARGUMENT,
                       "holds the state of optim \"%s\" but this run's optim is \"%s\" (set "
                       "the trainer option optim to \"%s\" to resume it)",
                       optim_kind_name(k), optim_kind_name(o->kind), optim_kind_name(k));
    return MLM_OK;
}

static mlm_status check_groups(const st_file *f, const optimizer *o)
{
    const char *text = st_metadata(f, "param_groups");
    if (!text) /* written before the groups were recorded */
        return MLM_OK;
    cJSON *g = cJSON_Parse(text);
    mlm_status st = g ? optimizer_check_param_groups(o, g)
                      : err_set(MLM_ERR_FORMAT, "\"param_groups\" in the metadata is not JSON");
    cJSON_Delete(g);
    return st;
}

static mlm_status load_optimizer(mlm_trainer *tr, const char *dir)
{
    char path[4096];
    mlm_status st = path_join(path, sizeof path, dir, "optimizer.safetensors");
    st_file *f = NULL;
    if (st == MLM_OK)
        st = st_open(path, &f);
    if (st != MLM_OK)
        return st;
    optimizer *o = &tr->opt;
    const char *step = st_metadata(f, "step");
    char *end = NULL;
    long long sv = step ? strtoll(step, &end, 10) : -1;
    st = check_optim_kind(f, o);
    if (st == MLM_OK && (!step || *end || sv < 0))
        st = err_set(MLM_ERR_FORMAT, "no valid \"step\" in the metadata");
    if (st == MLM_OK)
        st = check_groups(f, o);
    size_t np;
    const param_desc *params = model_param_table(tr->m, &np);
    for (size_t i = 0; st == MLM_OK && i < np; i++) {
        const char *pname = params[i].name;
        st = check_param_step(f, pname, sv);
        optim_state_tensor t[3];
        size_t nt = optimizer_state_tensors(o, i, t);
        for (size_t k = 0; k < nt && st == MLM_OK; k++) {
            char name[160];
            snprintf(name, sizeof name, "%s.%s", pname, t[k].key);
            const st_tensor *s = NULL;
            st = st_get(f, name, &s);
            if (st == MLM_OK && s->numel != t[k].numel)
                st = err_set(MLM_ERR_FORMAT, "%s has %zu values, expected %zu", name, s->numel,
                             t[k].numel);
            if (st == MLM_OK)
                st = st_tensor_to_f32(s, t[k].data, t[k].numel);
        }
    }
    st_close(f);
    if (st != MLM_OK)
        return err_prefix(st, "%s: ", path);
    optimizer_set_step_count(o, sv);
    return MLM_OK;
}

/* A number field of o that must equal want; the error names file and field. */
static mlm_status expect_num(const cJSON *o, const char *file, const char *k, double want,
                             const char *why)
{
    const cJSON *v = field(o, k);
    if (!cJSON_IsNumber(v))
        return err_set(MLM_ERR_FORMAT, "%s: \"%s\" is missing or not a number", file, k);
    if (v->valuedouble != want)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: \"%s\" is %.17g but this run has %.17g (%s)",
                       file, k, v->valuedouble, want, why);
    return MLM_OK;
}

/* rng_state.json against this run: the same generator and seed, and its
 * step at the same micro-batch (else the batch size, the accumulation or
 * the train set differ, and the masks and dropout would not continue the
 * interrupted run). *step: the step it was written at. */
static mlm_status check_rng_state(const mlm_trainer *tr, const char *dir, int64_t *step)
{
    cJSON *o = NULL;
    char f[64], path[4096];
    rng_state_name(tr, tr->rank, f, sizeof f);
    mlm_status st = path_join(path, sizeof path, dir, f);
    if (st == MLM_OK && access(path, F_OK) != 0)
        return err_set(MLM_ERR_NOT_FOUND,
                       "%s: not there (a checkpoint of a run of another number of processes "
                       "than this one's %d? resume with the same mpirun -np)",
                       path, tr->world);
    if (st == MLM_OK)
        st = read_json(dir, f, &o);
    if (st != MLM_OK)
        return st;
    const cJSON *g = field(o, "generator"), *gs = field(o, "global_step");
    if (!cJSON_IsString(g) || strcmp(g->valuestring, GENERATOR) != 0)
        st = err_set(MLM_ERR_FORMAT, "%s: \"generator\" is not \"%s\"", f, GENERATOR);
    else if (!cJSON_IsNumber(gs) || gs->valuedouble < 0 || gs->valuedouble > 1e15 ||
             gs->valuedouble != floor(gs->valuedouble))
        st = err_set(MLM_ERR_FORMAT, "%s: \"global_step\" is not a step number", f);
    else
        *step = (int64_t)gs->valuedouble;
    if (st == MLM_OK)
        st = expect_num(o, f, "seed", (double)tr->a.seed,
                        "set the trainer option seed to the checkpoint's to continue its run");
    if (st == MLM_OK)
        st = expect_num(o, f, "micro_batches_per_epoch", (double)tr->len_dl,
                        "per_device_train_batch_size or the train dataset differ");
    if (st == MLM_OK)
        st = expect_num(o, f, "micro_batch", (double)trainer_micro_batch(tr, *step, tr->rank),
                        "gradient_accumulation_steps differs");
    cJSON_Delete(o);
    return st;
}

static mlm_status load_state(mlm_trainer *tr, const char *dir)
{
    cJSON *o = NULL;
    mlm_status st = read_json(dir, "trainer_state.json", &o);
    if (st != MLM_OK)
        return st;
    const cJSON *gs = field(o, "global_step"), *ep = field(o, "epoch");
    const cJSON *fl = field(o, "total_flos"), *hist = field(o, "log_history");
    const cJSON *mine = field(field(field(o, "stateful_callbacks"), STATE_ENTRY), "attributes");
    const cJSON *tl = field(mine, "total_loss"), *ll = field(mine, "loss_since_log");
    const cJSON *sl = field(mine, "steps_since_log");
    if (!cJSON_IsNumber(gs) || gs->valuedouble < 0 || !cJSON_IsNumber(ep) ||
        !cJSON_IsNumber(fl) || !cJSON_IsArray(hist) || !cJSON_IsNumber(tl) ||
        !cJSON_IsNumber(ll) || !cJSON_IsNumber(sl)) {
        cJSON_Delete(o);
        return err_set(MLM_ERR_FORMAT,
                       "trainer_state.json: expected global_step, epoch, total_flos, log_history "
                       "and stateful_callbacks." STATE_ENTRY ".attributes");
    }
    if ((long long)gs->valuedouble != optimizer_step_count(&tr->opt)) {
        st = err_set(MLM_ERR_FORMAT,
                     "trainer_state.json: global_step %.0f disagrees with the optimizer's "
                     "step %lld and rng_state.json's",
                     gs->valuedouble, (long long)optimizer_step_count(&tr->opt));
        cJSON_Delete(o);
        return st;
    }
    tr->global_step = (int64_t)gs->valuedouble;
    tr->saved_step = tr->global_step;
    tr->epoch = ep->valuedouble;
    tr->total_flos = fl->valuedouble;
    tr->total_loss = tl->valuedouble;
    tr->loss_since_log = ll->valuedouble;
    tr->steps_since_log = (int64_t)sl->valuedouble;
    cJSON *h = cJSON_DetachItemFromObjectCaseSensitive(o, "log_history");
    cJSON_Delete(tr->log_history);
    tr->log_history = h;
    cJSON_Delete(o);
    return MLM_OK;
}

/* The model, borrowed from the host, is written last, once everything else
 * has loaded: a checkpoint that fails to load leaves it as it was. */
mlm_status checkpoint_load(mlm_trainer *tr, const char *dir)
{
    int64_t step = 0;
    mlm_status st = check_rng_state(tr, dir, &step);
    if (st == MLM_OK)
        st = load_optimizer(tr, dir);
    if (st == MLM_OK && optimizer_step_count(&tr->opt) != step)
        st = err_set(MLM_ERR_FORMAT, "optimizer.safetensors: step %lld, rng_state.json: %lld",
                     (long long)optimizer_step_count(&tr->opt), (long long)step);
    if (st == MLM_OK)
        st = load_state(tr, dir);
    if (st == MLM_OK)
        st = load_params(tr, dir);
    return st;
}

/* ---------------------------------------------------------------- public */

mlm_status mlm_trainer_last_checkpoint(const char *output_dir, char *buf, size_t cap,
                                       size_t *needed)
{
    if (!output_dir || !needed || (cap && !buf))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_trainer_last_checkpoint: bad arguments");
    long long *nums;
    size_t n;
    mlm_status st = list_checkpoints(output_dir, &nums, &n);
    if (st != MLM_OK)
        return st;
    if (n == 0)
        return err_set(MLM_ERR_NOT_FOUND, "%s: no checkpoint-N folder", output_dir);
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/checkpoint-%lld", output_dir, nums[n - 1]);
    mem_free(nums);
    if (len < 0 || (size_t)len >= sizeof path)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "%s: path too long", output_dir);
    out_copy(path, (size_t)len, buf, cap, needed);
    return MLM_OK;
}
