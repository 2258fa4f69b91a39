/*
** hnsw.c — the HNSW graph: allocation, insertion with the neighbour-selection
** heuristic of Malkov & Yashunin (as in hnswlib), tombstone removal and the
** filtered beam search. Distances are 1 - dot over normalized vectors. A
** search context holds the visited set (uint16 epochs, reset only when the
** epoch wraps), a min-heap of candidates and a max-heap of the best ef
** results; writers use the index's own context. Before distances of a node's
** neighbours are computed, the unvisited ones are gathered and their vectors
** prefetched, which hides most of the random-access latency.
*/
#define _DEFAULT_SOURCE /* POSIX mmap/open, and MAP_POPULATE / MADV_HUGEPAGE where glibc has them */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "astro/vec.h"
#include "hnsw_impl.h"

/* Fills opts with the defaults. */
void astro_hnsw_opts_init(astro_hnsw_opts *opts) {
    if (!opts) return;
    opts->M = 16;
    opts->ef_construction = 200;
    opts->ef_search = 64;
    opts->seed = 0x2545F4914F6CDD1DULL;
}

/* ---- heaps of (distance, id) ------------------------------------------------ */

/* A heap orders by distance: `max` = 0 keeps the smallest on top, 1 the
 * largest. The functions are static inline and always called with a constant
 * `max`, so each call site compiles to its own branch-free comparison. */
static inline int heap_before(float a, float b, int max) { return max ? a > b : a < b; }

/* Pushes p on the heap h[0..*n) (room assured by the caller). */
static inline void heap_push(hn_pair *h, size_t *n, hn_pair p, int max) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!heap_before(p.d, h[par].d, max)) break;
        h[i] = h[par];
        i = par;
    }
    h[i] = p;
}

/* Pops the top of the heap h[0..*n). */
static inline hn_pair heap_pop(hn_pair *h, size_t *n, int max) {
    hn_pair top = h[0], last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && heap_before(h[c + 1].d, h[c].d, max)) c++;
        if (!heap_before(h[c].d, last.d, max)) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = last;
    return top;
}

/* ---- contexts --------------------------------------------------------------- */

/* Reallocates *p to n elements of sz bytes; returns 0 or ASTRO_ENOMEM. */
static int regrow(void **p, size_t sz, size_t n) {
    if (n > SIZE_MAX / sz) return ASTRO_ENOMEM;
    void *q = realloc(*p, n * sz);
    if (!q) return ASTRO_ENOMEM;
    astro__advise_huge(q, n * sz);
    *p = q;
    return ASTRO_OK;
}

/* Grows ctx to cover `slots` index slots and heaps of `heap` pairs. */
int astro__hnsw_ctx_fit(astro_hnsw_ctx *ctx, size_t slots, size_t heap) {
    if (slots > ctx->mark_cap) {
        size_t ncap = slots < 1024 ? 1024 : slots;
        uint16_t *m = calloc(ncap, sizeof *m);
        if (!m) return ASTRO_ENOMEM;
        free(ctx->mark);
        ctx->mark = m;
        ctx->mark_cap = ncap;
        ctx->epoch = 0;
    }
    if (heap > ctx->res_cap) {
        if (regrow((void **)&ctx->res, sizeof(hn_pair), heap + 1)) return ASTRO_ENOMEM;
        ctx->res_cap = heap;
    }
    if (heap * 4 > ctx->cand_cap) {
        if (regrow((void **)&ctx->cand, sizeof(hn_pair), heap * 4)) return ASTRO_ENOMEM;
        ctx->cand_cap = heap * 4;
    }
    if (heap > ctx->tmp_cap) {
        if (regrow((void **)&ctx->tmp, sizeof(hn_pair), heap)) return ASTRO_ENOMEM;
        ctx->tmp_cap = heap;
    }
    return ASTRO_OK;
}

/* Creates a search context for ix. */
int astro_hnsw_ctx_new(const astro_hnsw *ix, astro_hnsw_ctx **out, astro_err *err) {
    if (!ix || !out) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    *out = NULL;
    astro_hnsw_ctx *c = calloc(1, sizeof *c);
    if (!c) return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    c->dim = ix->dim;
    c->q = aligned_alloc(HN_ALIGN, (ix->stride * sizeof(float) + HN_ALIGN - 1) / HN_ALIGN * HN_ALIGN);
    c->stage_cap = 1 + ix->M0;
    c->stage = malloc(c->stage_cap * sizeof *c->stage);
    size_t heap = (ix->efc > ix->ef ? ix->efc : ix->ef) + 1;
    if (heap < (1 + ix->M0) * (1 + ix->M0)) heap = (1 + ix->M0) * (1 + ix->M0);
    if (!c->q || !c->stage || astro__hnsw_ctx_fit(c, ix->n, heap)) {
        astro_hnsw_ctx_free(c);
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    }
    *out = c;
    return ASTRO_OK;
}

/* Frees a context; NULL-safe. */
void astro_hnsw_ctx_free(astro_hnsw_ctx *ctx) {
    if (!ctx) return;
    free(ctx->q), free(ctx->mark), free(ctx->cand), free(ctx->res), free(ctx->tmp), free(ctx->stage);
    free(ctx);
}

/* ---- index lifetime --------------------------------------------------------- */

/* Creates an empty graph; see hnsw.h. */
int astro_hnsw_new(size_t dim, const astro_hnsw_opts *opts, astro_hnsw **out, astro_err *err) {
    astro_hnsw_opts o;
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "hnsw: out is NULL");
    *out = NULL;
    astro_hnsw_opts_init(&o);
    if (opts) {
        if (opts->M) o.M = opts->M;
        if (opts->ef_construction) o.ef_construction = opts->ef_construction;
        if (opts->ef_search) o.ef_search = opts->ef_search;
        if (opts->seed) o.seed = opts->seed;
    }
    if (dim < 1 || dim > 65536) return astro_err_set(err, ASTRO_EINVAL, "hnsw: dim %zu out of range 1..65536", dim);
    if (o.M < 2 || o.M > 128) return astro_err_set(err, ASTRO_EINVAL, "hnsw: M %zu out of range 2..128", o.M);
    if (o.ef_construction > 65536 || o.ef_search > 65536)
        return astro_err_set(err, ASTRO_EINVAL, "hnsw: ef out of range 1..65536");
    astro_hnsw *ix = calloc(1, sizeof *ix);
    if (!ix) return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    ix->dim = dim;
    ix->stride = (dim + 15) / 16 * 16;
    ix->M = o.M;
    ix->M0 = 2 * o.M;
    ix->efc = o.ef_construction;
    ix->ef = o.ef_search;
    ix->mult = 1.0 / log((double)o.M);
    ix->rng = o.seed;
    ix->kern = astro_kernels_best();
    ix->maxlevel = -1;
    int rc = astro_hnsw_ctx_new(ix, &ix->bctx, err);
    if (rc) {
        free(ix);
        return rc;
    }
    *out = ix;
    return ASTRO_OK;
}

/* Frees the graph; NULL-safe. */
void astro_hnsw_free(astro_hnsw *ix) {
    if (!ix) return;
    if (ix->vecs_map) astro__hnsw_unmap(ix->vecs_map, ix->vecs_map_bytes);
    else free(ix->vecs);
    if (ix->links_map) astro__hnsw_unmap(ix->links_map, ix->links_map_bytes);
    else free(ix->links0);
    free(ix->level), free(ix->ulev), free(ix->state);
    free(ix->upper_off), free(ix->keys), free(ix->times), free(ix->freelist), free(ix->upper);
    astro__idxmap_free(&ix->map);
    astro_hnsw_ctx_free(ix->bctx);
    free(ix);
}

/* From this size on, the vector and level-0 link arrays are aligned to and
 * advised onto transparent huge pages: restoring a graph of 100k 384-d
 * vectors otherwise takes ~40k page faults, half of a 1.2-1.6 s load on this
 * VM. Advice only: where the kernel declines, nothing changes. */
#define HN_HUGE ((size_t)2 << 20)

/* Replaces aligned *p (old bytes used) by a new aligned block of nb bytes. */
static int regrow_aligned(void **p, size_t old, size_t nb) {
    size_t align = nb >= HN_HUGE ? HN_HUGE : HN_ALIGN;
    if (nb > SIZE_MAX - align) return ASTRO_ENOMEM;
    nb = (nb + align - 1) / align * align;
    void *q = aligned_alloc(align, nb);
    if (!q) return ASTRO_ENOMEM;
#ifdef MADV_HUGEPAGE
    if (align == HN_HUGE) (void)madvise(q, nb, MADV_HUGEPAGE);
#endif
    if (old) memcpy(q, *p, old);
    free(*p);
    *p = q;
    return ASTRO_OK;
}

void astro__hnsw_unmap(void *base, size_t bytes) {
    if (base) munmap(base, bytes);
}

/* Grows the vector or link array *p (old bytes used) to nb bytes: in place
 * while it fits the range reserved for it (*map, *map_bytes: a loaded
 * graph's), else moved to memory of its own (the range is released). */
static int regrow_big(void **p, void **map, size_t *map_bytes, size_t old, size_t nb) {
    if (!*map) return regrow_aligned(p, old, nb);
    if (nb <= *map_bytes) return ASTRO_OK;
    void *q = *p;
    *p = NULL;
    if (regrow_aligned(p, 0, nb)) {
        *p = q;
        return ASTRO_ENOMEM;
    }
    memcpy(*p, q, old);
    astro__hnsw_unmap(*map, *map_bytes);
    *map = NULL, *map_bytes = 0;
    return ASTRO_OK;
}

/* Grows every per-slot array to ncap slots; on failure arrays that grew stay
 * valid (cap only changes once all succeeded). */
static int grow_slots(astro_hnsw *ix, size_t ncap) {
    if (ncap <= ix->cap) return ASTRO_OK;
    if (ncap >= ASTRO__IDX_EMPTY || ncap > SIZE_MAX / (ix->stride * sizeof(float))) return ASTRO_ENOMEM;
    size_t l0 = 1 + ix->M0;
    if (regrow_big((void **)&ix->vecs, &ix->vecs_map, &ix->vecs_map_bytes, ix->n * ix->stride * sizeof(float),
                   ncap * ix->stride * sizeof(float)) ||
        regrow_big((void **)&ix->links0, &ix->links_map, &ix->links_map_bytes, ix->n * l0 * sizeof(uint32_t),
                   ncap * l0 * sizeof(uint32_t)) ||
        regrow((void **)&ix->level, 1, ncap) || regrow((void **)&ix->ulev, 1, ncap) ||
        regrow((void **)&ix->state, 1, ncap) || regrow((void **)&ix->upper_off, sizeof(uint32_t), ncap) ||
        regrow((void **)&ix->keys, sizeof(uint64_t), ncap) ||
        regrow((void **)&ix->times, sizeof(astro_item_times), ncap) ||
        regrow((void **)&ix->freelist, sizeof(uint32_t), ncap) ||
        astro__hnsw_ctx_fit(ix->bctx, ncap, 0))
        return ASTRO_ENOMEM;
    ix->cap = ncap;
    return ASTRO_OK;
}

/* Pre-allocates n slots. */
int astro_hnsw_reserve(astro_hnsw *ix, size_t n, astro_err *err) {
    if (!ix) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    if (grow_slots(ix, n) || astro__idxmap_reserve(&ix->map, n, ix->keys))
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    return ASTRO_OK;
}

/* Allocates nlev upper blocks at the end of the pool; SIZE_MAX on failure. */
size_t astro__hnsw_upper_alloc(astro_hnsw *ix, size_t nlev) {
    size_t need = nlev * (1 + ix->M);
    if (ix->upper_n + need > ix->upper_cap) {
        size_t ncap = ix->upper_cap ? ix->upper_cap * 2 : 1024;
        while (ncap < ix->upper_n + need) ncap *= 2;
        if (ncap >= UINT32_MAX || regrow((void **)&ix->upper, sizeof(uint32_t), ncap)) return SIZE_MAX;
        ix->upper_cap = ncap;
    }
    size_t off = ix->upper_n;
    ix->upper_n += need;
    memset(ix->upper + off, 0, need * sizeof *ix->upper);   /* saved whole: no stale bytes in unused entries */
    return off;
}

/* ---- search ----------------------------------------------------------------- */

/* Starts a new visited epoch, clearing the marks when the counter wraps. */
static void next_epoch(astro_hnsw_ctx *c) {
    if (++c->epoch == 0) {
        memset(c->mark, 0, c->mark_cap * sizeof *c->mark);
        c->epoch = 1;
    }
}

/* Returns 1 if node id may appear in results under filter f. */
static inline int node_ok(const astro_hnsw *ix, uint32_t id, const astro_filter *f) {
    return ix->state[id] == HN_LIVE && (!f || astro__filter_pass(f, ix->keys[id], &ix->times[id]));
}

/* Greedy descent on level lv from *cur (distance *curd) towards q. */
static void greedy(const astro_hnsw *ix, const float *q, int lv, uint32_t *cur, float *curd) {
    int changed = 1;
    while (changed) {
        changed = 0;
        const uint32_t *l = hn_links(ix, *cur, lv);
        for (uint32_t j = 1; j <= l[0]; j++) {
            float d = 1.0f - ix->kern->dot(q, ix->vecs + (size_t)l[j] * ix->stride, ix->dim);
            if (d < *curd) {
                *curd = d;
                *cur = l[j];
                changed = 1;
            }
        }
    }
}

/* Beam search on level lv from ep: leaves the best ef nodes accepted by
 * node_ok in the max-heap c->res. Returns ASTRO_ENOMEM if a heap could not
 * grow (results so far stay valid). */
static int search_layer(const astro_hnsw *ix, astro_hnsw_ctx *c, const float *q, uint32_t ep,
                        float epd, size_t ef, int lv, const astro_filter *f) {
    const astro_kern_f32_fn dot = ix->kern->dot;
    const size_t dim = ix->dim, stride = ix->stride;
    next_epoch(c);
    c->cand_n = c->res_n = 0;
    c->mark[ep] = c->epoch;
    heap_push(c->cand, &c->cand_n, (hn_pair){ epd, ep }, 0);
    float lower = INFINITY;
    if (node_ok(ix, ep, f)) {
        heap_push(c->res, &c->res_n, (hn_pair){ epd, ep }, 1);
        lower = epd;
    }
    while (c->cand_n) {
        hn_pair cur = c->cand[0];
        if (cur.d > lower && c->res_n >= ef) break;
        heap_pop(c->cand, &c->cand_n, 0);
        const uint32_t *l = hn_links(ix, cur.id, lv);
        uint32_t cnt = l[0], ns = 0;
        for (uint32_t j = 1; j <= cnt; j++) {
            uint32_t id = l[j];
            if (c->mark[id] == c->epoch) continue;
            c->mark[id] = c->epoch;
            c->stage[ns++] = id;
            __builtin_prefetch(ix->vecs + (size_t)id * stride);
        }
        for (uint32_t j = 0; j < ns; j++) {
            uint32_t id = c->stage[j];
            if (j + 1 < ns) __builtin_prefetch(ix->vecs + (size_t)c->stage[j + 1] * stride + 16);
            float d = 1.0f - dot(q, ix->vecs + (size_t)id * stride, dim);
            if (c->res_n < ef || d < lower) {
                if (c->cand_n == c->cand_cap) {
                    size_t ncap = c->cand_cap * 2;
                    if (regrow((void **)&c->cand, sizeof(hn_pair), ncap)) return ASTRO_ENOMEM;
                    c->cand_cap = ncap;
                }
                heap_push(c->cand, &c->cand_n, (hn_pair){ d, id }, 0);
                if (node_ok(ix, id, f)) {
                    heap_push(c->res, &c->res_n, (hn_pair){ d, id }, 1);
                    if (c->res_n > ef) heap_pop(c->res, &c->res_n, 1);
                    lower = c->res[0].d;
                }
            }
        }
    }
    return ASTRO_OK;
}

/* Top-k search; see hnsw.h. */
long astro_hnsw_search(const astro_hnsw *ix, astro_hnsw_ctx *ctx, const float *q, size_t dim,
                       size_t k, size_t ef, const astro_filter *filter, uint64_t *keys,
                       float *scores, astro_err *err) {
    if (!ix || !ctx || !q) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    if (dim != ix->dim || ctx->dim != ix->dim)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", ix->dim, dim);
    if (k == 0) return 0;
    if (!keys || !scores) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL output buffer");
    if (ef == 0) ef = ix->ef;
    if (ef < k) ef = k;
    if (ef > 1u << 20) return astro_err_set(err, ASTRO_ERANGE, "hnsw: ef %zu too large", ef);
    memcpy(ctx->q, q, dim * sizeof(float));
    int rc = astro_vec_normalize(ctx->q, dim, err);
    if (rc) return rc;
    if (ix->nlive == 0) return 0;
    if (astro__hnsw_ctx_fit(ctx, ix->n, ef + 1))
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    uint32_t cur = ix->ep;
    float curd = 1.0f - ix->kern->dot(ctx->q, ix->vecs + (size_t)cur * ix->stride, dim);
    for (int lv = ix->maxlevel; lv > 0; lv--) greedy(ix, ctx->q, lv, &cur, &curd);
    if (search_layer(ix, ctx, ctx->q, cur, curd, ef, 0, filter))
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    astro__topk top = { keys, scores, 0, k };
    for (size_t i = 0; i < ctx->res_n; i++) {
        float s = 1.0f - 0.5f * ctx->res[i].d;
        s = s > 1.0f ? 1.0f : s < 0.0f ? 0.0f : s;
        astro__topk_push(&top, s, ix->keys[ctx->res[i].id]);
    }
    return (long)astro__topk_finish(&top);
}

/* ---- insertion -------------------------------------------------------------- */

/* Orders pairs by distance ascending, then id. */
static int cmp_pair(const void *a, const void *b) {
    const hn_pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Heuristic selection: a candidate is kept only if it is closer to the base
 * element than to every candidate kept before it. */
size_t astro__hnsw_select(const astro_hnsw *ix, hn_pair *tmp, size_t n, size_t keep) {
    qsort(tmp, n, sizeof *tmp, cmp_pair);
    if (n <= keep) return n;
    size_t m = 0;
    for (size_t i = 0; i < n && m < keep; i++) {
        int good = 1;
        for (size_t j = 0; j < m; j++) {
            if (hn_dist_nodes(ix, tmp[i].id, tmp[j].id) < tmp[i].d) {
                good = 0;
                break;
            }
        }
        if (good) tmp[m++] = tmp[i];
    }
    return m;
}

/* Adds link new -> into the list of nb at level lv, pruning nb's list with
 * the heuristic when it is full. */
static void link_back(astro_hnsw *ix, uint32_t nb, uint32_t nw, int lv) {
    uint32_t *l = hn_links(ix, nb, lv);
    size_t mmax = lv == 0 ? ix->M0 : ix->M;
    if (l[0] < mmax) {
        l[1 + l[0]++] = nw;
        return;
    }
    hn_pair *tmp = ix->bctx->tmp;
    size_t n = 0;
    tmp[n++] = (hn_pair){ hn_dist_nodes(ix, nb, nw), nw };
    for (uint32_t j = 1; j <= l[0]; j++) tmp[n++] = (hn_pair){ hn_dist_nodes(ix, nb, l[j]), l[j] };
    size_t m = astro__hnsw_select(ix, tmp, n, mmax);
    l[0] = (uint32_t)m;
    for (size_t j = 0; j < m; j++) l[1 + j] = tmp[j].id;
}

/* Returns a level drawn from the exponential distribution of the index. */
static int draw_level(astro_hnsw *ix) {
    ix->rng += 0x9E3779B97F4A7C15ULL;
    uint64_t z = astro__mix64(ix->rng);
    double u = ((double)(z >> 11) + 1.0) / 9007199254740993.0;   /* (0,1] */
    double l = -log(u) * ix->mult;
    return l > HN_MAX_LEVEL ? HN_MAX_LEVEL : (int)l;
}

/* Links the already stored node id into the graph. */
static int insert_node(astro_hnsw *ix, uint32_t id, int level) {
    astro_hnsw_ctx *c = ix->bctx;
    const float *v = ix->vecs + (size_t)id * ix->stride;
    if (ix->maxlevel < 0) {
        ix->ep = id;
        ix->maxlevel = level;
        return ASTRO_OK;
    }
    uint32_t cur = ix->ep;
    float curd = 1.0f - ix->kern->dot(v, ix->vecs + (size_t)cur * ix->stride, ix->dim);
    for (int lv = ix->maxlevel; lv > level; lv--) greedy(ix, v, lv, &cur, &curd);
    for (int lv = level < ix->maxlevel ? level : ix->maxlevel; lv >= 0; lv--) {
        if (search_layer(ix, c, v, cur, curd, ix->efc, lv, NULL)) return ASTRO_ENOMEM;
        size_t n = c->res_n;
        memcpy(c->tmp, c->res, n * sizeof *c->tmp);
        size_t m = astro__hnsw_select(ix, c->tmp, n, ix->M);
        if (m) {
            cur = c->tmp[0].id;
            curd = c->tmp[0].d;
        }
        /* tmp is reused by link_back: copy the selection into our list first */
        uint32_t *l = hn_links(ix, id, lv);
        l[0] = (uint32_t)m;
        for (size_t j = 0; j < m; j++) l[1 + j] = c->tmp[j].id;
        for (size_t j = 0; j < m; j++) link_back(ix, l[1 + j], id, lv);
    }
    if (level > ix->maxlevel) {
        ix->ep = id;
        ix->maxlevel = level;
    }
    return ASTRO_OK;
}

/* Inserts (upserts) key; see hnsw.h. */
int astro_hnsw_add(astro_hnsw *ix, uint64_t key, const float *vec, size_t dim,
                   const astro_item_times *times, astro_err *err) {
    int rc = astro__vec_arg("hnsw", ix, vec, dim, ix ? ix->dim : 0, err);
    if (rc) return rc;
    if (ix->ndeleted >= 64 && ix->ndeleted * 10 > ix->n) {
        rc = astro_hnsw_repair(ix, err);
        if (rc) return rc;
    }
    if (!ix->nfree && ix->n == ix->cap && grow_slots(ix, ix->cap ? ix->cap * 2 : 64))
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    if (astro__idxmap_reserve(&ix->map, ix->nlive + 1, ix->keys))
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    int level = draw_level(ix);
    uint32_t id = ix->nfree ? ix->freelist[ix->nfree - 1] : (uint32_t)ix->n;
    int reuse = ix->nfree > 0;
    size_t off = reuse ? ix->upper_off[id] : 0;
    if (level > 0 && (!reuse || level > ix->ulev[id])) {
        off = astro__hnsw_upper_alloc(ix, (size_t)level);
        if (off == SIZE_MAX) return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
        ix->ulev[id] = (uint8_t)level;
    } else if (!reuse) {
        ix->ulev[id] = 0;
    }
    /* Nothing can fail from here on. */
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    if (pos != SIZE_MAX) {
        uint32_t old = ix->map.slots[pos];
        astro__idxmap_erase_at(&ix->map, ix->keys, pos);
        ix->state[old] = HN_DELETED;
        ix->nlive--;
        ix->ndeleted++;
    }
    if (reuse) ix->nfree--;
    else ix->n++;
    float *r = ix->vecs + (size_t)id * ix->stride;
    memcpy(r, vec, dim * sizeof(float));
    memset(r + dim, 0, (ix->stride - dim) * sizeof(float));
    astro_vec_normalize(r, dim, NULL);
    ix->upper_off[id] = (uint32_t)off;
    ix->level[id] = (uint8_t)level;
    ix->state[id] = HN_LIVE;
    ix->keys[id] = key;
    astro__times_set(&ix->times[id], times);
    for (int lv = 0; lv <= level; lv++) hn_links(ix, id, lv)[0] = 0;
    astro__idxmap_insert(&ix->map, ix->keys, key, id);
    ix->nlive++;
    if (insert_node(ix, id, level))   /* only a heap regrow can fail: node stays, sparsely linked */
        return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory while linking");
    return ASTRO_OK;
}

/* Tombstones key; returns 1 if present. */
int astro_hnsw_remove(astro_hnsw *ix, uint64_t key) {
    if (!ix) return 0;
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    if (pos == SIZE_MAX) return 0;
    uint32_t id = ix->map.slots[pos];
    astro__idxmap_erase_at(&ix->map, ix->keys, pos);
    ix->state[id] = HN_DELETED;
    ix->nlive--;
    ix->ndeleted++;
    return 1;
}

/* Returns 1 if key is live in the graph. */
int astro_hnsw_contains(const astro_hnsw *ix, uint64_t key) {
    return ix && astro__idxmap_find(&ix->map, ix->keys, key) != SIZE_MAX;
}

size_t astro_hnsw_count(const astro_hnsw *ix) { return ix ? ix->nlive : 0; }
size_t astro_hnsw_deleted(const astro_hnsw *ix) { return ix ? ix->ndeleted : 0; }
size_t astro_hnsw_dim(const astro_hnsw *ix) { return ix ? ix->dim : 0; }

/* Returns every byte the index holds, its writer context included. */
size_t astro_hnsw_bytes(const astro_hnsw *ix) {
    if (!ix) return 0;
    const astro_hnsw_ctx *c = ix->bctx;
    size_t b = sizeof *ix + ix->cap * (ix->stride * sizeof(float) + (1 + ix->M0) * sizeof(uint32_t) + 3 +
                                       2 * sizeof(uint32_t) + sizeof(uint64_t) + sizeof(astro_item_times));
    b += ix->upper_cap * sizeof(uint32_t) + ix->map.cap * sizeof(uint32_t);
    b += sizeof *c + c->mark_cap * sizeof(uint16_t) + (c->cand_cap + c->res_cap + 1 + c->tmp_cap) * sizeof(hn_pair) +
         c->stage_cap * sizeof(uint32_t) + ix->stride * sizeof(float);
    return b;
}
