/*
** astro_vec.c — vector functions of astrocyte.core: packing float32 vectors
** into strings and back, cosine and normalization, the hashing embedder and
** the growable keyset bitmap that search filters take as an allow-list.
** Packed vectors are plain Lua strings (4*dim bytes, host byte order), so they
** are immutable, hashable and can be stored as SQLite BLOBs unchanged.
*/
#include <stdlib.h>
#include <string.h>

#include "astro_lua.h"
#include "astro/vec.h"
#include "astro/embed.h"

/* Keysets refuse to grow beyond this many bits (256 MiB of bitmap). */
#define KEYSET_MAX_BITS ((uint64_t)1 << 31)

/* core.vec_pack(tbl) -> packed string; raises if an element is not a number. */
static int l_vec_pack(lua_State *L)
{
    size_t n, i;
    luaL_Buffer b;
    luaL_checktype(L, 1, LUA_TTABLE);
    n = lua_rawlen(L, 1);
    luaL_buffinit(L, &b);
    for (i = 1; i <= n; i++) {
        float f;
        lua_rawgeti(L, 1, (int)i);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pushfstring(L, "element %d is not a number", (int)i);
            return luaL_argerror(L, 1, lua_tostring(L, -1));
        }
        f = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
        luaL_addlstring(&b, (const char *)&f, sizeof f);
    }
    luaL_pushresult(&b);
    return 1;
}

/* core.vec_unpack(s) -> array of numbers */
static int l_vec_unpack(lua_State *L)
{
    size_t dim, i;
    const float *v = astro_lua_checkvec(L, 1, &dim);
    lua_createtable(L, (int)dim, 0);
    for (i = 0; i < dim; i++) {
        lua_pushnumber(L, (lua_Number)v[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* core.vec_dim(s) -> number of floats */
static int l_vec_dim(lua_State *L)
{
    size_t dim;
    astro_lua_checkvec(L, 1, &dim);
    lua_pushinteger(L, (lua_Integer)dim);
    return 1;
}

/* core.vec_cosine(a, b) -> cosine in [-1,1] | nil, err on dimension mismatch */
static int l_vec_cosine(lua_State *L)
{
    size_t da, db;
    const float *a = astro_lua_checkvec(L, 1, &da);
    const float *b = astro_lua_checkvec(L, 2, &db);
    if (da != db) {
        lua_pushnil(L);
        lua_pushfstring(L, "vector dimension mismatch (%d vs %d)", (int)da, (int)db);
        return 2;
    }
    lua_pushnumber(L, (lua_Number)astro_vec_cosine(a, b, da));
    return 1;
}

/* core.vec_normalize(s) -> packed unit vector | nil, err (NaN/Inf). A
 * vector that normalizing leaves bit for bit unchanged (an embedder's output,
 * a vector packed by an earlier call) comes back as the same string: no new
 * string per call. Vectors up to 1024 dimensions are normalized on the stack. */
static int l_vec_normalize(lua_State *L)
{
    size_t len, dim;
    const char *s = luaL_checklstring(L, 1, &len);
    float small[1024];
    float *v = small;
    astro_err err;
    if (len % sizeof(float) != 0)
        return luaL_argerror(L, 1, "packed vector length must be a multiple of 4");
    dim = len / sizeof(float);
    if (len > sizeof small)
        v = (float *)lua_newuserdata(L, len);
    memcpy(v, s, len);
    if (astro_vec_normalize(v, dim, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    if (memcmp(v, s, len) == 0) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pushlstring(L, (const char *)v, len);
    return 1;
}

/* ---- astrocyte.embedder ------------------------------------------------ */

typedef struct lembedder {
    astro_embedder *e;
    size_t dim;
    float *out;         /* scratch for one vector */
} lembedder;

static lembedder *check_embedder(lua_State *L)
{
    lembedder *le = (lembedder *)luaL_checkudata(L, 1, ASTRO_MT_EMBEDDER);
    if (le->e == NULL || le->out == NULL)
        luaL_error(L, "astrocyte.embedder: object is freed");
    return le;
}

/* core.embedder(dim) -> embedder | nil, err. The userdata exists (with its
 * __gc) before anything is allocated, so a later failure cannot leak. */
static int l_embedder(lua_State *L)
{
    size_t dim = astro_lua_checksize(L, 1);
    astro_err err;
    lembedder *le = (lembedder *)lua_newuserdata(L, sizeof *le);
    memset(le, 0, sizeof *le);
    luaL_getmetatable(L, ASTRO_MT_EMBEDDER);
    lua_setmetatable(L, -2);
    if (astro_embedder_new(dim, &le->e, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    le->dim = astro_embedder_dim(le->e);
    le->out = (float *)malloc(le->dim * sizeof(float));
    if (le->out == NULL)
        return astro_lua_fail(L, "embedder: not enough memory");
    return 1;
}

/* e:embed(s) -> packed unit vector (zero vector when s has no tokens) */
static int m_embedder_embed(lua_State *L)
{
    lembedder *le = check_embedder(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    astro_err err;
    if (astro_embed(le->e, s, len, le->out, le->dim, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    lua_pushlstring(L, (const char *)le->out, le->dim * sizeof(float));
    return 1;
}

static int m_embedder_dim(lua_State *L)
{
    lembedder *le = check_embedder(L);
    lua_pushinteger(L, (lua_Integer)le->dim);
    return 1;
}

static int m_embedder_gc(lua_State *L)
{
    lembedder *le = (lembedder *)luaL_checkudata(L, 1, ASTRO_MT_EMBEDDER);
    astro_embedder_free(le->e);
    free(le->out);
    le->e = NULL;
    le->out = NULL;
    return 0;
}

static const luaL_Reg embedder_methods[] = {
    {"embed", m_embedder_embed},
    {"dim", m_embedder_dim},
    {NULL, NULL}
};

/* ---- astrocyte.keyset -------------------------------------------------- */

/* Grows ks to hold at least nbits bits (rounded up to 64); new bits are 0. */
static int keyset_grow(astro_lua_keyset *ks, uint64_t nbits)
{
    uint64_t want = ks->nbits > 0 ? ks->nbits : 1024;
    uint8_t *nb;
    if (nbits <= ks->nbits)
        return 1;
    if (nbits > KEYSET_MAX_BITS)
        return 0;
    while (want < nbits)
        want *= 2;
    if (want > KEYSET_MAX_BITS)
        want = KEYSET_MAX_BITS;
    nb = (uint8_t *)realloc(ks->bits, (size_t)(want / 8));
    if (nb == NULL)
        return 0;
    memset(nb + ks->nbits / 8, 0, (size_t)((want - ks->nbits) / 8));
    ks->bits = nb;
    ks->nbits = want;
    return 1;
}

static astro_lua_keyset *check_keyset(lua_State *L)
{
    return (astro_lua_keyset *)luaL_checkudata(L, 1, ASTRO_MT_KEYSET);
}

/* core.keyset([nbits]) -> empty keyset with room for nbits keys */
static int l_keyset(lua_State *L)
{
    size_t nbits = lua_isnoneornil(L, 1) ? 0 : astro_lua_checksize(L, 1);
    astro_lua_keyset *ks = (astro_lua_keyset *)lua_newuserdata(L, sizeof *ks);
    memset(ks, 0, sizeof *ks);
    luaL_getmetatable(L, ASTRO_MT_KEYSET);
    lua_setmetatable(L, -2);
    if (nbits > 0 && !keyset_grow(ks, (uint64_t)nbits))
        return astro_lua_fail(L, "keyset: cannot allocate bitmap");
    return 1;
}

/* ks:set(key) -> true | nil, err (bitmap would exceed 2^31 bits) */
static int m_keyset_set(lua_State *L)
{
    astro_lua_keyset *ks = check_keyset(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    if (!keyset_grow(ks, key + 1)) {
        lua_pushnil(L);
        lua_pushfstring(L, "keyset: cannot grow bitmap to key %f (limit 2^31)",
                        (lua_Number)key);
        return 2;
    }
    ks->bits[key >> 3] |= (uint8_t)(1u << (key & 7));
    lua_pushboolean(L, 1);
    return 1;
}

/* ks:test(key) -> boolean */
static int m_keyset_test(lua_State *L)
{
    astro_lua_keyset *ks = check_keyset(L);
    uint64_t key = astro_lua_checkkey(L, 2);
    lua_pushboolean(L, key < ks->nbits && (ks->bits[key >> 3] >> (key & 7)) & 1);
    return 1;
}

/* ks:clear() unsets every key (keeps the allocation). */
static int m_keyset_clear(lua_State *L)
{
    astro_lua_keyset *ks = check_keyset(L);
    if (ks->bits != NULL)
        memset(ks->bits, 0, (size_t)(ks->nbits / 8));
    return 0;
}

/* ks:count() -> number of keys set */
static int m_keyset_count(lua_State *L)
{
    astro_lua_keyset *ks = check_keyset(L);
    uint64_t i, n = 0;
    for (i = 0; i < ks->nbits / 8; i++)
        n += (uint64_t)__builtin_popcount(ks->bits[i]);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int m_keyset_gc(lua_State *L)
{
    astro_lua_keyset *ks = check_keyset(L);
    free(ks->bits);
    ks->bits = NULL;
    ks->nbits = 0;
    return 0;
}

static const luaL_Reg keyset_methods[] = {
    {"set", m_keyset_set},
    {"test", m_keyset_test},
    {"clear", m_keyset_clear},
    {"count", m_keyset_count},
    {NULL, NULL}
};

static const luaL_Reg vec_funcs[] = {
    {"vec_pack", l_vec_pack},
    {"vec_unpack", l_vec_unpack},
    {"vec_dim", l_vec_dim},
    {"vec_cosine", l_vec_cosine},
    {"vec_normalize", l_vec_normalize},
    {"embedder", l_embedder},
    {"keyset", l_keyset},
    {NULL, NULL}
};

void astro_lua_open_vec(lua_State *L)
{
    astro_lua_newclass(L, ASTRO_MT_EMBEDDER, embedder_methods, m_embedder_gc);
    astro_lua_newclass(L, ASTRO_MT_KEYSET, keyset_methods, m_keyset_gc);
    luaL_setfuncs(L, vec_funcs, 0);
}
