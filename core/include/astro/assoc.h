/*
** assoc.h — an associative index: a term space learned from the indexed
** documents themselves (random indexing), so that a query finds documents
** that share no word with it but use words that occur in the same contexts.
**
** Every term has a fixed sparse random index vector (from the hash of the
** term) and a learned context vector: the sum, over the documents containing
** it, of the index vectors of the document's other distinct terms. Context
** vectors are integers, so adding and removing a document are exact inverses:
** the state depends only on the set of live documents, never on their order.
** A term's association with the query is the cosine between its centred
** context vector (minus what independence would give, df * mean document
** sum) and the query's; the most associated terms that are not in the query
** then score the documents containing them. Documents are tokenized with the
** shared tokenizer (text.h). Adding a key that exists replaces its document.
*/
#ifndef ASTRO_ASSOC_H
#define ASTRO_ASSOC_H

#include "astro/common.h"
#include "astro/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_assoc_opts {
    uint32_t dim;               /* context vector length; 0 => 128, at most 4096 */
    uint32_t nnz;               /* non-zeros of an index vector; 0 => 8, at most dim */
    uint32_t min_df;            /* terms in fewer documents never expand; 0 => 2 */
    uint32_t expand;            /* terms a query expands to; 0 => 16 */
    double min_sim;             /* least cosine for an expansion term; < 0 => 0.2 */
    astro_tokenizer_opts tok;   /* tokenizer settings */
} astro_assoc_opts;

/* Fills opts with the defaults (dim 128, nnz 8, min_df 2, expand 16,
 * min_sim 0.2, Porter stemming, stopwords). */
void astro_assoc_opts_init(astro_assoc_opts *opts);

typedef struct astro_assoc astro_assoc;

int  astro_assoc_new(const astro_assoc_opts *opts, astro_assoc **out, astro_err *err);
void astro_assoc_free(astro_assoc *a);

/* Learns text s[0..len) under key (replacing any earlier text for key). On
 * error the index is as before (terms seen only by the failed call stay in
 * the dictionary, in no document). */
int astro_assoc_add(astro_assoc *a, uint64_t key, const char *s, size_t len,
                    const astro_item_times *times, astro_err *err);
/* Unlearns key; returns 1 if it was present, 0 if not. */
int astro_assoc_remove(astro_assoc *a, uint64_t key);
size_t astro_assoc_count(const astro_assoc *a);
size_t astro_assoc_terms(const astro_assoc *a);
size_t astro_assoc_bytes(const astro_assoc *a);

/* Top-k keys by association with the query text q and, when nseeds > 0, with
 * the documents of seeds (pseudo-relevance feedback: their terms join the
 * query, together weighing as much as the query's own terms; unknown seeds
 * are ignored). Scores are positive and unbounded, best first (ties: smaller
 * key first). Uses scratch inside a, so one caller at a time. Returns the
 * number written or a negative code. */
long astro_assoc_search(astro_assoc *a, const char *q, size_t qlen, const uint64_t *seeds,
                        size_t nseeds, size_t k, const astro_filter *filter, uint64_t *keys,
                        float *scores, astro_err *err);

/* Cosine association (in [-1, 1]) between two single terms as the tokenizer
 * reads them; 0 when either is unknown. For tests and diagnostics. */
double astro_assoc_similarity(astro_assoc *a, const char *t1, size_t len1, const char *t2,
                              size_t len2);

#ifdef __cplusplus
}
#endif

#endif
