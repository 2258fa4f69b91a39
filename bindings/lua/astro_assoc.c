/*
** astro_assoc.c — the associative index of astrocyte.core (assoc.h):
** core.assoc([opts]) -> index with add(key, text [, occurred_ms [,
** retained_ms]]), remove(key), count(), terms(), bytes(), search(query, k [,
** filter [, seeds]]) -> keys, scores (best first) and similarity(term1,
** term2) -> cosine. One checked userdata class; result buffers grow to the
** largest k asked for (clamped to the index size) and are reused.
*/
#include <stdlib.h>
#include <string.h>

#include "astro_lua.h"
#include "astro/assoc.h"

typedef struct lassoc {
    astro_assoc *a;        /* NULL once freed */
    uint64_t *keys;        /* result buffers, cap entries each */
    float *scores;
    size_t cap;
} lassoc;

static lassoc *check_assoc(lua_State *L)
{
    lassoc *x = (lassoc *)luaL_checkudata(L, 1, ASTRO_MT_ASSOC);
    if (x->a == NULL)
        luaL_error(L, "%s: object is freed", ASTRO_MT_ASSOC);
    return x;
}

static int m_gc(lua_State *L)
{
    lassoc *x = (lassoc *)lua_touserdata(L, 1);
    if (x == NULL)
        return 0;
    astro_assoc_free(x->a);
    free(x->keys);
    free(x->scores);
    memset(x, 0, sizeof *x);
    return 0;
}

/* Reads non-negative integer option `name` of the table at idx into *out. */
static void opt_u32(lua_State *L, int idx, const char *name, uint32_t *out)
{
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        lua_Number v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || v < 0 || v > 4294967295.0 || v != (lua_Number)(uint32_t)v) {
            lua_pushfstring(L, "opts.%s must be a non-negative integer", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        *out = (uint32_t)v;
    }
    lua_pop(L, 1);
}

/* core.assoc([{dim, nnz, min_df, expand, min_sim, stem, stopwords}]) -> index | nil, err */
static int l_assoc(lua_State *L)
{
    astro_assoc_opts o;
    astro_err err;
    lassoc *x;
    astro_assoc_opts_init(&o);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        opt_u32(L, 1, "dim", &o.dim);
        opt_u32(L, 1, "nnz", &o.nnz);
        opt_u32(L, 1, "min_df", &o.min_df);
        opt_u32(L, 1, "expand", &o.expand);
        lua_getfield(L, 1, "min_sim");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER)
                luaL_argerror(L, 1, "opts.min_sim must be a number");
            o.min_sim = (double)lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
        o.tok.stem = astro_lua_optbool(L, 1, "stem", o.tok.stem);
        o.tok.stopwords = astro_lua_optbool(L, 1, "stopwords", o.tok.stopwords);
    }
    x = (lassoc *)lua_newuserdata(L, sizeof *x);
    memset(x, 0, sizeof *x);
    luaL_getmetatable(L, ASTRO_MT_ASSOC);
    lua_setmetatable(L, -2);
    if (astro_assoc_new(&o, &x->a, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* ix:add(key, text [, occurred_ms [, retained_ms]]) -> true | nil, err (upsert) */
static int m_add(lua_State *L)
{
    lassoc *x = check_assoc(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    size_t n;
    const char *s = luaL_checklstring(L, 3, &n);
    astro_item_times t;
    astro_err err;
    t.occurred_at = astro_lua_opttime(L, 4);
    t.retained_at = astro_lua_opttime(L, 5);
    if (astro_assoc_add(x->a, key, s, n, &t, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:remove(key) -> true if the key was present */
static int m_remove(lua_State *L)
{
    lassoc *x = check_assoc(L);
    lua_pushboolean(L, astro_assoc_remove(x->a, astro_lua_checkkey(L, 2)) == 1);
    return 1;
}

static int m_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_assoc_count(check_assoc(L)->a));
    return 1;
}

static int m_terms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_assoc_terms(check_assoc(L)->a));
    return 1;
}

static int m_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_assoc_bytes(check_assoc(L)->a));
    return 1;
}

/* ix:search(query, k [, filter [, seeds]]) -> keys, scores | nil, err.
 * seeds: array of keys whose documents join the query (feedback). */
static int m_search(lua_State *L)
{
    lassoc *x = check_assoc(L);
    size_t qlen, k, count, nseeds = 0, i;
    const char *q = luaL_checklstring(L, 2, &qlen);
    uint64_t *seeds = NULL;
    astro_filter flt;
    astro_err err;
    long n;
    k = astro_lua_checksize(L, 3);
    astro_lua_checkfilter(L, 4, &flt);
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        nseeds = lua_rawlen(L, 5);
        seeds = (uint64_t *)lua_newuserdata(L, (nseeds > 0 ? nseeds : 1) * sizeof *seeds);
        for (i = 0; i < nseeds; i++) {
            lua_rawgeti(L, 5, (int)i + 1);
            if (!astro_lua_tokey(L, -1, &seeds[i])) {
                lua_pushfstring(L, "seeds[%d] must be an integer in [0, 2^53)", (int)i + 1);
                luaL_argerror(L, 5, lua_tostring(L, -1));
            }
            lua_pop(L, 1);
        }
    }
    count = astro_assoc_count(x->a);
    if (k > count)
        k = count;
    astro_lua_reserve(L, &x->keys, &x->scores, &x->cap, k > 0 ? k : 1);
    n = astro_assoc_search(x->a, q, qlen, seeds, nseeds, k, &flt, x->keys, x->scores, &err);
    if (n < 0)
        return astro_lua_fail(L, err.msg);
    astro_lua_pushresults(L, x->keys, x->scores, (size_t)n);
    return 2;
}

/* ix:similarity(term1, term2) -> cosine association of two terms */
static int m_similarity(lua_State *L)
{
    lassoc *x = check_assoc(L);
    size_t n1, n2;
    const char *t1 = luaL_checklstring(L, 2, &n1);
    const char *t2 = luaL_checklstring(L, 3, &n2);
    lua_pushnumber(L, (lua_Number)astro_assoc_similarity(x->a, t1, n1, t2, n2));
    return 1;
}

static const luaL_Reg assoc_methods[] = {
    {"add", m_add},
    {"remove", m_remove},
    {"count", m_count},
    {"terms", m_terms},
    {"bytes", m_bytes},
    {"search", m_search},
    {"similarity", m_similarity},
    {NULL, NULL}
};

void astro_lua_open_assoc(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_ASSOC, assoc_methods, m_gc);
    lua_pushcfunction(L, l_assoc);
    lua_setfield(L, -2, "assoc");
}
