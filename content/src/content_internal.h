/* Shared internals of the content library: world, registry, zones, players.
 * Ownership: a player_t belongs to exactly one owner at a time -- the
 * session strand while logged in but not in the world, then its zone strand;
 * it moves between owners only inside a job posted by the current owner. */
#ifndef CONTENT_INTERNAL_H
#define CONTENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "content.h"
#include "content_auth.h"
#include "content_db.h"
#include "content_zones.h"
#include "content_limits.h"
#include "proto_packets.h"
#include "proto_routes.h"
#include "zone_grid.h"
#include "zone_rules.h"
#include "nc_evict.h"

typedef struct zone_s zone_t;
typedef struct world_db_s world_db_t; /* world_db.c: db strand state and fault handling */

/* Who a login is (issue 13): the owner rules for the database and the
 * role that privileged commands check. */
typedef struct login_auth_s {
    content_login_t who;
    int role; /* PA_ROLE_* */
} login_auth_t;

typedef struct enc_batch_s enc_batch_t;

typedef struct player_s {
    zone_ent_t ent; /* ent.id: shard-unique entity id */
    nc_sid_t sid;
    int64_t char_id;
    char name[CONTENT_NAME_MAX + 1];
    uint16_t zone_id;
    uint8_t dir;
    int dirty;
    uint32_t zidx;          /* index in zone->all */
    zone_move_state_t move; /* distance budget (zone_rules.h) */
    uint64_t entered_ms;    /* played time accounting */
    int64_t played_base_s;
    int64_t gold;
    /* entity ids this player sees (symmetric); the value is KNOWN_FULL (in
     * this player's full-rate set) | the version of the neighbour's
     * position last sent to this player (zone.c, issue 15) */
    zone_idmap_t known;
    uint32_t seen_stamp;
    nc_packet_t *spawn_pkt; /* encoded lazily, dropped at the end of a job */
    int role;               /* PA_ROLE_* (issue 13): privileged commands check it */
    /* interest (issue 15): zone.c */
    uint32_t ver;            /* bumped by every applied move */
    struct player_s **full;  /* the band: the nearest 2 full_n neighbours as of */
    uint32_t nfull, capfull; /* full_tick, each in known with KNOWN_FULL */
    int full_stale;          /* rebuild full[] at the next fan-out (entered the zone) */
    uint32_t lod_cursor;     /* next known slot the reduced-rate pass looks at */
    uint32_t lod_cycle;      /* full passes of the cursor over known */
    float vis_x, vis_y;      /* where visibility was last computed */
    uint32_t vis_tick;       /* and when (zone tick) */
    int vis_done;            /* computed at least once in this zone */
    uint32_t full_tick;      /* zone tick of the last full-set rebuild */
    /* a fan-out tick's spawns, despawns and chat for this player, sent with
     * its entity_updates in one write (zone.c, "outbox") */
    nc_packet_t **out;
    uint32_t nout, capout;
} player_t;

/* Registry entry: one per claimed character name, guarded by reg_mu.
 * zone_idx < 0: the player is owned by its session strand (or loading). */
typedef struct reg_entry_s {
    char name[CONTENT_NAME_MAX + 1];
    nc_sid_t sid;
    uint32_t entity_id;
    int zone_idx;
    int closing;           /* the session is gone; owner must finish */
    nc_sid_t takeover_sid; /* a newer login waiting for this name */
    nc_strand_t *takeover_strand;
    login_auth_t auth;          /* of the session holding the name (issue 13) */
    login_auth_t takeover_auth; /* of the waiting login */
    struct reg_entry_s *next;
} reg_entry_t;

#define REG_BUCKETS 1024

struct zone_s {
    content_world_t *w;
    int idx;
    /* atomic: a zones reload swaps it on the zone's strand (others read it) */
    _Atomic(const content_zone_def_t *) def;
    nc_strand_t *strand;
    nc_timer_id_t tick_timer, save_timer;
    zone_grid_t grid;
    zone_idmap_t players; /* entity id -> player_t* */
    player_t **all;
    uint32_t nall, capall;
    player_t **dirty;
    uint32_t ndirty, capdirty;
    uint32_t *scratch;
    uint32_t capscratch;
    uint32_t stamp;
    atomic_uint nplayers;
    atomic_uint_fast64_t ticks, tick_sum_us, notifications;
    atomic_uint_fast64_t tick_buckets[CONTENT_TICK_BUCKETS];
    /* requests' wait from their decoding to the zone's handling */
    atomic_uint_fast64_t wait_buckets[CONTENT_TICK_BUCKETS], waits, wait_sum_us;
    /* crowds (issue 15): zone.c */
    uint32_t tick_no;            /* ticks run (wraps) */
    uint32_t fan_no;             /* fan-outs run (wraps): the band alternates by it */
    uint32_t divider, calm;      /* updates every divider-th tick; fan-outs that fit */
    uint64_t budget_us;          /* zones.tick_budget_ms, or budget_auto's */
    uint64_t period_us;          /* the update period */
    uint32_t cpus;               /* nc_cpu_count(), for budget_auto */
    int budget_is_auto;          /* zones.tick_budget_ms = 0 */
    uint32_t full_n, lod_ticks;  /* zones.interest_full (0 = all), interest_lod_ticks */
    uint32_t lod_max;            /* zones.interest_lod_max */
    float q_step;                /* entity_updates quantization step */
    proto_entity_updates_t *upd; /* one recipient's packet being built */
    zone_cand_t *cand;           /* full-set selection scratch */
    uint32_t capcand;
    atomic_uint divider_now;  /* for /metrics */
    struct zone_chat_s *chat; /* zone chat lines waiting for the tick */
    uint32_t fan_pos;         /* next player of the fan-out in progress */
    player_t **vis;           /* the visibility step's players (vis_slice) */
    uint32_t nvis, capvis, vis_pos;
    int in_vis;         /* the tick is in its visibility step */
    uint64_t fan_t0_ns; /* when it started (its slices are paced over half the period) */
    uint64_t tick_us;   /* this tick's time so far (its slices) */
    atomic_int fanning; /* a sliced fan-out is in progress */
    uint32_t nchat, capchat;
    atomic_uint_fast64_t updates, update_packets, overruns;
    uint32_t tick_step;     /* sim ticks per update tick (zones.update_hz) */
    int outbox_on;          /* sends to players go to their outboxes */
    uint64_t chat_since_ms; /* when the oldest queued zone chat line came */
    uint64_t held_since_ms; /* when a leave first held sends in outboxes (0: none) */
    /* zones.encode_jobs: zone.c, "encode jobs" */
    int encode_jobs, enc_inline;
    struct enc_batch_s *batch; /* the slice's, being filled */
    atomic_uint enc_inflight;  /* batches out, + 1 while slices remain */
    atomic_uint_fast64_t enc_us, enc_posted, enc_inline_runs;
};

struct content_world_s {
    content_opts_t o;
    char shard[33];
    content_zone_defs_t defs;
    zone_t *zones;
    int nzones;
    content_db_t *db;
    nc_strand_t *db_strand;
    zone_move_rules_t move_rules;
    chat_limit_rules_t chat_rules;
    pthread_mutex_t reg_mu;
    reg_entry_t *reg[REG_BUCKETS];
    uint32_t online;
    atomic_uint next_entity;
    atomic_int shutting_down;
    pthread_mutex_t hook_mu; /* global_fn/ud, held while the hook runs */
    content_global_chat_fn global_fn;
    void *global_ud;
    /* issue 16: whispers to players on other shards (chat bus), hook_mu */
    content_whisper_fn whisper_fn;
    void *whisper_ud;
    void (*presence_fn)(void *ud);
    void *presence_ud;
    atomic_uint_fast64_t logins, takeovers, moves, too_fast, oob, bad_value, bad_packets,
        chat_muted, queue_full, saves_batched;
    /* abuse limits (issue 12): session.c, world.c */
    atomic_uint live, prelogin; /* player sessions open / not logged in yet */
    ip_table_t ips;
    /* red-team review (issue 16 session): sessions that have not sent a
     * login yet, oldest first; at limits.max_prelogin a newcomer evicts the
     * oldest (session.c, admit); shared by every session's strand, so under
     * pre_mu */
    pthread_mutex_t pre_mu;
    nc_evict_t pre;
    /* nc_log_limited states */
    nc_log_state_t rl_conn, rl_refuse, rl_kick;
    atomic_uint_fast64_t requests_dropped, flood_warnings, kicked_flood, refused_full,
        refused_prelogin, refused_per_ip, login_timeouts, kicked_prelogin_packets,
        new_chars_refused;
    world_db_t *dbq; /* database faults: world_db.c */
    /* accounts (issue 13): session.c, content_auth.c */
    int have_key;          /* rules.login_pk is set: tickets can be verified */
    auth_rules_t rules;    /* rules.shard points to shard[] */
    replay_cache_t replay; /* allocated when have_key */
    nc_log_state_t rl_auth;
    atomic_uint_fast64_t tickets_accepted, tickets_rejected[CONTENT_TICKET_REASONS], not_owner,
        not_allowed;
    uint64_t save_deadline_ms; /* shutdown: when to stop retrying saves */
    /* issue 14: the operator's console (world_admin.c) */
    atomic_int draining, reloading;
    struct defs_kept_s *defs_kept; /* definitions replaced by reloads (freed at destroy) */
};

/* ---- world.c ---- */
int world_send(content_world_t *w, nc_sid_t sid, nc_packet_t *p);
/* An error packet (fatal: the client must expect the session to close). */
void world_send_error(content_world_t *w, nc_sid_t sid, int code, int fatal, const char *text);
/* Posts a job that must not be lost: when the strand's queue is full it
 * posts over capacity with nc_strand_post_force (strand order kept) and
 * counts it.  0, or the (logged) error (pool stopping): fn will not run and
 * arg is still the caller's. */
int world_post_critical(content_world_t *w, nc_strand_t *s, nc_job_fn fn, void *arg);
zone_t *world_zone_by_id(content_world_t *w, uint16_t id);
reg_entry_t *reg_find_locked(content_world_t *w, const char *name);
/* Called by the current owner of p, outside any zone: saves p and either
 * hands the name to a waiting takeover login or releases it.  Frees p. */
void world_player_done(content_world_t *w, player_t *p);
void world_send_notice(content_world_t *w, nc_sid_t sid, int code, const char *text);
void world_save_async(content_world_t *w, const content_pos_t *v, size_t n);
/* issue 16 (world_bus.c): the whisper hook, 0 when it took the whisper */
void world_presence_changed(content_world_t *w);
int world_whisper_elsewhere(content_world_t *w, nc_sid_t from, const char *sender,
                            const char *target, const char *text);
void world_broadcast_chat(content_world_t *w, uint8_t channel, const char *sender,
                          const char *shard, const char *text);
void world_who_shard(content_world_t *w, nc_sid_t to);
/* Names per who_response (limits.who_max_names, at most the schema's). */
uint32_t world_who_max(const content_world_t *w);
/* One global-channel chat_deliver to one session (system messages). */
void world_send_chat_to(content_world_t *w, nc_sid_t to, const char *sender, const char *text);

/* ---- zone.c ---- */
int zone_init(zone_t *z, content_world_t *w, int idx, const content_zone_def_t *def);
void zone_start_timers(zone_t *z);
void zone_stop_timers(zone_t *z);
void zone_free(zone_t *z);
/* One tick: applies pending moves to the grid and fans out notifications.
 * Returns notifications sent (benchmarks call it directly). */
uint64_t zone_tick(zone_t *z);
void zone_add_player(zone_t *z, player_t *p);
/* reason: despawn reason sent to neighbours (1 logout, 2 zone change). */
void zone_remove_player(zone_t *z, player_t *p, uint8_t reason);
void zone_mark_dirty(zone_t *z, player_t *p);
void zone_send_to_known(zone_t *z, player_t *p, nc_packet_t *pkt, int include_self);
uint32_t zone_tick_step(const content_opts_t *o);
/* Zone chat: p's line goes to p now and to those who see p at the next tick,
 * in the same write as that tick's updates (takes over the caller's
 * reference). */
void zone_queue_chat(zone_t *z, player_t *p, nc_packet_t *pkt);
/* Job args: a player to place in the zone (login or transfer). */
void zone_post_enter(zone_t *z, player_t *p, int transfer);
/* Under the registry lock: if `name` still belongs to session `sid`, records
 * zone `to` for it and posts p's enter job there.  0 when the player was
 * taken over meanwhile (the caller then finishes p). */
int zone_enter_if_current(zone_t *to, player_t *p, const char *name, nc_sid_t sid, int transfer);
typedef struct zone_msg_s {
    content_world_t *w;
    int zone_idx;
    uint32_t entity_id;
    nc_sid_t sid;
    char name[CONTENT_NAME_MAX + 1];
    uint16_t type; /* PROTO_T_* of the c2s packet, or 0 for "leave" */
    uint64_t t_ns; /* decoded at (nc_now_ns): its wait is in the zone's wait histogram */
    /* The sending session while the request waits for its zone: it counts
     * against that session's input bound (nc_session_hold), so a player's
     * backlog in a zone pauses that player's reads, not everyone's.  NULL
     * for messages nobody sent (leave). */
    nc_session_t *held;
    /* every c2s packet with "route": "zone" (generated from packets.json) */
    proto_zone_msg_t u;
} zone_msg_t;
/* Routes msg to the zone that owns the player now (under reg_mu), never
 * dropping it for a full queue; frees it if the player is gone. */
void zone_route(content_world_t *w, zone_msg_t *msg);
/* Frees a zone message and releases its hold on the sender. */
void zone_msg_free(zone_msg_t *m);
/* Job on a zone strand: handles or forwards a zone_msg_t (frees it). */
void zone_msg_job(void *arg);
/* Saves all players of the zone in one batch (job on the zone's strand). */
void zone_autosave_job(void *arg);
player_t *player_new(content_world_t *w, const content_char_t *c, nc_sid_t sid, uint32_t entity_id);
void player_free(player_t *p);
void player_snapshot(const player_t *p, content_pos_t *out);

/* ---- world_admin.c ---- */
/* A login refused while draining gets this text (code SHUTTING_DOWN). */
#define CONTENT_DRAINING_TEXT "server draining for maintenance: new logins are refused, try later"
/* Frees the zone definitions replaced by reloads (content_world_destroy). */
void world_admin_free(content_world_t *w);

/* ---- pkt helpers ---- */
#define CONTENT_PKT(out, lower, UPPER, msgp)                                                       \
    do {                                                                                           \
        nc_packet_t *p_ = nc_packet_alloc(PROTO_MAX_SIZE_##UPPER);                                 \
        int n_ = p_ ? proto_encode_##lower((msgp), nc_packet_body(p_), p_->cap) : -1;              \
        if (n_ < 0 && p_) {                                                                        \
            nc_packet_release(p_);                                                                 \
            p_ = NULL;                                                                             \
        } else if (p_) {                                                                           \
            p_->len = (uint32_t)n_;                                                                \
            p_->type = PROTO_T_##UPPER;                                                            \
        }                                                                                          \
        (out) = p_;                                                                                \
    } while (0)

#endif

/* ---- login (world.c -> db strand -> session.c) ---- */
typedef struct login_job_s {
    content_world_t *w;
    nc_sid_t sid;
    nc_strand_t *strand; /* the session's strand; the job holds a reference */
    uint32_t entity_id;
    char name[CONTENT_NAME_MAX + 1];
    content_char_t c;
    int ok;
    int refused;        /* new character over the creation limit */
    int reserved;       /* holds a new-character token (limits.c) */
    char ip[48];        /* source address ("" for a takeover hand-off) */
    int db_unavailable; /* !ok because the database stayed unavailable */
    login_auth_t auth;  /* issue 13 */
    int not_owner;      /* !ok: CONTENT_DB_NOT_OWNER (j->c.has_owner: legacy or not) */
} login_job_t;
/* Runs on the session strand; owns and frees the job. */
void session_loaded_job(void *arg);
/* 0: name claimed and loading; 1: an older session is being taken over. */
/* -2: another account's session holds the name (ticket mode): refused,
 * nobody is kicked. */
int world_login_claim(content_world_t *w, nc_sid_t sid, nc_strand_t *strand, const char *name,
                      const char *ip, const login_auth_t *auth, uint32_t *entity_id);
/* The session went away: routes a leave to the owner (sid must hold name). */
void world_session_gone(content_world_t *w, nc_sid_t sid, const char *name, int in_world);
void world_fence(nc_strand_t *s);
/* Gold change committed before the client hears of it (db strand job). */
void world_gold_async(content_world_t *w, nc_sid_t sid, int64_t char_id, int64_t delta);
/* A player's shout: to the global-chat hook, or (no hook, or the hook says
 * the chat server is offline) to this shard, telling only `from` so. */
void world_global_chat(content_world_t *w, nc_sid_t from, const char *sender, const char *text);

/* ---- world_db.c: the db strand's requests, with fault handling ---- */
int world_db_init(content_world_t *w);
void world_db_free(content_world_t *w);
/* On the db strand: run now, or wait (in order) while the database is down. */
void world_db_login(content_world_t *w, login_job_t *j);
void world_db_gold(content_world_t *w, nc_sid_t sid, int64_t char_id, int64_t delta);
void world_db_save(content_world_t *w, const content_pos_t *v, size_t n);
/* Declared character fields (issue 14, char_fields.h): show them all, set
 * or add to one; the notice goes out after the commit. */
enum { WORLD_FIELD_SHOW, WORLD_FIELD_SET, WORLD_FIELD_ADD };
/* On the db strand (queued behind database faults like gold). */
void world_db_field(content_world_t *w, nc_sid_t sid, int64_t char_id, int field, int mode,
                    int64_t v);
/* From any strand (a zone's): posts world_db_field to the db strand. */
void world_field_async(content_world_t *w, nc_sid_t sid, int64_t char_id, int field, int mode,
                       int64_t v);
/* Zone strand: "/show" and "/set NAME N" (world_fields.c): parse (checked),
 * then a job on the db strand. */
void world_field_command(content_world_t *w, nc_sid_t sid, int64_t char_id, int mode,
                         const char *arg);
/* Any thread but the db strand: waits until every save posted so far is on
 * disk (or deadline_ms, monotonic), then returns the number of characters
 * whose save is not on disk (each one logged by name). */
size_t world_db_wait(content_world_t *w, uint64_t deadline_ms);
/* No more retries; waiting requests get "database unavailable". */
void world_db_stop(content_world_t *w);
/* "/gold N": parses N (checked), then world_gold_async. */
void world_db_gold_command(content_world_t *w, nc_sid_t sid, int64_t char_id, const char *arg);
void world_db_stats(content_world_t *w, content_stats_t *s);
