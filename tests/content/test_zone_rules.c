/* Movement validation and chat rate limiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "zone_rules.h"

/* 10 units/s; the bucket holds 0.3 s of movement = 3 units */
static const zone_move_rules_t R = {10.0f, 300};

static zone_move_state_t fresh(uint64_t now)
{
    zone_move_state_t st;
    zone_move_init(&st, &R, now);
    return st;
}

static void test_move_within_speed_is_accepted(void **state)
{
    (void)state;
    zone_move_state_t st = fresh(1000);
    /* a full bucket allows a step at once, e.g. right after entering */
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 10, 10, 12, 10, 1000), ZONE_MOVE_OK);
    /* then 0.2 s refills 2 units */
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 12, 10, 14, 10, 1200), ZONE_MOVE_OK);
}

static void test_move_too_fast_is_rejected(void **state)
{
    (void)state;
    zone_move_state_t st = fresh(1000);
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 10, 10, 14, 10, 1000), ZONE_MOVE_TOO_FAST);
}

static void test_idle_time_earns_no_teleport(void **state)
{
    (void)state;
    zone_move_state_t st = fresh(0);
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 10, 10, 60, 10, 60000), ZONE_MOVE_TOO_FAST);
}

/* The hole a per-move allowance leaves: many small moves sent back to back
 * each look slow.  The budget bounds the distance over any window. */
static void test_spamming_small_moves_cannot_exceed_the_speed(void **state)
{
    (void)state;
    zone_move_state_t st = fresh(0);
    float x = 10;
    for (uint64_t t = 0; t <= 1000; t++) { /* one move a millisecond, 1 unit each */
        if (zone_move_check(&R, &st, 1000, 100, x, 10, x + 1.0f, 10, t) == ZONE_MOVE_OK)
            x += 1.0f;
    }
    /* at most the bucket (3) plus 1 s of refill (10) */
    assert_true(x - 10 <= 13.0f + 0.001f);
    assert_true(x - 10 >= 12.0f);
}

static void test_move_out_of_bounds_or_nan_is_rejected(void **state)
{
    (void)state;
    zone_move_state_t st = fresh(0);
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 99, 10, 100.5f, 10, 1000),
                     ZONE_MOVE_OUT_OF_BOUNDS);
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 1, 10, -0.5f, 10, 1000),
                     ZONE_MOVE_OUT_OF_BOUNDS);
    assert_int_equal(zone_move_check(&R, &st, 100, 100, 1, 10, NAN, 10, 1000), ZONE_MOVE_BAD_VALUE);
}

static void test_chat_burst_then_mute_then_recover(void **state)
{
    (void)state;
    chat_limit_rules_t r = {1.0f, 3.0f, 5000};
    chat_limit_t c;
    chat_limit_init(&c, &r, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(chat_limit_check(&c, &r, 10), CHAT_LIMIT_OK);
    assert_int_equal(chat_limit_check(&c, &r, 20), CHAT_LIMIT_NOW_MUTED);
    assert_int_equal(chat_limit_check(&c, &r, 3000), CHAT_LIMIT_MUTED);
    assert_int_equal(chat_limit_check(&c, &r, 6000), CHAT_LIMIT_OK);
}

static void test_chat_steady_rate_is_never_muted(void **state)
{
    (void)state;
    chat_limit_rules_t r = {2.0f, 2.0f, 5000};
    chat_limit_t c;
    chat_limit_init(&c, &r, 0);
    for (uint64_t t = 0; t < 20000; t += 500)
        assert_int_equal(chat_limit_check(&c, &r, t), CHAT_LIMIT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_move_within_speed_is_accepted),
        cmocka_unit_test(test_move_too_fast_is_rejected),
        cmocka_unit_test(test_idle_time_earns_no_teleport),
        cmocka_unit_test(test_spamming_small_moves_cannot_exceed_the_speed),
        cmocka_unit_test(test_move_out_of_bounds_or_nan_is_rejected),
        cmocka_unit_test(test_chat_burst_then_mute_then_recover),
        cmocka_unit_test(test_chat_steady_rate_is_never_muted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
