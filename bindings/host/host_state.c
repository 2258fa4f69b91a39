/*
** host_state.c — one Lua state of a host engine: created with the standard
** libraries, the Lua C modules of bindings/lua linked into this library and
** preloaded (no .so search), the framework's Lua tree on package.path, the
** glue of glue.lua, and the module astrocyte.host bound to the engine. Every
** step that can raise runs inside lua_pcall, so an out-of-memory error comes
** back as ASTRO_E_NOMEM instead of a Lua panic.
*/
#define _GNU_SOURCE     /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host_glue.h"
#include "host_internal.h"

int luaopen_astrocyte_core(lua_State *L);
int luaopen_astrocyte_sqlite(lua_State *L);
int luaopen_astrocyte_http_curl(lua_State *L);
int luaopen_astrocyte_pq(lua_State *L);
int luaopen_astrocyte_webhook(lua_State *L);

static const luaL_Reg preloads[] = {
    {"astrocyte.core", luaopen_astrocyte_core},
    {"astrocyte.sqlite", luaopen_astrocyte_sqlite},
    {"astrocyte.http_curl", luaopen_astrocyte_http_curl},
    {"astrocyte.pq", luaopen_astrocyte_pq},
    {"astrocyte.webhook", luaopen_astrocyte_webhook},
    {NULL, NULL}
};

static const char *const verb_names[] = {NULL, "retain", "recall", "reflect", "forget", "banks", "retain_many"};

/* Returns 1 if dir/astrocyte/init.lua exists. */
static int has_tree(const char *dir)
{
    char p[4096];
    int n = snprintf(p, sizeof p, "%s/astrocyte/init.lua", dir);
    return n > 0 && (size_t)n < sizeof p && access(p, R_OK) == 0;
}

/* Writes the directory of the framework's Lua tree into buf (empty when
 * none is found: the interpreter's default path is used then). Order: the
 * open option, $ASTRO_LUA_PATH, the installed tree relative to this
 * library's file, the source checkout the library was built from. */
static void find_lua_dir(const astro_open_opts *opts, char *buf, size_t cap)
{
    const char *env = getenv("ASTRO_LUA_PATH");
    Dl_info info;
    buf[0] = '\0';
    if (opts && opts->lua_dir && opts->lua_dir[0]) {
        snprintf(buf, cap, "%s", opts->lua_dir);
        return;
    }
    if (env && env[0]) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    if (dladdr((void *)find_lua_dir, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        int n = slash ? (int)(slash - info.dli_fname) : 1;
        char dir[4096];
        if (snprintf(dir, sizeof dir, "%.*s/%s", n, slash ? info.dli_fname : ".",
                     ASTRO_HOST_REL_LUA_DIR) < (int)sizeof dir && has_tree(dir)) {
            snprintf(buf, cap, "%s", dir);
            return;
        }
    }
    if (has_tree(ASTRO_HOST_SRC_LUA_DIR))
        snprintf(buf, cap, "%s", ASTRO_HOST_SRC_LUA_DIR);
}

/* astrocyte.host's raw call: (name, json_args) -> json | true | nil, msg. */
static int l_raw_call(lua_State *L)
{
    astro_engine *e = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    const char *args = luaL_checkstring(L, 2);
    astro_host_fn fn;
    void *ud;
    char *out = NULL;
    int rc;
    if (!host_fn_find(e, name, &fn, &ud)) {
        lua_pushnil(L);
        lua_pushfstring(L, "no host function '%s' is registered", name);
        return 2;
    }
    rc = fn(ud, args, &out);
    /* (an out-of-memory error in the pushes below would leak out: accepted) */
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "host function '%s' failed: %s", name, out ? out : "(no message)");
    } else if (out) {
        lua_pushstring(L, out);
    } else {
        lua_pushboolean(L, 1);
    }
    free(out);
    return rc != 0 ? 2 : 1;
}

static int l_raw_has(lua_State *L)
{
    astro_engine *e = lua_touserdata(L, lua_upvalueindex(1));
    astro_host_fn fn;
    void *ud;
    lua_pushboolean(L, host_fn_find(e, luaL_checkstring(L, 1), &fn, &ud));
    return 1;
}

/* What p_open needs and returns. */
typedef struct open_args {
    astro_engine *e;
    host_state *s;
    const char *config, *how, *db;
    const char *lua_dir, *lua_path;
    astro_error *err;
    int code;
} open_args;

/* Protected: libraries, preloads, package.path, glue, engine. Returns 1
 * with the refs set, or 0 with a->err set. */
static int p_open(lua_State *L)
{
    open_args *a = lua_touserdata(L, 1);
    const luaL_Reg *r;
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (r = preloads; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, -2, r->name);
    }
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s%s", a->lua_path ? a->lua_path : "", a->lua_path && a->lua_path[0] ? ";" : "");
    if (a->lua_dir[0])
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", a->lua_dir, a->lua_dir);
    else
        lua_pushliteral(L, "");
    lua_getfield(L, -3, "path");
    lua_concat(L, 3);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, (const char *)host_glue_lua, sizeof host_glue_lua, "=astrocyte.host.glue") != LUA_OK)
        return lua_error(L);
    lua_pushlightuserdata(L, a->e);
    lua_pushcclosure(L, l_raw_call, 1);
    lua_pushlightuserdata(L, a->e);
    lua_pushcclosure(L, l_raw_has, 1);
    lua_call(L, 2, 1);
    lua_pushvalue(L, -1);
    a->s->glue_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "open");
    lua_pushstring(L, a->config);
    lua_pushstring(L, a->how);
    lua_pushstring(L, a->db);
    lua_call(L, 3, 3);
    if (lua_isnil(L, -3)) {
        a->code = host_err_kind(a->err, luaL_optstring(L, -2, "InternalError"),
                                luaL_optstring(L, -1, "open failed"));
        return 0;
    }
    lua_pop(L, 2);
    a->s->engine_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Maps a failed lua_pcall to a code, taking the message from the stack. */
static int lua_failure(lua_State *L, int rc, astro_error *err)
{
    const char *msg = lua_tostring(L, -1);
    if (rc == LUA_ERRMEM)
        return host_err(err, ASTRO_E_NOMEM, "out of memory in the Lua state");
    return host_err(err, ASTRO_E_INTERNAL, "Lua error: %s", msg ? msg : "(no message)");
}

int host_state_open(astro_engine *e, host_state *s, const char *config,
                    const astro_open_opts *opts, astro_error *err)
{
    char dir[4096];
    open_args a;
    int rc;
    lua_State *L = luaL_newstate();
    s->L = NULL;
    s->glue_ref = s->engine_ref = LUA_NOREF;
    if (!L)
        return host_err(err, ASTRO_E_NOMEM, "cannot create a Lua state");
    find_lua_dir(opts, dir, sizeof dir);
    memset(&a, 0, sizeof a);
    a.e = e;
    a.s = s;
    a.lua_dir = dir;
    a.db = opts ? opts->db : NULL;
    a.lua_path = opts ? opts->lua_path : NULL;
    a.err = err;
    if (!config || !config[0]) {
        a.how = "none";
    } else if (strchr(config, '\n') || config[strspn(config, " \t")] == '{') {
        a.how = "text";
        a.config = config;
    } else {
        a.how = "path";
        a.config = config;
    }
    a.code = ASTRO_E_INTERNAL;
    lua_pushcfunction(L, p_open);
    lua_pushlightuserdata(L, &a);
    rc = lua_pcall(L, 1, 0, 0);
    if (rc != LUA_OK) {
        rc = lua_failure(L, rc, err);
        lua_close(L);
        return rc;
    }
    if (s->engine_ref == LUA_NOREF) {       /* open returned nil, kind, message */
        lua_close(L);
        return a.code;
    }
    lua_settop(L, 0);
    s->L = L;
    return ASTRO_OK;
}

/* Protected: glue.close(engine). */
static int p_close(lua_State *L)
{
    host_state *s = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->glue_ref);
    lua_getfield(L, -1, "close");
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->engine_ref);
    lua_call(L, 1, 0);
    return 0;
}

void host_state_close(host_state *s)
{
    if (!s->L)
        return;
    lua_settop(s->L, 0);
    lua_pushcfunction(s->L, p_close);
    lua_pushlightuserdata(s->L, s);
    (void)lua_pcall(s->L, 1, 0, 0);   /* closing errors are not reportable */
    lua_close(s->L);
    s->L = NULL;
}

/* What p_call needs and returns. */
typedef struct call_args {
    host_state *s;
    astro_verb verb;
    const char *request;
    char **json;
    astro_hits **hits;
    astro_error *err;
    int code;
} call_args;

/* Protected: glue.call(engine, verb, request) and the copies out of Lua. */
static int p_call(lua_State *L)
{
    call_args *a = lua_touserdata(L, 1);
    size_t len;
    const char *text;
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->s->glue_ref);
    lua_getfield(L, -1, "call");
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->s->engine_ref);
    lua_pushstring(L, verb_names[a->verb]);
    lua_pushstring(L, a->request);
    lua_call(L, 3, 3);
    if (lua_isnil(L, -3)) {
        const char *kind = luaL_optstring(L, -2, "InternalError");
        const char *msg = luaL_optstring(L, -1, "(no message)");
        if (strcmp(kind, "JSON") == 0)
            a->code = host_err(a->err, ASTRO_E_JSON, "%s", msg);
        else if (strcmp(kind, "ARG") == 0)
            a->code = host_err(a->err, ASTRO_E_ARG, "%s", msg);
        else
            a->code = host_err_kind(a->err, kind, msg);
        return 0;
    }
    if (a->hits) {
        a->code = host_hits_build(L, lua_gettop(L) - 2, a->hits);
        if (a->code != ASTRO_OK) {
            host_err(a->err, a->code, "out of memory building the recall hits");
            return 0;
        }
    }
    if (a->json) {
        text = lua_tolstring(L, -2, &len);
        *a->json = malloc(len + 1);
        if (!*a->json) {
            if (a->hits) {
                astro_hits_free(*a->hits);
                *a->hits = NULL;
            }
            a->code = host_err(a->err, ASTRO_E_NOMEM, "out of memory copying the response");
            return 0;
        }
        memcpy(*a->json, text, len + 1);
    }
    a->code = ASTRO_OK;
    return 0;
}

int host_state_call(host_state *s, astro_verb verb, const char *request, char **json,
                    astro_hits **hits, astro_error *err)
{
    call_args a;
    int rc;
    lua_State *L = s->L;
    if (json)
        *json = NULL;
    if (hits)
        *hits = NULL;
    a.s = s;
    a.verb = verb;
    a.request = request;
    a.json = json;
    a.hits = hits;
    a.err = err;
    a.code = ASTRO_E_INTERNAL;
    lua_settop(L, 0);
    lua_pushcfunction(L, p_call);
    lua_pushlightuserdata(L, &a);
    rc = lua_pcall(L, 1, 0, 0);
    if (rc != LUA_OK) {
        a.code = lua_failure(L, rc, err);
        if (json) {
            free(*json);
            *json = NULL;
        }
        if (hits) {
            astro_hits_free(*hits);
            *hits = NULL;
        }
    }
    lua_settop(L, 0);
    return a.code;
}

/* Protected: glue.reload(engine). */
static int p_reload(lua_State *L)
{
    call_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->s->glue_ref);
    lua_getfield(L, -1, "reload");
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->s->engine_ref);
    lua_call(L, 1, 3);
    if (lua_isnil(L, -3))
        a->code = host_err_kind(a->err, luaL_optstring(L, -2, "InternalError"),
                                luaL_optstring(L, -1, "(no message)"));
    else
        a->code = ASTRO_OK;
    return 0;
}

int host_state_reload(host_state *s, astro_error *err)
{
    call_args a;
    int rc;
    memset(&a, 0, sizeof a);
    a.s = s;
    a.err = err;
    a.code = ASTRO_E_INTERNAL;
    lua_settop(s->L, 0);
    lua_pushcfunction(s->L, p_reload);
    lua_pushlightuserdata(s->L, &a);
    rc = lua_pcall(s->L, 1, 0, 0);
    if (rc != LUA_OK)
        a.code = lua_failure(s->L, rc, err);
    lua_settop(s->L, 0);
    return a.code;
}
