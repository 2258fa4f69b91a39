/*
** fuzz_dialogue.c — astro_chunk_dialogue on arbitrary bytes. Input: max_chars
** byte (0 = default 512), overlap byte, then the text. Checks: bad UTF-8 and
** overlap >= max_chars are EINVAL, nothing else fails; every piece and prefix
** lies inside the text on code point boundaries; a prefix is a speaker label
** (ends with ':'); a piece without a prefix has at most max_chars code points;
** a prefixed piece at most max_chars minus the label (the sentence cut keeps
** 16 code points at least, see dialogue.c); the count does not depend on cap.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/dialogue.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    size_t max_chars = fi_u8(&in);
    size_t overlap = fi_u8(&in);
    const char *s = (const char *)in.p;
    size_t len = in.n;
    size_t max = max_chars ? max_chars : 512;

    size_t n = 0;
    astro_err err;
    int rc = astro_chunk_dialogue(s, len, max_chars, overlap, NULL, 0, &n, &err);
    if (overlap >= max || !astro_utf8_valid(s, len, NULL)) {
        FUZZ_CHECK(rc == ASTRO_EINVAL && n == 0);
        return 0;
    }
    FUZZ_CHECK(rc == ASTRO_OK);
    if (n == 0) return 0;
    FUZZ_CHECK(n <= len);
    astro_dialogue_piece *pc = malloc(n * sizeof *pc);
    if (!pc) return 0;
    size_t n2 = 0;
    FUZZ_CHECK(astro_chunk_dialogue(s, len, max_chars, overlap, pc, n, &n2, &err) == ASTRO_OK);
    FUZZ_CHECK(n2 == n);
    for (size_t i = 0; i < n; i++) {
        size_t a = pc[i].off, l = pc[i].len;
        FUZZ_CHECK(l > 0 && a <= len && l <= len - a);
        FUZZ_CHECK(((unsigned char)s[a] & 0xC0) != 0x80);
        FUZZ_CHECK(a + l == len || ((unsigned char)s[a + l] & 0xC0) != 0x80);
        size_t chars = fi_utf8_chars(s + a, l);
        if (pc[i].prefix_len == 0) {
            FUZZ_CHECK(chars <= max);
            continue;
        }
        size_t pa = pc[i].prefix_off, pl = pc[i].prefix_len;
        FUZZ_CHECK(pa <= len && pl <= len - pa);
        FUZZ_CHECK(s[pa + pl - 1] == ':');
        FUZZ_CHECK(pa + pl <= a);
        size_t label = fi_utf8_chars(s + pa, pl) + 1;
        size_t room = max > label + 16 ? max - label : 16;
        FUZZ_CHECK(chars <= room);
    }
    if (n > 1) {
        size_t cap = n - 1, n3 = 0;
        astro_dialogue_piece *pc2 = malloc(cap * sizeof *pc2);
        if (pc2) {
            FUZZ_CHECK(astro_chunk_dialogue(s, len, max_chars, overlap, pc2, cap, &n3, &err) == ASTRO_OK);
            FUZZ_CHECK(n3 == n && memcmp(pc, pc2, cap * sizeof *pc) == 0);
            free(pc2);
        }
    }
    free(pc);
    return 0;
}
