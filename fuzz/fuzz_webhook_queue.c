/*
** fuzz_webhook_queue.c — the webhook delivery queue (bindings/lua/
** webhook_queue.c) driven by arbitrary sequences of operations.
**
** Mode byte, bit 0 clear: no worker thread. The ring is allocated as
** wq_start does, and the harness plays the worker with wq_take/wq_done.
** Operations: push a job (URL, body and header lines from the input; the
** ring may be full), pop the oldest, finish the popped one, read the
** counters, flush with no wait, stop (pushes then report closed). A model
** FIFO checks every result: order of pops, WQ_FULL exactly when the ring
** holds cap jobs, WQ_CLOSED after stop, queued/dropped/pending counts.
**
** Bit 0 set: the real worker thread (wq_start). Jobs go to a URL scheme
** curl refuses before any network access, with no retries, so each fails at
** once. After a flush and wq_stop every job is accounted for:
** queued + rejected-full == delivered + failed + dropped.
*/
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "webhook_queue.h"

#define MAXQ 64

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

/* Makes a job from the input; its body starts with the 8-byte id. Returns 0
 * when out of memory (nothing left allocated). */
static int make_job(fuzz_in *in, wjob *j, uint64_t id) {
    size_t ulen, blen;
    const uint8_t *u = fi_piece(in, 64, &ulen);
    const uint8_t *b = fi_piece(in, 128, &blen);
    memset(j, 0, sizeof *j);
    char url[80];
    int k = snprintf(url, sizeof url, "astro-fuzz-nonet://h/");
    for (size_t i = 0; i < ulen && k < (int)sizeof url - 1; i++)
        url[k++] = (char)('a' + u[i] % 26);   /* stays in the refused scheme */
    url[k] = '\0';
    j->url = wq_dupn(url, (size_t)k);
    j->body = malloc(8 + blen);
    j->nhdrs = fi_u8(in) % 4;
    j->hdrs = calloc((size_t)j->nhdrs + 1, sizeof *j->hdrs);
    if (!j->url || !j->body || !j->hdrs) {
        j->nhdrs = 0;
        wq_job_free(j);
        return 0;
    }
    memcpy(j->body, &id, 8);
    if (blen) memcpy(j->body + 8, b, blen);
    j->body_len = 8 + blen;
    for (int i = 0; i < j->nhdrs; i++) {
        size_t hl;
        const uint8_t *h = fi_piece(in, 32, &hl);
        j->hdrs[i] = wq_dupn((const char *)h, hl);
        if (!j->hdrs[i]) {
            j->nhdrs = i;
            wq_job_free(j);
            return 0;
        }
        for (size_t c = 0; c < hl; c++)   /* header lines are single lines */
            if (j->hdrs[i][c] == '\r' || j->hdrs[i][c] == '\n' || j->hdrs[i][c] == '\0') j->hdrs[i][c] = ' ';
    }
    j->retries = 0;
    j->retry_delay_ms = 0;
    j->timeout_ms = 1000;
    j->put = fi_u8(in) & 1;
    return 1;
}

static uint64_t job_id(const wjob *j) {
    uint64_t id;
    FUZZ_CHECK(j->body != NULL && j->body_len >= 8);
    memcpy(&id, j->body, 8);
    return id;
}

static wdisp *new_disp(void) {
    wdisp *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    wq_init(d);
    d->connect_timeout_ms = 1000;
    d->max_delay_ms = 10;
    return d;
}

static void run_model(fuzz_in *in, size_t cap) {
    wdisp *d = new_disp();
    if (!d) return;
    /* wq_start without the thread */
    d->cap = cap;
    d->ring = calloc(cap, sizeof(wjob));
    if (!d->ring) {
        wq_free(d);
        return;
    }
    uint64_t fifo[MAXQ];
    size_t head = 0, count = 0;
    uint64_t next_id = 1, queued = 0, dropped = 0;
    int closed = 0, inflight = 0;
    wjob cur;
    memset(&cur, 0, sizeof cur);
    while (in->n > 0) {
        uint8_t op = fi_u8(in);
        switch (op % 8) {
        case 0: case 1: case 2: {
            wjob j;
            uint64_t id = next_id++;
            if (!make_job(in, &j, id)) break;
            int rc = wq_push(d, &j);
            if (closed) {
                FUZZ_CHECK(rc == WQ_CLOSED);
            } else if (count == cap) {
                FUZZ_CHECK(rc == WQ_FULL);
                dropped++;
            } else {
                FUZZ_CHECK(rc == WQ_OK);
                fifo[(head + count) % cap] = id;
                count++;
                queued++;
            }
            if (rc != WQ_OK) wq_job_free(&j);   /* ownership moves on WQ_OK only */
            break;
        }
        case 3: case 4:
            if (closed || inflight || count == 0) break;   /* the worker waits */
            pthread_mutex_lock(&d->mu);
            wq_take(d, &cur);
            pthread_mutex_unlock(&d->mu);
            FUZZ_CHECK(job_id(&cur) == fifo[head]);
            head = (head + 1) % cap;
            count--;
            inflight = 1;
            break;
        case 5:
            if (!inflight) break;
            wq_job_free(&cur);
            wq_done(d);
            inflight = 0;
            break;
        case 6: {
            wstats st;
            wq_stats(d, &st);
            FUZZ_CHECK(st.queued == queued && st.dropped == dropped);
            FUZZ_CHECK(st.pending == count + (size_t)inflight);
            FUZZ_CHECK(st.delivered == 0 && st.failed == 0);
            FUZZ_CHECK(wq_flush(d, 0) == (count == 0 && !inflight));
            break;
        }
        default:
            if (op & 0x80) {
                wq_stop(d);
                if (!closed) dropped += count;
                count = 0;
                closed = 1;
            }
            break;
        }
    }
    if (inflight) {
        wq_job_free(&cur);
        wq_done(d);
    }
    wq_stop(d);
    wstats st;
    wq_stats(d, &st);
    FUZZ_CHECK(st.queued == queued && st.dropped == dropped + (closed ? 0 : count));
    FUZZ_CHECK(st.pending == 0);
    wq_free(d);
}

static void run_threaded(fuzz_in *in, size_t cap) {
    wdisp *d = new_disp();
    if (!d) return;
    if (wq_start(d, cap) != 0) {
        wq_free(d);
        return;
    }
    uint64_t full = 0, next_id = 1;
    int ops = 0;
    while (in->n > 0 && ops++ < 32) {
        uint8_t op = fi_u8(in);
        if (op % 4 == 3) {
            wq_flush(d, 50);
            continue;
        }
        wjob j;
        if (!make_job(in, &j, next_id++)) continue;
        int rc = wq_push(d, &j);
        FUZZ_CHECK(rc == WQ_OK || rc == WQ_FULL);
        if (rc != WQ_OK) {
            full++;
            wq_job_free(&j);
        }
    }
    wq_flush(d, 2000);
    wq_stop(d);
    wstats st;
    wq_stats(d, &st);
    FUZZ_CHECK(st.pending == 0);
    FUZZ_CHECK(st.queued + full == st.delivered + st.failed + st.dropped);
    FUZZ_CHECK(st.delivered == 0);
    wq_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    uint8_t mode = fi_u8(&in);
    size_t cap = 1 + (mode >> 1) % MAXQ;
    if (mode & 1) run_threaded(&in, cap);
    else run_model(&in, cap);
    return 0;
}
