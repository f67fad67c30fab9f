/* gameserver configuration: defaults, gameserver.json (cJSON) and command-line
 * overrides.  Every key is a dotted path in one table (gs_config.c) that also
 * drives validation and the README's key list. */
#ifndef GS_CONFIG_H
#define GS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct gs_queue_cfg_s {
    int64_t max_threads;
    int64_t capacity;
} gs_queue_cfg_t;

typedef struct gs_config_s {
    char host[64];
    int64_t port;
    int64_t max_sessions;
    int64_t max_packet;
    int64_t max_send_bytes;
    int64_t idle_timeout_ms;
    int64_t max_input_bytes, max_input_stall_ms, packets_per_s, packets_burst;
    char metrics_host[64];
    int64_t metrics_port;
    char db_path[512];
    int64_t autosave_ms;
    /* database faults and durability (issue 12) */
    char db_synchronous[16]; /* "full" or "normal" */
    int64_t db_busy_timeout_ms, db_request_timeout_ms, db_max_waiting;
    int64_t db_shutdown_save_timeout_ms;
    char db_fault_file[512]; /* tests only */
    /* the character store's driver (issue 16) */
    char db_driver[16]; /* "sqlite" or "postgres" */
    char db_url[1024];  /* libpq conninfo or URL (postgres), no password */
    char log_level[16];
    int64_t io_threads;
    int io_preempt;     /* bool */
    char pool_mode[16]; /* "shared" or "separate" */
    int64_t pool_threads;
    gs_queue_cfg_t q_game, q_control, q_db;
    char zones_file[512]; /* "" until gs_config_resolve_paths: <data_dir>/zones.json */
    int64_t tick_hz;
    double view_radius;
    double max_speed;
    int interest; /* bool */
    double chat_per_s;
    double chat_burst;
    int64_t chat_mute_ms;
    char shard_name[32];
    int64_t shutdown_grace_ms;
    /* links to the chat and master servers (gs_links, issue 6) */
    char chat_host[64];
    int64_t chat_port; /* 0 = no chat link */
    char master_host[64];
    int64_t master_port; /* 0 = no master link */
    int64_t heartbeat_ms;
    char public_host[64]; /* player address announced to the master */
    /* abuse limits (issue 12; content/README.md, "Limits") */
    double budget_per_s, budget_burst;
    int64_t flood_warn_drops, flood_kick_s, who_max_names;
    int64_t login_timeout_ms, max_prelogin, max_per_ip, prelogin_packets;
    int64_t new_chars_per_min, new_chars_per_min_global;
    int exempt_loopback; /* bool */
    /* crowds (issue 15) */
    int64_t interest_full, interest_lod_ticks, tick_budget_ms;
    double view_slack;
    int64_t interest_lod_max;
    int64_t update_hz; /* 0 = tick_hz */
    int encode_jobs;   /* bool */
    /* outbound link connects (issue 12) */
    int64_t links_connect_timeout_ms;
    /* issue 12: shutdown deadline, metrics page limits */
    int64_t shutdown_timeout_ms; /* 0 = no deadline */
    int64_t metrics_max_conns;
    int64_t metrics_request_timeout_ms;
    /* issue 13: s2s link authentication (gs_peers.c, protocol/include/proto_s2s.h) */
    char links_secret_file[512];
    int links_insecure; /* bool */
    /* accounts and tickets (issue 13; server/README.md, "Accounts and tickets") */
    char auth_mode[16];                  /* "ticket" (default) or "dev" */
    char auth_login_public_key[72];      /* 64 hex digits: the login server's sign_pk */
    char auth_login_public_key_next[72]; /* a second accepted sign_pk (key rotation) */
    int64_t auth_clock_skew_s, auth_replay_cache_max;
    int64_t auth_ticket_max_life_s;
    char auth_dev_role[16]; /* role of a name-only login in dev mode */
    /* gameserver --claim-character NAME --account ID: not config keys */
    char claim_name[32];
    uint64_t claim_account;
    int claim_given, account_given;
    /* issue 14: the operator's console (gs_admin.c; server/README.md) */
    char admin_secret_file[512]; /* "" = console disabled */
    char admin_host[64];
    int64_t admin_port;
    int admin_allow_remote; /* bool */
    int64_t admin_max_conns, admin_idle_timeout_ms, admin_auth_timeout_ms, admin_max_line;
    /* issue 14: where the game data lives ("" until gs_config_resolve_paths:
     * ../share/gameserver next to the executable) */
    char data_dir[512];
    /* issue 16: the cross-shard chat bus (gs_peers.c, gs_bus_redis.c) */
    char chat_bus[16]; /* "chatserver" (default) or "redis" */
    char redis_host[64];
    int64_t redis_port;
    char redis_password_file[512]; /* "" = no AUTH */
    char redis_channel_prefix[64];
    int64_t redis_presence_ttl_s, redis_presence_refresh_ms;
    /* issue 16: more masters, "host:port,host:port" ("" = master.host only) */
    char master_extra[512];
    /* issue 15: online CPUs (nc_cpu_count() in gs_config_defaults; not a
     * key), what pool.threads and queues.game.max_threads 0 = auto size by */
    int cpus;
} gs_config_t;

/* issue 16: the masters a shard registers with, at most GS_MAX_MASTERS:
 * master.host:master.port (unless the port is 0), then master.extra's. */
#define GS_MAX_MASTERS 8
typedef struct gs_master_addr_s {
    char host[64];
    uint16_t port;
} gs_master_addr_t;
/* Parses them into out (n set): -1 with a message naming master.extra on a
 * malformed entry, a port out of 1..65535, a duplicate or more than
 * GS_MAX_MASTERS masters. */
int gs_config_masters(const gs_config_t *c, gs_master_addr_t out[GS_MAX_MASTERS], int *n, char *err,
                      size_t errlen);

void gs_config_defaults(gs_config_t *c);

/* issue 15: pool.threads and queues.game.max_threads default to 0 = auto.
 * The sizes in use: the game cap is c->cpus clamped to [GS_GAME_AUTO_MIN,
 * GS_GAME_AUTO_MAX] (more CPU-bound game workers than cores only time-slice
 * them), the pool the sum of the three queue caps; explicit values are
 * kept.  gs_config_validate and gs_jobs_create use this, and everything
 * that shows the configuration shows these values. */
#define GS_GAME_AUTO_MIN 2
#define GS_GAME_AUTO_MAX 4
typedef struct gs_pool_size_s {
    int64_t threads; /* shared mode: the pool's workers */
    int64_t game, db, control;
} gs_pool_size_t;
void gs_config_pool_size(const gs_config_t *c, gs_pool_size_t *out);
/* Applies a JSON document.  -1 with a message naming the key on an unknown
 * key, a wrong type or an out-of-range value. */
int gs_config_apply_json(gs_config_t *c, const char *json, char *err, size_t errlen);
int gs_config_load_file(gs_config_t *c, const char *path, char *err, size_t errlen);
/* Sets one dotted key from text ("listen.port", "7777"). */
int gs_config_set(gs_config_t *c, const char *key, const char *value, char *err, size_t errlen);
/* Parses argv: --config FILE first, then the other flags over it.
 * Returns 0, 1 when --help was printed, or -1 with err set. */
int gs_config_from_args(gs_config_t *c, int argc, char **argv, char *err, size_t errlen);
/* Checks across keys that need the whole configuration (run once every
 * file and flag was applied): in shared pool mode every queue must be able
 * to get a worker while all higher-priority queues run at their caps.
 * -1 with a message naming the keys. */
int gs_config_validate(const gs_config_t *c, char *err, size_t errlen);
/* auth.mode "ticket" needs auth.login_public_key: -1 with a message saying
 * where to get it (masterserver --show-keys).  Checked at start-up, not by
 * gs_config_from_args, so the offline --claim-character needs no key. */
int gs_config_check_auth(const gs_config_t *c, char *err, size_t errlen);
/* Issue 14: fills data_dir (when not configured: <dir of exe_path>/../share/
 * gameserver, the layout of `cmake --install` and of the build tree) and
 * zones.file (when not configured: <data_dir>/zones.json).  No path is
 * baked in at build time.  -1 with err when a path does not fit. */
int gs_config_resolve_paths(gs_config_t *c, const char *exe_path, char *err, size_t errlen);
/* Writes "key  type  default  range  description" lines (for --help). */
void gs_config_print_keys(void *file);

#endif
