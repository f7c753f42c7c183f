/* Core: versions, status strings, per-thread errors, allocation faults;
 * the ABI (exported symbols); the mlm tool's exit codes and option spelling. */
#include "suites.h"
#include "testutil.h"

#include <mlm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/scratch.h"
#include "core/utf8.h"

START_TEST(version_matches_header)
{
    ck_assert_int_eq(mlm_version_number(), MLM_VERSION_NUMBER);
    ck_assert_str_eq(mlm_version(), MLM_VERSION_STRING);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", MLM_VERSION_MAJOR, MLM_VERSION_MINOR,
             MLM_VERSION_PATCH);
    ck_assert_str_eq(mlm_version(), expect);
}
END_TEST

START_TEST(status_strings_distinct)
{
    const char *seen[MLM_ERR_INTERNAL + 1];
    for (int s = MLM_OK; s <= MLM_ERR_INTERNAL; s++) {
        seen[s] = mlm_status_string((mlm_status)s);
        ck_assert_ptr_nonnull(seen[s]);
        ck_assert_str_ne(seen[s], "unknown status");
        for (int t = 0; t < s; t++)
            ck_assert_str_ne(seen[s], seen[t]);
    }
    ck_assert_str_eq(mlm_status_string((mlm_status)999), "unknown status");
}
END_TEST

static void *other_thread(void *arg)
{
    (void)arg;
    /* A fresh thread starts with no message, whatever the main thread has. */
    int empty = mlm_last_error()[0] == '\0';
    err_set(MLM_ERR_IO, "thread message");
    return (void *)(long)empty;
}

START_TEST(last_error_is_per_thread)
{
    ck_assert_int_eq(err_set(MLM_ERR_FORMAT, "file %s: byte %d", "x.json", 17), MLM_ERR_FORMAT);
    ck_assert_str_eq(mlm_last_error(), "file x.json: byte 17");
    pthread_t t;
    void *ret;
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &ret), 0);
    ck_assert_int_eq((int)(long)ret, 1);
    ck_assert_str_eq(mlm_last_error(), "file x.json: byte 17");
    err_prefix(MLM_ERR_FORMAT, "%s: ", "model.safetensors");
    ck_assert_str_eq(mlm_last_error(), "model.safetensors: file x.json: byte 17");
    mlm_clear_error();
    ck_assert_str_eq(mlm_last_error(), "");
}
END_TEST

START_TEST(alloc_fault_injection)
{
    mem_fail_after(2);
    void *a = mem_alloc(8), *b = mem_alloc(8), *c = mem_alloc(8);
    mem_fail_after(-1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c);
    void *d = mem_alloc(8);
    ck_assert_ptr_nonnull(d);
    mem_free(a);
    mem_free(b);
    mem_free(d);
}
END_TEST

/* Large blocks start on a 2 MB boundary (the huge-page advice covers
 * whole pages from there); calloc's are zeroed, overflow is refused, and
 * every kind fails under injection like the small ones. */
START_TEST(alloc_large_blocks)
{
    const size_t big = ((size_t)5 << 20) + 3, page = (size_t)2 << 20;
    unsigned char *a = mem_alloc(big), *b = mem_alloc_lines(big), *c = mem_calloc(big, 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq((uintptr_t)a % page, 0);
    ck_assert_uint_eq((uintptr_t)b % page, 0);
    ck_assert_uint_eq((uintptr_t)c % page, 0);
    memset(a, 0xab, big);
    memset(b, 0xcd, big);
    for (size_t i = 0; i < big; i += 4093)
        ck_assert_uint_eq(c[i], 0);
    ck_assert_uint_eq(c[big - 1], 0);
    ck_assert_ptr_null(mem_calloc((size_t)1 << 40, (size_t)1 << 40));
    mem_fail_after(0);
    ck_assert_ptr_null(mem_alloc(big));
    ck_assert_ptr_null(mem_alloc_lines(big));
    ck_assert_ptr_null(mem_calloc(big, 1));
    mem_fail_after(-1);
    mem_free(a);
    mem_free(b);
    mem_free(c);
}
END_TEST

/* The scratch cache: a returned block comes back to the next request it
 * fits, the smallest that fits; blocks over the byte cap, or past
 * SCRATCH_KEEP, are freed (ASan and valgrind see any leak); a failed
 * allocation is NULL; a NULL cache allocates plainly. Then 4 threads take
 * and return blocks at once (the model's cache is shared by the threads of
 * mlm_generate; TSan checks this in CI). */
static void *scratch_worker(void *arg)
{
    scratch_cache *c = arg;
    for (int i = 0; i < 200; i++) {
        size_t n = SCRATCH_MIN + (size_t)(i % 7) * 4096;
        unsigned char *p = scratch_get(c, n);
        if (!p)
            return (void *)1;
        memset(p, i & 0xff, 4096);   /* the block's ends are the caller's */
        p[n - 1] = (unsigned char)i;
        scratch_put(c, p);
    }
    return NULL;
}

START_TEST(scratch_cache_reuses_blocks)
{
    const size_t MB = SCRATCH_MIN;   /* the smallest block kept */
    scratch_cache *c = scratch_new(16 * MB);
    ck_assert_ptr_nonnull(c);
    void *a = scratch_get(c, MB), *b = scratch_get(c, 3 * MB);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq((int)((uintptr_t)a % 16), 0);
    scratch_put(c, a);
    scratch_put(c, b);
    ck_assert_ptr_eq(scratch_get(c, MB), a);       /* the smallest that fits */
    ck_assert_ptr_eq(scratch_get(c, 2 * MB), b);   /* a is out: b fits */
    void *d = scratch_get(c, 2 * MB);              /* none kept: a new one */
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_ne(d, a);
    ck_assert_ptr_ne(d, b);
    scratch_put(c, a);
    scratch_put(c, b);
    scratch_put(c, d);
    /* none fits 5 MB: the largest (b, 3 MB) grows; a and d stay kept */
    unsigned char *g = scratch_get(c, 5 * MB);
    ck_assert_ptr_nonnull(g);
    memset(g, 7, 5 * MB);
    ck_assert_ptr_eq(scratch_get(c, 2 * MB), d);
    ck_assert_ptr_eq(scratch_get(c, MB), a);
    scratch_put(c, a);
    scratch_put(c, d);
    scratch_put(c, g);
    /* small blocks are never kept: two in a row are two allocations (ASan
     * or valgrind would see one lost) */
    void *s1 = scratch_get(c, 100);
    scratch_put(c, s1);
    void *s2 = scratch_get(c, 100);
    ck_assert_ptr_nonnull(s2);
    scratch_put(c, s2);
    void *big = scratch_get(c, 17 * MB);           /* over the cap: freed when returned */
    scratch_put(c, big);
    void *many[SCRATCH_KEEP + 3];
    for (int i = 0; i < SCRATCH_KEEP + 3; i++)
        ck_assert_ptr_nonnull(many[i] = scratch_get(c, MB / 8 + (size_t)i));
    for (int i = 0; i < SCRATCH_KEEP + 3; i++)
        scratch_put(c, many[i]);
    scratch_put(c, NULL);
    mem_fail_after(0);
    void *none = scratch_get(c, 20 * MB);
    mem_fail_after(-1);
    ck_assert_ptr_null(none);
    ck_assert_ptr_eq(scratch_get(c, MB), a);       /* still kept after the failure */
    scratch_put(c, a);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, scratch_worker, c), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_ptr_null(r);
    }
    scratch_free(c);
    void *plain = scratch_get(NULL, 100);
    ck_assert_ptr_nonnull(plain);
    scratch_put(NULL, plain);
    scratch_free(NULL);
}
END_TEST

/* UTF-8, the one module: strict and lenient decode, encode, count, and
 * Python's blank test (run_mlm's line filter), Korean included. */
START_TEST(utf8_module)
{
    const char *ko = "한국어"; /* 3 syllables, 9 bytes */
    uint32_t cp;
    int32_t lcp;
    ck_assert_uint_eq(utf8_decode(ko, 9, &cp), 3);
    ck_assert_uint_eq(cp, 0xD55C);
    ck_assert_uint_eq(utf8_next(ko + 3, 6, &lcp), 3);
    ck_assert_int_eq(lcp, 0xAD6D);
    ck_assert_uint_eq(utf8_count(ko, 9), 3);
    char buf[4];
    ck_assert_uint_eq(utf8_put(0x1F600, buf), 4);
    ck_assert(memcmp(buf, "\xF0\x9F\x98\x80", 4) == 0);
    ck_assert_uint_eq(utf8_put(0xD55C, buf), 3);
    ck_assert(memcmp(buf, ko, 3) == 0);
    /* strict refuses what lenient steps over */
    ck_assert_uint_eq(utf8_decode("\xC0\x80", 2, &cp), 0);      /* overlong */
    ck_assert_uint_eq(utf8_decode("\xED\xA0\x80", 3, &cp), 0); /* surrogate */
    ck_assert_uint_eq(utf8_decode(ko, 2, &cp), 0);              /* cut */
    ck_assert_uint_eq(utf8_decode(ko, 0, &cp), 0);
    ck_assert_uint_eq(utf8_next("\xFF", 1, &lcp), 1);
    ck_assert_int_eq(lcp, 0xFF);
    /* blank as str.isspace(): U+3000, U+00A0 and the separators too */
    ck_assert(utf8_is_blank("", 0));
    ck_assert(utf8_is_blank(" \t\r\n\x1c", 5));
    ck_assert(utf8_is_blank("\xE3\x80\x80 \xC2\xA0", 6));
    ck_assert(!utf8_is_blank("\xE3\x80\x80가", 6));
    ck_assert(!utf8_is_blank("\x00", 1));
    ck_assert(!utf8_is_blank("\xFF", 1)); /* not UTF-8: not whitespace */
}
END_TEST

START_TEST(system_info_names_cpu)
{
    const char *s = mlm_system_info();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(s, "family"));
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings_distinct);
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, alloc_fault_injection);
    tcase_add_test(tc, alloc_large_blocks);
    tcase_add_test(tc, scratch_cache_reuses_blocks);
    tcase_add_test(tc, system_info_names_cpu);
    tcase_add_test(tc, utf8_module);
    suite_add_tcase(s, tc);
    return s;
}

/* ---------------------------------------------------------------- ABI */

START_TEST(only_mlm_symbols_exported)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s/%s'", test_root(), MLM_SHLIB);
    int status;
    char *out = test_run(cmd, &status);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(status, 0);
    int nexported = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char addr[64], type[8], name[512];
        if (sscanf(line, "%63s %7s %511s", addr, type, name) != 3)
            continue;
        if (strcmp(type, "A") == 0 && strncmp(name, "MLM_", 4) == 0)
            continue; /* the version node of the version script */
        ck_assert_msg(strncmp(name, "mlm_", 4) == 0, "exported symbol '%s' is not mlm_*", name);
        nexported++;
    }
    ck_assert_int_ge(nexported, 5);
    free(out);
}
END_TEST

START_TEST(soname_has_major_version)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "objdump -p '%s/%s' | awk '/SONAME/ {print $2}'", test_root(),
             MLM_SHLIB);
    int status;
    char *out = test_run(cmd, &status);
    ck_assert_ptr_nonnull(out);
    char expect[64];
    snprintf(expect, sizeof expect, "libmlm.so.%d\n", MLM_VERSION_MAJOR);
    ck_assert_str_eq(out, expect);
    free(out);
}
END_TEST

Suite *abi_suite(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("abi");
    tcase_add_test(tc, only_mlm_symbols_exported);
    tcase_add_test(tc, soname_has_major_version);
    suite_add_tcase(s, tc);
    return s;
}

/* ---------------------------------------------------------------- CLI */

static char *run_mlm(const char *args, int *status)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/%s' %s 2>&1", test_root(), MLM_BIN, args);
    return test_run(cmd, status);
}

START_TEST(cli_version)
{
    int status;
    char *out = run_mlm("version", &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(out, MLM_VERSION_STRING));
    free(out);
    out = run_mlm("version --verbose", &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(out, "family"));
    free(out);
}
END_TEST

START_TEST(cli_usage_errors_exit_2)
{
    int status;
    char *out = run_mlm("", &status);
    ck_assert_int_eq(status, 2);
    ck_assert_ptr_nonnull(strstr(out, "usage:"));
    free(out);
    out = run_mlm("no-such-command", &status);
    ck_assert_int_eq(status, 2);
    ck_assert_ptr_nonnull(strstr(out, "unknown command"));
    free(out);
    out = run_mlm("version --no-such-option", &status);
    ck_assert_int_eq(status, 2);
    ck_assert_ptr_nonnull(strstr(out, "usage: mlm version"));
    free(out);
    out = run_mlm("version --verbose=3", &status);
    ck_assert_int_eq(status, 2);
    free(out);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_test(tc, cli_version);
    tcase_add_test(tc, cli_usage_errors_exit_2);
    suite_add_tcase(s, tc);
    return s;
}
