/* Every Check suite of `make check`; check_main.c runs them all. */
#ifndef MLM_TESTS_SUITES_H
#define MLM_TESTS_SUITES_H

#include <check.h>

Suite *core_suite(void);
Suite *abi_suite(void);
Suite *cli_suite(void);
Suite *cli_tokenize_suite(void);
Suite *cli_conventions_suite(void);
Suite *cli_train_tokenizer_suite(void);
Suite *bpe_trainer_suite(void);
Suite *tokenizer_parity_suite(void);
Suite *ops_suite(void);
Suite *model_suite(void);
Suite *train_suite(void);
Suite *trainer_suite(void);
Suite *optim_suite(void);
Suite *progress_suite(void);
Suite *checkpoint_suite(void);
Suite *trainer_outputs_suite(void);
Suite *file_suite(void);
Suite *json_suite(void);
Suite *safetensors_suite(void);
Suite *config_suite(void);
Suite *dataset_suite(void);
Suite *dataset_v2_suite(void);
Suite *collator_suite(void);
Suite *tokenizer_suite(void);
Suite *tokenizer_trainer_suite(void);
Suite *unicode_sweep_suite(void);
Suite *tokenizer_roles_suite(void);
Suite *cli_nul_suite(void);

/* test_tokenizer_parity.c: compare a tokenizer with every record of a golden
 * file in the format of tests/data/tokenizer_parity/goldens/ (Check assertions on a
 * malformed file); prints the first mismatches, returns their number. */
struct mlm_tokenizer;
int tokenizer_golden_check(const struct mlm_tokenizer *tok, const char *path, const char *name);
Suite *data_tokenize_suite(void);
Suite *cli_data_suite(void);
Suite *cli_train_suite(void);
Suite *distributed_suite(void);
Suite *pipeline_suite(void);
Suite *rouge_suite(void);
Suite *cli_rouge_suite(void);
Suite *t5_suite(void);
Suite *generate_suite(void);
Suite *summarize_suite(void);
Suite *t5_parity_suite(void);
Suite *t5_train_suite(void);
Suite *seq2seq_trainer_suite(void);
Suite *seq2seq_data_suite(void);
Suite *cli_seq2seq_suite(void);
Suite *cli_train_summarization_suite(void);
Suite *dtype_suite(void);

#endif
