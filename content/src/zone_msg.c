/* Jobs that reach a zone from outside its strand: players entering (login
 * or transfer) and client requests routed from session strands (every c2s
 * packet with "route": "zone", dispatched by the generated
 * proto_zone_dispatch to content_on_<packet>) plus "leave" when a session
 * goes away. */
#include "content_hist.h"
#include "content_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "zone"

typedef struct enter_job_s {
    zone_t *z;
    player_t *p;
    int transfer;
} enter_job_t;

static void send_arrival(zone_t *z, player_t *p, int transfer)
{
    nc_packet_t *pkt;
    proto_vec2_t pos = {p->ent.x, p->ent.y};
    if (transfer) {
        proto_zone_changed_t m = {.zone = z->def->id, .pos = pos};
        snprintf(m.zone_name, sizeof m.zone_name, "%s", z->def->name);
        CONTENT_PKT(pkt, zone_changed, ZONE_CHANGED, &m);
    } else {
        proto_world_entered_t m = {
            .entity_id = p->ent.id, .zone = z->def->id, .pos = pos, .server_time = nc_wall_ms()};
        snprintf(m.zone_name, sizeof m.zone_name, "%s", z->def->name);
        CONTENT_PKT(pkt, world_entered, WORLD_ENTERED, &m);
    }
    if (pkt) {
        world_send(z->w, p->sid, pkt);
        nc_packet_release(pkt);
    }
}

static void enter_job(void *arg)
{
    enter_job_t *j = arg;
    zone_t *z = j->z;
    player_t *p = j->p;
    int transfer = j->transfer;
    content_world_t *w = z->w;
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, p->name);
    int ok = e && e->sid == p->sid && !e->closing;
    if (ok)
        e->zone_idx = z->idx;
    pthread_mutex_unlock(&w->reg_mu);
    if (ok && !transfer)
        world_presence_changed(w); /* issue 16: presence keys of a chat bus */
    free(j);
    if (!ok) {
        world_player_done(w, p);
        return;
    }
    zone_move_init(&p->move, &z->w->move_rules, nc_now_ms());
    /* arrival first, so the client knows its zone before any spawn in it */
    send_arrival(z, p, transfer);
    zone_add_player(z, p);
    nc_log(NC_LOG_DEBUG, TAG, "[%llx] %s enters zone %u at (%.1f, %.1f)",
           (unsigned long long)p->sid, p->name, z->def->id, p->ent.x, p->ent.y);
}

/* Caller holds reg_mu and has set the registry's zone_idx to z. */
void zone_post_enter(zone_t *z, player_t *p, int transfer)
{
    enter_job_t *j = malloc(sizeof *j);
    if (!j) {
        nc_log(NC_LOG_ERROR, TAG, "out of memory: %s cannot enter", p->name);
        return;
    }
    *j = (enter_job_t){z, p, transfer};
    world_post_critical(z->w, z->strand, enter_job, j);
}

int zone_enter_if_current(zone_t *to, player_t *p, const char *name, nc_sid_t sid, int transfer)
{
    content_world_t *w = to->w;
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, name);
    int ok = e && e->sid == sid;
    if (ok) {
        e->zone_idx = to->idx;
        zone_post_enter(to, p, transfer);
    }
    pthread_mutex_unlock(&w->reg_mu);
    return ok;
}

static void transfer(zone_t *z, player_t *p, zone_t *to, float x, float y)
{
    content_world_t *w = z->w;
    zone_remove_player(z, p, 2);
    p->ent.x = x;
    p->ent.y = y;
    p->zone_id = to->def->id;
    if (!zone_enter_if_current(to, p, p->name, p->sid, 1))
        world_player_done(w, p);
}

static void correct(zone_t *z, player_t *p, const proto_move_t *m, zone_move_verdict_t v)
{
    content_world_t *w = z->w;
    atomic_fetch_add(v == ZONE_MOVE_TOO_FAST        ? &w->too_fast
                     : v == ZONE_MOVE_OUT_OF_BOUNDS ? &w->oob
                                                    : &w->bad_value,
                     1);
    nc_log(NC_LOG_DEBUG, TAG, "[%llx] %s move corrected: %s", (unsigned long long)p->sid, p->name,
           zone_move_verdict_name(v));
    proto_move_correction_t c = {.dir = p->dir, .client_time = m->client_time};
    c.pos = (proto_vec2_t){p->ent.x, p->ent.y};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, move_correction, MOVE_CORRECTION, &c);
    if (pkt) {
        world_send(w, p->sid, pkt);
        nc_packet_release(pkt);
    }
}

void content_on_move(zone_t *z, player_t *p, const proto_move_t *m)
{
    content_world_t *w = z->w;
    uint64_t now = nc_now_ms();
    atomic_fetch_add_explicit(&w->moves, 1, memory_order_relaxed);
    zone_move_verdict_t v = zone_move_check(&w->move_rules, &p->move, z->def->width, z->def->height,
                                            p->ent.x, p->ent.y, m->pos.x, m->pos.y, now);
    if (v != ZONE_MOVE_OK) {
        correct(z, p, m, v);
        return;
    }
    p->ent.x = m->pos.x;
    p->ent.y = m->pos.y;
    p->dir = m->dir;
    p->ver++; /* neighbours get it in the next tick's entity_updates */
    for (int i = 0; i < z->def->nportals; i++) {
        const content_portal_t *pt = &z->def->portals[i];
        float dx = p->ent.x - pt->x, dy = p->ent.y - pt->y;
        zone_t *to = world_zone_by_id(w, pt->to_zone);
        if (dx * dx + dy * dy <= pt->radius * pt->radius && to) {
            transfer(z, p, to, pt->to_x, pt->to_y);
            return;
        }
    }
    zone_mark_dirty(z, p);
}

static void cmd_gold(zone_t *z, player_t *p, const char *arg)
{
    world_db_gold_command(z->w, p->sid, p->char_id, arg); /* checked parse */
}

static void cmd_show(zone_t *z, player_t *p, const char *arg)
{
    world_field_command(z->w, p->sid, p->char_id, WORLD_FIELD_SHOW, arg);
}

static void cmd_set(zone_t *z, player_t *p, const char *arg)
{
    world_field_command(z->w, p->sid, p->char_id, WORLD_FIELD_SET, arg);
}

/* Chat commands ("/name args").  Each names the least role that may run
 * it (issue 13): every debug command is GM-only; players get NOT_ALLOWED,
 * counted (gs_commands_not_allowed_total) and logged (rate-limited). */
static const struct {
    const char *name;
    int min_role;
    void (*fn)(zone_t *z, player_t *p, const char *arg);
} commands[] = {
    {"gold", PA_ROLE_GM, cmd_gold}, /* a demo of a transactional gold change */
    /* the declared character fields (char_fields.h): "/show", "/set level 5" */
    {"show", PA_ROLE_PLAYER, cmd_show},
    {"set", PA_ROLE_GM, cmd_set},
};

static void chat_command(zone_t *z, player_t *p, const char *text)
{
    content_world_t *w = z->w;
    const char *name = text + 1;
    size_t n = strcspn(name, " ");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strlen(commands[i].name) != n || strncmp(name, commands[i].name, n) != 0)
            continue;
        if (p->role < commands[i].min_role) {
            atomic_fetch_add(&w->not_allowed, 1);
            nc_log_limited(
                &w->rl_auth, 1000, NC_LOG_WARN, TAG, "[%llx] %s (%s) may not use /%s: not allowed",
                (unsigned long long)p->sid, p->name, pa_role_name(p->role), commands[i].name);
            world_send_error(w, p->sid, PROTO_ERR_NOT_ALLOWED, 0, "not allowed");
            return;
        }
        commands[i].fn(z, p, name[n] ? name + n + 1 : "");
        return;
    }
    world_send_error(w, p->sid, PROTO_ERR_BAD_PACKET, 0, "unknown command");
}

static void chat_whisper(zone_t *z, player_t *p, const proto_chat_t *m, nc_packet_t *pkt)
{
    content_world_t *w = z->w;
    nc_sid_t to = 0;
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, m->target);
    if (e && e->zone_idx >= 0 && !e->closing)
        to = e->sid;
    pthread_mutex_unlock(&w->reg_mu);
    if (!to && world_whisper_elsewhere(w, p->sid, p->name, m->target, m->text) == 0)
        return; /* issue 16: the chat bus answers later (content_whisper_result) */
    if (!to) {
        world_send_error(w, p->sid, PROTO_ERR_NO_SUCH_PLAYER, 0, "no such player online");
        return;
    }
    world_send(w, to, pkt);
    if (to != p->sid)
        world_send(w, p->sid, pkt);
}

/* The chat rate limit and mute ran on the session strand (session.c), before
 * the message cost a job here. */
void content_on_chat(zone_t *z, player_t *p, const proto_chat_t *m)
{
    content_world_t *w = z->w;
    if (m->text[0] == '/') {
        chat_command(z, p, m->text);
        return;
    }
    if (m->channel == 1) {
        world_global_chat(w, p->sid, p->name, m->text);
        return;
    }
    proto_chat_deliver_t d = {.channel = m->channel};
    memcpy(d.sender, p->name, sizeof p->name);
    memcpy(d.text, m->text, sizeof d.text);
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, chat_deliver, CHAT_DELIVER, &d);
    if (!pkt)
        return;
    if (m->channel == 2) {
        chat_whisper(z, p, m, pkt);
        nc_packet_release(pkt);
    } else {
        zone_queue_chat(z, p, pkt); /* takes our reference */
    }
}

static void on_who_zone(zone_t *z, player_t *p)
{
    proto_who_response_t r = {.total = z->nall};
    uint32_t cap = world_who_max(z->w);
    for (uint32_t i = 0; i < z->nall && r.entries_count < cap; i++) {
        proto_who_entry_t *x = &r.entries[r.entries_count++];
        memcpy(x->name, z->all[i]->name, sizeof z->all[i]->name);
        x->zone = z->def->id;
    }
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, who_response, WHO_RESPONSE, &r);
    if (pkt) {
        world_send(z->w, p->sid, pkt);
        nc_packet_release(pkt);
    }
}

void content_on_who_request(zone_t *z, player_t *p, const proto_who_request_t *m)
{
    if (m->scope == 1)
        world_who_shard(z->w, p->sid);
    else
        on_who_zone(z, p);
}

void content_on_zone_change_request(zone_t *z, player_t *p, const proto_zone_change_request_t *m)
{
    zone_t *to = world_zone_by_id(z->w, m->zone);
    if (!to) {
        world_send_error(z->w, p->sid, PROTO_ERR_NO_SUCH_ZONE, 0, "no such zone");
        return;
    }
    if (to == z) {
        world_send_notice(z->w, p->sid, 0, "already in that zone");
        return;
    }
    transfer(z, p, to, to->def->spawn_x, to->def->spawn_y);
}

void content_on_ping(zone_t *z, player_t *p, const proto_ping_t *m)
{
    proto_pong_t r = {.client_time = m->client_time, .server_time = nc_wall_ms()};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, pong, PONG, &r);
    if (pkt) {
        world_send(z->w, p->sid, pkt);
        nc_packet_release(pkt);
    }
}

static void dispatch(zone_t *z, player_t *p, zone_msg_t *m)
{
    if (m->type == 0) { /* leave */
        zone_remove_player(z, p, 1);
        world_player_done(z->w, p);
        return;
    }
    /* session.c routed only "zone" packets here */
    proto_zone_dispatch(m->type, z, p, &m->u);
}

void zone_msg_job(void *arg)
{
    zone_msg_t *m = arg;
    zone_t *z = &m->w->zones[m->zone_idx];
    player_t *p = zone_idmap_get(&z->players, m->entity_id);
    if (!p || p->sid != m->sid) {
        /* the player moved on (zone change) after this was routed */
        zone_route(m->w, m);
        return;
    }
    if (m->t_ns)
        content_hist_add(z->wait_buckets, content_tick_bucket_ms, CONTENT_TICK_BUCKETS, &z->waits,
                         &z->wait_sum_us, (nc_now_ns() - m->t_ns) / 1000u);
    dispatch(z, p, m);
    zone_msg_free(m);
}

void zone_msg_free(zone_msg_t *m)
{
    if (m && m->held)
        nc_session_unhold(m->held, (uint32_t)sizeof *m);
    free(m);
}

/* Every message takes the critical path: nothing is dropped.  A full game
 * queue here is not the player's fault (its own packet jobs, or the whole
 * shard's load, filled it), so closing the session would punish load, not
 * bad input.  The fallback (nc_strand_post_force: over capacity, in order) stays
 * bounded: each overflow comes from one packet job already counted by the
 * queue, and the engine stops reading a session while its queue is full. */
void zone_route(content_world_t *w, zone_msg_t *m)
{
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, m->name);
    int to = (e && e->sid == m->sid) ? e->zone_idx : -1;
    if (to >= 0 && to != m->zone_idx) {
        m->zone_idx = to;
        if (world_post_critical(w, w->zones[to].strand, zone_msg_job, m) == 0)
            m = NULL;
    }
    pthread_mutex_unlock(&w->reg_mu);
    zone_msg_free(m); /* the player is gone (or the pool is: logged) */
}
