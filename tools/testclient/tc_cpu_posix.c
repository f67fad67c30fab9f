/* The testclient's own CPU time and the machine's CPU count (POSIX; twin of
 * tc_cpu_win.c), for --bots to tell when the load generator is the limit. */
#include "tc.h"

#include <sys/resource.h>
#include <unistd.h>

double tc_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int tc_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 4096 ? (int)n : 1;
}
