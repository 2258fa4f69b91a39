/*
** use.c — a program built against an installed libastrocyte (by pkg-config
** and by find_package(astrocyte), see prefix.sh): calls the tokenizer, the
** hashing embedder, SHA-256 and the UTF-8 checks through the installed
** headers and library, and checks their results. Exit 0 when all hold.
*/
#include <astro/common.h>
#include <astro/embed.h>
#include <astro/sha256.h>
#include <astro/text.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DIM 128

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

struct terms {
    char buf[256];
    size_t used;
    size_t n;
};

static int collect(const astro_token *tok, void *ud) {
    struct terms *t = ud;
    if (t->used + tok->term_len + 2 > sizeof t->buf) return 1;
    if (t->n) t->buf[t->used++] = ' ';
    memcpy(t->buf + t->used, tok->term, tok->term_len);
    t->used += tok->term_len;
    t->buf[t->used] = '\0';
    t->n++;
    return 0;
}

static double cosine(const float *a, const float *b) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < DIM; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return dot / (sqrt(na) * sqrt(nb));
}

static int embed(astro_embedder *e, const char *s, float *out) {
    astro_err err = {0};
    int rc = astro_embed(e, s, strlen(s), out, DIM, &err);
    if (rc != ASTRO_OK) fprintf(stderr, "astro_embed: %s\n", err.msg);
    return rc;
}

int main(void) {
    /* Tokenizer: lowercased, stemmed, stopwords dropped. */
    astro_tokenizer *tk = NULL;
    astro_err err = {0};
    check(astro_tokenizer_new(NULL, &tk, &err) == ASTRO_OK && tk, "astro_tokenizer_new");
    if (tk) {
        struct terms t = {{0}, 0, 0};
        const char *s = "The Cats were Jumping over the fences";
        size_t n = astro_tokenize(tk, s, strlen(s), collect, &t);
        check(n == t.n && n >= 3, "astro_tokenize delivers its tokens");
        check(strstr(t.buf, "cat") != NULL && strstr(t.buf, "Cats") == NULL, "tokens are lowercased and stemmed");
        check(strstr(t.buf, "the") == NULL, "stopwords are dropped");
        astro_tokenizer_free(tk);
    }
    check(astro_token_count("four words right here", 21) >= 4, "astro_token_count");

    /* UTF-8 validation. */
    size_t bad = 0;
    check(astro_utf8_valid("caf\xc3\xa9", 5, NULL) == 1, "valid UTF-8 accepted");
    check(astro_utf8_valid("ab\xff", 3, &bad) == 0 && bad == 2, "invalid UTF-8 found at its offset");
    check(astro_utf8_count("caf\xc3\xa9", 5) == 4, "astro_utf8_count");

    /* SHA-256 of "abc" (FIPS 180-4 example). */
    uint8_t digest[ASTRO_SHA256_DIGEST];
    char hex[2 * ASTRO_SHA256_DIGEST + 1];
    astro_sha256("abc", 3, digest);
    astro_hex(digest, sizeof digest, hex);
    check(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "astro_sha256(\"abc\")");

    /* Hashing embedder: unit length, deterministic, related texts closer. */
    astro_embedder *e = NULL;
    check(astro_embedder_new(DIM, &e, &err) == ASTRO_OK && e, "astro_embedder_new");
    check(astro_embedder_new(3, &(astro_embedder *){NULL}, &err) == ASTRO_EINVAL, "a too small dim is refused");
    if (e) {
        static float tea[DIM], tea2[DIM], teas[DIM], money[DIM];
        check(astro_embedder_dim(e) == DIM, "astro_embedder_dim");
        check(embed(e, "green tea in the morning", tea) == ASTRO_OK, "embed tea");
        check(embed(e, "green tea in the morning", tea2) == ASTRO_OK, "embed tea again");
        check(embed(e, "drinking green teas every morning", teas) == ASTRO_OK, "embed teas");
        check(embed(e, "quarterly revenue forecast spreadsheet", money) == ASTRO_OK, "embed money");
        check(memcmp(tea, tea2, sizeof tea) == 0, "same text, same vector");
        check(fabs(cosine(tea, tea) - 1.0) < 1e-6, "cosine of a vector with itself");
        double norm = 0;
        for (size_t i = 0; i < DIM; i++) norm += (double)tea[i] * tea[i];
        check(fabs(norm - 1.0) < 1e-4, "vectors are L2-normalized");
        check(cosine(tea, teas) > cosine(tea, money) + 0.2, "related texts are closer than unrelated ones");
        astro_embedder_free(e);
    }

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("libastrocyte ok\n");
    return 0;
}
