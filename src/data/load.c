/* mlm_dataset_load: options, reading (gzip through zlib), format dispatch. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <strings.h>
#include <stdio.h>
#include <zlib.h>

#include "core/error.h"
#include "data/load.h"

mlm_status loadopts_parse(const char *json, loadopts *o)
{
    memset(o, 0, sizeof *o);
    if (!json || !*json)
        return MLM_OK;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(MLM_ERR_INVALID_ARGUMENT, "load options: not a JSON object");
    }
    mlm_status st = MLM_OK;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        const char *k = it->string ? it->string : "";
        const char *sv = cJSON_IsString(it) ? it->valuestring : NULL;
        if (strcmp(k, "format") == 0) {
            static const struct { const char *n; enum load_format f; } fm[] = {
                {"json", FMT_JSON}, {"jsonl", FMT_JSONL}, {"json_lines", FMT_JSONL},
                {"csv", FMT_CSV},   {"tsv", FMT_TSV},     {"text", FMT_TEXT},
                {"auto", FMT_AUTO}};
            int found = 0;
            for (size_t i = 0; sv && i < sizeof fm / sizeof fm[0]; i++)
                if (strcmp(sv, fm[i].n) == 0) {
                    o->format = fm[i].f;
                    found = 1;
                }
            if (!found)
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: unknown \"format\" "
                             "(json, jsonl, csv, tsv, text)");
        } else if (strcmp(k, "field") == 0) {
            if (!sv || strlen(sv) >= sizeof o->field || !*sv)
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: \"field\" must be a "
                             "non-empty string");
            else
                strcpy(o->field, sv);
        } else if (strcmp(k, "delimiter") == 0 || strcmp(k, "sep") == 0) {
            if (!sv || strlen(sv) != 1 || sv[0] == '"' || sv[0] == '\n' || sv[0] == '\r')
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: \"%s\" must be one byte",
                             k);
            else
                o->delimiter = sv[0];
        } else if (strcmp(k, "quoting") == 0) {
            if (sv && strcmp(sv, "none") == 0)
                o->quoting_none = 1;
            else if (!sv || strcmp(sv, "minimal") != 0)
                st = err_set(MLM_ERR_INVALID_ARGUMENT,
                             "load options: \"quoting\" is \"minimal\" or \"none\"");
        } else if (strcmp(k, "sample_by") == 0) {
            if (sv && strcmp(sv, "line") == 0)
                o->sample_by = SAMPLE_LINE;
            else if (sv && strcmp(sv, "paragraph") == 0)
                o->sample_by = SAMPLE_PARAGRAPH;
            else if (sv && strcmp(sv, "document") == 0)
                o->sample_by = SAMPLE_DOCUMENT;
            else
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: \"sample_by\" is "
                             "\"line\", \"paragraph\" or \"document\"");
        } else if (strcmp(k, "keep_linebreaks") == 0) {
            if (!cJSON_IsBool(it))
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: \"keep_linebreaks\" "
                             "must be true or false");
            else
                o->keep_linebreaks = cJSON_IsTrue(it);
        } else if (strcmp(k, "on_bad_rows") == 0) {
            if (sv && strcmp(sv, "skip") == 0)
                o->skip_bad = 1;
            else if (!sv || strcmp(sv, "error") != 0)
                st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: \"on_bad_rows\" is "
                             "\"error\" or \"skip\"");
        } else {
            st = err_set(MLM_ERR_INVALID_ARGUMENT, "load options: unknown option \"%s\"", k);
        }
    }
    cJSON_Delete(root);
    return st;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

mlm_file_format mlm_dataset_format_of(const char *path)
{
    static const struct {
        const char *ext;
        mlm_file_format f;
    } names[] = {{".jsonl", MLM_FORMAT_JSONL}, {".ndjson", MLM_FORMAT_JSONL},
                 {".json", MLM_FORMAT_JSON},   {".csv", MLM_FORMAT_CSV},
                 {".tsv", MLM_FORMAT_TSV},     {".tab", MLM_FORMAT_TSV},
                 {".txt", MLM_FORMAT_TEXT},    {".raw", MLM_FORMAT_TEXT}};
    if (!path)
        return MLM_FORMAT_UNKNOWN;
    size_t n = strlen(path);
    if (ends_with(path, n, ".gz"))
        n -= 3;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ends_with(path, n, names[i].ext))
            return names[i].f;
    return MLM_FORMAT_UNKNOWN;
}

static enum load_format format_from_name(const char *path)
{
    switch (mlm_dataset_format_of(path)) {
    case MLM_FORMAT_JSONL: return FMT_JSONL;
    case MLM_FORMAT_JSON: return FMT_JSON;
    case MLM_FORMAT_CSV: return FMT_CSV;
    case MLM_FORMAT_TSV: return FMT_TSV;
    case MLM_FORMAT_TEXT:
    case MLM_FORMAT_UNKNOWN: break;
    }
    return FMT_TEXT;
}

/* The whole file, decompressed when it is gzip (zlib reads plain files
 * unchanged). */
static mlm_status read_all(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return err_set(MLM_ERR_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    strbuf b = {0};
    for (;;) {
        if (sb_reserve(&b, 1 << 16)) {
            gzclose(f);
            sb_free(&b);
            return err_oom();
        }
        int n = gzread(f, b.data + b.len, 1 << 16);
        if (n < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            mlm_status st = zerr == Z_MEM_ERROR
                                ? err_oom()
                                : err_set(zerr == Z_ERRNO ? MLM_ERR_IO : MLM_ERR_FORMAT,
                                          "%s: read failed: %s", path,
                                          zerr == Z_ERRNO ? strerror(errno) : msg);
            gzclose(f);
            sb_free(&b);
            return st;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
    }
    gzclose(f);
    *len = b.len;
    *data = sb_detach(&b);
    return *data ? MLM_OK : err_oom();
}

mlm_status mlm_dataset_load(const char *path, const char *options_json, mlm_dataset **out)
{
    if (!out)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_load: out is NULL");
    *out = NULL;
    if (!path)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "mlm_dataset_load: path is NULL");
    loadopts o;
    mlm_status st = loadopts_parse(options_json, &o);
    if (st)
        return st;
    if (o.format == FMT_AUTO)
        o.format = format_from_name(path);
    char *data;
    size_t len;
    if ((st = read_all(path, &data, &len)))
        return st;
    switch (o.format) {
    case FMT_JSONL:
        st = load_jsonl_buffer(data, len, path, &o, out);
        break;
    case FMT_JSON:
        st = load_json_buffer(data, len, path, &o, out);
        break;
    case FMT_CSV:
    case FMT_TSV:
        st = load_csv_buffer(data, len, path, &o, out);
        break;
    default:
        st = load_text_buffer(data, len, path, &o, out);
        break;
    }
    mem_free(data);
    return st;
}
