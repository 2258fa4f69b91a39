/*
** game_server — a fixed 60 Hz tick loop (16.6 ms frames) embedding Astrocyte
** through the C host API. Each NPC retains what it observes and recalls
** before it speaks; both go through astro_submit() and come back through
** astro_poll() at the end of the tick, so the frame never waits on the
** engine (the worker thread does the disk and index work).
**
**   game_server [--db PATH] [--config FILE] [--ticks N] [--npcs N]
**   game_server --bench [--fill N] [--seconds S] [--recalls R] [--retains W]
**
** --bench runs S seconds with memory traffic off, then S seconds with R
** recalls/s and W retains/s submitted from the tick, and prints frame-time
** p50/p99/max for both. --fill first grows the store to N memories (spread
** over the NPC banks) with synchronous retains; reuse the --db file to skip
** that on the next run.
*/
#define _POSIX_C_SOURCE 200809L
#include <astrocyte.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_NS 16666667L
#define MAX_NPCS 256

static const char *const who[] = {"the blacksmith", "a hooded stranger", "the mayor", "two guards",
                                  "a merchant", "the innkeeper", "a wolf", "the healer",
                                  "a courier", "the miller", "a bard", "the captain"};
static const char *const act[] = {"carrying", "selling", "hiding", "stealing", "repairing",
                                  "buying", "burning", "guarding", "counting", "dropping"};
static const char *const obj[] = {"iron ore", "a sealed letter", "silver coins", "a lantern",
                                  "grain sacks", "a map", "red apples", "a longsword",
                                  "healing herbs", "a locked chest", "fresh bread", "rope"};
static const char *const place[] = {"the north gate", "the mill", "the market square", "the well",
                                    "the chapel", "the docks", "the east forest", "the tavern",
                                    "the bridge", "the barracks"};
#define PICK(a, r) a[(r) % (sizeof a / sizeof a[0])]

typedef struct npc {
    float x, y, vx, vy;
    char line[128];           /* what it last said (from its top recall hit) */
} npc;

typedef struct stats {
    double *frame_ms;         /* per frame: work time of the tick */
    size_t frames, cap;
    double *latency_ms;       /* per recall: submit -> delivered */
    size_t recalls, lat_cap;
    double *run_ms[2];        /* per job run time on the worker: recall, retain */
    size_t runs[2], run_cap[2];
    long retains, failed, busy, overruns, spoke;
} stats;

typedef struct game {
    astro_engine *e;
    npc npcs[MAX_NPCS];
    int n;
    uint64_t rng;
    long day;
    stats st;
    double now_ms;
} game;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void push(double **v, size_t *n, size_t *cap, double x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        double *g = realloc(*v, c * sizeof *g);
        if (!g)
            return;             /* a lost sample; the loop goes on */
        *v = g;
        *cap = c;
    }
    (*v)[(*n)++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)fmin((double)n - 1, floor(p * (double)n))];
}

/* One observation of NPC i as a retain request. */
static void observation(game *g, int i, char *buf, size_t cap)
{
    uint64_t r = next_rand(&g->rng);
    snprintf(buf, cap, "{\"content\":\"On day %ld I saw %s %s %s near %s.\",\"bank_id\":\"npc-%d\","
                       "\"tags\":[\"seen\"]}",
             g->day, PICK(who, r), PICK(act, r >> 8), PICK(obj, r >> 16), PICK(place, r >> 24), i);
}

/* Delivered on the game thread by astro_poll(). */
static void on_result(astro_result *r, void *ud)
{
    game *g = ud;
    npc *n = &g->npcs[(intptr_t)r->user % MAX_NPCS];
    if (r->code != ASTRO_OK) {
        g->st.failed++;
        return;
    }
    if (r->verb == ASTRO_RETAIN || r->verb == ASTRO_RECALL) {
        int k = r->verb == ASTRO_RETAIN;
        push(&g->st.run_ms[k], &g->st.runs[k], &g->st.run_cap[k], r->run_ms);
    }
    if (r->verb == ASTRO_RETAIN) {
        g->st.retains++;
    } else if (r->verb == ASTRO_RECALL) {
        push(&g->st.latency_ms, &g->st.recalls, &g->st.lat_cap, r->queued_ms + r->run_ms);
        if (r->hits->count > 0) {
            snprintf(n->line, sizeof n->line, "%s", r->hits->hits[0].text);
            g->st.spoke++;
        }
    }
}

/* The per-tick world update: NPCs wander inside a 100 x 100 field. */
static void simulate(game *g)
{
    int i;
    for (i = 0; i < g->n; i++) {
        npc *n = &g->npcs[i];
        n->x += n->vx / 60.0f;
        n->y += n->vy / 60.0f;
        if (n->x < 0 || n->x > 100)
            n->vx = -n->vx;
        if (n->y < 0 || n->y > 100)
            n->vy = -n->vy;
    }
}

/* Runs `ticks` frames at 60 Hz, submitting recalls/retains per second. */
static void run(game *g, long ticks, double recalls, double retains)
{
    struct timespec next;
    double acc_r = 0, acc_w = 0;
    long t;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (t = 0; t < ticks; t++) {
        double t0 = now_ms();
        char req[512];
        astro_error err;
        uint64_t ticket;
        simulate(g);
        if (t % 60 == 0)
            g->day++;
        for (acc_r += recalls / 60.0; acc_r >= 1.0; acc_r -= 1.0) {
            int i = (int)(next_rand(&g->rng) % (uint64_t)g->n);
            uint64_t r = next_rand(&g->rng);
            snprintf(req, sizeof req, "{\"query\":\"who was near %s with %s?\",\"bank_id\":\"npc-%d\","
                                      "\"max_results\":3}", PICK(place, r), PICK(obj, r >> 8), i);
            if (astro_submit(g->e, ASTRO_RECALL, req, (void *)(intptr_t)i, &ticket, &err) != ASTRO_OK)
                g->st.busy++;
        }
        for (acc_w += retains / 60.0; acc_w >= 1.0; acc_w -= 1.0) {
            int i = (int)(next_rand(&g->rng) % (uint64_t)g->n);
            observation(g, i, req, sizeof req);
            if (astro_submit(g->e, ASTRO_RETAIN, req, (void *)(intptr_t)i, &ticket, &err) != ASTRO_OK)
                g->st.busy++;
        }
        astro_poll(g->e, on_result, g, 0);
        {
            double ms = now_ms() - t0;
            push(&g->st.frame_ms, &g->st.frames, &g->st.cap, ms);
        }
        next.tv_nsec += TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        {
            struct timespec cur;
            clock_gettime(CLOCK_MONOTONIC, &cur);
            if (cur.tv_sec > next.tv_sec || (cur.tv_sec == next.tv_sec && cur.tv_nsec > next.tv_nsec))
                g->st.overruns++;   /* this tick ended after the next one was due */
            else
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        }
    }
}

/* Total memories over every bank, or -1. */
static long memory_count(astro_engine *e)
{
    astro_error err;
    char *json = NULL, *p;
    long n = 0;
    if (astro_banks(e, &json, &err) != ASTRO_OK) {
        fprintf(stderr, "banks: %s: %s\n", err.kind, err.message);
        return -1;
    }
    for (p = json; (p = strstr(p, "\"memory_count\":")) != NULL; p++)
        n += strtol(p + 15, NULL, 10);
    astro_free(json);
    return n;
}

/* Grows the store to `target` memories with synchronous retains (again
 * while near-duplicates, which are not stored, leave it short). */
static int fill(game *g, long target)
{
    long have, i, done = 0;
    double t0 = now_ms();
    while ((have = memory_count(g->e)) >= 0 && have < target) {
        for (i = have; i < target; i++, done++) {
            char req[512];
            astro_error err;
            g->day += done % 500 == 0;
            observation(g, (int)(done % g->n), req, sizeof req);
            if (astro_retain(g->e, req, NULL, &err) != ASTRO_OK) {
                fprintf(stderr, "fill: %s: %s\n", err.kind, err.message);
                return -1;
            }
            if ((done + 1) % 10000 == 0)
                fprintf(stderr, "fill: %ld retains (%.0f/s)\n", done + 1, (double)(done + 1) * 1e3 / (now_ms() - t0));
        }
    }
    return have < 0 ? -1 : 0;
}

static void report(const char *phase, stats *s, double seconds)
{
    printf("%-4s %7zu %8.3f %8.3f %8.3f %8ld %8.1f %8.1f %9.2f %9.2f %8.2f %8.2f %6ld %6ld\n", phase,
           s->frames, pct(s->frame_ms, s->frames, 0.50), pct(s->frame_ms, s->frames, 0.99),
           pct(s->frame_ms, s->frames, 1.0), s->overruns, (double)s->recalls / seconds,
           (double)s->retains / seconds, pct(s->latency_ms, s->recalls, 0.50),
           pct(s->latency_ms, s->recalls, 0.99), pct(s->run_ms[0], s->runs[0], 0.50),
           pct(s->run_ms[1], s->runs[1], 0.50), s->busy, s->failed);
}

static void reset(stats *s)
{
    free(s->frame_ms);
    free(s->latency_ms);
    free(s->run_ms[0]);
    free(s->run_ms[1]);
    memset(s, 0, sizeof *s);
}

int main(int argc, char **argv)
{
    const char *db = "game_server.db", *config = "vector_store: sqlite\n";
    long ticks = 180, target = 0;
    double seconds = 20, recalls = 200, retains = 50;
    int bench = 0, i, workers = 1, nice_level = 10;
    static game g;
    astro_open_opts o;
    astro_error err;
    g.n = 50;
    /* A new seed each run, so a rerun on the same file stores new memories
     * instead of near-duplicates (which the engine skips, a cheaper path). */
    g.rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)time(NULL) * 2654435761ULL);
    g.day = (long)(time(NULL) % 100000);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bench") == 0) bench = 1;
        else if (strcmp(a, "--db") == 0 && v) db = argv[++i];
        else if (strcmp(a, "--config") == 0 && v) config = argv[++i];
        else if (strcmp(a, "--ticks") == 0 && v) ticks = atol(argv[++i]);
        else if (strcmp(a, "--npcs") == 0 && v) g.n = atoi(argv[++i]);
        else if (strcmp(a, "--fill") == 0 && v) target = atol(argv[++i]);
        else if (strcmp(a, "--seconds") == 0 && v) seconds = atof(argv[++i]);
        else if (strcmp(a, "--recalls") == 0 && v) recalls = atof(argv[++i]);
        else if (strcmp(a, "--retains") == 0 && v) retains = atof(argv[++i]);
        else if (strcmp(a, "--workers") == 0 && v) workers = atoi(argv[++i]);
        else if (strcmp(a, "--nice") == 0 && v) nice_level = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--db PATH] [--config FILE] [--ticks N] [--npcs N] [--workers N] [--nice N]\n"
                            "       [--bench [--fill N] [--seconds S] [--recalls R] [--retains W]]\n", argv[0]);
            return 1;
        }
    }
    if (g.n < 1 || g.n > MAX_NPCS)
        g.n = 50;
    for (i = 0; i < g.n; i++) {
        g.npcs[i].x = (float)(i % 10) * 10.0f;
        g.npcs[i].y = (float)(i / 10) * 10.0f;
        g.npcs[i].vx = 1.0f + (float)(i % 3);
        g.npcs[i].vy = 1.0f + (float)(i % 5);
    }
    astro_open_opts_init(&o);
    o.db = db;
    o.workers = workers;
    o.worker_nice = nice_level;     /* the tick thread wins the CPU over the workers */
    g.e = astro_engine_open_ex(config, &o, &err);
    if (!g.e) {
        fprintf(stderr, "open: %s: %s\n", err.kind, err.message);
        return 1;
    }
    if (target > 0 && fill(&g, target) != 0)
        return 1;

    if (!bench) {
        int ok;
        run(&g, ticks, recalls, retains);
        while (astro_pending(g.e) > 0 && astro_wait(g.e, 10000))
            astro_poll(g.e, on_result, &g, 0);
        printf("%ld ticks: %ld retains, %zu recalls, %ld NPC lines, %ld failed\n", ticks, g.st.retains,
               g.st.recalls, g.st.spoke, g.st.failed);
        for (i = 0; i < g.n && i < 3; i++)
            if (g.npcs[i].line[0])
                printf("npc-%d says: \"%s\"\n", i, g.npcs[i].line);
        ok = g.st.retains > 0 && g.st.recalls > 0 && g.st.failed == 0;
        reset(&g.st);
        astro_engine_free(g.e);
        return ok ? 0 : 1;
    }

    printf("memories: %ld in %d NPC banks; workers: %d (nice %d); traffic on: %.0f recalls/s + %.0f "
           "retains/s; %.0f s per phase\n", memory_count(g.e), g.n, workers, nice_level, recalls, retains,
           seconds);
    printf("%-4s %7s %8s %8s %8s %8s %8s %8s %9s %9s %8s %8s %6s %6s\n", "mem", "frames", "p50_ms",
           "p99_ms", "max_ms", "overrun", "recall/s", "retain/s", "rlat_p50", "rlat_p99", "rrun_p50",
           "wrun_p50", "busy", "failed");
    run(&g, (long)(seconds * 60), 0, 0);
    report("off", &g.st, seconds);
    reset(&g.st);
    run(&g, (long)(seconds * 60), recalls, retains);
    report("on", &g.st, seconds);
    while (astro_pending(g.e) > 0 && astro_wait(g.e, 10000))
        astro_poll(g.e, on_result, &g, 0);
    reset(&g.st);
    astro_engine_free(g.e);
    return 0;
}
