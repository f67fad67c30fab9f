/* The gameserver's job pools and queues from its configuration: "shared"
 * (one pool, three capped queues by priority: game high, db normal,
 * control low) or "separate" (a pool per queue, sized by its cap).  In the
 * platform-free core so tests build exactly what the server runs. */
#ifndef GS_JOBS_H
#define GS_JOBS_H

#include "gs_config.h"
#include "netcore.h"

#define GS_MAX_POOLS 3

typedef struct gs_jobs_s {
    nc_pool_t *pools[GS_MAX_POOLS]; /* shared mode uses pools[0] only */
    int npools;
    nc_queue_t *game, *control, *db;
} gs_jobs_t;

/* 0 or a negative NC_E* code (then what was made is in *j: destroy it). */
int gs_jobs_create(const gs_config_t *c, gs_jobs_t *j);
/* Drains and joins every pool (after the engine is gone). */
void gs_jobs_destroy(gs_jobs_t *j);

#endif
