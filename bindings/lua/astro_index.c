/*
** astro_index.c — the search structures of astrocyte.core: the exact flat
** vector index, the BM25 keyword index and reciprocal rank fusion. Each index
** userdata owns its core object plus reusable result buffers that grow to the
** largest k asked for (k is clamped to the index size, so a huge k never
** allocates more than the index holds). Search results come back as two
** 1-based arrays, keys and scores, best first.
*/
#include <stdlib.h>
#include <string.h>

#include "astro_lua.h"
#include "astro/vec.h"
#include "astro/bm25.h"
#include "astro/fusion.h"

/* ---- astrocyte.flat ---------------------------------------------------- */

typedef struct lflat {
    astro_flat *ix;
    size_t dim;
    float *vbuf;        /* one vector, for get() */
    uint64_t *keys;     /* result buffers, cap entries each */
    float *scores;
    size_t cap;
} lflat;

static lflat *check_flat(lua_State *L)
{
    lflat *f = (lflat *)luaL_checkudata(L, 1, ASTRO_MT_FLAT);
    if (f->ix == NULL)
        luaL_error(L, "astrocyte.flat: object is freed");
    return f;
}

/* core.flat(dim) -> index | nil, err */
static int l_flat(lua_State *L)
{
    size_t dim = astro_lua_checksize(L, 1);
    astro_err err;
    lflat *f = (lflat *)lua_newuserdata(L, sizeof *f);
    memset(f, 0, sizeof *f);
    luaL_getmetatable(L, ASTRO_MT_FLAT);
    lua_setmetatable(L, -2);
    if (astro_flat_new(dim, &f->ix, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    f->dim = astro_flat_dim(f->ix);
    f->vbuf = (float *)malloc(f->dim * sizeof(float));
    if (f->vbuf == NULL)
        return astro_lua_fail(L, "flat: not enough memory");
    return 1;
}

/* ix:add(key, vec [, occurred_ms [, retained_ms]]) -> true | nil, err (upsert) */
static int m_flat_add(lua_State *L)
{
    lflat *f = check_flat(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    size_t dim;
    const float *v = astro_lua_checkvec(L, 3, &dim);
    astro_item_times t;
    astro_err err;
    t.occurred_at = astro_lua_opttime(L, 4);
    t.retained_at = astro_lua_opttime(L, 5);
    if (astro_flat_add(f->ix, key, v, dim, &t, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:remove(key) -> true if the key was present */
static int m_flat_remove(lua_State *L)
{
    lflat *f = check_flat(L);
    lua_pushboolean(L, astro_flat_remove(f->ix, astro_lua_checkkey(L, 2)) == 1);
    return 1;
}

static int m_flat_contains(lua_State *L)
{
    lflat *f = check_flat(L);
    lua_pushboolean(L, astro_flat_contains(f->ix, astro_lua_checkkey(L, 2)) == 1);
    return 1;
}

static int m_flat_count(lua_State *L)
{
    lflat *f = check_flat(L);
    lua_pushinteger(L, (lua_Integer)astro_flat_count(f->ix));
    return 1;
}

static int m_flat_dim(lua_State *L)
{
    lflat *f = check_flat(L);
    lua_pushinteger(L, (lua_Integer)f->dim);
    return 1;
}

static int m_flat_bytes(lua_State *L)
{
    lflat *f = check_flat(L);
    lua_pushinteger(L, (lua_Integer)astro_flat_bytes(f->ix));
    return 1;
}

/* ix:get(key) -> packed stored (normalized) vector | nil when absent */
static int m_flat_get(lua_State *L)
{
    lflat *f = check_flat(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    astro_err err;
    if (astro_flat_get(f->ix, key, f->vbuf, f->dim, &err) != ASTRO_OK) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (const char *)f->vbuf, f->dim * sizeof(float));
    return 1;
}

/* ix:search(qvec, k [, filter]) -> keys, scores | nil, err */
static int m_flat_search(lua_State *L)
{
    lflat *f = check_flat(L);
    size_t dim, k, count;
    const float *q = astro_lua_checkvec(L, 2, &dim);
    astro_filter flt;
    astro_err err;
    long n;
    k = astro_lua_checksize(L, 3);
    astro_lua_checkfilter(L, 4, &flt);
    count = astro_flat_count(f->ix);
    if (k > count)
        k = count;
    astro_lua_reserve(L, &f->keys, &f->scores, &f->cap, k > 0 ? k : 1);
    n = astro_flat_search(f->ix, q, dim, k, &flt, f->keys, f->scores, &err);
    if (n < 0)
        return astro_lua_fail(L, err.msg);
    astro_lua_pushresults(L, f->keys, f->scores, (size_t)n);
    return 2;
}

static int m_flat_gc(lua_State *L)
{
    lflat *f = (lflat *)luaL_checkudata(L, 1, ASTRO_MT_FLAT);
    astro_flat_free(f->ix);
    free(f->vbuf);
    free(f->keys);
    free(f->scores);
    memset(f, 0, sizeof *f);
    return 0;
}

static const luaL_Reg flat_methods[] = {
    {"add", m_flat_add},
    {"remove", m_flat_remove},
    {"contains", m_flat_contains},
    {"count", m_flat_count},
    {"dim", m_flat_dim},
    {"bytes", m_flat_bytes},
    {"get", m_flat_get},
    {"search", m_flat_search},
    {NULL, NULL}
};

/* ---- astrocyte.bm25 ---------------------------------------------------- */

typedef struct lbm25 {
    astro_bm25 *ix;
    uint64_t *keys;
    float *scores;
    size_t cap;
} lbm25;

static lbm25 *check_bm25(lua_State *L)
{
    lbm25 *b = (lbm25 *)luaL_checkudata(L, 1, ASTRO_MT_BM25);
    if (b->ix == NULL)
        luaL_error(L, "astrocyte.bm25: object is freed");
    return b;
}

/* Reads number option `name` of the table at idx into *out when present. */
static void opt_number(lua_State *L, int idx, const char *name, double *out)
{
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pushfstring(L, "opts.%s must be a number", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        *out = (double)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
}

/* core.bm25([{k1, b, stem, stopwords}]) -> index | nil, err */
static int l_bm25(lua_State *L)
{
    astro_bm25_opts o;
    astro_err err;
    lbm25 *b;
    astro_bm25_opts_init(&o);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        opt_number(L, 1, "k1", &o.k1);
        opt_number(L, 1, "b", &o.b);
        o.tok.stem = astro_lua_optbool(L, 1, "stem", o.tok.stem);
        o.tok.stopwords = astro_lua_optbool(L, 1, "stopwords", o.tok.stopwords);
    }
    b = (lbm25 *)lua_newuserdata(L, sizeof *b);
    memset(b, 0, sizeof *b);
    luaL_getmetatable(L, ASTRO_MT_BM25);
    lua_setmetatable(L, -2);
    if (astro_bm25_new(&o, &b->ix, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* ix:add(key, text [, occurred_ms [, retained_ms]]) -> true | nil, err */
static int m_bm25_add(lua_State *L)
{
    lbm25 *b = check_bm25(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    size_t len;
    const char *s = luaL_checklstring(L, 3, &len);
    astro_item_times t;
    astro_err err;
    t.occurred_at = astro_lua_opttime(L, 4);
    t.retained_at = astro_lua_opttime(L, 5);
    if (astro_bm25_add(b->ix, key, s, len, &t, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

static int m_bm25_remove(lua_State *L)
{
    lbm25 *b = check_bm25(L);
    lua_pushboolean(L, astro_bm25_remove(b->ix, astro_lua_checkkey(L, 2)) == 1);
    return 1;
}

static int m_bm25_count(lua_State *L)
{
    lbm25 *b = check_bm25(L);
    lua_pushinteger(L, (lua_Integer)astro_bm25_count(b->ix));
    return 1;
}

static int m_bm25_bytes(lua_State *L)
{
    lbm25 *b = check_bm25(L);
    lua_pushinteger(L, (lua_Integer)astro_bm25_bytes(b->ix));
    return 1;
}

/* ix:search(query, k [, filter]) -> keys, scores (raw BM25) | nil, err */
static int m_bm25_search(lua_State *L)
{
    lbm25 *b = check_bm25(L);
    size_t qlen, k, count;
    const char *q = luaL_checklstring(L, 2, &qlen);
    astro_filter flt;
    astro_err err;
    long n;
    k = astro_lua_checksize(L, 3);
    astro_lua_checkfilter(L, 4, &flt);
    count = astro_bm25_count(b->ix);
    if (k > count)
        k = count;
    astro_lua_reserve(L, &b->keys, &b->scores, &b->cap, k > 0 ? k : 1);
    n = astro_bm25_search(b->ix, q, qlen, k, &flt, b->keys, b->scores, &err);
    if (n < 0)
        return astro_lua_fail(L, err.msg);
    astro_lua_pushresults(L, b->keys, b->scores, (size_t)n);
    return 2;
}

static int m_bm25_gc(lua_State *L)
{
    lbm25 *b = (lbm25 *)luaL_checkudata(L, 1, ASTRO_MT_BM25);
    astro_bm25_free(b->ix);
    free(b->keys);
    free(b->scores);
    memset(b, 0, sizeof *b);
    return 0;
}

static const luaL_Reg bm25_methods[] = {
    {"add", m_bm25_add},
    {"remove", m_bm25_remove},
    {"count", m_bm25_count},
    {"bytes", m_bm25_bytes},
    {"search", m_bm25_search},
    {NULL, NULL}
};

/* ---- fusion ------------------------------------------------------------ */

/* Pushes lists[i].keys of the lists table at index 1, raising unless it is a
 * table; leaves the weight in *w (default 1). */
static void rrf_list(lua_State *L, size_t i, double *w)
{
    lua_rawgeti(L, 1, (int)i);
    if (!lua_istable(L, -1)) {
        lua_pushfstring(L, "lists[%d] must be a table", (int)i);
        luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    lua_getfield(L, -1, "weight");
    if (lua_isnil(L, -1)) {
        *w = 1.0;
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
        *w = (double)lua_tonumber(L, -1);
    } else {
        lua_pushfstring(L, "lists[%d].weight must be a number", (int)i);
        luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "keys");
    if (!lua_istable(L, -1)) {
        lua_pushfstring(L, "lists[%d].keys must be a table", (int)i);
        luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    lua_remove(L, -2);
}

/* core.rrf(lists [, k=60]) -> keys, scores | nil, err.
 * lists = { {keys = {...}, weight = 1}, ... }, each best first. */
static int l_rrf(lua_State *L)
{
    size_t nl, i, j, total = 0, pos = 0, nout = 0;
    double k;
    astro_ranked *ranked;
    uint64_t *all, *okeys;
    double *oscores;
    astro_err err;
    luaL_checktype(L, 1, LUA_TTABLE);
    k = (double)luaL_optnumber(L, 2, 60);
    nl = lua_rawlen(L, 1);
    for (i = 1; i <= nl; i++) {
        double w;
        rrf_list(L, i, &w);
        total += lua_rawlen(L, -1);
        lua_pop(L, 1);
    }
    ranked = (astro_ranked *)lua_newuserdata(L, (nl > 0 ? nl : 1) * sizeof *ranked);
    all = (uint64_t *)lua_newuserdata(L, (total > 0 ? total : 1) * sizeof *all);
    okeys = (uint64_t *)lua_newuserdata(L, (total > 0 ? total : 1) * sizeof *okeys);
    oscores = (double *)lua_newuserdata(L, (total > 0 ? total : 1) * sizeof *oscores);
    for (i = 1; i <= nl; i++) {
        size_t n;
        rrf_list(L, i, &ranked[i - 1].weight);
        n = lua_rawlen(L, -1);
        if (pos + n > total)    /* an __index metamethod may have grown it since */
            n = total - pos;
        ranked[i - 1].keys = all + pos;
        ranked[i - 1].n = n;
        for (j = 1; j <= n; j++) {
            lua_rawgeti(L, -1, (int)j);
            if (!astro_lua_tokey(L, -1, &all[pos])) {
                lua_pushfstring(L, "lists[%d].keys[%d] must be an integer in [0, 2^53)",
                                (int)i, (int)j);
                luaL_argerror(L, 1, lua_tostring(L, -1));
            }
            pos++;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    if (astro_rrf_fuse(ranked, nl, k, okeys, oscores, total, &nout, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    if (nout > total)
        nout = total;
    lua_createtable(L, (int)nout, 0);
    for (i = 0; i < nout; i++) {
        lua_pushinteger(L, (lua_Integer)okeys[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_createtable(L, (int)nout, 0);
    for (i = 0; i < nout; i++) {
        lua_pushnumber(L, (lua_Number)oscores[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 2;
}

static const luaL_Reg index_funcs[] = {
    {"flat", l_flat},
    {"bm25", l_bm25},
    {"rrf", l_rrf},
    {NULL, NULL}
};

void astro_lua_open_index(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_FLAT, flat_methods, m_flat_gc);
    astro_lua_newclass(L, ASTRO_MT_BM25, bm25_methods, m_bm25_gc);
    luaL_setfuncs(L, index_funcs, 0);
}
