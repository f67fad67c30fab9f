/* POSIX stop signals for the tools: SIGINT/SIGTERM are blocked in every
 * thread and taken synchronously by the main thread (sigwait), so no handler
 * ever runs on an engine or pool thread. */
#define _POSIX_C_SOURCE 200809L
#include "tl_common.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

static sigset_t stop_set(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    return s;
}

void tl_console_init(void)
{
    /* stdio's defaults: line-buffered stdout on a terminal, full on a pipe
     * (writers fflush), unbuffered stderr; every write is whole */
}

void tl_signals_block(void)
{
    sigset_t s = stop_set();
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int tl_signals_wait(void)
{
    sigset_t s = stop_set();
    int sig = 0;
    while (sigwait(&s, &sig) != 0)
        ;
    return sig;
}

int tl_signals_wait_ms(int timeout_ms)
{
    sigset_t s = stop_set();
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int sig = sigtimedwait(&s, NULL, &ts);
    return sig > 0 ? sig : 0;
}
