/* The metrics page's HTTP/1.0 listener, a raw-bytes server role on the
 * process's netcore engine (no extra thread, no platform code).  It runs on
 * the low-priority control queue: scraping can never take player threads. */
#ifndef GS_HTTP_H
#define GS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "netcore.h"

/* render() fills a malloc'd body for a path and returns the HTTP status
 * (200/404); *ctype is set.  Runs on a pool worker. */
typedef int (*gs_http_render_fn)(void *ud, const char *path, char **body, size_t *len,
                                 const char **ctype);
typedef struct gs_http_s gs_http_t;

int gs_http_start(nc_engine_t *e, nc_queue_t *q, const char *host, uint16_t port,
                  gs_http_render_fn fn, void *ud, gs_http_t **out, uint16_t *bound_port);
/* Closes the listener and its connections; before the engine goes. */
void gs_http_stop(gs_http_t *h);

#endif
