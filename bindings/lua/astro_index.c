/*
** astro_index.c — the search structures of astrocyte.core: the exact flat
** vector index core.flat(dim), the HNSW graph core.hnsw(dim [, opts]) /
** core.hnsw_load(path) / core.hnsw_load_string(s), the BM25 keyword index
** core.bm25([opts]) / core.bm25_load(path [, opts]) and reciprocal rank fusion core.rrf(lists [, k]).
**
** The indexes are one userdata type, lindex (astro_index.h; flat_i8 in
** astro_index_i8.c is a fourth kind), holding exactly one core object plus
** reusable result buffers that grow to the largest k asked for (k is
** clamped to the index size, so a huge k never allocates more than the
** index holds); one set of methods serves every kind,
** and each method checks its self argument against the class it was
** registered for (its upvalue, see astro_lua_newclass). An HNSW index also
** owns one search context (Lua states are single-threaded, so one per index
** is enough) and serializes to a file or a Lua string, so a store can keep
** it as a BLOB. Search results come back as two 1-based arrays, keys and
** scores, best first: (1+cos)/2 for the vector indexes, raw BM25 for bm25.
*/
#include <stdlib.h>
#include <string.h>

#include "astro_index.h"
#include "astro/fusion.h"

/* ---- the index userdata ------------------------------------------------ */

lindex *astro_lua_index_check(lua_State *L)
{
    const char *tname = lua_tostring(L, lua_upvalueindex(1));
    lindex *x = (lindex *)luaL_checkudata(L, 1, tname);
    if (x->flat == NULL && x->hnsw == NULL && x->bm25 == NULL && x->i8 == NULL)
        luaL_error(L, "%s: object is freed", tname);
    return x;
}

lindex *astro_lua_index_push(lua_State *L, const char *tname)
{
    lindex *x = (lindex *)lua_newuserdata(L, sizeof *x);
    memset(x, 0, sizeof *x);
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
    return x;
}

int astro_lua_index_gc(lua_State *L)
{
    lindex *x = (lindex *)lua_touserdata(L, 1);
    if (x == NULL)
        return 0;
    astro_flat_free(x->flat);
    astro_hnsw_ctx_free(x->ctx);
    astro_hnsw_free(x->hnsw);
    astro_bm25_free(x->bm25);
    astro_flat_i8_ctx_free(x->i8ctx);
    astro_flat_i8_free(x->i8);
    free(x->vbuf);
    free(x->keys);
    free(x->scores);
    memset(x, 0, sizeof *x);
    return 0;
}

/* ix:add(key, vec|text [, occurred_ms [, retained_ms]]) -> true | nil, err (upsert) */
static int m_add(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    size_t n;
    const void *v = x->bm25 != NULL ? (const void *)luaL_checklstring(L, 3, &n)
                                    : (const void *)astro_lua_checkvec(L, 3, &n);
    astro_item_times t;
    astro_err err;
    int rc;
    t.occurred_at = astro_lua_opttime(L, 4);
    t.retained_at = astro_lua_opttime(L, 5);
    if (x->flat != NULL)
        rc = astro_flat_add(x->flat, key, (const float *)v, n, &t, &err);
    else if (x->hnsw != NULL)
        rc = astro_hnsw_add(x->hnsw, key, (const float *)v, n, &t, &err);
    else if (x->i8 != NULL)
        rc = astro_flat_i8_add(x->i8, key, (const float *)v, n, &t, &err);
    else
        rc = astro_bm25_add(x->bm25, key, (const char *)v, n, &t, &err);
    if (rc != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:remove(key) -> true if the key was present */
static int m_remove(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    int rc = x->flat != NULL ? astro_flat_remove(x->flat, key)
           : x->hnsw != NULL ? astro_hnsw_remove(x->hnsw, key)
           : x->i8 != NULL   ? astro_flat_i8_remove(x->i8, key)
                             : astro_bm25_remove(x->bm25, key);
    lua_pushboolean(L, rc == 1);
    return 1;
}

/* ix:contains(key) -> boolean (vector indexes) */
static int m_contains(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    int rc = x->flat != NULL ? astro_flat_contains(x->flat, key)
           : x->hnsw != NULL ? astro_hnsw_contains(x->hnsw, key)
                             : astro_flat_i8_contains(x->i8, key);
    lua_pushboolean(L, rc == 1);
    return 1;
}

size_t astro_lua_index_count(const lindex *x)
{
    return x->flat != NULL ? astro_flat_count(x->flat)
         : x->hnsw != NULL ? astro_hnsw_count(x->hnsw)
         : x->i8 != NULL   ? astro_flat_i8_count(x->i8)
                           : astro_bm25_count(x->bm25);
}

static int m_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)astro_lua_index_count(astro_lua_index_check(L)));
    return 1;
}

static int m_dim(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    lua_pushinteger(L, (lua_Integer)(x->flat != NULL ? x->dim
                                   : x->hnsw != NULL ? astro_hnsw_dim(x->hnsw)
                                                     : astro_flat_i8_dim(x->i8)));
    return 1;
}

static int m_bytes(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    size_t n = x->flat != NULL ? astro_flat_bytes(x->flat)
             : x->hnsw != NULL ? astro_hnsw_bytes(x->hnsw)
             : x->i8 != NULL   ? astro_flat_i8_bytes(x->i8)
                               : astro_bm25_bytes(x->bm25);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* ix:search(query, k [, filter [, ef]]) -> keys, scores | nil, err. The
 * query is a packed vector (a text for bm25); ef is HNSW's beam width. */
static int m_search(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    size_t qlen, k, count, ef = 0;
    const void *q = x->bm25 != NULL ? (const void *)luaL_checklstring(L, 2, &qlen)
                                    : (const void *)astro_lua_checkvec(L, 2, &qlen);
    astro_filter flt;
    astro_err err;
    long n;
    k = astro_lua_checksize(L, 3);
    astro_lua_checkfilter(L, 4, &flt);
    if (x->hnsw != NULL && !lua_isnoneornil(L, 5))
        ef = astro_lua_checksize(L, 5);
    count = astro_lua_index_count(x);
    if (k > count)
        k = count;
    astro_lua_reserve(L, &x->keys, &x->scores, &x->cap, k > 0 ? k : 1);
    if (x->flat != NULL)
        n = astro_flat_search(x->flat, (const float *)q, qlen, k, &flt, x->keys, x->scores, &err);
    else if (x->hnsw != NULL)
        n = astro_hnsw_search(x->hnsw, x->ctx, (const float *)q, qlen, k, ef, &flt, x->keys, x->scores, &err);
    else
        n = astro_bm25_search(x->bm25, (const char *)q, qlen, k, &flt, x->keys, x->scores, &err);
    if (n < 0)
        return astro_lua_fail(L, err.msg);
    astro_lua_pushresults(L, x->keys, x->scores, (size_t)n);
    return 2;
}

/* The methods the vector indexes share (flat_i8 replaces search); bm25 has
 * all but contains and dim. */
const luaL_Reg astro_lua_index_methods[] = {
    {"add", m_add},
    {"remove", m_remove},
    {"contains", m_contains},
    {"count", m_count},
    {"dim", m_dim},
    {"bytes", m_bytes},
    {"search", m_search},
    {NULL, NULL}
};

/* ---- astrocyte.flat ---------------------------------------------------- */

/* core.flat(dim) -> index | nil, err */
static int l_flat(lua_State *L)
{
    size_t dim = astro_lua_checksize(L, 1);
    astro_err err;
    lindex *x = astro_lua_index_push(L, ASTRO_MT_FLAT);
    if (astro_flat_new(dim, &x->flat, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    x->dim = astro_flat_dim(x->flat);
    x->vbuf = (float *)malloc(x->dim * sizeof(float));
    if (x->vbuf == NULL)
        return astro_lua_fail(L, "flat: not enough memory");
    return 1;
}

/* ix:get(key) -> packed stored (normalized) vector | nil when absent */
static int m_flat_get(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    astro_err err;
    if (astro_flat_get(x->flat, key, x->vbuf, x->dim, &err) != ASTRO_OK) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (const char *)x->vbuf, x->dim * sizeof(float));
    return 1;
}

static const luaL_Reg flat_methods[] = {
    {"get", m_flat_get},
    {NULL, NULL}
};

/* ---- astrocyte.hnsw ---------------------------------------------------- */

/* Creates the search context of a freshly made graph; 1 or nil, err. */
static int finish_hnsw(lua_State *L, lindex *x)
{
    astro_err err;
    if (astro_hnsw_ctx_new(x->hnsw, &x->ctx, &err) != ASTRO_OK)
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
    lindex *x;
    astro_hnsw_opts_init(&o);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        o.M = opt_size(L, 2, "M", o.M);
        o.ef_construction = opt_size(L, 2, "ef_construction", o.ef_construction);
        o.ef_search = opt_size(L, 2, "ef", o.ef_search);
        o.seed = opt_size(L, 2, "seed", o.seed);
    }
    x = astro_lua_index_push(L, ASTRO_MT_HNSW);
    if (astro_hnsw_new(dim, &o, &x->hnsw, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return finish_hnsw(L, x);
}

/* core.hnsw_load(path) / core.hnsw_load_string(s) -> index | nil, err
 * (upvalue 1: true for the string form). */
static int l_hnsw_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    astro_err err;
    lindex *x = astro_lua_index_push(L, ASTRO_MT_HNSW);
    int rc = lua_toboolean(L, lua_upvalueindex(1)) ? astro_hnsw_load_mem(s, len, &x->hnsw, &err)
                                                   : astro_hnsw_load(s, &x->hnsw, &err);
    if (rc != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return finish_hnsw(L, x);
}

/* ix:repair() -> true | nil, err */
static int m_hnsw_repair(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    astro_err err;
    if (astro_hnsw_repair(x->hnsw, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:save(path) -> true | nil, err */
static int m_hnsw_save(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    const char *path = luaL_checkstring(L, 2);
    astro_err err;
    if (astro_hnsw_save(x->hnsw, path, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:save_string() -> string (the bytes astro_hnsw_save would write) */
static int m_hnsw_save_string(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    size_t n = astro_hnsw_save_size(x->hnsw), len = 0;
    astro_err err;
    char *buf = (char *)lua_newuserdata(L, n ? n : 1);   /* GC-owned scratch */
    if (astro_hnsw_save_mem(x->hnsw, buf, n, &len, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushlstring(L, buf, len);
    return 1;
}

static const luaL_Reg hnsw_methods[] = {
    {"repair", m_hnsw_repair},
    {"save", m_hnsw_save},
    {"save_string", m_hnsw_save_string},
    {NULL, NULL}
};

/* ---- astrocyte.bm25 ---------------------------------------------------- */

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

/* Reads the bm25 options table at idx (none or nil: the defaults). */
static void bm25_opts(lua_State *L, int idx, astro_bm25_opts *o)
{
    astro_bm25_opts_init(o);
    if (!lua_isnoneornil(L, idx)) {
        luaL_checktype(L, idx, LUA_TTABLE);
        opt_number(L, idx, "k1", &o->k1);
        opt_number(L, idx, "b", &o->b);
        o->tok.stem = astro_lua_optbool(L, idx, "stem", o->tok.stem);
        o->tok.stopwords = astro_lua_optbool(L, idx, "stopwords", o->tok.stopwords);
    }
}

/* core.bm25([{k1, b, stem, stopwords}]) -> index | nil, err */
static int l_bm25(lua_State *L)
{
    astro_bm25_opts o;
    astro_err err;
    lindex *x;
    bm25_opts(L, 1, &o);
    x = astro_lua_index_push(L, ASTRO_MT_BM25);
    if (astro_bm25_new(&o, &x->bm25, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* core.bm25_load(path [, opts]) -> index | nil, err: an index saved with
 * ix:save(path); opts must be those it was built with (else nil, err). */
static int l_bm25_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    astro_bm25_opts o;
    astro_err err;
    lindex *x;
    bm25_opts(L, 2, &o);
    x = astro_lua_index_push(L, ASTRO_MT_BM25);
    if (astro_bm25_load(path, &o, &x->bm25, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    return 1;
}

/* ix:save(path) -> true | nil, err */
static int m_bm25_save(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    const char *path = luaL_checkstring(L, 2);
    astro_err err;
    if (astro_bm25_save(x->bm25, path, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ix:contains(key) -> boolean */
static int m_bm25_contains(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    lua_pushboolean(L, astro_bm25_contains(x->bm25, astro_lua_checkkey(L, 2)));
    return 1;
}

/* ix:keys() -> array of the indexed keys (document-number order) */
static int m_bm25_keys(lua_State *L)
{
    lindex *x = astro_lua_index_check(L);
    size_t n = astro_bm25_count(x->bm25), i;
    uint64_t *keys = (uint64_t *)lua_newuserdata(L, (n ? n : 1) * sizeof *keys);   /* GC-owned scratch */
    n = astro_bm25_keys(x->bm25, keys, n);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)keys[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static const luaL_Reg bm25_methods[] = {
    {"add", m_add},
    {"remove", m_remove},
    {"count", m_count},
    {"bytes", m_bytes},
    {"search", m_search},
    {"save", m_bm25_save},
    {"contains", m_bm25_contains},
    {"keys", m_bm25_keys},
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
    {"hnsw", l_hnsw},
    {"bm25", l_bm25},
    {"bm25_load", l_bm25_load},
    {"rrf", l_rrf},
    {NULL, NULL}
};

void astro_lua_open_index(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_FLAT, astro_lua_index_methods, astro_lua_index_gc);
    astro_lua_addmethods(L, ASTRO_MT_FLAT, flat_methods);
    astro_lua_newclass(L, ASTRO_MT_HNSW, astro_lua_index_methods, astro_lua_index_gc);
    astro_lua_addmethods(L, ASTRO_MT_HNSW, hnsw_methods);
    astro_lua_newclass(L, ASTRO_MT_BM25, bm25_methods, astro_lua_index_gc);
    luaL_setfuncs(L, index_funcs, 0);
    lua_pushboolean(L, 0);
    lua_pushcclosure(L, l_hnsw_load, 1);
    lua_setfield(L, -2, "hnsw_load");
    lua_pushboolean(L, 1);
    lua_pushcclosure(L, l_hnsw_load, 1);
    lua_setfield(L, -2, "hnsw_load_string");
}
