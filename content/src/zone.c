/* A zone: its players, interest grid and tick.  Everything here runs on the
 * zone's strand (jobs and timers), so zone state needs no lock.  Visibility
 * is symmetric: p in q->known iff q in p->known. */
#include "content_internal.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "zone"

player_t *player_new(content_world_t *w, const content_char_t *c, nc_sid_t sid, uint32_t entity_id)
{
    player_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ent = (zone_ent_t){entity_id, c->x, c->y, -1, 0};
    p->sid = sid;
    p->char_id = c->id;
    snprintf(p->name, sizeof p->name, "%s", c->name);
    p->zone_id = (uint16_t)c->zone;
    p->played_base_s = c->played_s;
    p->gold = c->gold;
    p->entered_ms = nc_now_ms();
    zone_move_init(&p->move, &w->move_rules, p->entered_ms);
    return p;
}

void player_free(player_t *p)
{
    if (!p)
        return;
    zone_idset_free(&p->known);
    free(p);
}

void player_snapshot(const player_t *p, content_pos_t *out)
{
    out->id = p->char_id;
    out->zone = p->zone_id;
    out->x = p->ent.x;
    out->y = p->ent.y;
    out->played_s = p->played_base_s + (int64_t)((nc_now_ms() - p->entered_ms) / 1000u);
    snprintf(out->name, sizeof out->name, "%s", p->name);
}

static void send_counted(zone_t *z, nc_sid_t sid, nc_packet_t *pkt)
{
    world_send(z->w, sid, pkt);
    atomic_fetch_add_explicit(&z->notifications, 1, memory_order_relaxed);
}

static nc_packet_t *spawn_pkt(const player_t *p)
{
    proto_spawn_t m = {.entity_id = p->ent.id, .kind = 0, .dir = p->dir};
    memcpy(m.name, p->name, sizeof p->name);
    m.pos = (proto_vec2_t){p->ent.x, p->ent.y};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, spawn, SPAWN, &m);
    return pkt;
}

static nc_packet_t *despawn_pkt(uint32_t id, uint8_t reason)
{
    proto_despawn_t m = {.entity_id = id, .reason = reason};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, despawn, DESPAWN, &m);
    return pkt;
}

static void send_and_release(zone_t *z, nc_sid_t sid, nc_packet_t *pkt)
{
    if (pkt) {
        send_counted(z, sid, pkt);
        nc_packet_release(pkt);
    }
}

typedef struct vis_ctx_s {
    zone_t *z;
    player_t *p;
    int send_moves;
    nc_packet_t *p_spawn; /* p's spawn and move, encoded once per refresh */
    nc_packet_t *p_move;
} vis_ctx_t;

static void vis_visit(zone_ent_t *oe, void *ud)
{
    vis_ctx_t *c = ud;
    player_t *o = (player_t *)oe, *p = c->p;
    o->seen_stamp = c->z->stamp;
    if (zone_idset_add(&p->known, o->ent.id) == 1) {
        zone_idset_add(&o->known, p->ent.id);
        if (!c->p_spawn)
            c->p_spawn = spawn_pkt(p);
        if (c->p_spawn)
            send_counted(c->z, o->sid, c->p_spawn);
        send_and_release(c->z, p->sid, spawn_pkt(o));
    } else if (c->send_moves && c->p_move) {
        send_counted(c->z, o->sid, c->p_move);
    }
}

static int scratch_push(zone_t *z, uint32_t *n, uint32_t id)
{
    uint32_t *ns = content_grow(z->scratch, &z->capscratch, *n, sizeof *ns, 64);
    if (!ns)
        return -1;
    z->scratch = ns;
    z->scratch[(*n)++] = id;
    return 0;
}

/* Drops every known player that the last visit did not mark. */
static void vis_forget_unseen(zone_t *z, player_t *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->known.cap; i++) {
        uint32_t id = p->known.slots[i];
        player_t *o = id ? zone_idmap_get(&z->players, id) : NULL;
        if (id && (!o || o->seen_stamp != z->stamp))
            scratch_push(z, &n, id);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = z->scratch[i];
        player_t *o = zone_idmap_get(&z->players, id);
        zone_idset_del(&p->known, id);
        send_and_release(z, p->sid, despawn_pkt(id, 0));
        if (o) {
            zone_idset_del(&o->known, p->ent.id);
            send_and_release(z, o->sid, despawn_pkt(p->ent.id, 0));
        }
    }
}

/* Recomputes p's neighbourhood: spawns for newcomers (both ways), a move to
 * those who already saw p (if send_moves), despawns for those now out of view. */
static void vis_refresh(zone_t *z, player_t *p, int send_moves)
{
    vis_ctx_t c = {z, p, send_moves, NULL, NULL};
    if (++z->stamp == 0)
        z->stamp = 1;
    p->seen_stamp = 0;
    if (send_moves) {
        proto_move_notify_t m = {.entity_id = p->ent.id, .dir = p->dir};
        m.pos = (proto_vec2_t){p->ent.x, p->ent.y};
        CONTENT_PKT(c.p_move, move_notify, MOVE_NOTIFY, &m);
    }
    if (z->w->o.interest) {
        zone_grid_visit(&z->grid, &p->ent, p->ent.x, p->ent.y, z->w->o.view_radius, vis_visit, &c);
    } else {
        for (uint32_t i = 0; i < z->nall; i++)
            if (z->all[i] != p)
                vis_visit(&z->all[i]->ent, &c);
    }
    vis_forget_unseen(z, p);
    if (c.p_spawn)
        nc_packet_release(c.p_spawn);
    if (c.p_move)
        nc_packet_release(c.p_move);
}

void zone_mark_dirty(zone_t *z, player_t *p)
{
    if (p->dirty)
        return;
    player_t **nd = content_grow(z->dirty, &z->capdirty, z->ndirty, sizeof *nd, 64);
    if (!nd)
        return;
    z->dirty = nd;
    p->dirty = 1;
    z->dirty[z->ndirty++] = p;
}

void zone_add_player(zone_t *z, player_t *p)
{
    player_t **na = content_grow(z->all, &z->capall, z->nall, sizeof *na, 64);
    if (!na)
        return;
    z->all = na;
    p->zidx = z->nall;
    z->all[z->nall++] = p;
    p->zone_id = z->def->id;
    p->dirty = 0;
    zone_grid_insert(&z->grid, &p->ent);
    zone_idmap_put(&z->players, p->ent.id, p);
    atomic_fetch_add(&z->nplayers, 1);
    vis_refresh(z, p, 0);
}

void zone_remove_player(zone_t *z, player_t *p, uint8_t reason)
{
    nc_packet_t *bye = despawn_pkt(p->ent.id, reason);
    for (uint32_t i = 0; i < p->known.cap; i++) {
        player_t *o = p->known.slots[i] ? zone_idmap_get(&z->players, p->known.slots[i]) : NULL;
        if (!o)
            continue;
        zone_idset_del(&o->known, p->ent.id);
        if (bye)
            send_counted(z, o->sid, bye);
    }
    if (bye)
        nc_packet_release(bye);
    zone_idset_free(&p->known);
    if (p->dirty) {
        for (uint32_t i = 0; i < z->ndirty; i++)
            if (z->dirty[i] == p)
                z->dirty[i] = z->dirty[--z->ndirty];
        p->dirty = 0;
    }
    zone_grid_remove(&z->grid, &p->ent);
    zone_idmap_del(&z->players, p->ent.id);
    z->all[p->zidx] = z->all[--z->nall];
    z->all[p->zidx]->zidx = p->zidx;
    atomic_fetch_sub(&z->nplayers, 1);
}

void zone_send_to_known(zone_t *z, player_t *p, nc_packet_t *pkt, int include_self)
{
    if (include_self)
        send_counted(z, p->sid, pkt);
    for (uint32_t i = 0; i < p->known.cap; i++) {
        player_t *o = p->known.slots[i] ? zone_idmap_get(&z->players, p->known.slots[i]) : NULL;
        if (o)
            send_counted(z, o->sid, pkt);
    }
}

uint64_t zone_tick(zone_t *z)
{
    uint64_t t0 = nc_now_ns(), n0 = atomic_load(&z->notifications);
    for (uint32_t i = 0; i < z->ndirty; i++) {
        player_t *p = z->dirty[i];
        p->dirty = 0;
        zone_grid_update(&z->grid, &p->ent);
        vis_refresh(z, p, 1);
    }
    z->ndirty = 0;
    double ms = (double)(nc_now_ns() - t0) / 1e6;
    atomic_fetch_add(&z->ticks, 1);
    atomic_fetch_add(&z->tick_sum_us, (uint64_t)(ms * 1000.0));
    for (int b = 0; b < CONTENT_TICK_BUCKETS; b++)
        if (ms <= content_tick_bucket_ms[b])
            atomic_fetch_add_explicit(&z->tick_buckets[b], 1, memory_order_relaxed);
    return atomic_load(&z->notifications) - n0;
}

static void tick_job(void *arg)
{
    zone_tick(arg);
}

void zone_autosave_job(void *arg)
{
    zone_t *z = arg;
    if (z->nall == 0)
        return;
    content_pos_t *v = malloc(z->nall * sizeof *v);
    if (!v)
        return;
    for (uint32_t i = 0; i < z->nall; i++)
        player_snapshot(z->all[i], &v[i]);
    world_save_async(z->w, v, z->nall);
    free(v);
}

int zone_init(zone_t *z, content_world_t *w, int idx, const content_zone_def_t *def)
{
    memset(z, 0, sizeof *z);
    z->w = w;
    z->idx = idx;
    z->def = def;
    if (zone_grid_init(&z->grid, def->width, def->height, w->o.view_radius) != 0)
        return -1;
    return nc_strand_create(w->o.game_queue, &z->strand);
}

void zone_start_timers(zone_t *z)
{
    uint32_t hz = z->w->o.tick_hz ? z->w->o.tick_hz : 20;
    uint64_t period = 1000u / hz ? 1000u / hz : 1;
    if (nc_timer_start(z->strand, period, period, tick_job, z, &z->tick_timer) != 0)
        nc_log(NC_LOG_ERROR, TAG, "zone %u: cannot start tick timer", z->def->id);
    if (z->w->o.autosave_ms && nc_timer_start(z->strand, z->w->o.autosave_ms, z->w->o.autosave_ms,
                                              zone_autosave_job, z, &z->save_timer) != 0)
        nc_log(NC_LOG_ERROR, TAG, "zone %u: cannot start autosave timer", z->def->id);
}

static void pool_cancel(zone_t *z, nc_timer_id_t *id)
{
    if (*id)
        nc_timer_cancel(nc_queue_pool(nc_strand_queue(z->strand)), *id);
    *id = 0;
}

void zone_stop_timers(zone_t *z)
{
    if (!z->strand)
        return;
    pool_cancel(z, &z->tick_timer);
    pool_cancel(z, &z->save_timer);
}

void zone_free(zone_t *z)
{
    for (uint32_t i = 0; i < z->nall; i++)
        player_free(z->all[i]);
    free(z->all);
    free(z->dirty);
    free(z->scratch);
    zone_idmap_free(&z->players);
    zone_grid_free(&z->grid);
    if (z->strand)
        nc_strand_release(z->strand);
    z->strand = NULL;
}
