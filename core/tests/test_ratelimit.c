/*
** test_ratelimit.c — token buckets (start full, refill per_minute/60 per
** second, capacity cap, retry_after, clock going backwards, changed rate),
** the bound on buckets with oldest-inserted eviction, key isolation and the
** daily quota counters (limit, day roll-over, eviction).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "astro/ratelimit.h"
#include "check.h"

#define K(s) s, strlen(s)

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

int main(void) {
    astro_ratelimit *rl = NULL;
    astro_err err;
    double ra = -1;

    CHECK("rl-1.0", astro_ratelimit_new(0, &rl, &err) == ASTRO_OK && rl != NULL);
    /* 3 per minute: three calls pass at t=0, the fourth waits 20 s. */
    for (int i = 0; i < 3; i++)
        CHECK("rl-1.1", astro_ratelimit_check(rl, K("b:retain"), 3, 100.0, &ra, &err) == 1);
    CHECK("rl-1.2", astro_ratelimit_check(rl, K("b:retain"), 3, 100.0, &ra, &err) == 0 && near(ra, 20.0));
    CHECK("rl-1.3", astro_ratelimit_check(rl, K("b:retain"), 3, 110.0, &ra, &err) == 0 && near(ra, 10.0));
    CHECK("rl-1.4", astro_ratelimit_check(rl, K("b:retain"), 3, 120.0, &ra, &err) == 1 && ra == 0);
    CHECK("rl-1.5", near(astro_ratelimit_tokens(rl, K("b:retain")), 0.0));
    /* Refill is capped at capacity. */
    CHECK("rl-1.6", astro_ratelimit_check(rl, K("b:retain"), 3, 10000.0, &ra, &err) == 1 &&
                        near(astro_ratelimit_tokens(rl, K("b:retain")), 2.0));
    /* Keys are independent; a clock going backwards refills nothing. */
    CHECK("rl-1.7", astro_ratelimit_check(rl, K("b:recall"), 1, 0.0, &ra, &err) == 1);
    CHECK("rl-1.8", astro_ratelimit_check(rl, K("b:recall"), 1, -50.0, &ra, &err) == 0 && near(ra, 60.0));
    CHECK("rl-1.9", astro_ratelimit_check(rl, K("b:recall"), 1, 30.0, &ra, &err) == 0 && near(ra, 30.0));
    /* A fractional rate: 0.5 per minute starts with 0.5 tokens, so limited. */
    CHECK("rl-1.10", astro_ratelimit_check(rl, K("x:y"), 0.5, 0.0, &ra, &err) == 0 && near(ra, 60.0));
    CHECK("rl-1.11", astro_ratelimit_tokens(rl, K("none")) == -1.0);
    CHECK("rl-1.12", astro_ratelimit_buckets(rl) == 3);

    /* Bad arguments. */
    CHECK("rl-2.0", astro_ratelimit_check(rl, K("k"), 0, 0, &ra, &err) == ASTRO_EINVAL);
    CHECK("rl-2.1", strcmp(err.msg, "per_minute must be a positive number") == 0);
    CHECK("rl-2.2", astro_ratelimit_check(rl, K("k"), NAN, 0, &ra, &err) == ASTRO_EINVAL);
    CHECK("rl-2.3", astro_ratelimit_check(rl, K("k"), 1, INFINITY, &ra, &err) == ASTRO_EINVAL);
    CHECK("rl-2.4", astro_ratelimit_check(NULL, K("k"), 1, 0, &ra, &err) == ASTRO_EINVAL);
    astro_ratelimit_free(rl);
    astro_ratelimit_free(NULL);

    /* Bound: 3 keys; a 4th evicts the oldest-inserted, which comes back full. */
    CHECK("rl-3.0", astro_ratelimit_new(3, &rl, &err) == ASTRO_OK);
    const char *keys[] = { "a", "b", "c", "d" };
    for (int i = 0; i < 3; i++)
        CHECK("rl-3.1", astro_ratelimit_check(rl, keys[i], 1, 1, 0, &ra, &err) == 1);
    CHECK("rl-3.2", astro_ratelimit_check(rl, K("a"), 1, 0, &ra, &err) == 0);
    CHECK("rl-3.3", astro_ratelimit_check(rl, K("d"), 1, 0, &ra, &err) == 1 && astro_ratelimit_buckets(rl) == 3);
    CHECK("rl-3.4", astro_ratelimit_tokens(rl, K("a")) == -1.0);
    CHECK("rl-3.5", astro_ratelimit_check(rl, K("b"), 1, 0, &ra, &err) == 0);
    CHECK("rl-3.6", astro_ratelimit_check(rl, K("a"), 1, 0, &ra, &err) == 1);   /* evicts b */
    CHECK("rl-3.7", astro_ratelimit_tokens(rl, K("b")) == -1.0 && astro_ratelimit_tokens(rl, K("c")) == 0.0);
    astro_ratelimit_free(rl);

    /* Many keys through a small table: lookups stay exact after evictions. */
    CHECK("rl-4.0", astro_ratelimit_new(100, &rl, &err) == ASTRO_OK);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "bank-%d:recall", i);
        CHECK("rl-4.1", astro_ratelimit_check(rl, k, strlen(k), 2, 0, &ra, &err) == 1);
    }
    int held = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "bank-%d:recall", i);
        double t = astro_ratelimit_tokens(rl, k, strlen(k));
        if (t >= 0) { held++; CHECK("rl-4.2", i >= 900 && near(t, 1.0)); }
    }
    CHECK("rl-4.3", held == 100 && astro_ratelimit_buckets(rl) == 100);

    /* Quotas: allowed while count < limit, per day. */
    int64_t c = -1;
    CHECK("q-1.0", astro_ratelimit_quota_check(rl, K("b:retain"), 2, 19000, &c) == 1 && c == 0);
    CHECK("q-1.1", astro_ratelimit_quota_record(rl, K("b:retain"), 19000, &err) == ASTRO_OK);
    CHECK("q-1.2", astro_ratelimit_quota_check(rl, K("b:retain"), 2, 19000, &c) == 1 && c == 1);
    CHECK("q-1.3", astro_ratelimit_quota_record(rl, K("b:retain"), 19000, &err) == ASTRO_OK);
    CHECK("q-1.4", astro_ratelimit_quota_check(rl, K("b:retain"), 2, 19000, &c) == 0 && c == 2);
    CHECK("q-1.5", astro_ratelimit_quota_check(rl, K("b:reflect"), 2, 19000, &c) == 1 && c == 0);
    /* The next day starts from zero. */
    CHECK("q-1.6", astro_ratelimit_quota_check(rl, K("b:retain"), 2, 19001, &c) == 1 && c == 0);
    CHECK("q-1.7", astro_ratelimit_quota_record(rl, K("b:retain"), 19001, &err) == ASTRO_OK);
    CHECK("q-1.8", astro_ratelimit_quota_check(rl, K("b:retain"), 2, 19001, &c) == 1 && c == 1);
    CHECK("q-1.9", astro_ratelimit_quota_check(rl, K("b:retain"), 0, 19001, &c) == 0);
    CHECK("q-1.10", astro_ratelimit_quota_record(NULL, K("x"), 1, &err) == ASTRO_EINVAL);
    astro_ratelimit_free(rl);

    CHECK("q-2.0", astro_ratelimit_new(2, &rl, &err) == ASTRO_OK);
    CHECK("q-2.1", astro_ratelimit_quota_record(rl, K("a"), 5, &err) == ASTRO_OK);
    CHECK("q-2.2", astro_ratelimit_quota_record(rl, K("b"), 5, &err) == ASTRO_OK);
    CHECK("q-2.3", astro_ratelimit_quota_record(rl, K("c"), 5, &err) == ASTRO_OK);
    CHECK("q-2.4", astro_ratelimit_quota_check(rl, K("a"), 1, 5, &c) == 1 && c == 0);
    CHECK("q-2.5", astro_ratelimit_quota_check(rl, K("c"), 1, 5, &c) == 0 && c == 1);
    astro_ratelimit_free(rl);
    CHECK("new-1.0", astro_ratelimit_new(1, NULL, &err) == ASTRO_EINVAL);

    return check_report("test_ratelimit");
}
