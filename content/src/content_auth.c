/* Login tickets on the game server: the replay cache (a chained hash set
 * of nonces over preallocated nodes, plus a min-heap on expiry so the
 * oldest nonces are forgotten first and in O(log n)) and the ticket checks
 * in the order that costs least for a bad ticket. */
#include "content_auth.h"

#include "content.h"
#include "proto.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

_Static_assert(AUTH_REASONS == CONTENT_TICKET_REASONS, "content.h sizes the reasons");
const char *const content_ticket_reject_name[CONTENT_TICKET_REASONS] = {
    [AUTH_EXPIRED] = "expired",         [AUTH_REPLAYED] = "replayed",
    [AUTH_WRONG_SHARD] = "wrong_shard", [AUTH_FORGED] = "forged",
    [AUTH_MALFORMED] = "malformed",     [AUTH_WRONG_CHARACTER] = "wrong_character",
    [AUTH_CACHE_FULL] = "cache_full",   [AUTH_TOO_LONG] = "too_long",
};

int replay_init(replay_cache_t *r, uint32_t max)
{
    memset(r, 0, sizeof *r);
    if (max == 0 || max > (1u << 30))
        return -1;
    uint32_t nb = 1;
    while (nb < max)
        nb <<= 1;
    r->max = max;
    r->nbuckets = nb;
    r->bucket = malloc((size_t)nb * sizeof *r->bucket);
    r->next = malloc((size_t)max * sizeof *r->next);
    r->nonce = malloc((size_t)max * sizeof *r->nonce);
    r->until = malloc((size_t)max * sizeof *r->until);
    r->heap = malloc((size_t)max * sizeof *r->heap);
    if (!r->bucket || !r->next || !r->nonce || !r->until || !r->heap) {
        replay_free(r);
        return -1;
    }
    for (uint32_t i = 0; i < nb; i++)
        r->bucket[i] = NIL;
    for (uint32_t i = 0; i < max; i++)
        r->next[i] = i + 1 < max ? i + 1 : NIL;
    r->free_head = 0;
    pthread_mutex_init(&r->mu, NULL);
    return 0;
}

void replay_free(replay_cache_t *r)
{
    if (r->bucket && r->heap)
        pthread_mutex_destroy(&r->mu);
    free(r->bucket);
    free(r->next);
    free(r->nonce);
    free(r->until);
    free(r->heap);
    memset(r, 0, sizeof *r);
}

/* Nonces come from verified tickets (the login server's random bytes), so
 * their first bytes are a fair hash. */
static uint32_t slot(const replay_cache_t *r, const uint8_t *nonce)
{
    uint64_t h;
    memcpy(&h, nonce, sizeof h);
    return (uint32_t)(h ^ (h >> 32)) & (r->nbuckets - 1);
}

static void heap_swap(replay_cache_t *r, uint32_t a, uint32_t b)
{
    uint32_t t = r->heap[a];
    r->heap[a] = r->heap[b];
    r->heap[b] = t;
}

static void heap_push(replay_cache_t *r, uint32_t node)
{
    uint32_t i = r->n++;
    r->heap[i] = node;
    while (i > 0 && r->until[r->heap[(i - 1) / 2]] > r->until[r->heap[i]]) {
        heap_swap(r, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_pop(replay_cache_t *r)
{
    r->heap[0] = r->heap[--r->n];
    for (uint32_t i = 0;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < r->n && r->until[r->heap[l]] < r->until[r->heap[m]])
            m = l;
        if (l + 1 < r->n && r->until[r->heap[l + 1]] < r->until[r->heap[m]])
            m = l + 1;
        if (m == i)
            return;
        heap_swap(r, i, m);
        i = m;
    }
}

/* Unlinks the heap's oldest node from its chain and frees it. */
static void forget_oldest(replay_cache_t *r)
{
    uint32_t node = r->heap[0];
    heap_pop(r);
    uint32_t *pp = &r->bucket[slot(r, r->nonce[node])];
    while (*pp != node)
        pp = &r->next[*pp];
    *pp = r->next[node];
    r->next[node] = r->free_head;
    r->free_head = node;
}

int replay_add(replay_cache_t *r, const uint8_t nonce[PA_TICKET_NONCE_BYTES], uint64_t keep_until_s,
               uint64_t now_s)
{
    pthread_mutex_lock(&r->mu);
    while (r->n > 0 && r->until[r->heap[0]] < now_s)
        forget_oldest(r);
    int rc = 0;
    uint32_t b = slot(r, nonce);
    for (uint32_t i = r->bucket[b]; i != NIL && rc == 0; i = r->next[i])
        if (memcmp(r->nonce[i], nonce, PA_TICKET_NONCE_BYTES) == 0)
            rc = 1;
    if (rc == 0 && r->free_head == NIL)
        rc = -1;
    if (rc == 0) {
        uint32_t node = r->free_head;
        r->free_head = r->next[node];
        memcpy(r->nonce[node], nonce, PA_TICKET_NONCE_BYTES);
        r->until[node] = keep_until_s;
        r->next[node] = r->bucket[b];
        r->bucket[b] = node;
        heap_push(r, node);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

uint32_t replay_size(replay_cache_t *r)
{
    pthread_mutex_lock(&r->mu);
    uint32_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

auth_verdict_t auth_check_ticket(replay_cache_t *r, const auth_rules_t *rules, const uint8_t *tok,
                                 size_t len, const char *name, uint64_t now_s, pa_ticket_t *t)
{
    int rc = pa_ticket_verify(tok, len, rules->login_pk, t);
    if (rc == PA_EBADSIG && rules->have_next) /* key rotation: the next key is accepted too */
        rc = pa_ticket_verify(tok, len, rules->login_pk_next, t);
    if (rc == PA_EBADSIG)
        return AUTH_FORGED;
    if (rc != PA_OK)
        return AUTH_MALFORMED;
    if (strcmp(t->shard, rules->shard) != 0)
        return AUTH_WRONG_SHARD;
    /* accepted up to expires_s + skew: remembered exactly that long */
    uint64_t last =
        t->expires_s > UINT64_MAX - rules->skew_s ? UINT64_MAX : t->expires_s + rules->skew_s;
    if (last < now_s)
        return AUTH_EXPIRED;
    /* A signed ticket with a distant expiry would hold a replay-cache slot
     * (and stay usable) that long: no login server of ours issues one. */
    if (t->expires_s > now_s &&
        t->expires_s - now_s > (uint64_t)rules->max_lifetime_s + rules->skew_s)
        return AUTH_TOO_LONG;
    if (strcmp(t->name, name) != 0)
        return AUTH_WRONG_CHARACTER;
    switch (replay_add(r, t->nonce, last, now_s)) {
    case 0: return AUTH_OK;
    case 1: return AUTH_REPLAYED;
    default: return AUTH_CACHE_FULL;
    }
}

int auth_verdict_code(auth_verdict_t v)
{
    switch (v) {
    case AUTH_EXPIRED: return PROTO_ERR_TICKET_EXPIRED;
    case AUTH_REPLAYED: return PROTO_ERR_TICKET_REPLAYED;
    case AUTH_WRONG_SHARD: return PROTO_ERR_TICKET_WRONG_SHARD;
    case AUTH_FORGED: return PROTO_ERR_TICKET_FORGED;
    case AUTH_WRONG_CHARACTER: return PROTO_ERR_NOT_OWNER;
    case AUTH_CACHE_FULL: return PROTO_ERR_SERVER_FULL;
    default: return PROTO_ERR_TICKET_MALFORMED;
    }
}

const char *auth_verdict_text(auth_verdict_t v)
{
    switch (v) {
    case AUTH_WRONG_CHARACTER: return "login ticket is for another character";
    case AUTH_CACHE_FULL: return "too many recent logins on this shard: try again in a minute";
    case AUTH_TOO_LONG:
        return "login ticket expires too far ahead (check the login server's clock)";
    default: return proto_err_text(auth_verdict_code(v));
    }
}
