/*
** test_hnsw.c — the HNSW graph: recall@10 >= 0.95 at ef 64 on clustered data
** with a fixed seed (against the exact flat index), recall kept after
** deleting 30%, after repair and after re-inserting, bit-exact save/load
** round trips (memory and file) with identical search results, corrupt data
** rejected with ASTRO_EFORMAT (also crafted snapshots with shared upper
** blocks or a repeated free-list slot), keyset and time filters, NaN and dim errors.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro/hnsw.h"
#include "astro/vec.h"
#include "check.h"
#include "../src/hnsw_impl.h"   /* test_v1: writes the version 1 layout */

#define N 4000
#define D 24
#define NQ 50
#define NC 30

static float data[N][D], queries[NQ][D], centres[NC][D];

/* Fills data and queries with clustered vectors. */
static void make_data(void) {
    uint64_t s = 1234;
    for (int c = 0; c < NC; c++)
        for (int j = 0; j < D; j++) centres[c][j] = rnd(&s);
    for (int i = 0; i < N + NQ; i++) {
        int c = (int)((rnd(&s) + 1.0f) * 0.5f * NC) % NC;
        float *v = i < N ? data[i] : queries[i - N];
        for (int j = 0; j < D; j++) v[j] = centres[c][j] + 1.0f * rnd(&s);
    }
}

/* Returns recall@10 of ix over the queries against an exact index of the
 * keys in live[] (key i+1 holds data[i]). */
static double recall(const astro_hnsw *ix, const unsigned char *live, size_t ef) {
    astro_flat *ex = NULL;
    astro_hnsw_ctx *ctx = NULL;
    astro_err err;
    astro_flat_new(D, &ex, &err);
    for (int i = 0; i < N; i++)
        if (live[i]) astro_flat_add(ex, (uint64_t)i + 1, data[i], D, NULL, &err);
    CHECK("hnsw-r.0", astro_hnsw_ctx_new(ix, &ctx, &err) == ASTRO_OK);
    size_t hit = 0;
    for (int q = 0; q < NQ; q++) {
        uint64_t ek[10], hk[10];
        float es[10], hs[10];
        long ne = astro_flat_search(ex, queries[q], D, 10, NULL, ek, es, &err);
        long nh = astro_hnsw_search(ix, ctx, queries[q], D, 10, ef, NULL, hk, hs, &err);
        CHECK("hnsw-r.1", ne == 10 && nh == 10);
        for (long a = 0; a < nh; a++)
            for (long e = 0; e < ne; e++) hit += hk[a] == ek[e];
    }
    astro_hnsw_ctx_free(ctx);
    astro_flat_free(ex);
    return (double)hit / (NQ * 10);
}

/* Builds the fixed-seed graph over all of data. */
static astro_hnsw *build(void) {
    astro_hnsw *ix = NULL;
    astro_err err;
    astro_hnsw_opts o;
    astro_hnsw_opts_init(&o);
    o.ef_construction = 100;
    CHECK("hnsw-1.0", astro_hnsw_new(D, &o, &ix, &err) == ASTRO_OK);
    for (int i = 0; i < N; i++) {
        astro_item_times t = { 1000 + i, ASTRO_TIME_NONE };
        CHECK("hnsw-1.1", astro_hnsw_add(ix, (uint64_t)i + 1, data[i], D, &t, &err) == ASTRO_OK);
    }
    return ix;
}

/* Recall, deletes, repair and re-insertion. */
static void test_recall(astro_hnsw *ix) {
    static unsigned char live[N];
    memset(live, 1, sizeof live);
    double r = recall(ix, live, 64);
    printf("hnsw: recall@10 ef=64: %.3f\n", r);
    CHECK("hnsw-2.0", r >= 0.95);
    for (int i = 0; i < N; i += 3) {
        CHECK("hnsw-2.1", astro_hnsw_remove(ix, (uint64_t)i + 1) == 1);
        live[i] = 0;
    }
    CHECK("hnsw-2.2", astro_hnsw_remove(ix, 1) == 0 && !astro_hnsw_contains(ix, 1));
    CHECK("hnsw-2.3", astro_hnsw_count(ix) == N - (N + 2) / 3 && astro_hnsw_deleted(ix) == (N + 2) / 3);
    r = recall(ix, live, 64);
    printf("hnsw: after deleting a third: %.3f\n", r);
    CHECK("hnsw-2.4", r >= 0.95);
    astro_err err;
    CHECK("hnsw-2.5", astro_hnsw_repair(ix, &err) == ASTRO_OK && astro_hnsw_deleted(ix) == 0);
    r = recall(ix, live, 64);
    printf("hnsw: after repair: %.3f\n", r);
    CHECK("hnsw-2.6", r >= 0.95);
    for (int i = 0; i < N; i += 3) {
        astro_item_times t = { 1000 + i, ASTRO_TIME_NONE };
        CHECK("hnsw-2.7", astro_hnsw_add(ix, (uint64_t)i + 1, data[i], D, &t, &err) == ASTRO_OK);
        live[i] = 1;
    }
    CHECK("hnsw-2.8", astro_hnsw_count(ix) == N);
    r = recall(ix, live, 64);
    printf("hnsw: after re-inserting: %.3f\n", r);
    CHECK("hnsw-2.9", r >= 0.95);
}

/* save -> load -> save is bit-exact and searches agree; bad data fails. */
static void test_io(astro_hnsw *ix) {
    astro_err err;
    astro_hnsw_remove(ix, 5);   /* include a tombstone */
    size_t n = astro_hnsw_save_size(ix), len = 0, len2 = 0;
    unsigned char *a = malloc(n), *b = malloc(n);
    CHECK("hnsw-3.0", astro_hnsw_save_mem(ix, a, n - 1, &len, &err) == ASTRO_ERANGE);
    CHECK("hnsw-3.1", astro_hnsw_save_mem(ix, a, n, &len, &err) == ASTRO_OK && len == n);
    astro_hnsw *ld = NULL;
    CHECK("hnsw-3.2", astro_hnsw_load_mem(a, len, &ld, &err) == ASTRO_OK);
    CHECK("hnsw-3.3", astro_hnsw_save_mem(ld, b, n, &len2, &err) == ASTRO_OK && len2 == n && memcmp(a, b, n) == 0);
    CHECK("hnsw-3.4", astro_hnsw_count(ld) == astro_hnsw_count(ix) && !astro_hnsw_contains(ld, 5));
    astro_hnsw_ctx *c1 = NULL, *c2 = NULL;
    astro_hnsw_ctx_new(ix, &c1, &err);
    astro_hnsw_ctx_new(ld, &c2, &err);
    int same = 1;
    for (int q = 0; q < NQ; q++) {
        uint64_t k1[10], k2[10];
        float s1[10], s2[10];
        long n1 = astro_hnsw_search(ix, c1, queries[q], D, 10, 32, NULL, k1, s1, &err);
        long n2 = astro_hnsw_search(ld, c2, queries[q], D, 10, 32, NULL, k2, s2, &err);
        same &= n1 == n2 && memcmp(k1, k2, sizeof k1) == 0 && memcmp(s1, s2, sizeof s1) == 0;
    }
    CHECK("hnsw-3.5", same);
    /* corruption: a flipped byte, truncation, a foreign magic */
    astro_hnsw *bad = NULL;
    b[n / 2] ^= 0x40;
    CHECK("hnsw-3.6", astro_hnsw_load_mem(b, n, &bad, &err) == ASTRO_EFORMAT && bad == NULL);
    b[n / 2] ^= 0x40;
    CHECK("hnsw-3.7", astro_hnsw_load_mem(b, n - 8, &bad, &err) == ASTRO_EFORMAT);
    b[0] = 'X';
    CHECK("hnsw-3.8", astro_hnsw_load_mem(b, n, &bad, &err) == ASTRO_EFORMAT);
    CHECK("hnsw-3.9", astro_hnsw_load_mem("short", 5, &bad, &err) == ASTRO_EFORMAT);
    /* file round trip */
    const char *path = "test_hnsw.bin";
    CHECK("hnsw-3.10", astro_hnsw_save(ld, path, &err) == ASTRO_OK);
    astro_hnsw *fl = NULL;
    CHECK("hnsw-3.11", astro_hnsw_load(path, &fl, &err) == ASTRO_OK);
    CHECK("hnsw-3.12", fl && astro_hnsw_save_mem(fl, b, n, &len2, &err) == ASTRO_OK && memcmp(a, b, n) == 0);
    remove(path);
    CHECK("hnsw-3.13", astro_hnsw_load("/nonexistent/x.bin", &bad, &err) == ASTRO_EIO);
    /* inserting after a load continues identically (RNG state carried) */
    CHECK("hnsw-3.14", astro_hnsw_add(ix, 5, data[4], D, NULL, &err) == ASTRO_OK &&
                           astro_hnsw_add(ld, 5, data[4], D, NULL, &err) == ASTRO_OK);
    size_t m1 = 0, m2 = 0;
    unsigned char *x = malloc(astro_hnsw_save_size(ix)), *y = malloc(astro_hnsw_save_size(ld));
    astro_hnsw_save_mem(ix, x, astro_hnsw_save_size(ix), &m1, &err);
    astro_hnsw_save_mem(ld, y, astro_hnsw_save_size(ld), &m2, &err);
    CHECK("hnsw-3.15", m1 == m2 && memcmp(x, y, m1) == 0);
    free(x), free(y);
    astro_hnsw_ctx_free(c1), astro_hnsw_ctx_free(c2);
    astro_hnsw_free(ld), astro_hnsw_free(fl);
    free(a), free(b);
}

/* ---- crafted snapshots (found by fuzz/fuzz_hnsw_load.c) ---- */

#define IO_HEAD (8 + 4 + 4 + 8 * 12)

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Rewrites the trailing checksum of a snapshot (hnsw_io.c's function). */
static void fix_checksum(unsigned char *p, size_t len) {
    size_t n = len - 8, i = 0;
    uint64_t off = 0xcbf29ce484222325ULL, h[4] = { off, off ^ 1, off ^ 2, off ^ 3 };
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] = (h[l] ^ w) * 0x100000001b3ULL;
        }
    uint64_t r = h[0] ^ mix64(h[1]) ^ mix64(h[2] + 7) ^ mix64(h[3] + 13);
    for (; i < n; i++) r = (r ^ p[i]) * 0x100000001b3ULL;
    r = mix64(r ^ n);
    memcpy(p + n, &r, 8);
}

/* A snapshot whose slots share upper-level blocks, or whose free list names
 * a slot twice, passed every other check: inserts then wrote one node's
 * links into another node's list and searches read past a node's blocks.
 * Both must be ASTRO_EFORMAT. */
static void test_crafted(void) {
    astro_err err;
    astro_hnsw_opts o;
    astro_hnsw_opts_init(&o);
    o.M = 2;
    o.seed = 3;
    astro_hnsw *ix = NULL;
    CHECK("hnsw-5.0", astro_hnsw_new(2, &o, &ix, &err) == ASTRO_OK);
    for (int i = 0; i < 64; i++) {
        float v[2] = { data[i][0], data[i][1] };
        astro_hnsw_add(ix, (uint64_t)i, v, 2, NULL, &err);
    }
    size_t n = astro_hnsw_save_size(ix), len = 0;
    unsigned char *a = malloc(n);
    CHECK("hnsw-5.1", a && astro_hnsw_save_mem(ix, a, n, &len, &err) == ASTRO_OK);
    /* version 2 layout for 64 slots of dim 2 (stride 16) and M 2: vectors at
     * 4096 (4096 bytes), level-0 lists at 8192 (64 * 5 * 4 bytes), from 12288
     * level[64], ulev[64], state[64], upper_off[64] (u32), keys, times, then
     * the free list */
    size_t tail = 12288, first = SIZE_MAX, second = SIZE_MAX;
    for (size_t i = 0; i < 64 && second == SIZE_MAX; i++) {
        unsigned char ulev = a[tail + 64 + i];
        if (ulev == 0) continue;
        if (first == SIZE_MAX) first = i;
        else second = i;
    }
    CHECK("hnsw-5.2", second != SIZE_MAX);
    if (second != SIZE_MAX) {
        memcpy(a + tail + 192 + second * 4, a + tail + 192 + first * 4, 4);
        fix_checksum(a, n);
        astro_hnsw *bad = NULL;
        CHECK("hnsw-5.3", astro_hnsw_load_mem(a, n, &bad, &err) == ASTRO_EFORMAT && bad == NULL);
    }
    free(a);
    /* two free slots, the free list naming the first twice */
    astro_hnsw_remove(ix, 10);
    astro_hnsw_remove(ix, 20);
    CHECK("hnsw-5.4", astro_hnsw_repair(ix, &err) == ASTRO_OK);
    n = astro_hnsw_save_size(ix);
    a = malloc(n);
    CHECK("hnsw-5.5", a && astro_hnsw_save_mem(ix, a, n, &len, &err) == ASTRO_OK);
    astro_hnsw *good = NULL;
    CHECK("hnsw-5.6", astro_hnsw_load_mem(a, n, &good, &err) == ASTRO_OK);
    astro_hnsw_free(good);
    size_t fl = tail + 64 * (3 + 4 + 8 + 16);
    memcpy(a + fl + 4, a + fl, 4);
    fix_checksum(a, n);
    astro_hnsw *bad = NULL;
    CHECK("hnsw-5.7", astro_hnsw_load_mem(a, n, &bad, &err) == ASTRO_EFORMAT && bad == NULL);
    free(a);
    astro_hnsw_free(ix);
}

/* Keyset and time filters, error paths. */
static void test_filters(const astro_hnsw *ix) {
    astro_err err;
    astro_hnsw_ctx *ctx = NULL;
    uint64_t keys[10];
    float scores[10];
    static uint8_t bits[(N + 8) / 8 + 1];
    for (int i = 2; i <= N; i += 2) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    astro_keyset ks = { bits, N + 1 };
    astro_filter f;
    astro_filter_init(&f);
    f.allow = &ks;
    astro_hnsw_ctx_new(ix, &ctx, &err);
    long n = astro_hnsw_search(ix, ctx, queries[0], D, 10, 64, &f, keys, scores, &err);
    int ok = n == 10;
    for (long i = 0; i < n; i++) ok &= keys[i] % 2 == 0;
    CHECK("hnsw-4.0", ok);
    astro_filter_init(&f);
    f.time_from = 1000 + 100;
    f.time_to = 1000 + 199;   /* keys 101..200 */
    n = astro_hnsw_search(ix, ctx, queries[1], D, 10, 64, &f, keys, scores, &err);
    ok = n == 10;
    for (long i = 0; i < n; i++) ok &= keys[i] >= 101 && keys[i] <= 200;
    CHECK("hnsw-4.1", ok);
    float bad[D] = { 0 };
    bad[3] = NAN;
    CHECK("hnsw-4.2", astro_hnsw_search(ix, ctx, bad, D, 10, 0, NULL, keys, scores, &err) == ASTRO_EINVAL);
    CHECK("hnsw-4.3", astro_hnsw_search(ix, ctx, bad, D - 1, 10, 0, NULL, keys, scores, &err) == ASTRO_EDIM);
    astro_hnsw_ctx_free(ctx);
}

/* The version 1 layout (one record per slot), as older builds saved it. */
static unsigned char *save_v1(const astro_hnsw *ix, size_t *len) {
    size_t rec = ix->dim * 4 + (1 + ix->M0) * 4 + 3 + 4 + 8 + sizeof(astro_item_times);
    size_t n = 8 + 4 + 4 + 8 * 12 + ix->n * rec + ix->nfree * 4 + ix->upper_n * 4 + 8;
    unsigned char *b = malloc(n), *p = b;
    if (!b) return NULL;
    uint32_t v = 1, bom = 0x01020304u;
    uint64_t h[12] = { ix->dim, ix->M, ix->efc, ix->ef, ix->rng, ix->n, ix->nlive, ix->ndeleted,
                       ix->nfree, ix->ep, (uint64_t)(ix->maxlevel + 1), ix->upper_n };
    memcpy(p, "ASTHNSW", 8), p += 8;
    memcpy(p, &v, 4), p += 4;
    memcpy(p, &bom, 4), p += 4;
    memcpy(p, h, sizeof h), p += sizeof h;
    for (size_t i = 0; i < ix->n; i++) {
        memcpy(p, ix->vecs + i * ix->stride, ix->dim * 4), p += ix->dim * 4;
        memcpy(p, ix->links0 + i * (1 + ix->M0), (1 + ix->M0) * 4), p += (1 + ix->M0) * 4;
        *p++ = ix->level[i], *p++ = ix->ulev[i], *p++ = ix->state[i];
        memcpy(p, &ix->upper_off[i], 4), p += 4;
        memcpy(p, &ix->keys[i], 8), p += 8;
        memcpy(p, &ix->times[i], sizeof(astro_item_times)), p += sizeof(astro_item_times);
    }
    memcpy(p, ix->freelist, ix->nfree * 4), p += ix->nfree * 4;
    memcpy(p, ix->upper, ix->upper_n * 4), p += ix->upper_n * 4;
    uint64_t sum = astro__checksum(b, (size_t)(p - b));
    memcpy(p, &sum, 8);
    *len = n;
    return b;
}

/* Version 1 snapshots still load (buffer and file) into the same graph; a
 * graph loaded from a file (vectors and lists used where they are mapped)
 * takes inserts exactly as one loaded from a buffer, also past the room
 * reserved at load, where its arrays move to memory of their own. */
static void test_v1_and_lent(const astro_hnsw *ix) {
    astro_err err;
    size_t n1 = 0, n = astro_hnsw_save_size(ix), len;
    unsigned char *v1 = save_v1(ix, &n1), *a = malloc(n), *b = malloc(n);
    CHECK("hnsw-6.0", v1 && a && b && astro_hnsw_save_mem(ix, a, n, &len, &err) == ASTRO_OK);
    astro_hnsw *old = NULL, *fl = NULL, *mem = NULL;
    CHECK("hnsw-6.1", astro_hnsw_load_mem(v1, n1, &old, &err) == ASTRO_OK);
    CHECK("hnsw-6.2", old && astro_hnsw_save_mem(old, b, n, &len, &err) == ASTRO_OK && memcmp(a, b, n) == 0);
    const char *path = "test_hnsw_v1.bin";
    FILE *f = fopen(path, "wb");
    CHECK("hnsw-6.3", f && fwrite(v1, 1, n1, f) == n1 && fclose(f) == 0);
    astro_hnsw_free(old);
    old = NULL;
    CHECK("hnsw-6.4", astro_hnsw_load(path, &old, &err) == ASTRO_OK);
    CHECK("hnsw-6.5", old && astro_hnsw_save_mem(old, b, n, &len, &err) == ASTRO_OK && memcmp(a, b, n) == 0);
    CHECK("hnsw-6.6", astro_hnsw_save(ix, path, &err) == ASTRO_OK);
    CHECK("hnsw-6.7", astro_hnsw_load(path, &fl, &err) == ASTRO_OK && fl->vecs_map != NULL);
    CHECK("hnsw-6.8", astro_hnsw_load_mem(a, n, &mem, &err) == ASTRO_OK && mem->vecs_map == NULL);
    remove(path);
    /* past the reserved room (twice the slots plus 1024) */
    size_t extra = 2 * astro_hnsw_count(ix) + 1100;
    uint64_t s = 5;
    float v[D];
    int ok = 1;
    for (size_t i = 0; fl && mem && i < extra; i++) {
        for (int j = 0; j < D; j++) v[j] = rnd(&s);
        ok &= astro_hnsw_add(fl, 100000 + i, v, D, NULL, &err) == ASTRO_OK;
        ok &= astro_hnsw_add(mem, 100000 + i, v, D, NULL, &err) == ASTRO_OK;
        if (i % 97 == 0) {
            astro_hnsw_remove(fl, 100000 + i / 2);
            astro_hnsw_remove(mem, 100000 + i / 2);
        }
    }
    CHECK("hnsw-6.9", ok && fl && fl->vecs_map == NULL && fl->links_map == NULL);
    size_t m = astro_hnsw_save_size(mem), l1 = 0, l2 = 0;
    unsigned char *x = malloc(m), *y = malloc(m);
    CHECK("hnsw-6.10", x && y && astro_hnsw_save_mem(fl, x, m, &l1, &err) == ASTRO_OK &&
                           astro_hnsw_save_mem(mem, y, m, &l2, &err) == ASTRO_OK && l1 == l2 && memcmp(x, y, m) == 0);
    free(x), free(y), free(v1), free(a), free(b);
    astro_hnsw_free(old), astro_hnsw_free(fl), astro_hnsw_free(mem);
}

int main(void) {
    make_data();
    astro_hnsw *ix = build();
    CHECK("hnsw-0.0", astro_hnsw_bytes(ix) > (size_t)N * D * 4);
    test_filters(ix);
    test_recall(ix);
    test_io(ix);
    test_v1_and_lent(ix);
    test_crafted();
    astro_hnsw_free(ix);
    printf("hnsw: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
