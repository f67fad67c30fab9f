/* testclient internals: one netcore engine + pool shared by the interactive
 * client (tc_interactive.c, tc_print.c) and the bots (tc_bots.c); stdin is
 * read through a platform file (tc_stdin_*.c). */
#ifndef TC_H
#define TC_H

#include <stdint.h>

#include "tl_common.h"
#include "tl_login.h"

/* Bots' password with --login and no --password-file: for dev shards only
 * (open registration on 127.0.0.1); documented in tools/README.md. */
#define TC_BOT_PASSWORD "dev-bot-password"

typedef struct tc_opts_s {
    const char *host;
    uint16_t port;
    uint64_t proto_hash; /* sent in login; PROTO_HASH unless testing */
    int bots;
    double duration_s, ramp_per_s, move_hz, chat_hz, ping_hz;
    int quiet_moves; /* interactive: do not print neighbours' moves */
    /* --spread: bot i goes to zones[i % nzones] and walks to a home drawn
     * uniformly in a disc of spread_radius around that zone's spawn */
    int spread, nzones;
    uint16_t zones[16];
    double spread_radius;
    double status_s; /* bots: seconds per status line (and its p50/p99 window) */
    /* accounts: --login HOST:PORT turns them on (name-only login without it) */
    int use_login;
    char login_host[64];
    uint16_t login_port;
    char known_hosts[512];     /* pin file; default $HOME/.gameserver/known_logins */
    const char *password_file; /* first line; else prompt (tty) or next stdin line */
    const char *shard;         /* play / bots: shard name; default the first healthy */
    /* interactive (issue 14): a ping every keepalive_ms (0 = never) keeps an
     * idle player connected; move X Y walks at walk_speed units/s */
    int keepalive_ms;
    float walk_speed;
    const char *script; /* --script FILE: run it instead of reading stdin */
    int threads;        /* bots: I/O threads (--threads, default 1) */
    /* issue 16: cross-shard whisper load.  --bot-prefix names the bots
     * PREFIX0001... (accounts PREFIX-0001...; default "bot"); --whisper-hz R:
     * each bot whispers a random name of --whisper-targets PREFIX:COUNT[,...]
     * every 1/R s on average, and answers whispers it gets */
    char bot_prefix[9];
    double whisper_hz;
    int nwtargets;
    struct {
        char prefix[9];
        int count;
    } wtargets[8];
} tc_opts_t;

/* Engine with one I/O thread and a pool whose queue runs client handlers. */
typedef struct tc_net_s {
    nc_engine_t *engine;
    nc_pool_t *pool;
    nc_queue_t *queue;
} tc_net_t;
int tc_net_start(tc_net_t *n, int workers);
/* Same with io_threads I/O threads (testclient --bots --threads). */
int tc_net_start_io(tc_net_t *n, int workers, int io_threads);
/* This process's CPU time (user + system) in seconds; online CPUs
 * (tc_cpu_posix.c / tc_cpu_win.c). */
double tc_cpu_seconds(void);
int tc_cpu_count(void);
/* Watched bots (tc_watch.c): when each neighbour's last position came and
 * how many came, for how fresh the nearest neighbours were (summary). */
void tc_watch_init(int bots);
int tc_watching(int bot);
void tc_watch_pos(int bot, uint32_t id, int is_update);
void tc_watch_mark(void);
void tc_watch_end(void);
void tc_watch_gone(int bot, uint32_t id);
void tc_watch_zone_changed(int bot);
/* where a bot really is (id: its entity, 0 if not in the world) */
typedef struct tc_truth_s {
    uint32_t id;
    uint16_t zone;
    float x, y;
} tc_truth_t;
void tc_watch_sample(const tc_truth_t *all, int n, int near);
void tc_watch_report(int near, double move_hz);
void tc_net_stop(tc_net_t *n);
/* Encodes and sends by session id; 0 or a negative code. */
int tc_send(nc_engine_t *e, nc_sid_t sid, const proto_msg_t *m);

int tc_interactive_main(const tc_opts_t *o);

/* ---- accounts (tc_login.c, tc_account.c) ---------------------------------
 * One encrypted login-server connection (tl_login over netcore).  Callbacks
 * run on its strand: on_ready once the channel is open (note: "new login
 * server key ..." when the key was just pinned, else NULL), on_inner per
 * inner packet, on_end exactly once when it closed (error 0 only when we
 * closed it; why says what happened).  A failed connect fires no callback:
 * poll tc_lconn_connect_failed. */
typedef struct tc_lconn_s tc_lconn_t;
typedef struct tc_lconn_cbs_s {
    void (*on_ready)(tc_lconn_t *c, const char *note, void *ud);
    void (*on_inner)(tc_lconn_t *c, const proto_msg_t *m, void *ud);
    void (*on_end)(tc_lconn_t *c, const char *why, int error, void *ud);
} tc_lconn_cbs_t;
/* *out is set before any callback can run (they may use the caller's copy). */
int tc_lconn_start(tc_net_t *net, const char *host, uint16_t port, const tc_opts_t *o,
                   const tc_lconn_cbs_t *cbs, void *ud, tc_lconn_t **out);
/* Seals and sends an inner packet (any thread): 0 or negative. */
int tc_lconn_send(tc_lconn_t *c, const proto_msg_t *inner);
void tc_lconn_close(tc_lconn_t *c);
int tc_lconn_connect_failed(tc_lconn_t *c);
/* Not from a handler; no callback runs after it returns. */
void tc_lconn_destroy(tc_lconn_t *c);

/* Bots' accounts (tc_bots_login.c): one provisioning per bot, driven by
 * its login connection's handlers; the bots' loop polls its state. */
enum { PROV_BUSY, PROV_READY, PROV_FAILED };
typedef struct tc_prov_s tc_prov_t;
typedef struct tc_ticket_s {
    uint8_t bytes[PROTO_LOGIN_TOKEN_MAX];
    uint16_t len;
    char host[PROTO_TICKET_RESULT_HOST_MAX + 1];
    uint16_t port;
} tc_ticket_t;
typedef struct tc_prov_counts_s {
    uint64_t registered, logged_in, tickets, failed;
    uint64_t retries; /* requests repeated after SERVER_FULL (hashing queue full) */
} tc_prov_counts_t;
/* Reads the password (--password-file, else TC_BOT_PASSWORD): 0 or -1. */
int tc_prov_init(const tc_opts_t *o);
tc_prov_t *tc_prov_start(tc_net_t *net, const tc_opts_t *o, const char *account,
                         const char *character);
int tc_prov_state(tc_prov_t *p); /* PROV_*; notices a failed connect */
const tc_ticket_t *tc_prov_ticket(const tc_prov_t *p);
void tc_prov_destroy(tc_prov_t *p); /* main thread */
void tc_prov_counts(tc_prov_counts_t *out);

/* The interactive account commands (register, login, play); the game
 * connection they start is the interactive client's (tc_interactive.c). */
void tc_account_init(const tc_opts_t *o, tc_net_t *net);
/* 1 when it handled cmd (register, login, realms, play). */
int tc_account_command(const char *cmd, const char *rest);
/* Closes the login connection (main thread). */
void tc_account_stop(void);
/* 1 when an account command failed (the exit status says so). */
int tc_account_failed(void);
/* tc_interactive.c, for play: connect to a game server and log in there
 * with a ticket.  0, or -1 after printing why. */
int tc_game_play(const char *host, uint16_t port, const char *character, const uint8_t *ticket,
                 size_t ticket_len);
int tc_game_connected(void); /* 1 while a game connection is open */
/* Sends on the game connection (any thread): 0 or a negative NC_E* code. */
int tc_game_send(const proto_msg_t *m);
/* Password for an account command: --password-file, else a no-echo prompt
 * on a terminal, else the next stdin line.  0 or -1 (printed why). */
int tc_password(const tc_opts_t *o, const char *prompt, char *out, size_t cap);
int tc_bots_main(const tc_opts_t *o);
/* --admin HOST:PORT --admin-secret-file FILE [command...] (tc_admin.c). */
int tc_admin_main(int argc, char **argv);

/* Prints one decoded server packet as a readable line (tc_print.c).
 * Thread-safe: lines never interleave. */
void tc_print_event(const proto_msg_t *m, int quiet_moves);
void tc_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void tc_print_forget_entities(void);

/* stdin, line by line: 1 = a line in buf (no newline), 0 = timeout,
 * -1 = end of input. */
int tc_stdin_readline(char *buf, size_t cap, int timeout_ms);
/* Shared by the platform files: moves one complete line (or, at EOF, the
 * rest; or a full buffer) from pend[0..*npend) into buf, NUL-terminated, a
 * trailing CR dropped.  Returns 1 if it took one, 0 if none is complete. */
int tc_line_take(char *pend, size_t *npend, size_t pend_cap, int at_eof, char *buf, size_t cap);
int tc_stdin_is_tty(void);
/* Platform file too: reads one line from the terminal without echoing it
 * (the prompt on stdout first); 1, or -1 at end of input. */
int tc_stdin_secret(const char *prompt, char *buf, size_t cap);
/* The user's home directory (HOME, or USERPROFILE on Windows), or NULL. */
const char *tc_home_dir(void);
/* Creates a directory readable by its owner only; 0 also when it exists. */
int tc_mkdir_private(const char *path);

/* Round-trip histogram in microseconds (tc_hist.c); not thread-safe. */
typedef struct tc_hist_s {
    uint64_t n, sum_us, max_us;
    uint32_t b[4096];
} tc_hist_t;
void tc_hist_add(tc_hist_t *h, uint64_t us);
void tc_hist_merge(tc_hist_t *into, const tc_hist_t *from);
double tc_hist_pct_ms(const tc_hist_t *h, double pct); /* 0..100 */

#endif
