/*
** host_hits.c — the typed recall result: astro_hits built from a Lua
** RecallResult table in one allocation (header, hit array, tag pointer
** arrays, then the string bytes), so the host frees it with one call; and
** the ISO-8601 timestamp parser that turns the DTO's times into ms.
*/
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host_internal.h"

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p; returns -1 if they are not there. */
static int digits(const char **p, int n)
{
    int v = 0;
    while (n-- > 0) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (*(*p)++ - '0');
    }
    return v;
}

int64_t host_parse_time(const char *s)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    if (!s)
        return ASTRO_TIME_ABSENT;
    if ((y = digits(&s, 4)) < 0 || *s++ != '-' || (mo = digits(&s, 2)) < 1 || mo > 12 ||
        *s++ != '-' || (d = digits(&s, 2)) < 1 || d > 31)
        return ASTRO_TIME_ABSENT;
    if (*s == 'T' || *s == ' ') {
        s++;
        if ((h = digits(&s, 2)) < 0 || *s++ != ':' || (mi = digits(&s, 2)) < 0)
            return ASTRO_TIME_ABSENT;
        if (*s == ':') {
            s++;
            if ((sec = digits(&s, 2)) < 0)
                return ASTRO_TIME_ABSENT;
            if (*s == '.') {
                int scale = 100;
                for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
                    ms += (*s - '0') * scale;
            }
        }
        if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
            if ((oh = digits(&s, 2)) < 0)
                return ASTRO_TIME_ABSENT;
            if (*s == ':')
                s++;
            if (*s)
                om = digits(&s, 2);
            off = sign * (oh * 60 + (om > 0 ? om : 0));
        } else if (*s == 'Z') {
            s++;
        }
    }
    if (*s)
        return ASTRO_TIME_ABSENT;
    return ((days_from_civil(y, mo, d) * 86400 + h * 3600 + (mi - off) * 60 + sec) * 1000) + ms;
}

/* The string field k of the table on top, or NULL. Leaves the stack as is. */
static const char *str_field(lua_State *L, const char *k, size_t *len)
{
    const char *s = NULL;
    lua_getfield(L, -1, k);
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tolstring(L, -1, len);
    lua_pop(L, 1);      /* the string stays alive in the table */
    return s;
}

static const char *const hit_strings[] = {"memory_id", "text", "bank_id", "fact_type"};

/* Copies s (or "") to *pool and returns the copy. */
static const char *put(char **pool, const char *s, size_t len)
{
    char *d = *pool;
    if (s)
        memcpy(d, s, len);
    d[s ? len : 0] = '\0';
    *pool += (s ? len : 0) + 1;
    return d;
}

/* Where the tags of one hit go: counted in pass 1, copied in pass 2. */
typedef struct tag_sink {
    size_t ntags, bytes;    /* pass 1 */
    const char **tagp;      /* pass 2: the next tag slot */
    char *pool;             /* pass 2: the next string byte */
    int copy;
} tag_sink;

/* Counts or copies each string in the tags array of the hit on top (other
 * values are skipped); leaves the stack as is. Returns how many it saw. */
static size_t hit_tags(lua_State *L, tag_sink *ts)
{
    size_t seen = 0;
    lua_getfield(L, -1, "tags");
    if (lua_istable(L, -1)) {
        size_t t, len, nt = (size_t)lua_rawlen(L, -1);
        for (t = 1; t <= nt; t++) {
            lua_rawgeti(L, -1, (lua_Integer)t);
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *s = lua_tolstring(L, -1, &len);
                if (ts->copy)
                    *ts->tagp++ = put(&ts->pool, s, len);
                else
                    ts->bytes += len + 1, ts->ntags++;
                seen++;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return seen;
}

int host_hits_build(lua_State *L, int idx, astro_hits **out)
{
    size_t n, i, j, bytes = 0, len, total;
    astro_hits *h;
    tag_sink ts = {0, 0, NULL, NULL, 0};
    lua_getfield(L, idx, "hits");
    if (!lua_istable(L, -1))
        luaL_error(L, "recall result has no hits array");
    n = (size_t)lua_rawlen(L, -1);
    for (i = 1; i <= n; i++) {           /* pass 1: sizes */
        lua_rawgeti(L, -1, (lua_Integer)i);
        if (!lua_istable(L, -1))
            luaL_error(L, "recall hit %d is not a table", (int)i);
        for (j = 0; j < 4; j++)
            if (str_field(L, hit_strings[j], &len))
                bytes += len;
        bytes += 4;
        hit_tags(L, &ts);
        lua_pop(L, 1);
    }
    total = sizeof *h + n * sizeof(astro_hit) + ts.ntags * sizeof(char *) + bytes + ts.bytes;
    h = malloc(total);
    if (!h) {
        lua_pop(L, 1);
        return ASTRO_E_NOMEM;
    }
    h->count = n;
    h->hits = (astro_hit *)(h + 1);
    ts.tagp = (const char **)(h->hits + n);
    ts.pool = (char *)(ts.tagp + ts.ntags);
    ts.copy = 1;
    for (i = 1; i <= n; i++) {           /* pass 2: fill (no raising from here on) */
        astro_hit *x = &h->hits[i - 1];
        const char *s;
        lua_rawgeti(L, -1, (lua_Integer)i);
        s = str_field(L, "memory_id", &len); x->memory_id = put(&ts.pool, s, len);
        s = str_field(L, "text", &len);      x->text = put(&ts.pool, s, len);
        s = str_field(L, "bank_id", &len);   x->bank_id = put(&ts.pool, s, len);
        s = str_field(L, "fact_type", &len); x->fact_type = put(&ts.pool, s, len);
        lua_getfield(L, -1, "score");
        x->score = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : 0.0;
        lua_pop(L, 1);
        x->occurred_at_ms = host_parse_time(str_field(L, "occurred_at", &len));
        x->retained_at_ms = host_parse_time(str_field(L, "retained_at", &len));
        x->tags = ts.tagp;
        x->tag_count = hit_tags(L, &ts);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "total_available");
    h->total_available = lua_type(L, -1) == LUA_TNUMBER ? (size_t)lua_tonumber(L, -1) : n;
    lua_getfield(L, idx, "truncated");
    h->truncated = lua_toboolean(L, -1);
    lua_pop(L, 2);
    *out = h;
    return ASTRO_OK;
}

void astro_hits_free(astro_hits *h)
{
    free(h);
}
