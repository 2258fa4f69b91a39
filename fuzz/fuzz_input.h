/*
** fuzz_input.h — a tiny reader over a libFuzzer input, shared by the
** harnesses: takes bytes, integers and length-prefixed pieces from the front,
** returning zeros once the input runs out (so every input is usable), and
** FUZZ_CHECK, which aborts with the failed condition (libFuzzer records the
** input as a crash).
*/
#ifndef ASTRO_FUZZ_INPUT_H
#define ASTRO_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* The libFuzzer entry points every harness defines (-Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline uint8_t fi_u8(fuzz_in *in) {
    if (in->n == 0) return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fi_u16(fuzz_in *in) {
    uint16_t v = fi_u8(in);
    return (uint16_t)(v | (uint16_t)fi_u8(in) << 8);
}

static inline uint32_t fi_u32(fuzz_in *in) {
    uint32_t v = fi_u16(in);
    return v | (uint32_t)fi_u16(in) << 16;
}

static inline uint64_t fi_u64(fuzz_in *in) {
    uint64_t v = fi_u32(in);
    return v | (uint64_t)fi_u32(in) << 32;
}

/* Copies up to n bytes into dst (zero-filling what the input lacks). */
static inline void fi_bytes(fuzz_in *in, void *dst, size_t n) {
    size_t k = n < in->n ? n : in->n;
    if (k) memcpy(dst, in->p, k);
    if (n > k) memset((char *)dst + k, 0, n - k);
    in->p += k;
    in->n -= k;
}

static inline float fi_f32(fuzz_in *in) {
    float f;
    fi_bytes(in, &f, sizeof f);
    return f;
}

static inline double fi_f64(fuzz_in *in) {
    double d;
    fi_bytes(in, &d, sizeof d);
    return d;
}

/* Takes a piece of at most max bytes whose length comes from the next byte
 * (or the rest, if shorter); returns a pointer into the input. */
static inline const uint8_t *fi_piece(fuzz_in *in, size_t max, size_t *len) {
    size_t want = fi_u8(in);
    if (want > max) want = max;
    if (want > in->n) want = in->n;
    const uint8_t *p = in->p;
    in->p += want;
    in->n -= want;
    *len = want;
    return p;
}

/* Takes the piece up to (not including) the next byte equal to sep, or the
 * rest of the input; consumes the separator. */
static inline const uint8_t *fi_until(fuzz_in *in, uint8_t sep, size_t *len) {
    const uint8_t *p = in->p;
    const uint8_t *e = in->n ? memchr(p, sep, in->n) : NULL;
    size_t k = e ? (size_t)(e - p) : in->n;
    in->p += k + (e != NULL);
    in->n -= k + (e != NULL);
    *len = k;
    return p;
}

/* Returns the number of code points of valid UTF-8 s[0..n). */
static inline size_t fi_utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

#endif
