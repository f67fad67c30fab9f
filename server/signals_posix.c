/* POSIX signals for the gameserver: a self-pipe wakes the main thread on the
 * first SIGINT/SIGTERM; the second signal forces an immediate exit. */
#define _POSIX_C_SOURCE 200809L
#include "gs_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pipe_fd[2] = {-1, -1};
static volatile sig_atomic_t hits;

static void on_signal(int sig)
{
    if (hits++ > 0) {
        static const char msg[] = "second signal: forced exit\n";
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        _exit(130);
    }
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(pipe_fd[1], &b, 1);
    (void)r;
}

int gs_signals_install(void)
{
    if (pipe(pipe_fd) != 0)
        return -1;
    fcntl(pipe_fd[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int gs_signals_wait(void)
{
    unsigned char b = 0;
    for (;;) {
        ssize_t r = read(pipe_fd[0], &b, 1);
        if (r == 1)
            return b;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

void gs_sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
