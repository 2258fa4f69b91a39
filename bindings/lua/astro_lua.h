/*
** astro_lua.h — internal header shared by the source files of the Lua module
** astrocyte.core (astro_core.c, astro_text.c, astro_vec.c, astro_index.c, ...).
** It declares the argument helpers every area uses (keys, timestamps, packed
** vectors, search filters, nil-plus-message returns) and each area's open
** function. Nothing here is visible outside the module: the build compiles
** with hidden visibility and only luaopen_* is exported.
*/
#ifndef ASTRO_LUA_H
#define ASTRO_LUA_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "astro/common.h"

#define ASTRO_LUA_VERSION "0.1.0"

/* Largest key accepted from Lua: keys are exact in a double below 2^53. */
#define ASTRO_LUA_KEY_LIMIT 9007199254740992.0

#define ASTRO_MT_EMBEDDER "astrocyte.embedder"
#define ASTRO_MT_KEYSET   "astrocyte.keyset"
#define ASTRO_MT_FLAT     "astrocyte.flat"
#define ASTRO_MT_BM25     "astrocyte.bm25"
#define ASTRO_MT_HNSW     "astrocyte.hnsw"
#define ASTRO_MT_ASSOC    "astrocyte.assoc"
#define ASTRO_MT_TKCACHE  "astrocyte.tokenizer_cache"
#define ASTRO_MT_ROWCACHE "astrocyte.row_cache"

/* The growable bitmap behind astrocyte.keyset; `view` is what filters see. */
typedef struct astro_lua_keyset {
    uint8_t *bits;
    uint64_t nbits;     /* allocated bits, a multiple of 64 */
    astro_keyset view;
} astro_lua_keyset;

/* Pushes nil and msg; returns 2 (the runtime-failure convention). */
int astro_lua_fail(lua_State *L, const char *msg);

/* Sets *key from the value at idx and returns 1 if it is an integer in
 * [0, 2^53); returns 0 otherwise (no error raised, no coercion of strings). */
int astro_lua_tokey(lua_State *L, int idx, uint64_t *key);

/* Returns the key at idx, raising unless it is an integer in [0, 2^53). */
uint64_t astro_lua_checkkey(lua_State *L, int idx);

/* Returns the millisecond timestamp at idx, ASTRO_TIME_NONE when nil/absent;
 * raises unless the value is an integral number. */
int64_t astro_lua_opttime(lua_State *L, int idx);

/* Returns boolean field `name` of the options table at idx, dflt when nil;
 * raises if the field holds another type. */
int astro_lua_optbool(lua_State *L, int idx, const char *name, int dflt);

/* Returns the element count of a non-negative integer argument (k, dim...). */
size_t astro_lua_checksize(lua_State *L, int idx);

/* Returns a pointer to the packed float32 string at idx and sets *dim; raises
 * if its length is not a multiple of 4. When the string bytes are not float
 * aligned they are copied into a temporary userdata pushed on the stack
 * (so callers must not rely on the stack top afterwards). */
const float *astro_lua_checkvec(lua_State *L, int idx, size_t *dim);

/* Fills f from the optional filter table at idx ({allow, time_from, time_to,
 * as_of}); raises on wrongly typed fields. The keyset stays owned by Lua and
 * is kept alive by the filter table, which is an argument of the call. */
void astro_lua_checkfilter(lua_State *L, int idx, astro_filter *f);

/* Pushes keys[0..n) and scores[0..n) as two 1-based arrays. */
void astro_lua_pushresults(lua_State *L, const uint64_t *keys, const float *scores,
                           size_t n);

/* Grows a malloc'd pair of result buffers to hold at least n items (n >= 1);
 * raises "not enough memory" on failure. */
void astro_lua_reserve(lua_State *L, uint64_t **keys, float **scores, size_t *cap,
                       size_t n);

/* Creates the metatable tname with methods, __gc and __tostring, and pops it.
 * Every method gets tname as its upvalue 1, so one C function can serve
 * several classes and still check its self argument (astro_index.c). */
void astro_lua_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                        lua_CFunction gc);

/* Adds methods (with the same upvalue) to the existing class tname. */
void astro_lua_addmethods(lua_State *L, const char *tname, const luaL_Reg *methods);

/* Per-area registration: each adds its functions to the module table on top. */
void astro_lua_open_text(lua_State *L);
void astro_lua_open_vec(lua_State *L);
void astro_lua_open_index(lua_State *L);
void astro_lua_open_index_i8(lua_State *L);
void astro_lua_open_assoc(lua_State *L);
void astro_lua_open_rowcache(lua_State *L);
void astro_lua_open_policy(lua_State *L);
void astro_lua_open_crypto(lua_State *L);
void astro_lua_open_fs(lua_State *L);
void astro_lua_open_json(lua_State *L);

#endif
