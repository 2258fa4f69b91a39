/*
** test_flat_i8.c — the int8 flat index: recall@10 >= 0.99 against the exact
** float index on clustered 384-d vectors (fixed seed) with rescoring from the
** caller's stored rows, exact rescored scores, <= 450 resident bytes per
** vector by the index's own accounting, upsert and swap-on-remove, keyset
** filter, unrescored estimates, NaN, missing-row and dimension errors.
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
#define D 384
#define NQ 40
#define NC 40

/* Writes a clustered vector: one of NC centres plus noise. */
static void clustered(float *v, const float *centres, uint64_t *seed) {
    size_t c = (size_t)((rnd(seed) + 1.0f) * 0.5f * NC) % NC;
    for (size_t j = 0; j < D; j++) v[j] = centres[c * D + j] + 0.35f * rnd(seed);
}

/* The caller's stored rows: key 2*i holds rows[i] (as given, unnormalized). */
static float rows[N * D];

/* Fetch callback over rows: a pointer into the storage, no copy. */
static const float *fetch_row(void *user, uint64_t key, float *buf, size_t dim) {
    (void)buf, (void)dim;
    const float *base = user;
    return key % 2 == 0 && key / 2 < N ? base + key / 2 * D : NULL;
}

/* Fetch callback that copies into the scratch buffer (a row read from a store). */
static const float *fetch_copy(void *user, uint64_t key, float *buf, size_t dim) {
    const float *v = fetch_row(user, key, buf, dim);
    if (!v) return NULL;
    memcpy(buf, v, dim * sizeof *buf);
    return buf;
}

/* Recall@10 of the int8 index against the exact flat index, plus scores and
 * the per-vector footprint. */
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
        clustered(&rows[i * D], centres, &seed);
        CHECK("i8-1.2", astro_flat_add(ex, i * 2, &rows[i * D], D, NULL, &err) == ASTRO_OK);
        CHECK("i8-1.3", astro_flat_i8_add(ix, i * 2, &rows[i * D], D, NULL, &err) == ASTRO_OK);
    }
    CHECK("i8-1.4", astro_flat_i8_count(ix) == N);
    /* codes alone are D bytes a vector; everything else must fit in 66 */
    double bpv = (double)astro_flat_i8_bytes(ix) / N;
    CHECK("i8-1.5", bpv >= D && bpv <= 450.0);
    CHECK("i8-1.6", astro_flat_i8_ctx_new(ix, 10, &ctx, &err) == ASTRO_OK);
    size_t hit = 0, hit_est = 0;
    int scores_ok = 1;
    for (int qi = 0; qi < NQ; qi++) {
        uint64_t ek[10], ak[10], ck[10], uk[10];
        float es[10], as[10], cs[10], us[10];
        clustered(v, centres, &seed);
        long ne = astro_flat_search(ex, v, D, 10, NULL, ek, es, &err);
        long na = astro_flat_i8_search(ix, ctx, v, D, 10, NULL, fetch_row, rows, ak, as, &err);
        long nc = astro_flat_i8_search(ix, ctx, v, D, 10, NULL, fetch_copy, rows, ck, cs, &err);
        long nu = astro_flat_i8_search(ix, ctx, v, D, 10, NULL, NULL, NULL, uk, us, &err);
        CHECK("i8-1.7", ne == 10 && na == 10 && nc == 10 && nu == 10);
        CHECK("i8-1.10", memcmp(ak, ck, sizeof ak) == 0 && memcmp(as, cs, sizeof as) == 0);
        for (int a = 0; a < 10; a++)
            for (int e = 0; e < 10; e++) hit_est += uk[a] == ek[e];
        scores_ok &= fabsf(us[0] - es[0]) < 0.02f;   /* the estimate is close, not exact */
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
    printf("flat_i8: recall@10 %.3f (int8 order alone %.3f), %.1f bytes/vector\n", r,
           (double)hit_est / (NQ * 10), bpv);
    /* rescoring is what buys the recall: the raw int8 order loses some */
    CHECK("i8-1.11", hit_est > (size_t)(NQ * 10) / 2 && hit_est <= hit);
    /* removing most rows hands code blocks back */
    size_t before = astro_flat_i8_bytes(ix);
    for (uint64_t i = 0; i < N - 100; i++) CHECK("i8-1.12", astro_flat_i8_remove(ix, i * 2) == 1);
    CHECK("i8-1.13", astro_flat_i8_bytes(ix) < before / 2 && astro_flat_i8_count(ix) == 100);
    uint64_t rk[10];
    float rs[10];
    memcpy(v, &rows[(N - 1) * D], sizeof v);
    CHECK("i8-1.14", astro_flat_i8_search(ix, ctx, v, D, 10, NULL, fetch_row, rows, rk, rs, &err) == 10 &&
                         rk[0] == (N - 1) * 2 && rs[0] > 0.9999f);
    astro_flat_i8_ctx_free(ctx);
    astro_flat_i8_free(ix);
    astro_flat_free(ex);
}

/* A small caller store for basics(): key -> 3 floats, present flag. */
typedef struct small_store {
    float v[5][3];
    int have[5];
} small_store;

static const float *fetch_small(void *user, uint64_t key, float *buf, size_t dim) {
    small_store *st = user;
    (void)buf, (void)dim;
    return key < 5 && st->have[key] ? st->v[key] : NULL;
}

/* Adds key to the index and to the caller's store. */
static int put(astro_flat_i8 *ix, small_store *st, uint64_t key, const float *v, astro_err *err) {
    int rc = astro_flat_i8_add(ix, key, v, 3, NULL, err);
    if (rc == ASTRO_OK) memcpy(st->v[key], v, sizeof st->v[key]), st->have[key] = 1;
    return rc;
}

/* Upsert, remove, filter and error paths on a small index. */
static void basics(void) {
    astro_flat_i8 *ix = NULL;
    astro_flat_i8_ctx *ctx = NULL;
    astro_err err;
    small_store st;
    memset(&st, 0, sizeof st);
    float a[3] = { 1, 0, 0 }, b[3] = { 0, 2, 0 }, c[3] = { 0, 0, 1 }, bad[3] = { 0, NAN, 0 };
    uint64_t keys[4];
    float scores[4];
    CHECK("i8-2.0", astro_flat_i8_new(0, 0, &ix, &err) == ASTRO_EINVAL);
    CHECK("i8-2.1", astro_flat_i8_new(3, 2, &ix, &err) == ASTRO_OK);
    CHECK("i8-2.2", put(ix, &st, 1, a, &err) == ASTRO_OK);
    CHECK("i8-2.3", put(ix, &st, 2, b, &err) == ASTRO_OK);
    CHECK("i8-2.4", put(ix, &st, 3, c, &err) == ASTRO_OK);
    CHECK("i8-2.5", astro_flat_i8_add(ix, 4, bad, 3, NULL, &err) == ASTRO_EINVAL);
    CHECK("i8-2.6", astro_flat_i8_add(ix, 4, a, 2, NULL, &err) == ASTRO_EDIM);
    CHECK("i8-2.7", astro_flat_i8_count(ix) == 3);
    CHECK("i8-2.8", astro_flat_i8_ctx_new(ix, 1, &ctx, &err) == ASTRO_OK);
    CHECK("i8-2.9", astro_flat_i8_search(ix, ctx, b, 3, 4, NULL, fetch_small, &st, keys, scores, &err) == 3);
    CHECK("i8-2.10", keys[0] == 2 && fabsf(scores[0] - 1.0f) < 1e-6f && fabsf(scores[1] - 0.5f) < 1e-6f);
    CHECK("i8-2.11", put(ix, &st, 2, a, &err) == ASTRO_OK);   /* upsert */
    CHECK("i8-2.12", astro_flat_i8_search(ix, ctx, a, 3, 1, NULL, fetch_small, &st, keys, scores, &err) == 1 &&
                         (keys[0] == 1 || keys[0] == 2) && fabsf(scores[0] - 1.0f) < 1e-6f);
    CHECK("i8-2.13", astro_flat_i8_remove(ix, 1) == 1 && astro_flat_i8_remove(ix, 1) == 0);
    st.have[1] = 0;
    CHECK("i8-2.14", astro_flat_i8_search(ix, ctx, a, 3, 1, NULL, fetch_small, &st, keys, scores, &err) == 1 &&
                         keys[0] == 2);
    uint8_t bits[1] = { 1u << 3 };
    astro_keyset ks = { bits, 8 };
    astro_filter f;
    astro_filter_init(&f);
    f.allow = &ks;
    CHECK("i8-2.15", astro_flat_i8_search(ix, ctx, a, 3, 4, &f, fetch_small, &st, keys, scores, &err) == 1 &&
                         keys[0] == 3);
    CHECK("i8-2.16", astro_flat_i8_search(ix, ctx, bad, 3, 4, NULL, fetch_small, &st, keys, scores, &err) ==
                         ASTRO_EINVAL);
    CHECK("i8-2.17", astro_flat_i8_contains(ix, 3) && !astro_flat_i8_contains(ix, 1));
    /* the caller lost a candidate's row: an error naming the key, not a guess */
    st.have[3] = 0;
    CHECK("i8-2.18", astro_flat_i8_search(ix, ctx, c, 3, 2, NULL, fetch_small, &st, keys, scores, &err) ==
                         ASTRO_ENOTFOUND && strstr(err.msg, "key 3") != NULL);
    st.have[3] = 1, st.v[3][1] = INFINITY;
    CHECK("i8-2.19", astro_flat_i8_search(ix, ctx, c, 3, 2, NULL, fetch_small, &st, keys, scores, &err) ==
                         ASTRO_EINVAL && strstr(err.msg, "not finite") != NULL);
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
