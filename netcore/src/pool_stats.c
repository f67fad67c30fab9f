/* Per-queue metrics: post-to-start wait histograms and nc_pool_stats().
 * Recording happens in the worker while it already holds pool->mu (it is
 * dequeuing the job), so the histograms need no atomics and no allocation. */
#include "pool_impl.h"

#include <stdio.h>
#include <string.h>

/* Percentiles cover the current window plus the previous one: between 5 and
 * 10 seconds of recent jobs.  wait_max_us is the all-time maximum. */
#define WINDOW_NS (5ull * 1000000000ull)

static int msb64(uint64_t v)
{
#if defined(__GNUC__)
    return 63 - __builtin_clzll(v);
#else
    int r = 0;
    while (v >>= 1)
        r++;
    return r;
#endif
}

static int bucket_of(uint64_t us)
{
    if (us < 16)
        return (int)us;
    int m = msb64(us);
    if (m > 43)
        return NC__HIST_BUCKETS - 1;
    int sub = (int)((us >> (m - 3)) & (NC__HIST_SUB - 1));
    return 16 + (m - 4) * NC__HIST_SUB + sub;
}

static uint64_t bucket_upper(int b)
{
    if (b < 16)
        return (uint64_t)b;
    int m = 4 + (b - 16) / NC__HIST_SUB;
    int sub = (b - 16) % NC__HIST_SUB;
    uint64_t lo = (uint64_t)(NC__HIST_SUB + sub) << (m - 3);
    return lo + ((uint64_t)1 << (m - 3)) - 1;
}

void nc__hist_record(nc_queue_t *q, uint64_t now_ns, uint64_t wait_ns)
{
    if (now_ns - q->hist_start_ns >= WINDOW_NS) {
        q->hist_cur ^= 1;
        memset(&q->hist[q->hist_cur], 0, sizeof(q->hist[0]));
        q->hist_start_ns = now_ns;
    }
    uint64_t us = wait_ns / 1000u;
    nc__hist_t *h = &q->hist[q->hist_cur];
    h->count[bucket_of(us)]++;
    h->total++;
    if (us > q->wait_max_us)
        q->wait_max_us = us;
}

static uint64_t percentile(const nc_queue_t *q, unsigned pct)
{
    uint64_t total = q->hist[0].total + q->hist[1].total;
    if (total == 0)
        return 0;
    uint64_t rank = (total * pct + 99) / 100, seen = 0;
    for (int b = 0; b < NC__HIST_BUCKETS; b++) {
        seen += (uint64_t)q->hist[0].count[b] + q->hist[1].count[b];
        if (seen >= rank) {
            uint64_t up = bucket_upper(b);
            return up < q->wait_max_us ? up : q->wait_max_us;
        }
    }
    return q->wait_max_us;
}

int nc_pool_stats(nc_pool_t *p, nc_queue_stats_t *out, int max)
{
    if (!p)
        return NC_EINVAL;
    nc__mutex_lock(&p->mu);
    int n = p->nqueues;
    for (int i = 0; i < n && i < max && out; i++) {
        const nc_queue_t *q = p->queues[i];
        nc_queue_stats_t *st = &out[i];
        memset(st, 0, sizeof(*st));
        snprintf(st->name, sizeof(st->name), "%s", q->name);
        st->priority = q->prio;
        st->max_threads = q->cap;
        st->capacity = q->capacity;
        st->pending = q->pending;
        st->running = q->running;
        st->max_running_seen = q->max_running_seen;
        st->jobs_run = q->jobs_run;
        st->wait_p50_us = percentile(q, 50);
        st->wait_p99_us = percentile(q, 99);
        st->wait_max_us = q->wait_max_us;
        st->capacity_pauses = q->capacity_pauses;
        st->rejected = q->rejected;
    }
    nc__mutex_unlock(&p->mu);
    return n;
}
