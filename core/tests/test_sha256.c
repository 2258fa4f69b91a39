/*
** test_sha256.c — SHA-256 against the FIPS 180-4 examples (and the NIST
** one-million-'a' vector), streaming in odd-sized pieces across block and
** padding boundaries, HMAC-SHA256 against RFC 4231 cases 1-7, and the
** constant-time comparison's results.
*/
#include <stdio.h>
#include <string.h>

#include "astro/sha256.h"
#include "check.h"

/* Returns 1 when the hex of SHA-256(msg) equals want. */
static int sha_is(const void *msg, size_t len, const char *want)
{
    uint8_t d[ASTRO_SHA256_DIGEST];
    char hex[2 * ASTRO_SHA256_DIGEST + 1];
    astro_sha256(msg, len, d);
    astro_hex(d, sizeof d, hex);
    if (strcmp(hex, want) != 0) {
        fprintf(stderr, "  got  %s\n  want %s\n", hex, want);
        return 0;
    }
    return 1;
}

/* Returns 1 when the first strlen(want)/2 bytes of HMAC(key, msg) match want. */
static int hmac_is(const void *key, size_t klen, const void *msg, size_t mlen, const char *want)
{
    uint8_t d[ASTRO_SHA256_DIGEST];
    char hex[2 * ASTRO_SHA256_DIGEST + 1];
    astro_hmac_sha256(key, klen, msg, mlen, d);
    astro_hex(d, sizeof d, hex);
    if (strncmp(hex, want, strlen(want)) != 0) {
        fprintf(stderr, "  got  %s\n  want %s\n", hex, want);
        return 0;
    }
    return 1;
}

static void test_sha256(void)
{
    static const char abc56[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char abc112[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                 "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    static char million[1000000];
    astro_sha256_ctx ctx;
    uint8_t d1[32], d2[32];
    size_t off, step;

    CHECK("sha-1.0", sha_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK("sha-1.1", sha_is(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK("sha-1.2", sha_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK("sha-1.3", sha_is(abc56, 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    CHECK("sha-1.4", sha_is(abc112, 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
    memset(million, 'a', sizeof million);
    CHECK("sha-1.5", sha_is(million, sizeof million,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));

    /* Streaming in every piece size from 1 to 130 gives the one-shot digest
     * (covers a partial buffer topped up across a block boundary). */
    astro_sha256(abc112, 112, d1);
    for (step = 1; step <= 130; step++) {
        astro_sha256_init(&ctx);
        for (off = 0; off < 112; off += step)
            astro_sha256_update(&ctx, abc112 + off, off + step > 112 ? 112 - off : step);
        astro_sha256_final(&ctx, d2);
        CHECK("sha-2.0", memcmp(d1, d2, 32) == 0);
    }
    /* Lengths around the padding boundary (55, 56, 63, 64, 65) differ. */
    astro_sha256(million, 55, d1);
    astro_sha256(million, 56, d2);
    CHECK("sha-2.1", memcmp(d1, d2, 32) != 0);
    CHECK("sha-2.2", sha_is(million, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"));
}

static void test_hmac(void)
{
    uint8_t key[131], data[50];
    size_t i;

    memset(key, 0x0b, 20);
    CHECK("hmac-1.0", hmac_is(key, 20, "Hi There", 8,
                              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
    CHECK("hmac-1.1", hmac_is("Jefe", 4, "what do ya want for nothing?", 28,
                              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    CHECK("hmac-1.2", hmac_is(key, 20, data, 50,
                              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"));
    for (i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    CHECK("hmac-1.3", hmac_is(key, 25, data, 50,
                              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"));
    memset(key, 0x0c, 20);
    CHECK("hmac-1.4", hmac_is(key, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b"));
    memset(key, 0xaa, 131);
    CHECK("hmac-1.5", hmac_is(key, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    {
        static const char m[] = "This is a test using a larger than block-size key and a larger than "
                                "block-size data. The key needs to be hashed before being used by the "
                                "HMAC algorithm.";
        CHECK("hmac-1.6", hmac_is(key, 131, m, sizeof m - 1,
                                  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"));
    }
    /* An empty key is a valid key (all-zero block). */
    CHECK("hmac-1.7", hmac_is("", 0, "", 0,
                              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
}

static void test_ct_equal(void)
{
    CHECK("ct-1.0", astro_ct_equal("abc", 3, "abc", 3) == 1);
    CHECK("ct-1.1", astro_ct_equal("abc", 3, "abd", 3) == 0);
    CHECK("ct-1.2", astro_ct_equal("abc", 3, "ab", 2) == 0);
    CHECK("ct-1.3", astro_ct_equal("", 0, "", 0) == 1);
    CHECK("ct-1.4", astro_ct_equal("", 0, "a", 1) == 0);
    CHECK("ct-1.5", astro_ct_equal("a\0b", 3, "a\0c", 3) == 0);
}

int main(void)
{
    test_sha256();
    test_hmac();
    test_ct_equal();
    return check_report("test_sha256");
}
