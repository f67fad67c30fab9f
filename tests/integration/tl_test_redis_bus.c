/* Issue 16: the Redis chat bus against a REAL redis-server (started here on
 * a free port, stopped at the end).  Two game servers "alpha" and "beta"
 * with chat.bus redis (no chat server, no master): shouts cross shards,
 * whispers reach a player on the other shard, presence expires after a
 * kill -9 of a shard, and a Redis outage degrades global chat (players told,
 * shouts local) until Redis is back, with no restart of the game servers. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gs_harness.h"
#include "tl_proc.h"

#define DEADLINE_MS 10000
#define TTL_S 2
#define REFRESH_MS 200

static tl_proc_t redis;
/* AUTH (test_auth): redis-server --requirepass; each game's password file */
static const char *redis_pw;
static const char *game_pw[2];
static char pw_kv[2][600], pw_dir[64];
static int redis_port;
static char redis_bin[512], redis_cli[512];
static gs_proc_t game[2];
static gs_client_t alice, bob;
/* presence settings of the next setup (the slow one proves login/logout
 * update presence at once, not at the refresh) */
static const char *ttl_kv = "redis.presence_ttl_s=2", *refresh_kv = "redis.presence_refresh_ms=200";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int find_bin(const char *name, char *out, size_t cap)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s", name);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)cap, f) != NULL;
    pclose(f);
    if (!ok)
        return -1;
    out[strcspn(out, "\n")] = 0;
    return out[0] ? 0 : -1;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int start_redis(void)
{
    char p[16];
    snprintf(p, sizeof p, "%d", redis_port);
    const char *argv[16] = {redis_bin, "--port",       p,    "--bind",      "127.0.0.1", "--save",
                            "",        "--appendonly", "no", "--daemonize", "no"};
    int n = 11;
    if (redis_pw) {
        argv[n++] = "--requirepass";
        argv[n++] = redis_pw;
    }
    argv[n] = NULL;
    if (tl_proc_start(&redis, argv, 0) != 0)
        return -1;
    return tl_proc_wait_for(&redis, "Ready to accept connections", 0, DEADLINE_MS) < 0 ? -1 : 0;
}

/* redis-cli -p P GET key: 1 when the key holds a value, 0 when nil, -1 */
static int redis_has(const char *key)
{
    char p[16], out[256];
    snprintf(p, sizeof p, "%d", redis_port);
    const char *argv[12] = {redis_cli, "-h", "127.0.0.1", "-p", p, "GET", key, NULL};
    if (redis_pw) { /* redis-cli warns about -a on stderr only */
        argv[5] = "-a";
        argv[6] = redis_pw;
        argv[7] = "--no-auth-warning";
        argv[8] = "GET";
        argv[9] = key;
        argv[10] = NULL;
    }
    if (tl_run(argv, out, sizeof out, DEADLINE_MS) != 0)
        return -1;
    out[strcspn(out, "\n")] = 0;
    return out[0] != 0;
}

static double bus_up(int i)
{
    return gs_metric(game[i].metrics_port, "gs_bus_up{bus=\"redis\"}");
}

static int wait_bus(int i, double want)
{
    for (uint64_t end = now_ms() + DEADLINE_MS; now_ms() < end;) {
        if (bus_up(i) == want)
            return 0;
        struct timespec ts = {0, 20000000}; /* poll the metric every 20 ms */
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int start_game(int i, const char *name)
{
    char port[48], shard[48];
    snprintf(port, sizeof port, "redis.port=%d", redis_port);
    snprintf(shard, sizeof shard, "shard.name=%s", name);
    const char *extra[] = {"--set", "chat.bus=redis", "--set", port, "--set", shard, "--set",
                           "redis.channel_prefix=t16.", "--set", ttl_kv, "--set", refresh_kv,
                           /* the whisper retries must not meet the chat flood limit */
                           "--set", "chat.rate_per_s=100", "--set", "chat.burst=100", NULL, NULL,
                           NULL};
    if (game_pw[i]) {
        char fname[16];
        snprintf(fname, sizeof fname, "pw%d", i);
        char path[128];
        if (tl_write_secret(pw_dir, fname, game_pw[i], path, sizeof path) != 0)
            return -1;
        snprintf(pw_kv[i], sizeof pw_kv[i], "redis.password_file=%s", path);
        extra[16] = "--set";
        extra[17] = pw_kv[i];
    }
    gs_proc_init(&game[i]);
    return gs_proc_start(&game[i], extra, DEADLINE_MS);
}

static int teardown(void **state);

static int setup(void **state)
{
    memset(&redis, 0, sizeof redis);
    redis.pid = -1;
    if (find_bin("redis-server", redis_bin, sizeof redis_bin) != 0 ||
        find_bin("redis-cli", redis_cli, sizeof redis_cli) != 0) {
        fprintf(stderr, "redis-server / redis-cli not found: install the Debian package "
                        "'redis-server' (tools/dev/setup.sh does)\n");
        return -1;
    }
    if ((redis_port = free_port()) <= 0 || start_redis() != 0 || start_game(0, "alpha") != 0 ||
        start_game(1, "beta") != 0 || wait_bus(0, 1) != 0 || wait_bus(1, 1) != 0) {
        teardown(state);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&alice);
    gs_close(&bob);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        if (game[i].pid > 0 && gs_proc_stop(&game[i], SIGTERM, DEADLINE_MS) != 0)
            rc = -1;
        gs_proc_cleanup(&game[i]);
    }
    if (redis.pid > 0 && tl_proc_stop(&redis, SIGTERM, DEADLINE_MS) != 0)
        rc = -1;
    return rc;
}

static int match_text(const proto_msg_t *m, const void *text)
{
    return strstr(m->chat_deliver.text, text) != NULL;
}

static void expect_chat(gs_client_t *c, const char *text, const char *sender, int channel)
{
    static proto_msg_t m;
    assert_int_equal(gs_expect(c, PROTO_T_CHAT_DELIVER, match_text, text, &m, DEADLINE_MS), 0);
    if (sender)
        assert_string_equal(m.chat_deliver.sender, sender);
    if (channel >= 0)
        assert_int_equal(m.chat_deliver.channel, channel);
}

/* Whispers `text` from c to target until the echo comes back (presence is
 * set at the shard's next refresh) or the deadline: 0 delivered, -1. */
static int whisper_until_delivered(gs_client_t *c, const char *target, const char *text)
{
    for (uint64_t end = now_ms() + DEADLINE_MS; now_ms() < end;) {
        if (gs_chat(c, 2, target, text) != 0)
            return -1;
        proto_msg_t m;
        for (;;) {
            int r = gs_recv(c, &m, DEADLINE_MS);
            if (r != 1) {
                fprintf(stderr, "whisper to %s: no answer (%d)\n", target, r);
                return -1;
            }
            if (m.type == PROTO_T_CHAT_DELIVER && m.chat_deliver.channel == 2 &&
                strcmp(m.chat_deliver.text, text) == 0)
                return 0;
            if (m.type == PROTO_T_ERROR && m.error.code == PROTO_ERR_NO_SUCH_PLAYER)
                break; /* not (yet) in presence: again after a refresh */
        }
        struct timespec ts = {0, REFRESH_MS * 1000000L / 2};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "whisper to %s: NO_SUCH_PLAYER until the deadline\n", target);
    return -1;
}

/* The next answer to a whisper: 1 NO_SUCH_PLAYER, 0 delivered, -1 none. */
static int whisper_answer(gs_client_t *c, const char *target, const char *text)
{
    if (gs_chat(c, 2, target, text) != 0)
        return -1;
    proto_msg_t m;
    while (gs_recv(c, &m, DEADLINE_MS) == 1) {
        if (m.type == PROTO_T_CHAT_DELIVER && m.chat_deliver.channel == 2 &&
            strcmp(m.chat_deliver.text, text) == 0)
            return 0;
        if (m.type == PROTO_T_ERROR && m.error.code == PROTO_ERR_NO_SUCH_PLAYER)
            return 1;
    }
    return -1;
}

static void test_shout_and_whisper_cross_shards(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, game[0].port, "alice"), 0);
    assert_int_equal(gs_login(&bob, game[1].port, "bob"), 0);
    assert_int_equal(gs_chat(&alice, 1, "", "hello from shard A"), 0);
    expect_chat(&bob, "hello from shard A", "alice", 1);
    expect_chat(&alice, "hello from shard A", "alice", 1); /* the sender's shard too */
    assert_int_equal(gs_chat(&bob, 1, "", "and back from B"), 0);
    expect_chat(&alice, "and back from B", "bob", 1);

    /* a whisper from A reaches bob on B; the sender gets the echo */
    assert_int_equal(whisper_until_delivered(&alice, "bob", "psst bob"), 0);
    expect_chat(&bob, "psst bob", "alice", 2);
    assert_int_equal(whisper_until_delivered(&bob, "alice", "psst alice"), 0);
    expect_chat(&alice, "psst alice", "bob", 2);
    /* nobody by that name anywhere: the same answer as without a bus */
    assert_int_equal(whisper_answer(&alice, "nobody", "hello?"), 1);
    /* alpha published alice's shout and her whisper (the unknown name needs none) */
    assert_true(gs_metric(game[0].metrics_port, "gs_bus_published_total{bus=\"redis\"}") >= 2);
    assert_true(gs_metric(game[1].metrics_port, "gs_bus_received_total{bus=\"redis\"}") >= 3);
}

static void test_presence_expires_after_kill9(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, game[0].port, "alice3"), 0);
    assert_int_equal(gs_login(&bob, game[1].port, "bob3"), 0);
    assert_int_equal(whisper_until_delivered(&alice, "bob3", "are you there"), 0);
    assert_int_equal(redis_has("t16.presence.bob3"), 1);
    gs_close(&bob);
    assert_int_equal(gs_proc_stop(&game[1], SIGKILL, DEADLINE_MS), 128 + SIGKILL);
    /* nobody deletes bob3's key: it expires after the ttl */
    uint64_t t0 = now_ms();
    while (redis_has("t16.presence.bob3") == 1 && now_ms() < t0 + (TTL_S + 5) * 1000u) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(redis_has("t16.presence.bob3"), 0);
    assert_int_equal(whisper_answer(&alice, "bob3", "gone?"), 1);
    /* and alice's own presence is kept alive by alpha's refresh */
    assert_int_equal(redis_has("t16.presence.alice3"), 1);
}

static void test_redis_down_degrades_then_recovers(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, game[0].port, "alice4"), 0);
    assert_int_equal(gs_login(&bob, game[1].port, "bob4"), 0);
    assert_int_equal(tl_proc_stop(&redis, SIGTERM, DEADLINE_MS), 0);
    expect_chat(&alice, "global chat offline", "*system*", -1);
    expect_chat(&bob, "global chat offline", "*system*", -1);
    assert_int_equal(wait_bus(0, 0), 0);
    /* a shout stays on the shard; the shouter is told */
    assert_int_equal(gs_chat(&alice, 1, "", "anyone out there?"), 0);
    expect_chat(&alice, "anyone out there?", "alice4", 1);
    expect_chat(&alice, "global chat offline: your message reached this shard only", "*system*",
                -1);
    assert_int_equal(whisper_answer(&alice, "bob4", "bus down"), 1);
    int stayed = 0;
    proto_msg_t m;
    while (gs_recv(&bob, &m, 300) == 1) /* nothing reaches beta meanwhile */
        if (m.type == PROTO_T_CHAT_DELIVER && strstr(m.chat_deliver.text, "anyone out there"))
            stayed = -1;
    assert_int_equal(stayed, 0);

    /* same port again: both shards reconnect by themselves */
    assert_int_equal(start_redis(), 0);
    expect_chat(&alice, "global chat online", "*system*", -1);
    expect_chat(&bob, "global chat online", "*system*", -1);
    assert_int_equal(wait_bus(0, 1), 0);
    assert_int_equal(gs_chat(&alice, 1, "", "we are back"), 0);
    expect_chat(&bob, "we are back", "alice4", 1);
    assert_true(gs_metric(game[0].metrics_port, "gs_bus_reconnects_total{bus=\"redis\"}") >= 1);
    /* presence comes back with the refresh: whispers work again */
    assert_int_equal(whisper_until_delivered(&alice, "bob4", "back again"), 0);
    expect_chat(&bob, "back again", "alice4", 2);
}

/* 60 s ttl, 30 s refresh: only the login/logout kick can explain what
 * happens within the 5 s deadlines below */
static int setup_slow(void **state)
{
    ttl_kv = "redis.presence_ttl_s=60";
    refresh_kv = "redis.presence_refresh_ms=30000";
    int rc = setup(state);
    ttl_kv = "redis.presence_ttl_s=2";
    refresh_kv = "redis.presence_refresh_ms=200";
    return rc;
}

static int wait_has(const char *key, int want)
{
    for (uint64_t end = now_ms() + 5000; now_ms() < end;) {
        if (redis_has(key) == want)
            return 0;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void test_presence_follows_login_and_logout_at_once(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, game[0].port, "alice5"), 0);
    assert_int_equal(gs_login(&bob, game[1].port, "bob5"), 0);
    assert_int_equal(wait_has("t16.presence.bob5", 1), 0);
    assert_int_equal(whisper_answer(&alice, "bob5", "quick"), 0);
    expect_chat(&bob, "quick", "alice5", 2);
    gs_close(&bob);
    assert_int_equal(wait_has("t16.presence.bob5", 0), 0);
    assert_int_equal(whisper_answer(&alice, "bob5", "gone"), 1);
}

/* 60 s ttl, 30 s refresh (setup_slow): an orderly stop (SIGTERM) of beta
 * deletes its players' presence keys before it exits, so the key is gone
 * the moment the process is (neither the ttl nor a refresh can explain it),
 * and a whisper to bob7 is answered "not online" at once */
static void test_presence_deleted_at_orderly_stop(void **state)
{
    (void)state;
    assert_int_equal(gs_login(&alice, game[0].port, "alice7"), 0);
    assert_int_equal(gs_login(&bob, game[1].port, "bob7"), 0);
    assert_int_equal(wait_has("t16.presence.bob7", 1), 0);
    assert_int_equal(wait_has("t16.presence.alice7", 1), 0);
    /* bob stays connected: the stop, not his logout, must clear the key */
    assert_int_equal(gs_proc_stop(&game[1], SIGTERM, DEADLINE_MS), 0);
    assert_int_equal(redis_has("t16.presence.bob7"), 0);
    assert_int_equal(whisper_answer(&alice, "bob7", "still there?"), 1);
    /* alpha's players keep theirs */
    assert_int_equal(redis_has("t16.presence.alice7"), 1);
    gs_close(&bob);
}

/* redis with requirepass: alpha has the password, beta a wrong one */
static int setup_auth(void **state)
{
    snprintf(pw_dir, sizeof pw_dir, "/tmp/tl_redis_XXXXXX");
    if (!mkdtemp(pw_dir))
        return -1;
    redis_pw = "redis-test-password-0123";
    game_pw[0] = redis_pw;
    game_pw[1] = "not-the-password";
    /* beta's bus never comes up: setup waits for alpha only */
    memset(&redis, 0, sizeof redis);
    redis.pid = -1;
    int rc = -1;
    if (find_bin("redis-server", redis_bin, sizeof redis_bin) == 0 &&
        find_bin("redis-cli", redis_cli, sizeof redis_cli) == 0 && (redis_port = free_port()) > 0 &&
        start_redis() == 0 && start_game(0, "alpha") == 0 && start_game(1, "beta") == 0 &&
        wait_bus(0, 1) == 0)
        rc = 0;
    if (rc != 0)
        teardown(state);
    return rc;
}

static int teardown_auth(void **state)
{
    int rc = teardown(state);
    redis_pw = game_pw[0] = game_pw[1] = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pw_dir);
    if (system(cmd) != 0)
        rc = -1;
    return rc;
}

static void test_auth(void **state)
{
    (void)state;
    /* alpha authenticated: its bus works (presence of its player is set) */
    assert_int_equal(gs_login(&alice, game[0].port, "alice6"), 0);
    assert_int_equal(wait_has("t16.presence.alice6", 1), 0);
    /* beta's AUTH is refused: counted, its bus stays down, retried */
    for (uint64_t end = now_ms() + DEADLINE_MS;
         gs_metric(game[1].metrics_port, "gs_bus_errors_total{bus=\"redis\"}") < 2 &&
         now_ms() < end;) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    assert_true(gs_metric(game[1].metrics_port, "gs_bus_errors_total{bus=\"redis\"}") >= 2);
    assert_true(bus_up(1) == 0);
    assert_int_equal(gs_login(&bob, game[1].port, "bob6"), 0);
    assert_int_equal(gs_chat(&bob, 1, "", "locked out"), 0);
    expect_chat(&bob, "global chat offline: your message reached this shard only", "*system*", -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shout_and_whisper_cross_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_expires_after_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_degrades_then_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_follows_login_and_logout_at_once, setup_slow,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_presence_deleted_at_orderly_stop, setup_slow,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup_auth, teardown_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
