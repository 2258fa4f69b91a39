/*
** breaker.c — the circuit breaker (see breaker.h): a port of the reference's
** CircuitBreaker with the clock taken out, so every transition depends only
** on the times the caller passes in.
*/
#include <math.h>
#include <stdlib.h>

#include "astro/breaker.h"

struct astro_breaker {
    astro_breaker_opts o;
    astro_breaker_state state;
    uint32_t failures;
    uint32_t half_open_calls;
    double last_failure;
};

void astro_breaker_opts_init(astro_breaker_opts *opts) {
    if (!opts) return;
    opts->failure_threshold = 5;
    opts->recovery_timeout = 30.0;
    opts->half_open_max_calls = 2;
}

int astro_breaker_new(const astro_breaker_opts *opts, astro_breaker **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "out is NULL");
    *out = NULL;
    astro_breaker_opts o;
    astro_breaker_opts_init(&o);
    if (opts) {
        if (opts->failure_threshold) o.failure_threshold = opts->failure_threshold;
        if (isnan(opts->recovery_timeout) || isinf(opts->recovery_timeout))
            return astro_err_set(err, ASTRO_EINVAL, "recovery_timeout must be a finite number");
        if (opts->recovery_timeout >= 0) o.recovery_timeout = opts->recovery_timeout;
        if (opts->half_open_max_calls) o.half_open_max_calls = opts->half_open_max_calls;
    }
    astro_breaker *b = calloc(1, sizeof *b);
    if (!b) return astro_err_set(err, ASTRO_ENOMEM, "out of memory");
    b->o = o;
    *out = b;
    return ASTRO_OK;
}

void astro_breaker_free(astro_breaker *b) { free(b); }

astro_breaker_state astro_breaker_state_at(astro_breaker *b, double now) {
    if (b->state == ASTRO_BREAKER_OPEN && now - b->last_failure >= b->o.recovery_timeout) {
        b->state = ASTRO_BREAKER_HALF_OPEN;
        b->half_open_calls = 0;
    }
    return b->state;
}

int astro_breaker_check(astro_breaker *b, double now) {
    astro_breaker_state s = astro_breaker_state_at(b, now);
    if (s == ASTRO_BREAKER_OPEN) return 0;
    if (s == ASTRO_BREAKER_HALF_OPEN) {
        if (b->half_open_calls >= b->o.half_open_max_calls) return 0;
        b->half_open_calls++;
    }
    return 1;
}

void astro_breaker_success(astro_breaker *b) {
    b->state = ASTRO_BREAKER_CLOSED;
    b->failures = 0;
    b->half_open_calls = 0;
}

void astro_breaker_failure(astro_breaker *b, double now) {
    if (b->failures < UINT32_MAX) b->failures++;
    b->last_failure = now;
    if (b->failures >= b->o.failure_threshold || b->state == ASTRO_BREAKER_HALF_OPEN)
        b->state = ASTRO_BREAKER_OPEN;
}

void astro_breaker_reset(astro_breaker *b) {
    b->state = ASTRO_BREAKER_CLOSED;
    b->failures = 0;
    b->half_open_calls = 0;
    b->last_failure = 0;
}

uint32_t astro_breaker_failures(const astro_breaker *b) { return b->failures; }

const char *astro_breaker_state_name(astro_breaker_state s) {
    switch (s) {
    case ASTRO_BREAKER_OPEN: return "open";
    case ASTRO_BREAKER_HALF_OPEN: return "half_open";
    default: return "closed";
    }
}
