/* testclient --bots --login: each bot's account provisioning on the login
 * server, driven by its connection's handlers (tc_login.c): register (or
 * log in when the name exists or registration is closed), pick the shard
 * (--shard or the first healthy one, asked once for all bots), get a ticket.
 * The bots' main loop (tc_bots.c) polls tc_prov_state and takes the ticket.
 * A login server whose hashing queue is full answers SERVER_FULL (and one
 * limiting registrations per address RATE_LIMITED): the bot asks again
 * later (back-off), from the main loop. */
#include "tc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT (PROV_FAILED + 1)
#define RETRY_MAX 30      /* SERVER_FULL answers before the bot gives up */
#define RETRY_CAP_MS 2000 /* back-off ceiling */

struct tc_prov_s {
    const tc_opts_t *o;
    tc_lconn_t *lc;
    char account[PROTO_ACCOUNT_LOGIN_NAME_MAX + 1];
    char character[PROTO_TICKET_REQUEST_CHARACTER_MAX + 1];
    int registering;      /* strand only: the last account packet was a register */
    atomic_int state;     /* PROV_* or WAIT (a retry is due at retry_at_ms) */
    uint64_t retry_at_ms; /* written before state becomes WAIT */
    unsigned retries;     /* strand, or main loop while WAIT */
    tc_ticket_t ticket;   /* written before state becomes PROV_READY */
};

static struct {
    pthread_mutex_t mu;
    char password[PROTO_ACCOUNT_LOGIN_PASSWORD_MAX + 1];
    char shard[PROTO_TICKET_REQUEST_SHARD_MAX + 1]; /* under mu; "" = not known yet */
    atomic_int reg_closed;
    struct {
        atomic_uint_fast64_t registered, logged_in, tickets, failed, retries;
    } n;
} pv = {.mu = PTHREAD_MUTEX_INITIALIZER};

int tc_prov_init(const tc_opts_t *o)
{
    if (o->shard)
        snprintf(pv.shard, sizeof pv.shard, "%s", o->shard);
    if (!o->password_file) {
        snprintf(pv.password, sizeof pv.password, "%s", TC_BOT_PASSWORD);
        return 0;
    }
    char msg[TL_LOGIN_MSG_MAX], pw[sizeof pv.password + 1];
    int rc = tl_read_first_line(o->password_file, pw, sizeof pw, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "testclient: --password-file: %s\n", msg);
    else if (strlen(pw) >= sizeof pv.password) {
        fprintf(stderr, "testclient: --password-file: longer than %zu bytes\n",
                sizeof pv.password - 1);
        rc = -1;
    } else
        memcpy(pv.password, pw, strlen(pw) + 1);
    pa_wipe(pw, sizeof pw);
    return rc;
}

void tc_prov_counts(tc_prov_counts_t *out)
{
    out->registered = atomic_load(&pv.n.registered);
    out->logged_in = atomic_load(&pv.n.logged_in);
    out->tickets = atomic_load(&pv.n.tickets);
    out->failed = atomic_load(&pv.n.failed);
    out->retries = atomic_load(&pv.n.retries);
}

static void prov_fail(tc_prov_t *p, const char *what, const char *why)
{
    int busy = PROV_BUSY;
    if (!atomic_compare_exchange_strong(&p->state, &busy, PROV_FAILED))
        return;
    atomic_fetch_add(&pv.n.failed, 1);
    fprintf(stderr, "bots: %s: %s: %s\n", p->account, what, why);
    tc_lconn_close(p->lc);
}

static void send_account(tc_prov_t *p, int reg)
{
    proto_msg_t m = {.type = reg ? PROTO_T_ACCOUNT_REGISTER : PROTO_T_ACCOUNT_LOGIN};
    proto_account_login_t *a =
        reg ? (proto_account_login_t *)&m.account_register : &m.account_login;
    snprintf(a->name, sizeof a->name, "%s", p->account);
    snprintf(a->password, sizeof a->password, "%s", pv.password);
    p->registering = reg;
    int rc = tc_lconn_send(p->lc, &m);
    pa_wipe(&m, sizeof m);
    if (rc != 0)
        prov_fail(p, "send", "cannot send to the login server");
}

/* Logged in: a ticket, after learning the shard if nobody did yet. */
static void next_step(tc_prov_t *p)
{
    proto_msg_t m = {.type = PROTO_T_TICKET_REQUEST};
    pthread_mutex_lock(&pv.mu);
    snprintf(m.ticket_request.shard, sizeof m.ticket_request.shard, "%s", pv.shard);
    pthread_mutex_unlock(&pv.mu);
    if (!m.ticket_request.shard[0])
        m.type = PROTO_T_REALM_LIST_REQUEST;
    snprintf(m.ticket_request.character, sizeof m.ticket_request.character, "%s", p->character);
    if (tc_lconn_send(p->lc, &m) != 0)
        prov_fail(p, "send", "cannot send to the login server");
}

static void on_ready(tc_lconn_t *c, const char *note, void *ud)
{
    (void)c;
    if (note)
        fprintf(stderr, "bots: %s\n", note);
    send_account(ud, !atomic_load(&pv.reg_closed));
}

static void on_account(tc_prov_t *p, const proto_account_result_t *r)
{
    if (r->code == 0) {
        atomic_fetch_add(p->registering ? &pv.n.registered : &pv.n.logged_in, 1);
        next_step(p);
    } else if (p->registering && r->code == PROTO_ERR_NAME_TAKEN) {
        send_account(p, 0);
    } else if ((r->code == PROTO_ERR_SERVER_FULL || r->code == PROTO_ERR_RATE_LIMITED) &&
               p->retries < RETRY_MAX) {
        /* its hashing queue is full, or registrations from this address are
         * rate-limited (accounts.registrations_per_address): later */
        uint64_t wait = 100u << (p->retries < 5 ? p->retries : 5);
        p->retries++;
        atomic_fetch_add(&pv.n.retries, 1);
        p->retry_at_ms =
            nc_now_ms() + (wait < RETRY_CAP_MS ? wait : RETRY_CAP_MS) + (uint64_t)(rand() % 100);
        atomic_store(&p->state, WAIT);
    } else if (p->registering && r->code == PROTO_ERR_REGISTRATION_CLOSED) {
        atomic_store(&pv.reg_closed, 1);
        send_account(p, 0);
    } else {
        prov_fail(p, p->registering ? "register" : "login", proto_err_text(r->code));
    }
}

static void on_realms(tc_prov_t *p, const proto_realm_list_t *r)
{
    int found = 0;
    pthread_mutex_lock(&pv.mu);
    for (int i = 0; i < r->shards_count && !pv.shard[0]; i++)
        if (r->shards[i].healthy)
            snprintf(pv.shard, sizeof pv.shard, "%s", r->shards[i].name);
    found = pv.shard[0] != 0;
    pthread_mutex_unlock(&pv.mu);
    if (found)
        next_step(p);
    else
        prov_fail(p, "realm list", "no healthy shard (start a gameserver, or give --shard)");
}

static void on_ticket(tc_prov_t *p, const proto_ticket_result_t *t)
{
    if (t->code == PROTO_ERR_NOT_AUTHENTICATED && p->registering) {
        send_account(p, 0); /* a server that wants a login after register */
        return;
    }
    if (t->code != 0) {
        prov_fail(p, "ticket", proto_err_text(t->code));
        return;
    }
    p->ticket.len = t->ticket_len;
    memcpy(p->ticket.bytes, t->ticket, t->ticket_len);
    snprintf(p->ticket.host, sizeof p->ticket.host, "%s", t->host);
    p->ticket.port = t->port;
    atomic_fetch_add(&pv.n.tickets, 1);
    atomic_store(&p->state, PROV_READY);
    tc_lconn_close(p->lc);
}

static void on_inner(tc_lconn_t *c, const proto_msg_t *m, void *ud)
{
    (void)c;
    tc_prov_t *p = ud;
    if (m->type == PROTO_T_ACCOUNT_RESULT)
        on_account(p, &m->account_result);
    else if (m->type == PROTO_T_REALM_LIST)
        on_realms(p, &m->realm_list);
    else if (m->type == PROTO_T_TICKET_RESULT)
        on_ticket(p, &m->ticket_result);
}

static void on_end(tc_lconn_t *c, const char *why, int error, void *ud)
{
    (void)c;
    tc_prov_t *p = ud;
    if (atomic_load(&p->state) == PROV_BUSY)
        prov_fail(p, "login connection", error ? why : "closed before a ticket");
}

static const tc_lconn_cbs_t cbs = {on_ready, on_inner, on_end};

tc_prov_t *tc_prov_start(tc_net_t *net, const tc_opts_t *o, const char *account,
                         const char *character)
{
    tc_prov_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->o = o;
    snprintf(p->account, sizeof p->account, "%s", account);
    snprintf(p->character, sizeof p->character, "%s", character);
    atomic_store(&p->state, PROV_BUSY);
    if (tc_lconn_start(net, o->login_host, o->login_port, o, &cbs, p, &p->lc) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

int tc_prov_state(tc_prov_t *p)
{
    int s = atomic_load(&p->state);
    if (s == PROV_BUSY && tc_lconn_connect_failed(p->lc))
        prov_fail(p, "login server", "cannot connect");
    if (s == WAIT && nc_now_ms() >= p->retry_at_ms) {
        atomic_store(&p->state, PROV_BUSY); /* no request in flight: handlers are idle */
        send_account(p, p->registering);
    }
    s = atomic_load(&p->state);
    return s == WAIT ? PROV_BUSY : s;
}

const tc_ticket_t *tc_prov_ticket(const tc_prov_t *p)
{
    return &p->ticket;
}

void tc_prov_destroy(tc_prov_t *p)
{
    if (!p)
        return;
    tc_lconn_destroy(p->lc);
    pa_wipe(&p->ticket, sizeof p->ticket);
    free(p);
}
