/* libFuzzer: encode arbitrary bytes (first byte picks the tokenizer and the
 * settings) with small tokenizers shaped like the real ones: BERT
 * (BertNormalizer, BertPreTokenizer, WordPiece, template), RoBERTa
 * (ByteLevel BPE, <mask> lstrip), T5-like (Metaspace, Unigram with byte
 * fallback), and a Split/Replace/NFKC mix. Then decode the ids. */
#include <mlm.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const JSONS[] = {
    "{\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"special\":true,\"normalized\":false},"
    "{\"id\":1,\"content\":\"[CLS]\",\"special\":true,\"normalized\":false},"
    "{\"id\":2,\"content\":\"[SEP]\",\"special\":true,\"normalized\":false},"
    "{\"id\":3,\"content\":\"[MASK]\",\"special\":true,\"normalized\":false},"
    "{\"id\":4,\"content\":\"[PAD]\",\"special\":true,\"normalized\":false}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},"
    "\"decoder\":{\"type\":\"WordPiece\"},"
    "\"model\":{\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":20,"
    "\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[MASK]\":3,\"[PAD]\":4,\"a\":5,\"##b\":6,\"ᄂ\":7,\"##ᅡ\":8,\".\":9,\"##a\":10}}}",
    "{\"added_tokens\":[{\"id\":0,\"content\":\"<s>\",\"special\":true},{\"id\":1,\"content\":\"<pad>\",\"special\":true},"
    "{\"id\":2,\"content\":\"</s>\",\"special\":true},{\"id\":9,\"content\":\"<mask>\",\"special\":true,\"lstrip\":true}],"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
    "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",2],\"cls\":[\"<s>\",0]},"
    "\"decoder\":{\"type\":\"ByteLevel\"},"
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":0,\"<pad>\":1,\"</s>\":2,\"a\":3,\"b\":4,\"Ġ\":5,\"Ġa\":6,\"ab\":7,\"ë\":8,\"<mask>\":9},"
    "\"merges\":[\"Ġ a\",\"a b\"]}}",
    "{\"added_tokens\":[{\"id\":1,\"content\":\"</s>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKD\"},{\"type\":\"StripAccents\"},{\"type\":\"Strip\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},"
    "{\"type\":\"Metaspace\",\"replacement\":\"▁\",\"prepend_scheme\":\"first\"}]},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"</s>\":{\"id\":\"</s>\",\"ids\":[1],\"tokens\":[\"</s>\"]}}},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Metaspace\"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":[[\"<unk>\",0],[\"</s>\",0],"
    "[\"▁\",-1],[\"▁a\",-2],[\"a\",-2],[\"b\",-3],[\"<0xEB>\",-9],[\"<0x82>\",-9],[\"<0x98>\",-9]]}}",
    "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\" \"},{\"type\":\"Prepend\",\"prepend\":\"_\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[a-z]+|\\\\d\"},"
    "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"Digits\",\"individual_digits\":true},"
    "{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"},{\"type\":\"Whitespace\"}]},"
    "\"decoder\":{\"type\":\"BPEDecoder\"},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"?\",\"fuse_unk\":true,\"end_of_word_suffix\":\"</w>\","
    "\"vocab\":{\"?\":0,\"a\":1,\"a</w>\":2,\"_\":3,\"1\":4,\"1</w>\":5},\"merges\":[]}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mlm_tokenizer *toks[4];
    if (!toks[0])
        for (int i = 0; i < 4; i++)
            if (mlm_tokenizer_load_json(JSONS[i], strlen(JSONS[i]), &toks[i]) != MLM_OK) return 0;
    if (size < 1) return 0;
    mlm_tokenizer *t = toks[data[0] % 4];
    unsigned mode = data[0] >> 2;
    if (mode & 1) mlm_tokenizer_set_truncation(t, 8 + (mode & 6), mode & 2, (mode >> 3) % 3, (mode >> 5) & 1);
    else mlm_tokenizer_set_truncation(t, 0, 0, 0, 0);
    const char *text = (const char *)data + 1;
    size_t n = size - 1, half = n / 2;
    mlm_encoding *e;
    mlm_status st = (mode & 16) ? mlm_tokenizer_encode(t, text, half, text + half, n - half, 1, &e)
                                : mlm_tokenizer_encode(t, text, n, NULL, 0, (mode >> 1) & 1, &e);
    if (st == MLM_OK) {
        char buf[256];
        size_t need;
        mlm_tokenizer_decode(t, mlm_encoding_ids(e), mlm_encoding_length(e), mode & 1, -1, buf,
                             sizeof buf, &need);
        mlm_encoding_free(e);
    }
    return 0;
}
