/* Helpers shared by the test suites. */
#ifndef MLM_TESTS_TESTUTIL_H
#define MLM_TESTS_TESTUTIL_H

#include <stddef.h>

/* The repository root (MLM_TEST_ROOT, set by make check; else "."). */
const char *test_root(void);

/* tests/data/<rel> (the fixtures, with their origin in tests/data/SOURCES.md).
 * Fails the current test when it is missing: every fixture is in the
 * repository, so a missing one is a broken checkout, never a reason to skip. */
const char *test_data_path(const char *rel, char *buf, size_t cap);

/* A fresh empty directory under /tmp, removed by test_rmtree(). */
char *test_tmpdir(void);
void test_rmtree(const char *dir);

/* Whole file into a malloc'ed buffer (NUL-terminated); NULL on failure. */
char *test_read_file(const char *path, size_t *len);

/* obj[field] as bytes, or the bytes of obj[field "_hex"] when present (a
 * string holding U+0000, which cJSON cannot hold: the goldens' writers store
 * such strings as hex of their UTF-8). *data is malloc'ed and NUL-terminated,
 * *len its length; returns 0 when neither field is a string. */
struct cJSON;
int test_json_bytes(const struct cJSON *obj, const char *field, char **data, size_t *len);

/* dir/name parsed (cJSON_Delete it); fails the current test when the file
 * is missing or is not a JSON object. */
struct cJSON *test_read_json(const char *dir, const char *name);

/* Run a shell command, capture stdout (malloc'ed) and the exit status. */
char *test_run(const char *cmd, int *status);

/* Run a shell command with stdin, stdout and stderr on a terminal (a pty
 * of `cols` columns, raw: no newline translation): what it printed there,
 * read until it exited (malloc'ed), and its wait status. */
char *test_run_on_terminal(const char *cmd, int cols, int *wait_status);

/* Have HF tokenizers (the Node binding in tests/node_modules) load a
 * tokenizer.json and write its encodings of tests/data/tokenizer_parity's
 * texts to `out`, in the goldens' format (tokenizer_golden_check reads
 * it). Returns 1, or 0 after saying why on stderr when node or the npm
 * package is missing (cd tests && npm ci); fails the test when HF fails. */
int test_hf_encode(const char *json_path, const char *out);

/* Whether /usr/bin/python3 imports torch (the reference in tests/reference
 * can run at test time). */
int have_torch(void);

/* const char *path_var = test_data_path(rel) (buf holds it). */
#define REQUIRE_TEST_DATA(path_var, rel, buf)                                    \
    const char *path_var = test_data_path((rel), (buf), sizeof(buf))

#endif
