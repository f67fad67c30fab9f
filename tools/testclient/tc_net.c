/* The testclient's netcore set-up: one engine (one I/O thread) and one pool
 * with a single queue "client" on which every connection's handlers run. */
#include "tc.h"

#include <string.h>

int tc_net_start(tc_net_t *n, int workers)
{
    return tc_net_start_io(n, workers, 1);
}

int tc_net_start_io(tc_net_t *n, int workers, int io_threads)
{
    memset(n, 0, sizeof *n);
    nc_pool_opts_t po = {.name = "client", .threads = workers};
    nc_queue_opts_t qo = {.name = "client", .max_threads = workers, .capacity = 1u << 20};
    nc_engine_opts_t eo = {.io_threads = io_threads, .max_sessions = 70000};
    int rc = nc_pool_create(&po, &n->pool);
    if (rc == 0)
        rc = nc_queue_create(n->pool, &qo, &n->queue);
    if (rc == 0)
        rc = nc_engine_create(&eo, &n->engine);
    if (rc != 0)
        tc_net_stop(n);
    return rc;
}

void tc_net_stop(tc_net_t *n)
{
    if (n->engine)
        nc_engine_destroy(n->engine);
    if (n->pool)
        nc_pool_destroy(n->pool);
    memset(n, 0, sizeof *n);
}

int tc_send(nc_engine_t *e, nc_sid_t sid, const proto_msg_t *m)
{
    uint8_t buf[512];
    int len = proto_encode(m, buf, sizeof buf);
    if (len < 0)
        return len;
    return nc_send_id(e, sid, m->type, buf, (size_t)len);
}
