/* End-to-end play on one shard: spawn, interest-limited moves and chat,
 * whisper, zone change, who, logout; movement correction; takeover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gs_harness.h"

#define T 5000

static gs_proc_t srv;
static gs_client_t a, b, c;
static proto_msg_t m;

static int setup_fast(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    /* walk_step re-sends a corrected move at round-trip pace (thousands a
     * second on loopback): no request budget for that */
    const char *extra[] = {"--set", "zones.max_speed=1000", "--set", "limits.budget_per_s=0", NULL};
    return gs_proc_start(&srv, extra, 5000);
}

static int setup_default(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    return gs_proc_start(&srv, NULL, 5000);
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&a);
    gs_close(&b);
    gs_close(&c);
    int st = gs_proc_stop(&srv, SIGTERM, 5000);
    gs_proc_cleanup(&srv);
    return st == 0 ? 0 : -1;
}

typedef struct watch_s {
    uint32_t id;
    int hits;
} watch_t;

static void count_about(const proto_msg_t *x, void *arg)
{
    watch_t *w = arg;
    if (gs_match_entity(x, &w->id) ||
        (x->type == PROTO_T_CHAT_DELIVER && x->chat_deliver.channel == 0))
        w->hits++;
}

static int from_alice(const proto_msg_t *x, const void *arg)
{
    (void)arg;
    return strcmp(x->chat_deliver.sender, "alice") == 0;
}

/* Carol walks out of view of alice and bob (zone 1 is 1000x1000, view 50). */
static void carol_leaves_view(void)
{
    /* spawns go out at the zone's next tick: wait for them, so there is
     * something to despawn (a move before that tick is never spawned) */
    assert_int_equal(gs_expect(&a, PROTO_T_SPAWN, gs_match_entity, &c.entity_id, NULL, T), 0);
    assert_int_equal(gs_expect(&c, PROTO_T_SPAWN, gs_match_entity, &a.entity_id, NULL, T), 0);
    assert_int_equal(gs_move(&c, 600, 500), 0);
    assert_int_equal(gs_move(&c, 700, 520), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_DESPAWN, gs_match_entity, &c.entity_id, &m, T), 0);
    assert_int_equal(m.despawn.reason, 0);
    assert_int_equal(gs_expect(&c, PROTO_T_DESPAWN, gs_match_entity, &a.entity_id, NULL, T), 0);
}

static void test_players_see_move_chat_whisper_change_zone_and_log_out(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "alice"), 0);
    assert_int_equal(a.zone, 1);
    assert_int_equal(gs_login(&b, srv.port, "bob"), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_SPAWN, gs_match_entity, &b.entity_id, &m, T), 0);
    assert_string_equal(m.spawn.name, "bob");
    assert_int_equal(gs_expect(&b, PROTO_T_SPAWN, gs_match_entity, &a.entity_id, NULL, T), 0);
    assert_int_equal(gs_login(&c, srv.port, "carol"), 0);
    carol_leaves_view();

    /* a move within view reaches bob; carol, out of view, hears nothing */
    assert_int_equal(gs_move(&a, 510, 505), 0);
    assert_int_equal(gs_expect(&b, PROTO_T_ENTITY_UPDATES, gs_match_entity, &a.entity_id, &m, T),
                     0);
    float ax = 0, ay = 0; /* quantized: within half a step (zone side / 65535) */
    assert_true(gs_update_pos(&m, a.entity_id, &ax, &ay));
    assert_true(fabsf(ax - 510) < 0.05f && fabsf(ay - 505) < 0.05f);
    /* zone-local chat: bob hears it, carol does not */
    assert_int_equal(gs_chat(&a, 0, NULL, "hello"), 0);
    assert_int_equal(gs_expect(&b, PROTO_T_CHAT_DELIVER, from_alice, NULL, &m, T), 0);
    assert_string_equal(m.chat_deliver.text, "hello");
    watch_t w = {a.entity_id, 0};
    assert_int_equal(gs_barrier(&c, count_about, &w, T), 0);
    assert_int_equal(w.hits, 0);

    /* whisper by name reaches carol wherever she stands */
    assert_int_equal(gs_chat(&a, 2, "carol", "psst"), 0);
    assert_int_equal(gs_expect(&c, PROTO_T_CHAT_DELIVER, from_alice, NULL, &m, T), 0);
    assert_int_equal(m.chat_deliver.channel, 2);
    assert_string_equal(m.chat_deliver.text, "psst");

    /* zone change: bob goes to zone 2; alice sees him leave for it */
    proto_msg_t zc = {.type = PROTO_T_ZONE_CHANGE_REQUEST};
    zc.zone_change_request.zone = 2;
    assert_int_equal(gs_send(&b, &zc), 0);
    assert_int_equal(gs_expect(&b, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(m.zone_changed.zone, 2);
    assert_int_equal(gs_expect(&a, PROTO_T_DESPAWN, gs_match_entity, &b.entity_id, &m, T), 0);
    assert_int_equal(m.despawn.reason, 2);

    proto_msg_t who = {.type = PROTO_T_WHO_REQUEST};
    who.who_request.scope = 1;
    assert_int_equal(gs_send(&a, &who), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_WHO_RESPONSE, NULL, NULL, &m, T), 0);
    assert_int_equal(m.who_response.total, 3);

    proto_msg_t bye = {.type = PROTO_T_LOGOUT};
    assert_int_equal(gs_send(&a, &bye), 0);
    assert_int_equal(gs_expect_close(&a, T), 0);
}

static void test_too_fast_move_is_corrected(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "speedy"), 0);
    float x0 = a.x, y0 = a.y;
    assert_int_equal(gs_move(&a, x0 + 450, y0), 0); /* budget: 1000 u/s x 0.3 s */
    assert_int_equal(gs_expect(&a, PROTO_T_MOVE_CORRECTION, NULL, NULL, &m, T), 0);
    assert_true(m.move_correction.pos.x == x0 && m.move_correction.pos.y == y0);
    assert_int_equal(gs_move(&a, -5, y0), 0); /* out of bounds */
    assert_int_equal(gs_expect(&a, PROTO_T_MOVE_CORRECTION, NULL, NULL, &m, T), 0);
    assert_true(m.move_correction.pos.x == x0);
}

static void test_second_login_takes_over_the_first(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "twin"), 0);
    /* the takeover completes once the first connection is closed: the
     * first client reads its notice and closes when the server does */
    assert_int_equal(gs_login_send(&b, srv.port, "twin", NULL, 0), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_int_equal(m.notice.code, PROTO_ERR_ALREADY_ONLINE);
    assert_int_equal(gs_expect_close(&a, T), 0);
    assert_int_equal(gs_login_finish(&b, NULL), 0);
    assert_int_equal(gs_barrier(&b, NULL, NULL, T), 0);
}

typedef struct {
    int corrected, changed;
    proto_msg_t zone_changed;
} walk_t;

static walk_t wk;

static void note_walk(const proto_msg_t *msg, void *arg)
{
    walk_t *w = arg;
    if (msg->type == PROTO_T_MOVE_CORRECTION)
        w->corrected = 1;
    if (msg->type == PROTO_T_ZONE_CHANGED) {
        w->changed = 1;
        w->zone_changed = *msg;
    }
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One legal step: the server refills the movement budget at max_speed, so a
 * step it corrects (budget spent) is sent again until it is accepted. */
static void walk_step(gs_client_t *who, float x, float y)
{
    uint64_t end = wall_ms() + (uint64_t)T;
    do {
        wk.corrected = 0;
        assert_int_equal(gs_move(who, x, y), 0);
        assert_int_equal(gs_barrier(who, note_walk, &wk, T), 0);
    } while (wk.corrected && wall_ms() < end);
    assert_false(wk.corrected);
}

static void test_portal_moves_player_to_linked_zone(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "walker"), 0);
    /* zone 1's portal at (990, 500) leads to zone 2 (20, 500) */
    wk.changed = 0;
    for (float x = a.x + 100; x < 990; x += 100)
        walk_step(&a, x, 500);
    walk_step(&a, 988, 500);
    if (wk.changed)
        m = wk.zone_changed;
    else
        assert_int_equal(gs_expect(&a, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(m.zone_changed.zone, 2);
    assert_true(m.zone_changed.pos.x == 20 && m.zone_changed.pos.y == 500);
}

static void test_chat_flood_mutes_with_a_notice(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "loud"), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(gs_chat(&a, 0, NULL, "spam"), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_non_null(strstr(m.notice.text, "muted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_players_see_move_chat_whisper_change_zone_and_log_out,
                                        setup_fast, teardown),
        cmocka_unit_test_setup_teardown(test_too_fast_move_is_corrected, setup_default, teardown),
        cmocka_unit_test_setup_teardown(test_second_login_takes_over_the_first, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_portal_moves_player_to_linked_zone, setup_fast,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chat_flood_mutes_with_a_notice, setup_default,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
