/* Failed-login counters with exponential lock-out, in a bounded table
 * (and, at the end, live connections per address in another):
 * open addressing over a fixed number of slots, probing a window of 8; a
 * key that finds no free or expired slot in its window takes the one with
 * the oldest failure.  So the table never grows, whatever a peer sends,
 * and an evicted entry is one nobody failed on for the longest time. */
#include "master_auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 72
#define WINDOW 8

typedef struct slot_s {
    char key[KEY_MAX]; /* "" = free */
    uint32_t failures;
    uint64_t last_ms;   /* monotonic time of the last failure */
    uint64_t locked_ms; /* monotonic time the lock ends (0 none) */
} slot_t;

struct mlock_s {
    pthread_mutex_t mu;
    slot_t *v;
    uint32_t mask, used;
    uint32_t threshold, base_ms, max_ms, forget_ms;
};

mlock_t *mlock_create(uint32_t slots, uint32_t threshold, uint32_t base_ms, uint32_t max_ms,
                      uint32_t forget_ms)
{
    uint32_t n = 16;
    while (n < slots && n < (1u << 24))
        n <<= 1;
    mlock_t *l = calloc(1, sizeof *l);
    if (!l || !(l->v = calloc(n, sizeof *l->v))) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    l->mask = n - 1;
    l->threshold = threshold;
    l->base_ms = base_ms;
    l->max_ms = max_ms;
    l->forget_ms = forget_ms;
    return l;
}

void mlock_destroy(mlock_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->v);
    free(l);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a; keys are short, the table is bounded anyway */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int stale(const mlock_t *l, const slot_t *e, uint64_t now)
{
    return e->key[0] && now >= e->locked_ms && now - e->last_ms >= l->forget_ms;
}

/* The key's slot, or NULL (create = 0) / a slot made for it (create = 1). */
static slot_t *lookup(mlock_t *l, const char *key, uint64_t now, int create)
{
    uint32_t h = hash(key);
    slot_t *reuse = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < WINDOW; i++) {
        slot_t *e = &l->v[(h + i) & l->mask];
        if (e->key[0] && !strcmp(e->key, key)) {
            if (stale(l, e, now)) { /* quiet long enough: start over */
                e->failures = 0;
                e->locked_ms = 0;
            }
            return e;
        }
        if (!e->key[0] || stale(l, e, now)) {
            if (!reuse || (reuse->key[0] && !e->key[0]))
                reuse = e;
        } else if (!oldest || e->last_ms < oldest->last_ms) {
            oldest = e;
        }
    }
    if (!create)
        return NULL;
    slot_t *victim = reuse ? reuse : oldest;
    if (!victim->key[0])
        l->used++;
    memset(victim, 0, sizeof *victim);
    size_t n = strlen(key);
    memcpy(victim->key, key, n < KEY_MAX - 1 ? n : KEY_MAX - 1);
    return victim;
}

uint64_t mlock_check(mlock_t *l, const char *key, uint64_t now)
{
    pthread_mutex_lock(&l->mu);
    slot_t *e = lookup(l, key, now, 0);
    uint64_t left = e && e->locked_ms > now ? e->locked_ms - now : 0;
    pthread_mutex_unlock(&l->mu);
    return left;
}

uint32_t mlock_fail(mlock_t *l, const char *key, uint64_t now, uint64_t *lock_ms)
{
    pthread_mutex_lock(&l->mu);
    slot_t *e = lookup(l, key, now, 1);
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_ms = now;
    uint64_t lock = 0;
    if (e->failures >= l->threshold) {
        uint32_t doublings = e->failures - l->threshold;
        lock = l->base_ms;
        for (uint32_t i = 0; i < doublings && lock < l->max_ms; i++)
            lock *= 2;
        if (lock > l->max_ms)
            lock = l->max_ms;
        e->locked_ms = now + lock;
    }
    uint32_t n = e->failures;
    pthread_mutex_unlock(&l->mu);
    *lock_ms = lock;
    return n;
}

void mlock_reset(mlock_t *l, const char *key)
{
    pthread_mutex_lock(&l->mu);
    slot_t *e = lookup(l, key, nc_now_ms(), 0);
    if (e) {
        memset(e, 0, sizeof *e);
        l->used--;
    }
    pthread_mutex_unlock(&l->mu);
}

uint32_t mlock_used(mlock_t *l)
{
    pthread_mutex_lock(&l->mu);
    uint32_t n = l->used;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* ---- live connections per address ------------------------------------------
 * Same open addressing; a slot whose count fell to 0 is free for any key,
 * and a key is looked for in its whole window (no chains to keep intact). */

typedef struct cslot_s {
    char key[KEY_MAX];
    uint32_t n; /* 0 = free */
} cslot_t;

struct mconn_s {
    pthread_mutex_t mu;
    cslot_t *v;
    uint32_t mask;
};

mconn_t *mconn_create(uint32_t slots)
{
    uint32_t n = 16;
    while (n < slots && n < (1u << 24))
        n <<= 1;
    mconn_t *c = calloc(1, sizeof *c);
    if (!c || !(c->v = calloc(n, sizeof *c->v))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->mask = n - 1;
    return c;
}

void mconn_destroy(mconn_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->v);
    free(c);
}

int mconn_add(mconn_t *c, const char *key, uint32_t cap)
{
    uint32_t h = hash(key);
    pthread_mutex_lock(&c->mu);
    cslot_t *mine = NULL, *free_slot = NULL;
    for (uint32_t i = 0; i < WINDOW && !mine; i++) {
        cslot_t *e = &c->v[(h + i) & c->mask];
        if (e->n && !strcmp(e->key, key))
            mine = e;
        else if (!e->n && !free_slot)
            free_slot = e;
    }
    int rc = 1;
    if (mine && mine->n >= cap) {
        rc = 0;
    } else if (mine) {
        mine->n++;
    } else if (free_slot) {
        size_t n = strlen(key);
        memset(free_slot->key, 0, sizeof free_slot->key);
        memcpy(free_slot->key, key, n < KEY_MAX - 1 ? n : KEY_MAX - 1);
        free_slot->n = 1;
    } else {
        rc = -1; /* window full: not counted */
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

uint32_t mconn_count(mconn_t *c, const char *key)
{
    uint32_t h = hash(key), n = 0;
    pthread_mutex_lock(&c->mu);
    for (uint32_t i = 0; i < WINDOW; i++) {
        cslot_t *e = &c->v[(h + i) & c->mask];
        if (e->n && !strcmp(e->key, key)) {
            n = e->n;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

void mconn_del(mconn_t *c, const char *key)
{
    uint32_t h = hash(key);
    pthread_mutex_lock(&c->mu);
    for (uint32_t i = 0; i < WINDOW; i++) {
        cslot_t *e = &c->v[(h + i) & c->mask];
        if (e->n && !strcmp(e->key, key)) {
            e->n--;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}
