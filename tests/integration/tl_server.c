/* See tl_server.h.  Deadlines everywhere; the log is polled every 2 ms. */
#define _POSIX_C_SOURCE 200809L
#include "tl_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int64_t tl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tl_server_init(tl_server_t *s, const char *tag)
{
    memset(s, 0, sizeof *s);
    s->p.pid = -1;
    s->p.out_fd = s->p.in_fd = -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/%s_XXXXXX", tag);
    if (!mkdtemp(s->dir)) {
        s->dir[0] = 0;
        return -1;
    }
    snprintf(s->db, sizeof s->db, "%s/gs.db", s->dir);
    snprintf(s->log, sizeof s->log, "%s/stderr.log", s->dir);
    return 0;
}

/* The value of the token "key=N" of line, or 0. */
static int field(const char *line, const char *key)
{
    size_t k = strlen(key);
    for (const char *t = line; *t;) {
        if (!strncmp(t, key, k) && t[k] == '=')
            return atoi(t + k + 1);
        t += strcspn(t, " ");
        t += strspn(t, " ");
    }
    return 0;
}

void tl_server_dump_log(const tl_server_t *s, size_t bytes)
{
    FILE *f = s->log[0] ? fopen(s->log, "r") : NULL;
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, bytes && size > (long)bytes ? size - (long)bytes : 0, SEEK_SET);
    fprintf(stderr, "--- %s%s ---\n", bytes ? "end of " : "", s->log);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "\n---\n");
    fclose(f);
}

int tl_server_start(tl_server_t *s, const char *const *argv, const char *ready, int timeout_ms)
{
    const char *needle = ready ? ready : "READY port=";
    const char *slash = strrchr(argv[0], '/');
    snprintf(s->name, sizeof s->name, "%s", slash ? slash + 1 : argv[0]);
    s->ready[0] = 0;
    s->port = s->metrics_port = s->admin_port = s->login_port = 0;
    int64_t end = tl_now_ms() + timeout_ms;
    long at = tl_proc_spawn(&s->p, argv, 0, s->log) == 0
                  ? tl_proc_wait_for(&s->p, needle, 0, timeout_ms)
                  : -1;
    long eol = at < 0 ? -1 : tl_proc_wait_for(&s->p, "\n", (size_t)at, (int)(end - tl_now_ms()));
    if (eol < 0) {
        int eof = s->p.out_fd < 0; /* it exited (or closed stdout) first */
        int st = tl_proc_stop(&s->p, SIGKILL, 2000);
        fprintf(stderr, "%s: no '%s' line %s (status %d); its stdout:\n%s\n", s->name, needle,
                eof ? "before its stdout closed" : "within the deadline", st, s->p.out);
        tl_server_dump_log(s, 4096);
        return -1;
    }
    size_t from = (size_t)at - strlen(needle);
    while (from > 0 && s->p.out[from - 1] != '\n')
        from--;
    snprintf(s->ready, sizeof s->ready, "%.*s", (int)((size_t)eol - 1 - from), s->p.out + from);
    const char *r = s->ready;
    if (!strncmp(r, "READY ", 6))
        r += 6;
    s->port = field(r, "port");
    s->metrics_port = field(r, "metrics_port");
    s->admin_port = field(r, "admin_port");
    s->login_port = field(r, "login_port");
    return 0;
}

#define TL_ARGV_MAX 64
/* Appends args (NULL-terminated) to argv[0..n) and the NULL.  0, or -1
 * (said so, for `who`) past TL_ARGV_MAX. */
static int append_args(const char **argv, int n, const char *const *args, const char *who)
{
    for (; args && *args; args++) {
        if (n == TL_ARGV_MAX - 1) {
            fprintf(stderr, "%s: too many arguments\n", who);
            return -1;
        }
        argv[n++] = *args;
    }
    argv[n] = NULL;
    return 0;
}

int tl_server_start_game(tl_server_t *s, const char *bin, const char *const *args, int timeout_ms)
{
    const char *argv[TL_ARGV_MAX] = {
        bin,    "--port",      "0", "--metrics-port", "0", "--db",  s->db,          "--log-level",
        "info", "--chat-port", "0", "--master-port",  "0", "--set", "auth.mode=dev"};
    if (append_args(argv, 15, args, "tl_server_start_game") != 0)
        return -1;
    return tl_server_start(s, argv, NULL, timeout_ms);
}

int tl_server_start_master(tl_server_t *s, const char *bin, const tl_master_args_t *a,
                           const char *const *args, char sign_pk[65], int timeout_ms)
{
    const char *argv[TL_ARGV_MAX] = {bin,
                                     "--port",
                                     a->port ? a->port : "0",
                                     "--login-port",
                                     a->login_port ? a->login_port : "0",
                                     "--db",
                                     a->db,
                                     "--key-file",
                                     a->key_file,
                                     "--config",
                                     a->config,
                                     "--secret-file",
                                     a->secret_file,
                                     "--open-registration"};
    if (append_args(argv, 14, args, "tl_server_start_master") != 0 ||
        tl_server_start(s, argv, NULL, timeout_ms) != 0)
        return -1;
    long at = tl_proc_wait_for(&s->p, "sign_pk ", 0, 0); /* printed before READY */
    if (at <= 0 || strlen(s->p.out + at) < 64 || s->port <= 0 || s->login_port <= 0) {
        fprintf(stderr, "tl_server_start_master: no sign_pk line or no ports in its output\n");
        return -1;
    }
    snprintf(sign_pk, 65, "%.64s", s->p.out + at);
    return 0;
}

int tl_server_up(tl_server_t *s, const char *tag, const char *bin, const char *const *args,
                 int timeout_ms)
{
    if (tl_server_init(s, tag) != 0)
        return -1;
    if (tl_server_start_game(s, bin, args, timeout_ms) == 0)
        return 0;
    tl_server_cleanup(s);
    return -1;
}

int tl_server_down(tl_server_t *s, int timeout_ms)
{
    int st = s->p.pid > 0 ? tl_server_stop(s, SIGTERM, timeout_ms) : 0;
    return tl_server_cleanup(s) == 0 && st == 0 ? 0 : -1;
}

size_t tl_server_read_log(const tl_server_t *s, char *out, size_t cap)
{
    FILE *f = fopen(s->log, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = 0;
    if (f)
        fclose(f);
    return n;
}

long tl_server_log_size(const tl_server_t *s)
{
    FILE *f = fopen(s->log, "r");
    long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
    if (f)
        fclose(f);
    return n < 0 ? 0 : n;
}

/* The log from byte `from` to its end (all of it, however long), NUL-
 * terminated, in *buf (grown as needed).  Its length. */
static size_t log_tail(const tl_server_t *s, long from, char **buf, size_t *cap)
{
    size_t n = 0;
    FILE *f = fopen(s->log, "r");
    if (f && fseek(f, from, SEEK_SET) == 0) {
        for (;;) {
            if (*cap - n < 4096) {
                size_t ncap = *cap ? *cap * 2 : 1 << 16;
                char *nb = realloc(*buf, ncap);
                if (!nb)
                    break;
                *buf = nb;
                *cap = ncap;
            }
            size_t r = fread(*buf + n, 1, *cap - n - 1, f);
            if (r == 0)
                break;
            n += r;
        }
    }
    if (f)
        fclose(f);
    if (*buf)
        (*buf)[n] = 0;
    return n;
}

long tl_server_wait_log_from(tl_server_t *s, const char *needle, long from, int timeout_ms)
{
    static char *buf;
    static size_t cap;
    int64_t end = tl_now_ms() + timeout_ms;
    for (;;) {
        if (log_tail(s, from, &buf, &cap) > 0) {
            const char *hit = strstr(buf, needle);
            if (hit)
                return from + (long)(hit - buf) + (long)strlen(needle);
        }
        if (tl_now_ms() >= end)
            return -1;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

int tl_server_wait_log(tl_server_t *s, const char *needle, int timeout_ms)
{
    int64_t end = tl_now_ms() + timeout_ms;
    for (;;) {
        if (strstr(s->p.out, needle) || tl_server_wait_log_from(s, needle, 0, 0) >= 0)
            return 0;
        if (tl_now_ms() >= end)
            return -1;
        if (s->p.out_fd >= 0) { /* reads stdout for up to 2 ms */
            tl_proc_wait_for(&s->p, needle, s->p.len, 2);
        } else {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
}

int tl_server_stop(tl_server_t *s, int sig, int timeout_ms)
{
    if (s->p.pid <= 0)
        return -1;
    int st = tl_proc_stop(&s->p, sig, timeout_ms);
    if (st != 0 && !(sig == SIGKILL && st == 128 + SIGKILL)) {
        fprintf(stderr, "%s (in %s) exited with status %d\n", s->name, s->dir, st);
        tl_server_dump_log(s, 8192);
    }
    return st;
}

int tl_server_cleanup(tl_server_t *s)
{
    if (s->p.pid > 0)
        tl_proc_stop(&s->p, SIGKILL, 2000);
    if (!s->dir[0])
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s->dir);
        return -1;
    }
    s->dir[0] = 0;
    return 0;
}

int tl_write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) >= 0 ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && mode >= 0 && chmod(path, (mode_t)mode) != 0)
        rc = -1;
    return rc;
}
