/*
** embed.h — the deterministic hashing embedder (no model weights).
**
** A text becomes a dim-sized float vector by signed feature hashing of its
** words (shared tokenizer, stemmed) and of character trigrams of each word with
** boundary markers ("^wo", "wor", "ord", "rd$"), so that inflected and
** misspelled forms still land near each other. Word features weigh more than
** n-gram features; term frequency is damped (1 + ln tf). The result is
** L2-normalized. Same text, same dim => bit-identical vector on every machine.
*/
#ifndef ASTRO_EMBED_H
#define ASTRO_EMBED_H

#include "astro/common.h"
#include "astro/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_embedder astro_embedder;

/* dim 8..65536 (default used by the engine: 384). */
int  astro_embedder_new(size_t dim, astro_embedder **out, astro_err *err);
void astro_embedder_free(astro_embedder *e);
size_t astro_embedder_dim(const astro_embedder *e);

/* Embeds s[0..len) into out[0..dim). Text with no tokens yields the zero vector. */
int astro_embed(astro_embedder *e, const char *s, size_t len, float *out, size_t dim,
                astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
