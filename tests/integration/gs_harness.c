/* Harness implementation: fork/exec with pipes, poll-based deadlines (no
 * bare sleeps), length-prefixed framing as in protocol/README.md. */
#define _POSIX_C_SOURCE 200809L
#include "gs_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gs_proc_init(gs_proc_t *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/gs_it_XXXXXX");
    if (!mkdtemp(p->dir))
        abort();
    snprintf(p->db, sizeof p->db, "%s/gs.db", p->dir);
    p->pid = -1;
    p->out_fd = -1;
}

static pid_t spawn(const char *const *args, int *out_fd, const char *err_path)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (e >= 0)
            dup2(e, 2);
        close(pfd[0]);
        execv(GS_BIN, (char *const *)args);
        _exit(127);
    }
    close(pfd[1]);
    *out_fd = pfd[0];
    return pid;
}

/* Reads stdout until a full line starting with READY, or the deadline. */
static int wait_ready(gs_proc_t *p, int timeout_ms)
{
    char line[256];
    size_t n = 0;
    int64_t end = now_ms() + timeout_ms;
    while (now_ms() < end) {
        struct pollfd pfd = {p->out_fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
            continue;
        ssize_t r = read(p->out_fd, line + n, sizeof line - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        line[n] = 0;
        unsigned port, mport;
        if (strchr(line, '\n') &&
            sscanf(line, "READY port=%u metrics_port=%u", &port, &mport) == 2) {
            p->port = (uint16_t)port;
            p->metrics_port = (uint16_t)mport;
            const char *ap = strstr(line, "admin_port=");
            p->admin_port = ap ? (uint16_t)atoi(ap + 11) : 0;
            return 0;
        }
    }
    return -1;
}

int gs_proc_start(gs_proc_t *p, const char *const *extra, int timeout_ms)
{
    /* the chat/master links are off: the defaults (127.0.0.1:7001/7000)
     * would register with a developer's running shard.sh */
    const char *args[48] = {GS_BIN, "--port",      "0",    "--metrics-port", "0", "--db",
                            p->db,  "--log-level", "info", "--chat-port",    "0", "--master-port",
                            "0"};
    int n = 13;
    args[n++] = "--set"; /* name-only logins unless a test sets auth.mode=ticket */
    args[n++] = "auth.mode=dev";
    for (; extra && *extra && n < 46; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    char err_path[192];
    snprintf(err_path, sizeof err_path, "%s/stderr.log", p->dir);
    p->pid = spawn(args, &p->out_fd, err_path);
    if (p->pid < 0 || wait_ready(p, timeout_ms) != 0) {
        fprintf(stderr, "gameserver did not become READY; see %s\n", err_path);
        gs_proc_stop(p, SIGKILL, 2000);
        return -1;
    }
    return 0;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 || now_ms() >= end)
            return -1;
        struct timespec ts = {0, 2000000}; /* poll the child's state every 2 ms */
        nanosleep(&ts, NULL);
    }
}

/* A failed exit's stderr (e.g. an ASan report) is in the temp dir that
 * cleanup removes: show its tail in the test's output. */
static void dump_stderr(const gs_proc_t *p, int st)
{
    char path[192], buf[8192];
    snprintf(path, sizeof path, "%s/stderr.log", p->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "gameserver exited with status %d; end of its stderr:\n%s\n", st, buf);
}

int gs_proc_stop(gs_proc_t *p, int sig, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    int st = wait_exit(p->pid, timeout_ms);
    if (st < 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    close(p->out_fd);
    p->pid = -1;
    p->out_fd = -1;
    if (st != 0 && !(sig == SIGKILL && st == 128 + SIGKILL))
        dump_stderr(p, st);
    return st;
}

int gs_run_capture(const char *const *args, char *err, size_t errlen, int timeout_ms)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/gs_cap_%d.log", (int)getpid());
    remove(path);
    /* no fixed port even if a config is (wrongly) accepted: args may
     * override these, later flags win */
    const char *argv[32] = {GS_BIN, "--port",        "0", "--metrics-port", "-1", "--chat-port",
                            "0",    "--master-port", "0"};
    int n = 9;
    argv[n++] = "--set"; /* as gs_proc_start: args may set auth.mode=ticket */
    argv[n++] = "auth.mode=dev";
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int out;
    pid_t pid = spawn(argv, &out, path);
    int st = wait_exit(pid, timeout_ms);
    if (st < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(out);
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(err, 1, errlen - 1, f) : 0;
    err[got] = 0;
    if (f)
        fclose(f);
    remove(path);
    return st;
}

void gs_proc_cleanup(gs_proc_t *p)
{
    if (p->pid > 0)
        gs_proc_stop(p, SIGKILL, 2000);
    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", p->dir);
}

int gs_connect(gs_client_t *c, uint16_t port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return connect(c->fd, (struct sockaddr *)&a, sizeof a);
}

void gs_close(gs_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int gs_send(gs_client_t *c, const proto_msg_t *m)
{
    uint8_t pkt[4 + 65535];
    int n = proto_encode(m, pkt + 4, sizeof pkt - 4);
    if (n < 0)
        return -1;
    uint16_t total = (uint16_t)(n + 4);
    pkt[0] = (uint8_t)total;
    pkt[1] = (uint8_t)(total >> 8);
    pkt[2] = (uint8_t)m->type;
    pkt[3] = (uint8_t)(m->type >> 8);
    return write(c->fd, pkt, total) == total ? 0 : -1;
}

/* 1 if a complete packet was decoded from the buffer. */
static int take_packet(gs_client_t *c, proto_msg_t *m)
{
    if (c->len < 4)
        return 0;
    size_t total = c->buf[0] | (size_t)c->buf[1] << 8;
    uint16_t type = (uint16_t)(c->buf[2] | c->buf[3] << 8);
    if (total < 4 || c->len < total)
        return total < 4 ? -1 : 0;
    int rc = proto_decode(type, c->buf + 4, total - 4, m);
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    return rc == 0 ? 1 : -1;
}

int gs_recv(gs_client_t *c, proto_msg_t *m, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int t = take_packet(c, m);
        if (t != 0)
            return t;
        int left = (int)(end - now_ms());
        if (left <= 0)
            return 0;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0)
            continue;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
    }
}

int gs_expect(gs_client_t *c, uint16_t type, int (*match)(const proto_msg_t *, const void *),
              const void *arg, proto_msg_t *out, int timeout_ms)
{
    static proto_msg_t tmp;
    proto_msg_t *m = out ? out : &tmp;
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - now_ms());
        if (left < 0 || gs_recv(c, m, left) != 1)
            return -1;
        if (m->type == type && (!match || match(m, arg)))
            return 0;
    }
}

int gs_barrier(gs_client_t *c, void (*seen)(const proto_msg_t *, void *), void *arg, int timeout_ms)
{
    static proto_msg_t m;
    uint64_t token = (uint64_t)now_ms() ^ 0x5a5aULL;
    proto_msg_t ping = {.type = PROTO_T_PING};
    ping.ping.client_time = token;
    if (gs_send(c, &ping) != 0)
        return -1;
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - now_ms());
        if (left < 0 || gs_recv(c, &m, left) != 1)
            return -1;
        if (m.type == PROTO_T_PONG && m.pong.client_time == token)
            return 0;
        if (seen)
            seen(&m, arg);
    }
}

int gs_expect_close(gs_client_t *c, int timeout_ms)
{
    static proto_msg_t m;
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - now_ms());
        if (left < 0)
            return -1;
        if (gs_recv(c, &m, left) < 0)
            return 0;
    }
}

int gs_login(gs_client_t *c, uint16_t port, const char *name)
{
    return gs_login_token(c, port, name, NULL, 0, NULL);
}

/* An error packet or a login_result. */
static int login_reply(const proto_msg_t *m, const void *arg)
{
    (void)arg;
    return m->type == PROTO_T_ERROR || m->type == PROTO_T_LOGIN_RESULT;
}

static int expect_login_reply(gs_client_t *c, proto_msg_t *m, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - now_ms());
        if (left < 0 || gs_recv(c, m, left) != 1)
            return -1;
        if (login_reply(m, NULL))
            return 0;
    }
}

int gs_login_token(gs_client_t *c, uint16_t port, const char *name, const uint8_t *token,
                   size_t token_len, int *err_code)
{
    static proto_msg_t m;
    if (err_code)
        *err_code = 0;
    if (gs_connect(c, port) != 0 || token_len > sizeof m.login.token)
        return -1;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_LOGIN;
    snprintf(m.login.name, sizeof m.login.name, "%s", name);
    m.login.proto_hash = PROTO_HASH;
    if (token_len)
        memcpy(m.login.token, token, token_len);
    m.login.token_len = (uint16_t)token_len;
    if (gs_send(c, &m) != 0 || expect_login_reply(c, &m, 5000) != 0)
        return -1;
    if (m.type == PROTO_T_ERROR) {
        if (err_code)
            *err_code = (int)m.error.code;
        return -1;
    }
    if (m.login_result.code != 0)
        return -1;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_ENTER_WORLD;
    if (gs_send(c, &m) != 0 || gs_expect(c, PROTO_T_WORLD_ENTERED, NULL, NULL, &m, 5000) != 0)
        return -1;
    c->entity_id = m.world_entered.entity_id;
    c->zone = m.world_entered.zone;
    c->x = m.world_entered.pos.x;
    c->y = m.world_entered.pos.y;
    return 0;
}

int gs_move(gs_client_t *c, float x, float y)
{
    proto_msg_t m = {.type = PROTO_T_MOVE};
    m.move.pos = (proto_vec2_t){x, y};
    m.move.client_time = (uint32_t)now_ms();
    c->x = x;
    c->y = y;
    return gs_send(c, &m);
}

int gs_chat(gs_client_t *c, uint8_t channel, const char *target, const char *text)
{
    static proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_CHAT;
    m.chat.channel = channel;
    snprintf(m.chat.target, sizeof m.chat.target, "%s", target ? target : "");
    snprintf(m.chat.text, sizeof m.chat.text, "%s", text);
    return gs_send(c, &m);
}

int gs_match_entity(const proto_msg_t *m, const void *arg)
{
    uint32_t id = *(const uint32_t *)arg;
    switch (m->type) {
    case PROTO_T_SPAWN: return m->spawn.entity_id == id;
    case PROTO_T_DESPAWN: return m->despawn.entity_id == id;
    case PROTO_T_MOVE_NOTIFY: return m->move_notify.entity_id == id;
    case PROTO_T_ENTITY_UPDATES: return gs_update_pos(m, id, NULL, NULL);
    default: return 0;
    }
}

int gs_update_pos(const proto_msg_t *m, uint32_t id, float *x, float *y)
{
    if (m->type != PROTO_T_ENTITY_UPDATES)
        return 0;
    const proto_entity_updates_t *u = &m->entity_updates;
    for (uint16_t i = 0; i < u->entries_count; i++)
        if (u->entries[i].entity_id == id) {
            if (x)
                *x = u->origin.x + u->entries[i].qx * u->step;
            if (y)
                *y = u->origin.y + u->entries[i].qy * u->step;
            return 1;
        }
    return 0;
}

int gs_http_get(uint16_t port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || cap == 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || n < 0 || (size_t)n >= sizeof req ||
        write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got < cap - 1 && (r = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fd);
    return (int)got;
}

double gs_metric(uint16_t port, const char *sample)
{
    size_t cap = 1u << 18;
    char *page = malloc(cap);
    double v = -1;
    if (page && gs_http_get(port, "/metrics", page, cap) > 0) {
        char key[192];
        snprintf(key, sizeof key, "\n%s ", sample);
        const char *p = strstr(page, key);
        if (p)
            v = strtod(p + strlen(key), NULL);
    }
    free(page);
    return v;
}
