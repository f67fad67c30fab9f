/* The fork guide's worked example (docs/fork-guide.md, step 1): emotes.
 * protocol/packets.json declares `emote` (c2s 1000, "route": "zone") and
 * `emote_notify` (s2c 2000); this file is the one handler.  It runs on the
 * player's zone strand (the generated dispatch calls it), so it may read
 * and change its zone without locks. */
#include "content_internal.h"

/* The emotes this game knows, by id: 0 wave, 1 bow, 2 cheer, 3 dance, ...
 * The client names them; the server only checks the range. */
#define EMOTE_COUNT 16

void content_on_emote(zone_t *z, player_t *p, const proto_emote_t *m)
{
    if (m->id >= EMOTE_COUNT) {
        world_send_error(z->w, p->sid, PROTO_ERR_BAD_PACKET, 0, "no such emote");
        return;
    }
    proto_emote_notify_t n = {.entity_id = p->ent.id, .id = m->id};
    nc_packet_t *pkt;
    CONTENT_PKT(pkt, emote_notify, EMOTE_NOTIFY, &n);
    if (!pkt)
        return;
    zone_send_to_known(z, p, pkt, 1); /* everyone who sees p, p included */
    nc_packet_release(pkt);
}
