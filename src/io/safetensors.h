/* The safetensors format: reading (validated, zero-copy), sharded
 * checkpoints, and writing byte for byte as the Python package does.
 *
 * A file is 8 bytes of little-endian header size N, N bytes of UTF-8 JSON
 * describing each tensor (dtype, shape, data_offsets into the data buffer)
 * plus optional "__metadata__" strings, then the data buffer. st_open()
 * checks every rule of huggingface/safetensors (safetensors/src/tensor.rs,
 * attacks/README.md) before any tensor is handed out, so accessors never read
 * outside the file. Handles are not thread-safe to close while in use; any
 * number of threads may read an open handle at once. */
#ifndef MLM_IO_SAFETENSORS_H
#define MLM_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io/json.h"
#include "mlm/core.h"

/* In the order of safetensors' Dtype enum, which the writer sorts by. */
typedef enum st_dtype {
    ST_BOOL,
    ST_U8,
    ST_I8,
    ST_F8_E5M2,
    ST_F8_E4M3,
    ST_I16,
    ST_U16,
    ST_F16,
    ST_BF16,
    ST_I32,
    ST_U32,
    ST_F32,
    ST_F64,
    ST_I64,
    ST_U64,
    ST_DTYPE_COUNT
} st_dtype;

/* "F32"...; "?" for a value outside the enum. */
const char *st_dtype_name(st_dtype d);
/* Bytes per element; 0 for a value outside the enum. */
size_t st_dtype_size(st_dtype d);
/* Nonzero and *out set when `name` is one of the 15 dtype names. */
int st_dtype_from_name(const char *name, st_dtype *out);

/* One tensor of an open file; valid until the file is closed. */
typedef struct st_tensor {
    const char *name;
    const char *file;     /* the name its file was opened under, for messages */
    st_dtype dtype;
    size_t ndim;
    const uint64_t *shape;
    uint64_t numel;       /* product of shape (1 for a scalar) */
    const uint8_t *data;  /* nbytes bytes inside the file; any alignment */
    size_t nbytes;
    size_t offset;        /* data_offsets[0], from the start of the data buffer */
} st_tensor;

typedef struct st_file st_file;

/* Maps and validates `path`. Fails with MLM_ERR_FORMAT naming the rule
 * broken and the tensor or key (byte offsets for JSON syntax errors). */
mlm_status st_open(const char *path, st_file **out);
/* The same over `len` bytes the caller keeps alive until st_close; `name`
 * (copied) begins messages. */
mlm_status st_open_memory(const void *buf, size_t len, const char *name, st_file **out);
/* Accepts NULL. */
void st_close(st_file *f);

const char *st_file_name(const st_file *f);
/* Number of tensors; st_at(f, i) lists them by data offset. */
size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);
/* NULL when absent. */
const st_tensor *st_find(const st_file *f, const char *name);
/* As st_find, but MLM_ERR_NOT_FOUND with a message naming file and tensor. */
mlm_status st_get(const st_file *f, const char *name, const st_tensor **out);

/* "__metadata__": value for `key`, or NULL. Entries are listed by key. */
const char *st_metadata(const st_file *f, const char *key);
size_t st_metadata_count(const st_file *f);
void st_metadata_at(const st_file *f, size_t i, const char **key, const char **value);

/* Exact conversions of one element (subnormals, infinities, NaN payloads). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t b);

/* The tensor as floats. F32 data that is 4-byte aligned in memory (and a
 * little-endian host) is returned in place: *data points into the file and
 * *owned is NULL. Otherwise (F16, BF16, unaligned F32) the values are
 * converted into a new buffer returned in both *data and *owned, which the
 * caller mem_free()s. Other dtypes: MLM_ERR_UNSUPPORTED. */
mlm_status st_tensor_f32(const st_tensor *t, const float **data, float **owned);
/* F32, F16 or BF16 converted into dst, which holds exactly `count` floats
 * (count must equal t->numel). */
mlm_status st_tensor_to_f32(const st_tensor *t, float *dst, size_t count);
/* Any integer dtype or BOOL into dst (count must equal t->numel); U64
 * values above INT64_MAX fail with MLM_ERR_RANGE. */
mlm_status st_tensor_to_i64(const st_tensor *t, int64_t *dst, size_t count);
/* As st_tensor_to_i64 into int32; values outside int32 fail with MLM_ERR_RANGE. */
mlm_status st_tensor_to_i32(const st_tensor *t, int32_t *dst, size_t count);

/* ---------------------------------------------------------------- shards */

/* A checkpoint split by model.safetensors.index.json:
 * {"metadata": {...}, "weight_map": {"tensor": "model-00001-of-00002.safetensors"}}.
 * Shard names must be plain file names in the index's directory. Every
 * weight_map entry must name a tensor its shard holds, and no tensor may be in
 * two shards. */
typedef struct st_index st_index;

mlm_status st_index_open(const char *index_path, st_index **out);
void st_index_close(st_index *ix);
/* All tensors of all shards, ordered by name. */
size_t st_index_count(const st_index *ix);
const st_tensor *st_index_at(const st_index *ix, size_t i);
const st_tensor *st_index_find(const st_index *ix, const char *name);
/* The index's "metadata" member (e.g. "total_size"), or NULL; valid until
 * st_index_close. */
const cJSON *st_index_metadata(const st_index *ix, const char *key);
size_t st_index_shard_count(const st_index *ix);
const st_file *st_index_shard(const st_index *ix, size_t i);

/* ---------------------------------------------------------------- writer */

/* Collects tensors (borrowed data) and metadata, then writes the file that
 * Python's safetensors.torch.save_file would write for them: tensors ordered
 * by dtype, widest-aligned first (U64, I64, F64, F32, ... BOOL, the reverse
 * of st_dtype), then by name bytes; header JSON compact, in that order; header
 * padded with spaces to a multiple of 8 bytes. Metadata keys are written in
 * byte order (Python's writer uses a Rust HashMap, whose order is random). */
typedef struct st_writer st_writer;

mlm_status st_writer_new(st_writer **out);
/* Accepts NULL. */
void st_writer_free(st_writer *w);
/* `name` and `shape` are copied; `data` (numel x dtype size bytes) is read
 * only when the file is written and must stay valid until then. Rejects a
 * duplicate or "__metadata__" name and names that are not UTF-8. */
mlm_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, size_t ndim,
                         const uint64_t *shape, const void *data);
mlm_status st_writer_add_metadata(st_writer *w, const char *key, const char *value);
/* Writes atomically (see atomic_writer): `path` is replaced whole or not at all. */
mlm_status st_writer_save(const st_writer *w, const char *path);
/* The same bytes in memory (mem_free them). */
mlm_status st_writer_to_memory(const st_writer *w, uint8_t **out, size_t *len);

#endif
