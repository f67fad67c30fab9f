/* POSIX stdin for the testclient: poll() with a timeout so the main thread
 * also notices a closed connection while waiting for input; works the same
 * for a terminal and a pipe.  Also the other platform bits: a no-echo
 * password prompt (termios), the home directory, a private directory. */
#define _POSIX_C_SOURCE 200809L
#include "tc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
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

/* Echo off while the line is typed; restored before returning.  Ctrl-C
 * (blocked, taken by sigwait) gives up like end of input. */
int tc_stdin_secret(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    int tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    tc_printf("%s", prompt);
    int r;
    while ((r = tc_stdin_readline(buf, cap, 200)) == 0)
        if (tl_signals_wait_ms(0)) {
            r = -1;
            break;
        }
    if (tty)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return r;
}

const char *tc_home_dir(void)
{
    const char *h = getenv("HOME");
    return h && *h ? h : NULL;
}

int tc_mkdir_private(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}
