/* Summarize a text with a T5 model directory, as transformers'
 * pipeline("summarization") does: the model's task_specific_params
 * (t5-small: "summarize: " prefix, 4 beams, ...) under our options.
 *
 *     ./summarize MODEL_DIR "text to summarize" [max_new_tokens]
 */
#include <mlm.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, mlm_status st)
{
    fprintf(stderr, "%s: %s: %s\n", what, mlm_status_string(st), mlm_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR TEXT [MAX_NEW_TOKENS]\n", argv[0]);
        return 2;
    }
    mlm_summarizer *s = NULL;
    mlm_summary *r = NULL;
    mlm_status st = mlm_summarizer_load(argv[1], &s);
    if (st != MLM_OK)
        return fail(argv[1], st);
    mlm_summarizer_set_threads(s, mlm_default_threads());
    if (argc > 3 && (st = mlm_summarizer_set(s, "max_new_tokens", argv[3])) != MLM_OK) {
        mlm_summarizer_free(s);
        return fail("max_new_tokens", st);
    }
    if ((st = mlm_summarize(s, argv[2], &r)) != MLM_OK) {
        mlm_summarizer_free(s);
        return fail("summarize", st);
    }
    for (size_t i = 0; i < mlm_summary_n_warnings(r); i++)
        fprintf(stderr, "warning: %s\n", mlm_summary_warning(r, i));
    printf("%s\n", mlm_summary_text(r, 0));
    mlm_summary_free(r);
    mlm_summarizer_free(s);
    return 0;
}
