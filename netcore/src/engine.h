/* Engine internals shared by the portable engine code (engine.c, session.c,
 * role.c) and exactly one backend (unix/epoll.c or win/iocp.c).
 *
 * The backend contract is completion-style, so that IOCP implements it
 * natively and epoll emulates it:
 *   shared -> backend: nc__io_* (start reading, kick a send, close, listen,
 *                      connect, pause/resume reading);
 *   backend -> shared: nc__on_* ("N bytes landed in the session's buffer",
 *                      "N bytes of the send queue left", "accepted",
 *                      "connected/failed", "the socket is closed").
 *
 * Session references: one held by the backend from nc__io_start() until it
 * calls nc__on_closed(); one per queued job; one per nc_session_get(); one
 * while a read-pause waiter is registered; one while the idle timer is armed.
 * Whoever drops the last reference posts the final job (on_close, then free)
 * to the session's strand, so on_close runs after every other job. */
#ifndef NC_ENGINE_H
#define NC_ENGINE_H

#include "internal.h"

typedef intptr_t nc__sock_t;
#define NC__BAD_SOCK ((nc__sock_t)-1)

typedef struct nc__loop_s nc__loop_t;         /* backend-private */
typedef struct nc__listener_s nc__listener_t; /* backend-private */

typedef struct nc__role_s nc__role_t;

typedef struct {
    nc_session_t *s;
    uint32_t gen;
    uint32_t next_free;
} nc__slot_t;

struct nc_engine_s {
    nc_engine_opts_t opts;
    nc_mutex_t lock; /* guards the table and the role list */
    nc__slot_t *slots;
    uint32_t free_head; /* UINT32_MAX = none */
    nc__role_t *roles;
    void *io; /* backend-private */
    /* session.c: free receive buffers (a stack workers push onto and an
     * I/O thread takes whole) and how many the engine holds */
    _Atomic(struct nc__pjob_s *) free_bufs;
    atomic_long free_count;
};

/* Reasons reading is paused (nc_session_t.paused). */
#define NC__PAUSE_QUEUE 1u /* the role's queue is at capacity (a waiter resumes) */
#define NC__PAUSE_INPUT 2u /* this session's admitted input is over its bound */
#define NC__PAUSE_RATE 4u  /* this session is over its packet rate (a timer resumes) */
#define NC__PAUSE_EOF 8u   /* the peer's FIN was read: for good */

struct nc__role_s {
    nc_engine_t *engine;
    nc_role_opts_t opts;
    char name[32];
    int is_client;
    nc_mutex_t lock;        /* guards sessions list, live, stopping */
    nc_cond_t cond;         /* signalled when live drops */
    nc_session_t *sessions; /* intrusive list (s->role_next/prev) */
    uint32_t live;
    int stopping;
    nc__role_t *engine_next; /* engine's list of roles, under engine lock */
    /* backends: listener overload and connect timeouts (see nc_role_stats_t) */
    struct {
        atomic_uint_fast64_t accept_errors, accept_pauses, accept_shed, connect_timeouts;
    } st_io;
    atomic_int last_connect_error; /* clients: the last failed connect's code */
    /* rate-limited per-connection log lines (nc_log_limited): accept
     * errors; refused connections and closes (session.c) */
    nc_log_state_t log_accept, log_refused, log_closing;
    struct {
        atomic_uint_fast64_t sessions_total, rejected_cap, closed_bad_length, closed_send_full,
            closed_idle, connect_failures, reconnects, packets_in, packets_out, bytes_in, bytes_out,
            read_pauses, input_pauses, rate_pauses, closed_stalled;
    } st;
};

/* The fields every read and every send touch come first, so a round trip
 * on one of thousands of sessions costs three or four cache lines of it;
 * the names, the close reason and the list links (at open and close only)
 * come last. */
struct nc_session_s {
    nc__role_t *role;
    nc_strand_t *strand;
    atomic_int refs;
    atomic_int closing; /* 0 open, 1 close requested */
    /* set by nc_session_close: received packets not yet delivered are
     * dropped (the application asked to stop hearing from this peer).  A
     * close the peer or the engine caused still delivers what arrived. */
    atomic_int local_close;
    atomic_int peer_eof; /* the peer's FIN was read: reading stopped for good */

    /* Receive side (session.c), touched only by the I/O side (one at a
     * time): rjob is NULL between reads unless it holds part of a packet. */
    struct nc__pjob_s *rjob;
    int staged; /* a packets job is staged on the receiving I/O thread */
    /* Why reading is paused: NC__PAUSE_* bits, under `lock`.  The backends
     * read while it is 0 (nc__io_pause_read / nc__io_resume_read apply it
     * under the same lock, so whichever runs last wins with the current
     * reasons). */
    int paused;
    /* Admitted, not yet handled input: bytes of staged and queued packets
     * jobs plus nc_session_hold()s.  Over the role's max_input_bytes, only
     * this session stops being read (NC__PAUSE_INPUT) until it is at half. */
    _Atomic int64_t in_bytes;
    /* Packet rate (I/O side only): tokens in packets/1000, last refill. */
    int64_t rate_tokens;
    uint64_t rate_last_ms;

    /* Backend fields.  fd, loop and io are set by the backend; fd is only
     * closed by the backend under `lock`, so other threads may use it while
     * holding `lock` and seeing fd != NC__BAD_SOCK. */
    nc__sock_t fd;
    uint32_t io_flags; /* backend-private bits */
    nc__loop_t *loop;
    void *io;        /* backend extras (IOCP overlapped state) */
    nc_mutex_t lock; /* guards send queue, fd, flags */

    /* Send queue (under lock): ring of packets, first one partially sent. */
    nc_packet_t **sq;
    uint32_t sq_head, sq_count, sq_cap;
    int send_error;          /* a send failed; session is closing */
    size_t sq_off;           /* bytes of sq[head] already sent */
    size_t unsent;           /* total bytes queued and not sent */
    uint64_t packets_queued; /* not yet in the role's packets_out (session.c) */
    void *cork_owner;        /* session.c: the thread cork list it is on (under lock) */

    atomic_uint_fast64_t last_rx_ms;
    nc_engine_t *engine;
    nc_sid_t id;
    void *ud;

    /* Cold: open, close, back-pressure. */
    nc__waiter_t waiter;
    /* taken with an exchange by whoever cancels it (closer or creator) */
    _Atomic nc_timer_id_t idle_timer;
    _Atomic nc_timer_id_t rate_timer; /* the resume after a rate pause */
    /* Under lock: when NC__PAUSE_INPUT was last set, the time spent paused
     * for input before that, and the watchdog's view (session.c idle_job). */
    uint64_t input_paused_ms, input_paused_total;
    uint64_t wd_last_ms, wd_last_paused, stall_run_ms;
    int opened;               /* on_open job was posted */
    nc_close_reason_t reason; /* written once by the close winner */
    char peer[64];
    nc_session_t *role_next, *role_prev;
    size_t drained; /* backend: input discarded while lingering (NC__DRAIN_MAX) */
};

/* A lingering close discards at most this much input before the peer's
 * FIN; past it the socket is closed at once (a peer still sending after
 * our FIN gets a RST, not the I/O thread's time: a flooder closed in the
 * middle of its flood would otherwise be read at memory speed for the
 * whole linger time, stalling every other session of that I/O thread). */
#define NC__DRAIN_MAX ((size_t)64 << 10)

/* ---- shared code, called by backends ------------------------------------ */

/* Where the backend should read into; grows the buffer when a partial
 * packet needs it.  *avail > 0 always. */
uint8_t *nc__recv_space(nc_session_t *s, size_t *avail);
/* n bytes landed at the space given by nc__recv_space (n > 0).  Frames and
 * stages the complete packets as one job (posted by nc__on_batch_end), may
 * close the session (bad length).  Returns 0 to keep reading, 1 to stop
 * (closing). */
int nc__on_recv(nc_session_t *s, size_t n);
/* Posts the jobs this thread's nc__on_recv calls staged, with one pool lock
 * and one wake-up, and pauses reading (nc__io_pause_read) from sessions
 * whose queue is now full.  A backend calls it at the end of each batch of
 * events, before it waits for more, and before it lets another thread
 * receive for a session it just received for (so a session's jobs keep
 * their order). */
void nc__on_batch_end(void);
/* Called by each I/O thread as it starts and before it exits: it keeps a
 * private list of free receive buffers. */
void nc__io_thread_begin(void);
void nc__io_thread_end(void);
/* nc_engine_destroy, after the I/O threads stopped: frees the free buffers. */
void nc__engine_bufs_free(nc_engine_t *e);
/* Before reading from s again in the same batch (the last read filled the
 * buffer): posts its staged job first and returns 0 if that paused it or it
 * is closing (stop reading), so a session never gets a second job past a
 * full queue. */
int nc__recv_more(nc_session_t *s);
/* The peer closed (err == 0: closes from the session's strand, after the
 * jobs already read) or a read failed (err < 0: closes at once). */
void nc__on_recv_end(nc_session_t *s, int err);

/* Gather up to max buffers of the send queue (under s->lock, taken by the
 * caller).  Returns count; fills ptrs/lens. */
int nc__sendq_gather(nc_session_t *s, const uint8_t **ptrs, size_t *lens, int max);
/* n bytes of the gathered buffers were sent (under s->lock).  Returns 1 if
 * the queue is now empty. */
int nc__sendq_consume(nc_session_t *s, size_t n);
/* A send failed: closes the session with the error. */
void nc__on_send_error(nc_session_t *s, int err);

/* A connection arrived on a server role.  Takes ownership of sock. */
void nc__on_accept(nc__role_t *srv, nc__sock_t sock, const char *peer);
/* A client's connect finished: sock valid when status == 0. */
void nc__on_connect(nc__role_t *cli, nc__sock_t sock, int status, const char *peer);
/* The backend has closed the socket and will never touch s again; drops
 * the backend's reference. */
void nc__on_closed(nc_session_t *s);

/* ---- backend, called by shared code ------------------------------------- */

int nc__io_init(nc_engine_t *e, int threads);
void nc__io_shutdown(nc_engine_t *e); /* joins I/O threads */
/* Register s (fd set) with the backend, not reading yet: the first
 * nc__io_resume_read starts reading.  Takes the backend ref. */
int nc__io_start(nc_engine_t *e, nc_session_t *s);
/* Called with s->lock held after packets were queued: send what it can now
 * or arrange a completion. */
void nc__io_send_locked(nc_session_t *s);
/* Close the socket: graceful = flush queued sends first (bounded by a
 * linger time), else drop them.  Any thread; the backend ends with
 * nc__on_closed(). */
void nc__io_close(nc_session_t *s, int graceful);
/* Apply s->paused (set by the caller under s->lock before the call): stop
 * reading if it is non-zero (I/O side), read if it is 0 (any thread).  Both
 * re-check it under s->lock, so a pause and a resume that race end in the
 * state the last change of s->paused asked for. */
void nc__io_pause_read(nc_session_t *s);
void nc__io_resume_read(nc_session_t *s);
/* Listen; reports the bound port. */
int nc__io_listen(nc_engine_t *e, nc__role_t *srv, const char *host, uint16_t port,
                  nc__listener_t **out, uint16_t *bound_port);
/* Stop accepting; returns when no accept completion can run any more. */
void nc__io_listen_close(nc__listener_t *l);
/* Resolve host (blocking; called from a user thread or a worker, never an
 * I/O thread) and start an asynchronous connect; completion via
 * nc__on_connect exactly once (also when it fails at once). */
void nc__io_connect(nc_engine_t *e, nc__role_t *cli, const char *host, uint16_t port);
/* Close a socket that never became a session. */
void nc__io_sock_close(nc__sock_t sock);
/* The client role is stopping: fail its connect in flight (if any) with
 * NC_ECANCELED promptly, through nc__on_connect as usual; a no-op if none
 * is listed yet (nc_client_destroy asks again until none is pending).
 * Any thread, no lock held.  Connects also time out after
 * r->opts.connect_timeout_ms with NC_ETIMEDOUT. */
void nc__io_connect_cancel(nc_engine_t *e, nc__role_t *cli);

/* ---- shared helpers ----------------------------------------------------- */

void nc__session_retain(nc_session_t *s);
void nc__session_release(nc_session_t *s);

#endif
