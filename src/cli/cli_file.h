/* The mlm tool's files: reading one whole, writing one atomically. The
 * library has its own (io/file.c), but the tool sees only the public API, so
 * these are the tool's one copy. */
#ifndef MLM_CLI_FILE_H
#define MLM_CLI_FILE_H

#include <stddef.h>

/* Write len bytes to path atomically: a temporary file beside it, fsync,
 * rename. Returns 0, or -1 with a message on stderr naming the path. */
int cli_write_atomic(const char *path, const char *data, size_t len);

/* A whole file, NUL-terminated, malloc'ed; NULL (errno set) on failure. */
char *cli_read_file(const char *path, size_t *len);

#endif
