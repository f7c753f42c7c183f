/* The AdamW parameter comparison of the training parity tests
 * (test_train.c, test_t5_train.c): per element, a tolerance derived from
 * the gradients that made each step. The error model is written at the top
 * of tests/test_train.c ("Parameters after each AdamW step"). */
#ifndef MLM_TESTS_ADAM_BOUND_H
#define MLM_TESTS_ADAM_BOUND_H

#include <stddef.h>

#include "nn/model_impl.h"

/* ‖a − b‖ / ‖b‖ (‖a − b‖ when b = 0) and *max_abs = ‖a − b‖_∞ (may be
 * NULL), in double; NaN counts as infinitely far. */
double test_rel_l2(const float *a, const float *b, size_t n, double *max_abs);

/* Per element, what the parameter comparison carries from step to step:
 * the reference's second moment (unnormalised, as Adam keeps it), the
 * largest gradient difference so far, and the tolerance so far. */
typedef struct adam_bound {
    double b1, b2, eps;
    float *v_ref, *e_max, *tol;
    size_t n;
} adam_bound;

/* What one parameter comparison found. An element is well-conditioned
 * where its tolerance is below 1% of lr. */
typedef struct adam_report {
    double worst;       /* largest |p − p*| / tolerance */
    double well_abs;    /* largest |p − p*| of the well-conditioned elements */
    size_t loose;       /* elements whose tolerance is 1% of lr or more */
    size_t noise;       /* of those, the ones held only by |r − r*| < 2R */
} adam_report;

/* AdamW's update r = m̂/(√v̂ + ε) at step t as weights over the clipped
 * gradients of steps 1..t: R bounds |r|, and K·E/(√v̂ + ε) bounds how far
 * gradients E apart move r. */
void adam_sensitivity(double b1, double b2, int t, double *R, double *K);
void adam_bound_init(adam_bound *ab, size_t n, double b1, double b2, double eps);
void adam_bound_free(adam_bound *ab);
/* Step t of one tensor (elements [off, off + numel) of the flat vectors):
 * advances the bound with our clipped gradient g, the reference's g_ref
 * clipped by coef_ref (1: no clipping), and checks our parameters p
 * against p_ref (failing the test with the element named). lr_max: the
 * schedule's peak, the scale of the report. */
void adam_bound_step(adam_bound *ab, const char *name, int t, double lr, double lr_max,
                     const param_desc *pd, size_t off, const float *g, const float *g_ref,
                     double coef_ref, const float *p, const float *p_ref, adam_report *rep);

#endif
