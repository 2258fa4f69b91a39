/*
** astro_crypto.c — the hashing primitives of astrocyte.core: SHA-256 and
** HMAC-SHA256 as lowercase hex (content hashes in export events, webhook
** signatures) and a constant-time string comparison for verifying them.
** Strings are taken as raw bytes (embedded NULs allowed). These are thin
** wrappers over core/src/sha256.c; nothing here allocates beyond the
** returned string.
*/
#include <string.h>

#include "astro/sha256.h"
#include "astro_lua.h"

/* core.sha256_hex(s) → 64 lowercase hex digits. */
static int l_sha256_hex(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    uint8_t d[ASTRO_SHA256_DIGEST];
    char hex[2 * ASTRO_SHA256_DIGEST + 1];
    astro_sha256(s, len, d);
    astro_hex(d, sizeof d, hex);
    lua_pushlstring(L, hex, 2 * ASTRO_SHA256_DIGEST);
    return 1;
}

/* core.hmac_sha256_hex(key, msg) → 64 lowercase hex digits. */
static int l_hmac_sha256_hex(lua_State *L)
{
    size_t klen, mlen;
    const char *k = luaL_checklstring(L, 1, &klen);
    const char *m = luaL_checklstring(L, 2, &mlen);
    uint8_t d[ASTRO_SHA256_DIGEST];
    char hex[2 * ASTRO_SHA256_DIGEST + 1];
    astro_hmac_sha256(k, klen, m, mlen, d);
    astro_hex(d, sizeof d, hex);
    lua_pushlstring(L, hex, 2 * ASTRO_SHA256_DIGEST);
    return 1;
}

/* core.constant_time_eq(a, b) → true when the strings are equal; the time
 * taken depends on the lengths only. */
static int l_constant_time_eq(lua_State *L)
{
    size_t alen, blen;
    const char *a = luaL_checklstring(L, 1, &alen);
    const char *b = luaL_checklstring(L, 2, &blen);
    lua_pushboolean(L, astro_ct_equal(a, alen, b, blen));
    return 1;
}

static const luaL_Reg crypto_funcs[] = {
    {"sha256_hex", l_sha256_hex},
    {"hmac_sha256_hex", l_hmac_sha256_hex},
    {"constant_time_eq", l_constant_time_eq},
    {NULL, NULL}
};

void astro_lua_open_crypto(lua_State *L)
{
    luaL_setfuncs(L, crypto_funcs, 0);
}
