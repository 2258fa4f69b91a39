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

/* The per-key sums both fusions build: distinct keys in first-seen order,
 * their index map and their accumulated scores. */
typedef struct fuse_acc {
    astro__idxmap map;
    uint64_t *ukeys;
    fused *acc;
    size_t nu;
} fuse_acc;

static void acc_free(fuse_acc *a) {
    astro__idxmap_free(&a->map);
    free(a->ukeys);
    free(a->acc);
}

/* Sizes a for `total` (> 0) input keys; returns ASTRO_OK, or ASTRO_ERANGE /
 * ASTRO_ENOMEM with err naming `who` (and nothing left to free). */
static int acc_open(fuse_acc *a, size_t total, const char *who, astro_err *err) {
    if (total >= ASTRO__IDX_EMPTY) return astro_err_set(err, ASTRO_ERANGE, "%s: input too large", who);
    a->map = (astro__idxmap){ NULL, 0, 0 };
    a->nu = 0;
    a->ukeys = malloc(total * sizeof *a->ukeys);
    a->acc = malloc(total * sizeof *a->acc);
    /* The map is empty, so reserve never needs to read keys. */
    if (!a->ukeys || !a->acc || astro__idxmap_reserve(&a->map, total, NULL)) {
        acc_free(a);
        return astro_err_set(err, ASTRO_ENOMEM, "%s: out of memory", who);
    }
    return ASTRO_OK;
}

/* Adds contribution c to key's sum, giving a new key the next index. */
static inline void acc_add(fuse_acc *a, uint64_t key, double c) {
    size_t pos = astro__idxmap_find(&a->map, a->ukeys, key), u;
    if (pos == SIZE_MAX) {
        u = a->nu++;
        a->ukeys[u] = key;
        a->acc[u].score = 0;
        a->acc[u].first = u;
        astro__idxmap_insert(&a->map, a->ukeys, key, (uint32_t)u);
    } else {
        u = a->map.slots[pos];
    }
    a->acc[u].score += c;
}

/* Sorts the sums and writes the best `cap` keys (and scores) out. */
static void acc_emit(fuse_acc *a, uint64_t *out_keys, double *out_scores, size_t cap,
                     size_t *n_out) {
    qsort(a->acc, a->nu, sizeof *a->acc, cmp_fused);
    size_t nw = a->nu < cap ? a->nu : cap;
    for (size_t i = 0; i < nw; i++) {
        out_keys[i] = a->ukeys[a->acc[i].first];
        if (out_scores) out_scores[i] = a->acc[i].score;
    }
    *n_out = nw;
}

/* The argument checks both fusions start with; clears *n_out. */
static int check_out(const void *lists, size_t nlists, const uint64_t *out_keys, size_t cap,
                     size_t *n_out, const char *who, astro_err *err) {
    if (n_out) *n_out = 0;
    if (!n_out) return astro_err_set(err, ASTRO_EINVAL, "%s: n_out is NULL", who);
    if (!lists && nlists) return astro_err_set(err, ASTRO_EINVAL, "%s: lists is NULL", who);
    if (!out_keys && cap) return astro_err_set(err, ASTRO_EINVAL, "%s: out_keys is NULL", who);
    return ASTRO_OK;
}

/* Adds a list of n keys to *total; ASTRO_ERANGE when the sum would wrap. */
static int add_total(size_t *total, size_t n, const char *who, astro_err *err) {
    if (n > SIZE_MAX - *total) return astro_err_set(err, ASTRO_ERANGE, "%s: input too large", who);
    *total += n;
    return ASTRO_OK;
}

/* Checks list i's weight: ASTRO_OK when finite and >= 0. */
static int check_weight(double w, size_t i, astro_err *err) {
    if (isnan(w) || w < 0) return astro_err_set(err, ASTRO_EINVAL, "weight of list %zu is negative", i);
    if (!isfinite(w)) return astro_err_set(err, ASTRO_EINVAL, "weight of list %zu is not finite", i);
    return ASTRO_OK;
}

/* Fuses the lists; see fusion.h. Returns ASTRO_OK or a negative code. */
int astro_rrf_fuse(const astro_ranked *lists, size_t nlists, double k,
                   uint64_t *out_keys, double *out_scores, size_t cap, size_t *n_out,
                   astro_err *err) {
    size_t total = 0;
    int rc = check_out(lists, nlists, out_keys, cap, n_out, "rrf", err);
    if (rc) return rc;
    if (!(k >= 0) || !isfinite(k))
        return astro_err_set(err, ASTRO_EINVAL, "rrf: k must be finite and >= 0");
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if ((rc = check_weight(w, i, err))) return rc;
        if (w == 0) continue;
        if (!lists[i].keys && lists[i].n)
            return astro_err_set(err, ASTRO_EINVAL, "rrf: keys of list %zu is NULL", i);
        if ((rc = add_total(&total, lists[i].n, "rrf", err))) return rc;
    }
    if (total == 0) return ASTRO_OK;
    fuse_acc a;
    if ((rc = acc_open(&a, total, "rrf", err))) return rc;
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if (w == 0) continue;
        for (size_t r = 0; r < lists[i].n; r++)
            acc_add(&a, lists[i].keys[r], w / (k + (double)r + 1.0));
    }
    acc_emit(&a, out_keys, out_scores, cap, n_out);
    acc_free(&a);
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
    int rc = check_out(lists, nlists, out_keys, cap, n_out, "fuse", err);
    if (rc) return rc;
    for (size_t i = 0; i < nlists; i++) {
        double w = lists[i].weight;
        if ((rc = check_weight(w, i, err))) return rc;
        if (w == 0) continue;
        if ((!lists[i].keys || !lists[i].scores) && lists[i].n)
            return astro_err_set(err, ASTRO_EINVAL, "fuse: keys or scores of list %zu is NULL", i);
        for (size_t r = 0; r < lists[i].n; r++)
            if (isnan(lists[i].scores[r])) return astro_err_set(err, ASTRO_EINVAL, "fuse: NaN score in list %zu", i);
        if ((rc = add_total(&total, lists[i].n, "fuse", err))) return rc;
    }
    if (total == 0) return ASTRO_OK;
    fuse_acc a;
    if ((rc = acc_open(&a, total, "fuse", err))) return rc;
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
        for (size_t r = 0; r < lists[i].n; r++)
            acc_add(&a, lists[i].keys[r], w * normalize(lists[i].scores[r], lo, hi));
    }
    acc_emit(&a, out_keys, out_scores, cap, n_out);
    acc_free(&a);
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
