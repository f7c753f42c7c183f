/* The AdamW parameter comparison of the training parity tests (see
 * adam_bound.h; the error model is at the top of tests/test_train.c). */
#include "adam_bound.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

/* float32's unit roundoff */
#define U32 (1.0 / 16777216.0)

double test_rel_l2(const float *a, const float *b, size_t n, double *max_abs)
{
    double num = 0, den = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
        if (!(fabs(d) <= mx))
            mx = isnan(d) ? INFINITY : fabs(d);
    }
    if (max_abs)
        *max_abs = mx;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* AdamW's update r = m̂/(√v̂ + ε) at step t as weights over the clipped
 * gradients of steps 1..t (see the top): R bounds |r|, and K·E/(√v̂ + ε)
 * bounds how far gradients E apart move r. */
void adam_sensitivity(double b1, double b2, int t, double *R, double *K)
{
    double r2 = 0, bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    for (int k = 1; k <= t; k++) {
        double a = (1 - b1) * pow(b1, t - k) / bc1, b = (1 - b2) * pow(b2, t - k) / bc2;
        r2 += a * a / b;
    }
    *R = sqrt(r2);
    *K = 0;
    for (int k = 1; k <= t; k++) {
        double a = (1 - b1) * pow(b1, t - k) / bc1, b = (1 - b2) * pow(b2, t - k) / bc2;
        *K += a + *R * sqrt(b);
    }
}

void adam_bound_init(adam_bound *ab, size_t n, double b1, double b2, double eps)
{
    ab->b1 = b1;
    ab->b2 = b2;
    ab->eps = eps;
    ab->n = n;
    ab->v_ref = calloc(n, sizeof *ab->v_ref);
    ab->e_max = calloc(n, sizeof *ab->e_max);
    ab->tol = calloc(n, sizeof *ab->tol);
    ck_assert(ab->v_ref && ab->e_max && ab->tol);
}

void adam_bound_free(adam_bound *ab)
{
    free(ab->v_ref);
    free(ab->e_max);
    free(ab->tol);
}

/* Step t of one tensor (elements [off, off + numel) of the flat vectors):
 * advances the bound with our clipped gradient g, the reference's g_ref
 * clipped by coef_ref, and checks our parameters p against p_ref. lr_max:
 * the schedule's peak, the scale of the report. */
void adam_bound_step(adam_bound *ab, const char *name, int t, double lr,
                            double lr_max, const param_desc *pd, size_t off, const float *g, const float *g_ref,
                            double coef_ref, const float *p, const float *p_ref, adam_report *rep)
{
    double R, K;
    adam_sensitivity(ab->b1, ab->b2, t, &R, &K);
    double bc2 = 1 - pow(ab->b2, t);
    float c32 = (float)coef_ref; /* torch scales by a float32 coefficient */
    for (size_t i = 0; i < pd->numel; i++) {
        size_t j = off + i;
        double gr = (double)c32 * g_ref[i];
        /* + 4u|ĝ*|: our reconstruction of torch's clipped gradient */
        double e = fabs((double)g[j] - gr) + 4 * U32 * fabs(gr);
        if (e > ab->e_max[j])
            ab->e_max[j] = (float)e;
        double E = ab->e_max[j];
        ab->v_ref[j] = (float)(ab->b2 * ab->v_ref[j] + (1 - ab->b2) * gr * gr);
        double s = sqrt(ab->v_ref[j] / bc2) * (1 - 4 * U32); /* v_ref rounded to float */
        double lipschitz = K * E / (fmax(0.0, s - E) + ab->eps);
        double dr = fmin(2 * R, lipschitz);
        ab->tol[j] += (float)(lr * dr + 2 * (3 * U32 * fabs(p_ref[i]) + 8 * U32 * lr * R));
        double d = fabs((double)p[j] - p_ref[i]);
        /* (not ck_assert_msg: Check marks every passing assertion with a
         * write to its parent, millions of them here) */
        if (!(d <= ab->tol[j]))
            ck_abort_msg("%s step %d: %s[%zu] = %.9g, reference %.9g: |Δ| %.3g > tolerance %.3g "
                         "(gradient %.6g vs %.6g, largest difference so far %.3g, √v̂* %.3g)",
                         name, t, pd->name, i, (double)p[j], (double)p_ref[i], d,
                         (double)ab->tol[j], (double)g[j], gr, E, s);
        rep->worst = fmax(rep->worst, d / ab->tol[j]);
        if (ab->tol[j] < 0.01 * lr_max) {
            rep->well_abs = fmax(rep->well_abs, d);
        } else {
            rep->loose++;
            rep->noise += lipschitz >= 2 * R;
        }
    }
}

