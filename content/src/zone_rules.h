/* Pure game rules with no state of their own: server-authoritative movement
 * validation and the per-player chat rate limiter.  Unit-tested directly. */
#ifndef ZONE_RULES_H
#define ZONE_RULES_H

#include <stdint.h>

typedef enum {
    ZONE_MOVE_OK = 0,
    ZONE_MOVE_TOO_FAST,
    ZONE_MOVE_OUT_OF_BOUNDS,
    ZONE_MOVE_BAD_VALUE /* NaN or infinite coordinates */
} zone_move_verdict_t;

typedef struct zone_move_rules_s {
    float max_speed;    /* units per second */
    uint32_t slack_ms;  /* tolerated timing jitter added to the elapsed time */
    uint32_t max_dt_ms; /* elapsed time is capped: idling earns no teleport */
} zone_move_rules_t;

/* Checks a move from (ox, oy) at time then_ms to (nx, ny) at now_ms inside a
 * w x h zone.  Bounds are [0, w] x [0, h]. */
zone_move_verdict_t zone_move_check(const zone_move_rules_t *r, float w, float h, float ox,
                                    float oy, uint64_t then_ms, float nx, float ny,
                                    uint64_t now_ms);
const char *zone_move_verdict_name(zone_move_verdict_t v);

/* Token bucket: `burst` messages at once, refilled at `per_s` a second.  A
 * message without a token mutes the player for mute_ms. */
typedef struct chat_limit_rules_s {
    float per_s;
    float burst;
    uint32_t mute_ms;
} chat_limit_rules_t;

typedef struct chat_limit_s {
    float tokens;
    uint64_t last_ms;
    uint64_t muted_until_ms;
} chat_limit_t;

typedef enum {
    CHAT_LIMIT_OK = 0,
    CHAT_LIMIT_NOW_MUTED, /* this message tripped the limit */
    CHAT_LIMIT_MUTED      /* still muted from before */
} chat_limit_verdict_t;

void chat_limit_init(chat_limit_t *c, const chat_limit_rules_t *r, uint64_t now_ms);
chat_limit_verdict_t chat_limit_check(chat_limit_t *c, const chat_limit_rules_t *r,
                                      uint64_t now_ms);

#endif
