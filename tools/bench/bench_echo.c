/* bench_echo: echo load generator for netcore's framing (LE u16 length incl.
 * header, LE u16 type, body), independent of the servers it measures: plain
 * nonblocking sockets + epoll.  --suite (echo_suite.c) runs it against
 * uv_echo_peer and nc_echo_server and prints a markdown table. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "echo_bench.h"

#define HDR 4
#define PKT_TYPE 1
#define MAX_THREADS 8

/* ---- latency histogram: log-linear, 64 sub-buckets per power of two (<1.6%) */

#define H_SUB 6
#define H_MAXBIT 47
#define H_N ((H_MAXBIT - H_SUB + 2) << H_SUB)

typedef struct hist_s {
    uint64_t b[H_N];
    uint64_t n;
} hist_t;

static int hist_index(uint64_t v)
{
    if (v >= (1ull << H_MAXBIT))
        v = (1ull << H_MAXBIT) - 1;
    if (v < (2ull << H_SUB))
        return (int)v;
    int e = 63 - __builtin_clzll(v) - H_SUB;
    return (e << H_SUB) + (int)(v >> e);
}

static uint64_t hist_value(int idx)
{
    if (idx < (2 << H_SUB))
        return (uint64_t)idx;
    int e = (idx >> H_SUB) - 1;
    uint64_t m = (uint64_t)((idx & ((1 << H_SUB) - 1)) + (1 << H_SUB));
    return (m << e) + (1ull << e) / 2; /* bucket midpoint */
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->n++;
}

static void hist_merge(hist_t *dst, const hist_t *src)
{
    for (int i = 0; i < H_N; i++)
        dst->b[i] += src->b[i];
    dst->n += src->n;
}

static uint64_t hist_pct(const hist_t *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->n + 0.5), seen = 0;
    if (want < 1)
        want = 1;
    for (int i = 0; i < H_N; i++) {
        seen += h->b[i];
        if (seen >= want)
            return hist_value(i);
    }
    return hist_value(H_N - 1);
}

/* ---- connections and generator threads ---------------------------------- */

enum { PH_WARMUP, PH_MEASURE, PH_STOP };

/* A connection never has more than `inflight` packets outstanding, so its
 * receive buffer, send buffer and send-time FIFO are all sized by that. */
typedef struct conn_s {
    int fd;
    int dead;
    int want_out;
    uint32_t tx_seq, rx_seq;
    uint8_t *rbuf, *wbuf;
    size_t rlen, woff, wlen;
    uint64_t *ts; /* FIFO of send times: echoes come back in order */
    uint32_t ts_head, ts_n;
} conn_t;

typedef struct worker_s {
    pthread_t th;
    const opts_t *o;
    _Atomic int *phase;
    int ep, cpu;
    conn_t *conns;
    int nconns;
    uint8_t *tmpl; /* one packet, copied then stamped with a sequence */
    size_t pktlen;
    hist_t *hist;
    uint64_t measured;
    _Atomic uint64_t progress, errors;
} worker_t;

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void conn_fail(worker_t *w, conn_t *c, const char *what)
{
    if (c->dead)
        return;
    uint64_t prev = atomic_fetch_add(&w->errors, 1);
    if (prev < 5)
        fprintf(stderr, "bench_echo: connection %d: %s\n", c->fd, what);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd); /* at once: a server closing gracefully waits for our FIN */
    c->fd = -1;
    c->dead = 1;
}

static void conn_arm(worker_t *w, conn_t *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_flush(worker_t *w, conn_t *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_fail(w, c, strerror(errno));
            return;
        }
        c->woff += (size_t)n;
    }
    if (c->woff == c->wlen)
        c->woff = c->wlen = 0;
    conn_arm(w, c, c->wlen != 0);
}

static void conn_send(worker_t *w, conn_t *c, uint32_t k, uint64_t now)
{
    if (c->woff) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    uint32_t cap = (uint32_t)w->o->inflight;
    for (uint32_t i = 0; i < k; i++) {
        uint8_t *p = c->wbuf + c->wlen;
        memcpy(p, w->tmpl, w->pktlen);
        if (w->o->body >= 4) {
            uint32_t s = c->tx_seq;
            p[4] = (uint8_t)s, p[5] = (uint8_t)(s >> 8), p[6] = (uint8_t)(s >> 16),
            p[7] = (uint8_t)(s >> 24);
        }
        c->tx_seq++;
        c->wlen += w->pktlen;
        c->ts[(c->ts_head + c->ts_n) % cap] = now;
        c->ts_n++;
    }
    if (!c->want_out)
        conn_flush(w, c);
}

/* Cuts the echoed packets, records their round trips, sends as many again. */
static void conn_on_readable(worker_t *w, conn_t *c, int phase)
{
    size_t rcap = w->pktlen * (size_t)w->o->inflight;
    ssize_t n = read(c->fd, c->rbuf + c->rlen, rcap - c->rlen);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        conn_fail(w, c, n == 0 ? "server closed the connection" : strerror(errno));
        return;
    }
    c->rlen += (size_t)n;
    uint64_t now = now_ns();
    uint32_t cap = (uint32_t)w->o->inflight, k = 0;
    size_t off = 0;
    while (c->rlen - off >= HDR) {
        const uint8_t *p = c->rbuf + off;
        size_t plen = (size_t)p[0] | ((size_t)p[1] << 8);
        if (plen != w->pktlen || c->ts_n == 0) {
            conn_fail(w, c, "unexpected packet length or unsolicited packet");
            return;
        }
        if (c->rlen - off < plen)
            break;
        if (w->o->body >= 4 && ((uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                                (uint32_t)p[7] << 24) != c->rx_seq) {
            conn_fail(w, c, "echo out of order or corrupted");
            return;
        }
        c->rx_seq++;
        uint64_t sent = c->ts[c->ts_head];
        c->ts_head = (c->ts_head + 1) % cap;
        c->ts_n--;
        if (phase == PH_MEASURE) {
            hist_add(w->hist, now - sent);
            w->measured++;
        }
        k++;
        off += plen;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    atomic_fetch_add_explicit(&w->progress, k, memory_order_relaxed);
    if (k && phase != PH_STOP)
        conn_send(w, c, k, now);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    uint64_t now = now_ns();
    for (int i = 0; i < w->nconns; i++)
        conn_send(w, &w->conns[i], (uint32_t)w->o->inflight, now);
    struct epoll_event evs[512];
    int phase;
    while ((phase = atomic_load_explicit(w->phase, memory_order_relaxed)) != PH_STOP) {
        int n = epoll_wait(w->ep, evs, 512, 50);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c->dead && (evs[i].events & EPOLLOUT))
                conn_flush(w, c);
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                conn_on_readable(w, c, phase);
        }
    }
    return NULL;
}

/* ---- one load run ------------------------------------------------------- */

static int connect_one(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sl = sizeof(*a4);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*a6);
    } else {
        fprintf(stderr, "bench_echo: bad host '%s' (numeric address expected)\n", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        fprintf(stderr, "bench_echo: connect %s:%d: %s\n", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int conns_open(const opts_t *o, const char *host, int port, conn_t *cs)
{
    size_t pktlen = (size_t)(HDR + o->body), win = pktlen * (size_t)o->inflight;
    for (int i = 0; i < o->conns; i++) {
        conn_t *c = &cs[i];
        c->fd = connect_one(host, port);
        c->rbuf = malloc(win);
        c->wbuf = malloc(win);
        c->ts = malloc(sizeof(uint64_t) * (size_t)o->inflight);
        if (c->fd < 0 || !c->rbuf || !c->wbuf || !c->ts)
            return -1;
    }
    return 0;
}

static void conns_close(const opts_t *o, conn_t *cs)
{
    for (int i = 0; i < o->conns; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].rbuf);
        free(cs[i].wbuf);
        free(cs[i].ts);
    }
    free(cs);
}

static uint64_t progress_sum(worker_t *ws, int nw, uint64_t *errors)
{
    uint64_t s = 0, e = 0;
    for (int i = 0; i < nw; i++) {
        s += atomic_load_explicit(&ws[i].progress, memory_order_relaxed);
        e += atomic_load_explicit(&ws[i].errors, memory_order_relaxed);
    }
    *errors = e;
    return s;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
                          .tv_nsec = (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* CPU seconds (user + system, all threads) the server process has used;
 * < 0 when unknown.  Steadier than rt/s on a shared machine. */
static double proc_cpu_s(pid_t pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Drives the phases from the main thread and prints progress once a second.
 * Returns the measured window in ns. */
static uint64_t drive_phases(const opts_t *o, const char *label, _Atomic int *phase, worker_t *ws,
                             int nw, pid_t srv_pid, double *srv_cpu)
{
    double cpu0 = -1;
    uint64_t t0 = now_ns(), sec = 1000000000ull;
    uint64_t t_meas = t0 + (uint64_t)(o->warmup * 1e9), t_end = 0, m0 = 0;
    uint64_t next_tick = t0 + sec, last = 0, last_t = t0, errs;
    for (;;) {
        uint64_t next = atomic_load(phase) == PH_WARMUP ? t_meas : t_end;
        if (next_tick < next)
            next = next_tick;
        sleep_until(next);
        uint64_t now = now_ns();
        if (now >= next_tick) { /* the second that just ended, before any phase change */
            uint64_t p = progress_sum(ws, nw, &errs);
            if (!o->quiet)
                fprintf(stderr, "  [%s c=%d f=%d] %5.1fs %-7s %10.0f rt/s  errors=%" PRIu64 "\n",
                        label, o->conns, o->inflight, (double)(now - t0) / 1e9,
                        atomic_load(phase) == PH_WARMUP ? "warmup" : "measure",
                        (double)(p - last) * 1e9 / (double)(now - last_t), errs);
            last = p;
            last_t = now;
            next_tick += sec;
        }
        if (atomic_load(phase) == PH_WARMUP && now >= t_meas) {
            atomic_store(phase, PH_MEASURE);
            m0 = now;
            cpu0 = proc_cpu_s(srv_pid);
            t_end = now + (uint64_t)(o->duration * 1e9);
        } else if (atomic_load(phase) == PH_MEASURE && now >= t_end) {
            atomic_store(phase, PH_STOP);
            double cpu1 = proc_cpu_s(srv_pid);
            *srv_cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
            return now - m0;
        }
    }
}

static int workers_start(const opts_t *o, conn_t *cs, _Atomic int *phase, worker_t *ws)
{
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    for (int t = 0; t < o->threads; t++) {
        worker_t *w = &ws[t];
        int lo = t * o->conns / o->threads, hi = (t + 1) * o->conns / o->threads;
        w->o = o;
        w->phase = phase;
        w->cpu = o->pin < 0 ? -1 : (o->pin + t) % ncpu;
        w->conns = cs + lo;
        w->nconns = hi - lo;
        w->pktlen = (size_t)(HDR + o->body);
        w->tmpl = malloc(w->pktlen);
        w->hist = calloc(1, sizeof(hist_t));
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (!w->tmpl || !w->hist || w->ep < 0)
            return -1;
        w->tmpl[0] = (uint8_t)w->pktlen, w->tmpl[1] = (uint8_t)(w->pktlen >> 8);
        w->tmpl[2] = PKT_TYPE, w->tmpl[3] = 0;
        memset(w->tmpl + HDR, 'e', (size_t)o->body);
        for (int i = 0; i < w->nconns; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->conns[i]};
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->conns[i].fd, &ev) < 0)
                return -1;
        }
    }
    for (int t = 0; t < o->threads; t++)
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0)
            return -1;
    return 0;
}

static void collect(worker_t *ws, int nw, uint64_t window_ns, result_t *r)
{
    hist_t *h = calloc(1, sizeof(hist_t));
    uint64_t rt = 0, errs = 0;
    for (int t = 0; t < nw; t++) {
        pthread_join(ws[t].th, NULL);
        hist_merge(h, ws[t].hist);
        rt += ws[t].measured;
        errs += atomic_load(&ws[t].errors);
        close(ws[t].ep);
        free(ws[t].hist);
        free(ws[t].tmpl);
    }
    r->round_trips = rt;
    r->errors = errs;
    r->rt_per_s = (double)rt * 1e9 / (double)window_ns;
    r->p50_us = (double)hist_pct(h, 0.50) / 1e3;
    r->p99_us = (double)hist_pct(h, 0.99) / 1e3;
    r->p999_us = (double)hist_pct(h, 0.999) / 1e3;
    r->max_us = (double)hist_pct(h, 1.0) / 1e3;
    r->ok = errs == 0 && rt > 0;
    free(h);
}

int run_load(const opts_t *o, const char *label, const char *host, int port, pid_t srv_pid,
             result_t *r)
{
    memset(r, 0, sizeof(*r));
    conn_t *cs = calloc((size_t)o->conns, sizeof(conn_t));
    for (int i = 0; cs && i < o->conns; i++)
        cs[i].fd = -1;
    worker_t ws[MAX_THREADS];
    memset(ws, 0, sizeof(ws));
    _Atomic int phase = PH_WARMUP;
    if (!cs || conns_open(o, host, port, cs) < 0 || workers_start(o, cs, &phase, ws) < 0) {
        fprintf(stderr, "bench_echo: setup failed for %s:%d\n", host, port);
        if (cs)
            conns_close(o, cs);
        return -1;
    }
    double cpu = -1;
    uint64_t window = drive_phases(o, label, &phase, ws, o->threads, srv_pid, &cpu);
    collect(ws, o->threads, window, r);
    r->srv_cpu_us_rt = cpu >= 0 && r->round_trips ? cpu * 1e6 / (double)r->round_trips : -1;
    conns_close(o, cs);
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)need)
        return;
    rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)need)
        fprintf(stderr, "bench_echo: RLIMIT_NOFILE is %lu, %d wanted\n", (unsigned long)rl.rlim_cur,
                need);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_echo [--host 127.0.0.1] --port N [--conns 64] [--inflight 1]\n"
                    "                  [--size 32] [--warmup 1] [--duration 5] [--threads 1]\n"
                    "                  [--pin CPU] [--quiet] [--server-pid PID]\n"
                    "       bench_echo --suite [--repeat 1] [--uv PATH] [--nc PATH]\n"
                    "                  [--nc-args \"--io-threads 1 --workers 1\"] [load options]\n"
                    "       (--pin CPU pins generator thread t to CPU+t; with --suite the\n"
                    "        servers then run on the remaining CPUs)\n");
    return 2;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--suite"))
            o->suite = 1, used = 0;
        else if (!strcmp(a, "--quiet"))
            o->quiet = 1, used = 0;
        else if (!v)
            return -1;
        else if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--conns"))
            o->conns = atoi(v);
        else if (!strcmp(a, "--inflight"))
            o->inflight = atoi(v);
        else if (!strcmp(a, "--size"))
            o->body = atoi(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atof(v);
        else if (!strcmp(a, "--duration"))
            o->duration = atof(v);
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "--pin"))
            o->pin = atoi(v);
        else if (!strcmp(a, "--repeat"))
            o->repeat = atoi(v);
        else if (!strcmp(a, "--uv"))
            o->uv_path = v;
        else if (!strcmp(a, "--nc"))
            o->nc_path = v;
        else if (!strcmp(a, "--nc-args"))
            o->nc_args = v;
        else if (!strcmp(a, "--server-pid"))
            o->srv_pid = (pid_t)atoi(v);
        else
            return -1;
        i += used;
    }
    if (o->conns < 1 || o->inflight < 1 || o->body < 0 || o->body > 65535 - HDR || o->threads < 1 ||
        o->threads > MAX_THREADS || o->duration <= 0 || o->warmup < 0)
        return -1;
    if (!o->suite && o->port <= 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.host = "127.0.0.1",
                .conns = 64,
                .inflight = 1,
                .body = 32,
                .warmup = 1,
                .duration = 5,
                .threads = 1,
                .pin = -1,
                .repeat = 1,
                .nc_args = "--io-threads 1 --workers 1"};
    if (parse_args(argc, argv, &o) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    /* Generator and servers (children inherit it) each need one fd a session. */
    raise_nofile((o.suite ? 1000 : o.conns) + 256);
    if (o.suite)
        return run_suite(&o);
    result_t r;
    if (run_load(&o, "echo", o.host, o.port, o.srv_pid, &r) < 0)
        return 1;
    printf("conns=%d inflight=%d size=%d threads=%d: %.0f rt/s  p50 %.1f us  p99 %.1f us  "
           "p99.9 %.1f us  max %.1f us  errors %" PRIu64,
           o.conns, o.inflight, o.body, o.threads, r.rt_per_s, r.p50_us, r.p99_us, r.p999_us,
           r.max_us, r.errors);
    if (r.srv_cpu_us_rt >= 0)
        printf("  server CPU %.2f us/rt", r.srv_cpu_us_rt);
    printf("\n");
    return r.ok ? 0 : 1;
}
