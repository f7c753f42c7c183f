/* run_mlm.py's data preparation for `mlm train` / `mlm eval`: load the train
 * and validation files, split train[:N%] / train[N%:] when there is no
 * validation file, pick the text column, tokenize line by line (blank lines
 * dropped, truncated to max_seq_length) or tokenize everything and group it
 * into blocks of max_seq_length, and keep the first max_*_samples. */
#ifndef MLM_CLI_TRAIN_DATA_H
#define MLM_CLI_TRAIN_DATA_H

#include <mlm.h>

typedef struct data_opts {
    const char *train_file, *validation_file; /* either may be NULL */
    /* or dataset files tokenized already (mlm dataset's), mapped: then the
     * files above are NULL and nothing is tokenized */
    const char *train_dataset, *validation_dataset;
    int want_train, want_eval;
    long long split_pct;                     /* validation_split_percentage */
    int64_t max_seq_length;
    int line_by_line, pad_to_max_length;
    int num_proc;
    long long max_train_samples, max_eval_samples; /* < 0: all */
} data_opts;

/* run_mlm.py's check of a data file's extension (txt, csv, json, and
 * libmlm's jsonl; a trailing .gz is allowed). Returns 0, or prints an error
 * naming the flag and returns -1. */
int data_check_extension(const char *flag, const char *path);

/* run_mlm.py's line_by_line filter, for mlm_dataset_filter over the string
 * column named by user: `len(line) > 0 and not line.isspace()`, with
 * Python's Unicode whitespace. Bytes that are not UTF-8 count as text: the
 * tokenizer then names them. */
mlm_status data_keep_line(const mlm_dataset *ds, size_t row, void *user, int *keep);

/* Prepare the wanted datasets (the others are left NULL), from the text
 * files or from the dataset files (opened, max_*_samples applied). tok's truncation
 * and padding are set as run_mlm's tokenizer calls set them. Returns 0, or an
 * exit status after printing the error. */
int data_prepare(mlm_tokenizer *tok, const data_opts *o, mlm_dataset **train,
                 mlm_dataset **eval);

#endif
