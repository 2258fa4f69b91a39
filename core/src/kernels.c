/*
** kernels.c — runtime selection of the distance kernels, the portable scalar
** kernels, the checked astro_kern_* wrappers and symmetric int8 quantization.
** The SIMD tables live in kernels_x86.c, each function compiled with its own
** target attribute. Selection asks __builtin_cpu_supports on every call and
** stores nothing: callers (the indexes) keep the returned table pointer.
*/
#include <math.h>

#include "astro/kernels.h"
#include "internal.h"

/* Returns sum a[i]*b[i] with eight accumulators (vectorizable by the compiler
 * at the baseline ISA). */
static float scalar_dot(const float *restrict a, const float *restrict b, size_t n) {
    float s[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Returns sum (a[i]-b[i])^2. */
static float scalar_l2sq(const float *restrict a, const float *restrict b, size_t n) {
    float s[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++) {
            float d = a[i + j] - b[i + j];
            s[j] += d * d;
        }
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s[0] += d * d;
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Returns the exact integer dot product of two int8 vectors. */
static int32_t scalar_dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static const astro_kernels kernels_scalar = {
    ASTRO_ISA_SCALAR, "scalar", scalar_dot, scalar_l2sq, scalar_dot_i8
};

/* Returns the widest ISA of this CPU; a pure function of the hardware. */
astro_isa astro_cpu_isa(void) {
#if ASTRO__X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        return ASTRO_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ASTRO_ISA_AVX2;
    return ASTRO_ISA_SSE2;
#else
    return ASTRO_ISA_SCALAR;
#endif
}

/* Returns the table for isa if the CPU has it, else NULL. */
const astro_kernels *astro_kernels_get(astro_isa isa) {
    if (isa > astro_cpu_isa()) return NULL;
    switch (isa) {
    case ASTRO_ISA_SCALAR: return &kernels_scalar;
#if ASTRO__X86
    case ASTRO_ISA_SSE2: return &astro__kernels_sse2;
    case ASTRO_ISA_AVX2: return &astro__kernels_avx2;
    case ASTRO_ISA_AVX512: return &astro__kernels_avx512;
#endif
    default: return NULL;
    }
}

/* Returns the best table for this CPU. */
const astro_kernels *astro_kernels_best(void) {
    const astro_kernels *k = astro_kernels_get(astro_cpu_isa());
    return k ? k : &kernels_scalar;
}

/* The checks of a float kernel call: out non-NULL, a and b non-NULL and
 * finite; *k resolved to the best kernels when NULL. Returns ASTRO_OK or the
 * error. */
static int check_pair(const astro_kernels **k, const float *a, const float *b, size_t n, const float *out,
                      astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "kernel: out is NULL");
    if ((!a || !b) && n) return astro_err_set(err, ASTRO_EINVAL, "kernel: NULL vector");
    int rc = astro_vec_check_finite(a, n, err);
    if (rc == ASTRO_OK) rc = astro_vec_check_finite(b, n, err);
    if (!*k) *k = astro_kernels_best();
    return rc;
}

/* Checked dot product; see kernels.h. */
int astro_kern_dot(const astro_kernels *k, const float *a, const float *b, size_t n,
                   float *out, astro_err *err) {
    int rc = check_pair(&k, a, b, n, out, err);
    if (rc) return rc;
    *out = n ? k->dot(a, b, n) : 0.0f;
    return ASTRO_OK;
}

/* Checked squared L2 distance; see kernels.h. */
int astro_kern_l2sq(const astro_kernels *k, const float *a, const float *b, size_t n,
                    float *out, astro_err *err) {
    int rc = check_pair(&k, a, b, n, out, err);
    if (rc) return rc;
    *out = n ? k->l2sq(a, b, n) : 0.0f;
    return ASTRO_OK;
}

/* Checked cosine built from three dot products, clamped to [-1,1]. */
int astro_kern_cosine(const astro_kernels *k, const float *a, const float *b, size_t n,
                      float *out, astro_err *err) {
    int rc = check_pair(&k, a, b, n, out, err);
    if (rc) return rc;
    *out = 0.0f;
    if (!n) return ASTRO_OK;
    double ab = k->dot(a, b, n), aa = k->dot(a, a, n), bb = k->dot(b, b, n);
    if (!(aa > 0) || !(bb > 0) || !isfinite(aa) || !isfinite(bb)) {
        /* zero vectors, or norms overflowing float: fall back to double */
        double d = 0, na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            d += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        if (na == 0 || nb == 0) return ASTRO_OK;
        ab = d, aa = na, bb = nb;
    }
    double c = ab / (sqrt(aa) * sqrt(bb));
    *out = (float)(c > 1 ? 1 : c < -1 ? -1 : c);
    return ASTRO_OK;
}

/* Checked int8 dot product; see kernels.h. */
int astro_kern_dot_i8(const astro_kernels *k, const int8_t *a, const int8_t *b, size_t n,
                      int32_t *out, astro_err *err) {
    if (!out || ((!a || !b) && n)) return astro_err_set(err, ASTRO_EINVAL, "kernel: NULL argument");
    if (n > 131072) return astro_err_set(err, ASTRO_ERANGE, "kernel: int8 length %zu > 131072", n);
    if (!k) k = astro_kernels_best();
    *out = n ? k->dot_i8(a, b, n) : 0;
    return ASTRO_OK;
}

/* Quantizes v symmetrically to int8 with one scale; see kernels.h. */
int astro_quant_i8(const float *v, size_t n, int8_t *out, float *scale, astro_err *err) {
    if (!scale || ((!v || !out) && n)) return astro_err_set(err, ASTRO_EINVAL, "quant: NULL argument");
    int rc = astro_vec_check_finite(v, n, err);
    if (rc) return rc;
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    *scale = m / 127.0f;
    float inv = m > 0 ? 127.0f / m : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float x = nearbyintf(v[i] * inv);
        out[i] = (int8_t)(x > 127 ? 127 : x < -127 ? -127 : x);
    }
    return ASTRO_OK;
}
