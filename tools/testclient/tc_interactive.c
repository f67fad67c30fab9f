/* Interactive testclient: commands from stdin (a terminal or a pipe), server
 * events printed as they arrive.  The connection is a netcore client role
 * (no_reconnect); stdin stays on the main thread. */
#include "tc.h"
#include "tc_script.h"

#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP 2.0f
#define WAIT_MS 5000
/* move X Y: at most this far in one packet (the server's budget holds 0.3 s
 * of zones.max_speed, 3 units by default); farther is walked in steps of
 * WALK_TICK_MS at --walk-speed */
#define WALK_DIRECT 2.0f
#define WALK_TICK_MS 100
#define WALK_MAX_S 120 /* end of input waits this long at most for a walk */

typedef struct ia_s {
    const tc_opts_t *o;
    tc_net_t net;
    nc_client_t *client;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    nc_sid_t sid;
    int closed, closed_by_server, login_sent, in_world, login_failed, logging_out, pending;
    char close_reason[64];
    float x, y;
    char name[32];           /* the character in the world ("" before) */
    char server_reason[260]; /* a fatal error's text: why the server closes */
    uint64_t ka_time;        /* client_time of the last keep-alive ping */
    int walking;             /* move X Y in progress towards wx, wy */
    float wx, wy;
    uint64_t walk_ms; /* time of the last step */
} ia_t;

static ia_t ia = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

typedef int (*pred_fn)(const ia_t *);

/* Waits (bounded) until pred holds under the lock; returns pred's value. */
static int wait_until(pred_fn pred, int timeout_ms)
{
    struct timespec ts;
    tl_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&ia.mu);
    while (!pred(&ia) && pthread_cond_timedwait(&ia.cv, &ia.mu, &ts) == 0)
        ;
    int ok = pred(&ia);
    pthread_mutex_unlock(&ia.mu);
    return ok;
}

static int p_open(const ia_t *a)
{
    return a->sid != 0 || a->closed;
}
static int p_world(const ia_t *a)
{
    return a->in_world || a->login_failed || a->closed;
}
static int p_idle(const ia_t *a)
{
    return a->pending <= 0 || a->closed;
}
static int p_closed(const ia_t *a)
{
    return a->closed;
}
static int p_walked(const ia_t *a)
{
    return !a->walking || a->closed;
}

static void on_open(nc_session_t *s, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&ia.mu);
    ia.sid = nc_session_id(s);
    pthread_cond_broadcast(&ia.cv);
    pthread_mutex_unlock(&ia.mu);
}

static void login_result(nc_session_t *s, const proto_login_result_t *r)
{
    if (r->code == 0) {
        /* player_id is the entity id of this session, not the character's */
        tc_printf("* logged in as %s (entity %u this session)\n", r->name, (unsigned)r->player_id);
        pthread_mutex_lock(&ia.mu);
        snprintf(ia.name, sizeof ia.name, "%s", r->name);
        pthread_mutex_unlock(&ia.mu);
        proto_msg_t m = {.type = PROTO_T_ENTER_WORLD};
        tl_send_msg(s, &m);
        return;
    }
    if (r->code == PROTO_ERR_HASH_MISMATCH)
        tc_printf("ERROR: protocol hash mismatch: this client speaks %016llx, the server "
                  "%016llx; rebuild both from the same tree\n",
                  (unsigned long long)ia.o->proto_hash, (unsigned long long)r->proto_hash);
    else
        tc_printf("ERROR: login failed: %s\n", proto_err_text(r->code));
}

/* State changes first (under the lock), printing after. */
static void track(const proto_msg_t *m)
{
    int walk_stopped = 0;
    pthread_mutex_lock(&ia.mu);
    switch (m->type) {
    case PROTO_T_LOGIN_RESULT:
        if (m->login_result.code != 0) {
            ia.login_failed = 1;
            ia.pending--;
        }
        break;
    case PROTO_T_WORLD_ENTERED:
        ia.in_world = 1;
        ia.pending--;
        ia.x = m->world_entered.pos.x;
        ia.y = m->world_entered.pos.y;
        break;
    case PROTO_T_ZONE_CHANGED:
        ia.x = m->zone_changed.pos.x;
        ia.y = m->zone_changed.pos.y;
        ia.pending--;
        break;
    case PROTO_T_MOVE_CORRECTION:
        ia.x = m->move_correction.pos.x;
        ia.y = m->move_correction.pos.y;
        walk_stopped = ia.walking;
        ia.walking = 0; /* a walk the server refuses would loop: stop it */
        break;
    case PROTO_T_PONG:
        if (m->pong.client_time != ia.ka_time) /* nobody waits for a keep-alive */
            ia.pending--;
        break;
    case PROTO_T_WHO_RESPONSE:
    case PROTO_T_ERROR:
        ia.pending--;
        if (m->error.fatal) /* the reason of the close that follows */
            snprintf(ia.server_reason, sizeof ia.server_reason, "%s", m->error.text);
        break;
    case PROTO_T_NOTICE:
        /* taken over, or the server stopping: the close follows */
        if (m->notice.code == PROTO_ERR_ALREADY_ONLINE || m->notice.code == PROTO_ERR_SHUTTING_DOWN)
            snprintf(ia.server_reason, sizeof ia.server_reason, "%s", m->notice.text);
        break;
    default: break;
    }
    pthread_cond_broadcast(&ia.cv);
    pthread_mutex_unlock(&ia.mu);
    if (walk_stopped)
        tc_printf("* walk stopped (out of bounds, or faster than the server allows: "
                  "--walk-speed)\n");
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    (void)ud;
    static proto_msg_t m; /* handlers of one session run one at a time */
    int rc = proto_decode(type, body, len, &m);
    if (rc < 0) {
        tc_printf("! bad packet %u from server: %s\n", (unsigned)type, proto_strerror(rc));
        return;
    }
    pthread_mutex_lock(&ia.mu);
    int keepalive = m.type == PROTO_T_PONG && m.pong.client_time == ia.ka_time;
    pthread_mutex_unlock(&ia.mu);
    if (!keepalive)
        tc_script_note(&m); /* scripts: for expect */
    if (keepalive)
        ; /* silent */
    else if (m.type == PROTO_T_LOGIN_RESULT)
        login_result(s, &m.login_result);
    else if (m.type == PROTO_T_PONG)
        tc_printf("pong: %.3f ms round trip\n", (double)(nc_now_ns() - m.pong.client_time) / 1e6);
    else if (m.type == PROTO_T_ERROR && m.error.code == PROTO_ERR_HASH_MISMATCH)
        tc_printf("ERROR: protocol hash mismatch: this client speaks %016llx; the server "
                  "refused it (%s); rebuild both from the same tree\n",
                  (unsigned long long)ia.o->proto_hash, m.error.text);
    else
        tc_print_event(&m, ia.o->quiet_moves);
    track(&m); /* after printing: a waiting main thread prints after us */
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)s;
    (void)ud;
    pthread_mutex_lock(&ia.mu);
    ia.closed = 1;
    snprintf(ia.close_reason, sizeof ia.close_reason, "%s", why->text);
    int expected = ia.logging_out;
    ia.closed_by_server = !expected;
    int in_login = ia.login_sent && !ia.in_world && !ia.login_failed;
    char reason[sizeof ia.server_reason];
    snprintf(reason, sizeof reason, "%s", ia.server_reason);
    pthread_cond_broadcast(&ia.cv);
    pthread_mutex_unlock(&ia.mu);
    tc_plog_set_closed(1, why->text); /* a waiting expect fails now */
    /* the server's error packet may be lost when it closes at once */
    if (in_login)
        tc_printf("ERROR: the server closed the connection during login without an answer; "
                  "a protocol hash mismatch does this (this client speaks %016llx)\n",
                  (unsigned long long)ia.o->proto_hash);
    /* the server's stated reason rather than the socket's "peer closed" */
    tc_printf("* connection closed%s: %s\n", expected ? "" : " by the server",
              !expected && reason[0] ? reason : why->text);
}

static const char help_account[] =
    "account commands (--login):\n"
    "  register NAME       create an account (password prompted, or --password-file)\n"
    "  login NAME          log in to an account: lists its characters and the shards\n"
    "  realms              list the shards again\n"
    "  play [CHAR] [SHARD] get a ticket and enter the world as CHAR (new: created);\n"
    "                      without CHAR the account's only character, without SHARD\n"
    "                      --shard, the character's shard or the first healthy one\n";

static const char help_text[] =
    "commands:\n"
    "  login NAME          name-only login (dev shard): log in (or create) NAME and\n"
    "                      enter the world; with --login see the account commands\n"
    "  move X Y            walk to X Y at --walk-speed (any move or step stops it)\n"
    "  w a s d             step north, west, south, east (also: n e s, and 'west')\n"
    "  say TEXT            chat to your zone\n"
    "  shout TEXT          global chat, every shard (\"global chat offline\" if the\n"
    "                      chat server is down)\n"
    "  whisper NAME TEXT   private message\n"
    "  who [zone]          players online on this shard (or in your zone)\n"
    "  zone ID             change zone (1 Meadow, 2 Dark Forest, 3 Town)\n"
    "  ping                print the round trip in ms\n"
    "  send PACKET {json}  send any client packet by name, e.g. send emote {\"id\": 1}\n"
    "  reconnect           log out, connect again (then login NAME)\n"
    "  quit                log out and exit (end of input does the same)\n"
    "  help                this list\n";

static void send_cmd(proto_msg_t *m, int expects_reply)
{
    pthread_mutex_lock(&ia.mu);
    nc_sid_t sid = ia.closed ? 0 : ia.sid;
    if (sid && expects_reply)
        ia.pending++;
    pthread_mutex_unlock(&ia.mu);
    int rc = sid ? tc_send(ia.net.engine, sid, m) : NC_ECLOSED;
    if (rc != 0) {
        tc_printf("! cannot send: %s\n", sid ? nc_strerror(rc) : "not connected");
        if (sid && expects_reply) {
            pthread_mutex_lock(&ia.mu);
            ia.pending--;
            pthread_mutex_unlock(&ia.mu);
        }
    }
}

static void cmd_move(float dx, float dy, int absolute, float ax, float ay)
{
    proto_msg_t m = {.type = PROTO_T_MOVE};
    pthread_mutex_lock(&ia.mu);
    ia.walking = 0;
    float d = absolute ? hypotf(ax - ia.x, ay - ia.y) : 0;
    if (d > WALK_DIRECT) {
        ia.walking = 1;
        ia.wx = ax;
        ia.wy = ay;
        ia.walk_ms = nc_now_ms();
        pthread_mutex_unlock(&ia.mu);
        tc_printf("* walking to (%.1f, %.1f): %.1f units, about %.1f s\n", ax, ay, d,
                  d / ia.o->walk_speed);
        return;
    }
    ia.x = absolute ? ax : ia.x + dx;
    ia.y = absolute ? ay : ia.y + dy;
    m.move.pos.x = ia.x;
    m.move.pos.y = ia.y;
    pthread_mutex_unlock(&ia.mu);
    m.move.dir = dy > 0 ? 0 : dx > 0 ? 2 : dy < 0 ? 4 : 6;
    m.move.client_time = (uint32_t)nc_now_ms();
    send_cmd(&m, 0);
    tc_printf("* moving to (%.1f, %.1f)\n", m.move.pos.x, m.move.pos.y);
}

/* One step of a walk (main thread): the distance the speed allows since
 * the last step, capped so a stalled loop never jumps. */
static void walk_tick(void)
{
    uint64_t now = nc_now_ms();
    pthread_mutex_lock(&ia.mu);
    if (ia.closed)
        ia.walking = 0;
    if (!ia.walking || now < ia.walk_ms + WALK_TICK_MS) {
        pthread_mutex_unlock(&ia.mu);
        return;
    }
    uint64_t dt = now - ia.walk_ms > 2 * WALK_TICK_MS ? 2 * WALK_TICK_MS : now - ia.walk_ms;
    ia.walk_ms = now;
    float step = ia.o->walk_speed * (float)dt / 1000.0f;
    float dx = ia.wx - ia.x, dy = ia.wy - ia.y, d = hypotf(dx, dy);
    int arrived = d <= step;
    if (arrived) {
        ia.x = ia.wx;
        ia.y = ia.wy;
        ia.walking = 0;
        pthread_cond_broadcast(&ia.cv);
    } else {
        ia.x += dx / d * step;
        ia.y += dy / d * step;
    }
    proto_msg_t m = {.type = PROTO_T_MOVE};
    m.move.pos.x = ia.x;
    m.move.pos.y = ia.y;
    pthread_mutex_unlock(&ia.mu);
    m.move.dir = (uint8_t)(lroundf((atan2f(dx, dy) + 6.2832f) / 0.7854f) & 7);
    m.move.client_time = (uint32_t)now;
    send_cmd(&m, 0);
    if (arrived)
        tc_printf("* arrived at (%.1f, %.1f)\n", m.move.pos.x, m.move.pos.y);
}

/* A ping now and then keeps an idle player connected (the server closes
 * sessions silent for listen.idle_timeout_ms); its pong is not printed. */
static void keepalive(void)
{
    static uint64_t next;
    uint64_t now = nc_now_ms();
    if (!ia.o->keepalive_ms || now < next)
        return;
    int first = next == 0;
    next = now + (uint64_t)ia.o->keepalive_ms;
    if (first)
        return;
    proto_msg_t m = {.type = PROTO_T_PING};
    pthread_mutex_lock(&ia.mu);
    nc_sid_t sid = ia.closed ? 0 : ia.sid;
    m.ping.client_time = ia.ka_time = nc_now_ns();
    pthread_mutex_unlock(&ia.mu);
    if (sid)
        tc_send(ia.net.engine, sid, &m);
}

static void cmd_chat(uint8_t channel, const char *target, const char *text)
{
    proto_msg_t m = {.type = PROTO_T_CHAT};
    m.chat.channel = channel;
    snprintf(m.chat.target, sizeof m.chat.target, "%s", target);
    snprintf(m.chat.text, sizeof m.chat.text, "%s", text);
    send_cmd(&m, 0);
}

/* Name-only (dev shard) when token is NULL, else with a login ticket. */
static void cmd_login(const char *name, const uint8_t *token, size_t token_len)
{
    proto_msg_t m = {.type = PROTO_T_LOGIN};
    snprintf(m.login.name, sizeof m.login.name, "%s", name);
    m.login.proto_hash = ia.o->proto_hash;
    if (token && token_len <= sizeof m.login.token) {
        memcpy(m.login.token, token, token_len);
        m.login.token_len = (uint16_t)token_len;
    }
    pthread_mutex_lock(&ia.mu);
    ia.login_sent = 1;
    pthread_mutex_unlock(&ia.mu);
    send_cmd(&m, 1);
    if (!wait_until(p_world, WAIT_MS))
        tc_printf("! no answer to login within %d ms\n", WAIT_MS);
}

static int cmd_simple(const char *cmd, const char *arg)
{
    proto_msg_t m = {0};
    if (!strcmp(cmd, "ping")) {
        m.type = PROTO_T_PING;
        m.ping.client_time = nc_now_ns();
    } else if (!strcmp(cmd, "who")) {
        m.type = PROTO_T_WHO_REQUEST;
        m.who_request.scope = !strcmp(arg, "zone") ? 0 : 1;
    } else if (!strcmp(cmd, "zone") && *arg) {
        m.type = PROTO_T_ZONE_CHANGE_REQUEST;
        m.zone_change_request.zone = (uint16_t)atoi(arg);
    } else {
        return 0;
    }
    send_cmd(&m, 1);
    if (m.type == PROTO_T_ZONE_CHANGE_REQUEST)
        wait_until(p_idle, WAIT_MS);
    return 1;
}

static int cmd_step(const char *cmd)
{
    static const struct {
        const char *k;
        float dx, dy;
    } steps[] = {{"w", 0, STEP},      {"n", 0, STEP},    {"north", 0, STEP}, {"s", 0, -STEP},
                 {"south", 0, -STEP}, {"d", STEP, 0},    {"e", STEP, 0},     {"east", STEP, 0},
                 {"a", -STEP, 0},     {"west", -STEP, 0}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (!strcmp(cmd, steps[i].k)) {
            cmd_move(steps[i].dx, steps[i].dy, 0, 0, 0);
            return 1;
        }
    return 0;
}

/* 1 with the character's name (or "..." while logging in) when this
 * connection already logged in: a second login would be a protocol error. */
static int logged_in_as(char *name, size_t cap)
{
    pthread_mutex_lock(&ia.mu);
    int busy = ia.login_sent && !ia.login_failed && !ia.closed;
    snprintf(name, cap, "%s", ia.name[0] ? ia.name : "...");
    pthread_mutex_unlock(&ia.mu);
    return busy;
}

static void finish(int eof);
static int game_connect(const char *host, uint16_t port, const char *suffix);

/* reconnect: log out, then a new connection to --host/--port (a script
 * checks what survives a relogin). */
static void cmd_reconnect(void)
{
    if (ia.o->use_login) {
        tc_printf("! reconnect: not with --login (play again instead)\n");
        return;
    }
    finish(1);
    tc_plog_clear(); /* expect: only the new connection's packets */
    game_connect(ia.o->host, ia.o->port, "");
}

/* Returns 1 when the user asked to quit. */
static int run_command(char *line)
{
    char *cmd = strtok(line, " \t");
    if (!cmd || cmd[0] == '#')
        return 0;
    char *rest = strtok(NULL, "");
    rest = rest ? rest + strspn(rest, " \t") : "";
    char target[32];
    float x, y;
    if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit"))
        return 1;
    if (!strcmp(cmd, "help"))
        tc_printf("%s%s", ia.o->use_login ? help_account : "", help_text);
    else if (ia.o->use_login && tc_account_command(cmd, rest))
        ;
    else if (!strcmp(cmd, "login") && *rest && logged_in_as(target, sizeof target))
        tc_printf("! already logged in as %s (quit, then start again to change character)\n",
                  target);
    else if (!strcmp(cmd, "reconnect"))
        cmd_reconnect();
    else if (!strcmp(cmd, "send") && *rest)
        tc_cmd_send(rest);
    else if (!strcmp(cmd, "login") && *rest)
        cmd_login(rest, NULL, 0);
    else if (!strcmp(cmd, "move") && sscanf(rest, "%f %f", &x, &y) == 2)
        cmd_move(0, 0, 1, x, y);
    else if (!strcmp(cmd, "say") && *rest)
        cmd_chat(0, "", rest);
    else if (!strcmp(cmd, "shout") && *rest)
        cmd_chat(1, "", rest);
    else if (!strcmp(cmd, "whisper") && sscanf(rest, "%31s", target) == 1 &&
             *(rest + strcspn(rest, " \t")))
        cmd_chat(2, target,
                 rest + strcspn(rest, " \t") + strspn(rest + strcspn(rest, " \t"), " \t"));
    else if (!cmd_step(cmd) && !cmd_simple(cmd, rest))
        tc_printf("! unknown or incomplete command '%s' (type help)\n", cmd);
    return 0;
}

/* End of input or quit: let pending replies arrive (bounded), log out,
 * wait for the server to close. */
static void finish(int eof)
{
    tc_account_stop();
    uint64_t end = nc_now_ms() + WALK_MAX_S * 1000u;
    while (eof && !wait_until(p_walked, WALK_TICK_MS / 2) && nc_now_ms() < end)
        walk_tick();
    if (!wait_until(p_walked, 0))
        tc_printf("! walk not finished after %d s; logging out\n", WALK_MAX_S);
    wait_until(p_idle, 2000);
    pthread_mutex_lock(&ia.mu);
    int logged = ia.in_world && !ia.closed;
    ia.logging_out = 1;
    pthread_mutex_unlock(&ia.mu);
    if (logged) {
        proto_msg_t m = {.type = PROTO_T_LOGOUT};
        send_cmd(&m, 0);
        if (!wait_until(p_closed, 3000))
            tc_printf("! server did not close after logout; closing\n");
    }
}

static int read_loop(void)
{
    char line[512];
    int tty = tc_stdin_is_tty(), eof = 0;
    for (;;) {
        if (tty)
            tc_printf("> ");
        int r = 0;
        while ((r = tc_stdin_readline(line, sizeof line, WALK_TICK_MS / 2)) == 0) {
            if (wait_until(p_closed, 0))
                return 1;
            if (tl_signals_wait_ms(0)) /* Ctrl-C: log out like quit */
                goto out;
            walk_tick();
            keepalive();
        }
        if (r < 0) { /* end of input: a walk in progress is finished first */
            eof = 1;
            break;
        }
        if (run_command(line))
            break;
        walk_tick();
    }
out:
    finish(eof);
    return 0;
}

/* A failed connect fires no callback (no_reconnect): watch the counter. */
static int wait_connected(void)
{
    for (int waited = 0; waited < WAIT_MS; waited += 50) {
        if (wait_until(p_open, 50))
            return 0;
        nc_role_stats_t st;
        nc_client_stats(ia.client, &st);
        if (st.connect_failures > 0)
            return NC_ECONNREFUSED;
    }
    return NC_ETIMEDOUT;
}

/* Connects the game session (a previous, closed one is dropped first). */
static int game_connect(const char *host, uint16_t port, const char *suffix)
{
    if (ia.client) {
        nc_client_destroy(ia.client);
        ia.client = NULL;
    }
    pthread_mutex_lock(&ia.mu);
    ia.sid = 0;
    ia.closed = ia.closed_by_server = ia.login_sent = ia.in_world = ia.login_failed = 0;
    ia.logging_out = ia.pending = ia.walking = 0;
    ia.name[0] = ia.server_reason[0] = 0;
    pthread_mutex_unlock(&ia.mu);
    tc_plog_set_closed(0, NULL);
    nc_role_opts_t ro = {.name = "client",
                         .queue = ia.net.queue,
                         .no_reconnect = 1,
                         .handlers = {on_open, on_packet, on_close}};
    int rc = nc_client_create(ia.net.engine, host, port, &ro, &ia.client);
    if (rc == 0)
        rc = wait_connected();
    if (rc == 0 && wait_until(p_closed, 0))
        rc = NC_ECONNRESET;
    if (rc == 0 && ia.sid == 0)
        rc = NC_ECONNREFUSED;
    if (rc != 0)
        fprintf(stderr, "testclient: cannot connect to %s:%u: %s\n", host, (unsigned)port,
                nc_strerror(rc));
    else
        tc_printf("* connected to %s:%u%s\n", host, (unsigned)port, suffix);
    return rc;
}

int tc_game_send(const proto_msg_t *m)
{
    pthread_mutex_lock(&ia.mu);
    nc_sid_t sid = ia.closed ? 0 : ia.sid;
    pthread_mutex_unlock(&ia.mu);
    return sid ? tc_send(ia.net.engine, sid, m) : NC_ECLOSED;
}

int tc_game_connected(void)
{
    pthread_mutex_lock(&ia.mu);
    int busy = ia.client && !ia.closed;
    pthread_mutex_unlock(&ia.mu);
    return busy;
}

int tc_game_play(const char *host, uint16_t port, const char *character, const uint8_t *ticket,
                 size_t ticket_len)
{
    if (tc_game_connected()) {
        tc_printf("! already connected to a game server (quit, then play again)\n");
        return -1;
    }
    if (game_connect(host, port, "") != 0)
        return -1;
    cmd_login(character, ticket, ticket_len);
    return 0;
}

int tc_interactive_main(const tc_opts_t *o)
{
    ia.o = o;
    if (tc_net_start(&ia.net, 1) != 0) {
        fprintf(stderr, "testclient: cannot start the network engine\n");
        return 1;
    }
    int rc = 0;
    if (o->use_login) {
        tc_account_init(o, &ia.net);
        tc_printf("* login server %s:%u: register NAME, login NAME, play [CHAR] (type help)\n",
                  o->login_host, (unsigned)o->login_port);
    } else {
        rc = game_connect(o->host, o->port, " (type help for commands)");
    }
    if (rc == 0 && o->script) { /* --script FILE: its exit code */
        rc = tc_script_main(o->script, run_command);
        finish(1);
    } else if (rc == 0) {
        rc = read_loop();
    }
    tc_account_stop();
    pthread_mutex_lock(&ia.mu);
    if (ia.closed_by_server)
        rc = 1; /* dropped or refused by the server: not a clean session */
    pthread_mutex_unlock(&ia.mu);
    if (ia.client)
        nc_client_destroy(ia.client);
    tc_net_stop(&ia.net);
    if (o->script && rc == TC_SCRIPT_USAGE)
        return rc; /* the script file cannot be read */
    return rc == 0 && !tc_account_failed() ? 0 : 1;
}
