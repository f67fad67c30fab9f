/* The world: zone strands, the database strand, the name registry (who is
 * online, on which zone, which session) and the login/takeover hand-offs.
 * Lock order: reg_mu, then any netcore-internal lock (posting under reg_mu
 * keeps "registry says zone Z" and "Z has the enter job" in step). */
#include "content_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "world"

int world_send(content_world_t *w, nc_sid_t sid, nc_packet_t *p)
{
    if (w->o.send_fn)
        return w->o.send_fn(w->o.send_ud, sid, p);
    return nc_send_packet_id(w->o.engine, sid, p);
}

void world_send_error(content_world_t *w, nc_sid_t sid, int code, int fatal, const char *text)
{
    proto_error_t m = {.code = code, .fatal = fatal != 0};
    snprintf(m.text, sizeof m.text, "%s", text);
    nc_packet_t *p;
    CONTENT_PKT(p, error, ERROR, &m);
    if (p) {
        world_send(w, sid, p);
        nc_packet_release(p);
    }
}

int world_post_critical(content_world_t *w, nc_strand_t *s, nc_job_fn fn, void *arg)
{
    int rc = nc_strand_post(s, fn, arg);
    if (rc == NC_EQFULL) {
        /* admitted work's next step: over capacity, in strand order */
        atomic_fetch_add(&w->queue_full, 1);
        rc = nc_strand_post_force(s, fn, arg);
    }
    if (rc != 0)
        nc_log(NC_LOG_ERROR, TAG, "cannot post job: %s", nc_strerror(rc));
    return rc;
}

zone_t *world_zone_by_id(content_world_t *w, uint16_t id)
{
    for (int i = 0; i < w->nzones; i++)
        if (w->zones[i].def->id == id)
            return &w->zones[i];
    return NULL;
}

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % REG_BUCKETS;
}

reg_entry_t *reg_find_locked(content_world_t *w, const char *name)
{
    for (reg_entry_t *e = w->reg[name_hash(name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static void reg_remove_locked(content_world_t *w, reg_entry_t *e)
{
    reg_entry_t **pp = &w->reg[name_hash(e->name)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    if (e->takeover_strand)
        nc_strand_release(e->takeover_strand);
    free(e);
}

void world_send_notice(content_world_t *w, nc_sid_t sid, int code, const char *text)
{
    proto_notice_t m = {.code = code};
    snprintf(m.text, sizeof m.text, "%s", text);
    nc_packet_t *p;
    CONTENT_PKT(p, notice, NOTICE, &m);
    if (p) {
        world_send(w, sid, p);
        nc_packet_release(p);
    }
}

/* New-character limit, on the db strand before the load: a token is
 * reserved from the shard-wide and the per-address bucket; the session's
 * strand gives it back when the login did not create a character
 * (session_loaded_job).  With the budget spent only names that exist may
 * log in: content_db_exists (the db strand's connection) is asked only
 * then, and a fault there lets the login through (logged by content_db). */
static void db_load_job(void *arg)
{
    login_job_t *j = arg;
    content_world_t *w = j->w;
    if (w->o.new_chars_per_min || w->o.new_chars_per_min_global) {
        uint64_t now = nc_now_ms();
        j->reserved = ipt_chars_reserve(&w->ips, j->ip, now);
        int exists = 1;
        if (!j->reserved && w->db && content_db_exists(w->db, j->name, &exists) == CONTENT_DB_OK &&
            !exists) {
            j->ok = 0;
            j->refused = 1;
            atomic_fetch_add(&w->new_chars_refused, 1);
            nc_log_limited(&w->rl_refuse, 200, NC_LOG_WARN, TAG,
                           "[%llx] new character '%s' from %s refused: creation limit",
                           (unsigned long long)j->sid, j->name, *j->ip ? j->ip : "?");
            world_post_critical(w, j->strand, session_loaded_job, j);
            return;
        }
    }
    world_db_login(w, j); /* world_db.c: now, or after the database recovers */
}

/* Takes over the caller's strand reference. */
static void post_login(content_world_t *w, nc_sid_t sid, nc_strand_t *strand, const char *name,
                       const char *ip, const login_auth_t *auth, uint32_t entity_id)
{
    login_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        nc_strand_release(strand);
        return;
    }
    j->w = w;
    j->sid = sid;
    j->strand = strand;
    j->entity_id = entity_id;
    j->auth = *auth;
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->ip, sizeof j->ip, "%s", ip);
    world_post_critical(w, w->db_strand, db_load_job, j);
}

/* Ticket mode: only the account of the session holding the name may take
 * it over (a reconnect after a drop).  Dev mode: anyone, as before. */
static int may_take_over(const content_world_t *w, const login_auth_t *holder,
                         const login_auth_t *newer)
{
    if (!w->o.auth_ticket)
        return 1;
    return holder->who.checked && newer->who.checked &&
           holder->who.account_id == newer->who.account_id;
}

int world_login_claim(content_world_t *w, nc_sid_t sid, nc_strand_t *strand, const char *name,
                      const char *ip, const login_auth_t *auth, uint32_t *entity_id)
{
    nc_sid_t old = 0, stale_waiter = 0;
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, name);
    if (e && !may_take_over(w, &e->auth, auth)) {
        pthread_mutex_unlock(&w->reg_mu);
        return -2;
    }
    *entity_id = atomic_fetch_add(&w->next_entity, 1);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (e) {
            snprintf(e->name, sizeof e->name, "%s", name);
            e->sid = sid;
            e->zone_idx = -1;
            e->entity_id = *entity_id;
            e->auth = *auth;
            e->next = w->reg[name_hash(name)];
            w->reg[name_hash(name)] = e;
            nc_strand_retain(strand);
            post_login(w, sid, strand, name, ip, auth, e->entity_id);
        }
    } else {
        stale_waiter = e->takeover_sid;
        if (e->takeover_strand)
            nc_strand_release(e->takeover_strand);
        nc_strand_retain(strand);
        e->takeover_sid = sid;
        e->takeover_strand = strand;
        e->takeover_auth = *auth;
        old = e->sid;
    }
    pthread_mutex_unlock(&w->reg_mu);
    if (!e)
        return -1;
    if (old) {
        atomic_fetch_add(&w->takeovers, 1);
        nc_log_limited(&w->rl_conn, 1000, NC_LOG_INFO, TAG,
                       "'%s' logs in again (session %llx): taking over %llx", name,
                       (unsigned long long)sid, (unsigned long long)old);
        world_send_notice(w, old, PROTO_ERR_ALREADY_ONLINE, "logged in from another connection");
        if (w->o.engine)
            nc_close_id(w->o.engine, old, 0, "taken over");
    }
    if (stale_waiter && w->o.engine)
        nc_close_id(w->o.engine, stale_waiter, 0, "taken over");
    return old ? 1 : 0;
}

void world_session_gone(content_world_t *w, nc_sid_t sid, const char *name, int in_world)
{
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, name);
    if (e && e->takeover_sid == sid) {
        e->takeover_sid = 0;
        nc_strand_release(e->takeover_strand);
        e->takeover_strand = NULL;
    } else if (e && e->sid == sid) {
        e->closing = 1;
        if (in_world && e->zone_idx >= 0) {
            zone_msg_t *m = calloc(1, sizeof *m);
            if (m) {
                *m = (zone_msg_t){.w = w,
                                  .zone_idx = e->zone_idx,
                                  .entity_id = e->entity_id,
                                  .sid = sid,
                                  .type = 0};
                snprintf(m->name, sizeof m->name, "%s", name);
                world_post_critical(w, w->zones[e->zone_idx].strand, zone_msg_job, m);
            }
        }
    }
    pthread_mutex_unlock(&w->reg_mu);
}

void world_player_done(content_world_t *w, player_t *p)
{
    content_pos_t pos;
    player_snapshot(p, &pos);
    world_save_async(w, &pos, 1);
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, p->name);
    if (e && e->sid == p->sid) {
        if (e->takeover_sid) {
            e->sid = e->takeover_sid;
            e->takeover_sid = 0;
            e->closing = 0;
            e->zone_idx = -1;
            e->entity_id = atomic_fetch_add(&w->next_entity, 1);
            nc_strand_t *s = e->takeover_strand;
            e->takeover_strand = NULL;
            e->auth = e->takeover_auth;
            post_login(w, e->sid, s, e->name, "", &e->auth, e->entity_id);
        } else {
            reg_remove_locked(w, e);
        }
    }
    pthread_mutex_unlock(&w->reg_mu);
    player_free(p);
    world_presence_changed(w); /* issue 16: presence keys of a chat bus */
}

typedef struct save_job_s {
    content_world_t *w;
    size_t n;
    content_pos_t v[];
} save_job_t;

static void db_save_job(void *arg)
{
    save_job_t *j = arg;
    world_db_save(j->w, j->v, j->n); /* world_db.c: written, or kept and retried */
    free(j);
}

void world_save_async(content_world_t *w, const content_pos_t *v, size_t n)
{
    if (n == 0)
        return;
    save_job_t *j = malloc(sizeof *j + n * sizeof *v);
    if (!j) {
        nc_log(NC_LOG_ERROR, TAG, "out of memory saving %zu characters", n);
        return;
    }
    j->w = w;
    j->n = n;
    memcpy(j->v, v, n * sizeof *v);
    world_post_critical(w, w->db_strand, db_save_job, j);
}

typedef struct gold_job_s {
    content_world_t *w;
    nc_sid_t sid;
    int64_t char_id, delta;
} gold_job_t;

static void db_gold_job(void *arg)
{
    gold_job_t *j = arg;
    world_db_gold(j->w, j->sid, j->char_id, j->delta); /* world_db.c */
    free(j);
}

void world_gold_async(content_world_t *w, nc_sid_t sid, int64_t char_id, int64_t delta)
{
    gold_job_t *j = malloc(sizeof *j);
    if (!j)
        return;
    *j = (gold_job_t){w, sid, char_id, delta};
    world_post_critical(w, w->db_strand, db_gold_job, j);
}

void world_broadcast_chat(content_world_t *w, uint8_t channel, const char *sender,
                          const char *shard, const char *text)
{
    proto_chat_deliver_t m = {.channel = channel};
    snprintf(m.sender, sizeof m.sender, "%s", sender);
    snprintf(m.shard, sizeof m.shard, "%s", shard);
    snprintf(m.text, sizeof m.text, "%s", text);
    nc_packet_t *p;
    CONTENT_PKT(p, chat_deliver, CHAT_DELIVER, &m);
    if (!p)
        return;
    pthread_mutex_lock(&w->reg_mu);
    for (int b = 0; b < REG_BUCKETS; b++)
        for (reg_entry_t *e = w->reg[b]; e; e = e->next)
            if (e->zone_idx >= 0 && !e->closing)
                world_send(w, e->sid, p);
    pthread_mutex_unlock(&w->reg_mu);
    nc_packet_release(p);
}

void world_send_chat_to(content_world_t *w, nc_sid_t to, const char *sender, const char *text)
{
    proto_chat_deliver_t m = {.channel = 1};
    snprintf(m.sender, sizeof m.sender, "%s", sender);
    snprintf(m.text, sizeof m.text, "%s", text);
    nc_packet_t *p;
    CONTENT_PKT(p, chat_deliver, CHAT_DELIVER, &m);
    if (p) {
        world_send(w, to, p);
        nc_packet_release(p);
    }
}

uint32_t world_who_max(const content_world_t *w)
{
    uint32_t n = w->o.who_max_names;
    return n == 0 || n > PROTO_WHO_RESPONSE_ENTRIES_MAX ? PROTO_WHO_RESPONSE_ENTRIES_MAX : n;
}

/* At most who_max_names names; total is the zones' player count, so the
 * registry walk stops at the cap instead of visiting every entry. */
void world_who_shard(content_world_t *w, nc_sid_t to)
{
    proto_who_response_t m = {.total = content_online(w)};
    uint32_t cap = world_who_max(w);
    pthread_mutex_lock(&w->reg_mu);
    for (int b = 0; b < REG_BUCKETS && m.entries_count < cap; b++)
        for (reg_entry_t *e = w->reg[b]; e && m.entries_count < cap; e = e->next) {
            if (e->zone_idx < 0)
                continue;
            proto_who_entry_t *x = &m.entries[m.entries_count++];
            snprintf(x->name, sizeof x->name, "%s", e->name);
            x->zone = w->zones[e->zone_idx].def->id;
        }
    pthread_mutex_unlock(&w->reg_mu);
    if (m.total < m.entries_count)
        m.total = m.entries_count;
    nc_packet_t *p;
    CONTENT_PKT(p, who_response, WHO_RESPONSE, &m);
    if (p) {
        world_send(w, to, p);
        nc_packet_release(p);
    }
}

void content_set_global_chat_hook(content_world_t *w, content_global_chat_fn fn, void *ud)
{
    pthread_mutex_lock(&w->hook_mu); /* waits for a call of the old hook */
    w->global_fn = fn;
    w->global_ud = ud;
    pthread_mutex_unlock(&w->hook_mu);
}

void content_deliver_global_chat(content_world_t *w, const char *shard, const char *sender,
                                 const char *text)
{
    world_broadcast_chat(w, 1, sender, shard, text);
}

typedef struct fence_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} fence_t;

static void fence_job(void *arg)
{
    fence_t *f = arg;
    pthread_mutex_lock(&f->mu);
    f->done = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Returns once every job posted to s before the call has run. */
void world_fence(nc_strand_t *s)
{
    fence_t f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int rc = nc_strand_post(s, fence_job, &f);
    if (rc == NC_EQFULL)
        rc = nc_strand_post_force(s, fence_job, &f);
    if (rc != 0)
        return;
    pthread_mutex_lock(&f.mu);
    while (!f.done)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
}
