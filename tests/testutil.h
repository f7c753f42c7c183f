/* Helpers shared by the test suites. */
#ifndef MLM_TESTS_TESTUTIL_H
#define MLM_TESTS_TESTUTIL_H

#include <stddef.h>

/* The repository root (MLM_TEST_ROOT, set by make check; else "."). */
const char *test_root(void);

/* ../shared/<rel> beside the repository, or NULL when shared/ is absent:
 * tests that need it skip with a message (see SKIP_WITHOUT_SHARED). */
const char *test_shared_path(const char *rel, char *buf, size_t cap);

/* A fresh empty directory under /tmp, removed by test_rmtree(). */
char *test_tmpdir(void);
void test_rmtree(const char *dir);

/* Whole file into a malloc'ed buffer (NUL-terminated); NULL on failure. */
char *test_read_file(const char *path, size_t *len);

/* Run a shell command, capture stdout (malloc'ed) and the exit status. */
char *test_run(const char *cmd, int *status);

/* Whether /usr/bin/python3 imports torch (the reference in tests/reference
 * can run at test time). */
int have_torch(void);

/* Skip the current test (it still passes) with a message on stderr, when
 * ../shared is not there. Use inside START_TEST. */
#define SKIP_WITHOUT_SHARED(path_var, rel, buf)                                  \
    const char *path_var = test_shared_path((rel), (buf), sizeof(buf));          \
    if (!path_var) {                                                             \
        fprintf(stderr, "skip %s: ../shared/%s is absent\n", __func__, (rel));   \
        return;                                                                  \
    }

#endif
