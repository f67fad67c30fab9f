/* Sessions: life cycle, reference counting, close reasons, the receive path
 * (framing in the I/O thread, one job per read on the session's strand) and
 * the bounded send queue.  Portable: the backend is reached only through
 * the nc__io_* contract in engine.h. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_INITIAL 16 /* the ring's size stays a power of two */
#define SQ_AT(s, i) ((s)->sq[((s)->sq_head + (i)) & ((s)->sq_cap - 1)])
#define CORK_MAX 65536 /* a corked batch flushes early past this */

int nc__engine_table_add(nc_engine_t *e, nc_session_t *s);
void nc__engine_table_remove(nc_engine_t *e, nc_session_t *s);
int nc__role_session_add(nc__role_t *r);
int nc__role_session_publish(nc__role_t *r, nc_session_t *s);
void nc__role_session_gone(nc__role_t *r, nc_session_t *s);

/* ---- references and the final job --------------------------------------- */

void nc__session_retain(nc_session_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

static void count_out_locked(nc_session_t *s);

static void session_free(nc_session_t *s)
{
    for (uint32_t i = 0; i < s->sq_count; i++)
        nc_packet_release(SQ_AT(s, i));
    free(s->sq);
    free(s->rjob);
    nc__mutex_destroy(&s->lock);
    free(s);
}

/* Runs on the session's strand after every other job of the session. */
static void final_job(void *arg)
{
    nc_session_t *s = arg;
    nc__role_t *r = s->role;
    if (s->opened && r->opts.handlers.on_close)
        r->opts.handlers.on_close(s, &s->reason, r->opts.ud);
    nc_log(NC_LOG_DEBUG, r->name, "session %016llx closed: %s (%s)", (unsigned long long)s->id,
           s->reason.text, nc_errname(s->reason.code));
    nc__engine_table_remove(s->engine, s);
    count_out_locked(s); /* the last reference: no lock needed; before the role can go */
    nc_strand_t *strand = s->strand;
    nc__role_session_gone(r, s);
    session_free(s);
    nc_strand_release(strand);
}

void nc__session_release(nc_session_t *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (nc__strand_post_force(s->strand, final_job, s) < 0)
        final_job(s); /* pool already stopping: nothing else can run it */
}

/* ---- close -------------------------------------------------------------- */

/* Closer and creator may race (a reset can close a session while it is being
 * created): the exchange gives the timer to exactly one of them. */
static void cancel_idle_timer(nc_session_t *s)
{
    nc_timer_id_t id = atomic_exchange(&s->idle_timer, 0);
    if (id && nc_timer_cancel(nc_queue_pool(nc_strand_queue(s->strand)), id) == 0)
        nc__session_release(s); /* the timer's reference */
}

static void cancel_rate_timer(nc_session_t *s);

/* graceful: flush what is queued before the close (orderly codes always). */
static void session_close_as(nc_session_t *s, int code, const char *text,
                             atomic_uint_fast64_t *counter, int graceful)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&s->closing, &expect, 1))
        return;
    s->reason.code = code;
    snprintf(s->reason.text, sizeof(s->reason.text), "%s", text ? text : "");
    if (counter)
        atomic_fetch_add(counter, 1);
    if (code < 0 && code != NC_ESTOPPED) /* per connection: rate-limited */
        nc_log_limited(&s->role->log_closing, 1000, NC_LOG_INFO, s->role->name,
                       "session %016llx %s closing: %s", (unsigned long long)s->id, s->peer,
                       s->reason.text);
    else
        nc_log(NC_LOG_DEBUG, s->role->name, "session %016llx %s closing: %s",
               (unsigned long long)s->id, s->peer, s->reason.text);
    cancel_idle_timer(s);
    cancel_rate_timer(s);
    nc__io_close(s, graceful || code >= 0 || code == NC_ESTOPPED);
}

static void session_close(nc_session_t *s, int code, const char *text,
                          atomic_uint_fast64_t *counter)
{
    session_close_as(s, code, text, counter, 0);
}

void nc_session_close(nc_session_t *s, int code, const char *text)
{
    atomic_store(&s->local_close, 1);
    session_close(s, code, text, NULL);
}

int nc_close_id(nc_engine_t *e, nc_sid_t id, int code, const char *text)
{
    nc_session_t *s = nc_session_get(e, id);
    if (!s)
        return NC_ESTALE;
    nc_session_close(s, code, text);
    nc_session_put(s);
    return 0;
}

/* ---- creation ----------------------------------------------------------- */

static void open_job(void *arg)
{
    nc_session_t *s = arg;
    if (s->role->opts.handlers.on_open)
        s->role->opts.handlers.on_open(s, s->role->opts.ud);
    nc__session_release(s);
}

/* The session's watchdog: idle for idle_timeout_ms, or over its input
 * bound for max_input_stall_ms. */
static void idle_job(void *arg)
{
    nc_session_t *s = arg;
    nc__role_t *r = s->role;
    /* the last receive first, then the clock: an I/O thread stamping a
     * receive between the two reads made last_rx_ms newer than `now`, and
     * now - last_rx_ms wrapped to 2^64: an active player (one of 2,000
     * bots, 60 s into a run) closed "for inactivity" */
    uint64_t last = atomic_load(&s->last_rx_ms), now = nc_now_ms();
    uint64_t idle = r->opts.idle_timeout_ms, stall = r->opts.max_input_stall_ms;
    if (nc__idle_over(last, now, idle)) {
        /* with a notice: sent, then an orderly close that flushes it */
        if (r->opts.idle_notice && nc_send_packet(s, r->opts.idle_notice) == 0)
            session_close_as(s, NC_ETIMEDOUT, NC_REASON_IDLE, &r->st.closed_idle, 1);
        else
            session_close(s, NC_ETIMEDOUT, NC_REASON_IDLE, &r->st.closed_idle);
        return;
    }
    if (!stall)
        return;
    /* Stalled: paused for input at least 3/4 of the time, continuously for
     * `stall` ms.  (A session whose work never keeps up is resumed for a
     * moment each time its backlog drains, so the length of one pause
     * would not tell; this job also runs behind that backlog.) */
    nc__mutex_lock(&s->lock);
    now = nc_now_ms(); /* not older than input_paused_ms (same reason as above) */
    uint64_t paused = s->input_paused_total;
    if (s->paused & NC__PAUSE_INPUT)
        paused += now - s->input_paused_ms;
    uint64_t span = s->wd_last_ms ? now - s->wd_last_ms : 0;
    if (span && (paused - s->wd_last_paused) * 4 >= span * 3)
        s->stall_run_ms += span;
    else if (span)
        s->stall_run_ms = 0;
    s->wd_last_ms = now;
    s->wd_last_paused = paused;
    int stalled = s->stall_run_ms >= stall;
    nc__mutex_unlock(&s->lock);
    if (stalled)
        session_close(s, NC_ETIMEDOUT, NC_REASON_INPUT_BACKLOG, &r->st.closed_stalled);
}

static uint64_t watch_every(uint64_t ms, uint64_t every)
{
    if (!ms)
        return every;
    ms = ms / 4 < 10 ? 10 : ms / 4;
    return every && every < ms ? every : ms;
}

static void start_idle_timer(nc_session_t *s)
{
    uint64_t every = watch_every(s->role->opts.idle_timeout_ms, 0);
    every = watch_every(s->role->opts.max_input_stall_ms, every);
    if (!every)
        return;
    nc__session_retain(s); /* the timer's reference */
    nc_timer_id_t id;
    if (nc_timer_start(s->strand, every, every, idle_job, s, &id) != 0) {
        atomic_fetch_sub(&s->refs, 1); /* cannot be the last: the creator holds one */
        return;
    }
    atomic_store(&s->idle_timer, id);
    if (atomic_load(&s->closing)) /* closed meanwhile: the closer saw no timer */
        cancel_idle_timer(s);
}

/* Builds a session around an accepted or connected socket.  Returns its id,
 * or 0 (socket closed) if refused or out of resources.  The session may be
 * gone by the time this returns: callers use only the id. */
nc_sid_t nc__session_create(nc__role_t *r, nc__sock_t fd, const char *peer)
{
    nc_session_t *s = calloc(1, sizeof(*s));
    if (!s || nc_strand_create(r->opts.queue, &s->strand) != 0) {
        free(s);
        nc__io_sock_close(fd);
        return 0;
    }
    s->engine = r->engine;
    s->role = r;
    s->fd = fd;
    atomic_init(&s->refs, 1); /* the backend's, handed over in nc__io_start */
    atomic_init(&s->closing, 0);
    atomic_init(&s->local_close, 0);
    atomic_init(&s->last_rx_ms, nc_now_ms());
    nc__mutex_init(&s->lock);
    snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "?");
    int rc = nc__engine_table_add(r->engine, s);
    if (rc == 0 && (rc = nc__role_session_add(r)) != 0)
        nc__engine_table_remove(r->engine, s);
    if (rc != 0) {
        if (rc == NC_EAGAIN)
            atomic_fetch_add(&r->st.rejected_cap, 1);
        nc_log_limited(&r->log_refused, 1000, NC_LOG_WARN, r->name,
                       "connection from %s refused: %s", s->peer,
                       rc == NC_EAGAIN ? "session cap reached" : nc_strerror(rc));
        nc_strand_t *strand = s->strand;
        nc__io_sock_close(fd);
        nc__mutex_destroy(&s->lock);
        free(s);
        nc_strand_release(strand);
        return 0;
    }
    atomic_fetch_add(&r->st.sessions_total, 1);
    nc_sid_t id = s->id;
    nc_log(NC_LOG_DEBUG, r->name, "session %016llx opened from %s", (unsigned long long)id,
           s->peer);
    /* Our own reference until we return: once on_open is posted, a close
     * (from on_open, or by id from any thread) can drop every other one. */
    nc__session_retain(s);
    /* registered and the idle timer armed first (so a close from on_open or
     * by a published id finds both), then on_open is posted, then the id is
     * published, then reading starts: on_open precedes every packet */
    int reg = nc__io_start(r->engine, s);
    start_idle_timer(s);
    s->opened = 1;
    nc__session_retain(s);
    nc__strand_post_force(s->strand, open_job, s);
    int pub = nc__role_session_publish(r, s);
    if (reg != 0)
        session_close(s, reg, "register failed", NULL);
    else if (pub != 0)
        session_close(s, NC_ESTOPPED, NC_REASON_SHUTDOWN, NULL);
    else
        nc__io_resume_read(s);
    nc__session_release(s);
    return id;
}

/* ---- receive path (I/O thread) ------------------------------------------ */

typedef struct nc__pjob_s {
    nc_session_t *s;
    struct nc__pjob_s *next; /* on a free list */
    size_t len, cap;
    int64_t charge; /* against the session's input bound (see stage_packets) */
    int raw;        /* raw role: data is the bytes as read, not packets */
    uint8_t data[]; /* complete, validated packets (a session's rjob: as read) */
} packets_job_t;

/* Receive buffers.  The I/O thread reads straight into a buffer that then
 * becomes the read's job (no copy); a partial packet at its end moves to the
 * session's next buffer.  Buffers of the standard size circulate: the worker
 * that ran the job pushes the buffer onto the engine's free stack, and the
 * I/O thread takes that whole stack into a private list when its own runs
 * out.  Taken last-freed-first, the buffers a batch touches are the ones the
 * previous batch touched, still in the cache, however many sessions there
 * are; and an idle session holds no buffer at all.  Bigger buffers (a
 * partial packet longer than the standard size) are freed after use. */
/* 16 KiB: four 4 KiB packets per read.  With 8 KiB, a stream of 4 KiB
 * packets became one job and one receive per packet (the partial second
 * packet moves to the next buffer each time), and on IOCP under Wine a
 * receive then cost about as much as the test's slow handler. */
#define PJOB_STD ((size_t)16384)
/* What one packet counts against max_input_bytes besides its bytes. */
#define NC__PACKET_CHARGE 64
#define PJOB_CACHE_MAX 256 /* buffers an engine keeps free (4 MiB); the rest go back to malloc */

static _Thread_local struct {
    int io;              /* an I/O thread: keeps a private list */
    packets_job_t *head; /* private free list */
} tls_pj;

void nc__io_thread_begin(void)
{
    tls_pj.io = 1;
}

static void pjob_free_list(packets_job_t *j)
{
    while (j) {
        packets_job_t *next = j->next;
        free(j);
        j = next;
    }
}

void nc__io_thread_end(void)
{
    pjob_free_list(tls_pj.head);
    tls_pj.head = NULL;
    tls_pj.io = 0;
}

void nc__engine_bufs_free(nc_engine_t *e)
{
    pjob_free_list(atomic_exchange(&e->free_bufs, NULL));
}

static packets_job_t *pjob_get(nc_engine_t *e, size_t need)
{
    packets_job_t *j = NULL;
    if (need <= PJOB_STD && tls_pj.io) {
        if (!tls_pj.head) {
            /* free_count counts the stack only: it is empty now.  A push
             * counted but not yet linked at this instant is missed once,
             * so the bound is soft by the number of workers; and each
             * I/O thread's private list holds at most one stack's worth. */
            tls_pj.head = atomic_exchange_explicit(&e->free_bufs, NULL, memory_order_acquire);
            if (tls_pj.head)
                atomic_store_explicit(&e->free_count, 0, memory_order_relaxed);
        }
        j = tls_pj.head;
        if (j)
            tls_pj.head = j->next;
    }
    if (!j) {
        size_t cap = need <= PJOB_STD ? PJOB_STD : need;
        j = malloc(sizeof(*j) + cap);
        if (!j)
            return NULL;
        j->cap = cap;
    }
    j->len = 0;
    return j;
}

/* Any thread. */
static void pjob_put(nc_engine_t *e, packets_job_t *j)
{
    if (j->cap != PJOB_STD ||
        atomic_load_explicit(&e->free_count, memory_order_relaxed) >= PJOB_CACHE_MAX) {
        free(j);
        return;
    }
    atomic_fetch_add_explicit(&e->free_count, 1, memory_order_relaxed);
    /* a push-only stack: the single consumer takes it whole, so no ABA */
    packets_job_t *head = atomic_load_explicit(&e->free_bufs, memory_order_relaxed);
    do
        j->next = head;
    while (!atomic_compare_exchange_weak_explicit(&e->free_bufs, &head, j, memory_order_release,
                                                  memory_order_relaxed));
}

static void deliver_one(void *ud, uint16_t type, const uint8_t *body, size_t len)
{
    nc_session_t *s = ud;
    if (atomic_load_explicit(&s->local_close, memory_order_relaxed))
        return; /* no packets after the application closed the session */
    s->role->opts.handlers.on_packet(s, type, body, len, s->role->opts.ud);
}

static void input_done(nc_session_t *s, int64_t n);

static void packets_job(void *arg)
{
    packets_job_t *j = arg;
    nc_session_t *s = j->s;
    int64_t charge = j->charge;
    if (j->raw)
        deliver_one(s, 0, j->data, j->len);
    else
        nc__frame_scan(j->data, j->len, NC_MAX_PACKET, deliver_one, s);
    pjob_put(s->engine, j); /* before our reference goes: s may go with it */
    input_done(s, charge);
    nc__session_release(s);
}

/* ---- corking (pool workers) ----------------------------------------------
 * On a pool worker a send queues its packet at once, so the order of sends
 * between threads is unchanged, but the write waits until the job returns
 * (the pool calls nc__cork_flush after each job, or after each take of a
 * strand's jobs) or the session has CORK_MAX unsent bytes.  Each session
 * the job touched is then written once: a read of N requests answered by N
 * replies costs one write, and a zone tick that sends 50 packets to each of
 * 500 players costs 500 writes, not 25,000.  Other threads write at once. */
#define CORK_LIST 1024

typedef struct {
    int on;
    int n;
    nc_session_t *s[CORK_LIST];
} cork_t;
static _Thread_local cork_t tls_cork;

void nc__cork_begin(void)
{
    tls_cork.on = 1;
}

/* Under s->lock (or with the last reference): the packets queued since the
 * last write join the role's count, one atomic add per write rather than
 * one per packet on a line every worker shares. */
static void count_out_locked(nc_session_t *s)
{
    if (s->packets_queued) {
        atomic_fetch_add_explicit(&s->role->st.packets_out, s->packets_queued,
                                  memory_order_relaxed);
        s->packets_queued = 0;
    }
}

void nc_send_flush(void)
{
    cork_t *c = &tls_cork;
    for (int i = 0; i < c->n; i++) {
        nc_session_t *s = c->s[i];
        nc__mutex_lock(&s->lock);
        if (s->cork_owner == c)
            s->cork_owner = NULL;
        count_out_locked(s);
        if (s->sq_count && s->fd != NC__BAD_SOCK && !s->send_error)
            nc__io_send_locked(s);
        nc__mutex_unlock(&s->lock);
        nc__session_release(s);
    }
    c->n = 0;
}

void nc__cork_flush(void)
{
    if (tls_cork.n)
        nc_send_flush();
}

/* Under s->lock, after queueing: write now, or leave it to this thread's
 * flush. */
static void kick_locked(nc_session_t *s)
{
    cork_t *c = &tls_cork;
    if (c->on && s->unsent < CORK_MAX) {
        if (s->cork_owner == c)
            return; /* already on our list */
        if (c->n < CORK_LIST) {
            s->cork_owner = c; /* another thread's list may hold it too */
            nc__session_retain(s);
            c->s[c->n++] = s;
            return;
        }
    }
    count_out_locked(s);
    nc__io_send_locked(s);
}

typedef struct {
    const uint8_t *base;
    size_t end;
    uint64_t count;
} scan_state_t;

static void count_one(void *ud, uint16_t type, const uint8_t *body, size_t len)
{
    scan_state_t *st = ud;
    (void)type;
    st->end = (size_t)(body - st->base) + len;
    st->count++;
}

uint8_t *nc__recv_space(nc_session_t *s, size_t *avail)
{
    packets_job_t *j = s->rjob;
    if (!j) {
        j = s->rjob = pjob_get(s->engine, PJOB_STD);
        if (!j) {
            *avail = 0;
            return NULL;
        }
    } else if (j->len == j->cap) {
        /* a partial packet fills the buffer: it is <= max_packet (checked
         * when its header arrived), so doubling (capped at max_packet) each
         * time the buffer fills again gets there */
        size_t ncap = j->cap * 2;
        if (ncap > s->role->opts.max_packet)
            ncap = s->role->opts.max_packet;
        if (ncap <= j->cap)
            ncap = j->cap + 1; /* unreachable: framing rejects bigger */
        packets_job_t *nj = realloc(j, sizeof(*j) + ncap);
        if (!nj) {
            *avail = 0;
            return NULL;
        }
        j = s->rjob = nj;
        j->cap = ncap;
    }
    *avail = j->cap - j->len;
    return j->data + j->len;
}

/* ---- pausing reads --------------------------------------------------------
 * A session stops being read while any reason in s->paused holds: its
 * queue is full (everyone feeding the queue pauses; a queue waiter
 * resumes), its own admitted input is over max_input_bytes (it alone
 * pauses; the work finishing resumes it at half), it is over its packet
 * rate (it alone; a timer resumes it), or the peer's FIN was read. */

/* Adds a reason (under the lock; `over`, if given, must still hold there).
 * Returns 1 if the reason is new. */
static int pause_add(nc_session_t *s, unsigned why, int (*over)(nc_session_t *))
{
    nc__mutex_lock(&s->lock);
    int fresh = !(s->paused & why) && (!over || over(s));
    if (fresh) {
        s->paused |= (int)why;
        if (why == NC__PAUSE_INPUT)
            s->input_paused_ms = nc_now_ms();
    }
    nc__mutex_unlock(&s->lock);
    if (fresh)
        nc__io_pause_read(s);
    return fresh;
}

/* Removes a reason; reading resumes when none is left. */
static void pause_clear(nc_session_t *s, unsigned why)
{
    nc__mutex_lock(&s->lock);
    int had = s->paused & (int)why;
    if (had & NC__PAUSE_INPUT)
        s->input_paused_total += nc_now_ms() - s->input_paused_ms;
    s->paused &= ~(int)why;
    int left = s->paused;
    nc__mutex_unlock(&s->lock);
    if (had && !left && !atomic_load(&s->closing))
        nc__io_resume_read(s);
}

static void resume_waiter(nc__waiter_t *w)
{
    nc_session_t *s = NC_CONTAINER_OF(w, nc_session_t, waiter);
    pause_clear(s, NC__PAUSE_QUEUE);
    nc__session_release(s);
}

/* The queue is at capacity: stop reading until it drains below low water. */
static void pause_reading(nc_session_t *s)
{
    nc__role_t *r = s->role;
    if (!pause_add(s, NC__PAUSE_QUEUE, NULL))
        return;
    atomic_fetch_add(&r->st.read_pauses, 1);
    nc__session_retain(s); /* the waiter's reference */
    s->waiter.fn = resume_waiter;
    nc__queue_wait_room(r->opts.queue, &s->waiter);
}

static int input_over(nc_session_t *s)
{
    return atomic_load(&s->in_bytes) > (int64_t)s->role->opts.max_input_bytes;
}

/* After input was admitted (a read staged, a hold taken): past the bound,
 * this session alone stops being read.  The check is repeated under the
 * lock, so a worker finishing input at that moment either sees the pause
 * (and lifts it) or made it unnecessary. */
static void input_check(nc_session_t *s)
{
    if (input_over(s) && pause_add(s, NC__PAUSE_INPUT, input_over))
        atomic_fetch_add(&s->role->st.input_pauses, 1);
}

/* n bytes of admitted input were handled (any thread).  Reading resumes
 * when the session's input falls to half its bound: the decrement that
 * crosses it lifts the pause. */
static void input_done(nc_session_t *s, int64_t n)
{
    int64_t low = (int64_t)s->role->opts.max_input_bytes / 2;
    int64_t left = atomic_fetch_sub(&s->in_bytes, n) - n;
    if (left <= low && left + n > low)
        pause_clear(s, NC__PAUSE_INPUT);
}

void nc_session_hold(nc_session_t *s, uint32_t n)
{
    nc__session_retain(s);
    atomic_fetch_add(&s->in_bytes, (int64_t)n);
    input_check(s);
}

void nc_session_unhold(nc_session_t *s, uint32_t n)
{
    input_done(s, (int64_t)n);
    nc__session_release(s);
}

/* ---- packet rate (I/O side) ---------------------------------------------- */

static void rate_resume_job(void *arg)
{
    nc_session_t *s = arg;
    atomic_store(&s->rate_timer, 0);
    pause_clear(s, NC__PAUSE_RATE);
    nc__session_release(s); /* the timer's reference */
}

static void cancel_rate_timer(nc_session_t *s)
{
    nc_timer_id_t id = atomic_exchange(&s->rate_timer, 0);
    if (id && nc_timer_cancel(nc_queue_pool(nc_strand_queue(s->strand)), id) == 0)
        nc__session_release(s); /* the job will not run: its reference */
}

/* `count` packets arrived.  A token bucket of rate_burst packets refilled
 * at rate_packets_per_s (in thousandths of a packet, so any rate is exact
 * per millisecond); in debt, reading pauses until the debt is repaid.
 * Returns 1 if reading paused. */
static int rate_take(nc_session_t *s, uint64_t count)
{
    nc__role_t *r = s->role;
    int64_t rate = r->opts.rate_packets_per_s;
    if (!rate)
        return 0;
    int64_t cap = (int64_t)r->opts.rate_burst * 1000;
    uint64_t now = nc_now_ms();
    if (!s->rate_last_ms) {
        s->rate_tokens = cap;
    } else {
        uint64_t dt = now - s->rate_last_ms;
        int64_t add = dt > 100000000u ? cap : (int64_t)dt * rate; /* < 2^27 * 2^32 */
        s->rate_tokens = add >= cap - s->rate_tokens ? cap : s->rate_tokens + add;
    }
    s->rate_last_ms = now;
    s->rate_tokens -= (int64_t)count * 1000; /* count <= one read's packets */
    if (s->rate_tokens >= 0)
        return 0;
    if (!pause_add(s, NC__PAUSE_RATE, NULL))
        return 1;
    atomic_fetch_add(&r->st.rate_pauses, 1);
    uint64_t wait = (uint64_t)((-s->rate_tokens + rate - 1) / rate);
    nc__session_retain(s); /* the timer's reference */
    nc_timer_id_t id;
    if (nc_timer_start(s->strand, wait ? wait : 1, 0, rate_resume_job, s, &id) != 0) {
        atomic_fetch_sub(&s->refs, 1); /* not the last: the backend holds one */
        pause_clear(s, NC__PAUSE_RATE);
        return 0;
    }
    atomic_store(&s->rate_timer, id);
    if (atomic_load(&s->closing)) /* closed meanwhile: the closer saw no timer */
        cancel_rate_timer(s);
    return 1;
}

/* Packets jobs of one backend batch, posted together by nc__on_batch_end:
 * one pool lock and at most one wake-up per batch instead of per read.  A
 * session has at most one job staged (a second read of it flushes first),
 * so back-pressure still stops a session after one job past capacity. */
/* At least the epoll backend's events per wait: a flush in mid-batch wakes
 * the worker, which then takes the CPU from the I/O thread for that part. */
#define STAGE_MAX 256
static _Thread_local struct {
    nc__post_t items[STAGE_MAX];
    nc_session_t *sessions[STAGE_MAX];
    int n;
} tls_stage;

void nc__on_batch_end(void)
{
    int n = tls_stage.n;
    if (!n)
        return;
    tls_stage.n = 0;
    nc__post_t *items = tls_stage.items;
    for (int i = 0; i < n; i++)
        tls_stage.sessions[i]->staged = 0;
    nc__strand_post_many(items, n);
    /* A posted job may already have run and freed itself; its session is
     * still alive: the backend's reference lasts while it delivers. */
    for (int i = 0; i < n; i++) {
        nc_session_t *s = tls_stage.sessions[i];
        if (items[i].rc < 0) {
            session_close(s, items[i].rc, "pool stopped", NULL);
            nc__session_release(s);
            free(items[i].arg);
        } else {
            if (items[i].rc == 1)
                pause_reading(s);
            input_check(s);
        }
    }
}

/* j (the session's buffer, now holding whole packets only) becomes a job. */
static void stage_packets(nc_session_t *s, packets_job_t *j, uint64_t count)
{
    j->s = s;
    j->raw = s->role->opts.raw;
    atomic_fetch_add_explicit(&s->role->st.packets_in, count, memory_order_relaxed);
    /* a packet costs a job's worth of work and memory whatever its size:
     * tiny packets must not slip thousands of jobs under a byte bound */
    j->charge = (int64_t)j->len + (int64_t)count * NC__PACKET_CHARGE;
    atomic_fetch_add(&s->in_bytes, j->charge);
    nc__session_retain(s);
    /* s->staged here means a backend read again without nc__recv_more */
    if (s->staged || tls_stage.n == STAGE_MAX)
        nc__on_batch_end();
    s->staged = 1;
    tls_stage.sessions[tls_stage.n] = s;
    tls_stage.items[tls_stage.n++] = (nc__post_t){s->strand, packets_job, j, 0};
}

int nc__recv_more(nc_session_t *s)
{
    if (s->staged)
        nc__on_batch_end();
    nc__mutex_lock(&s->lock);
    int paused = s->paused;
    nc__mutex_unlock(&s->lock);
    return !paused && !atomic_load(&s->closing);
}

int nc__on_recv(nc_session_t *s, size_t n)
{
    nc__role_t *r = s->role;
    packets_job_t *j = s->rjob;
    j->len += n;
    atomic_fetch_add_explicit(&r->st.bytes_in, n, memory_order_relaxed);
    if (r->opts.idle_timeout_ms) /* read only by the idle timer */
        atomic_store_explicit(&s->last_rx_ms, nc_now_ms(), memory_order_relaxed);
    if (atomic_load(&s->closing))
        return 1;
    scan_state_t st = {j->data, 0, 0};
    long used = r->opts.raw ? (long)j->len
                            : nc__frame_scan(j->data, j->len, r->opts.max_packet, count_one, &st);
    int bad = used < 0;
    size_t take = bad ? st.end : (size_t)used;
    if (r->opts.raw)
        st.count = 1;
    if (take) {
        /* the complete packets leave in j; a partial one starts the next */
        size_t tail = bad ? 0 : j->len - take;
        packets_job_t *next = NULL;
        if (tail && (next = pjob_get(s->engine, tail)) != NULL) {
            memcpy(next->data, j->data + take, tail);
            next->len = tail;
        }
        j->len = take;
        s->rjob = next;
        stage_packets(s, j, st.count); /* the complete ones still arrive */
        if (tail && !next) {
            session_close(s, NC_ENOMEM, "out of memory", NULL);
            return 1;
        }
        if (!bad && rate_take(s, st.count))
            return 1;
    }
    if (bad) {
        session_close(s, NC_EMSGSIZE, NC_REASON_BAD_LENGTH, &r->st.closed_bad_length);
        return 1;
    }
    return atomic_load(&s->closing) ? 1 : 0;
}

static void peer_closed_job(void *arg)
{
    nc_session_t *s = arg;
    session_close(s, 0, NC_REASON_PEER, NULL);
    nc__session_release(s);
}

void nc__on_recv_end(nc_session_t *s, int err)
{
    if (err != 0) {
        session_close(s, err, nc_strerror(err), NULL);
        return;
    }
    if (atomic_exchange(&s->peer_eof, 1))
        return;
    pause_add(s, NC__PAUSE_EOF, NULL); /* nothing more to read; HUP and errors still come */
    /* The peer's FIN closes the session from its strand, after the jobs of
     * the packets that came before it: their replies are queued by then and
     * the orderly close flushes them (a request followed at once by a FIN
     * still gets its answer). */
    if (s->staged)
        nc__on_batch_end();
    nc__session_retain(s);
    if (nc__strand_post_force(s->strand, peer_closed_job, s) < 0) {
        nc__session_release(s); /* not the last: the backend holds one */
        session_close(s, 0, NC_REASON_PEER, NULL);
    }
}

/* ---- send path (any thread) --------------------------------------------- */

nc_packet_t *nc_packet_alloc(size_t body_cap)
{
    if (body_cap > NC_MAX_PACKET - NC_HEADER_SIZE)
        return NULL;
    nc_packet_t *p = malloc(sizeof(*p) + NC_HEADER_SIZE + body_cap);
    if (!p)
        return NULL;
    p->cap = (uint32_t)body_cap;
    p->len = 0;
    p->type = 0;
    p->raw_ = 0;
    atomic_init(&p->refs_, 1);
    atomic_init(&p->seal_, 0);
    return p;
}

void nc_packet_release(nc_packet_t *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs_, 1, memory_order_acq_rel) == 1)
        free(p);
}

void nc_packet_retain(nc_packet_t *p)
{
    atomic_fetch_add_explicit(&p->refs_, 1, memory_order_relaxed);
}

/* Writes the header once, even when several threads send the packet. */
static void packet_seal(nc_packet_t *p)
{
    uint32_t st = atomic_load_explicit(&p->seal_, memory_order_acquire);
    if (st == 2)
        return;
    uint32_t expect = 0;
    if (atomic_compare_exchange_strong(&p->seal_, &expect, 1)) {
        nc__put_header(p->data_, (uint16_t)(p->len + NC_HEADER_SIZE), p->type);
        atomic_store_explicit(&p->seal_, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&p->seal_, memory_order_acquire) != 2) {
    }
}

static int sq_push(nc_session_t *s, nc_packet_t *p)
{
    if (s->sq_count == s->sq_cap) {
        uint32_t ncap = s->sq_cap ? s->sq_cap * 2 : SQ_INITIAL;
        nc_packet_t **nq = malloc(ncap * sizeof(*nq));
        if (!nq)
            return NC_ENOMEM;
        for (uint32_t i = 0; i < s->sq_count; i++)
            nq[i] = SQ_AT(s, i);
        free(s->sq);
        s->sq = nq;
        s->sq_cap = ncap;
        s->sq_head = 0;
    }
    SQ_AT(s, s->sq_count) = p;
    s->sq_count++;
    return 0;
}

/* What goes on the wire: header + body, or the body alone for raw bytes. */
static size_t wire_len(const nc_packet_t *p)
{
    return p->raw_ ? p->len : p->len + NC_HEADER_SIZE;
}
static const uint8_t *wire_ptr(const nc_packet_t *p)
{
    return p->raw_ ? p->data_ + NC_HEADER_SIZE : p->data_;
}

/* Under s->lock: may `total` more bytes be queued? */
static int admit_locked(const nc_session_t *s, size_t total)
{
    if (s->fd == NC__BAD_SOCK || s->send_error)
        return NC_ECLOSED;
    if (s->unsent + total > s->role->opts.max_send_bytes)
        return NC_ENOBUFS;
    return 0;
}

/* Under s->lock: one packet of `total` bytes was queued. */
static void queued_locked(nc_session_t *s, size_t total)
{
    s->unsent += total;
    s->packets_queued++; /* into the role's count at the write: count_out_locked */
    kick_locked(s);
}

/* Drops s->lock; a send past the session's bound closes it. */
static int send_done(nc_session_t *s, int rc)
{
    nc__mutex_unlock(&s->lock);
    if (rc == NC_ENOBUFS)
        session_close(s, NC_ENOBUFS, NC_REASON_SEND_FULL, &s->role->st.closed_send_full);
    return rc;
}

int nc_send_packet(nc_session_t *s, nc_packet_t *p)
{
    nc__role_t *r = s->role;
    if (p->len > p->cap || (!p->raw_ && p->len + NC_HEADER_SIZE > r->opts.max_packet))
        return NC_EMSGSIZE;
    if (atomic_load(&s->closing))
        return NC_ECLOSED;
    if (!p->raw_)
        packet_seal(p);
    size_t total = wire_len(p);
    nc__mutex_lock(&s->lock);
    int rc = admit_locked(s, total);
    if (rc == 0 && (rc = sq_push(s, p)) == 0) {
        atomic_fetch_add_explicit(&p->refs_, 1, memory_order_relaxed);
        queued_locked(s, total);
    }
    return send_done(s, rc);
}

/* Small nc_send bodies are copied, header included, into a chunk at the
 * tail of the session's send queue (raw_ = RAW_CHUNK: already framed bytes)
 * rather than into a packet each: no allocation per packet, and a batch of
 * replies leaves as one contiguous buffer instead of one iovec per packet.
 * Appending is safe while a send of the chunk is in flight (IOCP): the
 * chunk never moves, and the bytes in flight are before the new ones. */
#define SMALL_MAX 256
#define CHUNK_CAP 1000 /* a malloc that glibc serves from its thread cache */
#define RAW_CHUNK 2u

/* Under s->lock: the chunk at the tail of the queue if it has room for
 * `total` more bytes, else a new one pushed there; NULL when out of memory. */
static nc_packet_t *chunk_with_room_locked(nc_session_t *s, size_t total)
{
    nc_packet_t *t = s->sq_count ? SQ_AT(s, s->sq_count - 1) : NULL;
    if (t && t->raw_ == RAW_CHUNK && t->cap - t->len >= total)
        return t;
    t = nc_packet_alloc(CHUNK_CAP);
    if (!t)
        return NULL;
    if (sq_push(s, t) != 0) { /* on success the queue keeps our reference */
        nc_packet_release(t);
        return NULL;
    }
    t->raw_ = RAW_CHUNK;
    return t;
}

static int send_small(nc_session_t *s, uint16_t type, const void *body, size_t len)
{
    size_t total = len + NC_HEADER_SIZE;
    if (atomic_load(&s->closing))
        return NC_ECLOSED;
    nc__mutex_lock(&s->lock);
    int rc = admit_locked(s, total);
    nc_packet_t *t = rc == 0 ? chunk_with_room_locked(s, total) : NULL;
    if (rc == 0 && !t)
        rc = NC_ENOMEM;
    if (rc == 0) {
        uint8_t *w = nc_packet_body(t) + t->len;
        nc__put_header(w, (uint16_t)total, type);
        if (len)
            memcpy(w + NC_HEADER_SIZE, body, len);
        t->len += (uint32_t)total;
        queued_locked(s, total);
    }
    return send_done(s, rc);
}

int nc_send(nc_session_t *s, uint16_t type, const void *body, size_t len)
{
    if (len + NC_HEADER_SIZE > s->role->opts.max_packet)
        return NC_EMSGSIZE;
    if (len <= SMALL_MAX)
        return send_small(s, type, body, len);
    nc_packet_t *p = nc_packet_alloc(len);
    if (!p)
        return NC_ENOMEM;
    if (len)
        memcpy(nc_packet_body(p), body, len);
    p->len = (uint32_t)len;
    p->type = type;
    int rc = nc_send_packet(s, p);
    nc_packet_release(p);
    return rc;
}

int nc_send_raw(nc_session_t *s, const void *data, size_t len)
{
    if (!s->role->opts.raw)
        return NC_EINVAL;
    const uint8_t *src = data;
    while (len) {
        size_t n = len < NC_MAX_PACKET - NC_HEADER_SIZE ? len : NC_MAX_PACKET - NC_HEADER_SIZE;
        nc_packet_t *p = nc_packet_alloc(n);
        if (!p)
            return NC_ENOMEM;
        memcpy(nc_packet_body(p), src, n);
        p->len = (uint32_t)n;
        p->raw_ = 1;
        int rc = nc_send_packet(s, p);
        nc_packet_release(p);
        if (rc != 0)
            return rc;
        src += n;
        len -= n;
    }
    return 0;
}

int nc_send_id(nc_engine_t *e, nc_sid_t id, uint16_t type, const void *body, size_t len)
{
    nc_session_t *s = nc_session_get(e, id);
    if (!s)
        return NC_ESTALE;
    int rc = nc_send(s, type, body, len);
    nc_session_put(s);
    return rc;
}

int nc_send_packet_id(nc_engine_t *e, nc_sid_t id, nc_packet_t *p)
{
    nc_session_t *s = nc_session_get(e, id);
    if (!s)
        return NC_ESTALE;
    int rc = nc_send_packet(s, p);
    nc_session_put(s);
    return rc;
}

int nc__sendq_gather(nc_session_t *s, const uint8_t **ptrs, size_t *lens, int max)
{
    int n = 0;
    for (uint32_t i = 0; i < s->sq_count && n < max; i++, n++) {
        nc_packet_t *p = SQ_AT(s, i);
        size_t off = i == 0 ? s->sq_off : 0;
        ptrs[n] = wire_ptr(p) + off;
        lens[n] = wire_len(p) - off;
    }
    return n;
}

int nc__sendq_consume(nc_session_t *s, size_t n)
{
    atomic_fetch_add_explicit(&s->role->st.bytes_out, n, memory_order_relaxed);
    s->unsent -= n;
    while (n && s->sq_count) {
        nc_packet_t *p = s->sq[s->sq_head];
        size_t left = wire_len(p) - s->sq_off;
        if (n < left) {
            s->sq_off += n;
            break;
        }
        n -= left;
        s->sq_off = 0;
        s->sq_head = (s->sq_head + 1) & (s->sq_cap - 1);
        s->sq_count--;
        nc_packet_release(p);
    }
    return s->sq_count == 0;
}

void nc__on_send_error(nc_session_t *s, int err)
{
    session_close(s, err, nc_strerror(err), NULL);
}

/* ---- accessors ---------------------------------------------------------- */

nc_sid_t nc_session_id(const nc_session_t *s)
{
    return s->id;
}
const char *nc_session_peer(const nc_session_t *s)
{
    return s->peer;
}
void *nc_session_ud(const nc_session_t *s)
{
    return s->ud;
}
void nc_session_set_ud(nc_session_t *s, void *ud)
{
    s->ud = ud;
}
nc_strand_t *nc_session_strand(const nc_session_t *s)
{
    return s->strand;
}
nc_engine_t *nc_session_engine(const nc_session_t *s)
{
    return s->engine;
}
int nc_session_is_closing(const nc_session_t *s)
{
    return atomic_load(&s->closing);
}
void nc_session_put(nc_session_t *s)
{
    nc__session_release(s);
}

size_t nc_session_unsent(const nc_session_t *s)
{
    nc_session_t *m = (nc_session_t *)s;
    nc__mutex_lock(&m->lock);
    size_t n = m->unsent;
    nc__mutex_unlock(&m->lock);
    return n;
}

void nc__on_closed(nc_session_t *s)
{
    nc__session_release(s);
}
