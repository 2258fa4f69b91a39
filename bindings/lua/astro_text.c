/*
** astro_text.c — text functions of astrocyte.core: UTF-8 checks, the shared
** tokenizer, token counting and chunking. Tokenizers are cached, one per
** (stem, stopwords) combination, in a userdata that is the upvalue of
** core.tokenize, so repeated calls reuse the core's scratch space without any
** C static state.
*/
#include <string.h>

#include "astro/dialogue.h"
#include "astro_lua.h"
#include "astro/text.h"

/* Four lazily created tokenizers, indexed by stem*2 + stopwords. */
typedef struct tk_cache {
    astro_tokenizer *tk[4];
} tk_cache;

/* core.utf8_valid(s) -> true | false, bad_byte_offset (0-based) */
static int l_utf8_valid(lua_State *L)
{
    size_t len, bad = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    if (astro_utf8_valid(s, len, &bad)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushinteger(L, (lua_Integer)bad);
    return 2;
}

/* core.utf8_len(s) -> code point count; raises on invalid UTF-8. */
static int l_utf8_len(lua_State *L)
{
    size_t len, bad = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    if (!astro_utf8_valid(s, len, &bad)) {
        lua_pushfstring(L, "invalid UTF-8 at byte offset %d", (int)bad);
        return luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    lua_pushinteger(L, (lua_Integer)astro_utf8_count(s, len));
    return 1;
}

/* core.token_count(s) -> estimated LLM token count */
static int l_token_count(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_pushinteger(L, (lua_Integer)astro_token_count(s, len));
    return 1;
}

typedef struct tok_acc {
    lua_State *L;
    int n;
} tok_acc;

/* Appends one term to the result table on top of the Lua stack. */
static int tok_collect(const astro_token *tok, void *ud)
{
    tok_acc *acc = (tok_acc *)ud;
    lua_pushlstring(acc->L, tok->term, tok->term_len);
    lua_rawseti(acc->L, -2, ++acc->n);
    return 0;
}

/* core.tokenize(s [, {stem=true, stopwords=true}]) -> array of terms */
static int l_tokenize(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int stem = 1, stop = 1, slot;
    tk_cache *cache = (tk_cache *)lua_touserdata(L, lua_upvalueindex(1));
    tok_acc acc;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        stem = astro_lua_optbool(L, 2, "stem", 1);
        stop = astro_lua_optbool(L, 2, "stopwords", 1);
    }
    slot = stem * 2 + stop;
    if (cache->tk[slot] == NULL) {
        astro_tokenizer_opts o;
        astro_err err;
        memset(&o, 0, sizeof o);
        o.stem = stem;
        o.stopwords = stop;
        if (astro_tokenizer_new(&o, &cache->tk[slot], &err) != ASTRO_OK)
            return astro_lua_fail(L, err.msg);
    }
    lua_newtable(L);
    acc.L = L;
    acc.n = 0;
    astro_tokenize(cache->tk[slot], s, len, tok_collect, &acc);
    return 1;
}

static int tk_cache_gc(lua_State *L)
{
    tk_cache *cache = (tk_cache *)lua_touserdata(L, 1);
    int i;
    for (i = 0; i < 4; i++) {
        astro_tokenizer_free(cache->tk[i]);
        cache->tk[i] = NULL;
    }
    return 0;
}

/* The dialogue strategy of core.chunk: pieces are "label text" when a long
 * turn had to be split, else exact spans of the input. */
static int chunk_dialogue(lua_State *L, const char *s, size_t len, size_t max_chars,
                          size_t overlap)
{
    astro_dialogue_piece local[32];
    astro_dialogue_piece *pieces = local;
    size_t cap = sizeof local / sizeof local[0], n = 0, i;
    astro_err err;
    if (astro_chunk_dialogue(s, len, max_chars, overlap, pieces, cap, &n, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    if (n > cap) {
        cap = n;
        pieces = (astro_dialogue_piece *)lua_newuserdata(L, cap * sizeof *pieces);
        if (astro_chunk_dialogue(s, len, max_chars, overlap, pieces, cap, &n, &err) != ASTRO_OK)
            return astro_lua_fail(L, err.msg);
        if (n > cap)
            n = cap;
    }
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        if (pieces[i].prefix_len > 0) {
            lua_pushlstring(L, s + pieces[i].prefix_off, pieces[i].prefix_len);
            lua_pushliteral(L, " ");
            lua_pushlstring(L, s + pieces[i].off, pieces[i].len);
            lua_concat(L, 3);
        } else {
            lua_pushlstring(L, s + pieces[i].off, pieces[i].len);
        }
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* core.chunk(s, strategy [, max_chars [, overlap]]) -> array of strings | nil, err.
 * strategy: sentence, paragraph, fixed or dialogue. max_chars defaults to the
 * core's 512, overlap to 0. */
static int l_chunk(lua_State *L)
{
    size_t len, cap, n = 0, i;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *strategy = luaL_checkstring(L, 2);
    astro_chunk_opts o;
    astro_span local[64];
    astro_span *spans = local;
    astro_err err;
    memset(&o, 0, sizeof o);
    if (strcmp(strategy, "sentence") == 0)
        o.strategy = ASTRO_CHUNK_SENTENCE;
    else if (strcmp(strategy, "paragraph") == 0)
        o.strategy = ASTRO_CHUNK_PARAGRAPH;
    else if (strcmp(strategy, "fixed") == 0)
        o.strategy = ASTRO_CHUNK_FIXED;
    else if (strcmp(strategy, "dialogue") != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "unknown chunk strategy '%s' (expected sentence, paragraph, dialogue or fixed)",
                        strategy);
        return 2;
    }
    o.max_chars = lua_isnoneornil(L, 3) ? 0 : astro_lua_checksize(L, 3);
    o.overlap = lua_isnoneornil(L, 4) ? 0 : astro_lua_checksize(L, 4);
    if (strcmp(strategy, "dialogue") == 0)
        return chunk_dialogue(L, s, len, o.max_chars, o.overlap);
    cap = sizeof local / sizeof local[0];
    if (astro_chunk(s, len, &o, spans, cap, &n, &err) != ASTRO_OK)
        return astro_lua_fail(L, err.msg);
    if (n > cap) {
        cap = n;
        spans = (astro_span *)lua_newuserdata(L, cap * sizeof *spans);
        if (astro_chunk(s, len, &o, spans, cap, &n, &err) != ASTRO_OK)
            return astro_lua_fail(L, err.msg);
        if (n > cap)
            n = cap;
    }
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushlstring(L, s + spans[i].off, spans[i].len);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static const luaL_Reg text_funcs[] = {
    {"utf8_valid", l_utf8_valid},
    {"utf8_len", l_utf8_len},
    {"token_count", l_token_count},
    {"chunk", l_chunk},
    {NULL, NULL}
};

void astro_lua_open_text(lua_State *L)
{
    tk_cache *cache;
    luaL_setfuncs(L, text_funcs, 0);
    cache = (tk_cache *)lua_newuserdata(L, sizeof *cache);
    memset(cache, 0, sizeof *cache);
    luaL_newmetatable(L, ASTRO_MT_TKCACHE);
    lua_pushcfunction(L, tk_cache_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushcclosure(L, l_tokenize, 1);
    lua_setfield(L, -2, "tokenize");
}
