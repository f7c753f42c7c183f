/* libFuzzer: CSV / TSV / text bytes → dataset, then every cell read back.
 * The first byte picks the options. */
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
    o.format = (data[0] & 2) ? FMT_TSV : FMT_CSV;
    o.quoting_none = (data[0] & 4) != 0;
    o.sample_by = (enum sample_by)((data[0] >> 3) % 3);
    o.keep_linebreaks = (data[0] & 32) != 0;
    mlm_dataset *ds = NULL;
    if (data[0] & 64)
        load_text_buffer((const char *)data + 1, size - 1, "fuzz.txt", &o, &ds);
    else
        load_csv_buffer((const char *)data + 1, size - 1, "fuzz.csv", &o, &ds);
    if (ds)
        fuzz_read_all(ds);
    mlm_dataset_free(ds);
    return 0;
}
