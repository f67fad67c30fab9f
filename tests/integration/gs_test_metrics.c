/* /metrics passes `promtool check metrics` (with players online and zone
 * ticks recorded) and /healthz answers ok; queue priority labels are right;
 * slow clients (slowloris) neither hold the page closed nor stay past the
 * request deadline (issue 12). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gs_harness.h"
#include "netcore.h"

static gs_proc_t srv;
static gs_client_t a;
static char page[1 << 18];

static void test_metrics_page_passes_promtool(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    assert_int_equal(gs_proc_start(&srv, NULL, 5000), 0);
    assert_int_equal(gs_login(&a, srv.port, "metric"), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, 5000), 0);

    assert_true(gs_http_get(srv.metrics_port, "/healthz", page, sizeof page) > 0);
    assert_non_null(strstr(page, "200 OK"));
    /* the zone counts the player right after world_entered: poll briefly */
    char *body = NULL;
    for (int i = 0; i < 200 && !(body && strstr(body, "gs_online_players 1")); i++) {
        assert_true(gs_http_get(srv.metrics_port, "/metrics", page, sizeof page) > 0);
        body = strstr(page, "\r\n\r\n");
        assert_non_null(body);
    }
    assert_non_null(strstr(body, "gs_online_players 1"));
    assert_non_null(strstr(body, "gs_queue_jobs_total{queue=\"game\""));
    assert_non_null(strstr(body, "gs_zone_tick_seconds_bucket"));
    char path[192], cmd[256];
    snprintf(path, sizeof path, "%s/metrics.txt", srv.dir);
    FILE *f = fopen(path, "w");
    fputs(body + 4, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    assert_int_equal(system(cmd), 0);

    gs_close(&a);
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, 5000), 0);
    gs_proc_cleanup(&srv);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *metrics_body(void)
{
    assert_true(gs_http_get(srv.metrics_port, "/metrics", page, sizeof page) > 0);
    char *body = strstr(page, "\r\n\r\n");
    assert_non_null(body);
    return body;
}

/* nc_prio_t is 1-based: game is high, db normal, control low (it showed
 * game as "low" with `% 3`). */
static void test_priority_labels(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    assert_int_equal(gs_proc_start(&srv, NULL, 5000), 0);
    char *body = metrics_body();
    /* issue 15: the game cap defaults to the CPUs, clamped to 2..4 */
    int cpus = nc_cpu_count(), game = cpus < 2 ? 2 : cpus > 4 ? 4 : cpus;
    char want[96];
    snprintf(want, sizeof want, "gs_queue_max_threads{queue=\"game\",priority=\"high\"} %d\n",
             game);
    assert_non_null(strstr(body, want));
    assert_non_null(strstr(body, "gs_queue_max_threads{queue=\"db\",priority=\"normal\"} 1\n"));
    assert_non_null(strstr(body, "gs_queue_max_threads{queue=\"control\",priority=\"low\"} 1\n"));
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, 5000), 0);
    gs_proc_cleanup(&srv);
}

#define NSLOW 64
#define REQ_TIMEOUT_MS 1000

static int slow_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, "GET /metr", 9) != 9) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 0 once the server closed fd (EOF or reset) before the deadline. */
static int closed_by(int fd, int64_t deadline)
{
    char b[256];
    while (now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(deadline - now_ms())) > 0 && read(fd, b, sizeof b) <= 0)
            return 0;
    }
    return -1;
}

static void test_slow_clients_do_not_block_a_scrape(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    const char *args[] = {"--set", "metrics.request_timeout_ms=1000", NULL};
    assert_int_equal(gs_proc_start(&srv, args, 5000), 0);
    int slow[NSLOW];
    int64_t opened = now_ms();
    for (int i = 0; i < NSLOW; i++)
        slow[i] = slow_open(srv.metrics_port);
    /* a normal scrape still gets the page, at once, several times */
    for (int k = 0; k < 5; k++) {
        int64_t t0 = now_ms();
        char *body = metrics_body();
        int64_t took = now_ms() - t0;
        assert_non_null(strstr(body, "gs_uptime_seconds"));
        print_message("scrape %d with %d slow clients: %lld ms\n", k, NSLOW, (long long)took);
        assert_true(took < 500);
        int fd = slow_open(srv.metrics_port); /* and more slow ones keep coming */
        if (fd >= 0)
            close(fd);
    }
    /* every slow client is gone by the request deadline (plus the sweep
     * period and scheduling slack) */
    int64_t deadline = opened + REQ_TIMEOUT_MS + 1500;
    for (int i = 0; i < NSLOW; i++) {
        if (slow[i] < 0)
            continue;
        assert_int_equal(closed_by(slow[i], deadline), 0);
        close(slow[i]);
    }
    char *body = metrics_body();
    unsigned long long evicted = 0, timeouts = 0;
    char *e = strstr(body, "gs_metrics_http_closed_total{reason=\"evicted\"} ");
    char *t = strstr(body, "gs_metrics_http_closed_total{reason=\"timeout\"} ");
    assert_non_null(e);
    assert_non_null(t);
    sscanf(strchr(e, '}') + 2, "%llu", &evicted);
    sscanf(strchr(t, '}') + 2, "%llu", &timeouts);
    print_message("evicted %llu, timed out %llu\n", evicted, timeouts);
    assert_true(evicted >= NSLOW - 16);
    assert_true(timeouts >= 1);
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, 5000), 0);
    gs_proc_cleanup(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_page_passes_promtool),
        cmocka_unit_test(test_priority_labels),
        cmocka_unit_test(test_slow_clients_do_not_block_a_scrape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
