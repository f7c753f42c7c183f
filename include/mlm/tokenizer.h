/*
 * mlm/tokenizer.h — tokenizers with Hugging Face `tokenizers` parity.
 *
 * A tokenizer is loaded from a `tokenizer.json` (as HF `tokenizers` writes
 * it), from a model directory (tokenizer.json, or the legacy vocab.txt /
 * vocab.json + merges.txt, converted as transformers' fast tokenizers do), or
 * trained from text. It turns text into an mlm_encoding (ids, type ids,
 * masks, word ids, offsets) and ids back into text.
 *
 * Thread safety: a loaded tokenizer is immutable except through the
 * mlm_tokenizer_set_* functions; encode and decode may run on many threads
 * at once on one tokenizer as long as no thread changes its settings.
 */
#ifndef MLM_TOKENIZER_H
#define MLM_TOKENIZER_H

#include "mlm/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlm_tokenizer mlm_tokenizer;
typedef struct mlm_encoding mlm_encoding;

/* ------------------------------------------------------------------ load */

/* Load from a tokenizer.json file, or from a directory: tokenizer.json if it
 * is there, else vocab.txt (BERT/DistilBERT, honouring do_lower_case etc. in
 * tokenizer_config.json) or vocab.json + merges.txt (RoBERTa/GPT-2).
 * tokenizer_config.json beside it, when present, supplies model_max_length
 * and clean_up_tokenization_spaces, and with special_tokens_map.json and
 * config.json the special-token roles (see mlm_tokenizer_special_id).
 * On failure *out is NULL and mlm_last_error() names the file and field. */
MLM_API mlm_status mlm_tokenizer_load(const char *path, mlm_tokenizer **out);

/* Load from the text of a tokenizer.json held in memory (need not be
 * NUL-terminated). */
MLM_API mlm_status mlm_tokenizer_load_json(const char *json, size_t len, mlm_tokenizer **out);

/* Write tokenizer.json (HF's schema: `tokenizers` loads it) to `path`,
 * atomically. */
MLM_API mlm_status mlm_tokenizer_save(const mlm_tokenizer *tok, const char *path);

/* Write what transformers' PreTrainedTokenizerFast.save_pretrained(dir)
 * writes, so that AutoTokenizer.from_pretrained(dir) (and
 * mlm_tokenizer_load(dir)) loads it: dir/tokenizer.json, and
 * dir/tokenizer_config.json and dir/special_tokens_map.json with the
 * special tokens by role, clean_up_tokenization_spaces, model_max_length
 * when set, and tokenizer_class "PreTrainedTokenizerFast" (the class that
 * uses tokenizer.json as it is). dir is created if missing (not its
 * parents); each file is written atomically. */
MLM_API mlm_status mlm_tokenizer_save_pretrained(const mlm_tokenizer *tok, const char *dir);

/* Accepts NULL. */
MLM_API void mlm_tokenizer_free(mlm_tokenizer *tok);

/* ----------------------------------------------------------- vocabulary */

/* Number of ids: the model's vocabulary plus added tokens (HF's
 * `get_vocab_size(with_added_tokens=True)`, i.e. len(tokenizer)). */
MLM_API int32_t mlm_tokenizer_vocab_size(const mlm_tokenizer *tok);

/* The id of a token string (vocabulary or added token), or -1. */
MLM_API int32_t mlm_tokenizer_token_to_id(const mlm_tokenizer *tok, const char *token);

/* The token string of an id, or NULL when out of range. Owned by tok. */
MLM_API const char *mlm_tokenizer_id_to_token(const mlm_tokenizer *tok, int32_t id);

/* Special tokens by role, as transformers names them. */
typedef enum mlm_special_token {
    MLM_TOKEN_UNK = 0,
    MLM_TOKEN_PAD = 1,
    MLM_TOKEN_MASK = 2,
    MLM_TOKEN_CLS = 3,
    MLM_TOKEN_SEP = 4,
    MLM_TOKEN_BOS = 5,
    MLM_TOKEN_EOS = 6
} mlm_special_token;

/* The id of the special token with that role, or -1 when the tokenizer has
 * none (e.g. no pad token).
 *
 * Roles are assigned as transformers' from_pretrained does: the defaults of
 * the tokenizer class (tokenizer_config.json's tokenizer_class, else the
 * class of config.json's model_type, else BertTokenizer for vocab.txt and
 * RobertaTokenizer for vocab.json + merges.txt) are
 *   BertTokenizer (also DistilBert, Electra): [UNK] [PAD] [MASK] [CLS] [SEP]
 *   RobertaTokenizer (also XLMRoberta, Camembert, Bart, Longformer):
 *       <unk> <pad> <mask>, cls and bos <s>, sep and eos </s>
 *   GPT2Tokenizer: <|endoftext|> as unk, bos and eos; no pad, no mask
 *   T5Tokenizer: <unk> <pad>, eos </s>
 *   PreTrainedTokenizerFast: none;
 * then the "unk_token", "pad_token", ... keys of tokenizer_config.json and
 * of special_tokens_map.json (unless tokenizer_config.json has
 * added_tokens_decoder, as transformers >= 4.34 writes it) win: a string,
 * an {"content": ...} object, or null for none.
 * Without a class libmlm knows (a bare tokenizer.json, mlm_tokenizer_
 * load_json, an unlisted class), the defaults are a guess from the names of
 * the special added tokens only: [UNK]..[SEP] by BERT's names; <unk> <pad>
 * <mask> </s> (eos); <s>/</s> as cls/sep/bos only when both are there;
 * <|endoftext|> as unk/bos/eos when nothing else fills them. A plain
 * vocabulary entry such as GPT-2's "<pad>" is never a role.
 * A role whose token is not in the vocabulary (transformers would add it)
 * has its string (mlm_tokenizer_special_token) but id -1. */
MLM_API int32_t mlm_tokenizer_special_id(const mlm_tokenizer *tok, mlm_special_token role);

/* The string of that special token ("[MASK]", "<mask>"), or NULL. */
MLM_API const char *mlm_tokenizer_special_token(const mlm_tokenizer *tok, mlm_special_token role);

/* Give a role to an existing token, e.g. pad = eos as the seed does with
 * `tokenizer.pad_token = tokenizer.eos_token`. */
MLM_API mlm_status mlm_tokenizer_set_special(mlm_tokenizer *tok, mlm_special_token role,
                                             const char *token);

/* tokenizer_config.json's model_max_length (or a large value when unset). */
MLM_API int64_t mlm_tokenizer_model_max_length(const mlm_tokenizer *tok);

/* ------------------------------------------------------------- settings */

typedef enum mlm_truncation_strategy {
    MLM_TRUNCATE_LONGEST_FIRST = 0,
    MLM_TRUNCATE_ONLY_FIRST = 1,
    MLM_TRUNCATE_ONLY_SECOND = 2
} mlm_truncation_strategy;

typedef enum mlm_side { MLM_SIDE_RIGHT = 0, MLM_SIDE_LEFT = 1 } mlm_side;

/* Truncate encodings to max_length tokens (special tokens included);
 * the cut-off part is returned as overflowing encodings, each overlapping
 * the previous by `stride` tokens. max_length 0 turns truncation off. */
MLM_API mlm_status mlm_tokenizer_set_truncation(mlm_tokenizer *tok, int32_t max_length,
                                                int32_t stride, mlm_truncation_strategy strategy,
                                                mlm_side direction);

/* Padding: length < 0 pads a batch to its longest encoding; length > 0 to
 * that fixed length; pad_to_multiple_of > 0 rounds the length up. The pad
 * token is the tokenizer's (an error at encode time if it has none).
 * mlm_tokenizer_disable_padding() turns it off (the default). */
MLM_API mlm_status mlm_tokenizer_set_padding(mlm_tokenizer *tok, int32_t length,
                                             int32_t pad_to_multiple_of, mlm_side direction);
MLM_API mlm_status mlm_tokenizer_disable_padding(mlm_tokenizer *tok);

/* ------------------------------------------------------------- encoding */

/* Encode one text (and optionally a pair; pair may be NULL). Texts are UTF-8
 * of the given byte length, which is authoritative: U+0000 is a character
 * like any other (HF's BertNormalizer removes it, ByteLevel maps it to 'Ā').
 * Invalid UTF-8 is MLM_ERR_FORMAT naming the byte offset. add_special_tokens
 * applies the post-processor ([CLS] ... [SEP]). */
MLM_API mlm_status mlm_tokenizer_encode(const mlm_tokenizer *tok, const char *text, size_t len,
                                        const char *pair, size_t pair_len,
                                        int add_special_tokens, mlm_encoding **out);

/* Encode n NUL-terminated texts (pairs may be NULL, or hold NULL entries) on
 * nthreads threads (<= 0: mlm_default_threads()). out[] receives n encodings; with
 * padding set, they are padded together. On failure no encoding is
 * returned and the error names the index of the text at fault. A text
 * ends at its first NUL here: mlm_tokenizer_encode_batch_len takes lengths. */
MLM_API mlm_status mlm_tokenizer_encode_batch(const mlm_tokenizer *tok, const char *const *texts,
                                              const char *const *pairs, size_t n,
                                              int add_special_tokens, int nthreads,
                                              mlm_encoding **out);

/* mlm_tokenizer_encode_batch with texts of given byte lengths (they may hold
 * U+0000): text i is texts[i][0 .. lens[i]). pairs and pair_lens are both
 * NULL or both given; a NULL pairs[i] means no pair for text i. A NULL
 * texts[i] must have length 0. */
MLM_API mlm_status mlm_tokenizer_encode_batch_len(const mlm_tokenizer *tok,
                                                  const char *const *texts, const size_t *lens,
                                                  const char *const *pairs,
                                                  const size_t *pair_lens, size_t n,
                                                  int add_special_tokens, int nthreads,
                                                  mlm_encoding **out);

/* Accepts NULL. Frees the overflowing encodings too. */
MLM_API void mlm_encoding_free(mlm_encoding *enc);

/* Number of tokens (after truncation and padding). */
MLM_API size_t mlm_encoding_length(const mlm_encoding *enc);

/* Arrays of mlm_encoding_length() values, owned by the encoding. word_ids
 * and sequence_ids hold -1 where HF has None (special and pad tokens). */
MLM_API const int32_t *mlm_encoding_ids(const mlm_encoding *enc);
MLM_API const int32_t *mlm_encoding_type_ids(const mlm_encoding *enc);
MLM_API const int32_t *mlm_encoding_attention_mask(const mlm_encoding *enc);
MLM_API const int32_t *mlm_encoding_special_tokens_mask(const mlm_encoding *enc);
MLM_API const int32_t *mlm_encoding_word_ids(const mlm_encoding *enc);
MLM_API const int32_t *mlm_encoding_sequence_ids(const mlm_encoding *enc);

/* The token string at i (NUL-terminated), or NULL when out of range. Owned
 * by the encoding. A token may hold U+0000 (T5's Unigram keeps an unknown
 * "\0" as a piece): mlm_encoding_token_length gives its byte length. */
MLM_API const char *mlm_encoding_token(const mlm_encoding *enc, size_t i);

/* The byte length of token i (without the terminating NUL); 0 when out of
 * range. */
MLM_API size_t mlm_encoding_token_length(const mlm_encoding *enc, size_t i);

typedef enum mlm_offset_unit {
    MLM_OFFSETS_BYTES = 0,      /* byte offsets into the UTF-8 input (Rust) */
    MLM_OFFSETS_CODEPOINTS = 1  /* Unicode code points (transformers' Python) */
} mlm_offset_unit;

/* Offsets [start, end) of token i in its input text (the pair's offsets are
 * relative to the pair). Special and pad tokens give (0, 0). */
MLM_API mlm_status mlm_encoding_offsets(const mlm_encoding *enc, size_t i, mlm_offset_unit unit,
                                        size_t *start, size_t *end);

/* Overflowing parts produced by truncation. */
MLM_API size_t mlm_encoding_n_overflowing(const mlm_encoding *enc);
MLM_API const mlm_encoding *mlm_encoding_overflowing(const mlm_encoding *enc, size_t i);

/* ------------------------------------------------------------- decoding */

/* Decode ids to text through the tokenizer's decoder. clean_up_spaces < 0
 * follows tokenizer_config.json (transformers' clean_up_tokenization_spaces,
 * on by default for the BERT family), 0 off, > 0 on. Two-call sizing: writes
 * at most cap bytes including the NUL into buf (buf may be NULL when cap is
 * 0) and sets *needed to the full length + 1; a too-small buffer is not an
 * error. The text may hold U+0000 (a ByteLevel or ByteFallback decoder turns
 * 'Ā' or <0x00> back into it), so *needed - 1 is its length, not strlen(buf).
 * Out-of-range ids are skipped, as HF does. */
MLM_API mlm_status mlm_tokenizer_decode(const mlm_tokenizer *tok, const int32_t *ids, size_t n,
                                        int skip_special_tokens, int clean_up_spaces, char *buf,
                                        size_t cap, size_t *needed);

/* ------------------------------------------------------------- training */

typedef struct mlm_tokenizer_trainer mlm_tokenizer_trainer;

typedef enum mlm_tokenizer_model_kind {
    MLM_TOKENIZER_WORDPIECE = 0, /* BERT: BertNormalizer, BertPreTokenizer, [CLS]/[SEP] */
    MLM_TOKENIZER_BYTE_BPE = 1   /* RoBERTa: ByteLevel, <s>/</s>, <mask> lstrip */
} mlm_tokenizer_model_kind;

/* A trainer with the defaults of HF's Python implementations for that kind:
 *   WORDPIECE  BertWordPieceTokenizer().train(): vocab_size 30000,
 *              min_frequency 2, limit_alphabet 1000, special tokens [PAD]
 *              [UNK] [CLS] [SEP] [MASK], continuing_subword_prefix "##",
 *              lowercase true (BertNormalizer; strip_accents follows it).
 *   BYTE_BPE   ByteLevelBPETokenizer().train() with RoBERTa's conventions:
 *              vocab_size 30000, min_frequency 2, initial alphabet the 256
 *              ByteLevel characters, special tokens <s> <pad> </s> <unk>
 *              <mask>, add_prefix_space false.
 * (HF's bare BpeTrainer/WordPieceTrainer, as Tokenizer.train(files) uses
 * them, differ: min_frequency 0, no special tokens, no alphabet settings.)
 * On failure *out is NULL. Free with mlm_tokenizer_trainer_free (NULL ok).
 * A trainer is not thread-safe: one thread at a time. */
MLM_API mlm_status mlm_tokenizer_trainer_new(mlm_tokenizer_model_kind kind,
                                             mlm_tokenizer_trainer **out);
MLM_API void mlm_tokenizer_trainer_free(mlm_tokenizer_trainer *tr);

/* Settings by name, as HF's trainers call them:
 *   "vocab_size", "min_frequency"   integers >= 0
 *   "limit_alphabet"                integer >= 0, or "null" for no limit
 *   "show_progress"                 "true"/"false" (accepted; libmlm prints
 *                                   no progress)
 *   "continuing_subword_prefix"     text ("" for none; WordPiece needs one)
 *   "lowercase"                     "true"/"false", WordPiece only
 *   "add_prefix_space"              "true"/"false", BYTE_BPE only
 *   "special_tokens"                JSON array of strings (or {"content": s}
 *                                   objects), e.g. ["[PAD]", "[UNK]"]; they
 *                                   get ids 0.. in order and become special
 *                                   added tokens ("<mask>" with lstrip)
 *   "initial_alphabet"              JSON array of strings; the first
 *                                   character of each is always kept ([]
 *                                   clears the kind's default)
 *   "threads"                       1..256 threads counting fed files
 *                                   (default 1; the result is the same)
 *   "template_single", "template_pair"
 *                                   TemplateProcessing(single=..., pair=...)
 *                                   as the result's post-processor, in HF's
 *                                   string form: pieces separated by ' ',
 *                                   $A / $B (or $<type_id>: A) for the
 *                                   sequences, any other piece a special
 *                                   token, each with an optional
 *                                   :<type_id>; e.g. T5's "$A </s>" and
 *                                   "$A </s> $B </s>". Setting either
 *                                   replaces the kind's post-processor (an
 *                                   unset one is HF's default: "$0" single,
 *                                   "$A:0 $B:1" pair; "" unsets); the pair
 *                                   template must use $A and $B. A special
 *                                   token named there gets its id in the
 *                                   trained vocabulary
 *                                   (tokenizer.token_to_id), so list it in
 *                                   "special_tokens": finish fails otherwise.
 *                                   With "special_tokens" ["<pad>", "</s>",
 *                                   "<unk>"] and "$A </s>" a byte-level BPE
 *                                   tokenizer follows T5's conventions
 *                                   (<pad> 0, </s> 1, <unk> 2, a final </s>).
 * "lowercase", "add_prefix_space" and "threads" must be set before the first
 * feed (MLM_ERR_STATE after). An unknown name or a bad value is
 * MLM_ERR_INVALID_ARGUMENT naming it. */
MLM_API mlm_status mlm_tokenizer_trainer_set(mlm_tokenizer_trainer *tr, const char *name,
                                             const char *value);

/* Feed text; may be called often. A file is read in blocks (not whole) and
 * split into lines that keep their '\n', each line one sequence, as HF's
 * Tokenizer.train(files) reads it; invalid UTF-8 is MLM_ERR_FORMAT naming
 * the line. feed() takes one sequence of UTF-8 (HF's train_from_iterator
 * with one item). Each sequence is normalized and pre-tokenized by the
 * kind's pipeline and its words counted. */
MLM_API mlm_status mlm_tokenizer_trainer_feed_file(mlm_tokenizer_trainer *tr, const char *path);
MLM_API mlm_status mlm_tokenizer_trainer_feed(mlm_tokenizer_trainer *tr, const char *text,
                                              size_t len);

/* Train on everything fed so far and return a new tokenizer (the kind's
 * full pipeline: BertProcessing [CLS]/[SEP] or RobertaProcessing <s>/</s>
 * when those are special tokens, none (WordPiece) or a ByteLevel
 * post-processor otherwise); mlm_tokenizer_save writes it as a
 * tokenizer.json that HF loads. With "template_single" or "template_pair",
 * TemplateProcessing instead. The trainer may be freed afterwards, or fed
 * more and finished again. */
MLM_API mlm_status mlm_tokenizer_trainer_finish(mlm_tokenizer_trainer *tr, mlm_tokenizer **out);

#ifdef __cplusplus
}
#endif

#endif /* MLM_TOKENIZER_H */
