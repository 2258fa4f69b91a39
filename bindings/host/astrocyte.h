/*
** astrocyte.h — the C host API of Astrocyte, for game servers and other C or
** C++ programs that embed the memory engine (libastrocyte_host).
**
** An astro_engine owns one or more Lua states running the Lua framework, so
** profiles, YAML configs and Lua providers work as they do from Lua, and
** editing a profile then calling astro_engine_reload() takes effect without
** recompiling the host. Requests and responses are JSON text with the field
** names of the Lua API (README "The Lua API"); recall also has a typed result
** (astro_hits) freed with one call.
**
** Two ways to call:
**   - synchronous: astro_retain(), astro_recall(), ... run on the calling
**     thread and return when done (they may wait on disk or network);
**   - queued: astro_submit() returns a ticket at once; worker threads run the
**     job; astro_poll() hands finished results to a callback on the thread
**     that polls, never on a worker. This is the frame-loop path.
**
** THREADING RULES
**   - Every function taking an engine is safe to call from any thread while
**     the engine is open, except astro_engine_free(), which must not race
**     any other call on that engine (join your threads first).
**   - Synchronous calls on one engine are serialized: they share the Lua
**     state of worker 0 (one mutex), so a synchronous call waits while
**     worker 0 runs a job, and vice versa. Every worker opens its own state
**     from the same config, on its own thread.
**   - astro_submit(), astro_poll() and astro_pending() never wait on a lock
**     or on a worker: the queues are lock-free, and a finished job's memory
**     goes back to a worker to be freed. They are the calls for a frame
**     loop; astro_wait() and the synchronous calls do block.
**   - astro_poll() callbacks run on the polling thread, one at a time; while
**     one thread polls an engine, astro_poll() from another returns 0 at
**     once. A callback may call astro_submit() (not astro_poll()).
**   - Registered host functions (astro_register_function) run on whichever
**     thread runs the Lua code calling them: a worker, or the caller of a
**     synchronous call; with workers > 1, concurrently. They must not call
**     the synchronous API of the same engine (the state is held: deadlock);
**     astro_submit() is allowed.
**   - Workers each hold their own Lua state: a store that keeps memories in
**     the Lua state (vector_store: in_memory) is not shared between workers;
**     use sqlite (the default) or postgres with workers > 1.
**
** OWNERSHIP
**   - astro_error is a caller-owned struct; filling it never allocates.
**   - A response string (char **response_json) and astro_hits are allocated
**     by the library and owned by the caller: free with astro_free() and
**     astro_hits_free(). Pass NULL for an output you do not want.
**   - Request strings are copied before astro_submit() returns.
**   - In an astro_poll() callback the astro_result and what it points to are
**     owned by the library and freed when the callback returns; the callback
**     may keep result->json or result->hits by copying the pointer and setting
**     the field to NULL, and then owns it.
**   - A host function's *json_result must be allocated with malloc() (or be
**     NULL); the library frees it.
**
** Return codes: ASTRO_OK (0) or a negative astro_code, also stored in
** err->code with the Lua error kind in err->kind and a message in
** err->message.
*/
#ifndef ASTROCYTE_H
#define ASTROCYTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ASTRO_HOST_API __attribute__((visibility("default")))
#else
#define ASTRO_HOST_API
#endif

#define ASTRO_HOST_VERSION "0.1.0"

#ifndef ASTRO_OK
#define ASTRO_OK 0              /* same value as astro/common.h */
#endif

/* Error codes: the Lua API's error kinds, then the host's own. They do not
 * overlap libastrocyte's ASTRO_E* codes (-1 .. -99). */
typedef enum astro_code {
    ASTRO_E_VALIDATION = -100,          /* ValidationError: bad request field */
    ASTRO_E_CONFIG = -101,              /* ConfigError */
    ASTRO_E_STORAGE = -102,             /* StorageError */
    ASTRO_E_PROVIDER_UNAVAILABLE = -103,/* ProviderUnavailable */
    ASTRO_E_ACCESS_DENIED = -104,       /* AccessDenied */
    ASTRO_E_RATE_LIMITED = -105,        /* RateLimited */
    ASTRO_E_PII_REJECTED = -106,        /* PiiRejected */
    ASTRO_E_CAPABILITY = -107,          /* CapabilityNotSupported */
    ASTRO_E_LEGAL_HOLD = -108,          /* LegalHoldActive */
    ASTRO_E_POLICY = -109,              /* PolicyViolation */
    ASTRO_E_PROVIDER = -110,            /* ProviderError */
    ASTRO_E_AUTH = -111,                /* AuthenticationError */
    ASTRO_E_INTERNAL = -112,            /* InternalError, or a Lua runtime error */
    ASTRO_E_OTHER = -113,               /* another kind: err->kind names it */
    ASTRO_E_NOMEM = -120,               /* allocation failed */
    ASTRO_E_CLOSED = -121,              /* the engine is closed */
    ASTRO_E_JSON = -122,                /* the request is not a JSON object */
    ASTRO_E_ARG = -123,                 /* bad argument (NULL, unknown verb ...) */
    ASTRO_E_BUSY = -124                 /* the job queue is full: poll, then retry */
} astro_code;

/* An error: code, the Lua kind name ("ValidationError", or "HostError" for
 * the host's own codes) and a message (truncated to fit). */
typedef struct astro_error {
    int code;
    char kind[32];
    char message[480];
} astro_error;

/* Returns the kind name of a code ("ValidationError" ...); never NULL. */
ASTRO_HOST_API const char *astro_code_name(int code);

typedef struct astro_engine astro_engine;   /* opaque */

/* Options of astro_engine_open_ex(); start from astro_open_opts_init(). */
typedef struct astro_open_opts {
    const char *db;          /* overrides vector_store_config.path (NULL: the config's) */
    const char *lua_dir;     /* directory holding astrocyte/init.lua; NULL:
                                $ASTRO_LUA_PATH, then the installed tree next to
                                the library, then the checkout it was built from */
    const char *lua_path;    /* extra package.path entries searched first, for the
                                host's own Lua modules and providers
                                ("/game/lua/?.lua;/game/lua/?/init.lua"); may be NULL */
    int workers;             /* worker threads (and Lua states) for astro_submit();
                                0: synchronous calls only. Default 1. */
    size_t queue_capacity;   /* jobs submitted and not yet polled, at most (default 4096) */
    int worker_nice;         /* Linux: nice value of the worker threads (0..19), so
                                a busy worker yields the CPU to the frame loop.
                                Default 0 (unchanged); game loops want ~10. */
} astro_open_opts;

/* Fills o with the defaults. */
ASTRO_HOST_API void astro_open_opts_init(astro_open_opts *o);

/* Opens an engine with the default options. config is NULL or "" (all
 * defaults: the embedded SQLite store in $XDG_DATA_HOME/astrocyte), a path to
 * a YAML or JSON config file, or the config itself as YAML or JSON text (any
 * string containing a newline or starting with '{'). Returns the engine, or
 * NULL with err set. */
ASTRO_HOST_API astro_engine *astro_engine_open(const char *config, astro_error *err);

/* astro_engine_open() with options (opts may be NULL). */
ASTRO_HOST_API astro_engine *astro_engine_open_ex(const char *config, const astro_open_opts *opts,
                                                  astro_error *err);

/* Re-reads the config (file and profiles) into every state of the engine.
 * On error the states that failed keep their previous config. */
ASTRO_HOST_API int astro_engine_reload(astro_engine *e, astro_error *err);

/* Closes the engine: no new calls or submits (ASTRO_E_CLOSED); waits for the
 * workers to run every job already submitted; closes the stores. Results of
 * those jobs stay available to astro_poll(). Safe to call twice. */
ASTRO_HOST_API int astro_engine_close(astro_engine *e, astro_error *err);

/* Closes (if still open) and frees the engine and any unpolled results.
 * NULL-safe. No other call on e may run concurrently or follow. */
ASTRO_HOST_API void astro_engine_free(astro_engine *e);

/* The verbs, for astro_call() and astro_submit(). */
typedef enum astro_verb {
    ASTRO_RETAIN = 1,   /* {"content": str, "bank_id", "tags", "metadata", "occurred_at", ...} */
    ASTRO_RECALL = 2,   /* {"query": str, "bank_id", "max_results", "tags", "time_range", ...} */
    ASTRO_REFLECT = 3,  /* {"query": str, "bank_id", ...} */
    ASTRO_FORGET = 4,   /* {"bank_id", "memory_ids", "tags", "before", "scope", ...} */
    ASTRO_BANKS = 5,    /* no request (NULL) */
    ASTRO_RETAIN_MANY = 6 /* {"items": [str | {"content", "bank_id", "tags", ...}], "bank_id", ...}:
                             every item validated first, then one transaction;
                             the result is an array of RetainResult */
} astro_verb;

/* Runs one verb synchronously. request_json is a JSON object (NULL for
 * ASTRO_BANKS); JSON null values count as absent. On ASTRO_OK sets
 * *response_json (if response_json is non-NULL) to the result as JSON:
 * RetainResult, RecallResult, ReflectResult, ForgetResult, or an array of
 * {bank_id, memory_count}. */
ASTRO_HOST_API int astro_call(astro_engine *e, astro_verb verb, const char *request_json,
                              char **response_json, astro_error *err);

ASTRO_HOST_API int astro_retain(astro_engine *e, const char *request_json, char **response_json,
                                astro_error *err);
ASTRO_HOST_API int astro_recall(astro_engine *e, const char *request_json, char **response_json,
                                astro_error *err);
ASTRO_HOST_API int astro_reflect(astro_engine *e, const char *request_json, char **response_json,
                                 astro_error *err);
ASTRO_HOST_API int astro_forget(astro_engine *e, const char *request_json, char **response_json,
                                astro_error *err);
ASTRO_HOST_API int astro_banks(astro_engine *e, char **response_json, astro_error *err);
ASTRO_HOST_API int astro_retain_many(astro_engine *e, const char *request_json, char **response_json,
                                     astro_error *err);

/* Frees a string returned by the library. NULL-safe. */
ASTRO_HOST_API void astro_free(void *p);

#define ASTRO_TIME_ABSENT INT64_MIN   /* a timestamp the memory does not have */

/* One recall hit. Every pointer points into the astro_hits block. */
typedef struct astro_hit {
    const char *memory_id;
    const char *text;
    const char *bank_id;
    const char *fact_type;          /* "" when absent */
    double score;                   /* 0..1 */
    const char *const *tags;        /* tag_count strings */
    size_t tag_count;
    int64_t occurred_at_ms;         /* ms since the epoch, UTC, or ASTRO_TIME_ABSENT */
    int64_t retained_at_ms;
} astro_hit;

/* A typed RecallResult: one allocation, freed by astro_hits_free(). */
typedef struct astro_hits {
    size_t count;
    astro_hit *hits;
    size_t total_available;
    int truncated;
} astro_hits;

/* Recall with a typed result: on ASTRO_OK sets *hits (caller frees with
 * astro_hits_free) and, if response_json is non-NULL, the JSON too. */
ASTRO_HOST_API int astro_recall_hits(astro_engine *e, const char *request_json, astro_hits **hits,
                                     char **response_json, astro_error *err);

/* Frees a typed recall result. NULL-safe. */
ASTRO_HOST_API void astro_hits_free(astro_hits *h);

/* A finished job, as astro_poll() delivers it. */
typedef struct astro_result {
    uint64_t ticket;                /* what astro_submit() returned */
    astro_verb verb;
    void *user;                     /* the user pointer given to astro_submit() */
    int code;                       /* ASTRO_OK or an astro_code */
    const astro_error *error;       /* NULL when code == ASTRO_OK */
    char *json;                     /* the response JSON when ok (see OWNERSHIP) */
    astro_hits *hits;               /* ASTRO_RECALL only, when ok (see OWNERSHIP) */
    double queued_ms, run_ms;       /* time waiting in the queue, time running */
} astro_result;

typedef void (*astro_poll_fn)(astro_result *result, void *ud);

/* Queues a job for the workers and returns at once with *ticket set (tickets
 * are > 0, increasing per engine). Fails with ASTRO_E_BUSY when
 * queue_capacity jobs are submitted and not yet polled, ASTRO_E_CLOSED after
 * close, ASTRO_E_ARG when the engine has no workers. The request is checked
 * when the job runs: a bad request comes back as the job's error. */
ASTRO_HOST_API int astro_submit(astro_engine *e, astro_verb verb, const char *request_json, void *user,
                                uint64_t *ticket, astro_error *err);

/* Calls cb(result, ud) for up to max finished jobs (0: all there are now), in
 * order of completion, on the calling thread. Returns how many were
 * delivered (>= 0), or a negative code (ASTRO_E_ARG). Works after close: the
 * results of the jobs run before close stay until polled or freed. */
ASTRO_HOST_API int astro_poll(astro_engine *e, astro_poll_fn cb, void *ud, size_t max);

/* Number of jobs submitted and not yet delivered by astro_poll(). */
ASTRO_HOST_API size_t astro_pending(astro_engine *e);

/* Waits up to timeout_ms for at least one finished job to be ready to poll;
 * returns 1 if one is, 0 otherwise. For hosts without a frame loop. */
ASTRO_HOST_API int astro_wait(astro_engine *e, int timeout_ms);

/* A host function callable from the engine's Lua side:
 *   local host = require "astrocyte.host"
 *   local result, err = host.call("name", args)    -- args: any JSON value
 * json_args is args as JSON text. Return 0 and set *json_result (malloc'd
 * JSON text, or NULL for `true`) on success; any other value is a failure:
 * Lua gets nil and "host function 'name' failed: <*json_result as text>". */
typedef int (*astro_host_fn)(void *ud, const char *json_args, char **json_result);

/* Registers fn under name (replacing a function of that name; fn NULL
 * removes it), for every state of the engine, now and after reload. */
ASTRO_HOST_API int astro_register_function(astro_engine *e, const char *name, astro_host_fn fn,
                                           void *ud, astro_error *err);

#ifdef __cplusplus
}
#endif
#endif
