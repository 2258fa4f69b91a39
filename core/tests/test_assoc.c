/*
** test_assoc.c — the associative index: two words that never share a
** document but share contexts become associated and a query with one finds
** documents with the other (while unrelated words stay apart); add / remove
** are exact inverses (same scores after a churn as for a fresh index with the
** same live documents, in any insertion order); replace; seeds (feedback);
** filters; bad arguments; empty index and empty query.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "astro/assoc.h"
#include "check.h"

static int add(astro_assoc *a, uint64_t key, const char *s) {
    return astro_assoc_add(a, key, s, strlen(s), NULL, NULL);
}

static long search(astro_assoc *a, const char *q, size_t k, const astro_filter *f, uint64_t *keys,
                   float *scores) {
    return astro_assoc_search(a, q, strlen(q), NULL, 0, k, f, keys, scores, NULL);
}

static double sim(astro_assoc *a, const char *x, const char *y) {
    return astro_assoc_similarity(a, x, strlen(x), y, strlen(y));
}

/* A small bank: "hiking" and "trekking" each co-occur with mountain/trail/
 * boots, never with each other; "pottery" lives with clay/kiln/glaze. */
static const char *BANK[] = {
    "we went hiking on the mountain trail in new boots",          /* 1 */
    "hiking up the mountain trail was exhausting",                 /* 2 */
    "my boots got muddy hiking the trail",                         /* 3 */
    "trekking along the mountain trail with heavy boots",          /* 4 */
    "trekking boots and a long trail up the mountain",             /* 5 */
    "pottery class: clay on the wheel, then the kiln",             /* 6 */
    "the glaze cracked in the kiln, pottery is hard",              /* 7 */
    "clay and glaze everywhere after pottery",                     /* 8 */
    "a quiet evening reading a novel by the fire",                 /* 9 */
    "the novel I am reading has a slow first chapter",             /* 10 */
};
#define NBANK (sizeof BANK / sizeof BANK[0])

static astro_assoc *bank(const astro_assoc_opts *o, int reverse) {
    astro_assoc *a = NULL;
    if (astro_assoc_new(o, &a, NULL) != ASTRO_OK) return NULL;
    for (size_t i = 0; i < NBANK; i++) {
        size_t j = reverse ? NBANK - 1 - i : i;
        if (add(a, j + 1, BANK[j]) != ASTRO_OK) return NULL;
    }
    return a;
}

static void paraphrase(void) {
    astro_assoc *a = bank(NULL, 0);
    uint64_t keys[10];
    float scores[10];
    CHECK("paraphrase.new", a != NULL);
    if (!a) return;
    CHECK("paraphrase.count", astro_assoc_count(a) == NBANK);
    double near = sim(a, "hiking", "trekking"), far = sim(a, "hiking", "pottery");
    CHECK("paraphrase.sim", near > 0.3 && near > far + 0.3);
    CHECK("paraphrase.sim_unknown", sim(a, "hiking", "zeppelin") == 0);
    /* "trekking" only: the trekking documents hold the query word itself, so
     * expansion must reach the hiking ones through "hiking"/"mountain"/... */
    long n = search(a, "hiking", 10, NULL, keys, scores);
    int found_trek = 0, found_pottery = 0;
    for (long i = 0; i < n; i++) {
        if (keys[i] == 4 || keys[i] == 5) found_trek = 1;
        if (keys[i] >= 6 && keys[i] <= 8) found_pottery = 1;
        CHECK("paraphrase.positive", scores[i] > 0);
        if (i > 0) CHECK("paraphrase.order", scores[i - 1] >= scores[i]);
    }
    CHECK("paraphrase.found", found_trek);
    CHECK("paraphrase.not_unrelated", !found_pottery);
    CHECK("paraphrase.empty_query", search(a, "", 10, NULL, keys, scores) == 0);
    CHECK("paraphrase.unknown_query", search(a, "zeppelin", 10, NULL, keys, scores) == 0);
    CHECK("paraphrase.k0", search(a, "hiking", 0, NULL, keys, scores) == 0);

    /* Filters: only keys 4 and 5 allowed. */
    uint8_t bits[1] = { (1u << 4) | (1u << 5) };
    astro_keyset ks = { bits, 8 };
    astro_filter f;
    astro_filter_init(&f);
    f.allow = &ks;
    n = search(a, "hiking", 10, &f, keys, scores);
    CHECK("filter.n", n >= 1);
    for (long i = 0; i < n; i++) CHECK("filter.keys", keys[i] == 4 || keys[i] == 5);

    /* Seeds: a pottery document as feedback pulls the other pottery ones in
     * for a query that alone says nothing about pottery. */
    uint64_t seed = 6;
    n = astro_assoc_search(a, "kiln", 4, &seed, 1, 10, NULL, keys, scores, NULL);
    int got8 = 0;
    for (long i = 0; i < n; i++) if (keys[i] == 8) got8 = 1;
    CHECK("seeds.feedback", got8);
    uint64_t unknown = 999;
    CHECK("seeds.unknown_ignored",
          astro_assoc_search(a, "hiking", 6, &unknown, 1, 10, NULL, keys, scores, NULL) ==
              search(a, "hiking", 10, NULL, keys, scores));
    astro_assoc_free(a);
}

/* Add/remove/replace leave exactly the state of a fresh index built from the
 * live documents, whatever the order. */
static void exact_churn(void) {
    astro_assoc *fwd = bank(NULL, 0), *rev = bank(NULL, 1), *churn = NULL;
    CHECK("churn.new", fwd && rev && astro_assoc_new(NULL, &churn, NULL) == ASTRO_OK);
    if (!fwd || !rev || !churn) return;
    for (size_t i = 0; i < NBANK; i++) add(churn, 100 + i, BANK[(i * 3) % NBANK]);   /* noise */
    for (size_t i = 0; i < NBANK; i++) add(churn, i + 1, "placeholder text that will be replaced");
    for (size_t i = 0; i < NBANK; i++) add(churn, i + 1, BANK[i]);                  /* replace */
    for (size_t i = 0; i < NBANK; i++) CHECK("churn.remove", astro_assoc_remove(churn, 100 + i) == 1);
    CHECK("churn.remove_absent", astro_assoc_remove(churn, 100) == 0);
    CHECK("churn.count", astro_assoc_count(churn) == NBANK);
    const char *queries[] = { "hiking", "pottery kiln", "reading", "boots clay" };
    for (size_t q = 0; q < 4; q++) {
        uint64_t k1[10], k2[10], k3[10];
        float s1[10], s2[10], s3[10];
        long n1 = search(fwd, queries[q], 10, NULL, k1, s1);
        long n2 = search(rev, queries[q], 10, NULL, k2, s2);
        long n3 = search(churn, queries[q], 10, NULL, k3, s3);
        CHECK("churn.n", n1 == n2 && n1 == n3);
        for (long i = 0; i < n1 && n1 == n2 && n1 == n3; i++) {
            CHECK("churn.keys", k1[i] == k2[i] && k1[i] == k3[i]);
            CHECK("churn.scores", fabsf(s1[i] - s2[i]) < 1e-4f && fabsf(s1[i] - s3[i]) < 1e-4f);
        }
    }
    for (size_t i = 0; i < NBANK; i++) astro_assoc_remove(churn, i + 1);
    CHECK("churn.empty", astro_assoc_count(churn) == 0);
    uint64_t k[4];
    float s[4];
    CHECK("churn.empty_search", search(churn, "hiking", 4, NULL, k, s) == 0);
    astro_assoc_free(fwd);
    astro_assoc_free(rev);
    astro_assoc_free(churn);
}

static void bad_args(void) {
    astro_assoc *a = NULL;
    astro_assoc_opts o;
    astro_err err;
    astro_assoc_opts_init(&o);
    o.dim = 5000;
    CHECK("args.dim", astro_assoc_new(&o, &a, &err) == ASTRO_EINVAL && a == NULL);
    astro_assoc_opts_init(&o);
    o.dim = 16;
    o.nnz = 17;
    CHECK("args.nnz", astro_assoc_new(&o, &a, &err) == ASTRO_EINVAL);
    astro_assoc_opts_init(&o);
    o.min_sim = 2;
    CHECK("args.min_sim", astro_assoc_new(&o, &a, &err) == ASTRO_EINVAL);
    CHECK("args.out", astro_assoc_new(NULL, NULL, &err) == ASTRO_EINVAL);
    CHECK("args.new", astro_assoc_new(NULL, &a, &err) == ASTRO_OK);
    CHECK("args.add_null", astro_assoc_add(a, 1, NULL, 3, NULL, &err) == ASTRO_EINVAL);
    CHECK("args.add_empty", astro_assoc_add(a, 1, "", 0, NULL, &err) == ASTRO_OK);
    uint64_t k[2];
    float s[2];
    CHECK("args.out_null", astro_assoc_search(a, "x", 1, NULL, 0, 2, NULL, NULL, s, &err) == ASTRO_EINVAL);
    CHECK("args.seeds_null", astro_assoc_search(a, "x", 1, NULL, 2, 2, NULL, k, s, &err) == ASTRO_EINVAL);
    CHECK("args.no_terms", astro_assoc_search(a, "x", 1, NULL, 0, 2, NULL, k, s, &err) == 0);
    astro_assoc_free(a);
    astro_assoc_free(NULL);
    CHECK("args.count_null", astro_assoc_count(NULL) == 0 && astro_assoc_bytes(NULL) == 0);
}

int main(void) {
    paraphrase();
    exact_churn();
    bad_args();
    return failures != 0;
}
