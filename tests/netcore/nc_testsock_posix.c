/* POSIX raw sockets for tests (see nc_testutil.h). */
#define _GNU_SOURCE
#include "nc_testutil.h"

#include "netcore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
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

int nc_test_sock_open(void)
{
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

int nc_test_sock_connect_fd(int fd, uint16_t port)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -1;
}

#define BH_MAX 16
static int bh_fds[BH_MAX + 1];
static int bh_n;

/* Linux keeps backlog + 1 connections in a listener's accept queue and
 * drops SYNs while it is full (no RST, no syncookie): fill it with
 * non-blocking connects until one stays unanswered for 200 ms. */
int nc_test_blackhole_open(uint16_t *port)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 0) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        if (ls >= 0)
            close(ls);
        return -1;
    }
    bh_fds[bh_n++] = ls;
    while (bh_n <= BH_MAX) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        bh_fds[bh_n++] = fd;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            continue;
        if (errno != EINPROGRESS)
            break;
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 200) == 0) { /* unanswered: the queue is full */
            *port = ntohs(a.sin_port);
            return 0;
        }
    }
    nc_test_blackhole_close();
    return -1;
}

void nc_test_blackhole_close(void)
{
    while (bh_n > 0)
        close(bh_fds[--bh_n]);
}

#include <sys/resource.h>

int nc_test_fd_limit_set(uint64_t soft, uint64_t *old_soft)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (old_soft)
        *old_soft = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)soft;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : -1;
}

static int *hog_fds;
static int hog_n;

int nc_test_fd_hog(int max)
{
    if (!hog_fds)
        hog_fds = calloc((size_t)max, sizeof(int));
    if (!hog_fds)
        return -1;
    while (hog_n < max) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == EMFILE ? hog_n : -1;
        hog_fds[hog_n++] = fd;
    }
    return hog_n;
}

void nc_test_fd_unhog(void)
{
    while (hog_n > 0)
        close(hog_fds[--hog_n]);
    free(hog_fds);
    hog_fds = NULL;
}

int64_t nc_test_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}
