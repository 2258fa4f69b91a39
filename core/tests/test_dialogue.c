/*
** test_dialogue.c — dialogue chunking: whole turns packed within the limit,
** continuation lines kept with their turn, over-long turns split by sentence
** with the speaker label on every piece (an unlabelled one within the
** limit), the no-speaker sentence fallback, and option validation.
*/
#include <stdio.h>
#include <string.h>

#include "astro/dialogue.h"
#include "check.h"

/* Writes piece p of s as "prefix text" into buf; returns buf. */
static const char *piece(const char *s, const astro_dialogue_piece *p, char *buf, size_t cap) {
    size_t n = 0;
    if (p->prefix_len) {
        n = (size_t)snprintf(buf, cap, "%.*s ", (int)p->prefix_len, s + p->prefix_off);
    }
    snprintf(buf + n, cap - n, "%.*s", (int)p->len, s + p->off);
    return buf;
}

int main(void) {
    astro_dialogue_piece out[64];
    size_t n = 0;
    char buf[1024];
    astro_err err;

    /* dialogue-1: three short turns fit one chunk of 100 characters */
    const char *d1 = "Ana: I moved to Lisbon.\nBen: When?\nAna: Last May, for the new job.";
    CHECK("dialogue-1.0", astro_chunk_dialogue(d1, strlen(d1), 100, 10, out, 64, &n, &err) == ASTRO_OK);
    CHECK("dialogue-1.1", n == 1);
    CHECK("dialogue-1.2", strcmp(piece(d1, &out[0], buf, sizeof buf), d1) == 0);

    /* dialogue-2: a small limit packs turns greedily without splitting any */
    CHECK("dialogue-2.0", astro_chunk_dialogue(d1, strlen(d1), 40, 5, out, 64, &n, &err) == ASTRO_OK);
    CHECK("dialogue-2.1", n == 2);
    CHECK("dialogue-2.2", strcmp(piece(d1, &out[0], buf, sizeof buf), "Ana: I moved to Lisbon.\nBen: When?") == 0);
    CHECK("dialogue-2.3", strcmp(piece(d1, &out[1], buf, sizeof buf), "Ana: Last May, for the new job.") == 0);

    /* dialogue-3: continuation lines stay in their turn */
    const char *d3 = "Ana: first line\nstill Ana here\n\nBen: reply";
    CHECK("dialogue-3.0", astro_chunk_dialogue(d3, strlen(d3), 30, 5, out, 64, &n, &err) == ASTRO_OK);
    CHECK("dialogue-3.1", n == 2);
    CHECK("dialogue-3.2", strcmp(piece(d3, &out[0], buf, sizeof buf), "Ana: first line\nstill Ana here") == 0);
    CHECK("dialogue-3.3", strcmp(piece(d3, &out[1], buf, sizeof buf), "Ben: reply") == 0);

    /* dialogue-4: an over-long turn is split by sentence, label on each piece */
    const char *d4 = "Dr Smith: The first finding is clear. The second one needs more data. "
                     "The third is a surprise.\nAna: Thanks.";
    CHECK("dialogue-4.0", astro_chunk_dialogue(d4, strlen(d4), 50, 5, out, 64, &n, &err) == ASTRO_OK);
    CHECK("dialogue-4.1", n == 4);
    CHECK("dialogue-4.2", strcmp(piece(d4, &out[0], buf, sizeof buf), "Dr Smith: The first finding is clear.") == 0);
    CHECK("dialogue-4.3", strcmp(piece(d4, &out[1], buf, sizeof buf), "Dr Smith: The second one needs more data.") == 0);
    CHECK("dialogue-4.4", strcmp(piece(d4, &out[2], buf, sizeof buf), "Dr Smith: The third is a surprise.") == 0);
    CHECK("dialogue-4.5", strcmp(piece(d4, &out[3], buf, sizeof buf), "Ana: Thanks.") == 0);

    /* dialogue-5: no speaker labels → sentence chunks */
    const char *d5 = "Plain prose here. Another sentence follows.";
    CHECK("dialogue-5.0", astro_chunk_dialogue(d5, strlen(d5), 30, 5, out, 64, &n, &err) == ASTRO_OK);
    CHECK("dialogue-5.1", n == 2);
    CHECK("dialogue-5.2", out[0].prefix_len == 0 && strcmp(piece(d5, &out[0], buf, sizeof buf), "Plain prose here.") == 0);

    /* dialogue-6: empty and whitespace-only input give nothing */
    CHECK("dialogue-6.0", astro_chunk_dialogue("", 0, 100, 5, out, 64, &n, &err) == ASTRO_OK && n == 0);
    CHECK("dialogue-6.1", astro_chunk_dialogue(" \n\n ", 4, 100, 5, out, 64, &n, &err) == ASTRO_OK && n == 0);

    /* dialogue-7: errors */
    CHECK("dialogue-7.0", astro_chunk_dialogue(d1, strlen(d1), 10, 10, out, 64, &n, &err) == ASTRO_EINVAL);
    CHECK("dialogue-7.1", strcmp(err.msg, "chunk: overlap (10) must be smaller than max_chars (10)") == 0);
    CHECK("dialogue-7.2", astro_chunk_dialogue("A: \xff", 4, 100, 5, out, 64, &n, &err) == ASTRO_EINVAL);
    CHECK("dialogue-7.3", strcmp(err.msg, "chunk: invalid UTF-8 at byte offset 3") == 0);

    /* dialogue-8: cap smaller than the count still reports the total */
    CHECK("dialogue-8.0", astro_chunk_dialogue(d4, strlen(d4), 50, 5, out, 1, &n, &err) == ASTRO_OK && n == 4);
    CHECK("dialogue-8.1", astro_chunk_dialogue(d4, strlen(d4), 50, 5, NULL, 0, &n, &err) == ASTRO_OK && n == 4);

    /* dialogue-9 (found by fuzz/fuzz_dialogue.c): an over-long unlabelled
     * turn before the first speaker was cut into pieces of 16 characters
     * (the floor meant for room beside a label) although max_chars is 10 */
    const char *d9 = "untitled preamble line that runs long\nBob: hi\nAmy: hello. Bye.";
    CHECK("dialogue-9.0", astro_chunk_dialogue(d9, strlen(d9), 10, 0, out, 64, &n, &err) == ASTRO_OK && n > 3);
    int fits = 1;
    for (size_t i = 0; i < n && i < 64; i++) fits &= out[i].prefix_len > 0 || out[i].len <= 10;
    CHECK("dialogue-9.1", fits);
    CHECK("dialogue-9.2", out[0].prefix_len == 0 && out[0].off == 0 && out[0].len >= 8 && memcmp(d9, "untitled", 8) == 0);

    return check_report("test_dialogue");
}
