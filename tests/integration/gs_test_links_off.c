/* The harness starts the gameserver with its chat and master links disabled
 * (port 0), so a test never connects to a developer's running shard on the
 * default ports 7001/7000. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "gs_harness.h"

static void test_harness_gameserver_has_no_chat_or_master_link(void **state)
{
    (void)state;
    static gs_proc_t p;
    static char log[1 << 16];
    gs_proc_init(&p);
    assert_int_equal(gs_proc_start(&p, NULL, 10000), 0);
    /* both lines are logged by gs_peers_start, before READY */
    tl_server_read_log(&p.s, log, sizeof log);
    assert_non_null(strstr(log, "chat link disabled"));
    assert_non_null(strstr(log, "master link disabled"));
    assert_null(strstr(log, "link: connecting to"));
    assert_int_equal(gs_proc_stop(&p, SIGTERM, 10000), 0);
    gs_proc_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness_gameserver_has_no_chat_or_master_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
