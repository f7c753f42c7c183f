/* Post-processors (tokenizer.json "post_processor"): BertProcessing,
 * RobertaProcessing, TemplateProcessing, ByteLevel, Sequence. They add the
 * special tokens and merge a pair into one encoding. */
#ifndef MLM_TEXT_POSTPROCESSOR_H
#define MLM_TEXT_POSTPROCESSOR_H

#include <cjson/cJSON.h>

#include "mlm/core.h"
#include "text/encoding.h"

typedef struct postproc postproc;

mlm_status postproc_parse(const cJSON *j, const char *path, postproc **out);
void postproc_free(postproc *p);

/* How many special tokens it adds to a single sequence or a pair. */
size_t postproc_added_tokens(const postproc *p, int is_pair);

/* HF's PostProcessor::process: consumes a and b (b may be NULL) and
 * returns the merged encoding in *out. p may be NULL (no post-processor).
 * 0 or -1 (OOM). */
int postproc_process(const postproc *p, mlm_encoding *a, mlm_encoding *b, int add_special,
                     mlm_encoding **out);

/* ByteLevel's offset trimming (also used by RobertaProcessing). */
void bytelevel_trim_offsets(mlm_encoding *e, int add_prefix_space);

#endif
