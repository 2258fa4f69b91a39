/*
** hnsw_impl.h — private layout of the HNSW index shared by hnsw.c (graph,
** insert, search), hnsw_repair.c (tombstone repair) and hnsw_io.c (save/load).
** Not part of the public API.
*/
#ifndef ASTRO_HNSW_IMPL_H
#define ASTRO_HNSW_IMPL_H

#include "astro/hnsw.h"
#include "astro/kernels.h"
#include "internal.h"

#define HN_ALIGN 64
#define HN_MAX_LEVEL 31
#define HN_LIVE 0      /* slot states */
#define HN_DELETED 1   /* tombstone: routes, never returned */
#define HN_FREE 2      /* reclaimed by repair, reusable */

typedef struct hn_pair {
    float d;           /* distance 1 - cos */
    uint32_t id;
} hn_pair;

struct astro_hnsw_ctx {
    size_t dim;
    float *q;                   /* normalized query, aligned */
    uint16_t *mark;             /* visited epochs, mark_cap slots */
    size_t mark_cap;
    uint16_t epoch;
    hn_pair *cand, *res, *tmp;  /* min-heap, max-heap, selection scratch */
    size_t cand_n, cand_cap, res_n, res_cap, tmp_cap;
    uint32_t *stage;            /* unvisited neighbours of one node */
    size_t stage_cap;
};

struct astro_hnsw {
    size_t dim, stride;         /* floats per row: dim rounded up to 16 */
    size_t M, M0, efc, ef;
    double mult;                /* 1 / ln(M) */
    uint64_t rng;
    size_t cap, n;              /* slots allocated / slots used */
    size_t nlive, ndeleted;
    float *vecs;                /* cap * stride, aligned */
    uint32_t *links0;           /* cap * (1 + M0): count then ids, aligned */
    uint8_t *level;             /* cap: top level of the node */
    uint8_t *ulev;              /* cap: upper blocks allocated at upper_off */
    uint8_t *state;             /* cap: HN_LIVE / HN_DELETED / HN_FREE */
    uint32_t *upper_off;        /* cap: first block in upper */
    uint64_t *keys;
    astro_item_times *times;
    uint32_t *freelist;         /* cap */
    size_t nfree;
    uint32_t *upper;            /* blocks of (1 + M) uint32 */
    size_t upper_n, upper_cap;  /* in uint32 */
    uint32_t ep;                /* entry point, valid when nlive + ndeleted > 0 */
    int maxlevel;
    astro__idxmap map;          /* key -> slot, live slots only */
    const astro_kernels *kern;
    astro_hnsw_ctx *bctx;       /* scratch of writers (add, repair) */
    /* A graph loaded from a file (hnsw_io.c) keeps vecs and links0 where
     * the file is mapped copy-on-write, each at the start of an address
     * range reserved for more slots (anonymous memory past the file's
     * part), so it grows there without a copy. NULL: vecs / links0 are
     * allocations of their own. */
    void *vecs_map, *links_map;
    size_t vecs_map_bytes, links_map_bytes;
};

/* Releases a reserved range of a loaded graph (hnsw.c). */
void astro__hnsw_unmap(void *base, size_t bytes);

/* Returns the neighbour list (count first) of node id at level lv. */
static inline uint32_t *hn_links(const astro_hnsw *ix, uint32_t id, int lv) {
    if (lv == 0) return ix->links0 + (size_t)id * (1 + ix->M0);
    return ix->upper + ix->upper_off[id] + (size_t)(lv - 1) * (1 + ix->M);
}

/* Returns the distance 1 - dot between stored nodes a and b. */
static inline float hn_dist_nodes(const astro_hnsw *ix, uint32_t a, uint32_t b) {
    return 1.0f - ix->kern->dot(ix->vecs + (size_t)a * ix->stride,
                                ix->vecs + (size_t)b * ix->stride, ix->dim);
}

/* Grows ctx for an index of `slots` slots and heaps of `heap` pairs. */
int astro__hnsw_ctx_fit(astro_hnsw_ctx *ctx, size_t slots, size_t heap);
/* Keeps at most `keep` of tmp[0..n) (any order) by the HNSW heuristic, as
 * seen from the element the distances are measured to; returns how many. */
size_t astro__hnsw_select(const astro_hnsw *ix, hn_pair *tmp, size_t n, size_t keep);
/* Allocates `nlev` upper blocks; returns the offset or SIZE_MAX. */
size_t astro__hnsw_upper_alloc(astro_hnsw *ix, size_t nlev);

#endif
