/*
** test_bm25.c — the BM25 index against scores computed here from the formula
** (idf = ln(1 + (N - df + 0.5)/(df + 0.5)), k1 1.2, b 0.75), duplicate query
** terms, replace / remove / re-add keeping N, df and avgdl exact, empty
** documents, filters, tie order, k bounds, a larger churn run and snapshots.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro/bm25.h"
#include "check.h"
#include "../src/internal.h"   /* astro__checksum: re-sealing patched snapshots */

/* Returns one term's BM25 contribution. */
static double bm(double tf, double dl, double df, double n, double avgdl, double k1, double b) {
    double idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

/* Adds a NUL-terminated text under key with optional times. */
static int add(astro_bm25 *ix, uint64_t key, const char *s, const astro_item_times *t) {
    return astro_bm25_add(ix, key, s, strlen(s), t, NULL);
}

/* Runs a query, returning the result count. */
static long search(astro_bm25 *ix, const char *q, size_t k, const astro_filter *f,
                   uint64_t *keys, float *scores) {
    return astro_bm25_search(ix, q, strlen(q), k, f, keys, scores, NULL);
}

/* MaxScore pruning returns exactly the prefix of the exhaustive ranking (k =
 * all documents disables pruning), through the index's scratch and through a
 * second reader's scratch, also after deletes made docnos reusable. */
static void pruning_matches_exhaustive(void) {
    astro_bm25 *ix = NULL;
    astro_bm25_scratch *s1 = NULL;
    astro_err err;
    char text[256];
    uint64_t seed = 99;
    CHECK("bm25-8.0", astro_bm25_new(NULL, &ix, &err) == ASTRO_OK);
    for (uint64_t key = 0; key < 1500; key++) {
        size_t len = 0;
        for (int t = 0; t < 12; t++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned w = (unsigned)((seed >> 33) % 1000);
            w = w * w / 1000 / 4;   /* skewed towards small ids */
            len += (size_t)snprintf(text + len, sizeof text - len, "t%u ", w);
        }
        CHECK("bm25-8.1", add(ix, key, text, NULL) == ASTRO_OK);
        if (key % 7 == 3) astro_bm25_remove(ix, key - 2);
    }
    CHECK("bm25-8.2", astro_bm25_scratch_new(ix, &s1, &err) == ASTRO_OK);
    static const char *qs[] = { "t0 t1", "t5 t30 t200", "t3", "t100 t2 t7 t40", "t249 t0", "t17 t17 t9" };
    static uint64_t all[1500], top[10], top2[10];
    static float asc[1500], tsc[10], tsc2[10];
    int same = 1;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        long na = astro_bm25_search(ix, qs[i], strlen(qs[i]), 1500, NULL, all, asc, &err);
        long nt = astro_bm25_search(ix, qs[i], strlen(qs[i]), 10, NULL, top, tsc, &err);
        long n2 = astro_bm25_search_ctx(ix, s1, qs[i], strlen(qs[i]), 10, NULL, top2, tsc2, &err);
        same &= na > 0 && nt == (na < 10 ? na : 10) && n2 == nt;
        for (long j = 0; j < nt; j++)
            same &= top[j] == all[j] && tsc[j] == asc[j] && top2[j] == top[j] && tsc2[j] == tsc[j];
    }
    CHECK("bm25-8.3", same);
    astro_bm25 *other = NULL;
    astro_bm25_new(NULL, &other, &err);
    CHECK("bm25-8.4", astro_bm25_search_ctx(other, s1, "t0", 2, 10, NULL, top, tsc, &err) == ASTRO_EINVAL);
    CHECK("bm25-8.5", astro_bm25_scratch_bytes(s1) > 0);
    astro_bm25_free(other);
    astro_bm25_scratch_free(s1);
    astro_bm25_free(ix);
}

/* save -> load -> save is byte-exact, a loaded index ranks exactly as the
 * saved one (free docnos included) and keeps working under changes (lent
 * postings grow into memory of their own); bad data and other options fail
 * with ASTRO_EFORMAT; the file form round-trips too. */
static void snapshot_round_trip(void) {
    astro_bm25 *ix = NULL, *ld = NULL, *bad = NULL;
    astro_err err;
    char text[128];
    uint64_t seed = 7;
    CHECK("bm25-9.0", astro_bm25_new(NULL, &ix, &err) == ASTRO_OK);
    for (uint64_t key = 0; key < 600; key++) {
        size_t len = 0;
        for (int t = 0; t < 8; t++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            len += (size_t)snprintf(text + len, sizeof text - len, "w%u ", (unsigned)((seed >> 33) % 90));
        }
        astro_item_times tm = { (int64_t)key * 10, (int64_t)key * 20 };
        CHECK("bm25-9.1", add(ix, key + 1, text, &tm) == ASTRO_OK);
        if (key % 5 == 2) astro_bm25_remove(ix, key - 1);
    }
    add(ix, 5000, "w1 w2 w3 reused", NULL);   /* takes a freed docno */
    size_t n = astro_bm25_save_size(ix), len = 0, len2 = 0;
    unsigned char *a = malloc(n), *b = malloc(n);
    CHECK("bm25-9.2", a && b && astro_bm25_save_mem(ix, a, n - 1, &len, &err) == ASTRO_ERANGE);
    CHECK("bm25-9.3", astro_bm25_save_mem(ix, a, n, &len, &err) == ASTRO_OK && len == n);
    CHECK("bm25-9.4", astro_bm25_load_mem(a, len, NULL, &ld, &err) == ASTRO_OK);
    CHECK("bm25-9.5", astro_bm25_save_mem(ld, b, n, &len2, &err) == ASTRO_OK && len2 == n && memcmp(a, b, n) == 0);
    CHECK("bm25-9.6", astro_bm25_count(ld) == astro_bm25_count(ix) && astro_bm25_contains(ld, 5000) &&
                          !astro_bm25_contains(ld, 1) && astro_bm25_contains(ld, 2));
    static const char *qs[] = { "w1 w2", "w40 w41 w42", "w7", "reused w3", "w89 w0 w13 w55" };
    astro_filter f;
    astro_filter_init(&f);
    f.time_from = 1000, f.time_to = 4000;
    int same = 1;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
            uint64_t k1[20], k2[20];
            float s1[20], s2[20];
            for (int filt = 0; filt < 2; filt++) {
                long n1 = search(ix, qs[i], 20, filt ? &f : NULL, k1, s1);
                long n2 = search(ld, qs[i], 20, filt ? &f : NULL, k2, s2);
                same &= n1 > 0 && n1 == n2 && memcmp(k1, k2, (size_t)n1 * sizeof *k1) == 0 &&
                        memcmp(s1, s2, (size_t)n1 * sizeof *s1) == 0;
            }
        }
        /* the same changes on both: replacements, removals, new documents
         * (postings lent by the snapshot grow into their own memory) */
        for (uint64_t key = 1; key < 200; key += 3) {
            snprintf(text, sizeof text, "w%u w7 w7 fresh%u", (unsigned)(key % 13), (unsigned)key);
            add(ix, key, text, NULL);
            add(ld, key, text, NULL);
            astro_bm25_remove(ix, key + 1);
            astro_bm25_remove(ld, key + 1);
        }
        for (uint64_t key = 700; key < 900; key++) {
            snprintf(text, sizeof text, "w%u w1 later", (unsigned)(key % 17));
            add(ix, key, text, NULL);
            add(ld, key, text, NULL);
        }
    }
    CHECK("bm25-9.7", same);
    size_t nk = astro_bm25_count(ld);
    uint64_t *keys = malloc(nk * sizeof *keys);
    CHECK("bm25-9.8", keys && astro_bm25_keys(ld, keys, nk) == nk && astro_bm25_keys(ld, keys, 0) == nk);
    int all_in = 1;
    for (size_t i = 0; keys && i < nk; i++) all_in &= astro_bm25_contains(ld, keys[i]);
    CHECK("bm25-9.9", all_in);
    free(keys);

    /* corruption: a flipped byte, truncation, a foreign magic, other options */
    b[n / 2] ^= 0x40;
    CHECK("bm25-9.10", astro_bm25_load_mem(b, n, NULL, &bad, &err) == ASTRO_EFORMAT && bad == NULL);
    b[n / 2] ^= 0x40;
    CHECK("bm25-9.11", astro_bm25_load_mem(b, n - 8, NULL, &bad, &err) == ASTRO_EFORMAT);
    CHECK("bm25-9.12", astro_bm25_load_mem("short", 5, NULL, &bad, &err) == ASTRO_EFORMAT);
    astro_bm25_opts o;
    astro_bm25_opts_init(&o);
    o.tok.stem = 0;
    CHECK("bm25-9.13", astro_bm25_load_mem(a, n, &o, &bad, &err) == ASTRO_EFORMAT && bad == NULL &&
                           strstr(err.msg, "other options") != NULL);
    b[0] = 'X';
    CHECK("bm25-9.14", astro_bm25_load_mem(b, n, NULL, &bad, &err) == ASTRO_EFORMAT);

    /* file round trip: mapped, used in place, changed, saved again */
    const char *path = "test_bm25.bin";
    astro_bm25 *fl = NULL;
    CHECK("bm25-9.15", astro_bm25_save(ld, path, &err) == ASTRO_OK);
    CHECK("bm25-9.16", astro_bm25_load(path, NULL, &fl, &err) == ASTRO_OK);
    remove(path);                           /* the mapping outlives the name */
    {
        uint64_t k1[10], k2[10];
        float s1[10], s2[10];
        add(fl, 9000, "w1 w2 w3 w4 brand new", NULL);
        add(ld, 9000, "w1 w2 w3 w4 brand new", NULL);
        astro_bm25_remove(fl, 2);
        astro_bm25_remove(ld, 2);
        long n1 = search(fl, "w1 w2 brand", 10, NULL, k1, s1);
        long n2 = search(ld, "w1 w2 brand", 10, NULL, k2, s2);
        CHECK("bm25-9.17", n1 == 10 && n1 == n2 && memcmp(k1, k2, sizeof k1) == 0 && memcmp(s1, s2, sizeof s1) == 0);
    }
    CHECK("bm25-9.18", astro_bm25_load("no/such/file", NULL, &bad, &err) == ASTRO_EIO && bad == NULL);

    /* a dictionary exactly as full as the index lets it get (48 terms in 64
     * slots) saves and loads (the fuzzer found the loader asking for one
     * more free slot than the index keeps) */
    astro_bm25 *full = NULL, *back = NULL;
    CHECK("bm25-9.19", astro_bm25_new(NULL, &full, &err) == ASTRO_OK);
    for (unsigned i = 0; i < 48; i++) {
        snprintf(text, sizeof text, "t%u", i);
        add(full, i, text, NULL);
    }
    size_t fn = astro_bm25_save_size(full), fl2 = 0;
    unsigned char *fb = malloc(fn);
    CHECK("bm25-9.20", fb && astro_bm25_save_mem(full, fb, fn, &fl2, &err) == ASTRO_OK &&
                           astro_bm25_load_mem(fb, fl2, NULL, &back, &err) == ASTRO_OK && astro_bm25_count(back) == 48);
    add(back, 100, "t47 t48 t49", NULL);
    uint64_t k1[4];
    float s1[4];
    CHECK("bm25-9.21", search(back, "t49", 4, NULL, k1, s1) == 1 && k1[0] == 100);
    /* a dictionary slot naming a term that does not exist (the fuzzer's
     * second find: the check stopped there and counted what it had seen) */
    {
        uint64_t h[14];
        memcpy(h, fb + 16, sizeof h);   /* terms, arena, slots, docs, free, total, postings, fwd, dict */
        size_t at = 16 + 8 * 14 + (size_t)(h[5] * 24 + h[11] * 8 + h[7] * 32 + h[12] * 4 + h[9] * 4);
        size_t e = (size_t)h[13];   /* the last empty slot: met after every real one */
        uint32_t id = 0, bogus = 200;
        while (e > 0 && (memcpy(&id, fb + at + 4 * (e - 1), 4), id != UINT32_MAX)) e--;
        CHECK("bm25-9.22", e > 0);
        e--;
        memcpy(fb + at + 4 * e, &bogus, 4);
        uint64_t sum = astro__checksum(fb, fl2 - 8);
        memcpy(fb + fl2 - 8, &sum, 8);
        CHECK("bm25-9.23", astro_bm25_load_mem(fb, fl2, NULL, &bad, &err) == ASTRO_EFORMAT && bad == NULL);
    }
    free(fb);
    astro_bm25_free(back);
    astro_bm25_free(full);
    astro_bm25_free(fl);
    astro_bm25_free(ld);
    astro_bm25_free(ix);
    free(a);
    free(b);
}

int main(void) {
    astro_bm25 *ix = NULL;
    astro_err err;
    uint64_t keys[16];
    float sc[16];
    const double k1 = 1.2, b = 0.75;

    CHECK("bm25-1.0", astro_bm25_new(NULL, &ix, &err) == ASTRO_OK);
    CHECK("bm25-1.1", search(ix, "fox", 5, NULL, keys, sc) == 0);
    /* Tokens: d1 quick brown fox (3); d2 lazy dog quick cat (4); d3 fox fox fox jump (4). */
    CHECK("bm25-1.2", add(ix, 1, "The quick brown fox", NULL) == ASTRO_OK);
    CHECK("bm25-1.3", add(ix, 2, "the lazy dog and the quick cat", NULL) == ASTRO_OK);
    CHECK("bm25-1.4", add(ix, 3, "fox fox fox jumps", NULL) == ASTRO_OK);
    CHECK("bm25-1.5", astro_bm25_count(ix) == 3 && astro_bm25_bytes(ix) > 0);

    double avg = 11.0 / 3.0;
    double s1 = bm(1, 3, 2, 3, avg, k1, b) + bm(1, 3, 2, 3, avg, k1, b);
    double s2 = bm(1, 4, 2, 3, avg, k1, b);
    double s3 = bm(3, 4, 2, 3, avg, k1, b);
    CHECK("bm25-2.0", search(ix, "quick fox", 10, NULL, keys, sc) == 3);
    CHECK("bm25-2.1", keys[0] == 1 && fabs(sc[0] - s1) < 1e-5);
    CHECK("bm25-2.2", keys[1] == 3 && fabs(sc[1] - s3) < 1e-5);
    CHECK("bm25-2.3", keys[2] == 2 && fabs(sc[2] - s2) < 1e-5);
    /* Duplicated query terms count once; case and stemming match. */
    CHECK("bm25-2.4", search(ix, "QUICK quick Fox foxes", 10, NULL, keys, sc) == 3 && fabs(sc[0] - s1) < 1e-5);
    CHECK("bm25-2.5", search(ix, "jumping", 10, NULL, keys, sc) == 1 && keys[0] == 3 &&
                          fabs(sc[0] - bm(1, 4, 1, 3, avg, k1, b)) < 1e-5);
    CHECK("bm25-2.6", search(ix, "the and", 10, NULL, keys, sc) == 0);
    CHECK("bm25-2.7", search(ix, "zebra", 10, NULL, keys, sc) == 0);
    CHECK("bm25-2.8", search(ix, "quick fox", 1, NULL, keys, sc) == 1 && keys[0] == 1);
    CHECK("bm25-2.9", search(ix, "quick fox", 0, NULL, keys, sc) == 0);
    CHECK("bm25-2.10", search(ix, "", 5, NULL, keys, sc) == 0);

    /* Replace d3: now "brown cat" (2 tokens). N = 3, avgdl = 9/3. */
    CHECK("bm25-3.0", add(ix, 3, "brown cat", NULL) == ASTRO_OK && astro_bm25_count(ix) == 3);
    avg = 3.0;
    CHECK("bm25-3.1", search(ix, "fox", 10, NULL, keys, sc) == 1 && keys[0] == 1 &&
                          fabs(sc[0] - bm(1, 3, 1, 3, avg, k1, b)) < 1e-5);
    CHECK("bm25-3.2", search(ix, "cat", 10, NULL, keys, sc) == 2 && keys[0] == 3 &&
                          fabs(sc[0] - bm(1, 2, 2, 3, avg, k1, b)) < 1e-5 &&
                          fabs(sc[1] - bm(1, 4, 2, 3, avg, k1, b)) < 1e-5);
    /* Remove d1: N = 2, avgdl = 3. */
    CHECK("bm25-3.3", astro_bm25_remove(ix, 1) == 1 && astro_bm25_remove(ix, 1) == 0);
    CHECK("bm25-3.4", astro_bm25_count(ix) == 2 && search(ix, "fox", 10, NULL, keys, sc) == 0);
    CHECK("bm25-3.5", search(ix, "brown", 10, NULL, keys, sc) == 1 && keys[0] == 3 &&
                          fabs(sc[0] - bm(1, 2, 1, 2, 3.0, k1, b)) < 1e-5);
    /* Re-add d1 (reuses its docno). */
    CHECK("bm25-3.6", add(ix, 1, "The quick brown fox", NULL) == ASTRO_OK && astro_bm25_count(ix) == 3);
    CHECK("bm25-3.7", search(ix, "fox", 10, NULL, keys, sc) == 1 && keys[0] == 1);
    CHECK("bm25-3.8", search(ix, "brown", 10, NULL, keys, sc) == 2 && keys[0] == 3 && keys[1] == 1);

    /* Empty documents count in N and avgdl but never match. */
    CHECK("bm25-4.0", add(ix, 4, "", NULL) == ASTRO_OK && add(ix, 5, "the of and", NULL) == ASTRO_OK);
    CHECK("bm25-4.1", astro_bm25_count(ix) == 5);
    avg = 9.0 / 5.0;
    CHECK("bm25-4.2", search(ix, "fox", 10, NULL, keys, sc) == 1 &&
                          fabs(sc[0] - bm(1, 3, 1, 5, avg, k1, b)) < 1e-5);
    CHECK("bm25-4.3", astro_bm25_remove(ix, 4) == 1 && astro_bm25_remove(ix, 5) == 1);
    astro_bm25_free(ix);
    ix = NULL;

    /* Filters and ties: 6 identical docs, keys 0..5, occurred_at 10*key. */
    CHECK("bm25-5.0", astro_bm25_new(NULL, &ix, &err) == ASTRO_OK);
    for (uint64_t key = 6; key-- > 0;) {
        astro_item_times t = { (int64_t)(10 * key), key == 5 ? ASTRO_TIME_NONE : (int64_t)(100 + key) };
        CHECK("bm25-5.1", add(ix, key, "memory palace", &t) == ASTRO_OK);
    }
    CHECK("bm25-5.2", search(ix, "palace", 16, NULL, keys, sc) == 6 && keys[0] == 0 && keys[5] == 5 && sc[0] == sc[5]);
    astro_filter f;
    astro_filter_init(&f);
    uint8_t bits[1] = { 0x2A };   /* 1, 3, 5 */
    astro_keyset ks = { bits, 8 };
    f.allow = &ks;
    CHECK("bm25-5.3", search(ix, "palace", 16, &f, keys, sc) == 3 && keys[0] == 1 && keys[1] == 3 && keys[2] == 5);
    CHECK("bm25-5.4", search(ix, "palace", 2, &f, keys, sc) == 2 && keys[1] == 3);
    f.allow = NULL;
    f.time_from = 10;
    f.time_to = 30;
    CHECK("bm25-5.5", search(ix, "palace", 16, &f, keys, sc) == 3 && keys[0] == 1 && keys[2] == 3);
    f.time_from = f.time_to = ASTRO_TIME_NONE;
    f.as_of = 101;
    CHECK("bm25-5.6", search(ix, "palace", 16, &f, keys, sc) == 3 && keys[0] == 0 && keys[1] == 1 && keys[2] == 5);
    /* Scratch is reset between searches: same query, same scores. */
    CHECK("bm25-5.7", search(ix, "palace", 16, NULL, keys, sc) == 6 && fabs(sc[0] - 2 * bm(1, 2, 6, 6, 2, k1, b)) > 0 &&
                          fabs(sc[0] - bm(1, 2, 6, 6, 2, k1, b)) < 1e-5);
    astro_bm25_free(ix);
    ix = NULL;

    /* Options: b = 0 disables length normalization; invalid values rejected. */
    astro_bm25_opts o;
    astro_bm25_opts_init(&o);
    o.b = 0;
    o.k1 = 2.0;
    CHECK("bm25-6.0", astro_bm25_new(&o, &ix, &err) == ASTRO_OK);
    add(ix, 1, "apple", NULL);
    add(ix, 2, "apple banana cherry date", NULL);
    CHECK("bm25-6.1", search(ix, "apple", 5, NULL, keys, sc) == 2 && sc[0] == sc[1] && keys[0] == 1 &&
                          fabs(sc[0] - bm(1, 1, 2, 2, 2.5, 2.0, 0)) < 1e-5);
    astro_bm25_free(ix);
    ix = NULL;
    o.k1 = -1;
    CHECK("bm25-6.2", astro_bm25_new(&o, &ix, &err) == ASTRO_EINVAL && ix == NULL);
    o.k1 = 1.2;
    o.b = 1.5;
    CHECK("bm25-6.3", astro_bm25_new(&o, &ix, &err) == ASTRO_EINVAL);
    CHECK("bm25-6.4", astro_bm25_new(NULL, NULL, &err) == ASTRO_EINVAL);
    astro_bm25_free(NULL);

    /* Churn: 3000 docs over a 50-word vocabulary, remove two thirds, check df via
     * a single-term query's result count. */
    CHECK("bm25-7.0", astro_bm25_new(NULL, &ix, &err) == ASTRO_OK);
    char text[64];
    for (uint64_t key = 0; key < 3000; key++) {
        snprintf(text, sizeof text, "w%llu w%llu common", (unsigned long long)(key % 50),
                 (unsigned long long)(key % 7 + 100));
        CHECK("bm25-7.1", add(ix, key * 11, text, NULL) == ASTRO_OK);
    }
    for (uint64_t key = 0; key < 3000; key++)
        if (key % 3) CHECK("bm25-7.2", astro_bm25_remove(ix, key * 11) == 1);
    CHECK("bm25-7.3", astro_bm25_count(ix) == 1000);
    static uint64_t many[3000];
    static float msc[3000];
    CHECK("bm25-7.4", astro_bm25_search(ix, "common", 6, 3000, NULL, many, msc, &err) == 1000);
    /* keys key%3==0 with key%50==3: key = 3, 153, ... (150 apart) -> 20 docs. */
    CHECK("bm25-7.5", astro_bm25_search(ix, "w3", 2, 3000, NULL, many, msc, &err) == 20 && many[0] == 33);
    astro_bm25_free(ix);

    pruning_matches_exhaustive();
    snapshot_round_trip();
    return check_report("test_bm25");
}
