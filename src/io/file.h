/* Whole-file access: read-only mappings, small reads, and atomic writes.
 *
 * Every function here records a message naming the path and the system
 * error when it fails. None of them is tied to a thread. */
#ifndef MLM_IO_FILE_H
#define MLM_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "mlm/core.h"

/* A read-only view of a whole file. A 0-byte file maps to size 0 and a
 * non-NULL `data` that must not be read. The mapping stays valid if the file
 * is later replaced by rename (what atomic writes do); truncating it in place
 * while mapped is undefined (SIGBUS), as with any mmap reader. */
typedef struct mapped_file {
    const uint8_t *data;
    size_t size;
} mapped_file;

mlm_status file_map(const char *path, mapped_file *out);
/* Accepts a zeroed or already unmapped struct. */
void file_unmap(mapped_file *m);

/* Drops the resident pages wholly inside [p, p + n) of a file_map mapping
 * (madvise DONTNEED): the data stays readable, reread from the page cache
 * on the next access. For a caller done with part of a large mapping (a
 * model converting its weights), so that its memory does not hold both
 * forms at once. Only for file_map's read-only mappings — never for
 * allocated memory, which DONTNEED would zero. */
void file_map_release(const void *p, size_t n);

/* Asks that the whole pages of [p, p + n) in a mapping from file_map be
 * mapped as small pages from now on (advice: nothing changes on failure).
 * A kernel that keeps a file's page cache in large folios may otherwise map
 * 2 MB on a touch of a few bytes. */
void file_map_small_pages(const void *p, size_t n);

/* The whole file in a mem_alloc'ed, NUL-terminated buffer (the NUL is not
 * counted in *len). Files over `max_size` bytes fail with MLM_ERR_RANGE, so
 * a config reader cannot be made to allocate gigabytes. */
/* out = "dir/name"; MLM_ERR_INVALID_ARGUMENT naming both when it does not
 * fit in cap bytes. */
mlm_status path_join(char *out, size_t cap, const char *dir, const char *name);
/* "dir/name" in a new allocation; NULL when out of memory. */
char *path_join_alloc(const char *dir, const char *name);

mlm_status file_read_all(const char *path, size_t max_size, char **out, size_t *len);

/* Atomic replacement of `path`: bytes go to "path.tmp.XXXXXX" in the same
 * directory; commit fsyncs it, renames it over `path` and fsyncs the
 * directory. Any failure, or abort, unlinks the temporary file and leaves an
 * existing `path` untouched. Writes are buffered, so callers may stream many
 * small pieces (a header, then each tensor). */
typedef struct atomic_writer atomic_writer;

mlm_status atomic_writer_open(const char *path, atomic_writer **out);
mlm_status atomic_writer_write(atomic_writer *w, const void *buf, size_t len);
/* Frees `w` whatever the outcome. */
mlm_status atomic_writer_commit(atomic_writer *w);
/* Discards everything written; frees `w`. Accepts NULL. */
void atomic_writer_abort(atomic_writer *w);

/* One-shot form of the above. */
mlm_status file_write_atomic(const char *path, const void *buf, size_t len);

/* Tests only: the next `n` write/fsync/rename system calls made by the
 * atomic writer succeed and every later one fails with EIO; n < 0 turns this
 * off. Process-wide, like mem_fail_after(). */
void file_fail_after(long n);

#endif
