/*
** test_breaker.c — the circuit breaker's reference transitions: closed until
** the threshold, open until the recovery timeout, half_open letting exactly
** half_open_max_calls through, success closing it, one half-open failure
** re-opening it (the failure count survives open -> half_open), reset, and
** option defaults.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "astro/breaker.h"
#include "check.h"

int main(void) {
    astro_breaker *b = NULL;
    astro_err err;
    CHECK("br-1.0", astro_breaker_new(NULL, &b, &err) == ASTRO_OK && b != NULL);
    CHECK("br-1.1", astro_breaker_state_at(b, 0) == ASTRO_BREAKER_CLOSED);
    for (int i = 0; i < 4; i++) {
        CHECK("br-1.2", astro_breaker_check(b, i) == 1);
        astro_breaker_failure(b, 10.0 + i);
    }
    CHECK("br-1.3", astro_breaker_state_at(b, 14) == ASTRO_BREAKER_CLOSED && astro_breaker_failures(b) == 4);
    astro_breaker_failure(b, 14.0);                       /* 5th: open at 14 */
    CHECK("br-1.4", astro_breaker_state_at(b, 14) == ASTRO_BREAKER_OPEN);
    CHECK("br-1.5", astro_breaker_check(b, 43.999) == 0);
    /* 30 s after the last failure: half_open, two calls pass, the third not. */
    CHECK("br-1.6", astro_breaker_state_at(b, 44.0) == ASTRO_BREAKER_HALF_OPEN);
    CHECK("br-1.7", astro_breaker_check(b, 44.0) == 1);
    CHECK("br-1.8", astro_breaker_check(b, 44.5) == 1);
    CHECK("br-1.9", astro_breaker_check(b, 45.0) == 0);
    CHECK("br-1.10", astro_breaker_state_at(b, 45.0) == ASTRO_BREAKER_HALF_OPEN);
    /* One failure in half_open re-opens at once (count is 6 >= 5 anyway). */
    astro_breaker_failure(b, 46.0);
    CHECK("br-1.11", astro_breaker_state_at(b, 46.0) == ASTRO_BREAKER_OPEN && astro_breaker_failures(b) == 6);
    CHECK("br-1.12", astro_breaker_state_at(b, 76.0) == ASTRO_BREAKER_HALF_OPEN);
    /* Success closes and clears the counts. */
    CHECK("br-1.13", astro_breaker_check(b, 76.0) == 1);
    astro_breaker_success(b);
    CHECK("br-1.14", astro_breaker_state_at(b, 77) == ASTRO_BREAKER_CLOSED && astro_breaker_failures(b) == 0);
    astro_breaker_failure(b, 78);
    CHECK("br-1.15", astro_breaker_state_at(b, 78) == ASTRO_BREAKER_CLOSED);
    astro_breaker_reset(b);
    CHECK("br-1.16", astro_breaker_failures(b) == 0 && astro_breaker_check(b, 79) == 1);
    astro_breaker_free(b);

    /* Custom options: threshold 2, 5 s, one half-open call. */
    astro_breaker_opts o;
    astro_breaker_opts_init(&o);
    CHECK("br-2.0", o.failure_threshold == 5 && o.recovery_timeout == 30.0 && o.half_open_max_calls == 2);
    o.failure_threshold = 2;
    o.recovery_timeout = 5;
    o.half_open_max_calls = 1;
    CHECK("br-2.1", astro_breaker_new(&o, &b, &err) == ASTRO_OK);
    astro_breaker_failure(b, 0);
    astro_breaker_failure(b, 1);
    CHECK("br-2.2", astro_breaker_check(b, 5.5) == 0);
    CHECK("br-2.3", astro_breaker_check(b, 6.0) == 1 && astro_breaker_check(b, 6.0) == 0);
    astro_breaker_failure(b, 7);
    CHECK("br-2.4", astro_breaker_state_at(b, 11.9) == ASTRO_BREAKER_OPEN);
    CHECK("br-2.5", astro_breaker_state_at(b, 12.0) == ASTRO_BREAKER_HALF_OPEN);
    CHECK("br-2.6", strcmp(astro_breaker_state_name(ASTRO_BREAKER_HALF_OPEN), "half_open") == 0 &&
                        strcmp(astro_breaker_state_name(ASTRO_BREAKER_OPEN), "open") == 0 &&
                        strcmp(astro_breaker_state_name(ASTRO_BREAKER_CLOSED), "closed") == 0);
    astro_breaker_free(b);
    astro_breaker_free(NULL);

    o.recovery_timeout = NAN;
    CHECK("br-3.0", astro_breaker_new(&o, &b, &err) == ASTRO_EINVAL);
    CHECK("br-3.1", astro_breaker_new(NULL, NULL, &err) == ASTRO_EINVAL);

    return check_report("test_breaker");
}
