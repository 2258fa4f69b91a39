/*
** fusion.c — weighted reciprocal rank fusion. Each distinct key gets a dense
** index in order of first appearance (lists scanned in order, each best
** first) through the key -> index map of internal.h; contributions
** w / (k + r + 1) are summed per key, and a sort by (score desc, first-seen
** asc) gives a deterministic order. Scratch is sized from the total input.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/fusion.h"
#include "internal.h"

typedef struct fused {
    double score;
    size_t first;   /* first-seen index, the tie-breaker */
} fused;

/* Orders by score descending, then first-seen ascending. */
static int cmp_fused(const void *a, const void *b) {
    const fused *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

/* Fuses the lists; see fusion.h. Returns ASTRO_OK or a negative code. */
int astro_rrf_fuse(const astro_ranked *lists, size_t nlists, double k,
                   uint64_t *out_keys, double *out_scores, size_t cap, size_t *n_out,
                   astro_err *err) {
    size_t total = 0;
    if (n_out) *n_out = 0;
    if (!n_out) return astro_err_set(err, ASTRO_EINVAL, "rrf: n_out is NULL");
    if (!lists && nlists) return astro_err_set(err, ASTRO_EINVAL, "rrf: lists is NULL");
    if (!out_keys && cap) return astro_err_set(err, ASTRO_EINVAL, "rrf: out_keys is NULL");
    if (!(k >= 0) || !isfinite(k))
        return astro_err_set(err, ASTRO_EINVAL, "rrf: k must be finite and >= 0");
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if (isnan(w) || w < 0) return astro_err_set(err, ASTRO_EINVAL, "weight of list %zu is negative", i);
        if (!isfinite(w)) return astro_err_set(err, ASTRO_EINVAL, "weight of list %zu is not finite", i);
        if (w == 0) continue;
        if (!lists[i].keys && lists[i].n)
            return astro_err_set(err, ASTRO_EINVAL, "rrf: keys of list %zu is NULL", i);
        if (lists[i].n > SIZE_MAX - total) return astro_err_set(err, ASTRO_ERANGE, "rrf: input too large");
        total += lists[i].n;
    }
    if (total == 0) return ASTRO_OK;
    if (total >= ASTRO__IDX_EMPTY) return astro_err_set(err, ASTRO_ERANGE, "rrf: input too large");

    int rc = ASTRO_ENOMEM;
    astro__idxmap map = { NULL, 0, 0 };
    uint64_t *ukeys = malloc(total * sizeof *ukeys);
    fused *acc = malloc(total * sizeof *acc);
    /* The map is empty, so reserve never needs to read keys. */
    if (!ukeys || !acc || astro__idxmap_reserve(&map, total, NULL)) goto done;

    size_t nu = 0;
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if (w == 0) continue;
        for (size_t r = 0; r < lists[i].n; r++) {
            uint64_t key = lists[i].keys[r];
            size_t pos = astro__idxmap_find(&map, ukeys, key);
            size_t u;
            if (pos == SIZE_MAX) {
                u = nu++;
                ukeys[u] = key;
                acc[u].score = 0;
                acc[u].first = u;
                astro__idxmap_insert(&map, ukeys, key, (uint32_t)u);
            } else {
                u = map.slots[pos];
            }
            acc[u].score += w / (k + (double)r + 1.0);
        }
    }
    qsort(acc, nu, sizeof *acc, cmp_fused);
    size_t nw = nu < cap ? nu : cap;
    for (size_t i = 0; i < nw; i++) {
        out_keys[i] = ukeys[acc[i].first];
        if (out_scores) out_scores[i] = acc[i].score;
    }
    *n_out = nw;
    rc = ASTRO_OK;
done:
    astro__idxmap_free(&map);
    free(ukeys);
    free(acc);
    if (rc) return astro_err_set(err, rc, "rrf: out of memory");
    return ASTRO_OK;
}
