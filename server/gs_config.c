/* Config table, JSON walker and flag parser.  A key is known only if it is
 * in `keys`; the walker rejects anything else, so typos never pass silently. */
#include "gs_config.h"

#include "netcore.h"
#include "proto_auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_INT, K_NUM, K_STR, K_BOOL } kind_t;

typedef struct key_s {
    const char *path;
    kind_t kind;
    size_t off, size; /* size: string buffer size */
    double lo, hi;
    const char *doc;
} key_t_;

#define OFF(f) offsetof(gs_config_t, f)
#define INT(p, f, lo, hi, doc)                                                                     \
    {                                                                                              \
        p, K_INT, OFF(f), 0, lo, hi, doc                                                           \
    }
#define NUM(p, f, lo, hi, doc)                                                                     \
    {                                                                                              \
        p, K_NUM, OFF(f), 0, lo, hi, doc                                                           \
    }
#define STR(p, f, doc)                                                                             \
    {                                                                                              \
        p, K_STR, OFF(f), sizeof(((gs_config_t *)0)->f), 1, 0, doc                                 \
    }
#define BOOL(p, f, doc)                                                                            \
    {                                                                                              \
        p, K_BOOL, OFF(f), 0, 0, 1, doc                                                            \
    }

static const key_t_ keys[] = {
    STR("listen.host", host, "address players connect to"),
    INT("listen.port", port, 0, 65535, "player port (0 = pick a free one)"),
    INT("listen.max_sessions", max_sessions, 1, 1000000, "live player connections"),
    INT("listen.max_packet", max_packet, 64, 65535, "largest packet accepted, bytes"),
    INT("listen.max_send_bytes", max_send_bytes, 4096, 1 << 30, "unsent bytes per session"),
    INT("listen.idle_timeout_ms", idle_timeout_ms, 0, 86400000, "close idle sessions (0 = off)"),
    INT("listen.max_input_bytes", max_input_bytes, 4096, 1 << 30,
        "admitted, unhandled input per session before it alone stops being read"),
    INT("listen.max_input_stall_ms", max_input_stall_ms, 0, 86400000,
        "close a session stuck at its input bound this long (0 = never)"),
    INT("listen.packets_per_s", packets_per_s, 0, 1000000,
        "packets a session may send per second before its reads pause (0 = no limit)"),
    INT("listen.packets_burst", packets_burst, 0, 1000000, "packet rate burst (0 = one second)"),
    STR("metrics.host", metrics_host, "metrics HTTP address (loopback by default)"),
    INT("metrics.port", metrics_port, -1, 65535, "metrics port (0 = pick, -1 = disabled)"),
    STR("database.path", db_path, "SQLite file"),
    INT("database.autosave_ms", autosave_ms, 100, 3600000, "position autosave interval"),
    STR("database.synchronous", db_synchronous, "\"full\" (acknowledged = on disk) or \"normal\""),
    INT("database.busy_timeout_ms", db_busy_timeout_ms, 1, 10000, "one statement's lock wait"),
    INT("database.request_timeout_ms", db_request_timeout_ms, 100, 600000,
        "a login or gold change waits this long for an unavailable database"),
    INT("database.max_waiting", db_max_waiting, 1, 1000000, "requests waiting for the database"),
    INT("database.shutdown_save_timeout_ms", db_shutdown_save_timeout_ms, 100, 86400000,
        "shutdown retries unsaved characters this long, then exits 1"),
    STR("database.fault_file", db_fault_file, "tests only: fault named in this file, if it exists"),
    /* issue 16: the character store's driver */
    STR("database.driver", db_driver, "\"sqlite\" (database.path) or \"postgres\" (database.url)"),
    STR("database.url", db_url, "libpq conninfo or URL (postgres); passwords in a passfile"),
    STR("log.level", log_level, "trace, debug, info, warn, error, off"),
    INT("engine.io_threads", io_threads, 1, 64, "I/O threads"),
    BOOL("engine.io_preempt", io_preempt,
         "I/O threads may preempt workers (Linux; false = SCHED_BATCH)"),
    STR("pool.mode", pool_mode, "\"shared\" (one pool, capped queues) or \"separate\""),
    INT("pool.threads", pool_threads, 0, 256,
        "workers of the shared pool (0 = auto: the sum of the queue caps)"),
    INT("queues.game.max_threads", q_game.max_threads, 0, 256,
        "game queue thread cap (0 = auto: the online CPUs, clamped to 2..4)"),
    INT("queues.game.capacity", q_game.capacity, 16, 1 << 24, "game queue pending jobs"),
    INT("queues.control.max_threads", q_control.max_threads, 1, 256, "control queue cap"),
    INT("queues.control.capacity", q_control.capacity, 16, 1 << 24, "control pending jobs"),
    INT("queues.db.max_threads", q_db.max_threads, 1, 256, "db queue cap (one connection)"),
    INT("queues.db.capacity", q_db.capacity, 16, 1 << 24, "db pending jobs"),
    STR("zones.file", zones_file, "zone content file (JSON); \"\" = <data_dir>/zones.json"),
    INT("zones.tick_hz", tick_hz, 1, 1000, "zone tick rate"),
    NUM("zones.view_radius", view_radius, 1, 100000, "interest radius = grid cell size"),
    NUM("zones.max_speed", max_speed, 0.1, 100000, "units per second before correction"),
    BOOL("zones.interest", interest, "grid interest management (false = zone-wide)"),
    INT("zones.interest_full", interest_full, 0, 512,
        "neighbours per player updated every tick, nearest first (0 = all)"),
    INT("zones.interest_lod_ticks", interest_lod_ticks, 2, 1000,
        "the other neighbours: far ones every N ticks, near ones every N/2"),
    INT("zones.interest_lod_max", interest_lod_max, 1, 512,
        "reduced-rate positions per player per tick, at most"),
    NUM("zones.view_slack", view_slack, 0, 100000,
        "visibility recomputed after moving this far (0 = on every move)"),
    INT("zones.tick_budget_ms", tick_budget_ms, 0, 60000,
        "a zone tick over this lowers the update rate (0 = auto: busy zones share 3/4 of the "
        "CPUs)"),
    INT("zones.update_hz", update_hz, 0, 1000,
        "visibility, zone chat and entity_updates per second (0 = tick_hz)"),
    BOOL("zones.encode_jobs", encode_jobs,
         "entity_updates encoded and sent by jobs on other game workers"),
    NUM("chat.rate_per_s", chat_per_s, 0.01, 1000, "chat messages per second"),
    NUM("chat.burst", chat_burst, 1, 1000, "chat burst before muting"),
    INT("chat.mute_ms", chat_mute_ms, 0, 86400000, "mute duration for flooders"),
    STR("shard.name", shard_name, "this shard's name (chat, master)"),
    INT("shutdown.grace_ms", shutdown_grace_ms, 0, 60000, "time to flush notices on stop"),
    STR("chat.host", chat_host, "chat server address"),
    INT("chat.port", chat_port, 0, 65535, "chat server port (0 = no global chat link)"),
    STR("master.host", master_host, "master server address"),
    INT("master.port", master_port, 0, 65535, "master server port (0 = do not register)"),
    INT("master.heartbeat_ms", heartbeat_ms, 10, 600000, "heartbeat interval to the master"),
    STR("shard.public_host", public_host, "player address announced to the master"),
    /* abuse limits (issue 12) */
    NUM("limits.budget_per_s", budget_per_s, 0, 1e6, "request budget units per second (0 = off)"),
    NUM("limits.budget_burst", budget_burst, 20, 1e6, "request budget a player may save up"),
    INT("limits.flood_warn_drops", flood_warn_drops, 1, 1000000,
        "dropped requests in a second that earn a warning"),
    INT("limits.flood_kick_s", flood_kick_s, 0, 3600,
        "seconds of warned abuse before a kick (0 = never)"),
    INT("limits.who_max_names", who_max_names, 1, 64, "names per who_response"),
    INT("limits.login_timeout_ms", login_timeout_ms, 0, 3600000,
        "connect to successful login (0 = off)"),
    INT("limits.max_prelogin", max_prelogin, 0, 1000000,
        "connections not logged in yet (0 = no cap)"),
    INT("limits.max_per_ip", max_per_ip, 0, 1000000, "of those, per source address (0 = no cap)"),
    INT("limits.prelogin_packets", prelogin_packets, 0, 1000000,
        "game packets before entering the world, then close (0 = never close)"),
    INT("limits.new_characters_per_min", new_chars_per_min, 0, 1000000,
        "new characters per source address (0 = no limit)"),
    INT("limits.new_characters_per_min_global", new_chars_per_min_global, 0, 1000000,
        "new characters on the shard (0 = no limit)"),
    BOOL("limits.exempt_loopback", exempt_loopback,
         "per-address limits skip 127.0.0.0/8 and ::1 (a local proxy, tests)"),
    INT("links.connect_timeout_ms", links_connect_timeout_ms, 100, 600000,
        "chat/master connect attempt timeout, then back-off"),
    INT("shutdown.timeout_ms", shutdown_timeout_ms, 0, 3600000,
        "deadline for the whole orderly stop, then exit 3 (0 = none)"),
    INT("metrics.max_connections", metrics_max_conns, 1, 1024,
        "concurrent metrics connections (oldest unfinished request evicted)"),
    INT("metrics.request_timeout_ms", metrics_request_timeout_ms, 100, 60000,
        "accept to complete request, then closed"),
    /* issue 13: s2s link authentication */
    STR("links.secret_file", links_secret_file,
        "file whose first line is the chat/master links' shared secret (>= 16 bytes)"),
    BOOL("links.insecure", links_insecure,
         "links without authentication (development only; the peers must agree)"),
    /* accounts and tickets (issue 13) */
    STR("auth.mode", auth_mode,
        "\"ticket\" (a login needs a login-server ticket) or \"dev\" (name only: anyone "
        "can log in as anyone)"),
    STR("auth.login_public_key", auth_login_public_key,
        "the login server's sign_pk, 64 hex (masterserver --show-keys); required in ticket mode"),
    STR("auth.login_public_key_next", auth_login_public_key_next,
        "a second sign_pk accepted as well, for key rotation (64 hex; empty = none)"),
    INT("auth.clock_skew_s", auth_clock_skew_s, 0, 3600,
        "a ticket is accepted this long past its expiry (clock differences)"),
    INT("auth.replay_cache_max", auth_replay_cache_max, 1, 10000000,
        "ticket nonces remembered at once (until expiry); full: new logins refused"),
    INT("auth.ticket_max_lifetime_s", auth_ticket_max_life_s, 5, 86400,
        "a ticket expiring further ahead than this (plus the skew) is refused"),
    STR("auth.dev_role", auth_dev_role, "role of a name-only login in dev mode: player, gm, admin"),
    /* issue 14: the operator's console (gs_admin.c) */
    STR("admin.secret_file", admin_secret_file,
        "file whose first line is the console secret (unset = console disabled)"),
    STR("admin.host", admin_host, "console address (loopback unless admin.allow_remote)"),
    INT("admin.port", admin_port, 0, 65535, "console port (0 = pick a free one)"),
    BOOL("admin.allow_remote", admin_allow_remote, "allow a non-loopback admin.host"),
    INT("admin.max_connections", admin_max_conns, 1, 64, "concurrent console connections"),
    INT("admin.idle_timeout_ms", admin_idle_timeout_ms, 1000, 86400000,
        "close a console connection idle this long"),
    INT("admin.auth_timeout_ms", admin_auth_timeout_ms, 100, 600000,
        "connect to the auth line, then closed"),
    INT("admin.max_line", admin_max_line, 64, 65536, "longest console line, bytes"),
    /* issue 14: install layout */
    STR("data_dir", data_dir,
        "game data directory; \"\" = ../share/gameserver next to the executable"),
    /* issue 16: the cross-shard chat bus */
    STR("chat.bus", chat_bus, "\"chatserver\" (chat.host/port) or \"redis\" (redis.*)"),
    STR("redis.host", redis_host, "Redis address (chat.bus redis)"),
    INT("redis.port", redis_port, 1, 65535, "Redis port"),
    STR("redis.password_file", redis_password_file,
        "file whose first line is the Redis AUTH password (unset = no AUTH)"),
    STR("redis.channel_prefix", redis_channel_prefix,
        "prefix of every Redis channel and key (one realm per prefix)"),
    INT("redis.presence_ttl_s", redis_presence_ttl_s, 1, 86400,
        "a player's presence key expires this long after the shard's last refresh"),
    INT("redis.presence_refresh_ms", redis_presence_refresh_ms, 100, 3600000,
        "presence refresh interval (well below the ttl)"),
    /* issue 16: several login servers (docs/scale-out.md) */
    STR("master.extra", master_extra,
        "more masters to register with, \"host:port,host:port\" (master.host first; "
        "at most 8 in all)"),
};
#define NKEYS (sizeof keys / sizeof keys[0])

void gs_config_defaults(gs_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "0.0.0.0");
    c->port = 7777;
    c->max_sessions = 10000;
    c->max_packet = 4096;
    c->max_send_bytes = 1 << 20;
    c->idle_timeout_ms = 120000;
    c->max_input_bytes = 64 << 10;
    c->max_input_stall_ms = 30000;
    c->packets_per_s = 300;
    c->packets_burst = 600;
    snprintf(c->metrics_host, sizeof c->metrics_host, "127.0.0.1");
    c->metrics_port = 9177;
    snprintf(c->db_path, sizeof c->db_path, "gameserver.db");
    c->autosave_ms = 30000;
    snprintf(c->db_synchronous, sizeof c->db_synchronous, "full");
    snprintf(c->db_driver, sizeof c->db_driver, "sqlite");
    c->db_busy_timeout_ms = 100;
    c->db_request_timeout_ms = 5000;
    c->db_max_waiting = 4096;
    c->db_shutdown_save_timeout_ms = 20000; /* inside shutdown.timeout_ms (30 s) */
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->io_threads = 1;
    snprintf(c->pool_mode, sizeof c->pool_mode, "shared");
    c->pool_threads = 0;                    /* auto: game + db + control, nothing starves */
    c->q_game = (gs_queue_cfg_t){0, 65536}; /* auto: CPUs clamped to 2..4 */
    c->q_control = (gs_queue_cfg_t){1, 4096};
    c->q_db = (gs_queue_cfg_t){1, 65536};
    c->tick_hz = 20;
    c->view_radius = 50;
    c->max_speed = 10;
    c->interest = 1;
    c->interest_full = 64;
    c->interest_lod_ticks = 20;
    c->tick_budget_ms = 0;
    c->view_slack = 3;
    c->interest_lod_max = 32;
    c->update_hz = 10;
    c->chat_per_s = 1;
    c->chat_burst = 5;
    c->chat_mute_ms = 10000;
    snprintf(c->shard_name, sizeof c->shard_name, "shard-1");
    c->shutdown_grace_ms = 1000;
    snprintf(c->chat_host, sizeof c->chat_host, "127.0.0.1");
    c->chat_port = 7001;
    snprintf(c->master_host, sizeof c->master_host, "127.0.0.1");
    c->master_port = 7000;
    c->heartbeat_ms = 1000;
    snprintf(c->public_host, sizeof c->public_host, "127.0.0.1");
    c->budget_per_s = 60;
    c->budget_burst = 120;
    c->flood_warn_drops = 10;
    c->flood_kick_s = 5;
    c->who_max_names = 50;
    c->login_timeout_ms = 10000;
    c->max_prelogin = 1000;
    c->max_per_ip = 32;
    c->prelogin_packets = 3;
    c->new_chars_per_min = 60;
    c->new_chars_per_min_global = 1200;
    c->exempt_loopback = 1;
    c->links_connect_timeout_ms = 5000;
    c->shutdown_timeout_ms = 30000;
    c->metrics_max_conns = 16;
    c->metrics_request_timeout_ms = 2000;
    snprintf(c->auth_mode, sizeof c->auth_mode, "ticket");
    c->auth_clock_skew_s = 5;
    c->auth_replay_cache_max = 100000;
    c->auth_ticket_max_life_s = 3600;
    snprintf(c->auth_dev_role, sizeof c->auth_dev_role, "gm");
    snprintf(c->admin_host, sizeof c->admin_host, "127.0.0.1");
    c->admin_port = 9178;
    c->admin_max_conns = 4;
    c->admin_idle_timeout_ms = 600000;
    c->admin_auth_timeout_ms = 5000;
    c->admin_max_line = 1024;
    snprintf(c->chat_bus, sizeof c->chat_bus, "chatserver");
    snprintf(c->redis_host, sizeof c->redis_host, "127.0.0.1");
    c->redis_port = 6379;
    snprintf(c->redis_channel_prefix, sizeof c->redis_channel_prefix, "mmo.");
    c->redis_presence_ttl_s = 30;
    c->redis_presence_refresh_ms = 10000;
    c->cpus = nc_cpu_count();
}

void gs_config_pool_size(const gs_config_t *c, gs_pool_size_t *out)
{
    int64_t cpus = c->cpus;
    out->game = c->q_game.max_threads;
    if (out->game == 0)
        out->game = cpus < GS_GAME_AUTO_MIN   ? GS_GAME_AUTO_MIN
                    : cpus > GS_GAME_AUTO_MAX ? GS_GAME_AUTO_MAX
                                              : cpus;
    out->db = c->q_db.max_threads;
    out->control = c->q_control.max_threads;
    /* each cap is at most 256 (the key table), the sum cannot overflow */
    out->threads = c->pool_threads ? c->pool_threads : out->game + out->db + out->control;
}

static const key_t_ *find_key(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

static int is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.')
            return 1;
    return 0;
}

static int set_num(gs_config_t *c, const key_t_ *k, double v, char *err, size_t errlen)
{
    if (!isfinite(v) || v < k->lo || v > k->hi || (k->kind == K_INT && v != floor(v))) {
        snprintf(err, errlen, "config key '%s': value %g out of range [%g, %g]%s", k->path, v,
                 k->lo, k->hi, k->kind == K_INT ? " (integer)" : "");
        return -1;
    }
    if (k->kind == K_INT)
        *(int64_t *)((char *)c + k->off) = (int64_t)v;
    else
        *(double *)((char *)c + k->off) = v;
    return 0;
}

static int set_str(gs_config_t *c, const key_t_ *k, const char *s, char *err, size_t errlen)
{
    if (strlen(s) + 1 > k->size || !*s) {
        snprintf(err, errlen, "config key '%s': string empty or longer than %zu", k->path,
                 k->size - 1);
        return -1;
    }
    memcpy((char *)c + k->off, s, strlen(s) + 1);
    return 0;
}

static int apply_leaf(gs_config_t *c, const key_t_ *k, const cJSON *v, char *err, size_t errlen)
{
    static const char *const names[] = {"an integer", "a number", "a string", "a boolean"};
    int ok = (k->kind == K_STR && cJSON_IsString(v)) || (k->kind == K_BOOL && cJSON_IsBool(v)) ||
             ((k->kind == K_INT || k->kind == K_NUM) && cJSON_IsNumber(v));
    if (!ok) {
        snprintf(err, errlen, "config key '%s': wrong type, expected %s", k->path, names[k->kind]);
        return -1;
    }
    if (k->kind == K_STR)
        return set_str(c, k, v->valuestring, err, errlen);
    if (k->kind == K_BOOL) {
        *(int *)((char *)c + k->off) = cJSON_IsTrue(v);
        return 0;
    }
    return set_num(c, k, v->valuedouble, err, errlen);
}

static int walk(gs_config_t *c, const cJSON *obj, const char *prefix, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", it->string);
        const key_t_ *k = find_key(path);
        int rc;
        if (k)
            rc = apply_leaf(c, k, it, err, errlen);
        else if (is_section(path) && cJSON_IsObject(it))
            rc = walk(c, it, path, err, errlen);
        else {
            snprintf(err, errlen, "config key '%s': %s", path,
                     is_section(path) ? "wrong type, expected an object" : "unknown key");
            rc = -1;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_auth_keys(const gs_config_t *c, char *err, size_t errlen)
{
    uint8_t pk[PA_SIGN_PK_BYTES];
    if (strcmp(c->auth_mode, "ticket") != 0 && strcmp(c->auth_mode, "dev") != 0) {
        snprintf(err, errlen, "config key 'auth.mode': must be \"ticket\" or \"dev\"");
        return -1;
    }
    if (pa_role_parse(c->auth_dev_role) < 0) {
        snprintf(err, errlen, "config key 'auth.dev_role': must be player, gm or admin");
        return -1;
    }
    if (c->auth_login_public_key[0] && (strlen(c->auth_login_public_key) != PA_KEY_HEX_LEN ||
                                        pa_unhex(c->auth_login_public_key, pk, sizeof pk) != 0)) {
        snprintf(err, errlen,
                 "config key 'auth.login_public_key': expected 64 hex digits (the sign_pk line "
                 "of `masterserver --show-keys`)");
        return -1;
    }
    if (c->auth_login_public_key_next[0] &&
        (!c->auth_login_public_key[0] || strlen(c->auth_login_public_key_next) != PA_KEY_HEX_LEN ||
         pa_unhex(c->auth_login_public_key_next, pk, sizeof pk) != 0)) {
        snprintf(err, errlen,
                 "config key 'auth.login_public_key_next': expected 64 hex digits, and "
                 "auth.login_public_key set too");
        return -1;
    }
    return 0;
}

int gs_config_check_auth(const gs_config_t *c, char *err, size_t errlen)
{
    if (strcmp(c->auth_mode, "ticket") != 0 || c->auth_login_public_key[0])
        return 0;
    snprintf(err, errlen,
             "auth.mode is \"ticket\" (the default) but auth.login_public_key is not set: the "
             "gameserver cannot verify login tickets without it.  Run `masterserver --show-keys` "
             "on the login server and put its sign_pk (64 hex) in auth.login_public_key, or set "
             "auth.mode to \"dev\" for a local test shard (anyone can log in as anyone)");
    return -1;
}

static int check_cross(const gs_config_t *c, char *err, size_t errlen)
{
    nc_log_level_t lvl;
    if (nc_log_level_parse(c->log_level, &lvl) != 0) {
        snprintf(err, errlen, "config key 'log.level': unknown level '%s'", c->log_level);
        return -1;
    }
    if (strcmp(c->db_synchronous, "full") != 0 && strcmp(c->db_synchronous, "normal") != 0) {
        snprintf(err, errlen, "config key 'database.synchronous': must be \"full\" or \"normal\"");
        return -1;
    }
    if (strcmp(c->db_driver, "sqlite") != 0 && strcmp(c->db_driver, "postgres") != 0) {
        snprintf(err, errlen, "config key 'database.driver': must be \"sqlite\" or \"postgres\"");
        return -1;
    }
    if (strcmp(c->pool_mode, "shared") != 0 && strcmp(c->pool_mode, "separate") != 0) {
        snprintf(err, errlen, "config key 'pool.mode': must be \"shared\" or \"separate\"");
        return -1;
    }
    return check_auth_keys(c, err, errlen);
}

/* A literal loopback address: a dotted quad 127.a.b.c or ::1.  Names
 * (even "localhost") are not trusted: they resolve to whatever the
 * resolver says. */
static int host_is_loopback(const char *h)
{
    if (strcmp(h, "::1") == 0)
        return 1;
    unsigned o[4];
    char tail;
    if (sscanf(h, "%3u.%3u.%3u.%3u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4)
        return 0;
    for (const char *p = h; *p; p++)
        if ((*p < '0' || *p > '9') && *p != '.')
            return 0;
    return o[0] == 127 && o[1] < 256 && o[2] < 256 && o[3] < 256;
}

/* issue 16: one master.extra entry, [start, end): "host:port" or
 * "[v6]:port"; host of letters, digits, '.', '-', ':' only (it becomes a
 * metrics label).  0 or -1 with err. */
static int parse_master(const char *start, const char *end, gs_master_addr_t *out, char *err,
                        size_t errlen)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    int len = (int)(end - start);
    const char *colon = NULL;
    for (const char *p = start; p < end; p++)
        if (*p == ':')
            colon = p;
    const char *h = start, *he = colon;
    if (colon && colon > h + 1 && *h == '[' && colon[-1] == ']') {
        h++;
        he--;
    }
    unsigned long port = 0;
    int digits = 0;
    for (const char *p = colon ? colon + 1 : end; p < end && port <= 65535; p++, digits++)
        port = (*p >= '0' && *p <= '9') ? port * 10 + (unsigned long)(*p - '0') : 65536;
    int ok = colon && he > h && (size_t)(he - h) < sizeof out->host && digits > 0 && port >= 1 &&
             port <= 65535;
    for (const char *p = h; ok && p < he; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '-' || *p == ':';
    if (!ok) {
        snprintf(err, errlen,
                 "config key 'master.extra': '%.*s' is not host:port (a port 1-65535; a host "
                 "of letters, digits, '.', '-', ':', at most %zu; IPv6 as [addr]:port)",
                 len > 80 ? 80 : len, start, sizeof out->host - 1);
        return -1;
    }
    memcpy(out->host, h, (size_t)(he - h));
    out->host[he - h] = 0;
    out->port = (uint16_t)port;
    return 0;
}

int gs_config_masters(const gs_config_t *c, gs_master_addr_t out[GS_MAX_MASTERS], int *n, char *err,
                      size_t errlen)
{
    *n = 0;
    if (c->master_port != 0 && c->master_host[0]) {
        snprintf(out[0].host, sizeof out[0].host, "%s", c->master_host);
        out[0].port = (uint16_t)c->master_port;
        *n = 1;
    }
    for (const char *p = c->master_extra; *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        if (*n == GS_MAX_MASTERS) {
            snprintf(err, errlen,
                     "config key 'master.extra': more than %d masters in all (master.host and "
                     "master.extra)",
                     GS_MAX_MASTERS);
            return -1;
        }
        if (parse_master(p, end, &out[*n], err, errlen) != 0)
            return -1;
        for (int i = 0; i < *n; i++)
            if (out[i].port == out[*n].port && strcmp(out[i].host, out[*n].host) == 0) {
                snprintf(err, errlen, "config key 'master.extra': %s:%u is listed twice%s",
                         out[*n].host, (unsigned)out[*n].port,
                         i == 0 && c->master_port != 0 ? " (it is master.host:master.port)" : "");
                return -1;
            }
        ++*n;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* Strict priority (game > db > control, main.c): a free worker goes to the
 * highest-priority queue below its cap, so a queue is served under load
 * only if the caps of the queues above it leave a worker. */
int gs_config_validate(const gs_config_t *c, char *err, size_t errlen)
{
    /* here, not in check_cross: --set database.driver may come before the url */
    if (strcmp(c->db_driver, "postgres") == 0 && !c->db_url[0]) {
        snprintf(err, errlen,
                 "config key 'database.driver' is \"postgres\" but 'database.url' is empty (a "
                 "libpq conninfo or URL, e.g. \"postgresql://game@db-host/shard_a\")");
        return -1;
    }
    gs_master_addr_t masters[GS_MAX_MASTERS];
    int n_masters;
    if (gs_config_masters(c, masters, &n_masters, err, errlen) != 0)
        return -1;
    if (strcmp(c->chat_bus, "chatserver") != 0 && strcmp(c->chat_bus, "redis") != 0) {
        snprintf(err, errlen, "config key 'chat.bus': must be \"chatserver\" or \"redis\"");
        return -1;
    }
    if (strcmp(c->chat_bus, "redis") == 0 &&
        c->redis_presence_refresh_ms >= c->redis_presence_ttl_s * 1000) {
        snprintf(err, errlen,
                 "config key 'redis.presence_refresh_ms': must be below redis.presence_ttl_s");
        return -1;
    }
    if (c->admin_secret_file[0] && !c->admin_allow_remote && !host_is_loopback(c->admin_host)) {
        snprintf(err, errlen,
                 "config key 'admin.host': '%s' is not a loopback address (127.x.x.x or ::1); "
                 "the console is local-only unless 'admin.allow_remote' is true",
                 c->admin_host);
        return -1;
    }
    if (strcmp(c->pool_mode, "shared") != 0)
        return 0; /* separate: a pool per queue, nobody shares */
    gs_pool_size_t ps;
    gs_config_pool_size(c, &ps);
    long long t = ps.threads, g = ps.game, d = ps.db;
    if (t > 256) { /* auto only: an explicit pool.threads is range-checked */
        snprintf(err, errlen,
                 "config key 'pool.threads' is auto (0): the sum of 'queues.game.max_threads' "
                 "(%lld), 'queues.db.max_threads' (%lld) and 'queues.control.max_threads' "
                 "(%lld) is %lld, above 256; lower the caps or set pool.threads",
                 g, d, (long long)ps.control, t);
        return -1;
    }
    if (g >= t) {
        snprintf(err, errlen,
                 "config keys 'queues.game.max_threads' (%lld) and 'pool.threads' (%lld): in "
                 "shared mode the game cap must be below the pool's threads, or the 'db' and "
                 "'control' queues (saves, logins, master heartbeats) get no worker while "
                 "the game queue is busy",
                 g, t);
        return -1;
    }
    if (g + d >= t) {
        snprintf(err, errlen,
                 "config keys 'queues.game.max_threads' (%lld) + 'queues.db.max_threads' "
                 "(%lld) and 'pool.threads' (%lld): in shared mode their sum must be below the "
                 "pool's threads, or the 'control' queue (chat and master links) gets no "
                 "worker while game and db are busy",
                 g, d, t);
        return -1;
    }
    return 0;
}

int gs_config_apply_json(gs_config_t *c, const char *json, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(err, errlen, "config: not a JSON object (near: %.20s)", at ? at : "?");
        cJSON_Delete(root);
        return -1;
    }
    int rc = walk(c, root, "", err, errlen);
    cJSON_Delete(root);
    return rc == 0 ? check_cross(c, err, errlen) : rc;
}

int gs_config_set(gs_config_t *c, const char *key, const char *value, char *err, size_t errlen)
{
    const key_t_ *k = find_key(key);
    if (!k) {
        snprintf(err, errlen, "config key '%s': unknown key", key);
        return -1;
    }
    if (k->kind == K_STR)
        return set_str(c, k, value, err, errlen) != 0 ? -1 : check_cross(c, err, errlen);
    if (k->kind == K_BOOL) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            snprintf(err, errlen, "config key '%s': wrong type, expected true/false", key);
            return -1;
        }
        *(int *)((char *)c + k->off) = value[0] == 't';
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno) {
        snprintf(err, errlen, "config key '%s': wrong type, expected a number", key);
        return -1;
    }
    return set_num(c, k, v, err, errlen);
}

int gs_config_load_file(gs_config_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "config: %s is empty", path);
        return -1;
    }
    buf[len] = 0;
    int rc = gs_config_apply_json(c, buf, err, errlen);
    free(buf);
    return rc;
}

/* Flags that are shorthands for one key. */
static const struct {
    const char *flag, *key;
} flag_keys[] = {
    {"--port", "listen.port"},          {"--host", "listen.host"},
    {"--db", "database.path"},          {"--log-level", "log.level"},
    {"--metrics-port", "metrics.port"}, {"--zones", "zones.file"},
    {"--shard", "shard.name"},          {"--chat-port", "chat.port"},
    {"--master-port", "master.port"},
};
#define NFLAGS (sizeof flag_keys / sizeof flag_keys[0])

static void usage(void)
{
    printf("usage: gameserver [--config FILE] [--port N] [--host ADDR] [--db PATH]\n"
           "                  [--log-level LVL] [--metrics-port N] [--zones FILE]\n"
           "                  [--shard NAME] [--chat-port N] [--master-port N]\n"
           "                  [--set KEY=VALUE]... [--help]\n"
           "       gameserver --claim-character NAME --account ID [--config FILE] [--db PATH]\n"
           "                  (offline: gives a legacy character to an account, then exits)\n"
           "Flags override the config file. Keys (dotted paths in gameserver.json):\n");
    gs_config_print_keys(stdout);
}

/* --claim-character NAME --account ID (gs_auth.c runs the claim). */
static int claim_flag(gs_config_t *c, const char *flag, const char *val, char *err, size_t errlen)
{
    if (strcmp(flag, "--claim-character") == 0) {
        if (strlen(val) < 2 || strlen(val) >= sizeof c->claim_name) {
            snprintf(err, errlen, "--claim-character: names are 2-24 characters");
            return -1;
        }
        snprintf(c->claim_name, sizeof c->claim_name, "%s", val);
        c->claim_given = 1;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(val, &end, 10);
    if (val[0] < '0' || val[0] > '9' || end == val || *end || errno == ERANGE) {
        snprintf(err, errlen, "--account: expected an account id (a whole number), got '%s'", val);
        return -1;
    }
    c->claim_account = id;
    c->account_given = 1;
    return 0;
}

static int apply_flag(gs_config_t *c, const char *flag, const char *val, char *err, size_t errlen)
{
    if (strcmp(flag, "--claim-character") == 0 || strcmp(flag, "--account") == 0)
        return claim_flag(c, flag, val, err, errlen);
    if (strcmp(flag, "--set") == 0) {
        const char *eq = strchr(val, '=');
        char key[128];
        if (!eq || (size_t)(eq - val) >= sizeof key) {
            snprintf(err, errlen, "--set expects KEY=VALUE, got '%s'", val);
            return -1;
        }
        memcpy(key, val, (size_t)(eq - val));
        key[eq - val] = 0;
        return gs_config_set(c, key, eq + 1, err, errlen);
    }
    for (size_t i = 0; i < NFLAGS; i++)
        if (strcmp(flag, flag_keys[i].flag) == 0)
            return gs_config_set(c, flag_keys[i].key, val, err, errlen);
    snprintf(err, errlen, "unknown option '%s' (see --help)", flag);
    return -1;
}

int gs_config_from_args(gs_config_t *c, int argc, char **argv, char *err, size_t errlen)
{
    gs_config_defaults(c);
    /* flags come in pairs: --config first, so flags override the file */
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 1;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "option '%s' needs a value", argv[i]);
            return -1;
        }
        if (strcmp(argv[i], "--config") == 0 &&
            gs_config_load_file(c, argv[i + 1], err, errlen) != 0)
            return -1;
    }
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--config") != 0 && apply_flag(c, argv[i], argv[i + 1], err, errlen))
            return -1;
    if (c->claim_given != c->account_given) {
        snprintf(err, errlen, "--claim-character NAME and --account ID go together");
        return -1;
    }
    return gs_config_validate(c, err, errlen);
}

void gs_config_print_keys(void *file)
{
    static const char *const kn[] = {"int", "number", "string", "bool"};
    gs_config_t d;
    gs_config_defaults(&d);
    gs_pool_size_t ps; /* issue 15: the auto sizes, as resolved here */
    gs_config_pool_size(&d, &ps);
    for (size_t i = 0; i < NKEYS; i++) {
        const key_t_ *k = &keys[i];
        const char *p = (const char *)&d + k->off;
        char def[600];
        if (k->kind == K_INT)
            snprintf(def, sizeof def, "%lld", (long long)*(const int64_t *)p);
        else if (k->kind == K_NUM)
            snprintf(def, sizeof def, "%g", *(const double *)p);
        else if (k->kind == K_BOOL)
            snprintf(def, sizeof def, "%s", *(const int *)p ? "true" : "false");
        else
            snprintf(def, sizeof def, "\"%s\"", p);
        if (k->off == OFF(pool_threads) || k->off == OFF(q_game.max_threads))
            snprintf(def, sizeof def, "0 (auto: %lld on this machine, %d CPUs)",
                     (long long)(k->off == OFF(pool_threads) ? ps.threads : ps.game), d.cpus);
        fprintf(file, "  %-28s %-7s default %s  -- %s\n", k->path, kn[k->kind], def, k->doc);
    }
}

int gs_config_resolve_paths(gs_config_t *c, const char *exe_path, char *err, size_t errlen)
{
    if (!c->data_dir[0]) {
        const char *a = strrchr(exe_path, '/'), *b = strrchr(exe_path, '\\');
        const char *slash = a > b ? a : b; /* Windows takes both */
        int dir = slash ? (int)(slash - exe_path) : 1;
        const char *base = slash ? exe_path : ".";
        char sep = slash ? *slash : '/';
        int n = snprintf(c->data_dir, sizeof c->data_dir, "%.*s%c..%cshare%cgameserver", dir, base,
                         sep, sep, sep);
        if (n < 0 || (size_t)n >= sizeof c->data_dir) {
            snprintf(err, errlen, "data_dir: the executable's path is too long (%s)", exe_path);
            c->data_dir[0] = 0;
            return -1;
        }
    }
    if (!c->zones_file[0]) {
        char sep = strchr(c->data_dir, '\\') && !strchr(c->data_dir, '/') ? '\\' : '/';
        int n = snprintf(c->zones_file, sizeof c->zones_file, "%s%czones.json", c->data_dir, sep);
        if (n < 0 || (size_t)n >= sizeof c->zones_file) {
            snprintf(err, errlen, "zones.file: <data_dir>/zones.json is too long (%s)",
                     c->data_dir);
            c->zones_file[0] = 0;
            return -1;
        }
    }
    return 0;
}
