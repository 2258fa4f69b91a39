/*
** test_blobcache.c — the bounded key -> bytes map: put/get round trips
** (including empty values), replacement, drop moving the last row into the
** hole, the reset when cap entries are held, byte accounting, bad arguments,
** and a randomized run against a plain array model.
*/
#include <stdio.h>
#include <string.h>

#include "astro/blobcache.h"
#include "check.h"

static int holds(const astro_blobcache *c, uint64_t key, const char *want) {
    size_t n = 0;
    const unsigned char *p = astro_blobcache_get(c, key, &n);
    if (!want) return p == NULL;
    return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

int main(void) {
    astro_err err;
    astro_blobcache *c = NULL;
    CHECK("bc-1.0", astro_blobcache_new(0, &c, &err) == ASTRO_EINVAL && c == NULL);
    CHECK("bc-1.1", astro_blobcache_new(4, NULL, &err) == ASTRO_EINVAL);
    CHECK("bc-1.2", astro_blobcache_new(4, &c, &err) == ASTRO_OK && c);
    CHECK("bc-1.3", holds(c, 1, NULL) && astro_blobcache_count(c) == 0);

    CHECK("bc-2.0", astro_blobcache_put(c, 1, "one", 3, &err) == ASTRO_OK);
    CHECK("bc-2.1", astro_blobcache_put(c, 2, "", 0, &err) == ASTRO_OK);
    CHECK("bc-2.2", astro_blobcache_put(c, 3, NULL, 1, &err) == ASTRO_EINVAL);
    CHECK("bc-2.3", holds(c, 1, "one") && holds(c, 2, "") && holds(c, 3, NULL));
    CHECK("bc-2.4", astro_blobcache_put(c, 1, "uno!", 4, &err) == ASTRO_OK && holds(c, 1, "uno!"));
    CHECK("bc-2.5", astro_blobcache_count(c) == 2);
    size_t before = astro_blobcache_bytes(c);
    CHECK("bc-2.6", before >= 4);

    /* drop the first row: the last moves into it and stays findable */
    CHECK("bc-3.0", astro_blobcache_put(c, 9, "nine", 4, &err) == ASTRO_OK);
    CHECK("bc-3.1", astro_blobcache_drop(c, 1) == 1 && astro_blobcache_drop(c, 1) == 0);
    CHECK("bc-3.2", holds(c, 1, NULL) && holds(c, 9, "nine") && holds(c, 2, ""));
    CHECK("bc-3.3", astro_blobcache_count(c) == 2 && astro_blobcache_bytes(c) < before + 4);

    /* full at 4: a new key resets, a replaced key does not */
    CHECK("bc-4.0", astro_blobcache_put(c, 10, "a", 1, &err) == ASTRO_OK);
    CHECK("bc-4.1", astro_blobcache_put(c, 11, "b", 1, &err) == ASTRO_OK && astro_blobcache_count(c) == 4);
    CHECK("bc-4.2", astro_blobcache_put(c, 11, "bb", 2, &err) == ASTRO_OK && astro_blobcache_count(c) == 4);
    CHECK("bc-4.3", astro_blobcache_put(c, 12, "c", 1, &err) == ASTRO_OK && astro_blobcache_count(c) == 1);
    CHECK("bc-4.4", holds(c, 12, "c") && holds(c, 9, NULL) && holds(c, 11, NULL));
    astro_blobcache_clear(c);
    CHECK("bc-4.5", astro_blobcache_count(c) == 0 && holds(c, 12, NULL));
    astro_blobcache_free(c);

    /* randomized against a model: keys 0..63, values "k<key>v<version>" */
    CHECK("bc-5.0", astro_blobcache_new(1000, &c, &err) == ASTRO_OK);
    char model[64][32];
    int present[64] = {0};
    uint64_t s = 42;
    for (int step = 0; step < 20000; step++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        uint64_t key = s % 64;
        if ((s >> 8) % 3 == 0) {
            int was = astro_blobcache_drop(c, key);
            CHECK("bc-5.1", was == present[key]);
            present[key] = 0;
        } else {
            snprintf(model[key], sizeof model[key], "k%uv%d", (unsigned)key, step);
            CHECK("bc-5.2", astro_blobcache_put(c, key, model[key], strlen(model[key]), &err) == ASTRO_OK);
            present[key] = 1;
        }
        if (step % 97 == 0)
            for (uint64_t k = 0; k < 64; k++) CHECK("bc-5.3", holds(c, k, present[k] ? model[k] : NULL));
    }
    astro_blobcache_free(c);
    astro_blobcache_free(NULL);
    return check_report("blobcache");
}
