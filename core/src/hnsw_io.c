/*
** hnsw_io.c — saving an HNSW graph to a byte buffer or file and loading it
** back, so an embedded store need not rebuild the graph on every open.
**
** Layout (version 2; host byte order, which the header records): 8-byte
** magic "ASTHNSW\0", u32 version, u32 byte-order mark, twelve u64 header
** fields, zeros up to 4096; the vectors of every slot (stride floats each,
** padding included) from offset 4096; the level-0 lists of every slot from
** the next multiple of 4096; from the next multiple of 4096 the per-slot
** level, ulev, state, upper offset, key and times arrays, the free list
** and the upper-level pool; and a trailing u64 checksum (FNV-1a over
** 64-bit words in four lanes) of everything before it. Slots are written
** verbatim, free ones included, so save -> load -> save is bit-exact and
** the RNG state carries over. Page-aligned sections let a file's vectors
** and level-0 lists be used where they are mapped (astro_hnsw_load): a
** million 384-d vectors then load without being copied. Version 1 (one
** record per slot) still loads. Load checks sizes, checksum, every id and
** count, and that no two slots share upper-level blocks or a free-list
** entry, before trusting the data; anything off is ASTRO_EFORMAT.
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
#define IO_VERSION 2u
#define IO_PAGE ((size_t)4096)
#define IO_BOM 0x01020304u
#define IO_NHDR 12
#define IO_HEAD (8 + 4 + 4 + 8 * IO_NHDR)

/* Bytes of one slot record (version 1). */
static size_t slot_bytes(size_t dim, size_t M0) {
    return dim * sizeof(float) + (1 + M0) * sizeof(uint32_t) + 3 + sizeof(uint32_t) + sizeof(uint64_t) +
           sizeof(astro_item_times);
}

#define IO_NFIELDS 7

/* Where the fields of slot i after its vector live and their sizes, in
 * version 1's file order. */
static void slot_fields(const astro_hnsw *ix, size_t i, void *at[IO_NFIELDS], size_t sz[IO_NFIELDS]) {
    at[0] = hn_links(ix, (uint32_t)i, 0); sz[0] = (1 + ix->M0) * sizeof(uint32_t);
    at[1] = &ix->level[i];                 sz[1] = 1;
    at[2] = &ix->ulev[i];                  sz[2] = 1;
    at[3] = &ix->state[i];                 sz[3] = 1;
    at[4] = &ix->upper_off[i];             sz[4] = sizeof(uint32_t);
    at[5] = &ix->keys[i];                  sz[5] = sizeof(uint64_t);
    at[6] = &ix->times[i];                 sz[6] = sizeof(astro_item_times);
}

static uint64_t page_up(uint64_t x) { return (x + IO_PAGE - 1) / IO_PAGE * IO_PAGE; }

/* The sections of a version 2 file: the vectors at 4096, the level-0 lists
 * at *links, the rest at *tail; returns the file size (UINT64_MAX when the
 * counts overflow it). stride: floats per vector row. */
static uint64_t v2_layout(uint64_t n, uint64_t stride, uint64_t M0, uint64_t nfree, uint64_t upper_n,
                          uint64_t *links, uint64_t *tail) {
    if (n >= ASTRO__IDX_EMPTY || stride > 65536 + 16 || M0 > 512 || nfree > n || upper_n >= UINT32_MAX)
        return UINT64_MAX;
    *links = page_up(IO_PAGE + n * stride * sizeof(float));
    *tail = page_up(*links + n * (1 + M0) * sizeof(uint32_t));
    return *tail + n * (3 + sizeof(uint32_t) + sizeof(uint64_t) + sizeof(astro_item_times)) +
           nfree * sizeof(uint32_t) + upper_n * sizeof(uint32_t) + 8;
}

/* Returns the serialized size; see hnsw.h. */
size_t astro_hnsw_save_size(const astro_hnsw *ix) {
    if (!ix) return 0;
    uint64_t links, tail;
    return (size_t)v2_layout(ix->n, ix->stride, ix->M0, ix->nfree, ix->upper_n, &links, &tail);
}

/* Appends n bytes from src at *p. */
static void put(unsigned char **p, const void *src, size_t n) {
    if (n) memcpy(*p, src, n);
    *p += n;
}

/* The per-slot arrays of the tail section, in file order. */
#define IO_NTAIL 6
static void tail_arrays(const astro_hnsw *ix, void *at[IO_NTAIL], size_t sz[IO_NTAIL]) {
    at[0] = ix->level;     sz[0] = 1;
    at[1] = ix->ulev;      sz[1] = 1;
    at[2] = ix->state;     sz[2] = 1;
    at[3] = ix->upper_off; sz[3] = sizeof(uint32_t);
    at[4] = ix->keys;      sz[4] = sizeof(uint64_t);
    at[5] = ix->times;     sz[5] = sizeof(astro_item_times);
}

/* Serializes ix into buf; see hnsw.h. */
int astro_hnsw_save_mem(const astro_hnsw *ix, void *buf, size_t cap, size_t *len, astro_err *err) {
    if (!ix || !buf || !len) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    uint64_t links, tail;
    size_t need = (size_t)v2_layout(ix->n, ix->stride, ix->M0, ix->nfree, ix->upper_n, &links, &tail);
    *len = need;
    if (cap < need) return astro_err_set(err, ASTRO_ERANGE, "hnsw: buffer of %zu bytes, need %zu", cap, need);
    unsigned char *b = buf, *p = b;
    char magic[8] = IO_MAGIC;
    uint32_t v = IO_VERSION, bom = IO_BOM;
    uint64_t h[IO_NHDR] = { ix->dim, ix->M, ix->efc, ix->ef, ix->rng, ix->n, ix->nlive, ix->ndeleted,
                            ix->nfree, ix->ep, (uint64_t)(ix->maxlevel + 1), ix->upper_n };
    put(&p, magic, 8);
    put(&p, &v, 4);
    put(&p, &bom, 4);
    put(&p, h, sizeof h);
    memset(p, 0, IO_PAGE - (size_t)(p - b));
    p = b + IO_PAGE;
    put(&p, ix->vecs, ix->n * ix->stride * sizeof(float));
    memset(p, 0, (size_t)links - (size_t)(p - b));
    p = b + links;
    put(&p, ix->links0, ix->n * (1 + ix->M0) * sizeof(uint32_t));
    memset(p, 0, (size_t)tail - (size_t)(p - b));
    p = b + tail;
    void *at[IO_NTAIL];
    size_t sz[IO_NTAIL];
    tail_arrays(ix, at, sz);
    for (int k = 0; k < IO_NTAIL; k++) put(&p, at[k], ix->n * sz[k]);
    put(&p, ix->freelist, ix->nfree * sizeof(uint32_t));
    put(&p, ix->upper, ix->upper_n * sizeof(uint32_t));
    uint64_t sum = astro__checksum(buf, (size_t)(p - b));
    put(&p, &sum, 8);
    return ASTRO_OK;
}

/* Reads n bytes at *p into dst. */
static void get(const unsigned char **p, void *dst, size_t n) {
    if (n) memcpy(dst, *p, n);   /* an empty array may be NULL */
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

/* The header of a saved graph, checked for sane values. */
typedef struct io_head {
    uint32_t version;
    uint64_t h[IO_NHDR];
} io_head;

/* Reads and checks the header at buf[0..len) (len: at least IO_HEAD). */
static int read_head(const unsigned char *buf, size_t len, io_head *hd, astro_err *err) {
    char magic[8];
    uint32_t bom;
    if (len < IO_HEAD + 8) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: data too short");
    memcpy(magic, buf, 8);
    memcpy(&hd->version, buf + 8, 4);
    memcpy(&bom, buf + 12, 4);
    memcpy(hd->h, buf + 16, sizeof hd->h);
    const uint64_t *h = hd->h;
    if (memcmp(magic, IO_MAGIC, 8) != 0) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: not an hnsw graph");
    if (bom != IO_BOM) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: foreign byte order");
    if (hd->version != 1 && hd->version != IO_VERSION)
        return astro_err_set(err, ASTRO_EFORMAT, "hnsw: unsupported version %u", hd->version);
    uint64_t dim = h[0], M = h[1], n = h[5], nfree = h[8], upper_n = h[11];
    if (dim < 1 || dim > 65536 || M < 2 || M > 128 || h[2] < 1 || h[2] > 65536 || h[3] < 1 ||
        h[3] > 65536 || n >= ASTRO__IDX_EMPTY || nfree > n || h[6] + h[7] + nfree != n ||
        upper_n >= UINT32_MAX || h[10] > HN_MAX_LEVEL + 1 || h[9] >= UINT32_MAX)
        return astro_err_set(err, ASTRO_EFORMAT, "hnsw: bad header");
    return ASTRO_OK;
}

/* An empty graph with the header's options and counts, its arrays sized
 * for n slots (vecs / links0 already set when they are a loaded file's). */
static int graph_for(const io_head *hd, astro_hnsw **out, astro_err *err) {
    const uint64_t *h = hd->h;
    astro_hnsw_opts o = { h[1], h[2], h[3], h[4] ? h[4] : 1 };
    return astro_hnsw_new((size_t)h[0], &o, out, err);
}

/* Sets the counts of ix from the header and reserves the upper pool. */
static int take_counts(astro_hnsw *ix, const io_head *hd) {
    const uint64_t *h = hd->h;
    uint64_t M = h[1], upper_n = h[11];
    ix->rng = h[4];
    if (upper_n) {
        ix->upper_n = 0;
        if (astro__hnsw_upper_alloc(ix, (size_t)upper_n / (1 + M) + 1) == SIZE_MAX) return ASTRO_ENOMEM;
        ix->upper_n = (size_t)upper_n;
    }
    ix->n = (size_t)h[5];
    ix->nlive = (size_t)h[6];
    ix->ndeleted = (size_t)h[7];
    ix->nfree = (size_t)h[8];
    ix->ep = (uint32_t)h[9];
    ix->maxlevel = (int)h[10] - 1;
    return ASTRO_OK;
}

/* Checks the structure and builds the key map of a filled graph. */
static int finish(astro_hnsw *ix) {
    int gok = graph_ok(ix);
    if (gok < 0) return ASTRO_ENOMEM;
    if (gok == 0) return ASTRO_EFORMAT;
    if (astro__idxmap_reserve(&ix->map, ix->nlive, ix->keys)) return ASTRO_ENOMEM;
    for (uint32_t u = 0; u < ix->n; u++) {
        if (ix->state[u] != HN_LIVE) continue;
        if (astro__idxmap_find(&ix->map, ix->keys, ix->keys[u]) != SIZE_MAX) return ASTRO_EFORMAT;
        astro__idxmap_insert(&ix->map, ix->keys, ix->keys[u], u);
    }
    return ASTRO_OK;
}

/* Returns 1 if p[0..n) is all zero bytes (the padding between sections,
 * which a save writes as zeros: a load takes nothing it would not write). */
static int zeros(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Returns 1 if the padding of a version 2 file is zero: after the header
 * in head[0..4096), after the vectors in vecs[vbytes..vspan) and after the
 * level-0 lists in links[lbytes..lspan). */
static int v2_padding_ok(const unsigned char *head, const unsigned char *vecs, size_t vbytes, size_t vspan,
                         const unsigned char *links, size_t lbytes, size_t lspan) {
    return zeros(head + IO_HEAD, IO_PAGE - IO_HEAD) && zeros(vecs + vbytes, vspan - vbytes) &&
           zeros(links + lbytes, lspan - lbytes);
}

/* Copies the tail section (per-slot arrays, free list, upper pool) of a
 * version 2 file at p into ix (n, nfree and upper_n already set). */
static void read_tail(astro_hnsw *ix, const unsigned char *p) {
    void *at[IO_NTAIL];
    size_t sz[IO_NTAIL];
    tail_arrays(ix, at, sz);
    for (int k = 0; k < IO_NTAIL; k++) get(&p, at[k], ix->n * sz[k]);
    get(&p, ix->freelist, ix->nfree * sizeof(uint32_t));
    get(&p, ix->upper, ix->upper_n * sizeof(uint32_t));
}

/* Frees ix and returns the error for rc. */
static int fail(astro_hnsw *ix, int rc, astro_err *err) {
    astro_hnsw_free(ix);
    if (rc == ASTRO_ENOMEM) return astro_err_set(err, rc, "hnsw: out of memory");
    return astro_err_set(err, ASTRO_EFORMAT, "hnsw: inconsistent graph data");
}

/* Rebuilds an index from a buffer; see hnsw.h. */
int astro_hnsw_load_mem(const void *buf, size_t len, astro_hnsw **out, astro_err *err) {
    if (!buf || !out) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    *out = NULL;
    io_head hd;
    int rc = read_head(buf, len, &hd, err);
    if (rc) return rc;
    const uint64_t *h = hd.h;
    uint64_t dim = h[0], M = h[1], n = h[5], nfree = h[8], upper_n = h[11];
    size_t stride = (size_t)(dim + 15) / 16 * 16;
    uint64_t links = 0, tail = 0, need;
    if (hd.version == 1) need = IO_HEAD + n * slot_bytes(dim, 2 * M) + nfree * 4 + upper_n * 4 + 8;
    else need = v2_layout(n, stride, 2 * M, nfree, upper_n, &links, &tail);
    if (need != len) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: size %zu, header says %llu", len, (unsigned long long)need);
    uint64_t sum;
    memcpy(&sum, (const unsigned char *)buf + len - 8, 8);
    if (sum != astro__checksum(buf, len - 8)) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: checksum mismatch");

    astro_hnsw *ix = NULL;
    if ((rc = graph_for(&hd, &ix, err))) return rc;
    if (ix->stride != stride) return fail(ix, ASTRO_EFORMAT, err);
    if (astro_hnsw_reserve(ix, n ? n : 1, err) || take_counts(ix, &hd)) return fail(ix, ASTRO_ENOMEM, err);
    const unsigned char *p = (const unsigned char *)buf;
    if (hd.version == 1) {
        p += IO_HEAD;
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
    } else {
        size_t vbytes = (size_t)n * stride * sizeof(float), lbytes = (size_t)n * (1 + 2 * M) * sizeof(uint32_t);
        if (!v2_padding_ok(p, p + IO_PAGE, vbytes, (size_t)links - IO_PAGE, p + links, lbytes, (size_t)(tail - links)))
            return fail(ix, ASTRO_EFORMAT, err);
        memcpy(ix->vecs, p + IO_PAGE, (size_t)n * stride * sizeof(float));
        memcpy(ix->links0, p + links, (size_t)n * (1 + 2 * M) * sizeof(uint32_t));
        read_tail(ix, p + tail);
    }
    if ((rc = finish(ix))) return fail(ix, rc, err);
    *out = ix;
    return ASTRO_OK;
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

/* Maps bytes of fd at off (a multiple of 4096) at the start of a fresh
 * address range of `reserve` bytes (the rest anonymous, for growth), read
 * only while every page is mapped in (astro__prefault), then writable, so a
 * page is copied only when the graph changes it. The range starts where
 * the address and the file offset agree modulo 2 MiB: the page cache's
 * large folios are then mapped whole (prefaulting 1.7 GB took 4 ms and
 * reading it 0.16 s; a range not so aligned took 1.2-2 s to read, a fault
 * per 4 KiB page). Returns the range or NULL. */
static void *map_reserved(int fd, uint64_t off, size_t bytes, size_t reserve) {
    const size_t huge = (size_t)2 << 20;
    unsigned char *raw = mmap(NULL, reserve + huge, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    size_t lead = (size_t)((off % huge + huge - (uintptr_t)raw % huge) % huge);
    unsigned char *r = raw + lead;
    if (lead) munmap(raw, lead);
    if (huge - lead) munmap(r + reserve, huge - lead);
    size_t fb = (size_t)page_up(bytes);
    if (fb) {
        if (mmap(r, fb, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, (off_t)off) == MAP_FAILED) {
            munmap(r, reserve);
            return NULL;
        }
        astro__prefault(r, fb);
        if (mprotect(r, fb, PROT_READ | PROT_WRITE) != 0) {
            munmap(r, reserve);
            return NULL;
        }
    }
#ifdef MADV_HUGEPAGE
    if (reserve - fb >= huge) (void)madvise(r + fb, reserve - fb, MADV_HUGEPAGE);
#endif
    return r;
}

/* Reads n bytes of fd at off into dst; 0 or -1. */
static int read_at(int fd, void *dst, size_t n, uint64_t off) {
    unsigned char *d = dst;
    while (n) {
        ssize_t got = pread(fd, d, n, (off_t)off);
        if (got <= 0) return -1;
        d += got, n -= (size_t)got, off += (uint64_t)got;
    }
    return 0;
}

/* Loads a version 2 file of sz bytes from fd, its vectors and level-0 lists
 * used where they are mapped (room reserved for as many slots again). */
static int load_v2_file(int fd, size_t sz, const io_head *hd, astro_hnsw **out, astro_err *err) {
    const uint64_t *h = hd->h;
    uint64_t n = h[5], M0 = 2 * h[1], links, tail;
    size_t stride = (size_t)(h[0] + 15) / 16 * 16;
    uint64_t need = v2_layout(n, stride, M0, h[8], h[11], &links, &tail);
    if (need != sz) return astro_err_set(err, ASTRO_EFORMAT, "hnsw: size %zu, header says %llu", sz, (unsigned long long)need);
    size_t room = (size_t)n * 2 + 1024;   /* slots reserved: twice the graph, so it grows in place */
    size_t vbytes = (size_t)n * stride * sizeof(float), lbytes = (size_t)n * (1 + M0) * sizeof(uint32_t);
    size_t vres = (size_t)page_up(room * stride * sizeof(float)), lres = (size_t)page_up(room * (1 + M0) * sizeof(uint32_t));
    size_t tbytes = sz - (size_t)tail;
    unsigned char *head = malloc(IO_PAGE), *rest = malloc(tbytes);
    void *vm = NULL, *lm = NULL;
    astro_hnsw *ix = NULL;
    const char *why = "out of memory";
    int rc = ASTRO_ENOMEM;
    if (!head || !rest) goto done;
    rc = ASTRO_EIO, why = "cannot read the graph file";
    if (read_at(fd, head, IO_PAGE, 0) || read_at(fd, rest, tbytes, tail) ||
        !(vm = map_reserved(fd, IO_PAGE, vbytes, vres)) || !(lm = map_reserved(fd, links, lbytes, lres)))
        goto done;
    astro__cksum c;
    astro__cksum_init(&c);
    astro__cksum_blocks(&c, head, IO_PAGE);
    astro__cksum_blocks(&c, vm, (size_t)(links - IO_PAGE));
    astro__cksum_blocks(&c, lm, (size_t)(tail - links));
    uint64_t sum;
    memcpy(&sum, rest + tbytes - 8, 8);
    rc = ASTRO_EFORMAT, why = "checksum mismatch";
    if (sum != astro__cksum_final(&c, rest, tbytes - 8)) goto done;
    why = "inconsistent graph data";
    if (!v2_padding_ok(head, vm, vbytes, (size_t)(links - IO_PAGE), lm, lbytes, (size_t)(tail - links))) goto done;
    why = NULL;                                    /* graph_for sets err */
    if ((rc = graph_for(hd, &ix, err))) goto done;
    rc = ASTRO_EFORMAT, why = "inconsistent graph data";
    if (ix->stride != stride) goto done;
    free(ix->vecs), free(ix->links0);
    ix->vecs = vm, ix->vecs_map = vm, ix->vecs_map_bytes = vres;
    ix->links0 = lm, ix->links_map = lm, ix->links_map_bytes = lres;
    vm = lm = NULL;
    rc = ASTRO_ENOMEM, why = "out of memory";
    if (astro_hnsw_reserve(ix, room, NULL) || take_counts(ix, hd)) goto done;
    read_tail(ix, rest);
    rc = finish(ix);
    if (rc == ASTRO_EFORMAT) why = "inconsistent graph data";
done:
    if (rc != ASTRO_OK) {
        astro_hnsw_free(ix);
        ix = NULL;
        if (why) astro_err_set(err, rc, "hnsw: %s", why);
    }
    astro__hnsw_unmap(vm, vres);
    astro__hnsw_unmap(lm, lres);
    free(head);
    free(rest);
    *out = ix;
    return rc;
}

/* Reads a graph saved by astro_hnsw_save. A version 2 file keeps its
 * vectors and level-0 lists mapped copy-on-write while the graph lives
 * (load_v2_file); a version 1 file is mapped and parsed into memory.
 * Snapshots are replaced by rename, never rewritten in place, so a mapped
 * file does not shrink while it is used. */
int astro_hnsw_load(const char *path, astro_hnsw **out, astro_err *err) {
    if (!path || !out) return astro_err_set(err, ASTRO_EINVAL, "hnsw: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return astro_err_set(err, ASTRO_EIO, "hnsw: cannot open %s", path);
    struct stat st;
    unsigned char head[IO_HEAD + 8];
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return astro_err_set(err, ASTRO_EIO, "hnsw: cannot read %s", path);
    }
    size_t sz = (size_t)st.st_size;
    io_head hd;
    int rc;
    if (sz < sizeof head) {
        rc = astro_err_set(err, ASTRO_EFORMAT, "hnsw: data too short");
    } else if (read_at(fd, head, sizeof head, 0)) {
        rc = astro_err_set(err, ASTRO_EIO, "hnsw: cannot read %s", path);
    } else if ((rc = read_head(head, sizeof head, &hd, err)) == ASTRO_OK) {
        if (hd.version == IO_VERSION) {
            rc = load_v2_file(fd, sz, &hd, out, err);
        } else {
            int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
            flags |= MAP_POPULATE;         /* one call maps every page, not a fault each */
#endif
            void *map = mmap(NULL, sz, PROT_READ, flags, fd, 0);
            if (map == MAP_FAILED) {
                rc = astro_err_set(err, ASTRO_EIO, "hnsw: cannot map %s", path);
            } else {
                astro__prefault(map, sz);
                rc = astro_hnsw_load_mem(map, sz, out, err);
                munmap(map, sz);
            }
        }
    }
    close(fd);
    return rc;
}
