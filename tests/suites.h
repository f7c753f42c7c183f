/* Every Check suite of `make check`; check_main.c runs them all. */
#ifndef MLM_TESTS_SUITES_H
#define MLM_TESTS_SUITES_H

#include <check.h>

Suite *core_suite(void);
Suite *abi_suite(void);
Suite *cli_suite(void);
Suite *tokenizer_suite(void);

#endif
