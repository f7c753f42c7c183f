/* mlm train-tokenizer: HF tokenizers' training from the command line, as
 * users of ByteLevelBPETokenizer().train(files, vocab_size=...,
 * min_frequency=..., special_tokens=[...]) and
 * BertWordPieceTokenizer().train(...) know it. The result is written as
 * save_pretrained writes it, so that both HF and mlm load the folder.
 *
 * Files are read as HF's train(files) reads them, a line per sequence;
 * with --text-column they are loaded as datasets (JSON, JSON Lines, CSV,
 * TSV, text) and each row's text is one sequence, as train_from_iterator
 * over a dataset column. */
#include <mlm.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

enum { MODEL, VOCAB, MINFREQ, SPECIAL, LOWER, TSINGLE, TPAIR, COLUMN, QUOTING, THREADS, OUT, NOPTS };

/* "[PAD],[UNK]" (or a JSON array as the library takes it) → a JSON array. */
static char *special_tokens_json(const char *list)
{
    if (list[0] == '[')
        return strdup(list);
    cJSON *a = cJSON_CreateArray();
    char *copy = strdup(list), *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; a && t;
         t = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(a, cJSON_CreateString(t));
    char *json = a && copy ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    free(copy);
    return json;
}

/* Hand the options to the trainer under HF's names; a value it refuses is a
 * usage error naming the flag. */
static int configure(mlm_tokenizer_trainer *tr, const cli_option *opts, int threads)
{
    static const struct {
        int opt;
        const char *name;
    } map[] = {{VOCAB, "vocab_size"},         {MINFREQ, "min_frequency"},
               {LOWER, "lowercase"},          {TSINGLE, "template_single"},
               {TPAIR, "template_pair"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *v = opts[map[i].opt].value;
        if (v && mlm_tokenizer_trainer_set(tr, map[i].name, v) != MLM_OK) {
            fprintf(stderr, "mlm: --%s: %s\n", opts[map[i].opt].name, mlm_last_error());
            return EXIT_USAGE;
        }
    }
    if (opts[SPECIAL].value) {
        char *json = special_tokens_json(opts[SPECIAL].value);
        mlm_status st = json ? mlm_tokenizer_trainer_set(tr, "special_tokens", json)
                             : MLM_ERR_OUT_OF_MEMORY;
        free(json);
        if (st != MLM_OK) {
            fprintf(stderr, "mlm: --special-tokens: %s\n", mlm_last_error());
            return EXIT_USAGE;
        }
    }
    char n[16];
    snprintf(n, sizeof n, "%d", threads < 256 ? threads : 256); /* the trainer's most */
    mlm_status st = mlm_tokenizer_trainer_set(tr, "threads", n);
    return st == MLM_OK ? 0 : cli_fail("--threads", st);
}

/* Every row's text in `column` of a file loaded as a dataset; quoting is
 * CSV's ("none" reads quotes as text, as csv.QUOTE_NONE: KorSTS needs it),
 * or NULL. */
static int feed_column(mlm_tokenizer_trainer *tr, const char *path, const char *column,
                       const char *quoting)
{
    char load_opts[64] = "";
    if (quoting)
        snprintf(load_opts, sizeof load_opts, "{\"quoting\": \"%s\"}", quoting);
    mlm_dataset *ds = NULL;
    mlm_status st = mlm_dataset_load(path, load_opts, &ds);
    if (st != MLM_OK)
        return cli_fail(path, st);
    mlm_column_type type;
    st = mlm_dataset_column_type(ds, column, &type);
    if (st == MLM_OK && type != MLM_COLUMN_STRING) {
        fprintf(stderr, "mlm: %s: column '%s' is %s, not text\n", path, column,
                mlm_column_type_name(type));
        mlm_dataset_free(ds);
        return EXIT_RUNTIME;
    }
    for (size_t r = 0; st == MLM_OK && r < mlm_dataset_num_rows(ds); r++) {
        const char *s;
        size_t len;
        if ((st = mlm_dataset_get_string(ds, column, r, &s, &len)) == MLM_OK)
            st = mlm_tokenizer_trainer_feed(tr, s, len);
    }
    mlm_dataset_free(ds);
    return st == MLM_OK ? 0 : cli_fail(path, st);
}

int cmd_train_tokenizer(int argc, char **argv)
{
    cli_option opts[NOPTS] = {
        [MODEL] = {"model", ARG_VALUE, NULL},
        [VOCAB] = {"vocab-size", ARG_VALUE, NULL},
        [MINFREQ] = {"min-frequency", ARG_VALUE, NULL},
        [SPECIAL] = {"special-tokens", ARG_VALUE, NULL},
        [LOWER] = {"lowercase", ARG_VALUE, NULL},
        [TSINGLE] = {"template-single", ARG_VALUE, NULL},
        [TPAIR] = {"template-pair", ARG_VALUE, NULL},
        [COLUMN] = {"text-column", ARG_VALUE, NULL},
        [QUOTING] = {"quoting", ARG_VALUE, NULL},
        [THREADS] = {"threads", ARG_VALUE, NULL},
        [OUT] = {"out", ARG_VALUE, NULL},
    };
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = (size_t)argc;
    if (!files)
        return cli_fail("train-tokenizer", MLM_ERR_OUT_OF_MEMORY);
    int threads = 1;
    const char *model = NULL;
    if (cli_parse(argc, argv, 2, opts, NOPTS, files, &nfiles) == 0)
        model = opts[MODEL].value;
    int wordpiece = model && strcmp(model, "wordpiece") == 0;
    int bad = !model || (!wordpiece && strcmp(model, "bpe") != 0) || !opts[VOCAB].value ||
              !opts[OUT].value || nfiles == 0 ||
              (opts[QUOTING].value && (!opts[COLUMN].value ||
                                       (strcmp(opts[QUOTING].value, "none") != 0 &&
                                        strcmp(opts[QUOTING].value, "minimal") != 0))) ||
              cli_parse_threads(opts[THREADS].value, &threads) != 0;
    if (bad) {
        free(files);
        return cli_usage_error("train-tokenizer");
    }
    mlm_tokenizer_trainer *tr = NULL;
    mlm_tokenizer *tok = NULL;
    mlm_status st =
        mlm_tokenizer_trainer_new(wordpiece ? MLM_TOKENIZER_WORDPIECE : MLM_TOKENIZER_BYTE_BPE, &tr);
    int rc = st == MLM_OK ? configure(tr, opts, threads) : cli_fail("trainer", st);
    for (size_t i = 0; rc == 0 && i < nfiles; i++) {
        if (opts[COLUMN].value)
            rc = feed_column(tr, files[i], opts[COLUMN].value, opts[QUOTING].value);
        else if ((st = mlm_tokenizer_trainer_feed_file(tr, files[i])) != MLM_OK)
            rc = cli_fail(files[i], st);
    }
    if (rc == 0 && (st = mlm_tokenizer_trainer_finish(tr, &tok)) != MLM_OK)
        rc = cli_fail("training", st);
    if (rc == 0 && (st = mlm_tokenizer_save_pretrained(tok, opts[OUT].value)) != MLM_OK)
        rc = cli_fail(opts[OUT].value, st);
    if (rc == 0)
        printf("%s: %d tokens (%s) from %zu file%s: tokenizer.json, tokenizer_config.json, "
               "special_tokens_map.json\n",
               opts[OUT].value, mlm_tokenizer_vocab_size(tok), wordpiece ? "WordPiece" : "byte-level BPE",
               nfiles, nfiles == 1 ? "" : "s");
    mlm_tokenizer_free(tok);
    mlm_tokenizer_trainer_free(tr);
    free(files);
    return rc;
}
