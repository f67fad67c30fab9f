/* SIGTERM with the chat server's port black-holed (issue 12): a listening
 * socket whose backlog is full and that never accepts, so the gameserver's
 * outbound connect hangs in SYN_SENT.  The shard must still save every
 * player and exit 0 within a bound.
 *
 * DEPENDS on netcore's client connect timeout / cancel-on-destroy (the
 * netio part of issue 12): without it nc_client_destroy waits for the
 * pending connect, and the stop only ends at shutdown.timeout_ms (exit 3,
 * everything saved).  The save is checked first, so a failure says which
 * half broke. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gs_dbcheck.h"
#include "gs_harness.h"

#define T 5000
#define NPLAYERS 5
#define STOP_BOUND_MS 5000
#define MAX_FILL 16

static gs_proc_t srv;
static gs_client_t cl[NPLAYERS];
static int hole = -1, fill[MAX_FILL];
static int nfill;

/* Listens with backlog 0 and fills the accept queue until a connect no
 * longer completes: later SYNs are dropped.  Returns the port. */
static uint16_t black_hole(void)
{
    hole = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(hole, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(hole, 0), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(hole, (struct sockaddr *)&sa, &sl), 0);
    for (nfill = 0; nfill < MAX_FILL;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        fill[nfill++] = fd;
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 300) == 0)
            break; /* this one hangs: the queue is full */
    }
    assert_true(nfill < MAX_FILL);
    return ntohs(sa.sin_port);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NPLAYERS; i++)
        gs_close(&cl[i]);
    gs_proc_cleanup(&srv);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    if (hole >= 0)
        close(hole);
    return 0;
}

static void test_sigterm_with_black_holed_chat_port(void **state)
{
    (void)state;
    char port[8];
    snprintf(port, sizeof port, "%u", black_hole());
    gs_proc_init(&srv);
    const char *args[] = {
        "--chat-port", port,
        "--set",       "zones.max_speed=100000",
        "--set",       "shutdown.timeout_ms=8000",
        "--set",       "links.insecure=true", /* the black hole never answers a handshake */
        NULL};
    assert_int_equal(gs_proc_start(&srv, args, T), 0);
    for (int i = 0; i < NPLAYERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "bh%d", i);
        assert_int_equal(gs_login(&cl[i], srv.port, name), 0);
        assert_int_equal(gs_move(&cl[i], 300 + i, 400 + i), 0);
        assert_int_equal(gs_barrier(&cl[i], NULL, NULL, T), 0);
    }
    int64_t t0 = tl_now_ms();
    assert_int_equal(kill(srv.pid, SIGTERM), 0);
    int st = gs_proc_stop(&srv, 0, 10000);
    int64_t took = tl_now_ms() - t0;
    print_message("black-holed chat port: exit %d after %lld ms (bound %d)\n", st, (long long)took,
                  STOP_BOUND_MS);
    for (int i = 0; i < NPLAYERS; i++) {
        char name[16];
        double x = 0, y = 0;
        snprintf(name, sizeof name, "bh%d", i);
        assert_int_equal(gs_db_char_pos(srv.db, name, NULL, &x, &y), 0);
        assert_true(x == 300 + i && y == 400 + i);
    }
    assert_int_equal(st, 0);
    assert_true(took < STOP_BOUND_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigterm_with_black_holed_chat_port, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
