/* POSIX signals for the gameserver: a self-pipe carries every SIGINT/SIGTERM
 * (and gs_signals_wake's 0 byte) to the main thread, which decides what a
 * signal means (first: orderly stop; later ones: logged, the stop goes on). */
#define _POSIX_C_SOURCE 200809L
#include "gs_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pipe_fd[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(pipe_fd[1], &b, 1); /* full pipe: this one is dropped */
    (void)r;
    errno = saved;
}

int gs_signals_install(void)
{
    if (pipe(pipe_fd) != 0)
        return -1;
    fcntl(pipe_fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pipe_fd[1], F_SETFD, FD_CLOEXEC);
    fcntl(pipe_fd[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int gs_signals_wait_ms(int timeout_ms)
{
    struct pollfd pfd = {pipe_fd[0], POLLIN, 0};
    int r = poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
    if (r == 0 || (r < 0 && errno == EINTR))
        return 0;
    if (r < 0)
        return -1;
    unsigned char b = 0;
    ssize_t n = read(pipe_fd[0], &b, 1);
    if (n == 1)
        return b;
    return n < 0 && errno != EINTR ? -1 : 0;
}

int gs_signals_wait(void)
{
    for (;;) {
        int sig = gs_signals_wait_ms(-1);
        if (sig != 0)
            return sig;
    }
}

void gs_signals_wake(void)
{
    unsigned char b = 0;
    ssize_t r = write(pipe_fd[1], &b, 1);
    (void)r;
}

struct gs_thread_s {
    pthread_t t;
    void (*fn)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    gs_thread_t *t = p;
    t->fn(t->arg);
    return NULL;
}

int gs_thread_start(gs_thread_t **out, void (*fn)(void *), void *arg)
{
    gs_thread_t *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->t, NULL, trampoline, t) != 0) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void gs_thread_join(gs_thread_t *t)
{
    pthread_join(t->t, NULL);
    free(t);
}

void gs_exit_now(int code)
{
    _exit(code);
}

void gs_sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int gs_exe_path(char *buf, size_t len)
{
    if (len < 2)
        return -1;
    ssize_t n = readlink("/proc/self/exe", buf, len - 1); /* Linux; elsewhere argv[0] */
    if (n <= 0 || (size_t)n >= len - 1)
        return -1;
    buf[n] = 0;
    return 0;
}
