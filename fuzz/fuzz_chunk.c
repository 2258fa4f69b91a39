/*
** fuzz_chunk.c — astro_chunk (sentence, paragraph and fixed strategies) on
** arbitrary bytes. Input: strategy byte, max_chars byte (0 = default 512),
** overlap byte, then the text. Checks every promise of text.h: bad UTF-8 and
** overlap >= max_chars are EINVAL and nothing else fails; spans lie inside
** the text, start and end on code point boundaries, are trimmed, non-empty
** and at most max_chars code points; spans come in order of their start;
** the count is the same whatever cap is given, and a smaller cap gets a
** prefix of the same spans.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/text.h"
#include "fuzz_input.h"

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    astro_chunk_opts o;
    uint8_t st = fi_u8(&in);
    o.strategy = (astro_chunk_strategy)(st % 4 == 3 ? 7 : st % 4);   /* 7: an unknown strategy */
    o.max_chars = fi_u8(&in);
    o.overlap = fi_u8(&in);
    const char *s = (const char *)in.p;
    size_t len = in.n;
    size_t max = o.max_chars ? o.max_chars : 512;

    size_t n = 0;
    astro_err err;
    int rc = astro_chunk(s, len, &o, NULL, 0, &n, &err);
    int valid = astro_utf8_valid(s, len, NULL);
    if (o.strategy > ASTRO_CHUNK_FIXED || o.overlap >= max || !valid) {
        FUZZ_CHECK(rc == ASTRO_EINVAL && n == 0);
        return 0;
    }
    FUZZ_CHECK(rc == ASTRO_OK);
    FUZZ_CHECK(n <= len);
    if (n == 0) {
        for (size_t i = 0; i < len; i++) FUZZ_CHECK(is_space((unsigned char)s[i]));
        return 0;
    }
    astro_span *sp = malloc(n * sizeof *sp);
    if (!sp) return 0;
    size_t n2 = 0;
    FUZZ_CHECK(astro_chunk(s, len, &o, sp, n, &n2, &err) == ASTRO_OK);
    FUZZ_CHECK(n2 == n);
    size_t prev_off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t a = sp[i].off, l = sp[i].len;
        FUZZ_CHECK(l > 0 && a <= len && l <= len - a);
        FUZZ_CHECK(((unsigned char)s[a] & 0xC0) != 0x80);
        FUZZ_CHECK(a + l == len || ((unsigned char)s[a + l] & 0xC0) != 0x80);
        FUZZ_CHECK(!is_space((unsigned char)s[a]) && !is_space((unsigned char)s[a + l - 1]));
        FUZZ_CHECK(astro_utf8_valid(s + a, l, NULL));
        FUZZ_CHECK(fi_utf8_chars(s + a, l) <= max);
        /* Starts never go back. Windows (fixed, and over-long sentences or
         * paragraphs) overlap, and trimming may give two the same start. */
        FUZZ_CHECK(a >= prev_off);
        prev_off = a;
    }
    /* A smaller buffer: same total, and the spans it holds are a prefix. */
    size_t cap = n / 2;
    astro_span *sp2 = malloc((cap ? cap : 1) * sizeof *sp2);
    if (sp2) {
        size_t n3 = 0;
        FUZZ_CHECK(astro_chunk(s, len, &o, sp2, cap, &n3, &err) == ASTRO_OK);
        FUZZ_CHECK(n3 == n);
        FUZZ_CHECK(cap == 0 || memcmp(sp, sp2, cap * sizeof *sp) == 0);
        free(sp2);
    }
    free(sp);
    return 0;
}
