/* The testclient's own CPU time and the machine's CPU count (Windows; twin
 * of tc_cpu_posix.c). */
#include "tc.h"

#include <windows.h>

static double ft_seconds(FILETIME f)
{
    ULARGE_INTEGER u;
    u.LowPart = f.dwLowDateTime;
    u.HighPart = f.dwHighDateTime;
    return (double)u.QuadPart / 1e7; /* 100 ns units */
}

double tc_cpu_seconds(void)
{
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
        return 0;
    return ft_seconds(kernel) + ft_seconds(user);
}

int tc_cpu_count(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}
