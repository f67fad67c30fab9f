/* Server side of the s2s challenge-response (see tl_s2s.h): per-session
 * handshake state in the session's ud, a pending list swept by a timer for
 * sessions that never finish, and the refusal path (answer, close, count,
 * rate-limited WARN naming the peer). */
#include "tl_s2s.h"

#include "nc_evict.h"
#include "tl_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_HELLO = 0, ST_AUTH = 1, ST_OK = 2 };

typedef struct link_st_s {
    nc_evict_node_t pending; /* in a->pend until authenticated (under a->mu) */
    char peer[64];
    int stage;
    uint8_t nonce_c[PA_S2S_NONCE_BYTES], nonce_s[PA_S2S_NONCE_BYTES];
    proto_s2s_hello_t hello;
} link_st_t;

typedef struct late_s { /* a session closed by the sweep */
    nc_sid_t sid;
    char peer[64];
} late_t;

struct tl_s2s_s {
    tl_s2s_opts_t o;
    uint8_t key[PA_S2S_KEY_BYTES];
    int secure;
    nc_engine_t *engine;
    nc_strand_t *strand;
    nc_timer_id_t timer;
    /* the unauthenticated sessions, oldest first: shared by the sessions'
     * strands and the sweep's, so under mu */
    pthread_mutex_t mu;
    pthread_mutex_t run_mu; /* a sweep runs under it; tl_s2s_stop sets stopped */
    int stopped;
    nc_evict_t pend;
    atomic_uint_fast64_t refused, accepted;
    nc_log_state_t refuse_log;
};

/* ---- pending list (the timeout sweep) ---- */

static void refused_log(tl_s2s_t *a, const char *peer, const char *why);

/* Tracks a new unauthenticated session.  The list full, the newcomer takes
 * the place of the oldest one, which is closed: peers that hold slots
 * without authenticating (refreshing them as they time out) then churn
 * among themselves, and a real peer, which authenticates in one round
 * trip, still gets in (red-team review; before, the newcomer was refused). */
static int pending_add(tl_s2s_t *a, nc_session_t *s, link_st_t *st)
{
    late_t victim = {0};
    snprintf(st->peer, sizeof st->peer, "%s", nc_session_peer(s));
    pthread_mutex_lock(&a->mu);
    nc_evict_node_t *old =
        nc_evict_count(&a->pend) >= a->o.max_sessions ? nc_evict_pick(&a->pend, NULL, NULL) : NULL;
    if (old) {
        victim.sid = old->sid;
        memcpy(victim.peer, NC_EVICT_ENTRY(old, link_st_t, pending)->peer, sizeof victim.peer);
        nc_evict_remove(&a->pend, old);
    }
    int ok = nc_evict_count(&a->pend) < a->o.max_sessions;
    if (ok)
        nc_evict_add(&a->pend, &st->pending, nc_session_id(s), nc_now_ms());
    pthread_mutex_unlock(&a->mu);
    if (victim.sid) {
        refused_log(a, victim.peer,
                    "evicted: the oldest of too many unauthenticated sessions, for a newcomer");
        nc_close_id(a->engine, victim.sid, PROTO_ERR_S2S_AUTH_FAILED,
                    "too many unauthenticated sessions");
    }
    return ok ? 0 : -1;
}

static void pending_remove(tl_s2s_t *a, nc_session_t *s)
{
    link_st_t *st = nc_session_ud(s);
    if (!st)
        return;
    pthread_mutex_lock(&a->mu);
    nc_evict_remove(&a->pend, &st->pending);
    pthread_mutex_unlock(&a->mu);
}

static void refused_log(tl_s2s_t *a, const char *peer, const char *why)
{
    atomic_fetch_add(&a->refused, 1);
    nc_log_limited(&a->refuse_log, 1000, NC_LOG_WARN, a->o.tag,
                   "s2s peer %s refused: %s (%llu refused so far)", peer, why,
                   (unsigned long long)atomic_load(&a->refused));
}

/* Timer job: closes sessions past their deadline (outside the lock: closing
 * runs their on_close, which takes it). */
static void sweep_job(void *arg)
{
    tl_s2s_t *a = arg;
    late_t late[64];
    int n = 0;
    uint64_t now = nc_now_ms();
    pthread_mutex_lock(&a->run_mu);
    if (a->stopped) { /* the engine may be gone */
        pthread_mutex_unlock(&a->run_mu);
        return;
    }
    pthread_mutex_lock(&a->mu);
    for (nc_evict_node_t *e;
         n < 64 && (e = nc_evict_pop_older(&a->pend, now, a->o.timeout_ms)) != NULL; n++) {
        late[n].sid = e->sid;
        memcpy(late[n].peer, NC_EVICT_ENTRY(e, link_st_t, pending)->peer, sizeof late[n].peer);
    }
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < n; i++) {
        refused_log(a, late[i].peer, "no s2s_hello + s2s_auth in time");
        nc_close_id(a->engine, late[i].sid, PROTO_ERR_S2S_AUTH_FAILED, "s2s auth timeout");
    }
    pthread_mutex_unlock(&a->run_mu);
}

/* ---- handshake ---- */

static void answer(tl_s2s_t *a, nc_session_t *s, int code, const link_st_t *st)
{
    proto_msg_t r = {.type = PROTO_T_S2S_HELLO_RESULT};
    r.s2s_hello_result.code = (int16_t)code;
    r.s2s_hello_result.proto_hash = PROTO_HASH;
    snprintf(r.s2s_hello_result.name, sizeof r.s2s_hello_result.name, "%s", a->o.name);
    if (code == 0 && a->secure) {
        memcpy(r.s2s_hello_result.nonce, st->nonce_s, PA_S2S_NONCE_BYTES);
        r.s2s_hello_result.nonce_len = PA_S2S_NONCE_BYTES;
        pa_s2s_proof(a->key, PA_S2S_SERVER, st->nonce_c, st->nonce_s, r.s2s_hello_result.proof);
        r.s2s_hello_result.proof_len = PA_S2S_PROOF_BYTES;
    }
    tl_send_msg(s, &r);
}

static void refuse(tl_s2s_t *a, nc_session_t *s, int code, const char *why)
{
    pending_remove(a, s);
    refused_log(a, nc_session_peer(s), why);
    answer(a, s, code, NULL);
    nc_session_close(s, code, why);
}

static int joined(tl_s2s_t *a, nc_session_t *s, link_st_t *st, const proto_s2s_hello_t **hello)
{
    st->stage = ST_OK;
    pending_remove(a, s);
    atomic_fetch_add(&a->accepted, 1);
    nc_log(NC_LOG_INFO, a->o.tag, "s2s peer '%s' (session %llx, %s) %s", st->hello.name,
           (unsigned long long)nc_session_id(s), nc_session_peer(s),
           a->secure ? "authenticated" : "accepted WITHOUT authentication (insecure)");
    *hello = &st->hello;
    return TL_S2S_JOINED;
}

static int on_hello(tl_s2s_t *a, nc_session_t *s, link_st_t *st, const proto_s2s_hello_t *h,
                    const proto_s2s_hello_t **hello)
{
    if (h->proto_hash != PROTO_HASH) {
        refuse(a, s, PROTO_ERR_HASH_MISMATCH, "protocol hash mismatch (rebuild both sides)");
        return TL_S2S_DONE;
    }
    if (a->secure && h->nonce_len != PA_S2S_NONCE_BYTES) {
        refuse(a, s, PROTO_ERR_S2S_AUTH_FAILED,
               h->nonce_len ? "bad nonce length"
                            : "peer runs without link auth (insecure) but this server requires it");
        return TL_S2S_DONE;
    }
    if (!a->secure && h->nonce_len != 0) {
        refuse(a, s, PROTO_ERR_S2S_AUTH_FAILED,
               "peer expects link auth but this server runs with --insecure-no-link-auth");
        return TL_S2S_DONE;
    }
    st->hello = *h;
    if (!a->secure) {
        answer(a, s, 0, st);
        return joined(a, s, st, hello);
    }
    memcpy(st->nonce_c, h->nonce, PA_S2S_NONCE_BYTES);
    pa_random(st->nonce_s, PA_S2S_NONCE_BYTES);
    st->stage = ST_AUTH;
    answer(a, s, 0, st);
    return TL_S2S_DONE;
}

static int on_auth(tl_s2s_t *a, nc_session_t *s, link_st_t *st, const proto_s2s_auth_t *m,
                   const proto_s2s_hello_t **hello)
{
    if (pa_s2s_check(a->key, PA_S2S_CLIENT, st->nonce_c, st->nonce_s, m->proof, m->proof_len) !=
        PA_OK) {
        refuse(a, s, PROTO_ERR_S2S_AUTH_FAILED, "wrong proof (different secret?)");
        return TL_S2S_DONE;
    }
    return joined(a, s, st, hello);
}

void tl_s2s_open(tl_s2s_t *a, nc_session_t *s)
{
    link_st_t *st = calloc(1, sizeof *st);
    if (!st || pending_add(a, s, st) != 0) {
        free(st);
        refused_log(a, nc_session_peer(s), "too many unauthenticated sessions");
        nc_session_close(s, PROTO_ERR_SERVER_FULL, "too many unauthenticated sessions");
        return;
    }
    nc_session_set_ud(s, st);
}

int tl_s2s_packet(tl_s2s_t *a, nc_session_t *s, const proto_msg_t *m,
                  const proto_s2s_hello_t **hello)
{
    link_st_t *st = nc_session_ud(s);
    if (!st || nc_session_is_closing(s))
        return TL_S2S_DONE;
    if (st->stage == ST_OK) {
        if (m->type != PROTO_T_S2S_HELLO && m->type != PROTO_T_S2S_AUTH)
            return TL_S2S_PASS;
        nc_session_close(s, PROTO_ERR_BAD_PACKET, "handshake packet after authentication");
        return TL_S2S_DONE;
    }
    if (st->stage == ST_HELLO && m->type == PROTO_T_S2S_HELLO)
        return on_hello(a, s, st, &m->s2s_hello, hello);
    if (st->stage == ST_AUTH && m->type == PROTO_T_S2S_AUTH)
        return on_auth(a, s, st, &m->s2s_auth, hello);
    char why[96];
    snprintf(why, sizeof why, "%s before %s", proto_type_name(m->type),
             st->stage == ST_HELLO ? "s2s_hello" : "s2s_auth");
    refuse(a, s, PROTO_ERR_S2S_AUTH_FAILED, why);
    return TL_S2S_DONE;
}

void tl_s2s_close(tl_s2s_t *a, nc_session_t *s)
{
    link_st_t *st = nc_session_ud(s);
    pending_remove(a, s);
    nc_session_set_ud(s, NULL);
    if (st) {
        pa_wipe(st, sizeof *st);
        free(st);
    }
}

/* ---- lifetime and counters ---- */

int tl_s2s_create(nc_queue_t *q, nc_engine_t *e, const tl_s2s_opts_t *o, tl_s2s_t **out)
{
    if (pa_init() != PA_OK)
        return NC_EINVAL;
    tl_s2s_t *a = calloc(1, sizeof *a);
    if (!a)
        return NC_ENOMEM;
    a->o = *o;
    if (!a->o.timeout_ms)
        a->o.timeout_ms = 5000;
    if (!a->o.max_sessions)
        a->o.max_sessions = 1024;
    a->secure = o->key != NULL;
    if (o->key)
        memcpy(a->key, o->key, sizeof a->key);
    a->o.key = NULL; /* the copy above is the one used */
    a->engine = e;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->run_mu, NULL);
    int rc = nc_strand_create(q, &a->strand);
    uint32_t every = a->o.timeout_ms / 4 ? a->o.timeout_ms / 4 : 1;
    if (rc == 0)
        rc = nc_timer_start(a->strand, every, every, sweep_job, a, &a->timer);
    if (rc != 0) {
        tl_s2s_destroy(a); /* no timer started: nothing can run */
        return rc;
    }
    *out = a;
    return 0;
}

void tl_s2s_stop(tl_s2s_t *a)
{
    if (!a || !a->strand)
        return;
    if (a->timer)
        nc_timer_cancel(nc_queue_pool(nc_strand_queue(a->strand)), a->timer);
    pthread_mutex_lock(&a->run_mu); /* waits out a sweep in progress */
    a->stopped = 1;
    pthread_mutex_unlock(&a->run_mu);
    nc_strand_release(a->strand);
    a->strand = NULL;
}

void tl_s2s_destroy(tl_s2s_t *a)
{
    if (!a)
        return;
    tl_s2s_stop(a);
    pa_wipe(a->key, sizeof a->key);
    pthread_mutex_destroy(&a->run_mu);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

uint64_t tl_s2s_refused(const tl_s2s_t *a)
{
    return atomic_load(&((tl_s2s_t *)a)->refused);
}

uint64_t tl_s2s_accepted(const tl_s2s_t *a)
{
    return atomic_load(&((tl_s2s_t *)a)->accepted);
}

void tl_s2s_log_totals(tl_s2s_t *a)
{
    nc_log_limited_flush(&a->refuse_log, NC_LOG_WARN, a->o.tag, "s2s refusal");
    nc_log(NC_LOG_INFO, a->o.tag, "s2s links: %llu accepted, %llu refused%s",
           (unsigned long long)tl_s2s_accepted(a), (unsigned long long)tl_s2s_refused(a),
           a->secure ? "" : " (insecure: no link auth)");
}
