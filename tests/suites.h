/* Every Check suite of `make check`; check_main.c runs them all. */
#ifndef MLM_TESTS_SUITES_H
#define MLM_TESTS_SUITES_H

#include <check.h>

Suite *core_suite(void);
Suite *abi_suite(void);
Suite *cli_suite(void);
Suite *bpe_trainer_suite(void);
/* tests/parity/test_tokenizer_parity.c: wired into check_main.c once the
 * tokenizer runtime it calls is merged. */
Suite *tokenizer_parity_suite(void);
Suite *ops_suite(void);
Suite *model_suite(void);
Suite *file_suite(void);
Suite *json_suite(void);
Suite *safetensors_suite(void);
Suite *config_suite(void);
Suite *dataset_suite(void);
Suite *collator_suite(void);
Suite *tokenizer_suite(void);
Suite *pipeline_suite(void);

#endif
