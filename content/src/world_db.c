/* The database strand: logins, gold changes and position saves, with the
 * handling of database faults (busy, locked, read-only, full, I/O errors).
 *
 * Everything below the "db strand" marks runs on w->db_strand, one job at a
 * time, so the state needs no lock; the shutdown thread reads published
 * counters and waits on a condition variable.
 *
 * A statement waits at most database.busy_timeout_ms for a lock (SQLite's
 * busy handler), so a job never holds the db strand longer than that.  When
 * an operation fails with a transient fault (CONTENT_DB_RETRY) the database
 * is "down": the operation is kept and retried from a one-shot timer with
 * back-off (50 ms doubling to 1 s), and every later request joins the same
 * FIFO without touching SQLite until the retry succeeds -- so requests keep
 * their order and other db jobs, the metrics and shutdown keep running.
 *   - position saves are merged per character (the newest position wins)
 *     into a pending set that is retried until written; never dropped for a
 *     transient fault.  Shutdown waits for the set to drain up to
 *     database.shutdown_save_timeout_ms, then names every character not
 *     saved and the process exits non-zero.
 *   - logins and gold changes wait at most database.request_timeout_ms
 *     (and at most database.max_waiting requests wait): past that the
 *     player gets a clear "database unavailable" error, nothing changed.
 *   - issue 16: every gold or field change carries a request id (req, one
 *     counter per world); the retry resends the same id, so a change whose
 *     COMMIT answer was lost (PostgreSQL connection gone at COMMIT) is
 *     found committed and not applied twice.  Given up after such a loss,
 *     the player hears "not confirmed", never "saved". */
#define _POSIX_C_SOURCE 200809L
#include "content_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG "db"
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 1000u

enum { REQ_LOGIN, REQ_GOLD, REQ_FIELD };

typedef struct db_req_s {
    struct db_req_s *next;
    int kind;
    uint64_t deadline_ms;
    login_job_t *login; /* REQ_LOGIN */
    nc_sid_t sid;       /* REQ_GOLD */
    int64_t char_id, delta;
    int field, mode; /* REQ_FIELD: a declared field, WORLD_FIELD_* */
    uint64_t req;    /* REQ_GOLD, REQ_FIELD: the change's id, the same on every resend */
    int maybe;       /* an attempt's COMMIT answer was lost: it may have been applied */
} db_req_t;

struct world_db_s {
    content_world_t *w;
    uint32_t request_timeout_ms, max_waiting;
    /* db strand only */
    db_req_t *head, *tail;
    uint32_t nreq;
    content_pos_t *pend; /* saves not yet on disk, one per character */
    size_t npend, cappend;
    uint32_t *slot; /* open addressing: id -> index + 1 into pend (0 = free) */
    size_t nslot;   /* power of two, >= 2 * npend */
    int down, timer_armed, stopped;
    nc_timer_id_t timer;
    uint32_t backoff_ms;
    uint64_t down_since_ms;
    uint64_t next_req; /* request ids handed out */
    /* published */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int up;
    atomic_size_t npend_pub, nreq_pub;
    atomic_uint_fast64_t retries, timeouts, lost, range_refused, unsaved;
    nc_log_state_t lim_login, lim_gold, lim_parse; /* per-request lines: one a second */
};

static void publish(world_db_t *d)
{
    pthread_mutex_lock(&d->mu);
    atomic_store(&d->npend_pub, d->npend);
    atomic_store(&d->nreq_pub, d->nreq);
    atomic_store(&d->up, !d->down);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

int world_db_init(content_world_t *w)
{
    world_db_t *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->w = w;
    d->request_timeout_ms = w->o.db_request_timeout_ms ? w->o.db_request_timeout_ms : 5000;
    d->max_waiting = w->o.db_max_waiting ? w->o.db_max_waiting : 4096;
    d->backoff_ms = BACKOFF_MIN_MS;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    atomic_store(&d->up, 1);
    w->dbq = d;
    return 0;
}

void world_db_free(content_world_t *w)
{
    world_db_t *d = w->dbq;
    if (!d)
        return;
    while (d->head) { /* only after world_db_stop: nobody is waiting any more */
        db_req_t *r = d->head;
        d->head = r->next;
        if (r->login) {
            nc_strand_release(r->login->strand);
            free(r->login);
        }
        free(r);
    }
    free(d->pend);
    free(d->slot);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
    w->dbq = NULL;
}

/* ---- db strand ---- */

static void retry_job(void *arg);

static void arm(world_db_t *d)
{
    if (d->timer_armed || d->stopped)
        return;
    int rc = nc_timer_start(d->w->db_strand, d->backoff_ms, 0, retry_job, d, &d->timer);
    if (rc == 0)
        d->timer_armed = 1;
    else /* the next request or save tries again */
        nc_log(NC_LOG_ERROR, TAG, "cannot start the retry timer: %s", nc_strerror(rc));
}

static void go_down(world_db_t *d)
{
    if (!d->down) {
        d->down = 1;
        d->down_since_ms = nc_now_ms();
        d->backoff_ms = BACKOFF_MIN_MS;
        nc_log(NC_LOG_WARN, TAG,
               "database unavailable: saves are kept and retried, logins and gold changes "
               "wait up to %u ms",
               d->request_timeout_ms);
    }
    arm(d);
}

static void go_up(world_db_t *d)
{
    if (!d->down)
        return;
    d->down = 0;
    nc_log(NC_LOG_INFO, TAG, "database available again after %llu ms",
           (unsigned long long)(nc_now_ms() - d->down_since_ms));
}

static void login_reply(world_db_t *d, login_job_t *j, int rc)
{
    j->ok = rc == CONTENT_DB_OK;
    j->db_unavailable = rc == CONTENT_DB_RETRY;
    j->not_owner = rc == CONTENT_DB_NOT_OWNER;
    world_post_critical(d->w, j->strand, session_loaded_job, j);
}

static void gold_reply(world_db_t *d, const db_req_t *r, int rc, int64_t bal)
{
    char text[112];
    if (rc == CONTENT_DB_OK)
        snprintf(text, sizeof text, "gold %+lld, balance %lld", (long long)r->delta,
                 (long long)bal);
    else
        snprintf(text, sizeof text, "gold change refused (%s)",
                 rc == CONTENT_DB_REFUSED ? "not enough"
                 : rc == CONTENT_DB_RANGE ? "the balance would overflow"
                 : rc == CONTENT_DB_RETRY && r->maybe
                     ? "database unavailable; not confirmed, check your balance later"
                 : rc == CONTENT_DB_RETRY ? "database unavailable, try again later"
                                          : "error");
    if (rc == CONTENT_DB_RANGE)
        atomic_fetch_add(&d->range_refused, 1);
    /* committed (or refused) before the client hears of it */
    world_send_notice(d->w, r->sid, rc == CONTENT_DB_OK ? 0 : PROTO_ERR_INTERNAL, text);
}

/* The answer to /show or /set, after the commit (or the refusal). */
static void field_reply(world_db_t *d, const db_req_t *r, int rc, const content_fields_t *f,
                        int64_t v)
{
    char text[200];
    size_t n = 0;
    if (rc == CONTENT_DB_OK && r->mode == WORLD_FIELD_SHOW) {
        for (int i = 0; i < CONTENT_FIELD_COUNT && n < sizeof text; i++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%s %lld", i ? ", " : "",
                                  content_fields[i].name,
                                  (long long)*content_field_ptr((content_fields_t *)f, i));
    } else if (rc == CONTENT_DB_OK) {
        snprintf(text, sizeof text, "%s is now %lld", content_fields[r->field].name, (long long)v);
    } else {
        const content_field_info_t *fi = &content_fields[r->field < 0 ? 0 : r->field];
        char why[80];
        snprintf(why, sizeof why, "must be %lld..%lld", (long long)fi->min, (long long)fi->max);
        snprintf(text, sizeof text, "%s refused (%s)",
                 r->mode == WORLD_FIELD_SHOW ? "show" : fi->name,
                 rc == CONTENT_DB_RANGE ? why
                 : rc == CONTENT_DB_RETRY && r->maybe
                     ? "database unavailable; not confirmed, check it later"
                 : rc == CONTENT_DB_RETRY ? "database unavailable, try again later"
                                          : "error");
    }
    world_send_notice(d->w, r->sid, rc == CONTENT_DB_OK ? 0 : PROTO_ERR_INTERNAL, text);
}

static int field_attempt(world_db_t *d, db_req_t *r)
{
    content_fields_t f;
    int64_t v = 0;
    int rc = r->mode == WORLD_FIELD_SHOW ? content_db_fields_get(d->w->db, r->char_id, &f)
             : r->mode == WORLD_FIELD_SET
                 ? content_db_field_set(d->w->db, r->char_id, r->field, r->delta, &v)
                 : content_db_field_add_req(d->w->db, r->req, r->char_id, r->field, r->delta, &v);
    if (rc != CONTENT_DB_RETRY)
        field_reply(d, r, rc, &f, v);
    return rc;
}

/* One attempt; CONTENT_DB_RETRY leaves r to the caller, anything else
 * answers it (the caller frees r). */
static int attempt(world_db_t *d, db_req_t *r)
{
    content_world_t *w = d->w;
    int rc;
    if (r->kind == REQ_LOGIN) {
        login_job_t *j = r->login;
        const content_zone_def_t *home = w->zones[0].def; /* reloads swap it */
        rc = content_db_login(w->db, j->name, &j->auth.who, home->id, home->spawn_x, home->spawn_y,
                              (int64_t)nc_wall_ms(), &j->c);
        if (rc != CONTENT_DB_RETRY)
            login_reply(d, j, rc);
    } else if (r->kind == REQ_FIELD) {
        rc = field_attempt(d, r);
    } else {
        int64_t bal = 0;
        rc = content_db_gold_add_req(w->db, r->req, r->char_id, r->delta, &bal);
        if (rc != CONTENT_DB_RETRY)
            gold_reply(d, r, rc, bal);
    }
    if (rc == CONTENT_DB_RETRY && content_db_outcome_unknown(w->db))
        r->maybe = 1;
    return rc;
}

/* Answers "database unavailable" (nothing changed). */
static void give_up(world_db_t *d, db_req_t *r)
{
    atomic_fetch_add(&d->timeouts, 1);
    if (r->kind == REQ_LOGIN) {
        nc_log_limited(&d->lim_login, 1000, NC_LOG_WARN, TAG,
                       "login of '%s' (session %llx): database unavailable, refused",
                       r->login->name, (unsigned long long)r->login->sid);
        login_reply(d, r->login, CONTENT_DB_RETRY);
    } else if (r->kind == REQ_FIELD) {
        field_reply(d, r, CONTENT_DB_RETRY, NULL, 0);
    } else {
        nc_log_limited(&d->lim_gold, 1000, NC_LOG_WARN, TAG,
                       "gold change %+lld of character %lld (session %llx): database "
                       "unavailable, %s",
                       (long long)r->delta, (long long)r->char_id, (unsigned long long)r->sid,
                       r->maybe ? "not confirmed (a COMMIT's answer was lost)" : "refused");
        gold_reply(d, r, CONTENT_DB_RETRY, 0);
    }
}

static void submit(world_db_t *d, db_req_t *r)
{
    r->deadline_ms = nc_now_ms() + d->request_timeout_ms;
    if (!d->down && !d->head && attempt(d, r) != CONTENT_DB_RETRY) {
        free(r);
        return;
    }
    if (d->nreq >= d->max_waiting || d->stopped) {
        give_up(d, r);
        free(r);
    } else {
        r->next = NULL;
        if (d->tail)
            d->tail->next = r;
        else
            d->head = r;
        d->tail = r;
        d->nreq++;
    }
    go_down(d);
    publish(d);
}

static size_t slot_of(const world_db_t *d, int64_t id)
{
    size_t i = (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 17) & (d->nslot - 1);
    while (d->slot[i] && d->pend[d->slot[i] - 1].id != id)
        i = (i + 1) & (d->nslot - 1);
    return i;
}

/* Room for one more character: grows pend and the index (rehash). */
static int reserve(world_db_t *d)
{
    if (d->npend == d->cappend) {
        size_t nc = d->cappend ? d->cappend * 2 : 64;
        if (nc > UINT32_MAX / 2)
            return -1;
        content_pos_t *np = realloc(d->pend, nc * sizeof *np);
        if (!np)
            return -1;
        d->pend = np;
        d->cappend = nc;
    }
    if ((d->npend + 1) * 2 > d->nslot) {
        size_t ns = d->nslot ? d->nslot * 2 : 128;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (!sl)
            return -1;
        free(d->slot);
        d->slot = sl;
        d->nslot = ns;
        for (size_t k = 0; k < d->npend; k++)
            d->slot[slot_of(d, d->pend[k].id)] = (uint32_t)(k + 1);
    }
    return 0;
}

/* Adds v to the pending set; a character already there gets the newer
 * position (saves arrive in the order they were taken). */
static int merge(world_db_t *d, const content_pos_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].id <= 0)
            continue; /* a login that never loaded: nothing to save */
        if (reserve(d) != 0)
            return -1;
        size_t sl = slot_of(d, v[i].id);
        if (!d->slot[sl]) {
            d->pend[d->npend] = v[i];
            d->slot[sl] = (uint32_t)++d->npend;
        } else {
            d->pend[d->slot[sl] - 1] = v[i];
        }
    }
    return 0;
}

static void clear_pending(world_db_t *d)
{
    d->npend = 0;
    if (d->slot)
        memset(d->slot, 0, d->nslot * sizeof *d->slot);
}

/* Writes the pending set; CONTENT_DB_RETRY keeps it. */
static int flush(world_db_t *d)
{
    if (d->npend == 0)
        return CONTENT_DB_OK;
    int rc = content_db_save_positions(d->w->db, d->pend, d->npend);
    if (rc == CONTENT_DB_RETRY)
        return rc;
    if (rc == CONTENT_DB_OK) {
        if (d->npend > 1)
            atomic_fetch_add(&d->w->saves_batched, 1);
    } else {
        for (size_t i = 0; i < d->npend; i++)
            nc_log(NC_LOG_ERROR, TAG, "NOT SAVED (permanent database error): '%s' (id %lld)",
                   d->pend[i].name, (long long)d->pend[i].id);
        atomic_fetch_add(&d->lost, d->npend);
    }
    clear_pending(d);
    return rc;
}

static void retry_job(void *arg)
{
    world_db_t *d = arg;
    d->timer_armed = 0;
    if (d->stopped)
        return;
    atomic_fetch_add(&d->retries, 1);
    uint64_t now = nc_now_ms();
    /* requests past their deadline are answered first, in order */
    while (d->head && d->head->deadline_ms <= now) {
        db_req_t *r = d->head;
        d->head = r->next;
        d->nreq--;
        give_up(d, r);
        free(r);
    }
    if (!d->head)
        d->tail = NULL;
    /* with nothing waiting, a probe tells whether the database is back */
    int rc = d->npend == 0 && !d->head ? content_db_probe(d->w->db) : flush(d);
    while (rc != CONTENT_DB_RETRY && d->head) {
        db_req_t *r = d->head;
        rc = attempt(d, r);
        if (rc != CONTENT_DB_RETRY) {
            d->head = r->next;
            d->nreq--;
            free(r);
        }
    }
    if (!d->head)
        d->tail = NULL;
    if (rc == CONTENT_DB_RETRY) {
        d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
        arm(d);
    } else {
        go_up(d);
    }
    publish(d);
}

void world_db_login(content_world_t *w, login_job_t *j)
{
    db_req_t *r = calloc(1, sizeof *r);
    if (!r) {
        login_reply(w->dbq, j, CONTENT_DB_ERROR);
        return;
    }
    r->kind = REQ_LOGIN;
    r->login = j;
    submit(w->dbq, r);
}

void world_db_gold(content_world_t *w, nc_sid_t sid, int64_t char_id, int64_t delta)
{
    db_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->kind = REQ_GOLD;
    r->req = ++w->dbq->next_req;
    r->sid = sid;
    r->char_id = char_id;
    r->delta = delta;
    submit(w->dbq, r);
}

void world_db_field(content_world_t *w, nc_sid_t sid, int64_t char_id, int field, int mode,
                    int64_t v)
{
    db_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->kind = REQ_FIELD;
    r->req = ++w->dbq->next_req;
    r->sid = sid;
    r->char_id = char_id;
    r->field = field;
    r->mode = mode;
    r->delta = v;
    submit(w->dbq, r);
}

void world_db_save(content_world_t *w, const content_pos_t *v, size_t n)
{
    world_db_t *d = w->dbq;
    if (d->down) { /* the retry timer writes them */
        if (merge(d, v, n) != 0) {
            for (size_t i = 0; i < n; i++)
                nc_log(NC_LOG_ERROR, TAG, "NOT SAVED (out of memory): '%s' (id %lld)", v[i].name,
                       (long long)v[i].id);
            atomic_fetch_add(&d->lost, n);
        }
        arm(d); /* none if an earlier arm failed (out of memory): these would wait forever */
        publish(d);
        return;
    }
    /* usual case: nothing pending, write straight from v */
    int rc = content_db_save_positions(w->db, v, n);
    if (rc == CONTENT_DB_OK) {
        if (n > 1)
            atomic_fetch_add(&w->saves_batched, 1);
        return;
    }
    if (rc == CONTENT_DB_RETRY && merge(d, v, n) == 0) {
        go_down(d);
    } else {
        for (size_t i = 0; i < n; i++)
            nc_log(NC_LOG_ERROR, TAG, "NOT SAVED (database error): '%s' (id %lld)", v[i].name,
                   (long long)v[i].id);
        atomic_fetch_add(&d->lost, n);
    }
    publish(d);
}

static void report_job(void *arg)
{
    world_db_t *d = arg;
    for (size_t i = 0; i < d->npend; i++)
        nc_log(NC_LOG_ERROR, TAG,
               "NOT SAVED: '%s' (id %lld): zone %d at (%.1f, %.1f), played %llds -- the "
               "database stayed unavailable",
               d->pend[i].name, (long long)d->pend[i].id, (int)d->pend[i].zone,
               (double)d->pend[i].x, (double)d->pend[i].y, (long long)d->pend[i].played_s);
    atomic_store(&d->unsaved, d->npend + atomic_load(&d->lost));
}

static void stop_job(void *arg)
{
    world_db_t *d = arg;
    d->stopped = 1;
    if (d->timer_armed && nc_timer_cancel(nc_queue_pool(d->w->o.db_queue), d->timer) == 0)
        d->timer_armed = 0;
    while (d->head) {
        /* the sessions are gone (world teardown): no session job may be
         * posted now that would outlive the world; a gold request's
         * session id is just not found */
        db_req_t *r = d->head;
        d->head = r->next;
        d->nreq--;
        if (r->kind == REQ_LOGIN) {
            atomic_fetch_add(&d->timeouts, 1);
            nc_strand_release(r->login->strand);
            free(r->login);
        } else {
            give_up(d, r);
        }
        free(r);
    }
    d->tail = NULL;
    publish(d);
}

/* ---- any thread but the db strand ---- */

size_t world_db_wait(content_world_t *w, uint64_t deadline_ms)
{
    world_db_t *d = w->dbq;
    world_fence(w->db_strand); /* saves posted so far are written or pending */
    pthread_mutex_lock(&d->mu);
    for (;;) {
        uint64_t now = nc_now_ms();
        if ((atomic_load(&d->npend_pub) == 0 && atomic_load(&d->nreq_pub) == 0) ||
            now >= deadline_ms)
            break;
        uint64_t step = deadline_ms - now > 200 ? 200 : deadline_ms - now;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(step * 1000000u);
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    world_post_critical(w, w->db_strand, report_job, d);
    world_fence(w->db_strand);
    return (size_t)atomic_load(&d->unsaved);
}

void world_db_stop(content_world_t *w)
{
    if (!w->dbq || !w->db_strand)
        return;
    if (world_post_critical(w, w->db_strand, stop_job, w->dbq) == 0)
        world_fence(w->db_strand); /* a timer job that fired meanwhile has run too */
}

void world_db_gold_command(content_world_t *w, nc_sid_t sid, int64_t char_id, const char *arg)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(arg, &end, 10);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (end == arg || !end || *end != 0) {
        world_send_error(w, sid, PROTO_ERR_BAD_PACKET, 0, "usage: /gold N (a whole number)");
        return;
    }
    if (errno == ERANGE) {
        atomic_fetch_add(&w->dbq->range_refused, 1);
        nc_log_limited(&w->dbq->lim_parse, 1000, NC_LOG_WARN, TAG,
                       "session %llx: /gold amount '%.40s' out of range; refused",
                       (unsigned long long)sid, arg);
        world_send_error(w, sid, PROTO_ERR_BAD_PACKET, 0,
                         "gold change refused (amount out of range)");
        return;
    }
    world_gold_async(w, sid, char_id, (int64_t)v);
}

void world_db_stats(content_world_t *w, content_stats_t *s)
{
    world_db_t *d = w->dbq;
    if (!d)
        return;
    s->db_up = atomic_load(&d->up);
    s->db_saves_pending = atomic_load(&d->npend_pub);
    s->db_requests_waiting = atomic_load(&d->nreq_pub);
    s->db_retries = atomic_load(&d->retries);
    s->db_requests_timed_out = atomic_load(&d->timeouts);
    s->db_saves_lost = atomic_load(&d->lost);
    s->money_range_refused = atomic_load(&d->range_refused);
}
