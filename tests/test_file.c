/* io/file: mappings, whole-file reads, atomic writes under I/O and
 * allocation failures. */
#include "suites.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/file.h"

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Entries of `dir` other than . and .., and how many are temporaries. */
static int count_entries(const char *dir, int *temps)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    *temps = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (strstr(e->d_name, ".tmp."))
            (*temps)++;
    }
    closedir(d);
    return n;
}

START_TEST(map_regular_and_empty)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/a.bin", dir);
    put_file(path, "hello, 세계");
    mapped_file m;
    ck_assert_int_eq(file_map(path, &m), MLM_OK);
    ck_assert_uint_eq(m.size, strlen("hello, 세계"));
    ck_assert_int_eq(memcmp(m.data, "hello, 세계", m.size), 0);
    file_unmap(&m);
    ck_assert_ptr_null(m.data);
    file_unmap(&m); /* twice is harmless */

    snprintf(path, sizeof path, "%s/empty", dir);
    put_file(path, "");
    ck_assert_int_eq(file_map(path, &m), MLM_OK);
    ck_assert_uint_eq(m.size, 0);
    ck_assert_ptr_nonnull(m.data);
    file_unmap(&m);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(map_errors_name_the_path)
{
    mapped_file m;
    ck_assert_int_eq(file_map("/nonexistent/x.safetensors", &m), MLM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "/nonexistent/x.safetensors"));
    ck_assert_ptr_null(m.data);
    ck_assert_int_eq(file_map("/tmp", &m), MLM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "not a regular file"));
}
END_TEST

START_TEST(read_all_terminates_and_limits)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/c.json", dir);
    put_file(path, "{\"a\": 1}");
    char *text;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 100, &text, &len), MLM_OK);
    ck_assert_uint_eq(len, 8);
    ck_assert_str_eq(text, "{\"a\": 1}");
    mem_free(text);
    ck_assert_int_eq(file_read_all(path, 7, &text, &len), MLM_ERR_RANGE);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "c.json"));
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(atomic_write_creates_and_replaces)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    ck_assert_int_eq(file_write_atomic(path, "first", 5), MLM_OK);
    ck_assert_int_eq(file_write_atomic(path, "second!", 7), MLM_OK);
    size_t len;
    char *got = test_read_file(path, &len);
    ck_assert_str_eq(got, "second!");
    free(got);
    int temps;
    ck_assert_int_eq(count_entries(dir, &temps), 1);
    ck_assert_int_eq(temps, 0);
    /* The usual umask mode, not mkstemp's 0600. */
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_ne(st.st_mode & 0044, 0);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(atomic_writer_streams_pieces)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    size_t big = 600 * 1024;
    unsigned char *blob = malloc(big);
    for (size_t i = 0; i < big; i++)
        blob[i] = (unsigned char)(i * 7 + 3);
    atomic_writer *w;
    ck_assert_int_eq(atomic_writer_open(path, &w), MLM_OK);
    ck_assert_int_eq(atomic_writer_write(w, "head", 4), MLM_OK);
    for (size_t off = 0; off < 1000; off += 10)
        ck_assert_int_eq(atomic_writer_write(w, blob + off, 10), MLM_OK);
    ck_assert_int_eq(atomic_writer_write(w, blob, big), MLM_OK);
    ck_assert_int_eq(atomic_writer_write(w, "", 0), MLM_OK);
    ck_assert_int_eq(atomic_writer_commit(w), MLM_OK);
    size_t len;
    char *got = test_read_file(path, &len);
    ck_assert_uint_eq(len, 4 + 1000 + big);
    ck_assert_int_eq(memcmp(got, "head", 4), 0);
    ck_assert_int_eq(memcmp(got + 4, blob, 1000), 0);
    ck_assert_int_eq(memcmp(got + 1004, blob, big), 0);
    free(got);
    free(blob);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(atomic_abort_keeps_target)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    put_file(path, "old");
    atomic_writer *w;
    ck_assert_int_eq(atomic_writer_open(path, &w), MLM_OK);
    ck_assert_int_eq(atomic_writer_write(w, "new", 3), MLM_OK);
    atomic_writer_abort(w);
    atomic_writer_abort(NULL);
    char *got = test_read_file(path, NULL);
    ck_assert_str_eq(got, "old");
    free(got);
    int temps;
    ck_assert_int_eq(count_entries(dir, &temps), 1);
    ck_assert_int_eq(temps, 0);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(atomic_write_missing_directory)
{
    ck_assert_int_eq(file_write_atomic("/nonexistent-dir/x.bin", "x", 1), MLM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "/nonexistent-dir/x.bin"));
}
END_TEST

/* Every write/fsync/rename failing in turn: an error, no temporary left, and
 * the old file intact until the rename has happened. */
START_TEST(atomic_write_io_faults)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/ckpt.bin", dir);
    size_t big = 300 * 1024;
    char *blob = malloc(big);
    memset(blob, 'n', big);
    int succeeded = 0;
    for (long n = 0; n < 50 && !succeeded; n++) {
        put_file(path, "old");
        file_fail_after(n);
        mlm_status s = file_write_atomic(path, blob, big);
        file_fail_after(-1);
        size_t len;
        char *got = test_read_file(path, &len);
        int temps;
        ck_assert_int_eq(count_entries(dir, &temps), 1);
        ck_assert_int_eq(temps, 0);
        if (s == MLM_OK) {
            ck_assert_uint_eq(len, big);
            succeeded = 1;
        } else {
            ck_assert_int_eq(s, MLM_ERR_IO);
            ck_assert_ptr_nonnull(strstr(mlm_last_error(), "ckpt.bin"));
            /* Only the directory sync comes after the rename. */
            if (!strstr(mlm_last_error(), "sync directory"))
                ck_assert_str_eq(got, "old");
        }
        free(got);
    }
    ck_assert(succeeded);
    free(blob);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(file_out_of_memory)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/oom.txt", dir);
    int done = 0;
    for (long n = 0; !done; n++) {
        mem_fail_after(n);
        mlm_status s = file_write_atomic(path, "data", 4);
        mem_fail_after(-1);
        if (s == MLM_OK)
            done = 1;
        else
            ck_assert_int_eq(s, MLM_ERR_OUT_OF_MEMORY);
    }
    done = 0;
    for (long n = 0; !done; n++) {
        char *text = NULL;
        mem_fail_after(n);
        mlm_status s = file_read_all(path, 100, &text, NULL);
        mem_fail_after(-1);
        if (s == MLM_OK) {
            ck_assert_str_eq(text, "data");
            mem_free(text);
            done = 1;
        } else {
            ck_assert_int_eq(s, MLM_ERR_OUT_OF_MEMORY);
        }
    }
    int temps;
    ck_assert_int_eq(count_entries(dir, &temps), 1);
    ck_assert_int_eq(temps, 0);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *file_suite(void)
{
    Suite *s = suite_create("file");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, map_regular_and_empty);
    tcase_add_test(tc, map_errors_name_the_path);
    tcase_add_test(tc, read_all_terminates_and_limits);
    tcase_add_test(tc, atomic_write_creates_and_replaces);
    tcase_add_test(tc, atomic_writer_streams_pieces);
    tcase_add_test(tc, atomic_abort_keeps_target);
    tcase_add_test(tc, atomic_write_missing_directory);
    tcase_add_test(tc, atomic_write_io_faults);
    tcase_add_test(tc, file_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
