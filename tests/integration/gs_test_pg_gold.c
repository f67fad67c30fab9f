/* Issue 16: the character store on a REAL PostgreSQL (a throwaway cluster,
 * pg_cluster.c) through the real gameserver (database.driver "postgres").
 * A GM client sends a stream of /gold changes (several in flight) while
 * PostgreSQL is killed (immediate shutdown: every backend dies, in the
 * middle of whatever it was doing) and started again.  Afterwards:
 *  - every change the client saw acknowledged is in the database, and each
 *    acknowledged balance is exactly the changes before it;
 *  - no change is applied twice (change i adds 2^i, so the balance names
 *    the set of applied changes: a double application breaks the set);
 *  - a change answered "try again later" is not applied; one answered "not
 *    confirmed" may or may not be (its COMMIT's answer was lost);
 *  - the game kept running (a ping answered during the outage), /metrics
 *    showed gs_db_up 0 during the outage and 1 with
 *    gs_db_reconnects_total >= 1 after.
 * Then the COMMIT answer of every change is lost after the server
 * committed (database.fault_file "lostcommit"): the retry finds each change
 * committed and the player gets the right balance, each applied once. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_harness.h"
#include "pg_cluster.h"

#define T 15000
#define CHANGES 60 /* change i adds 2^i: all fit in int64 */
#define WINDOW 4   /* changes in flight at once */
#define KILL_AT 12 /* acknowledged changes before PostgreSQL is killed */

static pg_cluster_t g_pg;
static char g_url[256], g_fault[200];
static gs_proc_t srv;
static gs_client_t a, b;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(int ms) /* between polls of a condition, never as the wait */
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int wait_metric(const char *name, double want, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        double v = gs_metric(srv.metrics_port, name);
        if (v == want)
            return 0;
        if (now_ms() >= end) {
            fprintf(stderr, "%s stayed %g (want %g)\n", name, v, want);
            return -1;
        }
        pause_ms(5);
    }
}

static int64_t db_gold(const char *name, int64_t *requests)
{
    PGconn *c = PQconnectdb(g_url);
    int64_t g = -1;
    const char *p[] = {name};
    PGresult *r = PQexecParams(c,
                               "SELECT COALESCE(w.gold, 0) FROM characters c LEFT JOIN wallet w"
                               " ON w.char_id = c.id WHERE c.name = $1",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        g = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = PQexec(c, "SELECT count(*) FROM content_requests");
    *requests = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return g;
}

static int setup(void **state)
{
    (void)state;
    if (pg_cluster_start(&g_pg) != 0 ||
        pg_cluster_createdb(&g_pg, "shard_a", g_url, sizeof g_url) != 0)
        return -1;
    gs_proc_init(&srv);
    char url_arg[320], fault_arg[240];
    snprintf(url_arg, sizeof url_arg, "database.url=%s", g_url);
    snprintf(g_fault, sizeof g_fault, "%s/fault", srv.dir);
    snprintf(fault_arg, sizeof fault_arg, "database.fault_file=%s", g_fault);
    const char *args[] = {"--set", "database.driver=postgres",
                          "--set", url_arg,
                          "--set", "database.request_timeout_ms=20000",
                          "--set", "chat.rate_per_s=1000",
                          "--set", "chat.burst=1000",
                          "--set", "limits.budget_per_s=0",
                          "--set", fault_arg,
                          NULL};
    return gs_proc_start(&srv, args, 10000);
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&a);
    gs_close(&b);
    int rc = 0; /* a non-zero exit (an ASan/UBSan report too) fails the test */
    if (srv.pid > 0 && gs_proc_stop(&srv, SIGTERM, 10000) != 0)
        rc = -1;
    gs_proc_cleanup(&srv);
    pg_cluster_stop(&g_pg);
    return rc;
}

/* The outage, from its own thread while the client keeps sending. */
static atomic_int acked;
static atomic_int outage_seen, ping_in_outage, restarted, killer_failed;

static void *killer(void *arg)
{
    (void)arg;
    uint64_t end = now_ms() + T;
    while (atomic_load(&acked) < KILL_AT && now_ms() < end)
        pause_ms(1);
    if (pg_cluster_kill(&g_pg) != 0) {
        atomic_store(&killer_failed, 1);
        return NULL;
    }
    /* /metrics shows the outage (the changes in flight are being retried) */
    atomic_store(&outage_seen, wait_metric("gs_db_up", 0, T) == 0);
    /* the game keeps running: another player's ping is answered */
    atomic_store(&ping_in_outage, gs_barrier(&b, NULL, NULL, T) == 0);
    atomic_store(&restarted, pg_cluster_restart(&g_pg) == 0);
    return NULL;
}

enum { R_NONE, R_OK, R_LATER, R_UNCONFIRMED, R_OTHER };

/* Sends /gold amount and returns the balance the answer names (-1: an
 * error answer or none in time). */
static long long gold(const char *amount)
{
    char text[64];
    snprintf(text, sizeof text, "/gold %s", amount);
    if (gs_chat(&a, 0, NULL, text) != 0)
        return -1;
    proto_msg_t m;
    uint64_t end = now_ms() + T;
    while (now_ms() < end) {
        if (gs_recv(&a, &m, (int)(end - now_ms())) != 1)
            return -1;
        long long d, bal;
        if (m.type == PROTO_T_NOTICE &&
            sscanf(m.notice.text, "gold %lld, balance %lld", &d, &bal) == 2)
            return bal;
        if ((m.type == PROTO_T_NOTICE && strstr(m.notice.text, "gold change")) ||
            m.type == PROTO_T_ERROR)
            return -1;
    }
    return -1;
}

static void test_gold_survives_postgres_kill(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "gm1"), 0);
    assert_int_equal(gs_login(&b, srv.port, "bystander"), 0);
    assert_int_equal(gs_metric(srv.metrics_port, "gs_db_up"), 1);
    assert_int_equal(gs_metric(srv.metrics_port, "gs_db_reconnects_total"), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, killer, NULL), 0);

    int result[CHANGES] = {0};
    int64_t balance[CHANGES] = {0};
    int sent = 0, got = 0;
    proto_msg_t m;
    uint64_t end = now_ms() + 3 * T;
    while (got < CHANGES && now_ms() < end) {
        while (sent < CHANGES && sent - got < WINDOW) {
            char text[64];
            snprintf(text, sizeof text, "/gold %lld", (long long)(INT64_C(1) << sent));
            assert_int_equal(gs_chat(&a, 0, NULL, text), 0);
            sent++;
        }
        int r = gs_recv(&a, &m, (int)(end - now_ms()));
        assert_int_equal(r, 1);
        const char *text = m.type == PROTO_T_NOTICE  ? m.notice.text
                           : m.type == PROTO_T_ERROR ? m.error.text
                                                     : NULL;
        if (!text || (!strstr(text, "gold") && !strstr(text, "database")))
            continue; /* other traffic (entity updates...) */
        long long delta, bal;
        /* the answers come in the order the changes were sent (one strand) */
        if (sscanf(text, "gold %lld, balance %lld", &delta, &bal) == 2) {
            assert_true(delta == (long long)(INT64_C(1) << got));
            result[got] = R_OK;
            balance[got] = bal;
            atomic_fetch_add(&acked, 1);
        } else if (strstr(text, "not confirmed")) {
            result[got] = R_UNCONFIRMED;
        } else if (strstr(text, "try again later")) {
            result[got] = R_LATER;
        } else {
            fail_msg("unexpected answer to change %d: %s", got, text);
        }
        got++;
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(got, CHANGES);
    assert_int_equal(atomic_load(&killer_failed), 0);
    assert_true(atomic_load(&outage_seen));
    assert_true(atomic_load(&ping_in_outage));
    assert_true(atomic_load(&restarted));

    /* each acknowledged balance: every acknowledged change before it, no
     * change after it, only changes that may have been applied */
    uint64_t may = 0, must = 0;
    int nok = 0, nunconf = 0;
    for (int i = 0; i < CHANGES; i++) {
        uint64_t bit = UINT64_C(1) << i;
        if (result[i] == R_OK || result[i] == R_UNCONFIRMED)
            may |= bit;
        if (result[i] == R_OK) {
            must |= bit;
            nok++;
            uint64_t bal = (uint64_t)balance[i];
            assert_true((bal & must) == must);
            assert_true((bal & ~may) == 0);
            assert_true(bal < (bit << 1));
        }
        nunconf += result[i] == R_UNCONFIRMED;
    }
    fprintf(stderr, "changes: %d acknowledged, %d not confirmed, %d refused (try later)\n", nok,
            nunconf, CHANGES - nok - nunconf);
    assert_true(nok >= KILL_AT + 1); /* and some after PostgreSQL came back */

    /* the database: every acknowledged change once, nothing refused */
    assert_int_equal(wait_metric("gs_db_up", 1, T), 0);
    assert_true(gs_metric(srv.metrics_port, "gs_db_reconnects_total") >= 1);
    int64_t requests = -1;
    uint64_t g = (uint64_t)db_gold("gm1", &requests);
    assert_true((g & must) == must);
    assert_true((g & ~may) == 0);
    assert_int_equal(requests, __builtin_popcountll(g)); /* one recorded id per applied change */
    /* the game and the database still work */
    char text[32];
    snprintf(text, sizeof text, "-%llu", (unsigned long long)g);
    assert_true(gold(text) == 0);

    /* every COMMIT answer lost after the commit: applied once, answered right */
    double rec0 = gs_metric(srv.metrics_port, "gs_db_reconnects_total");
    FILE *f = fopen(g_fault, "w");
    assert_non_null(f);
    fputs("lostcommit\n", f);
    fclose(f);
    assert_true(gold("1000") == 1000);
    assert_true(gold("7") == 1007);
    assert_true(gold("-7") == 1000);
    remove(g_fault);
    assert_true(gold("1") == 1001);
    assert_true(db_gold("gm1", &requests) == 1001);
    assert_true(gs_metric(srv.metrics_port, "gs_db_reconnects_total") >= rec0 + 3);
}

/* Start-up refuses a url carrying a password (either form) without
 * echoing it, and the postgres driver without a url. */
static void test_start_refuses_a_password_in_the_url(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "database.url=host=127.0.0.1 port=1 dbname=x user=game password=Sekr1tXyz",
        "database.url=postgresql://game:Sekr1tXyz@127.0.0.1:1/x"};
    char err[4096];
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"--set", "auth.mode=dev", "--set", "database.driver=postgres",
                              "--set", urls[i],         NULL};
        assert_int_not_equal(gs_run_capture(args, err, sizeof err, 10000), 0);
        assert_non_null(strstr(err, "carries a password"));
        assert_null(strstr(err, "Sekr1tXyz"));
    }
    const char *args[] = {"--set", "auth.mode=dev", "--set", "database.driver=postgres", NULL};
    assert_int_not_equal(gs_run_capture(args, err, sizeof err, 10000), 0);
    assert_non_null(strstr(err, "'database.url' is empty"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_refuses_a_password_in_the_url),
        cmocka_unit_test_setup_teardown(test_gold_survives_postgres_kill, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
