/*
** astro_policy.c — the policy primitives of astrocyte.core: the PII scanner
** (core.pii_scanner), token buckets with daily quotas (core.ratelimiter) and
** the circuit breaker (core.breaker). Each is a userdata owning its core
** object; __gc frees it. Times are numbers the caller passes in (seconds, or
** a UTC day number for quotas), so the Lua layer chooses the clock (ngx.now,
** core.now_ms, or a test's fake). Match offsets cross as 1-based inclusive
** byte positions so that text:sub(m.start, m.stop) is the match. Misuse
** raises; out-of-memory returns nil and a message.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astro/breaker.h"
#include "astro/pii.h"
#include "astro/ratelimit.h"
#include "astro_lua.h"

#define ASTRO_MT_PII     "astrocyte.pii_scanner"
#define ASTRO_MT_RATELIM "astrocyte.ratelimiter"
#define ASTRO_MT_BREAKER "astrocyte.breaker"

typedef struct l_pii {
    astro_pii *sc;
    astro_pii_match *m;   /* scratch for scan results, grown on demand */
    size_t cap;
} l_pii;

/* Returns number field `name` of the table at idx, dflt when nil; raises if
 * it holds another type. */
static lua_Number opt_number(lua_State *L, int idx, const char *name, lua_Number dflt)
{
    lua_Number v = dflt;
    if (lua_isnoneornil(L, idx))
        return dflt;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pushfstring(L, "opts.%s must be a number", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* Returns a positive integer option (or dflt); raises outside [1, max]. */
static uint32_t opt_count(lua_State *L, int idx, const char *name, uint32_t dflt, double max)
{
    lua_Number v = opt_number(L, idx, name, (lua_Number)dflt);
    if (!(v >= 1 && v <= max) || v != floor(v)) {
        lua_pushfstring(L, "opts.%s must be an integer between 1 and %d", name, (int)max);
        luaL_argerror(L, idx, lua_tostring(L, -1));
    }
    return (uint32_t)v;
}

/* ---- PII scanner ---------------------------------------------------------- */

/* core.pii_scanner({countries = {...}, types = {...}}) -> scanner | nil, err */
static int l_pii_new(lua_State *L)
{
    const char *countries[ASTRO_PII_MAX_COUNTRIES];
    astro_pii_opts o = { countries, 0, 0 };
    astro_err err;
    l_pii *u;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "countries");
        if (!lua_isnil(L, -1)) {
            int i, n;
            luaL_argcheck(L, lua_istable(L, -1), 1, "opts.countries must be an array of strings");
            n = (int)lua_rawlen(L, -1);
            luaL_argcheck(L, n <= ASTRO_PII_MAX_COUNTRIES, 1, "opts.countries has too many entries");
            for (i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "opts.countries must be an array of strings");
                countries[i - 1] = lua_tostring(L, -1);   /* kept alive by opts */
                lua_pop(L, 1);
            }
            o.n_countries = (size_t)n;
        }
        lua_pop(L, 1);
        lua_getfield(L, 1, "types");
        if (!lua_isnil(L, -1)) {
            int i, n, t;
            luaL_argcheck(L, lua_istable(L, -1), 1, "opts.types must be an array of type names");
            n = (int)lua_rawlen(L, -1);
            for (i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                t = lua_type(L, -1) == LUA_TSTRING ? astro_pii_type_from_name(lua_tostring(L, -1)) : -1;
                if (t < 0) {
                    lua_pushfstring(L, "opts.types[%d] is not a PII type name", i);
                    luaL_argerror(L, 1, lua_tostring(L, -1));
                }
                o.types |= ASTRO_PII_BIT(t);
                lua_pop(L, 1);
            }
            luaL_argcheck(L, o.types != 0, 1, "opts.types is empty");
        }
        lua_pop(L, 1);
    }
    u = (l_pii *)lua_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    luaL_getmetatable(L, ASTRO_MT_PII);
    lua_setmetatable(L, -2);
    if (astro_pii_new(&o, &u->sc, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

static l_pii *check_pii(lua_State *L)
{
    l_pii *u = (l_pii *)luaL_checkudata(L, 1, ASTRO_MT_PII);
    if (u->sc == NULL)
        luaL_argerror(L, 1, "scanner is closed");
    return u;
}

/* Scans s into u->m, growing it as needed; returns the count or raises. */
static size_t pii_scan(lua_State *L, l_pii *u, const char *s, size_t len)
{
    size_t n = 0;
    astro_err err;
    int rc = astro_pii_scan(u->sc, s, len, u->m, u->cap, &n, &err);
    if (rc == ASTRO_ERANGE) {
        astro_pii_match *m = (astro_pii_match *)realloc(u->m, n * sizeof *m);
        if (m == NULL)
            luaL_error(L, "not enough memory");
        u->m = m;
        u->cap = n;
        rc = astro_pii_scan(u->sc, s, len, u->m, u->cap, &n, &err);
    }
    if (rc != ASTRO_OK)
        luaL_error(L, "pii scan: %s", err.msg);
    return n;
}

/* Pushes the matches as an array of {type, start, stop, text}. */
static void push_matches(lua_State *L, const l_pii *u, size_t n, const char *s)
{
    size_t i;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        const astro_pii_match *m = &u->m[i];
        lua_createtable(L, 0, 4);
        lua_pushstring(L, astro_pii_type_name(m->type));
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, (lua_Integer)m->off + 1);
        lua_setfield(L, -2, "start");
        lua_pushinteger(L, (lua_Integer)(m->off + m->len));
        lua_setfield(L, -2, "stop");
        lua_pushlstring(L, s + m->off, m->len);
        lua_setfield(L, -2, "text");
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* scanner:scan(text) -> array of {type=, start=, stop=, text=} */
static int l_pii_scan(lua_State *L)
{
    l_pii *u = check_pii(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    push_matches(L, u, pii_scan(L, u, s, len), s);
    return 1;
}

/* Returns 1 if the action for type t in the actions argument is "redact". */
static int wants_redact(lua_State *L, int idx, uint32_t t)
{
    const char *a;
    int r;
    if (lua_isnoneornil(L, idx))
        return 1;
    if (lua_type(L, idx) == LUA_TSTRING)
        return strcmp(lua_tostring(L, idx), "redact") == 0;
    lua_getfield(L, idx, astro_pii_type_name(t));
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, idx, "*");
    }
    a = lua_tostring(L, -1);
    r = a != NULL && strcmp(a, "redact") == 0;
    lua_pop(L, 1);
    return r;
}

/* scanner:redact(text [, actions [, replacements]]) -> new_text, matches.
 * actions: nil (redact all), an action string for every type, or a table
 * type -> action with optional "*" default; only "redact" spans change.
 * replacements: optional table type -> replacement text. */
static int l_pii_redact(lua_State *L)
{
    l_pii *u = check_pii(L);
    size_t len, n, need = 0;
    const char *s = luaL_checklstring(L, 2, &len);
    const char *repl[ASTRO_PII_TYPE_COUNT];
    uint64_t mask = 0;
    uint32_t t;
    char *buf;
    astro_err err;
    if (!lua_isnoneornil(L, 3) && lua_type(L, 3) != LUA_TSTRING)
        luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    for (t = 0; t < ASTRO_PII_TYPE_COUNT; t++) {
        repl[t] = NULL;
        if (wants_redact(L, 3, t))
            mask |= ASTRO_PII_BIT(t);
        if (!lua_isnoneornil(L, 4)) {
            lua_getfield(L, 4, astro_pii_type_name(t));
            if (lua_type(L, -1) == LUA_TSTRING)
                repl[t] = lua_tostring(L, -1);   /* kept alive by the table */
            lua_pop(L, 1);
        }
    }
    n = pii_scan(L, u, s, len);
    push_matches(L, u, n, s);
    if (astro_pii_redact(s, len, u->m, n, mask, repl, NULL, 0, &need, &err) == ASTRO_EINVAL)
        luaL_error(L, "pii redact: %s", err.msg);
    buf = (char *)lua_newuserdata(L, need ? need : 1);
    if (astro_pii_redact(s, len, u->m, n, mask, repl, buf, need, &need, &err) != ASTRO_OK)
        luaL_error(L, "pii redact: %s", err.msg);
    lua_pushlstring(L, buf, need);
    lua_replace(L, -2);
    lua_insert(L, -2);
    return 2;
}

static int l_pii_gc(lua_State *L)
{
    l_pii *u = (l_pii *)luaL_checkudata(L, 1, ASTRO_MT_PII);
    astro_pii_free(u->sc);
    free(u->m);
    u->sc = NULL;
    u->m = NULL;
    u->cap = 0;
    return 0;
}

/* core.pii_types() -> array of {name=, replacement=} in type id order. */
static int l_pii_types(lua_State *L)
{
    uint32_t t;
    lua_createtable(L, ASTRO_PII_TYPE_COUNT, 0);
    for (t = 0; t < ASTRO_PII_TYPE_COUNT; t++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, astro_pii_type_name(t));
        lua_setfield(L, -2, "name");
        lua_pushstring(L, astro_pii_replacement(t));
        lua_setfield(L, -2, "replacement");
        lua_rawseti(L, -2, (int)t + 1);
    }
    return 1;
}

/* ---- rate limiter ------------------------------------------------------------ */

static astro_ratelimit **check_rl(lua_State *L)
{
    astro_ratelimit **u = (astro_ratelimit **)luaL_checkudata(L, 1, ASTRO_MT_RATELIM);
    if (*u == NULL)
        luaL_argerror(L, 1, "rate limiter is closed");
    return u;
}

/* The open limiter (argument 1) and a key (argument 2) of a limiter call. */
typedef struct rl_key {
    astro_ratelimit *rl;
    const char *key;
    size_t len;
} rl_key;

static rl_key check_rl_key(lua_State *L)
{
    rl_key k;
    k.rl = *check_rl(L);
    k.key = luaL_checklstring(L, 2, &k.len);
    return k;
}

/* core.ratelimiter({max_buckets = 10000}) -> limiter | nil, err */
static int l_rl_new(lua_State *L)
{
    astro_err err;
    astro_ratelimit **u;
    uint32_t max;
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    max = opt_count(L, 1, "max_buckets", ASTRO_RATELIMIT_DEFAULT_KEYS, 1e9);
    u = (astro_ratelimit **)lua_newuserdata(L, sizeof *u);
    *u = NULL;
    luaL_getmetatable(L, ASTRO_MT_RATELIM);
    lua_setmetatable(L, -2);
    if (astro_ratelimit_new(max, u, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* limiter:check(key, per_minute, now) -> true | false, retry_after */
static int l_rl_check(lua_State *L)
{
    rl_key k = check_rl_key(L);
    lua_Number per_minute = luaL_checknumber(L, 3);
    lua_Number now = luaL_checknumber(L, 4);
    double retry = 0;
    astro_err err;
    int rc;
    luaL_argcheck(L, per_minute > 0 && isfinite(per_minute), 3, "per_minute must be a positive number");
    luaL_argcheck(L, isfinite(now), 4, "now must be a finite number of seconds");
    rc = astro_ratelimit_check(k.rl, k.key, k.len, per_minute, now, &retry, &err);
    if (rc < 0)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, rc);
    if (rc)
        return 1;
    lua_pushnumber(L, retry);
    return 2;
}

/* limiter:tokens(key) -> tokens left at the last refill, or nil */
static int l_rl_tokens(lua_State *L)
{
    rl_key k = check_rl_key(L);
    double t = astro_ratelimit_tokens(k.rl, k.key, k.len);
    if (t < 0)
        return 0;
    lua_pushnumber(L, t);
    return 1;
}

/* Returns the integer at idx, raising unless it is integral. */
static int64_t check_int(lua_State *L, int idx)
{
    lua_Number n = luaL_checknumber(L, idx);
    if (!(n > -9007199254740992.0 && n < 9007199254740992.0) || n != floor(n))
        luaL_argerror(L, idx, "must be an integer");
    return (int64_t)n;
}

/* limiter:quota(key, limit, day) -> allowed (count < limit), count */
static int l_rl_quota(lua_State *L)
{
    rl_key k = check_rl_key(L);
    int64_t limit = check_int(L, 3), day = check_int(L, 4), count = 0;
    lua_pushboolean(L, astro_ratelimit_quota_check(k.rl, k.key, k.len, limit, day, &count));
    lua_pushnumber(L, (lua_Number)count);
    return 2;
}

/* limiter:record_quota(key, day) -> true | nil, err */
static int l_rl_record(lua_State *L)
{
    rl_key k = check_rl_key(L);
    int64_t day = check_int(L, 3);
    astro_err err;
    if (astro_ratelimit_quota_record(k.rl, k.key, k.len, day, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* limiter:buckets() -> number of buckets held */
static int l_rl_buckets(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_ratelimit_buckets(*check_rl(L)));
    return 1;
}

static int l_rl_gc(lua_State *L)
{
    astro_ratelimit **u = (astro_ratelimit **)luaL_checkudata(L, 1, ASTRO_MT_RATELIM);
    astro_ratelimit_free(*u);
    *u = NULL;
    return 0;
}

/* ---- circuit breaker ----------------------------------------------------------- */

static astro_breaker *check_br(lua_State *L)
{
    astro_breaker **u = (astro_breaker **)luaL_checkudata(L, 1, ASTRO_MT_BREAKER);
    if (*u == NULL)
        luaL_argerror(L, 1, "breaker is closed");
    return *u;
}

/* core.breaker({failure_threshold = 5, recovery_timeout = 30,
 * half_open_max_calls = 2}) -> breaker | nil, err */
static int l_br_new(lua_State *L)
{
    astro_breaker_opts o;
    astro_breaker **u;
    astro_err err;
    lua_Number rt;
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    astro_breaker_opts_init(&o);
    o.failure_threshold = opt_count(L, 1, "failure_threshold", o.failure_threshold, 1e9);
    o.half_open_max_calls = opt_count(L, 1, "half_open_max_calls", o.half_open_max_calls, 1e9);
    rt = opt_number(L, 1, "recovery_timeout", o.recovery_timeout);
    luaL_argcheck(L, rt >= 0 && isfinite(rt), 1, "opts.recovery_timeout must be a non-negative number of seconds");
    o.recovery_timeout = rt;
    u = (astro_breaker **)lua_newuserdata(L, sizeof *u);
    *u = NULL;
    luaL_getmetatable(L, ASTRO_MT_BREAKER);
    lua_setmetatable(L, -2);
    if (astro_breaker_new(&o, u, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* breaker:check(now) -> true if the call may go ahead (counted in half_open) */
static int l_br_check(lua_State *L)
{
    astro_breaker *b = check_br(L);
    lua_pushboolean(L, astro_breaker_check(b, luaL_checknumber(L, 2)));
    return 1;
}

/* breaker:success() */
static int l_br_success(lua_State *L)
{
    astro_breaker_success(check_br(L));
    return 0;
}

/* breaker:failure(now) */
static int l_br_failure(lua_State *L)
{
    astro_breaker *b = check_br(L);
    astro_breaker_failure(b, luaL_checknumber(L, 2));
    return 0;
}

/* breaker:state(now) -> "closed" | "open" | "half_open" */
static int l_br_state(lua_State *L)
{
    astro_breaker *b = check_br(L);
    lua_pushstring(L, astro_breaker_state_name(astro_breaker_state_at(b, luaL_checknumber(L, 2))));
    return 1;
}

/* breaker:reset() */
static int l_br_reset(lua_State *L)
{
    astro_breaker_reset(check_br(L));
    return 0;
}

/* breaker:failures() -> failures since the last success or reset */
static int l_br_failures(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_breaker_failures(check_br(L)));
    return 1;
}

static int l_br_gc(lua_State *L)
{
    astro_breaker **u = (astro_breaker **)luaL_checkudata(L, 1, ASTRO_MT_BREAKER);
    astro_breaker_free(*u);
    *u = NULL;
    return 0;
}

static const luaL_Reg pii_methods[] = {
    {"scan", l_pii_scan},
    {"redact", l_pii_redact},
    {NULL, NULL}
};

static const luaL_Reg rl_methods[] = {
    {"check", l_rl_check},
    {"tokens", l_rl_tokens},
    {"quota", l_rl_quota},
    {"record_quota", l_rl_record},
    {"buckets", l_rl_buckets},
    {NULL, NULL}
};

static const luaL_Reg br_methods[] = {
    {"check", l_br_check},
    {"success", l_br_success},
    {"failure", l_br_failure},
    {"state", l_br_state},
    {"reset", l_br_reset},
    {"failures", l_br_failures},
    {NULL, NULL}
};

static const luaL_Reg policy_funcs[] = {
    {"pii_scanner", l_pii_new},
    {"pii_types", l_pii_types},
    {"ratelimiter", l_rl_new},
    {"breaker", l_br_new},
    {NULL, NULL}
};

void astro_lua_open_policy(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_PII, pii_methods, l_pii_gc);
    astro_lua_newclass(L, ASTRO_MT_RATELIM, rl_methods, l_rl_gc);
    astro_lua_newclass(L, ASTRO_MT_BREAKER, br_methods, l_br_gc);
    luaL_setfuncs(L, policy_funcs, 0);
}
