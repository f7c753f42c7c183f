/* Every Unicode scalar value through every normalizer and pre-tokenizer kind
 * (suite unicode_sweep), against Hugging Face `tokenizers`.
 *
 * tests/data/unicode_sweep/sweep.jsonl.gz is written by
 * tests/gen_unicode_sweep_goldens.js with the Rust library's Node binding
 * (its header comment gives the format). Chunk k is the scalar values
 * k*256 .. k*256+255 without the surrogates, joined by a separator ("\n"
 * for normalizers, "x" for pre-tokenizers: the script says why); each component
 * of the header is built here from the same tokenizer.json object and run
 * on every chunk:
 *   a normalizer's output must equal the record's "out", and each of its
 *   chars must be aligned with the original span the record's "a" gives;
 *   a chunk with no record must come out as the input with each separator
 *   replaced by the component's separator_out (HF changed nothing else);
 *   a pre-tokenizer's pieces must have the record's offsets (code points of
 *   the chunk) and texts.
 * A mismatch names the component, the chunk and the code point where the
 * output first differs; all components run before the test fails.
 *
 * The components are reached through the internal normalizer/pretokenizer
 * API (normalizer_apply on one piece, pretokenizer_apply on the whole
 * text), the same calls an encode makes.
 */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "text/normalizer.h"
#include "text/pretokenizer.h"
#include "text/unicode.h"

#define SWEEP_FILE "unicode_sweep/sweep.jsonl.gz"

/* Check's ck_assert writes a mark to its pipe each time it passes; the
 * sweep checks millions of things, so its loops test first and fail
 * through ck_abort_msg only when they must. */
#define REQUIRE(cond, ...)                                                                      \
    do {                                                                                        \
        if (!(cond))                                                                            \
            ck_abort_msg(__VA_ARGS__);                                                          \
    } while (0)
#define MAX_REPORTS 8
#define MAX_CHUNK 256

/* ------------------------------------------------------------ gzip lines */

typedef struct {
    gzFile f;
    char *buf;
    size_t cap;
} gz_lines;

/* The next line without its '\n' (owned by g), NULL at the end. */
static char *gz_next(gz_lines *g, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (g->cap - n < 2) {
            g->cap = g->cap ? g->cap * 2 : 1 << 16;
            g->buf = realloc(g->buf, g->cap);
            REQUIRE(g->buf != NULL, "out of memory");
        }
        if (!gzgets(g->f, g->buf + n, (int)(g->cap - n)))
            break;
        n += strlen(g->buf + n);
        if (n && g->buf[n - 1] == '\n') {
            g->buf[--n] = '\0';
            *len = n;
            return g->buf;
        }
    }
    *len = n;
    return n ? g->buf : NULL;
}

/* ------------------------------------------------------------ chunks */

typedef struct {
    char text[MAX_CHUNK * 8 + 8]; /* 4 bytes a code point and a separator at most */
    size_t len;
    int32_t cp[MAX_CHUNK * 2];      /* the chunk's characters, separators included */
    uint32_t start[MAX_CHUNK * 2 + 1]; /* byte offset of each character (+ the end) */
    size_t nchars;
    size_t ncps; /* swept code points (without separators) */
} chunk;

static void add_char(chunk *c, int32_t cp)
{
    c->start[c->nchars] = (uint32_t)c->len;
    c->cp[c->nchars++] = cp;
    c->len += utf8_put(cp, c->text + c->len);
}

/* Chunk k with separator sep (one code point); 0 when it is empty. */
static int make_chunk(chunk *c, uint32_t k, uint32_t size, int32_t sep)
{
    c->len = c->nchars = c->ncps = 0;
    for (uint32_t cp = k * size; cp < (k + 1) * size; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        if (c->ncps++)
            add_char(c, sep);
        add_char(c, (int32_t)cp);
    }
    c->start[c->nchars] = (uint32_t)c->len;
    c->text[c->len] = '\0';
    return c->ncps > 0;
}

/* Character index of byte offset b (an offset on a boundary). */
static size_t char_at(const chunk *c, uint32_t b)
{
    size_t lo = 0, hi = c->nchars;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->start[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------ components */

enum { DERIVE_IDENTITY, DERIVE_METASPACE, DERIVE_BYTELEVEL };

typedef struct {
    const char *name;
    normalizer *norm;
    pretokenizer *pre;
    int32_t sep;   /* what joins the code points of a chunk */
    char *sep_out; /* normalizers: what HF turns the separator into */
    size_t sep_out_len;
    int derive;
    int mismatches, reported;
} component;

/* tests/data/<from>'s normalizer object, as a detached copy. */
static cJSON *normalizer_from(const char *from)
{
    char buf[4096];
    const char *path = test_data_path(from, buf, sizeof buf);
    size_t len;
    char *text = test_read_file(path, &len);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    ck_assert_msg(doc != NULL, "%s: invalid JSON", path);
    cJSON *n = cJSON_DetachItemFromObjectCaseSensitive(doc, "normalizer");
    cJSON_Delete(doc);
    ck_assert_msg(n != NULL, "%s: no normalizer", path);
    return n;
}

static void component_build(component *c, const cJSON *h)
{
    memset(c, 0, sizeof *c);
    c->name = cJSON_GetObjectItemCaseSensitive(h, "name")->valuestring;
    const char *kind = cJSON_GetObjectItemCaseSensitive(h, "kind")->valuestring;
    const cJSON *json = cJSON_GetObjectItemCaseSensitive(h, "json");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(h, "from");
    cJSON *owned = NULL;
    if (!json && cJSON_IsString(from))
        json = owned = normalizer_from(from->valuestring);
    ck_assert_msg(json != NULL, "%s: no json or from", c->name);
    const cJSON *sep = cJSON_GetObjectItemCaseSensitive(h, "separator");
    ck_assert_msg(cJSON_IsString(sep) && *sep->valuestring, "%s: no separator", c->name);
    utf8_next(sep->valuestring, strlen(sep->valuestring), &c->sep);
    mlm_status st;
    if (!strcmp(kind, "normalizer")) {
        st = normalizer_parse(json, c->name, &c->norm);
        ck_assert_msg(test_json_bytes(h, "separator_out", &c->sep_out, &c->sep_out_len),
                      "%s: no separator_out", c->name);
    } else {
        st = pretokenizer_parse(json, c->name, &c->pre);
        const char *type = cJSON_GetObjectItemCaseSensitive(json, "type")->valuestring;
        c->derive = !strcmp(type, "Metaspace")   ? DERIVE_METASPACE
                    : !strcmp(type, "ByteLevel") ? DERIVE_BYTELEVEL
                                                 : DERIVE_IDENTITY;
    }
    ck_assert_msg(st == MLM_OK, "%s: %s", c->name, mlm_last_error());
    cJSON_Delete(owned);
}

static void component_free(component *c)
{
    normalizer_free(c->norm);
    pretokenizer_free(c->pre);
    free(c->sep_out);
}

static void report(component *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(component *c, const char *fmt, ...)
{
    c->mismatches++;
    if (c->reported++ >= MAX_REPORTS)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "unicode_sweep %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* "U+0041 U+0301 ..." for up to 6 characters of s from byte i. */
static void describe(const char *s, size_t len, size_t i, char *out, size_t cap)
{
    size_t w = 0;
    out[0] = '\0';
    for (int n = 0; n < 6 && i < len && w + 12 < cap; n++) {
        int32_t cp;
        i += utf8_next(s + i, len - i, &cp);
        w += (size_t)snprintf(out + w, cap - w, "%sU+%04X", n ? " " : "", (unsigned)cp);
    }
    if (i < len && w + 5 < cap)
        snprintf(out + w, cap - w, " ...");
}

/* ------------------------------------------------------------ normalizers */

/* The input with every separator replaced by sep_out. */
static char *identity_output(const component *c, const chunk *ch, size_t *len)
{
    char *out = malloc(ch->len + ch->nchars * (c->sep_out_len + 1) + 1);
    REQUIRE(out != NULL, "out of memory");
    size_t w = 0;
    for (size_t i = 0; i < ch->nchars; i++) {
        if (i % 2) { /* separators sit at the odd positions */
            memcpy(out + w, c->sep_out, c->sep_out_len);
            w += c->sep_out_len;
        } else {
            size_t n = ch->start[i + 1] - ch->start[i];
            memcpy(out + w, ch->text + ch->start[i], n);
            w += n;
        }
    }
    *len = w;
    return out;
}

/* The outputs of the swept code points: s split at each sep_out into
 * exactly n segments, seg[i] = [start, end). 0 when it does not split so
 * (an empty sep_out, or a code point whose own output holds it). */
static int split_segments(const component *c, const char *s, size_t len, size_t n,
                          size_t (*seg)[2])
{
    if (!c->sep_out_len)
        return 0;
    size_t k = 0, start = 0;
    for (size_t i = 0; i + c->sep_out_len <= len; i++) {
        if (memcmp(s + i, c->sep_out, c->sep_out_len))
            continue;
        if (k + 1 >= n)
            return 0;
        seg[k][0] = start;
        seg[k++][1] = i;
        start = i + c->sep_out_len;
        i = start - 1;
    }
    seg[k][0] = start;
    seg[k++][1] = len;
    return k == n;
}

/* Differences known and explained (see KNOWN_DIFFERENCES): the code points
 * of a component whose output may differ from HF's. */
typedef struct {
    const char *component;
    uint32_t lo, hi;
} known_difference;

/* User-supplied regexes (Replace and Split patterns) run on the system's
 * Oniguruma, HF's on the one its crate bundles. Debian 12 has Oniguruma
 * 6.9.8, whose Unicode data is 14.0; the binding's is 16.0. \p{..}, \w and
 * \d classes therefore differ at the code points assigned or recategorized
 * since 14.0, listed here as the sweep finds them for the sweep's pattern
 * ([\p{Zs}\p{Mn}\p{Cf}\p{Nd}]+). The built-in patterns (ByteLevel's GPT-2
 * pattern, Whitespace's \w+|[^\w\s]+) do not use Oniguruma: they are
 * matched by hand with HF's classes and have no such difference. A system
 * Oniguruma with Unicode 16.0 data makes this list unnecessary (the test
 * still passes: a listed code point may also match). */
#define R "replace-regex"
static const known_difference KNOWN_DIFFERENCES[] = {
    {R, 0x0897, 0x0897}, {R, 0x0ECE, 0x0ECE}, {R, 0x10D40, 0x10D49},
    {R, 0x10D69, 0x10D6D}, {R, 0x10EFC, 0x10EFF}, {R, 0x11241, 0x11241},
    {R, 0x113BB, 0x113C0}, {R, 0x113CE, 0x113CE}, {R, 0x113D0, 0x113D0},
    {R, 0x113D2, 0x113D2}, {R, 0x113E1, 0x113E2}, {R, 0x116D0, 0x116E3},
    {R, 0x1171E, 0x1171E}, {R, 0x11BF0, 0x11BF9}, {R, 0x11F00, 0x11F01},
    {R, 0x11F36, 0x11F3A}, {R, 0x11F40, 0x11F40}, {R, 0x11F42, 0x11F42},
    {R, 0x11F50, 0x11F5A}, {R, 0x13439, 0x13440}, {R, 0x13447, 0x13455},
    {R, 0x1611E, 0x16129}, {R, 0x1612D, 0x16139}, {R, 0x16D70, 0x16D79},
    {R, 0x1CCF0, 0x1CCF9}, {R, 0x1E08F, 0x1E08F}, {R, 0x1E4EC, 0x1E4F9},
    {R, 0x1E5EE, 0x1E5EF}, {R, 0x1E5F1, 0x1E5FA},
    {NULL, 0, 0},
};
#undef R

static int known(const component *c, int32_t cp)
{
    for (const known_difference *k = KNOWN_DIFFERENCES; k->component; k++)
        if (!strcmp(k->component, c->name) && (uint32_t)cp >= k->lo && (uint32_t)cp <= k->hi)
            return 1;
    return 0;
}

/* Compare the outputs code point by code point when both split into one
 * segment per swept code point: reports each unexplained difference with
 * its code point and returns 1, or 0 when they do not split so. */
static int compare_segments(component *c, const chunk *ch, uint32_t k, const char *got,
                            size_t glen, const char *want, size_t wlen)
{
    static size_t gs[MAX_CHUNK][2], ws[MAX_CHUNK][2];
    if (!split_segments(c, got, glen, ch->ncps, gs) ||
        !split_segments(c, want, wlen, ch->ncps, ws))
        return 0;
    int bad = 0;
    for (size_t i = 0; i < ch->ncps; i++) {
        size_t gl = gs[i][1] - gs[i][0], wl = ws[i][1] - ws[i][0];
        if (gl == wl && !memcmp(got + gs[i][0], want + ws[i][0], gl))
            continue;
        int32_t cp = ch->cp[2 * i];
        if (known(c, cp))
            continue;
        char g[96], w[96];
        describe(got + gs[i][0], gl, 0, g, sizeof g);
        describe(want + ws[i][0], wl, 0, w, sizeof w);
        if (!bad++)
            report(c, "chunk U+%04X..: U+%04X gives [%s], HF [%s]", k * MAX_CHUNK, (unsigned)cp, g,
                   w);
    }
    return 1;
}

/* The record's alignments ("a") against each normalized char's original
 * span; reports the first char that differs. */
static void check_alignments(component *c, const ns_buf *b, const chunk *ch, uint32_t k,
                             const char *a)
{
    const ns_piece *pc = &b->p[0];
    const char *s = ns_text(b, pc);
    long prev = 0;
    size_t n = 0;
    for (uint32_t i = 0; i < pc->len; n++) {
        int32_t cp;
        uint32_t len = (uint32_t)utf8_next(s + i, pc->len - i, &cp);
        char *end;
        if (!*a) {
            report(c, "chunk U+%04X..: more normalized chars than HF's %zu", k * MAX_CHUNK, n);
            return;
        }
        long ws = prev + strtol(a, &end, 10);
        REQUIRE(*end == ',', "%s chunk %u: bad alignments", c->name, k);
        long we = ws + strtol(end + 1, &end, 10);
        a = *end ? end + 1 : end;
        prev = ws;
        uint32_t os, oe;
        ns_orig_span(b, pc, i, i + len, &os, &oe);
        long gs = (long)char_at(ch, os), ge = (long)char_at(ch, oe);
        if (gs != ws || ge != we) {
            report(c, "chunk U+%04X..: normalized char %zu (U+%04X) aligned to [%ld, %ld), HF "
                      "[%ld, %ld) (U+%04X)",
                   k * MAX_CHUNK, n, (unsigned)cp, gs, ge, ws, we,
                   (unsigned)ch->cp[ws >= 0 && (size_t)ws < ch->nchars ? ws : 0]);
            return;
        }
        i += len;
    }
    if (*a)
        report(c, "chunk U+%04X..: %zu normalized chars, HF has more", k * MAX_CHUNK, n);
}

static void check_normalizer(component *c, ns_buf *b, const chunk *ch, uint32_t k,
                             const cJSON *rec)
{
    REQUIRE(!ns_start(b, ch->text, ch->len) && !normalizer_apply(c->norm, b, &b->p[0]),
            "%s chunk %u: normalizer failed", c->name, k);
    const char *got = ns_text(b, &b->p[0]);
    size_t glen = b->p[0].len, wlen;
    char *want;
    if (rec)
        REQUIRE(test_json_bytes(rec, "out", &want, &wlen), "%s chunk %u: no out", c->name, k);
    else
        want = identity_output(c, ch, &wlen);
    if ((glen != wlen || memcmp(got, want, glen)) &&
        !compare_segments(c, ch, k, got, glen, want, wlen)) {
        size_t at = 0;
        while (at < glen && at < wlen && got[at] == want[at])
            at++;
        while (at > 0 && ((unsigned char)want[at] & 0xC0) == 0x80)
            at--;
        char g[96], w[96];
        describe(got, glen, at, g, sizeof g);
        describe(want, wlen, at, w, sizeof w);
        report(c, "chunk U+%04X..: first difference at output byte %zu: got [%s], HF [%s]",
               k * MAX_CHUNK, at, g, w);
    } else if (rec) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "a");
        REQUIRE(cJSON_IsString(a), "%s chunk %u: no alignments", c->name, k);
        check_alignments(c, b, ch, k, a->valuestring);
    }
    free(want);
}

/* ------------------------------------------------------------ pre-tokenizers */

/* GPT-2's byte characters, written out again here (not the library's table,
 * which this checks): printable bytes stand for themselves, the others for
 * 256 + their rank among the non-printable ones. */
static int32_t byte_char(unsigned char b)
{
    int n = 0;
    for (int x = 0; x < 256; x++) {
        int printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
        if (x == b)
            return printable ? x : 256 + n;
        n += !printable;
    }
    return -1;
}

/* The text a piece [s, e) is expected to have when the record lists no
 * other: the input slice under the component's fixed mapping. */
static size_t derive_piece(const component *c, const chunk *ch, size_t s, size_t e, size_t piece,
                           char *out)
{
    size_t w = 0;
    const char *src = ch->text + ch->start[s];
    size_t n = ch->start[e] - ch->start[s];
    if (c->derive == DERIVE_BYTELEVEL) {
        for (size_t i = 0; i < n; i++)
            w += utf8_put(byte_char((unsigned char)src[i]), out + w);
        return w;
    }
    if (c->derive == DERIVE_METASPACE) {
        static const char bar[] = "\xe2\x96\x81";
        if (piece == 0 && !(n && ch->cp[s] == ' ') && !(n >= 3 && !memcmp(src, bar, 3))) {
            memcpy(out, bar, 3);
            w = 3;
        }
        for (size_t i = 0; i < n; i++) {
            if (src[i] == ' ') {
                memcpy(out + w, bar, 3);
                w += 3;
            } else {
                out[w++] = src[i];
            }
        }
        return w;
    }
    memcpy(out, src, n);
    return n;
}

/* The record's text for piece i ("t": [[i, text] or [i, null, hex]]). */
static int listed_piece(const cJSON *t, size_t i, char **text, size_t *len)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, t)
    {
        if ((size_t)cJSON_GetArrayItem(e, 0)->valuedouble != i)
            continue;
        const cJSON *s = cJSON_GetArrayItem(e, 1);
        if (cJSON_IsString(s)) {
            *text = strdup(s->valuestring);
            *len = strlen(s->valuestring);
            return 1;
        }
        cJSON *tmp = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(tmp, "x_hex", cJSON_GetArrayItem(e, 2));
        int ok = test_json_bytes(tmp, "x", text, len);
        cJSON_Delete(tmp);
        return ok;
    }
    return 0;
}

static void check_pretokenizer(component *c, ns_buf *b, const chunk *ch, uint32_t k,
                               const cJSON *rec)
{
    if (!rec) {
        report(c, "chunk U+%04X..: no record in the golden", k * MAX_CHUNK);
        return;
    }
    REQUIRE(!ns_start(b, ch->text, ch->len) && !pretokenizer_apply(c->pre, b),
            "%s chunk %u: pre-tokenizer failed", c->name, k);
    const char *o = cJSON_GetObjectItemCaseSensitive(rec, "o")->valuestring;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "t");
    size_t prev = 0, i = 0;
    static char derived[MAX_CHUNK * 2 * 8 + 8];
    for (; *o; i++) {
        char *end;
        size_t gap = strtoul(o, &end, 10);
        REQUIRE(*end == ',', "%s chunk %u: bad offsets", c->name, k);
        size_t n = strtoul(end + 1, &end, 10);
        o = *end ? end + 1 : end;
        size_t ws = prev + gap, we = ws + n;
        prev = we;
        REQUIRE(we <= ch->nchars, "%s chunk %u: offsets past the text", c->name, k);
        if (i >= b->n) {
            report(c, "chunk U+%04X..: %zu pieces, HF has more; the next is [%zu, %zu) at U+%04X",
                   k * MAX_CHUNK, b->n, ws, we, (unsigned)ch->cp[ws]);
            return;
        }
        const ns_piece *pc = &b->p[i];
        uint32_t os, oe;
        ns_orig_span(b, pc, 0, pc->len, &os, &oe);
        size_t gs = char_at(ch, os), ge = char_at(ch, oe);
        if (gs != ws || ge != we) {
            report(c, "chunk U+%04X..: piece %zu at [%zu, %zu), HF [%zu, %zu) (U+%04X)",
                   k * MAX_CHUNK, i, gs, ge, ws, we,
                   (unsigned)ch->cp[ws < ch->nchars ? ws : ch->nchars - 1]);
            return;
        }
        char *want = derived;
        size_t wlen;
        int listed = listed_piece(t, i, &want, &wlen);
        if (!listed)
            wlen = derive_piece(c, ch, ws, we, i, derived);
        int same = wlen == pc->len && !memcmp(ns_text(b, pc), want, wlen);
        if (!same) {
            char g[96], w[96];
            describe(ns_text(b, pc), pc->len, 0, g, sizeof g);
            describe(want, wlen, 0, w, sizeof w);
            report(c, "chunk U+%04X..: piece %zu [%zu, %zu) (U+%04X): got [%s], HF [%s]",
                   k * MAX_CHUNK, i, ws, we, (unsigned)ch->cp[ws], g, w);
        }
        if (listed)
            free(want);
        if (!same)
            return;
    }
    if (i != b->n)
        report(c, "chunk U+%04X..: %zu pieces, HF %zu", k * MAX_CHUNK, b->n, i);
}

/* ------------------------------------------------------------ the test */

START_TEST(every_scalar_value_matches_hf)
{
    char buf[4096];
    const char *path = test_data_path(SWEEP_FILE, buf, sizeof buf);
    gz_lines g = {gzopen(path, "rb"), NULL, 0};
    ck_assert_msg(g.f != NULL, "cannot open %s", path);
    size_t len;
    char *line = gz_next(&g, &len);
    ck_assert_ptr_nonnull(line);
    cJSON *header = cJSON_ParseWithLength(line, len);
    ck_assert_msg(header != NULL, "%s: bad header", path);
    ck_assert_int_eq((int)cJSON_GetObjectItemCaseSensitive(header, "chunk")->valuedouble,
                     MAX_CHUNK);
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(header, "components");
    size_t ncomp = (size_t)cJSON_GetArraySize(comps);

    static chunk ch;
    ns_buf b = {0};
    cJSON *rec = NULL;
    line = gz_next(&g, &len);
    rec = line ? cJSON_ParseWithLength(line, len) : NULL;
    int total = 0;
    for (size_t ci = 0; ci < ncomp; ci++) {
        component c;
        component_build(&c, cJSON_GetArrayItem(comps, (int)ci));
        for (uint32_t k = 0; k < 0x110000 / MAX_CHUNK; k++) {
            if (!make_chunk(&ch, k, MAX_CHUNK, c.sep))
                continue;
            const cJSON *mine = NULL;
            if (rec && !strcmp(cJSON_GetObjectItemCaseSensitive(rec, "c")->valuestring, c.name) &&
                (uint32_t)cJSON_GetObjectItemCaseSensitive(rec, "k")->valuedouble == k)
                mine = rec;
            if (c.norm)
                check_normalizer(&c, &b, &ch, k, mine);
            else
                check_pretokenizer(&c, &b, &ch, k, mine);
            if (mine) {
                cJSON_Delete(rec);
                line = gz_next(&g, &len);
                rec = line ? cJSON_ParseWithLength(line, len) : NULL;
            }
        }
        fprintf(stderr, "unicode_sweep %s: %d chunks differ\n", c.name, c.mismatches);
        total += c.mismatches;
        component_free(&c);
    }
    ck_assert_msg(rec == NULL, "%s: a record out of order or of no component: %.200s", path,
                  line ? line : "");
    ns_free(&b);
    cJSON_Delete(header);
    free(g.buf);
    gzclose(g.f);
    ck_assert_msg(total == 0, "%d chunks differ from HF (first ones above)", total);
}
END_TEST

Suite *unicode_sweep_suite(void)
{
    Suite *s = suite_create("unicode_sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, every_scalar_value_matches_hf);
    suite_add_tcase(s, tc);
    return s;
}
