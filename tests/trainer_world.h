/* The trainer suites' world (tests/test_trainer.c, test_progress.c,
 * test_checkpoint.c): a generated corpus of facts ("the capital of X is
 * Y", English and Korean templates), a WordPiece tokenizer trained on it,
 * the tokenized train and held-out sets, a collator and a tiny BERT config,
 * with the helpers every trainer test needs. */
#ifndef MLM_TESTS_TRAINER_WORLD_H
#define MLM_TESTS_TRAINER_WORLD_H

#include <mlm.h>
#include <stddef.h>

#define N_FACTS 40
#define N_TEMPLATES 8 /* 0..5 English, 6..7 Korean */
#define N_PREFIXES 4

typedef struct world {
    mlm_tokenizer *tok;
    mlm_dataset *train, *eval;
    mlm_collator *col;
    char cfg[1024];
} world;

/* A country and a city name, distinct for i < 70. */
void country(int i, char *out, size_t cap);
void city(int i, char *out, size_t cap);

/* Fact `fact` in template tmpl (0..5 English, 6..7 Korean) after prefix
 * number `prefix`; city_text replaces the fact's city when not NULL. */
void sentence(int fact, int tmpl, int prefix, const char *city_text, char *out, size_t cap);

/* The held-out template of a fact: one English template per fact. */
int held_out(int fact);

/* texts tokenized into a dataset of input_ids (and the other columns). */
mlm_dataset *tokenized(const mlm_tokenizer *tok, char **texts, size_t n);

/* The world, with a model of `layers` x `hidden` and the given dropout. */
void world_make(world *w, int hidden, int layers, double dropout);
void world_free(world *w);

/* A fresh model of the world's config (seed 11). */
mlm_model *new_model(const world *w);

/* A log callback that prints nothing. */
int quiet(const char *rec, void *user);

/* A trainer over the world's data with the options opts (JSON), quiet. */
mlm_trainer *new_trainer(const world *w, mlm_model *m, const char *opts);

/* The end of a run: its trainer and model freed, its output_dir (a
 * test_tmpdir) removed and freed. */
void end_run(mlm_trainer *tr, mlm_model *m, char *dir);

/* Whether dir/name exists. */
int exists(const char *dir, const char *name);

/* dir/name's bytes (malloc'ed, NUL-terminated); fails the test when it
 * cannot be read. */
char *read_all(const char *dir, const char *name, size_t *len);

#endif
