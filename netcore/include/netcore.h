/* netcore: one I/O engine per process shared by every server and client role,
 * I/O threads that only frame packets, and a worker pool of named queues with
 * per-queue thread caps, bounded capacity and priorities.  Knows nothing of games.
 *
 * Conventions: functions return 0 or a negative NC_E* code (see nc_strerror());
 * a callback never fires if the call that registered it failed, and fires
 * exactly once if it succeeded.  Every handler runs as a job on a pool worker,
 * never on an I/O thread. */
#ifndef NETCORE_H
#define NETCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

/* X(name, errno-ish value, text).  Values are negative and stable; the
 * platform layer maps errno / WSA codes onto them (nc__err_from_os). */
#define NC_ERRNO_MAP(X)                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(EAGAIN, -3, "resource temporarily unavailable")                                              \
    X(ECANCELED, -4, "operation canceled")                                                         \
    X(ECLOSED, -5, "session closed")                                                               \
    X(ESTALE, -6, "stale session id")                                                              \
    X(EQFULL, -7, "queue full")                                                                    \
    X(ENOBUFS, -8, "send buffer full")                                                             \
    X(EMSGSIZE, -9, "packet too large")                                                            \
    X(EADDRINUSE, -10, "address already in use")                                                   \
    X(EADDRNOTAVAIL, -11, "address not available")                                                 \
    X(ECONNREFUSED, -12, "connection refused")                                                     \
    X(ECONNRESET, -13, "connection reset by peer")                                                 \
    X(ETIMEDOUT, -14, "timed out")                                                                 \
    X(EHOSTUNREACH, -15, "host unreachable")                                                       \
    X(ENOTFOUND, -16, "name not found")                                                            \
    X(EPIPE, -17, "broken pipe")                                                                   \
    X(EMFILE, -18, "too many open files")                                                          \
    X(ESTOPPED, -19, "stopped")                                                                    \
    X(EEXIST, -20, "already exists")                                                               \
    X(EIO, -99, "i/o error")

enum {
#define NC_ERR_ENUM(name, val, text) NC_##name = (val),
    NC_ERRNO_MAP(NC_ERR_ENUM)
#undef NC_ERR_ENUM
};

const char *nc_strerror(int err);
/* "ECONNREFUSED" etc. */
const char *nc_errname(int err);

/* ---- logging ----------------------------------------------------------- */

typedef enum {
    NC_LOG_TRACE,
    NC_LOG_DEBUG,
    NC_LOG_INFO,
    NC_LOG_WARN,
    NC_LOG_ERROR,
    NC_LOG_OFF
} nc_log_level_t;

/* Lines are "2026-11-27T18:00:00.123Z INFO  [tag] text" on stderr unless a
 * sink is set.  Thread-safe. */
typedef void (*nc_log_sink_fn)(nc_log_level_t lvl, const char *line, void *ud);
void nc_log_set_level(nc_log_level_t lvl);
nc_log_level_t nc_log_get_level(void);
void nc_log_set_sink(nc_log_sink_fn fn, void *ud);
int nc_log_level_parse(const char *s, nc_log_level_t *out); /* "info" ... */
void nc_log(nc_log_level_t lvl, const char *tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#define NC_LOG_ENABLED(lvl) ((lvl) >= nc_log_get_level())

/* Rate-limited logging for messages one peer can trigger at will (accept
 * errors, refused connections, session closes): at most one line per
 * `per_ms` (0 = 1000) for each state; the lines suppressed meanwhile are
 * counted and the next line printed ends with " (N more since last)".
 * Thread-safe and lock-free; a zero-initialised state is ready (static or
 * a struct member).  Returns 1 if the line was printed, 0 if suppressed
 * (or below the log level, which is not counted). */
typedef struct nc_log_state_s {
    _Atomic uint64_t next_ms;    /* monotonic ms before which lines are held */
    _Atomic uint64_t suppressed; /* lines held since the last one printed */
} nc_log_state_t;
int nc_log_limited(nc_log_state_t *st, uint32_t per_ms, nc_log_level_t lvl, const char *tag,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* At shutdown: the count of lines held since the last one printed, which no
 * later line will carry, as "[tag] N <what> lines suppressed" at lvl; the
 * count is reset.  Returns 1 if that line was printed, 0 if there was
 * nothing held (or lvl is below the log level). */
int nc_log_limited_flush(nc_log_state_t *st, nc_log_level_t lvl, const char *tag, const char *what);

/* ---- process limits --------------------------------------------------- */

/* File descriptor limit (POSIX RLIMIT_NOFILE): raises the soft limit to
 * `want` (0 = as high as allowed: the hard limit), never above the hard
 * limit, never lowers it, and reports both limits after the attempt
 * (either pointer may be NULL).  Returns 0 if the soft limit is now >=
 * want, NC_EMFILE if it could not be raised that far, another NC_E* code
 * if the limits cannot be read.  Windows has no such per-process limit:
 * reports a large number (16777216) for both and returns 0. */
int nc_fd_limit_raise(uint64_t want, uint64_t *soft_out, uint64_t *hard_out);

/* Online CPUs (POSIX: sysconf(_SC_NPROCESSORS_ONLN); Windows:
 * GetActiveProcessorCount(ALL_PROCESSOR_GROUPS)), at least 1 (1 when the
 * count cannot be read).  Sizes worker pools to the machine. */
int nc_cpu_count(void);

/* ---- private files (secrets) ------------------------------------------ */

/* Creates path holding data, readable and writable by its owner only
 * (POSIX: open O_CREAT|O_EXCL mode 0600, then fsync; Windows: a new file
 * that inherits its directory's ACL).  NC_EEXIST if it exists already
 * (never overwrites); on a short write the file is removed. */
int nc_file_write_private(const char *path, const void *data, size_t len);
/* 1 if nobody but the owner may read or write path (POSIX: no group or
 * other bits in its mode), 0 if group or others may, a negative NC_E*
 * code if it cannot be examined.  Windows: always 1 (ACLs are not
 * checked; see docs/security.md). */
int nc_file_is_private(const char *path);

/* ---- time -------------------------------------------------------------- */

uint64_t nc_now_ns(void);  /* monotonic */
uint64_t nc_now_ms(void);  /* monotonic */
uint64_t nc_wall_ms(void); /* unix epoch */

/* ---- job system: pool, queues, strands, timers ---------------------------
 *
 * A pool owns a fixed set of worker threads.  Queues are registered on a pool
 * by name; each has a thread cap (never more than `max_threads` workers run
 * its jobs at the same instant), a capacity (pending jobs) and a priority.
 * A free worker takes work from the highest-priority queue that has runnable
 * work and is below its cap; a queue at its cap is skipped, not waited on.
 *
 * A strand is an ordered lane on a queue: its jobs run one at a time, in
 * posting order.  A session owns one; a zone is one.  Separate pools are the
 * same API: create one pool per queue. */

typedef struct nc_pool_s nc_pool_t;
typedef struct nc_queue_s nc_queue_t;
typedef struct nc_strand_s nc_strand_t;

typedef void (*nc_job_fn)(void *arg);

/* NC_PRIO_DEFAULT (0) lets a zero-initialised nc_queue_opts_t mean NORMAL. */
typedef enum {
    NC_PRIO_DEFAULT = 0,
    NC_PRIO_LOW = 1,
    NC_PRIO_NORMAL = 2,
    NC_PRIO_HIGH = 3
} nc_prio_t;

typedef struct nc_pool_opts_s {
    const char *name;         /* for logs and thread names; default "pool" */
    int threads;              /* worker threads, >= 1; default 4 */
    int strand_batch;         /* jobs a strand runs before yielding; default 64 */
    uint32_t strand_slice_us; /* ... or time before yielding; default 2000 */
} nc_pool_opts_t;

int nc_pool_create(const nc_pool_opts_t *opts, nc_pool_t **out);
/* Stop policy: DRAIN.  Stops timers (pending timers are canceled: their jobs
 * never run and their arg is released through nothing — timers own no
 * memory), runs every job already posted, then joins the workers and frees
 * queues and strands.  Posting after stop begins returns NC_ESTOPPED.
 * Call after every engine using the pool has been destroyed. */
void nc_pool_destroy(nc_pool_t *pool);
int nc_pool_threads(const nc_pool_t *pool);

typedef struct nc_queue_opts_s {
    const char *name;   /* required, unique in the pool */
    int max_threads;    /* thread cap, >= 1 */
    uint32_t capacity;  /* max pending jobs; default 65536 */
    uint32_t low_water; /* resume readers below this; default capacity/2 */
    nc_prio_t priority; /* default NC_PRIO_NORMAL */
} nc_queue_opts_t;

int nc_queue_create(nc_pool_t *pool, const nc_queue_opts_t *opts, nc_queue_t **out);
nc_queue_t *nc_queue_find(nc_pool_t *pool, const char *name);
const char *nc_queue_name(const nc_queue_t *q);
nc_pool_t *nc_queue_pool(const nc_queue_t *q);

/* Post an unordered job (runs in parallel with others of the queue, up to
 * the cap).  NC_EQFULL if the queue holds `capacity` pending jobs: nothing
 * was queued and fn will not run. */
int nc_queue_post(nc_queue_t *q, nc_job_fn fn, void *arg);

/* Strands are reference counted: create gives one reference. */
int nc_strand_create(nc_queue_t *q, nc_strand_t **out);
void nc_strand_retain(nc_strand_t *s);
void nc_strand_release(nc_strand_t *s);
nc_queue_t *nc_strand_queue(const nc_strand_t *s);
/* NC_EQFULL when the strand's queue is at capacity. */
int nc_strand_post(nc_strand_t *s, nc_job_fn fn, void *arg);
/* Posts even when the queue is at capacity (0, or NC_ESTOPPED).  For the
 * follow-up work of jobs already admitted (a login result going back to its
 * session, a packet handed from a session to its zone): capacity bounds what
 * enters from outside — the engine stops reading when the queue is full —
 * not the steps of work already inside.  Keeps strand order, unlike
 * re-posting through a timer.  Never use it for input nobody counted. */
int nc_strand_post_force(nc_strand_t *s, nc_job_fn fn, void *arg);
/* Non-zero when called from a job currently running on this strand. */
int nc_strand_running_here(const nc_strand_t *s);

/* Timers: delivered as jobs on a strand.  repeat_ms = 0 for one-shot.
 * Cancel is safe from any thread; after nc_timer_cancel returns 0 the job
 * will not start (one already running finishes).  Ids are never reused.
 * A timer's job is posted even when the queue is full (timers are bounded
 * by their own count), so a tick is never lost.  out may be NULL for a
 * timer that is never canceled. */
typedef uint64_t nc_timer_id_t;
int nc_timer_start(nc_strand_t *s, uint64_t delay_ms, uint64_t repeat_ms, nc_job_fn fn, void *arg,
                   nc_timer_id_t *out);
/* 0 if canceled, NC_ESTALE if it already fired (one-shot) or was canceled. */
int nc_timer_cancel(nc_pool_t *pool, nc_timer_id_t id);

typedef struct nc_queue_stats_s {
    char name[32];
    nc_prio_t priority;
    int max_threads;
    uint32_t capacity;
    uint64_t pending;     /* jobs waiting now */
    int running;          /* workers running its jobs now */
    int max_running_seen; /* highest concurrency observed */
    uint64_t jobs_run;
    uint64_t wait_p50_us; /* post-to-start wait, recent window */
    uint64_t wait_p99_us;
    uint64_t wait_max_us;
    uint64_t capacity_pauses; /* times a reader was paused on this queue */
    uint64_t rejected;        /* posts refused with NC_EQFULL */
} nc_queue_stats_t;

/* Fills up to `max` entries, returns how many queues the pool has. */
int nc_pool_stats(nc_pool_t *pool, nc_queue_stats_t *out, int max);

/* ---- engine, roles, sessions -------------------------------------------- */

typedef struct nc_engine_s nc_engine_t;
typedef struct nc_server_s nc_server_t;
typedef struct nc_client_s nc_client_t;
typedef struct nc_session_s nc_session_t;

/* Sessions are named across threads by {index, generation}: a stale id is
 * detected, never dereferenced.  0 is never a valid id. */
typedef uint64_t nc_sid_t;

#define NC_HEADER_SIZE 4
#define NC_MAX_PACKET 65535

typedef struct nc_engine_opts_s {
    int io_threads;        /* fixed; default 1 */
    uint32_t max_sessions; /* slots in the session table; default 65536 */
    /* 0 (default): on Linux the I/O threads run as SCHED_BATCH, so bytes
     * arriving never preempt a running pool worker on a busy CPU; the I/O
     * thread frames them when the worker blocks or its time slice ends,
     * and takes everything that arrived meanwhile in one batch.  On an
     * idle CPU nothing changes.  1: the OS default (a woken I/O thread may
     * preempt at once).  See netcore/README.md, "Scheduling".  Ignored on
     * Windows, where the completion port already wakes threads LIFO. */
    int io_preempt;
} nc_engine_opts_t;

int nc_engine_create(const nc_engine_opts_t *opts, nc_engine_t **out);
/* Orderly stop: closes listeners, closes every session with
 * NC_ESTOPPED/"shutdown", waits until their close callbacks ran (the pools
 * must still be running), joins the I/O threads and frees everything. */
void nc_engine_destroy(nc_engine_t *e);

/* Close reasons: code is 0 (orderly, by us), a negative NC_E* code, or an
 * application code (> 0).  Text is copied. */
typedef struct nc_close_reason_s {
    int code;
    char text[64];
} nc_close_reason_t;

/* Well-known reason texts set by the engine. */
#define NC_REASON_BAD_LENGTH "bad length"
#define NC_REASON_SEND_FULL "send buffer full"
#define NC_REASON_IDLE "idle"
#define NC_REASON_PEER "peer closed"
#define NC_REASON_SHUTDOWN "shutdown"

/* Role callbacks.  All run as jobs on the session's strand (one at a time,
 * in order).  on_open, then any number of on_packet, then exactly one
 * on_close; the session stays valid during each call, and may be closed
 * from inside one.  `body` is valid only during the call. */
typedef struct nc_handlers_s {
    void (*on_open)(nc_session_t *s, void *role_ud);
    void (*on_packet)(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len,
                      void *role_ud);
    void (*on_close)(nc_session_t *s, const nc_close_reason_t *why, void *role_ud);
} nc_handlers_t;

typedef struct nc_role_opts_s {
    const char *name;  /* logs; default "server"/"client" */
    nc_queue_t *queue; /* required: sessions' strands live here */
    nc_handlers_t handlers;
    void *ud;                   /* role_ud passed to handlers */
    uint32_t max_packet;        /* default and ceiling 65535; >= 4 */
    uint32_t max_send_bytes;    /* unsent bytes per session; default 1 MiB */
    uint32_t idle_timeout_ms;   /* 0 = off */
    uint32_t max_sessions;      /* servers: live session cap; 0 = engine's */
    uint32_t reconnect_base_ms; /* clients: back-off base; default 100 */
    uint32_t reconnect_max_ms;  /* clients: back-off ceiling; default 10000 */
    int no_reconnect;           /* clients: 1 = connect once */
    int raw;                    /* 1 = no framing: on_packet gets the bytes of
                                 * each read as they arrived (type 0, at most
                                 * max_packet at a time); reply with
                                 * nc_send_raw.  For text protocols such as
                                 * the HTTP metrics page. */
    /* Fair back-pressure per session (see netcore/README.md, "Fairness").
     * max_input_bytes: a session's admitted, not yet handled input (packets
     * read and not yet through on_packet, each counted as its size + 64
     * bytes, plus what handlers hold with nc_session_hold).  Past it only this session stops being
     * read (TCP pushes back on that peer alone) until it is at half; its neighbours keep flowing.
     * Default 256 KiB; at least max_packet. */
    uint32_t max_input_bytes;
    /* A session over max_input_bytes this long is closed with reason
     * "input backlog" (code NC_ETIMEDOUT).  0 = never (default). */
    uint32_t max_input_stall_ms;
    /* Packets per second a session may send, checked on the I/O thread
     * before any job is queued: over it, reading that session pauses until
     * its bucket has refilled (a flooder is slowed to the rate and costs no
     * job).  0 = no limit (default).  rate_burst: the bucket's size in
     * packets; default one second's worth. */
    uint32_t rate_packets_per_s;
    uint32_t rate_burst;

    /* clients: a connect not completed within this fails with NC_ETIMEDOUT
     * and goes through the reconnect back-off; nc_client_destroy cancels a
     * pending connect at once.  0 = default 5000. */
    uint32_t connect_timeout_ms;

    /* servers and clients: a packet sent to a session just before it is
     * closed for idle_timeout_ms (the close then flushes it), so the peer
     * learns why, e.g. an application error packet.  NULL = a bare close.
     * Not copied: the caller keeps it alive until the role is destroyed. */
    struct nc_packet_s *idle_notice;
} nc_role_opts_t;

/* Listen on host:port ("0.0.0.0", "::", "127.0.0.1"...; port 0 = pick one). */
int nc_server_create(nc_engine_t *e, const char *host, uint16_t port, const nc_role_opts_t *opts,
                     nc_server_t **out);
uint16_t nc_server_port(const nc_server_t *srv);
/* Stops listening and closes the server's sessions (reason "shutdown");
 * returns after their on_close ran. Must not be called from a worker of the
 * role's pool. */
void nc_server_destroy(nc_server_t *srv);

/* Connect to host:port and stay connected: reconnects with exponential
 * back-off and jitter until destroyed (unless no_reconnect). */
int nc_client_create(nc_engine_t *e, const char *host, uint16_t port, const nc_role_opts_t *opts,
                     nc_client_t **out);
/* Current session id or 0 if not connected. */
nc_sid_t nc_client_session(const nc_client_t *c);
void nc_client_destroy(nc_client_t *c);

typedef struct nc_role_stats_s {
    uint64_t sessions_live;
    uint64_t sessions_total;
    uint64_t rejected_cap; /* accepted then closed at once: over cap */
    uint64_t closed_bad_length;
    uint64_t closed_send_full;
    uint64_t closed_idle;
    uint64_t connect_failures; /* clients */
    uint64_t reconnects;       /* clients */
    uint64_t connect_timeouts; /* clients: connects that hit connect_timeout_ms */
    /* servers: accept failures (EMFILE, ENFILE, ENOBUFS, ENOMEM...), times
     * the listener was paused for them, and connections accepted on the
     * reserve descriptor and closed at once (the peer sees an orderly close
     * instead of a timeout).  See netcore/README.md, "Out of descriptors". */
    uint64_t accept_errors, accept_pauses, accept_shed;
    uint64_t packets_in, packets_out, bytes_in, bytes_out;
    uint64_t read_pauses;    /* reads paused for a full queue */
    uint64_t input_pauses;   /* a session paused at max_input_bytes */
    uint64_t rate_pauses;    /* a session paused at rate_packets_per_s */
    uint64_t closed_stalled; /* closed after max_input_stall_ms */
    int last_connect_error;  /* clients: the last failed connect's NC_E* code, 0 none */
} nc_role_stats_t;
void nc_server_stats(const nc_server_t *srv, nc_role_stats_t *out);
void nc_client_stats(const nc_client_t *c, nc_role_stats_t *out);

/* Session handles are valid inside handlers without extra references.
 * Elsewhere, look one up by id (takes a reference) and release it. */
nc_sid_t nc_session_id(const nc_session_t *s);
nc_session_t *nc_session_get(nc_engine_t *e, nc_sid_t id); /* NULL if stale */
void nc_session_put(nc_session_t *s);
const char *nc_session_peer(const nc_session_t *s); /* "127.0.0.1:5000" */
void *nc_session_ud(const nc_session_t *s);
void nc_session_set_ud(nc_session_t *s, void *ud);
nc_strand_t *nc_session_strand(const nc_session_t *s);
nc_engine_t *nc_session_engine(const nc_session_t *s);
int nc_session_is_closing(const nc_session_t *s);
size_t nc_session_unsent(const nc_session_t *s);

/* Counts n bytes against the session's max_input_bytes until the matching
 * nc_session_unhold: for work a handler hands on to another strand (a
 * request forwarded to a zone), so input that left the session's own strand
 * still holds back that session's reading, not everyone's.  hold takes a
 * session reference, unhold (any thread) drops it; so the session stays
 * valid in between. */
void nc_session_hold(nc_session_t *s, uint32_t n);
void nc_session_unhold(nc_session_t *s, uint32_t n);
#define NC_REASON_INPUT_BACKLOG "input backlog"

/* Close from any thread; the first reason wins and reaches on_close once. */
void nc_session_close(nc_session_t *s, int code, const char *text);
int nc_close_id(nc_engine_t *e, nc_sid_t id, int code, const char *text);

/* Send from any thread; one session's packets leave in order (the order of
 * the nc_send calls, across threads too).  Copies body.  NC_ECLOSED if
 * closing; NC_ENOBUFS (and the session is closed with "send buffer full")
 * past max_send_bytes; NC_EMSGSIZE over max_packet.
 * Corking: inside a job on a pool worker the packet is queued at once but
 * written when the job returns (or at 64 KiB unsent), once per session the
 * job sent to; other threads write at once.  A job must not wait for the
 * answer to a packet it sent (jobs never block anyway). */
int nc_send(nc_session_t *s, uint16_t type, const void *body, size_t len);
int nc_send_id(nc_engine_t *e, nc_sid_t id, uint16_t type, const void *body, size_t len);
/* Writes now what the calling job's sends have queued (see corking). */
void nc_send_flush(void);

/* Zero-copy packets: allocate, encode the body in place, set len and type,
 * send to one or many sessions (each send takes a reference), then release
 * yours.  len and type must not change after the first send. */
typedef struct nc_packet_s {
    uint32_t cap;  /* body capacity */
    uint32_t len;  /* body length; set before sending */
    uint16_t type; /* set before sending */
    /* private below */
    _Atomic uint32_t refs_;
    _Atomic uint32_t seal_; /* header written: 0 no, 1 writing, 2 yes */
    uint32_t raw_;          /* 1: no header on the wire (nc_send_raw); 2: nc_send chunk */
    uint8_t data_[];        /* header (4) + body */
} nc_packet_t;
nc_packet_t *nc_packet_alloc(size_t body_cap);
static inline uint8_t *nc_packet_body(nc_packet_t *p)
{
    return p->data_ + NC_HEADER_SIZE;
}
void nc_packet_release(nc_packet_t *p);
/* Another reference, for a caller that keeps a packet to send later. */
void nc_packet_retain(nc_packet_t *p);
int nc_send_packet(nc_session_t *s, nc_packet_t *p);
/* Raw roles only: bytes as they are, no header; any length (split into
 * pieces internally), same bound and ordering as nc_send. */
int nc_send_raw(nc_session_t *s, const void *data, size_t len);
int nc_send_packet_id(nc_engine_t *e, nc_sid_t id, nc_packet_t *p);

#ifdef __cplusplus
}
#endif
#endif
