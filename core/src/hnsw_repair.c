/*
** hnsw_repair.c — repair of an HNSW graph after tombstone deletes. Every live
** node whose neighbour list (on any level) mentions a deleted node gets a new
** list chosen by the usual heuristic among its live neighbours and the live
** neighbours of its deleted ones (the "two-hop" candidates), which keeps the
** region connected. A deleted entry point is replaced by the live node with
** the highest level. Afterwards no live list mentions a deleted node, so the
** deleted slots are marked free and reused by later inserts.
*/
#include <string.h>

#include "hnsw_impl.h"

/* Rebuilds the level-lv list of live node u without deleted members. */
static void relink(astro_hnsw *ix, uint32_t u, int lv) {
    astro_hnsw_ctx *c = ix->bctx;
    uint32_t *l = hn_links(ix, u, lv);
    size_t n = 0, mmax = lv == 0 ? ix->M0 : ix->M;
    if (++c->epoch == 0) {
        memset(c->mark, 0, c->mark_cap * sizeof *c->mark);
        c->epoch = 1;
    }
    c->mark[u] = c->epoch;
    for (uint32_t j = 1; j <= l[0]; j++) {
        uint32_t x = l[j];
        if (ix->state[x] == HN_LIVE) {
            if (c->mark[x] != c->epoch) {
                c->mark[x] = c->epoch;
                c->tmp[n++] = (hn_pair){ hn_dist_nodes(ix, u, x), x };
            }
            continue;
        }
        const uint32_t *lx = hn_links(ix, x, lv);
        for (uint32_t i = 1; i <= lx[0]; i++) {
            uint32_t y = lx[i];
            if (ix->state[y] != HN_LIVE || c->mark[y] == c->epoch) continue;
            c->mark[y] = c->epoch;
            c->tmp[n++] = (hn_pair){ hn_dist_nodes(ix, u, y), y };
        }
    }
    size_t m = astro__hnsw_select(ix, c->tmp, n, mmax);
    l[0] = (uint32_t)m;
    for (size_t j = 0; j < m; j++) l[1 + j] = c->tmp[j].id;
}

/* Returns 1 if any member of the list of u on level lv is not live. */
static int needs_relink(const astro_hnsw *ix, uint32_t u, int lv) {
    const uint32_t *l = hn_links(ix, u, lv);
    for (uint32_t j = 1; j <= l[0]; j++)
        if (ix->state[l[j]] != HN_LIVE) return 1;
    return 0;
}

/* Relinks around tombstones and reclaims their slots; see hnsw.h. The
 * writer context was sized for (1 + 2M)^2 pairs, enough for two hops. */
int astro_hnsw_repair(astro_hnsw *ix, astro_err *err) {
    if (!ix) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    if (ix->ndeleted == 0) return ASTRO_OK;
    if (ix->nlive == 0) {   /* nothing left: start over, keep the allocations */
        ix->n = ix->nfree = ix->upper_n = 0;
        ix->ndeleted = 0;
        ix->maxlevel = -1;
        return ASTRO_OK;
    }
    for (uint32_t u = 0; u < ix->n; u++) {
        if (ix->state[u] != HN_LIVE) continue;
        for (int lv = 0; lv <= ix->level[u]; lv++)
            if (needs_relink(ix, u, lv)) relink(ix, u, lv);
    }
    if (ix->state[ix->ep] != HN_LIVE) {
        int best = -1;
        for (uint32_t u = 0; u < ix->n; u++) {
            if (ix->state[u] == HN_LIVE && ix->level[u] > best) {
                best = ix->level[u];
                ix->ep = u;
            }
        }
        ix->maxlevel = best;
    }
    for (uint32_t u = 0; u < ix->n; u++) {
        if (ix->state[u] != HN_DELETED) continue;
        ix->state[u] = HN_FREE;
        hn_links(ix, u, 0)[0] = 0;
        ix->freelist[ix->nfree++] = u;
    }
    ix->ndeleted = 0;
    return ASTRO_OK;
}
