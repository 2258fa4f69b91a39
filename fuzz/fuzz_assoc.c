/*
** fuzz_assoc.c — the associative index: documents, removals and queries from
** arbitrary bytes. Input: an options byte (stem, stopwords, dim, nnz), a
** tuning byte (min_df, expand, min_sim), then operations until the input
** ends: add a document (key, times, text), remove a key, search (plain, with
** a filter, with seeds). Four fixed documents are indexed first. Every search
** returns only live keys that pass its filter, at most k, with positive finite
** scores ordered by score descending then key ascending. At the end a fresh
** index built from the live documents alone (in key order) must answer a
** query exactly as the churned one does: add and remove are exact inverses.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/assoc.h"
#include "fuzz_filter.h"
#include "internal.h"

#define NKEYS 24

typedef struct mdoc {
    int live;
    char *text;
    size_t len;
    astro_item_times times;
} mdoc;

static const char *const DOCS[] = {
    "We went hiking on the mountain trail in new boots.",
    "Trekking along the mountain trail with heavy boots.",
    "Pottery class: clay on the wheel, then the kiln.",
    "The glaze cracked in the kiln, pottery is hard.",
};

/* Searches and checks the invariants; returns the count (or -1). */
static long check_search(astro_assoc *a, const mdoc *docs, const char *q, size_t qlen,
                         const uint64_t *seeds, size_t nseeds, size_t k, const astro_filter *f,
                         uint64_t *keys, float *sc) {
    long n = astro_assoc_search(a, q, qlen, seeds, nseeds, k, f, keys, sc, NULL);
    FUZZ_CHECK(n >= 0 && (size_t)n <= k);
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(keys[i] < NKEYS && docs[keys[i]].live);
        if (keys[i] < NKEYS) FUZZ_CHECK(!f || astro__filter_pass(f, keys[i], &docs[keys[i]].times));
        FUZZ_CHECK(isfinite(sc[i]) && sc[i] > 0);
        if (i > 0) FUZZ_CHECK(sc[i] < sc[i - 1] || (sc[i] == sc[i - 1] && keys[i] > keys[i - 1]));
    }
    return n;
}

static void model_add(mdoc *d, const char *s, size_t len, const astro_item_times *t) {
    free(d->text);
    d->text = malloc(len ? len : 1);
    d->len = d->text ? len : 0;
    if (d->text && len) memcpy(d->text, s, len);
    d->live = 1;
    d->times = t ? *t : (astro_item_times){ ASTRO_TIME_NONE, ASTRO_TIME_NONE };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint32_t DIMS[] = { 128, 8, 64, 1 };
    static const uint32_t NNZ[] = { 8, 1, 2, 4 };
    static const double SIMS[] = { 0.2, 0.0, 0.5, 1.0 };
    fuzz_in in = { data, size };
    uint8_t ob = fi_u8(&in), tb = fi_u8(&in);
    astro_assoc_opts o;
    astro_assoc_opts_init(&o);
    o.tok.stem = ob & 1;
    o.tok.stopwords = (ob >> 1) & 1;
    o.dim = DIMS[(ob >> 2) & 3];
    o.nnz = NNZ[(ob >> 4) & 3];
    if (o.nnz > o.dim) o.nnz = o.dim;
    o.min_df = 1 + (tb & 3);
    o.expand = 1 + ((tb >> 2) & 15);
    o.min_sim = SIMS[(tb >> 6) & 3];

    astro_assoc *a = NULL, *fresh = NULL;
    mdoc docs[NKEYS];
    memset(docs, 0, sizeof docs);
    if (astro_assoc_new(&o, &a, NULL) != ASTRO_OK) return 0;
    for (uint64_t k = 0; k < 4; k++) {
        FUZZ_CHECK(astro_assoc_add(a, k + 1, DOCS[k], strlen(DOCS[k]), NULL, NULL) == ASTRO_OK);
        model_add(&docs[k + 1], DOCS[k], strlen(DOCS[k]), NULL);
    }
    uint64_t keys[NKEYS + 1], keys2[NKEYS + 1];
    float sc[NKEYS + 1], sc2[NKEYS + 1];
    const char *lastq = "hiking";
    size_t lastlen = 6;
    int ops = 0;
    while (in.n > 0 && ops++ < 64) {
        uint8_t op = fi_u8(&in);
        switch (op % 6) {
        case 0: case 1: {
            uint64_t key = fi_u8(&in) % NKEYS;
            uint8_t b = fi_u8(&in);
            astro_item_times t = { fi_time(b & 0x0F), fi_time(b >> 4) };
            size_t len;
            const char *s = (const char *)fi_piece(&in, 255, &len);
            FUZZ_CHECK(astro_assoc_add(a, key, s, len, (op & 8) ? &t : NULL, NULL) == ASTRO_OK);
            model_add(&docs[key], s, len, (op & 8) ? &t : NULL);
            break;
        }
        case 2: {
            uint64_t key = fi_u8(&in) % (NKEYS + 4);
            int had = key < NKEYS && docs[key].live;
            FUZZ_CHECK(astro_assoc_remove(a, key) == had);
            if (had) docs[key].live = 0;
            break;
        }
        case 3: {
            uint8_t bits[(NKEYS + 7) / 8];
            astro_keyset ks;
            astro_filter f;
            uint8_t fb = fi_filter(&in, bits, sizeof bits, NKEYS, 0, &ks, &f);
            size_t len;
            const char *q = (const char *)fi_piece(&in, 255, &len);
            check_search(a, docs, q, len, NULL, 0, 1 + (fb >> 4) % NKEYS, &f, keys, sc);
            break;
        }
        case 4: {
            uint64_t seeds[4];
            size_t ns = fi_u8(&in) % 5;
            for (size_t i = 0; i < ns; i++) seeds[i] = fi_u8(&in) % (NKEYS + 4);
            size_t len;
            const char *q = (const char *)fi_piece(&in, 255, &len);
            check_search(a, docs, q, len, seeds, ns, NKEYS + 1, NULL, keys, sc);
            break;
        }
        default: {
            size_t len;
            const char *q = (const char *)fi_piece(&in, 255, &len);
            check_search(a, docs, q, len, NULL, 0, NKEYS + 1, NULL, keys, sc);
            lastq = q;
            lastlen = len;
            break;
        }
        }
    }
    /* Exactness: a fresh index of the live documents answers the same. */
    if (astro_assoc_new(&o, &fresh, NULL) == ASTRO_OK) {
        int ok = 1;
        for (uint64_t k = 0; k < NKEYS && ok; k++)
            if (docs[k].live && docs[k].text)
                ok = astro_assoc_add(fresh, k, docs[k].text, docs[k].len, &docs[k].times, NULL) == ASTRO_OK;
        if (ok) {
            FUZZ_CHECK(astro_assoc_count(fresh) == astro_assoc_count(a));
            long n1 = check_search(a, docs, lastq, lastlen, NULL, 0, NKEYS + 1, NULL, keys, sc);
            long n2 = check_search(fresh, docs, lastq, lastlen, NULL, 0, NKEYS + 1, NULL, keys2, sc2);
            FUZZ_CHECK(n1 == n2);
            for (long i = 0; i < n1 && n1 == n2; i++)
                FUZZ_CHECK(keys[i] == keys2[i] && fabsf(sc[i] - sc2[i]) <= 1e-4f * (1 + sc[i]));
        }
    }
    for (int k = 0; k < NKEYS; k++) free(docs[k].text);
    astro_assoc_free(fresh);
    astro_assoc_free(a);
    return 0;
}
