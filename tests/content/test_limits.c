/* Abuse-limit bookkeeping (content/src/limits.c): request budget and packet
 * costs, the flood verdict (drop, warn, kick), source addresses and the
 * per-address table.  (The rate-limited log line content uses is netcore's
 * nc_log_limited: tests/netcore/test_overload.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "content_limits.h"
#include "proto_packets.h"

static void test_bucket_spends_refills_and_caps_at_burst(void **state)
{
    (void)state;
    tbucket_t b;
    tbucket_init(&b, 10, 1000);
    assert_int_equal(tbucket_take(&b, 5, 10, 10, 1000), 1);
    assert_int_equal(tbucket_take(&b, 5, 10, 1, 1000), 0); /* empty: nothing taken */
    assert_int_equal(tbucket_take(&b, 5, 10, 1, 1200), 1); /* 0.2 s at 5/s = 1 */
    assert_int_equal(tbucket_take(&b, 5, 10, 1, 1200), 0);
    /* an hour idle earns the burst, not more */
    assert_true(tbucket_refill(&b, 5, 10, 3601200) == 10.0);
    /* time going backwards earns nothing */
    assert_true(tbucket_refill(&b, 5, 10, 5) == 10.0);
}

/* Normal play stays inside the default budget (60/s, burst 120): 5 Hz moves,
 * 20 Hz pings, a chat every second and a who every 2 s for a minute; a who
 * flood does not. */
static void test_normal_play_fits_the_budget_and_a_who_flood_does_not(void **state)
{
    (void)state;
    tbucket_t b;
    tbucket_init(&b, 120, 0);
    int dropped = 0;
    for (uint64_t t = 0; t < 60000; t += 10) {
        if (t % 200 == 0)
            dropped += !tbucket_take(&b, 60, 120, limits_cost(PROTO_T_MOVE), t);
        if (t % 50 == 0)
            dropped += !tbucket_take(&b, 60, 120, limits_cost(PROTO_T_PING), t);
        if (t % 1000 == 0)
            dropped += !tbucket_take(&b, 60, 120, limits_cost(PROTO_T_CHAT), t);
        if (t % 2000 == 0)
            dropped += !tbucket_take(&b, 60, 120, limits_cost(PROTO_T_WHO_REQUEST), t);
    }
    assert_int_equal(dropped, 0);
    int taken = 0;
    for (uint64_t t = 60000; t < 61000; t++) /* a who every ms for a second */
        taken += tbucket_take(&b, 60, 120, limits_cost(PROTO_T_WHO_REQUEST), t);
    assert_true(taken <= 120 / 20 + 60 / 20 + 1);
    assert_true(limits_cost(PROTO_T_WHO_REQUEST) > limits_cost(PROTO_T_CHAT));
    assert_true(limits_cost(PROTO_T_CHAT) > limits_cost(PROTO_T_MOVE));
}

static void test_flood_warns_once_a_second_then_kicks(void **state)
{
    (void)state;
    flood_state_t f = {0};
    int warns = 0;
    flood_verdict_t v = FLOOD_DROP;
    uint64_t t = 1000;
    /* 100 drops a second: a warning in each of the first three seconds; the
     * fourth second's tenth drop, 3 s into the episode, kicks */
    for (int i = 0; i < 1000 && v != FLOOD_KICK; i++, t += 10) {
        v = flood_on_drop(&f, 10, 3, t);
        warns += v == FLOOD_WARN;
    }
    assert_int_equal(v, FLOOD_KICK);
    assert_int_equal(warns, 3);
    assert_true(t >= 1000 + 3000 && t < 1000 + 4000);
}

static void test_flood_episode_survives_short_pauses_not_long_ones(void **state)
{
    (void)state;
    /* bursts of 50 drops every 2 s (reads paused in between): one episode,
     * kicked after kick_s */
    flood_state_t f = {0};
    flood_verdict_t v = FLOOD_DROP;
    uint64_t t = 1000;
    for (int burst = 0; burst < 10 && v != FLOOD_KICK; burst++, t += 2000)
        for (int i = 0; i < 50 && v != FLOOD_KICK; i++)
            v = flood_on_drop(&f, 10, 3, t + (uint64_t)i);
    assert_int_equal(v, FLOOD_KICK);
    assert_true(t <= 1000 + 3 * 2000);
    /* bursts every 11 s (netcore's packet rate repaying a read's debt):
     * still one episode, kicked at the second burst */
    flood_state_t e = {0};
    v = FLOOD_DROP;
    t = 1000;
    for (int burst = 0; burst < 3 && v != FLOOD_KICK; burst++, t += 11000)
        for (int i = 0; i < 50 && v != FLOOD_KICK; i++)
            v = flood_on_drop(&e, 10, 5, t + (uint64_t)i);
    assert_int_equal(v, FLOOD_KICK);
    assert_int_equal(t, 1000 + 2 * 11000); /* the loop stepped past the second */
    /* the same bursts 20 s apart: each is a new episode, never a kick */
    flood_state_t g = {0};
    for (uint64_t u = 1000; u < 400000; u += 20000)
        for (int i = 0; i < 50; i++)
            assert_int_not_equal(flood_on_drop(&g, 10, 3, u + (uint64_t)i), FLOOD_KICK);
    /* a few drops a second never warn */
    flood_state_t h = {0};
    for (uint64_t u = 1000; u < 60000; u += 200)
        assert_int_equal(flood_on_drop(&h, 10, 2, u), FLOOD_DROP);
    /* kick_s 0: warnings only */
    flood_state_t k = {0};
    for (uint64_t u = 1000; u < 60000; u += 10)
        assert_int_not_equal(flood_on_drop(&k, 10, 0, u), FLOOD_KICK);
}

static void test_peer_addresses(void **state)
{
    (void)state;
    char ip[48];
    limits_peer_ip("192.168.1.20:5000", ip, sizeof ip);
    assert_string_equal(ip, "192.168.1.20");
    limits_peer_ip("[2001:db8::1]:443", ip, sizeof ip);
    assert_string_equal(ip, "2001:db8::1");
    limits_peer_ip("?", ip, sizeof ip);
    assert_string_equal(ip, "?");
    limits_peer_ip("10.0.0.1:1", ip, 4);
    assert_string_equal(ip, "10.");
    assert_true(limits_ip_is_loopback("127.0.0.1"));
    assert_true(limits_ip_is_loopback("127.3.2.1"));
    assert_true(limits_ip_is_loopback("::1"));
    assert_false(limits_ip_is_loopback("128.0.0.1"));
    assert_false(limits_ip_is_loopback("10.127.0.1"));
}

static void test_ip_table_caps_prelogin_per_address_and_forgets_idle(void **state)
{
    (void)state;
    ip_table_t t;
    ipt_init(&t, 2);
    assert_int_equal(ipt_prelogin_enter(&t, "10.0.0.1", 2), 1);
    assert_int_equal(ipt_prelogin_enter(&t, "10.0.0.1", 2), 1);
    assert_int_equal(ipt_prelogin_enter(&t, "10.0.0.1", 2), 0);
    assert_int_equal(ipt_prelogin_enter(&t, "10.0.0.2", 2), 1); /* another address */
    ipt_prelogin_leave(&t, "10.0.0.1", 0);
    assert_int_equal(ipt_prelogin_enter(&t, "10.0.0.1", 2), 1);
    ipt_prelogin_leave(&t, "10.0.0.1", 0);
    ipt_prelogin_leave(&t, "10.0.0.1", 0);
    ipt_prelogin_leave(&t, "10.0.0.2", 0);
    assert_int_equal(ipt_size(&t), 0);

    /* new characters: 2 a minute per address, refilled over the minute */
    assert_true(ipt_chars_available(&t, "10.0.0.3", 1000) >= 2);
    ipt_chars_take(&t, "10.0.0.3", 1000);
    ipt_chars_take(&t, "10.0.0.3", 1000);
    assert_true(ipt_chars_available(&t, "10.0.0.3", 1000) < 1);
    assert_true(ipt_chars_available(&t, "10.0.0.4", 1000) >= 1);
    assert_true(ipt_chars_available(&t, "10.0.0.3", 31000) >= 1);
    assert_int_equal(ipt_size(&t), 1);

    /* thousands of addresses that come and go leave no entries behind;
     * spent buckets are swept once they have refilled */
    char ip[48];
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
        assert_int_equal(ipt_prelogin_enter(&t, ip, 1), 1);
        ipt_prelogin_leave(&t, ip, 2000);
        ipt_chars_take(&t, ip, 2000 + (uint64_t)i * 100);
    }
    assert_true(ipt_size(&t) < 2100);
    ipt_free(&t);
}

/* Reservations: both buckets or neither; a refund gives the token back. */
static void test_new_character_reservations(void **state)
{
    (void)state;
    ip_table_t t;
    ipt_init(&t, 3);          /* 3 a minute per address */
    ipt_set_global(&t, 4, 0); /* 4 a minute on the shard */
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.1", 0), 1);
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.1", 0), 1);
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.1", 0), 1);
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.1", 0), 0); /* address spent */
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.2", 0), 1); /* global: 4th */
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.3", 0), 0); /* global spent */
    assert_int_equal(ipt_chars_reserve(&t, "", 0), 0);         /* exempt: global only */
    /* a login that found its character gives the token back */
    ipt_chars_refund(&t, "10.0.0.1", 0);
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.3", 0), 1);
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.1", 0), 0);
    /* a minute later both have refilled */
    assert_int_equal(ipt_chars_reserve(&t, "10.0.0.1", 60000), 1);
    /* refunds never exceed a bucket */
    for (int i = 0; i < 10; i++)
        ipt_chars_refund(&t, "10.0.0.2", 120000);
    int n = 0;
    while (ipt_chars_reserve(&t, "10.0.0.2", 120000))
        n++;
    assert_int_equal(n, 3);
    ipt_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_spends_refills_and_caps_at_burst),
        cmocka_unit_test(test_normal_play_fits_the_budget_and_a_who_flood_does_not),
        cmocka_unit_test(test_flood_warns_once_a_second_then_kicks),
        cmocka_unit_test(test_flood_episode_survives_short_pauses_not_long_ones),
        cmocka_unit_test(test_peer_addresses),
        cmocka_unit_test(test_ip_table_caps_prelogin_per_address_and_forgets_idle),
        cmocka_unit_test(test_new_character_reservations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
