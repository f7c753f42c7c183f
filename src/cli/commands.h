/* The mlm tool's subcommands, one file each. Each returns the process exit
 * status: 0 ok, 1 runtime error (mlm_last_error() printed), 2 usage. */
#ifndef MLM_CLI_COMMANDS_H
#define MLM_CLI_COMMANDS_H

#include <stdio.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* Print "mlm: <what>: <status>: <last error>" to stderr; returns 1. */
int cli_fail(const char *what, int status);

/* Print the command's usage line (main.c's table) to stderr; returns 2. */
int cli_usage_error(const char *command);

int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_fill_mask(int argc, char **argv);
int cmd_summarize(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_collate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train_summarization(int argc, char **argv);
int cmd_train_tokenizer(int argc, char **argv);
int cmd_rouge(int argc, char **argv);

/* The full flag lists of mlm train / mlm eval (mlm help train). */
void cmd_train_help(FILE *out);
void cmd_eval_help(FILE *out);
void cmd_train_summarization_help(FILE *out);

/* Read one line (without its newline) of any length from f into *buf
 * (realloc'ed, *cap updated); returns its length, or -1 at end of input. */
long cli_read_line(FILE *f, char **buf, size_t *cap);

#endif
