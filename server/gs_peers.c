/* Outbound server-to-server clients (chat server, master server; issue 6):
 * maps the gameserver config onto gs_links and wires it to the world.  They
 * run on the shared low-priority `control` queue (app->q_control). */
#include "gs_app.h"
#include "gs_bus_redis.h"
#include "gs_links.h"
#include "proto_s2s.h"

#include <string.h>

#include <stdio.h>

static gs_links_t *links; /* one app per process */
/* the same, for readers on other threads (console, /status) */
static _Atomic(gs_links_t *) links_pub;
/* issue 16: chat.bus "redis": the Redis bus replaces the chat-server link */
static gs_bus_t *bus;
static _Atomic(gs_bus_t *) bus_pub;

static int bus_redis(const gs_config_t *c)
{
    return strcmp(c->chat_bus, "redis") == 0;
}

static int bus_start(gs_app_t *a)
{
    const gs_config_t *c = &a->cfg;
    gs_bus_cfg_t bc = {0};
    snprintf(bc.shard, sizeof bc.shard, "%s", c->shard_name);
    snprintf(bc.host, sizeof bc.host, "%s", c->redis_host);
    bc.port = (uint16_t)c->redis_port;
    snprintf(bc.prefix, sizeof bc.prefix, "%s", c->redis_channel_prefix);
    bc.presence_ttl_s = (uint32_t)c->redis_presence_ttl_s;
    bc.presence_refresh_ms = (uint32_t)c->redis_presence_refresh_ms;
    bc.connect_timeout_ms = (uint32_t)c->links_connect_timeout_ms;
    if (c->redis_password_file[0]) {
        char err[256];
        if (pa_read_first_line(c->redis_password_file, bc.password, sizeof bc.password, err,
                               sizeof err) < 0) {
            nc_log(NC_LOG_ERROR, "bus", "redis.password_file: %s", err);
            return -1;
        }
        if (nc_file_is_private(c->redis_password_file) == 0)
            nc_log(NC_LOG_WARN, "bus",
                   "redis.password_file '%s' is readable by other users: chmod 600 it",
                   c->redis_password_file);
    }
    int rc = gs_bus_start_for_world(a->engine, a->q_control, &bc, a->world, &bus);
    pa_wipe(bc.password, sizeof bc.password);
    if (rc != 0)
        return -1;
    atomic_store(&bus_pub, bus);
    return 0;
}

void gs_peers_bus_stats(gs_bus_stats_t *out, int *enabled)
{
    gs_bus_t *b = atomic_load(&bus_pub);
    *enabled = b != NULL;
    gs_bus_stats(b, out);
}

/* issue 13: the link key from links.secret_file, or links.insecure (a loud
 * warning).  Without either, a shard with a link configured does not start.
 * -1 after an ERROR line. */
/* A secret file (links.secret_file, admin.secret_file) -> key; a file
 * others may read is accepted with a WARN line, as the link servers do. */
int gs_load_secret_key(const char *path, uint8_t key[32], char *err, size_t errlen)
{
    if (pa_s2s_key_file(path, key, err, errlen) != 0)
        return -1;
    if (nc_file_is_private(path) == 0)
        nc_log(NC_LOG_WARN, "links", "secret file '%s' is readable by other users: chmod 600 it",
               path);
    return 0;
}

static int link_auth(const gs_config_t *c, gs_links_cfg_t *lc)
{
    if (lc->chat_port == 0 && lc->master_port == 0 && lc->extra_count == 0)
        return 0; /* no link: nothing to authenticate */
    if (c->links_insecure && c->links_secret_file[0]) {
        nc_log(NC_LOG_ERROR, "links", "links.secret_file and links.insecure exclude each other");
        return -1;
    }
    if (c->links_insecure) {
        lc->insecure = 1;
        nc_log(NC_LOG_WARN, "links",
               "*** links.insecure: the chat/master links are NOT authenticated; anyone on "
               "their ports can pose as the chat or master server. Development only. ***");
        return 0;
    }
    if (!c->links_secret_file[0]) {
        nc_log(NC_LOG_ERROR, "links",
               "no link secret: set links.secret_file (the file the chat and master servers get "
               "with --secret-file), or links.insecure: true for a development shard, or "
               "disable the links (--chat-port 0 --master-port 0)");
        return -1;
    }
    char err[256];
    if (gs_load_secret_key(c->links_secret_file, lc->key, err, sizeof err) != 0) {
        nc_log(NC_LOG_ERROR, "links", "links.secret_file: %s", err);
        return -1;
    }
    return 0;
}

int gs_peers_start(gs_app_t *a)
{
    const gs_config_t *c = &a->cfg;
    /* every address and interval comes from gs_config, whose table holds
     * the defaults; gs_links keeps none of its own */
    gs_links_cfg_t lc = {0};
    snprintf(lc.shard, sizeof lc.shard, "%s", c->shard_name);
    snprintf(lc.chat_host, sizeof lc.chat_host, "%s", c->chat_host);
    lc.chat_port = bus_redis(c) ? 0 : (uint16_t)c->chat_port;
    /* issue 16: master.host, then master.extra (each its own link) */
    gs_master_addr_t ms[GS_MAX_MASTERS];
    int nm = 0;
    char err[256];
    if (gs_config_masters(c, ms, &nm, err, sizeof err) != 0) {
        nc_log(NC_LOG_ERROR, "links", "%s", err);
        return -1;
    }
    _Static_assert(sizeof ms[0].host == sizeof lc.master_host &&
                       sizeof ms[0].host == sizeof lc.extra_host[0] &&
                       GS_MAX_MASTERS == GS_LINKS_MAX_MASTERS,
                   "gs_master_addr_t and gs_links_cfg_t agree");
    for (int i = 0; i < nm && i < GS_LINKS_MAX_MASTERS; i++) {
        if (i == 0) {
            memcpy(lc.master_host, ms[i].host, sizeof lc.master_host);
            lc.master_port = ms[i].port;
        } else {
            memcpy(lc.extra_host[i - 1], ms[i].host, sizeof lc.extra_host[i - 1]);
            lc.extra_port[i - 1] = ms[i].port;
            lc.extra_count = i;
        }
    }
    snprintf(lc.public_host, sizeof lc.public_host, "%s", c->public_host);
    lc.public_port = nc_server_port(a->players);
    lc.capacity = (uint32_t)c->max_sessions;
    lc.heartbeat_ms = (uint32_t)c->heartbeat_ms;
    lc.connect_timeout_ms = (uint32_t)c->links_connect_timeout_ms;
    if (link_auth(c, &lc) != 0)
        return -1;
    int rc = gs_links_start_for_world(a->engine, a->q_control, &lc, a->world, &links);
    pa_wipe(lc.key, sizeof lc.key);
    if (rc != 0)
        return -1;
    atomic_store(&links_pub, links);
    return bus_redis(c) ? bus_start(a) : 0;
}

void gs_peers_stats(gs_links_stats_t *out)
{
    gs_links_stats(atomic_load(&links_pub), out); /* metrics thread: the published one */
}

void gs_peers_stop(gs_app_t *a)
{
    (void)a;
    atomic_store(&links_pub, NULL);
    atomic_store(&bus_pub, NULL);
    gs_bus_stop(bus);
    bus = NULL;
    gs_links_stop(links);
    links = NULL;
}

void gs_peers_detach(gs_app_t *a)
{
    (void)a;
    gs_links_detach_world(links);
    gs_bus_detach_world(bus);
}

const char *gs_peers_chat_state(gs_app_t *a)
{
    if (bus_redis(&a->cfg))
        return gs_bus_online(atomic_load(&bus_pub)) ? "up" : "down";
    if (a->cfg.chat_port == 0)
        return "off";
    return gs_links_chat_online(atomic_load(&links_pub)) ? "up" : "down";
}

/* issue 16: "up" when every master link is, "partial" when some are. */
const char *gs_peers_master_state(gs_app_t *a)
{
    if (a->cfg.master_port == 0 && !a->cfg.master_extra[0])
        return "off";
    gs_links_t *l = atomic_load(&links_pub);
    int n = gs_links_master_count(l), up = gs_links_master_online(l);
    return n > 0 && up == n ? "up" : up ? "partial" : "down";
}

int gs_peers_master_info(int i, char *addr, size_t addrlen, int *up)
{
    return gs_links_master_info(atomic_load(&links_pub), i, addr, addrlen, up);
}

void gs_peers_set_draining(int draining)
{
    gs_links_set_draining(atomic_load(&links_pub), draining);
}
