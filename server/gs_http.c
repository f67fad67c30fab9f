/* HTTP/1.0 for /metrics and /healthz on a netcore raw role: one request per
 * connection, answered and closed (an orderly close flushes the answer).
 * Requests are bounded (REQ_MAX bytes, IDLE_MS of silence) like any input. */
#include "gs_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "metrics"
#define REQ_MAX 2048
#define IDLE_MS 5000

struct gs_http_s {
    nc_server_t *srv;
    gs_http_render_fn fn;
    void *ud;
};

typedef struct {
    size_t got;
    char req[REQ_MAX + 1];
} conn_t;

static void http_open(nc_session_t *s, void *ud)
{
    (void)ud;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    nc_session_set_ud(s, c);
}

static void reply(nc_session_t *s, int status, const char *ctype, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\n"
                     "Connection: close\r\n\r\n",
                     status,
                     status == 200   ? "OK"
                     : status == 404 ? "Not Found"
                                     : "Bad Request",
                     ctype, (unsigned long)len);
    if (nc_send_raw(s, head, (size_t)n) == 0 && len)
        nc_send_raw(s, body, len);
    nc_session_close(s, 0, "answered");
}

static void answer(gs_http_t *h, nc_session_t *s, const char *req)
{
    char method[8] = "", path[256] = "";
    if (sscanf(req, "%7s %255s", method, path) != 2 || strcmp(method, "GET") != 0) {
        reply(s, 400, "text/plain", "", 0);
        return;
    }
    char *body = NULL;
    size_t len = 0;
    const char *ctype = "text/plain";
    int status = h->fn(h->ud, path, &body, &len, &ctype);
    reply(s, status, ctype, body ? body : "", body ? len : 0);
    free(body);
}

static void http_packet(nc_session_t *s, uint16_t type, const uint8_t *data, size_t len, void *ud)
{
    (void)type;
    conn_t *c = nc_session_ud(s);
    if (!c)
        return;
    if (len > REQ_MAX - c->got) {
        nc_log(NC_LOG_INFO, TAG, "session %016llx: request over %d bytes",
               (unsigned long long)nc_session_id(s), REQ_MAX);
        reply(s, 400, "text/plain", "", 0);
        return;
    }
    memcpy(c->req + c->got, data, len);
    c->got += len;
    c->req[c->got] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        answer(ud, s, c->req);
}

static void http_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)why, (void)ud;
    free(nc_session_ud(s));
}

int gs_http_start(nc_engine_t *e, nc_queue_t *q, const char *host, uint16_t port,
                  gs_http_render_fn fn, void *ud, gs_http_t **out, uint16_t *bound_port)
{
    gs_http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NC_ENOMEM;
    h->fn = fn;
    h->ud = ud;
    nc_role_opts_t o = {.name = TAG,
                        .queue = q,
                        .handlers = {http_open, http_packet, http_close},
                        .ud = h,
                        .raw = 1,
                        .max_sessions = 64,
                        .idle_timeout_ms = IDLE_MS,
                        .max_send_bytes = 8u << 20};
    int rc = nc_server_create(e, host, port, &o, &h->srv);
    if (rc != 0) {
        free(h);
        return rc;
    }
    *bound_port = nc_server_port(h->srv);
    *out = h;
    return 0;
}

void gs_http_stop(gs_http_t *h)
{
    if (!h)
        return;
    nc_server_destroy(h->srv);
    free(h);
}
