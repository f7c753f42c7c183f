#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

static atomic_long fail_countdown = -1;

static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

void mem_fail_after(long n) { atomic_store(&fail_countdown, n); }

/* Blocks from HUGE_FROM bytes start on a 2 MB boundary and ask Linux for
 * transparent huge pages over their whole 2 MB pages (where THP is in
 * "madvise" mode, the default of Debian's kernels, nothing else gets
 * them). The weights, gradients, optimizer moments and activations of a
 * training step are such blocks: the tile products store C's rows
 * kilobytes apart and the packing reads A's columns, one 4 KB page per row,
 * and with 2 MB pages the TLB misses of those strides go. A t5-small
 * training step on one thread ran 3-7% faster (Xeon with AMX, KVM guest).
 * The alignment costs address space only, not memory. */
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_FROM ((size_t)4 << 20)

static void *huge_alloc(size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, size) != 0)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, size / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE); /* advice: may be refused */
#endif
    return p;
}

void *mem_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    return size >= HUGE_FROM ? huge_alloc(size) : malloc(size ? size : 1);
}

void *mem_calloc(size_t count, size_t size)
{
    if (should_fail() || (count && size && count > (size_t)-1 / size))
        return NULL;   /* an overflowing size is refused here, not by calloc (ASan aborts) */
    if (count * size >= HUGE_FROM) {
        void *p = huge_alloc(count * size);
        if (p)
            memset(p, 0, count * size);
        return p;
    }
    return calloc(count ? count : 1, size ? size : 1);
}

void *mem_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void mem_free(void *ptr) { free(ptr); }

void *mem_alloc_lines(size_t size)
{
    if (should_fail())
        return NULL;
    if (size >= HUGE_FROM)
        return huge_alloc(size);
    void *p = NULL;
    return posix_memalign(&p, 64, size ? size : 1) == 0 ? p : NULL;
}

void *mem_calloc_lines(size_t count, size_t size)
{
    if (count && size && count > (size_t)-1 / size)
        return NULL;
    size_t n = count * size;
    void *p = mem_alloc_lines(n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *mem_strndup(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mem_strdup(const char *s) { return mem_strndup(s, strlen(s)); }
