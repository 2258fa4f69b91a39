/*
** vec.h — float32 vector kernels and the flat (exact) vector index.
**
** The flat index keeps every vector in one contiguous 64-byte-aligned array,
** addressed by a caller-chosen uint64 key (the engine uses store row ids, which
** are small and dense so an astro_keyset bitmap over them stays small).
** Removal swaps the last slot into the hole, so the array never has gaps.
** Search is exact top-k by dot product; stored vectors are L2-normalized on add,
** so the score is cosine similarity, reported mapped to [0,1] as (1+cos)/2.
*/
#ifndef ASTRO_VEC_H
#define ASTRO_VEC_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Dot product of a[0..n) and b[0..n). */
float astro_vec_dot(const float *a, const float *b, size_t n);

/* Cosine similarity in [-1,1]; 0 when either vector is all zeros. */
float astro_vec_cosine(const float *a, const float *b, size_t n);

/* Scales v[0..n) to unit L2 norm in place (no-op for the zero vector).
 * Returns ASTRO_EINVAL if any element is NaN or infinite. */
int astro_vec_normalize(float *v, size_t n, astro_err *err);

/* Returns ASTRO_OK if every element is finite, else ASTRO_EINVAL with the index. */
int astro_vec_check_finite(const float *v, size_t n, astro_err *err);

typedef struct astro_flat astro_flat;

/**
 * Creates an empty flat index for vectors of `dim` floats.
 * @param[in]  dim  vector dimension, 1..65536
 * @param[out] out  receives the index
 */
int astro_flat_new(size_t dim, astro_flat **out, astro_err *err);

/* Frees the index; NULL-safe. */
void astro_flat_free(astro_flat *ix);

/* Inserts or replaces (upsert) the vector for key. The vector is copied and
 * normalized. Fails with ASTRO_EINVAL on NaN/Inf; never half-inserts. */
int astro_flat_add(astro_flat *ix, uint64_t key, const float *vec, size_t dim,
                   const astro_item_times *times, astro_err *err);

/* Removes key. Returns 1 if it was present, 0 if not. */
int astro_flat_remove(astro_flat *ix, uint64_t key);

/* Returns 1 if key is present. */
int astro_flat_contains(const astro_flat *ix, uint64_t key);

/* Copies the stored (normalized) vector of key into out[0..dim). */
int astro_flat_get(const astro_flat *ix, uint64_t key, float *out, size_t dim, astro_err *err);

size_t astro_flat_count(const astro_flat *ix);
size_t astro_flat_dim(const astro_flat *ix);

/* Bytes held by the index (vectors, keys, times, hash table). */
size_t astro_flat_bytes(const astro_flat *ix);

/**
 * Exact top-k search. The query need not be normalized.
 * @param[in]  q       query vector of `dim` floats (must equal the index dim)
 * @param[in]  k       number of results wanted
 * @param[in]  filter  may be NULL
 * @param[out] keys    caller buffer of k keys, best first
 * @param[out] scores  caller buffer of k scores in [0,1], (1+cos)/2, descending
 * @return number of results written (<= k), or a negative ASTRO_E* code.
 * Ties are broken by smaller key first, so results are deterministic.
 */
long astro_flat_search(const astro_flat *ix, const float *q, size_t dim, size_t k,
                       const astro_filter *filter, uint64_t *keys, float *scores,
                       astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
