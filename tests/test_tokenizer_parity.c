/* Tokenizer parity with Hugging Face `tokenizers` (suite tokenizer_parity).
 *
 * For every golden file in tests/data/tokenizer_parity/goldens/ (written by
 * tests/gen_tokenizer_goldens.js with the Rust library's Node binding), load
 * the tokenizer the way its header says (a tokenizer.json, or a directory of
 * legacy files assembled from tests/data/tokenizers), encode every text with and without
 * special tokens, and compare everything exactly: ids, tokens, offsets in
 * code points and in bytes, word ids, sequence ids, type ids, attention and
 * special-tokens masks, overflow count, and the decodes of the ids with and
 * without skip_special_tokens (Rust's decode: no transformers clean-up).
 *
 * The tokenizer files are fixtures in tests/data (SOURCES.md there).
 * The first mismatches of each tokenizer are printed with their text.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* symlink() */
#endif
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <mlm/tokenizer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REPORTS 12

static const char *const GOLDENS[] = {
    "bert-base-uncased",  "roberta-base",         "t5-small",
    "tiny-random-bert",   "tiny-random-t5",       "mbert-cased-vocab",
    "mbert-vocab-defaults", "bert-base-uncased-vocab", "roberta-base-legacy",
};
#define N_GOLDENS (sizeof GOLDENS / sizeof GOLDENS[0])

/* ------------------------------------------------------------ helpers */

typedef struct {
    char *data;
    size_t len;
} bytes;

static int get_bytes(const cJSON *obj, const char *field, bytes *b)
{
    return test_json_bytes(obj, field, &b->data, &b->len);
}

/* Byte offset of code point `cp` in UTF-8 text (clamped to its end). */
static size_t cp_to_byte(const char *s, size_t len, size_t cp)
{
    size_t i = 0, n = 0;
    while (i < len && n < cp) {
        unsigned char c = (unsigned char)s[i];
        i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        n++;
    }
    return i < len ? i : len;
}

typedef struct {
    const char *name;
    int reported;
    int mismatches;
    int checked;
} ctx;

static void report(ctx *c, int idx, const bytes *text, const bytes *pair, const char *what,
                   const char *detail)
{
    c->mismatches++;
    if (c->reported >= MAX_REPORTS)
        return;
    c->reported++;
    fprintf(stderr, "%s #%d text=\"%.*s\"%s%.*s%s: %s %s\n", c->name, idx,
            (int)(text->len > 120 ? 120 : text->len), text->data, pair ? " pair=\"" : "",
            pair ? (int)(pair->len > 80 ? 80 : pair->len) : 0, pair ? pair->data : "",
            pair ? "\"" : "", what, detail);
}

/* Compare an int32 array with a JSON array of numbers. */
static int cmp_ints(const int32_t *got, size_t n, const cJSON *want, char *detail, size_t cap)
{
    if (!cJSON_IsArray(want) || (size_t)cJSON_GetArraySize(want) != n) {
        snprintf(detail, cap, "length %zu, expected %d", n,
                 cJSON_IsArray(want) ? cJSON_GetArraySize(want) : -1);
        return 0;
    }
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, want)
    {
        int32_t w = (int32_t)v->valuedouble;
        if (!got || got[i] != w) {
            snprintf(detail, cap, "at %zu: %d, expected %d", i, got ? got[i] : -999, w);
            return 0;
        }
        i++;
    }
    return 1;
}

static void check_encoding(ctx *c, const mlm_tokenizer *tok, int idx, const bytes *text,
                           const bytes *pair, int add_special, const cJSON *want)
{
    const char *mode = add_special ? "[special]" : "[plain]";
    char what[96], detail[512];
    mlm_encoding *enc = NULL;
    mlm_status st = mlm_tokenizer_encode(tok, text->data, text->len, pair ? pair->data : NULL,
                                         pair ? pair->len : 0, add_special, &enc);
    c->checked++;
    if (cJSON_GetObjectItemCaseSensitive(want, "error")) {
        if (st == MLM_OK) {
            snprintf(what, sizeof what, "%s encode", mode);
            report(c, idx, text, pair, what, "succeeded; HF fails");
        }
        mlm_encoding_free(enc);
        return;
    }
    if (st != MLM_OK) {
        snprintf(what, sizeof what, "%s encode", mode);
        snprintf(detail, sizeof detail, "failed: %s", mlm_last_error());
        report(c, idx, text, pair, what, detail);
        return;
    }
    size_t n = mlm_encoding_length(enc);
    static const struct {
        const char *field;
        const int32_t *(*get)(const mlm_encoding *);
    } arrays[] = {
        {"ids", mlm_encoding_ids},
        {"type_ids", mlm_encoding_type_ids},
        {"attention_mask", mlm_encoding_attention_mask},
        {"special_tokens_mask", mlm_encoding_special_tokens_mask},
        {"word_ids", mlm_encoding_word_ids},
        {"sequence_ids", mlm_encoding_sequence_ids},
    };
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        if (!cmp_ints(arrays[a].get(enc), n, cJSON_GetObjectItemCaseSensitive(want, arrays[a].field),
                      detail, sizeof detail)) {
            snprintf(what, sizeof what, "%s %s", mode, arrays[a].field);
            report(c, idx, text, pair, what, detail);
            goto done; /* one report per encoding: later fields follow from it */
        }
    }

    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(want, "tokens");
    const cJSON *tokens_hex = cJSON_GetObjectItemCaseSensitive(want, "tokens_hex");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(want, "offsets");
    const cJSON *seq_ids = cJSON_GetObjectItemCaseSensitive(want, "sequence_ids");
    for (size_t i = 0; i < n; i++) {
        const cJSON *wt = cJSON_GetArrayItem(tokens, (int)i);
        const char *gt = mlm_encoding_token(enc, i);
        size_t glen = mlm_encoding_token_length(enc, i);
        bytes wb = {0};
        if (tokens_hex) { /* a token holds U+0000: compare bytes */
            cJSON *tmp = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(tmp, "t_hex", cJSON_GetArrayItem(tokens_hex, (int)i));
            get_bytes(tmp, "t", &wb);
            cJSON_Delete(tmp);
        } else if (cJSON_IsString(wt)) {
            wb.len = strlen(wt->valuestring);
            wb.data = strdup(wt->valuestring);
        }
        int same = gt && wb.data && glen == wb.len && memcmp(gt, wb.data, glen) == 0;
        free(wb.data);
        if (!same) {
            snprintf(what, sizeof what, "%s tokens", mode);
            snprintf(detail, sizeof detail, "at %zu: \"%s\" (%zu bytes), expected \"%s\"", i,
                     gt ? gt : "(null)", glen, cJSON_IsString(wt) ? wt->valuestring : "?");
            report(c, idx, text, pair, what, detail);
            goto done;
        }
        const cJSON *wo = cJSON_GetArrayItem(offsets, (int)i);
        size_t ws = (size_t)cJSON_GetArrayItem(wo, 0)->valuedouble;
        size_t we = (size_t)cJSON_GetArrayItem(wo, 1)->valuedouble;
        size_t s = 0, e = 0;
        if (mlm_encoding_offsets(enc, i, MLM_OFFSETS_CODEPOINTS, &s, &e) != MLM_OK || s != ws ||
            e != we) {
            snprintf(what, sizeof what, "%s offsets (code points)", mode);
            snprintf(detail, sizeof detail, "token %zu \"%s\": [%zu, %zu), expected [%zu, %zu)", i,
                     gt, s, e, ws, we);
            report(c, idx, text, pair, what, detail);
            goto done;
        }
        /* Rust's byte offsets lie on character boundaries, so they are the
         * code-point offsets mapped through the UTF-8 of the input. */
        int sid = (int)cJSON_GetArrayItem(seq_ids, (int)i)->valuedouble;
        const bytes *src = sid == 1 && pair ? pair : text;
        size_t wbs = ws == 0 && we == 0 ? 0 : cp_to_byte(src->data, src->len, ws);
        size_t wbe = ws == 0 && we == 0 ? 0 : cp_to_byte(src->data, src->len, we);
        if (mlm_encoding_offsets(enc, i, MLM_OFFSETS_BYTES, &s, &e) != MLM_OK || s != wbs ||
            e != wbe) {
            snprintf(what, sizeof what, "%s offsets (bytes)", mode);
            snprintf(detail, sizeof detail, "token %zu \"%s\": [%zu, %zu), expected [%zu, %zu)", i,
                     gt, s, e, wbs, wbe);
            report(c, idx, text, pair, what, detail);
            goto done;
        }
    }

    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(want, "overflowing");
    if (cJSON_IsNumber(ov) && mlm_encoding_n_overflowing(enc) != (size_t)ov->valuedouble) {
        snprintf(what, sizeof what, "%s overflowing", mode);
        snprintf(detail, sizeof detail, "%zu, expected %d", mlm_encoding_n_overflowing(enc),
                 (int)ov->valuedouble);
        report(c, idx, text, pair, what, detail);
        goto done;
    }

    for (int skip = 0; skip <= 1; skip++) {
        bytes wd = {0};
        if (!get_bytes(want, skip ? "decode_skip" : "decode", &wd))
            continue;
        size_t needed = 0;
        const int32_t *ids = mlm_encoding_ids(enc);
        st = mlm_tokenizer_decode(tok, ids, n, skip, 0, NULL, 0, &needed);
        char *buf = st == MLM_OK && needed ? malloc(needed) : NULL;
        if (buf)
            st = mlm_tokenizer_decode(tok, ids, n, skip, 0, buf, needed, &needed);
        snprintf(what, sizeof what, "%s decode(skip_special_tokens=%s)", mode,
                 skip ? "true" : "false");
        if (st != MLM_OK || !buf) {
            snprintf(detail, sizeof detail, "failed: %s", mlm_last_error());
            report(c, idx, text, pair, what, detail);
        } else if (needed != wd.len + 1 || memcmp(buf, wd.data, wd.len) != 0) {
            snprintf(detail, sizeof detail, "\"%.*s\", expected \"%.*s\"",
                     (int)(needed > 200 ? 200 : needed - 1), buf,
                     (int)(wd.len > 200 ? 200 : wd.len), wd.data);
            report(c, idx, text, pair, what, detail);
        }
        free(buf);
        free(wd.data);
    }
done:
    mlm_encoding_free(enc);
}

/* Assemble the directory a header's load.dir describes: fixtures are
 * symlinked in, an inline object is written as that file. */
static char *make_dir(const cJSON *dir)
{
    char *tmp = test_tmpdir();
    if (!tmp)
        return NULL;
    const cJSON *f;
    cJSON_ArrayForEach(f, dir)
    {
        char dst[4096], rel[1024], buf[4096];
        snprintf(dst, sizeof dst, "%s/%s", tmp, f->string);
        if (cJSON_IsString(f)) {
            snprintf(rel, sizeof rel, "%s", f->valuestring);
            const char *src = test_data_path(rel, buf, sizeof buf);
            if (symlink(src, dst) != 0)
                goto fail;
        } else {
            char *js = cJSON_PrintUnformatted(f);
            FILE *fp = js ? fopen(dst, "wb") : NULL;
            int ok = fp && fputs(js, fp) >= 0;
            if (fp && fclose(fp) != 0)
                ok = 0;
            cJSON_free(js);
            if (!ok)
                goto fail;
        }
    }
    return tmp;
fail:
    test_rmtree(tmp);
    free(tmp);
    return NULL;
}

/* ------------------------------------------------------------ the test */

/* Compare tok with every record of a golden file (header line, then one
 * line per text); prints the first mismatches and a summary line. Returns
 * the number of mismatching encodings. Shared with the tokenizer_trainer
 * suite (declared in suites.h). */
int tokenizer_golden_check(const mlm_tokenizer *tok, const char *path, const char *name)
{
    size_t len = 0;
    char *golden = test_read_file(path, &len);
    ck_assert_msg(golden != NULL, "cannot read %s", path);
    char *line = golden, *nl = strchr(line, '\n');
    ck_assert_ptr_nonnull(nl);
    cJSON *header = cJSON_ParseWithLength(line, (size_t)(nl - line));
    ck_assert_msg(header != NULL, "%s: bad header", path);
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(header, "vocab_size_with_added");
    if (cJSON_IsNumber(vs))
        ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), (int32_t)vs->valuedouble);

    ctx c = {name, 0, 0, 0};
    int records = 0;
    for (line = nl + 1; line < golden + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(golden + len - line));
        if (!nl)
            nl = golden + len;
        if (nl == line)
            continue;
        cJSON *rec = cJSON_ParseWithLength(line, (size_t)(nl - line));
        ck_assert_msg(rec != NULL, "%s: bad golden line %d", path, records + 2);
        int idx = (int)cJSON_GetObjectItemCaseSensitive(rec, "i")->valuedouble;
        bytes text = {0}, pair = {0};
        ck_assert(get_bytes(rec, "text", &text));
        int has_pair = get_bytes(rec, "pair", &pair);
        check_encoding(&c, tok, idx, &text, has_pair ? &pair : NULL, 1,
                       cJSON_GetObjectItemCaseSensitive(rec, "with_special"));
        check_encoding(&c, tok, idx, &text, has_pair ? &pair : NULL, 0,
                       cJSON_GetObjectItemCaseSensitive(rec, "without_special"));
        free(text.data);
        free(pair.data);
        cJSON_Delete(rec);
        records++;
    }
    fprintf(stderr, "%s: %d texts, %d encodings checked, %d mismatching\n", name, records,
            c.checked, c.mismatches);
    cJSON_Delete(header);
    free(golden);
    return c.mismatches;
}

START_TEST(tokenizer_matches_hf)
{
    const char *name = GOLDENS[_i];
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/tokenizer_parity/goldens/%s.jsonl", test_root(), name);
    size_t len = 0;
    char *golden = test_read_file(path, &len);
    ck_assert_msg(golden != NULL, "cannot read %s", path);

    char *nl = strchr(golden, '\n');
    ck_assert_ptr_nonnull(nl);
    cJSON *header = cJSON_ParseWithLength(golden, (size_t)(nl - golden));
    ck_assert_msg(header != NULL, "%s: bad header", path);
    const cJSON *load = cJSON_GetObjectItemCaseSensitive(header, "load");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(load, "file");
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(load, "dir");

    char *tmpdir = NULL, lbuf[4096];
    const char *load_path = NULL;
    if (cJSON_IsString(file)) {
        load_path = test_data_path(file->valuestring, lbuf, sizeof lbuf);
    } else if (cJSON_IsObject(dir)) {
        tmpdir = make_dir(dir);
        load_path = tmpdir;
    }
    ck_assert_msg(load_path != NULL, "%s: the header names no load.file or load.dir", name);

    mlm_tokenizer *tok = NULL;
    mlm_status st = mlm_tokenizer_load(load_path, &tok);
    ck_assert_msg(st == MLM_OK, "%s: mlm_tokenizer_load(%s): %s", name, load_path,
                  mlm_last_error());
    int mismatches = tokenizer_golden_check(tok, path, name);
    mlm_tokenizer_free(tok);
    if (tmpdir) {
        test_rmtree(tmpdir);
        free(tmpdir);
    }
    cJSON_Delete(header);
    free(golden);
    ck_assert_msg(mismatches == 0, "%s: %d encodings differ from HF (first ones above)", name,
                  mismatches);
}
END_TEST

Suite *tokenizer_parity_suite(void)
{
    Suite *s = suite_create("tokenizer_parity");
    TCase *tc = tcase_create("goldens");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, tokenizer_matches_hf, 0, (int)N_GOLDENS);
    suite_add_tcase(s, tc);
    return s;
}
