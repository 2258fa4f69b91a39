/*
** pii_patterns.c — the PII pattern table and the small matcher that runs it.
**
** The patterns are the reference's regexes (policy/barriers.py), kept in their
** own notation so each can be checked against the original by eye. They are
** compiled at astro_pii_new into node programs: a fixed subset only — byte
** classes, \d \s \b, (?:...) and (...) groups, |, ? * + {m} {m,} {m,n} (a
** group may not repeat without bound) and a leading (?i) — which is all the
** table needs; this is not a general regex engine. A program is a graph whose
** successors are fixed at compile time (group repeats are unrolled), so
** matching needs no continuation stack: astro__pii_exec is a depth-first
** search in greedy, left-first order, exactly the order of a backtracking
** engine such as Python's re. Classes are ASCII (see pii.h).
*/
#include <string.h>

#include "pii_internal.h"
#include "astro/pii.h"

/* Base types (email is hand-coded in pii.c), then the country packs. */
static const pii_pattern PATTERNS[] = {
    { ASTRO_PII_PHONE, 0, "(?:\\+?1[-.\\s]?)?\\(?\\d{3}\\)?[-.\\s]?\\d{3}[-.\\s]?\\d{4}" },
    { ASTRO_PII_SSN, 0, "\\b\\d{3}-\\d{2}-\\d{4}\\b" },
    { ASTRO_PII_CREDIT_CARD, PII_LUHN, "\\b(?:\\d{4}[-\\s]?){3}\\d{4}\\b" },
    /* The IPv4 alternative; IPv6 (astro__pii_ipv6_re) is triggered by ':'. */
    { ASTRO_PII_IP_ADDRESS, 0,
      "\\b(?:(?:25[0-5]|2[0-4]\\d|[01]?\\d\\d?)\\.){3}(?:25[0-5]|2[0-4]\\d|[01]?\\d\\d?)\\b" },
    { ASTRO_PII_DATE_OF_BIRTH, 0,
      "(?i)(?:born|dob|date\\s+of\\s+birth|birthday)[:\\s]+"
      "(\\d{4}[-/]\\d{2}[-/]\\d{2}|\\d{1,2}[-/]\\d{1,2}[-/]\\d{2,4})" },
    { ASTRO_PII_IBAN, 0,
      "\\b[A-Z]{2}\\d{2}\\s?[A-Z0-9]{4}(?:\\s?[A-Z0-9]{4}){2,7}(?:\\s?[A-Z0-9]{1,4})?\\b" },
    { ASTRO_PII_NRIC, 0, "\\b[STFGM]\\d{7}[A-Z]\\b" },
    { ASTRO_PII_SG_PHONE, 0, "\\+65\\s?\\d{4}\\s?\\d{4}\\b" },
    { ASTRO_PII_AADHAAR, 0, "\\b[2-9]\\d{3}\\s?\\d{4}\\s?\\d{4}\\b" },
    { ASTRO_PII_PAN, 0, "\\b[A-Z]{5}\\d{4}[A-Z]\\b" },
    { ASTRO_PII_IN_PHONE, 0, "\\+91\\s?\\d{5}\\s?\\d{5}\\b" },
    { ASTRO_PII_US_PASSPORT, 0, "\\b[A-Z]?\\d{8,9}\\b" },
    { ASTRO_PII_UK_NINO, 0, "\\b[A-Z]{2}\\s?\\d{2}\\s?\\d{2}\\s?\\d{2}\\s?[A-D]\\b" },
    { ASTRO_PII_UK_NHS, 0, "\\b\\d{3}\\s?\\d{3}\\s?\\d{4}\\b" },
    { ASTRO_PII_UK_PHONE, 0, "(?:\\+44\\s?\\d{4}\\s?\\d{6}|0\\d{4}\\s?\\d{6})\\b" },
    { ASTRO_PII_DE_PERSONALAUSWEIS, 0, "\\b[CFGHJKLMNPRTVWXYZ]\\d[A-Z0-9]{6}\\d\\b" },
    { ASTRO_PII_FR_INSEE, 0, "\\b[12]\\s?\\d{2}\\s?\\d{2}\\s?\\d{2}\\s?\\d{3}\\s?\\d{3}\\s?\\d{2}\\b" },
    { ASTRO_PII_IT_CODICE_FISCALE, 0, "\\b[A-Z]{6}\\d{2}[A-Z]\\d{2}[A-Z]\\d{3}[A-Z]\\b" },
    { ASTRO_PII_ES_DNI, 0, "\\b\\d{8}[A-Z]\\b" },
    { ASTRO_PII_ES_NIE, 0, "\\b[XYZ]\\d{7}[A-Z]\\b" },
    { ASTRO_PII_AU_TFN, 0, "\\b\\d{3}\\s?\\d{3}\\s?\\d{2,3}\\b" },
    { ASTRO_PII_AU_MEDICARE, 0, "\\b\\d{4}\\s?\\d{5}\\s?\\d{1,2}\\b" },
    { ASTRO_PII_AU_PHONE, 0, "\\+61\\s?\\d\\s?\\d{4}\\s?\\d{4}\\b" },
    { ASTRO_PII_CA_SIN, PII_LUHN, "\\b\\d{3}\\s?\\d{3}\\s?\\d{3}\\b" },
    { ASTRO_PII_JP_MY_NUMBER, 0,
      "(?i)(?:my\\s*number|\xe3\x83\x9e\xe3\x82\xa4\xe3\x83\x8a\xe3\x83\xb3\xe3\x83\x90\xe3\x83\xbc)"
      "[:\\s]+(\\d{4}\\s?\\d{4}\\s?\\d{4})\\b" },
    { ASTRO_PII_JP_PHONE, 0, "\\+81\\s?\\d{1,4}\\s?\\d{1,4}\\s?\\d{4}\\b" },
    { ASTRO_PII_CN_RESIDENT_ID, 0,
      "\\b\\d{6}(?:19|20)\\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\\d|3[01])\\d{3}[\\dXx]\\b" },
    { ASTRO_PII_CN_PHONE, 0, "\\+86\\s?1\\d{2}\\s?\\d{4}\\s?\\d{4}\\b" },
};

const char *const astro__pii_ipv6_re = "(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}";

const pii_pattern *astro__pii_pattern(uint32_t type) {
    for (size_t i = 0; i < sizeof PATTERNS / sizeof PATTERNS[0]; i++)
        if (PATTERNS[i].type == type) return &PATTERNS[i];
    return NULL;
}

/* ---- compiler: regex text -> syntax tree -> node program ----------------- */

enum { A_SET, A_WORDB, A_SEQ, A_ALT, A_REP };

#define AST_CAP 160
#define SEQ_CAP 64

typedef struct ast {
    uint8_t kind;
    uint16_t min, max;
    int child, sib;                /* first child, next sibling (-1: none) */
    uint8_t set[32];
} ast;

typedef struct cstate {
    const char *re, *p;
    int icase;
    ast a[AST_CAP];
    int na;
    pii_node *pool;                /* NULL: count nodes only */
    size_t cap, used;
    astro_err *err;
    int rc;
} cstate;

static void set_add(uint8_t *set, unsigned c) { set[c >> 3] |= (uint8_t)(1u << (c & 7)); }
static int set_has(const uint8_t *set, unsigned c) { return (set[c >> 3] >> (c & 7)) & 1; }

static int fail(cstate *c, const char *why) {
    if (c->rc == ASTRO_OK)
        c->rc = astro_err_set(c->err, ASTRO_EINVAL, "pii pattern: %s at offset %d",
                              why, (int)(c->p - c->re));
    return -1;
}

/* Returns a new tree node of kind, or -1 when the tree is full. */
static int new_ast(cstate *c, int kind) {
    if (c->na >= AST_CAP) return fail(c, "pattern too large");
    ast *n = &c->a[c->na];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->min = n->max = 1;
    n->child = n->sib = -1;
    return c->na++;
}

/* Adds byte b (and its other case under (?i)) to set. */
static void add_byte(cstate *c, uint8_t *set, unsigned b) {
    set_add(set, b);
    if (c->icase && ((b | 0x20) >= 'a' && (b | 0x20) <= 'z')) set_add(set, b ^ 0x20);
}

/* Adds the class escape \d or \s to set; returns 0 for any other letter. */
static int add_class_escape(uint8_t *set, char e) {
    if (e == 'd') {
        for (unsigned b = '0'; b <= '9'; b++) set_add(set, b);
        return 1;
    }
    if (e == 's') {
        static const char ws[] = " \t\n\v\f\r";
        for (const char *w = ws; *w; w++) set_add(set, (uint8_t)*w);
        return 1;
    }
    return 0;
}

/* Parses a bracket class after '['; fills set. */
static int parse_class(cstate *c, uint8_t *set) {
    int first = 1;
    while (*c->p && (*c->p != ']' || first)) {
        unsigned lo = (uint8_t)*c->p++;
        first = 0;
        if (lo == '\\') {
            if (!*c->p) return fail(c, "dangling escape");
            char e = *c->p++;
            if (add_class_escape(set, e)) continue;
            lo = (uint8_t)e;
        }
        if (c->p[0] == '-' && c->p[1] && c->p[1] != ']') {
            unsigned hi = (uint8_t)c->p[1];
            c->p += 2;
            if (hi < lo) return fail(c, "bad range");
            for (unsigned b = lo; b <= hi; b++) add_byte(c, set, b);
        } else {
            add_byte(c, set, lo);
        }
    }
    if (*c->p != ']') return fail(c, "unterminated class");
    c->p++;
    return 0;
}

static int parse_alt(cstate *c);

/* Parses one atom: group, class, escape or literal byte. */
static int parse_atom(cstate *c) {
    char ch = *c->p;
    if (ch == '(') {
        c->p++;
        if (c->p[0] == '?' && c->p[1] == ':') c->p += 2;
        int g = parse_alt(c);
        if (g < 0) return -1;
        if (*c->p != ')') return fail(c, "missing )");
        c->p++;
        return g;
    }
    int n = new_ast(c, A_SET);
    if (n < 0) return -1;
    c->p++;
    if (ch == '[') {
        if (parse_class(c, c->a[n].set) < 0) return -1;
    } else if (ch == '\\') {
        char e = *c->p++;
        if (!e) return fail(c, "dangling escape");
        if (e == 'b') c->a[n].kind = A_WORDB;
        else if (!add_class_escape(c->a[n].set, e)) add_byte(c, c->a[n].set, (uint8_t)e);
    } else if (ch == '.' || ch == '^' || ch == '$' || ch == '*' || ch == '+' || ch == '?') {
        return fail(c, "unsupported syntax");
    } else {
        add_byte(c, c->a[n].set, (uint8_t)ch);
    }
    return n;
}

/* Parses a decimal count of a {m,n} quantifier. */
static int parse_count(cstate *c) {
    int v = 0, any = 0;
    while (*c->p >= '0' && *c->p <= '9') { v = v * 10 + (*c->p++ - '0'); any = 1; if (v > 1000) break; }
    return any ? v : -1;
}

/* Parses an optional quantifier and applies it to atom n. */
static int parse_quant(cstate *c, int n) {
    int min, max;
    char q = *c->p;
    if (q == '?') { min = 0; max = 1; }
    else if (q == '*') { min = 0; max = PII_INF; }
    else if (q == '+') { min = 1; max = PII_INF; }
    else if (q == '{') {
        c->p++;
        min = parse_count(c);
        max = min;
        if (*c->p == ',') { c->p++; max = (*c->p == '}') ? (int)PII_INF : parse_count(c); }
        if (min < 0 || max < min || *c->p != '}') return fail(c, "bad {m,n}");
    } else return n;
    c->p++;
    if (c->a[n].kind == A_SET && c->a[n].min == 1 && c->a[n].max == 1) {
        c->a[n].min = (uint16_t)min;
        c->a[n].max = (uint16_t)max;
        return n;
    }
    if (max == (int)PII_INF) return fail(c, "unbounded group repeat");
    int r = new_ast(c, A_REP);
    if (r < 0) return -1;
    c->a[r].min = (uint16_t)min;
    c->a[r].max = (uint16_t)max;
    c->a[r].child = n;
    return r;
}

/* Parses a sequence up to '|', ')' or the end. */
static int parse_seq(cstate *c) {
    int s = new_ast(c, A_SEQ), last = -1;
    if (s < 0) return -1;
    while (*c->p && *c->p != '|' && *c->p != ')') {
        int n = parse_atom(c);
        if (n < 0) return -1;
        if ((n = parse_quant(c, n)) < 0) return -1;
        if (last < 0) c->a[s].child = n; else c->a[last].sib = n;
        last = n;
    }
    return s;
}

/* Parses alternatives separated by '|'. */
static int parse_alt(cstate *c) {
    int first = parse_seq(c);
    if (first < 0 || *c->p != '|') return first;
    int alt = new_ast(c, A_ALT), last = first;
    if (alt < 0) return -1;
    c->a[alt].child = first;
    while (*c->p == '|') {
        c->p++;
        int s = parse_seq(c);
        if (s < 0) return -1;
        c->a[last].sib = s;
        last = s;
    }
    return alt;
}

/* Appends a node and returns its index (counts only when pool is NULL). */
static int new_node(cstate *c, int op, uint16_t next, uint16_t alt, const ast *from) {
    if (c->used >= 0xFFFF) return fail(c, "program too large");
    if (c->pool) {
        if (c->used >= c->cap) { c->rc = ASTRO_ERANGE; return -1; }
        pii_node *nd = &c->pool[c->used];
        memset(nd, 0, sizeof *nd);
        nd->op = (uint8_t)op;
        nd->next = next;
        nd->alt = alt;
        nd->min = nd->max = 1;
        if (from) {
            nd->min = from->min;
            nd->max = from->max;
            memcpy(nd->set, from->set, sizeof nd->set);
        }
    }
    return (int)c->used++;
}

/* Emits tree node i so that it continues at next; returns its entry node. */
static int emit(cstate *c, int i, int next) {
    const ast *a = &c->a[i];
    int kids[SEQ_CAP], nk = 0, t;
    switch (a->kind) {
    case A_SET: return new_node(c, PII_OP_SET, (uint16_t)next, 0, a);
    case A_WORDB: return new_node(c, PII_OP_WORDB, (uint16_t)next, 0, NULL);
    case A_SEQ:
    case A_ALT:
        for (int k = a->child; k >= 0; k = c->a[k].sib) {
            if (nk == SEQ_CAP) return fail(c, "sequence too long");
            kids[nk++] = k;
        }
        if (a->kind == A_SEQ) {
            t = next;
            while (nk-- > 0 && t >= 0) t = emit(c, kids[nk], t);
            return t;
        }
        t = emit(c, kids[nk - 1], next);
        for (int k = nk - 2; k >= 0 && t >= 0; k--) {
            int br = emit(c, kids[k], next);
            if (br < 0) return -1;
            t = new_node(c, PII_OP_ALT, (uint16_t)br, (uint16_t)t, NULL);
        }
        return t;
    default: /* A_REP: unroll; optional copies nest so that longer is tried first */
        t = next;
        for (int k = 0; k < a->max - a->min && t >= 0; k++) {
            int br = emit(c, a->child, t);
            if (br < 0) return -1;
            t = new_node(c, PII_OP_ALT, (uint16_t)br, (uint16_t)next, NULL);
        }
        for (int k = 0; k < a->min && t >= 0; k++) t = emit(c, a->child, t);
        return t;
    }
}

int astro__pii_compile(const char *re, pii_node *pool, size_t cap, size_t *used,
                       uint16_t *head, astro_err *err) {
    cstate c;
    c.re = c.p = re;
    c.icase = 0;
    c.na = 0;
    c.pool = pool;
    c.cap = cap;
    c.used = *used;
    c.err = err;
    c.rc = ASTRO_OK;
    if (strncmp(c.p, "(?i)", 4) == 0) { c.icase = 1; c.p += 4; }
    int root = parse_alt(&c);
    if (root >= 0 && *c.p) root = fail(&c, "unbalanced )");
    if (root < 0) return c.rc;
    int m = new_node(&c, PII_OP_MATCH, 0, 0, NULL);
    int h = m < 0 ? -1 : emit(&c, root, m);
    if (h < 0) {
        if (c.rc == ASTRO_ERANGE) astro_err_set(err, ASTRO_ERANGE, "pii pattern: node pool too small");
        return c.rc;
    }
    *used = c.used;
    if (head) *head = (uint16_t)h;
    return ASTRO_OK;
}

void astro__pii_at(const pii_node *pool, uint16_t pc, unsigned d, uint8_t set[32]) {
    const pii_node *nd = &pool[pc];
    switch (nd->op) {
    case PII_OP_SET:
        /* This node takes j bytes, min <= j <= max: offset d falls inside
         * its run when j > d, else in what follows it at offset d - j. */
        if (nd->max > d)
            for (int i = 0; i < 32; i++) set[i] |= nd->set[i];
        for (unsigned j = nd->min; j <= d && j <= nd->max; j++)
            astro__pii_at(pool, nd->next, d - j, set);
        break;
    case PII_OP_ALT:
        astro__pii_at(pool, nd->next, d, set);
        astro__pii_at(pool, nd->alt, d, set);
        break;
    case PII_OP_WORDB: astro__pii_at(pool, nd->next, d, set); break;
    default: memset(set, 0xff, 32); break;   /* the match may end before d */
    }
}

size_t astro__pii_exec(const pii_node *pool, uint16_t pc, const uint8_t *s, size_t n,
                       size_t p) {
    for (;;) {
        const pii_node *nd = &pool[pc];
        switch (nd->op) {
        case PII_OP_MATCH: return p;
        case PII_OP_WORDB: {
            int before = p > 0 && astro__pii_isword(s[p - 1]);
            int after = p < n && astro__pii_isword(s[p]);
            if (before == after) return PII_FAIL;
            pc = nd->next;
            break;
        }
        case PII_OP_ALT: {
            size_t r = astro__pii_exec(pool, nd->next, s, n, p);
            if (r != PII_FAIL) return r;
            pc = nd->alt;
            break;
        }
        default: {
            size_t k = 0, max = nd->max == PII_INF ? n - p : nd->max;
            while (k < max && p + k < n && set_has(nd->set, s[p + k])) k++;
            if (k < nd->min) return PII_FAIL;
            /* Greedy: longest run first, giving back one byte at a time. */
            while (k > nd->min) {
                size_t r = astro__pii_exec(pool, nd->next, s, n, p + k);
                if (r != PII_FAIL) return r;
                k--;
            }
            p += k;
            pc = nd->next;
            break;
        }
        }
    }
}
