/* Helpers shared by netcore tests: waiting on a condition with a deadline
 * (never a bare sleep) and a quiet default log level. */
#ifndef NC_TESTUTIL_H
#define NC_TESTUTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Polls pred(arg) every millisecond until it is true or timeout_ms passed.
 * Returns true if the predicate became true. */
bool nc_test_wait(bool (*pred)(void *arg), void *arg, uint32_t timeout_ms);
/* Waits until *v >= want. */
bool nc_test_wait_atomic_ge(atomic_int *v, int want, uint32_t timeout_ms);
/* Sets the log level from NC_TEST_LOG (default: warn). */
void nc_test_init(void);

/* Raw blocking sockets to 127.0.0.1 for hostile-peer tests (timeouts set,
 * no SIGPIPE).  Return 0 / fd on success, -1 on failure. */
int nc_test_sock_connect(uint16_t port);
int nc_test_sock_write_all(int fd, const void *buf, size_t len);
int nc_test_sock_read_full(int fd, void *buf, size_t len, uint32_t timeout_ms);
/* True when the peer closed (EOF or reset) within the timeout; data that
 * arrives meanwhile is discarded. */
bool nc_test_sock_wait_eof(int fd, uint32_t timeout_ms);
void nc_test_sock_shrink_rcvbuf(int fd);
void nc_test_sock_close(int fd);
/* Sends FIN (no more writes); the socket stays open for reading. */
void nc_test_sock_shutdown_write(int fd);

/* Overload tests (test_overload.c).  A socket not yet connected (so it
 * needs no new descriptor later), connected later (blocking, 2 s). */
int nc_test_sock_open(void);
int nc_test_sock_connect_fd(int fd, uint16_t port);
/* A listener on 127.0.0.1 that never accepts and whose queue is full, so
 * further SYNs are dropped: a connect to *port hangs until it times out.
 * Returns 0, or -1 when the platform cannot build one (the test skips). */
int nc_test_blackhole_open(uint16_t *port);
void nc_test_blackhole_close(void);
/* POSIX only (-1 elsewhere: the test skips): set the soft RLIMIT_NOFILE;
 * open descriptors until none is left (at most max), then free them;
 * CPU time of the whole process (user + system, every thread). */
int nc_test_fd_limit_set(uint64_t soft, uint64_t *old_soft);
int nc_test_fd_hog(int max);
void nc_test_fd_unhog(void);
int64_t nc_test_cpu_us(void);

#endif
