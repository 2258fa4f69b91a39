/*
** standalone.h — what the Lua modules built as their own shared libraries
** (astrocyte.sqlite, astrocyte.pq, astrocyte.http_curl, astrocyte.webhook)
** share: registering a userdata class, the module table, and the blocking
** sleep of their retry loops. Static inline because each module links alone;
** astrocyte.core (astro_lua.h) wraps astro_mod_class and astro_mod_optbool. A file including
** it defines _POSIX_C_SOURCE >= 199309L first when it uses astro_mod_sleep_ms.
*/
#ifndef ASTRO_LUA_STANDALONE_H
#define ASTRO_LUA_STANDALONE_H

#include <errno.h>
#include <time.h>

#include "compat.h"

#define ASTRO_MOD_VERSION "0.1.0"

/* Creates metatable tname with methods as __index plus __gc and __tostring
 * (only when it did not exist yet), and pops it. With named, the metatable
 * gets __name (LuaJIT sets none) and every method tname as its upvalue 1,
 * so one C function can serve several classes (astro_lua_newclass). */
static inline void astro_mod_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                                   int named, lua_CFunction gc, lua_CFunction tostring)
{
    if (luaL_newmetatable(L, tname)) {
        if (named) {
            lua_pushstring(L, tname);
            lua_setfield(L, -2, "__name");
        }
        lua_newtable(L);
        if (named)
            lua_pushstring(L, tname);
        luaL_setfuncs(L, methods, named ? 1 : 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

/* astro_mod_class without names: the standalone modules' classes. */
static inline void astro_mod_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                                      lua_CFunction gc, lua_CFunction tostring)
{
    astro_mod_class(L, tname, methods, 0, gc, tostring);
}

/* Returns boolean field `name` of the options table at idx, dflt when nil;
 * raises "opts.<name> must be a boolean" for another type. */
static inline int astro_mod_optbool(lua_State *L, int idx, const char *name, int dflt)
{
    int v = dflt;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1)) {
            lua_pushfstring(L, "opts.%s must be a boolean", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* Pushes the module table: funcs plus VERSION. */
static inline void astro_mod_newlib(lua_State *L, const luaL_Reg *funcs)
{
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    lua_pushliteral(L, ASTRO_MOD_VERSION);
    lua_setfield(L, -2, "VERSION");
}

#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 199309L
/* Blocks the calling thread for ms milliseconds, at most cap; nothing for
 * ms <= 0 or NaN. Resumes after signals until the time has passed. */
static inline void astro_mod_sleep_ms(lua_Number ms, lua_Number cap)
{
    struct timespec ts, rem;
    if (!(ms > 0))
        return;
    if (ms > cap)
        ms = cap;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (lua_Number)ts.tv_sec * 1000) * 1000000);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}
#endif

#endif
