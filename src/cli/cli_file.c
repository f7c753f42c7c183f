#include "cli_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_write_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        fprintf(stderr, "mlm: %s: out of memory\n", path);
        return -1;
    }
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "mlm: %s: cannot create: %s\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno != EINTR)
            err = errno;
        else if (w > 0)
            done += (size_t)w;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    /* mkstemp makes the file 0600; results are ordinary files */
    if (!err && chmod(tmp, 0644) != 0)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        fprintf(stderr, "mlm: %s: cannot write: %s\n", path, strerror(err));
        unlink(tmp);
    }
    free(tmp);
    return err ? -1 : 0;
}

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            size_t nc = cap ? 2 * cap : 8192;
            char *nd = realloc(data, nc);
            if (!nd) {
                free(data);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            data = nd;
            cap = nc;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        if (!got)
            break;
        n += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        errno = EIO;
        return NULL;
    }
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}
