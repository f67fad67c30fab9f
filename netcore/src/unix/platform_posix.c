/* POSIX platform layer (Linux): pthreads, CLOCK_MONOTONIC, errno mapping. */
#define _GNU_SOURCE
#include "../platform.h"

#include "netcore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    nc_thread_fn fn;
    void *arg;
    char name[16];
} thread_start_t;

static void *thread_main(void *p)
{
    thread_start_t st = *(thread_start_t *)p;
    free(p);
    if (st.name[0])
        pthread_setname_np(pthread_self(), st.name);
    st.fn(st.arg);
    return NULL;
}

int nc__thread_create(nc_thread_t *t, nc_thread_fn fn, void *arg, const char *name)
{
    thread_start_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NC_ENOMEM;
    st->fn = fn;
    st->arg = arg;
    if (name)
        snprintf(st->name, sizeof(st->name), "%s", name);
    int rc = pthread_create(t, NULL, thread_main, st);
    if (rc != 0) {
        free(st);
        return nc__err_from_os(rc);
    }
    return 0;
}

void nc__thread_join(nc_thread_t t)
{
    pthread_join(t, NULL);
}

uint64_t nc__thread_self_id(void)
{
    static atomic_uint_fast64_t next = 1;
    static _Thread_local uint64_t id;
    if (!id)
        id = atomic_fetch_add(&next, 1);
    return id;
}

void nc__mutex_init(nc_mutex_t *m)
{
    pthread_mutex_init(m, NULL);
}
void nc__mutex_destroy(nc_mutex_t *m)
{
    pthread_mutex_destroy(m);
}
void nc__mutex_lock(nc_mutex_t *m)
{
    pthread_mutex_lock(m);
}
void nc__mutex_unlock(nc_mutex_t *m)
{
    pthread_mutex_unlock(m);
}

void nc__cond_init(nc_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}
void nc__cond_destroy(nc_cond_t *c)
{
    pthread_cond_destroy(c);
}
void nc__cond_signal(nc_cond_t *c)
{
    pthread_cond_signal(c);
}
void nc__cond_broadcast(nc_cond_t *c)
{
    pthread_cond_broadcast(c);
}
void nc__cond_wait(nc_cond_t *c, nc_mutex_t *m)
{
    pthread_cond_wait(c, m);
}

int nc__cond_timedwait(nc_cond_t *c, nc_mutex_t *m, uint64_t timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return pthread_cond_timedwait(c, m, &ts) == ETIMEDOUT ? NC_ETIMEDOUT : 0;
}

void nc__sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

uint64_t nc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t nc_now_ms(void)
{
    return nc_now_ns() / 1000000u;
}

uint64_t nc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int nc__err_from_os(int e)
{
    switch (e) {
    case 0: return 0;
    case EINVAL: return NC_EINVAL;
    case ENOMEM: return NC_ENOMEM;
    case EAGAIN: return NC_EAGAIN;
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK: return NC_EAGAIN;
#endif
    case ECANCELED: return NC_ECANCELED;
    case ENOBUFS: return NC_ENOBUFS;
    case EMSGSIZE: return NC_EMSGSIZE;
    case EADDRINUSE: return NC_EADDRINUSE;
    case EADDRNOTAVAIL: return NC_EADDRNOTAVAIL;
    case ECONNREFUSED: return NC_ECONNREFUSED;
    case ECONNRESET: return NC_ECONNRESET;
    case ETIMEDOUT: return NC_ETIMEDOUT;
    case EHOSTUNREACH:
    case ENETUNREACH: return NC_EHOSTUNREACH;
    case EPIPE: return NC_EPIPE;
    case EMFILE:
    case ENFILE: return NC_EMFILE;
    case EEXIST: return NC_EEXIST;
    default: return NC_EIO;
    }
}

int nc__last_err(void)
{
    return nc__err_from_os(errno);
}

void nc__format_utc(char *buf, size_t n, uint64_t wall_ms)
{
    time_t secs = (time_t)(wall_ms / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ms % 1000u));
}

/* Linux refuses a soft limit above fs.nr_open even when the hard limit is
 * RLIM_INFINITY; 1 << 20 is the kernel's default nr_open. */
#define NR_OPEN_DEFAULT ((rlim_t)1 << 20)

int nc_fd_limit_raise(uint64_t want, uint64_t *soft_out, uint64_t *hard_out)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return nc__last_err();
    rlim_t target = rl.rlim_max;
    if (want && (rlim_t)want < target)
        target = (rlim_t)want;
    if (target > rl.rlim_cur) {
        struct rlimit nl = {target, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) != 0 && target > NR_OPEN_DEFAULT &&
            rl.rlim_cur < NR_OPEN_DEFAULT) {
            nl.rlim_cur = NR_OPEN_DEFAULT;
            (void)setrlimit(RLIMIT_NOFILE, &nl);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
            return nc__last_err();
    }
    if (soft_out)
        *soft_out = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    if (hard_out)
        *hard_out = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
    return want && (rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur < want) ? NC_EMFILE
                                                                                     : 0;
}

int nc_file_write_private(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? NC_EEXIST : nc__last_err();
    const uint8_t *p = data;
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        ssize_t n = write(fd, p + off, len - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EINTR)
            rc = nc__last_err();
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = nc__last_err();
    close(fd);
    if (rc != 0)
        unlink(path);
    return rc;
}

int nc_file_is_private(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return nc__last_err();
    return (st.st_mode & (S_IRWXG | S_IRWXO)) == 0;
}

int nc_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 65536 ? 65536 : (int)n;
}
