/* Issue 14: `cmake --install` into a temp prefix, the tree moved elsewhere
 * (no path is compiled in), then the installed gameserver runs from its
 * example config (auth.mode dev, links off) until READY with the zones of
 * share/gameserver, and a player logs in.  --help names no build path. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gs_harness.h"
#include "tl_proc.h"

#define T 20000

static char dir[64], moved[128];
static tl_proc_t game;
static char out[1 << 16];

static int exists(const char *base, const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", base, rel);
    return stat(p, &st) == 0;
}

/* Installs into dir/a and moves it to dir/b: `moved` is the prefix. */
static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gs_install_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/a", dir);
    snprintf(moved, sizeof moved, "%s/b", dir);
    const char *const inst[] = {CMAKE_COMMAND, "--install", BUILD_DIR, "--prefix", prefix, NULL};
    if (tl_run(inst, out, sizeof out, 120000) != 0) {
        fprintf(stderr, "cmake --install failed:\n%s\n", out);
        return -1;
    }
    return rename(prefix, moved);
}

static int group_teardown(void **state)
{
    (void)state;
    const char *const rm[] = {"/bin/rm", "-rf", dir, NULL};
    return tl_run(rm, out, sizeof out, 30000) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tl_proc_stop(&game, SIGKILL, 5000);
    game.pid = -1;
    return 0;
}

static void test_layout_has_binaries_data_and_example_config(void **state)
{
    (void)state;
    assert_true(exists(moved, "bin/gameserver"));
    assert_true(exists(moved, "bin/chatserver"));
    assert_true(exists(moved, "bin/masterserver"));
    assert_true(exists(moved, "bin/testclient"));
    assert_true(exists(moved, "share/gameserver/zones.json"));
    assert_true(exists(moved, "etc/gameserver/gameserver.json"));
}

static void test_help_names_no_build_path(void **state)
{
    (void)state;
    char bin[256];
    snprintf(bin, sizeof bin, "%s/bin/gameserver", moved);
    const char *const help[] = {bin, "--help", NULL};
    assert_int_equal(tl_run(help, out, sizeof out, T), 0);
    assert_non_null(strstr(out, "data_dir"));
    assert_null(strstr(out, SOURCE_DIR));
    assert_null(strstr(out, BUILD_DIR));
}

static void test_installed_server_runs_from_its_example_config(void **state)
{
    (void)state;
    char bin[256], cfg[256], db[256], want[512];
    snprintf(bin, sizeof bin, "%s/bin/gameserver", moved);
    snprintf(cfg, sizeof cfg, "%s/etc/gameserver/gameserver.json", moved);
    snprintf(db, sizeof db, "%s/gs.db", dir);
    const char *const argv[] = {bin, "--config", cfg, "--port", "0", "--metrics-port",
                                "0", "--db",     db,  NULL};
    assert_int_equal(tl_proc_start(&game, argv, 0), 0);
    int port = tl_proc_ready(&game, T);
    assert_true(port > 0);
    snprintf(want, sizeof want, "zones from %s/bin/../share/gameserver/zones.json", moved);
    assert_true(tl_proc_wait_for(&game, want, 0, T) > 0);
    gs_client_t c = {.fd = -1};
    assert_int_equal(gs_login(&c, (uint16_t)port, "installed"), 0);
    gs_close(&c);
    assert_int_equal(tl_proc_stop(&game, SIGTERM, T), 0);
}

/* data_dir set: the zones come from there; a data_dir without zones.json
 * stops the start with the path in the message. */
static void test_configured_data_dir_is_used_and_a_missing_file_named(void **state)
{
    (void)state;
    char bin[256], db[256], data[256], want[512];
    snprintf(bin, sizeof bin, "%s/bin/gameserver", moved);
    snprintf(db, sizeof db, "%s/gs2.db", dir);
    snprintf(data, sizeof data, "data_dir=%s/nodata", dir);
    const char *const bad[] = {bin,
                               "--port",
                               "0",
                               "--metrics-port",
                               "0",
                               "--chat-port",
                               "0",
                               "--master-port",
                               "0",
                               "--db",
                               db,
                               "--set",
                               "auth.mode=dev",
                               "--set",
                               data,
                               NULL};
    assert_int_not_equal(tl_run(bad, out, sizeof out, T), 0); /* stdout + stderr */
    snprintf(want, sizeof want, "%s/nodata/zones.json", dir);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "READY"));
    snprintf(data, sizeof data, "data_dir=%s/share/gameserver", moved);
    assert_int_equal(tl_proc_start(&game, bad, 0), 0);
    assert_true(tl_proc_ready(&game, T) > 0);
    snprintf(want, sizeof want, "zones from %s/share/gameserver/zones.json", moved);
    assert_true(tl_proc_wait_for(&game, want, 0, T) > 0);
    assert_int_equal(tl_proc_stop(&game, SIGTERM, T), 0);
}

int main(void)
{
    game.pid = -1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_has_binaries_data_and_example_config),
        cmocka_unit_test(test_help_names_no_build_path),
        cmocka_unit_test_teardown(test_installed_server_runs_from_its_example_config, teardown),
        cmocka_unit_test_teardown(test_configured_data_dir_is_used_and_a_missing_file_named,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
