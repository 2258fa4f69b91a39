/*
** flat.c — the exact (brute-force) vector index. Vectors live in one
** contiguous 64-byte-aligned array; each row has a stride of dim rounded up to
** 16 floats so every row starts on a cache line, with zeroed padding. Rows are
** dense: removal moves the last row into the hole, and a key -> row hash map
** (internal.h) is patched accordingly. Search is a single pass over the rows
** with a bounded min-heap in the caller's output buffers, so it allocates
** nothing: instead of normalizing the query into scratch space it divides the
** dot product by the query norm, which is the same cosine.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/kernels.h"
#include "astro/vec.h"
#include "internal.h"

#define FLAT_MAX_DIM 65536
#define FLAT_ALIGN 64

struct astro_flat {
    size_t dim;
    size_t stride;            /* floats per row, multiple of 16 */
    size_t count;
    size_t cap;               /* rows allocated */
    float *data;              /* cap * stride floats, FLAT_ALIGN aligned, inside raw */
    char *raw;                /* the allocation (realloc'd): data_bytes(cap) + FLAT_ALIGN */
    uint64_t *keys;           /* cap */
    astro_item_times *times;  /* cap */
    astro__idxmap map;        /* key -> row */
    astro_kern_f32_fn dot;    /* dispatched at _new */
};

/* Returns the byte size of the row array for cap rows, rounded to FLAT_ALIGN. */
static size_t data_bytes(const astro_flat *ix, size_t cap) {
    size_t b = cap * ix->stride * sizeof(float);
    return (b + FLAT_ALIGN - 1) / FLAT_ALIGN * FLAT_ALIGN;
}

/* Creates an empty index of dimension dim (1..65536). */
int astro_flat_new(size_t dim, astro_flat **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "flat: out is NULL");
    *out = NULL;
    if (dim < 1 || dim > FLAT_MAX_DIM)
        return astro_err_set(err, ASTRO_EINVAL, "flat: dim %zu out of range 1..%d", dim, FLAT_MAX_DIM);
    astro_flat *ix = calloc(1, sizeof *ix);
    if (!ix) return astro_err_set(err, ASTRO_ENOMEM, "flat: out of memory");
    ix->dim = dim;
    ix->stride = (dim + 15) / 16 * 16;
    ix->dot = astro_kernels_best()->dot;
    *out = ix;
    return ASTRO_OK;
}

/* Frees the index; NULL-safe. */
void astro_flat_free(astro_flat *ix) {
    if (!ix) return;
    free(ix->raw);
    astro__rows_free(&ix->map, ix->keys, ix->times);
    free(ix);
}

/* Grows the row array to ncap rows with realloc, which moves a large block
 * by remapping its pages (no copy, no page faults on the rows already there),
 * then re-aligns the rows when the block's start moved to another offset
 * from a FLAT_ALIGN boundary. Returns ASTRO_ENOMEM with the rows unchanged. */
static int grow_rows(astro_flat *ix, size_t ncap) {
    size_t old_off = ix->raw ? (size_t)((char *)ix->data - ix->raw) : 0;
    char *raw = realloc(ix->raw, data_bytes(ix, ncap) + FLAT_ALIGN);
    if (!raw) return ASTRO_ENOMEM;
    size_t off = (FLAT_ALIGN - (size_t)((uintptr_t)raw % FLAT_ALIGN)) % FLAT_ALIGN;
    if (off != old_off && ix->count)
        memmove(raw + off, raw + old_off, ix->count * ix->stride * sizeof(float));
    ix->raw = raw;
    ix->data = (float *)(void *)(raw + off);
    return ASTRO_OK;
}

/* Makes room for one more row (doubling) and its hash entry. Returns
 * ASTRO_ENOMEM with the index unchanged if any allocation fails (arrays
 * that already grew stay grown, which is harmless). */
static int flat_reserve(astro_flat *ix) {
    if (ix->count == ASTRO__IDX_EMPTY - 1) return ASTRO_ERANGE;
    if (ix->count == ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 16;
        if (ncap > (SIZE_MAX - 2 * FLAT_ALIGN) / (ix->stride * sizeof(float))) return ASTRO_ENOMEM;
        if (grow_rows(ix, ncap)) return ASTRO_ENOMEM;
        if (astro__rows_grow(&ix->keys, &ix->times, ncap)) return ASTRO_ENOMEM;
        ix->cap = ncap;
    }
    return astro__idxmap_reserve(&ix->map, ix->count + 1, ix->keys);
}

/* Upserts key's vector, stored normalized. On any error the index is unchanged. */
int astro_flat_add(astro_flat *ix, uint64_t key, const float *vec, size_t dim,
                   const astro_item_times *times, astro_err *err) {
    int rc = astro__vec_arg("flat", ix, vec, dim, ix ? ix->dim : 0, err);
    if (rc) return rc;
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    size_t row;
    if (pos != SIZE_MAX) {
        row = ix->map.slots[pos];
    } else {
        rc = flat_reserve(ix);
        if (rc == ASTRO_ERANGE) return astro_err_set(err, rc, "flat: index is full");
        if (rc) return astro_err_set(err, rc, "flat: out of memory");
        row = astro__rows_append(&ix->map, ix->keys, &ix->count, key);
    }
    float *r = ix->data + row * ix->stride;
    memcpy(r, vec, dim * sizeof(float));
    memset(r + dim, 0, (ix->stride - dim) * sizeof(float));
    astro_vec_normalize(r, dim, NULL);   /* cannot fail: checked finite above */
    astro__times_set(&ix->times[row], times);
    return ASTRO_OK;
}

/* Removes key by moving the last row into its place; returns 1 if present. */
int astro_flat_remove(astro_flat *ix, uint64_t key) {
    if (!ix) return 0;
    size_t row, last;
    if (!astro__rows_take(&ix->map, ix->keys, ix->times, ix->count, key, &row, &last)) return 0;
    if (row != last)
        memcpy(ix->data + row * ix->stride, ix->data + last * ix->stride, ix->stride * sizeof(float));
    ix->count--;
    return 1;
}

/* Returns 1 if key is stored. */
int astro_flat_contains(const astro_flat *ix, uint64_t key) {
    return ix && astro__idxmap_find(&ix->map, ix->keys, key) != SIZE_MAX;
}

/* Copies key's normalized vector into out; ASTRO_ENOTFOUND if absent. */
int astro_flat_get(const astro_flat *ix, uint64_t key, float *out, size_t dim, astro_err *err) {
    if (!ix || !out) return astro_err_set(err, ASTRO_EINVAL, "flat: NULL argument");
    if (dim != ix->dim)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", ix->dim, dim);
    size_t pos = astro__idxmap_find(&ix->map, ix->keys, key);
    if (pos == SIZE_MAX)
        return astro_err_set(err, ASTRO_ENOTFOUND, "flat: key %llu not found", (unsigned long long)key);
    memcpy(out, ix->data + (size_t)ix->map.slots[pos] * ix->stride, dim * sizeof(float));
    return ASTRO_OK;
}

/* Returns the number of stored vectors. */
size_t astro_flat_count(const astro_flat *ix) { return ix ? ix->count : 0; }

/* Returns the vector dimension. */
size_t astro_flat_dim(const astro_flat *ix) { return ix ? ix->dim : 0; }

/* Returns the bytes allocated for the index, including the struct. */
size_t astro_flat_bytes(const astro_flat *ix) {
    if (!ix) return 0;
    return sizeof *ix + (ix->cap ? data_bytes(ix, ix->cap) : 0) +
           ix->cap * (sizeof(uint64_t) + sizeof(astro_item_times)) +
           ix->map.cap * sizeof(uint32_t);
}

/* Exact top-k by cosine; returns the number of results or a negative code. */
long astro_flat_search(const astro_flat *ix, const float *q, size_t dim, size_t k,
                       const astro_filter *filter, uint64_t *keys, float *scores,
                       astro_err *err) {
    if (!ix || !q) return astro_err_set(err, ASTRO_EINVAL, "flat: NULL argument");
    if (dim != ix->dim)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", ix->dim, dim);
    if (k == 0) return 0;
    if (!keys || !scores) return astro_err_set(err, ASTRO_EINVAL, "flat: NULL output buffer");
    int rc = astro_vec_check_finite(q, dim, err);
    if (rc) return rc;
    double qq = 0;
    for (size_t i = 0; i < dim; i++) qq += (double)q[i] * q[i];
    float inv = qq > 0 ? (float)(1.0 / sqrt(qq)) : 0.0f;
    astro__topk top = { keys, scores, 0, k };
    const float *row = ix->data;
    const astro_kern_f32_fn dot = ix->dot;
    const size_t stride = ix->stride;
    /* The heap is only touched when a row can enter it: min_keep is the mapped
     * score of the current worst result once k are kept. */
    float min_keep = -INFINITY;
    for (size_t r = 0; r < ix->count; r++, row += stride) {
        __builtin_prefetch(row + 8 * stride);
        if (filter && !astro__filter_pass(filter, ix->keys[r], &ix->times[r])) continue;
        float c = dot(row, q, dim) * inv;
        if (c > 1.0f) c = 1.0f;
        if (c < -1.0f) c = -1.0f;
        float sc = 0.5f * (1.0f + c);
        if (sc < min_keep) continue;
        astro__topk_push(&top, sc, ix->keys[r]);
        if (top.n == k) min_keep = top.scores[0];
    }
    return (long)astro__topk_finish(&top);
}
