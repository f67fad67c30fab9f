/* Log-linear latency histogram: 64 sub-buckets per power of two of
 * microseconds (under 1.6% error), 4096 buckets up to hours. */
#include "tc.h"

#include <string.h>

static unsigned bucket_of(uint64_t us)
{
    if (us < 64)
        return (unsigned)us;
    unsigned lg = 63u - (unsigned)__builtin_clzll(us); /* >= 6 */
    unsigned sub = (unsigned)(us >> (lg - 6)) & 63u;
    unsigned b = (lg - 5) * 64 + sub;
    return b < 4096 ? b : 4095;
}

static uint64_t bucket_mid(unsigned b)
{
    if (b < 64)
        return b;
    unsigned lg = b / 64 + 5, sub = b % 64;
    uint64_t lo = ((uint64_t)(64 + sub)) << (lg - 6);
    return lo + (((uint64_t)1 << (lg - 6)) >> 1);
}

void tc_hist_add(tc_hist_t *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->n++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

void tc_hist_merge(tc_hist_t *into, const tc_hist_t *from)
{
    for (int i = 0; i < 4096; i++)
        into->b[i] += from->b[i];
    into->n += from->n;
    into->sum_us += from->sum_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

double tc_hist_pct_ms(const tc_hist_t *h, double pct)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)((double)h->n * pct / 100.0 + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (unsigned i = 0; i < 4096; i++) {
        seen += h->b[i];
        if (seen >= want)
            return (double)bucket_mid(i) / 1000.0;
    }
    return (double)h->max_us / 1000.0;
}
