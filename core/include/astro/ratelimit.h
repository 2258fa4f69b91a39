/*
** ratelimit.h — token buckets and daily quota counters of the homeostasis
** policy (pipeline.md §2.1), keyed by strings such as "bank:operation".
**
** A bucket holds at most per_minute tokens and refills per_minute / 60 per
** second; a new bucket starts full; each allowed call takes one token. A quota
** counter counts calls per key and UTC day number; a call is allowed while the
** count is below the limit. Time is always passed in by the caller (seconds as
** a double for buckets, the day number for quotas), so there is no clock
** inside and tests are deterministic. Each table keeps at most max_buckets
** keys and evicts the oldest-inserted key when a new one arrives, as the
** reference does. Not thread-safe: one limiter per thread or a lock around it.
*/
#ifndef ASTRO_RATELIMIT_H
#define ASTRO_RATELIMIT_H

#include <stdint.h>

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ASTRO_RATELIMIT_DEFAULT_KEYS 10000

typedef struct astro_ratelimit astro_ratelimit;

/*
** Creates a limiter.
** @param[in]  max_keys  bound on buckets and on quota counters (0: 10,000)
** @param[out] out       the limiter, to release with astro_ratelimit_free
** @return ASTRO_OK, ASTRO_EINVAL (max_keys > 2^31) or ASTRO_ENOMEM.
*/
int astro_ratelimit_new(size_t max_keys, astro_ratelimit **out, astro_err *err);

/* Releases a limiter (NULL-safe). */
void astro_ratelimit_free(astro_ratelimit *rl);

/*
** Refills the bucket of key[0..klen) to `now` and takes one token if there is
** one. Returns 1 when allowed, 0 when limited (then *retry_after, if given,
** is the seconds until one token is back: (1 - tokens) / (per_minute / 60)),
** or a negative code: ASTRO_EINVAL if per_minute is not a positive finite
** number or now is not finite, ASTRO_ENOMEM. A clock that goes backwards
** refills nothing. A changed per_minute applies from this call on.
*/
int astro_ratelimit_check(astro_ratelimit *rl, const char *key, size_t klen,
                          double per_minute, double now, double *retry_after,
                          astro_err *err);

/* Returns the tokens left in key's bucket at its last refill, or -1 if the
 * key has no bucket. */
double astro_ratelimit_tokens(const astro_ratelimit *rl, const char *key, size_t klen);

/* Returns the number of buckets held. */
size_t astro_ratelimit_buckets(const astro_ratelimit *rl);

/* Returns 1 if key's count for `day` is below limit (a count from another
 * day is 0), else 0. Sets *count (if given) to that count. Records nothing. */
int astro_ratelimit_quota_check(const astro_ratelimit *rl, const char *key, size_t klen,
                                int64_t limit, int64_t day, int64_t *count);

/* Adds one to key's count for `day` (restarting at 1 on a new day). Returns
 * ASTRO_OK or ASTRO_ENOMEM. */
int astro_ratelimit_quota_record(astro_ratelimit *rl, const char *key, size_t klen,
                                 int64_t day, astro_err *err);

#ifdef __cplusplus
}
#endif
#endif
