/* gameserver: wires one netcore engine, the job pools and queues (game,
 * control, db), the player role, the world and the metrics page; prints
 * READY and runs until SIGINT/SIGTERM, then shuts down in order. */
#include "gs_app.h"

#include <stdio.h>
#include <string.h>

#define TAG "gs"

static int make_pool(gs_app_t *a, const char *name, int threads)
{
    nc_pool_opts_t po = {.name = name, .threads = threads};
    int rc = nc_pool_create(&po, &a->pools[a->npools]);
    if (rc == 0)
        a->npools++;
    return rc;
}

static int make_queue(nc_pool_t *p, const char *name, const gs_queue_cfg_t *q, nc_prio_t prio,
                      nc_queue_t **out)
{
    nc_queue_opts_t qo = {.name = name,
                          .max_threads = (int)q->max_threads,
                          .capacity = (uint32_t)q->capacity,
                          .priority = prio};
    return nc_queue_create(p, &qo, out);
}

/* "shared": one pool, three capped queues.  "separate": a pool per queue
 * sized by its cap (a pool with one queue is a dedicated pool). */
static int setup_jobs(gs_app_t *a)
{
    const gs_config_t *c = &a->cfg;
    int rc;
    if (strcmp(c->pool_mode, "shared") == 0) {
        if ((rc = make_pool(a, "workers", (int)c->pool_threads)) != 0)
            return rc;
        nc_pool_t *p = a->pools[0];
        if ((rc = make_queue(p, "game", &c->q_game, NC_PRIO_HIGH, &a->q_game)) ||
            (rc = make_queue(p, "control", &c->q_control, NC_PRIO_LOW, &a->q_control)) ||
            (rc = make_queue(p, "db", &c->q_db, NC_PRIO_NORMAL, &a->q_db)))
            return rc;
        return 0;
    }
    if ((rc = make_pool(a, "game", (int)c->q_game.max_threads)) ||
        (rc = make_queue(a->pools[0], "game", &c->q_game, NC_PRIO_HIGH, &a->q_game)) ||
        (rc = make_pool(a, "control", (int)c->q_control.max_threads)) ||
        (rc = make_queue(a->pools[1], "control", &c->q_control, NC_PRIO_LOW, &a->q_control)) ||
        (rc = make_pool(a, "db", (int)c->q_db.max_threads)) ||
        (rc = make_queue(a->pools[2], "db", &c->q_db, NC_PRIO_NORMAL, &a->q_db)))
        return rc;
    return 0;
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
                        .exempt_loopback = c->exempt_loopback};
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

static int start_network(gs_app_t *a, uint16_t *mport)
{
    const gs_config_t *c = &a->cfg;
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
                         .max_sessions = netcore_session_cap(c->max_sessions)};
    int rc = nc_server_create(a->engine, c->host, (uint16_t)c->port, &ro, &a->players);
    if (rc != 0) {
        nc_log(NC_LOG_ERROR, TAG, "listen %s:%lld: %s", c->host, (long long)c->port,
               nc_strerror(rc));
        return -1;
    }
    *mport = 0;
    if (c->metrics_port >= 0 &&
        gs_http_start(a->engine, a->q_control, c->metrics_host, (uint16_t)c->metrics_port,
                      gs_metrics_render, a, &a->http, mport) != 0) {
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

/* Order matters: save while sessions still exist, then close them (their
 * leave jobs save again), drain zones and the db strand, then the engine
 * (needs running pools), then the pools. */
static void stop_all(gs_app_t *a)
{
    gs_peers_stop(a);
    if (a->world) {
        content_world_shutdown(a->world);
        wait_flushed(a);
    }
    if (a->players)
        nc_server_destroy(a->players);
    content_world_destroy(a->world);
    gs_http_stop(a->http);
    if (a->engine)
        nc_engine_destroy(a->engine);
    for (int i = 0; i < a->npools; i++)
        nc_pool_destroy(a->pools[i]);
}

int main(int argc, char **argv)
{
    static gs_app_t a;
    char err[512];
    int rc = gs_config_from_args(&a.cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "gameserver: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    nc_log_level_t lvl = NC_LOG_INFO;
    nc_log_level_parse(a.cfg.log_level, &lvl);
    nc_log_set_level(lvl);
    a.started_ms = nc_now_ms();
    if (gs_signals_install() != 0) {
        fprintf(stderr, "gameserver: cannot install signal handlers\n");
        return 1;
    }
    nc_engine_opts_t eo = {.io_threads = (int)a.cfg.io_threads, .io_preempt = a.cfg.io_preempt};
    uint16_t mport = 0;
    int ok = setup_jobs(&a) == 0 && nc_engine_create(&eo, &a.engine) == 0 && start_world(&a) == 0 &&
             start_network(&a, &mport) == 0 && gs_peers_start(&a) == 0;
    if (!ok) {
        nc_log(NC_LOG_ERROR, TAG, "start-up failed");
        stop_all(&a);
        return 1;
    }
    printf("READY port=%u metrics_port=%u\n", nc_server_port(a.players), mport);
    fflush(stdout);
    nc_log(NC_LOG_INFO, TAG, "shard '%s' ready on %s:%u (pool mode %s)", a.cfg.shard_name,
           a.cfg.host, nc_server_port(a.players), a.cfg.pool_mode);
    int sig = gs_signals_wait();
    nc_log(NC_LOG_INFO, TAG, "signal %d: stopping (a second signal forces exit)", sig);
    stop_all(&a);
    nc_log(NC_LOG_INFO, TAG, "stopped cleanly");
    return 0;
}
