/*
** text.h — UTF-8 utilities, the shared tokenizer, token counting and chunking.
**
** All lengths given by callers are in bytes; "characters" are Unicode code points.
** The tokenizer is the one BM25 and the hashing embedder share, so that keyword
** and semantic channels see the same words.
*/
#ifndef ASTRO_TEXT_H
#define ASTRO_TEXT_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), 0 otherwise; if bad_offset is non-NULL it receives
 * the byte offset of the first bad sequence. */
int astro_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Returns the number of code points in valid UTF-8 s[0..len). */
size_t astro_utf8_count(const char *s, size_t len);

/* A token produced by the tokenizer: a lowercased, optionally stemmed term
 * written into the caller's scratch buffer, plus its position in the source. */
typedef struct astro_token {
    const char *term;     /* points into the tokenizer's buffer, not NUL-terminated */
    size_t term_len;
    size_t src_off;       /* byte offset of the token in the input */
    size_t src_len;
} astro_token;

/* Stemming modes (astro_tokenizer_opts.stem). */
#define ASTRO_STEM_NONE 0
#define ASTRO_STEM_PORTER 1   /* Porter's algorithm on ASCII words */
#define ASTRO_STEM_LIGHT 2    /* the light -s/-es/-ies/-ing/-ed/-ly stripper */

typedef struct astro_tokenizer_opts {
    int stem;             /* ASTRO_STEM_NONE, _PORTER or _LIGHT */
    int stopwords;        /* drop a built-in English stopword list */
    size_t max_term_bytes;/* longer terms are truncated; 0 = 64 */
} astro_tokenizer_opts;

typedef struct astro_tokenizer astro_tokenizer;

/* Creates a tokenizer with reusable scratch space. opts may be NULL (Porter
 * stemming, stopwords). An unknown stem mode is ASTRO_EINVAL. */
int astro_tokenizer_new(const astro_tokenizer_opts *opts, astro_tokenizer **out, astro_err *err);
void astro_tokenizer_free(astro_tokenizer *tk);

/* Tokenizes s[0..len) as UTF-8: splits on anything that is not a letter or
 * digit (ASCII and Latin-1 punctuation, U+2000-U+206F, U+3000-U+303F,
 * fullwidth punctuation, symbols, emoji), makes each CJK ideograph its own
 * token, and folds case for ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic; undecodable bytes stay inside words. Calls fn for each token;
 * stops early if fn returns non-zero. Returns the number of tokens delivered.
 * Not thread-safe per tokenizer. */
typedef int (*astro_token_fn)(const astro_token *tok, void *ud);
size_t astro_tokenize(astro_tokenizer *tk, const char *s, size_t len, astro_token_fn fn, void *ud);

/* Estimated LLM token count of s[0..len): max(chars/4 — or chars/1.5 when more
 * than 30% of characters are CJK — , words*1.33), rounded down, at least 1. */
size_t astro_token_count(const char *s, size_t len);

typedef enum astro_chunk_strategy {
    ASTRO_CHUNK_SENTENCE = 0,
    ASTRO_CHUNK_PARAGRAPH = 1,
    ASTRO_CHUNK_FIXED = 2
} astro_chunk_strategy;

typedef struct astro_chunk_opts {
    astro_chunk_strategy strategy;
    size_t max_chars;     /* 0 = 512 */
    size_t overlap;       /* characters; used by fixed windows; must be < max_chars; default 50 */
} astro_chunk_opts;

/* A chunk is an exact byte span of the input: [off, off+len). */
typedef struct astro_span {
    size_t off;
    size_t len;
} astro_span;

/* Splits valid UTF-8 s[0..len) into chunks of at most max_chars characters.
 * sentence: split after . ! ? followed by whitespace, greedily pack sentences;
 * paragraph: split on blank lines, greedily pack; fixed: windows of max_chars
 * with `overlap` characters shared. A unit longer than max_chars is cut with the
 * fixed rule. Leading/trailing whitespace is trimmed from every span; empty
 * spans are dropped. Writes at most cap spans to out and sets *n_out to the
 * total number of chunks (so a caller can retry with a larger buffer when
 * *n_out > cap). Whitespace-only input yields 0 chunks. */
int astro_chunk(const char *s, size_t len, const astro_chunk_opts *opts,
                astro_span *out, size_t cap, size_t *n_out, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
