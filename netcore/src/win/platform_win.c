/* Windows platform layer: _beginthreadex threads, SRWLOCK mutexes,
 * CONDITION_VARIABLE waits, QueryPerformanceCounter monotonic clock, and
 * WSA / Win32 error mapping onto the same NC_E* codes as the POSIX layer. */
#include "../platform.h"

#include "netcore.h"

#include <process.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    nc_thread_fn fn;
    void *arg;
} thread_start_t;

static unsigned __stdcall thread_main(void *p)
{
    thread_start_t st = *(thread_start_t *)p;
    free(p);
    st.fn(st.arg);
    return 0;
}

int nc__thread_create(nc_thread_t *t, nc_thread_fn fn, void *arg, const char *name)
{
    (void)name; /* SetThreadDescription needs Windows 10; names are cosmetic */
    thread_start_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NC_ENOMEM;
    st->fn = fn;
    st->arg = arg;
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, st, 0, NULL);
    if (h == 0) {
        free(st);
        return NC_EAGAIN;
    }
    *t = (HANDLE)h;
    return 0;
}

void nc__thread_join(nc_thread_t t)
{
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}

uint64_t nc__thread_self_id(void)
{
    static atomic_uint_fast64_t next = 1;
    static _Thread_local uint64_t id;
    if (!id)
        id = atomic_fetch_add(&next, 1);
    return id;
}

/* SRW locks need no destruction and are not recursive, like the default
 * pthread mutex the POSIX layer uses. */
void nc__mutex_init(nc_mutex_t *m)
{
    InitializeSRWLock(m);
}
void nc__mutex_destroy(nc_mutex_t *m)
{
    (void)m;
}
void nc__mutex_lock(nc_mutex_t *m)
{
    AcquireSRWLockExclusive(m);
}
void nc__mutex_unlock(nc_mutex_t *m)
{
    ReleaseSRWLockExclusive(m);
}

void nc__cond_init(nc_cond_t *c)
{
    InitializeConditionVariable(c);
}
void nc__cond_destroy(nc_cond_t *c)
{
    (void)c;
}
void nc__cond_signal(nc_cond_t *c)
{
    WakeConditionVariable(c);
}
void nc__cond_broadcast(nc_cond_t *c)
{
    WakeAllConditionVariable(c);
}
void nc__cond_wait(nc_cond_t *c, nc_mutex_t *m)
{
    SleepConditionVariableSRW(c, m, INFINITE, 0);
}

int nc__cond_timedwait(nc_cond_t *c, nc_mutex_t *m, uint64_t timeout_ns)
{
    /* round up: a 0.5 ms wait must not become a busy 0 ms poll */
    uint64_t ms = (timeout_ns + 999999u) / 1000000u;
    if (ms >= INFINITE)
        ms = INFINITE - 1;
    if (SleepConditionVariableSRW(c, m, (DWORD)ms, 0))
        return 0;
    return GetLastError() == ERROR_TIMEOUT ? NC_ETIMEDOUT : 0;
}

void nc__sleep_ms(uint32_t ms)
{
    Sleep(ms);
}

uint64_t nc_now_ns(void)
{
    static LARGE_INTEGER freq; /* constant after boot; racy init is benign */
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    uint64_t f = (uint64_t)freq.QuadPart, c = (uint64_t)now.QuadPart;
    /* split to avoid overflowing c * 1e9 */
    return c / f * 1000000000u + c % f * 1000000000u / f;
}

uint64_t nc_now_ms(void)
{
    return nc_now_ns() / 1000000u;
}

/* FILETIME counts 100 ns ticks since 1601-01-01. */
#define FT_UNIX_EPOCH 116444736000000000ull

uint64_t nc_wall_ms(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    return (t - FT_UNIX_EPOCH) / 10000u;
}

void nc__format_utc(char *buf, size_t n, uint64_t wall_ms)
{
    uint64_t t = wall_ms * 10000u + FT_UNIX_EPOCH;
    FILETIME ft = {(DWORD)(t & 0xffffffffu), (DWORD)(t >> 32)};
    SYSTEMTIME st;
    FileTimeToSystemTime(&ft, &st);
    snprintf(buf, n, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", st.wYear, st.wMonth, st.wDay, st.wHour,
             st.wMinute, st.wSecond, (unsigned)(wall_ms % 1000u));
}

/* Winsock codes (WSAE*) and the Win32 codes that overlapped socket I/O
 * reports (ERROR_*) for the same conditions map to the same NC_E*. */
int nc__err_from_os(int e)
{
    switch (e) {
    case 0: return 0;
    case WSAEINVAL:
    case ERROR_INVALID_PARAMETER: return NC_EINVAL;
    case WSA_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: /* = ERROR_NOT_ENOUGH_MEMORY */ return NC_ENOMEM;
    case WSAEWOULDBLOCK:
    case WSA_IO_PENDING: return NC_EAGAIN;
    case WSA_OPERATION_ABORTED:
    case WSAEINTR: return NC_ECANCELED;
    case WSAENOBUFS:
    case ERROR_INSUFFICIENT_BUFFER: return NC_ENOBUFS;
    case WSAEMSGSIZE: return NC_EMSGSIZE;
    case WSAEADDRINUSE:
    case ERROR_ADDRESS_ALREADY_ASSOCIATED: return NC_EADDRINUSE;
    case WSAEADDRNOTAVAIL: return NC_EADDRNOTAVAIL;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED: return NC_ECONNREFUSED;
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENETRESET:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED: return NC_ECONNRESET;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT: return NC_ETIMEDOUT;
    case WSAEHOSTUNREACH:
    case WSAENETUNREACH:
    case WSAENETDOWN:
    case ERROR_HOST_UNREACHABLE:
    case ERROR_NETWORK_UNREACHABLE:
    case ERROR_PORT_UNREACHABLE: return NC_EHOSTUNREACH;
    case WSAESHUTDOWN:
    case WSAENOTCONN:
    case ERROR_BROKEN_PIPE: return NC_EPIPE;
    case WSAEMFILE:
    case ERROR_TOO_MANY_OPEN_FILES: return NC_EMFILE;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS: return NC_EEXIST;
    case WSAHOST_NOT_FOUND:
    case WSANO_DATA: return NC_ENOTFOUND;
    default: return NC_EIO;
    }
}

/* WSAGetLastError() is the thread's GetLastError() slot on every Windows
 * this builds for, so one read covers socket and other calls. */
int nc__last_err(void)
{
    return nc__err_from_os((int)GetLastError());
}

/* Windows has no per-process descriptor limit comparable to RLIMIT_NOFILE
 * (sockets are kernel handles, bounded by memory): report a large number. */
int nc_fd_limit_raise(uint64_t want, uint64_t *soft_out, uint64_t *hard_out)
{
    (void)want;
    if (soft_out)
        *soft_out = 16777216u;
    if (hard_out)
        *hard_out = 16777216u;
    return 0;
}

int nc_file_write_private(const char *path, const void *data, size_t len)
{
    if (len > 0xFFFFFFFFu)
        return NC_EINVAL;
    /* CREATE_NEW never overwrites; the file inherits its directory's ACL. */
    HANDLE h = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        return e == ERROR_FILE_EXISTS || e == ERROR_ALREADY_EXISTS ? NC_EEXIST
                                                                   : nc__err_from_os((int)e);
    }
    DWORD n = 0;
    int rc = WriteFile(h, data, (DWORD)len, &n, NULL) && n == (DWORD)len ? 0 : NC_EIO;
    if (rc == 0 && !FlushFileBuffers(h))
        rc = NC_EIO;
    CloseHandle(h);
    if (rc != 0)
        DeleteFileA(path);
    return rc;
}

int nc_file_is_private(const char *path)
{
    return GetFileAttributesA(path) == INVALID_FILE_ATTRIBUTES ? nc__last_err() : 1;
}

int nc_cpu_count(void)
{
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    if (n == 0) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        n = si.dwNumberOfProcessors;
    }
    return n < 1 ? 1 : n > 65536 ? 65536 : (int)n;
}
