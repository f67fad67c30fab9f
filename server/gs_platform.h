/* Platform services of the gameserver executable, one implementation file
 * per platform (signals_posix.c / signals_win.c).  No #ifdef in the rest of server/. */
#ifndef GS_PLATFORM_H
#define GS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* SIGINT/SIGTERM (or console events): the first one wakes gs_signals_wait,
 * a second one exits the process at once with status 130. */
int gs_signals_install(void);
/* Blocks until the first stop signal; returns its number. */
int gs_signals_wait(void);

void gs_sleep_ms(uint32_t ms);

#endif
