/* Windows stop events for the tools (twin of tl_signal_posix.c): console
 * control events (Ctrl+C, Ctrl+Break, close, shutdown) are turned into an
 * event the main thread waits on, so no handler logic runs elsewhere. */
#include "tl_common.h"

#include <windows.h>

static HANDLE stop_event;
static volatile LONG last_sig;

static BOOL WINAPI on_ctrl(DWORD type)
{
    InterlockedExchange(&last_sig, type == CTRL_C_EVENT ? 2 : 15); /* SIGINT/SIGTERM */
    SetEvent(stop_event);
    return TRUE;
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
