/* One observation into a latency histogram of cumulative buckets (bucket
 * i counts the values <= bounds_ms[i]; the last bound is +Inf), its count
 * and its sum: the zone tick, zone request wait and database operation
 * histograms of /metrics.  Relaxed atomics: readers only sum them. */
#ifndef CONTENT_HIST_H
#define CONTENT_HIST_H

#include <stdatomic.h>
#include <stdint.h>

static inline void content_hist_add(atomic_uint_fast64_t *buckets, const double *bounds_ms, int n,
                                    atomic_uint_fast64_t *count, atomic_uint_fast64_t *sum_us,
                                    uint64_t us)
{
    double ms = (double)us / 1000.0;
    atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(sum_us, us, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        if (ms <= bounds_ms[i])
            atomic_fetch_add_explicit(&buckets[i], 1, memory_order_relaxed);
}

#endif
