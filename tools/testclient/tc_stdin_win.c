/* Windows stdin for the testclient (twin of tc_stdin_posix.c).  Windows
 * cannot wait on a console and a pipe the same way, so a reader thread does
 * blocking ReadFile calls into a buffer and the main thread waits on it
 * with a timeout; works for a console, a pipe and a file alike.  Also the
 * other platform bits: a no-echo password prompt (console mode), the home
 * directory, a private directory. */
#include "tc.h"

#include <windows.h>

#include <direct.h>
#include <errno.h>
#include <io.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static SRWLOCK lock = SRWLOCK_INIT;                       /* guards pend, npend, at_eof */
static CONDITION_VARIABLE more = CONDITION_VARIABLE_INIT; /* data or EOF */
static CONDITION_VARIABLE room = CONDITION_VARIABLE_INIT; /* pend drained */
static char pend[4096];
static size_t npend;
static int at_eof, started;

static unsigned __stdcall reader_main(void *arg)
{
    HANDLE in = arg;
    char chunk[1024];
    for (;;) {
        DWORD got = 0;
        BOOL ok = ReadFile(in, chunk, sizeof chunk, &got, NULL);
        AcquireSRWLockExclusive(&lock);
        if (!ok || got == 0) {
            at_eof = 1;
            WakeAllConditionVariable(&more);
            ReleaseSRWLockExclusive(&lock);
            return 0;
        }
        for (DWORD off = 0; off < got;) {
            while (npend == sizeof pend)
                SleepConditionVariableSRW(&room, &lock, INFINITE, 0);
            size_t n = sizeof pend - npend;
            if (n > got - off)
                n = got - off;
            memcpy(pend + npend, chunk + off, n);
            npend += n;
            off += (DWORD)n;
            WakeAllConditionVariable(&more);
        }
        ReleaseSRWLockExclusive(&lock);
    }
}

/* Under lock. */
static int take_line(char *buf, size_t cap)
{
    if (!tc_line_take(pend, &npend, sizeof pend, at_eof, buf, cap))
        return 0;
    WakeAllConditionVariable(&room);
    return 1;
}

int tc_stdin_readline(char *buf, size_t cap, int timeout_ms)
{
    if (!started) { /* main thread only: no race on the flag */
        started = 1;
        HANDLE t =
            (HANDLE)_beginthreadex(NULL, 0, reader_main, GetStdHandle(STD_INPUT_HANDLE), 0, NULL);
        if (!t)
            return -1;
        CloseHandle(t); /* detached: blocked in ReadFile until exit */
    }
    /* negative = wait for ever, as poll() does */
    ULONGLONG deadline = timeout_ms < 0 ? ~0ull : GetTickCount64() + (ULONGLONG)timeout_ms;
    int rc = 0;
    AcquireSRWLockExclusive(&lock);
    for (;;) {
        if (take_line(buf, cap)) {
            rc = 1;
            break;
        }
        if (at_eof) {
            rc = -1;
            break;
        }
        ULONGLONG now = GetTickCount64();
        if (now >= deadline)
            break;
        ULONGLONG wait = deadline - now;
        SleepConditionVariableSRW(&more, &lock, wait >= INFINITE ? INFINITE : (DWORD)wait, 0);
    }
    ReleaseSRWLockExclusive(&lock);
    return rc;
}

int tc_stdin_is_tty(void)
{
    return _isatty(_fileno(stdin));
}

/* Echo off on a console while the line is typed; restored before
 * returning.  Ctrl-C gives up like end of input. */
int tc_stdin_secret(const char *prompt, char *buf, size_t cap)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    DWORD old = 0;
    int console = GetConsoleMode(in, &old) != 0;
    if (console)
        SetConsoleMode(in, old & ~(DWORD)ENABLE_ECHO_INPUT);
    tc_printf("%s", prompt);
    int r;
    while ((r = tc_stdin_readline(buf, cap, 200)) == 0)
        if (tl_signals_wait_ms(0)) {
            r = -1;
            break;
        }
    if (console) {
        SetConsoleMode(in, old);
        tc_printf("\n");
    }
    return r;
}

const char *tc_home_dir(void)
{
    const char *h = getenv("USERPROFILE");
    if (!h || !*h)
        h = getenv("HOME");
    return h && *h ? h : NULL;
}

/* A directory under the user's profile is private to that user already. */
int tc_mkdir_private(const char *path)
{
    return _mkdir(path) == 0 || errno == EEXIST ? 0 : -1;
}
