/* Hostile concurrency on the engine: sends, closes, lookups and disconnects
 * from many threads at once, handlers that close their own session, one
 * packet broadcast to 200 sessions, and engine destroy mid-traffic.  Every
 * case checks on_open/on_close pairing and ends with nothing left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h" /* nc__pool_live_strands, platform threads */
#include "nc_testutil.h"
#include "netcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSIDS 256
#define CODE_OPEN 1001   /* handler closed its session from on_open */
#define CODE_PACKET 1002 /* ... from on_packet */
#define MAGIC_OPEN 0x4f50454eu
#define MAGIC_DEAD 0xdeadbeefu

/* ---- role context: counters, a registry of seen ids, behaviour knobs ---- */

typedef struct {
    atomic_int opened, closed, packets, bad;
    atomic_int shutdown_closes, expected_reason;
    int expect_code; /* on_close reason code counted in expected_reason */
    int echo, close_on_open, close_on_packet;
    atomic_uint_fast64_t sids[NSIDS];
    atomic_uint nsids;
} role_ctx_t;

/* Per-session marker: proves on_open ran first, on_close ran once, and no
 * on_packet ran after it (ASan flags a use after the free in on_close). */
typedef struct {
    uint32_t magic;
    int closed_here;
} mark_t;

static void bad(role_ctx_t *c, const char *what)
{
    if (atomic_fetch_add(&c->bad, 1) < 5)
        fprintf(stderr, "stress: %s\n", what);
}

static void on_open(nc_session_t *s, void *ud)
{
    role_ctx_t *c = ud;
    if (nc_session_ud(s))
        bad(c, "on_open: ud already set");
    mark_t *m = calloc(1, sizeof(*m));
    m->magic = MAGIC_OPEN;
    nc_session_set_ud(s, m);
    unsigned i = atomic_fetch_add(&c->nsids, 1);
    atomic_store(&c->sids[i % NSIDS], nc_session_id(s));
    atomic_fetch_add(&c->opened, 1);
    if (c->close_on_open) {
        nc_session_close(s, CODE_OPEN, "closed in on_open");
        m->closed_here = 1;
        if (nc_send(s, 1, "x", 1) != NC_ECLOSED)
            bad(c, "send after own close in on_open did not fail");
    }
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    role_ctx_t *c = ud;
    mark_t *m = nc_session_ud(s);
    if (!m || m->magic != MAGIC_OPEN) {
        bad(c, "on_packet without on_open");
        return;
    }
    if (m->closed_here)
        bad(c, "on_packet after the handler closed the session");
    atomic_fetch_add(&c->packets, 1);
    if (c->close_on_packet) {
        nc_session_close(s, CODE_PACKET, "closed in on_packet");
        m->closed_here = 1;
        if (nc_send(s, type, body, len) != NC_ECLOSED)
            bad(c, "send after own close in on_packet did not fail");
    } else if (c->echo) {
        nc_send(s, type, body, len); /* may be closing: any result is fine */
    }
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    role_ctx_t *c = ud;
    mark_t *m = nc_session_ud(s);
    if (!m || m->magic != MAGIC_OPEN) {
        bad(c, "on_close without on_open, or twice");
        return;
    }
    m->magic = MAGIC_DEAD;
    free(m);
    nc_session_set_ud(s, NULL);
    if (why->code == NC_ESTOPPED && strcmp(why->text, NC_REASON_SHUTDOWN) == 0)
        atomic_fetch_add(&c->shutdown_closes, 1);
    if (c->expect_code && why->code == c->expect_code)
        atomic_fetch_add(&c->expected_reason, 1);
    atomic_fetch_add(&c->closed, 1);
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
    nc_pool_t *pool;
    nc_queue_t *q;
    nc_engine_t *e;
    nc_server_t *srv;
    role_ctx_t sc, cc;
    atomic_int stop;
} fx_t;

static nc_role_opts_t role_opts(fx_t *f, role_ctx_t *c, const char *name)
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

static fx_t *fx_new(void)
{
    fx_t *f = calloc(1, sizeof(*f));
    nc_pool_opts_t po = {.name = "stress", .threads = 4};
    assert_int_equal(nc_pool_create(&po, &f->pool), 0);
    nc_queue_opts_t qo = {.name = "game", .max_threads = 4};
    assert_int_equal(nc_queue_create(f->pool, &qo, &f->q), 0);
    nc_engine_opts_t eo = {.io_threads = 2};
    assert_int_equal(nc_engine_create(&eo, &f->e), 0);
    return f;
}

static void fx_server(fx_t *f, uint32_t idle_ms)
{
    nc_role_opts_t so = role_opts(f, &f->sc, "srv");
    so.idle_timeout_ms = idle_ms;
    assert_int_equal(nc_server_create(f->e, "127.0.0.1", 0, &so, &f->srv), 0);
}

/* Destroys what is left (engine may already be NULL) and checks that every
 * on_open got its on_close and no job or strand is left. */
/* After the last on_close the worker still finishes that final job and
 * lets go of its strand: quiet is reached shortly after, not at once. */
static bool pool_quiet(void *arg)
{
    nc_queue_stats_t st[2];
    return nc_pool_stats(arg, st, 2) == 1 && st[0].pending == 0 && st[0].running == 0 &&
           nc__pool_live_strands(arg) == 0;
}

static void fx_free(fx_t *f)
{
    nc_engine_destroy(f->e);
    assert_true(nc_test_wait(pool_quiet, f->pool, 5000));
    nc_queue_stats_t st[2];
    assert_int_equal(nc_pool_stats(f->pool, st, 2), 1);
    assert_int_equal(st[0].rejected, 0);
    nc_pool_destroy(f->pool);
    assert_int_equal(atomic_load(&f->sc.bad), 0);
    assert_int_equal(atomic_load(&f->cc.bad), 0);
    assert_int_equal(atomic_load(&f->sc.opened), atomic_load(&f->sc.closed));
    assert_int_equal(atomic_load(&f->cc.opened), atomic_load(&f->cc.closed));
    free(f);
}

static bool server_idle(void *arg)
{
    nc_role_stats_t rs;
    nc_server_stats(arg, &rs);
    return rs.sessions_live == 0;
}

static uint32_t rnd(uint64_t *st)
{
    *st ^= *st << 13, *st ^= *st >> 7, *st ^= *st << 17;
    return (uint32_t)(*st >> 32);
}

static nc_sid_t any_sid(role_ctx_t *c, uint64_t *rng)
{
    return atomic_load(&c->sids[rnd(rng) % NSIDS]);
}

static bool stopping(fx_t *f)
{
    return atomic_load(&f->stop) != 0;
}

/* ---- (a) sends, closes and disconnects from many threads ---------------- */

#define NCLIENTS 8
#define HAMMER_MS 2500

typedef struct {
    fx_t *f;
    nc_client_t **clients;
    uint64_t rng;
    nc_thread_t th;
    atomic_int calls;
} worker_t;

static nc_sid_t pick_target(worker_t *w)
{
    uint32_t r = rnd(&w->rng);
    if (r % 4 == 0)
        return nc_client_session(w->clients[r / 4 % NCLIENTS]);
    return any_sid(r % 4 == 1 ? &w->f->cc : &w->f->sc, &w->rng);
}

static void sender_main(void *arg)
{
    worker_t *w = arg;
    uint8_t body[96];
    memset(body, 0x5a, sizeof(body));
    while (!stopping(w->f)) {
        size_t len = rnd(&w->rng) % sizeof(body);
        int rc = nc_send_id(w->f->e, pick_target(w), 7, body, len);
        if (rc != 0 && rc != NC_ESTALE && rc != NC_ECLOSED && rc != NC_ENOBUFS)
            bad(&w->f->sc, "nc_send_id: unexpected result");
        atomic_fetch_add(&w->calls, 1);
    }
}

static void closer_main(void *arg)
{
    worker_t *w = arg;
    while (!stopping(w->f)) {
        uint32_t r = rnd(&w->rng);
        int rc = nc_close_id(w->f->e, pick_target(w), r % 2 ? 0 : 4000, "stress close");
        if (rc != 0 && rc != NC_ESTALE)
            bad(&w->f->sc, "nc_close_id: unexpected result");
        atomic_fetch_add(&w->calls, 1);
        if (r % 16 == 0)
            nc__sleep_ms(1); /* let sessions live long enough to carry traffic */
    }
}

/* Raw peers that connect, write, maybe read an echo, and vanish (closing
 * with unread data makes the kernel send a reset). */
static void churn_main(void *arg)
{
    worker_t *w = arg;
    uint8_t pkts[3][8] = {
        {8, 0, 3, 0, 1, 2, 3, 4}, {8, 0, 3, 0, 5, 6, 7, 8}, {8, 0, 3, 0, 9, 9, 9, 9}};
    while (!stopping(w->f)) {
        int fd = nc_test_sock_connect(nc_server_port(w->f->srv));
        if (fd < 0)
            continue;
        if (nc_test_sock_write_all(fd, pkts, sizeof(pkts)) == 0 && rnd(&w->rng) % 2) {
            uint8_t back[8];
            nc_test_sock_read_full(fd, back, sizeof(back), 1000); /* may be closed */
        }
        nc_test_sock_close(fd);
        atomic_fetch_add(&w->calls, 1);
    }
}

static void
test_sends_closes_and_disconnects_from_many_threads_pair_every_open_with_one_close(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    f->sc.echo = 1;
    fx_server(f, 0);
    nc_client_t *clients[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        nc_role_opts_t co = role_opts(f, &f->cc, "cli");
        co.reconnect_base_ms = 5;
        co.reconnect_max_ms = 20;
        assert_int_equal(
            nc_client_create(f->e, "127.0.0.1", nc_server_port(f->srv), &co, &clients[i]), 0);
    }
    assert_true(nc_test_wait_atomic_ge(&f->cc.opened, NCLIENTS, 10000));

    enum { NSEND = 3, NCLOSE = 2, NW = NSEND + NCLOSE + 1 };
    worker_t w[NW];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < NW; i++) {
        w[i].f = f;
        w[i].clients = clients;
        w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        nc_thread_fn fn = i < NSEND ? sender_main : i < NSEND + NCLOSE ? closer_main : churn_main;
        assert_int_equal(nc__thread_create(&w[i].th, fn, &w[i], "stress-w"), 0);
    }
    uint64_t end = nc_now_ms() + HAMMER_MS;
    while (nc_now_ms() < end)
        nc__sleep_ms(10); /* the run's length, not a wait for an event */
    atomic_store(&f->stop, 1);
    for (int i = 0; i < NW; i++)
        nc__thread_join(w[i].th);
    for (int i = 0; i < NCLIENTS; i++)
        nc_client_destroy(clients[i]);
    assert_true(nc_test_wait(server_idle, f->srv, 10000));

    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    printf("# %d server and %d client sessions; calls: send %d, close %d, churn %d\n",
           atomic_load(&f->sc.opened), atomic_load(&f->cc.opened), atomic_load(&w[0].calls),
           atomic_load(&w[NSEND].calls), atomic_load(&w[NW - 1].calls));
    assert_true(atomic_load(&w[NW - 1].calls) > 0);
    assert_int_equal(rs.sessions_live, 0);
    assert_int_equal(rs.sessions_total, (uint64_t)atomic_load(&f->sc.opened));
    assert_int_equal(atomic_load(&f->sc.opened), atomic_load(&f->sc.closed));
    assert_true((uint64_t)atomic_load(&f->sc.packets) <= rs.packets_in);
    assert_true(atomic_load(&f->cc.opened) > NCLIENTS); /* clients were cut and came back */
    fx_free(f);
}

/* ---- (b) handlers that close their own session --------------------------- */

static void test_handler_closing_its_own_session_in_on_open_gets_one_on_close(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    f->sc.close_on_open = 1;
    f->sc.expect_code = CODE_OPEN;
    /* an armed idle timer must be released by a close from on_open too */
    fx_server(f, 60000);
    enum { N = 200, WAVE = 50 };
    for (int i = 0; i < N; i += WAVE) {
        int fds[WAVE];
        for (int j = 0; j < WAVE; j++)
            assert_true((fds[j] = nc_test_sock_connect(nc_server_port(f->srv))) >= 0);
        for (int j = 0; j < WAVE; j++) {
            assert_true(nc_test_sock_wait_eof(fds[j], 10000));
            nc_test_sock_close(fds[j]);
        }
    }
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, N, 10000));
    assert_int_equal(atomic_load(&f->sc.expected_reason), N);
    assert_int_equal(atomic_load(&f->sc.packets), 0);
    fx_free(f);
}

static void test_handler_closing_its_own_session_in_on_packet_sees_no_later_packet(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    f->sc.close_on_packet = 1;
    f->sc.expect_code = CODE_PACKET;
    fx_server(f, 60000);
    enum { N = 100, BURST = 10 };
    uint8_t burst[BURST][6];
    for (int k = 0; k < BURST; k++)
        memcpy(burst[k], (uint8_t[6]){6, 0, 2, 0, 'h', (uint8_t)k}, 6);
    int fds[N];
    for (int i = 0; i < N; i++) {
        assert_true((fds[i] = nc_test_sock_connect(nc_server_port(f->srv))) >= 0);
        assert_int_equal(nc_test_sock_write_all(fds[i], burst, sizeof(burst)), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_true(nc_test_sock_wait_eof(fds[i], 10000));
        nc_test_sock_close(fds[i]);
    }
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, N, 10000));
    assert_int_equal(atomic_load(&f->sc.expected_reason), N);
    assert_int_equal(atomic_load(&f->sc.packets), N); /* one each: the rest dropped */
    fx_free(f);
}

/* ---- (c) lookups from foreign threads during closes ---------------------- */

static void test_reference_from_session_get_delays_on_close_until_put(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    fx_server(f, 0);
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    assert_true(nc_test_wait_atomic_ge(&f->sc.opened, 1, 5000));
    nc_sid_t id = atomic_load(&f->sc.sids[0]);
    nc_session_t *s = nc_session_get(f->e, id);
    assert_non_null(s);
    assert_int_equal(nc_close_id(f->e, id, 0, "bye"), 0);
    assert_true(nc_test_sock_wait_eof(fd, 5000)); /* the backend let go of it */
    assert_int_equal(atomic_load(&f->sc.closed), 0);
    assert_true(nc_session_is_closing(s));
    assert_int_equal(nc_send(s, 1, "late", 4), NC_ECLOSED);
    assert_string_not_equal(nc_session_peer(s), "");
    nc_session_put(s);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, 1, 5000));
    assert_null(nc_session_get(f->e, id));
    nc_test_sock_close(fd);
    fx_free(f);
}

static void getter_main(void *arg)
{
    worker_t *w = arg;
    while (!stopping(w->f)) {
        nc_session_t *s = nc_session_get(w->f->e, any_sid(&w->f->sc, &w->rng));
        if (!s)
            continue;
        if (!nc_session_peer(s)[0] || nc_session_engine(s) != w->f->e || !nc_session_strand(s))
            bad(&w->f->sc, "session fields wrong under a reference");
        (void)nc_session_unsent(s);
        int rc = nc_send(s, 9, "ping", 4);
        if (rc != 0 && rc != NC_ECLOSED && rc != NC_ENOBUFS)
            bad(&w->f->sc, "nc_send under a reference: unexpected result");
        if (rnd(&w->rng) % 8 == 0)
            nc_session_close(s, 0, "closed by a getter");
        (void)nc_session_is_closing(s);
        nc_session_put(s);
        atomic_fetch_add(&w->calls, 1);
    }
}

static void test_get_and_put_from_foreign_threads_during_closes_is_safe(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    fx_server(f, 0);
    enum { NG = 4, CYCLES = 600 };
    worker_t w[NG];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < NG; i++) {
        w[i].f = f;
        w[i].rng = 0x2545f4914f6cdd1dull * (uint64_t)(i + 1);
        assert_int_equal(nc__thread_create(&w[i].th, getter_main, &w[i], "stress-get"), 0);
    }
    uint64_t rng = 42;
    for (int i = 0; i < CYCLES; i++) {
        int fd = nc_test_sock_connect(nc_server_port(f->srv));
        assert_true(fd >= 0);
        if (rnd(&rng) % 2) {
            /* wait until the getters can see it, so they race its close */
            assert_true(nc_test_wait_atomic_ge(&f->sc.opened, i + 1, 5000));
            nc_test_sock_write_all(fd, (uint8_t[5]){5, 0, 1, 0, 'x'}, 5);
        }
        nc_test_sock_close(fd);
    }
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, CYCLES, 20000));
    atomic_store(&f->stop, 1);
    for (int i = 0; i < NG; i++)
        nc__thread_join(w[i].th);
    assert_true(nc_test_wait(server_idle, f->srv, 5000));
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.sessions_total, CYCLES);
    fx_free(f);
}

/* ---- (d) one packet, 200 receivers, several sending threads -------------- */

#define NRECV 200
#define NBCAST 20
#define BCAST_BODY 1000
#define NBTHREADS 4

typedef struct {
    fx_t *f;
    nc_packet_t **pkts;
    int t;
    nc_thread_t th;
    atomic_int failures;
    atomic_int *go;
} bcaster_t;

static bool go_set(void *arg)
{
    return atomic_load((atomic_int *)arg) != 0;
}

static uint8_t bcast_byte(int k, int i)
{
    return (uint8_t)(k * 31 + i * 7);
}

/* Thread t sends every packet, in order, to the receivers j with j % 4 == t:
 * each receiver sees one sender (so order holds) while all four threads
 * share, and race to seal, the same packets. */
static void bcaster_main(void *arg)
{
    bcaster_t *b = arg;
    if (!nc_test_wait(go_set, b->go, 10000))
        atomic_fetch_add(&b->failures, 1);
    for (int k = 0; k < NBCAST; k++)
        for (int j = b->t; j < NRECV; j += NBTHREADS)
            if (nc_send_packet_id(b->f->e, atomic_load(&b->f->sc.sids[j]), b->pkts[k]) != 0)
                atomic_fetch_add(&b->failures, 1);
}

static bool packets_back_to_one_ref(void *arg)
{
    nc_packet_t **pkts = arg;
    for (int k = 0; k < NBCAST; k++)
        if (atomic_load(&pkts[k]->refs_) != 1)
            return false;
    return true;
}

static void
test_one_packet_broadcast_to_200_sessions_from_several_threads_arrives_identical(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    fx_server(f, 0);
    int *fds = calloc(NRECV, sizeof(int));
    for (int j = 0; j < NRECV; j++)
        assert_true((fds[j] = nc_test_sock_connect(nc_server_port(f->srv))) >= 0);
    assert_true(nc_test_wait_atomic_ge(&f->sc.opened, NRECV, 10000));

    nc_packet_t *pkts[NBCAST];
    for (int k = 0; k < NBCAST; k++) {
        pkts[k] = nc_packet_alloc(BCAST_BODY);
        assert_non_null(pkts[k]);
        for (int i = 0; i < BCAST_BODY; i++)
            nc_packet_body(pkts[k])[i] = bcast_byte(k, i);
        pkts[k]->len = BCAST_BODY;
        pkts[k]->type = (uint16_t)(100 + k);
    }
    atomic_int go = 0;
    bcaster_t b[NBTHREADS];
    memset(b, 0, sizeof(b));
    for (int t = 0; t < NBTHREADS; t++) {
        b[t].f = f, b[t].pkts = pkts, b[t].t = t, b[t].go = &go;
        assert_int_equal(nc__thread_create(&b[t].th, bcaster_main, &b[t], "stress-bc"), 0);
    }
    atomic_store(&go, 1);

    /* receivers: each socket gets all packets, in order, byte for byte */
    uint8_t *got = malloc(BCAST_BODY + NC_HEADER_SIZE);
    for (int j = 0; j < NRECV; j++) {
        for (int k = 0; k < NBCAST; k++) {
            assert_int_equal(
                nc_test_sock_read_full(fds[j], got, BCAST_BODY + NC_HEADER_SIZE, 10000), 0);
            assert_int_equal(got[0] | got[1] << 8, BCAST_BODY + NC_HEADER_SIZE);
            assert_int_equal(got[2] | got[3] << 8, 100 + k);
            assert_memory_equal(got + NC_HEADER_SIZE, nc_packet_body(pkts[k]), BCAST_BODY);
        }
    }
    free(got);
    for (int t = 0; t < NBTHREADS; t++) {
        nc__thread_join(b[t].th);
        assert_int_equal(atomic_load(&b[t].failures), 0);
    }
    /* every send's reference came back once its bytes left: ours is the last */
    assert_true(nc_test_wait(packets_back_to_one_ref, pkts, 5000));
    for (int k = 0; k < NBCAST; k++)
        nc_packet_release(pkts[k]);
    for (int j = 0; j < NRECV; j++)
        nc_test_sock_close(fds[j]);
    free(fds);
    assert_true(nc_test_wait_atomic_ge(&f->sc.closed, NRECV, 10000));
    fx_free(f);
}

/* ---- (e) engine destroy mid-traffic -------------------------------------- */

#define NPINGERS 16

static nc_client_t **start_pingers(fx_t *f, nc_engine_t *e, role_ctx_t *c)
{
    nc_client_t **cl = calloc(NPINGERS, sizeof(*cl));
    for (int i = 0; i < NPINGERS; i++) {
        nc_role_opts_t co = role_opts(f, c, "pinger");
        co.no_reconnect = 1;
        assert_int_equal(nc_client_create(e, "127.0.0.1", nc_server_port(f->srv), &co, &cl[i]), 0);
    }
    assert_true(nc_test_wait_atomic_ge(&c->opened, NPINGERS, 10000));
    /* several packets in flight per connection; both sides echo forever */
    for (int i = 0; i < NPINGERS; i++)
        for (int k = 0; k < 8; k++)
            assert_int_equal(nc_send_id(e, nc_client_session(cl[i]), 5, "ping-pong", 9), 0);
    return cl;
}

static void test_engine_destroy_mid_traffic_closes_every_session_with_shutdown(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    f->sc.echo = 1;
    f->cc.echo = 1;
    fx_server(f, 30000);
    nc_engine_t *ce; /* clients on their own engine: only the server shuts down */
    nc_engine_opts_t eo = {.io_threads = 1};
    assert_int_equal(nc_engine_create(&eo, &ce), 0);
    nc_client_t **cl = start_pingers(f, ce, &f->cc);
    assert_true(nc_test_wait_atomic_ge(&f->sc.packets, 5000, 20000));

    nc_engine_destroy(f->e); /* sessions mid-traffic */
    f->e = NULL;
    assert_int_equal(atomic_load(&f->sc.opened), NPINGERS);
    assert_int_equal(atomic_load(&f->sc.closed), NPINGERS);
    assert_int_equal(atomic_load(&f->sc.shutdown_closes), NPINGERS);

    assert_true(nc_test_wait_atomic_ge(&f->cc.closed, NPINGERS, 10000)); /* peer closed */
    nc_engine_destroy(ce);                                               /* destroys the clients */
    free(cl);
    fx_free(f);
}

static void test_engine_destroy_with_server_and_clients_mid_traffic_pairs_every_close(void **st)
{
    (void)st;
    fx_t *f = fx_new();
    f->sc.echo = 1;
    f->cc.echo = 1;
    fx_server(f, 0);
    nc_client_t **cl = start_pingers(f, f->e, &f->cc);
    assert_true(nc_test_wait_atomic_ge(&f->cc.packets, 5000, 20000));
    nc_engine_destroy(f->e); /* every role, both ends of every connection */
    f->e = NULL;
    assert_int_equal(atomic_load(&f->sc.opened), atomic_load(&f->sc.closed));
    assert_int_equal(atomic_load(&f->cc.opened), atomic_load(&f->cc.closed));
    /* clients were created last, so they stop first and all say shutdown */
    assert_int_equal(atomic_load(&f->cc.shutdown_closes), atomic_load(&f->cc.opened));
    free(cl);
    fx_free(f);
}

int main(void)
{
    nc_test_init();
    if (!getenv("NC_TEST_LOG"))
        nc_log_set_level(NC_LOG_ERROR); /* clients log every cut at WARN */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_sends_closes_and_disconnects_from_many_threads_pair_every_open_with_one_close),
        cmocka_unit_test(test_handler_closing_its_own_session_in_on_open_gets_one_on_close),
        cmocka_unit_test(test_handler_closing_its_own_session_in_on_packet_sees_no_later_packet),
        cmocka_unit_test(test_reference_from_session_get_delays_on_close_until_put),
        cmocka_unit_test(test_get_and_put_from_foreign_threads_during_closes_is_safe),
        cmocka_unit_test(
            test_one_packet_broadcast_to_200_sessions_from_several_threads_arrives_identical),
        cmocka_unit_test(test_engine_destroy_mid_traffic_closes_every_session_with_shutdown),
        cmocka_unit_test(test_engine_destroy_with_server_and_clients_mid_traffic_pairs_every_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
