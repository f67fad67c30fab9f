/* Hostile clients and a pinging witness against a running gameserver, over
 * plain POSIX sockets (a hostile peer must be able to send what netcore never
 * would: bad lengths, half packets, RSTs).  Shared by tools/bench/attack.c
 * (gs_attack) and tests/integration/gs_test_hostile.c; links only protocol.
 *
 * Witnesses: n players that log in, enter the world (optionally change to
 * a given zone) and ping at hz on one thread, each pong's round trip filed
 * under the phase that was current when its ping left.  Attacks: classes by
 * name (ha_classes), each run for a bounded window from one or more
 * connections, with what the attacker got back (error packets by code,
 * notices, closes) in an ha_result_t. */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#define HA_MAX_PHASES 64
#define HA_MAX_GROUPS 4
#define HA_CODES 16 /* error codes 0..14 counted one by one, 15 = any other */

/* ---- witnesses ---------------------------------------------------------- */
typedef struct ha_wit_s ha_wit_t;

typedef struct ha_wit_opts_s {
    const char *host;
    uint16_t port;
    int n;                        /* witnesses, 1..1024 */
    const char *prefix;           /* names are prefix0, prefix1, ... (default "witness") */
    int hz;                       /* pings per second per witness (default 20) */
    int groups;                   /* witness i is in group i % groups (1..HA_MAX_GROUPS) */
    uint16_t zone[HA_MAX_GROUPS]; /* zone of each group; 0 = stay where login put it */
} ha_wit_opts_t;

typedef struct ha_wit_stats_s {
    uint64_t sent, received, late; /* late: no pong by the drain deadline */
    double p50_ms, p99_ms, max_ms; /* over received pongs and late pings (their age) */
    int disconnected;              /* witnesses of the group whose connection dropped */
    uint64_t errors;               /* error packets the group's witnesses got */
} ha_wit_stats_t;

/* Logs every witness in (within timeout_ms in total) and starts pinging in
 * phase 0.  0, or -1 with a message on stderr. */
int ha_wit_start(const ha_wit_opts_t *o, ha_wit_t **out, int timeout_ms);
/* Pings sent from now on belong to `phase` (0..HA_MAX_PHASES-1). */
void ha_wit_phase(ha_wit_t *w, int phase);
/* Waits until every ping of `phase` got its pong, or timeout_ms; pings
 * still unanswered then count as late, with their age as the sample. */
void ha_wit_drain(ha_wit_t *w, int phase, int timeout_ms);
/* Statistics of one group (-1 = all) in one phase; safe while running. */
void ha_wit_stats(ha_wit_t *w, int group, int phase, ha_wit_stats_t *st);
/* Forgets the samples and counts of `phase` (to reuse it as a scratch window). */
void ha_wit_reset(ha_wit_t *w, int phase);
/* Witnesses disconnected so far (all groups). */
int ha_wit_disconnected(ha_wit_t *w);
/* Stops the thread, logs the witnesses out, frees. */
void ha_wit_stop(ha_wit_t *w);

/* ---- attacks ------------------------------------------------------------ */
typedef struct ha_result_s {
    uint64_t conns;        /* connections opened */
    uint64_t connect_fail; /* connect() refused or timed out */
    uint64_t login_fail;   /* attacker logins that did not reach the world */
    uint64_t bytes_out, bytes_in, packets_in;
    uint64_t closes;           /* connections the server closed (EOF or RST) */
    uint64_t errors[HA_CODES]; /* error packets and failed login_results by code */
    uint64_t notices;
    uint64_t no_reason;   /* one-shot attempts with neither an error nor a close in time */
    uint64_t open_at_end; /* attacker connections still open when the window ended */
} ha_result_t;

typedef struct ha_attack_opts_s {
    const char *host;
    uint16_t port;
    int attackers;      /* connections (or parallel slots); logged-in ones are attack0.. */
    const char *prefix; /* attacker name prefix (default "attack") */
    int silent_cap;     /* silent: connections to open (default 1000) */
    uint16_t zone;      /* logged-in attackers move to this zone first (0 = stay) */
    uint32_t seed;
    int churn_per_s; /* churn: connections per second at most (0 = as fast as possible) */
    /* called about once a second during the window (may be NULL) */
    void (*progress)(void *arg, const char *cls, double elapsed_s, const ha_result_t *r);
    void *progress_arg;
} ha_attack_opts_t;

/* The attack classes, 0..ha_nclasses()-1, in the order `all` runs them. */
int ha_nclasses(void);
const char *ha_class_name(int i); /* NULL out of range */
const char *ha_class_what(int i);
/* Runs one class for duration_ms, then closes its connections.  0, or -1
 * for an unknown class. */
int ha_attack(const ha_attack_opts_t *o, const char *cls, int duration_ms, ha_result_t *r);
/* 1 if the attacker got a reason: an error packet, a notice or a close. */
int ha_got_reason(const ha_result_t *r);
/* "SERVER_FULL 3, BAD_PACKET 12" (codes with a count), or "-". */
void ha_codes_text(const ha_result_t *r, char *buf, size_t cap);

/* ---- the server from outside ------------------------------------------- */
/* GET path from 127.0.0.1:port into buf (NUL-terminated body); bytes or -1. */
int ha_http_get(uint16_t port, const char *path, char *buf, size_t cap);
/* Value of the sample `name` (with labels, exactly as printed, e.g.
 * gs_bad_input_total{reason="bad_length"}) in a /metrics page; -1 if absent. */
double ha_metric(const char *page, const char *name);
/* Resident set in KiB and open fds of a local process; -1 if unreadable. */
long ha_proc_rss_kb(int pid);
int ha_proc_fds(int pid);
uint64_t ha_now_ms(void);

#endif
