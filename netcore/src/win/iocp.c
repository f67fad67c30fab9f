/* Windows backend: one I/O completion port per engine, drained by the
 * engine's I/O threads with GetQueuedCompletionStatusEx.  Implements the
 * completion contract of engine.h natively: overlapped WSARecv straight into
 * the session's receive buffer (after a full read, up to 8 non-blocking recv
 * calls take what is already buffered), one gathered WSASend in flight,
 * AcceptEx / ConnectEx, and cross-thread work (close, listener close, stop)
 * posted to the port with PostQueuedCompletionStatus.
 *
 * Lifetime rule (libuv's reqs_pending): every OVERLAPPED handed to the
 * kernel or the port is counted in its owner (sio_t.ops, listener.pending)
 * and in backend_t.outstanding.  Each completion, aborted ones included,
 * gives its count back.  A session is handed to nc__on_closed() only once
 * its socket is closed AND sio_t.ops is 0; nc__io_shutdown() checks that the
 * engine ends with no operation and no session state outstanding. */
#include "../engine.h"

#include <ws2tcpip.h>
#include <mswsock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 64
#define MAX_BUFS 64
#define SYNC_READS 8 /* non-blocking reads after a completion, as epoll.c */
#define ACCEPTS_PER_LISTENER 8
#define LINGER_MS 2000 /* as unix/epoll.c */
#define ADDR_SLOT (sizeof(struct sockaddr_storage) + 16)
/* AcceptEx slots that cannot be armed (out of sockets or memory) are
 * parked and re-armed after a pause: 100 ms doubling to 1 s, as epoll.c. */
#define PAUSE_MIN_MS 100u
#define PAUSE_MAX_MS 1000u

/* s->io_flags (under s->lock): a close that arrives before nc__io_start */
#define F_STARTED 1u
#define F_EARLY_CLOSE 2u
#define F_EARLY_GRACEFUL 4u

typedef enum {
    OP_RECV,
    OP_SEND,
    OP_CLOSE,
    OP_CLOSE_HARD, /* session */
    OP_ACCEPT,
    OP_LISTEN_CLOSE, /* listener */
    OP_CONNECT,
    OP_WAKE, /* a new deadline: a port thread recomputes its wait */
    OP_STOP
} op_kind_t;

/* Header of everything that travels through the port as an OVERLAPPED. */
typedef struct {
    OVERLAPPED ov;
    op_kind_t kind;
    void *owner; /* session, listener or connector */
} op_t;

typedef struct backend_s backend_t;

/* Per-session state (s->io), guarded by s->lock.  Freed just before
 * nc__on_closed(), after which nobody may touch it (s->io is NULL then). */
typedef struct sio_s {
    op_t rd, wr, cl; /* one receive, one send, one close in flight at most */
    WSABUF bufs[MAX_BUFS];
    char sink[4096]; /* input discarded while draining */
    int ops;         /* rd/wr in flight + 1 while on the linger list */
    size_t rd_avail; /* space offered to the receive in flight */
    int reading, sending;
    int want_read; /* resume asked for reading, pause not since */
    int flushing;  /* graceful close, 1st phase: sending what is queued */
    int draining;  /* 2nd phase: FIN sent, discarding input until the
                    * peer's FIN (a RST could destroy our last packets) */
    int closed;    /* socket closed; no new operation may start */
    int done;      /* nc__on_closed is being called */
    int in_linger; /* on b->lingering (under b->linger_lock) */
    uint64_t linger_deadline;
    struct sio_s *linger_next;
    nc_session_t *s;
} sio_t;

typedef struct {
    op_t op;
    nc__listener_t *ls;
    SOCKET sock; /* the accept socket, owned until handed to nc__on_accept */
    int parked;  /* under ls->lock: not armed, waiting for the retry */
    char addrs[2 * ADDR_SLOT];
} accept_op_t;

struct nc__listener_s {
    backend_t *b;
    nc__role_t *role;
    SOCKET sock;
    int family;
    nc_mutex_t lock; /* guards the fields below; AcceptEx is posted under it */
    nc_cond_t cond;
    int closing, sock_closed;
    int pending; /* AcceptEx in flight + accept completions running
                  * + 1 while on the backend's retry list */
    op_t close_op;
    /* overload: parked slots are re-armed at retry_at (b->retry_lock for
     * on_retry, retry_next and retry_at; ls->lock for pause_ms) */
    int on_retry;
    uint32_t pause_ms;
    uint64_t retry_at;
    struct nc__listener_s *retry_next;
    accept_op_t acc[ACCEPTS_PER_LISTENER];
};

typedef struct connector_s {
    op_t op;
    nc__role_t *role;
    SOCKET sock;
    /* under b->conn_lock: */
    int cancel_err; /* NC_ETIMEDOUT / NC_ECANCELED once CancelIoEx was asked */
    uint64_t deadline;
    struct connector_s *next;
    char peer[64];
} connector_t;

struct backend_s {
    HANDLE iocp;
    nc_thread_t *threads;
    int n;
    LPFN_ACCEPTEX accept_ex;
    LPFN_CONNECTEX connect_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    nc_mutex_t linger_lock; /* after s->lock in lock order */
    sio_t *lingering;
    atomic_int n_lingering;  /* lets port threads skip the lock when 0 */
    atomic_long outstanding; /* debug: overlapped ops + posted packets */
    atomic_long live_sio;    /* debug: sessions the backend still holds */
    /* listeners with parked accept slots; connects in flight (deadlines) */
    nc_mutex_t retry_lock, conn_lock; /* after ls->lock in lock order */
    nc__listener_t *retrying;
    connector_t *connecting;
    atomic_int n_retrying, n_connecting; /* let port threads skip the locks */
    op_t wake_op;
    int wsa_started;
};

static nc_log_state_t g_log_dropped; /* "unsent data dropped at close" */

static void end_session(nc_session_t *s);
static void post(backend_t *b, op_t *op);

/* Port threads may wait with no timeout: one recomputes its wait. */
static void wake_port(backend_t *b)
{
    post(b, &b->wake_op);
}

/* ---- small helpers ------------------------------------------------------- */

static void op_init(op_t *op, op_kind_t kind, void *owner)
{
    memset(&op->ov, 0, sizeof(op->ov));
    op->kind = kind;
    op->owner = owner;
}

/* Posts op to the port.  A lost close or stop would hang the engine, and
 * the port only refuses when it is gone or out of kernel memory. */
static void post(backend_t *b, op_t *op)
{
    atomic_fetch_add(&b->outstanding, 1);
    if (!PostQueuedCompletionStatus(b->iocp, 0, 0, &op->ov)) {
        nc_log(NC_LOG_ERROR, "iocp", "PostQueuedCompletionStatus: %s", nc_strerror(nc__last_err()));
        abort();
    }
}

/* The NTSTATUS left in OVERLAPPED.Internal by a failed operation, for the
 * codes sockets produce; anything else is NC_EIO. */
static int status_to_err(ULONG_PTR st)
{
    switch ((uint32_t)st) {
    case 0x00000000u: return 0;
    case 0xC0000120u: return NC_ECANCELED;    /* STATUS_CANCELLED */
    case 0xC0000236u: return NC_ECONNREFUSED; /* STATUS_CONNECTION_REFUSED */
    case 0xC000020Du:
    case 0xC0000241u: /* RESET, ABORTED */
    case 0xC000013Bu:
    case 0xC000013Cu: /* LOCAL/REMOTE_DISCONNECT */ return NC_ECONNRESET;
    case 0xC00000B5u: return NC_ETIMEDOUT; /* STATUS_IO_TIMEOUT */
    case 0xC000023Cu:
    case 0xC000023Du:                         /* NETWORK/HOST_UNREACHABLE */
    case 0xC000023Fu: return NC_EHOSTUNREACH; /* PORT_UNREACHABLE */
    case 0xC000009Au:
    case 0xC0000017u: return NC_ENOMEM;
    case 0xC000009Cu:
    case 0xC0000022u: return NC_EIO;
    case 0xC0000008u: return NC_ECANCELED; /* STATUS_INVALID_HANDLE: closed */
    default: return NC_EIO;
    }
}

static void peer_string(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, n, "%s:%u", host, ntohs(a->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, n, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        snprintf(buf, n, "?");
    }
}

/* An overlapped socket tied to the port (completion key unused: the op
 * header says what completed). */
static SOCKET new_socket(backend_t *b, int family)
{
    SOCKET sk = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (sk == INVALID_SOCKET)
        return sk;
    SetHandleInformation((HANDLE)sk, HANDLE_FLAG_INHERIT, 0);
    if (CreateIoCompletionPort((HANDLE)sk, b->iocp, 0, 0) == NULL) {
        DWORD e = GetLastError();
        closesocket(sk);
        SetLastError(e);
        return INVALID_SOCKET;
    }
    return sk;
}

/* ---- sessions: receive --------------------------------------------------- */

/* Under s->lock.  Starts the one receive unless something forbids it. */
static void post_recv_locked(nc_session_t *s, sio_t *io)
{
    if (io->reading || io->closed || io->flushing || io->draining || !io->want_read ||
        atomic_load(&s->closing))
        return;
    size_t avail;
    uint8_t *p = nc__recv_space(s, &avail);
    if (!p) {
        nc__on_recv_end(s, NC_ENOMEM); /* closes: posts, never re-enters */
        return;
    }
    io->rd_avail = avail;
    WSABUF wb = {(ULONG)avail, (char *)p};
    DWORD flags = 0;
    op_init(&io->rd, OP_RECV, s);
    backend_t *b = s->engine->io;
    if (WSARecv((SOCKET)s->fd, &wb, 1, NULL, &flags, &io->rd.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        nc__on_recv_end(s, nc__last_err());
        return;
    }
    io->reading = 1;
    io->ops++;
    atomic_fetch_add(&b->outstanding, 1);
}

static void drain_recv_locked(nc_session_t *s, sio_t *io);
static void close_done_locked(nc_session_t *s, sio_t *io);

/* After a full read: take what else is already buffered with non-blocking
 * recv calls (the socket is FIONBIO; overlapped calls ignore that) before
 * posting the next overlapped read; a completion costs a port round trip
 * (and several wineserver calls under Wine).  Returns 0 to post a read,
 * 1 when reading must stop (paused, closing or the stream ended). */
static int read_more(nc_session_t *s, sio_t *io)
{
    for (int i = 0; i < SYNC_READS; i++) {
        if (!nc__recv_more(s))
            return 1; /* paused (the queue waiter re-arms) or closing */
        /* Under the lock (fd is closed only under it): a queue waiter that
         * paused and resumed this session meanwhile (its flush can run from
         * nc__recv_more or from nc__on_recv) has posted an overlapped
         * receive into the session's buffer; then that receive reads. */
        nc__mutex_lock(&s->lock);
        if (io->closed || io->draining || io->reading || !io->want_read) {
            nc__mutex_unlock(&s->lock);
            return 1;
        }
        size_t avail;
        uint8_t *p = nc__recv_space(s, &avail);
        if (!p) {
            nc__mutex_unlock(&s->lock);
            nc__on_recv_end(s, NC_ENOMEM);
            return 1;
        }
        int n = recv((SOCKET)s->fd, (char *)p, (int)avail, 0);
        int werr = n == SOCKET_ERROR ? WSAGetLastError() : 0;
        nc__mutex_unlock(&s->lock);
        if (n > 0) {
            if (nc__on_recv(s, (size_t)n))
                return 1;
            if ((size_t)n < avail)
                return 0;
            continue;
        }
        if (n == SOCKET_ERROR && werr == WSAEWOULDBLOCK)
            return 0;
        if (!atomic_load(&s->closing))
            nc__on_recv_end(s, n == 0 ? 0 : nc__err_from_os(werr));
        return 1;
    }
    return 0;
}

static void recv_done(nc_session_t *s, sio_t *io, DWORD bytes, int err)
{
    nc__mutex_lock(&s->lock);
    io->reading = 0;
    int closed = io->closed;
    if (io->draining && !closed) {
        /* whatever this read got is discarded; the peer's FIN (0 bytes) or
         * an error ends the lingering close */
        if (err || bytes == 0 || (s->drained += bytes) > NC__DRAIN_MAX)
            close_done_locked(s, io);
        else
            drain_recv_locked(s, io);
        nc__mutex_unlock(&s->lock);
        return;
    }
    size_t offered = io->rd_avail;
    nc__mutex_unlock(&s->lock);
    /* rjob is ours alone here: no receive in flight (a resume from the
     * queue waiter during nc__on_recv posts one into the session's next
     * buffer; read_more and post_recv_locked then see io->reading) */
    if (!closed && !err && bytes > 0) {
        int more = nc__on_recv(s, bytes) == 0 && (bytes < offered || read_more(s, io) == 0);
        /* Posted before the next receive is armed: its completion may reach
         * another I/O thread, whose job must come after this one.  (So on
         * this backend a batch is one session's reads.) */
        nc__on_batch_end();
        if (more) {
            nc__mutex_lock(&s->lock);
            post_recv_locked(s, io);
            nc__mutex_unlock(&s->lock);
        }
    } else if (!closed && !atomic_load(&s->closing)) {
        nc__on_recv_end(s, err); /* 0 bytes = the peer closed */
    }
}

/* ---- sessions: send ------------------------------------------------------ */

static void finish_locked(nc_session_t *s, sio_t *io);
static void start_drain_locked(nc_session_t *s, sio_t *io);

/* Under s->lock.  Starts one gathered WSASend of the queue's head. */
static void post_send_locked(nc_session_t *s, sio_t *io)
{
    if (io->sending || io->closed || !s->sq_count || s->send_error)
        return;
    const uint8_t *ptrs[MAX_BUFS];
    size_t lens[MAX_BUFS];
    int n = nc__sendq_gather(s, ptrs, lens, MAX_BUFS);
    for (int i = 0; i < n; i++) {
        io->bufs[i].buf = (char *)ptrs[i];
        io->bufs[i].len = (ULONG)lens[i];
    }
    op_init(&io->wr, OP_SEND, s);
    backend_t *b = s->engine->io;
    if (WSASend((SOCKET)s->fd, io->bufs, (DWORD)n, NULL, 0, &io->wr.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        int rc = nc__last_err();
        s->send_error = rc;
        if (io->flushing)
            close_done_locked(s, io);
        else
            nc__on_send_error(s, rc); /* posts the close */
        return;
    }
    io->sending = 1;
    io->ops++;
    atomic_fetch_add(&b->outstanding, 1);
}

void nc__io_send_locked(nc_session_t *s)
{
    sio_t *io = s->io;
    if (io)
        post_send_locked(s, io);
}

static void send_done(nc_session_t *s, sio_t *io, DWORD bytes, int err)
{
    nc__mutex_lock(&s->lock);
    io->sending = 0;
    if (io->closed) {
        /* the socket is gone; the queue is dropped with the session */
    } else if (!err) {
        int empty = nc__sendq_consume(s, bytes);
        if (!empty)
            post_send_locked(s, io);
        else if (io->flushing)
            start_drain_locked(s, io); /* all sent: now the half-close */
    } else if (!s->send_error) {
        s->send_error = err;
        if (io->flushing)
            close_done_locked(s, io);
        else
            nc__on_send_error(s, err);
    }
    nc__mutex_unlock(&s->lock);
}

/* ---- sessions: close ----------------------------------------------------- */

/* Under s->lock.  Closes the socket; in-flight operations complete as
 * aborted and give their counts back. */
static void finish_locked(nc_session_t *s, sio_t *io)
{
    SOCKET sk = (SOCKET)s->fd;
    io->closed = 1;
    io->flushing = 0;
    io->draining = 0;
    if (sk == INVALID_SOCKET)
        return;
    CancelIoEx((HANDLE)sk, NULL);
    closesocket(sk); /* a hard close with unread input sends RST, as on Linux */
    s->fd = NC__BAD_SOCK;
}

/* Under s->lock.  Lingering close: everything queued is written; send our
 * FIN and discard input until the peer's FIN or the linger deadline. */
static void start_drain_locked(nc_session_t *s, sio_t *io)
{
    io->flushing = 0;
    io->draining = 1;
    io->want_read = 0;
    shutdown((SOCKET)s->fd, SD_SEND);
    if (!io->reading) /* else its completion continues the drain */
        drain_recv_locked(s, io);
}

static void drain_recv_locked(nc_session_t *s, sio_t *io)
{
    WSABUF wb = {sizeof(io->sink), io->sink};
    DWORD flags = 0;
    op_init(&io->rd, OP_RECV, s);
    if (WSARecv((SOCKET)s->fd, &wb, 1, NULL, &flags, &io->rd.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        close_done_locked(s, io);
        return;
    }
    io->reading = 1;
    io->ops++;
    atomic_fetch_add(&((backend_t *)s->engine->io)->outstanding, 1);
}

/* Under s->lock: the graceful close is over (peer's FIN, failure or linger
 * expiry handled elsewhere): leave the linger list and close the socket. */
static void close_done_locked(nc_session_t *s, sio_t *io)
{
    backend_t *b = s->engine->io;
    nc__mutex_lock(&b->linger_lock);
    int was_lingering = io->in_linger;
    if (was_lingering) {
        for (sio_t **pp = &b->lingering; *pp; pp = &(*pp)->linger_next) {
            if (*pp == io) {
                *pp = io->linger_next;
                break;
            }
        }
        io->in_linger = 0;
        atomic_fetch_sub(&b->n_lingering, 1);
    }
    nc__mutex_unlock(&b->linger_lock);
    if (was_lingering)
        io->ops--; /* the linger entry; callers check for the end after */
    finish_locked(s, io);
}

/* Under s->lock.  True once: the socket is closed and nothing is in flight. */
static int take_done_locked(sio_t *io)
{
    if (io->ops == 0 && io->closed && !io->done) {
        io->done = 1;
        return 1;
    }
    return 0;
}

static void close_op(nc_session_t *s, sio_t *io, int graceful)
{
    backend_t *b = s->engine->io;
    nc__mutex_lock(&s->lock);
    int linger = graceful && !s->send_error && !io->closed;
    if (linger) {
        /* the linger entry first: the flush or drain below may end at once
         * and take it off again */
        io->ops++;
        io->linger_deadline = nc_now_ms() + LINGER_MS;
        nc__mutex_lock(&b->linger_lock);
        io->in_linger = 1;
        io->linger_next = b->lingering;
        b->lingering = io;
        atomic_fetch_add(&b->n_lingering, 1);
        nc__mutex_unlock(&b->linger_lock);
        /* a read in flight stays: its completion sees closing (or the
         * drain) and starts no new ordinary read */
        io->want_read = 0;
        if (s->sq_count) {
            io->flushing = 1;
            post_send_locked(s, io); /* normally already in flight */
        } else {
            start_drain_locked(s, io);
        }
    } else {
        finish_locked(s, io);
    }
    int done = take_done_locked(io);
    nc__mutex_unlock(&s->lock);
    if (done)
        end_session(s);
}

/* Any thread, possibly under s->lock (the send/receive error paths); at
 * most once per session (session.c's closing CAS).  s->io is published
 * atomically by nc__io_start, so a close can race with it: */
void nc__io_close(nc_session_t *s, int graceful)
{
    sio_t *io = __atomic_load_n(&s->io, __ATOMIC_ACQUIRE);
    if (io) {
        op_init(&io->cl, graceful ? OP_CLOSE : OP_CLOSE_HARD, s);
        post(s->engine->io, &io->cl);
        return;
    }
    /* not started yet (the id leaked to another thread before
     * nc__io_start ran) or start failed; nobody holds s->lock here since
     * only backend code with io set closes under it */
    nc__mutex_lock(&s->lock);
    io = s->io;
    int failed = !io && (s->io_flags & F_STARTED);
    if (!io && !failed)
        s->io_flags |= F_EARLY_CLOSE | (graceful ? F_EARLY_GRACEFUL : 0); /* io_start posts it */
    if (failed) {
        closesocket((SOCKET)s->fd);
        s->fd = NC__BAD_SOCK;
    }
    nc__mutex_unlock(&s->lock);
    if (io) {
        op_init(&io->cl, graceful ? OP_CLOSE : OP_CLOSE_HARD, s);
        post(s->engine->io, &io->cl);
    } else if (failed) {
        nc__on_closed(s);
    }
}

/* Last step of a session in the backend: nothing refers to io any more. */
static void end_session(nc_session_t *s)
{
    backend_t *b = s->engine->io;
    nc__mutex_lock(&s->lock);
    sio_t *io = s->io;
    __atomic_store_n(&s->io, NULL, __ATOMIC_RELEASE);
    nc__mutex_unlock(&s->lock);
    free(io);
    atomic_fetch_sub(&b->live_sio, 1);
    nc__on_closed(s);
}

/* Linger expiry: sessions whose flush did not finish in time are closed
 * with their queue dropped.  Returns the wait until the next deadline. */
static DWORD linger_check(backend_t *b)
{
    if (atomic_load_explicit(&b->n_lingering, memory_order_acquire) == 0)
        return INFINITE; /* a thread adding one rechecks before it waits */
    uint64_t now = nc_now_ms(), next = UINT64_MAX;
    sio_t *expired = NULL;
    nc__mutex_lock(&b->linger_lock);
    for (sio_t **pp = &b->lingering; *pp;) {
        sio_t *io = *pp;
        if (io->linger_deadline <= now) {
            *pp = io->linger_next;
            io->in_linger = 0;
            atomic_fetch_sub(&b->n_lingering, 1);
            io->linger_next = expired;
            expired = io;
            continue;
        }
        if (io->linger_deadline < next)
            next = io->linger_deadline;
        pp = &io->linger_next;
    }
    nc__mutex_unlock(&b->linger_lock);
    while (expired) {
        sio_t *io = expired;
        nc_session_t *s = io->s;
        expired = io->linger_next;
        nc__mutex_lock(&s->lock);
        if (!io->closed) {
            if (io->flushing)
                nc_log_limited(&g_log_dropped, 1000, NC_LOG_INFO, s->role->name,
                               "session %016llx: unsent data dropped at close",
                               (unsigned long long)s->id);
            finish_locked(s, io);
        }
        io->ops--; /* the linger entry */
        int done = take_done_locked(io);
        nc__mutex_unlock(&s->lock);
        if (done)
            end_session(s);
    }
    return next == UINT64_MAX ? INFINITE : (DWORD)(next - now);
}

int nc__io_start(nc_engine_t *e, nc_session_t *s)
{
    backend_t *b = e->io;
    sio_t *io = calloc(1, sizeof(*io));
    BOOL one = TRUE;
    setsockopt((SOCKET)s->fd, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
    u_long nonblocking = 1; /* for read_more; overlapped calls still pend */
    ioctlsocket((SOCKET)s->fd, FIONBIO, &nonblocking);
    nc__mutex_lock(&s->lock);
    uint32_t early = s->io_flags;
    s->io_flags |= F_STARTED;
    s->loop = NULL; /* one port for all: no per-thread loop */
    if (io) {
        io->s = s;
        atomic_fetch_add(&b->live_sio, 1);
        __atomic_store_n(&s->io, io, __ATOMIC_RELEASE); /* reading starts on resume */
        post_send_locked(s, io);                        /* packets queued before we got here */
    } else if (early & F_EARLY_CLOSE) {
        closesocket((SOCKET)s->fd); /* nobody else will close it now */
        s->fd = NC__BAD_SOCK;
    }
    nc__mutex_unlock(&s->lock);
    if (io && (early & F_EARLY_CLOSE)) {
        op_init(&io->cl, (early & F_EARLY_GRACEFUL) ? OP_CLOSE : OP_CLOSE_HARD, s);
        post(b, &io->cl);
    } else if (!io && (early & F_EARLY_CLOSE)) {
        nc__on_closed(s);
    }
    return io ? 0 : NC_ENOMEM;
}

void nc__io_pause_read(nc_session_t *s)
{
    nc__mutex_lock(&s->lock);
    if (s->io && s->paused)
        ((sio_t *)s->io)->want_read = 0;
    nc__mutex_unlock(&s->lock);
}

void nc__io_resume_read(nc_session_t *s)
{
    nc__mutex_lock(&s->lock);
    sio_t *io = s->io;
    if (io && !s->paused && !io->closed && !io->flushing && !io->draining) {
        io->want_read = 1;
        post_recv_locked(s, io);
    }
    nc__mutex_unlock(&s->lock);
}

static void session_completion(op_t *op, DWORD bytes, int err)
{
    nc_session_t *s = op->owner;
    sio_t *io = s->io; /* stable: freed only after this op is counted out */
    switch (op->kind) {
    case OP_RECV: recv_done(s, io, bytes, err); break;
    case OP_SEND: send_done(s, io, bytes, err); break;
    default: close_op(s, io, op->kind == OP_CLOSE); return; /* not in ops */
    }
    nc__mutex_lock(&s->lock);
    io->ops--;
    int done = take_done_locked(io);
    nc__mutex_unlock(&s->lock);
    if (done)
        end_session(s);
}

/* ---- listeners ----------------------------------------------------------- */

/* Under ls->lock.  The slot cannot be armed (out of sockets, memory or
 * buffers): it stays idle until the backend's retry re-arms it, after a
 * pause that doubles while the failures go on.  Never re-armed at once: a
 * failing AcceptEx would spin.  Rate-limited log, counted in the role. */
static void park_slot_locked(nc__listener_t *ls, accept_op_t *a, int err)
{
    backend_t *b = ls->b;
    nc__role_t *r = ls->role;
    a->parked = 1;
    atomic_fetch_add(&r->st_io.accept_errors, 1);
    nc__mutex_lock(&b->retry_lock);
    int added = !ls->on_retry;
    if (added) {
        ls->pause_ms = ls->pause_ms ? ls->pause_ms * 2 : PAUSE_MIN_MS;
        if (ls->pause_ms > PAUSE_MAX_MS)
            ls->pause_ms = PAUSE_MAX_MS;
        ls->on_retry = 1;
        ls->retry_at = nc_now_ms() + ls->pause_ms;
        ls->retry_next = b->retrying;
        b->retrying = ls;
        ls->pending++; /* the retry entry: close waits for it or takes it off */
        atomic_fetch_add(&b->n_retrying, 1);
    }
    nc__mutex_unlock(&b->retry_lock);
    if (added) {
        atomic_fetch_add(&r->st_io.accept_pauses, 1);
        wake_port(b);
    }
    nc_log_limited(&r->log_accept, 1000, NC_LOG_ERROR, r->name,
                   "AcceptEx: %s; accept slot paused for %u ms (%llu accept errors so far)",
                   nc_strerror(err), ls->pause_ms,
                   (unsigned long long)atomic_load(&r->st_io.accept_errors));
}

/* Under ls->lock.  Arms one AcceptEx slot; a slot that cannot be armed is
 * parked (park_slot_locked): the others keep the listener accepting. */
static void post_accept_locked(nc__listener_t *ls, accept_op_t *a)
{
    backend_t *b = ls->b;
    int err = 0;
    a->parked = 0;
    for (int tries = 0; tries < 4 && !ls->closing; tries++) {
        a->sock = new_socket(b, ls->family);
        if (a->sock == INVALID_SOCKET) {
            err = nc__last_err();
            break;
        }
        op_init(&a->op, OP_ACCEPT, ls);
        DWORD got = 0;
        if (b->accept_ex(ls->sock, a->sock, a->addrs, 0, ADDR_SLOT, ADDR_SLOT, &got, &a->op.ov) ||
            WSAGetLastError() == WSA_IO_PENDING) {
            ls->pending++;
            atomic_fetch_add(&b->outstanding, 1);
            return;
        }
        int werr = WSAGetLastError();
        err = nc__err_from_os(werr);
        closesocket(a->sock);
        a->sock = INVALID_SOCKET;
        if (werr != WSAECONNRESET)
            break; /* a reset peer is retried at once; anything else is not */
    }
    if (!ls->closing)
        park_slot_locked(ls, a, err ? err : NC_EIO);
}

/* Port threads: re-arms the parked slots of listeners whose pause is
 * over.  Returns the wait until the next retry. */
static DWORD retry_check(backend_t *b)
{
    if (atomic_load_explicit(&b->n_retrying, memory_order_acquire) == 0)
        return INFINITE;
    uint64_t now = nc_now_ms(), next = UINT64_MAX;
    nc__listener_t *due = NULL;
    nc__mutex_lock(&b->retry_lock);
    for (nc__listener_t **pp = &b->retrying; *pp;) {
        nc__listener_t *ls = *pp;
        if (ls->retry_at <= now) {
            *pp = ls->retry_next;
            ls->on_retry = 0;
            atomic_fetch_sub(&b->n_retrying, 1);
            ls->retry_next = due;
            due = ls;
            continue;
        }
        if (ls->retry_at < next)
            next = ls->retry_at;
        pp = &ls->retry_next;
    }
    nc__mutex_unlock(&b->retry_lock);
    while (due) {
        nc__listener_t *ls = due;
        due = ls->retry_next;
        nc__mutex_lock(&ls->lock);
        int all_armed = 1;
        for (int i = 0; i < ACCEPTS_PER_LISTENER && !ls->closing; i++) {
            if (ls->acc[i].parked)
                post_accept_locked(ls, &ls->acc[i]);
            all_armed &= !ls->acc[i].parked;
        }
        if (all_armed)
            ls->pause_ms = 0;
        if (--ls->pending == 0) /* the retry entry */
            nc__cond_broadcast(&ls->cond);
        nc__mutex_unlock(&ls->lock);
        next = 0; /* recompute: the re-arm may have parked them again */
    }
    if (next == UINT64_MAX)
        return INFINITE;
    return next <= now ? 0 : (DWORD)(next - now > 60000 ? 60000 : next - now);
}

static void accept_done(accept_op_t *a, int err)
{
    nc__listener_t *ls = a->ls;
    char peer[64] = "?";
    if (!err) {
        setsockopt(a->sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&ls->sock,
                   sizeof(ls->sock));
        struct sockaddr *local = NULL, *remote = NULL;
        int llen = 0, rlen = 0;
        ls->b->accept_addrs(a->addrs, 0, ADDR_SLOT, ADDR_SLOT, &local, &llen, &remote, &rlen);
        peer_string(remote, peer, sizeof(peer));
    }
    nc__mutex_lock(&ls->lock);
    int closing = ls->closing;
    nc__mutex_unlock(&ls->lock);
    SOCKET sk = a->sock;
    a->sock = INVALID_SOCKET;
    if (!err && !closing)
        nc__on_accept(ls->role, (nc__sock_t)sk, peer); /* owns sk now */
    else
        closesocket(sk);
    /* counted out only now: nc__io_listen_close waits for pending == 0, so
     * no accept callback runs once it returned */
    nc__mutex_lock(&ls->lock);
    if (ls->closing) {
    } else if (err && err != NC_ECONNRESET) {
        /* a failed completion (out of memory or buffers...): re-arming at
         * once could fail the same way at once, forever */
        park_slot_locked(ls, a, err);
    } else {
        post_accept_locked(ls, a);
    }
    if (--ls->pending == 0)
        nc__cond_broadcast(&ls->cond);
    nc__mutex_unlock(&ls->lock);
}

static void listen_close_op(nc__listener_t *ls)
{
    nc__mutex_lock(&ls->lock);
    ls->closing = 1;
    backend_t *b = ls->b;
    nc__mutex_lock(&b->retry_lock);
    if (ls->on_retry) {
        for (nc__listener_t **pp = &b->retrying; *pp; pp = &(*pp)->retry_next) {
            if (*pp == ls) {
                *pp = ls->retry_next;
                break;
            }
        }
        ls->on_retry = 0;
        atomic_fetch_sub(&b->n_retrying, 1);
        ls->pending--; /* the retry entry; the waiter checks after the broadcast below */
    }
    nc__mutex_unlock(&b->retry_lock);
    CancelIoEx((HANDLE)ls->sock, NULL);
    closesocket(ls->sock); /* armed AcceptEx complete as aborted */
    ls->sock_closed = 1;
    nc__cond_broadcast(&ls->cond);
    nc__mutex_unlock(&ls->lock);
}

static int resolve(const char *host, uint16_t port, int passive, struct addrinfo **out)
{
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    char svc[8];
    snprintf(svc, sizeof(svc), "%u", port);
    int rc = getaddrinfo(host, svc, &hints, out);
    if (rc == 0)
        return 0;
    return rc == WSAHOST_NOT_FOUND || rc == WSANO_DATA || rc == EAI_NONAME ? NC_ENOTFOUND
                                                                           : nc__err_from_os(rc);
}

static int listen_socket(backend_t *b, const struct addrinfo *ai, SOCKET *out, uint16_t *port)
{
    SOCKET sk = new_socket(b, ai->ai_family);
    if (sk == INVALID_SOCKET)
        return nc__last_err();
    /* SO_REUSEADDR as on Linux, so a restarted server rebinds a port with
     * connections in TIME_WAIT (see docs/windows.md for the caveat) */
    BOOL one = TRUE, zero = FALSE;
    setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(sk, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&zero, sizeof(zero));
    if (bind(sk, ai->ai_addr, (int)ai->ai_addrlen) != 0 || listen(sk, SOMAXCONN) != 0) {
        int rc = nc__last_err();
        closesocket(sk);
        return rc;
    }
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    getsockname(sk, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    *out = sk;
    return 0;
}

int nc__io_listen(nc_engine_t *e, nc__role_t *srv, const char *host, uint16_t port,
                  nc__listener_t **out, uint16_t *bound_port)
{
    backend_t *b = e->io;
    struct addrinfo *ai;
    int rc = resolve(host, port, 1, &ai);
    if (rc != 0)
        return rc;
    nc__listener_t *ls = calloc(1, sizeof(*ls));
    if (!ls) {
        freeaddrinfo(ai);
        return NC_ENOMEM;
    }
    ls->family = ai->ai_family;
    rc = listen_socket(b, ai, &ls->sock, bound_port);
    freeaddrinfo(ai);
    if (rc != 0) {
        free(ls);
        return rc;
    }
    ls->b = b;
    ls->role = srv;
    nc__mutex_init(&ls->lock);
    nc__cond_init(&ls->cond);
    nc__mutex_lock(&ls->lock);
    for (int i = 0; i < ACCEPTS_PER_LISTENER; i++) {
        ls->acc[i].ls = ls;
        post_accept_locked(ls, &ls->acc[i]);
    }
    nc__mutex_unlock(&ls->lock);
    *out = ls;
    return 0;
}

void nc__io_listen_close(nc__listener_t *ls)
{
    op_init(&ls->close_op, OP_LISTEN_CLOSE, ls);
    post(ls->b, &ls->close_op);
    nc__mutex_lock(&ls->lock);
    while (!ls->sock_closed || ls->pending > 0)
        nc__cond_wait(&ls->cond, &ls->lock);
    /* holding the lock again proves the port threads released it after
     * their last touch of ls (they never touch it after broadcasting) */
    nc__mutex_unlock(&ls->lock);
    nc__cond_destroy(&ls->cond);
    nc__mutex_destroy(&ls->lock);
    free(ls);
}

/* ---- connectors ---------------------------------------------------------- */

void nc__io_sock_close(nc__sock_t sock)
{
    closesocket((SOCKET)sock);
}

static int start_connect(backend_t *b, connector_t *c, const struct addrinfo *ai)
{
    c->sock = new_socket(b, ai->ai_family);
    if (c->sock == INVALID_SOCKET)
        return nc__last_err();
    struct sockaddr_storage any = {0}; /* ConnectEx wants a bound socket */
    any.ss_family = (ADDRESS_FAMILY)ai->ai_family;
    int alen = ai->ai_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                         : (int)sizeof(struct sockaddr_in);
    op_init(&c->op, OP_CONNECT, c);
    atomic_fetch_add(&b->outstanding, 1);
    if (bind(c->sock, (struct sockaddr *)&any, alen) != 0 ||
        (!b->connect_ex(c->sock, ai->ai_addr, (int)ai->ai_addrlen, NULL, 0, NULL, &c->op.ov) &&
         WSAGetLastError() != WSA_IO_PENDING)) {
        int rc = nc__last_err();
        atomic_fetch_sub(&b->outstanding, 1);
        closesocket(c->sock);
        return rc;
    }
    return 0;
}

/* Under b->conn_lock. */
static void connector_unlink_locked(backend_t *b, connector_t *c)
{
    for (connector_t **pp = &b->connecting; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            atomic_fetch_sub(&b->n_connecting, 1);
            return;
        }
    }
}

void nc__io_connect(nc_engine_t *e, nc__role_t *cli, const char *host, uint16_t port)
{
    backend_t *b = e->io;
    char peer[64];
    snprintf(peer, sizeof(peer), "%s:%u", host, port);
    struct addrinfo *ai;
    int rc = resolve(host, port, 0, &ai);
    if (rc != 0) {
        nc__on_connect(cli, NC__BAD_SOCK, rc, peer);
        return;
    }
    /* the port owns c once the connect is started: fill it in and list it
     * first (under the lock, so its completion unlists it after us) */
    connector_t *c = calloc(1, sizeof(*c));
    if (c) {
        c->role = cli;
        c->deadline = nc_now_ms() + cli->opts.connect_timeout_ms;
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
        nc__mutex_lock(&b->conn_lock);
        c->next = b->connecting;
        b->connecting = c;
        atomic_fetch_add(&b->n_connecting, 1);
        rc = start_connect(b, c, ai);
        if (rc != 0)
            connector_unlink_locked(b, c);
        nc__mutex_unlock(&b->conn_lock);
    } else {
        rc = NC_ENOMEM;
    }
    freeaddrinfo(ai);
    if (rc != 0) {
        free(c);
        nc__on_connect(cli, NC__BAD_SOCK, rc, peer);
        return;
    }
    /* its completion reports exactly once (connect_done); from here on c
     * and cli may be gone.  A port thread's wait now has a deadline. */
    wake_port(b);
}

/* Under b->conn_lock: the completion reports err instead of the abort. */
static void connector_cancel_locked(connector_t *c, int err)
{
    if (c->cancel_err)
        return;
    c->cancel_err = err;
    CancelIoEx((HANDLE)c->sock, &c->op.ov);
}

void nc__io_connect_cancel(nc_engine_t *e, nc__role_t *cli)
{
    backend_t *b = e->io;
    nc__mutex_lock(&b->conn_lock);
    for (connector_t *c = b->connecting; c; c = c->next)
        if (c->role == cli)
            connector_cancel_locked(c, NC_ECANCELED);
    nc__mutex_unlock(&b->conn_lock);
}

/* Port threads: connects past their deadline are canceled (they complete
 * as aborted, reported as NC_ETIMEDOUT).  Returns the wait until the next
 * deadline. */
static DWORD connect_check(backend_t *b)
{
    if (atomic_load_explicit(&b->n_connecting, memory_order_acquire) == 0)
        return INFINITE;
    uint64_t now = nc_now_ms(), next = UINT64_MAX;
    nc__mutex_lock(&b->conn_lock);
    for (connector_t *c = b->connecting; c; c = c->next) {
        if (c->cancel_err)
            continue; /* its aborted completion is on the way */
        if (c->deadline <= now)
            connector_cancel_locked(c, NC_ETIMEDOUT);
        else if (c->deadline < next)
            next = c->deadline;
    }
    nc__mutex_unlock(&b->conn_lock);
    if (next == UINT64_MAX)
        return INFINITE;
    return (DWORD)(next - now > 60000 ? 60000 : next - now);
}

static void connect_done(connector_t *c, int err)
{
    backend_t *b = c->role->engine->io;
    nc__mutex_lock(&b->conn_lock);
    connector_unlink_locked(b, c);
    if (err && c->cancel_err)
        err = c->cancel_err;
    nc__mutex_unlock(&b->conn_lock);
    if (!err && setsockopt(c->sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
        err = nc__last_err();
    if (err) {
        closesocket(c->sock);
        nc__on_connect(c->role, NC__BAD_SOCK, err, c->peer);
    } else {
        nc__on_connect(c->role, (nc__sock_t)c->sock, 0, c->peer);
    }
    free(c);
}

/* ---- the port threads ---------------------------------------------------- */

/* Returns 1 for a stop packet. */
static int dispatch(const OVERLAPPED_ENTRY *ent)
{
    if (!ent->lpOverlapped)
        return 1; /* stop */
    op_t *op = CONTAINING_RECORD(ent->lpOverlapped, op_t, ov);
    backend_t *b = NULL;
    int err = status_to_err(op->ov.Internal);
    DWORD bytes = ent->dwNumberOfBytesTransferred;
    switch (op->kind) {
    case OP_RECV:
    case OP_SEND:
    case OP_CLOSE:
    case OP_CLOSE_HARD:
        b = ((nc_session_t *)op->owner)->engine->io;
        session_completion(op, bytes, err);
        break;
    case OP_ACCEPT:
        b = ((nc__listener_t *)op->owner)->b;
        accept_done((accept_op_t *)op, err);
        break;
    case OP_LISTEN_CLOSE:
        b = ((nc__listener_t *)op->owner)->b;
        listen_close_op(op->owner);
        break;
    case OP_CONNECT:
        b = ((connector_t *)op->owner)->role->engine->io;
        connect_done((connector_t *)op, err);
        break;
    case OP_WAKE: b = op->owner; break;
    default: return 1;
    }
    /* op may be freed by now; b outlives every operation */
    atomic_fetch_sub(&b->outstanding, 1);
    return 0;
}

static void port_main(void *arg)
{
    backend_t *b = arg;
    OVERLAPPED_ENTRY ents[MAX_ENTRIES];
    nc__io_thread_begin();
    for (;;) {
        ULONG n = 0;
        DWORD timeout = linger_check(b), t2 = retry_check(b), t3 = connect_check(b);
        if (t2 < timeout)
            timeout = t2;
        if (t3 < timeout)
            timeout = t3;
        if (!GetQueuedCompletionStatusEx(b->iocp, ents, MAX_ENTRIES, &n, timeout, FALSE)) {
            if (GetLastError() == WAIT_TIMEOUT)
                continue;
            nc_log(NC_LOG_ERROR, "iocp", "GetQueuedCompletionStatusEx: %s",
                   nc_strerror(nc__last_err()));
            abort();
        }
        int stops = 0;
        for (ULONG i = 0; i < n; i++)
            stops += dispatch(&ents[i]);
        if (stops) {
            /* one stop per thread: hand extra ones back to the others */
            for (int i = 1; i < stops; i++)
                PostQueuedCompletionStatus(b->iocp, 0, 0, NULL);
            nc__io_thread_end();
            return;
        }
    }
}

/* Extension functions are per provider; every socket here comes from the
 * default TCP provider, so one lookup serves the engine. */
static int load_extensions(backend_t *b)
{
    SOCKET sk = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (sk == INVALID_SOCKET)
        return nc__last_err();
    GUID ga = WSAID_ACCEPTEX, gc = WSAID_CONNECTEX, gs = WSAID_GETACCEPTEXSOCKADDRS;
    DWORD got;
    int rc = 0;
    if (WSAIoctl(sk, SIO_GET_EXTENSION_FUNCTION_POINTER, &ga, sizeof(ga), &b->accept_ex,
                 sizeof(b->accept_ex), &got, NULL, NULL) != 0 ||
        WSAIoctl(sk, SIO_GET_EXTENSION_FUNCTION_POINTER, &gc, sizeof(gc), &b->connect_ex,
                 sizeof(b->connect_ex), &got, NULL, NULL) != 0 ||
        WSAIoctl(sk, SIO_GET_EXTENSION_FUNCTION_POINTER, &gs, sizeof(gs), &b->accept_addrs,
                 sizeof(b->accept_addrs), &got, NULL, NULL) != 0)
        rc = nc__last_err();
    closesocket(sk);
    return rc;
}

int nc__io_init(nc_engine_t *e, int threads)
{
    backend_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NC_ENOMEM;
    b->threads = calloc((size_t)threads, sizeof(nc_thread_t));
    nc__mutex_init(&b->linger_lock);
    nc__mutex_init(&b->retry_lock);
    nc__mutex_init(&b->conn_lock);
    op_init(&b->wake_op, OP_WAKE, b);
    e->io = b;
    WSADATA wsa;
    if (!b->threads || WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        nc__io_shutdown(e);
        return NC_ENOMEM;
    }
    b->wsa_started = 1;
    b->iocp = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, (DWORD)threads);
    int rc = b->iocp ? load_extensions(b) : nc__last_err();
    for (int i = 0; rc == 0 && i < threads; i++) {
        char name[24];
        snprintf(name, sizeof(name), "nc-io-%d", i % 100);
        rc = nc__thread_create(&b->threads[i], port_main, b, name);
        if (rc == 0)
            b->n = i + 1;
    }
    if (rc != 0) {
        nc__io_shutdown(e);
        return rc;
    }
    return 0;
}

/* Called after every role closed: no session, listener or connect is left,
 * so the only packets still to come are the stops. */
void nc__io_shutdown(nc_engine_t *e)
{
    backend_t *b = e->io;
    for (int i = 0; i < b->n; i++)
        PostQueuedCompletionStatus(b->iocp, 0, 0, NULL);
    for (int i = 0; i < b->n; i++)
        nc__thread_join(b->threads[i]);
    long ops = atomic_load(&b->outstanding), live = atomic_load(&b->live_sio);
    if (ops != 0 || live != 0 || b->lingering) {
        nc_log(NC_LOG_ERROR, "iocp",
               "engine destroyed with %ld operations and %ld sessions "
               "outstanding",
               ops, live);
        abort(); /* a leak or a use-after-free in waiting: fail loudly */
    }
    if (b->iocp)
        CloseHandle(b->iocp);
    if (b->wsa_started)
        WSACleanup();
    nc__mutex_destroy(&b->linger_lock);
    nc__mutex_destroy(&b->retry_lock);
    nc__mutex_destroy(&b->conn_lock);
    free(b->threads);
    free(b);
    e->io = NULL;
}
