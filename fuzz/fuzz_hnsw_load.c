/*
** fuzz_hnsw_load.c — HNSW snapshot loading (hnsw_io.c) from arbitrary bytes.
** The first byte picks how the snapshot is made:
**   0  the rest of the input, as is (must fail cleanly: header, size, checksum)
**   1  the rest of the input with its trailing checksum recomputed, so the
**      structural checks of the loader are reached
**   2+ a real graph built from the input (dim, M, vectors, removals, maybe a
**      repair), saved, then patched at input-chosen offsets (xor a byte, or
**      write a small u32 over an id or count) and re-checksummed
** A load must return ASTRO_OK or ASTRO_EFORMAT and never read outside the
** buffer. A graph that loads must be safe to use: saving it gives back the
** very bytes it was loaded from; searches return live keys only; adds,
** removes and repairs keep it valid (it saves and loads again after them).
** The checksum below mirrors hnsw_io.c's; if that changes, modes 1 and 2
** stop reaching past the checksum test (the harness still runs).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/hnsw.h"
#include "fuzz_input.h"
#include "internal.h"


static void fix_checksum(unsigned char *b, size_t len) {
    if (len < 8) return;
    uint64_t s = astro__checksum(b, len - 8);
    memcpy(b + len - 8, &s, 8);
}

/* Saves ix; returns a malloc'd buffer and its length, or NULL. */
static unsigned char *save(const astro_hnsw *ix, size_t *len) {
    size_t need = astro_hnsw_save_size(ix);
    unsigned char *b = malloc(need ? need : 1);
    if (!b) return NULL;
    FUZZ_CHECK(astro_hnsw_save_mem(ix, b, need, len, NULL) == ASTRO_OK && *len == need);
    if (need > 0) FUZZ_CHECK(astro_hnsw_save_mem(ix, b, need - 1, len, NULL) == ASTRO_ERANGE);
    *len = need;
    return b;
}

/* Checks one search on ix: live, distinct keys, at most k of them. */
static void check_search(const astro_hnsw *ix, const float *q, size_t k, size_t ef) {
    astro_hnsw_ctx *ctx = NULL;
    if (astro_hnsw_ctx_new(ix, &ctx, NULL) != ASTRO_OK) return;
    uint64_t keys[64];
    float sc[64];
    long n = astro_hnsw_search(ix, ctx, q, astro_hnsw_dim(ix), k, ef, NULL, keys, sc, NULL);
    FUZZ_CHECK(n >= 0 && (size_t)n <= k && (size_t)n <= astro_hnsw_count(ix));
    for (long i = 0; i < n; i++) {
        FUZZ_CHECK(astro_hnsw_contains(ix, keys[i]));
        for (long j = 0; j < i; j++) FUZZ_CHECK(keys[i] != keys[j]);
    }
    astro_hnsw_ctx_free(ctx);
}

/* The graph must still save and load after an operation. */
static void check_reloads(const astro_hnsw *ix) {
    size_t len;
    unsigned char *b = save(ix, &len);
    if (!b) return;
    astro_hnsw *back = NULL;
    astro_err err;
    int rc = astro_hnsw_load_mem(b, len, &back, &err);
    if (rc != ASTRO_OK) fprintf(stderr, "reload failed: %s\n", err.msg);
    FUZZ_CHECK(rc == ASTRO_OK);
    FUZZ_CHECK(astro_hnsw_count(back) == astro_hnsw_count(ix));
    astro_hnsw_free(back);
    free(b);
}

/* Uses a graph that loaded from buf[0..len). */
static void exercise(astro_hnsw *ix, const unsigned char *buf, size_t len, fuzz_in *in) {
    size_t dim = astro_hnsw_dim(ix);
    FUZZ_CHECK(dim >= 1 && dim <= 65536);
    size_t out_len;
    unsigned char *again = save(ix, &out_len);
    if (!again) return;
    FUZZ_CHECK(out_len == len && memcmp(again, buf, len) == 0);
    free(again);
    if (dim > 64) return;   /* keep the vectors below small */
    float v[64];
    for (size_t i = 0; i < dim; i++) v[i] = (float)(int8_t)fi_u8(in) / 127.0f;
    check_search(ix, v, 1 + fi_u8(in) % 16, fi_u8(in) % 40);
    for (int op = 0; op < 24 && in->n > 0; op++) {
        uint8_t c = fi_u8(in);
        uint64_t key = fi_u8(in) % 48;
        switch (c % 4) {
        case 0: case 1: {
            for (size_t i = 0; i < dim; i++) v[i] = (float)(int8_t)fi_u8(in) / 127.0f;
            astro_item_times t = { (int64_t)c, ASTRO_TIME_NONE };
            int rc = astro_hnsw_add(ix, key, v, dim, &t, NULL);
            FUZZ_CHECK(rc == ASTRO_OK || rc == ASTRO_ENOMEM);
            if (rc == ASTRO_OK) FUZZ_CHECK(astro_hnsw_contains(ix, key));
            break;
        }
        case 2:
            astro_hnsw_remove(ix, key);
            FUZZ_CHECK(!astro_hnsw_contains(ix, key));
            break;
        default:
            FUZZ_CHECK(astro_hnsw_repair(ix, NULL) == ASTRO_OK);
            FUZZ_CHECK(astro_hnsw_deleted(ix) == 0);
            break;
        }
        check_search(ix, v, 1 + (c >> 4), 0);
    }
    check_reloads(ix);
}

/* Builds a small graph from the input and returns its snapshot. */
static unsigned char *build_snapshot(fuzz_in *in, size_t *len) {
    size_t dim = 1 + fi_u8(in) % 8;
    astro_hnsw_opts o;
    astro_hnsw_opts_init(&o);
    o.M = 2 + fi_u8(in) % 4;
    o.ef_construction = 1 + fi_u8(in) % 32;
    o.seed = fi_u8(in);
    astro_hnsw *ix = NULL;
    if (astro_hnsw_new(dim, &o, &ix, NULL) != ASTRO_OK) return NULL;
    size_t n = fi_u8(in) % 48;
    float v[8];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < dim; j++) v[j] = (float)(int8_t)fi_u8(in) / 127.0f;
        astro_hnsw_add(ix, i, v, dim, NULL, NULL);
    }
    uint8_t rm = fi_u8(in);
    for (size_t i = 0; i < n; i++)
        if ((i * 7 + rm) % 5 == 0 && (rm & 1)) astro_hnsw_remove(ix, i);
    if (rm & 2) astro_hnsw_repair(ix, NULL);
    if (rm & 4) {   /* reuse a freed slot or two */
        for (size_t j = 0; j < dim; j++) v[j] = 0.5f;
        astro_hnsw_add(ix, 100, v, dim, NULL, NULL);
        astro_hnsw_add(ix, 101, v, dim, NULL, NULL);
    }
    unsigned char *b = save(ix, len);
    astro_hnsw_free(ix);
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
            } else if (pos + 4 <= len) {   /* fields are unaligned past the first slot */
                uint32_t val = fi_u8(&in) % 64;
                memcpy(buf + pos, &val, 4);
            }
        }
        fix_checksum(buf, len);
    }
    astro_hnsw *ix = NULL;
    astro_err err;
    int rc = astro_hnsw_load_mem(buf, len, &ix, &err);
    FUZZ_CHECK(rc == ASTRO_OK || rc == ASTRO_EFORMAT || rc == ASTRO_ENOMEM);
    FUZZ_CHECK((rc == ASTRO_OK) == (ix != NULL));
    if (ix) {
        exercise(ix, buf, len, &in);
        astro_hnsw_free(ix);
    }
    free(buf);
    return 0;
}
