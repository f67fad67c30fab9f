/* Engine tests over real sockets on 127.0.0.1: echo between roles of one
 * engine, framing edge cases, limits (send bound, session cap, idle), client
 * reconnect, and connect/close cycles that must leak nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_testutil.h"
#include "netcore.h"
#include "internal.h" /* nc__idle_over */
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture: one pool, one engine, an echo server ---------------------- */

#define KICK_TYPE 99
#define FLUSH_TYPE 98 /* reply, nc_send_flush, then wait for the test to see it */

typedef struct {
    atomic_int opened, closed, packets;
    atomic_int closed_bad_length, closed_send_full, closed_idle;
    atomic_int echo;    /* 1 = echo packets back */
    atomic_int notices; /* KICK_TYPE + 1 packets received */
    atomic_int flush_seen, flush_ok;
    nc_mutex_t lock; /* guards last_reason: sessions close in parallel */
    char last_reason[64];
} counters_t;

typedef struct {
    nc_pool_t *pool;
    nc_queue_t *q;
    nc_engine_t *e;
    nc_server_t *srv;
    counters_t sc; /* server side */
    counters_t cc; /* client side */
} fx_t;

static void on_open(nc_session_t *s, void *ud)
{
    (void)s;
    atomic_fetch_add(&((counters_t *)ud)->opened, 1);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    counters_t *c = ud;
    atomic_fetch_add(&c->packets, 1);
    if (type == KICK_TYPE + 1)
        atomic_fetch_add(&c->notices, 1);
    if (type == KICK_TYPE) { /* a notice, then an orderly close */
        nc_send(s, KICK_TYPE + 1, "bye", 3);
        nc_session_close(s, 0, "kicked");
        return;
    }
    if (type == FLUSH_TYPE) { /* the reply must leave while this job still runs */
        nc_send(s, type, body, len);
        nc_send_flush();
        uint64_t deadline = nc_now_ms() + 5000;
        while (!atomic_load(&c->flush_seen) && nc_now_ms() < deadline)
            nc__sleep_ms(1);
        atomic_store(&c->flush_ok, atomic_load(&c->flush_seen) ? 1 : -1);
        return;
    }
    if (atomic_load(&c->echo))
        nc_send(s, type, body, len);
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    counters_t *c = ud;
    (void)s;
    /* text first: the counters below publish it to the waiting test */
    nc__mutex_lock(&c->lock);
    snprintf(c->last_reason, sizeof(c->last_reason), "%s", why->text);
    nc__mutex_unlock(&c->lock);
    if (strcmp(why->text, NC_REASON_BAD_LENGTH) == 0)
        atomic_fetch_add(&c->closed_bad_length, 1);
    if (strcmp(why->text, NC_REASON_SEND_FULL) == 0)
        atomic_fetch_add(&c->closed_send_full, 1);
    if (strcmp(why->text, NC_REASON_IDLE) == 0)
        atomic_fetch_add(&c->closed_idle, 1);
    atomic_fetch_add(&c->closed, 1);
}

static nc_role_opts_t role_opts(fx_t *f, counters_t *c, const char *name)
{
    nc_role_opts_t o = {0};
    o.name = name;
    o.queue = f->q;
    o.handlers.on_open = on_open;
    o.handlers.on_packet = on_packet;
    o.handlers.on_close = on_close;
    o.ud = c;
    return o;
}

static fx_t *fx_new(int io_threads, const nc_role_opts_t *srv_over)
{
    fx_t *f = calloc(1, sizeof(*f));
    nc__mutex_init(&f->sc.lock);
    nc__mutex_init(&f->cc.lock);
    nc_pool_opts_t po = {.name = "test", .threads = 4};
    assert_int_equal(nc_pool_create(&po, &f->pool), 0);
    nc_queue_opts_t qo = {.name = "game", .max_threads = 4, .priority = NC_PRIO_HIGH};
    assert_int_equal(nc_queue_create(f->pool, &qo, &f->q), 0);
    nc_engine_opts_t eo = {.io_threads = io_threads};
    assert_int_equal(nc_engine_create(&eo, &f->e), 0);
    atomic_store(&f->sc.echo, 1);
    nc_role_opts_t so = role_opts(f, &f->sc, "srv");
    if (srv_over) {
        so.max_packet = srv_over->max_packet;
        so.max_send_bytes = srv_over->max_send_bytes;
        so.idle_timeout_ms = srv_over->idle_timeout_ms;
        so.max_sessions = srv_over->max_sessions;
        so.idle_notice = srv_over->idle_notice;
    }
    assert_int_equal(nc_server_create(f->e, "127.0.0.1", 0, &so, &f->srv), 0);
    assert_true(nc_server_port(f->srv) > 0);
    return f;
}

static void fx_free(fx_t *f)
{
    nc_engine_destroy(f->e);
    nc_queue_stats_t st[4];
    int n = nc_pool_stats(f->pool, st, 4);
    for (int i = 0; i < n && i < 4; i++)
        assert_int_equal(st[i].pending, 0);
    nc_pool_destroy(f->pool);
    nc__mutex_destroy(&f->sc.lock);
    nc__mutex_destroy(&f->cc.lock);
    assert_int_equal(atomic_load(&f->sc.opened), atomic_load(&f->sc.closed));
    assert_int_equal(atomic_load(&f->cc.opened), atomic_load(&f->cc.closed));
    free(f);
}

static nc_client_t *fx_client(fx_t *f, int no_reconnect)
{
    nc_client_t *c;
    nc_role_opts_t o = role_opts(f, &f->cc, "cli");
    o.no_reconnect = no_reconnect;
    o.reconnect_base_ms = 20;
    o.reconnect_max_ms = 200;
    assert_int_equal(nc_client_create(f->e, "127.0.0.1", nc_server_port(f->srv), &o, &c), 0);
    return c;
}

static bool client_connected(void *c)
{
    return nc_client_session(c) != 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_echo_round_trip_between_server_and_client_roles(void **st)
{
    (void)st;
    fx_t *f = fx_new(2, NULL);
    nc_client_t *c = fx_client(f, 1);
    assert_true(nc_test_wait(client_connected, c, 5000));
    for (int i = 0; i < 100; i++) {
        char body[32];
        int n = snprintf(body, sizeof(body), "hello %d", i);
        assert_int_equal(nc_send_id(f->e, nc_client_session(c), 7, body, (size_t)n), 0);
    }
    assert_true(nc_test_wait_atomic_ge(&f->cc.packets, 100, 5000));
    assert_int_equal(atomic_load(&f->sc.packets), 100);
    nc_client_destroy(c);
    fx_free(f);
}

static void test_one_io_thread_serves_a_server_and_two_clients(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    nc_client_t *a = fx_client(f, 1), *b = fx_client(f, 1);
    assert_true(nc_test_wait(client_connected, a, 5000));
    assert_true(nc_test_wait(client_connected, b, 5000));
    for (int i = 0; i < 500; i++) {
        assert_int_equal(nc_send_id(f->e, nc_client_session(a), 1, "a", 1), 0);
        assert_int_equal(nc_send_id(f->e, nc_client_session(b), 2, "bb", 2), 0);
    }
    assert_true(nc_test_wait_atomic_ge(&f->cc.packets, 1000, 5000));
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.sessions_live, 2);
    assert_int_equal(rs.packets_in, 1000);
    nc_client_destroy(a);
    nc_client_destroy(b);
    fx_free(f);
}

/* Raw-socket peer: reads echoed packets and checks them. */
static void expect_echo(int fd, uint16_t type, const uint8_t *body, size_t len)
{
    uint8_t *buf = malloc(len + 4);
    assert_int_equal(nc_test_sock_read_full(fd, buf, len + 4, 5000), 0);
    assert_int_equal(buf[0] | (buf[1] << 8), (int)(len + 4));
    assert_int_equal(buf[2] | (buf[3] << 8), type);
    assert_memory_equal(buf + 4, body, len);
    free(buf);
}

static void test_header_dribbled_one_byte_at_a_time_is_framed(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    uint8_t pkt[4 + 10] = {14, 0, 0x34, 0x12, 'd', 'r', 'i', 'b', 'b', 'l', 'e', '!', '!', '!'};
    for (size_t i = 0; i < sizeof(pkt); i++)
        assert_int_equal(nc_test_sock_write_all(fd, pkt + i, 1), 0);
    expect_echo(fd, 0x1234, pkt + 4, 10);
    nc_test_sock_close(fd);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 1, 5000));
    fx_free(f);
}

static void test_thousand_packets_in_one_write_all_arrive(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    enum { N = 1000 };
    uint8_t *buf = malloc(N * 8);
    for (int i = 0; i < N; i++) {
        uint8_t *p = buf + i * 8;
        p[0] = 8, p[1] = 0, p[2] = 9, p[3] = 0;
        memcpy(p + 4, &i, 4);
    }
    assert_int_equal(nc_test_sock_write_all(fd, buf, N * 8), 0);
    for (int i = 0; i < N; i++)
        expect_echo(fd, 9, buf + i * 8 + 4, 4); /* in order */
    assert_int_equal(atomic_load(&f->sc.packets), N);
    free(buf);
    nc_test_sock_close(fd);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 1, 5000));
    fx_free(f);
}

static void test_maximum_size_packet_round_trips(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    size_t len = NC_MAX_PACKET - 4;
    uint8_t *pkt = malloc(NC_MAX_PACKET);
    pkt[0] = 0xff, pkt[1] = 0xff, pkt[2] = 1, pkt[3] = 0;
    for (size_t i = 0; i < len; i++)
        pkt[4 + i] = (uint8_t)(i * 7);
    assert_int_equal(nc_test_sock_write_all(fd, pkt, NC_MAX_PACKET), 0);
    expect_echo(fd, 1, pkt + 4, len);
    free(pkt);
    nc_test_sock_close(fd);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 1, 5000));
    fx_free(f);
}

static void bad_length_closes_only_offender(uint8_t b0, uint8_t b1, uint32_t max_packet)
{
    nc_role_opts_t over = {.max_packet = max_packet};
    fx_t *f = fx_new(1, &over);
    int good = nc_test_sock_connect(nc_server_port(f->srv));
    int bad = nc_test_sock_connect(nc_server_port(f->srv));
    assert_true(nc_test_wait_atomic_ge(&f->sc.opened, 2, 5000));
    uint8_t hdr[4] = {b0, b1, 1, 0};
    assert_int_equal(nc_test_sock_write_all(bad, hdr, 4), 0);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed_bad_length, 1, 5000));
    assert_true(nc_test_sock_wait_eof(bad, 5000));
    uint8_t ok[6] = {6, 0, 3, 0, 'o', 'k'};
    assert_int_equal(nc_test_sock_write_all(good, ok, 6), 0);
    expect_echo(good, 3, ok + 4, 2);
    assert_int_equal(atomic_load(&f->sc.closed), 1);
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.closed_bad_length, 1);
    nc_test_sock_close(good);
    nc_test_sock_close(bad);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 2, 5000));
    fx_free(f);
}

static void test_oversize_packet_closes_only_that_session(void **st)
{
    (void)st;
    bad_length_closes_only_offender(0x01, 0x04, 1024); /* 1025 > 1024 */
}

static void test_length_below_header_closes_only_that_session(void **st)
{
    (void)st;
    bad_length_closes_only_offender(3, 0, 0);
}

static void test_notice_before_close_reaches_a_peer_that_keeps_sending(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    for (int round = 0; round < 20; round++) {
        int fd = nc_test_sock_connect(nc_server_port(f->srv));
        uint8_t kick[4] = {4, 0, KICK_TYPE, 0};
        assert_int_equal(nc_test_sock_write_all(fd, kick, 4), 0);
        /* keep talking while the server closes: unread input at close time
         * must not turn into a RST that destroys the notice */
        uint8_t chatter[64 * 5];
        for (int i = 0; i < 64; i++)
            memcpy(chatter + i * 5, (uint8_t[]){5, 0, 1, 0, 'x'}, 5);
        for (int i = 0; i < 20; i++)
            if (nc_test_sock_write_all(fd, chatter, sizeof(chatter)) != 0)
                break;
        uint8_t got[7];
        assert_int_equal(nc_test_sock_read_full(fd, got, 7, 5000), 0);
        assert_int_equal(got[2], KICK_TYPE + 1);
        assert_memory_equal(got + 4, "bye", 3);
        nc_test_sock_close(fd);
    }
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 20, 5000));
    fx_free(f);
}

static void test_packets_that_arrived_before_the_peer_closed_are_delivered(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    for (int round = 1; round <= 20; round++) {
        nc_client_t *c = fx_client(f, 1);
        assert_true(nc_test_wait(client_connected, c, 5000));
        assert_int_equal(nc_send_id(f->e, nc_client_session(c), KICK_TYPE, NULL, 0), 0);
        assert_true(nc_test_wait_atomic_ge(&f->cc.closed, round, 5000));
        /* the notice and the FIN often land in one read: both must count */
        assert_int_equal(atomic_load(&f->cc.notices), round);
        nc_client_destroy(c);
    }
    fx_free(f);
}

/* Packet and FIN sent back to back usually both wait in the socket before
 * the server reads at all: an edge-triggered backend that stopped at the
 * short read would never see the FIN (no edge comes after it). */
static void test_packet_then_fin_at_once_is_delivered_and_closes(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    enum { ROUNDS = 200 };
    int fds[ROUNDS];
    uint8_t p[5] = {5, 0, 1, 0, 'x'};
    for (int i = 0; i < ROUNDS; i++) {
        fds[i] = nc_test_sock_connect(nc_server_port(f->srv));
        assert_true(fds[i] >= 0);
        assert_int_equal(nc_test_sock_write_all(fds[i], p, sizeof(p)), 0);
        nc_test_sock_shutdown_write(fds[i]);
    }
    /* every packet is echoed and every session closes on the FIN alone */
    for (int i = 0; i < ROUNDS; i++) {
        uint8_t back[5];
        assert_int_equal(nc_test_sock_read_full(fds[i], back, sizeof(back), 5000), 0);
        assert_memory_equal(back, p, sizeof(p));
    }
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, ROUNDS, 10000));
    assert_int_equal(atomic_load(&f->sc.packets), ROUNDS);
    for (int i = 0; i < ROUNDS; i++)
        nc_test_sock_close(fds[i]);
    fx_free(f);
}

/* Sends from a job are written when it returns (corking); nc_send_flush
 * writes them before that. */
static void test_send_flush_writes_before_the_job_returns(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    uint8_t p[5] = {5, 0, FLUSH_TYPE, 0, 'f'}, back[5];
    assert_int_equal(nc_test_sock_write_all(fd, p, sizeof(p)), 0);
    assert_int_equal(nc_test_sock_read_full(fd, back, sizeof(back), 3000), 0);
    atomic_store(&f->sc.flush_seen, 1);
    assert_memory_equal(back, p, sizeof(p));
    assert_true(nc_test_wait_atomic_ge(&f->sc.flush_ok, 1, 5000));
    nc_test_sock_close(fd);
    fx_free(f);
}

static void test_peer_that_never_reads_is_cut_at_send_bound(void **st)
{
    (void)st;
    nc_role_opts_t over = {.max_send_bytes = 256 * 1024};
    fx_t *f = fx_new(1, &over);
    int good = nc_test_sock_connect(nc_server_port(f->srv));
    int lazy = nc_test_sock_connect(nc_server_port(f->srv));
    nc_test_sock_shrink_rcvbuf(lazy);
    /* the lazy peer sends 8 MiB of echo requests and never reads */
    enum { BODY = 4092 };
    uint8_t *pkt = calloc(1, BODY + 4);
    pkt[0] = (BODY + 4) & 0xff, pkt[1] = (BODY + 4) >> 8, pkt[2] = 5;
    for (int i = 0; i < 2048 && !atomic_load(&f->sc.closed_send_full); i++)
        if (nc_test_sock_write_all(lazy, pkt, BODY + 4) != 0)
            break;
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed_send_full, 1, 10000));
    uint8_t ok[6] = {6, 0, 3, 0, 'o', 'k'};
    assert_int_equal(nc_test_sock_write_all(good, ok, 6), 0);
    expect_echo(good, 3, ok + 4, 2);
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.closed_send_full, 1);
    assert_int_equal(rs.sessions_live, 1);
    free(pkt);
    nc_test_sock_close(good);
    nc_test_sock_close(lazy);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 2, 5000));
    fx_free(f);
}

/* The idle test with a receive stamped after the watchdog read its clock
 * (an I/O thread between the two reads): never idle.  It once wrapped
 * now - last to 2^64 and closed an active player "for inactivity". */
static void test_idle_test_survives_a_receive_newer_than_the_clock(void **st)
{
    (void)st;
    assert_false(nc__idle_over(5001, 5000, 120000));   /* newer: not idle */
    assert_false(nc__idle_over(5000, 5000, 120000));   /* just now */
    assert_false(nc__idle_over(5000, 124999, 120000)); /* 1 ms short */
    assert_true(nc__idle_over(5000, 125000, 120000));  /* exactly idle */
    assert_false(nc__idle_over(5000, 1000000, 0));     /* off */
}

static void test_idle_session_is_closed_with_reason_idle(void **st)
{
    (void)st;
    nc_role_opts_t over = {.idle_timeout_ms = 150};
    fx_t *f = fx_new(1, &over);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed_idle, 1, 5000));
    assert_true(nc_test_sock_wait_eof(fd, 5000));
    nc__mutex_lock(&f->sc.lock);
    assert_string_equal(f->sc.last_reason, NC_REASON_IDLE);
    nc__mutex_unlock(&f->sc.lock);
    nc_test_sock_close(fd);
    fx_free(f);
}

/* idle_notice (issue 14): the idle peer receives the notice packet, then
 * an orderly close (EOF after the data, not a reset). */
static void test_idle_close_sends_the_notice_first(void **st)
{
    (void)st;
    nc_packet_t *notice = nc_packet_alloc(16);
    assert_non_null(notice);
    memcpy(nc_packet_body(notice), "idle!", 5);
    notice->len = 5;
    notice->type = 9;
    nc_role_opts_t over = {.idle_timeout_ms = 150, .idle_notice = notice};
    fx_t *f = fx_new(1, &over);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    expect_echo(fd, 9, (const uint8_t *)"idle!", 5); /* the notice, framed */
    assert_true(nc_test_sock_wait_eof(fd, 5000));
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed_idle, 1, 5000));
    nc__mutex_lock(&f->sc.lock);
    assert_string_equal(f->sc.last_reason, NC_REASON_IDLE);
    nc__mutex_unlock(&f->sc.lock);
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.closed_idle, 1);
    nc_test_sock_close(fd);
    fx_free(f);
    nc_packet_release(notice); /* the caller's, kept until the role is gone */
}

/* A client's failed connect leaves its code in last_connect_error. */
static void test_failed_connect_reports_its_error(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    uint16_t port = nc_server_port(f->srv);
    nc_server_destroy(f->srv); /* nothing listens on port now */
    f->srv = NULL;
    nc_client_t *c;
    nc_role_opts_t o = role_opts(f, &f->cc, "cli");
    o.no_reconnect = 1;
    assert_int_equal(nc_client_create(f->e, "127.0.0.1", port, &o, &c), 0);
    nc_role_stats_t rs = {0};
    uint64_t deadline = nc_now_ms() + 5000;
    do {
        nc_client_stats(c, &rs);
        if (rs.connect_failures > 0)
            break;
        nc__sleep_ms(5);
    } while (nc_now_ms() < deadline);
    assert_int_equal(rs.connect_failures, 1);
    assert_int_equal(rs.last_connect_error, NC_ECONNREFUSED);
    nc_client_destroy(c);
    fx_free(f);
}

static void test_connections_over_cap_are_closed_and_counted(void **st)
{
    (void)st;
    nc_role_opts_t over = {.max_sessions = 2};
    fx_t *f = fx_new(1, &over);
    int a = nc_test_sock_connect(nc_server_port(f->srv));
    int b = nc_test_sock_connect(nc_server_port(f->srv));
    assert_true(nc_test_wait_atomic_ge(&f->sc.opened, 2, 5000));
    int c = nc_test_sock_connect(nc_server_port(f->srv));
    assert_true(nc_test_sock_wait_eof(c, 5000));
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.rejected_cap, 1);
    assert_int_equal(rs.sessions_live, 2);
    nc_test_sock_close(a);
    nc_test_sock_close(b);
    nc_test_sock_close(c);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 2, 5000));
    fx_free(f);
}

static void test_client_reconnects_after_server_restart(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    uint16_t port = nc_server_port(f->srv);
    nc_client_t *c = fx_client(f, 0);
    assert_true(nc_test_wait(client_connected, c, 5000));
    nc_server_destroy(f->srv);
    assert_true(nc_test_wait_atomic_ge(&f->cc.closed, 1, 5000));
    nc_role_opts_t so = role_opts(f, &f->sc, "srv2");
    assert_int_equal(nc_server_create(f->e, "127.0.0.1", port, &so, &f->srv), 0);
    assert_true(nc_test_wait_atomic_ge(&f->cc.opened, 2, 10000));
    assert_true(nc_test_wait(client_connected, c, 5000));
    assert_int_equal(nc_send_id(f->e, nc_client_session(c), 4, "back", 4), 0);
    assert_true(nc_test_wait_atomic_ge(&f->cc.packets, 1, 5000));
    nc_role_stats_t rs;
    nc_client_stats(c, &rs);
    assert_true(rs.reconnects >= 1);
    nc_client_destroy(c);
    fx_free(f);
}

static void test_stale_session_id_is_detected(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    nc_client_t *c = fx_client(f, 1);
    assert_true(nc_test_wait(client_connected, c, 5000));
    nc_sid_t id = nc_client_session(c);
    assert_int_equal(nc_close_id(f->e, id, 0, "bye"), 0);
    assert_true(nc_test_wait_atomic_ge(&f->cc.closed, 1, 5000));
    assert_null(nc_session_get(f->e, id));
    assert_int_equal(nc_send_id(f->e, id, 1, "x", 1), NC_ESTALE);
    assert_int_equal(nc_close_id(f->e, id, 0, "again"), NC_ESTALE);
    assert_null(nc_session_get(f->e, 0));
    nc_client_destroy(c);
    fx_free(f);
}

static void raw_echo(nc_session_t *s, uint16_t type, const uint8_t *b, size_t n, void *ud)
{
    (void)ud;
    assert_int_equal(type, 0);
    nc_send_raw(s, b, n);
}

static void test_raw_role_passes_bytes_unframed_both_ways(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    nc_role_opts_t o = role_opts(f, &f->sc, "raw");
    o.handlers.on_packet = raw_echo;
    o.raw = 1;
    nc_server_t *raw;
    assert_int_equal(nc_server_create(f->e, "127.0.0.1", 0, &o, &raw), 0);
    int fd = nc_test_sock_connect(nc_server_port(raw));
    /* bytes that would be a bad length in a framed role */
    const char msg[] = "\x01\x00GET /metrics HTTP/1.0\r\n\r\n";
    assert_int_equal(nc_test_sock_write_all(fd, msg, sizeof(msg) - 1), 0);
    char got[sizeof(msg)] = {0};
    assert_int_equal(nc_test_sock_read_full(fd, got, sizeof(msg) - 1, 5000), 0);
    assert_memory_equal(got, msg, sizeof(msg) - 1);
    nc_test_sock_close(fd);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 1, 5000));
    assert_int_equal(atomic_load(&f->sc.closed_bad_length), 0);
    nc_server_destroy(raw);
    fx_free(f);
}

static void test_ipv6_listener_accepts(void **st)
{
    (void)st;
    fx_t *f = fx_new(1, NULL);
    nc_server_t *s6;
    nc_role_opts_t so = role_opts(f, &f->sc, "srv6");
    if (nc_server_create(f->e, "::1", 0, &so, &s6) != 0) {
        fx_free(f);
        skip(); /* no IPv6 loopback on this host */
    }
    nc_client_t *c;
    nc_role_opts_t co = role_opts(f, &f->cc, "cli6");
    co.no_reconnect = 1;
    assert_int_equal(nc_client_create(f->e, "::1", nc_server_port(s6), &co, &c), 0);
    assert_true(nc_test_wait(client_connected, c, 5000));
    assert_int_equal(nc_send_id(f->e, nc_client_session(c), 6, "v6", 2), 0);
    assert_true(nc_test_wait_atomic_ge(&f->cc.packets, 1, 5000));
    nc_client_destroy(c);
    nc_server_destroy(s6);
    fx_free(f);
}

static void test_thousand_connect_close_cycles_leak_nothing(void **st)
{
    (void)st;
    fx_t *f = fx_new(2, NULL);
    for (int i = 0; i < 1000; i++) {
        int fd = nc_test_sock_connect(nc_server_port(f->srv));
        if (i % 2) {
            uint8_t p[5] = {5, 0, 1, 0, 'x'};
            nc_test_sock_write_all(fd, p, 5);
        }
        nc_test_sock_close(fd);
    }
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 1000, 20000));
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.sessions_live, 0);
    assert_int_equal(rs.sessions_total, 1000);
    fx_free(f);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_round_trip_between_server_and_client_roles),
        cmocka_unit_test(test_one_io_thread_serves_a_server_and_two_clients),
        cmocka_unit_test(test_header_dribbled_one_byte_at_a_time_is_framed),
        cmocka_unit_test(test_thousand_packets_in_one_write_all_arrive),
        cmocka_unit_test(test_maximum_size_packet_round_trips),
        cmocka_unit_test(test_oversize_packet_closes_only_that_session),
        cmocka_unit_test(test_length_below_header_closes_only_that_session),
        cmocka_unit_test(test_notice_before_close_reaches_a_peer_that_keeps_sending),
        cmocka_unit_test(test_packets_that_arrived_before_the_peer_closed_are_delivered),
        cmocka_unit_test(test_packet_then_fin_at_once_is_delivered_and_closes),
        cmocka_unit_test(test_send_flush_writes_before_the_job_returns),
        cmocka_unit_test(test_peer_that_never_reads_is_cut_at_send_bound),
        cmocka_unit_test(test_idle_test_survives_a_receive_newer_than_the_clock),
        cmocka_unit_test(test_idle_session_is_closed_with_reason_idle),
        cmocka_unit_test(test_idle_close_sends_the_notice_first),
        cmocka_unit_test(test_failed_connect_reports_its_error),
        cmocka_unit_test(test_connections_over_cap_are_closed_and_counted),
        cmocka_unit_test(test_client_reconnects_after_server_restart),
        cmocka_unit_test(test_stale_session_id_is_detected),
        cmocka_unit_test(test_raw_role_passes_bytes_unframed_both_ways),
        cmocka_unit_test(test_ipv6_listener_accepts),
        cmocka_unit_test(test_thousand_connect_close_cycles_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
