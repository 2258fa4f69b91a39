/*
** fusion.h — reciprocal rank fusion of ranked key lists.
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

#ifdef __cplusplus
}
#endif
#endif
