/*
** test_fusion.c — weighted reciprocal rank fusion: the k=60 example with
** weights, zero-weight lists skipped, negative weights rejected, first-seen tie
** order, duplicate keys within a list, cap truncation and empty input.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "astro/fusion.h"

static int failures;
#define CHECK(id, cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, id, #cond); \
        }                                                                      \
    } while (0)

int main(void) {
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

    if (failures) fprintf(stderr, "test_fusion: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
