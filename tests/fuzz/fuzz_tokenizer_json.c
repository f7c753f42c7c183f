/* libFuzzer: load a tokenizer.json from arbitrary bytes; when it loads,
 * encode and decode a short Korean text with it. Nothing may crash, leak or
 * hang, whatever the bytes. */
#include <mlm.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlm_tokenizer *tok;
    if (mlm_tokenizer_load_json((const char *)data, size, &tok) != MLM_OK) return 0;
    static const char text[] = "나는 오늘 [MASK] <mask> a\xcc\x81 😀 ﬁ 123.";
    mlm_encoding *e;
    if (mlm_tokenizer_encode(tok, text, sizeof text - 1, "둘째", 6, 1, &e) == MLM_OK) {
        char buf[512];
        size_t need;
        mlm_tokenizer_decode(tok, mlm_encoding_ids(e), mlm_encoding_length(e), 1, -1, buf,
                             sizeof buf, &need);
        mlm_encoding_free(e);
    }
    mlm_tokenizer_free(tok);
    return 0;
}
