/* Login tickets on the game server (issue 13): the checks a ticket must
 * pass before its login costs a database job -- signature (the login
 * server's key), character name, shard, expiry, then the replay cache.
 * The cache is shared by every session strand (a mutex), bounded, and
 * remembers a nonce until its ticket could no longer be accepted; when it
 * is full new logins are refused, nonces are never forgotten early. */
#ifndef CONTENT_AUTH_H
#define CONTENT_AUTH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_auth.h"

/* Why a ticket was refused; indexes content_ticket_reject_name (content.h). */
typedef enum {
    AUTH_OK = -1,
    AUTH_EXPIRED = 0,
    AUTH_REPLAYED,
    AUTH_WRONG_SHARD,
    AUTH_FORGED,
    AUTH_MALFORMED,
    AUTH_WRONG_CHARACTER, /* valid, but for another character name */
    AUTH_CACHE_FULL,      /* valid, but the replay cache has no room */
    AUTH_TOO_LONG,        /* signed, but expires further ahead than any ticket we issue */
    AUTH_REASONS
} auth_verdict_t;

typedef struct replay_cache_s {
    pthread_mutex_t mu;
    uint32_t max, n;
    uint32_t nbuckets; /* power of two, >= max */
    uint32_t *bucket;  /* head node, or UINT32_MAX */
    uint32_t *next;    /* chain link, or the free list's */
    uint32_t free_head;
    uint8_t (*nonce)[PA_TICKET_NONCE_BYTES];
    uint64_t *until; /* unix seconds: forgotten once now passes it */
    uint32_t *heap;  /* node indices, min-heap on until */
} replay_cache_t;

/* 0, or -1 (out of memory). */
int replay_init(replay_cache_t *r, uint32_t max);
void replay_free(replay_cache_t *r);
/* Forgets nonces whose time is over, then: 0 first use (remembered until
 * keep_until_s), 1 already seen, -1 full (nothing remembered). */
int replay_add(replay_cache_t *r, const uint8_t nonce[PA_TICKET_NONCE_BYTES], uint64_t keep_until_s,
               uint64_t now_s);
uint32_t replay_size(replay_cache_t *r);

typedef struct auth_rules_s {
    uint8_t login_pk[PA_SIGN_PK_BYTES];
    uint8_t login_pk_next[PA_SIGN_PK_BYTES]; /* a second accepted key (rotation) */
    int have_next;
    const char *shard;
    uint32_t skew_s;
    uint32_t max_lifetime_s; /* expires_s beyond now + this + skew_s is refused */
} auth_rules_t;

/* The whole check of one login's token for character `name` at unix time
 * now_s; fills *t on AUTH_OK (the nonce is then remembered). */
auth_verdict_t auth_check_ticket(replay_cache_t *r, const auth_rules_t *rules, const uint8_t *tok,
                                 size_t len, const char *name, uint64_t now_s, pa_ticket_t *t);
/* The PROTO_ERR_* code and the client's text for a refusal. */
int auth_verdict_code(auth_verdict_t v);
const char *auth_verdict_text(auth_verdict_t v);

#endif
