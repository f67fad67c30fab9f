/* Winsock twin of metrics_http_posix.c: a blocking HTTP/1.0 listener for
 * /metrics and /healthz on its own thread.  One request per connection,
 * answered and closed; the page is small and scraped rarely, so no engine
 * or pool is involved. */
#include "gs_platform.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <process.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gs_http_s {
    SOCKET fd;
    HANDLE thread;
    atomic_int stop;
    gs_http_render_fn fn;
    void *ud;
};

static void write_all(SOCKET fd, const char *p, size_t n)
{
    while (n > 0) {
        int w = send(fd, p, n > 65536 ? 65536 : (int)n, 0);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve_one(gs_http_t *h, SOCKET c)
{
    char req[1024];
    size_t got = 0;
    DWORD tv = 2000;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, (const char *)&tv, sizeof tv);
    req[0] = 0;
    while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
        int r = recv(c, req + got, (int)(sizeof req - 1 - got), 0);
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
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", ctype, (unsigned long)len);
    write_all(c, head, (size_t)n);
    write_all(c, body, len);
    free(body);
}

static unsigned __stdcall http_main(void *arg)
{
    gs_http_t *h = arg;
    while (!atomic_load(&h->stop)) {
        WSAPOLLFD pfd = {h->fd, POLLRDNORM, 0};
        if (WSAPoll(&pfd, 1, 100) <= 0)
            continue;
        SOCKET c = accept(h->fd, NULL, NULL);
        if (c == INVALID_SOCKET)
            continue;
        serve_one(h, c);
        shutdown(c, SD_SEND);
        closesocket(c);
    }
    return 0;
}

int gs_http_start(const char *host, uint16_t port, gs_http_render_fn fn, void *ud,
                  gs_http_t **out, uint16_t *bound_port)
{
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    gs_http_t *h = calloc(1, sizeof *h);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || !h) {
        free(h);
        WSACleanup();
        return -1;
    }
    h->fn = fn;
    h->ud = ud;
    h->fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    int alen = sizeof a;
    if (h->fd == INVALID_SOCKET || bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(h->fd, 16) != 0 || getsockname(h->fd, (struct sockaddr *)&a, &alen) != 0 ||
        !(h->thread = (HANDLE)_beginthreadex(NULL, 0, http_main, h, 0, NULL))) {
        if (h->fd != INVALID_SOCKET)
            closesocket(h->fd);
        free(h);
        WSACleanup();
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
    WaitForSingleObject(h->thread, INFINITE);
    CloseHandle(h->thread);
    closesocket(h->fd);
    free(h);
    WSACleanup();
}
