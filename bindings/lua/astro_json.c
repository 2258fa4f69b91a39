/*
** astro_json.c — core.json_encode(v [, object_mt]): the framework's JSON
** writer (util.encode), in C because a gateway answer spent ~200 us in the
** Lua version per recall. Output is fixed by these rules, so it is stable
** across runs and runtimes:
**   - object keys sorted bytewise; number keys written as their decimal
**     text, any other key type is an error;
**   - a table is an array when it is empty or its keys are exactly 1..n,
**     unless its metatable is object_mt (then always an object);
**   - strings escaped as lua-cjson does (", \, /, control bytes, DEL);
**   - numbers: integers below 2^53 exactly, others as "%.14g" (cjson's
**     precision); NaN and infinities are an error;
**   - nil and cjson.null (a NULL light userdata) are null.
** Errors (a function, a cycle deeper than MAX_DEPTH, ...) return nil, msg.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro_lua.h"

#define MAX_DEPTH 1000
#define OBJECT_MT_IDX 2   /* stack slot of object_mt (nil when not given) */

typedef struct jbuf {
    char *p;
    size_t n, cap;
    int oom;
    char err[160];     /* first error, "" while none */
} jbuf;

static int put(jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return -1;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        char *p = (char *)realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            snprintf(b->err, sizeof b->err, "out of memory");
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int fail(jbuf *b, const char *msg, const char *what)
{
    if (b->err[0] == '\0')
        snprintf(b->err, sizeof b->err, "%s%s", msg, what ? what : "");
    return -1;
}

static int put_string(jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (put(b, "\"", 1))
        return -1;
    size_t run = 0;   /* start of the pending unescaped bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '/') esc = "\\/";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        } else
            continue;
        if (put(b, s + run, i - run))
            return -1;
        if (esc ? put(b, esc, 2) : put(b, u, 6))
            return -1;
        run = i + 1;
    }
    if (put(b, s + run, n - run))
        return -1;
    return put(b, "\"", 1);
}

/* The text of the number at idx in s (cap bytes): its length, or -1 with
 * *err set (non-finite, or too long for s). */
static int format_number(lua_State *L, int idx, char *s, size_t cap, const char **err)
{
    int len;
    if (lua_isinteger(L, idx)) {
        len = snprintf(s, cap, "%lld", (long long)lua_tointeger(L, idx));
    } else {
        double d = (double)lua_tonumber(L, idx);
        if (isnan(d) || isinf(d)) {
            *err = "cannot encode a non-finite number";
            return -1;
        }
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            len = snprintf(s, cap, "%.0f", d);   /* -0.0 stays "-0", as cjson */
        else
            len = snprintf(s, cap, "%.14g", d);
    }
    if (len < 0 || (size_t)len >= cap) {
        *err = "cannot format a number";
        return -1;
    }
    return len;
}

static int put_number(lua_State *L, jbuf *b, int idx)
{
    char s[64];
    const char *err = NULL;
    int len = format_number(L, idx, s, sizeof s, &err);
    if (len < 0)
        return fail(b, err, NULL);
    return put(b, s, (size_t)len);
}

/* One object key: a string key points into the table's own key (alive
 * while the table is, and nothing writes to it); a number key is written
 * into num, and key_text reads it from there (never through s: qsort moves
 * the struct, so a pointer into itself would go stale). */
typedef struct jkey {
    const char *s;
    size_t n;
    int is_num, is_int;
    lua_Integer i;
    lua_Number d;
    char num[32];
} jkey;

#define STACK_KEYS 32

static const char *key_text(const jkey *k)
{
    return k->is_num ? k->num : k->s;
}

static int key_cmp(const void *a, const void *b)
{
    const jkey *x = (const jkey *)a, *y = (const jkey *)b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(key_text(x), key_text(y), n);
    if (c != 0)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

static int encode(lua_State *L, jbuf *b, int idx, int depth);

static int encode_array(lua_State *L, jbuf *b, int idx, size_t len, int depth)
{
    int rc = put(b, "[", 1);
    for (size_t i = 1; rc == 0 && i <= len; i++) {
        if (i > 1)
            rc = put(b, ",", 1);
        if (rc == 0) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            rc = encode(L, b, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
    }
    return rc ? rc : put(b, "]", 1);
}

static int encode_object(lua_State *L, jbuf *b, int idx, jkey *keys, size_t n, int depth)
{
    for (size_t k = 0; k < n; k++) {
        if (!keys[k].is_num)
            continue;
        if (keys[k].is_int)
            lua_pushinteger(L, keys[k].i);
        else
            lua_pushnumber(L, keys[k].d);
        const char *err = NULL;
        int len = format_number(L, -1, keys[k].num, sizeof keys[k].num, &err);
        lua_pop(L, 1);
        if (len < 0)
            return fail(b, err, NULL);
        keys[k].n = (size_t)len;
    }
    qsort(keys, n, sizeof *keys, key_cmp);
    int rc = put(b, "{", 1);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (k > 0)
            rc = put(b, ",", 1);
        if (rc == 0)
            rc = put_string(b, key_text(&keys[k]), keys[k].n);
        if (rc == 0)
            rc = put(b, ":", 1);
        if (rc == 0) {
            if (!keys[k].is_num)
                lua_pushlstring(L, keys[k].s, keys[k].n);
            else if (keys[k].is_int)
                lua_pushinteger(L, keys[k].i);
            else
                lua_pushnumber(L, keys[k].d);
            lua_rawget(L, idx);
            rc = encode(L, b, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
    }
    return rc ? rc : put(b, "}", 1);
}

/* One pass over the keys decides the shape: an array when every key is an
 * integer in 1..count (so exactly 1..n), else an object of sorted keys. */
static int encode_table(lua_State *L, jbuf *b, int idx, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(b, "cannot encode: tables nested too deep (a cycle?)", NULL);
    if (!lua_checkstack(L, 8))
        return fail(b, "cannot encode: Lua stack exhausted", NULL);
    int object = 0;
    if (lua_getmetatable(L, idx)) {
        object = lua_rawequal(L, -1, OBJECT_MT_IDX);
        lua_pop(L, 1);
    }
    jkey stack_keys[STACK_KEYS];
    jkey *keys = stack_keys;
    size_t n = 0, cap = STACK_KEYS;
    int sequence = 1;
    lua_Number maxkey = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) {
            lua_pop(L, 1);
            if (keys != stack_keys)
                free(keys);
            return fail(b, "cannot encode a table key of type ", lua_typename(L, t));
        }
        if (n == cap) {
            jkey *grown = (jkey *)malloc(2 * cap * sizeof *keys);
            if (grown == NULL) {
                lua_pop(L, 1);
                if (keys != stack_keys)
                    free(keys);
                b->oom = 1;
                return fail(b, "out of memory", NULL);
            }
            memcpy(grown, keys, n * sizeof *keys);
            if (keys != stack_keys)
                free(keys);
            keys = grown;
            cap *= 2;
        }
        jkey *k = &keys[n++];
        k->is_num = t == LUA_TNUMBER;
        if (k->is_num) {
            k->is_int = lua_isinteger(L, -1);
            k->i = k->is_int ? lua_tointeger(L, -1) : 0;
            k->d = lua_tonumber(L, -1);
            if (k->d >= 1 && k->d == floor(k->d)) {
                if (k->d > maxkey)
                    maxkey = k->d;
            } else
                sequence = 0;
        } else {
            k->s = lua_tolstring(L, -1, &k->n);
            sequence = 0;
        }
    }
    int rc;
    if (!object && sequence && maxkey == (lua_Number)n)
        rc = encode_array(L, b, idx, n, depth);
    else
        rc = encode_object(L, b, idx, keys, n, depth);
    if (keys != stack_keys)
        free(keys);
    return rc;
}

static int encode(lua_State *L, jbuf *b, int idx, int depth)
{
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return put(b, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? put(b, "true", 4) : put(b, "false", 5);
    case LUA_TNUMBER:
        return put_number(L, b, idx);
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        return put_string(b, s, n);
    case LUA_TTABLE:
        return encode_table(L, b, idx, depth);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return put(b, "null", 4);
        /* fall through */
    default:
        return fail(b, "cannot encode a value of type ", luaL_typename(L, idx));
    }
}

/* core.json_encode(v [, object_mt]) -> text | nil, err */
static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 2);
    jbuf b = { 0 };
    int rc = encode(L, &b, 1, 0);
    if (rc == 0 && b.n == 0)
        rc = fail(&b, "cannot encode: empty output", NULL);
    if (rc) {
        free(b.p);
        lua_pushnil(L);
        lua_pushstring(L, b.err);
        return 2;
    }
    lua_pushlstring(L, b.p, b.n);
    free(b.p);
    return 1;
}

void astro_lua_open_json(lua_State *L)
{
    lua_pushcfunction(L, l_json_encode);
    lua_setfield(L, -2, "json_encode");
}
