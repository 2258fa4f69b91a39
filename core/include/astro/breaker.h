/*
** breaker.h — the circuit breaker of the escalation policy (pipeline.md §2.4),
** one per provider. States closed, open and half_open with the reference's
** exact transitions: failure_threshold failures open it; reading the state of
** an open breaker at least recovery_timeout seconds after the last failure
** turns it half_open with no calls counted; in half_open at most
** half_open_max_calls calls pass; a success closes it and clears the counts;
** a failure in half_open re-opens it at once (the failure count is not reset
** by open -> half_open). Time is passed in by the caller in seconds, so there
** is no clock inside. Not thread-safe.
*/
#ifndef ASTRO_BREAKER_H
#define ASTRO_BREAKER_H

#include <stdint.h>

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum astro_breaker_state {
    ASTRO_BREAKER_CLOSED = 0,
    ASTRO_BREAKER_OPEN = 1,
    ASTRO_BREAKER_HALF_OPEN = 2
} astro_breaker_state;

typedef struct astro_breaker_opts {
    uint32_t failure_threshold;     /* 0 => 5 */
    double recovery_timeout;        /* seconds; < 0 => 30 */
    uint32_t half_open_max_calls;   /* 0 => 2 */
} astro_breaker_opts;

/* Fills opts with the reference defaults (5, 30 s, 2). */
void astro_breaker_opts_init(astro_breaker_opts *opts);

typedef struct astro_breaker astro_breaker;

/*
** Creates a closed breaker. opts may be NULL (defaults).
** @return ASTRO_OK, ASTRO_EINVAL (recovery_timeout NaN/infinite) or ASTRO_ENOMEM.
*/
int astro_breaker_new(const astro_breaker_opts *opts, astro_breaker **out, astro_err *err);

/* Releases a breaker (NULL-safe). */
void astro_breaker_free(astro_breaker *b);

/* Returns the state at time now, moving open -> half_open when the recovery
 * timeout has passed since the last failure. */
astro_breaker_state astro_breaker_state_at(astro_breaker *b, double now);

/* Returns 1 if a call may go ahead at time now (counting it when half_open),
 * 0 if the breaker blocks it (open, or half_open with its calls used up). */
int astro_breaker_check(astro_breaker *b, double now);

/* Records a successful call: closed, counts cleared. */
void astro_breaker_success(astro_breaker *b);

/* Records a failed call at time now: may open the breaker. */
void astro_breaker_failure(astro_breaker *b, double now);

/* Forces a fresh closed breaker (options kept). */
void astro_breaker_reset(astro_breaker *b);

/* Returns the failures counted since the last success or reset. */
uint32_t astro_breaker_failures(const astro_breaker *b);

/* Returns "closed", "open" or "half_open". */
const char *astro_breaker_state_name(astro_breaker_state s);

#ifdef __cplusplus
}
#endif
#endif
