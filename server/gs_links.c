/* Chat and master links of the gameserver (see gs_links.h).  Every handler
 * and the heartbeat timer run as jobs on the `control` queue; shared state is
 * a few atomics, so the global-chat hook may be called from any zone strand. */
#include "gs_links.h"

#include "content.h"
#include "gs_platform.h"
#include "proto_packets.h"
#include "proto_s2s.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "links"

typedef struct link_s {
    gs_links_t *owner;
    const char *what; /* "chat" / "master" */
    int is_master;
    atomic_int announced_draining; /* what its last shard_register said */
    char addr[80];                 /* "host:port" (metrics, logs) */
    nc_client_t *client;
    atomic_int online; /* authenticated (and, master, registered) */
    /* the handshake of the current connection; touched only by this link's
     * handlers, which run one at a time (one session, one strand) */
    proto_s2s_hello_t hello; /* ours: its nonce */
    int authed;
    atomic_uint_fast64_t auth_failures;
    nc_log_state_t auth_log;
    /* netcore's back-off restarts at every connect that succeeds, so after
     * a failed handshake the link holds the session this long before
     * closing it: base * 2^failures in a row, capped at reconnect_max_ms */
    uint32_t fails_in_row;
    nc_sid_t doomed;
    nc_timer_id_t close_timer;
} link_t;

struct gs_links_s {
    gs_links_cfg_t cfg;
    gs_links_hooks_t hooks;
    nc_engine_t *engine;
    link_t chat;
    link_t masters[GS_LINKS_MAX_MASTERS]; /* issue 16: one link per master */
    int n_masters;
    atomic_int draining; /* announced capacity 0 (gs_links_set_draining) */
    nc_strand_t *timer_strand;
    nc_timer_id_t hb_timer;
    atomic_int stopping;
    atomic_int fenced; /* set by the timer strand's last job at stop */
    content_world_t *world;
};

static int send_msg(nc_session_t *s, const proto_msg_t *m)
{
    uint8_t buf[512];
    int n = proto_encode(m, buf, sizeof buf);
    return n < 0 ? n : nc_send(s, m->type, buf, (size_t)n);
}

static void system_say(gs_links_t *l, const char *text)
{
    if (l->hooks.deliver)
        l->hooks.deliver(l->hooks.ud, "", "*system*", text);
}

static void on_open(nc_session_t *s, void *ud)
{
    link_t *k = ud;
    const gs_links_cfg_t *c = &k->owner->cfg;
    proto_msg_t m = {.type = PROTO_T_S2S_HELLO};
    pa_s2s_client_hello(c->insecure ? NULL : c->key, c->shard, 0, &k->hello);
    k->authed = 0;
    m.s2s_hello = k->hello;
    send_msg(s, &m);
}

/* By session id: also sent from other threads (gs_links_set_draining). */
static void register_shard(link_t *k, nc_sid_t sid)
{
    const gs_links_cfg_t *c = &k->owner->cfg;
    proto_msg_t m = {.type = PROTO_T_SHARD_REGISTER};
    snprintf(m.shard_register.shard, sizeof m.shard_register.shard, "%s", c->shard);
    snprintf(m.shard_register.host, sizeof m.shard_register.host, "%s", c->public_host);
    m.shard_register.port = c->public_port;
    int draining = atomic_load(&k->owner->draining);
    atomic_store(&k->announced_draining, draining);
    m.shard_register.capacity = draining ? 0 : c->capacity;
    uint8_t buf[PROTO_MAX_SIZE_SHARD_REGISTER];
    int n = proto_encode(&m, buf, sizeof buf);
    if (n >= 0)
        nc_send_id(k->owner->engine, sid, m.type, buf, (size_t)n);
}

static void link_up(link_t *k, nc_session_t *s)
{
    if (atomic_exchange(&k->online, 1))
        return; /* a re-registration (drain, undrain) answered */
    k->fails_in_row = 0;
    nc_log(NC_LOG_INFO, TAG, "%s link up (session %llx, %s)", k->what,
           (unsigned long long)nc_session_id(s), nc_session_peer(s));
    if (k == &k->owner->chat)
        system_say(k->owner, "global chat online");
}

static void close_job(void *arg)
{
    link_t *k = arg;
    nc_close_id(k->owner->engine, k->doomed, PROTO_ERR_S2S_AUTH_FAILED, "s2s auth failed");
}

/* Counts, logs (rate-limited) and closes the session after the back-off
 * (at once if the timer cannot be armed). */
static void auth_failed(link_t *k, nc_session_t *s, const char *why)
{
    atomic_fetch_add(&k->auth_failures, 1);
    nc_log_limited(&k->auth_log, 10000, NC_LOG_ERROR, TAG,
                   "%s link to %s: authentication failed: %s; check links.secret_file / "
                   "links.insecure on both sides (%llu failures so far)",
                   k->what, nc_session_peer(s), why,
                   (unsigned long long)atomic_load(&k->auth_failures));
    uint32_t cap = k->owner->cfg.reconnect_max_ms ? k->owner->cfg.reconnect_max_ms : 2000;
    uint64_t delay = 100;
    for (uint32_t i = 0; i < k->fails_in_row && delay < cap; i++)
        delay *= 2;
    k->fails_in_row++;
    k->doomed = nc_session_id(s);
    if (atomic_load(&k->owner->stopping) ||
        nc_timer_start(k->owner->timer_strand, delay < cap ? delay : cap, 0, close_job, k,
                       &k->close_timer) != 0)
        nc_session_close(s, PROTO_ERR_S2S_AUTH_FAILED, "s2s auth failed");
}

/* The server's answer to our hello: check its proof, send ours, then
 * register (master) or go up (chat).  After that, a hello_result can only
 * be a refusal (our proof was wrong, the chat server is full). */
static void on_hello_result(link_t *k, nc_session_t *s, const proto_s2s_hello_result_t *r)
{
    const gs_links_cfg_t *c = &k->owner->cfg;
    if (r->code == PROTO_ERR_HASH_MISMATCH || (k->authed && r->code != 0)) {
        nc_log(NC_LOG_ERROR, TAG, "%s server refused us: %s (its protocol %016llx, ours %016llx)",
               k->what, proto_err_text(r->code), (unsigned long long)r->proto_hash,
               (unsigned long long)PROTO_HASH);
        if (r->code == PROTO_ERR_S2S_AUTH_FAILED)
            atomic_fetch_add(&k->auth_failures, 1);
        nc_session_close(s, r->code, "refused by peer");
        return;
    }
    proto_msg_t m = {.type = PROTO_T_S2S_AUTH};
    char err[128];
    if (k->authed || pa_s2s_client_result(c->insecure ? NULL : c->key, &k->hello, r, &m.s2s_auth,
                                          err, sizeof err) != 0) {
        auth_failed(k, s, k->authed ? "a second s2s_hello_result" : err);
        return;
    }
    k->authed = 1;
    if (!c->insecure)
        send_msg(s, &m);
    if (k->is_master)
        register_shard(k, nc_session_id(s));
    else
        link_up(k, s);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    link_t *k = ud;
    gs_links_t *l = k->owner;
    if (k->doomed == nc_session_id(s))
        return; /* failed its handshake: closes after the back-off */
    proto_msg_t m;
    int rc = proto_decode(type, body, len, &m);
    if (rc < 0) {
        nc_session_close(s, PROTO_ERR_BAD_PACKET, proto_strerror(rc));
        return;
    }
    if (m.type == PROTO_T_S2S_HELLO_RESULT) {
        on_hello_result(k, s, &m.s2s_hello_result);
    } else if (m.type == PROTO_T_SHARD_REGISTER_RESULT && k->is_master) {
        if (m.shard_register_result.code == 0) {
            link_up(k, s);
            /* a drain or undrain while this registration was on its way
             * skipped the link (not up yet): announce the state now */
            if (atomic_load(&l->draining) != atomic_load(&k->announced_draining))
                register_shard(k, nc_session_id(s));
        } else
            nc_log(NC_LOG_ERROR, TAG, "master %s refused registration: %s", k->addr,
                   proto_err_text(m.shard_register_result.code));
    } else if (m.type == PROTO_T_CHAT_RELAY && k == &l->chat) {
        if (l->hooks.deliver)
            l->hooks.deliver(l->hooks.ud, m.chat_relay.shard, m.chat_relay.sender,
                             m.chat_relay.text);
    } else {
        nc_log(NC_LOG_WARN, TAG, "%s link: unexpected packet %s", k->what,
               proto_type_name(type) ? proto_type_name(type) : "?");
    }
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    link_t *k = ud;
    int was = atomic_exchange(&k->online, 0);
    if (atomic_load(&k->owner->stopping))
        return;
    nc_log(NC_LOG_WARN, TAG, "%s link down (%s, session %llx: %s); reconnecting with back-off",
           k->what, k->addr, (unsigned long long)nc_session_id(s), why->text);
    if (was && k == &k->owner->chat)
        system_say(k->owner, "global chat offline");
}

/* One heartbeat to every master that is up (each link on its own). */
static void heartbeat_job(void *arg)
{
    gs_links_t *l = arg;
    proto_msg_t m = {.type = PROTO_T_SHARD_HEARTBEAT};
    uint8_t buf[16];
    int n = -1, counted = 0;
    for (int i = 0; i < l->n_masters; i++) {
        link_t *k = &l->masters[i];
        nc_sid_t sid = k->client ? nc_client_session(k->client) : 0;
        if (!sid || !atomic_load(&k->online))
            continue;
        if (!counted) { /* once per beat, not per master */
            m.shard_heartbeat.population =
                l->hooks.population ? l->hooks.population(l->hooks.ud) : 0;
            n = proto_encode(&m, buf, sizeof buf);
            counted = 1;
        }
        if (n >= 0)
            nc_send_id(l->engine, sid, m.type, buf, (size_t)n);
    }
}

int gs_links_global_chat(gs_links_t *l, const char *sender, const char *text)
{
    nc_sid_t sid = l->chat.client ? nc_client_session(l->chat.client) : 0;
    if (!sid || !atomic_load(&l->chat.online))
        return NC_ECLOSED;
    proto_msg_t m = {.type = PROTO_T_CHAT_RELAY};
    snprintf(m.chat_relay.shard, sizeof m.chat_relay.shard, "%s", l->cfg.shard);
    snprintf(m.chat_relay.sender, sizeof m.chat_relay.sender, "%s", sender);
    snprintf(m.chat_relay.text, sizeof m.chat_relay.text, "%s", text);
    uint8_t buf[PROTO_MAX_SIZE_CHAT_RELAY];
    int n = proto_encode(&m, buf, sizeof buf);
    return n < 0 ? n : nc_send_id(l->engine, sid, m.type, buf, (size_t)n);
}

int gs_links_chat_online(const gs_links_t *l)
{
    return l && atomic_load(&((gs_links_t *)l)->chat.online);
}

int gs_links_master_online(const gs_links_t *l)
{
    int n = 0;
    for (int i = 0; l && i < l->n_masters; i++)
        n += atomic_load(&((gs_links_t *)l)->masters[i].online) != 0;
    return n;
}

int gs_links_master_count(const gs_links_t *l)
{
    return l ? l->n_masters : 0;
}

int gs_links_master_info(const gs_links_t *l, int i, char *addr, size_t addrlen, int *up)
{
    if (!l || i < 0 || i >= l->n_masters)
        return -1;
    link_t *k = &((gs_links_t *)l)->masters[i];
    snprintf(addr, addrlen, "%s", k->addr);
    *up = atomic_load(&k->online) != 0;
    return 0;
}

void gs_links_set_draining(gs_links_t *l, int draining)
{
    if (!l || atomic_exchange(&l->draining, draining != 0) == (draining != 0))
        return;
    for (int i = 0; i < l->n_masters; i++) {
        link_t *k = &l->masters[i];
        nc_sid_t sid = k->client ? nc_client_session(k->client) : 0;
        if (sid && atomic_load(&k->online))
            register_shard(k, sid); /* a master linking later registers with the new one */
    }
    nc_log(NC_LOG_INFO, TAG, "%s: announced capacity %u to the %d master(s) up",
           draining ? "draining" : "undrained", draining ? 0u : (unsigned)l->cfg.capacity,
           gs_links_master_online(l));
}

void gs_links_stats(const gs_links_t *l, gs_links_stats_t *out)
{
    gs_links_t *m = (gs_links_t *)l;
    out->chat_auth_failures = m ? atomic_load(&m->chat.auth_failures) : 0;
    out->master_auth_failures = 0;
    for (int i = 0; m && i < m->n_masters; i++)
        out->master_auth_failures += atomic_load(&m->masters[i].auth_failures);
}

static int link_start(gs_links_t *l, link_t *k, const char *what, const char *host, uint16_t port,
                      nc_queue_t *control)
{
    k->owner = l;
    k->what = what;
    k->is_master = strcmp(what, "master") == 0;
    snprintf(k->addr, sizeof k->addr, "%s:%u", host, (unsigned)port);
    if (!host[0] || port == 0) {
        nc_log(NC_LOG_INFO, TAG, "%s link disabled (no address configured)", what);
        return 0;
    }
    nc_role_opts_t ro = {.name = what,
                         .queue = control,
                         .ud = k,
                         .handlers = {on_open, on_packet, on_close},
                         .reconnect_base_ms = 100,
                         .reconnect_max_ms =
                             l->cfg.reconnect_max_ms ? l->cfg.reconnect_max_ms : 2000,
                         .connect_timeout_ms = l->cfg.connect_timeout_ms};
    int rc = nc_client_create(l->engine, host, port, &ro, &k->client);
    if (rc == 0)
        nc_log(NC_LOG_INFO, TAG, "%s link: connecting to %s:%u", what, host, (unsigned)port);
    return rc;
}

int gs_links_start(nc_engine_t *e, nc_queue_t *control, const gs_links_cfg_t *cfg,
                   const gs_links_hooks_t *hooks, gs_links_t **out)
{
    gs_links_t *l = calloc(1, sizeof *l);
    if (!l)
        return NC_ENOMEM;
    l->cfg = *cfg;
    if (hooks)
        l->hooks = *hooks;
    l->engine = e;
    int rc = nc_strand_create(control, &l->timer_strand);
    if (rc == 0)
        rc = nc_timer_start(l->timer_strand, cfg->heartbeat_ms, cfg->heartbeat_ms, heartbeat_job, l,
                            &l->hb_timer);
    if (rc == 0)
        rc = link_start(l, &l->chat, "chat", cfg->chat_host, cfg->chat_port, control);
    /* issue 16: master.host first, then master.extra, each its own link */
    if (rc == 0 && cfg->master_host[0] && cfg->master_port != 0)
        rc = link_start(l, &l->masters[l->n_masters++], "master", cfg->master_host,
                        cfg->master_port, control);
    else if (rc == 0)
        nc_log(NC_LOG_INFO, TAG, "master link disabled (no address configured)");
    int extra = cfg->extra_count < 0 ? 0 : cfg->extra_count;
    for (int i = 0; rc == 0 && i < extra && l->n_masters < GS_LINKS_MAX_MASTERS; i++)
        if (cfg->extra_host[i][0] && cfg->extra_port[i] != 0)
            rc = link_start(l, &l->masters[l->n_masters++], "master", cfg->extra_host[i],
                            cfg->extra_port[i], control);
    if (rc != 0) {
        nc_log(NC_LOG_ERROR, TAG, "cannot start links: %s", nc_strerror(rc));
        gs_links_stop(l);
        return rc;
    }
    *out = l;
    return 0;
}

static void fence_job(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

/* After nc_timer_cancel a heartbeat already running still finishes: post a
 * job behind it on the timer strand and wait for that one.  0, or -1 if it
 * did not run in time (then l must not be freed: the job writes to it). */
static int fence_timer_strand(gs_links_t *l)
{
    atomic_store(&l->fenced, 0);
    int rc = nc_strand_post(l->timer_strand, fence_job, &l->fenced);
    if (rc == NC_EQFULL)
        rc = nc_timer_start(l->timer_strand, 0, 0, fence_job, &l->fenced, NULL);
    if (rc != 0)
        return 0; /* pool gone: nothing runs any more */
    for (uint64_t end = nc_now_ms() + 10000; !atomic_load(&l->fenced);) {
        if (nc_now_ms() > end)
            return -1;
        gs_sleep_ms(1);
    }
    return 0;
}

/* Order: unhook content first (content_set_global_chat_hook waits for a
 * shout in progress, and no zone calls gs_links_global_chat afterwards),
 * then stop the heartbeat and wait out a running one, then the clients
 * (their destroy returns after their handlers ran); only then free. */
void gs_links_stop(gs_links_t *l)
{
    if (!l)
        return;
    gs_links_detach_world(l);
    atomic_store(&l->stopping, 1);
    nc_pool_t *pool = l->timer_strand ? nc_queue_pool(nc_strand_queue(l->timer_strand)) : NULL;
    if (l->hb_timer)
        nc_timer_cancel(pool, l->hb_timer);
    int fenced = l->timer_strand ? fence_timer_strand(l) : 0;
    /* every master sees its link close: each lists the shard down at once */
    if (l->chat.client)
        nc_client_destroy(l->chat.client);
    for (int i = 0; i < l->n_masters; i++)
        if (l->masters[i].client)
            nc_client_destroy(l->masters[i].client);
    /* no handler runs any more, so no close timer is armed after these
     * cancels; the second fence waits out one already posted */
    int armed = l->chat.close_timer != 0;
    if (l->chat.close_timer)
        nc_timer_cancel(pool, l->chat.close_timer);
    for (int i = 0; i < l->n_masters; i++)
        if (l->masters[i].close_timer) {
            nc_timer_cancel(pool, l->masters[i].close_timer);
            armed = 1;
        }
    if (fenced == 0 && l->timer_strand && armed)
        fenced = fence_timer_strand(l);
    if (fenced != 0) {
        nc_log(NC_LOG_ERROR, TAG, "heartbeat job still running after 10 s; links not freed");
        return;
    }
    if (l->timer_strand)
        nc_strand_release(l->timer_strand);
    free(l);
}

/* ---- content glue ---- */

static void world_deliver(void *ud, const char *shard, const char *sender, const char *text)
{
    content_deliver_global_chat(ud, shard, sender, text);
}

static uint32_t world_population(void *ud)
{
    return content_online(ud);
}

static int world_shout(void *ud, const char *sender, const char *text)
{
    return gs_links_global_chat(ud, sender, text);
}

int gs_links_start_for_world(nc_engine_t *e, nc_queue_t *control, const gs_links_cfg_t *cfg,
                             struct content_world_s *world, gs_links_t **out)
{
    gs_links_hooks_t h = {world_deliver, world_population, world};
    int rc = gs_links_start(e, control, cfg, &h, out);
    if (rc == 0) {
        (*out)->world = world;
        content_set_global_chat_hook(world, world_shout, *out);
    }
    return rc;
}

void gs_links_detach_world(gs_links_t *l)
{
    if (l && l->world) {
        content_set_global_chat_hook(l->world, NULL, NULL);
        l->world = NULL;
    }
}
