/* The console's transport: a raw netcore role on the control queue that
 * cuts lines itself, the `auth` line (constant-time compare of the secret),
 * the limits (connections, line length, input queued behind a running
 * command, auth deadline, idle timeout), asynchronous answers and the
 * shutdown countdown.  The commands are in gs_admin_cmd.c.
 *
 * A connection's state is touched only on its session strand; a command
 * that finishes elsewhere (save, reload) posts its answer back there while
 * holding a session reference, so on_close cannot run in between. */
#include "gs_admin.h"

#include "nc_evict.h"
#include "nc_lines.h"
#include "proto_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "admin"
#define HARD_EXTRA 4       /* netcore-level connections beyond admin.max_connections */
#define QUEUED_LINES 16    /* input held behind a running command: 16 lines' worth */
#define LINE_OUT_MAX 65536 /* longest answer line; longer ones are dropped */

struct gs_admin_s {
    gs_app_t *app;
    nc_engine_t *engine;
    nc_server_t *srv;
    uint8_t key[PA_S2S_KEY_BYTES]; /* a hash of the secret (pa_s2s_key): no copy kept */
    uint32_t max_conns, max_line, auth_timeout_ms;
    /* connections, countdown; the list is shared by the connections'
     * strands and the sweep's */
    pthread_mutex_t mu;
    uint32_t nconns;     /* connections holding one of admin.max_connections */
    nc_evict_t unauthed; /* those not authenticated yet, oldest first */
    nc_strand_t *strand; /* sweep and countdown timers */
    nc_timer_id_t sweep_timer, countdown_timer;
    int countdown_left; /* -1: none */
    atomic_uint_fast64_t auth_failures;
    atomic_int inflight; /* asynchronous answers not delivered yet */
    atomic_int fenced;
    nc_log_state_t rl_auth, rl_refuse;
};

struct gs_admin_conn_s {
    gs_admin_t *ad;
    nc_session_t *s; /* valid while a job of this session runs */
    nc_sid_t sid;
    nc_evict_node_t unauth; /* in ad->unauthed (under ad->mu) */
    int counted;            /* in ad->nconns (under ad->mu) */
    int authed, busy;
    char who[96];
    nc_lines_t lines; /* over in[] */
    char in[];        /* QUEUED_LINES lines + 1 */
};

typedef struct pending_s {
    gs_admin_t *ad;
    nc_sid_t sid;
    nc_session_t *s; /* held reference while the answer job is queued */
    int ok;
    char text[];
} pending_t;

/* ---- output ----
 * A connection closed after an `error` line is closed with code 0: an
 * orderly close flushes the line (a negative code resets at once). */

static void send_line(gs_admin_conn_t *c, const char *text, size_t n)
{
    char *buf = malloc(n + 1);
    if (!buf)
        return;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
    buf[n] = '\n';
    nc_send_raw(c->s, buf, n + 1);
    free(buf);
}

static void vsay(gs_admin_conn_t *c, const char *prefix, const char *fmt, va_list ap)
{
    char stack[1024];
    size_t pl = strlen(prefix);
    memcpy(stack, prefix, pl);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(stack + pl, sizeof stack - pl, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof stack - pl) {
        send_line(c, stack, pl + (size_t)n);
    } else if (n >= 0 && (size_t)n < LINE_OUT_MAX) {
        char *big = malloc(pl + (size_t)n + 1);
        if (big) {
            memcpy(big, prefix, pl);
            vsnprintf(big + pl, (size_t)n + 1, fmt, ap2);
            send_line(c, big, pl + (size_t)n);
            free(big);
        }
    }
    va_end(ap2);
}

void gs_admin_say(gs_admin_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(c, "", fmt, ap);
    va_end(ap);
}

void gs_admin_ok(gs_admin_conn_t *c)
{
    send_line(c, "ok", 2);
}

void gs_admin_error(gs_admin_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(c, "error ", fmt, ap);
    va_end(ap);
}

gs_app_t *gs_admin_app(gs_admin_conn_t *c)
{
    return c->ad->app;
}

gs_admin_t *gs_admin_of(gs_admin_conn_t *c)
{
    return c->ad;
}

const char *gs_admin_who(gs_admin_conn_t *c)
{
    return c->who;
}

uint64_t gs_admin_auth_failures(const gs_admin_t *ad)
{
    return ad ? atomic_load(&((gs_admin_t *)ad)->auth_failures) : 0;
}

uint32_t gs_admin_connections(gs_admin_t *ad)
{
    pthread_mutex_lock(&ad->mu);
    uint32_t n = ad->nconns;
    pthread_mutex_unlock(&ad->mu);
    return n;
}

/* ---- connections ---- */

/* A place for a new connection.  All taken, the newcomer takes the one of
 * the oldest connection that has not authenticated yet (*evict: its id, to
 * close), so connections held open without the secret cannot lock the
 * operator out; authenticated ones are never evicted (red-team review).
 * 0, or -1: every connection is authenticated (or timed out, closing). */
static int take_place(gs_admin_t *ad, gs_admin_conn_t *c, nc_sid_t *evict)
{
    *evict = 0;
    pthread_mutex_lock(&ad->mu);
    nc_evict_node_t *old =
        ad->nconns >= ad->max_conns ? nc_evict_pick(&ad->unauthed, NULL, NULL) : NULL;
    if (old) {
        *evict = old->sid;
        nc_evict_remove(&ad->unauthed, old);
        NC_EVICT_ENTRY(old, gs_admin_conn_t, unauth)->counted = 0; /* its place is ours */
        ad->nconns--;
    }
    int ok = ad->nconns < ad->max_conns;
    if (ok) {
        ad->nconns++;
        c->counted = 1;
        nc_evict_add(&ad->unauthed, &c->unauth, c->sid, nc_now_ms());
    }
    pthread_mutex_unlock(&ad->mu);
    return ok ? 0 : -1;
}

static void set_authed(gs_admin_t *ad, gs_admin_conn_t *c)
{
    pthread_mutex_lock(&ad->mu);
    nc_evict_remove(&ad->unauthed, &c->unauth); /* never evicted nor timed out */
    pthread_mutex_unlock(&ad->mu);
}

static void admin_open(nc_session_t *s, void *ud)
{
    gs_admin_t *ad = ud;
    size_t cap = (size_t)ad->max_line * QUEUED_LINES;
    gs_admin_conn_t *c = calloc(1, sizeof *c + cap + 1);
    if (!c) {
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    c->ad = ad;
    c->s = s;
    c->sid = nc_session_id(s);
    nc_lines_init(&c->lines, c->in, cap);
    snprintf(c->who, sizeof c->who, "[%llx] %s", (unsigned long long)c->sid, nc_session_peer(s));
    nc_sid_t evict = 0;
    int rc = take_place(ad, c, &evict);
    if (evict) {
        atomic_fetch_add(&ad->auth_failures, 1);
        nc_log_limited(&ad->rl_refuse, 1000, NC_LOG_WARN, TAG,
                       "[%llx]: closed unauthenticated for a newcomer, %s: %u console connections "
                       "open (admin.max_connections)",
                       (unsigned long long)evict, c->who, ad->max_conns);
        nc_close_id(ad->engine, evict, NC_ETIMEDOUT,
                    "console full: the oldest unauthenticated connection is closed");
    }
    if (rc != 0) {
        nc_log_limited(&ad->rl_refuse, 1000, NC_LOG_WARN, TAG,
                       "%s refused: %u console connections open (admin.max_connections)", c->who,
                       ad->max_conns);
        gs_admin_error(c, "too many console connections (admin.max_connections=%u)", ad->max_conns);
        free(c);
        nc_session_close(s, 0, "too many console connections");
        return;
    }
    nc_session_set_ud(s, c);
    nc_log(NC_LOG_DEBUG, TAG, "%s connected", c->who);
}

static void admin_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    gs_admin_t *ad = ud;
    gs_admin_conn_t *c = nc_session_ud(s);
    if (!c)
        return;
    pthread_mutex_lock(&ad->mu);
    nc_evict_remove(&ad->unauthed, &c->unauth);
    if (c->counted) /* an evicted connection's place went to its newcomer */
        ad->nconns--;
    pthread_mutex_unlock(&ad->mu);
    nc_log(c->authed ? NC_LOG_INFO : NC_LOG_DEBUG, TAG, "%s disconnected: %s", c->who, why->text);
    nc_session_set_ud(s, NULL);
    free(c);
}

/* The given secret's hash against the file's, in constant time: neither
 * the secret nor its length shows in the time taken (a line shorter than
 * PA_S2S_SECRET_MIN is refused before hashing: that length is public). */
static int secret_ok(const gs_admin_t *ad, const char *given)
{
    uint8_t k[PA_S2S_KEY_BYTES];
    if (pa_s2s_key(given, k) != PA_OK)
        return 0;
    int same = pa_memcmp(k, ad->key, sizeof k) == 0;
    pa_wipe(k, sizeof k);
    return same;
}

static void auth_failed(gs_admin_conn_t *c, const char *why)
{
    gs_admin_t *ad = c->ad;
    uint64_t n = atomic_fetch_add(&ad->auth_failures, 1) + 1;
    nc_log_limited(&ad->rl_auth, 1000, NC_LOG_WARN, TAG,
                   "%s: console authentication failed (%s; %llu failures since start)", c->who, why,
                   (unsigned long long)n);
    gs_admin_error(c, "authentication failed");
    nc_session_close(c->s, 0, "console authentication failed");
}

static void run_auth(gs_admin_conn_t *c, const char *line)
{
    if (strncmp(line, "auth ", 5) != 0) {
        auth_failed(c, "the first line is not `auth <secret>`");
        return;
    }
    if (!secret_ok(c->ad, line + 5)) {
        auth_failed(c, "wrong secret");
        return;
    }
    c->authed = 1;
    set_authed(c->ad, c);
    nc_log(NC_LOG_INFO, TAG, "%s: console session authenticated", c->who);
    gs_admin_ok(c);
}

/* Runs complete lines until a command answers later or the input ends. */
static void process(gs_admin_conn_t *c)
{
    while (!c->busy && !nc_session_is_closing(c->s)) {
        char *in;
        size_t n;
        int got = nc_lines_next(&c->lines, c->ad->max_line, &in, &n);
        if (got == NC_EMSGSIZE && !c->authed) {
            auth_failed(c, "the first line is too long"); /* rate-limited: anyone can */
            return;
        }
        if (got == NC_EMSGSIZE) {
            nc_log(NC_LOG_WARN, TAG, "%s: line over %u bytes: closed", c->who, c->ad->max_line);
            gs_admin_error(c, "line too long (admin.max_line=%u)", c->ad->max_line);
            nc_session_close(c->s, 0, "console line too long");
            return;
        }
        if (got != 1)
            return;
        /* the line is copied out: a command may answer later while more
         * input arrives behind it */
        char *line = malloc(n + 1);
        if (!line) {
            nc_session_close(c->s, NC_ENOMEM, "out of memory");
            return;
        }
        memcpy(line, in, n + 1);
        nc_lines_consume(&c->lines); /* also wipes what it held */
        if (!c->authed) {
            run_auth(c, line);
        } else if (line[0]) {
            for (char *q = line; *q; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f)
                    *q = '?';
            int rc = gs_admin_command(c, line);
            c->busy = rc == 1;
            if (rc == 2)
                nc_session_close(c->s, 0, "quit");
        }
        pa_wipe(line, n);
        free(line);
    }
}

static void admin_packet(nc_session_t *s, uint16_t type, const uint8_t *data, size_t len, void *ud)
{
    (void)type;
    (void)ud;
    gs_admin_conn_t *c = nc_session_ud(s);
    if (!c || nc_session_is_closing(s))
        return;
    c->s = s;
    if (nc_lines_feed(&c->lines, data, len) != 0) {
        nc_log(NC_LOG_WARN, TAG, "%s: over %zu bytes of input queued: closed", c->who,
               c->lines.cap);
        gs_admin_error(c, "too much input queued behind a running command");
        nc_session_close(s, 0, "console input backlog");
        return;
    }
    process(c);
}

/* ---- asynchronous answers ---- */

void *gs_admin_async(gs_admin_conn_t *c)
{
    pending_t *p = calloc(1, sizeof *p + 1); /* + an empty text if realloc fails */
    if (!p) {
        gs_admin_error(c, "out of memory");
        return NULL;
    }
    p->ad = c->ad;
    p->sid = c->sid;
    atomic_fetch_add(&c->ad->inflight, 1);
    return p;
}

void gs_admin_async_cancel(void *ud)
{
    pending_t *p = ud;
    atomic_fetch_sub(&p->ad->inflight, 1);
    free(p);
}

/* On the connection's strand: the answer, then the lines that waited. */
static void answer_job(void *arg)
{
    pending_t *p = arg;
    gs_admin_conn_t *c = nc_session_ud(p->s);
    if (c && !nc_session_is_closing(p->s)) {
        c->s = p->s;
        const char *t = p->text;
        for (const char *nl; (nl = strchr(t, '\n')) != NULL; t = nl + 1)
            send_line(c, t, (size_t)(nl - t));
        if (p->ok && *t)
            send_line(c, t, strlen(t));
        if (p->ok)
            gs_admin_ok(c);
        else
            gs_admin_error(c, "%s", *t ? t : "failed");
        nc_log(NC_LOG_INFO, TAG, "%s: answered (%s)", c->who, p->ok ? "ok" : "error");
        c->busy = 0;
        process(c);
    }
    nc_session_put(p->s);
    gs_admin_t *ad = p->ad;
    free(p);
    atomic_fetch_sub(&ad->inflight, 1);
}

void gs_admin_done(void *ud, int ok, const char *text)
{
    pending_t *p0 = ud;
    size_t n = strlen(text);
    pending_t *p = realloc(p0, sizeof *p + n + 1);
    if (!p)
        p = p0, n = 0;
    memcpy(p->text, text, n);
    p->text[n] = 0;
    p->ok = ok;
    p->s = nc_session_get(p->ad->engine, p->sid);
    if (p->s && nc_strand_post_force(nc_session_strand(p->s), answer_job, p) == 0)
        return;
    if (p->s)
        nc_session_put(p->s);
    gs_admin_async_cancel(p); /* the connection is gone: nobody to answer */
}

/* ---- timers: the auth deadline and the shutdown countdown ---- */

/* Every sweep: closes connections that have not authenticated within
 * admin.auth_timeout_ms of connecting (taken off the list: closed once,
 * and no longer evicted for a newcomer; they hold their place until their
 * close ran). */
static void sweep_job(void *arg)
{
    gs_admin_t *ad = arg;
    nc_sid_t late[64];
    uint32_t n = 0;
    uint64_t now = nc_now_ms();
    pthread_mutex_lock(&ad->mu);
    for (nc_evict_node_t *e;
         n < 64 && (e = nc_evict_pop_older(&ad->unauthed, now, ad->auth_timeout_ms)) != NULL;)
        late[n++] = e->sid;
    pthread_mutex_unlock(&ad->mu);
    for (uint32_t i = 0; i < n; i++) {
        atomic_fetch_add(&ad->auth_failures, 1);
        nc_log_limited(&ad->rl_auth, 1000, NC_LOG_WARN, TAG,
                       "[%llx]: no `auth` line within %u ms (admin.auth_timeout_ms): closed",
                       (unsigned long long)late[i], ad->auth_timeout_ms);
        nc_close_id(ad->engine, late[i], NC_ETIMEDOUT, "console auth timeout");
    }
}

static int notice_due(int left)
{
    static const int at[] = {600, 300, 120, 60, 30, 10, 5, 4, 3, 2, 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        if (left == at[i])
            return 1;
    return 0;
}

static void stop_now(gs_admin_t *ad)
{
    nc_log(NC_LOG_INFO, TAG, "console shutdown: stopping now");
    content_announce(ad->app->world, "server shutting down now");
    atomic_store(&ad->app->console_stop, 1);
    gs_signals_wake(); /* main sees console_stop and runs the orderly stop */
}

static void countdown_job(void *arg)
{
    gs_admin_t *ad = arg;
    pthread_mutex_lock(&ad->mu);
    int left = ad->countdown_left > 0 ? --ad->countdown_left : -1;
    if (left == 0) {
        nc_timer_cancel(nc_queue_pool(nc_strand_queue(ad->strand)), ad->countdown_timer);
        ad->countdown_timer = 0;
    }
    pthread_mutex_unlock(&ad->mu);
    if (left == 0) {
        stop_now(ad);
    } else if (left > 0 && notice_due(left)) {
        char t[96];
        snprintf(t, sizeof t, "server shutting down in %d s", left);
        content_announce(ad->app->world, t);
    }
}

int gs_admin_shutdown_start(gs_admin_t *ad, uint32_t seconds, char *err, size_t errlen)
{
    pthread_mutex_lock(&ad->mu);
    int busy = ad->countdown_left >= 0;
    int left = ad->countdown_left;
    int rc = 0;
    if (!busy && seconds > 0) {
        rc = nc_timer_start(ad->strand, 1000, 1000, countdown_job, ad, &ad->countdown_timer);
        if (rc == 0)
            ad->countdown_left = (int)seconds;
    }
    pthread_mutex_unlock(&ad->mu);
    if (busy) {
        snprintf(err, errlen, "a shutdown is counting down (%d s left); `shutdown cancel` stops it",
                 left);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the countdown: %s", nc_strerror(rc));
        return -1;
    }
    if (seconds == 0) {
        stop_now(ad);
        return 0;
    }
    char t[96];
    snprintf(t, sizeof t, "server shutting down in %u s", seconds);
    content_announce(ad->app->world, t);
    return 0;
}

int gs_admin_shutdown_cancel(gs_admin_t *ad)
{
    pthread_mutex_lock(&ad->mu);
    int was = ad->countdown_left;
    if (was > 0) {
        nc_timer_cancel(nc_queue_pool(nc_strand_queue(ad->strand)), ad->countdown_timer);
        ad->countdown_timer = 0;
        ad->countdown_left = -1;
    }
    pthread_mutex_unlock(&ad->mu);
    if (was <= 0)
        return -1;
    content_announce(ad->app->world, "the shutdown was canceled");
    return 0;
}

int gs_admin_shutdown_left(gs_admin_t *ad)
{
    pthread_mutex_lock(&ad->mu);
    int left = ad->countdown_left;
    pthread_mutex_unlock(&ad->mu);
    return left;
}

/* ---- start and stop ---- */

/* The secret is the file's first line (CR/LF stripped, at least
 * PA_S2S_SECRET_MIN bytes), read as the links' secret is; never logged. */
static int load_secret(gs_admin_t *ad, const char *path)
{
    char err[256];
    if (gs_load_secret_key(path, ad->key, err, sizeof err) != 0) {
        nc_log(NC_LOG_ERROR, TAG, "admin.secret_file: %s", err);
        return -1;
    }
    return 0;
}

static void fence_job(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

static void admin_free(gs_admin_t *ad)
{
    if (ad->strand)
        nc_strand_release(ad->strand);
    pa_wipe(ad->key, sizeof ad->key);
    pthread_mutex_destroy(&ad->mu);
    free(ad);
}

static int listen_on(gs_admin_t *ad, const gs_config_t *c, nc_queue_t *q)
{
    nc_role_opts_t ro = {.name = TAG,
                         .queue = q,
                         .handlers = {admin_open, admin_packet, admin_close},
                         .ud = ad,
                         .raw = 1,
                         .max_packet = 4096,
                         .max_sessions = ad->max_conns + HARD_EXTRA,
                         .idle_timeout_ms = (uint32_t)c->admin_idle_timeout_ms,
                         .max_send_bytes = 16u << 20};
    int rc = nc_server_create(ad->engine, c->admin_host, (uint16_t)c->admin_port, &ro, &ad->srv);
    if (rc != 0)
        nc_log(NC_LOG_ERROR, TAG, "console listen %s:%lld: %s", c->admin_host,
               (long long)c->admin_port, nc_strerror(rc));
    return rc;
}

int gs_admin_start(gs_app_t *a, gs_admin_t **out, uint16_t *port)
{
    const gs_config_t *c = &a->cfg;
    *out = NULL;
    *port = 0;
    if (!c->admin_secret_file[0]) {
        nc_log(NC_LOG_INFO, TAG, "operator's console disabled (admin.secret_file is not set)");
        return 0;
    }
    gs_admin_t *ad = calloc(1, sizeof *ad);
    if (!ad || pa_init() != 0) {
        free(ad);
        nc_log(NC_LOG_ERROR, TAG, "console: out of memory or libsodium unavailable");
        return -1;
    }
    ad->app = a;
    ad->engine = a->engine;
    ad->max_conns = (uint32_t)c->admin_max_conns;
    ad->max_line = (uint32_t)c->admin_max_line;
    ad->auth_timeout_ms = (uint32_t)c->admin_auth_timeout_ms;
    ad->countdown_left = -1;
    pthread_mutex_init(&ad->mu, NULL);
    int rc = load_secret(ad, c->admin_secret_file) == 0 ? 0 : -1;
    if (rc == 0)
        rc = nc_strand_create(a->q_control, &ad->strand);
    uint32_t sweep_ms = ad->auth_timeout_ms / 4 ? ad->auth_timeout_ms / 4 : 1;
    if (rc == 0)
        rc = nc_timer_start(ad->strand, sweep_ms, sweep_ms, sweep_job, ad, &ad->sweep_timer);
    if (rc != 0 || listen_on(ad, c, a->q_control) != 0) {
        gs_admin_stop(ad);
        return -1;
    }
    *out = ad;
    *port = nc_server_port(ad->srv);
    nc_log(NC_LOG_INFO, TAG, "operator's console on %s:%u (secret from %s)", c->admin_host, *port,
           c->admin_secret_file);
    return 0;
}

void gs_admin_stop(gs_admin_t *ad)
{
    if (!ad)
        return;
    if (ad->strand) {
        nc_pool_t *pool = nc_queue_pool(nc_strand_queue(ad->strand));
        nc_timer_cancel(pool, ad->sweep_timer);
        pthread_mutex_lock(&ad->mu);
        if (ad->countdown_left > 0)
            nc_timer_cancel(pool, ad->countdown_timer);
        ad->countdown_left = -1;
        pthread_mutex_unlock(&ad->mu);
    }
    nc_server_destroy(ad->srv); /* returns after every on_close */
    /* a save or reload still running answers into nothing; wait for it
     * (content's strands still run: the world stops after the console) */
    for (uint64_t end = nc_now_ms() + 10000; atomic_load(&ad->inflight) > 0;) {
        if (nc_now_ms() > end) {
            nc_log(NC_LOG_ERROR, TAG, "a console request still runs after 10 s; not freed");
            return;
        }
        gs_sleep_ms(1);
    }
    int rc = ad->strand ? nc_strand_post(ad->strand, fence_job, &ad->fenced) : -1;
    if (rc == NC_EQFULL)
        rc = nc_strand_post_force(ad->strand, fence_job, &ad->fenced);
    for (uint64_t end = nc_now_ms() + 10000; rc == 0 && !atomic_load(&ad->fenced);) {
        if (nc_now_ms() > end) {
            nc_log(NC_LOG_ERROR, TAG, "console timer job still running after 10 s; not freed");
            return;
        }
        gs_sleep_ms(1);
    }
    admin_free(ad);
}
