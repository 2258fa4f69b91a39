/*
** blobcache.c — bounded uint64 -> bytes map (blobcache.h). Entries are dense
** rows (keys[], blobs[]) found through the shared key -> row map
** (internal.h); a drop moves the last row into the hole. Each entry owns one
** malloc'd copy of its bytes.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/blobcache.h"
#include "internal.h"

typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

struct astro_blobcache {
    size_t cap;          /* most entries held */
    size_t count;
    size_t rows;         /* entries the arrays have room for */
    size_t held;         /* bytes of the copies */
    uint64_t *keys;      /* rows */
    blob *blobs;         /* rows */
    astro__idxmap map;   /* key -> row */
};

int astro_blobcache_new(size_t cap, astro_blobcache **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "blobcache: NULL argument");
    *out = NULL;
    if (cap == 0 || cap > ((size_t)1 << 31))
        return astro_err_set(err, ASTRO_EINVAL, "blobcache: cap must be in [1, 2^31], got %zu", cap);
    astro_blobcache *c = calloc(1, sizeof *c);
    if (!c) return astro_err_set(err, ASTRO_ENOMEM, "blobcache: out of memory");
    c->cap = cap;
    *out = c;
    return ASTRO_OK;
}

void astro_blobcache_clear(astro_blobcache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->count; i++) free(c->blobs[i].p);
    c->count = 0;
    c->held = 0;
    if (c->map.cap) memset(c->map.slots, 0xff, c->map.cap * sizeof *c->map.slots);
    c->map.n = 0;
}

void astro_blobcache_free(astro_blobcache *c) {
    if (!c) return;
    astro_blobcache_clear(c);
    free(c->keys);
    free(c->blobs);
    astro__idxmap_free(&c->map);
    free(c);
}

/* The row of key, or SIZE_MAX. */
static size_t row_of(const astro_blobcache *c, uint64_t key) {
    size_t pos = astro__idxmap_find(&c->map, c->keys, key);
    return pos == SIZE_MAX ? SIZE_MAX : c->map.slots[pos];
}

const unsigned char *astro_blobcache_get(const astro_blobcache *c, uint64_t key, size_t *n) {
    size_t row = c ? row_of(c, key) : SIZE_MAX;
    if (row == SIZE_MAX) return NULL;
    if (n) *n = c->blobs[row].n;
    return c->blobs[row].p;
}

int astro_blobcache_drop(astro_blobcache *c, uint64_t key) {
    size_t row, last;
    if (!c || !astro__rows_take(&c->map, c->keys, NULL, c->count, key, &row, &last)) return 0;
    c->held -= c->blobs[row].n;
    free(c->blobs[row].p);
    c->blobs[row] = c->blobs[last];
    c->count--;
    return 1;
}

/* Room for one more row: grows the arrays and the map. */
static int reserve_row(astro_blobcache *c) {
    if (c->count == c->rows) {
        size_t rows = c->rows ? c->rows * 2 : 64;
        if (rows > c->cap) rows = c->cap;
        ASTRO__GROW_OR(c->keys, rows, return ASTRO_ENOMEM);
        ASTRO__GROW_OR(c->blobs, rows, return ASTRO_ENOMEM);
        c->rows = rows;
    }
    return astro__idxmap_reserve(&c->map, c->count + 1, c->keys);
}

int astro_blobcache_put(astro_blobcache *c, uint64_t key, const void *bytes, size_t n,
                        astro_err *err) {
    if (!c || (!bytes && n)) return astro_err_set(err, ASTRO_EINVAL, "blobcache: NULL argument");
    unsigned char *copy = malloc(n ? n : 1);
    if (!copy) {
        astro_blobcache_drop(c, key);
        return astro_err_set(err, ASTRO_ENOMEM, "blobcache: out of memory for %zu bytes", n);
    }
    if (n) memcpy(copy, bytes, n);
    size_t row = row_of(c, key);
    if (row != SIZE_MAX) {            /* replace in place */
        c->held = c->held - c->blobs[row].n + n;
        free(c->blobs[row].p);
        c->blobs[row] = (blob){ copy, n };
        return ASTRO_OK;
    }
    if (c->count == c->cap) astro_blobcache_clear(c);
    if (reserve_row(c) != ASTRO_OK) {
        free(copy);
        return astro_err_set(err, ASTRO_ENOMEM, "blobcache: out of memory for entry %zu", c->count + 1);
    }
    row = astro__rows_append(&c->map, c->keys, &c->count, key);
    c->blobs[row] = (blob){ copy, n };
    c->held += n;
    return ASTRO_OK;
}

size_t astro_blobcache_count(const astro_blobcache *c) { return c ? c->count : 0; }

size_t astro_blobcache_bytes(const astro_blobcache *c) {
    if (!c) return 0;
    return c->held + c->rows * (sizeof *c->keys + sizeof *c->blobs) + c->map.cap * sizeof *c->map.slots;
}
