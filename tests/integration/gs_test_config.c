/* Bad configuration stops start-up with exit code 2 and names the key. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gs_harness.h"

static char err[4096];

static int run_with_file(const char *json)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/gs_cfg_%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    const char *args[] = {"--config", path, "--port", "0", "--metrics-port", "-1", NULL};
    int st = gs_run_capture(args, err, sizeof err, 5000);
    remove(path);
    return st;
}

static void test_unknown_key_is_named(void **state)
{
    (void)state;
    assert_int_equal(run_with_file("{\"listen\": {\"prot\": 7000}}"), 2);
    assert_non_null(strstr(err, "listen.prot"));
    assert_non_null(strstr(err, "unknown key"));
}

static void test_wrong_type_is_named(void **state)
{
    (void)state;
    assert_int_equal(run_with_file("{\"zones\": {\"tick_hz\": \"fast\"}}"), 2);
    assert_non_null(strstr(err, "zones.tick_hz"));
    assert_non_null(strstr(err, "wrong type"));
    assert_int_equal(run_with_file("{\"zones\": 5}"), 2);
    assert_non_null(strstr(err, "'zones'"));
}

static void test_out_of_range_is_named(void **state)
{
    (void)state;
    assert_int_equal(run_with_file("{\"queues\": {\"control\": {\"max_threads\": 0}}}"), 2);
    assert_non_null(strstr(err, "queues.control.max_threads"));
    assert_non_null(strstr(err, "out of range"));
}

static void test_bad_flag_value_is_named(void **state)
{
    (void)state;
    const char *args[] = {"--port", "70000", NULL};
    assert_int_equal(gs_run_capture(args, err, sizeof err, 5000), 2);
    assert_non_null(strstr(err, "listen.port"));
    const char *args2[] = {"--set", "pool.mode=weird", NULL};
    assert_int_equal(gs_run_capture(args2, err, sizeof err, 5000), 2);
    assert_non_null(strstr(err, "pool.mode"));
}

/* A shared pool where the game queue can take every worker is refused at
 * start (exit 2) with the keys named; the defaults pass. */
static void test_starving_pool_is_refused(void **state)
{
    (void)state;
    assert_int_equal(
        run_with_file("{\"pool\": {\"threads\": 4}, \"queues\": {\"game\": {\"max_threads\": 4}}}"),
        2);
    assert_non_null(strstr(err, "queues.game.max_threads"));
    assert_non_null(strstr(err, "pool.threads"));
    /* pool.threads is auto (game + db + control) unless set */
    const char *args[] = {"--set", "queues.game.max_threads=5", "--set", "pool.threads=6", NULL};
    assert_int_equal(gs_run_capture(args, err, sizeof err, 5000), 2);
    assert_non_null(strstr(err, "queues.db.max_threads"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_key_is_named),
        cmocka_unit_test(test_wrong_type_is_named),
        cmocka_unit_test(test_out_of_range_is_named),
        cmocka_unit_test(test_bad_flag_value_is_named),
        cmocka_unit_test(test_starving_pool_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
