/*
** astro_http.c — astrocyte.http_curl, the libcurl backend of astrocyte.http.
** It exposes one object, a client that owns one curl easy handle, so that
** successive requests through the same client reuse its connections, DNS
** cache and TLS sessions. A request is one blocking transfer:
**
**   local c = require("astrocyte.http_curl").new()
**   local res, err, kind = c:request{ method = "POST", url = "http://...",
**       headers = { ["content-type"] = "application/json" }, body = "{}",
**       timeout_ms = 5000, connect_timeout_ms = 2000, proxy = "http://p:3128",
**       noproxy = "localhost", cainfo = "/etc/ssl/ca.pem",
**       proxy_headers = { ["Proxy-Authorization"] = "Bearer ..." },
**       max_response_bytes = 1048576, follow_redirects = false }
**   -- res = { status = 200, headers = { ["content-type"] = "..." }, body = "..." }
**
** Failures return nil, a message and a kind: "timeout", "connect" (refused,
** unresolvable), "reset" (connection dropped, empty reply), "too_large"
** (response over max_response_bytes), "tls", or "other". Policy (retries,
** backoff, secrets, JSON) lives in lua/astrocyte/http.lua, never here.
**
** Caveats. Redirects are not followed unless asked. libcurl's own reading
** of http_proxy/https_proxy is disabled (an empty CURLOPT_PROXY): the Lua
** transport layer decides the proxy, so tests and configs are deterministic.
** curl_global_init runs in luaopen; it is reference counted and, from libcurl
** 7.84 on, thread-safe — with an older libcurl load this module before
** starting threads. Every C resource (header list, buffers, easy handle)
** hangs off the client userdata, so a Lua error can never leak it; there is
** no C static mutable state.
*/
#define _POSIX_C_SOURCE 200809L  /* nanosleep */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "standalone.h"
#include "curl_module.h"

#define MT_CLIENT "astrocyte.http_curl.client"
#define DEFAULT_MAX_RESPONSE (64u * 1024u * 1024u)

typedef struct hbuf {
    char *p;
    size_t len, cap;
} hbuf;

typedef struct hclient {
    CURL *h;
    struct curl_slist *hdrs;   /* request headers of the last request */
    struct curl_slist *phdrs;  /* headers for the proxy only (CONNECT) */
    hbuf body, head;           /* response body and raw header block */
    size_t max_body;
    int too_large;             /* the write callback refused the body */
    int oom;                   /* a buffer could not grow */
    char errbuf[CURL_ERROR_SIZE];
} hclient;

/* Appends n bytes to b; returns 0 when memory is exhausted. */
static int hbuf_add(hbuf *b, const char *src, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = (char *)realloc(b->p, cap);
        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 1;
}

static void hbuf_free(hbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Appends data[0..n) to b for a curl callback: returns n, or 0 (which
 * aborts the transfer) and flags too_large past cap bytes or oom. */
static size_t take(hclient *c, hbuf *b, const char *data, size_t n, size_t cap)
{
    if (b->len + n > cap) {
        c->too_large = 1;
        return 0;
    }
    if (!hbuf_add(b, data, n)) {
        c->oom = 1;
        return 0;
    }
    return n;
}

/* Body callback: refuses (returns 0, which aborts the transfer) once the
 * body would exceed the client's cap. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    hclient *c = (hclient *)ud;
    return take(c, &c->body, data, size * nmemb, c->max_body);
}

/* Header callback: keeps only the header block of the last response (a
 * proxy's CONNECT reply or a 100 Continue start a new block). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    hclient *c = (hclient *)ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        c->head.len = 0;
    return take(c, &c->head, data, n, 256u * 1024u);
}

static hclient *check_client(lua_State *L)
{
    hclient *c = (hclient *)luaL_checkudata(L, 1, MT_CLIENT);
    if (c->h == NULL)
        luaL_error(L, "http_curl: client is closed");
    return c;
}

/* Returns string field `name` of the table at idx, or NULL when nil. */
static const char *opt_str(lua_State *L, int idx, const char *name)
{
    const char *s = NULL;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pushfstring(L, "opts.%s must be a string", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        s = lua_tostring(L, -1);
    }
    lua_pop(L, 1);  /* the string stays alive: it is referenced by the opts table */
    return s;
}

/* Returns non-negative number field `name` of the table at idx, or dflt. */
static long opt_long(lua_State *L, int idx, const char *name, long dflt)
{
    long v = dflt;
    lua_getfield(L, idx, name);
    if (!lua_isnil(L, -1)) {
        lua_Number n;
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pushfstring(L, "opts.%s must be a number", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        n = lua_tonumber(L, -1);
        if (!(n >= 0 && n <= 2147483647.0)) {
            lua_pushfstring(L, "opts.%s must be between 0 and 2^31-1", name);
            luaL_argerror(L, idx, lua_tostring(L, -1));
        }
        v = (long)n;
    }
    lua_pop(L, 1);
    return v;
}

/* Appends opts[field] ({name = value} or {"Name: value", ...}) to *list.
 * Raises on a non-string entry; the list is owned by the client either way. */
static void build_headers(lua_State *L, int idx, const char *field, struct curl_slist **list)
{
    struct curl_slist *n;
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_argerror(L, idx, "opts.headers and opts.proxy_headers must be tables");
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        const char *line;
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, idx, "opts.headers values must be strings");
        if (lua_type(L, -2) == LUA_TSTRING) {
            lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
        } else {
            lua_pushvalue(L, -1);
        }
        line = lua_tostring(L, -1);
        if (strchr(line, '\r') != NULL || strchr(line, '\n') != NULL)
            luaL_argerror(L, idx, "opts.headers must not contain line breaks");
        n = curl_slist_append(*list, line);
        if (n == NULL)
            luaL_error(L, "http_curl: out of memory");
        *list = n;
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* Pushes the header table parsed from the raw header block: lowercased
 * names, repeated headers joined with ", ". The values of a repeated name
 * are collected first and joined once at the end: joining as they come
 * copied the growing value for every line, quadratic in the block (a block
 * of 256 KiB of "a:b" lines took tens of seconds and gigabytes). */
static void push_headers(lua_State *L, const hbuf *head)
{
    const char *p = head->p, *end;
    int t, more;
    lua_newtable(L);
    if (p == NULL)   /* no header arrived (NULL + 0 would be undefined) */
        return;
    t = lua_gettop(L);
    lua_newtable(L);   /* name -> { value, value, ... } for repeated names */
    more = t + 1;
    end = p + head->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon, *v, *ve;
        char name[128];
        size_t nlen, i;
        if (eol == NULL)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL && colon > p && (size_t)(colon - p) < sizeof(name)) {
            nlen = (size_t)(colon - p);
            for (i = 0; i < nlen; i++)
                name[i] = (char)tolower((unsigned char)p[i]);
            v = colon + 1;
            ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            lua_pushlstring(L, name, nlen);
            lua_pushvalue(L, -1);
            lua_rawget(L, more);                     /* name, parts | nil */
            if (!lua_isnil(L, -1)) {
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
                lua_pop(L, 2);
            } else {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_rawget(L, t);                    /* name, first | nil */
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    lua_pushlstring(L, v, (size_t)(ve - v));
                    lua_rawset(L, t);
                } else {                             /* second value: start a list */
                    lua_createtable(L, 4, 0);
                    lua_insert(L, -2);
                    lua_rawseti(L, -2, 1);
                    lua_pushlstring(L, v, (size_t)(ve - v));
                    lua_rawseti(L, -2, 2);
                    lua_rawset(L, more);
                }
            }
        }
        p = eol + 1;
    }
    lua_pushnil(L);
    while (lua_next(L, more) != 0) {                 /* name, parts */
        int parts = lua_gettop(L);
        size_t n = lua_rawlen(L, parts), i;
        luaL_Buffer b;
        lua_pushvalue(L, parts - 1);
        luaL_buffinit(L, &b);
        for (i = 1; i <= n; i++) {
            if (i > 1)
                luaL_addlstring(&b, ", ", 2);
            lua_rawgeti(L, parts, (int)i);
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);                         /* name, parts, name, joined */
        lua_rawset(L, t);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Maps a curl result to the error kind reported to Lua. */
static const char *kind_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "connect";
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return "reset";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return "tls";
    default:
        return "other";
    }
}

#define SETOPT(opt, val)                                                    \
    do {                                                                    \
        if (curl_easy_setopt(c->h, (opt), (val)) != CURLE_OK)               \
            return luaL_error(L, "http_curl: cannot set " #opt);            \
    } while (0)

/* client:request(opts) -> {status, headers, body} | nil, err, kind */
static int m_request(lua_State *L)
{
    hclient *c = check_client(L);
    const char *url, *method, *body, *proxy, *noproxy, *cainfo;
    size_t body_len = 0;
    long timeout_ms, connect_ms, status = 0;
    CURLcode rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    url = opt_str(L, 2, "url");
    if (url == NULL)
        return luaL_argerror(L, 2, "opts.url is required");
    method = opt_str(L, 2, "method");
    if (method == NULL)
        method = "GET";
    lua_getfield(L, 2, "body");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        return luaL_argerror(L, 2, "opts.body must be a string");
    body = lua_tolstring(L, -1, &body_len);
    lua_pop(L, 1);
    proxy = opt_str(L, 2, "proxy");
    noproxy = opt_str(L, 2, "noproxy");
    cainfo = opt_str(L, 2, "cainfo");
    timeout_ms = opt_long(L, 2, "timeout_ms", 30000);
    connect_ms = opt_long(L, 2, "connect_timeout_ms", 10000);
    c->max_body = (size_t)opt_long(L, 2, "max_response_bytes", (long)DEFAULT_MAX_RESPONSE);

    curl_slist_free_all(c->hdrs);
    curl_slist_free_all(c->phdrs);
    c->hdrs = c->phdrs = NULL;
    c->hdrs = curl_slist_append(NULL, "Expect:");  /* no 100-continue round trip */
    if (c->hdrs == NULL)
        return luaL_error(L, "http_curl: out of memory");
    build_headers(L, 2, "headers", &c->hdrs);
    build_headers(L, 2, "proxy_headers", &c->phdrs);
    c->body.len = 0;
    c->head.len = 0;
    c->too_large = c->oom = 0;
    c->errbuf[0] = '\0';

    curl_easy_reset(c->h);  /* keeps the connection and DNS caches */
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, (void *)c);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, (void *)c);
    SETOPT(CURLOPT_HTTPHEADER, c->hdrs);
    SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(CURLOPT_PROXY, proxy ? proxy : "");
    if (c->phdrs) {
        SETOPT(CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
        SETOPT(CURLOPT_PROXYHEADER, c->phdrs);
    }
    if (noproxy)
        SETOPT(CURLOPT_NOPROXY, noproxy);
    if (cainfo)
        SETOPT(CURLOPT_CAINFO, cainfo);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    lua_getfield(L, 2, "follow_redirects");
    if (lua_toboolean(L, -1)) {
        SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
        SETOPT(CURLOPT_MAXREDIRS, 5L);
    }
    lua_pop(L, 1);
    if (strcmp(method, "GET") == 0 && body == NULL) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        SETOPT(CURLOPT_POSTFIELDS, body ? body : "");
    }

    rc = curl_easy_perform(c->h);
    if (rc != CURLE_OK) {
        lua_pushnil(L);
        if (c->too_large) {
            lua_pushfstring(L, "response exceeds %d bytes", (int)c->max_body);
            lua_pushliteral(L, "too_large");
        } else if (c->oom) {
            lua_pushliteral(L, "out of memory reading the response");
            lua_pushliteral(L, "other");
        } else {
            const char *kind = kind_of(rc);
            const char *msg = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
            if (strcmp(kind, "timeout") == 0)
                lua_pushfstring(L, "timeout (%s)", msg);
            else if (rc == CURLE_COULDNT_CONNECT)
                lua_pushfstring(L, "connection refused (%s)", msg);
            else
                lua_pushstring(L, msg);
            lua_pushstring(L, kind);
        }
        return 3;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    push_headers(L, &c->head);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, c->body.p ? c->body.p : "", c->body.len);
    lua_setfield(L, -2, "body");
    return 1;
}

/* client:close(): frees the handle and buffers. Idempotent; also __gc. */
static int m_close(lua_State *L)
{
    hclient *c = (hclient *)luaL_checkudata(L, 1, MT_CLIENT);
    if (c->h != NULL) {
        curl_easy_cleanup(c->h);
        c->h = NULL;
    }
    curl_slist_free_all(c->hdrs);
    curl_slist_free_all(c->phdrs);
    c->hdrs = c->phdrs = NULL;
    hbuf_free(&c->body);
    hbuf_free(&c->head);
    return 0;
}

static int m_tostring(lua_State *L)
{
    hclient *c = (hclient *)luaL_checkudata(L, 1, MT_CLIENT);
    lua_pushfstring(L, "astrocyte.http_curl.client (%s)", c->h ? "open" : "closed");
    return 1;
}

/* http_curl.new() -> client | nil, err */
static int l_new(lua_State *L)
{
    hclient *c = (hclient *)astro_newud(L, sizeof(hclient));
    memset(c, 0, sizeof(*c));
    luaL_getmetatable(L, MT_CLIENT);
    lua_setmetatable(L, -2);
    c->h = curl_easy_init();
    if (c->h == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "http_curl: curl_easy_init failed");
        return 2;
    }
    return 1;
}

/* http_curl.sleep_ms(ms): blocks the calling thread (retry backoff in plain
 * Lua hosts; the OpenResty backend uses ngx.sleep instead). */
static int l_sleep_ms(lua_State *L)
{
    astro_mod_sleep_ms(luaL_checknumber(L, 1), 3600000);
    return 0;
}

static const luaL_Reg client_methods[] = {
    {"request", m_request},
    {"close", m_close},
    {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
    {"new", l_new},
    {"sleep_ms", l_sleep_ms},
    {NULL, NULL}
};

ASTRO_LUA_EXPORT int luaopen_astrocyte_http_curl(lua_State *L);

ASTRO_LUA_EXPORT int luaopen_astrocyte_http_curl(lua_State *L)
{
    return astro_curl_module(L, "http_curl", MT_CLIENT, client_methods, m_close, m_tostring, module_funcs);
}
