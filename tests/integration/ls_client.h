/* A small blocking client for the login server's protocol (tests and the
 * login_burst benchmark): TCP to 127.0.0.1, the handshake of proto_auth.h
 * (secure_hello, secure_begin), then sealed inner packets.  POSIX sockets;
 * no global state, so one client per thread is fine. */
#ifndef LS_CLIENT_H
#define LS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto_auth.h"
#include "proto_packets.h"

typedef struct ls_client_s {
    int fd;
    pa_chan_t ch;
    uint8_t server_kx[PA_KX_PK_BYTES]; /* as the server sent it (the pin) */
    uint8_t buf[1 << 15];
    size_t len;
} ls_client_t;

/* Connects to 127.0.0.1:port and runs the handshake.  0, or -1 (fd closed). */
int ls_connect(ls_client_t *c, uint16_t port, int timeout_ms);
/* Only the TCP connection (for hostile tests that speak the outer layer). */
int ls_connect_tcp(ls_client_t *c, uint16_t port);
void ls_close(ls_client_t *c);
/* The same from a source address (e.g. "127.0.0.2": another peer address
 * on loopback, for per-address limits); NULL = any. */
int ls_connect_src(ls_client_t *c, uint16_t port, const char *src, int timeout_ms);
int ls_connect_tcp_src(ls_client_t *c, uint16_t port, const char *src);

/* Outer packet as is (type + body).  0 or -1. */
int ls_send_raw(ls_client_t *c, uint16_t type, const void *body, size_t len);
/* Next outer packet: 1 got one (*type, body copied into out up to cap,
 * *len), 0 timeout, -1 closed or error. */
int ls_recv_raw(ls_client_t *c, uint16_t *type, uint8_t *out, size_t cap, size_t *len,
                int timeout_ms);
/* Seals inner packet m into box (cap >= PA_SEAL_MAX): its length or -1. */
int ls_seal(ls_client_t *c, const proto_msg_t *m, uint8_t *box, size_t cap);
/* Seals m and sends it as sealed_c2s.  0 or -1. */
int ls_send(ls_client_t *c, const proto_msg_t *m);
/* Next inner packet, opened and decoded: 1, 0 timeout, -1 closed/error
 * (a box that fails to open is an error). */
int ls_recv(ls_client_t *c, proto_msg_t *m, int timeout_ms);
/* 0 once the server closed the connection, -1 on timeout. */
int ls_expect_close(ls_client_t *c, int timeout_ms);

/* Requests with their answer: the result code (>= 0), or -1 when no answer
 * came (timeout, close, garbage).  out may be NULL. */
int ls_login(ls_client_t *c, const char *name, const char *pw, proto_account_result_t *out,
             int timeout_ms);
int ls_register(ls_client_t *c, const char *name, const char *pw, proto_account_result_t *out,
                int timeout_ms);
int ls_ticket(ls_client_t *c, const char *shard, const char *character, proto_ticket_result_t *out,
              int timeout_ms);
/* Shard count, or -1. */
int ls_realm_list(ls_client_t *c, proto_realm_list_t *out, int timeout_ms);

/* issue 16, the login server's metrics page: GET path on 127.0.0.1:port
 * into buf (the whole answer, NUL-terminated): bytes read or -1. */
int ls_http_get(int port, const char *path, char *buf, size_t cap);
/* The value of one sample ("name" or "name{labels}") on a page, or -1. */
double ls_metric(const char *page, const char *sample);

#endif
