/*
** assoc.c — the associative index (assoc.h): random indexing over documents.
**
** Terms are interned by their 64-bit hash (thash, keys of tmap); a collision
** would merge two terms, which at 2^-64 per pair is accepted. Term t's context
** vector is ctx[t * dim .. +dim): int32 sums of the index vectors of the other
** distinct terms of every live document containing t. dsum is the sum over
** live documents of S_d (the sum of the index vectors of d's distinct terms),
** so dsum / N is the mean document vector and df(t) * dsum / N the context
** vector t would have if it occurred independently of everything; the
** residual r(t) = ctx(t) - df(t) * dsum / N is what association compares
** (the centring plays the role PPMI's expected count plays). Documents map
** to dense docnos (idxmap, freed numbers reused) with their distinct term ids
** (fwd), which removal uses to unlearn exactly; postings are unordered docno
** arrays (swap-removed). Search scratch (qv, acc, touched, picks) lives in
** the index, so one searcher at a time.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/assoc.h"
#include "astro/kernels.h"
#include "internal.h"

#define MAX_DIM 4096

typedef struct aterm {
    uint32_t df;       /* live documents containing the term = postings */
    uint32_t cap;
    uint32_t *post;    /* docnos, unordered */
} aterm;

typedef struct pick {
    uint32_t id;
    double sim;
} pick;

struct astro_assoc {
    astro_assoc_opts o;
    astro_tokenizer *tk;
    const astro_kernels *kern;   /* SIMD dot products for the term scan */

    /* terms, by id */
    aterm *terms;
    uint64_t *thash;   /* term hash of id (tmap's keys) */
    float *ctx;        /* nterms x dim; whole numbers (exact below 2^24) */
    size_t nterms, tcap;
    astro__idxmap tmap;
    int64_t *dsum;     /* dim: sum of S_d over live documents */

    /* documents, by docno; their term ids (docs.fwd) are in hash order */
    astro__docs docs;
    uint64_t total_terms;  /* sum of fwd_n over live documents */

    /* scratch */
    uint32_t *tids;
    size_t tids_n, tids_cap;
    int lookup_only;   /* tokenizer callback: query terms are not interned */
    int32_t *svec;     /* dim */
    float *fsvec;      /* dim: +-svec as floats, added to each term's context */
    double *qv, *mean; /* dim each */
    float *qvf, *meanf;   /* float copies for the kernels */
    float *acc;        /* per docno */
    uint32_t *touched;
    size_t acc_cap;
    pick *picks;       /* expand + 1 */
    int rc;
};

void astro_assoc_opts_init(astro_assoc_opts *opts) {
    if (!opts) return;
    opts->dim = 128;
    opts->nnz = 8;
    opts->min_df = 2;
    opts->expand = 16;
    opts->min_sim = 0.2;
    opts->tok.stem = 1;
    opts->tok.stopwords = 1;
    opts->tok.max_term_bytes = 0;
}

int astro_assoc_new(const astro_assoc_opts *opts, astro_assoc **out, astro_err *err) {
    astro_assoc_opts o;
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "assoc: out is NULL");
    *out = NULL;
    astro_assoc_opts_init(&o);
    if (opts) o = *opts;
    if (o.dim == 0) o.dim = 128;
    if (o.nnz == 0) o.nnz = 8;
    if (o.min_df == 0) o.min_df = 2;
    if (o.expand == 0) o.expand = 16;
    if (o.min_sim < 0) o.min_sim = 0.2;
    if (o.dim > MAX_DIM) return astro_err_set(err, ASTRO_EINVAL, "assoc: dim must be at most 4096");
    if (o.nnz > o.dim) return astro_err_set(err, ASTRO_EINVAL, "assoc: nnz must be at most dim");
    if (o.expand > 1024) return astro_err_set(err, ASTRO_EINVAL, "assoc: expand must be at most 1024");
    if (!(o.min_sim <= 1)) return astro_err_set(err, ASTRO_EINVAL, "assoc: min_sim must be in [0, 1]");
    astro_assoc *a = calloc(1, sizeof *a);
    if (!a) return astro_err_set(err, ASTRO_ENOMEM, "assoc: out of memory");
    a->o = o;
    a->dsum = calloc(o.dim, sizeof *a->dsum);
    a->svec = calloc(o.dim, sizeof *a->svec);
    a->fsvec = calloc(o.dim, sizeof *a->fsvec);
    a->qv = calloc(o.dim, sizeof *a->qv);
    a->mean = calloc(o.dim, sizeof *a->mean);
    a->qvf = calloc(o.dim, sizeof *a->qvf);
    a->meanf = calloc(o.dim, sizeof *a->meanf);
    a->kern = astro_kernels_best();
    a->picks = calloc(o.expand + 1, sizeof *a->picks);
    int rc = (a->dsum && a->svec && a->fsvec && a->qv && a->mean && a->qvf && a->meanf && a->picks)
                 ? astro_tokenizer_new(&o.tok, &a->tk, err)
                 : astro_err_set(err, ASTRO_ENOMEM, "assoc: out of memory");
    if (rc) {
        astro_assoc_free(a);
        return rc;
    }
    *out = a;
    return ASTRO_OK;
}

void astro_assoc_free(astro_assoc *a) {
    if (!a) return;
    astro_tokenizer_free(a->tk);
    for (size_t i = 0; i < a->nterms; i++) free(a->terms[i].post);
    free(a->terms);
    free(a->thash);
    free(a->ctx);
    astro__idxmap_free(&a->tmap);
    free(a->dsum);
    astro__docs_free(&a->docs);
    free(a->tids);
    free(a->svec);
    free(a->fsvec);
    free(a->qv);
    free(a->mean);
    free(a->qvf);
    free(a->meanf);
    free(a->acc);
    free(a->touched);
    free(a->picks);
    free(a);
}

/* ---- terms -------------------------------------------------------------- */

/* r mod dim; a mask when dim is a power of two (the default 128), which
 * spares a 64-bit division per index-vector entry. */
static inline uint32_t bucket(uint64_t r, uint32_t dim) {
    return (dim & (dim - 1)) == 0 ? (uint32_t)(r & (dim - 1)) : (uint32_t)(r % dim);
}

/* Adds mult times the index vector of the term with hash h to v (int32 or
 * float, both holding whole numbers). */
#define IDX_ADD(v, dim, nnz, h, mult)                                     \
    do {                                                                  \
        uint64_t s_ = (h);                                                \
        for (uint32_t j_ = 0; j_ < (nnz); j_++) {                         \
            uint64_t r_ = astro__mix64(s_ += 0x9e3779b97f4a7c15ULL);      \
            (v)[bucket(r_, (dim))] += (r_ >> 63) ? (mult) : -(mult);      \
        }                                                                 \
    } while (0)

static uint64_t term_hash(const char *w, size_t n) {
    return astro__mix64(astro__fnv1a64(w, n, ASTRO__FNV_OFFSET));
}

/* Returns the id of the term with hash h, or ASTRO__IDX_EMPTY. */
static uint32_t term_find(const astro_assoc *a, uint64_t h) {
    size_t pos = astro__idxmap_find(&a->tmap, a->thash, h);
    return pos == SIZE_MAX ? ASTRO__IDX_EMPTY : a->tmap.slots[pos];
}

/* Returns the id of the term with hash h, creating it; ASTRO__IDX_EMPTY with
 * a->rc set when memory runs out. */
static uint32_t term_intern(astro_assoc *a, uint64_t h) {
    uint32_t id = term_find(a, h);
    if (id != ASTRO__IDX_EMPTY) return id;
    if (a->nterms >= ASTRO__IDX_EMPTY / 2) goto oom;
    if (a->nterms == a->tcap) {
        size_t ncap = a->tcap ? a->tcap * 2 : 64;
        if (ncap > SIZE_MAX / a->o.dim) goto oom;
        ASTRO__GROW_OR(a->terms, ncap, goto oom);
        ASTRO__GROW_OR(a->thash, ncap, goto oom);
        ASTRO__GROW_OR(a->ctx, ncap * a->o.dim, goto oom);
        a->tcap = ncap;
    }
    if (astro__idxmap_reserve(&a->tmap, a->nterms + 1, a->thash)) goto oom;
    id = (uint32_t)a->nterms++;
    a->thash[id] = h;
    memset(&a->terms[id], 0, sizeof a->terms[id]);
    memset(a->ctx + (size_t)id * a->o.dim, 0, a->o.dim * sizeof *a->ctx);
    astro__idxmap_insert(&a->tmap, a->thash, h, id);
    return id;
oom:
    a->rc = ASTRO_ENOMEM;
    return ASTRO__IDX_EMPTY;
}

/* Tokenizer callback: collects term ids (interned for documents, looked up
 * for queries, where unknown terms are skipped). */
static int on_token(const astro_token *tok, void *ud) {
    astro_assoc *a = ud;
    uint64_t h = term_hash(tok->term, tok->term_len);
    uint32_t id = a->lookup_only ? term_find(a, h) : term_intern(a, h);
    if (id == ASTRO__IDX_EMPTY) return a->lookup_only ? 0 : 1;
    if (a->tids_n == a->tids_cap) {
        size_t ncap = a->tids_cap ? a->tids_cap * 2 : 256;
        ASTRO__GROW_OR(a->tids, ncap, a->rc = ASTRO_ENOMEM; return 1);
        a->tids_cap = ncap;
    }
    a->tids[a->tids_n++] = id;
    return 0;
}

/* Sorts ids[0..n) by term hash (Shell sort, gaps 3h+1). Hash order, not id
 * order, so every float sum over a term list runs in the same order whatever
 * ids the history of adds and removes handed out. */
static void sort_by_hash(const astro_assoc *a, uint32_t *ids, size_t n) {
    size_t gap = 1;
    while (gap < n / 3) gap = gap * 3 + 1;
    for (; gap > 0; gap /= 3) {
        for (size_t i = gap; i < n; i++) {
            uint32_t x = ids[i];
            size_t j = i;
            while (j >= gap && a->thash[ids[j - gap]] > a->thash[x]) {
                ids[j] = ids[j - gap];
                j -= gap;
            }
            ids[j] = x;
        }
    }
}

/* Tokenizes s into the distinct term ids a->tids[0..return), in hash order;
 * SIZE_MAX when memory ran out. */
static size_t distinct_terms(astro_assoc *a, const char *s, size_t len, int lookup_only) {
    a->tids_n = 0;
    a->rc = ASTRO_OK;
    a->lookup_only = lookup_only;
    if (len) astro_tokenize(a->tk, s, len, on_token, a);
    if (a->rc) return SIZE_MAX;
    if (a->tids_n == 0) return 0;
    sort_by_hash(a, a->tids, a->tids_n);
    size_t m = 1;
    for (size_t i = 1; i < a->tids_n; i++)
        if (a->tids[i] != a->tids[m - 1]) a->tids[m++] = a->tids[i];
    return m;
}

/* ---- documents ---------------------------------------------------------- */

/* Adds (sign +1) or removes (-1) document d's co-occurrences. */
static void learn(astro_assoc *a, uint32_t d, int32_t sign) {
    const uint32_t dim = a->o.dim, nnz = a->o.nnz;
    const uint32_t *f = a->docs.fwd[d];
    uint32_t n = a->docs.fwd_n[d];
    float *fs = a->fsvec;
    memset(a->svec, 0, dim * sizeof *a->svec);
    for (uint32_t i = 0; i < n; i++) IDX_ADD(a->svec, dim, nnz, a->thash[f[i]], 1);
    for (uint32_t j = 0; j < dim; j++) fs[j] = (float)(sign * a->svec[j]);
    /* The terms' context rows are scattered over the table: ask for all of
     * them at once, so their cache misses overlap instead of queueing. */
    for (uint32_t i = 0; i < n; i++) {
        const char *c = (const char *)(a->ctx + (size_t)f[i] * dim);
        for (size_t b = 0; b < dim * sizeof(float); b += 64) __builtin_prefetch(c + b, 1);
    }
    for (uint32_t i = 0; i < n; i++) {
        float *c = a->ctx + (size_t)f[i] * dim;
        for (uint32_t j = 0; j < dim; j++) c[j] += fs[j];
        IDX_ADD(c, dim, nnz, a->thash[f[i]], (float)-sign);   /* not its own context */
    }
    for (uint32_t j = 0; j < dim; j++) a->dsum[j] += (int64_t)sign * a->svec[j];
}

/* Unlearns docno d and drops its postings and forward list. */
static void doc_unlink(astro_assoc *a, uint32_t d) {
    learn(a, d, -1);
    for (uint32_t i = 0; i < a->docs.fwd_n[d]; i++) {
        aterm *t = &a->terms[a->docs.fwd[d][i]];
        for (uint32_t j = 0; j < t->df; j++) {
            if (t->post[j] == d) {
                t->post[j] = t->post[--t->df];
                break;
            }
        }
    }
    a->total_terms -= a->docs.fwd_n[d];
    astro__docs_drop_terms(&a->docs, d);
    a->docs.ndocs--;
}

int astro_assoc_add(astro_assoc *a, uint64_t key, const char *s, size_t len,
                    const astro_item_times *times, astro_err *err) {
    if (!a || (!s && len)) return astro_err_set(err, ASTRO_EINVAL, "assoc: NULL argument");
    size_t nd = distinct_terms(a, s, len, 0);
    if (nd == SIZE_MAX) goto oom;
    for (size_t i = 0; i < nd; i++) {   /* room for one more posting each */
        aterm *t = &a->terms[a->tids[i]];
        if (t->df == t->cap) {
            uint32_t ncap = t->cap ? t->cap * 2 : 4;
            ASTRO__GROW_OR(t->post, ncap, goto oom);
            t->cap = ncap;
        }
    }
    uint32_t *fwd, d;
    if (astro__docs_dup_terms(a->tids, nd, &fwd)) goto oom;
    if (astro__docs_find(&a->docs, key, &d)) {
        doc_unlink(a, d);
    } else {
        if (astro__docs_reserve(&a->docs, NULL)) {
            free(fwd);
            goto oom;
        }
        d = astro__docs_insert(&a->docs, key);
    }
    astro__docs_set(&a->docs, d, times, fwd, nd);
    for (size_t i = 0; i < nd; i++) {
        aterm *t = &a->terms[fwd[i]];
        t->post[t->df++] = d;
    }
    a->total_terms += nd;
    a->docs.ndocs++;
    learn(a, d, 1);
    return ASTRO_OK;
oom:
    return astro_err_set(err, ASTRO_ENOMEM, "assoc: out of memory");
}

int astro_assoc_remove(astro_assoc *a, uint64_t key) {
    if (!a) return 0;
    uint32_t d;
    if (!astro__docs_erase(&a->docs, key, &d)) return 0;
    doc_unlink(a, d);
    return 1;
}

size_t astro_assoc_count(const astro_assoc *a) { return a ? a->docs.ndocs : 0; }
size_t astro_assoc_terms(const astro_assoc *a) { return a ? a->nterms : 0; }

size_t astro_assoc_bytes(const astro_assoc *a) {
    if (!a) return 0;
    size_t dim = a->o.dim;
    size_t b = sizeof *a + a->tcap * (sizeof(aterm) + sizeof(uint64_t) + dim * sizeof(float)) +
               (a->tmap.cap + a->tids_cap) * sizeof(uint32_t) + astro__docs_bytes(&a->docs) +
               dim * (sizeof(int64_t) + sizeof(int32_t) + 2 * sizeof(double) + 3 * sizeof(float)) +
               a->acc_cap * (sizeof(float) + sizeof(uint32_t)) + (a->o.expand + 1) * sizeof(pick);
    for (size_t i = 0; i < a->nterms; i++) b += a->terms[i].cap * sizeof(uint32_t);
    return b;
}

/* ---- search ------------------------------------------------------------- */

static double idf_of(const astro_assoc *a, uint32_t df) {
    double n = (double)a->docs.ndocs;
    return log(1.0 + (n - df + 0.5) / (df + 0.5));
}

/* Returns r(t) . v and |r(t)|^2 for the residual r(t) = ctx(t) - df * mean
 * (v may be NULL: dot 0). */
static void resid(const astro_assoc *a, uint32_t t, const double *v, double *dot, double *norm2) {
    const float *c = a->ctx + (size_t)t * a->o.dim;
    double df = a->terms[t].df, dt = 0, nn = 0;
    for (uint32_t j = 0; j < a->o.dim; j++) {
        double r = (double)c[j] - df * a->mean[j];
        nn += r * r;
        if (v) dt += r * v[j];
    }
    *dot = dt;
    *norm2 = nn;
}

/* Adds w times the unit residual of term t to the query vector. */
static void qv_add(astro_assoc *a, uint32_t t, double w) {
    double dot, n2;
    resid(a, t, NULL, &dot, &n2);
    if (!(n2 > 0)) return;
    double s = w / sqrt(n2), df = a->terms[t].df;
    const float *c = a->ctx + (size_t)t * a->o.dim;
    for (uint32_t j = 0; j < a->o.dim; j++) a->qv[j] += s * ((double)c[j] - df * a->mean[j]);
}

/* Whether ids[0..n), in hash order, hold id. */
static int has_id(const astro_assoc *a, const uint32_t *ids, size_t n, uint32_t id) {
    size_t lo = 0, hi = n;
    uint64_t h = a->thash[id];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->thash[ids[mid]] < h) lo = mid + 1; else hi = mid;
    }
    return lo < n && ids[lo] == id;
}

/* Keeps the `expand` terms most associated with qv (not in the query ids
 * q[0..nq), hash order) in a->picks, best first (ties: smaller hash first);
 * returns their number. */
static size_t pick_terms(astro_assoc *a, const uint32_t *q, size_t nq) {
    const uint32_t dim = a->o.dim;
    double qn = 0, mq = 0, mm = 0;
    for (uint32_t j = 0; j < dim; j++) {
        qn += a->qv[j] * a->qv[j];
        mq += a->mean[j] * a->qv[j];
        mm += a->mean[j] * a->mean[j];
        a->qvf[j] = (float)a->qv[j];
        a->meanf[j] = (float)a->mean[j];
    }
    if (!(qn > 0)) return 0;
    qn = sqrt(qn);
    size_t np = 0, cap = a->o.expand;
    for (uint32_t t = 0; t < a->nterms; t++) {
        if (a->terms[t].df < a->o.min_df || has_id(a, q, nq, t)) continue;
        /* r.qv and |r|^2 from three SIMD dots: r = c - df * mean */
        const float *c = a->ctx + (size_t)t * dim;
        double df = a->terms[t].df;
        double cq = a->kern->dot(c, a->qvf, dim), cc = a->kern->dot(c, c, dim);
        double cm = a->kern->dot(c, a->meanf, dim);
        double n2 = cc - 2 * df * cm + df * df * mm;
        if (!(n2 > 1e-6 * (cc > 1 ? cc : 1))) continue;   /* ~0: only float noise left */
        double sim = (cq - df * mq) / (qn * sqrt(n2));
        uint64_t h = a->thash[t];
        if (sim < a->o.min_sim) continue;
        if (np == cap && (sim < a->picks[np - 1].sim ||
                          (sim == a->picks[np - 1].sim && h > a->thash[a->picks[np - 1].id])))
            continue;
        size_t i = np < cap ? np++ : cap - 1;   /* insertion into the sorted picks */
        while (i > 0 && (a->picks[i - 1].sim < sim ||
                         (a->picks[i - 1].sim == sim && a->thash[a->picks[i - 1].id] > h))) {
            a->picks[i] = a->picks[i - 1];
            i--;
        }
        a->picks[i].id = t;
        a->picks[i].sim = sim;
    }
    return np;
}

long astro_assoc_search(astro_assoc *a, const char *q, size_t qlen, const uint64_t *seeds,
                        size_t nseeds, size_t k, const astro_filter *filter, uint64_t *keys,
                        float *scores, astro_err *err) {
    if (!a || (!q && qlen) || (!seeds && nseeds)) return astro_err_set(err, ASTRO_EINVAL, "assoc: NULL argument");
    if (k == 0 || a->docs.ndocs == 0) return 0;
    if (!keys || !scores) return astro_err_set(err, ASTRO_EINVAL, "assoc: NULL output buffer");
    size_t nq = distinct_terms(a, q, qlen, 1);
    if (nq == SIZE_MAX) return astro_err_set(err, ASTRO_ENOMEM, "assoc: out of memory");
    if (a->acc_cap < a->docs.nslots) {
        ASTRO__GROW_OR(a->acc, a->docs.nslots, return astro_err_set(err, ASTRO_ENOMEM, "assoc: out of memory"));
        ASTRO__GROW_OR(a->touched, a->docs.nslots, return astro_err_set(err, ASTRO_ENOMEM, "assoc: out of memory"));
        memset(a->acc, 0, a->docs.nslots * sizeof *a->acc);
        a->acc_cap = a->docs.nslots;
    }
    const uint32_t dim = a->o.dim;
    for (uint32_t j = 0; j < dim; j++) {
        a->mean[j] = (double)a->dsum[j] / (double)a->docs.ndocs;
        a->qv[j] = 0;
    }
    double qmass = 0, smass = 0;
    for (size_t i = 0; i < nq; i++) {
        double w = idf_of(a, a->terms[a->tids[i]].df);
        qv_add(a, a->tids[i], w);
        qmass += w;
    }
    for (int pass = 0; pass < 2 && nseeds > 0; pass++) {   /* mass first, then the terms */
        for (size_t s = 0; s < nseeds; s++) {
            uint32_t d;
            if (!astro__docs_find(&a->docs, seeds[s], &d)) continue;
            for (uint32_t i = 0; i < a->docs.fwd_n[d]; i++) {
                uint32_t t = a->docs.fwd[d][i];
                double w = idf_of(a, a->terms[t].df);
                if (pass == 0) smass += w;
                else if (smass > 0) qv_add(a, t, w * (qmass > 0 ? qmass : 1.0) / smass);
            }
        }
    }
    size_t np = pick_terms(a, a->tids, nq);
    size_t nt = 0;
    for (size_t i = 0; i < np; i++) {
        const aterm *t = &a->terms[a->picks[i].id];
        float w = (float)(a->picks[i].sim * idf_of(a, t->df));
        if (!(w > 0)) continue;   /* keeps acc == 0 meaning "not touched" */
        for (uint32_t j = 0; j < t->df; j++) {
            uint32_t d = t->post[j];
            if (a->acc[d] == 0) a->touched[nt++] = d;
            a->acc[d] += w;
        }
    }
    /* BM25's length normalization with every tf 1 (k1 1.2, b 0.75). */
    const double avg = (double)a->total_terms / (double)a->docs.ndocs;
    astro__topk top = { keys, scores, 0, k };
    for (size_t i = 0; i < nt; i++) {
        uint32_t d = a->touched[i];
        double norm = 1.0 + 1.2 * (0.25 + 0.75 * (double)a->docs.fwd_n[d] / (avg > 0 ? avg : 1.0));
        if (!filter || astro__filter_pass(filter, a->docs.keys[d], &a->docs.times[d]))
            astro__topk_push(&top, (float)(a->acc[d] * 2.2 / norm), a->docs.keys[d]);
        a->acc[d] = 0;
    }
    return (long)astro__topk_finish(&top);
}

double astro_assoc_similarity(astro_assoc *a, const char *t1, size_t len1, const char *t2,
                              size_t len2) {
    if (!a || !t1 || !t2 || a->docs.ndocs == 0) return 0;
    size_t n1 = distinct_terms(a, t1, len1, 1);
    if (n1 != 1) return 0;
    uint32_t x = a->tids[0];
    size_t n2 = distinct_terms(a, t2, len2, 1);
    if (n2 != 1) return 0;
    uint32_t y = a->tids[0];
    for (uint32_t j = 0; j < a->o.dim; j++) {
        a->mean[j] = (double)a->dsum[j] / (double)a->docs.ndocs;
        a->qv[j] = 0;
    }
    qv_add(a, x, 1.0);
    double dot, n2y;
    resid(a, y, a->qv, &dot, &n2y);
    if (!(n2y > 0)) return 0;
    return dot / sqrt(n2y);
}
