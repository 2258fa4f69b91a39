/*
** tokens.c — a cheap, model-free estimate of how many LLM tokens a text costs.
** Used for context budgeting, where a stable estimate beats an exact count for
** one particular tokenizer. Mirrors the reference heuristic: about 4 characters
** per token for alphabetic scripts, 1.5 for CJK-heavy text, and never fewer
** than 1.33 tokens per whitespace-separated word.
*/
#include "astro/text.h"

/* Returns 1 if code point cp belongs to the CJK ranges the estimate counts. */
static int is_cjk(uint32_t cp) {
    return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF);
}

/* Returns 1 for ASCII whitespace. */
static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Returns the token estimate of s[0..len) as documented in text.h; at least 1.
 * Bytes that do not decode are counted as one character each. */
size_t astro_token_count(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t chars = 0, cjk = 0, words = 0;
    int in_word = 0;
    if (!s) return 1;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        uint32_t cp = c;
        size_t n = 1;
        if (c >= 0xE0 && c < 0xF0 && i + 2 < len) {
            cp = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            n = 3;
        } else if (c >= 0xC0 && c < 0xE0 && i + 1 < len) {
            n = 2;
        } else if (c >= 0xF0 && i + 3 < len) {
            n = 4;
        }
        chars++;
        cjk += is_cjk(cp);
        if (is_space((unsigned char)c)) {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
        i += n;
    }
    if (chars == 0) return 1;
    size_t by_chars = (cjk * 10 > chars * 3) ? (size_t)((double)chars / 1.5) : chars / 4;
    size_t by_words = (size_t)((double)words * 1.33);
    size_t r = by_chars > by_words ? by_chars : by_words;
    return r ? r : 1;
}
