/* Writes seed corpora for the fuzz targets from valid encodings, so nothing
 * binary is committed.  Usage: fuzz_seeds PROTO_DIR FRAMING_DIR [JSON_DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"

#define FRAME_SEL_MAX_PACKET 0xfffb /* fuzz_framing: 4 + 0xfffb % 65532 = 65535 */

static proto_msg_t g_msg;
static uint8_t g_stream[8 * 65536];

static int write_file(const char *dir, const char *tag, int i, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%d", dir, tag, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* One packet as fuzz_proto input at out: selector + body.  Returns its size. */
static int proto_seed(int i, int mode, uint8_t *out, size_t cap)
{
    if (proto_sample_fill(proto_packets[i].type, mode, (uint32_t)(i * 3 + mode), &g_msg) < 0)
        return -1;
    int n = proto_encode(&g_msg, out + 2, cap - 2);
    out[0] = (uint8_t)i;
    out[1] = (uint8_t)(i >> 8);
    return n < 0 ? n : n + 2;
}

/* fuzz_json input: selector + the JSON text of the sample in g_msg. */
static int json_seed(const char *dir, int i, int mode)
{
    cJSON *j = proto_to_json(&g_msg);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return -1;
    size_t n = strlen(text);
    uint8_t *p = malloc(n + 2);
    int rc = -1;
    if (p) {
        p[0] = (uint8_t)i;
        p[1] = (uint8_t)(i >> 8);
        memcpy(p + 2, text, n);
        rc = write_file(dir, "json", i * 3 + mode, p, n + 2);
    }
    free(p);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fputs("usage: fuzz_seeds PROTO_DIR FRAMING_DIR [JSON_DIR]\n", stderr);
        return 2;
    }
    static uint8_t one[2 + PROTO_MAX_BODY];
    size_t off = 2;
    g_stream[0] = FRAME_SEL_MAX_PACKET & 0xff;
    g_stream[1] = FRAME_SEL_MAX_PACKET >> 8;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        for (int mode = 0; mode <= 2; mode++) {
            int n = proto_seed(i, mode, one, sizeof one);
            if (n < 0 || write_file(argv[1], "proto", i * 3 + mode, one, (size_t)n) < 0)
                return 1;
            if (argc == 4 && json_seed(argv[3], i, mode) < 0)
                return 1;
            /* framing stream: header (LE u16 total length, LE u16 type) + body */
            size_t total = (size_t)n - 2 + 4;
            if (mode == 0 || off + total > sizeof g_stream)
                continue;
            g_stream[off] = (uint8_t)total;
            g_stream[off + 1] = (uint8_t)(total >> 8);
            g_stream[off + 2] = (uint8_t)proto_packets[i].type;
            g_stream[off + 3] = (uint8_t)(proto_packets[i].type >> 8);
            memcpy(g_stream + off + 4, one + 2, (size_t)n - 2);
            off += total;
            if (write_file(argv[2], "frames", i * 3 + mode, g_stream, off) < 0)
                return 1;
        }
    }
    return 0;
}
