/*
** host_jobs.c — the non-blocking path of the C host API. astro_submit()
** appends a job to a FIFO and signals the workers; worker k runs jobs on Lua
** state k (state 0 is shared with the synchronous calls, under its mutex) and
** moves each finished job to the completion list; astro_poll() detaches
** finished jobs under the lock and runs the host's callback on its own
** thread with no lock held. One mutex guards both lists: a submit or a poll
** holds it for a few pointer moves only, never while Lua runs.
*/
#define _POSIX_C_SOURCE 200809L    /* clock_gettime */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_internal.h"

double host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void job_free(host_job *j)
{
    if (!j)
        return;
    free(j->request);
    free(j->res.json);
    astro_hits_free(j->res.hits);
    free(j);
}

/* What a worker thread gets: its engine and its state. */
typedef struct worker_arg {
    astro_engine *e;
    host_state *s;
} worker_arg;

/* Runs one job on s and fills its result. */
static void run_job(host_state *s, host_job *j)
{
    astro_result *r = &j->res;
    j->t_start = host_now_ms();
    pthread_mutex_lock(&s->mu);
    if (!s->L)
        r->code = host_err(&j->err, ASTRO_E_CLOSED, "engine is closed");
    else
        r->code = host_state_call(s, r->verb, j->request, &r->json,
                                  r->verb == ASTRO_RECALL ? &r->hits : NULL, &j->err);
    pthread_mutex_unlock(&s->mu);
    r->error = r->code == ASTRO_OK ? NULL : &j->err;
    r->queued_ms = j->t_start - j->t_submit;
    r->run_ms = host_now_ms() - j->t_start;
    free(j->request);
    j->request = NULL;
}

/* A worker: pops jobs in order until stop is set and the queue is empty. */
static void *worker(void *ud)
{
    worker_arg *w = ud;
    astro_engine *e = w->e;
    host_state *s = w->s;
    free(w);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        host_job *j;
        while (!e->q_head && !e->stop)
            pthread_cond_wait(&e->work, &e->mu);
        if (!e->q_head)
            break;
        j = e->q_head;
        e->q_head = j->next;
        if (!e->q_head)
            e->q_tail = NULL;
        j->next = NULL;
        pthread_mutex_unlock(&e->mu);

        run_job(s, j);

        pthread_mutex_lock(&e->mu);
        if (e->d_tail)
            e->d_tail->next = j;
        else
            e->d_head = j;
        e->d_tail = j;
        pthread_cond_broadcast(&e->done);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int host_jobs_start(astro_engine *e, astro_error *err)
{
    int k;
    for (k = 0; k < e->nworkers; k++) {
        worker_arg *w = malloc(sizeof *w);
        if (w) {
            w->e = e;
            w->s = &e->states[k];
            if (pthread_create(&e->threads[k], NULL, worker, w) == 0)
                continue;
            free(w);
        }
        e->nworkers = k;            /* stop the ones started */
        host_jobs_stop(e);
        return host_err(err, ASTRO_E_NOMEM, "cannot start worker thread %d", k);
    }
    return ASTRO_OK;
}

void host_jobs_stop(astro_engine *e)
{
    int k, n;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    n = e->nworkers;
    pthread_cond_broadcast(&e->work);
    pthread_mutex_unlock(&e->mu);
    for (k = 0; k < n; k++)
        pthread_join(e->threads[k], NULL);
    pthread_mutex_lock(&e->mu);
    e->nworkers = 0;
    pthread_mutex_unlock(&e->mu);
}

void host_jobs_free(astro_engine *e)
{
    host_job *j, *next;
    for (j = e->q_head; j; j = next) {
        next = j->next;
        job_free(j);
    }
    for (j = e->d_head; j; j = next) {
        next = j->next;
        job_free(j);
    }
    e->q_head = e->q_tail = e->d_head = e->d_tail = NULL;
}

int astro_submit(astro_engine *e, astro_verb verb, const char *request_json, void *user,
                 uint64_t *ticket, astro_error *err)
{
    host_job *j;
    int rc = ASTRO_OK;
    if (ticket)
        *ticket = 0;
    if (!e)
        return host_err(err, ASTRO_E_ARG, "engine is NULL");
    if (verb < ASTRO_RETAIN || verb > ASTRO_BANKS)
        return host_err(err, ASTRO_E_ARG, "unknown verb %d", (int)verb);
    j = calloc(1, sizeof *j);
    if (!j)
        return host_err(err, ASTRO_E_NOMEM, "out of memory");
    if (request_json) {
        size_t n = strlen(request_json) + 1;
        j->request = malloc(n);
        if (!j->request) {
            free(j);
            return host_err(err, ASTRO_E_NOMEM, "out of memory");
        }
        memcpy(j->request, request_json, n);
    }
    j->res.verb = verb;
    j->res.user = user;
    j->t_submit = host_now_ms();
    pthread_mutex_lock(&e->mu);
    if (e->closed)
        rc = host_err(err, ASTRO_E_CLOSED, "engine is closed");
    else if (e->nworkers == 0)
        rc = host_err(err, ASTRO_E_ARG, "engine was opened without workers (astro_open_opts.workers = 0)");
    else if (e->outstanding >= e->capacity)
        rc = host_err(err, ASTRO_E_BUSY, "%zu jobs are pending (queue_capacity): poll first", e->outstanding);
    if (rc == ASTRO_OK) {
        j->res.ticket = e->next_ticket++;
        e->outstanding++;
        if (e->q_tail)
            e->q_tail->next = j;
        else
            e->q_head = j;
        e->q_tail = j;
        if (ticket)
            *ticket = j->res.ticket;
        pthread_cond_signal(&e->work);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != ASTRO_OK)
        job_free(j);
    return rc;
}

int astro_poll(astro_engine *e, astro_poll_fn cb, void *ud, size_t max)
{
    host_job *list, *last, *j;
    size_t n = 1;
    if (!e || !cb)
        return ASTRO_E_ARG;
    pthread_mutex_lock(&e->mu);
    list = e->d_head;
    if (!list) {
        pthread_mutex_unlock(&e->mu);
        return 0;
    }
    for (last = list; last->next && (max == 0 || n < max); last = last->next)
        n++;
    e->d_head = last->next;         /* the rest stays for the next poll */
    last->next = NULL;
    if (!e->d_head)
        e->d_tail = NULL;
    e->outstanding -= n;
    pthread_mutex_unlock(&e->mu);
    while (list) {
        j = list;
        list = j->next;
        cb(&j->res, ud);
        job_free(j);
    }
    return (int)(n > (size_t)0x7fffffff ? 0x7fffffff : n);
}

size_t astro_pending(astro_engine *e)
{
    size_t n;
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    n = e->outstanding;
    pthread_mutex_unlock(&e->mu);
    return n;
}

int astro_wait(astro_engine *e, int timeout_ms)
{
    struct timespec ts;
    int ready;
    if (!e)
        return 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->mu);
    while (!e->d_head) {
        if (pthread_cond_timedwait(&e->done, &e->mu, &ts) != 0)
            break;
    }
    ready = e->d_head != NULL;
    pthread_mutex_unlock(&e->mu);
    return ready;
}
