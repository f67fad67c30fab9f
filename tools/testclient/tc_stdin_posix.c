/* POSIX stdin for the testclient: poll() with a timeout so the main thread
 * also notices a closed connection while waiting for input; works the same
 * for a terminal and a pipe. */
#define _POSIX_C_SOURCE 200809L
#include "tc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static char pend[4096];
static size_t npend;
static int at_eof;

/* Moves one complete line (or, at EOF, the rest) out of pend. */
static int take_line(char *buf, size_t cap)
{
    char *nl = memchr(pend, '\n', npend);
    if (!nl && !(at_eof && npend > 0) && npend < sizeof pend)
        return 0;
    size_t len = nl ? (size_t)(nl - pend) : npend;
    size_t used = nl ? len + 1 : len;
    if (len > 0 && pend[len - 1] == '\r')
        len--;
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(buf, pend, n);
    buf[n] = 0;
    memmove(pend, pend + used, npend - used);
    npend -= used;
    return 1;
}

int tc_stdin_readline(char *buf, size_t cap, int timeout_ms)
{
    for (;;) {
        if (take_line(buf, cap))
            return 1;
        if (at_eof)
            return -1;
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? 0 : -1;
        ssize_t got = read(STDIN_FILENO, pend + npend, sizeof pend - npend);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            at_eof = 1;
        else
            npend += (size_t)got;
    }
}

int tc_stdin_is_tty(void)
{
    return isatty(STDIN_FILENO);
}
