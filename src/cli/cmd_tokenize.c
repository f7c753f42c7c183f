/* mlm tokenize / mlm detokenize: the tokenizer from the command line, so
 * that anyone can compare our output with Hugging Face's by hand. */
#include <mlm.h>

#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "jsonstr.h"

static const char tokenize_usage[] =
    "usage: mlm tokenize --tokenizer PATH [--no-special] [--max-length N] [--json] "
    "[--input-jsonl]";
static const char detokenize_usage[] =
    "usage: mlm detokenize --tokenizer PATH [--skip-special] [--no-cleanup] [--json]";

static int parse_positive(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static cJSON *int_array(const int32_t *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* A token as a JSON string: cJSON's strings end at U+0000, so a token that
 * holds it goes in as raw JSON text. */
static cJSON *token_json(const mlm_encoding *enc, size_t i)
{
    const char *t = mlm_encoding_token(enc, i);
    size_t n = mlm_encoding_token_length(enc, i);
    if (strlen(t) == n)
        return cJSON_CreateString(t);
    char *q = jsonstr_quote(t, n);
    cJSON *raw = q ? cJSON_CreateRaw(q) : NULL;
    free(q);
    return raw;
}

/* One encoding as the JSON object described in docs/cli.md. */
static cJSON *encoding_json(const mlm_encoding *enc)
{
    size_t n = mlm_encoding_length(enc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ids", int_array(mlm_encoding_ids(enc), n));
    cJSON *tokens = cJSON_AddArrayToObject(o, "tokens");
    cJSON *offsets = cJSON_AddArrayToObject(o, "offsets");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(tokens, token_json(enc, i));
        size_t s = 0, e = 0;
        mlm_encoding_offsets(enc, i, MLM_OFFSETS_CODEPOINTS, &s, &e);
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)s));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)e));
        cJSON_AddItemToArray(offsets, pair);
    }
    cJSON_AddItemToObject(o, "attention_mask", int_array(mlm_encoding_attention_mask(enc), n));
    cJSON_AddItemToObject(o, "special_tokens_mask",
                          int_array(mlm_encoding_special_tokens_mask(enc), n));
    cJSON_AddItemToObject(o, "type_ids", int_array(mlm_encoding_type_ids(enc), n));
    cJSON *words = cJSON_AddArrayToObject(o, "word_ids");
    const int32_t *w = mlm_encoding_word_ids(enc);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(words, w[i] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(w[i]));
    return o;
}

static void print_plain(const mlm_encoding *enc)
{
    size_t n = mlm_encoding_length(enc);
    const int32_t *ids = mlm_encoding_ids(enc);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        fputs(i ? " " : "", stdout);
        fwrite(mlm_encoding_token(enc, i), 1, mlm_encoding_token_length(enc, i), stdout);
    }
    printf("\n");
}

/* With --input-jsonl a line is a JSON string or {"text": ..., "text_pair": ...},
 * so texts may hold newlines, and U+0000 ("\u0000"): cJSON checks the line,
 * jsonstr decodes the strings with their length. *text and *pair are
 * malloc'ed (*pair NULL when there is none). Returns 0, or -1 with a message
 * printed. */
static int parse_jsonl_input(const char *line, long lineno, char **text, size_t *text_len,
                             char **pair, size_t *pair_len)
{
    cJSON *doc = cJSON_Parse(line);
    *text = *pair = NULL;
    *pair_len = 0;
    if (!doc) {
        fprintf(stderr, "mlm: stdin line %ld: not valid JSON\n", lineno);
        return -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "text_pair");
    int is_string = cJSON_IsString(doc);
    int ok = is_string || (cJSON_IsString(t) && (!p || cJSON_IsNull(p) || cJSON_IsString(p)));
    int has_pair = !is_string && cJSON_IsString(p);
    cJSON_Delete(doc);
    if (!ok) {
        fprintf(stderr, "mlm: stdin line %ld: expected a string or {\"text\": string, "
                        "\"text_pair\": string}\n", lineno);
        return -1;
    }
    int rc = is_string ? jsonstr_value(line, text, text_len)
                       : jsonstr_member(line, "text", text, text_len) == 1 ? 0 : -1;
    if (!rc && has_pair && jsonstr_member(line, "text_pair", pair, pair_len) != 1)
        rc = -1;
    if (rc) {
        free(*text);
        *text = NULL;
        fprintf(stderr, "mlm: stdin line %ld: out of memory\n", lineno);
    }
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    cli_option opts[] = {{"tokenizer", ARG_VALUE, NULL}, {"no-special", ARG_FLAG, NULL},
                         {"max-length", ARG_VALUE, NULL}, {"json", ARG_FLAG, NULL},
                         {"input-jsonl", ARG_FLAG, NULL}};
    size_t nopts = sizeof opts / sizeof opts[0];
    const char *pos[1];
    size_t npos = 0;
    long max_length = 0;
    if (cli_parse(argc, argv, 2, opts, nopts, pos, &npos) != 0 || !opts[0].value ||
        (opts[2].value && parse_positive(opts[2].value, &max_length) != 0)) {
        fprintf(stderr, "%s\n", tokenize_usage);
        return EXIT_USAGE;
    }
    int add_special = !opts[1].value, as_json = opts[3].value != NULL;
    int jsonl = opts[4].value != NULL;
    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(opts[0].value, &tok);
    if (st != MLM_OK)
        return cli_fail(opts[0].value, st);
    if (max_length > 0 &&
        (st = mlm_tokenizer_set_truncation(tok, (int32_t)max_length, 0,
                                           MLM_TRUNCATE_LONGEST_FIRST, MLM_SIDE_RIGHT)) != MLM_OK) {
        mlm_tokenizer_free(tok);
        return cli_fail("--max-length", st);
    }
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    long len, lineno = 0;
    while (rc == 0 && (len = cli_read_line(stdin, &line, &cap)) >= 0) {
        lineno++;
        char *jtext = NULL, *pair = NULL;
        const char *text = line;
        size_t text_len = (size_t)len, pair_len = 0;
        if (jsonl) {
            if (parse_jsonl_input(line, lineno, &jtext, &text_len, &pair, &pair_len) != 0) {
                rc = EXIT_RUNTIME;
                break;
            }
            text = jtext;
        }
        mlm_encoding *enc = NULL;
        st = mlm_tokenizer_encode(tok, text, text_len, pair, pair_len, add_special, &enc);
        if (st != MLM_OK) {
            char where[64];
            snprintf(where, sizeof where, "stdin line %ld", lineno);
            rc = cli_fail(where, st);
        } else if (as_json) {
            cJSON *o = encoding_json(enc);
            char *s = o ? cJSON_PrintUnformatted(o) : NULL;
            if (s)
                printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        } else {
            print_plain(enc);
        }
        mlm_encoding_free(enc);
        free(jtext);
        free(pair);
    }
    free(line);
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
    if (cli_parse(argc, argv, 2, opts, nopts, pos, &npos) != 0 || !opts[0].value) {
        fprintf(stderr, "%s\n", detokenize_usage);
        return EXIT_USAGE;
    }
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
        } else if (opts[3].value) {
            /* The text may hold U+0000: its length is needed - 1. */
            char *out = jsonstr_quote(text, needed - 1);
            if (out)
                printf("%s\n", out);
            free(out);
        } else {
            fwrite(text, 1, needed - 1, stdout);
            printf("\n");
        }
    }
    free(line);
    free(text);
    mlm_tokenizer_free(tok);
    return rc;
}
