/*
** tokenize.c — the shared tokenizer. BM25 and the hashing embedder both use it
** so the keyword and semantic channels agree on what a word is.
**
** A token is a maximal run of ASCII letters/digits or bytes >= 0x80 (so UTF-8
** words stay whole). ASCII is lowercased. Stopwords are checked on the
** lowercased word before stemming. The optional stemmer is a deliberately tiny,
** deterministic suffix stripper for ASCII words longer than 3 bytes; exactly
** one rule applies, first match wins:
**   -ies  -> -y      (word longer than 4)        flies   -> fly
**   -sses -> -ss                                  classes -> class
**   -es   -> ""      after s, x, z, ch, sh        boxes   -> box
**   -s    -> ""      unless -ss, -us, -is         runs    -> run
**   -ing  -> ""      stem >= 3, then undouble     running -> run
**   -ed   -> ""      stem >= 3, then undouble     stopped -> stop
**   -ly   -> ""      stem >= 3                    quickly -> quick
** "Undouble" drops the last letter of a doubled final consonant other than
** l, s, z (so "falling" -> "fall", "missed" -> "miss").
** Terms longer than max_term_bytes are truncated at a UTF-8 boundary; a term
** that would become empty that way is skipped.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/text.h"
#include "internal.h"

const char *const astro__stopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
    "any", "are", "as", "at", "be", "because", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down",
    "during", "each", "few", "for", "from", "further", "had", "has", "have", "having",
    "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my",
    "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or",
    "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
    "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
    "yourself", "yourselves",
};
const size_t astro__nstopwords = sizeof astro__stopwords / sizeof astro__stopwords[0];

/* Longest stopword; longer words skip the lookup. */
#define STOPWORD_MAX 10
/* Extra bytes kept beyond max_term_bytes: the stemmer removes at most 4, so
 * for longer words stemming cannot change the kept prefix. */
#define STEM_SLACK 8

struct astro_tokenizer {
    int stem;
    int stopwords;
    size_t max_term;
    char *buf;         /* max_term + STEM_SLACK + STOPWORD_MAX bytes */
};

/* Returns 1 if w[0..n) is in the sorted stopword table (binary search). */
int astro__is_stopword(const char *w, size_t n) {
    if (n == 0 || n > STOPWORD_MAX) return 0;
    size_t lo = 0, hi = astro__nstopwords;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *sw = astro__stopwords[mid];
        size_t sl = strlen(sw);
        size_t m = n < sl ? n : sl;
        int c = memcmp(w, sw, m);
        if (c == 0) c = (n > sl) - (n < sl);
        if (c == 0) return 1;
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return 0;
}

/* Creates a tokenizer; opts NULL means stem=1, stopwords=1, 64-byte terms. */
int astro_tokenizer_new(const astro_tokenizer_opts *opts, astro_tokenizer **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "tokenizer: out is NULL");
    *out = NULL;
    astro_tokenizer *tk = malloc(sizeof *tk);
    if (!tk) return astro_err_set(err, ASTRO_ENOMEM, "tokenizer: out of memory");
    tk->stem = opts ? (opts->stem != 0) : 1;
    tk->stopwords = opts ? (opts->stopwords != 0) : 1;
    tk->max_term = (opts && opts->max_term_bytes) ? opts->max_term_bytes : 64;
    if (tk->max_term > (1u << 20)) {
        free(tk);
        return astro_err_set(err, ASTRO_EINVAL, "tokenizer: max_term_bytes %zu too large",
                             opts->max_term_bytes);
    }
    tk->buf = malloc(tk->max_term + STEM_SLACK + STOPWORD_MAX);
    if (!tk->buf) {
        free(tk);
        return astro_err_set(err, ASTRO_ENOMEM, "tokenizer: out of memory");
    }
    *out = tk;
    return ASTRO_OK;
}

/* Frees tk; NULL-safe. */
void astro_tokenizer_free(astro_tokenizer *tk) {
    if (!tk) return;
    free(tk->buf);
    free(tk);
}

/* Returns 1 if c is an ASCII letter or digit or any byte >= 0x80. */
static int is_word_byte(unsigned char c) {
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Returns 1 if w[0..n) ends with the NUL-terminated suffix sfx. */
static int ends_with(const char *w, size_t n, const char *sfx) {
    size_t sl = strlen(sfx);
    return n >= sl && memcmp(w + n - sl, sfx, sl) == 0;
}

/* Returns the stem length after dropping a doubled final consonant. */
static size_t undouble(const char *w, size_t n) {
    if (n >= 2 && w[n - 1] == w[n - 2]) {
        char c = w[n - 1];
        if (c >= 'a' && c <= 'z' && !strchr("aeiouslz", c)) return n - 1;
    }
    return n;
}

/* Applies the suffix rules from the file comment; returns the new length
 * (w is modified in place only for -ies -> -y). */
static size_t stem_ascii(char *w, size_t n) {
    if (n <= 3) return n;
    if (n > 4 && ends_with(w, n, "ies")) {
        w[n - 3] = 'y';
        return n - 2;
    }
    if (ends_with(w, n, "sses")) return n - 2;
    if (ends_with(w, n, "es") && n >= 4) {
        char c = w[n - 3];
        if (c == 's' || c == 'x' || c == 'z') return n - 2;
        if ((c == 'h') && (w[n - 4] == 'c' || w[n - 4] == 's')) return n - 2;
    }
    if (w[n - 1] == 's') {
        if (ends_with(w, n, "ss") || ends_with(w, n, "us") || ends_with(w, n, "is")) return n;
        return n - 1;
    }
    if (ends_with(w, n, "ing") && n - 3 >= 3) return undouble(w, n - 3);
    if (ends_with(w, n, "ed") && n - 2 >= 3) return undouble(w, n - 2);
    if (ends_with(w, n, "ly") && n - 2 >= 3) return n - 2;
    return n;
}

/* Tokenizes s[0..len) calling fn per token until fn returns non-zero; returns
 * the number of tokens delivered. */
size_t astro_tokenize(astro_tokenizer *tk, const char *s, size_t len, astro_token_fn fn, void *ud) {
    if (!tk || !s || !fn) return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t delivered = 0, i = 0;
    size_t keep_max = tk->max_term + STEM_SLACK + STOPWORD_MAX;
    while (i < len) {
        while (i < len && !is_word_byte(u[i])) i++;
        if (i >= len) break;
        size_t start = i;
        int ascii = 1;
        while (i < len && is_word_byte(u[i])) {
            ascii &= u[i] < 0x80;
            i++;
        }
        size_t wlen = i - start;
        size_t n = wlen < keep_max ? wlen : keep_max;
        for (size_t j = 0; j < n; j++) {
            unsigned char c = u[start + j];
            tk->buf[j] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        }
        if (tk->stopwords && astro__is_stopword(tk->buf, wlen)) continue;
        /* A word longer than keep_max is only truncated: stemming it could not
         * change the first max_term bytes. keep_max >= STOPWORD_MAX, so the
         * stopword test above always sees the whole word. */
        if (tk->stem && ascii && wlen == n) n = stem_ascii(tk->buf, n);
        if (n > tk->max_term) {
            n = tk->max_term;
            /* Back off to a code point start so the term stays valid UTF-8. */
            for (int back = 0; back < 4 && n > 0 && (tk->buf[n] & 0xC0) == 0x80; back++) n--;
            if (n == 0) continue;
        }
        astro_token tok = { tk->buf, n, start, wlen };
        delivered++;
        if (fn(&tok, ud)) break;
    }
    return delivered;
}
