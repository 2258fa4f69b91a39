/*
** fuzz_http_decode.c — response decoding of astrocyte.http_curl
** (bindings/lua/astro_http.c): the header and body callbacks libcurl feeds
** (on_header, on_body: header blocks restarting at each status line, the
** 256 KiB header cap, the max_response_bytes body cap) and the parse of the
** raw header block into the Lua headers table (push_headers). The binding is
** compiled into this file to reach those static functions; libcurl itself
** (transfer and chunked decoding) is not involved, the input plays it.
**
** Input: a cap byte, then deliveries until the input ends: a kind byte
** (header or body) and a length-prefixed piece. A model of the buffers
** checks what the callbacks keep and refuse; the headers table must have
** lowercase names without ':' and values without leading blanks or a
** trailing CR, and a
** name that appears in the last block must be in the table.
*/
#include "astro_http.c"

#include "fuzz_input.h"

/* A fresh state per input: everything it allocated is freed by lua_close,
 * so libFuzzer's per-input leak check sees only what the C code leaks. */
static lua_State *L;

/* pcall'd: pushes the headers table of the client at upvalue 1. */
static int do_push(lua_State *Ls) {
    hclient *c = (hclient *)lua_touserdata(Ls, 1);
    push_headers(Ls, &c->head);
    return 1;
}

static int blank(char ch) { return ch == ' ' || ch == '\t'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    L = luaL_newstate();
    if (!L) return 0;
    hclient c;
    memset(&c, 0, sizeof c);
    uint8_t cb = fi_u8(&in);
    c.max_body = cb < 128 ? cb : (size_t)cb * 64;
    size_t model_body = 0, model_head = 0;
    int stopped_body = 0, stopped_head = 0;
    while (in.n > 0) {
        uint8_t kind = fi_u8(&in);
        size_t n;
        const uint8_t *p = fi_piece(&in, 255, &n);
        /* libcurl hands over writable memory; give the callbacks a copy */
        char *chunk = malloc(n ? n : 1);
        if (!chunk) break;
        if (n) memcpy(chunk, p, n);
        if (kind & 1) {
            if (stopped_body) { free(chunk); continue; }   /* curl aborts on a refusal */
            size_t r = on_body(chunk, 1, n, &c);
            if (model_body + n > c.max_body) {
                FUZZ_CHECK(r == 0 && c.too_large);
                stopped_body = 1;
            } else {
                FUZZ_CHECK(r == n && c.body.len == model_body + n);
                FUZZ_CHECK(n == 0 || memcmp(c.body.p + model_body, p, n) == 0);
                model_body += n;
            }
        } else {
            if (stopped_head) { free(chunk); continue; }
            /* a header callback gets one line; kind 0xF0 repeats the piece
             * past the 256 KiB cap, other kinds with bits 1-3 clear a few
             * times (repeated headers) */
            size_t reps = kind == 0xF0 ? 1100 : (kind >> 1) & 7 ? 1 : 1 + (kind >> 4) * 4;
            for (size_t k = 0; k < reps && !stopped_head; k++) {
                if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) model_head = 0;
                size_t r = on_header(chunk, 1, n, &c);
                if (model_head + n > 256u * 1024u) {
                    FUZZ_CHECK(r == 0 && c.too_large);
                    stopped_head = 1;
                } else {
                    FUZZ_CHECK(r == n && c.head.len == model_head + n);
                    model_head += n;
                }
            }
        }
        free(chunk);
    }
    FUZZ_CHECK(c.body.p == NULL || c.body.p[c.body.len] == '\0');
    FUZZ_CHECK(c.head.p == NULL || c.head.p[c.head.len] == '\0');

    int top = lua_gettop(L);
    lua_pushcfunction(L, do_push);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "push_headers raised: %s\n", lua_tostring(L, -1));
        abort();
    }
    FUZZ_CHECK(lua_istable(L, -1));
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        size_t kl, vl;
        FUZZ_CHECK(lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING);
        const char *k = lua_tolstring(L, -2, &kl);
        const char *v = lua_tolstring(L, -1, &vl);
        FUZZ_CHECK(kl > 0 && kl < 128);
        for (size_t i = 0; i < kl; i++) FUZZ_CHECK(k[i] != ':' && k[i] != '\n' && !(k[i] >= 'A' && k[i] <= 'Z'));
        for (size_t i = 0; i < vl; i++) FUZZ_CHECK(v[i] != '\n');
        /* trimmed; a repeated header with an empty value may end in ", " */
        if (vl) FUZZ_CHECK(!blank(v[0]) && v[vl - 1] != '\r');
        lua_pop(L, 1);
    }
    /* The name of each line of the block (when it has one) is a key. */
    const char *p = c.head.p, *end = c.head.p ? c.head.p + c.head.len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p && colon - p < 128) {
            char name[128];
            size_t nl = (size_t)(colon - p);
            for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)p[i]);
            lua_pushlstring(L, name, nl);
            lua_rawget(L, -2);
            FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING);
            lua_pop(L, 1);
        }
        p = eol + 1;
    }
    lua_settop(L, top);
    hbuf_free(&c.body);
    hbuf_free(&c.head);
    lua_close(L);
    return 0;
}
