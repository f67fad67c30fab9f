/* The login server's lock-out table (tools/masterserver/master_lockout.c)
 * without a process: the thresholds, the doubling up to the maximum, the
 * forgetting, and the bound on its size whatever keys arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>

#include "master_auth.h"

static void test_locks_at_threshold_and_doubles_to_max(void **state)
{
    (void)state;
    mlock_t *l = mlock_create(64, 3, 100, 350, 10000);
    assert_non_null(l);
    uint64_t lock = 0, t = 1000;
    assert_int_equal(mlock_fail(l, "alice", t, &lock), 1);
    assert_int_equal(lock, 0);
    assert_int_equal(mlock_fail(l, "alice", t, &lock), 2);
    assert_int_equal(mlock_check(l, "alice", t), 0);
    assert_int_equal(mlock_fail(l, "alice", t, &lock), 3);
    assert_int_equal(lock, 100);
    assert_int_equal(mlock_check(l, "alice", t + 50), 50);
    assert_int_equal(mlock_check(l, "alice", t + 100), 0); /* expired */
    mlock_fail(l, "alice", t + 100, &lock);
    assert_int_equal(lock, 200);
    mlock_fail(l, "alice", t + 300, &lock);
    assert_int_equal(lock, 350); /* 400 capped at the maximum */
    mlock_fail(l, "alice", t + 700, &lock);
    assert_int_equal(lock, 350);
    assert_int_equal(mlock_check(l, "bob", t), 0); /* keys are separate */
    mlock_reset(l, "alice");
    assert_int_equal(mlock_check(l, "alice", t + 800), 0);
    assert_int_equal(mlock_fail(l, "alice", t + 800, &lock), 1);
    mlock_destroy(l);
}

static void test_quiet_key_is_forgotten(void **state)
{
    (void)state;
    mlock_t *l = mlock_create(64, 2, 100, 1000, 5000);
    uint64_t lock = 0;
    mlock_fail(l, "alice", 1000, &lock);
    assert_int_equal(mlock_fail(l, "alice", 7000, &lock), 1); /* 6 s quiet > 5 s */
    assert_int_equal(lock, 0);
    mlock_destroy(l);
}

static void test_table_stays_bounded_under_many_keys(void **state)
{
    (void)state;
    mlock_t *l = mlock_create(1000, 5, 1000, 1000, 3600000);
    uint64_t lock = 0;
    char key[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        mlock_fail(l, key, (uint64_t)i, &lock);
    }
    assert_true(mlock_used(l) <= 1024); /* slots rounded up to a power of two */
    /* a key failing now still counts: a flood of other keys evicts the oldest */
    for (int i = 0; i < 5; i++)
        mlock_fail(l, "203.0.113.7", 300000, &lock);
    assert_int_equal(lock, 1000);
    assert_true(mlock_check(l, "203.0.113.7", 300001) > 0);
    mlock_destroy(l);
}

static void test_connections_per_address_capped_and_released(void **state)
{
    (void)state;
    mconn_t *c = mconn_create(64);
    assert_non_null(c);
    assert_int_equal(mconn_add(c, "10.0.0.1", 2), 1);
    assert_int_equal(mconn_add(c, "10.0.0.1", 2), 1);
    assert_int_equal(mconn_add(c, "10.0.0.1", 2), 0);
    assert_int_equal(mconn_add(c, "10.0.0.2", 2), 1); /* other addresses unaffected */
    mconn_del(c, "10.0.0.1");
    assert_int_equal(mconn_add(c, "10.0.0.1", 2), 1);
    mconn_del(c, "10.0.0.1");
    mconn_del(c, "10.0.0.1");
    mconn_del(c, "10.0.0.2");
    /* every slot free again: 64 other addresses fit (window permitting) */
    int counted = 0;
    char key[32];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "192.0.2.%d", i);
        counted += mconn_add(c, key, 1) == 1;
    }
    assert_true(counted >= 32);
    mconn_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locks_at_threshold_and_doubles_to_max),
        cmocka_unit_test(test_quiet_key_is_forgotten),
        cmocka_unit_test(test_table_stays_bounded_under_many_keys),
        cmocka_unit_test(test_connections_per_address_capped_and_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
