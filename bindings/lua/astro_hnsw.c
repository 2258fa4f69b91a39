/*
** astro_hnsw.c — the HNSW graph in astrocyte.core: core.hnsw(dim [, opts])
** and core.hnsw_load(path) / core.hnsw_load_string(s). Each userdata owns its
** graph, one search context (Lua states are single-threaded, so one context
** per index is enough) and result buffers that grow to the largest k asked
** for. The graph serializes to a file or a Lua string, so a store can keep it
** as a BLOB. Results come back like core.flat's: keys and (1+cos)/2 scores.
*/
#include <stdlib.h>
#include <string.h>

#include "astro_lua.h"
#include "astro/hnsw.h"

#define ASTRO_MT_HNSW "astrocyte.hnsw"

typedef struct lhnsw {
    astro_hnsw *ix;
    astro_hnsw_ctx *ctx;
    uint64_t *keys;
    float *scores;
    size_t cap;
} lhnsw;

static lhnsw *check_hnsw(lua_State *L)
{
    lhnsw *h = (lhnsw *)luaL_checkudata(L, 1, ASTRO_MT_HNSW);
    if (h->ix == NULL)
        luaL_error(L, "astrocyte.hnsw: object is freed");
    return h;
}

/* Pushes an empty hnsw userdata (freed safely by __gc if setup fails). */
static lhnsw *push_hnsw(lua_State *L)
{
    lhnsw *h = (lhnsw *)lua_newuserdata(L, sizeof *h);
    memset(h, 0, sizeof *h);
    luaL_getmetatable(L, ASTRO_MT_HNSW);
    lua_setmetatable(L, -2);
    return h;
}

/* Creates the search context of a freshly made graph; 1 or nil, err. */
static int finish_hnsw(lua_State *L, lhnsw *h)
{
    astro_err err;
    if (astro_hnsw_ctx_new(h->ix, &h->ctx, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* Reads the non-negative integer option `name` of the table at idx. */
static size_t opt_size(lua_State *L, int idx, const char *name, size_t dflt)
{
    size_t v = dflt;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        lua_Number n = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || n < 0 || n != (lua_Number)(size_t)n) {
            lua_pushfstring(L, "opts.%s must be a non-negative integer", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        v = (size_t)n;
    }
    lua_pop(L, 1);
    return v;
}

/* core.hnsw(dim [, {M=16, ef_construction=200, ef=64, seed}]) -> index | nil, err */
static int l_hnsw(lua_State *L)
{
    size_t dim = astro_lua_checksize(L, 1);
    astro_hnsw_opts o;
    astro_err err;
    lhnsw *h;
    astro_hnsw_opts_init(&o);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        o.M = opt_size(L, 2, "M", o.M);
        o.ef_construction = opt_size(L, 2, "ef_construction", o.ef_construction);
        o.ef_search = opt_size(L, 2, "ef", o.ef_search);
        o.seed = opt_size(L, 2, "seed", o.seed);
    }
    h = push_hnsw(L);
    if (astro_hnsw_new(dim, &o, &h->ix, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return finish_hnsw(L, h);
}

/* core.hnsw_load(path) -> index | nil, err */
static int l_hnsw_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    astro_err err;
    lhnsw *h = push_hnsw(L);
    if (astro_hnsw_load(path, &h->ix, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return finish_hnsw(L, h);
}

/* core.hnsw_load_string(s) -> index | nil, err */
static int l_hnsw_load_string(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    astro_err err;
    lhnsw *h = push_hnsw(L);
    if (astro_hnsw_load_mem(s, len, &h->ix, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return finish_hnsw(L, h);
}

/* ix:add(key, vec [, occurred_ms [, retained_ms]]) -> true | nil, err (upsert) */
static int m_hnsw_add(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    size_t dim;
    const float *v = astro_lua_checkvec(L, 3, &dim);
    astro_item_times t;
    astro_err err;
    t.occurred_at = astro_lua_opttime(L, 4);
    t.retained_at = astro_lua_opttime(L, 5);
    if (astro_hnsw_add(h->ix, key, v, dim, &t, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:remove(key) -> true if the key was present */
static int m_hnsw_remove(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    lua_pushboolean(L, astro_hnsw_remove(h->ix, astro_lua_checkkey(L, 2)) == 1);
    return 1;
}

static int m_hnsw_contains(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    lua_pushboolean(L, astro_hnsw_contains(h->ix, astro_lua_checkkey(L, 2)) == 1);
    return 1;
}

static int m_hnsw_count(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    lua_pushinteger(L, (lua_Integer)astro_hnsw_count(h->ix));
    return 1;
}

static int m_hnsw_dim(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    lua_pushinteger(L, (lua_Integer)astro_hnsw_dim(h->ix));
    return 1;
}

static int m_hnsw_bytes(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    lua_pushinteger(L, (lua_Integer)astro_hnsw_bytes(h->ix));
    return 1;
}

/* ix:repair() -> true | nil, err */
static int m_hnsw_repair(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    astro_err err;
    if (astro_hnsw_repair(h->ix, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:search(qvec, k [, filter [, ef]]) -> keys, scores | nil, err */
static int m_hnsw_search(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    size_t dim, k, count, ef = 0;
    const float *q = astro_lua_checkvec(L, 2, &dim);
    astro_filter flt;
    astro_err err;
    long n;
    k = astro_lua_checksize(L, 3);
    astro_lua_checkfilter(L, 4, &flt);
    if (!lua_isnoneornil(L, 5))
        ef = astro_lua_checksize(L, 5);
    count = astro_hnsw_count(h->ix);
    if (k > count)
        k = count;
    astro_lua_reserve(L, &h->keys, &h->scores, &h->cap, k > 0 ? k : 1);
    n = astro_hnsw_search(h->ix, h->ctx, q, dim, k, ef, &flt, h->keys, h->scores, &err);
    if (n < 0)
        return astro_lua_fail(L, err.msg);
    astro_lua_pushresults(L, h->keys, h->scores, (size_t)n);
    return 2;
}

/* ix:save(path) -> true | nil, err */
static int m_hnsw_save(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    const char *path = luaL_checkstring(L, 2);
    astro_err err;
    if (astro_hnsw_save(h->ix, path, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:save_string() -> string (the bytes astro_hnsw_save would write) */
static int m_hnsw_save_string(lua_State *L)
{
    lhnsw *h = check_hnsw(L);
    size_t n = astro_hnsw_save_size(h->ix), len = 0;
    astro_err err;
    char *buf = (char *)lua_newuserdata(L, n ? n : 1);   /* GC-owned scratch */
    if (astro_hnsw_save_mem(h->ix, buf, n, &len, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushlstring(L, buf, len);
    return 1;
}

static int m_hnsw_gc(lua_State *L)
{
    lhnsw *h = (lhnsw *)luaL_checkudata(L, 1, ASTRO_MT_HNSW);
    astro_hnsw_ctx_free(h->ctx);
    astro_hnsw_free(h->ix);
    free(h->keys);
    free(h->scores);
    memset(h, 0, sizeof *h);
    return 0;
}

static const luaL_Reg hnsw_methods[] = {
    {"add", m_hnsw_add},
    {"remove", m_hnsw_remove},
    {"contains", m_hnsw_contains},
    {"count", m_hnsw_count},
    {"dim", m_hnsw_dim},
    {"bytes", m_hnsw_bytes},
    {"repair", m_hnsw_repair},
    {"search", m_hnsw_search},
    {"save", m_hnsw_save},
    {"save_string", m_hnsw_save_string},
    {NULL, NULL}
};

static const luaL_Reg hnsw_funcs[] = {
    {"hnsw", l_hnsw},
    {"hnsw_load", l_hnsw_load},
    {"hnsw_load_string", l_hnsw_load_string},
    {NULL, NULL}
};

void astro_lua_open_hnsw(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_HNSW, hnsw_methods, m_hnsw_gc);
    luaL_setfuncs(L, hnsw_funcs, 0);
}
