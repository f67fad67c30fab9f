/* A tiny game queue (capacity 16) and one client pipelining hundreds of
 * requests: the session's own packet jobs fill the queue, so its hand-off to
 * the zone strand meets a full queue.  Every request must still be answered
 * (nothing is dropped silently). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gs_harness.h"

#define N_REQUESTS 600

static void test_requests_meeting_a_full_game_queue_are_all_answered(void **state)
{
    (void)state;
    static gs_proc_t p;
    static gs_client_t c;
    static proto_msg_t m;
    gs_proc_init(&p);
    /* the queue's mechanics, not the request budget (600 who at once) */
    const char *extra[] = {"--set", "queues.game.capacity=16", "--set", "limits.budget_per_s=0",
                           NULL};
    assert_int_equal(gs_proc_start(&p, extra, 10000), 0);
    assert_int_equal(gs_login(&c, p.port, "flooder"), 0);

    /* one write: all requests land in the session's buffer together */
    static uint8_t burst[N_REQUESTS * 5];
    for (int i = 0; i < N_REQUESTS; i++) {
        uint8_t *b = burst + i * 5;
        b[0] = 5, b[1] = 0; /* length, header included */
        b[2] = (uint8_t)PROTO_T_WHO_REQUEST, b[3] = (uint8_t)(PROTO_T_WHO_REQUEST >> 8);
        b[4] = 0; /* scope: zone */
    }
    assert_int_equal(write(c.fd, burst, sizeof burst), (ssize_t)sizeof burst);
    int answered = 0;
    while (answered < N_REQUESTS && gs_expect(&c, PROTO_T_WHO_RESPONSE, NULL, NULL, &m, 10000) == 0)
        answered++;
    assert_int_equal(answered, N_REQUESTS);

    gs_close(&c);
    assert_int_equal(gs_proc_stop(&p, SIGTERM, 10000), 0);
    gs_proc_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_meeting_a_full_game_queue_are_all_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
