/* Job system: per-queue thread caps.  Concurrency inside a queue's jobs is
 * measured with atomics and must reach, never exceed, the cap, even with
 * more idle workers than the cap and many producers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "nc_testutil.h"

#define WORKERS 8
#define PRODUCERS 4
#define STRANDS 16
#define JOBS_PER_PRODUCER 1500

typedef struct {
    atomic_int cur, max, done, errors;
} conc_t;

static void busy_us(uint64_t us)
{
    uint64_t end = nc_now_ns() + us * 1000u;
    while (nc_now_ns() < end) {
    }
}

static void conc_job(void *arg)
{
    conc_t *c = arg;
    int now = atomic_fetch_add(&c->cur, 1) + 1;
    int m = atomic_load(&c->max);
    while (now > m && !atomic_compare_exchange_weak(&c->max, &m, now)) {
    }
    busy_us(30);
    atomic_fetch_sub(&c->cur, 1);
    atomic_fetch_add(&c->done, 1);
}

typedef struct {
    nc_queue_t *q;
    nc_strand_t **strands;
    conc_t *c;
    int seed;
} producer_t;

static void producer_main(void *arg)
{
    producer_t *pr = arg;
    for (int i = 0; i < JOBS_PER_PRODUCER; i++) {
        int rc = (i % 2) ? nc_queue_post(pr->q, conc_job, pr->c)
                         : nc_strand_post(pr->strands[(i + pr->seed) % STRANDS], conc_job, pr->c);
        if (rc != 0)
            atomic_fetch_add(&pr->c->errors, 1); /* cmocka asserts are main-thread only */
    }
}

static void check_clean(nc_pool_t *pool)
{
    nc_queue_stats_t st[4];
    int n = nc_pool_stats(pool, st, 4);
    for (int i = 0; i < n; i++) {
        assert_int_equal(st[i].pending, 0);
        assert_int_equal(st[i].running, 0);
    }
    assert_int_equal(nc__pool_live_strands(pool), 0);
    assert_int_equal(nc__pool_live_timers(pool), 0);
}

static bool queue_idle(void *arg)
{
    nc_queue_stats_t st;
    nc_pool_stats(arg, &st, 1);
    return st.pending == 0 && st.running == 0;
}

static void run_cap(int cap)
{
    nc_pool_opts_t po = {.name = "cap", .threads = WORKERS};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_opts_t qo = {.name = "capped", .max_threads = cap, .capacity = 1u << 20};
    nc_queue_t *q;
    assert_int_equal(nc_queue_create(pool, &qo, &q), 0);
    nc_strand_t *strands[STRANDS];
    for (int i = 0; i < STRANDS; i++)
        assert_int_equal(nc_strand_create(q, &strands[i]), 0);

    conc_t c = {0};
    producer_t prs[PRODUCERS];
    nc_thread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        prs[i] = (producer_t){q, strands, &c, i * 5};
        assert_int_equal(nc__thread_create(&th[i], producer_main, &prs[i], "producer"), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        nc__thread_join(th[i]);
    assert_int_equal(atomic_load(&c.errors), 0);
    assert_true(nc_test_wait_atomic_ge(&c.done, PRODUCERS * JOBS_PER_PRODUCER, 30000));
    assert_true(nc_test_wait(queue_idle, pool, 5000));

    assert_int_equal(atomic_load(&c.max), cap);
    nc_queue_stats_t st;
    assert_int_equal(nc_pool_stats(pool, &st, 1), 1);
    assert_int_equal(st.max_running_seen, cap);
    assert_int_equal(st.jobs_run, PRODUCERS * JOBS_PER_PRODUCER);
    for (int i = 0; i < STRANDS; i++)
        nc_strand_release(strands[i]);
    check_clean(pool);
    nc_pool_destroy(pool);
}

static void test_cap_1_is_reached_and_never_exceeded(void **state)
{
    (void)state;
    run_cap(1);
}

static void test_cap_2_is_reached_and_never_exceeded(void **state)
{
    (void)state;
    run_cap(2);
}

static void test_cap_4_is_reached_and_never_exceeded(void **state)
{
    (void)state;
    run_cap(4);
}

/* A job of the capped queue blocks; the other queue's job must still run on
 * an idle worker (the capped queue is skipped, not waited on). */
static atomic_int gate_open, gate_entered, other_ran;

static void gate_job(void *arg)
{
    (void)arg;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open))
        nc__sleep_ms(1);
}

static void other_job(void *arg)
{
    (void)arg;
    atomic_store(&other_ran, 1);
}

static void test_queue_at_cap_is_skipped_and_other_queue_runs(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 2};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_t *hi, *lo;
    nc_queue_opts_t a = {.name = "hi", .max_threads = 1, .priority = NC_PRIO_HIGH};
    nc_queue_opts_t b = {.name = "lo", .max_threads = 1, .priority = NC_PRIO_LOW};
    assert_int_equal(nc_queue_create(pool, &a, &hi), 0);
    assert_int_equal(nc_queue_create(pool, &b, &lo), 0);
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    atomic_store(&other_ran, 0);
    assert_int_equal(nc_queue_post(hi, gate_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&gate_entered, 1, 5000));
    /* hi is at its cap with work queued behind it; lo must not wait. */
    assert_int_equal(nc_queue_post(hi, gate_job, NULL), 0);
    assert_int_equal(nc_queue_post(lo, other_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&other_ran, 1, 5000));
    atomic_store(&gate_open, 1);
    nc_pool_destroy(pool);
}

static void test_queue_names_are_unique_and_found(void **state)
{
    (void)state;
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(NULL, &pool), 0);
    assert_int_equal(nc_pool_threads(pool), 4);
    nc_queue_t *q, *q2;
    nc_queue_opts_t o = {.name = "game", .max_threads = 4};
    assert_int_equal(nc_queue_create(pool, &o, &q), 0);
    assert_int_equal(nc_queue_create(pool, &o, &q2), NC_EEXIST);
    nc_queue_opts_t bad = {.name = "x", .max_threads = 0};
    assert_int_equal(nc_queue_create(pool, &bad, &q2), NC_EINVAL);
    assert_ptr_equal(nc_queue_find(pool, "game"), q);
    assert_null(nc_queue_find(pool, "nope"));
    assert_string_equal(nc_queue_name(q), "game");
    assert_ptr_equal(nc_queue_pool(q), pool);
    nc_queue_stats_t st;
    assert_int_equal(nc_pool_stats(pool, &st, 1), 1);
    assert_int_equal(st.capacity, 65536);
    assert_int_equal(st.max_threads, 4);
    assert_int_equal(st.priority, NC_PRIO_NORMAL);
    check_clean(pool);
    nc_pool_destroy(pool);
}

/* One pool per queue is the "separate pools" design: same API, no change. */
static void test_separate_pools_work_through_the_same_api(void **state)
{
    (void)state;
    nc_pool_t *game, *control;
    nc_pool_opts_t g = {.name = "game", .threads = 4}, c = {.name = "control", .threads = 1};
    assert_int_equal(nc_pool_create(&g, &game), 0);
    assert_int_equal(nc_pool_create(&c, &control), 0);
    nc_queue_t *gq, *cq;
    nc_queue_opts_t go = {.name = "game", .max_threads = 4};
    nc_queue_opts_t co = {.name = "control", .max_threads = 1};
    assert_int_equal(nc_queue_create(game, &go, &gq), 0);
    assert_int_equal(nc_queue_create(control, &co, &cq), 0);
    conc_t cg = {0}, cc = {0};
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(cq, &s), 0);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(nc_queue_post(gq, conc_job, &cg), 0);
        assert_int_equal(nc_strand_post(s, conc_job, &cc), 0);
    }
    nc_strand_release(s);
    assert_true(nc_test_wait_atomic_ge(&cg.done, 200, 10000));
    assert_true(nc_test_wait_atomic_ge(&cc.done, 200, 10000));
    assert_int_equal(atomic_load(&cc.max), 1);
    assert_true(atomic_load(&cg.max) <= 4);
    nc_pool_destroy(game);
    nc_pool_destroy(control);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_1_is_reached_and_never_exceeded),
        cmocka_unit_test(test_cap_2_is_reached_and_never_exceeded),
        cmocka_unit_test(test_cap_4_is_reached_and_never_exceeded),
        cmocka_unit_test(test_queue_at_cap_is_skipped_and_other_queue_runs),
        cmocka_unit_test(test_queue_names_are_unique_and_found),
        cmocka_unit_test(test_separate_pools_work_through_the_same_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
