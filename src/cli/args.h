/* Command-line options for the mlm tool, parsed the way HF's HfArgumentParser
 * accepts them: --name value, --name=value, and dashes and underscores alike
 * in names (--train-file = --train_file). */
#ifndef MLM_CLI_ARGS_H
#define MLM_CLI_ARGS_H

#include <stddef.h>

enum { ARG_FLAG, ARG_VALUE };

typedef struct cli_option {
    const char *name;   /* canonical spelling, with dashes: "train-file" */
    int kind;           /* ARG_FLAG or ARG_VALUE */
    const char *value;  /* out: the value, "1" for a flag given, NULL if absent */
} cli_option;

/* Parse argv[first..argc) against opts. Non-option words are collected in
 * positional[] (at most *npositional on input; the count on output). On a
 * usage error prints a message to stderr and returns -1. */
int cli_parse(int argc, char **argv, int first, cli_option *opts, size_t nopts,
              const char **positional, size_t *npositional);

/* The option's value, or NULL. */
const char *cli_get(const cli_option *opts, size_t nopts, const char *name);

/* A whole decimal integer in [lo, hi] (no sign games: "12x", "", an
 * overflow are errors). Returns 0 with *out set, or -1. */
int cli_parse_long(const char *s, long lo, long hi, long *out);

/* A whole number (strtod's syntax) in [lo, hi]; NaN is never in range.
 * Returns 0 with *out set, or -1. */
int cli_parse_double(const char *s, double lo, double hi, double *out);

/* --threads N: the value given (1..1024), or mlm_default_threads() when
 * value is NULL. Returns -1 for a bad value. */
int cli_parse_threads(const char *value, int *threads);

#endif
