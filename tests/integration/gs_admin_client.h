/* The console tests' shared pieces (gs_test_admin*.c): a gameserver
 * started with the console on (a secret, a zones file and a fault file in
 * its temp dir) and a line client for the console. */
#ifndef GS_ADMIN_CLIENT_H
#define GS_ADMIN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "gs_harness.h"

#define GS_ADM_T 5000
#define GS_ADM_SECRET "it-admin-secret-0123456789"

/* Paths in the server's temp dir (set by gs_adm_start). */
extern char gs_adm_zones[256], gs_adm_secret[256], gs_adm_fault[256];

/* Writes text to path (cmocka assertions). */
void gs_adm_write_file(const char *path, const char *text);
/* Starts p with the console on: zones_json as its zones file, the secret,
 * database.fault_file (absent: no fault), admin.auth_timeout_ms=1500.
 * 0 or -1. */
int gs_adm_start(gs_proc_t *p, const char *zones_json);

typedef struct gs_adm_s {
    int fd;
    uint16_t port;
    char buf[1 << 16];
    size_t len;
} gs_adm_t;

int gs_adm_open(gs_adm_t *a, uint16_t port);
void gs_adm_close(gs_adm_t *a);
/* One line (without '\n'): 1, 0 timeout, -1 closed. */
int gs_adm_line(gs_adm_t *a, char *line, size_t cap, int timeout_ms);
/* Reads one answer, every line into out ('\n'-joined): 1 ok, 0 error, -1
 * timeout or closed. */
int gs_adm_answer(gs_adm_t *a, char *out, size_t cap);
/* Sends cmd (+ '\n') and reads its answer as gs_adm_answer. */
int gs_adm_cmd(gs_adm_t *a, const char *cmd, char *out, size_t cap);
/* Reads (and drops) lines until the server closes the connection, then
 * closes ours (the server's lingering close ends at once).  0, or -1 at
 * the deadline. */
int gs_adm_expect_close(gs_adm_t *a, int timeout_ms);
/* Opens and authenticates (cmocka assertions). */
void gs_adm_login(gs_adm_t *a, uint16_t port);

#define ASSERT_HAS(hay, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("expected '%s' in:\n%s", (needle), (hay));                                    \
    } while (0)

#endif
