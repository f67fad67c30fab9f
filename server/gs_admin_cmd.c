/* The console's commands: each answers with data lines and a final `ok` or
 * `error <reason>` (gs_admin.c sends them).  Every command is logged at
 * INFO with the connection that ran it ("[session id] peer").  Runs on
 * the connection's strand (control queue). */
#include "gs_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "admin"
#define ANNOUNCE_MAX 256 /* notice.text in packets.json */
#define REASON_MAX 150
#define SHUTDOWN_MAX_S 3600
#define SHUTDOWN_DEFAULT_S 10

typedef int (*cmd_fn)(gs_admin_conn_t *c, char *args);

/* ---- status ---- */

static void status_zones(gs_admin_conn_t *c, gs_app_t *a)
{
    content_zone_stats_t z[64];
    int n = content_zone_stats(a->world, z, 64);
    for (int i = 0; i < n && i < 64; i++) {
        double p99 = gs_tick_p99_ms(&z[i]);
        char p[32];
        if (p99 < 0)
            snprintf(p, sizeof p, ">%g", -p99);
        else
            snprintf(p, sizeof p, "%g", p99);
        gs_admin_say(c, "zone id=%u name=\"%s\" players=%u tick_p99_ms=%s", z[i].id, z[i].name,
                     z[i].players, p);
    }
    if (n > 64)
        gs_admin_say(c, "zones %d (the first 64 shown)", n);
}

static void status_queues(gs_admin_conn_t *c, gs_app_t *a)
{
    for (int i = 0; i < a->npools; i++) {
        nc_queue_stats_t q[8];
        int k = nc_pool_stats(a->pools[i], q, 8);
        for (int j = 0; j < k && j < 8; j++)
            gs_admin_say(c, "queue name=%s depth=%llu running=%d/%d wait_p99_ms=%g", q[j].name,
                         (unsigned long long)q[j].pending, q[j].running, q[j].max_threads,
                         (double)q[j].wait_p99_us / 1000.0);
    }
}

static int cmd_status(gs_admin_conn_t *c, char *args)
{
    (void)args;
    gs_app_t *a = gs_admin_app(c);
    content_stats_t s;
    content_stats(a->world, &s);
    nc_role_stats_t r;
    nc_server_stats(a->players, &r);
    gs_admin_say(c, "shard name=%s uptime_s=%.1f draining=%s", a->cfg.shard_name,
                 (double)(nc_now_ms() - a->started_ms) / 1000.0,
                 content_draining(a->world) ? "yes" : "no");
    int left = gs_admin_shutdown_left(gs_admin_of(c));
    if (left >= 0)
        gs_admin_say(c, "shutdown in_s=%d", left);
    gs_admin_say(c, "players online=%u sessions=%llu logging_in=%u", s.online,
                 (unsigned long long)r.sessions_live, s.prelogin);
    status_zones(c, a);
    status_queues(c, a);
    gs_admin_say(c, "links chat=%s master=%s", gs_peers_chat_state(a), gs_peers_master_state(a));
    gs_admin_say(c, "database up=%s saves_pending=%llu", s.db_up ? "yes" : "no",
                 (unsigned long long)s.db_saves_pending);
    gs_admin_say(c, "console connections=%u auth_failures=%llu",
                 gs_admin_connections(gs_admin_of(c)),
                 (unsigned long long)gs_admin_auth_failures(gs_admin_of(c)));
    gs_admin_ok(c);
    return 0;
}

/* ---- who, kick, announce, drain ---- */

static void who_line(void *ud, const char *name, uint16_t zone)
{
    gs_admin_say(ud, "player name=%s zone=%u", name, zone);
}

static int cmd_who(gs_admin_conn_t *c, char *args)
{
    (void)args;
    uint32_t n = content_who(gs_admin_app(c)->world, who_line, c);
    gs_admin_say(c, "players %u", n);
    gs_admin_ok(c);
    return 0;
}

/* Splits "WORD rest" in place: returns rest ("" if none). */
static char *split(char *s)
{
    char *sp = strchr(s, ' ');
    if (!sp)
        return s + strlen(s);
    *sp = 0;
    while (*++sp == ' ') {
    }
    return sp;
}

static int cmd_kick(gs_admin_conn_t *c, char *args)
{
    char *reason = split(args);
    if (!*args) {
        gs_admin_error(c, "usage: kick NAME [reason]");
        return 0;
    }
    if (strlen(reason) > REASON_MAX) {
        gs_admin_error(c, "the reason is over %d bytes", REASON_MAX);
        return 0;
    }
    if (content_kick(gs_admin_app(c)->world, args, reason) != 0) {
        gs_admin_error(c, "no player '%s' online", args);
        return 0;
    }
    gs_admin_say(c, "kicked %s", args);
    gs_admin_ok(c);
    return 0;
}

static int cmd_announce(gs_admin_conn_t *c, char *args)
{
    if (!*args) {
        gs_admin_error(c, "usage: announce TEXT");
        return 0;
    }
    if (strlen(args) > ANNOUNCE_MAX) {
        gs_admin_error(c, "the text is over %d bytes", ANNOUNCE_MAX);
        return 0;
    }
    gs_admin_say(c, "announced to %u players", content_announce(gs_admin_app(c)->world, args));
    gs_admin_ok(c);
    return 0;
}

static int cmd_drain(gs_admin_conn_t *c, char *args)
{
    (void)args;
    content_world_t *w = gs_admin_app(c)->world;
    int was = content_set_draining(w, 1);
    gs_peers_set_draining(1); /* issue 16: every master lists it full */
    gs_admin_say(c, "%s: new logins are refused, the %u players online keep playing",
                 was ? "already draining" : "draining", content_online(w));
    gs_admin_ok(c);
    return 0;
}

static int cmd_undrain(gs_admin_conn_t *c, char *args)
{
    (void)args;
    int was = content_set_draining(gs_admin_app(c)->world, 0);
    gs_peers_set_draining(0);
    gs_admin_say(c, "%s", was ? "logins are accepted again" : "was not draining");
    gs_admin_ok(c);
    return 0;
}

/* ---- save, reload ---- */

static int cmd_save(gs_admin_conn_t *c, char *args)
{
    (void)args;
    void *ud = gs_admin_async(c);
    if (!ud)
        return 0;
    char err[128];
    if (content_save_all(gs_admin_app(c)->world, gs_admin_done, ud, err, sizeof err) != 0) {
        gs_admin_async_cancel(ud);
        gs_admin_error(c, "%s", err);
        return 0;
    }
    return 1;
}

static int cmd_reload(gs_admin_conn_t *c, char *args)
{
    if (strcmp(args, "zones") != 0) {
        gs_admin_error(c, "usage: reload zones");
        return 0;
    }
    void *ud = gs_admin_async(c);
    if (!ud)
        return 0;
    char err[512];
    if (content_reload_zones(gs_admin_app(c)->world, gs_admin_done, ud, err, sizeof err) != 0) {
        gs_admin_async_cancel(ud);
        nc_log(NC_LOG_WARN, TAG, "%s: reload zones refused: %s", gs_admin_who(c), err);
        gs_admin_error(c, "%s", err);
        return 0;
    }
    return 1;
}

/* ---- log, shutdown, help ---- */

static const char *level_name(nc_log_level_t l)
{
    static const char *const n[] = {"trace", "debug", "info", "warn", "error", "off"};
    return (unsigned)l < 6 ? n[l] : "?";
}

static int cmd_log(gs_admin_conn_t *c, char *args)
{
    nc_log_level_t was = nc_log_get_level(), lvl;
    if (!*args) {
        gs_admin_say(c, "log level %s", level_name(was));
        gs_admin_ok(c);
        return 0;
    }
    if (nc_log_level_parse(args, &lvl) != 0) {
        gs_admin_error(c, "unknown level '%s' (trace, debug, info, warn, error, off)", args);
        return 0;
    }
    /* said before the change, so raising the level above INFO still
     * leaves a trace of who did it */
    nc_log(NC_LOG_INFO, TAG, "%s: log level %s -> %s", gs_admin_who(c), level_name(was),
           level_name(lvl));
    nc_log_set_level(lvl);
    gs_admin_say(c, "log level %s -> %s", level_name(was), level_name(lvl));
    gs_admin_ok(c);
    return 0;
}

static int cmd_shutdown(gs_admin_conn_t *c, char *args)
{
    gs_admin_t *ad = gs_admin_of(c);
    if (strcmp(args, "cancel") == 0) {
        if (gs_admin_shutdown_cancel(ad) != 0) {
            gs_admin_error(c, "no shutdown is counting down");
            return 0;
        }
        gs_admin_say(c, "shutdown canceled; players were told");
        gs_admin_ok(c);
        return 0;
    }
    char *end = NULL;
    long secs = *args ? strtol(args, &end, 10) : SHUTDOWN_DEFAULT_S;
    if (*args && (*end || secs < 0 || secs > SHUTDOWN_MAX_S)) {
        gs_admin_error(c, "usage: shutdown [SECONDS 0..%d, default %d] | shutdown cancel",
                       SHUTDOWN_MAX_S, SHUTDOWN_DEFAULT_S);
        return 0;
    }
    char err[128];
    if (gs_admin_shutdown_start(ad, (uint32_t)secs, err, sizeof err) != 0) {
        gs_admin_error(c, "%s", err);
        return 0;
    }
    if (secs == 0)
        gs_admin_say(c, "shutting down now: every character is saved, then the server exits 0");
    else
        gs_admin_say(c,
                     "shutdown in %ld s: players are told now and at 60, 30, 10, 5..1 s; then "
                     "every character is saved and the server exits 0",
                     secs);
    gs_admin_ok(c);
    return 0;
}

static int cmd_help(gs_admin_conn_t *c, char *args);

static const struct {
    const char *name, *usage;
    cmd_fn fn;
} cmds[] = {
    {"status", "players, zones, queues, links, uptime", cmd_status},
    {"who", "every player in the world and their zone", cmd_who},
    {"kick", "kick NAME [reason]: close a player's session (saved), telling the reason", cmd_kick},
    {"announce", "announce TEXT: a notice to every player", cmd_announce},
    {"drain", "refuse new logins (players are told), keep running", cmd_drain},
    {"undrain", "accept logins again", cmd_undrain},
    {"save", "save every online character now; answers once the database has it", cmd_save},
    {"reload", "reload zones: re-read zones.file; names, spawns, portals change", cmd_reload},
    {"log", "log [LEVEL]: show or set the log level (trace debug info warn error off)", cmd_log},
    {"shutdown", "shutdown [SECONDS] | shutdown cancel: countdown, save, exit 0", cmd_shutdown},
    {"help", "this list", cmd_help},
    {"quit", "close this connection", NULL},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static int cmd_help(gs_admin_conn_t *c, char *args)
{
    (void)args;
    for (size_t i = 0; i < NCMDS; i++)
        gs_admin_say(c, "%-9s %s", cmds[i].name, cmds[i].usage);
    gs_admin_ok(c);
    return 0;
}

int gs_admin_command(gs_admin_conn_t *c, char *line)
{
    char *args = split(line);
    for (size_t i = 0; i < NCMDS; i++) {
        if (strcmp(line, cmds[i].name) != 0)
            continue;
        /* control characters were replaced before (gs_admin.c) */
        nc_log(NC_LOG_INFO, TAG, "%s ran: %s%s%.200s", gs_admin_who(c), line, *args ? " " : "",
               args);
        if (!cmds[i].fn) {
            gs_admin_ok(c);
            return 2; /* quit */
        }
        return cmds[i].fn(c, args);
    }
    nc_log(NC_LOG_INFO, TAG, "%s: unknown command '%.40s'", gs_admin_who(c), line);
    gs_admin_error(c, "unknown command '%.40s' (try `help`)", line);
    return 0;
}
