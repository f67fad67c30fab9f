/* Tools integration, issue 14 "the new user's first hour": what a new user
 * meets in the first hour with the testclient against a real gameserver --
 * an idle player is told why it is closed and the client's keep-alive
 * prevents it, a second `login` says "already logged in", `move X Y` walks
 * there at the allowed speed, and bots against no server say why. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_server.h"

#define DEADLINE_MS 10000
#define IDLE_MS 1000 /* the server's listen.idle_timeout_ms here */

static tl_server_t game;
static tl_proc_t client;
static char port[16];

static int setup(void **state)
{
    (void)state;
    char idle[64];
    snprintf(idle, sizeof idle, "listen.idle_timeout_ms=%d", IDLE_MS);
    const char *args[] = {"--set", idle, NULL};
    if (tl_server_up(&game, "tl_first", GAMESERVER_BIN, args, DEADLINE_MS) != 0)
        return -1;
    snprintf(port, sizeof port, "%d", game.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tl_proc_stop(&client, SIGKILL, DEADLINE_MS); /* only if a test left it */
    return tl_server_down(&game, DEADLINE_MS);
}

/* Without keep-alive the idle close carries its reason, which the client
 * prints (was: only "peer closed"). */
static void test_idle_close_says_why(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, "--keepalive", "0", NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login idler\n"), 0);
    long at = tl_proc_wait_for(&client, "closed for inactivity", 0, DEADLINE_MS);
    printf("%s", client.out);
    assert_true(at > 0);
    assert_non_null(strstr(client.out, "listen.idle_timeout_ms"));
    /* the close line carries the server's reason, not "peer closed" */
    assert_true(tl_proc_wait_for(&client, "connection closed by the server: no packet for", 0,
                                 DEADLINE_MS) > 0);
    tl_proc_close_stdin(&client);
    assert_int_not_equal(tl_proc_wait_exit(&client, DEADLINE_MS), 0);
}

/* Taken over by a second login of the same character: the first client
 * prints why it was closed. */
static void test_takeover_close_says_why(void **state)
{
    (void)state;
    /* keep-alive: this server's idle timeout is short */
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, "--keepalive", "200", NULL};
    static tl_proc_t second;
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login twin\n"), 0);
    assert_true(tl_proc_wait_for(&client, "* entered zone", 0, DEADLINE_MS) > 0);
    assert_int_equal(tl_proc_start(&second, argv, 1), 0);
    assert_int_equal(tl_proc_write(&second, "login twin\n"), 0);
    long at = tl_proc_wait_for(&client, "connection closed by the server: logged in from another",
                               0, DEADLINE_MS);
    printf("%s", client.out);
    tl_proc_close_stdin(&second);
    int rc2 = tl_proc_wait_exit(&second, DEADLINE_MS);
    tl_proc_stop(&second, SIGKILL, DEADLINE_MS);
    assert_true(at > 0);
    assert_int_equal(rc2, 0);
    tl_proc_close_stdin(&client);
    assert_int_not_equal(tl_proc_wait_exit(&client, DEADLINE_MS), 0);
}

/* With keep-alive the idle player stays connected three idle timeouts
 * long, and the keep-alive's pongs are not printed. */
static void test_keepalive_keeps_an_idle_player(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, "--keepalive", "300", NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login keeper\n"), 0);
    long at = tl_proc_wait_for(&client, "* entered zone", 0, DEADLINE_MS);
    assert_true(at > 0);
    /* the condition waited on must NOT happen within 3 idle timeouts */
    long closed = tl_proc_wait_for(&client, "connection closed", 0, 3 * IDLE_MS);
    printf("%s", client.out);
    assert_true(closed < 0);
    assert_int_equal(tl_proc_write(&client, "who\n"), 0);
    assert_true(tl_proc_wait_for(&client, "online (1): keeper", 0, DEADLINE_MS) > 0);
    tl_proc_close_stdin(&client);
    assert_int_equal(tl_proc_wait_exit(&client, DEADLINE_MS), 0);
    printf("%s", client.out);
    assert_null(strstr(client.out, "pong:"));
}

/* A second login on one connection: a local message, not a fatal error. */
static void test_second_login_says_already_logged_in(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login alice\nlogin bob\nwho\n"), 0);
    tl_proc_close_stdin(&client);
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(client.out, "! already logged in as alice"));
    assert_non_null(strstr(client.out, "online (1): alice"));
    assert_null(strstr(client.out, "error"));
    assert_null(strstr(client.out, "closed by the server"));
    /* the label says what the number is: this session's entity */
    assert_non_null(strstr(client.out, "* logged in as alice (entity "));
}

/* move X Y far away: walked at --walk-speed, never corrected; too fast a
 * walk is corrected and stopped. */
static void test_move_far_walks_there(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    /* spawn (500, 500): 20 units, 2.5 s at the default 8 units/s */
    assert_int_equal(tl_proc_write(&client, "login walker\nmove 520 500\n"), 0);
    tl_proc_close_stdin(&client); /* end of input finishes the walk first */
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(client.out, "* walking to (520.0, 500.0): 20.0 units"));
    assert_non_null(strstr(client.out, "* arrived at (520.0, 500.0)"));
    assert_null(strstr(client.out, "corrected"));

    const char *fast[] = {TESTCLIENT_BIN, "--port", port, "--walk-speed", "60", NULL};
    assert_int_equal(tl_proc_start(&client, fast, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login walker\nmove 400 520\n"), 0);
    tl_proc_close_stdin(&client);
    rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(client.out, "* position corrected by the server"));
    assert_non_null(strstr(client.out, "* walk stopped"));
    assert_null(strstr(client.out, "* arrived"));
}

/* Bots against a port where nothing listens: the reason and the address,
 * not just "errors 0" and FAILED. */
static void test_bots_against_no_server_say_why(void **state)
{
    (void)state;
    /* port 1 (tcpmux): nothing listens there on a test machine */
    const char *argv[] = {TESTCLIENT_BIN, "--port", "1",      "--bots", "3",
                          "--duration",   "1",      "--ramp", "100",    NULL};
    assert_int_equal(tl_proc_start(&client, argv, 0), 0);
    int rc = tl_proc_wait_exit(&client, 30000);
    printf("%s", client.out);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(client.out, "127.0.0.1:1"));
    assert_non_null(strstr(client.out, "connection refused"));
}

/* masterserver --list without an address takes shard.sh's (its usage says
 * so), and a master that is not there is named with the reason at once. */
static void test_master_list_says_why(void **state)
{
    (void)state;
    char secret[128];
    assert_int_equal(tl_write_secret(game.dir, "s2s.secret", "0123456789abcdef0123456789abcdef",
                                     secret, sizeof secret),
                     0);
    const char *argv[] = {MASTERSERVER_BIN, "--list", "127.0.0.1:1", "--secret-file", secret, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 0), 0);
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(client.out, "cannot connect to 127.0.0.1:1: connection refused"));
    const char *help[] = {MASTERSERVER_BIN, "--help", NULL};
    assert_int_equal(tl_proc_start(&client, help, 0), 0);
    assert_int_equal(tl_proc_wait_exit(&client, DEADLINE_MS), 0);
    assert_non_null(strstr(client.out, "--list [HOST:PORT]"));
    assert_non_null(strstr(client.out, "default 127.0.0.1:7000"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idle_close_says_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_keeps_an_idle_player, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_close_says_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_login_says_already_logged_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_far_walks_there, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bots_against_no_server_say_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_list_says_why, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
