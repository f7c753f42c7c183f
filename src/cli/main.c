/* mlm — the command-line tool. A thin client of the public API: it includes
 * <mlm.h> and nothing else of libmlm, which keeps the API honest.
 *
 * Conventions, the same for every command:
 *   - `mlm CMD --help` (or -h, or `mlm help CMD`) prints the command's usage
 *     and options to stdout and exits 0;
 *   - a usage error prints the usage line to stderr and exits 2; a runtime
 *     error prints "mlm: what: status: mlm_last_error()" and exits 1;
 *   - a command that computes takes --threads N, by default
 *     mlm_default_threads() (the CPUs this process may run on), as ONNX
 *     Runtime, PyTorch and HF tokenizers size their pools. */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

typedef struct command {
    const char *name;
    const char *usage;   /* after "usage: "; lines past the first are indented */
    const char *summary; /* one line, for the list of commands and the help */
    const char *options; /* one "  --flag  what" line each; NULL: none */
    int threads;         /* takes --threads (its help line comes last) */
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out); /* a help of its own (train, eval), or NULL */
} command;

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"version", "mlm version [--verbose]", "print the library version",
     "  --verbose            also the CPU features, the GEMM kernels and the default thread\n"
     "                       count\n",
     0, cmd_version, NULL},
    {"tokenize",
     "mlm tokenize --tokenizer PATH [--no-special] [--max-length N] [--json] [--input-jsonl]\n"
     "             [--threads N]",
     "tokenize lines of stdin",
     "  --tokenizer PATH     tokenizer.json, or a model directory\n"
     "  --no-special         no special tokens ([CLS] ... [SEP]; add_special_tokens=False)\n"
     "  --max-length N       truncate to N tokens, special tokens included\n"
     "  --json               one JSON object per line of input (ids, tokens, offsets in\n"
     "                       code points, attention_mask, special_tokens_mask, type_ids,\n"
     "                       word_ids) instead of a line of ids and a line of tokens\n"
     "  --input-jsonl        each line is a JSON string or {\"text\": s, \"text_pair\": s}\n",
     1, cmd_tokenize, NULL},
    {"detokenize", "mlm detokenize --tokenizer PATH [--skip-special] [--no-cleanup] [--json]",
     "decode lines of token ids from stdin (\"101 2023 102\", \"101,2023\" or a JSON array)",
     "  --tokenizer PATH     tokenizer.json, or a model directory\n"
     "  --skip-special       leave special tokens out (skip_special_tokens=True)\n"
     "  --no-cleanup         no clean_up_tokenization_spaces\n"
     "  --json               each text as a JSON string\n",
     0, cmd_detokenize, NULL},
    {"fill-mask",
     "mlm fill-mask --model DIR [--top-k N] [--targets w1,w2] [--json] [--threads N]\n"
     "              [--truncation] [--dtype fp32|bf16|int8] [TEXT]",
     "predict masked tokens (one TEXT, or one text per line of stdin)",
     "  --model DIR          a model directory (config.json, model.safetensors, tokenizer)\n"
     "  --top-k N            predictions per mask (5)\n"
     "  --targets w1,w2      score these words only\n"
     "  --json               the pipeline's output as JSON\n"
     "  --truncation         truncate texts longer than the model's maximum\n"
     "  --dtype D            the model's matrices in fp32 (default), bf16 or int8\n",
     1, cmd_fill_mask, NULL},
    {"summarize",
     "mlm summarize --model DIR [--num-beams N] [--max-new-tokens M] [--min-new-tokens M]\n"
     "              [--max-length M] [--min-length M] [--length-penalty X]\n"
     "              [--early-stopping true|false|never] [--no-repeat-ngram-size K]\n"
     "              [--repetition-penalty X] [--num-return-sequences K]\n"
     "              [--do-sample --seed S --temperature T --top-k K --top-p P] [--truncation]\n"
     "              [--return-tensors] [--json] [--input-jsonl] [--batch-size N] [--threads N]\n"
     "              [--dtype fp32|bf16|int8] [TEXT]",
     "summarize texts with an encoder-decoder (T5), as pipeline(\"summarization\") does",
     "  --model DIR          a T5 model directory (config.json, model.safetensors, tokenizer;\n"
     "                       config.json's task_specific_params[\"summarization\"] are the\n"
     "                       defaults, under the options below)\n"
     "  --num-beams N        beam search with N beams (1: greedy)\n"
     "  --max-new-tokens M   at most M generated tokens (wins over --max-length)\n"
     "  --min-new-tokens M   at least M generated tokens (wins over --min-length)\n"
     "  --max-length M       at most M tokens with the decoder start token\n"
     "  --min-length M       no eos before M tokens with the decoder start token\n"
     "  --length-penalty X   beam scores are sum(log p) / length ** X\n"
     "  --early-stopping V   true, false or never (beam search's stopping rule)\n"
     "  --no-repeat-ngram-size K   no n-gram of K tokens twice\n"
     "  --repetition-penalty X     penalize tokens already generated (1: off)\n"
     "  --num-return-sequences K   K summaries per text (at most --num-beams)\n"
     "  --do-sample          sample instead of searching; --seed S (libmlm's generator, not\n"
     "                       torch's), --temperature T, --top-k K (50), --top-p P\n"
     "  --truncation         cut texts longer than the tokenizer's model_max_length\n"
     "  --return-tensors     print the generated ids instead of the text\n"
     "  --json               the pipeline's output as JSON, one list per text\n"
     "  --input-jsonl        each line of stdin is a JSON string or {\"text\": s}\n"
     "  --batch-size N       texts of stdin summarized together (1)\n"
     "  --dtype D            the model's matrices in fp32 (default), bf16 or int8\n",
     1, cmd_summarize, NULL},
    {"dataset",
     "mlm dataset --tokenizer PATH --train-file FILE [--validation-file FILE]\n"
     "            [--text-column NAME] [--line-by-line] [--block-size N | --max-seq-length N]\n"
     "            [--group-batch-size N] [--test-size F] [--seed S] [--threads N] --out DIR\n"
     "mlm dataset --tokenizer PATH --train-file FILE --text-column article\n"
     "            --summary-column summary [--source-prefix P] [--max-source-length 128]\n"
     "            [--max-target-length 32] [--pad-to-max-length] [--pad-token T]\n"
     "            [--skip-empty] [--validation-file FILE] [--test-size F] --out DIR",
     "tokenize, group and split a corpus, or make a seq2seq dataset (progress bars on a "
     "terminal)",
     "  --tokenizer PATH     tokenizer.json, or a model directory\n"
     "  --train-file FILE    text (a line per example), JSON Lines, JSON, CSV or TSV (.gz too)\n"
     "  --validation-file F  evaluation data (else --test-size of the train file)\n"
     "  --text-column NAME   the text column of JSON or CSV data (\"text\")\n"
     "  --line-by-line       a sample per non-blank line instead of grouped blocks\n"
     "  --block-size N       tokens per block (128); --max-seq-length is the same\n"
     "  --group-batch-size N rows per group_texts batch, 0 for all (1000, as run_mlm.py)\n"
     "  --test-size F        test split: a fraction, or a count from 1 on (0.2)\n"
     "  --seed S             the split's shuffle (42)\n"
     "  --out DIR            where the splits and dataset_info.json go\n"
     "  --num-proc N         the same as --threads (and --preprocessing-num-workers)\n"
     "seq2seq (the seed's and run_summarization.py's preprocess_function):\n"
     "  --summary-column C   the target text: labels (turns the seq2seq form on)\n"
     "  --text-column NAME   the source text (default: the first other column)\n"
     "  --source-prefix P    put in front of every source text (\"summarize: \" for T5)\n"
     "  --max-source-length N  truncate input_ids to N tokens (128, as the seed)\n"
     "  --max-target-length N  truncate labels to N tokens (32, as the seed)\n"
     "  --pad-to-max-length  pad both to those lengths; padded labels are -100\n"
     "  --pad-token T        the tokenizer's pad token (the seed's pad = eos: '</s>')\n"
     "  --skip-empty         drop rows with an empty text or summary (run_summarization.py)\n"
     "  (writes DIR/train, and DIR/validation; split only with --test-size)\n",
     1, cmd_dataset, NULL},
    {"collate",
     "mlm collate --dataset DIR [--split NAME] [--batch-size N] [--mlm-probability P]\n"
     "            [--pad-to-multiple-of N] [--seed S] [--shuffle] [--max-batches K]\n"
     "            [--tokenizer PATH [--pad-token T]] [--model DIR] [--padding P]\n"
     "            [--max-length N] [--label-pad-token-id ID] [--padding-side S] [--json]",
     "print the batches of a split made by mlm dataset (masked-LM, or seq2seq for a split "
     "with labels)",
     "  --dataset DIR        what mlm dataset wrote\n"
     "  --split NAME         train, test or validation (train)\n"
     "  --batch-size N       rows per batch (8)\n"
     "  --mlm-probability P  share of tokens masked (0.15)\n"
     "  --pad-to-multiple-of N   pad lengths up to a multiple of N\n"
     "  --seed S             the masks' seed, and the shuffle's (0)\n"
     "  --shuffle            rows in the order the Trainer's first epoch visits them with\n"
     "                       seed S (a Philox permutation, not torch's RandomSampler)\n"
     "  --max-batches K      stop after K batches\n"
     "  --tokenizer PATH     special ids from this tokenizer, not dataset_info.json\n"
     "  --pad-token T        pad with token T (the seed's pad = eos: '</s>')\n"
     "  --json               one JSON object per batch\n"
     "seq2seq (DataCollatorForSeq2Seq):\n"
     "  --model DIR          decoder_input_ids from labels with DIR/config.json's\n"
     "                       decoder_start_token_id and pad_token_id (else none)\n"
     "  --padding P          longest (default), max_length, do_not_pad or false\n"
     "  --max-length N       the length of padding max_length\n"
     "  --label-pad-token-id ID  labels' padding (-100)\n"
     "  --padding-side S     right (default) or left\n",
     0, cmd_collate, NULL},
    {"train-tokenizer",
     "mlm train-tokenizer --model bpe|wordpiece --vocab-size N [--min-frequency N]\n"
     "                    [--special-tokens T1,T2,...] [--template-single T [--template-pair T]]\n"
     "                    [--text-column C [--quoting none]]\n"
     "                    [--threads N] FILES... --out DIR",
     "train a tokenizer as HF tokenizers' train() does, saved as save_pretrained saves it",
     "  --model bpe          byte-level BPE, RoBERTa's pipeline (<s> <pad> </s> <unk> <mask>)\n"
     "  --model wordpiece    WordPiece, BERT's (lowercase; [PAD] [UNK] [CLS] [SEP] [MASK])\n"
     "  --vocab-size N       the vocabulary's size, special tokens included\n"
     "  --min-frequency N    pairs seen fewer times are not merged (2)\n"
     "  --special-tokens L   comma-separated, ids 0.. in order (default: the model's above)\n"
     "  --lowercase B        wordpiece: true or false (true)\n"
     "  --template-single T  the post-processor: HF's TemplateProcessing(single=T), e.g. T5's\n"
     "                       \"$A </s>\" with --special-tokens '<pad>,</s>,<unk>'\n"
     "  --template-pair T    and its pair=T, e.g. \"$A </s> $B </s>\"\n"
     "  --text-column C      the text of JSON, JSON Lines or CSV files (else each line of a\n"
     "                       file is an example)\n"
     "  --quoting none       CSV/TSV quotes are text (csv.QUOTE_NONE; KorSTS needs it)\n"
     "  --out DIR            created if needed: tokenizer.json, tokenizer_config.json and\n"
     "                       special_tokens_map.json go there\n",
     1, cmd_train_tokenizer, NULL},
    {"train", "mlm train [--config FILE.json | FILE.json] [--FLAG VALUE ...]",
     "train a masked LM as run_mlm.py does (same flags, same output files)", NULL, 0,
     cmd_train, cmd_train_help},
    {"eval", "mlm eval [--config FILE.json | FILE.json] [--FLAG VALUE ...]",
     "evaluate a model's perplexity as run_mlm.py --do_eval does", NULL, 0,
     cmd_eval, cmd_eval_help},
    {"train-summarization",
     "mlm train-summarization [--config FILE.json | FILE.json] [--FLAG VALUE ...]",
     "fine-tune and evaluate a T5 summarizer as run_summarization.py does (same flags, same "
     "output files)", NULL, 0, cmd_train_summarization, cmd_train_summarization_help},
    {"rouge",
     "mlm rouge (--predictions FILE --references FILE | --input-jsonl FILE) [--use-stemmer]\n"
     "          [--rouge-types LIST] [--per-pair] [--json] [--threads N]",
     "ROUGE of predictions against references, as evaluate's rouge (rouge_score)",
     "  --predictions FILE   one prediction per line (\"-\": stdin)\n"
     "  --references FILE    one reference per line, line i against line i of the predictions\n"
     "  --input-jsonl FILE   instead: {\"prediction\": s, \"reference\": s} per line, so texts can\n"
     "                       hold the newlines rougeLsum takes as sentence ends\n"
     "  --use-stemmer        NLTK's Porter stemmer on tokens longer than 3 characters\n"
     "  --rouge-types LIST   rouge1..rouge9, rougeL, rougeLsum (rouge1,rouge2,rougeL,rougeLsum)\n"
     "  --per-pair           every pair's precision, recall and F-measure for every type (a\n"
     "                       TSV row per line and type, then the means; with --json a line of\n"
     "                       JSON per pair)\n"
     "  --json               the means as evaluate returns them, {\"rouge1\": F, ...}: the plain\n"
     "                       mean over pairs, where evaluate's default (use_aggregator=True)\n"
     "                       reports the median of bootstrap resamples' means\n",
     1, cmd_rouge, NULL},
    {"help", "mlm help [COMMAND]", "show the commands, or a command's usage and options", NULL,
     0, cmd_help, NULL},
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
        fprintf(out, "  %-19s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`mlm COMMAND --help` shows a command's options. Long options accept dashes and\n"
                 "underscores alike (--train-file = --train_file).\n");
}

static void print_command_help(const command *c, FILE *out)
{
    if (c->help) {
        c->help(out);
        return;
    }
    fprintf(out, "usage: %s\n\n%s\n", c->usage, c->summary);
    if (c->options)
        fprintf(out, "\noptions:\n%s", c->options);
    if (c->threads)
        fprintf(out, "  --threads N          threads (default: the CPUs this process may use, "
                     "%d here)\n", mlm_default_threads());
}

int cli_usage_error(const char *name)
{
    const command *c = find_command(name);
    fprintf(stderr, "usage: %s\n(mlm %s --help lists the options)\n", c ? c->usage : name,
            name);
    return EXIT_USAGE;
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

static int cmd_version(int argc, char **argv)
{
    cli_option opts[] = {{"verbose", ARG_FLAG, NULL}};
    const char *pos[1];
    size_t npos = 0;
    if (cli_parse(argc, argv, 2, opts, 1, pos, &npos) != 0)
        return cli_usage_error("version");
    printf("mlm %s (libmlm %s)\n", MLM_VERSION_STRING, mlm_version());
    if (opts[0].value) {
        printf("%s\n", mlm_system_info());
        printf("threads: %d (the default of --threads: CPUs this process may use)\n",
               mlm_default_threads());
    }
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
        print_command_help(c, stdout);
        return 0;
    }
    print_usage(stdout);
    return 0;
}

/* --help or -h among a command's arguments (before a "--" that ends the
 * options), as git and argparse take it: wherever it is, help wins. */
static int wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
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
    if (wants_help(argc, argv)) {
        print_command_help(c, stdout);
        return 0;
    }
    return c->run(argc, argv);
}
