/* The login listener (`--login-port`): players' encrypted connections.
 * Handshake (secure_hello -> secure_hello_result, secure_begin), then
 * sealed_c2s / sealed_s2c boxes, each an inner packet (u16 type + body).
 *
 * Threads: a session's packets run in order on its strand (queue "login").
 * Password hashing and verifying run as jobs on the capped queue "auth"
 * (cap accounts.hash_threads, capacity accounts.hash_queue); a job holds
 * its session (nc_session_hold) and posts its answer back to the session's
 * strand, so the strand never blocks on a hash and the realm list, the
 * registry's heartbeats and registrations never wait behind one.  While a
 * session's hash is in flight its next requests wait, in order, in a small
 * per-session list (login.max_pending; more closes the session). */
#include "master_auth.h"
#include "nc_evict.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "login"
#define INNER_MAX 160 /* 2-byte type + the largest inner c2s body (account_register: 156) */
#define KEEP_CHARACTERS PROTO_ACCOUNT_RESULT_CHARACTERS_MAX

_Static_assert(2 + PROTO_MAX_SIZE_ACCOUNT_REGISTER <= INNER_MAX, "inner packet bound");
_Static_assert(2 + PROTO_MAX_SIZE_REALM_LIST <= PA_PLAIN_MAX, "realm list fits one box");
_Static_assert(PA_TICKET_MAX <= PROTO_TICKET_RESULT_TICKET_MAX, "ticket fits ticket_result");

struct master_login_s {
    master_auth_cfg_t cfg;
    pa_identity_t id;
    macct_t *acct;
    nc_engine_t *engine;
    nc_queue_t *q_login, *q_auth;
    nc_server_t *srv;
    mlock_t *lk_name, *lk_addr;
    mlock_t *lk_reg;  /* registrations per address; NULL = no limit */
    mconn_t *conns;   /* live connections per address */
    mconn_t *hashing; /* auth jobs queued per address; NULL = no limit */
    /* live connections in order of arrival (its count: the live ones),
     * shared by every session's strand: under mu */
    pthread_mutex_t mu;
    nc_evict_t conns_by_age;
    char dummy_hash[MASTER_HASH_MAX]; /* verified for unknown names: same timing class */
    atomic_int stopping;
    nc_log_state_t rl_close, rl_ok, rl_fail, rl_full, rl_addr, rl_hash, rl_evict;
    atomic_ullong n_ok, n_failed, n_locked, n_full, n_registered, n_tickets;
    /* issue 16, the metrics page: results by MASTER_RES_*, locks started */
    nc_pool_t *pool;
    atomic_ullong m_login[MASTER_RES_N], m_reg[MASTER_RES_N], n_lockouts, n_sessions;
    atomic_ullong n_hash_addr, n_evicted;
};

typedef struct inner_s {
    uint16_t len;
    uint8_t b[INNER_MAX];
} inner_t;

enum { S_HELLO, S_BEGIN, S_OPEN };

typedef struct lsess_s {
    master_login_t *L;
    pa_chan_t ch;
    int state;
    int busy; /* an auth job holds this session */
    int authed;
    int counted;         /* holds one of its address's connections in L->conns */
    atomic_int inflight; /* = busy, readable by other sessions' eviction */
    nc_evict_node_t age; /* in L->conns_by_age (under L->mu) */
    nc_sid_t sid;
    int role;
    uint64_t account_id;
    char account[PA_TICKET_NAME_MAX + 1];
    char addr[72]; /* peer without its port: the per-address lock-out key */
    uint32_t npend, head;
    inner_t *pend; /* login.max_pending entries */
} lsess_t;

typedef struct ajob_s {
    master_login_t *L;
    nc_session_t *s; /* held (nc_session_hold) until done() ran */
    int reg;
    int hash_counted; /* holds one of its address's slots in L->hashing */
    char name[PA_TICKET_NAME_MAX + 1];
    char key[PA_TICKET_NAME_MAX + 1]; /* name folded to lower case */
    char addr[72];
    char pw[MASTER_PW_MAX + 1];
    size_t pwlen;
    proto_account_result_t res;
    char account[PA_TICKET_NAME_MAX + 1];
} ajob_t;

#define HOLD_BYTES 256u
/* netcore's own cap for the login role sits this far above login.max_sessions:
 * a newcomer at the cap evicts an idle connection in its first job */
#define LOGIN_EXTRA 64u
/* idle connections (oldest first) a newcomer at the cap compares to pick
 * the one to evict: the scan's cost stays bounded under a reconnect flood */
#define EVICT_SCAN 64u /* what a job in flight counts against max_input_bytes */

static void handle_inner(nc_session_t *s, lsess_t *ls, const uint8_t *p, size_t n);

/* ---- helpers ---------------------------------------------------------------- */

static int res_of(int code)
{
    switch (code) {
    case 0: return MASTER_RES_OK;
    case PROTO_ERR_AUTH_FAILED: return MASTER_RES_AUTH_FAILED;
    case PROTO_ERR_LOCKED_OUT: return MASTER_RES_LOCKED_OUT;
    case PROTO_ERR_SERVER_FULL: return MASTER_RES_SERVER_FULL;
    case PROTO_ERR_TRY_LATER: return MASTER_RES_STORE_DOWN;
    case PROTO_ERR_INTERNAL: return MASTER_RES_INTERNAL;
    case PROTO_ERR_SHUTTING_DOWN: return MASTER_RES_SHUTTING_DOWN;
    case PROTO_ERR_NAME_TAKEN: return MASTER_RES_NAME_TAKEN;
    case PROTO_ERR_REGISTRATION_CLOSED: return MASTER_RES_CLOSED;
    case PROTO_ERR_BAD_NAME: return MASTER_RES_BAD_NAME;
    case PROTO_ERR_BAD_PASSWORD: return MASTER_RES_BAD_PASSWORD;
    case PROTO_ERR_RATE_LIMITED: return MASTER_RES_RATE_LIMITED;
    default: return MASTER_RES_OTHER;
    }
}

const char *master_result_label(int res)
{
    static const char *const labels[MASTER_RES_N] = {
        "ok",           "auth_failed",   "locked_out", "server_full",         "store_down",
        "internal",     "shutting_down", "name_taken", "registration_closed", "bad_name",
        "bad_password", "rate_limited",  "other"};
    return res >= 0 && res < MASTER_RES_N ? labels[res] : "other";
}

/* One answered login (reg 0) or registration (reg 1), for the metrics. */
static void count_result(master_login_t *L, int reg, int code)
{
    atomic_fetch_add(reg ? &L->m_reg[res_of(code)] : &L->m_login[res_of(code)], 1);
}

static void count_lock(master_login_t *L, uint64_t lock_ms)
{
    if (lock_ms)
        atomic_fetch_add(&L->n_lockouts, 1);
}

static void drop(nc_session_t *s, lsess_t *ls, int code, const char *why)
{
    nc_log_limited(&ls->L->rl_close, 1000, NC_LOG_INFO, TAG, "[%llx] %s: closing: %s",
                   (unsigned long long)nc_session_id(s), nc_session_peer(s), why);
    nc_session_close(s, code, why);
}

/* Seals an inner packet (type + body) and sends it as sealed_s2c. */
static void seal_send(nc_session_t *s, lsess_t *ls, uint16_t type, const uint8_t *body, int n)
{
    if (n < 0 || (size_t)n + 2 > PA_PLAIN_MAX) {
        drop(s, ls, PROTO_ERR_INTERNAL, "cannot encode an answer");
        return;
    }
    uint8_t plain[PA_PLAIN_MAX];
    plain[0] = (uint8_t)(type & 0xff);
    plain[1] = (uint8_t)(type >> 8);
    memcpy(plain + 2, body, (size_t)n);
    nc_packet_t *p = nc_packet_alloc(PROTO_MAX_SIZE_SEALED_S2C);
    if (!p) {
        drop(s, ls, NC_ENOMEM, "out of memory");
        return;
    }
    proto_sealed_s2c_t *box = malloc(sizeof *box);
    int len = box ? pa_chan_seal(&ls->ch, plain, (size_t)n + 2, box->box, sizeof box->box) : -1;
    int enc = -1;
    if (len > 0) {
        box->box_len = (uint16_t)len;
        enc = proto_encode_sealed_s2c(box, nc_packet_body(p), p->cap);
    }
    free(box);
    pa_wipe(plain, sizeof plain);
    if (enc < 0) {
        nc_packet_release(p);
        drop(s, ls, PROTO_ERR_INTERNAL, "cannot seal an answer");
        return;
    }
    p->len = (uint32_t)enc;
    p->type = PROTO_T_SEALED_S2C;
    nc_send_packet(s, p);
    nc_packet_release(p);
}

static void send_account_result(nc_session_t *s, lsess_t *ls, const proto_account_result_t *r)
{
    uint8_t b[PROTO_MAX_SIZE_ACCOUNT_RESULT];
    seal_send(s, ls, PROTO_T_ACCOUNT_RESULT, b, proto_encode_account_result(r, b, sizeof b));
}

static void account_code(nc_session_t *s, lsess_t *ls, int code)
{
    proto_account_result_t r = {.code = (int16_t)code};
    send_account_result(s, ls, &r);
}

static void ticket_code(nc_session_t *s, lsess_t *ls, int code)
{
    proto_ticket_result_t r = {.code = (int16_t)code};
    uint8_t b[PROTO_MAX_SIZE_TICKET_RESULT];
    seal_send(s, ls, PROTO_T_TICKET_RESULT, b, proto_encode_ticket_result(&r, b, sizeof b));
}

static void fold(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    out[i] = 0;
}

/* Character names follow the game server's rule: 2-24 letters, digits or _. */
static int character_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 2 || len > PA_TICKET_NAME_MAX)
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return 0;
    return 1;
}

/* ---- the auth job (runs on the "auth" queue) --------------------------------- */

/* The answer to a store call that returned -1: TRY_LATER while the store
 * is unreachable (PostgreSQL down: the driver reconnects with back-off),
 * INTERNAL for any other database error. */
static int16_t store_error(master_login_t *L)
{
    return macct_available(L->acct) ? PROTO_ERR_INTERNAL : PROTO_ERR_TRY_LATER;
}

/* The lock a name with `failed` failures gets (mlock_fail's rule). */
static uint64_t lock_for(const master_auth_cfg_t *c, uint32_t failed)
{
    if (failed < c->lock_account)
        return 0;
    uint64_t lock = c->lock_base_ms;
    for (uint32_t i = 0; i < failed - c->lock_account && lock < c->lock_max_ms; i++)
        lock *= 2;
    return lock > c->lock_max_ms ? c->lock_max_ms : lock;
}

static void job_login(ajob_t *j)
{
    master_login_t *L = j->L;
    macct_row_t row;
    int found = macct_find(L->acct, j->name, &row);
    if (found < 0) {
        j->res.code = store_error(L);
        return;
    }
    if (found && row.locked_until_ms > nc_wall_ms()) { /* a lock that survived a restart */
        j->res.code = PROTO_ERR_LOCKED_OUT;
        return;
    }
    /* Unknown names verify against a dummy hash of the same cost, so the
     * answer and its time are the same for both. */
    int ok = master_verify(found ? row.hash : L->dummy_hash, j->pw, j->pwlen) == 0 && found;
    if (!ok) {
        uint64_t lock_ms = 0, addr_lock = 0, now = nc_now_ms();
        uint32_t failed;
        mlock_fail(L->lk_addr, j->addr, now, &addr_lock); /* per process */
        if (found) {
            /* issue 16: an existing account's counter lives in the store,
             * so login servers sharing one PostgreSQL share it (and a
             * success on any of them clears it); a stored count with no
             * failure for lockout_forget_ms starts over */
            uint64_t wall = nc_wall_ms();
            int live = row.failed > 0 && wall >= row.last_failed_ms &&
                       wall - row.last_failed_ms < L->cfg.lock_forget_ms;
            failed = live && row.failed < UINT32_MAX ? row.failed + 1 : live ? row.failed : 1;
            lock_ms = lock_for(&L->cfg, failed);
        } else {
            failed = mlock_fail(L->lk_name, j->key, now, &lock_ms); /* unknown names */
        }
        /* an unknown name runs the same UPDATE on id 0 (no such row), so
         * the database time does not tell the two apart either */
        macct_login_failed(L->acct, found ? row.id : 0, failed,
                           lock_ms ? nc_wall_ms() + lock_ms : 0);
        count_lock(L, lock_ms);
        count_lock(L, addr_lock);
        j->res.code = PROTO_ERR_AUTH_FAILED;
        return;
    }
    char fresh[MASTER_HASH_MAX];
    int rehash =
        master_needs_rehash(&L->cfg, row.hash) && master_hash(&L->cfg, j->pw, j->pwlen, fresh) == 0;
    mlock_reset(L->lk_name, j->key);
    if (macct_login_ok(L->acct, row.id, rehash ? fresh : NULL) != 0) {
        j->res.code = store_error(L); /* not confirmed: not a login */
        return;
    }
    j->res.account_id = row.id;
    j->res.role = (uint8_t)row.role;
    int n = macct_characters(L->acct, row.id, j->res.characters, KEEP_CHARACTERS);
    j->res.characters_count = (uint16_t)(n > 0 ? n : 0);
    snprintf(j->account, sizeof j->account, "%s", row.name);
}

static void job_register(ajob_t *j)
{
    char hash[MASTER_HASH_MAX];
    if (master_hash(&j->L->cfg, j->pw, j->pwlen, hash) != 0) {
        j->res.code = PROTO_ERR_INTERNAL;
        return;
    }
    uint64_t id = 0;
    int rc = macct_insert(j->L->acct, j->name, hash, PA_ROLE_PLAYER, &id);
    j->res.code = (int16_t)(rc < 0 ? store_error(j->L) : rc > 0 ? PROTO_ERR_NAME_TAKEN : 0);
    j->res.account_id = id;
    j->res.role = PA_ROLE_PLAYER;
    snprintf(j->account, sizeof j->account, "%s", j->name);
}

static void done(void *arg);

static void auth_job(void *arg)
{
    ajob_t *j = arg;
    if (atomic_load(&j->L->stopping))
        j->res.code = PROTO_ERR_SHUTTING_DOWN;
    else if (j->reg)
        job_register(j);
    else
        job_login(j);
    pa_wipe(j->pw, sizeof j->pw);
    if (nc_strand_post_force(nc_session_strand(j->s), done, j) != 0) {
        if (j->hash_counted)
            mconn_del(j->L->hashing, j->addr);
        nc_session_unhold(j->s, HOLD_BYTES); /* pool stopping: nobody to answer */
        free(j);
    }
}

/* Back on the session's strand with the job's answer. */
static void done(void *arg)
{
    ajob_t *j = arg;
    nc_session_t *s = j->s;
    lsess_t *ls = nc_session_ud(s);
    master_login_t *L = j->L;
    count_result(L, j->reg, j->res.code); /* answered or not: it happened */
    if (j->hash_counted)
        mconn_del(L->hashing, j->addr);
    if (ls)
        atomic_store(&ls->inflight, 0);
    if (ls && !nc_session_is_closing(s)) {
        ls->busy = 0;
        int code = j->res.code;
        if (code == 0) {
            ls->authed = 1;
            ls->account_id = j->res.account_id;
            ls->role = j->res.role;
            snprintf(ls->account, sizeof ls->account, "%s", j->account);
            atomic_fetch_add(j->reg ? &L->n_registered : &L->n_ok, 1);
            nc_log_limited(&L->rl_ok, 1000, NC_LOG_INFO, TAG,
                           "[%llx] %s: account '%s' (id %llu) %s",
                           (unsigned long long)nc_session_id(s), nc_session_peer(s), ls->account,
                           (unsigned long long)ls->account_id, j->reg ? "registered" : "logged in");
        } else {
            atomic_fetch_add(code == PROTO_ERR_LOCKED_OUT ? &L->n_locked : &L->n_failed, 1);
            nc_log_limited(&L->rl_fail, 1000, NC_LOG_WARN, TAG, "[%llx] %s: %s '%s' refused: %s",
                           (unsigned long long)nc_session_id(s), nc_session_peer(s),
                           j->reg ? "registration of" : "login to", j->name, proto_err_text(code));
        }
        send_account_result(s, ls, &j->res);
        while (!ls->busy && ls->npend > 0 && !nc_session_is_closing(s)) {
            inner_t *in = &ls->pend[ls->head];
            ls->head = (ls->head + 1) % ls->L->cfg.login_pending;
            ls->npend--;
            handle_inner(s, ls, in->b, in->len);
            pa_wipe(in, sizeof *in);
        }
    }
    nc_session_unhold(s, HOLD_BYTES);
    free(j);
}

/* ---- inner packets (on the session's strand) ----------------------------------- */

static void start_job(nc_session_t *s, lsess_t *ls, int reg, const char *name, const char *pw)
{
    master_login_t *L = ls->L;
    ajob_t *j = calloc(1, sizeof *j);
    if (!j) {
        drop(s, ls, NC_ENOMEM, "out of memory");
        return;
    }
    j->L = L;
    j->s = s;
    j->reg = reg;
    snprintf(j->name, sizeof j->name, "%s", name);
    fold(name, j->key, sizeof j->key);
    snprintf(j->addr, sizeof j->addr, "%s", ls->addr);
    j->pwlen = strlen(pw);
    memcpy(j->pw, pw, j->pwlen);
    /* One address's share of the hashing queue (accounts.hash_per_address),
     * checked before the hash is paid for: an attacker's connections from
     * one address cannot fill the queue and make everyone else wait. */
    if (L->hashing) {
        int rc = mconn_add(L->hashing, j->addr, L->cfg.hash_per_addr);
        if (rc == 0) {
            pa_wipe(j, sizeof *j);
            free(j);
            atomic_fetch_add(&L->n_hash_addr, 1);
            nc_log_limited(&L->rl_hash, 1000, NC_LOG_WARN, TAG,
                           "[%llx] %s: %u password checks of that address already queued "
                           "(accounts.hash_per_address): answering server full",
                           (unsigned long long)nc_session_id(s), ls->addr,
                           (unsigned)L->cfg.hash_per_addr);
            account_code(s, ls, PROTO_ERR_SERVER_FULL);
            return;
        }
        j->hash_counted = rc == 1;
    }
    nc_session_hold(s, HOLD_BYTES);
    atomic_store(&ls->inflight, 1);
    if (nc_queue_post(L->q_auth, auth_job, j) != 0) {
        atomic_store(&ls->inflight, 0);
        if (j->hash_counted)
            mconn_del(L->hashing, j->addr);
        nc_session_unhold(s, HOLD_BYTES);
        pa_wipe(j, sizeof *j);
        free(j);
        atomic_fetch_add(&L->n_full, 1);
        count_result(L, reg, PROTO_ERR_SERVER_FULL);
        nc_log_limited(&L->rl_full, 1000, NC_LOG_WARN, TAG,
                       "auth queue full (accounts.hash_queue %u): answering server full",
                       (unsigned)L->cfg.hash_queue);
        account_code(s, ls, PROTO_ERR_SERVER_FULL);
        return;
    }
    ls->busy = 1;
}

static void on_login(nc_session_t *s, lsess_t *ls, const proto_account_login_t *m)
{
    master_login_t *L = ls->L;
    char key[PA_TICKET_NAME_MAX + 1];
    fold(m->name, key, sizeof key);
    uint64_t now = nc_now_ms();
    if (mlock_check(L->lk_addr, ls->addr, now) || mlock_check(L->lk_name, key, now)) {
        atomic_fetch_add(&L->n_locked, 1);
        count_result(L, 0, PROTO_ERR_LOCKED_OUT);
        account_code(s, ls, PROTO_ERR_LOCKED_OUT);
        return;
    }
    /* A name or password that cannot exist fails like a wrong password
     * (and counts as one), without hashing. */
    if (!master_account_name_ok(m->name) || !master_password_ok(strlen(m->password))) {
        uint64_t lock;
        mlock_fail(L->lk_name, key, now, &lock);
        count_lock(L, lock);
        mlock_fail(L->lk_addr, ls->addr, now, &lock);
        count_lock(L, lock);
        atomic_fetch_add(&L->n_failed, 1);
        count_result(L, 0, PROTO_ERR_AUTH_FAILED);
        account_code(s, ls, PROTO_ERR_AUTH_FAILED);
        return;
    }
    start_job(s, ls, 0, m->name, m->password);
}

/* "127.x.x.x", "::1" or "[::1]" (the address part of a peer string). */
static int is_loopback(const char *a)
{
    return !strncmp(a, "127.", 4) || !strcmp(a, "::1") || !strcmp(a, "[::1]");
}

static void on_register(nc_session_t *s, lsess_t *ls, const proto_account_register_t *m)
{
    int code = !ls->L->cfg.open_registration              ? PROTO_ERR_REGISTRATION_CLOSED
               : !master_account_name_ok(m->name)         ? PROTO_ERR_BAD_NAME
               : !master_password_ok(strlen(m->password)) ? PROTO_ERR_BAD_PASSWORD
                                                          : 0;
    mlock_t *reg = ls->L->lk_reg;
    if (reg && ls->L->cfg.login_exempt_loopback && is_loopback(ls->addr))
        reg = NULL; /* bots on a dev shard register from one loopback address */
    uint64_t now = nc_now_ms(), lock;
    if (!code && reg && mlock_check(reg, ls->addr, now))
        code = PROTO_ERR_RATE_LIMITED;
    if (code) {
        count_result(ls->L, 1, code);
        account_code(s, ls, code);
        return;
    }
    if (reg) /* every attempt counts, taken names too */
        mlock_fail(reg, ls->addr, now, &lock);
    start_job(s, ls, 1, m->name, m->password);
}

static void on_ticket(nc_session_t *s, lsess_t *ls, const proto_ticket_request_t *m)
{
    master_login_t *L = ls->L;
    proto_shard_info_t shard;
    int code = !ls->authed                               ? PROTO_ERR_NOT_AUTHENTICATED
               : !character_ok(m->character)             ? PROTO_ERR_BAD_NAME
               : !master_registry_find(m->shard, &shard) ? PROTO_ERR_NO_SUCH_SHARD
                                                         : 0;
    if (code) {
        ticket_code(s, ls, code);
        return;
    }
    pa_ticket_t t = {.role = (uint8_t)ls->role,
                     .account_id = ls->account_id,
                     .expires_s = nc_wall_ms() / 1000 + L->cfg.ticket_ttl_s};
    pa_random(t.nonce, sizeof t.nonce);
    snprintf(t.name, sizeof t.name, "%s", m->character);
    snprintf(t.shard, sizeof t.shard, "%s", shard.name);
    proto_ticket_result_t r = {.code = 0, .port = shard.port, .expires_in_s = L->cfg.ticket_ttl_s};
    int n = pa_ticket_sign(&t, L->id.sign_sk, r.ticket, sizeof r.ticket);
    if (n < 0) {
        ticket_code(s, ls, PROTO_ERR_INTERNAL);
        return;
    }
    r.ticket_len = (uint16_t)n;
    snprintf(r.host, sizeof r.host, "%s", shard.host);
    macct_character_used(L->acct, ls->account_id, shard.name, m->character, KEEP_CHARACTERS);
    atomic_fetch_add(&L->n_tickets, 1);
    uint8_t b[PROTO_MAX_SIZE_TICKET_RESULT];
    seal_send(s, ls, PROTO_T_TICKET_RESULT, b, proto_encode_ticket_result(&r, b, sizeof b));
}

static void on_realm_list(nc_session_t *s, lsess_t *ls)
{
    proto_realm_list_t *r = calloc(1, sizeof *r);
    uint8_t *b = malloc(PROTO_MAX_SIZE_REALM_LIST);
    if (r && b) {
        r->shards_count = (uint16_t)master_registry_list(r->shards, PROTO_REALM_LIST_SHARDS_MAX);
        seal_send(s, ls, PROTO_T_REALM_LIST, b,
                  proto_encode_realm_list(r, b, PROTO_MAX_SIZE_REALM_LIST));
    } else {
        drop(s, ls, NC_ENOMEM, "out of memory");
    }
    free(r);
    free(b);
}

/* One decrypted inner packet, in order. */
static void handle_inner(nc_session_t *s, lsess_t *ls, const uint8_t *p, size_t n)
{
    uint16_t type = (uint16_t)(p[0] | p[1] << 8);
    union {
        proto_account_register_t reg;
        proto_account_login_t login;
        proto_ticket_request_t ticket;
        proto_realm_list_request_t list;
    } u;
    int rc = PROTO_EUNKNOWN;
    switch (type) {
    case PROTO_T_ACCOUNT_REGISTER: rc = proto_decode_account_register(p + 2, n - 2, &u.reg); break;
    case PROTO_T_ACCOUNT_LOGIN: rc = proto_decode_account_login(p + 2, n - 2, &u.login); break;
    case PROTO_T_TICKET_REQUEST: rc = proto_decode_ticket_request(p + 2, n - 2, &u.ticket); break;
    case PROTO_T_REALM_LIST_REQUEST:
        rc = proto_decode_realm_list_request(p + 2, n - 2, &u.list);
        break;
    }
    if (rc < 0) {
        char why[64];
        snprintf(why, sizeof why, "inner packet %u: %s", (unsigned)type, proto_strerror(rc));
        drop(s, ls, PROTO_ERR_BAD_PACKET, why);
        return;
    }
    switch (type) {
    case PROTO_T_ACCOUNT_REGISTER: on_register(s, ls, &u.reg); break;
    case PROTO_T_ACCOUNT_LOGIN: on_login(s, ls, &u.login); break;
    case PROTO_T_TICKET_REQUEST: on_ticket(s, ls, &u.ticket); break;
    default: on_realm_list(s, ls); break;
    }
    pa_wipe(&u, sizeof u);
}

/* ---- outer packets: the handshake, then sealed boxes ------------------------------ */

static void on_hello(nc_session_t *s, lsess_t *ls, const uint8_t *body, size_t len)
{
    proto_secure_hello_t h;
    proto_secure_hello_result_t r = {.code = 0};
    uint8_t b[PROTO_MAX_SIZE_SECURE_HELLO_RESULT];
    if (proto_decode_secure_hello(body, len, &h) < 0 || h.client_key_len != PA_KX_PK_BYTES) {
        drop(s, ls, PROTO_ERR_BAD_PACKET, "malformed secure_hello");
        return;
    }
    if (h.proto_hash != PROTO_HASH) {
        r.code = PROTO_ERR_HASH_MISMATCH;
        int n = proto_encode_secure_hello_result(&r, b, sizeof b);
        if (n > 0)
            nc_send(s, PROTO_T_SECURE_HELLO_RESULT, b, (size_t)n);
        drop(s, ls, PROTO_ERR_HASH_MISMATCH, "protocol hash mismatch");
        return;
    }
    if (pa_chan_server_start(&ls->ch, &ls->L->id, h.client_key, r.header) != 0) {
        drop(s, ls, PROTO_ERR_BAD_PACKET, "unacceptable client key");
        return;
    }
    memcpy(r.server_key, ls->L->id.kx_pk, PA_KX_PK_BYTES);
    r.server_key_len = PA_KX_PK_BYTES;
    r.header_len = PA_HEADER_BYTES;
    int n = proto_encode_secure_hello_result(&r, b, sizeof b);
    if (n > 0)
        nc_send(s, PROTO_T_SECURE_HELLO_RESULT, b, (size_t)n);
    ls->state = S_BEGIN;
}

static void on_sealed(nc_session_t *s, lsess_t *ls, const uint8_t *body, size_t len)
{
    proto_sealed_c2s_t *box = malloc(sizeof *box);
    if (!box) {
        drop(s, ls, NC_ENOMEM, "out of memory");
        return;
    }
    uint8_t plain[INNER_MAX];
    int n = proto_decode_sealed_c2s(body, len, box);
    if (n >= 0)
        n = box->box_len > INNER_MAX + PA_SEAL_OVERHEAD
                ? PA_EBUFSIZE
                : pa_chan_open(&ls->ch, box->box, box->box_len, plain, sizeof plain);
    free(box);
    if (n < 2) {
        drop(s, ls, PROTO_ERR_BAD_PACKET,
             n == PA_ECRYPTO ? "sealed box failed authentication (tampered, reordered or replayed)"
             : n == PA_EBUFSIZE ? "sealed box larger than any inner packet"
             : n < 0            ? "malformed sealed_c2s"
                                : "inner packet shorter than its type");
        return;
    }
    if (!ls->busy) {
        handle_inner(s, ls, plain, (size_t)n);
    } else if (ls->npend < ls->L->cfg.login_pending) {
        inner_t *in = &ls->pend[(ls->head + ls->npend) % ls->L->cfg.login_pending];
        in->len = (uint16_t)n;
        memcpy(in->b, plain, (size_t)n);
        ls->npend++;
    } else {
        drop(s, ls, PROTO_ERR_RATE_LIMITED, "too many requests behind a password check");
    }
    pa_wipe(plain, sizeof plain);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    (void)ud;
    lsess_t *ls = nc_session_ud(s);
    if (!ls || nc_session_is_closing(s))
        return;
    static const uint16_t expect[] = {PROTO_T_SECURE_HELLO, PROTO_T_SECURE_BEGIN,
                                      PROTO_T_SEALED_C2S};
    if (type != expect[ls->state]) {
        char why[64];
        snprintf(why, sizeof why, "packet %u where %s was expected", (unsigned)type,
                 proto_type_name(expect[ls->state]));
        drop(s, ls, PROTO_ERR_BAD_PACKET, why);
        return;
    }
    if (ls->state == S_HELLO) {
        on_hello(s, ls, body, len);
    } else if (ls->state == S_BEGIN) {
        proto_secure_begin_t b;
        if (proto_decode_secure_begin(body, len, &b) < 0 || b.header_len != PA_HEADER_BYTES ||
            pa_chan_server_begin(&ls->ch, b.header) != 0) {
            drop(s, ls, PROTO_ERR_BAD_PACKET, "malformed secure_begin");
            return;
        }
        ls->state = S_OPEN;
    } else {
        on_sealed(s, ls, body, len);
    }
}

/* Eviction policy: a connection with a password check in flight is not
 * idle; the group of a connection is its address's live connections. */
static int evict_skip(const nc_evict_node_t *n, void *ud)
{
    (void)ud;
    return atomic_load(&NC_EVICT_ENTRY(n, lsess_t, age)->inflight);
}

static uint32_t evict_group(const nc_evict_node_t *n, void *ud)
{
    return mconn_count(((master_login_t *)ud)->conns, NC_EVICT_ENTRY(n, lsess_t, age)->addr);
}

/* At login.max_sessions a newcomer evicts the oldest connection without a
 * password check in flight of the address that holds the most connections
 * (among the EVICT_SCAN oldest such connections)
 * (so one address holding every slot only churns its own connections, and
 * a player from anywhere else still gets in); with none to evict, the
 * newcomer is refused.  netcore's own cap (LOGIN_EXTRA above) and the
 * engine's slots are sized so that this runs before either is reached. */
static void admit(nc_session_t *s, lsess_t *ls)
{
    master_login_t *L = ls->L;
    nc_sid_t victim = 0;
    char vaddr[sizeof ls->addr] = "";
    uint32_t vcount = 0;
    const nc_evict_policy_t by_addr = {
        .skip = evict_skip, .group_size = evict_group, .ud = L, .scan = EVICT_SCAN};
    pthread_mutex_lock(&L->mu);
    if (nc_evict_count(&L->conns_by_age) >= L->cfg.login_sessions) {
        nc_evict_node_t *best = nc_evict_pick(&L->conns_by_age, &by_addr, &vcount);
        if (best) {
            victim = best->sid;
            snprintf(vaddr, sizeof vaddr, "%s", NC_EVICT_ENTRY(best, lsess_t, age)->addr);
            nc_evict_remove(&L->conns_by_age, best);
        }
    }
    int admitted = nc_evict_count(&L->conns_by_age) < L->cfg.login_sessions;
    if (admitted)
        nc_evict_add(&L->conns_by_age, &ls->age, ls->sid, nc_now_ms());
    pthread_mutex_unlock(&L->mu);
    if (victim) {
        atomic_fetch_add(&L->n_evicted, 1);
        nc_log_limited(&L->rl_evict, 1000, NC_LOG_WARN, TAG,
                       "[%llx] %s: evicted for a newcomer from %s: login.max_sessions (%u) "
                       "reached; it was the oldest idle connection of the address holding the "
                       "most (%u)",
                       (unsigned long long)victim, vaddr, ls->addr, (unsigned)L->cfg.login_sessions,
                       (unsigned)vcount);
        nc_close_id(L->engine, victim, PROTO_ERR_SERVER_FULL,
                    "login server full: evicted (oldest idle connection)");
    }
    if (!admitted) {
        nc_log_limited(&L->rl_evict, 1000, NC_LOG_WARN, TAG,
                       "[%llx] %s: refused: login.max_sessions (%u) reached and every "
                       "connection has a password check in flight",
                       (unsigned long long)nc_session_id(s), ls->addr,
                       (unsigned)L->cfg.login_sessions);
        nc_session_close(s, PROTO_ERR_SERVER_FULL, "login server full");
    }
}

static void on_open(nc_session_t *s, void *ud)
{
    master_login_t *L = ud;
    lsess_t *ls = calloc(1, sizeof *ls);
    inner_t *pend = ls ? calloc(L->cfg.login_pending, sizeof *pend) : NULL;
    if (!pend) {
        free(ls);
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    ls->L = L;
    ls->pend = pend;
    atomic_fetch_add(&L->n_sessions, 1);
    snprintf(ls->addr, sizeof ls->addr, "%s", nc_session_peer(s));
    char *colon = strrchr(ls->addr, ':');
    if (colon && colon != ls->addr)
        *colon = 0; /* "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5678" -> "[::1]" */
    nc_session_set_ud(s, ls);
    ls->sid = nc_session_id(s);
    int capped = L->cfg.login_per_addr && !(L->cfg.login_exempt_loopback && is_loopback(ls->addr));
    int rc = mconn_add(L->conns, ls->addr, capped ? L->cfg.login_per_addr : UINT32_MAX);
    ls->counted = rc == 1;
    if (rc == 0) {
        nc_log_limited(&L->rl_addr, 1000, NC_LOG_WARN, TAG,
                       "[%llx] %s: refused: %u login connections from that address "
                       "(login.max_sessions_per_address)",
                       (unsigned long long)nc_session_id(s), ls->addr,
                       (unsigned)L->cfg.login_per_addr);
        nc_session_close(s, PROTO_ERR_SERVER_FULL, "too many connections from one address");
        return;
    }
    admit(s, ls);
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)why;
    (void)ud;
    lsess_t *ls = nc_session_ud(s);
    nc_session_set_ud(s, NULL);
    if (!ls)
        return;
    atomic_fetch_sub(&ls->L->n_sessions, 1);
    pthread_mutex_lock(&ls->L->mu);
    nc_evict_remove(&ls->L->conns_by_age, &ls->age);
    pthread_mutex_unlock(&ls->L->mu);
    if (ls->counted)
        mconn_del(ls->L->conns, ls->addr);
    pa_chan_wipe(&ls->ch);
    pa_wipe(ls->pend, ls->L->cfg.login_pending * sizeof *ls->pend);
    free(ls->pend);
    pa_wipe(ls, sizeof *ls);
    free(ls);
}

/* ---- lifecycle --------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s: %s", what, rc ? nc_strerror(rc) : "out of memory");
    return rc ? rc : NC_ENOMEM;
}

int master_login_start(nc_engine_t *e, nc_pool_t *pool, const master_auth_cfg_t *c,
                       const pa_identity_t *id, macct_t *accounts, const char *host, uint16_t port,
                       master_login_t **out, char *err, size_t errlen)
{
    master_login_t *L = calloc(1, sizeof *L);
    if (!L)
        return fail(err, errlen, "login server", 0);
    *out = L;
    L->cfg = *c;
    L->id = *id;
    L->acct = accounts;
    L->engine = e;
    L->pool = pool;
    L->lk_name = mlock_create(c->lock_table, c->lock_account, c->lock_base_ms, c->lock_max_ms,
                              c->lock_forget_ms);
    L->lk_addr = mlock_create(c->lock_table, c->lock_address, c->lock_base_ms, c->lock_max_ms,
                              c->lock_forget_ms);
    if (c->reg_per_address)
        L->lk_reg = mlock_create(c->lock_table, c->reg_per_address, c->reg_window_ms,
                                 c->reg_window_ms, c->reg_window_ms);
    pthread_mutex_init(&L->mu, NULL);
    /* 4 slots per live session: a full window is rare */
    L->conns = mconn_create(c->login_sessions * 4u + LOGIN_EXTRA);
    if (c->hash_per_addr)
        L->hashing = mconn_create(c->hash_queue * 4u);
    if (!L->lk_name || !L->lk_addr || (c->reg_per_address && !L->lk_reg) || !L->conns ||
        (c->hash_per_addr && !L->hashing))
        return fail(err, errlen, "lock-out tables", 0);
    uint8_t rnd[32];
    pa_random(rnd, sizeof rnd);
    int hrc = master_hash(c, (const char *)rnd, sizeof rnd, L->dummy_hash);
    pa_wipe(rnd, sizeof rnd);
    if (hrc != 0)
        return fail(err, errlen, "password hashing (accounts.hash_mem_kib too large?)", 0);
    nc_queue_opts_t qa = {.name = "auth",
                          .max_threads = (int)c->hash_threads,
                          .capacity = c->hash_queue,
                          .priority = NC_PRIO_LOW};
    nc_queue_opts_t ql = {
        .name = "login", .max_threads = (int)c->registry_threads, .priority = NC_PRIO_NORMAL};
    int rc = nc_queue_create(pool, &qa, &L->q_auth);
    if (rc == 0)
        rc = nc_queue_create(pool, &ql, &L->q_login);
    if (rc != 0)
        return fail(err, errlen, "queues", rc);
    nc_role_opts_t ro = {.name = "login",
                         .queue = L->q_login,
                         .ud = L,
                         .handlers = {on_open, on_packet, on_close},
                         .max_packet = NC_HEADER_SIZE + PROTO_MAX_SIZE_SEALED_C2S,
                         .idle_timeout_ms = c->login_idle_ms,
                         .max_sessions = c->login_sessions + LOGIN_EXTRA,
                         .rate_packets_per_s = c->login_rate};
    rc = nc_server_create(e, host, port, &ro, &L->srv);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", host, (unsigned)port, nc_strerror(rc));
        return rc;
    }
    return 0;
}

uint16_t master_login_port(const master_login_t *l)
{
    return nc_server_port(l->srv);
}

void master_login_stop(master_login_t *l)
{
    if (!l)
        return;
    atomic_store(&l->stopping, 1); /* jobs still queued answer "shutting down" at once */
    if (l->srv)
        nc_server_destroy(l->srv);
    l->srv = NULL;
    nc_log(NC_LOG_INFO, TAG,
           "logins ok %llu, failed %llu, locked out %llu, refused for a full auth queue %llu, "
           "registered %llu, tickets %llu, refused over accounts.hash_per_address %llu, "
           "evicted at login.max_sessions %llu",
           (unsigned long long)l->n_ok, (unsigned long long)l->n_failed,
           (unsigned long long)l->n_locked, (unsigned long long)l->n_full,
           (unsigned long long)l->n_registered, (unsigned long long)l->n_tickets,
           (unsigned long long)l->n_hash_addr, (unsigned long long)l->n_evicted);
    nc_log_limited_flush(&l->rl_close, NC_LOG_INFO, TAG, "session close");
    nc_log_limited_flush(&l->rl_fail, NC_LOG_WARN, TAG, "login failure");
}

void master_login_free(master_login_t *l)
{
    if (!l)
        return;
    mlock_destroy(l->lk_name);
    mlock_destroy(l->lk_addr);
    mlock_destroy(l->lk_reg);
    mconn_destroy(l->conns);
    mconn_destroy(l->hashing);
    pthread_mutex_destroy(&l->mu);
    pa_wipe(&l->id, sizeof l->id);
    free(l);
}

void master_login_stats(master_login_t *l, master_login_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < MASTER_RES_N; i++) {
        out->logins[i] = atomic_load(&l->m_login[i]);
        out->registrations[i] = atomic_load(&l->m_reg[i]);
    }
    out->tickets = atomic_load(&l->n_tickets);
    out->lockouts = atomic_load(&l->n_lockouts);
    out->hash_rejected = atomic_load(&l->n_full);
    out->sessions = atomic_load(&l->n_sessions);
    nc_queue_stats_t qs[16];
    int n = nc_pool_stats(l->pool, qs, 16);
    for (int i = 0; i < n && i < 16; i++)
        if (!strcmp(qs[i].name, "auth")) {
            out->hash_pending = qs[i].pending;
            out->hash_running = qs[i].running > 0 ? (uint64_t)qs[i].running : 0;
        }
}
