/* Isolation benchmark, the product's central claim: player-like sessions
 * ping at a fixed rate on the high tier while a flood hits the low tier
 * (its handler burns CPU).  Player round-trip p50/p99 for: tiers (one pool,
 * capped queues), separate pools, one shared uncapped queue (the naive
 * design), and the no-flood baseline, all in one run.  Not a test. */
#define _GNU_SOURCE
#include "netcore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PING_TYPE 1
#define FLOOD_TYPE 2
#define MAX_PLAYERS 256
#define MAX_SAMPLES 200000

static struct {
    int players, hz, seconds, flood_conns, burn_us, workers, game_cap, io_preempt;
} g = {32, 50, 4, 4, 200, 4, 4, 0};

typedef enum { M_BASELINE, M_TIERS, M_POOLS, M_NAIVE } mode_t_;
static const char *mode_names[] = {"no flood (baseline)", "tiers: game cap N + control cap 1",
                                   "separate pools", "naive: one shared queue"};

/* ---- server side -------------------------------------------------------- */

static void ping_handler(nc_session_t *s, uint16_t type, const uint8_t *b, size_t n, void *ud)
{
    (void)ud;
    nc_send(s, type, b, n); /* pong: echo the client timestamp */
}

static atomic_long flood_done;

static void flood_handler(nc_session_t *s, uint16_t type, const uint8_t *b, size_t n, void *ud)
{
    (void)s, (void)type, (void)b, (void)n, (void)ud;
    uint64_t until = nc_now_ns() + (uint64_t)g.burn_us * 1000u;
    while (nc_now_ns() < until) {
    }
    atomic_fetch_add(&flood_done, 1);
}

/* ---- load generator ----------------------------------------------------- */

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static atomic_int stop_flood;

static void *flood_main(void *arg)
{
    uint16_t port = (uint16_t)(uintptr_t)arg;
    int fds[16];
    for (int i = 0; i < g.flood_conns; i++)
        fds[i] = connect_to(port);
    uint8_t buf[20 * 256];
    for (int i = 0; i < 256; i++) {
        uint8_t *p = buf + i * 20;
        p[0] = 20, p[1] = 0, p[2] = FLOOD_TYPE, p[3] = 0;
        memset(p + 4, 0xab, 16);
    }
    while (!atomic_load(&stop_flood)) {
        struct pollfd pf[16];
        for (int i = 0; i < g.flood_conns; i++)
            pf[i] = (struct pollfd){fds[i], POLLOUT, 0};
        if (poll(pf, (nfds_t)g.flood_conns, 50) <= 0)
            continue;
        for (int i = 0; i < g.flood_conns; i++)
            if (pf[i].revents & POLLOUT)
                if (send(fds[i], buf, sizeof(buf), MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                    return NULL;
    }
    for (int i = 0; i < g.flood_conns; i++)
        close(fds[i]);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double p50_us, p99_us, max_us;
    long pings, lost;
} result_t;

/* Each player sends one ping every 1/hz s (if its previous one returned)
 * and measures the round trip. */
static result_t run_players(uint16_t port)
{
    int fds[MAX_PLAYERS];
    uint64_t next_send[MAX_PLAYERS], sent_at[MAX_PLAYERS];
    uint8_t rbuf[MAX_PLAYERS][12];
    int rlen[MAX_PLAYERS];
    uint64_t *samples = malloc(sizeof(uint64_t) * MAX_SAMPLES);
    long ns = 0, skipped = 0;
    uint64_t period = 1000000000ull / (uint64_t)g.hz, t0 = nc_now_ns();
    for (int i = 0; i < g.players; i++) {
        fds[i] = connect_to(port);
        next_send[i] = t0 + 300000000ull + period * (uint64_t)i / (uint64_t)g.players;
        sent_at[i] = 0;
        rlen[i] = 0;
    }
    uint64_t end = t0 + 300000000ull + (uint64_t)g.seconds * 1000000000ull;
    struct pollfd pf[MAX_PLAYERS];
    for (uint64_t now = nc_now_ns(); now < end; now = nc_now_ns()) {
        for (int i = 0; i < g.players; i++) {
            if (now < next_send[i])
                continue;
            next_send[i] += period;
            if (sent_at[i]) {
                skipped++; /* still waiting: counts as a late ping */
                continue;
            }
            uint8_t p[12] = {12, 0, PING_TYPE, 0};
            memcpy(p + 4, &now, 8);
            if (send(fds[i], p, 12, MSG_NOSIGNAL) == 12)
                sent_at[i] = now;
        }
        for (int i = 0; i < g.players; i++)
            pf[i] = (struct pollfd){fds[i], POLLIN, 0};
        poll(pf, (nfds_t)g.players, 1);
        for (int i = 0; i < g.players; i++) {
            if (!(pf[i].revents & POLLIN))
                continue;
            ssize_t r = recv(fds[i], rbuf[i] + rlen[i], (size_t)(12 - rlen[i]), 0);
            if (r <= 0)
                continue;
            rlen[i] += (int)r;
            if (rlen[i] < 12)
                continue;
            rlen[i] = 0;
            uint64_t t = nc_now_ns();
            if (ns < MAX_SAMPLES && now > t0 + 300000000ull)
                samples[ns++] = (t - sent_at[i]) / 1000u;
            sent_at[i] = 0;
        }
    }
    /* A ping still unanswered at the end counts with its age then (a lower
     * bound): when the flood starves players, no ping may return at all. */
    long answered = ns;
    for (int i = 0; i < g.players; i++) {
        if (sent_at[i] && sent_at[i] > t0 + 300000000ull && ns < MAX_SAMPLES)
            samples[ns++] = (end - sent_at[i]) / 1000u;
        close(fds[i]);
    }
    qsort(samples, (size_t)ns, sizeof(uint64_t), cmp_u64);
    result_t r = {0};
    if (ns) {
        r.p50_us = (double)samples[ns / 2];
        r.p99_us = (double)samples[(size_t)((double)ns * 0.99)];
        r.max_us = (double)samples[ns - 1];
    }
    r.pings = answered;
    r.lost = skipped;
    free(samples);
    return r;
}

/* ---- one configuration -------------------------------------------------- */

static nc_queue_t *make_queue(nc_pool_t *p, const char *name, int cap, nc_prio_t prio)
{
    nc_queue_opts_t qo = {.name = name, .max_threads = cap, .capacity = 4096, .priority = prio};
    nc_queue_t *q;
    if (nc_queue_create(p, &qo, &q) != 0)
        exit(1);
    return q;
}

static nc_server_t *make_server(nc_engine_t *e, nc_queue_t *q, const char *name,
                                void (*h)(nc_session_t *, uint16_t, const uint8_t *, size_t,
                                          void *))
{
    nc_role_opts_t o = {.name = name, .queue = q};
    o.handlers.on_packet = h;
    o.max_send_bytes = 4u << 20;
    nc_server_t *s;
    if (nc_server_create(e, "127.0.0.1", 0, &o, &s) != 0)
        exit(1);
    return s;
}

static result_t run_mode(mode_t_ m, long *flood_jobs)
{
    nc_pool_t *pool, *pool2 = NULL;
    nc_pool_opts_t po = {.name = "workers", .threads = g.workers};
    nc_pool_create(&po, &pool);
    nc_queue_t *game, *control;
    if (m == M_NAIVE) {
        game = control = make_queue(pool, "shared", g.workers, NC_PRIO_NORMAL);
    } else if (m == M_POOLS) {
        nc_pool_opts_t po2 = {.name = "control", .threads = 1};
        nc_pool_create(&po2, &pool2);
        game = make_queue(pool, "game", g.game_cap, NC_PRIO_HIGH);
        control = make_queue(pool2, "control", 1, NC_PRIO_LOW);
    } else {
        game = make_queue(pool, "game", g.game_cap, NC_PRIO_HIGH);
        control = make_queue(pool, "control", 1, NC_PRIO_LOW);
    }
    nc_engine_opts_t eo = {.io_threads = 1, .io_preempt = g.io_preempt};
    nc_engine_t *e;
    nc_engine_create(&eo, &e);
    nc_server_t *players = make_server(e, game, "players", ping_handler);
    nc_server_t *flood = make_server(e, control, "flood", flood_handler);
    pthread_t ft;
    atomic_store(&stop_flood, 0);
    atomic_store(&flood_done, 0);
    if (m != M_BASELINE)
        pthread_create(&ft, NULL, flood_main, (void *)(uintptr_t)nc_server_port(flood));
    result_t r = run_players(nc_server_port(players));
    atomic_store(&stop_flood, 1);
    if (m != M_BASELINE)
        pthread_join(ft, NULL);
    *flood_jobs = atomic_load(&flood_done);
    nc_engine_destroy(e);
    nc_pool_destroy(pool);
    if (pool2)
        nc_pool_destroy(pool2);
    return r;
}

/* Log scale: the naive design is orders of magnitude off the others. */
static void bar(double v, double max)
{
    int n = max > 1 && v > 1 ? (int)(50.0 * log10(v) / log10(max) + 0.5) : 0;
    for (int i = 0; i < n; i++)
        putchar('#');
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--players"))
            g.players = v < MAX_PLAYERS ? v : MAX_PLAYERS;
        else if (!strcmp(argv[i], "--hz"))
            g.hz = v;
        else if (!strcmp(argv[i], "--seconds"))
            g.seconds = v;
        else if (!strcmp(argv[i], "--burn-us"))
            g.burn_us = v;
        else if (!strcmp(argv[i], "--workers"))
            g.workers = v;
        else if (!strcmp(argv[i], "--game-cap"))
            g.game_cap = v;
        else if (!strcmp(argv[i], "--io-preempt"))
            g.io_preempt = v;
        else if (!strcmp(argv[i], "--flood-conns"))
            g.flood_conns = v < 16 ? v : 16;
        else {
            fprintf(stderr, "usage: bench_isolation [--players N] [--hz N] [--seconds N] "
                            "[--burn-us N] [--workers N] [--game-cap N] [--flood-conns N] "
                            "[--io-preempt 0|1]\n");
            return 2;
        }
    }
    nc_log_set_level(NC_LOG_WARN);
    printf("players=%d at %d Hz, flood on %d conns, flood handler burns %d us, workers=%d, "
           "game cap=%d, %d s per mode, io_preempt=%d\n\n",
           g.players, g.hz, g.flood_conns, g.burn_us, g.workers, g.game_cap, g.seconds,
           g.io_preempt);
    result_t res[4];
    long fj[4];
    for (int m = 0; m < 4; m++) {
        fprintf(stderr, "running: %s ...\n", mode_names[m]);
        res[m] = run_mode((mode_t_)m, &fj[m]);
        fprintf(stderr, "  p50 %.0f us  p99 %.0f us  (%ld pings, %ld flood jobs)\n", res[m].p50_us,
                res[m].p99_us, res[m].pings, fj[m]);
    }
    printf("Unanswered pings count with their age at the end of the run (a lower bound).\n\n");
    printf("| mode | player p50 (us) | player p99 (us) | p99 / baseline | pings answered | late "
           "pings | flood jobs run |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < 4; m++)
        printf("| %s | %.0f | %.0f | %.2fx | %ld | %ld | %ld |\n", mode_names[m], res[m].p50_us,
               res[m].p99_us, res[m].p99_us / (res[0].p99_us > 0 ? res[0].p99_us : 1), res[m].pings,
               res[m].lost, fj[m]);
    double max = 0;
    for (int m = 0; m < 4; m++)
        max = res[m].p99_us > max ? res[m].p99_us : max;
    printf("\nplayer p99 round trip (us), log scale\n```\n");
    for (int m = 0; m < 4; m++) {
        printf("%-36s |", mode_names[m]);
        bar(res[m].p99_us, max);
        printf(" %.0f\n", res[m].p99_us);
    }
    printf("```\n");
    return 0;
}
