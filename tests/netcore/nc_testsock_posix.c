/* POSIX raw sockets for tests (see nc_testutil.h). */
#define _GNU_SOURCE
#include "nc_testutil.h"

#include "netcore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int nc_test_sock_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int nc_test_sock_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int nc_test_sock_read_full(int fd, void *buf, size_t len, uint32_t timeout_ms)
{
    char *p = buf;
    uint64_t deadline = nc_now_ms() + timeout_ms;
    while (len) {
        uint64_t now = nc_now_ms();
        if (now >= deadline)
            return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(deadline - now)) <= 0)
            continue;
        ssize_t r = recv(fd, p, len, 0);
        if (r < 0 && errno == EINTR)
            continue;
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
        uint64_t now = nc_now_ms();
        if (now >= deadline)
            return false;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(deadline - now)) <= 0)
            continue;
        ssize_t r = recv(fd, sink, sizeof(sink), 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
}

void nc_test_sock_shrink_rcvbuf(int fd)
{
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

void nc_test_sock_close(int fd)
{
    close(fd);
}

void nc_test_sock_shutdown_write(int fd)
{
    shutdown(fd, SHUT_WR);
}
