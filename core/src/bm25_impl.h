/*
** bm25_impl.h — the BM25 index's layout, shared by bm25.c (build, search)
** and bm25_io.c (snapshots). Not a public header.
*/
#ifndef ASTRO_BM25_IMPL_H
#define ASTRO_BM25_IMPL_H

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
    uint32_t max_tf;   /* >= every tf in post (not lowered by deletes) */
    uint32_t min_dl;   /* <= every document length in post */
    posting *post;     /* sorted by doc */
} term;

/* One query term during a MaxScore search. */
typedef struct qterm {
    const posting *p;
    uint32_t n, pos;
    uint32_t order;    /* rank of the term id among the query's, for summing */
    double idf, ub;
} qterm;

struct astro_bm25_scratch {
    astro_tokenizer *tk;
    const astro_bm25 *ix;
    uint32_t *tids, *tfs;
    size_t tids_n, tids_cap;
    qterm *qt;
    double *contrib;   /* per query term, indexed by order */
    double *prefix;    /* prefix sums of ub in MaxScore order */
    size_t qt_cap;
    int rc;
};

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
    astro__docs docs;
    uint32_t *dl;      /* document length in tokens; docs.dcap entries */
    uint64_t total_len;

    /* scratch */
    astro_bm25_opts opts;
    astro_bm25_scratch *own;  /* used by astro_bm25_search */
    uint32_t *tids;    /* token term ids of the text being added */
    uint32_t *tfs;
    size_t tids_n, tids_cap;
    int rc;            /* error raised inside a tokenizer callback */

    /* A loaded snapshot (bm25_io.c): the file mapped copy-on-write, or a
     * copy of a buffer. Postings and forward lists point into it until a
     * change needs them to grow (lent, never freed or realloc'd one by one). */
    unsigned char *snap;
    size_t snap_len;
    int snap_mapped;
};

/* Returns 1 if p points into ix's snapshot block. */
static inline int astro__bm25_lent(const struct astro_bm25 *ix, const void *p) {
    const unsigned char *q = p;
    return ix->snap && q >= ix->snap && q < ix->snap + ix->snap_len;
}
/* Releases ix's snapshot block (bm25_io.c). */
void astro__bm25_snap_free(struct astro_bm25 *ix);


#endif
