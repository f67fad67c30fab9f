/* The integration tests' server fixture, on tl_proc: a temp dir, a server
 * binary started with the test's arguments (its stderr log in the temp
 * dir), a wait for its ready line with a deadline, the ports that line
 * names, the log searched with a deadline, a stop (a signal, SIGKILL at the
 * deadline) and the removal of the temp dir.  Used by gs_harness's
 * gs_proc_* (gameserver tests), the tools' tests (tl_test_*) and the login
 * server's (ls_test_*).  POSIX. */
#ifndef TL_SERVER_H
#define TL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "tl_proc.h"

typedef struct tl_server_s {
    tl_proc_t p;     /* stdout (the READY line) on the pipe */
    char name[32];   /* the binary's file name, for messages */
    char dir[64];    /* /tmp/TAG_XXXXXX (tl_server_init) */
    char db[128];    /* DIR/gs.db: the gameserver's database by default */
    char log[128];   /* DIR/stderr.log: the server's stderr, appended */
    char ready[256]; /* the ready line (without '\n') */
    /* "key=N" fields of the ready line, 0 when absent */
    int port, metrics_port, admin_port, login_port;
} tl_server_t;

/* Monotonic milliseconds, for the tests' deadlines. */
int64_t tl_now_ms(void);
/* Writes text to path (replacing it), then sets its permission bits to mode
 * (mode < 0: as created); 0, or -1 if any step failed. */
int tl_write_file(const char *path, const char *text, int mode);
/* Makes the temp dir /tmp/TAG_XXXXXX and the paths in it.  0 or -1. */
int tl_server_init(tl_server_t *s, const char *tag);
/* Starts argv (argv[0] the binary; NULL-terminated), stderr appended to
 * s->log, and waits up to timeout_ms for a whole stdout line that contains
 * `ready` (NULL: "READY port=").  On failure the process is killed, its
 * output and the end of its log go to stderr, and the dir is kept (for
 * tl_server_cleanup).  0 or -1. */
int tl_server_start(tl_server_t *s, const char *const *argv, const char *ready, int timeout_ms);
/* The gameserver (GAMESERVER_BIN) on s->db with the tests' defaults, then
 * args (NULL-terminated; later flags win): --port 0 --metrics-port 0
 * --log-level info --chat-port 0 --master-port 0 (links off: never a
 * developer's running shard) --set auth.mode=dev (name-only logins).  As
 * tl_server_start. */
int tl_server_start_game(tl_server_t *s, const char *bin, const char *const *args, int timeout_ms);
/* The masterserver's files and ports for tl_server_start_master; a port
 * NULL is "0" (picked; a restart passes the one it had). */
typedef struct tl_master_args_s {
    const char *port, *login_port, *db, *key_file, *config, *secret_file;
} tl_master_args_t;
/* The masterserver (bin) with the tests' defaults: --port, --login-port,
 * --db, --key-file, --config and --secret-file from a, --open-registration,
 * then args (NULL-terminated; later flags win).  As tl_server_start, then
 * its signing public key (the "sign_pk " line printed before READY: 64 hex)
 * into sign_pk; s->port and s->login_port are the ports it listens on.
 * 0, or -1 (also when the key or a port is missing). */
int tl_server_start_master(tl_server_t *s, const char *bin, const tl_master_args_t *a,
                           const char *const *args, char sign_pk[65], int timeout_ms);
/* A test's gameserver in one call: tl_server_init(s, tag) and
 * tl_server_start_game; on a failure the dir is removed again (cmocka skips
 * teardown when setup fails).  0 or -1. */
int tl_server_up(tl_server_t *s, const char *tag, const char *bin, const char *const *args,
                 int timeout_ms);
/* A test's end: a server still running gets SIGTERM and must exit 0
 * within timeout_ms (no crash, no leak under ASan); one the test stopped
 * already, or never started, is only cleaned up.  Then tl_server_cleanup.
 * 0, else -1 (said why). */
int tl_server_down(tl_server_t *s, int timeout_ms);
/* Whether the server's stdout or log holds needle, looked at least once and
 * until the deadline (timeout_ms 0: now).  0 found, -1 not. */
int tl_server_wait_log(tl_server_t *s, const char *needle, int timeout_ms);
/* The log's size now: an offset for tl_server_wait_log_from. */
long tl_server_log_size(const tl_server_t *s);
/* As tl_server_wait_log on the log alone, from byte `from` on (what a
 * restarted server logged, say): the offset just past the match, or -1. */
long tl_server_wait_log_from(tl_server_t *s, const char *needle, long from, int timeout_ms);
/* The log (its first cap-1 bytes, NUL-terminated) into out.  Bytes. */
size_t tl_server_read_log(const tl_server_t *s, char *out, size_t cap);
/* Sends sig (0: none, just wait) and waits for the exit; SIGKILL at the
 * deadline.  The exit status, 128+signal, or -1 (deadline, or never
 * started).  A failure other than our own SIGKILL prints the end of the
 * log (an ASan report, say) to stderr. */
int tl_server_stop(tl_server_t *s, int sig, int timeout_ms);
/* SIGKILLs a server still running and removes the temp dir.  0, or -1 if
 * the dir could not be removed.  Safe on a never-initialized (zeroed) s. */
int tl_server_cleanup(tl_server_t *s);
/* Prints the last `bytes` of the log (0: all of it) to stderr. */
void tl_server_dump_log(const tl_server_t *s, size_t bytes);

#endif
