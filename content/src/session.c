/* Player sessions: netcore role handlers.  Decodes packets on the session's
 * strand, runs the login state machine and routes in-world requests to the
 * zone that owns the player.  Session state is touched only on its strand. */
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
} csess_t;

static void fail(nc_session_t *s, csess_t *c, int code, const char *text)
{
    world_send_error(c->w, c->sid, code, 1, text);
    nc_session_close(s, code, text);
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
    nc_session_set_ud(s, c);
    nc_log(NC_LOG_DEBUG, TAG, "[%llx] open from %s", (unsigned long long)c->sid,
           nc_session_peer(s));
}

static void on_login(nc_session_t *s, csess_t *c, const uint8_t *body, size_t len)
{
    proto_login_t m;
    if (proto_decode_login(body, len, &m) != 0 || c->st != S_NEW) {
        atomic_fetch_add(&c->w->bad_packets, 1);
        fail(s, c, PROTO_ERR_BAD_PACKET, "bad or repeated login");
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
    snprintf(c->name, sizeof c->name, "%s", m.name);
    uint32_t eid;
    if (world_login_claim(c->w, c->sid, nc_session_strand(s), c->name, &eid) < 0) {
        fail(s, c, PROTO_ERR_INTERNAL, "out of memory");
        return;
    }
    c->st = S_LOADING;
    nc_log(NC_LOG_INFO, TAG, "[%llx] login '%s' from %s", (unsigned long long)c->sid, c->name,
           nc_session_peer(s));
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
    if (!j->ok)
        snprintf(j->c.name, sizeof j->c.name, "%s", j->name);
    if (!world_zone_by_id(w, (uint16_t)j->c.zone)) {
        j->c.zone = w->defs.v[0].id;
        j->c.x = w->defs.v[0].spawn_x;
        j->c.y = w->defs.v[0].spawn_y;
    }
    player_t *p = player_new(w, &j->c, j->sid, j->entity_id);
    if (c && c->st == S_LOADING && j->ok && p) {
        c->player = p;
        c->entity_id = j->entity_id;
        c->st = S_LOGGED_IN;
        atomic_fetch_add(&w->logins, 1);
        send_login_result(c, p);
    } else {
        if (c)
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

static void on_enter_world(nc_session_t *s, csess_t *c)
{
    if (c->st != S_LOGGED_IN) {
        world_send_error(c->w, c->sid, PROTO_ERR_NOT_LOGGED_IN, 0, "log in first");
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

/* Decodes an in-world request into a zone message and routes it. */
static void to_zone(nc_session_t *s, csess_t *c, uint16_t type, const uint8_t *body, size_t len)
{
    zone_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return;
    int rc = PROTO_EUNKNOWN;
    switch (type) {
    case PROTO_T_MOVE: rc = proto_decode_move(body, len, &m->u.move); break;
    case PROTO_T_CHAT: rc = proto_decode_chat(body, len, &m->u.chat); break;
    case PROTO_T_WHO_REQUEST: rc = proto_decode_who_request(body, len, &m->u.who); break;
    case PROTO_T_ZONE_CHANGE_REQUEST:
        rc = proto_decode_zone_change_request(body, len, &m->u.zc);
        break;
    case PROTO_T_PING: rc = proto_decode_ping(body, len, &m->u.ping); break;
    }
    if (rc != 0) {
        free(m);
        atomic_fetch_add(&c->w->bad_packets, 1);
        fail(s, c, PROTO_ERR_BAD_PACKET, proto_strerror(rc));
        return;
    }
    if (c->st != S_IN_WORLD) {
        free(m);
        world_send_error(c->w, c->sid, PROTO_ERR_NOT_LOGGED_IN, 0, "enter the world first");
        return;
    }
    *m = (zone_msg_t){.w = c->w,
                      .zone_idx = -1,
                      .entity_id = c->entity_id,
                      .sid = c->sid,
                      .type = type,
                      .u = m->u};
    memcpy(m->name, c->name, sizeof c->name);
    zone_route(c->w, m);
}

static void on_ping(nc_session_t *s, csess_t *c, const uint8_t *body, size_t len)
{
    proto_ping_t m;
    if (proto_decode_ping(body, len, &m) != 0) {
        atomic_fetch_add(&c->w->bad_packets, 1);
        fail(s, c, PROTO_ERR_BAD_PACKET, "bad ping");
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

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    (void)ud;
    csess_t *c = nc_session_ud(s);
    if (!c)
        return;
    switch (type) {
    case PROTO_T_LOGIN: on_login(s, c, body, len); break;
    case PROTO_T_ENTER_WORLD: on_enter_world(s, c); break;
    case PROTO_T_PING:
        /* in the world, the zone answers: the round trip then includes the
         * zone's queue, and the pong follows every earlier in-world request
         * (a barrier clients and tests can rely on) */
        if (c->st == S_IN_WORLD)
            to_zone(s, c, type, body, len);
        else
            on_ping(s, c, body, len);
        break;
    case PROTO_T_LOGOUT: nc_session_close(s, 0, "logout"); break;
    case PROTO_T_MOVE:
    case PROTO_T_CHAT:
    case PROTO_T_WHO_REQUEST:
    case PROTO_T_ZONE_CHANGE_REQUEST: to_zone(s, c, type, body, len); break;
    default:
        atomic_fetch_add(&c->w->bad_packets, 1);
        fail(s, c, PROTO_ERR_BAD_PACKET, "unexpected packet type");
    }
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)ud;
    csess_t *c = nc_session_ud(s);
    if (!c)
        return;
    nc_log(NC_LOG_INFO, TAG, "[%llx] closed%s%s: %s (%d)", (unsigned long long)c->sid,
           c->name[0] ? " " : "", c->name, why->text, why->code);
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
