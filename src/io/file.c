#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

/* Large enough that streaming a checkpoint tensor by tensor costs few system
 * calls; bigger pieces bypass the buffer. */
#define WRITE_BUF_SIZE (256 * 1024)

static atomic_long io_countdown = -1;

void file_fail_after(long n) { atomic_store(&io_countdown, n); }

/* Fault injection for the writer's system calls: returns nonzero (with
 * errno = EIO) when the call should fail. */
static int io_should_fail(void)
{
    long n = atomic_load(&io_countdown);
    if (n < 0)
        return 0;
    if (n == 0) {
        errno = EIO;
        return 1;
    }
    atomic_fetch_sub(&io_countdown, 1);
    return 0;
}

/* ---------------------------------------------------------------- reading */

static const uint8_t empty_file[1];

static mlm_status open_regular(const char *path, int *fd_out, size_t *size_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(errno == ENOENT ? MLM_ERR_NOT_FOUND : MLM_ERR_IO, "%s: cannot open: %s",
                       path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_set(MLM_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(MLM_ERR_IO, "%s: not a regular file", path);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return err_set(MLM_ERR_RANGE, "%s: file too large for this machine", path);
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return MLM_OK;
}

mlm_status file_map(const char *path, mapped_file *out)
{
    out->data = NULL;
    out->size = 0;
    int fd;
    size_t size;
    mlm_status s = open_regular(path, &fd, &size);
    if (s != MLM_OK)
        return s;
    if (size == 0) {
        close(fd);
        out->data = empty_file;
        return MLM_OK;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return err_set(e == ENOMEM ? MLM_ERR_OUT_OF_MEMORY : MLM_ERR_IO, "%s: cannot map %zu bytes: %s",
                       path, size, strerror(e));
    out->data = p;
    out->size = size;
    return MLM_OK;
}

void file_unmap(mapped_file *m)
{
    if (m->data && m->data != empty_file && m->size)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

void file_map_release(const void *p, size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || !p)
        return;
    uintptr_t begin = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_DONTNEED); /* advice: a failure changes nothing */
}

void file_map_small_pages(const void *p, size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || !p || !n)
        return;
    uintptr_t begin = (uintptr_t)p & ~((uintptr_t)page - 1);
    uintptr_t end = ((uintptr_t)p + n + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
#ifdef MADV_NOHUGEPAGE
    madvise((void *)begin, end - begin, MADV_NOHUGEPAGE);
#else
    (void)begin;
    (void)end;
#endif
}

mlm_status file_read_all(const char *path, size_t max_size, char **out, size_t *len)
{
    *out = NULL;
    int fd;
    size_t size;
    mlm_status s = open_regular(path, &fd, &size);
    if (s != MLM_OK)
        return s;
    if (size > max_size) {
        close(fd);
        return err_set(MLM_ERR_RANGE, "%s: %zu bytes is more than the %zu this reader accepts", path,
                       size, max_size);
    }
    char *buf = mem_alloc(size + 1);
    if (!buf) {
        close(fd);
        return err_oom();
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* The file shrank under us, or a read error. */
            s = err_set(MLM_ERR_IO, "%s: read failed at byte %zu: %s", path, got,
                        n < 0 ? strerror(errno) : "unexpected end of file");
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (s != MLM_OK) {
        mem_free(buf);
        return s;
    }
    buf[size] = '\0';
    *out = buf;
    if (len)
        *len = size;
    return MLM_OK;
}

/* ---------------------------------------------------------------- writing */

struct atomic_writer {
    int fd;
    char *path;
    char *tmp;
    size_t used;
    unsigned char buf[WRITE_BUF_SIZE];
};

static mlm_status write_fully(atomic_writer *w, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = io_should_fail() ? -1 : write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(MLM_ERR_IO, "%s: write failed: %s", w->tmp, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return MLM_OK;
}

static mlm_status flush_buffer(atomic_writer *w)
{
    mlm_status s = write_fully(w, w->buf, w->used);
    w->used = 0;
    return s;
}

static void writer_free(atomic_writer *w)
{
    mem_free(w->path);
    mem_free(w->tmp);
    mem_free(w);
}

void atomic_writer_abort(atomic_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    writer_free(w);
}

/* Opens "path.tmp.XXXXXX" exclusively. Not mkstemp: it creates mode 0600,
 * and fixing that needs umask(), which is process-wide and not thread-safe;
 * open() with 0666 applies the caller's umask as any other file gets. */
static int create_temp(char *tmp, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static atomic_ulong counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^
                               ((unsigned long long)getpid() << 20) ^
                               (atomic_fetch_add(&counter, 1) * 0xBF58476D1CE4E5B9ull);
        memcpy(tmp + n, ".tmp.", 5);
        for (int i = 0; i < 6; i++) {
            tmp[n + 5 + i] = alphabet[x % (sizeof alphabet - 1)];
            x /= sizeof alphabet - 1;
        }
        tmp[n + 11] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

mlm_status atomic_writer_open(const char *path, atomic_writer **out)
{
    *out = NULL;
    atomic_writer *w = mem_calloc(1, sizeof *w);
    if (!w)
        return err_oom();
    w->fd = -1;
    size_t n = strlen(path);
    w->path = mem_strdup(path);
    w->tmp = mem_alloc(n + sizeof ".tmp.XXXXXX");
    if (!w->path || !w->tmp) {
        writer_free(w);
        return err_oom();
    }
    memcpy(w->tmp, path, n);
    w->fd = create_temp(w->tmp, n);
    if (w->fd < 0) {
        mlm_status s = err_set(MLM_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                               strerror(errno));
        writer_free(w);
        return s;
    }
    *out = w;
    return MLM_OK;
}

mlm_status atomic_writer_write(atomic_writer *w, const void *buf, size_t len)
{
    if (len >= sizeof w->buf) {
        mlm_status s = flush_buffer(w);
        return s != MLM_OK ? s : write_fully(w, buf, len);
    }
    if (len > sizeof w->buf - w->used) {
        mlm_status s = flush_buffer(w);
        if (s != MLM_OK)
            return s;
    }
    if (len)
        memcpy(w->buf + w->used, buf, len);
    w->used += len;
    return MLM_OK;
}

static mlm_status sync_directory(const char *path)
{
    char *copy = mem_strdup(path);
    if (!copy)
        return err_oom();
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mlm_status s = MLM_OK;
    if (fd < 0 || io_should_fail() || fsync(fd) != 0)
        s = err_set(MLM_ERR_IO, "%s: cannot sync directory '%s': %s", path, dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    mem_free(copy);
    return s;
}

mlm_status atomic_writer_commit(atomic_writer *w)
{
    mlm_status s = flush_buffer(w);
    if (s == MLM_OK && (io_should_fail() || fsync(w->fd) != 0))
        s = err_set(MLM_ERR_IO, "%s: fsync failed: %s", w->tmp, strerror(errno));
    if (s == MLM_OK) {
        int rc = close(w->fd);
        w->fd = -1;
        if (rc != 0)
            s = err_set(MLM_ERR_IO, "%s: close failed: %s", w->tmp, strerror(errno));
    }
    if (s == MLM_OK && (io_should_fail() || rename(w->tmp, w->path) != 0))
        s = err_set(MLM_ERR_IO, "%s: cannot rename '%s' over it: %s", w->path, w->tmp,
                    strerror(errno));
    if (s != MLM_OK) {
        atomic_writer_abort(w);
        return s;
    }
    /* The new file is in place; a failed directory sync only means the
     * rename may not survive a power cut, which the caller must hear of. */
    s = sync_directory(w->path);
    writer_free(w);
    return s;
}

mlm_status file_write_atomic(const char *path, const void *buf, size_t len)
{
    atomic_writer *w;
    mlm_status s = atomic_writer_open(path, &w);
    if (s != MLM_OK)
        return s;
    s = atomic_writer_write(w, buf, len);
    if (s != MLM_OK) {
        atomic_writer_abort(w);
        return s;
    }
    return atomic_writer_commit(w);
}

mlm_status path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return err_set(MLM_ERR_INVALID_ARGUMENT, "path too long: %s/%s", dir, name);
    return MLM_OK;
}

char *path_join_alloc(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = mem_alloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}
