/* Database faults through the real gameserver (issue 12): gold overflow is
 * refused; a database locked by another process is logged, shows in
 * gs_db_up, and logins/gold changes complete or get a clear error in
 * bounded time; a read-only database keeps a logout's save pending until it
 * is writable again; shutdown retries saves, names what it could not save
 * and exits 1; kill -9 during autosave keeps every acknowledged gold change.
 * Read-only is injected through database.fault_file (the tests run as root,
 * for whom file permissions do not apply); the lock is a real one held by
 * this test process. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gs_dbcheck.h"
#include "gs_harness.h"

#define T 5000

static gs_proc_t srv;
static gs_client_t a, b;
static proto_msg_t m;
static char fault_path[256], fault_arg[300];

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

static int start(const char *const *more)
{
    /* gold changes at round-trip pace: no chat limit, no request budget */
    const char *args[40] = {
        "--set", "chat.rate_per_s=1000", "--set", "chat.burst=1000", "--set", fault_arg,
        "--set", "limits.budget_per_s=0"};
    int n = 8;
    for (; more && *more && n < 38; more++)
        args[n++] = *more;
    args[n] = NULL;
    return gs_proc_start(&srv, args, 5000);
}

static int setup(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    snprintf(fault_path, sizeof fault_path, "%s/fault", srv.dir);
    snprintf(fault_arg, sizeof fault_arg, "database.fault_file=%s", fault_path);
    return 0;
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
    return rc;
}

static void set_fault(const char *kind)
{
    if (!kind) {
        remove(fault_path);
        return;
    }
    FILE *f = fopen(fault_path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", kind);
    fclose(f);
}

/* Value of an unlabelled sample, or -1. */
static double metric(const char *name)
{
    return gs_metric(srv.metrics_port, name);
}

static int wait_metric(const char *name, double want, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (metric(name) == want)
            return 0;
        if (now_ms() >= end) {
            fprintf(stderr, "%s stayed %g (want %g)\n", name, metric(name), want);
            return -1;
        }
        pause_ms(10);
    }
}

static int log_has(const char *needle)
{
    return gs_proc_wait_log(&srv, needle, 0) == 0;
}

static int wait_log(const char *needle, int timeout_ms)
{
    if (gs_proc_wait_log(&srv, needle, timeout_ms) == 0)
        return 0;
    fprintf(stderr, "log line '%s' never came\n", needle);
    return -1;
}

/* The reply to a /gold command: a notice, or an error packet. */
static int gold(gs_client_t *c, const char *amount, char *reply, size_t len, int timeout_ms)
{
    char text[96];
    snprintf(text, sizeof text, "/gold %s", amount);
    if (gs_chat(c, 0, NULL, text) != 0)
        return -1;
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= end)
            return -1;
        int r = gs_recv(c, &m, (int)(end - now));
        if (r <= 0)
            return -1;
        if (m.type == PROTO_T_NOTICE) {
            snprintf(reply, len, "%s", m.notice.text);
            return 0;
        }
        if (m.type == PROTO_T_ERROR) {
            snprintf(reply, len, "ERROR %s", m.error.text);
            return 0;
        }
    }
}

static int64_t gold_of(const char *name)
{
    sqlite3 *h;
    sqlite3_stmt *s;
    int64_t g = -1;
    if (sqlite3_open_v2(srv.db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -2;
    if (sqlite3_prepare_v2(h,
                           "SELECT COALESCE(w.gold, 0) FROM characters c LEFT JOIN wallet w"
                           " ON w.char_id = c.id WHERE c.name = ?1",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            g = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return g;
}

static void test_gold_overflow_is_refused(void **state)
{
    (void)state;
    char r[300];
    assert_int_equal(start(NULL), 0);
    assert_int_equal(gs_login(&a, srv.port, "midas"), 0);
    assert_int_equal(gold(&a, "9223372036854775807", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "balance 9223372036854775807"));
    assert_int_equal(gold(&a, "1", r, sizeof r, T), 0); /* was signed overflow (UB) */
    assert_non_null(strstr(r, "overflow"));
    assert_int_equal(gold(&a, "-9223372036854775808", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "not enough"));
    assert_int_equal(gold(&a, "99999999999999999999", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "ERROR gold change refused (amount out of range)"));
    assert_int_equal(gold(&a, "-99999999999999999999", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "out of range"));
    assert_int_equal(gold(&a, "12abc", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "ERROR usage"));
    assert_int_equal(gold(&a, "-9223372036854775807", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "balance 0"));
    assert_true(metric("gs_money_overflow_refused_total") == 3);
    assert_true(gold_of("midas") == 0);
    assert_true(log_has("overflows; refused"));
}

/* Another process holds the write lock: the first request waits (bounded)
 * then gets "database unavailable"; a login likewise; a request made while
 * locked completes as soon as the lock goes; gs_db_up 1 -> 0 -> 1. */
static void test_locked_database(void **state)
{
    (void)state;
    char r[300];
    const char *more[] = {"--set", "database.request_timeout_ms=1500", NULL};
    assert_int_equal(start(more), 0);
    assert_int_equal(gs_login(&a, srv.port, "alice"), 0);
    assert_int_equal(gold(&a, "100", r, sizeof r, T), 0);
    assert_non_null(strstr(r, "balance 100"));
    assert_true(metric("gs_db_up") == 1);

    sqlite3 *h;
    assert_int_equal(sqlite3_open(srv.db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    assert_int_equal(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

    uint64_t t0 = now_ms();
    assert_int_equal(gold(&a, "5", r, sizeof r, 6000), 0);
    uint64_t took = now_ms() - t0;
    assert_non_null(strstr(r, "database unavailable"));
    assert_true(took >= 1000 && took < 4000); /* request_timeout_ms, not forever */
    assert_true(metric("gs_db_up") == 0);
    assert_true(log_has("database is locked"));
    assert_true(log_has("database unavailable"));
    assert_true(metric("gs_db_faults_total{kind=\"busy\"}") >= 1);

    /* a login while locked: a clear error in bounded time */
    assert_int_equal(gs_connect(&b, srv.port), 0);
    proto_msg_t lg = {.type = PROTO_T_LOGIN};
    snprintf(lg.login.name, sizeof lg.login.name, "bob");
    lg.login.proto_hash = PROTO_HASH;
    t0 = now_ms();
    assert_int_equal(gs_send(&b, &lg), 0);
    assert_int_equal(gs_expect(&b, PROTO_T_ERROR, NULL, NULL, &m, 6000), 0);
    assert_non_null(strstr(m.error.text, "database unavailable"));
    assert_true(now_ms() - t0 < 4000);
    gs_close(&b);

    /* a request made while locked completes once the lock is released */
    assert_int_equal(gs_chat(&a, 0, NULL, "/gold 7"), 0);
    assert_int_equal(wait_metric("gs_db_requests_waiting", 1, T), 0);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_non_null(strstr(m.notice.text, "balance 107"));
    assert_int_equal(wait_metric("gs_db_up", 1, T), 0);
    assert_true(log_has("database available again"));
    assert_true(metric("gs_db_requests_timed_out_total") == 2);
    assert_true(gold_of("alice") == 107); /* the refused +5 changed nothing */
    assert_int_equal(gs_login(&b, srv.port, "bob"), 0);
}

/* A logout while the database is read-only: the save is kept (not reported
 * saved) and written when the database is writable again. */
static void test_readonly_logout_save_is_retried(void **state)
{
    (void)state;
    const char *more[] = {"--set", "zones.max_speed=1000", NULL};
    assert_int_equal(start(more), 0);
    assert_int_equal(gs_login(&a, srv.port, "carol"), 0);
    double x0 = a.x, y0 = a.y, x, y;
    assert_int_equal(gs_move(&a, 420, 430), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    set_fault("readonly");
    proto_msg_t bye = {.type = PROTO_T_LOGOUT};
    assert_int_equal(gs_send(&a, &bye), 0);
    assert_int_equal(gs_expect_close(&a, T), 0);
    assert_int_equal(wait_metric("gs_db_saves_pending", 1, T), 0);
    assert_true(metric("gs_db_up") == 0);
    assert_int_equal(wait_log("readonly, will retry", T), 0);
    assert_int_equal(gs_db_char_pos(srv.db, "carol", NULL, &x, &y), 0);
    assert_true(x == x0 && y == y0); /* not saved yet */
    /* logging in again meanwhile waits behind the pending save */
    assert_int_equal(gs_connect(&b, srv.port), 0);
    proto_msg_t lg = {.type = PROTO_T_LOGIN};
    snprintf(lg.login.name, sizeof lg.login.name, "carol");
    lg.login.proto_hash = PROTO_HASH;
    assert_int_equal(gs_send(&b, &lg), 0);
    assert_int_equal(wait_metric("gs_db_requests_waiting", 1, T), 0);
    set_fault(NULL);
    assert_int_equal(gs_expect(&b, PROTO_T_LOGIN_RESULT, NULL, NULL, &m, T), 0);
    assert_int_equal(m.login_result.code, 0);
    assert_int_equal(wait_metric("gs_db_saves_pending", 0, T), 0);
    assert_int_equal(wait_metric("gs_db_up", 1, T), 0);
    assert_int_equal(gs_db_char_pos(srv.db, "carol", NULL, &x, &y), 0);
    assert_true(x == 420 && y == 430);
    proto_msg_t ew = {.type = PROTO_T_ENTER_WORLD};
    assert_int_equal(gs_send(&b, &ew), 0);
    assert_int_equal(gs_expect(&b, PROTO_T_WORLD_ENTERED, NULL, NULL, &m, T), 0);
    assert_true(m.world_entered.pos.x == 420 && m.world_entered.pos.y == 430);
    assert_true(metric("gs_db_faults_total{kind=\"readonly\"}") >= 1);
}

/* SIGTERM while the database is read-only past the deadline: the players
 * are not told "saved", the log names who was not saved, exit status 1. */
static void test_shutdown_gives_up_loudly(void **state)
{
    (void)state;
    const char *more[] = {"--set", "zones.max_speed=1000", "--set",
                          "database.shutdown_save_timeout_ms=1000", NULL};
    assert_int_equal(start(more), 0);
    assert_int_equal(gs_login(&a, srv.port, "dan"), 0);
    assert_int_equal(gs_move(&a, 300, 310), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    set_fault("full");
    /* a login left waiting for the database when the process stops */
    assert_int_equal(gs_connect(&b, srv.port), 0);
    proto_msg_t lg = {.type = PROTO_T_LOGIN};
    snprintf(lg.login.name, sizeof lg.login.name, "waiter");
    lg.login.proto_hash = PROTO_HASH;
    assert_int_equal(gs_send(&b, &lg), 0);
    assert_int_equal(wait_metric("gs_db_requests_waiting", 1, T), 0);
    uint64_t t0 = now_ms();
    kill(srv.pid, SIGTERM);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_int_equal(m.notice.code, PROTO_ERR_SHUTTING_DOWN);
    assert_null(strstr(m.notice.text, "is saved"));
    assert_int_equal(gs_expect_close(&a, 10000), 0); /* the clients close when the server does */
    assert_int_equal(gs_expect_close(&b, 10000), 0);
    assert_int_equal(gs_proc_stop(&srv, 0, 10000), 1);
    assert_true(now_ms() - t0 < 8000);
    assert_true(log_has("NOT SAVED: 'dan'"));
    assert_true(log_has("characters NOT saved"));
    double x, y;
    assert_int_equal(gs_db_char_pos(srv.db, "dan", NULL, &x, &y), 0);
    assert_false(x == 300 && y == 310);
}

/* SIGTERM while read-only, made writable during the retries: saved, exit 0. */
static void test_shutdown_retries_until_saved(void **state)
{
    (void)state;
    const char *more[] = {"--set", "zones.max_speed=1000", "--set",
                          "database.shutdown_save_timeout_ms=20000", NULL};
    assert_int_equal(start(more), 0);
    assert_int_equal(gs_login(&a, srv.port, "eve"), 0);
    assert_int_equal(gs_move(&a, 350, 360), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    set_fault("readonly");
    kill(srv.pid, SIGTERM);
    assert_int_equal(wait_log("database unavailable", T), 0);
    set_fault(NULL);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_non_null(strstr(m.notice.text, "is saved"));
    assert_int_equal(gs_expect_close(&a, T), 0); /* the client closes when the server does */
    assert_int_equal(gs_proc_stop(&srv, 0, 10000), 0);
    double x, y;
    assert_int_equal(gs_db_char_pos(srv.db, "eve", NULL, &x, &y), 0);
    assert_true(x == 350 && y == 360);
}

/* kill -9 while autosaves (every 100 ms) and gold changes run: the file
 * passes integrity_check and every acknowledged gold change is there. */
static void test_kill9_during_autosave_keeps_acknowledged_gold(void **state)
{
    (void)state;
    const char *more[] = {"--set", "zones.max_speed=100000", "--set", "database.autosave_ms=100",
                          NULL};
    assert_int_equal(start(more), 0);
    assert_int_equal(gs_login(&a, srv.port, "kay"), 0);
    assert_int_equal(gs_login(&b, srv.port, "lee"), 0);
    int64_t acked_a = 0, acked_b = 0;
    char r[300];
    uint64_t end = now_ms() + 1500;
    for (int i = 0; now_ms() < end; i++) {
        assert_int_equal(gs_move(&a, 100 + (float)(i % 50), 200), 0);
        assert_int_equal(gs_move(&b, 300, 100 + (float)(i % 50)), 0);
        assert_int_equal(gold(&a, "3", r, sizeof r, T), 0);
        assert_non_null(strstr(r, "balance"));
        acked_a += 3;
        assert_int_equal(gold(&b, "5", r, sizeof r, T), 0);
        assert_non_null(strstr(r, "balance"));
        acked_b += 5;
    }
    /* one more of each in flight, unacknowledged */
    assert_int_equal(gs_chat(&a, 0, NULL, "/gold 3"), 0);
    assert_int_equal(gs_chat(&b, 0, NULL, "/gold 5"), 0);
    assert_int_equal(gs_proc_stop(&srv, SIGKILL, T), 128 + SIGKILL);

    sqlite3 *h;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(srv.db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    sqlite3_close(h);
    int64_t ga = gold_of("kay"), gb = gold_of("lee");
    assert_true(ga == acked_a || ga == acked_a + 3);
    assert_true(gb == acked_b || gb == acked_b + 5);
    assert_true(acked_a > 0 && acked_b > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gold_overflow_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_logout_save_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_gives_up_loudly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_retries_until_saved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_during_autosave_keeps_acknowledged_gold, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
