/*
** host_test.h — what the host API tests share: CHECK from core/tests/check.h,
** a scratch directory removed at exit, small file writers and a JSON field
** probe good enough for the flat responses the tests look at.
*/
#ifndef ASTRO_HOST_TEST_H
#define ASTRO_HOST_TEST_H

#define _POSIX_C_SOURCE 200809L     /* mkdtemp, kill, clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrocyte.h"
#include "check.h"

static char scratch[256];

/* Removes the scratch directory (atexit). */
static void scratch_rm(void)
{
    char cmd[320];
    if (!scratch[0] || getenv("ASTRO_KEEP_SCRATCH"))
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", scratch);
}

/* Creates the scratch directory; returns its path. */
static inline const char *scratch_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/astro-host.XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        exit(2);
    }
    atexit(scratch_rm);
    return scratch;
}

/* Writes text to scratch/name and returns the path in buf. */
static inline const char *scratch_file(char *buf, size_t cap, const char *name, const char *text)
{
    FILE *f;
    snprintf(buf, cap, "%s/%s", scratch, name);
    f = fopen(buf, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(buf);
        exit(2);
    }
    return buf;
}

/* Prints err when rc is not ASTRO_OK (so a failed CHECK says why). */
static inline int ok(int rc, const astro_error *err)
{
    if (rc != ASTRO_OK)
        fprintf(stderr, "  -> %d %s: %s\n", rc, err->kind, err->message);
    return rc == ASTRO_OK;
}

#endif
