/*
** flat_i8.h — the int8 flat vector index: exhaustive search over symmetric
** int8 codes (one scale per vector, kernels.h) followed by exact float32
** rescoring of the best k * rescore candidates.
**
** Vectors are normalized on add (like astro_flat), quantized into one
** contiguous 64-byte-aligned code array and also kept as float32 for the
** rescoring step. The int8 pass reads a quarter of the bytes of a float scan,
** which is what makes it fast on memory-bound machines. Scores are exact
** cosine mapped to [0,1] as (1+cos)/2. Searches take a caller-owned context
** holding all per-query scratch, so any number of threads may search one
** index at once (with no concurrent writer) each with its own context.
*/
#ifndef ASTRO_FLAT_I8_H
#define ASTRO_FLAT_I8_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_flat_i8 astro_flat_i8;
typedef struct astro_flat_i8_ctx astro_flat_i8_ctx;

/* Creates an empty index of dimension dim (1..65536). rescore is the
 * candidate multiple (0 = 4): the int8 pass keeps k*rescore candidates. */
int astro_flat_i8_new(size_t dim, size_t rescore, astro_flat_i8 **out, astro_err *err);
void astro_flat_i8_free(astro_flat_i8 *ix);

/* Upserts key's vector (copied, normalized, quantized). ASTRO_EINVAL on
 * NaN/Inf, ASTRO_EDIM on a wrong dim; the index is unchanged on error. */
int astro_flat_i8_add(astro_flat_i8 *ix, uint64_t key, const float *vec, size_t dim,
                      const astro_item_times *times, astro_err *err);
/* Removes key; returns 1 if it was present. */
int astro_flat_i8_remove(astro_flat_i8 *ix, uint64_t key);
int astro_flat_i8_contains(const astro_flat_i8 *ix, uint64_t key);
size_t astro_flat_i8_count(const astro_flat_i8 *ix);
size_t astro_flat_i8_dim(const astro_flat_i8 *ix);
/* Bytes held: codes, scales, float copies, keys, times, hash table. */
size_t astro_flat_i8_bytes(const astro_flat_i8 *ix);

/* Creates a search context for ix with room for results up to k_max (it grows
 * on a larger k, the only allocation a search can make). */
int astro_flat_i8_ctx_new(const astro_flat_i8 *ix, size_t k_max, astro_flat_i8_ctx **out,
                          astro_err *err);
void astro_flat_i8_ctx_free(astro_flat_i8_ctx *ctx);

/**
 * Top-k search: int8 scan, then exact rescoring of k*rescore candidates.
 * @param[in]  ctx     scratch owned by the calling thread (required)
 * @param[in]  filter  may be NULL
 * @param[out] keys, scores  caller buffers of k entries, best first
 * @return number of results (<= k) or a negative ASTRO_E* code.
 */
long astro_flat_i8_search(const astro_flat_i8 *ix, astro_flat_i8_ctx *ctx, const float *q,
                          size_t dim, size_t k, const astro_filter *filter, uint64_t *keys,
                          float *scores, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
