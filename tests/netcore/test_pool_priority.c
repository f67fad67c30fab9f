/* Job system: priorities and isolation.  A flooded low-priority queue with
 * cap 1 must not delay a high-priority queue's jobs; the naive single queue
 * does.  Equal priorities share workers round-robin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "nc_testutil.h"

#define BOUND_US 20000 /* p99 post-to-start wait allowed for the HIGH queue */
#define FLOOD 3000
#define PROBES 200

static atomic_int flood_stop, flood_ran;

static void slow_job(void *arg)
{
    (void)arg;
    uint64_t end = nc_now_ns() + 2000000u; /* 2 ms of work, unless told to stop */
    while (!atomic_load(&flood_stop) && nc_now_ns() < end) {
    }
    atomic_fetch_add(&flood_ran, 1);
}

typedef struct {
    uint64_t posted;
    _Atomic uint64_t wait_us;
    atomic_int done;
} probe_t;

static void probe_job(void *arg)
{
    probe_t *p = arg;
    atomic_store(&p->wait_us, (nc_now_ns() - p->posted) / 1000u);
    atomic_store(&p->done, 1);
}

/* Posts one probe at a time and returns the worst wait seen. */
static uint64_t probe(nc_queue_t *q, int n)
{
    uint64_t worst = 0;
    for (int i = 0; i < n; i++) {
        probe_t p = {.posted = nc_now_ns()};
        assert_int_equal(nc_queue_post(q, probe_job, &p), 0);
        assert_true(nc_test_wait_atomic_ge(&p.done, 1, 10000));
        if (atomic_load(&p.wait_us) > worst)
            worst = atomic_load(&p.wait_us);
    }
    return worst;
}

static void flood(nc_queue_t *q, int n)
{
    atomic_store(&flood_stop, 0);
    atomic_store(&flood_ran, 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(nc_queue_post(q, slow_job, NULL), 0);
}

static void drain_flood(nc_pool_t *pool, int n)
{
    atomic_store(&flood_stop, 1);
    assert_true(nc_test_wait_atomic_ge(&flood_ran, n, 20000));
    nc_queue_stats_t st[2];
    int k = nc_pool_stats(pool, st, 2);
    for (int i = 0; i < k; i++)
        assert_int_equal(st[i].pending, 0);
    assert_int_equal(nc__pool_live_strands(pool), 0);
    nc_pool_destroy(pool);
}

static void test_high_queue_wait_stays_bounded_while_low_queue_floods(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 4};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_t *hi, *lo;
    nc_queue_opts_t h = {.name = "game", .max_threads = 3, .priority = NC_PRIO_HIGH};
    nc_queue_opts_t l = {.name = "control", .max_threads = 1, .priority = NC_PRIO_LOW};
    assert_int_equal(nc_queue_create(pool, &h, &hi), 0);
    assert_int_equal(nc_queue_create(pool, &l, &lo), 0);
    flood(lo, FLOOD);
    uint64_t worst = probe(hi, PROBES);
    nc_queue_stats_t st[2];
    assert_int_equal(nc_pool_stats(pool, st, 2), 2);
    print_message("capped: HIGH p50=%lluus p99=%lluus max=%lluus, LOW pending=%llu\n",
                  (unsigned long long)st[0].wait_p50_us, (unsigned long long)st[0].wait_p99_us,
                  (unsigned long long)worst, (unsigned long long)st[1].pending);
    assert_true(st[1].pending > 0); /* the flood was still going on */
    assert_int_equal(st[1].max_running_seen, 1);
    assert_true(st[0].wait_p99_us < BOUND_US);
    drain_flood(pool, FLOOD);
}

/* The naive design: one queue, no cap, FIFO.  A game job posted behind the
 * flood waits for it. */
static void test_naive_single_queue_exceeds_the_bound(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 4};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_t *all;
    nc_queue_opts_t o = {.name = "all", .max_threads = 4};
    assert_int_equal(nc_queue_create(pool, &o, &all), 0);
    int n = 200; /* 200 x 2 ms over 4 workers: ~100 ms */
    flood(all, n);
    uint64_t worst = probe(all, 1);
    print_message("naive: game job waited %lluus\n", (unsigned long long)worst);
    assert_true(worst > BOUND_US);
    drain_flood(pool, n);
}

static int order[64];
static atomic_int nslot, norder; /* slots taken, slots written */

static void tag_job(void *arg)
{
    order[atomic_fetch_add(&nslot, 1)] = (int)(intptr_t)arg;
    atomic_fetch_add(&norder, 1);
}

static atomic_int gate_open, gate_entered;

static void gate_job(void *arg)
{
    (void)arg;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open))
        nc__sleep_ms(1);
}

/* One worker, held by a gate while work piles up in three queues. */
static nc_pool_t *one_worker_gated(nc_queue_t *qs[3], const nc_prio_t prios[3])
{
    nc_pool_opts_t po = {.threads = 1};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    const char *names[3] = {"a", "b", "gate"};
    for (int i = 0; i < 3; i++) {
        nc_queue_opts_t o = {.name = names[i], .max_threads = 1, .priority = prios[i]};
        assert_int_equal(nc_queue_create(pool, &o, &qs[i]), 0);
    }
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    atomic_store(&norder, 0);
    atomic_store(&nslot, 0);
    assert_int_equal(nc_queue_post(qs[2], gate_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&gate_entered, 1, 5000));
    return pool;
}

/* Ten tagged jobs on queue 0, ten on queue 1, behind the gate; then the
 * worker runs all 20 (their order lands in order[]). */
static void post_ten_each_then_open_gate(nc_queue_t *qs[3])
{
    for (int i = 0; i < 10; i++)
        assert_int_equal(nc_queue_post(qs[0], tag_job, (void *)0), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(nc_queue_post(qs[1], tag_job, (void *)1), 0);
    atomic_store(&gate_open, 1);
    assert_true(nc_test_wait_atomic_ge(&norder, 20, 5000));
}

static void test_free_worker_takes_highest_priority_first(void **state)
{
    (void)state;
    nc_queue_t *qs[3];
    const nc_prio_t prios[3] = {NC_PRIO_LOW, NC_PRIO_HIGH, NC_PRIO_NORMAL};
    nc_pool_t *pool = one_worker_gated(qs, prios);
    post_ten_each_then_open_gate(qs);
    for (int i = 0; i < 10; i++)
        assert_int_equal(order[i], 1);
    for (int i = 10; i < 20; i++)
        assert_int_equal(order[i], 0);
    nc_pool_destroy(pool);
}

static void test_equal_priority_queues_alternate(void **state)
{
    (void)state;
    nc_queue_t *qs[3];
    const nc_prio_t prios[3] = {NC_PRIO_NORMAL, NC_PRIO_NORMAL, NC_PRIO_NORMAL};
    nc_pool_t *pool = one_worker_gated(qs, prios);
    post_ten_each_then_open_gate(qs);
    for (int i = 1; i < 20; i++)
        assert_int_not_equal(order[i], order[i - 1]);
    nc_pool_destroy(pool);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_queue_wait_stays_bounded_while_low_queue_floods),
        cmocka_unit_test(test_naive_single_queue_exceeds_the_bound),
        cmocka_unit_test(test_free_worker_takes_highest_priority_first),
        cmocka_unit_test(test_equal_priority_queues_alternate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
