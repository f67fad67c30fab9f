/* Winsock raw sockets for tests (see nc_testutil.h): the Windows twin of
 * nc_testsock_posix.c.  SOCKET values are small handles; they fit the int
 * the helpers use. */
#include "nc_testutil.h"

#include "netcore.h"

#include <winsock2.h>
#include <ws2tcpip.h>

static void wsa_init(void)
{
    static atomic_int done;
    if (atomic_exchange(&done, 1) == 0) {
        WSADATA wsa;
        WSAStartup(MAKEWORD(2, 2), &wsa); /* process lifetime: never cleaned up */
    }
}

int nc_test_sock_connect(uint16_t port)
{
    wsa_init();
    SOCKET fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (fd == INVALID_SOCKET)
        return -1;
    DWORD tv = 5000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, (const char *)&tv, sizeof(tv));
    BOOL one = TRUE;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        closesocket(fd);
        return -1;
    }
    return (int)fd;
}

int nc_test_sock_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int w = send((SOCKET)fd, p, chunk, 0);
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* 1 readable, 0 timeout, -1 error. */
static int wait_readable(int fd, uint64_t deadline)
{
    uint64_t now = nc_now_ms();
    if (now >= deadline)
        return 0;
    WSAPOLLFD pf = {(SOCKET)fd, POLLRDNORM, 0};
    int r = WSAPoll(&pf, 1, (int)(deadline - now));
    return r < 0 ? -1 : r > 0;
}

int nc_test_sock_read_full(int fd, void *buf, size_t len, uint32_t timeout_ms)
{
    char *p = buf;
    uint64_t deadline = nc_now_ms() + timeout_ms;
    while (len) {
        if (nc_now_ms() >= deadline)
            return -1;
        if (wait_readable(fd, deadline) <= 0)
            continue;
        int r = recv((SOCKET)fd, p, len > 65536 ? 65536 : (int)len, 0);
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

bool nc_test_sock_wait_eof(int fd, uint32_t timeout_ms)
{
    uint64_t deadline = nc_now_ms() + timeout_ms;
    char sink[4096];
    for (;;) {
        if (nc_now_ms() >= deadline)
            return false;
        int w = wait_readable(fd, deadline);
        if (w < 0)
            return true;
        if (w == 0)
            continue;
        int r = recv((SOCKET)fd, sink, sizeof(sink), 0);
        if (r == 0 || (r < 0 && WSAGetLastError() != WSAEWOULDBLOCK))
            return true;
    }
}

void nc_test_sock_shrink_rcvbuf(int fd)
{
    int small = 4096;
    setsockopt((SOCKET)fd, SOL_SOCKET, SO_RCVBUF, (const char *)&small, sizeof(small));
}

void nc_test_sock_close(int fd)
{
    closesocket((SOCKET)fd);
}

void nc_test_sock_shutdown_write(int fd)
{
    shutdown((SOCKET)fd, SD_SEND);
}
