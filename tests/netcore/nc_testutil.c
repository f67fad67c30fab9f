/* See nc_testutil.h. */
#include "nc_testutil.h"

#include "netcore.h"
#include "platform.h"

#include <stdlib.h>

bool nc_test_wait(bool (*pred)(void *arg), void *arg, uint32_t timeout_ms)
{
    uint64_t deadline = nc_now_ms() + timeout_ms;
    for (;;) {
        if (pred(arg))
            return true;
        if (nc_now_ms() >= deadline)
            return false;
        nc__sleep_ms(1);
    }
}

static bool atomic_ge(void *p)
{
    void **a = p;
    return atomic_load((atomic_int *)a[0]) >= *(int *)a[1];
}

bool nc_test_wait_atomic_ge(atomic_int *v, int want, uint32_t timeout_ms)
{
    void *a[2] = {v, &want};
    return nc_test_wait(atomic_ge, a, timeout_ms);
}

void nc_test_init(void)
{
    const char *s = getenv("NC_TEST_LOG");
    nc_log_level_t lvl = NC_LOG_WARN;
    if (s)
        nc_log_level_parse(s, &lvl);
    nc_log_set_level(lvl);
}
