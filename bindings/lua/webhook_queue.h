/*
** webhook_queue.h — internal header of astrocyte.webhook: the dispatcher
** state (bounded FIFO ring, one delivery thread, counters) shared by the
** delivery code (webhook_queue.c, no Lua) and the Lua glue
** (astro_webhook.c). Not installed; nothing here is exported.
*/
#ifndef ASTRO_WEBHOOK_QUEUE_H
#define ASTRO_WEBHOOK_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

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

/* A consistent copy of the counters (taken under the mutex). */
typedef struct wstats {
    uint64_t queued, delivered, failed, dropped, retried;
    size_t pending;
    long last_status;
    char last_error[CURL_ERROR_SIZE];
} wstats;

#define WQ_OK     0
#define WQ_FULL   1   /* ring full: counted as dropped */
#define WQ_CLOSED 2   /* dispatcher stopped */

/* Frees what a job owns and zeroes it. */
void wq_job_free(wjob *j);

/* Returns a NUL-terminated malloc'd copy of s[0..n), or NULL. */
char *wq_dupn(const char *s, size_t n);

/* Initialises the mutex and condition variables of a zeroed d (the
 * options fields are set by the caller). */
void wq_init(wdisp *d);

/* Allocates a ring of cap jobs and starts the delivery thread. Returns 0,
 * -1 when out of memory, -2 when the thread cannot start. */
int wq_start(wdisp *d, size_t cap);

/* Appends *j (ownership moves to the queue on WQ_OK only). */
int wq_push(wdisp *d, wjob *j);

/* Moves the oldest job into *j and marks it in flight. The caller holds
 * d->mu and has checked d->count > 0 (the worker's pop). */
void wq_take(wdisp *d, wjob *j);

/* Marks the job taken by wq_take finished and wakes wq_flush (takes d->mu). */
void wq_done(wdisp *d);

/* Waits up to ms for the ring to empty with nothing in flight; returns 1
 * when drained. */
int wq_flush(wdisp *d, long ms);

/* Copies the counters into *out. */
void wq_stats(wdisp *d, wstats *out);

/* Stops the thread (aborting a transfer or backoff in progress) and frees
 * the ring; queued jobs count as dropped. Idempotent. */
void wq_stop(wdisp *d);

/* wq_stop, then frees d and everything it owns (NULL-safe). */
void wq_free(wdisp *d);

#endif
