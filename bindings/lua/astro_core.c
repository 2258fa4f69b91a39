/*
** astro_core.c — entry point of the Lua module astrocyte.core and the argument
** helpers shared by its areas. The module only exposes libastrocyte's
** primitives (text, vectors, indexes, fusion); the Lua framework builds the
** engine on top, as socket.lua does over socket.core. Vectors cross the
** boundary as packed float32 strings in host byte order; keys are integers in
** [0, 2^53) so that they are exact in LuaJIT's doubles. Misuse raises through
** luaL_check* and luaL_argerror; runtime failures return nil plus the core's
** message. There is no C static mutable state: all per-state data lives in
** userdata reachable from upvalues or the values passed in.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astro_lua.h"
#include "standalone.h"

int astro_lua_fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

int astro_lua_tokey(lua_State *L, int idx, uint64_t *key)
{
    lua_Number n;
    if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (i < 0 || (double)i >= ASTRO_LUA_KEY_LIMIT)
            return 0;
        *key = (uint64_t)i;
        return 1;
    }
    if (lua_type(L, idx) != LUA_TNUMBER)
        return 0;
    n = lua_tonumber(L, idx);
    if (!(n >= 0 && n < ASTRO_LUA_KEY_LIMIT) || n != floor(n))
        return 0;
    *key = (uint64_t)n;
    return 1;
}

uint64_t astro_lua_checkkey(lua_State *L, int idx)
{
    uint64_t key = 0;
    if (!astro_lua_tokey(L, idx, &key))
        luaL_argerror(L, idx, "key must be an integer in [0, 2^53)");
    return key;
}

int astro_lua_optbool(lua_State *L, int idx, const char *name, int dflt)
{
    return astro_mod_optbool(L, idx, name, dflt);
}

int64_t astro_lua_opttime(lua_State *L, int idx)
{
    lua_Number n;
    if (lua_isnoneornil(L, idx))
        return ASTRO_TIME_NONE;
    if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (i == (lua_Integer)ASTRO_TIME_NONE)
            luaL_argerror(L, idx, "time out of range");
        return (int64_t)i;
    }
    n = luaL_checknumber(L, idx);
    /* +-2^63 bounds: beyond them the cast is undefined. */
    if (!(n > -9223372036854775808.0 && n < 9223372036854775808.0) || n != floor(n))
        luaL_argerror(L, idx, "time must be integer milliseconds");
    return (int64_t)n;
}

size_t astro_lua_checksize(lua_State *L, int idx)
{
    lua_Number n;
    if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (i < 0)
            luaL_argerror(L, idx, "must be a non-negative integer");
        return (size_t)i;
    }
    n = luaL_checknumber(L, idx);
    if (!(n >= 0 && n < ASTRO_LUA_KEY_LIMIT) || n != floor(n))
        luaL_argerror(L, idx, "must be a non-negative integer");
    return (size_t)n;
}

const float *astro_lua_checkvec(lua_State *L, int idx, size_t *dim)
{
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    void *copy;
    if (len % sizeof(float) != 0)
        luaL_argerror(L, idx, "packed vector length must be a multiple of 4");
    *dim = len / sizeof(float);
    if (((uintptr_t)s % _Alignof(float)) == 0)
        return (const float *)(const void *)s;
    copy = lua_newuserdata(L, len > 0 ? len : 1);
    memcpy(copy, s, len);
    return (const float *)copy;
}

/* Reads field `name` of the table at idx as a timestamp. */
static int64_t filter_time(lua_State *L, int idx, const char *name)
{
    int64_t t;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER) {
        lua_pushfstring(L, "filter.%s must be a number (milliseconds)", name);
        luaL_argerror(L, idx, lua_tostring(L, -1));
    }
    t = astro_lua_opttime(L, lua_gettop(L));
    lua_pop(L, 1);
    return t;
}

void astro_lua_checkfilter(lua_State *L, int idx, astro_filter *f)
{
    astro_filter_init(f);
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "allow");
    if (!lua_isnil(L, -1)) {
        astro_lua_keyset *ks = (astro_lua_keyset *)luaL_testudata(L, -1, ASTRO_MT_KEYSET);
        if (ks == NULL)
            luaL_argerror(L, idx, "filter.allow must be an astrocyte.keyset");
        ks->view.bits = ks->bits;
        ks->view.nbits = ks->nbits;
        f->allow = &ks->view;
    }
    lua_pop(L, 1);
    f->time_from = filter_time(L, idx, "time_from");
    f->time_to = filter_time(L, idx, "time_to");
    f->as_of = filter_time(L, idx, "as_of");
}

void astro_lua_pushresults(lua_State *L, const uint64_t *keys, const float *scores,
                           size_t n)
{
    size_t i;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)keys[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushnumber(L, (lua_Number)scores[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

void astro_lua_reserve(lua_State *L, uint64_t **keys, float **scores, size_t *cap,
                       size_t n)
{
    uint64_t *nk;
    float *ns;
    size_t want = *cap > 0 ? *cap : 16;
    if (n <= *cap)
        return;
    while (want < n)
        want *= 2;
    nk = (uint64_t *)realloc(*keys, want * sizeof *nk);
    if (nk == NULL)
        luaL_error(L, "not enough memory");
    *keys = nk;
    ns = (float *)realloc(*scores, want * sizeof *ns);
    if (ns == NULL)
        luaL_error(L, "not enough memory");
    *scores = ns;
    *cap = want;
}

/* __tostring of every astrocyte.core userdata: "<type name>: 0x...". */
static int class_tostring(lua_State *L)
{
    const char *name = "astrocyte";
    if (lua_getmetatable(L, 1)) {
        lua_getfield(L, -1, "__name");
        if (lua_type(L, -1) == LUA_TSTRING)
            name = lua_tostring(L, -1);
    }
    lua_pushfstring(L, "%s: %p", name, lua_touserdata(L, 1));
    return 1;
}

void astro_lua_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                        lua_CFunction gc)
{
    astro_mod_class(L, tname, methods, 1, gc, class_tostring);
}

/* core.now_ms() -> integer milliseconds since the Unix epoch (UTC), from the
 * C11 wall clock, so stored timestamps have real sub-second resolution. */
static int core_now_ms(lua_State *L)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return astro_lua_fail(L, "clock unavailable");
    lua_pushnumber(L, (lua_Number)((double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000)));
    return 1;
}

/* core.time() -> seconds since the epoch as a double with sub-microsecond
 * resolution, for measuring latencies (os.clock counts CPU time only). */
static int core_time(lua_State *L)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return astro_lua_fail(L, "clock unavailable");
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.iso_ms(ms) -> "YYYY-MM-DDTHH:MM:SS[.mmm]Z" for milliseconds since the
 * epoch (UTC; the fraction only when it is not zero). A recall formats two
 * instants per candidate hit, and in Lua 5.4 that was a tenth of its
 * instructions. Days to a civil date: H. Hinnant's days_from_civil inverse,
 * exact over the whole proleptic Gregorian range; no gmtime (time_t and
 * locale-free). */
static int core_iso_ms(lua_State *L)
{
    lua_Number n = luaL_checknumber(L, 1);
    luaL_argcheck(L, n == n && fabs(n) < 9007199254740992.0, 1, "milliseconds must be finite and below 2^53");
    int64_t ms = (int64_t)floor(n);
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t frac = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    char buf[64];
    int len = snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", (long long)y, (long long)m,
                       (long long)d, (long long)(rem / 3600), (long long)(rem % 3600 / 60), (long long)(rem % 60));
    if (len > 0 && frac != 0 && (size_t)len < sizeof buf)
        len += snprintf(buf + len, sizeof buf - (size_t)len, ".%03lld", (long long)frac);
    if (len <= 0 || (size_t)len + 1 >= sizeof buf)
        return luaL_error(L, "iso_ms: cannot format %f", (double)n);
    buf[len++] = 'Z';
    lua_pushlstring(L, buf, (size_t)len);
    return 1;
}

void astro_lua_addmethods(lua_State *L, const char *tname, const luaL_Reg *methods)
{
    luaL_getmetatable(L, tname);
    lua_getfield(L, -1, "__index");
    lua_pushstring(L, tname);
    luaL_setfuncs(L, methods, 1);
    lua_pop(L, 2);
}

ASTRO_LUA_EXPORT int luaopen_astrocyte_core(lua_State *L);

/* Builds the module table; each area registers its own functions. */
ASTRO_LUA_EXPORT int luaopen_astrocyte_core(lua_State *L)
{
    lua_newtable(L);
    astro_lua_open_text(L);
    astro_lua_open_vec(L);
    astro_lua_open_index(L);
    astro_lua_open_index_i8(L);
    astro_lua_open_assoc(L);
    astro_lua_open_rowcache(L);
    astro_lua_open_policy(L);
    astro_lua_open_crypto(L);
    astro_lua_open_fs(L);
    astro_lua_open_json(L);
    lua_pushcfunction(L, core_now_ms);
    lua_setfield(L, -2, "now_ms");
    lua_pushcfunction(L, core_time);
    lua_setfield(L, -2, "time");
    lua_pushcfunction(L, core_iso_ms);
    lua_setfield(L, -2, "iso_ms");
    lua_pushliteral(L, ASTRO_LUA_VERSION);
    lua_setfield(L, -2, "VERSION");
    return 1;
}
