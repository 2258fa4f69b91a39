/*
** test_flat.c — the flat index: upsert, swap-on-remove, get/contains, keyset,
** time and as_of filters, dimension and NaN errors leaving the index
** unchanged, and top-k order against a brute-force reference on 2000 random
** vectors (fixed-seed PRNG), including k > n, k == 0, D=1 and D=4097.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro/vec.h"
#include "check.h"

typedef struct ref { float score; uint64_t key; } ref;

/* Orders the reference by score desc, key asc. */
static int cmp_ref(const void *a, const void *b) {
    const ref *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->key > y->key) - (x->key < y->key);
}

/* Builds an index of n random vectors of dim d (keys 3*i+1), checks search
 * against brute force over the stored vectors for several k. */
static void brute(size_t n, size_t d, uint64_t seed) {
    astro_flat *ix = NULL;
    astro_err err;
    float *v = malloc(d * sizeof *v), *q = malloc(d * sizeof *q), *row = malloc(d * sizeof *row);
    ref *r = malloc(n * sizeof *r);
    uint64_t *keys = malloc((n + 5) * sizeof *keys);
    float *scores = malloc((n + 5) * sizeof *scores);
    CHECK("flat-5.0", astro_flat_new(d, &ix, &err) == ASTRO_OK);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) v[j] = rnd(&seed);
        CHECK("flat-5.1", astro_flat_add(ix, 3 * i + 1, v, d, NULL, &err) == ASTRO_OK);
    }
    for (size_t j = 0; j < d; j++) q[j] = rnd(&seed) * 7.0f;
    double qn = 0;
    for (size_t j = 0; j < d; j++) qn += (double)q[j] * q[j];
    qn = sqrt(qn);
    for (size_t i = 0; i < n; i++) {
        astro_flat_get(ix, 3 * i + 1, row, d, NULL);
        double dot = 0;
        for (size_t j = 0; j < d; j++) dot += (double)row[j] * q[j];
        r[i].score = (float)((1.0 + dot / qn) / 2.0);
        r[i].key = 3 * i + 1;
    }
    qsort(r, n, sizeof *r, cmp_ref);
    const size_t ks[] = { 1, 10, 100, n, n + 5 };
    size_t nchecked = 0;
    for (size_t ki = 0; ki < 5; ki++) {
        size_t k = ks[ki];
        long got = astro_flat_search(ix, q, d, k, NULL, keys, scores, &err);
        size_t want = k < n ? k : n;
        CHECK("flat-5.2", got == (long)want);
        for (size_t i = 0; i < want && got == (long)want; i++) {
            CHECK("flat-5.3", fabsf(scores[i] - r[i].score) < 1e-5f);
            /* Keys must match except where float rounding reorders near-ties. */
            int isolated = (i == 0 || r[i - 1].score - r[i].score > 1e-5f) &&
                           (i + 1 >= n || r[i].score - r[i + 1].score > 1e-5f);
            CHECK("flat-5.4", !isolated || keys[i] == r[i].key);
            nchecked += isolated;
            if (i) CHECK("flat-5.5", scores[i - 1] > scores[i] ||
                                        (scores[i - 1] == scores[i] && keys[i - 1] < keys[i]));
            CHECK("flat-5.6", scores[i] >= 0.0f && scores[i] <= 1.0f);
        }
    }
    CHECK("flat-5.8", d == 1 || nchecked > 0);   /* D=1: every score is 0 or 1 */
    CHECK("flat-5.7", astro_flat_search(ix, q, d, 0, NULL, keys, scores, &err) == 0);
    astro_flat_free(ix);
    free(v); free(q); free(row); free(r); free(keys); free(scores);
}

int main(void) {
    astro_flat *ix = NULL;
    astro_err err;
    uint64_t keys[16];
    float scores[16], out[4];

    CHECK("flat-1.0", astro_flat_new(0, &ix, &err) == ASTRO_EINVAL && ix == NULL);
    CHECK("flat-1.1", astro_flat_new(65537, &ix, &err) == ASTRO_EINVAL);
    CHECK("flat-1.2", astro_flat_new(3, &ix, &err) == ASTRO_OK && ix != NULL);
    CHECK("flat-1.3", astro_flat_count(ix) == 0 && astro_flat_dim(ix) == 3);
    CHECK("flat-1.4", astro_flat_search(ix, (float[]){ 1, 0, 0 }, 3, 5, NULL, keys, scores, &err) == 0);

    /* Upsert. */
    float a[3] = { 1, 0, 0 }, b[3] = { 0, 2, 0 }, c[3] = { 0, 0, 3 }, ab[3] = { 1, 1, 0 };
    CHECK("flat-2.0", astro_flat_add(ix, 10, a, 3, NULL, &err) == ASTRO_OK);
    CHECK("flat-2.1", astro_flat_add(ix, 20, b, 3, NULL, &err) == ASTRO_OK);
    CHECK("flat-2.2", astro_flat_add(ix, 30, c, 3, NULL, &err) == ASTRO_OK);
    CHECK("flat-2.3", astro_flat_count(ix) == 3 && astro_flat_contains(ix, 20) && !astro_flat_contains(ix, 21));
    CHECK("flat-2.4", astro_flat_get(ix, 20, out, 3, &err) == ASTRO_OK && out[0] == 0 && out[1] == 1.0f);
    CHECK("flat-2.5", astro_flat_add(ix, 20, ab, 3, NULL, &err) == ASTRO_OK && astro_flat_count(ix) == 3);
    CHECK("flat-2.6", astro_flat_get(ix, 20, out, 3, &err) == ASTRO_OK && fabsf(out[0] - 0.70710678f) < 1e-6f);
    CHECK("flat-2.7", astro_flat_search(ix, a, 3, 3, NULL, keys, scores, &err) == 3);
    CHECK("flat-2.8", keys[0] == 10 && keys[1] == 20 && keys[2] == 30);
    CHECK("flat-2.9", scores[0] == 1.0f && fabsf(scores[1] - (1 + 0.70710678f) / 2) < 1e-6f && scores[2] == 0.5f);
    CHECK("flat-2.10", astro_flat_get(ix, 99, out, 3, &err) == ASTRO_ENOTFOUND);
    CHECK("flat-2.11", astro_flat_bytes(ix) > 3 * 3 * sizeof(float));

    /* Errors leave the index unchanged. */
    float bad[3] = { 1, NAN, 0 };
    CHECK("flat-3.0", astro_flat_add(ix, 40, bad, 3, NULL, &err) == ASTRO_EINVAL && astro_flat_count(ix) == 3);
    CHECK("flat-3.1", astro_flat_add(ix, 10, bad, 3, NULL, &err) == ASTRO_EINVAL);
    CHECK("flat-3.2", astro_flat_get(ix, 10, out, 3, &err) == ASTRO_OK && out[0] == 1.0f);
    CHECK("flat-3.3", astro_flat_add(ix, 40, a, 2, NULL, &err) == ASTRO_EDIM);
    CHECK("flat-3.4", strcmp(err.msg, "dimension mismatch: expected 3, got 2") == 0);
    CHECK("flat-3.5", astro_flat_search(ix, a, 4, 3, NULL, keys, scores, &err) == ASTRO_EDIM);
    bad[1] = INFINITY;
    CHECK("flat-3.6", astro_flat_search(ix, bad, 3, 3, NULL, keys, scores, &err) == ASTRO_EINVAL);
    float zero[3] = { 0, 0, 0 };
    CHECK("flat-3.7", astro_flat_add(ix, 50, zero, 3, NULL, &err) == ASTRO_OK);
    CHECK("flat-3.8", astro_flat_search(ix, zero, 3, 16, NULL, keys, scores, &err) == 4 && scores[0] == 0.5f && keys[0] == 10);
    CHECK("flat-3.9", astro_flat_remove(ix, 50) == 1);

    /* Remove swaps the last row into the hole. */
    CHECK("flat-4.0", astro_flat_remove(ix, 10) == 1 && astro_flat_remove(ix, 10) == 0);
    CHECK("flat-4.1", astro_flat_count(ix) == 2 && !astro_flat_contains(ix, 10));
    CHECK("flat-4.2", astro_flat_get(ix, 30, out, 3, &err) == ASTRO_OK && out[2] == 1.0f);
    CHECK("flat-4.3", astro_flat_search(ix, c, 3, 5, NULL, keys, scores, &err) == 2 && keys[0] == 30 && keys[1] == 20);
    CHECK("flat-4.4", astro_flat_remove(ix, 30) == 1 && astro_flat_remove(ix, 20) == 1 && astro_flat_count(ix) == 0);
    CHECK("flat-4.5", astro_flat_add(ix, 10, a, 3, NULL, &err) == ASTRO_OK && astro_flat_count(ix) == 1);

    /* Filters: keys 0..9, occurred_at = 100*i (key 9: none), retained_at = 1000+i. */
    astro_flat_free(ix);
    ix = NULL;
    CHECK("flat-6.0", astro_flat_new(2, &ix, &err) == ASTRO_OK);
    for (uint64_t i = 0; i < 10; i++) {
        float v[2] = { 1.0f, (float)i * 0.1f };
        astro_item_times t = { i == 9 ? ASTRO_TIME_NONE : (int64_t)(100 * i),
                               i == 8 ? ASTRO_TIME_NONE : (int64_t)(1000 + i) };
        CHECK("flat-6.1", astro_flat_add(ix, i, v, 2, &t, &err) == ASTRO_OK);
    }
    float q[2] = { 1, 0 };
    astro_filter f;
    astro_filter_init(&f);
    CHECK("flat-6.2", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 10 && keys[0] == 0 && keys[9] == 9);
    uint8_t bits[2] = { 0x22, 0x02 };   /* keys 1, 5, 9 */
    astro_keyset ks = { bits, 9 };      /* ... but key 9 is beyond nbits */
    f.allow = &ks;
    CHECK("flat-6.3", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 2 && keys[0] == 1 && keys[1] == 5);
    ks.nbits = 16;
    CHECK("flat-6.4", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 3 && keys[2] == 9);
    f.allow = NULL;
    f.time_from = 200;
    f.time_to = 500;
    CHECK("flat-6.5", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 4 && keys[0] == 2 && keys[3] == 5);
    f.time_to = ASTRO_TIME_NONE;   /* from only; key 9 (no occurred_at) fails */
    CHECK("flat-6.6", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 7 && keys[6] == 8);
    f.time_from = ASTRO_TIME_NONE;
    f.as_of = 1003;                /* retained <= 1003, key 8 has none and passes */
    CHECK("flat-6.7", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 5 && keys[4] == 8);
    f.as_of = 0;
    CHECK("flat-6.8", astro_flat_search(ix, q, 2, 16, &f, keys, scores, &err) == 1 && keys[0] == 8);
    CHECK("flat-6.9", astro_flat_search(ix, q, 2, 0, &f, NULL, NULL, &err) == 0);
    astro_flat_free(ix);
    astro_flat_free(NULL);

    /* Ties: identical vectors order by key. */
    CHECK("flat-7.0", astro_flat_new(4, &ix, &err) == ASTRO_OK);
    for (uint64_t key = 20; key > 0; key--) astro_flat_add(ix, key * 7 % 23, (float[]){ 1, 2, 3, 4 }, 4, NULL, &err);
    CHECK("flat-7.1", astro_flat_search(ix, (float[]){ 1, 2, 3, 4 }, 4, 5, NULL, keys, scores, &err) == 5);
    CHECK("flat-7.2", keys[0] == 1 && keys[1] == 2 && keys[2] == 3 && keys[3] == 4 && keys[4] == 5);
    astro_flat_free(ix);

    brute(2000, 37, 1);
    brute(300, 1, 2);
    brute(50, 4097, 3);
    brute(1, 16, 4);

    /* Heavy churn: remove every other key and re-check membership. */
    CHECK("flat-8.0", astro_flat_new(8, &ix, &err) == ASTRO_OK);
    uint64_t seed = 9;
    float v8[8];
    for (uint64_t i = 0; i < 3000; i++) {
        for (int j = 0; j < 8; j++) v8[j] = rnd(&seed);
        astro_flat_add(ix, i * 1000003ULL, v8, 8, NULL, &err);
    }
    for (uint64_t i = 0; i < 3000; i += 2) CHECK("flat-8.1", astro_flat_remove(ix, i * 1000003ULL) == 1);
    int ok = 1;
    for (uint64_t i = 0; i < 3000; i++) ok &= astro_flat_contains(ix, i * 1000003ULL) == (int)(i & 1);
    CHECK("flat-8.2", ok && astro_flat_count(ix) == 1500);
    astro_flat_free(ix);

    return check_report("test_flat");
}
