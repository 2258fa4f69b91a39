/*
** astro_rowcache.c — core.row_cache(cap, fields): rows (tables of scalar
** fields) kept packed in C memory (blobcache.h), so a store can cache tens
** of thousands of rows without adding a single object to the Lua heap.
**   cache:put(key, row) -> true | nil, err    row's `fields` (strings,
**                                              numbers, booleans or nil)
**   cache:get(key)      -> a new table | nil
**   cache:drop(key) -> boolean, cache:clear(), cache:count(), cache:bytes()
** A packed row is, per field in order, one tag byte and its payload:
** nil, false, true (none), integer (int64), number (double), string (uint32
** length + bytes). get builds a fresh table, so callers own what they get.
*/
#include <stdlib.h>
#include <string.h>

#include "astro_lua.h"
#include "astro/blobcache.h"

#define MAX_FIELDS 64

enum { T_NIL, T_FALSE, T_TRUE, T_INT, T_NUM, T_STR };

typedef struct lrowcache {
    astro_blobcache *c;    /* NULL once freed */
    char *names[MAX_FIELDS];
    int nfields;
    unsigned char *buf;    /* packing scratch, cap bytes */
    size_t cap;
} lrowcache;

static lrowcache *check_cache(lua_State *L)
{
    lrowcache *x = (lrowcache *)luaL_checkudata(L, 1, ASTRO_MT_ROWCACHE);
    if (x->c == NULL)
        luaL_error(L, "%s: object is freed", ASTRO_MT_ROWCACHE);
    return x;
}

static int m_gc(lua_State *L)
{
    lrowcache *x = (lrowcache *)lua_touserdata(L, 1);
    if (x == NULL)
        return 0;
    astro_blobcache_free(x->c);
    for (int i = 0; i < x->nfields; i++)
        free(x->names[i]);
    free(x->buf);
    memset(x, 0, sizeof *x);
    return 0;
}

/* core.row_cache(cap, fields) -> cache */
static int l_row_cache(lua_State *L)
{
    size_t cap = astro_lua_checksize(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 2);
    luaL_argcheck(L, n >= 1 && n <= MAX_FIELDS, 2, "fields must list 1 to 64 names");
    lrowcache *x = (lrowcache *)lua_newuserdata(L, sizeof *x);
    memset(x, 0, sizeof *x);
    luaL_getmetatable(L, ASTRO_MT_ROWCACHE);
    lua_setmetatable(L, -2);
    astro_err err;
    if (astro_blobcache_new(cap, &x->c, &err) != ASTRO_OK)
        return luaL_argerror(L, 1, err.msg);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 2, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_argerror(L, 2, "fields must be strings");
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        x->names[i] = malloc(len + 1);
        if (x->names[i] == NULL)
            return luaL_error(L, "not enough memory");
        memcpy(x->names[i], s, len + 1);
        x->nfields = i + 1;
        lua_pop(L, 1);
    }
    return 1;
}

/* Appends n bytes to the scratch buffer at *at, growing it. */
static void emit(lua_State *L, lrowcache *x, size_t *at, const void *p, size_t n)
{
    if (n > x->cap - *at) {
        size_t want = x->cap ? x->cap : 256;
        while (n > want - *at) {
            if (want > (size_t)1 << 40)
                luaL_error(L, "row_cache: row too large");
            want *= 2;
        }
        unsigned char *b = realloc(x->buf, want);
        if (b == NULL)
            luaL_error(L, "not enough memory");
        x->buf = b;
        x->cap = want;
    }
    memcpy(x->buf + *at, p, n);
    *at += n;
}

/* cache:put(key, row) -> true | nil, err */
static int m_put(lua_State *L)
{
    lrowcache *x = check_cache(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    size_t at = 0;
    for (int i = 0; i < x->nfields; i++) {
        lua_getfield(L, 3, x->names[i]);
        unsigned char tag;
        switch (lua_type(L, -1)) {
        case LUA_TNIL:
            tag = T_NIL;
            emit(L, x, &at, &tag, 1);
            break;
        case LUA_TBOOLEAN:
            tag = lua_toboolean(L, -1) ? T_TRUE : T_FALSE;
            emit(L, x, &at, &tag, 1);
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                int64_t v = (int64_t)lua_tointeger(L, -1);
                tag = T_INT;
                emit(L, x, &at, &tag, 1);
                emit(L, x, &at, &v, sizeof v);
            } else {
                double v = (double)lua_tonumber(L, -1);
                tag = T_NUM;
                emit(L, x, &at, &tag, 1);
                emit(L, x, &at, &v, sizeof v);
            }
            break;
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            if (len > UINT32_MAX)
                return luaL_error(L, "row_cache: field '%s' is longer than 4 GiB", x->names[i]);
            uint32_t n32 = (uint32_t)len;
            tag = T_STR;
            emit(L, x, &at, &tag, 1);
            emit(L, x, &at, &n32, sizeof n32);
            emit(L, x, &at, s, len);
            break;
        }
        default:
            return luaL_error(L, "row_cache: field '%s' holds a %s (strings, numbers and booleans only)",
                              x->names[i], luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    astro_err err;
    if (astro_blobcache_put(x->c, key, x->buf, at, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* cache:get(key) -> a new row table | nil */
static int m_get(lua_State *L)
{
    lrowcache *x = check_cache(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    size_t n;
    const unsigned char *p = astro_blobcache_get(x->c, key, &n);
    if (p == NULL) {
        lua_pushnil(L);
        return 1;
    }
    const unsigned char *end = p + n;
    lua_createtable(L, 0, x->nfields);
    for (int i = 0; i < x->nfields && p < end; i++) {
        unsigned char tag = *p++;
        switch (tag) {
        case T_NIL:
            continue;
        case T_FALSE:
        case T_TRUE:
            lua_pushboolean(L, tag == T_TRUE);
            break;
        case T_INT: {
            int64_t v;
            memcpy(&v, p, sizeof v);
            p += sizeof v;
            lua_pushinteger(L, (lua_Integer)v);
            break;
        }
        case T_NUM: {
            double v;
            memcpy(&v, p, sizeof v);
            p += sizeof v;
            lua_pushnumber(L, (lua_Number)v);
            break;
        }
        default: {
            uint32_t len;
            memcpy(&len, p, sizeof len);
            p += sizeof len;
            lua_pushlstring(L, (const char *)p, len);
            p += len;
            break;
        }
        }
        lua_setfield(L, -2, x->names[i]);
    }
    return 1;
}

static int m_drop(lua_State *L)
{
    lrowcache *x = check_cache(L);
    lua_pushboolean(L, astro_blobcache_drop(x->c, astro_lua_checkkey(L, 2)));
    return 1;
}

static int m_clear(lua_State *L)
{
    astro_blobcache_clear(check_cache(L)->c);
    return 0;
}

static int m_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_blobcache_count(check_cache(L)->c));
    return 1;
}

static int m_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_blobcache_bytes(check_cache(L)->c));
    return 1;
}

static const luaL_Reg rowcache_methods[] = {
    {"put", m_put},
    {"get", m_get},
    {"drop", m_drop},
    {"clear", m_clear},
    {"count", m_count},
    {"bytes", m_bytes},
    {NULL, NULL}
};

void astro_lua_open_rowcache(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_ROWCACHE, rowcache_methods, m_gc);
    lua_pushcfunction(L, l_row_cache);
    lua_setfield(L, -2, "row_cache");
}
