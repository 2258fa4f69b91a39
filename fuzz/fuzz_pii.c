/*
** fuzz_pii.c — the PII scanner (astro_pii_new / _scan / _redact / _luhn) on
** arbitrary bytes. Input: a country-count byte, one byte per country code
** (from the known codes in either case, plus an unknown one), a byte that
** selects a type mask, then the text. Checks: unknown codes are EINVAL;
** every match lies inside the text with an enabled type; matches come
** grouped by pattern and, within one pattern, in order without overlap; a
** short buffer gets ERANGE with the same count; redaction measures exactly
** what it writes, a short buffer is ERANGE, redacting no type gives the text
** back, and redacting arbitrary (also out-of-range) match lists fails
** cleanly.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/pii.h"
#include "fuzz_input.h"

static const char *const CODES[] = { "SG", "IN", "US", "UK", "GB", "DE", "FR", "IT", "ES",
                                     "AU", "CA", "JP", "CN", "sg", "uk", "jp", "ZZ", "U" };
#define NCODES (sizeof CODES / sizeof CODES[0])

/* Type masks: everything, base types only, single types, odd subsets. */
static uint64_t pick_types(uint8_t b) {
    switch (b % 6) {
    case 0: return 0;
    case 1: return (ASTRO_PII_BIT(ASTRO_PII_BASE_COUNT) - 1);
    case 2: return ASTRO_PII_BIT(b % ASTRO_PII_TYPE_COUNT);
    case 3: return ASTRO_PII_ALL_TYPES & ~ASTRO_PII_BIT(ASTRO_PII_EMAIL) & ~ASTRO_PII_BIT(ASTRO_PII_IP_ADDRESS);
    case 4: return ASTRO_PII_BIT(ASTRO_PII_EMAIL) | ASTRO_PII_BIT(ASTRO_PII_IP_ADDRESS);
    default: return (uint64_t)b * 0x9E3779B97F4A7C15ULL & ASTRO_PII_ALL_TYPES;
    }
}

/* Checks redaction of the n matches m (copied: redact sorts in place). */
static void check_redact(const char *s, size_t len, const astro_pii_match *m, size_t n,
                         uint64_t types, int expect_ok) {
    static const char *const repl[ASTRO_PII_TYPE_COUNT] = { "<e>", NULL, "", "[[card]]" };
    astro_pii_match *mc = malloc((n ? n : 1) * sizeof *mc);
    if (!mc) return;
    if (n) memcpy(mc, m, n * sizeof *mc);
    size_t need = 0;
    int rc = astro_pii_redact(s, len, mc, n, types, repl, NULL, 0, &need, NULL);
    if (!expect_ok) {
        FUZZ_CHECK(rc == ASTRO_EINVAL && need == 0);
        free(mc);
        return;
    }
    FUZZ_CHECK(rc == ASTRO_OK || rc == ASTRO_ERANGE);
    FUZZ_CHECK(rc == ASTRO_OK ? need == 0 : need > 0);
    char *out = malloc(need + 1);
    if (out) {
        size_t got = 0;
        if (n) memcpy(mc, m, n * sizeof *mc);
        FUZZ_CHECK(astro_pii_redact(s, len, mc, n, types, repl, out, need, &got, NULL) == ASTRO_OK);
        FUZZ_CHECK(got == need);
        if (types == 0) FUZZ_CHECK(got == len && (len == 0 || memcmp(out, s, len) == 0));
        if (need) {
            if (n) memcpy(mc, m, n * sizeof *mc);
            FUZZ_CHECK(astro_pii_redact(s, len, mc, n, types, repl, out, need - 1, &got, NULL) == ASTRO_ERANGE);
            FUZZ_CHECK(got == need);
        }
        free(out);
    }
    free(mc);
}

/* Scanners are built once per configuration and kept (direct-mapped by the
 * configuration bytes): building one per input cost most of the run, and a
 * scanner serving many texts is how it is used. */
#define NCACHE 64
static struct { uint8_t key[6]; astro_pii *sc; } cache[NCACHE];

static astro_pii *scanner(const astro_pii_opts *o, const uint8_t *data, size_t size) {
    uint8_t key[6] = { 0 };
    size_t nk = 2 + o->n_countries < size ? 2 + o->n_countries : size;
    memcpy(key, data, nk);
    key[0] %= 5;
    unsigned h = 0;
    for (int i = 0; i < 6; i++) h = h * 31 + key[i];
    h %= NCACHE;
    if (cache[h].sc && memcmp(cache[h].key, key, sizeof key) == 0) return cache[h].sc;
    astro_pii *sc = NULL;
    FUZZ_CHECK(astro_pii_new(o, &sc, NULL) == ASTRO_OK && sc != NULL);
    astro_pii_free(cache[h].sc);
    cache[h].sc = sc;
    memcpy(cache[h].key, key, sizeof key);
    return sc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    const char *codes[4];
    size_t nc = fi_u8(&in) % 5;
    int unknown = 0;
    for (size_t i = 0; i < nc; i++) {
        codes[i] = CODES[fi_u8(&in) % NCODES];
        unknown |= strcmp(codes[i], "ZZ") == 0 || strcmp(codes[i], "U") == 0;
    }
    uint8_t tb = fi_u8(&in);
    astro_pii_opts o = { codes, nc, pick_types(tb) };
    const char *s = (const char *)in.p;
    size_t len = in.n;

    FUZZ_CHECK(astro_pii_luhn(s, len) <= 1);
    if (unknown) {
        astro_pii *bad = NULL;
        FUZZ_CHECK(astro_pii_new(&o, &bad, NULL) == ASTRO_EINVAL && bad == NULL);
        return 0;
    }
    astro_pii *sc = scanner(&o, data, size);
    if (!sc) return 0;
    uint64_t enabled = o.types ? o.types : ASTRO_PII_ALL_TYPES;

    size_t n = 0;
    int rc = astro_pii_scan(sc, s, len, NULL, 0, &n, NULL);
    FUZZ_CHECK(rc == (n ? ASTRO_ERANGE : ASTRO_OK));
    FUZZ_CHECK(n <= len);
    astro_pii_match *m = malloc((n + 1) * sizeof *m);
    if (!m) goto done;
    size_t n2 = 0;
    FUZZ_CHECK(astro_pii_scan(sc, s, len, m, n, &n2, NULL) == ASTRO_OK && n2 == n);
    uint64_t done_types = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(m[i].type < ASTRO_PII_TYPE_COUNT && (enabled & ASTRO_PII_BIT(m[i].type)));
        FUZZ_CHECK(m[i].len > 0 && m[i].off < len && m[i].len <= len - m[i].off);
        FUZZ_CHECK(astro_pii_type_name(m[i].type) != NULL);
        FUZZ_CHECK(astro_pii_type_from_name(astro_pii_type_name(m[i].type)) == (int)m[i].type);
        if (i > 0 && m[i].type == m[i - 1].type) {
            FUZZ_CHECK(m[i].off >= m[i - 1].off + m[i - 1].len);
        } else {
            FUZZ_CHECK(!(done_types & ASTRO_PII_BIT(m[i].type)));   /* one group per type */
            if (i > 0) done_types |= ASTRO_PII_BIT(m[i - 1].type);
        }
    }
    if (n > 0) {
        size_t n3 = 0;
        FUZZ_CHECK(astro_pii_scan(sc, s, len, m, n - 1, &n3, NULL) == ASTRO_ERANGE && n3 == n);
        n3 = 0;
        FUZZ_CHECK(astro_pii_scan(sc, s, len, m, n, &n3, NULL) == ASTRO_OK && n3 == n);
    }
    check_redact(s, len, m, n, ASTRO_PII_ALL_TYPES, 1);
    check_redact(s, len, m, n, 0, 1);
    check_redact(s, len, m, n, pick_types((uint8_t)(tb + 1)), 1);
    free(m);

    /* Arbitrary match lists: unknown types and spans past the end are EINVAL. */
    {
        fuzz_in mi = { data, size < 64 ? size : 64 };
        astro_pii_match am[8];
        size_t an = fi_u8(&mi) % 9;
        int ok = 1;
        for (size_t i = 0; i < an; i++) {
            am[i].type = fi_u8(&mi) % (ASTRO_PII_TYPE_COUNT + 2);
            am[i].reserved = 0;
            am[i].off = fi_u8(&mi) % (len + 3);
            am[i].len = fi_u8(&mi) % 40;
            if (am[i].type >= ASTRO_PII_TYPE_COUNT || am[i].off > len || am[i].len > len - am[i].off) ok = 0;
        }
        check_redact(s, len, am, an, ASTRO_PII_ALL_TYPES, ok);
    }
done:
    return 0;
}
