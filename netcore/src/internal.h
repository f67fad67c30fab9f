/* netcore internals shared between the job system and the engine.
 * Nothing here is public API; names are nc__*. */
#ifndef NC_INTERNAL_H
#define NC_INTERNAL_H

#include "netcore.h"
#include "platform.h"

#include <stdbool.h>

#define NC_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- pool <-> engine contract ------------------------------------------ */

/* Post to a strand ignoring the queue's capacity (the engine's receive path:
 * the bytes are already read, so the job must not be dropped).  Returns
 * NC_ESTOPPED if the pool is stopping, otherwise 1 when the queue is now at
 * or above capacity (the caller must stop reading from the session and wait
 * for room with nc__queue_wait_room), else 0. */
int nc__strand_post_force(nc_strand_t *s, nc_job_fn fn, void *arg);

/* nc__strand_post_force for a batch, in order, with one lock hold per pool
 * and the wake-ups sent once at the end (the engine posts every read of
 * one backend batch this way).  Each item's rc gets what
 * nc__strand_post_force would have returned. */
typedef struct nc__post_s {
    nc_strand_t *strand;
    nc_job_fn fn;
    void *arg;
    int rc;
} nc__post_t;
void nc__strand_post_many(nc__post_t *items, int n);

/* A waiter is called once, on a worker thread and outside pool locks, when
 * the queue's pending count drops below its low-water mark (or at once if it
 * already is, or when the pool stops).  Intrusive: the caller owns the
 * memory and must keep it alive until fn ran.  Each registration counts as
 * one capacity pause in the queue's metrics. */
typedef struct nc__waiter_s {
    struct nc__waiter_s *next;
    void (*fn)(struct nc__waiter_s *w);
} nc__waiter_t;
void nc__queue_wait_room(nc_queue_t *q, nc__waiter_t *w);

/* Corked sends (session.c): a pool worker calls nc__cork_begin once, then
 * nc__cork_flush after each job (or each take of a strand's jobs); the
 * sends the job made are written then, once per session. */
void nc__cork_begin(void);
void nc__cork_flush(void);

/* Leak checks for tests and shutdown logs: strands not yet freed (owners'
 * references or queued jobs remain) and timers still armed or queued. */
int nc__pool_live_strands(nc_pool_t *pool);
int nc__pool_live_timers(nc_pool_t *pool);

/* The session watchdog's idle test (session.c, idle_job): `last` (the last
 * receive's stamp, written by an I/O thread) may be newer than `now` when a
 * receive lands between the two reads; now - last would wrap. */
static inline int nc__idle_over(uint64_t last, uint64_t now, uint64_t idle)
{
    return idle && now > last && now - last >= idle;
}

/* ---- framing ------------------------------------------------------------
 * Wire header: little-endian u16 length (whole packet, header included), then
 * u16 type, then the body.  Pure function, no I/O: the I/O threads and the
 * fuzz target both call it. */
typedef void (*nc__frame_cb)(void *ud, uint16_t type, const uint8_t *body, size_t len);
/* Calls cb for each complete packet at the front of buf.  Returns the bytes
 * consumed (a partial packet at the end is left), or NC_EMSGSIZE if a header
 * declares a length < 4 or > max_packet (nothing after it is delivered). */
long nc__frame_scan(const uint8_t *buf, size_t len, uint32_t max_packet, nc__frame_cb cb, void *ud);
static inline void nc__put_header(uint8_t *h, uint16_t total_len, uint16_t type)
{
    h[0] = (uint8_t)(total_len & 0xff);
    h[1] = (uint8_t)(total_len >> 8);
    h[2] = (uint8_t)(type & 0xff);
    h[3] = (uint8_t)(type >> 8);
}

#endif
