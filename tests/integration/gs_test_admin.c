/* The operator's console (issue 14): each command against a real
 * gameserver on 127.0.0.1 (free ports; a temp dir with its secret, zones
 * file, fault file and database).  Auth, limits and start-up checks:
 * gs_test_admin_access.c. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gs_admin_client.h"
#include "gs_dbcheck.h"

#define T GS_ADM_T

#define ZONES zones_v1
static const char zones_v1[] =
    "{\"zones\": [\n"
    " {\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, \"height\": 1000,\n"
    "  \"spawn\": {\"x\": 500, \"y\": 500}, \"portals\": []},\n"
    " {\"id\": 2, \"name\": \"Dark Forest\", \"width\": 800, \"height\": 800,\n"
    "  \"spawn\": {\"x\": 400, \"y\": 400}, \"portals\": []}]}\n";
/* safe changes: zone 2's name and spawn, a portal in zone 1 */
static const char zones_v2[] =
    "{\"zones\": [\n"
    " {\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, \"height\": 1000,\n"
    "  \"spawn\": {\"x\": 500, \"y\": 500}, \"portals\": [\n"
    "   {\"x\": 990, \"y\": 500, \"radius\": 8, \"to_zone\": 2, \"to_x\": 20, \"to_y\": 30}]},\n"
    " {\"id\": 2, \"name\": \"Deep Forest\", \"width\": 800, \"height\": 800,\n"
    "  \"spawn\": {\"x\": 100, \"y\": 200}, \"portals\": []}]}\n";
/* needs a restart: zone 2's size */
static const char zones_resized[] =
    "{\"zones\": [\n"
    " {\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, \"height\": 1000,\n"
    "  \"spawn\": {\"x\": 500, \"y\": 500}, \"portals\": []},\n"
    " {\"id\": 2, \"name\": \"Renamed\", \"width\": 900, \"height\": 800,\n"
    "  \"spawn\": {\"x\": 400, \"y\": 400}, \"portals\": []}]}\n";

static gs_proc_t srv;

static int setup(void **state)
{
    (void)state;
    return gs_adm_start(&srv, ZONES);
}

static int teardown(void **state)
{
    (void)state;
    return gs_proc_finish(&srv); /* exit 0: no crash, no leak (under ASan) */
}

static int match_text(const proto_msg_t *m, const void *text)
{
    if (m->type == PROTO_T_NOTICE)
        return strstr(m->notice.text, text) != NULL;
    if (m->type == PROTO_T_ERROR)
        return strstr(m->error.text, text) != NULL;
    return 0;
}

/* ---- commands ---- */

static void test_status_shows_players_zones_queues_links_uptime(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "stat_one"), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    static char out[8192];
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "players online=1 ");
    ASSERT_HAS(out, "zone id=1 name=\"Meadow\" players=1 tick_p99_ms=");
    ASSERT_HAS(out, "zone id=2 name=\"Dark Forest\" players=0 ");
    ASSERT_HAS(out, "queue name=game depth=");
    ASSERT_HAS(out, "queue name=control depth=");
    ASSERT_HAS(out, "queue name=db depth=");
    ASSERT_HAS(out, "links chat=off master=off");
    ASSERT_HAS(out, "uptime_s=");
    ASSERT_HAS(out, "draining=no");
    gs_adm_close(&a);
    gs_close(&p);
    assert_int_equal(gs_proc_wait_log(&srv, "ran: status", T), 0);
}

static void test_who_lists_every_player_with_zone(void **state)
{
    (void)state;
    static gs_client_t p1, p2;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p1, srv.port, "who_one"), 0);
    assert_int_equal(gs_login(&p2, srv.port, "who_two"), 0);
    m = (proto_msg_t){.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = 2;
    assert_int_equal(gs_send(&p2, &m), 0);
    assert_int_equal(gs_expect(&p2, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    static char out[8192];
    assert_int_equal(gs_adm_cmd(&a, "who", out, sizeof out), 1);
    ASSERT_HAS(out, "player name=who_one zone=1\n");
    ASSERT_HAS(out, "player name=who_two zone=2\n");
    ASSERT_HAS(out, "players 2\n");
    gs_adm_close(&a);
    gs_close(&p1);
    gs_close(&p2);
}

static void test_kick_tells_the_reason_closes_and_saves(void **state)
{
    (void)state;
    static gs_client_t p, q;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p, srv.port, "kick_me"), 0);
    assert_int_equal(gs_login(&q, srv.port, "kick_not"), 0);
    assert_int_equal(gs_move(&p, 510, 520), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "kick kick_me spamming the market", out, sizeof out), 1);
    ASSERT_HAS(out, "kicked kick_me");
    assert_int_equal(gs_expect(&p, PROTO_T_ERROR, match_text, "spamming the market", &m, T), 0);
    assert_int_equal(m.error.code, PROTO_ERR_NOT_ALLOWED);
    assert_true(m.error.fatal);
    assert_int_equal(gs_expect_close(&p, T), 0);
    assert_int_equal(gs_barrier(&q, NULL, NULL, T), 0); /* the other one plays on */
    assert_int_equal(gs_adm_cmd(&a, "kick kick_me", out, sizeof out), 0);
    ASSERT_HAS(out, "error no player 'kick_me' online");
    assert_int_equal(gs_adm_cmd(&a, "kick", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: kick NAME");
    /* saved as on any logout */
    double x = 0, y = 0;
    for (int64_t end = tl_now_ms() + T; tl_now_ms() < end;)
        if (gs_db_char_pos(srv.db, "kick_me", NULL, &x, &y) == 0 && x == 510)
            break;
    assert_true(x == 510 && y == 520);
    gs_adm_close(&a);
    gs_close(&p);
    gs_close(&q);
    assert_int_equal(gs_proc_wait_log(&srv, "ran: kick kick_me spamming the market", T), 0);
}

static void test_announce_reaches_every_player(void **state)
{
    (void)state;
    static gs_client_t p1, p2;
    assert_int_equal(gs_login(&p1, srv.port, "ann_one"), 0);
    assert_int_equal(gs_login(&p2, srv.port, "ann_two"), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "announce maintenance at 10:00 UTC", out, sizeof out), 1);
    ASSERT_HAS(out, "announced to 2 players");
    assert_int_equal(
        gs_expect(&p1, PROTO_T_NOTICE, match_text, "maintenance at 10:00 UTC", NULL, T), 0);
    assert_int_equal(
        gs_expect(&p2, PROTO_T_NOTICE, match_text, "maintenance at 10:00 UTC", NULL, T), 0);
    assert_int_equal(gs_adm_cmd(&a, "announce", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: announce TEXT");
    gs_adm_close(&a);
    gs_close(&p1);
    gs_close(&p2);
}

static void test_drain_refuses_logins_keeps_players_and_undrain_reopens(void **state)
{
    (void)state;
    static gs_client_t p, late, later;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p, srv.port, "drain_in"), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "drain", out, sizeof out), 1);
    ASSERT_HAS(out, "draining: new logins are refused");
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "draining", NULL, T), 0);
    /* a new login: refused with SHUTTING_DOWN and a clear text */
    assert_int_equal(gs_connect(&late, srv.port), 0);
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_LOGIN;
    snprintf(m.login.name, sizeof m.login.name, "drain_late");
    m.login.proto_hash = PROTO_HASH;
    assert_int_equal(gs_send(&late, &m), 0);
    assert_int_equal(gs_expect(&late, PROTO_T_ERROR, NULL, NULL, &m, T), 0);
    assert_int_equal(m.error.code, PROTO_ERR_SHUTTING_DOWN);
    ASSERT_HAS(m.error.text, "draining");
    assert_int_equal(gs_expect_close(&late, T), 0);
    /* the player inside keeps playing */
    assert_int_equal(gs_move(&p, 505, 505), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "draining=yes");
    assert_int_equal(gs_adm_cmd(&a, "undrain", out, sizeof out), 1);
    ASSERT_HAS(out, "logins are accepted again");
    assert_int_equal(gs_login(&later, srv.port, "drain_later"), 0);
    gs_adm_close(&a);
    gs_close(&p);
    gs_close(&late);
    gs_close(&later);
}

static void test_save_answers_after_the_database_has_every_position(void **state)
{
    (void)state;
    static gs_client_t p1, p2;
    assert_int_equal(gs_login(&p1, srv.port, "save_one"), 0);
    assert_int_equal(gs_login(&p2, srv.port, "save_two"), 0);
    /* moved, not saved yet: the autosave is 30 s away */
    assert_int_equal(gs_move(&p1, 123, 45), 0);
    assert_int_equal(gs_move(&p2, 678, 90), 0);
    assert_int_equal(gs_barrier(&p1, NULL, NULL, T), 0);
    assert_int_equal(gs_barrier(&p2, NULL, NULL, T), 0);
    double x = 0, y = 0;
    assert_int_equal(gs_db_char_pos(srv.db, "save_one", NULL, &x, &y), 0);
    assert_true(x != 123);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "save", out, sizeof out), 1);
    ASSERT_HAS(out, "saved 2 characters");
    /* acknowledged means on disk: read at once, no waiting */
    assert_int_equal(gs_db_char_pos(srv.db, "save_one", NULL, &x, &y), 0);
    assert_true(x == 123 && y == 45);
    assert_int_equal(gs_db_char_pos(srv.db, "save_two", NULL, &x, &y), 0);
    assert_true(x == 678 && y == 90);
    /* a command queued behind the save is answered after it, in order */
    assert_int_equal(gs_adm_cmd(&a, "save\nwho", out, sizeof out), 1);
    ASSERT_HAS(out, "saved 2 characters");
    assert_int_equal(gs_adm_answer(&a, out, sizeof out), 1);
    ASSERT_HAS(out, "players 2");
    gs_adm_close(&a);
    gs_close(&p1);
    gs_close(&p2);
}

/* While the database refuses writes the saves are kept and retried (as
 * always); `save` must not say "saved" then. */
static void test_save_says_so_when_the_database_is_unavailable(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "save_down"), 0);
    assert_int_equal(gs_move(&p, 111, 222), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    gs_adm_write_file(gs_adm_fault, "readonly\n");
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "save", out, sizeof out), 0);
    ASSERT_HAS(out, "error database unavailable: 1 characters' saves are kept and retried");
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "database up=no saves_pending=1");
    assert_int_equal(remove(gs_adm_fault), 0);
    /* the retry writes it; then `save` succeeds again */
    double x = 0, y = 0;
    for (int64_t end = tl_now_ms() + T; tl_now_ms() < end && x != 111;) {
        gs_db_char_pos(srv.db, "save_down", NULL, &x, &y);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_true(x == 111 && y == 222);
    assert_int_equal(gs_adm_cmd(&a, "save", out, sizeof out), 1);
    ASSERT_HAS(out, "saved 1 characters");
    gs_adm_close(&a);
    gs_close(&p);
}

static void test_reload_zones_applies_names_spawns_portals(void **state)
{
    (void)state;
    static gs_client_t p;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p, srv.port, "reload_one"), 0);
    gs_adm_write_file(gs_adm_zones, zones_v2);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    static char out[4096];
    assert_int_equal(gs_adm_cmd(&a, "reload zones", out, sizeof out), 1);
    ASSERT_HAS(out, "zone 2: name \"Dark Forest\" -> \"Deep Forest\"");
    ASSERT_HAS(out, "zone 2: spawn (400, 400) -> (100, 200)");
    ASSERT_HAS(out, "zone 1: portals (0 -> 1)");
    ASSERT_HAS(out, "3 changes applied");
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "zone id=2 name=\"Deep Forest\"");
    /* the zone change uses the new spawn and name */
    m = (proto_msg_t){.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = 2;
    assert_int_equal(gs_send(&p, &m), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_string_equal(m.zone_changed.zone_name, "Deep Forest");
    assert_true(m.zone_changed.pos.x == 100 && m.zone_changed.pos.y == 200);
    /* and the new portal works: back to zone 1, then walk into it */
    m = (proto_msg_t){.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = 1;
    assert_int_equal(gs_send(&p, &m), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(gs_move(&p, 990, 500), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(m.zone_changed.zone, 2);
    assert_true(m.zone_changed.pos.x == 20 && m.zone_changed.pos.y == 30);
    gs_adm_close(&a);
    gs_close(&p);
}

static void test_reload_zones_bad_file_keeps_the_old_zones_and_says_why(void **state)
{
    (void)state;
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    static char out[4096];
    gs_adm_write_file(gs_adm_zones, "{\"zones\": [ {\"id\": 1, ");
    assert_int_equal(gs_adm_cmd(&a, "reload zones", out, sizeof out), 0);
    ASSERT_HAS(out, "error ");
    ASSERT_HAS(out, gs_adm_zones);
    ASSERT_HAS(out, "the running zones are unchanged");
    gs_adm_write_file(gs_adm_zones, zones_resized);
    assert_int_equal(gs_adm_cmd(&a, "reload zones", out, sizeof out), 0);
    ASSERT_HAS(out, "size change needs a restart");
    gs_adm_write_file(gs_adm_zones,
                      "{\"zones\": [{\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, "
                      "\"height\": 1000, \"spawn\": {\"x\": 500, \"y\": 500}}]}");
    assert_int_equal(gs_adm_cmd(&a, "reload zones", out, sizeof out), 0);
    ASSERT_HAS(out, "adding or removing zones needs a restart");
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "zone id=2 name=\"Dark Forest\"");
    assert_int_equal(gs_adm_cmd(&a, "reload", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: reload zones");
    gs_adm_close(&a);
    assert_int_equal(gs_proc_wait_log(&srv, "reload zones refused", T), 0);
}

static void test_log_sets_the_level_at_runtime(void **state)
{
    (void)state;
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "log", out, sizeof out), 1);
    ASSERT_HAS(out, "log level info");
    assert_int_equal(gs_adm_cmd(&a, "log debug", out, sizeof out), 1);
    ASSERT_HAS(out, "log level info -> debug");
    /* a DEBUG line appears now: a player's connection is one */
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "log_one"), 0);
    assert_int_equal(gs_proc_wait_log(&srv, "] open from 127.0.0.1", T), 0);
    assert_int_equal(gs_adm_cmd(&a, "log loud", out, sizeof out), 0);
    ASSERT_HAS(out, "unknown level 'loud'");
    assert_int_equal(gs_adm_cmd(&a, "log warn", out, sizeof out), 1);
    assert_int_equal(gs_adm_cmd(&a, "log", out, sizeof out), 1);
    ASSERT_HAS(out, "log level warn");
    assert_int_equal(gs_proc_wait_log(&srv, "log level debug -> warn", T),
                     0); /* said before the change */
    gs_adm_close(&a);
    gs_close(&p);
}

static void test_shutdown_counts_down_saves_and_exits_0(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "down_one"), 0);
    assert_int_equal(gs_move(&p, 321, 654), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "shutdown 2", out, sizeof out), 1);
    ASSERT_HAS(out, "shutdown in 2 s");
    assert_int_equal(gs_adm_cmd(&a, "shutdown 5", out, sizeof out), 0);
    ASSERT_HAS(out, "a shutdown is counting down");
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "shutting down in 2 s", NULL, T), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "shutting down in 1 s", NULL, T), 0);
    /* the stop closes the console first, then saves, then closes the
     * players: each client closes its end when the server does */
    assert_int_equal(gs_adm_expect_close(&a, T), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "your character is saved", NULL, T),
                     0);
    assert_int_equal(gs_expect_close(&p, T), 0);
    /* exit 0 on its own (no signal: SIGCONT does nothing) */
    assert_int_equal(gs_proc_stop(&srv, SIGCONT, 10000), 0);
    double x = 0, y = 0;
    assert_int_equal(gs_db_char_pos(srv.db, "down_one", NULL, &x, &y), 0);
    assert_true(x == 321 && y == 654);
    gs_adm_close(&a);
    gs_close(&p);
    assert_int_equal(gs_proc_wait_log(&srv, "console shutdown: stopping", T), 0);
}

static void test_shutdown_0_stops_now_and_exits_0(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "now_one"), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "shutdown 0", out, sizeof out), 1);
    ASSERT_HAS(out, "shutting down now");
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "shutting down now", NULL, T), 0);
    assert_int_equal(gs_adm_expect_close(&a, T), 0); /* the clients close when the server does */
    assert_int_equal(gs_expect_close(&p, T), 0);
    assert_int_equal(gs_proc_stop(&srv, SIGCONT, 10000), 0);
    gs_adm_close(&a);
    gs_close(&p);
}

static void test_shutdown_cancel_keeps_running(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "cancel_one"), 0);
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    char out[512];
    assert_int_equal(gs_adm_cmd(&a, "shutdown 60", out, sizeof out), 1);
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "shutdown in_s=");
    assert_int_equal(gs_adm_cmd(&a, "shutdown cancel", out, sizeof out), 1);
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "canceled", NULL, T), 0);
    assert_int_equal(gs_adm_cmd(&a, "shutdown cancel", out, sizeof out), 0);
    assert_int_equal(gs_adm_cmd(&a, "shutdown -1", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: shutdown");
    assert_int_equal(gs_adm_cmd(&a, "status", out, sizeof out), 1);
    assert_null(strstr(out, "shutdown in_s="));
    gs_adm_close(&a);
    gs_close(&p);
}

static void test_help_lists_every_command(void **state)
{
    (void)state;
    gs_adm_t a;
    gs_adm_login(&a, srv.admin_port);
    static char out[4096];
    assert_int_equal(gs_adm_cmd(&a, "help", out, sizeof out), 1);
    const char *names[] = {"status", "who",    "kick", "announce", "drain", "undrain",
                           "save",   "reload", "log",  "shutdown", "help"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char l[32];
        snprintf(l, sizeof l, "\n%s ", names[i]);
        if (strncmp(out, l + 1, strlen(l + 1)) != 0)
            ASSERT_HAS(out, l);
    }
    assert_int_equal(gs_adm_cmd(&a, "frobnicate", out, sizeof out), 0);
    ASSERT_HAS(out, "unknown command 'frobnicate'");
    gs_adm_close(&a);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_status_shows_players_zones_queues_links_uptime),
        TEST(test_who_lists_every_player_with_zone),
        TEST(test_kick_tells_the_reason_closes_and_saves),
        TEST(test_announce_reaches_every_player),
        TEST(test_drain_refuses_logins_keeps_players_and_undrain_reopens),
        TEST(test_save_answers_after_the_database_has_every_position),
        TEST(test_save_says_so_when_the_database_is_unavailable),
        TEST(test_reload_zones_applies_names_spawns_portals),
        TEST(test_reload_zones_bad_file_keeps_the_old_zones_and_says_why),
        TEST(test_log_sets_the_level_at_runtime),
        TEST(test_shutdown_counts_down_saves_and_exits_0),
        TEST(test_shutdown_0_stops_now_and_exits_0),
        TEST(test_shutdown_cancel_keeps_running),
        TEST(test_help_lists_every_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
