/*
** fusion.h — fusion of ranked key lists: reciprocal rank fusion, weighted
** score fusion, and maximal marginal relevance (MMR) re-ranking.
**
** Weighted RRF as in the reference: an item at 0-based rank r of a list with
** weight w contributes w / (k + r + 1). Lists with weight 0 are skipped; a
** negative weight is an error.
*/
#ifndef ASTRO_FUSION_H
#define ASTRO_FUSION_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_ranked {
    const uint64_t *keys;   /* best first */
    size_t n;
    double weight;
} astro_ranked;

/* Fuses `nlists` lists; writes up to cap (key, score) pairs sorted by fused
 * score descending (ties: first seen across lists in order). Sets *n_out to the
 * number of distinct keys written. Allocates scratch proportional to the total
 * input size. */
int astro_rrf_fuse(const astro_ranked *lists, size_t nlists, double k,
                   uint64_t *out_keys, double *out_scores, size_t cap, size_t *n_out,
                   astro_err *err);

/* A list of keys with scores (higher is better), for score fusion. */
typedef struct astro_scored {
    const uint64_t *keys;
    const float *scores;
    size_t n;
    double weight;
} astro_scored;

/* Weighted score fusion: each list's scores are min-max normalized to [0,1]
 * (a list whose scores are all equal maps them to 1), a key's fused score is
 * sum over lists of weight * normalized score (0 where absent). Output order
 * and tie-breaking, weights, n_out and errors as for astro_rrf_fuse; NaN
 * scores are rejected. Infinite scores normalize to 1 (+inf) and 0 (-inf)
 * and take no part in the min-max range of the others. */
int astro_score_fuse(const astro_scored *lists, size_t nlists, uint64_t *out_keys,
                     double *out_scores, size_t cap, size_t *n_out, astro_err *err);

/* Maximal marginal relevance: greedily picks k of n candidates, each time the
 * one maximizing lambda * rel[i] - (1 - lambda) * max cos(v_i, v_selected)
 * (ties: lower index). Candidate i's vector is vecs[i*stride .. +dim).
 * work is caller scratch of 2*n doubles (nothing is allocated). Writes the
 * chosen candidate indices in pick order to out_idx and their count to
 * *n_out. lambda must be in [0,1]. */
int astro_mmr(const float *vecs, size_t n, size_t dim, size_t stride, const double *rel,
              double lambda, size_t k, double *work, size_t *out_idx, size_t *n_out,
              astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
