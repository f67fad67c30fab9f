/* gs_idle_sessions: open many idle sessions to a running gameserver and
 * report its user-space bytes per session.
 *
 *   gs_idle_sessions --port P --pid PID [--sessions 20000] [--mode login|tcp]
 *                    [--procs K] [--metrics-port M] [--hold S]
 *
 * Method: the server's VmRSS (/proc/PID/status) before, then with all
 * sessions open and the RSS steady (three 1 s samples within 1 %); bytes per
 * session = RSS delta / sessions.  RSS counts every resident user-space
 * page of the process (heap, stacks, buffers); the kernel's socket memory
 * is not in it.  Modes: `login` (default) logs each session in as idleN
 * and leaves it logged in but not in the world (a character loaded, no zone
 * presence: N players at one spawn would measure interest management, not
 * sessions); `tcp` connects and sends nothing (a pre-login session: run it
 * with the login deadline and pre-login caps raised, or they close them).
 * The clients are spread over K processes (default: 9000 sessions each)
 * because one process's fd limit here is 20000.  Exit 1 if not every
 * session came up. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "proto_packets.h"

static uint16_t port = 7777, metrics_port;
static int pid, sessions = 20000, procs, login = 1;
static double hold_s = 0;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static size_t packet(const proto_msg_t *m, uint8_t *out, size_t cap)
{
    int n = proto_encode(m, out + 4, cap - 4);
    if (n < 0)
        return 0;
    uint16_t total = (uint16_t)(n + 4);
    out[0] = (uint8_t)total;
    out[1] = (uint8_t)(total >> 8);
    out[2] = (uint8_t)m->type;
    out[3] = (uint8_t)(m->type >> 8);
    return total;
}

/* Counts whole login_result(code 0) packets on fd; -1 on close. Sessions
 * that are logged in but not in the world receive nothing else. */
static int read_results(int fd, int *ok)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        /* a login_result is one small packet: assume whole packets per read
         * (loopback, one packet per session); count code 0 */
        for (ssize_t off = 0; off + 6 <= n;) {
            size_t total = (size_t)buf[off] | (size_t)buf[off + 1] << 8;
            uint16_t type = (uint16_t)(buf[off + 2] | buf[off + 3] << 8);
            if (total < 4)
                return -1;
            if (type == PROTO_T_LOGIN_RESULT && buf[off + 4] == 0 && buf[off + 5] == 0)
                (*ok)++;
            off += (ssize_t)total;
        }
    }
}

/* A child: opens n sessions (names idle<first>..), reports "up K" on out,
 * holds them until its stdin (the parent's pipe) closes. */
static int child(int first, int n, int out, int in)
{
    int *fd = calloc((size_t)n, sizeof *fd);
    if (!fd)
        return 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int up = 0;
    for (int i = 0; i < n; i++) {
        fd[i] = -1;
        for (int tries = 0; tries < 50 && fd[i] < 0; tries++) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            if (s < 0)
                break;
            if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
                fd[i] = s;
            } else {
                close(s);
                sleep_ms(20); /* listen backlog full: the server is accepting */
            }
        }
        if (fd[i] < 0)
            continue;
        fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
        if (login) {
            proto_msg_t m = {.type = PROTO_T_LOGIN};
            snprintf(m.login.name, sizeof m.login.name, "idle%d", first + i);
            m.login.proto_hash = PROTO_HASH;
            uint8_t pkt[128];
            size_t len = packet(&m, pkt, sizeof pkt);
            if (send(fd[i], pkt, len, MSG_NOSIGNAL) != (ssize_t)len) {
                close(fd[i]);
                fd[i] = -1;
                continue;
            }
        } else {
            up++;
        }
        if (login && (i % 256 == 255 || i == n - 1)) { /* collect results in batches */
            uint64_t end = ha_now_ms() + 30000;
            int want = 0;
            for (int j = 0; j <= i; j++)
                want += fd[j] >= 0;
            while (up < want && ha_now_ms() < end) {
                for (int j = i - (i % 256); j <= i; j++)
                    if (fd[j] >= 0 && read_results(fd[j], &up) < 0) {
                        close(fd[j]);
                        fd[j] = -1;
                        want--;
                    }
                if (up < want)
                    sleep_ms(5);
            }
        }
    }
    dprintf(out, "up %d\n", up);
    char c;
    while (read(in, &c, 1) > 0) /* parent closes the pipe: done */
        ;
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    free(fd);
    return 0;
}

static long steady_rss(void)
{
    long prev = ha_proc_rss_kb(pid);
    for (int i = 0; i < 30; i++) {
        sleep_ms(1000);
        long r = ha_proc_rss_kb(pid);
        long d = r > prev ? r - prev : prev - r;
        if (d * 100 <= prev)
            return r;
        prev = r;
    }
    return prev;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            port = (uint16_t)atoi(v);
        else if (!strcmp(k, "--pid"))
            pid = atoi(v);
        else if (!strcmp(k, "--sessions"))
            sessions = atoi(v);
        else if (!strcmp(k, "--procs"))
            procs = atoi(v);
        else if (!strcmp(k, "--metrics-port"))
            metrics_port = (uint16_t)atoi(v);
        else if (!strcmp(k, "--hold"))
            hold_s = atof(v);
        else if (!strcmp(k, "--mode") && (!strcmp(v, "login") || !strcmp(v, "tcp")))
            login = !strcmp(v, "login");
        else {
            fprintf(stderr, "usage: gs_idle_sessions --port P --pid PID [--sessions N] "
                            "[--mode login|tcp] [--procs K] [--metrics-port M] [--hold S]\n");
            return 2;
        }
    }
    if (!pid || sessions < 1 || sessions > 1000000) {
        fprintf(stderr, "gs_idle_sessions: --pid of the gameserver is required\n");
        return 2;
    }
    if (procs < 1)
        procs = (sessions + 8999) / 9000;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { /* soft up to hard, inherited */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    long rss0 = steady_rss();
    int fds0 = ha_proc_fds(pid);
    fprintf(stderr,
            "gs_idle_sessions: server pid %d RSS %ld KiB, %d fds; opening %d %s sessions "
            "from %d processes\n",
            pid, rss0, fds0, sessions, login ? "logged-in" : "tcp-only", procs);
    uint64_t t0 = ha_now_ms();
    int up_r[64], hold_w[64], np = procs < 64 ? procs : 64;
    pid_t kids[64];
    for (int p = 0; p < np; p++) {
        int up[2], hold[2];
        if (pipe(up) != 0 || pipe(hold) != 0)
            return 1;
        int first = (int)((long)sessions * p / np),
            n = (int)((long)sessions * (p + 1) / np) - first;
        kids[p] = fork();
        if (kids[p] == 0) {
            close(up[0]);
            close(hold[1]);
            for (int q = 0; q < p; q++) {
                close(up_r[q]);
                close(hold_w[q]);
            }
            _exit(child(first, n, up[1], hold[0]));
        }
        close(up[1]);
        close(hold[0]);
        up_r[p] = up[0];
        hold_w[p] = hold[1];
    }
    int total = 0;
    for (int p = 0; p < np; p++) {
        char line[64] = {0};
        ssize_t n = read(up_r[p], line, sizeof line - 1);
        int k = 0;
        if (n > 0 && sscanf(line, "up %d", &k) == 1)
            total += k;
    }
    double secs = (double)(ha_now_ms() - t0) / 1000.0;
    long rss1 = steady_rss();
    int fds1 = ha_proc_fds(pid);
    double live = -1;
    if (metrics_port) {
        static char page[1 << 18];
        if (ha_http_get(metrics_port, "/metrics", page, sizeof page) >= 0)
            live = ha_metric(page, "gs_sessions");
    }
    printf("sessions up        %d/%d (%s) in %.1f s\n", total, sessions,
           login ? "logged in, not in the world" : "tcp only, nothing sent", secs);
    printf("server RSS         %ld KiB -> %ld KiB (delta %ld KiB)\n", rss0, rss1, rss1 - rss0);
    printf("server fds         %d -> %d\n", fds0, fds1);
    if (live >= 0)
        printf("gs_sessions        %.0f\n", live);
    printf("bytes per session  %.0f (RSS delta / sessions up)\n",
           total ? (double)(rss1 - rss0) * 1024.0 / total : 0.0);
    fflush(stdout);
    if (hold_s > 0)
        sleep_ms((int)(hold_s * 1000));
    for (int p = 0; p < np; p++)
        close(hold_w[p]);
    for (int p = 0; p < np; p++)
        waitpid(kids[p], NULL, 0);
    return total == sessions ? 0 : 1;
}
