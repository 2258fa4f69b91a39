/*
** astro_webhook.c — astrocyte.webhook, asynchronous delivery of outbound
** webhooks (event hooks, the webhook export sink). A dispatcher owns a
** bounded FIFO ring of requests and one background thread with one curl easy
** handle; the Lua caller only copies the request into the ring and returns,
** so a slow or dead receiver never blocks a retain or a recall:
**
**   local webhook = require "astrocyte.webhook"
**   local d = webhook.dispatcher{ queue_size = 1000, retries = 2,
**       retry_delay_ms = 1000, timeout_ms = 5000, connect_timeout_ms = 2000,
**       max_delay_ms = 30000, proxy = "http://p:3128", noproxy = "localhost",
**       cainfo = "/etc/ssl/ca.pem", user_agent = "astrocyte" }
**   local ok, err = d:post(url, { ["Content-Type"] = "application/json" }, body
**                          [, { retries =, retry_delay_ms =, timeout_ms =,
**                               method = "POST" | "PUT" }])
**   -- ok == true, or false and "queue full" (counted as dropped) / "closed"
**   d:stats()   --> { queued, delivered, failed, dropped, retried, pending,
**               --     last_status, last_error }
**   d:flush(ms) --> true once the ring is empty and nothing is in flight,
**               --     or false, "timeout"
**   d:close()   --> stops the thread; undelivered requests count as dropped
**
** Delivery is in order, one request at a time. A request is retried (at
** most `retries` more times, waiting retry_delay_ms * 2^(n-1), capped at
** max_delay_ms) after a transport error (refused, reset, timeout), a 5xx or
** a 429; any other non-2xx is a failure at once. `queued` counts requests
** accepted since creation, `pending` those waiting or in flight.
**
** Caveats. The worker thread never touches the Lua state; all shared state
** (ring, counters, flags) lives in the dispatcher behind one mutex, with two
** condition variables (work available / idle). close() and __gc interrupt a
** transfer in progress (curl's progress callback) and a backoff wait, then
** join the thread. libcurl's reading of proxy environment variables is off
** unless `proxy` is given, as in astrocyte.http_curl. curl_global_init runs
** in luaopen (thread-safe from libcurl 7.84 on). There is no C static
** mutable state. This file is the Lua glue; the queue and the delivery
** thread live in webhook_queue.c.
*/
#include <stdlib.h>
#include <string.h>

#include "standalone.h"
#include "webhook_queue.h"
#include "curl_module.h"

#define MT_DISPATCHER "astrocyte.webhook.dispatcher"
#define MAX_QUEUE 1000000

typedef struct lwdisp {
    wdisp *d;
} lwdisp;

/* Returns integer field `name` of the table at idx, dflt when nil; raises
 * unless it is a number in [lo, hi]. */
static long opt_long(lua_State *L, int idx, const char *name, long dflt, long lo, long hi)
{
    lua_Number v;
    if (lua_isnoneornil(L, idx))
        return dflt;
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "webhook: %s must be a number", name);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= (lua_Number)lo && v <= (lua_Number)hi))
        luaL_error(L, "webhook: %s must be between %d and %d", name, (int)lo, (int)hi);
    return (long)v;
}

/* Returns a malloc'd copy of string field `name` (NULL when nil). */
static char *opt_str(lua_State *L, int idx, const char *name, int *oom)
{
    const char *s;
    size_t n;
    char *p;
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "webhook: %s must be a string", name);
    s = lua_tolstring(L, -1, &n);
    p = wq_dupn(s, n);
    lua_pop(L, 1);
    if (p == NULL)
        *oom = 1;
    return p;
}

static wdisp *check_disp(lua_State *L)
{
    lwdisp *u = (lwdisp *)luaL_checkudata(L, 1, MT_DISPATCHER);
    return u->d;
}

/* webhook.dispatcher(opts) → dispatcher | nil, msg. Options are checked
 * (raising on misuse) before anything is allocated. */
static int l_dispatcher(lua_State *L)
{
    lwdisp *u;
    wdisp *d;
    int oom = 0, rc;
    long qsize, retries, delay, timeout, ctimeout, maxdelay;
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    qsize = opt_long(L, 1, "queue_size", 1000, 1, MAX_QUEUE);
    retries = opt_long(L, 1, "retries", 2, 0, 100);
    delay = opt_long(L, 1, "retry_delay_ms", 1000, 0, 3600000);
    timeout = opt_long(L, 1, "timeout_ms", 5000, 1, 3600000);
    ctimeout = opt_long(L, 1, "connect_timeout_ms", 2000, 1, 3600000);
    maxdelay = opt_long(L, 1, "max_delay_ms", 30000, 0, 3600000);
    u = (lwdisp *)astro_newud(L, sizeof(lwdisp));
    u->d = NULL;
    luaL_getmetatable(L, MT_DISPATCHER);
    lua_setmetatable(L, -2);
    d = (wdisp *)calloc(1, sizeof(wdisp));
    if (d == NULL)
        goto nomem;
    d->retries = retries;
    d->retry_delay_ms = delay;
    d->timeout_ms = timeout;
    d->connect_timeout_ms = ctimeout;
    d->max_delay_ms = maxdelay;
    wq_init(d);
    u->d = d;      /* from here on __gc frees d, even if an option raises */
    if (lua_istable(L, 1)) {
        d->proxy = opt_str(L, 1, "proxy", &oom);
        d->noproxy = opt_str(L, 1, "noproxy", &oom);
        d->cainfo = opt_str(L, 1, "cainfo", &oom);
        d->user_agent = opt_str(L, 1, "user_agent", &oom);
    }
    if (oom)
        goto nomem;
    rc = wq_start(d, (size_t)qsize);
    if (rc == -1)
        goto nomem;
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushstring(L, "webhook: cannot start the delivery thread");
        return 2;
    }
    return 1;
nomem:
    lua_pushnil(L);
    lua_pushstring(L, "webhook: not enough memory");
    return 2;
}

/* Appends "name: value" for every string pair of the table at idx to j.
 * Returns NULL, or a static message for invalid header text. */
static const char *copy_headers(lua_State *L, int idx, wjob *j, int *oom)
{
    int n = 0;
    if (lua_isnoneornil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        n++;
        lua_pop(L, 1);
    }
    if (n == 0)
        return NULL;
    j->hdrs = (char **)calloc((size_t)n, sizeof(char *));
    if (j->hdrs == NULL) {
        *oom = 1;
        return NULL;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t kl, vl;
        const char *k, *v;
        char *line;
        if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING &&
                                                lua_type(L, -1) != LUA_TNUMBER)) {
            lua_pop(L, 2);
            return "header names and values must be strings";
        }
        k = lua_tolstring(L, -2, &kl);
        v = lua_tolstring(L, -1, &vl);   /* converts a number in place (value slot only) */
        if (kl == 0 || strpbrk(k, "\r\n:") != NULL || memchr(k, '\0', kl) != NULL ||
            strpbrk(v, "\r\n") != NULL || memchr(v, '\0', vl) != NULL) {
            lua_pop(L, 2);
            return "header names and values must not contain CR, LF or NUL";
        }
        line = (char *)malloc(kl + vl + 3);
        if (line == NULL) {
            lua_pop(L, 2);
            *oom = 1;
            return NULL;
        }
        memcpy(line, k, kl);
        memcpy(line + kl, ": ", 2);
        memcpy(line + kl + 2, v, vl);
        line[kl + vl + 2] = '\0';
        j->hdrs[j->nhdrs++] = line;
        lua_pop(L, 1);
    }
    return NULL;
}

/* d:post(url, headers, body [, opts]) → true | false, "queue full" | "closed"
 * | message. Copies everything; never blocks on the network. */
static int l_post(lua_State *L)
{
    wdisp *d = check_disp(L);
    size_t ul, bl;
    const char *url = luaL_checklstring(L, 2, &ul);
    const char *body = luaL_optlstring(L, 4, "", &bl);
    const char *bad;
    wjob j;
    int oom = 0, rc;
    memset(&j, 0, sizeof j);
    if (!lua_isnoneornil(L, 5))
        luaL_checktype(L, 5, LUA_TTABLE);
    j.retries = opt_long(L, 5, "retries", d ? d->retries : 0, 0, 100);
    j.retry_delay_ms = opt_long(L, 5, "retry_delay_ms", d ? d->retry_delay_ms : 0, 0, 3600000);
    j.timeout_ms = opt_long(L, 5, "timeout_ms", d ? d->timeout_ms : 1, 1, 3600000);
    if (lua_istable(L, 5)) {
        const char *m;
        lua_getfield(L, 5, "method");
        m = lua_tostring(L, -1);
        if (m != NULL && strcmp(m, "PUT") == 0)
            j.put = 1;
        else if (m != NULL && strcmp(m, "POST") != 0)
            luaL_error(L, "webhook: method must be POST or PUT");
        lua_pop(L, 1);
    }
    if (d == NULL || d->ring == NULL) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "closed");
        return 2;
    }
    if (ul == 0 || memchr(url, '\0', ul) != NULL) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "invalid url");
        return 2;
    }
    bad = copy_headers(L, 3, &j, &oom);
    if (bad == NULL && !oom) {
        j.url = wq_dupn(url, ul);
        j.body = wq_dupn(body, bl);
        j.body_len = bl;
        if (j.url == NULL || j.body == NULL)
            oom = 1;
    }
    if (bad != NULL || oom) {
        wq_job_free(&j);
        lua_pushboolean(L, 0);
        lua_pushstring(L, bad ? bad : "not enough memory");
        return 2;
    }
    rc = wq_push(d, &j);
    if (rc != WQ_OK) {
        wq_job_free(&j);
        lua_pushboolean(L, 0);
        if (rc == WQ_FULL)
            lua_pushliteral(L, "queue full");
        else
            lua_pushliteral(L, "closed");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Sets field k of the table on top of the stack to the integer v. */
static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* d:stats() → { queued, delivered, failed, dropped, retried, pending,
 * last_status, last_error }. Works after close too. */
static int l_stats(lua_State *L)
{
    wdisp *d = check_disp(L);
    wstats s;
    lua_createtable(L, 0, 8);
    if (d == NULL)
        return 1;
    wq_stats(d, &s);
    set_int(L, "queued", (lua_Integer)s.queued);
    set_int(L, "delivered", (lua_Integer)s.delivered);
    set_int(L, "failed", (lua_Integer)s.failed);
    set_int(L, "dropped", (lua_Integer)s.dropped);
    set_int(L, "retried", (lua_Integer)s.retried);
    set_int(L, "pending", (lua_Integer)s.pending);
    set_int(L, "last_status", (lua_Integer)s.last_status);
    if (s.last_error[0] != '\0') {
        lua_pushstring(L, s.last_error);
        lua_setfield(L, -2, "last_error");
    }
    return 1;
}

/* d:flush([timeout_ms = 10000]) → true once nothing is queued or in flight,
 * false, "timeout" otherwise. Blocks the caller: for tests and shutdown. */
static int l_flush(lua_State *L)
{
    wdisp *d = check_disp(L);
    lua_Number ms = luaL_optnumber(L, 2, 10000);
    int drained;
    if (!(ms >= 0 && ms <= 86400000))
        return luaL_argerror(L, 2, "timeout_ms must be between 0 and 86400000");
    if (d == NULL || d->ring == NULL) {
        lua_pushboolean(L, 1);
        return 1;
    }
    drained = wq_flush(d, (long)ms);
    lua_pushboolean(L, drained);
    if (drained)
        return 1;
    lua_pushliteral(L, "timeout");
    return 2;
}

/* d:close() → true. Stops the thread at once (a transfer in progress is
 * aborted); undelivered requests count as dropped. Idempotent. */
static int l_close(lua_State *L)
{
    wdisp *d = check_disp(L);
    if (d != NULL)
        wq_stop(d);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_gc(lua_State *L)
{
    lwdisp *u = (lwdisp *)luaL_checkudata(L, 1, MT_DISPATCHER);
    wq_free(u->d);
    u->d = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    wdisp *d = check_disp(L);
    lua_pushfstring(L, "astrocyte.webhook.dispatcher (%s)",
                    d && d->ring ? "running" : "closed");
    return 1;
}

static const luaL_Reg disp_methods[] = {
    {"post", l_post},
    {"stats", l_stats},
    {"flush", l_flush},
    {"close", l_close},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"dispatcher", l_dispatcher},
    {NULL, NULL}
};

ASTRO_LUA_EXPORT int luaopen_astrocyte_webhook(lua_State *L);

ASTRO_LUA_EXPORT int luaopen_astrocyte_webhook(lua_State *L)
{
    return astro_curl_module(L, "webhook", MT_DISPATCHER, disp_methods, l_gc, l_tostring, funcs);
}
