/* Hook for the outbound server-to-server clients (chat server, master
 * server; issue 6).  They run on the shared low-priority `control` queue
 * (app->q_control) and call content_set_global_chat_hook() /
 * content_deliver_global_chat() for global chat.  Until they exist, global
 * chat reaches this shard only. */
#include "gs_app.h"

int gs_peers_start(gs_app_t *a)
{
    nc_log(NC_LOG_INFO, "peers", "no chat/master clients configured; control queue '%s' idle",
           nc_queue_name(a->q_control));
    return 0;
}

void gs_peers_stop(gs_app_t *a)
{
    (void)a;
}
