/* Length-prefixed framing: cut complete packets out of a receive buffer.
 * The length is checked against the maximum before anything is delivered
 * or allocated for it. */
#include "internal.h"

long nc__frame_scan(const uint8_t *buf, size_t len, uint32_t max_packet, nc__frame_cb cb, void *ud)
{
    size_t off = 0;
    while (len - off >= 2) {
        uint32_t plen = (uint32_t)buf[off] | ((uint32_t)buf[off + 1] << 8);
        if (plen < NC_HEADER_SIZE || plen > max_packet)
            return NC_EMSGSIZE;
        if (len - off < plen)
            break;
        uint16_t type = (uint16_t)(buf[off + 2] | (buf[off + 3] << 8));
        cb(ud, type, buf + off + NC_HEADER_SIZE, plen - NC_HEADER_SIZE);
        off += plen;
    }
    return (long)off;
}
