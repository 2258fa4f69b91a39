/*
** host_internal.h — what the files of libastrocyte_host share: the engine
** struct, one Lua state per worker (host_state.c), the job queue
** (host_jobs.c), error filling and the typed recall result (host_hits.c).
*/
#ifndef ASTRO_HOST_INTERNAL_H
#define ASTRO_HOST_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "astrocyte.h"

typedef struct lua_State lua_State;

/* One Lua state running one Lua engine object. mu serializes its use; L is
 * NULL once closed. */
typedef struct host_state {
    pthread_mutex_t mu;
    lua_State *L;
    int glue_ref;      /* registry ref of the glue table (glue.lua) */
    int engine_ref;    /* registry ref of the Lua engine object */
} host_state;

/* A registered host function. */
typedef struct host_fn {
    char *name;
    astro_host_fn fn;
    void *ud;
} host_fn;

/* A queued or finished job; owned by the queue it is in. */
typedef struct host_job {
    _Atomic(struct host_job *) next;
    astro_result res;
    astro_error err;
    char *request;
    double t_submit, t_start;
} host_job;

/* An intrusive multi-producer single-consumer queue (Vyukov): a push is one
 * atomic exchange and never waits; a pop may see "empty" while a push is
 * half done. host_jobs.c. */
typedef struct host_mpsc {
    _Atomic(host_job *) head;
    host_job *tail;
    host_job stub;
} host_mpsc;

struct astro_engine {
    /* The host side of the queues never takes a lock a worker holds: the
     * frame loop cannot be stalled by a worker preempted inside one. */
    host_mpsc queue;             /* submitted, waiting: pushed by hosts */
    pthread_mutex_t queue_mu;    /* workers only: one pops at a time */
    sem_t work;                  /* one token per submit, one per worker at stop */
    host_mpsc done;              /* finished: pushed by workers */
    host_mpsc spent;             /* polled: pushed by hosts, freed by workers */
    pthread_mutex_t poll_mu;     /* hosts only (trylock): one poller at a time */
    pthread_mutex_t wait_mu;     /* astro_wait's sleep: workers signal */
    pthread_cond_t wait_cv;
    atomic_int closed;           /* no new calls */
    atomic_int stop;             /* workers exit once the queue is empty */
    atomic_int submitting;       /* astro_submit() calls between check and push */
    atomic_size_t queued;        /* in the queue, not yet popped */
    atomic_size_t ready;         /* in done, not yet polled */
    atomic_size_t outstanding;   /* submitted and not yet delivered */
    size_t capacity;
    atomic_uint_fast64_t next_ticket;

    int nstates;                 /* max(1, workers) */
    host_state *states;
    int nworkers;
    int worker_nice;
    pthread_t *threads;

    pthread_mutex_t fn_mu;       /* guards fns */
    host_fn *fns;
    size_t nfns, fn_cap;
};

/* Sets err (if non-NULL) to code with a printf-style message; returns code. */
int host_err(astro_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets err from a Lua error kind name and message; returns the code. */
int host_err_kind(astro_error *err, const char *kind, const char *msg);

/* Opens state s: a Lua state with the framework found from opts, the C
 * modules preloaded, astrocyte.host bound to e, and an engine opened from
 * config. Returns ASTRO_OK or a code with err set (s->L NULL then). */
int host_state_open(astro_engine *e, host_state *s, const char *config,
                    const astro_open_opts *opts, astro_error *err);

/* Closes the Lua engine and the state (s->L becomes NULL). Caller holds s->mu. */
void host_state_close(host_state *s);

/* Runs one verb on s (caller holds s->mu and s->L is open). Sets *json and,
 * when hits is non-NULL (recall), *hits. */
int host_state_call(host_state *s, astro_verb verb, const char *request, char **json,
                    astro_hits **hits, astro_error *err);

/* Calls engine:reload() on s (caller holds s->mu). */
int host_state_reload(host_state *s, astro_error *err);

/* Builds an astro_hits from the RecallResult table at stack index idx.
 * Runs under lua_pcall (may raise on a malformed result). */
int host_hits_build(lua_State *L, int idx, astro_hits **out);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]" into ms since the epoch;
 * returns ASTRO_TIME_ABSENT when s is not such a string. */
int64_t host_parse_time(const char *s);

/* Sets up the queues; returns ASTRO_OK or ASTRO_E_NOMEM. */
int host_jobs_init(astro_engine *e);

/* Destroys what host_jobs_init made (queues already emptied). */
void host_jobs_destroy(astro_engine *e);

/* Starts the workers (e->nworkers of them); worker k opens state k from
 * config and opts. Returns once every worker has opened its state, or
 * stops them all and returns the first error. */
int host_jobs_start(astro_engine *e, const char *config, const astro_open_opts *opts,
                    astro_error *err);

/* Stops new submits, lets the workers run every queued job, and joins them. */
void host_jobs_stop(astro_engine *e);

/* Frees every job still queued or unpolled. */
void host_jobs_free(astro_engine *e);

/* Looks up a host function by name under fn_mu; returns 1 and copies it. */
int host_fn_find(astro_engine *e, const char *name, astro_host_fn *fn, void **ud);

/* Monotonic clock in milliseconds. */
double host_now_ms(void);

#endif
