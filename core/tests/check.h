/*
** check.h — what every core test binary shares: the CHECK(id, cond) macro,
** which counts a failed condition in `failures` and prints where and which
** case failed (main returns check_report(name)), and a fixed-seed PRNG for the
** tests that sweep random vectors. Included by tests/test_*.c only.
*/
#ifndef ASTRO_TEST_CHECK_H
#define ASTRO_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int failures;
#define CHECK(id, cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, id, #cond); \
        }                                                                      \
    } while (0)

/* main's return value: 0, or 1 after printing how many checks of test
 * `name` failed. */
static inline int check_report(const char *name) {
    if (failures) fprintf(stderr, "%s: %d failure(s)\n", name, failures);
    return failures ? 1 : 0;
}

/* Returns the next value of a fixed-seed xorshift64* generator in [-1, 1). */
static inline float rnd(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 2685821657736338717ULL;
    return (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#endif
