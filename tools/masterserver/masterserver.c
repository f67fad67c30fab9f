/* masterserver: registry of game servers.  A shard authenticates its link
 * (tl_s2s: shared secret), registers (name, player address, capacity) and
 * sends heartbeats with its population; one that misses `--miss` heartbeat
 * intervals, or whose link drops, is marked down.  An authenticated peer may
 * ask for the list (`masterserver --list HOST:PORT --secret-file FILE`).
 * It is also the login server: accounts, the encrypted login listener and
 * tickets live in master_login.c and its neighbours (master_auth.h). */
#include "master.h"
#include "master_auth.h"
#include "tl_common.h"
#include "tl_s2s.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "master"
#define MAX_SHARDS PROTO_SHARD_LIST_RESPONSE_SHARDS_MAX

typedef struct entry_s {
    proto_shard_info_t info; /* healthy, last_heartbeat_ms: computed per list */
    nc_sid_t sid;            /* 0 once the link is gone */
    uint64_t last_hb_ms;
    int up; /* last state logged */
} entry_t;

typedef struct master_s {
    nc_engine_t *engine;
    tl_s2s_t *auth;
    uint64_t hb_ms;
    uint32_t miss;
    pthread_mutex_t mu;
    entry_t v[MAX_SHARDS];
    int n;
} master_t;

static int healthy_locked(const master_t *m, const entry_t *e, uint64_t now)
{
    return e->sid != 0 && now - e->last_hb_ms <= m->hb_ms * m->miss;
}

static entry_t *by_sid_locked(master_t *m, nc_sid_t sid)
{
    for (int i = 0; i < m->n; i++)
        if (m->v[i].sid == sid)
            return &m->v[i];
    return NULL;
}

static void reply_code(nc_session_t *s, uint16_t type, int code)
{
    proto_msg_t r = {.type = type};
    r.shard_register_result.code = (int16_t)code;
    tl_send_msg(s, &r);
}

/* Same name again (a restarted or reconnected shard) takes the entry over. */
static void on_register(master_t *m, nc_session_t *s, const proto_shard_register_t *r)
{
    pthread_mutex_lock(&m->mu);
    entry_t *e = NULL;
    for (int i = 0; i < m->n && !e; i++)
        if (strcmp(m->v[i].info.name, r->shard) == 0)
            e = &m->v[i];
    if (!e && m->n < MAX_SHARDS)
        e = &m->v[m->n++];
    if (e) {
        memset(&e->info, 0, sizeof e->info);
        snprintf(e->info.name, sizeof e->info.name, "%s", r->shard);
        snprintf(e->info.host, sizeof e->info.host, "%s", r->host);
        e->info.port = r->port;
        e->info.capacity = r->capacity;
        e->sid = nc_session_id(s);
        e->last_hb_ms = nc_now_ms();
        e->up = 1;
    }
    int n = m->n;
    pthread_mutex_unlock(&m->mu);
    reply_code(s, PROTO_T_SHARD_REGISTER_RESULT, e ? 0 : PROTO_ERR_SERVER_FULL);
    if (e)
        nc_log(NC_LOG_INFO, TAG,
               "shard '%s' registered: players at %s:%u, capacity %u "
               "(session %llx); %d known",
               r->shard, r->host, (unsigned)r->port, (unsigned)r->capacity,
               (unsigned long long)nc_session_id(s), n);
}

static void on_heartbeat(master_t *m, nc_session_t *s, uint32_t population)
{
    pthread_mutex_lock(&m->mu);
    entry_t *e = by_sid_locked(m, nc_session_id(s));
    int back = 0;
    if (e) {
        e->info.population = population;
        e->last_hb_ms = nc_now_ms();
        back = !e->up;
        e->up = 1;
    }
    pthread_mutex_unlock(&m->mu);
    if (!e)
        nc_session_close(s, PROTO_ERR_NOT_LOGGED_IN, "heartbeat before register");
    else if (back)
        nc_log(NC_LOG_INFO, TAG, "shard '%s' is up again", e->info.name);
}

static int list_shards(master_t *m, proto_shard_info_t *out, int max)
{
    uint64_t now = nc_now_ms();
    pthread_mutex_lock(&m->mu);
    int n = m->n < max ? m->n : max;
    for (int i = 0; i < n; i++) {
        proto_shard_info_t *o = &out[i];
        *o = m->v[i].info;
        o->healthy = healthy_locked(m, &m->v[i], now);
        uint64_t age = now - m->v[i].last_hb_ms;
        o->last_heartbeat_ms = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

static void on_list(master_t *m, nc_session_t *s)
{
    proto_msg_t *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->type = PROTO_T_SHARD_LIST_RESPONSE;
    r->shard_list_response.shards_count =
        (uint16_t)list_shards(m, r->shard_list_response.shards, MAX_SHARDS);
    tl_send_msg(s, r);
    free(r);
}

/* The registry as the login side sees it (master_auth.h). */
static master_t *g_master;

int master_registry_list(proto_shard_info_t *out, int max)
{
    return g_master ? list_shards(g_master, out, max) : 0;
}

int master_registry_find(const char *name, proto_shard_info_t *out)
{
    proto_shard_info_t *v = calloc(MAX_SHARDS, sizeof *v);
    int n = v ? master_registry_list(v, MAX_SHARDS) : 0, found = 0;
    for (int i = 0; i < n && !found; i++)
        if (v[i].healthy && strcmp(v[i].name, name) == 0) {
            *out = v[i];
            found = 1;
        }
    free(v);
    return found;
}

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    proto_msg_t m;
    int rc = proto_decode(type, body, len, &m);
    if (rc < 0) {
        nc_session_close(s, PROTO_ERR_BAD_PACKET, proto_strerror(rc));
        return;
    }
    master_t *ms = ud;
    const proto_s2s_hello_t *hello = NULL;
    if (tl_s2s_packet(ms->auth, s, &m, &hello) != TL_S2S_PASS)
        return; /* a handshake step; a joined peer registers with shard_register */
    switch (m.type) {
    case PROTO_T_SHARD_REGISTER: on_register(ud, s, &m.shard_register); break;
    case PROTO_T_SHARD_HEARTBEAT: on_heartbeat(ud, s, m.shard_heartbeat.population); break;
    case PROTO_T_SHARD_LIST_REQUEST: on_list(ud, s); break;
    default: nc_session_close(s, PROTO_ERR_BAD_PACKET, "unexpected packet");
    }
}

static void on_open(nc_session_t *s, void *ud)
{
    tl_s2s_open(((master_t *)ud)->auth, s);
}

static void on_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    master_t *m = ud;
    tl_s2s_close(m->auth, s);
    pthread_mutex_lock(&m->mu);
    entry_t *e = by_sid_locked(m, nc_session_id(s));
    char name[sizeof e->info.name] = "";
    if (e) {
        e->sid = 0;
        e->up = 0;
        snprintf(name, sizeof name, "%s", e->info.name);
    }
    pthread_mutex_unlock(&m->mu);
    if (e)
        nc_log(NC_LOG_WARN, TAG, "shard '%s' link closed (%s): marked down", name, why->text);
}

/* Timer job: logs up -> down transitions for missed heartbeats. */
static void check_job(void *arg)
{
    master_t *m = arg;
    uint64_t now = nc_now_ms();
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        entry_t *e = &m->v[i];
        if (e->up && !healthy_locked(m, e, now)) {
            e->up = 0;
            nc_log(NC_LOG_WARN, TAG, "shard '%s' missed heartbeats for %llu ms: marked down",
                   e->info.name, (unsigned long long)(now - e->last_hb_ms));
        }
    }
    pthread_mutex_unlock(&m->mu);
}

typedef struct args_s {
    const char *host, *list;
    int port, hb_ms, miss;
    nc_log_level_t log;
    tl_s2s_args_t s2s;
    /* login side (issue 13) */
    const char *login_host, *db, *key_file, *add_account, *role, *config;
    const char *new_secret; /* --new-secret FILE */
    int login_port, show_keys, open_registration;
    char key_buf[1100];
    const char *metrics_port; /* --metrics-port N|auto (issue 16); NULL = metrics.port */
    uint64_t started_ms;      /* process start (nc_now_ms), for the metrics page */
} args_t;

/* Flags without a value; 1 if k was one. */
static int parse_flag(const char *k, args_t *a)
{
    if (!strcmp(k, "--show-keys"))
        a->show_keys = 1;
    else if (!strcmp(k, "--open-registration"))
        a->open_registration = 1;
    else
        return 0;
    return 1;
}

static int parse_login_arg(const char *k, const char *v, args_t *a)
{
    if (!strcmp(k, "--login-port"))
        a->login_port = atoi(v);
    else if (!strcmp(k, "--login-host"))
        a->login_host = v;
    else if (!strcmp(k, "--db"))
        a->db = v;
    else if (!strcmp(k, "--key-file"))
        a->key_file = v;
    else if (!strcmp(k, "--add-account"))
        a->add_account = v;
    else if (!strcmp(k, "--role"))
        a->role = v;
    else if (!strcmp(k, "--config"))
        a->config = v;
    else if (!strcmp(k, "--metrics-port"))
        a->metrics_port = v;
    else
        return 0;
    return 1;
}

static int parse_args(int argc, char **argv, args_t *a)
{
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h"))
            return 1;
        if (parse_flag(k, a)) {
            i--;
            continue;
        }
        if (!strcmp(k, "--list") && (!v || !strncmp(v, "--", 2))) {
            a->list = "127.0.0.1:7000"; /* shard.sh's master (MASTER_PORT) */
            i--;
            continue;
        }
        int used = tl_s2s_flag(&a->s2s, argc, argv, i);
        if (used < 0)
            return -1;
        if (used) {
            i += used - 2;
            continue;
        }
        if (!v)
            return -1;
        if (parse_login_arg(k, v, a))
            continue;
        if (!strcmp(k, "--new-secret"))
            a->new_secret = v;
        else if (!strcmp(k, "--port"))
            a->port = atoi(v);
        else if (!strcmp(k, "--host"))
            a->host = v;
        else if (!strcmp(k, "--list"))
            a->list = v;
        else if (!strcmp(k, "--heartbeat-ms"))
            a->hb_ms = atoi(v);
        else if (!strcmp(k, "--miss"))
            a->miss = atoi(v);
        else if (strcmp(k, "--log-level") || nc_log_level_parse(v, &a->log))
            return -1;
    }
    if (!a->key_file) {
        snprintf(a->key_buf, sizeof a->key_buf, "%s.key", a->db);
        a->key_file = a->key_buf;
    }
    if (a->metrics_port && strcmp(a->metrics_port, "auto")) {
        char *end;
        long mp = strtol(a->metrics_port, &end, 10);
        if (end == a->metrics_port || *end || mp < 0 || mp > 65535)
            return -1;
    }
    return a->port < 0 || a->port > 65535 || a->hb_ms < 10 || a->miss < 1 || a->login_port < 0 ||
                   a->login_port > 65535 || strlen(a->db) > 1000 || (a->role && !a->add_account)
               ? -1
               : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: masterserver --secret-file FILE [--host 127.0.0.1] [--port 7000]\n"
               "                    [--heartbeat-ms 1000] [--miss 3] [--log-level info]\n"
               "                    [--auth-timeout-ms 5000] [--insecure-no-link-auth]\n"
               "       masterserver --list [HOST:PORT] --secret-file FILE\n"
               "Registry of game servers. A shard that misses --miss heartbeat intervals\n"
               "(--heartbeat-ms each; match the gameserver's) or drops its link is down.\n"
               "--port 0 picks a free port; prints 'READY port=N' once listening.\n"
               "--list connects to a running master (default 127.0.0.1:7000, shard.sh's),\n"
               "prints the shard table and exits.\n"
               "--secret-file: the links' shared secret (first line, >= 16 bytes; the game\n"
               "servers' links.secret_file). Without it the server refuses to start unless\n"
               "--insecure-no-link-auth (development only). A link not authenticated\n"
               "within --auth-timeout-ms is closed. See tools/README.md.\n"
               "Login server: [--login-host 127.0.0.1] [--login-port 7002] [--db masterserver.db]\n"
               "    [--key-file <db>.key] [--config FILE] [--open-registration]\n"
               "    [--metrics-port N|auto]  (Prometheus page; 0 = off, the default;\n"
               "    auto = a free port; metrics.port / metrics.host in --config)\n"
               "       masterserver --show-keys [--key-file F | --db F]\n"
               "       masterserver --new-secret FILE  (32 random bytes as hex, owner-only;\n"
               "                    an existing FILE is kept)\n"
               "       masterserver --add-account NAME [--role player|gm|admin] [--db F]\n"
               "    (the password is stdin's first line, or prompted without echo)\n"
               "Prints 'READY port=N login_port=M'. See tools/README.md, \"masterserver\".\n");
}

/* The login side's parts, made in main before serve. */
typedef struct login_parts_s {
    master_auth_cfg_t cfg;
    pa_identity_t id;
    macct_t *acct;
} login_parts_t;

static int serve(master_t *m, const args_t *a, const login_parts_t *lp, const uint8_t *key)
{
    master_login_t *login = NULL;
    char err[512] = "";
    nc_pool_t *pool = NULL;
    nc_queue_t *q = NULL;
    nc_strand_t *timer_strand = NULL;
    nc_timer_id_t timer = 0;
    nc_server_t *srv = NULL;
    nc_pool_opts_t po = {.name = "master",
                         .threads = (int)(lp->cfg.registry_threads + lp->cfg.hash_threads)};
    nc_queue_opts_t qo = {.name = "registry", .max_threads = (int)lp->cfg.registry_threads};
    /* Session slots: the registry's 2048 (its own cap below: at most 1024
     * unauthenticated, tl_s2s evicts the oldest past that; so a flood there
     * cannot take the players' slots) + the login listener's (login.max_sessions
     * + the eviction margin, master_login.c) + the list connections': the login
     * port, public, can never take a game server's slot (red-team review). */
    nc_engine_opts_t eo = {.io_threads = 1, .max_sessions = 2048 + lp->cfg.login_sessions + 256};
    nc_role_opts_t ro = {.name = "master",
                         .ud = m,
                         .handlers = {on_open, on_packet, on_close},
                         .max_sessions = 2048};
    tl_s2s_opts_t so = {.tag = TAG,
                        .name = "master",
                        .key = key,
                        .timeout_ms = a->s2s.timeout_ms,
                        .max_sessions = 1024};
    int rc = nc_pool_create(&po, &pool);
    if (rc == 0)
        rc = nc_queue_create(pool, &qo, &q);
    if (rc == 0)
        rc = nc_strand_create(q, &timer_strand);
    if (rc == 0)
        rc = nc_timer_start(timer_strand, m->hb_ms, m->hb_ms, check_job, m, &timer);
    if (rc == 0)
        rc = nc_engine_create(&eo, &m->engine);
    if (rc == 0)
        rc = tl_s2s_create(q, m->engine, &so, &m->auth);
    ro.queue = q;
    if (rc == 0)
        rc = nc_server_create(m->engine, a->host, (uint16_t)a->port, &ro, &srv);
    if (rc < 0) {
        fprintf(stderr, "masterserver: cannot listen on %s:%d: %s\n", a->host, a->port,
                nc_strerror(rc));
        return 1;
    }
    if (master_login_start(m->engine, pool, &lp->cfg, &lp->id, lp->acct, a->login_host,
                           (uint16_t)a->login_port, &login, err, sizeof err) != 0) {
        fprintf(stderr, "masterserver: login listener: %s\n", err);
        return 1;
    }
    nc_log(NC_LOG_INFO, TAG,
           "login listener on %s:%u (registration %s, Argon2id t=%u m=%u KiB on %u thread(s))",
           a->login_host, (unsigned)master_login_port(login),
           lp->cfg.open_registration ? "OPEN" : "closed", (unsigned)lp->cfg.hash_ops,
           (unsigned)lp->cfg.hash_mem_kib, (unsigned)lp->cfg.hash_threads);
    nc_log(NC_LOG_INFO, TAG, "listening on %s:%u (heartbeat %llu ms, down after %u missed)",
           a->host, (unsigned)nc_server_port(srv), (unsigned long long)m->hb_ms, m->miss);
    /* issue 16: the metrics page (metrics.port; --metrics-port wins) */
    master_metrics_t *metrics = NULL;
    uint16_t mport = 0;
    int want = a->metrics_port ? strcmp(a->metrics_port, "0") != 0 : lp->cfg.metrics_port != 0;
    uint16_t at = (uint16_t)lp->cfg.metrics_port;
    if (a->metrics_port)
        at = strcmp(a->metrics_port, "auto") ? (uint16_t)atoi(a->metrics_port) : 0;
    if (want && master_metrics_start(m->engine, pool, lp->cfg.metrics_host, at, login, lp->acct,
                                     a->started_ms, &metrics, &mport, err, sizeof err) != 0) {
        fprintf(stderr, "masterserver: %s\n", err);
        return 1;
    }
    if (metrics)
        printf("READY port=%u login_port=%u metrics_port=%u\n", (unsigned)nc_server_port(srv),
               (unsigned)master_login_port(login), (unsigned)mport);
    else
        printf("READY port=%u login_port=%u\n", (unsigned)nc_server_port(srv),
               (unsigned)master_login_port(login));
    fflush(stdout);
    int sig = tl_signals_wait();
    nc_log(NC_LOG_INFO, TAG, "signal %d: stopping", sig);
    master_metrics_stop(metrics); /* reads the login side: first */
    master_login_stop(login);
    nc_server_destroy(srv);
    tl_s2s_log_totals(m->auth);
    tl_s2s_stop(m->auth);
    nc_engine_destroy(m->engine);
    nc_strand_release(timer_strand);
    nc_pool_destroy(pool);
    master_login_free(login);
    tl_s2s_destroy(m->auth);
    return 0;
}

int main(int argc, char **argv)
{
    args_t a = {.host = "127.0.0.1",
                .port = 7000,
                .hb_ms = 1000,
                .miss = 3,
                .log = NC_LOG_INFO,
                .login_host = "127.0.0.1",
                .login_port = 7002,
                .db = "masterserver.db",
                .started_ms = nc_now_ms()};
    tl_console_init();
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        usage(prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    nc_log_set_level(a.list ? NC_LOG_ERROR : a.log);
    tl_signals_block();
    if (a.list) {
        uint8_t lkey[PA_S2S_KEY_BYTES];
        const uint8_t *lkeyp = NULL;
        if (tl_s2s_key_from_args("masterserver", &a.s2s, lkey, &lkeyp) != 0)
            return 2;
        int lrc = master_list_main(a.list, lkeyp, 3000);
        pa_wipe(lkey, sizeof lkey);
        return lrc;
    }
    static login_parts_t lp;
    char err[1200];
    master_auth_cfg_defaults(&lp.cfg);
    if (a.open_registration)
        lp.cfg.open_registration = 1;
    if (pa_init() != 0 || (a.config && master_auth_cfg_load(&lp.cfg, a.config, err, sizeof err))) {
        fprintf(stderr, "masterserver: %s\n", a.config ? err : "libsodium failed to initialise");
        return 2;
    }
    if (a.open_registration)
        lp.cfg.open_registration = 1; /* the flag wins over the file */
    if (a.show_keys)
        return master_show_keys(a.key_file);
    if (a.new_secret)
        return master_new_secret(a.new_secret);
    if (a.add_account)
        return master_add_account(a.db, &lp.cfg, a.add_account, a.role);
    /* the links' secret: needed to serve, not for --show-keys / --add-account */
    uint8_t key[PA_S2S_KEY_BYTES];
    const uint8_t *keyp = NULL;
    if (tl_s2s_key_from_args("masterserver", &a.s2s, key, &keyp) != 0)
        return 2;
    int created = 0;
    if (master_identity_load(a.key_file, &lp.id, &created, err, sizeof err) != 0 ||
        macct_open(lp.cfg.db_driver, !strcmp(lp.cfg.db_driver, "postgres") ? lp.cfg.db_url : a.db,
                   &lp.acct, err, sizeof err) != 0) {
        fprintf(stderr, "masterserver: %s\n", err);
        return 1;
    }
    char sign[PA_KEY_HEX_LEN + 1], kx[PA_KEY_HEX_LEN + 1];
    pa_hex(lp.id.sign_pk, PA_SIGN_PK_BYTES, sign, sizeof sign);
    pa_hex(lp.id.kx_pk, PA_KX_PK_BYTES, kx, sizeof kx);
    nc_log(NC_LOG_INFO, TAG,
           "login identity %s%s: sign_pk %s (game servers' auth.login_public_key)", a.key_file,
           created ? " (created now, owner-only)" : "", sign);
    nc_log(NC_LOG_INFO, TAG, "login identity kx_pk %s (clients pin it)", kx);
    master_identity_print(&lp.id);
    static master_t m;
    m.hb_ms = (uint64_t)a.hb_ms;
    m.miss = (uint32_t)a.miss;
    pthread_mutex_init(&m.mu, NULL);
    g_master = &m;
    int rc = serve(&m, &a, &lp, keyp);
    g_master = NULL;
    pa_wipe(key, sizeof key);
    pthread_mutex_destroy(&m.mu);
    macct_close(lp.acct);
    pa_wipe(&lp.id, sizeof lp.id);
    return rc;
}
