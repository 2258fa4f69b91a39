/*
** sha256.h — SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for content
** hashes in export events and the signatures of outbound webhooks. Plain
** streaming API: the context is a caller-owned struct (no allocation), so a
** hash can be taken over any number of buffers. Not a general crypto library:
** no SHA-224/384/512, no key derivation. Thread-safe (no shared state).
*/
#ifndef ASTRO_SHA256_H
#define ASTRO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASTRO_SHA256_DIGEST 32   /* bytes in a digest */
#define ASTRO_SHA256_BLOCK  64   /* bytes in a block */

typedef struct astro_sha256_ctx {
    uint32_t h[8];
    uint64_t total;              /* bytes hashed so far */
    uint8_t buf[ASTRO_SHA256_BLOCK];
    size_t used;                 /* bytes waiting in buf */
} astro_sha256_ctx;

/* Starts a new hash in ctx. */
void astro_sha256_init(astro_sha256_ctx *ctx);

/*
** Hashes len more bytes of data (data may be NULL when len is 0).
** @param[in,out] ctx  an initialised context
*/
void astro_sha256_update(astro_sha256_ctx *ctx, const void *data, size_t len);

/*
** Finishes the hash and writes the 32-byte digest to out; ctx must be
** initialised again before reuse.
*/
void astro_sha256_final(astro_sha256_ctx *ctx, uint8_t out[ASTRO_SHA256_DIGEST]);

/* One-shot: out = SHA-256(data[0..len)). */
void astro_sha256(const void *data, size_t len, uint8_t out[ASTRO_SHA256_DIGEST]);

/*
** One-shot HMAC-SHA256 (RFC 2104): out = HMAC(key, msg). Keys longer than a
** block are hashed first, as the RFC says; any key length is accepted.
*/
void astro_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                       uint8_t out[ASTRO_SHA256_DIGEST]);

/*
** Writes the lowercase hex of n bytes to hex (2n chars plus a NUL, so hex
** must hold 2n + 1 bytes).
*/
void astro_hex(const uint8_t *bytes, size_t n, char *hex);

/*
** Compares a[0..alen) and b[0..blen) in time that depends only on the
** lengths, never on where the bytes differ. Returns 1 when equal.
*/
int astro_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#ifdef __cplusplus
}
#endif

#endif
