/* Windows stop events for the tools (twin of tl_signal_posix.c): console
 * control events (Ctrl+C, Ctrl+Break, close, shutdown) are turned into an
 * event the main thread waits on, so no handler logic runs elsewhere. */
#include "tl_common.h"

#include <windows.h>

#include <process.h>
#include <stdio.h>

static HANDLE stop_event;
static volatile LONG last_sig;

static BOOL WINAPI on_ctrl(DWORD type)
{
    InterlockedExchange(&last_sig, type == CTRL_C_EVENT ? 2 : 15); /* SIGINT/SIGTERM */
    SetEvent(stop_event);
    return TRUE;
}

/* Console output.  mingw's printf (__USE_MINGW_ANSI_STDIO) writes an
 * unbuffered stream one character at a time, and msvcrt has no line
 * buffering (_IOLBF is full buffering): a READY line on stdout and a log
 * line on stderr came out interleaved character by character (seen under
 * Wine: "R20EA26DY- 1p2-or02tT=").  Both streams get a buffer, so each
 * printf lands in it whole (mingw locks the stream per call) and reaches
 * the console in one write: at the writer's fflush (logs, tc_printf, READY)
 * or, for a writer that does not flush, from this thread within FLUSH_MS. */
#define FLUSH_MS 50
static unsigned __stdcall flusher_main(void *arg)
{
    (void)arg;
    for (;;) {
        Sleep(FLUSH_MS);
        fflush(stdout);
        fflush(stderr);
    }
    return 0; /* not reached */
}

void tl_console_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    setvbuf(stdout, NULL, _IOFBF, 1 << 14);
    setvbuf(stderr, NULL, _IOFBF, 1 << 14);
    SetConsoleOutputCP(CP_UTF8); /* names and chat are UTF-8 */
    HANDLE t = (HANDLE)_beginthreadex(NULL, 0, flusher_main, NULL, 0, NULL);
    if (t)
        CloseHandle(t); /* detached: runs until exit */
}

void tl_signals_block(void)
{
    if (!stop_event)
        stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    SetConsoleCtrlHandler(on_ctrl, TRUE);
}

int tl_signals_wait(void)
{
    WaitForSingleObject(stop_event, INFINITE);
    return (int)InterlockedCompareExchange(&last_sig, 0, 0);
}

int tl_signals_wait_ms(int timeout_ms)
{
    if (WaitForSingleObject(stop_event, timeout_ms < 0 ? 0 : (DWORD)timeout_ms) != WAIT_OBJECT_0)
        return 0;
    return (int)InterlockedCompareExchange(&last_sig, 0, 0);
}
