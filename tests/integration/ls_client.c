/* Blocking login-protocol client (see ls_client.h). */
#define _POSIX_C_SOURCE 200809L
#include "ls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ls_connect_tcp(ls_client_t *c, uint16_t port)
{
    return ls_connect_tcp_src(c, port, NULL);
}

int ls_connect_tcp_src(ls_client_t *c, uint16_t port, const char *src)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    if (src) {
        struct sockaddr_in b = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src, &b.sin_addr) != 1 ||
            bind(c->fd, (struct sockaddr *)&b, sizeof b) != 0) {
            ls_close(c);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        ls_close(c);
        return -1;
    }
    return 0;
}

void ls_close(ls_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    pa_chan_wipe(&c->ch);
}

int ls_send_raw(ls_client_t *c, uint16_t type, const void *body, size_t len)
{
    uint8_t pkt[4 + PROTO_MAX_SIZE_SEALED_C2S + 64];
    if (len > sizeof pkt - 4)
        return -1;
    uint16_t total = (uint16_t)(len + 4);
    pkt[0] = (uint8_t)total;
    pkt[1] = (uint8_t)(total >> 8);
    pkt[2] = (uint8_t)type;
    pkt[3] = (uint8_t)(type >> 8);
    memcpy(pkt + 4, body, len);
    size_t off = 0;
    while (off < total) {
        ssize_t w = write(c->fd, pkt + off, total - off);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* A whole packet in buf: 1 (copied out and removed), 0 not yet, -1 bad. */
static int take(ls_client_t *c, uint16_t *type, uint8_t *out, size_t cap, size_t *len)
{
    if (c->len < 4)
        return 0;
    size_t total = (size_t)(c->buf[0] | c->buf[1] << 8);
    if (total < 4)
        return -1;
    if (c->len < total)
        return total > sizeof c->buf ? -1 : 0;
    *type = (uint16_t)(c->buf[2] | c->buf[3] << 8);
    *len = total - 4;
    if (*len > cap)
        return -1;
    memcpy(out, c->buf + 4, *len);
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    return 1;
}

int ls_recv_raw(ls_client_t *c, uint16_t *type, uint8_t *out, size_t cap, size_t *len,
                int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int t = take(c, type, out, cap, len);
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

int ls_connect(ls_client_t *c, uint16_t port, int timeout_ms)
{
    return ls_connect_src(c, port, NULL, timeout_ms);
}

int ls_connect_src(ls_client_t *c, uint16_t port, const char *src, int timeout_ms)
{
    if (ls_connect_tcp_src(c, port, src) != 0)
        return -1;
    uint8_t pk[PA_KX_PK_BYTES], sk[PA_KX_SK_BYTES], body[256];
    pa_kx_keypair(pk, sk);
    proto_secure_hello_t h = {.proto_hash = PROTO_HASH, .client_key_len = PA_KX_PK_BYTES};
    memcpy(h.client_key, pk, sizeof pk);
    int n = proto_encode_secure_hello(&h, body, sizeof body);
    uint16_t type = 0;
    size_t len = 0;
    proto_secure_hello_result_t r;
    int ok = n > 0 && ls_send_raw(c, PROTO_T_SECURE_HELLO, body, (size_t)n) == 0 &&
             ls_recv_raw(c, &type, body, sizeof body, &len, timeout_ms) == 1 &&
             type == PROTO_T_SECURE_HELLO_RESULT &&
             proto_decode_secure_hello_result(body, len, &r) == 0 && r.code == 0 &&
             r.server_key_len == PA_KX_PK_BYTES && r.header_len == PA_HEADER_BYTES;
    proto_secure_begin_t b = {.header_len = PA_HEADER_BYTES};
    ok = ok && pa_chan_client_start(&c->ch, pk, sk, r.server_key, r.header, b.header) == 0;
    pa_wipe(sk, sizeof sk);
    if (ok) {
        memcpy(c->server_kx, r.server_key, PA_KX_PK_BYTES);
        n = proto_encode_secure_begin(&b, body, sizeof body);
        ok = n > 0 && ls_send_raw(c, PROTO_T_SECURE_BEGIN, body, (size_t)n) == 0;
    }
    if (!ok)
        ls_close(c);
    return ok ? 0 : -1;
}

int ls_seal(ls_client_t *c, const proto_msg_t *m, uint8_t *box, size_t cap)
{
    uint8_t plain[PA_PLAIN_MAX];
    plain[0] = (uint8_t)m->type;
    plain[1] = (uint8_t)(m->type >> 8);
    int n = proto_encode(m, plain + 2, sizeof plain - 2);
    if (n < 0)
        return -1;
    int len = pa_chan_seal(&c->ch, plain, (size_t)n + 2, box, cap);
    pa_wipe(plain, sizeof plain);
    return len < 0 ? -1 : len;
}

int ls_send(ls_client_t *c, const proto_msg_t *m)
{
    proto_sealed_c2s_t *s = malloc(sizeof *s);
    uint8_t *body = malloc(PROTO_MAX_SIZE_SEALED_C2S);
    int n = s && body ? ls_seal(c, m, s->box, sizeof s->box) : -1, rc = -1;
    if (n > 0) {
        s->box_len = (uint16_t)n;
        n = proto_encode_sealed_c2s(s, body, PROTO_MAX_SIZE_SEALED_C2S);
        rc = n > 0 ? ls_send_raw(c, PROTO_T_SEALED_C2S, body, (size_t)n) : -1;
    }
    free(s);
    free(body);
    return rc;
}

int ls_recv(ls_client_t *c, proto_msg_t *m, int timeout_ms)
{
    uint8_t *body = malloc(PROTO_MAX_SIZE_SEALED_S2C);
    proto_sealed_s2c_t *s = malloc(sizeof *s);
    uint8_t *plain = malloc(PA_PLAIN_MAX);
    uint16_t type = 0;
    size_t len = 0;
    int rc = body && s && plain
                 ? ls_recv_raw(c, &type, body, PROTO_MAX_SIZE_SEALED_S2C, &len, timeout_ms)
                 : -1;
    if (rc == 1) {
        int n = type == PROTO_T_SEALED_S2C && proto_decode_sealed_s2c(body, len, s) == 0
                    ? pa_chan_open(&c->ch, s->box, s->box_len, plain, PA_PLAIN_MAX)
                    : -1;
        rc = n >= 2 && proto_decode((uint16_t)(plain[0] | plain[1] << 8), plain + 2, (size_t)n - 2,
                                    m) == 0
                 ? 1
                 : -1;
    }
    free(body);
    free(s);
    free(plain);
    return rc;
}

int ls_expect_close(ls_client_t *c, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    uint8_t tmp[4096];
    for (;;) {
        int left = (int)(end - now_ms());
        if (left <= 0)
            return -1;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0)
            continue;
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r <= 0)
            return 0;
    }
}

/* Sends m, waits for an inner packet of type want into out. */
static int request(ls_client_t *c, const proto_msg_t *m, uint16_t want, proto_msg_t *out,
                   int timeout_ms)
{
    if (ls_send(c, m) != 0)
        return -1;
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - now_ms());
        if (left <= 0 || ls_recv(c, out, left) != 1)
            return -1;
        if (out->type == want)
            return 0;
    }
}

static int account_req(ls_client_t *c, uint16_t type, const char *name, const char *pw,
                       proto_account_result_t *out, int timeout_ms)
{
    proto_msg_t *m = calloc(2, sizeof *m);
    if (!m)
        return -1;
    m[0].type = type;
    if (type == PROTO_T_ACCOUNT_LOGIN) {
        snprintf(m[0].account_login.name, sizeof m[0].account_login.name, "%s", name);
        snprintf(m[0].account_login.password, sizeof m[0].account_login.password, "%s", pw);
    } else {
        snprintf(m[0].account_register.name, sizeof m[0].account_register.name, "%s", name);
        snprintf(m[0].account_register.password, sizeof m[0].account_register.password, "%s", pw);
    }
    int rc = request(c, &m[0], PROTO_T_ACCOUNT_RESULT, &m[1], timeout_ms);
    if (rc == 0 && out)
        *out = m[1].account_result;
    rc = rc == 0 ? m[1].account_result.code : -1;
    pa_wipe(m, sizeof *m);
    free(m);
    return rc;
}

int ls_login(ls_client_t *c, const char *name, const char *pw, proto_account_result_t *out,
             int timeout_ms)
{
    return account_req(c, PROTO_T_ACCOUNT_LOGIN, name, pw, out, timeout_ms);
}

int ls_register(ls_client_t *c, const char *name, const char *pw, proto_account_result_t *out,
                int timeout_ms)
{
    return account_req(c, PROTO_T_ACCOUNT_REGISTER, name, pw, out, timeout_ms);
}

int ls_ticket(ls_client_t *c, const char *shard, const char *character, proto_ticket_result_t *out,
              int timeout_ms)
{
    proto_msg_t *m = calloc(2, sizeof *m);
    if (!m)
        return -1;
    m[0].type = PROTO_T_TICKET_REQUEST;
    snprintf(m[0].ticket_request.shard, sizeof m[0].ticket_request.shard, "%s", shard);
    snprintf(m[0].ticket_request.character, sizeof m[0].ticket_request.character, "%s", character);
    int rc = request(c, &m[0], PROTO_T_TICKET_RESULT, &m[1], timeout_ms);
    if (rc == 0 && out)
        *out = m[1].ticket_result;
    rc = rc == 0 ? m[1].ticket_result.code : -1;
    free(m);
    return rc;
}

int ls_realm_list(ls_client_t *c, proto_realm_list_t *out, int timeout_ms)
{
    proto_msg_t *m = calloc(2, sizeof *m);
    if (!m)
        return -1;
    m[0].type = PROTO_T_REALM_LIST_REQUEST;
    int rc = request(c, &m[0], PROTO_T_REALM_LIST, &m[1], timeout_ms);
    if (rc == 0 && out)
        *out = m[1].realm_list;
    rc = rc == 0 ? m[1].realm_list.shards_count : -1;
    free(m);
    return rc;
}

int ls_http_get(int port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[300];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (fd < 0 || cap == 0 || n < 0 || (size_t)n >= sizeof req ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, req, (size_t)n) != n) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t rd;
    while (got < cap - 1 && (rd = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)rd;
    buf[got] = 0;
    close(fd);
    return (int)got;
}

double ls_metric(const char *page, const char *sample)
{
    char key[256];
    snprintf(key, sizeof key, "\n%s ", sample);
    const char *p = strstr(page, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}
