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

static int take_line(char *buf, size_t cap)
{
    return tc_line_take(pend, &npend, sizeof pend, at_eof, buf, cap);
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
