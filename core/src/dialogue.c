/*
** dialogue.c — the dialogue chunk strategy (see astro/dialogue.h): find the
** speaker turns line by line, pack whole turns greedily, and split only a
** turn that alone exceeds the limit — by sentences, each piece prefixed with
** the speaker label so no piece loses who said it.
*/
#include <stdlib.h>

#include "astro/dialogue.h"

typedef struct dctx {
    const char *s;
    astro_dialogue_piece *out;
    size_t cap;
    size_t n;
    size_t max_chars;
    size_t overlap;
    /* the open chunk of packed turns: [start, end) and its character count */
    size_t cur_start, cur_end, cur_chars;
    int has_cur;
} dctx;

/* Returns 1 for ASCII whitespace. */
static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_word(unsigned char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c >= 0x80; }

/* Returns the length of the speaker label (up to and including ':') that
 * opens line [a, b), or 0 when the line does not open a turn. */
static size_t label_len(const char *s, size_t a, size_t b) {
    if (a >= b || !is_alpha((unsigned char)s[a])) return 0;
    for (size_t i = a + 1; i < b; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':') return i - a + 1;
        if (!is_word(c) && c != ' ' && c != '\t') return 0;
    }
    return 0;
}

/* Appends a piece (counted even past cap). */
static void put(dctx *c, size_t poff, size_t plen, size_t off, size_t len) {
    if (len == 0) return;
    if (c->n < c->cap) {
        c->out[c->n].prefix_off = poff;
        c->out[c->n].prefix_len = plen;
        c->out[c->n].off = off;
        c->out[c->n].len = len;
    }
    c->n++;
}

static void flush(dctx *c) {
    if (c->has_cur) put(c, 0, 0, c->cur_start, c->cur_end - c->cur_start);
    c->has_cur = 0;
}

/* Splits an over-long turn [a, b) whose label is [a, a+lab) by sentences. */
static int split_turn(dctx *c, size_t a, size_t b, size_t lab, astro_err *err) {
    size_t body = a + lab;
    while (body < b && is_space((unsigned char)c->s[body])) body++;
    size_t label_chars = lab ? astro_utf8_count(c->s + a, lab) + 1 : 0;
    astro_chunk_opts o;
    o.strategy = ASTRO_CHUNK_SENTENCE;
    /* Pieces of max_chars minus the label, but with room for 16 characters
     * beside a long label; without a label, exactly max_chars. */
    o.max_chars = !lab ? c->max_chars : c->max_chars > label_chars + 16 ? c->max_chars - label_chars : 16;
    o.overlap = c->overlap < o.max_chars ? c->overlap : o.max_chars / 4;
    size_t total = 0;
    int rc = astro_chunk(c->s + body, b - body, &o, NULL, 0, &total, err);
    if (rc != ASTRO_OK) return rc;
    if (total == 0) return ASTRO_OK;
    astro_span *spans = malloc(total * sizeof *spans);
    if (!spans) return astro_err_set(err, ASTRO_ENOMEM, "out of memory splitting a dialogue turn");
    rc = astro_chunk(c->s + body, b - body, &o, spans, total, &total, err);
    if (rc == ASTRO_OK) {
        for (size_t i = 0; i < total; i++)
            put(c, lab ? a : 0, lab, body + spans[i].off, spans[i].len);
    }
    free(spans);
    return rc;
}

/* Adds the turn [a, b) (trimmed) with label length lab to the chunk stream. */
static int add_turn(dctx *c, size_t a, size_t b, size_t lab, astro_err *err) {
    while (b > a && is_space((unsigned char)c->s[b - 1])) b--;
    if (a >= b) return ASTRO_OK;
    size_t chars = astro_utf8_count(c->s + a, b - a);
    if (chars > c->max_chars) {
        flush(c);
        return split_turn(c, a, b, lab, err);
    }
    if (c->has_cur) {
        size_t joined = astro_utf8_count(c->s + c->cur_start, b - c->cur_start);
        if (joined <= c->max_chars) {
            c->cur_end = b;
            c->cur_chars = joined;
            return ASTRO_OK;
        }
        flush(c);
    }
    c->cur_start = a;
    c->cur_end = b;
    c->cur_chars = chars;
    c->has_cur = 1;
    return ASTRO_OK;
}

int astro_chunk_dialogue(const char *s, size_t len, size_t max_chars, size_t overlap,
                         astro_dialogue_piece *out, size_t cap, size_t *n_out, astro_err *err) {
    if (n_out) *n_out = 0;
    if (!s && len) return astro_err_set(err, ASTRO_EINVAL, "chunk: text is NULL");
    if (!n_out) return astro_err_set(err, ASTRO_EINVAL, "chunk: n_out is NULL");
    if (max_chars == 0) max_chars = 512;
    if (overlap >= max_chars)
        return astro_err_set(err, ASTRO_EINVAL, "chunk: overlap (%zu) must be smaller than max_chars (%zu)", overlap, max_chars);
    size_t bad = 0;
    if (!astro_utf8_valid(s, len, &bad))
        return astro_err_set(err, ASTRO_EINVAL, "chunk: invalid UTF-8 at byte offset %zu", bad);

    dctx c = { s, out, out ? cap : 0, 0, max_chars, overlap, 0, 0, 0, 0 };
    size_t turn_start = 0, turn_end = 0, turn_lab = 0;
    int in_turn = 0, any_label = 0;
    for (size_t i = 0; i < len;) {
        size_t eol = i;
        while (eol < len && s[eol] != '\n') eol++;
        size_t a = i, b = eol;
        while (a < b && is_space((unsigned char)s[a])) a++;
        while (b > a && is_space((unsigned char)s[b - 1])) b--;
        if (a < b) {
            size_t lab = label_len(s, a, b);
            if (lab) {
                any_label = 1;
                if (in_turn) {
                    int rc = add_turn(&c, turn_start, turn_end, turn_lab, err);
                    if (rc != ASTRO_OK) return rc;
                }
                turn_start = a; turn_end = b; turn_lab = lab; in_turn = 1;
            } else if (in_turn) {
                turn_end = b;
            } else {
                turn_start = a; turn_end = b; turn_lab = 0; in_turn = 1;
            }
        }
        i = eol < len ? eol + 1 : len;
    }
    if (!any_label) {
        /* No speakers: the reference falls back to sentence chunking. */
        astro_chunk_opts o = { ASTRO_CHUNK_SENTENCE, max_chars, overlap };
        size_t total = 0;
        int rc = astro_chunk(s, len, &o, NULL, 0, &total, err);
        if (rc != ASTRO_OK) return rc;
        if (total == 0) return ASTRO_OK;
        astro_span *spans = malloc(total * sizeof *spans);
        if (!spans) return astro_err_set(err, ASTRO_ENOMEM, "out of memory chunking dialogue");
        rc = astro_chunk(s, len, &o, spans, total, &total, err);
        if (rc == ASTRO_OK)
            for (size_t k = 0; k < total; k++) put(&c, 0, 0, spans[k].off, spans[k].len);
        free(spans);
        *n_out = c.n;
        return rc;
    }
    if (in_turn) {
        int rc = add_turn(&c, turn_start, turn_end, turn_lab, err);
        if (rc != ASTRO_OK) return rc;
    }
    flush(&c);
    *n_out = c.n;
    return ASTRO_OK;
}
