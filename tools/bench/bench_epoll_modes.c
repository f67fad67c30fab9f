/* Micro-benchmark behind netcore's Linux backend choice, without netcore:
 * a 2-thread epoll echo server run as (A) one epoll per thread, connections
 * spread round-robin, level-triggered, versus (B) one shared epoll with
 * EPOLLONESHOT re-armed (EPOLL_CTL_MOD) after every event, driven by an
 * in-process load generator (N connections, 1 packet in flight each).
 * Prints a markdown table.  Usage: bench_epoll_modes [seconds per run] */
#define _GNU_SOURCE
#include <stdio.h>

#ifndef __linux__
int main(void)
{
    puts("bench_epoll_modes: Linux only");
    return 0;
}
#else

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_THREADS 2
#define BODY 32
#define PKT (4 + BODY) /* netcore framing: u16 LE length (with header), u16 type */
#define HIST_US 100000 /* 1 us buckets up to 100 ms, then one overflow bucket */
#define MAX_EVENTS 256

enum { MODE_PER_THREAD, MODE_SHARED_ONESHOT };

typedef struct {
    int fd;
    size_t len;
    uint8_t buf[1024];
} conn_t;

typedef struct {
    int epfd;
    int mode;
    atomic_int *stop;
    pthread_t th;
    /* server syscalls, counted while the run lasts */
    atomic_uint_fast64_t n_wait, n_read, n_write, n_ctl;
} iothr_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void set_nonblock_nodelay(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int write_full(int fd, const uint8_t *p, size_t n, atomic_uint_fast64_t *count)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (count)
            atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1; /* 36-byte echoes never fill a socket buffer here */
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- server: one read per event, echo every complete packet ---------------
 * Both modes run exactly this; they differ only in who waits on which epoll
 * and in the re-arm after each event. */

static void conn_readable(iothr_t *t, conn_t *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    atomic_fetch_add_explicit(&t->n_read, 1, memory_order_relaxed);
    if (r <= 0)
        return;
    c->len += (size_t)r;
    size_t off = 0;
    while (c->len - off >= 4) {
        size_t plen = (size_t)(c->buf[off] | c->buf[off + 1] << 8);
        if (plen < 4 || c->len - off < plen)
            break;
        off += plen;
    }
    if (off) {
        write_full(c->fd, c->buf, off, &t->n_write); /* consecutive packets: one write */
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static void *io_main(void *arg)
{
    iothr_t *t = arg;
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        int n = epoll_wait(t->epfd, evs, MAX_EVENTS, 20);
        atomic_fetch_add_explicit(&t->n_wait, 1, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            conn_readable(t, c);
            if (t->mode == MODE_SHARED_ONESHOT) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};
                epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
                atomic_fetch_add_explicit(&t->n_ctl, 1, memory_order_relaxed);
            }
        }
    }
    return NULL;
}

/* ---- load generator: N connections, one packet in flight on each --------- */

typedef struct {
    int fd;
    size_t got;
    uint64_t sent_ns;
} peer_t;

typedef struct {
    uint64_t round_trips;
    uint32_t *hist; /* HIST_US + 1 buckets */
    double seconds;
} result_t;

static void peer_send(peer_t *p, const uint8_t *pkt)
{
    p->sent_ns = now_ns();
    if (write_full(p->fd, pkt, PKT, NULL) != 0)
        die("load generator write");
}

/* Runs warmup_ms, then measures for run_ms. */
static void load_run(peer_t *peers, int n, uint32_t warmup_ms, uint32_t run_ms, result_t *res,
                     iothr_t *io)
{
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &peers[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, peers[i].fd, &ev);
    }
    uint8_t pkt[PKT] = {PKT, 0, 1, 0};
    memset(pkt + 4, 0xab, BODY);
    for (int i = 0; i < n; i++)
        peer_send(&peers[i], pkt);
    uint64_t t0 = now_ns() + (uint64_t)warmup_ms * 1000000u;
    uint64_t t1 = t0 + (uint64_t)run_ms * 1000000u;
    int measuring = 0;
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= t1)
            break;
        if (!measuring && now >= t0) {
            measuring = 1;
            for (int i = 0; i < IO_THREADS; i++) {
                atomic_store(&io[i].n_wait, 0), atomic_store(&io[i].n_read, 0);
                atomic_store(&io[i].n_write, 0), atomic_store(&io[i].n_ctl, 0);
            }
        }
        int k = epoll_wait(ep, evs, MAX_EVENTS, 10);
        for (int i = 0; i < k; i++) {
            peer_t *p = evs[i].data.ptr;
            uint8_t buf[PKT];
            ssize_t r = read(p->fd, buf, PKT - p->got);
            if (r <= 0)
                continue;
            p->got += (size_t)r;
            if (p->got < PKT)
                continue;
            p->got = 0;
            uint64_t t = now_ns();
            if (measuring) {
                uint64_t us = (t - p->sent_ns) / 1000u;
                res->hist[us < HIST_US ? us : HIST_US]++;
                res->round_trips++;
            }
            peer_send(p, pkt);
        }
    }
    res->seconds = run_ms / 1000.0;
    close(ep);
}

static uint64_t hist_pct(const uint32_t *h, uint64_t total, double pct)
{
    uint64_t want = (uint64_t)(total * pct), seen = 0;
    for (uint64_t i = 0; i <= HIST_US; i++) {
        seen += h[i];
        if (seen > want)
            return i;
    }
    return HIST_US;
}

/* ---- one configuration --------------------------------------------------- */

typedef struct {
    double rps;
    uint64_t p50, p99;
    double sys_per_rt, ctl_per_rt;
} row_t;

static row_t run_mode(int mode, int nconns, uint32_t run_ms)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1024) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        die("listen");
    peer_t *peers = calloc((size_t)nconns, sizeof(*peers));
    conn_t *conns = calloc((size_t)nconns, sizeof(*conns));
    for (int i = 0; i < nconns; i++) {
        peers[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (peers[i].fd < 0 || connect(peers[i].fd, (struct sockaddr *)&a, sizeof(a)) != 0)
            die("connect");
        conns[i].fd = accept(ls, NULL, NULL);
        if (conns[i].fd < 0)
            die("accept");
        set_nonblock_nodelay(peers[i].fd);
        set_nonblock_nodelay(conns[i].fd);
    }
    close(ls);

    atomic_int stop = 0;
    iothr_t io[IO_THREADS];
    memset(io, 0, sizeof(io));
    int shared = mode == MODE_SHARED_ONESHOT ? epoll_create1(0) : -1;
    for (int t = 0; t < IO_THREADS; t++) {
        io[t].epfd = shared >= 0 ? shared : epoll_create1(0);
        io[t].mode = mode;
        io[t].stop = &stop;
    }
    for (int i = 0; i < nconns; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (mode == MODE_SHARED_ONESHOT)
            ev.events |= EPOLLONESHOT;
        if (epoll_ctl(io[i % IO_THREADS].epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
            die("epoll_ctl");
    }
    for (int t = 0; t < IO_THREADS; t++)
        pthread_create(&io[t].th, NULL, io_main, &io[t]);

    result_t res = {0};
    res.hist = calloc(HIST_US + 1, sizeof(uint32_t));
    load_run(peers, nconns, 300, run_ms, &res, io);
    uint64_t sys = 0, ctl = 0;
    for (int t = 0; t < IO_THREADS; t++) {
        ctl += atomic_load(&io[t].n_ctl);
        sys += atomic_load(&io[t].n_wait) + atomic_load(&io[t].n_read) +
               atomic_load(&io[t].n_write) + atomic_load(&io[t].n_ctl);
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < IO_THREADS; t++)
        pthread_join(io[t].th, NULL);

    row_t row = {0};
    double rts = res.round_trips ? (double)res.round_trips : 1.0;
    row.rps = res.round_trips / res.seconds;
    row.p50 = hist_pct(res.hist, res.round_trips, 0.50);
    row.p99 = hist_pct(res.hist, res.round_trips, 0.99);
    row.sys_per_rt = sys / rts;
    row.ctl_per_rt = ctl / rts;

    for (int t = 0; t < IO_THREADS; t++)
        if (mode == MODE_PER_THREAD || t == 0)
            close(io[t].epfd);
    for (int i = 0; i < nconns; i++) {
        close(peers[i].fd);
        close(conns[i].fd);
    }
    free(res.hist);
    free(peers);
    free(conns);
    return row;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3.0;
    if (secs <= 0)
        secs = 3.0;
    uint32_t run_ms = (uint32_t)(secs * 1000);
    const int sizes[] = {64, 1000};
    static const char *names[] = {"A: epoll per thread", "B: shared epoll + ONESHOT"};
    printf("| mode | conns | round trips/s | p50 us | p99 us | server syscalls/RT | "
           "epoll_ctl/RT | A/B rt/s |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        row_t r[2];
        for (int m = 0; m < 2; m++)
            r[m] = run_mode(m, sizes[s], run_ms);
        for (int m = 0; m < 2; m++) {
            char p50[16], p99[16]; /* the last bucket means "100 ms or more" */
            snprintf(p50, sizeof(p50), "%s%llu", r[m].p50 >= HIST_US ? ">=" : "",
                     (unsigned long long)r[m].p50);
            snprintf(p99, sizeof(p99), "%s%llu", r[m].p99 >= HIST_US ? ">=" : "",
                     (unsigned long long)r[m].p99);
            printf("| %s | %d | %.0f | %s | %s | %.2f | %.2f | %.2f |\n", names[m], sizes[s],
                   r[m].rps, p50, p99, r[m].sys_per_rt, r[m].ctl_per_rt,
                   r[1].rps > 0 ? r[0].rps / r[1].rps : 0.0);
        }
        fflush(stdout);
    }
    return 0;
}
#endif
