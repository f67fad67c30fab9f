/* Platform services of the gameserver executable, one implementation file
 * per platform (signals_posix.c, metrics_http_posix.c; a Windows port adds
 * *_win.c).  No #ifdef in the rest of server/. */
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

/* Tiny blocking HTTP/1.0 listener on its own thread.  render() fills the
 * body for a path and returns the HTTP status (200/404); *ctype is set. */
typedef int (*gs_http_render_fn)(void *ud, const char *path, char **body, size_t *len,
                                 const char **ctype);
typedef struct gs_http_s gs_http_t;
int gs_http_start(const char *host, uint16_t port, gs_http_render_fn fn, void *ud, gs_http_t **out,
                  uint16_t *bound_port);
void gs_http_stop(gs_http_t *h);

#endif
