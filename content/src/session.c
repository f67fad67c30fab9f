/* Player sessions: netcore role handlers.  Decodes packets on the session's
 * strand, runs the login state machine and routes in-world requests to the
 * zone that owns the player.  Session state is touched only on its strand.
 * Which packet goes where is the schema's "route" (packets.json): "session"
 * packets are decoded and dispatched here by the generated proto_session_*
 * (content_on_login, ...), "zone" packets go to the player's zone
 * (zone_msg.c), anything else is refused.  The abuse limits that are
 * cheapest here run first, before a request costs a zone job: the session
 * cap, pre-login caps and login deadline, the request budget and the chat
 * rate limit (content/README.md, "Limits"). */
#include "content_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "session"

typedef enum { S_NEW, S_LOADING, S_LOGGED_IN, S_IN_WORLD } sstate_t;

typedef struct csess_s {
    content_world_t *w;
    nc_sid_t sid;
    sstate_t st;
    char name[CONTENT_NAME_MAX + 1];
    uint32_t entity_id;
    player_t *player; /* owned here only in S_LOGGED_IN */
    /* limits (issue 12) */
    char ip[48];
    nc_engine_t *engine;
    nc_pool_t *pool;               /* of the session's strand: timer cancel */
    int counted_live, counted_pre; /* in w->live / w->prelogin */
    int counted_ip;                /* in w->ips' pre-login count of ip */
    tbucket_t budget;
    flood_state_t flood;
    chat_limit_t chat;
    uint32_t prelogin_bad; /* game packets before entering the world */
    struct deadline_s *deadline;
    nc_timer_id_t deadline_timer;
    nc_evict_node_t pre; /* in w->pre, the pre-login list (under w->pre_mu) */
} csess_t;

/* The login deadline's one-shot timer argument: the job looks the session
 * up by id, so a deadline that fires after the close finds nothing. */
typedef struct deadline_s {
    nc_engine_t *engine;
    nc_sid_t sid;
} deadline_t;

static void fail(nc_session_t *s, csess_t *c, int code, const char *text)
{
    world_send_error(c->w, c->sid, code, 1, text);
    nc_session_close(s, code, text);
}

/* Input the client should never send: counted (gs_bad_input_total
 * {reason="bad_packet"}), answered, and the session closed. */
static void bad_input(nc_session_t *s, csess_t *c, int code, const char *text)
{
    atomic_fetch_add(&c->w->bad_packets, 1);
    nc_log_limited(&c->w->rl_kick, 100, NC_LOG_WARN, TAG, "[%llx] %s%sfrom %s: bad input: %s",
                   (unsigned long long)c->sid, c->name, c->name[0] ? " " : "", c->ip, text);
    fail(s, c, code, text);
}

/* Off the pre-login list (sessions that have not sent a login, oldest
 * first): a victim already taken off it is not touched. */
static void pre_unlist(csess_t *c)
{
    pthread_mutex_lock(&c->w->pre_mu);
    nc_evict_remove(&c->w->pre, &c->pre);
    pthread_mutex_unlock(&c->w->pre_mu);
}

static void prelogin_done(csess_t *c);

/* A session being closed by a limit stops counting against the caps at
 * once, not when its close completes (a lingering close waits for the
 * peer's FIN). */
static void release_counts(csess_t *c)
{
    prelogin_done(c);
    if (c->counted_live)
        atomic_fetch_sub(&c->w->live, 1);
    c->counted_live = 0;
}

/* Closes with a fatal error packet, a counter and a rate-limited line. */
static void kick(nc_session_t *s, csess_t *c, atomic_uint_fast64_t *counter, int code,
                 const char *text)
{
    atomic_fetch_add(counter, 1);
    nc_log_limited(&c->w->rl_kick, 100, NC_LOG_WARN, TAG, "[%llx] %s%sfrom %s closed: %s",
                   (unsigned long long)c->sid, c->name, c->name[0] ? " " : "", c->ip, text);
    fail(s, c, code, text);
    release_counts(c);
}

static const char *addr_key(const csess_t *c)
{
    const content_opts_t *o = &c->w->o;
    return o->exempt_loopback && limits_ip_is_loopback(c->ip) ? "" : c->ip;
}

static void cancel_deadline(csess_t *c)
{
    if (!c->deadline)
        return;
    if (nc_timer_cancel(c->pool, c->deadline_timer) == 0)
        free(c->deadline); /* else the job runs (or ran) and frees it */
    c->deadline = NULL;
    c->deadline_timer = 0;
}

/* Logged in or gone: no longer counted against the pre-login caps. */
static void prelogin_done(csess_t *c)
{
    pre_unlist(c);
    cancel_deadline(c);
    if (c->counted_pre)
        atomic_fetch_sub(&c->w->prelogin, 1);
    if (c->counted_ip)
        ipt_prelogin_leave(&c->w->ips, c->ip, nc_now_ms());
    c->counted_pre = c->counted_ip = 0;
}

static void deadline_job(void *arg)
{
    deadline_t *d = arg;
    nc_session_t *s = nc_session_get(d->engine, d->sid);
    csess_t *c = s ? nc_session_ud(s) : NULL;
    if (c && c->deadline == d) {
        c->deadline = NULL;
        c->deadline_timer = 0;
        if (c->st == S_NEW || c->st == S_LOADING)
            kick(s, c, &c->w->login_timeouts, PROTO_ERR_NOT_LOGGED_IN, "login timeout");
    }
    if (s)
        nc_session_put(s);
    free(d);
}

static void start_deadline(nc_session_t *s, csess_t *c)
{
    uint32_t ms = c->w->o.login_timeout_ms;
    deadline_t *d = ms ? malloc(sizeof *d) : NULL;
    if (!d)
        return;
    *d = (deadline_t){c->engine, c->sid};
    if (nc_timer_start(nc_session_strand(s), ms, 0, deadline_job, d, &c->deadline_timer) != 0) {
        nc_log(NC_LOG_ERROR, TAG, "[%llx] cannot start the login deadline",
               (unsigned long long)c->sid);
        free(d);
        return;
    }
    c->deadline = d;
}

static void refuse(nc_session_t *s, csess_t *c, atomic_uint_fast64_t *counter, const char *text)
{
    atomic_fetch_add(counter, 1);
    nc_log_limited(&c->w->rl_refuse, 200, NC_LOG_WARN, TAG, "[%llx] refused from %s: %s",
                   (unsigned long long)c->sid, c->ip, text);
    fail(s, c, PROTO_ERR_SERVER_FULL, text);
    release_counts(c);
}

/* The caps a new connection meets: live sessions, sessions not logged in
 * yet, and those per source address.  0 admitted (deadline running). */
static int admit(nc_session_t *s, csess_t *c)
{
    content_world_t *w = c->w;
    const content_opts_t *o = &w->o;
    c->counted_live = 1;
    if (atomic_fetch_add(&w->live, 1) >= o->max_sessions && o->max_sessions) {
        refuse(s, c, &w->refused_full, "server full");
        return -1;
    }
    c->counted_pre = 1;
    int full = atomic_fetch_add(&w->prelogin, 1) >= o->max_prelogin && o->max_prelogin;
    const char *key = addr_key(c);
    if (o->max_per_ip && *key) {
        int r = ipt_prelogin_enter(&w->ips, key, o->max_per_ip);
        if (r == 0) {
            refuse(s, c, &w->refused_per_ip, "server full: too many connections from your address");
            return -1;
        }
        c->counted_ip = r == 1; /* out of memory: admitted uncounted */
    }
    /* At limits.max_prelogin the newcomer evicts the oldest session that
     * has not sent a login yet (a player logs in within a round trip of
     * connecting; connections held open without logging in are the oldest),
     * so idle connections from anywhere cannot keep every new player out.
     * The victim still counts until its close ran: none left to evict, the
     * newcomer is refused (red-team review, issue 16 session). */
    nc_sid_t victim = 0;
    char vip[sizeof c->ip] = "";
    pthread_mutex_lock(&w->pre_mu);
    nc_evict_node_t *old = full ? nc_evict_pick(&w->pre, NULL, NULL) : NULL;
    if (old) {
        victim = old->sid;
        snprintf(vip, sizeof vip, "%s", NC_EVICT_ENTRY(old, csess_t, pre)->ip);
        nc_evict_remove(&w->pre, old);
    }
    if (!full || victim)
        nc_evict_add(&w->pre, &c->pre, c->sid, nc_now_ms());
    pthread_mutex_unlock(&w->pre_mu);
    if (full && !victim) {
        refuse(s, c, &w->refused_prelogin, "server full: too many connections logging in");
        return -1;
    }
    if (victim) {
        atomic_fetch_add(&w->refused_prelogin, 1); /* gs_sessions_refused_total{prelogin_cap} */
        nc_log_limited(&w->rl_refuse, 200, NC_LOG_WARN, TAG,
                       "[%llx] from %s closed for a newcomer from %s: limits.max_prelogin (%u) "
                       "reached and it was the oldest connection not logged in",
                       (unsigned long long)victim, vip, c->ip, (unsigned)o->max_prelogin);
        static const char why[] =
            "server full: the oldest connection not logged in is closed for a newcomer";
        world_send_error(w, victim, PROTO_ERR_SERVER_FULL, 1, why);
        nc_close_id(c->engine, victim, PROTO_ERR_SERVER_FULL, why);
    }
    start_deadline(s, c);
    return 0;
}

static int name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 2 || len > CONTENT_NAME_MAX)
        return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_')
            return 0;
    return 1;
}

static void on_open(nc_session_t *s, void *ud)
{
    csess_t *c = calloc(1, sizeof *c);
    if (!c) {
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    c->w = ud;
    c->sid = nc_session_id(s);
    c->engine = nc_session_engine(s);
    c->pool = nc_queue_pool(nc_strand_queue(nc_session_strand(s)));
    nc_session_set_ud(s, c);
    uint64_t now = nc_now_ms();
    limits_peer_ip(nc_session_peer(s), c->ip, sizeof c->ip);
    tbucket_init(&c->budget, c->w->o.budget_burst, now);
    chat_limit_init(&c->chat, &c->w->chat_rules, now);
    nc_log(NC_LOG_DEBUG, TAG, "[%llx] open from %s", (unsigned long long)c->sid,
           nc_session_peer(s));
    admit(s, c);
}

/* Game packets before the world: an error each, then a close. */
static void not_in_world(nc_session_t *s, csess_t *c, const char *text)
{
    uint32_t max = c->w->o.prelogin_packets;
    if (max && ++c->prelogin_bad > max) {
        kick(s, c, &c->w->kicked_prelogin_packets, PROTO_ERR_NOT_LOGGED_IN,
             "too many packets before login");
        return;
    }
    world_send_error(c->w, c->sid, PROTO_ERR_NOT_LOGGED_IN, 0, text);
}

/* A login whose name is longer than the schema allows fails to decode
 * (PROTO_ETOOLONG); it is a bad name, not a bad packet. */
static int name_too_long(const uint8_t *body, size_t len)
{
    return len >= 2 && (size_t)(body[0] | body[1] << 8) > CONTENT_NAME_MAX;
}

/* A login refused by the account rules (issue 13): a counter, a
 * rate-limited line naming the reason, a fatal error. */
static void auth_refuse(nc_session_t *s, csess_t *c, atomic_uint_fast64_t *counter,
                        const char *name, const char *reason, int code, const char *text)
{
    atomic_fetch_add(counter, 1);
    nc_log_limited(&c->w->rl_auth, 1000, NC_LOG_WARN, TAG, "[%llx] login '%s' from %s refused: %s",
                   (unsigned long long)c->sid, name, c->ip, reason);
    fail(s, c, code, text);
    release_counts(c);
}

/* Ticket mode: the token must be a valid ticket for this character.  Dev
 * mode: the name alone will do, but a token is still verified when a key
 * is configured.  Runs on the session strand after the cheap pre-login
 * limits (caps, request budget, name): an Ed25519 verify costs 50-200 us.
 * 0, or -1 when refused (the session is closing). */
static int authenticate(nc_session_t *s, csess_t *c, const proto_login_t *m, login_auth_t *a)
{
    content_world_t *w = c->w;
    *a = (login_auth_t){.who = {.checked = 0, .legacy_ok = 1}, .role = w->o.dev_role};
    if (!w->o.auth_ticket && (m->token_len == 0 || !w->have_key))
        return 0;
    if (!w->have_key) { /* the server refuses to start so; content alone might not */
        fail(s, c, PROTO_ERR_INTERNAL, "this shard cannot verify login tickets");
        return -1;
    }
    pa_ticket_t t;
    auth_verdict_t v = auth_check_ticket(&w->replay, &w->rules, m->token, m->token_len, m->name,
                                         nc_wall_ms() / 1000u, &t);
    if (v != AUTH_OK) {
        auth_refuse(s, c, &w->tickets_rejected[v], m->name, content_ticket_reject_name[v],
                    auth_verdict_code(v), auth_verdict_text(v));
        return -1;
    }
    atomic_fetch_add(&w->tickets_accepted, 1);
    a->who =
        (content_login_t){.checked = 1, .account_id = t.account_id, .legacy_ok = !w->o.auth_ticket};
    a->role = t.role;
    return 0;
}

void content_on_login(nc_session_t *s, csess_t *c, const proto_login_t *mp)
{
    const proto_login_t m = *mp;
    if (c->st != S_NEW) {
        bad_input(s, c, PROTO_ERR_BAD_PACKET, "bad or repeated login");
        return;
    }
    if (m.proto_hash != PROTO_HASH) {
        fail(s, c, PROTO_ERR_HASH_MISMATCH, proto_err_text(PROTO_ERR_HASH_MISMATCH));
        return;
    }
    if (!name_ok(m.name)) {
        fail(s, c, PROTO_ERR_BAD_NAME, "names are 2-24 letters, digits or _");
        return;
    }
    if (atomic_load(&c->w->shutting_down)) {
        fail(s, c, PROTO_ERR_SHUTTING_DOWN, proto_err_text(PROTO_ERR_SHUTTING_DOWN));
        return;
    }
    if (atomic_load(&c->w->draining)) { /* the console's `drain` (world_admin.c) */
        fail(s, c, PROTO_ERR_SHUTTING_DOWN, CONTENT_DRAINING_TEXT);
        return;
    }
    login_auth_t auth;
    if (authenticate(s, c, &m, &auth) != 0)
        return;
    uint32_t eid;
    int claim =
        world_login_claim(c->w, c->sid, nc_session_strand(s), m.name, addr_key(c), &auth, &eid);
    if (claim == -2) { /* the online owner is not kicked */
        auth_refuse(s, c, &c->w->not_owner, m.name, "online from another account",
                    PROTO_ERR_NOT_OWNER, "character belongs to another account");
        return;
    }
    if (claim < 0) {
        fail(s, c, PROTO_ERR_INTERNAL, "out of memory");
        return;
    }
    snprintf(c->name, sizeof c->name, "%s", m.name);
    c->st = S_LOADING;
    pre_unlist(c); /* a login is in flight: no longer evicted for a newcomer */
    nc_log_limited(&c->w->rl_conn, 1000, NC_LOG_INFO, TAG, "[%llx] login '%s' from %s",
                   (unsigned long long)c->sid, c->name, nc_session_peer(s));
}

static void send_login_result(csess_t *c, const player_t *p)
{
    proto_login_result_t r = {
        .code = 0, .player_id = p->ent.id, .zone = p->zone_id, .proto_hash = PROTO_HASH};
    memcpy(r.name, p->name, sizeof p->name);
    r.pos = (proto_vec2_t){p->ent.x, p->ent.y};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, login_result, LOGIN_RESULT, &r);
    if (pkt) {
        world_send(c->w, c->sid, pkt);
        nc_packet_release(pkt);
    }
}

void session_loaded_job(void *arg)
{
    login_job_t *j = arg;
    content_world_t *w = j->w;
    nc_session_t *s = w->o.engine ? nc_session_get(w->o.engine, j->sid) : NULL;
    csess_t *c = s ? nc_session_ud(s) : NULL;
    if (j->reserved && !(j->ok && j->c.created_now)) /* no character made: token back */
        ipt_chars_refund(&w->ips, j->ip, nc_now_ms());
    if (!j->ok)
        snprintf(j->c.name, sizeof j->c.name, "%s", j->name);
    if (!world_zone_by_id(w, (uint16_t)j->c.zone)) {
        j->c.zone = w->defs.v[0].id;
        j->c.x = w->defs.v[0].spawn_x;
        j->c.y = w->defs.v[0].spawn_y;
    }
    player_t *p = player_new(w, &j->c, j->sid, j->entity_id);
    if (p)
        p->role = j->auth.role;
    if (c && c->st == S_LOADING && j->ok && p) {
        c->player = p;
        c->entity_id = j->entity_id;
        c->st = S_LOGGED_IN;
        prelogin_done(c);
        atomic_fetch_add(&w->logins, 1);
        send_login_result(c, p);
    } else {
        if (c && j->refused)
            fail(s, c, PROTO_ERR_RATE_LIMITED, "too many new characters: try again later");
        else if (c && j->not_owner)
            auth_refuse(s, c, &w->not_owner, j->name,
                        j->c.has_owner ? "character belongs to another account"
                                       : "legacy character (no owner): not claimed yet",
                        PROTO_ERR_NOT_OWNER,
                        j->c.has_owner ? "character belongs to another account"
                                       : "character has no owner yet (legacy): ask an admin to "
                                         "claim it for your account");
        else if (c)
            fail(s, c, PROTO_ERR_INTERNAL,
                 j->db_unavailable ? "database unavailable, try again later"
                                   : "character could not be loaded");
        if (p)
            world_player_done(w, p); /* releases the name (or hands it over) */
    }
    if (s)
        nc_session_put(s);
    nc_strand_release(j->strand);
    free(j);
}

void content_on_enter_world(nc_session_t *s, csess_t *c, const proto_enter_world_t *m)
{
    (void)m;
    if (c->st != S_LOGGED_IN) {
        not_in_world(s, c, "log in first");
        return;
    }
    content_world_t *w = c->w;
    player_t *p = c->player;
    zone_t *z = world_zone_by_id(w, p->zone_id);
    int ok = zone_enter_if_current(z, p, c->name, c->sid, 0);
    c->player = NULL;
    c->st = S_IN_WORLD;
    if (!ok) {
        world_player_done(w, p);
        nc_session_close(s, 0, "taken over");
    }
}

/* The chat rate limit and mute, here rather than on the zone strand: a
 * muted flooder's messages cost no zone job.  1 when the message is dropped. */
static int chat_muted(csess_t *c)
{
    content_world_t *w = c->w;
    chat_limit_verdict_t v = chat_limit_check(&c->chat, &w->chat_rules, nc_now_ms());
    if (v == CHAT_LIMIT_OK)
        return 0;
    atomic_fetch_add(&w->chat_muted, 1);
    if (v == CHAT_LIMIT_NOW_MUTED) {
        char t[96];
        snprintf(t, sizeof t, "you are muted for %u s (chat flood)",
                 (unsigned)(w->chat_rules.mute_ms / 1000));
        world_send_notice(w, c->sid, PROTO_ERR_OK, t);
    }
    return 1;
}

/* Chat text and whisper targets reach other players' screens: valid UTF-8
 * without control characters (C0, DEL, C1: a terminal runs them as escape
 * sequences, a newline fakes a line from someone else) or bidi overrides
 * and isolates (U+202A-202E, U+2066-2069: text that reads differently than
 * it is).  Red-team review (issue 16 session). */
static int chat_text_ok(const char *t)
{
    const unsigned char *p = (const unsigned char *)t;
    while (*p) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1fu;
            n = 2;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0fu;
            n = 3;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07u;
            n = 4;
        } else {
            return 0;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
                return 0;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) /* overlong, ... */
            return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069))
            return 0;
        p += n;
    }
    return 1;
}

/* Decodes an in-world request into a zone message and routes it. */
static void to_zone(nc_session_t *s, csess_t *c, uint16_t type, const uint8_t *body, size_t len)
{
    zone_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return;
    int rc = proto_zone_decode(type, body, len, &m->u);
    const char *bad =
        rc != 0                                         ? proto_strerror(rc)
        : type == PROTO_T_CHAT && m->u.chat.channel > 2 ? "chat channel out of range (0-2)"
        : type == PROTO_T_WHO_REQUEST && m->u.who_request.scope > 1 ? "who scope out of range (0-1)"
        : type == PROTO_T_CHAT && (!chat_text_ok(m->u.chat.text) || !chat_text_ok(m->u.chat.target))
            ? "chat text with a control character or invalid UTF-8"
            : NULL;
    if (bad) {
        free(m);
        bad_input(s, c, PROTO_ERR_BAD_PACKET, bad);
        return;
    }
    if (c->st != S_IN_WORLD) {
        free(m);
        not_in_world(s, c, "enter the world first");
        return;
    }
    if (type == PROTO_T_CHAT && chat_muted(c)) {
        free(m);
        return;
    }
    *m = (zone_msg_t){.w = c->w,
                      .zone_idx = -1,
                      .entity_id = c->entity_id,
                      .sid = c->sid,
                      .type = type,
                      .held = s,
                      .t_ns = nc_now_ns(),
                      .u = m->u};
    memcpy(m->name, c->name, sizeof c->name);
    nc_session_hold(s, (uint32_t)sizeof *m);
    zone_route(c->w, m);
}

/* A ping before the world is answered here (in the world, by the zone). */
static void session_ping(nc_session_t *s, csess_t *c, const uint8_t *body, size_t len)
{
    proto_ping_t m;
    if (proto_decode_ping(body, len, &m) != 0) {
        bad_input(s, c, PROTO_ERR_BAD_PACKET, "bad ping");
        return;
    }
    proto_pong_t r = {.client_time = m.client_time, .server_time = nc_wall_ms()};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, pong, PONG, &r);
    if (pkt) {
        nc_send_packet(s, pkt);
        nc_packet_release(pkt);
    }
}

/* A request over the budget: dropped and counted; a second of many drops
 * earns one warning, flood_kick_s such seconds in a row a kick. */
static void over_budget(nc_session_t *s, csess_t *c, uint64_t now)
{
    content_world_t *w = c->w;
    atomic_fetch_add_explicit(&w->requests_dropped, 1, memory_order_relaxed);
    switch (flood_on_drop(&c->flood, w->o.flood_warn_drops, w->o.flood_kick_s, now)) {
    case FLOOD_DROP: break;
    case FLOOD_WARN:
        atomic_fetch_add(&w->flood_warnings, 1);
        world_send_error(w, c->sid, PROTO_ERR_RATE_LIMITED, 0,
                         "too many requests: some were dropped (slow down or be disconnected)");
        break;
    case FLOOD_KICK: kick(s, c, &w->kicked_flood, PROTO_ERR_RATE_LIMITED, "request flood"); break;
    }
}

void content_on_logout(nc_session_t *s, csess_t *c, const proto_logout_t *m)
{
    (void)c;
    (void)m;
    nc_session_close(s, 0, "logout");
}

/* A "session" packet: decoded here, then its content_on_<packet>. */
static void on_session_packet(nc_session_t *s, csess_t *c, uint16_t type, const uint8_t *body,
                              size_t len)
{
    if (type == PROTO_T_LOGIN && c->st == S_NEW && name_too_long(body, len)) {
        bad_input(s, c, PROTO_ERR_BAD_NAME, "names are 2-24 letters, digits or _");
        return;
    }
    proto_session_msg_t m;
    int rc = proto_session_decode(type, body, len, &m);
    if (rc != 0) {
        bad_input(s, c, PROTO_ERR_BAD_PACKET,
                  type == PROTO_T_LOGIN ? "bad or repeated login" : proto_strerror(rc));
        return;
    }
    proto_session_dispatch(type, s, c, &m);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    (void)ud;
    csess_t *c = nc_session_ud(s);
    if (!c || nc_session_is_closing(s))
        return;
    const content_opts_t *o = &c->w->o;
    if (o->budget_per_s > 0 && type != PROTO_T_LOGOUT) {
        uint64_t now = nc_now_ms();
        if (!tbucket_take(&c->budget, o->budget_per_s, o->budget_burst, limits_cost(type), now)) {
            over_budget(s, c, now);
            return;
        }
    }
    const proto_packet_info_t *pi = proto_packet_info(type);
    int route = pi && pi->dir == PROTO_DIR_C2S ? pi->route : PROTO_ROUTE_NONE;
    if (route == PROTO_ROUTE_SESSION)
        on_session_packet(s, c, type, body, len);
    else if (route == PROTO_ROUTE_ZONE && type == PROTO_T_PING && c->st != S_IN_WORLD)
        session_ping(s, c, body, len); /* in the world, the zone answers: the round trip
                                        * then includes the zone's queue, and the pong
                                        * follows every earlier in-world request (a
                                        * barrier clients and tests can rely on) */
    else if (route == PROTO_ROUTE_ZONE)
        to_zone(s, c, type, body, len);
    else /* s2c, s2s, login server packets, unknown types */
        bad_input(s, c, PROTO_ERR_BAD_PACKET, "unexpected packet type");
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)ud;
    csess_t *c = nc_session_ud(s);
    if (!c)
        return;
    /* a line per player (rate-limited at churn); never-logged-in: debug */
    if (c->st != S_NEW)
        nc_log_limited(&c->w->rl_conn, 1000, NC_LOG_INFO, TAG, "[%llx] closed %s: %s (%d)",
                       (unsigned long long)c->sid, c->name, why->text, why->code);
    else
        nc_log(NC_LOG_DEBUG, TAG, "[%llx] closed: %s (%d)", (unsigned long long)c->sid, why->text,
               why->code);
    release_counts(c);
    if (c->st == S_LOADING || c->st == S_IN_WORLD)
        world_session_gone(c->w, c->sid, c->name, c->st == S_IN_WORLD);
    else if (c->st == S_LOGGED_IN)
        world_player_done(c->w, c->player);
    nc_session_set_ud(s, NULL);
    free(c);
}

nc_handlers_t content_handlers(void)
{
    return (nc_handlers_t){on_open, on_packet, on_close};
}
