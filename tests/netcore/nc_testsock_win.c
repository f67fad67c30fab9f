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

int nc_test_sock_open(void)
{
    wsa_init();
    SOCKET fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    return fd == INVALID_SOCKET ? -1 : (int)fd;
}

int nc_test_sock_connect_fd(int fd, uint16_t port)
{
    DWORD tv = 2000;
    setsockopt((SOCKET)fd, SOL_SOCKET, SO_SNDTIMEO, (const char *)&tv, sizeof(tv));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect((SOCKET)fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -1;
}

#define BH_MAX 16
static SOCKET bh_fds[BH_MAX + 1];
static int bh_n;

/* As the POSIX twin: a listener with a full queue, filled until a connect
 * stays unanswered for 200 ms.  Where the stack answers a full queue with
 * a reset (Windows itself, usually), no connect stays unanswered and the
 * caller skips; under Wine the host's stack drops the SYNs. */
int nc_test_blackhole_open(uint16_t *port)
{
    wsa_init();
    SOCKET ls = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int al = sizeof(a);
    if (ls == INVALID_SOCKET || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(ls, 0) != 0 || getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        if (ls != INVALID_SOCKET)
            closesocket(ls);
        return -1;
    }
    bh_fds[bh_n++] = ls;
    while (bh_n <= BH_MAX) {
        SOCKET fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        if (fd == INVALID_SOCKET)
            break;
        bh_fds[bh_n++] = fd;
        u_long nb = 1;
        ioctlsocket(fd, FIONBIO, &nb);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            continue;
        if (WSAGetLastError() != WSAEWOULDBLOCK)
            break;
        WSAPOLLFD pf = {fd, POLLOUT, 0};
        int rc = WSAPoll(&pf, 1, 200);
        if (rc == 0) {
            *port = ntohs(a.sin_port);
            return 0;
        }
        if (rc < 0 || (pf.revents & (POLLERR | POLLHUP)))
            break; /* refused: this stack does not drop SYNs */
    }
    nc_test_blackhole_close();
    return -1;
}

void nc_test_blackhole_close(void)
{
    while (bh_n > 0)
        closesocket(bh_fds[--bh_n]);
}

int nc_test_fd_limit_set(uint64_t soft, uint64_t *old_soft)
{
    (void)soft;
    (void)old_soft;
    return -1;
}

int nc_test_fd_hog(int max)
{
    (void)max;
    return -1;
}

void nc_test_fd_unhog(void) {}

int64_t nc_test_cpu_us(void)
{
    FILETIME c, x, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &x, &k, &u))
        return -1;
    uint64_t t = (((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime) +
                 (((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime);
    return (int64_t)(t / 10u);
}
