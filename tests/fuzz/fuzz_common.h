/* Shared by the dataset fuzz harnesses: read every cell of every column
 * through the public accessors (a corrupt cell must be an error, never a
 * crash), and collate the rows when there is an input_ids column. */
#ifndef MLM_FUZZ_COMMON_H
#define MLM_FUZZ_COMMON_H

#include <mlm.h>

static inline void fuzz_read_all(const mlm_dataset *ds)
{
    size_t rows = mlm_dataset_num_rows(ds);
    if (rows > 100000)
        rows = 100000;
    for (size_t c = 0; c < mlm_dataset_num_columns(ds); c++) {
        const char *name = mlm_dataset_column_name(ds, c);
        mlm_column_type t;
        if (mlm_dataset_column_type(ds, name, &t) != MLM_OK)
            continue;
        for (size_t r = 0; r < rows; r++) {
            const char *s;
            size_t len, n;
            const int32_t *d;
            int64_t i;
            double f;
            volatile size_t sink = 0;
            switch (t) {
            case MLM_COLUMN_STRING:
                if (mlm_dataset_get_string(ds, name, r, &s, &len) == MLM_OK && len)
                    sink += (unsigned char)s[len - 1] + (unsigned char)s[len];
                break;
            case MLM_COLUMN_STRING_LIST:
                if (mlm_dataset_get_string_list_count(ds, name, r, &n) == MLM_OK)
                    for (size_t k = 0; k < n && k < 1000; k++)
                        if (mlm_dataset_get_string_list_item(ds, name, r, k, &s, &len) == MLM_OK)
                            sink += (unsigned char)s[len];
                break;
            case MLM_COLUMN_INT:
                mlm_dataset_get_int(ds, name, r, &i);
                break;
            case MLM_COLUMN_FLOAT:
                mlm_dataset_get_float(ds, name, r, &f);
                break;
            case MLM_COLUMN_SEQUENCE:
                if (mlm_dataset_get_sequence(ds, name, r, &d, &len) == MLM_OK && len)
                    sink += (size_t)d[len - 1];
                {
                    int32_t head[8]; /* copy-out: widened from a narrow column */
                    if (mlm_dataset_copy_sequence(ds, name, r, head, 8, &len) == MLM_OK && len)
                        sink += (size_t)head[0];
                }
                break;
            }
            (void)sink;
        }
    }
    mlm_collator *col = NULL;
    if (rows && mlm_collator_new_ids("{\"mask_token_id\": 3, \"pad_token_id\": 0, "
                                     "\"vocab_size\": 100, \"pad_to_multiple_of\": 8}",
                                     &col) == MLM_OK) {
        size_t idx[4] = {0, rows - 1, rows / 2, 0};
        mlm_batch *b = NULL;
        if (mlm_collator_collate(col, ds, idx, 4, 1, &b) == MLM_OK && mlm_batch_rows(b)) {
            size_t need;
            mlm_batch_to_json(b, NULL, 0, &need);
        }
        mlm_batch_free(b);
    }
    mlm_collator_free(col);
}

#endif
