/* Writes tests/data/dataset-v1/v1.mlmds with the version-1 writer. */
#include <stdio.h>
#include <string.h>
#include <mlm/dataset.h>
int main(int argc, char **argv)
{
    const char *names[] = {"text", "tags", "n", "x", "input_ids", "attention_mask", "labels"};
    mlm_column_type types[] = {MLM_COLUMN_STRING, MLM_COLUMN_STRING_LIST, MLM_COLUMN_INT,
                               MLM_COLUMN_FLOAT, MLM_COLUMN_SEQUENCE, MLM_COLUMN_SEQUENCE,
                               MLM_COLUMN_SEQUENCE};
    mlm_dataset_writer *w;
    if (mlm_dataset_writer_open(argv[1], names, types, 7, &w)) return 1;
    const char *texts[] = {"hello world", "안녕하세요 세계", ""};
    for (int r = 0; r < 3; r++) {
        const char *items[] = {"a", "비", "c"};
        size_t lens[] = {1, strlen("비"), 1};
        int32_t ids[] = {101, 255, 256, 65535, 65536, 2147483647, 102};
        int32_t am[] = {1, 1, 1, 1, 1, 1, 0};
        int32_t lab[] = {-100, 0, -2147483647 - 1, 7, -100, 65536, -100};
        size_t n = (size_t)(7 - 2 * r);
        if (mlm_dataset_writer_set_string(w, 0, texts[r], strlen(texts[r])) ||
            mlm_dataset_writer_set_string_list(w, 1, items, lens, (size_t)r) ||
            mlm_dataset_writer_set_int(w, 2, -5 + r) ||
            mlm_dataset_writer_set_float(w, 3, 0.25 * r) ||
            mlm_dataset_writer_set_sequence(w, 4, ids + r, n) ||
            mlm_dataset_writer_set_sequence(w, 5, am + r, n) ||
            mlm_dataset_writer_set_sequence(w, 6, lab + r, n) ||
            mlm_dataset_writer_end_row(w)) return 2;
    }
    return mlm_dataset_writer_close(w) ? 3 : 0;
}
