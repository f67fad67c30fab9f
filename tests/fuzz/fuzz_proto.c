/* libFuzzer target: decode of every packet type.  Input = LE u16 selector
 * (row of the generated table proto_packets, modulo the count) + body.
 * Oracle: decode never faults, and whatever decodes re-encodes to exactly
 * the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "proto_packets.h"

static proto_msg_t g_msg;
static uint8_t g_out[PROTO_MAX_BODY];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = (unsigned)data[0] | ((unsigned)data[1] << 8);
    uint16_t type = proto_packets[sel % PROTO_NTYPES].type;
    const uint8_t *body = data + 2;
    size_t len = size - 2;
    int rc = proto_decode(type, body, len, &g_msg);
    if (rc < 0) {
        if (proto_strerror(rc) == NULL)
            abort();
        return 0;
    }
    if (len > proto_max_size(type))
        abort(); /* decoded something larger than the schema allows */
    int n = proto_encode(&g_msg, g_out, sizeof g_out);
    if (n < 0 || (size_t)n != len || memcmp(g_out, body, len) != 0)
        abort(); /* decoding is not the exact inverse of encoding */
    return 0;
}
