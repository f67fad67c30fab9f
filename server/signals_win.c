/* Windows stop events for the gameserver (twin of signals_posix.c): a
 * console control handler (Ctrl+C, Ctrl+Break, window close, logoff,
 * shutdown) counts the event and wakes the main thread, which decides what
 * it means (first: orderly stop; later ones: logged, the stop goes on). */
#include "gs_platform.h"

#include <windows.h>

#include <stdlib.h>

static HANDLE wake_event; /* auto-reset */
static volatile LONG pending;
static volatile LONG last_sig;

static BOOL WINAPI on_ctrl(DWORD type)
{
    /* report POSIX-like numbers so logs read the same on both platforms */
    InterlockedExchange(&last_sig, type == CTRL_C_EVENT ? 2 : 15);
    InterlockedIncrement(&pending);
    SetEvent(wake_event);
    /* Returning from a close, logoff or shutdown event ends the process at
     * once: hold it so the stop (and its save) can finish; the process
     * exits from main when it is done (Windows allows ~5 s for a console
     * close, more for a system shutdown). */
    if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
        Sleep(INFINITE);
    return TRUE; /* handled: the main thread shuts down in order */
}

int gs_signals_install(void)
{
    wake_event = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!wake_event || !SetConsoleCtrlHandler(on_ctrl, TRUE))
        return -1;
    return 0;
}

/* Takes one pending event: its number, or 0 if none was pending. */
static int take_pending(void)
{
    LONG p = InterlockedCompareExchange(&pending, 0, 0);
    while (p > 0) {
        LONG was = InterlockedCompareExchange(&pending, p - 1, p);
        if (was == p) {
            if (p > 1)
                SetEvent(wake_event); /* more to report */
            return (int)InterlockedCompareExchange(&last_sig, 0, 0);
        }
        p = was;
    }
    return 0;
}

int gs_signals_wait_ms(int timeout_ms)
{
    DWORD r = WaitForSingleObject(wake_event, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
    if (r == WAIT_TIMEOUT)
        return 0;
    if (r != WAIT_OBJECT_0)
        return -1;
    return take_pending();
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
    SetEvent(wake_event);
}

struct gs_thread_s {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
};

static DWORD WINAPI trampoline(LPVOID p)
{
    gs_thread_t *t = p;
    t->fn(t->arg);
    return 0;
}

int gs_thread_start(gs_thread_t **out, void (*fn)(void *), void *arg)
{
    gs_thread_t *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, trampoline, t, 0, NULL);
    if (!t->h) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void gs_thread_join(gs_thread_t *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

void gs_exit_now(int code)
{
    TerminateProcess(GetCurrentProcess(), (UINT)code);
}

void gs_sleep_ms(uint32_t ms)
{
    Sleep(ms);
}

int gs_exe_path(char *buf, size_t len)
{
    if (len < 2 || len > 32768)
        return -1;
    DWORD n = GetModuleFileNameA(NULL, buf, (DWORD)len);
    if (n == 0 || n >= (DWORD)len)
        return -1; /* failed or truncated */
    return 0;
}
