/*
** flat_i8.c — the int8 flat index. Only the codes live here: rows are dense
** like in flat.c (removal moves the last row into the hole), their int8 codes
** (dim rounded to 64 bytes) sit in fixed-size blocks so growth never leaves
** more than one block unused, and the per-row scale, key and times sit in
** arrays grown by half. No float copy is kept: search ranks every row by
** scale * int8 dot into a bounded heap of row numbers, then rescores those
** candidates exactly from the caller's own stored vectors (the fetch
** callback: rows, a memory-mapped file), which is what holds a 384-d vector
** to about 420 resident bytes instead of 2 KB.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/flat_i8.h"
#include "astro/kernels.h"
#include "astro/vec.h"
#include "internal.h"

#define I8_MAX_DIM 65536
#define I8_ALIGN 64
#define I8_BLOCK_BYTES (256u * 1024u)   /* codes per block: about 682 rows at 384-d */

struct astro_flat_i8 {
    size_t dim, cstride, brows;     /* code bytes per row, rows per block */
    size_t rescore;
    size_t count, cap;              /* rows, rows the metadata arrays hold */
    size_t nblocks, bcap;           /* code blocks allocated, block slots */
    int8_t **blocks;                /* nblocks blocks of brows * cstride, aligned */
    float *scale;                   /* cap: code scale / |v|, so scale*dot ~ cos */
    uint64_t *keys;
    astro_item_times *times;
    astro__idxmap map;
    const astro_kernels *kern;      /* dispatched at _new */
};

struct astro_flat_i8_ctx {
    size_t dim, cap;                /* cap = candidate slots */
    int8_t *qcode;                  /* dim, aligned */
    float *qnorm;                   /* dim, aligned */
    float *fbuf;                    /* dim: scratch for the fetch callback */
    uint64_t *ckeys;                /* cap: candidate row numbers */
    float *cscores;
};

/* Returns n rounded up to a multiple of I8_ALIGN. */
static size_t round_up(size_t n) { return (n + I8_ALIGN - 1) / I8_ALIGN * I8_ALIGN; }

/* Returns the codes of row r. */
static int8_t *row_codes(const astro_flat_i8 *ix, size_t r) {
    return ix->blocks[r / ix->brows] + (r % ix->brows) * ix->cstride;
}

/* Creates an empty index; see flat_i8.h. */
int astro_flat_i8_new(size_t dim, size_t rescore, astro_flat_i8 **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "flat_i8: out is NULL");
    *out = NULL;
    if (dim < 1 || dim > I8_MAX_DIM)
        return astro_err_set(err, ASTRO_EINVAL, "flat_i8: dim %zu out of range 1..%d", dim, I8_MAX_DIM);
    if (rescore > 1024) return astro_err_set(err, ASTRO_EINVAL, "flat_i8: rescore %zu > 1024", rescore);
    astro_flat_i8 *ix = calloc(1, sizeof *ix);
    if (!ix) return astro_err_set(err, ASTRO_ENOMEM, "flat_i8: out of memory");
    ix->dim = dim;
    ix->cstride = round_up(dim);
    ix->brows = I8_BLOCK_BYTES / ix->cstride ? I8_BLOCK_BYTES / ix->cstride : 1;
    ix->rescore = rescore ? rescore : 4;
    ix->kern = astro_kernels_best();
    *out = ix;
    return ASTRO_OK;
}

/* Frees the index; NULL-safe. */
void astro_flat_i8_free(astro_flat_i8 *ix) {
    if (!ix) return;
    for (size_t b = 0; b < ix->nblocks; b++) free(ix->blocks[b]);
    free(ix->blocks);
    free(ix->scale);
    astro__rows_free(&ix->map, ix->keys, ix->times);
    free(ix);
}

/* Grows the metadata arrays to ncap rows; each array that grew keeps its
 * contents, so a failure part-way leaves the index usable. */
static int grow_meta(astro_flat_i8 *ix, size_t ncap) {
    float *scale = astro__grow(ix->scale, sizeof *scale, ncap);
    if (!scale) return ASTRO_ENOMEM;
    ix->scale = scale;
    if (astro__rows_grow(&ix->keys, &ix->times, ncap)) return ASTRO_ENOMEM;
    ix->cap = ncap;
    return ASTRO_OK;
}

/* Makes room for one more row: metadata grows by half (not double, the
 * slack counts against the footprint), codes by one block. */
static int i8_reserve(astro_flat_i8 *ix) {
    if (ix->count >= ASTRO__IDX_EMPTY - 1) return ASTRO_ERANGE;
    if (ix->count == ix->cap && grow_meta(ix, ix->cap < 16 ? 16 : ix->cap + ix->cap / 2)) return ASTRO_ENOMEM;
    if (ix->count == ix->nblocks * ix->brows) {
        if (ix->nblocks == ix->bcap) {
            size_t nb = ix->bcap ? ix->bcap * 2 : 4;
            int8_t **blocks = realloc(ix->blocks, nb * sizeof *blocks);
            if (!blocks) return ASTRO_ENOMEM;
            ix->blocks = blocks, ix->bcap = nb;
        }
        int8_t *blk = aligned_alloc(I8_ALIGN, round_up(ix->brows * ix->cstride));
        if (!blk) return ASTRO_ENOMEM;
        ix->blocks[ix->nblocks++] = blk;
    }
    return astro__idxmap_reserve(&ix->map, ix->count + 1, ix->keys);
}

/* Upserts key; see flat_i8.h. */
int astro_flat_i8_add(astro_flat_i8 *ix, uint64_t key, const float *vec, size_t dim,
                      const astro_item_times *times, astro_err *err) {
    int rc = astro__vec_arg("flat_i8", ix, vec, dim, ix ? ix->dim : 0, err);
    if (rc) return rc;
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key), row;
    if (pos != SIZE_MAX) {
        row = ix->map.slots[pos];
    } else {
        rc = i8_reserve(ix);
        if (rc) return astro_err_set(err, rc, rc == ASTRO_ERANGE ? "flat_i8: index is full" : "flat_i8: out of memory");
        row = astro__rows_append(&ix->map, ix->keys, &ix->count, key);
    }
    /* Codes do not depend on the vector's length, so quantize it as given and
     * fold 1/|v| into the scale (no normalized copy needed). */
    int8_t *c = row_codes(ix, row);
    float s = 0.0f;
    double nn = 0.0;
    for (size_t j = 0; j < dim; j++) nn += (double)vec[j] * vec[j];
    memset(c + dim, 0, ix->cstride - dim);
    astro_quant_i8(vec, dim, c, &s, NULL);
    ix->scale[row] = nn > 0.0 ? (float)(s / sqrt(nn)) : 0.0f;
    astro__times_set(&ix->times[row], times);
    return ASTRO_OK;
}

/* Removes key by moving the last row into its place; returns 1 if present.
 * A block left wholly unused behind a spare one is freed. */
int astro_flat_i8_remove(astro_flat_i8 *ix, uint64_t key) {
    if (!ix) return 0;
    size_t row, last;
    if (!astro__rows_take(&ix->map, ix->keys, ix->times, ix->count, key, &row, &last)) return 0;
    if (row != last) {
        memcpy(row_codes(ix, row), row_codes(ix, last), ix->cstride);
        ix->scale[row] = ix->scale[last];
    }
    ix->count--;
    while (ix->nblocks * ix->brows >= ix->count + 2 * ix->brows) free(ix->blocks[--ix->nblocks]);
    return 1;
}

/* Returns 1 if key is stored. */
int astro_flat_i8_contains(const astro_flat_i8 *ix, uint64_t key) {
    return ix && astro__idxmap_find(&ix->map, ix->keys, key) != SIZE_MAX;
}

/* Returns the number of stored vectors. */
size_t astro_flat_i8_count(const astro_flat_i8 *ix) { return ix ? ix->count : 0; }

/* Returns the dimension. */
size_t astro_flat_i8_dim(const astro_flat_i8 *ix) { return ix ? ix->dim : 0; }

/* Returns the bytes allocated by the index (every array at its capacity). */
size_t astro_flat_i8_bytes(const astro_flat_i8 *ix) {
    if (!ix) return 0;
    return sizeof *ix + ix->map.cap * sizeof(uint32_t) + ix->bcap * sizeof(int8_t *) +
           ix->nblocks * round_up(ix->brows * ix->cstride) +
           ix->cap * (sizeof(float) + sizeof(uint64_t) + sizeof(astro_item_times));
}

/* Grows ctx to hold `cand` candidates; ASTRO_ENOMEM keeps the old buffers. */
static int ctx_grow(astro_flat_i8_ctx *ctx, size_t cand) {
    if (cand <= ctx->cap) return ASTRO_OK;
    uint64_t *k = malloc(cand * sizeof *k);
    float *s = malloc(cand * sizeof *s);
    if (!k || !s) {
        free(k), free(s);
        return ASTRO_ENOMEM;
    }
    free(ctx->ckeys), free(ctx->cscores);
    ctx->ckeys = k, ctx->cscores = s, ctx->cap = cand;
    return ASTRO_OK;
}

/* Creates a context for ix sized for k_max results. */
int astro_flat_i8_ctx_new(const astro_flat_i8 *ix, size_t k_max, astro_flat_i8_ctx **out,
                          astro_err *err) {
    if (!ix || !out) return astro_err_set(err, ASTRO_EINVAL, "flat_i8: NULL argument");
    astro_flat_i8_ctx *c = calloc(1, sizeof *c);
    if (!c) return astro_err_set(err, ASTRO_ENOMEM, "flat_i8: out of memory");
    c->dim = ix->dim;
    c->qcode = aligned_alloc(I8_ALIGN, round_up(ix->dim));
    c->qnorm = aligned_alloc(I8_ALIGN, round_up(ix->dim * sizeof(float)));
    c->fbuf = aligned_alloc(I8_ALIGN, round_up(ix->dim * sizeof(float)));
    if (!c->qcode || !c->qnorm || !c->fbuf || ctx_grow(c, (k_max ? k_max : 10) * ix->rescore)) {
        astro_flat_i8_ctx_free(c);
        return astro_err_set(err, ASTRO_ENOMEM, "flat_i8: out of memory");
    }
    *out = c;
    return ASTRO_OK;
}

/* Frees a context; NULL-safe. */
void astro_flat_i8_ctx_free(astro_flat_i8_ctx *ctx) {
    if (!ctx) return;
    free(ctx->qcode), free(ctx->qnorm), free(ctx->fbuf), free(ctx->ckeys), free(ctx->cscores);
    free(ctx);
}

/* Maps a cosine to the [0,1] score, clamping rounding overshoot. */
static float cos_score(float c) { return 0.5f * (1.0f + (c > 1.0f ? 1.0f : c < -1.0f ? -1.0f : c)); }

/* Two-pass top-k search; see flat_i8.h. */
long astro_flat_i8_search(const astro_flat_i8 *ix, astro_flat_i8_ctx *ctx, const float *q, size_t dim,
                          size_t k, const astro_filter *filter, astro_flat_i8_fetch_fn fetch, void *user,
                          uint64_t *keys, float *scores, astro_err *err) {
    if (!ix || !ctx || !q) return astro_err_set(err, ASTRO_EINVAL, "flat_i8: NULL argument");
    if (dim != ix->dim || ctx->dim != ix->dim)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", ix->dim, dim);
    if (k == 0) return 0;
    if (!keys || !scores) return astro_err_set(err, ASTRO_EINVAL, "flat_i8: NULL output buffer");
    if (k > SIZE_MAX / ix->rescore / sizeof(uint64_t)) return astro_err_set(err, ASTRO_ERANGE, "flat_i8: k too large");
    if (ctx_grow(ctx, k * ix->rescore)) return astro_err_set(err, ASTRO_ENOMEM, "flat_i8: out of memory");
    memcpy(ctx->qnorm, q, dim * sizeof(float));
    int rc = astro_vec_normalize(ctx->qnorm, dim, err);
    if (rc) return rc;
    float qscale;
    astro_quant_i8(ctx->qnorm, dim, ctx->qcode, &qscale, NULL);

    /* Pass 1: approximate scores scale_row * dot_i8 (the query scale is a
     * common positive factor, so it does not change the order). */
    astro__topk cand = { ctx->ckeys, ctx->cscores, 0, fetch ? k * ix->rescore : k };
    const astro_kern_i8_fn dot_i8 = ix->kern->dot_i8;
    float min_keep = -INFINITY;
    for (size_t b = 0, r = 0; b < ix->nblocks && r < ix->count; b++) {
        const int8_t *row = ix->blocks[b];
        size_t end = r + ix->brows < ix->count ? r + ix->brows : ix->count;
        for (; r < end; r++, row += ix->cstride) {
            __builtin_prefetch(row + 8 * ix->cstride);
            if (filter && !astro__filter_pass(filter, ix->keys[r], &ix->times[r])) continue;
            float s = ix->scale[r] * (float)dot_i8(row, ctx->qcode, dim);
            if (s < min_keep) continue;
            astro__topk_push(&cand, s, r);
            if (cand.n == cand.k) min_keep = cand.scores[0];
        }
    }
    astro__topk top = { keys, scores, 0, k };
    if (!fetch) {   /* no stored vectors: the int8 estimate is the score */
        for (size_t i = 0; i < cand.n; i++)
            astro__topk_push(&top, cos_score(cand.scores[i] * qscale), ix->keys[cand.keys[i]]);
        return (long)astro__topk_finish(&top);
    }
    /* Pass 2: exact cosine of the candidates against the caller's vectors. */
    const astro_kern_f32_fn dot = ix->kern->dot;
    for (size_t i = 0; i < cand.n; i++) {
        uint64_t key = ix->keys[cand.keys[i]];
        const float *v = fetch(user, key, ctx->fbuf, dim);
        if (!v)
            return astro_err_set(err, ASTRO_ENOTFOUND, "flat_i8: no stored vector to rescore key %llu",
                                 (unsigned long long)key);
        float nn = dot(v, v, dim), c = nn > 0.0f ? dot(v, ctx->qnorm, dim) / sqrtf(nn) : 0.0f;
        if (!isfinite(c))   /* a corrupt stored row must not reorder the heap */
            return astro_err_set(err, ASTRO_EINVAL, "flat_i8: stored vector of key %llu is not finite",
                                 (unsigned long long)key);
        astro__topk_push(&top, cos_score(c), key);
    }
    return (long)astro__topk_finish(&top);
}
