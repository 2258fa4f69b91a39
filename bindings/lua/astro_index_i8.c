/*
** astro_index_i8.c — core.flat_i8(dim [, {rescore = n}]): the int8 flat
** index, which keeps only codes (about 420 bytes per 384-d vector) and
** rescores its candidates exactly from vectors the caller already stores.
** ix:search(q, k [, filter [, fetch]]) calls fetch(key) once per candidate
** (k * rescore of them); fetch returns the key's packed float32 vector (a
** row's BLOB, a slice of a mapped file) or nil. Without fetch the scores
** are the int8 estimates. Results are two 1-based arrays, keys and scores
** ((1+cos)/2), best first, or nil, err — a missing or malformed vector, or
** an error raised by fetch, fails the search and names the key. Every other
** method is the shared one of astro_index.c.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro_index.h"

#define ASTRO_MT_FLAT_I8 "astrocyte.flat_i8"

/* What the fetch callback needs: the state, the function's stack slot, and
 * the reason it gave up. */
typedef struct fetch_env {
    lua_State *L;
    int fn;
    char why[200];
} fetch_env;

/* Calls the Lua fetch function for key; copies its packed vector into buf. */
static const float *fetch_lua(void *user, uint64_t key, float *buf, size_t dim)
{
    fetch_env *e = (fetch_env *)user;
    lua_State *L = e->L;
    size_t len;
    const char *s;
    lua_pushvalue(L, e->fn);
    lua_pushinteger(L, (lua_Integer)key);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        snprintf(e->why, sizeof e->why, "flat_i8: fetch(%llu) failed: %s", (unsigned long long)key,
                 lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_isnil(L, -1)) {   /* the caller has no row: the core names the key */
        lua_pop(L, 1);
        return NULL;
    }
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (s == NULL || len != dim * sizeof(float)) {
        snprintf(e->why, sizeof e->why, "flat_i8: fetch(%llu) must return a packed vector of %zu floats, got %s",
                 (unsigned long long)key, dim, s ? "a string of another length" : luaL_typename(L, -1));
        lua_pop(L, 1);
        return NULL;
    }
    memcpy(buf, s, len);
    lua_pop(L, 1);
    return buf;
}

/* ix:search(query, k [, filter [, fetch]]) -> keys, scores | nil, err */
static int m_search(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    size_t qlen, k, count;
    const float *q = astro_lua_checkvec(L, 2, &qlen);
    astro_filter flt;
    astro_err err;
    fetch_env env;
    long n;
    k = astro_lua_checksize(L, 3);
    astro_lua_checkfilter(L, 4, &flt);
    if (!lua_isnoneornil(L, 5))
        luaL_checktype(L, 5, LUA_TFUNCTION);
    env.L = L, env.fn = 5, env.why[0] = '\0';
    count = astro_flat_i8_count(x->i8);
    if (k > count)
        k = count;
    astro_lua_reserve(L, &x->keys, &x->scores, &x->cap, k > 0 ? k : 1);
    n = astro_flat_i8_search(x->i8, x->i8ctx, q, qlen, k, &flt, lua_isnoneornil(L, 5) ? NULL : fetch_lua, &env,
                             x->keys, x->scores, &err);
    if (n < 0)
        return astro_lua_fail(L, env.why[0] ? env.why : err.msg);
    astro_lua_pushresults(L, x->keys, x->scores, (size_t)n);
    return 2;
}

/* Reads opts.rescore (candidates per result, 1..1024; 0 or absent = 4). */
static size_t opt_rescore(lua_State *L, int idx)
{
    lua_Number n;
    size_t v = 0;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "rescore");
    if (!lua_isnil(L, -1)) {
        n = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || n < 0 || n > 1024 || n != (lua_Number)(size_t)n)
            luaL_argerror(L, idx, "opts.rescore must be an integer in 0..1024");
        v = (size_t)n;
    }
    lua_pop(L, 1);
    return v;
}

/* core.flat_i8(dim [, opts]) -> index | nil, err */
static int l_flat_i8(lua_State *L)
{
    size_t dim = astro_lua_checksize(L, 1), rescore = opt_rescore(L, 2);
    astro_err err;
    lindex *x = astro_lua_index_push(L, ASTRO_MT_FLAT_I8);
    if (astro_flat_i8_new(dim, rescore, &x->i8, &err) != ASTRO_OK ||
        astro_flat_i8_ctx_new(x->i8, 10, &x->i8ctx, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* Replaces the shared search with the one that takes fetch. */
static const luaL_Reg i8_methods[] = {
    {"search", m_search},
    {NULL, NULL}
};

void astro_lua_open_index_i8(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_FLAT_I8, astro_lua_index_methods, astro_lua_index_gc);
    astro_lua_addmethods(L, ASTRO_MT_FLAT_I8, i8_methods);
    lua_pushcfunction(L, l_flat_i8);
    lua_setfield(L, -2, "flat_i8");
}
