/* Cross-shard chat benchmark (issue 16): players on shard A shout, a player
 * on shard B receives.  Latency: one shout in flight at a time, send to
 * receipt on B (p50/p99).  Throughput: S senders on A each send M shouts as
 * fast as they can, B counts them until all arrived (or the deadline).
 * Repeated --runs times; prints each run and the median with min-max.  The
 * servers (whatever bus they use) are started by tools/bench/chatbus.sh.
 *
 *   chatbus_bench --a PORT --b PORT [--label L] [--runs 5] [--n 500]
 *                 [--senders 4] [--m 500]
 * The shards need chat.rate_per_s/chat.burst high enough and
 * limits.budget_per_s 0 (chatbus.sh sets them). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_harness.h"

#define MAX_SENDERS 16
#define MAX_RUNS 21

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

/* Waits on c for a global chat message whose text starts with prefix. */
static int wait_text(gs_client_t *c, const char *text, double deadline)
{
    proto_msg_t m;
    while (now_s() < deadline) {
        if (gs_recv(c, &m, 1000) < 0)
            return -1;
        if (m.type == PROTO_T_CHAT_DELIVER && m.chat_deliver.channel == 1 &&
            strcmp(m.chat_deliver.text, text) == 0)
            return 0;
    }
    return -1;
}

typedef struct run_s {
    double p50_ms, p99_ms, msgs_per_s;
    double w50_ms, w99_ms; /* whispers A -> B (--whispers N; 0 = not measured) */
    int lost;
} run_t;

/* Waits on c for a whisper (channel 2) with exactly this text. */
static int wait_whisper(gs_client_t *c, const char *text, double deadline)
{
    proto_msg_t m;
    while (now_s() < deadline) {
        if (gs_recv(c, &m, 1000) < 0)
            return -1;
        if (m.type == PROTO_T_CHAT_DELIVER && m.chat_deliver.channel == 2 &&
            strcmp(m.chat_deliver.text, text) == 0)
            return 0;
        if (m.type == PROTO_T_ERROR)
            return -1;
    }
    return -1;
}

static int whisper_lat(gs_client_t *tx, gs_client_t *rx, const char *rxname, int run, int nw,
                       run_t *out)
{
    double *lat = calloc((size_t)nw, sizeof *lat);
    if (!lat)
        return -1;
    char text[64];
    for (int i = 0; i < nw; i++) {
        snprintf(text, sizeof text, "w %d %d", run, i);
        double t0 = now_s();
        if (gs_chat(tx, 2, rxname, text) != 0 || wait_whisper(rx, text, t0 + 10) != 0 ||
            wait_whisper(tx, text, t0 + 10) != 0) { /* the sender's echo too */
            fprintf(stderr, "run %d: whisper %d did not cross shards\n", run, i);
            free(lat);
            return -1;
        }
        lat[i] = (now_s() - t0) * 1000;
    }
    out->w50_ms = pct(lat, nw, 0.50);
    out->w99_ms = pct(lat, nw, 0.99);
    free(lat);
    return 0;
}

static int one_run(int run, uint16_t pa, uint16_t pb, int n, int senders, int m, int nw, run_t *out)
{
    static gs_client_t rx, tx[MAX_SENDERS];
    char name[32];
    snprintf(name, sizeof name, "rx%d", run);
    if (gs_login(&rx, pb, name) != 0)
        return -1;
    for (int i = 0; i < senders; i++) {
        snprintf(name, sizeof name, "tx%d_%d", run, i);
        if (gs_login(&tx[i], pa, name) != 0)
            return -1;
    }
    /* warm-up: the path works (the bus may still be connecting) before timing */
    char text[64];
    int warm = -1;
    for (int k = 0; k < 20 && warm != 0; k++) {
        snprintf(text, sizeof text, "warm %d %d", run, k);
        if (gs_chat(&tx[0], 1, "", text) != 0)
            break;
        warm = wait_text(&rx, text, now_s() + 0.5);
    }
    if (warm != 0) {
        fprintf(stderr, "run %d: warm-up shout did not cross shards\n", run);
        return -1;
    }
    double *lat = calloc((size_t)n, sizeof *lat);
    if (!lat)
        return -1;
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "lat %d %d", run, i);
        double t0 = now_s();
        if (gs_chat(&tx[i % senders], 1, "", text) != 0 || wait_text(&rx, text, t0 + 10) != 0) {
            free(lat);
            return -1;
        }
        lat[i] = (now_s() - t0) * 1000;
    }
    out->p50_ms = pct(lat, n, 0.50);
    out->p99_ms = pct(lat, n, 0.99);
    free(lat);
    char rxname[32];
    snprintf(rxname, sizeof rxname, "rx%d", run);
    if (nw > 0 && whisper_lat(&tx[0], &rx, rxname, run, nw, out) != 0)
        return -1;
    /* throughput: everyone blasts, B counts */
    double t0 = now_s();
    for (int j = 0; j < m; j++)
        for (int i = 0; i < senders; i++) {
            snprintf(text, sizeof text, "tp %d %d %d", run, i, j);
            if (gs_chat(&tx[i], 1, "", text) != 0)
                return -1;
        }
    int want = senders * m, got = 0;
    double last = t0, deadline = t0 + 30;
    proto_msg_t msg;
    while (got < want && now_s() < deadline) {
        if (gs_recv(&rx, &msg, 500) < 0)
            break;
        if (msg.type == PROTO_T_CHAT_DELIVER && strncmp(msg.chat_deliver.text, "tp ", 3) == 0) {
            got++;
            last = now_s();
        }
    }
    out->msgs_per_s = got / (last - t0 > 0 ? last - t0 : 1e-9);
    out->lost = want - got;
    gs_close(&rx);
    for (int i = 0; i < senders; i++)
        gs_close(&tx[i]);
    return 0;
}

static int cmp_run_field(const void *a, const void *b)
{
    return cmp_d(a, b);
}

static void summary(const char *label, const char *what, double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_run_field);
    printf("%-10s %-12s median %10.3f  min %10.3f  max %10.3f\n", label, what, s[n / 2], s[0],
           s[n - 1]);
}

int main(int argc, char **argv)
{
    int pa = 0, pb = 0, runs = 5, n = 500, senders = 4, m = 500, nw = 0;
    const char *label = "bus";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--a"))
            pa = atoi(v);
        else if (!strcmp(k, "--b"))
            pb = atoi(v);
        else if (!strcmp(k, "--runs"))
            runs = atoi(v);
        else if (!strcmp(k, "--n"))
            n = atoi(v);
        else if (!strcmp(k, "--senders"))
            senders = atoi(v);
        else if (!strcmp(k, "--m"))
            m = atoi(v);
        else if (!strcmp(k, "--whispers"))
            nw = atoi(v);
        else if (!strcmp(k, "--label"))
            label = v;
        else {
            fprintf(stderr, "unknown flag %s\n", k);
            return 2;
        }
    }
    if (pa <= 0 || pa > 65535 || pb <= 0 || pb > 65535 || runs < 1 || runs > MAX_RUNS || n < 2 ||
        n > 1000000 || senders < 1 || senders > MAX_SENDERS || m < 1 || m > 1000000 || nw < 0 ||
        nw > 1000000 || nw == 1) {
        fprintf(stderr, "usage: chatbus_bench --a PORT --b PORT [--label L] [--runs 1..21] "
                        "[--n N] [--senders 1..16] [--m M] [--whispers N]\n");
        return 2;
    }
    double p50[MAX_RUNS], p99[MAX_RUNS], tp[MAX_RUNS], w50[MAX_RUNS], w99[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        run_t x = {0};
        if (one_run(r, (uint16_t)pa, (uint16_t)pb, n, senders, m, nw, &x) != 0) {
            fprintf(stderr, "%s: run %d failed\n", label, r);
            return 1;
        }
        printf("%-10s run %d: p50 %.3f ms  p99 %.3f ms  %.0f msgs/s  (%d lost)\n", label, r,
               x.p50_ms, x.p99_ms, x.msgs_per_s, x.lost);
        p50[r] = x.p50_ms;
        p99[r] = x.p99_ms;
        tp[r] = x.msgs_per_s;
        w50[r] = x.w50_ms;
        w99[r] = x.w99_ms;
        if (nw)
            printf("%-10s run %d: whisper p50 %.3f ms  p99 %.3f ms\n", label, r, x.w50_ms,
                   x.w99_ms);
    }
    summary(label, "p50 ms", p50, runs);
    summary(label, "p99 ms", p99, runs);
    summary(label, "msgs/s", tp, runs);
    if (nw) {
        summary(label, "whisper p50", w50, runs);
        summary(label, "whisper p99", w99, runs);
    }
    return 0;
}
