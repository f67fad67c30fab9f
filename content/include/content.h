/* content: the game side of the shard.  The server creates one world on its
 * engine and queues, registers content_handlers() as the player role, and
 * calls content_world_shutdown() before tearing the engine down. */
#ifndef CONTENT_H
#define CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "netcore.h"

typedef struct content_world_s content_world_t;

/* Replaces nc_send_packet_id (benchmarks and tests); takes its own ref. */
typedef int (*content_send_fn)(void *ud, nc_sid_t sid, nc_packet_t *p);

typedef struct content_opts_s {
    nc_engine_t *engine;    /* sessions live here (NULL with send_fn) */
    nc_queue_t *game_queue; /* zone strands */
    nc_queue_t *db_queue;   /* the one database strand */
    const char *db_path;
    const char *zones_file;
    uint32_t tick_hz;
    float view_radius;
    float max_speed;
    int interest; /* 0: every player in a zone sees every other */
    float chat_per_s, chat_burst;
    uint32_t chat_mute_ms;
    uint32_t autosave_ms;
    const char *shard_name;
    content_send_fn send_fn;
    void *send_ud;
    int manual_tick; /* benchmarks: no zone timers; the caller runs zone_tick */
    /* Abuse limits (issue 12; content/README.md, "Limits").  0 turns each
     * one off, so a zeroed struct (benchmarks, unit tests) has none. */
    float budget_per_s, budget_burst; /* request budget per player, units */
    uint32_t flood_warn_drops;        /* drops in one second that earn a warning */
    uint32_t flood_kick_s;            /* seconds such abuse may last before a kick */
    uint32_t who_max_names;           /* names per who_response (0: schema max) */
    uint32_t login_timeout_ms;        /* open -> successful login */
    uint32_t max_sessions;            /* live player sessions (SERVER_FULL past it) */
    uint32_t max_prelogin;            /* sessions not logged in yet */
    uint32_t max_per_ip;              /* of those, per source address */
    uint32_t prelogin_packets;        /* game packets before login tolerated */
    uint32_t new_chars_per_min;       /* per source address */
    uint32_t new_chars_per_min_global;
    int exempt_loopback; /* per-address limits skip 127.0.0.0/8 and ::1 */
    /* database faults and durability (0 = the default in brackets) */
    int db_sync_normal;                   /* 1: synchronous=NORMAL [0: FULL, durable] */
    uint32_t db_busy_timeout_ms;          /* one statement's lock wait [100] */
    uint32_t db_request_timeout_ms;       /* a login/gold change waits at most [5000] */
    uint32_t db_max_waiting;              /* requests waiting for the database [4096] */
    uint32_t db_shutdown_save_timeout_ms; /* shutdown retries saves for [30000] */
    const char *db_fault_file;            /* tests only (content_db_opts_t.fault_file) */
    /* the character store's driver (issue 16; content/README.md, "Drivers") */
    int db_postgres;    /* 1: PostgreSQL at db_url, db_path unused [0: SQLite at db_path] */
    const char *db_url; /* libpq conninfo or URL, no password (refused: passfile) */
    /* accounts and tickets (issue 13; content/README.md, "Accounts").  A
     * zeroed struct is dev mode with no key (benchmarks, unit tests). */
    int auth_ticket;              /* 1: a login must carry a valid ticket (auth.mode "ticket") */
    const uint8_t *login_pk;      /* the login server's 32-byte sign_pk, or NULL */
    const uint8_t *login_pk_next; /* a second accepted sign_pk (key rotation), or NULL */
    uint32_t clock_skew_s;        /* a ticket is accepted until expires_s + this */
    uint32_t replay_cache_max;    /* nonces remembered at once [0: 100000] */
    uint32_t ticket_max_life_s;   /* refuse a ticket expiring later than now + this [0: 3600] */
    int dev_role;                 /* PA_ROLE_* of a name-only (dev) login */
    /* crowds (issue 15; content/README.md, "Interest"); 0 = the default in brackets */
    uint32_t interest_full;      /* neighbours per player at full rate, nearest first [64] */
    int interest_full_unlimited; /* 1: every neighbour at full rate (interest_full ignored) */
    uint32_t interest_lod_ticks; /* far neighbours every N ticks, near ones every N/2 [20] */
    uint32_t interest_lod_max;   /* of those, at most this many per player per tick [32] */
    uint32_t tick_budget_ms;     /* a tick longer than this lowers the update rate [0: auto] */
    float view_slack;            /* visibility is recomputed after moving this far, or
                                  * interest_lod_ticks after a smaller move [0: every move] */
    uint32_t update_hz;          /* a zone's tick work (visibility, chat, entity_updates)
                                  * runs at this rate, tick numbers count tick_hz [tick_hz] */
    int encode_jobs;             /* 1: fan-out batches are encoded and sent by jobs on
                                  * other workers of the game queue */
} content_opts_t;

int content_world_create(const content_opts_t *o, content_world_t **out, char *err, size_t errlen);
/* Orderly stop: refuse new logins, save every online character in one
 * batch, tell players, stop zone timers, wait for the database to drain
 * (retrying saves up to db_shutdown_save_timeout_ms).  Sessions stay open
 * (the server closes them afterwards).  Returns the number of characters
 * whose save is NOT on disk (each one logged by name); 0 when all are. */
size_t content_world_shutdown(content_world_t *w);
/* Bytes still queued to online players (0 once notices are flushed). */
size_t content_unsent(content_world_t *w);
/* After the sessions are closed.  Waits for their logout saves (up to the
 * same deadline as shutdown), closes the database.  Returns the number of
 * characters whose last save is NOT on disk (each one logged by name). */
size_t content_world_destroy(content_world_t *w);

/* Player role handlers; role_ud must be the world. */
nc_handlers_t content_handlers(void);

/* Global chat: with a hook set (the chat-server client, issue 6), messages
 * go to it; otherwise they reach this shard only.  The hook returns 0 when
 * it took the message (the chat server relays it back to every shard, ours
 * included) and non-zero when it could not (chat server offline): content
 * then delivers the message on this shard and tells only the sender that it
 * stayed local.  The chat client calls content_deliver_global_chat() for
 * messages relayed from any shard.  The hook must not call back into
 * content.  content_set_global_chat_hook() returns only after a call of the
 * previous hook in progress (from any zone) has finished; from then on the
 * previous hook is never called, so its ud may be freed. */
typedef int (*content_global_chat_fn)(void *ud, const char *sender, const char *text);
void content_set_global_chat_hook(content_world_t *w, content_global_chat_fn fn, void *ud);
void content_deliver_global_chat(content_world_t *w, const char *shard, const char *sender,
                                 const char *text);

/* issue 16: whispers across shards (the chat bus, server/gs_bus_redis.c).
 * With a whisper hook set, a whisper to a name not online on this shard goes
 * to the hook (under the same lock as the global-chat hook, same rules: it
 * must not call back into content; content_set_whisper_hook waits out a call
 * in progress).  The hook returns 0 when it took the whisper: it then calls
 * content_whisper_result exactly once later (any thread), which echoes the
 * whisper to the sender (delivered) or answers NO_SUCH_PLAYER.  Non-zero:
 * the sender gets NO_SUCH_PLAYER at once, as without a hook. */
typedef int (*content_whisper_fn)(void *ud, uint64_t from_sid, const char *sender,
                                  const char *target, const char *text);
void content_set_whisper_hook(content_world_t *w, content_whisper_fn fn, void *ud);
void content_whisper_result(content_world_t *w, uint64_t from_sid, const char *sender,
                            const char *text, int delivered);
/* A whisper from another shard to a player here: 0 delivered, -1 not online. */
int content_deliver_whisper(content_world_t *w, const char *sender, const char *target,
                            const char *text);
/* Calls fn for each player in the world now (under the registry lock: fn
 * must not call into content); returns how many. */
size_t content_online_names(content_world_t *w, void (*fn)(void *ud, const char *name), void *ud);
/* Called (no content lock held; same rules as the hooks above) after a player
 * entered the world or left it, so a bus can update its presence keys at
 * once instead of at its next refresh.  NULL unsets. */
void content_set_presence_hook(content_world_t *w, void (*fn)(void *ud), void *ud);

#define CONTENT_TICK_BUCKETS 10
extern const double content_tick_bucket_ms[CONTENT_TICK_BUCKETS];

typedef struct content_zone_stats_s {
    uint16_t id;
    char name[33];
    uint32_t players;
    uint64_t ticks, tick_sum_us;
    uint64_t tick_buckets[CONTENT_TICK_BUCKETS]; /* cumulative, last is +Inf */
    /* players' requests (moves, pings, chat...): decoded to handled by the
     * zone, i.e. the game queue's and the zone strand's wait */
    uint64_t waits, wait_sum_us, wait_buckets[CONTENT_TICK_BUCKETS];
    uint64_t notifications;
    /* crowds (issue 15) */
    uint64_t updates, update_packets;    /* entity_updates entries / packets sent */
    uint64_t overruns;                   /* ticks over zones.tick_budget_ms */
    uint32_t update_divider;             /* updates go out every Nth tick now (1 = every tick) */
    uint64_t encode_jobs, encode_inline; /* fan-out batches run as game-queue jobs / on the
                                          * strand (queue full, or a synchronous tick) */
} content_zone_stats_t;

/* Ticket refusals by reason (gs_auth_tickets_rejected_total{reason}). */
#define CONTENT_TICKET_REASONS 8
extern const char *const content_ticket_reject_name[CONTENT_TICKET_REASONS];

typedef struct content_stats_s {
    uint32_t online;
    uint64_t logins, takeovers;
    uint64_t moves, moves_too_fast, moves_out_of_bounds, moves_bad_value;
    uint64_t bad_packets, chat_muted, queue_full;
    uint64_t db_ops, db_errors, db_total_us, db_buckets[8];
    uint64_t saves_batched;
    /* abuse limits (issue 12) */
    uint64_t requests_dropped, flood_warnings, kicked_flood;
    uint64_t refused_full, refused_prelogin, refused_per_ip;
    uint64_t login_timeouts, kicked_prelogin_packets, new_chars_refused;
    uint32_t prelogin; /* sessions not logged in yet, now */
    /* database faults and money checks */
    int db_up;                    /* 0 while operations fail and are being retried */
    uint64_t db_faults[6];        /* failed statements by kind: content_db_fault_name */
    uint64_t db_saves_pending;    /* characters whose save waits for the database */
    uint64_t db_requests_waiting; /* logins/gold changes waiting for the database */
    uint64_t db_retries, db_requests_timed_out, db_saves_lost;
    uint64_t money_range_refused; /* gold/item changes refused: amount or result overflows */
    /* accounts (issue 13) */
    uint64_t tickets_accepted;
    uint64_t tickets_rejected[CONTENT_TICKET_REASONS]; /* by content_ticket_reject_name */
    uint64_t not_owner;   /* logins refused: the character is another account's, or legacy */
    uint64_t not_allowed; /* privileged commands refused for the player's role */
    uint32_t replay_cache_size;
    /* issue 16: PostgreSQL connections re-established after a loss */
    uint64_t db_reconnects;
} content_stats_t;
extern const char *const content_db_fault_name[6]; /* busy locked readonly full ioerr other */
extern const double content_db_latency_bucket_ms[8];

void content_stats(content_world_t *w, content_stats_t *out);
/* Fills up to max zones; returns the number of zones. */
int content_zone_stats(content_world_t *w, content_zone_stats_t *out, int max);
uint32_t content_online(content_world_t *w);

/* ---- the operator's console (issue 14; world_admin.c) ----
 * Called from the server's admin jobs (any thread but a zone or db strand). */
/* Completion of an asynchronous console request: ok is 1 or 0 (failed,
 * text says why); text may hold several lines ('\n'), each free of other
 * control characters.  Runs once, on a content strand: it must not block. */
typedef void (*content_done_fn)(void *ud, int ok, const char *text);
/* Calls fn for every character in the world (name, zone id), under the
 * registry lock: fn must not call into content.  Returns how many. */
typedef void (*content_who_fn)(void *ud, const char *name, uint16_t zone);
uint32_t content_who(content_world_t *w, content_who_fn fn, void *ud);
/* Closes the session of character `name` (logged in or in the world) after
 * a fatal error NOT_ALLOWED whose text carries reason; its character is
 * saved as on any logout.  0, or -1 when nobody of that name is online. */
int content_kick(content_world_t *w, const char *name, const char *reason);
/* A notice (code 0) to every character in the world; returns how many. */
uint32_t content_announce(content_world_t *w, const char *text);
/* While on, logins are refused with SHUTTING_DOWN ("draining...") and the
 * players in the world keep playing; each change is told to them.
 * Returns the previous state. */
int content_set_draining(content_world_t *w, int on);
int content_draining(content_world_t *w);
/* Saves every character in the world now.  done runs once on the db strand
 * after the database acknowledged ("saved N characters", ok 1) or kept the
 * saves for a retry because it is unavailable (ok 0).  0, or -1 with err
 * (stopping, no database): done is not called. */
int content_save_all(content_world_t *w, content_done_fn done, void *ud, char *err, size_t errlen);
/* Re-reads and validates zones_file and applies the safe changes (zone
 * names, spawn points, portals) on each zone's strand; done runs once when
 * every zone has them, with one line per change.  -1 with err when the file
 * is bad or changes what needs a restart (zones added, removed or
 * reordered, a size): nothing is applied.  content/README.md, "Reloading zones". */
int content_reload_zones(content_world_t *w, content_done_fn done, void *ud, char *err,
                         size_t errlen);

#endif
