/*
** common.c — error filling, filter defaults and the small shared machinery of
** libastrocyte: the key -> dense index hash map used by the flat index, BM25
** and fusion, the bounded top-k heap every search ranks with, the search
** filter predicate and the checksum of saved index files. Kept here so each
** index file holds only its own structure.
*/
#define _DEFAULT_SOURCE /* madvise, MADV_POPULATE_READ where glibc has it */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "astro/common.h"
#include "astro/vec.h"
#include "internal.h"

/* Fills err (if any) with code and a formatted message; returns code. The
 * message is truncated to fit and nothing is allocated. */
int astro_err_set(astro_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        err->code = code;
        err->msg[0] = '\0';
        if (!fmt) return code;
        va_start(ap, fmt);
        int r = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (r < 0) err->msg[0] = '\0';
    }
    return code;
}

/* Resets f to the pass-everything filter. */
void astro_filter_init(astro_filter *f) {
    if (!f) return;
    f->allow = NULL;
    f->time_from = ASTRO_TIME_NONE;
    f->time_to = ASTRO_TIME_NONE;
    f->as_of = ASTRO_TIME_NONE;
}

/* Maps in the pages of a file mapping ahead of use; see internal.h. */
void astro__prefault(void *p, size_t n) {
#ifdef MADV_POPULATE_READ
    if (p && n) (void)madvise(p, n, MADV_POPULATE_READ);
#else
    (void)p, (void)n;
#endif
}

/* Advises the huge-page-aligned interior of p[0..n) onto transparent huge
 * pages; see internal.h. */
void astro__advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || n < huge) return;
    uintptr_t a = ((uintptr_t)p + huge - 1) / huge * huge, b = ((uintptr_t)p + n) / huge * huge;
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

/* The file checksum, in parts; see internal.h. */
void astro__cksum_init(astro__cksum *c) {
    c->h[0] = ASTRO__FNV_OFFSET, c->h[1] = ASTRO__FNV_OFFSET ^ 1;
    c->h[2] = ASTRO__FNV_OFFSET ^ 2, c->h[3] = ASTRO__FNV_OFFSET ^ 3;
    c->n = 0;
}

void astro__cksum_blocks(astro__cksum *c, const unsigned char *p, size_t n) {
    uint64_t h0 = c->h[0], h1 = c->h[1], h2 = c->h[2], h3 = c->h[3];
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        h0 = (h0 ^ w[0]) * 0x100000001b3ULL;
        h1 = (h1 ^ w[1]) * 0x100000001b3ULL;
        h2 = (h2 ^ w[2]) * 0x100000001b3ULL;
        h3 = (h3 ^ w[3]) * 0x100000001b3ULL;
    }
    c->h[0] = h0, c->h[1] = h1, c->h[2] = h2, c->h[3] = h3;
    c->n += i;
}

uint64_t astro__cksum_final(astro__cksum *c, const unsigned char *p, size_t n) {
    size_t whole = n / 32 * 32;
    astro__cksum_blocks(c, p, whole);
    size_t total = c->n + (n - whole);
    uint64_t r = astro__fnv1a64(p + whole, n - whole,
                                c->h[0] ^ astro__mix64(c->h[1]) ^ astro__mix64(c->h[2] + 7) ^ astro__mix64(c->h[3] + 13));
    return astro__mix64(r ^ total);
}

/* Returns the file checksum; see internal.h. */
uint64_t astro__checksum(const unsigned char *p, size_t n) {
    astro__cksum c;
    astro__cksum_init(&c);
    return astro__cksum_final(&c, p, n);
}

/* ---- key -> index map ---------------------------------------------------- */

/* Places idx at the first free position of key's probe chain. */
static void idxmap_place(uint32_t *slots, size_t mask, uint64_t key, uint32_t idx) {
    size_t p = (size_t)astro__mix64(key) & mask;
    while (slots[p] != ASTRO__IDX_EMPTY) p = (p + 1) & mask;
    slots[p] = idx;
}

/* Grows the table so `need` entries fit under 3/4 load; rehashes from keys[].
 * Returns ASTRO_ENOMEM leaving the old table intact if allocation fails. */
int astro__idxmap_reserve(astro__idxmap *m, size_t need, const uint64_t *keys) {
    size_t cap = m->cap ? m->cap : 16;
    while (need > cap / 4 * 3) {
        if (cap > SIZE_MAX / 2 / sizeof(uint32_t)) return ASTRO_ENOMEM;
        cap *= 2;
    }
    if (cap == m->cap) return ASTRO_OK;
    uint32_t *slots = malloc(cap * sizeof *slots);
    if (!slots) return ASTRO_ENOMEM;
    astro__advise_huge(slots, cap * sizeof *slots);
    memset(slots, 0xff, cap * sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        uint32_t idx = m->slots[i];
        if (idx != ASTRO__IDX_EMPTY) idxmap_place(slots, cap - 1, keys[idx], idx);
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return ASTRO_OK;
}

/* Returns the position of key in the table, or SIZE_MAX when absent. */
size_t astro__idxmap_find(const astro__idxmap *m, const uint64_t *keys, uint64_t key) {
    if (m->cap == 0) return SIZE_MAX;
    size_t mask = m->cap - 1;
    size_t p = (size_t)astro__mix64(key) & mask;
    for (;;) {
        uint32_t idx = m->slots[p];
        if (idx == ASTRO__IDX_EMPTY) return SIZE_MAX;
        if (keys[idx] == key) return p;
        p = (p + 1) & mask;
    }
}

/* Inserts key -> idx; the caller reserved room and knows key is absent. */
void astro__idxmap_insert(astro__idxmap *m, const uint64_t *keys, uint64_t key, uint32_t idx) {
    (void)keys;
    idxmap_place(m->slots, m->cap - 1, key, idx);
    m->n++;
}

/* Deletes the entry at pos, shifting later members of the probe run back so
 * lookups never need tombstones. */
void astro__idxmap_erase_at(astro__idxmap *m, const uint64_t *keys, size_t pos) {
    size_t mask = m->cap - 1;
    size_t i = pos, j = pos;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t idx = m->slots[j];
        if (idx == ASTRO__IDX_EMPTY) break;
        size_t home = (size_t)astro__mix64(keys[idx]) & mask;
        /* The entry at j may move to i only if its home is not in (i, j]. */
        int in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->slots[i] = idx;
            i = j;
        }
    }
    m->slots[i] = ASTRO__IDX_EMPTY;
    m->n--;
}

/* Frees the table; the struct may be reused after a reserve. */
void astro__idxmap_free(astro__idxmap *m) {
    if (!m) return;
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

/* ---- bounded top-k heap ------------------------------------------------- */

/* Returns 1 when (sa, ka) ranks below (sb, kb). */
static int topk_worse(float sa, uint64_t ka, float sb, uint64_t kb) {
    return sa < sb || (sa == sb && ka > kb);
}

/* Restores the heap below position i within the first n entries. */
static void topk_sift_down(astro__topk *t, size_t i, size_t n) {
    float s = t->scores[i];
    uint64_t key = t->keys[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && topk_worse(t->scores[c + 1], t->keys[c + 1], t->scores[c], t->keys[c]))
            c++;
        if (!topk_worse(t->scores[c], t->keys[c], s, key)) break;
        t->scores[i] = t->scores[c];
        t->keys[i] = t->keys[c];
        i = c;
    }
    t->scores[i] = s;
    t->keys[i] = key;
}

/* Keeps (score, key) if it beats the current worst or the heap is not full. */
void astro__topk_push(astro__topk *t, float score, uint64_t key) {
    if (t->k == 0) return;
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!topk_worse(score, key, t->scores[p], t->keys[p])) break;
            t->scores[i] = t->scores[p];
            t->keys[i] = t->keys[p];
            i = p;
        }
        t->scores[i] = score;
        t->keys[i] = key;
        return;
    }
    if (!topk_worse(t->scores[0], t->keys[0], score, key)) return;
    t->scores[0] = score;
    t->keys[0] = key;
    topk_sift_down(t, 0, t->n);
}

/* Heap-sorts in place: repeatedly moving the worst to the end leaves the best
 * at index 0. Returns the number of results. */
size_t astro__topk_finish(astro__topk *t) {
    for (size_t n = t->n; n > 1; n--) {
        float s = t->scores[0];
        uint64_t key = t->keys[0];
        t->scores[0] = t->scores[n - 1];
        t->keys[0] = t->keys[n - 1];
        t->scores[n - 1] = s;
        t->keys[n - 1] = key;
        topk_sift_down(t, 0, n - 1);
    }
    return t->n;
}

/* ---- filter ------------------------------------------------------------- */

/* Returns 1 if the item passes every enabled part of f. */
int astro__filter_pass(const astro_filter *f, uint64_t key, const astro_item_times *t) {
    if (!f) return 1;
    if (f->allow) {
        const astro_keyset *ks = f->allow;
        if (key >= ks->nbits || !ks->bits) return 0;
        if (!(ks->bits[key >> 3] & (1u << (key & 7)))) return 0;
    }
    if (f->time_from != ASTRO_TIME_NONE || f->time_to != ASTRO_TIME_NONE) {
        int64_t occ = t->occurred_at;
        if (occ == ASTRO_TIME_NONE) return 0;
        if (f->time_from != ASTRO_TIME_NONE && occ < f->time_from) return 0;
        if (f->time_to != ASTRO_TIME_NONE && occ > f->time_to) return 0;
    }
    if (f->as_of != ASTRO_TIME_NONE && t->retained_at != ASTRO_TIME_NONE &&
        t->retained_at > f->as_of)
        return 0;
    return 1;
}

int astro__vec_arg(const char *who, const void *ix, const float *vec, size_t dim, size_t want,
                   astro_err *err) {
    if (!ix || !vec) return astro_err_set(err, ASTRO_EINVAL, "%s: NULL argument", who);
    if (dim != want)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", want, dim);
    return astro_vec_check_finite(vec, dim, err);
}

size_t astro__rows_append(astro__idxmap *m, uint64_t *keys, size_t *count, uint64_t key) {
    size_t row = (*count)++;
    keys[row] = key;
    astro__idxmap_insert(m, keys, key, (uint32_t)row);
    return row;
}

int astro__rows_take(astro__idxmap *m, uint64_t *keys, astro_item_times *times, size_t count,
                     uint64_t key, size_t *row, size_t *last) {
    size_t pos = astro__idxmap_find(m, keys, key);
    if (pos == SIZE_MAX) return 0;
    *row = m->slots[pos];
    *last = count - 1;
    astro__idxmap_erase_at(m, keys, pos);
    if (*row != *last) {
        uint64_t moved = keys[*last];
        size_t mpos = astro__idxmap_find(m, keys, moved);
        keys[*row] = moved;
        if (times) times[*row] = times[*last];
        m->slots[mpos] = (uint32_t)*row;
    }
    return 1;
}

int astro__rows_grow(uint64_t **keys, astro_item_times **times, size_t ncap) {
    uint64_t *k = astro__grow(*keys, sizeof **keys, ncap);
    if (!k) return ASTRO_ENOMEM;
    *keys = k;
    astro_item_times *t = astro__grow(*times, sizeof **times, ncap);
    if (!t) return ASTRO_ENOMEM;
    *times = t;
    return ASTRO_OK;
}

void astro__rows_free(astro__idxmap *m, uint64_t *keys, astro_item_times *times) {
    free(keys);
    free(times);
    astro__idxmap_free(m);
}

void astro__times_set(astro_item_times *t, const astro_item_times *times) {
    t->occurred_at = times ? times->occurred_at : ASTRO_TIME_NONE;
    t->retained_at = times ? times->retained_at : ASTRO_TIME_NONE;
}
