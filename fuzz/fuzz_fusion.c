/*
** fuzz_fusion.c — reciprocal rank fusion, weighted score fusion and MMR
** (fusion.c) on arbitrary ranked lists, weights, scores (NaN and infinities
** included), k, lambda and vectors. Input: a selector byte, then lists
** (length, weight, keys from a small or the full key space, scores as raw
** float bits) and the MMR candidates. Checks: bad weights, k and NaN scores
** are EINVAL and valid input never fails; output keys are distinct members
** of the input, at most cap of them, as many as there are distinct keys
** (up to cap), scores never NaN and non-increasing; a smaller cap gives a
** prefix; MMR picks min(k, n) distinct in-range candidates.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/fusion.h"
#include "fuzz_input.h"

#define MAXL 4
#define MAXN 48

static double pick_double(fuzz_in *in) {
    static const double V[] = { 0.0, 1.0, 0.5, 2.0, 1e-300, 1e308, -1.0, -0.0 };
    uint8_t b = fi_u8(in);
    if (b < 200) return V[b % 8];
    if (b < 230) return fi_f64(in);   /* raw bits: NaN, inf, denormals */
    return b & 1 ? INFINITY : NAN;
}

static size_t distinct(const uint64_t *k, size_t n, uint64_t *tmp) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < d && tmp[j] != k[i]) j++;
        if (j == d) tmp[d++] = k[i];
    }
    return d;
}

static int member(const uint64_t *k, size_t n, uint64_t key) {
    for (size_t i = 0; i < n; i++)
        if (k[i] == key) return 1;
    return 0;
}

/* Checks a fusion result: keys from all[0..nall), distinct, count, order. */
static void check_out(const uint64_t *all, size_t nall, size_t cap, const uint64_t *ok, const double *os, size_t n) {
    uint64_t tmp[MAXL * MAXN];
    size_t d = distinct(all, nall, tmp);
    FUZZ_CHECK(n == (d < cap ? d : cap));
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(member(all, nall, ok[i]));
        for (size_t j = 0; j < i; j++) FUZZ_CHECK(ok[i] != ok[j]);
        FUZZ_CHECK(!isnan(os[i]));
        if (i > 0) FUZZ_CHECK(os[i] <= os[i - 1]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    uint8_t sel = fi_u8(&in);
    size_t nl = sel % (MAXL + 1);
    uint64_t keys[MAXL][MAXN];
    float scores[MAXL][MAXN];
    astro_ranked rl[MAXL];
    astro_scored sl[MAXL];
    uint64_t all[MAXL * MAXN];
    size_t nall = 0;
    int bad_w = 0, nan_s = 0;
    for (size_t l = 0; l < nl; l++) {
        size_t n = fi_u8(&in) % (MAXN + 1);
        double w = pick_double(&in);
        int small = fi_u8(&in) & 1;
        for (size_t i = 0; i < n; i++) {
            keys[l][i] = small ? fi_u8(&in) % 16 : fi_u64(&in);
            scores[l][i] = fi_f32(&in);
        }
        rl[l] = (astro_ranked){ keys[l], n, w };
        sl[l] = (astro_scored){ keys[l], scores[l], n, w };
        if (!(w >= 0) || !isfinite(w)) bad_w = 1;
        if (w != 0) {
            for (size_t i = 0; i < n; i++) {
                all[nall++] = keys[l][i];
                if (isnan(scores[l][i])) nan_s = 1;
            }
        }
    }
    size_t cap = fi_u8(&in) % (MAXL * MAXN + 2);
    double k = pick_double(&in);
    uint64_t ok[MAXL * MAXN + 2], ok2[MAXL * MAXN + 2];
    double os[MAXL * MAXN + 2], os2[MAXL * MAXN + 2];
    size_t n = 0, n2 = 0;

    int rc = astro_rrf_fuse(rl, nl, k, ok, os, cap, &n, NULL);
    if (bad_w || !(k >= 0) || !isfinite(k)) {
        FUZZ_CHECK(rc == ASTRO_EINVAL && n == 0);
    } else {
        FUZZ_CHECK(rc == ASTRO_OK);
        check_out(all, nall, cap, ok, os, n);
        if (n > 1) {
            FUZZ_CHECK(astro_rrf_fuse(rl, nl, k, ok2, os2, n - 1, &n2, NULL) == ASTRO_OK && n2 == n - 1);
            FUZZ_CHECK(memcmp(ok, ok2, n2 * sizeof *ok) == 0);
        }
    }

    n = 0;
    rc = astro_score_fuse(sl, nl, ok, os, cap, &n, NULL);
    if (bad_w || nan_s) {
        FUZZ_CHECK(rc == ASTRO_EINVAL && n == 0);
    } else {
        FUZZ_CHECK(rc == ASTRO_OK);
        check_out(all, nall, cap, ok, os, n);
        if (n > 1) {
            FUZZ_CHECK(astro_score_fuse(sl, nl, ok2, os2, n - 1, &n2, NULL) == ASTRO_OK && n2 == n - 1);
            FUZZ_CHECK(memcmp(ok, ok2, n2 * sizeof *ok) == 0);
        }
    }

    /* MMR over up to 16 candidates of up to 8 dims (stride may pad). */
    size_t mn = fi_u8(&in) % 17, dim = fi_u8(&in) % 9, stride = dim + fi_u8(&in) % 3;
    float vecs[16 * 10];
    double rel[16], work[32];
    size_t idx[16];
    int nonfinite = 0, nanrel = 0;
    for (size_t i = 0; i < mn * stride; i++) {
        uint8_t b = fi_u8(&in);
        vecs[i] = b < 250 ? (float)(int8_t)b / 16.0f : (b & 1 ? INFINITY : NAN);
        if (i % stride < dim && !isfinite(vecs[i])) nonfinite = 1;
    }
    for (size_t i = 0; i < mn; i++) {
        rel[i] = pick_double(&in);
        if (isnan(rel[i])) nanrel = 1;
    }
    double lambda = pick_double(&in);
    size_t kk = fi_u8(&in) % 20;
    n = 0;
    rc = astro_mmr(vecs, mn, dim, stride, rel, lambda, kk, work, idx, &n, NULL);
    if (!(lambda >= 0 && lambda <= 1) || (mn && (dim == 0 || nonfinite || nanrel))) {
        FUZZ_CHECK(rc == ASTRO_EINVAL && n == 0);
    } else {
        FUZZ_CHECK(rc == ASTRO_OK);
        FUZZ_CHECK(n == (kk < mn ? kk : mn));
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(idx[i] < mn);
            for (size_t j = 0; j < i; j++) FUZZ_CHECK(idx[i] != idx[j]);
        }
    }
    return 0;
}
