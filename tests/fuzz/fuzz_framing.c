/* libFuzzer target: netcore's framing scanner (nc__frame_scan), then decode
 * of each framed packet.  Input = LE u16 selecting max_packet + stream bytes.
 * Oracle: packets lie inside the buffer, within max_packet, back to back. */
#include <stdlib.h>

#include "internal.h"
#include "proto_packets.h"

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t next; /* where the next packet's header must start */
    uint32_t max_packet;
} scan_state_t;

static proto_msg_t g_msg;

static void on_frame(void *ud, uint16_t type, const uint8_t *body, size_t len)
{
    scan_state_t *s = ud;
    if (body != s->buf + s->next + NC_HEADER_SIZE || len + NC_HEADER_SIZE > s->max_packet ||
        s->next + NC_HEADER_SIZE + len > s->len)
        abort();
    s->next += NC_HEADER_SIZE + len;
    (void)proto_decode(type, body, len, &g_msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = (unsigned)data[0] | ((unsigned)data[1] << 8);
    scan_state_t s = {data + 2, size - 2, 0, NC_HEADER_SIZE + sel % (NC_MAX_PACKET - 3)};
    long rc = nc__frame_scan(s.buf, s.len, s.max_packet, on_frame, &s);
    if (rc >= 0 && ((size_t)rc != s.next || (size_t)rc > s.len))
        abort();
    if (rc >= 0 && s.len - (size_t)rc >= NC_HEADER_SIZE) {
        /* what is left must be an incomplete packet with a sane length */
        const uint8_t *h = s.buf + rc;
        size_t plen = (size_t)h[0] | ((size_t)h[1] << 8);
        if (plen <= s.len - (size_t)rc)
            abort();
    }
    if (rc < 0 && rc != NC_EMSGSIZE)
        abort();
    return 0;
}
