/* The Redis chat bus (see gs_bus_redis.h).  Both connections are netcore
 * raw clients on the `control` queue; their handlers run one at a time per
 * connection.  Commands go out on the command connection in the order their
 * expected replies are queued (a ring under cmd_mu, so zone strands may
 * publish too); replies come back in that order (RESP), so the ring's head
 * always names what the next reply answers.  Channel payloads:
 *   G \x1f shard \x1f sender \x1f text      (global chat)
 *   W \x1f sender \x1f target \x1f text     (whisper, on the target's shard) */
#include "gs_bus_redis.h"

#include "content.h"
#include "gs_platform.h"

#include <hiredis/read.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "bus"
#define SEP '\x1f'
#define NAME_MAX_ 33
#define TEXT_MAX_ 256
#define RING 65536               /* replies awaited on the command connection */
#define MAX_WHISPERS 1024        /* of those, whispers in flight (each holds its text) */
#define MAX_CMD 2048             /* one formatted command */
#define MAX_READER (1024 * 1024) /* unparsed reply bytes: past it, the peer is broken */
#define DEL_BATCH 16             /* presence keys per DEL at an orderly stop (fits MAX_CMD) */
#define CLEAR_WAIT_MS 2000       /* an orderly stop waits this long for those DELs' answer */

enum { P_IGNORE, P_READY, P_GET, P_WPUB, P_CLEARED };

typedef struct pend_s {
    int kind;
    nc_sid_t from;
    char sender[NAME_MAX_], text[TEXT_MAX_];
} pend_t;

/* A reply awaited: what it answers; whispers keep their data aside. */
typedef struct slot_s {
    int kind;
    pend_t *w;
} slot_t;

typedef struct conn_s {
    gs_bus_t *owner;
    const char *what; /* "sub" / "cmd" */
    nc_client_t *client;
    redisReader *rd; /* this connection's current session only */
    atomic_int ready;
    int subs;
    uint64_t opens;
} conn_t;

struct gs_bus_s {
    gs_bus_cfg_t cfg;
    nc_engine_t *engine;
    conn_t sub, cmd;
    char ch_global[128], ch_shard[128];
    pthread_mutex_t mu; /* ring + sends on the command connection */
    slot_t *ring;
    uint32_t whispers; /* slots holding a pend_t, under mu */
    nc_sid_t ring_sid; /* the command session the ring belongs to, under mu */
    uint32_t head, count;
    atomic_int up, stopping, fenced, kicked, cleared;
    atomic_uint_fast64_t reconnects, published, received, errors;
    nc_strand_t *timer_strand;
    nc_timer_id_t timer;
    content_world_t *world;
    _Atomic(content_world_t *) hooked;
    nc_log_state_t rl;
    /* presence: the names set at the last refresh (sorted), timer strand only */
    char (*prev)[NAME_MAX_];
    size_t nprev;
};

/* ---- RESP commands ---- */

/* "*argc\r\n" + "$len\r\narg\r\n"...; -1 when it does not fit */
static int resp_format(char *out, size_t cap, int argc, const char *const *argv, const size_t *lens)
{
    size_t n = 0;
    int w = snprintf(out, cap, "*%d\r\n", argc);
    if (w < 0 || (size_t)w >= cap)
        return -1;
    n = (size_t)w;
    for (int i = 0; i < argc; i++) {
        w = snprintf(out + n, cap - n, "$%zu\r\n", lens[i]);
        if (w < 0 || (size_t)w >= cap - n || lens[i] > cap - n - (size_t)w - 2)
            return -1;
        n += (size_t)w;
        memcpy(out + n, argv[i], lens[i]);
        n += lens[i];
        out[n++] = '\r';
        out[n++] = '\n';
    }
    return (int)n;
}

static int send_to(gs_bus_t *b, nc_sid_t sid, int argc, const char *const *argv, const size_t *lens)
{
    char buf[MAX_CMD];
    int n = resp_format(buf, sizeof buf, argc, argv, lens);
    if (n < 0)
        return NC_EMSGSIZE;
    nc_session_t *s = sid ? nc_session_get(b->engine, sid) : NULL;
    if (!s)
        return NC_ECLOSED;
    int rc = nc_send_raw(s, buf, (size_t)n);
    nc_session_put(s);
    return rc;
}

static int send_in(nc_session_t *s, int argc, const char *const *argv, const size_t *lens)
{
    char buf[MAX_CMD];
    int n = resp_format(buf, sizeof buf, argc, argv, lens);
    return n < 0 ? NC_EMSGSIZE : nc_send_raw(s, buf, (size_t)n);
}

/* A command on the command connection with its awaited reply; under mu. */
static int cmd_locked(gs_bus_t *b, const pend_t *p, int argc, const char *const *argv,
                      const size_t *lens)
{
    int whisper = p->kind == P_GET || p->kind == P_WPUB;
    if (b->count >= RING || (whisper && b->whispers >= MAX_WHISPERS))
        return NC_EQFULL;
    slot_t sl = {p->kind, NULL};
    if (whisper && !(sl.w = malloc(sizeof *sl.w)))
        return NC_ENOMEM;
    if (sl.w)
        *sl.w = *p;
    /* only on the session whose replies the ring awaits (a new one is
     * adopted by its on_open, which flushes what the old one awaited) */
    nc_sid_t sid = b->cmd.client ? nc_client_session(b->cmd.client) : 0;
    if (!sid || sid != b->ring_sid)
        return NC_ECLOSED;
    int rc = send_to(b, sid, argc, argv, lens);
    if (rc != 0) {
        free(sl.w);
        return rc;
    }
    b->ring[(b->head + b->count) % RING] = sl;
    b->count++;
    b->whispers += whisper;
    return 0;
}

static int cmd(gs_bus_t *b, const pend_t *p, int argc, const char *const *argv, const size_t *lens)
{
    pthread_mutex_lock(&b->mu);
    int rc = cmd_locked(b, p, argc, argv, lens);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static int publish(gs_bus_t *b, const pend_t *p, const char *channel, const char *payload,
                   size_t plen)
{
    const char *argv[] = {"PUBLISH", channel, payload};
    size_t lens[] = {7, strlen(channel), plen};
    int rc = cmd(b, p, 3, argv, lens);
    if (rc == 0)
        atomic_fetch_add(&b->published, 1);
    return rc;
}

/* ---- state ---- */

static void say(gs_bus_t *b, const char *text)
{
    content_world_t *w = atomic_load(&b->hooked);
    if (w)
        content_deliver_global_chat(w, "", "*system*", text);
}

static void update_up(gs_bus_t *b)
{
    int now = atomic_load(&b->sub.ready) && atomic_load(&b->cmd.ready);
    int was = atomic_exchange(&b->up, now);
    if (was == now || atomic_load(&b->stopping))
        return;
    nc_log(now ? NC_LOG_INFO : NC_LOG_WARN, TAG, "redis chat bus %s (%s:%u)",
           now ? "up" : "down; reconnecting with back-off", b->cfg.host, (unsigned)b->cfg.port);
    say(b, now ? "global chat online" : "global chat offline");
}

/* Splits "a\x1fb\x1fc\x1frest" into 3 bounded fields + rest; -1 if malformed. */
static int split(const char *p, size_t len, char f[3][TEXT_MAX_], size_t caps[3], char *rest,
                 size_t restcap)
{
    if (memchr(p, 0, len))
        return -1;
    for (int i = 0; i < 3; i++) {
        const char *e = memchr(p, SEP, len);
        if (!e || (size_t)(e - p) >= caps[i])
            return -1;
        memcpy(f[i], p, (size_t)(e - p));
        f[i][e - p] = 0;
        len -= (size_t)(e - p) + 1;
        p = e + 1;
    }
    if (len >= restcap)
        return -1;
    memcpy(rest, p, len);
    rest[len] = 0;
    return 0;
}

static void on_message(gs_bus_t *b, const char *p, size_t len)
{
    char f[3][TEXT_MAX_], text[TEXT_MAX_];
    size_t caps[3] = {2, NAME_MAX_, NAME_MAX_};
    content_world_t *w = atomic_load(&b->hooked);
    if (split(p, len, f, caps, text, sizeof text) != 0 || (f[0][0] != 'G' && f[0][0] != 'W')) {
        atomic_fetch_add(&b->errors, 1);
        nc_log_limited(&b->rl, 10000, NC_LOG_WARN, TAG, "malformed bus message (%zu bytes)", len);
        return;
    }
    atomic_fetch_add(&b->received, 1);
    if (!w)
        return;
    if (f[0][0] == 'G')
        content_deliver_global_chat(w, f[1], f[2], text);
    else if (content_deliver_whisper(w, f[1], f[2], text) != 0)
        nc_log(NC_LOG_DEBUG, TAG, "whisper from %s: %s is not online here any more", f[1], f[2]);
}

/* ---- the subscribed connection ---- */

static void sub_reply(gs_bus_t *b, nc_session_t *s, redisReply *r)
{
    conn_t *c = &b->sub;
    if (r->type == REDIS_REPLY_STATUS)
        return; /* +OK to AUTH */
    if (r->type == REDIS_REPLY_ERROR) {
        atomic_fetch_add(&b->errors, 1);
        nc_log_limited(&b->rl, 10000, NC_LOG_ERROR, TAG,
                       "redis refused the subscription: %.*s (check redis.password_file)",
                       (int)r->len, r->str);
        nc_session_close(s, NC_EINVAL, "redis error");
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        atomic_fetch_add(&b->errors, 1);
        return;
    }
    const redisReply *k = r->element[0];
    if (k->len == 9 && memcmp(k->str, "subscribe", 9) == 0) {
        if (++c->subs == 2) {
            atomic_store(&c->ready, 1);
            update_up(b);
        }
    } else if (k->len == 7 && memcmp(k->str, "message", 7) == 0 &&
               r->element[2]->type == REDIS_REPLY_STRING) {
        on_message(b, r->element[2]->str, r->element[2]->len);
    }
}

/* ---- the command connection ---- */

static void whisper_done(gs_bus_t *b, const pend_t *p, int delivered)
{
    content_world_t *w = atomic_load(&b->hooked);
    if (w)
        content_whisper_result(w, p->from, p->sender, p->text, delivered);
}

/* Pops the head slot into p (under mu). */
static void pop_locked(gs_bus_t *b, pend_t *p)
{
    slot_t sl = b->ring[b->head];
    b->head = (b->head + 1) % RING;
    b->count--;
    if (sl.w) {
        *p = *sl.w;
        free(sl.w);
        b->whispers--;
    } else {
        p->kind = sl.kind;
    }
}

static void cmd_reply(gs_bus_t *b, nc_session_t *s, redisReply *r)
{
    pend_t p;
    pthread_mutex_lock(&b->mu);
    if (b->ring_sid != nc_session_id(s)) { /* an old session's late reply */
        pthread_mutex_unlock(&b->mu);
        return;
    }
    if (b->count == 0) {
        pthread_mutex_unlock(&b->mu);
        atomic_fetch_add(&b->errors, 1);
        nc_session_close(s, NC_EINVAL, "unexpected redis reply");
        return;
    }
    pop_locked(b, &p);
    pthread_mutex_unlock(&b->mu);
    if (r->type == REDIS_REPLY_ERROR) {
        atomic_fetch_add(&b->errors, 1);
        nc_log_limited(&b->rl, 10000, NC_LOG_ERROR, TAG, "redis error: %.*s", (int)r->len, r->str);
        if (p.kind == P_READY) { /* AUTH or PING refused */
            nc_session_close(s, NC_EINVAL, "redis error");
            return;
        }
    }
    switch (p.kind) {
    case P_READY:
        atomic_store(&b->cmd.ready, 1);
        update_up(b);
        break;
    case P_GET: {
        /* the target's shard, or nil: not online anywhere */
        if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= NAME_MAX_ ||
            memchr(r->str, 0, r->len)) {
            whisper_done(b, &p, 0);
            break;
        }
        char ch[128 + NAME_MAX_];
        int n = snprintf(ch, sizeof ch, "%sshard.%.*s", b->cfg.prefix, (int)r->len, r->str);
        char payload[4 + 2 * NAME_MAX_ + TEXT_MAX_];
        /* the target rides in the sender's text field of the ring: see whisper_hook */
        const char *target = p.text;
        const char *text = p.text + strlen(p.text) + 1;
        int m = snprintf(payload, sizeof payload, "W%c%s%c%s%c%s", SEP, p.sender, SEP, target, SEP,
                         text);
        pend_t q = p;
        q.kind = P_WPUB;
        if (n < 0 || (size_t)n >= sizeof ch || m < 0 || (size_t)m >= sizeof payload ||
            publish(b, &q, ch, payload, (size_t)m) != 0)
            whisper_done(b, &p, 0);
        break;
    }
    case P_CLEARED: /* the last DEL of an orderly stop (presence_clear) */
        atomic_store(&b->cleared, 1);
        break;
    case P_WPUB: { /* receivers: 0 = that shard is gone */
        pend_t q = p;
        const char *text = p.text + strlen(p.text) + 1;
        memmove(q.text, text, strlen(text) + 1);
        whisper_done(b, &q, r->type == REDIS_REPLY_INTEGER && r->integer > 0);
        break;
    }
    default: break;
    }
}

/* Empties the ring if it belongs to session `sid` (and hands it to
 * `adopt`, 0 = nobody); the whispers it awaited are answered "not found". */
static void flush_ring(gs_bus_t *b, nc_sid_t sid, nc_sid_t adopt)
{
    pthread_mutex_lock(&b->mu);
    if (b->ring_sid != sid && adopt == 0) {
        pthread_mutex_unlock(&b->mu); /* a newer session owns it already */
        return;
    }
    uint32_t n = 0;
    pend_t *copy = b->whispers ? malloc((size_t)b->whispers * sizeof *copy) : NULL;
    while (b->count) {
        pend_t p;
        pop_locked(b, &p);
        if (copy && (p.kind == P_GET || p.kind == P_WPUB))
            copy[n++] = p;
    }
    b->head = 0;
    b->ring_sid = adopt;
    pthread_mutex_unlock(&b->mu);
    for (uint32_t i = 0; i < n; i++) {
        const char *text = copy[i].text + strlen(copy[i].text) + 1;
        memmove(copy[i].text, text, strlen(text) + 1);
        whisper_done(b, &copy[i], 0);
    }
    free(copy);
}

/* ---- handlers shared by both connections ---- */

static void on_open(nc_session_t *s, void *ud)
{
    conn_t *c = ud;
    gs_bus_t *b = c->owner;
    if (c->opens++ > 0)
        atomic_fetch_add(&b->reconnects, 1);
    c->rd = redisReaderCreate();
    c->subs = 0;
    if (!c->rd) {
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    const char *pw = b->cfg.password;
    const char *auth[] = {"AUTH", pw};
    size_t alens[] = {4, strlen(pw)};
    if (c == &b->sub) {
        if (pw[0])
            send_in(s, 2, auth, alens);
        const char *argv[] = {"SUBSCRIBE", b->ch_global, b->ch_shard};
        size_t lens[] = {9, strlen(b->ch_global), strlen(b->ch_shard)};
        send_in(s, 3, argv, lens);
        return;
    }
    /* the command connection: AUTH, then PING; its answer makes it ready */
    pend_t p = {.kind = P_READY};
    const char *ping[] = {"PING"};
    size_t plens[] = {4};
    flush_ring(b, 0, nc_session_id(s));
    pthread_mutex_lock(&b->mu);
    /* what the old session awaited was flushed at its close */
    if (pw[0] && b->count < RING && send_in(s, 2, auth, alens) == 0)
        b->ring[(b->head + b->count++) % RING] = (slot_t){P_IGNORE, NULL};
    if (b->count < RING && send_in(s, 1, ping, plens) == 0)
        b->ring[(b->head + b->count++) % RING] = (slot_t){p.kind, NULL};
    pthread_mutex_unlock(&b->mu);
}

static void on_bytes(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    (void)type;
    conn_t *c = ud;
    gs_bus_t *b = c->owner;
    if (!c->rd || nc_session_is_closing(s))
        return;
    if (redisReaderFeed(c->rd, (const char *)body, len) != REDIS_OK ||
        c->rd->len - c->rd->pos > MAX_READER) {
        nc_session_close(s, NC_EINVAL, "redis reply too large");
        return;
    }
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->rd, &reply) != REDIS_OK) {
            atomic_fetch_add(&b->errors, 1);
            nc_log_limited(&b->rl, 10000, NC_LOG_ERROR, TAG, "redis protocol error: %s",
                           c->rd->errstr);
            nc_session_close(s, NC_EINVAL, "redis protocol error");
            return;
        }
        if (!reply)
            return;
        if (c == &b->sub)
            sub_reply(b, s, reply);
        else
            cmd_reply(b, s, reply);
        freeReplyObject(reply);
        if (nc_session_is_closing(s))
            return;
    }
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    conn_t *c = ud;
    gs_bus_t *b = c->owner;
    atomic_store(&c->ready, 0);
    if (c->rd)
        redisReaderFree(c->rd);
    c->rd = NULL;
    if (c == &b->cmd) /* what was awaited will not be answered */
        flush_ring(b, nc_session_id(s), 0);
    if (!atomic_load(&b->stopping))
        nc_log(NC_LOG_DEBUG, TAG, "redis %s connection closed (session %llx: %s)", c->what,
               (unsigned long long)nc_session_id(s), why->text);
    update_up(b);
}

/* ---- the world's hooks (zone strands) ---- */

static int shout_hook(void *ud, const char *sender, const char *text)
{
    gs_bus_t *b = ud;
    if (!atomic_load(&b->up))
        return NC_ECLOSED;
    char payload[4 + 2 * NAME_MAX_ + TEXT_MAX_];
    int m = snprintf(payload, sizeof payload, "G%c%s%c%s%c%s", SEP, b->cfg.shard, SEP, sender, SEP,
                     text);
    if (m < 0 || (size_t)m >= sizeof payload)
        return NC_EMSGSIZE;
    pend_t p = {.kind = P_IGNORE};
    return publish(b, &p, b->ch_global, payload, (size_t)m);
}

/* The ring entry keeps "target\0text" in its text field. */
static int whisper_hook(void *ud, uint64_t from, const char *sender, const char *target,
                        const char *text)
{
    gs_bus_t *b = ud;
    size_t tl = strlen(target), xl = strlen(text);
    if (!atomic_load(&b->up) || tl == 0 || tl >= NAME_MAX_ || tl + 1 + xl + 1 > TEXT_MAX_)
        return NC_ECLOSED;
    pend_t p = {.kind = P_GET, .from = from};
    snprintf(p.sender, sizeof p.sender, "%s", sender);
    memcpy(p.text, target, tl + 1);
    memcpy(p.text + tl + 1, text, xl + 1);
    char key[128 + NAME_MAX_];
    int n = snprintf(key, sizeof key, "%spresence.%s", b->cfg.prefix, target);
    if (n < 0 || (size_t)n >= sizeof key)
        return NC_EMSGSIZE;
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, (size_t)n};
    int rc = cmd(b, &p, 2, argv, lens);
    nc_log(NC_LOG_DEBUG, TAG, "whisper %s -> %s: presence lookup (%d)", sender, target, rc);
    return rc;
}

/* ---- presence ---- */

typedef struct names_s {
    char (*v)[NAME_MAX_];
    size_t n, cap;
    int oom;
} names_t;

static void add_name(void *ud, const char *name)
{
    names_t *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *v = realloc(l->v, cap * sizeof *l->v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n++], NAME_MAX_, "%s", name);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void presence_key_cmd(gs_bus_t *b, const char *name, int set)
{
    char key[128 + NAME_MAX_], ttl[16];
    int n = snprintf(key, sizeof key, "%spresence.%s", b->cfg.prefix, name);
    snprintf(ttl, sizeof ttl, "%u", (unsigned)b->cfg.presence_ttl_s);
    if (n < 0 || (size_t)n >= sizeof key)
        return;
    pend_t p = {.kind = P_IGNORE};
    const char *argv[] = {set ? "SET" : "DEL", key, b->cfg.shard, "EX", ttl};
    size_t lens[] = {3, (size_t)n, strlen(b->cfg.shard), 2, strlen(ttl)};
    cmd(b, &p, set ? 5 : 2, argv, lens);
}

/* SET EX for everyone online (full: the periodic refresh) or only for
 * those new since the last run (a login or logout kicked it), DEL for
 * whoever left since then. */
static void presence_run(gs_bus_t *b, int full)
{
    if (!atomic_load(&b->cmd.ready) || atomic_load(&b->stopping))
        return;
    names_t cur = {0};
    content_online_names(b->world, add_name, &cur);
    if (cur.oom) {
        free(cur.v);
        return;
    }
    if (cur.n)
        qsort(cur.v, cur.n, sizeof *cur.v, cmp_name);
    for (size_t i = 0, j = 0; i < cur.n; i++) {
        while (!full && j < b->nprev && strcmp(b->prev[j], cur.v[i]) < 0)
            j++;
        if (full || j >= b->nprev || strcmp(b->prev[j], cur.v[i]) != 0)
            presence_key_cmd(b, cur.v[i], 1);
    }
    for (size_t i = 0, j = 0; i < b->nprev; i++) {
        while (j < cur.n && strcmp(cur.v[j], b->prev[i]) < 0)
            j++;
        if (j >= cur.n || strcmp(cur.v[j], b->prev[i]) != 0)
            presence_key_cmd(b, b->prev[i], 0);
    }
    free(b->prev);
    b->prev = cur.v;
    b->nprev = cur.n;
}

static void presence_job(void *arg)
{
    presence_run(arg, 1);
}

static void presence_kick_job(void *arg)
{
    gs_bus_t *b = arg;
    atomic_store(&b->kicked, 0);
    presence_run(b, 0);
}

/* content's presence hook (any strand): one kick job pending at most */
static void presence_hook(void *ud)
{
    gs_bus_t *b = ud;
    if (atomic_exchange(&b->kicked, 1) == 0 &&
        nc_strand_post(b->timer_strand, presence_kick_job, b) != 0)
        atomic_store(&b->kicked, 0); /* queue full: the periodic refresh does it */
}

/* An orderly stop: DEL the presence key of every player this shard set
 * (b->prev: those online at its last refresh or kick), so the other
 * shards answer whispers to them "not online" at once instead of after
 * redis.presence_ttl_s.  Waits for Redis's answer to the last DEL (replies
 * come in order: it answers for all), at most CLEAR_WAIT_MS.  Runs after
 * the timer strand's fence: nothing refreshes presence meanwhile. */
static void presence_clear(gs_bus_t *b)
{
    if (b->nprev == 0)
        return;
    if (!atomic_load(&b->cmd.ready)) {
        nc_log(NC_LOG_WARN, TAG,
               "redis down at stop: %zu presence keys left to expire (redis.presence_ttl_s)",
               b->nprev);
        return;
    }
    char keys[DEL_BATCH][128 + NAME_MAX_];
    int rc = 0;
    for (size_t i = 0; i < b->nprev && rc == 0; i += DEL_BATCH) {
        const char *argv[1 + DEL_BATCH] = {"DEL"};
        size_t lens[1 + DEL_BATCH] = {3};
        int argc = 1;
        for (size_t j = i; j < b->nprev && j < i + DEL_BATCH; j++) {
            int n = snprintf(keys[argc - 1], sizeof keys[0], "%spresence.%s", b->cfg.prefix,
                             b->prev[j]);
            if (n < 0 || (size_t)n >= sizeof keys[0])
                continue;
            argv[argc] = keys[argc - 1];
            lens[argc++] = (size_t)n;
        }
        pend_t p = {.kind = i + DEL_BATCH >= b->nprev ? P_CLEARED : P_IGNORE};
        if (argc > 1 || p.kind == P_CLEARED) {
            const char *ping[] = {"PING"}; /* a batch of bad names: still an answer */
            size_t plens[] = {4};
            rc = argc > 1 ? cmd(b, &p, argc, argv, lens) : cmd(b, &p, 1, ping, plens);
        }
    }
    uint64_t end = nc_now_ms() + CLEAR_WAIT_MS;
    while (rc == 0 && !atomic_load(&b->cleared) && nc_now_ms() < end)
        gs_sleep_ms(1);
    if (rc == 0 && atomic_load(&b->cleared))
        nc_log(NC_LOG_INFO, TAG, "presence of %zu players deleted from redis", b->nprev);
    else
        nc_log(NC_LOG_WARN, TAG,
               "presence of %zu players not confirmed deleted (%s); they expire after "
               "redis.presence_ttl_s",
               b->nprev, rc ? nc_strerror(rc) : "no answer within 2 s");
}

/* ---- life cycle ---- */

int gs_bus_available(void)
{
    return 1;
}

static int conn_start(gs_bus_t *b, conn_t *c, const char *what, nc_queue_t *control)
{
    c->owner = b;
    c->what = what;
    nc_role_opts_t ro = {.name = what,
                         .queue = control,
                         .ud = c,
                         .raw = 1,
                         /* a burst of shouts is many small PUBLISHes: room
                          * for ~80k of them before the connection counts
                          * as stuck (netcore closes it: "send buffer full") */
                         .max_send_bytes = 8u << 20,
                         .handlers = {on_open, on_bytes, on_close},
                         .reconnect_base_ms = 100,
                         .reconnect_max_ms =
                             b->cfg.reconnect_max_ms ? b->cfg.reconnect_max_ms : 2000,
                         .connect_timeout_ms = b->cfg.connect_timeout_ms};
    return nc_client_create(b->engine, b->cfg.host, b->cfg.port, &ro, &c->client);
}

int gs_bus_start_for_world(nc_engine_t *e, nc_queue_t *control, const gs_bus_cfg_t *cfg,
                           struct content_world_s *world, gs_bus_t **out)
{
    gs_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return NC_ENOMEM;
    b->ring = calloc(RING, sizeof *b->ring);
    if (!b->ring) {
        free(b);
        return NC_ENOMEM;
    }
    b->cfg = *cfg;
    b->engine = e;
    b->world = world;
    pthread_mutex_init(&b->mu, NULL);
    snprintf(b->ch_global, sizeof b->ch_global, "%schat.global", cfg->prefix);
    snprintf(b->ch_shard, sizeof b->ch_shard, "%sshard.%s", cfg->prefix, cfg->shard);
    atomic_store(&b->hooked, world);
    int rc = nc_strand_create(control, &b->timer_strand);
    if (rc == 0)
        rc = nc_timer_start(b->timer_strand, cfg->presence_refresh_ms, cfg->presence_refresh_ms,
                            presence_job, b, &b->timer);
    if (rc == 0)
        rc = conn_start(b, &b->sub, "redis-sub", control);
    if (rc == 0)
        rc = conn_start(b, &b->cmd, "redis-cmd", control);
    if (rc != 0) {
        nc_log(NC_LOG_ERROR, TAG, "cannot start the redis chat bus: %s", nc_strerror(rc));
        gs_bus_stop(b);
        return rc;
    }
    nc_log(NC_LOG_INFO, TAG, "redis chat bus: connecting to %s:%u (prefix '%s')", cfg->host,
           (unsigned)cfg->port, cfg->prefix);
    content_set_global_chat_hook(world, shout_hook, b);
    content_set_whisper_hook(world, whisper_hook, b);
    content_set_presence_hook(world, presence_hook, b);
    *out = b;
    return 0;
}

void gs_bus_detach_world(gs_bus_t *b)
{
    if (b && atomic_load(&b->hooked)) {
        content_set_global_chat_hook(b->world, NULL, NULL);
        content_set_whisper_hook(b->world, NULL, NULL);
        content_set_presence_hook(b->world, NULL, NULL);
        atomic_store(&b->hooked, NULL);
    }
}

static void fence_job(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

void gs_bus_stop(gs_bus_t *b)
{
    if (!b)
        return;
    gs_bus_detach_world(b);
    atomic_store(&b->stopping, 1);
    nc_pool_t *pool = b->timer_strand ? nc_queue_pool(nc_strand_queue(b->timer_strand)) : NULL;
    if (b->timer)
        nc_timer_cancel(pool, b->timer);
    if (b->timer_strand) { /* wait out a presence refresh in progress */
        int rc = nc_strand_post(b->timer_strand, fence_job, &b->fenced);
        for (uint64_t end = nc_now_ms() + 10000; rc == 0 && !atomic_load(&b->fenced);) {
            if (nc_now_ms() > end) {
                nc_log(NC_LOG_ERROR, TAG,
                       "presence refresh still running after 10 s; bus "
                       "not freed");
                return;
            }
            gs_sleep_ms(1);
        }
    }
    presence_clear(b); /* before the connections close */
    if (b->sub.client)
        nc_client_destroy(b->sub.client);
    if (b->cmd.client)
        nc_client_destroy(b->cmd.client);
    if (b->timer_strand)
        nc_strand_release(b->timer_strand);
    pthread_mutex_destroy(&b->mu);
    free(b->prev);
    free(b->ring);
    free(b);
}

int gs_bus_online(const gs_bus_t *b)
{
    return b && atomic_load(&((gs_bus_t *)b)->up);
}

void gs_bus_stats(const gs_bus_t *b, gs_bus_stats_t *out)
{
    gs_bus_t *m = (gs_bus_t *)b;
    *out = (gs_bus_stats_t){0};
    if (!m)
        return;
    out->up = atomic_load(&m->up);
    out->reconnects = atomic_load(&m->reconnects);
    out->published = atomic_load(&m->published);
    out->received = atomic_load(&m->received);
    out->errors = atomic_load(&m->errors);
}
