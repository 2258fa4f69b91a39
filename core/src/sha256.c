/*
** sha256.c — SHA-256 as specified in FIPS 180-4 §6.2 and HMAC-SHA256 as in
** RFC 2104, written for clarity over speed: these hash event payloads and
** webhook bodies (kilobytes), never the corpus. Big-endian loads and stores
** are done bytewise, so the code is independent of host byte order and
** alignment. The helpers astro_hex and astro_ct_equal sit here because the
** signature code needs nothing else.
*/
#include <string.h>

#include "astro/sha256.h"

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* Processes one 64-byte block into the state h (FIPS 180-4 §6.2.2). */
static void compress(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    int t;
    for (t = 0; t < 16; t++)
        w[t] = ((uint32_t)p[4 * t] << 24) | ((uint32_t)p[4 * t + 1] << 16) |
               ((uint32_t)p[4 * t + 2] << 8) | (uint32_t)p[4 * t + 3];
    for (t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (t = 0; t < 64; t++) {
        uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[t] + w[t];
        uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void astro_sha256_init(astro_sha256_ctx *ctx)
{
    static const uint32_t H0[8] = {
        0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
        0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
    };
    memcpy(ctx->h, H0, sizeof H0);
    ctx->total = 0;
    ctx->used = 0;
}

void astro_sha256_update(astro_sha256_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    if (len == 0)
        return;
    ctx->total += len;
    if (ctx->used > 0) {
        size_t take = ASTRO_SHA256_BLOCK - ctx->used;
        if (take > len)
            take = len;
        memcpy(ctx->buf + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < ASTRO_SHA256_BLOCK)
            return;
        compress(ctx->h, ctx->buf);
        ctx->used = 0;
    }
    while (len >= ASTRO_SHA256_BLOCK) {
        compress(ctx->h, p);
        p += ASTRO_SHA256_BLOCK;
        len -= ASTRO_SHA256_BLOCK;
    }
    if (len > 0) {
        memcpy(ctx->buf, p, len);
        ctx->used = len;
    }
}

void astro_sha256_final(astro_sha256_ctx *ctx, uint8_t out[ASTRO_SHA256_DIGEST])
{
    uint64_t bits = ctx->total * 8u;
    int i;
    /* Padding (§5.1.1): 0x80, zeros up to 56 mod 64, then the bit length. */
    ctx->buf[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->buf + ctx->used, 0, ASTRO_SHA256_BLOCK - ctx->used);
        compress(ctx->h, ctx->buf);
        ctx->used = 0;
    }
    memset(ctx->buf + ctx->used, 0, 56 - ctx->used);
    for (i = 0; i < 8; i++)
        ctx->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(ctx->h, ctx->buf);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
    memset(ctx->buf, 0, sizeof ctx->buf);
}

void astro_sha256(const void *data, size_t len, uint8_t out[ASTRO_SHA256_DIGEST])
{
    astro_sha256_ctx ctx;
    astro_sha256_init(&ctx);
    astro_sha256_update(&ctx, data, len);
    astro_sha256_final(&ctx, out);
}

void astro_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                       uint8_t out[ASTRO_SHA256_DIGEST])
{
    uint8_t k[ASTRO_SHA256_BLOCK], pad[ASTRO_SHA256_BLOCK], inner[ASTRO_SHA256_DIGEST];
    astro_sha256_ctx ctx;
    size_t i;
    memset(k, 0, sizeof k);
    if (keylen > ASTRO_SHA256_BLOCK)
        astro_sha256(key, keylen, k);
    else if (keylen > 0)
        memcpy(k, key, keylen);
    for (i = 0; i < ASTRO_SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    astro_sha256_init(&ctx);
    astro_sha256_update(&ctx, pad, sizeof pad);
    astro_sha256_update(&ctx, msg, msglen);
    astro_sha256_final(&ctx, inner);
    for (i = 0; i < ASTRO_SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    astro_sha256_init(&ctx);
    astro_sha256_update(&ctx, pad, sizeof pad);
    astro_sha256_update(&ctx, inner, sizeof inner);
    astro_sha256_final(&ctx, out);
    /* The padded key is as sensitive as the key. */
    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
}

void astro_hex(const uint8_t *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}

int astro_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile uint8_t *pa = (const volatile uint8_t *)a;
    const volatile uint8_t *pb = (const volatile uint8_t *)b;
    size_t n = alen < blen ? alen : blen, i;
    unsigned diff = (unsigned)(alen != blen);
    /* Walk the longer length so the time does not reveal a prefix match. */
    size_t longest = alen > blen ? alen : blen;
    for (i = 0; i < longest; i++) {
        uint8_t x = i < n ? pa[i] : 0;
        uint8_t y = i < n ? pb[i] : 1;
        diff |= (unsigned)(x ^ y);
    }
    return diff == 0;
}
