/*
** fuzz_filter.h — the time values and search filters the index fuzzers
** (bm25, assoc) draw from their input, so both explore the same shapes:
** an optional allow-list over the first nkeys keys and optional time bounds
** on a 16-step clock.
*/
#ifndef FUZZ_FILTER_H
#define FUZZ_FILTER_H

#include "astro/common.h"
#include "fuzz_input.h"

/* 0 → no time; otherwise one of 16 instants a second apart. */
static inline int64_t fi_time(uint8_t b) {
    return b == 0 ? ASTRO_TIME_NONE : (int64_t)(b % 16) * 1000;
}

/* Fills *f (and the keyset *ks over bits, nbytes of them, naming keys below
 * nkeys) from the input; as_of is drawn only when with_as_of. Returns the
 * flags byte, whose high bits the caller may use for its own choices. */
static inline uint8_t fi_filter(fuzz_in *in, uint8_t *bits, size_t nbytes, uint64_t nkeys, int with_as_of,
                                astro_keyset *ks, astro_filter *f) {
    fi_bytes(in, bits, nbytes);
    ks->bits = bits;
    ks->nbits = (uint64_t)fi_u8(in) % (nkeys + 1);
    astro_filter_init(f);
    uint8_t fb = fi_u8(in);
    if (fb & 1) f->allow = ks;
    f->time_from = (fb & 2) ? fi_time(fi_u8(in)) : ASTRO_TIME_NONE;
    f->time_to = (fb & 4) ? fi_time(fi_u8(in)) : ASTRO_TIME_NONE;
    if (with_as_of) f->as_of = (fb & 8) ? fi_time(fi_u8(in)) : ASTRO_TIME_NONE;
    return fb;
}

#endif
