/* seed_summarization — the seed tutorial's summarization loop, line for
 * line, in C with the public API only:
 *
 *   train_data = [{"article": ..., "summary": ...}, ...]   1. the two records
 *   dataset = Dataset.from_list(train_data)                2.
 *   tokenizer = AutoTokenizer.from_pretrained("t5-small")  3. TOKENIZER_DIR
 *   tokenizer.pad_token = tokenizer.eos_token
 *   preprocess_function / dataset.map(batched=True,        4.-5. article → input_ids
 *       remove_columns=dataset.column_names)                  (max 128), summary →
 *                                                            labels (max 32)
 *   DataCollatorForSeq2Seq(tokenizer=tokenizer, model=None) 6. pads with </s>, labels -100
 *   DataLoader(batch_size=2, shuffle=True)                 7. libmlm's epoch order
 *   AutoModelForSeq2SeqLM.from_pretrained("t5-small")      8. --model DIR, else a
 *   model.train()                                             t5-small-shaped model
 *   optimizer = AdamW(model.parameters(), lr=5e-5)            with random weights
 *   for batch in dataloader: zero_grad, loss.backward(),   9. "Batch loss: X" per
 *       step, print("Batch loss:", loss.item())               batch
 *
 * There is no model hub here: without --model the model is t5-small's
 * config with HF's random initialisation (its tokenizer is the real one).
 * The loss is printed as Python prints a float (the shortest text that
 * reads back to the same double). Dropout masks (model.train(), t5-small's
 * dropout_rate 0.1) come from libmlm's generator, not torch's stream.
 *
 * Usage: seed_summarization TOKENIZER_DIR [--model DIR] [--epochs N]
 *                           [--lr X] [--seed S] [--threads N]
 * Exit status: 0 done, 1 an error (the library's message), 2 bad usage. */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char train_data[] =
    "[{\"article\": \"The first human went into space and orbited the Earth on April 12, 1961.\","
    "  \"summary\": \"First human in space on April 12, 1961.\"},"
    " {\"article\": \"Apollo 11 was the first mission to land humans on the Moon.\","
    "  \"summary\": \"Apollo 11 first humans on Moon.\"}]";

/* t5-small's config.json (the hub's, less its task_specific_params). */
static const char t5_small[] =
    "{\"model_type\": \"t5\", \"architectures\": [\"T5ForConditionalGeneration\"],"
    " \"vocab_size\": 32128, \"d_model\": 512, \"d_kv\": 64, \"d_ff\": 2048, \"num_heads\": 8,"
    " \"num_layers\": 6, \"relative_attention_num_buckets\": 32, \"dropout_rate\": 0.1,"
    " \"layer_norm_epsilon\": 1e-06, \"initializer_factor\": 1.0,"
    " \"feed_forward_proj\": \"relu\", \"is_encoder_decoder\": true, \"pad_token_id\": 0,"
    " \"eos_token_id\": 1, \"decoder_start_token_id\": 0, \"n_positions\": 512}";

static int fail(const char *what)
{
    fprintf(stderr, "seed_summarization: %s: %s\n", what, mlm_last_error());
    return 1;
}

/* print(x) for a Python float: the shortest %g that reads back the same. */
static void print_py_float(double x)
{
    char s[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(s, sizeof s, "%.*g", p, x);
        if (strtod(s, NULL) == x)
            break;
    }
    /* Python writes a float with a point: 10.0, not 10 */
    if (!strpbrk(s, ".eni"))
        strcat(s, ".0");
    printf("%s\n", s);
}

typedef struct opts {
    const char *tok_dir, *model_dir;
    int epochs, threads;
    double lr;
    unsigned long long seed;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.epochs = 1, .threads = 1, .lr = 5e-5, .seed = 42};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (o->tok_dir)
                return 0;
            o->tok_dir = a;
            continue;
        }
        if (!v)
            return 0;
        i++;
        if (strcmp(a, "--model") == 0)
            o->model_dir = v;
        else if (strcmp(a, "--epochs") == 0)
            o->epochs = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            o->threads = atoi(v);
        else if (strcmp(a, "--lr") == 0)
            o->lr = strtod(v, NULL);
        else if (strcmp(a, "--seed") == 0)
            o->seed = strtoull(v, NULL, 10);
        else
            return 0;
    }
    return o->tok_dir && o->epochs >= 1 && o->threads >= 1 && o->lr >= 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: seed_summarization TOKENIZER_DIR [--model DIR] [--epochs N] "
                        "[--lr X] [--seed S] [--threads N]\n");
        return 2;
    }
    int rc = 1;
    mlm_dataset *dataset = NULL, *tokenized = NULL;
    mlm_tokenizer *tokenizer = NULL;
    mlm_collator *collator = NULL;
    mlm_model *model = NULL;
    mlm_optimizer *optimizer = NULL;
    size_t *order = NULL;
    char options[256];

    /* 1.-2. the records, Dataset.from_list */
    if (mlm_dataset_from_json(train_data, strlen(train_data), &dataset) != MLM_OK) {
        rc = fail("Dataset.from_list");
        goto done;
    }
    /* 3. the tokenizer; pad_token = eos_token */
    if (mlm_tokenizer_load(o.tok_dir, &tokenizer) != MLM_OK ||
        mlm_tokenizer_set_special(tokenizer, MLM_TOKEN_PAD, "</s>") != MLM_OK) {
        rc = fail(o.tok_dir);
        goto done;
    }
    /* 4.-5. preprocess_function mapped with remove_columns: input_ids and
     * labels only (the seed returns no attention_mask) */
    if (mlm_dataset_tokenize(dataset, tokenizer, "article",
                             "{\"target_column\": \"summary\", \"max_length\": 128,"
                             " \"max_target_length\": 32, \"return_attention_mask\": false,"
                             " \"remove_columns\": \"all\"}",
                             &tokenized) != MLM_OK) {
        rc = fail("dataset.map(preprocess_function)");
        goto done;
    }
    /* 6. DataCollatorForSeq2Seq(tokenizer=tokenizer, model=None) */
    if (mlm_collator_new_seq2seq(tokenizer, NULL, &collator) != MLM_OK) {
        rc = fail("DataCollatorForSeq2Seq");
        goto done;
    }
    /* 8. the model, model.train() (mlm_optimizer_backward runs train mode) */
    mlm_status st = o.model_dir ? mlm_model_load(o.model_dir, &model)
                                : mlm_model_new(t5_small, strlen(t5_small), o.seed, &model);
    if (st != MLM_OK) {
        rc = fail(o.model_dir ? o.model_dir : "t5-small config");
        goto done;
    }
    /* optimizer = AdamW(model.parameters(), lr=5e-5): transformers.AdamW */
    snprintf(options, sizeof options, "{\"lr\": %.17g, \"seed\": %llu, \"num_threads\": %d}",
             o.lr, o.seed, o.threads);
    if (mlm_optimizer_new(model, "adamw_hf", options, &optimizer) != MLM_OK) {
        rc = fail("AdamW");
        goto done;
    }
    /* 7. + 9. DataLoader(batch_size=2, shuffle=True), one pass per epoch */
    const size_t n = mlm_dataset_num_rows(tokenized), batch_size = 2;
    order = malloc(n * sizeof *order);
    if (!order) {
        fprintf(stderr, "seed_summarization: out of memory\n");
        goto done;
    }
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        if (mlm_dataset_epoch_order(n, o.seed, (uint64_t)epoch, order) != MLM_OK) {
            rc = fail("shuffle");
            goto done;
        }
        for (size_t first = 0; first < n; first += batch_size) {
            size_t rows = n - first < batch_size ? n - first : batch_size;
            mlm_batch *batch = NULL;
            float loss = 0;
            if (mlm_collator_collate(collator, tokenized, order + first, rows, 0, &batch) !=
                MLM_OK) {
                rc = fail("collate");
                goto done;
            }
            st = mlm_optimizer_zero_grad(optimizer);         /* optimizer.zero_grad() */
            if (st == MLM_OK)                                 /* loss = model(...).loss; */
                st = mlm_optimizer_backward(optimizer, batch, &loss); /* loss.backward() */
            if (st == MLM_OK)
                st = mlm_optimizer_step(optimizer);          /* optimizer.step() */
            mlm_batch_free(batch);
            if (st != MLM_OK) {
                rc = fail("training step");
                goto done;
            }
            printf("Batch loss: ");
            print_py_float(loss);
        }
    }
    rc = 0;
done:
    free(order);
    mlm_optimizer_free(optimizer);
    mlm_model_free(model);
    mlm_collator_free(collator);
    mlm_dataset_free(tokenized);
    mlm_dataset_free(dataset);
    mlm_tokenizer_free(tokenizer);
    return rc;
}
