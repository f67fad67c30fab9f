/* The metrics page's HTTP/1.0 listener (nc_http.h) over real sockets: a
 * request head cut by nc_lines (split across writes, CR LF or LF, an empty
 * line ends it), the 2 KiB bound, methods other than GET, and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_http.h"
#include "nc_testutil.h"
#include "netcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    nc_pool_t *pool;
    nc_engine_t *e;
    nc_http_t *h;
    uint16_t port;
    atomic_int renders;
} hfx_t;

static int render(void *ud, const char *path, char **body, size_t *len, const char **ctype)
{
    hfx_t *f = ud;
    atomic_fetch_add(&f->renders, 1);
    *ctype = "text/plain";
    *body = malloc(300);
    if (!*body)
        return 500;
    int n = snprintf(*body, 300, "path=%s", path);
    *len = (size_t)n;
    return strcmp(path, "/missing") ? 200 : 404;
}

static hfx_t *hfx_new(void)
{
    hfx_t *f = calloc(1, sizeof *f);
    nc_pool_opts_t po = {.name = "http", .threads = 2};
    assert_int_equal(nc_pool_create(&po, &f->pool), 0);
    nc_queue_t *q;
    nc_queue_opts_t qo = {.name = "control", .max_threads = 1, .priority = NC_PRIO_LOW};
    assert_int_equal(nc_queue_create(f->pool, &qo, &q), 0);
    nc_engine_opts_t eo = {.io_threads = 1};
    assert_int_equal(nc_engine_create(&eo, &f->e), 0);
    nc_http_opts_t ho = {.host = "127.0.0.1", .max_conns = 4, .request_timeout_ms = 5000};
    assert_int_equal(nc_http_start(f->e, q, &ho, render, f, &f->h, &f->port), 0);
    return f;
}

static void hfx_free(hfx_t *f)
{
    nc_http_stop(f->h);
    nc_engine_destroy(f->e);
    nc_pool_destroy(f->pool);
    free(f);
}

/* Sends the request in the given pieces, reads the answer until the close. */
static void ask(hfx_t *f, const char *const *pieces, char *out, size_t cap)
{
    int fd = nc_test_sock_connect(f->port);
    assert_true(fd >= 0);
    for (; *pieces; pieces++)
        assert_int_equal(nc_test_sock_write_all(fd, *pieces, strlen(*pieces)), 0);
    size_t got = 0;
    while (got + 1 < cap && nc_test_sock_read_full(fd, out + got, 1, 5000) == 0)
        got++;
    out[got] = 0;
    nc_test_sock_close(fd);
}

static void test_request_head_split_across_writes_is_answered(void **st)
{
    (void)st;
    hfx_t *f = hfx_new();
    char out[1024];
    const char *split[] = {"GET /met", "rics HTTP/1.0\r", "\nHost: x\r\n", "\r\n", NULL};
    ask(f, split, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.0 200 OK\r\n"));
    assert_non_null(strstr(out, "\r\n\r\npath=/metrics"));
    const char *lf[] = {"GET /missing HTTP/1.0\n\n", NULL}; /* bare LF */
    ask(f, lf, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.0 404 Not Found\r\n"));
    assert_int_equal(atomic_load(&f->renders), 2);
    hfx_free(f);
}

static void test_bad_requests_get_400_without_a_render(void **st)
{
    (void)st;
    hfx_t *f = hfx_new();
    char out[1024];
    const char *post[] = {"POST /metrics HTTP/1.0\r\n\r\n", NULL};
    ask(f, post, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.0 400 Bad Request\r\n"));
    char big[2100]; /* one header line past the 2 KiB request bound */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *large[] = {"GET /metrics HTTP/1.0\r\nX-Pad: ", big, "\r\n\r\n", NULL};
    ask(f, large, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.0 400 Bad Request\r\n"));
    assert_int_equal(atomic_load(&f->renders), 0);
    nc_http_stats_t hs;
    nc_http_stats(f->h, &hs);
    assert_int_equal(hs.bad, 2);
    assert_int_equal(hs.evicted, 0);
    hfx_free(f);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_head_split_across_writes_is_answered),
        cmocka_unit_test(test_bad_requests_get_400_without_a_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
