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

/* Movement is a distance budget (a token bucket of units): it refills at
 * max_speed per second up to max_speed * burst_ms, and each accepted move
 * spends its length.  The burst absorbs network jitter (moves that arrive
 * bunched up); the refill rate bounds the average speed however often a
 * client sends moves, and idling earns no teleport. */
typedef struct zone_move_rules_s {
    float max_speed;   /* units per second, sustained */
    uint32_t burst_ms; /* jitter tolerance: the bucket holds this much time of movement */
} zone_move_rules_t;

typedef struct zone_move_state_s {
    float budget;     /* units the player may still move now */
    uint64_t last_ms; /* last refill */
} zone_move_state_t;

/* A full bucket: a player may move at once after entering. */
void zone_move_init(zone_move_state_t *st, const zone_move_rules_t *r, uint64_t now_ms);
/* Checks a move from (ox, oy) to (nx, ny) at now_ms inside a w x h zone
 * (bounds [0, w] x [0, h]) and spends the budget when it is accepted. */
zone_move_verdict_t zone_move_check(const zone_move_rules_t *r, zone_move_state_t *st, float w,
                                    float h, float ox, float oy, float nx, float ny,
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
