/* Issue 16: the login server's account store on a REAL PostgreSQL (a
 * throwaway cluster, pg_cluster.c), shared by two login servers:
 *  - an account created through login server 1 logs in through 2;
 *  - wrong password and lock-out behave as with SQLite, and an existing
 *    account's failure counter is shared through the database;
 *  - PostgreSQL killed during logins: the login server answers TRY_LATER,
 *    keeps running, reports no login that the database did not confirm, and
 *    works again once PostgreSQL is back. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ls_client.h"
#include "pg_cluster.h"
#include "tl_proc.h"

#define DEADLINE_MS 10000
#define PW "correct horse"

static pg_cluster_t g_pg;

typedef struct ls_s {
    tl_proc_t p;
    char dir[64], db[128], cfg[128];
    int login_port, metrics_port;
} ls_t;

/* Login servers still running: a failed assertion skips a test's ls_stop,
 * so the per-test teardown stops and removes what is left. */
static ls_t *g_live[4];

static void track(ls_t *m, int on)
{
    for (int i = 0; i < 4; i++)
        if (on ? !g_live[i] : g_live[i] == m) {
            g_live[i] = on ? m : NULL;
            return;
        }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms) /* a poll interval while waiting on a condition */
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Writes the config (minimum Argon2 cost, the postgres driver on url, the
 * test's extra accounts.* keys) into a fresh dir. */
static void ls_prepare(ls_t *m, const char *url, const char *extra)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "/tmp/ls_pg_XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    snprintf(m->db, sizeof m->db, "%s/m.db", m->dir);
    snprintf(m->cfg, sizeof m->cfg, "%s/m.json", m->dir);
    FILE *f = fopen(m->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"accounts\": {\"hash_ops\": 1, \"hash_mem_kib\": 8, \"driver\": \"postgres\","
            " \"url\": \"%s\", \"open_registration\": true%s%s}}",
            url, extra ? ", " : "", extra ? extra : "");
    fclose(f);
    chmod(m->cfg, 0600);
}

static void ls_launch(ls_t *m)
{
    const char *argv[] = {
        MASTERSERVER_BIN, "--port", "0",        "--login-port", "0",
        "--db",           m->db,    "--config", m->cfg,         "--insecure-no-link-auth",
        "--metrics-port", "auto",   NULL};
    assert_int_equal(tl_proc_start(&m->p, argv, 0), 0);
    track(m, 1);
    long r = tl_proc_wait_for(&m->p, "READY port=", 0, DEADLINE_MS);
    if (r < 0)
        fprintf(stderr, "masterserver output:\n%s\n", m->p.out);
    assert_true(r > 0);
    int port = 0;
    assert_int_equal(sscanf(m->p.out + r, "%d login_port=%d metrics_port=%d", &port, &m->login_port,
                            &m->metrics_port),
                     3);
}

/* One sample of a's metrics page (issue 16). */
static double ls_sample(const ls_t *a, const char *sample)
{
    static char page[1 << 16];
    assert_true(ls_http_get(a->metrics_port, "/metrics", page, sizeof page) > 0);
    return ls_metric(page, sample);
}

static void ls_start(ls_t *m, const char *url, const char *extra)
{
    ls_prepare(m, url, extra);
    ls_launch(m);
}

static void ls_stop(ls_t *m)
{
    track(m, 0);
    assert_int_equal(tl_proc_stop(&m->p, 15, DEADLINE_MS), 0);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", m->dir);
    assert_int_equal(system(cmd), 0);
}

static int add_account(const ls_t *m, const char *name, const char *pw)
{
    tl_proc_t p;
    const char *argv[] = {MASTERSERVER_BIN, "--db",          m->db, "--config",
                          m->cfg,           "--add-account", name,  NULL};
    if (tl_proc_start(&p, argv, 1) != 0)
        return -1;
    char line[256];
    snprintf(line, sizeof line, "%s\n", pw);
    tl_proc_write(&p, line);
    tl_proc_close_stdin(&p);
    return tl_proc_wait_exit(&p, DEADLINE_MS);
}

/* One login on a fresh connection: the result code, or -1 (no answer). */
static int login_once(const ls_t *m, const char *name, const char *pw, proto_account_result_t *r)
{
    ls_client_t c;
    if (ls_connect(&c, (uint16_t)m->login_port, DEADLINE_MS) != 0)
        return -1;
    int code = ls_login(&c, name, pw, r, DEADLINE_MS);
    ls_close(&c);
    return code;
}

static int reg_once(const ls_t *m, const char *name, const char *pw, proto_account_result_t *r)
{
    ls_client_t c;
    if (ls_connect(&c, (uint16_t)m->login_port, DEADLINE_MS) != 0)
        return -1;
    int code = ls_register(&c, name, pw, r, DEADLINE_MS);
    ls_close(&c);
    return code;
}

static char *fresh_db(const char *name)
{
    static char url[256];
    assert_int_equal(pg_cluster_createdb(&g_pg, name, url, sizeof url), 0);
    return url;
}

static int group_setup(void **state)
{
    (void)state;
    return pg_cluster_start(&g_pg);
}

static int test_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        if (g_live[i]) {
            ls_t *m = g_live[i];
            g_live[i] = NULL;
            tl_proc_stop(&m->p, 9, DEADLINE_MS);
            char cmd[160];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", m->dir);
            if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", m->dir);
        }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pg_cluster_stop(&g_pg);
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_account_created_on_ls1_logs_in_on_ls2(void **state)
{
    (void)state;
    const char *url = fresh_db("shared1");
    ls_t a, b;
    ls_start(&a, url, NULL);
    ls_start(&b, url, NULL); /* the second one finds the schema migrated */
    proto_account_result_t r1, r2;
    assert_int_equal(reg_once(&a, "Alice", PW, &r1), 0);
    assert_true(r1.account_id > 0);
    assert_int_equal(login_once(&b, "alice", PW, &r2), 0); /* names ignore case here too */
    assert_int_equal(r2.account_id, r1.account_id);
    /* the name is taken for every login server, whatever its case */
    assert_int_equal(reg_once(&b, "ALICE", PW, NULL), PROTO_ERR_NAME_TAKEN);
    /* --add-account writes the same store */
    assert_int_equal(add_account(&b, "bob", PW), 0);
    assert_int_equal(login_once(&a, "bob", PW, &r1), 0);
    assert_int_not_equal(r1.account_id, r2.account_id);
    /* a restarted login server keeps the accounts (they are in PostgreSQL) */
    track(&a, 0);
    assert_int_equal(tl_proc_stop(&a.p, 15, DEADLINE_MS), 0);
    ls_launch(&a);
    assert_int_equal(login_once(&a, "Alice", PW, NULL), 0);
    /* the password came from the passfile named in the URL; never logged */
    assert_null(strstr(a.p.out, g_pg.password));
    assert_null(strstr(b.p.out, g_pg.password));
    ls_stop(&a);
    ls_stop(&b);
}

/* No password file: PostgreSQL refuses, the login server stops at start
 * with the reason (exit 1) instead of serving without its store. */
static void test_start_refused_without_the_password(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof url,
             "host=127.0.0.1 port=%d user=test dbname=postgres passfile=/nonexistent", g_pg.port);
    ls_t m;
    ls_prepare(&m, url, NULL);
    const char *argv[] = {MASTERSERVER_BIN,
                          "--port",
                          "0",
                          "--login-port",
                          "0",
                          "--db",
                          m.db,
                          "--config",
                          m.cfg,
                          "--insecure-no-link-auth",
                          NULL};
    assert_int_equal(tl_proc_start(&m.p, argv, 0), 0);
    assert_int_equal(tl_proc_wait_exit(&m.p, DEADLINE_MS), 1);
    assert_non_null(strstr(m.p.out, "cannot connect"));
    assert_null(strstr(m.p.out, "READY"));
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", m.dir);
    assert_int_equal(system(cmd), 0);
}

static void test_wrong_password_and_lockout_shared(void **state)
{
    (void)state;
    const char *url = fresh_db("lock1");
    const char *lk = "\"lockout_account_failures\": 3, \"lockout_base_ms\": 60000";
    ls_t a, b;
    ls_start(&a, url, lk);
    ls_start(&b, url, lk);
    assert_int_equal(add_account(&a, "carol", PW), 0);
    /* as with SQLite: wrong password and unknown name are the same answer */
    assert_int_equal(login_once(&a, "carol", "wrong password", NULL), PROTO_ERR_AUTH_FAILED);
    assert_int_equal(login_once(&a, "nobody-here", PW, NULL), PROTO_ERR_AUTH_FAILED);
    assert_int_equal(login_once(&b, "carol", PW, NULL), 0); /* success clears the count */
    /* two failures on 1, the third on 2: the stored count locks it ... */
    assert_int_equal(login_once(&a, "carol", "wrong password", NULL), PROTO_ERR_AUTH_FAILED);
    assert_int_equal(login_once(&a, "carol", "wrong password", NULL), PROTO_ERR_AUTH_FAILED);
    assert_int_equal(login_once(&b, "carol", "wrong password", NULL), PROTO_ERR_AUTH_FAILED);
    /* ... for both: 1 saw only two itself, 2 only one */
    assert_int_equal(login_once(&a, "carol", PW, NULL), PROTO_ERR_LOCKED_OUT);
    assert_int_equal(login_once(&b, "carol", PW, NULL), PROTO_ERR_LOCKED_OUT);
    /* another account is not affected */
    assert_int_equal(add_account(&b, "dave", PW), 0);
    assert_int_equal(login_once(&a, "dave", PW, NULL), 0);
    ls_stop(&a);
    ls_stop(&b);
}

typedef struct hammer_s {
    const ls_t *m;
    atomic_int stop;
    atomic_int ok, try_later, other, no_answer;
    atomic_llong last_ok_ms; /* monotonic time the last success was answered */
} hammer_t;

static void *hammer(void *arg)
{
    hammer_t *h = arg;
    while (!atomic_load(&h->stop)) {
        int code = login_once(h->m, "erin", PW, NULL);
        if (code == 0) {
            atomic_fetch_add(&h->ok, 1);
            atomic_store(&h->last_ok_ms, (long long)now_ms());
        } else if (code == PROTO_ERR_TRY_LATER)
            atomic_fetch_add(&h->try_later, 1);
        else if (code < 0)
            atomic_fetch_add(&h->no_answer, 1);
        else
            atomic_fetch_add(&h->other, 1);
    }
    return NULL;
}

static void test_postgres_killed_during_logins(void **state)
{
    (void)state;
    const char *url = fresh_db("outage1");
    ls_t a;
    ls_start(&a, url, NULL);
    assert_int_equal(add_account(&a, "erin", PW), 0);
    assert_int_equal(login_once(&a, "erin", PW, NULL), 0);

    hammer_t h = {.m = &a};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer, &h), 0);
    int64_t end = now_ms() + DEADLINE_MS;
    while (atomic_load(&h.ok) < 3 && now_ms() < end) /* logins are flowing */
        nap_ms(1);
    assert_true(atomic_load(&h.ok) >= 3);

    assert_int_equal(pg_cluster_kill(&g_pg), 0);
    int64_t killed = now_ms();
    int ok_at_kill = atomic_load(&h.ok);
    /* the hammer now sees TRY_LATER answers */
    while (atomic_load(&h.try_later) < 5 && now_ms() < killed + DEADLINE_MS)
        nap_ms(1);
    atomic_store(&h.stop, 1);
    pthread_join(t, NULL);
    assert_true(atomic_load(&h.try_later) >= 5);
    /* at most the one login in flight at the kill can have been confirmed
     * before it; nothing answered ok after the database was gone */
    assert_true(atomic_load(&h.ok) <= ok_at_kill + 1);
    assert_true(atomic_load(&h.last_ok_ms) <= killed);
    assert_int_equal(atomic_load(&h.other), 0);
    assert_int_equal(atomic_load(&h.no_answer), 0);

    /* during the outage: the server keeps running and answers clearly */
    ls_client_t c;
    assert_int_equal(ls_connect(&c, (uint16_t)a.login_port, DEADLINE_MS), 0);
    assert_true(ls_realm_list(&c, NULL, DEADLINE_MS) >= 0);
    assert_int_equal(ls_register(&c, "frank", PW, NULL, DEADLINE_MS), PROTO_ERR_TRY_LATER);
    assert_int_equal(ls_login(&c, "erin", PW, NULL, DEADLINE_MS), PROTO_ERR_TRY_LATER);
    ls_close(&c);
    /* issue 16: the metrics page shows the outage */
    assert_true(ls_sample(&a, "ls_store_up{driver=\"postgres\"}") == 0);
    assert_true(ls_sample(&a, "ls_store_outage_seconds_total") > 0);
    assert_true(ls_sample(&a, "ls_store_connection_losses_total") >= 1);
    assert_true(ls_sample(&a, "ls_logins_total{result=\"store_down\"}") >= 6);
    assert_true(ls_sample(&a, "ls_registrations_total{result=\"store_down\"}") == 1);
    double reconnects = ls_sample(&a, "ls_store_reconnects_total");

    assert_int_equal(pg_cluster_restart(&g_pg), 0);
    /* back within the back-off (at most 5 s): only TRY_LATER until then */
    int code = -1;
    end = now_ms() + DEADLINE_MS;
    while (now_ms() < end && (code = login_once(&a, "erin", PW, NULL)) == PROTO_ERR_TRY_LATER)
        nap_ms(20);
    assert_int_equal(code, 0);
    assert_true(ls_sample(&a, "ls_store_up{driver=\"postgres\"}") == 1);
    assert_true(ls_sample(&a, "ls_store_reconnects_total") >= reconnects + 1);
    /* the outage is over: its time no longer grows */
    double outage = ls_sample(&a, "ls_store_outage_seconds_total");
    nap_ms(50);
    assert_true(ls_sample(&a, "ls_store_outage_seconds_total") == outage);
    /* the registration answered TRY_LATER was not made */
    assert_int_equal(login_once(&a, "frank", PW, NULL), PROTO_ERR_AUTH_FAILED);
    assert_int_equal(reg_once(&a, "frank", PW, NULL), 0);
    /* PostgreSQL restarted while the login server was idle: its connection
     * is stale; the next login reconnects at once and succeeds */
    assert_int_equal(pg_cluster_kill(&g_pg), 0);
    assert_int_equal(pg_cluster_restart(&g_pg), 0);
    assert_int_equal(login_once(&a, "erin", PW, NULL), 0);
    assert_true(tl_proc_wait_for(&a.p, "postgres connection lost", 0, DEADLINE_MS) > 0);
    assert_true(tl_proc_wait_for(&a.p, "postgres connection restored", 0, DEADLINE_MS) > 0);
    ls_stop(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_account_created_on_ls1_logs_in_on_ls2, test_teardown),
        cmocka_unit_test(test_start_refused_without_the_password),
        cmocka_unit_test_teardown(test_wrong_password_and_lockout_shared, test_teardown),
        cmocka_unit_test_teardown(test_postgres_killed_during_logins, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
