/* Job system: bounded queues.  Posts fail with NC_EQFULL at capacity, the
 * engine's force post never fails but reports "full", and a paused reader's
 * waiter is called exactly once, on a worker, when the queue drains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "nc_testutil.h"

static atomic_int gate_open, gate_entered, ran;

static void gate_job(void *arg)
{
    (void)arg;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open))
        nc__sleep_ms(1);
}

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

typedef struct {
    nc__waiter_t w;
    atomic_int calls;
    uint64_t caller;
    uint64_t pending_seen;
    nc_pool_t *pool;
} waiter_t;

static void on_room(nc__waiter_t *w)
{
    waiter_t *t = NC_CONTAINER_OF(w, waiter_t, w);
    t->caller = nc__thread_self_id();
    nc_queue_stats_t st;
    nc_pool_stats(t->pool, &st, 1);
    t->pending_seen = st.pending;
    atomic_fetch_add(&t->calls, 1);
}

/* A cap-1 queue whose only worker slot is held by a gate job, so pending
 * counts are exact while the test posts. */
static nc_pool_t *gated_pool(uint32_t capacity, uint32_t low_water, nc_queue_t **q)
{
    nc_pool_opts_t po = {.threads = 2};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_opts_t qo = {
        .name = "game", .max_threads = 1, .capacity = capacity, .low_water = low_water};
    assert_int_equal(nc_queue_create(pool, &qo, q), 0);
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    atomic_store(&ran, 0);
    assert_int_equal(nc_queue_post(*q, gate_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&gate_entered, 1, 5000));
    return pool;
}

static void finish(nc_pool_t *pool, int want_ran)
{
    assert_true(nc_test_wait_atomic_ge(&ran, want_ran, 5000));
    nc_queue_stats_t st;
    nc_pool_stats(pool, &st, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(nc__pool_live_strands(pool), 0);
    assert_int_equal(nc__pool_live_timers(pool), 0);
    nc_pool_destroy(pool);
}

static void test_post_returns_eqfull_at_capacity_and_counts_rejected(void **state)
{
    (void)state;
    nc_queue_t *q;
    nc_pool_t *pool = gated_pool(8, 4, &q);
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(q, &s), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(
            i % 2 ? nc_queue_post(q, count_job, NULL) : nc_strand_post(s, count_job, NULL), 0);
    assert_int_equal(nc_queue_post(q, count_job, NULL), NC_EQFULL);
    assert_int_equal(nc_strand_post(s, count_job, NULL), NC_EQFULL);
    nc_queue_stats_t st;
    nc_pool_stats(pool, &st, 1);
    assert_int_equal(st.pending, 8);
    assert_int_equal(st.rejected, 2);
    assert_int_equal(st.running, 1);
    nc_strand_release(s);
    atomic_store(&gate_open, 1);
    finish(pool, 8);
}

static void test_force_post_ignores_capacity_and_reports_full(void **state)
{
    (void)state;
    nc_queue_t *q;
    nc_pool_t *pool = gated_pool(4, 2, &q);
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(q, &s), 0);
    assert_int_equal(nc__strand_post_force(s, count_job, NULL), 0);
    assert_int_equal(nc__strand_post_force(s, count_job, NULL), 0);
    assert_int_equal(nc__strand_post_force(s, count_job, NULL), 0);
    assert_int_equal(nc__strand_post_force(s, count_job, NULL), 1); /* now at capacity */
    assert_int_equal(nc__strand_post_force(s, count_job, NULL), 1); /* over: still queued */
    nc_queue_stats_t st;
    nc_pool_stats(pool, &st, 1);
    assert_int_equal(st.pending, 5);
    assert_int_equal(st.rejected, 0);
    nc_strand_release(s);
    atomic_store(&gate_open, 1);
    finish(pool, 5);
}

static void test_waiter_called_once_on_a_worker_when_below_low_water(void **state)
{
    (void)state;
    nc_queue_t *q;
    nc_pool_t *pool = gated_pool(8, 3, &q);
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(q, &s), 0);
    int rc = 0;
    for (int i = 0; i < 8; i++)
        rc = nc__strand_post_force(s, count_job, NULL);
    assert_int_equal(rc, 1);
    waiter_t w = {.w.fn = on_room, .pool = pool};
    nc__queue_wait_room(q, &w.w);
    nc_queue_stats_t st;
    nc_pool_stats(pool, &st, 1);
    assert_int_equal(st.capacity_pauses, 1);
    assert_int_equal(atomic_load(&w.calls), 0); /* gate holds every job */
    atomic_store(&gate_open, 1);
    assert_true(nc_test_wait_atomic_ge(&w.calls, 1, 5000));
    assert_true(w.pending_seen < 3);
    assert_true(w.caller != nc__thread_self_id());
    nc_strand_release(s);
    finish(pool, 8);
    assert_int_equal(atomic_load(&w.calls), 1);
}

static void test_waiter_called_at_once_when_queue_already_below_low_water(void **state)
{
    (void)state;
    nc_queue_t *q;
    nc_pool_t *pool = gated_pool(8, 4, &q);
    waiter_t w = {.w.fn = on_room, .pool = pool};
    nc__queue_wait_room(q, &w.w); /* pending 0 < 4: due now, still on a worker */
    assert_true(nc_test_wait_atomic_ge(&w.calls, 1, 5000));
    assert_true(w.caller != nc__thread_self_id());
    atomic_store(&gate_open, 1);
    finish(pool, 0);
    assert_int_equal(atomic_load(&w.calls), 1);
}

static void test_waiter_still_pending_at_destroy_is_called_once(void **state)
{
    (void)state;
    nc_queue_t *q;
    nc_pool_t *pool = gated_pool(4, 1, &q);
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(q, &s), 0);
    for (int i = 0; i < 4; i++)
        nc__strand_post_force(s, count_job, NULL);
    waiter_t w = {.w.fn = on_room, .pool = pool};
    nc__queue_wait_room(q, &w.w);
    nc_strand_release(s);
    atomic_store(&gate_open, 1);
    nc_pool_destroy(pool);
    assert_int_equal(atomic_load(&w.calls), 1);
    assert_int_equal(atomic_load(&ran), 4);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_returns_eqfull_at_capacity_and_counts_rejected),
        cmocka_unit_test(test_force_post_ignores_capacity_and_reports_full),
        cmocka_unit_test(test_waiter_called_once_on_a_worker_when_below_low_water),
        cmocka_unit_test(test_waiter_called_at_once_when_queue_already_below_low_water),
        cmocka_unit_test(test_waiter_still_pending_at_destroy_is_called_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
