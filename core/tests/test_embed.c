/*
** test_embed.c — the hashing embedder: determinism, unit norm, the zero vector
** for token-free text, inflection closeness ("running" vs "runs" beats an
** unrelated word), dimension checks and a pinned value so any change to the
** hashing or weighting is caught.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "astro/embed.h"
#include "astro/vec.h"
#include "check.h"

#define D 384
#define EMBED_FINGERPRINT 0x0d4754a7014da05dULL

/* Embeds a NUL-terminated string. */
static int emb(astro_embedder *e, const char *s, float *out) {
    return astro_embed(e, s, strlen(s), out, D, NULL);
}

/* Returns the L2 norm of v. */
static double norm(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

int main(void) {
    astro_embedder *e = NULL, *e2 = NULL;
    astro_err err;
    static float a[D], b[D], c[D], z[D];

    CHECK("embed-1.0", astro_embedder_new(7, &e, &err) == ASTRO_EINVAL && e == NULL);
    CHECK("embed-1.1", astro_embedder_new(65537, &e, &err) == ASTRO_EINVAL);
    CHECK("embed-1.2", astro_embedder_new(D, &e, &err) == ASTRO_OK && astro_embedder_dim(e) == D);
    CHECK("embed-1.3", astro_embedder_new(D, &e2, &err) == ASTRO_OK);

    CHECK("embed-2.0", emb(e, "The quick brown fox jumps over the lazy dog", a) == ASTRO_OK);
    CHECK("embed-2.1", emb(e2, "The quick brown fox jumps over the lazy dog", b) == ASTRO_OK);
    CHECK("embed-2.2", memcmp(a, b, sizeof a) == 0);
    CHECK("embed-2.3", emb(e, "The quick brown fox jumps over the lazy dog", b) == ASTRO_OK &&
                           memcmp(a, b, sizeof a) == 0);
    CHECK("embed-2.4", fabs(norm(a, D) - 1.0) < 1e-5);
    /* Word order does not matter (bag of features); case does not either. */
    CHECK("embed-2.5", emb(e, "dog LAZY the over jumps fox brown quick the", b) == ASTRO_OK &&
                           memcmp(a, b, sizeof a) == 0);

    CHECK("embed-3.0", emb(e, "", z) == ASTRO_OK && norm(z, D) == 0.0);
    CHECK("embed-3.1", emb(e, "the and of", z) == ASTRO_OK && norm(z, D) == 0.0);
    CHECK("embed-3.2", emb(e, " ,.;- ", z) == ASTRO_OK && norm(z, D) == 0.0);
    CHECK("embed-3.3", astro_embed(e, NULL, 0, z, D, &err) == ASTRO_OK && norm(z, D) == 0.0);

    CHECK("embed-4.0", emb(e, "running", a) == ASTRO_OK && emb(e, "runs", b) == ASTRO_OK &&
                           emb(e, "banana", c) == ASTRO_OK);
    float near = astro_vec_cosine(a, b, D), far = astro_vec_cosine(a, c, D);
    CHECK("embed-4.1", near > far && near > 0.9f);
    CHECK("embed-4.2", emb(e, "memory retrieval", a) == ASTRO_OK && emb(e, "memroy retrieval", b) == ASTRO_OK &&
                           emb(e, "cooking pasta", c) == ASTRO_OK);
    CHECK("embed-4.3", astro_vec_cosine(a, b, D) > astro_vec_cosine(a, c, D));
    /* Term frequency is damped but still counts. */
    CHECK("embed-4.4", emb(e, "cat cat cat dog", a) == ASTRO_OK && emb(e, "cat dog", b) == ASTRO_OK);
    CHECK("embed-4.5", memcmp(a, b, sizeof a) != 0 && fabs(norm(a, D) - 1.0) < 1e-5);
    /* Short words and UTF-8 words embed to unit vectors. */
    CHECK("embed-4.6", emb(e, "ox", a) == ASTRO_OK && fabs(norm(a, D) - 1.0) < 1e-5);
    CHECK("embed-4.7", emb(e, "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", a) == ASTRO_OK &&
                           fabs(norm(a, D) - 1.0) < 1e-5);

    CHECK("embed-5.0", astro_embed(e, "x", 1, a, D - 1, &err) == ASTRO_EDIM);
    CHECK("embed-5.1", strcmp(err.msg, "dimension mismatch: expected 384, got 383") == 0);
    CHECK("embed-5.2", astro_embed(e, "x", 1, NULL, D, &err) == ASTRO_EINVAL);

    /* Smallest dimension works. */
    astro_embedder *e8 = NULL;
    float v8[8];
    CHECK("embed-6.0", astro_embedder_new(8, &e8, &err) == ASTRO_OK);
    CHECK("embed-6.1", astro_embed(e8, "hello world", 11, v8, 8, &err) == ASTRO_OK && fabs(norm(v8, 8) - 1.0) < 1e-5);

    /* Pinned fingerprint: a stable hash of the bits of one embedding. If the
     * hashing or weighting changes on purpose, update this value. */
    CHECK("embed-7.0", emb(e, "Alice moved to Paris in 2019 and loves hiking.", a) == ASTRO_OK);
    uint64_t fp = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < D; i++) {
        uint32_t bits;
        memcpy(&bits, &a[i], 4);
        fp = (fp ^ bits) * 0x100000001b3ULL;
    }
    if (fp != EMBED_FINGERPRINT) printf("embed fingerprint: 0x%016llx\n", (unsigned long long)fp);
    CHECK("embed-7.1", fp == EMBED_FINGERPRINT);

    astro_embedder_free(e);
    astro_embedder_free(e2);
    astro_embedder_free(e8);
    astro_embedder_free(NULL);
    return check_report("test_embed");
}
