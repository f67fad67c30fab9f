/* `masterserver --list HOST:PORT`: a one-shot netcore client that
 * authenticates its link (tl_s2s client side), sends the shard list query
 * and prints the answer as a table. */
#include "master.h"
#include "tl_common.h"
#include "tl_s2s.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lister_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    proto_shard_list_response_t resp;
    const uint8_t *key;
    proto_s2s_hello_t hello; /* ours, for its nonce */
} lister_t;

static void finish(lister_t *l, int rc)
{
    pthread_mutex_lock(&l->mu);
    if (!l->done) {
        l->done = 1;
        l->rc = rc;
    }
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void on_open(nc_session_t *s, void *ud)
{
    lister_t *l = ud;
    proto_msg_t m = {.type = PROTO_T_S2S_HELLO};
    pa_s2s_client_hello(l->key, "list", 2, &l->hello);
    m.s2s_hello = l->hello;
    if (tl_send_msg(s, &m) != 0)
        finish(l, 1);
}

/* Our proof, then the query (pipelined: the master handles them in order). */
static void on_hello_result(lister_t *l, nc_session_t *s, const uint8_t *body, size_t len)
{
    proto_msg_t r, m = {.type = PROTO_T_S2S_AUTH};
    char err[128] = "malformed s2s_hello_result";
    if (proto_decode(PROTO_T_S2S_HELLO_RESULT, body, len, &r) < 0 ||
        pa_s2s_client_result(l->key, &l->hello, &r.s2s_hello_result, &m.s2s_auth, err,
                             sizeof err) != 0) {
        fprintf(stderr, "masterserver --list: %s: %s\n", nc_session_peer(s), err);
        finish(l, 1);
        nc_session_close(s, PROTO_ERR_S2S_AUTH_FAILED, "s2s auth failed");
        return;
    }
    proto_msg_t q = {.type = PROTO_T_SHARD_LIST_REQUEST};
    if ((l->key && tl_send_msg(s, &m) != 0) || tl_send_msg(s, &q) != 0)
        finish(l, 1);
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    lister_t *l = ud;
    if (type == PROTO_T_S2S_HELLO_RESULT) {
        on_hello_result(l, s, body, len);
        return;
    }
    if (type != PROTO_T_SHARD_LIST_RESPONSE)
        return;
    int rc = proto_decode_shard_list_response(body, len, &l->resp);
    finish(l, rc < 0 ? 1 : 0);
    nc_session_close(s, 0, "done");
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)s;
    (void)why;
    finish(ud, 1);
}

static void print_table(const proto_shard_list_response_t *r)
{
    printf("%-20s %-22s %-19s %-6s %s\n", "SHARD", "ADDRESS", "POPULATION", "STATUS",
           "LAST_HEARTBEAT_MS");
    for (int i = 0; i < r->shards_count; i++) {
        const proto_shard_info_t *s = &r->shards[i];
        char addr[96], pop[32];
        snprintf(addr, sizeof addr, "%s:%u", s->host, (unsigned)s->port);
        snprintf(pop, sizeof pop, "%u/%u", (unsigned)s->population, (unsigned)s->capacity);
        printf("%-20s %-22s %-19s %-6s %u\n", s->name, addr, pop, s->healthy ? "up" : "down",
               (unsigned)s->last_heartbeat_ms);
    }
    printf("%d shard(s)\n", r->shards_count);
    fflush(stdout);
}

/* The failed connect's code, 0 when it connected (no_reconnect: no
 * callback tells). */
static int list_connect_error(nc_client_t *c)
{
    nc_role_stats_t st;
    nc_client_stats(c, &st);
    return st.connect_failures ? st.last_connect_error : 0;
}

static int wait_done(lister_t *l, nc_client_t *c, int timeout_ms)
{
    pthread_mutex_lock(&l->mu);
    for (int waited = 0; !l->done && waited < timeout_ms; waited += 50) {
        struct timespec slice;
        tl_deadline(&slice, 50); /* a refused connect fires no callback: poll it */
        pthread_cond_timedwait(&l->cv, &l->mu, &slice);
        if (list_connect_error(c))
            break;
    }
    int rc = l->done ? l->rc : 1;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int master_list_main(const char *hostport, const uint8_t *key, int timeout_ms)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof host) {
        fprintf(stderr, "masterserver --list: expected HOST:PORT, got '%s'\n", hostport);
        return 2;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    static lister_t l = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}, NULL, {0}};
    l.key = key;
    nc_pool_t *pool = NULL;
    nc_queue_t *q = NULL;
    nc_engine_t *e = NULL;
    nc_client_t *c = NULL;
    nc_pool_opts_t po = {.name = "list", .threads = 1};
    nc_queue_opts_t qo = {.name = "list", .max_threads = 1};
    int rc = nc_pool_create(&po, &pool);
    if (rc == 0)
        rc = nc_queue_create(pool, &qo, &q);
    if (rc == 0)
        rc = nc_engine_create(NULL, &e);
    nc_role_opts_t ro = {.name = "list",
                         .queue = q,
                         .ud = &l,
                         .no_reconnect = 1,
                         .handlers = {on_open, on_packet, on_close}};
    if (rc == 0)
        rc = nc_client_create(e, host, (uint16_t)atoi(colon + 1), &ro, &c);
    int out = rc == 0 ? wait_done(&l, c, timeout_ms) : 1;
    if (out == 0)
        print_table(&l.resp);
    else if (c && list_connect_error(c))
        fprintf(stderr,
                "masterserver --list: cannot connect to %s: %s (is the master running? "
                "tools/dev/shard.sh's listens on 127.0.0.1:MASTER_PORT, default 7000)\n",
                hostport, nc_strerror(list_connect_error(c)));
    else
        fprintf(stderr, "masterserver --list: no answer from %s\n", hostport);
    if (c)
        nc_client_destroy(c);
    if (e)
        nc_engine_destroy(e);
    if (pool)
        nc_pool_destroy(pool);
    return out;
}
