/*
** docs.c — the document table the inverted indexes share (internal.h):
** key -> dense docno, freed docnos reused, and per docno the key, times and
** distinct term ids. Growth happens in astro__docs_reserve only, so an index
** can do everything that may fail before it touches a document it replaces.
*/
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *astro__grow(void *p, size_t sz, size_t n) {
    if (n == 0 || n > SIZE_MAX / sz) return NULL;
    void *q = realloc(p, n * sz);
    astro__advise_huge(q, n * sz);
    return q;
}

int astro__docs_find(const astro__docs *dt, uint64_t key, uint32_t *d) {
    size_t pos = astro__idxmap_find(&dt->map, dt->keys, key);
    if (pos == SIZE_MAX) return 0;
    *d = dt->map.slots[pos];
    return 1;
}

int astro__docs_reserve(astro__docs *dt, uint32_t **extra) {
    if (dt->nfree == 0 && dt->nslots >= dt->dcap) {
        if (dt->dcap >= ASTRO__IDX_EMPTY / 2) return ASTRO_ENOMEM;
        size_t ncap = dt->dcap ? dt->dcap * 2 : 64;
        ASTRO__GROW_OR(dt->keys, ncap, return ASTRO_ENOMEM);
        ASTRO__GROW_OR(dt->times, ncap, return ASTRO_ENOMEM);
        ASTRO__GROW_OR(dt->fwd, ncap, return ASTRO_ENOMEM);
        ASTRO__GROW_OR(dt->fwd_n, ncap, return ASTRO_ENOMEM);
        ASTRO__GROW_OR(dt->freelist, ncap, return ASTRO_ENOMEM);
        if (extra) ASTRO__GROW_OR(*extra, ncap, return ASTRO_ENOMEM);
        dt->dcap = ncap;
    }
    return astro__idxmap_reserve(&dt->map, dt->ndocs + 1, dt->keys);
}

uint32_t astro__docs_insert(astro__docs *dt, uint64_t key) {
    uint32_t d = dt->nfree ? dt->freelist[--dt->nfree] : (uint32_t)dt->nslots++;
    dt->keys[d] = key;
    astro__idxmap_insert(&dt->map, dt->keys, key, d);
    return d;
}

void astro__docs_set(astro__docs *dt, uint32_t d, const astro_item_times *times, uint32_t *fwd, size_t n) {
    astro__times_set(&dt->times[d], times);
    dt->fwd[d] = fwd;
    dt->fwd_n[d] = (uint32_t)n;
}

int astro__docs_erase(astro__docs *dt, uint64_t key, uint32_t *d) {
    size_t pos = astro__idxmap_find(&dt->map, dt->keys, key);
    if (pos == SIZE_MAX) return 0;
    *d = dt->map.slots[pos];
    astro__idxmap_erase_at(&dt->map, dt->keys, pos);
    dt->freelist[dt->nfree++] = *d;   /* freelist has dcap room, never fails */
    return 1;
}

void astro__docs_drop_terms(astro__docs *dt, uint32_t d) {
    if (!astro__docs_lent(dt, dt->fwd[d])) free(dt->fwd[d]);
    dt->fwd[d] = NULL;
    dt->fwd_n[d] = 0;
}

int astro__docs_dup_terms(const uint32_t *ids, size_t n, uint32_t **out) {
    *out = NULL;
    if (n == 0) return ASTRO_OK;
    if (n > SIZE_MAX / sizeof **out || !(*out = malloc(n * sizeof **out))) return ASTRO_ENOMEM;
    memcpy(*out, ids, n * sizeof **out);
    return ASTRO_OK;
}

size_t astro__docs_bytes(const astro__docs *dt) {
    size_t b = dt->map.cap * sizeof(uint32_t) +
               dt->dcap * (sizeof(uint64_t) + sizeof(astro_item_times) + sizeof(uint32_t *) + 2 * sizeof(uint32_t));
    for (size_t d = 0; d < dt->nslots; d++) b += dt->fwd_n[d] * sizeof(uint32_t);
    return b;
}

void astro__docs_free(astro__docs *dt) {
    for (size_t d = 0; d < dt->nslots; d++)
        if (!astro__docs_lent(dt, dt->fwd[d])) free(dt->fwd[d]);
    free(dt->keys);
    free(dt->times);
    free(dt->fwd);
    free(dt->fwd_n);
    free(dt->freelist);
    astro__idxmap_free(&dt->map);
    memset(dt, 0, sizeof *dt);
}
