/*
** bm25.c — an incremental Okapi BM25 inverted index keyed by uint64.
**
** Keys map (hash, internal.h) to dense document numbers so per-document data
** and the search accumulator are plain arrays; freed numbers are reused. Terms
** live in an open-addressing dictionary whose bytes sit in one arena. Each term
** owns a postings array of (docno, tf). Every document keeps the list of its
** distinct term ids, so removal deletes its postings eagerly: df, N and the
** total length (hence avgdl) are always exact, and search never meets a stale
** posting. Search accumulates into a reusable dense score array plus a
** touched-list, so it allocates nothing once the index is warm.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/bm25.h"
#include "internal.h"

typedef struct posting {
    uint32_t doc;
    uint32_t tf;
} posting;

typedef struct term {
    uint64_t hash;
    size_t off;        /* bytes in the arena */
    uint32_t len;
    uint32_t n;        /* postings = df */
    uint32_t cap;
    posting *post;
} term;

struct astro_bm25 {
    double k1, b;
    astro_tokenizer *tk;

    /* terms */
    term *terms;
    size_t nterms, terms_cap;
    uint32_t *tslots;  /* term ids or ASTRO__IDX_EMPTY */
    size_t tslots_cap;
    char *arena;
    size_t arena_len, arena_cap;

    /* documents, indexed by docno */
    size_t nslots;     /* docnos handed out (live + free) */
    size_t dcap;
    uint64_t *keys;
    uint32_t *dl;
    astro_item_times *times;
    uint32_t **fwd;    /* distinct term ids of the document */
    uint32_t *fwd_n;
    uint32_t *freelist;
    size_t nfree;
    astro__idxmap map; /* key -> docno */
    size_t ndocs;
    uint64_t total_len;

    /* scratch */
    double *acc;       /* dcap, all zero between searches */
    uint32_t *touched; /* dcap */
    uint32_t *tids;    /* token term ids of the text being added / queried */
    uint32_t *tfs;
    size_t tids_n, tids_cap;
    int rc;            /* error raised inside a tokenizer callback */
};

/* Fills opts with the defaults. */
void astro_bm25_opts_init(astro_bm25_opts *opts) {
    if (!opts) return;
    opts->k1 = 1.2;
    opts->b = 0.75;
    opts->tok.stem = 1;
    opts->tok.stopwords = 1;
    opts->tok.max_term_bytes = 0;
}

/* Creates an empty index; opts may be NULL for the defaults. */
int astro_bm25_new(const astro_bm25_opts *opts, astro_bm25 **out, astro_err *err) {
    astro_bm25_opts o;
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "bm25: out is NULL");
    *out = NULL;
    astro_bm25_opts_init(&o);
    if (opts) o = *opts;
    if (o.k1 == 0) o.k1 = 1.2;
    if (o.b < 0) o.b = 0.75;
    if (!(o.k1 > 0) || !isfinite(o.k1))
        return astro_err_set(err, ASTRO_EINVAL, "bm25: k1 must be positive and finite");
    if (!(o.b <= 1))
        return astro_err_set(err, ASTRO_EINVAL, "bm25: b must be in [0, 1]");
    astro_bm25 *ix = calloc(1, sizeof *ix);
    if (!ix) return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
    ix->k1 = o.k1;
    ix->b = o.b;
    int rc = astro_tokenizer_new(&o.tok, &ix->tk, err);
    if (rc) {
        free(ix);
        return rc;
    }
    *out = ix;
    return ASTRO_OK;
}

/* Frees the index; NULL-safe. */
void astro_bm25_free(astro_bm25 *ix) {
    if (!ix) return;
    astro_tokenizer_free(ix->tk);
    for (size_t i = 0; i < ix->nterms; i++) free(ix->terms[i].post);
    free(ix->terms);
    free(ix->tslots);
    free(ix->arena);
    for (size_t d = 0; d < ix->nslots; d++) free(ix->fwd[d]);
    free(ix->keys);
    free(ix->dl);
    free(ix->times);
    free(ix->fwd);
    free(ix->fwd_n);
    free(ix->freelist);
    astro__idxmap_free(&ix->map);
    free(ix->acc);
    free(ix->touched);
    free(ix->tids);
    free(ix->tfs);
    free(ix);
}

/* Returns p reallocated to n elements of size sz, or NULL (p still valid). */
static void *grow_arr(void *p, size_t sz, size_t n) {
    if (n > SIZE_MAX / sz) return NULL;
    return realloc(p, n * sz);
}

/* Grows array ptr to n elements, running onfail if that is impossible. */
#define GROW_OR(ptr, n, onfail)                                   \
    do {                                                          \
        void *q_ = grow_arr((ptr), sizeof *(ptr), (n));           \
        if (!q_) { onfail; }                                      \
        (ptr) = q_;                                               \
    } while (0)

/* ---- term dictionary ---------------------------------------------------- */

/* Returns the id of term w[0..n) with hash h, or ASTRO__IDX_EMPTY. */
static uint32_t term_find(const astro_bm25 *ix, const char *w, size_t n, uint64_t h) {
    if (!ix->tslots_cap) return ASTRO__IDX_EMPTY;
    size_t mask = ix->tslots_cap - 1;
    for (size_t p = (size_t)h & mask;; p = (p + 1) & mask) {
        uint32_t id = ix->tslots[p];
        if (id == ASTRO__IDX_EMPTY) return id;
        const term *t = &ix->terms[id];
        if (t->hash == h && t->len == n && memcmp(ix->arena + t->off, w, n) == 0) return id;
    }
}

/* Places term id in the dictionary table. */
static void term_place(uint32_t *slots, size_t mask, uint64_t h, uint32_t id) {
    size_t p = (size_t)h & mask;
    while (slots[p] != ASTRO__IDX_EMPTY) p = (p + 1) & mask;
    slots[p] = id;
}

/* Returns the id of w[0..n), creating the term if new; sets ix->rc and returns
 * ASTRO__IDX_EMPTY on allocation failure. */
static uint32_t term_intern(astro_bm25 *ix, const char *w, size_t n) {
    uint64_t h = astro__mix64(astro__fnv1a64(w, n, ASTRO__FNV_OFFSET));
    uint32_t id = term_find(ix, w, n, h);
    if (id != ASTRO__IDX_EMPTY) return id;
    if (ix->nterms >= ASTRO__IDX_EMPTY - 1) goto oom;
    if ((ix->nterms + 1) > ix->tslots_cap / 4 * 3) {
        size_t ncap = ix->tslots_cap ? ix->tslots_cap * 2 : 64;
        uint32_t *slots = malloc(ncap * sizeof *slots);
        if (!slots) goto oom;
        memset(slots, 0xff, ncap * sizeof *slots);
        for (size_t i = 0; i < ix->nterms; i++) term_place(slots, ncap - 1, ix->terms[i].hash, (uint32_t)i);
        free(ix->tslots);
        ix->tslots = slots;
        ix->tslots_cap = ncap;
    }
    if (ix->nterms == ix->terms_cap) {
        size_t ncap = ix->terms_cap ? ix->terms_cap * 2 : 64;
        GROW_OR(ix->terms, ncap, goto oom);
        ix->terms_cap = ncap;
    }
    if (ix->arena_len + n > ix->arena_cap) {
        size_t ncap = ix->arena_cap ? ix->arena_cap : 1024;
        while (ncap < ix->arena_len + n) ncap *= 2;
        GROW_OR(ix->arena, ncap, goto oom);
        ix->arena_cap = ncap;
    }
    memcpy(ix->arena + ix->arena_len, w, n);
    id = (uint32_t)ix->nterms++;
    term *t = &ix->terms[id];
    t->hash = h;
    t->off = ix->arena_len;
    t->len = (uint32_t)n;
    t->n = t->cap = 0;
    t->post = NULL;
    ix->arena_len += n;
    term_place(ix->tslots, ix->tslots_cap - 1, h, id);
    return id;
oom:
    ix->rc = ASTRO_ENOMEM;
    return ASTRO__IDX_EMPTY;
}

/* Appends id to the tids scratch; returns non-zero (stop) on failure. */
static int tids_push(astro_bm25 *ix, uint32_t id) {
    if (ix->tids_n == ix->tids_cap) {
        size_t ncap = ix->tids_cap ? ix->tids_cap * 2 : 256;
        GROW_OR(ix->tids, ncap, ix->rc = ASTRO_ENOMEM; return 1);
        GROW_OR(ix->tfs, ncap, ix->rc = ASTRO_ENOMEM; return 1);
        ix->tids_cap = ncap;
    }
    ix->tids[ix->tids_n++] = id;
    return 0;
}

/* Tokenizer callback for documents: interns every token. */
static int on_doc_token(const astro_token *tok, void *ud) {
    astro_bm25 *ix = ud;
    uint32_t id = term_intern(ix, tok->term, tok->term_len);
    if (id == ASTRO__IDX_EMPTY) return 1;
    return tids_push(ix, id);
}

/* Tokenizer callback for queries: looks terms up, skipping unknown ones. */
static int on_query_token(const astro_token *tok, void *ud) {
    astro_bm25 *ix = ud;
    uint64_t h = astro__mix64(astro__fnv1a64(tok->term, tok->term_len, ASTRO__FNV_OFFSET));
    uint32_t id = term_find(ix, tok->term, tok->term_len, h);
    if (id == ASTRO__IDX_EMPTY) return 0;
    return tids_push(ix, id);
}

/* Orders term ids ascending for qsort. */
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts tids and collapses runs into distinct ids with counts in tfs;
 * returns the number of distinct ids. */
static size_t tids_collapse(astro_bm25 *ix) {
    size_t n = ix->tids_n, m = 0;
    if (n == 0) return 0;
    qsort(ix->tids, n, sizeof *ix->tids, cmp_u32);
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && ix->tids[m - 1] == ix->tids[i]) {
            ix->tfs[m - 1]++;
        } else {
            ix->tids[m] = ix->tids[i];
            ix->tfs[m] = 1;
            m++;
        }
    }
    return m;
}

/* ---- documents ---------------------------------------------------------- */

/* Grows every docno-indexed array to hold one more slot. Returns ASTRO_ENOMEM
 * on failure; arrays that already grew stay valid and dcap is unchanged. */
static int docs_reserve(astro_bm25 *ix) {
    if (ix->nfree > 0 || ix->nslots < ix->dcap) return ASTRO_OK;
    if (ix->dcap >= ASTRO__IDX_EMPTY / 2) return ASTRO_ENOMEM;
    size_t ncap = ix->dcap ? ix->dcap * 2 : 64;
    GROW_OR(ix->keys, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->dl, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->times, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->fwd, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->fwd_n, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->freelist, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->touched, ncap, return ASTRO_ENOMEM);
    GROW_OR(ix->acc, ncap, return ASTRO_ENOMEM);
    memset(ix->acc + ix->dcap, 0, (ncap - ix->dcap) * sizeof *ix->acc);
    ix->dcap = ncap;
    return ASTRO_OK;
}

/* Drops docno's postings and forward list and its share of N and avgdl. */
static void doc_unlink(astro_bm25 *ix, uint32_t d) {
    for (uint32_t i = 0; i < ix->fwd_n[d]; i++) {
        term *t = &ix->terms[ix->fwd[d][i]];
        for (uint32_t j = 0; j < t->n; j++) {
            if (t->post[j].doc == d) {
                t->post[j] = t->post[--t->n];   /* order is irrelevant to scoring */
                break;
            }
        }
    }
    free(ix->fwd[d]);
    ix->fwd[d] = NULL;
    ix->fwd_n[d] = 0;
    ix->ndocs--;
    ix->total_len -= ix->dl[d];
}

/* Indexes text under key, replacing an earlier document. Everything that can
 * fail is done before the old document is touched. */
int astro_bm25_add(astro_bm25 *ix, uint64_t key, const char *s, size_t len,
                   const astro_item_times *times, astro_err *err) {
    if (!ix || (!s && len)) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    ix->tids_n = 0;
    ix->rc = ASTRO_OK;
    if (len) astro_tokenize(ix->tk, s, len, on_doc_token, ix);
    if (ix->rc) return astro_err_set(err, ix->rc, "bm25: out of memory");
    if (ix->tids_n > UINT32_MAX) return astro_err_set(err, ASTRO_ERANGE, "bm25: document too long");
    uint32_t dl = (uint32_t)ix->tids_n;
    size_t nd = tids_collapse(ix);

    for (size_t i = 0; i < nd; i++) {
        term *t = &ix->terms[ix->tids[i]];
        if (t->n == t->cap) {
            uint32_t ncap = t->cap ? t->cap * 2 : 4;
            GROW_OR(t->post, ncap, goto oom);
            t->cap = ncap;
        }
    }
    uint32_t *fwd = NULL;
    if (nd) {
        fwd = malloc(nd * sizeof *fwd);
        if (!fwd) goto oom;
        memcpy(fwd, ix->tids, nd * sizeof *fwd);
    }
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    uint32_t d;
    if (pos != SIZE_MAX) {
        d = ix->map.slots[pos];
        doc_unlink(ix, d);
    } else {
        if (docs_reserve(ix) || astro__idxmap_reserve(&ix->map, ix->ndocs + 1, ix->keys)) {
            free(fwd);
            goto oom;
        }
        d = ix->nfree ? ix->freelist[--ix->nfree] : (uint32_t)ix->nslots++;
        ix->keys[d] = key;
        astro__idxmap_insert(&ix->map, ix->keys, key, d);
    }
    ix->dl[d] = dl;
    ix->times[d].occurred_at = times ? times->occurred_at : ASTRO_TIME_NONE;
    ix->times[d].retained_at = times ? times->retained_at : ASTRO_TIME_NONE;
    ix->fwd[d] = fwd;
    ix->fwd_n[d] = (uint32_t)nd;
    for (size_t i = 0; i < nd; i++) {
        term *t = &ix->terms[ix->tids[i]];
        t->post[t->n].doc = d;
        t->post[t->n].tf = ix->tfs[i];
        t->n++;
    }
    ix->ndocs++;
    ix->total_len += dl;
    return ASTRO_OK;
oom:
    return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
}

/* Removes key; returns 1 if it was indexed. */
int astro_bm25_remove(astro_bm25 *ix, uint64_t key) {
    if (!ix) return 0;
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    if (pos == SIZE_MAX) return 0;
    uint32_t d = ix->map.slots[pos];
    astro__idxmap_erase_at(&ix->map, ix->keys, pos);
    doc_unlink(ix, d);
    ix->freelist[ix->nfree++] = d;   /* freelist has dcap room, never fails */
    return 1;
}

/* Returns the number of indexed documents. */
size_t astro_bm25_count(const astro_bm25 *ix) { return ix ? ix->ndocs : 0; }

/* Returns the bytes allocated by the index, scratch included. */
size_t astro_bm25_bytes(const astro_bm25 *ix) {
    if (!ix) return 0;
    size_t b = sizeof *ix + ix->terms_cap * sizeof(term) + ix->tslots_cap * sizeof(uint32_t) +
               ix->arena_cap + ix->map.cap * sizeof(uint32_t) + ix->tids_cap * 2 * sizeof(uint32_t);
    for (size_t i = 0; i < ix->nterms; i++) b += ix->terms[i].cap * sizeof(posting);
    for (size_t d = 0; d < ix->nslots; d++) b += ix->fwd_n[d] * sizeof(uint32_t);
    b += ix->dcap * (sizeof(uint64_t) + sizeof(uint32_t) * 4 + sizeof(astro_item_times) +
                     sizeof(uint32_t *) + sizeof(double));
    return b;
}

/* Top-k BM25 search; returns the number of results or a negative code. */
long astro_bm25_search(astro_bm25 *ix, const char *q, size_t qlen, size_t k,
                       const astro_filter *filter, uint64_t *keys, float *scores,
                       astro_err *err) {
    if (!ix || (!q && qlen)) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    if (k == 0 || ix->ndocs == 0 || qlen == 0) return 0;
    if (!keys || !scores) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL output buffer");
    ix->tids_n = 0;
    ix->rc = ASTRO_OK;
    astro_tokenize(ix->tk, q, qlen, on_query_token, ix);
    if (ix->rc) return astro_err_set(err, ix->rc, "bm25: out of memory");
    size_t nq = tids_collapse(ix);   /* repeated query terms count once */

    const double k1 = ix->k1, b = ix->b;
    const double N = (double)ix->ndocs;
    const double avgdl = (double)ix->total_len / N;
    size_t nt = 0;
    for (size_t i = 0; i < nq; i++) {
        const term *t = &ix->terms[ix->tids[i]];
        if (t->n == 0) continue;
        double df = t->n;
        double idf = log(1.0 + (N - df + 0.5) / (df + 0.5));
        for (uint32_t j = 0; j < t->n; j++) {
            uint32_t d = t->post[j].doc;
            double tf = t->post[j].tf;
            double norm = k1 * (1.0 - b + b * (double)ix->dl[d] / avgdl);
            if (ix->acc[d] == 0) ix->touched[nt++] = d;
            ix->acc[d] += idf * tf * (k1 + 1.0) / (tf + norm);
        }
    }
    astro__topk top = { keys, scores, 0, k };
    for (size_t i = 0; i < nt; i++) {
        uint32_t d = ix->touched[i];
        if (!filter || astro__filter_pass(filter, ix->keys[d], &ix->times[d]))
            astro__topk_push(&top, (float)ix->acc[d], ix->keys[d]);
        ix->acc[d] = 0;
    }
    return (long)astro__topk_finish(&top);
}
