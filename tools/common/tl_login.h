/* tl_login: the client side of the login server's encrypted connection,
 * without I/O (the caller moves the packets): secure_hello with a fresh
 * crypto_kx key pair, the server's key checked against a trust-on-first-use
 * pin file (like ssh's known_hosts), then inner packets sealed into
 * sealed_c2s and opened from sealed_s2c.  See protocol/README.md, "Login
 * handshake", and proto_auth.h. */
#ifndef TL_LOGIN_H
#define TL_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "proto_auth.h"
#include "proto_packets.h"

#define TL_LOGIN_MSG_MAX 1024

enum { TL_LS_NEW, TL_LS_HELLO_SENT, TL_LS_OPEN, TL_LS_FAILED };

typedef struct tl_login_s {
    int state;               /* TL_LS_*; FAILED is final: nothing more is sent */
    char peer[80];           /* "host:port", the pin file's key */
    const char *known_hosts; /* pin file path (not owned) */
    uint8_t cpk[PA_KX_PK_BYTES], csk[PA_KX_SK_BYTES];
    pa_chan_t ch;
    char err[TL_LOGIN_MSG_MAX];  /* why it failed (state FAILED) */
    char note[TL_LOGIN_MSG_MAX]; /* set once when a new key was pinned */
} tl_login_t;

/* 0, or -1 (pa_init failed, or host:port too long). */
int tl_login_init(tl_login_t *l, const char *host, uint16_t port, const char *known_hosts);
/* Fills out with secure_hello (a fresh key pair). */
int tl_login_hello(tl_login_t *l, uint64_t proto_hash, proto_msg_t *out);
/* The server's secure_hello_result: its code, then its key against the pin
 * file (a new host is pinned and l->note says so), then the channel.  On 0
 * begin_out holds secure_begin and the channel is open; on -1 l->err says
 * why and the connection must be closed without sending anything else. */
int tl_login_on_hello_result(tl_login_t *l, const proto_secure_hello_result_t *r,
                             proto_msg_t *begin_out);
/* Seals one inner c2s packet (account_register, account_login,
 * ticket_request, realm_list_request) into sealed_out (sealed_c2s).  Boxes
 * must be sent in the order sealed.  0, or -1 with l->err. */
int tl_login_seal(tl_login_t *l, const proto_msg_t *inner, proto_msg_t *sealed_out);
/* Opens a sealed_s2c into an inner s2c packet (account_result,
 * ticket_result, realm_list).  -1 with l->err on a failed authentication
 * (tampered, replayed, reordered), a malformed or unexpected inner packet;
 * the state is then FAILED and the connection must be closed. */
int tl_login_open(tl_login_t *l, const proto_sealed_s2c_t *s, proto_msg_t *inner_out);
/* Wipes the keys and the channel. */
void tl_login_wipe(tl_login_t *l);

/* The pin file: lines "host:port <64 hex kx key>", '#' comments.  Checks
 * (and on first use appends) peer's key; thread-safe within the process.
 * Returns TL_PIN_MATCH, TL_PIN_NEW (msg: "new login server key ..."),
 * TL_PIN_CHANGED or TL_PIN_ERROR (msg: what happened and what to do). */
enum { TL_PIN_MATCH = 0, TL_PIN_NEW = 1, TL_PIN_CHANGED = -1, TL_PIN_ERROR = -2 };
int tl_known_hosts_check(const char *file, const char *peer, const uint8_t key[PA_KX_PK_BYTES],
                         char *msg, size_t cap);

/* First line of a file (no CR/LF), for --password-file: 0, or -1 with msg
 * (missing, empty, longer than cap - 1). */
int tl_read_first_line(const char *file, char *out, size_t cap, char *msg, size_t msg_cap);

#endif
