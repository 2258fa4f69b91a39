/*
** pii_internal.h — private interface between pii.c (the scanner) and
** pii_patterns.c (the pattern table and the small matcher behind it). A
** pattern is written in the reference's regex notation and compiled once, at
** astro_pii_new, into a program of nodes whose successors are fixed; running
** a program at one position is a depth-first search that tries alternatives
** in the order a backtracking regex engine would, so the first match found is
** the one the reference's re.finditer reports.
*/
#ifndef ASTRO_PII_INTERNAL_H
#define ASTRO_PII_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "astro/common.h"

#define PII_FAIL SIZE_MAX
#define PII_INF 0xFFFFu          /* unbounded repeat count */
#define PII_LUHN 1u              /* pattern flag: digits must pass Luhn */

enum { PII_OP_SET, PII_OP_ALT, PII_OP_WORDB, PII_OP_MATCH };

/* One program node. SET matches min..max bytes of `set` (greedy); ALT tries
 * `next` then `alt`; WORDB asserts a word boundary; MATCH accepts. */
typedef struct pii_node {
    uint8_t op;
    uint16_t min, max;
    uint16_t next, alt;
    uint8_t set[32];
} pii_node;

/* One compiled-in pattern: type id, flags and regex source. */
typedef struct pii_pattern {
    uint8_t type;
    uint8_t flags;
    const char *re;
} pii_pattern;

/* Returns the table entry of a type (NULL for email, which is hand-coded). */
const pii_pattern *astro__pii_pattern(uint32_t type);

/* Source of the IPv6 alternative of ip_address (run from ':' triggers). */
extern const char *const astro__pii_ipv6_re;

/* Compiles re into pool[*used .. cap); sets *head and advances *used. With
 * pool NULL it only counts, so a first pass sizes the pool. Returns ASTRO_OK,
 * or ASTRO_EINVAL (bad pattern, message names the offset) / ASTRO_ERANGE. */
int astro__pii_compile(const char *re, pii_node *pool, size_t cap, size_t *used,
                       uint16_t *head, astro_err *err);

/* Sets bit b of set[32] for every byte b that can be at offset d of a match
 * starting at pc (all bytes if the match may end before d). The scan uses
 * these sets to rule out a start before running the program. */
void astro__pii_at(const pii_node *pool, uint16_t pc, unsigned d, uint8_t set[32]);

/* Runs the program at pc on s[0..n) from position p; returns the end of the
 * first match found, or PII_FAIL. */
size_t astro__pii_exec(const pii_node *pool, uint16_t pc, const uint8_t *s, size_t n,
                       size_t p);

/* 1 if byte c is [A-Za-z0-9_] (the \b word class), else 0. */
static inline int astro__pii_isword(uint8_t c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

#endif
