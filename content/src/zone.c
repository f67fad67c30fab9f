/* A zone: its players, interest grid and tick.  Everything here runs on the
 * zone's strand (jobs and timers), so zone state needs no lock.  Visibility
 * is symmetric: p in q->known iff q in p->known. */
#include "content_internal.h"
#include "content_hist.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "zone"
#define CHAT_HOLD_MS 250 /* zone chat waits for a fan-out at most this long */

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
    for (uint32_t i = 0; i < p->nout; i++)
        nc_packet_release(p->out[i]);
    free(p->out);
    zone_idmap_free(&p->known);
    free(p->full);
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

static void fan_finish(zone_t *z);
static void tick_done(zone_t *z, int fan);

static void send_counted(zone_t *z, nc_sid_t sid, nc_packet_t *pkt)
{
    world_send(z->w, sid, pkt);
    atomic_fetch_add_explicit(&z->notifications, 1, memory_order_relaxed);
}

/* ---- outbox ----
 * On a fan-out tick, what the tick's visibility and chat steps send to a
 * player waits in its outbox and leaves just before its entity_updates, in
 * the same write: the fan-out runs in slices (separate jobs, separate
 * writes), so sending at once cost a player in a later slice two writes per
 * tick.  Once a player's outbox holds anything, every later zone send to it
 * (send_to) queues behind, so a despawn never overtakes its spawn.  Every
 * outbox is empty again when the fan-out ends (fan_out_one, fan_end), or
 * when its player leaves the zone (sent to it first).  A leave also holds
 * what it sends to the others (zone_remove_player) until the next fan-out,
 * or CHAT_HOLD_MS when the divider sheds fan-outs (tick_start). */
static void outbox_drain(zone_t *z, player_t *p)
{
    for (uint32_t i = 0; i < p->nout; i++) {
        send_counted(z, p->sid, p->out[i]);
        nc_packet_release(p->out[i]);
    }
    p->nout = 0;
}

static void send_to(zone_t *z, player_t *o, nc_packet_t *pkt)
{
    if (z->outbox_on || o->nout) {
        nc_packet_t **no = content_grow(o->out, &o->capout, o->nout, sizeof *no, 8);
        if (no) {
            o->out = no;
            nc_packet_retain(pkt);
            o->out[o->nout++] = pkt;
            return;
        }
        outbox_drain(z, o); /* out of memory: send now, in order */
    }
    send_counted(z, o->sid, pkt);
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

static void send_and_release(zone_t *z, player_t *to, nc_packet_t *pkt)
{
    if (pkt) {
        send_to(z, to, pkt);
        nc_packet_release(pkt);
    }
}

/* known's values: the neighbour's position version last sent (its spawn
 * counts), and whether it is in the owner's full-rate set. */
#define KNOWN_FULL ((uintptr_t)0x80000000u)
#define KNOWN_VER ((uintptr_t)0x7fffffffu)
#define KNOWN_VAL(v) ((void *)(uintptr_t)(v))

/* p now sees o (o's spawn, carrying its current position, is on its way). */
static int known_add(player_t *p, const player_t *o)
{
    if (zone_idmap_find(&p->known, o->ent.id) >= 0)
        return 0;
    if (zone_idmap_put(&p->known, o->ent.id, KNOWN_VAL(o->ver & KNOWN_VER)) < 0)
        return -1;
    return 1; /* reduced rate until the next full-set rebuild looks at it */
}

/* p no longer sees id: out of known, and out of p's full-rate set. */
static void known_del(player_t *p, uint32_t id)
{
    int64_t at = zone_idmap_find(&p->known, id);
    if (at < 0)
        return;
    if ((uintptr_t)p->known.vals[at] & KNOWN_FULL)
        for (uint32_t j = 0; j < p->nfull; j++)
            if (p->full[j]->ent.id == id) {
                p->full[j] = p->full[--p->nfull];
                break;
            }
    zone_idmap_del(&p->known, id);
}

typedef struct vis_ctx_s {
    zone_t *z;
    player_t *p;
} vis_ctx_t;

/* p's spawn, encoded once per tick (positions do not change during a tick;
 * zone_tick releases them at its end). */
static nc_packet_t *spawn_cached(player_t *p)
{
    if (!p->spawn_pkt)
        p->spawn_pkt = spawn_pkt(p);
    return p->spawn_pkt;
}

static void vis_visit(zone_ent_t *oe, void *ud)
{
    vis_ctx_t *c = ud;
    player_t *o = (player_t *)oe, *p = c->p;
    o->seen_stamp = c->z->stamp;
    if (known_add(p, o) == 1) {
        if (known_add(o, p) < 0) { /* out of memory: keep visibility symmetric */
            known_del(p, o->ent.id);
            return;
        }
        nc_packet_t *ps = spawn_cached(p), *os = spawn_cached(o);
        if (ps)
            send_to(c->z, o, ps);
        if (os)
            send_to(c->z, p, os);
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
    for (uint32_t i = 0; i < p->known.keys.cap; i++) {
        uint32_t id = p->known.keys.slots[i];
        player_t *o = id ? zone_idmap_get(&z->players, id) : NULL;
        if (id && (!o || o->seen_stamp != z->stamp))
            scratch_push(z, &n, id);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = z->scratch[i];
        player_t *o = zone_idmap_get(&z->players, id);
        known_del(p, id);
        send_and_release(z, p, despawn_pkt(id, 0));
        if (o) {
            known_del(o, p->ent.id);
            send_and_release(z, o, despawn_pkt(p->ent.id, 0));
        }
    }
}

/* Recomputes p's neighbourhood: spawns for newcomers (both ways), despawns
 * for those now out of view.  Positions go out in the tick's updates. */
static void vis_refresh(zone_t *z, player_t *p)
{
    vis_ctx_t c = {z, p};
    if (++z->stamp == 0)
        z->stamp = 1;
    p->seen_stamp = 0;
    if (z->w->o.interest) {
        zone_grid_visit(&z->grid, &p->ent, p->ent.x, p->ent.y, z->w->o.view_radius, vis_visit, &c);
    } else {
        for (uint32_t i = 0; i < z->nall; i++)
            if (z->all[i] != p)
                vis_visit(&z->all[i]->ent, &c);
    }
    vis_forget_unseen(z, p);
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
    p->full_stale = 1;
    p->nfull = 0;
    p->lod_cursor = 0;
    p->vis_done = 0;
    /* spawns both ways at the next tick, in the same write as its other
     * news for each neighbour (a crowd of 1,000 made each arrival 1,000
     * writes of one spawn each) */
    zone_mark_dirty(z, p);
}

typedef struct zone_chat_s {
    nc_packet_t *pkt;
    uint32_t from; /* the sender's entity id */
} zone_chat_t;

void zone_queue_chat(zone_t *z, player_t *p, nc_packet_t *pkt)
{
    zone_chat_t *nc = content_grow(z->chat, &z->capchat, z->nchat, sizeof *nc, 16);
    if (!nc) { /* out of memory: deliver now rather than lose it */
        zone_send_to_known(z, p, pkt, 1);
        nc_packet_release(pkt);
        return;
    }
    z->chat = nc;
    if (!z->nchat)
        z->chat_since_ms = nc_now_ms();
    send_counted(z, p->sid, pkt); /* the sender's echo now: ordered with its pings */
    z->chat[z->nchat++] = (zone_chat_t){pkt, p->ent.id};
}

/* Sends the queued chat lines to their senders' audiences as of now (the
 * sender had its echo when it spoke).  A
 * tick (or a sender leaving) flushes them, so a recipient gets a tick's
 * lines and updates in one write instead of one write per line: with 1,000
 * players in view, zone chat alone was 200,000 writes a second. */
static void chat_flush(zone_t *z)
{
    for (uint32_t i = 0; i < z->nchat; i++) {
        player_t *p = zone_idmap_get(&z->players, z->chat[i].from);
        if (p)
            zone_send_to_known(z, p, z->chat[i].pkt, 0);
        nc_packet_release(z->chat[i].pkt);
    }
    z->nchat = 0;
}

void zone_remove_player(zone_t *z, player_t *p, uint8_t reason)
{
    /* What a leave sends to the others (the zone's queued chat, p's
     * despawn) waits in their outboxes for the next fan-out, in the same
     * write as their updates: sent at once it was a write to every player
     * in view per leave, and 130 zone changes a second (2,000 bots spreading
     * out) made those writes three times the fan-outs' (BENCHMARKS "Crowds",
     * session 8) */
    int held = z->outbox_on;
    z->outbox_on = 1;
    chat_flush(z);      /* p's audience hears what p said before p leaves */
    outbox_drain(z, p); /* and p what was said to it */
    nc_packet_t *bye = despawn_pkt(p->ent.id, reason);
    for (uint32_t i = 0; i < p->known.keys.cap; i++) {
        uint32_t id = p->known.keys.slots[i];
        player_t *o = id ? zone_idmap_get(&z->players, id) : NULL;
        if (!o)
            continue;
        known_del(o, p->ent.id);
        if (bye)
            send_to(z, o, bye);
    }
    if (bye)
        nc_packet_release(bye);
    z->outbox_on = held;
    if (!z->held_since_ms)
        z->held_since_ms = nc_now_ms();
    zone_idmap_free(&p->known);
    p->nfull = 0;
    p->full_stale = 1;
    if (p->dirty) { /* in the dirty list, or in the visibility step's */
        for (uint32_t i = 0; i < z->ndirty; i++)
            if (z->dirty[i] == p)
                z->dirty[i] = z->dirty[--z->ndirty];
        for (uint32_t i = z->vis_pos; i < z->nvis; i++)
            if (z->vis[i] == p)
                z->vis[i] = NULL;
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
        send_to(z, p, pkt);
    for (uint32_t i = 0; i < p->known.keys.cap; i++) {
        uint32_t id = p->known.keys.slots[i];
        player_t *o = id ? zone_idmap_get(&z->players, id) : NULL;
        if (o)
            send_to(z, o, pkt);
    }
}

/* ---- updates (issue 15): one entity_updates per player per fan-out tick ----
 * Each player's nearest `full_n` neighbours get every new position at every
 * fan-out.  They are picked at each fan-out from a band, the nearest
 * 2 full_n of known, rebuilt every lod_ticks/2 ticks (one that leaves view
 * leaves the band at once): in a dense crowd the nearest 64 change within a
 * second, and a neighbour that comes near gets the full rate at the next
 * fan-out, not at the next rebuild, for 128 distances a fan-out instead of
 * a rebuild over all of known.  The band's next full_n/4 (the edge) get
 * every other fan-out: the server ranks by the positions it has (a move
 * period old), so a player's true 60th nearest is often the server's 66th,
 * and at the cursor's rate its position was seconds old (BENCHMARKS
 * "Crowds", session 8); the rest of the band gets every 4th.  The rest of
 * known is walked by a cursor that covers it every lod_ticks/2 fan-outs: a
 * neighbour within half the view radius is sent at each pass, a farther
 * one at every other pass.  A neighbour is sent only if its position
 * changed since the version this player last got, so skipped passes lose
 * nothing: the latest position always follows. */

#define FAN_SLICE 128 /* players per fan-out job, at most */
#define SLICE_US 2000 /* and a slice (fan-out or visibility) ends after this long */
#define SLICE_CHECK 8 /* players between two looks at the clock */

/* ---- encode jobs (zones.encode_jobs) ----
 * With encode_jobs, a fan-out slice on the zone strand only selects: each
 * recipient's outbox packets and chosen entries go into a batch, an
 * immutable snapshot of that slice's part of the tick, and the batch is
 * encoded and sent by a job on the game queue (any worker, within the
 * queue's thread cap; a full queue runs it on the strand).  Zone sends stay
 * in outboxes until every batch of the fan-out is done (fan_finish), so
 * nothing the strand sends meanwhile overtakes a batch. */
typedef struct enc_rec_s {
    nc_sid_t sid;
    uint32_t off, n; /* into pk (outbox packets) or, with upd, into ent */
    int upd;
} enc_rec_t;

struct enc_batch_s {
    zone_t *z;
    uint32_t tick;
    float step;
    enc_rec_t *rec;
    uint32_t nrec, caprec;
    proto_entity_update_t *ent;
    uint32_t nent, capent;
    nc_packet_t **pk;
    uint32_t npk, cappk;
};

static void batch_free(enc_batch_t *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->npk; i++)
        nc_packet_release(b->pk[i]);
    free(b->rec);
    free(b->ent);
    free(b->pk);
    free(b);
}

static int batch_rec(enc_batch_t *b, nc_sid_t sid, uint32_t off, uint32_t n, int upd)
{
    enc_rec_t *nr = content_grow(b->rec, &b->caprec, b->nrec, sizeof *nr, 64);
    if (!nr)
        return -1;
    b->rec = nr;
    b->rec[b->nrec++] = (enc_rec_t){sid, off, n, upd};
    return 0;
}

/* The fan-out's batch for this slice (NULL: send from the strand). */
static enc_batch_t *batch_get(zone_t *z)
{
    if (!z->encode_jobs)
        return NULL;
    if (!z->batch) {
        z->batch = calloc(1, sizeof *z->batch);
        if (z->batch) {
            z->batch->z = z;
            z->batch->tick = z->tick_no;
            z->batch->step = z->q_step;
        }
    }
    return z->batch;
}

/* p's outbox into the batch (its references move); 0 if done. */
static int batch_outbox(zone_t *z, player_t *p)
{
    enc_batch_t *b = batch_get(z);
    if (!b || !p->nout)
        return b ? 0 : -1;
    if (b->npk + p->nout > b->cappk) {
        uint32_t cap = (b->npk + p->nout) * 2;
        nc_packet_t **np = realloc(b->pk, (size_t)cap * sizeof *np);
        if (!np)
            return -1;
        b->pk = np;
        b->cappk = cap;
    }
    if (batch_rec(b, p->sid, b->npk, p->nout, 0) != 0)
        return -1;
    memcpy(b->pk + b->npk, p->out, (size_t)p->nout * sizeof *p->out);
    b->npk += p->nout;
    p->nout = 0;
    return 0;
}

/* The entries being built for p into the batch; 0 if done. */
static int batch_updates(zone_t *z, player_t *p)
{
    enc_batch_t *b = batch_get(z);
    proto_entity_updates_t *u = z->upd;
    if (!b)
        return -1;
    if (b->nent + u->entries_count > b->capent) {
        uint32_t cap = (b->nent + u->entries_count) * 2;
        proto_entity_update_t *ne = realloc(b->ent, (size_t)cap * sizeof *ne);
        if (!ne)
            return -1;
        b->ent = ne;
        b->capent = cap;
    }
    if (batch_rec(b, p->sid, b->nent, u->entries_count, 1) != 0)
        return -1;
    memcpy(b->ent + b->nent, u->entries, (size_t)u->entries_count * sizeof *u->entries);
    b->nent += u->entries_count;
    u->entries_count = 0;
    return 0;
}

/* Encodes u into one packet and sends it to sid. */
static void upd_send(zone_t *z, nc_sid_t sid, const proto_entity_updates_t *u)
{
    size_t cap = 18u + 9u * u->entries_count; /* tick, origin, step, count, 9 B/entry */
    nc_packet_t *pkt = nc_packet_alloc(cap);
    int n = pkt ? proto_encode_entity_updates(u, nc_packet_body(pkt), pkt->cap) : -1;
    if (n >= 0) {
        pkt->len = (uint32_t)n;
        pkt->type = PROTO_T_ENTITY_UPDATES;
        send_counted(z, sid, pkt);
        atomic_fetch_add_explicit(&z->updates, u->entries_count, memory_order_relaxed);
        atomic_fetch_add_explicit(&z->update_packets, 1, memory_order_relaxed);
    } else {
        nc_log(NC_LOG_ERROR, TAG, "zone %u: entity_updates not encoded (%d)", z->def->id, n);
    }
    if (pkt)
        nc_packet_release(pkt);
}

static void fan_finish_job(void *arg)
{
    fan_finish(arg);
}

/* A batch's work, on any worker of the game queue: reads only the batch. */
static void batch_job(void *arg)
{
    enc_batch_t *b = arg;
    zone_t *z = b->z;
    uint64_t t0 = nc_now_ns();
    proto_entity_updates_t *u = malloc(sizeof *u);
    for (uint32_t i = 0; i < b->nrec; i++) {
        const enc_rec_t *r = &b->rec[i];
        if (!r->upd) {
            for (uint32_t k = 0; k < r->n; k++)
                send_counted(z, r->sid, b->pk[r->off + k]);
        } else if (u) {
            *u = (proto_entity_updates_t){.tick = b->tick, .step = b->step};
            u->entries_count = (uint16_t)r->n; /* <= ENTRIES_MAX: upd_add flushes there */
            memcpy(u->entries, b->ent + r->off, (size_t)r->n * sizeof *u->entries);
            upd_send(z, r->sid, u);
        }
    }
    free(u);
    batch_free(b);
    nc_send_flush();
    atomic_fetch_add(&z->enc_us, (nc_now_ns() - t0) / 1000u);
    if (atomic_fetch_sub(&z->enc_inflight, 1) == 1 &&
        world_post_critical(z->w, z->strand, fan_finish_job, z) != 0)
        fan_finish(z); /* the pool is stopping: nothing else runs on the strand */
}

/* The slice's batch goes to the game queue (or runs here if it is full). */
static void batch_post(zone_t *z)
{
    enc_batch_t *b = z->batch;
    z->batch = NULL;
    if (!b)
        return;
    atomic_fetch_add(&z->enc_inflight, 1);
    if (z->enc_inline || nc_queue_post(z->w->o.game_queue, batch_job, b) != 0) {
        atomic_fetch_add(&z->enc_inline_runs, 1);
        batch_job(b);
    } else {
        atomic_fetch_add(&z->enc_posted, 1);
    }
}

static void upd_flush(zone_t *z, player_t *p)
{
    proto_entity_updates_t *u = z->upd;
    if (!u->entries_count)
        return;
    if (z->encode_jobs && batch_updates(z, p) == 0)
        return;
    upd_send(z, p->sid, u);
    u->entries_count = 0;
}

static uint16_t quant(float v, float step)
{
    float q = v / step + 0.5f;
    return q <= 0 ? 0 : q >= 65535.0f ? 65535 : (uint16_t)q;
}

static void upd_add(zone_t *z, player_t *p, const player_t *o)
{
    proto_entity_updates_t *u = z->upd;
    if (u->entries_count == PROTO_ENTITY_UPDATES_ENTRIES_MAX)
        upd_flush(z, p);
    proto_entity_update_t *e = &u->entries[u->entries_count++];
    e->entity_id = o->ent.id;
    e->qx = quant(o->ent.x, z->q_step);
    e->qy = quant(o->ent.y, z->q_step);
    e->dir = o->dir;
}

static float dist2(const player_t *a, const player_t *b)
{
    float dx = a->ent.x - b->ent.x, dy = a->ent.y - b->ent.y;
    return dx * dx + dy * dy;
}

/* The band is rebuilt every lod_ticks/2 ticks (10: 2 Hz) whatever the
 * divider: in a dense crowd the nearest 64 change within a second, and a
 * band twice their size is still a margin of 3 units for 1,000 in a
 * 30-unit disc (at 4 Hz it cost the fan-out 10 % more CPU, bench_zone
 * --crowd). */
static uint32_t band_every(const zone_t *z)
{
    return z->lod_ticks / 2 ? z->lod_ticks / 2 : 1;
}

/* Rebuilds p->full, the band: the nearest 2 full_n of known (all of them
 * if full_n is 0 or known is smaller), flagged KNOWN_FULL in known. */
static void full_rebuild(zone_t *z, player_t *p)
{
    zone_idmap_t *k = &p->known;
    uint32_t n = 0;
    if (k->keys.n > z->capcand) {
        zone_cand_t *nc = realloc(z->cand, (size_t)k->keys.n * 2 * sizeof *nc);
        if (!nc)
            return; /* stays stale: retried next tick */
        z->cand = nc;
        z->capcand = k->keys.n * 2;
    }
    for (uint32_t i = 0; i < k->keys.cap; i++) {
        uint32_t id = k->keys.slots[i];
        if (!id)
            continue;
        k->vals[i] = KNOWN_VAL((uintptr_t)k->vals[i] & KNOWN_VER);
        player_t *o = zone_idmap_get(&z->players, id);
        if (o && n < z->capcand)
            z->cand[n++] = (zone_cand_t){dist2(p, o), i, o};
    }
    uint32_t band = z->full_n * 2;
    uint32_t want = band && band < n ? band : n;
    if (want > p->capfull) {
        player_t **nf = realloc(p->full, (size_t)want * sizeof *nf);
        if (!nf) {
            p->nfull = 0;
            return;
        }
        p->full = nf;
        p->capfull = want;
    }
    zone_interest_select(z->cand, n, want);
    for (uint32_t j = 0; j < want; j++) {
        p->full[j] = z->cand[j].ent;
        k->vals[z->cand[j].slot] = KNOWN_VAL((uintptr_t)k->vals[z->cand[j].slot] | KNOWN_FULL);
    }
    p->nfull = want;
    /* a new player's first rebuild is offset by its id, so arrivals together
     * do not rebuild together afterwards */
    p->full_tick = z->tick_no - (p->full_stale ? p->ent.id % band_every(z) : 0);
    p->full_stale = 0;
}

/* Sends o to p if p has not got o's current position yet (1 if sent). */
static uint32_t upd_slot(zone_t *z, player_t *p, uint32_t slot, const player_t *o)
{
    uintptr_t v = (uintptr_t)p->known.vals[slot];
    if ((v & KNOWN_VER) == (o->ver & KNOWN_VER))
        return 0;
    upd_add(z, p, o);
    p->known.vals[slot] = KNOWN_VAL((v & KNOWN_FULL) | (o->ver & KNOWN_VER));
    return 1;
}

static void fan_out_one(zone_t *z, player_t *p)
{
    zone_idmap_t *k = &p->known;
    if (!z->encode_jobs || batch_outbox(z, p) != 0)
        outbox_drain(z, p); /* corked: one write with the updates below */
    if (!k->keys.n)
        return;
    /* the reduced-rate cursor covers known every lod_ticks/2 sim ticks */
    uint32_t half = z->lod_ticks / 2 / z->tick_step ? z->lod_ticks / 2 / z->tick_step : 1;
    if (p->full_stale || z->tick_no - p->full_tick >= band_every(z))
        full_rebuild(z, p);
    if (p->full_stale)
        return;
    z->upd->tick = z->tick_no;
    uint32_t nsend = p->nfull, nedge = p->nfull;
    if (z->full_n && p->nfull > z->full_n && p->nfull <= z->capcand) {
        /* the band's nearest full_n now to the front, then its next
         * full_n/4 (the edge) */
        for (uint32_t j = 0; j < p->nfull; j++)
            z->cand[j] = (zone_cand_t){dist2(p, p->full[j]), j, p->full[j]};
        zone_interest_select(z->cand, p->nfull, z->full_n);
        nsend = z->full_n;
        nedge = nsend + (z->full_n + 3) / 4;
        zone_interest_select(z->cand + nsend, p->nfull - nsend, nedge - nsend);
        for (uint32_t j = 0; j < p->nfull; j++)
            p->full[j] = z->cand[j].ent;
    }
    for (uint32_t j = 0; j < p->nfull; j++) {
        uint32_t id = p->full[j]->ent.id;
        if (j >= nsend && (j < nedge ? (z->fan_no ^ id) & 1 : (z->fan_no ^ id) & 3))
            continue; /* the edge every other fan-out, the rest every 4th */
        int64_t at = zone_idmap_find(k, id);
        if (at >= 0)
            upd_slot(z, p, (uint32_t)at, p->full[j]);
    }
    if (p->nfull < k->keys.n) {
        float near2 = z->w->o.view_radius * z->w->o.view_radius / 4.0f;
        uint32_t step = (k->keys.cap + half - 1) / half;
        if (p->lod_cursor >= k->keys.cap)
            p->lod_cursor = 0;
        uint32_t sent = 0;
        for (uint32_t s = 0; s < step && sent < z->lod_max; s++) {
            uint32_t i = p->lod_cursor++;
            if (p->lod_cursor >= k->keys.cap) {
                p->lod_cursor = 0;
                p->lod_cycle++;
            }
            uint32_t id = k->keys.slots[i];
            if (!id || ((uintptr_t)k->vals[i] & KNOWN_FULL))
                continue; /* the band has its own rates, above */
            player_t *o = zone_idmap_get(&z->players, id);
            if (!o || (dist2(p, o) > near2 && ((p->lod_cycle ^ id) & 1)))
                continue;
            sent += upd_slot(z, p, i, o);
        }
    }
    upd_flush(z, p);
}

/* Overload: a fan-out tick that took `us` needs a divider of ceil(us /
 * budget) to keep fan-outs within budget per tick period on average; the
 * divider rises at once and falls one step after 20 fan-outs that fit. */
static void overload_adjust(zone_t *z, uint64_t us)
{
    uint64_t need = z->budget_us ? (us + z->budget_us - 1) / z->budget_us : 1;
    if (need < 1)
        need = 1;
    if (need > 16)
        need = 16;
    if (need > z->divider) {
        z->divider = (uint32_t)need;
        z->calm = 0;
    } else if (need < z->divider && ++z->calm >= 20) {
        z->divider--;
        z->calm = 0;
    }
    atomic_store(&z->divider_now, z->divider);
}

/* The tick's first part, in slices like the fan-out: visibility for those
 * who moved (now if new, or moved view_slack since the last time, or
 * lod_ticks after a shorter move; the others stay dirty), then the queued
 * zone chat.  In one piece it was the longest job on the strand: 600
 * refreshes in a 667-player zone, 10-50 ms every fan-out (140 ms while the
 * crowd arrived), and every ping and move of the zone waited behind it.
 * The dirty list is taken whole at the start (vis_begin): a player who
 * moves meanwhile is marked dirty again only after its refresh, into the
 * next tick's list; zone_remove_player takes a leaver out of either. */
static void vis_begin(zone_t *z)
{
    player_t **t = z->vis;
    uint32_t cap = z->capvis;
    z->vis = z->dirty;
    z->capvis = z->capdirty;
    z->nvis = z->ndirty;
    z->vis_pos = 0;
    z->dirty = t;
    z->capdirty = cap;
    z->ndirty = 0;
}

/* Refreshes the next players of the visibility step, for at most SLICE_US
 * if `bounded`; 1 if more are left. */
static int vis_slice(zone_t *z, int bounded)
{
    float slack2 = z->w->o.view_slack * z->w->o.view_slack;
    uint64_t t0 = bounded ? nc_now_ns() : 0;
    for (uint32_t n = 1; z->vis_pos < z->nvis; n++) {
        player_t *p = z->vis[z->vis_pos++];
        if (!p)
            continue; /* left the zone meanwhile */
        zone_grid_update(&z->grid, &p->ent);
        float dx = p->ent.x - p->vis_x, dy = p->ent.y - p->vis_y;
        if (!p->vis_done || dx * dx + dy * dy >= slack2 ||
            z->tick_no - p->vis_tick >= z->lod_ticks) {
            p->dirty = 0;
            /* the first time, a per-player offset: arrivals together must not
             * all hit the lod_ticks trigger on one tick later */
            p->vis_tick = z->tick_no - (p->vis_done ? 0 : p->ent.id % z->lod_ticks);
            p->vis_done = 1;
            p->vis_x = p->ent.x;
            p->vis_y = p->ent.y;
            vis_refresh(z, p);
        } else { /* stays dirty: into the next tick's list */
            player_t **nd = content_grow(z->dirty, &z->capdirty, z->ndirty, sizeof *nd, 64);
            if (nd) {
                z->dirty = nd;
                z->dirty[z->ndirty++] = p;
            } else {
                p->dirty = 0; /* out of memory: it is marked again at its next move */
            }
        }
        if (bounded && n % SLICE_CHECK == 0 && nc_now_ns() - t0 >= SLICE_US * 1000u)
            break;
    }
    /* spawns are encoded once per slice (spawn_cached): a move between two
     * slices must not leave an older position in a later spawn */
    for (uint32_t i = 0; i < z->nall; i++)
        if (z->all[i]->spawn_pkt) {
            nc_packet_release(z->all[i]->spawn_pkt);
            z->all[i]->spawn_pkt = NULL;
        }
    if (bounded)
        z->tick_us += (nc_now_ns() - t0) / 1000u;
    if (z->vis_pos < z->nvis)
        return 1;
    z->nvis = z->vis_pos = 0;
    chat_flush(z);
    /* with encode jobs, zone sends wait in outboxes until the batches are
     * out (fan_finish) */
    z->outbox_on = z->encode_jobs;
    if (z->encode_jobs)
        atomic_store(&z->enc_inflight, 1); /* the strand's, until its last slice */
    z->in_vis = 0;
    return 0;
}

/* Fans out to the next FAN_SLICE players; 1 if more are left. */
static int fan_slice(zone_t *z)
{
    uint64_t t0 = nc_now_ns();
    for (uint32_t n = 1; n <= FAN_SLICE && z->fan_pos < z->nall; n++) {
        fan_out_one(z, z->all[z->fan_pos++]);
        if (n % SLICE_CHECK == 0 && nc_now_ns() - t0 >= SLICE_US * 1000u)
            break; /* what waits behind the slice waits SLICE_US at most */
    }
    batch_post(z);
    /* write now, not when the job returns: the writes (the kernel's share,
     * the biggest on loopback) are part of what the budget measures */
    nc_send_flush();
    z->tick_us += (nc_now_ns() - t0) / 1000u;
    return z->fan_pos < z->nall;
}

/* A fan-out is over: outboxes that it did not reach (a player moved in
 * z->all by a leave between slices) are sent now. */
static void fan_end(zone_t *z)
{
    z->held_since_ms = 0;
    for (uint32_t i = 0; i < z->nall; i++)
        if (z->all[i]->nout)
            outbox_drain(z, z->all[i]);
}

/* Every slice of a fan-out ran: with encode jobs, the fan-out is over when
 * its last batch is (fan_finish); else now. */
static void fan_slices_over(zone_t *z)
{
    if (z->encode_jobs) {
        if (atomic_fetch_sub(&z->enc_inflight, 1) == 1)
            fan_finish(z);
        return;
    }
    tick_done(z, 1);
    atomic_store(&z->fanning, 0);
}

/* zones.tick_budget_ms = 0 (auto): the zones that have players share
 * three quarters of the machine's cores, at most 90 % of the update period
 * each and at least 20 %.  One zone (a strand: one core at most) gets 90 %,
 * three on two cores half the period each.  A fixed half period shed a lone
 * 1,000-player crowd to 2.4 updates a second on an idle second core
 * (BENCHMARKS "Crowds", fourth pass); a longer fixed budget let three busy
 * zones take the testclient's and the I/O thread's core. */
static void budget_auto(zone_t *z)
{
    const content_world_t *w = z->w;
    uint32_t active = 0;
    for (int i = 0; i < w->nzones; i++)
        active += atomic_load_explicit(&w->zones[i].nplayers, memory_order_relaxed) > 0;
    double share = 0.75 * (double)z->cpus / (double)(active ? active : 1);
    share = share > 0.9 ? 0.9 : share < 0.2 ? 0.2 : share;
    z->budget_us = (uint64_t)((double)z->period_us * share);
}

/* A tick is done: its time (the sum of its slices, not the waits between
 * them) goes to the histogram and, for a fan-out, to the overload control. */
static void tick_done(zone_t *z, int fan)
{
    if (fan)
        fan_end(z);
    if (fan && z->budget_is_auto)
        budget_auto(z);
    uint64_t us = z->tick_us;
    if (z->budget_us && us > z->budget_us)
        atomic_fetch_add(&z->overruns, 1);
    if (fan)
        overload_adjust(z, us);
    content_hist_add(z->tick_buckets, content_tick_bucket_ms, CONTENT_TICK_BUCKETS, &z->ticks,
                     &z->tick_sum_us, us);
}

/* A tick's start: on a fan-out tick (1) its visibility step begins (the
 * slices run by zone_tick or fan_job), and sends wait in the outboxes for
 * the fan-out; otherwise only zone chat held too long goes out. */
static int tick_start(zone_t *z)
{
    z->tick_no += z->tick_step;
    int fan = (z->tick_no / z->tick_step) % z->divider == 0;
    if (!fan) {
        /* overload: visibility waits for the next fan-out (spawns carry
         * positions; they come at the positions' rate), zone chat at most
         * CHAT_HOLD_MS: writing them now would cost every player a write
         * per update tick, the very cost the divider is shedding */
        uint64_t now = nc_now_ms();
        if (z->nchat && now - z->chat_since_ms >= CHAT_HOLD_MS)
            chat_flush(z);
        if (z->held_since_ms && now - z->held_since_ms >= CHAT_HOLD_MS)
            fan_end(z); /* and what leaves held in the outboxes */
        return 0;
    }
    z->outbox_on = 1; /* until the visibility step is over (vis_slice) */
    z->in_vis = 1;
    z->fan_no++;
    vis_begin(z);
    return 1;
}

/* With encode jobs, on the strand once every batch of the fan-out is done:
 * their time counts in the tick's (work, not wall: the jobs may overlap). */
static void fan_finish(zone_t *z)
{
    z->tick_us += atomic_exchange(&z->enc_us, 0);
    z->outbox_on = 0;
    tick_done(z, 1);
    atomic_store(&z->fanning, 0);
}

/* Benchmarks and tests: the whole tick at once. */
uint64_t zone_tick(zone_t *z)
{
    uint64_t t0 = nc_now_ns(), n0 = atomic_load(&z->notifications);
    z->enc_inline = 1; /* synchronous: batches run here */
    int fan = tick_start(z);
    if (fan)
        vis_slice(z, 0);
    z->tick_us = (nc_now_ns() - t0) / 1000u;
    z->fan_pos = 0;
    while (fan && fan_slice(z))
        ;
    if (fan)
        fan_slices_over(z);
    else
        tick_done(z, 0);
    return atomic_load(&z->notifications) - n0;
}

static void fan_job(void *arg);

/* The next slice: the visibility step's at once; the fan-out's paced, so
 * that they spread over the first half of the update period rather than
 * run back to back.  At once, a fan-out was a burst of one zone's whole
 * tick every period (three zones, three workers, two cores) and every
 * ping, move and I/O wake waited for the burst; paced, the same work
 * leaves the cores free between slices.  A slice that is late (the zone is
 * behind) follows at once.  The pacing timer is never canceled: it fires
 * within a period, and shutdown waits for the fan-out to end. */
static int fan_next(zone_t *z)
{
    uint64_t now = nc_now_ns();
    uint32_t n = z->nall ? z->nall : 1, pos = z->fan_pos < n ? z->fan_pos : n;
    uint64_t due = z->fan_t0_ns + z->period_us * 500u / n * pos; /* half the period */
    if (!z->in_vis && due >= now + 1000000u && !atomic_load(&z->w->shutting_down) &&
        nc_timer_start(z->strand, (due - now) / 1000000u, 0, fan_job, z, NULL) == 0)
        return 0;
    return world_post_critical(z->w, z->strand, fan_job, z);
}

/* The live tick runs its visibility step and fan-out in slices (SLICE_US,
 * at most FAN_SLICE players), each a job at the back of the zone's strand:
 * a ping, move or chat that arrived meanwhile waits for one slice, not for
 * the whole tick.  A player leaving or arriving between slices is skipped
 * or visited twice in this tick; versions make either harmless. */
static void fan_job(void *arg)
{
    zone_t *z = arg;
    int more = z->in_vis ? (vis_slice(z, 1), 1) : fan_slice(z);
    if (more && !atomic_load(&z->w->shutting_down) && fan_next(z) == 0)
        return;
    if (z->in_vis) /* shutting down in the visibility step: finish it here */
        vis_slice(z, 0);
    fan_slices_over(z);
}

static void tick_job(void *arg)
{
    zone_t *z = arg;
    if (atomic_load(&z->fanning)) { /* the last fan-out is still going */
        atomic_fetch_add(&z->overruns, 1);
        return;
    }
    uint64_t t0 = nc_now_ns();
    int fan = tick_start(z);
    z->tick_us = (nc_now_ns() - t0) / 1000u;
    if (!fan) {
        tick_done(z, 0);
        return;
    }
    z->fan_pos = 0;
    z->fan_t0_ns = t0;
    atomic_store(&z->fanning, 1);
    fan_job(z);
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
    uint32_t hz = w->o.tick_hz ? w->o.tick_hz : 20;
    z->tick_step = zone_tick_step(&w->o);
    z->encode_jobs = w->o.encode_jobs;
    z->divider = 1;
    atomic_store(&z->divider_now, 1);
    z->period_us = 1000000u * (uint64_t)z->tick_step / hz;
    z->cpus = (uint32_t)nc_cpu_count();
    z->budget_is_auto = w->o.tick_budget_ms == 0;
    z->budget_us = w->o.tick_budget_ms ? (uint64_t)w->o.tick_budget_ms * 1000u
                                       : z->period_us / 2; /* until budget_auto's first look */
    z->full_n = w->o.interest_full_unlimited ? 0 : w->o.interest_full ? w->o.interest_full : 64;
    z->lod_ticks = w->o.interest_lod_ticks ? w->o.interest_lod_ticks : 20;
    z->lod_max = w->o.interest_lod_max ? w->o.interest_lod_max : 32;
    float side = def->width > def->height ? def->width : def->height;
    z->q_step = side > 0 ? side / 65535.0f : 1.0f;
    z->upd = calloc(1, sizeof *z->upd);
    if (!z->upd)
        return -1;
    z->upd->step = z->q_step;
    if (zone_grid_init(&z->grid, def->width, def->height, w->o.view_radius) != 0)
        return -1;
    return nc_strand_create(w->o.game_queue, &z->strand);
}

/* Sim ticks per update tick: tick_hz / update_hz, rounded, at least 1. */
uint32_t zone_tick_step(const content_opts_t *o)
{
    uint32_t hz = o->tick_hz ? o->tick_hz : 20;
    uint32_t uhz = o->update_hz && o->update_hz < hz ? o->update_hz : hz;
    uint32_t step = (hz + uhz / 2) / uhz;
    return step ? step : 1;
}

void zone_start_timers(zone_t *z)
{
    /* the timer runs at the update rate: a sim tick between two update
     * ticks has nothing to do (moves apply as they arrive) */
    uint64_t period = z->period_us / 1000u ? z->period_us / 1000u : 1;
    /* zones take turns: zone i's update ticks come i/nzones of a period
     * after zone 0's, so that their fan-outs do not all start at one
     * instant (three zones at once on two cores waited for each other, and
     * every ping behind them with them) */
    uint64_t phase = z->w->nzones > 1 ? period * (uint64_t)z->idx / (uint64_t)z->w->nzones : 0;
    if (nc_timer_start(z->strand, period + phase, period, tick_job, z, &z->tick_timer) != 0)
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
    free(z->vis);
    free(z->scratch);
    free(z->upd);
    free(z->cand);
    batch_free(z->batch);
    z->batch = NULL;
    for (uint32_t i = 0; i < z->nchat; i++)
        nc_packet_release(z->chat[i].pkt);
    free(z->chat);
    zone_idmap_free(&z->players);
    zone_grid_free(&z->grid);
    if (z->strand)
        nc_strand_release(z->strand);
    z->strand = NULL;
}
