/*
** kernels.h — SIMD distance kernels with runtime CPU dispatch, and symmetric
** int8 quantization.
**
** Each instruction set has one const table of kernel function pointers
** (scalar, SSE2, AVX2+FMA, AVX-512). astro_kernels_best() picks the widest
** table the running CPU supports through __builtin_cpu_supports, so the
** library needs no -march flag. The result is not cached in any global:
** indexes call it once in their _new and keep the pointer. The raw kernels
** (k->dot etc.) trust their inputs; the astro_kern_* wrappers check for NULL
** and reject NaN/Inf with ASTRO_EINVAL. Inputs may have any alignment.
*/
#ifndef ASTRO_KERNELS_H
#define ASTRO_KERNELS_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum astro_isa {
    ASTRO_ISA_SCALAR = 0,
    ASTRO_ISA_SSE2 = 1,
    ASTRO_ISA_AVX2 = 2,      /* AVX2 + FMA */
    ASTRO_ISA_AVX512 = 3     /* AVX-512 F + BW */
} astro_isa;

typedef float (*astro_kern_f32_fn)(const float *a, const float *b, size_t n);
typedef int32_t (*astro_kern_i8_fn)(const int8_t *a, const int8_t *b, size_t n);

/* One instruction set's kernels. dot_i8 needs n <= 131072 so the int32 sum of
 * products of values in [-127,127] cannot overflow. */
typedef struct astro_kernels {
    astro_isa isa;
    const char *name;
    astro_kern_f32_fn dot;      /* sum a[i]*b[i] */
    astro_kern_f32_fn l2sq;     /* sum (a[i]-b[i])^2 */
    astro_kern_i8_fn dot_i8;    /* exact integer dot product */
} astro_kernels;

/* Returns the widest instruction set this CPU supports. */
astro_isa astro_cpu_isa(void);

/* Returns the kernel table of isa, or NULL if this CPU (or build) lacks it. */
const astro_kernels *astro_kernels_get(astro_isa isa);

/* Returns the table of astro_cpu_isa(); never NULL. */
const astro_kernels *astro_kernels_best(void);

/* Checked kernels: k NULL means astro_kernels_best(). Write the result to
 * *out and return ASTRO_OK, or ASTRO_EINVAL on NULL input or NaN/Inf. */
int astro_kern_dot(const astro_kernels *k, const float *a, const float *b, size_t n,
                   float *out, astro_err *err);
int astro_kern_l2sq(const astro_kernels *k, const float *a, const float *b, size_t n,
                    float *out, astro_err *err);
/* Cosine in [-1,1]; 0 when either vector is all zeros. */
int astro_kern_cosine(const astro_kernels *k, const float *a, const float *b, size_t n,
                      float *out, astro_err *err);
/* ASTRO_ERANGE when n > 131072. */
int astro_kern_dot_i8(const astro_kernels *k, const int8_t *a, const int8_t *b, size_t n,
                      int32_t *out, astro_err *err);

/* Symmetric int8 quantization: scale = max|v| / 127, out[i] = round(v[i]/scale)
 * in [-127,127], so v[i] ~ out[i] * scale. The zero vector gets scale 0.
 * ASTRO_EINVAL on NaN/Inf (out untouched). */
int astro_quant_i8(const float *v, size_t n, int8_t *out, float *scale, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
