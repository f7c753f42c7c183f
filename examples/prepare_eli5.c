/* prepare_eli5 — the seed tutorial's data preparation for masked language
 * modeling, with the public API only:
 *
 *   ELI5 records (JSON array or JSON Lines; "answers": {"text": [...]})
 *   → flatten (answers.text) → " ".join each list → tokenize
 *   → group_texts(128) → train_test_split(0.2)
 *   → DataCollatorForLanguageModeling(mlm_probability=0.15) batches,
 *     printed as the seed shows them (input_ids, attention_mask, labels).
 *
 * usage: prepare_eli5 [TOKENIZER [DATA_FILE]]
 * Both default to the copies under ../shared (roberta-base and the dummy
 * ELI5 training file) when they are there. */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BLOCK_SIZE 128
#define BATCH_ROWS 4
#define SHOW_TOKENS 12 /* a block is 128 ids: show the first few, as torch prints */

static const char default_tokenizer[] = "../shared/data/tokenizers/roberta-base";
static const char default_data[] =
    "../shared/data/corpora/eli5-category/dummy/eli5-category-train.json";

static int fail(const char *what, mlm_status st)
{
    fprintf(stderr, "prepare_eli5: %s: %s: %s\n", what, mlm_status_string(st), mlm_last_error());
    return 1;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* One [rows × n] matrix as torch prints a tensor: the first and last few
 * values of a long row, "..." between. */
static void print_tensor(const char *name, const int32_t *v, size_t rows, size_t n)
{
    const size_t edge = SHOW_TOKENS / 2;
    printf("  '%s': tensor([", name);
    for (size_t i = 0; i < rows; i++) {
        printf("%s[", i ? ",\n        " : "");
        const int32_t *row = v + i * n;
        if (n <= 2 * edge + 1) {
            for (size_t j = 0; j < n; j++)
                printf("%s%d", j ? ", " : "", row[j]);
        } else {
            for (size_t j = 0; j < edge; j++)
                printf("%d, ", row[j]);
            printf("...");
            for (size_t j = n - edge; j < n; j++)
                printf(", %d", row[j]);
        }
        printf("]");
    }
    printf("])");
}

int main(int argc, char **argv)
{
    const char *tok_path = argc > 1 ? argv[1] : default_tokenizer;
    const char *data_path = argc > 2 ? argv[2] : default_data;
    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: prepare_eli5 [TOKENIZER [DATA_FILE]]\n");
        return 2;
    }
    if (!exists(tok_path) || !exists(data_path)) {
        fprintf(stderr, "prepare_eli5: %s not found; pass TOKENIZER and DATA_FILE\n",
                exists(tok_path) ? data_path : tok_path);
        return 2;
    }
    mlm_tokenizer *tok = NULL;
    mlm_dataset *ds = NULL, *tokenized = NULL, *grouped = NULL, *train = NULL, *test = NULL;
    mlm_collator *collator = NULL;
    mlm_status st;
    int rc = 0;

    if ((st = mlm_tokenizer_load(tok_path, &tok)) != MLM_OK)
        return fail(tok_path, st);
    /* load: nested objects come out flattened, as dataset.flatten() gives */
    if ((st = mlm_dataset_load(data_path, NULL, &ds)) != MLM_OK) {
        rc = fail(data_path, st);
        goto done;
    }
    printf("Dataset({\n    features: [");
    for (size_t i = 0; i < mlm_dataset_num_columns(ds); i++)
        printf("%s'%s'", i ? ", " : "", mlm_dataset_column_name(ds, i));
    printf("],\n    num_rows: %zu\n})\n", mlm_dataset_num_rows(ds));

    /* preprocess_function: tokenizer([" ".join(x) for x in examples["answers.text"]]),
     * batched=True, num_proc=4, remove_columns=dataset.column_names */
    st = mlm_dataset_tokenize(ds, tok, "answers.text",
                              "{\"batch_size\": 1000, \"num_proc\": 4, "
                              "\"remove_columns\": \"all\"}",
                              &tokenized);
    if (st != MLM_OK) {
        rc = fail("tokenize", st);
        goto done;
    }
    /* group_texts: concatenate, cut into blocks of 128, drop the remainder */
    if ((st = mlm_dataset_group_texts(tokenized, BLOCK_SIZE, &grouped)) != MLM_OK) {
        rc = fail("group_texts", st);
        goto done;
    }
    printf("tokenized: %zu rows; grouped into %zu blocks of %d\n",
           mlm_dataset_num_rows(tokenized), mlm_dataset_num_rows(grouped), BLOCK_SIZE);
    /* dataset.train_test_split(test_size=0.2) */
    if ((st = mlm_dataset_train_test_split(grouped, 0.2, 42, 1, &train, &test)) != MLM_OK) {
        rc = fail("train_test_split", st);
        goto done;
    }
    printf("DatasetDict({\n    train: Dataset({ num_rows: %zu })\n"
           "    test: Dataset({ num_rows: %zu })\n})\n",
           mlm_dataset_num_rows(train), mlm_dataset_num_rows(test));

    /* tokenizer.pad_token = tokenizer.eos_token, when there is no pad
     * token (the collator falls back to eos by itself too) */
    if (mlm_tokenizer_special_id(tok, MLM_TOKEN_PAD) < 0 &&
        mlm_tokenizer_special_token(tok, MLM_TOKEN_EOS))
        mlm_tokenizer_set_special(tok, MLM_TOKEN_PAD,
                                  mlm_tokenizer_special_token(tok, MLM_TOKEN_EOS));
    /* DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=0.15) */
    if ((st = mlm_collator_new(tok, "{\"mlm\": true, \"mlm_probability\": 0.15, \"seed\": 42}",
                               &collator)) != MLM_OK) {
        rc = fail("collator", st);
        goto done;
    }
    size_t nrows = mlm_dataset_num_rows(train), masked = 0, total = 0;
    for (size_t b = 0; b < 2 && b * BATCH_ROWS < nrows; b++) {
        size_t rows[BATCH_ROWS], n = 0;
        for (; n < BATCH_ROWS && b * BATCH_ROWS + n < nrows; n++)
            rows[n] = b * BATCH_ROWS + n;
        mlm_batch *batch = NULL;
        if ((st = mlm_collator_collate(collator, train, rows, n, b, &batch)) != MLM_OK) {
            rc = fail("collate", st);
            goto done;
        }
        size_t len = mlm_batch_seq_len(batch);
        printf("batch %zu:\n{\n", b);
        print_tensor("input_ids", mlm_batch_input_ids(batch), n, len);
        printf(",\n");
        print_tensor("attention_mask", mlm_batch_attention_mask(batch), n, len);
        printf(",\n");
        print_tensor("labels", mlm_batch_labels(batch), n, len);
        printf("\n}\n");
        for (size_t k = 0; k < n * len; k++) {
            masked += mlm_batch_labels(batch)[k] != -100;
            total += mlm_batch_special_tokens_mask(batch)[k] == 0;
        }
        mlm_batch_free(batch);
    }
    printf("labels set on %zu of %zu maskable tokens (%.1f%%; mlm_probability 0.15)\n", masked,
           total, total ? 100.0 * (double)masked / (double)total : 0.0);
done:
    mlm_collator_free(collator);
    mlm_dataset_free(train);
    mlm_dataset_free(test);
    mlm_dataset_free(grouped);
    mlm_dataset_free(tokenized);
    mlm_dataset_free(ds);
    mlm_tokenizer_free(tok);
    return rc;
}
