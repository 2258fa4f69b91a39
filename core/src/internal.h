/*
** internal.h — private helpers shared by the libastrocyte sources: 64-bit
** hashing, a key -> dense-index hash map, the bounded top-k heap used by every
** search, the search filter test, and the tokenizer's stopword table. Nothing
** here is part of the public ABI; names carry the astro__ prefix.
*/
#ifndef ASTRO_INTERNAL_H
#define ASTRO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astro/common.h"

#define ASTRO__IDX_EMPTY UINT32_MAX

/* Returns a well-mixed 64-bit value (splitmix64 finalizer); used so that
 * small dense keys spread over a power-of-two table. */
static inline uint64_t astro__mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Returns the FNV-1a 64 hash of p[0..n) continued from state h. */
static inline uint64_t astro__fnv1a64(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define ASTRO__FNV_OFFSET 0xcbf29ce484222325ULL

/* Returns the checksum of p[0..n) the saved index files end with: four
 * FNV-1a lanes over 64-bit words, folded with the tail and n. */
uint64_t astro__checksum(const unsigned char *p, size_t n);

/* Open-addressing map from uint64 key to a uint32 dense index. The map stores
 * only indices; the key of index i is keys[i] in an array owned by the caller,
 * which is passed to every call. Linear probing; deletion by backward shift so
 * there are no tombstones. */
typedef struct astro__idxmap {
    uint32_t *slots;   /* ASTRO__IDX_EMPTY or an index */
    size_t cap;        /* power of two, or 0 before the first reserve */
    size_t n;
} astro__idxmap;

/* Ensures room for `need` entries at load <= 3/4; returns ASTRO_OK or
 * ASTRO_ENOMEM (the map is unchanged on failure). */
int astro__idxmap_reserve(astro__idxmap *m, size_t need, const uint64_t *keys);
/* Returns the table position holding key, or SIZE_MAX. */
size_t astro__idxmap_find(const astro__idxmap *m, const uint64_t *keys, uint64_t key);
/* Inserts (key -> idx); key must be absent and capacity reserved. */
void astro__idxmap_insert(astro__idxmap *m, const uint64_t *keys, uint64_t key, uint32_t idx);
/* Removes the entry at table position pos. */
void astro__idxmap_erase_at(astro__idxmap *m, const uint64_t *keys, size_t pos);
void astro__idxmap_free(astro__idxmap *m);

/* Bounded min-heap of (score, key) living in the caller's output buffers.
 * The root is the worst kept result: lower score, or equal score and larger key. */
typedef struct astro__topk {
    uint64_t *keys;
    float *scores;
    size_t n;
    size_t k;
} astro__topk;

/* Offers (score, key); keeps it if among the k best seen so far. */
void astro__topk_push(astro__topk *t, float score, uint64_t key);
/* Sorts the kept results best first in place; returns their number. */
size_t astro__topk_finish(astro__topk *t);

/* Returns 1 if an item with this key and times passes filter f (NULL passes). */
int astro__filter_pass(const astro_filter *f, uint64_t key, const astro_item_times *t);

/* Sorted English stopword list used by the tokenizer (exposed for tests). */
extern const char *const astro__stopwords[];
extern const size_t astro__nstopwords;
/* Returns 1 if w[0..n) (already lowercase) is a stopword. */
int astro__is_stopword(const char *w, size_t n);
/* Porter-stems the lowercase ASCII word w[0..n) in place; returns the new
 * length (stem.c). */
size_t astro__porter_stem(char *w, size_t n);

/* ---- SIMD kernel tables (kernels_x86.c) ---------------------------------- */
#if defined(__x86_64__) || defined(__i386__)
#define ASTRO__X86 1
struct astro_kernels;
extern const struct astro_kernels astro__kernels_sse2;
extern const struct astro_kernels astro__kernels_avx2;
extern const struct astro_kernels astro__kernels_avx512;
#else
#define ASTRO__X86 0
#endif

/* Declared in vec.h; repeated here so kernels.c need not include it. */
int astro_vec_check_finite(const float *v, size_t n, astro_err *err);

#endif
