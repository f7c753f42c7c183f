/*
 * mlm/dataset.h — column-oriented datasets, as Hugging Face `datasets` has
 * them for the masked-LM recipe: load (JSON, JSON Lines, CSV/TSV, text,
 * gzip'ed or not), build from memory, map / filter / select / shuffle /
 * train_test_split / remove_columns, group_texts, and a memory-mapped
 * binary file format (docs/dataset-format.md).
 *
 * Handles are immutable once built: every transform returns a new handle and
 * leaves its input untouched, and handles share their column storage (and an
 * mmap'ed file) where they can, so select / shuffle / filter / slices cost
 * 8 bytes per row, not a copy. The only functions that change a handle are
 * the mlm_dataset_add_*_column builders, meant for a handle the caller just
 * made with mlm_dataset_new().
 *
 * Thread safety: reading a handle (every accessor, every transform taking
 * it as input) is safe from many threads at once; storage shared between
 * handles is reference-counted atomically, so handles may be freed on any
 * thread. Adding a column to a handle while another thread reads it is not.
 *
 * Strings are UTF-8 as they were given or read (not validated); every
 * string handed out is NUL-terminated and its length excludes the NUL.
 * A string may itself contain NUL bytes; use the length.
 */
#ifndef MLM_DATASET_H
#define MLM_DATASET_H

#include "mlm/core.h"
#include "mlm/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_dataset mlm_dataset;

/* Column types. The numeric values are part of the ABI and of the file
 * format. */
typedef enum mlm_column_type {
    MLM_COLUMN_STRING = 0,      /* one UTF-8 string per row */
    MLM_COLUMN_STRING_LIST = 1, /* a list of strings per row (ELI5's answers.text) */
    MLM_COLUMN_INT = 2,         /* int64 */
    MLM_COLUMN_SEQUENCE = 3,    /* a list of int32 per row: input_ids, attention_mask... */
    MLM_COLUMN_FLOAT = 4        /* double (KorSTS scores; NaN where a value is missing) */
} mlm_column_type;

/* "string", "string_list", "int", "sequence", "float"; "unknown" otherwise. */
MLM_API const char *mlm_column_type_name(mlm_column_type type);

/* ------------------------------------------------------------- building */

/* A new dataset with no columns and no rows. Add columns with the
 * mlm_dataset_add_*_column functions: each copies its input, and every
 * column must have the same number of rows as the first. A name already
 * present is MLM_ERR_INVALID_ARGUMENT. On failure the dataset is unchanged. */
MLM_API mlm_status mlm_dataset_new(mlm_dataset **out);

/* values[i] is a NUL-terminated string. */
MLM_API mlm_status mlm_dataset_add_string_column(mlm_dataset *ds, const char *name,
                                                 const char *const *values, size_t n);

/* Row i is the list lists[i][0 .. counts[i]) of NUL-terminated strings
 * (lists[i] may be NULL when counts[i] is 0). */
MLM_API mlm_status mlm_dataset_add_string_list_column(mlm_dataset *ds, const char *name,
                                                      const char *const *const *lists,
                                                      const size_t *counts, size_t n);

MLM_API mlm_status mlm_dataset_add_int_column(mlm_dataset *ds, const char *name,
                                              const int64_t *values, size_t n);

MLM_API mlm_status mlm_dataset_add_float_column(mlm_dataset *ds, const char *name,
                                                const double *values, size_t n);

/* Row i is seqs[i][0 .. lengths[i]) (seqs[i] may be NULL for length 0). */
MLM_API mlm_status mlm_dataset_add_sequence_column(mlm_dataset *ds, const char *name,
                                                   const int32_t *const *seqs,
                                                   const size_t *lengths, size_t n);

/* Build from JSON text (need not be NUL-terminated) in either of HF's
 * shapes: from_dict's {"col": [v0, v1, ...], ...} (all lists of one length)
 * or from_list's [{"col": v0, ...}, {"col": v1, ...}] (a key missing from a
 * record is a null there). Types are inferred as the loaders do (see
 * mlm_dataset_load). Nested objects are flattened to dotted names, as HF's
 * flatten() does. */
MLM_API mlm_status mlm_dataset_from_json(const char *json, size_t len, mlm_dataset **out);

/* Accepts NULL. */
MLM_API void mlm_dataset_free(mlm_dataset *ds);

/* --------------------------------------------------------------- loading */

/* The formats of the files mlm_dataset_load reads, as a file's name tells
 * them. */
typedef enum mlm_file_format {
    MLM_FORMAT_UNKNOWN = 0, /* a name of no known format: read as text */
    MLM_FORMAT_TEXT = 1,    /* .txt, .raw */
    MLM_FORMAT_JSON = 2,    /* .json */
    MLM_FORMAT_JSONL = 3,   /* .jsonl, .ndjson */
    MLM_FORMAT_CSV = 4,     /* .csv */
    MLM_FORMAT_TSV = 5      /* .tsv, .tab */
} mlm_file_format;

/* The format path's name says, as mlm_dataset_load and
 * mlm_dataset_tokenize_file take it when no "format" option is given: the
 * extension, in any case, after dropping a trailing ".gz" ("x.JSONL.gz" is
 * JSON Lines). Only the name is read, never the file. NULL gives
 * MLM_FORMAT_UNKNOWN. Thread-safe. */
MLM_API mlm_file_format mlm_dataset_format_of(const char *path);

/* Load a file. The format comes from options' "format" or else from the
 * name (mlm_dataset_format_of; gzip is detected from the bytes and read
 * through zlib whatever the name):
 *   "json"  (.json)  a JSON array of records, an object of columns
 *                    (from_dict's shape), or JSON Lines;
 *   "jsonl" (.jsonl, .ndjson)  one JSON object per line (blank lines skipped);
 *   "csv"   (.csv), "tsv" (.tsv, .tab)  RFC 4180: a header row, then
 *                    records; quoted fields may hold the delimiter, "" and
 *                    newlines;
 *   "text"  (.txt, .raw, anything else)  one row per line in a column "text",
 *                    as HF's text loader: "\r\n" and "\r" read as "\n", line
 *                    breaks removed, empty lines kept.
 * Options (a JSON object; NULL or "" for none; an unknown key is an error):
 *   "format": as above;
 *   "field": (json) the key of the top-level object that holds the records;
 *   "delimiter": (csv) a one-byte string; "quoting": "minimal" | "none";
 *   "sample_by": (text) "line" | "paragraph" (split at "\n\n", empty
 *                paragraphs dropped) | "document"; "keep_linebreaks": bool;
 *   "on_bad_rows": "error" (default) | "skip": a malformed JSON line or a CSV
 *                record with the wrong number of fields is skipped and
 *                counted (mlm_dataset_skipped_rows) instead of failing.
 * Typing, as pyarrow/pandas would: a scalar column of integers only is INT;
 * of numbers (or integers with missing values) FLOAT; anything else STRING
 * (booleans read as 0/1, null as "" or NaN). A list column whose items are
 * all integers in int32 range is SEQUENCE, otherwise STRING_LIST (non-string
 * items as their JSON text). CSV fields are typed the same way from their
 * text. Nested objects flatten to dotted names ("answers.text").
 * Errors: MLM_ERR_IO naming the file; MLM_ERR_FORMAT naming the file and
 * line (and column for CSV) of the first bad record. */
MLM_API mlm_status mlm_dataset_load(const char *path, const char *options_json,
                                    mlm_dataset **out);

/* The number of rows mlm_dataset_load skipped with "on_bad_rows": "skip"
 * (0 for any other dataset). */
MLM_API size_t mlm_dataset_skipped_rows(const mlm_dataset *ds);

/* --------------------------------------------------------------- access */

/* Trivial getters: 0 / NULL for a NULL handle or an index out of range. */
MLM_API size_t mlm_dataset_num_rows(const mlm_dataset *ds);
MLM_API size_t mlm_dataset_num_columns(const mlm_dataset *ds);
/* Owned by the dataset. */
MLM_API const char *mlm_dataset_column_name(const mlm_dataset *ds, size_t i);

/* The type of a column; MLM_ERR_NOT_FOUND naming it when absent. */
MLM_API mlm_status mlm_dataset_column_type(const mlm_dataset *ds, const char *name,
                                           mlm_column_type *type);

/* Cell accessors. A missing column is MLM_ERR_NOT_FOUND, a column of another
 * type MLM_ERR_INVALID_ARGUMENT, a row (or item) out of range MLM_ERR_RANGE,
 * each naming the column; storage found inconsistent in a file opened with
 * mlm_dataset_open is MLM_ERR_FORMAT. Pointers handed out are owned by the
 * dataset's storage and stay valid while the dataset (or any handle sharing
 * that storage) lives. */
MLM_API mlm_status mlm_dataset_get_string(const mlm_dataset *ds, const char *column, size_t row,
                                          const char **s, size_t *len);
MLM_API mlm_status mlm_dataset_get_string_list_count(const mlm_dataset *ds, const char *column,
                                                     size_t row, size_t *count);
MLM_API mlm_status mlm_dataset_get_string_list_item(const mlm_dataset *ds, const char *column,
                                                    size_t row, size_t item, const char **s,
                                                    size_t *len);
MLM_API mlm_status mlm_dataset_get_int(const mlm_dataset *ds, const char *column, size_t row,
                                       int64_t *value);
MLM_API mlm_status mlm_dataset_get_float(const mlm_dataset *ds, const char *column, size_t row,
                                         double *value);
/* A sequence cell as int32 values. A column read from a file may store its
 * values narrower (docs/dataset-format.md: 1 or 2 bytes each); the first
 * call on such a column widens the whole column into memory owned by its
 * storage (4 bytes a value, kept until the storage is freed), so the
 * pointer's lifetime is the one above. mlm_dataset_copy_sequence reads a
 * row without that copy. */
MLM_API mlm_status mlm_dataset_get_sequence(const mlm_dataset *ds, const char *column,
                                            size_t row, const int32_t **data, size_t *len);

/* Copy a sequence cell into buf: *len gets its number of values, and the
 * first min(*len, cap) of them are written to buf[0..) as int32 (widened
 * when the column is stored narrower), as snprintf does: the row is whole
 * when *len <= cap, and buf may be NULL when cap is 0 (a length query).
 * Nothing is allocated. Errors as the accessors above; a NULL buf with cap
 * > 0 is MLM_ERR_INVALID_ARGUMENT. */
MLM_API mlm_status mlm_dataset_copy_sequence(const mlm_dataset *ds, const char *column,
                                             size_t row, int32_t *buf, size_t cap,
                                             size_t *len);

/* ------------------------------------------------------------ transforms */

/* Rows indices[0..n) in that order (repeats allowed); an index out of range
 * is MLM_ERR_RANGE naming its position. Shares storage. */
MLM_API mlm_status mlm_dataset_select(const mlm_dataset *ds, const size_t *indices, size_t n,
                                      mlm_dataset **out);

/* A permutation of the rows that is a pure function of (seed, num_rows)
 * (Fisher-Yates over Philox4x32-10 draws). Shares storage. */
MLM_API mlm_status mlm_dataset_shuffle(const mlm_dataset *ds, uint64_t seed, mlm_dataset **out);

/* The order in which the Trainer (mlm/trainer.h) visits n train rows in
 * epoch `epoch` (0 first) of a run seeded with `seed`: order[0..n) gets a
 * permutation of 0..n-1, a pure function of (n, seed, epoch): Fisher-Yates
 * from the last position down, position i swapped with (hi << 32 | lo) % (i
 * + 1) for two 32-bit words hi, lo drawn in turn from Philox4x32-10 keyed
 * by seed, stream 0x5348554600000000 + epoch. This plays the part of
 * torch's RandomSampler in HF's DataLoader, but not its stream: no seed
 * gives torch's order. Batches are then consecutive runs of this order (HF's
 * BatchSampler, the last one short). n == 0 is fine (order may be NULL). */
MLM_API mlm_status mlm_dataset_epoch_order(size_t n, uint64_t seed, uint64_t epoch,
                                           size_t *order);

/* Keep the rows for which fn sets *keep non-zero. fn returning a status other
 * than MLM_OK stops the filter and that status is returned, with the row
 * index put in front of the message. Shares storage. */
typedef mlm_status (*mlm_dataset_filter_fn)(const mlm_dataset *ds, size_t row, void *user,
                                            int *keep);
MLM_API mlm_status mlm_dataset_filter(const mlm_dataset *ds, mlm_dataset_filter_fn fn,
                                      void *user, mlm_dataset **out);

/* Drop the named columns; a name not present is MLM_ERR_NOT_FOUND naming it
 * (as HF raises). */
MLM_API mlm_status mlm_dataset_remove_columns(const mlm_dataset *ds, const char *const *names,
                                              size_t n, mlm_dataset **out);

/* Split as HF's Dataset.train_test_split: test_size in (0, 1) is a fraction
 * (test = ceil(test_size * n), train = n - test), test_size >= 1 a count
 * (it must be an integer below n). An empty dataset, a test_size <= 0,
 * a fraction that leaves the train set empty or a count >= n is
 * MLM_ERR_RANGE. With shuffle, a seeded permutation's first `test` rows are
 * the test set and the rest the train set; without, train is the first rows
 * and test the last. Deterministic for a given seed. Shares storage. */
MLM_API mlm_status mlm_dataset_train_test_split(const mlm_dataset *ds, double test_size,
                                                uint64_t seed, int shuffle, mlm_dataset **train,
                                                mlm_dataset **test);

/* The callback of mlm_dataset_map: given a batch (a read-only view of
 * batch_size consecutive rows; 1 row when not batched; the last batch may be
 * shorter), return a new dataset of result columns in *result (ownership
 * passes to map). The result must have the batch's row count, unless every
 * input column is removed, when it may have any. Returning a status other
 * than MLM_OK stops the map. With num_proc > 1 the callback runs on several
 * threads at once, so it must be thread-safe. */
typedef mlm_status (*mlm_dataset_map_fn)(const mlm_dataset *batch, void *user,
                                         mlm_dataset **result);

/* HF's Dataset.map. Options (JSON object or NULL): "batched" (bool, default
 * false), "batch_size" (default 1000; <= 0 or null: the whole dataset as one
 * batch), "num_proc" (threads, default 1; the output order is the input's
 * whatever the count), "remove_columns" (a list of names, or "all"),
 * "progress" (bool, default false: draw datasets' tqdm bar of rows on
 * stderr, "Map:  45%|████▌     | 450/1000 [00:01<00:01, 300.00 examples/s]",
 * redrawn in place with carriage returns at most every 0.1 s, ended with a
 * newline; the library never looks whether stderr is a terminal: the
 * caller decides, as the mlm tool does), "desc" (the bar's label, "Map").
 * The output holds the kept input columns followed by the result columns
 * (a result column replaces an input column of the same name). Every batch
 * must return the same column names and types. A failing callback's status
 * is returned with "batch N: " in front of its message (the lowest failing
 * batch when several fail). */
MLM_API mlm_status mlm_dataset_map(const mlm_dataset *ds, mlm_dataset_map_fn fn, void *user,
                                   const char *options_json, mlm_dataset **out);

/* run_mlm.py's group_texts over the whole dataset (map with batched=True,
 * batch_size=None): every SEQUENCE column is concatenated across rows and cut
 * into blocks of block_size, the remainder dropped
 * (total = total // block_size * block_size); other columns are dropped.
 * All SEQUENCE columns must have the same total length (else
 * MLM_ERR_FORMAT naming the column); none is MLM_ERR_INVALID_ARGUMENT,
 * except in a dataset of no rows, which gives an empty dataset (as map does);
 * block_size <= 0 is MLM_ERR_RANGE. */
MLM_API mlm_status mlm_dataset_group_texts(const mlm_dataset *ds, int64_t block_size,
                                           mlm_dataset **out);

/* The same, grouping each run of batch_size input rows on its own as
 * run_mlm.py's map(group_texts, batched=True) does (HF's default
 * batch_size is 1000: a remainder is dropped per batch). batch_size 0 is
 * the whole dataset. */
MLM_API mlm_status mlm_dataset_group_texts_batched(const mlm_dataset *ds, int64_t block_size,
                                                   size_t batch_size, mlm_dataset **out);

/* The seed's preprocess_function as a map: tokenize `column` (STRING, or
 * STRING_LIST joined with " " as `" ".join(x)` does) and add SEQUENCE
 * columns input_ids, attention_mask, special_tokens_mask, word_ids (-1 where
 * HF has None) and, when the tokenizer gives a pair non-zero type ids (BERT)
 * or "return_token_type_ids" is true, token_type_ids. Truncation and
 * padding are the tokenizer's settings. Options (JSON object or NULL):
 * "batch_size" (1000), "num_proc" (threads, 1), "remove_columns" (a list or
 * "all"), "progress" and "desc" (mlm_dataset_map's), "add_special_tokens"
 * (true), "pair_column" (a second text column encoded as the pair),
 * "return_token_type_ids" (true/false; default: as above), "source_prefix"
 * (a string put in front of every text, as run_summarization.py's
 * `prefix + inp`).
 * "max_length" and "padding": given either, the texts are encoded as
 * transformers' tokenizer(texts, truncation=True, max_length=N,
 * padding=P) does, whatever truncation and padding the tokenizer holds:
 * longest_first on the right, no stride; "max_length" an integer >= 1 (or
 * null: no truncation), "padding" false (default) | "do_not_pad" | true |
 * "longest" (to the longest of each map batch) | "max_length" (to
 * max_length).
 * The seq2seq form (the seed's and run_summarization.py's
 * preprocess_function), with "target_column" (a text column: the summary):
 * the output columns are input_ids, attention_mask (unless
 * "return_attention_mask": false; the seed's preprocess_function returns
 * none, and the collator makes it) and labels, the target's input_ids
 * (HF's text_target, the same tokenizer), truncated to
 * "max_target_length" (null or absent: the tokenizer's truncation, unless
 * "max_length" or "padding" set the call); with "padding": "max_length"
 * (run_summarization's pad_to_max_length, which then needs both lengths)
 * labels are padded too, and "ignore_pad_token_for_loss" (true) puts -100
 * at the padded label positions (by the attention mask, so a real EOS
 * stays where pad = eos; "hf_eos_compat": true replaces every id equal to
 * the pad id, as run_summarization.py does). "skip_empty" (false): drop
 * the rows whose text or target is empty, as run_summarization.py's `if
 * examples[text_column][i] and examples[summary_column][i]` (then every
 * input column must be removed, as map requires). Pass "remove_columns":
 * "all" for the seed's remove_columns=dataset.column_names.
 * A column that is not text is MLM_ERR_INVALID_ARGUMENT naming it;
 * an encoding error names the column and the text's index in its map
 * batch. The tokenizer must not be changed while this runs. */
MLM_API mlm_status mlm_dataset_tokenize(const mlm_dataset *ds, const mlm_tokenizer *tok,
                                        const char *column, const char *options_json,
                                        mlm_dataset **out);

/* What mlm_dataset_tokenize_file did. The caller sets sz to
 * sizeof(mlm_tokenize_file_stats); fields added later go at the end and are
 * filled only for callers whose sz covers them. */
typedef struct mlm_tokenize_file_stats {
    size_t sz;
    uint64_t records;        /* lines (text) or records (JSON Lines) tokenized */
    uint64_t skipped;        /* blank JSON lines, bad records skipped, blank lines with
                                line_by_line */
    uint64_t tokens;         /* tokens the tokenizer produced */
    uint64_t rows;           /* rows written */
    uint64_t tokens_written; /* input_ids values written (grouping drops a remainder) */
    uint64_t bytes_in;       /* bytes read (after gunzip) */
} mlm_tokenize_file_stats;

/* Tokenize a text or JSON Lines file of any size into a dataset file at
 * out_path (written atomically through mlm_dataset_writer), with memory
 * independent of the file size: lines are read a batch at a time (gzip is
 * read through zlib), encoded on num_proc threads, and written, the
 * group_texts remainder carried from batch to batch. The output equals the
 * in-memory path: mlm_dataset_load → mlm_dataset_tokenize(column, with
 * remove_columns "all") → (block_size > 0) mlm_dataset_group_texts, or
 * mlm_dataset_group_texts_batched with group_batch_size. Options (JSON
 * object or NULL):
 *   "format": "text" (one row per line, universal newlines, empty lines
 *       kept, as mlm_dataset_load) | "jsonl" (one object per line, blank
 *       lines skipped); default from the name: "jsonl" when
 *       mlm_dataset_format_of says MLM_FORMAT_JSONL, else "text";
 *   "column": (jsonl) the text field, "text" by default; a dotted name
 *       reaches into nested objects ("answers.text"); a list of strings is
 *       joined with " " as the seed's preprocess_function does;
 *   "block_size": 0 (one row per line; default) or run_mlm's block size;
 *   "group_batch_size": 0 (group the whole file; default) or the rows of
 *       each group_texts batch (run_mlm's map default is 1000);
 *   "line_by_line": run_mlm's line_by_line: skip empty and whitespace-only
 *       lines (false);
 *   "batch_size" (1000 lines per encode batch), "num_proc" (1),
 *   "add_special_tokens" (true), "return_token_type_ids" (as
 *       mlm_dataset_tokenize), "on_bad_rows" ("error" | "skip": a JSON line
 *       that is not an object or lacks the column);
 *   "progress": false (default) | true: a tqdm bar on stderr of the bytes
 *       read against the file's size (compressed bytes for gzip), with
 *       rate and ETA: "Tokenizing big.txt:  45%|████▌     | 10.3M/22.9M
 *       [00:01<00:01, 9.41MB/s]", redrawn in place at most every 0.1 s
 *       and ended with a newline (the caller decides whether stderr is a
 *       terminal).
 * Truncation and padding are the tokenizer's settings (padding applies per
 * batch). Errors name the file and line. stats may be NULL. The tokenizer
 * must not be changed while this runs. */
MLM_API mlm_status mlm_dataset_tokenize_file(const mlm_tokenizer *tok, const char *path,
                                             const char *options_json, const char *out_path,
                                             mlm_tokenize_file_stats *stats);

/* ------------------------------------------------------------------ disk */

/* Write ds to path in libmlm's dataset format (docs/dataset-format.md),
 * atomically: a temporary file in the same directory, fsync, rename. The
 * data is streamed from the dataset's storage, not copied in memory. */
MLM_API mlm_status mlm_dataset_save(const mlm_dataset *ds, const char *path);

/* Map a dataset file. Opening validates the header and the layout of every
 * buffer (O(1) in the data size); the cells are checked as they are read.
 * The file must not be changed while the dataset is open. */
MLM_API mlm_status mlm_dataset_open(const char *path, mlm_dataset **out);

/* A streaming writer: rows are appended one at a time and spilled to
 * temporary files beside `path`, so memory stays constant whatever the
 * corpus size; mlm_dataset_writer_close() assembles the file atomically.
 * Not thread-safe: one writer per thread. */
typedef struct mlm_dataset_writer mlm_dataset_writer;

/* Columns names[0..n) with types[0..n). */
MLM_API mlm_status mlm_dataset_writer_open(const char *path, const char *const *names,
                                           const mlm_column_type *types, size_t n,
                                           mlm_dataset_writer **out);

/* Set the cells of the current row, by column index; then end_row. Setting
 * a cell twice replaces it; ending a row with a cell unset is
 * MLM_ERR_STATE naming the column. A cell of the wrong type is
 * MLM_ERR_INVALID_ARGUMENT. */
MLM_API mlm_status mlm_dataset_writer_set_string(mlm_dataset_writer *w, size_t column,
                                                 const char *s, size_t len);
MLM_API mlm_status mlm_dataset_writer_set_string_list(mlm_dataset_writer *w, size_t column,
                                                      const char *const *items,
                                                      const size_t *lengths, size_t n);
MLM_API mlm_status mlm_dataset_writer_set_int(mlm_dataset_writer *w, size_t column,
                                              int64_t value);
MLM_API mlm_status mlm_dataset_writer_set_float(mlm_dataset_writer *w, size_t column,
                                                double value);
MLM_API mlm_status mlm_dataset_writer_set_sequence(mlm_dataset_writer *w, size_t column,
                                                   const int32_t *data, size_t len);
MLM_API mlm_status mlm_dataset_writer_end_row(mlm_dataset_writer *w);

/* Append every row of ds, whose columns must match the writer's by name and
 * type (in any order; extra columns of ds are ignored). */
MLM_API mlm_status mlm_dataset_writer_append_dataset(mlm_dataset_writer *w,
                                                     const mlm_dataset *ds);

/* Rows ended so far. */
MLM_API size_t mlm_dataset_writer_num_rows(const mlm_dataset_writer *w);

/* Write the file (atomically) and free the writer, whatever the outcome.
 * A row begun and not ended is discarded. */
MLM_API mlm_status mlm_dataset_writer_close(mlm_dataset_writer *w);

/* Free the writer without writing anything; the temporary files are
 * removed. Accepts NULL. */
MLM_API void mlm_dataset_writer_discard(mlm_dataset_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* MLM_DATASET_H */
