/*
** astro_index.h — internal header of astro_index.c and astro_index_i8.c:
** the index userdata (lindex) that flat, hnsw, bm25 and flat_i8 share, and
** the methods every kind has, so a kind with its own search (flat_i8 takes
** a fetch function) reuses add, remove, contains, count, dim, bytes and gc.
*/
#ifndef ASTRO_INDEX_H
#define ASTRO_INDEX_H

#include "astro_lua.h"
#include "astro/vec.h"
#include "astro/hnsw.h"
#include "astro/bm25.h"
#include "astro/flat_i8.h"

typedef struct lindex {
    astro_flat *flat;       /* exactly one of flat, hnsw, bm25, i8 is set   */
    astro_hnsw *hnsw;       /* while the object lives; none once it is freed */
    astro_bm25 *bm25;
    astro_flat_i8 *i8;
    astro_hnsw_ctx *ctx;    /* hnsw: its search context */
    astro_flat_i8_ctx *i8ctx;   /* flat_i8: its search context */
    float *vbuf;            /* flat: one vector, for get() */
    size_t dim;             /* flat: its dimension */
    uint64_t *keys;         /* result buffers, cap entries each */
    float *scores;
    size_t cap;
} lindex;

/* Returns self (argument 1) of a method of the class named by upvalue 1,
 * raising when it is another type or was freed. */
lindex *astro_lua_index_check(lua_State *L);

/* Pushes an empty index userdata of class tname (freed safely by __gc if
 * setup fails). */
lindex *astro_lua_index_push(lua_State *L, const char *tname);

/* The number of keys the index holds. */
size_t astro_lua_index_count(const lindex *x);

/* __gc of every index class: frees whichever core object is set. */
int astro_lua_index_gc(lua_State *L);

/* add, remove, contains, count, dim, bytes, search (flat, hnsw). */
extern const luaL_Reg astro_lua_index_methods[];

#endif
