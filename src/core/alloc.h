/* Allocation with a fault-injection hook.
 *
 * All of libmlm allocates through these, so that tests can make the N-th
 * allocation fail (as SQLite's test harness does) and check that every
 * failure path returns MLM_ERR_OUT_OF_MEMORY and leaks nothing. */
#ifndef MLM_CORE_ALLOC_H
#define MLM_CORE_ALLOC_H

#include <stddef.h>

void *mem_alloc(size_t size);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *ptr, size_t size);
void mem_free(void *ptr);
/* size bytes (zeroed: mem_calloc_lines) starting on a 64-byte boundary, a
 * cache line, freed with mem_free. For the operands of the AMX tile loads,
 * whose 64-byte rows cost two cache-line reads each when they straddle a
 * boundary (a bf16 product ran at 580 instead of 970 GFLOP/s). */
void *mem_alloc_lines(size_t size);
void *mem_calloc_lines(size_t count, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);

/* Tests only: the next `n` allocations succeed, every later one fails;
 * n < 0 turns injection off. Process-wide. */
void mem_fail_after(long n);

#endif
