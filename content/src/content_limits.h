/* Abuse limits that are pure bookkeeping (issue 12): token buckets, the cost
 * of each c2s packet type, the flood verdict (drop, warn, kick) and per-
 * source-address accounting.  No netcore sessions here;
 * session.c and world.c apply them.  Unit-tested in tests/content. */
#ifndef CONTENT_LIMITS_H
#define CONTENT_LIMITS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "netcore.h"

/* Token bucket: holds up to `burst` tokens and refills at `per_s`. */
typedef struct tbucket_s {
    double tokens;
    uint64_t last_ms;
} tbucket_t;

void tbucket_init(tbucket_t *b, double burst, uint64_t now_ms);
/* Refills to now_ms (time never runs backwards here), then returns the
 * tokens available. */
double tbucket_refill(tbucket_t *b, double per_s, double burst, uint64_t now_ms);
/* Refills, then takes `cost` if that many tokens are there: 1 taken, 0 not
 * (nothing taken). */
int tbucket_take(tbucket_t *b, double per_s, double burst, double cost, uint64_t now_ms);

/* Budget units one c2s packet of this type costs (documented in
 * content/README.md, "Limits"). */
uint32_t limits_cost(uint16_t type);

/* Over-budget bookkeeping of one session: windows of one second that start
 * at the first drop after the previous window ended.  A window with
 * warn_drops drops is abusive.  Abusive windows less than FLOOD_QUIET_MS
 * apart make one episode: with netcore's packet rate on, a flood arrives in
 * bursts (one 16 KiB read of 5-byte packets is ~3,300 of them; the session
 * then waits ~11 s at 300/s to repay the debt), so "every second" would
 * never fire.  A player who keeps to the budget never has an abusive
 * window at all, so a long quiet period costs honest players nothing. */
typedef struct flood_state_s {
    uint64_t win_start;
    uint32_t win_drops;
    int warned;             /* this window reached warn_drops */
    uint64_t episode_start; /* first abusive window of the episode */
    uint64_t last_abuse;    /* latest abusive window */
} flood_state_t;

typedef enum {
    FLOOD_DROP = 0, /* drop silently (counted) */
    FLOOD_WARN,     /* drop and send the one warning of this window */
    FLOOD_KICK      /* drop and close: the episode has lasted kick_s */
} flood_verdict_t;

#define FLOOD_WINDOW_MS 1000u
#define FLOOD_QUIET_MS 15000u

/* Called for every dropped request: one warning per abusive window; a kick
 * once an episode has lasted kick_s seconds (0 = never). */
flood_verdict_t flood_on_drop(flood_state_t *f, uint32_t warn_drops, uint32_t kick_s,
                              uint64_t now_ms);

/* Source address of a peer string ("1.2.3.4:5", "[::1]:5") into out. */
void limits_peer_ip(const char *peer, char *out, size_t n);
int limits_ip_is_loopback(const char *ip);

/* Per-address state: not-yet-logged-in sessions and the new-character
 * bucket.  An entry lives while it has pre-login sessions or a bucket that
 * is not full; idle entries are swept as the table grows. */
#define IPT_BUCKETS 1024
typedef struct ip_entry_s {
    char ip[48];
    uint32_t prelogin;
    int has_chars;
    tbucket_t chars;
    struct ip_entry_s *next;
} ip_entry_t;

typedef struct ip_table_s {
    pthread_mutex_t mu;
    ip_entry_t *b[IPT_BUCKETS];
    uint32_t n, next_sweep;
    double chars_per_min;  /* bucket of new characters: per minute, holds one minute */
    double global_per_min; /* the shard-wide bucket, under the same lock */
    tbucket_t global;
} ip_table_t;

void ipt_init(ip_table_t *t, double chars_per_min);
void ipt_free(ip_table_t *t);
/* One more pre-login session from ip: 1 admitted, 0 already `max` (0 = no
 * cap), -1 out of memory. */
int ipt_prelogin_enter(ip_table_t *t, const char *ip, uint32_t max);
void ipt_prelogin_leave(ip_table_t *t, const char *ip, uint64_t now_ms);
/* New-character tokens of ip (>= 1: one may be created now). */
double ipt_chars_available(ip_table_t *t, const char *ip, uint64_t now_ms);
void ipt_chars_take(ip_table_t *t, const char *ip, uint64_t now_ms);
uint32_t ipt_size(ip_table_t *t);
/* New-character limit as a reservation: one token from the shard-wide
 * bucket (global_per_min, 0 = none) and from ip's (chars_per_min, 0 or
 * ip "" = none), both or neither.  1 reserved, 0 over a limit.  A login
 * that did not create a character gives it back with ipt_chars_refund. */
void ipt_set_global(ip_table_t *t, double per_min, uint64_t now_ms);
int ipt_chars_reserve(ip_table_t *t, const char *ip, uint64_t now_ms);
void ipt_chars_refund(ip_table_t *t, const char *ip, uint64_t now_ms);

#endif
