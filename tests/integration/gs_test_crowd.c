/* Crowds (issue 15), small scale: a witness W and 39 players around it at
 * distinct distances (3..41 units, all in view), full-rate set N = 16.
 * A pacer 1 unit from W keeps ticks busy, so W's full set is the pacer and
 * movers 0..14.  Checks over real sockets:
 *  - every round, after the movers' moves are in the zone, the first
 *    entity_updates W gets carries (or was preceded by) the new position of
 *    each of its 15 nearest movers: the full-rate set is updated every tick;
 *  - the band's outer half (movers 15..30): its nearest 4 (the edge) at
 *    most every other tick, the next 12 every 4th; the last 8 at the
 *    cursor's reduced rate only (counted against the ticks that passed),
 *    yet all of them are eventually consistent;
 *  - a batch of logouts and walks out of view: W gets exactly one despawn per
 *    neighbour that left, never an update for it afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "gs_harness.h"

#define T 5000
#define NMOVERS 39
#define NFULL 16
#define LOD_TICKS 8
#define ROUNDS 12

static gs_proc_t srv;
static gs_client_t w, mv[NMOVERS];
/* The pacer stands 1 unit from W (so it is in W's full set, and movers
 * 0..14 are the rest of it) and steps while W waits for ticks: updates are
 * only sent when something moved. */
static gs_client_t pacer;
#define NFULL_MOVERS (NFULL - 1)
static proto_msg_t msg;

typedef struct seen_s {
    float x, y;        /* W's latest view of the mover */
    uint32_t updates;  /* entity_updates entries about it */
    int spawned, gone; /* spawns / despawns W got */
    int update_after_gone;
} seen_t;
static seen_t seen[NMOVERS];
static uint32_t first_tick, last_tick;
static int ticks_seen;

static int mover_of(uint32_t id)
{
    for (int i = 0; i < NMOVERS; i++)
        if (mv[i].entity_id == id)
            return i;
    return -1;
}

/* Everything W receives goes through here. */
static void w_feed(const proto_msg_t *m, void *arg)
{
    (void)arg;
    if (m->type == PROTO_T_SPAWN) {
        int i = mover_of(m->spawn.entity_id);
        if (i >= 0) {
            seen[i].spawned++;
            seen[i].x = m->spawn.pos.x;
            seen[i].y = m->spawn.pos.y;
        }
    } else if (m->type == PROTO_T_DESPAWN) {
        int i = mover_of(m->despawn.entity_id);
        if (i >= 0)
            seen[i].gone++;
    } else if (m->type == PROTO_T_ENTITY_UPDATES) {
        const proto_entity_updates_t *u = &m->entity_updates;
        if (!ticks_seen++)
            first_tick = u->tick;
        last_tick = u->tick;
        for (uint16_t k = 0; k < u->entries_count; k++) {
            int i = mover_of(u->entries[k].entity_id);
            if (i < 0)
                continue;
            seen[i].updates++;
            if (seen[i].gone)
                seen[i].update_after_gone++;
            seen[i].x = u->origin.x + u->entries[k].qx * u->step;
            seen[i].y = u->origin.y + u->entries[k].qy * u->step;
        }
    }
}

/* Mover i's spot: distance 3 + i from W (so movers 0..15 are the nearest
 * 16), golden-angle spread; `jit` shifts it by 0.1 units. */
static void spot(int i, int jit, float *x, float *y)
{
    float a = (float)i * 2.3999632f, d = 3.0f + (float)i;
    *x = w.x + d * cosf(a) + (jit ? 0.1f : 0.0f);
    *y = w.y + d * sinf(a);
}

/* The churn: movers NFULL..NFULL+5 walk out of view, the last 10 log out. */
static int has_left(int i)
{
    return (i >= NFULL && i < NFULL + 6) || i >= NMOVERS - 10;
}

static int near_eq(float a, float b)
{
    return fabsf(a - b) < 0.02f; /* quantization step 1000/65535 */
}

/* The same checks with the defaults of these keys, with the fan-out's
 * encoding and sending on other workers (zones.encode_jobs), and with the
 * update tick at half the sim tick (zones.update_hz 10 of tick_hz 20:
 * tick numbers step by 2; "every tick" is every update tick). */
static int setup_with(const char *key, const char *val)
{
    gs_proc_init(&srv);
    memset(seen, 0, sizeof seen);
    first_tick = last_tick = 0;
    ticks_seen = 0;
    char kv[64];
    snprintf(kv, sizeof kv, "%s=%s", key, val);
    const char *extra[] = {"--set", "zones.interest_full=16", "--set", "zones.interest_lod_ticks=8",
                           "--set", "zones.interest_lod_max=512", "--set", "zones.view_slack=0",
                           /* a loaded test machine must not lower the update rate here */
                           "--set", "zones.tick_budget_ms=5000", "--set", "zones.max_speed=100000",
                           "--set", "limits.budget_per_s=0", "--set", "zones.tick_hz=20", "--set",
                           kv, NULL};
    return gs_proc_start(&srv, extra, 5000);
}

static int setup(void **state)
{
    (void)state;
    return setup_with("zones.update_hz", "20");
}

static int setup_encode_jobs(void **state)
{
    (void)state;
    return setup_with("zones.encode_jobs", "true");
}

static int setup_update_hz(void **state)
{
    (void)state;
    return setup_with("zones.update_hz", "10");
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&w);
    gs_close(&pacer);
    for (int i = 0; i < NMOVERS; i++)
        gs_close(&mv[i]);
    int st = gs_proc_stop(&srv, SIGTERM, 5000);
    gs_proc_cleanup(&srv);
    return st == 0 ? 0 : -1;
}

/* Moves every mover (still present) to its spot, then makes sure the moves
 * are in the zone (each mover's ping is answered by the zone after its
 * move), then W's own barrier: what W got before its pong is fed too. */
static void move_all(int jit, int upto)
{
    for (int i = 0; i < upto; i++) {
        float x, y;
        spot(i, jit, &x, &y);
        assert_int_equal(gs_move(&mv[i], x, y), 0);
    }
    for (int i = 0; i < upto; i++)
        assert_int_equal(gs_barrier(&mv[i], NULL, NULL, T), 0);
    assert_int_equal(gs_barrier(&w, w_feed, NULL, T), 0);
}

/* Reads W until an entity_updates from a tick >= `tick` has been fed. */
static void w_until_tick(uint32_t tick)
{
    static proto_msg_t junk;
    static int step;
    uint64_t n = 0;
    for (;;) {
        int got = gs_recv(&w, &msg, 20);
        assert_true(got >= 0);
        if (got == 0) {
            assert_true(++n < T / 20); /* nothing for T ms */
            assert_int_equal(gs_move(&pacer, w.x + 1, w.y + (float)(++step & 1) * 0.1f), 0);
            while (gs_recv(&pacer, &junk, 1) == 1)
                ;
            continue;
        }
        n = 0;
        w_feed(&msg, NULL);
        if (msg.type == PROTO_T_ENTITY_UPDATES && (int32_t)(msg.entity_updates.tick - tick) >= 0)
            return;
    }
}

static void test_full_rate_set_every_tick_rest_reduced_no_despawn_lost(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&w, srv.port, "witness"), 0);
    assert_int_equal(gs_login(&pacer, srv.port, "pacer"), 0);
    assert_int_equal(gs_move(&pacer, w.x + 1, w.y), 0);
    for (int i = 0; i < NMOVERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "crowd%02d", i);
        assert_int_equal(gs_login(&mv[i], srv.port, name), 0);
    }
    move_all(0, NMOVERS);
    /* every mover spawned for W (spawns go out with the next tick) */
    for (int i = 0; i < NMOVERS; i++)
        while (!seen[i].spawned) {
            assert_int_equal(gs_recv(&w, &msg, T), 1);
            w_feed(&msg, NULL);
        }
    /* let a full-set rebuild run (every LOD_TICKS fan-outs) with W's
     * neighbours at their spots */
    w_until_tick(last_tick + 2 * LOD_TICKS + 1);

    /* full-rate set: each round's position is there by the first tick after
     * the moves are in; count how often the others were (reduced rate) */
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < NMOVERS; i++)
        seen[i].spawned = 1;
    ticks_seen = 0;
    for (int r = 1; r <= ROUNDS; r++) {
        move_all(r & 1, NMOVERS);
        w_until_tick(last_tick + 1);
        for (int i = 0; i < NFULL_MOVERS; i++) {
            float x, y;
            spot(i, r & 1, &x, &y);
            if (!near_eq(seen[i].x, x) || !near_eq(seen[i].y, y))
                fail_msg("round %d: full-set neighbour %d (distance %d) is stale: W has (%.2f, "
                         "%.2f), it is at (%.2f, %.2f)",
                         r, i, 3 + i, (double)seen[i].x, (double)seen[i].y, (double)x, (double)y);
        }
    }
    uint32_t ticks = last_tick - first_tick + 1;
    for (int i = 0; i < NFULL_MOVERS; i++)
        assert_true(seen[i].updates >= ROUNDS);
    /* the band's outer half (the next NFULL): its edge (NFULL/4) every
     * other tick, the rest every 4th; beyond it the reduced rate: near ones
     * (<= 25 units) at most once per LOD_TICKS/2 ticks, far ones once per
     * LOD_TICKS (+1 for a pass already under way) */
    for (int i = NFULL_MOVERS; i < NMOVERS; i++) {
        uint32_t per = i < NFULL_MOVERS + NFULL / 4 ? 2
                       : i < NFULL_MOVERS + NFULL   ? 4
                       : 3 + i <= 25                ? LOD_TICKS / 2
                                                    : LOD_TICKS;
        if (seen[i].updates > ticks / per + 1)
            fail_msg("neighbour %d (distance %d): %u updates in %u ticks, more than one per %u", i,
                     3 + i, seen[i].updates, ticks, per);
    }
    /* ...and meaningfully fewer than the full set got, if rounds were short */
    if (ticks <= 3 * ROUNDS)
        assert_true(seen[NMOVERS - 1].updates < ROUNDS);
    /* eventually consistent: within LOD_TICKS ticks everyone is current */
    w_until_tick(last_tick + LOD_TICKS + 1);
    for (int i = 0; i < NMOVERS; i++) {
        float x, y;
        spot(i, ROUNDS & 1, &x, &y);
        if (!near_eq(seen[i].x, x) || !near_eq(seen[i].y, y))
            fail_msg("neighbour %d not consistent after %d ticks", i, LOD_TICKS);
    }

    /* churn: 10 log out, 6 walk out of view, in one burst; the rest move */
    for (int i = NMOVERS - 10; i < NMOVERS; i++) {
        proto_msg_t lo = {.type = PROTO_T_LOGOUT};
        assert_int_equal(gs_send(&mv[i], &lo), 0);
    }
    for (int i = NFULL; i < NFULL + 6; i++)
        assert_int_equal(gs_move(&mv[i], w.x + 300, w.y), 0);
    move_all(0, NFULL);
    for (int i = NFULL; i < NFULL + 6; i++)
        assert_int_equal(gs_barrier(&mv[i], NULL, NULL, T), 0);
    for (;;) { /* a missing despawn fails here: gs_recv times out */
        int want = 0;
        for (int i = 0; i < NMOVERS; i++)
            want += has_left(i) && !seen[i].gone;
        if (!want)
            break;
        assert_int_equal(gs_recv(&w, &msg, T), 1);
        w_feed(&msg, NULL);
    }
    w_until_tick(last_tick + LOD_TICKS + 1);
    for (int i = 0; i < NMOVERS; i++) {
        int left = has_left(i);
        assert_int_equal(seen[i].gone, left); /* exactly one despawn, none for who stayed */
        assert_int_equal(seen[i].update_after_gone, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_rate_set_every_tick_rest_reduced_no_despawn_lost,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_rate_set_every_tick_rest_reduced_no_despawn_lost,
                                        setup_encode_jobs, teardown),
        cmocka_unit_test_setup_teardown(test_full_rate_set_every_tick_rest_reduced_no_despawn_lost,
                                        setup_update_hz, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
