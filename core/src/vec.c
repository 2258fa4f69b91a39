/*
** vec.c — the unchecked float32 vector helpers of vec.h. astro_vec_dot runs
** the runtime-dispatched SIMD kernel (kernels.h); cosine and normalization
** accumulate in double so large finite inputs cannot overflow. Any alignment
** is accepted.
*/
#include <math.h>

#include "astro/kernels.h"
#include "astro/vec.h"

/* Returns the dot product of a[0..n) and b[0..n) with the best kernel. */
float astro_vec_dot(const float *a, const float *b, size_t n) {
    return n ? astro_kernels_best()->dot(a, b, n) : 0.0f;
}

/* Returns the cosine of a and b clamped to [-1,1]; 0 if either norm is 0.
 * Norms accumulate in double so large finite inputs cannot overflow. */
float astro_vec_cosine(const float *restrict a, const float *restrict b, size_t n) {
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (na == 0 || nb == 0) return 0.0f;
    double c = d / (sqrt(na) * sqrt(nb));
    if (c > 1) c = 1;
    if (c < -1) c = -1;
    return (float)c;
}

/* Returns ASTRO_OK if all of v[0..n) is finite; otherwise ASTRO_EINVAL naming
 * the first bad element. */
int astro_vec_check_finite(const float *v, size_t n, astro_err *err) {
    if (!v && n) return astro_err_set(err, ASTRO_EINVAL, "vector is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return astro_err_set(err, ASTRO_EINVAL, "element %zu is %s", i,
                                 isnan(v[i]) ? "NaN" : "infinite");
    }
    return ASTRO_OK;
}

/* Scales v to unit length; checks finiteness first so v is untouched on
 * error. The zero vector is left as is. */
int astro_vec_normalize(float *v, size_t n, astro_err *err) {
    int rc = astro_vec_check_finite(v, n, err);
    if (rc) return rc;
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss == 0) return ASTRO_OK;
    double inv = 1.0 / sqrt(ss);
    for (size_t i = 0; i < n; i++) v[i] = (float)(v[i] * inv);
    return ASTRO_OK;
}
