/* Windows stop events for the gameserver (twin of signals_posix.c): a
 * console control handler (Ctrl+C, Ctrl+Break, window close, logoff,
 * shutdown) wakes the main thread on the first event; a second one exits
 * the process at once with status 130. */
#include "gs_platform.h"

#include <windows.h>

#include <stdio.h>

static HANDLE stop_event;
static volatile LONG hits;
static volatile LONG last_sig;

static BOOL WINAPI on_ctrl(DWORD type)
{
    if (InterlockedIncrement(&hits) > 1) {
        fputs("second signal: forced exit\n", stderr);
        ExitProcess(130);
    }
    /* report POSIX-like numbers so logs read the same on both platforms */
    InterlockedExchange(&last_sig, type == CTRL_C_EVENT ? 2 : 15);
    SetEvent(stop_event);
    return TRUE; /* handled: the main thread shuts down in order */
}

int gs_signals_install(void)
{
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!stop_event || !SetConsoleCtrlHandler(on_ctrl, TRUE))
        return -1;
    return 0;
}

int gs_signals_wait(void)
{
    if (WaitForSingleObject(stop_event, INFINITE) != WAIT_OBJECT_0)
        return -1;
    return (int)InterlockedCompareExchange(&last_sig, 0, 0);
}

void gs_sleep_ms(uint32_t ms)
{
    Sleep(ms);
}
