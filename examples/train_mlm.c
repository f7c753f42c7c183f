/* train_mlm — the seed tutorial's whole masked-language-modeling flow in C,
 * with the public API only. Each step is a line of the seed's Python:
 *
 *   load_dataset("eli5_category")       1. ELI5 records (JSON Lines) loaded;
 *   eli5.flatten()                         "answers" → "answers.text", ...
 *   AutoTokenizer.from_pretrained(...)  2. a WordPiece tokenizer trained on
 *                                          the answers (nothing downloaded)
 *   map(preprocess_function)            3. " ".join(answers.text), tokenized;
 *   map(group_texts, batched=True)         cut into blocks of 32 tokens;
 *   train_test_split(test_size=0.2)        train and test blocks
 *   DataCollatorForLanguageModeling     4. 15% of the tokens masked
 *   AutoModelForMaskedLM                   a small BERT from its config
 *   Trainer(eval_strategy="epoch", ...)    trained, eval perplexity each epoch
 *   math.exp(eval_results["eval_loss"]) 5. Perplexity: X
 *   trainer.save_model()                6. HF's layout: config.json,
 *                                          model.safetensors, tokenizer.json
 *   pipeline("fill-mask")(text, top_k=3) 7. printed as Python prints it
 *
 * With no --eli5 it first writes its corpus, OUT_DIR/eli5_capitals.jsonl:
 * 7000 ELI5-shaped questions (q_id, title, selftext, answers: {a_id, text,
 * score, text_urls}, ...), "what is the capital of niruia?" in English or
 * Korean, each with four answers in English and Korean ("the capital of
 * niruia is inox .", "niruia 의 수도는 inox 이다 ."), about 40 invented
 * countries. Nothing comes from the network or from outside the program and
 * everything is seeded, so every run prints the same. The fill-mask
 * questions at the end ask for capitals, which the corpus makes learnable;
 * a wrong answer makes the exit status 3.
 *
 * What to expect: the model first learns the templates (perplexity ~45 →
 * ~5 by epoch 4), then the capitals (~1.3 by epoch 20). Measured with
 * corpus and model seeds 1, 2, 7 and 42: after 20 epochs every one of the
 * 320 (country, template) questions is right; after 14, one seed still
 * missed 4. 20 epochs take about 75 s on 2 cores.
 *
 * With --eli5 FILE the same flow runs on that file instead (JSON or JSON
 * Lines with ELI5's "answers": {"text": [...]}, such as the dummy files of
 * the eli5_category dataset); fill-mask then asks the seed's own question
 * and nothing is checked.
 *
 * Usage: train_mlm [--eli5 FILE] [--epochs N] [--threads N] [--block-size N]
 *                  OUT_DIR
 * Exit status: 0 done, 1 an error (the library's message is printed),
 * 2 bad usage, 3 a fill-mask answer was wrong. */
#include <mlm.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ settings */

/* The seed's block_size is 128. Here a block holds three or four answers
 * (a record is ~32 tokens), enough for group_texts to put facts side by
 * side, and the small model runs faster on short blocks. */
#define DEFAULT_BLOCK_SIZE 32

/* The seed fine-tunes distilroberta-base, which already knows English:
 * 3 epochs at 2e-5, batches of 8 (HF's default). This model starts from
 * random weights and must learn the words and 40 facts, which takes many
 * more steps at a much higher rate; batches of 32 keep that rate stable
 * (in a trial with batches of 8, 3e-3 stalled) and give the two threads
 * bigger products. */
#define DEFAULT_EPOCHS 20
#define LEARNING_RATE "2e-3"
#define TRAIN_BATCH 32

static const char model_dirname[] = "my_awesome_eli5_mlm_model"; /* the seed's output_dir */
static const char corpus_name[] = "eli5_capitals.jsonl";

/* OUT_DIR is at most MAX_OUT bytes, so every path below fits PATH_CAP. */
#define MAX_OUT 1024
#define PATH_CAP (MAX_OUT + 64)

/* --------------------------------------------------- 0. the demo corpus */

#define N_COUNTRIES 40
#define N_TEMPLATES 8 /* 0..5 English, 6..7 Korean */
#define N_ANSWERS 4   /* answers per question, each in another template */
#define N_ROUNDS 175  /* each round asks about every country once: 7000 questions */

static const char *const cons[] = {"b", "d", "f", "g", "k", "l", "m",
                                   "n", "p", "r", "s", "t", "v", "z"};
static const char *const vows[] = {"a", "e", "i", "o", "u"};

/* Names made of syllables no real word has, so what the model fills in can
 * only come from this corpus. Distinct for i < 70. */
static void country(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sr%sia", cons[i % 14], vows[i % 5], vows[(i + 2) % 5]);
}

static void city(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sox", vows[i % 5], cons[i % 14]);
}

/* One answer: country i's capital in template tmpl; city_text replaces
 * the city (NULL: the true one; the mask token for the questions).
 * Korean particles (의, 는, 이다) are written apart from the names so that
 * a name is the same word in both languages: a tokenizer trained on this
 * little text would otherwise learn "X의" as a token of its own, and the
 * Korean answers would have to teach every fact again (measured: the
 * template "X의 수도는" was the one the model got wrong). */
static void answer(int i, int tmpl, const char *city_text, char *out, size_t cap)
{
    char x[32], y[32];
    country(i, x, sizeof x);
    if (city_text)
        snprintf(y, sizeof y, "%s", city_text);
    else
        city(i, y, sizeof y);
    switch (tmpl) {
    case 0: snprintf(out, cap, "the capital of %s is %s .", x, y); break;
    case 1: snprintf(out, cap, "%s is the capital of %s .", y, x); break;
    case 2: snprintf(out, cap, "%s has its capital at %s .", x, y); break;
    case 3: snprintf(out, cap, "the capital city of %s is called %s .", x, y); break;
    case 4: snprintf(out, cap, "in %s , the seat of government is %s .", x, y); break;
    case 5: snprintf(out, cap, "travelers to %s arrive first in %s .", x, y); break;
    case 6: snprintf(out, cap, "%s 의 수도는 %s 이다 .", x, y); break;
    default: snprintf(out, cap, "%s 는 %s 의 수도이다 .", y, x); break;
    }
}

/* splitmix64: a fixed generator, so that the corpus is the same on every
 * machine (rand() is not). */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int random_below(uint64_t *state, int n)
{
    return (int)(next_random(state) % (uint64_t)n);
}

/* The first k items of a[0..n) shuffled (Fisher-Yates, stopped early). */
static void shuffle_first(int *a, int n, int k, uint64_t *rng)
{
    for (int i = 0; i < k; i++) {
        int j = i + random_below(rng, n - i), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* A JSON string; the corpus has no control character to escape. */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* One ELI5 record: a question about country c's capital, in English or
 * Korean, and N_ANSWERS answers to it in different templates, with ELI5's
 * other fields around them (ids, scores best first, empty url lists). */
static void write_record(FILE *f, int q, int c, uint64_t *rng)
{
    char name[32], title[128], text[256];
    int tmpl[N_TEMPLATES];
    country(c, name, sizeof name);
    if (q % 3 == 2)
        snprintf(title, sizeof title, "%s의 수도는 어디인가요?", name);
    else
        snprintf(title, sizeof title, "ELI5: what is the capital of %s?", name);
    fprintf(f, "{\"q_id\": \"cap%05d\", \"category\": \"Geography\", \"title\": ", q);
    put_json_string(f, title);
    fprintf(f, ", \"title_urls\": {\"url\": []}, \"selftext\": \"\", "
               "\"selftext_urls\": {\"url\": []}, \"subreddit\": \"explainlikeimfive\", "
               "\"answers\": {\"a_id\": [");
    for (int k = 0; k < N_ANSWERS; k++)
        fprintf(f, "%s\"c%05d%c\"", k ? ", " : "", q, 'a' + k);
    fprintf(f, "], \"text\": [");
    for (int t = 0; t < N_TEMPLATES; t++)
        tmpl[t] = t;
    shuffle_first(tmpl, N_TEMPLATES, N_ANSWERS, rng);
    for (int k = 0; k < N_ANSWERS; k++) {
        answer(c, tmpl[k], NULL, text, sizeof text);
        fprintf(f, "%s", k ? ", " : "");
        put_json_string(f, text);
    }
    fprintf(f, "], \"score\": [");
    for (int k = 0, score = 50; k < N_ANSWERS; k++) {
        score = 1 + random_below(rng, score);
        fprintf(f, "%s%d", k ? ", " : "", score);
    }
    fprintf(f, "], \"text_urls\": [");
    for (int k = 0; k < N_ANSWERS; k++)
        fprintf(f, "%s[]", k ? ", " : "");
    fprintf(f, "]}}\n");
}

/* The corpus as JSON Lines, written beside and renamed into place so that
 * a failed run leaves no half file. Every round asks about every country
 * once, in a new order. */
static int write_corpus(const char *path)
{
    char tmp[PATH_CAP + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return -1;
    }
    uint64_t rng = 42;
    int order[N_COUNTRIES], q = 0;
    for (int i = 0; i < N_COUNTRIES; i++)
        order[i] = i;
    for (int round = 0; round < N_ROUNDS; round++) {
        shuffle_first(order, N_COUNTRIES, N_COUNTRIES, &rng);
        for (int k = 0; k < N_COUNTRIES; k++)
            write_record(f, q++, order[k], &rng);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        perror(path);
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- printing */

static int fail(const char *what)
{
    fprintf(stderr, "train_mlm: %s: %s\n", what, mlm_last_error());
    return 1;
}

/* A float as Python's repr() writes it: the fewest digits that read back
 * as the same value, and "1.0" rather than "1". */
static void put_py_float(double v)
{
    char s[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtod(s, NULL) == v)
            break;
    }
    printf("%s%s", s, strpbrk(s, ".en") ? "" : ".0");
}

/* A str as Python's repr() writes it: single quotes unless the text has a
 * single quote and no double quote; backslash, the quote and line breaks
 * escaped. */
static void put_py_str(const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    putchar(q);
    for (; *s; s++) {
        if (*s == '\n')
            fputs("\\n", stdout);
        else if (*s == '\t')
            fputs("\\t", stdout);
        else if (*s == '\\' || *s == q)
            printf("\\%c", *s);
        else
            putchar(*s);
    }
    putchar(q);
}

/* At most max bytes of s, cut at a character boundary (answers are UTF-8,
 * and Korean characters are 3 bytes). */
static void put_start(const char *s, size_t len, size_t max)
{
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    printf("    %.*s%s\n", (int)len, s, len < strlen(s) ? " ..." : "");
}

/* ---------------------------------------------------------- training log */

/* A number from a Trainer log record (one line of JSON); strstr is enough
 * for these flat records and keeps the example free of a JSON library. */
static int number(const char *rec, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(rec, pat);
    if (p)
        *v = strtod(p + strlen(pat), NULL);
    return p != NULL;
}

typedef struct epoch_table {
    double train_loss; /* the epoch's mean step loss: logging_steps is one epoch */
    double first_ppl, last_ppl;
    int n_eval;
} epoch_table;

/* The table HF's Trainer shows in a notebook, one row per epoch, with the
 * perplexity the seed computes beside it. */
static int on_log(const char *rec, void *user)
{
    epoch_table *t = user;
    double loss, ppl, epoch, v;
    if (number(rec, "loss", &v))
        t->train_loss = v;
    if (!number(rec, "eval_loss", &loss) || !number(rec, "perplexity", &ppl) ||
        !number(rec, "epoch", &epoch))
        return 0;
    if (t->n_eval++ == 0) {
        printf("     Epoch  Training Loss  Validation Loss  Perplexity\n");
        t->first_ppl = ppl;
    }
    t->last_ppl = ppl;
    printf("     %5.0f  %13.4f  %15.4f  %10.2f\n", epoch, t->train_loss, loss, ppl);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------ the flow */

typedef struct options {
    const char *out, *eli5;
    int epochs, threads, block_size;
} options;

/* Everything the flow makes, freed in one place. */
typedef struct flow {
    const options *o;
    mlm_dataset *eli5, *tokenized, *lm, *train, *test;
    mlm_tokenizer *tok;
    mlm_collator *collator;
    mlm_model *model;
    mlm_trainer *trainer;
    mlm_pipeline *pipe;
    epoch_table table;
    char model_dir[PATH_CAP];
} flow;

static void flow_free(flow *f)
{
    mlm_pipeline_free(f->pipe);
    mlm_trainer_free(f->trainer);
    mlm_model_free(f->model);
    mlm_collator_free(f->collator);
    mlm_dataset_free(f->train);
    mlm_dataset_free(f->test);
    mlm_dataset_free(f->lm);
    mlm_dataset_free(f->tokenized);
    mlm_dataset_free(f->eli5);
    mlm_tokenizer_free(f->tok);
}

/* 1. load_dataset + flatten: mlm_dataset_load flattens nested objects
 * itself, so ELI5's "answers" arrive as answers.a_id, answers.text, ... */
static int load_eli5(flow *f, const char *path)
{
    if (mlm_dataset_load(path, NULL, &f->eli5) != MLM_OK)
        return fail("load_dataset");
    printf("== 1. load_dataset(\"%s\").flatten()\nDataset({\n    features: [", path);
    for (size_t i = 0; i < mlm_dataset_num_columns(f->eli5); i++)
        printf("%s'%s'", i ? ", " : "", mlm_dataset_column_name(f->eli5, i));
    printf("],\n    num_rows: %zu\n})\n", mlm_dataset_num_rows(f->eli5));
    size_t n, len;
    const char *s;
    if (mlm_dataset_get_string_list_count(f->eli5, "answers.text", 0, &n) != MLM_OK)
        return fail("answers.text");
    printf("answers.text of the first record:\n");
    for (size_t k = 0; k < n && k < N_ANSWERS; k++)
        if (mlm_dataset_get_string_list_item(f->eli5, "answers.text", 0, k, &s, &len) == MLM_OK)
            put_start(s, len, 100);
    return 0;
}

/* Feed every answer of every record to the tokenizer trainer. One by one
 * counts the same words as " ".join(answers): the pre-tokenizer splits at
 * the spaces. */
static int feed_answers(const mlm_dataset *ds, mlm_tokenizer_trainer *tt)
{
    for (size_t row = 0; row < mlm_dataset_num_rows(ds); row++) {
        size_t n, len;
        const char *s;
        if (mlm_dataset_get_string_list_count(ds, "answers.text", row, &n) != MLM_OK)
            return fail("answers.text");
        for (size_t k = 0; k < n; k++)
            if (mlm_dataset_get_string_list_item(ds, "answers.text", row, k, &s, &len) !=
                    MLM_OK ||
                mlm_tokenizer_trainer_feed(tt, s, len) != MLM_OK)
                return fail("tokenizer training");
    }
    return 0;
}

/* 2. The seed downloads distilroberta-base's tokenizer; we train one on the
 * answers, as HF's BertWordPieceTokenizer().train_from_iterator does. The
 * vocabulary stops growing when every word is whole (243 tokens for the
 * demo corpus), so 2000 is only a ceiling for larger files. */
static int train_tokenizer(flow *f)
{
    mlm_tokenizer_trainer *tt = NULL;
    int rc = 0;
    if (mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tt) != MLM_OK ||
        mlm_tokenizer_trainer_set(tt, "vocab_size", "2000") != MLM_OK)
        rc = fail("tokenizer trainer");
    if (rc == 0)
        rc = feed_answers(f->eli5, tt);
    if (rc == 0 && mlm_tokenizer_trainer_finish(tt, &f->tok) != MLM_OK)
        rc = fail("tokenizer training");
    mlm_tokenizer_trainer_free(tt);
    if (rc == 0)
        printf("== 2. WordPiece tokenizer trained on answers.text: %d tokens\n",
               (int)mlm_tokenizer_vocab_size(f->tok));
    return rc;
}

/* One block as text, to show what group_texts made. */
static void print_block(const flow *f, const mlm_dataset *ds, size_t row)
{
    const int32_t *ids;
    size_t n, needed;
    char text[4096];
    if (mlm_dataset_get_sequence(ds, "input_ids", row, &ids, &n) == MLM_OK &&
        mlm_tokenizer_decode(f->tok, ids, n, 0, 0, text, sizeof text, &needed) == MLM_OK)
        put_start(text, strlen(text), 400);
}

/* 3. preprocess_function, group_texts, train_test_split. */
static int preprocess(flow *f)
{
    char opts[256];
    /* tokenizer([" ".join(x) for x in examples["answers.text"]]) in
     * map(batched=True, num_proc, remove_columns=column_names): a list
     * column is joined with " " */
    snprintf(opts, sizeof opts,
             "{\"batch_size\": 1000, \"num_proc\": %d, \"remove_columns\": \"all\"}",
             f->o->threads);
    if (mlm_dataset_tokenize(f->eli5, f->tok, "answers.text", opts, &f->tokenized) != MLM_OK)
        return fail("tokenize");
    /* map(group_texts, batched=True): each 1000 rows concatenated and cut
     * into blocks, the remainder dropped */
    if (mlm_dataset_group_texts_batched(f->tokenized, f->o->block_size, 1000, &f->lm) != MLM_OK)
        return fail("group_texts");
    if (mlm_dataset_train_test_split(f->lm, 0.2, 42, 1, &f->train, &f->test) != MLM_OK)
        return fail("train_test_split");
    printf("== 3. tokenized %zu rows; group_texts: %zu blocks of %d tokens, the first:\n",
           mlm_dataset_num_rows(f->tokenized), mlm_dataset_num_rows(f->lm), f->o->block_size);
    print_block(f, f->lm, 0);
    printf("     train_test_split(test_size=0.2): %zu train, %zu test blocks\n",
           mlm_dataset_num_rows(f->train), mlm_dataset_num_rows(f->test));
    return 0;
}

/* AutoModelForMaskedLM.from_config: 2 layers of width 64, random weights.
 * No dropout: so small a model does not overfit facts stated thousands of
 * times, and dropout would slow their learning. Positions for 128 tokens
 * at least, so that fill-mask takes sentences longer than a block. */
static int make_model(flow *f)
{
    int positions = f->o->block_size > 128 ? f->o->block_size : 128;
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"bert\", \"vocab_size\": %d, \"hidden_size\": 64, "
             "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 128, "
             "\"max_position_embeddings\": %d, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", "
             "\"hidden_dropout_prob\": 0.0, \"attention_probs_dropout_prob\": 0.0, "
             "\"initializer_range\": 0.02, \"layer_norm_eps\": 1e-12, \"pad_token_id\": %d}",
             (int)mlm_tokenizer_vocab_size(f->tok), positions,
             (int)mlm_tokenizer_special_id(f->tok, MLM_TOKEN_PAD));
    if (mlm_model_new(cfg, strlen(cfg), 42, &f->model) != MLM_OK)
        return fail("model");
    return 0;
}

/* 4. collator, model, TrainingArguments, trainer.train(). */
static int train(flow *f)
{
    /* DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15) */
    if (mlm_collator_new(f->tok, "{\"mlm_probability\": 0.15, \"seed\": 42}", &f->collator) !=
        MLM_OK)
        return fail("collator");
    if (make_model(f) != 0)
        return 1;
    if (mlm_trainer_new(f->model, f->collator, f->train, f->test, &f->trainer) != MLM_OK)
        return fail("trainer");
    /* The seed's eval_strategy and weight_decay; learning rate, epochs and
     * batch for training from scratch (see the top); one log record per
     * epoch for the table, which stands for HF's progress display (its
     * notebook one), so no tqdm bar; no checkpoints (the model is saved at
     * the end). output_dir by name: a path needs no JSON quoting that way. */
    size_t steps_per_epoch = (mlm_dataset_num_rows(f->train) + TRAIN_BATCH - 1) / TRAIN_BATCH;
    char args[512];
    snprintf(args, sizeof args,
             "{\"eval_strategy\": \"epoch\", \"learning_rate\": %s, \"num_train_epochs\": %d, "
             "\"weight_decay\": 0.01, \"warmup_ratio\": 0.05, "
             "\"per_device_train_batch_size\": %d, \"per_device_eval_batch_size\": 64, "
             "\"logging_steps\": %zu, \"save_strategy\": \"no\", \"num_threads\": %d, "
             "\"disable_tqdm\": true}",
             LEARNING_RATE, f->o->epochs, TRAIN_BATCH, steps_per_epoch, f->o->threads);
    if (mlm_trainer_set(f->trainer, "output_dir", f->model_dir) != MLM_OK ||
        mlm_trainer_set_json(f->trainer, args) != MLM_OK)
        return fail("TrainingArguments");
    mlm_trainer_set_callback(f->trainer, on_log, &f->table);
    printf("== 4. trainer.train(): a 2-layer BERT (%lld parameters) from random weights,\n"
           "     15%% of the tokens masked, eval_strategy \"epoch\", weight_decay 0.01 as the\n"
           "     seed; learning_rate %s, %d epochs, batches of %d, where the seed fine-tunes a\n"
           "     pretrained model (2e-5, 3 epochs, 8): from scratch needs more and faster steps\n",
           (long long)mlm_model_num_parameters(f->model), LEARNING_RATE, f->o->epochs,
           TRAIN_BATCH);
    fflush(stdout);
    if (mlm_trainer_train(f->trainer) != MLM_OK)
        return fail("training");
    return 0;
}

/* 5. eval_results = trainer.evaluate(); math.exp(eval_results["eval_loss"])
 * (the trainer returns the exp too, so this file needs no libm) */
static int evaluate(flow *f)
{
    double eval_loss, perplexity;
    if (mlm_trainer_evaluate(f->trainer, &eval_loss, &perplexity) != MLM_OK)
        return fail("evaluate");
    printf("== 5. trainer.evaluate(): eval_loss %.4f\nPerplexity: %.2f\n", eval_loss,
           perplexity);
    return 0;
}

/* 6. trainer.save_model(): the Trainer wrote config.json and
 * model.safetensors into output_dir; the tokenizer goes beside them. */
static int save(flow *f)
{
    char path[PATH_CAP + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", f->model_dir);
    if (mlm_tokenizer_save(f->tok, path) != MLM_OK)
        return fail("save");
    printf("== 6. saved to %s/ (config.json, model.safetensors, tokenizer.json)\n",
           f->model_dir);
    return 0;
}

/* mask_filler(text, top_k=3), printed as Python prints the list. *right
 * counts the answers equal to want (NULL: nothing to check). */
static int fill_mask(flow *f, const char *text, const char *want, int *right)
{
    mlm_fill_result *r = NULL;
    if (mlm_fill_mask(f->pipe, text, 3, &r) != MLM_OK)
        return fail("fill-mask");
    printf(">>> mask_filler(\"%s\", top_k=3)%s%s\n", text, want ? "   # the corpus says: " : "",
           want ? want : "");
    for (size_t k = 0; k < mlm_fill_result_n_predictions(r, 0); k++) {
        printf("%s{'score': ", k ? ",\n " : "[");
        put_py_float((double)mlm_fill_result_score(r, 0, k));
        printf(",\n  'token': %d,\n  'token_str': ", (int)mlm_fill_result_token(r, 0, k));
        put_py_str(mlm_fill_result_token_str(r, 0, k));
        printf(",\n  'sequence': ");
        put_py_str(mlm_fill_result_sequence(r, 0, k));
        printf("}");
    }
    printf("]\n");
    if (want && strcmp(mlm_fill_result_token_str(r, 0, 0), want) == 0)
        (*right)++;
    mlm_fill_result_free(r);
    return 0;
}

/* The capitals asked, (country, template): English and Korean, the city
 * before and after the country. */
static const int questions[][2] = {{0, 0}, {7, 1}, {12, 5}, {21, 6}, {33, 7}};
#define N_QUESTIONS (int)(sizeof questions / sizeof questions[0])

/* 7. pipeline("fill-mask", output_dir), loaded from the saved folder as a
 * user of the model would load it. */
static int inference(flow *f, int *right)
{
    if (mlm_pipeline_load(f->model_dir, &f->pipe) != MLM_OK)
        return fail("pipeline");
    mlm_pipeline_set_threads(f->pipe, f->o->threads);
    const char *mask = mlm_tokenizer_special_token(f->tok, MLM_TOKEN_MASK);
    printf("== 7. mask_filler = pipeline(\"fill-mask\", \"%s\")\n", f->model_dir);
    char text[256], want[32];
    if (f->o->eli5) {
        snprintf(text, sizeof text, "The Milky Way is a %s galaxy.", mask);
        return fill_mask(f, text, NULL, right);
    }
    for (int q = 0; q < N_QUESTIONS; q++) {
        answer(questions[q][0], questions[q][1], mask, text, sizeof text);
        city(questions[q][0], want, sizeof want);
        if (fill_mask(f, text, want, right) != 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){NULL, NULL, DEFAULT_EPOCHS, 2, DEFAULT_BLOCK_SIZE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--eli5") == 0 && v)
            o->eli5 = v;
        else if (strcmp(a, "--epochs") == 0 && v)
            o->epochs = atoi(v);
        else if (strcmp(a, "--threads") == 0 && v)
            o->threads = atoi(v);
        else if (strcmp(a, "--block-size") == 0 && v)
            o->block_size = atoi(v);
        else if (a[0] != '-' && !o->out) {
            o->out = a;
            continue;
        } else
            return -1;
        i++;
    }
    return o->out && strlen(o->out) <= MAX_OUT && o->epochs >= 1 && o->threads >= 1 &&
                   o->block_size >= 1
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: train_mlm [--eli5 FILE] [--epochs N (%d)] [--threads N (2)] "
                        "[--block-size N (%d)] OUT_DIR\n",
                DEFAULT_EPOCHS, DEFAULT_BLOCK_SIZE);
        return 2;
    }
    if (mkdir(o.out, 0777) != 0 && errno != EEXIST) {
        perror(o.out);
        return 1;
    }
    char corpus[PATH_CAP];
    const char *data = o.eli5;
    if (!data) {
        snprintf(corpus, sizeof corpus, "%s/%s", o.out, corpus_name);
        if (write_corpus(corpus) != 0)
            return 1;
        printf("== 0. wrote %s: %d ELI5-style questions with %d answers each, about the\n"
               "     capitals of %d invented countries, in English and Korean\n",
               corpus, N_ROUNDS * N_COUNTRIES, N_ANSWERS, N_COUNTRIES);
        data = corpus;
    }
    flow f = {.o = &o};
    snprintf(f.model_dir, sizeof f.model_dir, "%s/%s", o.out, model_dirname);
    int right = 0;
    int rc = load_eli5(&f, data) || train_tokenizer(&f) || preprocess(&f) || train(&f) ||
             evaluate(&f) || save(&f) || inference(&f, &right);
    if (rc == 0 && !o.eli5) {
        printf("== fill-mask: %d/%d answers right; eval perplexity %.2f after epoch 1, "
               "%.2f after epoch %d\n",
               right, N_QUESTIONS, f.table.first_ppl, f.table.last_ppl, f.table.n_eval);
        if (right < N_QUESTIONS)
            rc = 3;
    }
    flow_free(&f);
    return rc;
}
