/*
** ratelimit.c — token buckets and daily quota counters (see ratelimit.h).
**
** Both live in the same kind of table: an array of entries in insertion
** order plus an open-addressing index of entry numbers (linear probing,
** deletion by backward shift). Entries grow by doubling up to the bound;
** once it is reached the array becomes a ring, so evicting the oldest key and
** inserting the new one reuse the same entry in O(1) — the reference's
** "delete next(iter(dict))" without its dict.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/ratelimit.h"
#include "internal.h"

#define NONE UINT32_MAX

typedef struct rl_entry {
    char *key;
    size_t klen;
    uint64_t hash;
    double a;           /* bucket: tokens;      quota: count */
    double b;           /* bucket: last refill; quota: day   */
} rl_entry;

typedef struct rl_table {
    rl_entry *ent;
    size_t n, ecap, max, head;   /* head: oldest entry once n == max */
    uint32_t *slots;             /* entry numbers or NONE */
    size_t scap;                 /* power of two */
} rl_table;

struct astro_ratelimit {
    rl_table buckets;
    rl_table quotas;
};

static uint64_t hash_key(const char *k, size_t n) {
    return astro__mix64(astro__fnv1a64(k, n, ASTRO__FNV_OFFSET));
}

/* Returns the slot holding key, or the empty slot where it would go. */
static size_t probe(const rl_table *t, const char *k, size_t n, uint64_t h) {
    size_t mask = t->scap - 1, p = (size_t)h & mask;
    for (;;) {
        uint32_t e = t->slots[p];
        if (e == NONE) return p;
        const rl_entry *x = &t->ent[e];
        if (x->hash == h && x->klen == n && memcmp(x->key, k, n) == 0) return p;
        p = (p + 1) & mask;
    }
}

/* Returns the entry of key, or NULL. */
static rl_entry *find(const rl_table *t, const char *k, size_t n) {
    if (!t->scap) return NULL;
    uint32_t e = t->slots[probe(t, k, n, hash_key(k, n))];
    return e == NONE ? NULL : &t->ent[e];
}

/* Removes the index slot at p, shifting later members of its run back. */
static void erase_slot(rl_table *t, size_t p) {
    size_t mask = t->scap - 1, q = p;
    for (;;) {
        q = (q + 1) & mask;
        uint32_t e = t->slots[q];
        if (e == NONE) break;
        size_t home = (size_t)t->ent[e].hash & mask;
        /* Move e into the hole unless its home lies cyclically in (p, q]. */
        if ((q > p) ? (home <= p || home > q) : (home <= p && home > q)) {
            t->slots[p] = e;
            p = q;
        }
    }
    t->slots[p] = NONE;
}

/* Rebuilds the index with scap slots. */
static int rehash(rl_table *t, size_t scap) {
    uint32_t *s = malloc(scap * sizeof *s);
    if (!s) return ASTRO_ENOMEM;
    memset(s, 0xff, scap * sizeof *s);
    free(t->slots);
    t->slots = s;
    t->scap = scap;
    for (size_t i = 0; i < t->n; i++) {
        size_t p = (size_t)t->ent[i].hash & (scap - 1);
        while (s[p] != NONE) p = (p + 1) & (scap - 1);
        s[p] = (uint32_t)i;
    }
    return ASTRO_OK;
}

/* Returns a fresh entry for key (evicting the oldest at the bound), or NULL
 * when out of memory. The caller fills a and b. */
static rl_entry *insert(rl_table *t, const char *k, size_t n) {
    char *copy = malloc(n ? n : 1);
    if (!copy) return NULL;
    if (n) memcpy(copy, k, n);
    uint32_t idx;
    if (t->n == t->max) {
        rl_entry *old = &t->ent[t->head];
        erase_slot(t, probe(t, old->key, old->klen, old->hash));
        free(old->key);
        idx = (uint32_t)t->head;
        t->head = (t->head + 1) % t->max;
    } else {
        if (t->n == t->ecap) {
            size_t nc = t->ecap ? t->ecap * 2 : 16;
            if (nc > t->max) nc = t->max;
            rl_entry *ne = realloc(t->ent, nc * sizeof *ne);
            if (!ne) { free(copy); return NULL; }
            t->ent = ne;
            t->ecap = nc;
        }
        if ((t->n + 1) * 4 > t->scap * 3 && rehash(t, t->scap ? t->scap * 2 : 32) != ASTRO_OK) {
            free(copy);
            return NULL;
        }
        idx = (uint32_t)t->n++;
    }
    rl_entry *x = &t->ent[idx];
    x->key = copy;
    x->klen = n;
    x->hash = hash_key(k, n);
    x->a = x->b = 0;
    t->slots[probe(t, k, n, x->hash)] = idx;
    return x;
}

static void table_free(rl_table *t) {
    for (size_t i = 0; i < t->n; i++) free(t->ent[i].key);
    free(t->ent);
    free(t->slots);
}

int astro_ratelimit_new(size_t max_keys, astro_ratelimit **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "out is NULL");
    *out = NULL;
    if (max_keys == 0) max_keys = ASTRO_RATELIMIT_DEFAULT_KEYS;
    if (max_keys > ((size_t)1 << 31))
        return astro_err_set(err, ASTRO_EINVAL, "max_keys %zu is above 2^31", max_keys);
    astro_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return astro_err_set(err, ASTRO_ENOMEM, "out of memory");
    rl->buckets.max = rl->quotas.max = max_keys;
    *out = rl;
    return ASTRO_OK;
}

void astro_ratelimit_free(astro_ratelimit *rl) {
    if (!rl) return;
    table_free(&rl->buckets);
    table_free(&rl->quotas);
    free(rl);
}

int astro_ratelimit_check(astro_ratelimit *rl, const char *key, size_t klen,
                          double per_minute, double now, double *retry_after,
                          astro_err *err) {
    if (retry_after) *retry_after = 0;
    if (!rl || (!key && klen)) return astro_err_set(err, ASTRO_EINVAL, "NULL argument");
    if (!(per_minute > 0) || !isfinite(per_minute))
        return astro_err_set(err, ASTRO_EINVAL, "per_minute must be a positive number");
    if (!isfinite(now)) return astro_err_set(err, ASTRO_EINVAL, "now must be finite");
    double rate = per_minute / 60.0;
    rl_entry *b = find(&rl->buckets, key, klen);
    if (!b) {
        if (!(b = insert(&rl->buckets, key, klen)))
            return astro_err_set(err, ASTRO_ENOMEM, "out of memory");
        b->a = per_minute;
        b->b = now;
    }
    double elapsed = now - b->b;
    if (elapsed > 0) b->a += elapsed * rate;
    if (b->a > per_minute) b->a = per_minute;
    if (now > b->b) b->b = now;
    if (b->a < 1.0) {
        if (retry_after) *retry_after = (1.0 - b->a) / rate;
        return 0;
    }
    b->a -= 1.0;
    return 1;
}

double astro_ratelimit_tokens(const astro_ratelimit *rl, const char *key, size_t klen) {
    const rl_entry *b = rl ? find(&rl->buckets, key, klen) : NULL;
    return b ? b->a : -1.0;
}

size_t astro_ratelimit_buckets(const astro_ratelimit *rl) {
    return rl ? rl->buckets.n : 0;
}

int astro_ratelimit_quota_check(const astro_ratelimit *rl, const char *key, size_t klen,
                                int64_t limit, int64_t day, int64_t *count) {
    const rl_entry *q = rl ? find(&rl->quotas, key, klen) : NULL;
    int64_t c = (q && q->b == (double)day) ? (int64_t)q->a : 0;
    if (count) *count = c;
    return c < limit;
}

int astro_ratelimit_quota_record(astro_ratelimit *rl, const char *key, size_t klen,
                                 int64_t day, astro_err *err) {
    if (!rl || (!key && klen)) return astro_err_set(err, ASTRO_EINVAL, "NULL argument");
    rl_entry *q = find(&rl->quotas, key, klen);
    if (!q && !(q = insert(&rl->quotas, key, klen)))
        return astro_err_set(err, ASTRO_ENOMEM, "out of memory");
    if (q->b != (double)day) { q->a = 0; q->b = (double)day; }
    q->a += 1;
    return ASTRO_OK;
}
