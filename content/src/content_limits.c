/* Token buckets, packet costs, flood verdicts and per-address accounting
 * (limits.h). */
#include "content_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_packets.h"

void tbucket_init(tbucket_t *b, double burst, uint64_t now_ms)
{
    b->tokens = burst;
    b->last_ms = now_ms;
}

double tbucket_refill(tbucket_t *b, double per_s, double burst, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += per_s * (double)(now_ms - b->last_ms) / 1000.0;
        b->last_ms = now_ms;
    }
    if (b->tokens > burst)
        b->tokens = burst;
    return b->tokens;
}

int tbucket_take(tbucket_t *b, double per_s, double burst, double cost, uint64_t now_ms)
{
    if (tbucket_refill(b, per_s, burst, now_ms) < cost)
        return 0;
    b->tokens -= cost;
    return 1;
}

uint32_t limits_cost(uint16_t type)
{
    switch (type) {
    case PROTO_T_MOVE:
    case PROTO_T_PING:
    case PROTO_T_LOGOUT: return 1;
    case PROTO_T_LOGIN:
    case PROTO_T_ENTER_WORLD:
    case PROTO_T_CHAT: return 5;
    case PROTO_T_WHO_REQUEST:
    case PROTO_T_ZONE_CHANGE_REQUEST: return 20;
    default: return 1; /* unknown types close the session anyway */
    }
}

flood_verdict_t flood_on_drop(flood_state_t *f, uint32_t warn_drops, uint32_t kick_s,
                              uint64_t now_ms)
{
    if (f->win_start == 0 || now_ms - f->win_start >= FLOOD_WINDOW_MS) {
        f->win_start = now_ms ? now_ms : 1;
        f->win_drops = 0;
        f->warned = 0;
    }
    if (f->win_drops < UINT32_MAX)
        f->win_drops++;
    if (warn_drops == 0 || f->win_drops != warn_drops)
        return FLOOD_DROP;
    f->warned = 1;
    if (f->episode_start == 0 || now_ms - f->last_abuse > FLOOD_QUIET_MS)
        f->episode_start = now_ms ? now_ms : 1;
    f->last_abuse = now_ms;
    return kick_s && now_ms - f->episode_start >= (uint64_t)kick_s * 1000u ? FLOOD_KICK
                                                                           : FLOOD_WARN;
}

void limits_peer_ip(const char *peer, char *out, size_t n)
{
    if (n == 0)
        return;
    const char *start = peer, *end;
    if (*peer == '[') {
        start = peer + 1;
        end = strchr(start, ']');
    } else {
        end = strrchr(peer, ':');
    }
    size_t len = end ? (size_t)(end - start) : strlen(start);
    if (len >= n)
        len = n - 1;
    memcpy(out, start, len);
    out[len] = 0;
}

int limits_ip_is_loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

static unsigned ip_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % IPT_BUCKETS;
}

void ipt_init(ip_table_t *t, double chars_per_min)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->next_sweep = 1024;
    t->chars_per_min = chars_per_min;
}

void ipt_free(ip_table_t *t)
{
    for (int i = 0; i < IPT_BUCKETS; i++)
        while (t->b[i]) {
            ip_entry_t *e = t->b[i];
            t->b[i] = e->next;
            free(e);
        }
    pthread_mutex_destroy(&t->mu);
}

static int entry_idle(ip_table_t *t, ip_entry_t *e, uint64_t now_ms)
{
    double per_min = t->chars_per_min;
    return e->prelogin == 0 &&
           (!e->has_chars || tbucket_refill(&e->chars, per_min / 60.0, per_min, now_ms) >= per_min);
}

static void sweep_locked(ip_table_t *t, uint64_t now_ms)
{
    for (int i = 0; i < IPT_BUCKETS; i++)
        for (ip_entry_t **pp = &t->b[i]; *pp;) {
            ip_entry_t *e = *pp;
            if (entry_idle(t, e, now_ms)) {
                *pp = e->next;
                free(e);
                t->n--;
            } else {
                pp = &e->next;
            }
        }
    t->next_sweep = t->n * 2 > 1024 ? t->n * 2 : 1024;
}

static ip_entry_t *find_locked(ip_table_t *t, const char *ip, int create, uint64_t now_ms)
{
    unsigned h = ip_hash(ip);
    for (ip_entry_t *e = t->b[h]; e; e = e->next)
        if (strcmp(e->ip, ip) == 0)
            return e;
    if (!create)
        return NULL;
    if (t->n >= t->next_sweep)
        sweep_locked(t, now_ms);
    ip_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->ip, sizeof e->ip, "%s", ip);
    e->next = t->b[h];
    t->b[h] = e;
    t->n++;
    return e;
}

static void remove_if_idle_locked(ip_table_t *t, ip_entry_t *e, uint64_t now_ms)
{
    if (!entry_idle(t, e, now_ms))
        return;
    ip_entry_t **pp = &t->b[ip_hash(e->ip)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    free(e);
    t->n--;
}

int ipt_prelogin_enter(ip_table_t *t, const char *ip, uint32_t max)
{
    pthread_mutex_lock(&t->mu);
    ip_entry_t *e = find_locked(t, ip, 1, nc_now_ms());
    int rc = !e ? -1 : (max && e->prelogin >= max) ? 0 : 1;
    if (rc == 1)
        e->prelogin++;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void ipt_prelogin_leave(ip_table_t *t, const char *ip, uint64_t now_ms)
{
    pthread_mutex_lock(&t->mu);
    ip_entry_t *e = find_locked(t, ip, 0, now_ms);
    if (e && e->prelogin > 0) {
        e->prelogin--;
        remove_if_idle_locked(t, e, now_ms);
    }
    pthread_mutex_unlock(&t->mu);
}

double ipt_chars_available(ip_table_t *t, const char *ip, uint64_t now_ms)
{
    double per_min = t->chars_per_min, v = per_min;
    pthread_mutex_lock(&t->mu);
    ip_entry_t *e = find_locked(t, ip, 0, now_ms);
    if (e && e->has_chars)
        v = tbucket_refill(&e->chars, per_min / 60.0, per_min, now_ms);
    pthread_mutex_unlock(&t->mu);
    return v;
}

void ipt_chars_take(ip_table_t *t, const char *ip, uint64_t now_ms)
{
    double per_min = t->chars_per_min;
    pthread_mutex_lock(&t->mu);
    ip_entry_t *e = find_locked(t, ip, 1, now_ms);
    if (e) {
        if (!e->has_chars) {
            tbucket_init(&e->chars, per_min, now_ms);
            e->has_chars = 1;
        }
        tbucket_take(&e->chars, per_min / 60.0, per_min, 1.0, now_ms);
    }
    pthread_mutex_unlock(&t->mu);
}

void ipt_set_global(ip_table_t *t, double per_min, uint64_t now_ms)
{
    pthread_mutex_lock(&t->mu);
    t->global_per_min = per_min;
    tbucket_init(&t->global, per_min, now_ms);
    pthread_mutex_unlock(&t->mu);
}

int ipt_chars_reserve(ip_table_t *t, const char *ip, uint64_t now_ms)
{
    double g = t->global_per_min, per_min = t->chars_per_min;
    int use_ip = per_min > 0 && *ip;
    pthread_mutex_lock(&t->mu);
    ip_entry_t *e = use_ip ? find_locked(t, ip, 1, now_ms) : NULL;
    if (e && !e->has_chars) {
        tbucket_init(&e->chars, per_min, now_ms);
        e->has_chars = 1;
    }
    int ok = (g <= 0 || tbucket_refill(&t->global, g / 60.0, g, now_ms) >= 1.0) &&
             (!use_ip || !e || tbucket_refill(&e->chars, per_min / 60.0, per_min, now_ms) >= 1.0);
    if (ok && g > 0)
        t->global.tokens -= 1.0;
    if (ok && e)
        e->chars.tokens -= 1.0;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void ipt_chars_refund(ip_table_t *t, const char *ip, uint64_t now_ms)
{
    double g = t->global_per_min, per_min = t->chars_per_min;
    pthread_mutex_lock(&t->mu);
    if (g > 0 && (t->global.tokens += 1.0) > g)
        t->global.tokens = g;
    ip_entry_t *e = per_min > 0 && *ip ? find_locked(t, ip, 0, now_ms) : NULL;
    if (e && e->has_chars && (e->chars.tokens += 1.0) > per_min)
        e->chars.tokens = per_min;
    pthread_mutex_unlock(&t->mu);
}

uint32_t ipt_size(ip_table_t *t)
{
    pthread_mutex_lock(&t->mu);
    uint32_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}
