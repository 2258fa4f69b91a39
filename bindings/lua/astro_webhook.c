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
** mutable state.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "compat.h"

#define MT_DISPATCHER "astrocyte.webhook.dispatcher"
#define MAX_QUEUE 1000000

/* One request waiting in the ring. Header lines are "Name: value" strings. */
typedef struct wjob {
    char *url;
    char *body;
    size_t body_len;
    char **hdrs;
    int nhdrs;
    long retries, retry_delay_ms, timeout_ms;
    int put;                    /* PUT instead of POST */
} wjob;

typedef struct wdisp {
    pthread_mutex_t mu;
    pthread_cond_t work;        /* signalled: job added, or closing */
    pthread_cond_t idle;        /* signalled: a job finished */
    pthread_t thread;
    int thread_started;
    wjob *ring;
    size_t cap, head, count;
    int inflight;
    int closing;                /* guarded by mu; read by the progress callback */
    /* defaults and transport options (read-only once the thread runs) */
    long retries, retry_delay_ms, timeout_ms, connect_timeout_ms, max_delay_ms;
    char *proxy, *noproxy, *cainfo, *user_agent;
    /* counters (guarded by mu) */
    uint64_t queued, delivered, failed, dropped, retried;
    long last_status;
    char last_error[CURL_ERROR_SIZE];
} wdisp;

typedef struct lwdisp {
    wdisp *d;
} lwdisp;

static void job_free(wjob *j)
{
    int i;
    free(j->url);
    free(j->body);
    for (i = 0; i < j->nhdrs; i++)
        free(j->hdrs[i]);
    free(j->hdrs);
    memset(j, 0, sizeof *j);
}

static char *dupn(const char *s, size_t n)
{
    char *p = (char *)malloc(n + 1);
    if (p != NULL) {
        if (n > 0)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Returns the absolute CLOCK_MONOTONIC time ms milliseconds from now. */
static struct timespec deadline_in(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static int is_closing(wdisp *d)
{
    int c;
    pthread_mutex_lock(&d->mu);
    c = d->closing;
    pthread_mutex_unlock(&d->mu);
    return c;
}

/* Progress callback: a non-zero return aborts the transfer (on close). */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt; (void)dn; (void)ut; (void)un;
    return is_closing((wdisp *)ud);
}

static size_t on_discard(char *data, size_t size, size_t nmemb, void *ud)
{
    (void)data; (void)ud;
    return size * nmemb;
}

/* Performs one attempt. Returns the HTTP status (>0), or 0 after a transport
 * error (message copied to err), or -1 when aborted by close. */
static long attempt(wdisp *d, CURL *h, const wjob *j, char *err)
{
    struct curl_slist *list = NULL, *tmp;
    char errbuf[CURL_ERROR_SIZE];
    long status = 0;
    CURLcode rc;
    int i;
    for (i = 0; i < j->nhdrs; i++) {
        tmp = curl_slist_append(list, j->hdrs[i]);
        if (tmp == NULL) {
            curl_slist_free_all(list);
            strcpy(err, "out of memory");
            return 0;
        }
        list = tmp;
    }
    /* No "Expect: 100-continue" round trip for large bodies. */
    tmp = curl_slist_append(list, "Expect:");
    if (tmp != NULL)
        list = tmp;
    errbuf[0] = '\0';
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, j->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
    if (j->put)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, j->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, d->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROXY, d->proxy ? d->proxy : "");
    if (d->noproxy)
        curl_easy_setopt(h, CURLOPT_NOPROXY, d->noproxy);
    if (d->cainfo)
        curl_easy_setopt(h, CURLOPT_CAINFO, d->cainfo);
    if (d->user_agent)
        curl_easy_setopt(h, CURLOPT_USERAGENT, d->user_agent);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)d);
    rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return -1;
    if (rc != CURLE_OK) {
        const char *m = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        size_t n = strlen(m);
        if (n > CURL_ERROR_SIZE - 1)
            n = CURL_ERROR_SIZE - 1;
        memcpy(err, m, n);
        err[n] = '\0';
        return 0;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Waits ms milliseconds unless the dispatcher closes; returns 1 if closing. */
static int backoff_wait(wdisp *d, long ms)
{
    struct timespec until = deadline_in(ms);
    int closing;
    pthread_mutex_lock(&d->mu);
    while (!d->closing) {
        if (pthread_cond_timedwait(&d->work, &d->mu, &until) == ETIMEDOUT)
            break;
    }
    closing = d->closing;
    pthread_mutex_unlock(&d->mu);
    return closing;
}

/* Delivers one job with its retries; updates the counters. */
static void deliver(wdisp *d, CURL *h, const wjob *j)
{
    char err[CURL_ERROR_SIZE];
    long n, status = 0, delay;
    int outcome = 0;            /* 1 delivered, 2 failed, 3 aborted */
    for (n = 0;; n++) {
        err[0] = '\0';
        status = h ? attempt(d, h, j, err) : 0;
        if (h == NULL)
            strcpy(err, "curl_easy_init failed");
        if (status < 0) {
            outcome = 3;
            break;
        }
        if (status >= 200 && status < 300) {
            outcome = 1;
            break;
        }
        if (!(status == 0 || status == 429 || status >= 500) || n >= j->retries) {
            outcome = 2;
            break;
        }
        delay = j->retry_delay_ms;
        {
            long k;
            for (k = 0; k < n && delay < d->max_delay_ms; k++)
                delay *= 2;
        }
        if (delay > d->max_delay_ms)
            delay = d->max_delay_ms;
        pthread_mutex_lock(&d->mu);
        d->retried += 1;
        pthread_mutex_unlock(&d->mu);
        if (delay > 0 && backoff_wait(d, delay)) {
            outcome = 3;
            break;
        }
    }
    pthread_mutex_lock(&d->mu);
    if (outcome == 1) {
        d->delivered += 1;
    } else if (outcome == 2) {
        d->failed += 1;
    } else {
        d->dropped += 1;
    }
    if (status > 0)
        d->last_status = status;
    if (err[0] != '\0')
        memcpy(d->last_error, err, sizeof d->last_error);
    pthread_mutex_unlock(&d->mu);
}

/* The worker: pops jobs in order until closing. */
static void *worker(void *ud)
{
    wdisp *d = (wdisp *)ud;
    CURL *h = curl_easy_init();
    for (;;) {
        wjob j;
        pthread_mutex_lock(&d->mu);
        while (d->count == 0 && !d->closing)
            pthread_cond_wait(&d->work, &d->mu);
        if (d->closing) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        j = d->ring[d->head];
        memset(&d->ring[d->head], 0, sizeof(wjob));
        d->head = (d->head + 1) % d->cap;
        d->count--;
        d->inflight = 1;
        pthread_mutex_unlock(&d->mu);

        deliver(d, h, &j);
        job_free(&j);

        pthread_mutex_lock(&d->mu);
        d->inflight = 0;
        pthread_cond_broadcast(&d->idle);
        pthread_mutex_unlock(&d->mu);
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

/* Stops the worker and frees everything the dispatcher owns except d
 * itself; jobs still queued are counted as dropped. Idempotent. */
static void disp_stop(wdisp *d)
{
    size_t i;
    pthread_mutex_lock(&d->mu);
    d->closing = 1;
    pthread_cond_broadcast(&d->work);
    pthread_cond_broadcast(&d->idle);
    pthread_mutex_unlock(&d->mu);
    if (d->thread_started) {
        pthread_join(d->thread, NULL);
        d->thread_started = 0;
    }
    if (d->ring) {
        for (i = 0; i < d->count; i++)
            job_free(&d->ring[(d->head + i) % d->cap]);
        d->dropped += (uint64_t)d->count;
        d->count = 0;
        free(d->ring);
        d->ring = NULL;
    }
}

static void disp_free(wdisp *d)
{
    if (d == NULL)
        return;
    disp_stop(d);
    free(d->proxy);
    free(d->noproxy);
    free(d->cainfo);
    free(d->user_agent);
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->idle);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

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
    p = dupn(s, n);
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
    pthread_condattr_t ca;
    int oom = 0;
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
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->work, &ca);
    pthread_cond_init(&d->idle, &ca);
    pthread_condattr_destroy(&ca);
    u->d = d;      /* from here on __gc frees d, even if an option raises */
    if (lua_istable(L, 1)) {
        d->proxy = opt_str(L, 1, "proxy", &oom);
        d->noproxy = opt_str(L, 1, "noproxy", &oom);
        d->cainfo = opt_str(L, 1, "cainfo", &oom);
        d->user_agent = opt_str(L, 1, "user_agent", &oom);
    }
    d->cap = (size_t)qsize;
    d->ring = (wjob *)calloc(d->cap, sizeof(wjob));
    if (oom || d->ring == NULL)
        goto nomem;
    if (pthread_create(&d->thread, NULL, worker, d) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, "webhook: cannot start the delivery thread");
        return 2;
    }
    d->thread_started = 1;
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
    int oom = 0;
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
        j.url = dupn(url, ul);
        j.body = dupn(body, bl);
        j.body_len = bl;
        if (j.url == NULL || j.body == NULL)
            oom = 1;
    }
    if (bad != NULL || oom) {
        job_free(&j);
        lua_pushboolean(L, 0);
        lua_pushstring(L, bad ? bad : "not enough memory");
        return 2;
    }
    pthread_mutex_lock(&d->mu);
    if (d->closing) {
        pthread_mutex_unlock(&d->mu);
        job_free(&j);
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "closed");
        return 2;
    }
    if (d->count == d->cap) {
        d->dropped += 1;
        pthread_mutex_unlock(&d->mu);
        job_free(&j);
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "queue full");
        return 2;
    }
    d->ring[(d->head + d->count) % d->cap] = j;
    d->count++;
    d->queued += 1;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
    lua_pushboolean(L, 1);
    return 1;
}

/* d:stats() → { queued, delivered, failed, dropped, retried, pending,
 * last_status, last_error }. Works after close too. */
static int l_stats(lua_State *L)
{
    wdisp *d = check_disp(L);
    lua_createtable(L, 0, 8);
    if (d == NULL)
        return 1;
    pthread_mutex_lock(&d->mu);
    lua_pushinteger(L, (lua_Integer)d->queued);
    lua_setfield(L, -2, "queued");
    lua_pushinteger(L, (lua_Integer)d->delivered);
    lua_setfield(L, -2, "delivered");
    lua_pushinteger(L, (lua_Integer)d->failed);
    lua_setfield(L, -2, "failed");
    lua_pushinteger(L, (lua_Integer)d->dropped);
    lua_setfield(L, -2, "dropped");
    lua_pushinteger(L, (lua_Integer)d->retried);
    lua_setfield(L, -2, "retried");
    lua_pushinteger(L, (lua_Integer)(d->count + (size_t)d->inflight));
    lua_setfield(L, -2, "pending");
    lua_pushinteger(L, (lua_Integer)d->last_status);
    lua_setfield(L, -2, "last_status");
    if (d->last_error[0] != '\0') {
        lua_pushstring(L, d->last_error);
        lua_setfield(L, -2, "last_error");
    }
    pthread_mutex_unlock(&d->mu);
    return 1;
}

/* d:flush([timeout_ms = 10000]) → true once nothing is queued or in flight,
 * false, "timeout" otherwise. Blocks the caller: for tests and shutdown. */
static int l_flush(lua_State *L)
{
    wdisp *d = check_disp(L);
    lua_Number ms = luaL_optnumber(L, 2, 10000);
    struct timespec until;
    int drained;
    if (!(ms >= 0 && ms <= 86400000))
        return luaL_argerror(L, 2, "timeout_ms must be between 0 and 86400000");
    if (d == NULL || d->ring == NULL) {
        lua_pushboolean(L, 1);
        return 1;
    }
    until = deadline_in((long)ms);
    pthread_mutex_lock(&d->mu);
    while ((d->count > 0 || d->inflight) && !d->closing) {
        if (pthread_cond_timedwait(&d->idle, &d->mu, &until) == ETIMEDOUT)
            break;
    }
    drained = d->count == 0 && !d->inflight;
    pthread_mutex_unlock(&d->mu);
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
        disp_stop(d);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_gc(lua_State *L)
{
    lwdisp *u = (lwdisp *)luaL_checkudata(L, 1, MT_DISPATCHER);
    disp_free(u->d);
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
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "webhook: curl_global_init failed");
    if (luaL_newmetatable(L, MT_DISPATCHER)) {
        lua_newtable(L);
        luaL_setfuncs(L, disp_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
