/*
** test_vec.c — float kernels against double-precision scalar references over
** a sweep of lengths (0, 1, odd sizes, 4097) and unaligned pointers, plus the
** NaN/Inf rules of normalize and check_finite.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "astro/vec.h"
#include "check.h"

static float bufa[4200], bufb[4200];

int main(void) {
    uint64_t seed = 42;
    const size_t lens[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 384, 1023, 4097 };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        for (size_t shift = 0; shift < 3; shift++) {   /* unaligned starts */
            float *a = bufa + shift, *b = bufb + 2 * shift;
            for (size_t i = 0; i < n; i++) { a[i] = rnd(&seed); b[i] = rnd(&seed); }
            double d = 0, na = 0, nb = 0, sabs = 0;
            for (size_t i = 0; i < n; i++) {
                d += (double)a[i] * b[i];
                na += (double)a[i] * a[i];
                nb += (double)b[i] * b[i];
                sabs += fabs((double)a[i] * b[i]);
            }
            CHECK("vec-1.0", fabs(astro_vec_dot(a, b, n) - d) <= 1e-6 * (sabs + 1));
            double c = (na == 0 || nb == 0) ? 0 : d / sqrt(na * nb);
            CHECK("vec-1.1", fabs(astro_vec_cosine(a, b, n) - c) <= 1e-5);
            CHECK("vec-1.2", astro_vec_normalize(a, n, NULL) == ASTRO_OK);
            double nn = 0;
            for (size_t i = 0; i < n; i++) nn += (double)a[i] * a[i];
            CHECK("vec-1.3", n == 0 || fabs(nn - 1.0) < 1e-5);
        }
    }
    /* Hand values. */
    {
        float a[3] = { 1, 2, 3 }, b[3] = { 4, -5, 6 }, z[3] = { 0, 0, 0 };
        CHECK("vec-2.0", astro_vec_dot(a, b, 3) == 12.0f);
        CHECK("vec-2.1", astro_vec_cosine(a, z, 3) == 0.0f && astro_vec_cosine(z, z, 3) == 0.0f);
        CHECK("vec-2.2", fabsf(astro_vec_cosine(a, a, 3) - 1.0f) < 1e-6f);
        float m[2] = { -3, 4 };
        CHECK("vec-2.3", astro_vec_normalize(m, 2, NULL) == ASTRO_OK && m[0] == -0.6f && m[1] == 0.8f);
        CHECK("vec-2.4", astro_vec_normalize(z, 3, NULL) == ASTRO_OK && z[0] == 0 && z[2] == 0);
        float big[2] = { 3e38f, 3e38f };   /* squares overflow float */
        CHECK("vec-2.5", astro_vec_normalize(big, 2, NULL) == ASTRO_OK && fabsf(big[0] - 0.70710678f) < 1e-6f);
        float neg[2] = { 1, 0 }, opp[2] = { -1, 0 };
        CHECK("vec-2.6", astro_vec_cosine(neg, opp, 2) == -1.0f);
    }
    /* NaN / Inf. */
    {
        float v[20];
        for (int i = 0; i < 20; i++) v[i] = (float)i;
        astro_err err;
        CHECK("vec-3.0", astro_vec_check_finite(v, 20, &err) == ASTRO_OK);
        v[17] = NAN;
        CHECK("vec-3.1", astro_vec_check_finite(v, 20, &err) == ASTRO_EINVAL);
        CHECK("vec-3.2", err.code == ASTRO_EINVAL && strcmp(err.msg, "element 17 is NaN") == 0);
        CHECK("vec-3.3", astro_vec_normalize(v, 20, &err) == ASTRO_EINVAL && v[3] == 3.0f);
        v[17] = 1;
        v[0] = -INFINITY;
        CHECK("vec-3.4", astro_vec_check_finite(v, 20, &err) == ASTRO_EINVAL && strstr(err.msg, "element 0") != NULL);
        CHECK("vec-3.5", astro_vec_normalize(v, 20, NULL) == ASTRO_EINVAL && v[1] == 1.0f);
        CHECK("vec-3.6", astro_vec_check_finite(v, 0, NULL) == ASTRO_OK);
    }
    /* astro_err_set truncates safely and tolerates NULL. */
    {
        astro_err err;
        char longmsg[300];
        memset(longmsg, 'x', 299);
        longmsg[299] = '\0';
        CHECK("err-1.0", astro_err_set(&err, ASTRO_ERANGE, "%s", longmsg) == ASTRO_ERANGE);
        CHECK("err-1.1", err.code == ASTRO_ERANGE && strlen(err.msg) == sizeof err.msg - 1);
        CHECK("err-1.2", astro_err_set(NULL, ASTRO_EIO, "x %d", 1) == ASTRO_EIO);
        CHECK("err-1.3", astro_err_set(&err, ASTRO_EIO, NULL) == ASTRO_EIO && err.msg[0] == '\0');
        astro_filter f;
        astro_filter_init(&f);
        CHECK("err-1.4", f.allow == NULL && f.time_from == ASTRO_TIME_NONE &&
                             f.time_to == ASTRO_TIME_NONE && f.as_of == ASTRO_TIME_NONE);
        astro_filter_init(NULL);
    }
    return check_report("test_vec");
}
