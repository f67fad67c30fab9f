/* Tools integration, accounts (issue 13): the testclient against a real
 * masterserver (login server) and gameserver in ticket mode.  The client
 * refuses a login server whose key changed (and never sends the password),
 * registers / logs in / plays with a ticket, and --bots --login provisions
 * its accounts.  Minimum Argon2id cost; everything on 127.0.0.1. */
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
#define SHARD "t1" /* the literals below spell it out */

static tl_server_t master, game; /* the test's files in the master's dir */
static tl_proc_t client;
static char db[128], cfg[128], secret[128], known[128], known2[128], pwfile[128];
static char login_port[16], master_port[16], sign_pk[65];

/* every file the test writes must be written: a failure fails the test */
static void write_file(const char *path, const char *text)
{
    assert_int_equal(tl_write_file(path, text, -1), 0);
}

static int teardown(void **state)
{
    (void)state;
    tl_proc_stop(&client, SIGKILL, DEADLINE_MS); /* only if a test left it */
    /* a clean exit (0) from both servers; the dirs go also when one failed */
    int rc = tl_server_down(&game, DEADLINE_MS) | tl_server_down(&master, DEADLINE_MS);
    return rc == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    memset(&client, 0, sizeof client);
    if (tl_server_init(&master, "tl_login") != 0 || tl_server_init(&game, "tl_login_gs") != 0) {
        teardown(state);
        return -1;
    }
    const char *dir = master.dir;
    snprintf(db, sizeof db, "%s/m.db", dir);
    snprintf(cfg, sizeof cfg, "%s/m.json", dir);
    snprintf(secret, sizeof secret, "%s/s2s.secret", dir);
    snprintf(known, sizeof known, "%s/known_logins", dir);
    snprintf(known2, sizeof known2, "%s/known_logins_2", dir);
    snprintf(pwfile, sizeof pwfile, "%s/pw", dir);
    write_file(cfg, "{\"accounts\": {\"hash_ops\": 1, \"hash_mem_kib\": 8}}\n");
    write_file(secret, "a-test-secret-of-enough-length\n");
    write_file(pwfile, "correct horse battery\n");
    snprintf(login_port, sizeof login_port, "0");
    return 0;
}

/* Starts the login server with this key file, on login_port (0 = pick one,
 * then remembered, so a restart keeps the address the client pinned). */
static void master_start(const char *key_name)
{
    char key[160];
    snprintf(key, sizeof key, "%s/%s", master.dir, key_name);
    const tl_master_args_t a = {
        .login_port = login_port, .db = db, .key_file = key, .config = cfg, .secret_file = secret};
    assert_int_equal(
        tl_server_start_master(&master, MASTERSERVER_BIN, &a, NULL, sign_pk, DEADLINE_MS), 0);
    snprintf(master_port, sizeof master_port, "%d", master.port);
    snprintf(login_port, sizeof login_port, "%d", master.login_port);
}

/* A gameserver in ticket mode registered with the master as SHARD. */
static void game_start(void)
{
    char mode[32] = "auth.mode=ticket", pk[96], sf[160];
    snprintf(pk, sizeof pk, "auth.login_public_key=%s", sign_pk);
    snprintf(sf, sizeof sf, "links.secret_file=%s", secret);
    const char *args[] = {"--metrics-port", "-1",    "--shard", SHARD,   "--master-port",
                          master_port,      "--set", mode,      "--set", pk,
                          "--set",          sf,      NULL};
    assert_int_equal(tl_server_start_game(&game, GAMESERVER_BIN, args, DEADLINE_MS), 0);
    assert_int_equal(tl_server_wait_log(&master, "shard 't1' registered", DEADLINE_MS), 0);
}

static char lhost[32];

/* testclient --login with a pin file and the password file; input on stdin. */
static int client_run_pins(const char *pins, const char *input)
{
    snprintf(lhost, sizeof lhost, "127.0.0.1:%s", login_port);
    const char *argv[] = {TESTCLIENT_BIN, "--login",         lhost,  "--known-hosts",
                          pins,           "--password-file", pwfile, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, input), 0);
    tl_proc_close_stdin(&client); /* EOF: wait for replies, log out, exit */
    int rc = tl_proc_wait_exit(&client, 3 * DEADLINE_MS);
    printf("%s", client.out);
    return rc;
}

static int client_run(const char *input)
{
    return client_run_pins(known, input);
}

static void expect(const char *out, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strstr(out, want[i]))
            fail_msg("missing '%s'", want[i]);
}

static void test_changed_login_key_is_refused_without_sending_the_password(void **state)
{
    (void)state;
    master_start("a.key");
    assert_int_equal(client_run("register alice\n"), 0);
    char pinned[160];
    snprintf(pinned, sizeof pinned, "new login server key for 127.0.0.1:%s: ", login_port);
    const char *first[] = {pinned, "registered and logged in to account alice"};
    expect(client.out, first, 2);

    /* same address, another identity: refused before any password */
    assert_int_equal(tl_server_stop(&master, SIGTERM, DEADLINE_MS), 0);
    long seen = tl_server_log_size(&master); /* the log goes on across the restart */
    master_start("b.key");
    assert_int_not_equal(client_run("login alice\n"), 0);
    char hint[256];
    snprintf(hint, sizeof hint, "sed -i '/^127.0.0.1:%s /d' %s", login_port, known);
    const char *refused[] = {"presented a DIFFERENT key", "Nothing was sent (no password)", hint};
    expect(client.out, refused, 3);
    assert_null(strstr(client.out, "logged in to account"));
    /* the server saw a handshake at most: no login attempt for alice.  A
     * fresh client (its own pins) registers zed after it; the master logs
     * accounts as their answers go out, so by zed's line it would have
     * logged alice's attempt. */
    assert_int_equal(client_run_pins(known2, "register zed\n"), 0);
    long zed = tl_server_wait_log_from(&master, "account 'zed'", seen, DEADLINE_MS);
    assert_true(zed > 0);
    static char log[1 << 20];
    assert_true(tl_server_read_log(&master, log, sizeof log) >= (size_t)zed);
    log[zed] = 0;
    assert_null(strstr(log + seen, "alice"));

    /* following the hint re-pins the new key; the account still works */
    char cmd[320];
    snprintf(cmd, sizeof cmd, "%s", hint);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(client_run("login alice\n"), 0);
    const char *again[] = {pinned, "logged in to account alice"};
    expect(client.out, again, 2);
}

static void test_register_login_and_play_with_a_ticket(void **state)
{
    (void)state;
    master_start("a.key");
    game_start();
    assert_int_equal(client_run("register carol\nplay carol\nsay hello with a ticket\nwho\n"), 0);
    const char *first[] = {"registered and logged in to account carol",
                           "characters: none yet",
                           "shards (1):",
                           "  t1 at 127.0.0.1:",
                           "* ticket for carol on t1",
                           "* logged in as carol",
                           "* entered zone",
                           "[zone] carol: hello with a ticket",
                           "online (1): carol"};
    expect(client.out, first, sizeof first / sizeof first[0]);
    /* next session: the login lists the character; play alone picks it */
    assert_int_equal(client_run("login carol\nplay\n"), 0);
    const char *second[] = {"logged in to account carol", "characters (1):", "  carol on t1",
                            "* ticket for carol on t1", "* logged in as carol"};
    expect(client.out, second, sizeof second / sizeof second[0]);
    /* a second character: play alone now asks which one */
    assert_int_equal(client_run("login carol\nplay carol2\n"), 0);
    assert_non_null(strstr(client.out, "* logged in as carol2"));
    assert_int_not_equal(client_run("login carol\nplay\n"), 0);
    const char *choose[] = {"characters (2):",
                            "! this account has 2 characters; choose one: play NAME"};
    expect(client.out, choose, 2);
    assert_null(strstr(client.out, "* ticket for"));
    /* a wrong password: the login server's answer, and a failed exit */
    write_file(pwfile, "not the password\n");
    assert_int_not_equal(client_run("login carol\n"), 0);
    assert_non_null(strstr(client.out, "ERROR: login carol: wrong account name or password"));
}

static void test_bots_provision_accounts_and_play_with_tickets(void **state)
{
    (void)state;
    master_start("a.key");
    game_start();
    snprintf(lhost, sizeof lhost, "127.0.0.1:%s", login_port);
    const char *argv[] = {TESTCLIENT_BIN, "--bots",  "8",   "--duration",    "3",   "--ramp",
                          "50",           "--login", lhost, "--known-hosts", known, NULL};
    const char *want[2][2] = {
        {"registered 8, logged in 0, tickets 8, failed 0", "accounts: registered 8"},
        {"registered 0, logged in 8, tickets 8, failed 0", "logged-in 8 tickets 8"}};
    for (int run = 0; run < 2; run++) { /* second run: the names exist */
        assert_int_equal(tl_proc_start(&client, argv, 0), 0);
        int rc = tl_proc_wait_exit(&client, 3 * DEADLINE_MS);
        printf("%s", client.out);
        assert_int_equal(rc, 0);
        const char *all[] = {"logins          8/8", want[run][0], want[run][1], "result: OK"};
        expect(client.out, all, 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_changed_login_key_is_refused_without_sending_the_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_login_and_play_with_a_ticket, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bots_provision_accounts_and_play_with_tickets, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
