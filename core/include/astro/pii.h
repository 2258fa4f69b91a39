/*
** pii.h — the PII scanner of the policy layer's barrier (pipeline.md §2.2).
**
** A scanner finds the reference's seven base types (email, NANP phone, SSN,
** credit card with Luhn, IPv4/IPv6, date of birth after a keyword, IBAN) and
** the patterns of the country packs it was created with (SG IN US UK DE FR IT
** ES AU CA JP CN; "GB" is accepted as an alias of UK). Matches follow the
** reference regexes with ASCII semantics: \d is [0-9], \s is ASCII
** whitespace, \b is a transition between [A-Za-z0-9_] and anything else
** (bytes >= 0x80 are not word characters) — the reference patterns as
** compiled with re.ASCII. Offsets are byte offsets.
**
** As in the reference, each pattern reports its own non-overlapping matches
** (a Luhn failure still consumes its span) and matches of different patterns
** may overlap; results come ordered by pattern (base types, then country
** packs in the order given) and then by offset. astro_pii_redact resolves
** overlaps before replacing. The scan is one pass over the text: a byte table
** says which patterns can start at each byte, so most bytes cost one lookup.
*/
#ifndef ASTRO_PII_H
#define ASTRO_PII_H

#include <stdint.h>

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Type ids. The base types come first; the rest belong to country packs. */
typedef enum astro_pii_type {
    ASTRO_PII_EMAIL = 0,
    ASTRO_PII_PHONE,
    ASTRO_PII_SSN,
    ASTRO_PII_CREDIT_CARD,
    ASTRO_PII_IP_ADDRESS,
    ASTRO_PII_DATE_OF_BIRTH,
    ASTRO_PII_IBAN,
    ASTRO_PII_NRIC,                 /* SG */
    ASTRO_PII_SG_PHONE,
    ASTRO_PII_AADHAAR,              /* IN */
    ASTRO_PII_PAN,
    ASTRO_PII_IN_PHONE,
    ASTRO_PII_US_PASSPORT,          /* US */
    ASTRO_PII_UK_NINO,              /* UK */
    ASTRO_PII_UK_NHS,
    ASTRO_PII_UK_PHONE,
    ASTRO_PII_DE_PERSONALAUSWEIS,   /* DE */
    ASTRO_PII_FR_INSEE,             /* FR */
    ASTRO_PII_IT_CODICE_FISCALE,    /* IT */
    ASTRO_PII_ES_DNI,               /* ES */
    ASTRO_PII_ES_NIE,
    ASTRO_PII_AU_TFN,               /* AU */
    ASTRO_PII_AU_MEDICARE,
    ASTRO_PII_AU_PHONE,
    ASTRO_PII_CA_SIN,               /* CA */
    ASTRO_PII_JP_MY_NUMBER,         /* JP */
    ASTRO_PII_JP_PHONE,
    ASTRO_PII_CN_RESIDENT_ID,       /* CN */
    ASTRO_PII_CN_PHONE,
    ASTRO_PII_TYPE_COUNT
} astro_pii_type;

#define ASTRO_PII_BASE_COUNT 7
/* Bit mask of one type, for astro_pii_opts.types and astro_pii_redact. */
#define ASTRO_PII_BIT(t) ((uint64_t)1 << (t))
#define ASTRO_PII_ALL_TYPES ((((uint64_t)1) << ASTRO_PII_TYPE_COUNT) - 1)
#define ASTRO_PII_MAX_COUNTRIES 16

typedef struct astro_pii_opts {
    /* Country packs to add after the base types, in scan order. Codes are
     * case-insensitive two-letter strings; unknown codes are an error,
     * duplicates are ignored. */
    const char *const *countries;
    size_t n_countries;
    /* Mask of type ids to report; 0 means every type the packs enable. */
    uint64_t types;
} astro_pii_opts;

/* One match: the type id and the byte span text[off .. off + len). */
typedef struct astro_pii_match {
    uint32_t type;
    uint32_t reserved;
    size_t off;
    size_t len;
} astro_pii_match;

typedef struct astro_pii astro_pii;

/*
** Creates a scanner. opts may be NULL (base types only).
** @param[in]  opts  country packs and type mask
** @param[out] out   the new scanner, to release with astro_pii_free
** @return ASTRO_OK, ASTRO_EINVAL (unknown country code, too many countries)
**         or ASTRO_ENOMEM.
*/
int astro_pii_new(const astro_pii_opts *opts, astro_pii **out, astro_err *err);

/* Releases a scanner (NULL-safe). */
void astro_pii_free(astro_pii *sc);

/*
** Scans text[0..len) and writes up to cap matches to out, ordered by pattern
** then offset. *n_out is the number of matches found. If that exceeds cap the
** call returns ASTRO_ERANGE, out holds nothing useful and the caller retries
** with room for *n_out. The scan allocates nothing and the scanner is not
** modified, so one scanner may serve several threads.
*/
int astro_pii_scan(const astro_pii *sc, const char *text, size_t len,
                   astro_pii_match *out, size_t cap, size_t *n_out, astro_err *err);

/* Returns the reference name of a type ("email", "uk_nino", ...), or NULL. */
const char *astro_pii_type_name(uint32_t type);

/* Returns the type id of a reference name, or -1 if there is none. */
int astro_pii_type_from_name(const char *name);

/* Returns the replacement token of a type ("[EMAIL_REDACTED]", ...), or NULL. */
const char *astro_pii_replacement(uint32_t type);

/*
** Replaces the matches whose type bit is set in redact_types by their
** replacement (replacements[type] when that array and entry are non-NULL,
** else the type's token). Overlapping matches are resolved first, as the
** reference merges match lists: sort by start, longer first, keep each match
** that starts at or after the end of the last one kept. Matches of other
** types are left in the text and take no part in the overlap resolution.
** m is sorted in place. The result is written to out[0..cap); *out_len is
** its length. If it does not fit the call returns ASTRO_ERANGE with *out_len
** set to the size needed (call with cap 0 to measure). Spans outside the text
** are ASTRO_EINVAL.
*/
int astro_pii_redact(const char *text, size_t len, astro_pii_match *m, size_t n,
                     uint64_t redact_types, const char *const *replacements,
                     char *out, size_t cap, size_t *out_len, astro_err *err);

/* Returns 1 if the decimal digits of s[0..len) (other bytes ignored) number
 * 9 to 19 and pass the Luhn checksum, else 0 — the reference's _luhn_check. */
int astro_pii_luhn(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
