/*
** dialogue.h — dialogue chunking: speaker turns kept whole.
**
** A line that starts with a letter followed by word characters or spaces and
** a colon ("Caroline: ...", "Dr Smith: ...") opens a turn; other non-blank
** lines continue the current turn. Turns are packed greedily into chunks of
** at most max_chars characters. A turn longer than max_chars is cut with the
** sentence strategy into pieces of max_chars minus the label, and each piece
** carries the speaker label as a prefix. Text with no speaker labels is
** chunked by sentences. All counts are code points.
*/
#ifndef ASTRO_DIALOGUE_H
#define ASTRO_DIALOGUE_H

#include "astro/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A dialogue chunk: the text span [off, off+len) of the input, preceded by
 * the prefix span [prefix_off, prefix_off+prefix_len) and one space when
 * prefix_len > 0 (the speaker label of a turn that had to be split). */
typedef struct astro_dialogue_piece {
    size_t prefix_off;
    size_t prefix_len;
    size_t off;
    size_t len;
} astro_dialogue_piece;

/* Chunks valid UTF-8 s[0..len) as a dialogue. Writes at most cap pieces and
 * sets *n_out to the total count (retry with a larger buffer when it exceeds
 * cap). overlap applies to the fixed windows of over-long sentences, as in
 * astro_chunk. Returns ASTRO_OK or ASTRO_EINVAL (bad UTF-8, overlap >= max). */
int astro_chunk_dialogue(const char *s, size_t len, size_t max_chars, size_t overlap,
                         astro_dialogue_piece *out, size_t cap, size_t *n_out, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
