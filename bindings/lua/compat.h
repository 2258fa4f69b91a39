/*
** compat.h — the small layer that lets one set of binding sources compile
** against both Lua 5.4 and the Lua 5.1 C API of LuaJIT 2.1 (as LuaSocket's
** compat.h does). LuaJIT 2.1 already ships luaL_setfuncs, luaL_testudata and
** luaL_newlib; plain 5.1 gets fallbacks. Everything else the bindings need that
** differs between the versions (integer detection, user values, lengths) is
** mapped here, so the .c files contain no version #ifs of their own.
*/
#ifndef ASTRO_LUA_COMPAT_H
#define ASTRO_LUA_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* The build passes the version it expects, so that a wrong include path is
 * caught at compile time instead of crashing the host at load time. */
#if defined(ASTRO_EXPECT_LUA_VERSION) && ASTRO_EXPECT_LUA_VERSION != LUA_VERSION_NUM
#error "compiled against the wrong lua.h (LUA_VERSION_NUM mismatch)"
#endif

#if defined(__GNUC__)
#define ASTRO_LUA_EXPORT __attribute__((visibility("default")))
#else
#define ASTRO_LUA_EXPORT
#endif

#if LUA_VERSION_NUM == 501

#define lua_rawlen(L, i) lua_objlen(L, (i))
/* 5.1 has no integer subtype: callers fall back to the number path. */
#define lua_isinteger(L, i) 0

/* Plain Lua 5.1 (not LuaJIT 2.1, which defines luaL_newlibtable and has the
 * 5.2 auxiliary functions built in). */
#if !defined(luaL_newlibtable)
static inline void astro_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs astro_compat_setfuncs

static inline void *astro_compat_testudata(lua_State *L, int ud, const char *tname)
{
    void *p = lua_touserdata(L, ud);
    if (p != NULL && lua_getmetatable(L, ud)) {
        luaL_getmetatable(L, tname);
        if (!lua_rawequal(L, -1, -2))
            p = NULL;
        lua_pop(L, 2);
        return p;
    }
    return NULL;
}
#define luaL_testudata astro_compat_testudata
#define luaL_newlibtable(L, l) lua_createtable(L, 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
#endif

/* A userdata with room for one user value. */
#define astro_newud(L, sz) lua_newuserdata(L, (sz))

/* Pops a value and stores it as the user value of the userdata at idx.
 * 5.1 environments must be tables, so the value is wrapped as { value }. */
static inline void astro_setuservalue(lua_State *L, int idx)
{
    idx = (idx < 0) ? lua_gettop(L) + idx + 1 : idx;
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_setfenv(L, idx);
}

/* Pushes the user value stored by astro_setuservalue (nil if none). */
static inline void astro_getuservalue(lua_State *L, int idx)
{
    lua_getfenv(L, idx);
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

#elif LUA_VERSION_NUM >= 504

#define astro_newud(L, sz) lua_newuserdatauv(L, (sz), 1)

static inline void astro_setuservalue(lua_State *L, int idx)
{
    lua_setiuservalue(L, idx, 1);
}

static inline void astro_getuservalue(lua_State *L, int idx)
{
    lua_getiuservalue(L, idx, 1);
}

#else
#error "astrocyte bindings support Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API)"
#endif

#endif
