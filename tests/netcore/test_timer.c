/* Job system: timers.  Deadline order, repetition with coalescing, cancel
 * from another thread (a job never starts after cancel returned 0), 10,000
 * live timers each firing exactly once, stale ids, and a back-off retry timer
 * re-armed from its own job on a held strand whose queue is full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "internal.h"
#include "nc_testutil.h"

static nc_pool_t *pool;
static nc_queue_t *queue;

static int setup(void **state)
{
    (void)state;
    nc_pool_opts_t po = {.threads = 4};
    if (nc_pool_create(&po, &pool) < 0)
        return -1;
    nc_queue_opts_t qo = {.name = "timers", .max_threads = 4, .capacity = 64};
    return nc_queue_create(pool, &qo, &queue);
}

static bool all_clear(void *arg)
{
    (void)arg;
    nc_queue_stats_t st;
    nc_pool_stats(pool, &st, 1);
    return st.pending == 0 && st.running == 0 && nc__pool_live_timers(pool) == 0 &&
           nc__pool_live_strands(pool) == 0;
}

static int teardown(void **state)
{
    (void)state;
    bool clean = nc_test_wait(all_clear, NULL, 5000);
    nc_pool_destroy(pool);
    return clean ? 0 : -1;
}

static nc_strand_t *strand(void)
{
    nc_strand_t *s;
    assert_int_equal(nc_strand_create(queue, &s), 0);
    return s;
}

/* ---- order -------------------------------------------------------------- */

static int fired[16];
static atomic_int nslot, nfired;
static nc_strand_t *order_strand;
static atomic_int on_strand_violations;

static void order_job(void *arg)
{
    if (!nc_strand_running_here(order_strand))
        atomic_fetch_add(&on_strand_violations, 1);
    fired[atomic_fetch_add(&nslot, 1)] = (int)(intptr_t)arg;
    atomic_fetch_add(&nfired, 1);
}

static void test_timers_fire_in_deadline_order_on_their_strand(void **state)
{
    (void)state;
    order_strand = strand();
    const int delays[8] = {40, 10, 30, 20, 0, 25, 25, 25};
    nc_timer_id_t ids[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(nc_timer_start(order_strand, (uint64_t)delays[i], 0, order_job,
                                        (void *)(intptr_t)i, &ids[i]),
                         0);
    for (int i = 1; i < 8; i++)
        assert_true(ids[i] > ids[i - 1]);
    assert_true(nc_test_wait_atomic_ge(&nfired, 8, 5000));
    const int want[8] = {4, 1, 3, 5, 6, 7, 2, 0}; /* equal deadlines: start order */
    for (int i = 0; i < 8; i++)
        assert_int_equal(fired[i], want[i]);
    assert_int_equal(atomic_load(&on_strand_violations), 0);
    nc_strand_release(order_strand);
}

/* ---- repeat, coalescing, cancel ---------------------------------------- */

typedef struct {
    atomic_int count;
    atomic_int after_cancel;
    atomic_int canceled;
    atomic_int block_ms; /* first run busy-waits this long */
    _Atomic uint64_t pending_after_block;
} rep_t;

static void busy_ms(int ms)
{
    uint64_t end = nc_now_ns() + (uint64_t)ms * 1000000u;
    while (nc_now_ns() < end) {
    }
}

static void rep_job(void *arg)
{
    rep_t *r = arg;
    if (atomic_load(&r->canceled))
        atomic_fetch_add(&r->after_cancel, 1);
    int block = atomic_exchange(&r->block_ms, 0);
    if (block) {
        busy_ms(block);
        nc_queue_stats_t st;
        nc_pool_stats(pool, &st, 1);
        atomic_store(&r->pending_after_block, st.pending);
    }
    atomic_fetch_add(&r->count, 1);
}

static void test_repeating_timer_repeats_until_canceled(void **state)
{
    (void)state;
    nc_strand_t *s = strand();
    rep_t r = {0};
    nc_timer_id_t id;
    assert_int_equal(nc_timer_start(s, 0, 2, rep_job, &r, &id), 0);
    assert_true(nc_test_wait_atomic_ge(&r.count, 5, 5000));
    assert_int_equal(nc_timer_cancel(pool, id), 0);
    atomic_store(&r.canceled, 1);
    assert_int_equal(nc_timer_cancel(pool, id), NC_ESTALE);
    assert_int_equal(nc__pool_live_timers(pool), 0);
    nc_strand_release(s);
    assert_true(nc_test_wait(all_clear, NULL, 5000));
    /* At most the firing already running when cancel returned saw the flag. */
    assert_true(atomic_load(&r.after_cancel) <= 1);
}

static void test_repeating_timer_coalesces_while_its_job_waits(void **state)
{
    (void)state;
    nc_strand_t *s = strand();
    rep_t r = {0};
    atomic_store(&r.block_ms, 30); /* ~30 periods of 1 ms pass during the first run */
    nc_timer_id_t id;
    assert_int_equal(nc_timer_start(s, 0, 1, rep_job, &r, &id), 0);
    assert_true(nc_test_wait_atomic_ge(&r.count, 3, 5000));
    assert_int_equal(nc_timer_cancel(pool, id), 0);
    /* Only one firing may wait behind the running one. */
    assert_true(atomic_load(&r.pending_after_block) <= 1);
    nc_strand_release(s);
}

/* ---- cancel from another thread ---------------------------------------- */

#define NCANCEL 2000
static atomic_int cran[NCANCEL], ccanceled[NCANCEL], cresolved;
static nc_timer_id_t cids[NCANCEL];
static uint64_t ctarget[NCANCEL]; /* when the canceller goes for timer i */
static atomic_int cids_ready;

static void cancel_job(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&cran[i], 1);
    uint64_t end = nc_now_ns() + 20000; /* 20 us of work so firings queue up */
    while (nc_now_ns() < end) {
    }
    atomic_fetch_add(&cresolved, 1);
}

static void canceller(void *arg)
{
    (void)arg;
    for (int i = 0; i < NCANCEL; i++) {
        while (atomic_load(&cids_ready) <= i) {
        }
        /* Around the deadline: before it, while the job is queued, or after. */
        while (nc_now_ns() < ctarget[i]) {
        }
        if (nc_timer_cancel(pool, cids[i]) == 0) {
            atomic_store(&ccanceled[i], 1);
            atomic_fetch_add(&cresolved, 1);
        }
    }
}

static void test_cancel_from_another_thread_means_job_never_starts(void **state)
{
    (void)state;
    nc_strand_t *s[8];
    for (int i = 0; i < 8; i++)
        s[i] = strand();
    nc_thread_t th;
    assert_int_equal(nc__thread_create(&th, canceller, NULL, "canceller"), 0);
    srand(7);
    for (int i = 0; i < NCANCEL; i++) {
        int delay = rand() % 4;
        ctarget[i] = nc_now_ns() + (uint64_t)delay * 1000000u + (uint64_t)(rand() % 3) * 500000u;
        assert_int_equal(
            nc_timer_start(s[i % 8], (uint64_t)delay, 0, cancel_job, (void *)(intptr_t)i, &cids[i]),
            0);
        atomic_store(&cids_ready, i + 1);
    }
    nc__thread_join(th);
    for (int i = 0; i < 8; i++)
        nc_strand_release(s[i]);
    assert_true(nc_test_wait_atomic_ge(&cresolved, NCANCEL, 10000));
    assert_true(nc_test_wait(all_clear, NULL, 10000));
    int canceled = 0;
    for (int i = 0; i < NCANCEL; i++) {
        canceled += atomic_load(&ccanceled[i]);
        /* exactly one of: ran once, or canceled with 0 and never ran */
        assert_int_equal(atomic_load(&cran[i]) + atomic_load(&ccanceled[i]), 1);
    }
    print_message("canceled %d of %d before their job started, %d ran\n", canceled, NCANCEL,
                  NCANCEL - canceled);
}

/* ---- many timers ------------------------------------------------------- */

#define NMANY 10000
static atomic_int many_count[NMANY], many_total;

static void many_job(void *arg)
{
    atomic_fetch_add(&many_count[(int)(intptr_t)arg], 1);
    atomic_fetch_add(&many_total, 1);
}

static void test_ten_thousand_timers_each_fire_exactly_once(void **state)
{
    (void)state;
    nc_strand_t *s[16];
    for (int i = 0; i < 16; i++)
        s[i] = strand();
    srand(11);
    uint64_t t0 = nc_now_ns();
    for (int i = 0; i < NMANY; i++) {
        nc_timer_id_t id;
        assert_int_equal(nc_timer_start(s[i % 16], (uint64_t)(rand() % 200), 0, many_job,
                                        (void *)(intptr_t)i, &id),
                         0);
    }
    uint64_t start_us = (nc_now_ns() - t0) / 1000u;
    for (int i = 0; i < 16; i++)
        nc_strand_release(s[i]);
    assert_true(nc_test_wait_atomic_ge(&many_total, NMANY, 20000));
    assert_true(nc_test_wait(all_clear, NULL, 5000));
    for (int i = 0; i < NMANY; i++)
        assert_int_equal(atomic_load(&many_count[i]), 1);
    assert_int_equal(atomic_load(&many_total), NMANY);
    print_message("started %d timers in %lluus\n", NMANY, (unsigned long long)start_us);
}

/* ---- stale ids ---------------------------------------------------------- */

static atomic_int once_ran;

static void once_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&once_ran, 1);
}

static void test_cancel_of_fired_or_unknown_timer_returns_estale(void **state)
{
    (void)state;
    nc_strand_t *s = strand();
    nc_timer_id_t id;
    assert_int_equal(nc_timer_start(s, 1, 0, once_job, NULL, &id), 0);
    nc_strand_release(s); /* the armed timer holds its own reference */
    assert_true(nc_test_wait_atomic_ge(&once_ran, 1, 5000));
    assert_int_equal(nc_timer_cancel(pool, id), NC_ESTALE);
    assert_int_equal(nc_timer_cancel(pool, id + 1000), NC_ESTALE);
    assert_int_equal(nc_timer_cancel(pool, 0), NC_ESTALE);
    assert_int_equal(nc_timer_start(NULL, 1, 0, once_job, NULL, &id), NC_EINVAL);
}

/* ---- a back-off retry timer (content/src/world_db.c's pattern) ---------- */

/* The database strand's retry: a one-shot timer re-armed from its own job
 * with a doubling delay, on a strand held by a long job (a lock wait) while
 * its capped queue (one thread) is full.  The firing is forced past the
 * capacity, runs after the jobs queued before it, and every re-arm holds. */
#define RETRY_FILL 16
#define RETRY_ROUNDS 5
static atomic_int gate_started, gate_open, fillers_ran, retries_ran, retry_start_failed;
static atomic_int retry_off_strand, fillers_at_first_retry;
static nc_strand_t *retry_strand;

static void gate_job(void *arg)
{
    (void)arg;
    atomic_store(&gate_started, 1);
    uint64_t end = nc_now_ms() + 10000;
    while (!atomic_load(&gate_open) && nc_now_ms() < end)
        nc__sleep_ms(1);
}

static void filler_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&fillers_ran, 1);
}

static void backoff_job(void *arg)
{
    (void)arg;
    if (!nc_strand_running_here(retry_strand))
        atomic_fetch_add(&retry_off_strand, 1);
    int n = atomic_fetch_add(&retries_ran, 1) + 1;
    if (n == 1)
        atomic_store(&fillers_at_first_retry, atomic_load(&fillers_ran));
    if (n < RETRY_ROUNDS && nc_timer_start(retry_strand, 1u << n, 0, backoff_job, NULL, NULL) != 0)
        atomic_fetch_add(&retry_start_failed, 1);
}

static bool retry_firing_queued(void *arg)
{
    (void)arg;
    nc_queue_stats_t st[2];
    return nc_pool_stats(pool, st, 2) == 2 && st[1].pending == RETRY_FILL + 1;
}

static void test_backoff_retry_timer_fires_on_a_held_strand_with_its_queue_full(void **state)
{
    (void)state;
    nc_queue_t *db;
    nc_queue_opts_t qo = {.name = "db", .max_threads = 1, .capacity = RETRY_FILL};
    assert_int_equal(nc_queue_create(pool, &qo, &db), 0);
    assert_int_equal(nc_strand_create(db, &retry_strand), 0);
    assert_int_equal(nc_strand_post(retry_strand, gate_job, NULL), 0);
    assert_true(nc_test_wait_atomic_ge(&gate_started, 1, 5000));
    for (int i = 0; i < RETRY_FILL; i++)
        assert_int_equal(nc_strand_post(retry_strand, filler_job, NULL), 0);
    assert_int_equal(nc_strand_post(retry_strand, filler_job, NULL), NC_EQFULL);
    assert_int_equal(nc_timer_start(retry_strand, 1, 0, backoff_job, NULL, NULL), 0);
    /* the firing waits behind the held strand, past the queue's capacity */
    assert_true(nc_test_wait(retry_firing_queued, NULL, 5000));
    assert_int_equal(atomic_load(&retries_ran), 0);
    atomic_store(&gate_open, 1);
    assert_true(nc_test_wait_atomic_ge(&retries_ran, RETRY_ROUNDS, 5000));
    assert_int_equal(atomic_load(&fillers_at_first_retry), RETRY_FILL);
    assert_int_equal(atomic_load(&retry_start_failed), 0);
    assert_int_equal(atomic_load(&retry_off_strand), 0);
    nc_strand_release(retry_strand);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_timers_fire_in_deadline_order_on_their_strand, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repeating_timer_repeats_until_canceled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repeating_timer_coalesces_while_its_job_waits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_another_thread_means_job_never_starts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ten_thousand_timers_each_fire_exactly_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_of_fired_or_unknown_timer_returns_estale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_backoff_retry_timer_fires_on_a_held_strand_with_its_queue_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
