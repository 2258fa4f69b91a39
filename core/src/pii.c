/*
** pii.c — the PII scanner: scanner construction from country packs, the
** single-pass scan, match redaction and the Luhn check (see pii.h).
**
** Each enabled pattern gets a slot whose index is its rank in the reference's
** scan order. Bit masks over slots, looked up in 256-entry tables, filter
** every position without a branch: the slots whose program can start with
** the byte, AND those allowed after the previous byte (most patterns open
** with \b), AND those whose match can have the next byte second; only a
** surviving slot is checked against offsets 2..7 and then run. Two patterns
** are triggered elsewhere than their first byte, through pseudo-slot bits:
** email at '@' (its local part is found by looking back, so plain words
** never start a match attempt) and the IPv6 alternative of ip_address at ':'
** (its first byte, a hex digit, is too common). Per slot the scan keeps the
** end of the last match, which reproduces re.finditer: matches of one
** pattern never overlap, and the next one is searched for from where the
** previous ended.
*/
#include <stdlib.h>
#include <string.h>

#include "astro/pii.h"
#include "pii_internal.h"

#define BIT_EMAIL (1u << 30)   /* pseudo-slot bits for the '@' and ':' triggers */
#define BIT_IPV6 (1u << 31)
#define PII_LOOK 7            /* offsets 1..7 checked before running a program */

static const char *const NAMES[ASTRO_PII_TYPE_COUNT] = {
    "email", "phone", "ssn", "credit_card", "ip_address", "date_of_birth", "iban",
    "nric", "sg_phone", "aadhaar", "pan", "in_phone", "us_passport",
    "uk_nino", "uk_nhs", "uk_phone", "de_personalausweis", "fr_insee",
    "it_codice_fiscale", "es_dni", "es_nie", "au_tfn", "au_medicare", "au_phone",
    "ca_sin", "jp_my_number", "jp_phone", "cn_resident_id", "cn_phone",
};

static const char *const TOKENS[ASTRO_PII_TYPE_COUNT] = {
    "[EMAIL_REDACTED]", "[PHONE_REDACTED]", "[SSN_REDACTED]", "[CC_REDACTED]",
    "[IP_REDACTED]", "[DOB_REDACTED]", "[IBAN_REDACTED]",
    "[NRIC_REDACTED]", "[PHONE_REDACTED]", "[AADHAAR_REDACTED]", "[PAN_REDACTED]",
    "[PHONE_REDACTED]", "[PASSPORT_REDACTED]", "[NINO_REDACTED]", "[NHS_REDACTED]",
    "[PHONE_REDACTED]", "[DE_ID_REDACTED]", "[FR_SSN_REDACTED]", "[IT_CF_REDACTED]",
    "[ES_DNI_REDACTED]", "[ES_NIE_REDACTED]", "[TFN_REDACTED]", "[MEDICARE_REDACTED]",
    "[PHONE_REDACTED]", "[SIN_REDACTED]", "[MY_NUMBER_REDACTED]", "[PHONE_REDACTED]",
    "[CN_ID_REDACTED]", "[PHONE_REDACTED]",
};

/* Country packs in the reference's order of patterns within each pack. "GB"
 * is the code the reference's config comment documents; it means UK. */
static const struct country {
    char code[3];
    uint8_t n;
    uint8_t types[3];
} COUNTRIES[] = {
    { "SG", 2, { ASTRO_PII_NRIC, ASTRO_PII_SG_PHONE } },
    { "IN", 3, { ASTRO_PII_AADHAAR, ASTRO_PII_PAN, ASTRO_PII_IN_PHONE } },
    { "US", 1, { ASTRO_PII_US_PASSPORT } },
    { "UK", 3, { ASTRO_PII_UK_NINO, ASTRO_PII_UK_NHS, ASTRO_PII_UK_PHONE } },
    { "GB", 3, { ASTRO_PII_UK_NINO, ASTRO_PII_UK_NHS, ASTRO_PII_UK_PHONE } },
    { "DE", 1, { ASTRO_PII_DE_PERSONALAUSWEIS } },
    { "FR", 1, { ASTRO_PII_FR_INSEE } },
    { "IT", 1, { ASTRO_PII_IT_CODICE_FISCALE } },
    { "ES", 2, { ASTRO_PII_ES_DNI, ASTRO_PII_ES_NIE } },
    { "AU", 3, { ASTRO_PII_AU_TFN, ASTRO_PII_AU_MEDICARE, ASTRO_PII_AU_PHONE } },
    { "CA", 1, { ASTRO_PII_CA_SIN } },
    { "JP", 2, { ASTRO_PII_JP_MY_NUMBER, ASTRO_PII_JP_PHONE } },
    { "CN", 2, { ASTRO_PII_CN_RESIDENT_ID, ASTRO_PII_CN_PHONE } },
};

typedef struct pii_slot {
    uint8_t type;
    uint8_t flags;
    uint16_t head;
} pii_slot;

struct astro_pii {
    pii_node *pool;
    uint32_t first[256];      /* byte -> slots whose program may start there */
    uint32_t at[PII_LOOK][256]; /* [d][byte] -> slots whose match may have it at offset d + 1 */
    uint32_t wb[256];         /* previous byte -> slots allowed after it (\b) */
    int n_slots;
    int email_slot, ip_slot;  /* -1 when the type is not enabled */
    uint16_t ip6_head;
    pii_slot slots[ASTRO_PII_TYPE_COUNT];
};

const char *astro_pii_type_name(uint32_t type) {
    return type < ASTRO_PII_TYPE_COUNT ? NAMES[type] : NULL;
}

const char *astro_pii_replacement(uint32_t type) {
    return type < ASTRO_PII_TYPE_COUNT ? TOKENS[type] : NULL;
}

int astro_pii_type_from_name(const char *name) {
    if (!name) return -1;
    for (int t = 0; t < ASTRO_PII_TYPE_COUNT; t++)
        if (strcmp(NAMES[t], name) == 0) return t;
    return -1;
}

int astro_pii_luhn(const char *s, size_t len) {
    int digits = 0, sum = 0;
    for (size_t i = len; i-- > 0;) {
        unsigned d = (unsigned)((uint8_t)s[i] - '0');
        if (d > 9) continue;
        if (digits & 1) { d *= 2; if (d > 9) d -= 9; }
        sum += (int)d;
        digits++;
    }
    return digits >= 9 && digits <= 19 && sum % 10 == 0;
}

/* Returns the pack of a case-insensitive two-letter code, or NULL. */
static const struct country *find_country(const char *code) {
    if (!code || !code[0] || !code[1] || code[2]) return NULL;
    char up[3] = { (char)(code[0] & ~0x20), (char)(code[1] & ~0x20), 0 };
    for (size_t i = 0; i < sizeof COUNTRIES / sizeof COUNTRIES[0]; i++)
        if (strcmp(COUNTRIES[i].code, up) == 0) return &COUNTRIES[i];
    return NULL;
}

/* Compiles every slot's program (and IPv6) into pool, or counts with NULL. */
static int compile_all(astro_pii *sc, pii_node *pool, size_t cap, size_t *used,
                       astro_err *err) {
    int rc;
    *used = 0;
    for (int i = 0; i < sc->n_slots; i++) {
        pii_slot *sl = &sc->slots[i];
        if (sl->type == ASTRO_PII_EMAIL) continue;
        const pii_pattern *pt = astro__pii_pattern(sl->type);
        sl->flags = pt->flags;
        if ((rc = astro__pii_compile(pt->re, pool, cap, used, &sl->head, err)) != ASTRO_OK) return rc;
        if (sl->type == ASTRO_PII_IP_ADDRESS &&
            (rc = astro__pii_compile(astro__pii_ipv6_re, pool, cap, used, &sc->ip6_head, err)) != ASTRO_OK)
            return rc;
    }
    return ASTRO_OK;
}

int astro_pii_new(const astro_pii_opts *opts, astro_pii **out, astro_err *err) {
    if (!out) return astro_err_set(err, ASTRO_EINVAL, "out is NULL");
    *out = NULL;
    uint64_t want = (opts && opts->types) ? opts->types : ASTRO_PII_ALL_TYPES;
    size_t nc = opts ? opts->n_countries : 0;
    if (nc > ASTRO_PII_MAX_COUNTRIES)
        return astro_err_set(err, ASTRO_EINVAL, "too many countries (%zu > %d)", nc, ASTRO_PII_MAX_COUNTRIES);
    if (nc && !opts->countries) return astro_err_set(err, ASTRO_EINVAL, "countries is NULL");

    /* Scan order: base types, then each pack's types; a type appears once. */
    uint8_t order[ASTRO_PII_TYPE_COUNT];
    int n = 0;
    uint64_t seen = 0;
    for (int t = 0; t < ASTRO_PII_BASE_COUNT; t++) { order[n++] = (uint8_t)t; seen |= ASTRO_PII_BIT(t); }
    for (size_t i = 0; i < nc; i++) {
        const struct country *c = find_country(opts->countries[i]);
        if (!c)
            return astro_err_set(err, ASTRO_EINVAL, "unknown country code '%.16s' (known: SG IN US UK GB DE FR IT ES AU CA JP CN)",
                                 opts->countries[i] ? opts->countries[i] : "(null)");
        for (int k = 0; k < c->n; k++) {
            if (seen & ASTRO_PII_BIT(c->types[k])) continue;
            seen |= ASTRO_PII_BIT(c->types[k]);
            order[n++] = c->types[k];
        }
    }

    astro_pii *sc = calloc(1, sizeof *sc);
    if (!sc) return astro_err_set(err, ASTRO_ENOMEM, "out of memory");
    sc->email_slot = sc->ip_slot = -1;
    for (int i = 0; i < n; i++) {
        if (!(want & ASTRO_PII_BIT(order[i]))) continue;
        if (order[i] == ASTRO_PII_EMAIL) sc->email_slot = sc->n_slots;
        if (order[i] == ASTRO_PII_IP_ADDRESS) sc->ip_slot = sc->n_slots;
        sc->slots[sc->n_slots++].type = order[i];
    }

    size_t need = 0;
    int rc = compile_all(sc, NULL, 0, &need, err);
    if (rc == ASTRO_OK && need > 0) {
        sc->pool = malloc(need * sizeof *sc->pool);
        if (!sc->pool) rc = astro_err_set(err, ASTRO_ENOMEM, "out of memory");
        else rc = compile_all(sc, sc->pool, need, &need, err);
    }
    if (rc != ASTRO_OK) { astro_pii_free(sc); return rc; }

    for (int i = 0; i < sc->n_slots; i++) {
        const pii_slot *sl = &sc->slots[i];
        if (sl->type == ASTRO_PII_EMAIL) continue;
        uint8_t set[32] = { 0 };
        uint32_t bit = (uint32_t)1 << i;
        for (unsigned d = 1; d <= PII_LOOK; d++) {
            uint8_t at[32] = { 0 };
            astro__pii_at(sc->pool, sl->head, d, at);
            for (unsigned b = 0; b < 256; b++)
                if ((at[b >> 3] >> (b & 7)) & 1) sc->at[d - 1][b] |= (uint32_t)1 << i;
        }
        astro__pii_at(sc->pool, sl->head, 0, set);
        int starts_b = sc->pool[sl->head].op == PII_OP_WORDB;
        for (unsigned b = 0; b < 256; b++) {
            if ((set[b >> 3] >> (b & 7)) & 1) sc->first[b] |= bit;
            if (!(starts_b && astro__pii_isword((uint8_t)b))) sc->wb[b] |= bit;
        }
    }
    /* The pseudo-slots pass every filter; their handlers do the checking. */
    for (unsigned b = 0; b < 256; b++) {
        sc->wb[b] |= BIT_EMAIL | BIT_IPV6;
        for (unsigned d = 0; d < PII_LOOK; d++) sc->at[d][b] |= BIT_EMAIL | BIT_IPV6;
    }
    if (sc->email_slot >= 0) sc->first['@'] |= BIT_EMAIL;
    if (sc->ip_slot >= 0) sc->first[':'] |= BIT_IPV6;
    *out = sc;
    return ASTRO_OK;
}

void astro_pii_free(astro_pii *sc) {
    if (!sc) return;
    free(sc->pool);
    free(sc);
}

/* Where matches go during a scan; `n` keeps counting past cap. */
typedef struct sink {
    astro_pii_match *out;
    size_t cap, n;
} sink;

static void put(sink *k, uint32_t type, int rank, size_t off, size_t len) {
    if (k->n < k->cap) {
        astro_pii_match *m = &k->out[k->n];
        m->type = type;
        m->reserved = (uint32_t)rank;   /* sort key until the scan returns */
        m->off = off;
        m->len = len;
    }
    k->n++;
}

static int is_alnum(uint8_t c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int is_alpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

/* [a-zA-Z0-9._%+-]: the bytes of an email local part. */
static int is_local(uint8_t c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int is_hex(uint8_t c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The end of the email domain that starts at q, or PII_FAIL. The reference's
 * domain is label(.label)*.TLD\b with greedy repeats: labels are whole
 * dot-separated segments ([A-Za-z0-9] at both ends, '-' inside), the TLD is
 * the letters opening a later segment (two or more, then a non-word byte),
 * and the last TLD position reachable through valid labels wins. */
static size_t email_domain(const uint8_t *s, size_t n, size_t q) {
    size_t best = PII_FAIL;
    for (int seg = 0;; seg++) {
        size_t e = q;
        while (e < n && (is_alnum(s[e]) || s[e] == '-')) e++;
        if (seg > 0) {
            size_t t = q;
            while (t < e && is_alpha(s[t])) t++;
            if (t - q >= 2 && !(t < n && astro__pii_isword(s[t]))) best = t;
        }
        if (e == q || !is_alnum(s[q]) || !is_alnum(s[e - 1])) return best;
        if (e >= n || s[e] != '.') return best;
        q = e + 1;
    }
}

/* Email at the '@' at a: the leftmost start whose local part reaches a. */
static void scan_email(const astro_pii *sc, const uint8_t *s, size_t n, size_t a,
                       size_t *last_end, sink *k) {
    int slot = sc->email_slot;
    if (a == 0 || !is_alnum(s[a - 1])) return;
    size_t r = a;
    while (r > 0 && is_local(s[r - 1])) r--;
    if (r < last_end[slot]) r = last_end[slot];
    size_t st = r;
    while (st < a && !(is_alnum(s[st]) && (st == 0 || !astro__pii_isword(s[st - 1])))) st++;
    if (st >= a) return;
    size_t e = email_domain(s, n, a + 1);
    if (e == PII_FAIL) return;
    last_end[slot] = e;
    put(k, ASTRO_PII_EMAIL, slot, st, e - st);
}

/* IPv6 at the ':' at c: the match must start in the hex run before it, at
 * most four digits back (no \b in the reference's IPv6 alternative). */
static void scan_ipv6(const astro_pii *sc, const uint8_t *s, size_t n, size_t c,
                      size_t *last_end, sink *k) {
    int slot = sc->ip_slot;
    size_t h = 0;
    while (h < 4 && h < c && is_hex(s[c - h - 1])) h++;
    if (h == 0) return;
    size_t st = c - h;
    if (st < last_end[slot]) st = last_end[slot];
    if (st >= c) return;
    size_t e = astro__pii_exec(sc->pool, sc->ip6_head, s, n, st);
    if (e == PII_FAIL) return;
    last_end[slot] = e;
    put(k, ASTRO_PII_IP_ADDRESS, slot, st, e - st);
}

/* Orders matches by rank (kept in `reserved`), then offset. */
static int cmp_rank(const void *pa, const void *pb) {
    const astro_pii_match *a = pa, *b = pb;
    if (a->reserved != b->reserved) return a->reserved < b->reserved ? -1 : 1;
    return (a->off > b->off) - (a->off < b->off);
}

int astro_pii_scan(const astro_pii *sc, const char *text, size_t len,
                   astro_pii_match *out, size_t cap, size_t *n_out, astro_err *err) {
    if (n_out) *n_out = 0;
    if (!sc || (!text && len) || (!out && cap) || !n_out)
        return astro_err_set(err, ASTRO_EINVAL, "NULL argument");
    const uint8_t *s = (const uint8_t *)text;
    size_t last_end[ASTRO_PII_TYPE_COUNT] = { 0 };
    sink k = { out, cap, 0 };
    for (size_t p = 0; p < len; p++) {
        /* Branch-free filter on the byte, its successor and its predecessor:
         * the branch below is taken only at real candidates, so it predicts
         * well even on text where trigger bytes are common. */
        uint32_t m = sc->first[s[p]] & (p > 0 ? sc->wb[s[p - 1]] : ~(uint32_t)0);
        if (p + 1 < len) m &= sc->at[0][s[p + 1]];
        if (!m) continue;
        if (m & BIT_EMAIL) scan_email(sc, s, len, p, last_end, &k);
        if (m & BIT_IPV6) scan_ipv6(sc, s, len, p, last_end, &k);
        m &= ~(BIT_EMAIL | BIT_IPV6);
        for (size_t d = 1; m && d < PII_LOOK && p + d + 1 < len; d++) m &= sc->at[d][s[p + d + 1]];
        while (m) {
            int i = __builtin_ctz(m);
            m &= m - 1;
            if (last_end[i] > p) continue;
            const pii_slot *sl = &sc->slots[i];
            size_t e = astro__pii_exec(sc->pool, sl->head, s, len, p);
            if (e == PII_FAIL) continue;
            /* A Luhn failure still consumes the span, as in the reference. */
            last_end[i] = e;
            if ((sl->flags & PII_LUHN) && !astro_pii_luhn(text + p, e - p)) continue;
            put(&k, sl->type, i, p, e - p);
        }
    }
    *n_out = k.n;
    if (k.n > cap)
        return astro_err_set(err, ASTRO_ERANGE, "%zu matches do not fit in %zu", k.n, cap);
    if (k.n > 1) qsort(out, k.n, sizeof *out, cmp_rank);
    for (size_t i = 0; i < k.n; i++) out[i].reserved = 0;
    return ASTRO_OK;
}

/* Orders matches by start, longer first, then type: the reference's merge. */
static int cmp_span(const void *pa, const void *pb) {
    const astro_pii_match *a = pa, *b = pb;
    if (a->off != b->off) return a->off < b->off ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return (a->type > b->type) - (a->type < b->type);
}

/* Replacement text of match m under the caller's table. */
static const char *repl_of(const astro_pii_match *m, const char *const *repl) {
    if (repl && repl[m->type]) return repl[m->type];
    return TOKENS[m->type];
}

int astro_pii_redact(const char *text, size_t len, astro_pii_match *m, size_t n,
                     uint64_t redact_types, const char *const *replacements,
                     char *out, size_t cap, size_t *out_len, astro_err *err) {
    if (out_len) *out_len = 0;
    if ((!text && len) || (!m && n) || (!out && cap) || !out_len)
        return astro_err_set(err, ASTRO_EINVAL, "NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (m[i].type >= ASTRO_PII_TYPE_COUNT)
            return astro_err_set(err, ASTRO_EINVAL, "match %zu has unknown type %u", i, m[i].type);
        if (m[i].off > len || m[i].len > len - m[i].off)
            return astro_err_set(err, ASTRO_EINVAL, "match %zu lies outside the text", i);
    }
    if (n > 1) qsort(m, n, sizeof *m, cmp_span);
    /* Pass 1 measures, pass 2 writes: the output size is known before any
     * byte is copied, so a short buffer leaves out untouched. */
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = 0, w = 0;
        for (size_t i = 0; i < n; i++) {
            if (!(redact_types & ASTRO_PII_BIT(m[i].type)) || m[i].off < pos) continue;
            const char *r = repl_of(&m[i], replacements);
            size_t rl = strlen(r), gap = m[i].off - pos;
            if (pass) {
                if (gap) memcpy(out + w, text + pos, gap);
                memcpy(out + w + gap, r, rl);
            }
            w += gap + rl;
            pos = m[i].off + m[i].len;
        }
        if (pass && len > pos) memcpy(out + w, text + pos, len - pos);
        w += len - pos;
        *out_len = w;
        if (!pass && w > cap)
            return astro_err_set(err, ASTRO_ERANGE, "redacted text needs %zu bytes", w);
        if (!pass && w == 0)
            return ASTRO_OK;   /* nothing to write, and out may be NULL */
    }
    return ASTRO_OK;
}
