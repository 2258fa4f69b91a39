/*
** chunk.c — splits text into retrieval-sized chunks, reported as byte spans of
** the input so callers slice without copying.
**
** Sentence and paragraph strategies first cut the text into units (sentences
** end after . ! ? followed by whitespace; paragraphs end at a blank line), then
** pack units greedily: a chunk runs from the start of its first unit to the end
** of its last, keeping the original bytes between them. A unit joins the
** current chunk only if the resulting span stays within max_chars characters;
** with the usual single space between sentences (or one blank line between
** paragraphs) that is exactly the reference rule chunk + 1 (+2) + unit <= max.
** Counting the real span instead of the reference's joined string is what
** guarantees the header's promise that no chunk exceeds max_chars.
** Units longer than max_chars, and the fixed strategy, use windows of
** max_chars characters stepping max_chars - overlap; like the reference the
** last window may hold only overlap. Every span is trimmed of ASCII whitespace;
** empty spans are dropped. All counts are code points.
*/
#include "astro/text.h"

typedef struct chunk_ctx {
    const char *s;
    astro_span *out;
    size_t cap;
    size_t n;
    size_t max_chars;
    size_t step;
} chunk_ctx;

/* Returns 1 for ASCII whitespace. */
static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Returns the byte offset just past `count` code points starting at i (or end). */
static size_t advance_chars(const char *s, size_t i, size_t end, size_t count) {
    while (count > 0 && i < end) {
        i++;
        while (i < end && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        count--;
    }
    return i;
}

/* Trims [a, b) and records it unless empty; counts it even past cap. */
static void emit(chunk_ctx *c, size_t a, size_t b) {
    while (a < b && is_space((unsigned char)c->s[a])) a++;
    while (b > a && is_space((unsigned char)c->s[b - 1])) b--;
    if (a == b) return;
    if (c->n < c->cap) {
        c->out[c->n].off = a;
        c->out[c->n].len = b - a;
    }
    c->n++;
}

/* Emits fixed windows over [a, b), which holds nchars code points. */
static void emit_windows(chunk_ctx *c, size_t a, size_t b, size_t nchars) {
    size_t start = a;
    for (size_t pos = 0; pos < nchars; pos += c->step) {
        size_t end = advance_chars(c->s, start, b, c->max_chars);
        emit(c, start, end);
        start = advance_chars(c->s, start, b, c->step);
    }
}

/* Greedy packer state: the open chunk spans [cur_a, cur_b) with cur_chars
 * code points; cur_a == SIZE_MAX means no open chunk. */
typedef struct packer {
    size_t cur_a, cur_b, cur_chars;
} packer;

/* Closes the open chunk, if any. */
static void pack_flush(chunk_ctx *c, packer *p) {
    if (p->cur_a != SIZE_MAX) emit(c, p->cur_a, p->cur_b);
    p->cur_a = SIZE_MAX;
    p->cur_chars = 0;
}

/* Adds the raw unit [a, b) to the packer: trims it, windows it if too long,
 * appends it to the open chunk if the span still fits, else starts a new one. */
static void pack_unit(chunk_ctx *c, packer *p, size_t a, size_t b) {
    while (a < b && is_space((unsigned char)c->s[a])) a++;
    while (b > a && is_space((unsigned char)c->s[b - 1])) b--;
    if (a == b) return;
    size_t uchars = astro_utf8_count(c->s + a, b - a);
    if (uchars > c->max_chars) {
        pack_flush(c, p);
        emit_windows(c, a, b, uchars);
        return;
    }
    if (p->cur_a != SIZE_MAX) {
        size_t span = p->cur_chars + astro_utf8_count(c->s + p->cur_b, a - p->cur_b) + uchars;
        if (span <= c->max_chars) {
            p->cur_b = b;
            p->cur_chars = span;
            return;
        }
        pack_flush(c, p);
    }
    p->cur_a = a;
    p->cur_b = b;
    p->cur_chars = uchars;
}

/* Cuts after . ! ? followed by whitespace and packs the sentences. */
static void chunk_sentences(chunk_ctx *c, size_t len) {
    packer p = { SIZE_MAX, 0, 0 };
    const char *s = c->s;
    size_t ustart = 0;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && i + 1 < len &&
            is_space((unsigned char)s[i + 1])) {
            pack_unit(c, &p, ustart, i + 1);
            ustart = i + 1;
        }
    }
    pack_unit(c, &p, ustart, len);
    pack_flush(c, &p);
}

/* Cuts at newline, optional spaces/tabs/CRs, newline and packs paragraphs. */
static void chunk_paragraphs(chunk_ctx *c, size_t len) {
    packer p = { SIZE_MAX, 0, 0 };
    const char *s = c->s;
    size_t ustart = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n') continue;
        size_t j = i + 1;
        while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\v' ||
                           s[j] == '\f'))
            j++;
        if (j < len && s[j] == '\n') {
            pack_unit(c, &p, ustart, i);
            ustart = j + 1;
            i = j;
        }
    }
    pack_unit(c, &p, ustart, len);
    pack_flush(c, &p);
}

/* Fixed strategy: the trimmed whole if it fits, else overlapping windows. */
static void chunk_fixed(chunk_ctx *c, size_t len) {
    size_t a = 0, b = len;
    while (a < b && is_space((unsigned char)c->s[a])) a++;
    while (b > a && is_space((unsigned char)c->s[b - 1])) b--;
    if (a == b) return;
    size_t nchars = astro_utf8_count(c->s + a, b - a);
    if (nchars <= c->max_chars) emit(c, a, b);
    else emit_windows(c, a, b, nchars);
}

/* Validates arguments and input, then dispatches on strategy. Sets *n_out to
 * the total chunk count even when it exceeds cap. */
int astro_chunk(const char *s, size_t len, const astro_chunk_opts *opts,
                astro_span *out, size_t cap, size_t *n_out, astro_err *err) {
    astro_chunk_strategy strategy = ASTRO_CHUNK_SENTENCE;
    size_t max_chars = 512, overlap = 50;
    size_t bad = 0;
    if (n_out) *n_out = 0;
    if (!n_out) return astro_err_set(err, ASTRO_EINVAL, "chunk: n_out is NULL");
    if (!s && len) return astro_err_set(err, ASTRO_EINVAL, "chunk: text is NULL");
    if (!out && cap) return astro_err_set(err, ASTRO_EINVAL, "chunk: out is NULL but cap is %zu", cap);
    if (opts) {
        strategy = opts->strategy;
        max_chars = opts->max_chars ? opts->max_chars : 512;
        overlap = opts->overlap;
    }
    if (strategy != ASTRO_CHUNK_SENTENCE && strategy != ASTRO_CHUNK_PARAGRAPH &&
        strategy != ASTRO_CHUNK_FIXED)
        return astro_err_set(err, ASTRO_EINVAL, "chunk: unknown strategy %d", (int)strategy);
    if (overlap >= max_chars)
        return astro_err_set(err, ASTRO_EINVAL,
                             "chunk: overlap (%zu) must be smaller than max_chars (%zu)",
                             overlap, max_chars);
    if (!astro_utf8_valid(s, len, &bad))
        return astro_err_set(err, ASTRO_EINVAL, "chunk: invalid UTF-8 at byte offset %zu", bad);
    chunk_ctx c = { s, out, cap, 0, max_chars, max_chars - overlap };
    if (len > 0) {
        if (strategy == ASTRO_CHUNK_SENTENCE) chunk_sentences(&c, len);
        else if (strategy == ASTRO_CHUNK_PARAGRAPH) chunk_paragraphs(&c, len);
        else chunk_fixed(&c, len);
    }
    *n_out = c.n;
    return ASTRO_OK;
}
