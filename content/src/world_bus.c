/* issue 16: what the cross-shard chat bus needs from the world: whispers to
 * and from other shards, and the list of players online (presence).  The
 * bus itself (server/gs_bus_redis.c) stays outside content. */
#include "content_internal.h"

#include <stdio.h>
#include <string.h>

void content_set_whisper_hook(content_world_t *w, content_whisper_fn fn, void *ud)
{
    pthread_mutex_lock(&w->hook_mu); /* waits for a call of the old hook */
    w->whisper_fn = fn;
    w->whisper_ud = ud;
    pthread_mutex_unlock(&w->hook_mu);
}

void content_set_presence_hook(content_world_t *w, void (*fn)(void *ud), void *ud)
{
    pthread_mutex_lock(&w->hook_mu);
    w->presence_fn = fn;
    w->presence_ud = ud;
    pthread_mutex_unlock(&w->hook_mu);
}

void world_presence_changed(content_world_t *w)
{
    pthread_mutex_lock(&w->hook_mu);
    if (w->presence_fn)
        w->presence_fn(w->presence_ud);
    pthread_mutex_unlock(&w->hook_mu);
}

int world_whisper_elsewhere(content_world_t *w, nc_sid_t from, const char *sender,
                            const char *target, const char *text)
{
    pthread_mutex_lock(&w->hook_mu);
    int rc = w->whisper_fn ? w->whisper_fn(w->whisper_ud, from, sender, target, text) : -1;
    pthread_mutex_unlock(&w->hook_mu);
    return rc;
}

static void send_whisper(content_world_t *w, nc_sid_t to, const char *sender, const char *text)
{
    proto_chat_deliver_t d = {.channel = 2};
    snprintf(d.sender, sizeof d.sender, "%s", sender);
    snprintf(d.text, sizeof d.text, "%s", text);
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, chat_deliver, CHAT_DELIVER, &d);
    if (pkt) {
        world_send(w, to, pkt);
        nc_packet_release(pkt);
    }
}

void content_whisper_result(content_world_t *w, uint64_t from_sid, const char *sender,
                            const char *text, int delivered)
{
    if (delivered)
        send_whisper(w, from_sid, sender, text); /* the echo, as for a local whisper */
    else
        world_send_error(w, from_sid, PROTO_ERR_NO_SUCH_PLAYER, 0, "no such player online");
}

int content_deliver_whisper(content_world_t *w, const char *sender, const char *target,
                            const char *text)
{
    nc_sid_t to = 0;
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, target);
    if (e && e->zone_idx >= 0 && !e->closing)
        to = e->sid;
    pthread_mutex_unlock(&w->reg_mu);
    if (!to)
        return -1;
    send_whisper(w, to, sender, text);
    return 0;
}

size_t content_online_names(content_world_t *w, void (*fn)(void *ud, const char *name), void *ud)
{
    size_t n = 0;
    pthread_mutex_lock(&w->reg_mu);
    for (int b = 0; b < REG_BUCKETS; b++)
        for (reg_entry_t *e = w->reg[b]; e; e = e->next)
            if (e->zone_idx >= 0 && !e->closing) {
                fn(ud, e->name);
                n++;
            }
    pthread_mutex_unlock(&w->reg_mu);
    return n;
}
