/*
** flat_i8.c — the int8 flat index with float rescoring. Rows are dense like
** in flat.c (removal moves the last row into the hole): codes (dim rounded to
** 64 bytes per row), one float scale per row, and the normalized float32 row
** (dim rounded to 16 floats) used only for rescoring. Search quantizes the
** query into the context, ranks every row by scale * int8 dot into a bounded
** heap of row numbers, then rescores those candidates exactly with the float
** kernel into the caller's buffers.
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

struct astro_flat_i8 {
    size_t dim, cstride, fstride;   /* code bytes / floats per row */
    size_t rescore;
    size_t count, cap;
    int8_t *codes;                  /* cap * cstride, aligned */
    float *scale;                   /* cap */
    float *vecs;                    /* cap * fstride, aligned */
    uint64_t *keys;
    astro_item_times *times;
    astro__idxmap map;
    const astro_kernels *kern;      /* dispatched at _new */
};

struct astro_flat_i8_ctx {
    size_t dim, cap;                /* cap = candidate slots */
    int8_t *qcode;                  /* dim, aligned */
    float *qnorm;                   /* dim, aligned */
    uint64_t *ckeys;                /* cap: candidate row numbers */
    float *cscores;
};

/* Returns n rounded up to a multiple of I8_ALIGN. */
static size_t round_up(size_t n) { return (n + I8_ALIGN - 1) / I8_ALIGN * I8_ALIGN; }

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
    ix->fstride = (dim + 15) / 16 * 16;
    ix->rescore = rescore ? rescore : 4;
    ix->kern = astro_kernels_best();
    *out = ix;
    return ASTRO_OK;
}

/* Frees the index; NULL-safe. */
void astro_flat_i8_free(astro_flat_i8 *ix) {
    if (!ix) return;
    free(ix->codes);
    free(ix->scale);
    free(ix->vecs);
    free(ix->keys);
    free(ix->times);
    astro__idxmap_free(&ix->map);
    free(ix);
}

/* Grows the row arrays to hold one more row; ASTRO_ENOMEM leaves the index
 * usable (arrays that grew keep their contents). */
static int i8_reserve(astro_flat_i8 *ix) {
    if (ix->count >= ASTRO__IDX_EMPTY - 1) return ASTRO_ERANGE;
    if (ix->count == ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 16;
        if (ncap > SIZE_MAX / (ix->fstride * sizeof(float))) return ASTRO_ENOMEM;
        int8_t *codes = aligned_alloc(I8_ALIGN, round_up(ncap * ix->cstride));
        float *vecs = aligned_alloc(I8_ALIGN, round_up(ncap * ix->fstride * sizeof(float)));
        float *scale = malloc(ncap * sizeof *scale);
        uint64_t *keys = malloc(ncap * sizeof *keys);
        astro_item_times *times = malloc(ncap * sizeof *times);
        if (!codes || !vecs || !scale || !keys || !times) {
            free(codes), free(vecs), free(scale), free(keys), free(times);
            return ASTRO_ENOMEM;
        }
        if (ix->count) {
            memcpy(codes, ix->codes, ix->count * ix->cstride);
            memcpy(vecs, ix->vecs, ix->count * ix->fstride * sizeof(float));
            memcpy(scale, ix->scale, ix->count * sizeof *scale);
            memcpy(keys, ix->keys, ix->count * sizeof *keys);
            memcpy(times, ix->times, ix->count * sizeof *times);
        }
        free(ix->codes), free(ix->vecs), free(ix->scale), free(ix->keys), free(ix->times);
        ix->codes = codes, ix->vecs = vecs, ix->scale = scale, ix->keys = keys, ix->times = times;
        ix->cap = ncap;
    }
    return astro__idxmap_reserve(&ix->map, ix->count + 1, ix->keys);
}

/* Upserts key; see flat_i8.h. */
int astro_flat_i8_add(astro_flat_i8 *ix, uint64_t key, const float *vec, size_t dim,
                      const astro_item_times *times, astro_err *err) {
    if (!ix || !vec) return astro_err_set(err, ASTRO_EINVAL, "flat_i8: NULL argument");
    if (dim != ix->dim)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", ix->dim, dim);
    int rc = astro_vec_check_finite(vec, dim, err);
    if (rc) return rc;
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key), row;
    if (pos != SIZE_MAX) {
        row = ix->map.slots[pos];
    } else {
        rc = i8_reserve(ix);
        if (rc) return astro_err_set(err, rc, rc == ASTRO_ERANGE ? "flat_i8: index is full" : "flat_i8: out of memory");
        row = ix->count++;
        ix->keys[row] = key;
        astro__idxmap_insert(&ix->map, ix->keys, key, (uint32_t)row);
    }
    float *f = ix->vecs + row * ix->fstride;
    int8_t *c = ix->codes + row * ix->cstride;
    memcpy(f, vec, dim * sizeof(float));
    memset(f + dim, 0, (ix->fstride - dim) * sizeof(float));
    astro_vec_normalize(f, dim, NULL);
    memset(c + dim, 0, ix->cstride - dim);
    astro_quant_i8(f, dim, c, &ix->scale[row], NULL);
    ix->times[row].occurred_at = times ? times->occurred_at : ASTRO_TIME_NONE;
    ix->times[row].retained_at = times ? times->retained_at : ASTRO_TIME_NONE;
    return ASTRO_OK;
}

/* Removes key by moving the last row into its place; returns 1 if present. */
int astro_flat_i8_remove(astro_flat_i8 *ix, uint64_t key) {
    if (!ix) return 0;
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    if (pos == SIZE_MAX) return 0;
    size_t row = ix->map.slots[pos], last = ix->count - 1;
    astro__idxmap_erase_at(&ix->map, ix->keys, pos);
    if (row != last) {
        uint64_t moved = ix->keys[last];
        size_t mpos = astro__idxmap_find(&ix->map, ix->keys, moved);
        memcpy(ix->codes + row * ix->cstride, ix->codes + last * ix->cstride, ix->cstride);
        memcpy(ix->vecs + row * ix->fstride, ix->vecs + last * ix->fstride, ix->fstride * sizeof(float));
        ix->scale[row] = ix->scale[last];
        ix->keys[row] = moved;
        ix->times[row] = ix->times[last];
        ix->map.slots[mpos] = (uint32_t)row;
    }
    ix->count--;
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

/* Returns the bytes allocated by the index. */
size_t astro_flat_i8_bytes(const astro_flat_i8 *ix) {
    if (!ix) return 0;
    size_t b = sizeof *ix + ix->map.cap * sizeof(uint32_t);
    if (ix->cap)
        b += round_up(ix->cap * ix->cstride) + round_up(ix->cap * ix->fstride * sizeof(float)) +
             ix->cap * (sizeof(float) + sizeof(uint64_t) + sizeof(astro_item_times));
    return b;
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
    if (!c->qcode || !c->qnorm || ctx_grow(c, (k_max ? k_max : 10) * ix->rescore)) {
        astro_flat_i8_ctx_free(c);
        return astro_err_set(err, ASTRO_ENOMEM, "flat_i8: out of memory");
    }
    *out = c;
    return ASTRO_OK;
}

/* Frees a context; NULL-safe. */
void astro_flat_i8_ctx_free(astro_flat_i8_ctx *ctx) {
    if (!ctx) return;
    free(ctx->qcode), free(ctx->qnorm), free(ctx->ckeys), free(ctx->cscores);
    free(ctx);
}

/* Two-pass top-k search; see flat_i8.h. */
long astro_flat_i8_search(const astro_flat_i8 *ix, astro_flat_i8_ctx *ctx, const float *q,
                          size_t dim, size_t k, const astro_filter *filter, uint64_t *keys,
                          float *scores, astro_err *err) {
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
    astro__topk cand = { ctx->ckeys, ctx->cscores, 0, k * ix->rescore };
    const astro_kern_i8_fn dot_i8 = ix->kern->dot_i8;
    const int8_t *row = ix->codes;
    float min_keep = -INFINITY;
    for (size_t r = 0; r < ix->count; r++, row += ix->cstride) {
        __builtin_prefetch(row + 8 * ix->cstride);
        if (filter && !astro__filter_pass(filter, ix->keys[r], &ix->times[r])) continue;
        float s = ix->scale[r] * (float)dot_i8(row, ctx->qcode, dim);
        if (s < min_keep) continue;
        astro__topk_push(&cand, s, r);
        if (cand.n == cand.k) min_keep = cand.scores[0];
    }
    /* Pass 2: exact cosine of the candidates. */
    astro__topk top = { keys, scores, 0, k };
    const astro_kern_f32_fn dot = ix->kern->dot;
    for (size_t i = 0; i < cand.n; i++) {
        size_t r = (size_t)cand.keys[i];
        float c = dot(ix->vecs + r * ix->fstride, ctx->qnorm, dim);
        c = c > 1.0f ? 1.0f : c < -1.0f ? -1.0f : c;
        astro__topk_push(&top, 0.5f * (1.0f + c), ix->keys[r]);
    }
    return (long)astro__topk_finish(&top);
}
