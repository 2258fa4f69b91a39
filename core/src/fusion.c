/*
** fusion.c — weighted reciprocal rank fusion. Each distinct key gets a dense
** index in order of first appearance (lists scanned in order, each best
** first) through the key -> index map of internal.h; contributions
** w / (k + r + 1) are summed per key, and a sort by (score desc, first-seen
** asc) gives a deterministic order. Scratch is sized from the total input.
** Weighted score fusion shares that machinery with min-max normalized scores
** as contributions. MMR works in caller-provided scratch with the dispatched
** dot kernel.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/fusion.h"
#include "astro/kernels.h"
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

/* Min-max normalizes x into [0, 1] over the finite range [lo, hi] of its
 * list (lo > hi when the list has no finite score): +inf is 1, -inf is 0, a
 * list whose finite scores are all equal maps them to 1. Infinities stay
 * out of the range, which would otherwise be infinite and make every score
 * NaN. */
static double normalize(float x, double lo, double hi) {
    if (x == INFINITY) return 1.0;
    if (x == -INFINITY) return 0.0;
    return hi > lo ? ((double)x - lo) / (hi - lo) : 1.0;
}

/* Fuses scored lists; see fusion.h. */
int astro_score_fuse(const astro_scored *lists, size_t nlists, uint64_t *out_keys,
                     double *out_scores, size_t cap, size_t *n_out, astro_err *err) {
    size_t total = 0;
    if (n_out) *n_out = 0;
    if (!n_out) return astro_err_set(err, ASTRO_EINVAL, "fuse: n_out is NULL");
    if (!lists && nlists) return astro_err_set(err, ASTRO_EINVAL, "fuse: lists is NULL");
    if (!out_keys && cap) return astro_err_set(err, ASTRO_EINVAL, "fuse: out_keys is NULL");
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if (isnan(w) || w < 0) return astro_err_set(err, ASTRO_EINVAL, "weight of list %zu is negative", i);
        if (!isfinite(w)) return astro_err_set(err, ASTRO_EINVAL, "weight of list %zu is not finite", i);
        if (w == 0) continue;
        if ((!lists[i].keys || !lists[i].scores) && lists[i].n)
            return astro_err_set(err, ASTRO_EINVAL, "fuse: keys or scores of list %zu is NULL", i);
        for (size_t r = 0; r < lists[i].n; r++)
            if (isnan(lists[i].scores[r])) return astro_err_set(err, ASTRO_EINVAL, "fuse: NaN score in list %zu", i);
        if (lists[i].n > SIZE_MAX - total) return astro_err_set(err, ASTRO_ERANGE, "fuse: input too large");
        total += lists[i].n;
    }
    if (total == 0) return ASTRO_OK;
    if (total >= ASTRO__IDX_EMPTY) return astro_err_set(err, ASTRO_ERANGE, "fuse: input too large");
    int rc = ASTRO_ENOMEM;
    astro__idxmap map = { NULL, 0, 0 };
    uint64_t *ukeys = malloc(total * sizeof *ukeys);
    fused *acc = malloc(total * sizeof *acc);
    if (!ukeys || !acc || astro__idxmap_reserve(&map, total, NULL)) goto done;
    size_t nu = 0;
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if (w == 0 || lists[i].n == 0) continue;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t r = 0; r < lists[i].n; r++) {
            double x = lists[i].scores[r];
            if (!isfinite(x)) continue;
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        for (size_t r = 0; r < lists[i].n; r++) {
            uint64_t key = lists[i].keys[r];
            size_t pos = astro__idxmap_find(&map, ukeys, key), u;
            if (pos == SIZE_MAX) {
                u = nu++;
                ukeys[u] = key;
                acc[u].score = 0;
                acc[u].first = u;
                astro__idxmap_insert(&map, ukeys, key, (uint32_t)u);
            } else {
                u = map.slots[pos];
            }
            double norm = normalize(lists[i].scores[r], lo, hi);
            acc[u].score += w * norm;
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
    if (rc) return astro_err_set(err, rc, "fuse: out of memory");
    return ASTRO_OK;
}

/* Greedy MMR selection; see fusion.h. work[0..n) holds each candidate's
 * highest cosine to the selection (-inf before the first pick, or -1 once
 * picked is marked by NAN), work[n..2n) the vector norms. */
int astro_mmr(const float *vecs, size_t n, size_t dim, size_t stride, const double *rel,
              double lambda, size_t k, double *work, size_t *out_idx, size_t *n_out,
              astro_err *err) {
    if (n_out) *n_out = 0;
    if (!n_out || (n && (!vecs || !rel || !work || (!out_idx && k))))
        return astro_err_set(err, ASTRO_EINVAL, "mmr: NULL argument");
    if (!(lambda >= 0 && lambda <= 1)) return astro_err_set(err, ASTRO_EINVAL, "mmr: lambda must be in [0, 1]");
    if (n && (dim == 0 || stride < dim)) return astro_err_set(err, ASTRO_EINVAL, "mmr: bad dim or stride");
    const astro_kern_f32_fn dot = astro_kernels_best()->dot;
    double *maxsim = work, *norm = work + n;
    for (size_t i = 0; i < n; i++) {
        if (isnan(rel[i])) return astro_err_set(err, ASTRO_EINVAL, "mmr: relevance %zu is NaN", i);
        int rc = astro_vec_check_finite(vecs + i * stride, dim, err);
        if (rc) return rc;
        norm[i] = sqrt((double)dot(vecs + i * stride, vecs + i * stride, dim));
        maxsim[i] = -INFINITY;
    }
    size_t picked = 0;
    while (picked < k && picked < n) {
        size_t best = SIZE_MAX;
        double bestv = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (isnan(maxsim[i])) continue;
            double red = picked ? maxsim[i] : 0.0;
            double v = lambda * rel[i] - (1.0 - lambda) * red;
            if (best == SIZE_MAX || v > bestv) {
                best = i;
                bestv = v;
            }
        }
        out_idx[picked++] = best;
        const float *vb = vecs + best * stride;
        maxsim[best] = NAN;
        for (size_t i = 0; i < n; i++) {
            if (isnan(maxsim[i])) continue;
            double c = (norm[i] > 0 && norm[best] > 0) ? dot(vecs + i * stride, vb, dim) / (norm[i] * norm[best]) : 0.0;
            if (c > maxsim[i]) maxsim[i] = c;
        }
    }
    *n_out = picked;
    return ASTRO_OK;
}
