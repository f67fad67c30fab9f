/* Persistence across restarts: logout saves zone and position; SIGTERM with
 * players online saves them all, notifies them and exits 0. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>

#include "gs_dbcheck.h"
#include "gs_harness.h"

#define T 5000

static gs_proc_t srv;
static gs_client_t a, b;
static proto_msg_t m;
static const char *const fast[] = {"--set", "zones.max_speed=1000", NULL};

static int setup(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    return gs_proc_start(&srv, fast, 5000);
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&a);
    gs_close(&b);
    int rc = 0; /* a non-zero exit (an ASan leak report too) fails the test */
    if (srv.pid > 0 && gs_proc_stop(&srv, SIGTERM, 5000) != 0)
        rc = -1;
    gs_proc_cleanup(&srv);
    return rc;
}

static void test_restart_restores_saved_zone_and_position(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "dave"), 0);
    proto_msg_t zc = {.type = PROTO_T_ZONE_CHANGE_REQUEST};
    zc.zone_change_request.zone = 3;
    assert_int_equal(gs_send(&a, &zc), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(gs_move(&a, m.zone_changed.pos.x + 10, m.zone_changed.pos.y + 5), 0);
    float x = a.x, y = a.y;
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    proto_msg_t bye = {.type = PROTO_T_LOGOUT};
    assert_int_equal(gs_send(&a, &bye), 0);
    assert_int_equal(gs_expect_close(&a, T), 0);
    gs_close(&a);
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, 5000), 0);

    assert_int_equal(gs_proc_start(&srv, fast, 5000), 0);
    assert_int_equal(gs_login(&a, srv.port, "dave"), 0);
    assert_int_equal(a.zone, 3);
    assert_true(a.x == x && a.y == y);
}

static void test_sigterm_saves_every_online_player_and_exits_zero(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&a, srv.port, "erin"), 0);
    assert_int_equal(gs_login(&b, srv.port, "frank"), 0);
    assert_int_equal(gs_move(&a, 420, 430), 0);
    assert_int_equal(gs_move(&b, 560, 570), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    assert_int_equal(gs_barrier(&b, NULL, NULL, T), 0);
    kill(srv.pid, SIGTERM);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_int_equal(m.notice.code, PROTO_ERR_SHUTTING_DOWN);
    assert_int_equal(gs_expect_close(&a, T), 0);
    assert_int_equal(gs_expect_close(&b, T), 0);
    assert_int_equal(gs_proc_stop(&srv, 0, 5000), 0);
    int zone;
    double x, y;
    assert_int_equal(gs_db_char_pos(srv.db, "erin", &zone, &x, &y), 0);
    assert_true(zone == 1 && x == 420 && y == 430);
    assert_int_equal(gs_db_char_pos(srv.db, "frank", &zone, &x, &y), 0);
    assert_true(zone == 1 && x == 560 && y == 570);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart_restores_saved_zone_and_position, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_saves_every_online_player_and_exits_zero,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
