/* Force-included into every C file of the mingw-w64 cross build only (see
 * cmake/mingw-w64.cmake): C11 pieces that the msvcrt runtime linked by
 * Debian's mingw-w64 lacks, so portable code needs no Windows branches. */
#ifndef NC_MINGW_COMPAT_H
#define NC_MINGW_COMPAT_H

#include <time.h>

/* timespec_get(TIME_UTC) exists only in UCRT builds. */
#ifndef TIME_UTC
#define TIME_UTC 1
struct _FILETIME;
__declspec(dllimport) void __stdcall GetSystemTimePreciseAsFileTime(struct _FILETIME *ft);
static __inline int nc_mingw_timespec_get(struct timespec *ts, int base)
{
    unsigned long long t; /* FILETIME: 100 ns ticks since 1601, little-endian */
    if (base != TIME_UTC)
        return 0;
    GetSystemTimePreciseAsFileTime((struct _FILETIME *)(void *)&t);
    t -= 116444736000000000ull;
    ts->tv_sec = (time_t)(t / 10000000u);
    ts->tv_nsec = (long)(t % 10000000u) * 100;
    return base;
}
#define timespec_get nc_mingw_timespec_get
#endif

#endif
