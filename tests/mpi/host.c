/* A host application that runs MPI itself and hands libmlm its own
 * communicator (mlm_trainer_set_mpi_comm), for tests/test_distributed.c:
 *
 *   mpirun -np 2 mpi_host OUT_DIR     2 ranks, 1 row each, on a
 *                                     communicator split from WORLD
 *   mpi_host OUT_DIR --alone          1 process (MPI_COMM_SELF), the same
 *                                     2 rows a step as accumulation 2
 *
 * A tiny BERT (mlm_model_new, seed 3, dropout 0.1) trains 4 steps on 64
 * generated rows with the masking collator. The host initialises MPI
 * (MPI_THREAD_SERIALIZED) and finalises it; after the trainer is freed the
 * host's own MPI still works (an allreduce of its own), and libmlm has not
 * finalised it. The world process zero writes OUT_DIR/trainer_state.json (the
 * trainer's state, log_history in it) and OUT_DIR/world.txt ("rank world" as
 * mlm_trainer_world said, per rank, gathered by the host). Exit 0, or 1
 * after saying what failed. */
#include <mlm.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 64
#define T 16
#define V 64

static int fail(const char *what)
{
    fprintf(stderr, "mpi_host: %s: %s\n", what, mlm_last_error());
    return 1;
}

static int train(MPI_Comm comm, const char *out, int alone)
{
    static const char CFG[] =
        "{\"model_type\": \"bert\", \"vocab_size\": 64, \"hidden_size\": 16, "
        "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"intermediate_size\": 32, "
        "\"max_position_embeddings\": 32, \"type_vocab_size\": 2, \"pad_token_id\": 1, "
        "\"hidden_dropout_prob\": 0.1, \"attention_probs_dropout_prob\": 0.1}";
    static int32_t ids[ROWS][T];
    const int32_t *rows[ROWS];
    size_t lens[ROWS];
    for (int r = 0; r < ROWS; r++) {
        ids[r][0] = 0;
        for (int t = 1; t < T - 1; t++)
            ids[r][t] = 4 + (r * 7 + t * 3) % (V - 5);
        ids[r][T - 1] = 2;
        rows[r] = ids[r];
        lens[r] = T;
    }
    mlm_model *m = NULL;
    mlm_dataset *ds = NULL;
    mlm_collator *col = NULL;
    mlm_trainer *tr = NULL;
    int rc = 1;
    char opts[512];
    if (mlm_model_new(CFG, strlen(CFG), 3, &m) != MLM_OK)
        return fail("mlm_model_new");
    if (mlm_dataset_new(&ds) != MLM_OK ||
        mlm_dataset_add_sequence_column(ds, "input_ids", rows, lens, ROWS) != MLM_OK)
        goto done;
    if (mlm_collator_new_ids("{\"mask_token_id\": 3, \"vocab_size\": 64, \"pad_token_id\": 1, "
                             "\"bos_token_id\": 0, \"eos_token_id\": 2, \"seed\": 5}",
                             &col) != MLM_OK ||
        mlm_trainer_new(m, col, ds, NULL, &tr) != MLM_OK)
        goto done;
    snprintf(opts, sizeof opts,
             "{\"output_dir\": \"%s\", \"max_steps\": 4, \"logging_steps\": 1, "
             "\"learning_rate\": 1e-3, \"per_device_train_batch_size\": 1, "
             "\"gradient_accumulation_steps\": %d, \"save_strategy\": \"no\", \"seed\": 9, "
             "\"disable_tqdm\": true}",
             out, alone ? 2 : 1);
    if (mlm_trainer_set_json(tr, opts) != MLM_OK || mlm_trainer_set_mpi_comm(tr, &comm) != MLM_OK)
        goto done;
    int rank = -1, world = -1;
    if (mlm_trainer_world(tr, &rank, &world) != MLM_OK || mlm_trainer_train(tr) != MLM_OK)
        goto done;
    /* the host gathers what each rank was told */
    int mine[2] = {rank, world}, *all = malloc(2 * (size_t)world * sizeof *all);
    if (!all || MPI_Allgather(mine, 2, MPI_INT, all, 2, MPI_INT, comm) != MPI_SUCCESS) {
        free(all);
        fprintf(stderr, "mpi_host: the host's MPI_Allgather failed\n");
        goto done;
    }
    if (rank == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/world.txt", out);
        FILE *f = fopen(path, "w");
        for (int r = 0; f && r < world; r++)
            fprintf(f, "%d %d\n", all[2 * r], all[2 * r + 1]);
        if (f)
            fclose(f);
        size_t need = 0;
        char *state = NULL;
        if (mlm_trainer_state_json(tr, NULL, 0, &need) == MLM_OK && (state = malloc(need)) &&
            mlm_trainer_state_json(tr, state, need, &need) == MLM_OK) {
            snprintf(path, sizeof path, "%s/trainer_state.json", out);
            if ((f = fopen(path, "w"))) {
                fputs(state, f);
                fclose(f);
            }
        }
        free(state);
    }
    free(all);
    rc = 0;
done:
    if (rc)
        fail("training");
    mlm_trainer_free(tr);
    mlm_collator_free(col);
    mlm_dataset_free(ds);
    mlm_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: mpi_host OUT_DIR [--alone]\n"), 2;
    int alone = argc > 2 && strcmp(argv[2], "--alone") == 0, provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm comm;
    int wrank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    /* the host's own communicator, not WORLD: a split of it (or SELF) */
    if (alone)
        MPI_Comm_dup(MPI_COMM_SELF, &comm);
    else
        MPI_Comm_split(MPI_COMM_WORLD, 0, wrank, &comm);
    int rc = train(comm, argv[1], alone);
    /* the host's MPI is still its own: libmlm finalised nothing */
    int fin = 1, one = 1, sum = 0;
    MPI_Finalized(&fin);
    if (rc == 0 && (fin || MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, comm) != MPI_SUCCESS)) {
        fprintf(stderr, "mpi_host: the host's MPI no longer works after the trainer\n");
        rc = 1;
    }
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return rc;
}
