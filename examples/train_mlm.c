/* The whole masked-LM flow with the public API only, on a corpus this
 * program writes itself (no network, nothing outside the output folder):
 *
 *   1. a corpus of facts ("the capital of X is Y", with Korean templates
 *      "X의 수도는 Y 이다"): 40 invented countries and their capitals;
 *   2. a WordPiece tokenizer trained on it;
 *   3. a dataset: one sentence a row, tokenized, split 90/10 (seeded);
 *   4. a 2-layer BERT (hidden 64) trained from scratch with the Trainer
 *      (AdamW, linear schedule), eval perplexity printed after every epoch;
 *   5. the model and tokenizer saved in Hugging Face's layout;
 *   6. fill-mask on sentences whose answers the corpus makes learnable,
 *      printed as transformers' pipeline("fill-mask") prints them.
 *
 * The facts need ~150 epochs: the model first learns the templates (eval
 * perplexity ~2.3) and only then ties each country to its capital (see the
 * learning test in tests/test_trainer.c). 250 epochs take ~80 s on 2 cores.
 *
 * Usage: train_mlm OUT_DIR [EPOCHS (250)] [THREADS (2)]
 * Exit status 3 when a fill-mask answer is wrong. */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_FACTS 40
#define N_TEMPLATES 8
#define N_PREFIXES 4

static const char *const cons[] = {"b", "d", "f", "g", "k", "l", "m",
                                   "n", "p", "r", "s", "t", "v", "z"};
static const char *const vows[] = {"a", "e", "i", "o", "u"};
static const char *const prefixes[N_PREFIXES] = {"", "everyone knows that ", "it is true that ",
                                                 "we learned that "};

static void country(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sr%sia", cons[i % 14], vows[i % 5], vows[(i + 2) % 5]);
}

static void city(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sox", vows[i % 5], cons[i % 14]);
}

/* city_text: the city as written (NULL: the fact's own city). */
static void sentence(int fact, int tmpl, int prefix, const char *city_text, char *out, size_t cap)
{
    char x[32], y[32];
    country(fact, x, sizeof x);
    if (city_text)
        snprintf(y, sizeof y, "%s", city_text);
    else
        city(fact, y, sizeof y);
    const char *p = prefixes[prefix];
    switch (tmpl) {
    case 0: snprintf(out, cap, "%sthe capital of %s is %s .", p, x, y); break;
    case 1: snprintf(out, cap, "%s%s is the capital of %s .", p, y, x); break;
    case 2: snprintf(out, cap, "%s%s has its capital at %s .", p, x, y); break;
    case 3: snprintf(out, cap, "%sthe capital city of %s is called %s .", p, x, y); break;
    case 4: snprintf(out, cap, "%sin %s , the seat of government is %s .", p, x, y); break;
    case 5: snprintf(out, cap, "%stravelers to %s arrive first in %s .", p, x, y); break;
    case 6: snprintf(out, cap, "%s%s의 수도는 %s 이다 .", p, x, y); break;
    default: snprintf(out, cap, "%s%s 는 %s의 수도이다 .", p, y, x); break;
    }
}

static int fail(const char *what)
{
    fprintf(stderr, "train_mlm: %s: %s\n", what, mlm_last_error());
    return 1;
}

/* ---------------------------------------------------------------- logging */

typedef struct progress {
    int n_eval, epochs;
    double first_ppl, last_ppl;
} progress;

static double field(const char *rec, const char *key, int *found)
{
    const char *p = strstr(rec, key);
    *found = p != NULL;
    return p ? strtod(p + strlen(key), NULL) : 0.0;
}

static int on_log(const char *rec, void *user)
{
    progress *pg = user;
    int has_ppl, has_epoch, has_loss;
    double ppl = field(rec, "\"perplexity\":", &has_ppl);
    double epoch = field(rec, "\"epoch\":", &has_epoch);
    double loss = field(rec, "\"eval_loss\":", &has_loss);
    if (has_ppl && has_loss) {
        if (pg->n_eval == 0)
            pg->first_ppl = ppl;
        pg->last_ppl = ppl;
        pg->n_eval++;
        /* every epoch is evaluated; the first 5, every 10th and the last shown */
        int e = pg->n_eval;
        if (e <= 5 || e % 10 == 0 || e == pg->epochs) {
            printf("  epoch %5.1f  eval_loss %.4f  perplexity %8.4f\n", has_epoch ? epoch : 0.0,
                   loss, ppl);
            fflush(stdout);
        }
    } else if (strstr(rec, "\"train_loss\":")) {
        int found;
        printf("  done: train_loss %.4f\n", field(rec, "\"train_loss\":", &found));
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: train_mlm OUT_DIR [EPOCHS] [THREADS]\n");
        return 2;
    }
    const char *out = argv[1];
    int epochs = argc > 2 ? atoi(argv[2]) : 250;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (epochs < 1 || threads < 1) {
        fprintf(stderr, "train_mlm: EPOCHS and THREADS must be >= 1\n");
        return 2;
    }
    mkdir(out, 0777);

    /* 1. corpus */
    size_t n = N_FACTS * N_TEMPLATES * N_PREFIXES, k = 0;
    char **texts = malloc(n * sizeof *texts);
    if (!texts)
        return 1;
    for (int f = 0; f < N_FACTS; f++)
        for (int t = 0; t < N_TEMPLATES; t++)
            for (int p = 0; p < N_PREFIXES; p++) {
                char s[256];
                sentence(f, t, p, NULL, s, sizeof s);
                texts[k++] = strdup(s);
            }
    printf("== 1. corpus: %zu sentences about %d countries and their capitals, e.g.\n", n,
           N_FACTS);
    printf("     %s\n     %s\n", texts[0], texts[6 * N_PREFIXES]);

    /* 2. tokenizer */
    mlm_tokenizer_trainer *tt = NULL;
    mlm_tokenizer *tok = NULL;
    if (mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tt) != MLM_OK ||
        mlm_tokenizer_trainer_set(tt, "vocab_size", "400") != MLM_OK ||
        mlm_tokenizer_trainer_set(tt, "min_frequency", "1") != MLM_OK)
        return fail("tokenizer trainer");
    for (size_t i = 0; i < n; i++)
        if (mlm_tokenizer_trainer_feed(tt, texts[i], strlen(texts[i])) != MLM_OK)
            return fail("tokenizer trainer feed");
    if (mlm_tokenizer_trainer_finish(tt, &tok) != MLM_OK)
        return fail("tokenizer training");
    mlm_tokenizer_trainer_free(tt);
    printf("== 2. WordPiece tokenizer: %d tokens\n", (int)mlm_tokenizer_vocab_size(tok));

    /* 3. dataset */
    mlm_dataset *raw = NULL, *tokd = NULL, *train = NULL, *eval = NULL;
    if (mlm_dataset_new(&raw) != MLM_OK ||
        mlm_dataset_add_string_column(raw, "text", (const char *const *)texts, n) != MLM_OK)
        return fail("dataset");
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    if (mlm_dataset_tokenize(raw, tok, "text", "{\"remove_columns\": \"all\"}", &tokd) != MLM_OK)
        return fail("tokenize");
    if (mlm_dataset_train_test_split(tokd, 0.1, 42, 1, &train, &eval) != MLM_OK)
        return fail("split");
    printf("== 3. dataset: line by line, %zu train rows, %zu eval rows\n",
           mlm_dataset_num_rows(train), mlm_dataset_num_rows(eval));

    /* 4. model and Trainer */
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\":\"bert\",\"vocab_size\":%d,\"hidden_size\":64,"
             "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"intermediate_size\":128,"
             "\"max_position_embeddings\":64,\"type_vocab_size\":2,\"hidden_act\":\"gelu\","
             "\"hidden_dropout_prob\":0.0,\"attention_probs_dropout_prob\":0.0,"
             "\"initializer_range\":0.02,\"layer_norm_eps\":1e-12,\"pad_token_id\":%d}",
             (int)mlm_tokenizer_vocab_size(tok), (int)mlm_tokenizer_token_to_id(tok, "[PAD]"));
    mlm_model *model = NULL;
    mlm_collator *col = NULL;
    mlm_trainer *tr = NULL;
    if (mlm_model_new(cfg, strlen(cfg), 11, &model) != MLM_OK)
        return fail("model");
    if (mlm_collator_new(tok, "{\"seed\": 3, \"mlm_probability\": 0.25}", &col) != MLM_OK)
        return fail("collator");
    if (mlm_trainer_new(model, col, train, eval, &tr) != MLM_OK)
        return fail("trainer");
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"num_train_epochs\": %d, \"learning_rate\": 3e-3, "
             "\"warmup_ratio\": 0.05, \"weight_decay\": 0.01, "
             "\"per_device_train_batch_size\": 32, \"per_device_eval_batch_size\": 64, "
             "\"eval_strategy\": \"epoch\", \"save_strategy\": \"no\", \"logging_steps\": 1000, "
             "\"num_threads\": %d}",
             out, epochs, threads);
    if (mlm_trainer_set_json(tr, opts) != MLM_OK)
        return fail("trainer options");
    progress pg = {0, epochs, 0.0, 0.0};
    mlm_trainer_set_callback(tr, on_log, &pg);
    printf("== 4. training a 2-layer BERT (hidden 64) from scratch, %d epochs, 25%% masked\n",
           epochs);
    fflush(stdout);
    if (mlm_trainer_train(tr) != MLM_OK)
        return fail("training");
    printf("     eval perplexity %.3f -> %.3f\n", pg.first_ppl, pg.last_ppl);

    /* 5. save (the Trainer wrote config.json and model.safetensors) */
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", out);
    if (mlm_tokenizer_save(tok, path) != MLM_OK)
        return fail("save");
    printf("== 5. saved to %s (config.json, model.safetensors, tokenizer.json)\n", out);

    /* 6. fill-mask from the saved folder */
    mlm_pipeline *pipe = NULL;
    if (mlm_pipeline_load(out, &pipe) != MLM_OK)
        return fail("loading the saved model");
    mlm_pipeline_set_threads(pipe, threads);
    printf("== 6. fill-mask with the saved model\n");
    static const int facts[][2] = {{0, 0}, {7, 1}, {12, 5}, {21, 6}, {33, 7}};
    int right = 0, total = 0;
    for (size_t q = 0; q < sizeof facts / sizeof facts[0]; q++) {
        char s[256], want[32];
        sentence(facts[q][0], facts[q][1], 0, "[MASK]", s, sizeof s);
        city(facts[q][0], want, sizeof want);
        mlm_fill_result *r = NULL;
        if (mlm_fill_mask(pipe, s, 3, &r) != MLM_OK)
            return fail("fill-mask");
        printf(">>> unmasker(\"%s\")   # the corpus says: %s\n[", s, want);
        for (size_t j = 0; j < mlm_fill_result_n_predictions(r, 0); j++)
            printf("%s{'score': %.4f, 'token': %d, 'token_str': '%s', 'sequence': '%s'}",
                   j ? ",\n " : "", (double)mlm_fill_result_score(r, 0, j),
                   (int)mlm_fill_result_token(r, 0, j), mlm_fill_result_token_str(r, 0, j),
                   mlm_fill_result_sequence(r, 0, j));
        printf("]\n");
        right += strcmp(mlm_fill_result_token_str(r, 0, 0), want) == 0;
        total++;
        mlm_fill_result_free(r);
    }
    printf("== fill-mask: %d/%d answers right\n", right, total);

    mlm_pipeline_free(pipe);
    mlm_trainer_free(tr);
    mlm_collator_free(col);
    mlm_model_free(model);
    mlm_dataset_free(train);
    mlm_dataset_free(eval);
    mlm_dataset_free(tokd);
    mlm_dataset_free(raw);
    mlm_tokenizer_free(tok);
    return right == total ? 0 : 3;
}
