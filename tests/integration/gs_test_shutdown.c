/* Shutdown (issue 12): a /metrics scrape in flight during SIGTERM (no
 * crash: the metrics page goes first; run under build/hasan too), SIGTERM
 * with players online (exit 0 within a bound, every position saved), and
 * a second and third signal during the final save (logged, the save is not
 * skipped, exit 0).  Real processes on 127.0.0.1, free ports. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gs_dbcheck.h"
#include "gs_harness.h"

#define T 5000
#define NPLAYERS 20
#define STOP_BOUND_MS 5000 /* SIGTERM to exit with NPLAYERS online */

static gs_proc_t srv;
static gs_client_t cl[NPLAYERS];
static proto_msg_t m;

static int setup(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    const char *fast[] = {"--set", "zones.max_speed=100000", "--log-level",
                          getenv("GS_DUMP") ? "debug" : "info", NULL};
    return gs_proc_start(&srv, fast, T);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NPLAYERS; i++)
        gs_close(&cl[i]);
    gs_proc_cleanup(&srv);
    return 0;
}

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF/error or the deadline: 0 closed, -1 still open. */
static int wait_closed(int fd, int timeout_ms)
{
    char b[4096];
    for (int64_t end = tl_now_ms() + timeout_ms; tl_now_ms() < end;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(end - tl_now_ms())) <= 0)
            continue;
        if (read(fd, b, sizeof b) <= 0)
            return 0;
    }
    return -1;
}

/* NPLAYERS log in and move to a position of their own (not yet saved:
 * autosave is 30 s away). */
static void players_online(void)
{
    for (int i = 0; i < NPLAYERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "sd%02d", i);
        assert_int_equal(gs_login(&cl[i], srv.port, name), 0);
        assert_int_equal(gs_move(&cl[i], 100 + i, 200 + i), 0);
    }
    for (int i = 0; i < NPLAYERS; i++)
        assert_int_equal(gs_barrier(&cl[i], NULL, NULL, T), 0);
}

/* Each player's connection closes when the server closes it (its end
 * closed as a real client does, so the server's lingering close does not
 * wait for its 2 s deadline). */
static void players_see_the_close(int timeout_ms)
{
    for (int i = 0; i < NPLAYERS; i++)
        assert_int_equal(gs_expect_close(&cl[i], timeout_ms), 0);
}

static void assert_all_saved(void)
{
    for (int i = 0; i < NPLAYERS; i++) {
        char name[16];
        double x = 0, y = 0;
        snprintf(name, sizeof name, "sd%02d", i);
        assert_int_equal(gs_db_char_pos(srv.db, name, NULL, &x, &y), 0);
        if (x != 100 + i || y != 200 + i)
            fail_msg("%s saved at (%g, %g), expected (%d, %d)", name, x, y, 100 + i, 200 + i);
    }
}

/* ---- scrape during shutdown -------------------------------------------- */

static atomic_int scraping;
static atomic_int scrapes_ok;

/* Scrapes /metrics in a loop until told to stop (failures are expected once
 * the page is closed). */
static void *scraper(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    while (atomic_load(&scraping)) {
        int fd = tcp_connect(port);
        if (fd < 0)
            continue;
        if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
            char b[8192];
            ssize_t r, got = 0;
            while ((r = read(fd, b, sizeof b)) > 0)
                got += r;
            if (got > 0)
                atomic_fetch_add(&scrapes_ok, 1);
        }
        close(fd);
    }
    return NULL;
}

static void test_scrape_in_flight_during_sigterm(void **state)
{
    (void)state;
    players_online();
    uint16_t mport = srv.metrics_port;
    /* one scrape in flight: request half sent */
    int slow = tcp_connect(mport);
    assert_true(slow >= 0);
    assert_int_equal(write(slow, "GET /metrics HTTP/1.0\r\n", 23), 23);
    atomic_store(&scraping, 1);
    atomic_store(&scrapes_ok, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, scraper, &mport), 0);
    for (int64_t end = tl_now_ms() + T; atomic_load(&scrapes_ok) < 5 && tl_now_ms() < end;)
        poll(NULL, 0, 1);
    assert_true(atomic_load(&scrapes_ok) >= 5); /* the scrapers really run */

    int64_t t0 = tl_now_ms();
    assert_int_equal(kill(srv.pid, SIGTERM), 0);
    /* finish the in-flight request while the server stops */
    ssize_t w = write(slow, "\r\n", 2);
    (void)w; /* may fail: the page may already be closed */
    players_see_the_close(STOP_BOUND_MS);
    int st = gs_proc_stop(&srv, 0, STOP_BOUND_MS);
    int64_t took = tl_now_ms() - t0;
    atomic_store(&scraping, 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(wait_closed(slow, 1000), 0);
    close(slow);
    print_message("SIGTERM during scrapes: exit %d after %lld ms\n", st, (long long)took);
    assert_int_equal(st, 0); /* an ASan report would exit 1 */
    assert_all_saved();
}

/* ---- SIGTERM with players online --------------------------------------- */

static void test_sigterm_with_players_saves_all_within_bound(void **state)
{
    (void)state;
    players_online();
    int64_t t0 = tl_now_ms();
    assert_int_equal(kill(srv.pid, SIGTERM), 0);
    for (int i = 0; i < NPLAYERS; i++) {
        assert_int_equal(gs_expect(&cl[i], PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
        assert_int_equal(m.notice.code, PROTO_ERR_SHUTTING_DOWN);
    }
    /* the players stay idle (they do not close their end): the bound
     * holds with the server's lingering closes too */
    int st = gs_proc_stop(&srv, 0, STOP_BOUND_MS);
    int64_t took = tl_now_ms() - t0;
    print_message("SIGTERM with %d players: exit %d after %lld ms (bound %d)\n", NPLAYERS, st,
                  (long long)took, STOP_BOUND_MS);
    assert_int_equal(st, 0);
    assert_true(took < STOP_BOUND_MS);
    assert_int_equal(gs_proc_wait_log(&srv, "stopped cleanly", 0 + 100), 0);
    assert_all_saved();
}

/* ---- signals during the final save ------------------------------------- */

/* Holds the database's write lock (as another process could), so the
 * final save is still in progress when the next signals arrive. */
static sqlite3 *lock_db(void)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(srv.db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return h;
}

static void test_more_signals_during_save_do_not_skip_it(void **state)
{
    (void)state;
    players_online();
    sqlite3 *h = lock_db();
    assert_int_equal(kill(srv.pid, SIGTERM), 0);
    assert_int_equal(gs_proc_wait_log(&srv, "signal 15: stopping", T), 0);
    assert_int_equal(kill(srv.pid, SIGINT), 0);
    assert_int_equal(gs_proc_wait_log(&srv, "signal 2: already stopping; saving 20 players", T), 0);
    assert_int_equal(kill(srv.pid, SIGTERM), 0); /* a third one: the same */
    assert_int_equal(gs_proc_wait_log(&srv, "signal 15: already stopping; saving 20 players", T),
                     0);
    /* the process is still there, still saving */
    assert_int_equal(kill(srv.pid, 0), 0);
    assert_int_equal(gs_proc_wait_log(&srv, "characters saved", 0), -1); /* blocked by our lock */
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h);
    players_see_the_close(STOP_BOUND_MS);
    assert_int_equal(gs_proc_stop(&srv, 0, STOP_BOUND_MS), 0);
    assert_all_saved();
}

/* shutdown.timeout_ms: a stop that cannot finish (the database stays
 * locked past it) exits 3 and says the characters were not confirmed
 * saved, instead of hanging. */
static void test_shutdown_deadline_exits_3_and_says_so(void **state)
{
    (void)state;
    gs_proc_stop(&srv, SIGKILL, T);
    const char *args[] = {"--set", "shutdown.timeout_ms=1000", NULL};
    assert_int_equal(gs_proc_start(&srv, args, T), 0);
    assert_int_equal(gs_login(&cl[0], srv.port, "late"), 0);
    sqlite3 *h = lock_db();
    int64_t t0 = tl_now_ms();
    assert_int_equal(kill(srv.pid, SIGTERM), 0);
    int st = gs_proc_stop(&srv, 0, T);
    int64_t took = tl_now_ms() - t0;
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h);
    print_message("deadline 1000 ms: exit %d after %lld ms\n", st, (long long)took);
    assert_int_equal(st, 3);
    assert_true(took >= 1000 && took < 3000);
    assert_int_equal(gs_proc_wait_log(&srv, "NOT confirmed saved", 100), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scrape_in_flight_during_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_with_players_saves_all_within_bound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_more_signals_during_save_do_not_skip_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_deadline_exits_3_and_says_so, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
