/*
** fuzz_tokenize.c — the shared tokenizer and its stemmer (astro_tokenize)
** plus the UTF-8 helpers and the token estimate, on arbitrary bytes. Input:
** an options byte (bit 0 stem, bit 1 stopwords, bits 2-7 pick when the
** callback stops the scan), a max_term_bytes byte (0 = default 64), then the
** text. Checks: terms are non-empty and at most max_term_bytes; source spans
** lie inside the text, in order, without overlap; on valid UTF-8 every term
** is valid UTF-8; a callback stop delivers exactly that many tokens; two
** runs (and a second tokenizer) give the same terms.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/text.h"
#include "fuzz_input.h"

typedef struct tstate {
    size_t len, max_term, n, stop_after, prev_end;
    int valid;
    uint64_t hash;
} tstate;

static int on_token(const astro_token *t, void *ud) {
    tstate *st = ud;
    FUZZ_CHECK(t->term != NULL && t->term_len > 0 && t->term_len <= st->max_term);
    FUZZ_CHECK(t->src_len > 0 && t->src_off <= st->len && t->src_len <= st->len - t->src_off);
    FUZZ_CHECK(t->src_off >= st->prev_end);
    if (st->valid) FUZZ_CHECK(astro_utf8_valid(t->term, t->term_len, NULL));
    st->prev_end = t->src_off + t->src_len;
    for (size_t i = 0; i < t->term_len; i++) st->hash = (st->hash ^ (unsigned char)t->term[i]) * 0x100000001b3ULL;
    st->hash = (st->hash ^ t->src_off ^ (t->term_len << 32)) * 0x100000001b3ULL;
    st->n++;
    return st->stop_after && st->n == st->stop_after;
}

static void run(astro_tokenizer *tk, const char *s, size_t len, size_t max_term, int valid,
                size_t stop_after, tstate *st) {
    memset(st, 0, sizeof *st);
    st->len = len;
    st->max_term = max_term;
    st->valid = valid;
    st->stop_after = stop_after;
    st->hash = 0xcbf29ce484222325ULL;
    size_t got = astro_tokenize(tk, s, len, on_token, st);
    FUZZ_CHECK(got == st->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    uint8_t f = fi_u8(&in);
    astro_tokenizer_opts o;
    o.stem = f & 1;
    o.stopwords = (f >> 1) & 1;
    o.max_term_bytes = fi_u8(&in);
    size_t stop_after = f >> 2;
    const char *s = (const char *)in.p;
    size_t len = in.n;
    size_t max_term = o.max_term_bytes ? o.max_term_bytes : 64;

    size_t bad = 0;
    int valid = astro_utf8_valid(s, len, &bad);
    if (valid) {
        FUZZ_CHECK(astro_utf8_count(s, len) == fi_utf8_chars(s, len));
    } else {
        FUZZ_CHECK(bad < len);
        FUZZ_CHECK(astro_utf8_valid(s, bad, NULL));
    }
    FUZZ_CHECK(astro_token_count(s, len) >= 1);

    astro_tokenizer *tk = NULL, *tk2 = NULL;
    if (astro_tokenizer_new(&o, &tk, NULL) != ASTRO_OK) return 0;
    tstate a, b;
    run(tk, s, len, max_term, valid, 0, &a);
    run(tk, s, len, max_term, valid, 0, &b);
    FUZZ_CHECK(a.n == b.n && a.hash == b.hash);
    if (astro_tokenizer_new(&o, &tk2, NULL) == ASTRO_OK) {
        run(tk2, s, len, max_term, valid, 0, &b);
        FUZZ_CHECK(a.n == b.n && a.hash == b.hash);
        astro_tokenizer_free(tk2);
    }
    if (stop_after) {
        run(tk, s, len, max_term, valid, stop_after, &b);
        FUZZ_CHECK(b.n == (a.n < stop_after ? a.n : stop_after));
    }
    astro_tokenizer_free(tk);
    return 0;
}
