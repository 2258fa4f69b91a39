/*
** test_flat_i8.c — the int8 flat index: recall@10 >= 0.99 against the exact
** float index on clustered vectors (fixed seed), exact rescored scores,
** upsert and swap-on-remove, keyset filter, NaN and dimension errors, bytes.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro/flat_i8.h"
#include "astro/vec.h"
#include "check.h"

#define N 4000
#define D 96
#define NQ 40
#define NC 40

/* Writes a clustered vector: one of NC centres plus noise. */
static void clustered(float *v, const float *centres, uint64_t *seed) {
    size_t c = (size_t)((rnd(seed) + 1.0f) * 0.5f * NC) % NC;
    for (size_t j = 0; j < D; j++) v[j] = centres[c * D + j] + 0.35f * rnd(seed);
}

/* Recall@10 of the int8 index against the exact flat index, plus scores. */
static void recall(void) {
    uint64_t seed = 42;
    static float centres[NC * D], v[D];
    astro_flat *ex = NULL;
    astro_flat_i8 *ix = NULL;
    astro_flat_i8_ctx *ctx = NULL;
    astro_err err;
    for (size_t i = 0; i < NC * D; i++) centres[i] = rnd(&seed);
    CHECK("i8-1.0", astro_flat_new(D, &ex, &err) == ASTRO_OK);
    CHECK("i8-1.1", astro_flat_i8_new(D, 0, &ix, &err) == ASTRO_OK);
    for (uint64_t i = 0; i < N; i++) {
        clustered(v, centres, &seed);
        CHECK("i8-1.2", astro_flat_add(ex, i * 2, v, D, NULL, &err) == ASTRO_OK);
        CHECK("i8-1.3", astro_flat_i8_add(ix, i * 2, v, D, NULL, &err) == ASTRO_OK);
    }
    CHECK("i8-1.4", astro_flat_i8_count(ix) == N);
    CHECK("i8-1.5", astro_flat_i8_bytes(ix) >= (size_t)N * (D + 4 * D));
    CHECK("i8-1.6", astro_flat_i8_ctx_new(ix, 10, &ctx, &err) == ASTRO_OK);
    size_t hit = 0;
    int scores_ok = 1;
    for (int qi = 0; qi < NQ; qi++) {
        uint64_t ek[10], ak[10];
        float es[10], as[10];
        clustered(v, centres, &seed);
        long ne = astro_flat_search(ex, v, D, 10, NULL, ek, es, &err);
        long na = astro_flat_i8_search(ix, ctx, v, D, 10, NULL, ak, as, &err);
        CHECK("i8-1.7", ne == 10 && na == 10);
        for (int a = 0; a < 10; a++) {
            for (int e = 0; e < 10; e++) {
                if (ak[a] == ek[e]) {
                    hit++;
                    scores_ok &= fabsf(as[a] - es[e]) < 1e-5f;
                }
            }
        }
    }
    double r = (double)hit / (NQ * 10);
    CHECK("i8-1.8", r >= 0.99);
    CHECK("i8-1.9", scores_ok);
    if (r < 0.99) fprintf(stderr, "recall@10 = %.3f\n", r);
    astro_flat_i8_ctx_free(ctx);
    astro_flat_i8_free(ix);
    astro_flat_free(ex);
}

/* Upsert, remove, filter and error paths on a small index. */
static void basics(void) {
    astro_flat_i8 *ix = NULL;
    astro_flat_i8_ctx *ctx = NULL;
    astro_err err;
    float a[3] = { 1, 0, 0 }, b[3] = { 0, 1, 0 }, c[3] = { 0, 0, 1 }, bad[3] = { 0, NAN, 0 };
    uint64_t keys[4];
    float scores[4];
    CHECK("i8-2.0", astro_flat_i8_new(0, 0, &ix, &err) == ASTRO_EINVAL);
    CHECK("i8-2.1", astro_flat_i8_new(3, 2, &ix, &err) == ASTRO_OK);
    CHECK("i8-2.2", astro_flat_i8_add(ix, 1, a, 3, NULL, &err) == ASTRO_OK);
    CHECK("i8-2.3", astro_flat_i8_add(ix, 2, b, 3, NULL, &err) == ASTRO_OK);
    CHECK("i8-2.4", astro_flat_i8_add(ix, 3, c, 3, NULL, &err) == ASTRO_OK);
    CHECK("i8-2.5", astro_flat_i8_add(ix, 4, bad, 3, NULL, &err) == ASTRO_EINVAL);
    CHECK("i8-2.6", astro_flat_i8_add(ix, 4, a, 2, NULL, &err) == ASTRO_EDIM);
    CHECK("i8-2.7", astro_flat_i8_count(ix) == 3);
    CHECK("i8-2.8", astro_flat_i8_ctx_new(ix, 1, &ctx, &err) == ASTRO_OK);
    CHECK("i8-2.9", astro_flat_i8_search(ix, ctx, b, 3, 4, NULL, keys, scores, &err) == 3);
    CHECK("i8-2.10", keys[0] == 2 && fabsf(scores[0] - 1.0f) < 1e-6f && fabsf(scores[1] - 0.5f) < 1e-6f);
    CHECK("i8-2.11", astro_flat_i8_add(ix, 2, a, 3, NULL, &err) == ASTRO_OK);   /* upsert */
    CHECK("i8-2.12", astro_flat_i8_search(ix, ctx, a, 3, 1, NULL, keys, scores, &err) == 1 && keys[0] == 1);
    CHECK("i8-2.13", astro_flat_i8_remove(ix, 1) == 1 && astro_flat_i8_remove(ix, 1) == 0);
    CHECK("i8-2.14", astro_flat_i8_search(ix, ctx, a, 3, 1, NULL, keys, scores, &err) == 1 && keys[0] == 2);
    uint8_t bits[1] = { 1u << 3 };
    astro_keyset ks = { bits, 8 };
    astro_filter f;
    astro_filter_init(&f);
    f.allow = &ks;
    CHECK("i8-2.15", astro_flat_i8_search(ix, ctx, a, 3, 4, &f, keys, scores, &err) == 1 && keys[0] == 3);
    CHECK("i8-2.16", astro_flat_i8_search(ix, ctx, bad, 3, 4, NULL, keys, scores, &err) == ASTRO_EINVAL);
    CHECK("i8-2.17", astro_flat_i8_contains(ix, 3) && !astro_flat_i8_contains(ix, 1));
    astro_flat_i8_ctx_free(ctx);
    astro_flat_i8_free(ix);
    astro_flat_i8_free(NULL);
}

int main(void) {
    recall();
    basics();
    printf("flat_i8: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
