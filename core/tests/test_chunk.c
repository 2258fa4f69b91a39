/*
** test_chunk.c — the chunker: sentence packing against a worked example,
** paragraphs, fixed windows with overlap on multibyte text (every chunk within
** max_chars and valid UTF-8), long sentences cut into windows, empty and
** whitespace-only input, option validation and the cap / *n_out contract.
*/
#include <stdio.h>
#include <string.h>

#include "astro/text.h"
#include "check.h"

/* Returns 1 if span i of out equals the literal want. */
static int span_is(const char *s, const astro_span *sp, const char *want) {
    return sp->len == strlen(want) && memcmp(s + sp->off, want, sp->len) == 0;
}

/* Returns 1 if every span is valid UTF-8, trimmed, non-empty, within max
 * characters and inside the input. */
static int spans_ok(const char *s, size_t len, const astro_span *sp, size_t n, size_t max) {
    for (size_t i = 0; i < n; i++) {
        if (sp[i].len == 0 || sp[i].off + sp[i].len > len) return 0;
        if (!astro_utf8_valid(s + sp[i].off, sp[i].len, NULL)) return 0;
        if (astro_utf8_count(s + sp[i].off, sp[i].len) > max) return 0;
        if (s[sp[i].off] == ' ' || s[sp[i].off + sp[i].len - 1] == ' ') return 0;
    }
    return 1;
}

int main(void) {
    astro_span sp[256];
    size_t n = 0;
    astro_err err;

    /* Sentence packing: "One. Two two. Three three three." at max 20:
     * "One. Two two." is 13 chars; adding " Three three three." would be 32. */
    {
        const char *s = "One. Two two. Three three three.";
        astro_chunk_opts o = { ASTRO_CHUNK_SENTENCE, 20, 0 };
        CHECK("chunk-1.0", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK);
        CHECK("chunk-1.1", n == 2);
        CHECK("chunk-1.2", span_is(s, &sp[0], "One. Two two."));
        CHECK("chunk-1.3", span_is(s, &sp[1], "Three three three."));
        /* max 13 still fits the first pair exactly (4 + 1 + 8); the 18-char
         * sentence is cut into windows. */
        o.max_chars = 13;
        CHECK("chunk-1.4", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK && n == 3);
        CHECK("chunk-1.5", span_is(s, &sp[0], "One. Two two.") && span_is(s, &sp[1], "Three three t") &&
                               span_is(s, &sp[2], "hree."));
        o.max_chars = 12;
        CHECK("chunk-1.6", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK);
        CHECK("chunk-1.7", n == 4 && span_is(s, &sp[0], "One.") && span_is(s, &sp[1], "Two two."));
        /* "Three three three." (18) > 12: windows of 12 stepping 12. */
        CHECK("chunk-1.8", span_is(s, &sp[2], "Three three") && span_is(s, &sp[3], "three."));
        /* Defaults: everything fits in 512. */
        CHECK("chunk-1.9", astro_chunk(s, strlen(s), NULL, sp, 256, &n, &err) == ASTRO_OK && n == 1);
        CHECK("chunk-1.10", span_is(s, &sp[0], s));
    }
    /* No split without following whitespace; ! and ? split; leading space trimmed. */
    {
        const char *s = "  Version 1.2 is out! Really? Yes.  ";
        astro_chunk_opts o = { ASTRO_CHUNK_SENTENCE, 22, 0 };
        CHECK("chunk-2.0", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK);
        CHECK("chunk-2.1", n == 2 && span_is(s, &sp[0], "Version 1.2 is out!") &&
                               span_is(s, &sp[1], "Really? Yes."));
    }
    /* Paragraphs. */
    {
        const char *s = "Para one line.\nstill one.\n\nPara two.\n \t\nPara three.\n\n\n";
        astro_chunk_opts o = { ASTRO_CHUNK_PARAGRAPH, 30, 0 };
        CHECK("chunk-3.0", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK);
        CHECK("chunk-3.1", n == 2);
        CHECK("chunk-3.2", span_is(s, &sp[0], "Para one line.\nstill one."));
        CHECK("chunk-3.3", span_is(s, &sp[1], "Para two.\n \t\nPara three."));
        o.max_chars = 512;
        CHECK("chunk-3.4", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK && n == 1);
        o.max_chars = 12;
        CHECK("chunk-3.5", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK);
        CHECK("chunk-3.6", spans_ok(s, strlen(s), sp, n, 12) && n == 5);
    }
    /* Fixed windows on multibyte text: 40 x "é" with max 8, overlap 3 (step 5). */
    {
        char s[200];
        size_t len = 0;
        for (int i = 0; i < 40; i++) { s[len++] = (char)0xC3; s[len++] = (char)0xA9; }
        astro_chunk_opts o = { ASTRO_CHUNK_FIXED, 8, 3 };
        CHECK("chunk-4.0", astro_chunk(s, len, &o, sp, 256, &n, &err) == ASTRO_OK);
        CHECK("chunk-4.1", n == 8);   /* starts 0,5,...,35 */
        CHECK("chunk-4.2", spans_ok(s, len, sp, n, 8));
        CHECK("chunk-4.3", sp[0].off == 0 && sp[0].len == 16 && sp[1].off == 10);
        CHECK("chunk-4.4", sp[7].off == 70 && sp[7].len == 10);   /* overlap-only tail */
        /* Mixed widths, many sizes and overlaps: invariants only. */
        const char *m = "a\xE2\x82\xAC" "b \xF0\x9F\x98\x80" "cd\xC3\xA9 efg \xE6\x97\xA5\xE6\x9C\xAC hij klm";
        for (size_t max = 1; max <= 12; max++) {
            for (size_t ov = 0; ov < max; ov++) {
                astro_chunk_opts f = { ASTRO_CHUNK_FIXED, max, ov };
                int rc = astro_chunk(m, strlen(m), &f, sp, 256, &n, &err);
                CHECK("chunk-4.5", rc == ASTRO_OK && n > 0 && n <= 256);
                CHECK("chunk-4.6", spans_ok(m, strlen(m), sp, n, max));
                f.strategy = ASTRO_CHUNK_SENTENCE;
                rc = astro_chunk(m, strlen(m), &f, sp, 256, &n, &err);
                CHECK("chunk-4.7", rc == ASTRO_OK && spans_ok(m, strlen(m), sp, n, max));
            }
        }
        /* Fits whole: one chunk, trimmed. */
        astro_chunk_opts f = { ASTRO_CHUNK_FIXED, 100, 10 };
        CHECK("chunk-4.8", astro_chunk("  short  ", 9, &f, sp, 256, &n, &err) == ASTRO_OK && n == 1);
        CHECK("chunk-4.9", sp[0].off == 2 && sp[0].len == 5);
        /* Whitespace inside a window: windows that trim to nothing are dropped. */
        f.max_chars = 2;
        f.overlap = 0;
        CHECK("chunk-4.10", astro_chunk("ab    cd", 8, &f, sp, 256, &n, &err) == ASTRO_OK && n == 2);
    }
    /* A long sentence cut into windows between packed neighbours. */
    {
        const char *s = "Hi. abcdefghijklmnopqrstuvwxyz. Bye.";
        astro_chunk_opts o = { ASTRO_CHUNK_SENTENCE, 10, 2 };
        CHECK("chunk-5.0", astro_chunk(s, strlen(s), &o, sp, 256, &n, &err) == ASTRO_OK);
        /* windows of 27 chars at 0, 8, 16, 24: "abcdefghij" "ijklmnopqr" "qrstuvwxyz" "yz." */
        CHECK("chunk-5.1", n == 6);
        CHECK("chunk-5.2", span_is(s, &sp[0], "Hi.") && span_is(s, &sp[1], "abcdefghij") &&
                               span_is(s, &sp[2], "ijklmnopqr") && span_is(s, &sp[3], "qrstuvwxyz") &&
                               span_is(s, &sp[4], "yz.") && span_is(s, &sp[5], "Bye."));
    }
    /* Empty and whitespace-only. */
    {
        CHECK("chunk-6.0", astro_chunk("", 0, NULL, sp, 256, &n, &err) == ASTRO_OK && n == 0);
        CHECK("chunk-6.1", astro_chunk(NULL, 0, NULL, NULL, 0, &n, &err) == ASTRO_OK && n == 0);
        for (int st = 0; st < 3; st++) {
            astro_chunk_opts o = { (astro_chunk_strategy)st, 5, 1 };
            CHECK("chunk-6.2", astro_chunk(" \n\t \n  \r\n", 9, &o, sp, 256, &n, &err) == ASTRO_OK && n == 0);
        }
    }
    /* Validation. */
    {
        astro_chunk_opts o = { ASTRO_CHUNK_FIXED, 10, 10 };
        err.code = 0;
        CHECK("chunk-7.0", astro_chunk("abc", 3, &o, sp, 256, &n, &err) == ASTRO_EINVAL);
        CHECK("chunk-7.1", err.code == ASTRO_EINVAL && strstr(err.msg, "overlap") != NULL);
        o.max_chars = 0;       /* 512 */
        o.overlap = 600;
        CHECK("chunk-7.2", astro_chunk("abc", 3, &o, sp, 256, &n, &err) == ASTRO_EINVAL);
        o.overlap = 0;
        CHECK("chunk-7.3", astro_chunk("ab\xC0\x80z", 5, &o, sp, 256, &n, &err) == ASTRO_EINVAL);
        CHECK("chunk-7.4", strstr(err.msg, "offset 2") != NULL);
        CHECK("chunk-7.5", astro_chunk("abc", 3, &o, sp, 256, NULL, &err) == ASTRO_EINVAL);
        o.strategy = (astro_chunk_strategy)7;
        CHECK("chunk-7.6", astro_chunk("abc", 3, &o, sp, 256, &n, NULL) == ASTRO_EINVAL);
    }
    /* cap smaller than the chunk count: *n_out reports the total. */
    {
        const char *s = "A. B. C. D. E.";
        astro_chunk_opts o = { ASTRO_CHUNK_SENTENCE, 2, 0 };
        astro_span two[3] = { { 0, 0 }, { 0, 0 }, { 77, 77 } };
        CHECK("chunk-8.0", astro_chunk(s, strlen(s), &o, two, 2, &n, &err) == ASTRO_OK && n == 5);
        CHECK("chunk-8.1", span_is(s, &two[0], "A.") && span_is(s, &two[1], "B.") && two[2].off == 77);
        CHECK("chunk-8.2", astro_chunk(s, strlen(s), &o, NULL, 0, &n, &err) == ASTRO_OK && n == 5);
    }
    return check_report("test_chunk");
}
