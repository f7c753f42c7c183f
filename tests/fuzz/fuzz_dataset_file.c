/* libFuzzer: a dataset file image → open (the same validation as
 * mlm_dataset_open, on an 8-aligned copy), then every cell read back and a
 * transform applied. */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "data/format.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t *copy = malloc(size / 8 + 1 ? (size / 8 + 1) * 8 : 8);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    mlm_dataset *ds = NULL;
    if (dsfile_open_mem(copy, size, NULL, "fuzz.mlmds", &ds) == MLM_OK) {
        fuzz_read_all(ds);
        mlm_dataset *sh = NULL;
        if (mlm_dataset_num_rows(ds) < 100000 && mlm_dataset_shuffle(ds, 1, &sh) == MLM_OK)
            fuzz_read_all(sh);
        mlm_dataset_free(sh);
    }
    mlm_dataset_free(ds);
    free(copy);
    return 0;
}
