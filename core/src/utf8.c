/*
** utf8.c — strict UTF-8 validation and code point counting. Everything that
** measures text in characters (chunker, token estimate, embedder trigrams)
** relies on input that passed astro_utf8_valid, so this is deliberately strict:
** overlong forms, UTF-16 surrogates, values above U+10FFFF and truncated
** sequences are all rejected.
*/
#include "astro/text.h"

/* Returns 1 if s[0..len) is well-formed UTF-8; otherwise 0 and, if bad_offset
 * is non-NULL, the byte offset of the first ill-formed sequence. */
int astro_utf8_valid(const char *s, size_t len, size_t *bad_offset) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    if (!s && len) {
        if (bad_offset) *bad_offset = 0;
        return 0;
    }
    while (i < len) {
        unsigned c = u[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }           /* no overlongs */
        else if (c == 0xED) { need = 2; hi = 0x9F; }           /* no surrogates */
        else if (c >= 0xE1 && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }           /* no overlongs */
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) { need = 3; hi = 0x8F; }           /* <= U+10FFFF */
        else goto bad;                   /* stray continuation, C0/C1, F5..FF */
        if (len - i <= need) goto bad;   /* truncated */
        if (u[i + 1] < lo || u[i + 1] > hi) goto bad;
        for (size_t k = 2; k <= need; k++)
            if ((u[i + k] & 0xC0) != 0x80) goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_offset) *bad_offset = i;
    return 0;
}

/* Returns the number of code points in s[0..len): every byte that is not a
 * continuation byte starts one. */
size_t astro_utf8_count(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    if (!s) return 0;
    for (size_t i = 0; i < len; i++) n += (u[i] & 0xC0) != 0x80;
    return n;
}
