/* Job system: stop policy DRAIN.  nc_pool_destroy runs every job posted
 * before it, refuses later posts with NC_ESTOPPED, cancels timers and frees
 * everything (the sanitizer builds check the "frees"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "nc_testutil.h"

static atomic_int ran;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void test_destroy_runs_every_job_posted_before_it(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 3};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_t *a, *b;
    nc_queue_opts_t oa = {.name = "a", .max_threads = 1, .priority = NC_PRIO_LOW};
    nc_queue_opts_t ob = {.name = "b", .max_threads = 2};
    assert_int_equal(nc_queue_create(pool, &oa, &a), 0);
    assert_int_equal(nc_queue_create(pool, &ob, &b), 0);
    nc_strand_t *s[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(nc_strand_create(i % 2 ? a : b, &s[i]), 0);
    atomic_store(&ran, 0);
    for (int i = 0; i < 20000; i++) {
        int rc = (i % 3 == 0) ? nc_queue_post(i % 2 ? a : b, count_job, NULL)
                              : nc_strand_post(s[i % 4], count_job, NULL);
        assert_int_equal(rc, 0);
    }
    for (int i = 0; i < 4; i++)
        nc_strand_release(s[i]);
    nc_pool_destroy(pool);
    assert_int_equal(atomic_load(&ran), 20000);
}

/* A job that reposts itself until a post fails: it can only stop once
 * destroy has begun, and must see NC_ESTOPPED for every kind of post. */
typedef struct {
    nc_strand_t *s;
    nc_queue_t *q;
    atomic_int rc_strand, rc_queue, rc_force, rc_create, rc_timer, rc_qcreate;
    atomic_int started;
} chain_t;

static void chain_job(void *arg)
{
    chain_t *c = arg;
    atomic_store(&c->started, 1);
    int rc = nc_strand_post(c->s, chain_job, c);
    if (rc == 0)
        return;
    atomic_store(&c->rc_strand, rc);
    atomic_store(&c->rc_queue, nc_queue_post(c->q, count_job, NULL));
    atomic_store(&c->rc_force, nc__strand_post_force(c->s, count_job, NULL));
    nc_strand_t *s2 = NULL;
    atomic_store(&c->rc_create, nc_strand_create(c->q, &s2));
    nc_timer_id_t id;
    atomic_store(&c->rc_timer, nc_timer_start(c->s, 1, 0, count_job, NULL, &id));
    nc_queue_t *q2;
    nc_queue_opts_t o = {.name = "late", .max_threads = 1};
    atomic_store(&c->rc_qcreate, nc_queue_create(nc_queue_pool(c->q), &o, &q2));
}

static void test_post_after_stop_began_returns_estopped(void **state)
{
    (void)state;
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(NULL, &pool), 0);
    chain_t c = {0};
    nc_queue_opts_t o = {.name = "q", .max_threads = 1};
    assert_int_equal(nc_queue_create(pool, &o, &c.q), 0);
    assert_int_equal(nc_strand_create(c.q, &c.s), 0);
    assert_int_equal(nc_strand_post(c.s, chain_job, &c), 0);
    assert_true(nc_test_wait_atomic_ge(&c.started, 1, 5000));
    nc_strand_release(c.s);
    nc_pool_destroy(pool);
    assert_int_equal(atomic_load(&c.rc_strand), NC_ESTOPPED);
    assert_int_equal(atomic_load(&c.rc_queue), NC_ESTOPPED);
    assert_int_equal(atomic_load(&c.rc_force), NC_ESTOPPED);
    assert_int_equal(atomic_load(&c.rc_create), NC_ESTOPPED);
    assert_int_equal(atomic_load(&c.rc_timer), NC_ESTOPPED);
    assert_int_equal(atomic_load(&c.rc_qcreate), NC_ESTOPPED);
}

static void test_destroy_cancels_armed_timers_without_running_them(void **state)
{
    (void)state;
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(NULL, &pool), 0);
    nc_queue_t *q;
    nc_queue_opts_t o = {.name = "q", .max_threads = 1};
    assert_int_equal(nc_queue_create(pool, &o, &q), 0);
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(q, &s), 0);
    atomic_store(&ran, 0);
    nc_timer_id_t id;
    assert_int_equal(nc_timer_start(s, 3600 * 1000, 0, count_job, NULL, &id), 0);
    assert_int_equal(nc_timer_start(s, 3600 * 1000, 10, count_job, NULL, &id), 0);
    assert_int_equal(nc__pool_live_timers(pool), 2);
    nc_strand_release(s); /* the timers keep the strand alive until destroy */
    assert_int_equal(nc__pool_live_strands(pool), 1);
    nc_pool_destroy(pool);
    assert_int_equal(atomic_load(&ran), 0);
}

static void test_stats_count_jobs_and_waits(void **state)
{
    (void)state;
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(NULL, &pool), 0);
    nc_queue_t *q;
    nc_queue_opts_t o = {.name = "stats", .max_threads = 2, .priority = NC_PRIO_HIGH};
    assert_int_equal(nc_queue_create(pool, &o, &q), 0);
    atomic_store(&ran, 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(nc_queue_post(q, count_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&ran, 500, 5000));
    nc_queue_stats_t st;
    assert_int_equal(nc_pool_stats(pool, &st, 1), 1);
    assert_string_equal(st.name, "stats");
    assert_int_equal(st.priority, NC_PRIO_HIGH);
    assert_int_equal(st.jobs_run, 500);
    assert_int_equal(st.pending, 0);
    assert_true(st.max_running_seen >= 1 && st.max_running_seen <= 2);
    assert_true(st.wait_p50_us <= st.wait_p99_us);
    assert_true(st.wait_p99_us <= st.wait_max_us);
    assert_int_equal(nc_pool_stats(pool, NULL, 0), 1);
    nc_pool_destroy(pool);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destroy_runs_every_job_posted_before_it),
        cmocka_unit_test(test_post_after_stop_began_returns_estopped),
        cmocka_unit_test(test_destroy_cancels_armed_timers_without_running_them),
        cmocka_unit_test(test_stats_count_jobs_and_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
