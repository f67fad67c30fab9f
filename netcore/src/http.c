/* HTTP/1.0 for /metrics and /healthz on a netcore raw role: one request per
 * connection, answered and closed (an orderly close flushes the answer).
 * Shared by the gameserver's metrics page and the login server's (issue 16:
 * moved here from server/gs_http.c so tools need not depend on server/).
 * Requests are bounded like any input: REQ_MAX bytes, a whole-request
 * deadline from accept (a sweeper timer on the same queue closes late
 * ones), and a connection cap that evicts the oldest unfinished request. */
#include "nc_http.h"

#include "nc_evict.h"
#include "nc_lines.h"

#include "platform.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "metrics"
#define REQ_MAX 2048
#define HARD_EXTRA 64 /* netcore-level connections beyond max_conns */

struct nc_http_s {
    nc_server_t *srv;
    nc_engine_t *engine;
    nc_http_render_fn fn;
    void *ud;
    uint32_t max_conns, timeout_ms;
    /* the connections' strands and the sweep's share these: under mu */
    nc_mutex_t mu;
    uint32_t nconns;       /* connections holding one of max_conns */
    nc_evict_t unfinished; /* those whose request is incomplete, oldest first */
    uint64_t timeouts, evicted, refused, bad;
    nc_strand_t *sweep_strand;
    nc_timer_id_t sweep_timer;
    atomic_int fenced;
};

typedef struct {
    nc_evict_node_t node; /* in h->unfinished until answering (under h->mu) */
    int counted;          /* in h->nconns (under h->mu) */
    nc_lines_t head;      /* over req: the request line and headers */
    char *first;          /* the request line, once complete */
    char req[REQ_MAX + 1];
} conn_t;

/* Off the list (if still on it) and out of the count, under h->mu: an
 * evicted or late connection's place is free at once. */
static nc_sid_t drop_locked(nc_http_t *h, nc_evict_node_t *n)
{
    nc_evict_remove(&h->unfinished, n);
    NC_EVICT_ENTRY(n, conn_t, node)->counted = 0;
    h->nconns--;
    return n->sid;
}

/* A place for c.  0, or -1 (every connection is answering: refuse).
 * *evict gets a session to close, or 0. */
static int take_place(nc_http_t *h, conn_t *c, nc_sid_t sid, nc_sid_t *evict)
{
    *evict = 0;
    nc__mutex_lock(&h->mu);
    nc_evict_node_t *old =
        h->nconns >= h->max_conns ? nc_evict_pick(&h->unfinished, NULL, NULL) : NULL;
    if (old) {
        *evict = drop_locked(h, old);
        h->evicted++;
    }
    int ok = h->nconns < h->max_conns;
    if (ok) {
        h->nconns++;
        c->counted = 1;
        nc_evict_add(&h->unfinished, &c->node, sid, nc_now_ms());
    } else {
        h->refused++;
    }
    nc__mutex_unlock(&h->mu);
    return ok ? 0 : -1;
}

static void release_place(nc_http_t *h, conn_t *c)
{
    nc__mutex_lock(&h->mu);
    nc_evict_remove(&h->unfinished, &c->node);
    if (c->counted) /* an evicted or late session's place is free already */
        h->nconns--;
    nc__mutex_unlock(&h->mu);
}

static void http_open(nc_session_t *s, void *ud)
{
    nc_http_t *h = ud;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    nc_lines_init(&c->head, c->req, REQ_MAX);
    nc_sid_t evict;
    int rc = take_place(h, c, nc_session_id(s), &evict);
    if (evict) {
        nc_log(NC_LOG_DEBUG, TAG, "session %016llx: evicted (unfinished request, %u connections)",
               (unsigned long long)evict, h->max_conns);
        nc_close_id(h->engine, evict, NC_ETIMEDOUT, "evicted: too many metrics connections");
    }
    if (rc != 0) {
        free(c);
        nc_log(NC_LOG_DEBUG, TAG, "session %016llx: refused (%u connections answering)",
               (unsigned long long)nc_session_id(s), h->max_conns);
        nc_session_close(s, NC_EAGAIN, "too many metrics connections");
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
                     : status == 500 ? "Internal Server Error"
                                     : "Bad Request",
                     ctype, (unsigned long)len);
    if (nc_send_raw(s, head, (size_t)n) == 0 && len)
        nc_send_raw(s, body, len);
    nc_session_close(s, 0, "answered");
}

/* The request is complete: no longer evicted nor timed. */
static void answering(nc_http_t *h, conn_t *c)
{
    nc__mutex_lock(&h->mu);
    nc_evict_remove(&h->unfinished, &c->node);
    nc__mutex_unlock(&h->mu);
}

static void count_bad(nc_http_t *h)
{
    nc__mutex_lock(&h->mu);
    h->bad++;
    nc__mutex_unlock(&h->mu);
}

static void answer(nc_http_t *h, nc_session_t *s, const char *req)
{
    char method[8] = "", path[256] = "";
    if (sscanf(req, "%7s %255s", method, path) != 2 || strcmp(method, "GET") != 0) {
        count_bad(h);
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
    nc_http_t *h = ud;
    conn_t *c = nc_session_ud(s);
    if (!c || nc_session_is_closing(s))
        return;
    if (nc_lines_feed(&c->head, data, len) != 0) {
        nc_log(NC_LOG_DEBUG, TAG, "session %016llx: request over %d bytes",
               (unsigned long long)nc_session_id(s), REQ_MAX);
        answering(h, c);
        count_bad(h);
        reply(s, 400, "text/plain", "", 0);
        return;
    }
    /* lines are never consumed: REQ_MAX bounds the whole request, and the
     * request line stays where it is; an empty line ends the head */
    char *line;
    size_t n;
    while (nc_lines_next(&c->head, REQ_MAX, &line, &n) == 1) {
        if (!c->first) {
            c->first = line;
        } else if (n == 0) {
            answering(h, c);
            answer(h, s, c->first);
            return;
        }
    }
}

static void http_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)why;
    conn_t *c = nc_session_ud(s);
    if (c)
        release_place(ud, c);
    free(c);
}

/* Every sweep_ms: closes connections whose request is not complete
 * timeout_ms after accept (closed at once, no linger: the peer is slow or
 * hostile).  Their places are free from here on. */
static void sweep_job(void *arg)
{
    nc_http_t *h = arg;
    nc_sid_t late[64];
    int n = 0;
    uint64_t now = nc_now_ms();
    nc__mutex_lock(&h->mu);
    for (nc_evict_node_t *e;
         n < 64 && (e = nc_evict_pop_older(&h->unfinished, now, h->timeout_ms)) != NULL;) {
        late[n++] = drop_locked(h, e); /* popped: off the list already */
        h->timeouts++;
    }
    nc__mutex_unlock(&h->mu);
    for (int i = 0; i < n; i++) {
        nc_log(NC_LOG_DEBUG, TAG, "session %016llx: request not complete after %u ms",
               (unsigned long long)late[i], h->timeout_ms);
        nc_close_id(h->engine, late[i], NC_ETIMEDOUT, "metrics request timeout");
    }
}

static void fence_job(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

static void http_free(nc_http_t *h)
{
    if (h->sweep_strand)
        nc_strand_release(h->sweep_strand);
    nc__mutex_destroy(&h->mu);
    free(h);
}

int nc_http_start(nc_engine_t *e, nc_queue_t *q, const nc_http_opts_t *o, nc_http_render_fn fn,
                  void *ud, nc_http_t **out, uint16_t *bound_port)
{
    nc_http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NC_ENOMEM;
    h->engine = e;
    h->fn = fn;
    h->ud = ud;
    h->max_conns = o->max_conns ? o->max_conns : 16;
    h->timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 2000;
    nc__mutex_init(&h->mu);
    int rc = nc_strand_create(q, &h->sweep_strand);
    uint32_t sweep_ms = h->timeout_ms / 8 ? h->timeout_ms / 8 : 1;
    if (rc == 0)
        rc = nc_timer_start(h->sweep_strand, sweep_ms, sweep_ms, sweep_job, h, &h->sweep_timer);
    if (rc != 0) {
        http_free(h);
        return rc;
    }
    /* netcore's cap (an fd bound) leaves room for connections whose
     * on_open has not run yet (a burst: eviction happens there), being
     * evicted or lingering after their answer; ours (nconns) decides
     * who is served */
    nc_role_opts_t ro = {.name = TAG,
                         .queue = q,
                         .handlers = {http_open, http_packet, http_close},
                         .ud = h,
                         .raw = 1,
                         .max_sessions = h->max_conns + HARD_EXTRA,
                         .idle_timeout_ms = h->timeout_ms + 3000,
                         .max_send_bytes = 8u << 20};
    *out = h; /* before the first request can ask for nc_http_stats */
    rc = nc_server_create(e, o->host, o->port, &ro, &h->srv);
    if (rc != 0) {
        *out = NULL;
        nc_http_stop(h);
        return rc;
    }
    *bound_port = nc_server_port(h->srv);
    return 0;
}

void nc_http_stop(nc_http_t *h)
{
    if (!h)
        return;
    nc_pool_t *pool = nc_queue_pool(nc_strand_queue(h->sweep_strand));
    nc_timer_cancel(pool, h->sweep_timer);
    if (h->srv) {
        /* unfinished requests are closed at once (no linger): a slow client
         * must not delay the stop; answers already queued are flushed */
        nc_sid_t open[64];
        uint32_t n = 0;
        nc__mutex_lock(&h->mu);
        for (nc_evict_node_t *e = nc_evict_oldest(&h->unfinished); e && n < 64; e = e->next)
            open[n++] = e->sid;
        nc__mutex_unlock(&h->mu);
        for (uint32_t i = 0; i < n; i++)
            nc_close_id(h->engine, open[i], NC_ECANCELED, "metrics page stopping");
        nc_server_destroy(h->srv); /* returns after every on_close: no render runs */
    }
    /* a sweep already running finishes: wait for a job queued behind it */
    int rc = nc_strand_post(h->sweep_strand, fence_job, &h->fenced);
    if (rc == NC_EQFULL)
        rc = nc_timer_start(h->sweep_strand, 0, 0, fence_job, &h->fenced, NULL);
    for (uint64_t end = nc_now_ms() + 10000; rc == 0 && !atomic_load(&h->fenced);) {
        if (nc_now_ms() > end) {
            nc_log(NC_LOG_ERROR, TAG, "sweep job still running after 10 s; not freed");
            return;
        }
        nc__sleep_ms(1);
    }
    http_free(h);
}

void nc_http_stats(nc_http_t *h, nc_http_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!h)
        return;
    nc__mutex_lock(&h->mu);
    out->timeouts = h->timeouts;
    out->evicted = h->evicted;
    out->refused = h->refused;
    out->bad = h->bad;
    nc__mutex_unlock(&h->mu);
}
