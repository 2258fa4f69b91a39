/*
** test_fusion.c — weighted reciprocal rank fusion: the k=60 example with
** weights, zero-weight lists skipped, negative weights rejected, first-seen tie
** order, duplicate keys within a list, cap truncation and empty input; RRF
** against the reference formula sum w/(k+rank+1) on generated lists; weighted
** min-max score fusion; MMR picks and its lambda extremes.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "astro/fusion.h"
#include "check.h"

/* RRF equals the reference formula computed independently, for 3 lists of
 * overlapping keys with different weights and k values. */
static void rrf_reference(void) {
    uint64_t l0[20], l1[15], l2[25], keys[64];
    double sc[64];
    size_t n = 0;
    for (int i = 0; i < 20; i++) l0[i] = (uint64_t)(i * 3);
    for (int i = 0; i < 15; i++) l1[i] = (uint64_t)(40 - i * 2);
    for (int i = 0; i < 25; i++) l2[i] = (uint64_t)((i * 7) % 50);
    const double ks[] = { 60, 1, 0 };
    for (int t = 0; t < 3; t++) {
        astro_ranked l[3] = { { l0, 20, 1.0 }, { l1, 15, 0.7 }, { l2, 25, 2.5 } };
        CHECK("rrf-9.0", astro_rrf_fuse(l, 3, ks[t], keys, sc, 64, &n, NULL) == ASTRO_OK);
        int ok = n > 0;
        for (size_t i = 0; i < n; i++) {
            double ref = 0;
            for (int li = 0; li < 3; li++)
                for (size_t r = 0; r < l[li].n; r++)
                    if (l[li].keys[r] == keys[i]) ref += l[li].weight / (ks[t] + (double)r + 1.0);
            ok &= fabs(sc[i] - ref) < 1e-12;
            if (i) ok &= sc[i - 1] >= sc[i];
        }
        CHECK("rrf-9.1", ok);
    }
}

/* Weighted score fusion with min-max normalization. */
static void score_fusion(void) {
    const uint64_t ka[] = { 1, 2, 3 }, kb[] = { 3, 4 };
    const float sa[] = { 10, 5, 0 }, sb[] = { 0.9f, 0.1f }, flat[] = { 2, 2 };
    uint64_t keys[8];
    double sc[8];
    size_t n = 0;
    astro_scored l[2] = { { ka, sa, 3, 1.0 }, { kb, sb, 2, 2.0 } };
    CHECK("fuse-1.0", astro_score_fuse(l, 2, keys, sc, 8, &n, NULL) == ASTRO_OK && n == 4);
    /* 1: 1.0; 2: 0.5; 3: 0 + 2*1 = 2; 4: 0 */
    CHECK("fuse-1.1", keys[0] == 3 && keys[1] == 1 && keys[2] == 2 && keys[3] == 4);
    CHECK("fuse-1.2", fabs(sc[0] - 2.0) < 1e-12 && fabs(sc[1] - 1.0) < 1e-12 && fabs(sc[2] - 0.5) < 1e-12 && sc[3] == 0);
    astro_scored e[1] = { { kb, flat, 2, 1.0 } };
    CHECK("fuse-1.3", astro_score_fuse(e, 1, keys, sc, 8, &n, NULL) == ASTRO_OK && n == 2 && sc[0] == 1 && sc[1] == 1);
    l[1].weight = -1;
    CHECK("fuse-1.4", astro_score_fuse(l, 2, keys, sc, 8, &n, NULL) == ASTRO_EINVAL);
    /* Infinite scores (found by fuzz/fuzz_fusion.c): they made the range
     * infinite and every normalized score NaN, which also broke the sort.
     * +inf normalizes to 1, -inf to 0, the rest over the finite range. */
    const uint64_t ki[] = { 1, 2, 3, 4, 5 };
    const float si[] = { 1.0f, INFINITY, -INFINITY, 5.0f, 2.0f }, sinf[] = { INFINITY, INFINITY };
    astro_scored inf[1] = { { ki, si, 5, 1.0 } };
    CHECK("fuse-2.0", astro_score_fuse(inf, 1, keys, sc, 8, &n, NULL) == ASTRO_OK && n == 5);
    CHECK("fuse-2.1", keys[0] == 2 && keys[1] == 4 && keys[2] == 5 && keys[3] == 1 && keys[4] == 3);
    CHECK("fuse-2.2", sc[0] == 1.0 && sc[1] == 1.0 && fabs(sc[2] - 0.25) < 1e-12 && sc[3] == 0.0 && sc[4] == 0.0);
    astro_scored same[1] = { { ki, sinf, 2, 1.0 } };
    CHECK("fuse-2.3", astro_score_fuse(same, 1, keys, sc, 8, &n, NULL) == ASTRO_OK && n == 2 && sc[0] == 1 && sc[1] == 1);
}

/* MMR: lambda 1 is plain relevance order; lower lambda skips near-duplicates. */
static void mmr(void) {
    /* 0 and 1 are duplicates, 2 is orthogonal to both */
    const float v[] = { 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0 };
    const double rel[] = { 0.9, 0.85, 0.5 };
    double work[6];
    size_t idx[3], n = 0;
    CHECK("mmr-1.0", astro_mmr(v, 3, 3, 4, rel, 1.0, 3, work, idx, &n, NULL) == ASTRO_OK && n == 3);
    CHECK("mmr-1.1", idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
    CHECK("mmr-1.2", astro_mmr(v, 3, 3, 4, rel, 0.5, 2, work, idx, &n, NULL) == ASTRO_OK && n == 2);
    CHECK("mmr-1.3", idx[0] == 0 && idx[1] == 2);   /* 0.5*0.5 - 0 > 0.5*0.85 - 0.5*1 */
    CHECK("mmr-1.4", astro_mmr(v, 3, 3, 4, rel, 1.5, 2, work, idx, &n, NULL) == ASTRO_EINVAL);
    CHECK("mmr-1.5", astro_mmr(v, 3, 3, 4, rel, 0.5, 0, work, idx, &n, NULL) == ASTRO_OK && n == 0);
}

int main(void) {
    rrf_reference();
    score_fusion();
    mmr();
    uint64_t keys[16];
    double sc[16];
    size_t n = 99;
    astro_err err;

    const uint64_t a[] = { 10, 20, 30 }, b[] = { 20, 40 };
    astro_ranked l[2] = { { a, 3, 1.0 }, { b, 2, 0.5 } };
    CHECK("rrf-1.0", astro_rrf_fuse(l, 2, 60, keys, sc, 16, &n, &err) == ASTRO_OK && n == 4);
    CHECK("rrf-1.1", keys[0] == 20 && keys[1] == 10 && keys[2] == 30 && keys[3] == 40);
    CHECK("rrf-1.2", fabs(sc[0] - (1.0 / 62 + 0.5 / 61)) < 1e-15);
    CHECK("rrf-1.3", fabs(sc[1] - 1.0 / 61) < 1e-15 && fabs(sc[2] - 1.0 / 63) < 1e-15 &&
                         fabs(sc[3] - 0.5 / 62) < 1e-15);
    /* cap 2: the best two, n_out = written. */
    CHECK("rrf-1.4", astro_rrf_fuse(l, 2, 60, keys, sc, 2, &n, &err) == ASTRO_OK && n == 2 && keys[1] == 10);
    CHECK("rrf-1.5", astro_rrf_fuse(l, 2, 60, NULL, NULL, 0, &n, &err) == ASTRO_OK && n == 0);
    CHECK("rrf-1.6", astro_rrf_fuse(l, 2, 60, keys, NULL, 16, &n, &err) == ASTRO_OK && n == 4);

    /* Zero weight skips a list entirely (its keys do not appear). */
    l[1].weight = 0;
    CHECK("rrf-2.0", astro_rrf_fuse(l, 2, 60, keys, sc, 16, &n, &err) == ASTRO_OK && n == 3);
    CHECK("rrf-2.1", keys[0] == 10 && keys[1] == 20 && keys[2] == 30);
    /* Negative weight is an error naming the list. */
    l[1].weight = -0.1;
    CHECK("rrf-2.2", astro_rrf_fuse(l, 2, 60, keys, sc, 16, &n, &err) == ASTRO_EINVAL && n == 0);
    CHECK("rrf-2.3", strcmp(err.msg, "weight of list 1 is negative") == 0);
    l[1].weight = NAN;
    CHECK("rrf-2.4", astro_rrf_fuse(l, 2, 60, keys, sc, 16, &n, &err) == ASTRO_EINVAL);
    l[1].weight = 1;
    CHECK("rrf-2.5", astro_rrf_fuse(l, 2, -1, keys, sc, 16, &n, &err) == ASTRO_EINVAL);

    /* Ties keep first-seen order. */
    const uint64_t x[] = { 1, 2 }, y[] = { 2, 1 }, p[] = { 5 }, q[] = { 7 };
    astro_ranked t1[2] = { { x, 2, 1 }, { y, 2, 1 } };
    CHECK("rrf-3.0", astro_rrf_fuse(t1, 2, 60, keys, sc, 16, &n, &err) == ASTRO_OK && n == 2);
    CHECK("rrf-3.1", keys[0] == 1 && keys[1] == 2 && sc[0] == sc[1]);
    astro_ranked t2[2] = { { q, 1, 1 }, { p, 1, 1 } };
    CHECK("rrf-3.2", astro_rrf_fuse(t2, 2, 60, keys, sc, 16, &n, &err) == ASTRO_OK && n == 2);
    CHECK("rrf-3.3", keys[0] == 7 && keys[1] == 5);
    /* Duplicates within a list add up; k = 0 is allowed. */
    const uint64_t d[] = { 9, 8, 9 };
    astro_ranked t3[1] = { { d, 3, 1 } };
    CHECK("rrf-3.4", astro_rrf_fuse(t3, 1, 0, keys, sc, 16, &n, &err) == ASTRO_OK && n == 2);
    CHECK("rrf-3.5", keys[0] == 9 && fabs(sc[0] - (1.0 + 1.0 / 3)) < 1e-15 && keys[1] == 8);

    /* Empty inputs. */
    CHECK("rrf-4.0", astro_rrf_fuse(NULL, 0, 60, keys, sc, 16, &n, &err) == ASTRO_OK && n == 0);
    astro_ranked e[1] = { { NULL, 0, 1 } };
    CHECK("rrf-4.1", astro_rrf_fuse(e, 1, 60, keys, sc, 16, &n, &err) == ASTRO_OK && n == 0);
    CHECK("rrf-4.2", astro_rrf_fuse(l, 2, 60, keys, sc, 16, NULL, &err) == ASTRO_EINVAL);

    /* Larger: 1000 keys in two interleaved lists, output sorted. */
    static uint64_t big1[1000], big2[1000], ok[2000];
    static double oks[2000];
    for (uint64_t i = 0; i < 1000; i++) { big1[i] = i; big2[i] = 999 - i + 500; }
    astro_ranked bl[2] = { { big1, 1000, 1 }, { big2, 1000, 2 } };
    CHECK("rrf-5.0", astro_rrf_fuse(bl, 2, 60, ok, oks, 2000, &n, &err) == ASTRO_OK && n == 1500);
    int sorted = 1;
    for (size_t i = 1; i < n; i++) sorted &= oks[i - 1] >= oks[i];
    CHECK("rrf-5.1", sorted);

    return check_report("test_fusion");
}
