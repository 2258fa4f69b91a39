/*
** hnsw.h — a hierarchical navigable small world graph for approximate
** nearest-neighbour search by cosine similarity.
**
** Vectors are normalized on add and live in one contiguous 64-byte-aligned
** array; level-0 neighbour lists live in another (2*M ids per node), upper
** levels in a shared pool, so there is no per-vector allocation. Removal marks
** a tombstone: the node still routes searches but is never returned.
** astro_hnsw_repair relinks the neighbours of deleted nodes and frees their
** slots for reuse; add runs it by itself once tombstones exceed 10% of slots.
** Searches take a caller-owned context (visited set, heaps, query copy), so
** many threads may search one index at once, each with its own context, as
** long as no thread writes. Filters (astro_filter) are applied to results
** while the traversal still walks through filtered-out nodes. Scores are
** (1+cos)/2 in [0,1], like astro_flat. The graph saves to and loads from a
** memory buffer or a file (magic, version, FNV-1a checksum); loading rejects
** corrupt or foreign data with ASTRO_EFORMAT.
*/
#ifndef ASTRO_HNSW_H
#define ASTRO_HNSW_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_hnsw_opts {
    size_t M;                 /* links per node on upper levels, 2..128 (level 0: 2*M); 0 = 16 */
    size_t ef_construction;   /* 0 = 200 */
    size_t ef_search;         /* default ef of searches; 0 = 64 */
    uint64_t seed;            /* level generator seed; 0 = a fixed default */
} astro_hnsw_opts;

/* Fills opts with M 16, ef_construction 200, ef_search 64, the default seed. */
void astro_hnsw_opts_init(astro_hnsw_opts *opts);

typedef struct astro_hnsw astro_hnsw;
typedef struct astro_hnsw_ctx astro_hnsw_ctx;

/* Creates an empty graph for vectors of dim floats (1..65536); opts may be NULL. */
int astro_hnsw_new(size_t dim, const astro_hnsw_opts *opts, astro_hnsw **out, astro_err *err);
void astro_hnsw_free(astro_hnsw *ix);

/* Pre-allocates room for n nodes (optional; add grows by doubling). */
int astro_hnsw_reserve(astro_hnsw *ix, size_t n, astro_err *err);

/* Inserts key's vector (upsert: an existing key is tombstoned and re-added).
 * ASTRO_EINVAL on NaN/Inf, ASTRO_EDIM on a wrong dim; unchanged on error. */
int astro_hnsw_add(astro_hnsw *ix, uint64_t key, const float *vec, size_t dim,
                   const astro_item_times *times, astro_err *err);

/* Tombstones key; returns 1 if it was present. */
int astro_hnsw_remove(astro_hnsw *ix, uint64_t key);

/* Relinks every live neighbour of a tombstoned node and reclaims the deleted
 * slots. Returns ASTRO_OK or ASTRO_ENOMEM (graph still valid). */
int astro_hnsw_repair(astro_hnsw *ix, astro_err *err);

int astro_hnsw_contains(const astro_hnsw *ix, uint64_t key);
size_t astro_hnsw_count(const astro_hnsw *ix);      /* live nodes */
size_t astro_hnsw_deleted(const astro_hnsw *ix);    /* tombstones awaiting repair */
size_t astro_hnsw_dim(const astro_hnsw *ix);
size_t astro_hnsw_bytes(const astro_hnsw *ix);      /* everything the index allocated */

/* Creates a search context for ix. It grows only when the index has grown
 * past its size or a search needs longer heaps than any before. */
int astro_hnsw_ctx_new(const astro_hnsw *ix, astro_hnsw_ctx **out, astro_err *err);
void astro_hnsw_ctx_free(astro_hnsw_ctx *ctx);

/**
 * Approximate top-k search.
 * @param[in]  ctx     scratch of the calling thread (required)
 * @param[in]  ef      beam width; 0 = the index default; raised to k if smaller
 * @param[in]  filter  may be NULL; filtered-out nodes route but are not returned
 * @param[out] keys, scores  caller buffers of k entries, best first
 * @return number of results (<= k) or a negative ASTRO_E* code.
 */
long astro_hnsw_search(const astro_hnsw *ix, astro_hnsw_ctx *ctx, const float *q, size_t dim,
                       size_t k, size_t ef, const astro_filter *filter, uint64_t *keys,
                       float *scores, astro_err *err);

/* Returns the exact byte size astro_hnsw_save_mem writes. */
size_t astro_hnsw_save_size(const astro_hnsw *ix);
/* Serializes into buf[0..cap); sets *len. ASTRO_ERANGE if cap is too small. */
int astro_hnsw_save_mem(const astro_hnsw *ix, void *buf, size_t cap, size_t *len, astro_err *err);
/* Rebuilds an index from buf[0..len); ASTRO_EFORMAT on corrupt/foreign data. */
int astro_hnsw_load_mem(const void *buf, size_t len, astro_hnsw **out, astro_err *err);
/* The same through a file; ASTRO_EIO on read/write failure. */
int astro_hnsw_save(const astro_hnsw *ix, const char *path, astro_err *err);
int astro_hnsw_load(const char *path, astro_hnsw **out, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
