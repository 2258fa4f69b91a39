/*
** test_host_threads.c — ctest host.threads (and host.tsan, the same binary
** under ThreadSanitizer): several host threads submit at once to an engine
** with two workers while another thread makes synchronous calls and
** re-registers a host function; every accepted ticket is delivered exactly
** once, on the polling thread; then submits race a close, and every submit
** that was accepted still gets its result.
*/
#include "host_test.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define SUBMITTERS 4
#define PER_THREAD 25
#define MAX_TICKETS 4096

typedef struct shared {
    astro_engine *e;
    pthread_t poller;
    int wrong_thread;                 /* callbacks seen off the polling thread */
    int seen[MAX_TICKETS];            /* deliveries per ticket */
    int accepted[MAX_TICKETS];        /* tickets astro_submit() returned */
    pthread_mutex_t mu;               /* guards accepted (written by submitters) */
    int ok, failed, retained;
    int stop_sync;
} shared;

typedef struct submitter {
    shared *sh;
    int id;
    int submitted, rejected_closed, until_closed;
} submitter;

static void *submit_loop(void *ud)
{
    submitter *s = ud;
    char req[256];
    int i;
    for (i = 0; s->until_closed || i < PER_THREAD; i++) {
        astro_error err;
        uint64_t t;
        int rc;
        astro_verb v = i % 3 == 2 ? ASTRO_RECALL : ASTRO_RETAIN;
        if (v == ASTRO_RETAIN)
            snprintf(req, sizeof req, "{\"content\":\"Villager %d-%d saw a red dragon over mill %d.\","
                                      "\"bank_id\":\"npc-%d\"}", s->id, i, i % 7, s->id);
        else
            snprintf(req, sizeof req, "{\"query\":\"dragon over the mill\",\"bank_id\":\"npc-%d\"}", s->id);
        rc = astro_submit(s->sh->e, v, req, (void *)(intptr_t)v, &t, &err);
        if (rc == ASTRO_OK) {
            s->submitted++;
            if (t < MAX_TICKETS) {
                pthread_mutex_lock(&s->sh->mu);
                s->sh->accepted[t] = 1;
                pthread_mutex_unlock(&s->sh->mu);
            }
        } else if (rc == ASTRO_E_CLOSED) {
            s->rejected_closed++;
            break;
        } else if (rc == ASTRO_E_BUSY) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            i--;
        } else {
            fprintf(stderr, "submit: %s: %s\n", err.kind, err.message);
            break;
        }
    }
    return NULL;
}

static int echo_fn(void *ud, const char *args, char **out)
{
    (void)ud;
    *out = malloc(strlen(args) + 1);
    if (*out)
        strcpy(*out, args);
    return *out ? 0 : 1;
}

/* Synchronous calls on state 0 while worker 0 uses it too. */
static void *sync_loop(void *ud)
{
    shared *sh = ud;
    int i;
    for (i = 0; i < 10 && !sh->stop_sync; i++) {
        astro_error err;
        char *json = NULL;
        astro_hits *hits = NULL;
        astro_register_function(sh->e, "echo", echo_fn, NULL, &err);
        if (astro_recall_hits(sh->e, "{\"query\":\"dragon\",\"bank_id\":\"npc-1\"}", &hits, NULL, &err) != ASTRO_OK)
            sh->failed++;
        astro_hits_free(hits);
        if (astro_banks(sh->e, &json, &err) != ASTRO_OK)
            sh->failed++;
        astro_free(json);
        astro_register_function(sh->e, "echo", NULL, NULL, &err);
    }
    return NULL;
}

static void on_result(astro_result *r, void *ud)
{
    shared *sh = ud;
    if (!pthread_equal(pthread_self(), sh->poller))
        sh->wrong_thread++;
    if (r->ticket < MAX_TICKETS)
        sh->seen[r->ticket]++;
    if (r->code == ASTRO_OK) {
        sh->ok++;
        if (r->verb == ASTRO_RETAIN)
            sh->retained++;
        if ((intptr_t)r->user != (intptr_t)r->verb || (r->verb == ASTRO_RECALL) != (r->hits != NULL))
            sh->failed++;
    } else {
        fprintf(stderr, "job %llu: %s: %s\n", (unsigned long long)r->ticket, r->error->kind, r->error->message);
        sh->failed++;
    }
}

/* Counts memories over every bank from the banks JSON. */
static long memory_total(astro_engine *e)
{
    astro_error err;
    char *json = NULL, *p;
    long n = 0;
    if (astro_banks(e, &json, &err) != ASTRO_OK)
        return -1;
    for (p = json; (p = strstr(p, "\"memory_count\":")) != NULL; p++)
        n += strtol(p + 15, NULL, 10);
    astro_free(json);
    return n;
}

int main(void)
{
    static shared sh;
    submitter subs[SUBMITTERS];
    pthread_t th[SUBMITTERS], sync_th;
    astro_open_opts o;
    astro_error err;
    char db[512];
    int i, delivered = 0, dup = 0, missing = 0, total = 0;

    snprintf(db, sizeof db, "%s/threads.db", scratch_dir());
    astro_open_opts_init(&o);
    o.workers = 2;
    o.db = db;
    o.queue_capacity = 64;      /* small, so submitters also meet ASTRO_E_BUSY */
    sh.e = astro_engine_open_ex("vector_store: sqlite\n", &o, &err);
    if (!sh.e) {
        fprintf(stderr, "open: %s: %s\n", err.kind, err.message);
        return 1;
    }
    sh.poller = pthread_self();
    pthread_mutex_init(&sh.mu, NULL);

    /* threads-1: concurrent submits, sync calls and registrations */
    for (i = 0; i < SUBMITTERS; i++) {
        memset(&subs[i], 0, sizeof subs[i]);
        subs[i].sh = &sh;
        subs[i].id = i;
        pthread_create(&th[i], NULL, submit_loop, &subs[i]);
    }
    pthread_create(&sync_th, NULL, sync_loop, &sh);
    while (delivered < SUBMITTERS * PER_THREAD) {
        if (astro_wait(sh.e, 20000) == 0)
            break;
        delivered += astro_poll(sh.e, on_result, &sh, 0);
    }
    for (i = 0; i < SUBMITTERS; i++)
        pthread_join(th[i], NULL);
    pthread_join(sync_th, NULL);
    for (i = 0; i < SUBMITTERS; i++)
        total += subs[i].submitted;
    CHECK("threads-1.1", total == SUBMITTERS * PER_THREAD);
    CHECK("threads-1.2", delivered == total && astro_pending(sh.e) == 0);
    CHECK("threads-1.3", sh.failed == 0 && sh.wrong_thread == 0);
    for (i = 1; i < MAX_TICKETS; i++) {
        if (sh.seen[i] > 1)
            dup++;
        if (sh.accepted[i] && sh.seen[i] != 1)
            missing++;
    }
    CHECK("threads-1.4", dup == 0 && missing == 0);
    CHECK("threads-1.5", memory_total(sh.e) == sh.retained);

    /* threads-2: submits race a close; each accepted one is delivered */
    memset(sh.seen, 0, sizeof sh.seen);
    memset(sh.accepted, 0, sizeof sh.accepted);
    sh.ok = sh.failed = 0;
    for (i = 0; i < SUBMITTERS; i++) {
        memset(&subs[i], 0, sizeof subs[i]);
        subs[i].sh = &sh;
        subs[i].id = i;
        subs[i].until_closed = 1;
        pthread_create(&th[i], NULL, submit_loop, &subs[i]);
    }
    {
        struct timespec ts = {0, 300000000};
        nanosleep(&ts, NULL);
    }
    CHECK("threads-2.1", astro_engine_close(sh.e, &err) == ASTRO_OK);
    for (i = 0; i < SUBMITTERS; i++)
        pthread_join(th[i], NULL);
    total = 0;
    for (i = 0; i < SUBMITTERS; i++) {
        total += subs[i].submitted;
        CHECK("threads-2.2", subs[i].rejected_closed == 1);
    }
    delivered = astro_poll(sh.e, on_result, &sh, 0);
    CHECK("threads-2.3", total > 0 && delivered == total && sh.failed == 0);
    missing = 0;
    for (i = 1; i < MAX_TICKETS; i++)
        if (sh.accepted[i] && sh.seen[i] != 1)
            missing++;
    CHECK("threads-2.4", missing == 0);
    astro_engine_free(sh.e);
    pthread_mutex_destroy(&sh.mu);
    if (failures == 0)
        printf("host.threads: ok (%d jobs, then %d racing close)\n", SUBMITTERS * PER_THREAD, total);
    return failures != 0;
}
