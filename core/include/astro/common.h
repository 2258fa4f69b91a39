/*
** common.h — error type, return codes and shared small types of libastrocyte.
**
** Every fallible call takes an optional `astro_err *err` (may be NULL); filling it
** never allocates. Functions return ASTRO_OK (0) or a negative ASTRO_E* code.
** Timestamps are int64 milliseconds since the Unix epoch (UTC); ASTRO_TIME_NONE
** marks "no timestamp".
*/
#ifndef ASTRO_COMMON_H
#define ASTRO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASTRO_OK        0
#define ASTRO_EINVAL   (-1)   /* bad argument: NULL, wrong size, NaN/Inf, bad UTF-8 */
#define ASTRO_ENOMEM   (-2)   /* allocation failed */
#define ASTRO_EDIM     (-3)   /* vector dimension mismatch */
#define ASTRO_ERANGE   (-4)   /* value out of range / capacity too small */
#define ASTRO_ENOTFOUND (-5)  /* key not present */
#define ASTRO_EIO      (-6)   /* read/write failure (save/load) */
#define ASTRO_EFORMAT  (-7)   /* corrupt or foreign serialized data */

#define ASTRO_TIME_NONE INT64_MIN

typedef struct astro_err {
    int  code;
    char msg[128];
} astro_err;

/* Sets err (if non-NULL) to code and a printf-formatted message; returns code. */
int astro_err_set(astro_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Allowed-key bitmap used by every search filter: bit `key` of `bits` set means
 * key may be returned. Keys at or beyond `nbits` are not allowed. */
typedef struct astro_keyset {
    const uint8_t *bits;
    uint64_t nbits;
} astro_keyset;

/* Filter applied inside index searches. Any field may be disabled:
 * allow == NULL (all keys), time_from/time_to == ASTRO_TIME_NONE (unbounded),
 * as_of == ASTRO_TIME_NONE (no time travel). time_* apply to occurred_at;
 * items with no occurred_at fail a bounded time filter. as_of keeps items
 * whose retained_at <= as_of. */
typedef struct astro_filter {
    const astro_keyset *allow;
    int64_t time_from;
    int64_t time_to;
    int64_t as_of;
} astro_filter;

/* Per-item timestamps stored beside a vector or document. */
typedef struct astro_item_times {
    int64_t occurred_at;
    int64_t retained_at;
} astro_item_times;

/* Initializes a filter that lets everything through. */
void astro_filter_init(astro_filter *f);

#ifdef __cplusplus
}
#endif
#endif
