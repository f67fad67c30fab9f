/* Job system: strands run their jobs one at a time in posting order, yield
 * after a batch or time slice, and free themselves after the last reference
 * and the last job are gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "internal.h"
#include "nc_testutil.h"

#define PRODUCERS 4
#define STRANDS 8
#define PER_PRODUCER 4000

static bool no_strands(void *pool)
{
    return nc__pool_live_strands(pool) == 0;
}

static void check_clean(nc_pool_t *pool)
{
    nc_queue_stats_t st[4];
    int n = nc_pool_stats(pool, st, 4);
    for (int i = 0; i < n; i++)
        assert_int_equal(st[i].pending, 0);
    assert_int_equal(nc__pool_live_strands(pool), 0);
    assert_int_equal(nc__pool_live_timers(pool), 0);
}

/* ---- FIFO and exclusion ------------------------------------------------- */

typedef struct {
    nc_strand_t *s;
    atomic_int inside;   /* jobs of this strand running now */
    int last[PRODUCERS]; /* last sequence seen per producer (strand-owned) */
} lane_t;

static lane_t lanes[STRANDS];
static atomic_int violations, fifo_done;

typedef struct {
    lane_t *lane;
    int producer, seq;
} item_t;

static void fifo_job(void *arg)
{
    item_t *it = arg;
    lane_t *l = it->lane;
    if (atomic_fetch_add(&l->inside, 1) != 0)
        atomic_fetch_add(&violations, 1);
    if (!nc_strand_running_here(l->s))
        atomic_fetch_add(&violations, 1);
    if (it->seq != l->last[it->producer] + 1)
        atomic_fetch_add(&violations, 1);
    l->last[it->producer] = it->seq;
    atomic_fetch_sub(&l->inside, 1);
    atomic_fetch_add(&fifo_done, 1);
}

static item_t items[PRODUCERS][PER_PRODUCER];

static void fifo_producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    int seq[STRANDS] = {0};
    for (int i = 0; i < PER_PRODUCER; i++) {
        int k = (i * 7 + p) % STRANDS;
        items[p][i] = (item_t){&lanes[k], p, ++seq[k]};
        if (nc_strand_post(lanes[k].s, fifo_job, &items[p][i]) != 0)
            atomic_fetch_add(&violations, 1);
    }
}

static void test_strand_keeps_each_producers_order_and_never_overlaps(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 4, .strand_batch = 8};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_opts_t qo = {.name = "game", .max_threads = 4, .capacity = 1u << 20};
    nc_queue_t *q;
    assert_int_equal(nc_queue_create(pool, &qo, &q), 0);
    memset(lanes, 0, sizeof(lanes));
    for (int i = 0; i < STRANDS; i++)
        assert_int_equal(nc_strand_create(q, &lanes[i].s), 0);
    atomic_store(&violations, 0);
    atomic_store(&fifo_done, 0);
    nc_thread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(nc__thread_create(&th[i], fifo_producer, (void *)(intptr_t)i, "prod"), 0);
    for (int i = 0; i < PRODUCERS; i++)
        nc__thread_join(th[i]);
    assert_true(nc_test_wait_atomic_ge(&fifo_done, PRODUCERS * PER_PRODUCER, 30000));
    assert_int_equal(atomic_load(&violations), 0);
    for (int i = 0; i < STRANDS; i++)
        nc_strand_release(lanes[i].s);
    /* fifo_done counts inside the last job; its worker may still hold the
     * strand for a moment after that */
    assert_true(nc_test_wait(no_strands, pool, 5000));
    check_clean(pool);
    nc_pool_destroy(pool);
}

/* ---- running_here ------------------------------------------------------- */

typedef struct {
    nc_strand_t *self, *other;
    atomic_int ok, done;
} here_t;

static void here_job(void *arg)
{
    here_t *h = arg;
    atomic_store(&h->ok, nc_strand_running_here(h->self) && !nc_strand_running_here(h->other));
    atomic_store(&h->done, 1);
}

static void test_running_here_is_true_only_inside_that_strands_job(void **state)
{
    (void)state;
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(NULL, &pool), 0);
    nc_queue_opts_t qo = {.name = "q", .max_threads = 2};
    nc_queue_t *q;
    assert_int_equal(nc_queue_create(pool, &qo, &q), 0);
    here_t h = {0};
    assert_int_equal(nc_strand_create(q, &h.self), 0);
    assert_int_equal(nc_strand_create(q, &h.other), 0);
    assert_ptr_equal(nc_strand_queue(h.self), q);
    assert_false(nc_strand_running_here(h.self));
    assert_int_equal(nc_strand_post(h.self, here_job, &h), 0);
    assert_true(nc_test_wait_atomic_ge(&h.done, 1, 5000));
    assert_int_equal(atomic_load(&h.ok), 1);
    nc_strand_release(h.self);
    nc_strand_release(h.other);
    assert_true(nc_test_wait(no_strands, pool, 5000)); /* done is set inside the job */
    check_clean(pool);
    nc_pool_destroy(pool);
}

/* ---- yielding ----------------------------------------------------------- */

static atomic_int hog_stop, hog_runs, starved_ran;
static nc_strand_t *hog_strand;

static void hog_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&hog_runs, 1);
    if (!atomic_load(&hog_stop))
        nc_strand_post(hog_strand, hog_job, NULL);
}

static void starved_job(void *arg)
{
    (void)arg;
    atomic_store(&starved_ran, 1);
}

static void test_endless_strand_yields_to_another_strand_on_cap_1_queue(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 2, .strand_batch = 16, .strand_slice_us = 1000};
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(&po, &pool), 0);
    nc_queue_opts_t qo = {.name = "one", .max_threads = 1};
    nc_queue_t *q;
    assert_int_equal(nc_queue_create(pool, &qo, &q), 0);
    nc_strand_t *other;
    assert_int_equal(nc_strand_create(q, &hog_strand), 0);
    assert_int_equal(nc_strand_create(q, &other), 0);
    atomic_store(&hog_stop, 0);
    atomic_store(&starved_ran, 0);
    atomic_store(&hog_runs, 0);
    assert_int_equal(nc_strand_post(hog_strand, hog_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&hog_runs, 100, 5000)); /* hog owns the cap */
    assert_int_equal(nc_strand_post(other, starved_job, NULL), 0);
    bool ok = nc_test_wait_atomic_ge(&starved_ran, 1, 2000);
    atomic_store(&hog_stop, 1);
    assert_true(ok);
    nc_strand_release(other);
    nc_strand_release(hog_strand);
    nc_pool_destroy(pool);
}

/* ---- lifetime ----------------------------------------------------------- */

static atomic_int life_done;

static void life_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&life_done, 1);
}

static void test_strand_freed_after_last_release_and_last_job(void **state)
{
    (void)state;
    nc_pool_t *pool;
    assert_int_equal(nc_pool_create(NULL, &pool), 0);
    nc_queue_opts_t qo = {.name = "q", .max_threads = 1};
    nc_queue_t *q;
    assert_int_equal(nc_queue_create(pool, &qo, &q), 0);
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(q, &s), 0);
    nc_strand_retain(s);
    atomic_store(&life_done, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(nc_strand_post(s, life_job, NULL), 0);
    nc_strand_release(s);
    nc_strand_release(s); /* last owner gone; queued jobs keep it alive */
    assert_true(nc_test_wait_atomic_ge(&life_done, 1000, 5000));
    assert_true(nc_test_wait(no_strands, pool, 5000));
    check_clean(pool);
    nc_pool_destroy(pool);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strand_keeps_each_producers_order_and_never_overlaps),
        cmocka_unit_test(test_running_here_is_true_only_inside_that_strands_job),
        cmocka_unit_test(test_endless_strand_yields_to_another_strand_on_cap_1_queue),
        cmocka_unit_test(test_strand_freed_after_last_release_and_last_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
