/*
** test_kernels.c — every dispatched kernel table this CPU runs (scalar, SSE2,
** AVX2, AVX-512) against a double-precision scalar reference: dot, L2², cosine
** and int8 dot over many odd sizes, D=1 and D=4097, with inputs shifted off
** alignment; NaN/Inf rejected by the checked wrappers; int8 quantization
** bounds and round trip.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro/kernels.h"
#include "check.h"

/* Returns 1 when got is within a relative float tolerance of want, scaled by
 * the sum of absolute products (the conditioning of the sum). */
static int close_to(double got, double want, double absmag) {
    return fabs(got - want) <= 1e-5 * absmag + 1e-6;
}

/* Checks one kernel table at size n with the given misalignments (floats). */
static void check_size(const astro_kernels *k, size_t n, size_t offa, size_t offb, uint64_t *seed) {
    float *ba = malloc((n + 8) * sizeof(float)), *bb = malloc((n + 8) * sizeof(float));
    int8_t *ia = malloc(n + 8), *ib = malloc(n + 8);
    float *a = ba + offa, *b = bb + offb;
    int8_t *qa = ia + offa, *qb = ib + offb;
    double dot = 0, l2 = 0, mag = 0, na = 0, nb = 0;
    int64_t idot = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = rnd(seed) * 3.0f;
        b[i] = rnd(seed) * 3.0f;
        qa[i] = (int8_t)(rnd(seed) * 127.0f);
        qb[i] = (int8_t)(rnd(seed) * 127.0f);
        if (i % 97 == 0) { qa[i] = -127; qb[i] = -127; }   /* extremes */
        dot += (double)a[i] * b[i];
        mag += fabs((double)a[i] * b[i]);
        l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        idot += (int64_t)qa[i] * qb[i];
    }
    float f = 0;
    int32_t i32 = 0;
    astro_err err;
    CHECK("kern-1.0", astro_kern_dot(k, a, b, n, &f, &err) == ASTRO_OK && close_to(f, dot, mag));
    CHECK("kern-1.1", k->dot(a, b, n) == f);
    CHECK("kern-1.2", astro_kern_l2sq(k, a, b, n, &f, &err) == ASTRO_OK && close_to(f, l2, l2));
    CHECK("kern-1.3", astro_kern_cosine(k, a, b, n, &f, &err) == ASTRO_OK &&
                          close_to(f, dot / (sqrt(na) * sqrt(nb)), 1.0));
    CHECK("kern-1.4", astro_kern_dot_i8(k, qa, qb, n, &i32, &err) == ASTRO_OK && i32 == idot);
    if (failures) fprintf(stderr, "  (isa %s, n %zu, off %zu/%zu)\n", k->name, n, offa, offb);
    free(ba);
    free(bb);
    free(ia);
    free(ib);
}

/* Sweeps sizes 1..80 (every tail length of every ISA), a few large odd
 * sizes and 4097, each aligned and unaligned. */
static void check_table(const astro_kernels *k) {
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    static const size_t big[] = { 95, 127, 129, 255, 383, 384, 385, 1023, 1536, 4097 };
    for (size_t n = 1; n <= 80; n++) {
        check_size(k, n, 0, 0, &seed);
        check_size(k, n, 1, 3, &seed);
    }
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        check_size(k, big[i], 0, 0, &seed);
        check_size(k, big[i], 1, 0, &seed);
        check_size(k, big[i], 5, 7, &seed);
    }
}

/* NaN and Inf in either input are rejected with ASTRO_EINVAL. */
static void check_nonfinite(void) {
    float a[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, b[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    float out = 42;
    astro_err err;
    b[4] = NAN;
    CHECK("kern-2.0", astro_kern_dot(NULL, a, b, 9, &out, &err) == ASTRO_EINVAL && out == 42);
    CHECK("kern-2.1", strstr(err.msg, "NaN") != NULL);
    b[4] = INFINITY;
    CHECK("kern-2.2", astro_kern_l2sq(NULL, a, b, 9, &out, &err) == ASTRO_EINVAL);
    CHECK("kern-2.3", strstr(err.msg, "infinite") != NULL);
    b[4] = 1;
    a[8] = -INFINITY;
    CHECK("kern-2.4", astro_kern_cosine(NULL, a, b, 9, &out, &err) == ASTRO_EINVAL);
    int8_t q[9];
    float scale;
    CHECK("kern-2.5", astro_quant_i8(a, 9, q, &scale, &err) == ASTRO_EINVAL);
    CHECK("kern-2.6", astro_kern_dot(NULL, NULL, b, 9, &out, &err) == ASTRO_EINVAL);
    a[8] = 9;
    float z[3] = { 0, 0, 0 };
    CHECK("kern-2.7", astro_kern_cosine(NULL, z, b, 3, &out, &err) == ASTRO_OK && out == 0);
}

/* Quantization keeps values in [-127,127] and reconstructs within scale/2. */
static void check_quant(void) {
    uint64_t seed = 7;
    float v[301];
    int8_t q[301];
    float scale = 0;
    astro_err err;
    for (size_t i = 0; i < 301; i++) v[i] = rnd(&seed) * 0.3f;
    v[17] = -0.9f;
    CHECK("kern-3.0", astro_quant_i8(v, 301, q, &scale, &err) == ASTRO_OK);
    CHECK("kern-3.1", fabsf(scale - 0.9f / 127.0f) < 1e-9f);
    CHECK("kern-3.2", q[17] == -127);
    int ok = 1;
    for (size_t i = 0; i < 301; i++)
        ok &= q[i] >= -127 && fabsf(q[i] * scale - v[i]) <= scale * 0.5f + 1e-7f;
    CHECK("kern-3.3", ok);
    float z[4] = { 0 };
    CHECK("kern-3.4", astro_quant_i8(z, 4, q, &scale, &err) == ASTRO_OK && scale == 0 && q[0] == 0);
}

int main(void) {
    int tables = 0;
    CHECK("kern-0.0", astro_kernels_best() != NULL);
    CHECK("kern-0.1", astro_kernels_best()->isa == astro_cpu_isa());
    CHECK("kern-0.2", astro_kernels_get(ASTRO_ISA_SCALAR) != NULL);
    for (int isa = ASTRO_ISA_SCALAR; isa <= ASTRO_ISA_AVX512; isa++) {
        const astro_kernels *k = astro_kernels_get((astro_isa)isa);
        if (!k) continue;
        CHECK("kern-0.3", (int)k->isa == isa);
        check_table(k);
        tables++;
    }
    check_nonfinite();
    check_quant();
    printf("kernels: %d tables checked (best: %s), %s\n", tables, astro_kernels_best()->name,
           failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
