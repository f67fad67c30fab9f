/* World life cycle (create, orderly shutdown, destroy), global chat routing
 * and the statistics read by the metrics endpoint. */
#include "content_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "world"
#define OFFLINE_NOTICE "global chat offline: your message reached this shard only"

const double content_tick_bucket_ms[CONTENT_TICK_BUCKETS] = {0.1, 0.25, 0.5, 1,  2.5,
                                                             5,   10,   25,  50, 1e300};
const double content_db_latency_bucket_ms[8] = {0.1, 0.5, 1, 5, 10, 50, 100, 1e300};

/* The hook runs under hook_mu so content_set_global_chat_hook() can wait
 * out a call in progress: once it returns, the old hook's owner may free
 * what ud points to (gs_links_stop does).  Lock order: hook_mu, then
 * whatever the hook takes (netcore's send path); never reg_mu inside. */
void world_global_chat(content_world_t *w, nc_sid_t from, const char *sender, const char *text)
{
    pthread_mutex_lock(&w->hook_mu);
    int have = w->global_fn != NULL;
    int rc = have ? w->global_fn(w->global_ud, sender, text) : -1;
    pthread_mutex_unlock(&w->hook_mu);
    if (rc == 0)
        return; /* the chat server relays it back to every shard, ours too */
    world_broadcast_chat(w, 1, sender, "", text);
    if (have) /* a chat link exists but is down: only the shouter is told */
        world_send_chat_to(w, from, "*system*", OFFLINE_NOTICE);
}

static int create_zones(content_world_t *w, char *err, size_t errlen)
{
    w->zones = calloc((size_t)w->defs.n, sizeof *w->zones);
    if (!w->zones) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < w->defs.n; i++) {
        if (zone_init(&w->zones[i], w, i, &w->defs.v[i]) != 0) {
            snprintf(err, errlen, "cannot create zone %u", w->defs.v[i].id);
            return -1;
        }
        w->nzones++;
    }
    return 0;
}

int content_world_create(const content_opts_t *o, content_world_t **out, char *err, size_t errlen)
{
    content_world_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->o = *o;
    snprintf(w->shard, sizeof w->shard, "%s", o->shard_name ? o->shard_name : "shard");
    w->move_rules = (zone_move_rules_t){o->max_speed, 300};
    w->chat_rules = (chat_limit_rules_t){o->chat_per_s, o->chat_burst, o->chat_mute_ms};
    pthread_mutex_init(&w->reg_mu, NULL);
    pthread_mutex_init(&w->hook_mu, NULL);
    ipt_init(&w->ips, o->new_chars_per_min);
    pthread_mutex_init(&w->pre_mu, NULL);
    ipt_set_global(&w->ips, o->new_chars_per_min_global, nc_now_ms());
    atomic_store(&w->next_entity, 1);
    if (o->login_pk) { /* tickets can be verified (issue 13) */
        memcpy(w->rules.login_pk, o->login_pk, sizeof w->rules.login_pk);
        if (o->login_pk_next) {
            memcpy(w->rules.login_pk_next, o->login_pk_next, sizeof w->rules.login_pk_next);
            w->rules.have_next = 1;
        }
        w->rules.shard = w->shard;
        w->rules.skew_s = o->clock_skew_s;
        w->rules.max_lifetime_s = o->ticket_max_life_s ? o->ticket_max_life_s : 3600;
        if (replay_init(&w->replay, o->replay_cache_max ? o->replay_cache_max : 100000) != 0) {
            snprintf(err, errlen, "out of memory for the ticket replay cache (%u nonces)",
                     o->replay_cache_max);
            goto fail;
        }
        w->have_key = 1;
    }
    content_db_opts_t dbo = CONTENT_DB_OPTS_DEFAULT;
    dbo.synchronous_full = !o->db_sync_normal;
    if (o->db_busy_timeout_ms)
        dbo.busy_timeout_ms = o->db_busy_timeout_ms;
    dbo.fault_file = o->db_fault_file;
    dbo.driver = o->db_postgres ? CONTENT_DB_POSTGRES : CONTENT_DB_SQLITE;
    dbo.url = o->db_url;
    if (content_zones_load(o->zones_file, &w->defs, err, errlen) != 0 ||
        ((o->db_path || o->db_postgres) &&
         content_db_open_opts(o->db_path, &dbo, &w->db, err, errlen) != 0))
        goto fail;
    if (world_db_init(w) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (nc_strand_create(o->db_queue, &w->db_strand) != 0) {
        snprintf(err, errlen, "cannot create the database strand");
        goto fail;
    }
    if (create_zones(w, err, errlen) != 0)
        goto fail;
    for (int i = 0; i < w->nzones && !o->manual_tick; i++)
        zone_start_timers(&w->zones[i]);
    nc_log(NC_LOG_INFO, TAG, "%d zones, database %s (schema v%d), tick %u Hz", w->nzones,
           !w->db           ? "(none)"
           : o->db_postgres ? "postgres"
                            : o->db_path,
           w->db ? content_db_user_version(w->db) : 0, o->tick_hz);
    *out = w;
    return 0;
fail:
    content_world_destroy(w);
    return -1;
}

static void notice_all(content_world_t *w, const char *text)
{
    pthread_mutex_lock(&w->reg_mu);
    for (int b = 0; b < REG_BUCKETS; b++)
        for (reg_entry_t *e = w->reg[b]; e; e = e->next)
            world_send_notice(w, e->sid, PROTO_ERR_SHUTTING_DOWN, text);
    pthread_mutex_unlock(&w->reg_mu);
}

static uint64_t save_deadline(content_world_t *w)
{
    if (!w->save_deadline_ms) {
        uint32_t t = w->o.db_shutdown_save_timeout_ms ? w->o.db_shutdown_save_timeout_ms : 30000;
        w->save_deadline_ms = nc_now_ms() + t;
    }
    return w->save_deadline_ms;
}

size_t content_world_shutdown(content_world_t *w)
{
    if (atomic_exchange(&w->shutting_down, 1))
        return 0;
    uint32_t online = content_online(w);
    for (int i = 0; i < w->nzones; i++)
        zone_stop_timers(&w->zones[i]);
    for (int i = 0; i < w->nzones; i++)
        world_post_critical(w, w->zones[i].strand, zone_autosave_job, &w->zones[i]);
    for (int i = 0; i < w->nzones; i++)
        world_fence(w->zones[i].strand);
    /* saves are retried while the database is unavailable, up to the
     * deadline; only what is on disk is reported saved */
    size_t unsaved = w->db ? world_db_wait(w, save_deadline(w)) : 0;
    nc_log_limited_flush(&w->rl_conn, NC_LOG_INFO, "session", "login/close");
    nc_log_limited_flush(&w->rl_refuse, NC_LOG_WARN, "session", "refusal");
    nc_log_limited_flush(&w->rl_kick, NC_LOG_WARN, "session", "kick");
    if (unsaved == 0) {
        notice_all(w, "server shutting down; your character is saved");
        nc_log(NC_LOG_INFO, TAG, "shutdown: %u online characters saved", online);
    } else {
        notice_all(w, "server shutting down; the database is unavailable: your latest "
                      "progress may not be saved");
        nc_log(NC_LOG_ERROR, TAG,
               "shutdown: %zu characters NOT saved (database unavailable; named above)", unsaved);
    }
    return unsaved;
}

size_t content_unsent(content_world_t *w)
{
    size_t total = 0;
    if (!w->o.engine)
        return 0;
    pthread_mutex_lock(&w->reg_mu);
    for (int b = 0; b < REG_BUCKETS; b++)
        for (reg_entry_t *e = w->reg[b]; e; e = e->next) {
            nc_session_t *s = nc_session_get(w->o.engine, e->sid);
            if (s) {
                total += nc_session_unsent(s);
                nc_session_put(s);
            }
        }
    pthread_mutex_unlock(&w->reg_mu);
    return total;
}

size_t content_world_destroy(content_world_t *w)
{
    if (!w)
        return 0;
    size_t unsaved = 0;
    for (int i = 0; i < w->nzones; i++)
        zone_stop_timers(&w->zones[i]);
    /* leave jobs from closing sessions may still be queued: drain zones,
     * then the saves they posted (retried up to the shutdown deadline); a
     * sliced fan-out posts its next slice until it sees shutting_down */
    atomic_store(&w->shutting_down, 1);
    for (int i = 0; i < w->nzones; i++)
        do
            world_fence(w->zones[i].strand);
        while (atomic_load(&w->zones[i].fanning));
    if (w->db_strand) {
        if (w->db && w->dbq) {
            unsaved = world_db_wait(w, save_deadline(w));
            if (unsaved)
                nc_log(NC_LOG_ERROR, TAG, "%zu characters NOT saved (named above)", unsaved);
        }
        world_db_stop(w);
        world_fence(w->db_strand);
        nc_strand_release(w->db_strand);
    }
    world_db_free(w);
    for (int i = 0; i < w->nzones; i++)
        zone_free(&w->zones[i]);
    free(w->zones);
    for (int b = 0; b < REG_BUCKETS; b++)
        while (w->reg[b]) {
            reg_entry_t *e = w->reg[b];
            w->reg[b] = e->next;
            if (e->takeover_strand)
                nc_strand_release(e->takeover_strand);
            free(e);
        }
    content_db_close(w->db);
    content_zones_free(&w->defs);
    world_admin_free(w); /* after the zones: nothing reads a definition now */
    pthread_mutex_destroy(&w->reg_mu);
    pthread_mutex_destroy(&w->hook_mu);
    ipt_free(&w->ips);
    pthread_mutex_destroy(&w->pre_mu);
    if (w->have_key)
        replay_free(&w->replay);
    free(w);
    return unsaved;
}

uint32_t content_online(content_world_t *w)
{
    uint32_t n = 0;
    for (int i = 0; i < w->nzones; i++)
        n += atomic_load(&w->zones[i].nplayers);
    return n;
}

void content_stats(content_world_t *w, content_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->online = content_online(w);
    s->logins = atomic_load(&w->logins);
    s->takeovers = atomic_load(&w->takeovers);
    s->moves = atomic_load(&w->moves);
    s->moves_too_fast = atomic_load(&w->too_fast);
    s->moves_out_of_bounds = atomic_load(&w->oob);
    s->moves_bad_value = atomic_load(&w->bad_value);
    s->bad_packets = atomic_load(&w->bad_packets);
    s->chat_muted = atomic_load(&w->chat_muted);
    s->queue_full = atomic_load(&w->queue_full);
    s->saves_batched = atomic_load(&w->saves_batched);
    s->requests_dropped = atomic_load(&w->requests_dropped);
    s->flood_warnings = atomic_load(&w->flood_warnings);
    s->kicked_flood = atomic_load(&w->kicked_flood);
    s->refused_full = atomic_load(&w->refused_full);
    s->refused_prelogin = atomic_load(&w->refused_prelogin);
    s->refused_per_ip = atomic_load(&w->refused_per_ip);
    s->login_timeouts = atomic_load(&w->login_timeouts);
    s->kicked_prelogin_packets = atomic_load(&w->kicked_prelogin_packets);
    s->new_chars_refused = atomic_load(&w->new_chars_refused);
    s->prelogin = atomic_load(&w->prelogin);
    s->tickets_accepted = atomic_load(&w->tickets_accepted);
    for (int i = 0; i < CONTENT_TICKET_REASONS; i++)
        s->tickets_rejected[i] = atomic_load(&w->tickets_rejected[i]);
    s->not_owner = atomic_load(&w->not_owner);
    s->not_allowed = atomic_load(&w->not_allowed);
    s->replay_cache_size = w->have_key ? replay_size(&w->replay) : 0;
    s->db_up = 1;
    world_db_stats(w, s);
    if (w->db) {
        content_db_stats_t d;
        content_db_stats(w->db, &d);
        s->db_ops = d.ops;
        s->db_errors = d.errors;
        s->db_total_us = d.total_us;
        memcpy(s->db_buckets, d.buckets, sizeof s->db_buckets);
        memcpy(s->db_faults, d.faults, sizeof s->db_faults);
        s->db_reconnects = d.reconnects;
    }
}

int content_zone_stats(content_world_t *w, content_zone_stats_t *out, int max)
{
    for (int i = 0; i < w->nzones && i < max; i++) {
        zone_t *z = &w->zones[i];
        content_zone_stats_t *s = &out[i];
        s->id = z->def->id;
        snprintf(s->name, sizeof s->name, "%s", z->def->name);
        s->players = atomic_load(&z->nplayers);
        s->ticks = atomic_load(&z->ticks);
        s->tick_sum_us = atomic_load(&z->tick_sum_us);
        s->notifications = atomic_load(&z->notifications);
        s->updates = atomic_load(&z->updates);
        s->update_packets = atomic_load(&z->update_packets);
        s->overruns = atomic_load(&z->overruns);
        s->update_divider = atomic_load(&z->divider_now);
        s->encode_jobs = atomic_load(&z->enc_posted);
        s->encode_inline = atomic_load(&z->enc_inline_runs);
        for (int b = 0; b < CONTENT_TICK_BUCKETS; b++) {
            s->tick_buckets[b] = atomic_load(&z->tick_buckets[b]);
            s->wait_buckets[b] = atomic_load(&z->wait_buckets[b]);
        }
        s->waits = atomic_load(&z->waits);
        s->wait_sum_us = atomic_load(&z->wait_sum_us);
    }
    return w->nzones;
}
