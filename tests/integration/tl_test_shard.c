/* Tools integration: two game servers, one chat server, one master server,
 * all real processes on 127.0.0.1, their links authenticated with one shared
 * secret.  Global chat crosses shards, the master lists both with
 * populations, and a chat server outage degrades global chat only,
 * recovering by itself when the chat server comes back. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gs_harness.h"
#include "tl_server.h"

#define DEADLINE_MS 10000
#define HB_MS 200              /* master --heartbeat-ms and the games' interval */
#define HB_DOWN_MS (HB_MS * 3) /* masterserver's default --miss is 3 */

typedef struct shard_s {
    tl_server_t master, chat, game[2];          /* each with its temp dir and log */
    char secret[128], secret_key[160], mdb[96]; /* in the master's dir */
} shard_t;

static shard_t sh;
static gs_client_t alice, bob, carol;

/* The chat server on port (0: a free one).  0 or -1. */
static int start_chat(int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *argv[] = {CHATSERVER_BIN, "--port", p, "--secret-file", sh.secret, NULL};
    return tl_server_start(&sh.chat, argv, NULL, DEADLINE_MS);
}

static int start_game(int i, const char *name)
{
    char cp[16], mp[16];
    snprintf(cp, sizeof cp, "%d", sh.chat.port);
    snprintf(mp, sizeof mp, "%d", sh.master.port);
    const char *args[] = {"--metrics-port",
                          "-1",
                          "--shard",
                          name,
                          "--chat-port",
                          cp,
                          "--master-port",
                          mp,
                          "--set",
                          "master.heartbeat_ms=200",
                          "--set",
                          sh.secret_key,
                          NULL};
    if (tl_server_init(&sh.game[i], "tl_shard") != 0)
        return -1;
    return tl_server_start_game(&sh.game[i], GAMESERVER_BIN, args, DEADLINE_MS);
}

static int teardown(void **state);

/* Master, chat, games "alpha" and "beta", both links of both games up.
 * cmocka skips teardown when setup fails: reap what started here. */
static int setup_all(void)
{
    memset(&sh, 0, sizeof sh);
    if (tl_server_init(&sh.master, "tl_master") != 0 || tl_server_init(&sh.chat, "tl_chat") != 0 ||
        tl_write_secret(sh.master.dir, "link.secret", "shard-test-secret-0123456789", sh.secret,
                        sizeof sh.secret) != 0)
        return -1;
    snprintf(sh.secret_key, sizeof sh.secret_key, "links.secret_file=%s", sh.secret);
    snprintf(sh.mdb, sizeof sh.mdb, "%s/m.db", sh.master.dir);
    const char *margv[] = {MASTERSERVER_BIN, "--port", "0",    "--heartbeat-ms", "200",
                           "--login-port",   "0",      "--db", sh.mdb,           "--secret-file",
                           sh.secret,        NULL};
    if (tl_server_start(&sh.master, margv, NULL, DEADLINE_MS) != 0 || start_chat(0) != 0 ||
        start_game(0, "alpha") != 0 || start_game(1, "beta") != 0)
        return -1;
    /* the game's own "link up" (hello answered), not the peer's "joined" */
    for (int i = 0; i < 2; i++)
        if (tl_server_wait_log(&sh.game[i], "chat link up", DEADLINE_MS) != 0 ||
            tl_server_wait_log(&sh.game[i], "master link up", DEADLINE_MS) != 0)
            return -1;
    return 0;
}

static int setup(void **state)
{
    if (setup_all() == 0)
        return 0;
    teardown(state);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&alice);
    gs_close(&bob);
    gs_close(&carol);
    int rc = 0;
    tl_server_t *all[] = {&sh.game[0], &sh.game[1], &sh.chat, &sh.master};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i]->p.pid > 0 && tl_server_stop(all[i], SIGTERM, DEADLINE_MS) != 0)
            rc = -1;
        if (tl_server_cleanup(all[i]) != 0)
            rc = -1;
    }
    return rc;
}

static int match_text(const proto_msg_t *m, const void *text)
{
    return strstr(m->chat_deliver.text, text) != NULL;
}

static void count_stayed_local(const proto_msg_t *m, void *count)
{
    if (m->type == PROTO_T_CHAT_DELIVER && strstr(m->chat_deliver.text, "reached this shard only"))
        ++*(int *)count;
}

static void expect_chat(gs_client_t *c, const char *text, const char *sender, const char *shard)
{
    static proto_msg_t m;
    assert_int_equal(gs_expect(c, PROTO_T_CHAT_DELIVER, match_text, text, &m, DEADLINE_MS), 0);
    if (sender)
        assert_string_equal(m.chat_deliver.sender, sender);
    if (shard)
        assert_string_equal(m.chat_deliver.shard, shard);
}

/* Population p on both shards, both up, per `masterserver --list`, each
 * with a heartbeat age no older than the master's down limit allows. */
static int master_lists_both(int pop)
{
    char out[4096], port[32];
    snprintf(port, sizeof port, "127.0.0.1:%d", sh.master.port);
    const char *argv[] = {MASTERSERVER_BIN, "--list", port, "--secret-file", sh.secret, NULL};
    if (tl_run(argv, out, sizeof out, DEADLINE_MS) != 0)
        return 0;
    int found = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        char name[40], addr[96], status[16];
        unsigned p = 0, cap = 0, age = UINT32_MAX;
        if (sscanf(l, "%39s %95s %u/%u %15s %u", name, addr, &p, &cap, status, &age) == 6 &&
            (!strcmp(name, "alpha") || !strcmp(name, "beta")) && p == (unsigned)pop &&
            !strcmp(status, "up") && age <= HB_DOWN_MS)
            found++;
    }
    return found == 2;
}

static void test_global_chat_crosses_shards_and_master_lists_both(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, (uint16_t)sh.game[0].port, "alice"), 0);
    assert_int_equal(gs_login(&bob, (uint16_t)sh.game[1].port, "bob"), 0);
    assert_int_equal(gs_chat(&alice, 1, "", "hello from shard A"), 0);
    expect_chat(&bob, "hello from shard A", "alice", "alpha");
    expect_chat(&alice, "hello from shard A", "alice", "alpha"); /* sender's shard too */
    assert_int_equal(gs_chat(&bob, 1, "", "and back from B"), 0);
    expect_chat(&alice, "and back from B", "bob", "beta");
    /* heartbeats every 200 ms carry the population: wait for 1 and 1 */
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++)
        ok = master_lists_both(1) || tl_server_wait_log(&sh.master, "never printed", 100) == 0;
    assert_true(ok);
}

static void test_chat_server_down_degrades_then_recovers_on_restart(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, (uint16_t)sh.game[0].port, "alice2"), 0);
    assert_int_equal(gs_login(&carol, (uint16_t)sh.game[0].port, "carol2"), 0);
    assert_int_equal(gs_login(&bob, (uint16_t)sh.game[1].port, "bob2"), 0);

    assert_int_equal(tl_server_stop(&sh.chat, SIGTERM, DEADLINE_MS), 0);
    expect_chat(&alice, "global chat offline", "*system*", NULL);
    expect_chat(&bob, "global chat offline", "*system*", NULL);

    /* the shard keeps serving: ping, zone chat */
    assert_int_equal(gs_barrier(&alice, NULL, NULL, DEADLINE_MS), 0);
    assert_int_equal(gs_chat(&alice, 0, "", "zone chat still works"), 0);
    expect_chat(&carol, "zone chat still works", "alice2", "");
    /* a shout reaches this shard only; the offline notice goes to the
     * shouter alone: carol's pong comes after anything queued to her */
    assert_int_equal(gs_chat(&alice, 1, "", "anyone out there?"), 0);
    expect_chat(&carol, "anyone out there?", "alice2", "");
    expect_chat(&alice, "global chat offline: your message reached this shard only", "*system*",
                NULL);
    int carol_notices = 0;
    assert_int_equal(gs_barrier(&carol, count_stayed_local, &carol_notices, DEADLINE_MS), 0);
    assert_int_equal(carol_notices, 0);

    /* same port again: both links come back by themselves (back-off <= 2 s) */
    int chat_port = sh.chat.port;
    assert_int_equal(start_chat(chat_port), 0);
    assert_int_equal(sh.chat.port, chat_port);
    expect_chat(&alice, "global chat online", "*system*", NULL);
    expect_chat(&bob, "global chat online", "*system*", NULL);
    assert_int_equal(gs_chat(&alice, 1, "", "we are back"), 0);
    expect_chat(&bob, "we are back", "alice2", "alpha");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_global_chat_crosses_shards_and_master_lists_both,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_chat_server_down_degrades_then_recovers_on_restart,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
