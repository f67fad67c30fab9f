/* The gameserver process: one engine, its pools and queues, the player
 * role and the world.  Owned by main(); read by the metrics page. */
#ifndef GS_APP_H
#define GS_APP_H

#include "content.h"
#include "gs_config.h"
#include "nc_http.h"
#include "gs_jobs.h"
#include "gs_platform.h"
#include "netcore.h"

#include <stdatomic.h>

typedef struct gs_admin_s gs_admin_t; /* gs_admin.h: the operator's console */

typedef struct gs_app_s {
    gs_config_t cfg;
    nc_engine_t *engine;
    nc_pool_t *pools[GS_MAX_POOLS]; /* shared mode uses pools[0] only */
    int npools;
    nc_queue_t *q_game, *q_control, *q_db;
    nc_server_t *players;
    nc_packet_t *idle_notice; /* sent before an idle close (listen.idle_timeout_ms) */
    content_world_t *world;
    nc_http_t *http;
    uint64_t started_ms;
    /* shutdown progress, read by the main thread while stop_all runs */
    atomic_int stage;   /* gs_stage_t */
    atomic_uint saving; /* characters online when the final save began */
    atomic_int saved;   /* the final save returned */
    atomic_int stopped; /* stop_all returned */
    size_t unsaved;     /* characters whose last save is not on disk (content_world_destroy) */
    /* accounts (issue 13): auth.login_public_key, parsed */
    uint8_t login_pk[32];
    int have_login_pk;
    uint8_t login_pk_next[32]; /* auth.login_public_key_next (key rotation) */
    int have_login_pk_next;
    /* issue 14: the operator's console */
    gs_admin_t *admin;
    atomic_int console_stop; /* the console's `shutdown` asked main to stop */
} gs_app_t;

/* Steps of the orderly stop, in order (main.c stop_all). */
typedef enum {
    GS_STAGE_RUNNING,
    GS_STAGE_METRICS,
    GS_STAGE_SAVING,
    GS_STAGE_SESSIONS,
    GS_STAGE_LINKS,
    GS_STAGE_WORLD,
    GS_STAGE_ENGINE,
    GS_STAGE_DONE
} gs_stage_t;

/* gs_metrics.c: the /metrics and /healthz pages. */
int gs_metrics_render(void *app, const char *path, char **body, size_t *len, const char **ctype);
/* The `priority` label of a queue: "low", "normal" or "high". */
const char *gs_prio_label(int prio);

/* gs_status.c: the /status page for people, and what it shares with the
 * console's `status`. */
int gs_status_render(gs_app_t *a, char **body, size_t *len);
/* Upper bound of the bucket holding the zone's 99th tick duration since
 * start, in ms; 0 before the first tick; a negative value past the last
 * finite bucket (over -value ms). */
double gs_tick_p99_ms(const content_zone_stats_t *z);

/* gs_peers.c: outbound chat/master clients on the control queue. */
int gs_peers_start(gs_app_t *a);
void gs_peers_stop(gs_app_t *a);
/* Unhooks global chat from the world (before the final save); the links
 * stay up until gs_peers_stop. */
void gs_peers_detach(gs_app_t *a);
/* issue 13: the links' authentication counters (zero without links). */
/* gs_peers.c: a secret file's first line -> its 32-byte key (proto_s2s.h),
 * warning when others may read the file.  0, or -1 with err. */
int gs_load_secret_key(const char *path, uint8_t key[32], char *err, size_t errlen);
struct gs_links_stats_s;
void gs_peers_stats(struct gs_links_stats_s *out);
/* gs_auth.c (issue 13): checks the auth.* keys and parses the login
 * server's key (-1 with err: refuse to start), logs the dev-mode warning. */
int gs_auth_prepare(gs_app_t *a, char *err, size_t errlen);
/* --claim-character NAME --account ID, offline on database.path: exit code. */
int gs_auth_claim(const gs_config_t *c);
/* "up", "down" or "off" (port 0): the chat or the master link now. */
const char *gs_peers_chat_state(gs_app_t *a);
const char *gs_peers_master_state(gs_app_t *a);
/* issue 16: master link i's "host:port" and whether it is up (metrics);
 * 0, or -1 past the last.  And drain/undrain announced to every master. */
int gs_peers_master_info(int i, char *addr, size_t addrlen, int *up);
void gs_peers_set_draining(int draining);
/* issue 16: the Redis chat bus's counters; *enabled 0 without chat.bus redis */
struct gs_bus_stats_s;
void gs_peers_bus_stats(struct gs_bus_stats_s *out, int *enabled);
#endif
