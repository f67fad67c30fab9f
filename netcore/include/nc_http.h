/* A metrics page's HTTP/1.0 listener, a raw-bytes server role on the
 * process's netcore engine (no extra thread, no platform code).  Give it a
 * low-priority queue (the gameserver's control queue, the login server's
 * registry queue): scraping can never take player threads.  Used by the
 * gameserver's /metrics and the masterserver's (issue 16); not part of
 * netcore.h, an optional piece of the same library. */
#ifndef NC_HTTP_H
#define NC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "netcore.h"

/* render() fills a malloc'd body for a path and returns the HTTP status
 * (200/404); *ctype is set.  Runs on a pool worker. */
typedef int (*nc_http_render_fn)(void *ud, const char *path, char **body, size_t *len,
                                 const char **ctype);
typedef struct nc_http_s nc_http_t;

typedef struct nc_http_opts_s {
    const char *host;
    uint16_t port;               /* 0 = pick one */
    uint32_t max_conns;          /* concurrent connections; default 16 */
    uint32_t request_timeout_ms; /* accept to a complete request; default 2000 */
} nc_http_opts_t;

/* Connections over max_conns: the oldest one whose request is still
 * incomplete is closed to make room (a scraper sends its request at once,
 * a slow client never finishes); if every connection is being answered the
 * newcomer is closed.  A request not complete request_timeout_ms after
 * accept is closed. */
int nc_http_start(nc_engine_t *e, nc_queue_t *q, const nc_http_opts_t *o, nc_http_render_fn fn,
                  void *ud, nc_http_t **out, uint16_t *bound_port);
/* Closes the listener and its connections and returns once no render runs
 * any more: call before anything render() reads is freed. */
void nc_http_stop(nc_http_t *h);

typedef struct nc_http_stats_s {
    uint64_t timeouts; /* closed: request incomplete at the deadline */
    uint64_t evicted;  /* closed to make room for a newcomer */
    uint64_t refused;  /* newcomers closed: every slot was answering */
    uint64_t bad;      /* 400: too large or not a GET */
} nc_http_stats_t;
void nc_http_stats(nc_http_t *h, nc_http_stats_t *out);

#endif
