/* See gs_jobs.h.  The priorities here are the ones gs_config_validate
 * checks the shared pool against. */
#include "gs_jobs.h"

#include <string.h>

static int make_pool(gs_jobs_t *j, const char *name, int threads)
{
    nc_pool_opts_t po = {.name = name, .threads = threads};
    int rc = nc_pool_create(&po, &j->pools[j->npools]);
    if (rc == 0)
        j->npools++;
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

int gs_jobs_create(const gs_config_t *c, gs_jobs_t *j)
{
    int rc;
    memset(j, 0, sizeof *j);
    gs_pool_size_t ps; /* issue 15: 0 = auto for pool.threads and the game cap */
    gs_config_pool_size(c, &ps);
    gs_queue_cfg_t game = {ps.game, c->q_game.capacity};
    if (strcmp(c->pool_mode, "shared") == 0) {
        if ((rc = make_pool(j, "workers", (int)ps.threads)) != 0)
            return rc;
        nc_pool_t *p = j->pools[0];
        if ((rc = make_queue(p, "game", &game, NC_PRIO_HIGH, &j->game)) ||
            (rc = make_queue(p, "control", &c->q_control, NC_PRIO_LOW, &j->control)) ||
            (rc = make_queue(p, "db", &c->q_db, NC_PRIO_NORMAL, &j->db)))
            return rc;
        return 0;
    }
    if ((rc = make_pool(j, "game", (int)ps.game)) ||
        (rc = make_queue(j->pools[0], "game", &game, NC_PRIO_HIGH, &j->game)) ||
        (rc = make_pool(j, "control", (int)c->q_control.max_threads)) ||
        (rc = make_queue(j->pools[1], "control", &c->q_control, NC_PRIO_LOW, &j->control)) ||
        (rc = make_pool(j, "db", (int)c->q_db.max_threads)) ||
        (rc = make_queue(j->pools[2], "db", &c->q_db, NC_PRIO_NORMAL, &j->db)))
        return rc;
    return 0;
}

void gs_jobs_destroy(gs_jobs_t *j)
{
    for (int i = 0; i < j->npools; i++)
        nc_pool_destroy(j->pools[i]);
    memset(j, 0, sizeof *j);
}
