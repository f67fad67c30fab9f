/* Integration-test harness for the gameserver: start the real executable in
 * a temp dir and wait for READY (with a deadline), and a tiny protocol
 * client over plain TCP using the protocol library's codecs. */
#ifndef GS_HARNESS_H
#define GS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto_packets.h"
#include "tl_server.h"

typedef struct gs_proc_s {
    tl_server_t s; /* the process, its temp dir and log (tl_server.h) */
    /* copies of s's, for the tests */
    pid_t pid;     /* while running, else -1 */
    char dir[128]; /* temp dir: gs.db, stderr.log */
    char db[192];
    uint16_t port, metrics_port;
    uint16_t admin_port; /* READY's admin_port (0: console disabled) */
} gs_proc_t;

/* Makes a fresh temp dir (kept across restarts of the same proc). */
void gs_proc_init(gs_proc_t *p);
/* Starts gameserver --port 0 --metrics-port 0 --db <dir>/gs.db
 * --chat-port 0 --master-port 0 (links disabled: tests never touch a fixed
 * port) --set auth.mode=dev (name-only logins) plus extra args
 * (NULL-terminated, they override those); waits for READY up to
 * timeout_ms. 0 or -1. */
int gs_proc_start(gs_proc_t *p, const char *const *extra, int timeout_ms);
/* Sends sig and waits for exit; returns the exit status, 128+signal if
 * killed, or -1 on timeout (then SIGKILLs). */
int gs_proc_stop(gs_proc_t *p, int sig, int timeout_ms);
/* Runs gameserver --port 0 --metrics-port -1 --chat-port 0 --master-port 0
 * plus args (which override those) to completion, capturing stderr.  Exit
 * status. */
int gs_run_capture(const char *const *args, char *err, size_t errlen, int timeout_ms);
/* SIGKILLs a server still running and removes the temp dir; with GS_DUMP
 * set in the environment, prints the server's log first. */
void gs_proc_cleanup(gs_proc_t *p);

/* Fixtures shared by the gs_test_* files (on tl_server.h). */
/* Whether the server's log (DIR/stderr.log) holds needle: looked at least
 * once, and until the deadline.  0 found, -1 not. */
int gs_proc_wait_log(gs_proc_t *p, const char *needle, int timeout_ms);
/* A test's end: SIGTERM, the exit within 10 s, gs_proc_cleanup.  0 if the
 * server exited 0 (no crash, no leak under ASan), else -1 (said why). */
int gs_proc_finish(gs_proc_t *p);

typedef struct gs_client_s {
    int fd;
    uint8_t buf[1 << 17];
    size_t len;
    uint32_t entity_id;
    uint16_t zone;
    float x, y;
} gs_client_t;

int gs_connect(gs_client_t *c, uint16_t port);
void gs_close(gs_client_t *c);
int gs_send(gs_client_t *c, const proto_msg_t *m);
/* Next packet within timeout_ms: 1 got one, 0 timeout, -1 closed/error. */
int gs_recv(gs_client_t *c, proto_msg_t *m, int timeout_ms);
/* Skips packets until one of `type` for which match (may be NULL) returns
 * non-zero.  0 found, -1 timeout or close. */
int gs_expect(gs_client_t *c, uint16_t type, int (*match)(const proto_msg_t *, const void *),
              const void *arg, proto_msg_t *out, int timeout_ms);
/* Round-trips a ping; every packet queued before the pong is passed to
 * seen() (may be NULL).  0 or -1. */
int gs_barrier(gs_client_t *c, void (*seen)(const proto_msg_t *, void *), void *arg,
               int timeout_ms);
/* Waits until the server closes the connection, then closes ours (as a
 * real client does, so the server's lingering close ends at once instead
 * of at its 2 s deadline). 0 or -1 on timeout. */
int gs_expect_close(gs_client_t *c, int timeout_ms);

/* GET path from 127.0.0.1:port (HTTP/1.0, read until the server closes)
 * into buf (NUL-terminated).  Bytes read, or -1. */
int gs_http_get(uint16_t port, const char *path, char *buf, size_t cap);
/* The value of one sample line ("name" or "name{labels}") of the metrics
 * page on port, or -1 if the page or the sample is not there. */
double gs_metric(uint16_t port, const char *sample);

/* login + enter_world; fills entity_id, zone, x, y.  0 or -1. */
int gs_login(gs_client_t *c, uint16_t port, const char *name);
/* gs_login with login.token = token (token_len bytes, may be 0).  On an
 * error packet instead of login_result: -1 and *err_code = its code (0
 * when none came); err_code may be NULL. */
int gs_login_token(gs_client_t *c, uint16_t port, const char *name, const uint8_t *token,
                   size_t token_len, int *err_code);
/* gs_login_token in two halves: the login sent, and its answer (then
 * enter_world) -- for a login whose answer waits on what the test does
 * meanwhile (a takeover: the old connection sees its close first). */
int gs_login_send(gs_client_t *c, uint16_t port, const char *name, const uint8_t *token,
                  size_t token_len);
int gs_login_finish(gs_client_t *c, int *err_code);
int gs_move(gs_client_t *c, float x, float y);
int gs_chat(gs_client_t *c, uint8_t channel, const char *target, const char *text);

/* Matchers on entity ids (an entity_updates matches if it carries the id). */
int gs_match_entity(const proto_msg_t *m, const void *entity_id);
/* If m is an entity_updates carrying id: 1, and its dequantized position in
 * *x, *y (either may be NULL); else 0. */
int gs_update_pos(const proto_msg_t *m, uint32_t id, float *x, float *y);

#endif
