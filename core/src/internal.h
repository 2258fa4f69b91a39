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
/* Maps in every page of the file mapping p[0..n) (page aligned) in one
 * call (MADV_POPULATE_READ; older kernels ignore it) instead of a fault per
 * 4 KiB page at first use: on this class of VM a fault costs microseconds,
 * so reading a 1.7 GB snapshot through faults took 0.75 s, populated 0.16 s.
 * MAP_POPULATE did not map the pages of a private file mapping here. */
void astro__prefault(void *p, size_t n);
/* Advises an allocation of n bytes onto transparent huge pages before it
 * is first touched (from 2 MiB on; advice only): a fresh 4 KiB page costs a
 * fault of microseconds on this class of VM, so filling the arrays of a
 * loaded million-item index faulted for longer than it copied. */
void astro__advise_huge(void *p, size_t n);
/* The same checksum over data read in parts: init, blocks for every part
 * but the last (each a multiple of 32 bytes long), final for the last. */
typedef struct astro__cksum {
    uint64_t h[4];
    size_t n;
} astro__cksum;
void astro__cksum_init(astro__cksum *c);
void astro__cksum_blocks(astro__cksum *c, const unsigned char *p, size_t n);
uint64_t astro__cksum_final(astro__cksum *c, const unsigned char *p, size_t n);

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

/* Checks the vector argument of an index call: ix and vec non-NULL (`who`
 * names the index in the error), dim == want, every value finite. */
int astro__vec_arg(const char *who, const void *ix, const float *vec, size_t dim, size_t want,
                   astro_err *err);

/* Dense keyed rows (flat.c, flat_i8.c, blobcache.c): row r holds keys[r],
 * times[r] (when the caller keeps times) and the caller's payload; m finds the row of a key; removal moves the last row into
 * the hole so rows stay dense. */
/* Registers key at the new row *count (room reserved by the caller), counts
 * it and returns that row. */
size_t astro__rows_append(astro__idxmap *m, uint64_t *keys, size_t *count, uint64_t key);
/* Removes key: 0 when absent; else 1 with *row the hole and *last the row
 * whose key and times (times may be NULL) moved into it (equal when the
 * removed row was the last). The caller moves its payload from *last to *row and decrements its
 * count. */
int astro__rows_take(astro__idxmap *m, uint64_t *keys, astro_item_times *times, size_t count,
                     uint64_t key, size_t *row, size_t *last);
/* Grows keys and times to ncap rows; each array that grew keeps its
 * contents and stays grown (harmless) when the other fails: ASTRO_ENOMEM. */
int astro__rows_grow(uint64_t **keys, astro_item_times **times, size_t ncap);
/* Frees keys, times and m. */
void astro__rows_free(astro__idxmap *m, uint64_t *keys, astro_item_times *times);
/* Sets *t to *times, or to no times when times is NULL. */
void astro__times_set(astro_item_times *t, const astro_item_times *times);

/* Returns p reallocated to n elements of size sz, or NULL (p still valid,
 * also for n == 0 or an overflowing size). */
void *astro__grow(void *p, size_t sz, size_t n);

/* Grows array ptr to n elements, running onfail if that is impossible. */
#define ASTRO__GROW_OR(ptr, n, onfail)                                 \
    do {                                                               \
        void *q_ = astro__grow((ptr), sizeof *(ptr), (n));             \
        if (!q_) { onfail; }                                           \
        (ptr) = q_;                                                    \
    } while (0)

/* The documents of an inverted index (bm25.c, assoc.c): each key maps to a
 * dense document number (freed numbers are reused), so per-document data are
 * plain arrays. A document keeps its distinct term ids (fwd), which the index
 * walks to unlink its postings on removal or replacement. Invariant: every
 * docno-indexed array (and an index's own extra one) has dcap entries. */
typedef struct astro__docs {
    size_t nslots;     /* docnos handed out (live + free) */
    size_t dcap;
    size_t ndocs;      /* live documents; the index keeps it */
    size_t nfree;
    uint64_t *keys;
    astro_item_times *times;
    uint32_t **fwd;    /* distinct term ids of the document */
    uint32_t *fwd_n;
    uint32_t *freelist;
    astro__idxmap map; /* key -> docno */
    /* A loaded snapshot's block the forward lists may point into (not
     * theirs to free); NULL when every list is its own allocation. */
    const unsigned char *lent;
    size_t lent_len;
} astro__docs;

/* Returns 1 if p points into the docs' lent block. */
static inline int astro__docs_lent(const astro__docs *dt, const void *p) {
    const unsigned char *q = p;
    return dt->lent && q >= dt->lent && q < dt->lent + dt->lent_len;
}

/* Sets *d to key's docno and returns 1 if key is indexed, else returns 0. */
int astro__docs_find(const astro__docs *dt, uint64_t key, uint32_t *d);
/* Makes room for one more document in every docno array, the key map and
 * *extra (an index's own uint32 array; NULL for none). ASTRO_OK or
 * ASTRO_ENOMEM; arrays that grew stay valid and nothing else changes. */
int astro__docs_reserve(astro__docs *dt, uint32_t **extra);
/* Hands out a docno for the absent key (after a reserve; never fails). */
uint32_t astro__docs_insert(astro__docs *dt, uint64_t key);
/* Stores document d's times (NULL: none) and its term ids (owned from now). */
void astro__docs_set(astro__docs *dt, uint32_t d, const astro_item_times *times, uint32_t *fwd, size_t n);
/* Removes key from the map and frees its docno for reuse (its term ids stay
 * until astro__docs_drop_terms); returns 1 with *d set, 0 if absent. */
int astro__docs_erase(astro__docs *dt, uint64_t key, uint32_t *d);
/* Frees document d's term ids. */
void astro__docs_drop_terms(astro__docs *dt, uint32_t d);
/* Copies n term ids into *out (NULL when n is 0); ASTRO_OK or ASTRO_ENOMEM. */
int astro__docs_dup_terms(const uint32_t *ids, size_t n, uint32_t **out);
/* Bytes the table owns (the arrays at dcap, the map, the term ids). */
size_t astro__docs_bytes(const astro__docs *dt);
void astro__docs_free(astro__docs *dt);

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
