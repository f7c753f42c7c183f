/* mlm tokenize / mlm detokenize: the tokenizer from the command line, so
 * that anyone can compare our output with Hugging Face's by hand. */
#include <mlm.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "jsonstr.h"
#include "linebatch.h"
#include "outbuf.h"

/* Input bytes per batch: enough to keep a thread busy for a few ms
 * (about 1,000 WikiText lines), small enough that a few batches per
 * thread stay in cache and interactive use answers at once. */
#define BATCH_BYTES (64u << 10)

typedef struct tokenize_opts {
    const mlm_tokenizer *tok;
    int add_special, as_json, jsonl;
} tokenize_opts;

/* Most bytes of an int32 and its comma, and of an offsets pair. */
#define INT_BYTES 12
#define PAIR_BYTES (2 * OB_INT_MAX + 4)

static char *put_lit(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}
#define PUT(o, lit) put_lit((o), (lit), sizeof(lit) - 1)

/* "key":[v0,v1,...] at o (room reserved). */
static char *json_ints(char *o, const char *key, size_t key_len, const int32_t *v, size_t n)
{
    o = put_lit(o, key, key_len);
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        o = ob_at_int(o, v[i]);
    }
    *o++ = ']';
    return o;
}
#define JSON_INTS(o, key, v, n) json_ints((o), (key), sizeof(key) - 1, (v), (n))

/* One encoding as a JSON line, byte for byte what cJSON_PrintUnformatted
 * printed for the object tree this tool used to build: {"ids": [...],
 * "tokens": [...], "offsets": [[s, e], ...] (code points, as transformers'
 * Python), "attention_mask", "special_tokens_mask", "type_ids", "word_ids"
 * (null for special tokens)}. Written directly, with one reservation per
 * part for its worst case: the tree cost 4x the tokenization itself. */
static void write_json(outbuf *b, const mlm_encoding *enc)
{
    size_t n = mlm_encoding_length(enc);
    if (ob_reserve(b, 16 + n * INT_BYTES) != 0)
        return;
    char *o = JSON_INTS(ob_cursor(b), "{\"ids\":", mlm_encoding_ids(enc), n);
    o = PUT(o, ",\"tokens\":[");
    ob_set_end(b, o);
    for (size_t i = 0; i < n; i++) { /* each reserves its own worst case */
        if (i)
            ob_putc(b, ',');
        /* with its length: T5 keeps an unknown U+0000 as a piece */
        ob_json_string(b, mlm_encoding_token(enc, i), mlm_encoding_token_length(enc, i));
    }
    if (ob_reserve(b, 128 + n * (PAIR_BYTES + 4 * INT_BYTES + 5)) != 0)
        return;
    o = PUT(ob_cursor(b), "],\"offsets\":[");
    for (size_t i = 0; i < n; i++) {
        size_t s = 0, e = 0;
        mlm_encoding_offsets(enc, i, MLM_OFFSETS_CODEPOINTS, &s, &e);
        if (i)
            *o++ = ',';
        *o++ = '[';
        o = ob_at_uint(o, s);
        *o++ = ',';
        o = ob_at_uint(o, e);
        *o++ = ']';
    }
    *o++ = ']';
    o = JSON_INTS(o, ",\"attention_mask\":", mlm_encoding_attention_mask(enc), n);
    o = JSON_INTS(o, ",\"special_tokens_mask\":", mlm_encoding_special_tokens_mask(enc), n);
    o = JSON_INTS(o, ",\"type_ids\":", mlm_encoding_type_ids(enc), n);
    o = PUT(o, ",\"word_ids\":[");
    const int32_t *w = mlm_encoding_word_ids(enc);
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        o = w[i] < 0 ? PUT(o, "null") : ob_at_int(o, w[i]);
    }
    o = PUT(o, "]}\n");
    ob_set_end(b, o);
}

/* The ids on a line, then the tokens on the next, space-separated. */
static void write_plain(outbuf *b, const mlm_encoding *enc)
{
    size_t n = mlm_encoding_length(enc);
    if (ob_reserve(b, 1 + n * INT_BYTES) != 0)
        return;
    const int32_t *ids = mlm_encoding_ids(enc);
    char *o = ob_cursor(b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ' ';
        o = ob_at_int(o, ids[i]);
    }
    *o++ = '\n';
    ob_set_end(b, o);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ob_putc(b, ' ');
        ob_put(b, mlm_encoding_token(enc, i), mlm_encoding_token_length(enc, i));
    }
    ob_putc(b, '\n');
}

/* With --input-jsonl a line is a JSON string or {"text": ..., "text_pair": ...},
 * so texts may hold newlines, and U+0000 ("\u0000"): cJSON checks the line,
 * jsonstr decodes the strings with their length. *text and *pair are
 * malloc'ed (*pair NULL when there is none). Returns 0, or -1 with a message
 * in err. */
static int parse_jsonl_input(const char *line, size_t len, long lineno, char **text,
                             size_t *text_len, char **pair, size_t *pair_len, char *err,
                             size_t errcap)
{
    cJSON *doc = cJSON_ParseWithLength(line, len);
    *text = *pair = NULL;
    *pair_len = 0;
    if (!doc) {
        snprintf(err, errcap, "stdin line %ld: not valid JSON", lineno);
        return -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "text_pair");
    int is_string = cJSON_IsString(doc);
    int ok = is_string || (cJSON_IsString(t) && (!p || cJSON_IsNull(p) || cJSON_IsString(p)));
    int has_pair = !is_string && cJSON_IsString(p);
    cJSON_Delete(doc);
    if (!ok) {
        snprintf(err, errcap, "stdin line %ld: expected a string or {\"text\": string, "
                              "\"text_pair\": string}", lineno);
        return -1;
    }
    int rc = is_string ? jsonstr_value(line, text, text_len)
                       : jsonstr_member(line, "text", text, text_len) == 1 ? 0 : -1;
    if (!rc && has_pair && jsonstr_member(line, "text_pair", pair, pair_len) != 1)
        rc = -1;
    if (rc) {
        free(*text);
        *text = NULL;
        snprintf(err, errcap, "stdin line %ld: out of memory", lineno);
    }
    return rc;
}

/* One line: parsed (--input-jsonl), encoded and written to out. */
static int tokenize_line(const tokenize_opts *o, const char *line, size_t len, long lineno,
                         outbuf *out, char *err, size_t errcap)
{
    char *jtext = NULL, *jpair = NULL;
    const char *text = line;
    size_t text_len = len, pair_len = 0;
    if (o->jsonl && parse_jsonl_input(line, len, lineno, &jtext, &text_len, &jpair, &pair_len,
                                      err, errcap) != 0)
        return -1;
    if (o->jsonl)
        text = jtext;
    mlm_encoding *enc = NULL;
    mlm_status st =
        mlm_tokenizer_encode(o->tok, text, text_len, jpair, pair_len, o->add_special, &enc);
    free(jtext);
    free(jpair);
    if (st != MLM_OK) {
        snprintf(err, errcap, "stdin line %ld: %s: %s", lineno, mlm_status_string(st),
                 mlm_last_error());
        return -1;
    }
    if (o->as_json)
        write_json(out, enc);
    else
        write_plain(out, enc);
    mlm_encoding_free(enc);
    return 0;
}

static int tokenize_batch(void *ctx, const line_batch *b, outbuf *out, char *err, size_t errcap)
{
    for (size_t i = 0; i < b->n; i++)
        if (tokenize_line(ctx, b->line[i], b->len[i], b->first_line + (long)i, out, err,
                          errcap) != 0)
            return -1;
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    enum { TOK, NOSPECIAL, MAXLEN, JSON, JSONL, THREADS, NOPTS };
    cli_option opts[NOPTS] = {
        [TOK] = {"tokenizer", ARG_VALUE, NULL},   [NOSPECIAL] = {"no-special", ARG_FLAG, NULL},
        [MAXLEN] = {"max-length", ARG_VALUE, NULL}, [JSON] = {"json", ARG_FLAG, NULL},
        [JSONL] = {"input-jsonl", ARG_FLAG, NULL}, [THREADS] = {"threads", ARG_VALUE, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    long max_length = 0;
    int threads;
    if (cli_parse(argc, argv, 2, opts, NOPTS, pos, &npos) != 0 || !opts[TOK].value ||
        (opts[MAXLEN].value && cli_parse_long(opts[MAXLEN].value, 1, LONG_MAX, &max_length) != 0) ||
        cli_parse_threads(opts[THREADS].value, &threads) != 0)
        return cli_usage_error("tokenize");
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(opts[TOK].value, &tok);
    if (st != MLM_OK)
        return cli_fail(opts[TOK].value, st);
    if (max_length > 0 &&
        (st = mlm_tokenizer_set_truncation(tok, (int32_t)max_length, 0,
                                           MLM_TRUNCATE_LONGEST_FIRST, MLM_SIDE_RIGHT)) != MLM_OK) {
        mlm_tokenizer_free(tok);
        return cli_fail("--max-length", st);
    }
    tokenize_opts o = {tok, !opts[NOSPECIAL].value, opts[JSON].value != NULL,
                       opts[JSONL].value != NULL};
    fflush(stdout); /* the batches are written to the descriptor */
    int rc = line_batches_run(STDIN_FILENO, STDOUT_FILENO, threads, BATCH_BYTES,
                              tokenize_batch, &o) == 0
                 ? 0
                 : EXIT_RUNTIME;
    mlm_tokenizer_free(tok);
    return rc;
}

/* A line of ids: "101 2023 102", "101,2023,102" or a JSON array. */
static int parse_ids(const char *line, int32_t **ids, size_t *n)
{
    size_t cap = 16, count = 0;
    int32_t *v = malloc(cap * sizeof *v);
    const char *p = line;
    while (v && *p) {
        while (*p == ' ' || *p == ',' || *p == '[' || *p == ']' || *p == '\t')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < INT32_MIN || x > INT32_MAX) {
            free(v);
            return -1;
        }
        if (count == cap) {
            int32_t *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
            cap *= 2;
        }
        v[count++] = (int32_t)x;
        p = end;
    }
    if (!v)
        return -1;
    *ids = v;
    *n = count;
    return 0;
}

int cmd_detokenize(int argc, char **argv)
{
    cli_option opts[] = {{"tokenizer", ARG_VALUE, NULL}, {"skip-special", ARG_FLAG, NULL},
                         {"no-cleanup", ARG_FLAG, NULL}, {"json", ARG_FLAG, NULL}};
    size_t nopts = sizeof opts / sizeof opts[0];
    const char *pos[1];
    size_t npos = 0;
    if (cli_parse(argc, argv, 2, opts, nopts, pos, &npos) != 0 || !opts[0].value)
        return cli_usage_error("detokenize");
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(opts[0].value, &tok);
    if (st != MLM_OK)
        return cli_fail(opts[0].value, st);
    int skip = opts[1].value != NULL, cleanup = opts[2].value ? 0 : -1;
    int rc = 0;
    char *line = NULL, *text = NULL;
    size_t cap = 0, text_cap = 0;
    long lineno = 0;
    while (rc == 0 && cli_read_line(stdin, &line, &cap) >= 0) {
        lineno++;
        int32_t *ids = NULL;
        size_t n = 0, needed = 0;
        if (parse_ids(line, &ids, &n) != 0) {
            fprintf(stderr, "mlm: stdin line %ld: expected token ids\n", lineno);
            rc = EXIT_RUNTIME;
            break;
        }
        st = mlm_tokenizer_decode(tok, ids, n, skip, cleanup, text, text_cap, &needed);
        if (st == MLM_OK && needed > text_cap) {
            char *nt = realloc(text, needed);
            if (nt) {
                text = nt;
                text_cap = needed;
                st = mlm_tokenizer_decode(tok, ids, n, skip, cleanup, text, text_cap, &needed);
            } else {
                st = MLM_ERR_OUT_OF_MEMORY;
            }
        }
        free(ids);
        if (st != MLM_OK) {
            rc = cli_fail("decode", st);
        } else {
            /* the text may hold U+0000: its length is needed - 1 */
            outbuf ob = {0};
            if (opts[3].value)
                ob_json_string(&ob, text, needed - 1);
            else
                ob_put(&ob, text, needed - 1);
            ob_putc(&ob, '\n');
            if (ob.failed || fwrite(ob.p, 1, ob.len, stdout) != ob.len)
                rc = cli_fail("detokenize", MLM_ERR_OUT_OF_MEMORY);
            ob_free(&ob);
        }
    }
    free(line);
    free(text);
    mlm_tokenizer_free(tok);
    return rc;
}
