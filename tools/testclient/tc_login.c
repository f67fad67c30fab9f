/* One encrypted connection to the login server on the testclient's engine:
 * netcore moves the packets, tl_login (tools/common) does the handshake,
 * the pin check and the sealing.  Handlers run on the connection's strand;
 * sends may come from any thread, so every tl_login call is under mu (the
 * sealed boxes then leave in the order they were sealed). */
#include "tc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tc_lconn_s {
    nc_engine_t *engine;
    nc_client_t *client;
    const tc_lconn_cbs_t *cbs;
    void *ud;
    uint64_t proto_hash;
    _Atomic nc_sid_t sid;
    atomic_int by_us, ended;
    pthread_mutex_t mu;
    tl_login_t lg;   /* under mu */
    proto_msg_t out; /* under mu: what is being sent */
    proto_msg_t in;  /* strand only: the outer packet */
    proto_msg_t inner;
};

static void fail_close(nc_session_t *s, tc_lconn_t *c)
{
    atomic_store(&c->by_us, 0);
    nc_session_close(s, NC_EINVAL, "login protocol error");
}

static void on_open(nc_session_t *s, void *ud)
{
    tc_lconn_t *c = ud;
    atomic_store(&c->sid, nc_session_id(s));
    pthread_mutex_lock(&c->mu);
    int rc = tl_login_hello(&c->lg, c->proto_hash, &c->out);
    if (rc == 0)
        rc = tl_send_msg(s, &c->out);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0)
        fail_close(s, c);
}

static void on_hello_result(nc_session_t *s, tc_lconn_t *c)
{
    pthread_mutex_lock(&c->mu);
    int rc = tl_login_on_hello_result(&c->lg, &c->in.secure_hello_result, &c->out);
    if (rc == 0)
        rc = tl_send_msg(s, &c->out);
    char note[TL_LOGIN_MSG_MAX];
    snprintf(note, sizeof note, "%s", c->lg.note);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) {
        fail_close(s, c);
        return;
    }
    c->cbs->on_ready(c, note[0] ? note : NULL, c->ud);
}

static void on_sealed(nc_session_t *s, tc_lconn_t *c)
{
    pthread_mutex_lock(&c->mu);
    int rc = tl_login_open(&c->lg, &c->in.sealed_s2c, &c->inner);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0)
        fail_close(s, c);
    else
        c->cbs->on_inner(c, &c->inner, c->ud);
}

static void set_error(tc_lconn_t *c, const char *fmt, const char *a)
{
    pthread_mutex_lock(&c->mu);
    c->lg.state = TL_LS_FAILED;
    snprintf(c->lg.err, sizeof c->lg.err, fmt, c->lg.peer, a);
    pthread_mutex_unlock(&c->mu);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    tc_lconn_t *c = ud;
    int rc = proto_decode(type, body, len, &c->in);
    if (rc < 0) {
        set_error(c, "bad packet from the login server %s: %s", proto_strerror(rc));
        fail_close(s, c);
    } else if (type == PROTO_T_SECURE_HELLO_RESULT) {
        on_hello_result(s, c);
    } else if (type == PROTO_T_SEALED_S2C) {
        on_sealed(s, c);
    } else if (type == PROTO_T_ERROR) {
        set_error(c,
                  "%s sent an error: %s (is it a login server? --login takes the "
                  "masterserver's --login-port, default 7002)",
                  c->in.error.text);
        fail_close(s, c);
    } else {
        set_error(c,
                  "unexpected packet from %s: '%s' (is it a login server? --login takes the "
                  "masterserver's --login-port, default 7002)",
                  proto_type_name(type) ? proto_type_name(type) : "?");
        fail_close(s, c);
    }
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)s;
    tc_lconn_t *c = ud;
    atomic_store(&c->sid, 0);
    pthread_mutex_lock(&c->mu);
    int failed = c->lg.state == TL_LS_FAILED;
    char text[TL_LOGIN_MSG_MAX];
    snprintf(text, sizeof text, "%s", failed ? c->lg.err : why->text);
    c->lg.state = TL_LS_FAILED; /* nothing more is sealed */
    tl_login_wipe(&c->lg);
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->ended, 1);
    c->cbs->on_end(c, text, failed || !atomic_load(&c->by_us), c->ud);
}

int tc_lconn_start(tc_net_t *net, const char *host, uint16_t port, const tc_opts_t *o,
                   const tc_lconn_cbs_t *cbs, void *ud, tc_lconn_t **out)
{
    tc_lconn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NC_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->engine = net->engine;
    c->cbs = cbs;
    c->ud = ud;
    c->proto_hash = o->proto_hash;
    if (tl_login_init(&c->lg, host, port, o->known_hosts) != 0) {
        tc_lconn_destroy(c);
        return NC_EINVAL;
    }
    nc_role_opts_t ro = {.name = "login",
                         .queue = net->queue,
                         .ud = c,
                         .no_reconnect = 1,
                         .handlers = {on_open, on_packet, on_close}};
    *out = c; /* before any handler can run: they may read the caller's copy */
    int rc = nc_client_create(net->engine, host, port, &ro, &c->client);
    if (rc != 0) {
        *out = NULL;
        tc_lconn_destroy(c);
        return rc;
    }
    return 0;
}

int tc_lconn_send(tc_lconn_t *c, const proto_msg_t *inner)
{
    nc_sid_t sid = atomic_load(&c->sid);
    pthread_mutex_lock(&c->mu);
    int rc = sid ? tl_login_seal(&c->lg, inner, &c->out) : -1;
    if (rc == 0)
        rc = tl_send_msg_id(c->engine, sid, &c->out);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void tc_lconn_close(tc_lconn_t *c)
{
    atomic_store(&c->by_us, 1);
    nc_sid_t sid = atomic_load(&c->sid);
    if (sid)
        nc_close_id(c->engine, sid, 0, "done");
}

int tc_lconn_connect_failed(tc_lconn_t *c)
{
    nc_role_stats_t st;
    nc_client_stats(c->client, &st);
    return st.connect_failures > 0 && !atomic_load(&c->sid) && !atomic_load(&c->ended);
}

void tc_lconn_destroy(tc_lconn_t *c)
{
    if (!c)
        return;
    atomic_store(&c->by_us, 1);
    if (c->client)
        nc_client_destroy(c->client); /* on_close has run when it returns */
    tl_login_wipe(&c->lg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
