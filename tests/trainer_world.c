/* The trainer suites' world; see trainer_world.h. */
#include "trainer_world.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* ---------------------------------------------------------------- corpus */

static const char *const cons[] = {"b", "d", "f", "g", "k", "l", "m",
                                   "n", "p", "r", "s", "t", "v", "z"};
static const char *const vows[] = {"a", "e", "i", "o", "u"};
static const char *const prefixes[N_PREFIXES] = {"", "everyone knows that ", "it is true that ",
                                                 "we learned that "};

/* Distinct for i < 70: (i mod 14, i mod 5) determines i mod 70. */
void country(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sr%sia", cons[i % 14], vows[i % 5], vows[(i + 2) % 5]);
}

void city(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s%sox", vows[i % 5], cons[i % 14]);
}

void sentence(int fact, int tmpl, int prefix, const char *city_text, char *out, size_t cap)
{
    char x[32], y[32];
    country(fact, x, sizeof x);
    if (city_text)
        snprintf(y, sizeof y, "%s", city_text);
    else
        city(fact, y, sizeof y);
    const char *p = prefixes[prefix];
    switch (tmpl) {
    case 0: snprintf(out, cap, "%sthe capital of %s is %s .", p, x, y); break;
    case 1: snprintf(out, cap, "%s%s is the capital of %s .", p, y, x); break;
    case 2: snprintf(out, cap, "%s%s has its capital at %s .", p, x, y); break;
    case 3: snprintf(out, cap, "%sthe capital city of %s is called %s .", p, x, y); break;
    case 4: snprintf(out, cap, "%sin %s , the seat of government is %s .", p, x, y); break;
    case 5: snprintf(out, cap, "%stravelers to %s arrive first in %s .", p, x, y); break;
    case 6: snprintf(out, cap, "%s%s의 수도는 %s 이다 .", p, x, y); break;
    default: snprintf(out, cap, "%s%s 는 %s의 수도이다 .", p, y, x); break;
    }
}

int held_out(int fact) { return fact % 6; }

mlm_dataset *tokenized(const mlm_tokenizer *tok, char **texts, size_t n)
{
    mlm_dataset *raw = NULL, *out = NULL;
    ck_assert_int_eq(mlm_dataset_new(&raw), MLM_OK);
    ck_assert_int_eq(mlm_dataset_add_string_column(raw, "text", (const char *const *)texts, n),
                     MLM_OK);
    ck_assert_msg(mlm_dataset_tokenize(raw, tok, "text", "{\"remove_columns\": \"all\"}", &out) ==
                      MLM_OK,
                  "%s", mlm_last_error());
    mlm_dataset_free(raw);
    return out;
}

/* hidden/layers/dropout: the model of the world's config. */
void world_make(world *w, int hidden, int layers, double dropout)
{
    size_t cap = N_FACTS * N_TEMPLATES * N_PREFIXES;
    char **tr = malloc(cap * sizeof *tr), **ev = malloc(cap * sizeof *ev);
    size_t ntr = 0, nev = 0;
    for (int f = 0; f < N_FACTS; f++)
        for (int t = 0; t < N_TEMPLATES; t++)
            for (int p = 0; p < N_PREFIXES; p++) {
                char s[256];
                sentence(f, t, p, NULL, s, sizeof s);
                if (t == held_out(f))
                    ev[nev++] = strdup(s);
                else
                    tr[ntr++] = strdup(s);
            }
    mlm_tokenizer_trainer *tt = NULL;
    ck_assert_int_eq(mlm_tokenizer_trainer_new(MLM_TOKENIZER_WORDPIECE, &tt), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "vocab_size", "400"), MLM_OK);
    ck_assert_int_eq(mlm_tokenizer_trainer_set(tt, "min_frequency", "1"), MLM_OK);
    for (size_t i = 0; i < ntr; i++)
        ck_assert_int_eq(mlm_tokenizer_trainer_feed(tt, tr[i], strlen(tr[i])), MLM_OK);
    ck_assert_msg(mlm_tokenizer_trainer_finish(tt, &w->tok) == MLM_OK, "%s", mlm_last_error());
    mlm_tokenizer_trainer_free(tt);
    w->train = tokenized(w->tok, tr, ntr);
    w->eval = tokenized(w->tok, ev, nev);
    for (size_t i = 0; i < ntr; i++)
        free(tr[i]);
    for (size_t i = 0; i < nev; i++)
        free(ev[i]);
    free(tr);
    free(ev);
    ck_assert_msg(mlm_collator_new(w->tok, "{\"seed\": 3}", &w->col) == MLM_OK, "%s",
                  mlm_last_error());
    snprintf(w->cfg, sizeof w->cfg,
             "{\"model_type\":\"bert\",\"vocab_size\":%d,\"hidden_size\":%d,"
             "\"num_hidden_layers\":%d,\"num_attention_heads\":4,\"intermediate_size\":%d,"
             "\"max_position_embeddings\":64,\"type_vocab_size\":2,\"hidden_act\":\"gelu\","
             "\"hidden_dropout_prob\":%g,\"attention_probs_dropout_prob\":%g,"
             "\"initializer_range\":0.02,\"layer_norm_eps\":1e-12,\"pad_token_id\":0}",
             mlm_tokenizer_vocab_size(w->tok), hidden, layers, 2 * hidden, dropout, dropout);
}

void world_free(world *w)
{
    mlm_collator_free(w->col);
    mlm_dataset_free(w->train);
    mlm_dataset_free(w->eval);
    mlm_tokenizer_free(w->tok);
}

mlm_model *new_model(const world *w)
{
    mlm_model *m = NULL;
    ck_assert_msg(mlm_model_new(w->cfg, strlen(w->cfg), 11, &m) == MLM_OK, "%s",
                  mlm_last_error());
    return m;
}

int quiet(const char *rec, void *user)
{
    (void)rec;
    (void)user;
    return 0;
}

mlm_trainer *new_trainer(const world *w, mlm_model *m, const char *opts)
{
    mlm_trainer *tr = NULL;
    ck_assert_msg(mlm_trainer_new(m, w->col, w->train, w->eval, &tr) == MLM_OK, "%s",
                  mlm_last_error());
    ck_assert_msg(mlm_trainer_set_json(tr, opts) == MLM_OK, "%s", mlm_last_error());
    mlm_trainer_set_callback(tr, quiet, NULL);
    return tr;
}

int exists(const char *dir, const char *name)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

char *read_all(const char *dir, const char *name, size_t *len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *s = test_read_file(p, len);
    ck_assert_msg(s != NULL, "cannot read %s", p);
    return s;
}

void end_run(mlm_trainer *tr, mlm_model *m, char *dir)
{
    mlm_trainer_free(tr);
    mlm_model_free(m);
    test_rmtree(dir);
    free(dir);
}
