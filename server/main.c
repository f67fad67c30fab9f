/* gameserver: wires one netcore engine, the job pools and queues (game,
 * control, db), the player role, the world and the metrics page; prints
 * READY and runs until SIGINT/SIGTERM, then shuts down in order. */
#include "gs_admin.h"

#include "proto_packets.h"
#include "proto_auth.h"

#include <stdio.h>
#include <string.h>

#define TAG "gs"

static int setup_jobs(gs_app_t *a)
{
    gs_jobs_t j;
    int rc = gs_jobs_create(&a->cfg, &j);
    for (int i = 0; i < j.npools; i++)
        a->pools[i] = j.pools[i];
    a->npools = j.npools;
    a->q_game = j.game;
    a->q_control = j.control;
    a->q_db = j.db;
    if (rc == 0) { /* issue 15: the sizes in use, auto ones resolved */
        gs_pool_size_t ps;
        gs_config_pool_size(&a->cfg, &ps);
        if (strcmp(a->cfg.pool_mode, "shared") == 0)
            nc_log(NC_LOG_INFO, TAG,
                   "pool: %lld workers (game %lld, db %lld, control %lld; %d CPUs)",
                   (long long)ps.threads, (long long)ps.game, (long long)ps.db,
                   (long long)ps.control, a->cfg.cpus);
        else
            nc_log(NC_LOG_INFO, TAG,
                   "pools: separate, game %lld, db %lld, control %lld workers (%d CPUs)",
                   (long long)ps.game, (long long)ps.db, (long long)ps.control, a->cfg.cpus);
    }
    return rc;
}

static int start_world(gs_app_t *a)
{
    const gs_config_t *c = &a->cfg;
    content_opts_t o = {.engine = a->engine,
                        .game_queue = a->q_game,
                        .db_queue = a->q_db,
                        .db_path = c->db_path,
                        .zones_file = c->zones_file,
                        .tick_hz = (uint32_t)c->tick_hz,
                        .view_radius = (float)c->view_radius,
                        .max_speed = (float)c->max_speed,
                        .interest = c->interest,
                        .chat_per_s = (float)c->chat_per_s,
                        .chat_burst = (float)c->chat_burst,
                        .chat_mute_ms = (uint32_t)c->chat_mute_ms,
                        .autosave_ms = (uint32_t)c->autosave_ms,
                        .db_sync_normal = strcmp(c->db_synchronous, "normal") == 0,
                        .db_busy_timeout_ms = (uint32_t)c->db_busy_timeout_ms,
                        .db_request_timeout_ms = (uint32_t)c->db_request_timeout_ms,
                        .db_max_waiting = (uint32_t)c->db_max_waiting,
                        .db_shutdown_save_timeout_ms = (uint32_t)c->db_shutdown_save_timeout_ms,
                        .db_fault_file = c->db_fault_file[0] ? c->db_fault_file : NULL,
                        .db_postgres = strcmp(c->db_driver, "postgres") == 0,
                        .db_url = c->db_url,
                        .shard_name = c->shard_name,
                        .budget_per_s = (float)c->budget_per_s,
                        .budget_burst = (float)c->budget_burst,
                        .flood_warn_drops = (uint32_t)c->flood_warn_drops,
                        .flood_kick_s = (uint32_t)c->flood_kick_s,
                        .who_max_names = (uint32_t)c->who_max_names,
                        .login_timeout_ms = (uint32_t)c->login_timeout_ms,
                        .max_sessions = (uint32_t)c->max_sessions,
                        .max_prelogin = (uint32_t)c->max_prelogin,
                        .max_per_ip = (uint32_t)c->max_per_ip,
                        .prelogin_packets = (uint32_t)c->prelogin_packets,
                        .new_chars_per_min = (uint32_t)c->new_chars_per_min,
                        .new_chars_per_min_global = (uint32_t)c->new_chars_per_min_global,
                        .exempt_loopback = c->exempt_loopback,
                        .auth_ticket = strcmp(c->auth_mode, "ticket") == 0,
                        .login_pk = a->have_login_pk ? a->login_pk : NULL,
                        .login_pk_next = a->have_login_pk_next ? a->login_pk_next : NULL,
                        .clock_skew_s = (uint32_t)c->auth_clock_skew_s,
                        .replay_cache_max = (uint32_t)c->auth_replay_cache_max,
                        .ticket_max_life_s = (uint32_t)c->auth_ticket_max_life_s,
                        .dev_role = pa_role_parse(c->auth_dev_role),
                        .interest_full = (uint32_t)c->interest_full,
                        .interest_full_unlimited = c->interest_full == 0,
                        .interest_lod_ticks = (uint32_t)c->interest_lod_ticks,
                        .tick_budget_ms = (uint32_t)c->tick_budget_ms,
                        .view_slack = (float)c->view_slack,
                        .interest_lod_max = (uint32_t)c->interest_lod_max,
                        .update_hz = (uint32_t)c->update_hz,
                        .encode_jobs = c->encode_jobs};
    char err[256];
    if (content_world_create(&o, &a->world, err, sizeof err) != 0) {
        nc_log(NC_LOG_ERROR, TAG, "world: %s", err);
        return -1;
    }
    return 0;
}

/* listen.max_sessions is enforced by content, which answers SERVER_FULL;
 * netcore's cap sits a little above it so the newcomers past the cap get
 * that packet instead of a bare close (past the slack too: a bare close). */
static uint32_t netcore_session_cap(int64_t max_sessions)
{
    int64_t slack = max_sessions / 16 > 64 ? max_sessions / 16 : 64;
    int64_t cap = max_sessions + slack;
    return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

/* The fatal error an idle player gets before netcore closes the session:
 * the client then prints why instead of a bare "peer closed". */
static nc_packet_t *idle_notice(int64_t idle_ms)
{
    proto_error_t m = {.code = PROTO_ERR_IDLE, .fatal = 1};
    snprintf(m.text, sizeof m.text,
             "no packet for %lld ms (listen.idle_timeout_ms); a client sends a ping to "
             "stay connected",
             (long long)idle_ms);
    nc_packet_t *p = nc_packet_alloc(PROTO_MAX_SIZE_ERROR);
    int n = p ? proto_encode_error(&m, nc_packet_body(p), p->cap) : -1;
    if (n < 0) {
        if (p)
            nc_packet_release(p);
        return NULL;
    }
    p->len = (uint32_t)n;
    p->type = PROTO_T_ERROR;
    return p;
}

static int start_network(gs_app_t *a, uint16_t *mport, uint16_t *aport)
{
    const gs_config_t *c = &a->cfg;
    a->idle_notice = c->idle_timeout_ms > 0 ? idle_notice(c->idle_timeout_ms) : NULL;
    nc_role_opts_t ro = {.name = "players",
                         .queue = a->q_game,
                         .handlers = content_handlers(),
                         .ud = a->world,
                         .max_packet = (uint32_t)c->max_packet,
                         .max_send_bytes = (uint32_t)c->max_send_bytes,
                         .idle_timeout_ms = (uint32_t)c->idle_timeout_ms,
                         .max_input_bytes = (uint32_t)c->max_input_bytes,
                         .max_input_stall_ms = (uint32_t)c->max_input_stall_ms,
                         .rate_packets_per_s = (uint32_t)c->packets_per_s,
                         .rate_burst = (uint32_t)c->packets_burst,
                         .max_sessions = netcore_session_cap(c->max_sessions),
                         .idle_notice = a->idle_notice};
    int rc = nc_server_create(a->engine, c->host, (uint16_t)c->port, &ro, &a->players);
    if (rc != 0) {
        nc_log(NC_LOG_ERROR, TAG, "listen %s:%lld: %s", c->host, (long long)c->port,
               nc_strerror(rc));
        return -1;
    }
    /* the console before the metrics page, which reports on it */
    if (gs_admin_start(a, &a->admin, aport) != 0)
        return -1;
    *mport = 0;
    nc_http_opts_t ho = {.host = c->metrics_host,
                         .port = (uint16_t)c->metrics_port,
                         .max_conns = (uint32_t)c->metrics_max_conns,
                         .request_timeout_ms = (uint32_t)c->metrics_request_timeout_ms};
    if (c->metrics_port >= 0 &&
        nc_http_start(a->engine, a->q_control, &ho, gs_metrics_render, a, &a->http, mport) != 0) {
        nc_log(NC_LOG_ERROR, TAG, "metrics listen %s:%lld failed", c->metrics_host,
               (long long)c->metrics_port);
        return -1;
    }
    return 0;
}

/* Gives the shutdown notices up to shutdown.grace_ms to leave. */
static void wait_flushed(gs_app_t *a)
{
    uint64_t end = nc_now_ms() + (uint64_t)a->cfg.shutdown_grace_ms;
    while (content_unsent(a->world) > 0 && nc_now_ms() < end)
        gs_sleep_ms(5);
}

static const char *const stage_text[] = {
    [GS_STAGE_RUNNING] = "running",
    [GS_STAGE_METRICS] = "closing the metrics page and the console",
    [GS_STAGE_SAVING] = "saving every online character",
    [GS_STAGE_SESSIONS] = "closing player sessions",
    [GS_STAGE_LINKS] = "closing the chat and master links",
    [GS_STAGE_WORLD] = "draining zones and the database",
    [GS_STAGE_ENGINE] = "stopping the engine and the pools",
    [GS_STAGE_DONE] = "stopped",
};

static void set_stage(gs_app_t *a, int stage)
{
    atomic_store(&a->stage, stage);
    nc_log(NC_LOG_DEBUG, TAG, "stop: %s", stage_text[stage]);
}

/* Exact reverse of start-up, and each step before what it reads goes:
 * the metrics page first (a scrape reads the player role, the world and
 * the pools), then the save of every online character while sessions
 * still exist (content refuses new logins from here on), then the
 * sessions (their leave jobs save again), the chat/master links (their
 * handlers deliver into the world), the world (drains zones and the db
 * strand: needs running pools), the engine, the pools.  NULL-safe: also
 * undoes a start-up that failed half-way. */
static void stop_all(gs_app_t *a)
{
    set_stage(a, GS_STAGE_METRICS);
    nc_http_stop(a->http);
    a->http = NULL;
    gs_admin_stop(a->admin); /* reads the world, the players role and the links */
    a->admin = NULL;
    set_stage(a, GS_STAGE_SAVING);
    gs_peers_detach(a); /* global chat stays on this shard from here on */
    if (a->world) {
        atomic_store(&a->saving, content_online(a->world));
        /* saved: every character's save is on disk (else each is logged) */
        atomic_store(&a->saved, content_world_shutdown(a->world) == 0);
        wait_flushed(a);
    }
    set_stage(a, GS_STAGE_SESSIONS);
    nc_server_destroy(a->players);
    a->players = NULL;
    if (a->idle_notice)
        nc_packet_release(a->idle_notice);
    a->idle_notice = NULL;
    set_stage(a, GS_STAGE_LINKS);
    gs_peers_stop(a);
    set_stage(a, GS_STAGE_WORLD);
    a->unsaved = content_world_destroy(a->world);
    a->world = NULL;
    set_stage(a, GS_STAGE_ENGINE);
    if (a->engine)
        nc_engine_destroy(a->engine);
    a->engine = NULL;
    for (int i = 0; i < a->npools; i++)
        nc_pool_destroy(a->pools[i]);
    a->npools = 0;
    set_stage(a, GS_STAGE_DONE);
}

static void stop_thread(void *arg)
{
    gs_app_t *a = arg;
    stop_all(a);
    atomic_store(&a->stopped, 1);
    gs_signals_wake();
}

/* A signal while stopping never skips the save: it says what is going on
 * and how to abort (SIGKILL). */
static void log_repeat_signal(gs_app_t *a, int sig)
{
    int st = atomic_load(&a->stage);
    if (st > GS_STAGE_SAVING && !atomic_load(&a->saved))
        nc_log(NC_LOG_WARN, TAG,
               "signal %d: already stopping (%s); some characters could not be saved (logged "
               "above), send SIGKILL to abort",
               sig, stage_text[st]);
    else if (st <= GS_STAGE_SAVING && !atomic_load(&a->saved))
        nc_log(NC_LOG_WARN, TAG,
               "signal %d: already stopping; saving %u players, send SIGKILL to abort "
               "(unsaved changes are lost)",
               sig, atomic_load(&a->saving));
    else
        nc_log(NC_LOG_WARN, TAG,
               "signal %d: already stopping (%s); every character is saved, send SIGKILL "
               "to abort",
               sig, stage_text[st]);
}

/* shutdown.timeout_ms passed: say where the stop is stuck and whether the
 * characters were saved, then exit 3 at once. */
static void stop_deadline(gs_app_t *a)
{
    int st = atomic_load(&a->stage);
    if (!atomic_load(&a->saved))
        nc_log(NC_LOG_ERROR, TAG,
               "shutdown did not finish within shutdown.timeout_ms=%lld (stuck: %s); the %u "
               "characters online at the final save are NOT confirmed saved; exiting 3",
               (long long)a->cfg.shutdown_timeout_ms, stage_text[st], atomic_load(&a->saving));
    else
        nc_log(NC_LOG_ERROR, TAG,
               "shutdown did not finish within shutdown.timeout_ms=%lld (stuck: %s); every "
               "character was saved; exiting 3",
               (long long)a->cfg.shutdown_timeout_ms, stage_text[st]);
    gs_exit_now(3);
}

/* Runs stop_all on its own thread while this one handles further signals
 * and the shutdown.timeout_ms deadline. */
static void supervise_stop(gs_app_t *a)
{
    gs_thread_t *t;
    if (gs_thread_start(&t, stop_thread, a) != 0) {
        nc_log(NC_LOG_WARN, TAG, "no stop thread: stopping without a deadline");
        stop_all(a);
        return;
    }
    uint64_t limit = (uint64_t)a->cfg.shutdown_timeout_ms;
    uint64_t end = nc_now_ms() + limit;
    while (!atomic_load(&a->stopped)) {
        int left = -1;
        if (limit) {
            uint64_t now = nc_now_ms();
            if (now >= end)
                stop_deadline(a);
            left = end - now > 60000 ? 60000 : (int)(end - now);
        }
        int sig = gs_signals_wait_ms(left);
        if (sig > 0)
            log_repeat_signal(a, sig);
    }
    gs_thread_join(t);
}
/* A stop signal's number, or 0 when the console's `shutdown` asked. */
static int wait_stop(gs_app_t *a)
{
    for (;;) {
        int sig = gs_signals_wait_ms(-1);
        if (sig != 0 || atomic_load(&a->console_stop))
            return sig;
    }
}

/* data_dir and zones.file from the executable's place (issue 14). */
static int resolve_paths(gs_config_t *c, const char *argv0, char *err, size_t errlen)
{
    char exe[1024];
    if (gs_exe_path(exe, sizeof exe) != 0)
        snprintf(exe, sizeof exe, "%s", argv0);
    return gs_config_resolve_paths(c, exe, err, errlen);
}

int main(int argc, char **argv)
{
    static gs_app_t a;
    char err[512];
    gs_console_init();
    int rc = gs_config_from_args(&a.cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "gameserver: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    if (resolve_paths(&a.cfg, argv[0], err, sizeof err) != 0) {
        fprintf(stderr, "gameserver: %s\n", err);
        return 2;
    }
    if (a.cfg.claim_given)
        return gs_auth_claim(&a.cfg);
    nc_log_level_t lvl = NC_LOG_INFO;
    nc_log_level_parse(a.cfg.log_level, &lvl);
    nc_log_set_level(lvl);
    if (gs_auth_prepare(&a, err, sizeof err) != 0) {
        fprintf(stderr, "gameserver: %s\n", err);
        return 2;
    }
    a.started_ms = nc_now_ms();
    /* every player needs a descriptor; 128 more for metrics (64), the
     * database, links and the engine.  Short of it: a clear warning (not a
     * refusal), and accept pauses at the limit instead of failing. */
    uint64_t fd_want = (uint64_t)a.cfg.max_sessions + 128, fd_soft = 0, fd_hard = 0;
    if (nc_fd_limit_raise(fd_want, &fd_soft, &fd_hard) == NC_EMFILE)
        nc_log(NC_LOG_WARN, TAG,
               "fd limit %llu (hard %llu) < listen.max_sessions %lld + 128: connections past "
               "it are refused; raise `ulimit -n` or lower listen.max_sessions",
               (unsigned long long)fd_soft, (unsigned long long)fd_hard,
               (long long)a.cfg.max_sessions);
    if (gs_signals_install() != 0) {
        fprintf(stderr, "gameserver: cannot install signal handlers\n");
        return 1;
    }
    nc_engine_opts_t eo = {.io_threads = (int)a.cfg.io_threads, .io_preempt = a.cfg.io_preempt};
    uint16_t mport = 0, aport = 0;
    int ok = setup_jobs(&a) == 0 && nc_engine_create(&eo, &a.engine) == 0 && start_world(&a) == 0 &&
             start_network(&a, &mport, &aport) == 0 && gs_peers_start(&a) == 0;
    if (!ok) {
        nc_log(NC_LOG_ERROR, TAG, "start-up failed");
        stop_all(&a);
        return 1;
    }
    printf("READY port=%u metrics_port=%u admin_port=%u\n", nc_server_port(a.players), mport,
           aport);
    fflush(stdout);
    if (mport)
        nc_log(NC_LOG_INFO, TAG,
               "shard '%s' ready on %s:%u, metrics and /status on %s:%u (pool mode %s)",
               a.cfg.shard_name, a.cfg.host, nc_server_port(a.players), a.cfg.metrics_host,
               (unsigned)mport, a.cfg.pool_mode);
    else
        nc_log(NC_LOG_INFO, TAG, "shard '%s' ready on %s:%u (pool mode %s)", a.cfg.shard_name,
               a.cfg.host, nc_server_port(a.players), a.cfg.pool_mode);
    nc_log(NC_LOG_INFO, TAG, "data_dir %s, zones from %s", a.cfg.data_dir, a.cfg.zones_file);
    int sig = wait_stop(&a);
    atomic_store(&a.saving, content_online(a.world));
    if (sig == 0)
        nc_log(NC_LOG_INFO, TAG, "console shutdown: stopping (saving %u players)",
               atomic_load(&a.saving));
    else
        nc_log(NC_LOG_INFO, TAG,
               "signal %d: stopping (saving %u players; further signals do not skip the save)", sig,
               atomic_load(&a.saving));
    supervise_stop(&a);
    if (a.unsaved) {
        nc_log(NC_LOG_ERROR, TAG, "stopped: %zu characters NOT saved (see above); exit 1",
               a.unsaved);
        return 1;
    }
    nc_log(NC_LOG_INFO, TAG, "stopped cleanly");
    return 0;
}
