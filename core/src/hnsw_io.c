/*
** hnsw_io.c — saving an HNSW graph to a byte buffer or file and loading it
** back, so an embedded store need not rebuild the graph on every open.
**
** Layout (host byte order, which the header records): 8-byte magic
** "ASTHNSW\0", u32 version, u32 byte-order mark, twelve u64 header fields,
** then per slot: dim floats, the level-0 list, level, ulev, state, upper
** offset, key, times; the free list; the upper-level pool; and a trailing
** u64 checksum (FNV-1a over 64-bit words in four lanes) of everything before
** it. Slots are written verbatim, free ones included, so save -> load -> save
** is bit-exact and the RNG state carries over. Load checks sizes, checksum,
** every id and count, and that no two slots share upper-level blocks or a
** free-list entry, before trusting the data; anything off is ASTRO_EFORMAT.
*/
#define _DEFAULT_SOURCE /* POSIX mmap/open, and MAP_POPULATE / MADV_HUGEPAGE where glibc has them */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hnsw_impl.h"

#define IO_MAGIC "ASTHNSW"
#define IO_VERSION 1u
#define IO_BOM 0x01020304u
#define IO_NHDR 12
#define IO_HEAD (8 + 4 + 4 + 8 * IO_NHDR)

/* Bytes of one slot record. */
static size_t slot_bytes(size_t dim, size_t M0) {
    return dim * sizeof(float) + (1 + M0) * sizeof(uint32_t) + 3 + sizeof(uint32_t) + sizeof(uint64_t) +
           sizeof(astro_item_times);
}

/* Returns the serialized size; see hnsw.h. */
size_t astro_hnsw_save_size(const astro_hnsw *ix) {
    if (!ix) return 0;
    return IO_HEAD + ix->n * slot_bytes(ix->dim, ix->M0) + ix->nfree * sizeof(uint32_t) +
           ix->upper_n * sizeof(uint32_t) + sizeof(uint64_t);
}

#define IO_NFIELDS 7

/* Where the fields of slot i after its vector live and their sizes, in file
 * order: the one record layout save and load both follow. */
static void slot_fields(const astro_hnsw *ix, size_t i, void *at[IO_NFIELDS], size_t sz[IO_NFIELDS]) {
    at[0] = hn_links(ix, (uint32_t)i, 0); sz[0] = (1 + ix->M0) * sizeof(uint32_t);
    at[1] = &ix->level[i];                 sz[1] = 1;
    at[2] = &ix->ulev[i];                  sz[2] = 1;
    at[3] = &ix->state[i];                 sz[3] = 1;
    at[4] = &ix->upper_off[i];             sz[4] = sizeof(uint32_t);
    at[5] = &ix->keys[i];                  sz[5] = sizeof(uint64_t);
    at[6] = &ix->times[i];                 sz[6] = sizeof(astro_item_times);
}

/* Appends n bytes from src at *p. */
static void put(unsigned char **p, const void *src, size_t n) {
    memcpy(*p, src, n);
    *p += n;
}

/* Serializes ix into buf; see hnsw.h. */
int astro_hnsw_save_mem(const astro_hnsw *ix, void *buf, size_t cap, size_t *len, astro_err *err) {
    if (!ix || !buf || !len) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    size_t need = astro_hnsw_save_size(ix);
    *len = need;
    if (cap < need) return astro_err_set(err, ASTRO_ERANGE, "hnsw: buffer of %zu bytes, need %zu", cap, need);
    unsigned char *p = buf;
    char magic[8] = IO_MAGIC;
    uint32_t v = IO_VERSION, bom = IO_BOM;
    uint64_t h[IO_NHDR] = { ix->dim, ix->M, ix->efc, ix->ef, ix->rng, ix->n, ix->nlive, ix->ndeleted,
                            ix->nfree, ix->ep, (uint64_t)(ix->maxlevel + 1), ix->upper_n };
    put(&p, magic, 8);
    put(&p, &v, 4);
    put(&p, &bom, 4);
    put(&p, h, sizeof h);
    for (size_t i = 0; i < ix->n; i++) {
        void *at[IO_NFIELDS];
        size_t sz[IO_NFIELDS];
        put(&p, ix->vecs + i * ix->stride, ix->dim * sizeof(float));
        slot_fields(ix, i, at, sz);
        for (int k = 0; k < IO_NFIELDS; k++) put(&p, at[k], sz[k]);
    }
    if (ix->nfree) put(&p, ix->freelist, ix->nfree * sizeof(uint32_t));
    if (ix->upper_n) put(&p, ix->upper, ix->upper_n * sizeof(uint32_t));
    uint64_t sum = astro__checksum(buf, (size_t)(p - (unsigned char *)buf));
    put(&p, &sum, 8);
    return ASTRO_OK;
}

/* Reads n bytes at *p into dst. */
static void get(const unsigned char **p, void *dst, size_t n) {
    memcpy(dst, *p, n);
    *p += n;
}

/* Returns 1 if the list of node u on level lv is well formed. */
static int list_ok(const astro_hnsw *ix, uint32_t u, int lv) {
    const uint32_t *l = hn_links(ix, u, lv);
    if (l[0] > (lv == 0 ? ix->M0 : ix->M)) return 0;
    for (uint32_t j = 1; j <= l[0]; j++)
        if (l[j] >= ix->n || ix->state[l[j]] == HN_FREE || ix->level[l[j]] < lv) return 0;
    return 1;
}

/* Marks bits [a, b) of map; returns 0 if one was already set. */
static int claim(unsigned char *map, size_t a, size_t b) {
    for (size_t i = a; i < b; i++) {
        if (map[i >> 3] & (1u << (i & 7))) return 0;
        map[i >> 3] |= (unsigned char)(1u << (i & 7));
    }
    return 1;
}

/* Checks the structure of a freshly read graph; returns 1 if consistent,
 * 0 if not, -1 when out of memory. Besides ids and counts, the upper-level
 * blocks of all slots (free ones keep theirs for reuse) must not overlap,
 * and the free list must not repeat a slot: a shared block or a slot handed
 * out twice would let later inserts write one node's links into another's
 * list, and a search then reads past the blocks of a node. */
static int graph_ok(const astro_hnsw *ix) {
    size_t live = 0, del = 0, fr = 0;
    int ok = 0;
    unsigned char *blocks = calloc(ix->upper_n / 8 + 1, 1);
    unsigned char *listed = calloc(ix->n / 8 + 1, 1);
    if (!blocks || !listed) {
        ok = -1;
        goto done;
    }
    for (uint32_t u = 0; u < ix->n; u++) {
        uint8_t s = ix->state[u];
        if (s > HN_FREE) goto done;
        live += s == HN_LIVE, del += s == HN_DELETED, fr += s == HN_FREE;
        if (ix->level[u] > HN_MAX_LEVEL || ix->ulev[u] > HN_MAX_LEVEL) goto done;
        size_t a = ix->upper_off[u], b = a + (size_t)ix->ulev[u] * (1 + ix->M);
        if (b > ix->upper_n || !claim(blocks, a, b)) goto done;
        if (s == HN_FREE) continue;
        if (ix->level[u] > ix->ulev[u]) goto done;
        for (int lv = 0; lv <= ix->level[u]; lv++)
            if (!list_ok(ix, u, lv)) goto done;
    }
    if (live != ix->nlive || del != ix->ndeleted || fr != ix->nfree) goto done;
    for (size_t i = 0; i < ix->nfree; i++) {
        uint32_t f = ix->freelist[i];
        if (f >= ix->n || ix->state[f] != HN_FREE || !claim(listed, f, (size_t)f + 1)) goto done;
    }
    if (live + del > 0) {
        if (ix->ep >= ix->n || ix->state[ix->ep] == HN_FREE || ix->level[ix->ep] != ix->maxlevel) goto done;
    } else if (ix->maxlevel != -1) {
        goto done;
    }
    ok = 1;
done:
    free(blocks);
    free(listed);
    return ok;
}

/* Rebuilds an index from a buffer; see hnsw.h. */
int astro_hnsw_load_mem(const void *buf, size_t len, astro_hnsw **out, astro_err *err) {
    if (!buf || !out) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    *out = NULL;
    const unsigned char *p = buf;
    char magic[8];
    uint32_t v, bom;
    uint64_t h[IO_NHDR];
    if (len < IO_HEAD + 8) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: data too short");
    get(&p, magic, 8);
    get(&p, &v, 4);
    get(&p, &bom, 4);
    get(&p, h, sizeof h);
    if (memcmp(magic, IO_MAGIC, 8) != 0) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: not an hnsw graph");
    if (bom != IO_BOM) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: foreign byte order");
    if (v != IO_VERSION) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: unsupported version %u", v);
    uint64_t dim = h[0], M = h[1], n = h[5], nfree = h[8], upper_n = h[11];
    if (dim < 1 || dim > 65536 || M < 2 || M > 128 || h[2] < 1 || h[2] > 65536 || h[3] < 1 ||
        h[3] > 65536 || n >= ASTRO__IDX_EMPTY || nfree > n || h[6] + h[7] + nfree != n ||
        upper_n >= UINT32_MAX || h[10] > HN_MAX_LEVEL + 1)
        return astro_err_set(err, ASTRO_EFORMAT, "hnsw: bad header");
    uint64_t need = IO_HEAD + n * slot_bytes(dim, 2 * M) + nfree * 4 + upper_n * 4 + 8;
    if (need != len) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: size %zu, header says %llu", len, (unsigned long long)need);
    uint64_t sum;
    memcpy(&sum, (const unsigned char *)buf + len - 8, 8);
    if (sum != astro__checksum(buf, len - 8)) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: checksum mismatch");

    astro_hnsw_opts o = { M, h[2], h[3], h[4] ? h[4] : 1 };
    astro_hnsw *ix = NULL;
    int rc = astro_hnsw_new((size_t)dim, &o, &ix, err);
    if (rc) return rc;
    ix->rng = h[4];
    if (astro_hnsw_reserve(ix, n ? n : 1, err)) goto fail_nomem;
    if (upper_n) {
        ix->upper_n = 0;
        if (astro__hnsw_upper_alloc(ix, (size_t)upper_n / (1 + M) + 1) == SIZE_MAX) goto fail_nomem;
        ix->upper_n = (size_t)upper_n;
    }
    ix->n = (size_t)n;
    ix->nlive = (size_t)h[6];
    ix->ndeleted = (size_t)h[7];
    ix->nfree = (size_t)nfree;
    ix->ep = (uint32_t)h[9];
    if (h[9] >= UINT32_MAX) goto fail_format;
    ix->maxlevel = (int)h[10] - 1;
    for (size_t i = 0; i < n; i++) {
        float *r = ix->vecs + i * ix->stride;
        get(&p, r, dim * sizeof(float));
        memset(r + dim, 0, (ix->stride - dim) * sizeof(float));
        void *at[IO_NFIELDS];
        size_t sz[IO_NFIELDS];
        slot_fields(ix, i, at, sz);
        for (int k = 0; k < IO_NFIELDS; k++) get(&p, at[k], sz[k]);
    }
    if (nfree) get(&p, ix->freelist, nfree * sizeof(uint32_t));
    if (upper_n) get(&p, ix->upper, upper_n * sizeof(uint32_t));
    int gok = graph_ok(ix);
    if (gok < 0) goto fail_nomem;
    if (gok == 0) goto fail_format;
    if (astro__idxmap_reserve(&ix->map, ix->nlive, ix->keys)) goto fail_nomem;
    for (uint32_t u = 0; u < ix->n; u++) {
        if (ix->state[u] != HN_LIVE) continue;
        if (astro__idxmap_find(&ix->map, ix->keys, ix->keys[u]) != SIZE_MAX) goto fail_format;
        astro__idxmap_insert(&ix->map, ix->keys, ix->keys[u], u);
    }
    *out = ix;
    return ASTRO_OK;
fail_format:
    astro_hnsw_free(ix);
    return astro_err_set(err, ASTRO_EFORMAT, "hnsw: inconsistent graph data");
fail_nomem:
    astro_hnsw_free(ix);
    return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
}

/* Writes the graph to path (whole file, replaced). */
int astro_hnsw_save(const astro_hnsw *ix, const char *path, astro_err *err) {
    if (!ix || !path) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    size_t n = astro_hnsw_save_size(ix), len;
    unsigned char *buf = malloc(n);
    if (!buf) return astro_err_set(err, ASTRO_ENOMEM, "hnsw: out of memory");
    int rc = astro_hnsw_save_mem(ix, buf, n, &len, err);
    if (rc == ASTRO_OK) {
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(buf, 1, len, f) == len;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) rc = astro_err_set(err, ASTRO_EIO, "hnsw: cannot write %s", path);
    }
    free(buf);
    return rc;
}

/* Reads a graph saved by astro_hnsw_save. The file is mapped, not read into
 * a buffer: the page cache is parsed in place (no second copy of the graph
 * faulted in and filled). Snapshots are replaced by rename, never rewritten
 * in place, so the mapped file does not shrink while it is read. */
int astro_hnsw_load(const char *path, astro_hnsw **out, astro_err *err) {
    if (!path || !out) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return astro_err_set(err, ASTRO_EIO, "hnsw: cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return astro_err_set(err, ASTRO_EIO, "hnsw: cannot read %s", path);
    }
    size_t sz = (size_t)st.st_size;
    if (sz == 0) {
        close(fd);
        return astro_hnsw_load_mem("", 0, out, err);
    }
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE;                 /* one call maps every page, not a fault each */
#endif
    void *map = mmap(NULL, sz, PROT_READ, flags, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return astro_err_set(err, ASTRO_EIO, "hnsw: cannot map %s", path);
    int rc = astro_hnsw_load_mem(map, sz, out, err);
    munmap(map, sz);
    return rc;
}
