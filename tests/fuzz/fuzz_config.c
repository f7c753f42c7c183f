/* libFuzzer: config_parse over arbitrary bytes; what it accepts must write
 * back and parse again to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model_config c, d;
    if (config_parse((const char *)data, size, "fuzz/config.json", &c) != MLM_OK)
        return 0;
    char *text;
    size_t len;
    if (config_to_json(&c, &text, &len) == MLM_OK) {
        if (config_parse(text, len, "rewritten", &d) != MLM_OK)
            abort();
        if (d.type != c.type || d.hidden_size != c.hidden_size || d.vocab_size != c.vocab_size ||
            d.layer_norm_eps != c.layer_norm_eps || d.hidden_act != c.hidden_act ||
            d.n_extra != c.n_extra || d.pad_token_id != c.pad_token_id)
            abort();
        char *again;
        size_t alen;
        if (config_to_json(&d, &again, &alen) != MLM_OK || alen != len || memcmp(again, text, len))
            abort();
        mem_free(again);
        config_free(&d);
        mem_free(text);
    }
    config_free(&c);
    return 0;
}
