/* Helpers shared by netcore tests: waiting on a condition with a deadline
 * (never a bare sleep) and a quiet default log level. */
#ifndef NC_TESTUTIL_H
#define NC_TESTUTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Polls pred(arg) every millisecond until it is true or timeout_ms passed.
 * Returns true if the predicate became true. */
bool nc_test_wait(bool (*pred)(void *arg), void *arg, uint32_t timeout_ms);
/* Waits until *v >= want. */
bool nc_test_wait_atomic_ge(atomic_int *v, int want, uint32_t timeout_ms);
/* Sets the log level from NC_TEST_LOG (default: warn). */
void nc_test_init(void);

#endif
