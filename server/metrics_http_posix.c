/* Blocking-socket HTTP/1.0 listener for /metrics and /healthz on a dedicated
 * thread.  One request per connection, answered and closed; the page is
 * small and scraped rarely, so no engine or pool is involved. */
#define _POSIX_C_SOURCE 200809L
#include "gs_platform.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct gs_http_s {
    int fd;
    pthread_t thread;
    atomic_int stop;
    gs_http_render_fn fn;
    void *ud;
};

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve_one(gs_http_t *h, int c)
{
    char req[1024];
    size_t got = 0;
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t r = read(c, req + got, sizeof req - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        req[got] = 0;
    }
    req[got] = 0;
    char method[8] = "", path[256] = "";
    if (sscanf(req, "%7s %255s", method, path) != 2 || strcmp(method, "GET") != 0) {
        static const char bad[] = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        write_all(c, bad, sizeof bad - 1);
        return;
    }
    char *body = NULL;
    size_t len = 0;
    const char *ctype = "text/plain";
    int status = h->fn(h->ud, path, &body, &len, &ctype);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", ctype, len);
    write_all(c, head, (size_t)n);
    write_all(c, body, len);
    free(body);
}

static void *http_main(void *arg)
{
    gs_http_t *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd pfd = {h->fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(h, c);
        close(c);
    }
    return NULL;
}

int gs_http_start(const char *host, uint16_t port, gs_http_render_fn fn, void *ud, gs_http_t **out,
                  uint16_t *bound_port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    gs_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->fn = fn;
    h->ud = ud;
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t alen = sizeof a;
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(h->fd, 16) != 0 ||
        getsockname(h->fd, (struct sockaddr *)&a, &alen) != 0 ||
        pthread_create(&h->thread, NULL, http_main, h) != 0) {
        if (h->fd >= 0)
            close(h->fd);
        free(h);
        return -1;
    }
    *bound_port = ntohs(a.sin_port);
    *out = h;
    return 0;
}

void gs_http_stop(gs_http_t *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->fd);
    free(h);
}
