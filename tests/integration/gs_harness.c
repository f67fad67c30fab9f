/* Harness implementation: the protocol client, poll-based deadlines (no
 * bare sleeps), length-prefixed framing as in protocol/README.md.  The
 * gameserver process (gs_proc_*): gs_proc.c. */
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
        if (gs_recv(c, &m, left) < 0) {
            gs_close(c); /* as a client does: the server's lingering close ends now */
            return 0;
        }
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
    if (err_code)
        *err_code = 0;
    if (gs_login_send(c, port, name, token, token_len) != 0)
        return -1;
    return gs_login_finish(c, err_code);
}

int gs_login_send(gs_client_t *c, uint16_t port, const char *name, const uint8_t *token,
                  size_t token_len)
{
    static proto_msg_t m;
    if (gs_connect(c, port) != 0 || token_len > sizeof m.login.token)
        return -1;
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_LOGIN;
    snprintf(m.login.name, sizeof m.login.name, "%s", name);
    m.login.proto_hash = PROTO_HASH;
    if (token_len)
        memcpy(m.login.token, token, token_len);
    m.login.token_len = (uint16_t)token_len;
    return gs_send(c, &m);
}

int gs_login_finish(gs_client_t *c, int *err_code)
{
    static proto_msg_t m;
    if (err_code)
        *err_code = 0;
    if (expect_login_reply(c, &m, 5000) != 0)
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
