/*
** bm25.c — an incremental Okapi BM25 inverted index keyed by uint64.
**
** Keys map (hash, internal.h) to dense document numbers so per-document data
** and the search accumulator are plain arrays; freed numbers are reused. Terms
** live in an open-addressing dictionary whose bytes sit in one arena. Each term
** owns a postings array of (docno, tf) sorted by docno (new documents append;
** a reused docno is inserted in place) plus upper bounds max tf and min
** document length, which stay valid (if loose) across deletes. Every document
** keeps the list of its distinct term ids, so removal deletes its postings
** eagerly: df, N and the total length (hence avgdl) are always exact.
** Search is document-at-a-time MaxScore (Turtle & Flood): query terms sorted
** by their score upper bound; terms whose bounds together cannot reach the
** current k-th score are "non-essential" and only probed (binary search) for
** documents the essential terms produce, and a candidate is dropped as soon
** as its partial score plus the remaining bounds falls below the k-th score.
** The result is exactly the exhaustive ranking. All per-query state lives in
** an astro_bm25_scratch, so concurrent readers each bring their own.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25_impl.h"

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
    ix->opts = o;
    int rc = astro_tokenizer_new(&o.tok, &ix->tk, err);
    if (rc == ASTRO_OK) rc = astro_bm25_scratch_new(ix, &ix->own, err);
    if (rc) {
        astro_tokenizer_free(ix->tk);
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
    for (size_t i = 0; i < ix->nterms; i++)
        if (!astro__bm25_lent(ix, ix->terms[i].post)) free(ix->terms[i].post);
    free(ix->terms);
    free(ix->tslots);
    free(ix->arena);
    astro__docs_free(&ix->docs);
    free(ix->dl);
    astro_bm25_scratch_free(ix->own);
    free(ix->tids);
    free(ix->tfs);
    astro__bm25_snap_free(ix);
    free(ix);
}

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

static uint64_t term_hash(const char *w, size_t n) {
    return astro__mix64(astro__fnv1a64(w, n, ASTRO__FNV_OFFSET));
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
    uint64_t h = term_hash(w, n);
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
        ASTRO__GROW_OR(ix->terms, ncap, goto oom);
        ix->terms_cap = ncap;
    }
    if (ix->arena_len + n > ix->arena_cap) {
        size_t ncap = ix->arena_cap ? ix->arena_cap : 1024;
        while (ncap < ix->arena_len + n) ncap *= 2;
        ASTRO__GROW_OR(ix->arena, ncap, goto oom);
        ix->arena_cap = ncap;
    }
    memcpy(ix->arena + ix->arena_len, w, n);
    id = (uint32_t)ix->nterms++;
    term *t = &ix->terms[id];
    t->hash = h;
    t->off = ix->arena_len;
    t->len = (uint32_t)n;
    t->n = t->cap = 0;
    t->max_tf = 0;
    t->min_dl = 0;
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
        ASTRO__GROW_OR(ix->tids, ncap, ix->rc = ASTRO_ENOMEM; return 1);
        ASTRO__GROW_OR(ix->tfs, ncap, ix->rc = ASTRO_ENOMEM; return 1);
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

/* Orders term ids ascending for qsort. */
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts ids[0..n) and collapses runs into distinct ids with counts in tfs;
 * returns the number of distinct ids. */
static size_t collapse(uint32_t *ids, uint32_t *tfs, size_t n) {
    size_t m = 0;
    if (n == 0) return 0;
    if (n <= 64) {   /* typical documents and queries: insertion sort beats qsort */
        for (size_t i = 1; i < n; i++) {
            uint32_t x = ids[i];
            size_t j = i;
            while (j > 0 && ids[j - 1] > x) {
                ids[j] = ids[j - 1];
                j--;
            }
            ids[j] = x;
        }
    } else {
        qsort(ids, n, sizeof *ids, cmp_u32);
    }
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && ids[m - 1] == ids[i]) {
            tfs[m - 1]++;
        } else {
            ids[m] = ids[i];
            tfs[m] = 1;
            m++;
        }
    }
    return m;
}

/* Returns the number of distinct document term ids, counts in ix->tfs. */
static size_t tids_collapse(astro_bm25 *ix) { return collapse(ix->tids, ix->tfs, ix->tids_n); }

/* Returns the first position in p[lo..n) whose doc is >= d. */
static uint32_t post_seek(const posting *p, uint32_t lo, uint32_t n, uint32_t d) {
    uint32_t hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p[mid].doc < d) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Doubles t's postings array (moving postings lent by a snapshot into an
 * allocation of their own); 0 or -1 when out of memory. */
static int post_grow(astro_bm25 *ix, term *t) {
    uint32_t ncap = t->cap ? t->cap * 2 : 4;
    if (t->cap && ncap <= t->cap) return -1;
    if (astro__bm25_lent(ix, t->post)) {
        posting *p = malloc((size_t)ncap * sizeof *p);
        if (!p) return -1;
        memcpy(p, t->post, t->n * sizeof *p);
        t->post = p;
    } else {
        ASTRO__GROW_OR(t->post, ncap, return -1);
    }
    t->cap = ncap;
    return 0;
}

/* ---- documents ---------------------------------------------------------- */

/* Drops docno's postings and forward list and its share of N and avgdl. */
static void doc_unlink(astro_bm25 *ix, uint32_t d) {
    for (uint32_t i = 0; i < ix->docs.fwd_n[d]; i++) {
        term *t = &ix->terms[ix->docs.fwd[d][i]];
        uint32_t j = post_seek(t->post, 0, t->n, d);
        if (j < t->n && t->post[j].doc == d) {
            memmove(t->post + j, t->post + j + 1, (t->n - j - 1) * sizeof *t->post);
            t->n--;
        }
    }
    astro__docs_drop_terms(&ix->docs, d);
    ix->docs.ndocs--;
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
        if (t->n == t->cap && post_grow(ix, t)) goto oom;
    }
    uint32_t *fwd, d;
    if (astro__docs_dup_terms(ix->tids, nd, &fwd)) goto oom;
    if (astro__docs_find(&ix->docs, key, &d)) {
        doc_unlink(ix, d);
    } else {
        if (astro__docs_reserve(&ix->docs, &ix->dl)) {
            free(fwd);
            goto oom;
        }
        d = astro__docs_insert(&ix->docs, key);
    }
    ix->dl[d] = dl;
    astro__docs_set(&ix->docs, d, times, fwd, nd);
    for (size_t i = 0; i < nd; i++) {
        term *t = &ix->terms[ix->tids[i]];
        uint32_t j = t->n;
        if (j > 0 && t->post[j - 1].doc > d) {   /* reused docno: keep doc order */
            j = post_seek(t->post, 0, t->n, d);
            memmove(t->post + j + 1, t->post + j, (t->n - j) * sizeof *t->post);
        }
        t->post[j].doc = d;
        t->post[j].tf = ix->tfs[i];
        if (t->n == 0 || ix->tfs[i] > t->max_tf) t->max_tf = ix->tfs[i];
        if (t->n == 0 || dl < t->min_dl) t->min_dl = dl;
        t->n++;
    }
    ix->docs.ndocs++;
    ix->total_len += dl;
    return ASTRO_OK;
oom:
    return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
}

/* Removes key; returns 1 if it was indexed. */
int astro_bm25_remove(astro_bm25 *ix, uint64_t key) {
    if (!ix) return 0;
    uint32_t d;
    if (!astro__docs_erase(&ix->docs, key, &d)) return 0;
    doc_unlink(ix, d);
    return 1;
}

/* Returns the number of indexed documents. */
size_t astro_bm25_count(const astro_bm25 *ix) { return ix ? ix->docs.ndocs : 0; }

int astro_bm25_contains(const astro_bm25 *ix, uint64_t key) {
    uint32_t d;
    return ix && astro__docs_find(&ix->docs, key, &d);
}

size_t astro_bm25_keys(const astro_bm25 *ix, uint64_t *keys, size_t cap) {
    if (!ix) return 0;
    const astro__docs *dt = &ix->docs;
    size_t n = 0;
    for (size_t d = 0; d < dt->nslots; d++) {
        uint32_t at;   /* a docno without terms may be free: is its key still its own? */
        if (!dt->fwd_n[d] && (!astro__docs_find(dt, dt->keys[d], &at) || at != d)) continue;
        if (n < cap) keys[n] = dt->keys[d];
        n++;
    }
    return n;
}

/* Returns the bytes allocated by the index, scratch included. */
size_t astro_bm25_bytes(const astro_bm25 *ix) {
    if (!ix) return 0;
    size_t b = sizeof *ix + ix->terms_cap * sizeof(term) + ix->tslots_cap * sizeof(uint32_t) +
               ix->arena_cap + ix->tids_cap * 2 * sizeof(uint32_t) +
               astro__docs_bytes(&ix->docs) + ix->docs.dcap * sizeof(uint32_t);
    for (size_t i = 0; i < ix->nterms; i++) b += ix->terms[i].cap * sizeof(posting);
    return b + astro_bm25_scratch_bytes(ix->own);
}

/* Top-k BM25 search with the index's own scratch (not for concurrent use). */
long astro_bm25_search(astro_bm25 *ix, const char *q, size_t qlen, size_t k,
                       const astro_filter *filter, uint64_t *keys, float *scores,
                       astro_err *err) {
    if (!ix) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    return astro_bm25_search_ctx(ix, ix->own, q, qlen, k, filter, keys, scores, err);
}

/* ---- search scratch and MaxScore ------------------------------------------------ */

/* Creates a scratch for ix (its own tokenizer and term arrays). */
int astro_bm25_scratch_new(const astro_bm25 *ix, astro_bm25_scratch **out, astro_err *err) {
    if (!ix || !out) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    *out = NULL;
    astro_bm25_scratch *s = calloc(1, sizeof *s);
    if (!s) return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
    s->ix = ix;
    int rc = astro_tokenizer_new(&ix->opts.tok, &s->tk, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->tids_cap = s->qt_cap = 32;
    s->tids = malloc(s->tids_cap * sizeof *s->tids);
    s->tfs = malloc(s->tids_cap * sizeof *s->tfs);
    s->qt = malloc(s->qt_cap * sizeof *s->qt);
    s->contrib = malloc(s->qt_cap * sizeof *s->contrib);
    s->prefix = malloc(s->qt_cap * sizeof *s->prefix);
    if (!s->tids || !s->tfs || !s->qt || !s->contrib || !s->prefix) {
        astro_bm25_scratch_free(s);
        return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
    }
    *out = s;
    return ASTRO_OK;
}

/* Frees a scratch; NULL-safe. */
void astro_bm25_scratch_free(astro_bm25_scratch *s) {
    if (!s) return;
    astro_tokenizer_free(s->tk);
    free(s->tids), free(s->tfs), free(s->qt), free(s->contrib), free(s->prefix);
    free(s);
}

/* Returns the bytes held by a scratch. */
size_t astro_bm25_scratch_bytes(const astro_bm25_scratch *s) {
    if (!s) return 0;
    return sizeof *s + s->tids_cap * 2 * sizeof(uint32_t) +
           s->qt_cap * (sizeof(qterm) + 2 * sizeof(double)) + 64;
}

/* Tokenizer callback for queries: collects known term ids (grows the arrays
 * only for a query longer than any before). */
static int on_query_token(const astro_token *tok, void *ud) {
    astro_bm25_scratch *s = ud;
    uint64_t h = astro__mix64(astro__fnv1a64(tok->term, tok->term_len, ASTRO__FNV_OFFSET));
    uint32_t id = term_find(s->ix, tok->term, tok->term_len, h);
    if (id == ASTRO__IDX_EMPTY) return 0;
    if (s->tids_n == s->tids_cap) {
        size_t ncap = s->tids_cap * 2;
        ASTRO__GROW_OR(s->tids, ncap, s->rc = ASTRO_ENOMEM; return 1);
        ASTRO__GROW_OR(s->tfs, ncap, s->rc = ASTRO_ENOMEM; return 1);
        s->tids_cap = ncap;
    }
    s->tids[s->tids_n++] = id;
    return 0;
}

/* Orders query terms by upper bound ascending. */
static int cmp_qterm(const void *a, const void *b) {
    const qterm *x = a, *y = b;
    if (x->ub != y->ub) return x->ub < y->ub ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Returns 1 when bound cannot reach theta, with slack for rounding (theta is
 * a float-rounded score, so it can sit slightly above the double it came from). */
static int below(double bound, double theta) { return bound * (1.0 + 1e-6) + 1e-9 < theta; }

/* Top-k BM25 search with caller-owned scratch; see bm25.h. */
long astro_bm25_search_ctx(const astro_bm25 *ix, astro_bm25_scratch *s, const char *q, size_t qlen,
                           size_t k, const astro_filter *filter, uint64_t *keys, float *scores,
                           astro_err *err) {
    if (!ix || !s || (!q && qlen)) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    if (s->ix != ix) return astro_err_set(err, ASTRO_EINVAL, "bm25: scratch belongs to another index");
    if (k == 0 || ix->docs.ndocs == 0 || qlen == 0) return 0;
    if (!keys || !scores) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL output buffer");
    s->tids_n = 0;
    s->rc = ASTRO_OK;
    astro_tokenize(s->tk, q, qlen, on_query_token, s);
    if (s->rc) return astro_err_set(err, s->rc, "bm25: out of memory");
    size_t nq = collapse(s->tids, s->tfs, s->tids_n);   /* repeated query terms count once */
    if (nq > s->qt_cap) {
        ASTRO__GROW_OR(s->qt, nq, return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory"));
        ASTRO__GROW_OR(s->contrib, nq, return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory"));
        ASTRO__GROW_OR(s->prefix, nq, return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory"));
        s->qt_cap = nq;
    }
    const double k1 = ix->k1, b = ix->b;
    const double N = (double)ix->docs.ndocs;
    const double avgdl = (double)ix->total_len / N;
    const double c1 = k1 * (1.0 - b), c2 = k1 * b / avgdl;
    size_t m = 0;
    for (size_t i = 0; i < nq; i++) {
        const term *t = &ix->terms[s->tids[i]];
        if (t->n == 0) continue;
        qterm *x = &s->qt[m];
        double df = t->n, mt = t->max_tf;
        x->p = t->post;
        x->n = t->n;
        x->pos = 0;
        x->order = (uint32_t)m;
        x->idf = log(1.0 + (N - df + 0.5) / (df + 0.5));
        x->ub = x->idf * mt * (k1 + 1.0) / (mt + c1 + c2 * (double)t->min_dl);
        m++;
    }
    astro__topk top = { keys, scores, 0, k };
    if (m == 0) return 0;
    qsort(s->qt, m, sizeof *s->qt, cmp_qterm);
    double acc = 0;
    for (size_t i = 0; i < m; i++) s->prefix[i] = acc += s->qt[i].ub;
    double theta = -1.0;   /* k-th best score once the heap is full */
    size_t e = 0;          /* qt[0..e) are non-essential */
    for (;;) {
        uint32_t d = UINT32_MAX;
        for (size_t i = e; i < m; i++)
            if (s->qt[i].pos < s->qt[i].n && s->qt[i].p[s->qt[i].pos].doc < d) d = s->qt[i].p[s->qt[i].pos].doc;
        if (d == UINT32_MAX) break;
        int pass = !filter || astro__filter_pass(filter, ix->docs.keys[d], &ix->docs.times[d]);
        double part = 0, norm = c1 + c2 * (double)ix->dl[d];
        for (size_t i = 0; i < m; i++) s->contrib[i] = 0;
        for (size_t i = e; i < m; i++) {
            qterm *x = &s->qt[i];
            if (x->pos < x->n && x->p[x->pos].doc == d) {
                if (pass) {
                    double tf = x->p[x->pos].tf;
                    double c = x->idf * tf * (k1 + 1.0) / (tf + norm);
                    s->contrib[x->order] = c;
                    part += c;
                }
                x->pos++;
            }
        }
        if (!pass) continue;
        int dropped = 0;
        for (size_t i = e; i-- > 0;) {
            if (theta >= 0 && below(part + s->prefix[i], theta)) {
                dropped = 1;
                break;
            }
            qterm *x = &s->qt[i];
            x->pos = post_seek(x->p, x->pos, x->n, d);
            if (x->pos < x->n && x->p[x->pos].doc == d) {
                double tf = x->p[x->pos].tf;
                double c = x->idf * tf * (k1 + 1.0) / (tf + norm);
                s->contrib[x->order] = c;
                part += c;
            }
        }
        if (dropped || (theta >= 0 && below(part, theta))) continue;
        double sum = 0;   /* in term-id order, as the exhaustive sum would */
        for (size_t i = 0; i < m; i++) sum += s->contrib[i];
        astro__topk_push(&top, (float)sum, ix->docs.keys[d]);
        if (top.n == k) {
            theta = top.scores[0];
            while (e < m && below(s->prefix[e], theta)) e++;
        }
    }
    return (long)astro__topk_finish(&top);
}
