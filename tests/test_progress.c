/* What the Trainer prints (suite progress): the progress bars and log
 * lines against tqdm and CPython, with a callback and on a terminal. */
#include "suites.h"
#include "testutil.h"
#include "trainer_world.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <errno.h>
#include <math.h>
#include <mlm.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "io/file.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "io/progress.h"
#include "train/trainer_impl.h" /* EVAL_BATCH_BASE: the eval batches' mask streams */

/* ---------------------------------------------------------------- progress */

/* Every expected text below was printed by tests/reference/progress_reference.py
 * from tqdm 4.64.1 (Debian python3-tqdm) and CPython. */

static char *sb_text(strbuf *sb)
{
    ck_assert(!sb->failed);
    ck_assert_ptr_nonnull(sb->data);
    return sb->data;
}

START_TEST(progress_formats_like_tqdm)
{
    static const struct {
        int64_t n, total;
        double elapsed;
        int ncols;
        double rate;
        int64_t initial;
        int has_loss;
        double loss;
        int ascii;
        const char *want;
    } m[] = {
        {150, 400, 12.2, -1, 12.3, 0, 1, 2.3456789, 0,
         " 38%|███▊      | 150/400 [00:12<00:20, 12.30it/s, loss=2.35]"},
        {150, 400, 12.2, 80, 12.3, 0, 1, 2.3456789, 0,
         " 38%|███████████▎                  | 150/400 [00:12<00:20, 12.30it/s, loss=2.35]"},
        /* a terminal narrower than the bar: one cell, then cut */
        {150, 400, 12.2, 30, 12.3, 0, 1, 2.3456789, 0, " 38%|▍| 150/400 [00:12<00:20, "},
        {150, 400, 12.2, 0, 12.3, 0, 1, 2.3456789, 0,
         " 38% 150/400 [00:12<00:20, 12.30it/s, loss=2.35]"},
        {0, 400, 0.0, 80, NAN, 0, 0, 0.0, 0,
         "  0%|                                                   | 0/400 [00:00<?, ?it/s]"},
        /* slower than a step a second; hours */
        {3, 5000, 3725.0, 100, 0.4, 0, 1, 0.000123456, 0,
         "  0%|                                           | 3/5000 [1:02:05<3:28:12,  "
         "2.50s/it, loss=0.000123]"},
        /* resumed at 100: the rate counts from there */
        {150, 400, 10.0, 60, NAN, 100, 1, 7.0, 0,
         " 38%|████▉        | 150/400 [00:10<00:50,  5.00it/s, loss=7]"},
        {400, 400, 31.0, 70, NAN, 0, 1, 1.5, 0,
         "100%|█████████████████████| 400/400 [00:31<00:00, 12.90it/s, loss=1.5]"},
        {37, 100, 4.0, 60, 9.25, 0, 1, 2.0, 1,
         " 37%|#####1        | 37/100 [00:04<00:06,  9.25it/s, loss=2]"},
        {1, 7, 0.5, 46, 2.0, 0, 0, 0.0, 0, " 14%|█▌         | 1/7 [00:00<00:03,  2.00it/s]"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        progress_view v = {.n = m[i].n,
                           .total = m[i].total,
                           .initial = m[i].initial,
                           .elapsed = m[i].elapsed,
                           .rate = m[i].rate,
                           .has_loss = m[i].has_loss,
                           .loss = m[i].loss,
                           .ncols = m[i].ncols,
                           .ascii = m[i].ascii};
        strbuf sb = {0};
        progress_render(&sb, &v);
        ck_assert_msg(strcmp(sb_text(&sb), m[i].want) == 0, "case %zu:\n got '%s'\nwant '%s'", i,
                      sb.data, m[i].want);
        ck_assert(strchr(sb.data, '\033') == NULL);
        if (m[i].ncols > 0)
            ck_assert_uint_le(progress_text_width(sb.data), (size_t)m[i].ncols);
        sb_free(&sb);
    }

    static const struct {
        double t;
        const char *want;
    } iv[] = {{0, "00:00"},       {59.9, "00:59"},     {60, "01:00"},
              {3599.99, "59:59"}, {3600, "1:00:00"},   {86399, "23:59:59"},
              {360000.5, "100:00:00"}};
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
        strbuf sb = {0};
        tqdm_interval(&sb, iv[i].t);
        ck_assert_str_eq(sb_text(&sb), iv[i].want);
        sb_free(&sb);
    }
    static const struct {
        double x;
        const char *want;
    } num[] = {{2.3456789, "2.35"}, {0.000123456, "0.000123"}, {1e-05, "1e-5"},
               {123456.0, "1.23e+5"}, {2.0, "2"},            {1234.5, "1234.5"},
               {0.05, "0.05"},        {12.5, "12.5"}};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        strbuf sb = {0};
        tqdm_num(&sb, num[i].x);
        ck_assert_str_eq(sb_text(&sb), num[i].want);
        sb_free(&sb);
    }
    /* widths as tqdm's disp_len: Korean syllables take two columns */
    ck_assert_uint_eq(progress_text_width("한국어 loss"), 11);
    ck_assert_uint_eq(progress_text_width("abc"), 3);
    ck_assert_uint_eq(progress_text_width(" 37%|███▋      |"), 16);
}
END_TEST

/* The bars of the data layer: tqdm's desc, unit and unit_scale. */
START_TEST(progress_units_like_tqdm)
{
    static const struct {
        int64_t n, total;
        double elapsed;
        int ncols;
        double rate;
        const char *desc, *unit;
        int unit_scale;
        const char *want;
    } m[] = {
        {10300000, 22936920, 1.1, 80, 9410000.0, "Tokenizing big.txt", "B", 1,
         "Tokenizing big.txt:  45%|████████          | 10.3M/22.9M [00:01<00:01, 9.41MB/s]"},
        {10300000, 22936920, 1.1, 0, 0.5, "Tokenizing big.txt", "B", 1,
         "Tokenizing big.txt:  45% 10.3M/22.9M [00:01<7020:30:40, 2.00s/B]"},
        {0, 22936920, 0.0, 60, NAN, "한국어.txt", "B", 1,
         "한국어.txt:   0%|               | 0.00/22.9M [00:00<?, ?B/s]"},
        {22936920, 22936920, 2.5, 70, NAN, "big.txt: ", "B", 1,
         "big.txt: 100%|███████████████████| 22.9M/22.9M [00:02<00:00, 9.17MB/s]"},
        {3, 22936920, 1.1, -1, NAN, NULL, "B", 1,
         "  0%|          | 3.00/22.9M [00:01<2336:10:02, 2.73B/s]"},
        {10300000, 0, 1.1, -1, NAN, "x", "B", 1, "x: 10.3MB [00:01, 9.36MB/s]"},
        {450, 1000, 1.5, 70, 300.0, "Map", " examples", 0,
         "Map:  45%|███████▋         | 450/1000 [00:01<00:01, 300.00 examples/s]"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        progress_view v = {.n = m[i].n, .total = m[i].total, .elapsed = m[i].elapsed,
                           .rate = m[i].rate, .ncols = m[i].ncols, .desc = m[i].desc,
                           .unit = m[i].unit, .unit_scale = m[i].unit_scale};
        strbuf sb = {0};
        progress_render(&sb, &v);
        ck_assert_msg(strcmp(sb_text(&sb), m[i].want) == 0, "case %zu:\n got '%s'\nwant '%s'", i,
                      sb.data, m[i].want);
        sb_free(&sb);
    }
    static const struct {
        double x;
        const char *want;
    } sz[] = {{0, "0.00"},        {3, "3.00"},          {9.994, "9.99"},     {9.995, "10.0"},
              {99.94, "99.9"},    {99.95, "100"},       {999.4, "999"},      {999.5, "1.00k"},
              {1234, "1.23k"},    {22936920, "22.9M"},  {9410000.0, "9.41M"}, {5e+26, "500.0Y"},
              {2e+30, "2000000.0Y"}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        strbuf sb = {0};
        tqdm_sizeof(&sb, sz[i].x);
        ck_assert_str_eq(sb_text(&sb), sz[i].want);
        sb_free(&sb);
    }
}
END_TEST

START_TEST(python_reprs)
{
    static const struct {
        double x;
        const char *want;
    } r[] = {{2.3456, "2.3456"},
             {4.5e-05, "4.5e-05"},
             {0.0001, "0.0001"},
             {1e-05, "1e-05"},
             {1e+16, "1e+16"},
             {1000000000000000.0, "1000000000000000.0"},
             {123456789.123, "123456789.123"},
             {0.30000000000000004, "0.30000000000000004"},
             {-0.0, "-0.0"},
             {2.0, "2.0"},
             {5e-324, "5e-324"},
             {1.7976931348623157e+308, "1.7976931348623157e+308"},
             {0.3333333333333333, "0.3333333333333333"},
             {100.0, "100.0"},
             {1234567890123456.8, "1234567890123456.8"},
             {0.00012, "0.00012"}};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        strbuf sb = {0};
        py_float_repr(&sb, r[i].x);
        ck_assert_str_eq(sb_text(&sb), r[i].want);
        sb_free(&sb);
    }
    static const double round2[][2] = {{0.125, 0.12}, {0.375, 0.38}, {2.675, 2.67},
                                       {1.005, 1.0},  {0.5, 0.5},    {0.3333333333333333, 0.33},
                                       {2.999, 3.0},  {0.015, 0.01}};
    for (size_t i = 0; i < sizeof round2 / sizeof round2[0]; i++)
        ck_assert_msg(py_round2(round2[i][0]) == round2[i][1], "round(%.17g, 2)", round2[i][0]);

    static const struct {
        const char *rec, *want;
    } lines[] = {
        {"{\"loss\": 2.3456, \"grad_norm\": 1.2345678806304932, \"learning_rate\": 4.5e-05, "
         "\"epoch\": 0.123456, \"step\": 150}",
         "{'loss': 2.3456, 'grad_norm': 1.2345678806304932, 'learning_rate': 4.5e-05, "
         "'epoch': 0.12}"},
        {"{\"eval_loss\": 1.75, \"perplexity\": 5.754602676005731, \"epoch\": 2.0, \"step\": 300}",
         "{'eval_loss': 1.75, 'perplexity': 5.754602676005731, 'epoch': 2.0}"},
        {"{\"train_loss\": 2.0, \"epoch\": 3.0, \"step\": 400, \"total_flos\": 123456.0}",
         "{'train_loss': 2.0, 'epoch': 3.0}"},
        {"{\"note\": \"한국어 \\\"따옴표\\\"\", \"epoch\": 1.005, \"flag\": true, \"none\": null}",
         "{'note': '한국어 \"따옴표\"', 'epoch': 1.0, 'flag': True, 'none': None}"},
        {"{\"note\": \"it's\", \"tab\": \"a\\tb\"}", "{'note': \"it's\", 'tab': 'a\\tb'}"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        cJSON *o = cJSON_Parse(lines[i].rec);
        ck_assert_ptr_nonnull(o);
        strbuf sb = {0};
        py_log_line(&sb, o);
        ck_assert_str_eq(sb_text(&sb), lines[i].want);
        sb_free(&sb);
        cJSON_Delete(o);
    }
}
END_TEST

/* The live bar on a stream: carriage returns and spaces only, redraws at
 * most every 0.1 s, a log line above it, a newline at the end. The lines
 * are tqdm.format_meter's for the same n, elapsed, rate and width. */
START_TEST(progress_bar_draws_in_place)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    ck_assert_ptr_nonnull(fp);
    progress_bar b;
    progress_open(&b, fp, 60, 0, 0, 4, 100.0);
    progress_update(&b, 1, 2.5, 100.05); /* too soon: no redraw */
    fflush(fp);
    size_t after_first = len;
    progress_update(&b, 2, 2.25, 100.5);
    fflush(fp);
    ck_assert_uint_gt(len, after_first);
    progress_write(&b, "{'loss': 2.375, 'epoch': 0.5}", 100.6);
    progress_update(&b, 3, 2.0, 100.7);
    progress_update(&b, 4, 1.75, 101.0);
    progress_close(&b, 102.0);
    progress_close(&b, 102.0); /* a second close does nothing */
    fclose(fp);
    ck_assert(memchr(out, '\033', len) == NULL);
    ck_assert_int_eq(out[0], '\r');
    ck_assert_int_eq(out[len - 1], '\n');
    ck_assert_ptr_nonnull(strstr(out, "\r{'loss': 2.375, 'epoch': 0.5}\n\r"));
    ck_assert_ptr_null(strstr(out, "1/4")); /* the draw at step 1 was skipped */
    ck_assert_ptr_nonnull(strstr(out, "\r  0%|                                 | 0/4 [00:00<?, ?it/s]"));
    ck_assert_ptr_nonnull(
        strstr(out, "\r 50%|███████       | 2/4 [00:00<00:00,  4.00it/s, loss=2.25]"));
    /* the end: the whole run's average rate, 4 steps in 2 s */
    const char *last = strrchr(out, '\r');
    ck_assert_str_eq(last, "\r100%|██████████████| 4/4 [00:02<00:00,  2.00it/s, loss=1.75]\n");
    free(out);
}
END_TEST

/* progress_render of a bar's state at 60 columns: the formatter checked
 * against tqdm above, so the live bars below are checked against it. */
static void render_at_60(strbuf *sb, int64_t n, int64_t total, double elapsed, double rate,
                         int has_loss, double loss)
{
    progress_view v = {.n = n, .total = total, .elapsed = elapsed, .rate = rate,
                       .has_loss = has_loss, .loss = loss, .ncols = 60};
    progress_render(sb, &v);
    ck_assert(!sb->failed);
}

static void spaces(strbuf *sb, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(sb, ' ');
}

/* The evaluation's bar during a run, byte for byte: the training bar's
 * line is blanked (tqdm's clear), the eval bar drawn there without a
 * postfix, redrawn at most every 0.1 s, blanked when discarded (tqdm's
 * close with leave=False: no last draw of 3/3), and the training bar drawn
 * again with its rate and loss. */
START_TEST(eval_bar_takes_the_line)
{
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    ck_assert_ptr_nonnull(fp);
    progress_bar train, ev;
    progress_open(&train, fp, 60, 0, 0, 4, 100.0);
    progress_update(&train, 1, 2.5, 100.5);
    fflush(fp);
    size_t mark = len;
    progress_clear(&train);
    progress_open(&ev, fp, 60, 0, 0, 3, 100.625);
    progress_advance(&ev, 1, 100.6875); /* too soon */
    progress_advance(&ev, 2, 100.875);
    progress_advance(&ev, 3, 100.9);    /* too soon */
    progress_discard(&ev);
    progress_discard(&ev); /* closed: nothing */
    progress_refresh(&train, 101.0);
    fflush(fp);
    size_t end = len;
    progress_close(&train, 102.0);
    fclose(fp);

    strbuf t1 = {0}, e0 = {0}, e2 = {0}, t1b = {0}, want = {0};
    render_at_60(&t1, 1, 4, 0.5, 2.0, 1, 2.5);
    render_at_60(&e0, 0, 3, 0.0, NAN, 0, 0);
    render_at_60(&e2, 2, 3, 0.25, 8.0, 0, 0); /* 2 steps in 0.25 s */
    render_at_60(&t1b, 1, 4, 1.0, 2.0, 1, 2.5);
    size_t w_t1 = progress_text_width(t1.data), w_e0 = progress_text_width(e0.data),
           w_e2 = progress_text_width(e2.data);
    sb_putc(&want, '\r'); /* the training bar blanked */
    spaces(&want, w_t1);
    sb_puts(&want, "\r\r");
    sb_puts(&want, e0.data);
    sb_putc(&want, '\r');
    sb_puts(&want, e2.data);
    spaces(&want, w_e0 > w_e2 ? w_e0 - w_e2 : 0);
    sb_putc(&want, '\r'); /* the eval bar blanked */
    spaces(&want, w_e2);
    sb_puts(&want, "\r\r");
    sb_puts(&want, t1b.data);
    ck_assert_uint_eq(end - mark, want.len);
    ck_assert_msg(memcmp(out + mark, want.data, want.len) == 0, "got '%.*s'\nwant '%s'",
                  (int)(end - mark), out + mark, want.data);
    ck_assert_ptr_nonnull(strstr(t1.data, "loss=2.5"));
    ck_assert_ptr_null(strstr(e2.data, "loss"));
    ck_assert_ptr_nonnull(strstr(e2.data, "| 2/3 ["));
    ck_assert_int_eq(out[len - 1], '\n');
    sb_free(&t1);
    sb_free(&e0);
    sb_free(&e2);
    sb_free(&t1b);
    sb_free(&want);
    free(out);
}
END_TEST

/* Redirect stderr to a file while running the trainer. */
static char *train_capturing_stderr(mlm_trainer *tr, mlm_status *st)
{
    char path[] = "/tmp/mlm_trainer_stderr_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    *st = mlm_trainer_train(tr);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    size_t len;
    char *text = test_read_file(path, &len);
    unlink(path);
    ck_assert_ptr_nonnull(text);
    return text;
}

START_TEST(output_follows_disable_tqdm)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    char *d = test_tmpdir(), opts[1024];
    const char *modes[] = {"false", "true", "null"};
    for (int k = 0; k < 3; k++) {
        snprintf(opts, sizeof opts,
                 "{\"output_dir\": \"%s\", \"max_steps\": 3, \"logging_steps\": 1, "
                 "\"save_strategy\": \"no\", \"per_device_train_batch_size\": 4, "
                 "\"disable_tqdm\": %s}",
                 d, modes[k]);
        mlm_model *m = new_model(&w);
        mlm_trainer *tr = new_trainer(&w, m, opts);
        mlm_trainer_set_callback(tr, NULL, NULL);
        mlm_status st;
        char *text = train_capturing_stderr(tr, &st);
        ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
        ck_assert(strchr(text, '\033') == NULL);
        if (k == 0) { /* forced bar, even on a file */
            ck_assert_ptr_nonnull(strstr(text, "\r{'loss': "));
            /* the run's metrics, as Trainer logs them (total_flos not shown) */
            ck_assert_ptr_nonnull(strstr(text, "{'train_runtime': "));
            ck_assert_ptr_nonnull(strstr(text, ", 'train_steps_per_second': "));
            ck_assert_ptr_nonnull(strstr(text, ", 'train_loss': "));
            ck_assert_ptr_null(strstr(text, "'total_flos'"));
            ck_assert_ptr_nonnull(strstr(text, "| 3/3 ["));
            ck_assert_ptr_null(strstr(text, "\"loss\""));
            ck_assert_int_eq(text[strlen(text) - 1], '\n');
        } else { /* JSON lines: disabled, or null with stderr not a terminal */
            ck_assert_ptr_null(strchr(text, '\r'));
            ck_assert_msg(strncmp(text, "{\"loss\":", 8) == 0, "%s", text);
            ck_assert_ptr_nonnull(strstr(text, "\n{\"train_runtime\":"));
        }
        free(text);
        mlm_trainer_free(tr);
        mlm_model_free(m);
    }
    /* the option: HF's spellings, null, and errors naming it */
    mlm_model *m = new_model(&w);
    mlm_trainer *tr = new_trainer(&w, m, "{}");
    char buf[4096];
    size_t need;
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":null"));
    ck_assert_int_eq(mlm_trainer_set(tr, "disable_tqdm", "True"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":true"));
    ck_assert_int_eq(mlm_trainer_set(tr, "disable_tqdm", "no"), MLM_OK);
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":false"));
    ck_assert_int_eq(mlm_trainer_set(tr, "disable_tqdm", "sometimes"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "disable_tqdm"));
    ck_assert_int_eq(mlm_trainer_set_json(tr, "{\"disable_tqdm\": 2}"), MLM_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(mlm_last_error(), "disable_tqdm"));
    ck_assert_int_eq(mlm_trainer_args_json(tr, buf, sizeof buf, &need), MLM_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"disable_tqdm\":false"));
    end_run(tr, m, d);
    world_free(&w);
}
END_TEST

/* Every record the callback received, by kind. */
typedef struct record_count {
    int all, loss, eval, eval_acc, train_loss;
} record_count;

static int count_records(const char *rec, void *user)
{
    record_count *c = user;
    c->all++;
    c->loss += strncmp(rec, "{\"loss\":", 8) == 0;
    c->eval += strncmp(rec, "{\"eval_loss\":", 13) == 0;
    c->eval_acc += strstr(rec, "\"eval_accuracy\":") != NULL;
    c->train_loss += strncmp(rec, "{\"train_runtime\":", 17) == 0 &&
                     strstr(rec, "\"total_flos\":") && strstr(rec, "\"train_loss\":");
    return 0;
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* 3 steps of 4 rows, a record every step, an evaluation at step 3 in 5
 * batches of 32 rows (the eval set's 160), with accuracy. */
static void tty_opts(char *opts, size_t cap, const char *dir, const char *disable_tqdm)
{
    snprintf(opts, cap,
             "{\"output_dir\": \"%s\", \"max_steps\": 3, \"logging_steps\": 1, "
             "\"save_strategy\": \"no\", \"per_device_train_batch_size\": 4, "
             "\"eval_strategy\": \"steps\", \"eval_steps\": 3, "
             "\"per_device_eval_batch_size\": 32, \"compute_accuracy\": true, "
             "\"disable_tqdm\": %s}",
             dir, disable_tqdm);
}

/* As transformers shows its ProgressCallback beside the user's callbacks:
 * with a callback, the bar (forced onto a file by disable_tqdm false) still
 * shows every record above it while the callback receives them all as
 * JSON; not on a terminal, no evaluation bar. With disable_tqdm null and
 * stderr a file, the callback alone: the library prints nothing. */
START_TEST(callback_and_bar_together)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    ck_assert_uint_eq(mlm_dataset_num_rows(w.eval), 160);
    char *d = test_tmpdir(), opts[1024];
    const char *modes[] = {"false", "null"};
    for (int k = 0; k < 2; k++) {
        tty_opts(opts, sizeof opts, d, modes[k]);
        mlm_model *m = new_model(&w);
        mlm_trainer *tr = new_trainer(&w, m, opts);
        record_count c = {0};
        mlm_trainer_set_callback(tr, count_records, &c);
        mlm_status st;
        char *text = train_capturing_stderr(tr, &st);
        ck_assert_msg(st == MLM_OK, "%s", mlm_last_error());
        ck_assert_int_eq(c.all, 5);
        ck_assert_int_eq(c.loss, 3);
        ck_assert_int_eq(c.eval, 1);
        ck_assert_int_eq(c.eval_acc, 1);
        ck_assert_int_eq(c.train_loss, 1);
        if (k == 0) {
            ck_assert_ptr_nonnull(strstr(text, "| 3/3 ["));
            ck_assert_uint_eq(occurrences(text, "\r{'loss': "), 3);
            ck_assert_uint_eq(occurrences(text, "\r{'eval_loss': "), 1);
            ck_assert_ptr_nonnull(strstr(text, ", 'eval_accuracy': "));
            ck_assert_uint_eq(occurrences(text, "\r{'train_runtime': "), 1);
            ck_assert_ptr_null(strstr(text, "{\""));
            ck_assert_ptr_null(strstr(text, "/5 ["));
            ck_assert_int_eq(text[strlen(text) - 1], '\n');
        } else {
            ck_assert_msg(text[0] == '\0', "printed: %s", text);
        }
        free(text);
        mlm_trainer_free(tr);
        mlm_model_free(m);
    }
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

typedef struct tty_job {
    const world *w;
    const char *opts;
} tty_job;

/* The child's side of run_on_terminal: train (callback set, disable_tqdm
 * null), then evaluate on its own. Its exit status says what failed (no
 * Check assertions across the fork). */
static int train_on_terminal(const tty_job *j)
{
    mlm_model *m = NULL;
    mlm_trainer *tr = NULL;
    record_count c = {0};
    if (mlm_model_new(j->w->cfg, strlen(j->w->cfg), 11, &m) != MLM_OK ||
        mlm_trainer_new(m, j->w->col, j->w->train, j->w->eval, &tr) != MLM_OK ||
        mlm_trainer_set_json(tr, j->opts) != MLM_OK)
        return 2;
    mlm_trainer_set_callback(tr, count_records, &c);
    if (mlm_trainer_train(tr) != MLM_OK)
        return 3;
    if (c.all != 5 || c.eval_acc != 1)
        return 4;
    if (mlm_trainer_evaluate(tr, NULL, NULL) != MLM_OK)
        return 5;
    mlm_trainer_free(tr);
    mlm_model_free(m);
    return 0;
}

/* What the job writes to stderr when stderr is a terminal: a pty of 120
 * columns in raw mode (no newline translation), read until the child has
 * exited. */
static char *run_on_terminal(const tty_job *j, int *status)
{
    int master, slave;
    struct winsize ws = {.ws_row = 24, .ws_col = 120};
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, &ws), 0);
    struct termios tio;
    ck_assert_int_eq(tcgetattr(slave, &tio), 0);
    cfmakeraw(&tio);
    ck_assert_int_eq(tcsetattr(slave, TCSANOW, &tio), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(master);
        dup2(slave, STDERR_FILENO);
        close(slave);
        _exit(train_on_terminal(j));
    }
    close(slave);
    strbuf sb = {0};
    char buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* EIO once the child's side is closed */
            break;
        sb_append(&sb, buf, (size_t)n);
    }
    close(master);
    ck_assert_int_eq(waitpid(pid, status, 0), pid);
    ck_assert(!sb.failed && sb.data);
    char *text = strdup(sb.data);
    sb_free(&sb);
    return text;
}

/* On a terminal (disable_tqdm null) with a callback: the training bar, the
 * records above it, and an evaluation bar of the 5 eval batches with no
 * postfix, which gives the line back to the training bar before the eval
 * record is printed; the standalone evaluation afterwards leaves its bar,
 * complete, on its own line. */
START_TEST(eval_bar_on_a_terminal)
{
    world w;
    world_make(&w, 16, 1, 0.0);
    char *d = test_tmpdir(), opts[1024];
    tty_opts(opts, sizeof opts, d, "null");
    tty_job j = {&w, opts};
    int status;
    char *text = run_on_terminal(&j, &status);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, text);
    ck_assert(strchr(text, '\033') == NULL);
    ck_assert_ptr_nonnull(strstr(text, "| 3/3 ["));
    ck_assert_uint_eq(occurrences(text, "\r{'loss': "), 3);
    ck_assert_uint_eq(occurrences(text, "\r{'train_runtime': "), 1);
    ck_assert_ptr_null(strstr(text, "{\""));
    /* every eval bar line: no postfix */
    size_t bars = 0;
    for (const char *p = strstr(text, "/5 ["); p; p = strstr(p + 1, "/5 [")) {
        const char *close = strchr(p, ']');
        ck_assert_ptr_nonnull(close);
        ck_assert_msg(memmem(p, (size_t)(close - p), "loss", 4) == NULL, "%.*s",
                      (int)(close - p), p);
        bars++;
    }
    ck_assert_uint_ge(bars, 2); /* one at least per evaluation */
    /* during the run: the eval bar, blanked, the training bar again, then
     * the record */
    const char *rec = strstr(text, "\r{'eval_loss': ");
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_nonnull(strstr(rec, ", 'eval_accuracy': "));
    const char *first_eval = strstr(text, "| 0/5 [");
    ck_assert(first_eval && first_eval < rec);
    const char *last_eval = first_eval;
    for (const char *p = first_eval; p && p < rec; p = strstr(p + 1, "/5 ["))
        last_eval = p;
    const char *start = last_eval, *eol = strchr(last_eval, '\r'), *stop = eol;
    ck_assert(eol && eol < rec);
    while (start > text && start[-1] != '\r')
        start--;
    while (stop > start && stop[-1] == ' ') /* padding over a longer draw */
        stop--;
    char *drawn = strndup(start, (size_t)(stop - start));
    size_t blank = strspn(eol + 1, " ");
    ck_assert_uint_eq(blank, progress_text_width(drawn));
    ck_assert_int_eq(eol[1 + blank], '\r');
    free(drawn);
    const char *train_again = strstr(eol, "/3 [");
    ck_assert(train_again && train_again < rec);
    /* after the run: the standalone evaluation's bar stays, at 5/5 */
    const char *last = strrchr(text, '\r');
    ck_assert_ptr_nonnull(strstr(last, "| 5/5 ["));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(text);
    test_rmtree(d);
    free(d);
    world_free(&w);
}
END_TEST

Suite *progress_suite(void)
{
    Suite *s = suite_create("progress");
    TCase *tp = tcase_create("progress");
    tcase_add_test(tp, progress_formats_like_tqdm);
    tcase_add_test(tp, progress_units_like_tqdm);
    tcase_add_test(tp, python_reprs);
    tcase_add_test(tp, progress_bar_draws_in_place);
    tcase_add_test(tp, output_follows_disable_tqdm);
    tcase_add_test(tp, eval_bar_takes_the_line);
    tcase_add_test(tp, callback_and_bar_together);
    tcase_add_test(tp, eval_bar_on_a_terminal);
    suite_add_tcase(s, tp);
    return s;
}
