/* The login connection's client side without I/O (tl_login.h): handshake,
 * trust-on-first-use pinning of the server's kx key, sealing and opening of
 * inner packets.  Only proto_auth (libsodium) does cryptography here. */
#include "tl_login.h"

#include "proto_s2s.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int fail(tl_login_t *l, const char *fmt, const char *a, const char *b)
{
    l->state = TL_LS_FAILED;
    snprintf(l->err, sizeof l->err, fmt, a, b);
    pa_chan_wipe(&l->ch);
    pa_wipe(l->csk, sizeof l->csk);
    return -1;
}

int tl_login_init(tl_login_t *l, const char *host, uint16_t port, const char *known_hosts)
{
    memset(l, 0, sizeof *l);
    l->known_hosts = known_hosts;
    int n = snprintf(l->peer, sizeof l->peer, "%s:%u", host, (unsigned)port);
    if (n < 0 || (size_t)n >= sizeof l->peer || pa_init() != PA_OK)
        return -1;
    return 0;
}

int tl_login_hello(tl_login_t *l, uint64_t proto_hash, proto_msg_t *out)
{
    if (l->state != TL_LS_NEW)
        return -1;
    if (pa_kx_keypair(l->cpk, l->csk) != PA_OK)
        return fail(l, "cannot make a key pair%s%s", "", "");
    memset(out, 0, sizeof *out);
    out->type = PROTO_T_SECURE_HELLO;
    out->secure_hello.proto_hash = proto_hash;
    out->secure_hello.client_key_len = PA_KX_PK_BYTES;
    memcpy(out->secure_hello.client_key, l->cpk, PA_KX_PK_BYTES);
    l->state = TL_LS_HELLO_SENT;
    return 0;
}

int tl_login_on_hello_result(tl_login_t *l, const proto_secure_hello_result_t *r,
                             proto_msg_t *begin_out)
{
    if (l->state != TL_LS_HELLO_SENT)
        return fail(l, "unexpected secure_hello_result from the login server %s%s", l->peer, "");
    if (r->code == PROTO_ERR_HASH_MISMATCH)
        return fail(l,
                    "the login server %s refused the handshake: %s (rebuild the client and the "
                    "server from the same tree)",
                    l->peer, proto_err_text(r->code));
    if (r->code != 0)
        return fail(l, "the login server %s refused the handshake: %s", l->peer,
                    proto_err_text(r->code));
    if (r->server_key_len != PA_KX_PK_BYTES || r->header_len != PA_HEADER_BYTES)
        return fail(l, "malformed secure_hello_result from the login server %s%s", l->peer, "");
    char msg[TL_LOGIN_MSG_MAX];
    int pin = tl_known_hosts_check(l->known_hosts, l->peer, r->server_key, msg, sizeof msg);
    if (pin < 0)
        return fail(l, "%s%s", msg, "");
    if (pin == TL_PIN_NEW)
        snprintf(l->note, sizeof l->note, "%s", msg);
    memset(begin_out, 0, sizeof *begin_out);
    begin_out->type = PROTO_T_SECURE_BEGIN;
    begin_out->secure_begin.header_len = PA_HEADER_BYTES;
    int rc = pa_chan_client_start(&l->ch, l->cpk, l->csk, r->server_key, r->header,
                                  begin_out->secure_begin.header);
    pa_wipe(l->csk, sizeof l->csk);
    if (rc != PA_OK)
        return fail(l, "key exchange with the login server %s failed: %s", l->peer,
                    pa_strerror(rc));
    l->state = TL_LS_OPEN;
    return 0;
}

static int inner_c2s(uint16_t t)
{
    return t == PROTO_T_ACCOUNT_REGISTER || t == PROTO_T_ACCOUNT_LOGIN ||
           t == PROTO_T_TICKET_REQUEST || t == PROTO_T_REALM_LIST_REQUEST;
}

static int inner_s2c(uint16_t t)
{
    return t == PROTO_T_ACCOUNT_RESULT || t == PROTO_T_TICKET_RESULT || t == PROTO_T_REALM_LIST;
}

int tl_login_seal(tl_login_t *l, const proto_msg_t *inner, proto_msg_t *sealed_out)
{
    if (l->state != TL_LS_OPEN || !inner_c2s(inner->type))
        return -1;
    uint8_t plain[PA_PLAIN_MAX];
    plain[0] = (uint8_t)(inner->type & 0xff);
    plain[1] = (uint8_t)(inner->type >> 8);
    int n = proto_encode(inner, plain + 2, sizeof plain - 2);
    int rc = PA_EMALFORMED;
    if (n >= 0) {
        memset(sealed_out, 0, sizeof *sealed_out);
        sealed_out->type = PROTO_T_SEALED_C2S;
        rc = pa_chan_seal(&l->ch, plain, (size_t)n + 2, sealed_out->sealed_c2s.box,
                          sizeof sealed_out->sealed_c2s.box);
    }
    pa_wipe(plain, sizeof plain); /* it held a password */
    if (rc < 0)
        return fail(l, "cannot seal a packet for %s: %s", l->peer, pa_strerror(rc));
    sealed_out->sealed_c2s.box_len = (uint16_t)rc;
    return 0;
}

int tl_login_open(tl_login_t *l, const proto_sealed_s2c_t *s, proto_msg_t *inner_out)
{
    if (l->state != TL_LS_OPEN)
        return fail(l, "sealed packet from the login server %s before the channel opened%s",
                    l->peer, "");
    uint8_t plain[PA_PLAIN_MAX];
    int n = pa_chan_open(&l->ch, s->box, s->box_len, plain, sizeof plain);
    if (n == PA_ECRYPTO)
        return fail(l,
                    "the login connection to %s failed authentication (tampered, replayed or "
                    "not from the server: %s); closed",
                    l->peer, pa_strerror(n));
    if (n < 0)
        return fail(l, "bad sealed packet from the login server %s: %s", l->peer, pa_strerror(n));
    if (n < 2)
        return fail(l, "empty inner packet from the login server %s%s", l->peer, "");
    uint16_t type = (uint16_t)(plain[0] | plain[1] << 8);
    int rc = inner_s2c(type) ? proto_decode(type, plain + 2, (size_t)n - 2, inner_out) : -1;
    if (rc < 0)
        return fail(l, "unexpected or malformed inner packet from the login server %s (%s)",
                    l->peer, proto_type_name(type) ? proto_type_name(type) : "unknown type");
    return 0;
}

void tl_login_wipe(tl_login_t *l)
{
    pa_chan_wipe(&l->ch);
    pa_wipe(l->csk, sizeof l->csk);
}

/* ---- the pin file -------------------------------------------------------- */

static pthread_mutex_t pin_mu = PTHREAD_MUTEX_INITIALIZER;

/* Scans file for peer: 0 no line, 1 a matching line, -1 only other keys
 * (*line_no, old_hex: the first), -2 unreadable or malformed (msg). */
static int pin_scan(FILE *f, const char *file, const char *peer, const uint8_t *key, int *line_no,
                    char *old_hex, char *msg, size_t cap)
{
    char line[512];
    int no = 0, found = 0;
    size_t plen = strlen(peer);
    while (fgets(line, sizeof line, f)) {
        no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') { /* over-long: not ours */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, peer, plen) != 0 || (p[plen] != ' ' && p[plen] != '\t'))
            continue;
        p += plen + strspn(p + plen, " \t");
        uint8_t pinned[PA_KX_PK_BYTES];
        char hex[PA_KEY_HEX_LEN + 1];
        snprintf(hex, sizeof hex, "%.*s", PA_KEY_HEX_LEN, p);
        const char *tail = p + strlen(hex);
        if (pa_unhex(hex, pinned, sizeof pinned) != 0 || tail[strspn(tail, " \t\r\n")]) {
            snprintf(msg, cap,
                     "%s line %d is malformed (want 'host:port <64 hex digits>'); fix or "
                     "remove it",
                     file, no);
            return -2;
        }
        if (pa_memcmp(pinned, key, sizeof pinned) == 0)
            return 1;
        if (!found) {
            found = 1;
            *line_no = no;
            memcpy(old_hex, hex, sizeof hex);
        }
    }
    if (ferror(f)) {
        snprintf(msg, cap, "cannot read %s", file);
        return -2;
    }
    return found ? -1 : 0;
}

static int pin_append(const char *file, const char *peer, const char *hex, char *msg, size_t cap)
{
    FILE *f = fopen(file, "a");
    if (!f) {
        snprintf(msg, cap, "cannot store the login server key in %s: %s", file, strerror(errno));
        return TL_PIN_ERROR;
    }
    int bad = fprintf(f, "%s %s\n", peer, hex) < 0;
    bad |= fclose(f) != 0;
    if (bad) {
        snprintf(msg, cap, "cannot write %s", file);
        return TL_PIN_ERROR;
    }
    snprintf(msg, cap, "new login server key for %s: %s (stored in %s)", peer, hex, file);
    return TL_PIN_NEW;
}

int tl_known_hosts_check(const char *file, const char *peer, const uint8_t key[PA_KX_PK_BYTES],
                         char *msg, size_t cap)
{
    char hex[PA_KEY_HEX_LEN + 1], old[PA_KEY_HEX_LEN + 1] = "";
    pa_hex(key, PA_KX_PK_BYTES, hex, sizeof hex);
    msg[0] = 0;
    if (!file || !*file) {
        snprintf(msg, cap, "no known-hosts file to check the login server key against");
        return TL_PIN_ERROR;
    }
    pthread_mutex_lock(&pin_mu);
    int line_no = 0, found = 0;
    FILE *f = fopen(file, "r");
    if (f) {
        found = pin_scan(f, file, peer, key, &line_no, old, msg, cap);
        fclose(f);
    } else if (errno != ENOENT) {
        snprintf(msg, cap, "cannot read %s: %s", file, strerror(errno));
        found = -2;
    }
    int rc = found == 1    ? TL_PIN_MATCH
             : found == 0  ? pin_append(file, peer, hex, msg, cap)
             : found == -2 ? TL_PIN_ERROR
                           : TL_PIN_CHANGED;
    pthread_mutex_unlock(&pin_mu);
    if (rc == TL_PIN_CHANGED)
        snprintf(msg, cap,
                 "the login server %s presented a DIFFERENT key than the one pinned for it.\n"
                 "  pinned (%s line %d): %s\n"
                 "  presented now: %s\n"
                 "Someone may be intercepting the connection, or the server's key was replaced.\n"
                 "Nothing was sent (no password). If the change is expected (key rotation), remove "
                 "the old line and connect again:\n"
                 "  sed -i '/^%s /d' %s",
                 peer, file, line_no, old, hex, peer, file);
    return rc;
}

int tl_read_first_line(const char *file, char *out, size_t cap, char *msg, size_t msg_cap)
{
    return pa_read_first_line(file, out, cap, msg, msg_cap) < 0 ? -1 : 0; /* proto_s2s.h */
}
