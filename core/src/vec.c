/*
** vec.c — scalar float32 kernels. Written so gcc can vectorize them without
** -ffast-math: eight independent accumulators break the serial add chain, and
** restrict tells the compiler inputs do not alias. Any alignment is accepted;
** SIMD-specific kernels can replace these later behind the same signatures.
*/
#include <math.h>

#include "astro/vec.h"

/* Returns the dot product of a[0..n) and b[0..n). */
float astro_vec_dot(const float *restrict a, const float *restrict b, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
        s4 += a[i + 4] * b[i + 4];
        s5 += a[i + 5] * b[i + 5];
        s6 += a[i + 6] * b[i + 6];
        s7 += a[i + 7] * b[i + 7];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
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
