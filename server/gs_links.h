/* gs_links: the gameserver's links to the chat server (global chat relay) and
 * the master server (register + heartbeat).  Both are netcore clients on the
 * shared low-priority `control` queue and reconnect with back-off; while a
 * link is down its feature degrades (global chat reaches this shard only, the
 * shard is told "global chat offline" once when the link drops and each
 * shouter is told again when their message stayed local), the game goes on. */
#ifndef GS_LINKS_H
#define GS_LINKS_H

#include <stddef.h>
#include <stdint.h>

#include "netcore.h"

typedef struct gs_links_s gs_links_t;

/* issue 16: master links per shard, at most (master.host + master.extra) */
#define GS_LINKS_MAX_MASTERS 8

typedef struct gs_links_cfg_s {
    char shard[33];     /* this shard's name (chat, master) */
    char chat_host[64]; /* empty or port 0: no chat link */
    uint16_t chat_port;
    char master_host[64]; /* empty or port 0: no master link */
    uint16_t master_port;
    /* issue 16: more masters (master.extra); the shard registers with and
     * heartbeats to each, over a link of its own (own back-off, own auth) */
    int extra_count; /* 0..GS_LINKS_MAX_MASTERS - 1 */
    char extra_host[GS_LINKS_MAX_MASTERS - 1][64];
    uint16_t extra_port[GS_LINKS_MAX_MASTERS - 1];
    char public_host[64];      /* player address announced to the master */
    uint16_t public_port;      /* the bound player port (nc_server_port) */
    uint32_t capacity;         /* announced player capacity */
    uint32_t heartbeat_ms;     /* master heartbeat interval */
    uint32_t reconnect_max_ms; /* back-off ceiling for both links; 0 = 2000 */

    /* per connect attempt (then back-off); 0 = netcore's 5000 */
    uint32_t connect_timeout_ms;

    /* issue 13: each link proves the secret and checks the peer's proof
     * (protocol/include/proto_s2s.h: pa_s2s_key_file of links.secret_file), unless
     * insecure (links.insecure: no auth, the peers must run insecure too) */
    int insecure;
    uint8_t key[32]; /* PA_S2S_KEY_BYTES */
} gs_links_cfg_t;

/* What the links need from the game; called from control-queue jobs. */
typedef struct gs_links_hooks_s {
    /* a global message relayed by the chat server (any shard, ours too) */
    void (*deliver)(void *ud, const char *shard, const char *sender, const char *text);
    uint32_t (*population)(void *ud); /* players online now */
    void *ud;
} gs_links_hooks_t;

/* Starts both links (connecting in the background; never fails because a
 * peer is absent).  0 or a negative NC_E* code. */
int gs_links_start(nc_engine_t *e, nc_queue_t *control, const gs_links_cfg_t *cfg,
                   const gs_links_hooks_t *hooks, gs_links_t **out);
/* Closes both links; returns after their handlers ran.  Not from a pool
 * worker.  NULL is ignored. */
void gs_links_stop(gs_links_t *l);

/* Sends a player's global message to the chat server.  0 when it was
 * queued to the chat server (which relays it to every shard, this one
 * included); a negative NC_E* code when the link is down, disabled or the
 * send failed: nothing was delivered and the caller (content) delivers it on
 * this shard and tells the sender.  Any thread. */
int gs_links_global_chat(gs_links_t *l, const char *sender, const char *text);
int gs_links_chat_online(const gs_links_t *l);
/* Master links up (registered) now: 0..gs_links_master_count. */
int gs_links_master_online(const gs_links_t *l);
/* issue 16: the configured master links (0 when none or l is NULL), and
 * link i's "host:port" (into addr) and whether it is up (registered).
 * 0, or -1 if there is no link i.  Any thread. */
int gs_links_master_count(const gs_links_t *l);
int gs_links_master_info(const gs_links_t *l, int i, char *addr, size_t addrlen, int *up);
/* issue 16: a draining shard re-registers with every master that is up with
 * capacity 0 (their realm lists show it full), an undrained one with its
 * capacity again; a master linking later gets the current one.  Any thread. */
void gs_links_set_draining(gs_links_t *l, int draining);
/* Link authentication failures since start (the peer's proof was wrong,
 * it refused ours, or the two sides disagree on link auth): chat, master. */
typedef struct gs_links_stats_s {
    uint64_t chat_auth_failures, master_auth_failures;
} gs_links_stats_t;
void gs_links_stats(const gs_links_t *l, gs_links_stats_t *out);

/* Glue for content: wires a world's global-chat hook, delivery and
 * population to the links (content_set_global_chat_hook), and unwires it.
 * Call gs_links_detach_world before content_world_shutdown. */
struct content_world_s;
int gs_links_start_for_world(nc_engine_t *e, nc_queue_t *control, const gs_links_cfg_t *cfg,
                             struct content_world_s *world, gs_links_t **out);
void gs_links_detach_world(gs_links_t *l);

#endif
