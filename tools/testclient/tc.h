/* testclient internals: one netcore engine + pool shared by the interactive
 * client (tc_interactive.c, tc_print.c) and the bots (tc_bots.c); stdin is
 * read through a platform file (tc_stdin_*.c). */
#ifndef TC_H
#define TC_H

#include <stdint.h>

#include "tl_common.h"

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
    int threads;     /* bots: I/O threads (--threads, default 1) */
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
/* Watched bots (tc_watch.c): neighbours' positions and update counts, for
 * the nearest neighbours' update rate in the summary. */
void tc_watch_init(int bots);
int tc_watching(int bot);
void tc_watch_pos(int bot, uint32_t id, float x, float y, int is_update);
void tc_watch_mark(void);
void tc_watch_end(void);
void tc_watch_report(int near, double move_hz, void (*pos_of)(int bot, float *x, float *y));
void tc_net_stop(tc_net_t *n);
/* Encodes and sends by session id; 0 or a negative code. */
int tc_send(nc_engine_t *e, nc_sid_t sid, const proto_msg_t *m);

int tc_interactive_main(const tc_opts_t *o);
int tc_bots_main(const tc_opts_t *o);

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

/* Round-trip histogram in microseconds (tc_hist.c); not thread-safe. */
typedef struct tc_hist_s {
    uint64_t n, sum_us, max_us;
    uint32_t b[4096];
} tc_hist_t;
void tc_hist_add(tc_hist_t *h, uint64_t us);
void tc_hist_merge(tc_hist_t *into, const tc_hist_t *from);
double tc_hist_pct_ms(const tc_hist_t *h, double pct); /* 0..100 */

#endif
