/* Hostile clients and witnesses (see hostile.h).  Plain sockets and poll;
 * every wait has a deadline; every buffer is bounded. */
#define _POSIX_C_SOURCE 200809L
#include "hostile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto_packets.h"

uint64_t ha_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- connections -------------------------------------------------------- */
#define RBUF 8192

typedef struct conn_s {
    int fd;
    int logged_in, in_world;
    uint16_t zone;
    float x, y;
    size_t rlen;
    size_t skip;      /* bytes of an oversized packet still to drop */
    int got_error;    /* error packets (or failed login_result) seen */
    int got_changed;  /* zone_changed seen */
    uint64_t pong_ct; /* client_time of the last pong */
    int pongs;
    uint8_t rbuf[RBUF]; /* last: conn_open clears everything before it */
} conn_t;

static void count_code(ha_result_t *r, int code)
{
    if (!r)
        return;
    r->errors[code >= 0 && code < HA_CODES - 1 ? code : HA_CODES - 1]++;
}

static int resolve(const char *host, uint16_t port, struct sockaddr_in *a)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
        return 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    a->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

/* Blocking connect (loopback: quick), then non-blocking.  rcvbuf > 0 shrinks
 * the receive buffer first (the non-reader).  0 or -1. */
static int conn_open(conn_t *c, const char *host, uint16_t port, int rcvbuf)
{
    struct sockaddr_in a;
    memset(c, 0, offsetof(conn_t, rbuf));
    c->fd = -1;
    if (resolve(host, port, &a) != 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return 0;
}

static void conn_close(conn_t *c, int rst)
{
    if (c->fd < 0)
        return;
    if (rst) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    c->fd = -1;
}

/* Writes what the socket takes now; bytes written, or -1 if it is closed. */
static ssize_t conn_write(conn_t *c, const uint8_t *p, size_t n, ha_result_t *r)
{
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if (r)
        r->bytes_out += (uint64_t)w;
    return w;
}

/* Writes all of p within timeout_ms (small control packets). 0 or -1. */
static int conn_write_all(conn_t *c, const uint8_t *p, size_t n, int timeout_ms, ha_result_t *r)
{
    uint64_t end = ha_now_ms() + (uint64_t)timeout_ms;
    while (n > 0) {
        ssize_t w = conn_write(c, p, n, r);
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
        if (n && ha_now_ms() >= end)
            return -1;
        if (n) {
            struct pollfd pf = {c->fd, POLLOUT, 0};
            poll(&pf, 1, 10);
        }
    }
    return 0;
}

static size_t frame(uint16_t type, const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    if (len + 4 > cap || len + 4 > 65535)
        return 0;
    uint16_t total = (uint16_t)(len + 4);
    out[0] = (uint8_t)total;
    out[1] = (uint8_t)(total >> 8);
    out[2] = (uint8_t)type;
    out[3] = (uint8_t)(type >> 8);
    if (len)
        memcpy(out + 4, body, len);
    return len + 4;
}

/* A whole packet (header + encoded body) for m into out; its size or 0. */
static size_t encode(const proto_msg_t *m, uint8_t *out, size_t cap)
{
    uint8_t body[4096];
    int n = proto_encode(m, body, sizeof body);
    return n < 0 ? 0 : frame(m->type, body, (size_t)n, out, cap);
}

static int conn_send_msg(conn_t *c, const proto_msg_t *m, ha_result_t *r)
{
    uint8_t pkt[4200];
    size_t n = encode(m, pkt, sizeof pkt);
    return n ? conn_write_all(c, pkt, n, 2000, r) : -1;
}

static void on_server_packet(conn_t *c, uint16_t type, const uint8_t *body, size_t len,
                             ha_result_t *r)
{
    static _Thread_local proto_msg_t m;
    if (r)
        r->packets_in++;
    if (proto_decode(type, body, len, &m) != 0)
        return;
    switch (type) {
    case PROTO_T_ERROR:
        c->got_error++;
        count_code(r, m.error.code);
        break;
    case PROTO_T_LOGIN_RESULT:
        if (m.login_result.code != 0) {
            c->got_error++;
            count_code(r, m.login_result.code);
        } else {
            c->logged_in = 1;
        }
        break;
    case PROTO_T_NOTICE:
        if (r)
            r->notices++;
        break;
    case PROTO_T_WORLD_ENTERED:
        c->in_world = 1;
        c->zone = m.world_entered.zone;
        c->x = m.world_entered.pos.x;
        c->y = m.world_entered.pos.y;
        break;
    case PROTO_T_ZONE_CHANGED:
        c->got_changed = 1;
        c->zone = m.zone_changed.zone;
        c->x = m.zone_changed.pos.x;
        c->y = m.zone_changed.pos.y;
        break;
    case PROTO_T_PONG:
        c->pong_ct = m.pong.client_time;
        c->pongs++;
        break;
    default: break;
    }
}

/* Reads what is there and parses whole packets.  With pong set, each pong
 * is also handed to it.  0, or -1 once the server closed the connection. */
typedef void (*pong_fn)(void *arg, uint64_t client_time);
static int conn_read(conn_t *c, ha_result_t *r, pong_fn pong, void *arg)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            if (r)
                r->closes++;
            return -1;
        }
        if (n < 0)
            return 0;
        if (r)
            r->bytes_in += (uint64_t)n;
        c->rlen += (size_t)n;
        size_t off = 0;
        for (;;) {
            if (c->skip) {
                size_t k = c->skip < c->rlen - off ? c->skip : c->rlen - off;
                c->skip -= k;
                off += k;
                if (c->skip)
                    break;
            }
            if (c->rlen - off < 4)
                break;
            const uint8_t *h = c->rbuf + off;
            size_t total = (size_t)h[0] | (size_t)h[1] << 8;
            uint16_t type = (uint16_t)(h[2] | h[3] << 8);
            if (total < 4) { /* a server never sends this: drop the stream */
                off = c->rlen;
                break;
            }
            if (total > RBUF) { /* larger than we keep: skip it */
                c->skip = total;
                continue;
            }
            if (c->rlen - off < total)
                break;
            int pongs = c->pongs;
            on_server_packet(c, type, h + 4, total - 4, r);
            if (pong && c->pongs != pongs)
                pong(arg, c->pong_ct);
            off += total;
        }
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

/* Reads until cond(c) or the deadline; 0 when cond held, -1 otherwise. */
static int conn_wait(conn_t *c, int (*cond)(const conn_t *), int timeout_ms, ha_result_t *r)
{
    uint64_t end = ha_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (cond(c))
            return 0;
        if (c->got_error)
            return -1;
        uint64_t now = ha_now_ms();
        if (now >= end)
            return -1;
        struct pollfd pf = {c->fd, POLLIN, 0};
        poll(&pf, 1, (int)(end - now));
        if (conn_read(c, r, NULL, NULL) < 0)
            return -1;
    }
}

static int is_logged_in(const conn_t *c)
{
    return c->logged_in;
}
static int is_in_world(const conn_t *c)
{
    return c->in_world;
}
static int has_changed(const conn_t *c)
{
    return c->got_changed;
}

/* Connects, logs in as name, enters the world and, if zone is set and
 * differs, changes to it.  0 or -1 (connection closed). */
static int conn_login(conn_t *c, const char *host, uint16_t port, const char *name, uint16_t zone,
                      int rcvbuf, int timeout_ms, ha_result_t *r)
{
    static _Thread_local proto_msg_t m;
    if (conn_open(c, host, port, rcvbuf) != 0) {
        if (r)
            r->connect_fail++;
        return -1;
    }
    if (r)
        r->conns++;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_LOGIN;
    snprintf(m.login.name, sizeof m.login.name, "%s", name);
    m.login.proto_hash = PROTO_HASH;
    proto_msg_t ew = {.type = PROTO_T_ENTER_WORLD};
    if (conn_send_msg(c, &m, r) != 0 || conn_wait(c, is_logged_in, timeout_ms, r) != 0 ||
        conn_send_msg(c, &ew, r) != 0 || conn_wait(c, is_in_world, timeout_ms, r) != 0)
        goto fail;
    if (zone && c->zone != zone) {
        proto_msg_t zc = {.type = PROTO_T_ZONE_CHANGE_REQUEST};
        zc.zone_change_request.zone = zone;
        if (conn_send_msg(c, &zc, r) != 0 || conn_wait(c, has_changed, timeout_ms, r) != 0 ||
            c->zone != zone)
            goto fail;
    }
    return 0;
fail:
    if (r)
        r->login_fail++;
    conn_close(c, 0);
    return -1;
}

static void conn_logout(conn_t *c)
{
    if (c->fd < 0)
        return;
    proto_msg_t m = {.type = PROTO_T_LOGOUT};
    conn_send_msg(c, &m, NULL);
    conn_close(c, 0);
}

/* ---- samples ------------------------------------------------------------ */
typedef struct samples_s {
    float *v; /* ms */
    size_t n, cap;
} samples_t;

static void samples_add(samples_t *s, float ms)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        float *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = ms;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* ---- witnesses ---------------------------------------------------------- */
#define WRING 512 /* pings in flight per witness (25 s at 20 Hz) */

typedef struct wconn_s {
    conn_t c;
    int group, dead;
    uint64_t next_ping_ns;
    uint64_t ring[WRING]; /* client_time of pings in flight, FIFO */
    unsigned head, count;
} wconn_t;

typedef struct wgroup_s {
    samples_t s[HA_MAX_PHASES];
    uint64_t sent[HA_MAX_PHASES], received[HA_MAX_PHASES], late[HA_MAX_PHASES];
    uint64_t errors;
    int disconnected;
} wgroup_t;

struct ha_wit_s {
    ha_wit_opts_t o;
    wconn_t *w;
    pthread_t thread;
    pthread_mutex_t mu; /* groups and rings */
    atomic_int phase, stop;
    uint64_t t0_ns;
    wgroup_t g[HA_MAX_GROUPS];
};

/* client_time = phase << 56 | ns since t0 */
static int ct_phase(uint64_t ct)
{
    return (int)(ct >> 56);
}

static void file_sample(ha_wit_t *w, wconn_t *x, uint64_t ct, uint64_t now, int late)
{
    int ph = ct_phase(ct);
    if (ph >= HA_MAX_PHASES)
        return;
    uint64_t sent = w->t0_ns + (ct & ((1ull << 56) - 1));
    wgroup_t *g = &w->g[x->group];
    samples_add(&g->s[ph], (float)((double)(now - sent) / 1e6));
    if (late)
        g->late[ph]++;
    else
        g->received[ph]++;
}

typedef struct pong_ctx_s {
    ha_wit_t *w;
    wconn_t *x;
} pong_ctx_t;

/* Pongs come back in order: pings before the answered one were lost. */
static void on_pong(void *arg, uint64_t ct)
{
    pong_ctx_t *p = arg;
    wconn_t *x = p->x;
    uint64_t now = now_ns();
    pthread_mutex_lock(&p->w->mu);
    while (x->count) {
        uint64_t first = x->ring[x->head];
        x->head = (x->head + 1) % WRING;
        x->count--;
        if (first == ct) {
            file_sample(p->w, x, ct, now, 0);
            break;
        }
        file_sample(p->w, x, first, now, 1);
    }
    pthread_mutex_unlock(&p->w->mu);
}

static void wit_ping(ha_wit_t *w, wconn_t *x, uint64_t now)
{
    int ph = atomic_load(&w->phase);
    uint64_t ct = (uint64_t)ph << 56 | ((now - w->t0_ns) & ((1ull << 56) - 1));
    proto_msg_t m = {.type = PROTO_T_PING};
    m.ping.client_time = ct;
    uint8_t pkt[64];
    size_t n = encode(&m, pkt, sizeof pkt);
    /* a ping is 16 bytes: all or nothing (a full socket buffer is the
     * server's problem showing, counted as a late ping) */
    pthread_mutex_lock(&w->mu);
    ssize_t wr = send(x->c.fd, pkt, n, MSG_NOSIGNAL);
    if (wr == (ssize_t)n) {
        if (x->count == WRING) { /* oldest in flight: late */
            file_sample(w, x, x->ring[x->head], now, 1);
            x->head = (x->head + 1) % WRING;
            x->count--;
        }
        x->ring[(x->head + x->count) % WRING] = ct;
        x->count++;
        w->g[x->group].sent[ph]++;
    } else if (wr > 0 || (wr < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        /* reset under us, or a partial ping (the stream is then out of step) */
        x->dead = 1;
        w->g[x->group].disconnected++;
        fprintf(stderr, "witness %s: ping send failed: connection lost\n", w->o.prefix);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *wit_main(void *arg)
{
    ha_wit_t *w = arg;
    int n = w->o.n;
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    if (!pf)
        return NULL;
    uint64_t period = 1000000000ull / (uint64_t)w->o.hz;
    for (int i = 0; i < n; i++) /* stagger the witnesses over one period */
        w->w[i].next_ping_ns = now_ns() + period * (uint64_t)i / (uint64_t)n;
    while (!atomic_load(&w->stop)) {
        uint64_t now = now_ns(), next = now + 5000000ull;
        for (int i = 0; i < n; i++) {
            wconn_t *x = &w->w[i];
            pf[i].fd = x->dead ? -1 : x->c.fd;
            pf[i].events = POLLIN;
            if (x->dead)
                continue;
            if (now >= x->next_ping_ns) {
                wit_ping(w, x, now);
                x->next_ping_ns += period;
                if (x->next_ping_ns < now) /* fell behind: no burst to catch up */
                    x->next_ping_ns = now + period;
            }
            if (x->next_ping_ns < next)
                next = x->next_ping_ns;
        }
        uint64_t t = now_ns();
        int ms = next > t ? (int)((next - t + 999999) / 1000000) : 0;
        poll(pf, (nfds_t)n, ms > 5 ? 5 : ms);
        for (int i = 0; i < n; i++) {
            wconn_t *x = &w->w[i];
            if (x->dead || !(pf[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            pong_ctx_t pc = {w, x};
            int errs = x->c.got_error;
            int rc = conn_read(&x->c, NULL, on_pong, &pc);
            pthread_mutex_lock(&w->mu);
            w->g[x->group].errors += (uint64_t)(x->c.got_error - errs);
            if (rc < 0 && !x->dead) {
                x->dead = 1;
                w->g[x->group].disconnected++;
                fprintf(stderr, "witness %s%d: disconnected by the server\n", w->o.prefix, i);
            }
            pthread_mutex_unlock(&w->mu);
        }
    }
    free(pf);
    return NULL;
}

int ha_wit_start(const ha_wit_opts_t *o, ha_wit_t **out, int timeout_ms)
{
    *out = NULL;
    if (o->n < 1 || o->n > 1024)
        return -1;
    ha_wit_t *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->o = *o;
    if (!w->o.prefix)
        w->o.prefix = "witness";
    if (w->o.hz <= 0)
        w->o.hz = 20;
    if (w->o.groups < 1 || w->o.groups > HA_MAX_GROUPS)
        w->o.groups = 1;
    w->w = calloc((size_t)o->n, sizeof *w->w);
    pthread_mutex_init(&w->mu, NULL);
    if (!w->w) {
        free(w);
        return -1;
    }
    uint64_t end = ha_now_ms() + (uint64_t)timeout_ms;
    for (int i = 0; i < o->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%d", w->o.prefix, i);
        w->w[i].group = i % w->o.groups;
        w->w[i].c.fd = -1;
        uint64_t now = ha_now_ms();
        int left = now < end ? (int)(end - now) : 1;
        if (conn_login(&w->w[i].c, o->host, o->port, name, w->o.zone[w->w[i].group], 0, left,
                       NULL) != 0) {
            fprintf(stderr, "witness %s: could not log in (zone %u) at %s:%u\n", name,
                    (unsigned)w->o.zone[w->w[i].group], o->host, (unsigned)o->port);
            for (int j = 0; j < i; j++)
                conn_logout(&w->w[j].c);
            free(w->w);
            free(w);
            return -1;
        }
    }
    w->t0_ns = now_ns();
    if (pthread_create(&w->thread, NULL, wit_main, w) != 0) {
        for (int j = 0; j < o->n; j++)
            conn_logout(&w->w[j].c);
        free(w->w);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void ha_wit_phase(ha_wit_t *w, int phase)
{
    if (phase >= 0 && phase < HA_MAX_PHASES)
        atomic_store(&w->phase, phase);
}

static uint64_t in_flight(ha_wit_t *w, int phase)
{
    uint64_t n = 0;
    for (int i = 0; i < w->o.n; i++) {
        wconn_t *x = &w->w[i];
        if (x->dead)
            continue;
        for (unsigned k = 0; k < x->count; k++)
            n += ct_phase(x->ring[(x->head + k) % WRING]) == phase;
    }
    return n;
}

void ha_wit_drain(ha_wit_t *w, int phase, int timeout_ms)
{
    uint64_t end = ha_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        uint64_t n = in_flight(w, phase);
        if (n == 0 || ha_now_ms() >= end) {
            /* what is left is late: filed with its age, out of the ring */
            uint64_t now = now_ns();
            for (int i = 0; n && i < w->o.n; i++) {
                wconn_t *x = &w->w[i];
                unsigned keep = 0;
                uint64_t tmp[WRING];
                for (unsigned k = 0; k < x->count; k++) {
                    uint64_t ct = x->ring[(x->head + k) % WRING];
                    if (ct_phase(ct) == phase && !x->dead)
                        file_sample(w, x, ct, now, 1);
                    else
                        tmp[keep++] = ct;
                }
                for (unsigned k = 0; k < keep; k++)
                    x->ring[k] = tmp[k];
                x->head = 0;
                x->count = keep;
            }
            pthread_mutex_unlock(&w->mu);
            return;
        }
        pthread_mutex_unlock(&w->mu);
        struct timespec ts = {0, 5000000}; /* the witness thread files pongs; look again */
        nanosleep(&ts, NULL);
    }
}

void ha_wit_stats(ha_wit_t *w, int group, int phase, ha_wit_stats_t *st)
{
    memset(st, 0, sizeof *st);
    if (phase < 0 || phase >= HA_MAX_PHASES)
        return;
    pthread_mutex_lock(&w->mu);
    size_t n = 0;
    for (int g = 0; g < w->o.groups; g++)
        if (group < 0 || group == g)
            n += w->g[g].s[phase].n;
    float *v = n ? malloc(n * sizeof *v) : NULL;
    size_t k = 0;
    for (int g = 0; g < w->o.groups; g++) {
        if (group >= 0 && group != g)
            continue;
        wgroup_t *x = &w->g[g];
        st->sent += x->sent[phase];
        st->received += x->received[phase];
        st->late += x->late[phase];
        st->disconnected += x->disconnected;
        st->errors += x->errors;
        if (v && x->s[phase].n) {
            memcpy(v + k, x->s[phase].v, x->s[phase].n * sizeof *v);
            k += x->s[phase].n;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (v && k) {
        qsort(v, k, sizeof *v, cmp_float);
        st->p50_ms = v[(size_t)((double)(k - 1) * 0.50 + 0.5)];
        st->p99_ms = v[(size_t)((double)(k - 1) * 0.99 + 0.5)];
        st->max_ms = v[k - 1];
    }
    free(v);
}

void ha_wit_reset(ha_wit_t *w, int phase)
{
    if (phase < 0 || phase >= HA_MAX_PHASES)
        return;
    pthread_mutex_lock(&w->mu);
    for (int g = 0; g < HA_MAX_GROUPS; g++) {
        w->g[g].s[phase].n = 0;
        w->g[g].sent[phase] = w->g[g].received[phase] = w->g[g].late[phase] = 0;
    }
    pthread_mutex_unlock(&w->mu);
}

int ha_wit_disconnected(ha_wit_t *w)
{
    pthread_mutex_lock(&w->mu);
    int d = 0;
    for (int g = 0; g < w->o.groups; g++)
        d += w->g[g].disconnected;
    pthread_mutex_unlock(&w->mu);
    return d;
}

void ha_wit_stop(ha_wit_t *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    for (int i = 0; i < w->o.n; i++)
        conn_logout(&w->w[i].c);
    for (int g = 0; g < HA_MAX_GROUPS; g++)
        for (int p = 0; p < HA_MAX_PHASES; p++)
            free(w->g[g].s[p].v);
    pthread_mutex_destroy(&w->mu);
    free(w->w);
    free(w);
}

/* ---- attack payloads ---------------------------------------------------- */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static size_t put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return 2;
}

/* A login body by hand: name bytes as given (any length, NULs allowed),
 * hash, token of tlen bytes. */
static size_t raw_login(uint8_t *out, size_t cap, const char *name, size_t nlen, uint64_t hash,
                        size_t tlen)
{
    uint8_t body[512];
    size_t n = 0;
    if (nlen > 200 || tlen > 200)
        return 0;
    n += put_u16(body + n, (unsigned)nlen);
    memcpy(body + n, name, nlen);
    n += nlen;
    for (int i = 0; i < 8; i++)
        body[n++] = (uint8_t)(hash >> (8 * i));
    n += put_u16(body + n, (unsigned)tlen);
    memset(body + n, 0x41, tlen);
    n += tlen;
    return frame(PROTO_T_LOGIN, body, n, out, cap);
}

/* Malformed body number k for the c2s types: truncated, one trailing byte,
 * a length prefix over its maximum (or 0xff bytes) -- rotating over types. */
static size_t malformed(uint32_t k, uint8_t *out, size_t cap, char *what, size_t wcap)
{
    uint16_t c2s[64];
    int nt = 0;
    for (int i = 0; i < PROTO_NTYPES && nt < 64; i++)
        if (proto_type_dir(proto_types[i]) == PROTO_DIR_C2S)
            c2s[nt++] = proto_types[i];
    uint16_t type = c2s[k % (uint32_t)nt];
    int variant = (int)((k / (uint32_t)nt) % 3);
    static _Thread_local proto_msg_t m;
    static _Thread_local uint8_t body[8192];
    proto_sample_fill(type, 0, k, &m);
    int n = proto_encode(&m, body, sizeof body);
    if (n < 0)
        return 0;
    size_t len = (size_t)n;
    const char *vname = "trailing byte";
    if (variant == 0 && len > 0) {
        len--;
        vname = "truncated";
    } else if (variant == 2 && len > 0) {
        memset(body, 0xff, len < 4 ? len : 4); /* first field: a huge length or junk */
        vname = "0xff head";
    } else {
        body[len++] = 0x7f;
    }
    snprintf(what, wcap, "%s %s", proto_type_name(type), vname);
    return frame(type, body, len, out, cap);
}

/* ---- attack runner ------------------------------------------------------ */
enum {
    F_LOGIN = 1,   /* log in and enter the world before sending */
    F_STREAM = 2,  /* send the payload again and again, as fast as TCP takes it */
    F_NOREAD = 4,  /* never read (non-reader) */
    F_SLOW = 8,    /* one byte per second */
    F_ONESHOT = 16 /* send once, wait up to 300 ms for an error or close, reconnect */
};

typedef struct cls_s {
    const char *name, *what;
    int flags;
    /* payload for slot s, attempt k: bytes into out; 0 = nothing */
    size_t (*gen)(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap);
} cls_t;

static size_t gen_random(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap)
{
    uint32_t s = o->seed ^ (uint32_t)slot * 2654435761u ^ k * 40503u;
    if (!s)
        s = 1;
    size_t n = cap < 4096 ? cap : 4096;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)rnd(&s);
    return n;
}

static size_t gen_len_short(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out,
                            size_t cap)
{
    (void)o, (void)slot, (void)cap;
    put_u16(out, k % 4); /* total length 0..3: below the header */
    put_u16(out + 2, PROTO_T_PING);
    memset(out + 4, 0, 8);
    return 12;
}

static size_t gen_len_long(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out,
                           size_t cap)
{
    (void)o, (void)slot;
    /* declared lengths above any sane max_packet, up to 65535; then a
     * start of body, the rest never comes */
    unsigned len = 65535 - (k % 60000);
    put_u16(out, len);
    put_u16(out + 2, PROTO_T_CHAT);
    size_t n = cap < 1024 ? cap : 1024;
    memset(out + 4, 'A', n - 4);
    return n;
}

static size_t gen_unknown(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap)
{
    (void)o, (void)slot;
    static const uint16_t types[] = {0,   9,   99,   PROTO_T_PONG, PROTO_T_ERROR, 200,
                                     207, 999, 1998, 1999,         4000,          65535};
    uint8_t body[8] = {0};
    return frame(types[k % (sizeof types / sizeof types[0])], body, k % 9, out, cap);
}

static size_t gen_malformed(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out,
                            size_t cap)
{
    (void)o;
    char what[64];
    return malformed(k * 7u + (uint32_t)slot, out, cap, what, sizeof what);
}

static size_t gen_prelogin(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out,
                           size_t cap)
{
    (void)o, (void)slot, (void)k;
    /* every in-world request, valid bodies, never logged in */
    static const uint16_t types[] = {PROTO_T_ENTER_WORLD, PROTO_T_MOVE, PROTO_T_CHAT,
                                     PROTO_T_WHO_REQUEST, PROTO_T_ZONE_CHANGE_REQUEST};
    size_t n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        proto_msg_t m;
        proto_sample_fill(types[i], 1, 0, &m);
        n += encode(&m, out + n, cap - n);
    }
    return n;
}

static size_t gen_login_edge(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out,
                             size_t cap)
{
    char name[64];
    snprintf(name, sizeof name, "%s%d", o->prefix, slot);
    switch (k % 9) {
    case 0: return raw_login(out, cap, "", 0, PROTO_HASH, 0);                           /* empty */
    case 1: return raw_login(out, cap, "abcdefghijklmnopqrstuvwxy", 25, PROTO_HASH, 0); /* 25 */
    case 2: return raw_login(out, cap, "bad name!", 9, PROTO_HASH, 0);
    case 3: return raw_login(out, cap, "x", 1, PROTO_HASH, 0);
    case 4: return raw_login(out, cap, "nul\0inside", 10, PROTO_HASH, 0);
    case 5: return raw_login(out, cap, name, strlen(name), PROTO_HASH ^ 1, 0); /* hash */
    case 6: return raw_login(out, cap, name, strlen(name), PROTO_HASH, 33);    /* token 33 > 32 */
    case 7: {                                                                  /* repeated login */
        size_t n = raw_login(out, cap, name, strlen(name), PROTO_HASH, 0);
        return n + raw_login(out + n, cap - n, name, strlen(name), PROTO_HASH, 0);
    }
    default: /* 200-byte name */ {
        char big[200];
        memset(big, 'n', sizeof big);
        return raw_login(out, cap, big, sizeof big, PROTO_HASH, 0);
    }
    }
}

static size_t gen_slowloris(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out,
                            size_t cap)
{
    (void)k;
    char name[64];
    snprintf(name, sizeof name, "%sslow%d", o->prefix, slot);
    return raw_login(out, cap, name, strlen(name), PROTO_HASH, 0);
}

/* Floods: a block of many whole packets, written cyclically. */
static size_t flood_block(uint16_t type, int slot, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; n + 300 < cap && i < 2000; i++) {
        proto_msg_t m = {.type = type};
        switch (type) {
        case PROTO_T_CHAT:
            snprintf(m.chat.text, sizeof m.chat.text, "flood %d #%u lorem ipsum dolor sit amet",
                     slot, i);
            break;
        case PROTO_T_WHO_REQUEST: m.who_request.scope = 1; break;
        case PROTO_T_PING: m.ping.client_time = i; break;
        default: break;
        }
        size_t k = encode(&m, out + n, cap - n);
        if (!k)
            break;
        n += k;
    }
    return n;
}

static size_t gen_chat(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap)
{
    (void)o, (void)k;
    return flood_block(PROTO_T_CHAT, slot, out, cap);
}
static size_t gen_who(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap)
{
    (void)o, (void)k;
    return flood_block(PROTO_T_WHO_REQUEST, slot, out, cap);
}
static size_t gen_ping(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap)
{
    (void)o, (void)k;
    return flood_block(PROTO_T_PING, slot, out, cap);
}
/* Moves filled in at send time (they need the spawn position): see below. */
static size_t gen_move(const ha_attack_opts_t *o, int slot, uint32_t k, uint8_t *out, size_t cap)
{
    (void)o, (void)slot, (void)k, (void)out, (void)cap;
    return 0;
}

static const cls_t classes[] = {
    {"random", "random bytes", F_STREAM, gen_random},
    {"len_short", "length below the header (0..3)", F_STREAM, gen_len_short},
    {"len_long", "length above max_packet (up to 65535)", F_STREAM, gen_len_long},
    {"unknown_type", "unknown and wrong-direction types", F_STREAM, gen_unknown},
    {"malformed", "malformed bodies of every c2s type, logged in", F_LOGIN | F_ONESHOT,
     gen_malformed},
    {"prelogin", "game packets before login", F_STREAM, gen_prelogin},
    {"login_edge", "empty/long/bad names, bad hash, big token, repeated login", F_ONESHOT,
     gen_login_edge},
    {"slowloris", "a login at 1 byte/s", F_STREAM | F_SLOW, gen_slowloris},
    {"silent", "silent connections up to a cap", 0, NULL},
    {"churn", "connect then RST, as fast as possible", 0, NULL},
    {"nonreader", "logged in, who requests, never reads", F_LOGIN | F_STREAM | F_NOREAD, gen_who},
    {"chat_flood", "zone chat as fast as TCP takes it", F_LOGIN | F_STREAM, gen_chat},
    {"move_flood", "moves as fast as TCP takes it", F_LOGIN | F_STREAM, gen_move},
    {"who_flood", "who (scope 1) as fast as TCP takes it", F_LOGIN | F_STREAM, gen_who},
    {"ping_flood", "pings as fast as TCP takes it", F_LOGIN | F_STREAM, gen_ping},
    {NULL, NULL, 0, NULL},
};

int ha_nclasses(void)
{
    return (int)(sizeof classes / sizeof classes[0]) - 1;
}

const char *ha_class_name(int i)
{
    return i >= 0 && i < ha_nclasses() ? classes[i].name : NULL;
}

const char *ha_class_what(int i)
{
    return i >= 0 && i < ha_nclasses() ? classes[i].what : NULL;
}

#define PAYLOAD (64 * 1024)

typedef struct slot_s {
    conn_t c;
    uint8_t *pay;
    size_t plen, poff;
    uint32_t attempt;
    uint64_t attempt_end, next_byte_ms, retry_at;
    int errs_at_start;
} slot_t;

static void progress(const ha_attack_opts_t *o, const char *cls, uint64_t t0, uint64_t *next,
                     const ha_result_t *r)
{
    uint64_t now = ha_now_ms();
    if (!o->progress || now < *next)
        return;
    *next += 1000;
    o->progress(o->progress_arg, cls, (double)(now - t0) / 1000.0, r);
}

/* Moves around the spawn: tiny alternating steps, all legal. */
static size_t move_block(const conn_t *c, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; n + 64 < cap && i < 3000; i++) {
        proto_msg_t m = {.type = PROTO_T_MOVE};
        m.move.pos.x = c->x + (i & 1 ? 0.01f : 0.0f);
        m.move.pos.y = c->y;
        m.move.client_time = i;
        n += encode(&m, out + n, cap - n);
    }
    return n;
}

static int slot_connect(const ha_attack_opts_t *o, const cls_t *k, int i, slot_t *s, ha_result_t *r,
                        uint64_t end)
{
    s->poff = 0;
    s->plen = 0;
    if (k->flags & F_LOGIN) {
        char name[40];
        snprintf(name, sizeof name, "%s%d", o->prefix, i);
        /* a slow login must not stretch the window: at most what is left of it */
        uint64_t now = ha_now_ms();
        int left = end > now + 5000 ? 5000 : end > now + 100 ? (int)(end - now) : 100;
        if (conn_login(&s->c, o->host, o->port, name, o->zone, k->flags & F_NOREAD ? 4096 : 0, left,
                       r) != 0)
            return -1;
    } else {
        if (conn_open(&s->c, o->host, o->port, 0) != 0) {
            r->connect_fail++;
            return -1;
        }
        r->conns++;
    }
    s->errs_at_start = s->c.got_error;
    s->plen = k->gen == gen_move ? move_block(&s->c, s->pay, PAYLOAD)
                                 : k->gen(o, i, s->attempt, s->pay, PAYLOAD);
    s->attempt++;
    s->attempt_end = ha_now_ms() + 300;
    s->next_byte_ms = ha_now_ms();
    return 0;
}

/* Sends the slot's payload as its flags say; -1 once the connection is gone. */
static int slot_send(const cls_t *k, slot_t *s, ha_result_t *r)
{
    if (s->plen == 0)
        return 0;
    if (k->flags & F_SLOW) {
        uint64_t now = ha_now_ms();
        if (now < s->next_byte_ms)
            return 0;
        s->next_byte_ms = now + 1000;
        ssize_t w = conn_write(&s->c, s->pay + s->poff, 1, r);
        if (w < 0)
            return -1;
        s->poff = (s->poff + (size_t)w) % s->plen;
        return 0;
    }
    if (!(k->flags & F_STREAM) && s->poff >= s->plen)
        return 0; /* one-shot: sent */
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t w = conn_write(&s->c, s->pay + s->poff, s->plen - s->poff, r);
        if (w < 0)
            return -1;
        if (w == 0)
            return 0;
        s->poff += (size_t)w;
        if (s->poff == s->plen) {
            if (!(k->flags & F_STREAM))
                return 0;
            s->poff = 0;
        }
    }
    return 0;
}

static void run_slots(const ha_attack_opts_t *o, const cls_t *k, int duration_ms, ha_result_t *r)
{
    int n = o->attackers;
    slot_t *sl = calloc((size_t)n, sizeof *sl);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    uint8_t *pays = malloc((size_t)n * PAYLOAD);
    if (!sl || !pf || !pays)
        goto out;
    for (int i = 0; i < n; i++) {
        sl[i].c.fd = -1;
        sl[i].pay = pays + (size_t)i * PAYLOAD;
    }
    uint64_t t0 = ha_now_ms(), end = t0 + (uint64_t)duration_ms, next = t0 + 1000;
    while (ha_now_ms() < end) {
        for (int i = 0; i < n; i++) {
            slot_t *s = &sl[i];
            if (s->c.fd < 0 &&
                (ha_now_ms() < s->retry_at || slot_connect(o, k, i, s, r, end) != 0)) {
                if (s->c.fd < 0 && ha_now_ms() >= s->retry_at)
                    s->retry_at = ha_now_ms() + 20; /* refused: do not spin */
                pf[i].fd = -1;
                continue;
            }
            if (slot_send(k, s, r) != 0) {
                r->closes++; /* reset while writing: closed by the server */
                conn_close(&s->c, 0);
                pf[i].fd = -1;
                continue;
            }
            if ((k->flags & F_ONESHOT) && ha_now_ms() >= s->attempt_end) {
                if (s->c.got_error == s->errs_at_start)
                    r->no_reason++;
                conn_close(&s->c, 0); /* answered (not closed) or silent: next attempt */
                pf[i].fd = -1;
                continue;
            }
            pf[i].fd = s->c.fd;
            pf[i].events = (short)((k->flags & F_NOREAD ? 0 : POLLIN) |
                                   (k->flags & F_STREAM && !(k->flags & F_SLOW) ? POLLOUT : 0));
        }
        poll(pf, (nfds_t)n, k->flags & (F_SLOW | F_ONESHOT) ? 20 : 5);
        for (int i = 0; i < n; i++) {
            slot_t *s = &sl[i];
            if (s->c.fd < 0 || (k->flags & F_NOREAD))
                continue;
            if (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) {
                if (conn_read(&s->c, r, NULL, NULL) < 0)
                    conn_close(&s->c, 0);
            }
        }
        progress(o, k->name, t0, &next, r);
    }
    for (int i = 0; i < n; i++) {
        slot_t *s = &sl[i];
        if (s->c.fd < 0)
            continue;
        if (k->flags & F_NOREAD) { /* closed under us? a reset shows on a write */
            uint8_t z = 0;
            if (send(s->c.fd, &z, 0, MSG_NOSIGNAL) < 0 || conn_read(&s->c, NULL, NULL, NULL) < 0) {
                r->closes++;
                conn_close(&s->c, 0);
                continue;
            }
        }
        r->open_at_end++;
        conn_close(&s->c, 1);
    }
out:
    free(sl);
    free(pf);
    free(pays);
}

/* silent: open up to silent_cap connections (as fast as they are taken),
 * keep them without a byte, note what the server does. */
static void run_silent(const ha_attack_opts_t *o, int duration_ms, ha_result_t *r)
{
    int cap = o->silent_cap > 0 ? o->silent_cap : 1000;
    conn_t *c = calloc((size_t)cap, sizeof *c);
    struct pollfd *pf = calloc((size_t)cap, sizeof *pf);
    if (!c || !pf)
        goto out;
    int opened = 0;
    uint64_t t0 = ha_now_ms(), end = t0 + (uint64_t)duration_ms, next = t0 + 1000;
    while (ha_now_ms() < end) {
        for (int k = 0; k < 64 && opened < cap; k++, opened++) {
            if (conn_open(&c[opened], o->host, o->port, 0) != 0) {
                r->connect_fail++;
                c[opened].fd = -1;
            } else {
                r->conns++;
            }
        }
        for (int i = 0; i < opened; i++) {
            pf[i].fd = c[i].fd;
            pf[i].events = POLLIN;
        }
        poll(pf, (nfds_t)opened, 10);
        for (int i = 0; i < opened; i++)
            if (c[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
                conn_read(&c[i], r, NULL, NULL) < 0)
                conn_close(&c[i], 0);
        progress(o, "silent", t0, &next, r);
    }
    for (int i = 0; i < opened; i++)
        if (c[i].fd >= 0) {
            r->open_at_end++;
            conn_close(&c[i], 1);
        }
out:
    free(c);
    free(pf);
}

/* churn: attackers parallel loops of connect + RST (every 4th a FIN). */
static void run_churn(const ha_attack_opts_t *o, int duration_ms, ha_result_t *r)
{
    uint64_t t0 = ha_now_ms(), end = t0 + (uint64_t)duration_ms, next = t0 + 1000;
    conn_t *c = malloc(sizeof *c);
    if (!c)
        return;
    uint32_t k = 0;
    while (ha_now_ms() < end) {
        uint64_t due =
            o->churn_per_s > 0 ? (ha_now_ms() - t0) * (uint64_t)o->churn_per_s / 1000u : UINT64_MAX;
        if (k >= due) {
            struct timespec ts = {0, 1000000}; /* at the rate cap: next millisecond */
            nanosleep(&ts, NULL);
            progress(o, "churn", t0, &next, r);
            continue;
        }
        for (int i = 0; i < o->attackers; i++, k++) {
            if (conn_open(c, o->host, o->port, 0) != 0) {
                r->connect_fail++;
                continue;
            }
            r->conns++;
            conn_close(c, k % 4 != 0);
        }
        progress(o, "churn", t0, &next, r);
    }
    free(c);
}

int ha_attack(const ha_attack_opts_t *oin, const char *cls, int duration_ms, ha_result_t *r)
{
    ha_attack_opts_t o = *oin;
    if (o.attackers < 1)
        o.attackers = 1;
    if (!o.prefix)
        o.prefix = "attack";
    if (!o.seed)
        o.seed = 0x9e3779b9u;
    memset(r, 0, sizeof *r);
    if (!strcmp(cls, "silent")) {
        run_silent(&o, duration_ms, r);
        return 0;
    }
    if (!strcmp(cls, "churn")) {
        run_churn(&o, duration_ms, r);
        return 0;
    }
    for (const cls_t *k = classes; k->name; k++)
        if (!strcmp(k->name, cls)) {
            run_slots(&o, k, duration_ms, r);
            return 0;
        }
    return -1;
}

int ha_got_reason(const ha_result_t *r)
{
    uint64_t e = 0;
    for (int i = 0; i < HA_CODES; i++)
        e += r->errors[i];
    return r->closes > 0 || e > 0 || r->notices > 0;
}

void ha_codes_text(const ha_result_t *r, char *buf, size_t cap)
{
    /* names from the protocol's own table; codes it lacks print as numbers */
    const char *names[HA_CODES];
    char num[HA_CODES][8];
    for (int i = 0; i < HA_CODES; i++) {
        snprintf(num[i], sizeof num[i], "%d", i);
        names[i] = i == HA_CODES - 1 ? "other" : num[i];
    }
#define HA_NAME_(name, val, msg)                                                                   \
    if ((val) >= 0 && (val) < HA_CODES - 1)                                                        \
        names[(val)] = #name;
    PROTO_ERR_MAP(HA_NAME_)
#undef HA_NAME_
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < HA_CODES && n < cap; i++)
        if (r->errors[i]) {
            int w = snprintf(buf + n, cap - n, "%s%s %llu", n ? ", " : "", names[i],
                             (unsigned long long)r->errors[i]);
            if (w < 0)
                break;
            n += (size_t)w;
        }
    if (!buf[0])
        snprintf(buf, cap, "-");
}

/* ---- the server from outside ------------------------------------------- */
int ha_http_get(uint16_t port, const char *path, char *buf, size_t cap)
{
    conn_t *c = malloc(sizeof *c);
    if (!c || conn_open(c, "127.0.0.1", port, 0) != 0) {
        free(c);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    size_t got = 0;
    if (conn_write_all(c, (const uint8_t *)req, (size_t)n, 2000, NULL) == 0) {
        uint64_t end = ha_now_ms() + 5000;
        while (got + 1 < cap && ha_now_ms() < end) {
            struct pollfd pf = {c->fd, POLLIN, 0};
            poll(&pf, 1, 100);
            ssize_t k = recv(c->fd, buf + got, cap - 1 - got, 0);
            if (k == 0)
                break;
            if (k > 0)
                got += (size_t)k;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                break;
        }
    }
    conn_close(c, 0);
    free(c);
    buf[got] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (!body)
        return -1;
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return (int)strlen(buf);
}

double ha_metric(const char *page, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = page; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

long ha_proc_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int ha_proc_fds(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}
