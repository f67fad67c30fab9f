/* gs_bus: the cross-shard chat bus on Redis (issue 16; chat.bus "redis").
 * Global chat over PUBLISH/SUBSCRIBE on <prefix>chat.global, whispers to a
 * player on another shard through its shard's channel <prefix>shard.<name>
 * after a presence lookup, and presence keys <prefix>presence.<player> =
 * <shard> with an expiry refreshed by each shard.  Two netcore raw clients
 * (one subscribed, one for commands) on the low-priority `control` queue,
 * reconnecting with back-off; replies parsed with hiredis's redisReader.
 * While either connection is down the bus is down: shouts stay on the shard
 * and players are told, exactly as with the chat-server link. */
#ifndef GS_BUS_REDIS_H
#define GS_BUS_REDIS_H

#include <stdint.h>

#include "netcore.h"

typedef struct gs_bus_s gs_bus_t;

typedef struct gs_bus_cfg_s {
    char shard[33];
    char host[64];
    uint16_t port;
    char password[256]; /* "" = no AUTH; wiped by the caller after start */
    char prefix[64];
    uint32_t presence_ttl_s, presence_refresh_ms;
    uint32_t reconnect_max_ms;   /* 0 = 2000 */
    uint32_t connect_timeout_ms; /* 0 = netcore's 5000 */
} gs_bus_cfg_t;

typedef struct gs_bus_stats_s {
    int up;
    uint64_t reconnects; /* connections (re)established after the first */
    uint64_t published;  /* PUBLISH commands sent (shouts, whispers) */
    uint64_t received;   /* messages received on our channels */
    uint64_t errors;     /* error replies, malformed messages */
} gs_bus_stats_t;

/* 1 when this build has the Redis driver (NC_REDIS). */
int gs_bus_available(void);

/* Starts the bus and hooks the world's global chat and whispers to it.
 * 0 or a negative NC_E* code (never fails because Redis is absent). */
struct content_world_s;
int gs_bus_start_for_world(nc_engine_t *e, nc_queue_t *control, const gs_bus_cfg_t *cfg,
                           struct content_world_s *world, gs_bus_t **out);
/* Unhooks the world (global chat stays on the shard from here on). */
void gs_bus_detach_world(gs_bus_t *b);
/* Closes both connections; after their handlers ran.  NULL is ignored. */
void gs_bus_stop(gs_bus_t *b);
int gs_bus_online(const gs_bus_t *b);
void gs_bus_stats(const gs_bus_t *b, gs_bus_stats_t *out);

#endif
