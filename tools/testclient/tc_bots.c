/* testclient --bots: N netcore client sessions on one engine.  The main
 * thread ramps connections up and drives each bot's schedule (move, chat,
 * ping, whisper); handlers on the pool count what comes back and time pongs.
 * With --login each bot first gets an account and a ticket
 * (tc_bots_login.c).
 *
 * Whispers (issue 16, --whisper-hz): a bot whispers "wq <ns>" (its own
 * clock) to a random name of --whisper-targets; the server echoes it to the
 * sender once delivered (over the chat bus: once the target's shard took
 * it) or answers NO_SUCH_PLAYER; the target answers "wa <ns>" by whisper,
 * and that answer's arrival ends the round trip (sender -> target -> back,
 * through the bus both ways when the target is on another shard). */
#include "tc.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B_IDLE, B_PROVISION, B_CONNECTING, B_LOGIN, B_WORLD, B_LEAVING, B_DONE };

#define PROVISION_MS 60000 /* an account and a ticket, or the bot fails */

typedef struct bot_s {
    int idx;
    char name[24];    /* character: --bot-prefix + 4+ digits */
    char account[24]; /* --login */
    tc_prov_t *prov;  /* --login: main thread */
    uint8_t token[PROTO_LOGIN_TOKEN_MAX];
    uint16_t token_len;
    nc_client_t *client;
    _Atomic nc_sid_t sid;
    atomic_int state;
    uint64_t started_ms;
    /* position: written by the main thread, corrected by a handler */
    pthread_mutex_t mu;
    float x, y, hx, hy, heading;
    uint64_t next_move, next_chat, next_ping, next_whisper; /* main thread only */
    uint32_t chats;
    /* --spread: target zone and home offset from its spawn; placed once the
     * bot got zone_changed into the target (the spawn is then known) */
    uint16_t zone;
    float off_x, off_y;
    atomic_int placed;
    atomic_uint eid, zone_in; /* its entity and zone, once in the world */
} bot_t;

typedef struct stats_s {
    atomic_uint_fast64_t in, out, logins, connected, corrections, chats_in, placed;
    atomic_uint_fast64_t err_disconnect, err_packet, err_login, err_connect, err_send;
    pthread_mutex_t hmu;
    tc_hist_t win, total; /* under hmu */
    /* pings sent once every bot was in the world (placed, with --spread):
     * the crowd as it stands, without its arrival (under hmu) */
    tc_hist_t steady;
    _Atomic uint64_t all_in_ns; /* 0 until then */
    /* crowds (issue 15): neighbours' positions received (entity_updates
     * entries, or move_notify from an older server); own CPU */
    atomic_uint_fast64_t positions, update_pkts;
    double cpu0, cpu_last, cpu_max_window; /* main thread */
    int cpu_warned;
    /* whispers (issue 16): sent, echoed to us (delivered), answered by the
     * target (a round trip, in whist), not found; answers we sent */
    atomic_uint_fast64_t w_sent, w_echoed, w_answered, w_notfound, w_replies;
    tc_hist_t wwin, wtotal; /* under hmu */
} stats_t;

static stats_t st = {.hmu = PTHREAD_MUTEX_INITIALIZER};
static uint64_t t0_ns; /* the run's start (nc_now_ns) */
static const tc_opts_t *opt;
static tc_net_t net;

static uint64_t errors(void)
{
    return st.err_disconnect + st.err_packet + st.err_login + st.err_connect + st.err_send;
}

static void bot_send(bot_t *b, const proto_msg_t *m)
{
    nc_sid_t sid = atomic_load(&b->sid);
    int rc = sid ? tc_send(net.engine, sid, m) : NC_ECLOSED;
    if (rc == 0)
        atomic_fetch_add(&st.out, 1);
    else if (atomic_load(&b->state) == B_WORLD)
        atomic_fetch_add(&st.err_send, 1);
}

static void on_open(nc_session_t *s, void *ud)
{
    bot_t *b = ud;
    atomic_store(&b->sid, nc_session_id(s));
    atomic_fetch_add(&st.connected, 1);
    atomic_store(&b->state, B_LOGIN);
    proto_msg_t m = {.type = PROTO_T_LOGIN};
    snprintf(m.login.name, sizeof m.login.name, "%s", b->name);
    m.login.proto_hash = opt->proto_hash;
    memcpy(m.login.token, b->token, b->token_len);
    m.login.token_len = b->token_len;
    bot_send(b, &m);
}

static void set_pos(bot_t *b, proto_vec2_t p, int home)
{
    pthread_mutex_lock(&b->mu);
    b->x = p.x;
    b->y = p.y;
    if (home) {
        b->hx = p.x;
        b->hy = p.y;
    }
    pthread_mutex_unlock(&b->mu);
}

static void on_login(nc_session_t *s, bot_t *b, const uint8_t *body, size_t len)
{
    proto_login_result_t r;
    if (proto_decode_login_result(body, len, &r) < 0 || r.code != 0) {
        atomic_fetch_add(&st.err_login, 1);
        fprintf(stderr, "bots: %s: login failed: %s\n", b->name, proto_err_text(r.code));
        return;
    }
    atomic_fetch_add(&st.logins, 1);
    proto_msg_t m = {.type = PROTO_T_ENTER_WORLD};
    if (tl_send_msg(s, &m) == 0)
        atomic_fetch_add(&st.out, 1);
}

static void send_zone_change(bot_t *b, uint16_t zone)
{
    proto_msg_t m = {.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = zone;
    bot_send(b, &m);
}

/* --spread, in the world at `zone`: go to the target zone.  Already there
 * (a character saved by an earlier run): hop out and back in, so the
 * zone_changed answer tells the spawn that the home offset is from. */
static void spread_from(bot_t *b, uint16_t zone)
{
    if (zone != b->zone) {
        send_zone_change(b, b->zone);
        return;
    }
    for (int i = 0; i < opt->nzones; i++)
        if (opt->zones[i] != zone) {
            send_zone_change(b, opt->zones[i]);
            return;
        }
    /* one zone only: the offset is taken from where the character is */
    pthread_mutex_lock(&b->mu);
    b->hx = b->x + b->off_x;
    b->hy = b->y + b->off_y;
    pthread_mutex_unlock(&b->mu);
    atomic_store(&b->placed, 1);
    atomic_fetch_add(&st.placed, 1);
}

static void spread_changed(bot_t *b, proto_vec2_t spawn, uint16_t zone)
{
    if (zone != b->zone) {
        send_zone_change(b, b->zone);
        return;
    }
    set_pos(b, spawn, 0);
    pthread_mutex_lock(&b->mu);
    b->hx = spawn.x + b->off_x;
    b->hy = spawn.y + b->off_y;
    pthread_mutex_unlock(&b->mu);
    atomic_store(&b->placed, 1);
    atomic_fetch_add(&st.placed, 1);
}

static void on_typed(bot_t *b, uint16_t type, const uint8_t *body, size_t len)
{
    proto_msg_t m;
    if (proto_decode(type, body, len, &m) < 0) {
        atomic_fetch_add(&st.err_packet, 1);
        return;
    }
    if (type == PROTO_T_WORLD_ENTERED) {
        set_pos(b, m.world_entered.pos, 1);
        atomic_store(&b->zone_in, m.world_entered.zone);
        atomic_store(&b->eid, m.world_entered.entity_id);
        int expect = B_LOGIN;
        atomic_compare_exchange_strong(&b->state, &expect, B_WORLD);
        if (opt->spread && !atomic_load(&b->placed))
            spread_from(b, m.world_entered.zone);
    } else if (type == PROTO_T_ZONE_CHANGED) {
        atomic_store(&b->zone_in, m.zone_changed.zone);
        if (tc_watching(b->idx))
            tc_watch_zone_changed(b->idx);
        if (opt->spread && !atomic_load(&b->placed))
            spread_changed(b, m.zone_changed.pos, m.zone_changed.zone);
        else
            set_pos(b, m.zone_changed.pos, 1);
    } else if (type == PROTO_T_DESPAWN) {
        if (tc_watching(b->idx))
            tc_watch_gone(b->idx, m.despawn.entity_id);
    } else if (type == PROTO_T_MOVE_CORRECTION) {
        set_pos(b, m.move_correction.pos, 0);
        atomic_fetch_add(&st.corrections, 1);
    } else if (type == PROTO_T_PONG) {
        uint64_t us = (nc_now_ns() - m.pong.client_time) / 1000, in = atomic_load(&st.all_in_ns);
        pthread_mutex_lock(&st.hmu);
        tc_hist_add(&st.win, us);
        if (in && m.pong.client_time >= in)
            tc_hist_add(&st.steady, us);
        pthread_mutex_unlock(&st.hmu);
    } else if (type == PROTO_T_ERROR && m.error.code == PROTO_ERR_NO_SUCH_PLAYER) {
        atomic_fetch_add(&st.w_notfound, 1); /* a whisper's target is not online */
    } else if (type == PROTO_T_ERROR) {
        atomic_fetch_add(&st.err_packet, 1);
        fprintf(stderr, "bots: %s: server error %d (%s): %s\n", b->name, (int)m.error.code,
                proto_err_text(m.error.code), m.error.text);
    }
}

/* A batch of neighbours' positions: decoded (a bad one is an error) and
 * counted.  The struct is ~6 KB: thread-local, not on the handler's stack. */
static void on_updates(const bot_t *b, const uint8_t *body, size_t len)
{
    static _Thread_local proto_entity_updates_t u;
    if (proto_decode_entity_updates(body, len, &u) < 0) {
        atomic_fetch_add(&st.err_packet, 1);
        return;
    }
    atomic_fetch_add(&st.positions, u.entries_count);
    atomic_fetch_add(&st.update_pkts, 1);
    if (tc_watching(b->idx))
        for (uint16_t i = 0; i < u.entries_count; i++)
            tc_watch_pos(b->idx, u.entries[i].entity_id, 1);
}

/* A chat line; whispers: our own echoed ("wq": delivered), a request to
 * answer ("wq" from another), or an answer ("wa <ns>": a round trip). */
static void on_chat(bot_t *b, const uint8_t *body, size_t len)
{
    atomic_fetch_add(&st.chats_in, 1);
    proto_chat_deliver_t d;
    if (proto_decode_chat_deliver(body, len, &d) < 0) {
        atomic_fetch_add(&st.err_packet, 1);
        return;
    }
    if (d.channel != 2 || d.text[0] != 'w' || (d.text[1] != 'q' && d.text[1] != 'a') ||
        d.text[2] != ' ')
        return;
    int mine = strcmp(d.sender, b->name) == 0;
    if (d.text[1] == 'q' && mine) {
        atomic_fetch_add(&st.w_echoed, 1);
    } else if (d.text[1] == 'q') {
        proto_msg_t m = {.type = PROTO_T_CHAT};
        m.chat.channel = 2;
        snprintf(m.chat.target, sizeof m.chat.target, "%s", d.sender);
        snprintf(m.chat.text, sizeof m.chat.text, "wa %s", d.text + 3);
        bot_send(b, &m);
        atomic_fetch_add(&st.w_replies, 1);
    } else if (!mine) { /* an answer; the echo of our own answer is ignored */
        char *end;
        uint64_t t = strtoull(d.text + 3, &end, 10), now = nc_now_ns();
        if (end == d.text + 3 || *end || t > now) {
            atomic_fetch_add(&st.err_packet, 1); /* not a time we sent */
            return;
        }
        atomic_fetch_add(&st.w_answered, 1);
        pthread_mutex_lock(&st.hmu);
        tc_hist_add(&st.wwin, (now - t) / 1000);
        pthread_mutex_unlock(&st.hmu);
    }
}

/* Spawns of watched bots' neighbours (their first position). */
static void on_spawn(const bot_t *b, const uint8_t *body, size_t len)
{
    proto_spawn_t m;
    if (tc_watching(b->idx) && proto_decode_spawn(body, len, &m) == 0)
        tc_watch_pos(b->idx, m.entity_id, 0);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    atomic_fetch_add(&st.in, 1);
    switch (type) {
    case PROTO_T_LOGIN_RESULT: on_login(s, ud, body, len); break;
    case PROTO_T_CHAT_DELIVER: on_chat(ud, body, len); break;
    case PROTO_T_ENTITY_UPDATES: on_updates(ud, body, len); break;
    case PROTO_T_SPAWN: on_spawn(ud, body, len); break;
    case PROTO_T_MOVE_NOTIFY: atomic_fetch_add(&st.positions, 1); break;
    case PROTO_T_WORLD_ENTERED:
    case PROTO_T_ZONE_CHANGED:
    case PROTO_T_MOVE_CORRECTION:
    case PROTO_T_DESPAWN:
    case PROTO_T_PONG:
    case PROTO_T_ERROR: on_typed(ud, type, body, len); break;
    default: break;
    }
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)s;
    bot_t *b = ud;
    int was = atomic_exchange(&b->state, B_DONE);
    atomic_store(&b->sid, 0);
    atomic_fetch_sub(&st.connected, 1);
    if (was != B_LEAVING) {
        atomic_fetch_add(&st.err_disconnect, 1);
        fprintf(stderr, "bots: %s: disconnected unexpectedly: %s\n", b->name, why->text);
    }
}

static uint64_t period_ms(double hz)
{
    return hz > 0 ? (uint64_t)(1000.0 / hz) : UINT64_MAX / 2;
}

static int connect_game(bot_t *b, const char *host, uint16_t port, uint64_t now)
{
    nc_role_opts_t ro = {.name = "bot",
                         .queue = net.queue,
                         .ud = b,
                         .no_reconnect = 1,
                         .handlers = {on_open, on_packet, on_close}};
    atomic_store(&b->state, B_CONNECTING);
    b->started_ms = now;
    /* spread each bot's first actions over one period */
    b->next_move = now + (uint64_t)(rand() % 1000);
    b->next_chat = now + (uint64_t)(rand() % 5000);
    b->next_ping = now + (uint64_t)(rand() % 1000);
    b->next_whisper = now + (uint64_t)(rand() % (int)fmin(period_ms(opt->whisper_hz), 60000.0));
    b->heading = (float)(rand() % 628) / 100.0f;
    int rc = nc_client_create(net.engine, host, port, &ro, &b->client);
    if (rc != 0) {
        atomic_store(&b->state, B_DONE);
        atomic_fetch_add(&st.err_connect, 1);
    }
    return rc;
}

static int start_bot(bot_t *b, uint64_t now)
{
    if (!opt->use_login)
        return connect_game(b, opt->host, opt->port, now);
    b->started_ms = now;
    atomic_store(&b->state, B_PROVISION);
    b->prov = tc_prov_start(&net, opt, b->account, b->name);
    if (!b->prov) {
        atomic_store(&b->state, B_DONE);
        atomic_fetch_add(&st.err_connect, 1);
        return -1;
    }
    return 0;
}

/* --login: the account is ready (a ticket) or failed (it said why). */
static void provision_tick(bot_t *b, uint64_t now)
{
    int ps = tc_prov_state(b->prov);
    if (ps == PROV_BUSY && now - b->started_ms <= PROVISION_MS)
        return;
    if (ps == PROV_READY) {
        const tc_ticket_t *t = tc_prov_ticket(b->prov);
        char host[sizeof t->host];
        snprintf(host, sizeof host, "%s", t->host);
        memcpy(b->token, t->bytes, t->len);
        b->token_len = t->len;
        uint16_t port = t->port;
        tc_prov_destroy(b->prov);
        b->prov = NULL;
        connect_game(b, host, port, now);
        return;
    }
    if (ps == PROV_BUSY)
        fprintf(stderr, "bots: %s: no ticket within %d s\n", b->account, PROVISION_MS / 1000);
    tc_prov_destroy(b->prov);
    b->prov = NULL;
    atomic_store(&b->state, B_DONE);
    atomic_fetch_add(&st.err_login, 1);
}

/* Random walk at 4 units/s that turns back towards home past 30 units. */
static void bot_move(bot_t *b)
{
    float step = 4.0f / (float)opt->move_hz;
    proto_msg_t m = {.type = PROTO_T_MOVE};
    pthread_mutex_lock(&b->mu);
    b->heading += ((float)(rand() % 100) - 50.0f) / 100.0f;
    float far = hypotf(b->x - b->hx, b->y - b->hy);
    if (far > 30.0f) {
        b->heading = atan2f(b->hy - b->y, b->hx - b->x);
        if (opt->spread) /* travelling to a spread home: 8 units/s, under max_speed 10 */
            step = fminf(8.0f / (float)opt->move_hz, far);
    }
    b->x += step * cosf(b->heading);
    b->y += step * sinf(b->heading);
    m.move.pos.x = b->x;
    m.move.pos.y = b->y;
    pthread_mutex_unlock(&b->mu);
    m.move.dir = (uint8_t)((int)((b->heading + 3.1416f) / 0.7854f) & 7);
    m.move.client_time = (uint32_t)nc_now_ms();
    bot_send(b, &m);
}

/* A random name of --whisper-targets other than our own ("wq <ns>"). */
static void bot_whisper(bot_t *b)
{
    int total = 0;
    for (int i = 0; i < opt->nwtargets; i++)
        total += opt->wtargets[i].count;
    proto_msg_t m = {.type = PROTO_T_CHAT};
    m.chat.channel = 2;
    for (int tries = 0; tries < 4; tries++) {
        int k = (int)((double)rand() / ((double)RAND_MAX + 1.0) * total), i = 0;
        while (k >= opt->wtargets[i].count)
            k -= opt->wtargets[i++].count;
        snprintf(m.chat.target, sizeof m.chat.target, "%s%04d", opt->wtargets[i].prefix, k + 1);
        if (strcmp(m.chat.target, b->name) != 0)
            break;
        m.chat.target[0] = 0;
    }
    if (!m.chat.target[0])
        return; /* only ourselves to whisper to */
    snprintf(m.chat.text, sizeof m.chat.text, "wq %llu", (unsigned long long)nc_now_ns());
    bot_send(b, &m);
    atomic_fetch_add(&st.w_sent, 1);
}

/* A bot's game connection failed (no_reconnect: for good).  The first
 * failure says why and where; the summary repeats it (issue 14: was only
 * "errors 0" and FAILED). */
static char first_connect_error[160];
static void connect_failed(const bot_t *b, int code)
{
    if (first_connect_error[0])
        return;
    if (opt->use_login)
        snprintf(first_connect_error, sizeof first_connect_error,
                 "cannot connect to the game server of %s's ticket: %s", b->name,
                 nc_strerror(code));
    else
        snprintf(first_connect_error, sizeof first_connect_error, "cannot connect to %s:%u: %s",
                 opt->host, (unsigned)opt->port, nc_strerror(code));
    fprintf(stderr, "bots: %s\n", first_connect_error);
}

static void bot_tick(bot_t *b, uint64_t now)
{
    if (atomic_load(&b->state) == B_PROVISION) {
        provision_tick(b, now);
        return;
    }
    if (atomic_load(&b->state) == B_CONNECTING) {
        nc_role_stats_t rs;
        nc_client_stats(b->client, &rs);
        if (rs.connect_failures > 0 || now - b->started_ms > 20000) {
            atomic_store(&b->state, B_DONE);
            atomic_fetch_add(&st.err_connect, 1);
            connect_failed(b, rs.connect_failures > 0 ? rs.last_connect_error : NC_ETIMEDOUT);
        }
    }
    if (atomic_load(&b->state) != B_WORLD)
        return;
    if (opt->spread && !atomic_load(&b->placed)) /* zone change in flight */
        return;
    if (now >= b->next_move && opt->move_hz > 0) {
        bot_move(b);
        b->next_move += period_ms(opt->move_hz);
    }
    if (now >= b->next_chat && opt->chat_hz > 0) {
        proto_msg_t m = {.type = PROTO_T_CHAT};
        snprintf(m.chat.text, sizeof m.chat.text, "hello from %s #%u", b->name, ++b->chats);
        bot_send(b, &m);
        b->next_chat += period_ms(opt->chat_hz);
    }
    if (now >= b->next_ping && opt->ping_hz > 0) {
        proto_msg_t m = {.type = PROTO_T_PING};
        m.ping.client_time = nc_now_ns();
        bot_send(b, &m);
        b->next_ping += period_ms(opt->ping_hz);
    }
    if (now >= b->next_whisper && opt->whisper_hz > 0) {
        bot_whisper(b);
        /* 1/R on average, uniform in [0.5, 1.5] periods: bots drift apart */
        b->next_whisper +=
            (uint64_t)((double)period_ms(opt->whisper_hz) * (0.5 + (double)rand() / RAND_MAX));
    }
}

static uint64_t status_ms(void)
{
    return opt->status_s > 0 ? (uint64_t)(opt->status_s * 1000.0) : 1000;
}

typedef struct rates_s {
    uint64_t in, out, pos, t_ms;
} rates_t;

/* The testclient's CPU over the last window, in cores; warns (at most every
 * 10 s) when it is likely the limit of the run: its handlers and I/O threads
 * are near busy (80 % of min(CPUs, I/O threads + workers)), or it takes over
 * half of a machine it shares with the server. */
static double cpu_window(double dt)
{
    double now = tc_cpu_seconds(), c = dt > 0 ? (now - st.cpu_last) / dt : 0;
    st.cpu_last = now;
    if (c > st.cpu_max_window)
        st.cpu_max_window = c;
    int ncpu = tc_cpu_count(), workers = opt->threads > 2 ? opt->threads : 2;
    int busy = opt->threads + workers < ncpu ? opt->threads + workers : ncpu;
    if ((c >= 0.8 * busy || c >= 0.5 * ncpu) && st.cpu_warned-- <= 0) {
        fprintf(stderr,
                "bots: warning: testclient CPU %.2f cores of %d (%d I/O threads): the client "
                "may be the limit of this run (try --threads, or another machine)\n",
                c, ncpu, opt->threads);
        st.cpu_warned = (int)(10.0 / (opt->status_s > 0 ? opt->status_s : 1));
    }
    return c;
}

static void status_line(double elapsed, rates_t *last, uint64_t now)
{
    tc_hist_t w, ww;
    pthread_mutex_lock(&st.hmu);
    w = st.win;
    ww = st.wwin;
    tc_hist_merge(&st.total, &st.win);
    memset(&st.win, 0, sizeof st.win);
    tc_hist_merge(&st.wtotal, &st.wwin);
    memset(&st.wwin, 0, sizeof st.wwin);
    pthread_mutex_unlock(&st.hmu);
    uint64_t in = st.in, out = st.out, pos = st.positions;
    double dt = (double)(now - last->t_ms) / 1000.0;
    double cpu = cpu_window(dt);
    char spread[320] = "";
    int n = 0;
    if (opt->spread)
        n = snprintf(spread, sizeof spread, "  placed %llu", (unsigned long long)st.placed);
    if (opt->whisper_hz > 0 && n >= 0)
        n += snprintf(spread + n, sizeof spread - (size_t)n,
                      "  whisper p50 %.2f ms p99 %.2f ms sent %llu echoed %llu answered %llu "
                      "notfound %llu",
                      tc_hist_pct_ms(&ww, 50), tc_hist_pct_ms(&ww, 99),
                      (unsigned long long)st.w_sent, (unsigned long long)st.w_echoed,
                      (unsigned long long)st.w_answered, (unsigned long long)st.w_notfound);
    if (opt->use_login && n >= 0 && (size_t)n < sizeof spread) {
        tc_prov_counts_t pc;
        tc_prov_counts(&pc);
        snprintf(spread + n, sizeof spread - (size_t)n,
                 "  accounts: registered %llu logged-in %llu tickets %llu failed %llu retries %llu",
                 (unsigned long long)pc.registered, (unsigned long long)pc.logged_in,
                 (unsigned long long)pc.tickets, (unsigned long long)pc.failed,
                 (unsigned long long)pc.retries);
    }
    fprintf(stderr,
            "[bots %5.1fs] connected %llu/%d  logins %llu  in %.0f/s  out %.0f/s  "
            "rtt p50 %.2f ms p99 %.2f ms  errors %llu%s  positions %.0f/s  cpu %.2f\n",
            elapsed, (unsigned long long)st.connected, opt->bots, (unsigned long long)st.logins,
            dt > 0 ? (double)(in - last->in) / dt : 0, dt > 0 ? (double)(out - last->out) / dt : 0,
            tc_hist_pct_ms(&w, 50), tc_hist_pct_ms(&w, 99), (unsigned long long)errors(), spread,
            dt > 0 ? (double)(pos - last->pos) / dt : 0, cpu);
    *last = (rates_t){in, out, pos, now};
}

/* A look at how fresh the watched bots' nearest are, from where the n
 * started bots really are (t: one per bot; tc_watch_sample). */
static void look(bot_t *bots, tc_truth_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        bot_t *b = &bots[i];
        t[i].id = atomic_load(&b->state) == B_WORLD ? atomic_load(&b->eid) : 0;
        t[i].zone = (uint16_t)atomic_load(&b->zone_in);
        pthread_mutex_lock(&b->mu);
        t[i].x = b->x;
        t[i].y = b->y;
        pthread_mutex_unlock(&b->mu);
    }
    tc_watch_sample(t, n, 64);
}

/* Ramps up and drives the bots until the duration ends or a stop signal. */
static void run(bot_t *bots, uint64_t t0)
{
    int started = 0;
    uint64_t end = t0 + (uint64_t)(opt->duration_s * 1000.0), next_status = t0 + status_ms();
    rates_t last = {0, 0, 0, t0};
    /* a short window: in a random-walking crowd the nearest 64 change
     * within seconds */
    double watch_from = opt->duration_s > 6 ? opt->duration_s - 3 : opt->duration_s / 2;
    int marked = 0;
    /* the nearest neighbours' freshness: a look every 100 ms over the last
     * 10 s (or half the run) */
    double look_from = opt->duration_s > 20 ? opt->duration_s - 10 : opt->duration_s / 2;
    uint64_t next_look = 0;
    tc_truth_t *truth = calloc((size_t)opt->bots, sizeof *truth); /* NULL: no looks */
    for (;;) {
        uint64_t now = nc_now_ms();
        if (now >= end)
            break;
        double elapsed = (double)(now - t0) / 1000.0;
        int want = (int)fmin((double)opt->bots, 1.0 + elapsed * opt->ramp_per_s);
        while (started < want)
            start_bot(&bots[started++], now);
        for (int i = 0; i < started; i++)
            bot_tick(&bots[i], now);
        if (!atomic_load(&st.all_in_ns) &&
            (opt->spread ? st.placed : st.logins) >= (uint64_t)opt->bots)
            atomic_store(&st.all_in_ns, nc_now_ns());
        if (truth && elapsed >= look_from && now >= next_look) {
            look(bots, truth, started);
            next_look = now + 100;
        }
        if (!marked && elapsed >= watch_from) {
            tc_watch_mark(); /* the nearest neighbours' rate: over the last 3 s */
            marked = 1;
        }
        if (now >= next_status) {
            status_line(elapsed, &last, now);
            next_status += status_ms();
        }
        if (tl_signals_wait_ms(5)) { /* Ctrl-C: stop early, still log out */
            fprintf(stderr, "bots: interrupted\n");
            break;
        }
    }
    free(truth);
}

static void leave_all(bot_t *bots)
{
    for (int i = 0; i < opt->bots; i++) {
        int s = B_WORLD, l = B_LOGIN;
        if (atomic_compare_exchange_strong(&bots[i].state, &s, B_LEAVING) ||
            atomic_compare_exchange_strong(&bots[i].state, &l, B_LEAVING)) {
            proto_msg_t m = {.type = PROTO_T_LOGOUT};
            bot_send(&bots[i], &m);
        }
    }
    uint64_t deadline = nc_now_ms() + 5000;
    while (atomic_load(&st.connected) > 0 && nc_now_ms() < deadline)
        tl_signals_wait_ms(10);
    /* the rest (never logged in, or no close in time) is closed by us */
    for (int i = 0; i < opt->bots; i++) {
        int s = atomic_load(&bots[i].state);
        if (s != B_DONE && s != B_IDLE)
            atomic_store(&bots[i].state, B_LEAVING);
        tc_prov_destroy(bots[i].prov);
        bots[i].prov = NULL;
        if (bots[i].client)
            nc_client_destroy(bots[i].client);
    }
}

static int summary(double secs)
{
    pthread_mutex_lock(&st.hmu);
    tc_hist_merge(&st.total, &st.win);
    const tc_hist_t *h = &st.total;
    uint64_t e = errors();
    if (opt->use_login) /* each bot's game server came with its ticket */
        printf("bots summary: %d bots, %.1f s, login server %s:%u\n", opt->bots, secs,
               opt->login_host, (unsigned)opt->login_port);
    else
        printf("bots summary: %d bots, %.1f s, %s:%u\n", opt->bots, secs, opt->host,
               (unsigned)opt->port);
    printf("  logins          %llu/%d\n", (unsigned long long)st.logins, opt->bots);
    if (opt->use_login) {
        tc_prov_counts_t pc;
        tc_prov_counts(&pc);
        printf("  accounts        registered %llu, logged in %llu, tickets %llu, failed %llu "
               "(retries after server full %llu)\n",
               (unsigned long long)pc.registered, (unsigned long long)pc.logged_in,
               (unsigned long long)pc.tickets, (unsigned long long)pc.failed,
               (unsigned long long)pc.retries);
        uint64_t waiting = (uint64_t)opt->bots - pc.tickets - pc.failed;
        if (waiting > 0)
            printf("  (%llu bots still without a ticket at the end: raise --duration or lower "
                   "--ramp)\n",
                   (unsigned long long)waiting);
    }
    printf("  packets in      %llu (%.0f/s)\n", (unsigned long long)st.in, (double)st.in / secs);
    printf("  packets out     %llu (%.0f/s)\n", (unsigned long long)st.out, (double)st.out / secs);
    printf("  round trip      %llu pings  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
           (unsigned long long)h->n, tc_hist_pct_ms(h, 50), tc_hist_pct_ms(h, 90),
           tc_hist_pct_ms(h, 99), (double)h->max_us / 1000.0);
    if (atomic_load(&st.all_in_ns)) {
        const tc_hist_t *sh = &st.steady;
        printf(
            "  round trip, all in  %llu pings  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms"
            "  (sent after %.1f s, when the last bot was %s)\n",
            (unsigned long long)sh->n, tc_hist_pct_ms(sh, 50), tc_hist_pct_ms(sh, 90),
            tc_hist_pct_ms(sh, 99), (double)sh->max_us / 1000.0,
            (double)(atomic_load(&st.all_in_ns) - t0_ns) / 1e9,
            opt->spread ? "placed" : "in the world");
    }
    printf("  chat received   %llu   position corrections %llu\n", (unsigned long long)st.chats_in,
           (unsigned long long)st.corrections);
    tc_hist_merge(&st.wtotal, &st.wwin);
    const tc_hist_t *wh = &st.wtotal;
    if (opt->whisper_hz > 0 || st.w_replies > 0) {
        printf("  whispers        sent %llu, echoed (delivered) %llu, answered %llu, not found "
               "%llu; answers sent %llu\n",
               (unsigned long long)st.w_sent, (unsigned long long)st.w_echoed,
               (unsigned long long)st.w_answered, (unsigned long long)st.w_notfound,
               (unsigned long long)st.w_replies);
        printf("  whisper rtt     %llu round trips  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  "
               "max %.2f ms\n",
               (unsigned long long)wh->n, tc_hist_pct_ms(wh, 50), tc_hist_pct_ms(wh, 90),
               tc_hist_pct_ms(wh, 99), (double)wh->max_us / 1000.0);
    }
    printf("  positions in    %llu (%.0f/s) in %llu entity_updates\n",
           (unsigned long long)st.positions, (double)st.positions / secs,
           (unsigned long long)st.update_pkts);
    double cpu = tc_cpu_seconds() - st.cpu0;
    printf("  testclient CPU  %.1f s = %.2f cores (of %d; %d I/O threads), busiest window %.2f%s\n",
           cpu, cpu / secs, tc_cpu_count(), opt->threads, st.cpu_max_window,
           st.cpu_max_window >= 0.5 * tc_cpu_count() ? "  WARNING: the client may be the limit"
                                                     : "");
    if (opt->spread)
        printf("  spread          %llu/%d placed over %d zones\n", (unsigned long long)st.placed,
               opt->bots, opt->nzones);
    tc_watch_report(64, opt->move_hz);
    printf("  errors          %llu (connect %llu, unexpected disconnects %llu, login %llu, "
           "error packets %llu, send %llu)\n",
           (unsigned long long)e, (unsigned long long)st.err_connect,
           (unsigned long long)st.err_disconnect, (unsigned long long)st.err_login,
           (unsigned long long)st.err_packet, (unsigned long long)st.err_send);
    if (first_connect_error[0])
        printf("  first connect error: %s\n", first_connect_error);
    if (e == 0 && st.logins < (uint64_t)opt->bots)
        printf("  %llu bots did not log in before the end (still connecting or logging in: "
               "raise --duration or lower --ramp)\n",
               (unsigned long long)((uint64_t)opt->bots - st.logins));
    /* whispers on and not one answered: the whisper path is broken */
    int wfail = opt->whisper_hz > 0 && st.w_sent > 0 && st.w_answered == 0;
    if (wfail)
        printf("  no whisper was answered (%llu sent, %llu not found)\n",
               (unsigned long long)st.w_sent, (unsigned long long)st.w_notfound);
    int ok = e == 0 && st.logins == (uint64_t)opt->bots && !wfail;
    printf("result: %s\n", ok ? "OK" : "FAILED");
    fflush(stdout);
    pthread_mutex_unlock(&st.hmu);
    return ok ? 0 : 1;
}

int tc_bots_main(const tc_opts_t *o)
{
    opt = o;
    if (o->use_login && tc_prov_init(o) != 0)
        return 1;
    bot_t *bots = calloc((size_t)o->bots, sizeof *bots);
    st.cpu0 = st.cpu_last = tc_cpu_seconds();
    if (!bots || tc_net_start_io(&net, o->threads > 2 ? o->threads : 2, o->threads) != 0) {
        fprintf(stderr, "testclient: cannot start the network engine\n");
        free(bots);
        return 1;
    }
    for (int i = 0; i < o->bots; i++) {
        bots[i].idx = i;
        snprintf(bots[i].name, sizeof bots[i].name, "%s%04d", o->bot_prefix, i + 1);
        snprintf(bots[i].account, sizeof bots[i].account, "%s-%04d", o->bot_prefix, i + 1);
        bots[i].zone = o->zones[i % o->nzones];
        pthread_mutex_init(&bots[i].mu, NULL);
    }
    tc_watch_init(o->bots);
    srand((unsigned)nc_now_ns());
    for (int i = 0; i < o->bots; i++) { /* uniform in the disc: radius sqrt(u) */
        float r = (float)(o->spread_radius * sqrt((double)rand() / RAND_MAX));
        float a = (float)rand() / (float)RAND_MAX * 6.2831853f;
        bots[i].off_x = r * cosf(a);
        bots[i].off_y = r * sinf(a);
    }
    uint64_t t0 = nc_now_ms();
    t0_ns = nc_now_ns();
    run(bots, t0);
    tc_watch_end();
    double secs = (double)(nc_now_ms() - t0) / 1000.0;
    leave_all(bots);
    tc_net_stop(&net);
    int rc = summary(secs);
    for (int i = 0; i < o->bots; i++)
        pthread_mutex_destroy(&bots[i].mu);
    free(bots);
    return rc;
}
