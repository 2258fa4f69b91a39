/*
** webhook_queue.c — the delivery half of astrocyte.webhook, free of Lua: a
** bounded FIFO ring guarded by one mutex, one worker thread that pops jobs
** in order and POSTs (or PUTs) them with its own curl easy handle, bounded
** retries with exponential backoff after transport errors, 5xx and 429, and
** counters read under the mutex. The worker never touches a Lua state.
** close (wq_stop) interrupts a transfer through curl's progress callback and
** a backoff wait through the `work` condition variable, then joins. Waits use
** CLOCK_MONOTONIC. See astro_webhook.c for the Lua API and its caveats.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "webhook_queue.h"

void wq_job_free(wjob *j)
{
    int i;
    free(j->url);
    free(j->body);
    for (i = 0; i < j->nhdrs; i++)
        free(j->hdrs[i]);
    free(j->hdrs);
    memset(j, 0, sizeof *j);
}

char *wq_dupn(const char *s, size_t n)
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

void wq_take(wdisp *d, wjob *j)
{
    *j = d->ring[d->head];
    memset(&d->ring[d->head], 0, sizeof(wjob));
    d->head = (d->head + 1) % d->cap;
    d->count--;
    d->inflight = 1;
}

void wq_done(wdisp *d)
{
    pthread_mutex_lock(&d->mu);
    d->inflight = 0;
    pthread_cond_broadcast(&d->idle);
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
        wq_take(d, &j);
        pthread_mutex_unlock(&d->mu);

        deliver(d, h, &j);
        wq_job_free(&j);
        wq_done(d);
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

void wq_init(wdisp *d)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->work, &ca);
    pthread_cond_init(&d->idle, &ca);
    pthread_condattr_destroy(&ca);
}

int wq_start(wdisp *d, size_t cap)
{
    d->cap = cap;
    d->ring = (wjob *)calloc(cap, sizeof(wjob));
    if (d->ring == NULL)
        return -1;
    if (pthread_create(&d->thread, NULL, worker, d) != 0)
        return -2;
    d->thread_started = 1;
    return 0;
}

int wq_push(wdisp *d, wjob *j)
{
    pthread_mutex_lock(&d->mu);
    if (d->closing || d->ring == NULL) {
        pthread_mutex_unlock(&d->mu);
        return WQ_CLOSED;
    }
    if (d->count == d->cap) {
        d->dropped += 1;
        pthread_mutex_unlock(&d->mu);
        return WQ_FULL;
    }
    d->ring[(d->head + d->count) % d->cap] = *j;
    d->count++;
    d->queued += 1;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
    return WQ_OK;
}

int wq_flush(wdisp *d, long ms)
{
    struct timespec until = deadline_in(ms);
    int drained;
    pthread_mutex_lock(&d->mu);
    while ((d->count > 0 || d->inflight) && !d->closing) {
        if (pthread_cond_timedwait(&d->idle, &d->mu, &until) == ETIMEDOUT)
            break;
    }
    drained = d->count == 0 && !d->inflight;
    pthread_mutex_unlock(&d->mu);
    return drained;
}

void wq_stats(wdisp *d, wstats *out)
{
    pthread_mutex_lock(&d->mu);
    out->queued = d->queued;
    out->delivered = d->delivered;
    out->failed = d->failed;
    out->dropped = d->dropped;
    out->retried = d->retried;
    out->pending = d->count + (size_t)d->inflight;
    out->last_status = d->last_status;
    memcpy(out->last_error, d->last_error, sizeof out->last_error);
    pthread_mutex_unlock(&d->mu);
}

void wq_stop(wdisp *d)
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
            wq_job_free(&d->ring[(d->head + i) % d->cap]);
        d->dropped += (uint64_t)d->count;
        d->count = 0;
        free(d->ring);
        d->ring = NULL;
    }
}

void wq_free(wdisp *d)
{
    if (d == NULL)
        return;
    wq_stop(d);
    free(d->proxy);
    free(d->noproxy);
    free(d->cainfo);
    free(d->user_agent);
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->idle);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
