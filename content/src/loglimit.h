/* A log rate limit: at most one line per interval per limiter, and the
 * line that gets through says how many were held back.  Lock-free, so any
 * thread may share one limiter.  (content-local; netcore may grow a shared
 * one.) */
#ifndef CONTENT_LOGLIMIT_H
#define CONTENT_LOGLIMIT_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct loglimit_s {
    atomic_uint_fast64_t next_ms; /* monotonic ms before which lines are held back */
    atomic_uint_fast64_t held;    /* lines held back since the last one logged */
} loglimit_t;

/* 1: log now (*held gets the count held back since the last line); 0: the
 * caller skips its line (counted). */
static inline int loglimit_take(loglimit_t *l, uint64_t now_ms, uint64_t interval_ms,
                                uint64_t *held)
{
    uint_fast64_t next = atomic_load_explicit(&l->next_ms, memory_order_relaxed);
    if (now_ms >= next &&
        atomic_compare_exchange_strong(&l->next_ms, &next, now_ms + interval_ms)) {
        *held = atomic_exchange(&l->held, 0);
        return 1;
    }
    atomic_fetch_add_explicit(&l->held, 1, memory_order_relaxed);
    return 0;
}

#endif
