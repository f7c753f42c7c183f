/* The public trainer API, mlm_tokenizer_trainer_* (suite tokenizer_trainer).
 *
 * - byte-level BPE trained through the API on WikiText-2 valid with HF's
 *   trainer defaults (vocab 30000, min_frequency 0, no special tokens, no
 *   initial alphabet) gives exactly HF's vocabulary and merges (the fixtures
 *   of the bpe_trainer suite), on two counting threads;
 * - that tokenizer encodes tests/data/tokenizer_parity/texts.jsonl exactly as HF's
 *   own trained tokenizer does (tests/data/trained_tokenizer/, written by
 *   tests/gen_trained_tokenizer_goldens.js), before and after a save/load;
 * - HF's trained tokenizer.json files load here and encode like HF;
 * - tokenizers trained with the kinds' default pipelines (special tokens,
 *   RobertaProcessing / BertProcessing) are saved and, when node and
 *   tests/node_modules are there, loaded by HF, whose encodings must equal
 *   ours (skipped with a message otherwise);
 * - T5's conventions on a byte-level BPE (special tokens <pad> </s> <unk>,
 *   TemplateProcessing "$A </s>" / "$A </s> $B </s>"), trained on KorSTS and
 *   the CNN/DailyMail sample, equal HF's: vocabulary, merges, added tokens,
 *   the post-processor's JSON, and the encodings (Korean and pairs
 *   included) of texts.jsonl (hf-t5bpe.*, gen_trained_tokenizer_goldens.js);
 * - WordPiece: properties (size, special tokens first, no [UNK] on the
 *   training text) and >= 98% of HF's WordPiece vocabulary; Korean (KorSTS);
 * - settings, errors, streaming of files, allocation failure.
 *
 * The corpora are excerpts in tests/data/corpora (SOURCES.md there).
 */
#include "suites.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <mlm.h>
#include <mlm/tokenizer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"

#define WIKI "corpora/wikitext-2-raw/wiki.valid.raw"
#define KORSTS "corpora/korsts/sts-train.tsv"
#define CNN "corpora/cnn-dailymail-sample/train_sample.csv"

/* ------------------------------------------------------------ helpers */

static mlm_tokenizer_trainer *trainer(mlm_tokenizer_model_kind kind, const char *const *settings)
{
    mlm_tokenizer_trainer *tr = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(kind, &tr), MLM_OK);
    for (size_t i = 0; settings && settings[i]; i += 2)
        ck_assert_msg(mlm_tokenizer_trainer_set(tr, settings[i], settings[i + 1]) == MLM_OK,
                      "set %s=%s: %s", settings[i], settings[i + 1], mlm_last_error());
    return tr;
}

static mlm_tokenizer *train_file(mlm_tokenizer_model_kind kind, const char *const *settings,
                                 const char *path)
{
    mlm_tokenizer_trainer *tr = trainer(kind, settings);
    ck_assert_msg(mlm_tokenizer_trainer_feed_file(tr, path) == MLM_OK, "%s", mlm_last_error());
    mlm_tokenizer *tok = NULL;
    ck_assert_msg(mlm_tokenizer_trainer_finish(tr, &tok) == MLM_OK, "%s", mlm_last_error());
    mlm_tokenizer_trainer_free(tr);
    return tok;
}

/* Lines of a gzip file under tests/data/bpe_trainer/ (without '\n'). */
static char **read_gz_lines(const char *rel, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/bpe_trainer/%s", test_root(), rel);
    gzFile f = gzopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1024, cnt = 0;
    char **lines = malloc(cap * sizeof *lines);
    static char buf[1 << 16];
    while (gzgets(f, buf, sizeof buf)) {
        size_t len = strlen(buf);
        ck_assert(len > 0 && buf[len - 1] == '\n');
        buf[len - 1] = '\0';
        if (cnt == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[cnt++] = strdup(buf);
    }
    gzclose(f);
    *n = cnt;
    return lines;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Lines of a text file, each keeping its '\n' (HF's lines_with_ending). */
static char **file_lines(const char *path, size_t *n, char **data)
{
    size_t len;
    *data = test_read_file(path, &len);
    ck_assert_ptr_nonnull(*data);
    size_t cap = 1024, cnt = 0;
    char **lines = malloc(cap * sizeof *lines);
    for (size_t i = 0; i < len;) {
        char *nl = memchr(*data + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - *data) + 1 : len;
        if (cnt == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[cnt++] = strndup(*data + i, e - i);
        i = e;
    }
    *n = cnt;
    return lines;
}

/* Run HF (node + tests/node_modules) on a tokenizer.json, writing its
 * encodings of texts.jsonl to out; 0 (with a message) when unavailable. */
static int hf_encode(const char *json_path, const char *out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "test -d '%s/tests/node_modules/tokenizers' && command -v node", test_root());
    int status;
    free(test_run(cmd, &status));
    if (status != 0) {
        fprintf(stderr, "skip HF loading libmlm's trained tokenizer: the npm package tokenizers "
                        "is not installed (cd tests && npm ci; needs nodejs and npm)\n");
        return 0;
    }
    snprintf(cmd, sizeof cmd, "node '%s/tests/gen_trained_tokenizer_goldens.js' --encode '%s' '%s' 2>&1",
             test_root(), json_path, out);
    char *o = test_run(cmd, &status);
    ck_assert_msg(status == 0, "HF failed on %s: %s", json_path, o ? o : "");
    free(o);
    return 1;
}

static char *trained_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/tests/data/trained_tokenizer/%s", test_root(), name);
    return buf;
}

/* ------------------------------------------------------------ (a) + (b) */

START_TEST(bytebpe_api_matches_hf_on_wikitext2)
{
    char sbuf[4096];
    REQUIRE_TEST_DATA(corpus, WIKI, sbuf);
    static const char *const settings[] = {"vocab_size", "30000", "min_frequency", "0",
                                           "special_tokens", "[]", "initial_alphabet", "[]",
                                           "threads", "2", NULL};
    mlm_tokenizer *tok = train_file(MLM_TOKENIZER_BYTE_BPE, settings, corpus);

    /* vocabulary, id for id */
    size_t nv, nm;
    char **vocab = read_gz_lines("wikitext2-valid.bytelevel.vocab.gz", &nv);
    char **merges = read_gz_lines("wikitext2-valid.bytelevel.merges.gz", &nm);
    ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), (int32_t)nv);
    size_t bad = 0;
    for (size_t i = 0; i < nv; i++) {
        const char *t = mlm_tokenizer_id_to_token(tok, (int32_t)i);
        if ((!t || strcmp(t, vocab[i]) != 0) && bad++ < 10)
            fprintf(stderr, "vocab id %zu: \"%s\", HF \"%s\"\n", i, t ? t : "(null)", vocab[i]);
    }
    /* merges, rank for rank, as saved */
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    ck_assert_int_eq(mlm_tokenizer_save(tok, path), MLM_OK);
    size_t len;
    char *text = test_read_file(path, &len);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    ck_assert_ptr_nonnull(doc);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(model, "merges");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(model, "type")->valuestring, "BPE");
    ck_assert_int_eq(cJSON_GetArraySize(jm), (int)nm);
    char buf[4096];
    for (size_t i = 0; i < nm; i++) {
        const cJSON *p = cJSON_GetArrayItem(jm, (int)i);
        snprintf(buf, sizeof buf, "%s %s", cJSON_GetArrayItem(p, 0)->valuestring,
                 cJSON_GetArrayItem(p, 1)->valuestring);
        if (strcmp(buf, merges[i]) != 0 && bad++ < 20)
            fprintf(stderr, "merge rank %zu: \"%s\", HF \"%s\"\n", i, buf, merges[i]);
    }
    ck_assert_msg(bad == 0, "%zu differences from HF's BpeTrainer", bad);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "added_tokens")), 0);
    cJSON_Delete(doc);
    free(text);

    /* encodings: ours == HF's trained tokenizer's, before and after save */
    char golden[4096];
    trained_path("hf-bytebpe.jsonl", golden, sizeof golden);
    ck_assert_int_eq(tokenizer_golden_check(tok, golden, "trained bytebpe (ours)"), 0);
    mlm_tokenizer *again = NULL;
    ck_assert_msg(mlm_tokenizer_load(path, &again) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(tokenizer_golden_check(again, golden, "trained bytebpe (ours, saved)"), 0);
    mlm_tokenizer_free(again);
    /* HF loads our file and encodes like HF's trained tokenizer */
    char hf_out[4096];
    snprintf(hf_out, sizeof hf_out, "%s/hf.jsonl", dir);
    if (hf_encode(path, hf_out))
        ck_assert_int_eq(tokenizer_golden_check(tok, hf_out, "trained bytebpe (ours, in HF)"), 0);

    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
    free_lines(vocab, nv);
    free_lines(merges, nm);
}
END_TEST

/* HF's trained tokenizer.json files, loaded here, encode as in HF. */
START_TEST(hf_trained_tokenizers_load)
{
    static const char *const names[] = {"hf-bytebpe", "hf-wordpiece"};
    for (size_t k = 0; k < 2; k++) {
        char json[4096], golden[4096], name[64];
        snprintf(name, sizeof name, "%s.json", names[k]);
        trained_path(name, json, sizeof json);
        snprintf(name, sizeof name, "%s.jsonl", names[k]);
        trained_path(name, golden, sizeof golden);
        mlm_tokenizer *tok = NULL;
        ck_assert_msg(mlm_tokenizer_load(json, &tok) == MLM_OK, "%s", mlm_last_error());
        ck_assert_int_eq(tokenizer_golden_check(tok, golden, names[k]), 0);
        mlm_tokenizer_free(tok);
    }
}
END_TEST

/* The kinds' default pipelines: special tokens first, the post-processors,
 * <mask> with lstrip; saved files load in HF and encode as ours. */
START_TEST(default_pipelines_round_trip_through_hf)
{
    char sbuf[4096];
    REQUIRE_TEST_DATA(corpus, WIKI, sbuf);
    static const char *const settings[] = {"vocab_size", "8000", NULL};
    char *dir = test_tmpdir();
    for (int kind = 0; kind <= 1; kind++) {
        mlm_tokenizer *tok = train_file((mlm_tokenizer_model_kind)kind, settings, corpus);
        ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), 8000);
        static const char *const bert[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        static const char *const roberta[] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
        for (int i = 0; i < 5; i++)
            ck_assert_str_eq(mlm_tokenizer_id_to_token(tok, i), kind ? roberta[i] : bert[i]);
        ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_MASK), 4);
        ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD), kind ? 1 : 0);
        const char *text = kind ? "The game <mask> released." : "The game [MASK] released.";
        mlm_encoding *enc = NULL;
        ck_assert_int_eq(mlm_tokenizer_encode(tok, text, strlen(text), "Yes.", 4, 1, &enc), MLM_OK);
        size_t n = mlm_encoding_length(enc);
        const int32_t *ids = mlm_encoding_ids(enc);
        ck_assert_int_eq(ids[0], kind ? 0 : 2);     /* <s> / [CLS] */
        ck_assert_int_eq(ids[n - 1], kind ? 2 : 3); /* </s> / [SEP] */
        int masks = 0;
        for (size_t i = 0; i < n; i++)
            masks += ids[i] == 4;
        ck_assert_int_eq(masks, 1);
        if (kind == 1) { /* <mask> lstrip: "game" is followed by the mask itself */
            size_t s, e;
            for (size_t i = 0; i < n; i++)
                if (ids[i] == 4) {
                    ck_assert_int_eq(mlm_encoding_offsets(enc, i, MLM_OFFSETS_BYTES, &s, &e), MLM_OK);
                    /* as HF: the space is inside the token, trimmed from its offsets */
                    ck_assert_uint_eq(s, 9);
                    ck_assert_uint_eq(e, 15);
                    ck_assert_str_eq(mlm_encoding_token(enc, i), " <mask>");
                }
        }
        mlm_encoding_free(enc);
        char path[4096], out[4096];
        snprintf(path, sizeof path, "%s/%s.json", dir, kind ? "bytebpe" : "wordpiece");
        snprintf(out, sizeof out, "%s/%s.hf.jsonl", dir, kind ? "bytebpe" : "wordpiece");
        ck_assert_int_eq(mlm_tokenizer_save(tok, path), MLM_OK);
        if (hf_encode(path, out))
            ck_assert_int_eq(tokenizer_golden_check(tok, out, kind ? "default bytebpe (ours, in HF)"
                                                                   : "default wordpiece (ours, in HF)"),
                             0);
        mlm_tokenizer_free(tok);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A member of a JSON document read from a file (the caller frees *doc). */
static cJSON *json_file(const char *path, cJSON **doc)
{
    size_t len;
    char *text = test_read_file(path, &len);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    *doc = cJSON_ParseWithLength(text, len);
    free(text);
    ck_assert_msg(*doc != NULL, "%s is not JSON", path);
    return *doc;
}

/* T5's conventions, as HF's Python users build them on a trained byte-level
 * BPE (see gen_trained_tokenizer_goldens.js): ours equal HF's file member for
 * member (vocabulary, merges, added tokens, post-processor) and encode
 * texts.jsonl (67 Korean texts, 45 pairs) as HF does, before and after a
 * save, and in HF itself when node is there. */
START_TEST(t5_conventions_match_hf)
{
    char sbuf[4096], cbuf[4096], hf_path[4096];
    REQUIRE_TEST_DATA(korsts, KORSTS, sbuf);
    REQUIRE_TEST_DATA(cnn, CNN, cbuf);
    cJSON *hf_doc;
    json_file(trained_path("hf-t5bpe.json", hf_path, sizeof hf_path), &hf_doc);
    const cJSON *hf_model = cJSON_GetObjectItemCaseSensitive(hf_doc, "model");
    int hf_vocab = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hf_model, "vocab"));
    /* BpeTrainer(vocab_size=N, special_tokens=[...]) with HF's N */
    char vocab_size[32];
    snprintf(vocab_size, sizeof vocab_size, "%d", hf_vocab);
    const char *const settings[] = {"vocab_size", vocab_size, "min_frequency", "0",
                                    "initial_alphabet", "[]",
                                    "special_tokens", "[\"<pad>\", \"</s>\", \"<unk>\"]",
                                    "template_single", "$A </s>",
                                    "template_pair", "$A </s> $B </s>", "threads", "2", NULL};
    mlm_tokenizer_trainer *tr = trainer(MLM_TOKENIZER_BYTE_BPE, settings);
    ck_assert_msg(mlm_tokenizer_trainer_feed_file(tr, korsts) == MLM_OK, "%s", mlm_last_error());
    ck_assert_msg(mlm_tokenizer_trainer_feed_file(tr, cnn) == MLM_OK, "%s", mlm_last_error());
    mlm_tokenizer *tok = NULL;
    ck_assert_msg(mlm_tokenizer_trainer_finish(tr, &tok) == MLM_OK, "%s", mlm_last_error());
    mlm_tokenizer_trainer_free(tr);
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD), 0);
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_EOS), 1);
    ck_assert_int_eq(mlm_tokenizer_special_id(tok, MLM_TOKEN_UNK), 2);

    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    ck_assert_int_eq(mlm_tokenizer_save(tok, path), MLM_OK);
    cJSON *doc;
    json_file(path, &doc);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    static const char *const same[] = {"vocab", "merges"};
    for (size_t k = 0; k < 2; k++)
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(model, same[k]),
                                    cJSON_GetObjectItemCaseSensitive(hf_model, same[k]), 1),
                      "model.%s differs from HF's", same[k]);
    static const char *const members[] = {"added_tokens", "post_processor", "pre_tokenizer",
                                          "decoder"};
    for (size_t k = 0; k < 4; k++)
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(doc, members[k]),
                                    cJSON_GetObjectItemCaseSensitive(hf_doc, members[k]), 1),
                      "%s differs from HF's", members[k]);
    cJSON_Delete(doc);
    cJSON_Delete(hf_doc);

    /* a Korean text and a pair: </s> after each sequence, type ids 0 */
    mlm_encoding *enc = NULL;
    const char *ko = "비행기가 이륙하고 있다.";
    ck_assert_int_eq(mlm_tokenizer_encode(tok, ko, strlen(ko), "yes", 3, 1, &enc), MLM_OK);
    size_t n = mlm_encoding_length(enc), eos = 0;
    for (size_t i = 0; i < n; i++) {
        eos += mlm_encoding_ids(enc)[i] == 1;
        ck_assert_int_eq(mlm_encoding_type_ids(enc)[i], 0);
    }
    ck_assert_uint_eq(eos, 2);
    ck_assert_int_eq(mlm_encoding_ids(enc)[n - 1], 1);
    mlm_encoding_free(enc);

    char golden[4096];
    trained_path("hf-t5bpe.jsonl", golden, sizeof golden);
    ck_assert_int_eq(tokenizer_golden_check(tok, golden, "t5 conventions (ours)"), 0);
    mlm_tokenizer *again = NULL;
    ck_assert_msg(mlm_tokenizer_load(path, &again) == MLM_OK, "%s", mlm_last_error());
    ck_assert_int_eq(tokenizer_golden_check(again, golden, "t5 conventions (ours, saved)"), 0);
    mlm_tokenizer_free(again);
    char hf_out[4096];
    snprintf(hf_out, sizeof hf_out, "%s/hf.jsonl", dir);
    if (hf_encode(path, hf_out))
        ck_assert_int_eq(tokenizer_golden_check(tok, hf_out, "t5 conventions (ours, in HF)"), 0);
    mlm_tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ (c) WordPiece */

static void assert_no_unk(const mlm_tokenizer *tok, char **lines, size_t n, const char *what)
{
    int32_t unk = mlm_tokenizer_token_to_id(tok, "[UNK]");
    ck_assert_int_ge(unk, 0);
    mlm_encoding **encs = malloc(n * sizeof *encs);
    ck_assert_msg(mlm_tokenizer_encode_batch(tok, (const char *const *)lines, NULL, n, 0, 2, encs) ==
                      MLM_OK,
                  "%s", mlm_last_error());
    size_t unks = 0, first = n;
    for (size_t i = 0; i < n; i++) {
        const int32_t *ids = mlm_encoding_ids(encs[i]);
        for (size_t k = 0; k < mlm_encoding_length(encs[i]); k++)
            if (ids[k] == unk) {
                unks++;
                if (first == n) first = i;
            }
        mlm_encoding_free(encs[i]);
    }
    free(encs);
    ck_assert_msg(unks == 0, "%s: %zu [UNK] on the training text (first on line %zu: %s)", what,
                  unks, first + 1, first < n ? lines[first] : "");
}

START_TEST(wordpiece_properties_and_hf_overlap)
{
    char sbuf[4096];
    REQUIRE_TEST_DATA(corpus, WIKI, sbuf);
    size_t nl;
    char *data;
    char **lines = file_lines(corpus, &nl, &data);

    /* BERT's defaults (special tokens, limit_alphabet 1000, min_frequency 2) */
    static const char *const small[] = {"vocab_size", "8000", NULL};
    mlm_tokenizer *tok = train_file(MLM_TOKENIZER_WORDPIECE, small, corpus);
    ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), 8000);
    static const char *const bert[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(mlm_tokenizer_id_to_token(tok, i), bert[i]);
    /* no duplicates: every token maps back to its own id */
    for (int32_t i = 0; i < 8000; i++)
        ck_assert_int_eq(mlm_tokenizer_token_to_id(tok, mlm_tokenizer_id_to_token(tok, i)), i);
    assert_no_unk(tok, lines, nl, "wikitext-2 wordpiece");
    mlm_tokenizer_free(tok);

    /* HF's WordPieceTrainer defaults, as the binding trains: >= 98% of HF's */
    static const char *const hf[] = {"special_tokens", "[]", "min_frequency", "0",
                                     "limit_alphabet", "null", NULL};
    tok = train_file(MLM_TOKENIZER_WORDPIECE, hf, corpus);
    size_t nv;
    char **vocab = read_gz_lines("wikitext2-valid.bert.wordpiece.vocab.gz", &nv);
    size_t common = 0;
    for (size_t i = 0; i < nv; i++)
        common += mlm_tokenizer_token_to_id(tok, vocab[i]) >= 0;
    double overlap = (double)common / (double)nv;
    size_t ours = (size_t)mlm_tokenizer_vocab_size(tok);
    fprintf(stderr, "wordpiece via the API: %zu tokens (HF %zu), %.2f%% of HF's vocabulary\n", ours,
            nv, 100.0 * overlap);
    ck_assert_uint_le(ours > nv ? ours - nv : nv - ours, nv / 200);
    ck_assert_msg(overlap >= 0.98, "only %.2f%% of HF's vocabulary", 100.0 * overlap);
    free_lines(vocab, nv);
    mlm_tokenizer_free(tok);
    free_lines(lines, nl);
    free(data);
}
END_TEST

START_TEST(korean_corpus)
{
    char sbuf[4096];
    REQUIRE_TEST_DATA(corpus, KORSTS, sbuf);
    size_t nl;
    char *data;
    char **lines = file_lines(corpus, &nl, &data);

    static const char *const wp[] = {"vocab_size", "6000", "limit_alphabet", "null", NULL};
    mlm_tokenizer *tok = train_file(MLM_TOKENIZER_WORDPIECE, wp, corpus);
    ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), 6000);
    ck_assert_str_eq(mlm_tokenizer_id_to_token(tok, 1), "[UNK]");
    /* BERT's lowercase + strip_accents decomposes syllables into jamo */
    ck_assert_int_ge(mlm_tokenizer_token_to_id(tok, "\xe1\x84\x92"), 0); /* U+1112 ㅎ */
    assert_no_unk(tok, lines, nl, "korsts wordpiece");
    mlm_tokenizer_free(tok);

    /* byte-level: lossless, decode(encode(line)) == line */
    static const char *const bl[] = {"vocab_size", "6000", "threads", "2", NULL};
    tok = train_file(MLM_TOKENIZER_BYTE_BPE, bl, corpus);
    ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), 6000);
    mlm_encoding *one = NULL; /* " 있다" is one token */
    ck_assert_int_eq(mlm_tokenizer_encode(tok, " \xec\x9e\x88\xeb\x8b\xa4", 7, NULL, 0, 0, &one),
                     MLM_OK);
    ck_assert_uint_eq(mlm_encoding_length(one), 1);
    mlm_encoding_free(one);
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    for (size_t i = 0; i < nl; i++) {
        mlm_encoding *enc = NULL;
        ck_assert_int_eq(mlm_tokenizer_encode(tok, lines[i], strlen(lines[i]), NULL, 0, 1, &enc),
                         MLM_OK);
        size_t needed;
        ck_assert_int_eq(mlm_tokenizer_decode(tok, mlm_encoding_ids(enc), mlm_encoding_length(enc),
                                              1, 0, buf, cap, &needed),
                         MLM_OK);
        ck_assert_uint_le(needed, cap);
        ck_assert_str_eq(buf, lines[i]);
        mlm_encoding_free(enc);
    }
    free(buf);
    mlm_tokenizer_free(tok);
    free_lines(lines, nl);
    free(data);
}
END_TEST

/* ------------------------------------------------------------ settings */

static void expect_set_error(mlm_tokenizer_trainer *tr, const char *name, const char *value,
                             mlm_status want, const char *in_message)
{
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, name, value), want);
    ck_assert_msg(strstr(mlm_last_error(), in_message) != NULL, "set %s=%s: \"%s\" lacks \"%s\"",
                  name, value, mlm_last_error(), in_message);
}

START_TEST(settings_and_errors)
{
    mlm_tokenizer_trainer *tr = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new((mlm_tokenizer_model_kind)7, &tr),
                     MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(tr);
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, NULL),
                     MLM_ERR_INVALID_ARGUMENT);
    mlm_tokenizer_trainer_free(NULL);

    tr = trainer(MLM_TOKENIZER_WORDPIECE, NULL);
    expect_set_error(tr, "vocab_sise", "10", MLM_ERR_INVALID_ARGUMENT, "vocab_sise");
    expect_set_error(tr, "vocab_size", "ten", MLM_ERR_INVALID_ARGUMENT, "vocab_size");
    expect_set_error(tr, "vocab_size", "-1", MLM_ERR_INVALID_ARGUMENT, "vocab_size");
    expect_set_error(tr, "min_frequency", "", MLM_ERR_INVALID_ARGUMENT, "min_frequency");
    expect_set_error(tr, "limit_alphabet", "1e3", MLM_ERR_INVALID_ARGUMENT, "limit_alphabet");
    expect_set_error(tr, "show_progress", "yes", MLM_ERR_INVALID_ARGUMENT, "show_progress");
    expect_set_error(tr, "threads", "0", MLM_ERR_INVALID_ARGUMENT, "threads");
    expect_set_error(tr, "lowercase", "maybe", MLM_ERR_INVALID_ARGUMENT, "lowercase");
    expect_set_error(tr, "add_prefix_space", "true", MLM_ERR_INVALID_ARGUMENT, "add_prefix_space");
    expect_set_error(tr, "special_tokens", "[PAD]", MLM_ERR_INVALID_ARGUMENT, "special_tokens");
    expect_set_error(tr, "special_tokens", "[\"a\", 1]", MLM_ERR_INVALID_ARGUMENT, "item 1");
    expect_set_error(tr, "special_tokens", "[\"\"]", MLM_ERR_INVALID_ARGUMENT, "empty");
    expect_set_error(tr, "initial_alphabet", "{}", MLM_ERR_INVALID_ARGUMENT, "initial_alphabet");
    expect_set_error(tr, "continuing_subword_prefix", "", MLM_ERR_INVALID_ARGUMENT,
                     "continuing_subword_prefix");
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, NULL, "1"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "vocab_size", NULL), MLM_ERR_INVALID_ARGUMENT);

    /* a small cased WordPiece: settings take effect */
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "lowercase", "false"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "min_frequency", "1"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "show_progress", "false"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "continuing_subword_prefix", "@@"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "special_tokens",
                                               "[\"[UNK]\", {\"content\": \"[CLS]\"}, \"[SEP]\"]"),
                     MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "initial_alphabet", "[\"q\", \"xyz\", \"\"]"),
                     MLM_OK);
    const char *text = "Hello Hello hello world\nHelp!\n";
    ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, text, strlen(text)), MLM_OK);
    expect_set_error(tr, "lowercase", "true", MLM_ERR_STATE, "lowercase");
    ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, "\xff", 1), MLM_ERR_FORMAT);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, NULL, 3), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, NULL, 0), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tr, "/nonexistent/corpus.txt"), MLM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "/nonexistent/corpus.txt"));
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, &tok), MLM_OK);
    ck_assert_str_eq(mlm_tokenizer_id_to_token(tok, 0), "[UNK]");
    ck_assert_str_eq(mlm_tokenizer_id_to_token(tok, 1), "[CLS]");
    ck_assert_int_ge(mlm_tokenizer_token_to_id(tok, "Hello"), 0); /* cased */
    ck_assert_int_ge(mlm_tokenizer_token_to_id(tok, "q"), 0);     /* initial alphabet */
    ck_assert_int_ge(mlm_tokenizer_token_to_id(tok, "x"), 0);
    ck_assert_int_lt(mlm_tokenizer_token_to_id(tok, "y"), 0);
    ck_assert_int_ge(mlm_tokenizer_token_to_id(tok, "@@p"), 0); /* the prefix */
    mlm_encoding *enc = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(tok, "Help", 4, NULL, 0, 1, &enc), MLM_OK);
    ck_assert_int_eq(mlm_encoding_ids(enc)[0], 1);                        /* [CLS] */
    ck_assert_int_eq(mlm_encoding_ids(enc)[mlm_encoding_length(enc) - 1], 2); /* [SEP] */
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    mlm_tokenizer_trainer_free(tr);

    /* without [CLS]/[SEP] there is no post-processor; byte-level settings */
    tr = trainer(MLM_TOKENIZER_BYTE_BPE, NULL);
    expect_set_error(tr, "lowercase", "true", MLM_ERR_INVALID_ARGUMENT, "WordPiece");
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "add_prefix_space", "true"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "vocab_size", "300"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, &tok), MLM_OK); /* nothing fed */
    ck_assert_int_eq(mlm_tokenizer_vocab_size(tok), 261); /* 5 special + 256 bytes */
    ck_assert_int_eq(mlm_tokenizer_encode(tok, "hi", 2, NULL, 0, 1, &enc), MLM_OK);
    ck_assert_uint_eq(mlm_encoding_length(enc), 5); /* <s> Ġ h i </s> */
    ck_assert_str_eq(mlm_encoding_token(enc, 1), "\xc4\xa0");
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, NULL), MLM_ERR_INVALID_ARGUMENT);
    mlm_tokenizer_trainer_free(tr);
}
END_TEST

/* TemplateProcessing's string form, as HF's Piece::try_from reads it, and
 * its errors. */
START_TEST(template_settings)
{
    mlm_tokenizer_trainer *tr = trainer(MLM_TOKENIZER_BYTE_BPE, NULL);
    expect_set_error(tr, "template_single", "$C", MLM_ERR_INVALID_ARGUMENT, "\"$C\"");
    expect_set_error(tr, "template_single", "$A:x", MLM_ERR_INVALID_ARGUMENT, "template_single");
    expect_set_error(tr, "template_single", "$A:1:2", MLM_ERR_INVALID_ARGUMENT, "$A:1:2");
    expect_set_error(tr, "template_pair", "$A </s>", MLM_ERR_INVALID_ARGUMENT, "both");
    expect_set_error(tr, "template_single", "\xff", MLM_ERR_INVALID_ARGUMENT, "UTF-8");
    /* "<s>:1 $:1 </s>:1" and "$1 $B:2 <x>": type ids; <x> is not a token */
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_single", "<s>:1 $:1 </s>:1"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_pair", "$1 $B:2 <x>"), MLM_OK);
    const char *text = "안녕 hello 안녕 hello\n";
    ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, text, strlen(text)), MLM_OK);
    mlm_tokenizer *tok = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, &tok), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(tok);
    ck_assert_msg(strstr(mlm_last_error(), "\"<x>\"") && strstr(mlm_last_error(), "template_pair"),
                  "%s", mlm_last_error());
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_pair", "$1 $B:2 <mask>"), MLM_OK);
    ck_assert_msg(mlm_tokenizer_trainer_finish(tr, &tok) == MLM_OK, "%s", mlm_last_error());
    /* special_tokens sorted by name, as HF writes the map (ordered_map) */
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    ck_assert_int_eq(mlm_tokenizer_save(tok, path), MLM_OK);
    cJSON *doc;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json_file(path, &doc), "post_processor"),
        "special_tokens");
    static const char *const sorted[] = {"</s>", "<mask>", "<s>"};
    ck_assert_int_eq(cJSON_GetArraySize(sp), 3);
    for (int k = 0; k < 3; k++)
        ck_assert_str_eq(cJSON_GetArrayItem(sp, k)->string, sorted[k]);
    cJSON_Delete(doc);
    test_rmtree(dir);
    free(dir);
    mlm_encoding *enc = NULL;
    ck_assert_int_eq(mlm_tokenizer_encode(tok, "안녕", strlen("안녕"), "hello", 5, 1, &enc), MLM_OK);
    size_t n = mlm_encoding_length(enc);
    ck_assert_int_eq(mlm_encoding_ids(enc)[n - 1], 4); /* <mask> */
    ck_assert_int_eq(mlm_encoding_type_ids(enc)[0], 1);
    ck_assert_int_eq(mlm_encoding_type_ids(enc)[n - 2], 2);
    mlm_encoding_free(enc);
    ck_assert_int_eq(mlm_tokenizer_encode(tok, "안녕", strlen("안녕"), NULL, 0, 1, &enc), MLM_OK);
    n = mlm_encoding_length(enc);
    ck_assert_int_eq(mlm_encoding_ids(enc)[0], 0); /* <s> */
    ck_assert_int_eq(mlm_encoding_ids(enc)[n - 1], 2); /* </s> */
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(mlm_encoding_type_ids(enc)[i], 1);
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    /* "" unsets both: RoBERTa's post-processor again */
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_single", ""), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_pair", ""), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, &tok), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_encode(tok, "hello", 5, "hello", 5, 1, &enc), MLM_OK);
    n = mlm_encoding_length(enc); /* RobertaProcessing: <s> hello </s> </s> hello </s> */
    size_t specials[5] = {0};
    for (size_t i = 0; i < n; i++)
        if (mlm_encoding_ids(enc)[i] < 5) specials[mlm_encoding_ids(enc)[i]]++;
    ck_assert_int_eq(mlm_encoding_ids(enc)[0], 0);
    ck_assert_int_eq(mlm_encoding_ids(enc)[n - 1], 2);
    ck_assert_uint_eq(specials[0], 1);
    ck_assert_uint_eq(specials[2], 3);
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    /* only a pair template: single is HF's default "$0", no special token */
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tr, "template_pair", "$A </s> $B"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, &tok), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_encode(tok, "hello", 5, NULL, 0, 1, &enc), MLM_OK);
    for (size_t i = 0; i < mlm_encoding_length(enc); i++)
        ck_assert_int_ge(mlm_encoding_ids(enc)[i], 5);
    mlm_encoding_free(enc);
    mlm_tokenizer_free(tok);
    mlm_tokenizer_trainer_free(tr);
}
END_TEST

/* A file is read as lines with their endings, across buffer refills,
 * the last line without one: the same as feeding each line. */
START_TEST(feed_file_equals_feeding_lines)
{
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    /* > 4 MiB so that the reader refills; one long line of ~1 MiB */
    static const char *const words[] = {"lorem", "ipsum", "dolor", "한국어", "naïve", "x2"};
    unsigned r = 1;
    size_t total = 0;
    for (int line = 0; total < (5u << 20); line++) {
        int n = line == 3 ? 150000 : 1 + (int)(r % 40);
        for (int w = 0; w < n; w++) {
            r = r * 1103515245u + 12345u;
            total += (size_t)fprintf(f, "%s%s", w ? " " : "", words[(r >> 16) % 6]);
        }
        fputc('\n', f);
        total++;
    }
    fputs("tail without newline", f);
    fclose(f);

    static const char *const settings[] = {"vocab_size", "280", "min_frequency", "0", "threads",
                                           "2", NULL};
    mlm_tokenizer *a = train_file(MLM_TOKENIZER_BYTE_BPE, settings, path);
    size_t nl;
    char *data;
    char **lines = file_lines(path, &nl, &data);
    mlm_tokenizer_trainer *tr = trainer(MLM_TOKENIZER_BYTE_BPE, settings);
    for (size_t i = 0; i < nl; i++)
        ck_assert_int_eq(mlm_tokenizer_trainer_feed(tr, lines[i], strlen(lines[i])), MLM_OK);
    mlm_tokenizer *b = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_finish(tr, &b), MLM_OK);
    mlm_tokenizer_trainer_free(tr);
    ck_assert_int_eq(mlm_tokenizer_vocab_size(a), 280);
    ck_assert_int_eq(mlm_tokenizer_vocab_size(b), 280);
    for (int32_t i = 0; i < 280; i++)
        ck_assert_str_eq(mlm_tokenizer_id_to_token(a, i), mlm_tokenizer_id_to_token(b, i));
    ck_assert_int_ge(mlm_tokenizer_token_to_id(a, "\xc4\x8a"), 0); /* Ċ: the '\n' is counted */
    mlm_tokenizer_free(a);
    mlm_tokenizer_free(b);
    free_lines(lines, nl);
    free(data);

    /* invalid UTF-8 on line 3 is named */
    f = fopen(path, "wb");
    fputs("one\ntwo\nthr\xc3\n", f);
    fclose(f);
    tr = trainer(MLM_TOKENIZER_WORDPIECE, NULL);
    ck_assert_int_eq(mlm_tokenizer_trainer_feed_file(tr, path), MLM_ERR_FORMAT);
    ck_assert_msg(strstr(mlm_last_error(), "line 3") != NULL, "%s", mlm_last_error());
    mlm_tokenizer_trainer_free(tr);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Every allocation of a small training run fails in turn: an error, never a
 * crash (leaks show under make check SANITIZE=1). */
START_TEST(allocation_failures)
{
    const char *text = "hello world, hello there.\n한국어 텍스트\n";
    int succeeded = 0;
    for (long n = 0; n < 5000 && !succeeded; n++) {
        for (int kind = 0; kind <= 1; kind++) {
            mlm_tokenizer_trainer *tr = NULL;
            mlm_tokenizer *tok = NULL;
            mem_fail_after(n);
            mlm_status st = mlm_tokenizer_trainer_new((mlm_tokenizer_model_kind)kind, &tr);
            if (!st) st = mlm_tokenizer_trainer_set(tr, "special_tokens", "[\"[UNK]\", \"<s>\"]");
            if (!st) st = mlm_tokenizer_trainer_set(tr, "threads", "2");
            if (!st && kind == 1) st = mlm_tokenizer_trainer_set(tr, "template_single", "<s> $A");
            if (!st) st = mlm_tokenizer_trainer_feed(tr, text, strlen(text));
            if (!st) st = mlm_tokenizer_trainer_finish(tr, &tok);
            mem_fail_after(-1);
            ck_assert_msg(st == MLM_OK || st == MLM_ERR_OUT_OF_MEMORY, "n=%ld: %s", n,
                          mlm_last_error());
            if (st == MLM_OK && kind == 1) succeeded = 1;
            mlm_tokenizer_free(tok);
            mlm_tokenizer_trainer_free(tr);
        }
    }
    ck_assert(succeeded);
}
END_TEST

Suite *tokenizer_trainer_suite(void)
{
    Suite *s = suite_create("tokenizer_trainer");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, settings_and_errors);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, feed_file_equals_feeding_lines);
    tcase_add_test(tc, hf_trained_tokenizers_load);
    tcase_add_test(tc, bytebpe_api_matches_hf_on_wikitext2);
    tcase_add_test(tc, default_pipelines_round_trip_through_hf);
    tcase_add_test(tc, wordpiece_properties_and_hf_overlap);
    tcase_add_test(tc, korean_corpus);
    tcase_add_test(tc, t5_conventions_match_hf);
    tcase_add_test(tc, template_settings);
    suite_add_tcase(s, tc);
    return s;
}
