/* netcore platform layer: threads, locks, condition variables, clocks and
 * OS error mapping.  The only place besides the backend files that knows
 * which OS it is on.  Atomics are C11 <stdatomic.h> everywhere. */
#ifndef NC_PLATFORM_H
#define NC_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <windows.h>
typedef HANDLE nc_thread_t;
typedef SRWLOCK nc_mutex_t;
typedef CONDITION_VARIABLE nc_cond_t;
#else
#include <pthread.h>
typedef pthread_t nc_thread_t;
typedef pthread_mutex_t nc_mutex_t;
typedef pthread_cond_t nc_cond_t;
#endif

typedef void (*nc_thread_fn)(void *arg);

int nc__thread_create(nc_thread_t *t, nc_thread_fn fn, void *arg, const char *name);
void nc__thread_join(nc_thread_t t);
/* Small integer id of the calling thread, stable for its lifetime. */
uint64_t nc__thread_self_id(void);

void nc__mutex_init(nc_mutex_t *m);
void nc__mutex_destroy(nc_mutex_t *m);
void nc__mutex_lock(nc_mutex_t *m);
void nc__mutex_unlock(nc_mutex_t *m);

void nc__cond_init(nc_cond_t *c);
void nc__cond_destroy(nc_cond_t *c);
void nc__cond_signal(nc_cond_t *c);
void nc__cond_broadcast(nc_cond_t *c);
void nc__cond_wait(nc_cond_t *c, nc_mutex_t *m);
/* Returns 0 when signalled (or spuriously), NC_ETIMEDOUT on timeout. */
int nc__cond_timedwait(nc_cond_t *c, nc_mutex_t *m, uint64_t timeout_ns);

void nc__sleep_ms(uint32_t ms);
/* "2026-11-27T18:00:00.123Z" into buf (>= 25 bytes). */
void nc__format_utc(char *buf, size_t n, uint64_t wall_ms);
/* Map an OS error (errno on POSIX, WSAGetLastError()/GetLastError() on
 * Windows) to an NC_E* code. */
int nc__err_from_os(int oserr);
/* The calling thread's last OS error, mapped. */
int nc__last_err(void);

#endif
