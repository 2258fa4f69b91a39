/*
** bm25.h — an incremental BM25 inverted index over uint64 keys.
**
** Documents are tokenized with the shared tokenizer (text.h). Scores follow
** Okapi BM25 with idf = ln(1 + (N - df + 0.5) / (df + 0.5)), k1 = 1.2 and
** b = 0.75 by default. Adding a key that exists replaces its document.
*/
#ifndef ASTRO_BM25_H
#define ASTRO_BM25_H

#include "astro/common.h"
#include "astro/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_bm25_opts {
    double k1;                  /* 0 => 1.2 */
    double b;                   /* < 0 => 0.75 (0 is a valid b) */
    astro_tokenizer_opts tok;   /* tokenizer settings */
} astro_bm25_opts;

/* Fills opts with defaults (k1 1.2, b 0.75, stem 1, stopwords 1). */
void astro_bm25_opts_init(astro_bm25_opts *opts);

typedef struct astro_bm25 astro_bm25;

int  astro_bm25_new(const astro_bm25_opts *opts, astro_bm25 **out, astro_err *err);
void astro_bm25_free(astro_bm25 *ix);

/* Indexes text s[0..len) under key (replacing any earlier text for key). */
int astro_bm25_add(astro_bm25 *ix, uint64_t key, const char *s, size_t len,
                   const astro_item_times *times, astro_err *err);

/* Removes key; returns 1 if it was present, 0 if not. */
int astro_bm25_remove(astro_bm25 *ix, uint64_t key);

size_t astro_bm25_count(const astro_bm25 *ix);
/* Returns 1 if key is indexed. */
int astro_bm25_contains(const astro_bm25 *ix, uint64_t key);
/* Copies up to cap indexed keys into keys (in document-number order);
 * returns how many there are in all. */
size_t astro_bm25_keys(const astro_bm25 *ix, uint64_t *keys, size_t cap);
size_t astro_bm25_bytes(const astro_bm25 *ix);

/* Top-k keys for the query, BM25 score descending (ties: smaller key first);
 * only documents containing at least one query term score. Returns the number
 * written or a negative code. Scores are raw (unbounded) BM25. Uses scratch
 * inside ix, so it is not safe for concurrent readers: use _search_ctx. */
long astro_bm25_search(astro_bm25 *ix, const char *q, size_t qlen, size_t k,
                       const astro_filter *filter, uint64_t *keys, float *scores,
                       astro_err *err);

/* Per-reader search scratch (tokenizer, query terms, cursors). One per thread;
 * valid for the index it was made for, which must outlive it. */
typedef struct astro_bm25_scratch astro_bm25_scratch;
int astro_bm25_scratch_new(const astro_bm25 *ix, astro_bm25_scratch **out, astro_err *err);
void astro_bm25_scratch_free(astro_bm25_scratch *s);
size_t astro_bm25_scratch_bytes(const astro_bm25_scratch *s);

/* Same ranking as astro_bm25_search (exact, MaxScore-pruned) without touching
 * ix: any number of threads may search at once, each with its own scratch,
 * while no thread writes. */
long astro_bm25_search_ctx(const astro_bm25 *ix, astro_bm25_scratch *s, const char *q, size_t qlen,
                           size_t k, const astro_filter *filter, uint64_t *keys, float *scores,
                           astro_err *err);

/* Snapshots (bm25_io.c): the index as bytes or a file, and back. Load
 * checks the data and that it was saved with opts (NULL: the defaults);
 * corrupt, foreign or differently configured data is ASTRO_EFORMAT.
 * Documents keep their numbers, so a loaded index ranks exactly as the
 * saved one. save_mem sets *len to the size needed (ASTRO_ERANGE when
 * cap is short). */
size_t astro_bm25_save_size(const astro_bm25 *ix);
int astro_bm25_save_mem(const astro_bm25 *ix, void *buf, size_t cap, size_t *len, astro_err *err);
int astro_bm25_load_mem(const void *buf, size_t len, const astro_bm25_opts *opts, astro_bm25 **out,
                        astro_err *err);
int astro_bm25_save(const astro_bm25 *ix, const char *path, astro_err *err);
int astro_bm25_load(const char *path, const astro_bm25_opts *opts, astro_bm25 **out, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
