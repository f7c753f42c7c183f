#include "args.h"

#include <mlm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare an option name as typed (up to len bytes) with a canonical one,
 * treating '_' and '-' as the same character. */
static int name_matches(const char *typed, size_t len, const char *canon)
{
    size_t i = 0;
    for (; i < len && canon[i]; i++) {
        char a = typed[i] == '_' ? '-' : typed[i];
        if (a != canon[i])
            return 0;
    }
    return i == len && canon[i] == '\0';
}

static cli_option *find_option(cli_option *opts, size_t nopts, const char *typed, size_t len)
{
    for (size_t i = 0; i < nopts; i++)
        if (name_matches(typed, len, opts[i].name))
            return &opts[i];
    return NULL;
}

int cli_parse(int argc, char **argv, int first, cli_option *opts, size_t nopts,
              const char **positional, size_t *npositional)
{
    size_t cap = *npositional, npos = 0;
    int only_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] != '-') {
            if (npos == cap) {
                fprintf(stderr, "mlm: unexpected argument '%s'\n", a);
                return -1;
            }
            positional[npos++] = a;
            continue;
        }
        if (a[2] == '\0') { /* "--" ends the options */
            only_positional = 1;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_option *o = find_option(opts, nopts, name, len);
        if (!o) {
            fprintf(stderr, "mlm: unknown option '--%.*s'\n", (int)len, name);
            return -1;
        }
        if (o->kind == ARG_FLAG) {
            if (eq) {
                fprintf(stderr, "mlm: option '--%s' takes no value\n", o->name);
                return -1;
            }
            o->value = "1";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            fprintf(stderr, "mlm: option '--%s' needs a value\n", o->name);
            return -1;
        }
    }
    *npositional = npos;
    return 0;
}

const char *cli_get(const cli_option *opts, size_t nopts, const char *name)
{
    for (size_t i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].value;
    return NULL;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

int cli_parse_threads(const char *value, int *threads)
{
    long v;
    if (!value) {
        *threads = mlm_default_threads();
        return 0;
    }
    if (cli_parse_long(value, 1, 1024, &v) != 0)
        return -1;
    *threads = (int)v;
    return 0;
}
