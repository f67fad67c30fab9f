/* Tools integration: the testclient against a real gameserver -- a short
 * bots run ends with zero errors, a pipe-driven session logs in, moves,
 * says and quits, and a protocol hash mismatch is reported clearly. */
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

static tl_server_t game;
static tl_proc_t client;
static char port[16];

static int setup(void **state)
{
    (void)state;
    if (tl_server_up(&game, "tl_client", GAMESERVER_BIN, NULL, DEADLINE_MS) != 0)
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

static void test_bots_run_ends_with_zero_errors(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port,     "--bots", "50",
                          "--duration",   "5",      "--ramp", "100",    NULL};
    assert_int_equal(tl_proc_start(&client, argv, 0), 0);
    int rc = tl_proc_wait_exit(&client, 30000);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(client.out, "logins          50/50"));
    assert_non_null(strstr(client.out, "errors          0 "));
    assert_non_null(strstr(client.out, "result: OK"));
    assert_non_null(strstr(client.out, "rtt p50")); /* live status line (stderr) */
}

/* --spread: every bot confirmed in its zone (zone_changed into it), and
 * twice (the second run's characters start in their zone and hop). */
static void test_bots_spread_over_the_zones(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port",     port, "--bots", "30",
                          "--spread",     "--duration", "3",  "--ramp", "100",
                          "--zones",      "1,2,3",      NULL};
    for (int run = 0; run < 2; run++) {
        assert_int_equal(tl_proc_start(&client, argv, 0), 0);
        int rc = tl_proc_wait_exit(&client, 30000);
        printf("%s", client.out);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(client.out, "spread          30/30 placed over 3 zones"));
        assert_non_null(strstr(client.out, "errors          0 "));
        assert_non_null(strstr(client.out, "placed 30")); /* status line */
    }
}

/* The number after `key` in s (-1 if absent). */
static long count_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* issue 16: --whisper-hz.  Bots whispering each other get echoes and
 * answers (round trips, in the summary and the status line); whispers to
 * names nobody has are counted as not found and fail the run. */
static void test_bots_whisper_round_trips(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN,
                          "--port",
                          port,
                          "--bots",
                          "6",
                          "--duration",
                          "4",
                          "--chat-hz",
                          "0",
                          "--bot-prefix",
                          "wb",
                          "--whisper-hz",
                          "1",
                          "--whisper-targets",
                          "wb:6",
                          NULL};
    assert_int_equal(tl_proc_start(&client, argv, 0), 0);
    int rc = tl_proc_wait_exit(&client, 30000);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(client.out, "logins          6/6"));
    long sent = count_after(client.out, "whispers        sent ");
    long echoed = count_after(client.out, "echoed (delivered) ");
    long answered = count_after(client.out, ", answered ");
    long trips = count_after(client.out, "whisper rtt     ");
    assert_true(sent >= 6);
    assert_true(echoed > 0 && echoed <= sent);
    assert_true(answered > 0 && answered <= echoed);
    assert_int_equal(trips, answered);                   /* every answer is one timed round trip */
    assert_non_null(strstr(client.out, "whisper p50 ")); /* status line (stderr) */
    assert_non_null(strstr(client.out, "result: OK"));

    const char *lost[] = {TESTCLIENT_BIN,
                          "--port",
                          port,
                          "--bots",
                          "3",
                          "--duration",
                          "2",
                          "--chat-hz",
                          "0",
                          "--bot-prefix",
                          "wc",
                          "--whisper-hz",
                          "2",
                          "--whisper-targets",
                          "nobody:3",
                          NULL};
    assert_int_equal(tl_proc_start(&client, lost, 0), 0);
    rc = tl_proc_wait_exit(&client, 30000);
    printf("%s", client.out);
    assert_int_equal(rc, 1);
    sent = count_after(client.out, "whispers        sent ");
    assert_true(sent > 0);
    assert_int_equal(count_after(client.out, "echoed (delivered) "), 0);
    assert_int_equal(count_after(client.out, ", answered "), 0);
    assert_true(count_after(client.out, "not found ") > 0);
    assert_non_null(strstr(client.out, "errors          0 ")); /* not found is no error */
    assert_non_null(strstr(client.out, "no whisper was answered"));
}

static void test_piped_client_logs_in_moves_says_and_quits(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login piper\nmove 501 500\n"
                                            "say hello from a pipe\nping\nwho\n"),
                     0);
    tl_proc_close_stdin(&client); /* EOF: wait for replies, log out, exit 0 */
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    const char *want[] = {"* logged in as piper",
                          "* entered zone Meadow (1)",
                          "* moving to (501.0, 500.0)",
                          "[zone] piper: hello from a pipe",
                          "pong: ",
                          "online (1): piper (zone 1)",
                          "* connection closed"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(client.out, want[i]))
            fail_msg("missing '%s'", want[i]);
}

static void test_hash_mismatch_is_reported_clearly(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, "--proto-hash", "1234", NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login mallory\n"), 0);
    long at = tl_proc_wait_for(&client, "protocol hash mismatch", 0, DEADLINE_MS);
    printf("%s", client.out);
    assert_true(at > 0);
    assert_true(tl_proc_wait_for(&client, "connection closed by the server", 0, DEADLINE_MS) > 0);
    tl_proc_close_stdin(&client);
    assert_int_not_equal(tl_proc_wait_exit(&client, DEADLINE_MS), 0);
}

/* --login aimed at a game server (not a login server): the client says
 * what went wrong, sends no password, and exits non-zero. */
static void test_login_flag_aimed_at_a_game_server_fails_clearly(void **state)
{
    (void)state;
    char addr[32], pins[96], pw[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    snprintf(pins, sizeof pins, "%s/known_logins", game.dir);
    snprintf(pw, sizeof pw, "%s/pw", game.dir);
    FILE *f = fopen(pw, "w");
    assert_non_null(f);
    fputs("a password that must not leave\n", f);
    fclose(f);
    const char *argv[] = {TESTCLIENT_BIN, "--login",         addr, "--known-hosts",
                          pins,           "--password-file", pw,   NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login alice\n"), 0);
    tl_proc_close_stdin(&client);
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(client.out, "ERROR: login connection: "));
    assert_non_null(strstr(client.out, "is it a login server?"));
    assert_null(strstr(client.out, "logged in"));
    assert_null(strstr(client.out, "new login server key")); /* nothing pinned */
}

/* An unreachable login server, and the account commands' guard rails. */
static void test_unreachable_login_server_is_reported(void **state)
{
    (void)state;
    char pins[96];
    snprintf(pins, sizeof pins, "%s/known_logins", game.dir);
    /* port 1 (tcpmux): nothing listens there on a test machine */
    const char *argv[] = {TESTCLIENT_BIN, "--login", "127.0.0.1:1", "--known-hosts", pins, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "play bob\nrealms\n"), 0);
    tl_proc_close_stdin(&client);
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(client.out, "! log in first: login NAME (or register NAME)"));
    assert_non_null(strstr(client.out, "ERROR: cannot connect to the login server 127.0.0.1:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bots_run_ends_with_zero_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bots_spread_over_the_zones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bots_whisper_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_piped_client_logs_in_moves_says_and_quits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hash_mismatch_is_reported_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_flag_aimed_at_a_game_server_fails_clearly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_login_server_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
