/* Fair back-pressure per session: one flooding session and one witness on
 * the same queue.  The flooder writes expensive packets as fast as TCP takes
 * them; the witness pings every few milliseconds.  With the per-session input
 * bound only the flooder stops being read and the witness's p99 stays near
 * its no-flood p99; without it (the control case) the flood fills the queue,
 * reading pauses for everyone, and the witness waits seconds.  Also: the
 * packet rate limit, holds (work handed to another strand counts against
 * the session that caused it) and the stall close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_testutil.h"
#include "netcore.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_PING 1
#define T_WORK 2
#define T_FORWARD 3
#define T_SLOW 4          /* 1 ms each: a session whose work cannot keep up */
#define T_KICK 5          /* the handler closes the session (orderly: lingering close) */
#define WORK_US 30        /* handler cost of one flood packet */
#define FLOOD_BATCH 64    /* packets per write */
#define PINGS 150         /* per phase */
#define PING_EVERY_MS 4   /* witness pacing */
#define PING_TIMEOUT 3000 /* one ping's wait; the control phase stops at the first */
#define QCAP 256
#define FWD_QCAP 4096        /* the forwarding cases: above one session's bound in jobs */
#define BOUND_SLACK_US 25000 /* scheduling noise on a shared 2-core machine */

typedef struct {
    nc_pool_t *pool;
    nc_queue_t *q;
    nc_engine_t *e;
    nc_server_t *srv;
    nc_strand_t *zone; /* T_FORWARD work goes here */
    atomic_int stop;   /* handlers skip their work: teardown is quick */
    int no_hold;       /* control: T_FORWARD without nc_session_hold */
    atomic_int opened, closed;
    atomic_long zone_pending, zone_pending_max;
    _Atomic uint64_t kicked_ms;
    char close_text[64];
} fx_t;

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* A fixed interval that is itself the measurement (pacing, a flood's
 * length), not a wait for a result. */
static void pace_ms(uint32_t ms)
{
    nc_test_wait(never, NULL, ms);
}

static void spin_us(uint64_t us)
{
    uint64_t end = nc_now_ns() + us * 1000u;
    while (nc_now_ns() < end) {
    }
}

static void on_open(nc_session_t *s, void *ud)
{
    (void)s;
    atomic_fetch_add(&((fx_t *)ud)->opened, 1);
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)s;
    fx_t *f = ud;
    if (why->code == NC_ETIMEDOUT)
        snprintf(f->close_text, sizeof f->close_text, "%s", why->text);
    atomic_fetch_add(&f->closed, 1);
}

typedef struct {
    fx_t *f;
    nc_session_t *s;
} fwd_t;

static void zone_job(void *arg)
{
    fwd_t *w = arg;
    atomic_fetch_sub(&w->f->zone_pending, 1);
    if (w->f->no_hold && !atomic_load(&w->f->stop))
        spin_us(WORK_US); /* the control's strand is slower: the backlog shows */
    if (!atomic_load(&w->f->stop))
        spin_us(WORK_US);
    if (!w->f->no_hold)
        nc_session_unhold(w->s, 64);
    free(w);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    fx_t *f = ud;
    if (type == T_PING) {
        nc_send(s, T_PING, body, len);
    } else if (type == T_WORK) {
        if (!atomic_load(&f->stop))
            spin_us(WORK_US);
    } else if (type == T_KICK) {
        if (!atomic_exchange(&f->kicked_ms, nc_now_ms()))
            nc_session_close(s, 0, "kicked");
    } else if (type == T_SLOW) {
        if (!atomic_load(&f->stop))
            spin_us(1000);
    } else if (type == T_FORWARD) {
        /* a request handed to a shared strand (a zone): it holds the
         * sender's input bound until it ran */
        fwd_t *w = malloc(sizeof *w);
        assert_non_null(w);
        *w = (fwd_t){f, s};
        if (!f->no_hold)
            nc_session_hold(s, 64);
        long n = atomic_fetch_add(&f->zone_pending, 1) + 1;
        long m = atomic_load(&f->zone_pending_max);
        while (n > m && !atomic_compare_exchange_weak(&f->zone_pending_max, &m, n)) {
        }
        assert_int_equal(nc_strand_post_force(f->zone, zone_job, w), 0);
    }
}

static fx_t *fx_start_q(const nc_role_opts_t *extra, uint32_t qcap)
{
    fx_t *f = calloc(1, sizeof *f);
    nc_pool_opts_t po = {.name = "fair", .threads = 4};
    assert_int_equal(nc_pool_create(&po, &f->pool), 0);
    nc_queue_opts_t qo = {.name = "game", .max_threads = 2, .capacity = qcap};
    assert_int_equal(nc_queue_create(f->pool, &qo, &f->q), 0);
    assert_int_equal(nc_strand_create(f->q, &f->zone), 0);
    nc_engine_opts_t eo = {.io_threads = 1};
    assert_int_equal(nc_engine_create(&eo, &f->e), 0);
    nc_role_opts_t ro = *extra;
    ro.name = "srv";
    ro.queue = f->q;
    ro.ud = f;
    ro.handlers = (nc_handlers_t){on_open, on_packet, on_close};
    assert_int_equal(nc_server_create(f->e, "127.0.0.1", 0, &ro, &f->srv), 0);
    return f;
}

static fx_t *fx_start(const nc_role_opts_t *extra)
{
    return fx_start_q(extra, QCAP);
}

static void fx_stop(fx_t *f)
{
    atomic_store(&f->stop, 1);
    nc_server_destroy(f->srv);
    nc_engine_destroy(f->e);
    nc_strand_release(f->zone);
    nc_pool_destroy(f->pool);
    free(f);
}

/* ---- the flooder: a thread writing packets of one type as fast as it can */

typedef struct {
    int fd;
    uint16_t type;
    atomic_int stop;
    atomic_long sent;
    _Atomic uint64_t end_ms; /* when a write failed (the server cut us off) */
    nc_thread_t th;
} flood_t;

static void flood_main(void *arg)
{
    flood_t *fl = arg;
    uint8_t buf[FLOOD_BATCH * 12];
    for (int i = 0; i < FLOOD_BATCH; i++) {
        uint8_t *p = buf + i * 12;
        p[0] = 12; /* u16 length (little-endian, header included), u16 type */
        p[1] = 0;
        p[2] = (uint8_t)fl->type;
        p[3] = (uint8_t)(fl->type >> 8);
        memset(p + 4, 0xab, 8);
    }
    while (!atomic_load(&fl->stop)) {
        if (nc_test_sock_write_all(fl->fd, buf, sizeof buf) != 0)
            break; /* closed, or paused past the socket's 5 s send timeout */
        atomic_fetch_add(&fl->sent, FLOOD_BATCH);
    }
    atomic_store(&fl->end_ms, nc_now_ms());
}

static void flood_start(flood_t *fl, uint16_t port, uint16_t type)
{
    fl->fd = nc_test_sock_connect(port);
    assert_true(fl->fd >= 0);
    fl->type = type;
    assert_int_equal(nc__thread_create(&fl->th, flood_main, fl, "flooder"), 0);
}

static void flood_stop(flood_t *fl)
{
    atomic_store(&fl->stop, 1);
    nc_test_sock_shutdown_write(fl->fd); /* fails a write the server is not reading */
    nc__thread_join(fl->th);
    nc_test_sock_close(fl->fd);
}

/* ---- the witness --------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Pings n times; returns the p99 round trip in microseconds.  A ping that
 * gets no answer within PING_TIMEOUT ends the phase (counted as that). */
static uint64_t witness_p99(int fd, int n, uint64_t *p50)
{
    uint64_t rtt[PINGS];
    int got = 0;
    for (int i = 0; i < n && i < PINGS; i++) {
        uint8_t pkt[12] = {12, 0, T_PING, 0};
        uint64_t t0 = nc_now_ns();
        memcpy(pkt + 4, &t0, 8);
        assert_int_equal(nc_test_sock_write_all(fd, pkt, sizeof pkt), 0);
        uint8_t in[12];
        int rc = nc_test_sock_read_full(fd, in, sizeof in, PING_TIMEOUT);
        uint64_t t1 = nc_now_ns();
        rtt[got++] = (t1 - t0) / 1000u;
        if (rc != 0)
            break;
        assert_memory_equal(in + 4, pkt + 4, 8);
        pace_ms(PING_EVERY_MS);
    }
    qsort(rtt, (size_t)got, sizeof rtt[0], cmp_u64);
    if (p50)
        *p50 = rtt[got / 2];
    return rtt[got * 99 / 100 < got ? got * 99 / 100 : got - 1];
}

static bool flood_admitted(void *arg)
{
    fx_t *f = arg;
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    return rs.packets_in > 20000 && (rs.input_pauses > 0 || rs.read_pauses > 0);
}

/* Baseline, then the same pings during a flood.  Returns p99 during. */
static uint64_t run_flood(uint32_t max_input, uint64_t *base_out, nc_role_stats_t *rs)
{
    nc_role_opts_t ro = {.max_input_bytes = max_input};
    fx_t *f = fx_start(&ro);
    uint16_t port = nc_server_port(f->srv);
    int w = nc_test_sock_connect(port);
    assert_true(w >= 0);
    uint64_t b50, d50;
    uint64_t base = witness_p99(w, PINGS, &b50);
    flood_t fl = {0};
    flood_start(&fl, port, T_WORK);
    assert_true(nc_test_wait(flood_admitted, f, 20000));
    uint64_t during = witness_p99(w, PINGS, &d50);
    nc_server_stats(f->srv, rs);
    printf("# max_input_bytes %u: witness p50/p99 %llu/%llu us idle, %llu/%llu us during the "
           "flood; input pauses %llu, queue pauses %llu, flood packets in %llu\n",
           max_input, (unsigned long long)b50, (unsigned long long)base, (unsigned long long)d50,
           (unsigned long long)during, (unsigned long long)rs->input_pauses,
           (unsigned long long)rs->read_pauses, (unsigned long long)rs->packets_in);
    flood_stop(&fl);
    nc_test_sock_close(w);
    fx_stop(f);
    *base_out = base;
    return during;
}

/* The rule netcore/README.md states: one flooding session, one witness on
 * the same queue, witness p99 within 2x of its no-flood p99 (plus a fixed
 * allowance for the scheduler of a shared 2-core machine). */
static void test_flooder_does_not_delay_a_witness_on_the_same_queue(void **state)
{
    (void)state;
    uint64_t base;
    nc_role_stats_t rs;
    uint64_t during = run_flood(64u << 10, &base, &rs);
    assert_true(rs.input_pauses > 0);    /* the flooder alone was paused */
    assert_int_equal(rs.read_pauses, 0); /* never the whole queue */
    assert_true(during <= 2 * base + BOUND_SLACK_US);
}

/* Control: without a per-session bound the same flood fills the queue and
 * pauses reading for every session on it: the bound above can fail. */
static void test_control_without_the_bound_the_witness_waits(void **state)
{
    (void)state;
    uint64_t base;
    nc_role_stats_t rs;
    uint64_t during = run_flood(64u << 20, &base, &rs);
    assert_true(rs.read_pauses > 0); /* the queue-wide pause: everyone's reads */
#ifndef _WIN32
    /* Under Wine the flooder's writes arrive as many small reads, so each
     * job is short and the queue drains below low water within
     * milliseconds: the pause happens (asserted above) but is too brief
     * to show in the witness's p99. */
    assert_true(during > 2 * base + BOUND_SLACK_US);
#else
    (void)during;
#endif
}

static bool rate_limited(void *arg)
{
    fx_t *f = arg;
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    return rs.rate_pauses >= 3;
}

/* A session over its packet rate is slowed to it on the I/O thread (its
 * reads pause until the bucket refills), not closed; a neighbour is not. */
static void test_rate_limit_slows_only_the_flooder(void **state)
{
    (void)state;
    nc_role_opts_t ro = {.rate_packets_per_s = 2000, .rate_burst = 500};
    fx_t *f = fx_start(&ro);
    uint16_t port = nc_server_port(f->srv);
    int w = nc_test_sock_connect(port);
    assert_true(w >= 0);
    uint64_t t0 = nc_now_ms();
    flood_t fl = {0};
    flood_start(&fl, port, T_WORK);
    assert_true(nc_test_wait(rate_limited, f, 20000));
    /* 300 ms more of flooding, then what got in is bounded by the rate */
    pace_ms(300);
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    uint64_t secs_x1000 = nc_now_ms() - t0 + 1;
    uint64_t allowed = 500 + 2000 * secs_x1000 / 1000 + FLOOD_BATCH * 16; /* + reads in flight */
    printf("# rate 2000/s burst 500: %llu packets in over %llu ms (allowed %llu), %llu pauses, "
           "flooder wrote %ld\n",
           (unsigned long long)rs.packets_in, (unsigned long long)secs_x1000,
           (unsigned long long)allowed, (unsigned long long)rs.rate_pauses, atomic_load(&fl.sent));
    assert_true(rs.packets_in <= allowed);
    assert_true((uint64_t)atomic_load(&fl.sent) > rs.packets_in); /* TCP held the rest */
    uint64_t p50;
    assert_true(witness_p99(w, 20, &p50) < 1000000u); /* the neighbour is answered */
    assert_int_equal(atomic_load(&f->closed), 0);
    flood_stop(&fl);
    nc_test_sock_close(w);
    fx_stop(f);
}

/* Forwards a flood to the shared strand; returns its peak backlog. */
static long forward_flood(int no_hold, nc_role_stats_t *rs)
{
    nc_role_opts_t ro = {.max_input_bytes = 32u << 10};
    fx_t *f = fx_start_q(&ro, FWD_QCAP);
    f->no_hold = no_hold;
    flood_t fl = {0};
    flood_start(&fl, nc_server_port(f->srv), T_FORWARD);
    assert_true(nc_test_wait(flood_admitted, f, 20000));
    pace_ms(300);
    long max = atomic_load(&f->zone_pending_max);
    nc_server_stats(f->srv, rs);
    printf("# forwarded %s: shared strand's backlog peaked at %ld, input pauses %llu, queue "
           "pauses %llu\n",
           no_hold ? "without holds" : "with holds of 64 B", max,
           (unsigned long long)rs->input_pauses, (unsigned long long)rs->read_pauses);
    flood_stop(&fl);
    fx_stop(f);
    return max;
}

/* Work a handler hands to a shared strand counts against the session that
 * sent it: one flooder's backlog there stays bounded by its own input
 * bound (32 KiB of holds, plus the packets of the reads admitted before
 * the pause: a 16 KiB read of 12-byte packets is 1365, and charged 64 B
 * each besides it pauses the session at once), so it never fills the
 * queue; without holds it grows until the queue-wide pause stops
 * everyone. */
static void test_hold_bounds_work_forwarded_to_a_shared_strand(void **state)
{
    (void)state;
    nc_role_stats_t rs;
    long held = forward_flood(0, &rs);
    assert_true(rs.input_pauses > 0);
    assert_int_equal(rs.read_pauses, 0); /* the queue never paused everyone */
    assert_true(held <= 32768 / 64 + 2 * 16384 / 12);
    /* control: the forwarded work escapes the session's bound and only the
     * queue-wide pause (everyone's reads) stops it */
    forward_flood(1, &rs);
    assert_true(rs.read_pauses > 0);
}

static bool closed_one(void *arg)
{
    return atomic_load(&((fx_t *)arg)->closed) >= 1;
}

/* A session that stays over its bound (its work never finishes in time) is
 * closed with "input backlog". */
static void test_stalled_session_is_closed(void **state)
{
    (void)state;
    nc_role_opts_t ro = {.max_input_bytes = 16u << 10, .max_input_stall_ms = 200};
    fx_t *f = fx_start(&ro);
    flood_t fl = {0};
    flood_start(&fl, nc_server_port(f->srv), T_SLOW);
    assert_true(nc_test_wait(closed_one, f, 20000));
    assert_string_equal(f->close_text, NC_REASON_INPUT_BACKLOG);
    nc_role_stats_t rs;
    nc_server_stats(f->srv, &rs);
    assert_int_equal(rs.closed_stalled, 1);
    flood_stop(&fl);
    fx_stop(f);
}

static bool flooder_cut_off(void *arg)
{
    return atomic_load(&((flood_t *)arg)->end_ms) != 0;
}

/* A session closed in an orderly way (a kick) lingers to deliver its last
 * packets, discarding input until the peer's FIN; a peer that keeps
 * flooding is cut off after NC__DRAIN_MAX bytes, not read at memory speed
 * for the whole 2 s linger (which stalled every other session of that I/O
 * thread). */
static void test_kicked_flooder_is_cut_off_not_drained(void **state)
{
    (void)state;
    nc_role_opts_t ro = {0};
    fx_t *f = fx_start(&ro);
    flood_t fl = {0};
    flood_start(&fl, nc_server_port(f->srv), T_KICK);
    assert_true(nc_test_wait(flooder_cut_off, &fl, 10000));
    uint64_t kicked = atomic_load(&f->kicked_ms), end = atomic_load(&fl.end_ms);
    printf("# kicked flooder cut off %llu ms after the close (linger 2000 ms)\n",
           (unsigned long long)(end - kicked));
    assert_true(kicked != 0);
    assert_true(end - kicked < 1000);
    flood_stop(&fl);
    fx_stop(f);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flooder_does_not_delay_a_witness_on_the_same_queue),
        cmocka_unit_test(test_control_without_the_bound_the_witness_waits),
        cmocka_unit_test(test_rate_limit_slows_only_the_flooder),
        cmocka_unit_test(test_hold_bounds_work_forwarded_to_a_shared_strand),
        cmocka_unit_test(test_stalled_session_is_closed),
        cmocka_unit_test(test_kicked_flooder_is_cut_off_not_drained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
