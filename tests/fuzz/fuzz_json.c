/* libFuzzer target: the generated JSON codecs.  Input = LE u16 selector
 * (row of proto_packets, modulo the count) + JSON text.  Oracle: parsing
 * never faults; whatever proto_from_json accepts encodes, decodes back to
 * the same bytes, and converts to JSON and back to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"

static proto_msg_t g_msg, g_back;
static uint8_t g_out[PROTO_MAX_BODY], g_again[PROTO_MAX_BODY];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = (unsigned)data[0] | ((unsigned)data[1] << 8);
    uint16_t type = proto_packets[sel % PROTO_NTYPES].type;
    cJSON *j = cJSON_ParseWithLength((const char *)data + 2, size - 2);
    if (!j)
        return 0;
    char err[128];
    int rc = proto_from_json(type, j, &g_msg, err, sizeof err);
    cJSON_Delete(j);
    if (rc != 0) {
        if (rc != PROTO_EINVAL || err[0] == '\0')
            abort(); /* a refusal always says why */
        return 0;
    }
    int n = proto_encode(&g_msg, g_out, sizeof g_out);
    if (n < 0 || proto_decode(type, g_out, (size_t)n, &g_back) != 0)
        abort(); /* accepted JSON must make a valid packet */
    cJSON *again = proto_to_json(&g_back);
    if (!again)
        abort();
    rc = proto_from_json(type, again, &g_back, err, sizeof err);
    cJSON_Delete(again);
    if (rc != 0 || proto_encode(&g_back, g_again, sizeof g_again) != n ||
        memcmp(g_out, g_again, (size_t)n) != 0)
        abort(); /* to_json and from_json are not inverse */
    return 0;
}
