/*
** host_engine.c — the engine handle of the C host API: open (one Lua state
** per worker, at least one), the synchronous verbs on state 0, reload, close
** and free, error codes and kinds, and the table of host functions that
** every state's astrocyte.host module looks up.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"

/* Lua error kind <-> code. */
static const struct {
    const char *kind;
    int code;
} kinds[] = {
    {"ValidationError", ASTRO_E_VALIDATION},
    {"ConfigError", ASTRO_E_CONFIG},
    {"StorageError", ASTRO_E_STORAGE},
    {"ProviderUnavailable", ASTRO_E_PROVIDER_UNAVAILABLE},
    {"AccessDenied", ASTRO_E_ACCESS_DENIED},
    {"RateLimited", ASTRO_E_RATE_LIMITED},
    {"PiiRejected", ASTRO_E_PII_REJECTED},
    {"CapabilityNotSupported", ASTRO_E_CAPABILITY},
    {"LegalHoldActive", ASTRO_E_LEGAL_HOLD},
    {"PolicyViolation", ASTRO_E_POLICY},
    {"ProviderError", ASTRO_E_PROVIDER},
    {"AuthenticationError", ASTRO_E_AUTH},
    {"InternalError", ASTRO_E_INTERNAL},
    {"OtherError", ASTRO_E_OTHER},
    {"OutOfMemory", ASTRO_E_NOMEM},
    {"EngineClosed", ASTRO_E_CLOSED},
    {"JSONError", ASTRO_E_JSON},
    {"ArgumentError", ASTRO_E_ARG},
    {"QueueFull", ASTRO_E_BUSY},
};

const char *astro_code_name(int code)
{
    size_t i;
    if (code == ASTRO_OK)
        return "OK";
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].code == code)
            return kinds[i].kind;
    return "UnknownError";
}

int host_err(astro_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return code;
    err->code = code;
    snprintf(err->kind, sizeof err->kind, "%s", astro_code_name(code));
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

int host_err_kind(astro_error *err, const char *kind, const char *msg)
{
    size_t i;
    int code = ASTRO_E_OTHER;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            code = kinds[i].code;
    if (err) {
        err->code = code;
        snprintf(err->kind, sizeof err->kind, "%s", kind);
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return code;
}

void astro_open_opts_init(astro_open_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->workers = 1;
    o->queue_capacity = 4096;
}

astro_engine *astro_engine_open(const char *config, astro_error *err)
{
    return astro_engine_open_ex(config, NULL, err);
}

/* Frees the engine's memory (states already closed, workers joined). */
static void engine_release(astro_engine *e)
{
    size_t i;
    int k;
    for (k = 0; k < e->nstates; k++)
        pthread_mutex_destroy(&e->states[k].mu);
    for (i = 0; i < e->nfns; i++)
        free(e->fns[i].name);
    free(e->fns);
    free(e->states);
    free(e->threads);
    pthread_mutex_destroy(&e->fn_mu);
    host_jobs_destroy(e);
    free(e);
}

astro_engine *astro_engine_open_ex(const char *config, const astro_open_opts *opts,
                                   astro_error *err)
{
    astro_open_opts o;
    astro_engine *e;
    int k, rc;
    astro_open_opts_init(&o);
    if (opts)
        o = *opts;
    if (o.workers < 0 || o.workers > 64)
        return host_err(err, ASTRO_E_ARG, "workers must be 0..64, got %d", o.workers), NULL;
    if (o.worker_nice < 0 || o.worker_nice > 19)
        return host_err(err, ASTRO_E_ARG, "worker_nice must be 0..19, got %d", o.worker_nice), NULL;
    if (o.queue_capacity == 0)
        o.queue_capacity = 4096;
    e = calloc(1, sizeof *e);
    if (!e)
        return host_err(err, ASTRO_E_NOMEM, "out of memory"), NULL;
    e->nworkers = o.workers;
    e->worker_nice = o.worker_nice;
    e->nstates = o.workers > 0 ? o.workers : 1;
    e->capacity = o.queue_capacity;
    e->states = calloc((size_t)e->nstates, sizeof *e->states);
    e->threads = calloc((size_t)e->nstates, sizeof *e->threads);
    pthread_mutex_init(&e->fn_mu, NULL);
    if (host_jobs_init(e) != ASTRO_OK) {
        free(e->states);
        free(e->threads);
        pthread_mutex_destroy(&e->fn_mu);
        free(e);
        return host_err(err, ASTRO_E_NOMEM, "out of memory"), NULL;
    }
    if (!e->states || !e->threads) {
        e->nstates = 0;
        engine_release(e);
        return host_err(err, ASTRO_E_NOMEM, "out of memory"), NULL;
    }
    for (k = 0; k < e->nstates; k++)
        pthread_mutex_init(&e->states[k].mu, NULL);
    /* With workers, each opens its own state on its own thread (so that
     * state's memory lives in that thread's malloc arena); without, state 0
     * is opened here. */
    if (e->nworkers > 0)
        rc = host_jobs_start(e, config, &o, err);
    else
        rc = host_state_open(e, &e->states[0], config, &o, err);
    if (rc == ASTRO_OK)
        return e;
    for (k = 0; k < e->nstates; k++)
        host_state_close(&e->states[k]);
    engine_release(e);
    return NULL;
}

/* Locks state 0 for a synchronous call; returns ASTRO_OK with the lock held,
 * or ASTRO_E_CLOSED / ASTRO_E_ARG without it. */
static int lock_sync(astro_engine *e, host_state **s, astro_error *err)
{
    if (!e)
        return host_err(err, ASTRO_E_ARG, "engine is NULL");
    if (atomic_load(&e->closed))
        return host_err(err, ASTRO_E_CLOSED, "engine is closed");
    *s = &e->states[0];
    pthread_mutex_lock(&(*s)->mu);
    if (!(*s)->L) {                 /* closed while this call waited */
        pthread_mutex_unlock(&(*s)->mu);
        return host_err(err, ASTRO_E_CLOSED, "engine is closed");
    }
    return ASTRO_OK;
}

/* The synchronous form of every verb. */
static int sync_call(astro_engine *e, astro_verb verb, const char *request, char **json,
                     astro_hits **hits, astro_error *err)
{
    host_state *s = NULL;
    int rc;
    if (json)
        *json = NULL;
    if (hits)
        *hits = NULL;
    if (verb < ASTRO_RETAIN || verb > ASTRO_RETAIN_MANY)
        return host_err(err, ASTRO_E_ARG, "unknown verb %d", (int)verb);
    rc = lock_sync(e, &s, err);
    if (rc != ASTRO_OK)
        return rc;
    rc = host_state_call(s, verb, request, json, hits, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int astro_call(astro_engine *e, astro_verb verb, const char *request_json, char **response_json,
               astro_error *err)
{
    return sync_call(e, verb, request_json, response_json, NULL, err);
}

int astro_retain(astro_engine *e, const char *request_json, char **response_json, astro_error *err)
{
    return sync_call(e, ASTRO_RETAIN, request_json, response_json, NULL, err);
}

int astro_recall(astro_engine *e, const char *request_json, char **response_json, astro_error *err)
{
    return sync_call(e, ASTRO_RECALL, request_json, response_json, NULL, err);
}

int astro_reflect(astro_engine *e, const char *request_json, char **response_json, astro_error *err)
{
    return sync_call(e, ASTRO_REFLECT, request_json, response_json, NULL, err);
}

int astro_forget(astro_engine *e, const char *request_json, char **response_json, astro_error *err)
{
    return sync_call(e, ASTRO_FORGET, request_json, response_json, NULL, err);
}

int astro_banks(astro_engine *e, char **response_json, astro_error *err)
{
    return sync_call(e, ASTRO_BANKS, NULL, response_json, NULL, err);
}

int astro_retain_many(astro_engine *e, const char *request_json, char **response_json, astro_error *err)
{
    return sync_call(e, ASTRO_RETAIN_MANY, request_json, response_json, NULL, err);
}

int astro_recall_hits(astro_engine *e, const char *request_json, astro_hits **hits,
                      char **response_json, astro_error *err)
{
    if (!hits)
        return host_err(err, ASTRO_E_ARG, "hits is NULL");
    return sync_call(e, ASTRO_RECALL, request_json, response_json, hits, err);
}

void astro_free(void *p)
{
    free(p);
}

int astro_engine_reload(astro_engine *e, astro_error *err)
{
    int k, rc, first = ASTRO_OK;
    astro_error one;
    if (!e)
        return host_err(err, ASTRO_E_ARG, "engine is NULL");
    for (k = 0; k < e->nstates; k++) {
        host_state *s = &e->states[k];
        pthread_mutex_lock(&s->mu);
        rc = s->L ? host_state_reload(s, &one) : host_err(&one, ASTRO_E_CLOSED, "engine is closed");
        pthread_mutex_unlock(&s->mu);
        if (rc != ASTRO_OK && first == ASTRO_OK) {
            first = rc;
            if (err)
                *err = one;
        }
    }
    return first;
}

int astro_engine_close(astro_engine *e, astro_error *err)
{
    int k;
    if (!e)
        return host_err(err, ASTRO_E_ARG, "engine is NULL");
    if (atomic_exchange(&e->closed, 1))
        return ASTRO_OK;
    host_jobs_stop(e);
    for (k = 0; k < e->nstates; k++) {
        pthread_mutex_lock(&e->states[k].mu);
        host_state_close(&e->states[k]);
        pthread_mutex_unlock(&e->states[k].mu);
    }
    return ASTRO_OK;
}

void astro_engine_free(astro_engine *e)
{
    if (!e)
        return;
    astro_engine_close(e, NULL);
    host_jobs_free(e);
    engine_release(e);
}

int astro_register_function(astro_engine *e, const char *name, astro_host_fn fn, void *ud,
                            astro_error *err)
{
    size_t i;
    int rc = ASTRO_OK;
    if (!e || !name || !name[0])
        return host_err(err, ASTRO_E_ARG, "engine and name are required");
    pthread_mutex_lock(&e->fn_mu);
    for (i = 0; i < e->nfns && strcmp(e->fns[i].name, name) != 0; i++)
        ;
    if (i < e->nfns && !fn) {                   /* remove */
        free(e->fns[i].name);
        e->fns[i] = e->fns[--e->nfns];
    } else if (i < e->nfns) {                   /* replace */
        e->fns[i].fn = fn;
        e->fns[i].ud = ud;
    } else if (fn) {                            /* add */
        char *copy = malloc(strlen(name) + 1);
        if (copy && e->nfns == e->fn_cap) {
            size_t cap = e->fn_cap ? e->fn_cap * 2 : 8;
            host_fn *grown = realloc(e->fns, cap * sizeof *grown);
            if (grown) {
                e->fns = grown;
                e->fn_cap = cap;
            }
        }
        if (!copy || e->nfns == e->fn_cap) {
            free(copy);
            rc = host_err(err, ASTRO_E_NOMEM, "out of memory registering '%s'", name);
        } else {
            strcpy(copy, name);
            e->fns[e->nfns].name = copy;
            e->fns[e->nfns].fn = fn;
            e->fns[e->nfns].ud = ud;
            e->nfns++;
        }
    }
    pthread_mutex_unlock(&e->fn_mu);
    return rc;
}

int host_fn_find(astro_engine *e, const char *name, astro_host_fn *fn, void **ud)
{
    size_t i;
    int found = 0;
    pthread_mutex_lock(&e->fn_mu);
    for (i = 0; i < e->nfns; i++) {
        if (strcmp(e->fns[i].name, name) == 0) {
            *fn = e->fns[i].fn;
            *ud = e->fns[i].ud;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&e->fn_mu);
    return found;
}
