/* mlm_dataset_tokenize_file: text or JSON Lines → tokenized (and grouped)
 * dataset file with constant memory. One batch of lines is read (through
 * zlib, so gzip works too), encoded on the tokenizer's batch threads, and
 * written through the streaming writer; group_texts' remainder is carried
 * from batch to batch. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/error.h"
#include "core/utf8.h"
#include "data/dataset_impl.h"
#include "data/tokenize.h"
#include "io/progress.h"

enum { SF_TEXT, SF_JSONL };

typedef struct sopts {
    int format; /* -1: from the name */
    const char *column;
    int64_t block;     /* 0: no grouping */
    uint64_t gbatch;   /* rows per group_texts batch; 0: the whole file */
    int line_by_line;  /* skip empty and whitespace-only lines */
    uint64_t batch;    /* lines per encode_batch */
    int nthreads;
    int add_special;
    int type_ids;      /* -1: as the tokenizer gives for a pair */
    int skip_bad;
    int progress;      /* a tqdm bar on stderr */
} sopts;

static mlm_status int_opt(const cJSON *it, const char *k, int64_t lo, int64_t hi, int64_t *v)
{
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int64_t)it->valuedouble ||
        it->valuedouble < (double)lo || it->valuedouble > (double)hi)
        return err_set(MLM_ERR_RANGE, "tokenize_file options: \"%s\" must be an integer in "
                       "%" PRId64 "..%" PRId64, k, lo, hi);
    *v = (int64_t)it->valuedouble;
    return MLM_OK;
}

static mlm_status bool_opt(const cJSON *it, const char *k, int *v)
{
    if (!cJSON_IsBool(it))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize_file options: \"%s\" must be true "
                       "or false", k);
    *v = cJSON_IsTrue(it);
    return MLM_OK;
}

/* Parse options; string values point into *root (freed by the caller). */
static mlm_status sopts_parse(const char *json, sopts *o, cJSON **root)
{
    *o = (sopts){.format = -1, .column = "text", .batch = 1000, .nthreads = 1,
                 .add_special = 1, .type_ids = -1};
    *root = NULL;
    if (!json || !*json)
        return MLM_OK;
    cJSON *r = cJSON_Parse(json);
    *root = r;
    if (!r || !cJSON_IsObject(r))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize_file options: not a JSON object");
    mlm_status st = MLM_OK;
    for (const cJSON *it = r->child; it && !st; it = it->next) {
        const char *k = it->string ? it->string : "";
        int64_t v = 0;
        if (strcmp(k, "format") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "text") == 0)
                o->format = SF_TEXT;
            else if (cJSON_IsString(it) && strcmp(it->valuestring, "jsonl") == 0)
                o->format = SF_JSONL;
            else
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize_file options: \"format\" is "
                             "\"text\" or \"jsonl\"");
        } else if (strcmp(k, "column") == 0) {
            if (!cJSON_IsString(it) || !it->valuestring[0])
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize_file options: \"column\" "
                             "must be a column name");
            else
                o->column = it->valuestring;
        } else if (strcmp(k, "block_size") == 0) {
            if (!(st = int_opt(it, k, 0, INT32_MAX, &v)))
                o->block = v;
        } else if (strcmp(k, "group_batch_size") == 0) {
            if (!(st = int_opt(it, k, 0, INT64_MAX / 2, &v)))
                o->gbatch = (uint64_t)v;
        } else if (strcmp(k, "batch_size") == 0) {
            if (!(st = int_opt(it, k, 1, 1 << 24, &v)))
                o->batch = (uint64_t)v;
        } else if (strcmp(k, "num_proc") == 0) {
            if (!(st = int_opt(it, k, 1, 256, &v)))
                o->nthreads = (int)v;
        } else if (strcmp(k, "line_by_line") == 0) {
            st = bool_opt(it, k, &o->line_by_line);
        } else if (strcmp(k, "progress") == 0) {
            st = bool_opt(it, k, &o->progress);
        } else if (strcmp(k, "add_special_tokens") == 0) {
            st = bool_opt(it, k, &o->add_special);
        } else if (strcmp(k, "return_token_type_ids") == 0) {
            st = bool_opt(it, k, &o->type_ids);
        } else if (strcmp(k, "on_bad_rows") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "error") == 0)
                o->skip_bad = 0;
            else if (cJSON_IsString(it) && strcmp(it->valuestring, "skip") == 0)
                o->skip_bad = 1;
            else
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize_file options: "
                             "\"on_bad_rows\" is \"error\" or \"skip\"");
        } else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "tokenize_file options: unknown option "
                         "\"%s\"", k);
        }
    }
    return st;
}

/* ------------------------------------------------------------ reading */

/* Lines of a (possibly gzip'ed) file with universal newlines, as the text
 * loader splits them: "a\nb\n" is two lines, "a\n\n" is "a" and "". */
typedef struct lreader {
    gzFile f;
    char *buf;
    size_t pos, len;
    int eof, last_cr; /* last_cr: the previous line ended at '\r' */
    strbuf line;
    uint64_t bytes;
    mlm_status st; /* why lr_next returned -1 */
} lreader;

#define LR_BUF (1u << 17)

/* 1: a line in r->line (NUL-terminated, r->line.len excludes the NUL);
 * 0: end of input; -1: an error (set). */
static int lr_next(lreader *r, const char *path)
{
    r->line.len = 0;
    int have = 0;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof)
                break;
            int n = gzread(r->f, r->buf, LR_BUF);
            if (n < 0) {
                int zerr;
                const char *msg = gzerror(r->f, &zerr);
                r->st = err_set(MLM_ERR_IO, "%s: %s", path,
                                zerr == Z_ERRNO ? strerror(errno) : msg);
                return -1;
            }
            if (n == 0) {
                r->eof = 1;
                break;
            }
            r->pos = 0;
            r->len = (size_t)n;
            r->bytes += (uint64_t)n;
        }
        if (r->last_cr) {
            r->last_cr = 0;
            if (r->buf[r->pos] == '\n') {
                r->pos++;
                continue;
            }
        }
        size_t s = r->pos;
        while (r->pos < r->len && r->buf[r->pos] != '\n' && r->buf[r->pos] != '\r')
            r->pos++;
        if (sb_append(&r->line, r->buf + s, r->pos - s)) {
            r->st = err_oom();
            return -1;
        }
        have = 1;
        if (r->pos < r->len) {
            r->last_cr = r->buf[r->pos] == '\r';
            r->pos++;
            goto done;
        }
    }
    if (!have)
        return 0; /* the end; else a last line without a newline */
done:
    if (sb_append(&r->line, "", 1)) {
        r->st = err_oom();
        return -1;
    }
    r->line.len--;
    return 1;
}

/* The value at `name` in a JSON record: the key itself, else the dotted
 * path through nested objects ("answers.text"), as flatten() names it. */
static const cJSON *record_field(const cJSON *rec, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    if (v)
        return v;
    const char *dot = strchr(name, '.');
    if (!dot)
        return NULL;
    for (const cJSON *it = rec->child; it; it = it->next) {
        size_t kl = it->string ? strlen(it->string) : 0;
        if (cJSON_IsObject(it) && kl && strncmp(name, it->string, kl) == 0 && name[kl] == '.') {
            const cJSON *sub = record_field(it, name + kl + 1);
            if (sub)
                return sub;
        }
    }
    return NULL;
}

/* Append a JSON value's text to out, as the loader types it: a string as
 * is, null as "", a list's items joined with " " (non-string items as
 * their JSON text). 0, or -1 for an object/unsupported. */
static int json_text(const cJSON *v, strbuf *out)
{
    if (cJSON_IsString(v))
        return sb_append(out, v->valuestring, strlen(v->valuestring)) ? -2 : 0;
    if (cJSON_IsNull(v))
        return 0;
    if (cJSON_IsArray(v)) {
        int first = 1;
        for (const cJSON *e = v->child; e; e = e->next) {
            if (!first && sb_append(out, " ", 1))
                return -2;
            first = 0;
            if (cJSON_IsString(e)) {
                if (sb_append(out, e->valuestring, strlen(e->valuestring)))
                    return -2;
            } else {
                char *t = cJSON_PrintUnformatted(e);
                int bad = !t || sb_append(out, t, strlen(t));
                cJSON_free(t);
                if (bad)
                    return -2;
            }
        }
        return 0;
    }
    if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
        char *t = cJSON_PrintUnformatted(v);
        int bad = !t || sb_append(out, t, strlen(t));
        cJSON_free(t);
        return bad ? -2 : 0;
    }
    return -1;
}

/* ------------------------------------------------------------ writing */

typedef struct sink {
    mlm_dataset_writer *w;
    int ncols;
    int64_t block;
    uint64_t gbatch, in_group;
    strbuf carry[5]; /* int32 values not yet in a block */
    mlm_tokenize_file_stats *stats;
} sink;

static mlm_status sink_row(sink *s, const mlm_encoding *e)
{
    size_t len = mlm_encoding_length(e);
    const int32_t *arr[5] = {mlm_encoding_ids(e), mlm_encoding_attention_mask(e),
                             mlm_encoding_special_tokens_mask(e), mlm_encoding_word_ids(e),
                             mlm_encoding_type_ids(e)};
    s->stats->tokens += len;
    mlm_status st = MLM_OK;
    if (!s->block) {
        for (int k = 0; k < s->ncols && !st; k++)
            st = mlm_dataset_writer_set_sequence(s->w, (size_t)k, arr[k], len);
        if (!st && !(st = mlm_dataset_writer_end_row(s->w))) {
            s->stats->rows++;
            s->stats->tokens_written += len;
        }
        return st;
    }
    for (int k = 0; k < s->ncols; k++)
        if (sb_append(&s->carry[k], arr[k], len * sizeof(int32_t)))
            return err_oom();
    size_t have = s->carry[0].len / sizeof(int32_t), b = (size_t)s->block, used = 0;
    for (; have - used >= b && !st; used += b) {
        for (int k = 0; k < s->ncols && !st; k++)
            st = mlm_dataset_writer_set_sequence(
                s->w, (size_t)k, (const int32_t *)s->carry[k].data + used, b);
        if (!st && !(st = mlm_dataset_writer_end_row(s->w))) {
            s->stats->rows++;
            s->stats->tokens_written += b;
        }
    }
    if (st)
        return st;
    int drop = s->gbatch && ++s->in_group == s->gbatch; /* a batch's remainder is dropped */
    if (drop)
        s->in_group = 0;
    for (int k = 0; k < s->ncols; k++) {
        strbuf *c = &s->carry[k];
        size_t keep = drop ? 0 : c->len - used * sizeof(int32_t);
        memmove(c->data, c->data + (c->len - keep), keep);
        c->len = keep;
    }
    return MLM_OK;
}

/* ------------------------------------------------------------ the loop */

typedef struct pending {
    strbuf text;     /* texts, each NUL-terminated */
    strbuf starts;   /* size_t offsets into text */
    uint64_t *lines; /* the input line of each text */
    const char **ptrs;
    mlm_encoding **enc;
    size_t n;
} pending;

static mlm_status flush(pending *p, const mlm_tokenizer *tok, const sopts *o, sink *s,
                        const char *path)
{
    if (!p->n)
        return MLM_OK;
    const size_t *starts = (const size_t *)p->starts.data;
    for (size_t i = 0; i < p->n; i++)
        p->ptrs[i] = p->text.data + starts[i];
    mlm_status st = mlm_tokenizer_encode_batch(tok, p->ptrs, NULL, p->n, o->add_special,
                                               o->nthreads, p->enc);
    if (st) {
        /* "text N: ..." → the file's line */
        size_t idx = 0;
        if (sscanf(mlm_last_error(), "text %zu:", &idx) == 1 && idx < p->n)
            return err_prefix(st, "%s:%" PRIu64 ": ", path, p->lines[idx]);
        return err_prefix(st, "%s: ", path);
    }
    for (size_t i = 0; i < p->n && !st; i++)
        st = sink_row(s, p->enc[i]);
    for (size_t i = 0; i < p->n; i++) {
        mlm_encoding_free(p->enc[i]);
        p->enc[i] = NULL;
    }
    p->n = 0;
    p->text.len = p->starts.len = 0;
    return st;
}

/* The file's bytes read, as datasets shows a download or a file scan: a
 * tqdm bar of bytes (unit "B", unit_scale) against the file's size on
 * disk; a gzip'ed file counts its compressed bytes (gzoffset), so that the
 * bar still ends at 100%. */
typedef struct fbar {
    progress_bar bar;
    char desc[256];
} fbar;

static void fbar_open(fbar *f, const char *path)
{
    const char *base = strrchr(path, '/');
    snprintf(f->desc, sizeof f->desc, "Tokenizing %s", base ? base + 1 : path);
    struct stat sb;
    int64_t total = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : 0;
    progress_open_units(&f->bar, stderr, PROGRESS_TERMINAL_WIDTH, progress_ascii_locale(),
                        f->desc, "B", 1, total, progress_now());
}

static void fbar_update(fbar *f, gzFile gz)
{
    z_off_t at = gzoffset(gz);
    if (at >= 0)
        progress_advance(&f->bar, (int64_t)at, progress_now());
}

mlm_status mlm_dataset_tokenize_file(const mlm_tokenizer *tok, const char *path,
                                     const char *options_json, const char *out_path,
                                     mlm_tokenize_file_stats *stats)
{
    if (!tok || !path || !out_path)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_tokenize_file: NULL argument");
    if (stats && stats->sz < sizeof(size_t))
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_tokenize_file: stats->sz is not "
                       "set (sizeof(mlm_tokenize_file_stats))");
    mlm_tokenize_file_stats local = {.sz = sizeof local};
    sopts o;
    cJSON *root;
    mlm_status st = sopts_parse(options_json, &o, &root);
    if (st) {
        cJSON_Delete(root);
        return st;
    }
    if (o.format < 0)
        o.format = mlm_dataset_format_of(path) == MLM_FORMAT_JSONL ? SF_JSONL : SF_TEXT;
    if (o.type_ids < 0)
        o.type_ids = tokenize_pair_type_ids(tok);
    static const char *const names[5] = {"input_ids", "attention_mask", "special_tokens_mask",
                                         "word_ids", "token_type_ids"};
    const mlm_column_type types[5] = {MLM_COLUMN_SEQUENCE, MLM_COLUMN_SEQUENCE,
                                      MLM_COLUMN_SEQUENCE, MLM_COLUMN_SEQUENCE,
                                      MLM_COLUMN_SEQUENCE};
    sink s = {.ncols = o.type_ids ? 5 : 4, .block = o.block, .gbatch = o.gbatch,
              .stats = &local};
    lreader r = {0};
    pending p = {0};
    cJSON *rec = NULL;
    strbuf jt = {0};
    fbar bar = {0};
    errno = 0;
    r.f = gzopen(path, "rb");
    if (!r.f) {
        st = err_set(MLM_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        goto done;
    }
    if (o.progress)
        fbar_open(&bar, path);
    gzbuffer(r.f, LR_BUF);
    r.buf = mem_alloc(LR_BUF);
    p.lines = mem_alloc(o.batch * sizeof *p.lines);
    p.ptrs = mem_alloc(o.batch * sizeof *p.ptrs);
    p.enc = mem_calloc(o.batch, sizeof *p.enc);
    if (!r.buf || !p.lines || !p.ptrs || !p.enc) {
        st = err_oom();
        goto done;
    }
    if ((st = mlm_dataset_writer_open(out_path, names, types, (size_t)s.ncols, &s.w)))
        goto done;
    uint64_t lineno = 0;
    int got;
    while ((got = lr_next(&r, path)) == 1) {
        lineno++;
        const char *t = r.line.data;
        size_t tl = r.line.len;
        if (o.format == SF_JSONL) {
            if (utf8_is_blank(t, tl)) {
                local.skipped++;
                continue;
            }
            cJSON_Delete(rec);
            rec = cJSON_ParseWithLength(t, tl);
            const cJSON *v = cJSON_IsObject(rec) ? record_field(rec, o.column) : NULL;
            jt.len = 0;
            int jr = v ? json_text(v, &jt) : -1;
            if (jr == -2) {
                st = err_oom();
                break;
            }
            if (jr < 0) {
                if (o.skip_bad) {
                    local.skipped++;
                    continue;
                }
                if (!cJSON_IsObject(rec))
                    st = err_set(MLM_ERR_FORMAT, "%s:%" PRIu64 ": not a JSON object", path,
                                 lineno);
                else if (!v)
                    st = err_set(MLM_ERR_FORMAT, "%s:%" PRIu64 ": no column '%s' in the record",
                                 path, lineno, o.column);
                else
                    st = err_set(MLM_ERR_FORMAT, "%s:%" PRIu64 ": column '%s' is not text",
                                 path, lineno, o.column);
                break;
            }
            t = jt.data ? jt.data : "";
            tl = jt.len;
        }
        if (o.line_by_line && utf8_is_blank(t, tl)) {
            local.skipped++;
            continue;
        }
        if (memchr(t, '\0', tl)) {
            st = err_set(MLM_ERR_FORMAT, "%s:%" PRIu64 ": the text holds a NUL byte", path,
                         lineno);
            break;
        }
        size_t start = p.text.len;
        if (sb_append(&p.text, t, tl) || sb_append(&p.text, "", 1) ||
            sb_append(&p.starts, &start, sizeof start)) {
            st = err_oom();
            break;
        }
        p.lines[p.n++] = lineno;
        local.records++;
        if (p.n == o.batch) {
            if ((st = flush(&p, tok, &o, &s, path)))
                break;
            if (o.progress)
                fbar_update(&bar, r.f);
        }
    }
    if (!st && got < 0)
        st = r.st;
    if (!st)
        st = flush(&p, tok, &o, &s, path);
    if (!st && o.progress)
        fbar_update(&bar, r.f);
    local.bytes_in = r.bytes;
    if (!st) {
        mlm_dataset_writer *w = s.w;
        s.w = NULL;
        st = mlm_dataset_writer_close(w);
    }
done:
    progress_close(&bar.bar, progress_now()); /* left on the screen, as tqdm's leave=True */
    mlm_dataset_writer_discard(s.w);
    for (int k = 0; k < 5; k++)
        sb_free(&s.carry[k]);
    for (size_t i = 0; p.enc && i < o.batch; i++)
        mlm_encoding_free(p.enc[i]);
    mem_free(p.enc);
    mem_free(p.ptrs);
    mem_free(p.lines);
    sb_free(&p.text);
    sb_free(&p.starts);
    sb_free(&r.line);
    sb_free(&jt);
    mem_free(r.buf);
    if (r.f)
        gzclose(r.f);
    cJSON_Delete(rec);
    cJSON_Delete(root);
    if (stats) {
        size_t n = stats->sz < sizeof local ? stats->sz : sizeof local;
        memcpy((char *)stats + sizeof(size_t), (char *)&local + sizeof(size_t),
               n - sizeof(size_t));
    }
    return st;
}
