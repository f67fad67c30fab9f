/* Movement validation and chat rate limiting: pure functions of their inputs
 * and the caller-owned state, so zones stay the only owners of player state. */
#include "zone_rules.h"

#include <math.h>

static float move_cap(const zone_move_rules_t *r)
{
    return r->max_speed * (float)r->burst_ms / 1000.0f;
}

void zone_move_init(zone_move_state_t *st, const zone_move_rules_t *r, uint64_t now_ms)
{
    st->budget = move_cap(r);
    st->last_ms = now_ms;
}

zone_move_verdict_t zone_move_check(const zone_move_rules_t *r, zone_move_state_t *st, float w,
                                    float h, float ox, float oy, float nx, float ny,
                                    uint64_t now_ms)
{
    if (!isfinite(nx) || !isfinite(ny))
        return ZONE_MOVE_BAD_VALUE;
    if (nx < 0 || ny < 0 || nx > w || ny > h)
        return ZONE_MOVE_OUT_OF_BOUNDS;
    uint64_t dt = now_ms > st->last_ms ? now_ms - st->last_ms : 0;
    st->last_ms = now_ms;
    double budget = st->budget + (double)r->max_speed * (double)dt / 1000.0;
    if (budget > move_cap(r))
        budget = move_cap(r);
    double dist = hypot((double)nx - ox, (double)ny - oy);
    if (dist > budget) {
        st->budget = (float)budget;
        return ZONE_MOVE_TOO_FAST;
    }
    st->budget = (float)(budget - dist);
    return ZONE_MOVE_OK;
}

const char *zone_move_verdict_name(zone_move_verdict_t v)
{
    switch (v) {
    case ZONE_MOVE_OK: return "ok";
    case ZONE_MOVE_TOO_FAST: return "too_fast";
    case ZONE_MOVE_OUT_OF_BOUNDS: return "out_of_bounds";
    case ZONE_MOVE_BAD_VALUE: return "bad_value";
    }
    return "?";
}

void chat_limit_init(chat_limit_t *c, const chat_limit_rules_t *r, uint64_t now_ms)
{
    c->tokens = r->burst;
    c->last_ms = now_ms;
    c->muted_until_ms = 0;
}

chat_limit_verdict_t chat_limit_check(chat_limit_t *c, const chat_limit_rules_t *r, uint64_t now_ms)
{
    if (now_ms < c->muted_until_ms)
        return CHAT_LIMIT_MUTED;
    if (now_ms > c->last_ms) {
        c->tokens += r->per_s * (float)(now_ms - c->last_ms) / 1000.0f;
        if (c->tokens > r->burst)
            c->tokens = r->burst;
        c->last_ms = now_ms;
    }
    if (c->tokens >= 1.0f) {
        c->tokens -= 1.0f;
        return CHAT_LIMIT_OK;
    }
    c->muted_until_ms = now_ms + r->mute_ms;
    c->tokens = 0;
    return CHAT_LIMIT_NOW_MUTED;
}
