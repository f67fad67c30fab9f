/* Issue 16: one gameserver registered with two login servers (masterserver)
 * at once: master.host/master.port and master.extra.  Both list the shard
 * up; killing one (SIGKILL) leaves the shard registered with the other and
 * playable through it (register, ticket, play); restarting the killed one on
 * its address re-registers the shard there by itself, and it is playable
 * through that one again.  `gs_master_link_up{master=...}` follows each
 * link, the console's status says master=partial while one is down, and
 * drain/undrain re-register with every master.  Both masters share one identity file, so the shard
 * (ticket mode) accepts the tickets of either.  Real processes on 127.0.0.1; minimum Argon2id cost.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_harness.h"
#include "tl_server.h"

#define DEADLINE_MS 10000
#define SHARD "mm1"

static tl_server_t master[2], game; /* shared files in master[0]'s dir */
static tl_proc_t client;
static char cfg[128], secret[128], key[128], pwfile[128], known[128], db[2][160];
static char admin_secret[128];
static char reg_port[2][16], login_port[2][16], sign_pk[65];

/* every file the test writes must be written: a failure fails the test */
static void write_file(const char *path, const char *text)
{
    assert_int_equal(tl_write_file(path, text, -1), 0);
}

static int teardown(void **state)
{
    (void)state;
    tl_proc_stop(&client, SIGKILL, DEADLINE_MS); /* only if a test left it */
    int rc = tl_server_down(&game, DEADLINE_MS);
    rc |= tl_server_down(&master[1], DEADLINE_MS);
    rc |= tl_server_down(&master[0], DEADLINE_MS);
    return rc == 0 ? 0 : -1;
}

static int setup(void **state)
{
    memset(&client, 0, sizeof client);
    sign_pk[0] = 0; /* a new identity per test */
    if (tl_server_init(&master[0], "tl_mm_a") != 0 || tl_server_init(&master[1], "tl_mm_b") != 0 ||
        tl_server_init(&game, "tl_mm_gs") != 0) {
        teardown(state);
        return -1;
    }
    const char *dir = master[0].dir;
    snprintf(cfg, sizeof cfg, "%s/m.json", dir);
    snprintf(secret, sizeof secret, "%s/s2s.secret", dir);
    snprintf(key, sizeof key, "%s/login.key", dir);
    snprintf(pwfile, sizeof pwfile, "%s/pw", dir);
    snprintf(known, sizeof known, "%s/known_logins", dir);
    for (int i = 0; i < 2; i++) {
        snprintf(db[i], sizeof db[i], "%s/accounts.db", master[i].dir);
        snprintf(reg_port[i], sizeof reg_port[i], "0");
        snprintf(login_port[i], sizeof login_port[i], "0");
    }
    write_file(cfg, "{\"accounts\": {\"hash_ops\": 1, \"hash_mem_kib\": 8}}\n");
    write_file(secret, "a-multimaster-test-secret-0123456789\n");
    write_file(pwfile, "correct horse battery\n");
    if (tl_write_secret(dir, "admin.secret", "a-multimaster-console-secret-0123", admin_secret,
                        sizeof admin_secret) != 0) {
        teardown(state);
        return -1;
    }
    return 0;
}

/* Login server i (its own account database, the shared identity) on its
 * remembered ports (0 the first time: picked, then remembered). */
static void master_start(int i)
{
    const tl_master_args_t a = {.port = reg_port[i],
                                .login_port = login_port[i],
                                .db = db[i],
                                .key_file = key,
                                .config = cfg,
                                .secret_file = secret};
    const char *args[] = {"--heartbeat-ms", "200", NULL};
    char pk[65];
    assert_int_equal(
        tl_server_start_master(&master[i], MASTERSERVER_BIN, &a, args, pk, DEADLINE_MS), 0);
    if (sign_pk[0])
        assert_string_equal(pk, sign_pk); /* one identity for both */
    snprintf(sign_pk, sizeof sign_pk, "%s", pk);
    snprintf(reg_port[i], sizeof reg_port[i], "%d", master[i].port);
    snprintf(login_port[i], sizeof login_port[i], "%d", master[i].login_port);
}

/* The shard in ticket mode: master.port = master 0, master.extra = master 1. */
static void game_start(void)
{
    char pk[96], sf[160], extra[64], adm[160];
    snprintf(adm, sizeof adm, "admin.secret_file=%s", admin_secret);
    snprintf(pk, sizeof pk, "auth.login_public_key=%s", sign_pk);
    snprintf(sf, sizeof sf, "links.secret_file=%s", secret);
    snprintf(extra, sizeof extra, "master.extra=127.0.0.1:%s", reg_port[1]);
    const char *args[] = {"--shard",
                          SHARD,
                          "--master-port",
                          reg_port[0],
                          "--set",
                          "auth.mode=ticket",
                          "--set",
                          pk,
                          "--set",
                          sf,
                          "--set",
                          extra,
                          "--set",
                          "master.heartbeat_ms=200",
                          "--set",
                          "links.connect_timeout_ms=500",
                          "--set",
                          adm,
                          "--set",
                          "admin.port=0",
                          NULL};
    assert_int_equal(tl_server_start_game(&game, GAMESERVER_BIN, args, DEADLINE_MS), 0);
}

/* `masterserver --list` of master i shows SHARD up with population/capacity
 * `pop` (NULL: any). */
static int listed_up_as(int i, const char *want_pop)
{
    char out[4096], addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", reg_port[i]);
    const char *argv[] = {MASTERSERVER_BIN, "--list", addr, "--secret-file", secret, NULL};
    if (tl_run(argv, out, sizeof out, DEADLINE_MS) != 0)
        return 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        char name[40], where[96], pop[32], status[16];
        if (sscanf(l, "%39s %95s %31s %15s", name, where, pop, status) == 4 &&
            !strcmp(name, SHARD) && !strcmp(status, "up") && (!want_pop || !strcmp(pop, want_pop)))
            return 1;
    }
    return 0;
}

static int listed_up(int i)
{
    return listed_up_as(i, NULL);
}

static int wait_listed_as(int i, const char *pop)
{
    for (int64_t end = tl_now_ms() + DEADLINE_MS; !listed_up_as(i, pop);)
        if (tl_now_ms() > end || tl_server_wait_log(&game, "never printed", 50) == 0)
            return 0;
    return 1;
}

/* One console command through `testclient --admin`; its output into out.
 * The exit status. */
static int console(const char *cmd, char *out, size_t cap)
{
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", game.admin_port);
    const char *argv[] = {TESTCLIENT_BIN, "--admin", addr, "--admin-secret-file",
                          admin_secret,   cmd,       NULL};
    return tl_run(argv, out, cap, DEADLINE_MS);
}

static int wait_listed_up(int i)
{
    for (int64_t end = tl_now_ms() + DEADLINE_MS; !listed_up(i);)
        if (tl_now_ms() > end || tl_server_wait_log(&game, "never printed", 50) == 0)
            return 0;
    return 1;
}

/* gs_master_link_up of master i's link reaches want within the deadline. */
static int wait_link_metric(int i, int want)
{
    char sample[96];
    snprintf(sample, sizeof sample, "gs_master_link_up{master=\"127.0.0.1:%s\"}", reg_port[i]);
    for (int64_t end = tl_now_ms() + DEADLINE_MS;;) {
        if (gs_metric((uint16_t)game.metrics_port, sample) == want)
            return 1;
        if (tl_now_ms() > end || tl_server_wait_log(&game, "never printed", 50) == 0)
            return 0;
    }
}

/* Through login server i: register `name` (its own account database) and
 * play a character of the same name on SHARD with its ticket. */
static void play_through(int i, const char *name)
{
    char lhost[32], input[128];
    snprintf(lhost, sizeof lhost, "127.0.0.1:%s", login_port[i]);
    snprintf(input, sizeof input, "register %s\nplay %s " SHARD "\nwho\n", name, name);
    const char *argv[] = {TESTCLIENT_BIN, "--login",         lhost,  "--known-hosts",
                          known,          "--password-file", pwfile, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, input), 0);
    tl_proc_close_stdin(&client);
    int rc = tl_proc_wait_exit(&client, 3 * DEADLINE_MS);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    char ticket[96], in[96];
    snprintf(ticket, sizeof ticket, "* ticket for %s on " SHARD, name);
    snprintf(in, sizeof in, "* logged in as %s", name);
    assert_non_null(strstr(client.out, ticket));
    assert_non_null(strstr(client.out, in));
    assert_non_null(strstr(client.out, "* entered zone"));
}

static void test_shard_registers_with_every_master_and_survives_one_down(void **state)
{
    (void)state;
    master_start(0);
    master_start(1);
    game_start();
    /* both registries list it, each link has its gauge */
    assert_true(wait_listed_up(0));
    assert_true(wait_listed_up(1));
    assert_true(wait_link_metric(0, 1));
    assert_true(wait_link_metric(1, 1));
    static char out[8192];
    assert_int_equal(console("status", out, sizeof out), 0);
    assert_non_null(strstr(out, "master=up"));
    play_through(0, "anna");
    play_through(1, "bert");

    /* master 1 crashes: the shard stays registered with master 0 and plays */
    assert_int_equal(tl_server_stop(&master[1], SIGKILL, DEADLINE_MS), 128 + SIGKILL);
    assert_true(wait_link_metric(1, 0));
    assert_int_equal(tl_server_wait_log(&game, "master link down (127.0.0.1:", DEADLINE_MS), 0);
    assert_true(listed_up(0));
    assert_true(wait_link_metric(0, 1));
    assert_int_equal(console("status", out, sizeof out), 0);
    assert_non_null(strstr(out, "master=partial"));
    play_through(0, "cleo");

    /* master 1 back on its address: the shard re-registers by itself */
    long from = tl_server_log_size(&master[1]);
    master_start(1);
    assert_true(
        tl_server_wait_log_from(&master[1], "shard '" SHARD "' registered", from, DEADLINE_MS) > 0);
    assert_true(wait_listed_up(1));
    assert_true(wait_link_metric(1, 1));
    assert_true(listed_up(0));
    play_through(1, "dora");
}

/* Console drain and undrain reach every master (capacity 0, then back);
 * an orderly stop closes every master link: both list the shard down at
 * once (not after missed heartbeats). */
static void test_drain_and_orderly_stop_are_seen_by_every_master(void **state)
{
    (void)state;
    master_start(0);
    master_start(1);
    game_start();
    assert_true(wait_listed_as(0, "0/10000"));
    assert_true(wait_listed_as(1, "0/10000"));
    static char out[8192];
    assert_int_equal(console("drain", out, sizeof out), 0);
    assert_true(wait_listed_as(0, "0/0"));
    assert_true(wait_listed_as(1, "0/0"));
    assert_int_equal(console("undrain", out, sizeof out), 0);
    assert_true(wait_listed_as(0, "0/10000"));
    assert_true(wait_listed_as(1, "0/10000"));
    assert_int_equal(tl_server_stop(&game, SIGTERM, DEADLINE_MS), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            tl_server_wait_log(&master[i], "shard '" SHARD "' link closed", DEADLINE_MS), 0);
    assert_false(listed_up(0));
    assert_false(listed_up(1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_shard_registers_with_every_master_and_survives_one_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_and_orderly_stop_are_seen_by_every_master, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
