/* Platform services of the gameserver executable, one implementation file
 * per platform (signals_posix.c / signals_win.c).  No #ifdef in the rest of server/. */
#ifndef GS_PLATFORM_H
#define GS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* SIGINT/SIGTERM (or console events).  Every signal is queued for
 * gs_signals_wait / gs_signals_wait_ms; none exits the process by itself
 * (main decides: see server/README.md, "Stopping"). */
int gs_signals_install(void);
/* Blocks until a stop signal; returns its number. */
int gs_signals_wait(void);
/* Waits up to timeout_ms (< 0 = no limit) for a stop signal or a
 * gs_signals_wake: the signal's number, 0 for a wake-up or the timeout,
 * -1 on error. */
int gs_signals_wait_ms(int timeout_ms);
/* Makes a gs_signals_wait_ms in progress (or the next one) return 0. */
void gs_signals_wake(void);

/* A thread (the orderly stop runs on one while main watches the clock). */
typedef struct gs_thread_s gs_thread_t;
int gs_thread_start(gs_thread_t **out, void (*fn)(void *), void *arg);
void gs_thread_join(gs_thread_t *t);
/* Ends the process now with `code`: no exit handlers, no waiting for
 * threads (the shutdown deadline). */
void gs_exit_now(int code);

void gs_sleep_ms(uint32_t ms);

/* Issue 14: the running executable's path (data is found next to it).
 * 0, or -1 (then argv[0] is the best guess). */
int gs_exe_path(char *buf, size_t len);

#endif
