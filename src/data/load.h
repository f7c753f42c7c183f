/* Loaders: bytes in memory → dataset. mlm_dataset_load reads the file
 * (through zlib) and dispatches here; the fuzz harnesses call these too. */
#ifndef MLM_DATA_LOAD_H
#define MLM_DATA_LOAD_H

#include "data/dataset_impl.h"

enum load_format { FMT_AUTO, FMT_JSON, FMT_JSONL, FMT_CSV, FMT_TSV, FMT_TEXT };
enum sample_by { SAMPLE_LINE, SAMPLE_PARAGRAPH, SAMPLE_DOCUMENT };

typedef struct loadopts {
    enum load_format format;
    char field[256];     /* json: "" when unset */
    char delimiter;      /* csv: 0 = by format */
    int quoting_none;    /* csv */
    enum sample_by sample_by;
    int keep_linebreaks; /* text */
    int skip_bad;        /* on_bad_rows: skip */
} loadopts;

/* Parse the options JSON (NULL/"" → defaults); unknown keys are errors. */
mlm_status loadopts_parse(const char *json, loadopts *o);

/* `what` (a file name) prefixes messages. */
mlm_status load_json_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                            mlm_dataset **out);
mlm_status load_jsonl_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                             mlm_dataset **out);
mlm_status load_csv_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                           mlm_dataset **out);
mlm_status load_text_buffer(const char *data, size_t len, const char *what, const loadopts *o,
                            mlm_dataset **out);

/* Line (1-based) and column of byte `pos`. */
void text_position(const char *data, size_t pos, size_t *line, size_t *col);

#endif
