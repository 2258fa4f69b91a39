/*
** fuzz_bm25.c — the BM25 index: documents and queries from arbitrary bytes.
** Input: an options byte (stem, stopwords, b, k1, max term bytes), then
** operations until the input ends: add a document (key, times, text),
** remove a key, search (plain, with a filter, with a separate scratch).
** Four fixed documents are indexed first. Every search is checked against a
** model built with the same tokenizer: with k above the document count the
** result set is exactly the live documents that share a term with the query
** (and pass the filter), ordered by score descending then key ascending,
** scores positive and finite; a smaller k returns a prefix of that ranking
** (MaxScore pruning must not change it); astro_bm25_search and
** astro_bm25_search_ctx agree.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/bm25.h"
#include "fuzz_filter.h"
#include "internal.h"

#define NKEYS 24

typedef struct mdoc {
    int live;
    uint64_t *terms;   /* hashes of the distinct terms, unsorted */
    size_t nterms;
    astro_item_times times;
} mdoc;

typedef struct collect {
    uint64_t *h;
    size_t n, cap;
    int oom;
} collect;

static uint64_t term_hash(const char *t, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)t[i]) * 0x100000001b3ULL;
    return h;
}

static int on_term(const astro_token *t, void *ud) {
    collect *c = ud;
    uint64_t h = term_hash(t->term, t->term_len);
    for (size_t i = 0; i < c->n; i++)
        if (c->h[i] == h) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        uint64_t *p = realloc(c->h, cap * sizeof *p);
        if (!p) {
            c->oom = 1;
            return 1;
        }
        c->h = p;
        c->cap = cap;
    }
    c->h[c->n++] = h;
    return 0;
}

static int shares(const mdoc *d, const collect *q) {
    for (size_t i = 0; i < d->nterms; i++)
        for (size_t j = 0; j < q->n; j++)
            if (d->terms[i] == q->h[j]) return 1;
    return 0;
}

static const char *const DOCS[] = {
    "Caroline moved to Berlin in 2021 and started running every morning.",
    "The quarterly report: revenue grew 12% while costs fell; classes resume Monday.",
    "Melanie's dog Rex loves swimming at the lake near Hamburg.",
    "Running shoes, boxes of books and flies everywhere after the move.",
};

typedef struct world {
    astro_bm25 *ix;
    astro_tokenizer *tk;
    mdoc docs[NKEYS];
} world;

/* Runs one query and checks it against the model. */
static void check_query(world *w, const char *q, size_t qlen, const astro_filter *f, int use_ctx, size_t ksmall) {
    collect qc = { NULL, 0, 0, 0 };
    astro_tokenize(w->tk, q, qlen, on_term, &qc);
    if (qc.oom) goto out;
    size_t ndocs = astro_bm25_count(w->ix), nexp = 0, live = 0;
    int expect[NKEYS];
    for (int k = 0; k < NKEYS; k++) {
        expect[k] = 0;
        if (!w->docs[k].live) continue;
        live++;
        if (qlen && shares(&w->docs[k], &qc) && (!f || astro__filter_pass(f, (uint64_t)k, &w->docs[k].times))) {
            expect[k] = 1;
            nexp++;
        }
    }
    FUZZ_CHECK(live == ndocs);
    uint64_t keys[NKEYS + 1], keys2[NKEYS + 1];
    float sc[NKEYS + 1], sc2[NKEYS + 1];
    astro_err err;
    astro_bm25_scratch *s = NULL;
    if (use_ctx && astro_bm25_scratch_new(w->ix, &s, NULL) != ASTRO_OK) goto out;
    size_t kbig = NKEYS + 1;
    long n = s ? astro_bm25_search_ctx(w->ix, s, q, qlen, kbig, f, keys, sc, &err)
               : astro_bm25_search(w->ix, q, qlen, kbig, f, keys, sc, &err);
    FUZZ_CHECK(n >= 0 && (size_t)n == nexp);
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(keys[i] < NKEYS && expect[keys[i]]);
        expect[keys[i]] = 0;   /* each key once */
        FUZZ_CHECK(isfinite(sc[i]) && sc[i] > 0);
        if (i > 0) FUZZ_CHECK(sc[i] < sc[i - 1] || (sc[i] == sc[i - 1] && keys[i] > keys[i - 1]));
    }
    if (ksmall > 0 && ksmall < (size_t)n) {
        long m = s ? astro_bm25_search_ctx(w->ix, s, q, qlen, ksmall, f, keys2, sc2, &err)
                   : astro_bm25_search(w->ix, q, qlen, ksmall, f, keys2, sc2, &err);
        FUZZ_CHECK(m == (long)ksmall);
        FUZZ_CHECK(memcmp(keys, keys2, ksmall * sizeof *keys) == 0);
        FUZZ_CHECK(memcmp(sc, sc2, ksmall * sizeof *sc) == 0);
    }
    /* The other entry point gives the same answer. */
    long n2 = s ? astro_bm25_search(w->ix, q, qlen, kbig, f, keys2, sc2, &err)
                : 0;
    if (s) {
        FUZZ_CHECK(n2 == n);
        FUZZ_CHECK(n == 0 || (memcmp(keys, keys2, (size_t)n * sizeof *keys) == 0 &&
                              memcmp(sc, sc2, (size_t)n * sizeof *sc) == 0));
    }
    astro_bm25_scratch_free(s);
out:
    free(qc.h);
}

static void model_add(world *w, uint64_t key, const char *s, size_t len, const astro_item_times *t) {
    collect c = { NULL, 0, 0, 0 };
    astro_tokenize(w->tk, s, len, on_term, &c);
    mdoc *d = &w->docs[key];
    free(d->terms);
    d->terms = c.h;
    d->nterms = c.n;
    d->live = 1;
    d->times = t ? *t : (astro_item_times){ ASTRO_TIME_NONE, ASTRO_TIME_NONE };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const double BS[] = { 0.75, 0.0, 1.0, 0.3 };
    static const double K1S[] = { 1.2, 0.5, 3.0, 0.0 };
    static const size_t MAXT[] = { 0, 3, 8, 64 };
    fuzz_in in = { data, size };
    uint8_t ob = fi_u8(&in);
    astro_bm25_opts o;
    astro_bm25_opts_init(&o);
    o.tok.stem = ob & 1;
    o.tok.stopwords = (ob >> 1) & 1;
    o.b = BS[(ob >> 2) & 3];
    o.k1 = K1S[(ob >> 4) & 3];
    o.tok.max_term_bytes = MAXT[(ob >> 6) & 3];

    world w;
    memset(&w, 0, sizeof w);
    if (astro_bm25_new(&o, &w.ix, NULL) != ASTRO_OK) return 0;
    if (astro_tokenizer_new(&o.tok, &w.tk, NULL) != ASTRO_OK) goto done;
    for (uint64_t k = 0; k < 4; k++) {
        const char *d = DOCS[k];
        FUZZ_CHECK(astro_bm25_add(w.ix, k + 1, d, strlen(d), NULL, NULL) == ASTRO_OK);
        model_add(&w, k + 1, d, strlen(d), NULL);
    }
    int ops = 0;
    while (in.n > 0 && ops++ < 64) {
        uint8_t op = fi_u8(&in);
        switch (op % 8) {
        case 0: case 1: case 2: {
            uint64_t key = fi_u8(&in) % NKEYS;
            uint8_t tb = fi_u8(&in);
            astro_item_times t = { fi_time(tb & 0x0F), fi_time(tb >> 4) };
            size_t len;
            const char *s = (const char *)fi_piece(&in, 255, &len);
            int rc = astro_bm25_add(w.ix, key, s, len, (op & 8) ? &t : NULL, NULL);
            FUZZ_CHECK(rc == ASTRO_OK);
            model_add(&w, key, s, len, (op & 8) ? &t : NULL);
            break;
        }
        case 3: {
            uint64_t key = fi_u8(&in) % (NKEYS + 4);
            int had = key < NKEYS && w.docs[key].live;
            FUZZ_CHECK(astro_bm25_remove(w.ix, key) == had);
            if (had) w.docs[key].live = 0;
            break;
        }
        case 4: case 5: {
            size_t len;
            const char *q = (const char *)fi_piece(&in, 255, &len);
            check_query(&w, q, len, NULL, op & 1, (op >> 3) % 5);
            break;
        }
        case 6: {
            uint8_t bits[(NKEYS + 7) / 8];
            astro_keyset ks;
            astro_filter f;
            uint8_t fb = fi_filter(&in, bits, sizeof bits, NKEYS, 1, &ks, &f);
            size_t len;
            const char *q = (const char *)fi_piece(&in, 255, &len);
            check_query(&w, q, len, &f, fb >> 7, (fb >> 4) % 5);
            break;
        }
        default: {
            /* the rest of the input is one last query */
            check_query(&w, (const char *)in.p, in.n, NULL, op & 8, (op >> 4) % 5);
            in.n = 0;
            break;
        }
        }
    }
done:
    for (int k = 0; k < NKEYS; k++) free(w.docs[k].terms);
    astro_tokenizer_free(w.tk);
    astro_bm25_free(w.ix);
    return 0;
}
