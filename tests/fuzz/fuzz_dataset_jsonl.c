/* libFuzzer: JSON / JSON Lines bytes → dataset, then every cell read back.
 * The first byte picks the options (skip bad rows, a "field"). */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "data/load.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    loadopts o;
    memset(&o, 0, sizeof o);
    o.skip_bad = data[0] & 1;
    if (data[0] & 2)
        strcpy(o.field, "data");
    mlm_dataset *ds = NULL;
    if (data[0] & 4)
        load_json_buffer((const char *)data + 1, size - 1, "fuzz.json", &o, &ds);
    else
        load_jsonl_buffer((const char *)data + 1, size - 1, "fuzz.jsonl", &o, &ds);
    if (ds)
        fuzz_read_all(ds);
    mlm_dataset_free(ds);
    return 0;
}
