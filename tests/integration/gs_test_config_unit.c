/* Unit test of the gameserver's config object (server/gs_config.c, linked
 * from gameserver_core): defaults, file then flags precedence, and every
 * rejection naming its key.  No process is started. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gs_config.h"
#include "netcore.h"

static char err[512];
static char cfg_path[64];

static int from_args(gs_config_t *c, const char *const *args)
{
    char *argv[32] = {"gameserver"};
    int n = 1;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    err[0] = 0;
    return gs_config_from_args(c, n, argv, err, sizeof err);
}

static const char *write_cfg(const char *json)
{
    snprintf(cfg_path, sizeof cfg_path, "/tmp/gs_cfg_unit_%d.json", (int)getpid());
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    return cfg_path;
}

static int teardown_file(void **state)
{
    (void)state;
    if (cfg_path[0])
        remove(cfg_path);
    return 0;
}

static void test_defaults_match_the_readme(void **state)
{
    (void)state;
    gs_config_t c;
    const char *none[] = {NULL};
    assert_int_equal(from_args(&c, none), 0);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 7777);
    assert_int_equal(c.metrics_port, 9177);
    assert_string_equal(c.pool_mode, "shared");
    assert_int_equal(c.q_game.max_threads, 0); /* auto: see test_auto_pool_size */
    assert_int_equal(c.q_control.max_threads, 1);
    assert_int_equal(c.q_db.max_threads, 1);
    assert_int_equal(c.q_db.capacity, 65536);
    assert_int_equal(c.tick_hz, 20);
    assert_true(c.interest);
    assert_int_equal(c.chat_port, 7001);
    assert_int_equal(c.master_port, 7000);
    assert_string_equal(c.shard_name, "shard-1");
    assert_int_equal(c.pool_threads, 0); /* auto */
    assert_int_equal(c.cpus, nc_cpu_count());
    assert_int_equal(c.shutdown_timeout_ms, 30000);
    assert_int_equal(c.metrics_max_conns, 16);
    assert_int_equal(c.metrics_request_timeout_ms, 2000);
    assert_int_equal(gs_config_validate(&c, err, sizeof err), 0);
    /* issue 13: production default is ticket mode, which needs the key */
    assert_string_equal(c.auth_mode, "ticket");
    assert_int_equal(c.auth_clock_skew_s, 5);
    assert_int_equal(c.auth_replay_cache_max, 100000);
    assert_string_equal(c.auth_dev_role, "gm");
    assert_int_equal(gs_config_check_auth(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "masterserver --show-keys"));
}

static void test_flags_override_the_file_whatever_their_position(void **state)
{
    (void)state;
    gs_config_t c;
    const char *path = write_cfg("{\"listen\": {\"port\": 1234, \"host\": \"127.0.0.1\"},"
                                 " \"shard\": {\"name\": \"from-file\"},"
                                 " \"queues\": {\"game\": {\"capacity\": 100}}}");
    const char *after[] = {"--config", path, "--port", "2345", NULL};
    assert_int_equal(from_args(&c, after), 0);
    assert_int_equal(c.port, 2345);           /* flag beats file */
    assert_string_equal(c.host, "127.0.0.1"); /* file beats default */
    assert_string_equal(c.shard_name, "from-file");
    assert_int_equal(c.q_game.capacity, 100);
    assert_int_equal(c.q_game.max_threads, 0); /* sibling keeps its default (auto) */
    const char *before[] = {"--port", "2345", "--shard", "flag", "--config", path, NULL};
    assert_int_equal(from_args(&c, before), 0);
    assert_int_equal(c.port, 2345);
    assert_string_equal(c.shard_name, "flag");
}

static void test_set_key_value_reaches_any_key(void **state)
{
    (void)state;
    gs_config_t c;
    const char *args[] = {"--set", "queues.control.capacity=32",
                          "--set", "zones.interest=false",
                          "--set", "zones.view_radius=12.5",
                          "--set", "pool.mode=separate",
                          "--set", "chat.port=0",
                          NULL};
    assert_int_equal(from_args(&c, args), 0);
    assert_int_equal(c.q_control.capacity, 32);
    assert_false(c.interest);
    assert_true(c.view_radius == 12.5);
    assert_string_equal(c.pool_mode, "separate");
    assert_int_equal(c.chat_port, 0);

    const char *no_eq[] = {"--set", "listen.port", NULL};
    assert_int_equal(from_args(&c, no_eq), -1);
    assert_non_null(strstr(err, "KEY=VALUE"));
    const char *missing[] = {"--port", NULL};
    assert_int_equal(from_args(&c, missing), -1);
    assert_non_null(strstr(err, "--port"));
    const char *bogus[] = {"--bogus", "1", NULL};
    assert_int_equal(from_args(&c, bogus), -1);
    assert_non_null(strstr(err, "--bogus"));
}

static void test_unknown_key_is_named(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    assert_int_equal(gs_config_apply_json(&c, "{\"listen\": {\"prot\": 1}}", err, sizeof err), -1);
    assert_non_null(strstr(err, "'listen.prot'"));
    assert_non_null(strstr(err, "unknown key"));
    assert_int_equal(gs_config_set(&c, "nope.key", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "'nope.key'"));
    const char *args[] = {"--set", "listen.prot=1", NULL};
    assert_int_equal(from_args(&c, args), -1);
    assert_non_null(strstr(err, "'listen.prot'"));
}

static void test_wrong_type_is_named(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    assert_int_equal(
        gs_config_apply_json(&c, "{\"zones\": {\"tick_hz\": \"fast\"}}", err, sizeof err), -1);
    assert_non_null(strstr(err, "'zones.tick_hz'"));
    assert_non_null(strstr(err, "wrong type"));
    assert_int_equal(gs_config_apply_json(&c, "{\"zones\": 5}", err, sizeof err), -1);
    assert_non_null(strstr(err, "'zones'"));
    assert_int_equal(gs_config_apply_json(&c, "{\"zones\": {\"interest\": 1}}", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "'zones.interest'"));
    assert_int_equal(gs_config_set(&c, "zones.interest", "yes", err, sizeof err), -1);
    assert_int_equal(gs_config_set(&c, "listen.port", "12ab", err, sizeof err), -1);
    assert_non_null(strstr(err, "'listen.port'"));
    assert_int_equal(gs_config_apply_json(&c, "[1, 2]", err, sizeof err), -1);
    assert_non_null(strstr(err, "not a JSON object"));
    const char *args[] = {"--config", write_cfg("{\"listen\": "), NULL};
    assert_int_equal(from_args(&c, args), -1);
    assert_non_null(strstr(err, "not a JSON object"));
}

static void test_out_of_range_is_named_and_leaves_the_value(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    assert_int_equal(gs_config_set(&c, "listen.port", "70000", err, sizeof err), -1);
    assert_non_null(strstr(err, "'listen.port'"));
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(c.port, 7777);
    assert_int_equal(gs_config_set(&c, "metrics.port", "-2", err, sizeof err), -1);
    assert_int_equal(gs_config_set(&c, "metrics.port", "-1", err, sizeof err), 0);
    assert_int_equal(gs_config_set(&c, "zones.tick_hz", "2.5", err, sizeof err), -1);
    assert_non_null(strstr(err, "integer"));
    assert_int_equal(gs_config_apply_json(&c, "{\"queues\": {\"control\": {\"max_threads\": 0}}}",
                                          err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "'queues.control.max_threads'"));
    assert_int_equal(gs_config_set(&c, "pool.mode", "weird", err, sizeof err), -1);
    assert_non_null(strstr(err, "'pool.mode'"));
    assert_int_equal(gs_config_set(&c, "log.level", "loud", err, sizeof err), -1);
    assert_non_null(strstr(err, "'log.level'"));
    assert_int_equal(gs_config_set(&c, "chat.host", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "'chat.host'"));
}

/* Shared pool, strict priority game > db > control: each queue needs a
 * worker left by the caps above it.  Checked once all flags are in, so the
 * order of --set flags does not matter. */
static void test_starving_pool_is_refused_naming_the_keys(void **state)
{
    (void)state;
    gs_config_t c;
    /* the pre-issue-12 defaults: game cap 4 of 4 */
    const char *old_defaults[] = {"--set", "pool.threads=4", "--set", "queues.game.max_threads=4",
                                  NULL};
    assert_int_equal(from_args(&c, old_defaults), -1);
    assert_non_null(strstr(err, "'queues.game.max_threads' (4)"));
    assert_non_null(strstr(err, "'pool.threads' (4)"));
    const char *no_control[] = {"--set", "queues.game.max_threads=4", "--set", "pool.threads=5",
                                NULL}; /* game 4 + db 1 = 5 */
    assert_int_equal(from_args(&c, no_control), -1);
    assert_non_null(strstr(err, "'queues.db.max_threads' (1)"));
    assert_non_null(strstr(err, "control"));
    const char *order[] = {"--set", "queues.game.max_threads=7", "--set", "pool.threads=9", NULL};
    assert_int_equal(from_args(&c, order), 0);
    const char *game3[] = {"--set", "pool.threads=5", "--set", "queues.game.max_threads=3", NULL};
    assert_int_equal(from_args(&c, game3), 0);
    const char *separate[] = {"--set", "pool.threads=1", "--set", "pool.mode=separate", NULL};
    assert_int_equal(from_args(&c, separate), 0); /* a pool per queue: nothing shared */
    /* an explicit pool.threads too small for the auto game cap (>= 2) */
    const char *json = write_cfg("{\"pool\": {\"threads\": 2}}");
    const char *file[] = {"--config", json, NULL};
    assert_int_equal(from_args(&c, file), -1);
    assert_non_null(strstr(err, "'pool.threads' (2)"));
    /* the auto pool follows a raised game cap: no need to raise pool.threads */
    const char *raised[] = {"--set", "queues.game.max_threads=5", NULL};
    assert_int_equal(from_args(&c, raised), 0);
    /* an auto pool above pool.threads' range is refused, naming the caps */
    const char *huge[] = {"--set", "queues.game.max_threads=256", NULL};
    assert_int_equal(from_args(&c, huge), -1);
    assert_non_null(strstr(err, "'pool.threads' is auto"));
    assert_non_null(strstr(err, "'queues.game.max_threads' (256)"));
    const char *huge_ok[] = {"--set", "queues.game.max_threads=254", NULL}; /* 254 + 1 + 1 */
    assert_int_equal(from_args(&c, huge_ok), 0);
}

/* issue 15: 0 = auto for pool.threads and queues.game.max_threads.  The
 * game cap follows the CPUs, clamped to [2, 4]; the pool is the sum of the
 * caps; explicit values are kept as given. */
static void test_auto_pool_size(void **state)
{
    (void)state;
    gs_config_t c;
    gs_pool_size_t ps;
    gs_config_defaults(&c);
    static const struct {
        int cpus;
        int64_t game;
    } clamp[] = {{1, 2}, {2, 2}, {3, 3}, {4, 4}, {5, 4}, {64, 4}, {0, 2}, {-1, 2}};
    for (size_t i = 0; i < sizeof clamp / sizeof clamp[0]; i++) {
        c.cpus = clamp[i].cpus;
        gs_config_pool_size(&c, &ps);
        if (ps.game != clamp[i].game || ps.threads != clamp[i].game + 2 || ps.db != 1 ||
            ps.control != 1)
            fail_msg("%d CPUs: game %lld pool %lld, want game %lld pool %lld", clamp[i].cpus,
                     (long long)ps.game, (long long)ps.threads, (long long)clamp[i].game,
                     (long long)clamp[i].game + 2);
        assert_int_equal(gs_config_validate(&c, err, sizeof err), 0);
    }
    /* this machine: what gs_config_defaults resolves to */
    gs_config_defaults(&c);
    int n = nc_cpu_count();
    assert_true(n >= 1);
    int64_t want = n < 2 ? 2 : n > 4 ? 4 : n;
    gs_config_pool_size(&c, &ps);
    assert_int_equal(ps.game, want);
    assert_int_equal(ps.threads, want + 2);
    /* explicit values are kept; an auto pool sums whatever the caps are */
    c.cpus = 8;
    c.q_game.max_threads = 3;
    c.q_db.max_threads = 2;
    c.q_control.max_threads = 5;
    gs_config_pool_size(&c, &ps);
    assert_int_equal(ps.game, 3);
    assert_int_equal(ps.threads, 3 + 2 + 5);
    c.pool_threads = 7;
    gs_config_pool_size(&c, &ps);
    assert_int_equal(ps.threads, 7);
    assert_int_equal(ps.game, 3);
    c.q_game.max_threads = 0;
    gs_config_pool_size(&c, &ps);
    assert_int_equal(ps.game, 4);
    assert_int_equal(ps.threads, 7);
    /* 0 is accepted as a value (= auto) for these two keys only */
    assert_int_equal(gs_config_set(&c, "pool.threads", "0", err, sizeof err), 0);
    assert_int_equal(gs_config_set(&c, "queues.game.max_threads", "0", err, sizeof err), 0);
    assert_int_equal(gs_config_set(&c, "queues.db.max_threads", "0", err, sizeof err), -1);
    assert_int_equal(gs_config_set(&c, "pool.threads", "-1", err, sizeof err), -1);
}

/* The console is local-only: with a secret set, admin.host must be a
 * literal loopback address unless admin.allow_remote (issue 14). */
static void test_admin_host_must_be_loopback_unless_allowed(void **state)
{
    (void)state;
    gs_config_t c;
    const char *deflt[] = {"--set", "admin.secret_file=/x", NULL};
    assert_int_equal(from_args(&c, deflt), 0);
    assert_string_equal(c.admin_host, "127.0.0.1");
    assert_int_equal(c.admin_port, 9178);
    assert_int_equal(c.admin_max_conns, 4);
    const char *ok[] = {"127.0.0.1", "127.255.0.9", "::1"};
    const char *bad[] = {"0.0.0.0",     "::",         "10.0.0.1",   "localhost",
                         "127.0.0.1.x", "127.0.0.1 ", "+127.0.0.1", "127.0.0.256",
                         "128.0.0.1",   "127.1",      "1270.0.0.1", "127.0.0.01x"};
    char kv[64];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(kv, sizeof kv, "admin.host=%s", ok[i]);
        const char *a[] = {"--set", "admin.secret_file=/x", "--set", kv, NULL};
        if (from_args(&c, a) != 0)
            fail_msg("%s refused: %s", ok[i], err);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(kv, sizeof kv, "admin.host=%s", bad[i]);
        const char *a[] = {"--set", "admin.secret_file=/x", "--set", kv, NULL};
        if (from_args(&c, a) != -1 || !strstr(err, "'admin.host'"))
            fail_msg("%s accepted", bad[i]);
        const char *allowed[] = {"--set", "admin.secret_file=/x",    "--set", kv,
                                 "--set", "admin.allow_remote=true", NULL};
        assert_int_equal(from_args(&c, allowed), 0);
    }
    /* no secret: no console, nothing to check */
    const char *off[] = {"--set", "admin.host=0.0.0.0", NULL};
    assert_int_equal(from_args(&c, off), 0);
}

/* issue 16: the chat bus keys, their defaults (server/README.md) and checks */
static void test_chat_bus_keys(void **state)
{
    (void)state;
    gs_config_t c;
    const char *none[] = {NULL};
    assert_int_equal(from_args(&c, none), 0);
    assert_string_equal(c.chat_bus, "chatserver");
    assert_string_equal(c.redis_host, "127.0.0.1");
    assert_int_equal(c.redis_port, 6379);
    assert_string_equal(c.redis_password_file, "");
    assert_string_equal(c.redis_channel_prefix, "mmo.");
    assert_int_equal(c.redis_presence_ttl_s, 30);
    assert_int_equal(c.redis_presence_refresh_ms, 10000);
    const char *redis[] = {"--set", "chat.bus=redis", "--set", "redis.port=6400", NULL};
    assert_int_equal(from_args(&c, redis), 0);
    assert_int_equal(c.redis_port, 6400);
    const char *bad[] = {"--set", "chat.bus=kafka", NULL};
    assert_int_equal(from_args(&c, bad), -1);
    assert_non_null(strstr(err, "'chat.bus'"));
    const char *slow[] = {"--set", "chat.bus=redis",
                          "--set", "redis.presence_ttl_s=5",
                          "--set", "redis.presence_refresh_ms=5000",
                          NULL};
    assert_int_equal(from_args(&c, slow), -1);
    assert_non_null(strstr(err, "'redis.presence_refresh_ms'"));
}

static void test_missing_file_is_reported(void **state)
{
    (void)state;
    gs_config_t c;
    const char *args[] = {"--config", "/nonexistent/gs.json", NULL};
    assert_int_equal(from_args(&c, args), -1);
    assert_non_null(strstr(err, "/nonexistent/gs.json"));
}

/* Issue 14: data is found next to the executable, never at a compiled-in
 * path; configured paths are kept. */
static void test_data_dir_is_relative_to_the_executable(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    assert_string_equal(c.data_dir, "");
    assert_string_equal(c.zones_file, "");
    assert_int_equal(gs_config_resolve_paths(&c, "/opt/gs/bin/gameserver", err, sizeof err), 0);
    assert_string_equal(c.data_dir, "/opt/gs/bin/../share/gameserver");
    assert_string_equal(c.zones_file, "/opt/gs/bin/../share/gameserver/zones.json");
    gs_config_defaults(&c);
    assert_int_equal(gs_config_resolve_paths(&c, "C:\\gs\\bin\\gameserver.exe", err, sizeof err),
                     0);
    assert_string_equal(c.data_dir, "C:\\gs\\bin\\..\\share\\gameserver");
    assert_string_equal(c.zones_file, "C:\\gs\\bin\\..\\share\\gameserver\\zones.json");
    gs_config_defaults(&c);
    assert_int_equal(gs_config_resolve_paths(&c, "gameserver", err, sizeof err), 0);
    assert_string_equal(c.data_dir, "./../share/gameserver");
    gs_config_defaults(&c);
    assert_int_equal(gs_config_set(&c, "data_dir", "/srv/data", err, sizeof err), 0);
    assert_int_equal(gs_config_resolve_paths(&c, "/opt/gs/bin/gameserver", err, sizeof err), 0);
    assert_string_equal(c.zones_file, "/srv/data/zones.json");
    gs_config_defaults(&c);
    assert_int_equal(gs_config_set(&c, "zones.file", "my.json", err, sizeof err), 0);
    assert_int_equal(gs_config_resolve_paths(&c, "/opt/gs/bin/gameserver", err, sizeof err), 0);
    assert_string_equal(c.zones_file, "my.json");
    char longexe[600];
    memset(longexe, 'a', sizeof longexe - 1);
    longexe[0] = '/';
    longexe[sizeof longexe - 1] = 0;
    longexe[550] = '/';
    gs_config_defaults(&c);
    assert_int_equal(gs_config_resolve_paths(&c, longexe, err, sizeof err), -1);
    assert_non_null(strstr(err, "data_dir"));
}

/* issue 16: master.extra, more masters after master.host:master.port. */
static void test_master_extra_lists_more_masters(void **state)
{
    (void)state;
    gs_config_t c;
    gs_master_addr_t m[GS_MAX_MASTERS];
    int n = -1;
    const char *none[] = {NULL};
    assert_int_equal(from_args(&c, none), 0); /* default: master.host only */
    assert_int_equal(gs_config_masters(&c, m, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].host, "127.0.0.1");
    assert_int_equal(m[0].port, 7000);
    const char *two[] = {"--set", "master.extra= 10.0.0.2:7010 ,[::1]:7020,db-3.example:1,", NULL};
    assert_int_equal(from_args(&c, two), 0);
    assert_int_equal(gs_config_masters(&c, m, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(m[1].host, "10.0.0.2");
    assert_int_equal(m[1].port, 7010);
    assert_string_equal(m[2].host, "::1");
    assert_int_equal(m[2].port, 7020);
    assert_string_equal(m[3].host, "db-3.example");
    assert_int_equal(m[3].port, 1);
    /* master.port 0: the extra ones alone */
    const char *only[] = {"--master-port", "0", "--set", "master.extra=h:9", NULL};
    assert_int_equal(from_args(&c, only), 0);
    assert_int_equal(gs_config_masters(&c, m, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].host, "h");
    /* refused at start, naming the key */
    const char *bad[] = {"h",
                         "h:",
                         ":7000",
                         "h:0",
                         "h:65536",
                         "h:12x",
                         "h:7001,,h:7002",
                         "a\"b:1",
                         "127.0.0.1:7000",
                         "h:1,h:1",
                         "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char kv[128];
        snprintf(kv, sizeof kv, "master.extra=%s", bad[i]);
        const char *args[] = {"--set", kv, NULL};
        assert_int_equal(from_args(&c, args), -1);
        if (!strstr(err, "master.extra"))
            fail_msg("'%s': %s", bad[i], err);
    }
    /* 7 extra + master.host = 8: the limit itself is accepted */
    const char *eight[] = {"--set", "master.extra=a:1,b:1,c:1,d:1,e:1,f:1,g:1", NULL};
    assert_int_equal(from_args(&c, eight), 0);
    assert_int_equal(gs_config_masters(&c, m, &n, err, sizeof err), 0);
    assert_int_equal(n, GS_MAX_MASTERS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_the_readme),
        cmocka_unit_test_teardown(test_flags_override_the_file_whatever_their_position,
                                  teardown_file),
        cmocka_unit_test(test_set_key_value_reaches_any_key),
        cmocka_unit_test(test_unknown_key_is_named),
        cmocka_unit_test_teardown(test_wrong_type_is_named, teardown_file),
        cmocka_unit_test(test_out_of_range_is_named_and_leaves_the_value),
        cmocka_unit_test(test_auto_pool_size),
        cmocka_unit_test_teardown(test_starving_pool_is_refused_naming_the_keys, teardown_file),
        cmocka_unit_test(test_missing_file_is_reported),
        cmocka_unit_test(test_chat_bus_keys),
        cmocka_unit_test(test_admin_host_must_be_loopback_unless_allowed),
        cmocka_unit_test(test_data_dir_is_relative_to_the_executable),
        cmocka_unit_test(test_master_extra_lists_more_masters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
