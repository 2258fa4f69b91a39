/*
** embed.c — the deterministic hashing embedder: a stand-in for a neural model
** that needs no weights and gives the same bits everywhere.
**
** Words come from the shared tokenizer (light stemmer, stopwords), so "runs" and
** "running" share the word feature "run". Each distinct word w with frequency
** tf gets weight d = 1 + ln(tf); it adds d to one signed bucket for the word
** and 0.25*d to one bucket per code point trigram of "^w$" (a word of fewer than
** 3 code points contributes "^w$" whole as its single gram). The trigrams of a
** word together weigh about as much as the word itself: enough to pull
** misspellings and unstemmed forms together, not so much that "work" and
** "worth" look alike (0.5 made trigram overlap outvote exact word matches). A feature's 64-bit
** hash h (FNV-1a, a per-kind seed, splitmix finalizer) picks bucket h % dim and
** sign from bit 63. Bit-identical results need a fixed order of float
** operations: words are processed in ascending hash order, sums run in double,
** ln is computed here from + - * / only (libm log may differ by an ulp between
** platforms), and the CMake file compiles this file with -ffp-contract=off so
** no FMA changes rounding. The vector is L2-normalized at the end.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/embed.h"
#include "internal.h"

#define EMBED_MIN_DIM 8
#define EMBED_MAX_DIM 65536
#define SEED_WORD 0x9e3779b97f4a7c15ULL
#define SEED_GRAM 0xc2b2ae3d27d4eb4fULL

typedef struct word {
    uint64_t h;        /* word feature hash, the sort key */
    uint32_t off, len; /* term bytes in the arena */
} word;

struct astro_embedder {
    size_t dim;
    astro_tokenizer *tk;
    double *acc;       /* dim */
    word *words;
    size_t nwords, words_cap;
    char *arena;
    size_t arena_len, arena_cap;
    int rc;
};

/* Creates an embedder for dim in 8..65536. */
int astro_embedder_new(size_t dim, astro_embedder **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "embed: out is NULL");
    *out = NULL;
    if (dim < EMBED_MIN_DIM || dim > EMBED_MAX_DIM)
        return astro_err_set(err, ASTRO_EINVAL, "embed: dim %zu out of range %d..%d", dim,
                             EMBED_MIN_DIM, EMBED_MAX_DIM);
    astro_embedder *e = calloc(1, sizeof *e);
    if (!e) return astro_err_set(err, ASTRO_ENOMEM, "embed: out of memory");
    e->dim = dim;
    astro_tokenizer_opts to = { ASTRO_STEM_LIGHT, 1, 64 };
    int rc = astro_tokenizer_new(&to, &e->tk, err);
    if (rc) {
        free(e);
        return rc;
    }
    e->acc = malloc(dim * sizeof *e->acc);
    if (!e->acc) {
        astro_embedder_free(e);
        return astro_err_set(err, ASTRO_ENOMEM, "embed: out of memory");
    }
    *out = e;
    return ASTRO_OK;
}

/* Frees e; NULL-safe. */
void astro_embedder_free(astro_embedder *e) {
    if (!e) return;
    astro_tokenizer_free(e->tk);
    free(e->acc);
    free(e->words);
    free(e->arena);
    free(e);
}

/* Returns the output dimension. */
size_t astro_embedder_dim(const astro_embedder *e) { return e ? e->dim : 0; }

/* Returns ln(n) for n >= 1 using only basic IEEE operations, so it is the same
 * on every platform: n = m * 2^e with m in [1,2), ln m = 2 atanh((m-1)/(m+1)). */
static double det_ln(double n) {
    const double ln2 = 0.69314718055994530942;
    int ex = 0;
    while (n >= 2.0) {
        n *= 0.5;
        ex++;
    }
    double z = (n - 1.0) / (n + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int i = 1; i < 60; i += 2) {   /* z <= 1/3: 30 terms is far past double */
        sum += term / i;
        term *= z2;
    }
    return ex * ln2 + 2.0 * sum;
}

/* Tokenizer callback: stores the term and its word hash. */
static int on_token(const astro_token *tok, void *ud) {
    astro_embedder *e = ud;
    if (e->nwords == e->words_cap) {
        size_t ncap = e->words_cap ? e->words_cap * 2 : 64;
        word *w = realloc(e->words, ncap * sizeof *w);
        if (!w) goto oom;
        e->words = w;
        e->words_cap = ncap;
    }
    if (e->arena_len + tok->term_len > e->arena_cap) {
        size_t ncap = e->arena_cap ? e->arena_cap : 1024;
        while (ncap < e->arena_len + tok->term_len) ncap *= 2;
        char *a = realloc(e->arena, ncap);
        if (!a) goto oom;
        e->arena = a;
        e->arena_cap = ncap;
    }
    memcpy(e->arena + e->arena_len, tok->term, tok->term_len);
    word *w = &e->words[e->nwords++];
    w->h = astro__mix64(astro__fnv1a64(tok->term, tok->term_len, SEED_WORD));
    w->off = (uint32_t)e->arena_len;
    w->len = (uint32_t)tok->term_len;
    e->arena_len += tok->term_len;
    return 0;
oom:
    e->rc = ASTRO_ENOMEM;
    return 1;
}

/* Orders words by hash; equal hashes are the same word. */
static int cmp_word(const void *a, const void *b) {
    uint64_t x = ((const word *)a)->h, y = ((const word *)b)->h;
    return (x > y) - (x < y);
}

/* Adds weight w to the signed bucket chosen by hash h. */
static void add_feature(double *acc, size_t dim, uint64_t h, double w) {
    acc[h % dim] += (h >> 63) ? -w : w;
}

/* Returns the byte offset of the code point after the one starting at i. */
static size_t next_cp(const char *t, size_t n, size_t i) {
    i++;
    while (i < n && ((unsigned char)t[i] & 0xC0) == 0x80) i++;
    return i;
}

/* Adds the code point trigrams of "^t$" with weight w each. A gram is hashed
 * as its byte string; markers never occur inside terms, so "^ab" cannot meet
 * an interior gram. */
static void add_grams(double *acc, size_t dim, const char *t, size_t n, double w) {
    const char hat = '^', dollar = '$';
    uint64_t h0 = astro__fnv1a64(&hat, 1, SEED_GRAM);
    if (astro_utf8_count(t, n) < 3) {
        uint64_t h = astro__fnv1a64(&dollar, 1, astro__fnv1a64(t, n, h0));
        add_feature(acc, dim, astro__mix64(h), w);
        return;
    }
    size_t p2 = next_cp(t, n, next_cp(t, n, 0));
    add_feature(acc, dim, astro__mix64(astro__fnv1a64(t, p2, h0)), w);
    for (size_t a = 0;;) {
        size_t b = next_cp(t, n, a), c = next_cp(t, n, b);
        if (c >= n) {   /* a starts the second-to-last code point */
            uint64_t h = astro__fnv1a64(t + a, n - a, SEED_GRAM);
            add_feature(acc, dim, astro__mix64(astro__fnv1a64(&dollar, 1, h)), w);
            break;
        }
        size_t d = next_cp(t, n, c);
        add_feature(acc, dim, astro__mix64(astro__fnv1a64(t + a, d - a, SEED_GRAM)), w);
        a = b;
    }
}

/* Embeds s[0..len) into out[0..dim); the zero vector when there are no tokens.
 * Returns ASTRO_EDIM if dim differs from the embedder's. */
int astro_embed(astro_embedder *e, const char *s, size_t len, float *out, size_t dim,
                astro_err *err) {
    if (!e || !out || (!s && len)) return astro_err_set(err, ASTRO_EINVAL, "embed: NULL argument");
    if (dim != e->dim)
        return astro_err_set(err, ASTRO_EDIM, "dimension mismatch: expected %zu, got %zu", e->dim, dim);
    if (len > UINT32_MAX) return astro_err_set(err, ASTRO_ERANGE, "embed: text too long");
    e->nwords = 0;
    e->arena_len = 0;
    e->rc = ASTRO_OK;
    if (len) astro_tokenize(e->tk, s, len, on_token, e);
    if (e->rc) return astro_err_set(err, e->rc, "embed: out of memory");
    memset(e->acc, 0, dim * sizeof *e->acc);
    qsort(e->words, e->nwords, sizeof *e->words, cmp_word);
    for (size_t i = 0; i < e->nwords;) {
        size_t j = i + 1;
        while (j < e->nwords && e->words[j].h == e->words[i].h) j++;
        /* tf = 1 (most words): det_ln(1) is exactly 0, so d is exactly 1 */
        double d = j - i == 1 ? 1.0 : 1.0 + det_ln((double)(j - i));
        const word *w = &e->words[i];
        add_feature(e->acc, dim, w->h, d);
        add_grams(e->acc, dim, e->arena + w->off, w->len, 0.25 * d);
        i = j;
    }
    double ss = 0.0;
    for (size_t i = 0; i < dim; i++) ss += e->acc[i] * e->acc[i];
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (size_t i = 0; i < dim; i++) out[i] = (float)(e->acc[i] * inv);
    return ASTRO_OK;
}
