/*
** astro_crypto.c — the hashing primitives of astrocyte.core: SHA-256 and
** HMAC-SHA256 as lowercase hex (content hashes in export events, webhook
** signatures) and a constant-time string comparison for verifying them;
** raw HMAC-SHA256, PBKDF2-HMAC-SHA256 and MD5 for the PostgreSQL wire
** protocol's SCRAM-SHA-256 and md5 password authentication.
** Strings are taken as raw bytes (embedded NULs allowed). These are thin
** wrappers over core/src/sha256.c (MD5, used only for that legacy
** handshake, is here); nothing here allocates beyond the returned string.
*/
#include <stdint.h>
#include <string.h>

#include "astro/sha256.h"
#include "astro_lua.h"

/* Pushes the n-byte digest d (n <= 32) as 2n lowercase hex digits. */
static int push_hex(lua_State *L, const uint8_t *d, size_t n)
{
    char hex[2 * ASTRO_SHA256_DIGEST + 1];
    astro_hex(d, n, hex);
    lua_pushlstring(L, hex, 2 * n);
    return 1;
}

/* HMAC-SHA256 of the key (argument 1) and message (argument 2) into d. */
static void hmac_args(lua_State *L, uint8_t d[ASTRO_SHA256_DIGEST])
{
    size_t klen, mlen;
    const char *k = luaL_checklstring(L, 1, &klen);
    const char *m = luaL_checklstring(L, 2, &mlen);
    astro_hmac_sha256(k, klen, m, mlen, d);
}

/* core.sha256_hex(s) → 64 lowercase hex digits. */
static int l_sha256_hex(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    uint8_t d[ASTRO_SHA256_DIGEST];
    astro_sha256(s, len, d);
    return push_hex(L, d, sizeof d);
}

/* core.hmac_sha256_hex(key, msg) → 64 lowercase hex digits. */
static int l_hmac_sha256_hex(lua_State *L)
{
    uint8_t d[ASTRO_SHA256_DIGEST];
    hmac_args(L, d);
    return push_hex(L, d, sizeof d);
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

/* core.hmac_sha256(key, msg) → 32 raw bytes. */
static int l_hmac_sha256(lua_State *L)
{
    uint8_t d[ASTRO_SHA256_DIGEST];
    hmac_args(L, d);
    lua_pushlstring(L, (const char *)d, sizeof d);
    return 1;
}

/* core.pbkdf2_sha256(password, salt, iterations) → 32 raw bytes: the
 * first block of PBKDF2-HMAC-SHA256 (RFC 8018), what SCRAM-SHA-256 needs. */
static int l_pbkdf2_sha256(lua_State *L)
{
    size_t plen, slen, i;
    const char *pw = luaL_checklstring(L, 1, &plen);
    const char *salt = luaL_checklstring(L, 2, &slen);
    lua_Integer iter = luaL_checkinteger(L, 3);
    uint8_t u[ASTRO_SHA256_DIGEST], t[ASTRO_SHA256_DIGEST];
    uint8_t *msg;
    lua_Integer n;
    if (iter < 1 || iter > 10000000)
        return luaL_argerror(L, 3, "iterations must be between 1 and 10000000");
    /* U1 = HMAC(P, S || INT(1)) */
    msg = (uint8_t *)lua_newuserdata(L, slen + 4);
    memcpy(msg, salt, slen);
    msg[slen] = 0; msg[slen + 1] = 0; msg[slen + 2] = 0; msg[slen + 3] = 1;
    astro_hmac_sha256(pw, plen, msg, slen + 4, u);
    memcpy(t, u, sizeof t);
    for (n = 1; n < iter; n++) {
        astro_hmac_sha256(pw, plen, u, sizeof u, u);
        for (i = 0; i < sizeof t; i++)
            t[i] ^= u[i];
    }
    lua_pushlstring(L, (const char *)t, sizeof t);
    memset(u, 0, sizeof u);
    memset(t, 0, sizeof t);
    return 1;
}

/* MD5 (RFC 1321), one shot. */
static uint32_t md5_rol(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

static void md5_block(uint32_t h[4], const uint8_t *p)
{
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391
    };
    static const int R[16] = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 };
    uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3], f, tmp;
    int i, g;
    for (i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    for (i = 0; i < 64; i++) {
        if (i < 16) { f = (b & c) | (~b & d); g = i; }
        else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
        else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
        else { f = c ^ (b | ~d); g = (7 * i) % 16; }
        tmp = d; d = c; c = b;
        b = b + md5_rol(a + f + K[i] + m[g], R[(i / 16) * 4 + i % 4]);
        a = tmp;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
}

/* core.md5_hex(s) → 32 lowercase hex digits. */
static int l_md5_hex(lua_State *L)
{
    size_t len, off, i;
    const char *s = luaL_checklstring(L, 1, &len);
    uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
    uint8_t tail[128], d[16];
    uint64_t bits = (uint64_t)len * 8;
    size_t rest, tlen;
    for (off = 0; off + 64 <= len; off += 64)
        md5_block(h, (const uint8_t *)s + off);
    rest = len - off;
    memset(tail, 0, sizeof tail);
    memcpy(tail, s + off, rest);
    tail[rest] = 0x80;
    tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++)
        tail[tlen - 8 + i] = (uint8_t)(bits >> (8 * i));
    md5_block(h, tail);
    if (tlen == 128)
        md5_block(h, tail + 64);
    for (i = 0; i < 16; i++)
        d[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
    return push_hex(L, d, sizeof d);
}

static const luaL_Reg crypto_funcs[] = {
    {"hmac_sha256", l_hmac_sha256},
    {"pbkdf2_sha256", l_pbkdf2_sha256},
    {"md5_hex", l_md5_hex},
    {"sha256_hex", l_sha256_hex},
    {"hmac_sha256_hex", l_hmac_sha256_hex},
    {"constant_time_eq", l_constant_time_eq},
    {NULL, NULL}
};

void astro_lua_open_crypto(lua_State *L)
{
    luaL_setfuncs(L, crypto_funcs, 0);
}
