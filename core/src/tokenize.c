/*
** tokenize.c — the shared tokenizer. BM25 and the hashing embedder both use it
** so the keyword and semantic channels agree on what a word is.
**
** Input is decoded as UTF-8. A token is a maximal run of letters and digits;
** ASCII punctuation and space, Latin-1 punctuation (including U+00A0, U+00D7,
** U+00F7), General Punctuation U+2000-U+206F, currency and arrow/symbol
** blocks, CJK Symbols and Punctuation U+3000-U+303F, fullwidth punctuation
** and emoji separate tokens; each CJK ideograph is a token of its own. Case is
** folded for ASCII, Latin-1 Supplement, Latin Extended-A, Greek (final sigma
** folds to sigma) and Cyrillic; other scripts pass through unchanged, and a
** byte that does not decode is kept as a word byte. Stopwords are checked on
** the folded word before stemming; the list is the usual English function
** words plus the fragments contractions and possessives split into ("s", "t",
** "ll", "ve", "re", "don", "didn" ...). The stemmer (ASCII words only) is
** Porter's algorithm (stem.c, stem = ASTRO_STEM_PORTER): "camping", "camped",
** "camps" -> "camp"; or, with stem = ASTRO_STEM_LIGHT, the light suffix
** stripper the hashing embedder was built on (kept so its vectors stay
** bit-identical); exactly one rule applies, first match wins:
**   -ies  -> -y      (word longer than 4)        flies   -> fly
**   -sses -> -ss                                  classes -> class
**   -es   -> ""      after s, x, z, ch, sh        boxes   -> box
**   -s    -> ""      unless -ss, -us, -is         runs    -> run
**   -ing  -> ""      stem >= 3, then undouble     running -> run
**   -ed   -> ""      stem >= 3, then undouble     stopped -> stop
**   -ly   -> ""      stem >= 3                    quickly -> quick
** "Undouble" drops the last letter of a doubled final consonant other than
** l, s, z (so "falling" -> "fall", "missed" -> "miss"). Words longer than
** max_term_bytes + 18 bytes are only truncated, not stemmed.
** Terms longer than max_term_bytes are truncated at a UTF-8 boundary; a term
** that would become empty that way is skipped.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/text.h"
#include "internal.h"

const char *const astro__stopwords[] = {
    "a", "about", "above", "after", "again", "against", "ain", "all", "also", "am", "an",
    "and", "any", "are", "aren", "as", "at", "be", "because", "been", "before", "being",
    "below", "between", "both", "but", "by", "can", "could", "couldn", "d", "did", "didn",
    "do", "does", "doesn", "doing", "don", "down", "during", "each", "few", "for", "from",
    "further", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her", "here",
    "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "isn",
    "it", "its", "itself", "just", "ll", "m", "me", "mightn", "more", "most", "mustn", "my",
    "myself", "needn", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or",
    "other", "our", "ours", "ourselves", "out", "over", "own", "re", "s", "same", "shan",
    "she", "should", "shouldn", "so", "some", "such", "t", "than", "that", "the", "their",
    "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "up", "ve", "very", "was", "wasn", "we",
    "were", "weren", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "wouldn", "you", "your", "yours", "yourself", "yourselves",
};
const size_t astro__nstopwords = sizeof astro__stopwords / sizeof astro__stopwords[0];

/* Longest stopword; longer words skip the lookup. */
#define STOPWORD_MAX 10
/* Extra bytes kept beyond max_term_bytes, so that a word a little longer
 * than a term is still stemmed whole before it is truncated. */
#define STEM_SLACK 8

struct astro_tokenizer {
    int stem;
    int stopwords;
    size_t max_term;
    char *buf;         /* max_term + STEM_SLACK + STOPWORD_MAX bytes */
};

/* Orders w[0..n) against the NUL-terminated word sw as memcmp over the
 * shorter length, then shorter first, would (bytes unsigned); inline, as
 * every token of every text meets about eight of these. */
static int word_cmp(const char *w, size_t n, const char *sw) {
    size_t i = 0;
    for (; i < n && sw[i]; i++) {
        unsigned char a = (unsigned char)w[i], b = (unsigned char)sw[i];
        if (a != b) return a < b ? -1 : 1;
    }
    if (i < n) return 1;
    return sw[i] ? -1 : 0;
}

/* Returns 1 if w[0..n) is in the sorted stopword table (binary search). */
int astro__is_stopword(const char *w, size_t n) {
    if (n == 0 || n > STOPWORD_MAX) return 0;
    size_t lo = 0, hi = astro__nstopwords;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = word_cmp(w, n, astro__stopwords[mid]);
        if (c == 0) return 1;
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return 0;
}

/* Creates a tokenizer; opts NULL means Porter stemming, stopwords, 64-byte terms. */
int astro_tokenizer_new(const astro_tokenizer_opts *opts, astro_tokenizer **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "tokenizer: out is NULL");
    *out = NULL;
    astro_tokenizer *tk = malloc(sizeof *tk);
    if (!tk) return astro_err_set(err, ASTRO_ENOMEM, "tokenizer: out of memory");
    tk->stem = opts ? opts->stem : ASTRO_STEM_PORTER;
    if (tk->stem < 0 || tk->stem > ASTRO_STEM_LIGHT) {
        free(tk);
        return astro_err_set(err, ASTRO_EINVAL, "tokenizer: unknown stem mode %d", opts->stem);
    }
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

#define CL_SEP 0
#define CL_WORD 1
#define CL_CJK 2

/* Decodes the code point at u[i..len); sets *n to its byte length (1 for an
 * undecodable byte, returned as 0x110000 + byte so it stays a word byte). */
static uint32_t decode(const unsigned char *u, size_t i, size_t len, size_t *n) {
    unsigned c = u[i];
    *n = 1;
    if (c < 0x80) return c;
    size_t need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : 0;
    if (need == 0 || c > 0xF4 || len - i <= need) return 0x110000u + c;
    uint32_t cp = c & (0x3Fu >> need);
    for (size_t k = 1; k <= need; k++) {
        if ((u[i + k] & 0xC0) != 0x80) return 0x110000u + c;
        cp = (cp << 6) | (u[i + k] & 0x3Fu);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0x110000u + c;
    *n = need + 1;
    return cp;
}

/* Returns CL_SEP, CL_WORD or CL_CJK for code point cp (see file comment). */
static int classify(uint32_t cp) {
    if (cp < 0x80)
        return ((cp | 32) >= 'a' && (cp | 32) <= 'z') || (cp >= '0' && cp <= '9') ? CL_WORD : CL_SEP;
    if (cp < 0xC0)
        return cp == 0xAA || cp == 0xB5 || cp == 0xBA || cp == 0xB2 || cp == 0xB3 || cp == 0xB9 ? CL_WORD : CL_SEP;
    if (cp == 0xD7 || cp == 0xF7 || cp == 0x37E || cp == 0x387 || cp == 0x375 || cp == 0x482) return CL_SEP;
    if (cp < 0x2000) return CL_WORD;
    if (cp <= 0x206F || (cp >= 0x20A0 && cp <= 0x20CF) || (cp >= 0x2190 && cp <= 0x2BFF)) return CL_SEP;
    if (cp >= 0x3000 && cp <= 0x303F) return CL_SEP;
    if ((cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0x20000 && cp <= 0x2FFFF))
        return CL_CJK;
    if ((cp >= 0xFE30 && cp <= 0xFE4F) || cp == 0xFEFF || (cp >= 0xFF01 && cp <= 0xFF0F) ||
        (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
        return CL_SEP;
    if (cp >= 0x1F000 && cp <= 0x1FAFF) return CL_SEP;
    return CL_WORD;
}

/* Returns the case-folded form of cp for the scripts in the file comment. */
static uint32_t fold(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x130) return 'i';
        if (cp == 0x178) return 0xFF;
        if ((cp <= 0x137 || (cp >= 0x14A && cp <= 0x177)) && !(cp & 1)) return cp + 1;
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) && (cp & 1)) return cp + 1;
        return cp;
    }
    if (cp >= 0x386 && cp <= 0x3AB) {
        if (cp >= 0x391 && cp != 0x3A2) return cp + 0x20;
        if (cp == 0x386) return 0x3AC;
        if (cp >= 0x388 && cp <= 0x38A) return cp + 0x25;
        if (cp == 0x38C) return 0x3CC;
        if (cp == 0x38E || cp == 0x38F) return cp + 0x3F;
        return cp;
    }
    if (cp == 0x3C2) return 0x3C3;
    if (cp >= 0x400 && cp <= 0x52F) {
        if (cp <= 0x40F) return cp + 0x50;
        if (cp <= 0x42F) return cp + 0x20;
        if (cp == 0x4C0) return 0x4CF;
        if (cp >= 0x4C1 && cp <= 0x4CE) return (cp & 1) ? cp + 1 : cp;
        if (((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) || cp >= 0x4D0) && !(cp & 1)) return cp + 1;
    }
    return cp;
}

/* Writes cp as UTF-8 (or the raw byte for an undecodable one) to out;
 * returns the number of bytes. */
static size_t encode(uint32_t cp, char *out) {
    if (cp >= 0x110000) { out[0] = (char)(cp - 0x110000); return 1; }
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
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

/* The light stemmer (stem = ASTRO_STEM_LIGHT, see the file comment);
 * returns the new length (w is modified in place only for -ies -> -y). */
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
        size_t cl, start = i, out = 0, wlen;
        if (u[i] < 0x80 && classify(u[i]) == CL_SEP) {   /* ASCII separator fast path */
            i++;
            continue;
        }
        uint32_t cp = decode(u, i, len, &cl);
        int cls = classify(cp), ascii = 1, cut = 0;
        if (cls == CL_SEP) {
            i += cl;
            continue;
        }
        if (cls == CL_CJK) {   /* one ideograph, one token */
            i += cl;
            out = encode(cp, tk->buf);
        } else {
            while (i < len) {
                unsigned char b = u[i];
                if (b < 0x80) {   /* ASCII fast path */
                    if (!(((b | 32) >= 'a' && (b | 32) <= 'z') || (b >= '0' && b <= '9'))) break;
                    if (out < keep_max) tk->buf[out++] = (char)((b >= 'A' && b <= 'Z') ? b + 32 : b);
                    else cut = 1;
                    i++;
                    continue;
                }
                cp = decode(u, i, len, &cl);
                if (classify(cp) != CL_WORD) break;
                char tmp[4];
                size_t el = encode(fold(cp), tmp);
                if (out + el <= keep_max) {
                    memcpy(tk->buf + out, tmp, el);
                    out += el;
                } else {
                    cut = 1;
                }
                ascii &= cp < 0x80;
                i += cl;
            }
        }
        wlen = cut ? keep_max + 1 : out;   /* > keep_max marks a truncated word */
        size_t n = out;
        if (tk->stopwords && astro__is_stopword(tk->buf, wlen)) continue;
        /* A word longer than keep_max is only truncated: stemming it could not
         * change the first max_term bytes. keep_max >= STOPWORD_MAX, so the
         * stopword test above always sees the whole word. */
        if (tk->stem && ascii && wlen == n) n = tk->stem == ASTRO_STEM_LIGHT ? stem_ascii(tk->buf, n) : astro__porter_stem(tk->buf, n);
        if (n > tk->max_term) {
            n = tk->max_term;
            /* Back off to a code point start so the term stays valid UTF-8. */
            for (int back = 0; back < 4 && n > 0 && (tk->buf[n] & 0xC0) == 0x80; back++) n--;
            if (n == 0) continue;
        }
        astro_token tok = { tk->buf, n, start, i - start };
        delivered++;
        if (fn(&tok, ud)) break;
    }
    return delivered;
}
