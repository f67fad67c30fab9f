/* The engine object and its roles: the session table (ids that detect
 * staleness), server roles (listen, cap on live sessions) and client roles
 * (connect, reconnect with exponential back-off and jitter).  Portable. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nc_sid_t nc__session_create(nc__role_t *r, nc__sock_t fd, const char *peer);

struct nc_server_s {
    nc__role_t r; /* first: a role pointer is a server pointer */
    nc__listener_t *listener;
    uint16_t port;
};

struct nc_client_s {
    nc__role_t r;        /* first */
    nc_strand_t *strand; /* reconnect timer jobs */
    char host[256];
    uint16_t port;
    /* under r.lock: */
    uint32_t attempts; /* consecutive failures, for back-off */
    int pending;       /* a connect in flight or a reconnect timer armed */
    nc_timer_id_t timer;
    nc_sid_t current;
    uint64_t rng;
};

/* ---- engine and session table ------------------------------------------- */

int nc_engine_create(const nc_engine_opts_t *opts, nc_engine_t **out)
{
    nc_engine_opts_t o = {1, 65536, 0};
    if (opts) {
        o.io_preempt = opts->io_preempt != 0;
        if (opts->io_threads)
            o.io_threads = opts->io_threads;
        if (opts->max_sessions)
            o.max_sessions = opts->max_sessions;
    }
    if (o.io_threads < 1 || o.io_threads > 64 || o.max_sessions > (1u << 24))
        return NC_EINVAL;
    nc_engine_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NC_ENOMEM;
    e->opts = o;
    e->slots = calloc(o.max_sessions, sizeof(nc__slot_t));
    if (!e->slots) {
        free(e);
        return NC_ENOMEM;
    }
    for (uint32_t i = 0; i < o.max_sessions; i++) {
        e->slots[i].gen = 1;
        e->slots[i].next_free = i + 1 < o.max_sessions ? i + 1 : UINT32_MAX;
    }
    e->free_head = 0;
    atomic_init(&e->free_bufs, NULL);
    atomic_init(&e->free_count, 0);
    nc__mutex_init(&e->lock);
    int rc = nc__io_init(e, o.io_threads);
    if (rc != 0) {
        nc__mutex_destroy(&e->lock);
        free(e->slots);
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int nc__engine_table_add(nc_engine_t *e, nc_session_t *s)
{
    nc__mutex_lock(&e->lock);
    uint32_t i = e->free_head;
    if (i == UINT32_MAX) {
        nc__mutex_unlock(&e->lock);
        return NC_EMFILE;
    }
    e->free_head = e->slots[i].next_free;
    e->slots[i].s = s;
    s->id = ((uint64_t)e->slots[i].gen << 32) | (uint64_t)(i + 1);
    nc__mutex_unlock(&e->lock);
    return 0;
}

void nc__engine_table_remove(nc_engine_t *e, nc_session_t *s)
{
    uint32_t i = (uint32_t)(s->id & 0xffffffffu) - 1;
    nc__mutex_lock(&e->lock);
    if (i < e->opts.max_sessions && e->slots[i].s == s) {
        e->slots[i].s = NULL;
        e->slots[i].gen++;
        if (e->slots[i].gen == 0)
            e->slots[i].gen = 1;
        e->slots[i].next_free = e->free_head;
        e->free_head = i;
    }
    nc__mutex_unlock(&e->lock);
}

nc_session_t *nc_session_get(nc_engine_t *e, nc_sid_t id)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu) - 1;
    uint32_t gen = (uint32_t)(id >> 32);
    nc_session_t *s = NULL;
    nc__mutex_lock(&e->lock);
    if (i < e->opts.max_sessions && e->slots[i].gen == gen && e->slots[i].s) {
        s = e->slots[i].s;
        int refs = atomic_load(&s->refs);
        /* a session whose last reference is gone is already being freed */
        while (refs > 0 && !atomic_compare_exchange_weak(&s->refs, &refs, refs + 1)) {
        }
        if (refs <= 0)
            s = NULL;
    }
    nc__mutex_unlock(&e->lock);
    return s;
}

static void role_destroy_any(nc__role_t *r);

void nc_engine_destroy(nc_engine_t *e)
{
    if (!e)
        return;
    for (;;) {
        nc__mutex_lock(&e->lock);
        nc__role_t *r = e->roles;
        nc__mutex_unlock(&e->lock);
        if (!r)
            break;
        role_destroy_any(r);
    }
    nc__io_shutdown(e);
    nc__engine_bufs_free(e);
    nc__mutex_destroy(&e->lock);
    free(e->slots);
    free(e);
}

/* ---- roles (shared by servers and clients) ------------------------------ */

static int role_init(nc__role_t *r, nc_engine_t *e, const nc_role_opts_t *opts, int is_client)
{
    if (!opts || !opts->queue || !opts->handlers.on_packet)
        return NC_EINVAL;
    r->engine = e;
    r->opts = *opts;
    r->is_client = is_client;
    if (!r->opts.max_packet)
        r->opts.max_packet = NC_MAX_PACKET;
    if (r->opts.max_packet < NC_HEADER_SIZE || r->opts.max_packet > NC_MAX_PACKET)
        return NC_EINVAL;
    if (!r->opts.max_send_bytes)
        r->opts.max_send_bytes = 1u << 20;
    if (r->opts.max_send_bytes < r->opts.max_packet)
        r->opts.max_send_bytes = r->opts.max_packet;
    if (!r->opts.max_input_bytes)
        r->opts.max_input_bytes = 256u << 10;
    if (r->opts.max_input_bytes < r->opts.max_packet)
        r->opts.max_input_bytes = r->opts.max_packet;
    if (r->opts.rate_packets_per_s && !r->opts.rate_burst)
        r->opts.rate_burst = r->opts.rate_packets_per_s;
    if (!r->opts.reconnect_base_ms)
        r->opts.reconnect_base_ms = 100;
    if (!r->opts.reconnect_max_ms)
        r->opts.reconnect_max_ms = 10000;
    if (r->opts.reconnect_max_ms < r->opts.reconnect_base_ms)
        r->opts.reconnect_max_ms = r->opts.reconnect_base_ms;
    if (!r->opts.connect_timeout_ms)
        r->opts.connect_timeout_ms = 5000;
    snprintf(r->name, sizeof(r->name), "%s",
             opts->name  ? opts->name
             : is_client ? "client"
                         : "server");
    r->opts.name = r->name;
    nc__mutex_init(&r->lock);
    nc__cond_init(&r->cond);
    nc__mutex_lock(&e->lock);
    r->engine_next = e->roles;
    e->roles = r;
    nc__mutex_unlock(&e->lock);
    return 0;
}

static void role_unlink(nc__role_t *r)
{
    nc_engine_t *e = r->engine;
    nc__mutex_lock(&e->lock);
    for (nc__role_t **pp = &e->roles; *pp; pp = &(*pp)->engine_next) {
        if (*pp == r) {
            *pp = r->engine_next;
            break;
        }
    }
    nc__mutex_unlock(&e->lock);
    nc__cond_destroy(&r->cond);
    nc__mutex_destroy(&r->lock);
}

int nc__role_session_add(nc__role_t *r)
{
    uint32_t cap = r->opts.max_sessions;
    nc__mutex_lock(&r->lock);
    if (r->stopping || (cap && r->live >= cap)) {
        int stopping = r->stopping;
        nc__mutex_unlock(&r->lock);
        return stopping ? NC_ESTOPPED : NC_EAGAIN;
    }
    r->live++;
    if (r->is_client) {
        /* the connect attempt is over: from here the session's final job
         * schedules the next one */
        struct nc_client_s *c = (struct nc_client_s *)r;
        c->attempts = 0;
        c->pending = 0;
        nc__cond_broadcast(&r->cond);
    }
    nc__mutex_unlock(&r->lock);
    return 0;
}

/* Makes a counted session reachable (role list, client's current id) once
 * the backend knows it: a close before that would find no loop to run on.
 * NC_ESTOPPED if the role began stopping meanwhile: role_close_all did not
 * see it, so the caller closes it; role_close_all waits for it via `live`. */
int nc__role_session_publish(nc__role_t *r, nc_session_t *s)
{
    nc__mutex_lock(&r->lock);
    if (r->is_client)
        ((struct nc_client_s *)r)->current = s->id;
    s->role_next = r->sessions;
    s->role_prev = NULL;
    if (r->sessions)
        r->sessions->role_prev = s;
    r->sessions = s;
    int stopping = r->stopping;
    nc__mutex_unlock(&r->lock);
    return stopping ? NC_ESTOPPED : 0;
}

static void client_session_gone(struct nc_client_s *c, nc_session_t *s);

void nc__role_session_gone(nc__role_t *r, nc_session_t *s)
{
    if (r->is_client)
        client_session_gone((struct nc_client_s *)r, s);
    nc__mutex_lock(&r->lock);
    if (s->role_prev)
        s->role_prev->role_next = s->role_next;
    else
        r->sessions = s->role_next;
    if (s->role_next)
        s->role_next->role_prev = s->role_prev;
    r->live--;
    nc__cond_broadcast(&r->cond);
    nc__mutex_unlock(&r->lock);
}

/* Counts a new session against the cap; nc__role_session_publish lists it. */
/* Closes every session of the role and waits for their on_close jobs. */
static void role_close_all(nc__role_t *r)
{
    nc__mutex_lock(&r->lock);
    r->stopping = 1;
    for (nc_session_t *s = r->sessions; s; s = s->role_next)
        nc_session_close(s, NC_ESTOPPED, NC_REASON_SHUTDOWN);
    while (r->live > 0)
        nc__cond_wait(&r->cond, &r->lock);
    nc__mutex_unlock(&r->lock);
}

static void role_stats(const nc__role_t *r, nc_role_stats_t *o)
{
    nc__role_t *m = (nc__role_t *)r;
    memset(o, 0, sizeof(*o));
    nc__mutex_lock(&m->lock);
    o->sessions_live = m->live;
    nc__mutex_unlock(&m->lock);
    o->sessions_total = atomic_load(&m->st.sessions_total);
    o->rejected_cap = atomic_load(&m->st.rejected_cap);
    o->closed_bad_length = atomic_load(&m->st.closed_bad_length);
    o->closed_send_full = atomic_load(&m->st.closed_send_full);
    o->closed_idle = atomic_load(&m->st.closed_idle);
    o->connect_failures = atomic_load(&m->st.connect_failures);
    o->reconnects = atomic_load(&m->st.reconnects);
    o->connect_timeouts = atomic_load(&m->st_io.connect_timeouts);
    o->accept_errors = atomic_load(&m->st_io.accept_errors);
    o->accept_pauses = atomic_load(&m->st_io.accept_pauses);
    o->accept_shed = atomic_load(&m->st_io.accept_shed);
    o->packets_in = atomic_load(&m->st.packets_in);
    o->packets_out = atomic_load(&m->st.packets_out);
    o->bytes_in = atomic_load(&m->st.bytes_in);
    o->bytes_out = atomic_load(&m->st.bytes_out);
    o->read_pauses = atomic_load(&m->st.read_pauses);
    o->input_pauses = atomic_load(&m->st.input_pauses);
    o->rate_pauses = atomic_load(&m->st.rate_pauses);
    o->closed_stalled = atomic_load(&m->st.closed_stalled);
    o->last_connect_error = atomic_load(&m->last_connect_error);
}

/* ---- server role -------------------------------------------------------- */

int nc_server_create(nc_engine_t *e, const char *host, uint16_t port, const nc_role_opts_t *opts,
                     nc_server_t **out)
{
    nc_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NC_ENOMEM;
    int rc = role_init(&srv->r, e, opts, 0);
    if (rc != 0) {
        free(srv);
        return rc;
    }
    rc = nc__io_listen(e, &srv->r, host ? host : "0.0.0.0", port, &srv->listener, &srv->port);
    if (rc != 0) {
        nc_log(NC_LOG_ERROR, srv->r.name, "listen on %s:%u failed: %s", host ? host : "0.0.0.0",
               port, nc_strerror(rc));
        role_unlink(&srv->r);
        free(srv);
        return rc;
    }
    /* debug: the application says it once, with what the port is for */
    nc_log(NC_LOG_DEBUG, srv->r.name, "listening on %s port %u", host ? host : "0.0.0.0",
           srv->port);
    *out = srv;
    return 0;
}

uint16_t nc_server_port(const nc_server_t *srv)
{
    return srv->port;
}

void nc__on_accept(nc__role_t *r, nc__sock_t sock, const char *peer)
{
    nc__session_create(r, sock, peer);
}

void nc_server_destroy(nc_server_t *srv)
{
    if (!srv)
        return;
    nc__io_listen_close(srv->listener);
    role_close_all(&srv->r);
    role_unlink(&srv->r);
    free(srv);
}

void nc_server_stats(const nc_server_t *srv, nc_role_stats_t *out)
{
    role_stats(&srv->r, out);
}

/* ---- client role -------------------------------------------------------- */

static void client_connect_job(void *arg);

/* Next back-off delay: base * 2^attempts capped at max, with jitter drawn
 * from [d/2, d] so that many clients of a restarted server spread out. */
static uint64_t client_backoff_ms(struct nc_client_s *c)
{
    uint64_t d = c->r.opts.reconnect_base_ms;
    for (uint32_t i = 0; i < c->attempts && d < c->r.opts.reconnect_max_ms; i++)
        d *= 2;
    if (d > c->r.opts.reconnect_max_ms)
        d = c->r.opts.reconnect_max_ms;
    c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t half = d / 2;
    return half + (c->rng >> 33) % (d - half + 1);
}

/* Under c->r.lock.  pending stays 1 while the timer is armed. */
static void client_schedule_locked(struct nc_client_s *c)
{
    if (c->r.stopping || c->r.opts.no_reconnect) {
        c->pending = 0;
        nc__cond_broadcast(&c->r.cond);
        return;
    }
    uint64_t delay = client_backoff_ms(c);
    c->attempts++;
    c->pending = 1;
    if (nc_timer_start(c->strand, delay, 0, client_connect_job, c, &c->timer) != 0) {
        c->pending = 0;
        nc__cond_broadcast(&c->r.cond);
        nc_log(NC_LOG_ERROR, c->r.name, "cannot arm reconnect timer");
        return;
    }
    nc_log(NC_LOG_DEBUG, c->r.name, "reconnecting to %s:%u in %llu ms", c->host, c->port,
           (unsigned long long)delay);
}

static void client_connect_job(void *arg)
{
    struct nc_client_s *c = arg;
    nc__mutex_lock(&c->r.lock);
    c->timer = 0;
    if (c->r.stopping) {
        c->pending = 0;
        nc__cond_broadcast(&c->r.cond);
        nc__mutex_unlock(&c->r.lock);
        return;
    }
    nc__mutex_unlock(&c->r.lock);
    atomic_fetch_add(&c->r.st.reconnects, 1);
    nc__io_connect(c->r.engine, &c->r, c->host, c->port);
}

void nc__on_connect(nc__role_t *r, nc__sock_t sock, int status, const char *peer)
{
    struct nc_client_s *c = (struct nc_client_s *)r;
    if (status == 0) {
        if (nc__session_create(r, sock, peer)) {
            nc_log(NC_LOG_INFO, r->name, "connected to %s", peer);
            return;
        }
        nc__mutex_lock(&r->lock);
        client_schedule_locked(c); /* refused or out of resources: try later */
        nc__mutex_unlock(&r->lock);
        return;
    }
    atomic_fetch_add(&r->st.connect_failures, 1);
    atomic_store(&r->last_connect_error, status);
    if (status == NC_ETIMEDOUT)
        atomic_fetch_add(&r->st_io.connect_timeouts, 1);
    nc__mutex_lock(&r->lock);
    int quiet = c->attempts || r->stopping;
    nc__mutex_unlock(&r->lock);
    nc_log(quiet ? NC_LOG_DEBUG : NC_LOG_WARN, r->name, "connect to %s:%u failed: %s", c->host,
           c->port, nc_strerror(status));
    nc__mutex_lock(&r->lock);
    client_schedule_locked(c);
    nc__mutex_unlock(&r->lock);
}

/* From the session's final job: the connection is gone, try again. */
static void client_session_gone(struct nc_client_s *c, nc_session_t *s)
{
    nc__mutex_lock(&c->r.lock);
    if (c->current == s->id)
        c->current = 0;
    if (!c->r.stopping)
        nc_log(NC_LOG_WARN, c->r.name, "disconnected from %s: %s", s->peer, s->reason.text);
    if (!c->pending)
        client_schedule_locked(c);
    nc__mutex_unlock(&c->r.lock);
}

int nc_client_create(nc_engine_t *e, const char *host, uint16_t port, const nc_role_opts_t *opts,
                     nc_client_t **out)
{
    if (!host || !port)
        return NC_EINVAL;
    struct nc_client_s *c = calloc(1, sizeof(*c));
    if (!c)
        return NC_ENOMEM;
    int rc = role_init(&c->r, e, opts, 1);
    if (rc == 0 && (rc = nc_strand_create(c->r.opts.queue, &c->strand)) != 0)
        role_unlink(&c->r);
    if (rc != 0) {
        free(c);
        return rc;
    }
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    c->rng = nc_now_ns() ^ (uintptr_t)c;
    c->pending = 1;
    *out = c;
    nc__io_connect(e, &c->r, c->host, c->port);
    return 0;
}

nc_sid_t nc_client_session(const nc_client_t *c)
{
    nc_client_t *m = (nc_client_t *)c;
    nc__mutex_lock(&m->r.lock);
    nc_sid_t id = m->current;
    nc__mutex_unlock(&m->r.lock);
    return id;
}

void nc_client_destroy(nc_client_t *c)
{
    if (!c)
        return;
    nc__mutex_lock(&c->r.lock);
    c->r.stopping = 1;
    if (c->timer && nc_timer_cancel(nc_queue_pool(c->r.opts.queue), c->timer) == 0) {
        c->timer = 0;
        c->pending = 0;
    }
    nc__mutex_unlock(&c->r.lock);
    role_close_all(&c->r);
    /* A connect in flight (the peer may be black-holed: the OS would wait
     * minutes) fails now with NC_ECANCELED and clears pending.  Asked
     * again every 20 ms: a reconnect job that saw stopping == 0 just
     * before we set it may list its connect after our first look.  The
     * backend only compares role pointers, so no connect ever touches a
     * role that is gone. */
    nc__mutex_lock(&c->r.lock);
    while (c->pending) {
        nc__mutex_unlock(&c->r.lock);
        nc__io_connect_cancel(c->r.engine, &c->r);
        nc__mutex_lock(&c->r.lock);
        if (c->pending)
            nc__cond_timedwait(&c->r.cond, &c->r.lock, 20u * 1000000u);
    }
    nc__mutex_unlock(&c->r.lock);
    /* a connect that completed while stopping made a session: close it too */
    role_close_all(&c->r);
    role_unlink(&c->r);
    nc_strand_release(c->strand);
    free(c);
}

void nc_client_stats(const nc_client_t *c, nc_role_stats_t *out)
{
    role_stats(&c->r, out);
}

static void role_destroy_any(nc__role_t *r)
{
    if (r->is_client)
        nc_client_destroy((nc_client_t *)r);
    else
        nc_server_destroy((nc_server_t *)r);
}
