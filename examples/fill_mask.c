/* The seed's inference example as a host application: fill the mask in
 * "The Milky Way is a <mask> galaxy." with a masked-LM model directory.
 *
 *     fill_mask MODEL_DIR ["TEXT WITH <mask>"]
 */
#include <mlm.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [TEXT]\n", argv[0]);
        return 2;
    }
    const char *text = argc > 2 ? argv[2] : "The Milky Way is a <mask> galaxy.";
    mlm_pipeline *pipe = NULL;
    mlm_fill_result *res = NULL;
    mlm_status st = mlm_pipeline_load(argv[1], &pipe);
    if (st == MLM_OK)
        st = mlm_fill_mask(pipe, text, 3, &res);
    if (st != MLM_OK) {
        fprintf(stderr, "%s: %s\n", mlm_status_string(st), mlm_last_error());
        mlm_pipeline_free(pipe);
        return 1;
    }
    for (size_t m = 0; m < mlm_fill_result_n_masks(res); m++)
        for (size_t k = 0; k < mlm_fill_result_n_predictions(res, m); k++)
            printf("%.4f  %-12s %s\n", mlm_fill_result_score(res, m, k),
                   mlm_fill_result_token_str(res, m, k), mlm_fill_result_sequence(res, m, k));
    mlm_fill_result_free(res);
    mlm_pipeline_free(pipe);
    return 0;
}
