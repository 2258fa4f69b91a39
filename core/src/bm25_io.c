/*
** bm25_io.c — saving a BM25 index to a file and loading it back, so an
** embedded store reopens a large bank without tokenizing every text again
** (at a million memories that rebuild is most of an open).
**
** Layout (host byte order, which the header records): 8-byte magic
** "ASTBM25\0", u32 version, u32 byte-order mark, fourteen u64 header fields
** (k1 and b as double bits, stem, stopwords, max term bytes, terms, arena
** bytes, docno slots, live documents, free docnos, total length, postings,
** forward ids, dictionary slots); per term its hash, length, df, max tf and
** min document length; every term's postings in term order; per docno slot
** its key, times, length and forward-list length; the forward lists in
** docno order; the free list; the dictionary table; the term bytes; and a trailing u64 checksum (astro__checksum)
** of everything before it. Free slots are written too, so docnos (and with
** them the order ties break in) survive a save and load. Every array starts
** on a multiple of its element size, so a loaded index uses the postings
** and forward lists where they lie: a file is mapped copy-on-write and kept
** (a million-document index then loads without copying or allocating them;
** a list moves out to its own memory when a change makes it grow).
**
** Load checks sizes, checksum, the options the caller expects, and every
** id, count and bound search and removal rely on (postings sorted and on
** live documents, tf <= max tf, document length >= min length, postings
** and forward lists holding the same (term, document) pairs as far as a
** sum of 64-bit mixes of the pairs tells, keys unique)
** before trusting the data; anything off is ASTRO_EFORMAT.
*/
#define _DEFAULT_SOURCE /* POSIX mmap/open */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bm25_impl.h"

#define IO_MAGIC "ASTBM25"
#define IO_VERSION 1u
#define IO_BOM 0x01020304u
#define IO_NHDR 14
#define IO_HEAD (8 + 4 + 4 + 8 * IO_NHDR)
#define TERM_REC (sizeof(uint64_t) + 4 * sizeof(uint32_t))
#define DOC_REC (sizeof(uint64_t) + sizeof(astro_item_times) + 2 * sizeof(uint32_t))

enum { H_K1, H_B, H_STEM, H_STOP, H_MAXTERM, H_NTERMS, H_ARENA, H_NSLOTS, H_NDOCS, H_NFREE,
       H_TOTAL, H_NPOST, H_NFWD, H_TSLOTS };

/* Postings and forward ids the index holds. */
static void totals(const astro_bm25 *ix, uint64_t *npost, uint64_t *nfwd) {
    *npost = *nfwd = 0;
    for (size_t i = 0; i < ix->nterms; i++) *npost += ix->terms[i].n;
    for (size_t d = 0; d < ix->docs.nslots; d++) *nfwd += ix->docs.fwd_n[d];
}

static uint64_t dbits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Bytes of a file with these header counts (UINT64_MAX if that overflows). */
static uint64_t file_bytes(const uint64_t *h) {
    uint64_t parts[7] = { h[H_NTERMS] * TERM_REC, h[H_NPOST] * sizeof(posting), h[H_NSLOTS] * DOC_REC,
                          h[H_NFWD] * sizeof(uint32_t), h[H_NFREE] * sizeof(uint32_t),
                          h[H_TSLOTS] * sizeof(uint32_t), h[H_ARENA] };
    uint64_t need = IO_HEAD + 8;
    for (int i = 0; i < 7; i++) {
        if (parts[i] > UINT64_MAX - need) return UINT64_MAX;
        need += parts[i];
    }
    return need;
}

static void put(unsigned char **p, const void *src, size_t n) {
    if (n) memcpy(*p, src, n);
    *p += n;
}

/* Returns the serialized size of ix. */
size_t astro_bm25_save_size(const astro_bm25 *ix) {
    if (!ix) return 0;
    uint64_t h[IO_NHDR] = { 0 };
    h[H_NTERMS] = ix->nterms, h[H_ARENA] = ix->arena_len, h[H_NSLOTS] = ix->docs.nslots;
    h[H_NFREE] = ix->docs.nfree, h[H_TSLOTS] = ix->tslots_cap;
    totals(ix, &h[H_NPOST], &h[H_NFWD]);
    return (size_t)file_bytes(h);
}

/* Serializes ix into buf[0..cap); *len is the size needed. */
int astro_bm25_save_mem(const astro_bm25 *ix, void *buf, size_t cap, size_t *len, astro_err *err) {
    if (!ix || !buf || !len) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    const astro__docs *dt = &ix->docs;
    uint64_t h[IO_NHDR] = { dbits(ix->k1), dbits(ix->b), (uint64_t)ix->opts.tok.stem,
                            (uint64_t)ix->opts.tok.stopwords, ix->opts.tok.max_term_bytes, ix->nterms,
                            ix->arena_len, dt->nslots, dt->ndocs, dt->nfree, ix->total_len, 0, 0, ix->tslots_cap };
    totals(ix, &h[H_NPOST], &h[H_NFWD]);
    size_t need = (size_t)file_bytes(h);
    *len = need;
    if (cap < need) return astro_err_set(err, ASTRO_ERANGE, "bm25: buffer of %zu bytes, need %zu", cap, need);
    unsigned char *p = buf;
    uint32_t v = IO_VERSION, bom = IO_BOM;
    put(&p, IO_MAGIC "", 8);
    put(&p, &v, 4);
    put(&p, &bom, 4);
    put(&p, h, sizeof h);
    for (size_t i = 0; i < ix->nterms; i++) {
        const term *t = &ix->terms[i];
        uint32_t rec[4] = { t->len, t->n, t->max_tf, t->min_dl };
        put(&p, &t->hash, sizeof t->hash);
        put(&p, rec, sizeof rec);
    }
    for (size_t i = 0; i < ix->nterms; i++) put(&p, ix->terms[i].post, ix->terms[i].n * sizeof(posting));
    for (size_t d = 0; d < dt->nslots; d++) {
        uint32_t rec[2] = { ix->dl[d], dt->fwd_n[d] };
        put(&p, &dt->keys[d], sizeof(uint64_t));
        put(&p, &dt->times[d], sizeof(astro_item_times));
        put(&p, rec, sizeof rec);
    }
    for (size_t d = 0; d < dt->nslots; d++) put(&p, dt->fwd[d], dt->fwd_n[d] * sizeof(uint32_t));
    put(&p, dt->freelist, dt->nfree * sizeof(uint32_t));
    put(&p, ix->tslots, ix->tslots_cap * sizeof(uint32_t));
    put(&p, ix->arena, ix->arena_len);
    uint64_t sum = astro__checksum(buf, (size_t)(p - (unsigned char *)buf));
    put(&p, &sum, 8);
    return ASTRO_OK;
}

static uint32_t rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The mix of one (term, document) pair, for comparing postings with
 * forward lists as multisets. */
static uint64_t pair_mix(uint32_t term_id, uint32_t doc) {
    return astro__mix64(((uint64_t)term_id << 32 | doc) + 0x9e3779b97f4a7c15ULL);
}

/* Allocates the docno arrays of ix for dcap slots; 0 or -1. */
static int alloc_docs(astro_bm25 *ix, size_t dcap) {
    astro__docs *dt = &ix->docs;
    dt->dcap = dcap;
    dt->keys = malloc(dcap * sizeof *dt->keys);
    dt->times = malloc(dcap * sizeof *dt->times);
    dt->fwd = calloc(dcap, sizeof *dt->fwd);
    dt->fwd_n = calloc(dcap, sizeof *dt->fwd_n);
    dt->freelist = malloc(dcap * sizeof *dt->freelist);
    ix->dl = calloc(dcap, sizeof *ix->dl);
    if (!(dt->keys && dt->times && dt->fwd && dt->fwd_n && dt->freelist && ix->dl)) return -1;
    astro__advise_huge(dt->keys, dcap * sizeof *dt->keys);
    astro__advise_huge(dt->times, dcap * sizeof *dt->times);
    astro__advise_huge(dt->fwd, dcap * sizeof *dt->fwd);
    astro__advise_huge(dt->fwd_n, dcap * sizeof *dt->fwd_n);
    astro__advise_huge(dt->freelist, dcap * sizeof *dt->freelist);
    astro__advise_huge(ix->dl, dcap * sizeof *ix->dl);
    return 0;
}

/* Fills the empty index ix from the checked-size body at p (header h).
 * Returns ASTRO_OK, ASTRO_EFORMAT or ASTRO_ENOMEM. */
static int fill(astro_bm25 *ix, const uint64_t *h, unsigned char *p) {
    size_t nterms = (size_t)h[H_NTERMS], nslots = (size_t)h[H_NSLOTS], nfree = (size_t)h[H_NFREE];
    const unsigned char *trec = p;
    unsigned char *post = p + nterms * TERM_REC;
    const unsigned char *drec = post + h[H_NPOST] * sizeof(posting);
    unsigned char *fwd = (unsigned char *)drec + nslots * DOC_REC;
    const unsigned char *freel = fwd + h[H_NFWD] * sizeof(uint32_t);
    const unsigned char *tsl = freel + nfree * sizeof(uint32_t);
    const unsigned char *arena = tsl + h[H_TSLOTS] * sizeof(uint32_t);
    astro__docs *dt = &ix->docs;
    unsigned char *freed = NULL;   /* per docno: 1 if free */
    int rc = ASTRO_ENOMEM;

    /* documents: free list first, so postings and forward lists can be
     * checked against which docnos are live */
    if (alloc_docs(ix, nslots > 64 ? nslots : 64) || !(freed = calloc(nslots ? nslots : 1, 1))) goto done;
    rc = ASTRO_EFORMAT;
    for (size_t i = 0; i < nfree; i++) {
        uint32_t f = rd32(freel + 4 * i);
        if (f >= nslots || freed[f]) goto done;
        freed[f] = 1;
        dt->freelist[i] = f;
    }
    dt->nslots = nslots, dt->nfree = nfree;
    uint64_t total = 0, nfwd = 0, fwd_sum = 0, post_sum = 0;
    unsigned char *fp = fwd;
    dt->lent = ix->snap, dt->lent_len = ix->snap_len;
    for (size_t d = 0; d < nslots; d++) {
        const unsigned char *r = drec + d * DOC_REC;
        uint32_t fn = rd32(r + 8 + sizeof(astro_item_times) + 4);
        memcpy(&dt->keys[d], r, 8);
        memcpy(&dt->times[d], r + 8, sizeof(astro_item_times));
        ix->dl[d] = rd32(r + 8 + sizeof(astro_item_times));
        if (freed[d]) {
            if (fn) goto done;
            continue;
        }
        if (fn > h[H_NFWD] - nfwd) goto done;
        total += ix->dl[d];
        nfwd += fn;
        if (fn) {
            uint32_t *ids = (uint32_t *)(void *)fp;   /* lent: 4-byte aligned in the block */
            fp += fn * sizeof *ids;
            dt->fwd[d] = ids, dt->fwd_n[d] = fn;
            for (uint32_t j = 0; j < fn; j++) {
                if (ids[j] >= nterms || (j && ids[j] <= ids[j - 1])) goto done;
                fwd_sum += pair_mix(ids[j], (uint32_t)d);
            }
        }
    }
    if (nfwd != h[H_NFWD] || total != h[H_TOTAL]) goto done;
    ix->total_len = total;
    dt->ndocs = (size_t)h[H_NDOCS];
    rc = ASTRO_ENOMEM;
    if (astro__idxmap_reserve(&dt->map, dt->ndocs, dt->keys)) goto done;
    rc = ASTRO_EFORMAT;
    for (uint32_t d = 0; d < nslots; d++) {
        if (freed[d]) continue;
        if (astro__idxmap_find(&dt->map, dt->keys, dt->keys[d]) != SIZE_MAX) goto done;
        astro__idxmap_insert(&dt->map, dt->keys, dt->keys[d], d);
    }

    /* terms: the dictionary table comes saved; each id must be in it once
     * (a term in a slot its hash does not lead to would go unfound, as a
     * wrong saved hash would: the checksum guards those, not a probe per
     * term, which cost a cache miss each at a million terms) */
    rc = ASTRO_ENOMEM;
    size_t tcap = nterms > 64 ? nterms : 64, scap = (size_t)h[H_TSLOTS], acap = h[H_ARENA] ? (size_t)h[H_ARENA] : 1024;
    ix->terms = calloc(tcap, sizeof *ix->terms);
    ix->tslots = malloc((scap ? scap : 1) * sizeof *ix->tslots);
    ix->arena = malloc(acap);
    unsigned char *placed = calloc(nterms / 8 + 1, 1);
    if (!ix->terms || !ix->tslots || !ix->arena || !placed) {
        free(placed);
        goto done;
    }
    astro__advise_huge(ix->terms, tcap * sizeof *ix->terms);
    ix->terms_cap = tcap, ix->tslots_cap = scap, ix->arena_cap = acap;
    memcpy(ix->tslots, tsl, scap * sizeof *ix->tslots);
    memcpy(ix->arena, arena, (size_t)h[H_ARENA]);
    ix->arena_len = (size_t)h[H_ARENA];
    size_t nplaced = 0;
    for (size_t i = 0; i < scap; i++) {
        uint32_t id = ix->tslots[i];
        if (id == ASTRO__IDX_EMPTY) continue;
        if (id >= nterms || placed[id >> 3] & (1u << (id & 7))) {
            nplaced = SIZE_MAX;   /* an id out of range or twice */
            break;
        }
        placed[id >> 3] |= (unsigned char)(1u << (id & 7));
        nplaced++;
    }
    free(placed);
    rc = ASTRO_EFORMAT;
    /* a power of two at least 64, at most 3/4 full as the index keeps it
     * (so a probe always meets an empty slot) */
    if (scap < 64 || (scap & (scap - 1)) || nterms > scap / 4 * 3 || nplaced != nterms) goto done;
    size_t off = 0;
    uint64_t npost = 0;
    unsigned char *pp = post;
    for (size_t i = 0; i < nterms; i++) {
        term *t = &ix->terms[i];
        const unsigned char *r = trec + i * TERM_REC;
        memcpy(&t->hash, r, 8);
        t->len = rd32(r + 8), t->n = rd32(r + 12), t->max_tf = rd32(r + 16), t->min_dl = rd32(r + 20);
        if (t->len == 0 || t->len > ix->arena_len - off || t->n > h[H_NPOST] - npost) goto done;
        t->off = off;
        off += t->len;
        npost += t->n;
        ix->nterms = i + 1;
        if (t->n) {
            t->post = (posting *)(void *)pp;          /* lent: 8-byte aligned in the block */
            t->cap = t->n;
            pp += t->n * sizeof *t->post;
            for (uint32_t j = 0; j < t->n; j++) {
                posting q = t->post[j];
                if (q.doc >= nslots || freed[q.doc] || (j && q.doc <= t->post[j - 1].doc) ||
                    q.tf == 0 || q.tf > t->max_tf || ix->dl[q.doc] < t->min_dl)
                    goto done;
                post_sum += pair_mix((uint32_t)i, q.doc);
            }
        }
    }
    rc = ASTRO_EFORMAT;
    if (off != ix->arena_len || npost != h[H_NPOST]) goto done;
    /* Postings and forward lists must hold the same (term, document)
     * pairs, which removal relies on: the sums of a 64-bit mix of every
     * pair on either side must agree (one sequential pass each; checking
     * pair by pair chased a pointer per pair and doubled the load time). */
    if (fwd_sum != post_sum) goto done;
    rc = ASTRO_OK;
done:
    free(freed);
    return rc;
}

void astro__bm25_snap_free(astro_bm25 *ix) {
    if (!ix->snap) return;
    if (ix->snap_mapped) munmap(ix->snap, ix->snap_len);
    else free(ix->snap);
    ix->snap = NULL;
}

/* Builds an index from the snapshot block[0..len), which it takes over
 * (mapped: munmap'd, else free'd, with the index or on failure). */
static int load_block(unsigned char *block, size_t len, int mapped, const astro_bm25_opts *opts,
                      astro_bm25 **out, astro_err *err) {
    const char *why = NULL;
    uint32_t v = 0, bom = 0;
    uint64_t h[IO_NHDR], sum, need = 0;
    if (len < IO_HEAD + 8) {
        why = "data too short";
    } else {
        memcpy(&v, block + 8, 4);
        memcpy(&bom, block + 12, 4);
        memcpy(h, block + 16, sizeof h);
        memcpy(&sum, block + len - 8, 8);
        if (memcmp(block, IO_MAGIC "", 8) != 0) why = "not a bm25 index";
        else if (bom != IO_BOM) why = "foreign byte order";
        else if (v != IO_VERSION) why = "unsupported version";
        else if (h[H_NTERMS] >= ASTRO__IDX_EMPTY - 1 || h[H_NSLOTS] >= ASTRO__IDX_EMPTY / 2 ||
                 h[H_NFREE] > h[H_NSLOTS] || h[H_NDOCS] + h[H_NFREE] != h[H_NSLOTS] ||
                 h[H_ARENA] > SIZE_MAX / 2 || h[H_NPOST] >> 56 || h[H_NFWD] >> 56 || h[H_TSLOTS] >> 40)
            why = "bad header";
        else if ((need = file_bytes(h)) != len) why = "size differs from the header's";
        else if (sum != astro__checksum(block, len - 8)) why = "checksum mismatch";
    }
    astro_bm25 *ix = NULL;
    int rc = why ? ASTRO_EFORMAT : astro_bm25_new(opts, &ix, err);
    if (rc == ASTRO_OK) {
        ix->snap = block, ix->snap_len = len, ix->snap_mapped = mapped;
        block = NULL;
        if (h[H_K1] != dbits(ix->k1) || h[H_B] != dbits(ix->b) || h[H_STEM] != (uint64_t)ix->opts.tok.stem ||
            h[H_STOP] != (uint64_t)ix->opts.tok.stopwords || h[H_MAXTERM] != ix->opts.tok.max_term_bytes) {
            rc = ASTRO_EFORMAT;
            why = "saved with other options (k1, b, stem, stopwords)";
        } else if ((rc = fill(ix, h, ix->snap + IO_HEAD)) != ASTRO_OK) {
            why = rc == ASTRO_ENOMEM ? "out of memory" : "inconsistent index data";
        }
    } else if (!why) {
        why = "";   /* astro_bm25_new set err */
    }
    if (block) {
        if (mapped) munmap(block, len);
        else free(block);
    }
    if (rc != ASTRO_OK) {
        astro_bm25_free(ix);
        return *why ? astro_err_set(err, rc, "bm25: %s", why) : rc;
    }
    *out = ix;
    return ASTRO_OK;
}

/* Rebuilds an index from a buffer written by astro_bm25_save_mem (copied:
 * buf is the caller's); opts (NULL: the defaults) must be the options it
 * was saved with. */
int astro_bm25_load_mem(const void *buf, size_t len, const astro_bm25_opts *opts, astro_bm25 **out,
                        astro_err *err) {
    if (!buf || !out) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    *out = NULL;
    unsigned char *block = malloc(len ? len : 1);
    if (!block) return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
    if (len) memcpy(block, buf, len);
    return load_block(block, len, 0, opts, out, err);
}

/* Writes the index to path (whole file, replaced). */
int astro_bm25_save(const astro_bm25 *ix, const char *path, astro_err *err) {
    if (!ix || !path) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    size_t n = astro_bm25_save_size(ix), len;
    unsigned char *buf = malloc(n);
    if (!buf) return astro_err_set(err, ASTRO_ENOMEM, "bm25: out of memory");
    int rc = astro_bm25_save_mem(ix, buf, n, &len, err);
    if (rc == ASTRO_OK) {
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(buf, 1, len, f) == len;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) rc = astro_err_set(err, ASTRO_EIO, "bm25: cannot write %s", path);
    }
    free(buf);
    return rc;
}

/* Reads an index saved by astro_bm25_save. The file is mapped copy-on-write
 * and stays mapped while the index lives (its postings and forward lists
 * are used in place). Snapshots are replaced by rename, never rewritten in
 * place, so the mapped file does not shrink under the index. */
int astro_bm25_load(const char *path, const astro_bm25_opts *opts, astro_bm25 **out, astro_err *err) {
    if (!path || !out) return astro_err_set(err, ASTRO_EINVAL, "bm25: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return astro_err_set(err, ASTRO_EIO, "bm25: cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return astro_err_set(err, ASTRO_EIO, "bm25: cannot read %s", path);
    }
    size_t sz = (size_t)st.st_size;
    if (sz == 0) {
        close(fd);
        return astro_bm25_load_mem("", 0, opts, out, err);
    }
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE;                 /* one call maps every page, not a fault each */
#endif
    /* Mapped read-only first: populating a writable private mapping would
     * copy every page up front; made writable after, a page is copied only
     * when a change writes to it. */
    void *map = mmap(NULL, sz, PROT_READ, flags, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return astro_err_set(err, ASTRO_EIO, "bm25: cannot map %s", path);
    astro__prefault(map, sz);
    if (mprotect(map, sz, PROT_READ | PROT_WRITE) != 0) {
        munmap(map, sz);
        return astro_err_set(err, ASTRO_EIO, "bm25: cannot map %s", path);
    }
    return load_block(map, sz, 1, opts, out, err);
}
