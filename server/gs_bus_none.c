/* The chat bus in a build without Redis (NC_REDIS=OFF, e.g. Windows):
 * chat.bus "redis" is refused at start-up with a clear reason. */
#include "gs_bus_redis.h"

int gs_bus_available(void)
{
    return 0;
}

int gs_bus_start_for_world(nc_engine_t *e, nc_queue_t *control, const gs_bus_cfg_t *cfg,
                           struct content_world_s *world, gs_bus_t **out)
{
    (void)e, (void)control, (void)cfg, (void)world, (void)out;
    nc_log(NC_LOG_ERROR, "bus",
           "chat.bus \"redis\": this gameserver was built without Redis support (NC_REDIS=OFF)");
    return NC_EINVAL;
}

void gs_bus_detach_world(gs_bus_t *b)
{
    (void)b;
}

void gs_bus_stop(gs_bus_t *b)
{
    (void)b;
}

int gs_bus_online(const gs_bus_t *b)
{
    (void)b;
    return 0;
}

void gs_bus_stats(const gs_bus_t *b, gs_bus_stats_t *out)
{
    (void)b;
    *out = (gs_bus_stats_t){0};
}
