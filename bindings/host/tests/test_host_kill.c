/*
** test_host_kill.c — ctest host.kill: a child process retains in a loop and
** prints "<n> <memory_id>" after each retain returns (acknowledged); the
** parent SIGKILLs it at a random point, almost always in the middle of a
** retain, then reopens the store and checks that every acknowledged memory
** is recalled by its unique word. Three rounds on one database file.
*/
#include "host_test.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 3
#define MAX_ACK 20000

static char ids[MAX_ACK][40];
static int acked[MAX_ACK];

/* The child: retains until killed. */
static int child(const char *db, int base)
{
    astro_open_opts o;
    astro_error err;
    astro_engine *e;
    int n;
    astro_open_opts_init(&o);
    o.workers = 0;
    o.db = db;
    e = astro_engine_open_ex("vector_store: sqlite\n", &o, &err);
    if (!e) {
        fprintf(stderr, "child open: %s: %s\n", err.kind, err.message);
        return 1;
    }
    for (n = base; n < MAX_ACK; n++) {
        char req[256], *json = NULL, *p;
        snprintf(req, sizeof req, "{\"content\":\"Lantern log entry %d mentions the word zq%dx near the well.\","
                                  "\"bank_id\":\"kill\"}", n, n);
        if (astro_retain(e, req, &json, &err) != ASTRO_OK) {
            fprintf(stderr, "child retain: %s: %s\n", err.kind, err.message);
            return 1;
        }
        p = strstr(json, "\"memory_id\":\"");
        if (p)
            printf("%d %.*s\n", n, (int)strcspn(p + 13, "\""), p + 13);
        fflush(stdout);
        astro_free(json);
    }
    astro_engine_free(e);
    return 0;
}

/* One round: spawn, read acknowledgements, kill after `after` of them plus a
 * random delay; returns the next entry number. */
static int round_run(const char *self, const char *db, int base, int after, long delay_us)
{
    int fds[2], n = base, seen = 0, status;
    char arg[32], line[128];
    FILE *in;
    pid_t pid;
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        snprintf(arg, sizeof arg, "%d", base);
        execl(self, self, "child", db, arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    in = fdopen(fds[0], "r");
    while (in && fgets(line, sizeof line, in)) {
        int k;
        char id[40];
        if (sscanf(line, "%d %39s", &k, id) == 2 && k >= 0 && k < MAX_ACK) {
            snprintf(ids[k], sizeof ids[k], "%s", id);
            acked[k] = 1;
            n = k + 1;
            if (++seen == after) {
                struct timespec ts = {0, delay_us * 1000};
                nanosleep(&ts, NULL);
                kill(pid, SIGKILL);     /* lines already in the pipe are still read */
            }
        }
    }
    if (in)
        fclose(in);
    waitpid(pid, &status, 0);
    CHECK("kill-1.1", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return n;
}

int main(int argc, char **argv)
{
    char db[512];
    astro_open_opts o;
    astro_error err;
    astro_engine *e;
    int r, n = 0, k, total = 0, lost = 0;
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child(argv[2], atoi(argv[3]));
    snprintf(db, sizeof db, "%s/kill.db", scratch_dir());
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (r = 0; r < ROUNDS; r++) {
        int after = 10 + rand() % 40;
        long delay = rand() % 20000;
        n = round_run("/proc/self/exe", db, n, after, delay);
        if (n < 0)
            return 2;
        printf("round %d: killed %ld us after the %dth acknowledged retain\n", r + 1, delay, after);
    }
    astro_open_opts_init(&o);
    o.workers = 0;
    o.db = db;
    e = astro_engine_open_ex("vector_store: sqlite\n", &o, &err);
    CHECK("kill-2.1", e != NULL);
    if (!e) {
        fprintf(stderr, "reopen: %s: %s\n", err.kind, err.message);
        return 1;
    }
    for (k = 0; k < n; k++) {
        char req[160];
        astro_hits *hits = NULL;
        size_t i;
        int found = 0;
        if (!acked[k])
            continue;
        total++;
        snprintf(req, sizeof req, "{\"query\":\"zq%dx\",\"bank_id\":\"kill\",\"max_results\":3}", k);
        if (astro_recall_hits(e, req, &hits, NULL, &err) == ASTRO_OK)
            for (i = 0; i < hits->count; i++)
                found |= strcmp(hits->hits[i].memory_id, ids[k]) == 0;
        astro_hits_free(hits);
        if (!found) {
            lost++;
            fprintf(stderr, "acknowledged memory %d (%s) not found\n", k, ids[k]);
        }
    }
    CHECK("kill-2.2", total >= ROUNDS * 10);
    CHECK("kill-2.3", lost == 0);
    astro_engine_free(e);
    if (failures == 0)
        printf("host.kill: ok (%d acknowledged retains over %d kills, none lost)\n", total, ROUNDS);
    return failures != 0;
}
