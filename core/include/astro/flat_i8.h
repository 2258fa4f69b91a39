/*
** flat_i8.h — the int8 flat vector index: exhaustive search over symmetric
** int8 codes (one scale per vector, kernels.h) followed by exact float32
** rescoring of the best k * rescore candidates.
**
** The index holds only the codes (dim rounded to 64 bytes per vector, in
** fixed-size blocks), a scale, the key, the item times and the key map: about
** 420 bytes per 384-d vector. It keeps no float copy; the exact rescoring
** reads the caller's own stored vectors through a fetch callback (rows, a
** memory-mapped file), so the float32 data is not resident twice. The int8
** pass reads a quarter of the bytes of a float scan, which is what makes it
** fast on memory-bound machines. Scores are exact cosine mapped to [0,1] as
** (1+cos)/2. Searches take a caller-owned context holding all per-query
** scratch, so any number of threads may search one index at once (with no
** concurrent writer) each with its own context.
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
/* Bytes held: code blocks, scales, keys, times, hash table, at capacity. */
size_t astro_flat_i8_bytes(const astro_flat_i8 *ix);

/* Creates a search context for ix with room for results up to k_max (it grows
 * on a larger k, the only allocation a search can make). */
int astro_flat_i8_ctx_new(const astro_flat_i8 *ix, size_t k_max, astro_flat_i8_ctx **out,
                          astro_err *err);
void astro_flat_i8_ctx_free(astro_flat_i8_ctx *ctx);

/* Returns key's stored float32 vector (dim floats, any length, unaligned is
 * fine): a pointer into the caller's storage, or buf (dim floats of scratch)
 * filled by the callback, or NULL when the caller has no vector for key. */
typedef const float *(*astro_flat_i8_fetch_fn)(void *user, uint64_t key, float *buf, size_t dim);

/**
 * Top-k search: int8 scan, then exact rescoring of k*rescore candidates.
 * @param[in]  ctx     scratch owned by the calling thread (required)
 * @param[in]  filter  may be NULL
 * @param[in]  fetch   the stored vectors, called once per candidate with user;
 *                     NULL returns the int8 estimates unrescored
 * @param[out] keys, scores  caller buffers of k entries, best first
 * @return number of results (<= k) or a negative ASTRO_E* code:
 *         ASTRO_ENOTFOUND when fetch has no vector for a candidate,
 *         ASTRO_EINVAL when a fetched vector is not finite.
 */
long astro_flat_i8_search(const astro_flat_i8 *ix, astro_flat_i8_ctx *ctx, const float *q, size_t dim,
                          size_t k, const astro_filter *filter, astro_flat_i8_fetch_fn fetch, void *user,
                          uint64_t *keys, float *scores, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
