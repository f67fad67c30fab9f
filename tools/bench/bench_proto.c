/* Protocol codec throughput: encode and decode of representative packets
 * (small, medium, full-size), printed as a table of packets/s and MB/s.
 * Usage: bench_proto [seconds_per_cell]   (default 0.3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto_packets.h"

static proto_msg_t g_msg, g_out;
static uint8_t g_buf[PROTO_MAX_BODY];
static volatile uint32_t g_sink;

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs encode (dec = 0) or decode (dec = 1) in batches until budget seconds
 * pass; returns operations per second. */
static double measure(int dec, size_t len, double budget)
{
    long ops = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 1000; i++) {
            int rc = dec ? proto_decode(g_msg.type, g_buf, len, &g_out)
                         : proto_encode(&g_msg, g_buf, sizeof g_buf);
            if (rc < 0) {
                fprintf(stderr, "bench_proto: %s\n", proto_strerror(rc));
                exit(1);
            }
            g_sink += (uint32_t)rc + g_buf[0];
        }
        ops += 1000;
        t = now() - t0;
    } while (t < budget);
    return (double)ops / t;
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.3;
    static const struct {
        uint16_t type;
        int mode;
        const char *what;
    } cases[] = {
        {PROTO_T_MOVE, 2, "c2s move"},
        {PROTO_T_MOVE_NOTIFY, 2, "s2c neighbour moved"},
        {PROTO_T_SPAWN, 0, "s2c spawn, max name"},
        {PROTO_T_CHAT_DELIVER, 0, "s2c chat, max text"},
        {PROTO_T_WHO_RESPONSE, 0, "s2c who, 64 entries"},
        {PROTO_T_SHARD_LIST_RESPONSE, 0, "s2s shard list, 64 shards"},
    };
    printf("| packet | what | body bytes | encode Mpkt/s | encode MB/s | decode Mpkt/s | "
           "decode MB/s |\n|---|---|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_sample_fill(cases[i].type, cases[i].mode, 42, &g_msg);
        int n = proto_encode(&g_msg, g_buf, sizeof g_buf);
        if (n < 0)
            return 1;
        double enc = measure(0, (size_t)n, budget);
        double dec = measure(1, (size_t)n, budget);
        printf("| %s | %s | %d | %.2f | %.0f | %.2f | %.0f |\n", proto_type_name(cases[i].type),
               cases[i].what, n, enc / 1e6, enc * n / 1e6, dec / 1e6, dec * n / 1e6);
    }
    return g_sink == 0xdeadbeef; /* keeps the loop observable */
}
