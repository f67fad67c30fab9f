/* Scheduling defaults that cannot starve (issue 12): with the pools and
 * queues the gameserver builds from its default config (gs_jobs_create,
 * the same code main.c runs), a saturated game queue leaves the db queue a
 * worker (its post-to-start wait p99 stays bounded), and saturated game and
 * db queues leave one to control.  The old default (game cap 4 of 4
 * workers) is shown to starve db, so the measurement can fail.  Jobs block
 * (sleep) instead of spinning: a queue is busy by holding workers, which
 * costs no CPU on a shared test machine. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_config.h"
#include "gs_jobs.h"

#define BUSY_MS 4       /* one saturating job */
#define PROBES 200      /* probe jobs measured */
#define PROBE_EVERY 5   /* ms between probes */
#define BOUND_US 100000 /* p99 wait bound: 100 ms (a free worker starts it in microseconds) */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static atomic_int stop_busy;

static void busy_job(void *arg)
{
    (void)arg;
    if (!atomic_load(&stop_busy))
        sleep_ms(BUSY_MS);
}

typedef struct probe_s {
    uint64_t posted_ns;
    _Atomic uint64_t wait_ns; /* 0 until it ran */
} probe_t;

static probe_t probes[PROBES];

static void probe_job(void *arg)
{
    probe_t *p = arg;
    uint64_t w = nc_now_ns() - p->posted_ns;
    atomic_store(&p->wait_ns, w ? w : 1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keeps `q` saturated: enough blocking jobs for the whole measurement. */
static void saturate(nc_queue_t *q, int threads, int ms)
{
    int n = threads * ms / BUSY_MS + 64;
    for (int i = 0; i < n; i++)
        assert_int_equal(nc_queue_post(q, busy_job, NULL), 0);
}

static int pending_of(nc_pool_t *p, const char *name)
{
    nc_queue_stats_t st[8];
    int n = nc_pool_stats(p, st, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (strcmp(st[i].name, name) == 0)
            return (int)st[i].pending;
    return -1;
}

/* Posts PROBES probe jobs to `q` while the others are saturated; returns
 * the p99 wait in microseconds (UINT64_MAX if some never ran). */
static uint64_t probe_p99_us(nc_queue_t *q, nc_pool_t *pool, const char *busy_name)
{
    memset(probes, 0, sizeof probes);
    for (int i = 0; i < PROBES; i++) {
        probes[i].posted_ns = nc_now_ns();
        assert_int_equal(nc_queue_post(q, probe_job, &probes[i]), 0);
        sleep_ms(PROBE_EVERY);
    }
    /* the busy queue must still be saturated at the end, or we measured nothing */
    assert_true(pending_of(pool, busy_name) > 0);
    uint64_t end = nc_now_ms() + 2000, w[PROBES];
    for (int i = 0; i < PROBES; i++) {
        while (!atomic_load(&probes[i].wait_ns) && nc_now_ms() < end)
            sleep_ms(1);
        w[i] = atomic_load(&probes[i].wait_ns);
        if (!w[i])
            return UINT64_MAX;
    }
    qsort(w, PROBES, sizeof w[0], cmp_u64);
    return w[PROBES * 99 / 100 - 1] / 1000;
}

static void test_default_db_and_control_never_starve(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    char err[512];
    assert_int_equal(gs_config_validate(&c, err, sizeof err), 0);
    gs_pool_size_t ps; /* issue 15: the auto sizes of this machine */
    gs_config_pool_size(&c, &ps);
    gs_jobs_t j;
    assert_int_equal(gs_jobs_create(&c, &j), 0);
    assert_int_equal(nc_pool_threads(j.pools[0]), (int)ps.threads);
    atomic_store(&stop_busy, 0);
    int span = PROBES * PROBE_EVERY * 2;

    saturate(j.game, (int)ps.game, span);
    uint64_t db_p99 = probe_p99_us(j.db, j.pools[0], "game");
    print_message("db wait p99 with game saturated: %llu us (bound %d us)\n",
                  (unsigned long long)db_p99, BOUND_US);
    assert_true(db_p99 < BOUND_US);

    saturate(j.db, (int)ps.db, span); /* game is still saturated */
    uint64_t ctl_p99 = probe_p99_us(j.control, j.pools[0], "db");
    print_message("control wait p99 with game and db saturated: %llu us\n",
                  (unsigned long long)ctl_p99);
    assert_true(ctl_p99 < BOUND_US);

    atomic_store(&stop_busy, 1); /* the rest drains at once */
    gs_jobs_destroy(&j);
}

/* The pre-issue-12 defaults (pool 4, game cap 4): the check refuses them,
 * and, built anyway, db gets no worker while game is busy. */
static void test_old_defaults_starve_db(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    c.pool_threads = 4;
    c.q_game.max_threads = 4;
    char err[512];
    assert_int_equal(gs_config_validate(&c, err, sizeof err), -1);
    gs_jobs_t j;
    assert_int_equal(gs_jobs_create(&c, &j), 0);
    atomic_store(&stop_busy, 0);
    saturate(j.game, 4, 1000);
    probe_t p = {.posted_ns = nc_now_ns()};
    assert_int_equal(nc_queue_post(j.db, probe_job, &p), 0);
    sleep_ms(300); /* a bounded wait for something that must NOT happen */
    assert_true(pending_of(j.pools[0], "game") > 0);
    assert_int_equal(atomic_load(&p.wait_ns), 0);
    atomic_store(&stop_busy, 1);
    gs_jobs_destroy(&j); /* drains: the probe runs now */
    assert_true(atomic_load(&p.wait_ns) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_db_and_control_never_starve),
        cmocka_unit_test(test_old_defaults_starve_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
