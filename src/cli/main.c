/* mlm — the command-line tool. A thin client of the public API: it includes
 * <mlm.h> and nothing else of libmlm, which keeps the API honest.
 *
 * Exit status: 0 success, 1 runtime error (mlm_last_error() printed),
 * 2 usage error (a usage line printed). */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

typedef struct command {
    const char *name;
    const char *usage;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out); /* a longer help than the usage line, or NULL */
} command;

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"version", "mlm version [--verbose]", "print the library version", cmd_version, NULL},
    {"tokenize", "mlm tokenize --tokenizer PATH [--no-special] [--max-length N] [--json] "
                 "[--input-jsonl]",
     "tokenize lines of stdin", cmd_tokenize, NULL},
    {"detokenize", "mlm detokenize --tokenizer PATH [--skip-special] [--no-cleanup] [--json]",
     "decode lines of token ids from stdin", cmd_detokenize, NULL},
    {"fill-mask", "mlm fill-mask --model DIR [--top-k N] [--targets w1,w2] [--json] "
                  "[--threads N] [--truncation] [TEXT]",
     "predict masked tokens (one TEXT, or one text per line of stdin)", cmd_fill_mask, NULL},
    {"dataset", "mlm dataset --tokenizer PATH --train-file FILE [--validation-file FILE] "
                "[--text-column NAME] [--line-by-line] [--block-size N | --max-seq-length N] "
                "[--group-batch-size N] [--test-size F] [--seed S] [--num-proc N] --out DIR",
     "tokenize, group and split a corpus into DIR/train and DIR/test", cmd_dataset, NULL},
    {"collate", "mlm collate --dataset DIR [--split NAME] [--batch-size N] "
                "[--mlm-probability P] [--pad-to-multiple-of N] [--seed S] [--max-batches K] "
                "[--tokenizer PATH] [--json]",
     "print masked-LM batches of a split made by mlm dataset", cmd_collate, NULL},
    {"train", "mlm train [--config FILE.json | FILE.json] [--FLAG VALUE ...]",
     "train a masked LM as run_mlm.py does (same flags, same output files)", cmd_train,
     cmd_train_help},
    {"eval", "mlm eval [--config FILE.json | FILE.json] [--FLAG VALUE ...]",
     "evaluate a model's perplexity as run_mlm.py --do_eval does", cmd_eval, cmd_eval_help},
    {"help", "mlm help [COMMAND]", "show usage", cmd_help, NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *out)
{
    fprintf(out, "usage: mlm COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nLong options accept dashes and underscores alike (--train-file = --train_file).\n");
}

int cli_fail(const char *what, int status)
{
    fprintf(stderr, "mlm: %s: %s: %s\n", what, mlm_status_string((mlm_status)status),
            mlm_last_error());
    return EXIT_RUNTIME;
}

long cli_read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0)
        return -1;
    if (n > 0 && (*buf)[n - 1] == '\n')
        (*buf)[--n] = '\0';
    if (n > 0 && (*buf)[n - 1] == '\r')
        (*buf)[--n] = '\0';
    return (long)n;
}

static int usage_error(const command *c)
{
    fprintf(stderr, "usage: %s\n", c->usage);
    return EXIT_USAGE;
}

static int cmd_version(int argc, char **argv)
{
    const command *self = find_command("version");
    cli_option opts[] = {{"verbose", ARG_FLAG, NULL}};
    const char *pos[1];
    size_t npos = 0;
    if (cli_parse(argc, argv, 2, opts, 1, pos, &npos) != 0)
        return usage_error(self);
    printf("mlm %s (libmlm %s)\n", MLM_VERSION_STRING, mlm_version());
    if (opts[0].value)
        printf("%s\n", mlm_system_info());
    if (mlm_version_number() != MLM_VERSION_NUMBER) {
        fprintf(stderr, "mlm: warning: built against libmlm %s but running with %s\n",
                MLM_VERSION_STRING, mlm_version());
    }
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 2) {
        const command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "mlm: unknown command '%s'\n", argv[2]);
            print_usage(stderr);
            return EXIT_USAGE;
        }
        if (c->help)
            c->help(stdout);
        else
            printf("usage: %s\n%s\n", c->usage, c->summary);
        return 0;
    }
    print_usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv);
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "mlm: unknown command '%s'\n", argv[1]);
        print_usage(stderr);
        return EXIT_USAGE;
    }
    return c->run(argc, argv);
}
