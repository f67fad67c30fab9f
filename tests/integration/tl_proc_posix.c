/* POSIX side of tl_proc.h: fork/exec with pipes, poll() with deadlines,
 * waitpid reaping (never a bare sleep). */
#define _POSIX_C_SOURCE 200809L
#include "tl_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tl_proc_start(tl_proc_t *p, const char *const *argv, int pipe_stdin)
{
    return tl_proc_spawn(p, argv, pipe_stdin ? TL_PROC_STDIN : 0, NULL);
}

int tl_proc_spawn(tl_proc_t *p, const char *const *argv, int flags, const char *err_path)
{
    int out[2], in[2] = {-1, -1};
    int pipe_stdin = (flags & TL_PROC_STDIN) != 0;
    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->in_fd = -1;
    p->out_fd = -1;
    if (pipe(out) != 0 || (pipe_stdin && pipe(in) != 0))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (flags & TL_PROC_GROUP)
            setpgid(0, 0);
        dup2(out[1], STDOUT_FILENO);
        int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : out[1];
        dup2(err >= 0 ? err : out[1], STDERR_FILENO); /* logs too: tests wait on them */
        if (err_path && err > STDERR_FILENO)
            close(err);
        if (pipe_stdin)
            dup2(in[0], STDIN_FILENO);
        else { /* /dev/null, not a closed fd 0 the next open() would take */
            int null = open("/dev/null", O_RDONLY);
            if (null >= 0 && null != STDIN_FILENO) {
                dup2(null, STDIN_FILENO);
                close(null);
            }
        }
        close(out[0]);
        close(out[1]);
        if (pipe_stdin) {
            close(in[0]);
            close(in[1]);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (flags & TL_PROC_GROUP)
        setpgid(pid, pid); /* also here: no race with the child's own call */
    close(out[1]);
    p->out_fd = out[0];
    if (pipe_stdin) {
        close(in[0]);
        p->in_fd = in[1];
    }
    p->pid = (int)pid;
    p->group = (flags & TL_PROC_GROUP) != 0;
    return 0;
}

/* One read with a timeout; 1 data, 0 timeout, -1 EOF. */
static int read_some(tl_proc_t *p, int timeout_ms)
{
    if (p->out_fd < 0)
        return -1;
    struct pollfd pf = {.fd = p->out_fd, .events = POLLIN};
    int r = poll(&pf, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (r <= 0)
        return r < 0 && errno != EINTR ? -1 : 0;
    char tmp[4096];
    ssize_t n = read(p->out_fd, tmp, sizeof tmp);
    if (n <= 0) {
        close(p->out_fd);
        p->out_fd = -1;
        return -1;
    }
    size_t room = sizeof p->out - 1 - p->len;
    size_t k = (size_t)n < room ? (size_t)n : room;
    memcpy(p->out + p->len, tmp, k);
    p->len += k;
    p->out[p->len] = 0;
    return 1;
}

long tl_proc_wait_for(tl_proc_t *p, const char *needle, size_t from, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        const char *hit = from <= p->len ? strstr(p->out + from, needle) : NULL;
        if (hit)
            return (long)(hit - p->out) + (long)strlen(needle);
        int64_t left = deadline - now_ms();
        if (left <= 0 || read_some(p, (int)left) < 0) {
            hit = from <= p->len ? strstr(p->out + from, needle) : NULL;
            return hit ? (long)(hit - p->out) + (long)strlen(needle) : -1;
        }
    }
}

int tl_proc_ready(tl_proc_t *p, int timeout_ms)
{
    long at = tl_proc_wait_for(p, "READY port=", 0, timeout_ms);
    if (at < 0 || tl_proc_wait_for(p, "\n", (size_t)at, timeout_ms) < 0)
        return -1;
    return atoi(p->out + at);
}

int tl_proc_write(tl_proc_t *p, const char *text)
{
    size_t n = strlen(text);
    return p->in_fd >= 0 && write(p->in_fd, text, n) == (ssize_t)n ? 0 : -1;
}

void tl_proc_close_stdin(tl_proc_t *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
}

int tl_proc_wait_exit(tl_proc_t *p, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    int64_t deadline = now_ms() + timeout_ms;
    int status = 0, rc = -1;
    for (;;) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (now_ms() >= deadline) {
            kill(p->group ? -p->pid : p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            break;
        }
        if (read_some(p, 20) < 0) { /* stdout closed: poll the exit */
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
    }
    if (p->group)
        kill(-p->pid, SIGKILL); /* what the leader left behind, if anything */
    while (read_some(p, 0) > 0)
        ;
    tl_proc_close_stdin(p);
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->out_fd = -1;
    p->pid = -1;
    return rc;
}

int tl_proc_stop(tl_proc_t *p, int sig, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    return tl_proc_wait_exit(p, timeout_ms);
}

int tl_run(const char *const *argv, char *out, size_t cap, int timeout_ms)
{
    static tl_proc_t p;
    if (tl_proc_start(&p, argv, 0) != 0)
        return -1;
    int rc = tl_proc_wait_exit(&p, timeout_ms);
    snprintf(out, cap, "%s", p.out);
    return rc;
}

int tl_write_secret(const char *dir, const char *name, const char *secret, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
        return -1;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, S_IRUSR | S_IWUSR);
    if (fd < 0)
        return -1;
    size_t n = strlen(secret);
    int ok = write(fd, secret, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
    return close(fd) == 0 && ok ? 0 : -1;
}
