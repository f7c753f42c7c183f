/* The test runner of `make check`: all suites in one SRunner, so that the
 * last line printed is Check's own summary. CK_RUN_SUITE=name runs one. */
#include "suites.h"

#include <stdlib.h>

int main(void)
{
    Suite *(*const suites[])(void) = {
        core_suite,
        abi_suite,
        cli_suite,
        cli_tokenize_suite,
        cli_conventions_suite,
        cli_train_tokenizer_suite,
        bpe_trainer_suite,
        ops_suite,
        model_suite,
        train_suite,
        trainer_suite,
        trainer_outputs_suite,
        file_suite,
        json_suite,
        safetensors_suite,
        config_suite,
        dataset_suite,
        collator_suite,
        data_tokenize_suite,
        cli_data_suite,
        cli_train_suite,
        tokenizer_suite,
        tokenizer_parity_suite,
        tokenizer_trainer_suite,
        unicode_sweep_suite,
        tokenizer_roles_suite,
        cli_nul_suite,
        pipeline_suite,
    };
    SRunner *sr = srunner_create(suites[0]());
    for (size_t i = 1; i < sizeof suites / sizeof suites[0]; i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
