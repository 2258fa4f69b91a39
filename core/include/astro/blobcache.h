/*
** blobcache.h — a bounded map from uint64 key to a private copy of a byte
** string, kept outside any garbage-collected heap. The SQLite store keeps the
** rows of recent search hits here (bindings/lua/astro_rowcache.c packs them):
** held as Lua tables they were tens of thousands of long-lived objects, and
** Lua 5.4's incremental collector sweeps its whole heap within a few
** allocation steps at the end of a cycle, so every cached object lengthened
** that one slow recall.
**
** When `cap` entries are held, the next new key drops them all first (the
** callers' access pattern is a working set, and a reset costs one free per
** entry, never a scan per lookup). Not thread-safe: one owner per cache.
*/
#ifndef ASTRO_BLOBCACHE_H
#define ASTRO_BLOBCACHE_H

#include "astro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astro_blobcache astro_blobcache;

/* Creates a cache holding at most cap (>= 1) entries: ASTRO_OK, ASTRO_EINVAL
 * (out NULL or cap 0 or above 2^31) or ASTRO_ENOMEM. */
int astro_blobcache_new(size_t cap, astro_blobcache **out, astro_err *err);
void astro_blobcache_free(astro_blobcache *c);

/* Stores a copy of bytes[0..n) under key, replacing what key held. On
 * ASTRO_ENOMEM the cache no longer holds key (and is otherwise intact). */
int astro_blobcache_put(astro_blobcache *c, uint64_t key, const void *bytes, size_t n,
                        astro_err *err);
/* The bytes held for key and their length, or NULL when absent. The pointer
 * stays valid until the next put, drop or clear. */
const unsigned char *astro_blobcache_get(const astro_blobcache *c, uint64_t key, size_t *n);
/* Drops key: 1 when it was held, 0 otherwise. */
int astro_blobcache_drop(astro_blobcache *c, uint64_t key);
/* Drops every entry (the memory of the map itself is kept). */
void astro_blobcache_clear(astro_blobcache *c);

size_t astro_blobcache_count(const astro_blobcache *c);
/* Bytes held: the copies plus the map and entry arrays. */
size_t astro_blobcache_bytes(const astro_blobcache *c);

#ifdef __cplusplus
}
#endif
#endif
