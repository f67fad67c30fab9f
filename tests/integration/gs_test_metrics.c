/* /metrics passes `promtool check metrics` (with players online and zone
 * ticks recorded) and /healthz answers ok. */
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
#include <sys/socket.h>
#include <unistd.h>

#include "gs_harness.h"

static gs_proc_t srv;
static gs_client_t a;
static char page[1 << 18];

static int http_get(uint16_t port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, page + got, sizeof page - 1 - got)) > 0)
        got += (size_t)r;
    page[got] = 0;
    close(fd);
    return (int)got;
}

static void test_metrics_page_passes_promtool(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    assert_int_equal(gs_proc_start(&srv, NULL, 5000), 0);
    assert_int_equal(gs_login(&a, srv.port, "metric"), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, 5000), 0);

    assert_true(http_get(srv.metrics_port, "/healthz") > 0);
    assert_non_null(strstr(page, "200 OK"));
    /* the zone counts the player right after world_entered: poll briefly */
    char *body = NULL;
    for (int i = 0; i < 200 && !(body && strstr(body, "gs_online_players 1")); i++) {
        assert_true(http_get(srv.metrics_port, "/metrics") > 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_page_passes_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
