/*
** fuzz_bm25_load.c — BM25 snapshot loading (bm25_io.c) from arbitrary bytes.
** The first byte picks how the snapshot is made:
**   0  the rest of the input, as is (must fail cleanly: header, size, checksum)
**   1  the rest of the input with its trailing checksum recomputed, so the
**      structural checks of the loader are reached
**   2+ a real index built from the input (texts over a small vocabulary,
**      removals, re-adds into freed document numbers), saved, then patched
**      at input-chosen offsets (xor a byte, or write a small u32 over an id,
**      count or bound) and re-checksummed
** A load must return ASTRO_OK, ASTRO_EFORMAT or ASTRO_ENOMEM and never read
** outside the buffer. An index that loads must be safe to use: saving it
** gives back the very bytes it was loaded from; searches return indexed,
** distinct keys; adds and removes keep it valid (it saves and loads again
** after them). The checksum is internal.h's, as bm25_io.c uses it.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/bm25.h"
#include "fuzz_input.h"
#include "internal.h"

static void fix_checksum(unsigned char *b, size_t len) {
    if (len < 8) return;
    uint64_t s = astro__checksum(b, len - 8);
    memcpy(b + len - 8, &s, 8);
}

/* Saves ix; returns a malloc'd buffer and its length, or NULL. */
static unsigned char *save(const astro_bm25 *ix, size_t *len) {
    size_t need = astro_bm25_save_size(ix);
    unsigned char *b = malloc(need ? need : 1);
    if (!b) return NULL;
    FUZZ_CHECK(astro_bm25_save_mem(ix, b, need, len, NULL) == ASTRO_OK && *len == need);
    FUZZ_CHECK(astro_bm25_save_mem(ix, b, need - 1, len, NULL) == ASTRO_ERANGE);
    *len = need;
    return b;
}

/* A text of up to 12 words over a 24-word vocabulary, from the input. */
static size_t text_of(fuzz_in *in, char *buf, size_t cap) {
    static const char *words[] = { "apple", "banana", "cherry", "delta", "echo", "fox", "golf", "hotel",
                                   "india", "juliet", "kilo", "lima", "mike", "nov", "oscar", "papa",
                                   "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whisky", "xray" };
    size_t n = fi_u8(in) % 13, len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[fi_u8(in) % 24];
        size_t wl = strlen(w);
        if (len + wl + 1 >= cap) break;
        memcpy(buf + len, w, wl);
        len += wl;
        buf[len++] = ' ';
    }
    return len;
}

/* Checks one search: indexed, distinct keys, at most k of them. */
static void check_search(astro_bm25 *ix, fuzz_in *in) {
    char q[256];
    size_t ql = text_of(in, q, sizeof q);
    size_t k = 1 + fi_u8(in) % 16;
    uint64_t keys[16];
    float sc[16];
    long n = astro_bm25_search(ix, q, ql, k, NULL, keys, sc, NULL);
    FUZZ_CHECK(n >= 0 && (size_t)n <= k && (size_t)n <= astro_bm25_count(ix));
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(astro_bm25_contains(ix, keys[i]));
        for (long j = 0; j < i; j++) FUZZ_CHECK(keys[i] != keys[j]);
    }
}

/* Uses an index that loaded from buf[0..len). */
static void exercise(astro_bm25 *ix, const unsigned char *buf, size_t len, fuzz_in *in) {
    size_t out_len;
    unsigned char *again = save(ix, &out_len);
    if (!again) return;
    FUZZ_CHECK(out_len == len && memcmp(again, buf, len) == 0);
    free(again);
    size_t nk = astro_bm25_count(ix);
    uint64_t *keys = malloc((nk ? nk : 1) * sizeof *keys);
    if (!keys) return;
    FUZZ_CHECK(astro_bm25_keys(ix, keys, nk) == nk);
    for (size_t i = 0; i < nk; i++) FUZZ_CHECK(astro_bm25_contains(ix, keys[i]));
    free(keys);
    check_search(ix, in);
    char text[256];
    for (int op = 0; op < 24 && in->n > 0; op++) {
        uint8_t c = fi_u8(in);
        uint64_t key = fi_u8(in) % 48;
        if (c % 3) {
            size_t tl = text_of(in, text, sizeof text);
            int rc = astro_bm25_add(ix, key, text, tl, NULL, NULL);
            FUZZ_CHECK(rc == ASTRO_OK || rc == ASTRO_ENOMEM);
            if (rc == ASTRO_OK) FUZZ_CHECK(astro_bm25_contains(ix, key));
        } else {
            astro_bm25_remove(ix, key);
            FUZZ_CHECK(!astro_bm25_contains(ix, key));
        }
        check_search(ix, in);
    }
    unsigned char *b = save(ix, &out_len);
    if (!b) return;
    astro_bm25 *back = NULL;
    astro_err err;
    int rc = astro_bm25_load_mem(b, out_len, NULL, &back, &err);
    if (rc != ASTRO_OK) fprintf(stderr, "reload failed: %s\n", err.msg);
    FUZZ_CHECK(rc == ASTRO_OK);
    FUZZ_CHECK(astro_bm25_count(back) == astro_bm25_count(ix));
    astro_bm25_free(back);
    free(b);
}

/* Builds a small index from the input and returns its snapshot. */
static unsigned char *build_snapshot(fuzz_in *in, size_t *len) {
    astro_bm25 *ix = NULL;
    if (astro_bm25_new(NULL, &ix, NULL) != ASTRO_OK) return NULL;
    size_t n = fi_u8(in) % 40;
    char text[256];
    for (size_t i = 0; i < n; i++) {
        size_t tl = text_of(in, text, sizeof text);
        astro_bm25_add(ix, i, text, tl, NULL, NULL);
    }
    uint8_t rm = fi_u8(in);
    for (size_t i = 0; i < n; i++)
        if ((i * 7 + rm) % 5 == 0 && (rm & 1)) astro_bm25_remove(ix, i);
    if (rm & 2) astro_bm25_add(ix, 100, "apple fox apple", 15, NULL, NULL);   /* reuses a freed docno */
    unsigned char *b = save(ix, len);
    astro_bm25_free(ix);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    uint8_t mode = fi_u8(&in);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (mode < 2) {
        len = in.n;
        buf = malloc(len ? len : 1);   /* an exact-size copy: ASan sees any over-read */
        if (!buf) return 0;
        if (len) memcpy(buf, in.p, len);
        if (mode == 1) fix_checksum(buf, len);
        in.n = 0;
    } else {
        buf = build_snapshot(&in, &len);
        if (!buf) return 0;
        size_t np = fi_u8(&in) % 8;
        for (size_t i = 0; i < np && len > 0; i++) {
            uint8_t how = fi_u8(&in);
            size_t pos = fi_u16(&in) % len;
            if (how & 1) {
                buf[pos] ^= fi_u8(&in);
            } else if (pos + 4 <= len) {
                uint32_t val = fi_u8(&in) % 64;
                memcpy(buf + pos, &val, 4);
            }
        }
        fix_checksum(buf, len);
    }
    astro_bm25 *ix = NULL;
    astro_err err;
    int rc = astro_bm25_load_mem(buf, len, NULL, &ix, &err);
    FUZZ_CHECK(rc == ASTRO_OK || rc == ASTRO_EFORMAT || rc == ASTRO_ENOMEM);
    FUZZ_CHECK((rc == ASTRO_OK) == (ix != NULL));
    if (ix) {
        exercise(ix, buf, len, &in);
        astro_bm25_free(ix);
    }
    free(buf);
    return 0;
}
