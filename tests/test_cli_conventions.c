/* The mlm tool's conventions (suite cli_conventions), the same for every
 * command: `mlm CMD --help` / `-h` / `mlm help CMD` print the command's usage
 * to stdout and exit 0 with nothing on stderr, usage errors still exit 2 with
 * the usage on stderr only; --threads defaults to the CPUs in the process's
 * affinity mask (mlm_default_threads), observable through `mlm version
 * --verbose` and the help texts, with and without `taskset -c 0`. */
#include "suites.h"
#include "testutil.h"

#include <mlm.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MLM_BIN
#define MLM_BIN "bin/mlm"
#endif

/* `mlm args` with stdin empty: its stdout (returned) and, in *err, its
 * stderr; *status the exit status. `prefix` runs before it (taskset). */
static char *run(const char *prefix, const char *args, char **err, int *status)
{
    char path[4096], cmd[8192];
    snprintf(path, sizeof path, "/tmp/mlm-conv-err.%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s '%s/%s' %s </dev/null 2>'%s'", prefix ? prefix : "",
             test_root(), MLM_BIN, args, path);
    char *out = test_run(cmd, status);
    ck_assert_ptr_nonnull(out);
    size_t len;
    *err = test_read_file(path, &len);
    ck_assert_ptr_nonnull(*err);
    remove(path);
    return out;
}

static const char *const COMMANDS[] = {"version",  "tokenize", "detokenize",      "fill-mask",
                                       "dataset",  "collate",  "train-tokenizer", "train",
                                       "eval",     "rouge",    "help"};

START_TEST(help_prints_usage_and_exits_0)
{
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        char args[256], want[256], *err;
        int status;
        snprintf(want, sizeof want, "usage: mlm %s", COMMANDS[i]);
        /* --help alone, -h after other options, and `mlm help CMD` agree */
        snprintf(args, sizeof args, "%s --help", COMMANDS[i]);
        char *help = run(NULL, args, &err, &status);
        ck_assert_msg(status == 0, "%s: exit %d, stderr: %s", args, status, err);
        ck_assert_msg(strncmp(help, want, strlen(want)) == 0, "%s printed: %.200s", args, help);
        ck_assert_msg(err[0] == '\0', "%s wrote to stderr: %s", args, err);
        free(err);
        snprintf(args, sizeof args, "%s --json -h", COMMANDS[i]);
        char *h = run(NULL, args, &err, &status);
        ck_assert_msg(status == 0 && strcmp(h, help) == 0 && !err[0], "%s: exit %d: %s%s", args,
                      status, h, err);
        free(h);
        free(err);
        snprintf(args, sizeof args, "help %s", COMMANDS[i]);
        h = run(NULL, args, &err, &status);
        ck_assert_msg(status == 0 && strcmp(h, help) == 0 && !err[0], "%s: exit %d: %s%s", args,
                      status, h, err);
        free(h);
        free(err);
        free(help);
    }
    /* the overview */
    char *err;
    int status;
    char *out = run(NULL, "--help", &err, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(out, "train-tokenizer"));
    ck_assert_ptr_nonnull(strstr(out, "--help"));
    free(out);
    free(err);
    /* a usage error: exit 2, the usage on stderr, stdout untouched; a help
     * after "--" is an argument, not a request for help */
    static const char *const bad[] = {"tokenize --tokenizer x --bogus", "fill-mask",
                                      "dataset --out x", "train-tokenizer --model bpe x",
                                      "tokenize --threads 0 --tokenizer x",
                                      "fill-mask --model m --threads two",
                                      "collate -- --help", "rouge --json",
                                      "rouge --input-jsonl x --predictions y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = run(NULL, bad[i], &err, &status);
        ck_assert_msg(status == 2, "'%s' exited %d", bad[i], status);
        ck_assert_msg(out[0] == '\0', "'%s' wrote to stdout: %s", bad[i], out);
        ck_assert_msg(strstr(err, "usage: mlm ") != NULL, "'%s': %s", bad[i], err);
        free(out);
        free(err);
    }
}
END_TEST

static int threads_line(const char *out)
{
    const char *t = strstr(out, "\nthreads: ");
    ck_assert_msg(t != NULL, "no threads line in: %s", out);
    return atoi(t + 10);
}

START_TEST(threads_default_to_the_affinity_mask)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int cpus = CPU_COUNT(&set);
    ck_assert_int_eq(mlm_default_threads(), cpus);

    char *err;
    int status;
    char *out = run(NULL, "version --verbose", &err, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(threads_line(out), cpus);
    free(out);
    free(err);

    /* one CPU allowed: the tool and its help say 1; the library too, in a
     * process of our own pinned the same way */
    int have_taskset = 0;
    free(test_run("command -v taskset >/dev/null", &status));
    have_taskset = status == 0;
    if (have_taskset) {
        out = run("taskset -c 0", "version --verbose", &err, &status);
        ck_assert_int_eq(status, 0);
        ck_assert_int_eq(threads_line(out), 1);
        free(out);
        free(err);
        out = run("taskset -c 0", "tokenize --help", &err, &status);
        ck_assert_int_eq(status, 0);
        ck_assert_msg(strstr(out, "--threads N") && strstr(out, ", 1 here)"), "%s", out);
        free(out);
        free(err);
    } else {
        fprintf(stderr, "skip the taskset half: taskset (util-linux) is not installed\n");
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            CPU_SET(c, &one);
            break;
        }
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    int pinned = mlm_default_threads();
    ck_assert_int_eq(sched_setaffinity(0, sizeof set, &set), 0); /* as it was (CK_FORK=no) */
    ck_assert_int_eq(pinned, 1);
    ck_assert_int_eq(mlm_default_threads(), cpus);
}
END_TEST

Suite *cli_conventions_suite(void)
{
    Suite *s = suite_create("cli_conventions");
    TCase *tc = tcase_create("conventions");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, help_prints_usage_and_exits_0);
    tcase_add_test(tc, threads_default_to_the_affinity_mask);
    suite_add_tcase(s, tc);
    return s;
}
