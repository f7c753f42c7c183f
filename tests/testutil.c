#include "testutil.h"

#include <cjson/cJSON.h>
#include <check.h>

#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

const char *test_root(void)
{
    /* Absolute, so that paths built from it work from any directory. */
    static char root[4096];
    if (!root[0]) {
        const char *r = getenv("MLM_TEST_ROOT");
        if (!realpath(r && *r ? r : ".", root))
            snprintf(root, sizeof root, "%s", r && *r ? r : ".");
    }
    return root;
}

const char *test_data_path(const char *rel, char *buf, size_t cap)
{
    struct stat st;
    snprintf(buf, cap, "%s/tests/data/%s", test_root(), rel);
    ck_assert_msg(stat(buf, &st) == 0, "%s is missing (a fixture of the repository)", buf);
    return buf;
}

char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/mlm-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void test_rmtree(const char *dir)
{
    if (!dir || strncmp(dir, "/tmp/mlm-test-", 14) != 0)
        return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int test_json_bytes(const cJSON *obj, const char *field, char **data, size_t *len)
{
    char key[64];
    snprintf(key, sizeof key, "%s_hex", field);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(obj, key);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (cJSON_IsString(h)) {
        size_t n = strlen(h->valuestring) / 2;
        char *d = malloc(n + 1);
        if (!d)
            return 0;
        for (size_t i = 0; i < n; i++)
            d[i] = (char)(hexval(h->valuestring[2 * i]) * 16 + hexval(h->valuestring[2 * i + 1]));
        d[n] = '\0';
        *data = d;
        *len = n;
        return 1;
    }
    if (!cJSON_IsString(s))
        return 0;
    *len = strlen(s->valuestring);
    *data = strdup(s->valuestring);
    return *data != NULL;
}

char *test_run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    int st = pclose(p);
    if (status)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (buf)
        buf[n] = '\0';
    return buf;
}

char *test_run_on_terminal(const char *cmd, int cols, int *wait_status)
{
    struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
    fflush(stdout);
    fflush(stderr);
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct termios tio;
        if (tcgetattr(STDIN_FILENO, &tio) == 0) {
            cfmakeraw(&tio);
            tcsetattr(STDIN_FILENO, TCSANOW, &tio);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    size_t len = 0, cap = 1 << 16;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    for (;;) {
        if (cap - len < 4096) {
            out = realloc(out, cap *= 2);
            ck_assert_ptr_nonnull(out);
        }
        ssize_t n = read(master, out + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* EIO once the child's side is closed */
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(master);
    ck_assert_int_eq(waitpid(pid, wait_status, 0), pid);
    return out;
}

int test_hf_encode(const char *json_path, const char *out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "test -d '%s/tests/node_modules/tokenizers' && command -v node",
             test_root());
    int status;
    free(test_run(cmd, &status));
    if (status != 0) {
        fprintf(stderr, "skip HF loading %s: the npm package tokenizers is not installed "
                        "(cd tests && npm ci; needs nodejs and npm)\n", json_path);
        return 0;
    }
    snprintf(cmd, sizeof cmd,
             "node '%s/tests/gen_trained_tokenizer_goldens.js' --encode '%s' '%s' 2>&1",
             test_root(), json_path, out);
    char *o = test_run(cmd, &status);
    ck_assert_msg(status == 0, "HF failed on %s: %s", json_path, o ? o : "");
    free(o);
    return 1;
}

int have_torch(void)
{
    int status = 0;
    char *probe = test_run("/usr/bin/python3 -c 'import torch' 2>/dev/null && echo yes", &status);
    int yes = probe && strncmp(probe, "yes", 3) == 0;
    free(probe);
    return yes;
}

cJSON *test_read_json(const char *dir, const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = test_read_file(path, NULL);
    ck_assert_msg(text != NULL, "%s is missing", path);
    cJSON *o = cJSON_Parse(text);
    free(text);
    ck_assert_msg(cJSON_IsObject(o), "%s: not a JSON object", path);
    return o;
}
