/*
** faultfs.c — an LD_PRELOAD library, built only for the specs, that makes
** file system calls on matching paths fail, so the reliability specs can
** give the embedded store a full disk, EIO, a read-only file or a
** vanishing directory deterministically and without root.
**
** Controlled by the environment (read once, at load):
**   FAULTFS_PATH   substring of the file's path; unset or empty: inert;
**                  ending in '$': the path must end with it
**   FAULTFS_OP     comma list: write (write, pwrite, pwrite64, writev),
**                  fsync (fsync, fdatasync), read (read, pread, pread64),
**                  open (any open), openw (opens asking for write access)
**   FAULTFS_ERRNO  ENOSPC | EIO | EROFS | EACCES | ENOENT (default EIO)
**   FAULTFS_AFTER  matching calls let through before the first fault (0)
**   FAULTFS_AFTER_BYTES  write only: bytes let through before the disk is
**                  "full" (a write across the limit is cut short, as on a
**                  real full disk)
**   FAULTFS_TIMES  faults to inject, then pass everything again (default:
**                  no end)
**   FAULTFS_COUNT  file that gets the number of injected faults at exit
**
** An interposer has to keep its counters in process-wide state; they are
** atomics, written only here, and exist only in this test library.
*/
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS /* this file defines open and open64 both, unredirected */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_FSYNC = 2, OP_READ = 4, OP_OPEN = 8, OP_OPENW = 16 };

static char cfg_path[512];
static size_t cfg_len;
static int cfg_anchored;
static int cfg_ops, cfg_errno = EIO;
static long cfg_after, cfg_times = -1;
static long long cfg_after_bytes = -1;
static atomic_long calls, injected;
static atomic_llong bytes;

static int parse_errno(const char *s) {
    static const struct { const char *name; int e; } tab[] = {
        { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EROFS", EROFS }, { "EACCES", EACCES }, { "ENOENT", ENOENT } };
    for (size_t i = 0; s && i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0) return tab[i].e;
    return EIO;
}

__attribute__((constructor)) static void faultfs_init(void) {
    const char *p = getenv("FAULTFS_PATH");
    if (!p || !*p || strlen(p) >= sizeof cfg_path) return;
    strcpy(cfg_path, p);
    cfg_len = strlen(cfg_path);
    if (cfg_path[cfg_len - 1] == '$') {
        cfg_path[--cfg_len] = '\0';
        cfg_anchored = 1;
    }
    const char *ops = getenv("FAULTFS_OP");
    if (ops) {
        if (strstr(ops, "write")) cfg_ops |= OP_WRITE;
        if (strstr(ops, "fsync")) cfg_ops |= OP_FSYNC;
        if (strstr(ops, "read")) cfg_ops |= OP_READ;
        if (strstr(ops, "openw")) cfg_ops |= OP_OPENW;
        else if (strstr(ops, "open")) cfg_ops |= OP_OPEN;
    }
    cfg_errno = parse_errno(getenv("FAULTFS_ERRNO"));
    const char *a = getenv("FAULTFS_AFTER");
    if (a) cfg_after = strtol(a, NULL, 10);
    a = getenv("FAULTFS_AFTER_BYTES");
    if (a) cfg_after_bytes = strtoll(a, NULL, 10);
    a = getenv("FAULTFS_TIMES");
    if (a) cfg_times = strtol(a, NULL, 10);
}

__attribute__((destructor)) static void faultfs_fini(void) {
    const char *out = getenv("FAULTFS_COUNT");
    if (!cfg_path[0] || !out) return;
    FILE *f = fopen(out, "w");
    if (!f) return;
    fprintf(f, "%ld\n", atomic_load(&injected));
    fclose(f);
}

static void *real(const char *name) {
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn) {
        fprintf(stderr, "faultfs: no symbol %s\n", name);
        abort();
    }
    return fn;
}

/* True when path matches FAULTFS_PATH. */
static int path_matches(const char *path) {
    if (!cfg_anchored) return strstr(path, cfg_path) != NULL;
    size_t n = strlen(path);
    return n >= cfg_len && strcmp(path + n - cfg_len, cfg_path) == 0;
}

/* True when the path of fd matches FAULTFS_PATH. */
static int fd_matches(int fd) {
    char link[64], target[1024];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = '\0';
    return path_matches(target);
}

/* Decides one call of kind op: 1 = fail it (errno set), 0 = pass it. */
static int should_fail(int op, int matches) {
    if (!cfg_path[0] || !(cfg_ops & op) || !matches) return 0;
    if (atomic_fetch_add(&calls, 1) < cfg_after) return 0;
    if (cfg_times >= 0 && atomic_load(&injected) >= cfg_times) return 0;
    atomic_fetch_add(&injected, 1);
    errno = cfg_errno;
    return 1;
}

static int fd_fails(int op, int fd) {
    return cfg_path[0] && (cfg_ops & op) && should_fail(op, fd_matches(fd));
}

/* Bytes of a write of n the "disk" still takes: n, fewer, or -1 (full). */
static ssize_t write_budget(int fd, size_t n) {
    if (!cfg_path[0] || !(cfg_ops & OP_WRITE) || !fd_matches(fd)) return (ssize_t)n;
    if (cfg_after_bytes < 0) return should_fail(OP_WRITE, 1) ? -1 : (ssize_t)n;
    long long used = atomic_fetch_add(&bytes, (long long)n);
    if (used + (long long)n <= cfg_after_bytes) return (ssize_t)n;
    if (cfg_times >= 0 && atomic_load(&injected) >= cfg_times) return (ssize_t)n;
    atomic_fetch_add(&injected, 1);
    if (used < cfg_after_bytes) return (ssize_t)(cfg_after_bytes - used);
    errno = cfg_errno;
    return -1;
}

static int open_fails(const char *path, int flags) {
    if (!cfg_path[0] || !path || !path_matches(path)) return 0;
    if (cfg_ops & OP_OPEN) return should_fail(OP_OPEN, 1);
    if ((cfg_ops & OP_OPENW) && (flags & (O_WRONLY | O_RDWR | O_CREAT)))
        return should_fail(OP_OPENW, 1);
    return 0;
}

#define OPEN_BODY(name, type, ...)                                      \
    mode_t mode = 0;                                                    \
    if (flags & (O_CREAT | O_TMPFILE)) {                                \
        va_list ap;                                                     \
        va_start(ap, flags);                                            \
        mode = (mode_t)va_arg(ap, int);                                 \
        va_end(ap);                                                     \
    }                                                                   \
    if (open_fails(path, flags)) return -1;                             \
    return ((type)real(name))(__VA_ARGS__, flags, mode)

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
int open(const char *path, int flags, ...) { OPEN_BODY("open", open_fn, path); }
int open64(const char *path, int flags, ...) { OPEN_BODY("open64", open_fn, path); }
int openat(int dirfd, const char *path, int flags, ...) { OPEN_BODY("openat", openat_fn, dirfd, path); }
int openat64(int dirfd, const char *path, int flags, ...) { OPEN_BODY("openat64", openat_fn, dirfd, path); }

ssize_t write(int fd, const void *buf, size_t n) {
    ssize_t k = write_budget(fd, n);
    if (k < 0) return -1;
    return ((ssize_t (*)(int, const void *, size_t))real("write"))(fd, buf, (size_t)k);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    ssize_t k = write_budget(fd, n);
    if (k < 0) return -1;
    return ((ssize_t (*)(int, const void *, size_t, off_t))real("pwrite"))(fd, buf, (size_t)k, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    ssize_t k = write_budget(fd, n);
    if (k < 0) return -1;
    return ((ssize_t (*)(int, const void *, size_t, off64_t))real("pwrite64"))(fd, buf, (size_t)k, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    if (fd_fails(OP_WRITE, fd)) return -1;
    return ((ssize_t (*)(int, const struct iovec *, int))real("writev"))(fd, iov, cnt);
}

int fsync(int fd) {
    if (fd_fails(OP_FSYNC, fd)) return -1;
    return ((int (*)(int))real("fsync"))(fd);
}

int fdatasync(int fd) {
    if (fd_fails(OP_FSYNC, fd)) return -1;
    return ((int (*)(int))real("fdatasync"))(fd);
}

ssize_t read(int fd, void *buf, size_t n) {
    if (fd_fails(OP_READ, fd)) return -1;
    return ((ssize_t (*)(int, void *, size_t))real("read"))(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
    if (fd_fails(OP_READ, fd)) return -1;
    return ((ssize_t (*)(int, void *, size_t, off_t))real("pread"))(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
    if (fd_fails(OP_READ, fd)) return -1;
    return ((ssize_t (*)(int, void *, size_t, off64_t))real("pread64"))(fd, buf, n, off);
}
