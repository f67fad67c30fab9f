/* chatserver: game servers connect, authenticate (tl_s2s: s2s_hello +
 * s2s_auth with the shared secret) under their shard name, and send
 * chat_relay packets; each one is relayed to every registered shard (the
 * sender's included).  One engine, one pool, one server role. */
#include "tl_common.h"
#include "tl_s2s.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "chat"
#define MAX_SHARDS 256

typedef struct shard_s {
    nc_sid_t sid;
    char name[PROTO_S2S_HELLO_NAME_MAX + 1];
} shard_t;

/* The registry is touched by handlers of different sessions in parallel. */
typedef struct chat_s {
    nc_engine_t *engine;
    tl_s2s_t *auth;
    pthread_mutex_t mu;
    shard_t shards[MAX_SHARDS];
    int nshards;
    uint64_t relayed;
} chat_t;

static int find_locked(chat_t *c, nc_sid_t sid)
{
    for (int i = 0; i < c->nshards; i++)
        if (c->shards[i].sid == sid)
            return i;
    return -1;
}

static void hello_reply(nc_session_t *s, int code)
{
    proto_msg_t r = {.type = PROTO_T_S2S_HELLO_RESULT};
    r.s2s_hello_result.code = (int16_t)code;
    r.s2s_hello_result.proto_hash = PROTO_HASH;
    snprintf(r.s2s_hello_result.name, sizeof r.s2s_hello_result.name, "chat");
    tl_send_msg(s, &r);
}

/* An authenticated peer (tl_s2s answered its hello already). */
static void on_joined(chat_t *c, nc_session_t *s, const proto_s2s_hello_t *h)
{
    pthread_mutex_lock(&c->mu);
    int i = find_locked(c, nc_session_id(s));
    int full = i < 0 && c->nshards == MAX_SHARDS;
    if (i < 0 && !full)
        i = c->nshards++;
    if (!full) {
        c->shards[i].sid = nc_session_id(s);
        snprintf(c->shards[i].name, sizeof c->shards[i].name, "%s", h->name);
    }
    int n = c->nshards;
    pthread_mutex_unlock(&c->mu);
    if (full) {
        hello_reply(s, PROTO_ERR_SERVER_FULL);
        nc_session_close(s, PROTO_ERR_SERVER_FULL, "too many shards");
        return;
    }
    nc_log(NC_LOG_INFO, TAG, "shard '%s' joined (session %llx, %s); %d connected", h->name,
           (unsigned long long)nc_session_id(s), nc_session_peer(s), n);
}

/* One encoded packet, one reference per destination (netcore zero-copy). */
static void relay(chat_t *c, nc_session_t *from, const proto_chat_relay_t *m)
{
    proto_msg_t out = {.type = PROTO_T_CHAT_RELAY, .chat_relay = *m};
    nc_sid_t dst[MAX_SHARDS];
    pthread_mutex_lock(&c->mu);
    int me = find_locked(c, nc_session_id(from));
    int n = c->nshards;
    for (int i = 0; i < n; i++)
        dst[i] = c->shards[i].sid;
    if (me >= 0) /* the shard name is the registered one, not what was sent */
        snprintf(out.chat_relay.shard, sizeof out.chat_relay.shard, "%s", c->shards[me].name);
    c->relayed++;
    pthread_mutex_unlock(&c->mu);
    if (me < 0) {
        nc_session_close(from, PROTO_ERR_NOT_LOGGED_IN, "chat_relay before hello");
        return;
    }
    nc_packet_t *p = tl_packet(&out);
    if (!p)
        return;
    for (int i = 0; i < n; i++)
        nc_send_packet_id(c->engine, dst[i], p);
    nc_packet_release(p);
    nc_log(NC_LOG_DEBUG, TAG, "relayed '%s@%s' to %d shards", m->sender, out.chat_relay.shard, n);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    chat_t *c = ud;
    proto_msg_t m;
    int rc = proto_decode(type, body, len, &m);
    if (rc < 0) {
        nc_session_close(s, PROTO_ERR_BAD_PACKET, proto_strerror(rc));
        return;
    }
    const proto_s2s_hello_t *hello = NULL;
    int gate = tl_s2s_packet(c->auth, s, &m, &hello);
    if (gate == TL_S2S_JOINED)
        on_joined(c, s, hello);
    if (gate != TL_S2S_PASS)
        return;
    if (m.type == PROTO_T_CHAT_RELAY)
        relay(c, s, &m.chat_relay);
    else
        nc_session_close(s, PROTO_ERR_BAD_PACKET, "unexpected packet");
}

static void on_open(nc_session_t *s, void *ud)
{
    tl_s2s_open(((chat_t *)ud)->auth, s);
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    chat_t *c = ud;
    tl_s2s_close(c->auth, s);
    char name[sizeof c->shards[0].name] = "";
    pthread_mutex_lock(&c->mu);
    int i = find_locked(c, nc_session_id(s));
    if (i >= 0) {
        snprintf(name, sizeof name, "%s", c->shards[i].name);
        c->shards[i] = c->shards[--c->nshards];
    }
    int n = c->nshards;
    pthread_mutex_unlock(&c->mu);
    if (i >= 0)
        nc_log(NC_LOG_INFO, TAG, "shard '%s' left (session %llx: %s); %d connected", name,
               (unsigned long long)nc_session_id(s), why->text, n);
}

typedef struct args_s {
    const char *host;
    int port;
    nc_log_level_t log;
    tl_s2s_args_t s2s;
} args_t;

static int parse_args(int argc, char **argv, args_t *a)
{
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
        int used = tl_s2s_flag(&a->s2s, argc, argv, i);
        if (used < 0)
            return -1;
        if (used) {
            i += used - 2;
            continue;
        }
        if (!v)
            return -1;
        if (!strcmp(argv[i], "--port"))
            a->port = atoi(v);
        else if (!strcmp(argv[i], "--host"))
            a->host = v;
        else if (strcmp(argv[i], "--log-level") || nc_log_level_parse(v, &a->log))
            return -1;
    }
    return a->port < 0 || a->port > 65535 ? -1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: chatserver --secret-file FILE [--host 127.0.0.1] [--port 7001]\n"
               "                  [--log-level info] [--auth-timeout-ms 5000]\n"
               "                  [--insecure-no-link-auth]\n"
               "Relays global chat between game servers. --port 0 picks a free port;\n"
               "prints 'READY port=N' once listening. SIGINT/SIGTERM stop it.\n"
               "--secret-file: the links' shared secret (first line, >= 16 bytes; the game\n"
               "servers' links.secret_file). Without it the server refuses to start unless\n"
               "--insecure-no-link-auth (development only). A link not authenticated\n"
               "within --auth-timeout-ms is closed. See tools/README.md.\n");
}

int main(int argc, char **argv)
{
    args_t a = {.host = "127.0.0.1", .port = 7001, .log = NC_LOG_INFO};
    tl_console_init();
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        usage(prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    nc_log_set_level(a.log);
    uint8_t key[PA_S2S_KEY_BYTES];
    const uint8_t *keyp = NULL;
    if (tl_s2s_key_from_args("chatserver", &a.s2s, key, &keyp) != 0)
        return 2;
    tl_signals_block();
    static chat_t chat;
    pthread_mutex_init(&chat.mu, NULL);
    nc_pool_t *pool = NULL;
    nc_queue_t *q = NULL;
    nc_server_t *srv = NULL;
    nc_pool_opts_t po = {.name = "chat", .threads = 2};
    nc_queue_opts_t qo = {.name = "relay", .max_threads = 2};
    /* 1024 unauthenticated peers at most (tl_s2s evicts the oldest past it)
     * and as many slots again for the game servers (red-team review) */
    nc_engine_opts_t eo = {.io_threads = 1, .max_sessions = 2048 + 64};
    int rc = nc_pool_create(&po, &pool);
    if (rc == 0)
        rc = nc_queue_create(pool, &qo, &q);
    if (rc == 0)
        rc = nc_engine_create(&eo, &chat.engine);
    tl_s2s_opts_t so = {.tag = TAG,
                        .name = "chat",
                        .key = keyp,
                        .timeout_ms = a.s2s.timeout_ms,
                        .max_sessions = 1024};
    if (rc == 0)
        rc = tl_s2s_create(q, chat.engine, &so, &chat.auth);
    pa_wipe(key, sizeof key);
    nc_role_opts_t ro = {.name = "chat",
                         .queue = q,
                         .ud = &chat,
                         .handlers = {on_open, on_packet, on_close},
                         .max_send_bytes = 8u << 20};
    if (rc == 0)
        rc = nc_server_create(chat.engine, a.host, (uint16_t)a.port, &ro, &srv);
    if (rc < 0) {
        fprintf(stderr, "chatserver: cannot listen on %s:%d: %s\n", a.host, a.port,
                nc_strerror(rc));
        return 1;
    }
    nc_log(NC_LOG_INFO, TAG, "listening on %s:%u", a.host, (unsigned)nc_server_port(srv));
    printf("READY port=%u\n", (unsigned)nc_server_port(srv));
    fflush(stdout);
    int sig = tl_signals_wait();
    nc_log(NC_LOG_INFO, TAG, "signal %d: stopping (%llu messages relayed)", sig,
           (unsigned long long)chat.relayed);
    nc_server_destroy(srv);
    tl_s2s_log_totals(chat.auth);
    tl_s2s_stop(chat.auth);
    nc_engine_destroy(chat.engine);
    nc_pool_destroy(pool);
    tl_s2s_destroy(chat.auth);
    pthread_mutex_destroy(&chat.mu);
    return 0;
}
