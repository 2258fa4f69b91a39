/*
** host_jobs.c — the non-blocking path of the C host API. astro_submit()
** pushes a job onto a lock-free queue and posts a semaphore token; worker k
** pops jobs (workers serialize their pops with a mutex of their own) and runs
** them on Lua state k (state 0 is shared with the synchronous calls, under
** its mutex), then pushes each finished job onto a second lock-free queue;
** astro_poll() pops finished jobs and runs the host's callback on its own
** thread, then hands the job back to the workers to free: the host frees
** no memory a worker allocated (whose malloc arena a preempted worker may
** hold locked). The host side takes no lock that a worker holds, so a
** worker preempted at any point cannot stall the frame loop (astro_wait()
** is the one host call that sleeps, by design).
*/
#define _GNU_SOURCE                /* clock_gettime, syscall(SYS_gettid) */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "host_internal.h"

double host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void mpsc_init(host_mpsc *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
}

/* Appends n; wait-free, any thread. */
static void mpsc_push(host_mpsc *q, host_job *n)
{
    host_job *prev;
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Removes the oldest job, or returns NULL when the queue is empty or its
 * next job's push is not finished yet. One consumer at a time. */
static host_job *mpsc_pop(host_mpsc *q)
{
    host_job *tail = q->tail, *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL;                /* a push is half done */
    mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
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

int host_jobs_init(astro_engine *e)
{
    mpsc_init(&e->queue);
    mpsc_init(&e->done);
    mpsc_init(&e->spent);
    if (sem_init(&e->work, 0, 0) != 0)
        return ASTRO_E_NOMEM;
    pthread_mutex_init(&e->queue_mu, NULL);
    pthread_mutex_init(&e->poll_mu, NULL);
    pthread_mutex_init(&e->wait_mu, NULL);
    pthread_cond_init(&e->wait_cv, NULL);
    atomic_init(&e->closed, 0);
    atomic_init(&e->stop, 0);
    atomic_init(&e->submitting, 0);
    atomic_init(&e->queued, 0);
    atomic_init(&e->ready, 0);
    atomic_init(&e->outstanding, 0);
    atomic_init(&e->next_ticket, 1);
    return ASTRO_OK;
}

void host_jobs_destroy(astro_engine *e)
{
    pthread_cond_destroy(&e->wait_cv);
    pthread_mutex_destroy(&e->wait_mu);
    pthread_mutex_destroy(&e->poll_mu);
    pthread_mutex_destroy(&e->queue_mu);
    sem_destroy(&e->work);
}

/* What a worker thread gets: its engine and state, what to open it from,
 * and where to report how that went. */
typedef struct worker_start {
    astro_engine *e;
    int k;
    const char *config;
    const astro_open_opts *opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int reported, failed;
    astro_error err;                /* the first failure */
} worker_start;

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
}

/* Frees the jobs the hosts have polled. Caller holds queue_mu. */
static void free_spent(astro_engine *e)
{
    host_job *j;
    while ((j = mpsc_pop(&e->spent)) != NULL)
        job_free(j);
}

/* A worker: opens its state and reports; then takes one semaphore token
 * per job (or per worker at stop) and exits when stop is set and nothing
 * is queued. */
static void *worker(void *ud)
{
    worker_start *st = ud;
    astro_engine *e = st->e;
    host_state *s = &e->states[st->k];
    astro_error err;
    int rc;
#if defined(__linux__)
    /* Linux's nice is per thread: only this worker yields to the host. */
    if (e->worker_nice > 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), e->worker_nice);
#endif
    rc = host_state_open(e, s, st->config, st->opts, &err);
    pthread_mutex_lock(&st->mu);
    if (rc != ASTRO_OK && !st->failed++)
        st->err = err;
    st->reported++;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);      /* st may be gone after this */
    if (rc != ASTRO_OK)
        return NULL;
    for (;;) {
        host_job *j = NULL;
        while (sem_wait(&e->work) != 0)
            ;                       /* EINTR */
        for (;;) {
            pthread_mutex_lock(&e->queue_mu);
            free_spent(e);
            j = mpsc_pop(&e->queue);
            pthread_mutex_unlock(&e->queue_mu);
            if (j || (atomic_load(&e->stop) && atomic_load(&e->queued) == 0))
                break;
            sched_yield();          /* a push is half done */
        }
        if (!j)
            break;
        atomic_fetch_sub(&e->queued, 1);
        run_job(s, j);
        atomic_fetch_add(&e->ready, 1);     /* before the push: poll never underflows it */
        mpsc_push(&e->done, j);
        pthread_mutex_lock(&e->wait_mu);
        pthread_cond_broadcast(&e->wait_cv);
        pthread_mutex_unlock(&e->wait_mu);
    }
    return NULL;
}

int host_jobs_start(astro_engine *e, const char *config, const astro_open_opts *opts,
                    astro_error *err)
{
    worker_start *st;
    int k, n = e->nworkers, started = 0, rc = ASTRO_OK;
    st = calloc((size_t)n, sizeof *st);
    if (!st) {
        e->nworkers = 0;
        return host_err(err, ASTRO_E_NOMEM, "out of memory");
    }
    for (k = 0; k < n; k++) {
        st[k].e = e;
        st[k].k = k;
        st[k].config = config;
        st[k].opts = opts;
        pthread_mutex_init(&st[k].mu, NULL);
        pthread_cond_init(&st[k].cv, NULL);
        if (pthread_create(&e->threads[k], NULL, worker, &st[k]) != 0) {
            rc = host_err(err, ASTRO_E_NOMEM, "cannot start worker thread %d", k);
            break;
        }
        started++;
    }
    for (k = 0; k < started; k++) {
        pthread_mutex_lock(&st[k].mu);
        while (!st[k].reported)
            pthread_cond_wait(&st[k].cv, &st[k].mu);
        if (st[k].failed && rc == ASTRO_OK) {
            rc = st[k].err.code;
            if (err)
                *err = st[k].err;
        }
        pthread_mutex_unlock(&st[k].mu);
    }
    for (k = 0; k < n; k++) {
        pthread_mutex_destroy(&st[k].mu);
        pthread_cond_destroy(&st[k].cv);
    }
    free(st);
    e->nworkers = started;
    if (rc != ASTRO_OK)
        host_jobs_stop(e);          /* the caller closes the states opened */
    return rc;
}

void host_jobs_stop(astro_engine *e)
{
    int k;
    /* closed is set: wait for submits that passed their check to push. */
    while (atomic_load(&e->submitting) > 0)
        sched_yield();
    atomic_store(&e->stop, 1);
    for (k = 0; k < e->nworkers; k++)
        sem_post(&e->work);
    for (k = 0; k < e->nworkers; k++)
        pthread_join(e->threads[k], NULL);
    e->nworkers = 0;
}

void host_jobs_free(astro_engine *e)
{
    host_job *j;
    while ((j = mpsc_pop(&e->queue)) != NULL)
        job_free(j);
    while ((j = mpsc_pop(&e->done)) != NULL)
        job_free(j);
    free_spent(e);
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
    if (verb < ASTRO_RETAIN || verb > ASTRO_RETAIN_MANY)
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
    /* submitting before closed (both seq_cst): close either sees this
     * submit in flight and waits for its push, or this submit sees closed. */
    atomic_fetch_add(&e->submitting, 1);
    if (atomic_load(&e->closed)) {
        rc = host_err(err, ASTRO_E_CLOSED, "engine is closed");
    } else if (e->nworkers == 0) {
        rc = host_err(err, ASTRO_E_ARG, "engine was opened without workers (astro_open_opts.workers = 0)");
    } else if (atomic_fetch_add(&e->outstanding, 1) >= e->capacity) {
        atomic_fetch_sub(&e->outstanding, 1);
        rc = host_err(err, ASTRO_E_BUSY, "%zu jobs are pending (queue_capacity): poll first", e->capacity);
    } else {
        j->res.ticket = atomic_fetch_add(&e->next_ticket, 1);
        if (ticket)
            *ticket = j->res.ticket;
        atomic_fetch_add(&e->queued, 1);
        mpsc_push(&e->queue, j);
        sem_post(&e->work);
    }
    atomic_fetch_sub(&e->submitting, 1);
    if (rc != ASTRO_OK)
        job_free(j);
    return rc;
}

int astro_poll(astro_engine *e, astro_poll_fn cb, void *ud, size_t max)
{
    host_job *j;
    int n = 0;
    if (!e || !cb)
        return ASTRO_E_ARG;
    if (pthread_mutex_trylock(&e->poll_mu) != 0)
        return 0;                   /* another thread is polling */
    while ((max == 0 || (size_t)n < max) && n < 0x7fffffff && (j = mpsc_pop(&e->done)) != NULL) {
        atomic_fetch_sub(&e->ready, 1);
        atomic_fetch_sub(&e->outstanding, 1);
        cb(&j->res, ud);
        if (!atomic_load(&e->stop))
            mpsc_push(&e->spent, j);    /* a worker frees it */
        else
            job_free(j);                /* no worker will run again */
        n++;
    }
    pthread_mutex_unlock(&e->poll_mu);
    return n;
}

size_t astro_pending(astro_engine *e)
{
    return e ? atomic_load(&e->outstanding) : 0;
}

int astro_wait(astro_engine *e, int timeout_ms)
{
    struct timespec ts;
    if (!e)
        return 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->wait_mu);
    while (atomic_load(&e->ready) == 0) {
        if (pthread_cond_timedwait(&e->wait_cv, &e->wait_mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&e->wait_mu);
    return atomic_load(&e->ready) > 0;
}
