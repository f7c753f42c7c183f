/* The dataset file format (docs/dataset-format.md): shared by save, open
 * and the streaming writer. */
#ifndef MLM_DATA_FORMAT_H
#define MLM_DATA_FORMAT_H

#include <stdio.h>

#include "data/dataset_impl.h"
#include "io/file.h"

#define DSFILE_MAGIC "MLMDSET\0"
#define DSFILE_VERSION 2 /* written; 1 and 2 are read */
#define DSFILE_MAX_HEADER (16u << 20)
#define DSFILE_MAX_COLUMNS 100000

/* What the header says of one column. */
typedef struct colshape {
    const char *name;
    mlm_column_type type;
    uint64_t nitems, nbytes, nvals;
    int width; /* SEQUENCE: bytes a value, 1, 2 or 4 */
} colshape;

/* The narrowest value width that holds every value in [lo, hi] (lo <= 0 <=
 * hi: ranges start at 0, which every width holds): 1 (uint8), 2 (uint16),
 * else 4 (int32; any negative value). */
int dsfile_width(int32_t lo, int32_t hi);

/* Values v[0..n) written at `width` bytes each, little-endian; each must be
 * in the width's range (dsfile_width of a range holding them). */
mlm_status dsfile_write_values(atomic_writer *w, const int32_t *v, size_t n, int width);

/* Number of buffers of a type and the byte length of buffer k, or 0 on
 * overflow (*ok cleared). */
int dsfile_nbuffers(mlm_column_type t);
uint64_t dsfile_buffer_len(const colshape *c, uint64_t nrows, int k, int *ok);

/* The padded header (JSON; 16 + len is a multiple of 8), mem_alloc'ed. */
mlm_status dsfile_header(const colshape *cols, size_t ncols, uint64_t nrows, char **hdr,
                         size_t *len);

/* Zero bytes from `written` up to the next multiple of 8 (files are written
 * through io/file.h's atomic_writer: a temp file, fsync, rename). */
mlm_status ds_pad8(atomic_writer *w, uint64_t written);

/* Open a file image of `len` bytes at `p`; storage keeps a reference to
 * `map` (NULL: the caller keeps p alive longer than the dataset). */
mlm_status dsfile_open_mem(const void *p, size_t len, dmap *map, const char *what,
                           mlm_dataset **out);

#endif
